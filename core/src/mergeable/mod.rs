//! MergeableStore: a [`Store`] whose every Cell and Value carries an HLC stamp and a hash, so
//! that replicas merge deterministically (per-cell last-writer-wins) and find their
//! differences by comparing hashes top-down. Formats, hashes and merge decisions are TinyBase
//! 10.0.1's, byte for byte (spec mergeable.md).
//!
//! A `MergeableStore` *is* a Store: it dereferences to one, and every Store method (setters,
//! listeners, transactions, schemas) works on it unchanged, stamping each change as it is made.
//!
//! ```
//! use tinystore_core::MergeableStore;
//! let a = MergeableStore::with_clock(Some("client1"), Box::new(|| 1_700_000_000_000));
//! a.set_cell("pets", "fido", "species", "dog").set_value("open", true);
//! assert_eq!(a.get_mergeable_content_hashes(), (3126691051, 3110897815));
//!
//! let b = MergeableStore::new(None);
//! b.merge(&a);
//! assert_eq!(b.get_content(), a.get_content());
//! assert_eq!(b.get_mergeable_content_hashes(), a.get_mergeable_content_hashes());
//! ```

pub mod content;
mod reader;
mod received;
mod stamper;
mod tree;

use std::ops::Deref;

use indexmap::IndexMap;

pub use content::{
    CellStamp, JsonForm, MergeableChanges, MergeableContent, MergeableError, RowStamp, Stamp,
    TableStamp, TablesStamp, ValueStamp, ValuesStamp,
};
pub use received::ReceivedChanges;
pub(crate) use received::{merge_tables_stamps, tables_stamp_from_json, values_stamp_from_json};

use crate::content::{Tables, Values};
use crate::hlc::{GetNow, Hlc, HlcClock, MAX_FUTURE_OFFSET_MS};
use crate::js::object_order as js_order;
use crate::store::state::State;
use crate::store::{AcceptedChanges, Interner, Store};
use crate::types::{Cell, Text};

use stamper::Mergeable;
use tree::{
    LeafRef, LeafValues, Payload, StoredLeaf, empty_tables_stamp, leaf_stamp, row_stamp,
    table_stamp,
};

/// Hashes of tables by id.
pub type TableHashes = IndexMap<String, u32>;
/// Hashes of rows by table id and row id.
pub type RowHashes = IndexMap<String, IndexMap<String, u32>>;
/// Hashes of cells by table, row and cell id.
pub type CellHashes = IndexMap<String, IndexMap<String, IndexMap<String, u32>>>;
/// Hashes of values by id.
pub type ValueHashes = IndexMap<String, u32>;

/// A Store with stamps: see the [module documentation](self).
///
/// ```
/// use tinystore_core::{Cell, MergeableStore};
/// let store = MergeableStore::new(None);
/// // Every Store method works, through `Deref`.
/// store.set_cell("pets", "fido", "legs", 4);
/// assert_eq!(store.get_cell("pets", "fido", "legs"), Some(Cell::from(4)));
/// assert!(store.get_mergeable_table_hashes().contains_key("pets"));
/// ```
#[derive(Clone)]
pub struct MergeableStore {
    store: Store,
}

impl std::fmt::Debug for MergeableStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MergeableStore")
            .field("client_id", &self.client_id())
            .finish_non_exhaustive()
    }
}

impl Deref for MergeableStore {
    type Target = Store;
    fn deref(&self) -> &Store {
        &self.store
    }
}

/// TinyBase's `createMergeableStore(uniqueId?, getNow?)`.
///
/// ```
/// use tinystore_core::create_mergeable_store;
/// let store = create_mergeable_store(Some("client1"), Some(Box::new(|| 1_700_000_000_000)));
/// store.set_value("open", true);
/// assert_eq!(store.get_mergeable_content().values.thing["open"].hlc, "NjEtLV-----mmxrx");
/// ```
pub fn create_mergeable_store(unique_id: Option<&str>, get_now: Option<GetNow>) -> MergeableStore {
    MergeableStore::build(unique_id, get_now)
}

/// Parses an encoded payload straight into the stamp tree that merging consumes.
fn parse_tree(text: &str, has_hashes: bool, max_time: u64) -> Result<Payload, MergeableError> {
    // One pass over the text for well-formed payloads; anything the streaming decoder does not
    // take (every invalid payload among them) goes through the checked two-pass path, which
    // reports the error.
    if let Some(tree) = MergeableContent::tree_from_str(text, has_hashes, max_time) {
        return Ok(tree);
    }
    let json = crate::json::parse(text).map_err(|e| MergeableError::Json(e.to_string()))?;
    MergeableContent::tree_from_json(&json, has_hashes, max_time)
}

/// A leaf map's entries with their names and values.
fn leaf_entries(
    state: &State,
    m: &Mergeable,
    path: LeafRef<'_>,
    map: &tree::LeafMap<StoredLeaf>,
) -> Vec<(String, Option<Cell>, Hlc)> {
    let values = LeafValues::of(state, &m.tree.kept, path);
    map.leaves
        .iter()
        .map(|leaf| {
            let name = state.names.name(leaf.id).to_string();
            (name, values.get(leaf.id).cloned(), leaf.hlc.unpack())
        })
        .collect()
}

fn copy_accepted(changes: &AcceptedChanges) -> AcceptedChanges {
    AcceptedChanges {
        tables: changes
            .tables
            .iter()
            .map(|(t, rows)| {
                let rows = rows.iter().map(|(r, cells)| (r.clone(), cells.clone()));
                (t.clone(), rows.collect())
            })
            .collect(),
        values: changes.values.clone(),
    }
}

fn ordered<T>(map: &IndexMap<String, T>) -> Vec<(&String, &T)> {
    js_order(map.iter().collect())
}

