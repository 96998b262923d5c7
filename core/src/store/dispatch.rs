//! Ending a transaction: mutator listeners, rollback, will-finish, non-mutator listeners and
//! did-finish, in TinyBase's order (spec store.md §4.2).

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

use super::listeners::{Args, ListenerKind as K, MatchedIds};
use super::state::State;
use super::{Store, sort_row_ids};
use crate::types::{Cell, Text};

type Panic = Box<dyn Any + Send + 'static>;

/// Cell changes of one table: rows → cells `(cellId, old, new)`, changed ones only.
type IdChangeList = Vec<(Text, i8)>;

type CellChanges = Vec<(Text, Vec<(Text, Option<Cell>, Option<Cell>)>)>;

/// What one listener phase iterates, copied at the phase's start (mutator listeners may write,
/// and their writes must not be seen by the phase that is running).
#[derive(Default)]
struct Snapshot {
    table_ids: Vec<(Text, i8)>,
    table_cell_ids: Vec<(Text, Vec<(Text, i8)>)>,
    row_count: Vec<Text>,
    row_ids: Vec<(Text, Vec<(Text, i8)>)>,
    cell_ids: Vec<(Text, Vec<(Text, IdChangeList)>)>,
    cells: Vec<(Text, CellChanges)>,
}

const ID_AND_HAS: &[K] = &[
    K::TableIds,
    K::HasTable,
    K::TableCellIds,
    K::HasTableCell,
    K::RowCount,
    K::RowIds,
    K::HasRow,
    K::CellIds,
    K::HasCell,
];
const OTHER: &[K] = &[K::Cell, K::Row, K::Table, K::Tables];

impl Snapshot {
    fn build(s: &State, mutator: bool) -> Snapshot {
        let l = &s.listeners;
        let mut snap = Snapshot::default();
        let ids_and_has = l.has_any(ID_AND_HAS, mutator);
        let sorted = l.has(K::SortedRowIds, mutator);
        let other = l.has_any(OTHER, mutator);
        let name = |c: u32| s.names.name(c).clone();
        if ids_and_has {
            snap.table_ids = s
                .log
                .table_ids
                .iter()
                .map(|(k, v)| (k.clone(), *v))
                .collect();
            snap.table_cell_ids = s
                .log
                .table_cell_ids
                .iter()
                .map(|(t, ids)| (t.clone(), ids.iter().map(|(c, v)| (name(*c), *v)).collect()))
                .collect();
            snap.row_count = s
                .log
                .row_count
                .iter()
                .filter(|(_, d)| **d != 0)
                .map(|(t, _)| t.clone())
                .collect();
            snap.cell_ids = s
                .log
                .cell_ids
                .iter()
                .map(|(t, rows)| {
                    let rows = rows
                        .iter()
                        .map(|(r, cells)| {
                            (
                                r.clone(),
                                cells.iter().map(|(c, v)| (name(*c), *v)).collect(),
                            )
                        })
                        .collect();
                    (t.clone(), rows)
                })
                .collect();
        }
        if ids_and_has || sorted {
            snap.row_ids = s
                .log
                .row_ids
                .iter()
                .map(|(t, rows)| {
                    (
                        t.clone(),
                        rows.iter().map(|(r, v)| (r.clone(), *v)).collect(),
                    )
                })
                .collect();
        }
        if other || sorted {
            snap.cells = s
                .log
                .cell_tables()
                .map(|(t, rows)| {
                    let rows = rows
                        .iter()
                        .map(|(r, cells)| {
                            let changed = cells
                                .iter()
                                .filter_map(|(c, old)| {
                                    let new = s.cell_ref(t, r, *c);
                                    (old.as_ref() != new)
                                        .then(|| (name(*c), old.clone(), new.cloned()))
                                })
                                .collect();
                            (r.clone(), changed)
                        })
                        .collect();
                    (t.clone(), rows)
                })
                .collect();
        }
        snap
    }
}

