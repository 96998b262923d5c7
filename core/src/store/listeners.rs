//! The listener registry: ids from a reusable pool, per-kind wildcard trees, callbacks.
//!
//! A listener registered with ids `[t, None]` matches every call path `[t, x]`. Matching visits,
//! at each level, the listeners of the exact id before those of the wildcard, depth first, and
//! within one node in registration order: the order TinyBase calls them in.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::ordmap::OrdMap;
use crate::types::{Cell, Text};

use super::Store;

/// The listeners one call path matches: rarely more than a few, so kept inline.
pub(crate) type MatchedIds = smallvec::SmallVec<[u32; 8]>;

/// Identifies a registered listener. Ids come from a pool, as in TinyBase: `0`, `1`, … with
/// released ids reused first-in first-out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ListenerId(pub u32);

impl fmt::Display for ListenerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// `{id: 1 | -1}`: ids added (+1) or removed (-1) by a transaction, in first-change order.
pub type IdChanges = [(Text, i8)];

/// Orders two sort keys for [`SortedRowIdsArgs::sorter`]: `Less` puts the first row earlier.
pub type Sorter =
    Arc<dyn Fn(Option<&Cell>, Option<&Cell>) -> std::cmp::Ordering + Send + Sync + 'static>;

/// The arguments of `get_sorted_row_ids` and its listener.
///
/// ```
/// use tinystore_core::SortedRowIdsArgs;
/// let args = SortedRowIdsArgs::new("pets").cell_id("price").descending(true).limit(10);
/// assert_eq!(args.offset, 0);
/// ```
#[derive(Clone)]
pub struct SortedRowIdsArgs {
    /// The table.
    pub table_id: String,
    /// The cell to sort by; `None` sorts by row id.
    pub cell_id: Option<String>,
    /// Largest first.
    pub descending: bool,
    /// How many sorted ids to skip.
    pub offset: usize,
    /// How many ids at most; `None` for all.
    pub limit: Option<usize>,
    /// A custom comparison of sort keys; the default is JavaScript's `<` with missing as 0.
    pub sorter: Option<Sorter>,
}

impl fmt::Debug for SortedRowIdsArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SortedRowIdsArgs")
            .field("table_id", &self.table_id)
            .field("cell_id", &self.cell_id)
            .field("descending", &self.descending)
            .field("offset", &self.offset)
            .field("limit", &self.limit)
            .field("sorter", &self.sorter.as_ref().map(|_| "custom"))
            .finish()
    }
}

impl SortedRowIdsArgs {
    /// Row ids of `table_id` sorted by row id, ascending, all of them.
    pub fn new(table_id: impl Into<String>) -> Self {
        SortedRowIdsArgs {
            table_id: table_id.into(),
            cell_id: None,
            descending: false,
            offset: 0,
            limit: None,
            sorter: None,
        }
    }
    /// Sorts by this cell.
    pub fn cell_id(mut self, cell_id: impl Into<String>) -> Self {
        self.cell_id = Some(cell_id.into());
        self
    }
    /// Sorts largest first.
    pub fn descending(mut self, descending: bool) -> Self {
        self.descending = descending;
        self
    }
    /// Skips this many ids.
    pub fn offset(mut self, offset: usize) -> Self {
        self.offset = offset;
        self
    }
    /// Returns at most this many ids.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }
    /// Uses a custom comparison.
    pub fn sorter(
        mut self,
        sorter: impl Fn(Option<&Cell>, Option<&Cell>) -> std::cmp::Ordering + Send + Sync + 'static,
    ) -> Self {
        self.sorter = Some(Arc::new(sorter));
        self
    }
}

macro_rules! kinds {
    ($($kind:ident),* $(,)?) => {
        /// Every kind of store listener.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ListenerKind { $(#[allow(missing_docs)] $kind),* }
        impl ListenerKind {
            pub(crate) const ALL: &'static [ListenerKind] = &[$(ListenerKind::$kind),*];
        }
    };
}

kinds!(
    HasTables,
    Tables,
    TableIds,
    HasTable,
    Table,
    TableCellIds,
    HasTableCell,
    RowCount,
    RowIds,
    SortedRowIds,
    HasRow,
    Row,
    CellIds,
    HasCell,
    Cell,
    InvalidCell,
    HasValues,
    Values,
    ValueIds,
    HasValue,
    Value,
    InvalidValue,
    StartTransaction,
    WillFinishTransaction,
    DidFinishTransaction,
);

impl ListenerKind {
    pub(crate) fn index(self) -> usize {
        self as usize
    }

