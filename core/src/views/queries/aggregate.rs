//! Group aggregates: the built-in `count`/`sum`/`avg`/`min`/`max` with JavaScript's arithmetic
//! on cells, custom aggregates, and TinyBase's incremental update rule.

use std::fmt;
use std::sync::Arc;

use crate::js;
use crate::types::Cell;

/// `(values, length) -> aggregate` of a custom aggregate.
pub type AggregateFn = Arc<dyn Fn(&[Cell], usize) -> Option<Cell> + Send + Sync>;
/// `(aggregate, added or removed value, length before the change) -> aggregate`, TinyBase's
/// `aggregateAdd` / `aggregateRemove`; `None` makes the group recompute from all values.
pub type AggregateStepFn = Arc<dyn Fn(&Cell, &Cell, usize) -> Option<Cell> + Send + Sync>;
/// `(aggregate, new value, old value, length) -> aggregate`, TinyBase's `aggregateReplace`.
pub type AggregateReplaceFn = Arc<dyn Fn(&Cell, &Cell, &Cell, usize) -> Option<Cell> + Send + Sync>;

/// How a `group` clause aggregates a selected cell.
///
/// ```
/// use tinystore_core::views::queries::Aggregate;
/// assert!(matches!(Aggregate::from_name("avg"), Ok(Aggregate::Avg)));
/// assert!(Aggregate::from_name("median").is_err());
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub enum Aggregate {
    /// How many rows of the group have the cell.
    Count,
    /// JavaScript's `+` over the values (numbers add, a string concatenates).
    Sum,
    /// The sum divided by the count.
    Avg,
    /// `Math.min` of the values.
    Min,
    /// `Math.max` of the values.
    Max,
    /// A custom aggregate with optional incremental steps.
    Custom(CustomAggregate),
}

/// A custom aggregate: the full computation and, optionally, TinyBase's incremental hooks.
///
/// ```
/// use tinystore_core::views::queries::CustomAggregate;
/// use tinystore_core::Cell;
/// let longest = CustomAggregate::new(|cells, _| {
///     cells.iter().filter_map(Cell::as_str).map(str::len).max().map(|n| Cell::from(n as f64))
/// });
/// assert!(longest.add.is_none());
/// ```
#[derive(Clone)]
pub struct CustomAggregate {
    /// `(values, length) -> aggregate`.
    pub aggregate: AggregateFn,
    /// Called when a row joins the group.
    pub add: Option<AggregateStepFn>,
    /// Called when a row leaves the group.
    pub remove: Option<AggregateStepFn>,
    /// Called when a row's value changes.
    pub replace: Option<AggregateReplaceFn>,
}

impl CustomAggregate {
    /// A custom aggregate recomputed from all values on every change.
    pub fn new(aggregate: impl Fn(&[Cell], usize) -> Option<Cell> + Send + Sync + 'static) -> Self {
        CustomAggregate {
            aggregate: Arc::new(aggregate),
            add: None,
            remove: None,
            replace: None,
        }
    }
    /// Sets the incremental `aggregateAdd` hook.
    #[must_use]
    pub fn with_add(
        mut self,
        add: impl Fn(&Cell, &Cell, usize) -> Option<Cell> + Send + Sync + 'static,
    ) -> Self {
        self.add = Some(Arc::new(add));
        self
    }
    /// Sets the incremental `aggregateRemove` hook.
    #[must_use]
    pub fn with_remove(
        mut self,
        remove: impl Fn(&Cell, &Cell, usize) -> Option<Cell> + Send + Sync + 'static,
    ) -> Self {
        self.remove = Some(Arc::new(remove));
        self
    }
    /// Sets the incremental `aggregateReplace` hook.
    #[must_use]
    pub fn with_replace(
        mut self,
        replace: impl Fn(&Cell, &Cell, &Cell, usize) -> Option<Cell> + Send + Sync + 'static,
    ) -> Self {
        self.replace = Some(Arc::new(replace));
        self
    }
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

impl fmt::Debug for Aggregate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Aggregate::Count => "Count",
            Aggregate::Sum => "Sum",
            Aggregate::Avg => "Avg",
            Aggregate::Min => "Min",
            Aggregate::Max => "Max",
            Aggregate::Custom(_) => "Custom",
        })
    }
}

impl Aggregate {
    /// The built-in aggregate of a TinyQL name; any other name is an error (TinyBase would
    /// silently count).
    pub fn from_name(name: &str) -> Result<Aggregate, crate::views::ViewError> {
        Ok(match name {
            "count" => Aggregate::Count,
            "sum" => Aggregate::Sum,
            "avg" => Aggregate::Avg,
            "min" => Aggregate::Min,
            "max" => Aggregate::Max,
            _ => return Err(crate::views::ViewError::UnknownAggregate(name.to_string())),
        })
    }

