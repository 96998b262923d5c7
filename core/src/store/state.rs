//! The store's data, its undo journal, and the primitive mutations.
//!
//! Every change to the data goes through a few primitives ([`State::set_valid_cell`],
//! [`State::insert_new_row`], [`State::del_valid_cell`], [`State::set_valid_value`],
//! [`State::del_valid_value`]). Each records (a) the TinyBase change maps the listeners need
//! ([`TxLog`]), (b) an undo entry that restores the exact prior state, ids order included, on
//! rollback, and (c) tells the [`ChangeHook`], if one is installed. Removal leaves a hole in
//! the insertion-ordered maps during a transaction, so undo can put an entry back in its old
//! place; holes are compacted when the transaction ends.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::ordmap::OrdMap;
use crate::schema::{TablesSchema, ValuesSchema};
use crate::types::{Cell, Text};

use super::hook::ChangeHook;
use super::interner::Interner;
use super::listeners::Listeners;
use super::txlog::{TxLog, id_changed};

/// One row: cells in insertion order, keyed by interned cell id.
#[derive(Clone, Default)]
pub(crate) struct RowData {
    pub(crate) cells: Vec<(u32, Cell)>,
}

impl RowData {
    #[inline]
    pub(crate) fn position(&self, cell: u32) -> Option<usize> {
        self.cells.iter().position(|(c, _)| *c == cell)
    }

    #[inline]
    pub(crate) fn get(&self, cell: u32) -> Option<&Cell> {
        self.cells.iter().find(|(c, _)| *c == cell).map(|(_, v)| v)
    }

    /// `position`, trying the slot `hint` (from [`TableData::slot_hint`]) first.
    #[inline]
    pub(crate) fn position_hinted(&self, cell: u32, hint: usize) -> Option<usize> {
        match self.cells.get(hint) {
            Some((c, _)) if *c == cell => Some(hint),
            _ => self.position(cell),
        }
    }

    /// `get`, trying the slot `hint` (from [`TableData::slot_hint`]) first.
    #[inline]
    pub(crate) fn get_hinted(&self, cell: u32, hint: usize) -> Option<&Cell> {
        match self.cells.get(hint) {
            Some((c, v)) if *c == cell => Some(v),
            _ => self.get(cell),
        }
    }
}

/// Cell ids below this get a slot hint in their table (a byte each).
const SLOT_HINTS: usize = 256;
/// A slot hint meaning "no guess": past any row's cells.
const NO_SLOT: u8 = u8::MAX;

/// One table: rows, the per-cell-id row counts behind `getTableCellIds`, and the `addRow` id
/// generator (dropped with the table, as in TinyBase).
#[derive(Clone, Default)]
pub(crate) struct TableData {
    pub(crate) rows: OrdMap<Text, RowData>,
    pub(crate) cell_counts: OrdMap<u32, u32>,
    pub(crate) next_row_id: u64,
    pub(crate) row_id_pool: VecDeque<Text>,
    /// By interned cell id: the slot the cell was last placed at in a row of this table. Rows
    /// of one table mostly share a layout, so a lookup tries this slot before scanning: one
    /// entry read instead of every entry before it (a row's cells are 40 bytes each, so a scan
    /// to the tenth crosses six cache lines). Only a guess, checked on every use.
    slots: Vec<u8>,
}

impl TableData {
    /// Where cell `c` probably sits in this table's rows (out of range when unknown).
    #[inline]
    pub(crate) fn slot_hint(&self, c: u32) -> usize {
        self.slots
            .get(c as usize)
            .map_or(usize::MAX, |&s| s as usize)
    }

    /// Notes that cell `c` was placed at slot `at` of a row.
    #[inline]
    pub(crate) fn note_slot(&mut self, c: u32, at: usize) {
        note_slot(&mut self.slots, c, at);
    }
}

#[inline]
fn note_slot(slots: &mut Vec<u8>, c: u32, at: usize) {
    let (c, at) = (c as usize, at.min(NO_SLOT as usize) as u8);
    match slots.get_mut(c) {
        Some(slot) => *slot = at,
        None if c < SLOT_HINTS => {
            slots.resize(c + 1, NO_SLOT);
            slots[c] = at;
        }
        None => {}
    }
}

/// The most row ids kept for reuse by `addRow`.
const POOL_SIZE: usize = 1000;

