//! TinyBase's AutomergePersister: a store kept in an Automerge document (feature `automerge`).
//!
//! The content lives where TinyBase's `createAutomergePersister(store, docHandle, 'tinybase')`
//! puts it: `doc.tinybase = {t: {tableId: {rowId: {cellId: cell}}}, v: {valueId: value}}`,
//! strings as Text objects, integers as `Int`s, other numbers as `F64`s, objects and arrays as
//! TinyBase's `U+FFFD`-prefixed JSON text, ids that clash with JavaScript's `Object.prototype`
//! (and `prototype`, and ids starting with `\0`) behind a `\0`. A TinyBase app sharing the
//! document (through automerge-repo, or the bytes of `Automerge.save`) sees the same store.
//!
//! An [`AutomergeDoc`] is the document the persister and the app share. Bytes go in with
//! [`AutomergeDoc::apply_update`] (a whole document or incremental changes, merged) and come
//! out with [`AutomergeDoc::encode_update`] (the whole document) or, change by change, from an
//! [update listener](AutomergeDoc::add_update_listener), so two replicas stay in step by
//! handing each other their listeners' bytes.
//!
//! Auto-save writes only the paths a transaction changed (TinyBase's rule: a change to a table
//! or row the document lacks rewrites what differs instead); auto-load reloads the content
//! whenever the document changes other than by this persister's own saves.
//!
//! ```
//! use tinystore_core::persist::automerge::{AutomergeDoc, AutomergePersistence};
//! use tinystore_core::persist::Persister;
//! use tinystore_core::Store;
//!
//! let doc = AutomergeDoc::new();
//! let store = Store::new();
//! store.set_cell("pets", "fido", "species", "dog");
//! Persister::new(&store, AutomergePersistence::new(&doc)).save().unwrap();
//!
//! // Another replica starts from the whole document ...
//! let replica = AutomergeDoc::new();
//! replica.apply_update(&doc.encode_update()).unwrap();
//! let other = Store::new();
//! Persister::new(&other, AutomergePersistence::new(&replica)).load(None).unwrap();
//! assert_eq!(other.get_json(), store.get_json());
//! ```

mod layout;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use automerge::{AutoCommit, AutomergeError, LoadOptions, OnPartialLoad, VerificationMode};

use crate::content::Changes;

use self::layout::Found;
use super::{ChangeSignal, PersistError, Persisted, Persistence, Persists, Target};

type UpdateListener = Arc<dyn Fn(&[u8]) + Send + Sync>;

/// An Automerge document shared by persisters and the app, with bytes in and out in
/// Automerge's formats. Clones share the document.
///
/// ```
/// use tinystore_core::persist::automerge::AutomergeDoc;
/// use automerge::{ReadDoc, transaction::Transactable};
///
/// let a = AutomergeDoc::new();
/// let b = AutomergeDoc::new();
/// // Forward a's local changes to b.
/// let to_b = b.clone();
/// a.add_update_listener(move |bytes| to_b.apply_update(bytes).unwrap());
/// a.with_doc(|d| d.put(automerge::ROOT, "open", true).unwrap());
/// assert!(b.with_doc(|d| d.get(automerge::ROOT, "open").unwrap().is_some()));
/// ```
#[derive(Clone)]
pub struct AutomergeDoc {
    inner: Arc<Inner>,
}

struct Inner {
    doc: Mutex<AutoCommit>,
    listeners: Mutex<Vec<(u64, UpdateListener)>>,
    next_listener: AtomicU64,
    /// The persistences on this document, told of changes they did not make themselves.
    watchers: Mutex<Vec<Weak<Watcher>>>,
}

/// One persistence's view of outside changes.
#[derive(Default)]
struct Watcher {
    /// The document changed, other than by this persistence, since it last read it.
    outside: AtomicBool,
    /// Auto-load's wake-up, while it watches.
    signal: Mutex<Option<ChangeSignal>>,
}

