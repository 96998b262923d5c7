//! Persisters against TinyBase's SQLite fixtures and files, and their failure behaviour.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value as Json, json};
use tinystore_core::content::{tables_from_json, values_from_json};
use tinystore_core::json::{parse, stringify_pretty};
use tinystore_core::mergeable::JsonForm;
use tinystore_core::persist::file::FilePersistence;
use tinystore_core::persist::sqlite::{SqliteJsonConfig, SqlitePersistence};
use tinystore_core::persist::{PersistError, Persister, Status};
use tinystore_core::{MergeableStore, Store};

use crate::fixtures::{content_json, fixture, kit_dir};

const T0: u64 = 1_700_000_000_000;

fn fixture_path(name: &str) -> PathBuf {
    kit_dir().join("fixtures/sqlite").join(name)
}

/// A fresh directory for one test's files.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tinystore-it-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A copy of a fixture database, so that tests never touch the shared originals.
fn fixture_copy(name: &str, dir: &Path) -> PathBuf {
    let to = dir.join(name);
    std::fs::copy(fixture_path(name), &to).unwrap();
    to
}

fn public_mergeable(store: &MergeableStore) -> Json {
    let text = store
        .get_mergeable_content()
        .to_json_string(JsonForm::PUBLIC_CONTENT);
    serde_json::from_str(&text).unwrap()
}

