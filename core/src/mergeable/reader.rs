//! The one-pass reader: a payload's encoded JSON straight into the stamp tree that merging
//! consumes, over the JSON parser's events (no intermediate `serde_json::Value` tree).

use serde_json::Value as Json;

use crate::hlc::Hlc;
use crate::json::{self, ContainerKind};
use crate::ordmap::OrdMap;
use crate::types::{Cell, Text, UNDEFINED_MARKER};

use super::content::{MergeableContent, to_uint32};
use super::tree::{Leaf, LeafMap, Payload, TableStamps};

impl MergeableContent {
    /// Decodes a well-formed encoded payload straight from its text into the stamp tree, in
    /// one pass over the JSON parser's events (no intermediate `serde_json::Value`).
    ///
    /// It accepts exactly what [`MergeableContent::tree_from_json`] accepts and builds the same
    /// tree, but returns `None`, instead of an error, for anything it does not take (invalid
    /// JSON or shape, an invalid HLC or cell, duplicate keys): the caller then runs the checked
    /// two-pass path, which reports the error as before (or, for duplicate keys, keeps the last
    /// value at the first position as `JSON.parse` does).
    pub(crate) fn tree_from_str(text: &str, has_hashes: bool, max_time: u64) -> Option<Payload> {
        read_tree(text, has_hashes, false, max_time)
    }

    /// [`MergeableContent::tree_from_str`] for changes as the wire protocol carries them:
    /// hash-less stamps only (`[thing]` or `[thing, hlc]`), as TinyBase validates a message.
    pub(crate) fn hashless_tree_from_str(text: &str, max_time: u64) -> Option<Payload> {
        read_tree(text, false, true, max_time)
    }
}

fn read_tree(text: &str, has_hashes: bool, hashless: bool, max_time: u64) -> Option<Payload> {
    let mut sink = TreeSink {
        has_hashes,
        hashless,
        max_time,
        failed: false,
        depth: 0,
        values_branch: false,
        idx: [0; TreeSink::MAX_LEVELS],
        hlc: [Hlc::EMPTY; TreeSink::MAX_LEVELS],
        hash: [0; TreeSink::MAX_LEVELS],
        table_key: Text::default(),
        row_key: Text::default(),
        cell_key: None,
        leaf_value: None,
        leaves: Vec::new(),
        rows: OrdMap::new(),
        payload: Payload::default(),
    };
    json::parse_into(text, &mut sink).ok()?;
    (!sink.failed && sink.depth == 0 && sink.idx[0] >= 2).then_some(sink.payload)
}

/// The event sink of [`MergeableContent::tree_from_str`]. Levels (open containers, 0-based):
/// the payload array is level 0; under it, the tables stamp (level 1) holds the tables object
/// (2), table stamps (3), rows objects (4), row stamps (5), cells objects (6) and leaf stamps
/// (7); the values stamp (level 1) holds the values object (2) and leaf stamps (3).
struct TreeSink {
    has_hashes: bool,
    /// No stamp may carry a hash.
    hashless: bool,
    max_time: u64,
    failed: bool,
    /// Open containers.
    depth: usize,
    /// Inside the payload's second element (the values).
    values_branch: bool,
    /// Elements completed so far in the container at each level.
    idx: [usize; TreeSink::MAX_LEVELS],
    /// The HLC and hash read in the stamp at each level.
    hlc: [Hlc; TreeSink::MAX_LEVELS],
    hash: [u32; TreeSink::MAX_LEVELS],
    table_key: Text,
    row_key: Text,
    cell_key: Option<String>,
    /// The current leaf's thing once read (`Some(None)`: a tombstone).
    leaf_value: Option<Option<Cell>>,
    leaves: Vec<Leaf>,
    rows: OrdMap<Text, LeafMap>,
    payload: Payload,
}

/// What a container at a given level is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Slot {
    Payload,
    TablesStamp,
    TableStamp,
    /// A row's stamp, or the values' stamp (both leaf maps).
    LeafMapStamp,
    LeafStamp,
    Object,
}

impl TreeSink {
    const MAX_LEVELS: usize = 8;

    fn slot(&self, level: usize) -> Slot {
        match (self.values_branch, level) {
            (_, 0) => Slot::Payload,
            (false, 1) => Slot::TablesStamp,
            (false, 3) => Slot::TableStamp,
            (false, 5) | (true, 1) => Slot::LeafMapStamp,
            (false, 7) | (true, 3) => Slot::LeafStamp,
            _ => Slot::Object,
        }
    }

    fn fail(&mut self) {
        self.failed = true;
    }

