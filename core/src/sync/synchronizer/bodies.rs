//! Message bodies: the hashes and stamps that requests and responses carry, read from a
//! message's JSON into their typed forms (the one place the synchronizer reads JSON), and the
//! bodies it writes, byte for byte as TinyBase writes them.

use serde_json::Value as Json;

use crate::js::object_order;
use crate::json;
use crate::mergeable::content::{write_tables_stamp, write_values_stamp};
use crate::mergeable::{
    CellHashes, JsonForm, RowHashes, TableHashes, TablesStamp, ValuesStamp, tables_stamp_from_json,
    values_stamp_from_json,
};

/// Diff responses: hash-less stamps, encoded cells.
const STAMP_FORM: JsonForm = JsonForm {
    hashes: false,
    changes: false,
    encoded: true,
};

// ---------------------------------------------------------------------------------- reading

fn hash_of(j: &Json) -> u32 {
    // Validated as an integer 0…0xFFFFFFFF by the protocol layer.
    j.as_f64().map_or(0, |n| n as u32)
}

/// `{id: hash}`.
pub(super) fn hashes_from(j: &Json) -> TableHashes {
    j.as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), hash_of(v))).collect())
        .unwrap_or_default()
}

/// `{tableId: {rowId: hash}}`.
pub(super) fn nested_hashes_from(j: &Json) -> RowHashes {
    j.as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), hashes_from(v))).collect())
        .unwrap_or_default()
}

/// `{tableId: {rowId: {cellId: hash}}}`.
pub(super) fn deep_hashes_from(j: &Json) -> CellHashes {
    j.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), nested_hashes_from(v)))
                .collect()
        })
        .unwrap_or_default()
}

/// `[tablesHash, valuesHash]`, if the body is two numbers.
pub(super) fn content_hashes(body: &Json) -> Option<(u32, u32)> {
    match body.as_array().map(Vec::as_slice) {
        Some([t, v]) if t.is_number() && v.is_number() => Some((hash_of(t), hash_of(v))),
        _ => None,
    }
}

/// A table or row diff response `[tablesStamp, {id: hashes…}]`: the stamp, typed, and the
/// differing hashes (still to be read at the depth the pull's stage expects).
pub(super) fn diff_response(body: &Json) -> Option<(TablesStamp, &Json)> {
    match body.as_array().map(Vec::as_slice) {
        Some([stamp, diff]) if diff.is_object() => Some((tables_stamp_from_json(stamp)?, diff)),
        _ => None,
    }
}

/// A cell diff response: a tables stamp.
pub(super) fn tables_stamp(body: &Json) -> Option<TablesStamp> {
    tables_stamp_from_json(body)
}

/// A value diff response: a values stamp.
pub(super) fn values_stamp(body: &Json) -> Option<ValuesStamp> {
    values_stamp_from_json(body)
}

// ---------------------------------------------------------------------------------- writing

fn hashes_json<'a>(entries: impl Iterator<Item = (&'a String, String)>) -> String {
    let mut out = String::from("{");
    for (i, (id, value)) in object_order(entries.collect()).into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json::write_string(&mut out, id);
        out.push(':');
        out.push_str(&value);
    }
    out.push('}');
    out
}

/// `{id: hash}` in JavaScript key order.
pub(super) fn table_hashes_json(h: &TableHashes) -> String {
    hashes_json(h.iter().map(|(k, v)| (k, v.to_string())))
}

pub(super) fn row_hashes_json(h: &RowHashes) -> String {
    hashes_json(h.iter().map(|(k, v)| (k, table_hashes_json(v))))
}

pub(super) fn cell_hashes_json(h: &CellHashes) -> String {
    hashes_json(h.iter().map(|(k, v)| (k, row_hashes_json(v))))
}

/// A table or row diff response: `[tablesStamp, hashes]`.
pub(super) fn diff_response_json(stamp: &TablesStamp, hashes_json: &str) -> String {
    let mut out = String::from("[");
    write_tables_stamp(&mut out, stamp, STAMP_FORM);
    out.push(',');
    out.push_str(hashes_json);
    out.push(']');
    out
}

/// A cell diff response.
pub(super) fn tables_stamp_json(stamp: &TablesStamp) -> String {
    let mut out = String::new();
    write_tables_stamp(&mut out, stamp, STAMP_FORM);
    out
}

/// A value diff response.
pub(super) fn values_stamp_json(stamp: &ValuesStamp) -> String {
    let mut out = String::new();
    write_values_stamp(&mut out, stamp, STAMP_FORM);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_maps_in_javascript_key_order() {
        let mut h = TableHashes::new();
        h.insert("b".to_string(), 2);
        h.insert("1".to_string(), 1);
        assert_eq!(table_hashes_json(&h), r#"{"1":1,"b":2}"#);
    }

    #[test]
    fn bodies_are_read_into_typed_forms() {
        let body = json::parse(r#"[[{"t":[{},"A"]}],{"t":5}]"#).unwrap();
        let (stamp, diff) = diff_response(&body).unwrap();
        assert_eq!(stamp.thing["t"].hlc, "A");
        assert_eq!(hashes_from(diff)["t"], 5);
        assert!(diff_response(&json::parse(r#"[[1],{}]"#).unwrap()).is_none());
        assert_eq!(content_hashes(&json::parse("[1,2]").unwrap()), Some((1, 2)));
        assert_eq!(content_hashes(&json::parse(r#"[1,"2"]"#).unwrap()), None);
    }
}
