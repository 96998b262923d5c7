//! `Metrics` (TinyBase's `createMetrics`, spec store.md §7): one number per definition,
//! aggregated over a table's rows, updated incrementally where the aggregate allows it.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::Arc;

use crate::store::{ListenerId, Store};
use crate::types::{Cell, Text};

use super::rows::{Panic, RowCache, evaluate, fire};
use super::view::{Definition, Defs, Evaluate, ViewCore, definable_handle};
use super::{Source, ViewError, metric_number};

/// `aggregate(numbers, length)`: the metric of all the numbers (`None`: no metric).
pub type AggregateFn = Arc<dyn Fn(&[f64], usize) -> Option<f64> + Send + Sync>;
/// `add(metric, added, old_length)`: the metric after one number is added (`None`: recompute).
pub type AggregateAddFn = Arc<dyn Fn(f64, f64, usize) -> Option<f64> + Send + Sync>;
/// `remove(metric, removed, old_length)`: the metric after one number is removed (`None`:
/// recompute).
pub type AggregateRemoveFn = Arc<dyn Fn(f64, f64, usize) -> Option<f64> + Send + Sync>;
/// `replace(metric, new, old, length)`: the metric after one number changed (`None`:
/// recompute).
pub type AggregateReplaceFn = Arc<dyn Fn(f64, f64, f64, usize) -> Option<f64> + Send + Sync>;

/// A custom aggregate and its optional incremental hooks (TinyBase's `aggregate`,
/// `aggregateAdd`, `aggregateRemove`, `aggregateReplace`). Without a hook for a kind of change,
/// that change recomputes the whole aggregate.
///
/// ```
/// use std::sync::Arc;
/// use tinystore_core::Store;
/// use tinystore_core::views::{CustomAggregate, Metrics, Source};
/// let store = Store::new();
/// store.set_cell("pets", "fido", "price", 5).set_cell("pets", "felix", "price", 4);
/// // The product, kept up to date on additions without a full pass.
/// let product = CustomAggregate {
///     add: Some(Arc::new(|metric: f64, added: f64, _: usize| Some(metric * added))),
///     ..CustomAggregate::new(|numbers, _| Some(numbers.iter().product()))
/// };
/// let metrics = Metrics::new(&store);
/// metrics.set_metric_definition("product", "pets", product.into(), Some(Source::cell("price")));
/// store.set_cell("pets", "rex", "price", 2);
/// assert_eq!(metrics.get_metric("product"), Some(40.0));
/// ```
#[derive(Clone)]
pub struct CustomAggregate {
    /// The full aggregate.
    pub aggregate: AggregateFn,
    /// A number was added.
    pub add: Option<AggregateAddFn>,
    /// A number was removed.
    pub remove: Option<AggregateRemoveFn>,
    /// A number changed.
    pub replace: Option<AggregateReplaceFn>,
}

impl fmt::Debug for CustomAggregate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CustomAggregate")
            .field("add", &self.add.is_some())
            .field("remove", &self.remove.is_some())
            .field("replace", &self.replace.is_some())
            .finish_non_exhaustive()
    }
}

impl CustomAggregate {
    /// A custom aggregate without incremental hooks.
    ///
    /// ```
    /// use tinystore_core::Store;
    /// use tinystore_core::views::{Aggregate, CustomAggregate, Metrics, Source};
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "price", 5).set_cell("pets", "felix", "price", 4);
    /// let range = CustomAggregate::new(|numbers, _| {
    ///     let max = numbers.iter().copied().fold(f64::MIN, f64::max);
    ///     let min = numbers.iter().copied().fold(f64::MAX, f64::min);
    ///     Some(max - min)
    /// });
    /// let metrics = Metrics::new(&store);
    /// metrics.set_metric_definition("range", "pets", Aggregate::Custom(range), Some(Source::cell("price")));
    /// assert_eq!(metrics.get_metric("range"), Some(1.0));
    /// ```
    pub fn new(aggregate: impl Fn(&[f64], usize) -> Option<f64> + Send + Sync + 'static) -> Self {
        CustomAggregate {
            aggregate: Arc::new(aggregate),
            add: None,
            remove: None,
            replace: None,
        }
    }
}

/// How a metric aggregates its numbers.
///
/// ```
/// use tinystore_core::views::Aggregate;
/// assert!(matches!(Aggregate::named("avg"), Ok(Aggregate::Avg)));
/// ```
#[derive(Clone)]
pub enum Aggregate {
    /// The sum (TinyBase's default).
    Sum,
    /// The mean.
    Avg,
    /// The smallest.
    Min,
    /// The largest.
    Max,
    /// A function of all the numbers, with optional incremental hooks.
    Custom(CustomAggregate),
}