/// Undo entries, applied in reverse order on rollback.
pub(crate) enum Undo {
    TableCreated(Text),
    TableRemoved {
        slot: usize,
        id: Text,
        table: Box<TableData>,
    },
    /// A row created with all its cells at once; undo removes it with its cells.
    RowInserted {
        table: Text,
        row: Text,
    },
    RowCreated {
        table: Text,
        row: Text,
    },
    RowRemoved {
        table: Text,
        slot: usize,
        id: Text,
        row: RowData,
    },
    CellInserted {
        table: Text,
        row: Text,
        cell: u32,
        count_created: bool,
    },
    CellRemoved {
        table: Text,
        row: Text,
        index: usize,
        cell: u32,
        old: Cell,
        count_slot: Option<usize>,
    },
    CellChanged {
        table: Text,
        row: Text,
        index: usize,
        old: Cell,
    },
    ValueInserted(Text),
    ValueRemoved {
        slot: usize,
        id: Text,
        old: Cell,
    },
    ValueChanged {
        id: Text,
        old: Cell,
    },
    TablesSchema(Option<Arc<TablesSchema>>),
    ValuesSchema(Option<Arc<ValuesSchema>>),
    RowIdGenerator {
        table: Text,
        next: u64,
        pool: VecDeque<Text>,
    },
    /// A row id pushed onto the back of the table's `addRow` pool.
    RowIdReleased(Text),
}

/// Everything behind the store's lock.
pub(crate) struct State {
    pub(crate) tables: OrdMap<Text, TableData>,
    pub(crate) values: OrdMap<Text, Cell>,
    pub(crate) names: Interner,
    pub(crate) tables_schema: Option<Arc<TablesSchema>>,
    pub(crate) values_schema: Option<Arc<ValuesSchema>>,
    /// TinyBase's `transactions` counter: > 0 open, 0 idle, -1 closed for writes (listeners
    /// that may not mutate are running).
    pub(crate) depth: i32,
    pub(crate) log: TxLog,
    pub(crate) undo: Vec<Undo>,
    /// Whether replaced cells are journaled in `undo`. Off only for a lone write outside any
    /// transaction when nothing can roll it back (no mutator or will-finish listener, no
    /// rollback callback): the journal entry would be written and dropped unread.
    pub(crate) journal: bool,
    pub(crate) had_tables: bool,
    pub(crate) had_values: bool,
    pub(crate) listeners: Listeners,
    /// Told of every primitive change (a MergeableStore's stamper).
    pub(crate) hook: Option<Box<dyn ChangeHook>>,
}

impl Default for State {
    fn default() -> Self {
        State {
            tables: OrdMap::new(),
            values: OrdMap::new(),
            names: Interner::default(),
            tables_schema: None,
            values_schema: None,
            depth: 0,
            log: TxLog::default(),
            undo: Vec::new(),
            journal: true,
            had_tables: false,
            had_values: false,
            listeners: Listeners::default(),
            hook: None,
        }
    }
}

impl State {
    // ---- invalid records ----

    pub(crate) fn cell_invalid(
        &mut self,
        t: Option<&str>,
        r: Option<&str>,
        c: Option<&str>,
        v: Option<Cell>,
    ) {
        self.log.record_invalid_cell(t, r, c, v);
    }

    pub(crate) fn value_invalid(&mut self, id: Option<&str>, v: Option<Cell>) {
        self.log.record_invalid_value(id, v);
    }

    // ---- change recording ----

    fn cell_changed(&mut self, t: &str, r: &str, c: u32, old: Option<&Cell>) {
        let row_log = self.log.row_cell_log(t, r);
        if !row_log.iter().any(|(id, _)| *id == c) {
            row_log.push((c, old.cloned()));
        }
    }

    fn cell_ids_changed(&mut self, t: &str, r: &str, c: u32, delta: i8) {
        let row = self
            .log
            .cell_ids
            .entry_or_insert_with(t, OrdMap::new)
            .entry_or_insert_with(r, Vec::new);
        match row.iter().position(|(id, _)| *id == c) {
            Some(i) if row[i].1 == -delta => {
                row.remove(i);
            }
            Some(i) => row[i].1 = delta,
            None => row.push((c, delta)),
        }
    }

    // ---- primitives ----

    /// Creates an empty table if missing, logging and journaling its creation.
    fn ensure_table(&mut self, t: &str) {
        if !self.tables.contains_key(t) {
            self.tables.insert(t.into(), TableData::default());
            self.undo.push(Undo::TableCreated(t.into()));
            id_changed(&mut self.log.table_ids, t.into(), 1);
        }
    }

