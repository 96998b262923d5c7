//! What the sync server's `/inspector` page shows of one room's store and how it edits it,
//! independent of HTTP: [`room_json`] (one page of one table, every cell with its HLC, and the
//! values), [`apply_edit`] (set or delete one cell or value, as the room's own client, so the
//! room's synchronizer sends it to every client), [`decode_hlc`], and the page itself
//! ([`INDEX_HTML`], [`APP_JS`], [`APP_CSS`], compiled into the binary).
//!
//! Everything here is synchronous and quick (a page reads only its own rows' stamps), for the
//! server's async handlers to call directly.
//!
//! ```
//! use serde_json::json;
//! use tinystore_core::MergeableStore;
//! use tinystore_core::sync::inspector::{Edit, PageQuery, apply_edit, room_json};
//!
//! let store = MergeableStore::new(None);
//! let edit = Edit::set("pets", "fido", "species", json!("dog"));
//! apply_edit(&store, &edit)?;
//! let page = room_json(&store, &PageQuery::default());
//! assert_eq!(page["table"], "pets");
//! assert_eq!(page["rows"][0]["cells"]["species"]["value"], "dog");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::panic::AssertUnwindSafe;

use serde::Deserialize;
use serde_json::{Map, Value as Json, json};

use crate::hlc::Hlc;
use crate::mergeable::MergeableStore;
use crate::types::Cell;

#[cfg(test)]
mod tests;

/// The inspector's page (`GET /inspector`): loads [`APP_CSS`] from `inspector/app.css` and
/// [`APP_JS`] from `inspector/app.js`, relative to itself.
///
/// ```
/// use tinystore_core::sync::inspector::INDEX_HTML;
/// assert!(INDEX_HTML.contains("tinystore inspector"));
/// assert!(INDEX_HTML.contains(r#"id="rooms""#));
/// ```
pub const INDEX_HTML: &str = include_str!("index.html");

/// The page's script (`GET /inspector/app.js`, `text/javascript`).
///
/// ```
/// use tinystore_core::sync::inspector::APP_JS;
/// // Data is never written as HTML.
/// assert!(!APP_JS.contains("innerHTML"));
/// ```
pub const APP_JS: &str = include_str!("app.js");

/// The page's style sheet (`GET /inspector/app.css`, `text/css`).
///
/// ```
/// use tinystore_core::sync::inspector::APP_CSS;
/// assert!(APP_CSS.contains("monospace"));
/// ```
pub const APP_CSS: &str = include_str!("app.css");

/// The default [`PageQuery::limit`].
pub const DEFAULT_PAGE_ROWS: usize = 100;
/// The largest [`PageQuery::limit`] honoured.
pub const MAX_PAGE_ROWS: usize = 1000;

/// Which page of which table [`room_json`] returns (the `GET /inspector/api/room` query:
/// `table`, `offset`, `limit`, `row`; it deserializes from that query string, other
/// parameters ignored).
///
/// ```
/// use tinystore_core::sync::inspector::PageQuery;
/// let query = PageQuery { table: Some("pets".into()), offset: 100, ..PageQuery::default() };
/// assert_eq!(query.limit, 100);
/// assert_eq!(PageQuery { limit: 5000, ..query }.page_size(), 1000);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct PageQuery {
    /// The table; `None` (or a table that does not exist): the store's first table.
    pub table: Option<String>,
    /// How many (matching) rows to skip.
    pub offset: usize,
    /// How many rows at most: 0 means [`DEFAULT_PAGE_ROWS`], more than [`MAX_PAGE_ROWS`] that.
    pub limit: usize,
    /// Only rows whose id contains this string (case-sensitive); `None` or empty: all rows.
    pub row: Option<String>,
}

impl Default for PageQuery {
    fn default() -> Self {
        PageQuery {
            table: None,
            offset: 0,
            limit: DEFAULT_PAGE_ROWS,
            row: None,
        }
    }
}

impl PageQuery {
    /// The number of rows a page holds at most: `limit`, 0 meaning the default, capped.
    ///
    /// ```
    /// use tinystore_core::sync::inspector::PageQuery;
    /// assert_eq!(PageQuery { limit: 0, ..PageQuery::default() }.page_size(), 100);
    /// assert_eq!(PageQuery { limit: 20, ..PageQuery::default() }.page_size(), 20);
    /// ```
    pub fn page_size(&self) -> usize {
        match self.limit {
            0 => DEFAULT_PAGE_ROWS,
            n => n.min(MAX_PAGE_ROWS),
        }
    }
}

