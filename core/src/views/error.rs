//! The one error type of the derived views: invalid arguments, reported when a definition is
//! set (nothing changes). Failures of the application's own functions are not errors of this
//! type: they are panics carried to the writer (see [`crate::views`], "Panics").

/// Invalid arguments to a view, reported when a definition is set; nothing was changed.
///
/// ```
/// use tinystore_core::views::{Aggregate, ViewError};
/// use tinystore_core::{Store, create_queries};
/// assert!(matches!(Aggregate::named("median"), Err(ViewError::UnknownAggregate(_))));
/// let queries = create_queries(&Store::new());
/// let err = queries.set_query_definition("q", "pets", |b| { b.group("price", "median"); });
/// assert!(matches!(err, Err(ViewError::UnknownAggregate(_))));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ViewError {
    /// An aggregate name TinyBase does not define: `sum`, `avg`, `min`, `max`, and `count` in a
    /// query's `group` (TinyBase would silently use `sum`).
    #[error("unknown aggregate {0:?}: expected sum, avg, min or max (or count in a query's group)")]
    UnknownAggregate(String),
    /// A calculated `select` had no `as_` alias (TinyBase would name it by its position).
    #[error("the calculated select at position {0} needs an alias (`as_`)")]
    CalculatedSelectWithoutAlias(usize),
    /// `select_all` of query results would rename cells in a loop (TinyBase's error 16).
    #[error("select_all of query results forms a cycle that renames cells")]
    SelectAllCycle,
}
