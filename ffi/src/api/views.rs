//! The Indexes, Relationships and Metrics objects over a Store (TinyBase's `createIndexes`,
//! `createRelationships`, `createMetrics`): conversions only, the policy is the core's.

use super::*;

use tinystore_core::views::{self as cviews, Source};

use super::view_common::{
    ViewEvent, ViewListener, notify, or_raise, ordering, trapped, view_object, with_getter,
};

/// A definition function returning slice ids (TinyBase's `getSliceIdOrIds`).
#[uniffi::export(with_foreign)]
pub trait SliceIdsFunction: Send + Sync {
    /// The slice ids of the row.
    fn call(
        &self,
        get_cell: Arc<CellGetter>,
        row_id: String,
    ) -> Result<Vec<String>, TinystoreError>;
}

/// A definition function returning a cell-like value (a sort key, a metric's number).
#[uniffi::export(with_foreign)]
pub trait CellFunction: Send + Sync {
    /// The value for the row (`None`: none).
    fn call(
        &self,
        get_cell: Arc<CellGetter>,
        row_id: String,
    ) -> Result<Option<CellValue>, TinystoreError>;
}

/// A definition function returning a row id (TinyBase's `getRemoteRowId`).
#[uniffi::export(with_foreign)]
pub trait RowIdFunction: Send + Sync {
    /// The remote row id for the row (`None`: none).
    fn call(
        &self,
        get_cell: Arc<CellGetter>,
        row_id: String,
    ) -> Result<Option<String>, TinystoreError>;
}

/// Orders two ids (negative: the first goes first).
#[uniffi::export(with_foreign)]
pub trait IdSorter: Send + Sync {
    /// Compares two ids.
    fn compare(&self, a: String, b: String) -> Result<f64, TinystoreError>;
}

/// Orders two rows of a slice by their sort keys.
#[uniffi::export(with_foreign)]
pub trait SortKeySorter: Send + Sync {
    /// Compares two sort keys of rows in `slice_id`.
    fn compare(
        &self,
        a: Option<CellValue>,
        b: Option<CellValue>,
        slice_id: String,
    ) -> Result<f64, TinystoreError>;
}

/// Which incremental hooks a custom aggregate implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct AggregateHooks {
    /// `add` is implemented.
    pub add: bool,
    /// `remove` is implemented.
    pub remove: bool,
    /// `replace` is implemented.
    pub replace: bool,
}

/// A custom metric aggregate with optional incremental hooks (TinyBase's `aggregate`,
/// `aggregateAdd`, `aggregateRemove`, `aggregateReplace`); `None` from a hook recomputes.
#[uniffi::export(with_foreign)]
pub trait MetricAggregate: Send + Sync {
    /// Which hooks below are implemented (the others are never called).
    fn hooks(&self) -> AggregateHooks;
    /// The aggregate of all numbers.
    fn aggregate(&self, numbers: Vec<f64>, length: u64) -> Result<Option<f64>, TinystoreError>;
    /// The metric after `add` was added.
    fn add(&self, metric: f64, add: f64, length: u64) -> Result<Option<f64>, TinystoreError>;
    /// The metric after `remove` was removed.
    fn remove(&self, metric: f64, remove: f64, length: u64) -> Result<Option<f64>, TinystoreError>;
    /// The metric after `remove` was replaced by `add`.
    fn replace(
        &self,
        metric: f64,
        add: f64,
        remove: f64,
        length: u64,
    ) -> Result<Option<f64>, TinystoreError>;
}

fn row_source<T: 'static>(
    f: impl Fn(Arc<CellGetter>, String) -> Result<T, TinystoreError> + Send + Sync + 'static,
) -> Source<T> {
    Source::func(move |get_cell, row_id| {
        let lookup = |table: Option<&str>, _: bool, cell: &str| match table {
            None => get_cell(cell),
            Some(_) => None,
        };
        with_getter(&lookup, |g| or_raise(f(g, row_id.to_string())))
    })
}

