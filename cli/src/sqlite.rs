//! `tinystore dump-sqlite` and `tinystore write-sqlite`: the kit's `peer.mjs` commands of the
//! same names (flags, defaults, output JSON, exit codes), on tinystore's SQLite persister.

use std::io::Read;
use std::path::Path;

use serde_json::{Value as Json, json};
use tinystore_core::json::parse;
use tinystore_core::mergeable::{JsonForm, MergeableContent};
use tinystore_core::persist::sqlite::rusqlite::OpenFlags;
use tinystore_core::persist::sqlite::{
    Connection, SqliteJsonConfig, SqliteMode, SqlitePersistence, TabularConfig, ValueSelection,
};
use tinystore_core::persist::{PersistError, Persister};
use tinystore_core::{Store, content};

use crate::args::{CliError, PeerFlags, new_mergeable_store, public_content, write_out};

fn fail(message: impl std::fmt::Display) -> CliError {
    CliError::Exit(2, message.to_string())
}

fn error(message: impl std::fmt::Display) -> CliError {
    CliError::Exit(1, message.to_string())
}

fn db_tables(conn: &Connection) -> Result<Vec<String>, CliError> {
    let mut stmt = conn
        .prepare("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .map_err(error)?;
    let names = stmt
        .query_map([], |row| row.get::<_, String>(0))
        .map_err(error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(error)?;
    Ok(names)
}

/// The persister configuration for `--mode`, as peer.mjs's `persisterConfig`.
fn mode_config(
    flags: &PeerFlags,
    mode: &str,
    table_ids: Option<Vec<String>>,
    conn: &Connection,
    for_save: bool,
) -> Result<SqliteMode, CliError> {
    let table = flags.value("table").unwrap_or("tinybase");
    let values_table = flags.value("values-table").unwrap_or("tinybase_values");
    match mode {
        "json" => Ok(SqliteMode::Json(SqliteJsonConfig::table(table))),
        "tabular" => {
            let ids = match (table_ids, flags.value("tables")) {
                (Some(ids), _) => ids,
                (None, Some(list)) => list.split(',').map(str::to_string).collect(),
                (None, None) => db_tables(conn)?
                    .into_iter()
                    .filter(|t| t != values_table)
                    .collect(),
            };
            let mut config = TabularConfig::tables(&ids);
            config.values_table = values_table.to_string();
            if for_save {
                config.load.clear();
                config.values_load = ValueSelection::None;
            } else {
                config.save.clear();
                config.values_save = ValueSelection::None;
            }
            Ok(SqliteMode::Tabular(config))
        }
        _ => Err(fail("--mode must be json or tabular")),
    }
}

/// Peeks at a JSON-mode row only to choose which kind of store to load into.
fn detect_store_kind(conn: &Connection, table: &str) -> &'static str {
    let sql = format!(
        "SELECT * FROM {} LIMIT 1",
        tinystore_core::persist::sqlite::quote_identifier(table)
    );
    let found = conn
        .query_row(&sql, [], |row| {
            let mut text = None;
            for i in 0..row.as_ref().column_count() {
                if let Ok(s) = row.get::<_, String>(i)
                    && s.starts_with('[')
                {
                    text = Some(s);
                    break;
                }
            }
            Ok(text)
        })
        .ok()
        .flatten();
    let stamped = found
        .and_then(|text| parse(&text).ok())
        .and_then(|doc| doc.get(0).and_then(Json::as_array).map(Vec::len))
        == Some(3);
    if stamped { "mergeable" } else { "plain" }
}

pub(crate) fn dump(args: &[String]) -> Result<(), CliError> {
    let flags = PeerFlags::parse(args);
    let db = match flags.value("db") {
        Some(db) if Path::new(db).exists() => db,
        _ => return Err(fail("dump-sqlite needs --db of an existing file")),
    };
    let mode = flags.value("mode").unwrap_or("json");
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| error(format!("{db}: {e}")))?;
    let mut kind = flags.value("store").unwrap_or("auto");
    if kind == "auto" {
        kind = if mode == "json" {
            detect_store_kind(&conn, flags.value("table").unwrap_or("tinybase"))
        } else {
            "plain"
        };
    }
    let config = mode_config(&flags, mode, None, &conn, false)?;
    let mergeable = match kind {
        "mergeable" => Some(new_mergeable_store(&flags)?),
        _ => None,
    };
    let store = mergeable
        .as_ref()
        .map_or_else(Store::new, |m| m.store().clone());
    let mut errors: Vec<String> = Vec::new();
    let persistence = SqlitePersistence::from_connection(conn, config).map_err(error)?;
    match Persister::try_new(&store, persistence) {
        Ok(persister) => {
            if let Err(e) = persister.load(None) {
                errors.push(e.to_string());
            }
            persister.destroy();
        }
        Err(e) => return Err(error(e)),
    }
    if flags.has("content-only") {
        return write_out(&flags, &public_content(&store));
    }
    let mut out = serde_json::Map::new();
    out.insert("store".into(), json!(kind));
    out.insert("content".into(), public_content(&store));
    if let Some(m) = &mergeable {
        let public = m
            .get_mergeable_content()
            .to_json_string(JsonForm::PUBLIC_CONTENT);
        out.insert("mergeableContent".into(), parse(&public).map_err(error)?);
        let (t, v) = m.get_mergeable_content_hashes();
        out.insert("contentHashes".into(), json!([t, v]));
    }
    out.insert("ignoredErrors".into(), json!(errors));
    write_out(&flags, &Json::Object(out))
}

