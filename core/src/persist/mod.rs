//! Persisters: keep a Store or MergeableStore in durable storage, in TinyBase's formats
//! (spec persist.md).
//!
//! A [`Persister`] drives one [`Persistence`] (where and how the bytes live: a file, an SQLite
//! database, or storage an app provides) for one store: `load`, `save`, auto-load (polling the
//! storage for outside changes) and auto-save (after every transaction with changes), with
//! status listeners and load/save counts.
//!
//! Calls are synchronous: `save()` returns when the data is stored, and auto-save stores each
//! transaction on the thread that finished it, before the write call returns (so a write that
//! returned is durable). Auto-load runs on a background thread of the persister's own.
//!
//! A failed load never leads to an overwrite: after one, saves (auto-saves included) are refused
//! with [`PersistError::LoadFailed`] until a load succeeds or [`Persister::allow_overwrite`] is
//! called, so a database or file this store cannot read is kept as it is.
//!
//! ```
//! use tinystore_core::persist::{CustomPersistence, Persister};
//! use tinystore_core::Store;
//! use std::sync::{Arc, Mutex};
//!
//! let saved = Arc::new(Mutex::new(None::<String>));
//! let (r, w) = (saved.clone(), saved.clone());
//! let storage = CustomPersistence::new(
//!     move || Ok(r.lock().unwrap().clone()),
//!     move |doc: &str| { *w.lock().unwrap() = Some(doc.to_string()); Ok(()) },
//! );
//! let store = Store::new();
//! let persister = Persister::new(&store, storage);
//! persister.start_auto_save().unwrap();
//! store.set_cell("pets", "fido", "species", "dog");
//! assert_eq!(saved.lock().unwrap().as_deref(), Some(r#"[{"pets":{"fido":{"species":"dog"}}},{}]"#));
//! ```

#[cfg(feature = "automerge")]
pub mod automerge;
pub mod config;
mod document;
mod error;
#[cfg(feature = "file")]
pub mod file;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "remote")]
pub mod remote;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub mod room_names;
#[cfg(feature = "sqlite")]
pub mod sqlite;
mod storage;
#[cfg(feature = "yjs")]
pub mod yjs;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::content::{Changes, Tables, Values};
use crate::status::StatusCell;
use crate::store::{ListenerId, Store};

/// The status and stats persisters share with synchronizers (defined in [`crate::status`]).
pub use crate::status::{Stats, Status};
pub use document::apply_document;
use document::apply_persisted;
#[cfg(feature = "remote")]
pub use error::HttpError;
#[cfg(feature = "postgres")]
pub use error::PostgresError;
#[cfg(feature = "sqlite")]
pub use error::SqliteError;
pub use error::{BadContent, PersistError, PersistErrorKind};
pub use storage::{
    ChangeSignal, CustomPersistence, Persistable, Persisted, Persistence, Persists, Target,
};

type ErrorCallback = Box<dyn Fn(&PersistError) + Send>;

struct Shared {
    target: Target,
    persistence: Mutex<Box<dyn Persistence>>,
    /// [`Persistence::writes_changes`], asked once.
    writes_changes: bool,
    /// Status, its listeners, and the load/save counts.
    status: StatusCell,
    load_failed: AtomicBool,
    /// The last save failed: what the store holds may not be stored. The next save writes
    /// everything, and auto-load saves before it loads again.
    unsaved: AtomicBool,
    auto_save: Mutex<Option<ListenerId>>,
    /// The coalescing auto-save's pending flag and its saver thread, when one runs.
    saver: Mutex<Option<(Arc<Coalesce>, JoinHandle<()>)>>,
    auto_load: Mutex<Option<(Arc<AtomicBool>, JoinHandle<()>)>>,
    on_ignored_error: Mutex<Option<ErrorCallback>>,
}

/// What a coalescing auto-save's thread waits on.
#[derive(Default)]
struct Coalesce {
    state: Mutex<CoalesceState>,
    wake: std::sync::Condvar,
}

#[derive(Default)]
struct CoalesceState {
    /// A transaction changed the store since the last save.
    dirty: bool,
    stop: bool,
}

/// Drives a [`Persistence`] for one store; see the [module documentation](self).
///
/// ```
/// use tinystore_core::persist::{Persister, sqlite::{SqliteJsonConfig, SqlitePersistence}};
/// use tinystore_core::Store;
/// let store = Store::new();
/// let db = SqlitePersistence::open_in_memory(SqliteJsonConfig::default())?;
/// let persister = Persister::new(&store, db);
/// persister.start_auto_save()?;
/// store.set_value("open", true);
/// assert_eq!(persister.get_stats().saves, 2); // the first save, then the transaction's
/// # Ok::<(), tinystore_core::persist::PersistError>(())
/// ```
#[derive(Clone)]
pub struct Persister {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Persister {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Persister")
            .field("status", &self.get_status())
            .field("stats", &self.get_stats())
            .finish_non_exhaustive()
    }
}

