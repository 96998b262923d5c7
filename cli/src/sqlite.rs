//! `tinystore dump-sqlite` and `tinystore write-sqlite`: the kit's `peer.mjs` commands of the
//! same names (flags, defaults, output JSON, exit codes), on tinystore's SQLite persister.

use std::path::Path;

use clap::{Args, ValueEnum};

use serde_json::{Value as Json, json};
use tinystore_core::json::parse;
use tinystore_core::mergeable::{JsonForm, MergeableContent};
use tinystore_core::persist::sqlite::{
    SqliteDatabase, SqliteJsonConfig, SqliteMode, StoreKind, TabularConfig, ValueSelection,
};
use tinystore_core::persist::{PersistError, Persister};
use tinystore_core::{Store, content};

use crate::args::{
    CliError, StoreArgs, new_mergeable_store, peer_fail, public_content, read_input, write_out,
};

/// `--mode`: how TinyBase lays the store out in the database.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Mode {
    Json,
    Tabular,
}

/// `--store` of `dump-sqlite`: which kind of store to load into.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum DumpStore {
    Auto,
    Plain,
    Mergeable,
}

/// `--store` of `write-sqlite`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum WriteStore {
    Plain,
    Mergeable,
}

/// The table names both commands take.
#[derive(Args, Debug)]
pub(crate) struct TableArgs {
    /// The JSON-mode table
    #[arg(long, value_name = "NAME", default_value = "tinybase")]
    table: String,
    /// The tabular-mode values table
    #[arg(
        long = "values-table",
        value_name = "NAME",
        default_value = "tinybase_values"
    )]
    values_table: String,
}

/// `tinystore dump-sqlite`: flags as peer.mjs's `dump-sqlite`.
#[derive(Args, Debug)]
#[command(args_override_self = true)]
pub(crate) struct DumpArgs {
    /// The database to read (must exist)
    #[arg(long, value_name = "FILE")]
    db: Option<String>,
    /// json or tabular
    #[arg(long, value_enum, default_value = "json")]
    mode: Mode,
    /// The kind of store to load into (auto: mergeable when a JSON-mode row is stamped)
    #[arg(long, value_enum, default_value = "auto")]
    store: DumpStore,
    #[command(flatten)]
    tables: TableArgs,
    /// The tabular-mode tables to load, comma separated (default: every table)
    #[arg(long = "tables", value_name = "A,B")]
    table_ids: Option<String>,
    /// Print only the store's content
    #[arg(long = "content-only")]
    content_only: bool,
    /// Where to write the JSON (default: stdout)
    #[arg(long, value_name = "FILE")]
    out: Option<String>,
    #[command(flatten)]
    store_args: StoreArgs,
}

/// `tinystore write-sqlite`: flags as peer.mjs's `write-sqlite`.
#[derive(Args, Debug)]
#[command(args_override_self = true)]
pub(crate) struct WriteArgs {
    /// The database to create
    #[arg(long, value_name = "FILE")]
    db: Option<String>,
    /// json or tabular
    #[arg(long, value_enum, default_value = "json")]
    mode: Mode,
    /// The kind of store (default: mergeable when the input has mergeableContent)
    #[arg(long, value_enum)]
    store: Option<WriteStore>,
    /// The content: [tables, values], {content} or a dump (`-`: stdin; at most 256 MiB)
    #[arg(long = "in", value_name = "FILE", default_value = "-")]
    input: String,
    #[command(flatten)]
    tables: TableArgs,
    #[command(flatten)]
    store_args: StoreArgs,
    /// Replace the database if it exists
    #[arg(long)]
    force: bool,
}

fn error(message: impl std::fmt::Display) -> CliError {
    CliError::Exit(1, message.to_string())
}

