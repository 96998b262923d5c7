//! Setters and deleters: the public writes, and the validated writes they end in.

use crate::content::{Changes, Row, Table, Tables, Values};
use crate::types::{Cell, Text};

use super::Store;
use super::state::State;
use super::validate::{
    ValidRow, ValidTables, add_row_defaults, schema_cell, validate_owned_tables,
    validate_owned_values, validate_row, validate_table, validate_tables, validate_value,
    validate_values, validated_cell,
};

/// Changes to apply, owned (so cells move into the store): per table, per row, the cells (a
/// deletion is `None`), then the values; ids distinct. What a MergeableStore's merge accepted.
#[derive(Debug, Default)]
pub(crate) struct AcceptedChanges {
    pub(crate) tables: Vec<(Text, AcceptedRows)>,
    pub(crate) values: AcceptedLeaves,
}

/// Cells (or values) by id; `None` is a deletion.
pub(crate) type AcceptedLeaves = Vec<(Text, Option<Cell>)>;
/// Rows of one table.
pub(crate) type AcceptedRows = Vec<(Text, AcceptedLeaves)>;

impl Store {
    // ------------------------------------------------------------------ setters

    /// Replaces the content: tables and values (an empty part deletes everything in it).
    ///
    /// ```
    /// use tinystore_core::{Cell, Row, Store, Table, Tables, Values};
    /// let store = Store::new();
    /// store.set_value("old", 1);
    /// let row = Row::from([("legs".into(), Cell::from(4))]);
    /// let tables = Tables::from([("pets".into(), Table::from([("fido".into(), row)]))]);
    /// store.set_content(&tables, &Values::new());
    /// assert!(store.has_row("pets", "fido"));
    /// assert!(!store.has_values());
    /// ```
    pub fn set_content(&self, tables: &Tables, values: &Values) -> &Self {
        self.transaction(|s| {
            s.set_or_del_tables(tables);
            s.set_or_del_values(values);
        });
        self
    }

    /// [`Store::set_content`] taking its arguments, so that their cells move into the store
    /// instead of being copied (a persister's load of megabytes).
    pub(crate) fn set_owned_content(&self, tables: Tables, values: Values) -> &Self {
        self.transaction(|s| {
            if tables.is_empty() {
                s.del_tables();
            } else {
                s.fluent(|st| {
                    if let Some(valid) = validate_owned_tables(st, tables) {
                        set_valid_tables(st, valid);
                    }
                });
            }
            if values.is_empty() {
                s.del_values();
            } else {
                s.fluent(|st| {
                    if let Some(valid) = validate_owned_values(st, values) {
                        set_valid_values(st, valid);
                    }
                });
            }
        });
        self
    }

    /// Replaces all tables (tables absent from the argument are deleted). An argument that is
    /// empty after validation is a no-op.
    ///
    /// ```
    /// use tinystore_core::{Cell, Row, Store, Table, Tables};
    /// let store = Store::new();
    /// store.set_cell("owners", "ann", "age", 30);
    /// let row = Row::from([("legs".into(), Cell::from(4))]);
    /// store.set_tables(&Tables::from([("pets".into(), Table::from([("fido".into(), row)]))]));
    /// assert_eq!(store.get_table_ids(), ["pets"]);
    /// ```
    pub fn set_tables(&self, tables: &Tables) -> &Self {
        self.fluent(|s| {
            if let Some(valid) = validate_tables(s, tables) {
                set_valid_tables(s, valid);
            }
        })
    }

    /// Replaces one table.
    ///
    /// ```
    /// use tinystore_core::{Cell, Row, Store, Table};
    /// let store = Store::new();
    /// store.set_cell("pets", "tom", "legs", 4);
    /// let row = Row::from([("legs".into(), Cell::from(4))]);
    /// store.set_table("pets", &Table::from([("fido".into(), row)]));
    /// assert_eq!(store.get_row_ids("pets"), ["fido"]);
    /// ```
    pub fn set_table(&self, table_id: &str, table: &Table) -> &Self {
        self.fluent(|s| {
            if let Some(valid) = validate_table(s, table_id, table) {
                set_valid_table(s, table_id, valid);
            }
        })
    }

