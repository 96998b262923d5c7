//! TinyBase's table commands for PostgreSQL (its `getCommandFunctions` with the PostgreSQL
//! dialect): every column is `text`, cells are stored as their `JSON.stringify` in tabular
//! mode, the managed tables' columns are read from `information_schema` before each load or
//! save, and a save creates tables, adds and drops columns, upserts and deletes as TinyBase's
//! does, so that either side reads what the other wrote.
//!
//! Two differences in the statements, not in what they do: rows are upserted and kept through
//! arrays (`unnest($1::text[],…)`, `<>ALL($1)`) instead of one placeholder per value, so a
//! table of any size is one statement (PostgreSQL allows 65,535 placeholders), and a column
//! that is not text is read as its JSON (`to_json`), so it reads as TinyBase's driver would
//! give it.

use std::collections::HashMap;

use bytes::{Bytes, BytesMut};
use serde_json::Value as Json;
use tokio_postgres::Client;
use tokio_postgres::types::Type;

use super::connection::pg_err;
use crate::hash::fnv1a;
use crate::json::{self, number_to_js_string};
use crate::persist::config::quote_identifier;
use crate::persist::{PersistError, PostgresError};

/// The managed tables' columns in `public`, in column order, and whether each is alone in a
/// unique index (a primary key, a unique constraint, or a unique index like TinyBase's
/// `tinybase_pk_<hash>`). TinyBase asks `information_schema` (constraints only); the catalog
/// answers the same question an order of magnitude faster, and this runs before every load
/// and save.
const SCHEMA_SQL: &str = "SELECT c.relname::text tn,a.attname::text cn,EXISTS(SELECT 1 FROM pg_index i WHERE i.indrelid=c.oid AND i.indisunique AND i.indnkeyatts=1 AND i.indkey[0]=a.attnum AND i.indpred IS NULL)uq FROM pg_class c JOIN pg_namespace n ON n.oid=c.relnamespace JOIN pg_attribute a ON a.attrelid=c.oid WHERE n.nspname='public'AND c.relkind IN('r','p')AND c.relname=ANY($1)AND a.attnum>0 AND NOT a.attisdropped ORDER BY c.relname,a.attnum";

/// The managed tables' columns, as last read (TinyBase's `schemaMap` and `uniqueSchemaMap`).
#[derive(Debug, Default)]
pub(crate) struct Schema {
    columns: HashMap<String, Vec<String>>,
    unique: HashMap<String, Vec<String>>,
}

impl Schema {
    pub(crate) async fn read(client: &Client, managed: &[String]) -> Result<Schema, PersistError> {
        let rows = client
            .query(SCHEMA_SQL, &[&managed])
            .await
            .map_err(pg_err("reading the tables' columns"))?;
        let mut schema = Schema::default();
        for row in rows {
            let table: String = row.try_get(0).map_err(pg_err("reading a table name"))?;
            let column: String = row.try_get(1).map_err(pg_err("reading a column name"))?;
            let unique: bool = row.try_get(2).map_err(pg_err("reading a column's key"))?;
            let columns = schema.columns.entry(table.clone()).or_default();
            if !columns.contains(&column) {
                columns.push(column.clone());
            }
            if unique {
                let keys = schema.unique.entry(table).or_default();
                if !keys.contains(&column) {
                    keys.push(column);
                }
            }
        }
        Ok(schema)
    }

    pub(crate) fn has_table(&self, table: &str) -> bool {
        self.columns.contains_key(table)
    }

    fn can_select(&self, table: &str, row_id_column: &str) -> bool {
        self.columns
            .get(table)
            .is_some_and(|c| c.iter().any(|n| n == row_id_column))
    }
}

/// How a column's value becomes a cell (tabular mode parses the stored JSON text; JSON mode
/// takes the document text as it is).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decode {
    Json,
    Raw,
}

/// One loaded row: its id and its columns (without the id column).
pub(crate) type LoadedRow = (String, Vec<(String, Json)>);

fn row_id_of(value: &Json) -> String {
    match value {
        Json::String(s) => s.clone(),
        Json::Null => "null".into(),
        Json::Bool(b) => b.to_string(),
        Json::Number(n) => number_to_js_string(n.as_f64().unwrap_or(f64::NAN)),
        other => json::stringify(other),
    }
}