impl From<CustomAggregate> for Aggregate {
    fn from(custom: CustomAggregate) -> Aggregate {
        Aggregate::Custom(custom)
    }
}

impl fmt::Debug for Aggregate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Aggregate::Sum => "Sum",
            Aggregate::Avg => "Avg",
            Aggregate::Min => "Min",
            Aggregate::Max => "Max",
            Aggregate::Custom(_) => "Custom(..)",
        })
    }
}

impl Aggregate {
    /// The aggregate named `sum`, `avg`, `min` or `max`.
    ///
    /// ```
    /// use tinystore_core::views::{Aggregate, ViewError};
    /// assert!(matches!(Aggregate::named("max"), Ok(Aggregate::Max)));
    /// assert_eq!(Aggregate::named("median").unwrap_err(), ViewError::UnknownAggregate("median".into()));
    /// ```
    pub fn named(name: &str) -> Result<Aggregate, ViewError> {
        match name {
            "sum" => Ok(Aggregate::Sum),
            "avg" => Ok(Aggregate::Avg),
            "min" => Ok(Aggregate::Min),
            "max" => Ok(Aggregate::Max),
            other => Err(ViewError::UnknownAggregate(other.to_string())),
        }
    }

    fn full(&self, numbers: &[f64]) -> Option<f64> {
        let sum = || numbers.iter().fold(0.0, |a, b| a + b);
        match self {
            Aggregate::Sum => Some(sum()),
            Aggregate::Avg => Some(sum() / numbers.len() as f64),
            Aggregate::Min => Some(
                numbers
                    .iter()
                    .fold(f64::INFINITY, |a, &b| crate::js::math_min(a, b)),
            ),
            Aggregate::Max => Some(
                numbers
                    .iter()
                    .fold(f64::NEG_INFINITY, |a, &b| crate::js::math_max(a, b)),
            ),
            Aggregate::Custom(c) => (c.aggregate)(numbers, numbers.len()),
        }
    }

    fn add(&self, metric: f64, add: f64, length: usize) -> Option<f64> {
        match self {
            Aggregate::Sum => Some(metric + add),
            Aggregate::Avg => Some(metric + (add - metric) / (length as f64 + 1.0)),
            Aggregate::Min => Some(crate::js::math_min(add, metric)),
            Aggregate::Max => Some(crate::js::math_max(add, metric)),
            Aggregate::Custom(c) => c.add.as_ref().and_then(|f| f(metric, add, length)),
        }
    }

    fn remove(&self, metric: f64, remove: f64, length: usize) -> Option<f64> {
        match self {
            Aggregate::Sum => Some(metric - remove),
            Aggregate::Avg => {
                (length > 1).then(|| metric + (metric - remove) / (length as f64 - 1.0))
            }
            Aggregate::Min | Aggregate::Max => (remove != metric).then_some(metric),
            Aggregate::Custom(c) => c.remove.as_ref().and_then(|f| f(metric, remove, length)),
        }
    }

    fn replace(&self, metric: f64, add: f64, remove: f64, length: usize) -> Option<f64> {
        match self {
            Aggregate::Sum => Some(metric - remove + add),
            Aggregate::Avg => Some(metric + (add - remove) / length as f64),
            Aggregate::Min => (remove != metric).then(|| crate::js::math_min(add, metric)),
            Aggregate::Max => (remove != metric).then(|| crate::js::math_max(add, metric)),
            Aggregate::Custom(c) => c
                .replace
                .as_ref()
                .and_then(|f| f(metric, add, remove, length)),
        }
    }
}

/// Listener counts of a [`Metrics`] (the fields of TinyBase's `getListenerStats`).
///
/// ```
/// use tinystore_core::Store;
/// use tinystore_core::views::{Metrics, MetricsListenerStats};
/// let metrics = Metrics::new(&Store::new());
/// metrics.add_metric_listener(Some("total"), |_, _, _, _| {});
/// assert_eq!(metrics.get_listener_stats(), MetricsListenerStats { metric: 1 });
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MetricsListenerStats {
    /// Metric listeners.
    pub metric: usize,
}

const METRIC_IDS: u8 = 0;
const METRIC: u8 = 1;

type IdsFn = Box<dyn FnMut(&Metrics) + Send>;
type MetricFn = Box<dyn FnMut(&Metrics, &str, Option<f64>, Option<f64>) + Send>;

