//! How a store lies in an Automerge document, exactly as TinyBase's AutomergePersister lays it
//! out: `doc[name] = {t: {tableId: {rowId: {cellId: cell}}}, v: {valueId: value}}`, with
//! TinyBase's id escaping, and the forms `@automerge/automerge` 3 gives JavaScript values:
//! a string is a Text object, an integral number an `Int`, any other number an `F64`.
//!
//! Reading accepts every form a JavaScript program may have written (Text or `Str` strings;
//! `Int`, `Uint`, `F64` or `Counter` numbers; nested maps and lists as object and array cells);
//! writing produces only the forms TinyBase itself writes, so that TinyBase reads plain strings
//! and numbers back (a `Str` scalar would reach it as an `ImmutableString`, which it drops).

use std::borrow::Cow;

use automerge::transaction::Transactable;
use automerge::{AutoCommit, AutomergeError, ObjId, ObjType, ReadDoc, ScalarValue, Value};

use crate::content::{Changes, Tables, Values};
use crate::json;
use crate::store::Store;
use crate::types::{Cell, ENCODED_PREFIX};

use super::super::PersistError;

/// The marker TinyBase puts in front of an id that would clash with a JavaScript object's own
/// properties (and in front of an id that starts with the marker itself).
const ID_ESCAPE: char = '\0';

/// `Object.getOwnPropertyNames(Object.prototype)` in Node.js 20: ids TinyBase escapes, since
/// `Object.hasOwn(Object.prototype, id)` is true for them.
const OBJECT_PROTOTYPE_NAMES: [&str; 12] = [
    "constructor",
    "__defineGetter__",
    "__defineSetter__",
    "hasOwnProperty",
    "__lookupGetter__",
    "__lookupSetter__",
    "isPrototypeOf",
    "propertyIsEnumerable",
    "toString",
    "valueOf",
    "__proto__",
    "toLocaleString",
];

/// The largest integer a JavaScript number holds exactly (`Number.MAX_SAFE_INTEGER`).
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// TinyBase's `encodeId`: the key an id is stored under.
///
/// ```text
/// "pets" → "pets", "constructor" → "\0constructor", "prototype" → "\0prototype",
/// "\0x" → "\0\0x"
/// ```
pub(super) fn encode_id(id: &str) -> Cow<'_, str> {
    if OBJECT_PROTOTYPE_NAMES.contains(&id) || id == "prototype" || id.starts_with(ID_ESCAPE) {
        Cow::Owned(format!("{ID_ESCAPE}{id}"))
    } else {
        Cow::Borrowed(id)
    }
}

/// TinyBase's `decodeId`: the id a key stands for.
fn decode_id(key: &str) -> &str {
    key.strip_prefix(ID_ESCAPE).unwrap_or(key)
}

/// Whether an object of this type reads in JavaScript as a plain object (TinyBase's
/// `isObject`); the legacy `Table` type reads like a map.
fn is_map(typ: ObjType) -> bool {
    matches!(typ, ObjType::Map | ObjType::Table)
}

/// The id of the map at `obj[key]`, if that is a map.
fn map_at(doc: &AutoCommit, obj: &ObjId, key: &str) -> Result<Option<ObjId>, AutomergeError> {
    Ok(match doc.get(obj, key)? {
        Some((Value::Object(typ), id)) if is_map(typ) => Some(id),
        _ => None,
    })
}

/// What lies under the persister's name.
pub(super) enum Found {
    /// TinyBase's content (`t` and `v` maps; TinyBase's `getValidDocContent`).
    Content(Tables, Values),
    /// Nothing yet: no entry, or the empty map a persister makes when it is created.
    Nothing,
    /// Something TinyBase does not read as content: not a map, or a map without `t` and `v`
    /// maps.
    Other,
}