pub(crate) fn cell_source(
    cell_id: Option<String>,
    f: Option<Arc<dyn CellFunction>>,
) -> Option<Source<Option<Cell>>> {
    match (cell_id, f) {
        (_, Some(f)) => Some(row_source(move |g, r| {
            f.call(g, r)?.map(to_cell).transpose()
        })),
        (Some(c), None) => Some(Source::cell(c)),
        (None, None) => None,
    }
}

fn stats(pairs: &[(&str, usize)]) -> HashMap<String, u64> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), *v as u64))
        .collect()
}

// ---------------------------------------------------------------------------- Indexes

view_object!(
    /// Slices of a table's rows by a cell or function (TinyBase's `Indexes`).
    Indexes(cviews::Indexes),
    /// Creates an Indexes object over a store (a MergeableStore: pass `as_store()`).
    create_indexes = cviews::create_indexes
);

#[uniffi::export]
impl Indexes {
    /// Defines (or replaces) an index: slices by `slice_cell_id` or `slice_function` (neither:
    /// one slice `""`), rows sorted by `sort_cell_id` or `sort_function`, slices and rows by
    /// the optional sorters.
    #[allow(clippy::too_many_arguments)]
    pub fn set_index_definition(
        &self,
        index_id: String,
        table_id: String,
        slice_cell_id: Option<String>,
        slice_function: Option<Arc<dyn SliceIdsFunction>>,
        sort_cell_id: Option<String>,
        sort_function: Option<Arc<dyn CellFunction>>,
        slice_id_sorter: Option<Arc<dyn IdSorter>>,
        row_id_sorter: Option<Arc<dyn SortKeySorter>>,
    ) -> Result<(), TinystoreError> {
        let slices = match (slice_cell_id, slice_function) {
            (_, Some(f)) => Some(row_source(move |g, r| f.call(g, r))),
            (Some(c), None) => Some(Source::cell(c)),
            (None, None) => None,
        };
        let sort = cell_source(sort_cell_id, sort_function);
        let slice_sorter: Option<cviews::SliceIdSorter> = slice_id_sorter.map(|s| {
            Arc::new(move |a: &str, b: &str| ordering(or_raise(s.compare(a.into(), b.into()))))
                as cviews::SliceIdSorter
        });
        let row_sorter: Option<cviews::RowIdSorter> = row_id_sorter.map(|s| {
            Arc::new(move |a: Option<&Cell>, b: Option<&Cell>, slice: &str| {
                ordering(or_raise(s.compare(
                    opt_value(a),
                    opt_value(b),
                    slice.into(),
                )))
            }) as cviews::RowIdSorter
        });
        trapped(|| {
            self.inner.set_index_definition(
                &index_id,
                &table_id,
                slices,
                sort,
                slice_sorter,
                row_sorter,
            );
        })
    }
    /// Removes an index definition.
    pub fn del_index_definition(&self, index_id: String) {
        self.inner.del_index_definition(&index_id);
    }
    /// The index ids.
    pub fn get_index_ids(&self) -> Vec<String> {
        self.inner.get_index_ids()
    }
    /// Whether an index is defined.
    pub fn has_index(&self, index_id: String) -> bool {
        self.inner.has_index(&index_id)
    }
    /// Whether a slice exists.
    pub fn has_slice(&self, index_id: String, slice_id: String) -> bool {
        self.inner.has_slice(&index_id, &slice_id)
    }
    /// The indexed table's id.
    pub fn get_table_id(&self, index_id: String) -> Option<String> {
        self.inner.get_table_id(&index_id)
    }
    /// The slice ids of an index.
    pub fn get_slice_ids(&self, index_id: String) -> Vec<String> {
        self.inner.get_slice_ids(&index_id)
    }
    /// The row ids of a slice.
    pub fn get_slice_row_ids(&self, index_id: String, slice_id: String) -> Vec<String> {
        self.inner.get_slice_row_ids(&index_id, &slice_id)
    }
    /// Listens to the index ids.
    pub fn add_index_ids_listener(&self, listener: Arc<dyn ViewListener>) -> u64 {
        self.inner
            .add_index_ids_listener(move |_| notify(&listener, ViewEvent::Ids))
            .0 as u64
    }
    /// Listens to whether an index (`None`: any) exists.
    pub fn add_has_index_listener(
        &self,
        index_id: Option<String>,
        listener: Arc<dyn ViewListener>,
    ) -> u64 {
        let f = move |_: &cviews::Indexes, i: &str, has: bool| {
            notify(
                &listener,
                ViewEvent::HasIndex {
                    index_id: i.into(),
                    has,
                },
            )
        };
        self.inner.add_has_index_listener(index_id.as_deref(), f).0 as u64
    }
    /// Listens to the slice ids of an index (`None`: any).
    pub fn add_slice_ids_listener(
        &self,
        index_id: Option<String>,
        listener: Arc<dyn ViewListener>,
    ) -> u64 {
        let f = move |_: &cviews::Indexes, i: &str| {
            notify(&listener, ViewEvent::SliceIds { index_id: i.into() })
        };
        self.inner.add_slice_ids_listener(index_id.as_deref(), f).0 as u64
    }
    /// Listens to whether a slice exists.
    pub fn add_has_slice_listener(
        &self,
        index_id: Option<String>,
        slice_id: Option<String>,
        listener: Arc<dyn ViewListener>,
    ) -> u64 {
        let f = move |_: &cviews::Indexes, i: &str, s: &str, has: bool| {
            let event = ViewEvent::HasSlice {
                index_id: i.into(),
                slice_id: s.into(),
                has,
            };
            notify(&listener, event)
        };
        self.inner
            .add_has_slice_listener(index_id.as_deref(), slice_id.as_deref(), f)
            .0 as u64
    }
    /// Listens to the row ids of a slice.
    pub fn add_slice_row_ids_listener(
        &self,
        index_id: Option<String>,
        slice_id: Option<String>,
        listener: Arc<dyn ViewListener>,
    ) -> u64 {
        let f = move |_: &cviews::Indexes, i: &str, s: &str| {
            notify(
                &listener,
                ViewEvent::SliceRowIds {
                    index_id: i.into(),
                    slice_id: s.into(),
                },
            )
        };
        self.inner
            .add_slice_row_ids_listener(index_id.as_deref(), slice_id.as_deref(), f)
            .0 as u64
    }
    /// Listener counts (`slice_ids`, `slice_row_ids`).
    pub fn get_listener_stats(&self) -> HashMap<String, u64> {
        let s = self.inner.get_listener_stats();
        stats(&[
            ("slice_ids", s.slice_ids),
            ("slice_row_ids", s.slice_row_ids),
        ])
    }
}

