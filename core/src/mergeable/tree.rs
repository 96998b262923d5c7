//! The stamp tree of a MergeableStore: an HLC and a hash for every Cell and Value ever written
//! (tombstones included), and XOR hashes up through rows, tables and the two roots; its JSON
//! form and its typed form ([`MergeableContent`]).
//!
//! Leaf ids (cell and value ids) are `u32`s resolved through a [`NameTable`]: the store's own
//! interner for a MergeableStore's tree, a [`Names`] table for a payload parsed or built on
//! its own ([`Payload`]).

use indexmap::IndexMap;

use crate::hlc::{Hlc, PackedHlc};
use crate::ordmap::OrdMap;
use crate::store::Interner;
use crate::store::state::State;
use crate::types::{Cell, Text};

use super::content::{
    CellStamp, JsonForm, MergeableContent, RowStamp, Stamp, TableStamp, TablesStamp, ValuesStamp,
    stamp_hlc, write_leaf_parts, write_map_parts,
};

/// A Cell's or Value's stamp in a payload (a tree not held by a store). `value: None` is a
/// tombstone.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Leaf {
    pub(crate) value: Option<Cell>,
    pub(crate) hlc: Hlc,
    pub(crate) hash: u32,
    pub(crate) id: u32,
}

/// A leaf of a MergeableStore's own tree: the stamp without its value, which the store
/// already holds (see [`Kept`] for the leaves whose stamped value the store does not hold).
/// Packed (21 bytes, not 24): a store holds one per cell ever written.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C, packed)]
pub(crate) struct StoredLeaf {
    pub(crate) hlc: PackedHlc,
    pub(crate) hash: u32,
    pub(crate) id: u32,
}

impl StoredLeaf {
    /// A leaf not stamped yet.
    pub(crate) const fn new(id: u32) -> StoredLeaf {
        StoredLeaf {
            hlc: PackedHlc::EMPTY,
            hash: 0,
            id,
        }
    }
}

/// What the tree code needs of either kind of leaf.
pub(crate) trait AnyLeaf {
    fn id(&self) -> u32;
    fn hlc(&self) -> Hlc;
}

impl AnyLeaf for Leaf {
    #[inline]
    fn id(&self) -> u32 {
        self.id
    }
    #[inline]
    fn hlc(&self) -> Hlc {
        self.hlc
    }
}

impl AnyLeaf for StoredLeaf {
    #[inline]
    fn id(&self) -> u32 {
        self.id
    }
    #[inline]
    fn hlc(&self) -> Hlc {
        self.hlc.unpack()
    }
}

/// The stamps of one row's cells, or of the values: leaves in first-stamp order.
///
/// A vector with linear lookup, like the store's rows: rows are narrow, and TinyBase apps keep
/// few values.
#[derive(Clone, Debug)]
pub(crate) struct LeafMap<L = Leaf> {
    pub(crate) leaves: Vec<L>,
    pub(crate) hlc: Hlc,
    pub(crate) hash: u32,
    /// The transaction whose undo journal already holds this map's `(hlc, hash)`.
    pub(crate) saved: u32,
}

impl<L> Default for LeafMap<L> {
    fn default() -> Self {
        LeafMap {
            leaves: Vec::new(),
            hlc: Hlc::EMPTY,
            hash: 0,
            saved: 0,
        }
    }
}

impl<L: AnyLeaf> LeafMap<L> {
    pub(crate) fn new(leaves: Vec<L>, hlc: Hlc, hash: u32) -> LeafMap<L> {
        LeafMap {
            leaves,
            hlc,
            hash,
            saved: 0,
        }
    }

    #[inline]
    pub(crate) fn position(&self, id: u32) -> Option<usize> {
        self.leaves.iter().position(|l| l.id() == id)
    }

    pub(crate) fn get(&self, id: u32) -> Option<&L> {
        self.leaves.iter().find(|l| l.id() == id)
    }
}

#[derive(Clone, Debug)]
pub(crate) struct TableStamps<L = Leaf> {
    pub(crate) rows: OrdMap<Text, LeafMap<L>>,
    pub(crate) hlc: Hlc,
    pub(crate) hash: u32,
    pub(crate) saved: u32,
}

impl<L> Default for TableStamps<L> {
    fn default() -> Self {
        TableStamps {
            rows: OrdMap::new(),
            hlc: Hlc::EMPTY,
            hash: 0,
            saved: 0,
        }
    }
}