    /// Replaces one row.
    ///
    /// ```
    /// use tinystore_core::{Cell, Row, Store};
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "color", "brown");
    /// store.set_row("pets", "fido", &Row::from([("legs".into(), Cell::from(4))]));
    /// assert_eq!(store.get_cell_ids("pets", "fido"), ["legs"]);
    /// ```
    pub fn set_row(&self, table_id: &str, row_id: &str, row: &Row) -> &Self {
        self.fluent(|s| {
            // A new row with no schema to apply goes straight into its stored form (interned
            // ids, exact length): the same checks, invalid-cell records and end state as
            // `validate_row` + `set_valid_row`, without their two intermediate vectors.
            if s.tables_schema.is_none() && !row.is_empty() && !has_row(s, table_id, row_id) {
                let mut cells = Vec::with_capacity(row.len());
                for (c, v) in row {
                    if let Some(cell) = validated_cell(s, table_id, Some(row_id), c, v.clone()) {
                        cells.push((s.names.intern(c), cell));
                    }
                }
                s.insert_new_row(table_id, row_id, cells);
                return;
            }
            if let Some(valid) = validate_row(s, table_id, Some(row_id), row, false) {
                set_valid_row(s, table_id, row_id, valid);
            }
        })
    }

    /// Adds a row with a generated id (`"0"`, `"1"`, …, reusing ids of deleted rows when
    /// `reuse_row_ids`). Returns the id, or `None` if the row was invalid.
    ///
    /// ```
    /// use tinystore_core::{Cell, Row, Store};
    /// let store = Store::new();
    /// let row = Row::from([("legs".into(), Cell::from(4))]);
    /// assert_eq!(store.add_row("pets", &row, true).as_deref(), Some("0"));
    /// assert_eq!(store.add_row("pets", &row, true).as_deref(), Some("1"));
    /// assert_eq!(store.add_row("pets", &Row::new(), true), None);
    /// ```
    pub fn add_row(&self, table_id: &str, row: &Row, reuse_row_ids: bool) -> Option<String> {
        let mut id = None;
        self.fluent(|s| {
            if let Some(valid) = validate_row(s, table_id, None, row, false) {
                let row_id = s.new_row_id(table_id, reuse_row_ids);
                set_valid_row(s, table_id, &row_id, valid);
                id = Some(row_id.to_string());
            }
        });
        id
    }

    /// Merges cells into a row (creating it, with defaults, if missing).
    ///
    /// ```
    /// use tinystore_core::{Cell, Row, Store};
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "species", "dog");
    /// store.set_partial_row("pets", "fido", &Row::from([("legs".into(), Cell::from(4))]));
    /// assert_eq!(store.get_cell_ids("pets", "fido"), ["species", "legs"]);
    /// ```
    pub fn set_partial_row(&self, table_id: &str, row_id: &str, row: &Row) -> &Self {
        self.fluent(|s| {
            if let Some(valid) = validate_row(s, table_id, Some(row_id), row, true) {
                if has_row(s, table_id, row_id) {
                    for (c, cell) in valid {
                        let c = s.names.intern(&c);
                        s.set_valid_cell(table_id, row_id, c, cell);
                    }
                } else {
                    let with_defaults = add_row_defaults(s, table_id, Some(row_id), valid);
                    set_valid_row(s, table_id, row_id, with_defaults);
                }
            }
        })
    }

    /// Sets one cell.
    ///
    /// ```
    /// use tinystore_core::{Cell, Store};
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "legs", 4).set_cell("pets", "fido", "sold", false);
    /// assert_eq!(store.get_cell("pets", "fido", "sold"), Some(Cell::Boolean(false)));
    /// // Non-finite numbers are not valid cells and are ignored.
    /// store.set_cell("pets", "fido", "legs", f64::NAN);
    /// assert_eq!(store.get_cell("pets", "fido", "legs"), Some(Cell::Number(4.0)));
    /// ```
    #[inline]
    pub fn set_cell(
        &self,
        table_id: &str,
        row_id: &str,
        cell_id: &str,
        cell: impl Into<Cell>,
    ) -> &Self {
        let cell = cell.into();
        self.fluent(|s| set_cell_in(s, table_id, row_id, cell_id, cell))
    }

    /// Sets one cell from its current value (TinyBase's mapper form of `setCell`).
    ///
    /// ```
    /// use tinystore_core::{Cell, Store};
    /// let store = Store::new();
    /// let increment = |old: Option<&Cell>| Cell::from(old.and_then(Cell::as_f64).unwrap_or(0.) + 1.);
    /// store.set_cell_with("pets", "fido", "visits", increment);
    /// store.set_cell_with("pets", "fido", "visits", increment);
    /// assert_eq!(store.get_cell("pets", "fido", "visits"), Some(Cell::Number(2.0)));
    /// ```
    pub fn set_cell_with(
        &self,
        table_id: &str,
        row_id: &str,
        cell_id: &str,
        map: impl FnOnce(Option<&Cell>) -> Cell,
    ) -> &Self {
        let _guard = self.inner.state.lock();
        let old = self.get_cell(table_id, row_id, cell_id);
        let cell = map(old.as_ref());
        self.set_cell(table_id, row_id, cell_id, cell)
    }

    /// Replaces all values.
    ///
    /// ```
    /// use tinystore_core::{Cell, Store, Values};
    /// let store = Store::new();
    /// store.set_value("old", 1);
    /// store.set_values(&Values::from([("open".into(), Cell::from(true))]));
    /// assert_eq!(store.get_value_ids(), ["open"]);
    /// ```
    pub fn set_values(&self, values: &Values) -> &Self {
        self.fluent(|s| {
            if let Some(valid) = validate_values(s, values, false) {
                set_valid_values(s, valid);
            }
        })
    }

    /// Merges values.
    ///
    /// ```
    /// use tinystore_core::{Cell, Store, Values};
    /// let store = Store::new();
    /// store.set_value("open", true);
    /// store.set_partial_values(&Values::from([("limit".into(), Cell::from(10))]));
    /// assert_eq!(store.get_value_ids(), ["open", "limit"]);
    /// ```
    pub fn set_partial_values(&self, values: &Values) -> &Self {
        self.fluent(|s| {
            if let Some(valid) = validate_values(s, values, true) {
                for (v, value) in valid {
                    s.set_valid_value(&v, value);
                }
            }
        })
    }

    /// Sets one value.
    ///
    /// ```
    /// use tinystore_core::{Cell, Store};
    /// let store = Store::new();
    /// store.set_value("open", true).set_value("limit", 10);
    /// assert_eq!(store.get_value("limit"), Some(Cell::Number(10.0)));
    /// ```
    pub fn set_value(&self, value_id: &str, value: impl Into<Cell>) -> &Self {
        let value = value.into();
        self.fluent(|s| {
            if let Some(valid) = validate_value(s, value_id, value) {
                s.set_valid_value(value_id, valid);
            }
        })
    }

    /// Sets one value from its current value.
    ///
    /// ```
    /// use tinystore_core::{Cell, Store};
    /// let store = Store::new();
    /// store.set_value("open", true);
    /// store.set_value_with("open", |old| Cell::from(old != Some(&Cell::Boolean(true))));
    /// assert_eq!(store.get_value("open"), Some(Cell::Boolean(false)));
    /// ```
    pub fn set_value_with(&self, value_id: &str, map: impl FnOnce(Option<&Cell>) -> Cell) -> &Self {
        let _guard = self.inner.state.lock();
        let old = self.get_value(value_id);
        let value = map(old.as_ref());
        self.set_value(value_id, value)
    }

    /// Applies `[tables, values, 1]` changes; `None` deletes at that level.
    ///
    /// ```
    /// use tinystore_core::{Changes, Store};
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "legs", 4).set_value("open", true);
    /// let json = serde_json::json!([{"pets": {"tom": {"legs": 4}}}, {"open": null}, 1]);
    /// let changes = Changes::from_json(&json)?;
    /// store.apply_changes(&changes);
    /// assert_eq!(store.get_row_ids("pets"), ["fido", "tom"]);
    /// assert!(!store.has_value("open"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply_changes(&self, changes: &Changes) -> &Self {
        self.transaction(|s| {
            for (t, table) in &changes.tables {
                match table {
                    None => {
                        s.del_table(t);
                    }
                    Some(rows) => {
                        for (r, row) in rows {
                            match row {
                                None => {
                                    s.del_row(t, r);
                                }
                                // A new row of only valid cells, with no schema to apply,
                                // goes in whole: the same end state and change log as one
                                // `setCell` per cell, without a nested transaction each.
                                Some(cells)
                                    if cells
                                        .values()
                                        .all(|c| c.as_ref().is_some_and(Cell::is_valid))
                                        && s.with(|st| {
                                            st.tables_schema.is_none() && !has_row(st, t, r)
                                        }) =>
                                {
                                    s.with_mut(|st| {
                                        // Straight to the stored form (interned ids, exact
                                        // length): what `set_valid_row` does for a new row.
                                        let mut row = Vec::with_capacity(cells.len());
                                        for (c, v) in cells {
                                            if let Some(v) = v {
                                                row.push((st.names.intern(c), v.clone()));
                                            }
                                        }
                                        st.insert_new_row(t, r, row);
                                    });
                                }
                                Some(cells) => {
                                    for (c, cell) in cells {
                                        match cell {
                                            Some(cell) => s.set_cell(t, r, c, cell.clone()),
                                            None => s.del_cell(t, r, c, false),
                                        };
                                    }
                                }
                            }
                        }
                    }
                }
            }
            for (v, value) in &changes.values {
                match value {
                    Some(value) => s.set_value(v, value.clone()),
                    None => s.del_value(v),
                };
            }
        });
        self
    }

    /// Applies what a merge accepted (owned, so cells move into the store): the same writes,
    /// in the same order and with the same change log, as [`Store::apply_changes`] of the
    /// equivalent [`Changes`], without building one.
    pub(crate) fn apply_accepted(&self, accepted: AcceptedChanges) -> &Self {
        self.transaction(|s| {
            for (t, rows) in accepted.tables {
                for (r, cells) in rows {
                    // A new row of only valid cells, with no schema to apply, goes in whole
                    // (as in `apply_changes`).
                    let whole = cells
                        .iter()
                        .all(|(_, c)| c.as_ref().is_some_and(Cell::is_valid))
                        && s.with(|st| st.tables_schema.is_none() && !has_row(st, &t, &r));
                    if whole {
                        s.with_mut(|st| {
                            let mut row = Vec::with_capacity(cells.len());
                            for (c, v) in cells {
                                if let Some(v) = v {
                                    row.push((st.names.intern(&c), v));
                                }
                            }
                            st.insert_new_row(&t, &r, row);
                        });
                    } else {
                        for (c, cell) in cells {
                            match cell {
                                Some(cell) => s.set_cell(&t, &r, &c, cell),
                                None => s.del_cell(&t, &r, &c, false),
                            };
                        }
                    }
                }
            }
            for (v, value) in accepted.values {
                match value {
                    Some(value) => s.set_value(&v, value),
                    None => s.del_value(&v),
                };
            }
        });
        self
    }

    // ------------------------------------------------------------------ deleters

    /// Deletes every table.
    ///
    /// ```
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "legs", 4).set_value("open", true);
    /// store.del_tables();
    /// assert!(!store.has_tables());
    /// assert!(store.has_values());
    /// ```
    pub fn del_tables(&self) -> &Self {
        self.fluent(|s| {
            let ids: Vec<Text> = s.tables.keys().cloned().collect();
            for t in ids {
                del_table_in(s, &t);
            }
        })
    }

    /// Deletes a table.
    ///
    /// ```
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "legs", 4).set_cell("owners", "ann", "age", 30);
    /// store.del_table("pets");
    /// assert_eq!(store.get_table_ids(), ["owners"]);
    /// ```
    pub fn del_table(&self, table_id: &str) -> &Self {
        self.fluent(|s| del_table_in(s, table_id))
    }

    /// Deletes a row.
    ///
    /// ```
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "legs", 4).set_cell("pets", "tom", "legs", 4);
    /// store.del_row("pets", "fido");
    /// assert_eq!(store.get_row_ids("pets"), ["tom"]);
    /// ```
    pub fn del_row(&self, table_id: &str, row_id: &str) -> &Self {
        self.fluent(|s| del_row_in(s, table_id, row_id))
    }

    /// Deletes a cell. A cell with a schema default is reset to it, unless `force_del`, which
    /// deletes the whole row (TinyBase's `forceDel`).
    ///
    /// ```
    /// use tinystore_core::{Cell, Store};
    /// let store = Store::new();
    /// store.set_tables_schema_json(r#"{"pets": {"legs": {"type": "number", "default": 4}}}"#)?;
    /// store.set_cell("pets", "fido", "legs", 3);
    /// store.del_cell("pets", "fido", "legs", false);
    /// assert_eq!(store.get_cell("pets", "fido", "legs"), Some(Cell::Number(4.0)));
    /// store.del_cell("pets", "fido", "legs", true);
    /// assert!(!store.has_row("pets", "fido"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn del_cell(&self, table_id: &str, row_id: &str, cell_id: &str, force_del: bool) -> &Self {
        self.fluent(|s| del_cell_in(s, table_id, row_id, cell_id, force_del))
    }

    /// Deletes every value (values with a default are reset to it).
    ///
    /// ```
    /// use tinystore_core::{Cell, Store};
    /// let store = Store::new();
    /// store.set_values_schema_json(
    ///     r#"{"limit": {"type": "number", "default": 10}, "open": {"type": "boolean"}}"#,
    /// )?;
    /// store.set_value("limit", 5).set_value("open", true);
    /// store.del_values();
    /// assert_eq!(store.get_value_ids(), ["limit"]);
    /// assert_eq!(store.get_value("limit"), Some(Cell::Number(10.0)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn del_values(&self) -> &Self {
        self.fluent(|s| {
            let ids: Vec<Text> = s.values.keys().cloned().collect();
            for v in ids {
                del_value_in(s, &v);
            }
        })
    }

    /// Deletes a value (reset to its default if it has one).
    ///
    /// ```
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// store.set_value("open", true).set_value("limit", 10);
    /// store.del_value("open");
    /// assert_eq!(store.get_value_ids(), ["limit"]);
    /// ```
    pub fn del_value(&self, value_id: &str) -> &Self {
        self.fluent(|s| del_value_in(s, value_id))
    }
}

