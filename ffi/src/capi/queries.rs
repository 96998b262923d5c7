//! Queries: TinyQL definitions (through a C build callback), params, results and their
//! listeners.

use super::*;
use tinystore_core::content::{row_from_json, row_to_json, table_to_json};
use tinystore_view_event_kind_t as V;

/// Creates the Queries of a store (or MergeableStore) into `*out`; free it with
/// `tinystore_queries_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_queries_new(
    store: *mut tinystore_store_t,
    out: *mut *mut tinystore_queries_t,
) -> tinystore_status_t {
    guard(|| view_new::<Queries, _>(store, out))
}

/// Frees a Queries handle (its definitions, result stores and listeners go; none is called).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_queries_free(
    queries: *mut tinystore_queries_t,
) -> tinystore_status_t {
    guard(|| view_free::<Queries, _>(queries))
}

/// Defines (or replaces) query `query_id` over table `table_id` (or, with `on_query`, over
/// the result of query `table_id`): TinyBase's `setQueryDefinition`. `build` is called now
/// and whenever the query's params change, with `user_data` and a builder (see the
/// `tinystore_query_builder_*` functions); `params_json` (NULL: none) is a JSON object of
/// initial param values. Invalid TinyQL (an unknown aggregate, a calculated select without an
/// alias, a `select_all` cycle): `TINYSTORE_STATUS_INVALID_ARGUMENT`, nothing changed; a
/// failing callback: `TINYSTORE_STATUS_CALLBACK`. `user_data` must stay valid until the query
/// is replaced or deleted or the handle freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_queries_set_query_definition(
    queries: *mut tinystore_queries_t,
    query_id: *const c_char,
    table_id: *const c_char,
    on_query: bool,
    build: tinystore_query_build_fn_t,
    user_data: *mut c_void,
    params_json: *const c_char,
) -> tinystore_status_t {
    guard(|| {
        let (id, table) = unsafe {
            (
                str_arg(query_id, "query_id")?,
                str_arg(table_id, "table_id")?,
            )
        };
        let params = if params_json.is_null() {
            Row::new()
        } else {
            row_from_json(&unsafe { json_arg(params_json, "params_json")? }, true)?
        };
        let build = BuildCallback::new(build, user_data)?;
        let run = move |b: &tinystore_core::views::queries::QueryBuilder| build.run(b);
        with_view(queries, |q: &Queries| {
            if on_query {
                q.set_query_definition_on_query(id, table, run, params)?;
            } else {
                q.set_query_definition_with_params(id, table, run, params)?;
            }
            Ok(())
        })
    })
}

/// Removes query `query_id` and its result (unknown ids: no change).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_queries_del_query_definition(
    queries: *mut tinystore_queries_t,
    query_id: *const c_char,
) -> tinystore_status_t {
    guard(|| {
        let id = unsafe { str_arg(query_id, "query_id")? };
        view_do(queries, |q: &Queries| {
            q.del_query_definition(id);
        })
    })
}

/// The query ids.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_queries_get_query_ids(
    queries: *mut tinystore_queries_t,
    out_ids: *mut tinystore_string_list_t,
) -> tinystore_status_t {
    guard(|| view_ids(queries, out_ids, |q: &Queries| Ok(q.get_query_ids())))
}

/// Whether query `query_id` is defined.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_queries_has_query(
    queries: *mut tinystore_queries_t,
    query_id: *const c_char,
    out: *mut bool,
) -> tinystore_status_t {
    guard(|| {
        let id = unsafe { str_arg(query_id, "query_id")? };
        view_value(queries, out, |q: &Queries| Ok(q.has_query(id)))
    })
}

/// The table (or root query) of query `query_id` (`*out` NULL when unknown).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_queries_get_table_id(
    queries: *mut tinystore_queries_t,
    query_id: *const c_char,
    out: *mut *mut c_char,
) -> tinystore_status_t {
    guard(|| {
        let id = unsafe { str_arg(query_id, "query_id")? };
        view_opt_string(queries, out, |q: &Queries| Ok(q.get_table_id(id)))
    })
}

/// Sets every param of query `query_id` from a JSON object (params not in it are removed);
/// the query re-runs. Unknown queries: no change.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_queries_set_param_values(
    queries: *mut tinystore_queries_t,
    query_id: *const c_char,
    params_json: *const c_char,
) -> tinystore_status_t {
    guard(|| {
        let (id, json) = unsafe {
            (
                str_arg(query_id, "query_id")?,
                json_arg(params_json, "params_json")?,
            )
        };
        let params = row_from_json(&json, true)?;
        view_do(queries, |q: &Queries| {
            q.set_param_values(id, &params);
        })
    })
}

