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
pub(crate) mod listeners;
pub(crate) mod stamps;
pub(crate) mod state;

use std::cell::RefCell;
use std::cmp::Ordering;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::Arc;

use indexmap::IndexMap;
use parking_lot::ReentrantMutex;

use crate::content::{
    self, Changes, ContentError, Row, Table, Tables, Values, is_array_index, js_order,
};
use crate::json;
use crate::schema::{Checked, TablesSchema, ValuesSchema};
use crate::types::{Cell, Text};

use listeners::{Args, Callback, SortedState};
pub use listeners::{IdChanges, ListenerId, ListenerKind, ListenerStats, SortedRowIdsArgs, Sorter};
use state::{State, Undo};

struct Inner {
    state: ReentrantMutex<RefCell<State>>,
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
pub fn create_store() -> Store {
    Store::new()
}

/// `getCellChange` / `getValueChange`: whether it changed in the current transaction, the value
/// before, and the value now.
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
    pub fn new() -> Store {
        Store {
            inner: Arc::new(Inner {
                state: ReentrantMutex::new(RefCell::new(State::default())),
            }),
        }
    }

    /// Creates a store whose state already holds MergeableStore stamps.
    pub(crate) fn with_mergeable(mergeable: stamps::Mergeable) -> Store {
        let store = Store::new();
        store.with_mut(|s| s.mergeable = Some(Box::new(mergeable)));
        store
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
            self.with_mut(f);
            self.finish(None);
        }
        self
    }

    /// Whether two handles refer to the same store.
    pub fn ptr_eq(&self, other: &Store) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// Whether this is (the Store side of) a [`MergeableStore`](crate::MergeableStore).
    pub fn is_mergeable(&self) -> bool {
        self.with(|s| s.mergeable.is_some())
    }

    // ------------------------------------------------------------------ getters

    /// `[tables, values]`.
    pub fn get_content(&self) -> (Tables, Values) {
        (self.get_tables(), self.get_values())
    }

    /// All tables, in JavaScript object order.
    pub fn get_tables(&self) -> Tables {
        self.with(|s| {
            let tables = s
                .tables
                .iter()
                .map(|(t, table)| (t.to_string(), table_of(s, table)))
                .collect();
            js_order(tables).into_iter().collect()
        })
    }

    /// Table ids in insertion order.
    pub fn get_table_ids(&self) -> Vec<String> {
        self.with(|s| s.tables.keys().map(|k| k.to_string()).collect())
    }

    /// One table (empty when missing).
    pub fn get_table(&self, table_id: &str) -> Table {
        self.with(|s| {
            s.tables
                .get(table_id)
                .map(|t| table_of(s, t))
                .unwrap_or_default()
        })
    }

    /// Cell ids used by any row of the table, in first-use order.
    pub fn get_table_cell_ids(&self, table_id: &str) -> Vec<String> {
        self.with(|s| {
            s.tables.get(table_id).map_or_else(Vec::new, |t| {
                t.cell_counts
                    .keys()
                    .map(|c| s.names.name(*c).to_string())
                    .collect()
            })
        })
    }

    /// Number of rows in the table.
    pub fn get_row_count(&self, table_id: &str) -> usize {
        self.with(|s| s.tables.get(table_id).map_or(0, |t| t.rows.len()))
    }

    /// Row ids in insertion order.
    pub fn get_row_ids(&self, table_id: &str) -> Vec<String> {
        self.with(|s| {
            s.tables
                .get(table_id)
                .map_or_else(Vec::new, |t| t.rows.keys().map(|k| k.to_string()).collect())
        })
    }

    /// Row ids sorted by a cell (or by id), sliced by offset and limit.
    ///
    /// ```
    /// use tinystore_core::{SortedRowIdsArgs, Store};
    /// let store = Store::new();
    /// for (r, n) in [("a", 3), ("b", 1), ("e", 2)] {
    ///     store.set_cell("t", r, "n", n);
    /// }
    /// store.set_cell("t", "c", "x", 0);
    /// assert_eq!(
    ///     store.get_sorted_row_ids(&SortedRowIdsArgs::new("t").cell_id("n")),
    ///     ["c", "b", "e", "a"]
    /// );
    /// ```
    pub fn get_sorted_row_ids(&self, args: &SortedRowIdsArgs) -> Vec<String> {
        self.with(|s| sort_row_ids(s, args))
    }

    /// One row (empty when missing), in JavaScript object order.
    pub fn get_row(&self, table_id: &str, row_id: &str) -> Row {
        self.with(|s| {
            s.tables
                .get(table_id)
                .and_then(|t| t.rows.get(row_id))
                .map(|r| row_of(s, r))
                .unwrap_or_default()
        })
    }

    /// Cell ids of a row in insertion order.
    pub fn get_cell_ids(&self, table_id: &str, row_id: &str) -> Vec<String> {
        self.with(|s| {
            s.tables
                .get(table_id)
                .and_then(|t| t.rows.get(row_id))
                .map_or_else(Vec::new, |r| {
                    r.cells
                        .iter()
                        .map(|(c, _)| s.names.name(*c).to_string())
                        .collect()
                })
        })
    }

    /// One cell.
    #[inline]
    pub fn get_cell(&self, table_id: &str, row_id: &str, cell_id: &str) -> Option<Cell> {
        self.with(|s| s.get_cell(table_id, row_id, cell_id).cloned())
    }

    /// Reads one cell without cloning it.
    #[inline]
    pub fn with_cell<R>(
        &self,
        table_id: &str,
        row_id: &str,
        cell_id: &str,
        f: impl FnOnce(Option<&Cell>) -> R,
    ) -> R {
        let guard = self.inner.state.lock();
        let state = guard.borrow();
        let cell = state.get_cell(table_id, row_id, cell_id);
        f(cell)
    }

    /// All values, in JavaScript object order.
    pub fn get_values(&self) -> Values {
        self.with(|s| {
            let values = s
                .values
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect();
            js_order(values).into_iter().collect()
        })
    }

    /// Value ids in insertion order.
    pub fn get_value_ids(&self) -> Vec<String> {
        self.with(|s| s.values.keys().map(|k| k.to_string()).collect())
    }

    /// One value.
    pub fn get_value(&self, value_id: &str) -> Option<Cell> {
        self.with(|s| s.values.get(value_id).cloned())
    }

    /// Whether any table exists.
    pub fn has_tables(&self) -> bool {
        self.with(|s| !s.tables.is_empty())
    }
    /// Whether the table exists.
    pub fn has_table(&self, table_id: &str) -> bool {
        self.with(|s| s.tables.contains_key(table_id))
    }
    /// Whether any row of the table has this cell id.
    pub fn has_table_cell(&self, table_id: &str, cell_id: &str) -> bool {
        self.with(|s| {
            let Some(c) = s.names.get(cell_id) else {
                return false;
            };
            s.tables
                .get(table_id)
                .is_some_and(|t| t.cell_counts.contains_key(&c))
        })
    }
    /// Whether the row exists.
    pub fn has_row(&self, table_id: &str, row_id: &str) -> bool {
        self.with(|s| {
            s.tables
                .get(table_id)
                .is_some_and(|t| t.rows.contains_key(row_id))
        })
    }
    /// Whether the cell exists (true for a null cell).
    pub fn has_cell(&self, table_id: &str, row_id: &str, cell_id: &str) -> bool {
        self.with(|s| s.get_cell(table_id, row_id, cell_id).is_some())
    }
    /// Whether any value exists.
    pub fn has_values(&self) -> bool {
        self.with(|s| !s.values.is_empty())
    }
    /// Whether the value exists.
    pub fn has_value(&self, value_id: &str) -> bool {
        self.with(|s| s.values.contains_key(value_id))
    }

    // ------------------------------------------------------------------ iteration

    /// Calls `f` with each table id. The ids are collected first, so `f` may use the store.
    pub fn for_each_table(&self, mut f: impl FnMut(&str)) {
        for t in self.get_table_ids() {
            f(&t);
        }
    }
    /// Calls `f` with each cell id used in the table and the number of rows using it.
    pub fn for_each_table_cell(&self, table_id: &str, mut f: impl FnMut(&str, usize)) {
        let cells: Vec<(String, usize)> = self.with(|s| {
            s.tables.get(table_id).map_or_else(Vec::new, |t| {
                t.cell_counts
                    .iter()
                    .map(|(c, n)| (s.names.name(*c).to_string(), *n as usize))
                    .collect()
            })
        });
        for (c, n) in cells {
            f(&c, n);
        }
    }
    /// Calls `f` with each row id of the table.
    pub fn for_each_row(&self, table_id: &str, mut f: impl FnMut(&str)) {
        for r in self.get_row_ids(table_id) {
            f(&r);
        }
    }
    /// Calls `f` with each cell of the row, in insertion order.
    pub fn for_each_cell(&self, table_id: &str, row_id: &str, mut f: impl FnMut(&str, &Cell)) {
        let cells: Vec<(String, Cell)> = self.with(|s| {
            s.tables
                .get(table_id)
                .and_then(|t| t.rows.get(row_id))
                .map_or_else(Vec::new, |r| {
                    r.cells
                        .iter()
                        .map(|(c, v)| (s.names.name(*c).to_string(), v.clone()))
                        .collect()
                })
        });
        for (c, v) in cells {
            f(&c, &v);
        }
    }
    /// Calls `f` with each value, in insertion order.
    pub fn for_each_value(&self, mut f: impl FnMut(&str, &Cell)) {
        let values: Vec<(String, Cell)> = self.with(|s| {
            s.values
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect()
        });
        for (k, v) in values {
            f(&k, &v);
        }
    }

    // ------------------------------------------------------------------ JSON

    /// `JSON.stringify(tables)` with objects/arrays in encoded form.
    pub fn get_tables_json(&self) -> String {
        self.with(|s| {
            let mut out = String::new();
            write_tables_json(s, &mut out);
            out
        })
    }

    /// `JSON.stringify(values)` with objects/arrays in encoded form.
    pub fn get_values_json(&self) -> String {
        self.with(|s| {
            let mut out = String::new();
            write_values_json(s, &mut out);
            out
        })
    }

    /// `JSON.stringify([tables, values])` with objects/arrays in encoded form.
    pub fn get_json(&self) -> String {
        self.with(|s| {
            let mut out = String::from("[");
            write_tables_json(s, &mut out);
            out.push(',');
            write_values_json(s, &mut out);
            out.push(']');
            out
        })
    }

    /// Sets tables from JSON in encoded form; `{}` deletes all tables. On a parse error the
    /// store is untouched and the error returned.
    pub fn set_tables_json(&self, json: &str) -> Result<&Self, StoreError> {
        let tables = content::tables_from_json(&content::parse_json(json)?, true)?;
        Ok(self.set_or_del_tables(&tables))
    }

    /// Sets values from JSON in encoded form; `{}` deletes all values.
    pub fn set_values_json(&self, json: &str) -> Result<&Self, StoreError> {
        let values = content::values_from_json(&content::parse_json(json)?, true)?;
        Ok(self.set_or_del_values(&values))
    }

    /// Sets `[tables, values]` from JSON in encoded form (a bare tables object is accepted too,
    /// as TinyBase falls back to it).
    pub fn set_json(&self, json: &str) -> Result<&Self, StoreError> {
        let parsed = content::parse_json(json)?;
        if let Some([tables, values]) = parsed.as_array().map(Vec::as_slice) {
            let tables = content::tables_from_json(tables, true)?;
            let values = content::values_from_json(values, true)?;
            self.transaction(|s| {
                s.set_or_del_tables(&tables);
                s.set_or_del_values(&values);
            });
            return Ok(self);
        }
        let tables = content::tables_from_json(&parsed, true)?;
        Ok(self.set_or_del_tables(&tables))
    }

    fn set_or_del_tables(&self, tables: &Tables) -> &Self {
        if tables.is_empty() {
            self.del_tables()
        } else {
            self.set_tables(tables)
        }
    }

    fn set_or_del_values(&self, values: &Values) -> &Self {
        if values.is_empty() {
            self.del_values()
        } else {
            self.set_values(values)
        }
    }

    // ------------------------------------------------------------------ setters

    /// Replaces the content: tables and values (an empty part deletes everything in it).
    pub fn set_content(&self, tables: &Tables, values: &Values) -> &Self {
        self.transaction(|s| {
            s.set_or_del_tables(tables);
            s.set_or_del_values(values);
        });
        self
    }

    /// Replaces all tables (tables absent from the argument are deleted). An argument that is
    /// empty after validation is a no-op.
    pub fn set_tables(&self, tables: &Tables) -> &Self {
        self.fluent(|s| {
            if let Some(valid) = validate_tables(s, tables) {
                set_valid_tables(s, valid);
            }
        })
    }

    /// Replaces one table.
    pub fn set_table(&self, table_id: &str, table: &Table) -> &Self {
        self.fluent(|s| {
            if let Some(valid) = validate_table(s, table_id, table) {
                set_valid_table(s, table_id, valid);
            }
        })
    }

    /// Replaces one row.
    pub fn set_row(&self, table_id: &str, row_id: &str, row: &Row) -> &Self {
        self.fluent(|s| {
            // A new row with no schema to apply goes straight into its stored form (interned
            // ids, exact length): the same checks, invalid-cell records and end state as
            // `validate_row` + `set_valid_row`, without their two intermediate vectors.
            if s.tables_schema.is_none() && !row.is_empty() && !has_row(s, table_id, row_id) {
                let mut cells = Vec::with_capacity(row.len());
                for (c, v) in row {
                    if let Some(cell) = validated_cell(s, table_id, Some(row_id), c, v.clone()) {
                        cells.push((s.names.intern(c), cell));
                    }
                }
                s.insert_new_row(table_id, row_id, cells);
                return;
            }
            if let Some(valid) = validate_row(s, table_id, Some(row_id), row, false) {
                set_valid_row(s, table_id, row_id, valid);
            }
        })
    }

    /// Adds a row with a generated id (`"0"`, `"1"`, …, reusing ids of deleted rows when
    /// `reuse_row_ids`). Returns the id, or `None` if the row was invalid.
    pub fn add_row(&self, table_id: &str, row: &Row, reuse_row_ids: bool) -> Option<String> {
        let mut id = None;
        self.fluent(|s| {
            if let Some(valid) = validate_row(s, table_id, None, row, false) {
                let row_id = s.new_row_id(table_id, reuse_row_ids);
                set_valid_row(s, table_id, &row_id, valid);
                id = Some(row_id.to_string());
            }
        });
        id
    }

    /// Merges cells into a row (creating it, with defaults, if missing).
    pub fn set_partial_row(&self, table_id: &str, row_id: &str, row: &Row) -> &Self {
        self.fluent(|s| {
            if let Some(valid) = validate_row(s, table_id, Some(row_id), row, true) {
                if has_row(s, table_id, row_id) {
                    for (c, cell) in valid {
                        let c = s.names.intern(&c);
                        s.set_valid_cell(table_id, row_id, c, cell);
                    }
                } else {
                    let with_defaults = add_row_defaults(s, table_id, Some(row_id), valid);
                    set_valid_row(s, table_id, row_id, with_defaults);
                }
            }
        })
    }

    /// Sets one cell.
    #[inline]
    pub fn set_cell(
        &self,
        table_id: &str,
        row_id: &str,
        cell_id: &str,
        cell: impl Into<Cell>,
    ) -> &Self {
        let cell = cell.into();
        self.fluent(|s| set_cell_in(s, table_id, row_id, cell_id, cell))
    }

    /// Sets one cell from its current value (TinyBase's mapper form of `setCell`).
    pub fn set_cell_with(
        &self,
        table_id: &str,
        row_id: &str,
        cell_id: &str,
        map: impl FnOnce(Option<&Cell>) -> Cell,
    ) -> &Self {
        let _guard = self.inner.state.lock();
        let old = self.get_cell(table_id, row_id, cell_id);
        let cell = map(old.as_ref());
        self.set_cell(table_id, row_id, cell_id, cell)
    }

    /// Replaces all values.
    pub fn set_values(&self, values: &Values) -> &Self {
        self.fluent(|s| {
            if let Some(valid) = validate_values(s, values, false) {
                set_valid_values(s, valid);
            }
        })
    }

    /// Merges values.
    pub fn set_partial_values(&self, values: &Values) -> &Self {
        self.fluent(|s| {
            if let Some(valid) = validate_values(s, values, true) {
                for (v, value) in valid {
                    s.set_valid_value(&v, value);
                }
            }
        })
    }

    /// Sets one value.
    pub fn set_value(&self, value_id: &str, value: impl Into<Cell>) -> &Self {
        let value = value.into();
        self.fluent(|s| {
            if let Some(valid) = validate_value(s, value_id, value) {
                s.set_valid_value(value_id, valid);
            }
        })
    }

    /// Sets one value from its current value.
    pub fn set_value_with(&self, value_id: &str, map: impl FnOnce(Option<&Cell>) -> Cell) -> &Self {
        let _guard = self.inner.state.lock();
        let old = self.get_value(value_id);
        let value = map(old.as_ref());
        self.set_value(value_id, value)
    }

    /// Applies `[tables, values, 1]` changes; `None` deletes at that level.
    pub fn apply_changes(&self, changes: &Changes) -> &Self {
        self.transaction(|s| {
            for (t, table) in &changes.tables {
                match table {
                    None => {
                        s.del_table(t);
                    }
                    Some(rows) => {
                        for (r, row) in rows {
                            match row {
                                None => {
                                    s.del_row(t, r);
                                }
                                // A new row of only valid cells, with no schema to apply,
                                // goes in whole: the same end state and change log as one
                                // `setCell` per cell, without a nested transaction each.
                                Some(cells)
                                    if cells
                                        .values()
                                        .all(|c| c.as_ref().is_some_and(Cell::is_valid))
                                        && s.with(|st| {
                                            st.tables_schema.is_none() && !has_row(st, t, r)
                                        }) =>
                                {
                                    s.with_mut(|st| {
                                        // Straight to the stored form (interned ids, exact
                                        // length): what `set_valid_row` does for a new row.
                                        let mut row = Vec::with_capacity(cells.len());
                                        for (c, v) in cells {
                                            if let Some(v) = v {
                                                row.push((st.names.intern(c), v.clone()));
                                            }
                                        }
                                        st.insert_new_row(t, r, row);
                                    });
                                }
                                Some(cells) => {
                                    for (c, cell) in cells {
                                        match cell {
                                            Some(cell) => s.set_cell(t, r, c, cell.clone()),
                                            None => s.del_cell(t, r, c, false),
                                        };
                                    }
                                }
                            }
                        }
                    }
                }
            }
            for (v, value) in &changes.values {
                match value {
                    Some(value) => s.set_value(v, value.clone()),
                    None => s.del_value(v),
                };
            }
        });
        self
    }

    /// Applies what a merge accepted (owned, so cells move into the store): the same writes,
    /// in the same order and with the same change log, as [`Store::apply_changes`] of the
    /// equivalent [`Changes`], without building one.
    pub(crate) fn apply_accepted(&self, accepted: stamps::Accepted) -> &Self {
        self.transaction(|s| {
            for (t, rows) in accepted.tables {
                for (r, cells) in rows {
                    // A new row of only valid cells, with no schema to apply, goes in whole
                    // (as in `apply_changes`).
                    let whole = cells
                        .iter()
                        .all(|(_, c)| c.as_ref().is_some_and(Cell::is_valid))
                        && s.with(|st| st.tables_schema.is_none() && !has_row(st, &t, &r));
                    if whole {
                        s.with_mut(|st| {
                            let mut row = Vec::with_capacity(cells.len());
                            for (c, v) in cells {
                                if let Some(v) = v {
                                    row.push((st.names.intern(&c), v));
                                }
                            }
                            st.insert_new_row(&t, &r, row);
                        });
                    } else {
                        for (c, cell) in cells {
                            match cell {
                                Some(cell) => s.set_cell(&t, &r, &c, cell),
                                None => s.del_cell(&t, &r, &c, false),
                            };
                        }
                    }
                }
            }
            for (v, value) in accepted.values {
                match value {
                    Some(value) => s.set_value(&v, value),
                    None => s.del_value(&v),
                };
            }
        });
        self
    }

    // ------------------------------------------------------------------ deleters

    /// Deletes every table.
    pub fn del_tables(&self) -> &Self {
        self.fluent(|s| {
            let ids: Vec<Text> = s.tables.keys().cloned().collect();
            for t in ids {
                del_table_in(s, &t);
            }
        })
    }

    /// Deletes a table.
    pub fn del_table(&self, table_id: &str) -> &Self {
        self.fluent(|s| del_table_in(s, table_id))
    }

    /// Deletes a row.
    pub fn del_row(&self, table_id: &str, row_id: &str) -> &Self {
        self.fluent(|s| del_row_in(s, table_id, row_id))
    }

    /// Deletes a cell. A cell with a schema default is reset to it, unless `force_del`, which
    /// deletes the whole row (TinyBase's `forceDel`).
    pub fn del_cell(&self, table_id: &str, row_id: &str, cell_id: &str, force_del: bool) -> &Self {
        self.fluent(|s| del_cell_in(s, table_id, row_id, cell_id, force_del))
    }

    /// Deletes every value (values with a default are reset to it).
    pub fn del_values(&self) -> &Self {
        self.fluent(|s| {
            let ids: Vec<Text> = s.values.keys().cloned().collect();
            for v in ids {
                del_value_in(s, &v);
            }
        })
    }

    /// Deletes a value (reset to its default if it has one).
    pub fn del_value(&self, value_id: &str) -> &Self {
        self.fluent(|s| del_value_in(s, value_id))
    }

    // ------------------------------------------------------------------ schemas

    /// Sets the TablesSchema and re-validates every table through it.
    pub fn set_tables_schema(&self, schema: TablesSchema) -> &Self {
        self.transaction(|store| {
            let tables = store.get_tables();
            store.with_mut(|s| {
                let old = s.tables_schema.replace(Arc::new(schema));
                s.undo.push(Undo::TablesSchema(old));
            });
            if !tables.is_empty() {
                store.del_tables();
                store.set_tables(&tables);
            }
        });
        self
    }

    /// Parses and sets a TablesSchema from JSON.
    pub fn set_tables_schema_json(&self, json: &str) -> Result<&Self, StoreError> {
        let parsed = content::parse_json(json)?;
        let schema = TablesSchema::from_json(&parsed)
            .ok_or_else(|| StoreError::Schema("no valid table schema".into()))?;
        Ok(self.set_tables_schema(schema))
    }

    /// Sets the ValuesSchema and re-validates the values through it. As in TinyBase, the
    /// values are deleted without a schema (so not reset to defaults) and set again through
    /// the new one, which also fills in its defaults when there were no values at all.
    pub fn set_values_schema(&self, schema: ValuesSchema) -> &Self {
        self.transaction(|store| {
            let values = store.get_values();
            store.with_mut(|s| {
                let old = s.values_schema.take();
                s.undo.push(Undo::ValuesSchema(old));
            });
            store.del_values();
            store.with_mut(|s| s.values_schema = Some(Arc::new(schema)));
            store.set_values(&values);
        });
        self
    }

    /// Parses and sets a ValuesSchema from JSON.
    pub fn set_values_schema_json(&self, json: &str) -> Result<&Self, StoreError> {
        let parsed = content::parse_json(json)?;
        let schema = ValuesSchema::from_json(&parsed)
            .ok_or_else(|| StoreError::Schema("no valid value schema".into()))?;
        Ok(self.set_values_schema(schema))
    }

    /// Sets both schemas (`setSchema(tablesSchema, valuesSchema?)`).
    pub fn set_schema(&self, tables: TablesSchema, values: Option<ValuesSchema>) -> &Self {
        self.transaction(|s| {
            s.set_tables_schema(tables);
            if let Some(values) = values {
                s.set_values_schema(values);
            }
        });
        self
    }

    /// Removes the TablesSchema (data is kept).
    pub fn del_tables_schema(&self) -> &Self {
        self.fluent(|s| {
            let old = s.tables_schema.take();
            s.undo.push(Undo::TablesSchema(old));
        })
    }

    /// Removes the ValuesSchema (data is kept).
    pub fn del_values_schema(&self) -> &Self {
        self.fluent(|s| {
            let old = s.values_schema.take();
            s.undo.push(Undo::ValuesSchema(old));
        })
    }

    /// Removes both schemas.
    pub fn del_schema(&self) -> &Self {
        self.del_tables_schema().del_values_schema()
    }

    /// Whether a TablesSchema is set.
    pub fn has_tables_schema(&self) -> bool {
        self.with(|s| s.tables_schema.is_some())
    }
    /// Whether a ValuesSchema is set.
    pub fn has_values_schema(&self) -> bool {
        self.with(|s| s.values_schema.is_some())
    }
    /// The TablesSchema as JSON (`{}` when none).
    pub fn get_tables_schema_json(&self) -> String {
        self.with(|s| {
            s.tables_schema
                .as_ref()
                .map_or_else(|| "{}".to_string(), |x| json::stringify(&x.to_json()))
        })
    }
    /// The ValuesSchema as JSON (`{}` when none).
    pub fn get_values_schema_json(&self) -> String {
        self.with(|s| {
            s.values_schema
                .as_ref()
                .map_or_else(|| "{}".to_string(), |x| json::stringify(&x.to_json()))
        })
    }
    /// `[tablesSchema, valuesSchema]` as JSON.
    pub fn get_schema_json(&self) -> String {
        format!(
            "[{},{}]",
            self.get_tables_schema_json(),
            self.get_values_schema_json()
        )
    }

    // ------------------------------------------------------------------ transactions

    /// Runs `actions` in one transaction (joining an open one) and returns its result. If
    /// `actions` panics, the transaction is rolled back and the panic resumed.
    ///
    /// ```
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// let n = store.transaction(|s| {
    ///     s.set_cell("t", "r", "a", 1).set_cell("t", "r", "b", 2);
    ///     s.get_cell_ids("t", "r").len()
    /// });
    /// assert_eq!(n, 2);
    /// ```
    pub fn transaction<R>(&self, actions: impl FnOnce(&Store) -> R) -> R {
        self.run_transaction(actions, None)
    }

    /// Like [`Store::transaction`], then calls `do_rollback` after the mutator listeners; if it
    /// returns true every change of the transaction (schemas included) is reverted.
    pub fn transaction_with_rollback<R>(
        &self,
        actions: impl FnOnce(&Store) -> R,
        mut do_rollback: impl FnMut(&Store) -> bool,
    ) -> R {
        self.run_transaction(actions, Some(&mut do_rollback))
    }

    /// Runs fallible `actions` in one transaction; an `Err` rolls everything back.
    pub fn try_transaction<R, E>(
        &self,
        actions: impl FnOnce(&Store) -> Result<R, E>,
    ) -> Result<R, E> {
        // Inside an outer transaction this joins it, and (as in TinyBase) only the outermost
        // transaction can roll back: an inner `Err` is returned without reverting anything.
        let failed = std::cell::Cell::new(false);
        self.run_transaction(
            |s| {
                let r = actions(s);
                failed.set(r.is_err());
                r
            },
            Some(&mut |_| failed.get()),
        )
    }

    fn run_transaction<R>(
        &self,
        actions: impl FnOnce(&Store) -> R,
        do_rollback: Option<&mut dyn FnMut(&Store) -> bool>,
    ) -> R {
        let _guard = self.inner.state.lock();
        if !self.begin() {
            return actions(self);
        }
        match catch_unwind(AssertUnwindSafe(|| actions(self))) {
            Ok(result) => {
                self.finish(do_rollback);
                result
            }
            Err(panic) => {
                self.finish(Some(&mut |_| true));
                resume_unwind(panic)
            }
        }
    }

    /// Starts an explicit transaction; pair with [`Store::finish_transaction`].
    pub fn start_transaction(&self) -> &Self {
        self.begin();
        self
    }

    /// Finishes an explicit transaction (nested starts are counted).
    pub fn finish_transaction(&self) -> &Self {
        self.finish(None);
        self
    }

    /// Finishes an explicit transaction, rolling it back if `do_rollback` returns true.
    pub fn finish_transaction_with_rollback(
        &self,
        mut do_rollback: impl FnMut(&Store) -> bool,
    ) -> &Self {
        self.finish(Some(&mut do_rollback));
        self
    }

    /// Whether a transaction is open (including while its listeners run).
    pub fn is_in_transaction(&self) -> bool {
        self.with(|s| s.depth != 0)
    }

    /// Whether the current transaction touched any cell or value, without building its
    /// changes: `false` means [`Store::get_transaction_changes`] is empty; `true` may still
    /// mean a net no-op (a cell set and set back). For listeners that only need to know
    /// whether to do anything, such as a coalescing auto-save.
    ///
    /// ```
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// store.transaction(|s| {
    ///     assert!(!s.has_transaction_touches());
    ///     s.set_value("open", true);
    ///     assert!(s.has_transaction_touches());
    /// });
    /// ```
    pub fn has_transaction_touches(&self) -> bool {
        self.with(|s| !s.log.cells.is_empty() || !s.log.values.is_empty())
    }

    /// The net changes of the current transaction (empty outside one).
    pub fn get_transaction_changes(&self) -> Changes {
        self.with(|s| {
            let mut changes = Changes::default();
            for (t, rows) in s.log.cells.iter() {
                if s.log.table_ids.get(t.as_str()) == Some(&-1) {
                    changes.tables.insert(t.to_string(), None);
                    continue;
                }
                let mut table = IndexMap::new();
                for (r, cells) in rows.iter() {
                    let row_deleted = s
                        .log
                        .row_ids
                        .get(t.as_str())
                        .and_then(|ids| ids.get(r.as_str()))
                        == Some(&-1);
                    if row_deleted {
                        table.insert(r.to_string(), None);
                        continue;
                    }
                    let mut row = IndexMap::new();
                    for (c, old) in cells {
                        let new = s.cell_ref(t, r, *c);
                        if old.as_ref() != new {
                            row.insert(s.names.name(*c).to_string(), new.cloned());
                        }
                    }
                    if !row.is_empty() {
                        table.insert(r.to_string(), Some(row));
                    }
                }
                if !table.is_empty() {
                    changes.tables.insert(t.to_string(), Some(table));
                }
            }
            for (v, old) in s.log.values.iter() {
                let new = s.values.get(v.as_str());
                if old.as_ref() != new {
                    changes.values.insert(v.to_string(), new.cloned());
                }
            }
            changes
        })
    }

    /// The full log of the current transaction.
    pub fn get_transaction_log(&self) -> TransactionLog {
        self.with(|s| {
            let name = |c: &u32| s.names.name(*c).to_string();
            let mut log = TransactionLog {
                cells_touched: !s.log.cells.is_empty(),
                values_touched: !s.log.values.is_empty(),
                ..Default::default()
            };
            // As TinyBase, only cells whose value differs (a cell changed back is omitted).
            for (t, rows) in s.log.cells.iter() {
                for (r, cells) in rows.iter() {
                    for (c, old) in cells {
                        let new = s.cell_ref(t, r, *c);
                        if old.as_ref() != new {
                            log.changed_cells
                                .entry(t.to_string())
                                .or_default()
                                .entry(r.to_string())
                                .or_default()
                                .insert(name(c), (old.clone(), new.cloned()));
                        }
                    }
                }
            }
            log.invalid_cells = s
                .log
                .invalid_cells
                .iter()
                .map(|(t, r, c, v)| {
                    let s = |x: &Option<Text>| x.as_ref().map(|x| x.to_string());
                    (s(t), s(r), s(c), v.clone())
                })
                .collect();
            for (v, old) in s.log.values.iter() {
                let new = s.values.get(v.as_str());
                if old.as_ref() != new {
                    log.changed_values
                        .insert(v.to_string(), (old.clone(), new.cloned()));
                }
            }
            log.invalid_values = s
                .log
                .invalid_values
                .iter()
                .map(|(v, x)| (v.as_ref().map(|v| v.to_string()), x.clone()))
                .collect();
            log.changed_table_ids = s
                .log
                .table_ids
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect();
            for (t, rows) in s.log.row_ids.iter() {
                log.changed_row_ids.insert(
                    t.to_string(),
                    rows.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
                );
            }
            for (t, rows) in s.log.cell_ids.iter() {
                let table = log.changed_cell_ids.entry(t.to_string()).or_default();
                for (r, cells) in rows.iter() {
                    table.insert(
                        r.to_string(),
                        cells.iter().map(|(c, v)| (name(c), *v)).collect(),
                    );
                }
            }
            log.changed_value_ids = s
                .log
                .value_ids
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect();
            log
        })
    }

    /// `getCellChange(t, r, c)`: valid during a transaction and inside its listeners.
    pub fn get_cell_change(&self, table_id: &str, row_id: &str, cell_id: &str) -> CellChange {
        self.with(|s| {
            let new = s.get_cell(table_id, row_id, cell_id).cloned();
            let old = s
                .names
                .get(cell_id)
                .and_then(|c| s.log.old_cell(table_id, row_id, c))
                .cloned();
            match old {
                Some(old) => CellChange {
                    changed: old != new,
                    old,
                    new,
                },
                None => CellChange {
                    changed: false,
                    old: new.clone(),
                    new,
                },
            }
        })
    }

    /// `getValueChange(v)`.
    pub fn get_value_change(&self, value_id: &str) -> CellChange {
        self.with(|s| {
            let new = s.values.get(value_id).cloned();
            match s.log.values.get(value_id) {
                Some(old) => CellChange {
                    changed: *old != new,
                    old: old.clone(),
                    new,
                },
                None => CellChange {
                    changed: false,
                    old: new.clone(),
                    new,
                },
            }
        })
    }

    // ------------------------------------------------------------------ listeners

    fn add(
        &self,
        kind: ListenerKind,
        ids: Vec<Option<Text>>,
        callback: Callback,
        mutator: bool,
    ) -> ListenerId {
        self.with_mut(|s| s.listeners.add(kind, ids, callback, mutator, None))
    }

    /// Removes a listener. Unknown ids are ignored.
    pub fn del_listener(&self, id: ListenerId) -> &Self {
        self.with_mut(|s| s.listeners.remove(id));
        self
    }

    /// Listener counts per kind.
    pub fn get_listener_stats(&self) -> ListenerStats {
        self.with(|s| {
            let n = |k| s.listeners.count(k);
            use ListenerKind as K;
            ListenerStats {
                has_tables: n(K::HasTables),
                tables: n(K::Tables),
                table_ids: n(K::TableIds),
                has_table: n(K::HasTable),
                table: n(K::Table),
                table_cell_ids: n(K::TableCellIds),
                has_table_cell: n(K::HasTableCell),
                row_count: n(K::RowCount),
                row_ids: n(K::RowIds),
                sorted_row_ids: n(K::SortedRowIds),
                has_row: n(K::HasRow),
                row: n(K::Row),
                cell_ids: n(K::CellIds),
                has_cell: n(K::HasCell),
                cell: n(K::Cell),
                invalid_cell: n(K::InvalidCell),
                has_values: n(K::HasValues),
                values: n(K::Values),
                value_ids: n(K::ValueIds),
                has_value: n(K::HasValue),
                value: n(K::Value),
                invalid_value: n(K::InvalidValue),
                transaction: n(K::StartTransaction)
                    + n(K::WillFinishTransaction)
                    + n(K::DidFinishTransaction),
            }
        })
    }

    /// Listens to whether any table exists (fires only when that flips).
    pub fn add_has_tables_listener(
        &self,
        listener: impl FnMut(&Store, bool) + Send + 'static,
        mutator: bool,
    ) -> ListenerId {
        self.add(
            ListenerKind::HasTables,
            vec![],
            Callback::Bool(Box::new(listener)),
            mutator,
        )
    }
    /// Listens to any change of any cell; use [`Store::get_cell_change`] for details.
    pub fn add_tables_listener(
        &self,
        listener: impl FnMut(&Store) + Send + 'static,
        mutator: bool,
    ) -> ListenerId {
        self.add(
            ListenerKind::Tables,
            vec![],
            Callback::Store(Box::new(listener)),
            mutator,
        )
    }
    /// Listens to added/removed table ids.
    pub fn add_table_ids_listener(
        &self,
        listener: impl FnMut(&Store, &IdChanges) + Send + 'static,
        mutator: bool,
    ) -> ListenerId {
        self.add(
            ListenerKind::TableIds,
            vec![],
            Callback::Ids(Box::new(listener)),
            mutator,
        )
    }
    /// Listens to whether a table (`None`: any) exists.
    pub fn add_has_table_listener(
        &self,
        table_id: Option<&str>,
        listener: impl FnMut(&Store, &str, bool) + Send + 'static,
        mutator: bool,
    ) -> ListenerId {
        self.add(
            ListenerKind::HasTable,
            vec![opt(table_id)],
            Callback::Id1Bool(Box::new(listener)),
            mutator,
        )
    }
    /// Listens to any cell change in a table.
    pub fn add_table_listener(
        &self,
        table_id: Option<&str>,
        listener: impl FnMut(&Store, &str) + Send + 'static,
        mutator: bool,
    ) -> ListenerId {
        self.add(
            ListenerKind::Table,
            vec![opt(table_id)],
            Callback::Id1(Box::new(listener)),
            mutator,
        )
    }
    /// Listens to cell ids added to or removed from a table.
    pub fn add_table_cell_ids_listener(
        &self,
        table_id: Option<&str>,
        listener: impl FnMut(&Store, &str, &IdChanges) + Send + 'static,
        mutator: bool,
    ) -> ListenerId {
        self.add(
            ListenerKind::TableCellIds,
            vec![opt(table_id)],
            Callback::Id1Ids(Box::new(listener)),
            mutator,
        )
    }
    /// Listens to whether a table uses a cell id.
    pub fn add_has_table_cell_listener(
        &self,
        table_id: Option<&str>,
        cell_id: Option<&str>,
        listener: impl FnMut(&Store, &str, &str, bool) + Send + 'static,
        mutator: bool,
    ) -> ListenerId {
        self.add(
            ListenerKind::HasTableCell,
            vec![opt(table_id), opt(cell_id)],
            Callback::Id2Bool(Box::new(listener)),
            mutator,
        )
    }
    /// Listens to a table's row count.
    pub fn add_row_count_listener(
        &self,
        table_id: Option<&str>,
        listener: impl FnMut(&Store, &str, usize) + Send + 'static,
        mutator: bool,
    ) -> ListenerId {
        self.add(
            ListenerKind::RowCount,
            vec![opt(table_id)],
            Callback::Id1Count(Box::new(listener)),
            mutator,
        )
    }
    /// Listens to row ids added to or removed from a table.
    pub fn add_row_ids_listener(
        &self,
        table_id: Option<&str>,
        listener: impl FnMut(&Store, &str, &IdChanges) + Send + 'static,
        mutator: bool,
    ) -> ListenerId {
        self.add(
            ListenerKind::RowIds,
            vec![opt(table_id)],
            Callback::Id1Ids(Box::new(listener)),
            mutator,
        )
    }
    /// Listens to a sorted, sliced list of row ids; fires only when that list changes.
    pub fn add_sorted_row_ids_listener(
        &self,
        args: SortedRowIdsArgs,
        listener: impl FnMut(&Store, &SortedRowIdsArgs, &[String]) + Send + 'static,
        mutator: bool,
    ) -> ListenerId {
        self.with_mut(|s| {
            let last = sort_row_ids(s, &args);
            let ids = vec![
                Some(Text::from(args.table_id.as_str())),
                opt(args.cell_id.as_deref()),
            ];
            s.listeners.add(
                ListenerKind::SortedRowIds,
                ids,
                Callback::Sorted(Box::new(listener)),
                mutator,
                Some(SortedState { args, last }),
            )
        })
    }
    /// Listens to whether a row exists.
    pub fn add_has_row_listener(
        &self,
        table_id: Option<&str>,
        row_id: Option<&str>,
        listener: impl FnMut(&Store, &str, &str, bool) + Send + 'static,
        mutator: bool,
    ) -> ListenerId {
        self.add(
            ListenerKind::HasRow,
            vec![opt(table_id), opt(row_id)],
            Callback::Id2Bool(Box::new(listener)),
            mutator,
        )
    }
    /// Listens to any cell change in a row.
    pub fn add_row_listener(
        &self,
        table_id: Option<&str>,
        row_id: Option<&str>,
        listener: impl FnMut(&Store, &str, &str) + Send + 'static,
        mutator: bool,
    ) -> ListenerId {
        self.add(
            ListenerKind::Row,
            vec![opt(table_id), opt(row_id)],
            Callback::Id2(Box::new(listener)),
            mutator,
        )
    }
    /// Listens to cell ids added to or removed from a row.
    pub fn add_cell_ids_listener(
        &self,
        table_id: Option<&str>,
        row_id: Option<&str>,
        listener: impl FnMut(&Store, &str, &str, &IdChanges) + Send + 'static,
        mutator: bool,
    ) -> ListenerId {
        self.add(
            ListenerKind::CellIds,
            vec![opt(table_id), opt(row_id)],
            Callback::Id2Ids(Box::new(listener)),
            mutator,
        )
    }
    /// Listens to whether a cell exists.
    pub fn add_has_cell_listener(
        &self,
        table_id: Option<&str>,
        row_id: Option<&str>,
        cell_id: Option<&str>,
        listener: impl FnMut(&Store, &str, &str, &str, bool) + Send + 'static,
        mutator: bool,
    ) -> ListenerId {
        self.add(
            ListenerKind::HasCell,
            vec![opt(table_id), opt(row_id), opt(cell_id)],
            Callback::Id3Bool(Box::new(listener)),
            mutator,
        )
    }
    /// Listens to a cell: `(store, tableId, rowId, cellId, newCell, oldCell)`.
    pub fn add_cell_listener(
        &self,
        table_id: Option<&str>,
        row_id: Option<&str>,
        cell_id: Option<&str>,
        listener: impl FnMut(&Store, &str, &str, &str, Option<&Cell>, Option<&Cell>) + Send + 'static,
        mutator: bool,
    ) -> ListenerId {
        self.add(
            ListenerKind::Cell,
            vec![opt(table_id), opt(row_id), opt(cell_id)],
            Callback::Cell(Box::new(listener)),
            mutator,
        )
    }
    /// Listens to rejected cell writes: `(store, tableId?, rowId?, cellId?, invalidCells)`.
    pub fn add_invalid_cell_listener(
        &self,
        table_id: Option<&str>,
        row_id: Option<&str>,
        cell_id: Option<&str>,
        listener: impl FnMut(&Store, Option<&str>, Option<&str>, Option<&str>, &[Option<Cell>])
        + Send
        + 'static,
        mutator: bool,
    ) -> ListenerId {
        self.add(
            ListenerKind::InvalidCell,
            vec![opt(table_id), opt(row_id), opt(cell_id)],
            Callback::InvalidCell(Box::new(listener)),
            mutator,
        )
    }
    /// Listens to whether any value exists.
    pub fn add_has_values_listener(
        &self,
        listener: impl FnMut(&Store, bool) + Send + 'static,
        mutator: bool,
    ) -> ListenerId {
        self.add(
            ListenerKind::HasValues,
            vec![],
            Callback::Bool(Box::new(listener)),
            mutator,
        )
    }
    /// Listens to any value change; use [`Store::get_value_change`] for details.
    pub fn add_values_listener(
        &self,
        listener: impl FnMut(&Store) + Send + 'static,
        mutator: bool,
    ) -> ListenerId {
        self.add(
            ListenerKind::Values,
            vec![],
            Callback::Store(Box::new(listener)),
            mutator,
        )
    }
    /// Listens to added/removed value ids.
    pub fn add_value_ids_listener(
        &self,
        listener: impl FnMut(&Store, &IdChanges) + Send + 'static,
        mutator: bool,
    ) -> ListenerId {
        self.add(
            ListenerKind::ValueIds,
            vec![],
            Callback::Ids(Box::new(listener)),
            mutator,
        )
    }
    /// Listens to whether a value exists.
    pub fn add_has_value_listener(
        &self,
        value_id: Option<&str>,
        listener: impl FnMut(&Store, &str, bool) + Send + 'static,
        mutator: bool,
    ) -> ListenerId {
        self.add(
            ListenerKind::HasValue,
            vec![opt(value_id)],
            Callback::Id1Bool(Box::new(listener)),
            mutator,
        )
    }
    /// Listens to a value: `(store, valueId, newValue, oldValue)`.
    pub fn add_value_listener(
        &self,
        value_id: Option<&str>,
        listener: impl FnMut(&Store, &str, Option<&Cell>, Option<&Cell>) + Send + 'static,
        mutator: bool,
    ) -> ListenerId {
        self.add(
            ListenerKind::Value,
            vec![opt(value_id)],
            Callback::Value(Box::new(listener)),
            mutator,
        )
    }
    /// Listens to rejected value writes.
    pub fn add_invalid_value_listener(
        &self,
        value_id: Option<&str>,
        listener: impl FnMut(&Store, Option<&str>, &[Option<Cell>]) + Send + 'static,
        mutator: bool,
    ) -> ListenerId {
        self.add(
            ListenerKind::InvalidValue,
            vec![opt(value_id)],
            Callback::InvalidValue(Box::new(listener)),
            mutator,
        )
    }
    /// Called when the outermost transaction starts.
    pub fn add_start_transaction_listener(
        &self,
        listener: impl FnMut(&Store) + Send + 'static,
    ) -> ListenerId {
        self.add(
            ListenerKind::StartTransaction,
            vec![],
            Callback::Store(Box::new(listener)),
            false,
        )
    }
    /// Called after mutator listeners and rollback, before the other listeners.
    pub fn add_will_finish_transaction_listener(
        &self,
        listener: impl FnMut(&Store) + Send + 'static,
    ) -> ListenerId {
        self.add(
            ListenerKind::WillFinishTransaction,
            vec![],
            Callback::Store(Box::new(listener)),
            false,
        )
    }
    /// Called at the very end of every outermost transaction, rolled back or not.
    pub fn add_did_finish_transaction_listener(
        &self,
        listener: impl FnMut(&Store) + Send + 'static,
    ) -> ListenerId {
        self.add(
            ListenerKind::DidFinishTransaction,
            vec![],
            Callback::Store(Box::new(listener)),
            false,
        )
    }

    /// Calls a listener now for every id path it currently matches, with current state
    /// (TinyBase's `callListener`): has-listeners get the current boolean, cell and value
    /// listeners get `(current, current)`, id-change listeners get no changes.
    pub fn call_listener(&self, id: ListenerId) -> &Self {
        let _guard = self.inner.state.lock();
        let Some((kind, ids)) =
            self.with(|s| s.listeners.entry(id.0).map(|e| (e.kind, e.ids.clone())))
        else {
            return self;
        };
        let paths = self.expand_paths(kind, &ids);
        for path in paths {
            let p: Vec<Option<&str>> = path.iter().map(|x| Some(x.as_str())).collect();
            let result = match kind {
                ListenerKind::HasTables => self.call_one(id.0, &p, Args::Bool(self.has_tables())),
                ListenerKind::HasValues => self.call_one(id.0, &p, Args::Bool(self.has_values())),
                ListenerKind::HasTable => {
                    self.call_one(id.0, &p, Args::Bool(self.has_table(&path[0])))
                }
                ListenerKind::HasTableCell => self.call_one(
                    id.0,
                    &p,
                    Args::Bool(self.has_table_cell(&path[0], &path[1])),
                ),
                ListenerKind::HasRow => {
                    self.call_one(id.0, &p, Args::Bool(self.has_row(&path[0], &path[1])))
                }
                ListenerKind::HasCell => self.call_one(
                    id.0,
                    &p,
                    Args::Bool(self.has_cell(&path[0], &path[1], &path[2])),
                ),
                ListenerKind::HasValue => {
                    self.call_one(id.0, &p, Args::Bool(self.has_value(&path[0])))
                }
                ListenerKind::RowCount => {
                    self.call_one(id.0, &p, Args::Count(self.get_row_count(&path[0])))
                }
                ListenerKind::TableIds
                | ListenerKind::ValueIds
                | ListenerKind::TableCellIds
                | ListenerKind::RowIds
                | ListenerKind::CellIds => self.call_one(id.0, &p, Args::Ids(&[])),
                ListenerKind::Cell => {
                    let cell = self.get_cell(&path[0], &path[1], &path[2]);
                    self.call_one(id.0, &p, Args::Cell(cell.as_ref(), cell.as_ref()))
                }
                ListenerKind::Value => {
                    let value = self.get_value(&path[0]);
                    self.call_one(id.0, &p, Args::Cell(value.as_ref(), value.as_ref()))
                }
                ListenerKind::InvalidCell | ListenerKind::InvalidValue => {
                    self.call_one(id.0, &p, Args::Invalid(&[]))
                }
                ListenerKind::SortedRowIds => {
                    let args = self.with(|s| {
                        s.listeners
                            .entry(id.0)
                            .and_then(|e| e.sorted.as_ref())
                            .map(|x| x.args.clone())
                    });
                    match args {
                        Some(args) => {
                            let ids = self.get_sorted_row_ids(&args);
                            self.call_one(id.0, &p, Args::Sorted(&args, &ids))
                        }
                        None => Ok(()),
                    }
                }
                _ => self.call_one(id.0, &p, Args::None),
            };
            if let Err(panic) = result {
                resume_unwind(panic);
            }
        }
        self
    }

    fn expand_paths(&self, kind: ListenerKind, ids: &[Option<Text>]) -> Vec<Vec<String>> {
        let mut paths: Vec<Vec<String>> = vec![vec![]];
        let levels = match kind {
            ListenerKind::SortedRowIds => 0,
            k => k.arity(),
        };
        let is_value = matches!(
            kind,
            ListenerKind::HasValue | ListenerKind::Value | ListenerKind::InvalidValue
        );
        for (level, registered) in ids.iter().enumerate().take(levels) {
            let mut next = Vec::new();
            for path in &paths {
                let candidates: Vec<String> = match registered {
                    Some(id) => vec![id.to_string()],
                    None if is_value => self.get_value_ids(),
                    None => match (level, kind) {
                        (0, _) => self.get_table_ids(),
                        (1, ListenerKind::HasTableCell) => self.get_table_cell_ids(&path[0]),
                        (1, _) => self.get_row_ids(&path[0]),
                        _ => self.get_cell_ids(&path[0], &path[1]),
                    },
                };
                for c in candidates {
                    let mut p = path.clone();
                    p.push(c);
                    next.push(p);
                }
            }
            paths = next;
        }
        if kind == ListenerKind::SortedRowIds
            && let Some(Some(t)) = ids.first()
        {
            paths = vec![vec![t.to_string()]];
        }
        paths
    }
}

