//! The stable C ABI of libtinystore. cbindgen turns this module into `include/tinystore.h`
//! (see `ffi/cbindgen.toml`, whose `header` holds the contract every function follows:
//! ownership, errors, threads, listeners). Conventions:
//!
//! - functions `tinystore_<object>_<method>`, opaque handles `tinystore_<object>_t`, one status
//!   enum [`tinystore_status_t`] with frozen discriminants (a test checks them against a list);
//! - handles are not pointers to Rust memory but ids in a registry, so an unknown, freed or
//!   wrong-kind handle is an error ([`tinystore_status_t::TINYSTORE_STATUS_INVALID_HANDLE`]),
//!   never undefined behaviour, and `free` twice is reported rather than crashing;
//! - every entry point runs inside `catch_unwind` ([`guard`]): a panic becomes
//!   `TINYSTORE_STATUS_PANIC` with its message as the last error;
//! - strings the library returns are `malloc`ed copies freed with [`tinystore_string_free`]
//!   (lists with [`tinystore_string_list_free`], cells with [`tinystore_cell_free`]); inputs are
//!   borrowed for the duration of the call.

#![allow(non_camel_case_types, clippy::missing_safety_doc)]

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::mem::offset_of;
use std::net::{SocketAddr, ToSocketAddrs};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use serde_json::Value as Json;
use tinystore_core::mergeable::MergeableError;
use tinystore_core::persist::file::FilePersistence;
use tinystore_core::persist::sqlite::{SqliteJsonConfig, SqlitePersistence, TabularConfig};
use tinystore_core::persist::{PersistError, Persister, Status};
use tinystore_core::sync::SynchronizerOptions;
use tinystore_core::sync::client::{
    ConnectionStatus, ReconnectPolicy, WsClientConfig, WsClientError, WsSynchronizer,
};
use tinystore_core::sync::rooms::{RoomOptions, sqlite_rooms};
use tinystore_core::sync::server::{ServerConfig, ServerError, WsServer};
use tinystore_core::{
    Cell, ContentError, IdChanges, ListenerId, MergeableStore, SortedRowIdsArgs, Store, StoreError,
    content, json,
};

// ============================================================================ version

/// The major version of libtinystore this header belongs to (the crate, header, wheel and jar
/// share one version).
pub const TINYSTORE_VERSION_MAJOR: u32 = 0;
/// The minor version of libtinystore this header belongs to.
pub const TINYSTORE_VERSION_MINOR: u32 = 1;
/// The patch version of libtinystore this header belongs to.
pub const TINYSTORE_VERSION_PATCH: u32 = 0;

// ============================================================================ types

/// The result of every fallible call. The numbers are frozen: a value is never renumbered nor
/// reused, new ones are only appended. On an error, `tinystore_last_error_message()` says
/// more.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum tinystore_status_t {
    /// Success.
    TINYSTORE_STATUS_OK = 0,
    /// A required pointer argument (handle, string, cell, out-parameter, callback) was NULL.
    TINYSTORE_STATUS_NULL_ARGUMENT = 1,
    /// A string argument was not valid UTF-8.
    TINYSTORE_STATUS_INVALID_UTF8 = 2,
    /// A JSON argument did not parse, or did not have the expected shape.
    TINYSTORE_STATUS_INVALID_JSON = 3,
    /// The handle is unknown, already freed, or of another kind of object.
    TINYSTORE_STATUS_INVALID_HANDLE = 4,
    /// The cell, value or listener asked for does not exist.
    TINYSTORE_STATUS_NOT_FOUND = 5,
    /// An argument is out of range or meaningless (e.g. an unknown cell type).
    TINYSTORE_STATUS_INVALID_ARGUMENT = 6,
    /// A schema had no valid entry.
    TINYSTORE_STATUS_INVALID_SCHEMA = 7,
    /// The call needs a MergeableStore and was given a plain Store.
    TINYSTORE_STATUS_NOT_MERGEABLE = 8,
    /// A MergeableStore payload was rejected (malformed stamps, HLCs too far in the future,
    /// invalid cells); nothing was changed.
    TINYSTORE_STATUS_REJECTED = 9,
    /// The call is not allowed now (e.g. commit without a transaction, save after a failed
    /// load).
    TINYSTORE_STATUS_INVALID_STATE = 10,
    /// Reading or writing storage (SQLite, file) failed, or the stored data is unreadable.
    TINYSTORE_STATUS_STORAGE = 11,
    /// The operation is not supported for this object (e.g. a MergeableStore in tabular mode).
    TINYSTORE_STATUS_UNSUPPORTED = 12,
    /// A network operation failed: connect, handshake, timeout, bind.
    TINYSTORE_STATUS_NETWORK = 13,
    /// An internal error (a Rust panic, caught at the ABI boundary). Please report it.
    TINYSTORE_STATUS_PANIC = 14,
}

use tinystore_status_t as S;

/// The type of a `tinystore_cell_t`. Frozen numbers.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum tinystore_cell_type_t {
    /// No cell (absent, deleted, or TinyBase's `undefined`); also the state after
    /// `tinystore_cell_free`.
    TINYSTORE_CELL_TYPE_NONE = 0,
    /// A string: `string`/`string_len` hold its UTF-8 bytes.
    TINYSTORE_CELL_TYPE_STRING = 1,
    /// A finite number: `number`.
    TINYSTORE_CELL_TYPE_NUMBER = 2,
    /// A boolean: `boolean`.
    TINYSTORE_CELL_TYPE_BOOLEAN = 3,
    /// JSON `null` (a real value: the cell exists).
    TINYSTORE_CELL_TYPE_NULL = 4,
    /// An object or an array: `string`/`string_len` hold its JSON text.
    TINYSTORE_CELL_TYPE_JSON = 5,
}

/// A Cell or Value (TinyBase's string / number / boolean / null / object / array).
///
/// As an input (`tinystore_store_set_cell`, ...) it is borrowed: fill it with one of the
/// `tinystore_cell_*` constructors, or set the fields yourself (`string_len` counts the bytes,
/// without a terminator; a JSON cell's text must be an object or an array).
///
/// As an output (`tinystore_store_get_cell`, ...) the library sets `owned` and the caller must
/// call `tinystore_cell_free` once (copying the struct does not copy the string). Strings are
/// NUL-terminated for convenience; `string_len` is exact even when the text contains NULs.
/// Cells passed to listeners are borrowed: valid during the callback only, never freed.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct tinystore_cell_t {
    /// Which of the fields below is meaningful.
    pub r#type: tinystore_cell_type_t,
    /// The value of a `TINYSTORE_CELL_TYPE_BOOLEAN` cell.
    pub boolean: bool,
    /// Set by the library when `string` must be released with `tinystore_cell_free`; never set
    /// it yourself.
    pub owned: bool,
    /// The value of a `TINYSTORE_CELL_TYPE_NUMBER` cell.
    pub number: f64,
    /// The UTF-8 text of a string cell, or the JSON text of an object/array cell.
    pub string: *const c_char,
    /// The length of `string` in bytes (without the terminating NUL).
    pub string_len: usize,
}

/// The layout `tinystore_cell_t` is read through, so that a bad `type` from C is an error and
/// never an invalid Rust enum.
#[repr(C)]
struct RawCell {
    kind: c_int,
    boolean: u8,
    owned: u8,
    number: f64,
    string: *const c_char,
    string_len: usize,
}

const _: () = {
    assert!(size_of::<tinystore_cell_type_t>() == size_of::<c_int>());
    assert!(size_of::<bool>() == size_of::<u8>());
    assert!(size_of::<RawCell>() == size_of::<tinystore_cell_t>());
    assert!(offset_of!(RawCell, boolean) == offset_of!(tinystore_cell_t, boolean));
    assert!(offset_of!(RawCell, owned) == offset_of!(tinystore_cell_t, owned));
    assert!(offset_of!(RawCell, number) == offset_of!(tinystore_cell_t, number));
    assert!(offset_of!(RawCell, string) == offset_of!(tinystore_cell_t, string));
    assert!(offset_of!(RawCell, string_len) == offset_of!(tinystore_cell_t, string_len));
};

/// A list of strings (ids) returned by the library; release it with
/// `tinystore_string_list_free`. `items` is NULL when `len` is 0.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct tinystore_string_list_t {
    /// `len` NUL-terminated UTF-8 strings.
    pub items: *mut *mut c_char,
    /// How many.
    pub len: usize,
}

/// One id added to (`change` = 1) or removed from (`change` = -1) a list of ids.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct tinystore_id_change_t {
    /// The id (borrowed, valid during the callback).
    pub id: *const c_char,
    /// 1: added, -1: removed.
    pub change: i32,
}

