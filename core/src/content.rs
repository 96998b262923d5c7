//! Owned content types (Tables, Table, Row, Values, Changes) and their TinyBase JSON forms.
//!
//! Maps are [`IndexMap`]s. Getters return them in JavaScript object order (array-index-like
//! keys such as `"2"` ascending first, then insertion order) because that is the order in
//! which TinyBase's `getTables()` enumerates and `getJson()` prints; `get_*_ids` return plain
//! insertion order, as TinyBase does.

use indexmap::IndexMap;
use serde_json::{Map, Value as Json};

use crate::js;
use crate::json::{self, ContainerKind};
use crate::types::Cell;

/// A Row: `{cellId: Cell}`.
pub type Row = IndexMap<String, Cell>;
/// A Table: `{rowId: Row}`.
pub type Table = IndexMap<String, Row>;
/// Tables: `{tableId: Table}`.
pub type Tables = IndexMap<String, Table>;
/// Values: `{valueId: Value}`.
pub type Values = IndexMap<String, Cell>;

/// Changed cells of one row; `None` means deleted.
pub type ChangedRow = IndexMap<String, Option<Cell>>;
/// Changed rows of one table; `None` means the row was deleted.
pub type ChangedTable = IndexMap<String, Option<ChangedRow>>;
/// Changed tables; `None` means the table was deleted.
pub type ChangedTables = IndexMap<String, Option<ChangedTable>>;

/// Net changes of a transaction, `[tables, values, 1]` in TinyBase. `None` means deleted.
///
/// ```
/// use tinystore_core::{Cell, Changes};
/// let mut changes = Changes::default();
/// changes.values.insert("open".into(), Some(Cell::from(true)));
/// changes.values.insert("closed".into(), None);
/// assert_eq!(changes.to_json(), serde_json::json!([{}, {"open": true, "closed": null}, 1]));
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Changes {
    /// `{tableId: {rowId: {cellId: Cell | deleted} | deleted} | deleted}`.
    pub tables: ChangedTables,
    /// `{valueId: Value | deleted}`.
    pub values: IndexMap<String, Option<Cell>>,
}

// Object key order lives in `crate::js`; these names remain for the callers in other modules
// until they import `crate::js::{array_index, object_order}` themselves.

fn cell_to_json(cell: &Cell, encoded: bool) -> Json {
    if encoded {
        cell.to_encoded_json()
    } else {
        cell.to_json()
    }
}

/// Row → JSON object (cells encoded when `encoded`).
///
/// ```
/// use serde_json::json;
/// use tinystore_core::content::row_to_json;
/// use tinystore_core::{Cell, Row};
/// let row = Row::from([("legs".to_string(), Cell::from(4)), ("tags".to_string(), Cell::Array("[1]".into()))]);
/// assert_eq!(row_to_json(&row, false), json!({"legs": 4, "tags": [1]}));
/// assert_eq!(row_to_json(&row, true), json!({"legs": 4, "tags": "\u{FFFD}[1]"}));
/// ```
pub fn row_to_json(row: &Row, encoded: bool) -> Json {
    Json::Object(
        row.iter()
            .map(|(k, c)| (k.clone(), cell_to_json(c, encoded)))
            .collect(),
    )
}

/// Table → JSON object.
///
/// ```
/// use serde_json::json;
/// use tinystore_core::content::table_to_json;
/// use tinystore_core::{Cell, Row, Table};
/// let fido = Row::from([("species".to_string(), Cell::from("dog"))]);
/// let pets = Table::from([("fido".to_string(), fido)]);
/// assert_eq!(table_to_json(&pets, true), json!({"fido": {"species": "dog"}}));
/// ```
pub fn table_to_json(table: &Table, encoded: bool) -> Json {
    Json::Object(
        table
            .iter()
            .map(|(k, r)| (k.clone(), row_to_json(r, encoded)))
            .collect(),
    )
}