impl TableStamps {
    pub(crate) fn new(rows: OrdMap<Text, LeafMap>, hlc: Hlc, hash: u32) -> TableStamps {
        TableStamps {
            rows,
            hlc,
            hash,
            saved: 0,
        }
    }
}

/// Kept values of one leaf map, by leaf id (`None`: a tombstone).
pub(crate) type KeptLeaves = Vec<(u32, Option<Cell>)>;

/// The stamped values the store does not hold, by leaf id: a leaf's value is its entry here if
/// it has one, else the store's cell or value (none: a tombstone). Entries are made only where
/// the two differ: a remote value the schema changed or refused, a cell a schema default or a
/// write that lost to a later stamp filled in over a tombstone.
#[derive(Clone, Debug, Default)]
pub(crate) struct Kept {
    pub(crate) cells: OrdMap<Text, OrdMap<Text, KeptLeaves>>,
    pub(crate) values: KeptLeaves,
}

impl Kept {
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.cells.is_empty() && self.values.is_empty()
    }

    /// The kept entries of a row or of the values (empty if none).
    pub(crate) fn of(&self, path: LeafRef<'_>) -> &[(u32, Option<Cell>)] {
        match path {
            LeafRef::Row(t, r) => self
                .cells
                .get(t)
                .and_then(|rows| rows.get(r))
                .map_or(&[], Vec::as_slice),
            LeafRef::Values => &self.values,
        }
    }

    pub(crate) fn get(&self, path: LeafRef<'_>, id: u32) -> Option<&Option<Cell>> {
        self.of(path).iter().find(|(c, _)| *c == id).map(|(_, v)| v)
    }

    /// Sets (`Some`) or removes (`None`) one entry; returns the previous one.
    pub(crate) fn set(
        &mut self,
        path: LeafRef<'_>,
        id: u32,
        entry: Option<Option<Cell>>,
    ) -> Option<Option<Cell>> {
        let list = match path {
            LeafRef::Values => &mut self.values,
            LeafRef::Row(t, r) => {
                if entry.is_none() {
                    let rows = self.cells.get_mut(t)?;
                    let list = rows.get_mut(r)?;
                    let i = list.iter().position(|(c, _)| *c == id)?;
                    let (_, old) = list.swap_remove(i);
                    if list.is_empty() {
                        rows.remove(r);
                        if rows.is_empty() {
                            self.cells.remove(t);
                        }
                    }
                    return Some(old);
                }
                self.cells
                    .entry_or_insert_with(t, OrdMap::new)
                    .entry_or_insert_with(r, Vec::new)
            }
        };
        let i = list.iter().position(|(c, _)| *c == id);
        match (i, entry) {
            (Some(i), Some(value)) => Some(std::mem::replace(&mut list[i].1, value)),
            (Some(i), None) => Some(list.swap_remove(i).1),
            (None, Some(value)) => {
                list.push((id, value));
                None
            }
            (None, None) => None,
        }
    }
}

/// Which leaf map, borrowed.
#[derive(Clone, Copy, Debug)]
pub(crate) enum LeafRef<'a> {
    Row(&'a str, &'a str),
    Values,
}

/// The values of one leaf map's leaves: kept entries first, then the store's.
#[derive(Clone, Copy)]
pub(crate) struct LeafValues<'a> {
    kept: &'a [(u32, Option<Cell>)],
    stored: Stored<'a>,
}

#[derive(Clone, Copy)]
enum Stored<'a> {
    Row(&'a [(u32, Cell)]),
    Values(&'a OrdMap<Text, Cell>, &'a Interner),
}

impl<'a> LeafValues<'a> {
    /// The values of row `t`/`r`'s leaves (or of the values' leaves).
    pub(crate) fn of(state: &'a State, kept: &'a Kept, path: LeafRef<'_>) -> LeafValues<'a> {
        let stored = match path {
            LeafRef::Row(t, r) => Stored::Row(
                state
                    .tables
                    .get(t)
                    .and_then(|table| table.rows.get(r))
                    .map_or(&[], |row| row.cells.as_slice()),
            ),
            LeafRef::Values => Stored::Values(&state.values, &state.names),
        };
        let kept = if kept.is_empty() { &[] } else { kept.of(path) };
        LeafValues { kept, stored }
    }

    /// The stamped value of leaf `id` (`None`: a tombstone).
    #[inline]
    pub(crate) fn get(&self, id: u32) -> Option<&'a Cell> {
        self.get_at(id, usize::MAX)
    }

