//! Getters and iteration: reading the store's data.

use crate::content::{Row, Table, Tables, Values};
use crate::js::object_order as js_order;
use crate::types::Cell;

use super::state::{self, State};
use super::{SortedRowIdsArgs, Store, sort_row_ids};

impl Store {
    // ------------------------------------------------------------------ getters

    /// `[tables, values]`.
    ///
    /// ```
    /// use tinystore_core::{Cell, Store};
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "legs", 4).set_value("open", true);
    /// let (tables, values) = store.get_content();
    /// assert_eq!(tables["pets"]["fido"]["legs"], Cell::from(4));
    /// assert_eq!(values["open"], Cell::from(true));
    /// ```
    pub fn get_content(&self) -> (Tables, Values) {
        (self.get_tables(), self.get_values())
    }

    /// All tables, in JavaScript object order.
    ///
    /// ```
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "legs", 4).set_cell("pets", "1", "legs", 2);
    /// let tables = store.get_tables();
    /// // As in JavaScript, integer-like keys come first.
    /// assert_eq!(tables["pets"].keys().collect::<Vec<_>>(), ["1", "fido"]);
    /// ```
    pub fn get_tables(&self) -> Tables {
        self.with(|s| {
            let tables = s
                .tables
                .iter()
                .map(|(t, table)| (t.to_string(), table_of(s, table)))
                .collect();
            js_order(tables).into_iter().collect()
        })
    }

    /// Table ids in insertion order.
    ///
    /// ```
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "legs", 4).set_cell("owners", "ann", "age", 30);
    /// assert_eq!(store.get_table_ids(), ["pets", "owners"]);
    /// ```
    pub fn get_table_ids(&self) -> Vec<String> {
        self.with(|s| s.tables.keys().map(|k| k.to_string()).collect())
    }

    /// One table (empty when missing).
    ///
    /// ```
    /// use tinystore_core::{Cell, Store};
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "legs", 4);
    /// assert_eq!(store.get_table("pets")["fido"]["legs"], Cell::from(4));
    /// assert!(store.get_table("owners").is_empty());
    /// ```
    pub fn get_table(&self, table_id: &str) -> Table {
        self.with(|s| {
            s.tables
                .get(table_id)
                .map(|t| table_of(s, t))
                .unwrap_or_default()
        })
    }

    /// Cell ids used by any row of the table, in first-use order.
    ///
    /// ```
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "legs", 4).set_cell("pets", "tom", "color", "grey");
    /// store.set_cell("pets", "tom", "legs", 4);
    /// assert_eq!(store.get_table_cell_ids("pets"), ["legs", "color"]);
    /// ```
    pub fn get_table_cell_ids(&self, table_id: &str) -> Vec<String> {
        self.with(|s| {
            s.tables.get(table_id).map_or_else(Vec::new, |t| {
                t.cell_counts
                    .keys()
                    .map(|c| s.names.name(*c).to_string())
                    .collect()
            })
        })
    }

    /// Number of rows in the table.
    ///
    /// ```
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "legs", 4).set_cell("pets", "tom", "legs", 4);
    /// assert_eq!(store.get_row_count("pets"), 2);
    /// assert_eq!(store.get_row_count("owners"), 0);
    /// ```
    pub fn get_row_count(&self, table_id: &str) -> usize {
        self.with(|s| s.tables.get(table_id).map_or(0, |t| t.rows.len()))
    }

    /// Row ids in insertion order.
    ///
    /// ```
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// store.set_cell("pets", "tom", "legs", 4).set_cell("pets", "fido", "legs", 4);
    /// assert_eq!(store.get_row_ids("pets"), ["tom", "fido"]);
    /// assert!(store.get_row_ids("owners").is_empty());
    /// ```
    pub fn get_row_ids(&self, table_id: &str) -> Vec<String> {
        self.with(|s| {
            s.tables
                .get(table_id)
                .map_or_else(Vec::new, |t| t.rows.keys().map(|k| k.to_string()).collect())
        })
    }

    /// Row ids sorted by a cell (or by id), sliced by offset and limit.
    ///
    /// ```
    /// use tinystore_core::{SortedRowIdsArgs, Store};
    /// let store = Store::new();
    /// for (r, n) in [("a", 3), ("b", 1), ("e", 2)] {
    ///     store.set_cell("t", r, "n", n);
    /// }
    /// store.set_cell("t", "c", "x", 0);
    /// assert_eq!(
    ///     store.get_sorted_row_ids(&SortedRowIdsArgs::new("t").cell_id("n")),
    ///     ["c", "b", "e", "a"]
    /// );
    /// ```
    pub fn get_sorted_row_ids(&self, args: &SortedRowIdsArgs) -> Vec<String> {
        self.with(|s| sort_row_ids(s, args))
    }

    /// One row (empty when missing), in JavaScript object order.
    ///
    /// ```
    /// use tinystore_core::{Cell, Store};
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "legs", 4).set_cell("pets", "fido", "species", "dog");
    /// let row = store.get_row("pets", "fido");
    /// assert_eq!(row.len(), 2);
    /// assert_eq!(row["species"], Cell::from("dog"));
    /// assert!(store.get_row("pets", "tom").is_empty());
    /// ```
    pub fn get_row(&self, table_id: &str, row_id: &str) -> Row {
        self.with(|s| {
            s.tables
                .get(table_id)
                .and_then(|t| t.rows.get(row_id))
                .map(|r| row_of(s, r))
                .unwrap_or_default()
        })
    }

    /// Cell ids of a row in insertion order.
    ///
    /// ```
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "species", "dog").set_cell("pets", "fido", "legs", 4);
    /// assert_eq!(store.get_cell_ids("pets", "fido"), ["species", "legs"]);
    /// ```
    pub fn get_cell_ids(&self, table_id: &str, row_id: &str) -> Vec<String> {
        self.with(|s| {
            s.tables
                .get(table_id)
                .and_then(|t| t.rows.get(row_id))
                .map_or_else(Vec::new, |r| {
                    r.cells
                        .iter()
                        .map(|(c, _)| s.names.name(*c).to_string())
                        .collect()
                })
        })
    }

    /// One cell.
    ///
    /// ```
    /// use tinystore_core::{Cell, Store};
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "legs", 4);
    /// assert_eq!(store.get_cell("pets", "fido", "legs"), Some(Cell::Number(4.0)));
    /// assert_eq!(store.get_cell("pets", "fido", "color"), None);
    /// ```
    #[inline]
    pub fn get_cell(&self, table_id: &str, row_id: &str, cell_id: &str) -> Option<Cell> {
        self.with(|s| s.get_cell(table_id, row_id, cell_id).cloned())
    }

    /// Reads one cell without cloning it.
    ///
    /// ```
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "species", "dog");
    /// let len = store.with_cell("pets", "fido", "species", |cell| {
    ///     cell.and_then(|c| c.as_str()).map(str::len)
    /// });
    /// assert_eq!(len, Some(3));
    /// ```
    #[inline]
    pub fn with_cell<R>(
        &self,
        table_id: &str,
        row_id: &str,
        cell_id: &str,
        f: impl FnOnce(Option<&Cell>) -> R,
    ) -> R {
        let guard = self.inner.state.lock();
        let state = guard.borrow();
        let cell = state.get_cell(table_id, row_id, cell_id);
        f(cell)
    }

    /// All values, in JavaScript object order.
    ///
    /// ```
    /// use tinystore_core::{Cell, Store};
    /// let store = Store::new();
    /// store.set_value("open", true).set_value("limit", 10);
    /// let values = store.get_values();
    /// assert_eq!(values.len(), 2);
    /// assert_eq!(values["limit"], Cell::from(10));
    /// ```
    pub fn get_values(&self) -> Values {
        self.with(|s| {
            let values = s
                .values
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect();
            js_order(values).into_iter().collect()
        })
    }

    /// Value ids in insertion order.
    ///
    /// ```
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// store.set_value("open", true).set_value("limit", 10);
    /// assert_eq!(store.get_value_ids(), ["open", "limit"]);
    /// ```
    pub fn get_value_ids(&self) -> Vec<String> {
        self.with(|s| s.values.keys().map(|k| k.to_string()).collect())
    }

    /// One value.
    ///
    /// ```
    /// use tinystore_core::{Cell, Store};
    /// let store = Store::new();
    /// store.set_value("open", true);
    /// assert_eq!(store.get_value("open"), Some(Cell::Boolean(true)));
    /// assert_eq!(store.get_value("limit"), None);
    /// ```
    pub fn get_value(&self, value_id: &str) -> Option<Cell> {
        self.with(|s| s.values.get(value_id).cloned())
    }

    /// Whether any table exists.
    ///
    /// ```
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// assert!(!store.has_tables());
    /// store.set_cell("pets", "fido", "legs", 4);
    /// assert!(store.has_tables());
    /// ```
    pub fn has_tables(&self) -> bool {
        self.with(|s| !s.tables.is_empty())
    }
    /// Whether the table exists.
    ///
    /// ```
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "legs", 4);
    /// assert!(store.has_table("pets"));
    /// assert!(!store.has_table("owners"));
    /// ```
    pub fn has_table(&self, table_id: &str) -> bool {
        self.with(|s| s.tables.contains_key(table_id))
    }
    /// Whether any row of the table has this cell id.
    ///
    /// ```
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "legs", 4).set_cell("pets", "tom", "color", "grey");
    /// assert!(store.has_table_cell("pets", "color"));
    /// assert!(!store.has_table_cell("pets", "price"));
    /// ```
    pub fn has_table_cell(&self, table_id: &str, cell_id: &str) -> bool {
        self.with(|s| {
            let Some(c) = s.names.get(cell_id) else {
                return false;
            };
            s.tables
                .get(table_id)
                .is_some_and(|t| t.cell_counts.contains_key(&c))
        })
    }
    /// Whether the row exists.
    ///
    /// ```
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "legs", 4);
    /// assert!(store.has_row("pets", "fido"));
    /// assert!(!store.has_row("pets", "tom"));
    /// ```
    pub fn has_row(&self, table_id: &str, row_id: &str) -> bool {
        self.with(|s| {
            s.tables
                .get(table_id)
                .is_some_and(|t| t.rows.contains_key(row_id))
        })
    }
    /// Whether the cell exists (true for a null cell).
    ///
    /// ```
    /// use tinystore_core::{Cell, Store};
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "owner", Cell::Null);
    /// assert!(store.has_cell("pets", "fido", "owner"));
    /// assert!(!store.has_cell("pets", "fido", "legs"));
    /// ```
    pub fn has_cell(&self, table_id: &str, row_id: &str, cell_id: &str) -> bool {
        self.with(|s| s.get_cell(table_id, row_id, cell_id).is_some())
    }
    /// Whether any value exists.
    ///
    /// ```
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// assert!(!store.has_values());
    /// store.set_value("open", true);
    /// assert!(store.has_values());
    /// ```
    pub fn has_values(&self) -> bool {
        self.with(|s| !s.values.is_empty())
    }
    /// Whether the value exists.
    ///
    /// ```
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// store.set_value("open", false);
    /// assert!(store.has_value("open"));
    /// assert!(!store.has_value("limit"));
    /// ```
    pub fn has_value(&self, value_id: &str) -> bool {
        self.with(|s| s.values.contains_key(value_id))
    }

    // ------------------------------------------------------------------ iteration

    /// Calls `f` with each table id. The ids are collected first, so `f` may use the store.
    ///
    /// ```
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "legs", 4).set_cell("owners", "ann", "age", 30);
    /// let mut rows = Vec::new();
    /// store.for_each_table(|t| rows.push((t.to_string(), store.get_row_count(t))));
    /// assert_eq!(rows, [("pets".to_string(), 1), ("owners".to_string(), 1)]);
    /// ```
    pub fn for_each_table(&self, mut f: impl FnMut(&str)) {
        for t in self.get_table_ids() {
            f(&t);
        }
    }
    /// Calls `f` with each cell id used in the table and the number of rows using it.
    ///
    /// ```
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "legs", 4).set_cell("pets", "tom", "legs", 4);
    /// store.set_cell("pets", "tom", "color", "grey");
    /// let mut counts = Vec::new();
    /// store.for_each_table_cell("pets", |c, n| counts.push((c.to_string(), n)));
    /// assert_eq!(counts, [("legs".to_string(), 2), ("color".to_string(), 1)]);
    /// ```
    pub fn for_each_table_cell(&self, table_id: &str, mut f: impl FnMut(&str, usize)) {
        let cells: Vec<(String, usize)> = self.with(|s| {
            s.tables.get(table_id).map_or_else(Vec::new, |t| {
                t.cell_counts
                    .iter()
                    .map(|(c, n)| (s.names.name(*c).to_string(), *n as usize))
                    .collect()
            })
        });
        for (c, n) in cells {
            f(&c, n);
        }
    }
    /// `f(row_id, cells)` for each row of the table, rows and cells in JavaScript object order
    /// as [`Store::get_table`] gives them, under one read of the store and without building
    /// the owned table first (persisters writing a large table). `f` must not use the store.
    #[cfg(feature = "postgres")]
    pub(crate) fn map_rows<T>(
        &self,
        table_id: &str,
        mut f: impl FnMut(&str, &[(&str, &Cell)]) -> T,
    ) -> Vec<T> {
        self.with(|s| {
            let Some(table) = s.tables.get(table_id) else {
                return Vec::new();
            };
            let rows: Vec<(&str, &state::RowData)> = js_order(
                table
                    .rows
                    .iter()
                    .map(|(r, row)| (r.as_str(), row))
                    .collect(),
            );
            rows.into_iter()
                .map(|(r, row)| {
                    let cells: Vec<(&str, &Cell)> = js_order(
                        row.cells
                            .iter()
                            .map(|(c, v)| (s.names.name(*c).as_str(), v))
                            .collect(),
                    );
                    f(r, &cells)
                })
                .collect()
        })
    }

    /// Calls `f` with each row id of the table in order (as [`Store::get_row_ids`]), under one
    /// read of the store and without copying the ids, until `f` returns `false`: a page of a
    /// large table (the sync server's inspector). `f` must not write to the store.
    #[cfg(feature = "ws-server")]
    pub(crate) fn scan_row_ids(&self, table_id: &str, mut f: impl FnMut(&str) -> bool) {
        self.with(|s| {
            if let Some(t) = s.tables.get(table_id) {
                for r in t.rows.keys() {
                    if !f(r.as_str()) {
                        return;
                    }
                }
            }
        });
    }

    /// Calls `f` with each row id of the table.
    ///
    /// ```
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "legs", 4).set_cell("pets", "tom", "legs", 4);
    /// let mut ids = Vec::new();
    /// store.for_each_row("pets", |r| ids.push(r.to_string()));
    /// assert_eq!(ids, ["fido", "tom"]);
    /// ```
    pub fn for_each_row(&self, table_id: &str, mut f: impl FnMut(&str)) {
        for r in self.get_row_ids(table_id) {
            f(&r);
        }
    }
    /// Calls `f` with each cell of the row, in insertion order.
    ///
    /// ```
    /// use tinystore_core::{Cell, Store};
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "species", "dog").set_cell("pets", "fido", "legs", 4);
    /// let mut cells = Vec::new();
    /// store.for_each_cell("pets", "fido", |c, v| cells.push((c.to_string(), v.clone())));
    /// assert_eq!(cells[1], ("legs".to_string(), Cell::from(4)));
    /// ```
    pub fn for_each_cell(&self, table_id: &str, row_id: &str, mut f: impl FnMut(&str, &Cell)) {
        let cells: Vec<(String, Cell)> = self.with(|s| {
            s.tables
                .get(table_id)
                .and_then(|t| t.rows.get(row_id))
                .map_or_else(Vec::new, |r| {
                    r.cells
                        .iter()
                        .map(|(c, v)| (s.names.name(*c).to_string(), v.clone()))
                        .collect()
                })
        });
        for (c, v) in cells {
            f(&c, &v);
        }
    }
    /// Calls `f` with each value, in insertion order.
    ///
    /// ```
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// store.set_value("open", true).set_value("limit", 10);
    /// let mut ids = Vec::new();
    /// store.for_each_value(|v, _| ids.push(v.to_string()));
    /// assert_eq!(ids, ["open", "limit"]);
    /// ```
    pub fn for_each_value(&self, mut f: impl FnMut(&str, &Cell)) {
        let values: Vec<(String, Cell)> = self.with(|s| {
            s.values
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect()
        });
        for (k, v) in values {
            f(&k, &v);
        }
    }
}

// ---------------------------------------------------------------------- reads

pub(super) fn row_of(s: &State, row: &state::RowData) -> Row {
    let cells = row
        .cells
        .iter()
        .map(|(c, v)| (s.names.name(*c).to_string(), v.clone()))
        .collect();
    js_order(cells).into_iter().collect()
}

pub(super) fn table_of(s: &State, table: &state::TableData) -> Table {
    let rows = table
        .rows
        .iter()
        .map(|(r, row)| (r.to_string(), row_of(s, row)))
        .collect();
    js_order(rows).into_iter().collect()
}
