//! What every view object shares at the FFI edge: the listener trait and its event, the
//! scoped `get_cell` object handed to foreign definition functions, and the conversions of a
//! failed foreign function into the core's `CallbackFailure` (and back at the writer).

use super::*;

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::thread::ThreadId;

use tinystore_core::error_kind::CallbackFailure;

/// What a view listener is told: one variant per listener kind, with TinyBase's arguments
/// (the view itself is left to the foreign wrapper, which knows its own object).
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
#[allow(missing_docs)]
pub enum ViewEvent {
    /// The ids of the view's definitions (or checkpoints, or queries) changed.
    Ids,
    HasIndex {
        index_id: String,
        has: bool,
    },
    SliceIds {
        index_id: String,
    },
    HasSlice {
        index_id: String,
        slice_id: String,
        has: bool,
    },
    SliceRowIds {
        index_id: String,
        slice_id: String,
    },
    RemoteRowId {
        relationship_id: String,
        local_row_id: String,
    },
    LocalRowIds {
        relationship_id: String,
        remote_row_id: String,
    },
    LinkedRowIds {
        relationship_id: String,
        first_row_id: String,
    },
    Metric {
        metric_id: String,
        new_metric: Option<f64>,
        old_metric: Option<f64>,
    },
    Checkpoint {
        checkpoint_id: String,
    },
    ResultTable {
        query_id: String,
    },
    ResultTableCellIds {
        query_id: String,
        changes: Vec<IdChange>,
    },
    ResultRowCount {
        query_id: String,
        count: u64,
    },
    ResultRowIds {
        query_id: String,
        changes: Vec<IdChange>,
    },
    ResultSortedRowIds {
        query_id: String,
        cell_id: Option<String>,
        descending: bool,
        offset: u64,
        limit: Option<u64>,
        sorted_row_ids: Vec<String>,
    },
    ResultRow {
        query_id: String,
        row_id: String,
    },
    ResultCellIds {
        query_id: String,
        row_id: String,
        changes: Vec<IdChange>,
    },
    ResultCell {
        query_id: String,
        row_id: String,
        cell_id: String,
        new_cell: Option<CellValue>,
        old_cell: Option<CellValue>,
    },
    ParamValues {
        query_id: String,
        param_values: HashMap<String, CellValue>,
    },
    ParamValue {
        query_id: String,
        param_id: String,
        value: Option<CellValue>,
    },
}

/// A listener of a view (Indexes, Relationships, Metrics, Checkpoints, Queries), implemented
/// in the foreign language. An error is reported and skipped, as for store listeners.
#[uniffi::export(with_foreign)]
pub trait ViewListener: Send + Sync {
    /// Called with each event.
    fn on_event(&self, event: ViewEvent) -> Result<(), TinystoreError>;
}

/// Calls a foreign view listener, reporting its failure.
pub(crate) fn notify(listener: &Arc<dyn ViewListener>, event: ViewEvent) {
    if let Err(e) = listener.on_event(event) {
        report("view listener", &e);
    }
}

/// Listener counts of a view, by TinyBase's names (`get_listener_stats`).
pub type ViewListenerStats = HashMap<String, u64>;

type Lookup<'a> = dyn Fn(Option<&str>, bool, &str) -> Option<Cell> + 'a;

struct Scope {
    thread: ThreadId,
    lookup: *const Lookup<'static>,
}

// SAFETY: the pointer is only dereferenced on the thread that set it (checked), while the
// borrow it was made from is alive (the scope is cleared before `with_getter` returns or
// unwinds).
unsafe impl Send for Scope {}

/// TinyBase's `getCell` (or TinyQL's `getTableCell`) handed to a foreign definition function.
/// It reads the row being evaluated, and only during that call, on that thread: afterwards
/// (or from another thread) every read is `None`.
#[derive(uniffi::Object)]
pub struct CellGetter {
    scope: Mutex<Option<Scope>>,
}

impl std::fmt::Debug for CellGetter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CellGetter")
    }
}