    /// A scalar element of the stamp at `level` (element 0 is the thing, 1 the HLC, 2 the hash).
    fn stamp_scalar(&mut self, level: usize, value: Json) {
        match self.idx[level] {
            0 if self.slot(level) == Slot::LeafStamp => {
                let leaf = match &value {
                    Json::String(s) if s == UNDEFINED_MARKER => None,
                    _ => {
                        let cell = Cell::from_encoded_json(value);
                        if !cell.is_valid() {
                            return self.fail();
                        }
                        Some(cell)
                    }
                };
                self.leaf_value = Some(leaf);
            }
            1 => match value {
                Json::String(s) => match Hlc::parse(&s) {
                    Some(h) if h.is_empty() || h.time() <= self.max_time => self.hlc[level] = h,
                    _ => return self.fail(),
                },
                _ => return self.fail(),
            },
            2 => match value.as_f64().filter(|h| h.is_finite()) {
                Some(h) => self.hash[level] = to_uint32(h),
                None => return self.fail(),
            },
            _ => return self.fail(),
        }
        self.idx[level] += 1;
    }

    /// The stamp at `level` closed: check its length, then store what it stamps.
    fn close_stamp(&mut self, level: usize, slot: Slot) {
        let len = self.idx[level];
        let ok = if self.has_hashes {
            len == 3
        } else if self.hashless {
            (1..=2).contains(&len)
        } else {
            (1..=3).contains(&len)
        };
        if !ok {
            return self.fail();
        }
        let (hlc, hash) = (self.hlc[level], self.hash[level]);
        match slot {
            Slot::LeafStamp => {
                let (Some(value), Some(key)) = (self.leaf_value.take(), self.cell_key.take())
                else {
                    return self.fail();
                };
                let id = self.payload.names.intern(&key);
                if self.leaves.iter().any(|l| l.id == id) {
                    return self.fail();
                }
                self.leaves.push(Leaf {
                    value,
                    hlc,
                    hash,
                    id,
                });
            }
            Slot::LeafMapStamp => {
                // Exactly sized: the tree keeps it.
                let leaves: Vec<Leaf> = self.leaves.drain(..).collect();
                let map = LeafMap::new(leaves, hlc, hash);
                if self.values_branch {
                    self.payload.tree.values = map;
                } else {
                    let row = std::mem::take(&mut self.row_key);
                    if self.rows.contains_key(row.as_str()) {
                        return self.fail();
                    }
                    self.rows.insert(row, map);
                }
            }
            Slot::TableStamp => {
                let table = std::mem::take(&mut self.table_key);
                if self.payload.tree.tables.contains_key(table.as_str()) {
                    return self.fail();
                }
                let rows = std::mem::replace(&mut self.rows, OrdMap::new());
                self.payload
                    .tree
                    .tables
                    .insert(table, TableStamps::new(rows, hlc, hash));
            }
            Slot::TablesStamp => {
                self.payload.tree.tables_hlc = hlc;
                self.payload.tree.tables_hash = hash;
            }
            Slot::Payload | Slot::Object => {}
        }
    }
}

impl json::Sink for TreeSink {
    const DECODE: bool = true;
    const MAX_DEPTH: usize = TreeSink::MAX_LEVELS;

    fn scalar(&mut self, value: Json) {
        if self.failed || self.depth == 0 {
            return self.fail();
        }
        let level = self.depth - 1;
        match self.slot(level) {
            // `[tables, values, 1]`: changes only.
            Slot::Payload
                if self.idx[0] == 2 && !self.has_hashes && value.as_f64() == Some(1.0) =>
            {
                self.idx[0] += 1;
            }
            Slot::Payload | Slot::Object => self.fail(),
            _ => self.stamp_scalar(level, value),
        }
    }

    fn key(&mut self, key: String) {
        if self.failed || self.depth == 0 {
            return self.fail();
        }
        match (self.values_branch, self.depth - 1) {
            (false, 2) => self.table_key = Text::from(key.as_str()),
            (false, 4) => self.row_key = Text::from(key.as_str()),
            (false, 6) | (true, 2) => self.cell_key = Some(key),
            _ => self.fail(),
        }
    }

    fn begin(&mut self, kind: ContainerKind) {
        if self.failed {
            return;
        }
        let level = self.depth;
        if level >= TreeSink::MAX_LEVELS {
            return self.fail();
        }
        if level == 0 {
            if kind != ContainerKind::Array {
                return self.fail();
            }
        } else {
            let parent = level - 1;
            if parent == 0 {
                // The tables stamp, then the values stamp.
                match self.idx[0] {
                    0 => self.values_branch = false,
                    1 => self.values_branch = true,
                    _ => return self.fail(),
                }
            }
            let expected = match self.slot(parent) {
                // A container stamp's thing (element 0) is an object; a leaf's is a scalar.
                Slot::TablesStamp | Slot::TableStamp | Slot::LeafMapStamp
                    if self.idx[parent] == 0 =>
                {
                    ContainerKind::Object
                }
                Slot::Payload | Slot::Object => ContainerKind::Array,
                _ => return self.fail(),
            };
            if kind != expected {
                return self.fail();
            }
        }
        self.idx[level] = 0;
        self.hlc[level] = Hlc::EMPTY;
        self.hash[level] = 0;
        if self.slot(level) == Slot::LeafStamp {
            self.leaf_value = None;
        }
        self.depth += 1;
    }