/// `{table: [{column: value}]}` of every table, as the kit's `*.rows.json` holds them.
fn rows_json(path: &Path) -> Json {
    let conn = rusqlite_open(path);
    let mut tables = serde_json::Map::new();
    let names: Vec<String> = {
        let mut stmt = conn
            .prepare("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    for name in names {
        let mut stmt = conn.prepare(&format!("SELECT * FROM \"{name}\"")).unwrap();
        let columns: Vec<String> = stmt.column_names().map(|c| c.to_string()).collect();
        let rows = stmt
            .query_map([], |row| {
                let mut obj = serde_json::Map::new();
                for (i, c) in columns.iter().enumerate() {
                    let v = match row.get_ref(i)? {
                        rusqlite::types::ValueRef::Null => Json::Null,
                        rusqlite::types::ValueRef::Integer(n) => json!(n),
                        rusqlite::types::ValueRef::Real(f) => json!(f),
                        rusqlite::types::ValueRef::Text(t) => {
                            Json::String(String::from_utf8_lossy(t).into_owned())
                        }
                        rusqlite::types::ValueRef::Blob(_) => Json::String("<blob>".into()),
                    };
                    obj.insert(c.clone(), v);
                }
                Ok(Json::Object(obj))
            })
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        tables.insert(name, Json::Array(rows));
    }
    Json::Object(tables)
}

fn schema_sql(path: &Path) -> String {
    let conn = rusqlite_open(path);
    let mut stmt = conn
        .prepare("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
        .unwrap();
    let sql: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    sql.iter().map(|s| format!("{s};\n")).collect()
}

fn rusqlite_open(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).unwrap()
}

fn input_content() -> (tinystore_core::Tables, tinystore_core::Values) {
    let input = fixture("sqlite/input-content.json");
    (
        tables_from_json(&input[0], false).unwrap(),
        values_from_json(&input[1], false).unwrap(),
    )
}

#[test]
fn loads_tinybase_store_json_database() {
    let dir = scratch("load-store-json");
    let db = fixture_copy("store-json.sqlite", &dir);
    let store = Store::new();
    let persister = Persister::new(
        &store,
        SqlitePersistence::open(&db, SqliteJsonConfig::default()).unwrap(),
    );
    persister.load(None).unwrap();
    let expected = fixture("sqlite/store-json.loaded.json");
    assert_eq!(
        stringify_pretty(&content_json(&store), "  "),
        stringify_pretty(&expected["content"], "  ")
    );
    assert_eq!(persister.get_stats().loads, 1);
}

#[test]
fn loads_tinybase_mergeable_json_database_with_its_stamps() {
    let dir = scratch("load-mergeable-json");
    let db = fixture_copy("mergeable-json.sqlite", &dir);
    let store = MergeableStore::new(None);
    let persister = Persister::new(
        &store,
        SqlitePersistence::open(&db, SqliteJsonConfig::default()).unwrap(),
    );
    persister.load(None).unwrap();
    let expected = fixture("sqlite/mergeable-json.loaded.json");
    assert_eq!(content_json(&store), expected["content"]);
    assert_eq!(
        stringify_pretty(&public_mergeable(&store), "  "),
        stringify_pretty(&expected["mergeableContent"], "  ")
    );
    let (t, v) = store.get_mergeable_content_hashes();
    assert_eq!(json!([t, v]), expected["contentHashes"]);
}

#[test]
fn writes_what_tinybase_writes_in_json_mode() {
    let dir = scratch("write-json");
    let (tables, values) = input_content();

    let plain = Store::new();
    plain.set_content(&tables, &values);
    let db = dir.join("store.sqlite");
    Persister::new(
        &plain,
        SqlitePersistence::open(&db, SqliteJsonConfig::default()).unwrap(),
    )
    .save()
    .unwrap();
    assert_eq!(
        schema_sql(&db),
        std::fs::read_to_string(fixture_path("store-json.schema.sql")).unwrap()
    );
    assert_eq!(rows_json(&db), fixture("sqlite/store-json.rows.json"));

    let mergeable = MergeableStore::with_clock(Some("fixture-client"), Box::new(|| T0));
    mergeable.set_content(&tables, &values);
    let db = dir.join("mergeable.sqlite");
    Persister::new(
        &mergeable,
        SqlitePersistence::open(&db, SqliteJsonConfig::default()).unwrap(),
    )
    .save()
    .unwrap();
    assert_eq!(
        schema_sql(&db),
        std::fs::read_to_string(fixture_path("mergeable-json.schema.sql")).unwrap()
    );
    assert_eq!(rows_json(&db), fixture("sqlite/mergeable-json.rows.json"));
}

#[test]
fn file_persister_round_trips_both_kinds_atomically() {
    let dir = scratch("file");
    let path = dir.join("store.json");
    let (tables, values) = input_content();
    let store = MergeableStore::with_clock(Some("fixture-client"), Box::new(|| T0));
    store.set_content(&tables, &values);
    let persister = Persister::new(&store, FilePersistence::new(&path));
    persister.save().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text, store.get_mergeable_content_json());
    // No temporary file is left behind.
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);

    let loaded = MergeableStore::new(None);
    Persister::new(&loaded, FilePersistence::new(&path))
        .load(None)
        .unwrap();
    assert_eq!(loaded.get_mergeable_content_json(), text);

    // A plain Store reads a MergeableStore's file as its content.
    let plain = Store::new();
    Persister::new(&plain, FilePersistence::new(&path))
        .load(None)
        .unwrap();
    assert_eq!(plain.get_content(), store.get_content());
}

#[test]
fn auto_save_and_initial_content() {
    let dir = scratch("auto-save");
    let path = dir.join("store.json");
    let store = Store::new();
    let persister = Persister::new(&store, FilePersistence::new(&path));
    let statuses = Arc::new(Mutex::new(Vec::new()));
    let seen = statuses.clone();
    persister.add_status_listener(move |s| seen.lock().unwrap().push(s));
    let (tables, values) = input_content();
    persister.load(Some((&tables, &values))).unwrap();
    assert_eq!(store.get_content(), (tables.clone(), values.clone()));
    persister.start_auto_save().unwrap();
    store.set_cell("pets", "fido", "legs", 3);
    let saved = std::fs::read_to_string(&path).unwrap();
    assert_eq!(saved, store.get_json());
    assert!(saved.contains(r#""legs":3"#));
    // A transaction that changes nothing does not save.
    let saves = persister.get_stats().saves;
    store.set_cell("pets", "fido", "legs", 3);
    assert_eq!(persister.get_stats().saves, saves);
    persister.stop_auto_save();
    store.set_cell("pets", "fido", "legs", 5);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), saved);
    assert_eq!(
        statuses.lock().unwrap()[..4],
        [Status::Loading, Status::Idle, Status::Saving, Status::Idle]
    );
}

