//! Store listeners: one C callback type, registered per kind through the core's event
//! contract (`tinystore_core::events`).

use super::*;

// ---------------------------------------------------------------------------- listeners

/// A C listener as a Rust closure's captures (raw pointers are kept as integers: the caller
/// vouches that `user_data` may be used from the threads listeners run on).
#[derive(Clone, Copy)]
pub(crate) struct CListener {
    f: unsafe extern "C" fn(*mut c_void, *mut tinystore_store_t, *const tinystore_event_t),
    user_data: usize,
    store: usize,
}

/// The C listener kinds by their core code ([`ListenerKind::code`]; `tests.rs` checks them).
pub(crate) const KINDS: [tinystore_listener_kind_t; 25] = [
    K::TINYSTORE_LISTENER_HAS_TABLES,
    K::TINYSTORE_LISTENER_TABLES,
    K::TINYSTORE_LISTENER_TABLE_IDS,
    K::TINYSTORE_LISTENER_HAS_TABLE,
    K::TINYSTORE_LISTENER_TABLE,
    K::TINYSTORE_LISTENER_TABLE_CELL_IDS,
    K::TINYSTORE_LISTENER_HAS_TABLE_CELL,
    K::TINYSTORE_LISTENER_ROW_COUNT,
    K::TINYSTORE_LISTENER_ROW_IDS,
    K::TINYSTORE_LISTENER_SORTED_ROW_IDS,
    K::TINYSTORE_LISTENER_HAS_ROW,
    K::TINYSTORE_LISTENER_ROW,
    K::TINYSTORE_LISTENER_CELL_IDS,
    K::TINYSTORE_LISTENER_HAS_CELL,
    K::TINYSTORE_LISTENER_CELL,
    K::TINYSTORE_LISTENER_INVALID_CELL,
    K::TINYSTORE_LISTENER_HAS_VALUES,
    K::TINYSTORE_LISTENER_VALUES,
    K::TINYSTORE_LISTENER_VALUE_IDS,
    K::TINYSTORE_LISTENER_HAS_VALUE,
    K::TINYSTORE_LISTENER_VALUE,
    K::TINYSTORE_LISTENER_INVALID_VALUE,
    K::TINYSTORE_LISTENER_START_TRANSACTION,
    K::TINYSTORE_LISTENER_WILL_FINISH_TRANSACTION,
    K::TINYSTORE_LISTENER_DID_FINISH_TRANSACTION,
];

fn slice_ptr<T>(items: &[T]) -> *const T {
    if items.is_empty() {
        ptr::null()
    } else {
        items.as_ptr()
    }
}

impl CListener {
    /// Converts the core's event into a `tinystore_event_t` (every pointer valid until the
    /// callback returns) and calls the C function.
    fn fire(&self, ev: &ListenerEvent<'_>) {
        let Some(&kind) = KINDS.get(ev.kind.code() as usize) else {
            return; // a kind no C function registers
        };
        let c = |s: Option<&str>| s.map(to_cstring);
        let p = |s: &Option<CString>| s.as_ref().map_or(ptr::null(), |s| s.as_ptr());
        let (table, row, cell, value) =
            (c(ev.table_id), c(ev.row_id), c(ev.cell_id), c(ev.value_id));
        let change_ids: Vec<CString> = ev.id_changes.iter().map(|(id, _)| to_cstring(id)).collect();
        let changes: Vec<tinystore_id_change_t> = change_ids
            .iter()
            .zip(ev.id_changes)
            .map(|(id, (_, change))| tinystore_id_change_t {
                id: id.as_ptr(),
                change: i32::from(*change),
            })
            .collect();
        let id_strings: Vec<CString> = ev.ids.iter().map(|id| to_cstring(id)).collect();
        let ids: Vec<*const c_char> = id_strings.iter().map(|id| id.as_ptr()).collect();
        let mut keep = Vec::new();
        let invalid: Vec<tinystore_cell_t> = ev
            .invalid
            .iter()
            .map(|cell| cell_view(cell.as_ref(), &mut keep))
            .collect();
        let event = tinystore_event_t {
            kind,
            table_id: p(&table),
            row_id: p(&row),
            cell_id: p(&cell),
            value_id: p(&value),
            flag: ev.has,
            count: ev.count,
            new_cell: cell_view(ev.new, &mut keep),
            old_cell: cell_view(ev.old, &mut keep),
            id_changes: slice_ptr(&changes),
            id_changes_len: changes.len(),
            ids: slice_ptr(&ids),
            ids_len: ids.len(),
            invalid_cells: slice_ptr(&invalid),
            invalid_cells_len: invalid.len(),
        };
        // SAFETY: the registered callback with its registered user data; every pointer in
        // `event` stays valid until it returns.
        unsafe {
            (self.f)(
                self.user_data as *mut c_void,
                self.store as *mut tinystore_store_t,
                &event,
            )
        }
    }
}

