//! The TinyQL builder a foreign query definition receives: it records the clauses the
//! foreign function declares, which are then replayed onto the core's builder.

use super::*;

use tinystore_core::views::queries as cq;

use super::view_common::{or_raise, with_getter};
use super::views::AggregateHooks;

/// A query definition, implemented in the foreign language: declares the clauses on `builder`.
#[uniffi::export(with_foreign)]
pub trait QueryDefinition: Send + Sync {
    /// Declares the query's clauses.
    fn build(&self, builder: Arc<QueryBuilder>) -> Result<(), TinystoreError>;
}

/// A calculated select: `(getTableCell, rowId) -> value`.
#[uniffi::export(with_foreign)]
pub trait SelectFunction: Send + Sync {
    /// The selected value for the root row.
    fn call(
        &self,
        get_table_cell: Arc<CellGetter>,
        row_id: String,
    ) -> Result<Option<CellValue>, TinystoreError>;
}

/// A calculated join: `(getCell of the row joined from, rowId) -> remote row id`.
#[uniffi::export(with_foreign)]
pub trait JoinFunction: Send + Sync {
    /// The id of the row to join.
    fn call(
        &self,
        get_cell: Arc<CellGetter>,
        row_id: String,
    ) -> Result<Option<String>, TinystoreError>;
}

/// A calculated where (`getTableCell`) or having (`getCell` of the group row).
#[uniffi::export(with_foreign)]
pub trait ConditionFunction: Send + Sync {
    /// Whether to keep the row.
    fn call(&self, get_cell: Arc<CellGetter>) -> Result<bool, TinystoreError>;
}

/// Maps a cell id of a `select_all` source to its result cell id.
#[uniffi::export(with_foreign)]
pub trait IdMapper: Send + Sync {
    /// The result cell id.
    fn map(&self, cell_id: String) -> Result<String, TinystoreError>;
}

/// A custom group aggregate over cells with optional incremental hooks; `None` from a hook
/// recomputes the group.
#[uniffi::export(with_foreign)]
pub trait QueryAggregate: Send + Sync {
    /// Which hooks below are implemented.
    fn hooks(&self) -> AggregateHooks;
    /// The aggregate of all cells.
    fn aggregate(
        &self,
        cells: Vec<CellValue>,
        length: u64,
    ) -> Result<Option<CellValue>, TinystoreError>;
    /// The aggregate after `add` joined the group.
    fn add(
        &self,
        current: CellValue,
        add: CellValue,
        length: u64,
    ) -> Result<Option<CellValue>, TinystoreError>;
    /// The aggregate after `remove` left the group.
    fn remove(
        &self,
        current: CellValue,
        remove: CellValue,
        length: u64,
    ) -> Result<Option<CellValue>, TinystoreError>;
    /// The aggregate after `remove` was replaced by `add`.
    fn replace(
        &self,
        current: CellValue,
        add: CellValue,
        remove: CellValue,
        length: u64,
    ) -> Result<Option<CellValue>, TinystoreError>;
}

enum Clause {
    Select {
        from: Option<(String, bool)>,
        cell: String,
    },
    SelectFn(Arc<dyn SelectFunction>),
    SelectAll {
        from: Option<String>,
        prefix: String,
        mapper: Option<Arc<dyn IdMapper>>,
    },
    Join {
        id: String,
        query: bool,
        from: Option<String>,
        on: OnSpec,
    },
    Where {
        from: Option<(String, bool)>,
        cell: String,
        equals: Cell,
    },
    WhereFn(Arc<dyn ConditionFunction>),
    Group {
        selected: String,
        aggregate: AggregateSpec,
    },
    Having {
        cell: String,
        equals: Cell,
    },
    HavingFn(Arc<dyn ConditionFunction>),
}

enum OnSpec {
    Cell(String),
    Fn(Arc<dyn JoinFunction>),
}

enum AggregateSpec {
    Named(String),
    Custom(Arc<dyn QueryAggregate>),
}

/// TinyQL's builder (`select`, `join`, `where`, `group`, `having`, `param`), valid during the
/// definition call it is given to.
#[derive(uniffi::Object)]
pub struct QueryBuilder {
    clauses: Mutex<Vec<(Clause, Option<String>)>>,
    params: HashMap<String, CellValue>,
}