impl Store {
    /// Calls every listener of `kind` matching `path`. The first panic stops the phase.
    #[inline]
    pub(super) fn emit(
        &self,
        kind: K,
        mutator: bool,
        path: &[Option<&str>],
        args: Args<'_>,
    ) -> Result<(), Panic> {
        if !self.listens(kind, mutator) {
            return Ok(());
        }
        self.emit_matching(kind, mutator, path, args)
    }

    #[inline(never)]
    fn emit_matching(
        &self,
        kind: K,
        mutator: bool,
        path: &[Option<&str>],
        args: Args<'_>,
    ) -> Result<(), Panic> {
        let ids = self.with(|s| {
            let mut ids = MatchedIds::new();
            s.listeners.matching(kind, mutator, path, &mut ids);
            ids
        });
        self.call_matched(&ids, path, args)
    }

    /// Calls listeners matched a moment ago (nothing ran since that could add or remove one).
    fn call_matched(
        &self,
        ids: &MatchedIds,
        path: &[Option<&str>],
        args: Args<'_>,
    ) -> Result<(), Panic> {
        for &id in ids {
            self.call_one(id, path, args)?;
        }
        Ok(())
    }

    pub(super) fn call_one(
        &self,
        id: u32,
        path: &[Option<&str>],
        args: Args<'_>,
    ) -> Result<(), Panic> {
        let Some((mut callback, generation)) = self.with_mut(|s| s.listeners.take(id)) else {
            return Ok(());
        };
        let result = catch_unwind(AssertUnwindSafe(|| callback.invoke(self, path, args)));
        self.with_mut(|s| s.listeners.put_back(id, generation, callback));
        result
    }

    fn emit_ids_and_has(
        &self,
        ids_kind: K,
        has_kind: K,
        mutator: bool,
        path: &[Option<&str>],
        changes: &[(Text, i8)],
    ) -> Result<bool, Panic> {
        if changes.is_empty() {
            return Ok(false);
        }
        self.emit(ids_kind, mutator, path, Args::Ids(changes))?;
        let mut full: Vec<Option<&str>> = path.to_vec();
        full.push(None);
        for (id, change) in changes {
            *full.last_mut().expect("pushed") = Some(id.as_str());
            self.emit(has_kind, mutator, &full, Args::Bool(*change == 1))?;
        }
        Ok(true)
    }

    /// Re-sorts the SortedRowIds listeners of `table` (restricted to `cell` when given) and
    /// calls those whose result changed.
    fn emit_sorted(&self, mutator: bool, table: &str, cell: Option<&str>) -> Result<(), Panic> {
        let candidates = self.with(|s| {
            s.listeners
                .sorted_ids(mutator)
                .into_iter()
                .filter(|&id| {
                    let Some(sorted) = s.listeners.entry(id).and_then(|e| e.sorted.as_ref()) else {
                        return false;
                    };
                    sorted.args.table_id == table
                        && cell.is_none_or(|c| sorted.args.cell_id.as_deref() == Some(c))
                })
                .collect::<Vec<_>>()
        });
        for id in candidates {
            let fire = self.with_mut(|s| {
                let args = s.listeners.entry(id)?.sorted.as_ref()?.args.clone();
                let ids = sort_row_ids(s, &args);
                let sorted = s.listeners.entry_mut(id)?.sorted.as_mut()?;
                if sorted.last == ids {
                    return None;
                }
                sorted.last = ids.clone();
                Some((args, ids))
            });
            if let Some((args, ids)) = fire {
                let path = [Some(table), args.cell_id.as_deref()];
                self.call_one(id, &path, Args::Sorted(&args, &ids))?;
            }
        }
        Ok(())
    }