enum Callback {
    Ids(IdsFn),
    Metric(MetricFn),
}

enum Event {
    MetricIds,
    Metric(Text, Option<f64>, Option<f64>),
}

struct MetricDef {
    source: Option<Source<Option<Cell>>>,
    aggregate: Aggregate,
    rows: RowCache<f64>,
    metric: Option<f64>,
    /// The aggregate panicked: the next update recomputes it in full.
    stale: bool,
}

/// Evaluates a row's number.
struct MetricEval {
    table_id: Text,
    source: Option<Source<Option<Cell>>>,
}

impl Evaluate for MetricEval {
    type Row = Option<f64>;

    fn evaluate(&self, store: &Store, row_id: &str) -> Option<f64> {
        compute(store, &self.table_id, self.source.as_ref(), row_id)
    }
}

impl Definition for MetricDef {
    type Eval = MetricEval;
    type Event = Event;
    type Extra = ();

    fn evaluator(&self, table_id: &Text) -> MetricEval {
        MetricEval {
            table_id: table_id.clone(),
            source: self.source.clone(),
        }
    }

    fn known_rows(&self) -> Vec<String> {
        self.rows.row_ids()
    }

    /// TinyBase keeps a metric whose value is `undefined` as no metric at all: defining it
    /// again starts afresh.
    fn exists(&self) -> bool {
        self.metric.is_some()
    }

    fn adopt(&mut self, old: MetricDef) {
        self.rows = old.rows;
        self.metric = old.metric;
        self.stale = old.stale;
    }

    fn record(&mut self, row_id: &str, number: Option<f64>) {
        self.rows.record(row_id, number, None);
    }

    fn on_changed(&mut self, id: &str, force: bool, _: &()) -> (Vec<Event>, Option<Panic>) {
        on_changed(self, id, force)
    }
}

definable_handle! {
    /// Aggregates over the rows of tables (TinyBase's `Metrics`).
    ///
    /// ```
    /// use tinystore_core::Store;
    /// use tinystore_core::views::{Aggregate, Metrics, Source};
    ///
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "price", 5).set_cell("pets", "felix", "price", 4);
    /// let metrics = Metrics::new(&store);
    /// metrics.set_metric_definition("total", "pets", Aggregate::Sum, Some(Source::cell("price")));
    /// metrics.set_metric_definition("count", "pets", Aggregate::Sum, None);
    /// assert_eq!(metrics.get_metric("total"), Some(9.0));
    /// assert_eq!(metrics.get_metric("count"), Some(2.0));
    /// ```
    Metrics,
    MetricDef,
    get_metric_ids;
    /// ```
    /// use tinystore_core::Store;
    /// use tinystore_core::views::{Aggregate, Metrics};
    /// let store = Store::new();
    /// let metrics = Metrics::new(&store);
    /// metrics.set_metric_definition("count", "pets", Aggregate::Sum, None);
    /// assert_eq!(Metrics::new(&store).get_metric_ids(), ["count"]);
    /// // Once every handle is dropped, the next call makes a new, empty one.
    /// drop(metrics);
    /// assert!(Metrics::new(&store).get_metric_ids().is_empty());
    /// ```
}

/// The [`Metrics`] of `store` (TinyBase's `createMetrics`, memoized per store as
/// [`Metrics::new`] says).
///
/// ```
/// let store = tinystore_core::Store::new();
/// assert_eq!(tinystore_core::views::create_metrics(&store).get_metric("m"), None);
/// ```
pub fn create_metrics(store: &Store) -> Metrics {
    Metrics::new(store)
}

impl Metrics {
    /// Defines (or redefines) a metric over `table_id`: the `aggregate` of each row's number,
    /// read from a cell or a function (`None`: every row counts 1). Booleans, `""`, missing
    /// cells and non-numeric values are left out; the metric is `None` without any number or
    /// when the aggregate is not a finite number. A number function that panics makes this
    /// call panic with nothing changed (a panicking aggregate: the definition is set, its
    /// metric stays `None` until a change recomputes it, and the panic is resumed).
    ///
    /// ```
    /// use tinystore_core::Store;
    /// use tinystore_core::views::{Aggregate, Metrics, Source};
    /// let store = Store::new();
    /// store.set_cell("t", "a", "n", 1).set_cell("t", "b", "n", "x").set_cell("t", "c", "n", 3);
    /// let metrics = Metrics::new(&store);
    /// metrics.set_metric_definition("avg", "t", Aggregate::named("avg").unwrap(), Some(Source::cell("n")));
    /// assert_eq!(metrics.get_metric("avg"), Some(2.0));
    /// ```
    pub fn set_metric_definition(
        &self,
        metric_id: &str,
        table_id: &str,
        aggregate: Aggregate,
        get_number: Option<Source<Option<Cell>>>,
    ) -> &Self {
        let def = MetricDef {
            source: get_number,
            aggregate,
            rows: RowCache::default(),
            metric: None,
            stale: false,
        };
        let defined = self.core.define(metric_id, table_id, def, fire_events);
        if defined.is_new {
            self.fire(&[Event::MetricIds]);
        }
        self.fire(&defined.events);
        if let Some(panic) = defined.panic {
            resume_unwind(panic);
        }
        self
    }