    /// Logs a new row id and the row count change for listeners.
    fn row_created_log(&mut self, t: &str, r: &str) {
        id_changed(
            self.log.row_ids.entry_or_insert_with(t, OrdMap::new),
            r.into(),
            1,
        );
        *self.log.row_count.entry_or_insert_with(t, || 0) += 1;
    }

    /// Replaces a cell that exists (the commonest write) with one lookup each for the table and
    /// the row. Hands the cell back when the row or the cell does not exist.
    pub(crate) fn replace_cell(
        &mut self,
        t: &str,
        r: &str,
        c: u32,
        cell: Cell,
    ) -> Result<(), Cell> {
        let State {
            tables,
            names,
            log,
            undo,
            journal,
            hook,
            ..
        } = self;
        let Some(table) = tables.get_mut(t) else {
            return Err(cell);
        };
        let hint = table.slot_hint(c);
        let TableData { rows, slots, .. } = table;
        let Some(row) = rows.get_mut(r) else {
            return Err(cell);
        };
        let Some(index) = row.position_hinted(c, hint) else {
            return Err(cell);
        };
        if index != hint {
            note_slot(slots, c, index);
        }
        if row.cells[index].1 == cell {
            return Ok(());
        }
        let old = std::mem::replace(&mut row.cells[index].1, cell);
        if let Some(hook) = hook.as_deref_mut() {
            hook.cell_changed(names, t, r, c, Some(&row.cells[index].1), Some(&old));
        }
        if *journal {
            undo.push(Undo::CellChanged {
                table: t.into(),
                row: r.into(),
                index,
                old: old.clone(),
            });
        }
        let row_log = log.row_cell_log(t, r);
        if !row_log.iter().any(|(logged, _)| *logged == c) {
            row_log.push((c, Some(old)));
        }
        log.replaced(&row.cells[index].1);
        Ok(())
    }

    /// Sets a validated cell, creating the table and row as needed.
    pub(crate) fn set_valid_cell(&mut self, t: &str, r: &str, c: u32, cell: Cell) {
        if let Err(cell) = self.replace_cell(t, r, c, cell) {
            self.insert_cell(t, r, c, cell);
        }
    }

    /// Adds a cell the row does not have, creating the table and row as needed.
    pub(crate) fn insert_cell(&mut self, t: &str, r: &str, c: u32, cell: Cell) {
        self.ensure_table(t);
        let table = self.tables.get_mut(t).expect("just ensured");
        if !table.rows.contains_key(r) {
            table.rows.insert(r.into(), RowData::default());
            self.undo.push(Undo::RowCreated {
                table: t.into(),
                row: r.into(),
            });
            self.row_created_log(t, r);
        }
        let table = self.tables.get_mut(t).expect("just ensured");
        let row = table.rows.get_mut(r).expect("just ensured");
        row.cells.push((c, cell));
        let at = row.cells.len() - 1;
        table.note_slot(c, at);
        let count = table.cell_counts.entry_or_insert_with(&c, || 0);
        *count += 1;
        let count_created = *count == 1;
        self.names.retain(c);
        self.cell_changed(t, r, c, None);
        self.cell_ids_changed(t, r, c, 1);
        if count_created {
            id_changed(
                self.log.table_cell_ids.entry_or_insert_with(t, OrdMap::new),
                c,
                1,
            );
        }
        self.undo.push(Undo::CellInserted {
            table: t.into(),
            row: r.into(),
            cell: c,
            count_created,
        });
        if let Some(hook) = self.hook.as_deref_mut() {
            let new = self.tables.get(t).and_then(|x| x.rows.get(r)?.get(c));
            hook.cell_changed(&mut self.names, t, r, c, new, None);
        }
    }

    /// Inserts a row that does not exist yet with distinct, validated cells: the bulk path of
    /// `setRow`/`addRow`/`setTable` for new rows, doing per-row bookkeeping once.
    pub(crate) fn insert_new_row(&mut self, t: &str, r: &str, cells: Vec<(u32, Cell)>) {
        if cells.is_empty() {
            return;
        }
        self.insert_row_data(t, r, cells);
        if let Some(hook) = self.hook.as_deref_mut()
            && let Some(row) = self.tables.get(t).and_then(|x| x.rows.get(r))
        {
            hook.row_inserted(&mut self.names, t, r, &row.cells);
        }
    }

