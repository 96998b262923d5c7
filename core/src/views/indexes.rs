//! `Indexes` (TinyBase's `createIndexes`, spec store.md §5): rows of a table grouped into
//! slices by a cell or a function, optionally sorted within each slice, kept up to date row by
//! row.

use std::cmp::Ordering;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::Arc;

use crate::ordmap::OrdMap;
use crate::store::{ListenerId, Store, js_sort};
use crate::types::{Cell, Text};

use super::rows::{Panic, RowCache, evaluate, fire};
use super::slice::{Key, Slice};
use super::view::{Definition, Defs, Evaluate, ViewCore, definable_handle};
use super::{Source, default_row_sorter_less, slice_id_of_cell};

/// Orders two slice ids (`Less`: the first goes first). Default: insertion order.
pub type SliceIdSorter = Arc<dyn Fn(&str, &str) -> Ordering + Send + Sync>;

/// Orders two rows of a slice by their sort keys: `(key1, key2, slice_id)`. Default:
/// JavaScript's `<` with a missing key as 0 (TinyBase's `defaultSorter`).
pub type RowIdSorter = Arc<dyn Fn(Option<&Cell>, Option<&Cell>, &str) -> Ordering + Send + Sync>;

/// Listener counts of an [`Indexes`] (the fields of TinyBase's `getListenerStats`).
///
/// ```
/// use tinystore_core::Store;
/// use tinystore_core::views::{Indexes, IndexesListenerStats};
/// let indexes = Indexes::new(&Store::new());
/// indexes.add_slice_ids_listener(None, |_, _| {});
/// let stats = indexes.get_listener_stats();
/// assert_eq!(stats, IndexesListenerStats { slice_ids: 1, slice_row_ids: 0 });
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IndexesListenerStats {
    /// Slice-ids listeners.
    pub slice_ids: usize,
    /// Slice-row-ids listeners.
    pub slice_row_ids: usize,
}

const INDEX_IDS: u8 = 0;
const HAS_INDEX: u8 = 1;
const SLICE_IDS: u8 = 2;
const HAS_SLICE: u8 = 3;
const SLICE_ROW_IDS: u8 = 4;

type IdsFn = Box<dyn FnMut(&Indexes) + Send>;
type HasIndexFn = Box<dyn FnMut(&Indexes, &str, bool) + Send>;
type SliceIdsFn = Box<dyn FnMut(&Indexes, &str) + Send>;
type HasSliceFn = Box<dyn FnMut(&Indexes, &str, &str, bool) + Send>;
type SliceRowIdsFn = Box<dyn FnMut(&Indexes, &str, &str) + Send>;

enum Callback {
    Ids(IdsFn),
    HasIndex(HasIndexFn),
    SliceIds(SliceIdsFn),
    HasSlice(HasSliceFn),
    SliceRowIds(SliceRowIdsFn),
}

/// A listener call to make once the view's lock is released.
enum Event {
    IndexIds,
    HasIndex(Text, bool),
    SliceIds(Text),
    HasSlice(Text, Text, bool),
    SliceRowIds(Text, Text),
}

type Slices = OrdMap<Text, Slice>;

struct IndexDef {
    slice_source: Option<Source<Vec<String>>>,
    sort_source: Option<Source<Option<Cell>>>,
    slice_sorter: Option<SliceIdSorter>,
    row_sorter: Option<RowIdSorter>,
    /// The row evaluator, shared with the store's row listener (no copy per changed row).
    eval: Arc<IndexEval>,
    rows: RowCache<Vec<Text>>,
    slices: Slices,
    /// A sorter panicked: the next update re-sorts every slice.
    stale: bool,
}

/// Evaluates a row's slice ids and sort key.
struct IndexEval {
    table_id: Text,
    slice: Option<Source<Vec<String>>>,
    sort: Option<Source<Option<Cell>>>,
}

impl Evaluate for Arc<IndexEval> {
    type Row = (Option<Vec<Text>>, Option<Option<Cell>>);

    fn evaluate(&self, store: &Store, row_id: &str) -> Self::Row {
        compute(
            store,
            &self.table_id,
            self.slice.as_ref(),
            self.sort.as_ref(),
            row_id,
        )
    }
}

impl Definition for IndexDef {
    type Eval = Arc<IndexEval>;
    type Event = Event;
    type Extra = ();

    fn evaluator(&self, table_id: &Text) -> Arc<IndexEval> {
        if self.eval.table_id == *table_id {
            return self.eval.clone();
        }
        Arc::new(IndexEval {
            table_id: table_id.clone(),
            slice: self.slice_source.clone(),
            sort: self.sort_source.clone(),
        })
    }

