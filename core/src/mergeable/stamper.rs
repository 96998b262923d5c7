//! The stamper: a MergeableStore's clock and stamp tree, plugged into its store as the
//! store's [`ChangeHook`]. The store's write primitives call it with every change they make;
//! it stamps local changes, merges remote payloads, and journals its own undo entries, which
//! it replays when the store rolls a transaction back.
//!
//! Every update, local or remote, follows TinyBase's `mergeContentOrChanges` step for step,
//! including its quirks (container hashes recomputed for every container an incoming payload
//! mentions, empty stamp maps created for rejected payload branches): hashes must come out
//! identical to TinyBase's for any sequence of operations, not only for typical ones.

use indexmap::IndexMap;

use crate::hash::{child_in_parent_delta, child_term, hlc_term, leaf_hash_with};
use crate::hlc::{Hlc, HlcClock, PackedHlc};
use crate::js::{array_index as is_array_index, object_order as js_order};
use crate::ordmap::OrdMap;
use crate::store::{AcceptedChanges, AcceptedLeaves, AcceptedRows, ChangeHook, Interner};
use crate::types::{Cell, Text};

use super::content::{MergeableContent, Stamp};
use super::tree::{
    Kept, Leaf, LeafMap, LeafRef, LeafValues, NameTable, Payload, StampTree, StoredLeaf,
    TableStamps, leaf_map_stamp, leaf_stamp, table_stamp,
};
use crate::store::state::{State, TableData};

/// Which leaf map an undo entry refers to.
#[derive(Clone, Debug)]
pub(crate) enum LeafPath {
    Row(Text, Text),
    Values,
}

impl LeafPath {
    fn as_ref(&self) -> LeafRef<'_> {
        match self {
            LeafPath::Row(t, r) => LeafRef::Row(t, r),
            LeafPath::Values => LeafRef::Values,
        }
    }
}

/// Undo entries for stamps, in the stamper's own journal (replayed backwards on rollback).
#[derive(Debug)]
pub(crate) enum StampUndo {
    TableCreated(Text),
    RowCreated(Text, Text),
    LeafCreated(LeafPath, u32),
    Leaf(LeafPath, u32, StoredLeaf),
    /// A kept value's previous entry (`None`: it had none).
    Kept(LeafPath, u32, Option<Option<Cell>>),
    LeafMap(LeafPath, Hlc, u32),
    Table(Text, Hlc, u32),
    Tables(Hlc, u32),
    Replaced(Box<StampTree<StoredLeaf>>),
}

/// TinyBase's `replaceHlcHash`: the hash change when a container's HLC is raised.
#[inline]
fn replace_hlc_hash(old: &Hlc, new: &Hlc) -> u32 {
    if new > old {
        hlc_term(old.as_str()) ^ hlc_term(new.as_str())
    } else {
        0
    }
}

/// TinyBase's `stampUpdate`: raise the HLC if newer, set the hash.
#[inline]
fn stamp_update(hlc: &mut Hlc, hash: &mut u32, new_hlc: &Hlc, new_hash: u32) {
    if new_hlc > hlc {
        *hlc = *new_hlc;
    }
    *hash = new_hash;
}

/// One incoming leaf: its value, HLC, and (content only) trusted hash.
pub(crate) struct IncomingLeaf<'a> {
    pub(crate) value: Option<&'a Cell>,
    pub(crate) hlc: Hlc,
    pub(crate) hash: u32,
}