/// Reads the store's content. A table or row that is not a map, or a cell of a type no
/// JavaScript value has (bytes, a timestamp, an unknown scalar), is a content error.
pub(super) fn read_content(doc: &AutoCommit, name_key: &str) -> Result<Found, PersistError> {
    let content = match doc.get(&automerge::ROOT, name_key) {
        Ok(None) => return Ok(Found::Nothing),
        Ok(Some((Value::Object(typ), id))) if is_map(typ) => id,
        Ok(Some(_)) => return Ok(Found::Other),
        Err(e) => return Err(PersistError::content_from(e)),
    };
    if doc.length(&content) == 0 {
        return Ok(Found::Nothing);
    }
    let maps = map_at(doc, &content, "t")
        .and_then(|t| Ok(t.zip(map_at(doc, &content, "v")?)))
        .map_err(PersistError::content_from)?;
    let Some((tables_id, values_id)) = maps else {
        return Ok(Found::Other);
    };
    let mut tables = Tables::new();
    for (table_id, table_obj) in entries(doc, &tables_id)? {
        let table_obj = as_map(&table_obj, "a table")?;
        let mut table = crate::content::Table::new();
        for (row_id, row_obj) in entries(doc, &table_obj)? {
            let row_obj = as_map(&row_obj, "a row")?;
            let mut row = crate::content::Row::new();
            for (cell_id, cell) in entries(doc, &row_obj)? {
                row.insert(cell_id, read_cell(doc, cell)?);
            }
            table.insert(row_id, row);
        }
        tables.insert(table_id, table);
    }
    let mut values = Values::new();
    for (value_id, value) in entries(doc, &values_id)? {
        values.insert(value_id, read_cell(doc, value)?);
    }
    Ok(Found::Content(tables, values))
}

/// What a map entry holds, owned.
enum Entry {
    Object(ObjType, ObjId),
    Scalar(ScalarValue),
}

/// The entries of a map under their decoded ids, in the order a JavaScript object built from
/// them enumerates (TinyBase copies the document's maps into objects): a repeated id keeps
/// its first place and its last value, array-index ids come first.
fn entries(doc: &AutoCommit, obj: &ObjId) -> Result<Vec<(String, Entry)>, PersistError> {
    let mut out: indexmap::IndexMap<String, Entry> = indexmap::IndexMap::new();
    for key in doc.keys(obj) {
        let entry = match doc
            .get(obj, key.as_str())
            .map_err(PersistError::content_from)?
        {
            Some((Value::Object(typ), id)) => Entry::Object(typ, id),
            Some((Value::Scalar(s), _)) => Entry::Scalar(s.into_owned()),
            None => continue,
        };
        out.insert(decode_id(&key).to_string(), entry);
    }
    Ok(object_order(out.into_iter().collect()))
}

fn as_map(entry: &Entry, what: &str) -> Result<ObjId, PersistError> {
    match entry {
        Entry::Object(typ, id) if is_map(*typ) => Ok(id.clone()),
        _ => Err(PersistError::content(format!(
            "{what} in the Automerge document is not a map"
        ))),
    }
}

/// `Some(index)` if `key` is a JavaScript array index (canonical decimal, `0..=2^32-2`).
fn array_index(key: &str) -> Option<u32> {
    let bytes = key.as_bytes();
    if bytes.is_empty() || bytes.len() > 10 || (bytes[0] == b'0' && bytes.len() > 1) {
        return None;
    }
    if !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    key.parse::<u64>()
        .ok()
        .and_then(|n| u32::try_from(n).ok())
        .filter(|&n| n != u32::MAX)
}

/// JavaScript's object key order: array indexes ascending, then the rest as given.
fn object_order<T>(items: Vec<(String, T)>) -> Vec<(String, T)> {
    if !items.iter().any(|(k, _)| array_index(k).is_some()) {
        return items;
    }
    let (mut indexed, named): (Vec<_>, Vec<_>) = items
        .into_iter()
        .partition(|(k, _)| array_index(k).is_some());
    indexed.sort_by_key(|(k, _)| array_index(k));
    indexed.extend(named);
    indexed
}