/// Tables → JSON object.
///
/// ```
/// use serde_json::json;
/// use tinystore_core::content::{tables_from_json, tables_to_json};
/// let json = json!({"pets": {"fido": {"tags": "\u{FFFD}[\"good\"]"}}});
/// let tables = tables_from_json(&json, true)?;
/// assert_eq!(tables_to_json(&tables, true), json);
/// assert_eq!(tables_to_json(&tables, false), json!({"pets": {"fido": {"tags": ["good"]}}}));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn tables_to_json(tables: &Tables, encoded: bool) -> Json {
    Json::Object(
        tables
            .iter()
            .map(|(k, t)| (k.clone(), table_to_json(t, encoded)))
            .collect(),
    )
}

/// Values → JSON object.
///
/// ```
/// use serde_json::json;
/// use tinystore_core::content::values_to_json;
/// use tinystore_core::{Cell, Values};
/// let values = Values::from([("open".to_string(), Cell::from(true))]);
/// assert_eq!(values_to_json(&values, false), json!({"open": true}));
/// ```
pub fn values_to_json(values: &Values, encoded: bool) -> Json {
    row_to_json(values, encoded)
}

/// Errors converting JSON into content.
///
/// ```
/// use tinystore_core::ContentError;
/// use tinystore_core::content::{parse_json, row_from_json};
/// assert!(matches!(parse_json("[1,"), Err(ContentError::Json(_))));
/// let not_a_row = serde_json::json!([1]);
/// assert_eq!(
///     row_from_json(&not_a_row, false),
///     Err(ContentError::Shape { expected: "a row object" })
/// );
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ContentError {
    /// The text is not JSON.
    #[error("invalid JSON: {0}")]
    Json(String),
    /// The JSON does not have the expected shape.
    #[error("unexpected JSON shape: expected {expected}")]
    Shape {
        /// What was expected.
        expected: &'static str,
    },
}

fn object<'a>(
    json: &'a Json,
    expected: &'static str,
) -> Result<&'a Map<String, Json>, ContentError> {
    json.as_object().ok_or(ContentError::Shape { expected })
}

fn ordered(map: &Map<String, Json>) -> Vec<(&String, &Json)> {
    js::object_order(map.iter().collect())
}

/// JSON object → Row. Cells are read in encoded form when `encoded` (objects and arrays given
/// as `U+FFFD` strings); keys are taken in JavaScript object order.
///
/// ```
/// use serde_json::json;
/// use tinystore_core::Cell;
/// use tinystore_core::content::row_from_json;
/// let row = row_from_json(&json!({"b": 1, "2": "x", "tags": "\u{FFFD}[1]"}), true)?;
/// assert_eq!(row.keys().collect::<Vec<_>>(), ["2", "b", "tags"]);
/// assert_eq!(row["tags"], Cell::Array("[1]".into()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn row_from_json(json: &Json, encoded: bool) -> Result<Row, ContentError> {
    Ok(ordered(object(json, "a row object")?)
        .into_iter()
        .map(|(k, v)| {
            let cell = if encoded {
                Cell::from_encoded_json(v.clone())
            } else {
                Cell::from_json(v.clone())
            };
            (k.clone(), cell)
        })
        .collect())
}

/// JSON object → Table.
///
/// ```
/// use serde_json::json;
/// use tinystore_core::Cell;
/// use tinystore_core::content::table_from_json;
/// let pets = table_from_json(&json!({"fido": {"legs": 4}}), false)?;
/// assert_eq!(pets["fido"]["legs"], Cell::from(4));
/// assert!(table_from_json(&json!({"fido": 4}), false).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn table_from_json(json: &Json, encoded: bool) -> Result<Table, ContentError> {
    ordered(object(json, "a table object")?)
        .into_iter()
        .map(|(k, v)| Ok((k.clone(), row_from_json(v, encoded)?)))
        .collect()
}

/// JSON object → Tables.
///
/// ```
/// use serde_json::json;
/// use tinystore_core::Cell;
/// use tinystore_core::content::tables_from_json;
/// // Not encoded: an object is taken as the user's object.
/// let tables = tables_from_json(&json!({"pets": {"fido": {"toy": {"ball": 1}}}}), false)?;
/// assert_eq!(tables["pets"]["fido"]["toy"], Cell::Object("{\"ball\":1}".into()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn tables_from_json(json: &Json, encoded: bool) -> Result<Tables, ContentError> {
    ordered(object(json, "a tables object")?)
        .into_iter()
        .map(|(k, v)| Ok((k.clone(), table_from_json(v, encoded)?)))
        .collect()
}

