//! The stamp tree of a MergeableStore: an HLC and a hash for every Cell and Value ever written
//! (tombstones included), and XOR hashes up through rows, tables and the two roots; its JSON
//! form and its typed form ([`MergeableContent`]).
//!
//! Leaf ids (cell and value ids) are `u32`s resolved through a [`NameTable`]: the store's own
//! interner for a MergeableStore's tree, a [`Names`] table for a payload parsed or built on
//! its own ([`Payload`]).

use indexmap::IndexMap;

use crate::hlc::Hlc;
use crate::ordmap::OrdMap;
use crate::store::Interner;
use crate::types::{Cell, Text};

use super::content::{
    CellStamp, JsonForm, MergeableContent, RowStamp, Stamp, TableStamp, TablesStamp, ValuesStamp,
    stamp_hlc, write_leaf_parts, write_map_parts,
};

/// A Cell's or Value's stamp. `value: None` is a tombstone.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Leaf {
    pub(crate) value: Option<Cell>,
    pub(crate) hlc: Hlc,
    pub(crate) hash: u32,
}

pub(crate) const NEW_LEAF: Leaf = Leaf {
    value: None,
    hlc: Hlc::EMPTY,
    hash: 0,
};

/// The stamps of one row's cells, or of the values: leaves in first-stamp order.
///
/// A vector with linear lookup, like the store's rows: rows are narrow, and TinyBase apps keep
/// few values.
#[derive(Clone, Debug, Default)]
pub(crate) struct LeafMap {
    pub(crate) leaves: Vec<(u32, Leaf)>,
    pub(crate) hlc: Hlc,
    pub(crate) hash: u32,
    /// The transaction whose undo journal already holds this map's `(hlc, hash)`.
    pub(crate) saved: u32,
}

impl LeafMap {
    pub(crate) fn new(leaves: Vec<(u32, Leaf)>, hlc: Hlc, hash: u32) -> LeafMap {
        LeafMap {
            leaves,
            hlc,
            hash,
            saved: 0,
        }
    }

    #[inline]
    pub(crate) fn position(&self, id: u32) -> Option<usize> {
        self.leaves.iter().position(|(c, _)| *c == id)
    }

    pub(crate) fn get(&self, id: u32) -> Option<&Leaf> {
        self.leaves.iter().find(|(c, _)| *c == id).map(|(_, l)| l)
    }
}

#[derive(Clone, Debug, Default)]
pub(crate) struct TableStamps {
    pub(crate) rows: OrdMap<Text, LeafMap>,
    pub(crate) hlc: Hlc,
    pub(crate) hash: u32,
    pub(crate) saved: u32,
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
#[derive(Clone, Debug, Default)]
pub(crate) struct StampTree {
    pub(crate) tables: OrdMap<Text, TableStamps>,
    pub(crate) tables_hlc: Hlc,
    pub(crate) tables_hash: u32,
    /// The transaction whose undo journal already holds the root's `(hlc, hash)`.
    pub(crate) tables_saved: u32,
    pub(crate) values: LeafMap,
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
                .map(|(id, leaf)| {
                    let leaf = Leaf {
                        value: leaf.thing.clone(),
                        hlc: stamp_hlc(&leaf.hlc),
                        hash: leaf.hash.unwrap_or(0),
                    };
                    (names.intern(id), leaf)
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

impl StampTree {
    /// Appends the whole tree as JSON (with hashes, in `form`), straight from the tree.
    pub(crate) fn write_json(
        &self,
        names: &(impl NameTable + ?Sized),
        out: &mut String,
        form: JsonForm,
    ) {
        let leaves = |out: &mut String, map: &LeafMap| {
            let entries = map
                .leaves
                .iter()
                .map(|(id, leaf)| (names.name(*id), leaf))
                .collect();
            write_map_parts(
                out,
                entries,
                map.hlc.as_str(),
                Some(map.hash),
                form,
                |out, leaf| {
                    write_leaf_parts(
                        out,
                        leaf.value.as_ref(),
                        leaf.hlc.as_str(),
                        Some(leaf.hash),
                        form,
                    )
                },
            );
        };
        out.push('[');
        let tables = self.tables.iter().map(|(t, x)| (t.as_str(), x)).collect();
        write_map_parts(
            out,
            tables,
            self.tables_hlc.as_str(),
            Some(self.tables_hash),
            form,
            |out, table| {
                let rows = table.rows.iter().map(|(r, x)| (r.as_str(), x)).collect();
                write_map_parts(
                    out,
                    rows,
                    table.hlc.as_str(),
                    Some(table.hash),
                    form,
                    |out, row| leaves(out, row),
                );
            },
        );
        out.push(',');
        leaves(out, &self.values);
        if form.changes {
            out.push_str(",1");
        }
        out.push(']');
    }

    /// The first HLC dated after `max_time`, in the order the tree's JSON lists them (each
    /// stamp before what it holds; the tables before the values), which is the order a
    /// payload's HLCs are checked in.
    pub(crate) fn first_later_than(&self, max_time: u64) -> Option<Hlc> {
        let later = |h: &Hlc| !h.is_empty() && h.time() > max_time;
        let leaves = |map: &LeafMap| {
            std::iter::once(&map.hlc)
                .chain(map.leaves.iter().map(|(_, l)| &l.hlc))
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
                .map(|(_, l)| l.hlc)
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

pub(crate) fn leaf_stamp(leaf: &Leaf, with_hash: bool) -> CellStamp {
    Stamp {
        thing: leaf.value.clone(),
        hlc: leaf.hlc.as_str().to_string(),
        hash: with_hash.then_some(leaf.hash),
    }
}

pub(crate) fn leaf_map_stamp(
    names: &(impl NameTable + ?Sized),
    map: &LeafMap,
    with_hash: bool,
) -> ValuesStamp {
    Stamp {
        thing: map
            .leaves
            .iter()
            .map(|(id, leaf)| (names.name(*id).to_string(), leaf_stamp(leaf, with_hash)))
            .collect(),
        hlc: map.hlc.as_str().to_string(),
        hash: with_hash.then_some(map.hash),
    }
}

pub(crate) fn row_stamp(
    names: &(impl NameTable + ?Sized),
    row: &LeafMap,
    with_hash: bool,
) -> RowStamp {
    leaf_map_stamp(names, row, with_hash)
}

pub(crate) fn table_stamp(
    names: &(impl NameTable + ?Sized),
    table: &TableStamps,
    with_hash: bool,
) -> TableStamp {
    Stamp {
        thing: table
            .rows
            .iter()
            .map(|(r, row)| (r.to_string(), row_stamp(names, row, with_hash)))
            .collect(),
        hlc: table.hlc.as_str().to_string(),
        hash: with_hash.then_some(table.hash),
    }
}

/// An empty hash-less tables stamp carrying the tables' HLC (TinyBase's `stampNewObj`).
pub(crate) fn empty_tables_stamp(tree: &StampTree) -> TablesStamp {
    Stamp {
        thing: IndexMap::new(),
        hlc: tree.tables_hlc.as_str().to_string(),
        hash: None,
    }
}