/// A cell as JavaScript reads it, then as TinyBase decodes it: strings (Text or `Str`, an
/// `U+FFFD`-prefixed one being an encoded object or array), numbers, booleans, null, and
/// nested maps and lists as object and array cells.
fn read_cell(doc: &AutoCommit, entry: Entry) -> Result<Cell, PersistError> {
    match entry {
        Entry::Object(ObjType::Text, id) => Ok(Cell::from_encoded_str(
            &doc.text(&id).map_err(PersistError::content_from)?,
        )),
        Entry::Object(typ, id) => {
            let text = nested_json(doc, &id, typ)?;
            Ok(if typ == ObjType::List {
                Cell::Array(text.into())
            } else {
                Cell::Object(text.into())
            })
        }
        Entry::Scalar(ScalarValue::Str(s)) => Ok(Cell::from_encoded_str(&s)),
        Entry::Scalar(ScalarValue::Boolean(b)) => Ok(Cell::Boolean(b)),
        Entry::Scalar(ScalarValue::Null) => Ok(Cell::Null),
        Entry::Scalar(s) => scalar_number(&s).map(Cell::Number),
    }
}

/// The number a numeric scalar stands for; other scalars have no TinyBase cell.
fn scalar_number(s: &ScalarValue) -> Result<f64, PersistError> {
    // Integers beyond 2^53 round to the nearest double: JavaScript has no closer number.
    #[allow(clippy::cast_precision_loss)]
    match s {
        ScalarValue::Int(i) => Ok(*i as f64),
        ScalarValue::Uint(u) => Ok(*u as f64),
        ScalarValue::F64(f) => Ok(*f),
        ScalarValue::Counter(c) => Ok(i64::from(c) as f64),
        other => Err(PersistError::content(format!(
            "a cell in the Automerge document holds {}, which is not a TinyBase cell type",
            scalar_kind(other)
        ))),
    }
}

fn scalar_kind(s: &ScalarValue) -> &'static str {
    match s {
        ScalarValue::Bytes(_) => "bytes",
        ScalarValue::Timestamp(_) => "a timestamp",
        ScalarValue::Unknown { .. } => "a value of an unknown type",
        _ => "a scalar",
    }
}

/// One open map or list while a nested value is written as JSON.
struct Open {
    id: ObjId,
    /// The map's keys in JavaScript order; `None` for a list.
    keys: Option<Vec<String>>,
    len: usize,
    next: usize,
}

impl Open {
    fn new(doc: &AutoCommit, id: ObjId, typ: ObjType) -> Open {
        if typ == ObjType::List {
            let len = doc.length(&id);
            Open {
                id,
                keys: None,
                len,
                next: 0,
            }
        } else {
            let keys: Vec<String> = object_order(doc.keys(&id).map(|k| (k, ())).collect())
                .into_iter()
                .map(|(k, ())| k)
                .collect();
            Open {
                id,
                len: keys.len(),
                keys: Some(keys),
                next: 0,
            }
        }
    }

    fn close(&self) -> char {
        if self.keys.is_some() { '}' } else { ']' }
    }
}

/// `JSON.stringify` of a nested map or list (keys in JavaScript's order), without recursion so
/// that any depth is safe.
fn nested_json(doc: &AutoCommit, id: &ObjId, typ: ObjType) -> Result<String, PersistError> {
    let mut out = String::new();
    out.push(if typ == ObjType::List { '[' } else { '{' });
    let mut stack = vec![Open::new(doc, id.clone(), typ)];
    while let Some(top) = stack.last_mut() {
        if top.next == top.len {
            out.push(top.close());
            stack.pop();
            continue;
        }
        if top.next > 0 {
            out.push(',');
        }
        let at = top.next;
        top.next += 1;
        let got = match &top.keys {
            Some(keys) => {
                json::write_string(&mut out, &keys[at]);
                out.push(':');
                doc.get(&top.id, keys[at].as_str())
            }
            None => doc.get(&top.id, at),
        }
        .map_err(PersistError::content_from)?;
        match got {
            // Entries listed a moment ago are all there; JSON has `null` for a gap.
            None => out.push_str("null"),
            Some((Value::Object(ObjType::Text), child)) => {
                let text = doc.text(&child).map_err(PersistError::content_from)?;
                json::write_string(&mut out, &text);
            }
            Some((Value::Object(child_typ), child)) => {
                out.push(if child_typ == ObjType::List { '[' } else { '{' });
                stack.push(Open::new(doc, child, child_typ));
            }
            Some((Value::Scalar(s), _)) => match s.as_ref() {
                ScalarValue::Str(s) => json::write_string(&mut out, s),
                ScalarValue::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
                ScalarValue::Null => out.push_str("null"),
                other => json::write_number(&mut out, scalar_number(other)?),
            },
        }
    }
    Ok(out)
}