impl std::fmt::Debug for AutomergeDoc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AutomergeDoc")
            .field("listeners", &lock(&self.inner.listeners).len())
            .finish_non_exhaustive()
    }
}

impl Default for AutomergeDoc {
    fn default() -> AutomergeDoc {
        AutomergeDoc::new()
    }
}

impl AutomergeDoc {
    /// An empty document with a random actor id.
    ///
    /// ```
    /// use automerge::ReadDoc;
    /// use tinystore_core::persist::automerge::AutomergeDoc;
    /// let (a, b) = (AutomergeDoc::new(), AutomergeDoc::new());
    /// assert_eq!(a.with_doc(|d| d.keys(automerge::ROOT).count()), 0);
    /// assert_ne!(a.with_doc(|d| d.get_actor().clone()), b.with_doc(|d| d.get_actor().clone()));
    /// ```
    pub fn new() -> AutomergeDoc {
        AutomergeDoc::from_doc(AutoCommit::new())
    }

    /// Shares `doc` (e.g. one loaded with `AutoCommit::load`, or with an actor id of the app's
    /// choosing).
    ///
    /// ```
    /// use automerge::{ActorId, AutoCommit};
    /// use tinystore_core::persist::automerge::AutomergeDoc;
    /// let actor = ActorId::from(b"my-app".to_vec());
    /// let doc = AutomergeDoc::from_doc(AutoCommit::new().with_actor(actor.clone()));
    /// assert_eq!(doc.with_doc(|d| d.get_actor().clone()), actor);
    /// ```
    pub fn from_doc(doc: AutoCommit) -> AutomergeDoc {
        AutomergeDoc {
            inner: Arc::new(Inner {
                doc: Mutex::new(doc),
                listeners: Mutex::new(Vec::new()),
                next_listener: AtomicU64::new(1),
                watchers: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Runs `f` on the document: the app's own reads and edits. Edits count as local changes:
    /// update listeners receive them and auto-loading persisters reload. `f` must not call a
    /// store that a persister of this document serves (a save on another thread holds the
    /// store while it waits for the document).
    ///
    /// ```
    /// use automerge::{ReadDoc, transaction::Transactable};
    /// use tinystore_core::persist::automerge::AutomergeDoc;
    /// let doc = AutomergeDoc::new();
    /// doc.with_doc(|d| d.put(automerge::ROOT, "visits", 3))?;
    /// let visits = doc.with_doc(|d| d.get(automerge::ROOT, "visits").map(|v| v?.0.as_i64()))?;
    /// assert_eq!(visits, Some(3));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_doc<R>(&self, f: impl FnOnce(&mut AutoCommit) -> R) -> R {
        self.edit(None, true, f)
    }

    /// Merges bytes in Automerge's formats: a whole document (`Automerge.save`, or
    /// [`AutomergeDoc::encode_update`]) or incremental changes (`Automerge.saveIncremental`,
    /// an update listener's bytes; changes whose dependencies have not arrived wait for them).
    /// Auto-loading persisters reload; update listeners are not called, so an app forwarding
    /// local changes does not echo what it received.
    ///
    /// # Errors
    /// [`PersistError::Content`] for bytes that are not complete Automerge data, or changes the
    /// document cannot take; the document is left as it was.
    ///
    /// ```
    /// use automerge::{ReadDoc, transaction::Transactable};
    /// use tinystore_core::persist::{PersistError, automerge::AutomergeDoc};
    /// let (a, b) = (AutomergeDoc::new(), AutomergeDoc::new());
    /// a.with_doc(|d| d.put(automerge::ROOT, "open", true))?;
    /// b.apply_update(&a.encode_update())?;
    /// assert!(b.with_doc(|d| d.get(automerge::ROOT, "open").map(|v| v.is_some()))?);
    /// assert!(matches!(b.apply_update(b"not automerge"), Err(PersistError::Content(_))));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply_update(&self, bytes: &[u8]) -> Result<(), PersistError> {
        // Checked on a scratch document first: a document's own loading would skip what it
        // cannot parse. Changes that depend on others the scratch lacks still parsed fine.
        let loaded = std::panic::catch_unwind(|| {
            AutoCommit::load_with_options(
                bytes,
                LoadOptions::new()
                    .on_partial_load(OnPartialLoad::Error)
                    .verification_mode(VerificationMode::Check),
            )
        })
        .map_err(|_| PersistError::content("the Automerge data could not be read"))?;
        // The scratch only checked the bytes: they are loaded into the document itself, where
        // changes that depend on ones the scratch lacked (but the document has) apply too.
        match loaded {
            Ok(_) | Err(AutomergeError::MissingDeps) => {}
            Err(e) => return Err(PersistError::content_from(e)),
        }
        self.edit(None, false, |doc| doc.load_incremental(bytes).map(drop))
            .map_err(PersistError::content_from)
    }

    /// The whole document in Automerge's save format (`Automerge.save`), which
    /// `Automerge.load`, automerge-repo's `repo.import` and [`AutomergeDoc::apply_update`] read.
    ///
    /// ```
    /// use automerge::{AutoCommit, ReadDoc, transaction::Transactable};
    /// use tinystore_core::persist::automerge::AutomergeDoc;
    /// let doc = AutomergeDoc::new();
    /// doc.with_doc(|d| d.put(automerge::ROOT, "open", true))?;
    /// let copy = AutoCommit::load(&doc.encode_update())?;
    /// assert!(copy.get(automerge::ROOT, "open")?.is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn encode_update(&self) -> Vec<u8> {
        lock(&self.inner.doc).save()
    }

    /// Calls `listener` with the incremental changes of each local change to the document (a
    /// persister's save, an edit through [`AutomergeDoc::with_doc`]), in the format of
    /// `Automerge.saveIncremental` (`Automerge.loadIncremental` and
    /// [`AutomergeDoc::apply_update`] read it). Changes merged by `apply_update` are not
    /// reported. Listeners run on the thread that made the change, after the document is
    /// released. Returns an id for [`AutomergeDoc::del_update_listener`].
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use automerge::transaction::Transactable;
    /// use tinystore_core::persist::automerge::AutomergeDoc;
    /// let doc = AutomergeDoc::new();
    /// let updates = Arc::new(Mutex::new(Vec::new()));
    /// let seen = updates.clone();
    /// doc.add_update_listener(move |bytes| seen.lock().unwrap().push(bytes.to_vec()));
    /// doc.with_doc(|d| d.put(automerge::ROOT, "open", true))?;
    /// // Merged changes are not reported back.
    /// doc.apply_update(&AutomergeDoc::new().encode_update())?;
    /// assert_eq!(updates.lock().unwrap().len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_update_listener(&self, listener: impl Fn(&[u8]) + Send + Sync + 'static) -> u64 {
        let id = self.inner.next_listener.fetch_add(1, Ordering::Relaxed);
        lock(&self.inner.listeners).push((id, Arc::new(listener)));
        id
    }

