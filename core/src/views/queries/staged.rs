//! The select-join-where rows of a grouped query.
//!
//! TinyBase writes them into a private store whose only listener is the grouping's row
//! listener. Nothing else can reach that store, so a grouped query keeps just what the grouping
//! reads (the rows, and each changed cell's value from before the open transaction) instead of
//! running a whole store transaction, with its listener phases, per change. The store's rules
//! that decide what the grouping sees are kept: an invalid cell is not written, a row exists
//! while it has a cell, nested transactions join the outermost one, a cell set back to its old
//! value is no change, and when the outermost transaction ends the rows with a net change are
//! handed over in first-change order while writes are ignored (as during the store's listener
//! phases).

use hashbrown::HashMap;
use indexmap::IndexMap;
use parking_lot::Mutex;

use crate::content::Row;
use crate::ordmap::IdHasher;
use crate::types::{Cell, Text};

/// A row's cells, in the order they were added.
type Cells = Vec<(Text, Cell)>;

/// The rows and the open transaction's log, behind one lock (never held while calling out).
pub(crate) struct Staged {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    rows: HashMap<Text, Cells, IdHasher>,
    /// Rows changed by the open transaction, in first-change order, with each changed cell's
    /// value before the transaction.
    log: IndexMap<Text, Vec<(Text, Option<Cell>)>, IdHasher>,
    /// Open transactions; -1 while the changes are handed over.
    depth: i32,
}

/// `getCellChange` of one cell: whether it changed, its value before the transaction, now.
pub(crate) struct Change {
    pub changed: bool,
    pub old: Option<Cell>,
    pub new: Option<Cell>,
}

impl State {
    fn logged(&mut self, row_id: &str, cell_id: &str, old: Option<Cell>) {
        let cells = match self.log.get_mut(row_id) {
            Some(cells) => cells,
            None => self.log.entry(Text::from(row_id)).or_default(),
        };
        if !cells.iter().any(|(c, _)| c == cell_id) {
            cells.push((Text::from(cell_id), old));
        }
    }

    fn set_cell(&mut self, row_id: &str, cell_id: &str, cell: Cell) {
        if self.depth < 0 || !cell.is_valid() {
            return;
        }
        let cells = match self.rows.get_mut(row_id) {
            Some(cells) => cells,
            None => self.rows.entry(Text::from(row_id)).or_default(),
        };
        let old = match cells.iter_mut().find(|(c, _)| c == cell_id) {
            Some((_, slot)) if *slot == cell => return,
            Some((_, slot)) => Some(std::mem::replace(slot, cell)),
            None => {
                cells.push((Text::from(cell_id), cell));
                None
            }
        };
        self.logged(row_id, cell_id, old);
    }

    fn del_cell(&mut self, row_id: &str, cell_id: &str) {
        if self.depth < 0 {
            return;
        }
        let Some(cells) = self.rows.get_mut(row_id) else {
            return;
        };
        let Some(at) = cells.iter().position(|(c, _)| c == cell_id) else {
            return;
        };
        let (_, old) = cells.remove(at);
        if cells.is_empty() {
            self.rows.remove(row_id);
        }
        self.logged(row_id, cell_id, Some(old));
    }

    fn del_row(&mut self, row_id: &str) {
        if self.depth < 0 {
            return;
        }
        let Some(cells) = self.rows.remove(row_id) else {
            return;
        };
        for (cell_id, old) in cells {
            self.logged(row_id, &cell_id, Some(old));
        }
    }

    fn get(&self, row_id: &str, cell_id: &str) -> Option<&Cell> {
        let cells = self.rows.get(row_id)?;
        cells.iter().find(|(c, _)| c == cell_id).map(|(_, v)| v)
    }
}

impl Staged {
    /// No rows, no transaction.
    pub fn new() -> Staged {
        Staged {
            state: Mutex::new(State::default()),
        }
    }