/// The kind of a store listener, as given to it in `tinystore_event_t`. Frozen numbers.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum tinystore_listener_kind_t {
    /// `flag`: whether any table exists.
    TINYSTORE_LISTENER_HAS_TABLES = 0,
    /// Any cell of any table changed.
    TINYSTORE_LISTENER_TABLES = 1,
    /// `id_changes`: table ids added/removed.
    TINYSTORE_LISTENER_TABLE_IDS = 2,
    /// `table_id`, `flag`.
    TINYSTORE_LISTENER_HAS_TABLE = 3,
    /// `table_id`: a cell of this table changed.
    TINYSTORE_LISTENER_TABLE = 4,
    /// `table_id`, `id_changes`: cell ids used in the table added/removed.
    TINYSTORE_LISTENER_TABLE_CELL_IDS = 5,
    /// `table_id`, `cell_id`, `flag`.
    TINYSTORE_LISTENER_HAS_TABLE_CELL = 6,
    /// `table_id`, `count`.
    TINYSTORE_LISTENER_ROW_COUNT = 7,
    /// `table_id`, `id_changes`.
    TINYSTORE_LISTENER_ROW_IDS = 8,
    /// `table_id`, `cell_id` (the sort cell, or NULL), `ids`/`ids_len`: the sorted slice.
    TINYSTORE_LISTENER_SORTED_ROW_IDS = 9,
    /// `table_id`, `row_id`, `flag`.
    TINYSTORE_LISTENER_HAS_ROW = 10,
    /// `table_id`, `row_id`: a cell of this row changed.
    TINYSTORE_LISTENER_ROW = 11,
    /// `table_id`, `row_id`, `id_changes`.
    TINYSTORE_LISTENER_CELL_IDS = 12,
    /// `table_id`, `row_id`, `cell_id`, `flag`.
    TINYSTORE_LISTENER_HAS_CELL = 13,
    /// `table_id`, `row_id`, `cell_id`, `new_cell`, `old_cell`.
    TINYSTORE_LISTENER_CELL = 14,
    /// `table_id`, `row_id`, `cell_id` (each may be NULL), `invalid_cells`.
    TINYSTORE_LISTENER_INVALID_CELL = 15,
    /// `flag`: whether any value exists.
    TINYSTORE_LISTENER_HAS_VALUES = 16,
    /// Any value changed.
    TINYSTORE_LISTENER_VALUES = 17,
    /// `id_changes`: value ids added/removed.
    TINYSTORE_LISTENER_VALUE_IDS = 18,
    /// `value_id`, `flag`.
    TINYSTORE_LISTENER_HAS_VALUE = 19,
    /// `value_id`, `new_cell`, `old_cell`.
    TINYSTORE_LISTENER_VALUE = 20,
    /// `value_id` (may be NULL), `invalid_cells`.
    TINYSTORE_LISTENER_INVALID_VALUE = 21,
    /// An outermost transaction started.
    TINYSTORE_LISTENER_START_TRANSACTION = 22,
    /// A transaction is finishing: after mutator listeners and rollback, before the others.
    TINYSTORE_LISTENER_WILL_FINISH_TRANSACTION = 23,
    /// A transaction finished (rolled back or not).
    TINYSTORE_LISTENER_DID_FINISH_TRANSACTION = 24,
}

use tinystore_listener_kind_t as K;

/// What a listener is told. Every pointer is borrowed and valid during the callback only;
/// fields that do not apply to `kind` are NULL / 0 / `TINYSTORE_CELL_TYPE_NONE`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct tinystore_event_t {
    /// Which listener this is, and so which fields are set.
    pub kind: tinystore_listener_kind_t,
    /// The table id.
    pub table_id: *const c_char,
    /// The row id.
    pub row_id: *const c_char,
    /// The cell id (for sorted-row-ids listeners: the sort cell).
    pub cell_id: *const c_char,
    /// The value id.
    pub value_id: *const c_char,
    /// For `has_*` listeners: whether the thing now exists.
    pub flag: bool,
    /// For row-count listeners: the row count.
    pub count: usize,
    /// For cell and value listeners: the new cell (`NONE` when deleted).
    pub new_cell: tinystore_cell_t,
    /// For cell and value listeners: the old cell (`NONE` when it did not exist).
    pub old_cell: tinystore_cell_t,
    /// For `*_ids` listeners: the ids added and removed, in change order.
    pub id_changes: *const tinystore_id_change_t,
    /// The length of `id_changes`.
    pub id_changes_len: usize,
    /// For sorted-row-ids listeners: the sorted row ids.
    pub ids: *const *const c_char,
    /// The length of `ids`.
    pub ids_len: usize,
    /// For invalid-cell/value listeners: the rejected cells (`NONE` for an `undefined`).
    pub invalid_cells: *const tinystore_cell_t,
    /// The length of `invalid_cells`.
    pub invalid_cells_len: usize,
}

/// A persister's status (also TinyBase's). Frozen numbers.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum tinystore_persister_status_t {
    /// Neither loading nor saving.
    TINYSTORE_PERSISTER_STATUS_IDLE = 0,
    /// A load is running.
    TINYSTORE_PERSISTER_STATUS_LOADING = 1,
    /// A save is running.
    TINYSTORE_PERSISTER_STATUS_SAVING = 2,
}

/// The state of a WebSocket synchronizer's connection. Frozen numbers.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum tinystore_connection_status_t {
    /// Opening the socket.
    TINYSTORE_CONNECTION_STATUS_CONNECTING = 0,
    /// Open: messages flow.
    TINYSTORE_CONNECTION_STATUS_CONNECTED = 1,
    /// Closed (with reconnection on, waiting to retry).
    TINYSTORE_CONNECTION_STATUS_DISCONNECTED = 2,
}

/// A Store (or MergeableStore). Opaque; free with `tinystore_store_free`.
#[derive(Debug)]
pub struct tinystore_store_t {
    _opaque: [u8; 0],
}

/// A MergeableStore: the same handle type as `tinystore_store_t` (every store function works
/// on it); the `tinystore_mergeable_store_*` functions require one.
pub type tinystore_mergeable_store_t = tinystore_store_t;

/// A persister (SQLite or file). Opaque; free with `tinystore_persister_free`.
#[derive(Debug)]
pub struct tinystore_persister_t {
    _opaque: [u8; 0],
}

/// A WebSocket synchronizer. Opaque; free with `tinystore_ws_synchronizer_free`.
#[derive(Debug)]
pub struct tinystore_ws_synchronizer_t {
    _opaque: [u8; 0],
}

/// A WebSocket sync server. Opaque; free with `tinystore_ws_server_free`.
#[derive(Debug)]
pub struct tinystore_ws_server_t {
    _opaque: [u8; 0],
}

/// Identifies a store listener, per store. As in TinyBase, the id of a removed listener may be
/// given to a listener added later.
pub type tinystore_listener_id_t = u64;

/// A store listener: `user_data` as registered, the store handle it was registered on, and
/// the event (borrowed, valid during the call). Must not unwind (no C++ exceptions, no
/// longjmp out of it).
pub type tinystore_listener_fn_t = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        store: *mut tinystore_store_t,
        event: *const tinystore_event_t,
    ),
>;

/// The body of `tinystore_store_transaction`: return true to commit, false to roll back.
pub type tinystore_transaction_fn_t =
    Option<unsafe extern "C" fn(user_data: *mut c_void, store: *mut tinystore_store_t) -> bool>;

/// A clock for `tinystore_mergeable_store_new_with_clock`: milliseconds since the Unix epoch.
/// May be called from any thread.
pub type tinystore_clock_fn_t = Option<unsafe extern "C" fn(user_data: *mut c_void) -> u64>;

// ============================================================================ errors

struct Error {
    status: tinystore_status_t,
    message: String,
}

type R<T> = Result<T, Error>;

fn err(status: tinystore_status_t, message: impl Into<String>) -> Error {
    Error {
        status,
        message: message.into(),
    }
}

impl From<ContentError> for Error {
    fn from(e: ContentError) -> Self {
        err(S::TINYSTORE_STATUS_INVALID_JSON, e.to_string())
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        let status = match &e {
            StoreError::Content(_) => S::TINYSTORE_STATUS_INVALID_JSON,
            StoreError::Schema(_) => S::TINYSTORE_STATUS_INVALID_SCHEMA,
            _ => S::TINYSTORE_STATUS_INVALID_ARGUMENT,
        };
        err(status, e.to_string())
    }
}

impl From<MergeableError> for Error {
    fn from(e: MergeableError) -> Self {
        let status = match &e {
            MergeableError::Json(_) | MergeableError::Shape(_) => S::TINYSTORE_STATUS_INVALID_JSON,
            _ => S::TINYSTORE_STATUS_REJECTED,
        };
        err(status, e.to_string())
    }
}

impl From<PersistError> for Error {
    fn from(e: PersistError) -> Self {
        let status = match &e {
            PersistError::Mergeable(_) => S::TINYSTORE_STATUS_REJECTED,
            PersistError::Unsupported(_) => S::TINYSTORE_STATUS_UNSUPPORTED,
            PersistError::LoadFailed => S::TINYSTORE_STATUS_INVALID_STATE,
            _ => S::TINYSTORE_STATUS_STORAGE,
        };
        err(status, e.to_string())
    }
}

impl From<WsClientError> for Error {
    fn from(e: WsClientError) -> Self {
        let status = match &e {
            WsClientError::BadUrl { .. }
            | WsClientError::BadChannel(_)
            | WsClientError::BadHeader { .. } => S::TINYSTORE_STATUS_INVALID_ARGUMENT,
            _ => S::TINYSTORE_STATUS_NETWORK,
        };
        err(status, e.to_string())
    }
}

impl From<ServerError> for Error {
    fn from(e: ServerError) -> Self {
        err(S::TINYSTORE_STATUS_NETWORK, e.to_string())
    }
}

thread_local! {
    static LAST_ERROR: RefCell<Option<CString>> = const { RefCell::new(None) };
}

fn set_last_error(message: Option<&str>) {
    let _ = LAST_ERROR.try_with(|slot| {
        if let Ok(mut slot) = slot.try_borrow_mut() {
            *slot = message.map(to_cstring);
        }
    });
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

/// Runs one entry point: no panic crosses the ABI, and the thread's last error is set (or
/// cleared on success).
fn guard(f: impl FnOnce() -> R<()>) -> tinystore_status_t {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => {
            set_last_error(None);
            S::TINYSTORE_STATUS_OK
        }
        Ok(Err(e)) => {
            set_last_error(Some(&e.message));
            e.status
        }
        Err(payload) => {
            let message = format!("internal error (panic): {}", panic_message(&*payload));
            set_last_error(Some(&message));
            S::TINYSTORE_STATUS_PANIC
        }
    }
}

/// [`guard`] for the few functions that return something other than a status.
fn guard_value<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(fallback)
}