/// `{"value","hlc","time","counter","client"}` of one stamped cell or value.
fn stamped(value: &Cell, hlc: &Hlc) -> Json {
    let (time, counter, client) = hlc.decode();
    json!({
        "value": value.to_json(),
        "hlc": hlc.as_str(),
        "time": time,
        "counter": counter,
        "client": client,
    })
}

/// One page of one table of `store`, with every cell's HLC, and the values:
///
/// `{"tables":[{"id","rows"}], "table": id|null, "total", "offset", "limit", "cellIds":[..],
/// "rows":[{"id","cells":{cellId:{"value","hlc","time","counter","client"}}}],
/// "values":{valueId:{..same..}}}`
///
/// Rows come in the table's insertion order (TinyBase's `getRowIds`), cells in the order they
/// were first written; `total` counts the rows matching the search; `cellIds` is the union of
/// the page's cell ids in first-seen order. Deleted cells and values are left out. Only the
/// page's rows' stamps are read.
///
/// ```
/// use tinystore_core::MergeableStore;
/// use tinystore_core::sync::inspector::{PageQuery, room_json};
///
/// let store = MergeableStore::with_clock(Some("client1"), Box::new(|| 1_700_000_000_000));
/// store.set_cell("pets", "fido", "legs", 4).set_cell("pets", "felix", "legs", 4);
/// let page = room_json(&store, &PageQuery { row: Some("fe".into()), ..PageQuery::default() });
/// assert_eq!(page["total"], 1);
/// assert_eq!(page["rows"][0]["id"], "felix");
/// let legs = &page["rows"][0]["cells"]["legs"];
/// assert_eq!(legs["value"], 4.0);
/// assert_eq!(legs["hlc"], "NjEtLV----0mmxrx");
/// assert_eq!((legs["time"].as_u64(), legs["counter"].as_u64()), (Some(1_700_000_000_000), Some(1)));
/// assert_eq!(legs["client"], "mmxrx");
/// ```
pub fn room_json(store: &MergeableStore, query: &PageQuery) -> Json {
    let table_ids = store.get_table_ids();
    let tables: Vec<Json> = table_ids
        .iter()
        .map(|t| json!({"id": t, "rows": store.get_row_count(t)}))
        .collect();
    let table = query
        .table
        .as_ref()
        .filter(|t| table_ids.contains(t))
        .or_else(|| table_ids.first())
        .cloned();
    let limit = query.page_size();
    let mut total = 0;
    let mut cell_ids: Vec<String> = Vec::new();
    let mut rows: Vec<Json> = Vec::new();
    if let Some(table) = &table {
        let search = query.row.as_deref().filter(|s| !s.is_empty());
        let mut page: Vec<String> = Vec::with_capacity(limit);
        match search {
            // Without a search the total is the row count: the scan stops after the page.
            None => {
                total = store.get_row_count(table);
                let mut index = 0;
                store.scan_row_ids(table, |row_id| {
                    if index >= query.offset {
                        page.push(row_id.to_string());
                    }
                    index += 1;
                    page.len() < limit
                });
            }
            Some(search) => store.scan_row_ids(table, |row_id| {
                if row_id.contains(search) {
                    if total >= query.offset && page.len() < limit {
                        page.push(row_id.to_string());
                    }
                    total += 1;
                }
                true
            }),
        }
        for row_id in page {
            let mut cells = Map::new();
            for (cell_id, value, hlc) in store.get_row_stamps(table, &row_id) {
                let Some(value) = value else { continue };
                if !cell_ids.contains(&cell_id) {
                    cell_ids.push(cell_id.clone());
                }
                cells.insert(cell_id, stamped(&value, &hlc));
            }
            rows.push(json!({"id": row_id, "cells": cells}));
        }
    }
    let mut values = Map::new();
    for (value_id, value, hlc) in store.get_value_stamps() {
        if let Some(value) = value {
            values.insert(value_id, stamped(&value, &hlc));
        }
    }
    json!({
        "tables": tables,
        "table": table,
        "total": total,
        "offset": query.offset,
        "limit": limit,
        "cellIds": cell_ids,
        "rows": rows,
        "values": values,
    })
}

