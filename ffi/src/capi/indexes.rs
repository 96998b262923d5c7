//! Indexes: slices of a table's rows by a cell or a C callback, sorted.

use super::*;
use tinystore_core::views::{Indexes, Source};
use tinystore_view_event_kind_t as V;

/// Creates the Indexes of a store (or MergeableStore) into `*out`; free it with
/// `tinystore_indexes_free` (the store handle may be freed first: the view keeps its store).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_indexes_new(
    store: *mut tinystore_store_t,
    out: *mut *mut tinystore_indexes_t,
) -> tinystore_status_t {
    guard(|| view_new::<Indexes, _>(store, out))
}

/// Frees an Indexes handle: its definitions, store listeners and listeners go, and no listener
/// is called (unlike TinyBase's `destroy`). A second free is `TINYSTORE_STATUS_INVALID_HANDLE`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_indexes_free(
    indexes: *mut tinystore_indexes_t,
) -> tinystore_status_t {
    guard(|| view_free::<Indexes, _>(indexes))
}

/// Defines (or replaces) index `index_id` over `table_id` (TinyBase's `setIndexDefinition`).
/// Slice ids: `slice_fn` when not NULL (it adds ids with `tinystore_callback_result_add_id`
/// or sets one STRING), else the value of cell `slice_cell_id`, else one slice `""`. Sort
/// keys: `sort_fn` (sets a cell) or cell `sort_cell_id` or the row id. `slice_sorter` orders
/// slice ids, `row_sorter` sort keys (NULL: insertion order / JavaScript's `<`). Every
/// callback gets `user_data`, which must stay valid until the definition is replaced or
/// deleted or the handle freed. A failing callback: `TINYSTORE_STATUS_CALLBACK`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_indexes_set_index_definition(
    indexes: *mut tinystore_indexes_t,
    index_id: *const c_char,
    table_id: *const c_char,
    slice_cell_id: *const c_char,
    slice_fn: tinystore_row_fn_t,
    sort_cell_id: *const c_char,
    sort_fn: tinystore_row_fn_t,
    slice_sorter: tinystore_sorter_fn_t,
    row_sorter: tinystore_sorter_fn_t,
    user_data: *mut c_void,
) -> tinystore_status_t {
    guard(|| {
        let (index, table) = unsafe {
            (
                str_arg(index_id, "index_id")?,
                str_arg(table_id, "table_id")?,
            )
        };
        let slices = unsafe {
            source(
                slice_cell_id,
                "slice_cell_id",
                slice_fn,
                user_data,
                "slice ids",
                |c| Source::func(c.slice_ids()),
            )?
        };
        let sort = unsafe {
            source(
                sort_cell_id,
                "sort_cell_id",
                sort_fn,
                user_data,
                "sort key",
                |c| Source::func(c.cell()),
            )?
        };
        let slice_sorter = SorterCallback::new(slice_sorter, user_data).map(|s| s.slice_sorter());
        let row_sorter = SorterCallback::new(row_sorter, user_data).map(|s| s.row_sorter());
        view_do(indexes, |v: &Indexes| {
            v.set_index_definition(index, table, slices, sort, slice_sorter, row_sorter);
        })
    })
}

/// Removes index `index_id` (unknown ids: no change).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_indexes_del_index_definition(
    indexes: *mut tinystore_indexes_t,
    index_id: *const c_char,
) -> tinystore_status_t {
    guard(|| {
        let index = unsafe { str_arg(index_id, "index_id")? };
        view_do(indexes, |v: &Indexes| {
            v.del_index_definition(index);
        })
    })
}

/// The index ids (free the list with `tinystore_string_list_free`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_indexes_get_index_ids(
    indexes: *mut tinystore_indexes_t,
    out_ids: *mut tinystore_string_list_t,
) -> tinystore_status_t {
    guard(|| view_ids(indexes, out_ids, |v: &Indexes| Ok(v.get_index_ids())))
}

/// Whether index `index_id` exists.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_indexes_has_index(
    indexes: *mut tinystore_indexes_t,
    index_id: *const c_char,
    out: *mut bool,
) -> tinystore_status_t {
    guard(|| {
        let index = unsafe { str_arg(index_id, "index_id")? };
        view_value(indexes, out, |v: &Indexes| Ok(v.has_index(index)))
    })
}

/// Whether slice `slice_id` of index `index_id` exists.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_indexes_has_slice(
    indexes: *mut tinystore_indexes_t,
    index_id: *const c_char,
    slice_id: *const c_char,
    out: *mut bool,
) -> tinystore_status_t {
    guard(|| {
        let (i, s) = unsafe {
            (
                str_arg(index_id, "index_id")?,
                str_arg(slice_id, "slice_id")?,
            )
        };
        view_value(indexes, out, |v: &Indexes| Ok(v.has_slice(i, s)))
    })
}

