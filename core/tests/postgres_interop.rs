//! tinystore's PostgreSQL persister beside TinyBase 10.0.1's (`tb-postgres.mjs`, the kit's
//! `tinybase` and `postgres` packages) on one real PostgreSQL: each loads what the other saved
//! (JSON mode with a Store and a MergeableStore, tabular mode), and each one's auto-load sees
//! the other's writes through the shared `NOTIFY` triggers.

mod pg;

use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tinystore_core::persist::config::{JsonConfig, SqlMode, TabularConfig};
use tinystore_core::persist::postgres::PostgresPersistence;
use tinystore_core::persist::{Persistable, Persister};
use tinystore_core::{MergeableStore, Store};

const TABULAR: &str = r#"{"mode":"tabular","tables":{"load":{"pets":"pets"},"save":{"pets":"pets"}},"values":{"load":true,"save":true}}"#;

fn content() -> Value {
    json!([
        {"pets": {"fido": {"species": "dog", "legs": 4, "good": true, "toy": {"a": [1]}},
                  "felix": {"species": "cat", "lives": 9.5}}},
        {"open": true, "name": "shop"}
    ])
}

/// The store's content as TinyBase's `getContent()` prints it (objects and arrays decoded).
fn decoded(store: &Store) -> String {
    json!([
        tinystore_core::content::tables_to_json(&store.get_tables(), false),
        tinystore_core::content::values_to_json(&store.get_values(), false)
    ])
    .to_string()
}

/// TinyBase's loaded MergeableStore holds what `ours` holds: the same content, and the same
/// tables and values hashes (which cover every stamp, tombstones included).
fn assert_same_stamps(theirs: &Value, ours: &MergeableStore) {
    assert_eq!(theirs["content"].to_string(), decoded(ours));
    let stamped: Value = serde_json::from_str(&ours.get_mergeable_content_json()).unwrap();
    for part in [0, 1] {
        assert_eq!(
            theirs["mergeableContent"][part][2], stamped[part][2],
            "hash of part {part}"
        );
        assert_eq!(
            theirs["mergeableContent"][part][1], stamped[part][1],
            "time of part {part}"
        );
    }
}

