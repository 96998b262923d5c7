//! The UniFFI surface of libtinystore (proc-macro mode, no UDL), over `tinystore-core`
//! directly. `bindings/uniffi-bindgen` turns it into Python, Kotlin and Swift; each language
//! adds a thin idiomatic layer (`bindings/*/`).
//!
//! Conventions:
//! - Names follow TinyBase (`set_cell`, `add_row_listener`, …); UniFFI renders them as
//!   `setCell` in Kotlin and Swift.
//! - Cells and values cross as [`CellValue`]; objects and arrays as their JSON text. Maps whose
//!   order matters (rows, tables, content) also have `*_json` forms in TinyBase's encoded JSON.
//! - Every error is a [`TinystoreError`]. Foreign callbacks (listeners, storage, transports)
//!   return `Result`: a callback that throws is reported on stderr and skipped, it never
//!   aborts the process or unwinds through the store.
//! - Calls that wait on I/O (`load`, `save`, `start_sync`, connecting, server start) block;
//!   each also has an `*_async` variant (Python `async def`, Kotlin `suspend`, Swift `async`)
//!   that runs the blocking call on a thread of its own.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use serde_json::Value as Json;
use tinystore_core as core;
use tinystore_core::content::{self, Row, Table, Tables, Values};
use tinystore_core::persist::{self, Persister as CorePersister};
use tinystore_core::sync::{self as csync, Transport};
use tinystore_core::{Cell, json};

// ---------------------------------------------------------------------------------- errors

/// The one error type of the bindings (Python `tinystore.TinystoreError`, Kotlin
/// `TinystoreException`, Swift `TinystoreError`); each variant is an area.
#[derive(Debug, Clone, PartialEq, thiserror::Error, uniffi::Error)]
pub enum TinystoreError {
    /// JSON text could not be parsed or had the wrong shape; nothing was changed.
    #[error("{reason}")]
    InvalidJson {
        /// What was wrong.
        reason: String,
    },
    /// A cell or value that the store cannot hold was given.
    #[error("{reason}")]
    InvalidValue {
        /// What was wrong.
        reason: String,
    },
    /// A schema had no valid entry.
    #[error("{reason}")]
    Schema {
        /// What was wrong.
        reason: String,
    },
    /// A MergeableStore payload was rejected (shape, stamps, HLCs in the future).
    #[error("{reason}")]
    Mergeable {
        /// What was wrong.
        reason: String,
    },
    /// A persister could not load or save.
    #[error("{reason}")]
    Persist {
        /// What was wrong.
        reason: String,
    },
    /// A synchronizer could not connect or sync.
    #[error("{reason}")]
    Sync {
        /// What was wrong.
        reason: String,
    },
    /// The sync server could not start.
    #[error("{reason}")]
    Server {
        /// What was wrong.
        reason: String,
    },
    /// The object was destroyed or stopped.
    #[error("{reason}")]
    Destroyed {
        /// What was wrong.
        reason: String,
    },
    /// A foreign callback failed (an exception the callback did not map to another variant).
    #[error("{reason}")]
    Callback {
        /// What was wrong.
        reason: String,
    },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for TinystoreError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        TinystoreError::Callback { reason: e.reason }
    }
}

impl From<core::StoreError> for TinystoreError {
    fn from(e: core::StoreError) -> Self {
        match e {
            core::StoreError::Schema(reason) => TinystoreError::Schema { reason },
            other => TinystoreError::InvalidJson {
                reason: other.to_string(),
            },
        }
    }
}

impl From<core::ContentError> for TinystoreError {
    fn from(e: core::ContentError) -> Self {
        TinystoreError::InvalidJson {
            reason: e.to_string(),
        }
    }
}

impl From<core::MergeableError> for TinystoreError {
    fn from(e: core::MergeableError) -> Self {
        TinystoreError::Mergeable {
            reason: e.to_string(),
        }
    }
}

impl From<persist::PersistError> for TinystoreError {
    fn from(e: persist::PersistError) -> Self {
        TinystoreError::Persist {
            reason: e.to_string(),
        }
    }
}

fn persist_error(e: TinystoreError) -> persist::PersistError {
    match e {
        TinystoreError::Persist { reason } => persist::PersistError::Io(reason),
        other => persist::PersistError::Io(other.to_string()),
    }
}

/// Reports a failed foreign callback: there is no caller to return it to.
fn report(what: &str, e: &TinystoreError) {
    eprintln!("tinystore: {what} failed: {e}");
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

// ---------------------------------------------------------------------------------- values

/// One Cell or Value: string, number, boolean, null, or an object/array as JSON text.
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum CellValue {
    /// A string.
    Str {
        /// The string.
        value: String,
    },
    /// A finite number (non-finite numbers are rejected by the store as invalid cells).
    Num {
        /// The number.
        value: f64,
    },
    /// `true` or `false`.
    Bool {
        /// The boolean.
        value: bool,
    },
    /// JSON `null` (a real value: `has_cell` is true).
    Null,
    /// An object or array, as JSON text (e.g. `{"a":1}` or `[1,"x"]`).
    Json {
        /// The JSON text.
        json: String,
    },
}

impl From<Cell> for CellValue {
    fn from(c: Cell) -> Self {
        match c {
            Cell::Null => CellValue::Null,
            Cell::Boolean(value) => CellValue::Bool { value },
            Cell::Number(value) => CellValue::Num { value },
            Cell::String(s) => CellValue::Str {
                value: s.to_string(),
            },
            Cell::Object(t) | Cell::Array(t) => CellValue::Json {
                json: t.to_string(),
            },
        }
    }
}

fn opt_value(c: Option<&Cell>) -> Option<CellValue> {
    c.cloned().map(CellValue::from)
}

/// Converts a foreign value; object/array JSON is re-serialised as `JSON.stringify` would, so
/// that hashes match TinyBase's.
fn to_cell(v: CellValue) -> Result<Cell, TinystoreError> {
    Ok(match v {
        CellValue::Str { value } => Cell::String(value.into()),
        CellValue::Num { value } => Cell::Number(value),
        CellValue::Bool { value } => Cell::Boolean(value),
        CellValue::Null => Cell::Null,
        CellValue::Json { json: text } => {
            let parsed = json::parse(&text).map_err(|e| TinystoreError::InvalidValue {
                reason: format!("invalid JSON cell: {e}"),
            })?;
            if !(parsed.is_object() || parsed.is_array()) {
                return Err(TinystoreError::InvalidValue {
                    reason: "a JSON cell must be an object or an array".into(),
                });
            }
            Cell::from_json(parsed)
        }
    })
}

fn to_row(cells: HashMap<String, CellValue>) -> Result<Row, TinystoreError> {
    cells
        .into_iter()
        .map(|(k, v)| Ok((k, to_cell(v)?)))
        .collect()
}

fn to_table(rows: HashMap<String, HashMap<String, CellValue>>) -> Result<Table, TinystoreError> {
    rows.into_iter().map(|(k, v)| Ok((k, to_row(v)?))).collect()
}

fn to_tables(
    tables: HashMap<String, HashMap<String, HashMap<String, CellValue>>>,
) -> Result<Tables, TinystoreError> {
    tables
        .into_iter()
        .map(|(k, v)| Ok((k, to_table(v)?)))
        .collect()
}

fn from_row(row: Row) -> HashMap<String, CellValue> {
    row.into_iter().map(|(k, v)| (k, v.into())).collect()
}

fn from_table(table: Table) -> HashMap<String, HashMap<String, CellValue>> {
    table.into_iter().map(|(k, v)| (k, from_row(v))).collect()
}

fn parse(text: &str) -> Result<Json, TinystoreError> {
    content::parse_json(text).map_err(Into::into)
}

/// `[tables, values]` (encoded or plain JSON) → content.
fn parse_content(text: &str) -> Result<(Tables, Values), TinystoreError> {
    let parsed = parse(text)?;
    match parsed.as_array().map(Vec::as_slice) {
        Some([tables, values]) => Ok((
            content::tables_from_json(tables, true)?,
            content::values_from_json(values, true)?,
        )),
        _ => Err(TinystoreError::InvalidJson {
            reason: "expected [tables, values]".into(),
        }),
    }
}

fn parse_initial(initial: Option<String>) -> Result<Option<(Tables, Values)>, TinystoreError> {
    initial.as_deref().map(parse_content).transpose()
}

fn as_pair(initial: &Option<(Tables, Values)>) -> Option<(&Tables, &Values)> {
    initial.as_ref().map(|(t, v)| (t, v))
}

// ---------------------------------------------------------------------------------- records

/// An id added (`change` = 1) or removed (`change` = -1) by a transaction.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct IdChange {
    /// The id.
    pub id: String,
    /// 1 added, -1 removed.
    pub change: i8,
}

fn id_changes(changes: &core::IdChanges) -> Vec<IdChange> {
    changes
        .iter()
        .map(|(id, change)| IdChange {
            id: id.to_string(),
            change: *change,
        })
        .collect()
}

/// The arguments of `get_sorted_row_ids` and its listener.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct SortedRowIdsArgs {
    /// The table.
    pub table_id: String,
    /// The cell to sort by; `None` sorts by row id.
    #[uniffi(default = None)]
    pub cell_id: Option<String>,
    /// Largest first.
    #[uniffi(default = false)]
    pub descending: bool,
    /// How many sorted ids to skip.
    #[uniffi(default = 0)]
    pub offset: u64,
    /// How many ids at most; `None` for all.
    #[uniffi(default = None)]
    pub limit: Option<u64>,
}

/// Orders two sort keys for sorted row ids (TinyBase's `sorter`): negative puts `a` first.
#[uniffi::export(with_foreign)]
pub trait RowSorter: Send + Sync {
    /// Compares two cells (`None`: the row has no such cell).
    fn compare(&self, a: Option<CellValue>, b: Option<CellValue>) -> Result<i32, TinystoreError>;
}

fn core_sorted_args(
    args: SortedRowIdsArgs,
    sorter: Option<Arc<dyn RowSorter>>,
) -> core::SortedRowIdsArgs {
    let mut out = core::SortedRowIdsArgs::new(args.table_id).descending(args.descending);
    out.cell_id = args.cell_id;
    out.offset = usize::try_from(args.offset).unwrap_or(usize::MAX);
    out.limit = args.limit.map(|l| usize::try_from(l).unwrap_or(usize::MAX));
    if let Some(sorter) = sorter {
        out.sorter = Some(Arc::new(
            move |a: Option<&Cell>, b: Option<&Cell>| match sorter
                .compare(opt_value(a), opt_value(b))
            {
                Ok(n) => n.cmp(&0),
                Err(e) => {
                    report("sorter", &e);
                    std::cmp::Ordering::Equal
                }
            },
        ));
    }
    out
}

/// Whether a cell or value changed in the current transaction, its value before, and now.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ChangeInfo {
    /// Whether old and new differ.
    pub changed: bool,
    /// The value before the transaction.
    pub old_value: Option<CellValue>,
    /// The value now.
    pub new_value: Option<CellValue>,
}

impl From<core::CellChange> for ChangeInfo {
    fn from(c: core::CellChange) -> Self {
        ChangeInfo {
            changed: c.changed,
            old_value: c.old.map(Into::into),
            new_value: c.new.map(Into::into),
        }
    }
}

