//! [`YjsDoc`]: a Y.Doc shared by persisters and the app, with Yjs v1 updates in and out.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use yrs::updates::decoder::Decode;
use yrs::{Doc, Origin, ReadTxn, StateVector, Transact, TransactionMut, Update, UpdateEvent};

use crate::persist::PersistError;

/// The origin of the transactions that merge updates from elsewhere ([`YjsDoc::apply_update`]).
const REMOTE: &[u8] = b"tinystore-yjs:remote";
/// The prefix of the origins of persisters' saves: `SAVE`, the [`YjsDoc`]'s id, `:`, the
/// persistence's id.
const SAVE: &[u8] = b"tinystore-yjs:save:";

/// Ids making each subscription key and save origin unique in the process.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

pub(super) fn next_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

type Listener = Arc<dyn Fn(&[u8]) + Send + Sync>;

/// The update listeners, shared with the yrs observer that feeds them.
struct Listeners {
    /// `SAVE` + this doc's id + `:`: the origins of saves made through this [`YjsDoc`].
    saves: Vec<u8>,
    next: AtomicU64,
    list: Mutex<Vec<(u64, Listener)>>,
    /// Updates of persisters' saves, kept until the save's transaction has released the doc.
    deferred: Mutex<Vec<Vec<u8>>>,
}

impl Listeners {
    fn call(&self, update: &[u8]) {
        // A snapshot: listeners may add or remove listeners.
        let list: Vec<Listener> = lock(&self.list).iter().map(|(_, l)| l.clone()).collect();
        for listener in list {
            // A panic must neither unwind through yrs's commit nor leave a save half done.
            let _ = catch_unwind(AssertUnwindSafe(|| listener(update)));
        }
    }

    /// The observer's side: what a transaction's update is to the listeners.
    fn on_update(&self, txn: &TransactionMut, event: &UpdateEvent) {
        let origin = txn.origin().map(AsRef::<[u8]>::as_ref);
        match origin {
            Some(REMOTE) => {}
            // The saving thread gives them out once the transaction is over (each wrapper of
            // a yrs document holds back only the saves made through it).
            Some(o) if o.starts_with(&self.saves) => {
                lock(&self.deferred).push(event.update.clone());
            }
            _ => self.call(&event.update),
        }
    }
}

struct Inner {
    doc: Doc,
    listeners: Arc<Listeners>,
    /// The key of the doc's update observer; whether it is subscribed (taken before the doc's
    /// own lock, never while holding `listeners.list`).
    observer: Origin,
    subscribed: Mutex<bool>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        lock(&self.listeners.list).clear();
        let subscribed = *self
            .subscribed
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        // The doc may live on in the app; without the lock (a transaction is running) the
        // observer stays, calling an empty list.
        if subscribed && let Ok(txn) = self.doc.try_transact_mut() {
            txn.unobserve_update_v1(self.observer.clone());
        }
    }
}

/// A Y.Doc shared by persisters and the app: updates in and out as Yjs v1 update bytes
/// (`Y.encodeStateAsUpdate`, `Y.applyUpdate`, the `update` event of Yjs).
///
/// Clones share the one document. The app may read and edit it through [`YjsDoc::doc`] with
/// yrs, and forward its updates to other replicas with [`YjsDoc::add_update_listener`].
///
/// yrs runs a document's observers (including update listeners, for transactions made through
/// [`YjsDoc::doc`]) while it holds the document: they must not open another transaction on
/// the same document, nor wait for a thread that may. A store persisted in the document must
/// not be written from inside them either, since its persister writes the document.
///
/// ```
/// use tinystore_core::persist::yjs::YjsDoc;
/// use yrs::{Map, Transact};
///
/// let a = YjsDoc::new();
/// let b = YjsDoc::new();
/// let to_b = b.clone();
/// a.add_update_listener(move |update| to_b.apply_update(update).unwrap());
/// let map = a.doc().get_or_insert_map("notes");
/// map.insert(&mut a.doc().transact_mut(), "first", "hello");
/// let notes = b.doc().get_or_insert_map("notes");
/// let hello = yrs::Out::Any(yrs::Any::from("hello"));
/// assert_eq!(notes.get(&b.doc().transact(), "first"), Some(hello));
/// ```
#[derive(Clone)]
pub struct YjsDoc {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for YjsDoc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("YjsDoc")
            .field("client_id", &self.inner.doc.client_id())
            .finish_non_exhaustive()
    }
}

impl Default for YjsDoc {
    fn default() -> Self {
        YjsDoc::new()
    }
}

impl YjsDoc {
    /// A new, empty document (with a random client id, as `new Y.Doc()`).
    pub fn new() -> YjsDoc {
        YjsDoc::from_doc(Doc::new())
    }

    /// Shares `doc`, a yrs document the app already has.
    ///
    /// ```
    /// use tinystore_core::persist::yjs::YjsDoc;
    /// let doc = yrs::Doc::with_client_id(7);
    /// assert_eq!(YjsDoc::from_doc(doc).doc().client_id().get(), 7);
    /// ```
    pub fn from_doc(doc: Doc) -> YjsDoc {
        let id = next_id();
        let observer = format!("tinystore-yjs:listeners:{id}");
        let mut saves = SAVE.to_vec();
        saves.extend_from_slice(format!("{id}:").as_bytes());
        YjsDoc {
            inner: Arc::new(Inner {
                doc,
                listeners: Arc::new(Listeners {
                    saves,
                    next: AtomicU64::new(0),
                    list: Mutex::default(),
                    deferred: Mutex::default(),
                }),
                observer: Origin::from(observer.as_str()),
                subscribed: Mutex::new(false),
            }),
        }
    }