// ---------------------------------------------------------------------- valid writes

#[inline]
pub(super) fn has_row(s: &State, t: &str, r: &str) -> bool {
    s.tables.get(t).is_some_and(|x| x.rows.contains_key(r))
}

#[inline]
pub(super) fn set_cell_in(s: &mut State, t: &str, r: &str, c: &str, cell: Cell) {
    let Some(valid) = validated_cell(s, t, Some(r), c, cell) else {
        return;
    };
    // An unused interned id is released when the transaction settles.
    let id = s.names.intern(c);
    let Err(valid) = s.replace_cell(t, r, id, valid) else {
        return;
    };
    if has_row(s, t, r) {
        s.insert_cell(t, r, id, valid);
    } else {
        let row = add_row_defaults(s, t, Some(r), vec![(Text::from(c), valid)]);
        set_valid_row(s, t, r, row);
    }
}

pub(super) fn set_valid_row(s: &mut State, t: &str, r: &str, row: ValidRow) {
    let existed = has_row(s, t, r);
    if !existed {
        // A fresh vector of exactly the row's length: collecting `row.into_iter().map(..)`
        // would reuse `row`'s larger allocation in place ((Text, Cell) is 56 bytes, (u32, Cell)
        // 40), leaving every stored row with 40% unused capacity.
        let mut cells = Vec::with_capacity(row.len());
        cells.extend(row.into_iter().map(|(c, cell)| (s.names.intern(&c), cell)));
        s.insert_new_row(t, r, cells);
        return;
    }
    let mut ids = Vec::with_capacity(row.len());
    for (c, cell) in row {
        let c = s.names.intern(&c);
        ids.push(c);
        s.set_valid_cell(t, r, c, cell);
    }
    if existed {
        let absent: Vec<u32> = s
            .tables
            .get(t)
            .and_then(|x| x.rows.get(r))
            .map(|row| {
                row.cells
                    .iter()
                    .map(|(c, _)| *c)
                    .filter(|c| !ids.contains(c))
                    .collect()
            })
            .unwrap_or_default();
        for c in absent {
            s.del_valid_cell(t, r, c);
        }
    }
}