// ---------------------------------------------------------------------- validation

fn schema_cell<'a>(
    schema: &'a Option<Arc<TablesSchema>>,
    t: &str,
    c: &str,
) -> Option<Option<&'a crate::schema::CellSchema>> {
    schema
        .as_ref()
        .map(|s| s.table(t).and_then(|ts| ts.cell(c)))
}

/// TinyBase's `getValidatedCell`: the cell to store, or `None` (recorded as invalid).
fn validated_cell(s: &mut State, t: &str, r: Option<&str>, c: &str, cell: Cell) -> Option<Cell> {
    match schema_cell(&s.tables_schema, t, c) {
        None => {
            if cell.is_valid() {
                Some(cell)
            } else {
                s.cell_invalid(Some(t), r, Some(c), Some(cell));
                None
            }
        }
        Some(None) => {
            s.cell_invalid(Some(t), r, Some(c), Some(cell));
            None
        }
        Some(Some(cs)) => {
            let verdict = if cell.is_valid() {
                cs.check(&cell)
            } else {
                Checked::Invalid(cs.default.clone())
            };
            match verdict {
                Checked::Valid => Some(cell),
                Checked::Invalid(default) => {
                    s.cell_invalid(Some(t), r, Some(c), Some(cell));
                    default
                }
            }
        }
    }
}

