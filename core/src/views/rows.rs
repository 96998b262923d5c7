//! Row processing shared by the definable views (TinyBase's `getDefinableFunctions`): each
//! definition keeps one value per row (slice ids, remote row id, number) and optionally one
//! sort key per row; a store row listener re-evaluates a changed row into the pending changes,
//! and the store's table listener then hands the pending changes to the view at once.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;

use crate::ordmap::OrdMap;
use crate::store::{ListenerId, Store};
use crate::types::{Cell, Text};

use super::listeners::Registry;
use super::{GetCell, Source};

/// The per-row state of one definition and the changes of the transaction in progress.
///
/// `values` and `sort_keys` keep TinyBase's `Map` order (a row re-added goes last), which the
/// views expose (slice membership order, the order numbers are aggregated in).
pub(crate) struct RowCache<V> {
    /// The row values applied so far.
    pub(crate) values: OrdMap<Text, V>,
    /// The sort keys applied so far: the last key each row had (TinyBase never removes one).
    pub(crate) sort_keys: OrdMap<Text, Cell>,
    /// `row -> (old, new)` for rows whose value changed, in first-change order.
    pub(crate) changed: OrdMap<Text, (Option<V>, Option<V>)>,
    /// `row -> new sort key` for rows whose sort key changed to a value.
    pub(crate) changed_sort_keys: OrdMap<Text, Cell>,
}

impl<V> Default for RowCache<V> {
    fn default() -> Self {
        RowCache {
            values: OrdMap::new(),
            sort_keys: OrdMap::new(),
            changed: OrdMap::new(),
            changed_sort_keys: OrdMap::new(),
        }
    }
}

impl<V: Clone + PartialEq> RowCache<V> {
    /// Records a row's freshly computed value (and sort key, when the definition has one) as
    /// a pending change if it differs from the applied one.
    pub(crate) fn record(&mut self, row: &str, new: Option<V>, sort_key: Option<Option<Cell>>) {
        let old = self.values.get(row);
        if old != new.as_ref() {
            let old = old.cloned();
            self.changed.insert(Text::from(row), (old, new));
        }
        if let Some(new_key) = sort_key {
            if self.sort_keys.get(row) != new_key.as_ref() {
                // TinyBase's `mapSet` drops a key set to `undefined`: a sort key that goes
                // missing is not a change, and the row keeps its last key (which it is then
                // still sorted by). Replicated, since it decides slice order.
                match new_key {
                    Some(key) => {
                        self.changed_sort_keys.insert(Text::from(row), key);
                    }
                    None => {
                        self.changed_sort_keys.remove(row);
                    }
                }
            }
        }
    }

    /// Applies the pending changes (TinyBase's `change()`); they stay readable until
    /// [`RowCache::clear_changes`].
    pub(crate) fn apply(&mut self) {
        for (row, (_, new)) in self.changed.iter() {
            match new {
                Some(v) => {
                    self.values.insert(row.clone(), v.clone());
                }
                None => {
                    self.values.remove(row.as_str());
                }
            }
        }
        for (row, key) in self.changed_sort_keys.iter() {
            self.sort_keys.insert(row.clone(), key.clone());
        }
    }

    /// Forgets the pending changes.
    pub(crate) fn clear_changes(&mut self) {
        self.changed.clear();
        self.changed_sort_keys.clear();
    }

    /// The rows that have a value, in order.
    pub(crate) fn row_ids(&self) -> Vec<String> {
        self.values.keys().map(|r| r.to_string()).collect()
    }
}

/// Evaluates a source for a row: the cell itself, or the function's result.
pub(crate) fn evaluate<T>(
    source: &Source<T>,
    store: &Store,
    table_id: &str,
    row_id: &str,
    from_cell: impl FnOnce(Option<Cell>) -> T,
) -> T {
    match source {
        Source::Cell(cell_id) => from_cell(store.get_cell(table_id, row_id, cell_id)),
        Source::Fn(f) => {
            let get_cell: &GetCell<'_> = &|cell_id: &str| store.get_cell(table_id, row_id, cell_id);
            f(get_cell, row_id)
        }
    }
}

/// A caught panic, kept until it can be resumed without abandoning other listeners.
pub(crate) type Panic = Box<dyn Any + Send + 'static>;

/// Holds the first panic a view's store listeners caught during a transaction, and the
/// did-finish-transaction listener that resumes it. That listener exists only while a panic
/// waits (it removes itself), so a view adds exactly the store listeners TinyBase's does, with
/// the same listener ids.
#[derive(Default)]
pub(crate) struct PanicTrap {
    first: Mutex<Option<Panic>>,
    resumer: Mutex<Option<ListenerId>>,
}

