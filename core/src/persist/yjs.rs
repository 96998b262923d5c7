//! TinyBase's YjsPersister (feature `yjs`, on [yrs](https://docs.rs/yrs)): a store kept in a
//! Y.Doc, where Yjs merges it with other replicas' edits.
//!
//! The layout is TinyBase's, so TinyBase and tinystore read each other's documents: the
//! Y.Doc's map `tinybase` (or another name) holds `t`, a Y.Map of tables, each a Y.Map of
//! rows, each a Y.Map of cells, and `v`, a Y.Map of values. Cells are Yjs `Any` values:
//! strings, numbers, booleans, `null`, and objects/arrays as TinyBase's encoded string
//! (`U+FFFD` followed by their JSON).
//!
//! - **Save** writes in one yrs transaction. Auto-save writes only the paths a transaction
//!   changed (deleted tables, rows and cells removed, changed cells set), so a one-cell change
//!   is a one-cell Yjs update and concurrent edits of other cells merge. A changed table or row
//!   that is not in the doc is written whole (TinyBase matches the whole doc to the store
//!   there, which deletes what other replicas added and auto-load has not taken in yet).
//!   `save()` matches the doc to the whole content: cells that differ are set, ids the store
//!   lacks are deleted.
//! - **Load** reads the whole map; an empty map is "nothing stored". A `t`, `v`, table or row
//!   that is not a Y.Map, or an entry that is not a cell (`undefined`, binary data, a nested
//!   Y type), fails the load with a content error and leaves the store as it was.
//! - **Auto-load** follows the doc's own observer: any transaction on the map that is not this
//!   persistence's own save (an update merged with [`YjsDoc::apply_update`], an edit through
//!   [`YjsDoc::doc`], another persister's save) makes the persister load the map again.
//! - A MergeableStore is kept by its plain content, as TinyBase keeps it (Yjs, not the
//!   store's stamps, merges the replicas).
//!
//! ```
//! use tinystore_core::persist::{Persister, yjs::{YjsDoc, YjsPersistence}};
//! use tinystore_core::Store;
//!
//! let doc = YjsDoc::new();
//! let store = Store::new();
//! store.set_cell("pets", "fido", "species", "dog").set_value("open", true);
//! Persister::new(&store, YjsPersistence::new(&doc)).save().unwrap();
//!
//! // Another replica gets the document as a Yjs update.
//! let replica = YjsDoc::new();
//! replica.apply_update(&doc.encode_update()).unwrap();
//! let copy = Store::new();
//! Persister::new(&copy, YjsPersistence::new(&replica)).load(None).unwrap();
//! assert_eq!(copy.get_json(), r#"[{"pets":{"fido":{"species":"dog"}}},{"open":true}]"#);
//! ```

mod cells;
mod content;
mod doc;
mod scan;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use yrs::{DeepObservable, MapRef, Origin, Transact};

pub use doc::YjsDoc;

use super::{ChangeSignal, PersistError, Persisted, Persistence, Persists, Target};
use crate::content::Changes;

/// TinyBase's default name of the Y.Doc's map (`createYjsPersister`'s `yMapName`).
pub const DEFAULT_MAP_NAME: &str = "tinybase";

/// A store in a [`YjsDoc`]'s map: TinyBase's `createYjsPersister(store, yDoc, yMapName)`
/// for a [`Persister`](super::Persister). See the [module documentation](self).
///
/// ```
/// use tinystore_core::persist::{Persister, yjs::{YjsDoc, YjsPersistence}};
/// use tinystore_core::Store;
/// let doc = YjsDoc::new();
/// let store = Store::new();
/// let persister = Persister::new(&store, YjsPersistence::new(&doc));
/// persister.start_auto_save()?;
/// store.set_cell("pets", "fido", "legs", 4);
/// // Another store on the same doc loads what was auto-saved.
/// let copy = Store::new();
/// Persister::new(&copy, YjsPersistence::new(&doc)).load(None)?;
/// assert_eq!(copy.get_cell("pets", "fido", "legs"), Some(4.into()));
/// # Ok::<(), tinystore_core::persist::PersistError>(())
/// ```
pub struct YjsPersistence {
    doc: YjsDoc,
    name: String,
    root: MapRef,
    /// The origin of this persistence's saves, which its own observer ignores.
    origin: Origin,
    /// The key of its deep observer while it watches.
    watch_key: Origin,
    watching: bool,
    /// A transaction of someone else changed the map since `changed` last said so.
    changed: Arc<AtomicBool>,
}