/// How often auto-load polls the storage by default (TinyBase: 1 s for SQLite).
pub const DEFAULT_AUTO_LOAD_INTERVAL: Duration = Duration::from_secs(1);

impl Persister {
    /// A persister for `store` over `persistence`. Fails if the storage cannot hold this kind of
    /// store (TinyBase's `tinybase:0` error for a MergeableStore in tabular mode).
    ///
    /// ```
    /// use tinystore_core::persist::{PersistErrorKind, Persister};
    /// use tinystore_core::persist::sqlite::{SqlitePersistence, TabularConfig};
    /// use tinystore_core::MergeableStore;
    /// let tabular = SqlitePersistence::open_in_memory(TabularConfig::default())?;
    /// let err = Persister::try_new(&MergeableStore::new(None), tabular).unwrap_err();
    /// assert_eq!(err.kind(), PersistErrorKind::Unsupported);
    /// # Ok::<(), tinystore_core::persist::PersistError>(())
    /// ```
    pub fn try_new(
        store: &impl Persistable,
        persistence: impl Persistence,
    ) -> Result<Persister, PersistError> {
        let target = store.target();
        match (persistence.persists(), &target) {
            (Persists::StoreOnly, Target::Mergeable(_)) => {
                return Err(PersistError::Unsupported("MergeableStores"));
            }
            (Persists::MergeableStoreOnly, Target::Store(_)) => {
                return Err(PersistError::Unsupported("plain Stores"));
            }
            _ => {}
        }
        Ok(Persister {
            shared: Arc::new(Shared {
                target,
                writes_changes: persistence.writes_changes(),
                persistence: Mutex::new(Box::new(persistence)),
                status: StatusCell::default(),
                load_failed: AtomicBool::new(false),
                unsaved: AtomicBool::new(false),
                auto_save: Mutex::new(None),
                saver: Mutex::new(None),
                auto_load: Mutex::new(None),
                on_ignored_error: Mutex::new(None),
            }),
        })
    }

    /// [`Persister::try_new`] for storage that holds any store.
    ///
    /// # Panics
    /// If the storage cannot hold this kind of store; use `try_new` to get an error instead.
    ///
    /// ```
    /// use tinystore_core::persist::{CustomPersistence, Persister};
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// let document = || Ok(Some(r#"[{},{"open":true}]"#.to_string()));
    /// let stored = CustomPersistence::new(document, |_| Ok(()));
    /// Persister::new(&store, stored).load(None)?;
    /// assert_eq!(store.get_value("open"), Some(true.into()));
    /// # Ok::<(), tinystore_core::persist::PersistError>(())
    /// ```
    pub fn new(store: &impl Persistable, persistence: impl Persistence) -> Persister {
        match Self::try_new(store, persistence) {
            Ok(p) => p,
            Err(e) => panic!("{e}"),
        }
    }

    /// The store this persister serves.
    ///
    /// ```
    /// use tinystore_core::persist::{CustomPersistence, Persister};
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// let nowhere = CustomPersistence::new(|| Ok(None), |_| Ok(()));
    /// let persister = Persister::new(&store, nowhere);
    /// persister.get_store().set_value("open", true);
    /// assert_eq!(store.get_value("open"), Some(true.into()));
    /// ```
    pub fn get_store(&self) -> &Store {
        self.shared.target.store()
    }

    /// Receives errors of background work (auto-load), which have no caller to return to.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use tinystore_core::persist::{CustomPersistence, PersistError, Persister};
    /// use tinystore_core::Store;
    /// let mut writes = 0;
    /// // The first save works, later ones fail.
    /// let flaky = CustomPersistence::new(|| Ok(None), move |_| {
    ///     writes += 1;
    ///     if writes == 1 { Ok(()) } else { Err(PersistError::Io("disk full".into())) }
    /// });
    /// let (store, errors) = (Store::new(), Arc::new(Mutex::new(Vec::new())));
    /// let persister = Persister::new(&store, flaky);
    /// let seen = errors.clone();
    /// persister.set_on_ignored_error(move |e| seen.lock().unwrap().push(e.to_string()));
    /// persister.start_auto_save()?;
    /// store.set_value("open", true); // its auto-save fails, with no caller to tell
    /// assert_eq!(errors.lock().unwrap().len(), 1);
    /// # Ok::<(), PersistError>(())
    /// ```
    pub fn set_on_ignored_error(&self, f: impl Fn(&PersistError) + Send + 'static) -> &Self {
        *lock(&self.shared.on_ignored_error) = Some(Box::new(f));
        self
    }