/// Listener counts per kind (TinyBase's `getListenerStats`).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
#[allow(missing_docs)]
pub struct ListenerStats {
    pub has_tables: u64,
    pub tables: u64,
    pub table_ids: u64,
    pub has_table: u64,
    pub table: u64,
    pub table_cell_ids: u64,
    pub has_table_cell: u64,
    pub row_count: u64,
    pub row_ids: u64,
    pub sorted_row_ids: u64,
    pub has_row: u64,
    pub row: u64,
    pub cell_ids: u64,
    pub has_cell: u64,
    pub cell: u64,
    pub invalid_cell: u64,
    pub has_values: u64,
    pub values: u64,
    pub value_ids: u64,
    pub has_value: u64,
    pub value: u64,
    pub invalid_value: u64,
    pub transaction: u64,
}

impl From<core::ListenerStats> for ListenerStats {
    fn from(s: core::ListenerStats) -> Self {
        let n = |x: usize| x as u64;
        ListenerStats {
            has_tables: n(s.has_tables),
            tables: n(s.tables),
            table_ids: n(s.table_ids),
            has_table: n(s.has_table),
            table: n(s.table),
            table_cell_ids: n(s.table_cell_ids),
            has_table_cell: n(s.has_table_cell),
            row_count: n(s.row_count),
            row_ids: n(s.row_ids),
            sorted_row_ids: n(s.sorted_row_ids),
            has_row: n(s.has_row),
            row: n(s.row),
            cell_ids: n(s.cell_ids),
            has_cell: n(s.has_cell),
            cell: n(s.cell),
            invalid_cell: n(s.invalid_cell),
            has_values: n(s.has_values),
            values: n(s.values),
            value_ids: n(s.value_ids),
            has_value: n(s.has_value),
            value: n(s.value),
            invalid_value: n(s.invalid_value),
            transaction: n(s.transaction),
        }
    }
}

/// A MergeableStore's content hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct ContentHashes {
    /// The hash of all tables.
    pub tables_hash: u32,
    /// The hash of all values.
    pub values_hash: u32,
}

// ---------------------------------------------------------------------------------- listeners

/// What a store listener is told: one variant per listener kind, with TinyBase's arguments
/// (the store itself is left to the foreign wrapper, which knows its own object).
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
#[allow(missing_docs)]
pub enum StoreEvent {
    HasTables {
        has: bool,
    },
    Tables,
    TableIds {
        changes: Vec<IdChange>,
    },
    HasTable {
        table_id: String,
        has: bool,
    },
    Table {
        table_id: String,
    },
    TableCellIds {
        table_id: String,
        changes: Vec<IdChange>,
    },
    HasTableCell {
        table_id: String,
        cell_id: String,
        has: bool,
    },
    RowCount {
        table_id: String,
        count: u64,
    },
    RowIds {
        table_id: String,
        changes: Vec<IdChange>,
    },
    SortedRowIds {
        table_id: String,
        cell_id: Option<String>,
        descending: bool,
        offset: u64,
        limit: Option<u64>,
        sorted_row_ids: Vec<String>,
    },
    HasRow {
        table_id: String,
        row_id: String,
        has: bool,
    },
    Row {
        table_id: String,
        row_id: String,
    },
    CellIds {
        table_id: String,
        row_id: String,
        changes: Vec<IdChange>,
    },
    HasCell {
        table_id: String,
        row_id: String,
        cell_id: String,
        has: bool,
    },
    Cell {
        table_id: String,
        row_id: String,
        cell_id: String,
        new_cell: Option<CellValue>,
        old_cell: Option<CellValue>,
    },
    InvalidCell {
        table_id: Option<String>,
        row_id: Option<String>,
        cell_id: Option<String>,
        invalid_cells: Vec<Option<CellValue>>,
    },
    HasValues {
        has: bool,
    },
    Values,
    ValueIds {
        changes: Vec<IdChange>,
    },
    HasValue {
        value_id: String,
        has: bool,
    },
    Value {
        value_id: String,
        new_value: Option<CellValue>,
        old_value: Option<CellValue>,
    },
    InvalidValue {
        value_id: Option<String>,
        invalid_values: Vec<Option<CellValue>>,
    },
    StartTransaction,
    WillFinishTransaction,
    DidFinishTransaction,
}

/// A store listener implemented in the foreign language. Runs synchronously on the thread
/// whose write ended the transaction (for sync: a socket thread). An error it returns is
/// reported on stderr and the remaining listeners still run.
#[uniffi::export(with_foreign)]
pub trait StoreListener: Send + Sync {
    /// Called for each change the listener was registered for.
    fn on_event(&self, event: StoreEvent) -> Result<(), TinystoreError>;
}

fn emit(listener: &Arc<dyn StoreListener>, event: StoreEvent) {
    if let Err(e) = listener.on_event(event) {
        report("store listener", &e);
    }
}

/// The body of a transaction, implemented in the foreign language; an error rolls back.
#[uniffi::export(with_foreign)]
pub trait TransactionActions: Send + Sync {
    /// Runs inside the transaction.
    fn run(&self) -> Result<(), TinystoreError>;
}

/// Decides at the end of a transaction whether to roll it back (TinyBase's `doRollback`).
#[uniffi::export(with_foreign)]
pub trait RollbackCheck: Send + Sync {
    /// `true` rolls every change of the transaction back.
    fn do_rollback(&self) -> Result<bool, TinystoreError>;
}

/// A persister or synchronizer status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Status {
    /// Neither loading nor saving.
    Idle,
    /// Loading.
    Loading,
    /// Saving.
    Saving,
}

impl From<persist::Status> for Status {
    fn from(s: persist::Status) -> Self {
        match s {
            persist::Status::Idle => Status::Idle,
            persist::Status::Loading => Status::Loading,
            persist::Status::Saving => Status::Saving,
        }
    }
}

/// `{loads, saves}` of a persister or synchronizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct PersistStats {
    /// Loads so far.
    pub loads: u64,
    /// Saves so far.
    pub saves: u64,
}

impl From<persist::Stats> for PersistStats {
    fn from(s: persist::Stats) -> Self {
        PersistStats {
            loads: s.loads,
            saves: s.saves,
        }
    }
}

/// Told every status change of a persister or synchronizer.
#[uniffi::export(with_foreign)]
pub trait StatusListener: Send + Sync {
    /// The new status.
    fn on_status(&self, status: Status) -> Result<(), TinystoreError>;
}

/// Receives errors of background work (auto-load, auto-save), which have no caller.
#[uniffi::export(with_foreign)]
pub trait ErrorListener: Send + Sync {
    /// The error's message.
    fn on_error(&self, message: String) -> Result<(), TinystoreError>;
}

// ---------------------------------------------------------------------------------- async

struct Slot<T> {
    value: Option<T>,
    waker: Option<Waker>,
}

/// A future completed by a thread running a blocking call: UniFFI async without a runtime.
struct Blocking<T> {
    slot: Arc<Mutex<Slot<T>>>,
}