// ============================================================================ memory

unsafe extern "C" {
    fn malloc(size: usize) -> *mut c_void;
    fn free(ptr: *mut c_void);
}

/// A `malloc`ed, NUL-terminated copy of `bytes` (freed by `tinystore_string_free`).
fn alloc_bytes(bytes: &[u8]) -> *mut c_char {
    // SAFETY: malloc of len + 1 bytes; the copy and the terminator stay inside them.
    unsafe {
        let p = malloc(bytes.len() + 1).cast::<u8>();
        if p.is_null() {
            panic!("out of memory ({} bytes)", bytes.len() + 1);
        }
        ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len());
        *p.add(bytes.len()) = 0;
        p.cast::<c_char>()
    }
}

fn alloc_str(s: &str) -> *mut c_char {
    alloc_bytes(s.as_bytes())
}

/// A C string for `s`, cut at its first NUL (ids given to C as plain `char *`).
fn to_cstring(s: &str) -> CString {
    let bytes = s.as_bytes();
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    CString::new(&bytes[..end]).unwrap_or_default()
}

fn string_list(items: &[String]) -> tinystore_string_list_t {
    if items.is_empty() {
        return tinystore_string_list_t {
            items: ptr::null_mut(),
            len: 0,
        };
    }
    // SAFETY: an array of `len` pointers, each filled below.
    unsafe {
        let array = malloc(items.len() * size_of::<*mut c_char>()).cast::<*mut c_char>();
        if array.is_null() {
            panic!("out of memory ({} strings)", items.len());
        }
        for (i, item) in items.iter().enumerate() {
            *array.add(i) = alloc_str(item);
        }
        tinystore_string_list_t {
            items: array,
            len: items.len(),
        }
    }
}

// ============================================================================ arguments

/// A required string argument.
unsafe fn str_arg<'a>(p: *const c_char, name: &str) -> R<&'a str> {
    if p.is_null() {
        return Err(err(
            S::TINYSTORE_STATUS_NULL_ARGUMENT,
            format!("{name} is NULL"),
        ));
    }
    // SAFETY: the caller passes a NUL-terminated string, live during the call.
    let bytes = unsafe { CStr::from_ptr(p) }.to_bytes();
    std::str::from_utf8(bytes).map_err(|e| {
        err(
            S::TINYSTORE_STATUS_INVALID_UTF8,
            format!("{name} is not valid UTF-8 ({e})"),
        )
    })
}

/// An optional string argument (NULL: none, e.g. a wildcard id).
unsafe fn opt_str_arg<'a>(p: *const c_char, name: &str) -> R<Option<&'a str>> {
    if p.is_null() {
        Ok(None)
    } else {
        // SAFETY: as for `str_arg`.
        unsafe { str_arg(p, name) }.map(Some)
    }
}

/// A JSON argument, parsed with JavaScript's `JSON.parse` rules.
unsafe fn json_arg(p: *const c_char, name: &str) -> R<Json> {
    // SAFETY: as for `str_arg`.
    let text = unsafe { str_arg(p, name) }?;
    Ok(content::parse_json(text)?)
}

/// An out-parameter, checked for NULL before anything is done; written only on success.
struct Out<T>(*mut T);

impl<T> Out<T> {
    fn new(p: *mut T, name: &str) -> R<Out<T>> {
        if p.is_null() {
            Err(err(
                S::TINYSTORE_STATUS_NULL_ARGUMENT,
                format!("{name} is NULL"),
            ))
        } else {
            Ok(Out(p))
        }
    }

    fn set(self, value: T) {
        // SAFETY: checked non-NULL; the caller provides writable storage for a T.
        unsafe { ptr::write(self.0, value) }
    }
}

unsafe fn cell_text<'a>(raw: &RawCell, name: &str) -> R<&'a str> {
    if raw.string.is_null() {
        if raw.string_len == 0 {
            return Ok("");
        }
        return Err(err(
            S::TINYSTORE_STATUS_NULL_ARGUMENT,
            format!("{name}.string is NULL"),
        ));
    }
    // SAFETY: the caller passes `string_len` readable bytes.
    let bytes = unsafe { std::slice::from_raw_parts(raw.string.cast::<u8>(), raw.string_len) };
    std::str::from_utf8(bytes).map_err(|e| {
        err(
            S::TINYSTORE_STATUS_INVALID_UTF8,
            format!("{name}.string is not valid UTF-8 ({e})"),
        )
    })
}

/// A cell argument.
unsafe fn cell_arg(p: *const tinystore_cell_t, name: &str) -> R<Cell> {
    if p.is_null() {
        return Err(err(
            S::TINYSTORE_STATUS_NULL_ARGUMENT,
            format!("{name} is NULL"),
        ));
    }
    // SAFETY: same layout (checked at compile time); every bit pattern is a valid RawCell.
    let raw = unsafe { ptr::read(p.cast::<RawCell>()) };
    Ok(match raw.kind {
        1 => Cell::String(unsafe { cell_text(&raw, name) }?.into()),
        2 => Cell::Number(raw.number),
        3 => Cell::Boolean(raw.boolean != 0),
        4 => Cell::Null,
        5 => {
            let text = unsafe { cell_text(&raw, name) }?;
            let value = content::parse_json(text)?;
            if !(value.is_object() || value.is_array()) {
                return Err(err(
                    S::TINYSTORE_STATUS_INVALID_ARGUMENT,
                    format!("{name}: a JSON cell holds an object or an array, not {text}"),
                ));
            }
            Cell::from_json(value)
        }
        0 => {
            return Err(err(
                S::TINYSTORE_STATUS_INVALID_ARGUMENT,
                format!("{name} has type NONE, which cannot be written"),
            ));
        }
        other => {
            return Err(err(
                S::TINYSTORE_STATUS_INVALID_ARGUMENT,
                format!("{name} has an unknown cell type {other}"),
            ));
        }
    })
}

fn empty_cell() -> tinystore_cell_t {
    tinystore_cell_t {
        r#type: tinystore_cell_type_t::TINYSTORE_CELL_TYPE_NONE,
        boolean: false,
        owned: false,
        number: 0.0,
        string: ptr::null(),
        string_len: 0,
    }
}

/// A cell's type, scalar fields and (for strings, objects, arrays) text.
fn cell_parts(cell: Option<&Cell>) -> (tinystore_cell_t, Option<&str>) {
    use tinystore_cell_type_t as T;
    let mut out = empty_cell();
    let mut text = None;
    match cell {
        None => {}
        Some(Cell::Null) => out.r#type = T::TINYSTORE_CELL_TYPE_NULL,
        Some(Cell::Boolean(b)) => {
            out.r#type = T::TINYSTORE_CELL_TYPE_BOOLEAN;
            out.boolean = *b;
        }
        Some(Cell::Number(n)) => {
            out.r#type = T::TINYSTORE_CELL_TYPE_NUMBER;
            out.number = *n;
        }
        Some(Cell::String(s)) => {
            out.r#type = T::TINYSTORE_CELL_TYPE_STRING;
            text = Some(s.as_str());
        }
        Some(Cell::Object(s) | Cell::Array(s)) => {
            out.r#type = T::TINYSTORE_CELL_TYPE_JSON;
            text = Some(s.as_str());
        }
    }
    (out, text)
}

/// An owned cell for an out-parameter.
fn cell_owned(cell: Option<&Cell>) -> tinystore_cell_t {
    let (mut out, text) = cell_parts(cell);
    if let Some(text) = text {
        out.string = alloc_str(text);
        out.string_len = text.len();
        out.owned = true;
    }
    out
}

/// A borrowed cell for a listener: its text lives in `keep` until the callback returns.
fn cell_view(cell: Option<&Cell>, keep: &mut Vec<Vec<u8>>) -> tinystore_cell_t {
    let (mut out, text) = cell_parts(cell);
    if let Some(text) = text {
        let mut bytes = Vec::with_capacity(text.len() + 1);
        bytes.extend_from_slice(text.as_bytes());
        bytes.push(0);
        out.string = bytes.as_ptr().cast::<c_char>();
        out.string_len = text.len();
        keep.push(bytes);
    }
    out
}

// ============================================================================ handles

/// What a handle refers to.
enum Object {
    Store(StoreEntry),
    Persister(Persister),
    Synchronizer(WsSynchronizer),
    Server(WsServer),
}

impl Object {
    fn kind(&self) -> &'static str {
        match self {
            Object::Store(_) => "a store",
            Object::Persister(_) => "a persister",
            Object::Synchronizer(_) => "a synchronizer",
            Object::Server(_) => "a server",
        }
    }
}

struct StoreEntry {
    store: Store,
    mergeable: Option<MergeableStore>,
    state: Mutex<StoreState>,
}

/// What the C layer tracks per store handle.
#[derive(Default)]
struct StoreState {
    /// Listeners registered through this handle (only these may be removed through it).
    listeners: Vec<ListenerId>,
    /// Explicit transactions begun through this handle and not finished.
    transactions: usize,
    /// The handle was freed (a registration racing with the free is undone).
    freed: bool,
}

impl StoreEntry {
    fn new(store: Store, mergeable: Option<MergeableStore>) -> StoreEntry {
        StoreEntry {
            store,
            mergeable,
            state: Mutex::new(StoreState::default()),
        }
    }

    fn mergeable(&self) -> R<&MergeableStore> {
        self.mergeable.as_ref().ok_or_else(|| {
            err(
                S::TINYSTORE_STATUS_NOT_MERGEABLE,
                "this is a plain store; the call needs a MergeableStore",
            )
        })
    }

    fn track(&self, id: ListenerId) -> R<()> {
        let mut state = self.state.lock();
        if state.freed {
            drop(state);
            self.store.del_listener(id);
            return Err(err(
                S::TINYSTORE_STATUS_INVALID_HANDLE,
                "the store was freed while the listener was being added",
            ));
        }
        state.listeners.push(id);
        Ok(())
    }

