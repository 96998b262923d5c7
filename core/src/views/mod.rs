//! Derived views over a [`Store`](crate::Store): [`Indexes`], [`Relationships`], [`Metrics`],
//! [`Checkpoints`] and [`Queries`](queries::Queries) (TinyQL), with TinyBase's semantics and
//! listener order (spec store.md §5–§9). Queries keep their results in stores of their own
//! (see [`queries`]); the others share the pieces below.
//!
//! Each view object is a cheap-to-clone, `Send + Sync` handle over one shared state. It follows
//! its store through the store's public listeners, exactly as TinyBase does: every definition
//! of an index, relationship or metric adds a row listener and a table listener on its table
//! (so a changed row is re-evaluated alone, and the definition's own listeners fire from the
//! table listener, after the store's row and cell listeners of that table); checkpoints add a
//! cell and a value listener. The store's closures hold a `Weak` to the view's state, so a
//! dropped view is simply skipped, and `destroy` (or dropping the last handle) removes them.
//!
//! Shared pieces, reusable by other views (Queries):
//! - [`Source`]: "a cell id or a function of `(get_cell, row_id)`", TinyBase's
//!   `getRowCellFunction`;
//! - `listeners::Registry` / `listeners::IdPool`: the view's own listener ids (`0`, `1`, …,
//!   reused) and TinyBase's wildcard calling order;
//! - `view::ViewCore`: what every handle points at (store, state, listeners, panic trap), and
//!   `view::Definition` / `view::Defs`: TinyBase's definable machinery (evaluate a definition's
//!   rows, adopt the state of the definition it replaces, apply, subscribe to the table);
//! - `rows::RowCache`: per-definition row values and sort keys, the changes of the current
//!   transaction, and `rows::link_table`, which subscribes a definition to its table;
//! - `rows::PanicTrap`: how a panicking definition function reaches the writer without
//!   abandoning the other views (below);
//! - the JavaScript conversions TinyBase applies to cell values (`js_string`,
//!   `slice_id_of_cell`, `sort_key_primitive`, `metric_number`, `default_row_sorter_less`).
//!
//! **Panics.** A definition function (slice ids, sort key, remote row id, number, sorter,
//! aggregate) is called before the view's state changes. If it panics while the store
//! dispatches a transaction, the panic is caught: the row it was evaluating keeps its previous
//! entry (a panicking sorter leaves that slice's order, or the slice order, as it was until the
//! next change re-sorts; a panicking aggregate keeps the metric's value until the next change
//! recomputes it), every other row, definition and view is updated as usual, and the first
//! panic is resumed to the caller of the write when the transaction finishes (from a
//! did-finish listener, which the store calls even after a failure). The store's write itself
//! stands, as for any panicking non-mutator listener; a panicking view listener is treated the
//! same way (the rest of that view's listener calls for the transaction are skipped, as in
//! TinyBase). While a definition is being set, a panicking row function reaches the caller of
//! `set_*_definition` with nothing changed; a panicking sorter or aggregate leaves the
//! definition set (as above) and is resumed after its listeners ran.
//!
//! **Known limit (as in TinyBase).** A *store* listener that panics abandons the rest of the
//! store's listener phase, so the views' row and table listeners that come after it do not run
//! for that transaction and the views miss its changes.
//!
//! ```
//! use tinystore_core::{Cell, Store};
//! use tinystore_core::views::{Indexes, Source};
//!
//! let store = Store::new();
//! store.set_cell("pets", "fido", "species", "dog");
//! let indexes = Indexes::new(&store);
//! indexes.set_index_definition("bySpecies", "pets", Some(Source::cell("species")), None, None, None);
//! store.set_cell("pets", "rex", "species", "dog");
//! assert_eq!(indexes.get_slice_row_ids("bySpecies", "dog"), ["fido", "rex"]);
//! ```

pub mod checkpoints;
mod error;
pub mod indexes;
pub(crate) mod listeners;
pub mod metrics;
pub mod queries;
pub mod relationships;
pub(crate) mod rows;
mod slice;
pub(crate) mod view;

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

