//! The Queries object over a Store (TinyBase's `createQueries`): definitions through a
//! foreign [`QueryDefinition`], params, result getters and listeners.

use super::*;

use tinystore_core::views::queries::{self as cq, QueryListenerId};

use super::query_builder::{QueryDefinition, build_fn};
use super::view_common::{ViewEvent, ViewListener, notify, trapped};

/// TinyQL queries over a store; each result is a table named after its query.
#[derive(Debug, uniffi::Object)]
pub struct Queries {
    inner: cq::Queries,
}

/// Creates a Queries object over a store.
#[uniffi::export]
pub fn create_queries(store: Arc<Store>) -> Arc<Queries> {
    Arc::new(Queries {
        inner: cq::create_queries(store.core()),
    })
}

// A param listener's id has bit 32 set, so both kinds share one `u64` space.
const PARAM_BIT: u64 = 1 << 32;

fn listener_id(id: QueryListenerId) -> u64 {
    match id {
        QueryListenerId::Result(n) => n as u64,
        QueryListenerId::Param(n) => PARAM_BIT | n as u64,
    }
}

fn row_json(row: &Row) -> String {
    json::stringify(&content::row_to_json(row, true))
}

fn count(n: usize) -> u64 {
    n as u64
}

#[uniffi::export]
impl Queries {
    /// Defines (or replaces) a query over `table_id` (or, with `on_query`, over the result of
    /// the query `table_id`), with initial param values. An invalid definition (unknown
    /// aggregate, unnamed calculated select) is `InvalidValue`; a failing foreign function
    /// is `Callback`.
    pub fn set_query_definition(
        &self,
        query_id: String,
        table_id: String,
        definition: Arc<dyn QueryDefinition>,
        params: HashMap<String, CellValue>,
        on_query: bool,
    ) -> Result<(), TinystoreError> {
        let (params, build) = (to_row(params)?, build_fn(definition));
        let result = trapped(|| {
            if on_query {
                self.inner
                    .set_query_definition_on_query(&query_id, &table_id, build, params)
                    .map(|_| ())
            } else {
                self.inner
                    .set_query_definition_with_params(&query_id, &table_id, build, params)
                    .map(|_| ())
            }
        })?;
        result.map_err(|e| TinystoreError::classified(&e))
    }
    /// Removes a query definition.
    pub fn del_query_definition(&self, query_id: String) {
        self.inner.del_query_definition(&query_id);
    }
    /// TinyBase's `destroy()`: removes every definition and the store listeners.
    pub fn shutdown(&self) {
        self.inner.destroy();
    }
    /// The query ids.
    pub fn get_query_ids(&self) -> Vec<String> {
        self.inner.get_query_ids()
    }
    /// Whether a query is defined.
    pub fn has_query(&self, query_id: String) -> bool {
        self.inner.has_query(&query_id)
    }
    /// The queried table's (or query's) id.
    pub fn get_table_id(&self, query_id: String) -> Option<String> {
        self.inner.get_table_id(&query_id)
    }

    // ------------------------------------------------------------------ params

    /// Replaces a query's param values (re-running it).
    pub fn set_param_values(
        &self,
        query_id: String,
        params: HashMap<String, CellValue>,
    ) -> Result<(), TinystoreError> {
        let params = to_row(params)?;
        trapped(|| {
            self.inner.set_param_values(&query_id, &params);
        })
    }
    /// Sets one param value (re-running the query).
    pub fn set_param_value(
        &self,
        query_id: String,
        param_id: String,
        value: CellValue,
    ) -> Result<(), TinystoreError> {
        let value = to_cell(value)?;
        trapped(|| {
            self.inner.set_param_value(&query_id, &param_id, value);
        })
    }
    /// A query's param values as a JSON object, in order.
    pub fn get_param_values_json(&self, query_id: String) -> String {
        row_json(&self.inner.get_param_values(&query_id))
    }
    /// One param value.
    pub fn get_param_value(&self, query_id: String, param_id: String) -> Option<CellValue> {
        self.inner
            .get_param_value(&query_id, &param_id)
            .map(Into::into)
    }

    // ------------------------------------------------------------------ results