    /// How many id arguments a listener of this kind is registered with.
    pub(crate) fn arity(self) -> usize {
        use ListenerKind::*;
        match self {
            HasTables
            | Tables
            | TableIds
            | HasValues
            | Values
            | ValueIds
            | StartTransaction
            | WillFinishTransaction
            | DidFinishTransaction => 0,
            HasTable | Table | TableCellIds | RowCount | RowIds | HasValue | Value
            | InvalidValue => 1,
            HasTableCell | HasRow | Row | CellIds | SortedRowIds => 2,
            HasCell | Cell | InvalidCell => 3,
        }
    }
}

/// Listener statistics, as TinyBase's `getListenerStats` (`transaction` sums the three
/// transaction kinds).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct ListenerStats {
    pub has_tables: usize,
    pub tables: usize,
    pub table_ids: usize,
    pub has_table: usize,
    pub table: usize,
    pub table_cell_ids: usize,
    pub has_table_cell: usize,
    pub row_count: usize,
    pub row_ids: usize,
    pub sorted_row_ids: usize,
    pub has_row: usize,
    pub row: usize,
    pub cell_ids: usize,
    pub has_cell: usize,
    pub cell: usize,
    pub invalid_cell: usize,
    pub has_values: usize,
    pub values: usize,
    pub value_ids: usize,
    pub has_value: usize,
    pub value: usize,
    pub invalid_value: usize,
    pub transaction: usize,
}

pub(crate) type StoreFn = Box<dyn FnMut(&Store) + Send>;
pub(crate) type BoolFn = Box<dyn FnMut(&Store, bool) + Send>;
pub(crate) type IdsFn = Box<dyn FnMut(&Store, &IdChanges) + Send>;
pub(crate) type Id1Fn = Box<dyn FnMut(&Store, &str) + Send>;
pub(crate) type Id1BoolFn = Box<dyn FnMut(&Store, &str, bool) + Send>;
pub(crate) type Id1IdsFn = Box<dyn FnMut(&Store, &str, &IdChanges) + Send>;
pub(crate) type Id1CountFn = Box<dyn FnMut(&Store, &str, usize) + Send>;
pub(crate) type Id2Fn = Box<dyn FnMut(&Store, &str, &str) + Send>;
pub(crate) type Id2BoolFn = Box<dyn FnMut(&Store, &str, &str, bool) + Send>;
pub(crate) type Id2IdsFn = Box<dyn FnMut(&Store, &str, &str, &IdChanges) + Send>;
pub(crate) type Id3BoolFn = Box<dyn FnMut(&Store, &str, &str, &str, bool) + Send>;
pub(crate) type CellFn =
    Box<dyn FnMut(&Store, &str, &str, &str, Option<&Cell>, Option<&Cell>) + Send>;
pub(crate) type ValueFn = Box<dyn FnMut(&Store, &str, Option<&Cell>, Option<&Cell>) + Send>;
pub(crate) type InvalidCellFn =
    Box<dyn FnMut(&Store, Option<&str>, Option<&str>, Option<&str>, &[Option<Cell>]) + Send>;
pub(crate) type InvalidValueFn = Box<dyn FnMut(&Store, Option<&str>, &[Option<Cell>]) + Send>;
pub(crate) type SortedFn = Box<dyn FnMut(&Store, &SortedRowIdsArgs, &[String]) + Send>;

/// A listener's callback; the variant is fixed by the kind.
pub(crate) enum Callback {
    Store(StoreFn),
    Bool(BoolFn),
    Ids(IdsFn),
    Id1(Id1Fn),
    Id1Bool(Id1BoolFn),
    Id1Ids(Id1IdsFn),
    Id1Count(Id1CountFn),
    Id2(Id2Fn),
    Id2Bool(Id2BoolFn),
    Id2Ids(Id2IdsFn),
    Id3Bool(Id3BoolFn),
    Cell(CellFn),
    Value(ValueFn),
    InvalidCell(InvalidCellFn),
    InvalidValue(InvalidValueFn),
    Sorted(SortedFn),
}

