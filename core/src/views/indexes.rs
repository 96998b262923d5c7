//! `Indexes` (TinyBase's `createIndexes`, spec store.md §5): rows of a table grouped into
//! slices by a cell or a function, optionally sorted within each slice, kept up to date row by
//! row.

use std::cmp::Ordering;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;

use crate::ordmap::OrdMap;
use crate::store::{ListenerId, Store, js_sort};
use crate::types::{Cell, Text};

use super::listeners::Registry;
use super::rows::{Panic, PanicTrap, RowCache, Trapped, evaluate, fire, link_table, link_trap};
use super::{Source, default_row_sorter_less, slice_id_of_cell};

/// Orders two slice ids (`Less`: the first goes first). Default: insertion order.
pub type SliceIdSorter = Arc<dyn Fn(&str, &str) -> Ordering + Send + Sync>;

/// Orders two rows of a slice by their sort keys: `(key1, key2, slice_id)`. Default:
/// JavaScript's `<` with a missing key as 0 (TinyBase's `defaultSorter`).
pub type RowIdSorter = Arc<dyn Fn(Option<&Cell>, Option<&Cell>, &str) -> Ordering + Send + Sync>;

/// Listener counts of an [`Indexes`] (the fields of TinyBase's `getListenerStats`).
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

type Slices = OrdMap<Text, OrdMap<Text, ()>>;

struct IndexDef {
    table_id: Text,
    generation: u64,
    slice_source: Option<Source<Vec<String>>>,
    sort_source: Option<Source<Option<Cell>>>,
    slice_sorter: Option<SliceIdSorter>,
    row_sorter: Option<RowIdSorter>,
    rows: RowCache<Vec<Text>>,
    slices: Slices,
    /// A sorter panicked: the next update re-sorts every slice.
    stale: bool,
    store_listeners: Vec<ListenerId>,
}

#[derive(Default)]
struct State {
    defs: OrdMap<Text, IndexDef>,
    next_generation: u64,
    trap_listener: Option<ListenerId>,
}

struct Inner {
    store: Store,
    state: Mutex<State>,
    listeners: Mutex<Registry<Callback>>,
    trap: PanicTrap,
    this: Weak<Inner>,
}

impl Trapped for Inner {
    fn trap(&self) -> &PanicTrap {
        &self.trap
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let state = self.state.get_mut();
        let ids = state
            .defs
            .iter()
            .flat_map(|(_, d)| d.store_listeners.iter().copied());
        for id in ids.chain(state.trap_listener) {
            self.store.del_listener(id);
        }
    }
}

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
#[derive(Clone)]
pub struct Indexes {
    inner: Arc<Inner>,
}

/// Creates an [`Indexes`] over `store` (TinyBase's `createIndexes`); a
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

impl std::fmt::Debug for Indexes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Indexes")
            .field("ids", &self.get_index_ids())
            .finish_non_exhaustive()
    }
}

impl Indexes {
    /// Creates an `Indexes` over `store`.
    pub fn new(store: &Store) -> Indexes {
        let inner = Arc::new_cyclic(|this| Inner {
            store: store.clone(),
            state: Mutex::new(State::default()),
            listeners: Mutex::new(Registry::default()),
            trap: PanicTrap::default(),
            this: this.clone(),
        });
        inner.state.lock().trap_listener = Some(link_trap(store, &inner.this));
        Indexes { inner }
    }

    /// The store this object indexes.
    pub fn get_store(&self) -> Store {
        self.inner.store.clone()
    }

