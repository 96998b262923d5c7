//! The store's one extension point: a [`ChangeHook`] sees every change the write primitives
//! make, as they make it, behind the store's lock. A MergeableStore installs one (its stamper)
//! to stamp each change; a plain Store has none. The store knows nothing else of its hook.
//!
//! Contract:
//! - `cell_changed` / `value_changed` come after the store's data holds the new state (`new`
//!   is what is stored now, `None` after a deletion); `was_absent` tells whether the cell or
//!   value existed before this change. `row_inserted` reports a new row written whole (the
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
        was_absent: bool,
    );

    /// A row that did not exist was written with all its cells at once.
    fn row_inserted(&mut self, names: &mut Interner, t: &str, r: &str, cells: &[(u32, Cell)]) {
        for (c, cell) in cells {
            self.cell_changed(names, t, r, *c, Some(cell), true);
        }
    }

    /// A value was set (`new: Some`) or deleted (`new: None`).
    fn value_changed(
        &mut self,
        names: &mut Interner,
        v: &str,
        new: Option<&Cell>,
        was_absent: bool,
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