/// A MergeableStore's state beside the Store's: clock, stamps, and transaction bookkeeping.
pub(crate) struct Mergeable {
    pub(crate) clock: HlcClock,
    pub(crate) tree: StampTree<StoredLeaf>,
    /// False while a merge or content load applies its own changes to the store: those must
    /// not be stamped again with local HLCs.
    pub(crate) listening: bool,
    /// True inside `setDefaultContent`: its writes get the empty HLC.
    pub(crate) defaulting_content: bool,
    /// True while the listeners of a merge's transaction run: a write stamped then was made by
    /// a mutator listener reacting to incoming changes.
    pub(crate) applying: bool,
    /// A mutator listener wrote while incoming changes were applied (TinyBase's `mutated`),
    /// so a synchronizer must announce its new hashes.
    pub(crate) mutated: bool,
    /// While a merge applies its changes under a schema (or with cells the store refuses),
    /// the store may hold other values than the stamps: each leaf the store changes then keeps
    /// its stamped value, and the merge reconciles its own leaves afterwards.
    pub(crate) keep_silent: bool,
    /// Cells (table, row, cell) and values filled in from schema defaults by the current
    /// write: a new cell written this way gets the empty HLC.
    pub(crate) defaulted_cells: Vec<(Text, Text, Text)>,
    pub(crate) defaulted_values: Vec<Text>,
    /// Cells and values the store changed in this transaction (TinyBase's `touchedCells`).
    /// Cell ids are the store's interned ids (pinned: they stay valid).
    pub(crate) touched_cells: OrdMap<Text, OrdMap<Text, Vec<u32>>>,
    pub(crate) touched_values: OrdMap<Text, ()>,
    /// Number of the current transaction. Rollback always undoes a whole transaction, so a
    /// container's `(hlc, hash)` needs journaling only once per transaction: containers
    /// remember the transaction that saved them.
    tx: u32,
    /// Cells about to be stamped into a row whose stamps may not exist yet: the capacity to
    /// give a new row's leaf map.
    row_capacity_hint: usize,
    buf: String,
    /// Undo entries of the current transaction.
    journal: Vec<StampUndo>,
}

impl Mergeable {
    pub(crate) fn new(clock: HlcClock) -> Mergeable {
        Mergeable {
            clock,
            tree: StampTree::default(),
            listening: true,
            defaulting_content: false,
            applying: false,
            mutated: false,
            keep_silent: false,
            defaulted_cells: Vec::new(),
            defaulted_values: Vec::new(),
            touched_cells: OrdMap::new(),
            touched_values: OrdMap::new(),
            tx: 1,
            row_capacity_hint: 0,
            buf: String::new(),
            journal: Vec::new(),
        }
    }

    /// The leaf id of a name in the store's interner, pinned: a stamp is never removed, so
    /// neither is its id.
    #[inline]
    fn leaf_id(names: &mut Interner, name: &str) -> u32 {
        let id = names.intern(name);
        names.pin(id);
        id
    }

    /// Clears per-transaction bookkeeping.
    fn end_transaction(&mut self) {
        // A big transaction's journal is not kept around as spare capacity.
        if self.journal.capacity() > 4096 {
            self.journal = Vec::new();
        } else {
            self.journal.clear();
        }
        self.tx = self.tx.wrapping_add(1).max(1);
        self.touched_cells.clear();
        self.touched_values.clear();
        self.defaulted_cells.clear();
        self.defaulted_values.clear();
    }

    // ------------------------------------------------------------------ local changes