/// Why a MergeableStore's hook is always its stamper: it is installed at construction and never
/// replaced.
const HAS_STAMPS: &str = "a MergeableStore always has stamps";

impl MergeableStore {
    /// A MergeableStore on the wall clock. `unique_id` fixes the HLC client id (stores created
    /// with the same unique id share it); `None` picks a random one.
    ///
    /// ```
    /// use tinystore_core::MergeableStore;
    /// assert_eq!(MergeableStore::new(Some("client1")).client_id(), "mmxrx");
    /// assert_ne!(MergeableStore::new(None).client_id(), MergeableStore::new(None).client_id());
    /// ```
    pub fn new(unique_id: Option<&str>) -> MergeableStore {
        Self::build(unique_id, None)
    }

    /// A MergeableStore reading time (ms since the epoch) from `get_now`, for deterministic
    /// tests and replays.
    ///
    /// ```
    /// use tinystore_core::MergeableStore;
    /// let store = MergeableStore::with_clock(Some("client1"), Box::new(|| 1_700_000_000_000));
    /// store.set_cell("pets", "fido", "species", "dog").set_value("open", true);
    /// assert_eq!(store.get_mergeable_content_hashes(), (3126691051, 3110897815));
    /// ```
    pub fn with_clock(unique_id: Option<&str>, get_now: GetNow) -> MergeableStore {
        Self::build(unique_id, Some(get_now))
    }

    fn build(unique_id: Option<&str>, get_now: Option<GetNow>) -> MergeableStore {
        let clock = HlcClock::new(unique_id, get_now);
        MergeableStore {
            store: Store::with_hook(Box::new(Mergeable::new(clock))),
        }
    }

    /// The MergeableStore behind a Store handle, if it is one.
    ///
    /// ```
    /// use tinystore_core::{MergeableStore, Store};
    /// let handle: Store = MergeableStore::new(None).store().clone();
    /// assert!(MergeableStore::from_store(&handle).is_some());
    /// assert!(MergeableStore::from_store(&Store::new()).is_none());
    /// ```
    pub fn from_store(store: &Store) -> Option<MergeableStore> {
        store
            .with_hook_ref(|_: &Mergeable, _| ())
            .map(|()| MergeableStore {
                store: store.clone(),
            })
    }

    /// The plain Store handle (shares the same data).
    ///
    /// ```
    /// use tinystore_core::{Cell, MergeableStore};
    /// let mergeable = MergeableStore::new(None);
    /// mergeable.store().set_value("open", true);
    /// assert_eq!(mergeable.get_value("open"), Some(Cell::from(true)));
    /// // Writes through the plain handle are stamped too.
    /// assert!(mergeable.get_mergeable_value_hashes().contains_key("open"));
    /// ```
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Runs `f` on the stamper and the store's data (whose interner resolves the tree's ids
    /// and whose cells and values are the stamps' values).
    fn with_m<R>(&self, f: impl FnOnce(&Mergeable, &State) -> R) -> R {
        self.store.with(|state| {
            let hook: &dyn std::any::Any = state.hook.as_deref().expect(HAS_STAMPS);
            f(hook.downcast_ref().expect(HAS_STAMPS), state)
        })
    }

    fn with_m_mut<R>(&self, f: impl FnOnce(&mut Mergeable, &mut Interner) -> R) -> R {
        self.store.with_hook_mut(f).expect(HAS_STAMPS)
    }

    /// The 5-character client id at the end of this store's HLCs.
    ///
    /// ```
    /// use tinystore_core::MergeableStore;
    /// let store = MergeableStore::new(Some("client1"));
    /// assert_eq!(store.client_id(), "mmxrx");
    /// store.set_value("open", true);
    /// assert!(store.get_mergeable_content().values.thing["open"].hlc.ends_with("mmxrx"));
    /// ```
    pub fn client_id(&self) -> String {
        self.with_m(|m, _| m.clock.client_id().to_string())
    }

    /// Latest HLC time a payload may carry: now + 5 minutes.
    fn max_time(&self) -> u64 {
        self.with_m(|m, _| m.clock.now())
            .saturating_add(MAX_FUTURE_OFFSET_MS)
    }

    // ------------------------------------------------------------------ content

    /// The full stamped content, hashes included (`getMergeableContent()`), with object and
    /// array cells in their encoded form.
    ///
    /// ```
    /// use tinystore_core::{Cell, MergeableStore};
    /// let store = MergeableStore::with_clock(Some("client1"), Box::new(|| 1_700_000_000_000));
    /// store.set_cell("pets", "fido", "species", "dog");
    /// let content = store.get_mergeable_content();
    /// let fido = &content.tables.thing["pets"].thing["fido"];
    /// assert_eq!(fido.hash, Some(1554302234));
    /// assert_eq!(fido.thing["species"].thing, Some(Cell::from("dog")));
    /// assert_eq!(fido.thing["species"].hash, Some(3368287843));
    /// ```
    pub fn get_mergeable_content(&self) -> MergeableContent {
        self.with_m(|m, state| m.content(state))
    }

    /// The full content as TinyBase's file persister writes it: encoded JSON with hashes and
    /// `"\u{FFFC}"` tombstones.
    ///
    /// ```
    /// use tinystore_core::MergeableStore;
    /// let store = MergeableStore::with_clock(Some("client1"), Box::new(|| 1_700_000_000_000));
    /// store.set_cell("pets", "fido", "species", "dog").set_value("open", true);
    /// assert_eq!(
    ///     store.get_mergeable_content_json(),
    ///     concat!(
    ///         r#"[[{"pets":[{"fido":[{"species":["dog","NjEtLV-----mmxrx",3368287843]},"",1554302234]},"",513138410]},"",3126691051],"#,
    ///         r#"[{"open":[true,"NjEtLV----0mmxrx",2843401470]},"",3110897815]]"#
    ///     )
    /// );
    /// ```
    pub fn get_mergeable_content_json(&self) -> String {
        self.with_m(|m, state| {
            let mut out = String::with_capacity(64);
            m.tree.write_json(state, &mut out, JsonForm::CONTENT);
            out
        })
    }