/// Writes the store into the document inside the caller's change, as TinyBase's
/// `applyChangesToDoc`: with a transaction's `changes`, only the changed paths; without, the
/// full match (the document made to hold exactly the store's content).
///
/// A changed table or row missing from the document makes TinyBase fall back to the full
/// match. That is kept while the store is `in_step` with the document (it has loaded every
/// change made to the document by others). While it is not, a full match would delete or
/// revert what others wrote and the store has not loaded yet, so only the missing rows are
/// written, whole, from the store.
///
/// Where the shape is broken (`doc[name]`, `t` or `v` missing or not maps) it is rebuilt and
/// matched in full, where TinyBase would fail.
pub(super) fn write_content(
    doc: &mut AutoCommit,
    name_key: &str,
    store: &Store,
    changes: Option<&Changes>,
    in_step: bool,
) -> Result<(), AutomergeError> {
    let (tables_id, values_id, rebuilt) = ensure_content(doc, name_key)?;
    let applied = match changes {
        Some(changes) if !rebuilt => {
            let missing_rows_from = (!in_step).then_some(store);
            apply_changes(doc, &tables_id, &values_id, changes, missing_rows_from)?
        }
        _ => false,
    };
    if !applied {
        let (tables, values) = store.get_content();
        match_tables(doc, &tables_id, &tables)?;
        match_cells(doc, &values_id, &values)?;
    }
    Ok(())
}

/// The `t` and `v` maps, made where missing (TinyBase's `ensureDocContent` replaces an empty
/// `doc[name]` with `{t: {}, v: {}}`); `true` when anything had to be made.
fn ensure_content(
    doc: &mut AutoCommit,
    name_key: &str,
) -> Result<(ObjId, ObjId, bool), AutomergeError> {
    let root = automerge::ROOT;
    let content = match map_at(doc, &root, name_key)? {
        Some(id) if doc.length(&id) > 0 => id,
        _ => {
            let id = doc.put_object(&root, name_key, ObjType::Map)?;
            let t = doc.put_object(&id, "t", ObjType::Map)?;
            let v = doc.put_object(&id, "v", ObjType::Map)?;
            return Ok((t, v, true));
        }
    };
    let mut rebuilt = false;
    let mut ensure = |doc: &mut AutoCommit, key: &str| match map_at(doc, &content, key)? {
        Some(id) => Ok::<_, AutomergeError>(id),
        None => {
            rebuilt = true;
            doc.put_object(&content, key, ObjType::Map)
        }
    };
    let t = ensure(doc, "t")?;
    let v = ensure(doc, "v")?;
    Ok((t, v, rebuilt))
}