pub use checkpoints::{CheckpointIds, Checkpoints, CheckpointsListenerStats, create_checkpoints};
pub use error::ViewError;
pub use indexes::{Indexes, IndexesListenerStats, RowIdSorter, SliceIdSorter, create_indexes};
pub use metrics::{Aggregate, CustomAggregate, Metrics, MetricsListenerStats, create_metrics};
pub use metrics::{AggregateAddFn, AggregateFn, AggregateRemoveFn, AggregateReplaceFn};
pub use relationships::{Relationships, RelationshipsListenerStats, create_relationships};

use crate::js::{self, Primitive};
use crate::types::Cell;

/// The `getCell` a definition function is given: reads a cell of the row being evaluated.
pub type GetCell<'a> = dyn Fn(&str) -> Option<Cell> + 'a;

/// A definition function: `(get_cell, row_id) -> T`.
pub type RowFn<T> = Arc<dyn Fn(&GetCell<'_>, &str) -> T + Send + Sync>;

/// What a definition reads from each row: one cell, or a function of the row
/// (TinyBase's "a cell id or a `(getCell, rowId) => …` function").
///
/// ```
/// use tinystore_core::views::Source;
/// let by_cell: Source<Vec<String>> = Source::cell("species");
/// let by_fn: Source<Vec<String>> = Source::func(|get_cell, _row| {
///     vec![get_cell("species").and_then(|c| c.as_str().map(str::to_owned)).unwrap_or_default()]
/// });
/// assert!(matches!(by_cell, Source::Cell(_)) && matches!(by_fn, Source::Fn(_)));
/// ```
pub enum Source<T> {
    /// The value of this cell of the row.
    Cell(String),
    /// The result of this function of the row.
    Fn(RowFn<T>),
}

impl<T> Source<T> {
    /// A cell id source.
    ///
    /// ```
    /// use tinystore_core::Store;
    /// use tinystore_core::views::{Indexes, Source};
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "species", "dog");
    /// let indexes = Indexes::new(&store);
    /// indexes.set_index_definition("bySpecies", "pets", Some(Source::cell("species")), None, None, None);
    /// assert_eq!(indexes.get_slice_ids("bySpecies"), ["dog"]);
    /// ```
    pub fn cell(cell_id: impl Into<String>) -> Self {
        Source::Cell(cell_id.into())
    }

    /// A function source.
    ///
    /// ```
    /// use tinystore_core::Store;
    /// use tinystore_core::views::{Indexes, Source};
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "legs", 4).set_cell("pets", "tweety", "legs", 2);
    /// let indexes = Indexes::new(&store);
    /// // Slice by a value computed from the row, here its first letter.
    /// let initial = Source::func(|_get_cell, row_id: &str| vec![row_id[..1].to_uppercase()]);
    /// indexes.set_index_definition("byInitial", "pets", Some(initial), None, None, None);
    /// assert_eq!(indexes.get_slice_ids("byInitial"), ["F", "T"]);
    /// ```
    pub fn func(f: impl Fn(&GetCell<'_>, &str) -> T + Send + Sync + 'static) -> Self {
        Source::Fn(Arc::new(f))
    }
}

impl<T> Clone for Source<T> {
    fn clone(&self) -> Self {
        match self {
            Source::Cell(c) => Source::Cell(c.clone()),
            Source::Fn(f) => Source::Fn(f.clone()),
        }
    }
}

impl<T> fmt::Debug for Source<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Cell(c) => f.debug_tuple("Cell").field(c).finish(),
            Source::Fn(_) => f.write_str("Fn(..)"),
        }
    }
}

/// JavaScript's `String(value)` of the value TinyBase's `getCell` returns (objects and arrays
/// decoded): `"[object Object]"` for an object, the elements joined by `,` for an array.
pub(crate) fn js_string(cell: &Cell) -> String {
    match cell {
        Cell::Null => "null".into(),
        Cell::Boolean(b) => b.to_string(),
        Cell::Number(n) => js::number_to_string(*n),
        Cell::String(s) => s.to_string(),
        Cell::Object(_) => "[object Object]".into(),
        Cell::Array(text) => match serde_json::from_str::<serde_json::Value>(text) {
            Ok(value) => json_join(&value),
            Err(_) => String::new(),
        },
    }
}