    /// Removes an update listener; `false` if there was none with this id.
    ///
    /// ```
    /// use tinystore_core::persist::automerge::AutomergeDoc;
    /// let doc = AutomergeDoc::new();
    /// let id = doc.add_update_listener(|_| {});
    /// assert!(doc.del_update_listener(id));
    /// assert!(!doc.del_update_listener(id));
    /// ```
    pub fn del_update_listener(&self, id: u64) -> bool {
        let mut listeners = lock(&self.inner.listeners);
        let before = listeners.len();
        listeners.retain(|(i, _)| *i != id);
        listeners.len() != before
    }

    /// Runs `f` on the document and, if the document's heads moved, tells every watcher but
    /// `origin` and (for local changes) the update listeners, after releasing the document.
    fn edit<R>(
        &self,
        origin: Option<&Arc<Watcher>>,
        local: bool,
        f: impl FnOnce(&mut AutoCommit) -> R,
    ) -> R {
        let (result, update, signals) = {
            let mut doc = lock(&self.inner.doc);
            let before = doc.get_heads();
            let result = f(&mut doc);
            // Reading the heads also commits what `f` left open.
            if doc.get_heads() == before {
                return result;
            }
            let update = local.then(|| doc.save_after(&before));
            // Marked while the document is held, so that a read clearing the mark has seen
            // the change.
            (result, update, self.mark_outside(origin))
        };
        for signal in signals {
            signal();
        }
        if let Some(bytes) = update {
            let listeners: Vec<UpdateListener> = lock(&self.inner.listeners)
                .iter()
                .map(|(_, l)| l.clone())
                .collect();
            for listener in listeners {
                listener(&bytes);
            }
        }
        result
    }

