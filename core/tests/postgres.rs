//! The PostgreSQL persister against a real PostgreSQL server (see `pg/mod.rs` for how it is
//! started): both layouts round trip, tabular auto-save writes only what changed, auto-load
//! follows other connections' writes through `NOTIFY` alone, and a lost connection loses
//! nothing.

mod pg;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tinystore_core::persist::config::{JsonConfig, TabularConfig};
use tinystore_core::persist::postgres::{PostgresDatabase, PostgresPersistence};
use tinystore_core::persist::{PersistErrorKind, Persistable, Persister};
use tinystore_core::{MergeableStore, Store};

/// Long enough that only a notification can make auto-load load within a test.
const NO_POLL: Duration = Duration::from_secs(3600);

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "timed out waiting until {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn json_mode_round_trips_a_store_and_a_mergeable_store() {
    let url = pg::database("pgp", "json");
    let db = PostgresDatabase::connect(&url).unwrap();

    let store = Store::new();
    store.set_cell("pets", "fido", "species", "dog");
    store.set_cell("pets", "fido", "legs", 4);
    store.set_value("open", true);
    store.set_cell("pets", "fido", "toy", serde_json::json!({"a": [1]}));
    Persister::new(&store, PostgresPersistence::new(&db, JsonConfig::default()))
        .save()
        .unwrap();
    assert_eq!(
        pg::psql(&url, "SELECT \"_id\"||' '||\"store\" FROM tinybase"),
        "_ [{\"pets\":{\"fido\":{\"species\":\"dog\",\"legs\":4,\"toy\":\"\u{FFFD}{\\\"a\\\":[1]}\"}}},{\"open\":true}]"
    );
    let column_types = pg::psql(
        &url,
        "SELECT string_agg(column_name||':'||data_type, ',' ORDER BY ordinal_position) \
         FROM information_schema.columns WHERE table_name='tinybase'",
    );
    assert_eq!(column_types, "_id:text,store:text");
    let loaded = Store::new();
    Persister::new(
        &loaded,
        PostgresPersistence::new(&db, JsonConfig::default()),
    )
    .load(None)
    .unwrap();
    assert_eq!(loaded.get_json(), store.get_json());
    assert!(matches!(
        loaded.get_cell("pets", "fido", "toy"),
        Some(tinystore_core::Cell::Object(_))
    ));

    let mergeable = MergeableStore::new(None);
    mergeable.set_cell("pets", "felix", "species", "cat");
    mergeable.del_cell("pets", "felix", "species", false);
    mergeable.set_value("open", false);
    Persister::new(
        &mergeable,
        PostgresPersistence::new(&db, JsonConfig::table("merged")),
    )
    .save()
    .unwrap();
    let copy = MergeableStore::new(None);
    Persister::new(
        &copy,
        PostgresPersistence::new(&db, JsonConfig::table("merged")),
    )
    .load(None)
    .unwrap();
    assert_eq!(
        copy.get_mergeable_content_json(),
        mergeable.get_mergeable_content_json()
    );
}