    /// The aggregate of all `len` values, `values` collecting them (only when needed).
    fn full(&self, len: usize, values: impl FnOnce() -> Vec<Cell>) -> Js {
        match self {
            Aggregate::Count => Js::Num(len as f64),
            Aggregate::Sum => sum(&values()),
            Aggregate::Avg => Js::Num(sum(&values()).to_number() / len as f64),
            Aggregate::Min => Js::Num(
                values()
                    .iter()
                    .fold(f64::INFINITY, |m, v| js::math_min(m, num(v))),
            ),
            Aggregate::Max => Js::Num(
                values()
                    .iter()
                    .fold(f64::NEG_INFINITY, |m, v| js::math_max(m, num(v))),
            ),
            Aggregate::Custom(c) => Js::from_opt((c.aggregate)(&values(), len)),
        }
    }

    fn add(&self, metric: &Cell, add: &Cell, len: usize) -> Js {
        match self {
            Aggregate::Count => Js::Undefined,
            Aggregate::Sum => plus(&Js::from(metric), &Js::from(add)),
            Aggregate::Avg => {
                let step = (num(add) - num(metric)) / (len as f64 + 1.0);
                plus(&Js::from(metric), &Js::Num(step))
            }
            Aggregate::Min => Js::Num(js::math_min(num(add), num(metric))),
            Aggregate::Max => Js::Num(js::math_max(num(add), num(metric))),
            Aggregate::Custom(c) => Js::from_opt(c.add.as_ref().and_then(|f| f(metric, add, len))),
        }
    }

    fn remove(&self, metric: &Cell, remove: &Cell, len: usize) -> Js {
        match self {
            Aggregate::Count => Js::Undefined,
            Aggregate::Sum => Js::Num(num(metric) - num(remove)),
            Aggregate::Avg if len > 1 => {
                let step = (num(metric) - num(remove)) / (len as f64 - 1.0);
                plus(&Js::from(metric), &Js::Num(step))
            }
            Aggregate::Avg => Js::Undefined,
            Aggregate::Min | Aggregate::Max if loose_eq(remove, metric) => Js::Undefined,
            Aggregate::Min | Aggregate::Max => Js::from(metric),
            Aggregate::Custom(c) => {
                Js::from_opt(c.remove.as_ref().and_then(|f| f(metric, remove, len)))
            }
        }
    }

    fn replace(&self, metric: &Cell, add: &Cell, remove: &Cell, len: usize) -> Js {
        match self {
            Aggregate::Count => Js::Undefined,
            Aggregate::Sum => plus(&Js::Num(num(metric) - num(remove)), &Js::from(add)),
            Aggregate::Avg => {
                let step = (num(add) - num(remove)) / len as f64;
                plus(&Js::from(metric), &Js::Num(step))
            }
            Aggregate::Min | Aggregate::Max if loose_eq(remove, metric) => Js::Undefined,
            Aggregate::Min => Js::Num(js::math_min(num(add), num(metric))),
            Aggregate::Max => Js::Num(js::math_max(num(add), num(metric))),
            Aggregate::Custom(c) => {
                Js::from_opt(c.replace.as_ref().and_then(|f| f(metric, add, remove, len)))
            }
        }
    }

    /// TinyBase's `getAggregateValue`: applies one `(old, new)` change incrementally to the
    /// current aggregate when it can, else recomputes from `values()` (the group's `len` values
    /// after the change, in insertion order). `old_len` is the group's value count before it.
    pub(crate) fn update(
        &self,
        current: Option<&Cell>,
        old_len: usize,
        len: usize,
        values: impl FnOnce() -> Vec<Cell>,
        change: (Option<&Cell>, Option<&Cell>),
    ) -> Option<Cell> {
        if len == 0 {
            return None;
        }
        let incremental = current.and_then(|metric| {
            let next = match change {
                (None, Some(new)) => self.add(metric, new, old_len),
                (Some(old), None) => self.remove(metric, old, old_len),
                (Some(old), Some(new)) => self.replace(metric, new, old, old_len),
                (None, None) => return Some(Js::from(metric)),
            };
            // An undefined step (also a missing hook) means "recompute from all values".
            (!matches!(next, Js::Undefined)).then_some(next)
        });
        incremental
            .unwrap_or_else(|| self.full(len, values))
            .into_cell()
    }
}