impl std::fmt::Debug for YjsPersistence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("YjsPersistence")
            .field("map", &self.name)
            .field("watching", &self.watching)
            .finish_non_exhaustive()
    }
}

impl YjsPersistence {
    /// The store in `doc`'s map `tinybase`.
    ///
    /// Gets (or creates) the root map, which takes the document: do not call it from inside
    /// one of the document's yrs observers.
    ///
    /// ```
    /// use tinystore_core::persist::yjs::{DEFAULT_MAP_NAME, YjsDoc, YjsPersistence};
    /// let yjs = YjsPersistence::new(&YjsDoc::new());
    /// assert_eq!(yjs.map_name(), DEFAULT_MAP_NAME);
    /// ```
    pub fn new(doc: &YjsDoc) -> YjsPersistence {
        YjsPersistence::with_map_name(doc, DEFAULT_MAP_NAME)
    }

    /// The store in `doc`'s map `name`.
    ///
    /// ```
    /// use tinystore_core::persist::{Persister, yjs::{YjsDoc, YjsPersistence}};
    /// use tinystore_core::Store;
    /// use yrs::{Map, Transact};
    /// let doc = YjsDoc::new();
    /// let store = Store::new();
    /// store.set_value("open", true);
    /// Persister::new(&store, YjsPersistence::with_map_name(&doc, "shop")).save().unwrap();
    /// let shop = doc.doc().get_or_insert_map("shop");
    /// assert_eq!(shop.len(&doc.doc().transact()), 2); // `t` and `v`
    /// ```
    pub fn with_map_name(doc: &YjsDoc, name: &str) -> YjsPersistence {
        let root = doc.doc().get_or_insert_map(name);
        let id = doc::next_id();
        YjsPersistence {
            doc: doc.clone(),
            name: name.to_string(),
            root,
            origin: doc.save_origin(id),
            watch_key: Origin::from(format!("tinystore-yjs:watch:{id}").as_str()),
            watching: false,
            changed: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The document (TinyBase's `getYDoc`).
    ///
    /// ```
    /// use tinystore_core::persist::yjs::{YjsDoc, YjsPersistence};
    /// let doc = YjsDoc::new();
    /// let yjs = YjsPersistence::new(&doc);
    /// // The same document, shared: what one handle merges, the other sees.
    /// yjs.doc().apply_update(&YjsDoc::new().encode_update())?;
    /// assert_eq!(yjs.doc().encode_update(), doc.encode_update());
    /// # Ok::<(), tinystore_core::persist::PersistError>(())
    /// ```
    pub fn doc(&self) -> &YjsDoc {
        &self.doc
    }

    /// The name of the document's map that holds the store.
    ///
    /// ```
    /// use tinystore_core::persist::yjs::{YjsDoc, YjsPersistence};
    /// let yjs = YjsPersistence::with_map_name(&YjsDoc::new(), "shop");
    /// assert_eq!(yjs.map_name(), "shop");
    /// ```
    pub fn map_name(&self) -> &str {
        &self.name
    }
}

impl Persistence for YjsPersistence {
    fn read(&mut self) -> Result<Option<Persisted>, PersistError> {
        let txn = self.doc.doc().transact();
        let read = content::read(&self.root, &txn)?;
        Ok(read.map(|(tables, values)| Persisted::Content(tables, values)))
    }

    fn write(&mut self, target: &Target, changes: Option<&Changes>) -> Result<(), PersistError> {
        let result = {
            let mut txn = self.doc.doc().transact_mut_with(self.origin.clone());
            content::write(&self.root, &mut txn, target.store(), changes)
        };
        // The transaction has ended: its update may go to listeners that write other docs.
        self.doc.deliver_deferred();
        result
    }

    fn writes_changes(&self) -> bool {
        true
    }

    fn persists(&self) -> Persists {
        Persists::StoreOrMergeableStore
    }

    fn watch(&mut self, signal: ChangeSignal) -> Result<bool, PersistError> {
        self.unwatch();
        let changed = self.changed.clone();
        let own = self.origin.clone();
        // Registering changes the map's observer list, which commits read: no transaction may
        // run meanwhile.
        let _txn = self.doc.doc().transact_mut();
        self.root
            .observe_deep(self.watch_key.clone(), move |txn, _events| {
                if txn.origin() != Some(&own) {
                    changed.store(true, Ordering::SeqCst);
                    signal();
                }
            });
        self.watching = true;
        Ok(true)
    }

    fn unwatch(&mut self) {
        if std::mem::take(&mut self.watching) {
            let _txn = self.doc.doc().transact_mut();
            self.root.unobserve_deep(self.watch_key.clone());
        }
    }

    fn changed(&mut self) -> Result<bool, PersistError> {
        Ok(self.changed.swap(false, Ordering::SeqCst))
    }
}

impl Drop for YjsPersistence {
    fn drop(&mut self) {
        self.unwatch();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persist::Persister;
    use crate::store::Store;
    use yrs::{Map, MapPrelim};

    #[test]
    fn own_saves_do_not_signal_but_other_edits_do() {
        let doc = YjsDoc::new();
        let store = Store::new();
        let persister = Persister::new(&store, YjsPersistence::new(&doc));
        persister
            .start_auto_load(None, std::time::Duration::from_secs(3600))
            .unwrap()
            .start_auto_save()
            .unwrap();
        store.set_cell("t", "r", "c", 1);
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert_eq!(persister.get_stats().loads, 1);
        let root = doc.doc().get_or_insert_map("tinybase");
        {
            let mut txn = doc.doc().transact_mut();
            let Some(yrs::Out::YMap(values)) = root.get(&txn, "v") else {
                panic!("no values map");
            };
            values.insert(&mut txn, "open", true);
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while store.get_value("open").is_none() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(store.get_json(), r#"[{"t":{"r":{"c":1}}},{"open":true}]"#);
        persister.destroy();
    }

    #[test]
    fn a_full_save_leaves_equal_cells_alone() {
        let doc = YjsDoc::new();
        let store = Store::new();
        store.set_cell("t", "r", "o", serde_json::json!({"a": 1}));
        store.set_cell("t", "r", "n", 2);
        let persister = Persister::new(&store, YjsPersistence::new(&doc));
        persister.save().unwrap();
        let updates = Arc::new(std::sync::Mutex::new(0));
        let seen = updates.clone();
        doc.add_update_listener(move |_| *seen.lock().unwrap() += 1);
        persister.save().unwrap();
        assert_eq!(*updates.lock().unwrap(), 0);
        // A stale table that is not a map is deleted; a table the store has must be a map.
        let root = doc.doc().get_or_insert_map("tinybase");
        {
            let mut txn = doc.doc().transact_mut();
            let Some(yrs::Out::YMap(tables)) = root.get(&txn, "t") else {
                panic!("no tables map");
            };
            tables.insert(&mut txn, "stale", 5);
            tables.insert(&mut txn, "other", MapPrelim::default());
        }
        persister.save().unwrap();
        let stored = YjsPersistence::new(&doc).read().unwrap();
        assert_eq!(
            stored,
            Some(Persisted::Content(store.get_tables(), store.get_values()))
        );
        {
            let mut txn = doc.doc().transact_mut();
            let Some(yrs::Out::YMap(tables)) = root.get(&txn, "t") else {
                panic!("no tables map");
            };
            tables.insert(&mut txn, "t", "not a map");
        }
        let before = doc.encode_update();
        let error = persister.save().unwrap_err();
        assert_eq!(error.kind(), crate::persist::PersistErrorKind::Content);
        assert_eq!(doc.encode_update(), before);
    }
}