    /// [`Metrics::set_metric_definition`] with the aggregate given by name (`sum`, `avg`,
    /// `min`, `max`); any other name is an error and changes nothing.
    ///
    /// ```
    /// use tinystore_core::Store;
    /// use tinystore_core::views::Metrics;
    /// let metrics = Metrics::new(&Store::new());
    /// assert!(metrics.set_metric_definition_named("m", "t", "mean", None).is_err());
    /// assert!(!metrics.has_metric("m"));
    /// ```
    pub fn set_metric_definition_named(
        &self,
        metric_id: &str,
        table_id: &str,
        aggregate: &str,
        get_number: Option<Source<Option<Cell>>>,
    ) -> Result<&Self, ViewError> {
        let aggregate = Aggregate::named(aggregate)?;
        Ok(self.set_metric_definition(metric_id, table_id, aggregate, get_number))
    }

    /// Removes a metric definition. The metric-ids listeners are called even for an unknown
    /// id, as in TinyBase.
    ///
    /// ```
    /// # use tinystore_core::Store;
    /// # use tinystore_core::views::{Aggregate, Metrics};
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "price", 5);
    /// let metrics = Metrics::new(&store);
    /// metrics.set_metric_definition("count", "pets", Aggregate::Sum, None);
    /// metrics.del_metric_definition("count");
    /// assert_eq!(metrics.get_metric("count"), None);
    /// assert!(metrics.get_metric_ids().is_empty());
    /// ```
    pub fn del_metric_definition(&self, metric_id: &str) -> &Self {
        self.core.undefine(metric_id);
        self.fire(&[Event::MetricIds]);
        self
    }

    /// Removes every definition and the store listeners. The object stays usable.
    ///
    /// ```
    /// # use tinystore_core::Store;
    /// # use tinystore_core::views::{Aggregate, Metrics};
    /// let metrics = Metrics::new(&Store::new());
    /// metrics.set_metric_definition("count", "pets", Aggregate::Sum, None);
    /// metrics.destroy();
    /// assert!(metrics.get_metric_ids().is_empty());
    /// ```
    pub fn destroy(&self) {
        self.core.destroy(|_| self.fire(&[Event::MetricIds]));
    }

    /// The ids of the defined metrics, in definition order.
    ///
    /// ```
    /// # use tinystore_core::Store;
    /// # use tinystore_core::views::{Aggregate, Metrics};
    /// let metrics = Metrics::new(&Store::new());
    /// metrics.set_metric_definition("count", "pets", Aggregate::Sum, None);
    /// metrics.set_metric_definition("max", "pets", Aggregate::Max, None);
    /// // Listed though neither has a value yet.
    /// assert_eq!(metrics.get_metric_ids(), ["count", "max"]);
    /// ```
    pub fn get_metric_ids(&self) -> Vec<String> {
        self.core.state.lock().ids()
    }

    /// Whether a metric has a value (TinyBase's `hasMetric`: a defined metric without numbers
    /// is `false`).
    ///
    /// ```
    /// # use tinystore_core::Store;
    /// # use tinystore_core::views::{Aggregate, Metrics};
    /// let store = Store::new();
    /// let metrics = Metrics::new(&store);
    /// metrics.set_metric_definition("count", "pets", Aggregate::Sum, None);
    /// assert!(!metrics.has_metric("count"));
    /// store.set_cell("pets", "fido", "price", 5);
    /// assert!(metrics.has_metric("count"));
    /// ```
    pub fn has_metric(&self, metric_id: &str) -> bool {
        self.get_metric(metric_id).is_some()
    }

    /// The table a metric is over.
    ///
    /// ```
    /// # use tinystore_core::Store;
    /// # use tinystore_core::views::{Aggregate, Metrics};
    /// let metrics = Metrics::new(&Store::new());
    /// metrics.set_metric_definition("count", "pets", Aggregate::Sum, None);
    /// assert_eq!(metrics.get_table_id("count").as_deref(), Some("pets"));
    /// assert_eq!(metrics.get_table_id("unknown"), None);
    /// ```
    pub fn get_table_id(&self, metric_id: &str) -> Option<String> {
        self.core.table_id(metric_id)
    }

    /// The metric's value (`None`: unknown metric or no numbers).
    ///
    /// ```
    /// # use tinystore_core::Store;
    /// # use tinystore_core::views::{Aggregate, Metrics, Source};
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "price", 5).set_cell("pets", "felix", "price", 4);
    /// let metrics = Metrics::new(&store);
    /// metrics.set_metric_definition("cheapest", "pets", Aggregate::Min, Some(Source::cell("price")));
    /// assert_eq!(metrics.get_metric("cheapest"), Some(4.0));
    /// assert_eq!(metrics.get_metric("unknown"), None);
    /// ```
    pub fn get_metric(&self, metric_id: &str) -> Option<f64> {
        self.core.with_def(metric_id, |d| d.metric).flatten()
    }

    /// Calls `f(metric_id, metric)` for each metric that has a value (as TinyBase).
    ///
    /// ```
    /// # use tinystore_core::Store;
    /// # use tinystore_core::views::{Aggregate, Metrics, Source};
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "price", 5);
    /// let metrics = Metrics::new(&store);
    /// metrics.set_metric_definition("count", "pets", Aggregate::Sum, None);
    /// // No row of "owners": this metric has no value and is skipped.
    /// metrics.set_metric_definition("owners", "owners", Aggregate::Sum, None);
    /// let mut seen = Vec::new();
    /// metrics.for_each_metric(|id, metric| seen.push((id.to_string(), metric)));
    /// assert_eq!(seen, [("count".to_string(), 1.0)]);
    /// ```
    pub fn for_each_metric(&self, mut f: impl FnMut(&str, f64)) {
        for id in self.get_metric_ids() {
            if let Some(metric) = self.get_metric(&id) {
                f(&id, metric);
            }
        }
    }

    /// Listens to the metric ids: `f(metrics)`.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// # use tinystore_core::Store;
    /// # use tinystore_core::views::{Aggregate, Metrics};
    /// let metrics = Metrics::new(&Store::new());
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let s = seen.clone();
    /// metrics.add_metric_ids_listener(move |metrics| s.lock().unwrap().push(metrics.get_metric_ids()));
    /// metrics.set_metric_definition("count", "pets", Aggregate::Sum, None);
    /// assert_eq!(*seen.lock().unwrap(), [["count"]]);
    /// ```
    pub fn add_metric_ids_listener(&self, f: impl FnMut(&Metrics) + Send + 'static) -> ListenerId {
        self.core
            .add_listener(METRIC_IDS, vec![], Callback::Ids(Box::new(f)))
    }

    /// Listens to a metric (`None`: any): `f(metrics, metric_id, new_metric, old_metric)`.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use tinystore_core::Store;
    /// use tinystore_core::views::{Aggregate, Metrics};
    /// let store = Store::new();
    /// let metrics = Metrics::new(&store);
    /// metrics.set_metric_definition("rows", "t", Aggregate::Sum, None);
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let s = seen.clone();
    /// metrics.add_metric_listener(None, move |_, id, new, old| s.lock().unwrap().push((id.to_string(), new, old)));
    /// store.set_cell("t", "r", "c", 1);
    /// assert_eq!(*seen.lock().unwrap(), [("rows".to_string(), Some(1.0), None)]);
    /// ```
    pub fn add_metric_listener(
        &self,
        metric_id: Option<&str>,
        f: impl FnMut(&Metrics, &str, Option<f64>, Option<f64>) + Send + 'static,
    ) -> ListenerId {
        let path = vec![metric_id.map(Text::from)];
        self.core
            .add_listener(METRIC, path, Callback::Metric(Box::new(f)))
    }

    /// Removes a listener (unknown ids are ignored).
    ///
    /// ```
    /// # use tinystore_core::Store;
    /// # use tinystore_core::views::Metrics;
    /// let metrics = Metrics::new(&Store::new());
    /// let id = metrics.add_metric_listener(None, |_, _, _, _| {});
    /// metrics.del_listener(id);
    /// assert_eq!(metrics.get_listener_stats().metric, 0);
    /// ```
    pub fn del_listener(&self, id: ListenerId) -> &Self {
        self.core.listeners.lock().remove(id);
        self
    }

    /// Listener counts.
    ///
    /// ```
    /// # use tinystore_core::Store;
    /// # use tinystore_core::views::Metrics;
    /// let metrics = Metrics::new(&Store::new());
    /// metrics.add_metric_listener(None, |_, _, _, _| {});
    /// assert_eq!(metrics.get_listener_stats().metric, 1);
    /// ```
    pub fn get_listener_stats(&self) -> MetricsListenerStats {
        MetricsListenerStats {
            metric: self.core.count(METRIC),
        }
    }

    fn fire(&self, events: &[Event]) {
        let registry = &self.core.listeners;
        for event in events {
            match event {
                Event::MetricIds => fire(registry, METRIC_IDS, &[], |c| {
                    if let Callback::Ids(f) = c {
                        f(self);
                    }
                }),
                Event::Metric(id, new, old) => fire(registry, METRIC, &[id], |c| {
                    if let Callback::Metric(f) = c {
                        f(self, id, *new, *old);
                    }
                }),
            }
        }
    }
}