impl<T> Future for Blocking<T> {
    type Output = T;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let mut slot = lock(&self.slot);
        match slot.value.take() {
            Some(v) => Poll::Ready(v),
            None => {
                slot.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

fn run_blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Blocking<T> {
    let slot = Arc::new(Mutex::new(Slot {
        value: None,
        waker: None,
    }));
    let done = slot.clone();
    let complete = move |v: T| {
        let waker = {
            let mut s = lock(&done);
            s.value = Some(v);
            s.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    };
    let f = Arc::new(Mutex::new(Some((f, complete))));
    let job = f.clone();
    let spawned = std::thread::Builder::new()
        .name("tinystore-async".into())
        .spawn(move || {
            if let Some((f, complete)) = lock(&job).take() {
                complete(f());
            }
        });
    if spawned.is_err() {
        // No thread: run it here (the caller's future then completes at once).
        if let Some((f, complete)) = lock(&f).take() {
            complete(f());
        }
    }
    Blocking { slot }
}

// ---------------------------------------------------------------------------------- stores

/// A reactive in-memory store of tables and values (TinyBase's `Store`).
#[derive(Debug, uniffi::Object)]
pub struct Store {
    inner: core::Store,
}

/// A Store with HLC stamps and hashes that merges and syncs (TinyBase's `MergeableStore`).
/// Has every Store method; [`MergeableStore::as_store`] gives a Store view of the same data.
#[derive(Debug, uniffi::Object)]
pub struct MergeableStore {
    inner: core::MergeableStore,
}

impl Store {
    fn core(&self) -> &core::Store {
        &self.inner
    }
}

impl MergeableStore {
    fn core(&self) -> &core::Store {
        &self.inner
    }
}

/// Creates an empty Store (TinyBase's `createStore()`).
#[uniffi::export]
pub fn create_store() -> Arc<Store> {
    Arc::new(Store {
        inner: core::Store::new(),
    })
}

/// Creates an empty MergeableStore; `unique_id` seeds its client id (random when `None`).
#[uniffi::export]
pub fn create_mergeable_store(unique_id: Option<String>) -> Arc<MergeableStore> {
    Arc::new(MergeableStore {
        inner: core::MergeableStore::new(unique_id.as_deref()),
    })
}

/// The version of libtinystore.
#[uniffi::export]
pub fn library_version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

macro_rules! store_api {
    ($ty:ident) => {
        #[uniffi::export]
        impl $ty {
            // -------------------------------------------------------------- getters

            /// Whether any table exists.
            pub fn has_tables(&self) -> bool {
                self.core().has_tables()
            }
            /// Whether the table exists.
            pub fn has_table(&self, table_id: String) -> bool {
                self.core().has_table(&table_id)
            }
            /// Whether any row of the table has this cell id.
            pub fn has_table_cell(&self, table_id: String, cell_id: String) -> bool {
                self.core().has_table_cell(&table_id, &cell_id)
            }
            /// Whether the row exists.
            pub fn has_row(&self, table_id: String, row_id: String) -> bool {
                self.core().has_row(&table_id, &row_id)
            }
            /// Whether the cell exists.
            pub fn has_cell(&self, table_id: String, row_id: String, cell_id: String) -> bool {
                self.core().has_cell(&table_id, &row_id, &cell_id)
            }
            /// Whether any value exists.
            pub fn has_values(&self) -> bool {
                self.core().has_values()
            }
            /// Whether the value exists.
            pub fn has_value(&self, value_id: String) -> bool {
                self.core().has_value(&value_id)
            }
            /// Table ids, in insertion order.
            pub fn get_table_ids(&self) -> Vec<String> {
                self.core().get_table_ids()
            }
            /// The cell ids used in a table.
            pub fn get_table_cell_ids(&self, table_id: String) -> Vec<String> {
                self.core().get_table_cell_ids(&table_id)
            }
            /// The number of rows of a table.
            pub fn get_row_count(&self, table_id: String) -> u64 {
                self.core().get_row_count(&table_id) as u64
            }
            /// Row ids of a table, in insertion order.
            pub fn get_row_ids(&self, table_id: String) -> Vec<String> {
                self.core().get_row_ids(&table_id)
            }
            /// Row ids sorted by a cell (or by id), sliced by offset and limit, with an
            /// optional custom comparison.
            pub fn get_sorted_row_ids(
                &self,
                args: SortedRowIdsArgs,
                sorter: Option<Arc<dyn RowSorter>>,
            ) -> Vec<String> {
                self.core()
                    .get_sorted_row_ids(&core_sorted_args(args, sorter))
            }
            /// Cell ids of a row, in insertion order.
            pub fn get_cell_ids(&self, table_id: String, row_id: String) -> Vec<String> {
                self.core().get_cell_ids(&table_id, &row_id)
            }
            /// A cell, `None` if absent.
            pub fn get_cell(
                &self,
                table_id: String,
                row_id: String,
                cell_id: String,
            ) -> Option<CellValue> {
                self.core()
                    .get_cell(&table_id, &row_id, &cell_id)
                    .map(Into::into)
            }
            /// Value ids, in insertion order.
            pub fn get_value_ids(&self) -> Vec<String> {
                self.core().get_value_ids()
            }
            /// A value, `None` if absent.
            pub fn get_value(&self, value_id: String) -> Option<CellValue> {
                self.core().get_value(&value_id).map(Into::into)
            }
            /// All tables (map order is not kept: use `get_tables_json` or the id getters).
            pub fn get_tables(
                &self,
            ) -> HashMap<String, HashMap<String, HashMap<String, CellValue>>> {
                self.core()
                    .get_tables()
                    .into_iter()
                    .map(|(k, v)| (k, from_table(v)))
                    .collect()
            }
            /// One table (empty if absent).
            pub fn get_table(
                &self,
                table_id: String,
            ) -> HashMap<String, HashMap<String, CellValue>> {
                from_table(self.core().get_table(&table_id))
            }
            /// One row (empty if absent).
            pub fn get_row(&self, table_id: String, row_id: String) -> HashMap<String, CellValue> {
                from_row(self.core().get_row(&table_id, &row_id))
            }
            /// All values.
            pub fn get_values(&self) -> HashMap<String, CellValue> {
                from_row(self.core().get_values())
            }

            // -------------------------------------------------------------- JSON

            /// `[tables, values]` as JSON (objects/arrays in TinyBase's encoded form).
            pub fn get_json(&self) -> String {
                self.core().get_json()
            }
            /// Replaces the content from `[tables, values]` JSON (a bare tables object is
            /// accepted too); on a parse error nothing changes.
            pub fn set_json(&self, json: String) -> Result<(), TinystoreError> {
                self.core().set_json(&json)?;
                Ok(())
            }
            /// The tables as JSON, in insertion order.
            pub fn get_tables_json(&self) -> String {
                self.core().get_tables_json()
            }
            /// Replaces the tables from JSON (`{}` deletes them all).
            pub fn set_tables_json(&self, json: String) -> Result<(), TinystoreError> {
                self.core().set_tables_json(&json)?;
                Ok(())
            }
            /// The values as JSON, in insertion order.
            pub fn get_values_json(&self) -> String {
                self.core().get_values_json()
            }
            /// Replaces the values from JSON (`{}` deletes them all).
            pub fn set_values_json(&self, json: String) -> Result<(), TinystoreError> {
                self.core().set_values_json(&json)?;
                Ok(())
            }
            /// One table as JSON, in insertion order.
            pub fn get_table_json(&self, table_id: String) -> String {
                json::stringify(&content::table_to_json(
                    &self.core().get_table(&table_id),
                    true,
                ))
            }
            /// One row as JSON, in insertion order.
            pub fn get_row_json(&self, table_id: String, row_id: String) -> String {
                json::stringify(&content::row_to_json(
                    &self.core().get_row(&table_id, &row_id),
                    true,
                ))
            }
            /// Replaces a table from JSON (keeps the JSON's order).
            pub fn set_table_json(
                &self,
                table_id: String,
                json: String,
            ) -> Result<(), TinystoreError> {
                let table = content::table_from_json(&parse(&json)?, true)?;
                self.core().set_table(&table_id, &table);
                Ok(())
            }
            /// Replaces a row from JSON (keeps the JSON's order).
            pub fn set_row_json(
                &self,
                table_id: String,
                row_id: String,
                json: String,
            ) -> Result<(), TinystoreError> {
                let row = content::row_from_json(&parse(&json)?, true)?;
                self.core().set_row(&table_id, &row_id, &row);
                Ok(())
            }
            /// Merges cells from JSON into a row.
            pub fn set_partial_row_json(
                &self,
                table_id: String,
                row_id: String,
                json: String,
            ) -> Result<(), TinystoreError> {
                let row = content::row_from_json(&parse(&json)?, true)?;
                self.core().set_partial_row(&table_id, &row_id, &row);
                Ok(())
            }
            /// Adds a row from JSON with a generated id; `None` if the row was invalid.
            pub fn add_row_json(
                &self,
                table_id: String,
                json: String,
                reuse_row_ids: bool,
            ) -> Result<Option<String>, TinystoreError> {
                let row = content::row_from_json(&parse(&json)?, true)?;
                Ok(self.core().add_row(&table_id, &row, reuse_row_ids))
            }
            /// Merges values from JSON.
            pub fn set_partial_values_json(&self, json: String) -> Result<(), TinystoreError> {
                let values = content::values_from_json(&parse(&json)?, true)?;
                self.core().set_partial_values(&values);
                Ok(())
            }
            /// Applies `[changedTables, changedValues, 1]` JSON (`null` deletes).
            pub fn apply_changes_json(&self, json: String) -> Result<(), TinystoreError> {
                let changes = core::Changes::from_json(&parse(&json)?)?;
                self.core().apply_changes(&changes);
                Ok(())
            }

            // -------------------------------------------------------------- setters

            /// Replaces the content: tables and values (an empty part deletes everything in it).
            pub fn set_content(
                &self,
                tables: HashMap<String, HashMap<String, HashMap<String, CellValue>>>,
                values: HashMap<String, CellValue>,
            ) -> Result<(), TinystoreError> {
                let (tables, values) = (to_tables(tables)?, to_row(values)?);
                self.core().set_content(&tables, &values);
                Ok(())
            }
            /// Replaces all tables.
            pub fn set_tables(
                &self,
                tables: HashMap<String, HashMap<String, HashMap<String, CellValue>>>,
            ) -> Result<(), TinystoreError> {
                self.core().set_tables(&to_tables(tables)?);
                Ok(())
            }
            /// Replaces one table.
            pub fn set_table(
                &self,
                table_id: String,
                table: HashMap<String, HashMap<String, CellValue>>,
            ) -> Result<(), TinystoreError> {
                self.core().set_table(&table_id, &to_table(table)?);
                Ok(())
            }
            /// Replaces one row.
            pub fn set_row(
                &self,
                table_id: String,
                row_id: String,
                row: HashMap<String, CellValue>,
            ) -> Result<(), TinystoreError> {
                self.core().set_row(&table_id, &row_id, &to_row(row)?);
                Ok(())
            }
            /// Merges cells into a row (creating it if missing).
            pub fn set_partial_row(
                &self,
                table_id: String,
                row_id: String,
                row: HashMap<String, CellValue>,
            ) -> Result<(), TinystoreError> {
                self.core()
                    .set_partial_row(&table_id, &row_id, &to_row(row)?);
                Ok(())
            }
            /// Adds a row with a generated id (`"0"`, `"1"`, …); `None` if it was invalid.
            pub fn add_row(
                &self,
                table_id: String,
                row: HashMap<String, CellValue>,
                reuse_row_ids: bool,
            ) -> Result<Option<String>, TinystoreError> {
                Ok(self.core().add_row(&table_id, &to_row(row)?, reuse_row_ids))
            }
            /// Sets one cell.
            pub fn set_cell(
                &self,
                table_id: String,
                row_id: String,
                cell_id: String,
                cell: CellValue,
            ) -> Result<(), TinystoreError> {
                self.core()
                    .set_cell(&table_id, &row_id, &cell_id, to_cell(cell)?);
                Ok(())
            }
            /// Replaces all values.
            pub fn set_values(
                &self,
                values: HashMap<String, CellValue>,
            ) -> Result<(), TinystoreError> {
                self.core().set_values(&to_row(values)?);
                Ok(())
            }
            /// Merges values.
            pub fn set_partial_values(
                &self,
                values: HashMap<String, CellValue>,
            ) -> Result<(), TinystoreError> {
                self.core().set_partial_values(&to_row(values)?);
                Ok(())
            }
            /// Sets one value.
            pub fn set_value(
                &self,
                value_id: String,
                value: CellValue,
            ) -> Result<(), TinystoreError> {
                self.core().set_value(&value_id, to_cell(value)?);
                Ok(())
            }
            /// Deletes every table.
            pub fn del_tables(&self) {
                self.core().del_tables();
            }
            /// Deletes a table.
            pub fn del_table(&self, table_id: String) {
                self.core().del_table(&table_id);
            }
            /// Deletes a row.
            pub fn del_row(&self, table_id: String, row_id: String) {
                self.core().del_row(&table_id, &row_id);
            }
            /// Deletes a cell (`force_del`: even if the schema gives it a default).
            pub fn del_cell(
                &self,
                table_id: String,
                row_id: String,
                cell_id: String,
                force_del: bool,
            ) {
                self.core()
                    .del_cell(&table_id, &row_id, &cell_id, force_del);
            }
            /// Deletes every value.
            pub fn del_values(&self) {
                self.core().del_values();
            }
            /// Deletes a value.
            pub fn del_value(&self, value_id: String) {
                self.core().del_value(&value_id);
            }

            // -------------------------------------------------------------- schemas

            /// Sets the tables schema from TinyBase's JSON (`{t: {c: {type, default?}}}`).
            pub fn set_tables_schema_json(&self, json: String) -> Result<(), TinystoreError> {
                self.core().set_tables_schema_json(&json)?;
                Ok(())
            }
            /// Sets the values schema from TinyBase's JSON (`{v: {type, default?}}`).
            pub fn set_values_schema_json(&self, json: String) -> Result<(), TinystoreError> {
                self.core().set_values_schema_json(&json)?;
                Ok(())
            }
            /// Sets both schemas (`values_schema` `None` leaves the values schema as is).
            pub fn set_schema_json(
                &self,
                tables_schema: String,
                values_schema: Option<String>,
            ) -> Result<(), TinystoreError> {
                self.core().try_transaction(|s| {
                    s.set_tables_schema_json(&tables_schema)?;
                    if let Some(v) = &values_schema {
                        s.set_values_schema_json(v)?;
                    }
                    Ok::<_, core::StoreError>(())
                })?;
                Ok(())
            }
            /// The tables schema as JSON.
            pub fn get_tables_schema_json(&self) -> String {
                self.core().get_tables_schema_json()
            }
            /// The values schema as JSON.
            pub fn get_values_schema_json(&self) -> String {
                self.core().get_values_schema_json()
            }
            /// `[tablesSchema, valuesSchema]` as JSON.
            pub fn get_schema_json(&self) -> String {
                self.core().get_schema_json()
            }
            /// Whether a tables schema is set.
            pub fn has_tables_schema(&self) -> bool {
                self.core().has_tables_schema()
            }
            /// Whether a values schema is set.
            pub fn has_values_schema(&self) -> bool {
                self.core().has_values_schema()
            }
            /// Removes the tables schema.
            pub fn del_tables_schema(&self) {
                self.core().del_tables_schema();
            }
            /// Removes the values schema.
            pub fn del_values_schema(&self) {
                self.core().del_values_schema();
            }
            /// Removes both schemas.
            pub fn del_schema(&self) {
                self.core().del_schema();
            }

            // -------------------------------------------------------------- transactions

            /// Runs `actions` in one transaction (joining an open one). If `actions` fails,
            /// or `do_rollback` returns true, every change is rolled back; the error of
            /// `actions` is returned.
            pub fn transaction(
                &self,
                actions: Arc<dyn TransactionActions>,
                do_rollback: Option<Arc<dyn RollbackCheck>>,
            ) -> Result<(), TinystoreError> {
                let failed = std::cell::RefCell::new(None::<TinystoreError>);
                self.core().transaction_with_rollback(
                    |_| {
                        if let Err(e) = actions.run() {
                            *failed.borrow_mut() = Some(e);
                        }
                    },
                    |_| {
                        if failed.borrow().is_some() {
                            return true;
                        }
                        match &do_rollback {
                            Some(check) => check.do_rollback().unwrap_or_else(|e| {
                                report("do_rollback", &e);
                                true
                            }),
                            None => false,
                        }
                    },
                );
                match failed.into_inner() {
                    Some(e) => Err(e),
                    None => Ok(()),
                }
            }
            /// Starts an explicit transaction; pair with `finish_transaction`.
            pub fn start_transaction(&self) {
                self.core().start_transaction();
            }
            /// Finishes an explicit transaction, rolling it back if `rollback`.
            pub fn finish_transaction(&self, rollback: bool) {
                self.core().finish_transaction_with_rollback(|_| rollback);
            }
            /// Whether a transaction is open (including while its listeners run).
            pub fn is_in_transaction(&self) -> bool {
                self.core().is_in_transaction()
            }
            /// The net changes of the current transaction as `[tables, values, 1]` JSON
            /// (`null` for deletions, objects decoded); empty outside one.
            pub fn get_transaction_changes_json(&self) -> String {
                json::stringify(&self.core().get_transaction_changes().to_json())
            }
            /// Whether and how a cell changed in the current transaction.
            pub fn get_cell_change(
                &self,
                table_id: String,
                row_id: String,
                cell_id: String,
            ) -> ChangeInfo {
                self.core()
                    .get_cell_change(&table_id, &row_id, &cell_id)
                    .into()
            }
            /// Whether and how a value changed in the current transaction.
            pub fn get_value_change(&self, value_id: String) -> ChangeInfo {
                self.core().get_value_change(&value_id).into()
            }

            // -------------------------------------------------------------- listeners

            /// Removes a listener (unknown ids are ignored).
            pub fn del_listener(&self, listener_id: u64) {
                if let Ok(id) = u32::try_from(listener_id) {
                    self.core().del_listener(core::ListenerId(id));
                }
            }
            /// Calls a listener now with the current state (TinyBase's `callListener`).
            pub fn call_listener(&self, listener_id: u64) {
                if let Ok(id) = u32::try_from(listener_id) {
                    self.core().call_listener(core::ListenerId(id));
                }
            }
            /// Listener counts per kind.
            pub fn get_listener_stats(&self) -> ListenerStats {
                self.core().get_listener_stats().into()
            }
            /// Listens to whether any table exists.
            pub fn add_has_tables_listener(
                &self,
                listener: Arc<dyn StoreListener>,
                mutator: bool,
            ) -> u64 {
                let id = self.core().add_has_tables_listener(
                    move |_, has| emit(&listener, StoreEvent::HasTables { has }),
                    mutator,
                );
                u64::from(id.0)
            }
            /// Listens to any change of any cell.
            pub fn add_tables_listener(
                &self,
                listener: Arc<dyn StoreListener>,
                mutator: bool,
            ) -> u64 {
                let id = self
                    .core()
                    .add_tables_listener(move |_| emit(&listener, StoreEvent::Tables), mutator);
                u64::from(id.0)
            }
            /// Listens to added and removed table ids.
            pub fn add_table_ids_listener(
                &self,
                listener: Arc<dyn StoreListener>,
                mutator: bool,
            ) -> u64 {
                let id = self.core().add_table_ids_listener(
                    move |_, ch| {
                        emit(
                            &listener,
                            StoreEvent::TableIds {
                                changes: id_changes(ch),
                            },
                        )
                    },
                    mutator,
                );
                u64::from(id.0)
            }
            /// Listens to whether a table (`None`: any) exists.
            pub fn add_has_table_listener(
                &self,
                table_id: Option<String>,
                listener: Arc<dyn StoreListener>,
                mutator: bool,
            ) -> u64 {
                let id = self.core().add_has_table_listener(
                    table_id.as_deref(),
                    move |_, t, has| {
                        emit(
                            &listener,
                            StoreEvent::HasTable {
                                table_id: t.into(),
                                has,
                            },
                        )
                    },
                    mutator,
                );
                u64::from(id.0)
            }
            /// Listens to any cell change in a table (`None`: any).
            pub fn add_table_listener(
                &self,
                table_id: Option<String>,
                listener: Arc<dyn StoreListener>,
                mutator: bool,
            ) -> u64 {
                let id = self.core().add_table_listener(
                    table_id.as_deref(),
                    move |_, t| emit(&listener, StoreEvent::Table { table_id: t.into() }),
                    mutator,
                );
                u64::from(id.0)
            }
            /// Listens to cell ids added to or removed from a table.
            pub fn add_table_cell_ids_listener(
                &self,
                table_id: Option<String>,
                listener: Arc<dyn StoreListener>,
                mutator: bool,
            ) -> u64 {
                let id = self.core().add_table_cell_ids_listener(
                    table_id.as_deref(),
                    move |_, t, ch| {
                        emit(
                            &listener,
                            StoreEvent::TableCellIds {
                                table_id: t.into(),
                                changes: id_changes(ch),
                            },
                        )
                    },
                    mutator,
                );
                u64::from(id.0)
            }
            /// Listens to whether a table uses a cell id.
            pub fn add_has_table_cell_listener(
                &self,
                table_id: Option<String>,
                cell_id: Option<String>,
                listener: Arc<dyn StoreListener>,
                mutator: bool,
            ) -> u64 {
                let id = self.core().add_has_table_cell_listener(
                    table_id.as_deref(),
                    cell_id.as_deref(),
                    move |_, t, c, has| {
                        emit(
                            &listener,
                            StoreEvent::HasTableCell {
                                table_id: t.into(),
                                cell_id: c.into(),
                                has,
                            },
                        )
                    },
                    mutator,
                );
                u64::from(id.0)
            }
            /// Listens to a table's row count.
            pub fn add_row_count_listener(
                &self,
                table_id: Option<String>,
                listener: Arc<dyn StoreListener>,
                mutator: bool,
            ) -> u64 {
                let id = self.core().add_row_count_listener(
                    table_id.as_deref(),
                    move |_, t, n| {
                        emit(
                            &listener,
                            StoreEvent::RowCount {
                                table_id: t.into(),
                                count: n as u64,
                            },
                        )
                    },
                    mutator,
                );
                u64::from(id.0)
            }
            /// Listens to row ids added to or removed from a table.
            pub fn add_row_ids_listener(
                &self,
                table_id: Option<String>,
                listener: Arc<dyn StoreListener>,
                mutator: bool,
            ) -> u64 {
                let id = self.core().add_row_ids_listener(
                    table_id.as_deref(),
                    move |_, t, ch| {
                        emit(
                            &listener,
                            StoreEvent::RowIds {
                                table_id: t.into(),
                                changes: id_changes(ch),
                            },
                        )
                    },
                    mutator,
                );
                u64::from(id.0)
            }
            /// Listens to a sorted, sliced list of row ids; fires when that list changes.
            pub fn add_sorted_row_ids_listener(
                &self,
                args: SortedRowIdsArgs,
                sorter: Option<Arc<dyn RowSorter>>,
                listener: Arc<dyn StoreListener>,
                mutator: bool,
            ) -> u64 {
                let id = self.core().add_sorted_row_ids_listener(
                    core_sorted_args(args, sorter),
                    move |_, a, ids| {
                        emit(
                            &listener,
                            StoreEvent::SortedRowIds {
                                table_id: a.table_id.clone(),
                                cell_id: a.cell_id.clone(),
                                descending: a.descending,
                                offset: a.offset as u64,
                                limit: a.limit.map(|l| l as u64),
                                sorted_row_ids: ids.to_vec(),
                            },
                        )
                    },
                    mutator,
                );
                u64::from(id.0)
            }
            /// Listens to whether a row exists.
            pub fn add_has_row_listener(
                &self,
                table_id: Option<String>,
                row_id: Option<String>,
                listener: Arc<dyn StoreListener>,
                mutator: bool,
            ) -> u64 {
                let id = self.core().add_has_row_listener(
                    table_id.as_deref(),
                    row_id.as_deref(),
                    move |_, t, r, has| {
                        emit(
                            &listener,
                            StoreEvent::HasRow {
                                table_id: t.into(),
                                row_id: r.into(),
                                has,
                            },
                        )
                    },
                    mutator,
                );
                u64::from(id.0)
            }
            /// Listens to any cell change in a row.
            pub fn add_row_listener(
                &self,
                table_id: Option<String>,
                row_id: Option<String>,
                listener: Arc<dyn StoreListener>,
                mutator: bool,
            ) -> u64 {
                let id = self.core().add_row_listener(
                    table_id.as_deref(),
                    row_id.as_deref(),
                    move |_, t, r| {
                        emit(
                            &listener,
                            StoreEvent::Row {
                                table_id: t.into(),
                                row_id: r.into(),
                            },
                        )
                    },
                    mutator,
                );
                u64::from(id.0)
            }
            /// Listens to cell ids added to or removed from a row.
            pub fn add_cell_ids_listener(
                &self,
                table_id: Option<String>,
                row_id: Option<String>,
                listener: Arc<dyn StoreListener>,
                mutator: bool,
            ) -> u64 {
                let id = self.core().add_cell_ids_listener(
                    table_id.as_deref(),
                    row_id.as_deref(),
                    move |_, t, r, ch| {
                        emit(
                            &listener,
                            StoreEvent::CellIds {
                                table_id: t.into(),
                                row_id: r.into(),
                                changes: id_changes(ch),
                            },
                        )
                    },
                    mutator,
                );
                u64::from(id.0)
            }
            /// Listens to whether a cell exists.
            pub fn add_has_cell_listener(
                &self,
                table_id: Option<String>,
                row_id: Option<String>,
                cell_id: Option<String>,
                listener: Arc<dyn StoreListener>,
                mutator: bool,
            ) -> u64 {
                let id = self.core().add_has_cell_listener(
                    table_id.as_deref(),
                    row_id.as_deref(),
                    cell_id.as_deref(),
                    move |_, t, r, c, has| {
                        emit(
                            &listener,
                            StoreEvent::HasCell {
                                table_id: t.into(),
                                row_id: r.into(),
                                cell_id: c.into(),
                                has,
                            },
                        )
                    },
                    mutator,
                );
                u64::from(id.0)
            }
            /// Listens to a cell: `Cell { table_id, row_id, cell_id, new_cell, old_cell }`.
            pub fn add_cell_listener(
                &self,
                table_id: Option<String>,
                row_id: Option<String>,
                cell_id: Option<String>,
                listener: Arc<dyn StoreListener>,
                mutator: bool,
            ) -> u64 {
                let id = self.core().add_cell_listener(
                    table_id.as_deref(),
                    row_id.as_deref(),
                    cell_id.as_deref(),
                    move |_, t, r, c, new, old| {
                        emit(
                            &listener,
                            StoreEvent::Cell {
                                table_id: t.into(),
                                row_id: r.into(),
                                cell_id: c.into(),
                                new_cell: opt_value(new),
                                old_cell: opt_value(old),
                            },
                        )
                    },
                    mutator,
                );
                u64::from(id.0)
            }
            /// Listens to rejected cell writes.
            pub fn add_invalid_cell_listener(
                &self,
                table_id: Option<String>,
                row_id: Option<String>,
                cell_id: Option<String>,
                listener: Arc<dyn StoreListener>,
                mutator: bool,
            ) -> u64 {
                let id = self.core().add_invalid_cell_listener(
                    table_id.as_deref(),
                    row_id.as_deref(),
                    cell_id.as_deref(),
                    move |_, t, r, c, invalid| {
                        emit(
                            &listener,
                            StoreEvent::InvalidCell {
                                table_id: t.map(Into::into),
                                row_id: r.map(Into::into),
                                cell_id: c.map(Into::into),
                                invalid_cells: invalid
                                    .iter()
                                    .map(|c| opt_value(c.as_ref()))
                                    .collect(),
                            },
                        )
                    },
                    mutator,
                );
                u64::from(id.0)
            }
            /// Listens to whether any value exists.
            pub fn add_has_values_listener(
                &self,
                listener: Arc<dyn StoreListener>,
                mutator: bool,
            ) -> u64 {
                let id = self.core().add_has_values_listener(
                    move |_, has| emit(&listener, StoreEvent::HasValues { has }),
                    mutator,
                );
                u64::from(id.0)
            }
            /// Listens to any value change.
            pub fn add_values_listener(
                &self,
                listener: Arc<dyn StoreListener>,
                mutator: bool,
            ) -> u64 {
                let id = self
                    .core()
                    .add_values_listener(move |_| emit(&listener, StoreEvent::Values), mutator);
                u64::from(id.0)
            }
            /// Listens to added and removed value ids.
            pub fn add_value_ids_listener(
                &self,
                listener: Arc<dyn StoreListener>,
                mutator: bool,
            ) -> u64 {
                let id = self.core().add_value_ids_listener(
                    move |_, ch| {
                        emit(
                            &listener,
                            StoreEvent::ValueIds {
                                changes: id_changes(ch),
                            },
                        )
                    },
                    mutator,
                );
                u64::from(id.0)
            }
            /// Listens to whether a value exists.
            pub fn add_has_value_listener(
                &self,
                value_id: Option<String>,
                listener: Arc<dyn StoreListener>,
                mutator: bool,
            ) -> u64 {
                let id = self.core().add_has_value_listener(
                    value_id.as_deref(),
                    move |_, v, has| {
                        emit(
                            &listener,
                            StoreEvent::HasValue {
                                value_id: v.into(),
                                has,
                            },
                        )
                    },
                    mutator,
                );
                u64::from(id.0)
            }
            /// Listens to a value: `Value { value_id, new_value, old_value }`.
            pub fn add_value_listener(
                &self,
                value_id: Option<String>,
                listener: Arc<dyn StoreListener>,
                mutator: bool,
            ) -> u64 {
                let id = self.core().add_value_listener(
                    value_id.as_deref(),
                    move |_, v, new, old| {
                        emit(
                            &listener,
                            StoreEvent::Value {
                                value_id: v.into(),
                                new_value: opt_value(new),
                                old_value: opt_value(old),
                            },
                        )
                    },
                    mutator,
                );
                u64::from(id.0)
            }
            /// Listens to rejected value writes.
            pub fn add_invalid_value_listener(
                &self,
                value_id: Option<String>,
                listener: Arc<dyn StoreListener>,
                mutator: bool,
            ) -> u64 {
                let id = self.core().add_invalid_value_listener(
                    value_id.as_deref(),
                    move |_, v, invalid| {
                        emit(
                            &listener,
                            StoreEvent::InvalidValue {
                                value_id: v.map(Into::into),
                                invalid_values: invalid
                                    .iter()
                                    .map(|c| opt_value(c.as_ref()))
                                    .collect(),
                            },
                        )
                    },
                    mutator,
                );
                u64::from(id.0)
            }
            /// Called when the outermost transaction starts.
            pub fn add_start_transaction_listener(&self, listener: Arc<dyn StoreListener>) -> u64 {
                let id = self.core().add_start_transaction_listener(move |_| {
                    emit(&listener, StoreEvent::StartTransaction)
                });
                u64::from(id.0)
            }
            /// Called after mutator listeners and rollback, before the other listeners.
            pub fn add_will_finish_transaction_listener(
                &self,
                listener: Arc<dyn StoreListener>,
            ) -> u64 {
                let id = self.core().add_will_finish_transaction_listener(move |_| {
                    emit(&listener, StoreEvent::WillFinishTransaction)
                });
                u64::from(id.0)
            }
            /// Called at the very end of every outermost transaction.
            pub fn add_did_finish_transaction_listener(
                &self,
                listener: Arc<dyn StoreListener>,
            ) -> u64 {
                let id = self.core().add_did_finish_transaction_listener(move |_| {
                    emit(&listener, StoreEvent::DidFinishTransaction)
                });
                u64::from(id.0)
            }

            /// Whether this is a MergeableStore.
            pub fn is_mergeable(&self) -> bool {
                self.core().is_mergeable()
            }
        }
    };
}

store_api!(Store);
store_api!(MergeableStore);

#[uniffi::export]
impl MergeableStore {
    /// A Store view of the same data (for APIs that take a Store, such as persisters).
    pub fn as_store(&self) -> Arc<Store> {
        Arc::new(Store {
            inner: self.inner.store().clone(),
        })
    }
    /// The 5-character client id at the end of this store's HLCs.
    pub fn get_client_id(&self) -> String {
        self.inner.client_id()
    }
    /// The full stamped content with hashes, as TinyBase's persisters write it (JSON).
    pub fn get_mergeable_content_json(&self) -> String {
        self.inner.get_mergeable_content_json()
    }
    /// Replaces content and stamps from [`MergeableStore::get_mergeable_content_json`]'s form.
    pub fn set_mergeable_content_json(&self, json: String) -> Result<(), TinystoreError> {
        self.inner.set_mergeable_content_json(&json)?;
        Ok(())
    }
    /// Merges changes (or full content) from another replica, in TinyBase's JSON; each leaf
    /// wins iff its HLC is later. An invalid payload changes nothing.
    pub fn apply_mergeable_changes_json(&self, json: String) -> Result<(), TinystoreError> {
        self.inner.apply_mergeable_changes_json(&json)?;
        Ok(())
    }
    /// The stamps changed by the current transaction, as JSON (`[tables, values, 1]`).
    pub fn get_transaction_mergeable_changes_json(&self, with_hashes: bool) -> String {
        let form = core::mergeable::JsonForm {
            hashes: with_hashes,
            changes: true,
            encoded: true,
        };
        self.inner
            .get_transaction_mergeable_changes(with_hashes)
            .to_json_string(form)
    }
    /// Sets content that any real write wins over (TinyBase's `setDefaultContent`), from
    /// `[tables, values]` JSON.
    pub fn set_default_content_json(&self, json: String) -> Result<(), TinystoreError> {
        let (tables, values) = parse_content(&json)?;
        self.inner.set_default_content(&tables, &values);
        Ok(())
    }
    /// Merges with another MergeableStore both ways: afterwards both hold the same content.
    pub fn merge(&self, other: Arc<MergeableStore>) {
        self.inner.merge(&other.inner);
    }
    /// The content hashes (equal hashes: equal content).
    pub fn get_mergeable_content_hashes(&self) -> ContentHashes {
        let (tables_hash, values_hash) = self.inner.get_mergeable_content_hashes();
        ContentHashes {
            tables_hash,
            values_hash,
        }
    }
    /// Each table's hash.
    pub fn get_mergeable_table_hashes(&self) -> HashMap<String, u32> {
        self.inner
            .get_mergeable_table_hashes()
            .into_iter()
            .collect()
    }
    /// Each value's hash.
    pub fn get_mergeable_value_hashes(&self) -> HashMap<String, u32> {
        self.inner
            .get_mergeable_value_hashes()
            .into_iter()
            .collect()
    }
}

// ---------------------------------------------------------------------------------- persisters

/// Storage implemented in the foreign language over TinyBase's JSON document (TinyBase's
/// `createCustomPersister` with `getPersisted`/`setPersisted`).
#[uniffi::export(with_foreign)]
pub trait PersisterStorage: Send + Sync {
    /// The stored document, `None` if nothing is stored yet.
    fn read(&self) -> Result<Option<String>, TinystoreError>;
    /// Stores a new document.
    fn write(&self, document: String) -> Result<(), TinystoreError>;
}

/// The layout of a store in an SQLite database.
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum SqliteConfig {
    /// TinyBase's JSON document in one row of one table (Stores and MergeableStores).
    Json {
        /// The table (default `tinybase`).
        table: String,
        /// Its id column (default `_id`).
        id_column: String,
        /// Its document column (default `store`).
        store_column: String,
    },
    /// One database table per Store table (plain Stores only).
    Tabular {
        /// Database tables loaded, each into a Store table.
        load: Vec<TableLoad>,
        /// Store tables saved, each into a database table.
        save: Vec<TableSave>,
        /// Values loaded: `None` none, `Some([])` all, else these ids.
        values_load: Option<Vec<String>>,
        /// Values saved: as `values_load`.
        values_save: Option<Vec<String>>,
        /// The values table (default `tinybase_values`).
        values_table: String,
    },
}

/// Which database table loads into which Store table.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct TableLoad {
    /// The database table.
    pub db_table: String,
    /// The Store table.
    pub table_id: String,
    /// The row-id column (default `_id`).
    #[uniffi(default = "_id")]
    pub row_id_column: String,
    /// An SQL condition selecting rows (`$tableName` is the quoted table).
    #[uniffi(default = None)]
    pub condition: Option<String>,
}

/// Where a Store table is saved.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct TableSave {
    /// The Store table.
    pub table_id: String,
    /// The database table.
    pub db_table: String,
    /// The row-id column (default `_id`).
    #[uniffi(default = "_id")]
    pub row_id_column: String,
    /// Drop columns no row uses (full saves).
    #[uniffi(default = false)]
    pub delete_empty_columns: bool,
    /// Drop the database table when the Store table is empty.
    #[uniffi(default = false)]
    pub delete_empty_table: bool,
    /// The rows a save may delete.
    #[uniffi(default = None)]
    pub condition: Option<String>,
}

/// The default JSON-mode configuration (table `tinybase`).
#[uniffi::export]
pub fn sqlite_json_config(table: Option<String>) -> SqliteConfig {
    let c = match table {
        Some(t) => persist::sqlite::SqliteJsonConfig::table(t),
        None => persist::sqlite::SqliteJsonConfig::default(),
    };
    SqliteConfig::Json {
        table: c.table,
        id_column: c.id_column,
        store_column: c.store_column,
    }
}

/// Tabular mode loading and saving each named Store table under its own name, and all values.
#[uniffi::export]
pub fn sqlite_tabular_config(table_ids: Vec<String>) -> SqliteConfig {
    let c = persist::sqlite::TabularConfig::tables(&table_ids);
    SqliteConfig::Tabular {
        load: c
            .load
            .into_iter()
            .map(|l| TableLoad {
                db_table: l.db_table,
                table_id: l.table_id,
                row_id_column: l.row_id_column,
                condition: l.condition,
            })
            .collect(),
        save: c
            .save
            .into_iter()
            .map(|s| TableSave {
                table_id: s.table_id,
                db_table: s.db_table,
                row_id_column: s.row_id_column,
                delete_empty_columns: s.delete_empty_columns,
                delete_empty_table: s.delete_empty_table,
                condition: s.condition,
            })
            .collect(),
        values_load: Some(vec![]),
        values_save: Some(vec![]),
        values_table: c.values_table,
    }
}

fn value_selection(v: Option<Vec<String>>) -> persist::sqlite::ValueSelection {
    use persist::sqlite::ValueSelection;
    match v {
        None => ValueSelection::None,
        Some(ids) if ids.is_empty() => ValueSelection::All,
        Some(ids) => ValueSelection::Only(ids),
    }
}

fn sqlite_mode(config: SqliteConfig) -> persist::sqlite::SqliteMode {
    use persist::sqlite as s;
    match config {
        SqliteConfig::Json {
            table,
            id_column,
            store_column,
        } => s::SqliteMode::Json(s::SqliteJsonConfig {
            table,
            id_column,
            store_column,
        }),
        SqliteConfig::Tabular {
            load,
            save,
            values_load,
            values_save,
            values_table,
        } => s::SqliteMode::Tabular(s::TabularConfig {
            load: load
                .into_iter()
                .map(|l| s::TableLoad {
                    db_table: l.db_table,
                    table_id: l.table_id,
                    row_id_column: l.row_id_column,
                    condition: l.condition,
                })
                .collect(),
            save: save
                .into_iter()
                .map(|t| s::TableSave {
                    table_id: t.table_id,
                    db_table: t.db_table,
                    row_id_column: t.row_id_column,
                    delete_empty_columns: t.delete_empty_columns,
                    delete_empty_table: t.delete_empty_table,
                    condition: t.condition,
                })
                .collect(),
            values_load: value_selection(values_load),
            values_save: value_selection(values_save),
            values_table,
        }),
    }
}

/// Keeps a store in an SQLite database (TinyBase's SQLite persisters; files interchangeable).
#[derive(Debug, uniffi::Object)]
pub struct SqlitePersister {
    inner: CorePersister,
    path: String,
}

/// Keeps a store in a JSON file (TinyBase's file persister; atomic writes).
#[derive(Debug, uniffi::Object)]
pub struct FilePersister {
    inner: CorePersister,
    path: String,
}

/// Keeps a store in storage the app implements ([`PersisterStorage`]).
#[derive(Debug, uniffi::Object)]
pub struct CustomPersister {
    inner: CorePersister,
}

/// An SQLite persister for `store` (a Store, or a MergeableStore's `as_store()`) in the
/// database file `path` (`:memory:` for an in-memory database); `config` defaults to JSON mode.
#[uniffi::export]
pub fn create_sqlite_persister(
    store: Arc<Store>,
    path: String,
    config: Option<SqliteConfig>,
) -> Result<Arc<SqlitePersister>, TinystoreError> {
    let mode = sqlite_mode(config.unwrap_or_else(|| sqlite_json_config(None)));
    let db = if path == ":memory:" {
        persist::sqlite::SqlitePersistence::open_in_memory(mode)?
    } else {
        persist::sqlite::SqlitePersistence::open(&path, mode)?
    };
    Ok(Arc::new(SqlitePersister {
        inner: CorePersister::try_new(&store.inner, db)?,
        path,
    }))
}

/// A file persister for `store` (a Store, or a MergeableStore's `as_store()`) at `path`.
#[uniffi::export]
pub fn create_file_persister(store: Arc<Store>, path: String) -> Arc<FilePersister> {
    let file = persist::file::FilePersistence::new(&path);
    Arc::new(FilePersister {
        inner: CorePersister::new(&store.inner, file),
        path,
    })
}

/// A persister over foreign storage (TinyBase's `createCustomPersister`).
#[uniffi::export]
pub fn create_custom_persister(
    store: Arc<Store>,
    storage: Arc<dyn PersisterStorage>,
) -> Arc<CustomPersister> {
    let (r, w) = (storage.clone(), storage);
    let custom = persist::CustomPersistence::new(
        move || r.read().map_err(persist_error),
        move |doc: &str| w.write(doc.to_string()).map_err(persist_error),
    );
    Arc::new(CustomPersister {
        inner: CorePersister::new(&store.inner, custom),
    })
}

fn interval(ms: Option<u64>) -> Duration {
    ms.map_or(persist::DEFAULT_AUTO_LOAD_INTERVAL, Duration::from_millis)
}

macro_rules! persister_api {
    ($ty:ident) => {
        #[uniffi::export]
        impl $ty {
            /// Loads the stored content into the store (blocks). With nothing stored,
            /// `initial` (`[tables, values]` JSON) is set. On error nothing changes and saves
            /// are refused until a load succeeds or `allow_overwrite` is called.
            pub fn load(&self, initial: Option<String>) -> Result<(), TinystoreError> {
                let initial = parse_initial(initial)?;
                self.inner.load(as_pair(&initial))?;
                Ok(())
            }
            /// Saves the whole content (blocks until stored).
            pub fn save(&self) -> Result<(), TinystoreError> {
                self.inner.save()?;
                Ok(())
            }
            /// `load` on a thread of its own.
            pub async fn load_async(&self, initial: Option<String>) -> Result<(), TinystoreError> {
                let p = self.inner.clone();
                run_blocking(move || {
                    let initial = parse_initial(initial)?;
                    p.load(as_pair(&initial))?;
                    Ok(())
                })
                .await
            }
            /// `save` on a thread of its own.
            pub async fn save_async(&self) -> Result<(), TinystoreError> {
                let p = self.inner.clone();
                run_blocking(move || {
                    p.save()?;
                    Ok(())
                })
                .await
            }
            /// Lets saves replace stored data that failed to load.
            pub fn allow_overwrite(&self) {
                self.inner.allow_overwrite();
            }
            /// Saves now, then after every transaction that changed the store.
            pub fn start_auto_save(&self) -> Result<(), TinystoreError> {
                self.inner.start_auto_save()?;
                Ok(())
            }
            /// Stops auto-saving.
            pub fn stop_auto_save(&self) {
                self.inner.stop_auto_save();
            }
            /// Whether auto-save is on.
            pub fn is_auto_saving(&self) -> bool {
                self.inner.is_auto_saving()
            }
            /// Loads now, then polls the storage every `interval_ms` (default 1000) and loads
            /// again when someone else changed it.
            pub fn start_auto_load(
                &self,
                initial: Option<String>,
                interval_ms: Option<u64>,
            ) -> Result<(), TinystoreError> {
                let initial = parse_initial(initial)?;
                self.inner
                    .start_auto_load(as_pair(&initial), interval(interval_ms))?;
                Ok(())
            }
            /// Stops auto-loading.
            pub fn stop_auto_load(&self) {
                self.inner.stop_auto_load();
            }
            /// Whether auto-load is on.
            pub fn is_auto_loading(&self) -> bool {
                self.inner.is_auto_loading()
            }
            /// Auto-load then auto-save (the reverse with `save_first`).
            pub fn start_auto_persisting(
                &self,
                initial: Option<String>,
                interval_ms: Option<u64>,
                save_first: bool,
            ) -> Result<(), TinystoreError> {
                let initial = parse_initial(initial)?;
                self.inner.start_auto_persisting(
                    as_pair(&initial),
                    interval(interval_ms),
                    save_first,
                )?;
                Ok(())
            }
            /// `start_auto_persisting` on a thread of its own.
            pub async fn start_auto_persisting_async(
                &self,
                initial: Option<String>,
                interval_ms: Option<u64>,
                save_first: bool,
            ) -> Result<(), TinystoreError> {
                let p = self.inner.clone();
                run_blocking(move || {
                    let initial = parse_initial(initial)?;
                    p.start_auto_persisting(as_pair(&initial), interval(interval_ms), save_first)?;
                    Ok(())
                })
                .await
            }
            /// Stops auto-load and auto-save.
            pub fn stop_auto_persisting(&self) {
                self.inner.stop_auto_persisting();
            }
            /// Idle, loading or saving.
            pub fn get_status(&self) -> Status {
                self.inner.get_status().into()
            }
            /// Loads and saves so far.
            pub fn get_stats(&self) -> PersistStats {
                self.inner.get_stats().into()
            }
            /// Calls `listener` on every status change; returns an id for `del_listener`.
            pub fn add_status_listener(&self, listener: Arc<dyn StatusListener>) -> u64 {
                self.inner.add_status_listener(move |s| {
                    if let Err(e) = listener.on_status(s.into()) {
                        report("status listener", &e);
                    }
                })
            }
            /// Removes a status listener.
            pub fn del_listener(&self, listener_id: u64) {
                self.inner.del_listener(listener_id);
            }
            /// Receives the errors of auto-load and auto-save.
            pub fn set_on_ignored_error(&self, listener: Arc<dyn ErrorListener>) {
                self.inner.set_on_ignored_error(move |e| {
                    if let Err(e) = listener.on_error(e.to_string()) {
                        report("error listener", &e);
                    }
                });
            }
            /// Stops everything this persister runs (TinyBase's `destroy`; named `shutdown`
            /// because every generated Kotlin object already has a `destroy()` that frees it).
            pub fn shutdown(&self) {
                self.inner.destroy();
            }
        }
    };
}

persister_api!(SqlitePersister);
persister_api!(FilePersister);
persister_api!(CustomPersister);

#[uniffi::export]
impl SqlitePersister {
    /// The database path.
    pub fn get_path(&self) -> String {
        self.path.clone()
    }
}

#[uniffi::export]
impl FilePersister {
    /// The file path (TinyBase's `getFilePath`).
    pub fn get_file_path(&self) -> String {
        self.path.clone()
    }
}

// ---------------------------------------------------------------------------------- sync

/// A connection status of a WebSocket synchronizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ConnectionStatus {
    /// Opening the socket.
    Connecting,
    /// Open.
    Connected,
    /// Closed (waiting to retry, with `reconnect`).
    Disconnected,
}

/// `{sends, receives}`: messages a synchronizer sent and received.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct SyncStats {
    /// Messages sent.
    pub sends: u64,
    /// Valid messages received.
    pub receives: u64,
}