    /// Defines (or redefines) an index over `table_id`.
    ///
    /// `slice`: the cell whose value (`'' + value`, missing → `""`) names a row's slice, or a
    /// function returning the row's slice ids (several: the row is in each; none: in no
    /// slice); `None`: every row is in slice `""`. `sort_key`: the cell or function giving the
    /// key rows are sorted by within a slice, with `row_sorter` (default: JavaScript's `<`).
    /// `slice_sorter` orders the slice ids (default: the order they appeared in).
    ///
    /// A missing table or cell is valid and gives empty slices. A function that panics makes
    /// this call panic with nothing changed.
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
        slice: Option<Source<Vec<String>>>,
        sort_key: Option<Source<Option<Cell>>>,
        slice_sorter: Option<SliceIdSorter>,
        row_sorter: Option<RowIdSorter>,
    ) -> &Self {
        let inner = &self.inner;
        let store = &inner.store;
        let _writers = store.lock();
        let rows = {
            let state = inner.state.lock();
            match state.defs.get(index_id) {
                Some(def) => def.rows.rows_to_evaluate(store, table_id),
                None => store.get_row_ids(table_id),
            }
        };
        let computed: Vec<_> = rows
            .into_iter()
            .map(|row| {
                let (value, key) =
                    compute(store, table_id, slice.as_ref(), sort_key.as_ref(), &row);
                (row, value, key)
            })
            .collect();
        let mut state = inner.state.lock();
        let generation = state.next_generation;
        state.next_generation += 1;
        let is_new = !state.defs.contains_key(index_id);
        if is_new {
            state
                .defs
                .insert(Text::from(index_id), IndexDef::new(table_id));
        }
        if state.trap_listener.is_none() {
            state.trap_listener = Some(link_trap(store, &inner.this));
        }
        let def = state.defs.get_mut(index_id).expect("inserted above");
        def.table_id = Text::from(table_id);
        def.generation = generation;
        def.slice_source = slice;
        def.sort_source = sort_key;
        def.slice_sorter = slice_sorter;
        def.row_sorter = row_sorter;
        for (row, value, key) in computed {
            def.rows.record(&row, value, key);
        }
        let (events, panic) = on_changed(def, index_id, true);
        for id in std::mem::take(&mut def.store_listeners) {
            store.del_listener(id);
        }
        let (row_id, table_id_owned) = (Text::from(index_id), Text::from(table_id));
        let row_index = row_id.clone();
        def.store_listeners = link_table(
            store,
            &table_id_owned,
            &inner.this,
            move |view, row| view.process_row(&row_index, generation, row),
            move |view| view.process_table(&row_id, generation),
        );
        drop(state);
        if is_new {
            self.fire(&[Event::IndexIds]);
        }
        self.fire(&events);
        if is_new {
            self.fire(&[Event::HasIndex(Text::from(index_id), true)]);
        }
        if let Some(panic) = panic {
            resume_unwind(panic);
        }
        self
    }

    /// Removes an index definition and its store listeners (unknown ids: no-op, but the
    /// index-ids listeners are called, as in TinyBase).
    pub fn del_index_definition(&self, index_id: &str) -> &Self {
        let removed = self.del_definition(index_id);
        self.fire(&[Event::IndexIds]);
        if let Some(slice_ids) = removed {
            let id = Text::from(index_id);
            let mut events = vec![Event::HasIndex(id.clone(), false)];
            if !slice_ids.is_empty() {
                events.push(Event::SliceIds(id.clone()));
                for slice in slice_ids {
                    events.push(Event::HasSlice(id.clone(), slice.clone(), false));
                    events.push(Event::SliceRowIds(id.clone(), slice));
                }
            }
            self.fire(&events);
        }
        self
    }

    /// Removes every definition and the store listeners (TinyBase's `destroy`: index-ids
    /// listeners are called once per definition). The object stays usable.
    pub fn destroy(&self) {
        let ids: Vec<Text> = self.inner.state.lock().defs.keys().cloned().collect();
        for id in ids {
            self.del_definition(&id);
            self.fire(&[Event::IndexIds]);
        }
        let trap = self.inner.state.lock().trap_listener.take();
        if let Some(trap) = trap {
            self.inner.store.del_listener(trap);
        }
    }

    fn del_definition(&self, index_id: &str) -> Option<Vec<Text>> {
        let _writers = self.inner.store.lock();
        let def = self.inner.state.lock().defs.remove(index_id)?;
        for id in def.store_listeners {
            self.inner.store.del_listener(id);
        }
        Some(def.slices.keys().cloned().collect())
    }

    /// The ids of the defined indexes, in definition order.
    pub fn get_index_ids(&self) -> Vec<String> {
        let state = self.inner.state.lock();
        state.defs.keys().map(|k| k.to_string()).collect()
    }

    /// Whether an index is defined.
    pub fn has_index(&self, index_id: &str) -> bool {
        self.inner.state.lock().defs.contains_key(index_id)
    }

    /// Whether an index has a slice.
    pub fn has_slice(&self, index_id: &str, slice_id: &str) -> bool {
        let state = self.inner.state.lock();
        state
            .defs
            .get(index_id)
            .is_some_and(|d| d.slices.contains_key(slice_id))
    }

    /// The table an index is over.
    pub fn get_table_id(&self, index_id: &str) -> Option<String> {
        let state = self.inner.state.lock();
        state.defs.get(index_id).map(|d| d.table_id.to_string())
    }

    /// The slice ids of an index, in order (empty for an unknown index).
    pub fn get_slice_ids(&self, index_id: &str) -> Vec<String> {
        let state = self.inner.state.lock();
        state.defs.get(index_id).map_or_else(Vec::new, |d| {
            d.slices.keys().map(|k| k.to_string()).collect()
        })
    }

    /// The row ids of a slice, in order (empty for an unknown index or slice).
    pub fn get_slice_row_ids(&self, index_id: &str, slice_id: &str) -> Vec<String> {
        let state = self.inner.state.lock();
        state
            .defs
            .get(index_id)
            .and_then(|d| d.slices.get(slice_id))
            .map_or_else(Vec::new, |s| s.keys().map(|k| k.to_string()).collect())
    }

    /// Calls `f(index_id)` for each index.
    pub fn for_each_index(&self, mut f: impl FnMut(&str)) {
        for id in self.get_index_ids() {
            f(&id);
        }
    }

    /// Calls `f(slice_id, row_ids)` for each slice of an index.
    pub fn for_each_slice(&self, index_id: &str, mut f: impl FnMut(&str, &[String])) {
        for slice in self.get_slice_ids(index_id) {
            let rows = self.get_slice_row_ids(index_id, &slice);
            f(&slice, &rows);
        }
    }

    /// Listens to the index ids (`f(indexes)`), called when an index is added or removed.
    pub fn add_index_ids_listener(&self, f: impl FnMut(&Indexes) + Send + 'static) -> ListenerId {
        self.add(INDEX_IDS, vec![], Callback::Ids(Box::new(f)))
    }

    /// Listens to whether an index (`None`: any) exists: `f(indexes, index_id, has_index)`.
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
    pub fn del_listener(&self, id: ListenerId) -> &Self {
        self.inner.listeners.lock().remove(id);
        self
    }

    /// Listener counts.
    pub fn get_listener_stats(&self) -> IndexesListenerStats {
        let listeners = self.inner.listeners.lock();
        IndexesListenerStats {
            slice_ids: listeners.count(SLICE_IDS),
            slice_row_ids: listeners.count(SLICE_ROW_IDS),
        }
    }

    fn add(&self, kind: u8, path: super::listeners::Path, callback: Callback) -> ListenerId {
        self.inner.listeners.lock().add(kind, path, callback)
    }

    fn fire(&self, events: &[Event]) {
        for event in events {
            let registry = &self.inner.listeners;
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

impl Inner {
    fn handle(self: &Arc<Self>) -> Indexes {
        Indexes {
            inner: self.clone(),
        }
    }

    /// The store's row listener: evaluates the row, then records it (nothing is recorded if
    /// a definition function panics).
    fn process_row(self: &Arc<Self>, index_id: &str, generation: u64, row_id: &str) {
        let sources = {
            let state = self.state.lock();
            let Some(def) = state
                .defs
                .get(index_id)
                .filter(|d| d.generation == generation)
            else {
                return;
            };
            (
                def.table_id.clone(),
                def.slice_source.clone(),
                def.sort_source.clone(),
            )
        };
        let (table_id, slice, sort) = sources;
        let (value, key) = compute(
            &self.store,
            &table_id,
            slice.as_ref(),
            sort.as_ref(),
            row_id,
        );
        let mut state = self.state.lock();
        if let Some(def) = state
            .defs
            .get_mut(index_id)
            .filter(|d| d.generation == generation)
        {
            def.rows.record(row_id, value, key);
        }
    }

    /// The store's table listener: applies the transaction's row changes, then calls the
    /// index's listeners.
    fn process_table(self: &Arc<Self>, index_id: &str, generation: u64) {
        let (events, panic) = {
            let mut state = self.state.lock();
            let Some(def) = state
                .defs
                .get_mut(index_id)
                .filter(|d| d.generation == generation)
            else {
                return;
            };
            let force = std::mem::take(&mut def.stale);
            on_changed(def, index_id, force)
        };
        if let Some(panic) = panic {
            self.trap.keep(panic);
        }
        self.handle().fire(&events);
    }
}

impl IndexDef {
    fn new(table_id: &str) -> IndexDef {
        IndexDef {
            table_id: Text::from(table_id),
            generation: 0,
            slice_source: None,
            sort_source: None,
            slice_sorter: None,
            row_sorter: None,
            rows: RowCache::default(),
            slices: OrdMap::new(),
            stale: false,
            store_listeners: Vec::new(),
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

/// Inserts into an ordered set, keeping the position of an existing member.
fn set_add(set: &mut OrdMap<Text, ()>, id: &Text) {
    if !set.contains_key(id.as_str()) {
        set.insert(id.clone(), ());
    }
}

/// TinyBase's index `onChanged`: moves changed rows between slices, re-sorts the slices that
/// need it and the slice ids, and lists the listener calls. Sorters run on copies; one that
/// panics leaves its slice (or the slice order) as it was, marks the index for a full re-sort
/// at the next change, and its panic is returned.
fn on_changed(def: &mut IndexDef, index_id: &str, force: bool) -> (Vec<Event>, Option<Panic>) {
    let mut ids_changed = false;
    let mut changed_slices: OrdMap<Text, ()> = OrdMap::new();
    let mut had_slices: OrdMap<Text, bool> = OrdMap::new();
    let mut unsorted: OrdMap<Text, ()> = OrdMap::new();
    let sorted_index = def.sort_source.is_some();
    for (row, (old, new)) in def.rows.changed.iter() {
        let empty = Vec::new();
        let old = old.as_ref().unwrap_or(&empty);
        let new = new.as_ref().unwrap_or(&empty);
        for slice_id in old.iter().filter(|s| !new.contains(s)) {
            if !had_slices.contains_key(slice_id.as_str()) {
                had_slices.insert(slice_id.clone(), def.slices.contains_key(slice_id.as_str()));
            }
            set_add(&mut changed_slices, slice_id);
            if let Some(slice) = def.slices.get_mut(slice_id.as_str()) {
                slice.remove(row.as_str());
                if slice.is_empty() {
                    def.slices.remove(slice_id.as_str());
                    ids_changed = true;
                }
            }
        }
        for slice_id in new.iter().filter(|s| !old.contains(s)) {
            if !had_slices.contains_key(slice_id.as_str()) {
                had_slices.insert(slice_id.clone(), def.slices.contains_key(slice_id.as_str()));
            }
            set_add(&mut changed_slices, slice_id);
            if !def.slices.contains_key(slice_id.as_str()) {
                def.slices.insert(slice_id.clone(), OrdMap::new());
                ids_changed = true;
            }
            if let Some(slice) = def.slices.get_mut(slice_id.as_str()) {
                set_add(slice, row);
            }
            if sorted_index {
                set_add(&mut unsorted, slice_id);
            }
        }
    }
    def.rows.apply();
    let mut panic = None;
    if !def.rows.sort_keys.is_empty() {
        if force {
            for slice_id in def.slices.keys() {
                set_add(&mut unsorted, slice_id);
            }
        } else {
            for row in def.rows.changed_sort_keys.keys() {
                if let Some(ids) = def.rows.values.get(row.as_str()) {
                    for slice_id in ids {
                        set_add(&mut unsorted, slice_id);
                    }
                }
            }
        }
        for slice_id in unsorted.keys() {
            let Some(slice) = def.slices.get(slice_id.as_str()) else {
                continue;
            };
            let rows: Vec<Text> = slice.keys().cloned().collect();
            let keys = &def.rows.sort_keys;
            let sorter = def.row_sorter.as_ref();
            let less = |a: &Text, b: &Text| {
                let (ka, kb) = (keys.get(a.as_str()), keys.get(b.as_str()));
                match sorter {
                    Some(f) => f(ka, kb, slice_id) == Ordering::Less,
                    None => default_row_sorter_less(ka, kb),
                }
            };
            let in_order = |a: &Text, b: &Text| {
                let (ka, kb) = (keys.get(a.as_str()), keys.get(b.as_str()));
                match sorter {
                    Some(f) => f(ka, kb, slice_id) != Ordering::Greater,
                    None => default_row_sorter_less(ka, kb),
                }
            };
            match catch_unwind(AssertUnwindSafe(|| sort_if_needed(rows, &in_order, &less))) {
                Ok(None) => {}
                Ok(Some(sorted)) => {
                    let mut set = OrdMap::new();
                    for row in sorted {
                        set.insert(row, ());
                    }
                    def.slices.insert(slice_id.clone(), set);
                    set_add(&mut changed_slices, slice_id);
                }
                Err(p) => {
                    def.stale = true;
                    panic.get_or_insert(p);
                }
            }
        }
    }
    if ids_changed || force {
        if let Some(sorter) = def.slice_sorter.clone() {
            let ids: Vec<Text> = def.slices.keys().cloned().collect();
            let less = |a: &Text, b: &Text| sorter(a, b) == Ordering::Less;
            let in_order = |a: &Text, b: &Text| sorter(a, b) != Ordering::Greater;
            match catch_unwind(AssertUnwindSafe(|| sort_if_needed(ids, &in_order, &less))) {
                Ok(None) => {}
                Ok(Some(sorted)) => {
                    let mut old = std::mem::take(&mut def.slices);
                    for id in sorted {
                        if let Some(slice) = old.remove(id.as_str()) {
                            def.slices.insert(id, slice);
                        }
                    }
                    ids_changed = true;
                }
                Err(p) => {
                    def.stale = true;
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
    for (slice_id, had) in had_slices.iter() {
        let has = def.slices.contains_key(slice_id.as_str());
        if *had != has {
            events.push(Event::HasSlice(id.clone(), slice_id.clone(), has));
        }
    }
    for slice_id in changed_slices.keys() {
        events.push(Event::SliceRowIds(id.clone(), slice_id.clone()));
    }
    def.rows.clear_changes();
    (events, panic)
}

/// TinyBase's `arrayIsSorted` then `array.sort`: `None` if already in order.
fn sort_if_needed(
    mut items: Vec<Text>,
    in_order: &impl Fn(&Text, &Text) -> bool,
    less: &impl Fn(&Text, &Text) -> bool,
) -> Option<Vec<Text>> {
    if items.windows(2).all(|w| in_order(&w[0], &w[1])) {
        return None;
    }
    js_sort(&mut items, less);
    Some(items)
}