/// A save into a table it creates writes by `COPY` (binary format), a save into an existing
/// table by upsert: both store the same text, whatever the cells hold (tabs, newlines,
/// backslashes, quotes, NUL-free control characters, non-ASCII, empty strings, values longer
/// than one `COPY` message, missing cells as `NULL`).
#[test]
fn a_new_table_holds_what_an_existing_one_would() {
    let url = pg::database("pgp", "copy");
    let db = PostgresDatabase::connect(&url).unwrap();
    let awkward = "tab\there\nnew line \\ back \"quoted\" \u{1} é 😀 \r";
    let store = Store::new();
    store.set_cell("pets", "fido", "name", awkward);
    store.set_cell("pets", "fido", "empty", "");
    store.set_cell("pets", "felix", "long", "x".repeat(200_000) + awkward);
    store.set_cell("pets", "a\tb\nc", "name", "id with a tab");
    for i in 0..3_000 {
        store.set_cell("pets", &format!("r{i}"), "n", i);
    }
    store.set_value("v", awkward);
    let tables = |url: &str| {
        pg::psql(
            url,
            "SELECT md5(string_agg(\"_id\"||'|'||coalesce(name,'NULL')||'|'||coalesce(empty,'NULL')||'|'||\
             coalesce(long,'NULL')||'|'||coalesce(n,'NULL'), ',' ORDER BY \"_id\")) FROM pets",
        )
    };
    let json = |url: &str| pg::psql(url, "SELECT md5(store)||octet_length(store) FROM tinybase");
    let save = |mode: tinystore_core::persist::config::SqlMode| {
        Persister::new(&store, PostgresPersistence::new(&db, mode))
            .save()
            .unwrap();
    };
    save(TabularConfig::tables(&["pets"]).into());
    save(JsonConfig::default().into());
    let (copied, copied_json) = (tables(&url), json(&url));
    assert_eq!(
        pg::psql(
            &url,
            "SELECT count(*)||' '||count(name)||' '||count(n) FROM pets"
        ),
        "3003 2 3000"
    );
    // The same content again, now into existing tables: upserts.
    pg::psql(
        &url,
        "UPDATE pets SET name=NULL; UPDATE tinybase SET store='[{},{}]'",
    );
    save(TabularConfig::tables(&["pets"]).into());
    save(JsonConfig::default().into());
    assert_eq!(tables(&url), copied);
    assert_eq!(json(&url), copied_json);
    assert!(copied_json.ends_with(&store.get_json().len().to_string()));

    let loaded = Store::new();
    Persister::new(
        &loaded,
        PostgresPersistence::new(&db, JsonConfig::default()),
    )
    .load(None)
    .unwrap();
    assert!(
        loaded.get_json() == store.get_json(),
        "the JSON document differs"
    );
    // Tabular mode loads every column of a row (a missing cell as null, as TinyBase does).
    let loaded = Store::new();
    Persister::new(
        &loaded,
        PostgresPersistence::new(&db, TabularConfig::tables(&["pets"])),
    )
    .load(None)
    .unwrap();
    for (row, cell) in [
        ("fido", "name"),
        ("fido", "empty"),
        ("felix", "long"),
        ("a\tb\nc", "name"),
    ] {
        assert!(
            loaded.get_cell("pets", row, cell) == store.get_cell("pets", row, cell),
            "{row}/{cell} differs"
        );
    }
    assert_eq!(
        loaded.get_cell("pets", "r2999", "n"),
        store.get_cell("pets", "r2999", "n")
    );
    assert_eq!(loaded.get_value("v"), store.get_value("v"));
}

