//! The C types of the ABI: version macros, status and kind enums, cells, events, opaque handles,
//! callback types. Every number here is frozen (see `tests.rs`).

use super::*;

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
    /// A function the application supplied (a view's definition callback, sorter or aggregate)
    /// failed while the call ran; the last error message says why. The write itself stands.
    TINYSTORE_STATUS_CALLBACK = 15,
}

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
pub(crate) struct RawCell {
    pub(crate) kind: c_int,
    pub(crate) boolean: u8,
    pub(crate) owned: u8,
    pub(crate) number: f64,
    pub(crate) string: *const c_char,
    pub(crate) string_len: usize,
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

/// A persister (SQLite, file, remote or custom). Opaque; free with `tinystore_persister_free`.
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

/// A status listener of a persister: `user_data` as registered, the persister handle it was
/// registered on, and the new status. Runs on the thread that changed the status (the caller
/// of a load or save, the writer for an auto-save, the persister's polling thread for an
/// auto-load). Must not unwind.
pub type tinystore_persister_status_listener_fn_t = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        persister: *mut tinystore_persister_t,
        status: tinystore_persister_status_t,
    ),
>;

/// A status listener of a synchronizer: `user_data` as registered, the synchronizer handle it
/// was registered on, and the new status (`LOADING` while changes from peers are applied,
/// `SAVING` while local changes are sent). Runs on the caller's thread or a library network
/// thread. Must not unwind.
pub type tinystore_synchronizer_status_listener_fn_t = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        synchronizer: *mut tinystore_ws_synchronizer_t,
        status: tinystore_persister_status_t,
    ),
>;

/// What a client asks the server's auth callback for. Frozen numbers.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum tinystore_auth_purpose_t {
    /// To join the room `path`.
    TINYSTORE_AUTH_PURPOSE_JOIN = 0,
    /// To read the server's `GET /stats` (`path` is empty); `READ_ONLY` suffices.
    TINYSTORE_AUTH_PURPOSE_STATS = 1,
}

/// The server auth callback's answer. Frozen numbers.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum tinystore_auth_decision_t {
    /// Full access.
    TINYSTORE_AUTH_ACCEPT = 0,
    /// The client may read: what it sends to change the room is dropped.
    TINYSTORE_AUTH_READ_ONLY = 1,
    /// No access: the WebSocket upgrade is answered with HTTP 403 (a multiplexed channel's
    /// socket is closed with 1008).
    TINYSTORE_AUTH_REJECT = 2,
}

/// One HTTP header of a request (borrowed, valid during the callback).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct tinystore_header_t {
    /// The name, lowercased.
    pub name: *const c_char,
    /// The value.
    pub value: *const c_char,
}

/// What the server's auth callback is asked about. Every pointer is borrowed and valid during
/// the callback only.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct tinystore_auth_request_t {
    /// Joining a room, or reading the stats.
    pub purpose: tinystore_auth_purpose_t,
    /// The request target as sent, path and query string (e.g. to read a `?token=`).
    pub url: *const c_char,
    /// The room (the URL path without its leading `/`, or a multiplexed channel's path).
    pub path: *const c_char,
    /// The client id the server gives the socket.
    pub client_id: *const c_char,
    /// Every header of the upgrade request, in request order.
    pub headers: *const tinystore_header_t,
    /// The length of `headers`.
    pub headers_len: usize,
}

/// A sync server's auth callback: decides whether a client may join a room (see
/// `tinystore_ws_server_new_with_auth`). Must not unwind.
pub type tinystore_auth_fn_t = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        request: *const tinystore_auth_request_t,
    ) -> tinystore_auth_decision_t,
>;