    /// Called once, when the handle is freed: removes its listeners and closes its explicit
    /// transactions (locks are never held while calling into the store, whose listeners may
    /// call back into this layer).
    fn release(&self) {
        let (listeners, transactions) = {
            let mut state = self.state.lock();
            state.freed = true;
            (
                std::mem::take(&mut state.listeners),
                std::mem::take(&mut state.transactions),
            )
        };
        for id in listeners {
            self.store.del_listener(id);
        }
        for _ in 0..transactions {
            self.store.finish_transaction();
        }
    }
}

static HANDLES: LazyLock<RwLock<HashMap<usize, Arc<Object>>>> = LazyLock::new(Default::default);
static NEXT_HANDLE: AtomicUsize = AtomicUsize::new(1);

/// Registers an object; its handle is an id (never reused), not an address.
fn register(object: Object) -> usize {
    let handle = NEXT_HANDLE.fetch_add(1, Ordering::Relaxed).wrapping_mul(16);
    HANDLES.write().insert(handle, Arc::new(object));
    handle
}

fn lookup(handle: usize, name: &str) -> R<Arc<Object>> {
    if handle == 0 {
        return Err(err(
            S::TINYSTORE_STATUS_NULL_ARGUMENT,
            format!("{name} is NULL"),
        ));
    }
    HANDLES.read().get(&handle).cloned().ok_or_else(|| {
        err(
            S::TINYSTORE_STATUS_INVALID_HANDLE,
            format!("{name} is not a live tinystore handle (unknown or already freed)"),
        )
    })
}

fn wrong_kind(name: &str, expected: &str, got: &Object) -> Error {
    err(
        S::TINYSTORE_STATUS_INVALID_HANDLE,
        format!("{name} is {}, not {expected}", got.kind()),
    )
}

/// Removes a handle of the expected kind from the registry; the object itself lives on until
/// calls running on other threads are done with it.
fn unregister(
    handle: usize,
    name: &str,
    expected: &str,
    is: fn(&Object) -> bool,
) -> R<Arc<Object>> {
    let object = lookup(handle, name)?;
    if !is(&object) {
        return Err(wrong_kind(name, expected, &object));
    }
    HANDLES.write().remove(&handle).ok_or_else(|| {
        err(
            S::TINYSTORE_STATUS_INVALID_HANDLE,
            format!("{name} was freed by another thread"),
        )
    })
}

fn with_store<T>(store: *mut tinystore_store_t, f: impl FnOnce(&StoreEntry) -> R<T>) -> R<T> {
    let object = lookup(store as usize, "store")?;
    match &*object {
        Object::Store(entry) => f(entry),
        other => Err(wrong_kind("store", "a store", other)),
    }
}

fn with_mergeable<T>(
    store: *mut tinystore_mergeable_store_t,
    f: impl FnOnce(&MergeableStore) -> R<T>,
) -> R<T> {
    with_store(store, |entry| f(entry.mergeable()?))
}

fn with_persister<T>(p: *mut tinystore_persister_t, f: impl FnOnce(&Persister) -> R<T>) -> R<T> {
    let object = lookup(p as usize, "persister")?;
    match &*object {
        Object::Persister(persister) => f(persister),
        other => Err(wrong_kind("persister", "a persister", other)),
    }
}

fn with_synchronizer<T>(
    s: *mut tinystore_ws_synchronizer_t,
    f: impl FnOnce(&WsSynchronizer) -> R<T>,
) -> R<T> {
    let object = lookup(s as usize, "synchronizer")?;
    match &*object {
        Object::Synchronizer(sync) => f(sync),
        other => Err(wrong_kind("synchronizer", "a synchronizer", other)),
    }
}

fn with_server<T>(s: *mut tinystore_ws_server_t, f: impl FnOnce(&WsServer) -> R<T>) -> R<T> {
    let object = lookup(s as usize, "server")?;
    match &*object {
        Object::Server(server) => f(server),
        other => Err(wrong_kind("server", "a server", other)),
    }
}

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

fn status_name(status: i32) -> &'static CStr {
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
            let cell = s.store.get_cell(t, r, c).ok_or_else(|| {
                err(
                    S::TINYSTORE_STATUS_NOT_FOUND,
                    format!("no cell {t}/{r}/{c}"),
                )
            })?;
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
                .ok_or_else(|| err(S::TINYSTORE_STATUS_NOT_FOUND, format!("no value {v}")))?;
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

fn ids_out(out: *mut tinystore_string_list_t, ids: impl FnOnce() -> R<Vec<String>>) -> R<()> {
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
        let (t, c) = unsafe {
            (
                str_arg(table_id, "table_id")?,
                opt_str_arg(cell_id, "cell_id")?,
            )
        };
        let args = sorted_args(t, c, descending, offset, limit);
        ids_out(out_ids, || {
            with_store(store, |s| Ok(s.store.get_sorted_row_ids(&args)))
        })
    })
}