#[test]
fn auto_load_picks_up_another_connections_writes() {
    let dir = scratch("auto-load");
    let db = dir.join("shared.sqlite");
    let a = MergeableStore::new(Some("a"));
    let b = MergeableStore::new(Some("b"));
    let pa = Persister::new(
        &a,
        SqlitePersistence::open(&db, SqliteJsonConfig::default()).unwrap(),
    );
    let pb = Persister::new(
        &b,
        SqlitePersistence::open(&db, SqliteJsonConfig::default()).unwrap(),
    );
    pa.start_auto_persisting(None, Duration::from_millis(20), false)
        .unwrap();
    pb.start_auto_persisting(None, Duration::from_millis(20), false)
        .unwrap();
    a.set_cell("pets", "fido", "species", "dog");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while b.get_cell("pets", "fido", "species").is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "b never saw a's write"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        b.get_mergeable_content_hashes(),
        a.get_mergeable_content_hashes()
    );
    pa.destroy();
    pb.destroy();
}

#[test]
fn unreadable_storage_is_an_error_and_is_never_overwritten() {
    let dir = scratch("bad");
    // Not a database at all.
    let junk = dir.join("junk.sqlite");
    std::fs::write(
        &junk,
        b"this is not sqlite, just some bytes of text and more text",
    )
    .unwrap();
    assert!(SqlitePersistence::open(&junk, SqliteJsonConfig::default()).is_err());
    assert_eq!(
        std::fs::read(&junk).unwrap(),
        b"this is not sqlite, just some bytes of text and more text"
    );

    // A database whose document is not JSON, not text, or not UTF-8; and a table of the
    // wrong shape.
    for (name, setup) in [
        (
            "bad-json",
            r#"CREATE TABLE tinybase(_id PRIMARY KEY, store); INSERT INTO tinybase VALUES('_', '[{"t":');"#,
        ),
        (
            "not-text",
            "CREATE TABLE tinybase(_id PRIMARY KEY, store); INSERT INTO tinybase VALUES('_', 42);",
        ),
        (
            "not-utf8",
            "CREATE TABLE tinybase(_id PRIMARY KEY, store); INSERT INTO tinybase VALUES('_', CAST(x'5bff5d' AS TEXT));",
        ),
        (
            "wrong-shape",
            "CREATE TABLE tinybase(a, b); INSERT INTO tinybase VALUES(1, 2);",
        ),
        (
            "not-tinybase",
            r#"CREATE TABLE tinybase(_id PRIMARY KEY, store); INSERT INTO tinybase VALUES('_', '{"a":1}');"#,
        ),
    ] {
        let db = dir.join(format!("{name}.sqlite"));
        rusqlite::Connection::open(&db)
            .unwrap()
            .execute_batch(setup)
            .unwrap();
        let before = rows_json(&db);
        for mergeable in [false, true] {
            let store = if mergeable {
                MergeableStore::new(None).store().clone()
            } else {
                Store::new()
            };
            let persister = Persister::new(
                &store,
                SqlitePersistence::open(&db, SqliteJsonConfig::default()).unwrap(),
            );
            assert!(persister.load(None).is_err(), "{name}");
            assert!(!store.has_tables());
            store.set_value("v", 1);
            assert_eq!(
                persister.save().err(),
                Some(PersistError::LoadFailed),
                "{name}"
            );
            assert!(persister.start_auto_save().is_err(), "{name}");
            assert_eq!(rows_json(&db), before, "{name}");
        }
    }

    // The same for a file.
    let path = dir.join("bad.json");
    std::fs::write(&path, "[[{\"t\":").unwrap();
    let store = MergeableStore::new(None);
    let persister = Persister::new(&store, FilePersistence::new(&path));
    assert!(persister.load(None).is_err());
    assert!(persister.save().is_err());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "[[{\"t\":");
    // Until the user says so.
    persister.allow_overwrite().save().unwrap();
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        store.get_mergeable_content_json()
    );
    let _ = parse("[]");
}