/// Carries a synchronizer's messages, implemented in the foreign language (TinyBase's
/// `createCustomSynchronizer`). `send` must not block and must not deliver to a synchronizer
/// on the calling thread: queue the message and deliver it from another thread with
/// [`Synchronizer::receive`].
#[uniffi::export(with_foreign)]
pub trait SyncTransport: Send + Sync {
    /// Sends an encoded message to peer `to`, or to every peer when `None`.
    fn send(&self, to: Option<String>, message: String) -> Result<(), TinystoreError>;
    /// The synchronizer was shut down: release the medium. (Not `close`: generated Kotlin
    /// classes are `AutoCloseable`.)
    fn disconnect(&self) -> Result<(), TinystoreError>;
}

struct ForeignTransport(Arc<dyn SyncTransport>);

impl Transport for ForeignTransport {
    fn send(&self, to: Option<&str>, remainder: String) {
        if let Err(e) = self.0.send(to.map(str::to_string), remainder) {
            report("sync transport", &e);
        }
    }
    fn close(&self) {
        if let Err(e) = self.0.disconnect() {
            report("sync transport", &e);
        }
    }
}

/// Options of a synchronizer.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct SyncOptions {
    /// How long each request waits for its answer (default 1000 ms).
    #[uniffi(default = None)]
    pub request_timeout_ms: Option<u64>,
}

