//! TinyBase's change notification in PostgreSQL, statement for statement, so that a write by
//! TinyBase's `PostgresPersister` reaches a tinystore persister on the same tables and the
//! other way round: the same channel (`tinybase_<config hash>`), functions, event trigger and
//! per-table triggers, with the same names.
//!
//! TinyBase drops its functions (`CASCADE`, so every trigger) when its last auto-loading
//! persister of a configuration stops, which would silence every other process still listening
//! on those tables; and a second TinyBase process fails to start auto-load when the event
//! trigger `tinybase_c_<h>` exists (PostgreSQL has no `CREATE OR REPLACE EVENT TRIGGER`). So
//! tinystore installs, beside TinyBase's data-changed function and triggers, a set of its own
//! (`tinystore_c_<h>` with the event trigger, `tinystore_d_<h>` with its table triggers)
//! notifying the same channel with the same payloads, and never creates TinyBase's event
//! trigger: TinyBase's processes start as they would alone, a TinyBase process stopping leaves
//! tinystore's set in place, and where both sets fire in one transaction PostgreSQL delivers
//! their identical notifications once. Nothing is ever dropped (a `NOTIFY` nobody listens to
//! costs next to nothing).

use tokio_postgres::Client;

use super::connection::pg_err;
use crate::hash::fnv1a;
use crate::json;
use crate::persist::PersistError;
use crate::persist::config::{SqlMode, TabularConfig, ValueSelection, quote_identifier};

const TABLE_CREATED: &str = "c";
const DATA_CHANGED: &str = "d";
/// PostgreSQL's longest identifier, in bytes.
const IDENTIFIER_SIZE: usize = 63;

/// TinyBase's `configHash`: FNV-1a of `JSON.stringify` (with `undefined` as `"\u{FFFC}"`) of
/// the defaulted config structure. In tabular mode the table maps are JavaScript `Map`s, which
/// stringify as `{}`: only the Values part tells tabular configs apart.
pub(crate) fn config_hash(mode: &SqlMode) -> u32 {
    let mut text = String::from("[");
    match mode {
        SqlMode::Json(c) => {
            json::write_string(&mut text, &c.table);
            text.push(',');
            json::write_string(&mut text, &c.id_column);
            text.push(',');
            json::write_string(&mut text, &c.store_column);
        }
        SqlMode::Tabular(c) => {
            text.push_str("{},{},[");
            let has = |s: &ValueSelection| !matches!(s, ValueSelection::None);
            text.push_str(if has(&c.values_load) {
                "true,"
            } else {
                "false,"
            });
            text.push_str(if has(&c.values_save) {
                "true,"
            } else {
                "false,"
            });
            json::write_string(&mut text, &c.values_table);
            for selection in [&c.values_load, &c.values_save] {
                text.push(',');
                match selection {
                    ValueSelection::Only(ids) => {
                        text.push('[');
                        for (i, id) in ids.iter().enumerate() {
                            if i > 0 {
                                text.push(',');
                            }
                            json::write_string(&mut text, id);
                        }
                        text.push(']');
                    }
                    _ => json::write_string(&mut text, "\u{FFFC}"),
                }
            }
            text.push(']');
        }
    }
    text.push(']');
    fnv1a(text.as_bytes())
}

/// The notification channel of a configuration.
pub(crate) fn channel(hash: u32) -> String {
    format!("tinybase_{hash}")
}

/// The database tables a configuration manages, in TinyBase's order (a `Set`: the Values
/// table first in tabular mode, then the loaded tables, then the saved ones).
pub(crate) fn managed_tables(mode: &SqlMode) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut add = |name: &str| {
        if !names.iter().any(|n| n == name) {
            names.push(name.to_string());
        }
    };
    match mode {
        SqlMode::Json(c) => add(&c.table),
        SqlMode::Tabular(c) => {
            add(&c.values_table);
            for load in &c.load {
                if load.db_table != c.values_table {
                    add(&load.db_table);
                }
            }
            for save in &c.save {
                if save.db_table != c.values_table {
                    add(&save.db_table);
                }
            }
        }
    }
    names
}