    fn known_rows(&self) -> Vec<String> {
        self.rows.row_ids()
    }

    fn adopt(&mut self, old: IndexDef) {
        self.rows = old.rows;
        // The slices keep their order; a redefinition that adds or drops the sort key changes
        // how they are kept (the re-sort that follows puts them in the new order).
        let sorted = self.sort_source.is_some();
        let keys = &self.rows.sort_keys;
        self.slices = OrdMap::with_capacity(old.slices.len());
        for (id, slice) in old.slices.into_pairs() {
            let slice = slice.converted(sorted, |row| Key::of(keys.get(row)));
            self.slices.insert(id, slice);
        }
        self.stale = old.stale;
    }

    fn record(&mut self, row_id: &str, (value, key): (Option<Vec<Text>>, Option<Option<Cell>>)) {
        self.rows.record(row_id, value, key);
    }

    fn on_changed(&mut self, id: &str, force: bool, _: &()) -> (Vec<Event>, Option<Panic>) {
        let force = force || std::mem::take(&mut self.stale);
        on_changed(self, id, force)
    }
}

definable_handle! {
    /// Slices of the rows of tables, kept up to date as the store changes (TinyBase's `Indexes`).
    ///
    /// A cheap-to-clone handle; clones share one state. Listeners fire after the store's
    /// transaction, from the store's table listener of the index's table.
    ///
    /// ```
    /// use tinystore_core::Store;
    /// use tinystore_core::views::{Indexes, Source};
    ///
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "species", "dog").set_cell("pets", "felix", "species", "cat");
    /// let indexes = Indexes::new(&store);
    /// indexes.set_index_definition("bySpecies", "pets", Some(Source::cell("species")), None, None, None);
    /// assert_eq!(indexes.get_slice_ids("bySpecies"), ["dog", "cat"]);
    /// ```
    Indexes,
    IndexDef,
    get_index_ids;
    /// ```
    /// use tinystore_core::Store;
    /// use tinystore_core::views::Indexes;
    /// let store = Store::new();
    /// let indexes = Indexes::new(&store);
    /// indexes.set_index_definition("all", "pets", None, None, None, None);
    /// assert!(Indexes::new(&store).has_index("all"));
    /// // Once every handle is dropped, the next call makes a new, empty one.
    /// drop(indexes);
    /// assert!(!Indexes::new(&store).has_index("all"));
    /// ```
}

/// The [`Indexes`] of `store` (TinyBase's `createIndexes`, memoized per store as
/// [`Indexes::new`] says); a
/// [`MergeableStore`](crate::MergeableStore) derefs to its store.
///
/// ```
/// let store = tinystore_core::Store::new();
/// let indexes = tinystore_core::views::create_indexes(&store);
/// assert!(indexes.get_index_ids().is_empty());
/// ```
pub fn create_indexes(store: &Store) -> Indexes {
    Indexes::new(store)
}

impl Indexes {
    /// Defines (or redefines) an index over `table_id`.
    ///
    /// `get_slice_id_or_ids`: the cell whose value (`'' + value`, missing → `""`) names a
    /// row's slice, or a function returning the row's slice ids (several: the row is in each;
    /// none: in no slice); `None`: every row is in slice `""`. `get_sort_key`: the cell or
    /// function giving the key rows are sorted by within a slice, with `row_id_sorter`
    /// (default: JavaScript's `<`). `slice_id_sorter` orders the slice ids (default: the
    /// order they first appeared in).
    ///
    /// A missing table or cell is valid and gives empty slices. A slice or sort-key function
    /// that panics makes this call panic with nothing changed; a panicking sorter leaves that
    /// order as it was, and its panic is resumed after the listeners ran.
    ///
    /// ```
    /// use tinystore_core::{Cell, Store};
    /// use tinystore_core::views::{Indexes, Source};
    /// let store = Store::new();
    /// store.set_cell("t", "a", "n", 2).set_cell("t", "b", "n", 1);
    /// let indexes = Indexes::new(&store);
    /// indexes.set_index_definition("i", "t", None, Some(Source::cell("n")), None, None);
    /// assert_eq!(indexes.get_slice_row_ids("i", ""), ["b", "a"]);
    /// ```
    pub fn set_index_definition(
        &self,
        index_id: &str,
        table_id: &str,
        get_slice_id_or_ids: Option<Source<Vec<String>>>,
        get_sort_key: Option<Source<Option<Cell>>>,
        slice_id_sorter: Option<SliceIdSorter>,
        row_id_sorter: Option<RowIdSorter>,
    ) -> &Self {
        let eval = Arc::new(IndexEval {
            table_id: Text::from(table_id),
            slice: get_slice_id_or_ids.clone(),
            sort: get_sort_key.clone(),
        });
        let def = IndexDef {
            eval,
            slice_source: get_slice_id_or_ids,
            sort_source: get_sort_key,
            slice_sorter: slice_id_sorter,
            row_sorter: row_id_sorter,
            rows: RowCache::default(),
            slices: OrdMap::new(),
            stale: false,
        };
        let defined = self.core.define(index_id, table_id, def, fire_events);
        if defined.is_new {
            self.fire(&[Event::IndexIds]);
        }
        self.fire(&defined.events);
        if defined.is_new {
            self.fire(&[Event::HasIndex(Text::from(index_id), true)]);
        }
        if let Some(panic) = defined.panic {
            resume_unwind(panic);
        }
        self
    }