    fn insert_row_data(&mut self, t: &str, r: &str, mut cells: Vec<(u32, Cell)>) {
        // Stored rows live long: no spare capacity (a no-op when the caller sized it exactly).
        cells.shrink_to_fit();
        self.ensure_table(t);
        let table = self.tables.get_mut(t).expect("just ensured");
        let mut new_cell_ids = Vec::new();
        for (at, (c, _)) in cells.iter().enumerate() {
            table.note_slot(*c, at);
            let count = table.cell_counts.entry_or_insert_with(c, || 0);
            *count += 1;
            if *count == 1 {
                new_cell_ids.push(*c);
            }
            self.names.retain(*c);
        }
        let ids: Vec<u32> = cells.iter().map(|(c, _)| *c).collect();
        table.rows.insert(r.into(), RowData { cells });
        self.undo.push(Undo::RowInserted {
            table: t.into(),
            row: r.into(),
        });
        self.row_created_log(t, r);
        let row_cells = self.log.cells_mut().entry_or_insert_with(t, OrdMap::new);
        if row_cells.contains_key(r) {
            // The row existed earlier in this transaction: merge, keeping first-seen old values.
            for &c in &ids {
                self.cell_changed(t, r, c, None);
                self.cell_ids_changed(t, r, c, 1);
            }
        } else {
            row_cells.insert(r.into(), ids.iter().map(|&c| (c, None)).collect());
            let row_ids = self.log.cell_ids.entry_or_insert_with(t, OrdMap::new);
            match row_ids.get_mut(r) {
                Some(_) => {
                    for &c in &ids {
                        self.cell_ids_changed(t, r, c, 1);
                    }
                }
                None => {
                    row_ids.insert(r.into(), ids.iter().map(|&c| (c, 1)).collect());
                }
            }
        }
        if !new_cell_ids.is_empty() {
            let ids = self.log.table_cell_ids.entry_or_insert_with(t, OrdMap::new);
            for c in new_cell_ids {
                id_changed(ids, c, 1);
            }
        }
    }

    /// Deletes a cell that exists, deleting the row and table when they become empty.
    pub(crate) fn del_valid_cell(&mut self, t: &str, r: &str, c: u32) {
        let Some(table) = self.tables.get_mut(t) else {
            return;
        };
        let Some(row) = table.rows.get_mut(r) else {
            return;
        };
        let Some(index) = row.position(c) else { return };
        let (_, old) = row.cells.remove(index);
        let row_empty = row.cells.is_empty();
        let mut count_slot = None;
        if let Some(count) = table.cell_counts.get_mut(&c) {
            *count -= 1;
            if *count == 0 {
                count_slot = table
                    .cell_counts
                    .remove_keep_slot(&c)
                    .map(|(slot, _, _)| slot);
            }
        }
        self.names.release(c);
        self.cell_changed(t, r, c, Some(&old));
        self.cell_ids_changed(t, r, c, -1);
        if count_slot.is_some() {
            id_changed(
                self.log.table_cell_ids.entry_or_insert_with(t, OrdMap::new),
                c,
                -1,
            );
        }
        self.undo.push(Undo::CellRemoved {
            table: t.into(),
            row: r.into(),
            index,
            cell: c,
            old,
            count_slot,
        });
        if let Some(hook) = self.hook.as_deref_mut()
            && let Some(Undo::CellRemoved { old, .. }) = self.undo.last()
        {
            hook.cell_changed(&mut self.names, t, r, c, None, Some(old));
        }
        if row_empty {
            self.remove_empty_row(t, r);
        }
    }

    fn remove_empty_row(&mut self, t: &str, r: &str) {
        let table = self.tables.get_mut(t).expect("row's table exists");
        let Some((slot, id, row)) = table.rows.remove_keep_slot(r) else {
            return;
        };
        let table_empty = table.rows.is_empty();
        self.undo.push(Undo::RowRemoved {
            table: t.into(),
            slot,
            id,
            row,
        });
        id_changed(
            self.log.row_ids.entry_or_insert_with(t, OrdMap::new),
            r.into(),
            -1,
        );
        *self.log.row_count.entry_or_insert_with(t, || 0) -= 1;
        if table_empty {
            let (slot, id, table) = self.tables.remove_keep_slot(t).expect("table exists");
            self.undo.push(Undo::TableRemoved {
                slot,
                id,
                table: Box::new(table),
            });
            id_changed(&mut self.log.table_ids, t.into(), -1);
        }
    }

