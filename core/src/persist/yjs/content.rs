//! The store's content in the doc's root map, TinyBase's layout: `t` (tables → rows → cells,
//! each level a Y.Map) and `v` (values), read whole and written as TinyBase's
//! `applyChangesToYDoc` writes it.

use yrs::{Map, MapPrelim, MapRef, Out, ReadTxn, TransactionMut};

use super::cells::{cell_from_out, cell_to_any, holds};
use crate::content::{Changes, Row, Table, Tables, Values};
use crate::persist::PersistError;
use crate::store::Store;

const TABLES: &str = "t";
const VALUES: &str = "v";

/// `t` and `v` of a root map that has content; either missing or not a Y.Map is TinyBase's
/// content error.
fn content_maps<T: ReadTxn>(root: &MapRef, txn: &T) -> Result<(MapRef, MapRef), PersistError> {
    let get = |key: &str| match root.get(txn, key) {
        Some(Out::YMap(map)) => Ok(map),
        Some(_) => Err(PersistError::content(format!(
            "the Y.Doc's `{key}` is not a Y.Map"
        ))),
        None => Err(PersistError::content(format!(
            "the Y.Doc's map has content but no `{key}`"
        ))),
    };
    Ok((get(TABLES)?, get(VALUES)?))
}

/// A map's entries, ids sorted: yrs does not expose the order in which the doc got them, and
/// a sorted order at least gives every load the same one.
fn entries<T: ReadTxn>(map: &MapRef, txn: &T) -> Vec<(String, Out)> {
    let mut list: Vec<(String, Out)> = map.iter(txn).map(|(k, v)| (k.to_string(), v)).collect();
    list.sort_by(|a, b| a.0.cmp(&b.0));
    list
}

fn nested_map(out: Out, what: impl FnOnce() -> String) -> Result<MapRef, PersistError> {
    match out {
        Out::YMap(map) => Ok(map),
        _ => Err(PersistError::content(format!("{} is not a Y.Map", what()))),
    }
}

/// The stored content, `None` when the root map is empty (nothing saved yet), as TinyBase's
/// `getPersisted`. Everything is checked before anything is returned.
pub(super) fn read<T: ReadTxn>(
    root: &MapRef,
    txn: &T,
) -> Result<Option<(Tables, Values)>, PersistError> {
    if root.len(txn) == 0 {
        return Ok(None);
    }
    let (y_tables, y_values) = content_maps(root, txn)?;
    let mut tables = Tables::new();
    for (table_id, y_table) in entries(&y_tables, txn) {
        let y_table = nested_map(y_table, || format!("table {table_id:?}"))?;
        let mut table = Table::new();
        for (row_id, y_row) in entries(&y_table, txn) {
            let y_row = nested_map(y_row, || format!("row {table_id:?}/{row_id:?}"))?;
            let mut row = Row::new();
            for (cell_id, out) in entries(&y_row, txn) {
                let cell =
                    cell_from_out(&out, || format!("cell {table_id:?}/{row_id:?}/{cell_id:?}"))?;
                row.insert(cell_id, cell);
            }
            table.insert(row_id, row);
        }
        tables.insert(table_id, table);
    }
    let mut values = Values::new();
    for (value_id, out) in entries(&y_values, txn) {
        let value = cell_from_out(&out, || format!("value {value_id:?}"))?;
        values.insert(value_id, value);
    }
    Ok(Some((tables, values)))
}

/// Writes the store into the doc as TinyBase's `applyChangesToYDoc`: `t` and `v` are created
/// in an empty root map; a transaction's `changes` are applied path by path (deleted tables,
/// rows and cells removed, changed cells set), and a full save (no `changes`) matches the doc
/// to the whole content.
///
/// One difference: where a changed table or row is not in the doc, TinyBase matches the whole
/// doc to the store, deleting every id the store lacks; here that table or row is written
/// whole. Another replica's additions that the store has not loaded yet (they are in the doc,
/// auto-load is about to take them) would otherwise be deleted, on every replica, by a local
/// transaction that merely adds a row.
///
/// Nothing is written when the doc's shape is wrong (a yrs transaction cannot be rolled back,
/// so every check comes before the first change).
pub(super) fn write(
    root: &MapRef,
    txn: &mut TransactionMut,
    store: &Store,
    changes: Option<&Changes>,
) -> Result<(), PersistError> {
    let (y_tables, y_values) = if root.len(txn) == 0 {
        (
            root.insert(txn, TABLES, MapPrelim::default()),
            root.insert(txn, VALUES, MapPrelim::default()),
        )
    } else {
        content_maps(root, txn)?
    };
    match changes {
        Some(changes) => {
            check_changes(&y_tables, txn, changes)?;
            apply_changes(&y_tables, &y_values, txn, store, changes);
        }
        None => {
            let (tables, values) = store.get_content();
            check_matchable(&y_tables, txn, &tables)?;
            match_tables(&y_tables, txn, &tables);
            match_values(&y_values, txn, &values);
        }
    }
    Ok(())
}

/// Every table and row with changed cells must be a Y.Map in the doc, or missing (TinyBase
/// fails on any other entry there too).
fn check_changes(
    y_tables: &MapRef,
    txn: &TransactionMut,
    changes: &Changes,
) -> Result<(), PersistError> {
    for (table_id, rows) in &changes.tables {
        let Some(rows) = rows else { continue };
        match y_tables.get(txn, table_id) {
            None => {}
            Some(Out::YMap(y_table)) => {
                for (row_id, cells) in rows {
                    if cells.is_some() {
                        check_row(&y_table, txn, table_id, row_id)?;
                    }
                }
            }
            Some(_) => return Err(not_a_table(table_id)),
        }
    }
    Ok(())
}