impl std::fmt::Debug for QueryBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("QueryBuilder")
    }
}

/// What `select`, `join` and `group` return: names the clause (TinyQL's `.as(alias)`).
#[derive(Debug, uniffi::Object)]
pub struct QueryClause {
    builder: Arc<QueryBuilder>,
    index: usize,
}

#[uniffi::export]
impl QueryClause {
    /// Names the selected cell, the join or the aggregate (TinyQL's `.as(alias)`).
    pub fn as_alias(&self, alias: String) {
        if let Some(entry) = lock(&self.builder.clauses).get_mut(self.index) {
            entry.1 = Some(alias);
        }
    }
}

fn push(builder: &Arc<QueryBuilder>, clause: Clause) -> Arc<QueryClause> {
    let mut clauses = lock(&builder.clauses);
    clauses.push((clause, None));
    Arc::new(QueryClause {
        builder: builder.clone(),
        index: clauses.len() - 1,
    })
}

fn cell_arg(v: CellValue) -> Result<Cell, TinystoreError> {
    to_cell(v)
}

#[uniffi::export]
impl QueryBuilder {
    /// `select(cellId)`.
    pub fn select(self: Arc<Self>, cell_id: String) -> Arc<QueryClause> {
        push(
            &self,
            Clause::Select {
                from: None,
                cell: cell_id,
            },
        )
    }
    /// `select(joinedTableId, cellId)`.
    pub fn select_from(
        self: Arc<Self>,
        joined_table_id: String,
        cell_id: String,
    ) -> Arc<QueryClause> {
        push(
            &self,
            Clause::Select {
                from: Some((joined_table_id, false)),
                cell: cell_id,
            },
        )
    }
    /// `select(true, joinedQueryId, cellId)`.
    pub fn select_from_query(
        self: Arc<Self>,
        joined_query_id: String,
        cell_id: String,
    ) -> Arc<QueryClause> {
        push(
            &self,
            Clause::Select {
                from: Some((joined_query_id, true)),
                cell: cell_id,
            },
        )
    }
    /// `select((getTableCell, rowId) => value)`: must be named with `as_alias`.
    pub fn select_function(self: Arc<Self>, function: Arc<dyn SelectFunction>) -> Arc<QueryClause> {
        push(&self, Clause::SelectFn(function))
    }
    /// `selectAll()` (`None`) or `selectAll(joinedTableId, prefix)`.
    pub fn select_all(self: Arc<Self>, joined_table_id: Option<String>, prefix: String) {
        push(
            &self,
            Clause::SelectAll {
                from: joined_table_id,
                prefix,
                mapper: None,
            },
        );
    }
    /// `selectAll(joinedTableId?, mapper)`.
    pub fn select_all_mapped(
        self: Arc<Self>,
        joined_table_id: Option<String>,
        mapper: Arc<dyn IdMapper>,
    ) {
        let clause = Clause::SelectAll {
            from: joined_table_id,
            prefix: String::new(),
            mapper: Some(mapper),
        };
        push(&self, clause);
    }
    /// `join(tableId, [from,] on)`: `on_cell_id` or `on_function` gives the remote row id.
    pub fn join(
        self: Arc<Self>,
        table_id: String,
        from: Option<String>,
        on_cell_id: Option<String>,
        on_function: Option<Arc<dyn JoinFunction>>,
    ) -> Arc<QueryClause> {
        let on = on_spec(on_cell_id, on_function);
        push(
            &self,
            Clause::Join {
                id: table_id,
                query: false,
                from,
                on,
            },
        )
    }
    /// `join(true, queryId, [from,] on)`.
    pub fn join_query(
        self: Arc<Self>,
        query_id: String,
        from: Option<String>,
        on_cell_id: Option<String>,
        on_function: Option<Arc<dyn JoinFunction>>,
    ) -> Arc<QueryClause> {
        let on = on_spec(on_cell_id, on_function);
        push(
            &self,
            Clause::Join {
                id: query_id,
                query: true,
                from,
                on,
            },
        )
    }
    /// `where([joinedTableId,] cellId, equals)`.
    pub fn where_equals(
        self: Arc<Self>,
        joined_table_id: Option<String>,
        cell_id: String,
        equals: CellValue,
    ) -> Result<(), TinystoreError> {
        let from = joined_table_id.map(|t| (t, false));
        push(
            &self,
            Clause::Where {
                from,
                cell: cell_id,
                equals: cell_arg(equals)?,
            },
        );
        Ok(())
    }
    /// `where(true, joinedQueryId, cellId, equals)`.
    pub fn where_query_equals(
        self: Arc<Self>,
        joined_query_id: String,
        cell_id: String,
        equals: CellValue,
    ) -> Result<(), TinystoreError> {
        let from = Some((joined_query_id, true));
        push(
            &self,
            Clause::Where {
                from,
                cell: cell_id,
                equals: cell_arg(equals)?,
            },
        );
        Ok(())
    }
    /// `where(getTableCell => boolean)`.
    pub fn where_function(self: Arc<Self>, function: Arc<dyn ConditionFunction>) {
        push(&self, Clause::WhereFn(function));
    }
    /// `group(selectedCellId, 'count'|'sum'|'avg'|'min'|'max')`; another name fails the
    /// definition with `InvalidValue`.
    pub fn group(self: Arc<Self>, selected_cell_id: String, aggregate: String) -> Arc<QueryClause> {
        push(
            &self,
            Clause::Group {
                selected: selected_cell_id,
                aggregate: AggregateSpec::Named(aggregate),
            },
        )
    }
    /// `group(selectedCellId, aggregate, add?, remove?, replace?)` with a custom aggregate.
    pub fn group_custom(
        self: Arc<Self>,
        selected_cell_id: String,
        aggregate: Arc<dyn QueryAggregate>,
    ) -> Arc<QueryClause> {
        push(
            &self,
            Clause::Group {
                selected: selected_cell_id,
                aggregate: AggregateSpec::Custom(aggregate),
            },
        )
    }
    /// `having(selectedOrGroupedCellId, equals)`.
    pub fn having(
        self: Arc<Self>,
        cell_id: String,
        equals: CellValue,
    ) -> Result<(), TinystoreError> {
        push(
            &self,
            Clause::Having {
                cell: cell_id,
                equals: cell_arg(equals)?,
            },
        );
        Ok(())
    }
    /// `having(getSelectedOrGroupedCell => boolean)`.
    pub fn having_function(self: Arc<Self>, function: Arc<dyn ConditionFunction>) {
        push(&self, Clause::HavingFn(function));
    }
    /// `param(paramId)`: the query's current value of a parameter.
    pub fn param(&self, param_id: String) -> Option<CellValue> {
        self.params.get(&param_id).cloned()
    }
}