    fn tabular_phase(&self, mutator: bool) -> Result<(), Panic> {
        let (snap, has_now, had) = self.with(|s| {
            (
                Snapshot::build(s, mutator),
                !s.tables.is_empty(),
                s.had_tables,
            )
        });
        if has_now != had {
            self.emit(K::HasTables, mutator, &[], Args::Bool(has_now))?;
        }
        let (ids_and_has, sorted, other) = self.with(|s| {
            let l = &s.listeners;
            (
                l.has_any(ID_AND_HAS, mutator),
                l.has(K::SortedRowIds, mutator),
                l.has_any(OTHER, mutator),
            )
        });
        if ids_and_has {
            self.emit_ids_and_has(K::TableIds, K::HasTable, mutator, &[], &snap.table_ids)?;
            for (t, changes) in &snap.table_cell_ids {
                let path = [Some(t.as_str())];
                self.emit_ids_and_has(K::TableCellIds, K::HasTableCell, mutator, &path, changes)?;
            }
            for t in &snap.row_count {
                let count = self.get_row_count(t);
                self.emit(
                    K::RowCount,
                    mutator,
                    &[Some(t.as_str())],
                    Args::Count(count),
                )?;
            }
        }
        let mut sorted_tables: Vec<&str> = Vec::new();
        for (t, changes) in &snap.row_ids {
            let path = [Some(t.as_str())];
            if self.emit_ids_and_has(K::RowIds, K::HasRow, mutator, &path, changes)? && sorted {
                self.emit_sorted(mutator, t, None)?;
                sorted_tables.push(t);
            }
        }
        if sorted {
            for (t, rows) in &snap.cells {
                if sorted_tables.contains(&t.as_str()) {
                    continue;
                }
                let mut cell_ids: Vec<&str> = Vec::new();
                for (_, cells) in rows {
                    for (c, _, _) in cells {
                        if !cell_ids.contains(&c.as_str()) {
                            cell_ids.push(c);
                        }
                    }
                }
                for c in cell_ids {
                    self.emit_sorted(mutator, t, Some(c))?;
                }
            }
        }
        if ids_and_has {
            for (t, rows) in &snap.cell_ids {
                for (r, changes) in rows {
                    let path = [Some(t.as_str()), Some(r.as_str())];
                    self.emit_ids_and_has(K::CellIds, K::HasCell, mutator, &path, changes)?;
                }
            }
        }
        if other {
            let mut tables_changed = false;
            for (t, rows) in &snap.cells {
                let mut table_changed = false;
                for (r, cells) in rows {
                    for (c, old, new) in cells {
                        let path = [Some(t.as_str()), Some(r.as_str()), Some(c.as_str())];
                        self.emit(
                            K::Cell,
                            mutator,
                            &path,
                            Args::Cell(new.as_ref(), old.as_ref()),
                        )?;
                    }
                    if !cells.is_empty() {
                        table_changed = true;
                        let path = [Some(t.as_str()), Some(r.as_str())];
                        self.emit(K::Row, mutator, &path, Args::None)?;
                    }
                }
                if table_changed {
                    tables_changed = true;
                    self.emit(K::Table, mutator, &[Some(t.as_str())], Args::None)?;
                }
            }
            if tables_changed {
                self.emit(K::Tables, mutator, &[], Args::None)?;
            }
        }
        Ok(())
    }

    fn values_phase(&self, mutator: bool) -> Result<(), Panic> {
        type ValueChanges = Vec<(Text, Option<Cell>, Option<Cell>)>;
        let (has_now, had, ids, changes): (bool, bool, Vec<(Text, i8)>, ValueChanges) =
            self.with(|s| {
                let ids = s
                    .log
                    .value_ids
                    .iter()
                    .map(|(k, v)| (k.clone(), *v))
                    .collect();
                let changes = s
                    .log
                    .values
                    .iter()
                    .filter_map(|(v, old)| {
                        let new = s.values.get(v.as_str());
                        (old.as_ref() != new).then(|| (v.clone(), old.clone(), new.cloned()))
                    })
                    .collect();
                (!s.values.is_empty(), s.had_values, ids, changes)
            });
        if has_now != had {
            self.emit(K::HasValues, mutator, &[], Args::Bool(has_now))?;
        }
        self.emit_ids_and_has(K::ValueIds, K::HasValue, mutator, &[], &ids)?;
        for (v, old, new) in &changes {
            self.emit(
                K::Value,
                mutator,
                &[Some(v.as_str())],
                Args::Cell(new.as_ref(), old.as_ref()),
            )?;
        }
        if !changes.is_empty() {
            self.emit(K::Values, mutator, &[], Args::None)?;
        }
        Ok(())
    }