fn where_sql(table: &str, condition: Option<&str>, extra: Option<&str>) -> String {
    let mut parts = Vec::new();
    if let Some(c) = condition.map(str::trim).filter(|c| *c != "true") {
        parts.push(format!(
            "({})",
            c.replace("$tableName", &quote_identifier(table))
        ));
    }
    if let Some(extra) = extra {
        parts.push(extra.to_string());
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("WHERE{}", parts.join("AND"))
    }
}

/// TinyBase's `loadTable`: the rows of `table` meeting `condition`, each with its columns
/// (only `sub_ids` when given), without rows left empty; nothing when the table or its row id
/// column does not exist.
pub(crate) async fn load_table(
    client: &Client,
    schema: &Schema,
    table: &str,
    row_id_column: &str,
    condition: Option<&str>,
    sub_ids: Option<&[String]>,
    decode: Decode,
) -> Result<Vec<LoadedRow>, PersistError> {
    if !schema.can_select(table, row_id_column) {
        return Ok(Vec::new());
    }
    let context = || format!("reading {table}");
    let from = format!(
        "FROM{}{}",
        quote_identifier(table),
        where_sql(table, condition, None)
    );
    // Text columns (all of TinyBase's) are read as they are; a column of another type is read
    // as its JSON, which is what TinyBase's driver makes of it.
    let probe = client
        .prepare(&format!("SELECT*{from}"))
        .await
        .map_err(pg_err(context()))?;
    let as_json: Vec<bool> = probe
        .columns()
        .iter()
        .map(|c| {
            !matches!(
                *c.type_(),
                Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME
            )
        })
        .collect();
    let names: Vec<String> = probe
        .columns()
        .iter()
        .map(|c| c.name().to_string())
        .collect();
    let statement = if as_json.iter().any(|j| *j) {
        let list = names
            .iter()
            .zip(&as_json)
            .map(|(name, json)| {
                if *json {
                    format!("to_json({})::text", quote_identifier(name))
                } else {
                    quote_identifier(name)
                }
            })
            .collect::<Vec<_>>()
            .join(",");
        client
            .prepare(&format!("SELECT {list} {from}"))
            .await
            .map_err(pg_err(context()))?
    } else {
        probe
    };
    let Some(id_index) = names.iter().position(|n| n == row_id_column) else {
        return Ok(Vec::new());
    };
    let rows = client
        .query(&statement, &[])
        .await
        .map_err(pg_err(context()))?;
    let mut loaded = Vec::with_capacity(rows.len());
    for row in rows {
        let mut id = None;
        let mut cells = Vec::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            if i != id_index && sub_ids.is_some_and(|ids| !ids.contains(name)) {
                continue;
            }
            let text: Option<String> = row.try_get(i).map_err(pg_err(context()))?;
            let value = match text {
                None => Json::Null,
                Some(text) if as_json[i] => {
                    json::parse(&text).map_err(PersistError::content_from)?
                }
                Some(text) => Json::String(text),
            };
            if i == id_index {
                id = Some(row_id_of(&value));
                continue;
            }
            let value = match (decode, value) {
                (Decode::Raw, v) | (Decode::Json, v @ (Json::Null | Json::Bool(_) | Json::Number(_))) => v,
                (Decode::Json, Json::String(s)) => json::parse(&s).map_err(|e| {
                    PersistError::content(format!(
                        "column {name} of {table} holds text that is not JSON ({e}); tabular mode stores each cell as JSON"
                    ))
                })?,
                (Decode::Json, _) => {
                    return Err(PersistError::content(format!(
                        "column {name} of {table} is of a JSON type; tabular mode stores each cell as JSON text"
                    )));
                }
            };
            cells.push((name.clone(), value));
        }
        if let Some(id) = id
            && !cells.is_empty()
        {
            loaded.push((id, cells));
        }
    }
    Ok(loaded)
}

/// A row to save: its id and its cells as stored text (`None`: `NULL`, a cell the row lacks or
/// deleted); the row itself `None` when it is deleted (partial saves).
pub(crate) type SavedRow = (String, Option<Vec<(String, Option<String>)>>);

/// What [`save_table`] is told to do, as TinyBase's `saveTable` arguments.
#[derive(Debug)]
pub(crate) struct Save<'a> {
    pub table: &'a str,
    pub row_id_column: &'a str,
    /// `None`: the whole table is gone (partial saves) or has no content.
    pub content: Option<&'a [SavedRow]>,
    pub delete_empty_columns: bool,
    pub delete_empty_table: bool,
    pub partial: bool,
    pub condition: Option<&'a str>,
    pub sub_ids: Option<&'a [String]>,
}

