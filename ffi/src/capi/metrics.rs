//! Metrics: an aggregate of a number per row, by a cell or a C callback.

use super::*;
use tinystore_core::views::{Aggregate, Metrics, Source};
use tinystore_view_event_kind_t as V;

/// Creates the Metrics of a store (or MergeableStore) into `*out`; free it with
/// `tinystore_metrics_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_metrics_new(
    store: *mut tinystore_store_t,
    out: *mut *mut tinystore_metrics_t,
) -> tinystore_status_t {
    guard(|| view_new::<Metrics, _>(store, out))
}

/// Frees a Metrics handle (its definitions, store listeners and listeners go; none is
/// called).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_metrics_free(
    metrics: *mut tinystore_metrics_t,
) -> tinystore_status_t {
    guard(|| view_free::<Metrics, _>(metrics))
}

/// Defines (or replaces) metric `metric_id` over `table_id` (TinyBase's
/// `setMetricDefinition`). The aggregate is `custom` when not NULL, else the one named
/// `aggregate` (`sum`, `avg`, `min`, `max`; NULL: `sum`; another name:
/// `TINYSTORE_STATUS_INVALID_ARGUMENT`). Each row's number: what `number_fn` sets, else cell
/// `number_cell_id`, else 1 (the row count). `user_data` (for `number_fn`) as for indexes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_metrics_set_metric_definition(
    metrics: *mut tinystore_metrics_t,
    metric_id: *const c_char,
    table_id: *const c_char,
    aggregate: *const c_char,
    custom: *const tinystore_aggregate_t,
    number_cell_id: *const c_char,
    number_fn: tinystore_row_fn_t,
    user_data: *mut c_void,
) -> tinystore_status_t {
    guard(|| {
        let (id, table) = unsafe {
            (
                str_arg(metric_id, "metric_id")?,
                str_arg(table_id, "table_id")?,
            )
        };
        let aggregate = if custom.is_null() {
            let name = unsafe { opt_str_arg(aggregate, "aggregate")? }.unwrap_or("sum");
            Aggregate::named(name)?
        } else {
            Aggregate::Custom(unsafe { AggregateCallbacks::new(custom)? }.metric())
        };
        let number = unsafe {
            source(
                number_cell_id,
                "number_cell_id",
                number_fn,
                user_data,
                "metric number",
                |c| Source::func(c.cell()),
            )?
        };
        view_do(metrics, |v: &Metrics| {
            v.set_metric_definition(id, table, aggregate, number);
        })
    })
}

/// Removes metric `metric_id` (unknown ids: no change).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_metrics_del_metric_definition(
    metrics: *mut tinystore_metrics_t,
    metric_id: *const c_char,
) -> tinystore_status_t {
    guard(|| {
        let id = unsafe { str_arg(metric_id, "metric_id")? };
        view_do(metrics, |v: &Metrics| {
            v.del_metric_definition(id);
        })
    })
}

/// The metric ids.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_metrics_get_metric_ids(
    metrics: *mut tinystore_metrics_t,
    out_ids: *mut tinystore_string_list_t,
) -> tinystore_status_t {
    guard(|| view_ids(metrics, out_ids, |v: &Metrics| Ok(v.get_metric_ids())))
}

/// Whether metric `metric_id` has a value (TinyBase's `hasMetric`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_metrics_has_metric(
    metrics: *mut tinystore_metrics_t,
    metric_id: *const c_char,
    out: *mut bool,
) -> tinystore_status_t {
    guard(|| {
        let id = unsafe { str_arg(metric_id, "metric_id")? };
        view_value(metrics, out, |v: &Metrics| Ok(v.has_metric(id)))
    })
}

/// The table of metric `metric_id` (`*out` NULL when unknown).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_metrics_get_table_id(
    metrics: *mut tinystore_metrics_t,
    metric_id: *const c_char,
    out: *mut *mut c_char,
) -> tinystore_status_t {
    guard(|| {
        let id = unsafe { str_arg(metric_id, "metric_id")? };
        view_opt_string(metrics, out, |v: &Metrics| Ok(v.get_table_id(id)))
    })
}

/// Metric `metric_id` as a NUMBER cell, or NONE when it has no value (no rows, or unknown).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_metrics_get_metric(
    metrics: *mut tinystore_metrics_t,
    metric_id: *const c_char,
    out: *mut tinystore_cell_t,
) -> tinystore_status_t {
    guard(|| {
        let id = unsafe { str_arg(metric_id, "metric_id")? };
        view_value(metrics, out, |v: &Metrics| {
            Ok(cell_owned(v.get_metric(id).map(Cell::Number).as_ref()))
        })
    })
}

/// Adds a listener of `kind` (`TINYSTORE_VIEW_METRIC_IDS`, or `_METRIC` for `metric_id`,
/// NULL: any; the event's cells are the new and old metric).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_metrics_add_listener(
    metrics: *mut tinystore_metrics_t,
    kind: tinystore_view_event_kind_t,
    metric_id: *const c_char,
    listener: tinystore_view_listener_fn_t,
    user_data: *mut c_void,
    out_id: *mut tinystore_listener_id_t,
) -> tinystore_status_t {
    guard(|| {
        let metric = unsafe { opt_str_arg(metric_id, "metric_id")? };
        let l = ViewListener::new(listener, user_data)?;
        listener_out(metrics, out_id, |v: &Metrics| {
            let id = match kind {
                V::TINYSTORE_VIEW_METRIC_IDS => {
                    v.add_metric_ids_listener(move |_| l.fire(kind, ViewEvent::default()))
                }
                V::TINYSTORE_VIEW_METRIC => v.add_metric_listener(metric, move |_, m, new, old| {
                    let (new, old) = (new.map(Cell::Number), old.map(Cell::Number));
                    l.fire(
                        kind,
                        ViewEvent {
                            new: new.as_ref(),
                            old: old.as_ref(),
                            ..ViewEvent::of(m, None, false)
                        },
                    )
                }),
                other => return Err(bad_kind(other, "metrics")),
            };
            Ok(u64::from(id.0))
        })
    })
}

/// Removes a listener (unknown ids: no change).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_metrics_del_listener(
    metrics: *mut tinystore_metrics_t,
    id: tinystore_listener_id_t,
) -> tinystore_status_t {
    guard(|| {
        let id = view_listener_id(id)?;
        view_do(metrics, |v: &Metrics| {
            v.del_listener(id);
        })
    })
}

/// The listener counts as JSON (`{"metric":n}`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_metrics_get_listener_stats(
    metrics: *mut tinystore_metrics_t,
    out_json: *mut *mut c_char,
) -> tinystore_status_t {
    guard(|| {
        stats_out(metrics, out_json, |v: &Metrics| {
            vec![("metric", v.get_listener_stats().metric)]
        })
    })
}