    /// The phase of a transaction that changed one existing cell and nothing else (the
    /// commonest transaction: a lone `set_cell`): the calls `tabular_phase` would make, without
    /// copying the change maps into a snapshot first. `None` when the transaction is any other
    /// shape, or a SortedRowIds listener of this phase needs the general path.
    fn single_cell_phase(&self, mutator: bool) -> Option<Result<(), Panic>> {
        let mut cell_listeners = MatchedIds::new();
        let (t, r, c, old, new) = self.with(|s| {
            let has_tables = !s.tables.is_empty();
            if has_tables != s.had_tables || self.listens(K::SortedRowIds, mutator) {
                return None;
            }
            let (t, r, c, old, known) = s.log.only_cell_change()?;
            let new = match known {
                Some(new) => Some(new.clone()),
                None => s.cell_ref(t, r, c).cloned(),
            };
            let c = s.names.name(c);
            // The cell's listeners are matched in this same borrow (saving a lock).
            if old.as_ref() != new.as_ref() && self.listens(K::Cell, mutator) {
                let path = [Some(t.as_str()), Some(r.as_str()), Some(c.as_str())];
                s.listeners
                    .matching(K::Cell, mutator, &path, &mut cell_listeners);
            }
            Some((t.clone(), r.clone(), c.clone(), old.clone(), new))
        })?;
        if old == new {
            return Some(Ok(()));
        }
        Some(self.emit_cell_change(
            mutator,
            [t.as_str(), r.as_str(), c.as_str()],
            old,
            new,
            &cell_listeners,
        ))
    }

    /// A changed cell's listeners (matched by the caller), then its row's, table's and the
    /// tables' ones.
    fn emit_cell_change(
        &self,
        mutator: bool,
        [t, r, c]: [&str; 3],
        old: Option<Cell>,
        new: Option<Cell>,
        cell_listeners: &MatchedIds,
    ) -> Result<(), Panic> {
        let path = [Some(t), Some(r), Some(c)];
        self.call_matched(
            cell_listeners,
            &path,
            Args::Cell(new.as_ref(), old.as_ref()),
        )?;
        self.emit(K::Row, mutator, &path[..2], Args::None)?;
        self.emit(K::Table, mutator, &path[..1], Args::None)?;
        self.emit(K::Tables, mutator, &[], Args::None)
    }

    fn run_phase(&self, mutator: bool) -> Result<(), Panic> {
        // Without a listener of this phase there is nothing to call, nor to snapshot.
        if !self.listens_in_phase(mutator) {
            return Ok(());
        }
        if let Some(done) = self.single_cell_phase(mutator) {
            return done;
        }
        let (invalid_cells, any_cells) = self.with(|s| {
            let invalid = if s.listeners.has(K::InvalidCell, mutator) {
                s.log.invalid_cells.clone()
            } else {
                Vec::new()
            };
            (invalid, s.log.cells_touched())
        });
        for (t, r, c, values) in &invalid_cells {
            let path = [t.as_deref(), r.as_deref(), c.as_deref()];
            self.emit(K::InvalidCell, mutator, &path, Args::Invalid(values))?;
        }
        if any_cells {
            self.tabular_phase(mutator)?;
        }
        let (invalid_values, any_values) = self.with(|s| {
            let invalid = if s.listeners.has(K::InvalidValue, mutator) {
                s.log.invalid_values.clone()
            } else {
                Vec::new()
            };
            (invalid, !s.log.values.is_empty())
        });
        for (v, values) in &invalid_values {
            self.emit(
                K::InvalidValue,
                mutator,
                &[v.as_deref()],
                Args::Invalid(values),
            )?;
        }
        if any_values {
            self.values_phase(mutator)?;
        }
        Ok(())
    }

