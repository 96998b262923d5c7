//! The storage side of a persister: the [`Persistence`] trait that storage implements, what
//! it reads ([`Persisted`]) and writes ([`Target`]), and [`CustomPersistence`], storage an app
//! provides as two functions.

use std::sync::Arc;

use crate::content::{Changes, Tables, Values};
use crate::mergeable::MergeableStore;
use crate::store::Store;

use super::PersistError;

/// What a persister can hold (TinyBase's `Persists`).
///
/// ```
/// use tinystore_core::persist::{Persistence, Persists};
/// use tinystore_core::persist::sqlite::{SqlitePersistence, TabularConfig};
/// let tabular = SqlitePersistence::open_in_memory(TabularConfig::default())?;
/// assert_eq!(tabular.persists(), Persists::StoreOnly);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
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
///
/// ```
/// use tinystore_core::persist::{Persistable, Target};
/// use tinystore_core::{MergeableStore, Store};
/// let mergeable = MergeableStore::new(None);
/// assert!(matches!(Store::new().target(), Target::Store(_)));
/// // A MergeableStore is served as one even through its Store side.
/// let store: &Store = &mergeable;
/// assert!(matches!(store.target(), Target::Mergeable(_)));
/// ```
#[derive(Clone, Debug)]
pub enum Target {
    /// A plain Store.
    Store(Store),
    /// A MergeableStore.
    Mergeable(MergeableStore),
}

impl Target {
    /// The Store side (both kinds are Stores).
    ///
    /// ```
    /// use tinystore_core::persist::{Persistable, Target};
    /// use tinystore_core::MergeableStore;
    /// let mergeable = MergeableStore::new(None);
    /// let target = mergeable.target();
    /// target.store().set_value("open", true);
    /// assert_eq!(mergeable.get_value("open"), Some(true.into()));
    /// ```
    pub fn store(&self) -> &Store {
        match self {
            Target::Store(s) => s,
            Target::Mergeable(m) => m,
        }
    }

    /// The whole content as TinyBase persists it: encoded JSON; for a MergeableStore the hashed
    /// MergeableContent with `"\u{FFFC}"` tombstones.
    ///
    /// ```
    /// use tinystore_core::persist::Persistable;
    /// use tinystore_core::{MergeableStore, Store};
    /// let store = Store::new();
    /// store.set_value("open", true);
    /// assert_eq!(store.target().document(), r#"[{},{"open":true}]"#);
    /// // Stamped: `[[tables, time, hash], [values, time, hash]]`.
    /// assert!(MergeableStore::new(None).target().document().starts_with("[["));
    /// ```
    pub fn document(&self) -> String {
        match self {
            Target::Store(s) => s.get_json(),
            Target::Mergeable(m) => m.get_mergeable_content_json(),
        }
    }
}

