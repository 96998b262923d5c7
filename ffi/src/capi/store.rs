//! The store: creation, cells and values, tables and rows, ids.

use super::*;

// ============================================================================ store

/// Creates an empty Store. Free it with `tinystore_store_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_new(
    out_store: *mut *mut tinystore_store_t,
) -> tinystore_status_t {
    guard(|| {
        let out = Out::new(out_store, "out_store")?;
        let handle = register(Object::Store(StoreEntry::new(Store::new(), None)));
        out.set(handle as *mut tinystore_store_t);
        Ok(())
    })
}

/// Frees a store handle (Store or MergeableStore): removes the listeners registered through
/// it (when this returns, none of them runs on another thread or will run again) and closes
/// explicit transactions left open. Persisters and synchronizers built on the store keep its
/// data alive until they are freed too. A second free returns
/// `TINYSTORE_STATUS_INVALID_HANDLE`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_free(store: *mut tinystore_store_t) -> tinystore_status_t {
    guard(|| {
        let object = unregister(store as usize, "store", "a store", |o| {
            matches!(o, Object::Store(_))
        })?;
        if let Object::Store(entry) = &*object {
            entry.release();
        }
        Ok(())
    })
}

/// Sets `*out` to whether `store` is a MergeableStore.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_is_mergeable(
    store: *mut tinystore_store_t,
    out: *mut bool,
) -> tinystore_status_t {
    guard(|| {
        let out = Out::new(out, "out")?;
        with_store(store, |s| {
            out.set(s.mergeable.is_some());
            Ok(())
        })
    })
}

// ---------------------------------------------------------------------------- cells, values

/// Copies a cell into `*out_cell` (free it with `tinystore_cell_free`).
/// `TINYSTORE_STATUS_NOT_FOUND` when there is no such cell.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_get_cell(
    store: *mut tinystore_store_t,
    table_id: *const c_char,
    row_id: *const c_char,
    cell_id: *const c_char,
    out_cell: *mut tinystore_cell_t,
) -> tinystore_status_t {
    guard(|| {
        let (t, r, c) = unsafe {
            (
                str_arg(table_id, "table_id")?,
                str_arg(row_id, "row_id")?,
                str_arg(cell_id, "cell_id")?,
            )
        };
        let out = Out::new(out_cell, "out_cell")?;
        with_store(store, |s| {
            let cell = s
                .store
                .get_cell(t, r, c)
                .ok_or_else(|| err(ErrorKind::NotFound, format!("no cell {t}/{r}/{c}")))?;
            out.set(cell_owned(Some(&cell)));
            Ok(())
        })
    })
}

/// Sets a cell (TinyBase's `setCell`). A cell the schema (or TinyBase's rules, e.g. a
/// non-finite number) rejects is not written: invalid-cell listeners are told and the call
/// still returns `TINYSTORE_STATUS_OK`, as in TinyBase.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_set_cell(
    store: *mut tinystore_store_t,
    table_id: *const c_char,
    row_id: *const c_char,
    cell_id: *const c_char,
    cell: *const tinystore_cell_t,
) -> tinystore_status_t {
    guard(|| {
        let (t, r, c, cell) = unsafe {
            (
                str_arg(table_id, "table_id")?,
                str_arg(row_id, "row_id")?,
                str_arg(cell_id, "cell_id")?,
                cell_arg(cell, "cell")?,
            )
        };
        with_store(store, |s| {
            s.store.set_cell(t, r, c, cell);
            Ok(())
        })
    })
}

/// Deletes a cell (and its row, if it was the row's last cell). A cell with a schema default
/// is reset to the default instead, unless `force_del`, which then deletes the whole row
/// (TinyBase's `delCell(t, r, c, forceDel)`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_del_cell(
    store: *mut tinystore_store_t,
    table_id: *const c_char,
    row_id: *const c_char,
    cell_id: *const c_char,
    force_del: bool,
) -> tinystore_status_t {
    guard(|| {
        let (t, r, c) = unsafe {
            (
                str_arg(table_id, "table_id")?,
                str_arg(row_id, "row_id")?,
                str_arg(cell_id, "cell_id")?,
            )
        };
        with_store(store, |s| {
            s.store.del_cell(t, r, c, force_del);
            Ok(())
        })
    })
}

