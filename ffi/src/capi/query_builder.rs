//! TinyQL at the ABI edge: the `tinystore_query_builder_*` functions a query's C build
//! callback calls on the builder it is lent. Each clause takes TinyQL's `.as()` alias as its
//! last argument (NULL: none).

use super::*;
use tinystore_core::views::queries::{As, On, QueryBuilder};

/// The builder lent to the build callback running on this thread.
fn with_builder(
    builder: *mut tinystore_query_builder_t,
    f: impl FnOnce(&QueryBuilder) -> R<()>,
) -> R<()> {
    f(lent(
        builder.cast_const().cast::<QueryBuilder>(),
        "builder",
    )?)
}

/// Applies an optional alias.
unsafe fn alias(clause: As<'_>, alias: *const c_char) -> R<()> {
    if let Some(alias) = unsafe { opt_str_arg(alias, "alias")? } {
        clause.as_(alias);
    }
    Ok(())
}

/// `select(cellId)` (`joined_id` NULL), `select(joinedTableId, cellId)`, or, with
/// `joined_is_query`, a cell of the joined query result `joined_id`; named `as_` (NULL: the
/// cell id).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_query_builder_select(
    builder: *mut tinystore_query_builder_t,
    joined_id: *const c_char,
    joined_is_query: bool,
    cell_id: *const c_char,
    as_: *const c_char,
) -> tinystore_status_t {
    guard(|| {
        let (joined, cell) = unsafe {
            (
                opt_str_arg(joined_id, "joined_id")?,
                str_arg(cell_id, "cell_id")?,
            )
        };
        with_builder(builder, |b| {
            let clause = match joined {
                Some(q) if joined_is_query => b.select_from_query(q, cell),
                Some(t) => b.select_from(t, cell),
                None => b.select(cell),
            };
            unsafe { alias(clause, as_) }
        })
    })
}

/// A calculated select: the cell `select_fn` sets for each row (its reader also reads joined
/// cells). `as_` is required: without it the definition fails with
/// `TINYSTORE_STATUS_INVALID_ARGUMENT`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_query_builder_select_fn(
    builder: *mut tinystore_query_builder_t,
    select_fn: tinystore_row_fn_t,
    user_data: *mut c_void,
    as_: *const c_char,
) -> tinystore_status_t {
    guard(|| {
        let f = RowCallback::new(select_fn, user_data, "calculated select")?;
        with_builder(builder, |b| unsafe { alias(b.select_fn(f.select()), as_) })
    })
}

/// `selectAll()` (`joined_table_id` NULL: every cell of the root row) or
/// `selectAll(joinedTableId, prefix)` (`prefix` NULL: none).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_query_builder_select_all(
    builder: *mut tinystore_query_builder_t,
    joined_table_id: *const c_char,
    prefix: *const c_char,
) -> tinystore_status_t {
    guard(|| {
        let (joined, prefix) = unsafe {
            (
                opt_str_arg(joined_table_id, "joined_table_id")?,
                opt_str_arg(prefix, "prefix")?,
            )
        };
        with_builder(builder, |b| {
            match joined {
                Some(t) => b.select_all_from(t, prefix.unwrap_or("")),
                None => b.select_all(),
            }
            Ok(())
        })
    })
}

/// `selectAll(joinedTableId, mapper)` (`joined_table_id` NULL: the root row): every cell,
/// named by what `mapper` sets (a STRING) for its id (nothing set: the id unchanged).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_query_builder_select_all_mapped(
    builder: *mut tinystore_query_builder_t,
    joined_table_id: *const c_char,
    mapper: tinystore_map_id_fn_t,
    user_data: *mut c_void,
) -> tinystore_status_t {
    guard(|| {
        let joined = unsafe { opt_str_arg(joined_table_id, "joined_table_id")? };
        let mapper = MapIdCallback::new(mapper, user_data)?;
        with_builder(builder, |b| {
            b.select_all_mapped(joined, move |id| mapper.map(id));
            Ok(())
        })
    })
}

/// `join(tableId, on)`, or `join(tableId, fromIntermediateJoinedTableId, on)` when `from` is
/// not NULL (with `is_query`, `table_id` names a query whose result is joined): the remote
/// row id is cell `on_cell_id` of the root (or intermediate) row, or what `on_fn` sets (a
/// STRING) when it is not NULL. Named `as_` (NULL: the table id).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_query_builder_join(
    builder: *mut tinystore_query_builder_t,
    table_id: *const c_char,
    is_query: bool,
    from: *const c_char,
    on_cell_id: *const c_char,
    on_fn: tinystore_row_fn_t,
    user_data: *mut c_void,
    as_: *const c_char,
) -> tinystore_status_t {
    guard(|| {
        let (table, from) = unsafe { (str_arg(table_id, "table_id")?, opt_str_arg(from, "from")?) };
        let on = if on_fn.is_some() {
            On::func(RowCallback::new(on_fn, user_data, "join")?.join())
        } else {
            On::Cell(unsafe { str_arg(on_cell_id, "on_cell_id")? }.to_string())
        };
        with_builder(builder, |b| {
            let clause = match (from, is_query) {
                (Some(from), false) => b.join_from(table, from, on),
                (None, false) => b.join(table, on),
                (Some(from), true) => b.join_query_from(table, from, on),
                (None, true) => b.join_query(table, on),
            };
            unsafe { alias(clause, as_) }
        })
    })
}