/// A row's number (`None`: the row is gone or its value does not count).
fn compute(
    store: &Store,
    table_id: &str,
    source: Option<&Source<Option<Cell>>>,
    row_id: &str,
) -> Option<f64> {
    if !store.has_row(table_id, row_id) {
        return None;
    }
    let value = match source {
        None => Some(Cell::Number(1.0)),
        Some(source) => evaluate(source, store, table_id, row_id, |cell| cell),
    };
    metric_number(value.as_ref())
}

/// TinyBase's metric `onChanged` and `getAggregateValue`: the incremental hooks for each
/// changed number while they give a value, else the full aggregate. The new metric is
/// computed before anything changes: if the aggregate panics, the row numbers are still
/// applied, the metric keeps its value until the next change recomputes it in full, and the
/// panic is returned.
fn on_changed(def: &mut MetricDef, metric_id: &str, force: bool) -> (Vec<Event>, Option<Panic>) {
    let old_metric = def.metric;
    let force = force || old_metric.is_none() || std::mem::take(&mut def.stale);
    let result = catch_unwind(AssertUnwindSafe(|| new_metric(def, force)));
    def.rows.apply();
    def.rows.clear_changes();
    let new = match result {
        Ok(new) => new.filter(|n| n.is_finite()),
        Err(panic) => {
            def.stale = true;
            return (Vec::new(), Some(panic));
        }
    };
    if new == old_metric {
        return (Vec::new(), None);
    }
    def.metric = new;
    let event = Event::Metric(Text::from(metric_id), new, old_metric);
    (vec![event], None)
}