pub(super) fn set_valid_table(s: &mut State, t: &str, rows: Vec<(Text, ValidRow)>) {
    let keep: Vec<Text> = rows.iter().map(|(r, _)| r.clone()).collect();
    for (r, row) in rows {
        set_valid_row(s, t, &r, row);
    }
    let absent = s
        .tables
        .get(t)
        .map(|x| absent_ids(x.rows.keys(), &keep))
        .unwrap_or_default();
    for r in absent {
        del_row_in(s, t, &r);
    }
}

/// The ids in `existing` that are not in `keep`. A linear scan for a few ids; a hash set for
/// many, so replacing a 100k-row table is not quadratic.
pub(super) fn absent_ids<'a>(existing: impl Iterator<Item = &'a Text>, keep: &[Text]) -> Vec<Text> {
    if keep.len() <= 16 {
        return existing.filter(|id| !keep.contains(id)).cloned().collect();
    }
    let keep: hashbrown::HashSet<&str, foldhash::fast::RandomState> =
        keep.iter().map(Text::as_str).collect();
    existing
        .filter(|id| !keep.contains(id.as_str()))
        .cloned()
        .collect()
}

pub(super) fn set_valid_tables(s: &mut State, tables: ValidTables) {
    let keep: Vec<Text> = tables.iter().map(|(t, _)| t.clone()).collect();
    for (t, rows) in tables {
        set_valid_table(s, &t, rows);
    }
    let absent = absent_ids(s.tables.keys(), &keep);
    for t in absent {
        del_table_in(s, &t);
    }
}

