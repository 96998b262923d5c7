//! What a synchronizer receives from its peers, in typed form: a ContentDiff's changes read
//! into the compact stamp tree that merging consumes ([`ReceivedChanges`]), and the stamps of
//! a pull's diff responses read into [`TablesStamp`]/[`ValuesStamp`] and merged as TinyBase's
//! `mergeTablesStamps` merges them.

use indexmap::IndexMap;
use serde_json::Value as Json;

use crate::types::{Cell, UNDEFINED_MARKER};

use super::content::{
    CellStamp, JsonForm, MergeableChanges, MergeableContent, MergeableError, Stamp, TablesStamp,
    ValuesStamp, check_hlc,
};
use super::tree::Payload;
use super::{MergeableStore, parse_tree};

/// A peer's changes (a ContentDiff's body), read into the stamp tree that merging consumes: a
/// few machine words per stamp, unlike a JSON tree of them, and applied without another parse.
///
/// ```
/// use tinystore_core::mergeable::ReceivedChanges;
/// let text = r#"[[{"t":[{"r":[{"c":[1,"NjEtLV-----mmxrx"]}]}]}],[{}],1]"#;
/// let changes = ReceivedChanges::from_wire(text).unwrap();
/// assert_eq!(changes.to_json_string(), text);
/// assert!(ReceivedChanges::from_wire(r#"[[{},"",0],[{}],1]"#).is_none()); // a hash
/// ```
#[derive(Clone, Debug)]
pub struct ReceivedChanges {
    payload: Payload,
}

impl ReceivedChanges {
    /// Reads changes in the form the wire protocol allows (hash-less stamps, valid HLCs and
    /// encoded cells, `[tables, values]` or `[tables, values, 1]`) in one pass over the text.
    /// `None` for anything else, including valid but unusual text (duplicate keys, say) that
    /// the checked JSON path handles. HLCs are not compared with a clock here: the store that
    /// applies the changes does that.
    pub fn from_wire(text: &str) -> Option<ReceivedChanges> {
        MergeableContent::hashless_tree_from_str(text, u64::MAX)
            .map(|payload| ReceivedChanges { payload })
    }

    /// The changes as synchronizers send them: hash-less, encoded, `[tables, values, 1]`.
    pub fn to_json_string(&self) -> String {
        let mut out = String::with_capacity(256);
        self.payload
            .tree
            .write_json(&self.payload.names, &mut out, JsonForm::CHANGES);
        out
    }
}

impl MergeableStore {
    /// Reads changes from parsed JSON in TinyBase's encoded form, checked exactly as
    /// [`apply_mergeable_changes_json`](Self::apply_mergeable_changes_json) checks them.
    pub(crate) fn read_changes(&self, json: &Json) -> Result<ReceivedChanges, MergeableError> {
        MergeableContent::tree_from_json(json, false, self.max_time())
            .map(|payload| ReceivedChanges { payload })
    }

    /// Reads changes from their text in TinyBase's encoded form, checked exactly as
    /// [`apply_mergeable_changes_json`](Self::apply_mergeable_changes_json) checks them.
    pub(crate) fn read_changes_json(&self, text: &str) -> Result<ReceivedChanges, MergeableError> {
        parse_tree(text, false, self.max_time()).map(|payload| ReceivedChanges { payload })
    }

    /// Merges received changes as [`apply_mergeable_changes`](Self::apply_mergeable_changes)
    /// does; they are rejected as a whole, changing nothing, if any HLC is dated more than
    /// five minutes ahead of this store's clock.
    ///
    /// ```
    /// use tinystore_core::MergeableStore;
    /// use tinystore_core::mergeable::ReceivedChanges;
    /// let store = MergeableStore::new(None);
    /// let text = r#"[[{"t":[{"r":[{"c":[1,"NjEtLV-----mmxrx"]}]}]}],[{}],1]"#;
    /// store.apply_received_changes(&ReceivedChanges::from_wire(text).unwrap()).unwrap();
    /// assert_eq!(store.get_cell("t", "r", "c"), Some(1.into()));
    /// ```
    pub fn apply_received_changes(
        &self,
        changes: &ReceivedChanges,
    ) -> Result<&Self, MergeableError> {
        let max_time = self.max_time();
        if let Some(later) = changes.payload.tree.first_later_than(max_time) {
            check_hlc(later.as_str(), max_time)?;
        }
        self.apply_tree(&changes.payload, false);
        Ok(self)
    }

    /// Merges the changes a pull gathered from a peer's responses, checked as a whole first
    /// (an invalid cell named by its JSON, as the JSON path names it).
    pub(crate) fn apply_pulled_changes(
        &self,
        changes: &MergeableChanges,
    ) -> Result<&Self, MergeableError> {
        changes.validate_naming(false, self.max_time(), |cell| {
            let mut text = String::new();
            cell.write_encoded_json(&mut text);
            text
        })?;
        self.apply_validated(changes, false);
        Ok(self)
    }
}

/// A hash-less stamp `[thing, hlc?]`, by its shape only: HLCs and cells are checked when the
/// changes are applied, with the rest of them.
fn stamp_parts(json: &Json) -> Option<(&Json, String)> {
    let parts = json.as_array()?;
    let hlc = match parts.get(1) {
        None => "",
        Some(Json::String(s)) => s,
        Some(_) => return None,
    };
    Some((parts.first()?, hlc.to_string()))
}