fn sync_options(
    options: Option<SyncOptions>,
    on_error: Option<Arc<dyn ErrorListener>>,
) -> csync::SynchronizerOptions {
    csync::SynchronizerOptions {
        request_timeout: options
            .and_then(|o| o.request_timeout_ms)
            .map(Duration::from_millis),
        on_ignored_error: on_error.map(|l| {
            let hook: csync::synchronizer::ErrorHook = Arc::new(move |e: &csync::SyncError| {
                if let Err(e) = l.on_error(e.to_string()) {
                    report("error listener", &e);
                }
            });
            hook
        }),
        ..Default::default()
    }
}

/// Keeps a MergeableStore in sync with peers over a transport (a [`LocalBus`] or a foreign
/// [`SyncTransport`]).
#[derive(Debug, uniffi::Object)]
pub struct Synchronizer {
    inner: csync::Synchronizer,
}

/// A synchronizer connected to a sync server over a WebSocket (TinyBase's
/// `createWsSynchronizer`; works with `tinystore serve` and TinyBase's own server).
#[derive(Debug, uniffi::Object)]
pub struct WsSynchronizer {
    inner: csync::WsSynchronizer,
}

impl Synchronizer {
    fn sync(&self) -> &csync::Synchronizer {
        &self.inner
    }
}

