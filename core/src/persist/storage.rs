//! The storage side of a persister: the [`Persistence`] trait that storage implements, what
//! it reads ([`Persisted`]) and writes ([`Target`]), and [`CustomPersistence`], storage an app
//! provides as two functions.

use std::sync::Arc;

use crate::content::{Changes, Tables, Values};
use crate::mergeable::MergeableStore;
use crate::store::Store;

use super::PersistError;

/// What a persister can hold (TinyBase's `Persists`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Persists {
    /// Plain Stores only.
    StoreOnly,
    /// MergeableStores only.
    MergeableStoreOnly,
    /// Either.
    StoreOrMergeableStore,
}

/// The store a persister serves.
#[derive(Clone, Debug)]
pub enum Target {
    /// A plain Store.
    Store(Store),
    /// A MergeableStore.
    Mergeable(MergeableStore),
}

impl Target {
    /// The Store side (both kinds are Stores).
    pub fn store(&self) -> &Store {
        match self {
            Target::Store(s) => s,
            Target::Mergeable(m) => m,
        }
    }

    /// The whole content as TinyBase persists it: encoded JSON; for a MergeableStore the hashed
    /// MergeableContent with `"\u{FFFC}"` tombstones.
    pub fn document(&self) -> String {
        match self {
            Target::Store(s) => s.get_json(),
            Target::Mergeable(m) => m.get_mergeable_content_json(),
        }
    }
}

/// What was read from storage.
#[derive(Clone, Debug, PartialEq)]
pub enum Persisted {
    /// A JSON document in TinyBase's encoded form: `[tables, values]`, `[tables, values, 1]`,
    /// MergeableContent or MergeableChanges.
    Json(String),
    /// Content read in structured form (tabular storage).
    Content(Tables, Values),
}

/// Where and how a store's data is kept. Implement it to plug in any storage; the
/// [`Persister`](super::Persister) does the rest.
pub trait Persistence: Send + 'static {
    /// Reads what is stored; `Ok(None)` when nothing is stored yet.
    fn read(&mut self) -> Result<Option<Persisted>, PersistError>;

    /// Stores `target`'s content. `changes` are the Store changes of the transaction being
    /// auto-saved (`None` for a full save); storage that rewrites a whole document ignores them.
    fn write(&mut self, target: &Target, changes: Option<&Changes>) -> Result<(), PersistError>;

    /// Whether the storage was changed by someone else since this persistence last read or
    /// wrote it (polled by auto-load). The default never reports changes.
    fn changed(&mut self) -> Result<bool, PersistError> {
        Ok(false)
    }

    /// Which stores this storage can hold.
    fn persists(&self) -> Persists {
        Persists::StoreOrMergeableStore
    }

    /// Starts telling of outside changes as they happen: storage with change notifications
    /// (PostgreSQL's `NOTIFY`) calls `signal` on each one, so that auto-load asks
    /// [`Persistence::changed`] at once rather than at its next poll. Returns whether it
    /// watches; the default does not (auto-load then only polls). Called by auto-load before
    /// its first load.
    fn watch(&mut self, signal: ChangeSignal) -> Result<bool, PersistError> {
        let _ = signal;
        Ok(false)
    }

    /// Stops what [`Persistence::watch`] started.
    fn unwatch(&mut self) {}

    /// After a successful load: whether the store now holds more than what was read (storage
    /// that merges what it loads), so that an auto-saving persister writes it back at once.
    /// The default is `false`.
    fn needs_save_after_load(&mut self, target: &Target) -> bool {
        let _ = target;
        false
    }

    /// Whether [`Persistence::write`] uses the `changes` of an auto-saved transaction. Storage
    /// that rewrites the whole document returns `false`, so auto-save does not build them.
    /// The default is `true`.
    fn writes_changes(&self) -> bool {
        true
    }
}

/// What storage calls to tell auto-load of an outside change (see [`Persistence::watch`]).
pub type ChangeSignal = Arc<dyn Fn() + Send + Sync>;

type ReadFn = Box<dyn FnMut() -> Result<Option<String>, PersistError> + Send>;
type WriteFn = Box<dyn FnMut(&str) -> Result<(), PersistError> + Send>;

/// Storage an app provides as two functions over TinyBase's JSON document (TinyBase's
/// `createCustomPersister` with `getPersisted`/`setPersisted`).
pub struct CustomPersistence {
    read: ReadFn,
    write: WriteFn,
}

impl std::fmt::Debug for CustomPersistence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CustomPersistence").finish_non_exhaustive()
    }
}

impl CustomPersistence {
    /// `read` returns the stored document (or `None`); `write` stores a new one.
    pub fn new(
        read: impl FnMut() -> Result<Option<String>, PersistError> + Send + 'static,
        write: impl FnMut(&str) -> Result<(), PersistError> + Send + 'static,
    ) -> CustomPersistence {
        CustomPersistence {
            read: Box::new(read),
            write: Box::new(write),
        }
    }
}

impl Persistence for CustomPersistence {
    fn read(&mut self) -> Result<Option<Persisted>, PersistError> {
        Ok((self.read)()?.map(Persisted::Json))
    }

    fn write(&mut self, target: &Target, _changes: Option<&Changes>) -> Result<(), PersistError> {
        (self.write)(&target.document())
    }

    fn writes_changes(&self) -> bool {
        false
    }
}

/// Something a persister can serve: a [`Store`] or a [`MergeableStore`].
pub trait Persistable {
    /// The target handle.
    fn target(&self) -> Target;
}

impl Persistable for Store {
    fn target(&self) -> Target {
        match MergeableStore::from_store(self) {
            Some(m) => Target::Mergeable(m),
            None => Target::Store(self.clone()),
        }
    }
}

impl Persistable for MergeableStore {
    fn target(&self) -> Target {
        Target::Mergeable(self.clone())
    }
}