/// Sets `*out` to whether the cell exists.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_has_cell(
    store: *mut tinystore_store_t,
    table_id: *const c_char,
    row_id: *const c_char,
    cell_id: *const c_char,
    out: *mut bool,
) -> tinystore_status_t {
    guard(|| {
        let (t, r, c) = unsafe {
            (
                str_arg(table_id, "table_id")?,
                str_arg(row_id, "row_id")?,
                str_arg(cell_id, "cell_id")?,
            )
        };
        let out = Out::new(out, "out")?;
        with_store(store, |s| {
            out.set(s.store.has_cell(t, r, c));
            Ok(())
        })
    })
}

/// Copies a value into `*out_value` (free it with `tinystore_cell_free`).
/// `TINYSTORE_STATUS_NOT_FOUND` when there is no such value.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_get_value(
    store: *mut tinystore_store_t,
    value_id: *const c_char,
    out_value: *mut tinystore_cell_t,
) -> tinystore_status_t {
    guard(|| {
        let v = unsafe { str_arg(value_id, "value_id")? };
        let out = Out::new(out_value, "out_value")?;
        with_store(store, |s| {
            let value = s
                .store
                .get_value(v)
                .ok_or_else(|| err(ErrorKind::NotFound, format!("no value {v}")))?;
            out.set(cell_owned(Some(&value)));
            Ok(())
        })
    })
}

/// Sets a value (invalid values are handled as invalid cells are, see
/// `tinystore_store_set_cell`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_set_value(
    store: *mut tinystore_store_t,
    value_id: *const c_char,
    value: *const tinystore_cell_t,
) -> tinystore_status_t {
    guard(|| {
        let (v, value) = unsafe { (str_arg(value_id, "value_id")?, cell_arg(value, "value")?) };
        with_store(store, |s| {
            s.store.set_value(v, value);
            Ok(())
        })
    })
}

/// Deletes a value (reset to its schema default if it has one).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_del_value(
    store: *mut tinystore_store_t,
    value_id: *const c_char,
) -> tinystore_status_t {
    guard(|| {
        let v = unsafe { str_arg(value_id, "value_id")? };
        with_store(store, |s| {
            s.store.del_value(v);
            Ok(())
        })
    })
}

/// Sets `*out` to whether the value exists.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_has_value(
    store: *mut tinystore_store_t,
    value_id: *const c_char,
    out: *mut bool,
) -> tinystore_status_t {
    guard(|| {
        let v = unsafe { str_arg(value_id, "value_id")? };
        let out = Out::new(out, "out")?;
        with_store(store, |s| {
            out.set(s.store.has_value(v));
            Ok(())
        })
    })
}

// ---------------------------------------------------------------------------- tables, rows

/// Sets `*out` to whether the table exists.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_has_table(
    store: *mut tinystore_store_t,
    table_id: *const c_char,
    out: *mut bool,
) -> tinystore_status_t {
    guard(|| {
        let t = unsafe { str_arg(table_id, "table_id")? };
        let out = Out::new(out, "out")?;
        with_store(store, |s| {
            out.set(s.store.has_table(t));
            Ok(())
        })
    })
}

/// Sets `*out` to whether the row exists.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_has_row(
    store: *mut tinystore_store_t,
    table_id: *const c_char,
    row_id: *const c_char,
    out: *mut bool,
) -> tinystore_status_t {
    guard(|| {
        let (t, r) = unsafe { (str_arg(table_id, "table_id")?, str_arg(row_id, "row_id")?) };
        let out = Out::new(out, "out")?;
        with_store(store, |s| {
            out.set(s.store.has_row(t, r));
            Ok(())
        })
    })
}

/// Sets `*out` to the number of rows in the table.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_get_row_count(
    store: *mut tinystore_store_t,
    table_id: *const c_char,
    out: *mut usize,
) -> tinystore_status_t {
    guard(|| {
        let t = unsafe { str_arg(table_id, "table_id")? };
        let out = Out::new(out, "out")?;
        with_store(store, |s| {
            out.set(s.store.get_row_count(t));
            Ok(())
        })
    })
}

/// Deletes a table.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_del_table(
    store: *mut tinystore_store_t,
    table_id: *const c_char,
) -> tinystore_status_t {
    guard(|| {
        let t = unsafe { str_arg(table_id, "table_id")? };
        with_store(store, |s| {
            s.store.del_table(t);
            Ok(())
        })
    })
}

/// Deletes a row.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_del_row(
    store: *mut tinystore_store_t,
    table_id: *const c_char,
    row_id: *const c_char,
) -> tinystore_status_t {
    guard(|| {
        let (t, r) = unsafe { (str_arg(table_id, "table_id")?, str_arg(row_id, "row_id")?) };
        with_store(store, |s| {
            s.store.del_row(t, r);
            Ok(())
        })
    })
}