impl WsSynchronizer {
    fn sync(&self) -> &csync::Synchronizer {
        &self.inner
    }
}

impl Drop for WsSynchronizer {
    fn drop(&mut self) {
        self.inner.destroy();
    }
}

/// A synchronizer over a foreign transport; feed it incoming messages with `receive`.
#[uniffi::export]
pub fn create_custom_synchronizer(
    store: Arc<MergeableStore>,
    transport: Arc<dyn SyncTransport>,
    options: Option<SyncOptions>,
    on_ignored_error: Option<Arc<dyn ErrorListener>>,
) -> Arc<Synchronizer> {
    Arc::new(Synchronizer {
        inner: csync::Synchronizer::with_options(
            &store.inner,
            Arc::new(ForeignTransport(transport)),
            sync_options(options, on_ignored_error),
        ),
    })
}

/// How a WebSocket synchronizer connects.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct WsSynchronizerOptions {
    /// `Some(channel)`: use the `tinybase` subprotocol on this channel (URL is the base);
    /// `None`: the URL path is the room.
    #[uniffi(default = None)]
    pub channel: Option<String>,
    /// Extra headers of the upgrade request (e.g. `Authorization`).
    #[uniffi(default = None)]
    pub headers: Option<HashMap<String, String>>,
    /// Reconnect dropped connections (with backoff); TinyBase never does.
    #[uniffi(default = false)]
    pub reconnect: bool,
    /// How long connecting may take (default 10000 ms).
    #[uniffi(default = None)]
    pub connect_timeout_ms: Option<u64>,
    /// How long each request waits for its answer (default 1000 ms).
    #[uniffi(default = None)]
    pub request_timeout_ms: Option<u64>,
    /// Split messages larger than this many bytes into fragments.
    #[uniffi(default = None)]
    pub fragment_size: Option<u64>,
}