fn validated_value(s: &mut State, v: &str, value: Cell) -> Option<Cell> {
    let schema = s.values_schema.clone();
    match schema.as_ref().map(|x| x.value(v)) {
        None => {
            if value.is_valid() {
                Some(value)
            } else {
                s.value_invalid(Some(v), Some(value));
                None
            }
        }
        Some(None) => {
            s.value_invalid(Some(v), Some(value));
            None
        }
        Some(Some(vs)) => {
            let verdict = if value.is_valid() {
                vs.check(&value)
            } else {
                Checked::Invalid(vs.default.clone())
            };
            match verdict {
                Checked::Valid => Some(value),
                Checked::Invalid(default) => {
                    s.value_invalid(Some(v), Some(value));
                    default
                }
            }
        }
    }
}

type ValidRow = Vec<(Text, Cell)>;

/// Appends missing defaulted cells (schema order) and records missing non-defaulted ones.
/// Returns false if a required cell is missing.
fn add_row_defaults(s: &mut State, t: &str, r: Option<&str>, mut row: ValidRow) -> ValidRow {
    if let Some(table_schema) = s.tables_schema.clone().and_then(|x| x.table(t).cloned()) {
        for (c, default) in table_schema.defaults() {
            if !row.iter().any(|(id, _)| id == c) {
                row.push((c.clone(), default.clone()));
                // A MergeableStore gives a cell filled in from its default the empty HLC, but
                // (as TinyBase) only when the row id is known: not for `addRow`.
                if let (Some(m), Some(r)) = (s.mergeable.as_deref_mut(), r) {
                    m.defaulted_cells.push((t.into(), r.into(), c.clone()));
                }
            }
        }
        for (c, _) in table_schema.non_defaulted() {
            if !row.iter().any(|(id, _)| id == c) {
                s.cell_invalid(Some(t), r, Some(c), None);
            }
        }
    }
    row
}

