//! The TinyQL builder a query definition's closure receives, and the clause types it records.

use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;

use crate::content::Row;
use crate::types::Cell;

use super::aggregate::{Aggregate, CustomAggregate};
use crate::views::ViewError;

/// A calculated select: `(getTableCell, rootRowId) -> value`.
pub type SelectFn = Arc<dyn Fn(&TableCells<'_>, &str) -> Option<Cell> + Send + Sync>;
/// A calculated join: `(getCell of the row joined from, rootRowId) -> remote row id`.
pub type JoinFn = Arc<dyn Fn(&RowCells<'_>, &str) -> Option<String> + Send + Sync>;
/// A calculated where: `(getTableCell) -> keep the row`.
pub type WhereFn = Arc<dyn Fn(&TableCells<'_>) -> bool + Send + Sync>;
/// A calculated having: `(getCell of the group row) -> keep the group`.
pub type HavingFn = Arc<dyn Fn(&RowCells<'_>) -> bool + Send + Sync>;
/// Maps a cell id of a `select_all` source to its result cell id.
pub type CellIdMapper = Arc<dyn Fn(&str) -> String + Send + Sync>;
/// A query definition: the closure that declares the clauses.
pub type BuildFn = Arc<dyn Fn(&QueryBuilder) + Send + Sync>;

/// TinyQL's `getTableCell`, given to calculated selects and wheres: the root row's cells and
/// those of the rows joined to it.
///
/// ```
/// use tinystore_core::views::queries::create_queries;
/// use tinystore_core::{Cell, Store};
/// let store = Store::new();
/// store.set_cell("pets", "fido", "price", 5);
/// let queries = create_queries(&store);
/// queries.set_query_definition("q", "pets", |b| {
///     b.select_fn(|cells, _| cells.cell("price").and_then(|c| c.as_f64()).map(|p| Cell::from(p * 2.0)))
///         .as_("double");
/// }).unwrap();
/// assert_eq!(queries.get_result_cell("q", "fido", "double"), Some(Cell::from(10)));
/// ```
pub struct TableCells<'a> {
    pub(crate) get: &'a dyn Fn(CellRef<'_>) -> Option<Cell>,
}

/// Which cell a [`TableCells`] lookup names.
#[derive(Clone, Copy, Debug)]
pub(crate) enum CellRef<'a> {
    Root(&'a str),
    Joined(&'a str, &'a str),
    Query(&'a str, &'a str),
}

impl TableCells<'_> {
    /// A cell of the root row (`getTableCell(cellId)`).
    pub fn cell(&self, cell_id: &str) -> Option<Cell> {
        (self.get)(CellRef::Root(cell_id))
    }
    /// A cell of the row joined as `joined_table_id` (its alias); the root table's own id names
    /// the root row (`getTableCell(joinedTableId, cellId)`).
    pub fn joined(&self, joined_table_id: &str, cell_id: &str) -> Option<Cell> {
        (self.get)(CellRef::Joined(joined_table_id, cell_id))
    }
    /// A cell of the joined query result row (`getTableCell(true, joinedQueryId, cellId)`).
    pub fn query(&self, joined_query_id: &str, cell_id: &str) -> Option<Cell> {
        (self.get)(CellRef::Query(joined_query_id, cell_id))
    }
}

/// TinyQL's `getCell` of one row, given to calculated joins and havings.
///
/// ```
/// use tinystore_core::views::queries::create_queries;
/// use tinystore_core::{Cell, Store};
/// let store = Store::new();
/// store.set_cell("pets", "fido", "price", 5).set_cell("pets", "rex", "price", 3);
/// let queries = create_queries(&store);
/// queries.set_query_definition("q", "pets", |b| {
///     b.select("price");
///     b.having_fn(|row| row.get("price").and_then(|c| c.as_f64()).is_some_and(|p| p > 4.0));
/// }).unwrap();
/// assert_eq!(queries.get_result_row_count("q"), 1);
/// ```
pub struct RowCells<'a> {
    pub(crate) get: &'a dyn Fn(&str) -> Option<Cell>,
}

impl RowCells<'_> {
    /// The cell, if present.
    pub fn get(&self, cell_id: &str) -> Option<Cell> {
        (self.get)(cell_id)
    }
}

/// How a join finds its remote row: a cell holding the remote row id, or a function.
#[derive(Clone)]
pub enum On {
    /// The remote row id is this cell's value (a string; other values join nothing).
    Cell(String),
    /// The remote row id is computed.
    Fn(JoinFn),
}

impl From<&str> for On {
    fn from(cell_id: &str) -> On {
        On::Cell(cell_id.to_string())
    }
}