/// JSON object → Values.
///
/// ```
/// use serde_json::json;
/// use tinystore_core::Cell;
/// use tinystore_core::content::values_from_json;
/// let values = values_from_json(&json!({"open": true, "rating": 4.5}), true)?;
/// assert_eq!(values["rating"], Cell::from(4.5));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn values_from_json(json: &Json, encoded: bool) -> Result<Values, ContentError> {
    row_from_json(json, encoded)
}

/// `[tables, values]` in encoded form decoded in one pass over the text, straight into
/// [`Tables`] and [`Values`] (no intermediate `serde_json::Value` tree: a persisted store is
/// megabytes of JSON).
///
/// It builds exactly what [`tables_from_json`] and [`values_from_json`] build from the parsed
/// text, but returns `None` for anything else it meets (invalid JSON or shape, changes
/// `[…, 1]`, a raw array or object as a cell, a repeated key): the caller then takes the
/// checked path, which reports the error or applies `JSON.parse`'s rule for repeated keys.
///
/// ```
/// use tinystore_core::content::content_from_str;
/// let (tables, values) = content_from_str(r#"[{"pets":{"fido":{"legs":4}}},{"open":true}]"#).unwrap();
/// assert_eq!(tables["pets"]["fido"].len(), 1);
/// assert_eq!(values.len(), 1);
/// assert!(content_from_str(r#"[{},{},1]"#).is_none());
/// ```
pub fn content_from_str(text: &str) -> Option<(Tables, Values)> {
    let mut sink = ContentSink::default();
    json::parse_into(text, &mut sink).ok()?;
    (!sink.failed && sink.depth == 0 && sink.done == 2).then_some((sink.tables, sink.values))
}

/// The event sink of [`content_from_str`]. Depths (open containers): 1 the payload array,
/// 2 the tables or values object, 3 a table, 4 a row.
#[derive(Default)]
struct ContentSink {
    failed: bool,
    depth: usize,
    /// Payload elements completed (0: reading tables, 1: reading values).
    done: usize,
    table_key: String,
    row_key: String,
    cell_key: Option<String>,
    row: Row,
    table: Table,
    tables: Tables,
    values: Values,
}

/// Puts a finished map in JavaScript object order, as [`ordered`] reads a parsed object.
fn in_js_order<T>(map: &mut IndexMap<String, T>) {
    if map.keys().any(|k| js::array_index(k).is_some()) {
        let items: Vec<(String, T)> = map.drain(..).collect();
        map.extend(js::object_order(items));
    }
}

impl json::Sink for ContentSink {
    const DECODE: bool = true;
    const MAX_DEPTH: usize = 4;

    fn scalar(&mut self, value: Json) {
        let target = match (self.depth, self.done) {
            (4, 0) => &mut self.row,
            (2, 1) => &mut self.values,
            _ => return self.failed = true,
        };
        // A repeated key fails the decoder (the checked path applies JSON.parse's rule).
        let repeated = match self.cell_key.take() {
            Some(key) => target.insert(key, Cell::from_encoded_json(value)).is_some(),
            None => true,
        };
        if repeated {
            self.failed = true;
        }
    }

    fn key(&mut self, key: String) {
        match (self.depth, self.done) {
            (2, 0) => self.table_key = key,
            (3, 0) => self.row_key = key,
            (4, 0) | (2, 1) => self.cell_key = Some(key),
            _ => self.failed = true,
        }
    }

    fn begin(&mut self, kind: ContainerKind) {
        let expected = match (self.depth, self.done) {
            (0, _) => ContainerKind::Array,
            (1, 0 | 1) | (2 | 3, 0) => ContainerKind::Object,
            _ => return self.failed = true,
        };
        if kind != expected {
            self.failed = true;
        }
        self.depth += 1;
    }