    /// A query's result table as JSON, in order.
    pub fn get_result_table_json(&self, query_id: String) -> String {
        json::stringify(&content::table_to_json(
            &self.inner.get_result_table(&query_id),
            true,
        ))
    }
    /// Whether a query's result has any row.
    pub fn has_result_table(&self, query_id: String) -> bool {
        self.inner.has_result_table(&query_id)
    }
    /// The cell ids used in a query's result.
    pub fn get_result_table_cell_ids(&self, query_id: String) -> Vec<String> {
        self.inner.get_result_table_cell_ids(&query_id)
    }
    /// How many rows a query's result has.
    pub fn get_result_row_count(&self, query_id: String) -> u64 {
        count(self.inner.get_result_row_count(&query_id))
    }
    /// A query's result row ids.
    pub fn get_result_row_ids(&self, query_id: String) -> Vec<String> {
        self.inner.get_result_row_ids(&query_id)
    }
    /// A query's result row ids sorted by a cell (`None`: by id), sliced.
    pub fn get_result_sorted_row_ids(
        &self,
        query_id: String,
        cell_id: Option<String>,
        descending: bool,
        offset: u64,
        limit: Option<u64>,
    ) -> Vec<String> {
        self.inner.get_result_sorted_row_ids(
            &query_id,
            cell_id.as_deref(),
            descending,
            offset as usize,
            limit.map(|l| l as usize),
        )
    }
    /// One result row as JSON, in order.
    pub fn get_result_row_json(&self, query_id: String, row_id: String) -> String {
        row_json(&self.inner.get_result_row(&query_id, &row_id))
    }
    /// Whether a result row exists.
    pub fn has_result_row(&self, query_id: String, row_id: String) -> bool {
        self.inner.has_result_row(&query_id, &row_id)
    }
    /// A result row's cell ids.
    pub fn get_result_cell_ids(&self, query_id: String, row_id: String) -> Vec<String> {
        self.inner.get_result_cell_ids(&query_id, &row_id)
    }
    /// One result cell.
    pub fn get_result_cell(
        &self,
        query_id: String,
        row_id: String,
        cell_id: String,
    ) -> Option<CellValue> {
        self.inner
            .get_result_cell(&query_id, &row_id, &cell_id)
            .map(Into::into)
    }
    /// Whether a result cell exists.
    pub fn has_result_cell(&self, query_id: String, row_id: String, cell_id: String) -> bool {
        self.inner.has_result_cell(&query_id, &row_id, &cell_id)
    }

    // ------------------------------------------------------------------ listeners