/// The changed paths only. A changed table or row missing from the document is written whole
/// from `missing_rows_from` if given; otherwise the result is `false` (part done), which
/// TinyBase then repairs with the full match.
fn apply_changes(
    doc: &mut AutoCommit,
    tables_id: &ObjId,
    values_id: &ObjId,
    changes: &Changes,
    missing_rows_from: Option<&Store>,
) -> Result<bool, AutomergeError> {
    for (table_id, table) in &changes.tables {
        let table_key = encode_id(table_id);
        let Some(table) = table else {
            delete(doc, tables_id, &table_key)?;
            continue;
        };
        let (table_obj, made) = match (map_at(doc, tables_id, &table_key)?, missing_rows_from) {
            (Some(id), _) => (id, false),
            (None, Some(_)) => (doc.put_object(tables_id, &*table_key, ObjType::Map)?, true),
            (None, None) => return Ok(false),
        };
        for (row_id, row) in table {
            let row_key = encode_id(row_id);
            let Some(row) = row else {
                delete(doc, &table_obj, &row_key)?;
                continue;
            };
            let row_obj = match (map_at(doc, &table_obj, &row_key)?, missing_rows_from) {
                (Some(id), _) => id,
                (None, Some(store)) => {
                    put_row(doc, &table_obj, &row_key, &store.get_row(table_id, row_id))?;
                    continue;
                }
                (None, None) => return Ok(false),
            };
            for (cell_id, cell) in row {
                let cell_key = encode_id(cell_id);
                match cell {
                    Some(cell) => put_cell(doc, &row_obj, &cell_key, cell)?,
                    None => delete(doc, &row_obj, &cell_key)?,
                }
            }
        }
        if made && doc.length(&table_obj) == 0 {
            doc.delete(tables_id, &*table_key)?;
        }
    }
    for (value_id, value) in &changes.values {
        let key = encode_id(value_id);
        match value {
            Some(value) => put_cell(doc, values_id, &key, value)?,
            None => delete(doc, values_id, &key)?,
        }
    }
    Ok(true)
}

/// A whole row, as a new map (none for an empty row: TinyBase stores no empty rows).
fn put_row(
    doc: &mut AutoCommit,
    table_obj: &ObjId,
    row_key: &str,
    row: &crate::content::Row,
) -> Result<(), AutomergeError> {
    if row.is_empty() {
        return Ok(());
    }
    let row_obj = doc.put_object(table_obj, row_key, ObjType::Map)?;
    for (cell_id, cell) in row {
        put_cell(doc, &row_obj, &encode_id(cell_id), cell)?;
    }
    Ok(())
}

/// TinyBase's `docObjMatch` over the tables: every table and row made to hold the store's, and
/// what the store does not have deleted.
fn match_tables(
    doc: &mut AutoCommit,
    tables_id: &ObjId,
    tables: &Tables,
) -> Result<(), AutomergeError> {
    for (table_id, table) in tables {
        let table_key = encode_id(table_id);
        let table_obj = ensure_map(doc, tables_id, &table_key)?;
        for (row_id, row) in table {
            let row_key = encode_id(row_id);
            let row_obj = ensure_map(doc, &table_obj, &row_key)?;
            match_cells(doc, &row_obj, row)?;
            delete_if_empty(doc, &table_obj, &row_obj, &row_key)?;
        }
        delete_others(doc, &table_obj, |id| table.contains_key(id))?;
        delete_if_empty(doc, tables_id, &table_obj, &table_key)?;
    }
    delete_others(doc, tables_id, |id| tables.contains_key(id))
}

/// The cells of a row (or the values): each written unless the document already holds it as
/// TinyBase would compare it (`!==`), and ids the store lacks deleted.
fn match_cells(
    doc: &mut AutoCommit,
    obj: &ObjId,
    cells: &indexmap::IndexMap<String, Cell>,
) -> Result<(), AutomergeError> {
    for (cell_id, cell) in cells {
        let key = encode_id(cell_id);
        if !holds(doc, obj, &key, cell)? {
            put_cell(doc, obj, &key, cell)?;
        }
    }
    delete_others(doc, obj, |id| cells.contains_key(id))
}

/// The map at `obj[key]`, made (replacing whatever else is there) if it is not a map.
fn ensure_map(doc: &mut AutoCommit, obj: &ObjId, key: &str) -> Result<ObjId, AutomergeError> {
    match map_at(doc, obj, key)? {
        Some(id) => Ok(id),
        None => doc.put_object(obj, key, ObjType::Map),
    }
}

/// Deletes the keys of `obj` whose decoded id `keep` rejects (as TinyBase compares them).
fn delete_others(
    doc: &mut AutoCommit,
    obj: &ObjId,
    keep: impl Fn(&str) -> bool,
) -> Result<(), AutomergeError> {
    let gone: Vec<String> = doc.keys(obj).filter(|k| !keep(decode_id(k))).collect();
    for key in gone {
        doc.delete(obj, key.as_str())?;
    }
    Ok(())
}

