//! The store's JSON content, schemas and transactions.

use super::*;

// ---------------------------------------------------------------------------- JSON content

pub(crate) fn string_out(out: *mut *mut c_char, text: impl FnOnce() -> R<String>) -> R<()> {
    let out = Out::new(out, "out_json")?;
    let text = text()?;
    out.set(alloc_str(&text));
    Ok(())
}

/// `JSON.stringify([tables, values])` in TinyBase's encoded form (TinyBase's `getJson`). Free
/// the string with `tinystore_string_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_get_json(
    store: *mut tinystore_store_t,
    out_json: *mut *mut c_char,
) -> tinystore_status_t {
    guard(|| string_out(out_json, || with_store(store, |s| Ok(s.store.get_json()))))
}

/// Replaces tables and values from `[tables, values]` JSON (TinyBase's `setJson`; a bare
/// tables object is accepted too). On error nothing changes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_set_json(
    store: *mut tinystore_store_t,
    json: *const c_char,
) -> tinystore_status_t {
    guard(|| {
        let text = unsafe { str_arg(json, "json")? };
        with_store(store, |s| {
            s.store.set_json(text)?;
            Ok(())
        })
    })
}

/// The tables as JSON (`getTables`, encoded form).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_get_tables_json(
    store: *mut tinystore_store_t,
    out_json: *mut *mut c_char,
) -> tinystore_status_t {
    guard(|| {
        string_out(out_json, || {
            with_store(store, |s| Ok(s.store.get_tables_json()))
        })
    })
}

/// Replaces all tables from JSON (`{}` deletes them all).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_set_tables_json(
    store: *mut tinystore_store_t,
    json: *const c_char,
) -> tinystore_status_t {
    guard(|| {
        let text = unsafe { str_arg(json, "json")? };
        with_store(store, |s| {
            s.store.set_tables_json(text)?;
            Ok(())
        })
    })
}

/// The values as JSON (`getValues`, encoded form).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_get_values_json(
    store: *mut tinystore_store_t,
    out_json: *mut *mut c_char,
) -> tinystore_status_t {
    guard(|| {
        string_out(out_json, || {
            with_store(store, |s| Ok(s.store.get_values_json()))
        })
    })
}

/// Replaces all values from JSON (`{}` deletes them all).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_set_values_json(
    store: *mut tinystore_store_t,
    json: *const c_char,
) -> tinystore_status_t {
    guard(|| {
        let text = unsafe { str_arg(json, "json")? };
        with_store(store, |s| {
            s.store.set_values_json(text)?;
            Ok(())
        })
    })
}

/// Merges values from JSON (`setPartialValues`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_set_partial_values_json(
    store: *mut tinystore_store_t,
    json: *const c_char,
) -> tinystore_status_t {
    guard(|| {
        let parsed = unsafe { json_arg(json, "json")? };
        let values = content::values_from_json(&parsed, true)?;
        with_store(store, |s| {
            s.store.set_partial_values(&values);
            Ok(())
        })
    })
}

/// One table as JSON (`{}` when absent).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_get_table_json(
    store: *mut tinystore_store_t,
    table_id: *const c_char,
    out_json: *mut *mut c_char,
) -> tinystore_status_t {
    guard(|| {
        let t = unsafe { str_arg(table_id, "table_id")? };
        string_out(out_json, || {
            with_store(store, |s| {
                Ok(json::stringify(&content::table_to_json(
                    &s.store.get_table(t),
                    true,
                )))
            })
        })
    })
}

/// Replaces one table from JSON (`setTable`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_set_table_json(
    store: *mut tinystore_store_t,
    table_id: *const c_char,
    json: *const c_char,
) -> tinystore_status_t {
    guard(|| {
        let (t, parsed) = unsafe { (str_arg(table_id, "table_id")?, json_arg(json, "json")?) };
        let table = content::table_from_json(&parsed, true)?;
        with_store(store, |s| {
            s.store.set_table(t, &table);
            Ok(())
        })
    })
}

/// One row as JSON (`{}` when absent).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_get_row_json(
    store: *mut tinystore_store_t,
    table_id: *const c_char,
    row_id: *const c_char,
    out_json: *mut *mut c_char,
) -> tinystore_status_t {
    guard(|| {
        let (t, r) = unsafe { (str_arg(table_id, "table_id")?, str_arg(row_id, "row_id")?) };
        string_out(out_json, || {
            with_store(store, |s| {
                Ok(json::stringify(&content::row_to_json(
                    &s.store.get_row(t, r),
                    true,
                )))
            })
        })
    })
}