/// The arguments one call passes; matched against the callback variant.
#[derive(Clone, Copy)]
pub(crate) enum Args<'a> {
    None,
    Bool(bool),
    Ids(&'a IdChanges),
    Count(usize),
    Cell(Option<&'a Cell>, Option<&'a Cell>),
    Invalid(&'a [Option<Cell>]),
    Sorted(&'a SortedRowIdsArgs, &'a [String]),
}

impl Callback {
    /// Invokes the callback with a call path and arguments. A mismatch (never produced by the
    /// dispatcher) is ignored rather than panicking.
    pub(crate) fn invoke(&mut self, store: &Store, ids: &[Option<&str>], args: Args<'_>) {
        let id = |i: usize| ids.get(i).copied().flatten().unwrap_or("");
        match (self, args) {
            (Callback::Store(f), _) => f(store),
            (Callback::Bool(f), Args::Bool(b)) => f(store, b),
            (Callback::Ids(f), Args::Ids(c)) => f(store, c),
            (Callback::Id1(f), _) => f(store, id(0)),
            (Callback::Id1Bool(f), Args::Bool(b)) => f(store, id(0), b),
            (Callback::Id1Ids(f), Args::Ids(c)) => f(store, id(0), c),
            (Callback::Id1Count(f), Args::Count(n)) => f(store, id(0), n),
            (Callback::Id2(f), _) => f(store, id(0), id(1)),
            (Callback::Id2Bool(f), Args::Bool(b)) => f(store, id(0), id(1), b),
            (Callback::Id2Ids(f), Args::Ids(c)) => f(store, id(0), id(1), c),
            (Callback::Id3Bool(f), Args::Bool(b)) => f(store, id(0), id(1), id(2), b),
            (Callback::Cell(f), Args::Cell(new, old)) => f(store, id(0), id(1), id(2), new, old),
            (Callback::Value(f), Args::Cell(new, old)) => f(store, id(0), new, old),
            (Callback::InvalidCell(f), Args::Invalid(v)) => f(
                store,
                ids.first().copied().flatten(),
                ids.get(1).copied().flatten(),
                ids.get(2).copied().flatten(),
                v,
            ),
            (Callback::InvalidValue(f), Args::Invalid(v)) => {
                f(store, ids.first().copied().flatten(), v)
            }
            (Callback::Sorted(f), Args::Sorted(a, ids)) => f(store, a, ids),
            _ => {}
        }
    }
}

/// State a SortedRowIds listener keeps: its arguments and the ids it last reported.
pub(crate) struct SortedState {
    pub(crate) args: SortedRowIdsArgs,
    pub(crate) last: Vec<String>,
}

pub(crate) struct Entry {
    pub(crate) kind: ListenerKind,
    pub(crate) mutator: bool,
    pub(crate) ids: Vec<Option<Text>>,
    /// Taken out while the callback runs (so the store's lock is not borrowed during the call).
    pub(crate) callback: Option<Callback>,
    pub(crate) generation: u64,
    pub(crate) sorted: Option<SortedState>,
}

#[derive(Default)]
struct Node {
    here: Vec<u32>,
    children: OrdMap<Text, Node>,
    wildcard: Option<Box<Node>>,
}

impl Node {
    fn child_mut(&mut self, id: Option<&str>) -> &mut Node {
        match id {
            Some(id) => self.children.entry_or_insert_with(id, Node::default),
            None => self.wildcard.get_or_insert_with(Box::default),
        }
    }

    fn insert(&mut self, ids: &[Option<Text>], listener: u32) {
        match ids.split_first() {
            None => self.here.push(listener),
            Some((first, rest)) => self.child_mut(first.as_deref()).insert(rest, listener),
        }
    }

    fn remove(&mut self, ids: &[Option<Text>], listener: u32) -> bool {
        match ids.split_first() {
            None => {
                self.here.retain(|&l| l != listener);
            }
            Some((first, rest)) => {
                let prune = match first {
                    Some(id) => match self.children.get_mut(id.as_str()) {
                        Some(child) => child.remove(rest, listener),
                        None => false,
                    },
                    None => match self.wildcard.as_mut() {
                        Some(child) => child.remove(rest, listener),
                        None => false,
                    },
                };
                if prune {
                    match first {
                        Some(id) => {
                            self.children.remove(id.as_str());
                        }
                        None => self.wildcard = None,
                    }
                }
            }
        }
        self.here.is_empty() && self.children.is_empty() && self.wildcard.is_none()
    }

    /// Collects listeners matching a call path. `None` in the path (an undefined id, as for
    /// some invalid-cell records) matches only wildcard registrations.
    fn collect(&self, mut path: &[Option<&str>], out: &mut MatchedIds) {
        // A loop down the tree, recursing only where both the named child and the wildcard
        // match (the named one first): most paths follow a single branch.
        let mut node = self;
        loop {
            let Some((first, rest)) = path.split_first() else {
                // (One push at a time: `extend_from_slice` reserves and moves the tail.)
                node.here.iter().for_each(|&id| out.push(id));
                return;
            };
            // Most nodes below a wildcard have no named children: skip hashing the id.
            let named = match first {
                Some(id) if !node.children.is_empty() => node.children.get(*id),
                _ => None,
            };
            node = match (named, node.wildcard.as_deref()) {
                (Some(named), Some(wildcard)) => {
                    named.collect(rest, out);
                    wildcard
                }
                (Some(next), None) | (None, Some(next)) => next,
                (None, None) => return,
            };
            path = rest;
        }
    }
}

/// All listeners of a store.
#[derive(Default)]
pub(crate) struct Listeners {
    pub(crate) entries: Vec<Option<Entry>>,
    pool: VecDeque<u32>,
    next_generation: u64,
    /// `trees[kind][mutator]`.
    trees: Vec<[Node; 2]>,
    counts: Vec<[usize; 2]>,
    /// `mask()`, republished at every add and remove and shared with the store (which reads
    /// it without its lock, see `Store::listens`).
    listening: Arc<AtomicU64>,
}

impl Listeners {
    fn ensure_trees(&mut self) {
        if self.trees.is_empty() {
            self.trees = ListenerKind::ALL
                .iter()
                .map(|_| Default::default())
                .collect();
            self.counts = vec![[0; 2]; ListenerKind::ALL.len()];
        }
    }

    pub(crate) fn add(
        &mut self,
        kind: ListenerKind,
        ids: Vec<Option<Text>>,
        callback: Callback,
        mutator: bool,
        sorted: Option<SortedState>,
    ) -> ListenerId {
        self.ensure_trees();
        let id = match self.pool.pop_front() {
            Some(id) => id,
            None => {
                self.entries.push(None);
                (self.entries.len() - 1) as u32
            }
        };
        self.next_generation += 1;
        self.trees[kind.index()][mutator as usize].insert(&ids, id);
        self.counts[kind.index()][mutator as usize] += 1;
        self.publish();
        self.entries[id as usize] = Some(Entry {
            kind,
            mutator,
            ids,
            callback: Some(callback),
            generation: self.next_generation,
            sorted,
        });
        ListenerId(id)
    }

    pub(crate) fn remove(&mut self, id: ListenerId) -> bool {
        let Some(slot) = self.entries.get_mut(id.0 as usize) else {
            return false;
        };
        let Some(entry) = slot.take() else {
            return false;
        };
        let tree = &mut self.trees[entry.kind.index()][entry.mutator as usize];
        tree.remove(&entry.ids, id.0);
        self.counts[entry.kind.index()][entry.mutator as usize] -= 1;
        self.publish();
        if self.pool.len() < 1000 {
            self.pool.push_back(id.0);
        }
        true
    }

    #[inline]
    pub(crate) fn has(&self, kind: ListenerKind, mutator: bool) -> bool {
        !self.counts.is_empty() && self.counts[kind.index()][mutator as usize] > 0
    }

    /// The mask of kinds and phases with a listener (bit `2 * kind + mutator`), kept up to date
    /// by `add` and `remove`.
    pub(crate) fn listening(&self) -> Arc<AtomicU64> {
        self.listening.clone()
    }

    fn publish(&self) {
        let mask = self
            .counts
            .iter()
            .enumerate()
            .flat_map(|(k, c)| [(2 * k, c[0]), (2 * k + 1, c[1])])
            .filter(|&(_, n)| n > 0)
            .fold(0, |m, (bit, _)| m | 1 << bit);
        self.listening.store(mask, Ordering::Relaxed);
    }

    pub(crate) fn has_any(&self, kinds: &[ListenerKind], mutator: bool) -> bool {
        kinds.iter().any(|&k| self.has(k, mutator))
    }

    pub(crate) fn count(&self, kind: ListenerKind) -> usize {
        if self.counts.is_empty() {
            return 0;
        }
        self.counts[kind.index()][0] + self.counts[kind.index()][1]
    }

    pub(crate) fn matching(
        &self,
        kind: ListenerKind,
        mutator: bool,
        path: &[Option<&str>],
        out: &mut MatchedIds,
    ) {
        out.clear();
        if self.has(kind, mutator) {
            self.trees[kind.index()][mutator as usize].collect(path, out);
        }
    }

    pub(crate) fn entry(&self, id: u32) -> Option<&Entry> {
        self.entries.get(id as usize)?.as_ref()
    }

    pub(crate) fn entry_mut(&mut self, id: u32) -> Option<&mut Entry> {
        self.entries.get_mut(id as usize)?.as_mut()
    }

    /// Takes a callback out to run it; `None` if the listener is gone or already running.
    pub(crate) fn take(&mut self, id: u32) -> Option<(Callback, u64)> {
        let entry = self.entry_mut(id)?;
        let generation = entry.generation;
        entry.callback.take().map(|cb| (cb, generation))
    }

    /// Puts a callback back unless its listener was deleted (or replaced) meanwhile.
    pub(crate) fn put_back(&mut self, id: u32, generation: u64, callback: Callback) {
        if let Some(entry) = self.entry_mut(id)
            && entry.generation == generation
        {
            entry.callback = Some(callback);
        }
    }

    pub(crate) fn sorted_ids(&self, mutator: bool) -> Vec<u32> {
        self.entries
            .iter()
            .enumerate()
            .filter_map(|(i, e)| {
                e.as_ref()
                    .filter(|e| e.kind == ListenerKind::SortedRowIds && e.mutator == mutator)
                    .map(|_| i as u32)
            })
            .collect()
    }
}