    /// Removes an index definition and its store listeners (unknown ids: no-op, but the
    /// index-ids listeners are called, as in TinyBase).
    ///
    /// ```
    /// # use tinystore_core::Store;
    /// # use tinystore_core::views::{Indexes, Source};
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "species", "dog");
    /// let indexes = Indexes::new(&store);
    /// indexes.set_index_definition("bySpecies", "pets", Some(Source::cell("species")), None, None, None);
    /// indexes.del_index_definition("bySpecies");
    /// assert!(!indexes.has_index("bySpecies"));
    /// assert!(indexes.get_slice_ids("bySpecies").is_empty());
    /// ```
    pub fn del_index_definition(&self, index_id: &str) -> &Self {
        let removed = self.core.undefine(index_id);
        self.fire(&[Event::IndexIds]);
        if let Some(def) = removed {
            let id = Text::from(index_id);
            let mut events = vec![Event::HasIndex(id.clone(), false)];
            if !def.slices.is_empty() {
                events.push(Event::SliceIds(id.clone()));
                for slice in def.slices.keys() {
                    events.push(Event::HasSlice(id.clone(), slice.clone(), false));
                    events.push(Event::SliceRowIds(id.clone(), slice.clone()));
                }
            }
            self.fire(&events);
        }
        self
    }

    /// Removes every definition and the store listeners (TinyBase's `destroy`: index-ids
    /// listeners are called once per definition). The object stays usable.
    ///
    /// ```
    /// # use tinystore_core::Store;
    /// # use tinystore_core::views::Indexes;
    /// let indexes = Indexes::new(&Store::new());
    /// indexes.set_index_definition("a", "pets", None, None, None, None);
    /// indexes.set_index_definition("b", "pets", None, None, None, None);
    /// indexes.destroy();
    /// assert!(indexes.get_index_ids().is_empty());
    /// ```
    pub fn destroy(&self) {
        self.core.destroy(|_| self.fire(&[Event::IndexIds]));
    }

    /// The ids of the defined indexes, in definition order.
    ///
    /// ```
    /// # use tinystore_core::Store;
    /// # use tinystore_core::views::Indexes;
    /// let indexes = Indexes::new(&Store::new());
    /// indexes.set_index_definition("b", "pets", None, None, None, None);
    /// indexes.set_index_definition("a", "pets", None, None, None, None);
    /// assert_eq!(indexes.get_index_ids(), ["b", "a"]);
    /// ```
    pub fn get_index_ids(&self) -> Vec<String> {
        self.core.state.lock().ids()
    }

    /// Whether an index is defined.
    ///
    /// ```
    /// # use tinystore_core::Store;
    /// # use tinystore_core::views::Indexes;
    /// let indexes = Indexes::new(&Store::new());
    /// indexes.set_index_definition("all", "pets", None, None, None, None);
    /// assert!(indexes.has_index("all"));
    /// assert!(!indexes.has_index("none"));
    /// ```
    pub fn has_index(&self, index_id: &str) -> bool {
        self.core.with_def(index_id, |_| ()).is_some()
    }

    /// Whether an index has a slice.
    ///
    /// ```
    /// # use tinystore_core::Store;
    /// # use tinystore_core::views::{Indexes, Source};
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "species", "dog");
    /// let indexes = Indexes::new(&store);
    /// indexes.set_index_definition("bySpecies", "pets", Some(Source::cell("species")), None, None, None);
    /// assert!(indexes.has_slice("bySpecies", "dog"));
    /// assert!(!indexes.has_slice("bySpecies", "cat"));
    /// ```
    pub fn has_slice(&self, index_id: &str, slice_id: &str) -> bool {
        self.core
            .with_def(index_id, |d| d.slices.contains_key(slice_id))
            .unwrap_or(false)
    }

    /// The table an index is over.
    ///
    /// ```
    /// # use tinystore_core::Store;
    /// # use tinystore_core::views::Indexes;
    /// let indexes = Indexes::new(&Store::new());
    /// indexes.set_index_definition("all", "pets", None, None, None, None);
    /// assert_eq!(indexes.get_table_id("all").as_deref(), Some("pets"));
    /// assert_eq!(indexes.get_table_id("none"), None);
    /// ```
    pub fn get_table_id(&self, index_id: &str) -> Option<String> {
        self.core.table_id(index_id)
    }

    /// The slice ids of an index, in order (empty for an unknown index).
    ///
    /// ```
    /// use std::sync::Arc;
    /// # use tinystore_core::Store;
    /// # use tinystore_core::views::{Indexes, SliceIdSorter, Source};
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "species", "dog").set_cell("pets", "felix", "species", "cat");
    /// let indexes = Indexes::new(&store);
    /// let by_name: SliceIdSorter = Arc::new(|a, b| a.cmp(b));
    /// indexes.set_index_definition("bySpecies", "pets", Some(Source::cell("species")), None, Some(by_name), None);
    /// assert_eq!(indexes.get_slice_ids("bySpecies"), ["cat", "dog"]);
    /// ```
    pub fn get_slice_ids(&self, index_id: &str) -> Vec<String> {
        self.core
            .with_def(index_id, |d| {
                d.slices.keys().map(|k| k.to_string()).collect()
            })
            .unwrap_or_default()
    }

    /// The row ids of a slice, in order (empty for an unknown index or slice).
    ///
    /// ```
    /// # use tinystore_core::Store;
    /// # use tinystore_core::views::{Indexes, Source};
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "species", "dog").set_cell("pets", "rex", "species", "dog");
    /// let indexes = Indexes::new(&store);
    /// indexes.set_index_definition("bySpecies", "pets", Some(Source::cell("species")), None, None, None);
    /// assert_eq!(indexes.get_slice_row_ids("bySpecies", "dog"), ["fido", "rex"]);
    /// assert!(indexes.get_slice_row_ids("bySpecies", "cat").is_empty());
    /// ```
    pub fn get_slice_row_ids(&self, index_id: &str, slice_id: &str) -> Vec<String> {
        self.core
            .with_def(index_id, |d| {
                d.slices
                    .get(slice_id)
                    .map(|s| s.rows().map(|k| k.to_string()).collect())
            })
            .flatten()
            .unwrap_or_default()
    }

    /// Calls `f(index_id)` for each index.
    ///
    /// ```
    /// # use tinystore_core::Store;
    /// # use tinystore_core::views::Indexes;
    /// let indexes = Indexes::new(&Store::new());
    /// indexes.set_index_definition("a", "pets", None, None, None, None);
    /// indexes.set_index_definition("b", "pets", None, None, None, None);
    /// let mut ids = Vec::new();
    /// indexes.for_each_index(|id| ids.push(id.to_string()));
    /// assert_eq!(ids, ["a", "b"]);
    /// ```
    pub fn for_each_index(&self, mut f: impl FnMut(&str)) {
        for id in self.get_index_ids() {
            f(&id);
        }
    }

    /// Calls `f(slice_id, row_ids)` for each slice of an index.
    ///
    /// ```
    /// # use tinystore_core::Store;
    /// # use tinystore_core::views::{Indexes, Source};
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "species", "dog").set_cell("pets", "felix", "species", "cat");
    /// let indexes = Indexes::new(&store);
    /// indexes.set_index_definition("bySpecies", "pets", Some(Source::cell("species")), None, None, None);
    /// let mut slices = Vec::new();
    /// indexes.for_each_slice("bySpecies", |slice, rows| slices.push(format!("{slice}: {}", rows.join(","))));
    /// assert_eq!(slices, ["dog: fido", "cat: felix"]);
    /// ```
    pub fn for_each_slice(&self, index_id: &str, mut f: impl FnMut(&str, &[String])) {
        for slice in self.get_slice_ids(index_id) {
            let rows = self.get_slice_row_ids(index_id, &slice);
            f(&slice, &rows);
        }
    }

    /// Listens to the index ids (`f(indexes)`), called when an index is added or removed.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// # use tinystore_core::Store;
    /// # use tinystore_core::views::Indexes;
    /// let indexes = Indexes::new(&Store::new());
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let s = seen.clone();
    /// indexes.add_index_ids_listener(move |indexes| s.lock().unwrap().push(indexes.get_index_ids()));
    /// indexes.set_index_definition("all", "pets", None, None, None, None);
    /// assert_eq!(*seen.lock().unwrap(), [["all"]]);
    /// ```
    pub fn add_index_ids_listener(&self, f: impl FnMut(&Indexes) + Send + 'static) -> ListenerId {
        self.add(INDEX_IDS, vec![], Callback::Ids(Box::new(f)))
    }

    /// Listens to whether an index (`None`: any) exists: `f(indexes, index_id, has_index)`.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// # use tinystore_core::Store;
    /// # use tinystore_core::views::Indexes;
    /// let indexes = Indexes::new(&Store::new());
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let s = seen.clone();
    /// indexes.add_has_index_listener(None, move |_, id, has| s.lock().unwrap().push((id.to_string(), has)));
    /// indexes.set_index_definition("all", "pets", None, None, None, None);
    /// indexes.del_index_definition("all");
    /// assert_eq!(*seen.lock().unwrap(), [("all".to_string(), true), ("all".to_string(), false)]);
    /// ```
    pub fn add_has_index_listener(
        &self,
        index_id: Option<&str>,
        f: impl FnMut(&Indexes, &str, bool) + Send + 'static,
    ) -> ListenerId {
        self.add(
            HAS_INDEX,
            vec![index_id.map(Text::from)],
            Callback::HasIndex(Box::new(f)),
        )
    }

    /// Listens to the slice ids of an index (`None`: any): `f(indexes, index_id)`.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// # use tinystore_core::Store;
    /// # use tinystore_core::views::{Indexes, Source};
    /// let store = Store::new();
    /// let indexes = Indexes::new(&store);
    /// indexes.set_index_definition("bySpecies", "pets", Some(Source::cell("species")), None, None, None);
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let s = seen.clone();
    /// indexes.add_slice_ids_listener(Some("bySpecies"), move |indexes, id| {
    ///     s.lock().unwrap().push(indexes.get_slice_ids(id))
    /// });
    /// store.set_cell("pets", "fido", "species", "dog");
    /// assert_eq!(*seen.lock().unwrap(), [["dog"]]);
    /// ```
    pub fn add_slice_ids_listener(
        &self,
        index_id: Option<&str>,
        f: impl FnMut(&Indexes, &str) + Send + 'static,
    ) -> ListenerId {
        self.add(
            SLICE_IDS,
            vec![index_id.map(Text::from)],
            Callback::SliceIds(Box::new(f)),
        )
    }

    /// Listens to whether a slice exists: `f(indexes, index_id, slice_id, has_slice)`.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// # use tinystore_core::Store;
    /// # use tinystore_core::views::{Indexes, Source};
    /// let store = Store::new();
    /// let indexes = Indexes::new(&store);
    /// indexes.set_index_definition("bySpecies", "pets", Some(Source::cell("species")), None, None, None);
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let s = seen.clone();
    /// indexes.add_has_slice_listener(Some("bySpecies"), None, move |_, _, slice, has| {
    ///     s.lock().unwrap().push((slice.to_string(), has))
    /// });
    /// store.set_cell("pets", "fido", "species", "dog");
    /// store.del_row("pets", "fido");
    /// assert_eq!(*seen.lock().unwrap(), [("dog".to_string(), true), ("dog".to_string(), false)]);
    /// ```
    pub fn add_has_slice_listener(
        &self,
        index_id: Option<&str>,
        slice_id: Option<&str>,
        f: impl FnMut(&Indexes, &str, &str, bool) + Send + 'static,
    ) -> ListenerId {
        let path = vec![index_id.map(Text::from), slice_id.map(Text::from)];
        self.add(HAS_SLICE, path, Callback::HasSlice(Box::new(f)))
    }

    /// Listens to the row ids of a slice: `f(indexes, index_id, slice_id)`.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use tinystore_core::Store;
    /// use tinystore_core::views::{Indexes, Source};
    /// let store = Store::new();
    /// let indexes = Indexes::new(&store);
    /// indexes.set_index_definition("i", "t", Some(Source::cell("c")), None, None, None);
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let s = seen.clone();
    /// indexes.add_slice_row_ids_listener(Some("i"), None, move |_, _, slice| {
    ///     s.lock().unwrap().push(slice.to_string())
    /// });
    /// store.set_cell("t", "r", "c", "x");
    /// assert_eq!(*seen.lock().unwrap(), ["x"]);
    /// ```
    pub fn add_slice_row_ids_listener(
        &self,
        index_id: Option<&str>,
        slice_id: Option<&str>,
        f: impl FnMut(&Indexes, &str, &str) + Send + 'static,
    ) -> ListenerId {
        let path = vec![index_id.map(Text::from), slice_id.map(Text::from)];
        self.add(SLICE_ROW_IDS, path, Callback::SliceRowIds(Box::new(f)))
    }

    /// Removes a listener (unknown ids are ignored).
    ///
    /// ```
    /// # use tinystore_core::Store;
    /// # use tinystore_core::views::Indexes;
    /// let indexes = Indexes::new(&Store::new());
    /// let id = indexes.add_slice_ids_listener(None, |_, _| {});
    /// indexes.del_listener(id);
    /// assert_eq!(indexes.get_listener_stats().slice_ids, 0);
    /// ```
    pub fn del_listener(&self, id: ListenerId) -> &Self {
        self.core.listeners.lock().remove(id);
        self
    }

    /// Listener counts.
    ///
    /// ```
    /// # use tinystore_core::Store;
    /// # use tinystore_core::views::Indexes;
    /// let indexes = Indexes::new(&Store::new());
    /// indexes.add_slice_row_ids_listener(Some("bySpecies"), None, |_, _, _| {});
    /// assert_eq!(indexes.get_listener_stats().slice_row_ids, 1);
    /// ```
    pub fn get_listener_stats(&self) -> IndexesListenerStats {
        IndexesListenerStats {
            slice_ids: self.core.count(SLICE_IDS),
            slice_row_ids: self.core.count(SLICE_ROW_IDS),
        }
    }

    fn add(&self, kind: u8, path: super::listeners::Path, callback: Callback) -> ListenerId {
        self.core.add_listener(kind, path, callback)
    }

    fn fire(&self, events: &[Event]) {
        for event in events {
            let registry = &self.core.listeners;
            match event {
                Event::IndexIds => fire(registry, INDEX_IDS, &[], |c| {
                    if let Callback::Ids(f) = c {
                        f(self);
                    }
                }),
                Event::HasIndex(i, has) => fire(registry, HAS_INDEX, &[i], |c| {
                    if let Callback::HasIndex(f) = c {
                        f(self, i, *has);
                    }
                }),
                Event::SliceIds(i) => fire(registry, SLICE_IDS, &[i], |c| {
                    if let Callback::SliceIds(f) = c {
                        f(self, i);
                    }
                }),
                Event::HasSlice(i, s, has) => fire(registry, HAS_SLICE, &[i, s], |c| {
                    if let Callback::HasSlice(f) = c {
                        f(self, i, s, *has);
                    }
                }),
                Event::SliceRowIds(i, s) => fire(registry, SLICE_ROW_IDS, &[i, s], |c| {
                    if let Callback::SliceRowIds(f) = c {
                        f(self, i, s);
                    }
                }),
            }
        }
    }
}

