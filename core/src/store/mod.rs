//! The Store: tables of rows of cells plus values, with TinyBase's semantics.
//!
//! # Threading and re-entrancy
//!
//! A [`Store`] is a cheap, cloneable handle (`Send + Sync`); clones share one store. Every call
//! takes the store's lock, a *re-entrant* mutex: calls from other threads wait until the
//! current call (including a whole explicit transaction and all its listeners) has finished,
//! while calls made on the same thread from inside a listener go straight in.
//!
//! Listeners run synchronously, on the thread whose write ended the transaction, after the
//! data has changed and without any internal borrow held, so a listener may call any store
//! method. Mutator listeners (registered with `mutator = true`) may write: their writes join the
//! transaction being finished. Writes from other listeners, and from did-finish listeners, are
//! ignored (TinyBase closes the store for writes while they run). A listener that re-enters
//! itself (e.g. through [`Store::call_listener`]) is skipped rather than deadlocking.
//!
//! A panicking listener abandons the rest of its phase; the transaction is still finalised
//! (rolled back if the panic came before commit), did-finish listeners still run, and the first
//! panic is then resumed on the caller's thread, mirroring TinyBase re-throwing the first error.
//!
//! ```
//! use tinystore_core::{Cell, Store};
//! use std::sync::{Arc, atomic::{AtomicUsize, Ordering}};
//!
//! let store = Store::new();
//! let calls = Arc::new(AtomicUsize::new(0));
//! let seen = calls.clone();
//! store.add_cell_listener(Some("pets"), None, Some("price"), move |_, _, _, _, new, _| {
//!     assert_eq!(new, Some(&Cell::Number(5.0)));
//!     seen.fetch_add(1, Ordering::SeqCst);
//! }, false);
//! store.set_cell("pets", "fido", "price", 5);
//! assert_eq!(calls.load(Ordering::SeqCst), 1);
//! assert_eq!(store.get_cell("pets", "fido", "price"), Some(Cell::Number(5.0)));
//! ```

mod dispatch;
mod hook;
mod interner;
mod json_io;
mod listen;
pub(crate) mod listeners;
pub(crate) mod memo;
mod read;
mod schemas;
mod sort;
pub(crate) mod state;
mod transaction;
mod txlog;
mod validate;
mod write;

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use indexmap::IndexMap;
use parking_lot::ReentrantMutex;

use crate::content::ContentError;
use crate::types::{Cell, Text};

pub(crate) use hook::ChangeHook;
pub(crate) use interner::Interner;
pub use listeners::{IdChanges, ListenerId, ListenerKind, ListenerStats, SortedRowIdsArgs, Sorter};
pub(crate) use sort::js_sort;
pub(crate) use write::{AcceptedChanges, AcceptedLeaves, AcceptedRows};

use sort::sort_row_ids;
use state::State;
struct Inner {
    state: ReentrantMutex<RefCell<State>>,
    memo: memo::Memo,
    /// The state's `Listeners::listening`, written under the lock whenever a listener is
    /// added or removed: every transaction asks, per kind, whether there is one to call, and
    /// an atomic load answers without taking the lock.
    listening: Arc<AtomicU64>,
}

/// A reactive in-memory store of Tables and Values (TinyBase's `Store`).
///
/// ```
/// use tinystore_core::{Cell, Store};
/// let store = Store::new();
/// store.set_cell("pets", "fido", "species", "dog").set_value("open", true);
/// assert_eq!(store.get_row_ids("pets"), ["fido"]);
/// assert_eq!(store.get_json(), r#"[{"pets":{"fido":{"species":"dog"}}},{"open":true}]"#);
/// ```
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Default for Store {
    fn default() -> Self {
        Store::new()
    }
}

/// Creates an empty [`Store`] (TinyBase's `createStore()`).
///
/// ```
/// use tinystore_core::create_store;
/// let store = create_store();
/// assert!(!store.has_tables() && !store.has_values());
/// ```
pub fn create_store() -> Store {
    Store::new()
}