    /// The current status.
    ///
    /// ```
    /// use tinystore_core::persist::{CustomPersistence, Persister, Status};
    /// use tinystore_core::Store;
    /// let nowhere = CustomPersistence::new(|| Ok(None), |_| Ok(()));
    /// let persister = Persister::new(&Store::new(), nowhere);
    /// persister.save()?;
    /// assert_eq!(persister.get_status(), Status::Idle); // calls return when they are done
    /// # Ok::<(), tinystore_core::persist::PersistError>(())
    /// ```
    pub fn get_status(&self) -> Status {
        self.shared.status.get()
    }

    /// Loads and saves so far.
    ///
    /// ```
    /// use tinystore_core::persist::{CustomPersistence, Persister, Stats};
    /// use tinystore_core::Store;
    /// let nowhere = CustomPersistence::new(|| Ok(None), |_| Ok(()));
    /// let persister = Persister::new(&Store::new(), nowhere);
    /// persister.load(None)?.save()?;
    /// assert_eq!(persister.get_stats(), Stats { loads: 1, saves: 1 });
    /// # Ok::<(), tinystore_core::persist::PersistError>(())
    /// ```
    pub fn get_stats(&self) -> Stats {
        self.shared.status.stats()
    }

    /// Calls `listener` on every status change; returns an id for [`Persister::del_listener`].
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use tinystore_core::persist::{CustomPersistence, Persister, Status};
    /// use tinystore_core::Store;
    /// let nowhere = CustomPersistence::new(|| Ok(None), |_| Ok(()));
    /// let persister = Persister::new(&Store::new(), nowhere);
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let log = seen.clone();
    /// persister.add_status_listener(move |status| log.lock().unwrap().push(status));
    /// persister.save()?;
    /// assert_eq!(*seen.lock().unwrap(), [Status::Saving, Status::Idle]);
    /// # Ok::<(), tinystore_core::persist::PersistError>(())
    /// ```
    pub fn add_status_listener(&self, listener: impl Fn(Status) + Send + Sync + 'static) -> u64 {
        self.shared.status.add_listener(listener)
    }

    /// Removes a status listener.
    ///
    /// ```
    /// use std::sync::{Arc, atomic::{AtomicUsize, Ordering}};
    /// use tinystore_core::persist::{CustomPersistence, Persister};
    /// use tinystore_core::Store;
    /// let nowhere = CustomPersistence::new(|| Ok(None), |_| Ok(()));
    /// let persister = Persister::new(&Store::new(), nowhere);
    /// let calls = Arc::new(AtomicUsize::new(0));
    /// let count = calls.clone();
    /// let id = persister.add_status_listener(move |_| { count.fetch_add(1, Ordering::SeqCst); });
    /// persister.del_listener(id).save()?;
    /// assert_eq!(calls.load(Ordering::SeqCst), 0);
    /// # Ok::<(), tinystore_core::persist::PersistError>(())
    /// ```
    pub fn del_listener(&self, id: u64) -> &Self {
        self.shared.status.del_listener(id);
        self
    }

    fn set_status(&self, status: Status) {
        self.shared.status.set(status);
    }

    /// Loads the stored content into the store (spec persist.md §1): a document replaces the
    /// content (a MergeableContent replaces content and stamps), changes are applied/merged.
    /// With nothing stored, `initial` (if given) is set (as default content for a
    /// MergeableStore). On error nothing is changed, the error is returned, and saving is
    /// refused until a load succeeds (see [`Persister::allow_overwrite`]).
    ///
    /// ```
    /// use tinystore_core::content::content_from_str;
    /// use tinystore_core::persist::{CustomPersistence, Persister};
    /// use tinystore_core::Store;
    /// let (tables, values) = content_from_str(r#"[{},{"open":false}]"#).unwrap();
    /// let store = Store::new();
    /// let nowhere = CustomPersistence::new(|| Ok(None), |_| Ok(()));
    /// let persister = Persister::new(&store, nowhere);
    /// persister.load(Some((&tables, &values)))?; // nothing stored: the initial content
    /// assert_eq!(store.get_value("open"), Some(false.into()));
    /// # Ok::<(), tinystore_core::persist::PersistError>(())
    /// ```
    pub fn load(&self, initial: Option<(&Tables, &Values)>) -> Result<&Self, PersistError> {
        // The store stays locked from the read to the end of applying it: another thread's
        // write can neither slip in between (it would be replaced by older stored content) nor
        // happen while the status is Loading (auto-save skips what a load writes, and would
        // skip it). Locks are taken store first, then storage, as in `save_changes`.
        let _store = self.shared.target.store().lock();
        self.shared.status.count_load();
        self.set_status(Status::Loading);
        let read = lock(&self.shared.persistence).read();
        let result = read.and_then(|read| apply_persisted(&self.shared.target, read, initial));
        self.set_status(Status::Idle);
        self.shared
            .load_failed
            .store(result.is_err(), Ordering::SeqCst);
        result?;
        let write_back = lock(&self.shared.persistence).needs_save_after_load(&self.shared.target);
        if write_back && self.is_auto_saving() {
            self.save()?;
        }
        Ok(self)
    }