    /// The stamp a local change gets, or `None` while a merge applies its own changes: the
    /// empty HLC for defaults (schema defaults of a new cell, `setDefaultContent`), otherwise
    /// the clock's next HLC.
    fn local_leaf<'a>(&self, new: Option<&'a Cell>, defaulted: bool) -> Option<IncomingLeaf<'a>> {
        if !self.listening {
            return None;
        }
        let hlc = if self.defaulting_content || defaulted {
            Hlc::EMPTY
        } else {
            self.clock.next()
        };
        Some(IncomingLeaf {
            value: new,
            hlc,
            hash: 0,
        })
    }

    /// Stamps a cell change the store just made; `old` is what the store held before.
    fn stamp_cell(
        &mut self,
        names: &mut Interner,
        t: &str,
        r: &str,
        id: u32,
        new: Option<&Cell>,
        old: Option<&Cell>,
    ) {
        let was_absent = old.is_none();
        let row_log = self
            .touched_cells
            .entry_or_insert_with(t, OrdMap::new)
            .entry_or_insert_with(r, Vec::new);
        if !row_log.contains(&id) {
            row_log.push(id);
        }
        names.pin(id);
        let c = names.name(id);
        let defaulted = match self
            .defaulted_cells
            .iter()
            .position(|(a, b, x)| a == t && b == r && x == c)
        {
            Some(i) => {
                self.defaulted_cells.swap_remove(i);
                was_absent
            }
            None => false,
        };
        let Some(leaf) = self.local_leaf(new, defaulted) else {
            if self.keep_silent
                && let Some(row) = self.tree.tables.get(t).and_then(|x| x.rows.get(r))
                && row.get(id).is_some()
            {
                let path = || LeafPath::Row(t.into(), r.into());
                keep_old(&mut self.tree.kept, &mut self.journal, &path, id, old);
            }
            return;
        };
        self.mutated |= self.applying;
        let hlc = leaf.hlc;
        let tree = &mut self.tree;
        let buf = &mut self.buf;
        let undo = &mut self.journal;
        let (table, created) = ensure_table(&mut tree.tables, t);
        if created {
            undo.push(StampUndo::TableCreated(t.into()));
        }
        let old_table_hash = table.hash;
        let (row, created) = ensure_row(&mut table.rows, r);
        if created {
            row.leaves
                .reserve_exact(std::mem::take(&mut self.row_capacity_hint).max(1));
            undo.push(StampUndo::RowCreated(t.into(), r.into()));
        }
        let path = || LeafPath::Row(t.into(), r.into());
        let old_row_hash = row.hash;
        let tx = self.tx;
        let delta = merge_leaf(row, buf, id, c, &leaf, false, undo, &path);
        stamped_locally(&mut tree.kept, undo, &path, id, old, delta.is_some());
        let delta = delta.unwrap_or(0);
        finish_leaf_map(
            row,
            &Hlc::EMPTY,
            old_row_hash ^ delta,
            false,
            tx,
            undo,
            &path,
        );
        let row_hash = row.hash;
        let mut table_hash = table.hash ^ child_in_parent_delta(r, old_row_hash, row_hash);
        table_hash ^= replace_hlc_hash(&table.hlc, &Hlc::EMPTY);
        save_table(table, t, tx, undo);
        stamp_update(&mut table.hlc, &mut table.hash, &Hlc::EMPTY, table_hash);
        let new_table_hash = table.hash;
        save_tables(tree, tx, undo);
        tree.tables_hash ^= child_in_parent_delta(t, old_table_hash, new_table_hash);
        self.clock.seen(Some(&hlc));
    }

    /// Stamps a value change the store just made.
    fn stamp_value(
        &mut self,
        names: &mut Interner,
        v: &str,
        new: Option<&Cell>,
        old: Option<&Cell>,
    ) {
        let was_absent = old.is_none();
        if !self.touched_values.contains_key(v) {
            self.touched_values.insert(v.into(), ());
        }
        let defaulted = match self.defaulted_values.iter().position(|x| x == v) {
            Some(i) => {
                self.defaulted_values.swap_remove(i);
                was_absent
            }
            None => false,
        };
        let Some(leaf) = self.local_leaf(new, defaulted) else {
            if self.keep_silent
                && let Some(id) = names.get(v)
                && self.tree.values.get(id).is_some()
            {
                keep_old(
                    &mut self.tree.kept,
                    &mut self.journal,
                    &|| LeafPath::Values,
                    id,
                    old,
                );
            }
            return;
        };
        self.mutated |= self.applying;
        let hlc = leaf.hlc;
        let id = Self::leaf_id(names, v);
        let values = &mut self.tree.values;
        let undo = &mut self.journal;
        let path = || LeafPath::Values;
        let delta = merge_leaf(values, &mut self.buf, id, v, &leaf, false, undo, &path);
        stamped_locally(&mut self.tree.kept, undo, &path, id, old, delta.is_some());
        let hash = values.hash ^ delta.unwrap_or(0);
        finish_leaf_map(values, &Hlc::EMPTY, hash, false, self.tx, undo, &path);
        self.clock.seen(Some(&hlc));
    }

    // ------------------------------------------------------------------ merging

    /// TinyBase's `mergeContentOrChanges`: merges a validated payload into the stamps and
    /// returns the store changes it implies. `is_content`: a full content load, whose hashes
    /// are trusted rather than recomputed.
    pub(crate) fn merge(
        &mut self,
        names: &mut Interner,
        incoming: &Payload<impl NameTable>,
        is_content: bool,
    ) -> AcceptedChanges {
        let mut changes = AcceptedChanges::default();
        let tx = self.tx;
        let tree = &mut self.tree;
        let buf = &mut self.buf;
        let undo = &mut self.journal;
        let in_names = &incoming.names;
        let incoming = &incoming.tree;
        let in_tables_hlc = incoming.tables_hlc;
        let mut tables_hash = if is_content {
            incoming.tables_hash
        } else {
            tree.tables_hash
        };
        // Incoming leaf ids, translated to this tree's ids once each.
        let mut ids: Vec<Option<u32>> = vec![None; in_names.len()];
        let mut latest = in_tables_hlc;
        for (t, in_table) in js_ordered(&incoming.tables) {
            let t = t.as_str();
            let (table, created) = ensure_table(&mut tree.tables, t);
            if created {
                undo.push(StampUndo::TableCreated(t.into()));
            }
            let (old_table_hlc, old_table_hash) = (table.hlc, table.hash);
            let in_table_hlc = in_table.hlc;
            let mut table_hash = if is_content {
                in_table.hash
            } else {
                old_table_hash
            };
            let mut table_latest = in_table_hlc;
            // Rows without accepted leaves would be empty, no-op entries in the store changes
            // (TinyBase makes them); they are left out.
            let mut table_changes: AcceptedRows = Vec::new();
            let mut row_changes = Vec::new();
            for (r, in_row) in js_ordered(&in_table.rows) {
                let r = r.as_str();
                let (row, created) = ensure_row(&mut table.rows, r);
                if created {
                    undo.push(StampUndo::RowCreated(t.into(), r.into()));
                }
                let path = || LeafPath::Row(t.into(), r.into());
                let old_row_hash = row.hash;
                let row_latest = merge_leaves(
                    row,
                    &mut tree.kept,
                    names,
                    in_names,
                    &mut ids,
                    buf,
                    in_row,
                    is_content,
                    &mut row_changes,
                    tx,
                    undo,
                    &path,
                );
                if !row_changes.is_empty() {
                    table_changes.push((r.into(), std::mem::take(&mut row_changes)));
                }
                if !is_content {
                    table_hash ^= child_in_parent_delta(r, old_row_hash, row.hash);
                }
                table_latest = table_latest.max(row_latest);
            }
            if !is_content {
                table_hash ^= replace_hlc_hash(&old_table_hlc, &in_table_hlc);
            }
            save_table(table, t, tx, undo);
            stamp_update(&mut table.hlc, &mut table.hash, &in_table_hlc, table_hash);
            if !is_content {
                tables_hash ^= child_in_parent_delta(t, old_table_hash, table.hash);
            }
            if !table_changes.is_empty() {
                // Table ids are distinct in a tree: each table comes once.
                changes.tables.push((t.into(), table_changes));
            }
            latest = latest.max(table_latest);
        }
        if !is_content {
            tables_hash ^= replace_hlc_hash(&tree.tables_hlc, &in_tables_hlc);
        }
        save_tables(tree, tx, undo);
        stamp_update(
            &mut tree.tables_hlc,
            &mut tree.tables_hash,
            &in_tables_hlc,
            tables_hash,
        );
        let values_latest = merge_leaves(
            &mut tree.values,
            &mut tree.kept,
            names,
            in_names,
            &mut ids,
            buf,
            &incoming.values,
            is_content,
            &mut changes.values,
            tx,
            undo,
            &|| LeafPath::Values,
        );
        self.clock.seen(Some(&latest.max(values_latest)));
        changes
    }

    /// After a merge's changes were applied under a schema: each accepted leaf keeps its
    /// stamped value where the store holds another one.
    pub(crate) fn reconcile(
        &mut self,
        accepted: &AcceptedChanges,
        names: &Interner,
        tables: &OrdMap<Text, TableData>,
        values: &OrdMap<Text, Cell>,
    ) {
        let kept = &mut self.tree.kept;
        let undo = &mut self.journal;
        for (t, rows) in &accepted.tables {
            for (r, cells) in rows {
                let row = tables.get(t.as_str()).and_then(|x| x.rows.get(r.as_str()));
                let path = || LeafPath::Row(t.clone(), r.clone());
                for (c, stamped) in cells {
                    // Accepted leaves' ids are pinned.
                    let Some(id) = names.get(c) else { continue };
                    let stored = row.and_then(|row| row.get(id));
                    let entry = (stored != stamped.as_ref()).then(|| stamped.clone());
                    if entry.is_some() || kept.get(path().as_ref(), id).is_some() {
                        set_kept(kept, undo, &path, id, entry);
                    }
                }
            }
        }
        for (v, stamped) in &accepted.values {
            let Some(id) = names.get(v) else { continue };
            let entry = (values.get(v.as_str()) != stamped.as_ref()).then(|| stamped.clone());
            if entry.is_some() || kept.get(LeafRef::Values, id).is_some() {
                set_kept(kept, undo, &|| LeafPath::Values, id, entry);
            }
        }
    }

    /// Replaces the whole tree by an empty one (journaled), for a content load.
    pub(crate) fn clear(&mut self) {
        let old = std::mem::take(&mut self.tree);
        self.journal.push(StampUndo::Replaced(Box::new(old)));
    }

    // ------------------------------------------------------------------ rollback

    fn undo(&mut self, entry: StampUndo) {
        let tree = &mut self.tree;
        match entry {
            StampUndo::TableCreated(t) => {
                tree.tables.remove(t.as_str());
            }
            StampUndo::RowCreated(t, r) => {
                if let Some(table) = tree.tables.get_mut(t.as_str()) {
                    table.rows.remove(r.as_str());
                }
            }
            StampUndo::LeafCreated(path, id) => {
                if let Some(map) = leaf_map_mut(tree, &path)
                    && let Some(i) = map.position(id)
                {
                    map.leaves.remove(i);
                }
            }
            StampUndo::Kept(path, id, was) => {
                tree.kept.set(path.as_ref(), id, was);
            }
            StampUndo::Leaf(path, id, old) => {
                if let Some(map) = leaf_map_mut(tree, &path)
                    && let Some(i) = map.position(id)
                {
                    map.leaves[i] = old;
                }
            }
            StampUndo::LeafMap(path, hlc, hash) => {
                if let Some(map) = leaf_map_mut(tree, &path) {
                    map.hlc = hlc;
                    map.hash = hash;
                }
            }
            StampUndo::Table(t, hlc, hash) => {
                if let Some(table) = tree.tables.get_mut(t.as_str()) {
                    table.hlc = hlc;
                    table.hash = hash;
                }
            }
            StampUndo::Tables(hlc, hash) => {
                tree.tables_hlc = hlc;
                tree.tables_hash = hash;
            }
            StampUndo::Replaced(old) => self.tree = *old,
        }
    }

    // ------------------------------------------------------------------ reading

    /// The full content with hashes.
    pub(crate) fn content(&self, state: &State) -> MergeableContent {
        let tree = &self.tree;
        let kept = &tree.kept;
        let values = LeafValues::of(state, kept, LeafRef::Values);
        MergeableContent {
            tables: Stamp {
                thing: tree
                    .tables
                    .iter()
                    .map(|(t, table)| (t.to_string(), table_stamp(state, kept, t, table, true)))
                    .collect(),
                hlc: tree.tables_hlc.as_str().to_string(),
                hash: Some(tree.tables_hash),
            },
            values: leaf_map_stamp(&state.names, &tree.values, values, true),
        }
    }

    /// TinyBase's `getTransactionMergeableChanges(withHashes)`.
    pub(crate) fn transaction_changes(&self, state: &State, with_hashes: bool) -> MergeableContent {
        let names = &state.names;
        let tree = &self.tree;
        let hash = |h: u32| with_hashes.then_some(h);
        let mut tables = IndexMap::new();
        for (t, touched_rows) in self.touched_cells.iter() {
            let Some(table) = tree.tables.get(t.as_str()) else {
                continue;
            };
            let mut rows = IndexMap::new();
            for (r, touched) in touched_rows.iter() {
                let Some(row) = table.rows.get(r.as_str()) else {
                    continue;
                };
                let mut cells = IndexMap::new();
                let values = LeafValues::of(state, &tree.kept, LeafRef::Row(t, r));
                for &c in touched {
                    if let Some(leaf) = row.get(c) {
                        let stamp = leaf_stamp(leaf, values.get(c), with_hashes);
                        cells.insert(names.name(c).to_string(), stamp);
                    }
                }
                rows.insert(
                    r.to_string(),
                    Stamp {
                        thing: cells,
                        hlc: row.hlc.to_string(),
                        hash: hash(row.hash),
                    },
                );
            }
            tables.insert(
                t.to_string(),
                Stamp {
                    thing: rows,
                    hlc: table.hlc.to_string(),
                    hash: hash(table.hash),
                },
            );
        }
        let mut values = IndexMap::new();
        let stamped = LeafValues::of(state, &tree.kept, LeafRef::Values);
        for (v, ()) in self.touched_values.iter() {
            if let Some(leaf) = names.get(v).and_then(|id| tree.values.get(id)) {
                let stamp = leaf_stamp(leaf, stamped.get(leaf.id), with_hashes);
                values.insert(v.to_string(), stamp);
            }
        }
        MergeableContent {
            tables: Stamp {
                thing: tables,
                hlc: tree.tables_hlc.to_string(),
                hash: hash(tree.tables_hash),
            },
            values: Stamp {
                thing: values,
                hlc: tree.values.hlc.to_string(),
                hash: hash(tree.values.hash),
            },
        }
    }
}

