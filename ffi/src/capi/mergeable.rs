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