    fn end(&mut self) {
        if self.failed {
            return;
        }
        match (self.depth, self.done) {
            (4, 0) => {
                // The next row is sized as this one: rows of a table mostly share their cells.
                let next = Row::with_capacity(self.row.len());
                let mut row = std::mem::replace(&mut self.row, next);
                in_js_order(&mut row);
                let key = std::mem::take(&mut self.row_key);
                if self.table.insert(key, row).is_some() {
                    self.failed = true;
                }
            }
            (3, 0) => {
                let mut table = std::mem::take(&mut self.table);
                in_js_order(&mut table);
                let key = std::mem::take(&mut self.table_key);
                if self.tables.insert(key, table).is_some() {
                    self.failed = true;
                }
            }
            (2, 0) => {
                in_js_order(&mut self.tables);
                self.done = 1;
            }
            (2, 1) => {
                in_js_order(&mut self.values);
                self.done = 2;
            }
            (1, 2) => {}
            _ => self.failed = true,
        }
        self.depth = self.depth.saturating_sub(1);
    }
}

/// Parses JSON text with JavaScript's `JSON.parse` rules.
///
/// ```
/// use serde_json::json;
/// use tinystore_core::content::parse_json;
/// // As in `JSON.parse`, the last of repeated keys wins.
/// assert_eq!(parse_json(r#"{"a": 1, "a": 2}"#)?, json!({"a": 2}));
/// assert!(parse_json("{'a': 1}").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn parse_json(text: &str) -> Result<Json, ContentError> {
    json::parse(text).map_err(|e| ContentError::Json(e.to_string()))
}

fn is_undefined(json: &Json) -> bool {
    json.is_null() || json.as_str() == Some(crate::types::UNDEFINED_MARKER)
}

