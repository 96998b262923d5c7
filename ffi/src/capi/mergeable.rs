//! MergeableStores.

use super::*;

// ============================================================================ mergeable

/// Creates an empty MergeableStore on the wall clock. `unique_id` (NULL: random) fixes the
/// HLC client id. Free it with `tinystore_store_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_mergeable_store_new(
    unique_id: *const c_char,
    out_store: *mut *mut tinystore_mergeable_store_t,
) -> tinystore_status_t {
    guard(|| {
        let uid = unsafe { opt_str_arg(unique_id, "unique_id")? };
        let out = Out::new(out_store, "out_store")?;
        let m = MergeableStore::new(uid);
        let handle = register(Object::Store(StoreEntry::new(m.store().clone(), Some(m))));
        out.set(handle as *mut tinystore_store_t);
        Ok(())
    })
}

/// Creates an empty MergeableStore reading time from `clock(user_data)` (milliseconds since
/// the epoch), for reproducible stamps. `clock` may be called from any thread, for as long
/// as the store lives (after its handle is freed too, while persisters or synchronizers keep
/// it alive).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_mergeable_store_new_with_clock(
    unique_id: *const c_char,
    clock: tinystore_clock_fn_t,
    user_data: *mut c_void,
    out_store: *mut *mut tinystore_mergeable_store_t,
) -> tinystore_status_t {
    guard(|| {
        let uid = unsafe { opt_str_arg(unique_id, "unique_id")? };
        let out = Out::new(out_store, "out_store")?;
        let clock = clock.ok_or_else(|| err(ErrorKind::NullArgument, "clock is NULL"))?;
        let ud = user_data as usize;
        // SAFETY: the caller's clock with its own user data.
        let m =
            MergeableStore::with_clock(uid, Box::new(move || unsafe { clock(ud as *mut c_void) }));
        let handle = register(Object::Store(StoreEntry::new(m.store().clone(), Some(m))));
        out.set(handle as *mut tinystore_store_t);
        Ok(())
    })
}

/// The whole stamped content with hashes as JSON, as TinyBase's file persister writes it
/// (`getMergeableContent`). Free with `tinystore_string_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_mergeable_store_get_mergeable_content_json(
    store: *mut tinystore_mergeable_store_t,
    out_json: *mut *mut c_char,
) -> tinystore_status_t {
    guard(|| {
        string_out(out_json, || {
            with_mergeable(store, |m| Ok(m.get_mergeable_content_json()))
        })
    })
}

/// Replaces content and stamps (`setMergeableContent`). An invalid payload changes nothing
/// (`TINYSTORE_STATUS_INVALID_JSON` or `TINYSTORE_STATUS_REJECTED`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_mergeable_store_set_mergeable_content_json(
    store: *mut tinystore_mergeable_store_t,
    json: *const c_char,
) -> tinystore_status_t {
    guard(|| {
        let text = unsafe { str_arg(json, "json")? };
        with_mergeable(store, |m| {
            m.set_mergeable_content_json(text)?;
            Ok(())
        })
    })
}

/// Merges changes or content from another replica (`applyMergeableChanges`): each leaf wins
/// if its HLC is later. An invalid payload changes nothing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_mergeable_store_apply_mergeable_changes_json(
    store: *mut tinystore_mergeable_store_t,
    json: *const c_char,
) -> tinystore_status_t {
    guard(|| {
        let text = unsafe { str_arg(json, "json")? };
        with_mergeable(store, |m| {
            m.apply_mergeable_changes_json(text)?;
            Ok(())
        })
    })
}

/// Merges two MergeableStores both ways (`merge`): each ends with both contents.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_mergeable_store_merge(
    store: *mut tinystore_mergeable_store_t,
    other: *mut tinystore_mergeable_store_t,
) -> tinystore_status_t {
    guard(|| {
        with_mergeable(store, |a| {
            let object = lookup(other as usize, "other")?;
            let Object::Store(entry) = &*object else {
                return Err(wrong_kind("other", "a store", &object));
            };
            a.merge(entry.mergeable()?);
            Ok(())
        })
    })
}

/// Sets the content hashes (`getMergeableContentHashes`): replicas with equal hashes hold
/// equal content.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_mergeable_store_get_mergeable_content_hashes(
    store: *mut tinystore_mergeable_store_t,
    out_tables_hash: *mut u32,
    out_values_hash: *mut u32,
) -> tinystore_status_t {
    guard(|| {
        let tables = Out::new(out_tables_hash, "out_tables_hash")?;
        let values = Out::new(out_values_hash, "out_values_hash")?;
        with_mergeable(store, |m| {
            let (t, v) = m.get_mergeable_content_hashes();
            tables.set(t);
            values.set(v);
            Ok(())
        })
    })
}