#[test]
fn nothing_stored_loads_the_initial_content() {
    let url = pg::database("pgp", "initial");
    let store = Store::new();
    let persister = Persister::new(
        &store,
        PostgresPersistence::connect(&url, JsonConfig::default()).unwrap(),
    );
    let tables = tinystore_core::Tables::from_iter([(
        "t".to_string(),
        tinystore_core::Table::from_iter([(
            "r".to_string(),
            tinystore_core::Row::from_iter([("c".to_string(), 1.into())]),
        )]),
    )]);
    persister
        .load(Some((&tables, &tinystore_core::Values::new())))
        .unwrap();
    assert_eq!(store.get_json(), r#"[{"t":{"r":{"c":1}}},{}]"#);
}

#[test]
fn tabular_mode_stores_cells_as_json_text_and_auto_saves_only_changes() {
    let url = pg::database("pgp", "tabular");
    let db = PostgresDatabase::connect(&url).unwrap();
    let store = Store::new();
    store.set_cell("pets", "fido", "species", "dog");
    store.set_cell("pets", "fido", "legs", 4);
    store.set_cell("pets", "felix", "species", "cat");
    store.set_cell("pets", "felix", "toy", serde_json::json!({"a": [1]}));
    store.set_value("name", "shop");
    let config = TabularConfig::tables(&["pets"]);
    let persister = Persister::new(&store, PostgresPersistence::new(&db, config.clone()));
    persister.start_auto_save().unwrap();
    let rows = |url: &str| {
        pg::psql(
            url,
            "SELECT \"_id\"||'|'||coalesce(species,'NULL')||'|'||coalesce(legs,'NULL')||'|'||coalesce(toy,'NULL') \
             FROM pets ORDER BY \"_id\"",
        )
    };
    assert_eq!(
        rows(&url),
        "felix|\"cat\"|NULL|\"\u{FFFD}{\\\"a\\\":[1]}\"\nfido|\"dog\"|4|NULL"
    );
    assert_eq!(
        pg::psql(&url, "SELECT name FROM tinybase_values WHERE \"_id\"='_'"),
        "\"shop\""
    );

    // An auto-save touches only the changed row: a marker in another row's unchanged column
    // survives it.
    pg::psql(&url, "UPDATE pets SET legs='99' WHERE \"_id\"='felix'");
    store.set_cell("pets", "fido", "legs", 3);
    store.del_row("pets", "felix");
    assert_eq!(rows(&url), "fido|\"dog\"|3|NULL");
    store.set_cell("pets", "rex", "legs", 4);
    pg::psql(
        &url,
        "UPDATE pets SET species='\"wolf\"' WHERE \"_id\"='fido'",
    );
    store.set_cell("pets", "rex", "species", "dog");
    assert_eq!(rows(&url), "fido|\"wolf\"|3|NULL\nrex|\"dog\"|4|NULL");
    store.del_value("name");
    assert_eq!(
        pg::psql(&url, "SELECT coalesce(name,'NULL') FROM tinybase_values"),
        "NULL"
    );

    let loaded = Store::new();
    Persister::new(&loaded, PostgresPersistence::new(&db, config))
        .load(None)
        .unwrap();
    assert_eq!(
        loaded.get_json(),
        r#"[{"pets":{"fido":{"species":"wolf","legs":3,"toy":null},"rex":{"species":"dog","legs":4,"toy":null}}},{"name":null}]"#
    );
}

#[test]
fn tabular_text_that_is_not_json_is_an_error_and_the_store_is_kept() {
    let url = pg::database("pgp", "badtext");
    pg::psql(
        &url,
        "CREATE TABLE pets(\"_id\" text PRIMARY KEY, species text)",
    );
    pg::psql(&url, "INSERT INTO pets VALUES ('fido', 'dog')");
    let store = Store::new();
    store.set_cell("t", "r", "c", 1);
    let persister = Persister::new(
        &store,
        PostgresPersistence::connect(&url, TabularConfig::tables(&["pets"])).unwrap(),
    );
    let e = persister.load(None).unwrap_err();
    assert_eq!(e.kind(), PersistErrorKind::Content);
    assert!(e.to_string().contains("species"), "{e}");
    assert_eq!(store.get_json(), r#"[{"t":{"r":{"c":1}}},{}]"#);
}

/// Tables made by hand may have columns of other types: each reads as TinyBase's driver gives
/// it (numbers and booleans as they are, a `varchar` as text; a JSON-typed cell is refused).
#[test]
fn columns_of_other_types_read_as_their_values() {
    let url = pg::database("pgp", "types");
    pg::psql(
        &url,
        "CREATE TABLE pets(\"_id\" integer PRIMARY KEY, legs integer, weight real, tame boolean, species varchar(20), tag jsonb)",
    );
    pg::psql(
        &url,
        "INSERT INTO pets VALUES (1, 4, 7.5, true, '\"dog\"', NULL), (2, NULL, NULL, NULL, NULL, NULL)",
    );
    let store = Store::new();
    let persister = Persister::new(
        &store,
        PostgresPersistence::connect(&url, TabularConfig::tables(&["pets"])).unwrap(),
    );
    persister.load(None).unwrap();
    assert_eq!(
        store.get_json(),
        r#"[{"pets":{"1":{"legs":4,"weight":7.5,"tame":true,"species":"dog","tag":null},"2":{"legs":null,"weight":null,"tame":null,"species":null,"tag":null}}},{}]"#
    );
    pg::psql(&url, "UPDATE pets SET tag = '{\"a\":1}' WHERE \"_id\" = 1");
    let e = persister.load(None).unwrap_err();
    assert!(e.to_string().contains("tag"), "{e}");

    // A JSON-mode document in a varchar column loads; one in a jsonb column is an error.
    pg::psql(
        &url,
        "CREATE TABLE doc(\"_id\" varchar PRIMARY KEY, store varchar); INSERT INTO doc VALUES ('_', '[{\"t\":{\"r\":{\"c\":1}}},{}]')",
    );
    let config = JsonConfig {
        table: "doc".into(),
        ..JsonConfig::default()
    };
    let loaded = Store::new();
    Persister::new(
        &loaded,
        PostgresPersistence::connect(&url, config.clone()).unwrap(),
    )
    .load(None)
    .unwrap();
    assert_eq!(loaded.get_json(), r#"[{"t":{"r":{"c":1}}},{}]"#);
    pg::psql(
        &url,
        "ALTER TABLE doc ALTER COLUMN store TYPE jsonb USING store::jsonb",
    );
    let e = Persister::new(&loaded, PostgresPersistence::connect(&url, config).unwrap())
        .load(None)
        .unwrap_err();
    assert_eq!(e.kind(), PersistErrorKind::Content);
}

#[test]
fn an_unreachable_database_is_an_error_at_once() {
    let started = Instant::now();
    let e = PostgresDatabase::connect("postgres://postgres@127.0.0.1:1/nowhere").unwrap_err();
    assert_eq!(e.kind(), PersistErrorKind::Storage);
    assert!(e.to_string().contains("127.0.0.1:1/nowhere"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(30));
    let e = PostgresDatabase::connect("postgres://[bad").unwrap_err();
    assert!(e.to_string().contains("URL"), "{e}");
    let missing = format!("{}/no_such_database_here", pg::server());
    let e = PostgresDatabase::connect(&missing).unwrap_err();
    assert!(e.to_string().contains("no_such_database_here"), "{e}");
}

/// Two stores on one table through two connections: each sees the other's writes.
fn follow<S: Persistable>(url: &str, table: &str, a: &S, b: &S) {
    let pa = Persister::new(
        a,
        PostgresPersistence::connect(url, JsonConfig::table(table)).unwrap(),
    );
    let pb = Persister::new(
        b,
        PostgresPersistence::connect(url, JsonConfig::table(table)).unwrap(),
    );
    let (sa, sb) = (a.target().store().clone(), b.target().store().clone());
    let errors = Arc::new(Mutex::new(Vec::new()));
    for p in [&pa, &pb] {
        let errors = errors.clone();
        p.set_on_ignored_error(move |e| errors.lock().unwrap().push(e.to_string()));
    }
    pa.start_auto_persisting(None, NO_POLL, false).unwrap();
    pb.start_auto_persisting(None, NO_POLL, false).unwrap();
    sa.set_cell("pets", "fido", "species", "dog");
    wait_until("b sees a's write", || {
        sb.get_cell("pets", "fido", "species").is_some()
    });
    sb.set_value("open", true);
    wait_until("a sees b's write", || sa.get_value("open").is_some());
    assert_eq!(sa.get_json(), sb.get_json());
    assert!(errors.lock().unwrap().is_empty(), "{errors:?}");
    pa.destroy();
    pb.destroy();
}

#[test]
fn auto_load_follows_other_connections_through_notify() {
    let url = pg::database("pgp", "notify");
    follow(&url, "plain", &Store::new(), &Store::new());
    follow(
        &url,
        "merged",
        &MergeableStore::new(None),
        &MergeableStore::new(None),
    );

    // Tabular mode, and a write by plain SQL (any client) reaches the store too.
    let store = Store::new();
    let persister = Persister::new(
        &store,
        PostgresPersistence::connect(&url, TabularConfig::tables(&["pets"])).unwrap(),
    );
    persister.start_auto_load(None, NO_POLL).unwrap();
    pg::psql(
        &url,
        "CREATE TABLE IF NOT EXISTS pets(\"_id\" text PRIMARY KEY)",
    );
    pg::psql(
        &url,
        "ALTER TABLE pets ADD COLUMN IF NOT EXISTS species text",
    );
    pg::psql(&url, "INSERT INTO pets VALUES ('fido', '\"dog\"')");
    wait_until("the store sees the SQL insert", || {
        store.get_cell("pets", "fido", "species").is_some()
    });
    persister.destroy();
}

#[test]
fn a_table_created_later_gets_its_triggers() {
    let url = pg::database("pgp", "created");
    let store = Store::new();
    let mut config = TabularConfig::tables(&["pets"]);
    config.values_load = Default::default();
    config.values_save = Default::default();
    let persister = Persister::new(&store, PostgresPersistence::connect(&url, config).unwrap());
    persister.start_auto_load(None, NO_POLL).unwrap();
    // Someone drops and creates the table again: the event trigger announces it, the persister
    // adds its triggers, and later writes are seen.
    pg::psql(&url, "DROP TABLE pets");
    pg::psql(
        &url,
        "CREATE TABLE pets(\"_id\" text PRIMARY KEY, legs text)",
    );
    std::thread::sleep(Duration::from_millis(300));
    pg::psql(&url, "INSERT INTO pets VALUES ('rex', '4')");
    wait_until("the store sees the insert into the new table", || {
        store.get_cell("pets", "rex", "legs").is_some()
    });
    persister.destroy();
}

#[test]
fn status_and_ignored_errors_report_a_database_gone_away() {
    let url = pg::database("pgp", "gone");
    let store = Store::new();
    let persister = Persister::new(
        &store,
        PostgresPersistence::connect(&url, JsonConfig::default()).unwrap(),
    );
    let errors = Arc::new(Mutex::new(Vec::new()));
    let seen = errors.clone();
    persister.set_on_ignored_error(move |e| seen.lock().unwrap().push(e.to_string()));
    persister.start_auto_save().unwrap();
    // The database disappears under the persister: writes stay in the store, the failure
    // is reported, and the persister knows it has unsaved changes.
    pg::psql(
        &format!("{}/postgres", pg::server()),
        &format!(
            "DROP DATABASE \"{}\" WITH (FORCE)",
            url.rsplit('/').next().unwrap()
        ),
    );
    store.set_cell("t", "r", "c", 1);
    assert_eq!(store.get_cell("t", "r", "c"), Some(1.into()));
    assert!(!errors.lock().unwrap().is_empty());
    assert!(persister.has_unsaved_changes());
    persister.destroy();
}

#[test]
fn own_saves_do_not_make_a_persister_load_again() {
    let url = pg::database("pgp", "own");
    let db = PostgresDatabase::connect(&url).unwrap();
    let store = Store::new();
    let persister = Persister::new(&store, PostgresPersistence::new(&db, JsonConfig::default()));
    persister
        .start_auto_persisting(None, NO_POLL, false)
        .unwrap();
    // A second persister on the same database handle (one command connection) and table.
    let other = Store::new();
    let watcher = Persister::new(&other, PostgresPersistence::new(&db, JsonConfig::default()));
    watcher.start_auto_load(None, NO_POLL).unwrap();
    let loads = persister.get_stats().loads;
    for i in 0..20 {
        store.set_cell("t", &format!("r{i}"), "c", i);
    }
    wait_until("the other persister has every write", || {
        other.get_json() == store.get_json()
    });
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        persister.get_stats().loads,
        loads,
        "own saves were loaded again"
    );
    assert!(watcher.get_stats().loads > 1);
    persister.destroy();
    watcher.destroy();
}