fn push_new(list: &mut Vec<String>, name: &str) {
    if !list.iter().any(|n| n == name) {
        list.push(name.to_string());
    }
}

/// TinyBase's `saveTable` for PostgreSQL.
pub(crate) async fn save_table(
    client: &Client,
    schema: &mut Schema,
    save: Save<'_>,
) -> Result<(), PersistError> {
    let Save {
        table,
        row_id_column,
        content,
        delete_empty_columns,
        delete_empty_table,
        partial,
        condition,
        sub_ids,
    } = save;
    let included = |id: &str| sub_ids.is_none_or(|ids| ids.iter().any(|i| i == id));
    let quoted = quote_identifier(table);
    let err = |what: &str| pg_err(format!("{what} {table}"));
    let mut setting: Vec<String> = Vec::new();
    for (_, row) in content.unwrap_or_default() {
        for (cell, _) in row.as_deref().unwrap_or_default() {
            if included(cell) {
                push_new(&mut setting, cell);
            }
        }
    }
    let condition_is_true = condition.is_none_or(|c| c.trim() == "true");
    if sub_ids.is_none()
        && !partial
        && delete_empty_table
        && condition_is_true
        && setting.is_empty()
        && schema.has_table(table)
    {
        client
            .batch_execute(&format!("DROP TABLE{quoted}"))
            .await
            .map_err(err("dropping"))?;
        schema.columns.remove(table);
        schema.unique.remove(table);
        return Ok(());
    }
    let mut unaccounted: Vec<String> = schema
        .columns
        .get(table)
        .map(|columns| {
            columns
                .iter()
                .filter(|c| *c == row_id_column || included(c))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    // A table this save creates is empty: its rows are inserted without a conflict clause and
    // there is nothing to delete.
    let mut created = false;
    if !setting.is_empty() {
        if !schema.has_table(table) {
            let mut sql = format!(
                "CREATE TABLE{quoted}({}text PRIMARY KEY",
                quote_identifier(row_id_column)
            );
            for column in &setting {
                sql.push(',');
                sql.push_str(&quote_identifier(column));
                sql.push_str("text");
            }
            sql.push_str(");");
            client.batch_execute(&sql).await.map_err(err("creating"))?;
            created = true;
            let mut columns = vec![row_id_column.to_string()];
            columns.extend(setting.iter().cloned());
            schema.columns.insert(table.to_string(), columns);
            schema
                .unique
                .insert(table.to_string(), vec![row_id_column.to_string()]);
        } else {
            for column in std::iter::once(row_id_column).chain(setting.iter().map(String::as_str)) {
                if let Some(i) = unaccounted.iter().position(|c| c == column) {
                    unaccounted.remove(i);
                } else {
                    client
                        .batch_execute(&format!(
                            "ALTER TABLE{quoted}ADD{}text",
                            quote_identifier(column)
                        ))
                        .await
                        .map_err(err("adding a column to"))?;
                    if let Some(columns) = schema.columns.get_mut(table) {
                        push_new(columns, column);
                    }
                }
            }
            let unique = schema
                .unique
                .get(table)
                .is_some_and(|u| u.iter().any(|c| c == row_id_column));
            if !unique {
                let mut key = String::from("[");
                json::write_string(&mut key, table);
                key.push(',');
                json::write_string(&mut key, row_id_column);
                key.push(']');
                client
                    .batch_execute(&format!(
                        "CREATE UNIQUE INDEX IF NOT EXISTS{}ON{quoted}({})",
                        quote_identifier(&format!("tinybase_pk_{}", fnv1a(key.as_bytes()))),
                        quote_identifier(row_id_column)
                    ))
                    .await
                    .map_err(err("indexing the row ids of"))?;
                push_new(
                    schema.unique.entry(table.to_string()).or_default(),
                    row_id_column,
                );
            }
        }
    }
    if !partial && delete_empty_columns {
        for column in &unaccounted {
            if column != row_id_column {
                client
                    .batch_execute(&format!(
                        "ALTER TABLE{quoted}DROP{}",
                        quote_identifier(column)
                    ))
                    .await
                    .map_err(err("dropping a column of"))?;
                if let Some(columns) = schema.columns.get_mut(table) {
                    columns.retain(|c| c != column);
                }
            }
        }
    }
    let id = quote_identifier(row_id_column);
    if partial {
        let Some(content) = content else {
            if sub_ids.is_none() {
                delete_rows(client, table, condition, None).await?;
            }
            return Ok(());
        };
        let mut deleted: Vec<&str> = Vec::new();
        // Rows changing the same columns go in one statement.
        let mut upserts: Vec<(Vec<&str>, Vec<&SavedRow>)> = Vec::new();
        for saved in content {
            match &saved.1 {
                None => deleted.push(&saved.0),
                Some(cells) if !setting.is_empty() => {
                    let changing: Vec<&str> = cells
                        .iter()
                        .map(|(c, _)| c.as_str())
                        .filter(|c| included(c))
                        .collect();
                    if changing.is_empty() {
                        continue;
                    }
                    match upserts.iter_mut().find(|(cols, _)| *cols == changing) {
                        Some((_, rows)) => rows.push(saved),
                        None => upserts.push((changing, vec![saved])),
                    }
                }
                Some(_) => {}
            }
        }
        if !deleted.is_empty() {
            delete_rows(
                client,
                table,
                condition,
                Some((&format!("({id}=ANY($1))"), &deleted)),
            )
            .await?;
        }
        for (columns, rows) in upserts {
            upsert(client, table, row_id_column, &columns, &rows, created).await?;
        }
    } else if !setting.is_empty() {
        let changing: Vec<&str> = schema
            .columns
            .get(table)
            .map(|columns| {
                columns
                    .iter()
                    .map(String::as_str)
                    .filter(|c| *c != row_id_column && included(c))
                    .collect()
            })
            .unwrap_or_default();
        let rows: Vec<&SavedRow> = content.unwrap_or_default().iter().collect();
        upsert(client, table, row_id_column, &changing, &rows, created).await?;
        if !created {
            let ids: Vec<&str> = rows.iter().map(|(id, _)| id.as_str()).collect();
            delete_rows(
                client,
                table,
                condition,
                Some((&format!("{id}<>ALL($1)"), &ids)),
            )
            .await?;
        }
    } else if sub_ids.is_none() && schema.has_table(table) {
        delete_rows(client, table, condition, None).await?;
    }
    Ok(())
}

/// The cell of `column` in `cells`, at `i` (its column's position) when rows keep that order.
fn cell_at<'c>(cells: &'c [(String, Option<String>)], i: usize, column: &str) -> Option<&'c str> {
    let cell = match cells.get(i) {
        Some(cell) if cell.0 == column => Some(cell),
        _ => cells.iter().find(|(c, _)| c == column),
    };
    cell.and_then(|(_, v)| v.as_deref())
}