/// Replaces one row from JSON (`setRow`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_set_row_json(
    store: *mut tinystore_store_t,
    table_id: *const c_char,
    row_id: *const c_char,
    json: *const c_char,
) -> tinystore_status_t {
    guard(|| {
        let (t, r, parsed) = unsafe {
            (
                str_arg(table_id, "table_id")?,
                str_arg(row_id, "row_id")?,
                json_arg(json, "json")?,
            )
        };
        let row = content::row_from_json(&parsed, true)?;
        with_store(store, |s| {
            s.store.set_row(t, r, &row);
            Ok(())
        })
    })
}

/// Merges cells into one row from JSON (`setPartialRow`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_set_partial_row_json(
    store: *mut tinystore_store_t,
    table_id: *const c_char,
    row_id: *const c_char,
    json: *const c_char,
) -> tinystore_status_t {
    guard(|| {
        let (t, r, parsed) = unsafe {
            (
                str_arg(table_id, "table_id")?,
                str_arg(row_id, "row_id")?,
                json_arg(json, "json")?,
            )
        };
        let row = content::row_from_json(&parsed, true)?;
        with_store(store, |s| {
            s.store.set_partial_row(t, r, &row);
            Ok(())
        })
    })
}

/// Adds a row with a generated id (`addRow`; `reuse_row_ids` reuses ids of deleted rows) and
/// sets `*out_row_id` to it (free with `tinystore_string_free`), or to NULL when the row was
/// invalid and nothing was added (still `TINYSTORE_STATUS_OK`, as in TinyBase).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_add_row_json(
    store: *mut tinystore_store_t,
    table_id: *const c_char,
    json: *const c_char,
    reuse_row_ids: bool,
    out_row_id: *mut *mut c_char,
) -> tinystore_status_t {
    guard(|| {
        let (t, parsed) = unsafe { (str_arg(table_id, "table_id")?, json_arg(json, "json")?) };
        let out = Out::new(out_row_id, "out_row_id")?;
        let row = content::row_from_json(&parsed, true)?;
        with_store(store, |s| {
            let id = s.store.add_row(t, &row, reuse_row_ids);
            out.set(id.map_or(ptr::null_mut(), |id| alloc_str(&id)));
            Ok(())
        })
    })
}

/// Applies `[changedTables, changedValues, 1]` changes (`applyChanges`; `null` deletes).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_apply_changes_json(
    store: *mut tinystore_store_t,
    json: *const c_char,
) -> tinystore_status_t {
    guard(|| {
        let parsed = unsafe { json_arg(json, "json")? };
        let changes = content::Changes::from_json(&parsed)?;
        with_store(store, |s| {
            s.store.apply_changes(&changes);
            Ok(())
        })
    })
}

/// The net changes of the current transaction as `[changedTables, changedValues, 1]` JSON
/// (deletions as `null`); `[{},{},1]` outside a transaction. Useful in listeners.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_get_transaction_changes_json(
    store: *mut tinystore_store_t,
    out_json: *mut *mut c_char,
) -> tinystore_status_t {
    guard(|| {
        string_out(out_json, || {
            with_store(store, |s| {
                Ok(json::stringify(
                    &s.store.get_transaction_changes().to_json(),
                ))
            })
        })
    })
}

// ---------------------------------------------------------------------------- schemas

/// Sets the TablesSchema from JSON (`setTablesSchema`) and re-validates the tables.
/// `TINYSTORE_STATUS_INVALID_SCHEMA` when it has no valid entry.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_set_tables_schema_json(
    store: *mut tinystore_store_t,
    json: *const c_char,
) -> tinystore_status_t {
    guard(|| {
        let text = unsafe { str_arg(json, "json")? };
        with_store(store, |s| {
            s.store.set_tables_schema_json(text)?;
            Ok(())
        })
    })
}

/// Sets the ValuesSchema from JSON (`setValuesSchema`) and re-validates the values.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_set_values_schema_json(
    store: *mut tinystore_store_t,
    json: *const c_char,
) -> tinystore_status_t {
    guard(|| {
        let text = unsafe { str_arg(json, "json")? };
        with_store(store, |s| {
            s.store.set_values_schema_json(text)?;
            Ok(())
        })
    })
}