    /// Saves the whole content.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use tinystore_core::persist::{CustomPersistence, Persister};
    /// use tinystore_core::Store;
    /// let saved = Arc::new(Mutex::new(String::new()));
    /// let doc = saved.clone();
    /// let write = move |d: &str| Ok(*doc.lock().unwrap() = d.into());
    /// let storage = CustomPersistence::new(|| Ok(None), write);
    /// let store = Store::new();
    /// store.set_value("open", true);
    /// Persister::new(&store, storage).save()?;
    /// assert_eq!(*saved.lock().unwrap(), r#"[{},{"open":true}]"#);
    /// # Ok::<(), tinystore_core::persist::PersistError>(())
    /// ```
    pub fn save(&self) -> Result<&Self, PersistError> {
        // A whole save covers whatever a coalescing auto-save was waiting to write.
        if let Some((c, _)) = lock(&self.shared.saver).as_ref() {
            lock(&c.state).dirty = false;
        }
        let result = self.save_changes(None);
        if result.is_err() {
            self.mark_dirty();
        }
        result.map(|()| self)
    }

    /// Saves now if a coalescing auto-save ([`Persister::start_auto_save_coalesced`]) has
    /// changes waiting; otherwise does nothing.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tinystore_core::persist::{Persister, sqlite::{SqliteJsonConfig, SqlitePersistence}};
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// let db = SqlitePersistence::open_in_memory(SqliteJsonConfig::default())?;
    /// let persister = Persister::new(&store, db);
    /// persister.start_auto_save_coalesced(Duration::from_secs(3600))?;
    /// store.set_value("open", true); // waits for the hour to pass
    /// assert_eq!(persister.get_stats().saves, 1);
    /// persister.flush()?;
    /// assert_eq!(persister.get_stats().saves, 2);
    /// # Ok::<(), tinystore_core::persist::PersistError>(())
    /// ```
    pub fn flush(&self) -> Result<&Self, PersistError> {
        let pending = lock(&self.shared.saver)
            .as_ref()
            .is_some_and(|(c, _)| lock(&c.state).dirty);
        if pending {
            self.save()?;
        }
        Ok(self)
    }

    fn mark_dirty(&self) {
        if let Some((c, _)) = lock(&self.shared.saver).as_ref() {
            lock(&c.state).dirty = true;
            c.wake.notify_all();
        }
    }

    /// Saves now, then writes the whole content at most once per `interval` while
    /// transactions change the store, on a thread of this persister's own: a burst of changes
    /// costs a few writes, not one per transaction, and writers never wait for the storage.
    /// What is still waiting is written by [`Persister::flush`], [`Persister::save`],
    /// `stop_auto_save` and `destroy`. A failed write is reported to the ignored-error
    /// callback and retried after the next interval.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tinystore_core::persist::{Persister, sqlite::{SqliteJsonConfig, SqlitePersistence}};
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// let db = SqlitePersistence::open_in_memory(SqliteJsonConfig::default()).unwrap();
    /// let persister = Persister::new(&store, db);
    /// persister.start_auto_save_coalesced(Duration::from_millis(500)).unwrap();
    /// for i in 0..1000 {
    ///     store.set_cell("t", &format!("r{i}"), "c", i);
    /// }
    /// persister.flush().unwrap();
    /// assert!(persister.get_stats().saves < 10);
    /// ```
    pub fn start_auto_save_coalesced(&self, interval: Duration) -> Result<&Self, PersistError> {
        if self.is_auto_saving() {
            return Ok(self);
        }
        self.save()?;
        let coalesce = Arc::new(Coalesce::default());
        let weak = Arc::downgrade(&self.shared);
        let waiter = coalesce.clone();
        let thread = std::thread::Builder::new()
            .name("tinystore-saver".into())
            .spawn(move || run_saver(weak, waiter, interval))?;
        *lock(&self.shared.saver) = Some((coalesce.clone(), thread));
        let marker = Arc::downgrade(&coalesce);
        let owner = Arc::downgrade(&self.shared);
        let id = self
            .get_store()
            .add_did_finish_transaction_listener(move |store| {
                let (Some(c), Some(shared)) = (marker.upgrade(), owner.upgrade()) else {
                    return;
                };
                // A coalescing save writes the whole content: no changes are built for it.
                if (Persister { shared })
                    .transaction_to_save(store, false)
                    .is_some()
                {
                    lock(&c.state).dirty = true;
                    c.wake.notify_all();
                }
            });
        *lock(&self.shared.auto_save) = Some(id);
        Ok(self)
    }