    /// Listens to the query ids.
    pub fn add_query_ids_listener(&self, listener: Arc<dyn ViewListener>) -> u64 {
        listener_id(
            self.inner
                .add_query_ids_listener(move |_| notify(&listener, ViewEvent::Ids)),
        )
    }
    /// Listens to a query's param values (`None`: any query).
    pub fn add_param_values_listener(
        &self,
        query_id: Option<String>,
        listener: Arc<dyn ViewListener>,
    ) -> u64 {
        let f = move |_: &cq::Queries, q: &str, params: &Row| {
            let param_values = from_row(params.clone());
            notify(
                &listener,
                ViewEvent::ParamValues {
                    query_id: q.into(),
                    param_values,
                },
            )
        };
        listener_id(self.inner.add_param_values_listener(query_id.as_deref(), f))
    }
    /// Listens to one param value (`None`s: any).
    pub fn add_param_value_listener(
        &self,
        query_id: Option<String>,
        param_id: Option<String>,
        listener: Arc<dyn ViewListener>,
    ) -> u64 {
        let f = move |_: &cq::Queries, q: &str, p: &str, value: Option<&Cell>| {
            let event = ViewEvent::ParamValue {
                query_id: q.into(),
                param_id: p.into(),
                value: opt_value(value),
            };
            notify(&listener, event)
        };
        listener_id(self.inner.add_param_value_listener(
            query_id.as_deref(),
            param_id.as_deref(),
            f,
        ))
    }
    /// Listens to a query's result table.
    pub fn add_result_table_listener(
        &self,
        query_id: Option<String>,
        listener: Arc<dyn ViewListener>,
    ) -> u64 {
        let f = move |_: &cq::Queries, q: &str| {
            notify(&listener, ViewEvent::ResultTable { query_id: q.into() })
        };
        listener_id(self.inner.add_result_table_listener(query_id.as_deref(), f))
    }
    /// Listens to a query's result cell ids.
    pub fn add_result_table_cell_ids_listener(
        &self,
        query_id: Option<String>,
        listener: Arc<dyn ViewListener>,
    ) -> u64 {
        let f = move |_: &cq::Queries, q: &str, c: &core::IdChanges| {
            notify(
                &listener,
                ViewEvent::ResultTableCellIds {
                    query_id: q.into(),
                    changes: id_changes(c),
                },
            )
        };
        listener_id(
            self.inner
                .add_result_table_cell_ids_listener(query_id.as_deref(), f),
        )
    }
    /// Listens to a query's result row count.
    pub fn add_result_row_count_listener(
        &self,
        query_id: Option<String>,
        listener: Arc<dyn ViewListener>,
    ) -> u64 {
        let f = move |_: &cq::Queries, q: &str, n: usize| {
            notify(
                &listener,
                ViewEvent::ResultRowCount {
                    query_id: q.into(),
                    count: count(n),
                },
            )
        };
        listener_id(
            self.inner
                .add_result_row_count_listener(query_id.as_deref(), f),
        )
    }
    /// Listens to a query's result row ids.
    pub fn add_result_row_ids_listener(
        &self,
        query_id: Option<String>,
        listener: Arc<dyn ViewListener>,
    ) -> u64 {
        let f = move |_: &cq::Queries, q: &str, c: &core::IdChanges| {
            notify(
                &listener,
                ViewEvent::ResultRowIds {
                    query_id: q.into(),
                    changes: id_changes(c),
                },
            )
        };
        listener_id(
            self.inner
                .add_result_row_ids_listener(query_id.as_deref(), f),
        )
    }
    /// Listens to a query's sorted result row ids.
    pub fn add_result_sorted_row_ids_listener(
        &self,
        query_id: Option<String>,
        cell_id: Option<String>,
        descending: bool,
        offset: u64,
        limit: Option<u64>,
        listener: Arc<dyn ViewListener>,
    ) -> u64 {
        let f = move |_: &cq::Queries,
                      q: &str,
                      c: Option<&str>,
                      d: bool,
                      o: usize,
                      l: Option<usize>,
                      ids: &[String]| {
            let event = ViewEvent::ResultSortedRowIds {
                query_id: q.into(),
                cell_id: c.map(str::to_string),
                descending: d,
                offset: count(o),
                limit: l.map(count),
                sorted_row_ids: ids.to_vec(),
            };
            notify(&listener, event)
        };
        let id = self.inner.add_result_sorted_row_ids_listener(
            query_id.as_deref(),
            cell_id.as_deref(),
            descending,
            offset as usize,
            limit.map(|l| l as usize),
            f,
        );
        listener_id(id)
    }
    /// Listens to a result row.
    pub fn add_result_row_listener(
        &self,
        query_id: Option<String>,
        row_id: Option<String>,
        listener: Arc<dyn ViewListener>,
    ) -> u64 {
        let f = move |_: &cq::Queries, q: &str, r: &str| {
            notify(
                &listener,
                ViewEvent::ResultRow {
                    query_id: q.into(),
                    row_id: r.into(),
                },
            )
        };
        listener_id(
            self.inner
                .add_result_row_listener(query_id.as_deref(), row_id.as_deref(), f),
        )
    }
    /// Listens to a result row's cell ids.
    pub fn add_result_cell_ids_listener(
        &self,
        query_id: Option<String>,
        row_id: Option<String>,
        listener: Arc<dyn ViewListener>,
    ) -> u64 {
        let f = move |_: &cq::Queries, q: &str, r: &str, c: &core::IdChanges| {
            let event = ViewEvent::ResultCellIds {
                query_id: q.into(),
                row_id: r.into(),
                changes: id_changes(c),
            };
            notify(&listener, event)
        };
        listener_id(self.inner.add_result_cell_ids_listener(
            query_id.as_deref(),
            row_id.as_deref(),
            f,
        ))
    }
    /// Listens to a result cell.
    pub fn add_result_cell_listener(
        &self,
        query_id: Option<String>,
        row_id: Option<String>,
        cell_id: Option<String>,
        listener: Arc<dyn ViewListener>,
    ) -> u64 {
        let f = move |_: &cq::Queries,
                      q: &str,
                      r: &str,
                      c: &str,
                      new: Option<&Cell>,
                      old: Option<&Cell>| {
            let event = ViewEvent::ResultCell {
                query_id: q.into(),
                row_id: r.into(),
                cell_id: c.into(),
                new_cell: opt_value(new),
                old_cell: opt_value(old),
            };
            notify(&listener, event)
        };
        let id = self.inner.add_result_cell_listener(
            query_id.as_deref(),
            row_id.as_deref(),
            cell_id.as_deref(),
            f,
        );
        listener_id(id)
    }
    /// Removes a listener.
    pub fn del_listener(&self, listener_id: u64) {
        let n = (listener_id & (PARAM_BIT - 1)) as u32;
        self.inner.del_listener(if listener_id & PARAM_BIT != 0 {
            QueryListenerId::Param(n)
        } else {
            QueryListenerId::Result(n)
        });
    }
    /// Listener counts per kind.
    pub fn get_listener_stats(&self) -> HashMap<String, u64> {
        let s = self.inner.get_listener_stats();
        [
            ("table", s.table),
            ("table_cell_ids", s.table_cell_ids),
            ("row_count", s.row_count),
            ("row_ids", s.row_ids),
            ("sorted_row_ids", s.sorted_row_ids),
            ("row", s.row),
            ("cell_ids", s.cell_ids),
            ("cell", s.cell),
            ("param_values", s.param_values),
            ("param_value", s.param_value),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), *v as u64))
        .collect()
    }
}
