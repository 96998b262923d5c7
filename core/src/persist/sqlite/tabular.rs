//! Tabular mode: Store tables as database tables (spec persist.md §4).
//!
//! A full save rewrites each mapped table (upsert every row, delete rows the Store no longer
//! has); an auto-save of a transaction touches only the rows and columns it changed. Rows are
//! upserted in chunks that stay under SQLite's bound-parameter limit.

use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::{Connection, params_from_iter};

use crate::content::{ChangedTable, Changes, Row, Table, Tables, Values};
use crate::hash::fnv1a;
use crate::json::{self, number_to_js_string};
use crate::store::Store;
use crate::types::{Cell, ENCODED_PREFIX};

use super::{
    PersistError, Persisted, TableSave, TabularConfig, quote_identifier, sql_err, table_columns,
};

/// SQLite's default bound-parameter limit (since 3.32); statements are chunked below it.
const MAX_PARAMS: usize = 32_766;

fn condition_sql(condition: Option<&str>, quoted_table: &str) -> Option<String> {
    condition
        .map(str::trim)
        .filter(|c| !c.is_empty() && *c != "true")
        .map(|c| format!("({})", c.replace("$tableName", quoted_table)))
}

/// A column value as a Cell: NULL is a null Cell, numbers are numbers, encoded JSON text is
/// an object or array. Blobs have no Cell type and are skipped.
fn cell_of(value: ValueRef<'_>) -> Option<Cell> {
    Some(match value {
        ValueRef::Null => Cell::Null,
        ValueRef::Integer(n) => Cell::Number(n as f64),
        ValueRef::Real(f) => Cell::Number(f),
        ValueRef::Text(bytes) => Cell::from_encoded_str(&String::from_utf8_lossy(bytes)),
        ValueRef::Blob(_) => return None,
    })
}