// ---------------------------------------------------------------------------- hashes, diffs

/// Diffs cross as the sync protocol's bodies: hash-less stamps with encoded cells.
const DIFF_FORM: JsonForm = JsonForm {
    hashes: false,
    changes: false,
    encoded: true,
};

/// A hash from JSON: the protocol's hashes are unsigned 32-bit integers, and anything else
/// would make a diff silently compare against a wrong hash.
fn hash_from(value: &Json, at: &str) -> R<u32> {
    value
        .as_f64()
        .filter(|n| n.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(n))
        .map(|n| n as u32)
        .ok_or_else(|| {
            err(
                ErrorKind::InvalidJson,
                format!("{at} must be an integer from 0 to 4294967295, not {value}"),
            )
        })
}

fn object_of<'a>(value: &'a Json, at: &str) -> R<&'a serde_json::Map<String, Json>> {
    value.as_object().ok_or_else(|| {
        err(
            ErrorKind::InvalidJson,
            format!("{at} must be a JSON object, not {value}"),
        )
    })
}

/// `{id: hash}`.
fn flat_hashes(value: &Json, at: &str) -> R<TableHashes> {
    object_of(value, at)?
        .iter()
        .map(|(id, h)| Ok((id.clone(), hash_from(h, &format!("{at}.{id}"))?)))
        .collect()
}

/// `{tableId: {rowId: hash}}`.
fn nested_hashes(value: &Json, at: &str) -> R<RowHashes> {
    object_of(value, at)?
        .iter()
        .map(|(id, h)| Ok((id.clone(), flat_hashes(h, &format!("{at}.{id}"))?)))
        .collect()
}

/// `{tableId: {rowId: {cellId: hash}}}`.
fn deep_hashes(value: &Json, at: &str) -> R<CellHashes> {
    object_of(value, at)?
        .iter()
        .map(|(id, h)| Ok((id.clone(), nested_hashes(h, &format!("{at}.{id}"))?)))
        .collect()
}

/// An object whose entries are already JSON, keys in JavaScript's order (integer-like keys
/// first), as TinyBase's `JSON.stringify` writes it.
fn object_json(entries: Vec<(&String, String)>) -> String {
    let mut out = String::from("{");
    for (i, (id, value)) in tinystore_core::js::object_order(entries)
        .into_iter()
        .enumerate()
    {
        if i > 0 {
            out.push(',');
        }
        json::write_string(&mut out, id);
        out.push(':');
        out.push_str(&value);
    }
    out.push('}');
    out
}

fn flat_json(h: &TableHashes) -> String {
    object_json(h.iter().map(|(k, v)| (k, v.to_string())).collect())
}

fn nested_json(h: &RowHashes) -> String {
    object_json(h.iter().map(|(k, v)| (k, flat_json(v))).collect())
}

fn deep_json(h: &CellHashes) -> String {
    object_json(h.iter().map(|(k, v)| (k, nested_json(v))).collect())
}

fn tables_stamp_json(stamp: &TablesStamp) -> String {
    let mut out = String::new();
    write_tables_stamp(&mut out, stamp, DIFF_FORM);
    out
}

/// `[tablesStamp, hashes]`: a table or row diff.
fn diff_json(stamp: &TablesStamp, hashes: &str) -> String {
    format!("[{},{hashes}]", tables_stamp_json(stamp))
}

/// A getter taking another replica's hashes as JSON and returning JSON.
unsafe fn hashes_call(
    store: *mut tinystore_mergeable_store_t,
    other_json: *const c_char,
    out_json: *mut *mut c_char,
    f: impl FnOnce(&MergeableStore, &Json) -> R<String>,
) -> R<()> {
    let other = unsafe { json_arg(other_json, "other_json")? };
    string_out(out_json, || with_mergeable(store, |m| f(m, &other)))
}

/// `{tableId: hash}` for every table with stamps, deleted ones included
/// (`getMergeableTableHashes`). Free with `tinystore_string_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_mergeable_store_get_mergeable_table_hashes(
    store: *mut tinystore_mergeable_store_t,
    out_json: *mut *mut c_char,
) -> tinystore_status_t {
    guard(|| {
        string_out(out_json, || {
            with_mergeable(store, |m| Ok(flat_json(&m.get_mergeable_table_hashes())))
        })
    })
}