fn sorted_args(
    t: &str,
    c: Option<&str>,
    descending: bool,
    offset: usize,
    limit: usize,
) -> SortedRowIdsArgs {
    let mut args = SortedRowIdsArgs::new(t)
        .descending(descending)
        .offset(offset);
    if let Some(c) = c {
        args = args.cell_id(c);
    }
    if limit > 0 {
        args = args.limit(limit);
    }
    args
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

// ---------------------------------------------------------------------------- JSON content

fn string_out(out: *mut *mut c_char, text: impl FnOnce() -> R<String>) -> R<()> {
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

fn end_transaction(store: *mut tinystore_store_t, rollback: bool) -> R<()> {
    with_store(store, |s| {
        {
            let mut state = s.state.lock();
            if state.transactions == 0 {
                return Err(err(
                    S::TINYSTORE_STATUS_INVALID_STATE,
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
        let body = body.ok_or_else(|| err(S::TINYSTORE_STATUS_NULL_ARGUMENT, "body is NULL"))?;
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

// ---------------------------------------------------------------------------- listeners

/// A C listener as a Rust closure's captures (raw pointers are kept as integers: the caller
/// vouches that `user_data` may be used from the threads listeners run on).
#[derive(Clone, Copy)]
struct CListener {
    f: unsafe extern "C" fn(*mut c_void, *mut tinystore_store_t, *const tinystore_event_t),
    user_data: usize,
    store: usize,
}

/// One listener call, in Rust terms.
struct Ev<'a> {
    kind: tinystore_listener_kind_t,
    table: Option<&'a str>,
    row: Option<&'a str>,
    cell: Option<&'a str>,
    value: Option<&'a str>,
    flag: bool,
    count: usize,
    new: Option<&'a Cell>,
    old: Option<&'a Cell>,
    changes: &'a IdChanges,
    ids: &'a [String],
    invalid: &'a [Option<Cell>],
}

impl<'a> Ev<'a> {
    fn new(kind: tinystore_listener_kind_t) -> Ev<'a> {
        Ev {
            kind,
            table: None,
            row: None,
            cell: None,
            value: None,
            flag: false,
            count: 0,
            new: None,
            old: None,
            changes: &[],
            ids: &[],
            invalid: &[],
        }
    }
}

fn slice_ptr<T>(items: &[T]) -> *const T {
    if items.is_empty() {
        ptr::null()
    } else {
        items.as_ptr()
    }
}

impl CListener {
    fn fire(&self, ev: Ev<'_>) {
        let c = |s: Option<&str>| s.map(to_cstring);
        let p = |s: &Option<CString>| s.as_ref().map_or(ptr::null(), |s| s.as_ptr());
        let (table, row, cell, value) = (c(ev.table), c(ev.row), c(ev.cell), c(ev.value));
        let change_ids: Vec<CString> = ev.changes.iter().map(|(id, _)| to_cstring(id)).collect();
        let changes: Vec<tinystore_id_change_t> = change_ids
            .iter()
            .zip(ev.changes)
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
            kind: ev.kind,
            table_id: p(&table),
            row_id: p(&row),
            cell_id: p(&cell),
            value_id: p(&value),
            flag: ev.flag,
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

/// Registers a listener through `register` and tracks its id on the handle.
fn add_listener(
    store: *mut tinystore_store_t,
    listener: tinystore_listener_fn_t,
    user_data: *mut c_void,
    out_id: *mut tinystore_listener_id_t,
    register: impl FnOnce(&Store, CListener) -> ListenerId,
) -> R<()> {
    let out = Out::new(out_id, "out_id")?;
    let f = listener.ok_or_else(|| err(S::TINYSTORE_STATUS_NULL_ARGUMENT, "listener is NULL"))?;
    with_store(store, |s| {
        let l = CListener {
            f,
            user_data: user_data as usize,
            store: store as usize,
        };
        let id = register(&s.store, l);
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
    guard(|| {
        add_listener(store, listener, user_data, out_id, |s, l| {
            s.add_has_tables_listener(
                move |_, has| {
                    l.fire(Ev {
                        flag: has,
                        ..Ev::new(K::TINYSTORE_LISTENER_HAS_TABLES)
                    })
                },
                mutator,
            )
        })
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
        add_listener(store, listener, user_data, out_id, |s, l| {
            s.add_tables_listener(
                move |_| l.fire(Ev::new(K::TINYSTORE_LISTENER_TABLES)),
                mutator,
            )
        })
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
        add_listener(store, listener, user_data, out_id, |s, l| {
            s.add_table_ids_listener(
                move |_, changes| {
                    l.fire(Ev {
                        changes,
                        ..Ev::new(K::TINYSTORE_LISTENER_TABLE_IDS)
                    })
                },
                mutator,
            )
        })
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
        let t = unsafe { opt_str_arg(table_id, "table_id")? };
        add_listener(store, listener, user_data, out_id, |s, l| {
            s.add_has_table_listener(
                t,
                move |_, t, has| {
                    l.fire(Ev {
                        table: Some(t),
                        flag: has,
                        ..Ev::new(K::TINYSTORE_LISTENER_HAS_TABLE)
                    })
                },
                mutator,
            )
        })
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
        let t = unsafe { opt_str_arg(table_id, "table_id")? };
        add_listener(store, listener, user_data, out_id, |s, l| {
            s.add_table_listener(
                t,
                move |_, t| {
                    l.fire(Ev {
                        table: Some(t),
                        ..Ev::new(K::TINYSTORE_LISTENER_TABLE)
                    })
                },
                mutator,
            )
        })
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
        let t = unsafe { opt_str_arg(table_id, "table_id")? };
        add_listener(store, listener, user_data, out_id, |s, l| {
            s.add_table_cell_ids_listener(
                t,
                move |_, t, changes| {
                    l.fire(Ev {
                        table: Some(t),
                        changes,
                        ..Ev::new(K::TINYSTORE_LISTENER_TABLE_CELL_IDS)
                    })
                },
                mutator,
            )
        })
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
        let (t, c) = unsafe {
            (
                opt_str_arg(table_id, "table_id")?,
                opt_str_arg(cell_id, "cell_id")?,
            )
        };
        add_listener(store, listener, user_data, out_id, |s, l| {
            s.add_has_table_cell_listener(
                t,
                c,
                move |_, t, c, has| {
                    l.fire(Ev {
                        table: Some(t),
                        cell: Some(c),
                        flag: has,
                        ..Ev::new(K::TINYSTORE_LISTENER_HAS_TABLE_CELL)
                    })
                },
                mutator,
            )
        })
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
        let t = unsafe { opt_str_arg(table_id, "table_id")? };
        add_listener(store, listener, user_data, out_id, |s, l| {
            s.add_row_count_listener(
                t,
                move |_, t, count| {
                    l.fire(Ev {
                        table: Some(t),
                        count,
                        ..Ev::new(K::TINYSTORE_LISTENER_ROW_COUNT)
                    })
                },
                mutator,
            )
        })
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
        let t = unsafe { opt_str_arg(table_id, "table_id")? };
        add_listener(store, listener, user_data, out_id, |s, l| {
            s.add_row_ids_listener(
                t,
                move |_, t, changes| {
                    l.fire(Ev {
                        table: Some(t),
                        changes,
                        ..Ev::new(K::TINYSTORE_LISTENER_ROW_IDS)
                    })
                },
                mutator,
            )
        })
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
        let (t, c) = unsafe {
            (
                str_arg(table_id, "table_id")?,
                opt_str_arg(cell_id, "cell_id")?,
            )
        };
        let args = sorted_args(t, c, descending, offset, limit);
        add_listener(store, listener, user_data, out_id, |s, l| {
            s.add_sorted_row_ids_listener(
                args,
                move |_, args, ids| {
                    l.fire(Ev {
                        table: Some(&args.table_id),
                        cell: args.cell_id.as_deref(),
                        ids,
                        ..Ev::new(K::TINYSTORE_LISTENER_SORTED_ROW_IDS)
                    })
                },
                mutator,
            )
        })
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
        let (t, r) = unsafe {
            (
                opt_str_arg(table_id, "table_id")?,
                opt_str_arg(row_id, "row_id")?,
            )
        };
        add_listener(store, listener, user_data, out_id, |s, l| {
            s.add_has_row_listener(
                t,
                r,
                move |_, t, r, has| {
                    l.fire(Ev {
                        table: Some(t),
                        row: Some(r),
                        flag: has,
                        ..Ev::new(K::TINYSTORE_LISTENER_HAS_ROW)
                    })
                },
                mutator,
            )
        })
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
        let (t, r) = unsafe {
            (
                opt_str_arg(table_id, "table_id")?,
                opt_str_arg(row_id, "row_id")?,
            )
        };
        add_listener(store, listener, user_data, out_id, |s, l| {
            s.add_row_listener(
                t,
                r,
                move |_, t, r| {
                    l.fire(Ev {
                        table: Some(t),
                        row: Some(r),
                        ..Ev::new(K::TINYSTORE_LISTENER_ROW)
                    })
                },
                mutator,
            )
        })
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
        let (t, r) = unsafe {
            (
                opt_str_arg(table_id, "table_id")?,
                opt_str_arg(row_id, "row_id")?,
            )
        };
        add_listener(store, listener, user_data, out_id, |s, l| {
            s.add_cell_ids_listener(
                t,
                r,
                move |_, t, r, changes| {
                    l.fire(Ev {
                        table: Some(t),
                        row: Some(r),
                        changes,
                        ..Ev::new(K::TINYSTORE_LISTENER_CELL_IDS)
                    })
                },
                mutator,
            )
        })
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
        let (t, r, c) = unsafe {
            (
                opt_str_arg(table_id, "table_id")?,
                opt_str_arg(row_id, "row_id")?,
                opt_str_arg(cell_id, "cell_id")?,
            )
        };
        add_listener(store, listener, user_data, out_id, |s, l| {
            s.add_has_cell_listener(
                t,
                r,
                c,
                move |_, t, r, c, has| {
                    l.fire(Ev {
                        table: Some(t),
                        row: Some(r),
                        cell: Some(c),
                        flag: has,
                        ..Ev::new(K::TINYSTORE_LISTENER_HAS_CELL)
                    })
                },
                mutator,
            )
        })
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
        let (t, r, c) = unsafe {
            (
                opt_str_arg(table_id, "table_id")?,
                opt_str_arg(row_id, "row_id")?,
                opt_str_arg(cell_id, "cell_id")?,
            )
        };
        add_listener(store, listener, user_data, out_id, |s, l| {
            s.add_cell_listener(
                t,
                r,
                c,
                move |_, t, r, c, new, old| {
                    l.fire(Ev {
                        table: Some(t),
                        row: Some(r),
                        cell: Some(c),
                        new,
                        old,
                        ..Ev::new(K::TINYSTORE_LISTENER_CELL)
                    })
                },
                mutator,
            )
        })
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
        let (t, r, c) = unsafe {
            (
                opt_str_arg(table_id, "table_id")?,
                opt_str_arg(row_id, "row_id")?,
                opt_str_arg(cell_id, "cell_id")?,
            )
        };
        add_listener(store, listener, user_data, out_id, |s, l| {
            s.add_invalid_cell_listener(
                t,
                r,
                c,
                move |_, t, r, c, invalid| {
                    l.fire(Ev {
                        table: t,
                        row: r,
                        cell: c,
                        invalid,
                        ..Ev::new(K::TINYSTORE_LISTENER_INVALID_CELL)
                    })
                },
                mutator,
            )
        })
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
        add_listener(store, listener, user_data, out_id, |s, l| {
            s.add_has_values_listener(
                move |_, has| {
                    l.fire(Ev {
                        flag: has,
                        ..Ev::new(K::TINYSTORE_LISTENER_HAS_VALUES)
                    })
                },
                mutator,
            )
        })
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
        add_listener(store, listener, user_data, out_id, |s, l| {
            s.add_values_listener(
                move |_| l.fire(Ev::new(K::TINYSTORE_LISTENER_VALUES)),
                mutator,
            )
        })
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
        add_listener(store, listener, user_data, out_id, |s, l| {
            s.add_value_ids_listener(
                move |_, changes| {
                    l.fire(Ev {
                        changes,
                        ..Ev::new(K::TINYSTORE_LISTENER_VALUE_IDS)
                    })
                },
                mutator,
            )
        })
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
        let v = unsafe { opt_str_arg(value_id, "value_id")? };
        add_listener(store, listener, user_data, out_id, |s, l| {
            s.add_has_value_listener(
                v,
                move |_, v, has| {
                    l.fire(Ev {
                        value: Some(v),
                        flag: has,
                        ..Ev::new(K::TINYSTORE_LISTENER_HAS_VALUE)
                    })
                },
                mutator,
            )
        })
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
        let v = unsafe { opt_str_arg(value_id, "value_id")? };
        add_listener(store, listener, user_data, out_id, |s, l| {
            s.add_value_listener(
                v,
                move |_, v, new, old| {
                    l.fire(Ev {
                        value: Some(v),
                        new,
                        old,
                        ..Ev::new(K::TINYSTORE_LISTENER_VALUE)
                    })
                },
                mutator,
            )
        })
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
        let v = unsafe { opt_str_arg(value_id, "value_id")? };
        add_listener(store, listener, user_data, out_id, |s, l| {
            s.add_invalid_value_listener(
                v,
                move |_, v, invalid| {
                    l.fire(Ev {
                        value: v,
                        invalid,
                        ..Ev::new(K::TINYSTORE_LISTENER_INVALID_VALUE)
                    })
                },
                mutator,
            )
        })
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
        add_listener(store, listener, user_data, out_id, |s, l| {
            s.add_start_transaction_listener(move |_| {
                l.fire(Ev::new(K::TINYSTORE_LISTENER_START_TRANSACTION))
            })
        })
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
        add_listener(store, listener, user_data, out_id, |s, l| {
            s.add_will_finish_transaction_listener(move |_| {
                l.fire(Ev::new(K::TINYSTORE_LISTENER_WILL_FINISH_TRANSACTION))
            })
        })
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
        add_listener(store, listener, user_data, out_id, |s, l| {
            s.add_did_finish_transaction_listener(move |_| {
                l.fire(Ev::new(K::TINYSTORE_LISTENER_DID_FINISH_TRANSACTION))
            })
        })
    })
}

fn listener_id(
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
            S::TINYSTORE_STATUS_NOT_FOUND,
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
        let clock = clock.ok_or_else(|| err(S::TINYSTORE_STATUS_NULL_ARGUMENT, "clock is NULL"))?;
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

// ============================================================================ persisters

fn persister_out(
    out: Out<*mut tinystore_persister_t>,
    store: *mut tinystore_store_t,
    make: impl FnOnce(&Store) -> R<Persister>,
) -> R<()> {
    let persister = with_store(store, |s| make(&s.store))?;
    let handle = register(Object::Persister(persister));
    out.set(handle as *mut tinystore_persister_t);
    Ok(())
}

/// A persister keeping `store` (Store or MergeableStore) in the SQLite database at `path`
/// (created if absent) as TinyBase's JSON document in one row of `table` (NULL: `tinybase`),
/// TinyBase's JSON mode; files are interchangeable with TinyBase's. Nothing is read or written
/// until `tinystore_persister_load`/`_save`/`_start_auto_*`. Free with
/// `tinystore_persister_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_sqlite_persister_new(
    store: *mut tinystore_store_t,
    path: *const c_char,
    table: *const c_char,
    out_persister: *mut *mut tinystore_persister_t,
) -> tinystore_status_t {
    guard(|| {
        let (path, table) = unsafe { (str_arg(path, "path")?, opt_str_arg(table, "table")?) };
        let out = Out::new(out_persister, "out_persister")?;
        persister_out(out, store, |s| {
            let config = table.map_or_else(SqliteJsonConfig::default, SqliteJsonConfig::table);
            let db = SqlitePersistence::open(path, config)?;
            Ok(Persister::try_new(s, db)?)
        })
    })
}

/// A persister keeping a plain Store in the SQLite database at `path` in TinyBase's tabular
/// mode: each of the `table_count` tables in `table_ids` in a database table of the same name
/// (a column per cell id, `_id` for row ids), and all values in `tinybase_values`.
/// `TINYSTORE_STATUS_UNSUPPORTED` for a MergeableStore.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_sqlite_persister_new_tabular(
    store: *mut tinystore_store_t,
    path: *const c_char,
    table_ids: *const *const c_char,
    table_count: usize,
    out_persister: *mut *mut tinystore_persister_t,
) -> tinystore_status_t {
    guard(|| {
        let path = unsafe { str_arg(path, "path")? };
        if table_ids.is_null() && table_count > 0 {
            return Err(err(S::TINYSTORE_STATUS_NULL_ARGUMENT, "table_ids is NULL"));
        }
        let mut ids = Vec::with_capacity(table_count);
        for i in 0..table_count {
            // SAFETY: `table_count` readable pointers.
            ids.push(unsafe { str_arg(*table_ids.add(i), "table_ids[i]")? });
        }
        let out = Out::new(out_persister, "out_persister")?;
        persister_out(out, store, |s| {
            let db = SqlitePersistence::open(path, TabularConfig::tables(&ids))?;
            Ok(Persister::try_new(s, db)?)
        })
    })
}

/// A persister keeping `store` in the file at `path` as TinyBase's JSON document (atomic
/// writes; the file is created on the first save).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_file_persister_new(
    store: *mut tinystore_store_t,
    path: *const c_char,
    out_persister: *mut *mut tinystore_persister_t,
) -> tinystore_status_t {
    guard(|| {
        let path = unsafe { str_arg(path, "path")? };
        let out = Out::new(out_persister, "out_persister")?;
        persister_out(out, store, |s| {
            Ok(Persister::try_new(s, FilePersistence::new(path))?)
        })
    })
}

/// Stops auto-load and auto-save (waiting for the polling thread) and frees the persister.
/// The database or file is left as it is (call `tinystore_persister_save` first to store the
/// latest content when auto-save is off).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_persister_free(
    persister: *mut tinystore_persister_t,
) -> tinystore_status_t {
    guard(|| {
        let object = unregister(persister as usize, "persister", "a persister", |o| {
            matches!(o, Object::Persister(_))
        })?;
        if let Object::Persister(p) = &*object {
            p.destroy();
        }
        Ok(())
    })
}

/// Loads the stored content into the store (replacing it; with nothing stored, the store is
/// left as it is). Blocks for the I/O. After a failed load, saves are refused with
/// `TINYSTORE_STATUS_INVALID_STATE` until a load succeeds or
/// `tinystore_persister_allow_overwrite` is called.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_persister_load(
    persister: *mut tinystore_persister_t,
) -> tinystore_status_t {
    guard(|| {
        with_persister(persister, |p| {
            p.load(None)?;
            Ok(())
        })
    })
}

/// Saves the whole content now. Blocks for the I/O.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_persister_save(
    persister: *mut tinystore_persister_t,
) -> tinystore_status_t {
    guard(|| {
        with_persister(persister, |p| {
            p.save()?;
            Ok(())
        })
    })
}

/// Lets saves replace stored data that failed to load.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_persister_allow_overwrite(
    persister: *mut tinystore_persister_t,
) -> tinystore_status_t {
    guard(|| {
        with_persister(persister, |p| {
            p.allow_overwrite();
            Ok(())
        })
    })
}

/// Saves now, then after every transaction that changes the store, on the thread that
/// finished it, before that write call returns. A failing auto-save is not reported to the
/// writer (the write already happened in memory).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_persister_start_auto_save(
    persister: *mut tinystore_persister_t,
) -> tinystore_status_t {
    guard(|| {
        with_persister(persister, |p| {
            p.start_auto_save()?;
            Ok(())
        })
    })
}

/// Stops auto-saving.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_persister_stop_auto_save(
    persister: *mut tinystore_persister_t,
) -> tinystore_status_t {
    guard(|| {
        with_persister(persister, |p| {
            p.stop_auto_save();
            Ok(())
        })
    })
}

fn interval(ms: u32) -> Duration {
    if ms == 0 {
        tinystore_core::persist::DEFAULT_AUTO_LOAD_INTERVAL
    } else {
        Duration::from_millis(u64::from(ms))
    }
}

/// Loads now, then polls the storage every `interval_ms` (0: 1000) on a thread of the
/// persister's own and loads again when someone else changed it (store listeners then run on
/// that thread).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_persister_start_auto_load(
    persister: *mut tinystore_persister_t,
    interval_ms: u32,
) -> tinystore_status_t {
    guard(|| {
        with_persister(persister, |p| {
            p.start_auto_load(None, interval(interval_ms))?;
            Ok(())
        })
    })
}

/// Stops auto-loading (waits for the polling thread to end).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_persister_stop_auto_load(
    persister: *mut tinystore_persister_t,
) -> tinystore_status_t {
    guard(|| {
        with_persister(persister, |p| {
            p.stop_auto_load();
            Ok(())
        })
    })
}

/// Auto-load then auto-save (TinyBase's `startAutoPersisting`); if auto-save cannot start,
/// auto-load is stopped again and the error returned.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_persister_start_auto_persisting(
    persister: *mut tinystore_persister_t,
    interval_ms: u32,
) -> tinystore_status_t {
    guard(|| {
        with_persister(persister, |p| {
            p.start_auto_persisting(None, interval(interval_ms), false)?;
            Ok(())
        })
    })
}