    /// The yrs document.
    pub fn doc(&self) -> &Doc {
        &self.inner.doc
    }

    /// Merges a Yjs update (v1 encoding: `Y.encodeStateAsUpdate(doc)`, an `update` event's
    /// bytes, [`YjsDoc::encode_update`]). Bytes that are not an update are a
    /// [`PersistError`] of kind `Content`, and the document is left as it was; so are updates
    /// whose values nest deeper than 128 levels, or that list a client without changes (yrs
    /// would overflow the stack on them; neither Yjs nor yrs writes them). (A well-formed
    /// update that yrs cannot integrate, one naming a parent that is no shared type, fails
    /// the same way but may leave the part integrated before it.)
    ///
    /// ```
    /// use tinystore_core::persist::{PersistErrorKind, yjs::YjsDoc};
    /// let doc = YjsDoc::new();
    /// assert_eq!(doc.apply_update(&[1, 2, 3]).unwrap_err().kind(), PersistErrorKind::Content);
    /// doc.apply_update(&YjsDoc::new().encode_update()).unwrap();
    /// ```
    pub fn apply_update(&self, update: &[u8]) -> Result<(), PersistError> {
        super::scan::check(update)?;
        // Decoding only reads the bytes: should yrs panic on some input, nothing is lost by
        // catching it here.
        let decoded = catch_unwind(|| Update::decode_v1(update))
            .map_err(|_| PersistError::content("the bytes are not a Yjs update"))?
            .map_err(PersistError::content_from)?;
        let mut txn = self.inner.doc.transact_mut_with(REMOTE);
        txn.apply_update(decoded)
            .map_err(PersistError::content_from)
    }

    /// The document's whole state as one v1 update (`Y.encodeStateAsUpdate(doc)`).
    pub fn encode_update(&self) -> Vec<u8> {
        self.inner
            .doc
            .transact()
            .encode_state_as_update_v1(&StateVector::default())
    }

    /// Calls `listener(update)` with the v1 update of each local transaction: persisters'
    /// saves and the app's own edits through [`YjsDoc::doc`], but not the updates merged by
    /// [`YjsDoc::apply_update`], so that an app can send its local changes to other replicas
    /// without echoing theirs. Returns an id for [`YjsDoc::del_update_listener`].
    ///
    /// A save's update is given once the save has released the document, on the saving
    /// thread, so its listener may apply it to another document at once. An edit's update is
    /// given while yrs commits the app's transaction (see [`YjsDoc`] on observers). A listener
    /// that panics is skipped (the panic is caught: it must not unwind through yrs, nor leave
    /// a save half done).
    pub fn add_update_listener(&self, listener: impl Fn(&[u8]) + Send + Sync + 'static) -> u64 {
        let listeners = &self.inner.listeners;
        let id = listeners.next.fetch_add(1, Ordering::Relaxed);
        lock(&listeners.list).push((id, Arc::new(listener)));
        self.resubscribe();
        id
    }

    /// Removes an update listener; whether it was there.
    pub fn del_update_listener(&self, id: u64) -> bool {
        let removed = {
            let mut list = lock(&self.inner.listeners.list);
            let before = list.len();
            list.retain(|(i, _)| *i != id);
            list.len() != before
        };
        self.resubscribe();
        removed
    }

    /// The origin of the transactions of one persistence's saves.
    pub(super) fn save_origin(&self, persistence: u64) -> Origin {
        let mut bytes = self.inner.listeners.saves.clone();
        bytes.extend_from_slice(persistence.to_string().as_bytes());
        Origin::from(bytes.as_slice())
    }

    /// Subscribes the doc's update observer while there are listeners, so that a document
    /// nobody listens to does not encode every transaction's update.
    fn resubscribe(&self) {
        let inner = &self.inner;
        let mut subscribed = lock(&inner.subscribed);
        let wanted = !lock(&inner.listeners.list).is_empty();
        if wanted == *subscribed {
            return;
        }
        if wanted {
            let mut txn = inner.doc.transact_mut();
            let listeners = inner.listeners.clone();
            txn.observe_update_v1(inner.observer.clone(), move |txn, event| {
                listeners.on_update(txn, event);
            });
        } else {
            // A listener removing the last one from inside a commit finds the doc taken: the
            // observer then stays, with nobody to call.
            let Ok(txn) = inner.doc.try_transact_mut() else {
                return;
            };
            txn.unobserve_update_v1(inner.observer.clone());
        }
        *subscribed = wanted;
    }

    /// Gives the listeners the updates of saves whose transactions have ended.
    pub(super) fn deliver_deferred(&self) {
        let updates = std::mem::take(&mut *lock(&self.inner.listeners.deferred));
        for update in updates {
            self.inner.listeners.call(&update);
        }
    }
}

/// Locks a mutex, recovering from poisoning (the guarded data is replaced whole or pushed to).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