/// One edit from the inspector (the `POST /inspector/api/cell` body, less its `path`): set
/// `value` into a cell, or delete it. An empty `table` and `row` together name the value
/// `cell` instead (the page edits values so).
///
/// ```
/// use serde_json::json;
/// use tinystore_core::sync::inspector::Edit;
///
/// let edit: Edit = serde_json::from_value(json!({
///     "path": "petShop", "table": "pets", "row": "fido", "cell": "legs", "value": 4
/// }))?;
/// assert_eq!(edit, Edit::set("pets", "fido", "legs", json!(4)));
/// assert!(Edit::delete("", "", "open").is_value());
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Edit {
    /// The table id (empty, with an empty `row`: a value).
    pub table: String,
    /// The row id.
    pub row: String,
    /// The cell id (or the value id).
    pub cell: String,
    /// The new value (string, finite number, boolean, null, object or array); ignored when
    /// deleting.
    pub value: Json,
    /// Delete the cell (or value) instead of setting it.
    pub delete: bool,
}

impl Edit {
    /// An edit setting `value` into a cell (a value for empty `table` and `row`).
    ///
    /// ```
    /// use serde_json::json;
    /// use tinystore_core::sync::inspector::Edit;
    /// let edit = Edit::set("pets", "fido", "tags", json!(["good", "dog"]));
    /// assert!(!edit.delete && !edit.is_value());
    /// ```
    pub fn set(table: &str, row: &str, cell: &str, value: Json) -> Edit {
        Edit {
            table: table.into(),
            row: row.into(),
            cell: cell.into(),
            value,
            delete: false,
        }
    }

    /// An edit deleting a cell (a value for empty `table` and `row`).
    ///
    /// ```
    /// use tinystore_core::sync::inspector::Edit;
    /// assert!(Edit::delete("pets", "fido", "legs").delete);
    /// ```
    pub fn delete(table: &str, row: &str, cell: &str) -> Edit {
        Edit {
            table: table.into(),
            row: row.into(),
            cell: cell.into(),
            value: Json::Null,
            delete: true,
        }
    }

    /// Whether this edit names a value (empty `table` and `row`) rather than a cell.
    ///
    /// ```
    /// use serde_json::json;
    /// use tinystore_core::sync::inspector::Edit;
    /// assert!(Edit::set("", "", "open", json!(true)).is_value());
    /// assert!(!Edit::set("pets", "", "open", json!(true)).is_value());
    /// ```
    pub fn is_value(&self) -> bool {
        self.table.is_empty() && self.row.is_empty()
    }
}

/// Why [`apply_edit`] did not change the store.
///
/// ```
/// use serde_json::json;
/// use tinystore_core::MergeableStore;
/// use tinystore_core::sync::inspector::{Edit, EditError, apply_edit};
///
/// let store = MergeableStore::new(None);
/// let refused = apply_edit(&store, &Edit::set("pets", "", "legs", json!(4)));
/// assert!(matches!(refused, Err(EditError::EmptyId { what: "row" })));
/// assert_eq!(refused.unwrap_err().http_status(), 400);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EditError {
    /// A table, row or cell id is empty.
    #[error("the {what} id is empty")]
    EmptyId {
        /// `"table"`, `"row"` or `"cell"`.
        what: &'static str,
    },
    /// The value is not one a cell may hold.
    #[error("invalid value: {reason}")]
    InvalidValue {
        /// Why.
        reason: String,
    },
    /// The store did not take the edit (its schema, or one of its listeners).
    #[error("the store refused the edit: {reason}")]
    Refused {
        /// Why, as far as it is known.
        reason: String,
    },
}

impl EditError {
    /// The HTTP status the inspector's API answers this error with: 400 for a bad request,
    /// 409 for an edit the store refused.
    ///
    /// ```
    /// use tinystore_core::sync::inspector::EditError;
    /// assert_eq!(EditError::Refused { reason: "schema".into() }.http_status(), 409);
    /// ```
    pub fn http_status(&self) -> u16 {
        match self {
            EditError::EmptyId { .. } | EditError::InvalidValue { .. } => 400,
            EditError::Refused { .. } => 409,
        }
    }
}