/// The TablesSchema as JSON (`{}` when none).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_get_tables_schema_json(
    store: *mut tinystore_store_t,
    out_json: *mut *mut c_char,
) -> tinystore_status_t {
    guard(|| {
        string_out(out_json, || {
            with_store(store, |s| Ok(s.store.get_tables_schema_json()))
        })
    })
}

/// The ValuesSchema as JSON (`{}` when none).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_get_values_schema_json(
    store: *mut tinystore_store_t,
    out_json: *mut *mut c_char,
) -> tinystore_status_t {
    guard(|| {
        string_out(out_json, || {
            with_store(store, |s| Ok(s.store.get_values_schema_json()))
        })
    })
}

/// `[tablesSchema, valuesSchema]` as JSON (`getSchemaJson`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_get_schema_json(
    store: *mut tinystore_store_t,
    out_json: *mut *mut c_char,
) -> tinystore_status_t {
    guard(|| {
        string_out(out_json, || {
            with_store(store, |s| Ok(s.store.get_schema_json()))
        })
    })
}

/// Removes both schemas (`delSchema`; the data is kept).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_del_schema(
    store: *mut tinystore_store_t,
) -> tinystore_status_t {
    guard(|| {
        with_store(store, |s| {
            s.store.del_schema();
            Ok(())
        })
    })
}

// ---------------------------------------------------------------------------- transactions

/// Starts an explicit transaction (TinyBase's `startTransaction`); pair it with
/// `tinystore_store_transaction_commit` or `_rollback`. Transactions nest: only the outermost
/// commit runs the listeners. A transaction belongs to the store, not to a thread: writes
/// from other threads made meanwhile join it. For a transaction other threads cannot
/// interleave with, use `tinystore_store_transaction`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_transaction_begin(
    store: *mut tinystore_store_t,
) -> tinystore_status_t {
    guard(|| {
        with_store(store, |s| {
            s.store.start_transaction();
            s.state.lock().transactions += 1;
            Ok(())
        })
    })
}

pub(crate) fn end_transaction(store: *mut tinystore_store_t, rollback: bool) -> R<()> {
    with_store(store, |s| {
        {
            let mut state = s.state.lock();
            if state.transactions == 0 {
                return Err(err(
                    ErrorKind::InvalidState,
                    "no transaction begun through this handle is open",
                ));
            }
            state.transactions -= 1;
        }
        if rollback {
            s.store.finish_transaction_with_rollback(|_| true);
        } else {
            s.store.finish_transaction();
        }
        Ok(())
    })
}

/// Finishes the innermost explicit transaction; the outermost one runs the listeners.
/// `TINYSTORE_STATUS_INVALID_STATE` without an open transaction.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_transaction_commit(
    store: *mut tinystore_store_t,
) -> tinystore_status_t {
    guard(|| end_transaction(store, false))
}

/// Finishes the innermost explicit transaction; when it is the outermost, every change made
/// in it (schemas included) is rolled back (after the mutator listeners, as in TinyBase). A
/// nested rollback only closes its level: the outermost commit or rollback decides.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_transaction_rollback(
    store: *mut tinystore_store_t,
) -> tinystore_status_t {
    guard(|| end_transaction(store, true))
}

/// Sets `*out` to whether a transaction is open (including while its listeners run).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_is_in_transaction(
    store: *mut tinystore_store_t,
    out: *mut bool,
) -> tinystore_status_t {
    guard(|| {
        let out = Out::new(out, "out")?;
        with_store(store, |s| {
            out.set(s.store.is_in_transaction());
            Ok(())
        })
    })
}

/// Runs `body(user_data, store)` in one transaction, holding the store for the whole time
/// (other threads wait), and commits if it returns true, rolls back if false. `body` may call
/// any function on `store`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_store_transaction(
    store: *mut tinystore_store_t,
    body: tinystore_transaction_fn_t,
    user_data: *mut c_void,
) -> tinystore_status_t {
    guard(|| {
        let body = body.ok_or_else(|| err(ErrorKind::NullArgument, "body is NULL"))?;
        with_store(store, |s| {
            let commit = std::cell::Cell::new(true);
            s.store.transaction_with_rollback(
                // SAFETY: the caller's callback, with its own arguments.
                |_| commit.set(unsafe { body(user_data, store) }),
                |_| !commit.get(),
            );
            Ok(())
        })
    })
}