/// The body of a `tinystore_store_add_*_listener`: its ids read as optional strings (NULL:
/// any), then registered through [`listen`] as `Listen::$variant`.
macro_rules! listen {
    ($variant:ident($($id:ident),*), $store:ident, $mutator:expr, $($rest:ident),*) => {{
        $(let $id = unsafe { opt_str_arg($id, stringify!($id))? };)*
        listen($store, Listen::$variant { $($id),* }, $mutator, $($rest),*)
    }};
}

/// Registers a C listener for `what` through the core's event contract
/// ([`events::add_listener`]) and tracks its id on the handle.
fn listen(
    store: *mut tinystore_store_t,
    what: Listen<'_>,
    mutator: bool,
    listener: tinystore_listener_fn_t,
    user_data: *mut c_void,
    out_id: *mut tinystore_listener_id_t,
) -> R<()> {
    let out = Out::new(out_id, "out_id")?;
    let f = listener.ok_or_else(|| err(ErrorKind::NullArgument, "listener is NULL"))?;
    with_store(store, |s| {
        let l = CListener {
            f,
            user_data: user_data as usize,
            store: store as usize,
        };
        let id = events::add_listener(&s.store, what, mutator, move |_, ev| l.fire(ev));
        s.track(id)?;
        out.set(u64::from(id.0));
        Ok(())
    })
}

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
    guard(|| listen!(HasTables(), store, mutator, listener, user_data, out_id))
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
    guard(|| listen(store, Listen::Tables, mutator, listener, user_data, out_id))
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
    guard(|| listen!(TableIds(), store, mutator, listener, user_data, out_id))
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
        listen!(
            HasTable(table_id),
            store,
            mutator,
            listener,
            user_data,
            out_id
        )
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
    guard(|| listen!(Table(table_id), store, mutator, listener, user_data, out_id))
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
        listen!(
            TableCellIds(table_id),
            store,
            mutator,
            listener,
            user_data,
            out_id
        )
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
        listen!(
            HasTableCell(table_id, cell_id),
            store,
            mutator,
            listener,
            user_data,
            out_id
        )
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
        listen!(
            RowCount(table_id),
            store,
            mutator,
            listener,
            user_data,
            out_id
        )
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
        listen!(
            RowIds(table_id),
            store,
            mutator,
            listener,
            user_data,
            out_id
        )
    })
}