/// Bytes of a `COPY … FROM STDIN (FORMAT binary)` stream sent per message: the server reads
/// them as they come, and neither side holds a second copy of a megabytes-long document.
const COPY_CHUNK: usize = 64 * 1024;

/// Writes `rows` into the empty `table` by `COPY` in PostgreSQL's binary format, in which a
/// text field is its length and its UTF-8 bytes: nothing to escape, and the server takes a
/// large document in one piece instead of growing a parameter message around it (a JSON-mode
/// save into a new table: ~50 ms instead of ~70 ms for 7 MB on a fresh connection).
async fn copy_rows(
    client: &Client,
    table: &str,
    names: &[String],
    columns: &[&str],
    rows: &[&SavedRow],
) -> Result<(), PersistError> {
    use futures_util::SinkExt;
    let err = || pg_err(format!("writing rows of {table}"));
    let sql = format!(
        "COPY{}({})FROM STDIN(FORMAT binary)",
        quote_identifier(table),
        names.join(",")
    );
    let sink = client.copy_in::<_, Bytes>(&sql).await.map_err(err())?;
    futures_util::pin_mut!(sink);
    let fields = i16::try_from(names.len()).map_err(|_| {
        PersistError::Postgres(PostgresError::new(
            format!("writing rows of {table}: more than 32,767 columns"),
            None,
        ))
    })?;
    let mut buf = BytesMut::with_capacity(COPY_CHUNK);
    // Signature, flags, header extension length.
    buf.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
    buf.extend_from_slice(&[0; 8]);
    for (id, cells) in rows {
        let cells = cells.as_deref().unwrap_or_default();
        buf.extend_from_slice(&fields.to_be_bytes());
        let values = std::iter::once(Some(id.as_str())).chain(
            columns
                .iter()
                .enumerate()
                .map(|(i, c)| cell_at(cells, i, c)),
        );
        for value in values {
            let Some(value) = value else {
                buf.extend_from_slice(&(-1i32).to_be_bytes());
                continue;
            };
            let len = i32::try_from(value.len()).map_err(|_| {
                PersistError::Postgres(PostgresError::new(
                    format!("writing rows of {table}: a value over 2 GiB"),
                    None,
                ))
            })?;
            buf.extend_from_slice(&len.to_be_bytes());
            for piece in value.as_bytes().chunks(COPY_CHUNK) {
                buf.extend_from_slice(piece);
                if buf.len() >= COPY_CHUNK {
                    sink.feed(buf.split().freeze()).await.map_err(err())?;
                }
            }
        }
        if buf.len() >= COPY_CHUNK {
            sink.feed(buf.split().freeze()).await.map_err(err())?;
        }
    }
    buf.extend_from_slice(&(-1i16).to_be_bytes());
    sink.feed(buf.freeze()).await.map_err(err())?;
    sink.as_mut().finish().await.map_err(err())?;
    Ok(())
}