/// The metric after the pending changes, without applying them.
fn new_metric(def: &MetricDef, mut force: bool) -> Option<f64> {
    let rows = &def.rows;
    let mut length = rows.values.len();
    let new_length = {
        let mut n = length;
        for (_, (old, new)) in rows.changed.iter() {
            match (old, new) {
                (None, Some(_)) => n += 1,
                (Some(_), None) => n -= 1,
                _ => {}
            }
        }
        n
    };
    if new_length == 0 {
        return None;
    }
    let mut metric = def.metric;
    for (_, (old, new)) in rows.changed.iter() {
        if force {
            break;
        }
        let Some(current) = metric else { break };
        metric = match (old, new) {
            (None, Some(add)) => {
                length += 1;
                def.aggregate.add(current, *add, length - 1)
            }
            (Some(remove), None) => {
                length -= 1;
                def.aggregate.remove(current, *remove, length + 1)
            }
            (Some(remove), Some(add)) => def.aggregate.replace(current, *add, *remove, length),
            (None, None) => Some(current),
        };
        force = metric.is_none();
    }
    if !force {
        return metric;
    }
    // The numbers in the order TinyBase's map would hold them once the changes are applied.
    let mut numbers: Vec<f64> = Vec::with_capacity(new_length);
    for (row, value) in rows.values.iter() {
        match rows.changed.get(row.as_str()) {
            Some((_, Some(new))) => numbers.push(*new),
            Some((_, None)) => {}
            None => numbers.push(*value),
        }
    }
    for (_, (old, new)) in rows.changed.iter() {
        if let (None, Some(new)) = (old, new) {
            numbers.push(*new);
        }
    }
    def.aggregate.full(&numbers)
}