/// What was read from storage.
///
/// ```
/// use tinystore_core::persist::{Persistable, Persisted, Persistence};
/// use tinystore_core::persist::sqlite::{SqlitePersistence, TabularConfig};
/// use tinystore_core::{Cell, Store};
/// let store = Store::new();
/// store.set_cell("pets", "fido", "legs", 4);
/// let mut db = SqlitePersistence::open_in_memory(TabularConfig::tables(&["pets"]))?;
/// db.write(&store.target(), None)?;
/// let Some(Persisted::Content(tables, _)) = db.read()? else { panic!("not tabular") };
/// assert_eq!(tables["pets"]["fido"].get("legs"), Some(&Cell::from(4)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
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
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use tinystore_core::persist::{PersistError, Persisted, Persistence, Persister, Target};
/// use tinystore_core::{Changes, Store};
///
/// // The document in memory, shared with the app.
/// struct Memory(Arc<Mutex<Option<String>>>);
///
/// impl Persistence for Memory {
///     fn read(&mut self) -> Result<Option<Persisted>, PersistError> {
///         Ok(self.0.lock().unwrap().clone().map(Persisted::Json))
///     }
///     fn write(&mut self, target: &Target, _: Option<&Changes>) -> Result<(), PersistError> {
///         *self.0.lock().unwrap() = Some(target.document());
///         Ok(())
///     }
/// }
///
/// let stored = Arc::new(Mutex::new(None));
/// let store = Store::new();
/// store.set_value("open", true);
/// Persister::new(&store, Memory(stored.clone())).save()?;
/// assert_eq!(stored.lock().unwrap().as_deref(), Some(r#"[{},{"open":true}]"#));
/// # Ok::<(), PersistError>(())
/// ```
pub trait Persistence: Send + 'static {
    /// Reads what is stored; `Ok(None)` when nothing is stored yet.
    ///
    /// ```
    /// use tinystore_core::persist::{CustomPersistence, Persisted, Persistence};
    /// let mut empty = CustomPersistence::new(|| Ok(None), |_| Ok(()));
    /// assert_eq!(empty.read()?, None);
    /// let mut full = CustomPersistence::new(|| Ok(Some("[{},{}]".into())), |_| Ok(()));
    /// assert_eq!(full.read()?, Some(Persisted::Json("[{},{}]".into())));
    /// # Ok::<(), tinystore_core::persist::PersistError>(())
    /// ```
    fn read(&mut self) -> Result<Option<Persisted>, PersistError>;

    /// Stores `target`'s content. `changes` are the Store changes of the transaction being
    /// auto-saved (`None` for a full save); storage that rewrites a whole document ignores them.
    ///
    /// ```
    /// use tinystore_core::persist::{Persistable, Persisted, Persistence};
    /// use tinystore_core::persist::sqlite::{SqliteJsonConfig, SqlitePersistence};
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// store.set_value("open", true);
    /// let mut db = SqlitePersistence::open_in_memory(SqliteJsonConfig::default())?;
    /// db.write(&store.target(), None)?;
    /// assert_eq!(db.read()?, Some(Persisted::Json(r#"[{},{"open":true}]"#.into())));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn write(&mut self, target: &Target, changes: Option<&Changes>) -> Result<(), PersistError>;

    /// Whether the storage was changed by someone else since this persistence last read or
    /// wrote it (polled by auto-load). The default never reports changes.
    ///
    /// ```
    /// use tinystore_core::persist::{Persistence, file::FilePersistence};
    /// let path = std::env::temp_dir().join(format!("tinystore-doc-chg-{}", std::process::id()));
    /// std::fs::write(&path, "[{},{}]")?;
    /// let mut file = FilePersistence::new(&path);
    /// file.read()?;
    /// assert!(!file.changed()?);
    /// std::fs::write(&path, r#"[{},{"open":true}]"#)?; // another process's save
    /// assert!(file.changed()?);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn changed(&mut self) -> Result<bool, PersistError> {
        Ok(false)
    }

    /// Which stores this storage can hold.
    ///
    /// ```
    /// use tinystore_core::persist::{CustomPersistence, Persistence, Persists};
    /// let custom = CustomPersistence::new(|| Ok(None), |_| Ok(()));
    /// assert_eq!(custom.persists(), Persists::StoreOrMergeableStore);
    /// ```
    fn persists(&self) -> Persists {
        Persists::StoreOrMergeableStore
    }

    /// Starts telling of outside changes as they happen: storage with change notifications
    /// (PostgreSQL's `NOTIFY`) calls `signal` on each one, so that auto-load asks
    /// [`Persistence::changed`] at once rather than at its next poll. Returns whether it
    /// watches; the default does not (auto-load then only polls). Called by auto-load before
    /// its first load.
    ///
    /// ```
    /// use std::sync::{Arc, atomic::{AtomicUsize, Ordering}};
    /// use automerge::transaction::Transactable;
    /// use tinystore_core::persist::{CustomPersistence, Persistence};
    /// use tinystore_core::persist::automerge::{AutomergeDoc, AutomergePersistence};
    /// let signals = Arc::new(AtomicUsize::new(0));
    /// let counter = signals.clone();
    /// let doc = AutomergeDoc::new();
    /// let mut storage = AutomergePersistence::new(&doc);
    /// assert!(storage.watch(Arc::new(move || { counter.fetch_add(1, Ordering::SeqCst); }))?);
    /// doc.with_doc(|d| d.put(automerge::ROOT, "open", true))?; // the app's own edit
    /// assert_eq!(signals.load(Ordering::SeqCst), 1);
    /// // Storage without notifications leaves auto-load to poll.
    /// assert!(!CustomPersistence::new(|| Ok(None), |_| Ok(())).watch(Arc::new(|| {}))?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn watch(&mut self, signal: ChangeSignal) -> Result<bool, PersistError> {
        let _ = signal;
        Ok(false)
    }

    /// Stops what [`Persistence::watch`] started.
    ///
    /// ```
    /// use std::sync::{Arc, atomic::{AtomicUsize, Ordering}};
    /// use automerge::transaction::Transactable;
    /// use tinystore_core::persist::Persistence;
    /// use tinystore_core::persist::automerge::{AutomergeDoc, AutomergePersistence};
    /// let signals = Arc::new(AtomicUsize::new(0));
    /// let counter = signals.clone();
    /// let doc = AutomergeDoc::new();
    /// let mut storage = AutomergePersistence::new(&doc);
    /// storage.watch(Arc::new(move || { counter.fetch_add(1, Ordering::SeqCst); }))?;
    /// storage.unwatch();
    /// doc.with_doc(|d| d.put(automerge::ROOT, "open", true))?;
    /// assert_eq!(signals.load(Ordering::SeqCst), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn unwatch(&mut self) {}

    /// After a successful load: whether the store now holds more than what was read (storage
    /// that merges what it loads), so that an auto-saving persister writes it back at once.
    /// The default is `false`.
    ///
    /// ```
    /// use tinystore_core::persist::{CustomPersistence, Persistable, Persistence};
    /// use tinystore_core::Store;
    /// let mut custom = CustomPersistence::new(|| Ok(None), |_| Ok(()));
    /// assert!(!custom.needs_save_after_load(&Store::new().target()));
    /// ```
    fn needs_save_after_load(&mut self, target: &Target) -> bool {
        let _ = target;
        false
    }

    /// Whether [`Persistence::write`] uses the `changes` of an auto-saved transaction. Storage
    /// that rewrites the whole document returns `false`, so auto-save does not build them.
    /// The default is `true`.
    ///
    /// ```
    /// use tinystore_core::persist::{CustomPersistence, Persistence};
    /// use tinystore_core::persist::sqlite::{SqlitePersistence, TabularConfig};
    /// // Tabular SQLite writes only the changed rows; a custom document is written whole.
    /// assert!(SqlitePersistence::open_in_memory(TabularConfig::default())?.writes_changes());
    /// assert!(!CustomPersistence::new(|| Ok(None), |_| Ok(())).writes_changes());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn writes_changes(&self) -> bool {
        true
    }
}