/// `String(x)` of a decoded JSON value, as an element of an array is joined.
fn json_join(value: &serde_json::Value) -> String {
    use serde_json::Value as J;
    match value {
        J::Null => String::new(),
        J::Bool(b) => b.to_string(),
        J::Number(n) => js::number_to_string(n.as_f64().unwrap_or(f64::NAN)),
        J::String(s) => s.clone(),
        J::Object(_) => "[object Object]".into(),
        J::Array(items) => {
            let parts: Vec<String> = items
                .iter()
                .map(|item| match item {
                    J::Null => String::new(),
                    other => json_join(other),
                })
                .collect();
            parts.join(",")
        }
    }
}

/// A slice id read from a cell: TinyBase re-encodes objects and arrays (`U+FFFD` + JSON), and
/// takes `'' + value` of the rest.
pub(crate) fn slice_id_of_cell(cell: &Cell) -> String {
    match cell {
        Cell::Object(t) | Cell::Array(t) => format!("{}{t}", crate::types::ENCODED_PREFIX),
        other => js_string(other),
    }
}

/// The primitive JavaScript's `<` sees for a sort key (`key ?? 0`, objects and arrays decoded
/// then converted to their string).
pub(crate) fn sort_key_primitive(key: Option<&Cell>) -> Primitive<'_> {
    match key {
        None | Some(Cell::Null) => Primitive::Number(0.0),
        Some(Cell::Boolean(b)) => Primitive::Boolean(*b),
        Some(Cell::Number(n)) => Primitive::Number(*n),
        Some(Cell::String(s)) => Primitive::String(Cow::Borrowed(s.as_str())),
        Some(other) => Primitive::String(Cow::Owned(js_string(other))),
    }
}

/// TinyBase's `defaultSorter` for sort keys: `(a ?? 0) < (b ?? 0) ? Less : Greater`, with
/// JavaScript's `<` (objects and arrays compared as their string). It never says `Equal`, as
/// in TinyBase; custom [`RowIdSorter`]s can build on it.
///
/// ```
/// use std::cmp::Ordering;
/// use tinystore_core::Cell;
/// use tinystore_core::views::default_sorter;
/// assert_eq!(default_sorter(None, Some(&Cell::from(1))), Ordering::Less);
/// assert_eq!(default_sorter(Some(&Cell::from(1)), Some(&Cell::from(1))), Ordering::Greater);
/// ```
pub fn default_sorter(a: Option<&Cell>, b: Option<&Cell>) -> std::cmp::Ordering {
    if default_row_sorter_less(a, b) {
        std::cmp::Ordering::Less
    } else {
        std::cmp::Ordering::Greater
    }
}

/// TinyBase's default row sorter, `(a ?? 0) < (b ?? 0) ? -1 : 1`, as "a goes first".
pub(crate) fn default_row_sorter_less(a: Option<&Cell>, b: Option<&Cell>) -> bool {
    js::less_than(&sort_key_primitive(a), &sort_key_primitive(b))
}

/// The number a metric counts for a row value, or `None` if TinyBase excludes it: missing,
/// booleans, `""` and anything whose `Number()` is `NaN`; `null` counts as 0.
pub(crate) fn metric_number(value: Option<&Cell>) -> Option<f64> {
    let n = match value? {
        Cell::Boolean(_) => return None,
        Cell::String(s) if s.is_empty() => return None,
        Cell::Null => 0.0,
        Cell::Number(n) => *n,
        Cell::String(s) => js::string_to_number(s),
        Cell::Object(_) => f64::NAN,
        array @ Cell::Array(_) => js::string_to_number(&js_string(array)),
    };
    (!n.is_nan()).then_some(n)
}