/// A row's slice ids and sort key (`None` for a row that no longer exists).
#[allow(clippy::type_complexity)]
fn compute(
    store: &Store,
    table_id: &str,
    slice: Option<&Source<Vec<String>>>,
    sort: Option<&Source<Option<Cell>>>,
    row_id: &str,
) -> (Option<Vec<Text>>, Option<Option<Cell>>) {
    if !store.has_row(table_id, row_id) {
        return (None, sort.map(|_| None));
    }
    let ids = match slice {
        None => vec![String::new()],
        // One cell names one slice: no list to build and deduplicate.
        Some(Source::Cell(cell_id)) => {
            let id = match store.get_cell(table_id, row_id, cell_id) {
                Some(Cell::String(s)) => s,
                Some(c) => Text::from(slice_id_of_cell(&c)),
                None => Text::default(),
            };
            let key = sort.map(|source| evaluate(source, store, table_id, row_id, |cell| cell));
            return (Some(vec![id]), key);
        }
        Some(source) => evaluate(source, store, table_id, row_id, |cell| {
            vec![cell.map_or_else(String::new, |c| slice_id_of_cell(&c))]
        }),
    };
    let mut unique: Vec<Text> = Vec::with_capacity(ids.len());
    for id in ids {
        if !unique.iter().any(|u| *u == id) {
            unique.push(Text::from(id));
        }
    }
    let key = sort.map(|source| evaluate(source, store, table_id, row_id, |cell| cell));
    (Some(unique), key)
}