fn validate_row(
    s: &mut State,
    t: &str,
    r: Option<&str>,
    row: &Row,
    skip_defaults: bool,
) -> Option<ValidRow> {
    let mut input: ValidRow = row
        .iter()
        .map(|(c, v)| (Text::from(c.as_str()), v.clone()))
        .collect();
    let schema = s.tables_schema.clone();
    let table_schema = schema.as_ref().and_then(|x| x.table(t));
    if !skip_defaults && table_schema.is_some() {
        input = add_row_defaults(s, t, r, input);
    }
    if input.is_empty() {
        s.cell_invalid(Some(t), r, None, None);
        return None;
    }
    let mut valid = Vec::with_capacity(input.len());
    for (c, cell) in input {
        if let Some(cell) = validated_cell(s, t, r, &c, cell) {
            valid.push((c, cell));
        }
    }
    if !skip_defaults
        && let Some(ts) = table_schema
        && ts
            .non_defaulted()
            .iter()
            .any(|(c, required)| *required && !valid.iter().any(|(id, _)| id == c))
    {
        return None;
    }
    (!valid.is_empty()).then_some(valid)
}

fn validate_table(s: &mut State, t: &str, table: &Table) -> Option<Vec<(Text, ValidRow)>> {
    if let Some(schema) = &s.tables_schema
        && schema.table(t).is_none()
    {
        s.cell_invalid(Some(t), None, None, None);
        return None;
    }
    if table.is_empty() {
        s.cell_invalid(Some(t), None, None, None);
        return None;
    }
    let valid: Vec<(Text, ValidRow)> = table
        .iter()
        .filter_map(|(r, row)| {
            validate_row(s, t, Some(r), row, false).map(|v| (Text::from(r.as_str()), v))
        })
        .collect();
    (!valid.is_empty()).then_some(valid)
}