/// Stops auto-load and auto-save.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_persister_stop_auto_persisting(
    persister: *mut tinystore_persister_t,
) -> tinystore_status_t {
    guard(|| {
        with_persister(persister, |p| {
            p.stop_auto_persisting();
            Ok(())
        })
    })
}

/// The persister's current status.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_persister_get_status(
    persister: *mut tinystore_persister_t,
    out_status: *mut tinystore_persister_status_t,
) -> tinystore_status_t {
    guard(|| {
        let out = Out::new(out_status, "out_status")?;
        with_persister(persister, |p| {
            use tinystore_persister_status_t as P;
            out.set(match p.get_status() {
                Status::Loading => P::TINYSTORE_PERSISTER_STATUS_LOADING,
                Status::Saving => P::TINYSTORE_PERSISTER_STATUS_SAVING,
                _ => P::TINYSTORE_PERSISTER_STATUS_IDLE,
            });
            Ok(())
        })
    })
}

/// How many loads and saves the persister has made (attempts included).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_persister_get_stats(
    persister: *mut tinystore_persister_t,
    out_loads: *mut u64,
    out_saves: *mut u64,
) -> tinystore_status_t {
    guard(|| {
        let loads = Out::new(out_loads, "out_loads")?;
        let saves = Out::new(out_saves, "out_saves")?;
        with_persister(persister, |p| {
            let stats = p.get_stats();
            loads.set(stats.loads);
            saves.set(stats.saves);
            Ok(())
        })
    })
}

// ============================================================================ sync

fn options_error(message: impl Into<String>) -> Error {
    err(S::TINYSTORE_STATUS_INVALID_ARGUMENT, message)
}

fn millis(value: &Json, key: &str) -> R<Duration> {
    value
        .as_u64()
        .map(Duration::from_millis)
        .ok_or_else(|| options_error(format!("options.{key} must be a non-negative integer")))
}