    /// Whether the transaction `store` is finishing must be auto-saved, and with which changes:
    /// `None` when nothing changed (or a load is applying what came from the storage),
    /// `Some(None)` to save without them (storage that writes the whole document, or a caller
    /// that does not want them), `Some(Some(changes))` for storage that writes per change.
    ///
    /// As TinyBase: a MergeableStore saves when any stamp changed, a plain Store when its net
    /// changes are not empty. The cheap test comes first ([`Store::has_transaction_touches`]);
    /// the changes are built only when the storage writes them or a plain Store's touches
    /// must be told from a net no-op (a cell set and set back).
    fn transaction_to_save(&self, store: &Store, want_changes: bool) -> Option<Option<Changes>> {
        // What a load applies comes from the storage, and what a save merges in first (a
        // storage that merges other writers' changes) is in the document it then writes. Other
        // threads cannot write meanwhile: loads and saves hold the store.
        if self.get_status() != Status::Idle {
            return None;
        }
        let want = want_changes && self.shared.writes_changes;
        let touched = store.has_transaction_touches();
        let build = || store.get_transaction_changes();
        match &self.shared.target {
            Target::Mergeable(m) => {
                let changed = touched || !m.get_transaction_mergeable_changes(false).is_empty();
                changed.then(|| want.then(build))
            }
            Target::Store(_) => {
                if !touched {
                    return None;
                }
                let changes = build();
                (!(changes.tables.is_empty() && changes.values.is_empty()))
                    .then(|| want.then_some(changes))
            }
        }
    }

    fn save_changes(&self, changes: Option<&Changes>) -> Result<(), PersistError> {
        if self.shared.load_failed.load(Ordering::SeqCst) {
            return Err(PersistError::LoadFailed);
        }
        // Store first, then storage: the content written is the store's at one instant, and
        // the lock order is the same everywhere.
        let _store = self.shared.target.store().lock();
        let mut persistence = lock(&self.shared.persistence);
        // After a failed save, a transaction's changes are not all that is missing.
        let changes = changes.filter(|_| !self.shared.unsaved.load(Ordering::SeqCst));
        self.shared.status.count_save();
        self.set_status(Status::Saving);
        let result = persistence.write(&self.shared.target, changes);
        self.set_status(Status::Idle);
        if result.is_err() {
            self.shared.unsaved.store(true, Ordering::SeqCst);
        } else if changes.is_none() {
            self.shared.unsaved.store(false, Ordering::SeqCst);
        }
        result
    }

    /// Whether the last save failed, so that the storage may lack some of the store's content
    /// (the next save, or auto-load's next round, writes all of it).
    ///
    /// ```
    /// use std::sync::{Arc, atomic::{AtomicBool, Ordering}};
    /// use tinystore_core::persist::{CustomPersistence, PersistError, Persister};
    /// use tinystore_core::Store;
    /// let offline = Arc::new(AtomicBool::new(true));
    /// let down = offline.clone();
    /// let storage = CustomPersistence::new(
    ///     || Ok(None),
    ///     move |_| match down.load(Ordering::SeqCst) {
    ///         true => Err(PersistError::Io("offline".into())),
    ///         false => Ok(()),
    ///     },
    /// );
    /// let persister = Persister::new(&Store::new(), storage);
    /// assert!(persister.save().is_err() && persister.has_unsaved_changes());
    /// offline.store(false, Ordering::SeqCst);
    /// assert!(!persister.save()?.has_unsaved_changes());
    /// # Ok::<(), PersistError>(())
    /// ```
    pub fn has_unsaved_changes(&self) -> bool {
        self.shared.unsaved.load(Ordering::SeqCst)
    }

