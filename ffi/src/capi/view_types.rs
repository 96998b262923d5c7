//! The C types of the derived views: their opaque handles, the one view-event struct all their
//! listeners receive, and the callback types of their definitions.

use super::*;

/// An Indexes object over a store. Opaque; free with `tinystore_indexes_free`.
#[derive(Debug)]
pub struct tinystore_indexes_t {
    _opaque: [u8; 0],
}

/// A Relationships object over a store. Opaque; free with `tinystore_relationships_free`.
#[derive(Debug)]
pub struct tinystore_relationships_t {
    _opaque: [u8; 0],
}

/// A Metrics object over a store. Opaque; free with `tinystore_metrics_free`.
#[derive(Debug)]
pub struct tinystore_metrics_t {
    _opaque: [u8; 0],
}

/// A Queries object (TinyQL) over a store. Opaque; free with `tinystore_queries_free`.
#[derive(Debug)]
pub struct tinystore_queries_t {
    _opaque: [u8; 0],
}

/// A Checkpoints object over a store. Opaque; free with `tinystore_checkpoints_free`.
#[derive(Debug)]
pub struct tinystore_checkpoints_t {
    _opaque: [u8; 0],
}

/// The TinyQL builder a query's build callback receives (borrowed: valid only during that
/// callback, on its thread; a builder used after its callback returned is
/// `TINYSTORE_STATUS_INVALID_HANDLE`).
#[derive(Debug)]
pub struct tinystore_query_builder_t {
    _opaque: [u8; 0],
}

/// What a definition callback reads: the cells of the row being evaluated (borrowed: valid
/// only during the callback, on its thread).
#[derive(Debug)]
pub struct tinystore_row_reader_t {
    _opaque: [u8; 0],
}

/// Where a definition callback puts its answer (borrowed: valid only during the callback, on
/// its thread). Set it with `tinystore_callback_result_set_cell` /
/// `tinystore_callback_result_add_id`; left empty, it means "no value".
#[derive(Debug)]
pub struct tinystore_callback_result_t {
    _opaque: [u8; 0],
}

/// What a view listener is told about (numbers frozen; new kinds are appended).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum tinystore_view_event_kind_t {
    /// Indexes: the index ids changed.
    TINYSTORE_VIEW_INDEX_IDS = 0,
    /// Indexes: `id` was added (`flag` true) or removed.
    TINYSTORE_VIEW_HAS_INDEX = 1,
    /// Indexes: the slice ids of index `id` changed.
    TINYSTORE_VIEW_SLICE_IDS = 2,
    /// Indexes: slice `sub_id` of index `id` appeared (`flag` true) or went.
    TINYSTORE_VIEW_HAS_SLICE = 3,
    /// Indexes: the row ids of slice `sub_id` of index `id` changed.
    TINYSTORE_VIEW_SLICE_ROW_IDS = 4,
    /// Relationships: the relationship ids changed.
    TINYSTORE_VIEW_RELATIONSHIP_IDS = 5,
    /// Relationships: the remote row id of local row `sub_id` of relationship `id` changed.
    TINYSTORE_VIEW_REMOTE_ROW_ID = 6,
    /// Relationships: the local row ids of remote row `sub_id` of relationship `id` changed.
    TINYSTORE_VIEW_LOCAL_ROW_IDS = 7,
    /// Relationships: the linked list starting at row `sub_id` of relationship `id` changed.
    TINYSTORE_VIEW_LINKED_ROW_IDS = 8,
    /// Metrics: the metric ids changed.
    TINYSTORE_VIEW_METRIC_IDS = 9,
    /// Metrics: metric `id` changed from `old_cell` to `new_cell` (NUMBER, or NONE).
    TINYSTORE_VIEW_METRIC = 10,
    /// Queries: the query ids changed.
    TINYSTORE_VIEW_QUERY_IDS = 11,
    /// Queries: the params of query `id` changed (`json`: all its param values).
    TINYSTORE_VIEW_PARAM_VALUES = 12,
    /// Queries: param `sub_id` of query `id` is now `new_cell`.
    TINYSTORE_VIEW_PARAM_VALUE = 13,
    /// Queries: a cell of the result table of query `id` changed.
    TINYSTORE_VIEW_RESULT_TABLE = 14,
    /// Queries: the cell ids of the result table changed (`id_changes`).
    TINYSTORE_VIEW_RESULT_TABLE_CELL_IDS = 15,
    /// Queries: the result's row count is now `count`.
    TINYSTORE_VIEW_RESULT_ROW_COUNT = 16,
    /// Queries: the result's row ids changed (`id_changes`).
    TINYSTORE_VIEW_RESULT_ROW_IDS = 17,
    /// Queries: the sorted result row ids are now `ids`.
    TINYSTORE_VIEW_RESULT_SORTED_ROW_IDS = 18,
    /// Queries: a cell of result row `sub_id` changed.
    TINYSTORE_VIEW_RESULT_ROW = 19,
    /// Queries: the cell ids of result row `sub_id` changed (`id_changes`).
    TINYSTORE_VIEW_RESULT_CELL_IDS = 20,
    /// Queries: result cell `cell_id` of row `sub_id` changed from `old_cell` to `new_cell`.
    TINYSTORE_VIEW_RESULT_CELL = 21,
    /// Checkpoints: the checkpoint ids changed.
    TINYSTORE_VIEW_CHECKPOINT_IDS = 22,
    /// Checkpoints: the label of checkpoint `id` changed.
    TINYSTORE_VIEW_CHECKPOINT = 23,
}