pub(super) fn set_valid_values(s: &mut State, values: ValidRow) {
    let keep: Vec<Text> = values.iter().map(|(v, _)| v.clone()).collect();
    for (v, value) in values {
        s.set_valid_value(&v, value);
    }
    let absent = absent_ids(s.values.keys(), &keep);
    for v in absent {
        del_value_in(s, &v);
    }
}

pub(super) fn del_table_in(s: &mut State, t: &str) {
    let rows: Vec<Text> = s
        .tables
        .get(t)
        .map(|x| x.rows.keys().cloned().collect())
        .unwrap_or_default();
    for r in rows {
        del_row_in(s, t, &r);
    }
}

/// Deletes a row explicitly (`delRow`, rows dropped by `setTable`/`delTable`): its id goes back
/// to the table's `addRow` pool first, as TinyBase's `delValidRow` does. A row emptied by
/// deleting its cells one by one does not release its id.
pub(super) fn del_row_in(s: &mut State, t: &str, r: &str) {
    if has_row(s, t, r) {
        s.release_row_id(t, r);
    }
    del_row_cells(s, t, r);
}

pub(super) fn del_row_cells(s: &mut State, t: &str, r: &str) {
    let cells: Vec<u32> = s
        .tables
        .get(t)
        .and_then(|x| x.rows.get(r))
        .map(|row| row.cells.iter().map(|(c, _)| *c).collect())
        .unwrap_or_default();
    for c in cells {
        s.del_valid_cell(t, r, c);
    }
}