type ValidTables = Vec<(Text, Vec<(Text, ValidRow)>)>;

fn validate_tables(s: &mut State, tables: &Tables) -> Option<ValidTables> {
    if tables.is_empty() {
        s.cell_invalid(None, None, None, None);
        return None;
    }
    let valid: ValidTables = tables
        .iter()
        .filter_map(|(t, table)| validate_table(s, t, table).map(|v| (Text::from(t.as_str()), v)))
        .collect();
    (!valid.is_empty()).then_some(valid)
}

fn validate_value(s: &mut State, v: &str, value: Cell) -> Option<Cell> {
    validated_value(s, v, value)
}

fn validate_values(s: &mut State, values: &Values, skip_defaults: bool) -> Option<ValidRow> {
    let mut input: ValidRow = values
        .iter()
        .map(|(k, v)| (Text::from(k.as_str()), v.clone()))
        .collect();
    if !skip_defaults && let Some(schema) = s.values_schema.clone() {
        for (v, default) in schema.as_table().defaults() {
            if !input.iter().any(|(id, _)| id == v) {
                input.push((v.clone(), default.clone()));
                if let Some(m) = s.mergeable.as_deref_mut() {
                    m.defaulted_values.push(v.clone());
                }
            }
        }
        for (v, _) in schema.as_table().non_defaulted() {
            if !input.iter().any(|(id, _)| id == v) {
                s.value_invalid(Some(v), None);
            }
        }
    }
    if input.is_empty() {
        s.value_invalid(None, None);
        return None;
    }
    let valid: ValidRow = input
        .into_iter()
        .filter_map(|(v, value)| validated_value(s, &v, value).map(|x| (v, x)))
        .collect();
    (!valid.is_empty()).then_some(valid)
}