impl PanicTrap {
    /// Resumes the kept panic, if any.
    fn resume(&self) {
        let panic = self.first.lock().take();
        if let Some(panic) = panic {
            resume_unwind(panic);
        }
    }

    /// The resuming listener, if one is registered (to remove it).
    pub(crate) fn take_resumer(&mut self) -> Option<ListenerId> {
        self.resumer.get_mut().take()
    }
}

/// Something that owns a [`PanicTrap`] and follows a store: the shared state of a view.
pub(crate) trait Trapped: Send + Sync + 'static {
    /// The view's trap.
    fn trap(&self) -> &PanicTrap;
    /// The view's store.
    fn store(&self) -> &Store;
}

/// Runs `f` (a view's work inside the store's dispatch), keeping its panic instead of
/// unwinding through the store's listener phase.
pub(crate) fn catch<T: Trapped>(view: &Arc<T>, f: impl FnOnce()) {
    if let Err(panic) = catch_unwind(AssertUnwindSafe(f)) {
        keep(view, panic);
    }
}

/// Keeps `panic` (unless an earlier one waits) and makes sure a did-finish listener will
/// resume it when the transaction ends.
pub(crate) fn keep<T: Trapped>(view: &Arc<T>, panic: Panic) {
    let trap = view.trap();
    {
        let mut first = trap.first.lock();
        if first.is_some() {
            return;
        }
        *first = Some(panic);
    }
    let mut resumer = trap.resumer.lock();
    if resumer.is_none() {
        let weak = Arc::downgrade(view);
        let id = view
            .store()
            .add_did_finish_transaction_listener(move |store| {
                if let Some(view) = weak.upgrade() {
                    let id = view.trap().resumer.lock().take();
                    if let Some(id) = id {
                        store.del_listener(id);
                    }
                    view.trap().resume();
                }
            });
        *resumer = Some(id);
    }
}

/// A [`PanicTrap`] for the listener phase of one store, for views whose listeners are spread
/// over several stores (a query listens to its root table, joined tables or query results,
/// and its private grouping store): a panic of the application's function is kept until that
/// store's transaction finishes, so the store's other listeners (other views and queries)
/// still run, and is then resumed to the writer.
pub(crate) struct StoreTrap {
    trap: PanicTrap,
    store: Store,
}

impl StoreTrap {
    /// A trap resuming when `store`'s transaction finishes.
    pub(crate) fn new(store: &Store) -> Arc<StoreTrap> {
        Arc::new(StoreTrap {
            trap: PanicTrap::default(),
            store: store.clone(),
        })
    }

    /// Whether this trap follows `store`.
    pub(crate) fn follows(&self, store: &Store) -> bool {
        self.store.ptr_eq(store)
    }
}

impl Trapped for StoreTrap {
    fn trap(&self) -> &PanicTrap {
        &self.trap
    }
    fn store(&self) -> &Store {
        &self.store
    }
}

/// Subscribes a definition to its table: `on_row(view, row)` for each changed row, then
/// `on_table(view)` once per transaction (TinyBase's row and table listeners, non-mutator).
/// The closures hold `view` weakly and catch panics into its trap.
pub(crate) fn link_table<T: Trapped>(
    store: &Store,
    table_id: &str,
    view: &Weak<T>,
    on_row: impl Fn(&Arc<T>, &str) + Send + 'static,
    on_table: impl Fn(&Arc<T>) + Send + 'static,
) -> Vec<ListenerId> {
    let row_view = view.clone();
    let row = store.add_row_listener(
        Some(table_id),
        None,
        move |_, _, row_id| {
            if let Some(view) = row_view.upgrade() {
                catch(&view, || on_row(&view, row_id));
            }
        },
        false,
    );
    let table_view = view.clone();
    let table = store.add_table_listener(
        Some(table_id),
        move |_, _| {
            if let Some(view) = table_view.upgrade() {
                catch(&view, || on_table(&view));
            }
        },
        false,
    );
    vec![row, table]
}

/// Calls the listeners of `kind` matching `ids` with `call`, outside any lock of the view. A
/// listener that is already running (it triggered this call itself) is skipped.
pub(crate) fn fire<C>(
    registry: &Mutex<Registry<C>>,
    kind: u8,
    ids: &[&str],
    mut call: impl FnMut(&mut C),
) {
    let callbacks: Vec<Arc<Mutex<C>>> = registry.lock().matching(kind, ids);
    for callback in callbacks {
        if let Some(mut callback) = callback.try_lock() {
            call(&mut callback);
        }
    }
}