impl ChangeHook for Mergeable {
    fn cell_changed(
        &mut self,
        names: &mut Interner,
        t: &str,
        r: &str,
        c: u32,
        new: Option<&Cell>,
        old: Option<&Cell>,
    ) {
        self.stamp_cell(names, t, r, c, new, old);
    }

    fn row_inserted(&mut self, names: &mut Interner, t: &str, r: &str, cells: &[(u32, Cell)]) {
        // The new row's leaf map is created by its first cell, sized for all of them.
        self.row_capacity_hint = cells.len();
        for (c, cell) in cells {
            self.stamp_cell(names, t, r, *c, Some(cell), None);
        }
        self.row_capacity_hint = 0;
    }

    fn value_changed(
        &mut self,
        names: &mut Interner,
        v: &str,
        new: Option<&Cell>,
        old: Option<&Cell>,
    ) {
        self.stamp_value(names, v, new, old);
    }

    fn cell_defaulted(&mut self, t: &str, r: &str, c: &str) {
        self.defaulted_cells.push((t.into(), r.into(), c.into()));
    }

    fn value_defaulted(&mut self, v: &str) {
        self.defaulted_values.push(v.into());
    }

    fn rollback(&mut self) {
        while let Some(entry) = self.journal.pop() {
            self.undo(entry);
        }
    }