    fn end(&mut self) {
        if self.failed || self.depth == 0 {
            return self.fail();
        }
        let level = self.depth - 1;
        let slot = self.slot(level);
        match slot {
            Slot::Payload => {
                if self.idx[0] < 2 {
                    return self.fail();
                }
            }
            Slot::Object => {}
            _ => self.close_stamp(level, slot),
        }
        self.depth -= 1;
        if level > 0 {
            self.idx[level - 1] += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one-pass decoder builds exactly the checked path's tree, and leaves everything it
    /// does not take (invalid payloads included) to that path.
    #[test]
    fn streaming_decoder_matches_the_checked_path() {
        let slow = |text: &str, has_hashes: bool, max: u64| {
            MergeableContent::tree_from_json(&json::parse(text).unwrap(), has_hashes, max)
                .map(|tree| format!("{tree:?}"))
        };
        let fast = |text: &str, has_hashes: bool, max: u64| {
            MergeableContent::tree_from_str(text, has_hashes, max).map(|tree| format!("{tree:?}"))
        };
        let store = crate::MergeableStore::with_clock(Some("a"), Box::new(|| 1_700_000_000_000));
        store
            .set_cell("t", "r1", "c1", 1)
            .set_cell("t", "r1", "c2", "x")
            .set_cell("t", "r2", "c1", true)
            .set_cell("t", "0", "c1", -0.5)
            .set_cell("u", "r", "c", "\u{1F600} \"quoted\"")
            .set_value("v", "s")
            .set_value("w", false);
        store.del_cell("t", "r2", "c1", false);
        store.del_value("w");
        let exported = store.get_mergeable_content_json();
        let max = u64::MAX;
        let valid = [
            (exported.as_str(), true),
            (exported.as_str(), false),
            ("[[{},\"\",0],[{},\"\",0]]", true),
            ("[[{}],[{\"v\":[1]}],1]", false),
            ("[[{}],[{}]]", false),
            (
                "[[{\"t\":[{\"r\":[{\"c\":[1,\"NjEtLV-----mmxrx\"]}]}]}],[{}],1]",
                false,
            ),
            (
                "[[{\"t\":[{\"1\":[{\"o\":[\"\u{FFFD}{\\\"b\\\":1}\",\"NjEtLV-----mmxrx\"],\"d\":[\"\u{FFFC}\",\"NjEtLV----0mmxrx\"]}],\"0\":[{\"c\":[null]}]}]}],[{}],1]",
                false,
            ),
            (
                " [ [ { } , \"\" , 4294967301 ] , [ { } , \"\" , -1.5 ] ] ",
                true,
            ),
        ];
        for (text, has_hashes) in valid {
            let expected = slow(text, has_hashes, max).expect(text);
            assert_eq!(fast(text, has_hashes, max), Some(expected), "{text}");
        }
        // Not taken by the decoder: the checked path decides (errors; duplicate keys, where
        // JSON.parse keeps the last value; a raw array or object as a leaf).
        let mut others = vec![
            ("{}", false),
            ("[]", false),
            ("[[{}],[{}],2]", false),
            ("[[{}],[{}],1]", true),
            ("[[{}]]", false),
            ("[[{\"t\":5}],[{}]]", false),
            ("[[{\"t\":[{\"r\":[{\"c\":[1,\"bad\"]}]}]}],[{}],1]", false),
            ("[[{}],[{\"v\":[\"\u{FFFD}nope\",\"\"]}],1]", false),
            ("[[{}],[{\"v\":[1,\"\",\"x\"]}],1]", false),
            ("[[{}],[{\"v\":[1,\"\",1,4]}],1]", false),
            ("[[{},\"\",0],[{\"v\":[1]},\"\",0]]", true),
            ("[[{}],[{\"v\":[1],\"v\":[2]}],1]", false),
            ("[[{\"t\":[{}],\"t\":[{}]}],[{}]]", false),
            ("[[{}],[{\"v\":[[1]]}],1]", false),
            ("[[{}],[{\"v\":[1]}],1] x", false),
            ("[[{}],[{\"v\":[1,\"NjEtLV-----mmxrx\"]}],1]", false),
        ];
        let truncated = &exported[..exported.len() - 1];
        others.push((truncated, true));
        for (text, has_hashes) in others {
            let max = if text.contains("NjEtLV-----mmxrx") {
                1_699_999_999_999
            } else {
                max
            };
            assert_eq!(fast(text, has_hashes, max), None, "{text}");
        }
    }
}