// ---------------------------------------------------------------------- valid writes

fn has_row(s: &State, t: &str, r: &str) -> bool {
    s.tables.get(t).is_some_and(|x| x.rows.contains_key(r))
}

fn set_cell_in(s: &mut State, t: &str, r: &str, c: &str, cell: Cell) {
    let Some(valid) = validated_cell(s, t, Some(r), c, cell) else {
        return;
    };
    if has_row(s, t, r) {
        let c = s.names.intern(c);
        s.set_valid_cell(t, r, c, valid);
    } else {
        let row = add_row_defaults(s, t, Some(r), vec![(Text::from(c), valid)]);
        set_valid_row(s, t, r, row);
    }
}

fn set_valid_row(s: &mut State, t: &str, r: &str, row: ValidRow) {
    let existed = has_row(s, t, r);
    if !existed {
        // A fresh vector of exactly the row's length: collecting `row.into_iter().map(..)`
        // would reuse `row`'s larger allocation in place ((Text, Cell) is 56 bytes, (u32, Cell)
        // 40), leaving every stored row with 40% unused capacity.
        let mut cells = Vec::with_capacity(row.len());
        cells.extend(row.into_iter().map(|(c, cell)| (s.names.intern(&c), cell)));
        s.insert_new_row(t, r, cells);
        return;
    }
    let mut ids = Vec::with_capacity(row.len());
    for (c, cell) in row {
        let c = s.names.intern(&c);
        ids.push(c);
        s.set_valid_cell(t, r, c, cell);
    }
    if existed {
        let absent: Vec<u32> = s
            .tables
            .get(t)
            .and_then(|x| x.rows.get(r))
            .map(|row| {
                row.cells
                    .iter()
                    .map(|(c, _)| *c)
                    .filter(|c| !ids.contains(c))
                    .collect()
            })
            .unwrap_or_default();
        for c in absent {
            s.del_valid_cell(t, r, c);
        }
    }
}

