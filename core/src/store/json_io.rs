//! The store as JSON: `getJson`/`setJson` and friends, written straight from the data.

use crate::content::{self, Tables, Values};
use crate::js::{array_index as is_array_index, object_order as js_order};
use crate::json;
use crate::types::Text;

use super::state::{self, State};
use super::{Store, StoreError};

impl Store {
    // ------------------------------------------------------------------ JSON

    /// `JSON.stringify(tables)` with objects/arrays in encoded form.
    ///
    /// ```
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "legs", 4).set_value("open", true);
    /// assert_eq!(store.get_tables_json(), r#"{"pets":{"fido":{"legs":4}}}"#);
    /// ```
    pub fn get_tables_json(&self) -> String {
        self.with(|s| {
            let mut out = String::new();
            write_tables_json(s, &mut out);
            out
        })
    }

    /// `JSON.stringify(values)` with objects/arrays in encoded form.
    ///
    /// ```
    /// use tinystore_core::{Cell, Store};
    /// let store = Store::new();
    /// store.set_value("open", true);
    /// store.set_value("tags", Cell::from_json(serde_json::json!(["a"])));
    /// let json: serde_json::Value = serde_json::from_str(&store.get_values_json())?;
    /// // An array is written as TinyBase's encoded string: `U+FFFD` then its JSON.
    /// assert_eq!(json, serde_json::json!({"open": true, "tags": "\u{FFFD}[\"a\"]"}));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_values_json(&self) -> String {
        self.with(|s| {
            let mut out = String::new();
            write_values_json(s, &mut out);
            out
        })
    }

    /// `JSON.stringify([tables, values])` with objects/arrays in encoded form.
    ///
    /// ```
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// assert_eq!(store.get_json(), "[{},{}]");
    /// store.set_cell("pets", "fido", "legs", 4).set_value("open", true);
    /// assert_eq!(store.get_json(), r#"[{"pets":{"fido":{"legs":4}}},{"open":true}]"#);
    /// ```
    pub fn get_json(&self) -> String {
        self.with(|s| {
            let mut out = String::from("[");
            write_tables_json(s, &mut out);
            out.push(',');
            write_values_json(s, &mut out);
            out.push(']');
            out
        })
    }

    /// Sets tables from JSON in encoded form; `{}` deletes all tables. On a parse error the
    /// store is untouched and the error returned.
    ///
    /// ```
    /// use tinystore_core::{Cell, Store};
    /// let store = Store::new();
    /// store.set_tables_json(r#"{"pets": {"fido": {"legs": 4}}}"#)?;
    /// assert_eq!(store.get_cell("pets", "fido", "legs"), Some(Cell::Number(4.0)));
    /// assert!(store.set_tables_json("{oops").is_err());
    /// assert!(store.has_row("pets", "fido"));
    /// store.set_tables_json("{}")?;
    /// assert!(!store.has_tables());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_tables_json(&self, json: &str) -> Result<&Self, StoreError> {
        let tables = content::tables_from_json(&content::parse_json(json)?, true)?;
        Ok(self.set_or_del_tables(&tables))
    }

    /// Sets values from JSON in encoded form; `{}` deletes all values.
    ///
    /// ```
    /// use tinystore_core::{Cell, Store};
    /// let store = Store::new();
    /// store.set_values_json(r#"{"open": true, "limit": 10}"#)?;
    /// assert_eq!(store.get_value("limit"), Some(Cell::Number(10.0)));
    /// store.set_values_json("{}")?;
    /// assert!(!store.has_values());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_values_json(&self, json: &str) -> Result<&Self, StoreError> {
        let values = content::values_from_json(&content::parse_json(json)?, true)?;
        Ok(self.set_or_del_values(&values))
    }

    /// Sets `[tables, values]` from JSON in encoded form (a bare tables object is accepted too,
    /// as TinyBase falls back to it).
    ///
    /// ```
    /// use tinystore_core::{Cell, Store};
    /// let store = Store::new();
    /// store.set_json(r#"[{"pets": {"fido": {"legs": 4}}}, {"open": true}]"#)?;
    /// assert_eq!(store.get_value("open"), Some(Cell::Boolean(true)));
    /// store.set_json(r#"{"owners": {"ann": {"age": 30}}}"#)?;
    /// assert_eq!(store.get_table_ids(), ["owners"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_json(&self, json: &str) -> Result<&Self, StoreError> {
        let parsed = content::parse_json(json)?;
        if let Some([tables, values]) = parsed.as_array().map(Vec::as_slice) {
            let tables = content::tables_from_json(tables, true)?;
            let values = content::values_from_json(values, true)?;
            self.transaction(|s| {
                s.set_or_del_tables(&tables);
                s.set_or_del_values(&values);
            });
            return Ok(self);
        }
        let tables = content::tables_from_json(&parsed, true)?;
        Ok(self.set_or_del_tables(&tables))
    }

    pub(super) fn set_or_del_tables(&self, tables: &Tables) -> &Self {
        if tables.is_empty() {
            self.del_tables()
        } else {
            self.set_tables(tables)
        }
    }

    pub(super) fn set_or_del_values(&self, values: &Values) -> &Self {
        if values.is_empty() {
            self.del_values()
        } else {
            self.set_values(values)
        }
    }
}

pub(super) fn js_ordered<'a, T>(items: impl Iterator<Item = (&'a Text, T)>) -> Vec<(&'a Text, T)> {
    let items: Vec<_> = items.collect();
    if items.iter().any(|(k, _)| is_array_index(k).is_some()) {
        js_order(items)
    } else {
        items
    }
}

/// Calls `f` with each of `items` in JavaScript's object key order; without an array-index
/// key (nearly always) that is their own order, walked without collecting them.
fn for_each_js_ordered<'a, T>(
    items: impl Iterator<Item = (&'a Text, T)> + Clone,
    mut f: impl FnMut(usize, &'a Text, T),
) {
    if items.clone().any(|(k, _)| is_array_index(k).is_some()) {
        for (i, (k, v)) in js_order(items.collect()).into_iter().enumerate() {
            f(i, k, v);
        }
    } else {
        for (i, (k, v)) in items.enumerate() {
            f(i, k, v);
        }
    }
}

pub(super) fn write_row_json(s: &State, row: &state::RowData, out: &mut String) {
    out.push('{');
    let cells = row.cells.iter().map(|(c, v)| (s.names.name(*c), v));
    for_each_js_ordered(cells, |i, c, v| {
        if i > 0 {
            out.push(',');
        }
        json::write_string(out, c);
        out.push(':');
        v.write_encoded_json(out);
    });
    out.push('}');
}

pub(super) fn write_tables_json(s: &State, out: &mut String) {
    out.push('{');
    for_each_js_ordered(s.tables.iter(), |i, t, table| {
        if i > 0 {
            out.push(',');
        }
        json::write_string(out, t);
        out.push_str(":{");
        for_each_js_ordered(table.rows.iter(), |j, r, row| {
            if j > 0 {
                out.push(',');
            }
            json::write_string(out, r);
            out.push(':');
            write_row_json(s, row, out);
        });
        out.push('}');
    });
    out.push('}');
}

pub(super) fn write_values_json(s: &State, out: &mut String) {
    out.push('{');
    for (i, (v, value)) in js_ordered(s.values.iter()).into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json::write_string(out, v);
        out.push(':');
        value.write_encoded_json(out);
    }
    out.push('}');
}
