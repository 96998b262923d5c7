//! Cells as Yjs `Any` values, both ways, as TinyBase's YjsPersister stores them.
//!
//! TinyBase puts its store's own cell values into the Y.Doc: strings, numbers, booleans, `null`,
//! and objects/arrays in their encoded form, the string `U+FFFD` + JSON. A Y.Doc written by
//! other code may hold real `Any` maps and arrays where a cell is; TinyBase loads those as
//! object/array cells, and so does this module.

use std::sync::Arc;

use yrs::{Any, Number, Out};

use crate::json;
use crate::persist::PersistError;
use crate::types::Cell;

/// The largest magnitude lib0 writes as a variable-length integer (`BITS31`).
const VAR_INT_MAX: f64 = 2_147_483_647.0;

/// The `Any` TinyBase's YjsPersister writes for `cell`.
///
/// Numbers take the encoding lib0's `writeAny` gives the same JavaScript number: integers up to
/// 2^31-1 in magnitude as variable-length integers, the rest as 32- or 64-bit floats, so a
/// reader in JavaScript gets a plain `number`, never a `BigInt` (yrs writes a `BigInt` only for
/// an `Int` that no float holds exactly, and no `Int` beyond 2^31 is written here).
pub(super) fn cell_to_any(cell: &Cell) -> Any {
    match cell {
        Cell::Null => Any::Null,
        Cell::Boolean(b) => Any::Bool(*b),
        Cell::Number(n) => Any::Number(number(*n)),
        Cell::String(s) => Any::String(Arc::from(s.as_str())),
        Cell::Object(_) | Cell::Array(_) => match cell.encoded() {
            Some(encoded) => Any::String(Arc::from(encoded)),
            None => Any::Null,
        },
    }
}

fn number(n: f64) -> Number {
    // -0 stays a float: a variable-length integer of yrs cannot carry its sign.
    let small_int =
        n.fract() == 0.0 && n.abs() <= VAR_INT_MAX && !(n == 0.0 && n.is_sign_negative());
    if small_int {
        // Exact: `n` is an integer of at most 31 bits.
        Number::Int(n as i64)
    } else {
        Number::Float(n)
    }
}

/// Whether the doc's entry `out` already holds `cell`, by TinyBase's `!==` between what the
/// Y.Doc holds and the store's (encoded) value: numbers compare numerically (`0 === -0`),
/// strings by their text; an `Any` map or array is never the store's encoded string.
pub(super) fn holds(out: Option<&Out>, cell: &Cell) -> bool {
    let Some(Out::Any(any)) = out else {
        return false;
    };
    match (any, cell) {
        (Any::Null, Cell::Null) => true,
        (Any::Bool(a), Cell::Boolean(b)) => a == b,
        (Any::Number(a), Cell::Number(b)) => number_value(*a) == *b,
        (Any::String(s), Cell::String(_) | Cell::Object(_) | Cell::Array(_)) => {
            Cell::from_encoded_str(s) == *cell
        }
        _ => false,
    }
}

fn number_value(n: Number) -> f64 {
    match n {
        // Integers beyond 2^53 round, as JavaScript's `Number(bigint)` does.
        Number::Int(i) => i as f64,
        Number::Float(f) => f,
    }
}

/// The cell an entry of a row (or a value) holds: `null`, booleans, any kind of number (as an
/// `f64`), strings (`U+FFFD` + JSON decoded to an object or array, as TinyBase stores them), and
/// `Any` maps/arrays as object/array cells. `undefined`, binary buffers and nested Y types are
/// not cells: a content error naming `what`.
pub(super) fn cell_from_out(out: &Out, what: impl Fn() -> String) -> Result<Cell, PersistError> {
    let Out::Any(any) = out else {
        return Err(PersistError::content(format!(
            "{} is a shared Yjs type, not a cell",
            what()
        )));
    };
    match any {
        Any::Null => Ok(Cell::Null),
        Any::Bool(b) => Ok(Cell::Boolean(*b)),
        Any::Number(n) => Ok(Cell::Number(number_value(*n))),
        Any::String(s) => Ok(Cell::from_encoded_str(s)),
        Any::Map(_) => Ok(Cell::Object(container_json(any, &what)?.into())),
        Any::Array(_) => Ok(Cell::Array(container_json(any, &what)?.into())),
        Any::Undefined => Err(PersistError::content(format!(
            "{} is undefined, not a cell",
            what()
        ))),
        Any::Buffer(_) => Err(PersistError::content(format!(
            "{} is binary data, not a cell",
            what()
        ))),
    }
}