fn set_valid_table(s: &mut State, t: &str, rows: Vec<(Text, ValidRow)>) {
    let keep: Vec<Text> = rows.iter().map(|(r, _)| r.clone()).collect();
    for (r, row) in rows {
        set_valid_row(s, t, &r, row);
    }
    let absent = s
        .tables
        .get(t)
        .map(|x| absent_ids(x.rows.keys(), &keep))
        .unwrap_or_default();
    for r in absent {
        del_row_in(s, t, &r);
    }
}

/// The ids in `existing` that are not in `keep`. A linear scan for a few ids; a hash set for
/// many, so replacing a 100k-row table is not quadratic.
fn absent_ids<'a>(existing: impl Iterator<Item = &'a Text>, keep: &[Text]) -> Vec<Text> {
    if keep.len() <= 16 {
        return existing.filter(|id| !keep.contains(id)).cloned().collect();
    }
    let keep: hashbrown::HashSet<&str, foldhash::fast::RandomState> =
        keep.iter().map(Text::as_str).collect();
    existing
        .filter(|id| !keep.contains(id.as_str()))
        .cloned()
        .collect()
}

fn set_valid_tables(s: &mut State, tables: ValidTables) {
    let keep: Vec<Text> = tables.iter().map(|(t, _)| t.clone()).collect();
    for (t, rows) in tables {
        set_valid_table(s, &t, rows);
    }
    let absent = absent_ids(s.tables.keys(), &keep);
    for t in absent {
        del_table_in(s, &t);
    }
}

fn set_valid_values(s: &mut State, values: ValidRow) {
    let keep: Vec<Text> = values.iter().map(|(v, _)| v.clone()).collect();
    for (v, value) in values {
        s.set_valid_value(&v, value);
    }
    let absent = absent_ids(s.values.keys(), &keep);
    for v in absent {
        del_value_in(s, &v);
    }
}

fn del_table_in(s: &mut State, t: &str) {
    let rows: Vec<Text> = s
        .tables
        .get(t)
        .map(|x| x.rows.keys().cloned().collect())
        .unwrap_or_default();
    for r in rows {
        del_row_in(s, t, &r);
    }
}

/// Deletes a row explicitly (`delRow`, rows dropped by `setTable`/`delTable`): its id goes back
/// to the table's `addRow` pool first, as TinyBase's `delValidRow` does. A row emptied by
/// deleting its cells one by one does not release its id.
fn del_row_in(s: &mut State, t: &str, r: &str) {
    if has_row(s, t, r) {
        s.release_row_id(t, r);
    }
    del_row_cells(s, t, r);
}

fn del_row_cells(s: &mut State, t: &str, r: &str) {
    let cells: Vec<u32> = s
        .tables
        .get(t)
        .and_then(|x| x.rows.get(r))
        .map(|row| row.cells.iter().map(|(c, _)| *c).collect())
        .unwrap_or_default();
    for c in cells {
        s.del_valid_cell(t, r, c);
    }
}

fn del_cell_in(s: &mut State, t: &str, r: &str, c: &str, force: bool) {
    let Some(id) = s.names.get(c) else { return };
    if s.cell_ref(t, r, id).is_none() {
        return;
    }
    let default = schema_cell(&s.tables_schema, t, c)
        .flatten()
        .and_then(|cs| cs.default.clone());
    match default {
        Some(default) if !force => s.set_valid_cell(t, r, id, default),
        Some(_) => del_row_cells(s, t, r),
        None => s.del_valid_cell(t, r, id),
    }
}

fn del_value_in(s: &mut State, v: &str) {
    if !s.values.contains_key(v) {
        return;
    }
    let default = s
        .values_schema
        .as_ref()
        .and_then(|x| x.value(v))
        .and_then(|vs| vs.default.clone());
    match default {
        Some(default) => s.set_valid_value(v, default),
        None => s.del_valid_value(v),
    }
}