/// Parses the synchronizer options JSON.
fn ws_options(url: &str, options: Option<Json>) -> R<(WsClientConfig, SynchronizerOptions)> {
    let mut config = WsClientConfig {
        url: url.to_string(),
        ..WsClientConfig::default()
    };
    let mut sync = SynchronizerOptions::default();
    let Some(options) = options else {
        return Ok((config, sync));
    };
    let map = options
        .as_object()
        .ok_or_else(|| options_error("options must be a JSON object"))?;
    for (key, value) in map {
        match key.as_str() {
            "channel" => {
                let channel = value
                    .as_str()
                    .ok_or_else(|| options_error("options.channel must be a string"))?;
                config.channel = Some(channel.to_string());
            }
            "requestTimeoutMs" => sync.request_timeout = Some(millis(value, key)?),
            "connectTimeoutMs" => config.connect_timeout = Some(millis(value, key)?),
            "fragmentSize" => {
                let size = value
                    .as_u64()
                    .and_then(|n| usize::try_from(n).ok())
                    .filter(|&n| n > 0)
                    .ok_or_else(|| {
                        options_error("options.fragmentSize must be a positive integer")
                    })?;
                config.fragment_size = Some(size);
            }
            "reconnect" => {
                let on = value
                    .as_bool()
                    .ok_or_else(|| options_error("options.reconnect must be a boolean"))?;
                config.reconnect = on.then(ReconnectPolicy::default);
            }
            "headers" => {
                let headers = value
                    .as_object()
                    .ok_or_else(|| options_error("options.headers must be an object of strings"))?;
                for (name, v) in headers {
                    let v = v.as_str().ok_or_else(|| {
                        options_error(format!("options.headers.{name} must be a string"))
                    })?;
                    config.headers.push((name.clone(), v.to_string()));
                }
            }
            other => return Err(options_error(format!("unknown option {other:?}"))),
        }
    }
    Ok((config, sync))
}

/// Connects a MergeableStore to a sync server (TinyBase's `createWsSynchronizer`) and sets
/// `*out_synchronizer`. Blocks until the socket is open (at most the connect timeout, 10 s by
/// default). `url` is `ws://host:port/room` (or `wss://`). `options_json` (NULL: defaults) is
/// a JSON object with any of: `"channel"` (string: use the `tinybase` multiplexing
/// subprotocol on that channel), `"requestTimeoutMs"` (default 1000), `"connectTimeoutMs"`
/// (default 10000), `"reconnect"` (bool: retry dropped connections with backoff),
/// `"fragmentSize"` (bytes), `"headers"` (object of strings). Syncing starts with
/// `tinystore_ws_synchronizer_start_sync`. Remote changes are applied, and store listeners
/// run, on the library's network threads.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_ws_synchronizer_new(
    store: *mut tinystore_mergeable_store_t,
    url: *const c_char,
    options_json: *const c_char,
    out_synchronizer: *mut *mut tinystore_ws_synchronizer_t,
) -> tinystore_status_t {
    guard(|| {
        let url = unsafe { str_arg(url, "url")? };
        let options = match unsafe { opt_str_arg(options_json, "options_json")? } {
            Some(text) => Some(content::parse_json(text)?),
            None => None,
        };
        let out = Out::new(out_synchronizer, "out_synchronizer")?;
        let (config, options) = ws_options(url, options)?;
        let sync = with_mergeable(store, |m| Ok(WsSynchronizer::connect(m, config, options)?))?;
        let handle = register(Object::Synchronizer(sync));
        out.set(handle as *mut tinystore_ws_synchronizer_t);
        Ok(())
    })
}

/// Destroys the synchronizer (stops syncing, closes the socket, waiting at most 2 s for the
/// close handshake) and frees it. The store keeps its content.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_ws_synchronizer_free(
    synchronizer: *mut tinystore_ws_synchronizer_t,
) -> tinystore_status_t {
    guard(|| {
        let object = unregister(
            synchronizer as usize,
            "synchronizer",
            "a synchronizer",
            |o| matches!(o, Object::Synchronizer(_)),
        )?;
        if let Object::Synchronizer(s) = &*object {
            s.destroy();
        }
        Ok(())
    })
}

/// Starts syncing: pulls what the peers have (blocking until done, at most about the request
/// timeout), then sends every change of the store as it happens and applies the peers'.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_ws_synchronizer_start_sync(
    synchronizer: *mut tinystore_ws_synchronizer_t,
) -> tinystore_status_t {
    guard(|| {
        with_synchronizer(synchronizer, |s| {
            if s.is_destroyed() {
                return Err(err(
                    S::TINYSTORE_STATUS_INVALID_STATE,
                    "the synchronizer was destroyed",
                ));
            }
            s.start_sync(None);
            Ok(())
        })
    })
}

/// Stops syncing (the connection stays open).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_ws_synchronizer_stop_sync(
    synchronizer: *mut tinystore_ws_synchronizer_t,
) -> tinystore_status_t {
    guard(|| {
        with_synchronizer(synchronizer, |s| {
            s.stop_sync();
            Ok(())
        })
    })
}

/// The state of the connection.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_ws_synchronizer_get_connection_status(
    synchronizer: *mut tinystore_ws_synchronizer_t,
    out_status: *mut tinystore_connection_status_t,
) -> tinystore_status_t {
    guard(|| {
        let out = Out::new(out_status, "out_status")?;
        with_synchronizer(synchronizer, |s| {
            use tinystore_connection_status_t as C;
            out.set(match s.connection_status() {
                ConnectionStatus::Connecting => C::TINYSTORE_CONNECTION_STATUS_CONNECTING,
                ConnectionStatus::Connected => C::TINYSTORE_CONNECTION_STATUS_CONNECTED,
                ConnectionStatus::Disconnected => C::TINYSTORE_CONNECTION_STATUS_DISCONNECTED,
            });
            Ok(())
        })
    })
}

/// How many messages the synchronizer has sent and received.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_ws_synchronizer_get_stats(
    synchronizer: *mut tinystore_ws_synchronizer_t,
    out_sends: *mut u64,
    out_receives: *mut u64,
) -> tinystore_status_t {
    guard(|| {
        let sends = Out::new(out_sends, "out_sends")?;
        let receives = Out::new(out_receives, "out_receives")?;
        with_synchronizer(synchronizer, |s| {
            let stats = s.get_synchronizer_stats();
            sends.set(stats.sends);
            receives.set(stats.receives);
            Ok(())
        })
    })
}

/// Starts a sync server (TinyBase's `createWsServer`, as `tinystore serve` runs it) listening
/// on `host` (NULL: `127.0.0.1`) and `port` (0: the system picks one; see
/// `tinystore_ws_server_port`). With `db_path`, each room's content is kept in that SQLite
/// database (a JSON-mode table per room) and survives restarts; with NULL the server only
/// relays between clients. The server runs on threads of its own.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_ws_server_new(
    host: *const c_char,
    port: u16,
    db_path: *const c_char,
    out_server: *mut *mut tinystore_ws_server_t,
) -> tinystore_status_t {
    guard(|| {
        let (host, db) = unsafe { (opt_str_arg(host, "host")?, opt_str_arg(db_path, "db_path")?) };
        let out = Out::new(out_server, "out_server")?;
        let host = host.unwrap_or("127.0.0.1");
        let addr: SocketAddr = (host, port)
            .to_socket_addrs()
            .ok()
            .and_then(|mut addrs| addrs.next())
            .ok_or_else(|| {
                err(
                    S::TINYSTORE_STATUS_INVALID_ARGUMENT,
                    format!("cannot resolve host {host:?}"),
                )
            })?;
        let server = WsServer::start(ServerConfig {
            addr,
            peer_factory: db
                .map(|db| sqlite_rooms(db, RoomOptions::default()))
                .transpose()?,
            ..ServerConfig::default()
        })?;
        let handle = register(Object::Server(server));
        out.set(handle as *mut tinystore_ws_server_t);
        Ok(())
    })
}

/// The port the server listens on.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_ws_server_port(
    server: *mut tinystore_ws_server_t,
    out_port: *mut u16,
) -> tinystore_status_t {
    guard(|| {
        let out = Out::new(out_port, "out_port")?;
        with_server(server, |s| {
            out.set(s.port());
            Ok(())
        })
    })
}

/// How many rooms (paths) and clients the server has.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_ws_server_get_stats(
    server: *mut tinystore_ws_server_t,
    out_paths: *mut usize,
    out_clients: *mut usize,
) -> tinystore_status_t {
    guard(|| {
        let paths = Out::new(out_paths, "out_paths")?;
        let clients = Out::new(out_clients, "out_clients")?;
        with_server(server, |s| {
            let stats = s.get_stats();
            paths.set(stats.paths);
            clients.set(stats.clients);
            Ok(())
        })
    })
}

/// The rooms (paths) that have clients, in the order they started.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_ws_server_get_path_ids(
    server: *mut tinystore_ws_server_t,
    out_ids: *mut tinystore_string_list_t,
) -> tinystore_status_t {
    guard(|| ids_out(out_ids, || with_server(server, |s| Ok(s.get_path_ids()))))
}

/// The client ids of a room, in join order (empty for an unknown path).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_ws_server_get_client_ids(
    server: *mut tinystore_ws_server_t,
    path: *const c_char,
    out_ids: *mut tinystore_string_list_t,
) -> tinystore_status_t {
    guard(|| {
        let path = unsafe { str_arg(path, "path")? };
        ids_out(out_ids, || {
            with_server(server, |s| Ok(s.get_client_ids(path)))
        })
    })
}

/// Stops the server: stops listening, closes every client, saves and stops every room, then
/// frees it. Blocks until that is done.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_ws_server_free(
    server: *mut tinystore_ws_server_t,
) -> tinystore_status_t {
    guard(|| {
        let object = unregister(server as usize, "server", "a server", |o| {
            matches!(o, Object::Server(_))
        })?;
        if let Object::Server(s) = &*object {
            s.shutdown();
        }
        Ok(())
    })
}

// ============================================================================ tests

#[cfg(test)]
mod tests {
    use super::*;