fn map_stamp<T>(
    json: &Json,
    child: impl Fn(&Json) -> Option<T>,
) -> Option<Stamp<IndexMap<String, T>>> {
    let (thing, hlc) = stamp_parts(json)?;
    let thing = thing
        .as_object()?
        .iter()
        .map(|(id, c)| Some((id.clone(), child(c)?)))
        .collect::<Option<_>>()?;
    Some(Stamp {
        thing,
        hlc,
        hash: None,
    })
}

fn leaf_stamp(json: &Json) -> Option<CellStamp> {
    let (thing, hlc) = stamp_parts(json)?;
    let thing = match thing {
        Json::String(s) if s == UNDEFINED_MARKER => None,
        other => Some(Cell::from_encoded_json(other.clone())),
    };
    Some(Stamp {
        thing,
        hlc,
        hash: None,
    })
}

/// A diff response's hash-less tables stamp, in the JSON's key order; `None` if it does not
/// have a stamp's shape.
pub(crate) fn tables_stamp_from_json(json: &Json) -> Option<TablesStamp> {
    map_stamp(json, |table| {
        map_stamp(table, |row| map_stamp(row, leaf_stamp))
    })
}

/// A value diff response's hash-less values stamp; `None` if it does not have a stamp's shape.
pub(crate) fn values_stamp_from_json(json: &Json) -> Option<ValuesStamp> {
    map_stamp(json, leaf_stamp)
}

/// TinyBase's `mergeTablesStamps` (a pull gathering its responses): a later response's cell
/// replaces the same cell, and each container keeps the later of the two HLCs.
pub(crate) fn merge_tables_stamps(acc: &mut TablesStamp, incoming: TablesStamp) {
    fn keep_later(acc: &mut String, hlc: String) {
        if hlc > *acc {
            *acc = hlc;
        }
    }
    for (t, table) in incoming.thing {
        let acc_table = acc.thing.entry(t).or_default();
        for (r, row) in table.thing {
            let acc_row = acc_table.thing.entry(r).or_default();
            for (c, cell) in row.thing {
                acc_row.thing.insert(c, Stamp { hash: None, ..cell });
            }
            keep_later(&mut acc_row.hlc, row.hlc);
        }
        keep_later(&mut acc_table.hlc, table.hlc);
    }
    keep_later(&mut acc.hlc, incoming.hlc);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;
    use crate::mergeable::content::write_tables_stamp;

    const STAMPS: JsonForm = JsonForm {
        hashes: false,
        changes: false,
        encoded: true,
    };

    fn tables(text: &str) -> TablesStamp {
        tables_stamp_from_json(&json::parse(text).unwrap()).unwrap()
    }

    #[test]
    fn merging_diff_responses_keeps_later_cells_and_latest_hlcs() {
        let mut acc = tables(r#"[{"t":[{"r":[{"a":[1,"A0000000000aaaaa"]},"A"]},"B"]}]"#);
        let more = tables(
            r#"[{"t":[{"r":[{"a":[2,"A0000000001aaaaa"]}],"s":[{"b":["x"]},"Z"]},"A"]},"C"]"#,
        );
        merge_tables_stamps(&mut acc, more);
        let mut out = String::new();
        write_tables_stamp(&mut out, &acc, STAMPS);
        assert_eq!(
            out,
            r#"[{"t":[{"r":[{"a":[2,"A0000000001aaaaa"]},"A"],"s":[{"b":["x"]},"Z"]},"B"]},"C"]"#
        );
    }

    #[test]
    fn stamp_shapes_are_checked_but_not_their_contents() {
        assert!(tables_stamp_from_json(&json::parse(r#"[{"t":[[]]}]"#).unwrap()).is_none());
        assert!(tables_stamp_from_json(&json::parse(r#"[{},1]"#).unwrap()).is_none());
        assert!(values_stamp_from_json(&json::parse("[]").unwrap()).is_none());
        // A future HLC and an invalid cell are the store's to reject, with the whole payload.
        let v = values_stamp_from_json(
            &json::parse(r#"[{"v":["\ufffdx","zzzzzzzzzzzzzzzz"]}]"#).unwrap(),
        )
        .unwrap();
        assert_eq!(v.thing["v"].hlc, "zzzzzzzzzzzzzzzz");
        assert!(!v.thing["v"].thing.as_ref().unwrap().is_valid());
    }

    #[test]
    fn received_changes_check_their_hlcs_against_the_store_clock() {
        let store = MergeableStore::with_clock(None, Box::new(|| 1_700_000_000_000));
        let later = crate::hlc::Hlc::encode(1_800_000_000_000, 0, b"aaaaa");
        let text = format!(
            r#"[[{{"t":[{{"r":[{{"c":[1,"{}"]}}]}}]}}],[{{}}],1]"#,
            later.as_str()
        );
        let changes = ReceivedChanges::from_wire(&text).unwrap();
        let err = store.apply_received_changes(&changes).unwrap_err();
        assert_eq!(Some(err), store.apply_mergeable_changes_json(&text).err());
        assert!(store.get_tables().is_empty());
    }
}