    /// Lets saves replace stored data that failed to load.
    ///
    /// ```
    /// use tinystore_core::persist::{CustomPersistence, PersistError, Persister};
    /// use tinystore_core::Store;
    /// let unreadable = CustomPersistence::new(|| Ok(Some("not JSON".into())), |_| Ok(()));
    /// let persister = Persister::new(&Store::new(), unreadable);
    /// assert!(persister.load(None).is_err());
    /// assert_eq!(persister.save().unwrap_err(), PersistError::LoadFailed);
    /// persister.allow_overwrite().save()?;
    /// # Ok::<(), PersistError>(())
    /// ```
    pub fn allow_overwrite(&self) -> &Self {
        self.shared.load_failed.store(false, Ordering::SeqCst);
        self
    }

    /// Saves now, then after every transaction that changed the store. An auto-save that fails
    /// is reported to the ignored-error callback (the write that caused it has already
    /// happened in memory).
    ///
    /// ```
    /// use tinystore_core::persist::{CustomPersistence, Persister};
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// let nowhere = CustomPersistence::new(|| Ok(None), |_| Ok(()));
    /// let persister = Persister::new(&store, nowhere);
    /// persister.start_auto_save()?;
    /// store.set_value("open", true);
    /// store.set_value("open", true); // no change, no save
    /// assert_eq!(persister.get_stats().saves, 2);
    /// # Ok::<(), tinystore_core::persist::PersistError>(())
    /// ```
    pub fn start_auto_save(&self) -> Result<&Self, PersistError> {
        self.save()?;
        let mut slot = lock(&self.shared.auto_save);
        if slot.is_none() {
            let weak = Arc::downgrade(&self.shared);
            let id = self
                .get_store()
                .add_did_finish_transaction_listener(move |store| {
                    let Some(shared) = weak.upgrade() else { return };
                    let persister = Persister { shared };
                    let Some(changes) = persister.transaction_to_save(store, true) else {
                        return;
                    };
                    if let Err(e) = persister.save_changes(changes.as_ref()) {
                        persister.report(&e);
                    }
                });
            *slot = Some(id);
        }
        Ok(self)
    }

    /// Stops auto-saving (a coalescing auto-save first writes what is waiting; an error doing
    /// so goes to the ignored-error callback).
    ///
    /// ```
    /// use tinystore_core::persist::{CustomPersistence, Persister};
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// let nowhere = CustomPersistence::new(|| Ok(None), |_| Ok(()));
    /// let persister = Persister::new(&store, nowhere);
    /// persister.start_auto_save()?.stop_auto_save();
    /// store.set_value("open", true);
    /// assert_eq!(persister.get_stats().saves, 1);
    /// # Ok::<(), tinystore_core::persist::PersistError>(())
    /// ```
    pub fn stop_auto_save(&self) -> &Self {
        if let Some(id) = lock(&self.shared.auto_save).take() {
            self.get_store().del_listener(id);
        }
        if let Err(e) = self.flush() {
            self.report(&e);
        }
        let saver = lock(&self.shared.saver).take();
        if let Some((c, thread)) = saver {
            lock(&c.state).stop = true;
            c.wake.notify_all();
            if thread.thread().id() != std::thread::current().id() {
                let _ = thread.join();
            }
        }
        self
    }

    /// Whether auto-save is on.
    ///
    /// ```
    /// use tinystore_core::persist::{CustomPersistence, Persister};
    /// use tinystore_core::Store;
    /// let nowhere = CustomPersistence::new(|| Ok(None), |_| Ok(()));
    /// let persister = Persister::new(&Store::new(), nowhere);
    /// assert!(!persister.is_auto_saving());
    /// assert!(persister.start_auto_save()?.is_auto_saving());
    /// # Ok::<(), tinystore_core::persist::PersistError>(())
    /// ```
    pub fn is_auto_saving(&self) -> bool {
        lock(&self.shared.auto_save).is_some()
    }

