//! Library-wide functions: version, last error, status names, freeing, cell constructors.

use super::*;

// ============================================================================ library

/// The library's version, e.g. `"0.1.0"` (static string; do not free). Compare with the
/// `TINYSTORE_VERSION_*` macros of the header you compiled against.
#[unsafe(no_mangle)]
pub extern "C" fn tinystore_version() -> *const c_char {
    guard_value(c"".as_ptr(), || {
        concat!(env!("CARGO_PKG_VERSION"), "\0")
            .as_ptr()
            .cast::<c_char>()
    })
}

/// The message of the last failed call on this thread, or `""` if the last call succeeded.
/// Never NULL. Valid until the next tinystore call on this thread; do not free.
#[unsafe(no_mangle)]
pub extern "C" fn tinystore_last_error_message() -> *const c_char {
    guard_value(c"".as_ptr(), || {
        LAST_ERROR
            .try_with(|slot| match slot.try_borrow() {
                Ok(slot) => slot.as_ref().map_or(c"".as_ptr(), |m| m.as_ptr()),
                Err(_) => c"".as_ptr(),
            })
            .unwrap_or(c"".as_ptr())
    })
}

/// The name of a status code, e.g. `"TINYSTORE_STATUS_NOT_FOUND"` (static string; do not
/// free); `"TINYSTORE_STATUS_UNKNOWN"` for a number that is not a status.
#[unsafe(no_mangle)]
pub extern "C" fn tinystore_status_name(status: i32) -> *const c_char {
    guard_value(c"TINYSTORE_STATUS_UNKNOWN".as_ptr(), || {
        status_name(status).as_ptr()
    })
}

pub(crate) fn status_name(status: i32) -> &'static CStr {
    match status {
        0 => c"TINYSTORE_STATUS_OK",
        1 => c"TINYSTORE_STATUS_NULL_ARGUMENT",
        2 => c"TINYSTORE_STATUS_INVALID_UTF8",
        3 => c"TINYSTORE_STATUS_INVALID_JSON",
        4 => c"TINYSTORE_STATUS_INVALID_HANDLE",
        5 => c"TINYSTORE_STATUS_NOT_FOUND",
        6 => c"TINYSTORE_STATUS_INVALID_ARGUMENT",
        7 => c"TINYSTORE_STATUS_INVALID_SCHEMA",
        8 => c"TINYSTORE_STATUS_NOT_MERGEABLE",
        9 => c"TINYSTORE_STATUS_REJECTED",
        10 => c"TINYSTORE_STATUS_INVALID_STATE",
        11 => c"TINYSTORE_STATUS_STORAGE",
        12 => c"TINYSTORE_STATUS_UNSUPPORTED",
        13 => c"TINYSTORE_STATUS_NETWORK",
        14 => c"TINYSTORE_STATUS_PANIC",
        15 => c"TINYSTORE_STATUS_CALLBACK",
        _ => c"TINYSTORE_STATUS_UNKNOWN",
    }
}

/// Frees a string returned by the library (NULL is ignored). Each string must be freed once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_string_free(string: *mut c_char) {
    guard_value((), || {
        if !string.is_null() {
            // SAFETY: every string the library returns comes from `malloc`.
            unsafe { free(string.cast::<c_void>()) }
        }
    })
}

/// Frees a list returned by the library and resets it to empty, so a second call is harmless
/// (NULL is ignored).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_string_list_free(list: *mut tinystore_string_list_t) {
    guard_value((), || {
        // SAFETY: `list` is NULL or points to a list filled by the library.
        let Some(list) = (unsafe { list.as_mut() }) else {
            return;
        };
        if !list.items.is_null() {
            for i in 0..list.len {
                // SAFETY: `len` malloc'ed strings in a malloc'ed array.
                unsafe { free((*list.items.add(i)).cast::<c_void>()) }
            }
            // SAFETY: as above.
            unsafe { free(list.items.cast::<c_void>()) }
        }
        list.items = ptr::null_mut();
        list.len = 0;
    })
}

/// Frees the text of a cell the library returned (`owned` set) and resets it to
/// `TINYSTORE_CELL_TYPE_NONE`, so a second call is harmless. A cell you built yourself
/// (`owned` false) is only reset. NULL is ignored.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_cell_free(cell: *mut tinystore_cell_t) {
    guard_value((), || {
        if cell.is_null() {
            return;
        }
        // SAFETY: read through the raw layout, so any `type` value is fine.
        let raw = unsafe { ptr::read(cell.cast::<RawCell>()) };
        if raw.owned != 0 && !raw.string.is_null() {
            // SAFETY: an owned cell's text comes from `malloc`.
            unsafe { free(raw.string.cast_mut().cast::<c_void>()) }
        }
        // SAFETY: `cell` is writable.
        unsafe { ptr::write(cell, empty_cell()) }
    })
}

/// A string cell borrowing `string` (NUL-terminated UTF-8; its length is taken with
/// `strlen`, so use the struct directly for text containing NULs). NULL gives a cell that
/// setters reject with `TINYSTORE_STATUS_NULL_ARGUMENT`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_cell_string(string: *const c_char) -> tinystore_cell_t {
    guard_value(empty_cell(), || {
        let mut cell = empty_cell();
        cell.r#type = tinystore_cell_type_t::TINYSTORE_CELL_TYPE_STRING;
        cell.string = string;
        cell.string_len = if string.is_null() {
            1 // so that setters report the NULL
        } else {
            // SAFETY: a NUL-terminated string.
            unsafe { CStr::from_ptr(string) }.to_bytes().len()
        };
        cell
    })
}

/// A number cell (non-finite numbers are rejected by the store as invalid cells).
#[unsafe(no_mangle)]
pub extern "C" fn tinystore_cell_number(number: f64) -> tinystore_cell_t {
    guard_value(empty_cell(), || {
        let mut cell = empty_cell();
        cell.r#type = tinystore_cell_type_t::TINYSTORE_CELL_TYPE_NUMBER;
        cell.number = number;
        cell
    })
}

/// A boolean cell.
#[unsafe(no_mangle)]
pub extern "C" fn tinystore_cell_boolean(boolean: bool) -> tinystore_cell_t {
    guard_value(empty_cell(), || {
        let mut cell = empty_cell();
        cell.r#type = tinystore_cell_type_t::TINYSTORE_CELL_TYPE_BOOLEAN;
        cell.boolean = boolean;
        cell
    })
}

/// A null cell.
#[unsafe(no_mangle)]
pub extern "C" fn tinystore_cell_null() -> tinystore_cell_t {
    guard_value(empty_cell(), || {
        let mut cell = empty_cell();
        cell.r#type = tinystore_cell_type_t::TINYSTORE_CELL_TYPE_NULL;

        cell
    })
}

/// An object or array cell borrowing `json`, its JSON text (NUL-terminated). The text is
/// checked when the cell is written.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_cell_json(json: *const c_char) -> tinystore_cell_t {
    guard_value(empty_cell(), || {
        // SAFETY: as `tinystore_cell_string`.
        let mut cell = unsafe { tinystore_cell_string(json) };
        cell.r#type = tinystore_cell_type_t::TINYSTORE_CELL_TYPE_JSON;
        cell
    })
}