/// The cell a JSON value makes, if it may be stored (spec store.md §1.1).
fn cell_of(value: &Json) -> Result<Cell, EditError> {
    let invalid = |reason: &str| EditError::InvalidValue {
        reason: reason.into(),
    };
    if let Json::Number(n) = value
        && !n.as_f64().is_some_and(f64::is_finite)
    {
        return Err(invalid("numbers must be finite"));
    }
    let cell = Cell::from_json(value.clone());
    if !cell.is_valid() {
        return Err(invalid(
            "strings may not be \"\\uFFFC\" nor start with \"\\uFFFD\"",
        ));
    }
    Ok(cell)
}

/// Sets or deletes one cell (or value) of `store` as [`Edit`] says, after checking the ids and
/// the value. The write is the store's own, so a room's synchronizer sends it to the room's
/// clients with a fresh HLC. A listener's panic is caught and reported as
/// [`EditError::Refused`] (the store keeps what the transaction did before it).
///
/// ```
/// use serde_json::json;
/// use tinystore_core::{Cell, MergeableStore};
/// use tinystore_core::sync::inspector::{Edit, EditError, apply_edit};
///
/// let store = MergeableStore::new(None);
/// apply_edit(&store, &Edit::set("pets", "fido", "tags", json!(["good"])))?;
/// assert_eq!(store.get_cell("pets", "fido", "tags"), Some(Cell::Array(r#"["good"]"#.into())));
/// apply_edit(&store, &Edit::set("", "", "open", json!(true)))?;
/// assert_eq!(store.get_value("open"), Some(Cell::from(true)));
/// apply_edit(&store, &Edit::delete("pets", "fido", "tags"))?;
/// assert!(!store.has_cell("pets", "fido", "tags"));
/// let bad = apply_edit(&store, &Edit::set("pets", "fido", "x", json!("\u{FFFC}")));
/// assert!(matches!(bad, Err(EditError::InvalidValue { .. })));
/// # Ok::<(), EditError>(())
/// ```
pub fn apply_edit(store: &MergeableStore, edit: &Edit) -> Result<(), EditError> {
    let is_value = edit.is_value();
    if !is_value {
        if edit.table.is_empty() {
            return Err(EditError::EmptyId { what: "table" });
        }
        if edit.row.is_empty() {
            return Err(EditError::EmptyId { what: "row" });
        }
    }
    if edit.cell.is_empty() {
        return Err(EditError::EmptyId { what: "cell" });
    }
    let (t, r, c) = (edit.table.as_str(), edit.row.as_str(), edit.cell.as_str());
    let cell = if edit.delete {
        None
    } else {
        Some(cell_of(&edit.value)?)
    };
    let write = AssertUnwindSafe(|| {
        match (&cell, is_value) {
            (Some(cell), false) => store.set_cell(t, r, c, cell.clone()),
            (Some(cell), true) => store.set_value(c, cell.clone()),
            (None, false) => store.del_cell(t, r, c, false),
            (None, true) => store.del_value(c),
        };
    });
    if std::panic::catch_unwind(write).is_err() {
        return Err(EditError::Refused {
            reason: "a listener of the store failed".into(),
        });
    }
    let now = if is_value {
        store.get_value(c)
    } else {
        store.get_cell(t, r, c)
    };
    match (&cell, now) {
        (Some(wanted), Some(now)) if *wanted == now => Ok(()),
        (Some(_), _) => Err(EditError::Refused {
            reason: "the value was not kept (schema or listener)".into(),
        }),
        (None, None) => Ok(()),
        (None, Some(_)) => Err(EditError::Refused {
            reason: "the schema keeps a default for it".into(),
        }),
    }
}

/// The parts of a 16-character HLC: `(time in ms since the epoch, counter, client id)`;
/// `None` for anything else (the empty HLC included).
///
/// ```
/// use tinystore_core::sync::inspector::decode_hlc;
/// assert_eq!(decode_hlc("NjEtLV----0mmxrx"), Some((1_700_000_000_000, 1, "mmxrx".into())));
/// assert_eq!(decode_hlc(""), None);
/// assert_eq!(decode_hlc("not an hlc"), None);
/// ```
pub fn decode_hlc(hlc: &str) -> Option<(u64, u32, String)> {
    let parsed = Hlc::parse(hlc).filter(|h| !h.is_empty())?;
    let (time, counter, client) = parsed.decode();
    Some((time, u32::try_from(counter).ok()?, client.to_string()))
}