/// Listens to a sorted slice of a table's row ids (arguments as
/// `tinystore_store_get_sorted_row_ids`); fires only when that slice changes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_add_sorted_row_ids_listener(
    store: *mut tinystore_store_t,
    table_id: *const c_char,
    cell_id: *const c_char,
    descending: bool,
    offset: usize,
    limit: usize,
    mutator: bool,
    listener: tinystore_listener_fn_t,
    user_data: *mut c_void,
    out_id: *mut tinystore_listener_id_t,
) -> tinystore_status_t {
    guard(|| {
        let args = unsafe { sorted_args(table_id, cell_id, descending, offset, limit)? };
        listen(
            store,
            Listen::SortedRowIds(args),
            mutator,
            listener,
            user_data,
            out_id,
        )
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
        listen!(
            HasRow(table_id, row_id),
            store,
            mutator,
            listener,
            user_data,
            out_id
        )
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
        listen!(
            Row(table_id, row_id),
            store,
            mutator,
            listener,
            user_data,
            out_id
        )
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
        listen!(
            CellIds(table_id, row_id),
            store,
            mutator,
            listener,
            user_data,
            out_id
        )
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
        listen!(
            HasCell(table_id, row_id, cell_id),
            store,
            mutator,
            listener,
            user_data,
            out_id
        )
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
        listen!(
            Cell(table_id, row_id, cell_id),
            store,
            mutator,
            listener,
            user_data,
            out_id
        )
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
        listen!(
            InvalidCell(table_id, row_id, cell_id),
            store,
            mutator,
            listener,
            user_data,
            out_id
        )
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
    guard(|| listen!(HasValues(), store, mutator, listener, user_data, out_id))
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
    guard(|| listen(store, Listen::Values, mutator, listener, user_data, out_id))
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
    guard(|| listen!(ValueIds(), store, mutator, listener, user_data, out_id))
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
        listen!(
            HasValue(value_id),
            store,
            mutator,
            listener,
            user_data,
            out_id
        )
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
    guard(|| listen!(Value(value_id), store, mutator, listener, user_data, out_id))
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
        listen!(
            InvalidValue(value_id),
            store,
            mutator,
            listener,
            user_data,
            out_id
        )
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
        listen!(
            StartTransaction(),
            store,
            false,
            listener,
            user_data,
            out_id
        )
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
        listen!(
            WillFinishTransaction(),
            store,
            false,
            listener,
            user_data,
            out_id
        )
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
        listen!(
            DidFinishTransaction(),
            store,
            false,
            listener,
            user_data,
            out_id
        )
    })
}

pub(crate) fn listener_id(
    store: *mut tinystore_store_t,
    id: tinystore_listener_id_t,
    remove: bool,
) -> R<(Arc<Object>, ListenerId)> {
    let object = lookup(store as usize, "store")?;
    let Object::Store(entry) = &*object else {
        return Err(wrong_kind("store", "a store", &object));
    };
    let not_found = || {
        err(
            ErrorKind::NotFound,
            format!("no listener {id} was added through this store handle"),
        )
    };
    let id = ListenerId(u32::try_from(id).map_err(|_| not_found())?);
    {
        let mut state = entry.state.lock();
        let index = state
            .listeners
            .iter()
            .position(|l| *l == id)
            .ok_or_else(not_found)?;
        if remove {
            state.listeners.swap_remove(index);
        }
    }
    Ok((object, id))
}

/// Removes a listener added through this handle (safe from inside any listener, itself
/// included). When this returns, the listener is not running on another thread and will not
/// be called again. `TINYSTORE_STATUS_NOT_FOUND` for an unknown id.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_del_listener(
    store: *mut tinystore_store_t,
    id: tinystore_listener_id_t,
) -> tinystore_status_t {
    guard(|| {
        let (object, id) = listener_id(store, id, true)?;
        if let Object::Store(entry) = &*object {
            entry.store.del_listener(id);
        }
        Ok(())
    })
}

/// Calls a listener now for every id path it currently matches, with the current state
/// (TinyBase's `callListener`: `has_*` get the current flag, cell/value listeners get the
/// current cell as both new and old, `*_ids` listeners get no changes).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_call_listener(
    store: *mut tinystore_store_t,
    id: tinystore_listener_id_t,
) -> tinystore_status_t {
    guard(|| {
        let (object, id) = listener_id(store, id, false)?;
        if let Object::Store(entry) = &*object {
            entry.store.call_listener(id);
        }
        Ok(())
    })
}