/// Deletes every table.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_del_tables(
    store: *mut tinystore_store_t,
) -> tinystore_status_t {
    guard(|| {
        with_store(store, |s| {
            s.store.del_tables();
            Ok(())
        })
    })
}

/// Deletes every value (values with a default are reset to it).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_del_values(
    store: *mut tinystore_store_t,
) -> tinystore_status_t {
    guard(|| {
        with_store(store, |s| {
            s.store.del_values();
            Ok(())
        })
    })
}

// ---------------------------------------------------------------------------- ids

pub(crate) fn ids_out(
    out: *mut tinystore_string_list_t,
    ids: impl FnOnce() -> R<Vec<String>>,
) -> R<()> {
    let out = Out::new(out, "out_ids")?;
    let ids = ids()?;
    out.set(string_list(&ids));
    Ok(())
}

/// The table ids, in insertion order (free the list with `tinystore_string_list_free`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_get_table_ids(
    store: *mut tinystore_store_t,
    out_ids: *mut tinystore_string_list_t,
) -> tinystore_status_t {
    guard(|| {
        ids_out(out_ids, || {
            with_store(store, |s| Ok(s.store.get_table_ids()))
        })
    })
}

/// The row ids of a table, in insertion order.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_get_row_ids(
    store: *mut tinystore_store_t,
    table_id: *const c_char,
    out_ids: *mut tinystore_string_list_t,
) -> tinystore_status_t {
    guard(|| {
        let t = unsafe { str_arg(table_id, "table_id")? };
        ids_out(out_ids, || {
            with_store(store, |s| Ok(s.store.get_row_ids(t)))
        })
    })
}

/// The row ids of a table sorted by `cell_id` (NULL: by row id), JavaScript's `<` order with
/// missing cells as 0, `descending` or not, skipping `offset`, at most `limit` (0: all).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_get_sorted_row_ids(
    store: *mut tinystore_store_t,
    table_id: *const c_char,
    cell_id: *const c_char,
    descending: bool,
    offset: usize,
    limit: usize,
    out_ids: *mut tinystore_string_list_t,
) -> tinystore_status_t {
    guard(|| {
        let args = unsafe { sorted_args(table_id, cell_id, descending, offset, limit)? };
        ids_out(out_ids, || {
            with_store(store, |s| Ok(s.store.get_sorted_row_ids(&args)))
        })
    })
}

/// The arguments of sorted row ids (and of their listener), read from C.
pub(crate) unsafe fn sorted_args(
    table_id: *const c_char,
    cell_id: *const c_char,
    descending: bool,
    offset: usize,
    limit: usize,
) -> R<SortedRowIdsArgs> {
    let (t, c) = unsafe {
        (
            str_arg(table_id, "table_id")?,
            opt_str_arg(cell_id, "cell_id")?,
        )
    };
    let mut args = SortedRowIdsArgs::new(t)
        .descending(descending)
        .offset(offset);
    if let Some(c) = c {
        args = args.cell_id(c);
    }
    if limit > 0 {
        args = args.limit(limit);
    }
    Ok(args)
}

/// The cell ids of a row, in insertion order.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_get_cell_ids(
    store: *mut tinystore_store_t,
    table_id: *const c_char,
    row_id: *const c_char,
    out_ids: *mut tinystore_string_list_t,
) -> tinystore_status_t {
    guard(|| {
        let (t, r) = unsafe { (str_arg(table_id, "table_id")?, str_arg(row_id, "row_id")?) };
        ids_out(out_ids, || {
            with_store(store, |s| Ok(s.store.get_cell_ids(t, r)))
        })
    })
}

/// The cell ids used anywhere in a table.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_get_table_cell_ids(
    store: *mut tinystore_store_t,
    table_id: *const c_char,
    out_ids: *mut tinystore_string_list_t,
) -> tinystore_status_t {
    guard(|| {
        let t = unsafe { str_arg(table_id, "table_id")? };
        ids_out(out_ids, || {
            with_store(store, |s| Ok(s.store.get_table_cell_ids(t)))
        })
    })
}

/// The value ids, in insertion order.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_get_value_ids(
    store: *mut tinystore_store_t,
    out_ids: *mut tinystore_string_list_t,
) -> tinystore_status_t {
    guard(|| {
        ids_out(out_ids, || {
            with_store(store, |s| Ok(s.store.get_value_ids()))
        })
    })
}