fn tabular(ids: &[&str]) -> tinystore_core::persist::sqlite::TabularConfig {
    tinystore_core::persist::sqlite::TabularConfig::tables(ids)
}

/// Rows of every table, sorted, for comparisons that do not depend on insertion order.
fn sorted_rows(path: &Path) -> Json {
    let mut rows = rows_json(path);
    for (_, table) in rows.as_object_mut().unwrap() {
        table.as_array_mut().unwrap().sort_by_key(|r| r.to_string());
    }
    rows
}

#[test]
fn tabular_mode_reads_and_writes_what_tinybase_does() {
    let dir = scratch("tabular");
    let db = fixture_copy("store-tabular.sqlite", &dir);
    let store = Store::new();
    Persister::new(
        &store,
        SqlitePersistence::open(&db, tabular(&["pets", "species"])).unwrap(),
    )
    .load(None)
    .unwrap();
    let expected = fixture("sqlite/store-tabular.loaded.json");
    assert_eq!(
        serde_json::to_string(&content_json(&store)).unwrap(),
        serde_json::to_string(&expected["content"]).unwrap()
    );

    let (tables, values) = input_content();
    let store = Store::new();
    store.set_content(&tables, &values);
    let out = dir.join("out.sqlite");
    Persister::new(
        &store,
        SqlitePersistence::open(&out, tabular(&["pets", "species"])).unwrap(),
    )
    .save()
    .unwrap();
    assert_eq!(
        schema_sql(&out),
        std::fs::read_to_string(fixture_path("store-tabular.schema.sql")).unwrap()
    );
    assert_eq!(rows_json(&out), fixture("sqlite/store-tabular.rows.json"));

    // TinyBase refuses a MergeableStore in tabular mode; so does tinystore.
    let m = MergeableStore::new(None);
    assert!(matches!(
        Persister::try_new(
            &m,
            SqlitePersistence::open_in_memory(tabular(&["pets"])).unwrap()
        ),
        Err(PersistError::Unsupported(_))
    ));
}

#[test]
fn tabular_auto_save_writes_only_changes_and_matches_a_full_save() {
    let dir = scratch("tabular-auto");
    let db = dir.join("auto.sqlite");
    let (tables, values) = input_content();
    let store = Store::new();
    store.set_content(&tables, &values);
    let persister = Persister::new(
        &store,
        SqlitePersistence::open(&db, tabular(&["pets", "species"])).unwrap(),
    );
    persister.start_auto_save().unwrap();
    type Step = Box<dyn Fn(&Store)>;
    let steps: Vec<Step> = vec![
        Box::new(|s| {
            s.set_cell("pets", "fido", "legs", 3);
        }),
        Box::new(|s| {
            s.del_row("pets", "felix");
        }),
        Box::new(|s| {
            s.set_cell("pets", "rex", "color", "black");
        }),
        Box::new(|s| {
            s.del_cell("pets", "fido", "sold", false);
        }),
        Box::new(|s| {
            s.set_value("open", false).del_value("name");
        }),
        Box::new(|s| {
            s.set_cell(
                "pets",
                "o",
                "obj",
                tinystore_core::Cell::from_json(json!({"a": [1]})),
            );
        }),
        Box::new(|s| {
            s.del_table("species");
        }),
    ];
    for (i, step) in steps.iter().enumerate() {
        step(&store);
        let full = dir.join(format!("full-{i}.sqlite"));
        Persister::new(
            &store,
            SqlitePersistence::open(&full, tabular(&["pets", "species"])).unwrap(),
        )
        .save()
        .unwrap();
        let (mut auto_rows, full_rows) = (sorted_rows(&db), sorted_rows(&full));
        // A full save drops an empty table's rows the same way; columns added earlier stay in
        // the auto-saved table (partial saves never drop columns), so compare per full column.
        for (table, rows) in full_rows.as_object().unwrap() {
            let auto = auto_rows
                .as_object_mut()
                .unwrap()
                .remove(table)
                .unwrap_or(json!([]));
            let project = |r: &Json| {
                let keys: Vec<&String> = rows[0].as_object().unwrap().keys().collect();
                json!(
                    keys.iter()
                        .map(|k| r[k.as_str()].clone())
                        .collect::<Vec<_>>()
                )
            };
            let auto: Vec<Json> = auto.as_array().unwrap().iter().map(project).collect();
            let full: Vec<Json> = rows.as_array().unwrap().iter().map(project).collect();
            assert_eq!(auto, full, "step {i}, table {table}");
        }
        // And it loads back to the store's content (missing cells as nulls, booleans as 0/1).
        let loaded = Store::new();
        Persister::new(
            &loaded,
            SqlitePersistence::open(&db, tabular(&["pets", "species"])).unwrap(),
        )
        .load(None)
        .unwrap();
        assert_eq!(
            loaded.get_row_ids("pets").len(),
            store.get_row_ids("pets").len(),
            "step {i}"
        );
        // A value deleted by an auto-save is a NULL column, which loads as a null value (as
        // in TinyBase: tabular tables load dense).
        for (v, value) in loaded.get_values() {
            match store.get_value(&v) {
                Some(expected) if expected.as_bool().is_some() => {
                    assert_eq!(
                        value.as_f64(),
                        Some(f64::from(u8::from(expected.as_bool().unwrap())))
                    )
                }
                Some(expected) => assert_eq!(value, expected, "step {i}"),
                None => assert!(value.is_null(), "step {i}"),
            }
        }
    }
    assert_eq!(
        store.get_cell("pets", "o", "obj"),
        Some(tinystore_core::Cell::from_json(json!({"a": [1]})))
    );
}