/// The persister configuration for `--mode`, as peer.mjs's `persisterConfig`.
fn mode_config(
    tables: &TableArgs,
    mode: Mode,
    table_ids: Option<Vec<String>>,
    table_list: Option<&str>,
    db: &SqliteDatabase,
    for_save: bool,
) -> Result<SqliteMode, CliError> {
    let values_table = tables.values_table.as_str();
    match mode {
        Mode::Json => Ok(SqliteMode::Json(SqliteJsonConfig::table(&tables.table))),
        Mode::Tabular => {
            let ids = match (table_ids, table_list) {
                (Some(ids), _) => ids,
                (None, Some(list)) => list.split(',').map(str::to_string).collect(),
                (None, None) => db
                    .table_names()
                    .map_err(error)?
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
    }
}

pub(crate) fn dump(flags: DumpArgs) -> Result<(), CliError> {
    let db = match flags.db.as_deref() {
        Some(db) if Path::new(db).exists() => db,
        _ => return Err(peer_fail("dump-sqlite needs --db of an existing file")),
    };
    let mode = flags.mode;
    let database = SqliteDatabase::open_read_only(db).map_err(|e| error(format!("{db}: {e}")))?;
    // Peeks at a JSON-mode row only to choose which kind of store to load into.
    let kind = match flags.store {
        DumpStore::Auto if mode == Mode::Json => {
            match database.json_store_kind(&flags.tables.table) {
                StoreKind::Mergeable => "mergeable",
                StoreKind::Plain => "plain",
            }
        }
        DumpStore::Auto | DumpStore::Plain => "plain",
        DumpStore::Mergeable => "mergeable",
    };
    let config = mode_config(
        &flags.tables,
        mode,
        None,
        flags.table_ids.as_deref(),
        &database,
        false,
    )?;
    let mergeable = (kind == "mergeable").then(|| new_mergeable_store(&flags.store_args));
    let store = mergeable
        .as_ref()
        .map_or_else(Store::new, |m| m.store().clone());
    let mut errors: Vec<String> = Vec::new();
    let persistence = database.into_persistence(config).map_err(error)?;
    match Persister::try_new(&store, persistence) {
        Ok(persister) => {
            if let Err(e) = persister.load(None) {
                errors.push(e.to_string());
            }
            persister.destroy();
        }
        Err(e) => return Err(error(e)),
    }
    let out = flags.out.as_deref();
    if flags.content_only {
        return write_out(out, &public_content(&store));
    }
    let mut dump = serde_json::Map::new();
    dump.insert("store".into(), json!(kind));
    dump.insert("content".into(), public_content(&store));
    if let Some(m) = &mergeable {
        let public = m
            .get_mergeable_content()
            .to_json_string(JsonForm::PUBLIC_CONTENT);
        dump.insert("mergeableContent".into(), parse(&public).map_err(error)?);
        let (t, v) = m.get_mergeable_content_hashes();
        dump.insert("contentHashes".into(), json!([t, v]));
    }
    dump.insert("ignoredErrors".into(), json!(errors));
    write_out(out, &Json::Object(dump))
}

pub(crate) fn write(flags: WriteArgs) -> Result<(), CliError> {
    let Some(db) = flags.db.as_deref() else {
        return Err(peer_fail("write-sqlite needs --db"));
    };
    if Path::new(db).exists() {
        if !flags.force {
            return Err(peer_fail(format!(
                "{db} exists (use --force to replace it)"
            )));
        }
        std::fs::remove_file(db).map_err(|e| error(format!("{db}: {e}")))?;
    }
    let mode = flags.mode;
    let text = read_input(&flags.input)?;
    let input = parse(&text).map_err(|e| error(format!("input: {e}")))?;
    let stamped = input.get("mergeableContent").filter(|m| !m.is_null());
    let kind = flags.store.unwrap_or(if stamped.is_some() {
        WriteStore::Mergeable
    } else {
        WriteStore::Plain
    });
    let mergeable = (kind == WriteStore::Mergeable).then(|| new_mergeable_store(&flags.store_args));
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
        let database = SqliteDatabase::open(db).map_err(|e| error(format!("{db}: {e}")))?;
        let config = mode_config(
            &flags.tables,
            mode,
            Some(store.get_table_ids()),
            None,
            &database,
            true,
        )?;
        let persistence = database.into_persistence(config).map_err(error)?;
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