fn check_row(
    y_table: &MapRef,
    txn: &TransactionMut,
    table_id: &str,
    row_id: &str,
) -> Result<(), PersistError> {
    match y_table.get(txn, row_id) {
        None | Some(Out::YMap(_)) => Ok(()),
        Some(_) => Err(PersistError::content(format!(
            "row {table_id:?}/{row_id:?} is not a Y.Map"
        ))),
    }
}

fn not_a_table(table_id: &str) -> PersistError {
    PersistError::content(format!("table {table_id:?} is not a Y.Map"))
}

fn apply_changes(
    y_tables: &MapRef,
    y_values: &MapRef,
    txn: &mut TransactionMut,
    store: &Store,
    changes: &Changes,
) {
    for (table_id, rows) in &changes.tables {
        let Some(rows) = rows else {
            y_tables.remove(txn, table_id);
            continue;
        };
        let Some(Out::YMap(y_table)) = y_tables.get(txn, table_id) else {
            let table = store.get_table(table_id);
            if !table.is_empty() {
                let y_table = y_tables.insert(txn, table_id.as_str(), MapPrelim::default());
                for (row_id, row) in &table {
                    write_row(&y_table, txn, row_id, row);
                }
            }
            continue;
        };
        for (row_id, cells) in rows {
            let Some(cells) = cells else {
                y_table.remove(txn, row_id);
                continue;
            };
            let Some(Out::YMap(y_row)) = y_table.get(txn, row_id) else {
                let row = store.get_row(table_id, row_id);
                if !row.is_empty() {
                    write_row(&y_table, txn, row_id, &row);
                }
                continue;
            };
            for (cell_id, cell) in cells {
                match cell {
                    Some(cell) => {
                        y_row.insert(txn, cell_id.as_str(), cell_to_any(cell));
                    }
                    None => {
                        y_row.remove(txn, cell_id);
                    }
                }
            }
        }
    }
    for (value_id, value) in &changes.values {
        match value {
            Some(value) => {
                y_values.insert(txn, value_id.as_str(), cell_to_any(value));
            }
            None => {
                y_values.remove(txn, value_id);
            }
        }
    }
}

/// A new row map holding `row`.
fn write_row(y_table: &MapRef, txn: &mut TransactionMut, row_id: &str, row: &Row) {
    let y_row = y_table.insert(txn, row_id, MapPrelim::default());
    for (cell_id, cell) in row {
        y_row.insert(txn, cell_id.as_str(), cell_to_any(cell));
    }
}

/// The full match needs a Y.Map at every table and row the store has (TinyBase fails there
/// too); other entries are replaced or deleted.
fn check_matchable(
    y_tables: &MapRef,
    txn: &TransactionMut,
    tables: &Tables,
) -> Result<(), PersistError> {
    for (table_id, table) in tables {
        match y_tables.get(txn, table_id) {
            None => {}
            Some(Out::YMap(y_table)) => {
                for row_id in table.keys() {
                    check_row(&y_table, txn, table_id, row_id)?;
                }
            }
            Some(_) => return Err(not_a_table(table_id)),
        }
    }
    Ok(())
}

/// The Y.Map at `id` in `parent`, created when missing (checked to be a Y.Map or missing).
fn child_map(parent: &MapRef, txn: &mut TransactionMut, id: &str) -> MapRef {
    match parent.get(txn, id) {
        Some(Out::YMap(map)) => map,
        _ => parent.insert(txn, id, MapPrelim::default()),
    }
}

/// Removes the entries of `map` that `keep` rejects.
fn remove_others(map: &MapRef, txn: &mut TransactionMut, keep: impl Fn(&str) -> bool) {
    let stale: Vec<String> = map
        .keys(txn)
        .filter(|id| !keep(id))
        .map(str::to_string)
        .collect();
    for id in stale {
        map.remove(txn, &id);
    }
}

/// TinyBase's `yMapMatch` over tables, rows and cells: cells set where they differ, ids the
/// store lacks deleted, rows and tables left empty deleted.
fn match_tables(y_tables: &MapRef, txn: &mut TransactionMut, tables: &Tables) {
    for (table_id, table) in tables {
        let y_table = child_map(y_tables, txn, table_id);
        for (row_id, row) in table {
            let y_row = child_map(&y_table, txn, row_id);
            for (cell_id, cell) in row {
                if !holds(y_row.get(txn, cell_id).as_ref(), cell) {
                    y_row.insert(txn, cell_id.as_str(), cell_to_any(cell));
                }
            }
            remove_others(&y_row, txn, |id| row.contains_key(id));
            if y_row.len(txn) == 0 {
                y_table.remove(txn, row_id);
            }
        }
        remove_others(&y_table, txn, |id| table.contains_key(id));
        if y_table.len(txn) == 0 {
            y_tables.remove(txn, table_id);
        }
    }
    remove_others(y_tables, txn, |id| tables.contains_key(id));
}

fn match_values(y_values: &MapRef, txn: &mut TransactionMut, values: &Values) {
    for (value_id, value) in values {
        if !holds(y_values.get(txn, value_id).as_ref(), value) {
            y_values.insert(txn, value_id.as_str(), cell_to_any(value));
        }
    }
    remove_others(y_values, txn, |id| values.contains_key(id));
}