/// A JavaScript value as aggregates compute it; only valid cells leave this module.
#[derive(Clone, Debug)]
enum Js {
    Undefined,
    Num(f64),
    Cell(Cell),
}

impl From<&Cell> for Js {
    fn from(cell: &Cell) -> Js {
        match cell {
            Cell::Number(n) => Js::Num(*n),
            other => Js::Cell(other.clone()),
        }
    }
}

impl Js {
    fn from_opt(cell: Option<Cell>) -> Js {
        cell.as_ref().map_or(Js::Undefined, Js::from)
    }

    fn to_number(&self) -> f64 {
        match self {
            Js::Undefined => f64::NAN,
            Js::Num(n) => *n,
            Js::Cell(c) => num(c),
        }
    }

    fn is_string(&self) -> bool {
        matches!(
            self,
            Js::Cell(Cell::String(_) | Cell::Object(_) | Cell::Array(_))
        )
    }

    fn to_js_string(&self) -> String {
        match self {
            Js::Undefined => "undefined".to_string(),
            Js::Num(n) => js::number_to_string(*n),
            Js::Cell(Cell::Null) => "null".to_string(),
            Js::Cell(Cell::Boolean(b)) => b.to_string(),
            Js::Cell(Cell::Number(n)) => js::number_to_string(*n),
            Js::Cell(Cell::String(s) | Cell::Object(s) | Cell::Array(s)) => s.to_string(),
        }
    }

    /// TinyBase keeps an aggregate only when it is a valid cell (finite numbers included).
    fn into_cell(self) -> Option<Cell> {
        let cell = match self {
            Js::Undefined => return None,
            Js::Num(n) => Cell::Number(n),
            Js::Cell(c) => c,
        };
        cell.is_valid().then_some(cell)
    }
}

fn num(cell: &Cell) -> f64 {
    cell.to_js().to_number()
}

/// JavaScript's binary `+`: string concatenation if either side is a string, else addition.
fn plus(a: &Js, b: &Js) -> Js {
    if a.is_string() || b.is_string() {
        Js::Cell(Cell::String(
            format!("{}{}", a.to_js_string(), b.to_js_string()).into(),
        ))
    } else {
        Js::Num(a.to_number() + b.to_number())
    }
}

fn sum(values: &[Cell]) -> Js {
    values
        .iter()
        .fold(Js::Num(0.0), |acc, v| plus(&acc, &Js::from(v)))
}

/// JavaScript's `==` between two cells.
pub(super) fn loose_eq(a: &Cell, b: &Cell) -> bool {
    match (a, b) {
        (Cell::Null, Cell::Null) => true,
        (Cell::Null, _) | (_, Cell::Null) => false,
        (Cell::String(x), Cell::String(y)) => x == y,
        (Cell::Boolean(x), Cell::Boolean(y)) => x == y,
        (Cell::Object(_) | Cell::Array(_), _) | (_, Cell::Object(_) | Cell::Array(_)) => false,
        _ => num(a) == num(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(x: f64) -> Cell {
        Cell::Number(x)
    }

    #[test]
    fn sum_concatenates_strings_like_javascript() {
        let values = [n(1.0), Cell::from("a"), n(2.0)];
        assert_eq!(
            Aggregate::Sum.full(3, || values.to_vec()).into_cell(),
            Some(Cell::from("1a2"))
        );
    }

    #[test]
    fn max_of_a_non_numeric_string_is_dropped() {
        let values = [n(1.0), Cell::from("x")];
        assert_eq!(Aggregate::Max.full(2, || values.to_vec()).into_cell(), None);
        assert_eq!(
            Aggregate::Min
                .full(2, || vec![n(3.0), Cell::from("2")])
                .into_cell(),
            Some(n(2.0))
        );
    }

    #[test]
    fn removing_the_max_recomputes() {
        let values = || vec![n(1.0)];
        let next = Aggregate::Max.update(Some(&n(5.0)), 2, 1, values, (Some(&n(5.0)), None));
        assert_eq!(next, Some(n(1.0)));
        let kept =
            Aggregate::Max.update(Some(&n(5.0)), 2, 1, || vec![n(5.0)], (Some(&n(1.0)), None));
        assert_eq!(kept, Some(n(5.0)));
    }

    #[test]
    fn avg_steps_incrementally() {
        let next = Aggregate::Avg.update(
            Some(&n(4.0)),
            2,
            3,
            || vec![n(3.0), n(5.0), n(7.0)],
            (None, Some(&n(7.0))),
        );
        assert_eq!(next, Some(n(5.0)));
        assert_eq!(
            Aggregate::Avg.update(None, 0, 0, Vec::new, (None, None)),
            None
        );
    }
}
