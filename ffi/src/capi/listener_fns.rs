//! Generated from `listener_surface.txt` by `listener_surface.rs` (run
//! `TINYSTORE_BLESS=1 cargo test -p tinystore-ffi listener_surface`): do not edit.
//! The C ABI's typed listener functions; each registers through `listeners::listen`.

use super::*;

/// Listens to whether any table exists (fires when that flips). `mutator` listeners may
/// write to the store (their writes join the transaction); others may not (their writes are
/// ignored, as in TinyBase). Sets `*out_id` for `tinystore_store_del_listener`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_add_has_tables_listener(
    store: *mut tinystore_store_t,
    mutator: bool,
    listener: tinystore_listener_fn_t,
    user_data: *mut c_void,
    out_id: *mut tinystore_listener_id_t,
) -> tinystore_status_t {
    guard(|| {
        listen(store, Listen::HasTables, mutator, listener, user_data, out_id)
    })
}

/// Listens to any change of any cell.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_add_tables_listener(
    store: *mut tinystore_store_t,
    mutator: bool,
    listener: tinystore_listener_fn_t,
    user_data: *mut c_void,
    out_id: *mut tinystore_listener_id_t,
) -> tinystore_status_t {
    guard(|| {
        listen(store, Listen::Tables, mutator, listener, user_data, out_id)
    })
}

/// Listens to table ids added and removed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_add_table_ids_listener(
    store: *mut tinystore_store_t,
    mutator: bool,
    listener: tinystore_listener_fn_t,
    user_data: *mut c_void,
    out_id: *mut tinystore_listener_id_t,
) -> tinystore_status_t {
    guard(|| {
        listen(store, Listen::TableIds, mutator, listener, user_data, out_id)
    })
}

/// Listens to whether a table (NULL: any) exists.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_add_has_table_listener(
    store: *mut tinystore_store_t,
    table_id: *const c_char,
    mutator: bool,
    listener: tinystore_listener_fn_t,
    user_data: *mut c_void,
    out_id: *mut tinystore_listener_id_t,
) -> tinystore_status_t {
    guard(|| {
        let table_id = unsafe { opt_str_arg(table_id, "table_id")? };
        listen(store, Listen::HasTable { table_id }, mutator, listener, user_data, out_id)
    })
}

/// Listens to any cell change in a table (NULL: any table).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_add_table_listener(
    store: *mut tinystore_store_t,
    table_id: *const c_char,
    mutator: bool,
    listener: tinystore_listener_fn_t,
    user_data: *mut c_void,
    out_id: *mut tinystore_listener_id_t,
) -> tinystore_status_t {
    guard(|| {
        let table_id = unsafe { opt_str_arg(table_id, "table_id")? };
        listen(store, Listen::Table { table_id }, mutator, listener, user_data, out_id)
    })
}

/// Listens to cell ids added to or removed from a table (NULL: any).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_add_table_cell_ids_listener(
    store: *mut tinystore_store_t,
    table_id: *const c_char,
    mutator: bool,
    listener: tinystore_listener_fn_t,
    user_data: *mut c_void,
    out_id: *mut tinystore_listener_id_t,
) -> tinystore_status_t {
    guard(|| {
        let table_id = unsafe { opt_str_arg(table_id, "table_id")? };
        listen(store, Listen::TableCellIds { table_id }, mutator, listener, user_data, out_id)
    })
}

/// Listens to whether a table uses a cell id (each NULL: any).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_add_has_table_cell_listener(
    store: *mut tinystore_store_t,
    table_id: *const c_char,
    cell_id: *const c_char,
    mutator: bool,
    listener: tinystore_listener_fn_t,
    user_data: *mut c_void,
    out_id: *mut tinystore_listener_id_t,
) -> tinystore_status_t {
    guard(|| {
        let table_id = unsafe { opt_str_arg(table_id, "table_id")? };
        let cell_id = unsafe { opt_str_arg(cell_id, "cell_id")? };
        listen(store, Listen::HasTableCell { table_id, cell_id }, mutator, listener, user_data, out_id)
    })
}

/// Listens to a table's row count (NULL: any table).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_add_row_count_listener(
    store: *mut tinystore_store_t,
    table_id: *const c_char,
    mutator: bool,
    listener: tinystore_listener_fn_t,
    user_data: *mut c_void,
    out_id: *mut tinystore_listener_id_t,
) -> tinystore_status_t {
    guard(|| {
        let table_id = unsafe { opt_str_arg(table_id, "table_id")? };
        listen(store, Listen::RowCount { table_id }, mutator, listener, user_data, out_id)
    })
}

