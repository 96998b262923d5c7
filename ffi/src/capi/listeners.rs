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
        let changes = c_id_changes(ev.id_changes);
        let ids = c_ids(ev.ids);
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
            id_changes: slice_ptr(&changes.items),
            id_changes_len: changes.items.len(),
            ids: slice_ptr(&ids.items),
            ids_len: ids.items.len(),
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

/// Registers a C listener for `what` through the core's event contract
/// ([`events::add_listener`]) and tracks its id on the handle.
pub(crate) fn listen(
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