impl From<String> for On {
    fn from(cell_id: String) -> On {
        On::Cell(cell_id)
    }
}

impl On {
    /// A calculated join.
    pub fn func(f: impl Fn(&RowCells<'_>, &str) -> Option<String> + Send + Sync + 'static) -> On {
        On::Fn(Arc::new(f))
    }
}

impl fmt::Debug for On {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            On::Cell(c) => write!(f, "On::Cell({c:?})"),
            On::Fn(_) => f.write_str("On::Fn"),
        }
    }
}

#[derive(Clone)]
pub(crate) enum SelectSource {
    Root(String),
    Joined(String, String),
    Query(String, String),
    Fn(SelectFn),
}

#[derive(Clone)]
pub(crate) enum Selection {
    Cell {
        alias: String,
        source: SelectSource,
        aliased: bool,
    },
    All {
        /// `None` for the root table.
        joined: Option<String>,
        mapper: CellIdMapper,
        /// Whether the mapper changes cell ids.
        renames: bool,
    },
}

#[derive(Clone)]
pub(crate) struct JoinClause {
    pub alias: String,
    pub table_id: String,
    pub from: Option<String>,
    pub on: On,
    pub query: bool,
}

#[derive(Clone)]
pub(crate) struct GroupClause {
    pub alias: String,
    pub selected: String,
    pub aggregate: Aggregate,
}

#[derive(Default)]
pub(crate) struct Clauses {
    pub selections: Vec<Selection>,
    pub joins: Vec<JoinClause>,
    pub wheres: Vec<WhereFn>,
    pub groups: Vec<GroupClause>,
    pub havings: Vec<HavingFn>,
    pub errors: Vec<ViewError>,
}

/// What a query definition's closure receives: TinyQL's `select`, `select_all`, `join`,
/// `where`, `group`, `having` and `param`, one method per form.
///
/// ```
/// use tinystore_core::views::queries::create_queries;
/// use tinystore_core::{Cell, Store};
/// let store = Store::new();
/// store.set_cell("pets", "fido", "species", "dog").set_cell("pets", "fido", "price", 5);
/// store.set_cell("species", "dog", "legs", 4);
/// let queries = create_queries(&store);
/// queries.set_query_definition("q", "pets", |b| {
///     b.select("price");
///     b.join("species", "species");
///     b.select_from("species", "legs").as_("feet");
/// }).unwrap();
/// assert_eq!(queries.get_result_cell("q", "fido", "feet"), Some(Cell::from(4)));
/// ```
pub struct QueryBuilder {
    pub(crate) clauses: RefCell<Clauses>,
    pub(crate) params: Row,
}

/// The handle `select`/`join`/`group` return, for TinyQL's `.as(alias)`.
pub struct As<'a> {
    builder: &'a QueryBuilder,
    target: Target,
}

#[derive(Clone, Copy)]
enum Target {
    Selection(usize),
    Join(usize),
    Group(usize),
}

impl As<'_> {
    /// Names the selected cell, the join or the aggregate.
    pub fn as_(&self, alias: &str) -> &Self {
        let mut c = self.builder.clauses.borrow_mut();
        match self.target {
            Target::Selection(i) => {
                if let Some(Selection::Cell {
                    alias: a, aliased, ..
                }) = c.selections.get_mut(i)
                {
                    *a = alias.to_string();
                    *aliased = true;
                }
            }
            Target::Join(i) => c.joins[i].alias = alias.to_string(),
            Target::Group(i) => c.groups[i].alias = alias.to_string(),
        }
        self
    }
}

impl QueryBuilder {
    pub(crate) fn new(params: Row) -> Self {
        QueryBuilder {
            clauses: RefCell::new(Clauses::default()),
            params,
        }
    }