    fn settle(&mut self) {
        self.end_transaction();
    }
}

// ---------------------------------------------------------------------- merge steps

/// An incoming map's entries in JavaScript object order, the order TinyBase merges them in
/// (it reads payloads as objects).
fn js_ordered<T>(map: &OrdMap<Text, T>) -> Vec<(&Text, &T)> {
    let entries: Vec<(&Text, &T)> = map.iter().collect();
    if entries.iter().any(|(k, _)| is_array_index(k).is_some()) {
        js_order(entries)
    } else {
        entries
    }
}

fn leaf_map_mut<'a>(
    tree: &'a mut StampTree<StoredLeaf>,
    path: &LeafPath,
) -> Option<&'a mut LeafMap<StoredLeaf>> {
    match path {
        LeafPath::Values => Some(&mut tree.values),
        LeafPath::Row(t, r) => tree
            .tables
            .get_mut(t.as_str())
            .and_then(|x| x.rows.get_mut(r.as_str())),
    }
}

fn ensure_table<'a>(
    tables: &'a mut OrdMap<Text, TableStamps<StoredLeaf>>,
    t: &str,
) -> (&'a mut TableStamps<StoredLeaf>, bool) {
    let created = !tables.contains_key(t);
    (
        tables.entry_or_insert_with(t, TableStamps::default),
        created,
    )
}