/// The slice ids one update touches, in first-touch order, each with a value: usually one
/// or two, so they are found by a scan, with a hash index only once there are many (a forced
/// re-sort lists every slice).
struct Touched<V> {
    items: Vec<(Text, V)>,
    index: Option<OrdMap<Text, usize>>,
}

impl<V> Touched<V> {
    const SCAN: usize = 16;

    fn new() -> Self {
        Touched {
            items: Vec::new(),
            index: None,
        }
    }

    fn contains(&self, id: &str) -> bool {
        match &self.index {
            Some(index) => index.contains_key(id),
            None => self.items.iter().any(|(k, _)| k == id),
        }
    }

    /// Adds `id` with `value()` unless it is there (it keeps its place and value).
    fn add(&mut self, id: &Text, value: impl FnOnce() -> V) {
        if self.contains(id) {
            return;
        }
        self.items.push((id.clone(), value()));
        if let Some(index) = &mut self.index {
            index.insert(id.clone(), self.items.len() - 1);
        } else if self.items.len() > Self::SCAN {
            let mut index = OrdMap::with_capacity(self.items.len());
            for (i, (k, _)) in self.items.iter().enumerate() {
                index.insert(k.clone(), i);
            }
            self.index = Some(index);
        }
    }

    fn ids(&self) -> impl Iterator<Item = &Text> {
        self.items.iter().map(|(k, _)| k)
    }
}