fn connect(
    store: &core::MergeableStore,
    url: String,
    options: Option<WsSynchronizerOptions>,
    on_error: Option<Arc<dyn ErrorListener>>,
) -> Result<csync::WsSynchronizer, TinystoreError> {
    let o = options.unwrap_or(WsSynchronizerOptions {
        channel: None,
        headers: None,
        reconnect: false,
        connect_timeout_ms: None,
        request_timeout_ms: None,
        fragment_size: None,
    });
    let mut headers: Vec<(String, String)> = o.headers.unwrap_or_default().into_iter().collect();
    headers.sort();
    let config = csync::WsClientConfig {
        url,
        channel: o.channel,
        headers,
        fragment_size: o
            .fragment_size
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
        reconnect: o.reconnect.then(csync::ReconnectPolicy::default),
        connect_timeout: o.connect_timeout_ms.map(Duration::from_millis),
        ..Default::default()
    };
    let options = sync_options(
        Some(SyncOptions {
            request_timeout_ms: o.request_timeout_ms,
        }),
        on_error,
    );
    csync::WsSynchronizer::connect(store, config, options).map_err(|e| TinystoreError::Sync {
        reason: e.to_string(),
    })
}

/// Connects `store` to a sync server at `url` (`ws://host:port/room`); blocks until the socket
/// is open. Sync starts with `start_sync`.
#[uniffi::export]
pub fn create_ws_synchronizer(
    store: Arc<MergeableStore>,
    url: String,
    options: Option<WsSynchronizerOptions>,
    on_ignored_error: Option<Arc<dyn ErrorListener>>,
) -> Result<Arc<WsSynchronizer>, TinystoreError> {
    Ok(Arc::new(WsSynchronizer {
        inner: connect(&store.inner, url, options, on_ignored_error)?,
    }))
}

/// `create_ws_synchronizer` on a thread of its own.
#[uniffi::export]
pub async fn create_ws_synchronizer_async(
    store: Arc<MergeableStore>,
    url: String,
    options: Option<WsSynchronizerOptions>,
    on_ignored_error: Option<Arc<dyn ErrorListener>>,
) -> Result<Arc<WsSynchronizer>, TinystoreError> {
    let store = store.inner.clone();
    run_blocking(move || {
        Ok(Arc::new(WsSynchronizer {
            inner: connect(&store, url, options, on_ignored_error)?,
        }))
    })
    .await
}

macro_rules! sync_api {
    ($ty:ident) => {
        #[uniffi::export]
        impl $ty {
            /// Starts syncing: pulls what the peers have (blocks until done or timed out;
            /// with nothing pulled, `initial` `[tables, values]` JSON becomes default
            /// content), then sends every change.
            pub fn start_sync(&self, initial: Option<String>) -> Result<(), TinystoreError> {
                let initial = parse_initial(initial)?;
                self.sync().start_sync(as_pair(&initial));
                Ok(())
            }
            /// `start_sync` on a thread of its own.
            pub async fn start_sync_async(
                &self,
                initial: Option<String>,
            ) -> Result<(), TinystoreError> {
                let s = self.sync().clone();
                run_blocking(move || {
                    let initial = parse_initial(initial)?;
                    s.start_sync(as_pair(&initial));
                    Ok(())
                })
                .await
            }
            /// Stops syncing.
            pub fn stop_sync(&self) {
                self.sync().stop_sync();
            }
            /// Pulls what the peers have and applies it (blocks).
            pub fn load(&self, initial: Option<String>) -> Result<(), TinystoreError> {
                let initial = parse_initial(initial)?;
                self.sync().load(as_pair(&initial));
                Ok(())
            }
            /// `load` on a thread of its own.
            pub async fn load_async(&self, initial: Option<String>) -> Result<(), TinystoreError> {
                let s = self.sync().clone();
                run_blocking(move || {
                    let initial = parse_initial(initial)?;
                    s.load(as_pair(&initial));
                    Ok(())
                })
                .await
            }
            /// Announces this store's hashes to the peers (they pull what differs).
            pub fn save(&self) {
                self.sync().save();
            }
            /// Loads, then applies whatever peers send from now on.
            pub fn start_auto_load(&self, initial: Option<String>) -> Result<(), TinystoreError> {
                let initial = parse_initial(initial)?;
                self.sync().start_auto_load(as_pair(&initial));
                Ok(())
            }
            /// Stops applying what peers send.
            pub fn stop_auto_load(&self) {
                self.sync().stop_auto_load();
            }
            /// Whether auto-load is on.
            pub fn is_auto_loading(&self) -> bool {
                self.sync().is_auto_loading()
            }
            /// Saves, then sends every transaction's changes.
            pub fn start_auto_save(&self) {
                self.sync().start_auto_save();
            }
            /// Stops sending changes.
            pub fn stop_auto_save(&self) {
                self.sync().stop_auto_save();
            }
            /// Whether auto-save is on.
            pub fn is_auto_saving(&self) -> bool {
                self.sync().is_auto_saving()
            }
            /// Auto-load then auto-save.
            pub fn start_auto_persisting(
                &self,
                initial: Option<String>,
            ) -> Result<(), TinystoreError> {
                let initial = parse_initial(initial)?;
                self.sync().start_auto_persisting(as_pair(&initial));
                Ok(())
            }
            /// Stops both.
            pub fn stop_auto_persisting(&self) {
                self.sync().stop_auto_persisting();
            }
            /// Idle, loading or saving.
            pub fn get_status(&self) -> Status {
                self.sync().get_status().into()
            }
            /// Loads and saves so far.
            pub fn get_stats(&self) -> PersistStats {
                self.sync().get_stats().into()
            }
            /// Messages sent and received so far.
            pub fn get_synchronizer_stats(&self) -> SyncStats {
                let s = self.sync().get_synchronizer_stats();
                SyncStats {
                    sends: s.sends,
                    receives: s.receives,
                }
            }
            /// Calls `listener` on every status change; returns an id for `del_listener`.
            pub fn add_status_listener(&self, listener: Arc<dyn StatusListener>) -> u64 {
                self.sync().add_status_listener(move |s| {
                    if let Err(e) = listener.on_status(s.into()) {
                        report("status listener", &e);
                    }
                })
            }
            /// Removes a status listener.
            pub fn del_listener(&self, listener_id: u64) {
                self.sync().del_listener(listener_id);
            }
            /// Whether `shutdown` was called.
            pub fn is_destroyed(&self) -> bool {
                self.sync().is_destroyed()
            }
        }
    };
}

sync_api!(Synchronizer);
sync_api!(WsSynchronizer);

#[uniffi::export]
impl Synchronizer {
    /// Handles an encoded message from peer `from` (call it from the transport's delivery
    /// thread, never from inside `SyncTransport::send`).
    pub fn receive(&self, from: String, message: String) {
        self.inner.receive_encoded(&from, &message);
    }
    /// Stops syncing, rejects pending requests and closes the transport (TinyBase's
    /// `destroy`; see the persisters' `shutdown`).
    pub fn shutdown(&self) {
        self.inner.destroy();
    }
}

#[uniffi::export]
impl WsSynchronizer {
    /// The connection status.
    pub fn get_connection_status(&self) -> ConnectionStatus {
        match self.inner.connection_status() {
            csync::ConnectionStatus::Connecting => ConnectionStatus::Connecting,
            csync::ConnectionStatus::Connected => ConnectionStatus::Connected,
            csync::ConnectionStatus::Disconnected => ConnectionStatus::Disconnected,
        }
    }
    /// The server URL.
    pub fn get_url(&self) -> String {
        self.inner.url().to_string()
    }
    /// Stops syncing and closes the socket, waiting ≤ 2 s for the close handshake (TinyBase's
    /// `destroy`; see the persisters' `shutdown`).
    pub fn shutdown(&self) {
        self.inner.destroy();
    }
}

/// In-process synchronization (TinyBase's LocalSynchronizer): synchronizers on one bus sync
/// without a socket; messages are delivered on the bus's own thread.
#[derive(Debug, uniffi::Object)]
pub struct LocalBus {
    inner: csync::LocalBus,
}