impl Changes {
    /// Parses `[tables, values, 1]` where a deletion is JSON `null` or the `"\u{FFFC}"` marker
    /// (cells in encoded form).
    ///
    /// ```
    /// use serde_json::json;
    /// use tinystore_core::{Cell, Changes};
    /// let changes = Changes::from_json(&json!([
    ///     {"pets": {"fido": {"legs": 4, "tail": null}, "rex": "\u{FFFC}"}},
    ///     {"open": "\u{FFFD}[1]"},
    ///     1
    /// ]))?;
    /// let pets = changes.tables["pets"].as_ref().unwrap();
    /// assert_eq!(pets["fido"].as_ref().unwrap()["tail"], None);
    /// assert_eq!(pets["rex"], None);
    /// assert_eq!(changes.values["open"], Some(Cell::Array("[1]".into())));
    /// assert!(Changes::from_json(&json!({})).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_json(json: &Json) -> Result<Changes, ContentError> {
        const EXPECTED: &str = "[changedTables, changedValues, 1]";
        let parts = json
            .as_array()
            .filter(|a| a.len() >= 2)
            .ok_or(ContentError::Shape { expected: EXPECTED })?;
        let mut changes = Changes::default();
        for (table_id, table) in ordered(object(&parts[0], EXPECTED)?) {
            let table = if is_undefined(table) {
                None
            } else {
                let mut rows = IndexMap::new();
                for (row_id, row) in ordered(object(table, EXPECTED)?) {
                    let row = if is_undefined(row) {
                        None
                    } else {
                        Some(
                            ordered(object(row, EXPECTED)?)
                                .into_iter()
                                .map(|(c, v)| {
                                    let cell = (!is_undefined(v))
                                        .then(|| Cell::from_encoded_json(v.clone()));
                                    (c.clone(), cell)
                                })
                                .collect(),
                        )
                    };
                    rows.insert(row_id.clone(), row);
                }
                Some(rows)
            };
            changes.tables.insert(table_id.clone(), table);
        }
        for (value_id, value) in ordered(object(&parts[1], EXPECTED)?) {
            let value = (!is_undefined(value)).then(|| Cell::from_encoded_json(value.clone()));
            changes.values.insert(value_id.clone(), value);
        }
        Ok(changes)
    }

    /// `[tables, values, 1]` with deletions as `null` (what `JSON.stringify` prints for
    /// TinyBase's `undefined`) and cells decoded.
    ///
    /// ```
    /// use serde_json::json;
    /// use tinystore_core::Changes;
    /// let wire = json!([{"pets": {"rex": "\u{FFFC}"}}, {"tags": "\u{FFFD}[1]"}, 1]);
    /// let changes = Changes::from_json(&wire)?;
    /// assert_eq!(changes.to_json(), json!([{"pets": {"rex": null}}, {"tags": [1]}, 1]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn to_json(&self) -> Json {
        let cell = |c: &Option<Cell>| c.as_ref().map(Cell::to_json).unwrap_or(Json::Null);
        let tables = self
            .tables
            .iter()
            .map(|(t, table)| {
                let table = table.as_ref().map_or(Json::Null, |rows| {
                    Json::Object(
                        rows.iter()
                            .map(|(r, row)| {
                                let row = row.as_ref().map_or(Json::Null, |cells| {
                                    Json::Object(
                                        cells.iter().map(|(c, v)| (c.clone(), cell(v))).collect(),
                                    )
                                });
                                (r.clone(), row)
                            })
                            .collect(),
                    )
                });
                (t.clone(), table)
            })
            .collect();
        let values = self
            .values
            .iter()
            .map(|(v, value)| (v.clone(), cell(value)))
            .collect();
        Json::Array(vec![
            Json::Object(tables),
            Json::Object(values),
            Json::from(1),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The one-pass decoder builds what the checked path builds, in the same order, and
    /// leaves everything else to it.
    #[test]
    fn one_pass_content_matches_the_checked_path() {
        let checked = |text: &str| {
            let doc = parse_json(text).unwrap();
            let parts = doc.as_array().unwrap();
            (
                tables_from_json(&parts[0], true).unwrap(),
                values_from_json(&parts[1], true).unwrap(),
            )
        };
        for text in [
            r#"[{},{}]"#,
            r#" [ { "t" : { "r" : { "c" : 1 } } } , { "v" : "x" } ] "#,
            r#"[{"t":{"b":{"z":1,"10":2,"a":true},"2":{},"1":{"c":"\u00e9\"q"}},"0":{"r":{"c":-0.5}}},{"9":null,"w":false,"1":"\ufffd[1]"}]"#,
        ] {
            let fast = content_from_str(text).expect(text);
            let slow = checked(text);
            assert_eq!(fast, slow, "{text}");
            let order = |t: &Tables| -> Vec<String> {
                t.iter()
                    .flat_map(|(t, rows)| {
                        rows.iter().flat_map(move |(r, cells)| {
                            cells.keys().map(move |c| format!("{t}.{r}.{c}"))
                        })
                    })
                    .collect()
            };
            assert_eq!(order(&fast.0), order(&slow.0), "{text}");
            assert_eq!(
                fast.1.keys().collect::<Vec<_>>(),
                slow.1.keys().collect::<Vec<_>>()
            );
        }
        for text in [
            "",
            "{}",
            "[]",
            "[{}]",
            "[{},{},1]",
            "[{},{},{}]",
            r#"[{"t":5},{}]"#,
            r#"[{"t":{"r":5}},{}]"#,
            r#"[{"t":{"r":{"c":[1]}}},{}]"#,
            r#"[{"t":{"r":{"c":{"a":1}}}},{}]"#,
            r#"[{},{"v":{}}]"#,
            r#"[{"t":{"r":{"c":1,"c":2}}},{}]"#,
            r#"[{"t":{"r":{}},"t":{}},{}]"#,
            r#"[{},{"v":1,"v":2}]"#,
            r#"[{},{}] x"#,
            r#"[{},{}"#,
            r#"[[{},"",0],[{},"",0]]"#,
        ] {
            assert_eq!(content_from_str(text), None, "{text}");
        }
    }

    #[test]
    fn changes_round_trip() {
        let changes = Changes::from_json(&json!([
            {"t": {"r": {"c": 1, "d": null}, "gone": null}, "x": "\u{FFFC}"},
            {"v": "\u{FFFD}[1]", "w": null},
            1
        ]))
        .unwrap();
        assert_eq!(changes.tables["x"], None);
        assert_eq!(changes.tables["t"].as_ref().unwrap()["gone"], None);
        assert_eq!(changes.values["v"], Some(Cell::Array("[1]".into())));
        assert_eq!(
            changes.to_json(),
            json!([{"t": {"r": {"c": 1, "d": null}, "gone": null}, "x": null}, {"v": [1], "w": null}, 1])
        );
        assert!(Changes::from_json(&json!({})).is_err());
    }
}