/// `DELETE FROM table WHERE condition [AND extra]`, `extra` testing the row ids given as `$1`.
async fn delete_rows(
    client: &Client,
    table: &str,
    condition: Option<&str>,
    ids: Option<(&str, &[&str])>,
) -> Result<(), PersistError> {
    let sql = format!(
        "DELETE FROM{}{}",
        quote_identifier(table),
        where_sql(table, condition, ids.map(|(extra, _)| extra))
    );
    match ids {
        Some((_, ids)) => client.execute(&sql, &[&ids]).await.map(drop),
        None => client.batch_execute(&sql).await,
    }
    .map_err(pg_err(format!("deleting rows of {table}")))
}

/// TinyBase's upsert (`INSERT … ON CONFLICT(id) DO UPDATE SET c=excluded.c`), one array per
/// column; a column a row lacks is written `NULL`. Into a table created by this save (`fresh`:
/// empty, and the rows' ids are distinct) a `COPY`: the same rows without the conflict checks.
async fn upsert(
    client: &Client,
    table: &str,
    row_id_column: &str,
    columns: &[&str],
    rows: &[&SavedRow],
    fresh: bool,
) -> Result<(), PersistError> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut names = vec![quote_identifier(row_id_column)];
    names.extend(columns.iter().map(|c| quote_identifier(c)));
    if fresh {
        return copy_rows(client, table, &names, columns, rows).await;
    }
    // One row (a JSON-mode document: megabytes) as plain parameters, more as arrays.
    let single = rows.len() == 1;
    let placeholders: Vec<String> = (1..=names.len())
        .map(|i| format!("${i}::text{}", if single { "" } else { "[]" }))
        .collect();
    let source = if single {
        format!("VALUES({})", placeholders.join(","))
    } else {
        format!("SELECT*FROM unnest({})", placeholders.join(","))
    };
    let mut sql = format!(
        "INSERT INTO{}({}){source}",
        quote_identifier(table),
        names.join(",")
    );
    if !fresh {
        sql.push_str(&format!("ON CONFLICT({})DO ", names[0]));
        if columns.is_empty() {
            sql.push_str("NOTHING");
        } else {
            sql.push_str("UPDATE SET");
            sql.push_str(
                &names[1..]
                    .iter()
                    .map(|n| format!("{n}=excluded.{n}"))
                    .collect::<Vec<_>>()
                    .join(","),
            );
        }
    }
    let ids: Vec<Option<&str>> = rows.iter().map(|(id, _)| Some(id.as_str())).collect();
    let mut values: Vec<Vec<Option<&str>>> = vec![Vec::with_capacity(rows.len()); columns.len()];
    for (_, cells) in rows {
        let cells = cells.as_deref().unwrap_or_default();
        for (i, column) in columns.iter().enumerate() {
            values[i].push(cell_at(cells, i, column));
        }
    }
    type Param<'p> = &'p (dyn tokio_postgres::types::ToSql + Sync);
    let params: Vec<Param> = if single {
        std::iter::once(&ids[0] as Param)
            .chain(values.iter().map(|v| &v[0] as Param))
            .collect()
    } else {
        std::iter::once(&ids as Param)
            .chain(values.iter().map(|v| v as Param))
            .collect()
    };
    client
        .execute(&sql, &params)
        .await
        .map_err(pg_err(format!("writing rows of {table}")))?;
    Ok(())
}