    /// Opens a transaction (or joins the open one); `false` while changes are handed over.
    pub fn begin(&self) -> bool {
        let mut s = self.state.lock();
        if s.depth < 0 {
            return false;
        }
        s.depth += 1;
        true
    }

    /// Closes a transaction; for the outermost one, whether it ends now. Its changes are
    /// then handed over: writes are ignored until [`Staged::reopen`].
    pub fn end(&self) -> bool {
        let mut s = self.state.lock();
        if s.depth <= 0 {
            return false;
        }
        s.depth -= 1;
        if s.depth > 0 {
            return false;
        }
        s.depth = -1;
        true
    }

    /// Reverts the open transaction's changes.
    pub fn rollback(&self) {
        let mut s = self.state.lock();
        let log = std::mem::take(&mut s.log);
        for (row_id, cells) in log {
            for (cell_id, old) in cells {
                let row = s.rows.entry(row_id.clone()).or_default();
                put_cell(row, cell_id, old);
                if row.is_empty() {
                    s.rows.remove(&row_id);
                }
            }
        }
    }

    /// The rows the transaction changed (some cell differs from its value before), in
    /// first-change order.
    pub fn changed_rows(&self) -> Vec<Text> {
        let s = &*self.state.lock();
        s.log
            .iter()
            .filter(|(row_id, cells)| {
                cells
                    .iter()
                    .any(|(cell_id, old)| old.as_ref() != s.get(row_id, cell_id))
            })
            .map(|(row_id, _)| row_id.clone())
            .collect()
    }

    /// Ends the hand-over: the next transaction starts afresh.
    pub fn reopen(&self) {
        let mut s = self.state.lock();
        s.depth = 0;
        if s.log.is_empty() {
            return;
        }
        // Clearing costs the map's capacity: after a definition's first run logged every row,
        // a one-row transaction would pay for all of them.
        if s.log.capacity() > 64 {
            s.log = IndexMap::default();
        } else {
            s.log.clear();
        }
    }

    /// Sets a cell (an invalid one is ignored).
    pub fn set_cell(&self, row_id: &str, cell_id: &str, cell: Cell) {
        self.state.lock().set_cell(row_id, cell_id, cell);
    }

    /// Deletes a cell, and its row with its last cell.
    pub fn del_cell(&self, row_id: &str, cell_id: &str) {
        self.state.lock().del_cell(row_id, cell_id);
    }

    /// Deletes a row.
    pub fn del_row(&self, row_id: &str) {
        self.state.lock().del_row(row_id);
    }

    /// Replaces a row's cells as `setRow` does: invalid cells are dropped, a row left with
    /// none is ignored, the others are set in order and the row's remaining cells deleted.
    pub fn set_row(&self, row_id: &str, row: &Row) {
        let s = &mut *self.state.lock();
        if s.depth < 0 || !row.values().any(Cell::is_valid) {
            return;
        }
        for (cell_id, cell) in row {
            s.set_cell(row_id, cell_id, cell.clone());
        }
        let absent: Vec<Text> = s
            .rows
            .get(row_id)
            .map(|cells| {
                cells
                    .iter()
                    .filter(|(c, _)| !row.get(c.as_str()).is_some_and(Cell::is_valid))
                    .map(|(c, _)| c.clone())
                    .collect()
            })
            .unwrap_or_default();
        for cell_id in absent {
            s.del_cell(row_id, &cell_id);
        }
    }

    /// Whether the row has a cell.
    pub fn has_row(&self, row_id: &str) -> bool {
        self.state.lock().rows.contains_key(row_id)
    }

    /// A cell's value.
    pub fn get_cell(&self, row_id: &str, cell_id: &str) -> Option<Cell> {
        self.state.lock().get(row_id, cell_id).cloned()
    }

    /// A cell's change in the open transaction (`getCellChange`).
    pub fn cell_change(&self, row_id: &str, cell_id: &str) -> Change {
        let s = self.state.lock();
        let new = s.get(row_id, cell_id).cloned();
        let old = s
            .log
            .get(row_id)
            .and_then(|cells| cells.iter().find(|(c, _)| c == cell_id))
            .map(|(_, old)| old.clone());
        match old {
            Some(old) => Change {
                changed: old != new,
                old,
                new,
            },
            None => Change {
                changed: false,
                old: new.clone(),
                new,
            },
        }
    }