/// A row id column value as TinyBase coerces it to a string.
fn row_id_of(value: ValueRef<'_>) -> Option<String> {
    Some(match value {
        ValueRef::Null => "null".into(),
        ValueRef::Integer(n) => n.to_string(),
        ValueRef::Real(f) => number_to_js_string(f),
        ValueRef::Text(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        ValueRef::Blob(_) => return None,
    })
}

/// A Cell as the value bound for it: booleans as 1/0, objects and arrays as encoded text.
fn sql_of(cell: Option<&Cell>) -> SqlValue {
    match cell {
        None | Some(Cell::Null) => SqlValue::Null,
        Some(Cell::Boolean(b)) => SqlValue::Integer(i64::from(*b)),
        Some(Cell::Number(n)) => {
            if n.fract() == 0.0
                && n.abs() < 9.007_199_254_740_992e15
                && !(*n == 0.0 && n.is_sign_negative())
            {
                SqlValue::Integer(*n as i64)
            } else {
                SqlValue::Real(*n)
            }
        }
        Some(Cell::String(s)) => SqlValue::Text(s.to_string()),
        Some(Cell::Object(t) | Cell::Array(t)) => SqlValue::Text(format!("{ENCODED_PREFIX}{t}")),
    }
}

pub(super) fn read(
    conn: &Connection,
    config: &TabularConfig,
) -> Result<Option<Persisted>, PersistError> {
    // A database with none of the mapped tables holds nothing yet (initial content applies).
    let mut any = table_columns(conn, &config.values_table)?.is_some()
        && config.values_load != super::ValueSelection::None;
    for load in &config.load {
        any |= table_columns(conn, &load.db_table)?.is_some();
    }
    if !any {
        return Ok(None);
    }
    let mut tables = Tables::new();
    for load in &config.load {
        if load.db_table == config.values_table || tables.contains_key(&load.table_id) {
            continue;
        }
        let Some(columns) = table_columns(conn, &load.db_table)? else {
            continue;
        };
        let Some(id_index) = columns.iter().position(|c| *c == load.row_id_column) else {
            continue;
        };
        let quoted = quote_identifier(&load.db_table);
        let mut sql = format!("SELECT*FROM{quoted}");
        if let Some(cond) = condition_sql(load.condition.as_deref(), &quoted) {
            sql.push_str(&format!("WHERE{cond}"));
        }
        let mut stmt = conn.prepare(&sql).map_err(sql_err)?;
        let names: Vec<String> = stmt.column_names().map(str::to_string).collect();
        let mut table = Table::new();
        let mut rows = stmt.query([]).map_err(sql_err)?;
        while let Some(row) = rows.next().map_err(sql_err)? {
            let Some(row_id) = row_id_of(row.get_ref(id_index).map_err(sql_err)?) else {
                continue;
            };
            // (Sized once: grown one cell at a time, a row of ten reallocates three times.)
            let mut cells = Row::with_capacity(names.len().saturating_sub(1));
            for (i, name) in names.iter().enumerate() {
                if i == id_index {
                    continue;
                }
                if let Some(cell) = cell_of(row.get_ref(i).map_err(sql_err)?) {
                    cells.insert(name.clone(), cell);
                }
            }
            if !cells.is_empty() {
                table.insert(row_id, cells);
            }
        }
        if !table.is_empty() {
            tables.insert(load.table_id.clone(), table);
        }
    }
    let mut values = Values::new();
    if config.values_load != super::ValueSelection::None
        && let Some(columns) = table_columns(conn, &config.values_table)?
        && columns.iter().any(|c| c == "_id")
    {
        let quoted = quote_identifier(&config.values_table);
        let mut stmt = conn
            .prepare(&format!("SELECT*FROM{quoted}WHERE\"_id\"='_'"))
            .map_err(sql_err)?;
        let names: Vec<String> = stmt.column_names().map(str::to_string).collect();
        let mut rows = stmt.query([]).map_err(sql_err)?;
        if let Some(row) = rows.next().map_err(sql_err)? {
            for (i, name) in names.iter().enumerate() {
                if name == "_id" || !config.values_load.includes(name) {
                    continue;
                }
                if let Some(value) = cell_of(row.get_ref(i).map_err(sql_err)?) {
                    values.insert(name.clone(), value);
                }
            }
        }
    }
    Ok(Some(Persisted::Content(tables, values)))
}

/// Makes sure the table exists with at least these columns; returns all its columns.
fn ensure_columns(
    conn: &Connection,
    db_table: &str,
    id_column: &str,
    cells: &[String],
) -> Result<Vec<String>, PersistError> {
    let quoted = quote_identifier(db_table);
    let mut columns = match table_columns(conn, db_table)? {
        Some(columns) => columns,
        None => {
            let mut sql = format!(
                "CREATE TABLE{quoted}({} PRIMARY KEY",
                quote_identifier(id_column)
            );
            for c in cells {
                sql.push(',');
                sql.push_str(&quote_identifier(c));
            }
            sql.push(')');
            conn.execute(&sql, []).map_err(sql_err)?;
            let mut all = vec![id_column.to_string()];
            all.extend(cells.iter().cloned());
            return Ok(all);
        }
    };
    if !columns.iter().any(|c| c == id_column) {
        return Err(PersistError::content(format!(
            "table {db_table} has no row id column {id_column}"
        )));
    }
    ensure_unique_id(conn, db_table, id_column)?;
    for c in cells {
        if !columns.contains(c) {
            conn.execute(
                &format!("ALTER TABLE{quoted}ADD{}", quote_identifier(c)),
                [],
            )
            .map_err(sql_err)?;
            columns.push(c.clone());
        }
    }
    Ok(columns)
}

/// An existing table's row id column needs a single-column unique index for upserts; TinyBase
/// names the one it creates `tinybase_pk_<fnv1a of [table, column] as JSON>`.
fn ensure_unique_id(
    conn: &Connection,
    db_table: &str,
    id_column: &str,
) -> Result<(), PersistError> {
    let unique: bool = conn
        .query_row(
            "SELECT c.pk OR EXISTS(SELECT 1 FROM pragma_index_list(?1)i,pragma_index_info(i.name)ii \
             WHERE i.\"unique\"=1 AND ii.name=c.name AND(SELECT count(*) FROM pragma_index_info(i.name))=1) \
             FROM pragma_table_info(?1)c WHERE c.name=?2",
            rusqlite::params![db_table, id_column],
            |row| row.get(0),
        )
        .map_err(sql_err)?;
    if !unique {
        let key = json::stringify(&serde_json::json!([db_table, id_column]));
        conn.execute(
            &format!(
                "CREATE UNIQUE INDEX IF NOT EXISTS{}ON{}({})",
                quote_identifier(&format!("tinybase_pk_{}", fnv1a(key.as_bytes()))),
                quote_identifier(db_table),
                quote_identifier(id_column)
            ),
            [],
        )
        .map_err(sql_err)?;
    }
    Ok(())
}

/// `INSERT INTO t(id,c…)VALUES` and `ON CONFLICT(id)DO UPDATE SET c=excluded.c…`: an upsert's
/// text around its row tuples.
fn upsert_sql(db_table: &str, id_column: &str, columns: &[String]) -> (String, String) {
    let quoted = quote_identifier(db_table);
    let id = quote_identifier(id_column);
    let cols: Vec<String> = columns.iter().map(|c| quote_identifier(c)).collect();
    let action = if cols.is_empty() {
        "DO NOTHING".to_string()
    } else {
        format!(
            "DO UPDATE SET{}",
            cols.iter()
                .map(|c| format!("{c}=excluded.{c}"))
                .collect::<Vec<_>>()
                .join(",")
        )
    };
    let head = format!(
        "INSERT INTO{quoted}({id}{}{})VALUES",
        if cols.is_empty() { "" } else { "," },
        cols.join(",")
    );
    (head, format!("ON CONFLICT({id}){action}"))
}

/// Upserts rows `(id, [cell per column])` over `columns`, in chunks under the parameter limit.
fn upsert(
    conn: &Connection,
    db_table: &str,
    id_column: &str,
    columns: &[String],
    rows: &[(String, Vec<SqlValue>)],
) -> Result<(), PersistError> {
    if rows.is_empty() {
        return Ok(());
    }
    let width = columns.len() + 1;
    let per_statement = (MAX_PARAMS / width).max(1);
    let row_sql = format!("({})", vec!["?"; width].join(","));
    let (head, tail) = upsert_sql(db_table, id_column, columns);
    for chunk in rows.chunks(per_statement) {
        let sql = format!(
            "{head}{}{tail}",
            vec![row_sql.as_str(); chunk.len()].join(",")
        );
        let mut stmt = conn.prepare_cached(&sql).map_err(sql_err)?;
        let params = chunk.iter().flat_map(|(row_id, cells)| {
            std::iter::once(SqlValue::Text(row_id.clone())).chain(cells.iter().cloned())
        });
        stmt.execute(params_from_iter(params)).map_err(sql_err)?;
    }
    Ok(())
}

fn delete_rows(
    conn: &Connection,
    db_table: &str,
    id_column: &str,
    condition: Option<&str>,
    ids: &[String],
) -> Result<(), PersistError> {
    let quoted = quote_identifier(db_table);
    let cond = condition_sql(condition, &quoted).map_or(String::new(), |c| format!("{c}AND"));
    for chunk in ids.chunks(MAX_PARAMS - 1) {
        let sql = format!(
            "DELETE FROM{quoted}WHERE{cond}{} IN({})",
            quote_identifier(id_column),
            vec!["?"; chunk.len()].join(",")
        );
        conn.execute(&sql, params_from_iter(chunk.iter()))
            .map_err(sql_err)?;
    }
    Ok(())
}

fn save_condition<'a>(config: &'a TabularConfig, save: &'a TableSave) -> Option<&'a str> {
    save.condition.as_deref().or_else(|| {
        config
            .load
            .iter()
            .find(|l| l.db_table == save.db_table)
            .and_then(|l| l.condition.as_deref())
    })
}

pub(super) fn write(
    conn: &Connection,
    config: &TabularConfig,
    store: &Store,
    changes: Option<&Changes>,
) -> Result<(), PersistError> {
    for save in &config.save {
        if save.db_table == config.values_table {
            continue;
        }
        match changes {
            None => save_table(conn, config, save, store)?,
            Some(changes) => {
                if let Some(table_changes) = changes.tables.get(&save.table_id) {
                    save_table_changes(conn, config, save, store, table_changes.as_ref())?;
                }
            }
        }
    }
    if config.values_save != super::ValueSelection::None {
        save_values(conn, config, store, changes)?;
    }
    Ok(())
}

fn save_table(
    conn: &Connection,
    config: &TabularConfig,
    save: &TableSave,
    store: &Store,
) -> Result<(), PersistError> {
    let cond = save_condition(config, save);
    let quoted = quote_identifier(&save.db_table);
    let cell_ids = store.get_table_cell_ids(&save.table_id);
    if cell_ids.is_empty() {
        if table_columns(conn, &save.db_table)?.is_some() {
            let sql = if save.delete_empty_table && condition_sql(cond, &quoted).is_none() {
                format!("DROP TABLE{quoted}")
            } else {
                let c = condition_sql(cond, &quoted).map_or(String::new(), |c| format!("WHERE{c}"));
                format!("DELETE FROM{quoted}{c}")
            };
            conn.execute(&sql, []).map_err(sql_err)?;
        }
        return Ok(());
    }
    let mut columns = ensure_columns(conn, &save.db_table, &save.row_id_column, &cell_ids)?;
    columns.retain(|c| *c != save.row_id_column);
    if save.delete_empty_columns {
        for c in columns.iter().filter(|c| !cell_ids.contains(c)) {
            conn.execute(
                &format!("ALTER TABLE{quoted}DROP{}", quote_identifier(c)),
                [],
            )
            .map_err(sql_err)?;
        }
        columns.retain(|c| cell_ids.contains(c));
    }
    let stored_rows = upsert_table(conn, save, &columns, store)?;
    // Rows the store no longer has (within the save condition) go. Every stored row is in the
    // table now, so when the table holds no more rows than the store there is nothing to
    // delete, and the ids need not be read back.
    let where_cond = condition_sql(cond, &quoted).map_or(String::new(), |c| format!("WHERE{c}"));
    let in_db: i64 = conn
        .query_row(
            &format!("SELECT count(*) FROM{quoted}{where_cond}"),
            [],
            |r| r.get(0),
        )
        .map_err(sql_err)?;
    if in_db <= stored_rows as i64 {
        return Ok(());
    }
    let mut stmt = conn
        .prepare(&format!(
            "SELECT {} FROM{quoted}{where_cond}",
            quote_identifier(&save.row_id_column),
        ))
        .map_err(sql_err)?;
    let existing: Vec<String> = stmt
        .query_map([], |row| Ok(row_id_of(row.get_ref(0)?)))
        .map_err(sql_err)?
        .filter_map(|r| r.ok().flatten())
        .collect();
    let gone: Vec<String> = store.with(|s| {
        let rows = s.tables.get(save.table_id.as_str()).map(|t| &t.rows);
        existing
            .into_iter()
            .filter(|r| rows.is_none_or(|rows| rows.get(r.as_str()).is_none()))
            .collect()
    });
    delete_rows(conn, &save.db_table, &save.row_id_column, cond, &gone)
}

/// Binds a cell as [`sql_of`] converts it, without copying strings first.
fn bind_cell(
    stmt: &mut rusqlite::Statement<'_>,
    index: usize,
    cell: Option<&Cell>,
) -> rusqlite::Result<()> {
    match cell {
        Some(Cell::String(s)) => stmt.raw_bind_parameter(index, s.as_str()),
        Some(Cell::Object(_) | Cell::Array(_)) | Some(Cell::Boolean(_) | Cell::Number(_)) => {
            stmt.raw_bind_parameter(index, sql_of(cell))
        }
        None | Some(Cell::Null) => stmt.raw_bind_parameter(index, rusqlite::types::Null),
    }
}

/// Upserts every row of the store's table with one prepared single-row statement, reading
/// the cells in place (the caller holds the store lock for the whole save). Returns the number
/// of rows written.
fn upsert_table(
    conn: &Connection,
    save: &TableSave,
    columns: &[String],
    store: &Store,
) -> Result<usize, PersistError> {
    let (head, tail) = upsert_sql(&save.db_table, &save.row_id_column, columns);
    let sql = format!("{head}({}){tail}", vec!["?"; columns.len() + 1].join(","));
    let mut stmt = conn.prepare_cached(&sql).map_err(sql_err)?;
    store.with(|s| {
        let Some(table) = s.tables.get(save.table_id.as_str()) else {
            return Ok(0);
        };
        let ids: Vec<Option<u32>> = columns.iter().map(|c| s.names.get(c)).collect();
        for (row_id, row) in table.rows.iter() {
            stmt.raw_bind_parameter(1, row_id.as_str())
                .map_err(sql_err)?;
            for (i, cell_id) in ids.iter().enumerate() {
                let cell = cell_id.and_then(|c| row.get(c));
                bind_cell(&mut stmt, i + 2, cell).map_err(sql_err)?;
            }
            stmt.raw_execute().map_err(sql_err)?;
        }
        Ok(table.rows.len())
    })
}

fn save_table_changes(
    conn: &Connection,
    config: &TabularConfig,
    save: &TableSave,
    store: &Store,
    changes: Option<&ChangedTable>,
) -> Result<(), PersistError> {
    let cond = save_condition(config, save);
    let quoted = quote_identifier(&save.db_table);
    let Some(rows) = changes else {
        // The whole table was deleted.
        if table_columns(conn, &save.db_table)?.is_some() {
            let c = condition_sql(cond, &quoted).map_or(String::new(), |c| format!("WHERE{c}"));
            conn.execute(&format!("DELETE FROM{quoted}{c}"), [])
                .map_err(sql_err)?;
        }
        return Ok(());
    };
    let mut deleted = Vec::new();
    for (r, cells) in rows {
        match cells {
            None => deleted.push(r.clone()),
            Some(cells) => {
                let ids: Vec<String> = cells.keys().cloned().collect();
                ensure_columns(conn, &save.db_table, &save.row_id_column, &ids)?;
                let values: Vec<SqlValue> = ids
                    .iter()
                    .map(|c| sql_of(store.get_cell(&save.table_id, r, c).as_ref()))
                    .collect();
                upsert(
                    conn,
                    &save.db_table,
                    &save.row_id_column,
                    &ids,
                    &[(r.clone(), values)],
                )?;
            }
        }
    }
    if !deleted.is_empty() && table_columns(conn, &save.db_table)?.is_some() {
        delete_rows(conn, &save.db_table, &save.row_id_column, cond, &deleted)?;
    }
    Ok(())
}

fn save_values(
    conn: &Connection,
    config: &TabularConfig,
    store: &Store,
    changes: Option<&Changes>,
) -> Result<(), PersistError> {
    let table = &config.values_table;
    let quoted = quote_identifier(table);
    let selected = |id: &str| config.values_save.includes(id);
    let ids: Vec<String> = match changes {
        Some(changes) => changes
            .values
            .keys()
            .filter(|v| selected(v))
            .cloned()
            .collect(),
        None => store
            .get_value_ids()
            .into_iter()
            .filter(|v| selected(v))
            .collect(),
    };
    if changes.is_none() {
        // Full save: the values table holds exactly the selected values (empty columns and an
        // empty table are always dropped for values).
        let Some(columns) = table_columns(conn, table)? else {
            if ids.is_empty() {
                return Ok(());
            }
            ensure_columns(conn, table, "_id", &ids)?;
            return upsert_values(conn, table, store, &ids);
        };
        let managed: Vec<&String> = columns
            .iter()
            .filter(|c| *c != "_id" && selected(c))
            .collect();
        let unmanaged = columns
            .iter()
            .filter(|c| *c != "_id" && !selected(c))
            .count();
        if ids.is_empty() && unmanaged == 0 {
            conn.execute(&format!("DROP TABLE{quoted}"), [])
                .map_err(sql_err)?;
            return Ok(());
        }
        for c in managed.into_iter().filter(|c| !ids.contains(c)) {
            conn.execute(
                &format!("ALTER TABLE{quoted}DROP{}", quote_identifier(c)),
                [],
            )
            .map_err(sql_err)?;
        }
    }
    if ids.is_empty() {
        return Ok(());
    }
    ensure_columns(conn, table, "_id", &ids)?;
    upsert_values(conn, table, store, &ids)
}

fn upsert_values(
    conn: &Connection,
    table: &str,
    store: &Store,
    ids: &[String],
) -> Result<(), PersistError> {
    let values: Vec<SqlValue> = ids
        .iter()
        .map(|v| sql_of(store.get_value(v).as_ref()))
        .collect();
    upsert(conn, table, "_id", ids, &[("_".to_string(), values)])
}