/// `getMergeableTableDiff`: given another replica's table hashes (`{tableId: hash}`),
/// `[newTables, differingTableHashes]` — the tables it lacks in full as a hash-less tables
/// stamp, and this store's hashes of the tables both have but hash differently. A hash that is
/// not an unsigned 32-bit integer is `TINYSTORE_STATUS_INVALID_JSON`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_mergeable_store_get_mergeable_table_diff(
    store: *mut tinystore_mergeable_store_t,
    other_json: *const c_char,
    out_json: *mut *mut c_char,
) -> tinystore_status_t {
    guard(|| unsafe {
        hashes_call(store, other_json, out_json, |m, other| {
            let (stamp, differing) = m.get_mergeable_table_diff(&flat_hashes(other, "other_json")?);
            Ok(diff_json(&stamp, &flat_json(&differing)))
        })
    })
}

/// `getMergeableRowHashes`: `{tableId: {rowId: hash}}` of this store's rows in the tables
/// whose hash differs from the given table hashes (`{tableId: hash}`, as in the
/// `differingTableHashes` of a table diff).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_mergeable_store_get_mergeable_row_hashes(
    store: *mut tinystore_mergeable_store_t,
    other_json: *const c_char,
    out_json: *mut *mut c_char,
) -> tinystore_status_t {
    guard(|| unsafe {
        hashes_call(store, other_json, out_json, |m, other| {
            let hashes = m.get_mergeable_row_hashes(&flat_hashes(other, "other_json")?);
            Ok(nested_json(&hashes))
        })
    })
}

/// `getMergeableRowDiff`: given another replica's row hashes (`{tableId: {rowId: hash}}`),
/// `[newRows, differingRowHashes]` for those tables — the rows it lacks as a hash-less tables
/// stamp, and this store's hashes of the rows both have but hash differently.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_mergeable_store_get_mergeable_row_diff(
    store: *mut tinystore_mergeable_store_t,
    other_json: *const c_char,
    out_json: *mut *mut c_char,
) -> tinystore_status_t {
    guard(|| unsafe {
        hashes_call(store, other_json, out_json, |m, other| {
            let (stamp, differing) = m.get_mergeable_row_diff(&nested_hashes(other, "other_json")?);
            Ok(diff_json(&stamp, &nested_json(&differing)))
        })
    })
}

/// `getMergeableCellHashes`: `{tableId: {rowId: {cellId: hash}}}` of this store's cells in
/// the rows whose hash differs from the given row hashes (`{tableId: {rowId: hash}}`, as in
/// the `differingRowHashes` of a row diff).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_mergeable_store_get_mergeable_cell_hashes(
    store: *mut tinystore_mergeable_store_t,
    other_json: *const c_char,
    out_json: *mut *mut c_char,
) -> tinystore_status_t {
    guard(|| unsafe {
        hashes_call(store, other_json, out_json, |m, other| {
            let hashes = m.get_mergeable_cell_hashes(&nested_hashes(other, "other_json")?);
            Ok(deep_json(&hashes))
        })
    })
}

/// `getMergeableCellDiff`: given another replica's cell hashes
/// (`{tableId: {rowId: {cellId: hash}}}`), the cells of those rows it lacks or hashes
/// differently, as a hash-less tables stamp.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_mergeable_store_get_mergeable_cell_diff(
    store: *mut tinystore_mergeable_store_t,
    other_json: *const c_char,
    out_json: *mut *mut c_char,
) -> tinystore_status_t {
    guard(|| unsafe {
        hashes_call(store, other_json, out_json, |m, other| {
            let stamp = m.get_mergeable_cell_diff(&deep_hashes(other, "other_json")?);
            Ok(tables_stamp_json(&stamp))
        })
    })
}

/// `getMergeableValueHashes`: `{valueId: hash}`, deleted values included.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_mergeable_store_get_mergeable_value_hashes(
    store: *mut tinystore_mergeable_store_t,
    out_json: *mut *mut c_char,
) -> tinystore_status_t {
    guard(|| {
        string_out(out_json, || {
            with_mergeable(store, |m| Ok(flat_json(&m.get_mergeable_value_hashes())))
        })
    })
}

/// `getMergeableValueDiff`: given another replica's value hashes (`{valueId: hash}`), the
/// values it lacks or hashes differently, as a hash-less values stamp. A cell diff and a value
/// diff make the changes `[cellDiff, valueDiff, 1]` that
/// `tinystore_mergeable_store_apply_mergeable_changes_json` applies on the other replica (a
/// table or row diff's `newTables`/`newRows` likewise, with `[{}]` for the values).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_mergeable_store_get_mergeable_value_diff(
    store: *mut tinystore_mergeable_store_t,
    other_json: *const c_char,
    out_json: *mut *mut c_char,
) -> tinystore_status_t {
    guard(|| unsafe {
        hashes_call(store, other_json, out_json, |m, other| {
            let stamp = m.get_mergeable_value_diff(&flat_hashes(other, "other_json")?);
            let mut out = String::new();
            write_values_stamp(&mut out, &stamp, DIFF_FORM);
            Ok(out)
        })
    })
}