/// What a view listener is told. Borrowed: every pointer is valid until the callback returns.
/// Fields a kind does not use are NULL, 0, false or a NONE cell.
#[repr(C)]
#[derive(Debug)]
pub struct tinystore_view_event_t {
    /// What happened.
    pub kind: tinystore_view_event_kind_t,
    /// The index, relationship, metric, query or checkpoint id.
    pub id: *const c_char,
    /// The slice, local/remote/first row, result row or param id.
    pub sub_id: *const c_char,
    /// The result cell id.
    pub cell_id: *const c_char,
    /// Whether the index/slice exists now.
    pub flag: bool,
    /// The result row count.
    pub count: usize,
    /// The new metric, param or result cell.
    pub new_cell: tinystore_cell_t,
    /// The old metric or result cell.
    pub old_cell: tinystore_cell_t,
    /// Added (+1) and removed (-1) ids.
    pub id_changes: *const tinystore_id_change_t,
    /// Number of `id_changes`.
    pub id_changes_len: usize,
    /// The sorted result row ids.
    pub ids: *const *const c_char,
    /// Number of `ids`.
    pub ids_len: usize,
    /// The param values of a query as a JSON object.
    pub json: *const c_char,
}

/// A view listener: `user_data` as registered and the event (borrowed). Runs on the thread
/// that finished the store's transaction (or that called the view); must not unwind.
pub type tinystore_view_listener_fn_t =
    Option<unsafe extern "C" fn(user_data: *mut c_void, event: *const tinystore_view_event_t)>;

/// A definition callback of one row: slice ids, sort key, remote row id, metric number, and
/// TinyQL's calculated select, join, where and having. `row` reads the row's cells, `row_id`
/// is the row (NULL for where and having); the answer goes into `result`. Return true, or
/// false when it failed (see `tinystore_callback_set_error`): the write that called it then
/// returns `TINYSTORE_STATUS_CALLBACK`.
pub type tinystore_row_fn_t = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        row: *const tinystore_row_reader_t,
        row_id: *const c_char,
        result: *mut tinystore_callback_result_t,
    ) -> bool,
>;

/// A sorter: compares `a` and `b` (slice ids as STRING cells, or two rows' sort keys, NONE
/// when missing, with their `slice_id`); sets `result` to a NUMBER < 0 when `a` goes first,
/// > 0 when `b` does, 0 when equal. Runs under the view's lock: it must not call its view.
pub type tinystore_sorter_fn_t = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        a: *const tinystore_cell_t,
        b: *const tinystore_cell_t,
        slice_id: *const c_char,
        result: *mut tinystore_callback_result_t,
    ) -> bool,
>;

/// A custom aggregate over `len` values (NUMBER cells for metrics); sets `result` (NONE: no
/// value).
pub type tinystore_aggregate_fn_t = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        values: *const tinystore_cell_t,
        len: usize,
        result: *mut tinystore_callback_result_t,
    ) -> bool,
>;

/// An incremental aggregate step: from the `current` aggregate and the value `added` (add
/// and replace) or `removed` (remove and replace; the other one is NULL), given the new
/// `len`, sets `result` to the new aggregate, or leaves it empty to have it recomputed.
pub type tinystore_aggregate_step_fn_t = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        current: *const tinystore_cell_t,
        added: *const tinystore_cell_t,
        removed: *const tinystore_cell_t,
        len: usize,
        result: *mut tinystore_callback_result_t,
    ) -> bool,
>;

/// A custom aggregate: `aggregate` is required; `add`, `remove` and `replace` (TinyBase's
/// incremental hooks) may be NULL. All get `user_data`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct tinystore_aggregate_t {
    /// The full aggregate.
    pub aggregate: tinystore_aggregate_fn_t,
    /// A value was added (`removed` NULL).
    pub add: tinystore_aggregate_step_fn_t,
    /// A value was removed (`added` NULL).
    pub remove: tinystore_aggregate_step_fn_t,
    /// A value was replaced.
    pub replace: tinystore_aggregate_step_fn_t,
    /// Given to every function.
    pub user_data: *mut c_void,
}

/// Maps a cell id for `tinystore_query_builder_select_all_mapped`: sets `result` to the new
/// id (a STRING; nothing set: the id unchanged).
pub type tinystore_map_id_fn_t = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        cell_id: *const c_char,
        result: *mut tinystore_callback_result_t,
    ) -> bool,
>;

/// A query's TinyQL: call the `tinystore_query_builder_*` functions on `builder`. Runs when
/// the query is defined and again when its params change. Return false when it failed.
pub type tinystore_query_build_fn_t = Option<
    unsafe extern "C" fn(user_data: *mut c_void, builder: *mut tinystore_query_builder_t) -> bool,
>;