/// Inserts into an ordered set, keeping the position of an existing member.
fn set_add(set: &mut Touched<()>, id: &Text) {
    set.add(id, || ());
}

/// TinyBase's index `onChanged`: moves changed rows between slices, re-sorts the slices that
/// need it and the slice ids, and lists the listener calls. Sorters run on copies; one that
/// panics leaves its slice (or the slice order) as it was, marks the index for a full re-sort
/// at the next change, and its panic is returned.
///
/// A sorted slice is updated in place (see [`super::slice`]): rows leave and join it first,
/// while the sort keys are still the ones the rows were placed with; then the rows whose key
/// changed are found, the keys applied, and each slice that needs it is checked and sorted.
fn on_changed(def: &mut IndexDef, index_id: &str, force: bool) -> (Vec<Event>, Option<Panic>) {
    let IndexDef {
        rows,
        slices,
        row_sorter,
        slice_sorter,
        stale,
        sort_source,
        ..
    } = def;
    let mut ids_changed = false;
    let mut changed_slices: Touched<()> = Touched::new();
    let mut had_slices: Touched<bool> = Touched::new();
    let mut unsorted: Touched<()> = Touched::new();
    let sorted_index = sort_source.is_some();
    let placed_key = |row: &str| Key::of(rows.sort_keys.get(row));
    let new_key = |row: &str| {
        let changed = rows.changed_sort_keys.get(row);
        Key::of(changed.or_else(|| rows.sort_keys.get(row)))
    };
    for (row, (old, new)) in rows.changed.iter() {
        let empty = Vec::new();
        let old = old.as_ref().unwrap_or(&empty);
        let new = new.as_ref().unwrap_or(&empty);
        for slice_id in old.iter().filter(|s| !new.contains(s)) {
            had_slices.add(slice_id, || slices.contains_key(slice_id.as_str()));
            set_add(&mut changed_slices, slice_id);
            if let Some(slice) = slices.get_mut(slice_id.as_str()) {
                slice.remove(row, || placed_key(row));
                if slice.is_empty() {
                    slices.remove(slice_id.as_str());
                    ids_changed = true;
                }
            }
        }
        for slice_id in new.iter().filter(|s| !old.contains(s)) {
            had_slices.add(slice_id, || slices.contains_key(slice_id.as_str()));
            set_add(&mut changed_slices, slice_id);
            let slice = slices.entry_or_insert_with(slice_id.as_str(), || {
                ids_changed = true;
                Slice::new(sorted_index)
            });
            slice.append(row, || new_key(row));
            if sorted_index {
                set_add(&mut unsorted, slice_id);
            }
        }
    }
    // Where the rows whose key changes are, found before any key changes (the slices are
    // searched by the keys their rows were placed with).
    let mut rekeyed: Vec<(Text, usize, Key)> = Vec::new();
    for (row, cell) in rows.changed_sort_keys.iter() {
        let ids = match rows.changed.get(row.as_str()) {
            Some((_, new)) => new.as_ref(),
            None => rows.values.get(row.as_str()),
        };
        let old = placed_key(row);
        for slice_id in ids.into_iter().flatten() {
            if let Some(Slice::Sorted(slice)) = slices.get(slice_id.as_str()) {
                if let Some(i) = slice.find(row, &old) {
                    rekeyed.push((slice_id.clone(), i, Key::of(Some(cell))));
                }
            }
        }
    }
    rows.apply();
    for (slice_id, i, key) in rekeyed {
        if let Some(Slice::Sorted(slice)) = slices.get_mut(slice_id.as_str()) {
            slice.set_key(i, key);
        }
    }
    let mut panic = None;
    // TinyBase sorts nothing while no row has a sort key, and re-sorts every slice on a forced
    // update even when the index (redefined without one) kept the keys of an earlier definition.
    let sorting = !rows.sort_keys.is_empty();
    if sorting {
        if force {
            for slice_id in slices.keys() {
                set_add(&mut unsorted, slice_id);
            }
        } else {
            for row in rows.changed_sort_keys.keys() {
                if let Some(ids) = rows.values.get(row.as_str()) {
                    for slice_id in ids {
                        set_add(&mut unsorted, slice_id);
                    }
                }
            }
        }
    }
    for slice_id in unsorted.ids() {
        let Some(slice) = slices.get_mut(slice_id.as_str()) else {
            continue;
        };
        if let Slice::Sorted(sorted) = slice {
            if !sorting {
                sorted.keep_order();
                continue;
            }
            if !force && row_sorter.is_none() && sorted.consistent() {
                if sorted.settle() {
                    set_add(&mut changed_slices, slice_id);
                }
                continue;
            }
        }
        let sorter = row_sorter.as_ref();
        match full_sort(slice.rows(), &rows.sort_keys, sorter, slice_id) {
            Ok(None) => slice.keep_order(),
            Ok(Some(order)) => {
                slice.reorder(&order);
                set_add(&mut changed_slices, slice_id);
            }
            Err(p) => {
                slice.keep_order();
                *stale = true;
                panic.get_or_insert(p);
            }
        }
    }
    if ids_changed || force {
        if let Some(sorter) = slice_sorter.clone() {
            let ids: Vec<Text> = slices.keys().cloned().collect();
            let less = |a: &Text, b: &Text| sorter(a, b) == Ordering::Less;
            let in_order = |a: &Text, b: &Text| sorter(a, b) != Ordering::Greater;
            match catch_unwind(AssertUnwindSafe(|| sort_if_needed(ids, &in_order, &less))) {
                Ok(None) => {}
                Ok(Some(sorted)) => {
                    let mut old = std::mem::take(slices);
                    for id in sorted {
                        if let Some(slice) = old.remove(id.as_str()) {
                            slices.insert(id, slice);
                        }
                    }
                    ids_changed = true;
                }
                Err(p) => {
                    *stale = true;
                    panic.get_or_insert(p);
                }
            }
        }
    }
    let id = Text::from(index_id);
    let mut events = Vec::new();
    if ids_changed {
        events.push(Event::SliceIds(id.clone()));
    }
    for (slice_id, had) in &had_slices.items {
        let has = slices.contains_key(slice_id.as_str());
        if *had != has {
            events.push(Event::HasSlice(id.clone(), slice_id.clone(), has));
        }
    }
    for slice_id in changed_slices.ids() {
        events.push(Event::SliceRowIds(id.clone(), slice_id.clone()));
    }
    rows.clear_changes();
    (events, panic)
}

