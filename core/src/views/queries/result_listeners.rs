//! The result listener adders of [`Queries`]: each attaches the matching store listener to the
//! result store of its query, or (for `None`) of every query as they come and go.

use std::sync::Arc;

use crate::store::{IdChanges, Store};
use crate::types::Cell;

use super::listeners::{Adder, Stat};
use super::{Queries, QueryListenerId, sorted_args};

/// Wraps a user listener for a result store: it is called with the [`Queries`] while they live.
macro_rules! routed {
    ($self:ident, $stat:expr, $query:expr, $listener:ident, |$store:ident, $q:ident, $weak:ident, $l:ident| $add:expr) => {{
        let $l = Arc::new($listener);
        let $weak = $self.weak();
        let adder: Adder = Arc::new(move |$store: &Store, $q: &str| {
            let ($l, $weak) = ($l.clone(), $weak.clone());
            $add
        });
        $self.add_routed($stat, $query, adder)
    }};
}

/// A result listener whose store listener takes the query id (and, with `row`, a row id) and
/// passes its arguments through.
macro_rules! result_listener {
    ($(#[$doc:meta])* $name:ident, $stat:expr, $add:ident, ($($arg:ident: $ty:ty),*)) => {
        $(#[$doc])*
        pub fn $name(
            &self,
            query_id: Option<&str>,
            listener: impl Fn(&Queries, &str $(, $ty)*) + Send + Sync + 'static,
        ) -> QueryListenerId {
            // The store listener takes the query id as given: a wildcard one is a wildcard
            // table listener of each result store, called after the ones for that query id,
            // as in TinyBase.
            let table = query_id.map(str::to_string);
            routed!(self, $stat, query_id, listener, |store, _q, weak, l| {
                store.$add(
                    table.as_deref(),
                    move |_, t $(, $arg)*| {
                        if let Some(qs) = Queries::upgrade(&weak) {
                            l(&qs, t $(, $arg)*);
                        }
                    },
                    true,
                )
            })
        }
    };
    ($(#[$doc:meta])* row $name:ident, $stat:expr, $add:ident, ($($arg:ident: $ty:ty),*)) => {
        $(#[$doc])*
        pub fn $name(
            &self,
            query_id: Option<&str>,
            row_id: Option<&str>,
            listener: impl Fn(&Queries, &str, &str $(, $ty)*) + Send + Sync + 'static,
        ) -> QueryListenerId {
            let (table, row_id) = (query_id.map(str::to_string), row_id.map(str::to_string));
            routed!(self, $stat, query_id, listener, |store, _q, weak, l| {
                store.$add(
                    table.as_deref(),
                    row_id.as_deref(),
                    move |_, t, r $(, $arg)*| {
                        if let Some(qs) = Queries::upgrade(&weak) {
                            l(&qs, t, r $(, $arg)*);
                        }
                    },
                    true,
                )
            })
        }
    };
}

impl Queries {
    result_listener!(
        /// Listens to a query's result table (`None`: any query): `(queries, queryId)`.
        ///
        /// ```
        /// use tinystore_core::views::queries::create_queries;
        /// use tinystore_core::Store;
        /// use std::sync::{Arc, atomic::{AtomicUsize, Ordering}};
        /// let store = Store::new();
        /// let queries = create_queries(&store);
        /// queries.set_query_definition("q", "pets", |b| { b.select("price"); }).unwrap();
        /// let calls = Arc::new(AtomicUsize::new(0));
        /// let seen = calls.clone();
        /// queries.add_result_table_listener(None, move |_, _| { seen.fetch_add(1, Ordering::SeqCst); });
        /// store.set_cell("pets", "fido", "price", 5).set_cell("pets", "fido", "color", "brown");
        /// assert_eq!(calls.load(Ordering::SeqCst), 1);
        /// ```
        add_result_table_listener, Stat::Table, add_table_listener, ()
    );
    result_listener!(
        /// Listens to a result's cell ids: `(queries, queryId, idChanges)`.
        ///
        /// ```
        /// use std::sync::{Arc, Mutex};
        /// # use tinystore_core::{Store, create_queries};
        /// let store = Store::new();
        /// let queries = create_queries(&store);
        /// queries.set_query_definition("q", "pets", |b| { b.select("price"); })?;
        /// let seen = Arc::new(Mutex::new(Vec::new()));
        /// let s = seen.clone();
        /// queries.add_result_table_cell_ids_listener(Some("q"), move |_, _, changes| {
        ///     s.lock().unwrap().extend(changes.iter().map(|(id, change)| (id.to_string(), *change)))
        /// });
        /// store.set_cell("pets", "fido", "price", 5);
        /// assert_eq!(*seen.lock().unwrap(), [("price".to_string(), 1)]);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        add_result_table_cell_ids_listener, Stat::TableCellIds, add_table_cell_ids_listener,
        (changes: &IdChanges)
    );
    result_listener!(
        /// Listens to a result's row count: `(queries, queryId, count)`.
        ///
        /// ```
        /// use std::sync::{Arc, Mutex};
        /// # use tinystore_core::{Store, create_queries};
        /// let store = Store::new();
        /// let queries = create_queries(&store);
        /// queries.set_query_definition("q", "pets", |b| { b.select("price"); })?;
        /// let seen = Arc::new(Mutex::new(Vec::new()));
        /// let s = seen.clone();
        /// queries.add_result_row_count_listener(Some("q"), move |_, _, count| s.lock().unwrap().push(count));
        /// store.set_cell("pets", "fido", "price", 5).set_cell("pets", "felix", "price", 4);
        /// assert_eq!(*seen.lock().unwrap(), [1, 2]);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        add_result_row_count_listener, Stat::RowCount, add_row_count_listener, (count: usize)
    );
    result_listener!(
        /// Listens to a result's row ids: `(queries, queryId, idChanges)`.
        ///
        /// ```
        /// use std::sync::{Arc, Mutex};
        /// # use tinystore_core::{Store, create_queries};
        /// let store = Store::new();
        /// store.set_cell("pets", "fido", "price", 5);
        /// let queries = create_queries(&store);
        /// queries.set_query_definition("q", "pets", |b| { b.select("price"); })?;
        /// let seen = Arc::new(Mutex::new(Vec::new()));
        /// let s = seen.clone();
        /// queries.add_result_row_ids_listener(Some("q"), move |_, _, changes| {
        ///     s.lock().unwrap().extend(changes.iter().map(|(id, change)| (id.to_string(), *change)))
        /// });
        /// store.del_row("pets", "fido");
        /// assert_eq!(*seen.lock().unwrap(), [("fido".to_string(), -1)]);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        add_result_row_ids_listener, Stat::RowIds, add_row_ids_listener, (changes: &IdChanges)
    );
    result_listener!(
        /// Listens to result rows (`None`s: any): `(queries, queryId, rowId)`.
        ///
        /// ```
        /// use std::sync::{Arc, Mutex};
        /// # use tinystore_core::{Store, create_queries};
        /// let store = Store::new();
        /// let queries = create_queries(&store);
        /// queries.set_query_definition("q", "pets", |b| { b.select("price"); })?;
        /// let seen = Arc::new(Mutex::new(Vec::new()));
        /// let s = seen.clone();
        /// queries.add_result_row_listener(Some("q"), None, move |_, _, row| s.lock().unwrap().push(row.to_string()));
        /// // A change to an unselected cell leaves the result alone.
        /// store.set_cell("pets", "fido", "price", 5).set_cell("pets", "fido", "color", "brown");
        /// assert_eq!(*seen.lock().unwrap(), ["fido"]);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        row add_result_row_listener, Stat::Row, add_row_listener, ()
    );
    result_listener!(
        /// Listens to a result row's cell ids: `(queries, queryId, rowId, idChanges)`.
        ///
        /// ```
        /// use std::sync::{Arc, Mutex};
        /// # use tinystore_core::{Store, create_queries};
        /// let store = Store::new();
        /// store.set_cell("pets", "fido", "price", 5);
        /// let queries = create_queries(&store);
        /// queries.set_query_definition("q", "pets", |b| { b.select("price"); b.select("sold"); })?;
        /// let seen = Arc::new(Mutex::new(Vec::new()));
        /// let s = seen.clone();
        /// queries.add_result_cell_ids_listener(Some("q"), Some("fido"), move |_, _, _, changes| {
        ///     s.lock().unwrap().extend(changes.iter().map(|(id, change)| (id.to_string(), *change)))
        /// });
        /// store.set_cell("pets", "fido", "sold", true);
        /// assert_eq!(*seen.lock().unwrap(), [("sold".to_string(), 1)]);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        row add_result_cell_ids_listener, Stat::CellIds, add_cell_ids_listener, (changes: &IdChanges)
    );

    /// Listens to a result's sorted, sliced row ids:
    /// `(queries, queryId, cellId, descending, offset, limit, sortedRowIds)`.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// # use tinystore_core::{Store, create_queries};
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "price", 5).set_cell("pets", "felix", "price", 4);
    /// let queries = create_queries(&store);
    /// queries.set_query_definition("q", "pets", |b| { b.select("price"); })?;
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let s = seen.clone();
    /// // The cheapest pet, as it changes.
    /// queries.add_result_sorted_row_ids_listener(Some("q"), Some("price"), false, 0, Some(1), move |_, _, _, _, _, _, ids| {
    ///     s.lock().unwrap().push(ids.to_vec())
    /// });
    /// store.set_cell("pets", "rex", "price", 3);
    /// assert_eq!(*seen.lock().unwrap(), [["rex"]]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[allow(clippy::type_complexity)]
    pub fn add_result_sorted_row_ids_listener(
        &self,
        query_id: Option<&str>,
        cell_id: Option<&str>,
        descending: bool,
        offset: usize,
        limit: Option<usize>,
        listener: impl Fn(&Queries, &str, Option<&str>, bool, usize, Option<usize>, &[String])
        + Send
        + Sync
        + 'static,
    ) -> QueryListenerId {
        let cell_id = cell_id.map(str::to_string);
        routed!(
            self,
            Stat::SortedRowIds,
            query_id,
            listener,
            |store, q, weak, l| {
                let args = sorted_args(q, cell_id.as_deref(), descending, offset, limit);
                store.add_sorted_row_ids_listener(
                    args,
                    move |_, a, ids| {
                        if let Some(qs) = Queries::upgrade(&weak) {
                            l(
                                &qs,
                                &a.table_id,
                                a.cell_id.as_deref(),
                                a.descending,
                                a.offset,
                                a.limit,
                                ids,
                            );
                        }
                    },
                    true,
                )
            }
        )
    }

    /// Listens to result cells: `(queries, queryId, rowId, cellId, newCell, oldCell)`.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// # use tinystore_core::{Cell, Store, create_queries};
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "price", 5);
    /// let queries = create_queries(&store);
    /// queries.set_query_definition("q", "pets", |b| { b.select("price"); })?;
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let s = seen.clone();
    /// queries.add_result_cell_listener(Some("q"), None, Some("price"), move |_, _, row, _, new, old| {
    ///     s.lock().unwrap().push((row.to_string(), new.cloned(), old.cloned()))
    /// });
    /// store.set_cell("pets", "fido", "price", 6);
    /// assert_eq!(*seen.lock().unwrap(), [("fido".to_string(), Some(Cell::from(6)), Some(Cell::from(5)))]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[allow(clippy::type_complexity)]
    pub fn add_result_cell_listener(
        &self,
        query_id: Option<&str>,
        row_id: Option<&str>,
        cell_id: Option<&str>,
        listener: impl Fn(&Queries, &str, &str, &str, Option<&Cell>, Option<&Cell>)
        + Send
        + Sync
        + 'static,
    ) -> QueryListenerId {
        let (table, row_id, cell_id) = (
            query_id.map(str::to_string),
            row_id.map(str::to_string),
            cell_id.map(str::to_string),
        );
        routed!(
            self,
            Stat::Cell,
            query_id,
            listener,
            |store, _q, weak, l| {
                store.add_cell_listener(
                    table.as_deref(),
                    row_id.as_deref(),
                    cell_id.as_deref(),
                    move |_, t, r, c, new, old| {
                        if let Some(qs) = Queries::upgrade(&weak) {
                            l(&qs, t, r, c, new, old);
                        }
                    },
                    true,
                )
            }
        )
    }
}