pub(crate) fn write(args: &[String]) -> Result<(), CliError> {
    let flags = PeerFlags::parse(args);
    let Some(db) = flags.value("db") else {
        return Err(fail("write-sqlite needs --db"));
    };
    if Path::new(db).exists() {
        if !flags.has("force") {
            return Err(fail(format!("{db} exists (use --force to replace it)")));
        }
        std::fs::remove_file(db).map_err(|e| error(format!("{db}: {e}")))?;
    }
    let mode = flags.value("mode").unwrap_or("json");
    if mode != "json" && mode != "tabular" {
        return Err(fail("--mode must be json or tabular"));
    }
    let text = match flags.value("in").unwrap_or("-") {
        "-" => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| error(format!("stdin: {e}")))?;
            text
        }
        file => std::fs::read_to_string(file).map_err(|e| error(format!("{file}: {e}")))?,
    };
    let input = parse(&text).map_err(|e| error(format!("input: {e}")))?;
    let stamped = input.get("mergeableContent").filter(|m| !m.is_null());
    let kind = flags.value("store").unwrap_or(if stamped.is_some() {
        "mergeable"
    } else {
        "plain"
    });
    let mergeable = match kind {
        "mergeable" => Some(new_mergeable_store(&flags)?),
        _ => None,
    };
    let store = mergeable
        .as_ref()
        .map_or_else(Store::new, |m| m.store().clone());
    match (&mergeable, stamped) {
        (Some(m), Some(stamped)) => {
            let content = MergeableContent::from_json(stamped, true, u64::MAX).map_err(error)?;
            m.set_mergeable_content(&content).map_err(error)?;
        }
        _ => {
            let content = if input.is_array() {
                &input
            } else {
                &input["content"]
            };
            let parts = content
                .as_array()
                .filter(|p| p.len() >= 2)
                .ok_or_else(|| error("input must be [tables, values], {content} or a dump"))?;
            let tables = content::tables_from_json(&parts[0], false).map_err(error)?;
            let values = content::values_from_json(&parts[1], false).map_err(error)?;
            store.set_content(&tables, &values);
        }
    }
    let result = (|| {
        let conn = Connection::open(db).map_err(|e| error(format!("{db}: {e}")))?;
        let config = mode_config(&flags, mode, Some(store.get_table_ids()), &conn, true)?;
        let persistence = SqlitePersistence::from_connection(conn, config).map_err(error)?;
        let persister = Persister::try_new(&store, persistence).map_err(|e| match e {
            PersistError::Unsupported(what) => error(format!(
                "tabular mode does not support {what} (TinyBase: tinybase:0)"
            )),
            other => error(other),
        })?;
        persister.save().map_err(error)?;
        persister.destroy();
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(db);
    }
    result
}