/// The table of index `index_id` (`*out` NULL when there is no such index; free it with
/// `tinystore_string_free`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_indexes_get_table_id(
    indexes: *mut tinystore_indexes_t,
    index_id: *const c_char,
    out: *mut *mut c_char,
) -> tinystore_status_t {
    guard(|| {
        let index = unsafe { str_arg(index_id, "index_id")? };
        view_opt_string(indexes, out, |v: &Indexes| Ok(v.get_table_id(index)))
    })
}

/// The slice ids of index `index_id`, in order.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_indexes_get_slice_ids(
    indexes: *mut tinystore_indexes_t,
    index_id: *const c_char,
    out_ids: *mut tinystore_string_list_t,
) -> tinystore_status_t {
    guard(|| {
        let index = unsafe { str_arg(index_id, "index_id")? };
        view_ids(indexes, out_ids, |v: &Indexes| Ok(v.get_slice_ids(index)))
    })
}

/// The row ids of slice `slice_id` of index `index_id`, sorted.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_indexes_get_slice_row_ids(
    indexes: *mut tinystore_indexes_t,
    index_id: *const c_char,
    slice_id: *const c_char,
    out_ids: *mut tinystore_string_list_t,
) -> tinystore_status_t {
    guard(|| {
        let (i, s) = unsafe {
            (
                str_arg(index_id, "index_id")?,
                str_arg(slice_id, "slice_id")?,
            )
        };
        view_ids(
            indexes,
            out_ids,
            |v: &Indexes| Ok(v.get_slice_row_ids(i, s)),
        )
    })
}

/// Adds a listener of `kind` (`TINYSTORE_VIEW_INDEX_IDS`, `_HAS_INDEX`, `_SLICE_IDS`,
/// `_HAS_SLICE`, `_SLICE_ROW_IDS`) for index `index_id` and slice `slice_id` (NULL: any;
/// ignored by kinds without them). Sets `*out_id` for `tinystore_indexes_del_listener`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_indexes_add_listener(
    indexes: *mut tinystore_indexes_t,
    kind: tinystore_view_event_kind_t,
    index_id: *const c_char,
    slice_id: *const c_char,
    listener: tinystore_view_listener_fn_t,
    user_data: *mut c_void,
    out_id: *mut tinystore_listener_id_t,
) -> tinystore_status_t {
    guard(|| {
        let (index, slice) = unsafe { listener_ids(index_id, slice_id)? };
        let l = ViewListener::new(listener, user_data)?;
        listener_out(indexes, out_id, |v: &Indexes| {
            let id = match kind {
                V::TINYSTORE_VIEW_INDEX_IDS => {
                    v.add_index_ids_listener(move |_| l.fire(kind, ViewEvent::default()))
                }
                V::TINYSTORE_VIEW_HAS_INDEX => v.add_has_index_listener(index, move |_, i, has| {
                    l.fire(kind, ViewEvent::of(i, None, has))
                }),
                V::TINYSTORE_VIEW_SLICE_IDS => v.add_slice_ids_listener(index, move |_, i| {
                    l.fire(kind, ViewEvent::of(i, None, false))
                }),
                V::TINYSTORE_VIEW_HAS_SLICE => {
                    v.add_has_slice_listener(index, slice, move |_, i, s, has| {
                        l.fire(kind, ViewEvent::of(i, Some(s), has))
                    })
                }
                V::TINYSTORE_VIEW_SLICE_ROW_IDS => {
                    v.add_slice_row_ids_listener(index, slice, move |_, i, s| {
                        l.fire(kind, ViewEvent::of(i, Some(s), false))
                    })
                }
                other => return Err(bad_kind(other, "indexes")),
            };
            Ok(u64::from(id.0))
        })
    })
}

/// Removes a listener (unknown ids: no change).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_indexes_del_listener(
    indexes: *mut tinystore_indexes_t,
    id: tinystore_listener_id_t,
) -> tinystore_status_t {
    guard(|| {
        let id = view_listener_id(id)?;
        view_do(indexes, |v: &Indexes| {
            v.del_listener(id);
        })
    })
}

/// The listener counts as JSON (`{"sliceIds":n,"sliceRowIds":n}`, TinyBase's names).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_indexes_get_listener_stats(
    indexes: *mut tinystore_indexes_t,
    out_json: *mut *mut c_char,
) -> tinystore_status_t {
    guard(|| {
        stats_out(indexes, out_json, |v: &Indexes| {
            let s = v.get_listener_stats();
            vec![("sliceIds", s.slice_ids), ("sliceRowIds", s.slice_row_ids)]
        })
    })
}