    fn mark_outside(&self, origin: Option<&Arc<Watcher>>) -> Vec<ChangeSignal> {
        let mut signals = Vec::new();
        let mut watchers = lock(&self.inner.watchers);
        watchers.retain(|w| w.strong_count() > 0);
        for watcher in watchers.iter().filter_map(Weak::upgrade) {
            if origin.is_some_and(|o| Arc::ptr_eq(o, &watcher)) {
                continue;
            }
            watcher.outside.store(true, Ordering::SeqCst);
            if let Some(signal) = lock(&watcher.signal).clone() {
                signals.push(signal);
            }
        }
        signals
    }
}

/// Storage in an [`AutomergeDoc`], for a [`Persister`](super::Persister): TinyBase's
/// AutomergePersister. Holds a Store or a MergeableStore (by its plain content, as TinyBase's
/// persister holds only plain Stores).
///
/// The document gets its map under the persister's name at the first save (TinyBase's
/// constructor makes it at once): a replica that starts empty and then merges another's
/// document holds no map of its own to win over the other's. Still, start a replica from the
/// other side's document ([`AutomergeDoc::apply_update`]) before saving into it: two documents
/// that each made their own map under that name merge to one of the two.
///
/// ```
/// use automerge::ReadDoc;
/// use tinystore_core::persist::{Persister, automerge::{AutomergeDoc, AutomergePersistence}};
/// use tinystore_core::Store;
/// let doc = AutomergeDoc::new();
/// let store = Store::new();
/// let persister = Persister::new(&store, AutomergePersistence::new(&doc));
/// persister.start_auto_save()?;
/// store.set_value("open", true);
/// assert!(doc.with_doc(|d| d.get(automerge::ROOT, "tinybase").map(|v| v.is_some()))?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct AutomergePersistence {
    doc: AutomergeDoc,
    /// The persister's name as stored (escaped like any id).
    key: String,
    watcher: Arc<Watcher>,
    /// `changed` reported an outside change: an auto-load's read follows, for which something
    /// other than content under the name is an error (as TinyBase's change listener reports),
    /// not "nothing stored".
    auto_round: bool,
}