fn delete_if_empty(
    doc: &mut AutoCommit,
    parent: &ObjId,
    obj: &ObjId,
    key: &str,
) -> Result<(), AutomergeError> {
    if doc.length(obj) == 0 {
        doc.delete(parent, key)?;
    }
    Ok(())
}

/// Deletes `obj[key]` if it is there (JavaScript's `delete` of a missing key makes no change).
fn delete(doc: &mut AutoCommit, obj: &ObjId, key: &str) -> Result<(), AutomergeError> {
    if doc.get(obj, key)?.is_some() {
        doc.delete(obj, key)?;
    }
    Ok(())
}

/// Whether `obj[key]` is, read by JavaScript, `===` to the cell TinyBase would write.
fn holds(doc: &AutoCommit, obj: &ObjId, key: &str, cell: &Cell) -> Result<bool, AutomergeError> {
    let Some((value, id)) = doc.get(obj, key)? else {
        return Ok(false);
    };
    Ok(match (value, cell) {
        (Value::Object(ObjType::Text), Cell::String(s)) => doc.text(&id)? == s.as_str(),
        (Value::Object(ObjType::Text), Cell::Object(_) | Cell::Array(_)) => {
            Some(doc.text(&id)?) == cell.encoded()
        }
        (Value::Scalar(s), cell) => match (s.as_ref(), cell) {
            (ScalarValue::Null, Cell::Null) => true,
            (ScalarValue::Boolean(a), Cell::Boolean(b)) => a == b,
            // JavaScript reads large Ints and every Uint as BigInts, a Counter or a `Str` as
            // an object: never `===` a primitive.
            #[allow(clippy::cast_precision_loss)]
            (ScalarValue::Int(i), Cell::Number(n)) => {
                js_reads_int_as_number(*i as f64) && *i as f64 == *n
            }
            (ScalarValue::F64(f), Cell::Number(n)) => f == n,
            _ => false,
        },
        _ => false,
    })
}

/// Writes a cell as `@automerge/automerge` 3 writes the JavaScript value TinyBase assigns:
/// strings (and the `U+FFFD`-encoded JSON of objects and arrays) as Text objects, integers as
/// `Int`, other numbers as `F64`.
fn put_cell(
    doc: &mut AutoCommit,
    obj: &ObjId,
    key: &str,
    cell: &Cell,
) -> Result<(), AutomergeError> {
    match cell {
        Cell::Null => doc.put(obj, key, ScalarValue::Null),
        Cell::Boolean(b) => doc.put(obj, key, *b),
        Cell::Number(n) => doc.put(obj, key, number_scalar(*n)),
        Cell::String(s) => put_text(doc, obj, key, s),
        Cell::Object(text) | Cell::Array(text) => {
            let mut encoded = String::with_capacity(text.len() + 3);
            encoded.push(ENCODED_PREFIX);
            encoded.push_str(text);
            put_text(doc, obj, key, &encoded)
        }
    }
}

fn put_text(
    doc: &mut AutoCommit,
    obj: &ObjId,
    key: &str,
    text: &str,
) -> Result<(), AutomergeError> {
    let id = doc.put_object(obj, key, ObjType::Text)?;
    doc.splice_text(&id, 0, 0, text)
}

/// JavaScript's `Number.isInteger(n)` numbers become `Int`s, the rest `F64`s. Integers that
/// JavaScript would read back as BigInts (from 2^53 - 1 up, and below -(2^53 - 1); TinyBase
/// drops those) tinystore writes as `F64`s, so that both sides read the number back.
fn number_scalar(n: f64) -> ScalarValue {
    if n.fract() == 0.0 && js_reads_int_as_number(n) {
        // Exact: the number is an integer within ±2^53.
        #[allow(clippy::cast_possible_truncation)]
        ScalarValue::Int(n as i64)
    } else {
        ScalarValue::F64(n)
    }
}