/// `getCellChange` / `getValueChange`: whether it changed in the current transaction, the value
/// before, and the value now.
///
/// ```
/// use tinystore_core::{Cell, CellChange, Store};
/// let store = Store::new();
/// store.set_value("n", 1);
/// store.transaction(|s| {
///     s.set_value("n", 2);
///     let change = s.get_value_change("n");
///     assert_eq!(
///         change,
///         CellChange { changed: true, old: Some(Cell::from(1)), new: Some(Cell::from(2)) }
///     );
/// });
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct CellChange {
    /// Whether old and new differ.
    pub changed: bool,
    /// The value before the transaction.
    pub old: Option<Cell>,
    /// The value now.
    pub new: Option<Cell>,
}

/// A cell's or value's `(old, new)` pair in a [`TransactionLog`].
pub type OldAndNew = (Option<Cell>, Option<Cell>);
/// Rejected cells at `(tableId?, rowId?, cellId?)`.
pub type InvalidCells = (
    Option<String>,
    Option<String>,
    Option<String>,
    Vec<Option<Cell>>,
);

/// TinyBase's `getTransactionLog()`.
///
/// ```
/// use tinystore_core::{Cell, Store};
/// let store = Store::new();
/// store.transaction(|s| {
///     s.set_cell("pets", "fido", "legs", 4);
///     let log = s.get_transaction_log();
///     assert!(log.cells_touched && !log.values_touched);
///     assert_eq!(log.changed_cells["pets"]["fido"]["legs"], (None, Some(Cell::from(4))));
///     assert_eq!(log.changed_row_ids["pets"]["fido"], 1);
/// });
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
#[allow(missing_docs)]
pub struct TransactionLog {
    pub cells_touched: bool,
    pub values_touched: bool,
    /// `{t: {r: {c: (old, new)}}}`
    pub changed_cells: IndexMap<String, IndexMap<String, IndexMap<String, OldAndNew>>>,
    /// `{t: {r: {c: [invalid…]}}}` (ids may be absent for whole invalid rows/tables).
    pub invalid_cells: Vec<InvalidCells>,
    pub changed_values: IndexMap<String, (Option<Cell>, Option<Cell>)>,
    pub invalid_values: Vec<(Option<String>, Vec<Option<Cell>>)>,
    pub changed_table_ids: IndexMap<String, i8>,
    pub changed_row_ids: IndexMap<String, IndexMap<String, i8>>,
    pub changed_cell_ids: IndexMap<String, IndexMap<String, IndexMap<String, i8>>>,
    pub changed_value_ids: IndexMap<String, i8>,
}

/// Errors from the Store's fallible calls.
///
/// ```
/// use tinystore_core::{ContentError, Store, StoreError};
/// let store = Store::new();
/// let err = store.set_json("[{").unwrap_err();
/// assert!(matches!(err, StoreError::Content(ContentError::Json(_))));
/// let err = store.set_tables_schema_json("{}").unwrap_err();
/// assert!(matches!(err, StoreError::Schema(_)));
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// JSON input could not be parsed or had the wrong shape; nothing was changed.
    #[error(transparent)]
    Content(#[from] ContentError),
    /// A schema had no valid entry.
    #[error("invalid schema: {0}")]
    Schema(String),
}

fn opt(id: Option<&str>) -> Option<Text> {
    id.map(Text::from)
}

impl Store {
    /// Creates an empty store.
    ///
    /// ```
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// assert_eq!(store.get_json(), "[{},{}]");
    /// ```
    pub fn new() -> Store {
        let state = State::default();
        let listening = state.listeners.listening();
        Store {
            inner: Arc::new(Inner {
                state: ReentrantMutex::new(RefCell::new(state)),
                memo: memo::Memo::default(),
                listening,
            }),
        }
    }

    /// The objects attached to this store, one per type (the memoized view factories).
    pub(crate) fn memo(&self) -> &memo::Memo {
        &self.inner.memo
    }

    /// Creates a store that tells `hook` of every change it makes (a MergeableStore's).
    pub(crate) fn with_hook(hook: Box<dyn ChangeHook>) -> Store {
        let store = Store::new();
        store.with_mut(|s| s.hook = Some(hook));
        store
    }