fn on_spec(cell: Option<String>, function: Option<Arc<dyn JoinFunction>>) -> OnSpec {
    match (function, cell) {
        (Some(f), _) => OnSpec::Fn(f),
        (None, cell) => OnSpec::Cell(cell.unwrap_or_default()),
    }
}

fn value_arg(v: CellValue) -> Cell {
    or_raise(to_cell(v))
}

fn query_aggregate(a: Arc<dyn QueryAggregate>) -> cq::Aggregate {
    let hooks = a.hooks();
    let full = a.clone();
    let mut custom = cq::CustomAggregate::new(move |cells, n| {
        let cells = cells.iter().cloned().map(CellValue::from).collect();
        or_raise(full.aggregate(cells, n as u64)).map(value_arg)
    });
    if hooks.add {
        let a = a.clone();
        custom = custom.with_add(move |c, x, n| {
            or_raise(a.add(c.clone().into(), x.clone().into(), n as u64)).map(value_arg)
        });
    }
    if hooks.remove {
        let a = a.clone();
        custom = custom.with_remove(move |c, x, n| {
            or_raise(a.remove(c.clone().into(), x.clone().into(), n as u64)).map(value_arg)
        });
    }
    if hooks.replace {
        custom = custom.with_replace(move |c, x, y, n| {
            let r = a.replace(
                c.clone().into(),
                x.clone().into(),
                y.clone().into(),
                n as u64,
            );
            or_raise(r).map(value_arg)
        });
    }
    cq::Aggregate::Custom(custom)
}

