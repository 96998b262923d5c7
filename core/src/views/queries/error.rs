//! Errors of query definitions.

/// Why a query definition was rejected (nothing changed).
///
/// ```
/// use tinystore_core::views::queries::{QueryError, create_queries};
/// use tinystore_core::Store;
/// let queries = create_queries(&Store::new());
/// let err = queries.set_query_definition("q", "pets", |b| { b.group("price", "median"); });
/// assert!(matches!(err, Err(QueryError::UnknownAggregate(_))));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// `group` named an aggregate other than `count`, `sum`, `avg`, `min`, `max`.
    #[error("unknown aggregate {0:?} (expected count, sum, avg, min or max)")]
    UnknownAggregate(String),
    /// A calculated `select` had no `as_` alias (TinyBase would name it by its position).
    #[error("the calculated select at position {0} needs an alias (`as_`)")]
    CalculatedSelectWithoutAlias(usize),
    /// `select_all` of query results would rename cells in a loop (TinyBase's error 16).
    #[error("select_all of query results forms a cycle that renames cells")]
    SelectAllCycle,
}