fn fill(store: &Store) {
    store.set_json(&content().to_string()).unwrap();
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tinystore-pgi-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn tinybase_load(url: &str, config: &[&str], store: &str) -> Value {
    let mut args = vec!["load", "--url", url, "--store", store];
    args.extend(config);
    serde_json::from_str(pg::tinybase(&args).trim()).unwrap()
}

fn ours<S: Persistable>(store: &S, url: &str, mode: SqlMode) -> Persister {
    Persister::new(store, PostgresPersistence::connect(url, mode).unwrap())
}

#[test]
fn tinybase_loads_what_tinystore_saved_and_back() {
    let url = pg::database("pgi", "both_ways");
    // JSON mode, plain Store.
    let store = Store::new();
    fill(&store);
    ours(&store, &url, JsonConfig::table("plain").into())
        .save()
        .unwrap();
    let theirs = tinybase_load(&url, &["--table", "plain"], "plain");
    assert_eq!(theirs["content"].to_string(), decoded(&store));

    // JSON mode, MergeableStore: the stamps come back as they were.
    let mergeable = MergeableStore::new(None);
    fill(&mergeable);
    mergeable.del_cell("pets", "felix", "lives", false);
    ours(&mergeable, &url, JsonConfig::table("merged").into())
        .save()
        .unwrap();
    let theirs = tinybase_load(&url, &["--table", "merged"], "mergeable");
    assert_same_stamps(&theirs, &mergeable);

    // Tabular mode.
    let plain = Store::new();
    fill(&plain);
    ours(&plain, &url, TabularConfig::tables(&["pets"]).into())
        .save()
        .unwrap();
    let theirs = tinybase_load(&url, &["--config", TABULAR], "plain");
    let reloaded = Store::new();
    ours(&reloaded, &url, TabularConfig::tables(&["pets"]).into())
        .load(None)
        .unwrap();
    assert_eq!(theirs["content"].to_string(), decoded(&reloaded));

    // And back: TinyBase saves, tinystore loads.
    let dir = scratch("back");
    let input = dir.join("in.json");
    std::fs::write(&input, content().to_string()).unwrap();
    let input = input.to_str().unwrap();
    for (config, table) in [
        (vec!["--table", "tb_plain"], Some("tb_plain")),
        (vec!["--config", TABULAR], None),
    ] {
        let mut args = vec!["save", "--url", &url, "--in", input];
        args.extend(&config);
        pg::tinybase(&args);
        let mode: SqlMode = match table {
            Some(t) => JsonConfig::table(t).into(),
            None => TabularConfig::tables(&["pets"]).into(),
        };
        let loaded = Store::new();
        ours(&loaded, &url, mode).load(None).unwrap();
        let theirs = tinybase_load(&url, &config, "plain");
        assert_eq!(
            decoded(&loaded),
            theirs["content"].to_string(),
            "{config:?}"
        );
        assert_eq!(loaded.get_cell("pets", "fido", "legs"), Some(4.into()));
    }
    let mut args = vec![
        "save",
        "--url",
        &url,
        "--in",
        input,
        "--table",
        "tb_merged",
        "--store",
        "mergeable",
        "--unique-id",
        "tb-client",
        "--fixed-now",
        "1700000000000",
    ];
    pg::tinybase(&args);
    args.clear();
    let loaded = MergeableStore::new(None);
    ours(&loaded, &url, JsonConfig::table("tb_merged").into())
        .load(None)
        .unwrap();
    let theirs = tinybase_load(&url, &["--table", "tb_merged"], "mergeable");
    assert_same_stamps(&theirs, &loaded);
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out waiting until {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn each_sides_auto_load_sees_the_others_writes_through_notify() {
    let url = pg::database("pgi", "notify");
    let dir = scratch("notify");
    for (config, mode) in [
        (
            vec!["--table", "shared"],
            SqlMode::from(JsonConfig::table("shared")),
        ),
        (
            vec!["--config", TABULAR],
            SqlMode::from(TabularConfig::tables(&["pets"])),
        ),
    ] {
        // TinyBase watches first (its event trigger creation fails when one exists), then
        // tinystore writes.
        // Every row with the same cells: tabular mode loads tables dense (a missing cell comes
        // back null), and this content reads back as it is in both modes.
        let rectangular = json!([
            {"pets": {"fido": {"species": "dog", "legs": 4}, "felix": {"species": "cat", "legs": 4}}},
            {"open": true}
        ]);
        let expect = dir.join("expect.json");
        std::fs::write(&expect, rectangular.to_string()).unwrap();
        let mut args = vec![
            "watch",
            "--url",
            &url,
            "--expect",
            expect.to_str().unwrap(),
            "--timeout-ms",
            "20000",
        ];
        args.extend(&config);
        let mut watcher = pg::tinybase_spawn(&args);
        let mut lines = BufReader::new(watcher.stdout.take().unwrap()).lines();
        assert_eq!(lines.next().unwrap().unwrap(), "READY");

        let store = Store::new();
        let persister = ours(&store, &url, mode.clone());
        persister
            .start_auto_persisting(None, Duration::from_secs(3600), false)
            .unwrap();
        store.set_json(&rectangular.to_string()).unwrap();
        let out = watcher.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "TinyBase did not see tinystore's write ({config:?}): {}",
            String::from_utf8_lossy(&out.stderr)
        );

        // TinyBase writes; tinystore's auto-load (an hour's poll) sees it at once.
        let next = json!([{"pets": {"rex": {"species": "wolf"}}}, {"open": false}]);
        let input = dir.join("next.json");
        std::fs::write(&input, next.to_string()).unwrap();
        let mut args = vec!["save", "--url", &url, "--in", input.to_str().unwrap()];
        args.extend(&config);
        pg::tinybase(&args);
        wait_until("tinystore sees TinyBase's save", || {
            store.get_cell("pets", "rex", "species").is_some()
                && store.get_cell("pets", "fido", "species").is_none()
        });
        persister.destroy();
    }
}
