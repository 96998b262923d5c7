//! Queries: TinyBase's TinyQL over a [`Store`] (or a
//! [`MergeableStore`](crate::MergeableStore), which derefs to one).
//!
//! Each query's result lives in a [`Store`] of its own (a table named after the query), as in
//! TinyBase, so result getters and listeners have the store's exact semantics. A definition is
//! kept up to date incrementally: a changed row of the queried table (or of a joined row)
//! rewrites only that root row's result, and a grouped query moves only that row between
//! groups, updating their aggregates with the incremental hooks where there are some. Writes to
//! a result store are bracketed by the queried store's transaction, so result listeners fire
//! once, after it (during its did-finish phase), with the net change.
//!
//! ```
//! use tinystore_core::views::queries::create_queries;
//! use tinystore_core::{Cell, Store};
//! let store = Store::new();
//! store.set_cell("pets", "fido", "species", "dog").set_cell("pets", "fido", "price", 5);
//! store.set_cell("pets", "felix", "species", "cat").set_cell("pets", "felix", "price", 4);
//! store.set_cell("species", "dog", "legs", 4).set_cell("species", "cat", "legs", 4);
//! let queries = create_queries(&store);
//! queries.set_query_definition("byKind", "pets", |b| {
//!     b.select("species");
//!     b.join("species", "species");
//!     b.select_from("species", "legs");
//!     b.select("price"); // only selected cells can be aggregated
//!     b.group("price", "sum").as_("total");
//! }).unwrap();
//! assert_eq!(queries.get_result_row("byKind", "0")["total"], Cell::from(5));
//! assert_eq!(queries.get_result_sorted_row_ids("byKind", Some("total"), false, 0, None), ["1", "0"]);
//! ```

mod aggregate;
mod builder;
mod cycles;
mod engine;

mod group;
mod listeners;
mod result_listeners;
mod results;
mod staged;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::{Arc, Weak};

use indexmap::IndexMap;
use parking_lot::Mutex;

use crate::content::Row;
use crate::store::{ListenerId, SortedRowIdsArgs, Store};
use crate::types::Cell;

use crate::views::ViewError;
pub use aggregate::{Aggregate, AggregateFn, AggregateReplaceFn, AggregateStepFn, CustomAggregate};
pub use builder::{
    As, BuildFn, CellIdMapper, HavingFn, JoinFn, On, QueryBuilder, RowCells, SelectFn, TableCells,
    WhereFn,
};
pub use listeners::{QueryListenerId, QueryListenerStats};

use engine::{Plan, Run};
use listeners::{Adder, QueryIdsListener, Registry, Routed, Stat};

/// The param store's table (TinyBase's `_`), one row of params per query.
const PARAMS: &str = "_";

/// The [`Queries`] of `store` (TinyBase's `createQueries`). A `&MergeableStore` derefs to its
/// `&Store`. Memoized as in TinyBase: while any handle to a store's `Queries` is alive, this
/// returns that one (with its definitions and listeners); once all are dropped, a new one.
///
/// ```
/// use tinystore_core::{Store, create_queries};
/// let store = Store::new();
/// let queries = create_queries(&store);
/// queries.set_query_definition("prices", "pets", |b| { b.select("price"); })?;
/// assert!(create_queries(&store).has_query("prices"));
/// // Once every handle is dropped, the next call makes a new, empty one.
/// drop(queries);
/// assert!(!create_queries(&store).has_query("prices"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn create_queries(store: &Store) -> Queries {
    Queries::new(store)
}

/// TinyQL queries over one store: a cheap-to-clone, `Send + Sync` handle.
///
/// Calls that change definitions or params hold the queried store's lock, so they are ordered
/// with its transactions. Query listeners run on the thread that finished the transaction that
/// changed their result.
///
/// ```
/// use tinystore_core::{Cell, Store, create_queries};
/// let store = Store::new();
/// store.set_cell("pets", "fido", "species", "dog").set_cell("pets", "fido", "price", 5);
/// let queries = create_queries(&store);
/// queries.set_query_definition("dogs", "pets", |b| {
///     b.select("price");
///     b.where_("species", "dog");
/// })?;
/// store.set_cell("pets", "rex", "species", "dog").set_cell("pets", "rex", "price", 3);
/// assert_eq!(queries.get_result_cell("dogs", "rex", "price"), Some(Cell::from(3)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Queries {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Queries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queries")
            .field("query_ids", &self.get_query_ids())
            .finish_non_exhaustive()
    }
}