fn ensure_row<'a>(
    rows: &'a mut OrdMap<Text, LeafMap<StoredLeaf>>,
    r: &str,
) -> (&'a mut LeafMap<StoredLeaf>, bool) {
    let created = !rows.contains_key(r);
    (rows.entry_or_insert_with(r, LeafMap::default), created)
}

/// One leaf of TinyBase's `mergeCellsOrValues`: accepted iff the local stamp has no HLC yet or
/// the incoming HLC is later. Returns `None` if rejected, else how the container's hash moves
/// (0 for a content load, whose hashes are trusted).
#[allow(clippy::too_many_arguments)]
fn merge_leaf(
    map: &mut LeafMap<StoredLeaf>,
    buf: &mut String,
    id: u32,
    name: &str,
    incoming: &IncomingLeaf<'_>,
    is_content: bool,
    undo: &mut Vec<StampUndo>,
    path: &dyn Fn() -> LeafPath,
) -> Option<u32> {
    let (index, created) = match map.position(id) {
        Some(i) => (i, false),
        None => {
            map.leaves.push(StoredLeaf::new(id));
            undo.push(StampUndo::LeafCreated(path(), id));
            (map.leaves.len() - 1, true)
        }
    };
    let leaf = &mut map.leaves[index];
    let incoming_hlc = PackedHlc::pack(&incoming.hlc);
    if !(leaf.hlc.is_empty() || incoming_hlc > leaf.hlc) {
        return None;
    }
    let old_hash = leaf.hash;
    if !created {
        // A leaf created in this step is removed whole by its creation's undo.
        undo.push(StampUndo::Leaf(path(), id, *leaf));
    }
    let hash = if is_content {
        incoming.hash
    } else {
        leaf_hash_with(buf, incoming.value, incoming.hlc.as_str())
    };
    if incoming_hlc > leaf.hlc {
        leaf.hlc = incoming_hlc;
    }
    leaf.hash = hash;
    // Leaves keep TinyBase's legacy `id:0` term for a new leaf: no zero special case here.
    Some(if is_content {
        0
    } else {
        child_term(name, old_hash) ^ child_term(name, hash)
    })
}