    /// [`get`](Self::get) for the leaf at `index` of its map: a row's leaves are mostly in the
    /// order of its cells, so the cell at the same index is tried first.
    #[inline]
    pub(crate) fn get_at(&self, id: u32, index: usize) -> Option<&'a Cell> {
        if !self.kept.is_empty()
            && let Some((_, value)) = self.kept.iter().find(|(c, _)| *c == id)
        {
            return value.as_ref();
        }
        match self.stored {
            Stored::Row(cells) => match cells.get(index) {
                Some((c, value)) if *c == id => Some(value),
                _ => cells.iter().find(|(c, _)| *c == id).map(|(_, v)| v),
            },
            Stored::Values(values, names) => values.get(names.name(id).as_str()),
        }
    }
}

/// Resolves a tree's leaf ids to their names.
pub(crate) trait NameTable {
    /// The name of an id the tree uses.
    fn name(&self, id: u32) -> &str;
    /// One more than the largest id in use (the size of an id-indexed table).
    fn len(&self) -> usize;
}

impl NameTable for Interner {
    #[inline]
    fn name(&self, id: u32) -> &str {
        Interner::name(self, id)
    }
    fn len(&self) -> usize {
        Interner::len(self)
    }
}

/// A copy of another store's interner, as a payload's names.
impl NameTable for Vec<Text> {
    #[inline]
    fn name(&self, id: u32) -> &str {
        &self[id as usize]
    }
    fn len(&self) -> usize {
        Vec::len(self)
    }
}

/// The leaf ids of a payload's own tree (one not held by a store), never freed.
#[derive(Clone, Debug, Default)]
pub(crate) struct Names {
    names: Vec<Text>,
    lookup: OrdMap<Text, u32>,
}

impl Names {
    pub(crate) fn get(&self, name: &str) -> Option<u32> {
        self.lookup.get(name).copied()
    }

    pub(crate) fn intern(&mut self, name: &str) -> u32 {
        if let Some(id) = self.get(name) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(name.into());
        self.lookup.insert(name.into(), id);
        id
    }
}

impl NameTable for Names {
    #[inline]
    fn name(&self, id: u32) -> &str {
        &self.names[id as usize]
    }
    fn len(&self) -> usize {
        self.names.len()
    }
}

/// A stamp tree with its own names: a payload to merge, parsed from JSON, built from typed
/// content, or copied from another store.
#[derive(Clone, Debug, Default)]
pub(crate) struct Payload<N = Names> {
    pub(crate) names: N,
    pub(crate) tree: StampTree,
}

/// The whole stamp tree; its leaf ids are resolved by a [`NameTable`] kept beside it.
#[derive(Clone, Debug)]
pub(crate) struct StampTree<L = Leaf> {
    pub(crate) tables: OrdMap<Text, TableStamps<L>>,
    pub(crate) tables_hlc: Hlc,
    pub(crate) tables_hash: u32,
    /// The transaction whose undo journal already holds the root's `(hlc, hash)`.
    pub(crate) tables_saved: u32,
    pub(crate) values: LeafMap<L>,
    /// A store's tree only: the stamped values its store does not hold.
    pub(crate) kept: Kept,
}

impl<L> Default for StampTree<L> {
    fn default() -> Self {
        StampTree {
            tables: OrdMap::new(),
            tables_hlc: Hlc::EMPTY,
            tables_hash: 0,
            tables_saved: 0,
            values: LeafMap::default(),
            kept: Kept::default(),
        }
    }
}

impl Payload {
    /// The tree of a (validated) typed payload, to merge from. Missing hashes are 0: they are
    /// only read for full content, which validation requires to carry them.
    pub(crate) fn from_content(content: &MergeableContent) -> Payload {
        let mut payload: Payload = Payload::default();
        let names = &mut payload.names;
        let tree = &mut payload.tree;
        let mut leaf_map = |stamp: &Stamp<IndexMap<String, CellStamp>>| LeafMap {
            leaves: stamp
                .thing
                .iter()
                .map(|(id, leaf)| Leaf {
                    value: leaf.thing.clone(),
                    hlc: stamp_hlc(&leaf.hlc),
                    hash: leaf.hash.unwrap_or(0),
                    id: names.intern(id),
                })
                .collect(),
            hlc: stamp_hlc(&stamp.hlc),
            hash: stamp.hash.unwrap_or(0),
            saved: 0,
        };
        for (t, table) in &content.tables.thing {
            let mut rows = OrdMap::new();
            for (r, row) in &table.thing {
                rows.insert(Text::from(r.as_str()), leaf_map(row));
            }
            tree.tables.insert(
                Text::from(t.as_str()),
                TableStamps {
                    rows,
                    hlc: stamp_hlc(&table.hlc),
                    hash: table.hash.unwrap_or(0),
                    saved: 0,
                },
            );
        }
        tree.tables_hlc = stamp_hlc(&content.tables.hlc);
        tree.tables_hash = content.tables.hash.unwrap_or(0);
        tree.values = leaf_map(&content.values);
        payload
    }
}