/// TinyBase's check and sort of one slice, V8's, with the row sorter (default: JavaScript's
/// `<`) over the rows' keys looked up once each: `None` if the slice is in order, else the new
/// order as indexes into `slice`; a panic of the sorter is returned.
fn full_sort<'a>(
    slice: impl Iterator<Item = &'a Text>,
    keys: &OrdMap<Text, Cell>,
    sorter: Option<&RowIdSorter>,
    slice_id: &str,
) -> Result<Option<Vec<usize>>, Panic> {
    let items: Vec<(usize, Option<&Cell>)> = slice
        .enumerate()
        .map(|(i, r)| (i, keys.get(r.as_str())))
        .collect();
    type Keyed<'a> = (usize, Option<&'a Cell>);
    let less = |a: &Keyed<'_>, b: &Keyed<'_>| match sorter {
        Some(f) => f(a.1, b.1, slice_id) == Ordering::Less,
        None => default_row_sorter_less(a.1, b.1),
    };
    let in_order = |a: &Keyed<'_>, b: &Keyed<'_>| match sorter {
        Some(f) => f(a.1, b.1, slice_id) != Ordering::Greater,
        None => default_row_sorter_less(a.1, b.1),
    };
    let sorted = catch_unwind(AssertUnwindSafe(|| sort_if_needed(items, &in_order, &less)))?;
    Ok(sorted.map(|items| items.into_iter().map(|(i, _)| i).collect()))
}

/// TinyBase's `arrayIsSorted` then `array.sort`: `None` if already in order.
fn sort_if_needed<T: Clone>(
    mut items: Vec<T>,
    in_order: &impl Fn(&T, &T) -> bool,
    less: &impl Fn(&T, &T) -> bool,
) -> Option<Vec<T>> {
    if items.windows(2).all(|w| in_order(&w[0], &w[1])) {
        return None;
    }
    js_sort(&mut items, less);
    Some(items)
}