/// Walks an error's `source()` chain for a cause of type `E`.
fn find_cause<'a, E: std::error::Error + 'static>(
    e: &'a (dyn std::error::Error + 'static),
) -> Option<&'a E> {
    let mut next = Some(e);
    while let Some(e) = next {
        if let Some(found) = e.downcast_ref::<E>() {
            return Some(found);
        }
        next = e.source();
    }
    None
}

#[test]
fn storage_errors_keep_their_cause() {
    use tinystore_core::persist::PersistErrorKind;
    let dir = scratch("error-causes");

    // SQLite: the chain reaches rusqlite's error, with SQLite's own code.
    let junk = dir.join("junk.sqlite");
    std::fs::write(&junk, b"not a database, definitely not one at all").unwrap();
    let err = SqlitePersistence::open(&junk, SqliteJsonConfig::default()).unwrap_err();
    assert!(matches!(err, PersistError::Sqlite(_)), "{err:?}");
    assert_eq!(err.kind(), PersistErrorKind::Storage);
    assert!(
        err.to_string().starts_with("storage error: sqlite: "),
        "{err}"
    );
    let cause = find_cause::<rusqlite::Error>(&err).expect("a rusqlite::Error in the chain");
    assert_eq!(
        cause.sqlite_error_code(),
        Some(rusqlite::ErrorCode::NotADatabase)
    );
    assert_eq!(err.clone(), err);

    // A read-only database: loads work, a save fails with SQLite's read-only error.
    let db = dir.join("db.sqlite");
    let store = Store::new();
    store.set_value("v", 1);
    Persister::new(
        &store,
        SqlitePersistence::open(&db, SqliteJsonConfig::default()).unwrap(),
    )
    .save()
    .unwrap();
    let read_only = tinystore_core::persist::sqlite::SqliteDatabase::open_read_only(&db)
        .unwrap()
        .into_persistence(SqliteJsonConfig::default())
        .unwrap();
    let copy = Store::new();
    let persister = Persister::new(&copy, read_only);
    persister.load(None).unwrap();
    assert_eq!(copy.get_json(), store.get_json());
    copy.set_value("v", 2);
    let err = persister.save().unwrap_err();
    let cause = find_cause::<rusqlite::Error>(&err).expect("a rusqlite::Error in the chain");
    assert_eq!(
        cause.sqlite_error_code(),
        Some(rusqlite::ErrorCode::ReadOnly)
    );
    assert!(
        tinystore_core::persist::sqlite::SqliteDatabase::open_read_only(dir.join("none.sqlite"))
            .is_err()
    );
    assert!(!dir.join("none.sqlite").exists());

    // A file: the chain reaches the io::Error.
    let err = Persister::new(&Store::new(), FilePersistence::new(&dir))
        .load(None)
        .unwrap_err();
    assert!(matches!(err, PersistError::Os(_)), "{err:?}");
    assert_eq!(err.kind(), PersistErrorKind::Storage);
    assert!(find_cause::<std::io::Error>(&err).is_some());

    // Unreadable content: the chain reaches the JSON error.
    let bad = dir.join("bad.json");
    std::fs::write(&bad, "[[{\"t\":").unwrap();
    let err = Persister::new(&Store::new(), FilePersistence::new(&bad))
        .load(None)
        .unwrap_err();
    assert_eq!(err.kind(), PersistErrorKind::Content);
    assert!(err.to_string().starts_with("unreadable stored content: "));
    assert!(find_cause::<tinystore_core::json::JsonError>(&err).is_some());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Storage that records what auto-save hands it.
struct Recording {
    writes: Arc<Mutex<Vec<Option<tinystore_core::Changes>>>>,
    writes_changes: bool,
}

impl tinystore_core::persist::Persistence for Recording {
    fn read(&mut self) -> Result<Option<tinystore_core::persist::Persisted>, PersistError> {
        Ok(None)
    }

    fn write(
        &mut self,
        _target: &tinystore_core::persist::Target,
        changes: Option<&tinystore_core::Changes>,
    ) -> Result<(), PersistError> {
        self.writes.lock().unwrap().push(changes.cloned());
        Ok(())
    }

    fn writes_changes(&self) -> bool {
        self.writes_changes
    }
}

#[test]
fn auto_save_skips_transactions_that_change_nothing() {
    for (mergeable, writes_changes) in [(false, true), (false, false), (true, true), (true, false)]
    {
        let case = format!("mergeable {mergeable}, writes changes {writes_changes}");
        let store = if mergeable {
            MergeableStore::with_clock(None, Box::new(|| T0))
                .store()
                .clone()
        } else {
            Store::new()
        };
        store.set_cell("t", "r", "c", 1);
        let writes = Arc::new(Mutex::new(Vec::new()));
        let persister = Persister::new(
            &store,
            Recording {
                writes: writes.clone(),
                writes_changes,
            },
        );
        persister.start_auto_save().unwrap();
        assert_eq!(
            writes.lock().unwrap().len(),
            1,
            "{case}: the first full save"
        );

        // Nothing touched: no save.
        store.transaction(|_| {});
        store.set_cell("t", "r", "c", 1);
        assert_eq!(persister.get_stats().saves, 1, "{case}");

        // Set and set back: a net no-op for a Store (no save, as TinyBase), new stamps for a
        // MergeableStore (saved, as TinyBase).
        store.transaction(|s| {
            s.set_cell("t", "r", "c", 2);
            s.set_cell("t", "r", "c", 1);
        });
        let saves = if mergeable { 2 } else { 1 };
        assert_eq!(persister.get_stats().saves, saves, "{case}");

        // A change: saved, with its changes when the storage writes them.
        store.set_cell("t", "r", "c", 3);
        assert_eq!(persister.get_stats().saves, saves + 1, "{case}");
        let last = writes.lock().unwrap().last().cloned().unwrap();
        match (writes_changes, last) {
            (true, Some(changes)) => assert_eq!(
                changes.to_json(),
                json!([{"t": {"r": {"c": 3}}}, {}, 1]),
                "{case}"
            ),
            (false, None) => {}
            (_, other) => panic!("{case}: {other:?}"),
        }
        persister.destroy();
    }
}