    /// The frozen numbers: a status, cell type, listener kind, persister or connection status
    /// may be appended to, never renumbered or reused. Update this list only by appending.
    #[test]
    fn frozen_discriminants() {
        use tinystore_status_t::*;
        let statuses = [
            (TINYSTORE_STATUS_OK, 0, "TINYSTORE_STATUS_OK"),
            (
                TINYSTORE_STATUS_NULL_ARGUMENT,
                1,
                "TINYSTORE_STATUS_NULL_ARGUMENT",
            ),
            (
                TINYSTORE_STATUS_INVALID_UTF8,
                2,
                "TINYSTORE_STATUS_INVALID_UTF8",
            ),
            (
                TINYSTORE_STATUS_INVALID_JSON,
                3,
                "TINYSTORE_STATUS_INVALID_JSON",
            ),
            (
                TINYSTORE_STATUS_INVALID_HANDLE,
                4,
                "TINYSTORE_STATUS_INVALID_HANDLE",
            ),
            (TINYSTORE_STATUS_NOT_FOUND, 5, "TINYSTORE_STATUS_NOT_FOUND"),
            (
                TINYSTORE_STATUS_INVALID_ARGUMENT,
                6,
                "TINYSTORE_STATUS_INVALID_ARGUMENT",
            ),
            (
                TINYSTORE_STATUS_INVALID_SCHEMA,
                7,
                "TINYSTORE_STATUS_INVALID_SCHEMA",
            ),
            (
                TINYSTORE_STATUS_NOT_MERGEABLE,
                8,
                "TINYSTORE_STATUS_NOT_MERGEABLE",
            ),
            (TINYSTORE_STATUS_REJECTED, 9, "TINYSTORE_STATUS_REJECTED"),
            (
                TINYSTORE_STATUS_INVALID_STATE,
                10,
                "TINYSTORE_STATUS_INVALID_STATE",
            ),
            (TINYSTORE_STATUS_STORAGE, 11, "TINYSTORE_STATUS_STORAGE"),
            (
                TINYSTORE_STATUS_UNSUPPORTED,
                12,
                "TINYSTORE_STATUS_UNSUPPORTED",
            ),
            (TINYSTORE_STATUS_NETWORK, 13, "TINYSTORE_STATUS_NETWORK"),
            (TINYSTORE_STATUS_PANIC, 14, "TINYSTORE_STATUS_PANIC"),
        ];
        let mut seen = std::collections::HashSet::new();
        for (status, number, name) in statuses {
            assert_eq!(status as i32, number, "{name}");
            assert!(seen.insert(number), "duplicate status number {number}");
            let got = unsafe { CStr::from_ptr(tinystore_status_name(number)) };
            assert_eq!(got.to_str().unwrap(), name);
        }
        assert_eq!(
            unsafe { CStr::from_ptr(tinystore_status_name(15)) }
                .to_str()
                .unwrap(),
            "TINYSTORE_STATUS_UNKNOWN"
        );

        use tinystore_cell_type_t as T;
        let cells = [
            (T::TINYSTORE_CELL_TYPE_NONE, 0),
            (T::TINYSTORE_CELL_TYPE_STRING, 1),
            (T::TINYSTORE_CELL_TYPE_NUMBER, 2),
            (T::TINYSTORE_CELL_TYPE_BOOLEAN, 3),
            (T::TINYSTORE_CELL_TYPE_NULL, 4),
            (T::TINYSTORE_CELL_TYPE_JSON, 5),
        ];
        for (t, n) in cells {
            assert_eq!(t as i32, n);
        }
        assert_eq!(K::TINYSTORE_LISTENER_HAS_TABLES as i32, 0);
        assert_eq!(K::TINYSTORE_LISTENER_CELL as i32, 14);
        assert_eq!(K::TINYSTORE_LISTENER_DID_FINISH_TRANSACTION as i32, 24);
        use tinystore_persister_status_t as P;
        assert_eq!(P::TINYSTORE_PERSISTER_STATUS_IDLE as i32, 0);
        assert_eq!(P::TINYSTORE_PERSISTER_STATUS_LOADING as i32, 1);
        assert_eq!(P::TINYSTORE_PERSISTER_STATUS_SAVING as i32, 2);
        use tinystore_connection_status_t as C;
        assert_eq!(C::TINYSTORE_CONNECTION_STATUS_CONNECTING as i32, 0);
        assert_eq!(C::TINYSTORE_CONNECTION_STATUS_CONNECTED as i32, 1);
        assert_eq!(C::TINYSTORE_CONNECTION_STATUS_DISCONNECTED as i32, 2);
    }

    #[test]
    fn version_macros_match_the_crate() {
        assert_eq!(
            TINYSTORE_VERSION_MAJOR.to_string(),
            env!("CARGO_PKG_VERSION_MAJOR")
        );
        assert_eq!(
            TINYSTORE_VERSION_MINOR.to_string(),
            env!("CARGO_PKG_VERSION_MINOR")
        );
        assert_eq!(
            TINYSTORE_VERSION_PATCH.to_string(),
            env!("CARGO_PKG_VERSION_PATCH")
        );
        let v = unsafe { CStr::from_ptr(tinystore_version()) };
        assert_eq!(v.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    }

    fn last_error() -> String {
        unsafe { CStr::from_ptr(tinystore_last_error_message()) }
            .to_str()
            .unwrap()
            .to_string()
    }

    #[test]
    fn handles_are_checked_and_freed_once() {
        unsafe {
            let mut store = ptr::null_mut();
            assert_eq!(tinystore_store_new(&mut store), S::TINYSTORE_STATUS_OK);
            assert_eq!(last_error(), "");
            let dog = tinystore_cell_string(c"dog".as_ptr());
            assert_eq!(
                tinystore_store_set_cell(
                    store,
                    c"pets".as_ptr(),
                    c"fido".as_ptr(),
                    c"species".as_ptr(),
                    &dog
                ),
                S::TINYSTORE_STATUS_OK
            );
            let mut cell = empty_cell();
            assert_eq!(
                tinystore_store_get_cell(
                    store,
                    c"pets".as_ptr(),
                    c"fido".as_ptr(),
                    c"species".as_ptr(),
                    &mut cell
                ),
                S::TINYSTORE_STATUS_OK
            );
            assert_eq!(
                cell.r#type,
                tinystore_cell_type_t::TINYSTORE_CELL_TYPE_STRING
            );
            assert!(cell.owned);
            assert_eq!(CStr::from_ptr(cell.string).to_str().unwrap(), "dog");
            tinystore_cell_free(&mut cell);
            tinystore_cell_free(&mut cell);
            assert_eq!(tinystore_store_free(store), S::TINYSTORE_STATUS_OK);
            assert_eq!(
                tinystore_store_free(store),
                S::TINYSTORE_STATUS_INVALID_HANDLE
            );
            assert!(last_error().contains("already freed"), "{}", last_error());
            assert_eq!(
                tinystore_store_free(0x1234 as *mut tinystore_store_t),
                S::TINYSTORE_STATUS_INVALID_HANDLE
            );
            assert_eq!(
                tinystore_store_free(ptr::null_mut()),
                S::TINYSTORE_STATUS_NULL_ARGUMENT
            );
        }
    }

    #[test]
    fn bad_inputs_are_errors() {
        unsafe {
            let mut store = ptr::null_mut();
            assert_eq!(tinystore_store_new(&mut store), S::TINYSTORE_STATUS_OK);
            let bad = [0xffu8, 0xfe, 0];
            let one = tinystore_cell_number(1.0);
            assert_eq!(
                tinystore_store_set_cell(
                    store,
                    bad.as_ptr().cast(),
                    c"r".as_ptr(),
                    c"c".as_ptr(),
                    &one
                ),
                S::TINYSTORE_STATUS_INVALID_UTF8
            );
            assert_eq!(
                tinystore_store_set_json(store, c"[{".as_ptr()),
                S::TINYSTORE_STATUS_INVALID_JSON
            );
            let mut raw = tinystore_cell_number(1.0);
            ptr::write(ptr::addr_of_mut!(raw).cast::<c_int>(), 77);
            assert_eq!(
                tinystore_store_set_value(store, c"v".as_ptr(), &raw),
                S::TINYSTORE_STATUS_INVALID_ARGUMENT
            );
            let scalar = tinystore_cell_json(c"5".as_ptr());
            assert_eq!(
                tinystore_store_set_value(store, c"v".as_ptr(), &scalar),
                S::TINYSTORE_STATUS_INVALID_ARGUMENT
            );
            let mut persister = ptr::null_mut();
            assert_eq!(
                tinystore_persister_save(store.cast()),
                S::TINYSTORE_STATUS_INVALID_HANDLE
            );
            assert_eq!(
                tinystore_file_persister_new(store, ptr::null(), &mut persister),
                S::TINYSTORE_STATUS_NULL_ARGUMENT
            );
            assert_eq!(
                tinystore_mergeable_store_merge(store, store),
                S::TINYSTORE_STATUS_NOT_MERGEABLE
            );
            assert_eq!(tinystore_store_free(store), S::TINYSTORE_STATUS_OK);
        }
    }

    /// Every exported function runs its body inside `catch_unwind` (through `guard` or
    /// `guard_value`): no panic can cross the ABI.
    #[test]
    fn every_entry_point_catches_panics() {
        let source = include_str!("capi.rs");
        let marker = concat!("#[unsafe(", "no_mangle)]");
        let mut checked = 0;
        for (i, _) in source.match_indices(marker) {
            let item = &source[i..];
            let body_start = item.find(") ").expect("a signature");
            let body_end = item.find("\n}\n").expect("the end of the body");
            let body = &item[body_start..body_end];
            let name = item.lines().nth(1).unwrap_or_default();
            assert!(
                body.contains("guard(") || body.contains("guard_value("),
                "{name} does not run inside guard()"
            );
            checked += 1;
        }
        assert_eq!(checked, 122, "exported functions");
    }

    #[test]
    fn panics_become_statuses() {
        let status = guard(|| panic!("boom"));
        assert_eq!(status, S::TINYSTORE_STATUS_PANIC);
        assert!(last_error().contains("boom"), "{}", last_error());
        assert_eq!(guard_value(7, || panic!("boom")), 7);
    }

    #[test]
    fn handle_types_are_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Object>();
    }
}
