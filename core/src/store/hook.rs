//! The store's one extension point: a [`ChangeHook`] sees every change the write primitives
//! make, as they make it, behind the store's lock. A MergeableStore installs one (its stamper)
//! to stamp each change; a plain Store has none. The store knows nothing else of its hook.
//!
//! Contract:
//! - `cell_changed` / `value_changed` come after the store's data holds the new state (`new`
//!   is what is stored now, `None` after a deletion); `old` is what it held before (`None`:
//!   the cell or value did not exist). `row_inserted` reports a new row written whole (the
//!   bulk path of `setRow`, `addRow`, `setTable` and merges) in its cells' order.
//! - Cell ids are the store's interned ids. The hook gets the interner to resolve them and to
//!   intern ids of its own; an id it [pins](Interner::pin) stays valid for the store's life.
//! - `cell_defaulted` / `value_defaulted` announce, during validation, cells and values about
//!   to be filled in from schema defaults (a cell only when its row id is known: not for
//!   `addRow`, as in TinyBase).
//! - The hook journals its own undo entries. On rollback, after undoing its own journal, the
//!   store calls `rollback`; rollback always undoes a whole transaction. `settle` ends every
//!   transaction (committed or rolled back), after its listeners have run.

use std::any::Any;

use crate::types::Cell;

use super::interner::Interner;

/// Observes the store's write primitives; see the [module documentation](self).
pub(crate) trait ChangeHook: Any + Send {
    /// A cell was set (`new: Some`) or deleted (`new: None`).
    fn cell_changed(
        &mut self,
        names: &mut Interner,
        t: &str,
        r: &str,
        c: u32,
        new: Option<&Cell>,
        old: Option<&Cell>,
    );

    /// A row that did not exist was written with all its cells at once.
    fn row_inserted(&mut self, names: &mut Interner, t: &str, r: &str, cells: &[(u32, Cell)]) {
        for (c, cell) in cells {
            self.cell_changed(names, t, r, *c, Some(cell), None);
        }
    }

    /// A value was set (`new: Some`) or deleted (`new: None`).
    fn value_changed(
        &mut self,
        names: &mut Interner,
        v: &str,
        new: Option<&Cell>,
        old: Option<&Cell>,
    );

    /// The write being validated fills this cell in from its schema default.
    fn cell_defaulted(&mut self, _t: &str, _r: &str, _c: &str) {}

    /// The write being validated fills this value in from its schema default.
    fn value_defaulted(&mut self, _v: &str) {}

    /// Undoes everything journaled since the transaction began.
    fn rollback(&mut self);

    /// The transaction is over: drop its journal and per-transaction state.
    fn settle(&mut self);
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::content::Row;
    use crate::store::Store;

    /// Records what the store tells it, as text.
    struct Recorder(Arc<Mutex<Vec<String>>>);

    impl Recorder {
        fn push(&self, event: String) {
            self.0.lock().unwrap().push(event);
        }
    }

    impl ChangeHook for Recorder {
        fn cell_changed(
            &mut self,
            names: &mut Interner,
            t: &str,
            r: &str,
            c: u32,
            new: Option<&Cell>,
            old: Option<&Cell>,
        ) {
            let c = names.name(c);
            self.push(format!("cell {t}/{r}/{c} {new:?} {old:?}"));
        }

        fn value_changed(
            &mut self,
            _names: &mut Interner,
            v: &str,
            new: Option<&Cell>,
            old: Option<&Cell>,
        ) {
            self.push(format!("value {v} {new:?} {old:?}"));
        }

        fn rollback(&mut self) {
            self.push("rollback".into());
        }

        fn settle(&mut self) {
            self.push("settle".into());
        }
    }

    #[test]
    fn the_hook_sees_every_primitive_change_and_the_end_of_each_transaction() {
        let events = Arc::new(Mutex::new(Vec::new()));
        let store = Store::with_hook(Box::new(Recorder(events.clone())));
        let row: Row = [
            ("a".to_string(), Cell::from(1)),
            ("b".to_string(), Cell::from(2)),
        ]
        .into_iter()
        .collect();
        store.set_row("t", "r", &row);
        store.set_cell("t", "r", "a", 3).set_cell("t", "r", "a", 3);
        store.del_cell("t", "r", "b", false);
        store.set_value("v", true).del_value("v");
        store.transaction_with_rollback(
            |s| {
                s.set_cell("t", "r", "a", 4);
            },
            |_| true,
        );
        let taken = std::mem::take(&mut *events.lock().unwrap());
        assert_eq!(
            taken,
            [
                "cell t/r/a Some(Number(1.0)) None",
                "cell t/r/b Some(Number(2.0)) None",
                "settle",
                "cell t/r/a Some(Number(3.0)) Some(Number(1.0))",
                "settle",
                // Setting an equal cell is no change.
                "settle",
                "cell t/r/b None Some(Number(2.0))",
                "settle",
                "value v Some(Boolean(true)) None",
                "settle",
                "value v None Some(Boolean(true))",
                "settle",
                "cell t/r/a Some(Number(4.0)) Some(Number(3.0))",
                "rollback",
                "settle",
            ]
        );
        assert_eq!(store.get_cell("t", "r", "a"), Some(Cell::from(3)));
    }
}