/// Sets param `param_id` of query `query_id`; the query re-runs.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_queries_set_param_value(
    queries: *mut tinystore_queries_t,
    query_id: *const c_char,
    param_id: *const c_char,
    value: *const tinystore_cell_t,
) -> tinystore_status_t {
    guard(|| {
        let (id, param, value) = unsafe {
            (
                str_arg(query_id, "query_id")?,
                str_arg(param_id, "param_id")?,
                cell_arg(value, "value")?,
            )
        };
        view_do(queries, |q: &Queries| {
            q.set_param_value(id, param, value);
        })
    })
}

/// The params of query `query_id` as a JSON object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_queries_get_param_values(
    queries: *mut tinystore_queries_t,
    query_id: *const c_char,
    out_json: *mut *mut c_char,
) -> tinystore_status_t {
    guard(|| {
        let id = unsafe { str_arg(query_id, "query_id")? };
        string_out(out_json, || {
            with_view(queries, |q: &Queries| {
                Ok(json::stringify(&row_to_json(&q.get_param_values(id), true)))
            })
        })
    })
}

/// Param `param_id` of query `query_id` (NONE when unset).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_queries_get_param_value(
    queries: *mut tinystore_queries_t,
    query_id: *const c_char,
    param_id: *const c_char,
    out: *mut tinystore_cell_t,
) -> tinystore_status_t {
    guard(|| {
        let (id, param) = unsafe {
            (
                str_arg(query_id, "query_id")?,
                str_arg(param_id, "param_id")?,
            )
        };
        view_value(queries, out, |q: &Queries| {
            Ok(cell_owned(q.get_param_value(id, param).as_ref()))
        })
    })
}

/// The result table of query `query_id` as JSON (`row_id` NULL), or one result row.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_queries_get_result_json(
    queries: *mut tinystore_queries_t,
    query_id: *const c_char,
    row_id: *const c_char,
    out_json: *mut *mut c_char,
) -> tinystore_status_t {
    guard(|| {
        let (id, row) = unsafe {
            (
                str_arg(query_id, "query_id")?,
                opt_str_arg(row_id, "row_id")?,
            )
        };
        string_out(out_json, || {
            with_view(queries, |q: &Queries| {
                Ok(json::stringify(&match row {
                    Some(r) => row_to_json(&q.get_result_row(id, r), true),
                    None => table_to_json(&q.get_result_table(id), true),
                }))
            })
        })
    })
}

/// Whether the result table (`row_id` and `cell_id` NULL), a result row (`cell_id` NULL) or
/// a result cell exists.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_queries_has_result(
    queries: *mut tinystore_queries_t,
    query_id: *const c_char,
    row_id: *const c_char,
    cell_id: *const c_char,
    out: *mut bool,
) -> tinystore_status_t {
    guard(|| {
        let (id, row, cell) = unsafe {
            (
                str_arg(query_id, "query_id")?,
                opt_str_arg(row_id, "row_id")?,
                opt_str_arg(cell_id, "cell_id")?,
            )
        };
        view_value(queries, out, |q: &Queries| {
            Ok(match (row, cell) {
                (None, _) => q.has_result_table(id),
                (Some(r), None) => q.has_result_row(id, r),
                (Some(r), Some(c)) => q.has_result_cell(id, r, c),
            })
        })
    })
}

/// The number of result rows.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_queries_get_result_row_count(
    queries: *mut tinystore_queries_t,
    query_id: *const c_char,
    out: *mut usize,
) -> tinystore_status_t {
    guard(|| {
        let id = unsafe { str_arg(query_id, "query_id")? };
        view_value(queries, out, |q: &Queries| Ok(q.get_result_row_count(id)))
    })
}

/// The result row ids, in insertion order.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_queries_get_result_row_ids(
    queries: *mut tinystore_queries_t,
    query_id: *const c_char,
    out_ids: *mut tinystore_string_list_t,
) -> tinystore_status_t {
    guard(|| {
        let id = unsafe { str_arg(query_id, "query_id")? };
        view_ids(queries, out_ids, |q: &Queries| Ok(q.get_result_row_ids(id)))
    })
}