/// Closes TinyBase's `mergeCellsOrValues` for one leaf map: container HLC and hash.
fn finish_leaf_map(
    map: &mut LeafMap<StoredLeaf>,
    in_hlc: &Hlc,
    mut things_hash: u32,
    is_content: bool,
    tx: u32,
    undo: &mut Vec<StampUndo>,
    path: &dyn Fn() -> LeafPath,
) {
    if !is_content {
        things_hash ^= replace_hlc_hash(&map.hlc, in_hlc);
    }
    if map.saved != tx {
        map.saved = tx;
        undo.push(StampUndo::LeafMap(path(), map.hlc, map.hash));
    }
    stamp_update(&mut map.hlc, &mut map.hash, in_hlc, things_hash);
}

/// Journals a table's `(hlc, hash)` once per transaction.
fn save_table(table: &mut TableStamps<StoredLeaf>, t: &str, tx: u32, undo: &mut Vec<StampUndo>) {
    if table.saved != tx {
        table.saved = tx;
        undo.push(StampUndo::Table(t.into(), table.hlc, table.hash));
    }
}

/// Journals the tables root's `(hlc, hash)` once per transaction.
fn save_tables(tree: &mut StampTree<StoredLeaf>, tx: u32, undo: &mut Vec<StampUndo>) {
    if tree.tables_saved != tx {
        tree.tables_saved = tx;
        undo.push(StampUndo::Tables(tree.tables_hlc, tree.tables_hash));
    }
}