/// Whether `@automerge/automerge` 3 reads an `Int` of this value as a number (it reads the
/// others as BigInts).
fn js_reads_int_as_number(i: f64) -> bool {
    (-MAX_SAFE_INTEGER..MAX_SAFE_INTEGER).contains(&i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_escape_as_tinybase() {
        assert_eq!(encode_id("pets"), "pets");
        for id in OBJECT_PROTOTYPE_NAMES.iter().chain(&["prototype"]) {
            assert_eq!(encode_id(id), format!("\0{id}"));
            assert_eq!(decode_id(&encode_id(id)), *id);
        }
        assert_eq!(encode_id("\0x"), "\0\0x");
        assert_eq!(decode_id("\0\0x"), "\0x");
        assert_eq!(encode_id("Constructor"), "Constructor");
        assert_eq!(encode_id("x\0"), "x\0");
    }

    #[test]
    fn numbers_take_the_forms_javascript_gives_them() {
        assert_eq!(number_scalar(3.0), ScalarValue::Int(3));
        assert_eq!(number_scalar(-0.0), ScalarValue::Int(0));
        assert_eq!(number_scalar(-2.0), ScalarValue::Int(-2));
        assert_eq!(number_scalar(1.5), ScalarValue::F64(1.5));
        let max = MAX_SAFE_INTEGER;
        assert_eq!(
            number_scalar(max - 1.0),
            ScalarValue::Int(9_007_199_254_740_990)
        );
        assert_eq!(number_scalar(max), ScalarValue::F64(max));
        assert_eq!(
            number_scalar(-max),
            ScalarValue::Int(-9_007_199_254_740_991)
        );
        assert_eq!(number_scalar(-max - 1.0), ScalarValue::F64(-max - 1.0));
        assert_eq!(number_scalar(1e20), ScalarValue::F64(1e20));
    }

    #[test]
    fn keys_follow_javascript_object_order() {
        let keys = |v: &[&str]| {
            object_order(v.iter().map(|k| (k.to_string(), ())).collect())
                .into_iter()
                .map(|(k, ())| k)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            keys(&["10", "9", "a", "01", "0"]),
            ["0", "9", "10", "a", "01"]
        );
        assert_eq!(
            keys(&["4294967295", "4294967294"]),
            ["4294967294", "4294967295"]
        );
        assert_eq!(keys(&["b", "a"]), ["b", "a"]);
    }

    #[test]
    fn nested_values_read_as_json_in_javascript_order() {
        let mut doc = AutoCommit::new();
        let m = doc.put_object(automerge::ROOT, "m", ObjType::Map).unwrap();
        doc.put(&m, "b", 1).unwrap();
        doc.put(&m, "10", ScalarValue::F64(0.5)).unwrap();
        doc.put(&m, "9", ScalarValue::Str("s".into())).unwrap();
        let l = doc.put_object(&m, "a", ObjType::List).unwrap();
        let t = doc.insert_object(&l, 0, ObjType::Text).unwrap();
        doc.splice_text(&t, 0, 0, "q\"").unwrap();
        doc.insert(&l, 1, ScalarValue::Null).unwrap();
        doc.insert(&l, 2, true).unwrap();
        doc.insert_object(&l, 3, ObjType::Map).unwrap();
        doc.insert_object(&l, 4, ObjType::List).unwrap();
        assert_eq!(
            nested_json(&doc, &m, ObjType::Map).unwrap(),
            r#"{"9":"s","10":0.5,"a":["q\"",null,true,{},[]],"b":1}"#
        );
        doc.insert(&l, 5, ScalarValue::Bytes(vec![1])).unwrap();
        assert!(nested_json(&doc, &m, ObjType::Map).is_err());
    }

    #[test]
    fn deep_nesting_reads_without_recursion() {
        let mut doc = AutoCommit::new();
        let top = doc.put_object(automerge::ROOT, "l", ObjType::List).unwrap();
        let mut obj = top.clone();
        for _ in 0..3_000 {
            obj = doc.insert_object(&obj, 0, ObjType::List).unwrap();
        }
        // A stack far too small for one frame per level.
        let json = std::thread::Builder::new()
            .stack_size(128 * 1024)
            .spawn(move || nested_json(&doc, &top, ObjType::List).unwrap())
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(json.len(), 2 * 3_001);
    }
}