/// The result row ids sorted by cell `cell_id` (NULL: by row id), `descending`, from
/// `offset`, at most `limit` (0: all), as `tinystore_store_get_sorted_row_ids`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_queries_get_result_sorted_row_ids(
    queries: *mut tinystore_queries_t,
    query_id: *const c_char,
    cell_id: *const c_char,
    descending: bool,
    offset: usize,
    limit: usize,
    out_ids: *mut tinystore_string_list_t,
) -> tinystore_status_t {
    guard(|| {
        let (id, cell) = unsafe {
            (
                str_arg(query_id, "query_id")?,
                opt_str_arg(cell_id, "cell_id")?,
            )
        };
        let limit = (limit > 0).then_some(limit);
        view_ids(queries, out_ids, |q: &Queries| {
            Ok(q.get_result_sorted_row_ids(id, cell, descending, offset, limit))
        })
    })
}

/// The cell ids of the result table (`row_id` NULL) or of one result row.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_queries_get_result_cell_ids(
    queries: *mut tinystore_queries_t,
    query_id: *const c_char,
    row_id: *const c_char,
    out_ids: *mut tinystore_string_list_t,
) -> tinystore_status_t {
    guard(|| {
        let (id, row) = unsafe {
            (
                str_arg(query_id, "query_id")?,
                opt_str_arg(row_id, "row_id")?,
            )
        };
        view_ids(queries, out_ids, |q: &Queries| {
            Ok(match row {
                Some(r) => q.get_result_cell_ids(id, r),
                None => q.get_result_table_cell_ids(id),
            })
        })
    })
}

/// A result cell (NONE when missing; free it with `tinystore_cell_free`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_queries_get_result_cell(
    queries: *mut tinystore_queries_t,
    query_id: *const c_char,
    row_id: *const c_char,
    cell_id: *const c_char,
    out: *mut tinystore_cell_t,
) -> tinystore_status_t {
    guard(|| {
        let (id, row, cell) = unsafe {
            (
                str_arg(query_id, "query_id")?,
                str_arg(row_id, "row_id")?,
                str_arg(cell_id, "cell_id")?,
            )
        };
        view_value(queries, out, |q: &Queries| {
            Ok(cell_owned(q.get_result_cell(id, row, cell).as_ref()))
        })
    })
}

/// Adds a listener of `kind` for query `query_id` (NULL: any): `TINYSTORE_VIEW_QUERY_IDS`,
/// `_PARAM_VALUES`, `_PARAM_VALUE` (`sub_id`: the param id), `_RESULT_TABLE`,
/// `_RESULT_TABLE_CELL_IDS`, `_RESULT_ROW_COUNT`, `_RESULT_ROW_IDS`, `_RESULT_ROW`,
/// `_RESULT_CELL_IDS` (`sub_id`: the row id), `_RESULT_CELL` (`sub_id`: the row id, and
/// `cell_id`); NULL ids: any. Result listeners fire when the queried store's transaction
/// finishes. Sorted result row ids: `tinystore_queries_add_result_sorted_row_ids_listener`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_queries_add_listener(
    queries: *mut tinystore_queries_t,
    kind: tinystore_view_event_kind_t,
    query_id: *const c_char,
    sub_id: *const c_char,
    cell_id: *const c_char,
    listener: tinystore_view_listener_fn_t,
    user_data: *mut c_void,
    out_id: *mut tinystore_listener_id_t,
) -> tinystore_status_t {
    guard(|| {
        let (query, sub) = unsafe { listener_ids(query_id, sub_id)? };
        let cell = unsafe { opt_str_arg(cell_id, "cell_id")? };
        let l = ViewListener::new(listener, user_data)?;
        listener_out(queries, out_id, |q: &Queries| {
            let id = match kind {
                V::TINYSTORE_VIEW_QUERY_IDS => {
                    q.add_query_ids_listener(move |_| l.fire(kind, ViewEvent::default()))
                }
                V::TINYSTORE_VIEW_PARAM_VALUES => {
                    q.add_param_values_listener(query, move |_, id, row| {
                        let json = Some(json::stringify(&row_to_json(row, true)));
                        l.fire(
                            kind,
                            ViewEvent {
                                json,
                                ..ViewEvent::of(id, None, false)
                            },
                        )
                    })
                }
                V::TINYSTORE_VIEW_PARAM_VALUE => {
                    q.add_param_value_listener(query, sub, move |_, id, p, new| {
                        l.fire(
                            kind,
                            ViewEvent {
                                new,
                                ..ViewEvent::of(id, Some(p), false)
                            },
                        )
                    })
                }
                V::TINYSTORE_VIEW_RESULT_TABLE => q
                    .add_result_table_listener(query, move |_, id| {
                        l.fire(kind, ViewEvent::of(id, None, false))
                    }),
                V::TINYSTORE_VIEW_RESULT_TABLE_CELL_IDS => {
                    q.add_result_table_cell_ids_listener(query, move |_, id, ch| {
                        l.fire(
                            kind,
                            ViewEvent {
                                id_changes: Some(ch),
                                ..ViewEvent::of(id, None, false)
                            },
                        )
                    })
                }
                V::TINYSTORE_VIEW_RESULT_ROW_COUNT => {
                    q.add_result_row_count_listener(query, move |_, id, count| {
                        l.fire(
                            kind,
                            ViewEvent {
                                count,
                                ..ViewEvent::of(id, None, false)
                            },
                        )
                    })
                }
                V::TINYSTORE_VIEW_RESULT_ROW_IDS => {
                    q.add_result_row_ids_listener(query, move |_, id, ch| {
                        l.fire(
                            kind,
                            ViewEvent {
                                id_changes: Some(ch),
                                ..ViewEvent::of(id, None, false)
                            },
                        )
                    })
                }
                V::TINYSTORE_VIEW_RESULT_ROW => {
                    q.add_result_row_listener(query, sub, move |_, id, r| {
                        l.fire(kind, ViewEvent::of(id, Some(r), false))
                    })
                }
                V::TINYSTORE_VIEW_RESULT_CELL_IDS => {
                    q.add_result_cell_ids_listener(query, sub, move |_, id, r, ch| {
                        l.fire(
                            kind,
                            ViewEvent {
                                id_changes: Some(ch),
                                ..ViewEvent::of(id, Some(r), false)
                            },
                        )
                    })
                }
                V::TINYSTORE_VIEW_RESULT_CELL => {
                    q.add_result_cell_listener(query, sub, cell, move |_, id, r, c, new, old| {
                        l.fire(
                            kind,
                            ViewEvent {
                                cell_id: Some(c),
                                new,
                                old,
                                ..ViewEvent::of(id, Some(r), false)
                            },
                        )
                    })
                }
                other => return Err(bad_kind(other, "queries")),
            };
            Ok(query_listener_id(id))
        })
    })
}