/// `where(cellId, equals)` (`joined_id` NULL), `where(joinedTableId, cellId, equals)`, or,
/// with `joined_is_query`, on a cell of the joined query result `joined_id`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_query_builder_where(
    builder: *mut tinystore_query_builder_t,
    joined_id: *const c_char,
    joined_is_query: bool,
    cell_id: *const c_char,
    equals: *const tinystore_cell_t,
) -> tinystore_status_t {
    guard(|| {
        let (joined, cell, equals) = unsafe {
            (
                opt_str_arg(joined_id, "joined_id")?,
                str_arg(cell_id, "cell_id")?,
                cell_arg(equals, "equals")?,
            )
        };
        with_builder(builder, |b| {
            match joined {
                Some(q) if joined_is_query => b.where_from_query(q, cell, equals),
                Some(t) => b.where_from(t, cell, equals),
                None => b.where_(cell, equals),
            }
            Ok(())
        })
    })
}

/// `where(getTableCell => boolean)`: keeps the rows for which `where_fn` sets BOOLEAN true.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_query_builder_where_fn(
    builder: *mut tinystore_query_builder_t,
    where_fn: tinystore_row_fn_t,
    user_data: *mut c_void,
) -> tinystore_status_t {
    guard(|| {
        let f = RowCallback::new(where_fn, user_data, "where")?;
        with_builder(builder, |b| {
            b.where_fn(f.where_());
            Ok(())
        })
    })
}

/// `group(selectedCellId, aggregate)`: `custom` when not NULL, else the aggregate named
/// `aggregate` (`count`, `sum`, `avg`, `min`, `max`; another name fails the definition with
/// `TINYSTORE_STATUS_INVALID_ARGUMENT`). Named `alias` (NULL: the selected cell id).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_query_builder_group(
    builder: *mut tinystore_query_builder_t,
    selected_cell_id: *const c_char,
    aggregate: *const c_char,
    custom: *const tinystore_aggregate_t,
    as_: *const c_char,
) -> tinystore_status_t {
    guard(|| {
        let cell = unsafe { str_arg(selected_cell_id, "selected_cell_id")? };
        let custom = if custom.is_null() {
            None
        } else {
            Some(unsafe { AggregateCallbacks::new(custom)? }.query())
        };
        let name = if custom.is_none() {
            unsafe { str_arg(aggregate, "aggregate")? }
        } else {
            ""
        };
        with_builder(builder, |b| {
            let clause = match custom {
                Some(custom) => b.group_custom(cell, custom),
                None => b.group(cell, name),
            };
            unsafe { alias(clause, as_) }
        })
    })
}

/// `having(selectedOrGroupedCellId, equals)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_query_builder_having(
    builder: *mut tinystore_query_builder_t,
    cell_id: *const c_char,
    equals: *const tinystore_cell_t,
) -> tinystore_status_t {
    guard(|| {
        let (cell, equals) = unsafe { (str_arg(cell_id, "cell_id")?, cell_arg(equals, "equals")?) };
        with_builder(builder, |b| {
            b.having(cell, equals);
            Ok(())
        })
    })
}

/// `having(getSelectedOrGroupedCell => boolean)`: keeps the result rows for which
/// `having_fn` sets BOOLEAN true.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_query_builder_having_fn(
    builder: *mut tinystore_query_builder_t,
    having_fn: tinystore_row_fn_t,
    user_data: *mut c_void,
) -> tinystore_status_t {
    guard(|| {
        let f = RowCallback::new(having_fn, user_data, "having")?;
        with_builder(builder, |b| {
            b.having_fn(f.having());
            Ok(())
        })
    })
}

/// `param(paramId)`: the query's current value of a param (NONE when unset; free the cell
/// with `tinystore_cell_free`). The build callback runs again when params change.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_query_builder_param(
    builder: *mut tinystore_query_builder_t,
    param_id: *const c_char,
    out: *mut tinystore_cell_t,
) -> tinystore_status_t {
    guard(|| {
        let out = Out::new(out, "out")?;
        let param = unsafe { str_arg(param_id, "param_id")? };
        with_builder(builder, |b| {
            out.set(cell_owned(b.param(param).as_ref()));
            Ok(())
        })
    })
}