    /// Loads now, then loads again whenever someone else changed the storage: at once where
    /// the storage tells of changes ([`Persistence::watch`], e.g. PostgreSQL's `NOTIFY`),
    /// else by polling it every `interval`. After a failed save, each round first saves the
    /// whole content (and loads only once that worked), so a load never replaces what could
    /// not be stored yet.
    ///
    /// ```
    /// use tinystore_core::persist::{CustomPersistence, Persister, DEFAULT_AUTO_LOAD_INTERVAL};
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// let document = || Ok(Some(r#"[{},{"open":true}]"#.to_string()));
    /// let stored = CustomPersistence::new(document, |_| Ok(()));
    /// let persister = Persister::new(&store, stored);
    /// persister.start_auto_load(None, DEFAULT_AUTO_LOAD_INTERVAL)?;
    /// assert_eq!(store.get_value("open"), Some(true.into())); // the first load is done
    /// # Ok::<(), tinystore_core::persist::PersistError>(())
    /// ```
    pub fn start_auto_load(
        &self,
        initial: Option<(&Tables, &Values)>,
        interval: Duration,
    ) -> Result<&Self, PersistError> {
        if self.is_auto_loading() {
            return self.load(initial);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let weak = Arc::downgrade(&self.shared);
        let stop_flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name("tinystore-auto-load".into())
            .spawn(move || {
                while !stop_flag.load(Ordering::SeqCst) {
                    std::thread::park_timeout(interval);
                    if stop_flag.load(Ordering::SeqCst) {
                        break;
                    }
                    let Some(shared) = weak.upgrade() else { break };
                    (Persister { shared }).auto_load_round();
                }
            })?;
        let thread = handle.thread().clone();
        let halt = |persister: &Persister| {
            stop.store(true, Ordering::SeqCst);
            handle.thread().unpark();
            lock(&persister.shared.persistence).unwatch();
        };
        let watching = lock(&self.shared.persistence).watch(Arc::new(move || thread.unpark()));
        let watching = match watching {
            Ok(w) => w,
            Err(e) => {
                halt(self);
                let _ = handle.join();
                return Err(e);
            }
        };
        if let Err(e) = self.load(initial) {
            halt(self);
            let _ = handle.join();
            return Err(e);
        }
        if !watching {
            // Take the current state as the baseline, so the first poll does not reload. (A
            // watching storage keeps what was signalled since `watch`: the load may predate it.)
            let _ = lock(&self.shared.persistence).changed();
        }
        let mut slot = lock(&self.shared.auto_load);
        if slot.is_some() {
            // Another call started auto-load meanwhile: it keeps the one it started.
            drop(slot);
            stop.store(true, Ordering::SeqCst);
            handle.thread().unpark();
            let _ = handle.join();
            return Ok(self);
        }
        *slot = Some((stop, handle));
        Ok(self)
    }

    /// One round of the auto-load thread: save what a failed save left, then load if the
    /// storage changed.
    fn auto_load_round(&self) {
        if self.shared.unsaved.load(Ordering::SeqCst) {
            if let Err(e) = self.save() {
                self.report(&e);
                return;
            }
        }
        let changed = lock(&self.shared.persistence).changed();
        match changed {
            Ok(true) => {
                if let Err(e) = self.load(None) {
                    self.report(&e);
                }
            }
            Ok(false) => {}
            Err(e) => self.report(&e),
        }
    }

    /// Stops auto-loading (waits for the polling thread to end).
    ///
    /// ```
    /// use tinystore_core::persist::{CustomPersistence, Persister, DEFAULT_AUTO_LOAD_INTERVAL};
    /// use tinystore_core::Store;
    /// let nowhere = CustomPersistence::new(|| Ok(None), |_| Ok(()));
    /// let persister = Persister::new(&Store::new(), nowhere);
    /// persister.start_auto_load(None, DEFAULT_AUTO_LOAD_INTERVAL)?.stop_auto_load();
    /// assert!(!persister.is_auto_loading());
    /// # Ok::<(), tinystore_core::persist::PersistError>(())
    /// ```
    pub fn stop_auto_load(&self) -> &Self {
        let taken = lock(&self.shared.auto_load).take();
        if let Some((stop, handle)) = taken {
            stop.store(true, Ordering::SeqCst);
            handle.thread().unpark();
            lock(&self.shared.persistence).unwatch();
            if handle.thread().id() != std::thread::current().id() {
                let _ = handle.join();
            }
        }
        self
    }

    /// Whether auto-load is on.
    ///
    /// ```
    /// use tinystore_core::persist::{CustomPersistence, Persister, DEFAULT_AUTO_LOAD_INTERVAL};
    /// use tinystore_core::Store;
    /// let nowhere = CustomPersistence::new(|| Ok(None), |_| Ok(()));
    /// let persister = Persister::new(&Store::new(), nowhere);
    /// assert!(!persister.is_auto_loading());
    /// assert!(persister.start_auto_load(None, DEFAULT_AUTO_LOAD_INTERVAL)?.is_auto_loading());
    /// # Ok::<(), tinystore_core::persist::PersistError>(())
    /// ```
    pub fn is_auto_loading(&self) -> bool {
        lock(&self.shared.auto_load).is_some()
    }

    /// Auto-load then auto-save (or the reverse with `save_first`); if the second fails, the
    /// first is stopped and the error returned.
    ///
    /// ```
    /// use tinystore_core::content::content_from_str;
    /// use tinystore_core::persist::{Persister, DEFAULT_AUTO_LOAD_INTERVAL};
    /// use tinystore_core::persist::sqlite::{SqliteJsonConfig, SqlitePersistence};
    /// use tinystore_core::Store;
    /// let (tables, values) = content_from_str(r#"[{},{"open":false}]"#).unwrap();
    /// let store = Store::new();
    /// let db = SqlitePersistence::open_in_memory(SqliteJsonConfig::default())?;
    /// let persister = Persister::new(&store, db);
    /// let initial = Some((&tables, &values));
    /// persister.start_auto_persisting(initial, DEFAULT_AUTO_LOAD_INTERVAL, false)?;
    /// // Nothing was stored: the initial content was loaded, then saved.
    /// assert_eq!(store.get_value("open"), Some(false.into()));
    /// assert_eq!(persister.get_stats().saves, 1);
    /// # Ok::<(), tinystore_core::persist::PersistError>(())
    /// ```
    pub fn start_auto_persisting(
        &self,
        initial: Option<(&Tables, &Values)>,
        interval: Duration,
        save_first: bool,
    ) -> Result<&Self, PersistError> {
        if save_first {
            self.start_auto_save()?;
            if let Err(e) = self.start_auto_load(initial, interval) {
                self.stop_auto_save();
                return Err(e);
            }
        } else {
            self.start_auto_load(initial, interval)?;
            if let Err(e) = self.start_auto_save() {
                self.stop_auto_load();
                return Err(e);
            }
        }
        Ok(self)
    }

    /// Stops both.
    ///
    /// ```
    /// use tinystore_core::persist::{CustomPersistence, Persister, DEFAULT_AUTO_LOAD_INTERVAL};
    /// use tinystore_core::Store;
    /// let nowhere = CustomPersistence::new(|| Ok(None), |_| Ok(()));
    /// let persister = Persister::new(&Store::new(), nowhere);
    /// persister.start_auto_persisting(None, DEFAULT_AUTO_LOAD_INTERVAL, false)?;
    /// persister.stop_auto_persisting();
    /// assert!(!persister.is_auto_loading() && !persister.is_auto_saving());
    /// # Ok::<(), tinystore_core::persist::PersistError>(())
    /// ```
    pub fn stop_auto_persisting(&self) -> &Self {
        self.stop_auto_load().stop_auto_save()
    }

    /// Stops everything this persister runs.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tinystore_core::persist::{CustomPersistence, Persister};
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// let nowhere = CustomPersistence::new(|| Ok(None), |_| Ok(()));
    /// let persister = Persister::new(&store, nowhere);
    /// persister.start_auto_save_coalesced(Duration::from_secs(3600))?;
    /// store.set_value("open", true);
    /// persister.destroy(); // writes what was waiting, then stops
    /// assert_eq!(persister.get_stats().saves, 2);
    /// assert!(!persister.is_auto_saving());
    /// # Ok::<(), tinystore_core::persist::PersistError>(())
    /// ```
    pub fn destroy(&self) {
        self.stop_auto_persisting();
    }

    fn report(&self, e: &PersistError) {
        if let Some(f) = lock(&self.shared.on_ignored_error).as_ref() {
            f(e);
        }
    }
}

/// The coalescing auto-save's thread: waits for a change, lets the interval pass (more changes
/// join the same write), then saves the whole content.
fn run_saver(shared: std::sync::Weak<Shared>, c: Arc<Coalesce>, interval: Duration) {
    loop {
        let mut st = lock(&c.state);
        while !st.dirty && !st.stop {
            st = c
                .wake
                .wait(st)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        let deadline = std::time::Instant::now() + interval;
        while !st.stop {
            let now = std::time::Instant::now();
            if now >= deadline {
                break;
            }
            st = c
                .wake
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
        // Whoever stops the saver writes what is waiting itself.
        if st.stop {
            return;
        }
        if !st.dirty {
            continue;
        }
        drop(st);
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let persister = Persister { shared };
        if persister.get_status() == Status::Loading {
            continue;
        }
        if let Err(e) = persister.save() {
            persister.report(&e);
        }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        if let Some((c, _)) = self.saver.get_mut().ok().and_then(Option::take) {
            // Unsaved changes cannot be written any more (the store handle is going): the
            // thread just ends. `destroy`/`stop_auto_save` flush before this point.
            lock(&c.state).stop = true;
            c.wake.notify_all();
        }
        if let Some(id) = self.auto_save.get_mut().ok().and_then(Option::take) {
            self.target.store().del_listener(id);
        }
        if let Some((stop, handle)) = self.auto_load.get_mut().ok().and_then(Option::take) {
            stop.store(true, Ordering::SeqCst);
            handle.thread().unpark();
        }
    }
}

/// Locks a mutex, recovering the data if a panicking thread poisoned it (persister state stays
/// consistent across a panic: every update is a single assignment).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