// ---------------------------------------------------------------------- reads

fn row_of(s: &State, row: &state::RowData) -> Row {
    let cells = row
        .cells
        .iter()
        .map(|(c, v)| (s.names.name(*c).to_string(), v.clone()))
        .collect();
    js_order(cells).into_iter().collect()
}

fn table_of(s: &State, table: &state::TableData) -> Table {
    let rows = table
        .rows
        .iter()
        .map(|(r, row)| (r.to_string(), row_of(s, row)))
        .collect();
    js_order(rows).into_iter().collect()
}

fn js_ordered<'a, T>(items: impl Iterator<Item = (&'a Text, T)>) -> Vec<(&'a Text, T)> {
    let items: Vec<_> = items.collect();
    if items.iter().any(|(k, _)| is_array_index(k).is_some()) {
        js_order(items)
    } else {
        items
    }
}

fn write_row_json(s: &State, row: &state::RowData, out: &mut String) {
    out.push('{');
    let cells = js_ordered(row.cells.iter().map(|(c, v)| (s.names.name(*c), v)));
    for (i, (c, v)) in cells.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json::write_string(out, c);
        out.push(':');
        v.write_encoded_json(out);
    }
    out.push('}');
}

fn write_tables_json(s: &State, out: &mut String) {
    out.push('{');
    for (i, (t, table)) in js_ordered(s.tables.iter()).into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json::write_string(out, t);
        out.push_str(":{");
        for (j, (r, row)) in js_ordered(table.rows.iter()).into_iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            json::write_string(out, r);
            out.push(':');
            write_row_json(s, row, out);
        }
        out.push('}');
    }
    out.push('}');
}

fn write_values_json(s: &State, out: &mut String) {
    out.push('{');
    for (i, (v, value)) in js_ordered(s.values.iter()).into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json::write_string(out, v);
        out.push(':');
        value.write_encoded_json(out);
    }
    out.push('}');
}

// ---------------------------------------------------------------------- sorting

/// JavaScript's `ToNumber` for the primitive forms a cell can take.
fn js_to_number(cell: &Cell) -> f64 {
    match cell {
        Cell::Null => 0.0,
        Cell::Boolean(b) => *b as u8 as f64,
        Cell::Number(n) => *n,
        Cell::String(s) => string_to_number(s),
        // Objects and arrays are stored encoded (a string starting with U+FFFD): NaN.
        Cell::Object(_) | Cell::Array(_) => f64::NAN,
    }
}

fn string_to_number(s: &str) -> f64 {
    let t = s.trim_matches(|c: char| c.is_whitespace() || c == '\u{FEFF}');
    if t.is_empty() {
        return 0.0;
    }
    let lower = t.to_ascii_lowercase();
    for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(digits) = lower.strip_prefix(prefix) {
            return u128::from_str_radix(digits, radix).map_or(f64::NAN, |n| n as f64);
        }
    }
    match t {
        "Infinity" | "+Infinity" => return f64::INFINITY,
        "-Infinity" => return f64::NEG_INFINITY,
        _ => {}
    }
    let valid = t
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
    if !valid || lower.contains("inf") {
        return f64::NAN;
    }
    t.parse::<f64>().unwrap_or(f64::NAN)
}

fn encoded_text(cell: &Cell) -> Option<std::borrow::Cow<'_, str>> {
    match cell {
        Cell::String(s) => Some(std::borrow::Cow::Borrowed(s.as_str())),
        Cell::Object(_) | Cell::Array(_) => cell.encoded().map(std::borrow::Cow::Owned),
        _ => None,
    }
}

/// JavaScript's `a < b` for two sort keys, a missing key counting as `0`.
fn js_less(a: Option<&Cell>, b: Option<&Cell>) -> bool {
    let zero = Cell::Number(0.0);
    let a = a.unwrap_or(&zero);
    let b = b.unwrap_or(&zero);
    if let (Some(x), Some(y)) = (encoded_text(a), encoded_text(b)) {
        return x.encode_utf16().lt(y.encode_utf16());
    }
    let (x, y) = (js_to_number(a), js_to_number(b));
    x < y
}

/// JavaScript's `Array.prototype.sort` as V8 implements it (TimSort), driven by `lt(a, b)`
/// ("the comparator returned < 0"). TinyBase's default sorter never returns 0 and, across
/// types, is not a consistent order, so only the same algorithm gives the same result: runs of
/// the minimum run length are found and extended by binary insertion exactly as V8 does (so
/// tables of fewer than 64 rows sort exactly like V8); runs are then merged stably. Never
/// panics however inconsistent `lt` is.
fn js_sort<T: Clone>(items: &mut [T], lt: &impl Fn(&T, &T) -> bool) {
    let n = items.len();
    if n < 2 {
        return;
    }
    let min_run = {
        let (mut m, mut high_bit) = (n, 0);
        while m >= 64 {
            high_bit |= m & 1;
            m >>= 1;
        }
        m + high_bit
    };
    let mut runs: Vec<(usize, usize)> = Vec::new();
    let mut low = 0;
    while low < n {
        let remaining = n - low;
        let mut run = count_and_make_run(&mut items[low..], lt);
        if run < min_run {
            let forced = min_run.min(remaining);
            binary_insertion_sort(&mut items[low..low + forced], run, lt);
            run = forced;
        }
        runs.push((low, run));
        low += run;
    }
    while runs.len() > 1 {
        let mut merged = Vec::with_capacity(runs.len().div_ceil(2));
        for pair in runs.chunks(2) {
            match *pair {
                [(a, la), (_, lb)] => {
                    merge_runs(&mut items[a..a + la + lb], la, lt);
                    merged.push((a, la + lb));
                }
                [single] => merged.push(single),
                _ => {}
            }
        }
        runs = merged;
    }
}

/// V8's `CountAndMakeRun`: the length of the run starting at 0 (a strictly descending run is
/// reversed in place).
fn count_and_make_run<T>(items: &mut [T], lt: &impl Fn(&T, &T) -> bool) -> usize {
    if items.len() < 2 {
        return items.len();
    }
    let descending = lt(&items[1], &items[0]);
    let mut run = 2;
    while run < items.len() {
        let before = lt(&items[run], &items[run - 1]);
        if before != descending {
            break;
        }
        run += 1;
    }
    if descending {
        items[..run].reverse();
    }
    run
}

/// V8's `BinaryInsertionSort`: `items[..start]` is sorted; inserts the rest.
fn binary_insertion_sort<T>(items: &mut [T], start: usize, lt: &impl Fn(&T, &T) -> bool) {
    for i in start.max(1)..items.len() {
        let (mut left, mut right) = (0, i);
        while left < right {
            let mid = left + ((right - left) >> 1);
            if lt(&items[i], &items[mid]) {
                right = mid;
            } else {
                left = mid + 1;
            }
        }
        items[left..=i].rotate_right(1);
    }
}

/// Stably merges `items[..mid]` and `items[mid..]` (an element of the right run goes first
/// only if it is strictly before the left one).
fn merge_runs<T: Clone>(items: &mut [T], mid: usize, lt: &impl Fn(&T, &T) -> bool) {
    let left: Vec<T> = items[..mid].to_vec();
    let (mut i, mut j, mut k) = (0, mid, 0);
    while i < left.len() && j < items.len() {
        if lt(&items[j], &left[i]) {
            items[k] = items[j].clone();
            j += 1;
        } else {
            items[k] = left[i].clone();
            i += 1;
        }
        k += 1;
    }
    for x in &left[i..] {
        items[k] = x.clone();
        k += 1;
    }
}

pub(crate) fn sort_row_ids(s: &State, args: &SortedRowIdsArgs) -> Vec<String> {
    let Some(table) = s.tables.get(args.table_id.as_str()) else {
        return Vec::new();
    };
    let cell = args.cell_id.as_deref().and_then(|c| s.names.get(c));
    let mut keyed: Vec<(&Text, Option<Cell>)> = table
        .rows
        .iter()
        .map(|(r, row)| {
            let key = match &args.cell_id {
                None => Some(Cell::String(r.clone())),
                Some(_) => cell.and_then(|c| row.get(c).cloned()),
            };
            (r, key)
        })
        .collect();
    // TinyBase sorts with `sorter(key1, key2)`, negated when descending.
    let desc = args.descending;
    match &args.sorter {
        Some(sorter) => {
            let want = if desc {
                Ordering::Greater
            } else {
                Ordering::Less
            };
            js_sort(
                &mut keyed,
                &|a: &(&Text, Option<Cell>), b: &(&Text, Option<Cell>)| {
                    sorter(a.1.as_ref(), b.1.as_ref()) == want
                },
            );
        }
        None => {
            js_sort(
                &mut keyed,
                &|a: &(&Text, Option<Cell>), b: &(&Text, Option<Cell>)| {
                    js_less(a.1.as_ref(), b.1.as_ref()) != desc
                },
            );
        }
    }
    keyed
        .into_iter()
        .skip(args.offset)
        .take(args.limit.unwrap_or(usize::MAX))
        .map(|(r, _)| r.to_string())
        .collect()
}

#[cfg(test)]
mod tests;