/// TinyBase's `mergeCellsOrValues` over a whole incoming leaf map; records accepted leaves in
/// `changes` and returns the latest HLC seen (incoming container HLC and accepted leaves).
#[allow(clippy::too_many_arguments)]
fn merge_leaves(
    map: &mut LeafMap<StoredLeaf>,
    kept: &mut Kept,
    names: &mut Interner,
    in_names: &(impl NameTable + ?Sized),
    ids: &mut [Option<u32>],
    buf: &mut String,
    incoming: &LeafMap,
    is_content: bool,
    changes: &mut AcceptedLeaves,
    tx: u32,
    undo: &mut Vec<StampUndo>,
    path: &dyn Fn() -> LeafPath,
) -> Hlc {
    let in_hlc = incoming.hlc;
    let mut latest = in_hlc;
    let mut hash = if is_content { incoming.hash } else { map.hash };
    // Sized once for the row instead of growing 4, 8, 16.
    changes.reserve(incoming.leaves.len());
    let mut each = |stamp: &Leaf| {
        let in_id = stamp.id;
        let name = in_names.name(in_id);
        let id = *ids[in_id as usize].get_or_insert_with(|| Mergeable::leaf_id(names, name));
        let leaf = IncomingLeaf {
            value: stamp.value.as_ref(),
            hlc: stamp.hlc,
            hash: stamp.hash,
        };
        if let Some(delta) = merge_leaf(map, buf, id, name, &leaf, is_content, undo, path) {
            hash ^= delta;
            // The store is about to take the incoming value (a schema may yet change it: then
            // the merge keeps it again afterwards).
            if !kept.is_empty() {
                set_kept(kept, undo, path, id, None);
            }
            changes.push((name.into(), stamp.value.clone()));
            latest = latest.max(leaf.hlc);
        }
    };
    if incoming
        .leaves
        .iter()
        .any(|l| is_array_index(in_names.name(l.id)).is_some())
    {
        let ordered = js_order(
            incoming
                .leaves
                .iter()
                .map(|leaf| (in_names.name(leaf.id), leaf))
                .collect(),
        );
        for (_, leaf) in ordered {
            each(leaf);
        }
    } else {
        for leaf in &incoming.leaves {
            each(leaf);
        }
    }
    finish_leaf_map(map, &in_hlc, hash, is_content, tx, undo, path);
    latest
}

/// Sets or clears a leaf's kept value, journaled.
fn set_kept(
    kept: &mut Kept,
    undo: &mut Vec<StampUndo>,
    path: &dyn Fn() -> LeafPath,
    id: u32,
    entry: Option<Option<Cell>>,
) {
    let path = path();
    let clearing = entry.is_none();
    let was = kept.set(path.as_ref(), id, entry);
    if !(clearing && was.is_none()) {
        undo.push(StampUndo::Kept(path, id, was));
    }
}

/// The store changed an existing leaf's cell or value without stamping it: unless the leaf
/// already keeps its value, its value was the store's old one, which it now keeps.
fn keep_old(
    kept: &mut Kept,
    undo: &mut Vec<StampUndo>,
    path: &dyn Fn() -> LeafPath,
    id: u32,
    old: Option<&Cell>,
) {
    let at = path();
    if kept.get(at.as_ref(), id).is_none() {
        set_kept(kept, undo, &|| at.clone(), id, Some(old.cloned()));
    }
}

/// After a local change was stamped (`accepted`) or lost to a later stamp: in the first case
/// the store holds the stamped value, in the second the leaf keeps its own.
fn stamped_locally(
    kept: &mut Kept,
    undo: &mut Vec<StampUndo>,
    path: &dyn Fn() -> LeafPath,
    id: u32,
    old: Option<&Cell>,
    accepted: bool,
) {
    if accepted {
        if !kept.is_empty() && kept.get(path().as_ref(), id).is_some() {
            set_kept(kept, undo, path, id, None);
        }
    } else {
        keep_old(kept, undo, path, id, old);
    }
}