// ---------------------------------------------------------------------------- Relationships

view_object!(
    /// Links rows of a local table to rows of a remote table (TinyBase's `Relationships`).
    Relationships(cviews::Relationships),
    /// Creates a Relationships object over a store.
    create_relationships = cviews::create_relationships
);

#[uniffi::export]
impl Relationships {
    /// Defines (or replaces) a relationship: the remote row id is the local row's
    /// `remote_row_id_cell_id` cell, or `remote_row_id_function`'s result.
    pub fn set_relationship_definition(
        &self,
        relationship_id: String,
        local_table_id: String,
        remote_table_id: String,
        remote_row_id_cell_id: Option<String>,
        remote_row_id_function: Option<Arc<dyn RowIdFunction>>,
    ) -> Result<(), TinystoreError> {
        let source = match (remote_row_id_cell_id, remote_row_id_function) {
            (_, Some(f)) => row_source(move |g, r| f.call(g, r)),
            (Some(c), None) => Source::cell(c),
            (None, None) => {
                return Err(TinystoreError::InvalidValue {
                    reason: "a relationship needs a remote row id cell or function".into(),
                });
            }
        };
        trapped(|| {
            self.inner.set_relationship_definition(
                &relationship_id,
                &local_table_id,
                &remote_table_id,
                source,
            );
        })
    }
    /// Removes a relationship definition.
    pub fn del_relationship_definition(&self, relationship_id: String) {
        self.inner.del_relationship_definition(&relationship_id);
    }
    /// The relationship ids.
    pub fn get_relationship_ids(&self) -> Vec<String> {
        self.inner.get_relationship_ids()
    }
    /// Whether a relationship is defined.
    pub fn has_relationship(&self, relationship_id: String) -> bool {
        self.inner.has_relationship(&relationship_id)
    }
    /// The local table's id.
    pub fn get_local_table_id(&self, relationship_id: String) -> Option<String> {
        self.inner.get_local_table_id(&relationship_id)
    }
    /// The remote table's id.
    pub fn get_remote_table_id(&self, relationship_id: String) -> Option<String> {
        self.inner.get_remote_table_id(&relationship_id)
    }
    /// The remote row a local row links to.
    pub fn get_remote_row_id(
        &self,
        relationship_id: String,
        local_row_id: String,
    ) -> Option<String> {
        self.inner
            .get_remote_row_id(&relationship_id, &local_row_id)
    }
    /// The local rows linking to a remote row.
    pub fn get_local_row_ids(&self, relationship_id: String, remote_row_id: String) -> Vec<String> {
        self.inner
            .get_local_row_ids(&relationship_id, &remote_row_id)
    }
    /// The linked list of rows starting at `first_row_id` (local and remote table the same).
    pub fn get_linked_row_ids(&self, relationship_id: String, first_row_id: String) -> Vec<String> {
        self.inner
            .get_linked_row_ids(&relationship_id, &first_row_id)
    }
    /// Listens to the relationship ids.
    pub fn add_relationship_ids_listener(&self, listener: Arc<dyn ViewListener>) -> u64 {
        self.inner
            .add_relationship_ids_listener(move |_| notify(&listener, ViewEvent::Ids))
            .0 as u64
    }
    /// Listens to a local row's remote row id.
    pub fn add_remote_row_id_listener(
        &self,
        relationship_id: Option<String>,
        local_row_id: Option<String>,
        listener: Arc<dyn ViewListener>,
    ) -> u64 {
        let f = move |_: &cviews::Relationships, rel: &str, row: &str| {
            let event = ViewEvent::RemoteRowId {
                relationship_id: rel.into(),
                local_row_id: row.into(),
            };
            notify(&listener, event)
        };
        self.inner
            .add_remote_row_id_listener(relationship_id.as_deref(), local_row_id.as_deref(), f)
            .0 as u64
    }
    /// Listens to a remote row's local row ids.
    pub fn add_local_row_ids_listener(
        &self,
        relationship_id: Option<String>,
        remote_row_id: Option<String>,
        listener: Arc<dyn ViewListener>,
    ) -> u64 {
        let f = move |_: &cviews::Relationships, rel: &str, row: &str| {
            let event = ViewEvent::LocalRowIds {
                relationship_id: rel.into(),
                remote_row_id: row.into(),
            };
            notify(&listener, event)
        };
        self.inner
            .add_local_row_ids_listener(relationship_id.as_deref(), remote_row_id.as_deref(), f)
            .0 as u64
    }
    /// Listens to a linked list of rows.
    pub fn add_linked_row_ids_listener(
        &self,
        relationship_id: String,
        first_row_id: String,
        listener: Arc<dyn ViewListener>,
    ) -> u64 {
        let f = move |_: &cviews::Relationships, rel: &str, row: &str| {
            let event = ViewEvent::LinkedRowIds {
                relationship_id: rel.into(),
                first_row_id: row.into(),
            };
            notify(&listener, event)
        };
        self.inner
            .add_linked_row_ids_listener(&relationship_id, &first_row_id, f)
            .0 as u64
    }
    /// Listener counts (`remote_row_id`, `local_row_ids`, `linked_row_ids`).
    pub fn get_listener_stats(&self) -> HashMap<String, u64> {
        let s = self.inner.get_listener_stats();
        stats(&[
            ("remote_row_id", s.remote_row_id),
            ("local_row_ids", s.local_row_ids),
            ("linked_row_ids", s.linked_row_ids),
        ])
    }
}