impl std::fmt::Debug for AutomergePersistence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AutomergePersistence")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl AutomergePersistence {
    /// Storage under the document's `tinybase` map (TinyBase's default).
    ///
    /// ```
    /// use automerge::ReadDoc;
    /// use tinystore_core::persist::{Persister, automerge::{AutomergeDoc, AutomergePersistence}};
    /// use tinystore_core::Store;
    /// let doc = AutomergeDoc::new();
    /// Persister::new(&Store::new(), AutomergePersistence::new(&doc)).save()?;
    /// let keys: Vec<String> = doc.with_doc(|d| d.keys(automerge::ROOT).collect());
    /// assert_eq!(keys, ["tinybase"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(doc: &AutomergeDoc) -> AutomergePersistence {
        AutomergePersistence::with_obj_name(doc, "tinybase")
    }

    /// Storage under the document's map `name` (TinyBase's `docMapName`).
    ///
    /// ```
    /// use automerge::ReadDoc;
    /// use tinystore_core::persist::{Persister, automerge::{AutomergeDoc, AutomergePersistence}};
    /// use tinystore_core::Store;
    /// let doc = AutomergeDoc::new();
    /// let shop = AutomergePersistence::with_obj_name(&doc, "shop");
    /// // The map is made by the first save, not by creating the persistence.
    /// assert_eq!(doc.with_doc(|d| d.keys(automerge::ROOT).count()), 0);
    /// Persister::new(&Store::new(), shop).save()?;
    /// assert!(doc.with_doc(|d| d.get(automerge::ROOT, "shop").map(|v| v.is_some()))?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_obj_name(doc: &AutomergeDoc, name: &str) -> AutomergePersistence {
        let watcher = Arc::new(Watcher::default());
        lock(&doc.inner.watchers).push(Arc::downgrade(&watcher));
        // The map is made by the first save, not here (TinyBase makes it at once): a replica
        // that starts empty and then merges another's document must not hold a `tinybase` map
        // of its own that wins over the other's.
        let key = layout::encode_id(name).into_owned();
        AutomergePersistence {
            doc: doc.clone(),
            key,
            watcher,
            auto_round: false,
        }
    }

    /// The document (TinyBase's `getDocHandle`).
    ///
    /// ```
    /// use tinystore_core::persist::automerge::{AutomergeDoc, AutomergePersistence};
    /// let doc = AutomergeDoc::new();
    /// let persistence = AutomergePersistence::new(&doc);
    /// // A handle on the same document: listeners added through it see the app's edits.
    /// let id = persistence.doc().add_update_listener(|_| {});
    /// assert!(doc.del_update_listener(id));
    /// ```
    pub fn doc(&self) -> &AutomergeDoc {
        &self.doc
    }
}

impl Persistence for AutomergePersistence {
    fn read(&mut self) -> Result<Option<Persisted>, PersistError> {
        let auto_round = std::mem::take(&mut self.auto_round);
        let content = {
            let doc = lock(&self.doc.inner.doc);
            self.watcher.outside.store(false, Ordering::SeqCst);
            layout::read_content(&doc, &self.key)?
        };
        match content {
            Found::Content(tables, values) => Ok(Some(Persisted::Content(tables, values))),
            Found::Other if auto_round => Err(PersistError::content(format!(
                "the Automerge document holds no TinyBase content under {:?}",
                self.key
            ))),
            Found::Other | Found::Nothing => Ok(None),
        }
    }

    fn write(&mut self, target: &Target, changes: Option<&Changes>) -> Result<(), PersistError> {
        let (key, watcher) = (&self.key, &self.watcher);
        self.doc
            .edit(Some(watcher), true, |doc| {
                // Read while the document is held: no change can slip in unseen.
                let in_step = !watcher.outside.load(Ordering::SeqCst);
                let written = layout::write_content(doc, key, target.store(), changes, in_step);
                if written.is_err() {
                    doc.rollback();
                }
                written
            })
            .map_err(PersistError::content_from)
    }

    fn changed(&mut self) -> Result<bool, PersistError> {
        let changed = self.watcher.outside.load(Ordering::SeqCst);
        self.auto_round = changed;
        Ok(changed)
    }

    fn persists(&self) -> Persists {
        Persists::StoreOrMergeableStore
    }

    fn watch(&mut self, signal: ChangeSignal) -> Result<bool, PersistError> {
        *lock(&self.watcher.signal) = Some(signal);
        Ok(true)
    }

    fn unwatch(&mut self) {
        *lock(&self.watcher.signal) = None;
    }

    fn writes_changes(&self) -> bool {
        true
    }
}

/// Locks a mutex, recovering it from a panicking holder (a panicking `with_doc` closure): the
/// document stays usable, with whatever the closure had done.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