/// Whose names: TinyBase's set or tinystore's own.
const OWNERS: [&str; 2] = ["tinybase", "tinystore"];

fn function_name(owner: &str, kind: &str, hash: u32) -> String {
    quote_identifier(&format!("{owner}_{kind}_{hash}"))
}

/// The `WHEN` condition of a table's trigger for INSERT (`NEW`), DELETE (`OLD`) or UPDATE
/// (both): the table's load condition in tabular mode, else `true`.
fn when(tabular: Option<&TabularConfig>, table: &str, action: &str) -> String {
    let condition = |row: &str| {
        tabular
            .and_then(|c| c.load.iter().find(|l| l.db_table == table))
            .and_then(|l| l.condition.clone())
            .unwrap_or_else(|| "true".into())
            .replace("$tableName", row)
    };
    match action {
        "INSERT" => condition("NEW"),
        "DELETE" => condition("OLD"),
        _ => format!("{} OR {}", condition("NEW"), condition("OLD")),
    }
}

/// TinyBase's trigger name for a table's action: the readable legacy name when the table name
/// is simple and the name fits PostgreSQL's identifier size, else one with the table's hash.
fn trigger_name(owner: &str, hash: u32, table: &str, action: &str) -> String {
    let legacy = format!("{owner}_{DATA_CHANGED}_{hash}_{table}_{action}");
    let simple = !table.is_empty()
        && table
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if simple && legacy.len() <= IDENTIFIER_SIZE {
        quote_identifier(&legacy)
    } else {
        quote_identifier(&format!(
            "{owner}_{DATA_CHANGED}_{hash}_{action}_{}",
            fnv1a(table.as_bytes())
        ))
    }
}

/// Creates the data-changed triggers of one managed table (TinyBase's and tinystore's).
pub(crate) async fn add_table_triggers(
    client: &Client,
    mode: &SqlMode,
    hash: u32,
    table: &str,
) -> Result<(), PersistError> {
    let tabular = match mode {
        SqlMode::Tabular(c) => Some(c),
        SqlMode::Json(_) => None,
    };
    for owner in OWNERS {
        let function = function_name(owner, DATA_CHANGED, hash);
        for action in ["INSERT", "DELETE", "UPDATE"] {
            let sql = format!(
                "CREATE OR REPLACE TRIGGER{}AFTER {action} ON{}FOR EACH ROW WHEN({})EXECUTE FUNCTION{function}()",
                trigger_name(owner, hash, table, action),
                quote_identifier(table),
                when(tabular, table, action),
            );
            client
                .batch_execute(&sql)
                .await
                .map_err(pg_err(format!("creating the change trigger of {table}")))?;
        }
    }
    Ok(())
}