#[uniffi::export]
impl LocalBus {
    /// A bus with its delivery thread.
    #[uniffi::constructor]
    pub fn new() -> Arc<Self> {
        Arc::new(LocalBus {
            inner: csync::LocalBus::new(),
        })
    }
    /// A synchronizer for `store` on this bus.
    pub fn create_synchronizer(&self, store: Arc<MergeableStore>) -> Arc<Synchronizer> {
        Arc::new(Synchronizer {
            inner: self.inner.synchronizer(&store.inner),
        })
    }
    /// Waits until every message sent so far (and every answer to them) was delivered.
    pub fn flush(&self) {
        self.inner.flush();
    }
    /// The client ids of the synchronizers on the bus.
    pub fn get_client_ids(&self) -> Vec<String> {
        self.inner.client_ids()
    }
}

// ---------------------------------------------------------------------------------- server

/// How a sync server runs.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct WsServerOptions {
    /// The address to listen on (default `127.0.0.1`).
    #[uniffi(default = None)]
    pub host: Option<String>,
    /// Without `db_path`: keep each room in an in-memory MergeableStore instead of only
    /// relaying between clients.
    #[uniffi(default = false)]
    pub in_memory_rooms: bool,
    /// TinyBase's `requestTimeoutSeconds`, in ms (default 1000).
    #[uniffi(default = None)]
    pub request_timeout_ms: Option<u64>,
    /// Split the room stores' messages larger than this many bytes into fragments.
    #[uniffi(default = None)]
    pub fragment_size: Option<u64>,
}

/// What a server listener is told.
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum ServerEvent {
    /// A room started (`added`) or stopped.
    PathIds {
        /// The room.
        path_id: String,
        /// Started or stopped.
        added: bool,
    },
    /// A client joined (`added`) or left a room.
    ClientIds {
        /// The room.
        path_id: String,
        /// The client.
        client_id: String,
        /// Joined or left.
        added: bool,
    },
}

/// A server listener implemented in the foreign language (runs on server threads).
#[uniffi::export(with_foreign)]
pub trait ServerListener: Send + Sync {
    /// A room or client change.
    fn on_event(&self, event: ServerEvent) -> Result<(), TinystoreError>;
}

/// `{paths, clients}` of a sync server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct ServerStats {
    /// Rooms.
    pub paths: u64,
    /// Clients, summed over rooms.
    pub clients: u64,
}

/// A running WebSocket sync server (TinyBase's `createWsServer`), compatible with TinyBase's
/// clients; rooms are URL paths.
#[derive(Debug, uniffi::Object)]
pub struct WsServer {
    inner: Mutex<Option<csync::server::WsServer>>,
    port: u16,
}

fn start_server(
    port: u16,
    db_path: Option<String>,
    options: Option<WsServerOptions>,
) -> Result<WsServer, TinystoreError> {
    use csync::rooms::{RoomOptions, memory_rooms, sqlite_rooms};
    let o = options.unwrap_or(WsServerOptions {
        host: None,
        in_memory_rooms: false,
        request_timeout_ms: None,
        fragment_size: None,
    });
    let host: IpAddr = o
        .host
        .as_deref()
        .unwrap_or("127.0.0.1")
        .parse()
        .map_err(|e| TinystoreError::Server {
            reason: format!("invalid host: {e}"),
        })?;
    let mut config = csync::server::ServerConfig {
        addr: SocketAddr::new(host, port),
        fragment_size: o
            .fragment_size
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
        ..Default::default()
    };
    if let Some(ms) = o.request_timeout_ms {
        config.request_timeout = Duration::from_millis(ms);
    }
    let room_options = RoomOptions {
        request_timeout: config.request_timeout,
        ..RoomOptions::default()
    };
    config.peer_factory = match db_path {
        Some(db) => Some(sqlite_rooms(db, room_options).map_err(TinystoreError::from)?),
        None if o.in_memory_rooms => Some(memory_rooms(room_options)),
        None => None,
    };
    let server = csync::server::WsServer::start(config).map_err(|e| TinystoreError::Server {
        reason: e.to_string(),
    })?;
    Ok(WsServer {
        port: server.port(),
        inner: Mutex::new(Some(server)),
    })
}

/// Starts a sync server on `port` (0: the OS picks one; see `get_port`). With `db_path`, each
/// room also keeps a MergeableStore persisted to that SQLite file (table `tinybase_<path>`, as
/// TinyBase's server does); without it the server relays.
#[uniffi::export]
pub fn create_ws_server(
    port: u16,
    db_path: Option<String>,
    options: Option<WsServerOptions>,
) -> Result<Arc<WsServer>, TinystoreError> {
    start_server(port, db_path, options).map(Arc::new)
}

/// `create_ws_server` on a thread of its own.
#[uniffi::export]
pub async fn create_ws_server_async(
    port: u16,
    db_path: Option<String>,
    options: Option<WsServerOptions>,
) -> Result<Arc<WsServer>, TinystoreError> {
    run_blocking(move || start_server(port, db_path, options).map(Arc::new)).await
}

impl WsServer {
    fn with<R>(&self, f: impl FnOnce(&csync::server::WsServer) -> R) -> Result<R, TinystoreError> {
        match lock(&self.inner).as_ref() {
            Some(s) => Ok(f(s)),
            None => Err(TinystoreError::Destroyed {
                reason: "the server was stopped".into(),
            }),
        }
    }
}

#[uniffi::export]
impl WsServer {
    /// The bound port.
    pub fn get_port(&self) -> u16 {
        self.port
    }
    /// The rooms that have clients.
    pub fn get_path_ids(&self) -> Result<Vec<String>, TinystoreError> {
        self.with(|s| s.get_path_ids())
    }
    /// The clients of a room, in join order.
    pub fn get_client_ids(&self, path_id: String) -> Result<Vec<String>, TinystoreError> {
        self.with(|s| s.get_client_ids(&path_id))
    }
    /// How many rooms and clients there are.
    pub fn get_stats(&self) -> Result<ServerStats, TinystoreError> {
        self.with(|s| {
            let st = s.get_stats();
            ServerStats {
                paths: st.paths as u64,
                clients: st.clients as u64,
            }
        })
    }
    /// Calls `listener` when a room starts or stops.
    pub fn add_path_ids_listener(
        &self,
        listener: Arc<dyn ServerListener>,
    ) -> Result<u64, TinystoreError> {
        self.with(|s| {
            s.add_path_ids_listener(move |path, added| {
                let event = ServerEvent::PathIds {
                    path_id: path.into(),
                    added,
                };
                if let Err(e) = listener.on_event(event) {
                    report("server listener", &e);
                }
            })
        })
    }
    /// Calls `listener` when a client joins or leaves `path_id` (any room for `None`).
    pub fn add_client_ids_listener(
        &self,
        path_id: Option<String>,
        listener: Arc<dyn ServerListener>,
    ) -> Result<u64, TinystoreError> {
        self.with(|s| {
            s.add_client_ids_listener(path_id.as_deref(), move |path, client, added| {
                let event = ServerEvent::ClientIds {
                    path_id: path.into(),
                    client_id: client.into(),
                    added,
                };
                if let Err(e) = listener.on_event(event) {
                    report("server listener", &e);
                }
            })
        })
    }
    /// Removes a listener; `false` if there was none with that id.
    pub fn del_listener(&self, listener_id: u64) -> bool {
        self.with(|s| s.del_listener(listener_id)).unwrap_or(false)
    }
    /// Whether the server is running.
    pub fn is_running(&self) -> bool {
        lock(&self.inner).is_some()
    }
    /// Closes every client, saves and stops every room, and stops listening (blocks until
    /// done). Idempotent.
    pub fn stop(&self) {
        let server = lock(&self.inner).take();
        if let Some(server) = server {
            server.shutdown();
            drop(server);
        }
    }
    /// `stop` on a thread of its own.
    pub async fn stop_async(&self) {
        let server = lock(&self.inner).take();
        run_blocking(move || {
            if let Some(server) = server {
                server.shutdown();
                drop(server);
            }
        })
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Failing(AtomicUsize);
    impl StoreListener for Failing {
        fn on_event(&self, _: StoreEvent) -> Result<(), TinystoreError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Err(TinystoreError::Callback {
                reason: "listener failed".into(),
            })
        }
    }

    #[test]
    fn json_cells_are_normalised_like_javascript() {
        let store = create_store();
        let cell = CellValue::Json {
            json: r#"{ "a" : 1.0, "b": [ 2 ] }"#.into(),
        };
        store
            .set_cell("t".into(), "r".into(), "c".into(), cell)
            .unwrap();
        assert_eq!(
            store.get_json(),
            "[{\"t\":{\"r\":{\"c\":\"\u{FFFD}{\\\"a\\\":1,\\\"b\\\":[2]}\"}}},{}]"
        );
        let bad = CellValue::Json { json: "7".into() };
        assert!(matches!(
            store.set_cell("t".into(), "r".into(), "c".into(), bad),
            Err(TinystoreError::InvalidValue { .. })
        ));
    }

    #[test]
    fn a_failing_listener_neither_panics_nor_stops_the_write() {
        let store = create_store();
        let failing = Arc::new(Failing(AtomicUsize::new(0)));
        store.add_cell_listener(None, None, None, failing.clone(), false);
        store.add_cell_listener(None, None, None, failing.clone(), false);
        store
            .set_cell(
                "t".into(),
                "r".into(),
                "c".into(),
                CellValue::Num { value: 1.0 },
            )
            .unwrap();
        assert_eq!(failing.0.load(Ordering::SeqCst), 2);
        assert_eq!(
            store.get_cell("t".into(), "r".into(), "c".into()),
            Some(CellValue::Num { value: 1.0 })
        );
    }

    #[test]
    fn a_failing_transaction_rolls_back_and_returns_its_error() {
        struct Actions(Arc<Store>);
        impl TransactionActions for Actions {
            fn run(&self) -> Result<(), TinystoreError> {
                self.0
                    .set_value("v".into(), CellValue::Bool { value: true })?;
                Err(TinystoreError::Callback {
                    reason: "no".into(),
                })
            }
        }
        let store = create_store();
        let result = store.transaction(Arc::new(Actions(store.clone())), None);
        assert_eq!(
            result,
            Err(TinystoreError::Callback {
                reason: "no".into()
            })
        );
        assert_eq!(store.get_json(), "[{},{}]");
    }

    #[test]
    fn blocking_futures_complete() {
        struct Noop;
        impl std::task::Wake for Noop {
            fn wake(self: Arc<Self>) {}
        }
        let waker = Waker::from(Arc::new(Noop));
        let mut fut = Box::pin(run_blocking(|| 41 + 1));
        let mut cx = Context::from_waker(&waker);
        loop {
            if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
                assert_eq!(v, 42);
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn mergeable_store_view_shares_data_and_persists() {
        let m = create_mergeable_store(Some("a".into()));
        m.set_cell(
            "t".into(),
            "r".into(),
            "c".into(),
            CellValue::Str { value: "x".into() },
        )
        .unwrap();
        let p = create_sqlite_persister(m.as_store(), ":memory:".into(), None).unwrap();
        p.save().unwrap();
        m.del_tables();
        p.load(None).unwrap();
        assert_eq!(m.get_json(), r#"[{"t":{"r":{"c":"x"}}},{}]"#);
        let err = create_sqlite_persister(
            m.as_store(),
            ":memory:".into(),
            Some(sqlite_tabular_config(vec!["t".into()])),
        );
        assert!(matches!(err, Err(TinystoreError::Persist { .. })));
    }
}