    /// Forgets every row (a deleted definition's).
    pub fn clear(&self) {
        let mut s = self.state.lock();
        s.rows.clear();
        s.log.clear();
    }
}

/// Sets (`Some`) or removes (`None`) a cell of a row kept as `(id, cell)` pairs in insertion
/// order: a new cell goes last, a set one keeps its place.
pub(crate) fn put_cell<K: PartialEq>(row: &mut Vec<(K, Cell)>, id: K, value: Option<Cell>) {
    let at = row.iter().position(|(k, _)| *k == id);
    match (at, value) {
        (Some(i), Some(v)) => row[i].1 = v,
        (None, Some(v)) => row.push((id, v)),
        (Some(i), None) => {
            row.remove(i);
        }
        (None, None) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(x: f64) -> Cell {
        Cell::Number(x)
    }

    #[test]
    fn a_cell_set_back_is_no_change() {
        let staged = Staged::new();
        assert!(staged.begin());
        staged.set_cell("r", "a", n(1.0));
        assert!(staged.end());
        assert_eq!(staged.changed_rows(), ["r"]);
        staged.reopen();
        assert!(staged.begin());
        staged.set_cell("r", "a", n(2.0));
        let change = staged.cell_change("r", "a");
        assert!(change.changed);
        assert_eq!((change.old, change.new), (Some(n(1.0)), Some(n(2.0))));
        staged.set_cell("r", "a", n(1.0));
        assert!(staged.end());
        assert!(staged.changed_rows().is_empty());
        assert!(!staged.cell_change("r", "a").changed);
        staged.reopen();
    }

    #[test]
    fn writes_are_ignored_while_changes_are_handed_over() {
        let staged = Staged::new();
        assert!(staged.begin());
        assert!(staged.begin());
        staged.set_cell("r", "a", n(1.0));
        assert!(!staged.end());
        assert!(staged.end());
        assert!(!staged.begin());
        staged.set_cell("r", "b", n(2.0));
        staged.del_row("r");
        assert_eq!(staged.get_cell("r", "a"), Some(n(1.0)));
        assert_eq!(staged.get_cell("r", "b"), None);
        staged.reopen();
        assert!(staged.begin());
    }

    #[test]
    fn a_row_lives_while_it_has_a_valid_cell() {
        let staged = Staged::new();
        assert!(staged.begin());
        staged.set_cell("r", "a", n(f64::NAN));
        assert!(!staged.has_row("r"));
        staged.set_cell("r", "a", n(1.0));
        staged.set_cell("r", "b", n(2.0));
        staged.del_cell("r", "a");
        assert!(staged.has_row("r"));
        let row: Row = [("c".to_string(), n(3.0))].into_iter().collect();
        staged.set_row("r", &row);
        assert_eq!(staged.get_cell("r", "b"), None);
        assert_eq!(staged.get_cell("r", "c"), Some(n(3.0)));
        staged.del_cell("r", "c");
        assert!(!staged.has_row("r"));
        assert!(staged.end());
        assert!(staged.changed_rows().is_empty());
        staged.reopen();
    }

    #[test]
    fn rollback_restores_the_rows() {
        let staged = Staged::new();
        assert!(staged.begin());
        staged.set_cell("r", "a", n(1.0));
        assert!(staged.end());
        staged.reopen();
        assert!(staged.begin());
        staged.set_cell("r", "a", n(2.0));
        staged.set_cell("s", "a", n(3.0));
        staged.del_row("r");
        staged.rollback();
        assert!(staged.end());
        assert!(staged.changed_rows().is_empty());
        staged.reopen();
        assert_eq!(staged.get_cell("r", "a"), Some(n(1.0)));
        assert!(!staged.has_row("s"));
    }
}