fn table_cells_lookup<'a>(
    cells: &'a cq::TableCells<'a>,
) -> impl Fn(Option<&str>, bool, &str) -> Option<Cell> + 'a {
    move |table, query, cell| match (table, query) {
        (None, _) => cells.cell(cell),
        (Some(t), false) => cells.joined(t, cell),
        (Some(q), true) => cells.query(q, cell),
    }
}

fn row_cells_lookup<'a>(
    cells: &'a cq::RowCells<'a>,
) -> impl Fn(Option<&str>, bool, &str) -> Option<Cell> + 'a {
    move |table, _, cell| table.is_none().then(|| cells.get(cell)).flatten()
}

/// The core build function that runs a foreign definition and replays its clauses.
pub(crate) fn build_fn(
    definition: Arc<dyn QueryDefinition>,
) -> impl Fn(&cq::QueryBuilder) + Send + Sync + 'static {
    move |qb| {
        let params = qb
            .param_values()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone().into()))
            .collect();
        let recorder = Arc::new(QueryBuilder {
            clauses: Mutex::new(Vec::new()),
            params,
        });
        or_raise(definition.build(recorder.clone()));
        let clauses = std::mem::take(&mut *lock(&recorder.clauses));
        for (clause, alias) in clauses {
            replay(qb, clause, alias.as_deref());
        }
    }
}

fn replay(qb: &cq::QueryBuilder, clause: Clause, alias: Option<&str>) {
    let named = |r#as: cq::As<'_>| {
        if let Some(a) = alias {
            r#as.as_(a);
        }
    };
    match clause {
        Clause::Select { from: None, cell } => named(qb.select(&cell)),
        Clause::Select {
            from: Some((t, false)),
            cell,
        } => named(qb.select_from(&t, &cell)),
        Clause::Select {
            from: Some((q, true)),
            cell,
        } => named(qb.select_from_query(&q, &cell)),
        Clause::SelectFn(f) => named(qb.select_fn(move |cells, row_id| {
            let lookup = table_cells_lookup(cells);
            with_getter(&lookup, |g| or_raise(f.call(g, row_id.to_string()))).map(value_arg)
        })),
        Clause::SelectAll {
            from,
            prefix,
            mapper: None,
        } => match from {
            None => qb.select_all(),
            Some(t) => qb.select_all_from(&t, &prefix),
        },
        Clause::SelectAll {
            from,
            mapper: Some(m),
            ..
        } => qb.select_all_mapped(from.as_deref(), move |id| or_raise(m.map(id.to_string()))),
        Clause::Join {
            id,
            query,
            from,
            on,
        } => {
            let on = match on {
                OnSpec::Cell(c) => cq::On::Cell(c),
                OnSpec::Fn(f) => cq::On::func(move |cells, row_id| {
                    let lookup = row_cells_lookup(cells);
                    with_getter(&lookup, |g| or_raise(f.call(g, row_id.to_string())))
                }),
            };
            named(match (query, from) {
                (false, None) => qb.join(&id, on),
                (false, Some(f)) => qb.join_from(&id, &f, on),
                (true, None) => qb.join_query(&id, on),
                (true, Some(f)) => qb.join_query_from(&id, &f, on),
            })
        }
        Clause::Where {
            from: None,
            cell,
            equals,
        } => qb.where_(&cell, equals),
        Clause::Where {
            from: Some((t, false)),
            cell,
            equals,
        } => qb.where_from(&t, &cell, equals),
        Clause::Where {
            from: Some((q, true)),
            cell,
            equals,
        } => qb.where_from_query(&q, &cell, equals),
        Clause::WhereFn(f) => qb.where_fn(move |cells| {
            let lookup = table_cells_lookup(cells);
            with_getter(&lookup, |g| or_raise(f.call(g)))
        }),
        Clause::Group {
            selected,
            aggregate,
        } => named(match aggregate {
            AggregateSpec::Named(name) => qb.group(&selected, &name),
            AggregateSpec::Custom(a) => qb.group_with(&selected, query_aggregate(a)),
        }),
        Clause::Having { cell, equals } => qb.having(&cell, equals),
        Clause::HavingFn(f) => qb.having_fn(move |cells| {
            let lookup = row_cells_lookup(cells);
            with_getter(&lookup, |g| or_raise(f.call(g)))
        }),
    }
}