    /// Replaces everything, content and stamps, by `content` (`setMergeableContent`). Its
    /// hashes are trusted, not recomputed. An invalid payload changes nothing.
    ///
    /// ```
    /// use tinystore_core::{MergeableError, MergeableStore};
    /// let source = MergeableStore::new(None);
    /// source.set_cell("pets", "fido", "legs", 4);
    /// let replica = MergeableStore::new(None);
    /// replica.set_value("stale", true);
    /// replica.set_mergeable_content(&source.get_mergeable_content())?;
    /// assert_eq!(replica.get_content(), source.get_content());
    /// assert_eq!(replica.get_mergeable_content_hashes(), source.get_mergeable_content_hashes());
    ///
    /// let mut hashless = source.get_mergeable_content();
    /// hashless.tables.hash = None;
    /// assert!(matches!(replica.set_mergeable_content(&hashless), Err(MergeableError::Shape(_))));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_mergeable_content(
        &self,
        content: &MergeableContent,
    ) -> Result<&Self, MergeableError> {
        content.validate(true, self.max_time())?;
        self.apply_validated(content, true);
        Ok(self)
    }

    /// [`set_mergeable_content`](Self::set_mergeable_content) from the file-persister JSON.
    ///
    /// ```
    /// use tinystore_core::{Cell, MergeableStore};
    /// let saved = MergeableStore::new(None);
    /// saved.set_cell("pets", "fido", "legs", 4);
    /// let json = saved.get_mergeable_content_json();
    /// let loaded = MergeableStore::new(None);
    /// loaded.set_mergeable_content_json(&json)?;
    /// assert_eq!(loaded.get_cell("pets", "fido", "legs"), Some(Cell::from(4)));
    /// assert_eq!(loaded.get_mergeable_content_json(), json);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_mergeable_content_json(&self, json: &str) -> Result<&Self, MergeableError> {
        let tree = parse_tree(json, true, self.max_time())?;
        self.apply_tree(&tree, true);
        Ok(self)
    }

    /// Sets content whose stamps get the empty HLC, so that any real write, local or remote,
    /// wins over it (`setDefaultContent`).
    ///
    /// ```
    /// use tinystore_core::{Cell, MergeableStore, Tables, Values};
    /// let store = MergeableStore::new(None);
    /// let defaults = Values::from([("theme".to_string(), Cell::from("light"))]);
    /// store.set_default_content(&Tables::new(), &defaults);
    /// assert_eq!(store.get_mergeable_content().values.thing["theme"].hlc, "");
    /// // A real write wins, even one from a replica whose clock is far behind.
    /// let peer = MergeableStore::with_clock(None, Box::new(|| 1));
    /// peer.set_value("theme", "dark");
    /// store.merge(&peer);
    /// assert_eq!(store.get_value("theme"), Some(Cell::from("dark")));
    /// ```
    pub fn set_default_content(&self, tables: &Tables, values: &Values) -> &Self {
        let _lock = self.store.lock();
        let set = |on: bool| self.with_m_mut(|m, _| m.defaulting_content = on);
        self.store.transaction(|store| {
            set(true);
            store.set_content(tables, values);
            set(false);
        });
        self
    }

    /// The stamps of the cells and values changed in the current transaction
    /// (`getTransactionMergeableChanges(withHashes)`); empty outside a transaction.
    ///
    /// ```
    /// use tinystore_core::MergeableStore;
    /// use tinystore_core::mergeable::JsonForm;
    /// let store = MergeableStore::with_clock(Some("client1"), Box::new(|| 1_700_000_000_000));
    /// store.set_value("unchanged", 1);
    /// let changes = store.transaction(|_| {
    ///     store.set_value("open", true);
    ///     store.get_transaction_mergeable_changes(false)
    /// });
    /// assert_eq!(
    ///     changes.to_json_string(JsonForm::CHANGES),
    ///     r#"[[{}],[{"open":[true,"NjEtLV----0mmxrx"]}],1]"#
    /// );
    /// assert!(store.get_transaction_mergeable_changes(false).is_empty());
    /// ```
    pub fn get_transaction_mergeable_changes(&self, with_hashes: bool) -> MergeableChanges {
        self.with_m(|m, state| m.transaction_changes(state, with_hashes))
    }

    /// Merges changes (or full content) from another replica (`applyMergeableChanges`): each
    /// leaf wins iff its HLC is later than the local one. The whole payload is checked first
    /// and rejected, changing nothing, if any stamp is malformed or dated more than five
    /// minutes ahead of this store's clock.
    ///
    /// ```
    /// use tinystore_core::{Cell, MergeableStore};
    /// let earlier = MergeableStore::with_clock(None, Box::new(|| 1_000));
    /// let later = MergeableStore::with_clock(None, Box::new(|| 2_000));
    /// later.set_value("color", "blue");
    /// earlier.set_value("color", "red");
    /// // The later HLC wins, whichever order the changes arrive in.
    /// earlier.apply_mergeable_changes(&later.get_mergeable_content())?;
    /// later.apply_mergeable_changes(&earlier.get_mergeable_content())?;
    /// assert_eq!(earlier.get_value("color"), Some(Cell::from("blue")));
    /// assert_eq!(later.get_value("color"), Some(Cell::from("blue")));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply_mergeable_changes(
        &self,
        changes: &MergeableChanges,
    ) -> Result<&Self, MergeableError> {
        changes.validate(false, self.max_time())?;
        self.apply_validated(changes, false);
        Ok(self)
    }

    /// [`apply_mergeable_changes`](Self::apply_mergeable_changes) from TinyBase's encoded JSON
    /// (as synchronizers carry it).
    ///
    /// ```
    /// use tinystore_core::{Cell, MergeableStore};
    /// let store = MergeableStore::with_clock(None, Box::new(|| 1_700_000_000_000));
    /// let message = "[[{\"pets\":[{\"fido\":[{\"toys\":[\"\u{FFFD}[1]\",\"NjEtLV-----mmxrx\"]}]}]}],[{}],1]";
    /// store.apply_mergeable_changes_json(message)?;
    /// assert_eq!(store.get_cell("pets", "fido", "toys"), Some(Cell::Array("[1]".into())));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply_mergeable_changes_json(&self, json: &str) -> Result<&Self, MergeableError> {
        let tree = parse_tree(json, false, self.max_time())?;
        self.apply_tree(&tree, false);
        Ok(self)
    }

    /// [`apply_mergeable_changes`](Self::apply_mergeable_changes) from already parsed JSON in
    /// TinyBase's encoded form.
    ///
    /// ```
    /// use serde_json::json;
    /// use tinystore_core::{Cell, MergeableStore};
    /// let store = MergeableStore::with_clock(None, Box::new(|| 1_700_000_000_000));
    /// store.set_value("open", true);
    /// // A deletion dated later than the local write.
    /// let changes = json!([[{}], [{"open": ["\u{FFFC}", "NjEtLW-----mmxrx"]}], 1]);
    /// store.apply_mergeable_changes_value(&changes)?;
    /// assert_eq!(store.get_value("open"), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply_mergeable_changes_value(
        &self,
        json: &serde_json::Value,
    ) -> Result<&Self, MergeableError> {
        let tree = MergeableContent::tree_from_json(json, false, self.max_time())?;
        self.apply_tree(&tree, false);
        Ok(self)
    }

    fn set_listening(&self, on: bool) {
        self.with_m_mut(|m, _| m.listening = on);
    }

    /// Merges a validated payload: stamps first, then the implied store changes in one
    /// transaction, without stamping those changes again. Mutator listeners run when the
    /// transaction finishes, after stamping is back on, so their writes are stamped (as
    /// TinyBase stamps writes made while `mutating`).
    fn apply_validated(&self, incoming: &MergeableContent, is_content: bool) {
        self.apply_tree(&Payload::from_content(incoming), is_content);
    }

    fn apply_tree(&self, incoming: &Payload<impl tree::NameTable>, is_content: bool) {
        let _lock = self.store.lock();
        if !self.store.begin() {
            return;
        }
        self.set_listening(false);
        if is_content {
            self.store.del_tables();
            self.store.del_values();
        }
        let changes = self.with_m_mut(|m, names| {
            if is_content {
                m.clear();
            }
            m.merge(names, incoming, is_content)
        });
        // The stamps hold the accepted values, which the store takes as they are unless a
        // schema (or a cell it refuses) changes them: then the merge checks its leaves after.
        let may_differ = self
            .store
            .with(|s| s.tables_schema.is_some() || s.values_schema.is_some())
            || changes
                .tables
                .iter()
                .flat_map(|(_, rows)| rows.iter().flat_map(|(_, cells)| cells.iter()))
                .chain(changes.values.iter())
                .any(|(_, cell)| cell.as_ref().is_some_and(|cell| !cell.is_valid()));
        if may_differ {
            let accepted = copy_accepted(&changes);
            self.with_m_mut(|m, _| m.keep_silent = true);
            self.store.apply_accepted(changes);
            self.store.with_mut(|s| {
                // The stamper is the store's hook, beside (not inside) the data it reconciles.
                let hook: &mut dyn std::any::Any = s.hook.as_deref_mut().expect(HAS_STAMPS);
                let m: &mut Mergeable = hook.downcast_mut().expect(HAS_STAMPS);
                m.keep_silent = false;
                m.reconcile(&accepted, &s.names, &s.tables, &s.values);
            });
        } else {
            self.store.apply_accepted(changes);
        }
        self.set_listening(true);
        self.set_applying(true);
        self.store.finish(None);
        self.set_applying(false);
    }

    fn set_applying(&self, on: bool) {
        self.with_m_mut(|m, _| m.applying = on);
    }

    /// The stamps of one row's cells, tombstones (`None`: deleted) included, in the order the
    /// cells were first stamped; empty for a row never written. Reads that row's stamps only,
    /// so a page of a large table costs its own size, not the table's (the inspector's reads).
    ///
    /// ```
    /// use tinystore_core::{Cell, MergeableStore};
    /// let store = MergeableStore::with_clock(Some("client1"), Box::new(|| 1_700_000_000_000));
    /// store.set_cell("pets", "fido", "species", "dog").set_cell("pets", "fido", "legs", 4);
    /// store.del_cell("pets", "fido", "legs", false);
    /// let stamps = store.get_row_stamps("pets", "fido");
    /// assert_eq!(stamps[0].0, "species");
    /// assert_eq!(stamps[0].1, Some(Cell::from("dog")));
    /// assert_eq!(stamps[0].2.as_str(), "NjEtLV-----mmxrx");
    /// assert_eq!(stamps[1].1, None); // "legs" was deleted: a tombstone
    /// assert!(store.get_row_stamps("pets", "tom").is_empty());
    /// ```
    pub fn get_row_stamps(&self, table_id: &str, row_id: &str) -> Vec<(String, Option<Cell>, Hlc)> {
        self.with_m(|m, state| {
            m.tree
                .tables
                .get(table_id)
                .and_then(|t| t.rows.get(row_id))
                .map_or_else(Vec::new, |row| {
                    leaf_entries(state, m, LeafRef::Row(table_id, row_id), row)
                })
        })
    }

    /// The stamps of the values, tombstones (`None`) included, in first-stamp order.
    ///
    /// ```
    /// use tinystore_core::{Cell, MergeableStore};
    /// let store = MergeableStore::with_clock(Some("client1"), Box::new(|| 1_700_000_000_000));
    /// store.set_value("open", true);
    /// let stamps = store.get_value_stamps();
    /// assert_eq!(stamps.len(), 1);
    /// assert_eq!((stamps[0].0.as_str(), &stamps[0].1), ("open", &Some(Cell::from(true))));
    /// assert_eq!(stamps[0].2.as_str(), "NjEtLV-----mmxrx");
    /// ```
    pub fn get_value_stamps(&self) -> Vec<(String, Option<Cell>, Hlc)> {
        self.with_m(|m, state| leaf_entries(state, m, LeafRef::Values, &m.tree.values))
    }

    /// One cell's stamp: `Some((value, hlc))` once the cell was ever written (`value: None` for
    /// a tombstone), `None` if never.
    ///
    /// ```
    /// use tinystore_core::{Cell, MergeableStore};
    /// let store = MergeableStore::with_clock(Some("client1"), Box::new(|| 1_700_000_000_000));
    /// store.set_cell("pets", "fido", "legs", 4);
    /// let (value, hlc) = store.get_cell_stamp("pets", "fido", "legs").unwrap();
    /// assert_eq!((value, hlc.as_str()), (Some(Cell::from(4)), "NjEtLV-----mmxrx"));
    /// assert!(store.get_cell_stamp("pets", "fido", "color").is_none());
    /// ```
    pub fn get_cell_stamp(
        &self,
        table_id: &str,
        row_id: &str,
        cell_id: &str,
    ) -> Option<(Option<Cell>, Hlc)> {
        self.with_m(|m, state| {
            let id = state.names.get(cell_id)?;
            let leaf = m.tree.tables.get(table_id)?.rows.get(row_id)?.get(id)?;
            let values = LeafValues::of(state, &m.tree.kept, LeafRef::Row(table_id, row_id));
            Some((values.get(id).cloned(), leaf.hlc.unpack()))
        })
    }

    /// Whether a mutator listener wrote while incoming changes were being applied since the
    /// last call (TinyBase's `hadMutated`); resets the flag. A synchronizer announces its
    /// hashes afterwards, so peers fetch what the listener wrote.
    ///
    /// ```
    /// use tinystore_core::MergeableStore;
    /// let store = MergeableStore::with_clock(None, Box::new(|| 1_000));
    /// store.add_value_listener(Some("count"), |store, _, new, _| {
    ///     let count = new.and_then(|cell| cell.as_f64()).unwrap_or(0.0);
    ///     store.set_value("double", count * 2.0);
    /// }, true);
    /// store.set_value("count", 1);
    /// // A local write is not a mutation of incoming changes.
    /// assert!(!store.had_mutated());
    ///
    /// let peer = MergeableStore::with_clock(None, Box::new(|| 2_000));
    /// peer.set_value("count", 2);
    /// store.apply_mergeable_changes(&peer.get_mergeable_content())?;
    /// assert!(store.had_mutated());
    /// assert!(!store.had_mutated());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn had_mutated(&self) -> bool {
        self.with_m_mut(|m, _| std::mem::take(&mut m.mutated))
    }

    /// Merges both ways with `other` (`merge`): each store takes the other's content as it
    /// was before the call. Returns `self`.
    ///
    /// ```
    /// use tinystore_core::{Cell, MergeableStore};
    /// let a = MergeableStore::with_clock(None, Box::new(|| 1_000));
    /// let b = MergeableStore::with_clock(None, Box::new(|| 2_000));
    /// a.set_value("color", "red").set_value("size", 1);
    /// b.set_value("color", "blue");
    /// a.merge(&b);
    /// assert_eq!(a.get_values(), b.get_values());
    /// assert_eq!(a.get_value("color"), Some(Cell::from("blue")));
    /// assert_eq!(b.get_value("size"), Some(Cell::from(1)));
    /// ```
    pub fn merge(&self, other: &MergeableStore) -> &Self {
        // Each side's stamp tree is copied under its own lock (never both locks at once), and
        // merged straight in: content taken from a store is valid by construction, so only an
        // HLC too far in the future of the receiver's clock can refuse it, and then (as in
        // TinyBase) that direction of the merge is skipped as a whole.
        let copy = |store: &MergeableStore| {
            store.with_m(|m, state| Payload {
                names: (0..state.names.len() as u32)
                    .map(|id| state.names.name(id).clone())
                    .collect::<Vec<Text>>(),
                tree: m.tree.with_values(state),
            })
        };
        let mine = copy(self);
        let theirs = copy(other);
        // A listener of `other` that panics (resumed once its transaction is finished) must
        // not leave this side unmerged: its panic is resumed after both directions.
        let first = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            if mine.tree.max_time() <= other.max_time() {
                other.apply_tree(&mine, false);
            }
        }));
        if theirs.tree.max_time() <= self.max_time() {
            self.apply_tree(&theirs, false);
        }
        if let Err(panic) = first {
            std::panic::resume_unwind(panic);
        }
        self
    }

    // ------------------------------------------------------------------ hashes and diffs

    /// `[tablesHash, valuesHash]`.
    ///
    /// ```
    /// use tinystore_core::MergeableStore;
    /// let store = MergeableStore::with_clock(Some("client1"), Box::new(|| 1_700_000_000_000));
    /// assert_eq!(store.get_mergeable_content_hashes(), (0, 0));
    /// store.set_cell("pets", "fido", "species", "dog");
    /// assert_eq!(store.get_mergeable_content_hashes(), (3126691051, 0));
    /// ```
    pub fn get_mergeable_content_hashes(&self) -> (u32, u32) {
        self.with_m(|m, _| (m.tree.tables_hash, m.tree.values.hash))
    }

    /// `{tableId: tableHash}` for every table with stamps (tombstone-only ones included).
    ///
    /// ```
    /// use tinystore_core::MergeableStore;
    /// let store = MergeableStore::with_clock(Some("client1"), Box::new(|| 1_700_000_000_000));
    /// store.set_cell("pets", "fido", "species", "dog");
    /// assert_eq!(store.get_mergeable_table_hashes()["pets"], 513138410);
    /// store.del_cell("pets", "fido", "species", false);
    /// assert!(!store.has_table("pets"));
    /// assert!(store.get_mergeable_table_hashes().contains_key("pets"));
    /// ```
    pub fn get_mergeable_table_hashes(&self) -> TableHashes {
        self.with_m(|m, _| {
            m.tree
                .tables
                .iter()
                .map(|(t, table)| (t.to_string(), table.hash))
                .collect()
        })
    }

    /// `[newTables, differingTableHashes]`: tables the other side lacks, in full (hash-less),
    /// and this side's hash of tables both have but hash differently.
    ///
    /// ```
    /// use tinystore_core::MergeableStore;
    /// let (a, b) = (MergeableStore::new(None), MergeableStore::new(None));
    /// a.set_cell("pets", "fido", "legs", 4);
    /// b.merge(&a);
    /// a.set_cell("pets", "fido", "legs", 3).set_cell("toys", "ball", "color", "red");
    /// let (new_tables, differing) = a.get_mergeable_table_diff(&b.get_mergeable_table_hashes());
    /// assert_eq!(new_tables.thing.keys().collect::<Vec<_>>(), ["toys"]);
    /// assert_eq!(differing["pets"], a.get_mergeable_table_hashes()["pets"]);
    /// ```
    pub fn get_mergeable_table_diff(&self, other: &TableHashes) -> (TablesStamp, TableHashes) {
        self.with_m(|m, state| {
            let tree = &m.tree;
            let mut new_tables = empty_tables_stamp(tree);
            let mut differing = IndexMap::new();
            for (t, table) in tree.tables.iter() {
                match other.get(t.as_str()) {
                    Some(h) if *h != table.hash => {
                        differing.insert(t.to_string(), table.hash);
                    }
                    Some(_) => {}
                    None => {
                        new_tables.thing.insert(
                            t.to_string(),
                            table_stamp(state, &tree.kept, t, table, false),
                        );
                    }
                }
            }
            (new_tables, differing)
        })
    }

    /// `{t: {r: rowHash}}` for every local table whose hash differs from the given one.
    ///
    /// ```
    /// use tinystore_core::MergeableStore;
    /// let (a, b) = (MergeableStore::new(None), MergeableStore::new(None));
    /// a.set_cell("pets", "fido", "legs", 4).set_cell("toys", "ball", "color", "red");
    /// b.merge(&a);
    /// a.set_cell("pets", "rex", "legs", 3);
    /// // Only `pets` differs: `b` sends its row hashes of that table.
    /// let rows = b.get_mergeable_row_hashes(&a.get_mergeable_table_hashes());
    /// assert_eq!(rows.keys().collect::<Vec<_>>(), ["pets"]);
    /// assert_eq!(rows["pets"].keys().collect::<Vec<_>>(), ["fido"]);
    /// ```
    pub fn get_mergeable_row_hashes(&self, other: &TableHashes) -> RowHashes {
        self.with_m(|m, _| {
            let mut out = RowHashes::new();
            for (t, other_hash) in ordered(other) {
                if let Some(table) = m.tree.tables.get(t.as_str())
                    && table.hash != *other_hash
                {
                    let rows = out.entry(t.clone()).or_default();
                    for (r, row) in table.rows.iter() {
                        rows.insert(r.to_string(), row.hash);
                    }
                }
            }
            out
        })
    }

    /// `[newRows, differingRowHashes]` for the tables in `other`.
    ///
    /// ```
    /// use tinystore_core::MergeableStore;
    /// let (a, b) = (MergeableStore::new(None), MergeableStore::new(None));
    /// a.set_cell("pets", "fido", "legs", 4);
    /// b.merge(&a);
    /// a.set_cell("pets", "rex", "legs", 3).set_cell("pets", "fido", "color", "brown");
    /// let (new_rows, differing) =
    ///     a.get_mergeable_row_diff(&b.get_mergeable_row_hashes(&a.get_mergeable_table_hashes()));
    /// assert_eq!(new_rows.thing["pets"].thing.keys().collect::<Vec<_>>(), ["rex"]);
    /// assert_eq!(differing["pets"].keys().collect::<Vec<_>>(), ["fido"]);
    /// ```
    pub fn get_mergeable_row_diff(&self, other: &RowHashes) -> (TablesStamp, RowHashes) {
        self.with_m(|m, state| {
            let tree = &m.tree;
            let mut new_rows = empty_tables_stamp(tree);
            let mut differing = RowHashes::new();
            for (t, other_rows) in ordered(other) {
                let Some(table) = tree.tables.get(t.as_str()) else {
                    continue;
                };
                for (r, row) in table.rows.iter() {
                    match other_rows.get(r.as_str()) {
                        Some(h) if *h != row.hash => {
                            differing
                                .entry(t.clone())
                                .or_default()
                                .insert(r.to_string(), row.hash);
                        }
                        Some(_) => {}
                        None => {
                            new_rows
                                .thing
                                .entry(t.clone())
                                .or_insert_with(|| Stamp {
                                    thing: IndexMap::new(),
                                    hlc: String::new(),
                                    hash: None,
                                })
                                .thing
                                .insert(
                                    r.to_string(),
                                    row_stamp(state, &tree.kept, t, r, row, false),
                                );
                        }
                    }
                }
            }
            (new_rows, differing)
        })
    }

    /// `{t: {r: {c: cellHash}}}` for the local rows whose hash differs from the given one.
    ///
    /// ```
    /// use tinystore_core::MergeableStore;
    /// let (a, b) = (MergeableStore::new(None), MergeableStore::new(None));
    /// a.set_cell("pets", "fido", "legs", 4);
    /// b.merge(&a);
    /// a.set_cell("pets", "fido", "color", "brown");
    /// let b_rows = b.get_mergeable_row_hashes(&a.get_mergeable_table_hashes());
    /// let (_, differing) = a.get_mergeable_row_diff(&b_rows);
    /// let b_cells = b.get_mergeable_cell_hashes(&differing);
    /// assert_eq!(b_cells["pets"]["fido"].keys().collect::<Vec<_>>(), ["legs"]);
    /// ```
    pub fn get_mergeable_cell_hashes(&self, other: &RowHashes) -> CellHashes {
        self.with_m(|m, state| {
            let names = &state.names;
            let tree = &m.tree;
            let mut out = CellHashes::new();
            for (t, other_rows) in ordered(other) {
                let Some(table) = tree.tables.get(t.as_str()) else {
                    continue;
                };
                for (r, other_hash) in ordered(other_rows) {
                    if let Some(row) = table.rows.get(r.as_str())
                        && row.hash != *other_hash
                    {
                        let cells = out
                            .entry(t.clone())
                            .or_default()
                            .entry(r.clone())
                            .or_default();
                        for leaf in &row.leaves {
                            cells.insert(names.name(leaf.id).to_string(), leaf.hash);
                        }
                    }
                }
            }
            out
        })
    }

    /// Every local cell, in the rows named in `other`, whose hash differs from (or is missing
    /// in) the given hashes, as a hash-less tables stamp.
    ///
    /// ```
    /// use tinystore_core::MergeableStore;
    /// use tinystore_core::mergeable::MergeableChanges;
    /// let (a, b) = (MergeableStore::new(None), MergeableStore::new(None));
    /// a.set_cell("pets", "fido", "legs", 4);
    /// b.merge(&a);
    /// a.set_cell("pets", "fido", "color", "brown");
    /// # let b_rows = b.get_mergeable_row_hashes(&a.get_mergeable_table_hashes());
    /// # let (_, differing) = a.get_mergeable_row_diff(&b_rows);
    /// let b_cells = b.get_mergeable_cell_hashes(&differing);
    /// let missing = a.get_mergeable_cell_diff(&b_cells);
    /// assert_eq!(missing.thing["pets"].thing["fido"].thing.keys().collect::<Vec<_>>(), ["color"]);
    /// b.apply_mergeable_changes(&MergeableChanges { tables: missing, ..Default::default() })?;
    /// assert_eq!(b.get_mergeable_content_hashes(), a.get_mergeable_content_hashes());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_mergeable_cell_diff(&self, other: &CellHashes) -> TablesStamp {
        self.with_m(|m, state| {
            let names = &state.names;
            let tree = &m.tree;
            let mut out = empty_tables_stamp(tree);
            for (t, other_rows) in ordered(other) {
                for (r, other_cells) in ordered(other_rows) {
                    let Some(table) = tree.tables.get(t.as_str()) else {
                        continue;
                    };
                    let Some(row) = table.rows.get(r.as_str()) else {
                        continue;
                    };
                    let values = LeafValues::of(state, &tree.kept, LeafRef::Row(t, r));
                    for leaf in &row.leaves {
                        let name = names.name(leaf.id);
                        if other_cells.get(name.as_str()).copied() == Some(leaf.hash) {
                            continue;
                        }
                        out.thing
                            .entry(t.clone())
                            .or_insert_with(|| Stamp {
                                thing: IndexMap::new(),
                                hlc: table.hlc.to_string(),
                                hash: None,
                            })
                            .thing
                            .entry(r.clone())
                            .or_insert_with(|| Stamp {
                                thing: IndexMap::new(),
                                hlc: row.hlc.to_string(),
                                hash: None,
                            })
                            .thing
                            .insert(
                                name.to_string(),
                                leaf_stamp(leaf, values.get(leaf.id), false),
                            );
                    }
                }
            }
            out
        })
    }

    /// `{valueId: valueHash}`.
    ///
    /// ```
    /// use tinystore_core::MergeableStore;
    /// let store = MergeableStore::with_clock(Some("client1"), Box::new(|| 1_700_000_000_000));
    /// store.set_cell("pets", "fido", "species", "dog").set_value("open", true);
    /// assert_eq!(store.get_mergeable_value_hashes()["open"], 2843401470);
    /// ```
    pub fn get_mergeable_value_hashes(&self) -> ValueHashes {
        self.with_m(|m, state| {
            let names = &state.names;
            m.tree
                .values
                .leaves
                .iter()
                .map(|leaf| (names.name(leaf.id).to_string(), leaf.hash))
                .collect()
        })
    }

    /// The values whose hash differs from (or is missing in) the given hashes.
    ///
    /// ```
    /// use tinystore_core::{Cell, MergeableStore};
    /// let (a, b) = (MergeableStore::new(None), MergeableStore::new(None));
    /// a.set_value("open", true).set_value("rating", 5);
    /// b.merge(&a);
    /// a.set_value("rating", 4);
    /// let diff = a.get_mergeable_value_diff(&b.get_mergeable_value_hashes());
    /// assert_eq!(diff.thing.keys().collect::<Vec<_>>(), ["rating"]);
    /// assert_eq!(diff.thing["rating"].thing, Some(Cell::from(4)));
    /// ```
    pub fn get_mergeable_value_diff(&self, other: &ValueHashes) -> ValuesStamp {
        self.with_m(|m, state| {
            let names = &state.names;
            let tree = &m.tree;
            let values = LeafValues::of(state, &tree.kept, LeafRef::Values);
            let mut out = Stamp {
                thing: IndexMap::new(),
                hlc: tree.values.hlc.to_string(),
                hash: None,
            };
            for leaf in &tree.values.leaves {
                let name = names.name(leaf.id);
                if other.get(name.as_str()).copied() != Some(leaf.hash) {
                    let stamp = leaf_stamp(leaf, values.get(leaf.id), false);
                    out.thing.insert(name.to_string(), stamp);
                }
            }
            out
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock(at: u64) -> GetNow {
        Box::new(move || at)
    }

    /// The stamps TinyBase would hold: the incoming value, whatever the schema made of it in
    /// the store.
    #[test]
    fn stamps_keep_remote_values_a_schema_changed() {
        let a = MergeableStore::with_clock(Some("a"), clock(1_000));
        a.set_value("limit", "high")
            .set_cell("pets", "fido", "legs", "four")
            .set_cell("pets", "fido", "name", "Fido");
        let b = MergeableStore::with_clock(Some("b"), clock(2_000));
        b.set_values_schema_json(r#"{"limit": {"type": "number", "default": 10}}"#)
            .unwrap();
        b.set_tables_schema_json(
            r#"{"pets": {"legs": {"type": "number", "default": 4}, "name": {"type": "string"}}}"#,
        )
        .unwrap();
        b.apply_mergeable_changes(&a.get_mergeable_content())
            .unwrap();
        assert_eq!(b.get_value("limit"), Some(Cell::from(10)));
        assert_eq!(b.get_cell("pets", "fido", "legs"), Some(Cell::from(4)));
        let content = b.get_mergeable_content();
        assert_eq!(
            content.values.thing["limit"].thing,
            Some(Cell::from("high"))
        );
        let fido = &content.tables.thing["pets"].thing["fido"].thing;
        assert_eq!(fido["legs"].thing, Some(Cell::from("four")));
        assert_eq!(fido["name"].thing, Some(Cell::from("Fido")));
        assert_eq!(
            b.get_cell_stamp("pets", "fido", "legs").unwrap().0,
            Some(Cell::from("four"))
        );
        assert_eq!(b.get_value_stamps()[0].1, Some(Cell::from("high")));
        // Both forms agree, and a third store merging from `b` gets the stamped values.
        let json = b.get_mergeable_content_json();
        assert!(json.contains(r#""legs":["four""#), "{json}");
        let c = MergeableStore::with_clock(Some("c"), clock(3_000));
        c.merge(&b);
        assert_eq!(c.get_cell("pets", "fido", "legs"), Some(Cell::from("four")));
        assert_eq!(c.get_mergeable_content(), b.get_mergeable_content());
        // A local write puts the store's value back into the stamp.
        b.set_cell("pets", "fido", "legs", 3);
        assert_eq!(
            b.get_cell_stamp("pets", "fido", "legs").unwrap().0,
            Some(Cell::from(3))
        );
    }

    #[test]
    fn a_default_filled_over_a_tombstone_leaves_the_tombstone() {
        let s = MergeableStore::with_clock(Some("s"), clock(1_000));
        s.set_cell("pets", "fido", "legs", 3)
            .del_cell("pets", "fido", "legs", false);
        let peer = MergeableStore::with_clock(Some("p"), clock(2_000));
        peer.set_cell("pets", "fido", "name", "Fido");
        s.set_tables_schema_json(
            r#"{"pets": {"legs": {"type": "number", "default": 4}, "name": {"type": "string"}}}"#,
        )
        .unwrap();
        // The merge creates the row; the schema fills `legs` in, unstamped.
        s.apply_mergeable_changes(&peer.get_mergeable_content())
            .unwrap();
        assert_eq!(s.get_cell("pets", "fido", "legs"), Some(Cell::from(4)));
        let (value, hlc) = s.get_cell_stamp("pets", "fido", "legs").unwrap();
        assert_eq!(value, None);
        assert!(!hlc.is_empty());
    }

    #[test]
    fn default_content_losing_to_a_stamp_keeps_the_stamped_value() {
        let s = MergeableStore::with_clock(Some("s"), clock(1_000));
        s.set_value("theme", "dark");
        s.set_default_content(
            &Tables::new(),
            &Values::from([("theme".to_string(), Cell::from("light"))]),
        );
        assert_eq!(s.get_value("theme"), Some(Cell::from("light")));
        assert_eq!(s.get_value_stamps()[0].1, Some(Cell::from("dark")));
        // Rolled back, a local write over the kept value leaves it as it was.
        s.transaction_with_rollback(
            |store| {
                store.set_value("theme", "blue");
            },
            |_| true,
        );
        assert_eq!(s.get_value("theme"), Some(Cell::from("light")));
        assert_eq!(s.get_value_stamps()[0].1, Some(Cell::from("dark")));
        s.set_value("theme", "blue");
        assert_eq!(s.get_value_stamps()[0].1, Some(Cell::from("blue")));
        s.del_value("theme");
        assert_eq!(s.get_value_stamps()[0].1, None);
    }

    #[test]
    fn a_rolled_back_merge_restores_kept_values() {
        let a = MergeableStore::with_clock(Some("a"), clock(1_000));
        a.set_value("limit", "high");
        let b = MergeableStore::with_clock(Some("b"), clock(2_000));
        b.set_values_schema_json(r#"{"limit": {"type": "number", "default": 10}}"#)
            .unwrap();
        let before = b.get_mergeable_content_json();
        b.transaction_with_rollback(
            |_| {
                b.apply_mergeable_changes(&a.get_mergeable_content())
                    .unwrap();
            },
            |_| true,
        );
        assert_eq!(b.get_mergeable_content_json(), before);
        b.apply_mergeable_changes(&a.get_mergeable_content())
            .unwrap();
        assert_eq!(b.get_value_stamps()[0].1, Some(Cell::from("high")));
    }
}