// ---------------------------------------------------------------------------- Metrics

view_object!(
    /// Aggregates of a table's numbers (TinyBase's `Metrics`).
    Metrics(cviews::Metrics),
    /// Creates a Metrics object over a store.
    create_metrics = cviews::create_metrics
);

fn metric_aggregate(a: Arc<dyn MetricAggregate>) -> cviews::Aggregate {
    let hooks = a.hooks();
    let full = a.clone();
    let mut custom = cviews::CustomAggregate::new(move |numbers, length| {
        or_raise(full.aggregate(numbers.to_vec(), length as u64))
    });
    if hooks.add {
        let a = a.clone();
        custom.add = Some(Arc::new(move |m, x, n| or_raise(a.add(m, x, n as u64))));
    }
    if hooks.remove {
        let a = a.clone();
        custom.remove = Some(Arc::new(move |m, x, n| or_raise(a.remove(m, x, n as u64))));
    }
    if hooks.replace {
        custom.replace = Some(Arc::new(move |m, x, y, n| {
            or_raise(a.replace(m, x, y, n as u64))
        }));
    }
    cviews::Aggregate::Custom(custom)
}

#[uniffi::export]
impl Metrics {
    /// Defines (or replaces) a metric: `aggregate` (`sum`, `avg`, `min`, `max`; default
    /// `sum`) or `custom_aggregate` over `number_cell_id` or `number_function` (neither: each
    /// row counts 1). An unknown aggregate name is `InvalidValue`.
    pub fn set_metric_definition(
        &self,
        metric_id: String,
        table_id: String,
        aggregate: Option<String>,
        custom_aggregate: Option<Arc<dyn MetricAggregate>>,
        number_cell_id: Option<String>,
        number_function: Option<Arc<dyn CellFunction>>,
    ) -> Result<(), TinystoreError> {
        let aggregate = match custom_aggregate {
            Some(c) => metric_aggregate(c),
            None => cviews::Aggregate::named(aggregate.as_deref().unwrap_or("sum"))
                .map_err(|e| TinystoreError::classified(&e))?,
        };
        let number = cell_source(number_cell_id, number_function);
        trapped(|| {
            self.inner
                .set_metric_definition(&metric_id, &table_id, aggregate, number);
        })
    }
    /// Removes a metric definition.
    pub fn del_metric_definition(&self, metric_id: String) {
        self.inner.del_metric_definition(&metric_id);
    }
    /// The metric ids.
    pub fn get_metric_ids(&self) -> Vec<String> {
        self.inner.get_metric_ids()
    }
    /// Whether a metric is defined.
    pub fn has_metric(&self, metric_id: String) -> bool {
        self.inner.has_metric(&metric_id)
    }
    /// The aggregated table's id.
    pub fn get_table_id(&self, metric_id: String) -> Option<String> {
        self.inner.get_table_id(&metric_id)
    }
    /// The metric's value (`None`: no numbers).
    pub fn get_metric(&self, metric_id: String) -> Option<f64> {
        self.inner.get_metric(&metric_id)
    }
    /// Listens to the metric ids.
    pub fn add_metric_ids_listener(&self, listener: Arc<dyn ViewListener>) -> u64 {
        self.inner
            .add_metric_ids_listener(move |_| notify(&listener, ViewEvent::Ids))
            .0 as u64
    }
    /// Listens to a metric (`None`: any).
    pub fn add_metric_listener(
        &self,
        metric_id: Option<String>,
        listener: Arc<dyn ViewListener>,
    ) -> u64 {
        let f = move |_: &cviews::Metrics, m: &str, new: Option<f64>, old: Option<f64>| {
            let event = ViewEvent::Metric {
                metric_id: m.into(),
                new_metric: new,
                old_metric: old,
            };
            notify(&listener, event)
        };
        self.inner.add_metric_listener(metric_id.as_deref(), f).0 as u64
    }
    /// Listener counts (`metric`).
    pub fn get_listener_stats(&self) -> HashMap<String, u64> {
        stats(&[("metric", self.inner.get_listener_stats().metric)])
    }
}
