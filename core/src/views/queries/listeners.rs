//! The Queries' own listeners: their id pool, query-ids listeners, and result listeners routed
//! to each query's result store (wildcards follow the query ids).

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use indexmap::IndexMap;

use crate::store::{ListenerId, Store};
use crate::views::listeners::IdPool;

use super::Queries;

/// Identifies a listener of a [`Queries`]: result and query-ids listeners share one pool
/// (`"0"`, `"1"`, …, ids reused), param listeners are the param store's ids, shown `"p0"`, …
/// as in TinyBase.
///
/// ```
/// use tinystore_core::views::queries::{QueryListenerId, create_queries};
/// use tinystore_core::Store;
/// let queries = create_queries(&Store::new());
/// let id = queries.add_query_ids_listener(|_| {});
/// assert_eq!(id.to_string(), "0");
/// assert_eq!(queries.add_param_value_listener(None, None, |_, _, _, _| {}).to_string(), "p0");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QueryListenerId {
    /// A result or query-ids listener.
    Result(u32),
    /// A param value(s) listener.
    Param(u32),
}

impl fmt::Display for QueryListenerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueryListenerId::Result(n) => write!(f, "{n}"),
            QueryListenerId::Param(n) => write!(f, "p{n}"),
        }
    }
}

/// Counts of a [`Queries`]' listeners per kind (TinyBase's `getListenerStats`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct QueryListenerStats {
    pub table: usize,
    pub table_cell_ids: usize,
    pub row_count: usize,
    pub row_ids: usize,
    pub sorted_row_ids: usize,
    pub row: usize,
    pub cell_ids: usize,
    pub cell: usize,
    pub param_values: usize,
    pub param_value: usize,
}

/// The result listener kinds, for statistics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stat {
    Table,
    TableCellIds,
    RowCount,
    RowIds,
    SortedRowIds,
    Row,
    CellIds,
    Cell,
}

/// Adds the store listener of a routed listener on one query's result store.
pub(crate) type Adder = Arc<dyn Fn(&Store, &str) -> ListenerId + Send + Sync>;
pub(crate) type QueryIdsFn = Arc<dyn Fn(&Queries) + Send + Sync>;

#[derive(Clone)]
pub(crate) enum QueryIdsListener {
    User(QueryIdsFn),
    /// Keeps the wildcard routed listener with this id on every query's result store.
    Sync(u32),
}

pub(crate) struct Routed {
    pub stat: Stat,
    pub query_id: Option<String>,
    pub stores: IndexMap<String, (Store, ListenerId)>,
    pub adder: Adder,
    pub sync_id: Option<u32>,
}

/// The Queries' own listeners; ids come from the views' shared [`IdPool`] (TinyBase's pool).
#[derive(Default)]
pub(crate) struct Registry {
    pool: IdPool,
    pub query_ids: Vec<(u32, QueryIdsListener)>,
    pub routed: HashMap<u32, Routed>,
}

impl Registry {
    pub fn take_id(&mut self) -> u32 {
        self.pool.take()
    }

    pub fn release(&mut self, id: u32) {
        self.pool.give(id);
    }

    pub fn count(&self, stat: Stat) -> usize {
        self.routed.values().filter(|r| r.stat == stat).count()
    }

    /// Whether a routed listener is attached to this result store.
    pub fn uses(&self, store: &Store) -> bool {
        self.routed
            .values()
            .any(|r| r.stores.values().any(|(s, _)| s.ptr_eq(store)))
    }
}