/// One open container while writing JSON: its remaining members and whether one was written.
enum Open<'a> {
    Array(std::slice::Iter<'a, Any>, bool),
    Object(std::vec::IntoIter<(&'a str, &'a Any)>, bool),
}

/// `JSON.stringify` of an `Any` map or array, as TinyBase would write the object it loaded:
/// `undefined` members left out (`null` in arrays), non-finite numbers as `null`. yrs keeps a
/// map's keys unordered, so they are written in JavaScript's order for array-index keys and
/// then sorted (the order they had in the doc is not known). Written with an explicit stack:
/// no nesting depth overflows it.
fn container_json(any: &Any, what: &dyn Fn() -> String) -> Result<String, PersistError> {
    let mut out = String::new();
    let mut stack: Vec<Open<'_>> = Vec::new();
    let mut next = Some(any);
    loop {
        if let Some(value) = next.take() {
            match value {
                Any::Null | Any::Undefined => out.push_str("null"),
                Any::Bool(true) => out.push_str("true"),
                Any::Bool(false) => out.push_str("false"),
                Any::Number(n) => json::write_number(&mut out, number_value(*n)),
                Any::String(s) => json::write_string(&mut out, s),
                Any::Buffer(_) => {
                    return Err(PersistError::content(format!(
                        "{} holds binary data, not JSON",
                        what()
                    )));
                }
                Any::Array(items) => {
                    out.push('[');
                    stack.push(Open::Array(items.iter(), false));
                }
                Any::Map(entries) => {
                    out.push('{');
                    stack.push(Open::Object(ordered(entries).into_iter(), false));
                }
            }
        }
        let Some(top) = stack.last_mut() else {
            return Ok(out);
        };
        match top {
            Open::Array(items, wrote) => match items.next() {
                Some(item) => {
                    if std::mem::replace(wrote, true) {
                        out.push(',');
                    }
                    next = Some(item);
                }
                None => {
                    out.push(']');
                    stack.pop();
                }
            },
            Open::Object(entries, wrote) => {
                match entries.find(|(_, v)| !matches!(v, Any::Undefined)) {
                    Some((key, item)) => {
                        if std::mem::replace(wrote, true) {
                            out.push(',');
                        }
                        json::write_string(&mut out, key);
                        out.push(':');
                        next = Some(item);
                    }
                    None => {
                        out.push('}');
                        stack.pop();
                    }
                }
            }
        }
    }
}