pub(super) fn del_cell_in(s: &mut State, t: &str, r: &str, c: &str, force: bool) {
    let Some(id) = s.names.get(c) else { return };
    if s.cell_ref(t, r, id).is_none() {
        return;
    }
    let default = schema_cell(&s.tables_schema, t, c)
        .flatten()
        .and_then(|cs| cs.default.clone());
    match default {
        Some(default) if !force => s.set_valid_cell(t, r, id, default),
        Some(_) => del_row_cells(s, t, r),
        None => s.del_valid_cell(t, r, id),
    }
}

pub(super) fn del_value_in(s: &mut State, v: &str) {
    if !s.values.contains_key(v) {
        return;
    }
    let default = s
        .values_schema
        .as_ref()
        .and_then(|x| x.value(v))
        .and_then(|vs| vs.default.clone());
    match default {
        Some(default) => s.set_valid_value(v, default),
        None => s.del_valid_value(v),
    }
}

#[cfg(test)]
mod tests {
    use crate::Store;
    use crate::content::content_from_str;

    /// Handing the content over does what copying it does: the same content (schemas and
    /// defaults applied, invalid cells dropped), the same events.
    #[test]
    fn owned_content_is_set_as_borrowed_content_is() {
        let text = r#"[{"t":{"r":{"a":1,"b":"x"},"s":{"a":"no"}},"u":{}},{"v":true,"w":"y"}]"#;
        let schema = r#"{"t":{"a":{"type":"number","default":0},"b":{"type":"string"}}}"#;
        let run = |owned: bool| {
            let store = Store::new();
            store.set_tables_schema_json(schema).unwrap();
            store
                .set_json(r#"[{"t":{"old":{"a":5}}},{"gone":1}]"#)
                .unwrap();
            let events = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
            let seen = events.clone();
            store.add_cell_listener(
                None,
                None,
                None,
                move |_, t, r, c, _, _| seen.lock().unwrap().push(format!("{t}.{r}.{c}")),
                false,
            );
            let (tables, values) = content_from_str(text).unwrap();
            if owned {
                store.set_owned_content(tables, values);
            } else {
                store.set_content(&tables, &values);
            }
            let events = events.lock().unwrap().clone();
            (store.get_json(), events)
        };
        let (json, events) = run(true);
        assert_eq!((json.clone(), events.clone()), run(false));
        assert_eq!(
            json,
            r#"[{"t":{"r":{"a":1,"b":"x"},"s":{"a":0}}},{"v":true,"w":"y"}]"#
        );
        assert!(events.contains(&"t.old.a".to_string()), "{events:?}");
    }
}
