//! Transactions: starting and finishing them, and what they changed so far.

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

use indexmap::IndexMap;

use crate::content::Changes;
use crate::types::Text;

use super::{CellChange, Store, TransactionLog};

impl Store {
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
    ///
    /// ```
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// store.set_value("limit", 10);
    /// // Roll back whenever the transaction leaves a negative limit.
    /// let no_negatives = |s: &Store| s.get_value("limit").and_then(|v| v.as_f64()) < Some(0.0);
    /// store.transaction_with_rollback(|s| { s.set_value("limit", -1); }, no_negatives);
    /// assert_eq!(store.get_value("limit").and_then(|v| v.as_f64()), Some(10.0));
    /// store.transaction_with_rollback(|s| { s.set_value("limit", 20); }, no_negatives);
    /// assert_eq!(store.get_value("limit").and_then(|v| v.as_f64()), Some(20.0));
    /// ```
    pub fn transaction_with_rollback<R>(
        &self,
        actions: impl FnOnce(&Store) -> R,
        mut do_rollback: impl FnMut(&Store) -> bool,
    ) -> R {
        self.run_transaction(actions, Some(&mut do_rollback))
    }

    /// Runs fallible `actions` in one transaction; an `Err` rolls everything back.
    ///
    /// ```
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// let result: Result<(), &str> = store.try_transaction(|s| {
    ///     s.set_cell("pets", "fido", "legs", 4);
    ///     Err("out of stock")
    /// });
    /// assert_eq!(result, Err("out of stock"));
    /// assert!(!store.has_tables());
    /// ```
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
    ///
    /// ```
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// store.start_transaction();
    /// store.set_value("open", true);
    /// assert!(store.is_in_transaction());
    /// assert_eq!(store.get_transaction_changes().values.len(), 1);
    /// store.finish_transaction();
    /// assert!(!store.is_in_transaction());
    /// ```
    pub fn start_transaction(&self) -> &Self {
        self.begin();
        self
    }

    /// Finishes an explicit transaction (nested starts are counted).
    ///
    /// ```
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// store.start_transaction().start_transaction();
    /// store.finish_transaction();
    /// assert!(store.is_in_transaction());
    /// store.finish_transaction();
    /// assert!(!store.is_in_transaction());
    /// ```
    pub fn finish_transaction(&self) -> &Self {
        self.finish(None);
        self
    }

    /// Finishes an explicit transaction, rolling it back if `do_rollback` returns true.
    ///
    /// ```
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// store.start_transaction().set_cell("pets", "fido", "legs", 4);
    /// store.finish_transaction_with_rollback(|_| true);
    /// assert!(!store.has_row("pets", "fido"));
    /// ```
    pub fn finish_transaction_with_rollback(
        &self,
        mut do_rollback: impl FnMut(&Store) -> bool,
    ) -> &Self {
        self.finish(Some(&mut do_rollback));
        self
    }

    /// Whether a transaction is open (including while its listeners run).
    ///
    /// ```
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// assert!(!store.is_in_transaction());
    /// store.transaction(|s| assert!(s.is_in_transaction()));
    /// ```
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
        self.with(|s| s.log.cells_touched() || !s.log.values.is_empty())
    }

    /// The net changes of the current transaction (empty outside one).
    ///
    /// ```
    /// use tinystore_core::{Cell, Store};
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "legs", 4);
    /// store.transaction(|s| {
    ///     s.set_cell("pets", "tom", "legs", 4).del_row("pets", "fido");
    ///     let changes = s.get_transaction_changes();
    ///     let pets = changes.tables["pets"].as_ref().unwrap();
    ///     assert_eq!(pets["fido"], None);
    ///     assert_eq!(pets["tom"].as_ref().unwrap()["legs"], Some(Cell::from(4)));
    /// });
    /// assert!(store.get_transaction_changes().tables.is_empty());
    /// ```
    pub fn get_transaction_changes(&self) -> Changes {
        self.with(|s| {
            let mut changes = Changes::default();
            for (t, rows) in s.log.cell_tables() {
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
    ///
    /// ```
    /// use tinystore_core::{Cell, Store};
    /// let store = Store::new();
    /// store.set_value("limit", 10);
    /// store.transaction(|s| {
    ///     s.set_value("limit", 20).set_value("limit", f64::INFINITY);
    ///     let log = s.get_transaction_log();
    ///     assert_eq!(log.changed_values["limit"], (Some(Cell::from(10)), Some(Cell::from(20))));
    ///     // The rejected write is logged as invalid.
    ///     assert_eq!(log.invalid_values.len(), 1);
    /// });
    /// ```
    pub fn get_transaction_log(&self) -> TransactionLog {
        self.with(|s| {
            let name = |c: &u32| s.names.name(*c).to_string();
            let mut log = TransactionLog {
                cells_touched: s.log.cells_touched(),
                values_touched: !s.log.values.is_empty(),
                ..Default::default()
            };
            // As TinyBase, only cells whose value differs (a cell changed back is omitted).
            for (t, rows) in s.log.cell_tables() {
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
    ///
    /// ```
    /// use tinystore_core::{Cell, Store};
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "legs", 3);
    /// store.transaction(|s| {
    ///     s.set_cell("pets", "fido", "legs", 4);
    ///     let change = s.get_cell_change("pets", "fido", "legs");
    ///     assert!(change.changed);
    ///     assert_eq!((change.old, change.new), (Some(Cell::from(3)), Some(Cell::from(4))));
    /// });
    /// ```
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
    ///
    /// ```
    /// use tinystore_core::{Cell, Store};
    /// let store = Store::new();
    /// store.transaction(|s| {
    ///     s.set_value("open", true);
    ///     let change = s.get_value_change("open");
    ///     assert!(change.changed && change.old.is_none());
    ///     assert_eq!(change.new, Some(Cell::Boolean(true)));
    ///     assert!(!s.get_value_change("limit").changed);
    /// });
    /// ```
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
}