/// A map's entries in JavaScript's key order for array-index keys (ascending), the other keys
/// sorted.
fn ordered(entries: &std::collections::HashMap<String, Any>) -> Vec<(&str, &Any)> {
    let mut list: Vec<(&str, &Any)> = entries.iter().map(|(k, v)| (k.as_str(), v)).collect();
    list.sort_by(|(a, _), (b, _)| match (array_index(a), array_index(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.cmp(b),
    });
    list
}

/// The array index a key names in JavaScript: the canonical decimal form of 0 to 2^32-2.
fn array_index(key: &str) -> Option<u32> {
    let canonical = !key.is_empty()
        && key.bytes().all(|b| b.is_ascii_digit())
        && (key == "0" || !key.starts_with('0'));
    canonical
        .then(|| key.parse::<u32>().ok())
        .flatten()
        .filter(|&i| i != u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn encoded(any: &Any) -> Vec<u8> {
        let mut buf = Vec::new();
        any.encode(&mut buf);
        buf
    }

    #[test]
    fn numbers_are_encoded_as_lib0_encodes_them() {
        // lib0's writeAny: 125 = variable-length integer, 124 = float32, 123 = float64.
        let kind = |n: f64| encoded(&cell_to_any(&Cell::Number(n)))[0];
        for n in [
            0.0,
            1.0,
            -1.0,
            2_147_483_647.0,
            -2_147_483_647.0,
            63.0,
            -64.0,
        ] {
            assert_eq!(kind(n), 125, "{n}");
        }
        for n in [2_147_483_648.0, 2f64.powi(53), 1.5, -0.0] {
            assert_eq!(kind(n), 124, "{n}");
        }
        for n in [0.1, 2f64.powi(53) - 1.0, -(2f64.powi(53) - 1.0), 1e300] {
            assert_eq!(kind(n), 123, "{n}");
        }
        // Bytes Yjs 13.6 wrote for 5, 2^53 and -0 (see tests/interop/yjs).
        assert_eq!(encoded(&cell_to_any(&Cell::Number(5.0))), [125, 5]);
        assert_eq!(
            encoded(&cell_to_any(&Cell::Number(2f64.powi(53)))),
            [124, 0x5a, 0, 0, 0]
        );
    }

    #[test]
    fn cells_round_trip_through_any() {
        let cells = [
            Cell::Null,
            Cell::Boolean(true),
            Cell::Number(-0.0),
            Cell::Number(1e-7),
            Cell::Number(9_007_199_254_740_991.0),
            Cell::String("".into()),
            Cell::String("dog 🐕".into()),
            Cell::Object(r#"{"b":1,"a":[1,{"x":null}]}"#.into()),
            Cell::Array("[]".into()),
        ];
        for cell in cells {
            let out = Out::Any(cell_to_any(&cell));
            assert!(holds(Some(&out), &cell), "{cell:?}");
            let back = cell_from_out(&out, || "cell".into()).unwrap();
            assert_eq!(back, cell);
            assert_eq!(back.is_valid(), cell.is_valid());
        }
        let zero = Out::Any(Any::Number(Number::Int(0)));
        assert!(holds(Some(&zero), &Cell::Number(-0.0)));
        assert!(!holds(Some(&zero), &Cell::String("0".into())));
        assert!(!holds(None, &Cell::Null));
    }

    #[test]
    fn any_containers_become_json_text() {
        let mut inner = HashMap::new();
        inner.insert("z".to_string(), Any::Undefined);
        inner.insert("b".to_string(), Any::Number(Number::Float(f64::NAN)));
        inner.insert("10".to_string(), Any::Bool(false));
        inner.insert("2".to_string(), Any::String(Arc::from("\"q\"\n")));
        inner.insert(
            "a".to_string(),
            Any::Array(Arc::from(vec![Any::Undefined, Any::Null])),
        );
        let any = Any::Map(Arc::new(inner));
        let cell = cell_from_out(&Out::Any(any.clone()), || "c".into()).unwrap();
        assert_eq!(
            cell,
            Cell::Object(r#"{"2":"\"q\"\n","10":false,"a":[null,null],"b":null}"#.into())
        );
        assert!(!holds(Some(&Out::Any(any)), &cell));
        let mut deep = Any::Array(Arc::from(vec![]));
        for _ in 0..10_000 {
            deep = Any::Array(Arc::from(vec![deep]));
        }
        let text = container_json(&deep, &|| "c".into()).unwrap();
        assert_eq!(text.len(), 20_002);
        // Dropping 10,000 nested levels recursively is fine; unwind it anyway to stay cheap.
        while let Any::Array(items) = deep {
            deep = items.first().cloned().unwrap_or(Any::Null);
        }
    }

    #[test]
    fn non_cells_are_content_errors() {
        let what = || "tables.t.r.c".to_string();
        for any in [Any::Undefined, Any::Buffer(Arc::from(vec![1u8]))] {
            let e = cell_from_out(&Out::Any(any), what).unwrap_err();
            assert_eq!(e.kind(), crate::persist::PersistErrorKind::Content);
            assert!(e.to_string().contains("tables.t.r.c"), "{e}");
        }
        let buffer_inside = Any::Array(Arc::from(vec![Any::Buffer(Arc::from(vec![]))]));
        assert!(cell_from_out(&Out::Any(buffer_inside), what).is_err());
        assert_eq!(array_index("4294967294"), Some(4_294_967_294));
        for key in ["4294967295", "01", "-1", "", "1.0"] {
            assert_eq!(array_index(key), None, "{key}");
        }
    }
}