/// Listens to the sorted result row ids of query `query_id` (NULL: any), with the arguments
/// of `tinystore_queries_get_result_sorted_row_ids`; the event's `ids` are the new slice,
/// `flag` is `descending` and `count` the offset.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_queries_add_result_sorted_row_ids_listener(
    queries: *mut tinystore_queries_t,
    query_id: *const c_char,
    cell_id: *const c_char,
    descending: bool,
    offset: usize,
    limit: usize,
    listener: tinystore_view_listener_fn_t,
    user_data: *mut c_void,
    out_id: *mut tinystore_listener_id_t,
) -> tinystore_status_t {
    guard(|| {
        let (query, cell) = unsafe {
            (
                opt_str_arg(query_id, "query_id")?,
                opt_str_arg(cell_id, "cell_id")?,
            )
        };
        let l = ViewListener::new(listener, user_data)?;
        let limit = (limit > 0).then_some(limit);
        listener_out(queries, out_id, |q: &Queries| {
            let id = q.add_result_sorted_row_ids_listener(
                query,
                cell,
                descending,
                offset,
                limit,
                move |_, id, cell, descending, offset, _, ids| {
                    let ev = ViewEvent {
                        cell_id: cell,
                        count: offset,
                        ids,
                        ..ViewEvent::of(id, None, descending)
                    };
                    l.fire(
                        tinystore_view_event_kind_t::TINYSTORE_VIEW_RESULT_SORTED_ROW_IDS,
                        ev,
                    )
                },
            );
            Ok(query_listener_id(id))
        })
    })
}

/// Removes a listener (unknown ids: no change).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_queries_del_listener(
    queries: *mut tinystore_queries_t,
    id: tinystore_listener_id_t,
) -> tinystore_status_t {
    guard(|| {
        let id = from_query_listener_id(id)?;
        view_do(queries, |q: &Queries| {
            q.del_listener(id);
        })
    })
}

/// The listener counts as JSON (`{"table":n,…,"paramValues":n,"paramValue":n}`, TinyBase's
/// names).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_queries_get_listener_stats(
    queries: *mut tinystore_queries_t,
    out_json: *mut *mut c_char,
) -> tinystore_status_t {
    guard(|| {
        stats_out(queries, out_json, |q: &Queries| {
            let s = q.get_listener_stats();
            vec![
                ("table", s.table),
                ("tableCellIds", s.table_cell_ids),
                ("rowCount", s.row_count),
                ("rowIds", s.row_ids),
                ("sortedRowIds", s.sorted_row_ids),
                ("row", s.row),
                ("cellIds", s.cell_ids),
                ("cell", s.cell),
                ("paramValues", s.param_values),
                ("paramValue", s.param_value),
            ]
        })
    })
}
