//! Custom persisters (TinyBase's `createCustomPersister`): storage the application provides as
//! two C callbacks over TinyBase's JSON document. Declared after the view callbacks, whose
//! result type and failure rule (`bool` plus `tinystore_callback_set_error`) they share.

use super::*;
use tinystore_core::persist::CustomPersistence;

/// Reads what a custom persister stores: set it on `result` as a STRING cell holding the JSON
/// document (`tinystore_callback_result_set_cell` with `tinystore_cell_string(json)`; for a
/// MergeableStore the mergeable content JSON), or leave `result` empty when nothing is stored
/// yet. Return true, or false when reading failed (after `tinystore_callback_set_error` if it
/// has something to say). `result` is borrowed for the call. Must not unwind.
pub type tinystore_persister_load_fn_t = Option<
    unsafe extern "C" fn(user_data: *mut c_void, result: *mut tinystore_callback_result_t) -> bool,
>;

/// Stores a custom persister's document: `json` (borrowed for the call) is the whole content as
/// TinyBase persists it (for a MergeableStore the mergeable content JSON). Return true, or
/// false when storing failed (after `tinystore_callback_set_error` if it has something to
/// say). Must not unwind.
pub type tinystore_persister_save_fn_t =
    Option<unsafe extern "C" fn(user_data: *mut c_void, json: *const c_char) -> bool>;

/// The failure of a callback as the load's or save's error.
fn storage_error(what: &str, message: String) -> PersistError {
    PersistError::Io(format!(
        "the custom persister's {what} callback failed: {message}"
    ))
}

/// A persister over storage the application implements (TinyBase's `createCustomPersister`):
/// `load(user_data, result)` reads the stored JSON document and `save(user_data, json)` stores
/// one, with TinyBase's formats (a plain Store's `[tables, values]`, a MergeableStore's
/// mergeable content). Every `tinystore_persister_*` function works on it; auto-load loads
/// once (the callbacks cannot tell of outside changes). The callbacks run on the thread of the
/// load or save (the writer's for an auto-save), one at a time, for as long as the persister
/// lives; the library never frees `user_data`. A callback returning false makes that load or
/// save fail with `TINYSTORE_STATUS_STORAGE` and a message naming the callback and carrying
/// the one set with `tinystore_callback_set_error`; so does a load answer that is not a STRING
/// cell, and a document that is not a store (`TINYSTORE_STATUS_REJECTED` for MergeableStore
/// content the store refuses). A failed load leaves the store as it was and, as for every
/// persister, blocks saves until a load succeeds. Free with `tinystore_persister_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_custom_persister_new(
    store: *mut tinystore_store_t,
    load: tinystore_persister_load_fn_t,
    save: tinystore_persister_save_fn_t,
    user_data: *mut c_void,
    out_persister: *mut *mut tinystore_persister_t,
) -> tinystore_status_t {
    guard(|| {
        let load = load.ok_or_else(|| err(ErrorKind::NullArgument, "load is NULL"))?;
        let save = save.ok_or_else(|| err(ErrorKind::NullArgument, "save is NULL"))?;
        let out = Out::new(out_persister, "out_persister")?;
        // Kept as an integer: the caller vouches that it may be used on the persisting threads.
        let ud = user_data as usize;
        let read = move || {
            let answer = try_answer("load", |result| {
                // SAFETY: the caller's callback with its user data; `result` is lent for it.
                unsafe { load(ud as *mut c_void, result) }
            })
            .map_err(|message| storage_error("load", message))?;
            match answer.cell {
                None => Ok(None),
                Some(Cell::String(json)) => Ok(Some(json.to_string())),
                Some(_) => Err(storage_error(
                    "load",
                    "its answer must be a STRING cell holding the JSON document".into(),
                )),
            }
        };
        let write = move |json: &str| {
            let json = to_cstring(json);
            clear_failure_message();
            // SAFETY: the caller's callback with its user data; `json` lives until it returns.
            if unsafe { save(ud as *mut c_void, json.as_ptr()) } {
                Ok(())
            } else {
                Err(storage_error("save", failure_message("save")))
            }
        };
        persister_out(out, store, |s| {
            Ok(Persister::try_new(s, CustomPersistence::new(read, write))?)
        })
    })
}