/// Listens to row ids added to or removed from a table (NULL: any).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_add_row_ids_listener(
    store: *mut tinystore_store_t,
    table_id: *const c_char,
    mutator: bool,
    listener: tinystore_listener_fn_t,
    user_data: *mut c_void,
    out_id: *mut tinystore_listener_id_t,
) -> tinystore_status_t {
    guard(|| {
        let table_id = unsafe { opt_str_arg(table_id, "table_id")? };
        listen(store, Listen::RowIds { table_id }, mutator, listener, user_data, out_id)
    })
}

/// Listens to whether a row exists (each id NULL: any).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_add_has_row_listener(
    store: *mut tinystore_store_t,
    table_id: *const c_char,
    row_id: *const c_char,
    mutator: bool,
    listener: tinystore_listener_fn_t,
    user_data: *mut c_void,
    out_id: *mut tinystore_listener_id_t,
) -> tinystore_status_t {
    guard(|| {
        let table_id = unsafe { opt_str_arg(table_id, "table_id")? };
        let row_id = unsafe { opt_str_arg(row_id, "row_id")? };
        listen(store, Listen::HasRow { table_id, row_id }, mutator, listener, user_data, out_id)
    })
}

/// Listens to any cell change in a row (each id NULL: any).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_add_row_listener(
    store: *mut tinystore_store_t,
    table_id: *const c_char,
    row_id: *const c_char,
    mutator: bool,
    listener: tinystore_listener_fn_t,
    user_data: *mut c_void,
    out_id: *mut tinystore_listener_id_t,
) -> tinystore_status_t {
    guard(|| {
        let table_id = unsafe { opt_str_arg(table_id, "table_id")? };
        let row_id = unsafe { opt_str_arg(row_id, "row_id")? };
        listen(store, Listen::Row { table_id, row_id }, mutator, listener, user_data, out_id)
    })
}

/// Listens to cell ids added to or removed from a row (each id NULL: any).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_add_cell_ids_listener(
    store: *mut tinystore_store_t,
    table_id: *const c_char,
    row_id: *const c_char,
    mutator: bool,
    listener: tinystore_listener_fn_t,
    user_data: *mut c_void,
    out_id: *mut tinystore_listener_id_t,
) -> tinystore_status_t {
    guard(|| {
        let table_id = unsafe { opt_str_arg(table_id, "table_id")? };
        let row_id = unsafe { opt_str_arg(row_id, "row_id")? };
        listen(store, Listen::CellIds { table_id, row_id }, mutator, listener, user_data, out_id)
    })
}

/// Listens to whether a cell exists (each id NULL: any).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_add_has_cell_listener(
    store: *mut tinystore_store_t,
    table_id: *const c_char,
    row_id: *const c_char,
    cell_id: *const c_char,
    mutator: bool,
    listener: tinystore_listener_fn_t,
    user_data: *mut c_void,
    out_id: *mut tinystore_listener_id_t,
) -> tinystore_status_t {
    guard(|| {
        let table_id = unsafe { opt_str_arg(table_id, "table_id")? };
        let row_id = unsafe { opt_str_arg(row_id, "row_id")? };
        let cell_id = unsafe { opt_str_arg(cell_id, "cell_id")? };
        listen(store, Listen::HasCell { table_id, row_id, cell_id }, mutator, listener, user_data, out_id)
    })
}

/// Listens to a cell (each id NULL: any): `new_cell` and `old_cell` in the event.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_add_cell_listener(
    store: *mut tinystore_store_t,
    table_id: *const c_char,
    row_id: *const c_char,
    cell_id: *const c_char,
    mutator: bool,
    listener: tinystore_listener_fn_t,
    user_data: *mut c_void,
    out_id: *mut tinystore_listener_id_t,
) -> tinystore_status_t {
    guard(|| {
        let table_id = unsafe { opt_str_arg(table_id, "table_id")? };
        let row_id = unsafe { opt_str_arg(row_id, "row_id")? };
        let cell_id = unsafe { opt_str_arg(cell_id, "cell_id")? };
        listen(store, Listen::Cell { table_id, row_id, cell_id }, mutator, listener, user_data, out_id)
    })
}

/// Listens to rejected cell writes (each id NULL: any): `invalid_cells` in the event; its
/// ids may be NULL for whole invalid rows or tables.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_add_invalid_cell_listener(
    store: *mut tinystore_store_t,
    table_id: *const c_char,
    row_id: *const c_char,
    cell_id: *const c_char,
    mutator: bool,
    listener: tinystore_listener_fn_t,
    user_data: *mut c_void,
    out_id: *mut tinystore_listener_id_t,
) -> tinystore_status_t {
    guard(|| {
        let table_id = unsafe { opt_str_arg(table_id, "table_id")? };
        let row_id = unsafe { opt_str_arg(row_id, "row_id")? };
        let cell_id = unsafe { opt_str_arg(cell_id, "cell_id")? };
        listen(store, Listen::InvalidCell { table_id, row_id, cell_id }, mutator, listener, user_data, out_id)
    })
}