    fn push_select(&self, alias: String, source: SelectSource) -> As<'_> {
        let mut c = self.clauses.borrow_mut();
        c.selections.push(Selection::Cell {
            alias,
            source,
            aliased: false,
        });
        As {
            builder: self,
            target: Target::Selection(c.selections.len() - 1),
        }
    }

    /// `select(cellId)`: a cell of the root row.
    pub fn select(&self, cell_id: &str) -> As<'_> {
        self.push_select(cell_id.to_string(), SelectSource::Root(cell_id.to_string()))
    }
    /// `select(joinedTableId, cellId)`: a cell of a joined row.
    pub fn select_from(&self, joined_table_id: &str, cell_id: &str) -> As<'_> {
        let source = SelectSource::Joined(joined_table_id.to_string(), cell_id.to_string());
        self.push_select(cell_id.to_string(), source)
    }
    /// `select(true, joinedQueryId, cellId)`: a cell of a joined query's result row.
    pub fn select_from_query(&self, joined_query_id: &str, cell_id: &str) -> As<'_> {
        let source = SelectSource::Query(joined_query_id.to_string(), cell_id.to_string());
        self.push_select(cell_id.to_string(), source)
    }
    /// `select((getTableCell, rowId) => value)`: a calculated cell; it must be named with
    /// [`As::as_`].
    pub fn select_fn(
        &self,
        f: impl Fn(&TableCells<'_>, &str) -> Option<Cell> + Send + Sync + 'static,
    ) -> As<'_> {
        let position = self.clauses.borrow().selections.len();
        self.push_select(position.to_string(), SelectSource::Fn(Arc::new(f)))
    }

    /// `selectAll()`: every cell of the root row.
    pub fn select_all(&self) {
        self.push_select_all(None, Arc::new(str::to_string), false);
    }
    /// `selectAll(joinedTableId, prefix)`: every cell of a joined row, each id prefixed
    /// (`""` for none).
    pub fn select_all_from(&self, joined_table_id: &str, prefix: &str) {
        let (renames, prefix) = (!prefix.is_empty(), prefix.to_string());
        let mapper: CellIdMapper = Arc::new(move |id| format!("{prefix}{id}"));
        self.push_select_all(Some(joined_table_id.to_string()), mapper, renames);
    }
    /// `selectAll(joinedTableId, mapper)`: every cell of a joined row (`None`: the root row),
    /// each id mapped.
    pub fn select_all_mapped(
        &self,
        joined_table_id: Option<&str>,
        mapper: impl Fn(&str) -> String + Send + Sync + 'static,
    ) {
        self.push_select_all(joined_table_id.map(str::to_string), Arc::new(mapper), true);
    }
    fn push_select_all(&self, joined: Option<String>, mapper: CellIdMapper, renames: bool) {
        self.clauses.borrow_mut().selections.push(Selection::All {
            joined,
            mapper,
            renames,
        });
    }

    fn push_join(&self, table_id: &str, from: Option<&str>, on: On, query: bool) -> As<'_> {
        let mut c = self.clauses.borrow_mut();
        c.joins.push(JoinClause {
            alias: table_id.to_string(),
            table_id: table_id.to_string(),
            from: from.map(str::to_string),
            on,
            query,
        });
        As {
            builder: self,
            target: Target::Join(c.joins.len() - 1),
        }
    }
    /// `join(tableId, on)`: left-joins the row of `table_id` whose id `on` gives for the root row.
    pub fn join(&self, table_id: &str, on: impl Into<On>) -> As<'_> {
        self.push_join(table_id, None, on.into(), false)
    }
    /// `join(tableId, fromIntermediateJoinedTableId, on)`: joins through another join.
    pub fn join_from(&self, table_id: &str, from: &str, on: impl Into<On>) -> As<'_> {
        self.push_join(table_id, Some(from), on.into(), false)
    }
    /// `join(true, queryId, on)`: joins a row of another query's result.
    pub fn join_query(&self, query_id: &str, on: impl Into<On>) -> As<'_> {
        self.push_join(query_id, None, on.into(), true)
    }
    /// `join(true, queryId, fromIntermediateJoinedTableId, on)`.
    pub fn join_query_from(&self, query_id: &str, from: &str, on: impl Into<On>) -> As<'_> {
        self.push_join(query_id, Some(from), on.into(), true)
    }

    /// `where(cellId, equals)`.
    pub fn where_(&self, cell_id: &str, equals: impl Into<Cell>) {
        let (cell_id, equals) = (cell_id.to_string(), equals.into());
        self.where_fn(move |cells| strict_eq(cells.cell(&cell_id).as_ref(), Some(&equals)));
    }
    /// `where(joinedTableId, cellId, equals)`.
    pub fn where_from(&self, joined_table_id: &str, cell_id: &str, equals: impl Into<Cell>) {
        let (t, c, equals) = (
            joined_table_id.to_string(),
            cell_id.to_string(),
            equals.into(),
        );
        self.where_fn(move |cells| strict_eq(cells.joined(&t, &c).as_ref(), Some(&equals)));
    }
    /// `where(true, joinedQueryId, cellId, equals)`.
    pub fn where_from_query(&self, joined_query_id: &str, cell_id: &str, equals: impl Into<Cell>) {
        let (q, c, equals) = (
            joined_query_id.to_string(),
            cell_id.to_string(),
            equals.into(),
        );
        self.where_fn(move |cells| strict_eq(cells.query(&q, &c).as_ref(), Some(&equals)));
    }
    /// `where(getTableCell => boolean)`.
    pub fn where_fn(&self, f: impl Fn(&TableCells<'_>) -> bool + Send + Sync + 'static) {
        self.clauses.borrow_mut().wheres.push(Arc::new(f));
    }

    /// `group(selectedCellId, 'count'|'sum'|'avg'|'min'|'max')`; any other name makes the
    /// definition fail with [`ViewError::UnknownAggregate`].
    pub fn group(&self, selected_cell_id: &str, aggregate: &str) -> As<'_> {
        match Aggregate::from_name(aggregate) {
            Ok(a) => self.group_with(selected_cell_id, a),
            Err(e) => {
                let mut c = self.clauses.borrow_mut();
                c.errors.push(e);
                // The handle still works so `.as_()` can be chained; the definition fails.
                c.groups.push(GroupClause {
                    alias: selected_cell_id.to_string(),
                    selected: selected_cell_id.to_string(),
                    aggregate: Aggregate::Count,
                });
                As {
                    builder: self,
                    target: Target::Group(c.groups.len() - 1),
                }
            }
        }
    }
    /// `group(selectedCellId, aggregate, add?, remove?, replace?)` with a built-in or
    /// [`CustomAggregate`].
    pub fn group_with(&self, selected_cell_id: &str, aggregate: Aggregate) -> As<'_> {
        let mut c = self.clauses.borrow_mut();
        c.groups.push(GroupClause {
            alias: selected_cell_id.to_string(),
            selected: selected_cell_id.to_string(),
            aggregate,
        });
        As {
            builder: self,
            target: Target::Group(c.groups.len() - 1),
        }
    }
    /// `group(selectedCellId, customAggregate, …)`.
    pub fn group_custom(&self, selected_cell_id: &str, aggregate: CustomAggregate) -> As<'_> {
        self.group_with(selected_cell_id, Aggregate::Custom(aggregate))
    }

    /// `having(selectedOrGroupedCellId, equals)`.
    pub fn having(&self, cell_id: &str, equals: impl Into<Cell>) {
        let (cell_id, equals) = (cell_id.to_string(), equals.into());
        self.having_fn(move |row| strict_eq(row.get(&cell_id).as_ref(), Some(&equals)));
    }
    /// `having(getSelectedOrGroupedCell => boolean)`.
    pub fn having_fn(&self, f: impl Fn(&RowCells<'_>) -> bool + Send + Sync + 'static) {
        self.clauses.borrow_mut().havings.push(Arc::new(f));
    }

    /// `param(paramId)`: the query's current value of a parameter.
    pub fn param(&self, param_id: &str) -> Option<Cell> {
        self.params.get(param_id).cloned()
    }

    /// Every current param value of the query (for builders that forward `param` elsewhere).
    ///
    /// ```
    /// use tinystore_core::views::queries::create_queries;
    /// use tinystore_core::{Cell, Row, Store};
    /// let queries = create_queries(&Store::new());
    /// let params: Row = [("min".to_string(), Cell::from(3))].into_iter().collect();
    /// queries.set_query_definition_with_params("q", "t", |b| {
    ///     assert_eq!(b.param_values().get("min"), Some(&Cell::from(3)));
    /// }, params).unwrap();
    /// ```
    pub fn param_values(&self) -> &Row {
        &self.params
    }

    pub(crate) fn finish(self) -> Result<Clauses, ViewError> {
        let mut clauses = self.clauses.into_inner();
        if let Some(e) = clauses.errors.drain(..).next() {
            return Err(e);
        }
        for (i, s) in clauses.selections.iter().enumerate() {
            if let Selection::Cell {
                source: SelectSource::Fn(_),
                aliased: false,
                ..
            } = s
            {
                return Err(ViewError::CalculatedSelectWithoutAlias(i));
            }
        }
        Ok(clauses)
    }
}

/// JavaScript's `===` between cells as TinyQL reads them: objects and arrays are fresh values
/// on every read, so they never equal anything.
pub(crate) fn strict_eq(a: Option<&Cell>, b: Option<&Cell>) -> bool {
    match (a, b) {
        (Some(Cell::Object(_) | Cell::Array(_)), _)
        | (_, Some(Cell::Object(_) | Cell::Array(_))) => false,
        (a, b) => a == b,
    }
}

macro_rules! opaque_debug {
    ($($t:ident),*) => {$(
        impl fmt::Debug for $t<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(stringify!($t))
            }
        }
    )*};
}
opaque_debug!(TableCells, RowCells, As);

impl fmt::Debug for QueryBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueryBuilder")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}