struct Inner {
    store: Store,
    params: Store,
    /// Answers result getters for queries without a result store.
    empty: Store,
    shared: Mutex<Shared>,
    registry: Mutex<Registry>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Runs hold listeners on the queried store; take them off it.
        let queries: Vec<QueryEntry> = self
            .shared
            .get_mut()
            .queries
            .drain(..)
            .map(|(_, e)| e)
            .collect();
        for entry in queries {
            entry.run.teardown();
        }
    }
}

#[derive(Default)]
struct Shared {
    queries: IndexMap<String, QueryEntry>,
    result_stores: IndexMap<String, Store>,
    committing: HashSet<String>,
}

struct QueryEntry {
    table_id: String,
    build: BuildFn,
    as_query: bool,
    param_listener: ListenerId,
    run: Arc<Run>,
    referenced: Vec<String>,
    select_all_queries: cycles::SelectAllSources,
}

/// A new definition's arguments.
struct Definition {
    table_id: String,
    build: BuildFn,
    as_query: bool,
    params: Row,
}

impl Queries {
    /// The store's `Queries`: the live one if any handle to it is held, else a new one.
    fn new(store: &Store) -> Queries {
        let (inner, _) = store.memo().get_or_attach(|| {
            Arc::new(Inner {
                store: store.clone(),
                params: Store::new(),
                empty: Store::new(),
                shared: Mutex::new(Shared::default()),
                registry: Mutex::new(Registry::default()),
            })
        });
        Queries { inner }
    }

    fn weak(&self) -> Weak<Inner> {
        Arc::downgrade(&self.inner)
    }

    fn upgrade(weak: &Weak<Inner>) -> Option<Queries> {
        weak.upgrade().map(|inner| Queries { inner })
    }

    /// The queried store.
    ///
    /// ```
    /// # use tinystore_core::{Cell, Store, create_queries};
    /// let store = Store::new();
    /// let queries = create_queries(&store);
    /// queries.get_store().set_value("open", true);
    /// assert_eq!(store.get_value("open"), Some(Cell::from(true)));
    /// ```
    pub fn get_store(&self) -> &Store {
        &self.inner.store
    }

    // ------------------------------------------------------------------ definitions