/// Creates TinyBase's functions, event trigger, managed tables and their triggers for a
/// configuration. Several processes may do this at once: an advisory lock on the hash keeps
/// them from racing on the catalog (`CREATE OR REPLACE` of one function in two sessions can
/// fail with "tuple concurrently updated").
pub(crate) async fn install(
    client: &Client,
    mode: &SqlMode,
    hash: u32,
) -> Result<(), PersistError> {
    let channel = channel(hash);
    let notify = |message: &str| format!("PERFORM pg_notify('{channel}',{message});");
    client
        .query("SELECT pg_advisory_xact_lock($1)", &[&i64::from(hash)])
        .await
        .map_err(pg_err("locking the notification set-up"))?;
    for owner in OWNERS {
        let created = function_name(owner, TABLE_CREATED, hash);
        client
            .batch_execute(&format!(
                "CREATE OR REPLACE FUNCTION{created}()RETURNS event_trigger AS $$ DECLARE row record;BEGIN \
                 FOR row IN SELECT object_identity FROM pg_event_trigger_ddl_commands()WHERE command_tag='CREATE TABLE' \
                 LOOP {}END LOOP;END;$$ LANGUAGE plpgsql;",
                notify("'c:'||SPLIT_PART(row.object_identity,'.',2)")
            ))
            .await
            .map_err(pg_err("creating the table-created function"))?;
        let changed = function_name(owner, DATA_CHANGED, hash);
        client
            .batch_execute(&format!(
                "CREATE OR REPLACE FUNCTION{changed}()RETURNS trigger AS $$ BEGIN {}RETURN NULL;END;$$ LANGUAGE plpgsql;",
                notify("'d:'||TG_TABLE_NAME")
            ))
            .await
            .map_err(pg_err("creating the data-changed function"))?;
    }
    let created = function_name("tinystore", TABLE_CREATED, hash);
    let exists = client
        .query(
            "SELECT 1 FROM pg_event_trigger WHERE evtname=$1",
            &[&format!("tinystore_{TABLE_CREATED}_{hash}")],
        )
        .await
        .map_err(pg_err("looking for the table-created event trigger"))?;
    if exists.is_empty() {
        // Event triggers need a superuser. Without one, tables created later by others are
        // not announced; the managed tables are created below, so their triggers exist anyway.
        client
            .batch_execute("SAVEPOINT tinystore_event_trigger")
            .await
            .map_err(pg_err("creating a savepoint"))?;
        let result = client
            .batch_execute(&format!(
                "CREATE EVENT TRIGGER{created}ON ddl_command_end WHEN TAG IN('CREATE TABLE')EXECUTE FUNCTION{created}()"
            ))
            .await;
        let end = if result.is_ok() {
            "RELEASE SAVEPOINT tinystore_event_trigger"
        } else {
            "ROLLBACK TO SAVEPOINT tinystore_event_trigger"
        };
        client
            .batch_execute(end)
            .await
            .map_err(pg_err("ending a savepoint"))?;
        if let Err(e) = result {
            tracing::warn!(error = %e, "no table-created event trigger (it needs a superuser)");
        }
    }
    for table in managed_tables(mode) {
        client
            .batch_execute(&format!(
                "CREATE TABLE IF NOT EXISTS{}(\"_id\"text PRIMARY KEY)",
                quote_identifier(&table)
            ))
            .await
            .map_err(pg_err(format!("creating {table}")))?;
        add_table_triggers(client, mode, hash, &table).await?;
    }
    Ok(())
}

/// A notification's table when it concerns this configuration: `c:<table>` or `d:<table>` of
/// a managed table, with whether the table was just created.
pub(crate) fn parse_payload<'a>(payload: &'a str, managed: &[String]) -> Option<(bool, &'a str)> {
    let (created, table) = if let Some(t) = payload.strip_prefix("c:") {
        (true, t)
    } else {
        (false, payload.strip_prefix("d:")?)
    };
    (!table.is_empty() && managed.iter().any(|m| m == table)).then_some((created, table))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persist::config::JsonConfig;

    #[test]
    fn names_follow_tinybase() {
        let hash = 7;
        assert_eq!(
            trigger_name("tinybase", hash, "pets", "INSERT"),
            "\"tinybase_d_7_pets_INSERT\""
        );
        let odd = trigger_name("tinybase", hash, "my pets", "DELETE");
        assert_eq!(
            odd,
            format!("\"tinybase_d_7_DELETE_{}\"", fnv1a("my pets".as_bytes()))
        );
        let long = "t".repeat(60);
        assert!(
            trigger_name("tinystore", hash, &long, "UPDATE").starts_with("\"tinystore_d_7_UPDATE_")
        );
        assert_eq!(
            parse_payload("d:pets", &["pets".into()]),
            Some((false, "pets"))
        );
        assert_eq!(
            parse_payload("c:pets", &["pets".into()]),
            Some((true, "pets"))
        );
        assert_eq!(parse_payload("d:other", &["pets".into()]), None);
        assert_eq!(parse_payload("x:pets", &["pets".into()]), None);
        let json = SqlMode::Json(JsonConfig::default());
        assert_eq!(config_hash(&json), fnv1a(br#"["tinybase","_id","store"]"#));
    }
}