    /// Runs `f` on the installed hook, if it is an `H`, with the store's interner.
    #[inline]
    pub(crate) fn with_hook_ref<H: ChangeHook, R>(
        &self,
        f: impl FnOnce(&H, &Interner) -> R,
    ) -> Option<R> {
        self.with(|s| {
            let hook: &dyn std::any::Any = s.hook.as_deref()?;
            Some(f(hook.downcast_ref::<H>()?, &s.names))
        })
    }

    /// Runs `f` on the installed hook, if it is an `H`, with the store's interner.
    #[inline]
    pub(crate) fn with_hook_mut<H: ChangeHook, R>(
        &self,
        f: impl FnOnce(&mut H, &mut Interner) -> R,
    ) -> Option<R> {
        self.with_mut(|s| {
            let hook: &mut dyn std::any::Any = s.hook.as_deref_mut()?;
            Some(f(hook.downcast_mut::<H>()?, &mut s.names))
        })
    }

    /// Whether a listener of `kind` is registered for the phase (`mutator`).
    #[inline]
    pub(crate) fn listens(&self, kind: ListenerKind, mutator: bool) -> bool {
        let bit = 2 * kind.index() + mutator as usize;
        self.inner.listening.load(Ordering::Relaxed) & (1 << bit) != 0
    }

    /// Whether any listener of the phase is registered.
    /// Whether nothing runs between a transaction's writes and its commit (no mutator or
    /// will-finish listener): without a rollback callback, nothing can then roll it back.
    #[inline]
    pub(crate) fn commits_unseen(&self) -> bool {
        !self.listens_in_phase(true) && !self.listens(ListenerKind::WillFinishTransaction, false)
    }

    #[inline]
    pub(crate) fn listens_in_phase(&self, mutator: bool) -> bool {
        let phase = if mutator {
            0xAAAA_AAAA_AAAA_AAAA
        } else {
            0x5555_5555_5555_5555
        };
        self.inner.listening.load(Ordering::Relaxed) & phase != 0
    }

    /// Locks the store (re-entrantly) for a sequence of calls that must not interleave with
    /// other threads.
    pub(crate) fn lock(&self) -> parking_lot::ReentrantMutexGuard<'_, RefCell<State>> {
        self.inner.state.lock()
    }

    #[inline]
    pub(crate) fn with<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        let guard = self.inner.state.lock();
        let state = guard.borrow();
        f(&state)
    }

    #[inline]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let guard = self.inner.state.lock();
        let mut state = guard.borrow_mut();
        f(&mut state)
    }

    /// Runs internal (non-user) mutations in their own transaction, or in the open one.
    #[inline]
    fn fluent(&self, f: impl FnOnce(&mut State)) -> &Self {
        let _guard = self.inner.state.lock();
        if self.begin() {
            // Nothing can roll back a lone write (depth 1: not nested in a transaction) that
            // no mutator or will-finish listener will see: its journal entries would be dropped
            // unread. `finish` turns the journal back on.
            let journal = !self.commits_unseen();
            self.with_mut(|s| {
                if s.depth == 1 && !journal {
                    s.journal = false;
                }
                f(s)
            });
            self.finish(None);
        }
        self
    }

    /// Whether two handles refer to the same store.
    ///
    /// ```
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// let handle = store.clone();
    /// assert!(store.ptr_eq(&handle));
    /// assert!(!store.ptr_eq(&Store::new()));
    /// ```
    pub fn ptr_eq(&self, other: &Store) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// Whether this is (the Store side of) a [`MergeableStore`](crate::MergeableStore): the
    /// only kind of store with a change hook.
    ///
    /// ```
    /// use tinystore_core::{MergeableStore, Store};
    /// assert!(!Store::new().is_mergeable());
    /// assert!(MergeableStore::new(None).is_mergeable());
    /// ```
    pub fn is_mergeable(&self) -> bool {
        self.with(|s| s.hook.is_some())
    }
}