    /// Defines (or replaces) a query over `table_id` (TinyBase's `setQueryDefinition`).
    ///
    /// ```
    /// use tinystore_core::views::queries::create_queries;
    /// use tinystore_core::{Cell, Store};
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "sold", false).set_cell("pets", "fido", "price", 5);
    /// let queries = create_queries(&store);
    /// queries.set_query_definition("unsold", "pets", |b| {
    ///     b.select("price");
    ///     b.where_("sold", false);
    /// }).unwrap();
    /// assert_eq!(queries.get_result_row_ids("unsold"), ["fido"]);
    /// ```
    pub fn set_query_definition(
        &self,
        query_id: &str,
        table_id: &str,
        build: impl Fn(&QueryBuilder) + Send + Sync + 'static,
    ) -> Result<&Self, ViewError> {
        self.set_query_definition_with_params(query_id, table_id, build, Row::new())
    }

    /// [`set_query_definition`](Queries::set_query_definition) with initial param values.
    ///
    /// ```
    /// use tinystore_core::{Cell, Row, Store, create_queries};
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "species", "dog").set_cell("pets", "felix", "species", "cat");
    /// let queries = create_queries(&store);
    /// let params: Row = [("species".to_string(), Cell::from("cat"))].into_iter().collect();
    /// queries.set_query_definition_with_params("bySpecies", "pets", |b| {
    ///     b.select("species");
    ///     b.where_("species", b.param("species").unwrap_or(Cell::Null));
    /// }, params)?;
    /// assert_eq!(queries.get_result_row_ids("bySpecies"), ["felix"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_query_definition_with_params(
        &self,
        query_id: &str,
        table_id: &str,
        build: impl Fn(&QueryBuilder) + Send + Sync + 'static,
        params: Row,
    ) -> Result<&Self, ViewError> {
        self.define_new(query_id, table_id, Arc::new(build), false, params)
    }

    /// Defines a query over another query's result (TinyBase v10's
    /// `setQueryDefinition(queryId, true, rootQueryId, build, params)`).
    ///
    /// ```
    /// use tinystore_core::views::queries::create_queries;
    /// use tinystore_core::{Cell, Row, Store};
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "price", 5).set_cell("pets", "rex", "price", 3);
    /// let queries = create_queries(&store);
    /// queries.set_query_definition("all", "pets", |b| { b.select("price"); }).unwrap();
    /// queries.set_query_definition_on_query("cheap", "all", |b| {
    ///     b.select("price");
    ///     b.where_("price", 3);
    /// }, Row::new()).unwrap();
    /// assert_eq!(queries.get_result_row_ids("cheap"), ["rex"]);
    /// ```
    pub fn set_query_definition_on_query(
        &self,
        query_id: &str,
        root_query_id: &str,
        build: impl Fn(&QueryBuilder) + Send + Sync + 'static,
        params: Row,
    ) -> Result<&Self, ViewError> {
        self.define_new(query_id, root_query_id, Arc::new(build), true, params)
    }

    fn define_new(
        &self,
        query_id: &str,
        table_id: &str,
        build: BuildFn,
        as_query: bool,
        params: Row,
    ) -> Result<&Self, ViewError> {
        let table_id = table_id.to_string();
        let definition = Definition {
            table_id,
            build,
            as_query,
            params,
        };
        self.define(query_id, Some(definition))?;
        Ok(self)
    }

    /// Runs a definition: a new one, or (with `None`) the current one again after its params
    /// or a `select_all` source changed.
    fn define(&self, query_id: &str, definition: Option<Definition>) -> Result<(), ViewError> {
        let _lock = self.inner.store.lock();
        let (table_id, build, as_query, params) = match &definition {
            Some(d) => (
                d.table_id.clone(),
                d.build.clone(),
                d.as_query,
                d.params.clone(),
            ),
            None => {
                let shared = self.inner.shared.lock();
                let Some(e) = shared.queries.get(query_id) else {
                    return Ok(());
                };
                let args = (e.table_id.clone(), e.build.clone(), e.as_query);
                drop(shared);
                (args.0, args.1, args.2, self.get_param_values(query_id))
            }
        };
        let builder = QueryBuilder::new(params);
        build(&builder);
        let clauses = builder.finish()?;
        let result = self.result_store(query_id);
        let root = if as_query {
            self.result_store(&table_id)
        } else {
            self.inner.store.clone()
        };
        let plan = Plan::new(
            query_id,
            &table_id,
            &self.inner.store,
            root,
            result.clone(),
            clauses,
            &|id| self.result_store(id),
        );
        let others: HashMap<String, cycles::SelectAllSources> = {
            let shared = self.inner.shared.lock();
            shared
                .queries
                .iter()
                .map(|(id, e)| (id.clone(), e.select_all_queries.clone()))
                .collect()
        };
        if cycles::has_renaming_cycle(query_id, &plan.select_all_queries, &others) {
            return Err(ViewError::SelectAllCycle);
        }
        let select_all_queries = plan.select_all_queries.clone();
        let mut referenced = plan.referenced.clone();
        if as_query {
            referenced.push(table_id.clone());
        }
        let run = Run::new(plan);
        let (weak, q) = (self.weak(), query_id.to_string());
        let rerun: Arc<dyn Fn() + Send + Sync> = Arc::new(move || {
            if let Some(queries) = Queries::upgrade(&weak) {
                // Re-running a definition that was accepted cannot fail.
                let _ = queries.define(&q, None);
            }
        });
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            result.transaction(|result| {
                result.del_table(query_id);
                run.start(rerun);
                self.commit(
                    query_id,
                    definition,
                    run.clone(),
                    referenced,
                    select_all_queries,
                );
            });
        }));
        if let Err(panic) = outcome {
            run.teardown();
            self.clean_stores();
            resume_unwind(panic);
        }
        self.clean_stores();
        Ok(())
    }

    /// Makes a started run the query's current one; a new definition also (re)registers the
    /// param listener and sets the params.
    fn commit(
        &self,
        query_id: &str,
        definition: Option<Definition>,
        run: Arc<Run>,
        referenced: Vec<String>,
        select_all_queries: cycles::SelectAllSources,
    ) {
        let params = &self.inner.params;
        let old_run = {
            let mut shared = self.inner.shared.lock();
            match shared.queries.get_mut(query_id) {
                Some(e) => {
                    e.select_all_queries = select_all_queries.clone();
                    Some(std::mem::replace(&mut e.run, run.clone()))
                }
                None => None,
            }
        };
        if let Some(old) = &old_run {
            old.teardown();
        }
        let Some(d) = definition else { return };
        let is_new = old_run.is_none();
        // The old param listener goes before the new one is added, so the new one can reuse
        // its id, as in TinyBase.
        let old_listener = self
            .inner
            .shared
            .lock()
            .queries
            .get(query_id)
            .map(|e| e.param_listener);
        if let Some(id) = old_listener {
            params.del_listener(id);
        }
        let (weak, q) = (self.weak(), query_id.to_string());
        self.inner
            .shared
            .lock()
            .committing
            .insert(query_id.to_string());
        let param_listener = params.add_row_listener(
            Some(PARAMS),
            Some(query_id),
            move |_, _, _| {
                if let Some(queries) = Queries::upgrade(&weak) {
                    let committing = queries.inner.shared.lock().committing.contains(&q);
                    if !committing {
                        let _ = queries.define(&q, None);
                    }
                }
            },
            true,
        );
        {
            let mut shared = self.inner.shared.lock();
            let entry = QueryEntry {
                table_id: d.table_id,
                build: d.build,
                as_query: d.as_query,
                param_listener,
                run,
                referenced,
                select_all_queries,
            };
            shared.queries.insert(query_id.to_string(), entry);
        }
        if is_new {
            self.call_query_ids_listeners();
        }
        self.set_or_del_params(query_id, &d.params);
        self.inner.shared.lock().committing.remove(query_id);
    }

    /// Deletes a query definition and its result (TinyBase's `delQueryDefinition`).
    ///
    /// ```
    /// # use tinystore_core::{Store, create_queries};
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "price", 5);
    /// let queries = create_queries(&store);
    /// queries.set_query_definition("prices", "pets", |b| { b.select("price"); })?;
    /// queries.del_query_definition("prices");
    /// assert!(!queries.has_query("prices"));
    /// assert!(queries.get_result_table("prices").is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn del_query_definition(&self, query_id: &str) -> &Self {
        let _lock = self.inner.store.lock();
        let entry = self.inner.shared.lock().queries.shift_remove(query_id);
        if let Some(entry) = entry {
            self.inner.params.del_listener(entry.param_listener);
            self.inner.params.del_row(PARAMS, query_id);
            entry.run.teardown();
            entry.run.clear_staged();
            self.result_store(query_id).del_table(query_id);
            self.call_query_ids_listeners();
        }
        self.clean_stores();
        self
    }

    /// Deletes every definition (TinyBase's `destroy`).
    ///
    /// ```
    /// # use tinystore_core::{Store, create_queries};
    /// let queries = create_queries(&Store::new());
    /// queries.set_query_definition("a", "pets", |b| { b.select("price"); })?;
    /// queries.set_query_definition("b", "pets", |b| { b.select("name"); })?;
    /// queries.destroy();
    /// assert!(queries.get_query_ids().is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn destroy(&self) {
        for query_id in self.get_query_ids() {
            self.del_query_definition(&query_id);
        }
    }

    /// The defined query ids, in definition order.
    ///
    /// ```
    /// # use tinystore_core::{Store, create_queries};
    /// let queries = create_queries(&Store::new());
    /// queries.set_query_definition("b", "pets", |b| { b.select("price"); })?;
    /// queries.set_query_definition("a", "pets", |b| { b.select("name"); })?;
    /// assert_eq!(queries.get_query_ids(), ["b", "a"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_query_ids(&self) -> Vec<String> {
        self.inner.shared.lock().queries.keys().cloned().collect()
    }

    /// Calls `f` with each query id.
    ///
    /// ```
    /// # use tinystore_core::{Store, create_queries};
    /// let queries = create_queries(&Store::new());
    /// queries.set_query_definition("prices", "pets", |b| { b.select("price"); })?;
    /// let mut ids = Vec::new();
    /// queries.for_each_query(|id| ids.push(id.to_string()));
    /// assert_eq!(ids, ["prices"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn for_each_query(&self, mut f: impl FnMut(&str)) {
        for id in self.get_query_ids() {
            f(&id);
        }
    }

    /// Whether a query is defined.
    ///
    /// ```
    /// # use tinystore_core::{Store, create_queries};
    /// let queries = create_queries(&Store::new());
    /// queries.set_query_definition("prices", "pets", |b| { b.select("price"); })?;
    /// assert!(queries.has_query("prices"));
    /// assert!(!queries.has_query("names"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn has_query(&self, query_id: &str) -> bool {
        self.inner.shared.lock().queries.contains_key(query_id)
    }

    /// The table (or, for a query on a query, the root query) a query reads.
    ///
    /// ```
    /// # use tinystore_core::{Row, Store, create_queries};
    /// let queries = create_queries(&Store::new());
    /// queries.set_query_definition("prices", "pets", |b| { b.select("price"); })?;
    /// queries.set_query_definition_on_query("cheap", "prices", |b| { b.select("price"); }, Row::new())?;
    /// assert_eq!(queries.get_table_id("prices").as_deref(), Some("pets"));
    /// assert_eq!(queries.get_table_id("cheap").as_deref(), Some("prices"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_table_id(&self, query_id: &str) -> Option<String> {
        self.inner
            .shared
            .lock()
            .queries
            .get(query_id)
            .map(|e| e.table_id.clone())
    }

    fn result_store(&self, query_id: &str) -> Store {
        self.inner
            .shared
            .lock()
            .result_stores
            .entry(query_id.to_string())
            .or_default()
            .clone()
    }

    /// The result store of a query, or an empty store.
    fn result(&self, query_id: &str) -> Store {
        let shared = self.inner.shared.lock();
        shared
            .result_stores
            .get(query_id)
            .unwrap_or(&self.inner.empty)
            .clone()
    }

    /// Drops the result stores of undefined queries that nothing listens to or joins.
    fn clean_stores(&self) {
        let registry = self.inner.registry.lock();
        let mut shared = self.inner.shared.lock();
        let referenced: HashSet<String> = shared
            .queries
            .values()
            .flat_map(|e| e.referenced.iter().cloned())
            .collect();
        let Shared {
            queries,
            result_stores,
            ..
        } = &mut *shared;
        result_stores.retain(|id, store| {
            queries.contains_key(id) || referenced.contains(id) || registry.uses(store)
        });
    }

    // ------------------------------------------------------------------ params

    fn set_or_del_params(&self, query_id: &str, params: &Row) {
        if params.is_empty() {
            self.inner.params.del_row(PARAMS, query_id);
        } else {
            self.inner.params.set_row(PARAMS, query_id, params);
        }
    }

    /// Replaces a query's param values, re-running it (no-op for an undefined query).
    ///
    /// ```
    /// # use tinystore_core::{Cell, Row, Store, create_queries};
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "species", "dog").set_cell("pets", "felix", "species", "cat");
    /// let queries = create_queries(&store);
    /// queries.set_query_definition("bySpecies", "pets", |b| {
    ///     b.select("species");
    ///     b.where_("species", b.param("species").unwrap_or(Cell::Null));
    /// })?;
    /// let params: Row = [("species".to_string(), Cell::from("dog"))].into_iter().collect();
    /// queries.set_param_values("bySpecies", &params);
    /// assert_eq!(queries.get_result_row_ids("bySpecies"), ["fido"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_param_values(&self, query_id: &str, params: &Row) -> &Self {
        let _lock = self.inner.store.lock();
        if self.has_query(query_id) {
            self.set_or_del_params(query_id, params);
        }
        self
    }

    /// Sets one param value, re-running the query (no-op for an undefined query).
    ///
    /// ```
    /// # use tinystore_core::{Cell, Store, create_queries};
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "price", 5).set_cell("pets", "felix", "price", 4);
    /// let queries = create_queries(&store);
    /// queries.set_query_definition("atPrice", "pets", |b| {
    ///     b.select("price");
    ///     b.where_("price", b.param("price").unwrap_or(Cell::Null));
    /// })?;
    /// queries.set_param_value("atPrice", "price", 4);
    /// assert_eq!(queries.get_result_row_ids("atPrice"), ["felix"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_param_value(&self, query_id: &str, param_id: &str, value: impl Into<Cell>) -> &Self {
        let _lock = self.inner.store.lock();
        if self.has_query(query_id) {
            self.inner
                .params
                .set_cell(PARAMS, query_id, param_id, value);
        }
        self
    }

    /// A query's param values.
    ///
    /// ```
    /// # use tinystore_core::{Cell, Store, create_queries};
    /// let queries = create_queries(&Store::new());
    /// queries.set_query_definition("q", "pets", |b| { b.select("price"); })?;
    /// queries.set_param_value("q", "min", 3).set_param_value("q", "max", 9);
    /// let params = queries.get_param_values("q");
    /// assert_eq!((params["min"].clone(), params["max"].clone()), (Cell::from(3), Cell::from(9)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_param_values(&self, query_id: &str) -> Row {
        self.inner.params.get_row(PARAMS, query_id)
    }

    /// One param value of a query.
    ///
    /// ```
    /// # use tinystore_core::{Cell, Store, create_queries};
    /// let queries = create_queries(&Store::new());
    /// queries.set_query_definition("q", "pets", |b| { b.select("price"); })?;
    /// queries.set_param_value("q", "min", 3);
    /// assert_eq!(queries.get_param_value("q", "min"), Some(Cell::from(3)));
    /// // Params of an undefined query are not kept.
    /// queries.set_param_value("other", "min", 3);
    /// assert_eq!(queries.get_param_value("other", "min"), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_param_value(&self, query_id: &str, param_id: &str) -> Option<Cell> {
        self.inner.params.get_cell(PARAMS, query_id, param_id)
    }

    /// Listens to a query's param values (`None`: any query): `(queries, queryId, paramValues)`.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// # use tinystore_core::{Store, create_queries};
    /// let queries = create_queries(&Store::new());
    /// queries.set_query_definition("q", "pets", |b| { b.select("price"); })?;
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let s = seen.clone();
    /// queries.add_param_values_listener(Some("q"), move |_, _, params| s.lock().unwrap().push(params.len()));
    /// queries.set_param_value("q", "min", 3);
    /// assert_eq!(*seen.lock().unwrap(), [1]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_param_values_listener(
        &self,
        query_id: Option<&str>,
        listener: impl Fn(&Queries, &str, &Row) + Send + Sync + 'static,
    ) -> QueryListenerId {
        let weak = self.weak();
        let id = self.inner.params.add_row_listener(
            Some(PARAMS),
            query_id,
            move |params, _, q| {
                if let Some(queries) = Queries::upgrade(&weak) {
                    listener(&queries, q, &params.get_row(PARAMS, q));
                }
            },
            false,
        );
        QueryListenerId::Param(id.0)
    }

    /// Listens to one param value (`None`s: any): `(queries, queryId, paramId, value)`.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// # use tinystore_core::{Cell, Store, create_queries};
    /// let queries = create_queries(&Store::new());
    /// queries.set_query_definition("q", "pets", |b| { b.select("price"); })?;
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let s = seen.clone();
    /// queries.add_param_value_listener(Some("q"), None, move |_, _, param, value| {
    ///     s.lock().unwrap().push((param.to_string(), value.cloned()))
    /// });
    /// queries.set_param_value("q", "min", 3);
    /// assert_eq!(*seen.lock().unwrap(), [("min".to_string(), Some(Cell::from(3)))]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_param_value_listener(
        &self,
        query_id: Option<&str>,
        param_id: Option<&str>,
        listener: impl Fn(&Queries, &str, &str, Option<&Cell>) + Send + Sync + 'static,
    ) -> QueryListenerId {
        let weak = self.weak();
        let id = self.inner.params.add_cell_listener(
            Some(PARAMS),
            query_id,
            param_id,
            move |_, _, q, p, new, _| {
                if let Some(queries) = Queries::upgrade(&weak) {
                    listener(&queries, q, p, new);
                }
            },
            false,
        );
        QueryListenerId::Param(id.0)
    }

    // ------------------------------------------------------------------ listeners

    /// Listens to the query ids: `(queries)`, after a query is added or deleted.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// # use tinystore_core::{Store, create_queries};
    /// let queries = create_queries(&Store::new());
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let s = seen.clone();
    /// queries.add_query_ids_listener(move |queries| s.lock().unwrap().push(queries.get_query_ids()));
    /// queries.set_query_definition("prices", "pets", |b| { b.select("price"); })?;
    /// queries.del_query_definition("prices");
    /// assert_eq!(*seen.lock().unwrap(), [vec!["prices".to_string()], vec![]]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_query_ids_listener(
        &self,
        listener: impl Fn(&Queries) + Send + Sync + 'static,
    ) -> QueryListenerId {
        let mut registry = self.inner.registry.lock();
        let id = registry.take_id();
        registry
            .query_ids
            .push((id, QueryIdsListener::User(Arc::new(listener))));
        QueryListenerId::Result(id)
    }

    fn call_query_ids_listeners(&self) {
        let listeners: Vec<QueryIdsListener> = {
            let registry = self.inner.registry.lock();
            registry.query_ids.iter().map(|(_, l)| l.clone()).collect()
        };
        for listener in listeners {
            match listener {
                QueryIdsListener::User(f) => f(self),
                QueryIdsListener::Sync(routed) => self.sync_routed(routed),
            }
        }
    }

    /// Attaches a routed listener to the result store of its query, or of every query.
    fn sync_routed(&self, id: u32) {
        let query_ids = self.get_query_ids();
        // Store listeners are added and removed with no Queries lock held: a result store may
        // be publishing on another thread, and its listeners may call back into the Queries.
        let (adder, missing, stale) = {
            let mut registry = self.inner.registry.lock();
            let Some(routed) = registry.routed.get_mut(&id) else {
                return;
            };
            let wanted: Vec<String> = match &routed.query_id {
                Some(q) => vec![q.clone()],
                None => query_ids,
            };
            let missing: Vec<String> = wanted
                .iter()
                .filter(|q| !routed.stores.contains_key(*q))
                .cloned()
                .collect();
            let mut stale = Vec::new();
            routed.stores.retain(|q, entry| {
                let keep = wanted.contains(q);
                if !keep {
                    stale.push(entry.clone());
                }
                keep
            });
            (routed.adder.clone(), missing, stale)
        };
        let added: Vec<(String, Store, ListenerId)> = missing
            .into_iter()
            .map(|q| {
                let store = self.result_store(&q);
                let listener = adder(&store, &q);
                (q, store, listener)
            })
            .collect();
        let mut unused = stale;
        {
            let mut registry = self.inner.registry.lock();
            match registry.routed.get_mut(&id) {
                Some(routed) => {
                    for (q, store, listener) in added {
                        if routed.stores.contains_key(&q) {
                            unused.push((store, listener));
                        } else {
                            routed.stores.insert(q, (store, listener));
                        }
                    }
                }
                None => unused.extend(added.into_iter().map(|(_, s, l)| (s, l))),
            }
        }
        for (store, listener) in unused {
            store.del_listener(listener);
        }
    }

    fn add_routed(&self, stat: Stat, query_id: Option<&str>, adder: Adder) -> QueryListenerId {
        let id = {
            let mut registry = self.inner.registry.lock();
            let id = registry.take_id();
            let sync_id = query_id.is_none().then(|| {
                let sync = registry.take_id();
                registry.query_ids.push((sync, QueryIdsListener::Sync(id)));
                sync
            });
            registry.routed.insert(
                id,
                Routed {
                    stat,
                    query_id: query_id.map(str::to_string),
                    stores: IndexMap::new(),
                    adder,
                    sync_id,
                },
            );
            id
        };
        self.sync_routed(id);
        QueryListenerId::Result(id)
    }

    /// Removes a listener (unknown ids are ignored).
    ///
    /// ```
    /// # use tinystore_core::{Store, create_queries};
    /// let queries = create_queries(&Store::new());
    /// let id = queries.add_result_row_count_listener(None, |_, _, _| {});
    /// queries.del_listener(id);
    /// assert_eq!(queries.get_listener_stats().row_count, 0);
    /// ```
    pub fn del_listener(&self, id: QueryListenerId) -> &Self {
        match id {
            QueryListenerId::Param(n) => {
                self.inner.params.del_listener(ListenerId(n));
            }
            QueryListenerId::Result(n) => {
                let routed = {
                    let mut registry = self.inner.registry.lock();
                    let routed = registry.routed.remove(&n);
                    if let Some(sync) = routed.as_ref().and_then(|r| r.sync_id) {
                        registry.query_ids.retain(|(i, _)| *i != sync);
                        registry.release(sync);
                    }
                    if routed.is_some() || registry.query_ids.iter().any(|(i, _)| *i == n) {
                        registry.query_ids.retain(|(i, _)| *i != n);
                        registry.release(n);
                    }
                    routed
                };
                for (_, (store, listener)) in routed.map(|r| r.stores).unwrap_or_default() {
                    store.del_listener(listener);
                }
            }
        }
        self.clean_stores();
        self
    }

    /// Listener counts per kind (TinyBase's `getListenerStats`).
    ///
    /// ```
    /// # use tinystore_core::{Store, create_queries};
    /// let queries = create_queries(&Store::new());
    /// queries.add_result_row_listener(Some("q"), None, |_, _, _| {});
    /// queries.add_param_value_listener(None, None, |_, _, _, _| {});
    /// let stats = queries.get_listener_stats();
    /// assert_eq!((stats.row, stats.param_value, stats.cell), (1, 1, 0));
    /// ```
    pub fn get_listener_stats(&self) -> QueryListenerStats {
        let registry = self.inner.registry.lock();
        let params = self.inner.params.get_listener_stats();
        QueryListenerStats {
            table: registry.count(Stat::Table),
            table_cell_ids: registry.count(Stat::TableCellIds),
            row_count: registry.count(Stat::RowCount),
            row_ids: registry.count(Stat::RowIds),
            sorted_row_ids: registry.count(Stat::SortedRowIds),
            row: registry.count(Stat::Row),
            cell_ids: registry.count(Stat::CellIds),
            cell: registry.count(Stat::Cell),
            param_values: params
                .row
                .saturating_sub(self.inner.shared.lock().queries.len()),
            param_value: params.cell,
        }
    }
}

fn sorted_args(
    query_id: &str,
    cell_id: Option<&str>,
    descending: bool,
    offset: usize,
    limit: Option<usize>,
) -> SortedRowIdsArgs {
    let mut args = SortedRowIdsArgs::new(query_id)
        .descending(descending)
        .offset(offset);
    args.cell_id = cell_id.map(str::to_string);
    args.limit = limit;
    args
}