/// Listens to whether any value exists.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_add_has_values_listener(
    store: *mut tinystore_store_t,
    mutator: bool,
    listener: tinystore_listener_fn_t,
    user_data: *mut c_void,
    out_id: *mut tinystore_listener_id_t,
) -> tinystore_status_t {
    guard(|| {
        listen(store, Listen::HasValues, mutator, listener, user_data, out_id)
    })
}

/// Listens to any value change.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_add_values_listener(
    store: *mut tinystore_store_t,
    mutator: bool,
    listener: tinystore_listener_fn_t,
    user_data: *mut c_void,
    out_id: *mut tinystore_listener_id_t,
) -> tinystore_status_t {
    guard(|| {
        listen(store, Listen::Values, mutator, listener, user_data, out_id)
    })
}

/// Listens to value ids added and removed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_add_value_ids_listener(
    store: *mut tinystore_store_t,
    mutator: bool,
    listener: tinystore_listener_fn_t,
    user_data: *mut c_void,
    out_id: *mut tinystore_listener_id_t,
) -> tinystore_status_t {
    guard(|| {
        listen(store, Listen::ValueIds, mutator, listener, user_data, out_id)
    })
}

/// Listens to whether a value (NULL: any) exists.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_add_has_value_listener(
    store: *mut tinystore_store_t,
    value_id: *const c_char,
    mutator: bool,
    listener: tinystore_listener_fn_t,
    user_data: *mut c_void,
    out_id: *mut tinystore_listener_id_t,
) -> tinystore_status_t {
    guard(|| {
        let value_id = unsafe { opt_str_arg(value_id, "value_id")? };
        listen(store, Listen::HasValue { value_id }, mutator, listener, user_data, out_id)
    })
}

/// Listens to a value (NULL: any): `new_cell` and `old_cell` in the event.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_add_value_listener(
    store: *mut tinystore_store_t,
    value_id: *const c_char,
    mutator: bool,
    listener: tinystore_listener_fn_t,
    user_data: *mut c_void,
    out_id: *mut tinystore_listener_id_t,
) -> tinystore_status_t {
    guard(|| {
        let value_id = unsafe { opt_str_arg(value_id, "value_id")? };
        listen(store, Listen::Value { value_id }, mutator, listener, user_data, out_id)
    })
}

/// Listens to rejected value writes (NULL: any value).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_add_invalid_value_listener(
    store: *mut tinystore_store_t,
    value_id: *const c_char,
    mutator: bool,
    listener: tinystore_listener_fn_t,
    user_data: *mut c_void,
    out_id: *mut tinystore_listener_id_t,
) -> tinystore_status_t {
    guard(|| {
        let value_id = unsafe { opt_str_arg(value_id, "value_id")? };
        listen(store, Listen::InvalidValue { value_id }, mutator, listener, user_data, out_id)
    })
}

/// Called when an outermost transaction starts.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_add_start_transaction_listener(
    store: *mut tinystore_store_t,
    listener: tinystore_listener_fn_t,
    user_data: *mut c_void,
    out_id: *mut tinystore_listener_id_t,
) -> tinystore_status_t {
    guard(|| {
        listen(store, Listen::StartTransaction, false, listener, user_data, out_id)
    })
}

/// Called when a transaction is finishing, after the mutator listeners and any rollback,
/// before the other listeners (`tinystore_store_get_transaction_changes_json` works here).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_add_will_finish_transaction_listener(
    store: *mut tinystore_store_t,
    listener: tinystore_listener_fn_t,
    user_data: *mut c_void,
    out_id: *mut tinystore_listener_id_t,
) -> tinystore_status_t {
    guard(|| {
        listen(store, Listen::WillFinishTransaction, false, listener, user_data, out_id)
    })
}

/// Called at the very end of every outermost transaction, rolled back or not.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_add_did_finish_transaction_listener(
    store: *mut tinystore_store_t,
    listener: tinystore_listener_fn_t,
    user_data: *mut c_void,
    out_id: *mut tinystore_listener_id_t,
) -> tinystore_status_t {
    guard(|| {
        listen(store, Listen::DidFinishTransaction, false, listener, user_data, out_id)
    })
}