#[uniffi::export]
impl CellGetter {
    /// A cell of the row (`getCell(cellId)`).
    pub fn get(&self, cell_id: String) -> Option<CellValue> {
        self.lookup(None, false, &cell_id)
    }
    /// A cell of a joined row (`getTableCell(joinedTableId, cellId)`; queries only).
    pub fn get_from(&self, joined_table_id: String, cell_id: String) -> Option<CellValue> {
        self.lookup(Some(&joined_table_id), false, &cell_id)
    }
    /// A cell of a joined query's row (`getTableCell(true, joinedQueryId, cellId)`).
    pub fn get_from_query(&self, joined_query_id: String, cell_id: String) -> Option<CellValue> {
        self.lookup(Some(&joined_query_id), true, &cell_id)
    }
}

impl CellGetter {
    fn lookup(&self, table: Option<&str>, query: bool, cell_id: &str) -> Option<CellValue> {
        let scope = lock(&self.scope);
        let scope = scope.as_ref()?;
        if scope.thread != std::thread::current().id() {
            return None;
        }
        // SAFETY: see `Scope`; the lock keeps the scope from being cleared during the call.
        let f = unsafe { &*scope.lookup };
        f(table, query, cell_id).map(Into::into)
    }
}

/// Clears the getter's scope when the call ends, however it ends.
struct ClearScope(Arc<CellGetter>);

impl Drop for ClearScope {
    fn drop(&mut self) {
        *lock(&self.0.scope) = None;
    }
}

/// Calls `call` with a getter that reads through `lookup` for the call's duration only.
pub(crate) fn with_getter<R>(lookup: &Lookup<'_>, call: impl FnOnce(Arc<CellGetter>) -> R) -> R {
    let ptr: *const Lookup<'_> = lookup;
    // SAFETY: only the lifetime is erased; the scope is cleared before `lookup` goes away.
    let ptr: *const Lookup<'static> = unsafe { std::mem::transmute(ptr) };
    let getter = Arc::new(CellGetter {
        scope: Mutex::new(Some(Scope {
            thread: std::thread::current().id(),
            lookup: ptr,
        })),
    });
    let _clear = ClearScope(getter.clone());
    call(getter)
}

/// The result of a foreign function, or the unwind that carries its failure to the writer.
pub(crate) fn or_raise<T>(result: Result<T, TinystoreError>) -> T {
    match result {
        Ok(v) => v,
        Err(TinystoreError::Callback { reason }) => CallbackFailure::raise(reason),
        Err(e) => CallbackFailure::raise(e.to_string()),
    }
}

/// Runs a call that may run foreign view functions: a failed one comes back as
/// [`TinystoreError::Callback`]; any other panic is resumed unchanged.
pub(crate) fn trapped<T>(f: impl FnOnce() -> T) -> Result<T, TinystoreError> {
    catch_unwind(AssertUnwindSafe(f)).or_else(|payload| {
        match CallbackFailure::from_panic(&*payload) {
            Some(failure) => Err(TinystoreError::Callback {
                reason: failure.message().to_string(),
            }),
            None => resume_unwind(payload),
        }
    })
}

/// A foreign comparison result as an ordering (JavaScript's sort: negative, zero, positive).
pub(crate) fn ordering(n: f64) -> std::cmp::Ordering {
    if n < 0.0 {
        std::cmp::Ordering::Less
    } else if n > 0.0 {
        std::cmp::Ordering::Greater
    } else {
        std::cmp::Ordering::Equal
    }
}

/// A view object over a core view: the struct, its `create_*` function, and the methods
/// every view has (`del_listener`, `shutdown`), which UniFFI cannot inherit.
macro_rules! view_object {
    ($(#[$doc:meta])* $ty:ident($core:ty), $(#[$cdoc:meta])* $create:ident = $core_create:path) => {
        $(#[$doc])*
        #[derive(Debug, uniffi::Object)]
        pub struct $ty {
            inner: $core,
        }

        $(#[$cdoc])*
        #[uniffi::export]
        pub fn $create(store: Arc<Store>) -> Arc<$ty> {
            Arc::new($ty {
                inner: $core_create(store.core()),
            })
        }

        #[uniffi::export]
        impl $ty {
            /// Removes a listener (unknown ids are ignored).
            pub fn del_listener(&self, listener_id: u64) {
                self.inner
                    .del_listener(core::ListenerId(listener_id as u32));
            }
            /// TinyBase's `destroy()`: removes every definition (or checkpoint history) and the
            /// store listeners (`destroy` itself frees the object in Kotlin and Swift).
            pub fn shutdown(&self) {
                self.inner.destroy();
            }
        }
    };
}
pub(crate) use view_object;