/// What storage calls to tell auto-load of an outside change (see [`Persistence::watch`]).
///
/// ```
/// use std::sync::{Arc, atomic::{AtomicBool, Ordering}};
/// use tinystore_core::persist::ChangeSignal;
/// let woken = Arc::new(AtomicBool::new(false));
/// let flag = woken.clone();
/// let signal: ChangeSignal = Arc::new(move || flag.store(true, Ordering::SeqCst));
/// // Storage keeps a clone and calls it from whichever thread sees the change.
/// std::thread::spawn({ let signal = signal.clone(); move || signal() }).join().unwrap();
/// assert!(woken.load(Ordering::SeqCst));
/// ```
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
    ///
    /// ```
    /// use tinystore_core::persist::{CustomPersistence, PersistError, Persister};
    /// use tinystore_core::Store;
    /// let offline = CustomPersistence::new(
    ///     || Err(PersistError::Io("offline".into())),
    ///     |_| Err(PersistError::Io("offline".into())),
    /// );
    /// let err = Persister::new(&Store::new(), offline).load(None).unwrap_err();
    /// assert_eq!(err, PersistError::Io("offline".into()));
    /// ```
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
///
/// ```
/// use tinystore_core::persist::Persistable;
/// use tinystore_core::{MergeableStore, Store};
/// // What a persister would store, for either kind of store.
/// fn snapshot(store: &impl Persistable) -> String {
///     store.target().document()
/// }
/// assert_eq!(snapshot(&Store::new()), "[{},{}]");
/// assert_ne!(snapshot(&MergeableStore::new(None)), "[{},{}]");
/// ```
pub trait Persistable {
    /// The target handle.
    ///
    /// ```
    /// use tinystore_core::persist::{Persistable, Target};
    /// use tinystore_core::MergeableStore;
    /// let store = MergeableStore::new(None);
    /// let Target::Mergeable(served) = store.target() else { panic!("a MergeableStore") };
    /// served.set_value("open", true); // the same store, not a copy
    /// assert_eq!(store.get_value("open"), Some(true.into()));
    /// ```
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