    pub(crate) fn set_valid_value(&mut self, v: &str, value: Cell) {
        let existing = self.values.get_mut(v);
        let was_absent = existing.is_none();
        match existing {
            Some(existing) => {
                if *existing == value {
                    return;
                }
                let old = std::mem::replace(existing, value);
                self.value_changed(v, Some(&old));
                self.undo.push(Undo::ValueChanged { id: v.into(), old });
            }
            None => {
                self.values.insert(v.into(), value);
                self.value_changed(v, None);
                id_changed(&mut self.log.value_ids, v.into(), 1);
                self.undo.push(Undo::ValueInserted(v.into()));
            }
        }
        if let Some(hook) = self.hook.as_deref_mut() {
            // A changed value's old value is in the undo entry just pushed.
            let old = match self.undo.last() {
                Some(Undo::ValueChanged { old, .. }) if !was_absent => Some(old),
                _ => None,
            };
            hook.value_changed(&mut self.names, v, self.values.get(v), old);
        }
    }

    pub(crate) fn del_valid_value(&mut self, v: &str) {
        let Some((slot, id, old)) = self.values.remove_keep_slot(v) else {
            return;
        };
        self.value_changed(v, Some(&old));
        id_changed(&mut self.log.value_ids, v.into(), -1);
        self.undo.push(Undo::ValueRemoved { slot, id, old });
        if let Some(hook) = self.hook.as_deref_mut()
            && let Some(Undo::ValueRemoved { old, .. }) = self.undo.last()
        {
            hook.value_changed(&mut self.names, v, None, Some(old));
        }
    }

    fn value_changed(&mut self, v: &str, old: Option<&Cell>) {
        if !self.log.values.contains_key(v) {
            self.log.values.insert(v.into(), old.cloned());
        }
    }

    /// Returns an explicitly deleted row's id to its table's `addRow` pool (integer ids only,
    /// at most [`POOL_SIZE`] kept), as TinyBase's `releaseId`.
    pub(crate) fn release_row_id(&mut self, t: &str, r: &str) {
        let Some(table) = self.tables.get_mut(t) else {
            return;
        };
        if is_integer_id(r) && table.row_id_pool.len() < POOL_SIZE {
            table.row_id_pool.push_back(r.into());
            self.undo.push(Undo::RowIdReleased(t.into()));
        }
    }

    /// Takes the next `addRow` id for a table, as TinyBase's pool functions do.
    pub(crate) fn new_row_id(&mut self, t: &str, reuse: bool) -> Text {
        // TinyBase creates the table (and its id generator) before drawing the id.
        self.ensure_table(t);
        let table = self.tables.get_mut(t).expect("just ensured");
        self.undo.push(Undo::RowIdGenerator {
            table: t.into(),
            next: table.next_row_id,
            pool: table.row_id_pool.clone(),
        });
        loop {
            let candidate = match reuse.then(|| table.row_id_pool.pop_front()).flatten() {
                Some(id) => id,
                None => {
                    let id = Text::from(table.next_row_id.to_string());
                    table.next_row_id += 1;
                    id
                }
            };
            if !table.rows.contains_key(candidate.as_str()) {
                return candidate;
            }
        }
    }

    // ---- reads ----

    #[inline]
    pub(crate) fn cell_ref(&self, t: &str, r: &str, c: u32) -> Option<&Cell> {
        let table = self.tables.get(t)?;
        table.rows.get(r)?.get_hinted(c, table.slot_hint(c))
    }

    #[inline]
    pub(crate) fn get_cell(&self, t: &str, r: &str, c: &str) -> Option<&Cell> {
        let c = self.names.get(c)?;
        self.cell_ref(t, r, c)
    }

    // ---- rollback ----

    /// Reverts every change recorded since the transaction started, newest first.
    pub(crate) fn rollback(&mut self) {
        debug_assert!(
            self.journal,
            "a rollback of a transaction that kept no journal"
        );
        while let Some(entry) = self.undo.pop() {
            self.apply_undo(entry);
        }
        if let Some(hook) = self.hook.as_deref_mut() {
            hook.rollback();
        }
    }