/// Appends one leaf map as JSON; `value` gives each leaf's value.
fn write_leaf_map<'a, L: AnyLeaf + 'a>(
    out: &mut String,
    names: &(impl NameTable + ?Sized),
    map: &'a LeafMap<L>,
    form: JsonForm,
    hash_of: impl Fn(&L) -> u32,
    value: impl Fn(usize, &'a L) -> Option<&'a Cell>,
) {
    let entries = map
        .leaves
        .iter()
        .enumerate()
        .map(|(i, leaf)| (names.name(leaf.id()), (i, leaf)))
        .collect();
    write_map_parts(
        out,
        entries,
        map.hlc.as_str(),
        Some(map.hash),
        form,
        |out, (i, leaf)| {
            write_leaf_parts(
                out,
                value(i, leaf),
                leaf.hlc().as_str(),
                Some(hash_of(leaf)),
                form,
            )
        },
    );
}

impl<L> StampTree<L> {
    /// Appends the whole tree as JSON (with hashes, in `form`); `leaves` writes each leaf map.
    fn write_json_with(
        &self,
        out: &mut String,
        form: JsonForm,
        leaves: impl Fn(&mut String, &LeafMap<L>, LeafRef<'_>),
    ) {
        out.push('[');
        let tables = self
            .tables
            .iter()
            .map(|(t, x)| (t.as_str(), (t.as_str(), x)))
            .collect();
        write_map_parts(
            out,
            tables,
            self.tables_hlc.as_str(),
            Some(self.tables_hash),
            form,
            |out, (t, table)| {
                let rows = table
                    .rows
                    .iter()
                    .map(|(r, x)| (r.as_str(), (r.as_str(), x)))
                    .collect();
                write_map_parts(
                    out,
                    rows,
                    table.hlc.as_str(),
                    Some(table.hash),
                    form,
                    |out, (r, row)| leaves(out, row, LeafRef::Row(t, r)),
                );
            },
        );
        out.push(',');
        leaves(out, &self.values, LeafRef::Values);
        if form.changes {
            out.push_str(",1");
        }
        out.push(']');
    }
}

impl StampTree {
    /// Appends the whole payload as JSON (with hashes, in `form`), straight from the tree.
    pub(crate) fn write_json(
        &self,
        names: &(impl NameTable + ?Sized),
        out: &mut String,
        form: JsonForm,
    ) {
        self.write_json_with(out, form, |out, map, _| {
            write_leaf_map(out, names, map, form, |l| l.hash, |_, l| l.value.as_ref())
        });
    }
}

impl StampTree<StoredLeaf> {
    /// Appends the whole tree as JSON (with hashes, in `form`), straight from the tree and
    /// its store's data.
    pub(crate) fn write_json(&self, state: &State, out: &mut String, form: JsonForm) {
        self.write_json_with(out, form, |out, map, path| {
            let values = LeafValues::of(state, &self.kept, path);
            write_leaf_map(
                out,
                &state.names,
                map,
                form,
                |l| l.hash,
                |i, l| values.get_at(l.id, i),
            )
        });
    }

    /// The tree with every leaf's value, as a payload tree to merge into another store.
    pub(crate) fn with_values(&self, state: &State) -> StampTree {
        let leaf_map = |map: &LeafMap<StoredLeaf>, path: LeafRef<'_>| {
            let values = LeafValues::of(state, &self.kept, path);
            LeafMap {
                leaves: map
                    .leaves
                    .iter()
                    .enumerate()
                    .map(|(i, leaf)| Leaf {
                        value: values.get_at(leaf.id, i).cloned(),
                        hlc: leaf.hlc.unpack(),
                        hash: leaf.hash,
                        id: leaf.id,
                    })
                    .collect(),
                hlc: map.hlc,
                hash: map.hash,
                saved: 0,
            }
        };
        let mut tables = OrdMap::new();
        for (t, table) in self.tables.iter() {
            let mut rows = OrdMap::new();
            for (r, row) in table.rows.iter() {
                rows.insert(r.clone(), leaf_map(row, LeafRef::Row(t, r)));
            }
            tables.insert(t.clone(), TableStamps::new(rows, table.hlc, table.hash));
        }
        StampTree {
            tables,
            tables_hlc: self.tables_hlc,
            tables_hash: self.tables_hash,
            tables_saved: 0,
            values: leaf_map(&self.values, LeafRef::Values),
            kept: Kept::default(),
        }
    }
}

impl StampTree {
    /// The first HLC dated after `max_time`, in the order the tree's JSON lists them (each
    /// stamp before what it holds; the tables before the values), which is the order a
    /// payload's HLCs are checked in.
    pub(crate) fn first_later_than(&self, max_time: u64) -> Option<Hlc> {
        let later = |h: &Hlc| !h.is_empty() && h.time() > max_time;
        let leaves = |map: &LeafMap| {
            std::iter::once(&map.hlc)
                .chain(map.leaves.iter().map(|l| &l.hlc))
                .find(|h| later(h))
                .copied()
        };
        if later(&self.tables_hlc) {
            return Some(self.tables_hlc);
        }
        for table in self.tables.iter().map(|(_, t)| t) {
            if later(&table.hlc) {
                return Some(table.hlc);
            }
            if let Some(h) = table.rows.iter().find_map(|(_, row)| leaves(row)) {
                return Some(h);
            }
        }
        leaves(&self.values)
    }

    /// The latest logical time of any HLC in the tree (0 if none).
    pub(crate) fn max_time(&self) -> u64 {
        let leaves = |map: &LeafMap| {
            map.leaves
                .iter()
                .map(|l| l.hlc)
                .chain(std::iter::once(map.hlc))
                .max()
                .unwrap_or(Hlc::EMPTY)
        };
        let mut latest = self.tables_hlc.max(leaves(&self.values));
        for table in self.tables.iter().map(|(_, t)| t) {
            latest = latest.max(table.hlc);
            for row in table.rows.iter().map(|(_, r)| r) {
                latest = latest.max(leaves(row));
            }
        }
        latest.time()
    }
}

// ---------------------------------------------------------------------- tree → typed

pub(crate) fn leaf_stamp(leaf: &StoredLeaf, value: Option<&Cell>, with_hash: bool) -> CellStamp {
    Stamp {
        thing: value.cloned(),
        hlc: leaf.hlc.unpack().as_str().to_string(),
        hash: with_hash.then_some(leaf.hash),
    }
}

/// A row's or the values' typed stamp; `values` holds its leaves' values.
pub(crate) fn leaf_map_stamp(
    names: &Interner,
    map: &LeafMap<StoredLeaf>,
    values: LeafValues<'_>,
    with_hash: bool,
) -> ValuesStamp {
    Stamp {
        thing: map
            .leaves
            .iter()
            .enumerate()
            .map(|(i, leaf)| {
                let stamp = leaf_stamp(leaf, values.get_at(leaf.id, i), with_hash);
                (names.name(leaf.id).to_string(), stamp)
            })
            .collect(),
        hlc: map.hlc.as_str().to_string(),
        hash: with_hash.then_some(map.hash),
    }
}

pub(crate) fn row_stamp(
    state: &State,
    kept: &Kept,
    t: &str,
    r: &str,
    row: &LeafMap<StoredLeaf>,
    with_hash: bool,
) -> RowStamp {
    let values = LeafValues::of(state, kept, LeafRef::Row(t, r));
    leaf_map_stamp(&state.names, row, values, with_hash)
}

pub(crate) fn table_stamp(
    state: &State,
    kept: &Kept,
    t: &str,
    table: &TableStamps<StoredLeaf>,
    with_hash: bool,
) -> TableStamp {
    Stamp {
        thing: table
            .rows
            .iter()
            .map(|(r, row)| (r.to_string(), row_stamp(state, kept, t, r, row, with_hash)))
            .collect(),
        hlc: table.hlc.as_str().to_string(),
        hash: with_hash.then_some(table.hash),
    }
}

/// An empty hash-less tables stamp carrying the tables' HLC (TinyBase's `stampNewObj`).
pub(crate) fn empty_tables_stamp<L>(tree: &StampTree<L>) -> TablesStamp {
    Stamp {
        thing: IndexMap::new(),
        hlc: tree.tables_hlc.as_str().to_string(),
        hash: None,
    }
}