    #[inline]
    fn emit_transaction(&self, kind: K, stop_on_panic: bool) -> Result<(), Panic> {
        if !self.listens(kind, false) {
            return Ok(());
        }
        self.emit_transaction_listeners(kind, stop_on_panic)
    }

    #[inline(never)]
    fn emit_transaction_listeners(&self, kind: K, stop_on_panic: bool) -> Result<(), Panic> {
        let mut first = None;
        let ids = self.with(|s| {
            let mut ids = MatchedIds::new();
            s.listeners.matching(kind, false, &[], &mut ids);
            ids
        });
        for id in ids {
            if let Err(p) = self.call_one(id, &[], Args::None) {
                if stop_on_panic {
                    return Err(p);
                }
                first.get_or_insert(p);
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// Starts a transaction (or joins the open one). Start listeners run for the outermost.
    pub(crate) fn begin(&self) -> bool {
        let outermost = self.with_mut(|s| {
            if s.depth == -1 {
                return None;
            }
            s.depth += 1;
            Some(s.depth == 1)
        });
        match outermost {
            None => false,
            Some(true) => {
                if let Err(p) = self.emit_transaction(K::StartTransaction, true) {
                    self.finish(Some(&mut |_| true));
                    resume_unwind(p);
                }
                true
            }
            Some(false) => true,
        }
    }

    /// Ends a transaction; the outermost runs the listener phases. Re-raises the first listener
    /// panic after the transaction is finalised.
    pub(crate) fn finish(&self, do_rollback: Option<&mut dyn FnMut(&Store) -> bool>) {
        // Without a mutator or will-finish listener nor a rollback callback, nothing runs
        // before the commit: the store closes for writes at once (one lock fewer).
        let quiet = do_rollback.is_none() && self.commits_unseen();
        let outermost = self.with_mut(|s| {
            if s.depth <= 0 {
                return false;
            }
            s.depth -= 1;
            if s.depth > 0 {
                return false;
            }
            s.depth = if quiet { -1 } else { 1 };
            true
        });
        if !outermost {
            return;
        }
        if quiet {
            return self.finish_committed(None);
        }
        let mut first_panic: Option<Panic> = self.run_phase(true).err();
        let mut rollback = false;
        if first_panic.is_none()
            && let Some(f) = do_rollback
        {
            match catch_unwind(AssertUnwindSafe(|| f(self))) {
                Ok(r) => rollback = r,
                Err(p) => first_panic = Some(p),
            }
        }
        if first_panic.is_none()
            && let Err(p) = self.emit_transaction(K::WillFinishTransaction, true)
        {
            first_panic = Some(p);
        }
        if rollback || first_panic.is_some() {
            self.with_mut(|s| {
                s.rollback();
                s.log.clear_changes();
            });
        }
        self.with_mut(|s| s.depth = -1);
        self.finish_committed(first_panic);
    }

    /// The end of `finish` once the transaction is committed (or rolled back) and closed for
    /// writes: non-mutator listeners unless a panic came first, did-finish listeners, settling.
    fn finish_committed(&self, mut first_panic: Option<Panic>) {
        if first_panic.is_none()
            && let Err(p) = self.run_phase(false)
        {
            first_panic = Some(p);
        }
        if let Err(p) = self.emit_transaction(K::DidFinishTransaction, false) {
            first_panic.get_or_insert(p);
        }
        self.with_mut(|s| {
            s.depth = 0;
            s.journal = true;
            s.had_tables = !s.tables.is_empty();
            s.had_values = !s.values.is_empty();
            s.settle();
            s.log.clear();
        });
        if let Some(p) = first_panic {
            resume_unwind(p);
        }
    }
}