    fn apply_undo(&mut self, entry: Undo) {
        match entry {
            Undo::TableCreated(t) => {
                self.tables.remove_keep_slot(t.as_str());
            }
            Undo::TableRemoved { slot, id, table } => self.tables.restore_slot(slot, id, *table),
            Undo::RowCreated { table, row } => {
                if let Some(tbl) = self.tables.get_mut(table.as_str()) {
                    tbl.rows.remove_keep_slot(row.as_str());
                }
            }
            Undo::RowInserted { table, row } => {
                if let Some(tbl) = self.tables.get_mut(table.as_str())
                    && let Some((_, _, data)) = tbl.rows.remove_keep_slot(row.as_str())
                {
                    // Later changes to this row were undone first, so it holds exactly the
                    // cells it was created with; counts created by it are the newest entries.
                    for (c, _) in data.cells.iter().rev() {
                        if let Some(n) = tbl.cell_counts.get_mut(c) {
                            *n -= 1;
                            if *n == 0 {
                                tbl.cell_counts.remove_keep_slot(c);
                            }
                        }
                        self.names.release(*c);
                    }
                }
            }
            Undo::RowRemoved {
                table,
                slot,
                id,
                row,
            } => {
                if let Some(tbl) = self.tables.get_mut(table.as_str()) {
                    tbl.rows.restore_slot(slot, id, row);
                }
            }
            Undo::CellInserted {
                table,
                row,
                cell,
                count_created,
            } => {
                if let Some(tbl) = self.tables.get_mut(table.as_str()) {
                    if let Some(r) = tbl.rows.get_mut(row.as_str())
                        && let Some(i) = r.position(cell)
                    {
                        r.cells.remove(i);
                    }
                    if count_created {
                        tbl.cell_counts.remove_keep_slot(&cell);
                    } else if let Some(n) = tbl.cell_counts.get_mut(&cell) {
                        *n -= 1;
                    }
                    self.names.release(cell);
                }
            }
            Undo::CellRemoved {
                table,
                row,
                index,
                cell,
                old,
                count_slot,
            } => {
                if let Some(tbl) = self.tables.get_mut(table.as_str()) {
                    if let Some(r) = tbl.rows.get_mut(row.as_str()) {
                        r.cells.insert(index.min(r.cells.len()), (cell, old));
                    }
                    match count_slot {
                        Some(slot) => tbl.cell_counts.restore_slot(slot, cell, 1),
                        None => {
                            if let Some(n) = tbl.cell_counts.get_mut(&cell) {
                                *n += 1;
                            }
                        }
                    }
                    self.names.retain(cell);
                }
            }
            Undo::CellChanged {
                table,
                row,
                index,
                old,
            } => {
                if let Some(r) = self
                    .tables
                    .get_mut(table.as_str())
                    .and_then(|t| t.rows.get_mut(row.as_str()))
                    && let Some(entry) = r.cells.get_mut(index)
                {
                    entry.1 = old;
                }
            }
            Undo::ValueInserted(v) => {
                self.values.remove_keep_slot(v.as_str());
            }
            Undo::ValueRemoved { slot, id, old } => self.values.restore_slot(slot, id, old),
            Undo::ValueChanged { id, old } => {
                if let Some(v) = self.values.get_mut(id.as_str()) {
                    *v = old;
                }
            }
            Undo::TablesSchema(s) => self.tables_schema = s,
            Undo::ValuesSchema(s) => self.values_schema = s,
            Undo::RowIdGenerator { table, next, pool } => {
                if let Some(tbl) = self.tables.get_mut(table.as_str()) {
                    tbl.next_row_id = next;
                    tbl.row_id_pool = pool;
                }
            }
            Undo::RowIdReleased(table) => {
                if let Some(tbl) = self.tables.get_mut(table.as_str()) {
                    tbl.row_id_pool.pop_back();
                }
            }
        }
    }

    /// Ends a transaction's bookkeeping: drops the undo journal, compacts holes, frees unused
    /// interned ids.
    pub(crate) fn settle(&mut self) {
        // A big transaction's journal is not kept around as spare capacity.
        if self.undo.capacity() > 4096 {
            self.undo = Vec::new();
        } else {
            self.undo.clear();
        }
        self.tables.compact_if_sparse();
        self.values.compact_if_sparse();
        let State { tables, log, .. } = self;
        for t in log.row_ids.keys() {
            if let Some(table) = tables.get_mut(t.as_str()) {
                table.rows.compact_if_sparse();
                table.cell_counts.compact_if_sparse();
            }
        }
        for t in log.table_cell_ids.keys() {
            if let Some(table) = tables.get_mut(t.as_str()) {
                table.cell_counts.compact_if_sparse();
            }
        }
        if let Some(hook) = self.hook.as_deref_mut() {
            hook.settle();
        }
        self.names.collect();
    }
}

/// Whether an id is all ASCII digits (TinyBase's `/^\d+$/`), so eligible for reuse by `addRow`.
pub(crate) fn is_integer_id(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())
}
