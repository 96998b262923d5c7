//! W12: the PostgreSQL persister beside TinyBase's (`cli/bench/postgres.mjs` runs the same
//! shapes on TinyBase's `createPostgresPersister`), and the cross-process fan-out of servers
//! sharing rooms in one database (`W12f`, tinystore only).
//!
//! Both need a PostgreSQL server: `TINYSTORE_PG_URL` (`postgres://user@host:port`), else the
//! throwaway cluster of `tests/postgres/pg.sh` (started if needed). Each run uses a database of
//! its own, dropped at the end.

use std::collections::HashMap;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use tinystore_core::persist::Persister;
use tinystore_core::persist::postgres::{PostgresDatabase, PostgresPersistence};
use tinystore_core::sync::{ReconnectPolicy, WsClientConfig, WsSynchronizer};
use tinystore_core::{Cell, MergeableStore, Store};

use super::Out;
use super::serve_child::ServeChild;
#[path = "../../../core/tests/pg/mod.rs"]
mod pg;
use super::workloads::{check_loaded, fill, json_mode, tabular_mode};

/// A fresh database for this run (`pg::database`: the suites' server or cluster), dropped
/// when this is dropped.
struct Database {
    url: String,
}

impl Database {
    fn new(label: &str) -> Database {
        Database {
            url: pg::database("bench", label),
        }
    }

    fn url(&self) -> String {
        self.url.clone()
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Some((_, name)) = self.url.rsplit_once('/') {
            let _ = Command::new("psql")
                .args([&format!("{}/postgres", pg::server()), "-X", "-q", "-c"])
                .arg(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .output();
        }
    }
}

/// W12: save and load of 50k×10 cells in JSON mode and 5k×10 in tabular mode, and auto-saving
/// one changed cell into a 100k-row tabular table (each of 200 transactions saved).
pub(super) fn w12(out: &mut Out) {
    let database = Database::new("w12");
    let url = database.url();
    let db = PostgresDatabase::connect(&url).expect("W12: PostgreSQL is reachable");
    for (mode, config, rows) in [
        ("json", json_mode as fn() -> _, out.size(50_000, 500)),
        // 5k: TinyBase writes a table in one statement and PostgreSQL allows 65,535 values.
        ("tabular", tabular_mode as fn() -> _, out.size(5_000, 200)),
    ] {
        let store = Store::new();
        fill(&store, 0, rows);
        let persister = Persister::new(&store, PostgresPersistence::new(&db, config()));
        let started = Instant::now();
        persister.save().expect("W12: save");
        let save = started.elapsed();
        let loaded = Store::new();
        let reader = Persister::new(&loaded, PostgresPersistence::new(&db, config()));
        let started = Instant::now();
        reader.load(None).expect("W12: load");
        let load = started.elapsed();
        check_loaded(&loaded, rows);
        out.emit(
            &format!("W12_pg_save_{mode}"),
            rows * 10,
            save,
            json!({"rows": rows}),
        );
        out.emit(
            &format!("W12_pg_load_{mode}"),
            rows * 10,
            load,
            json!({"rows": rows}),
        );
    }

    let rows = out.size(100_000, 1_000);
    let writes = out.size(200, 20);
    let store = Store::new();
    fill(&store, 0, rows);
    let table = tinystore_core::persist::config::TabularConfig::tables(&["big"]);
    let big = Store::new();
    big.set_table("big", &store.get_table("t"));
    let persister = Persister::new(&big, PostgresPersistence::new(&db, table));
    persister
        .start_auto_save()
        .expect("W12: the first full save");
    let started = Instant::now();
    for i in 0..writes {
        big.set_cell("big", &format!("r{}", (i * 7919) % rows), "c0", -(i as f64));
    }
    let autosave = started.elapsed();
    assert!(!persister.has_unsaved_changes(), "W12: an auto-save failed");
    persister.destroy();
    out.emit(
        "W12_pg_autosave_cell@100k",
        writes,
        autosave,
        json!({"rows": rows, "writes": writes}),
    );
}

/// W12f: 3 server processes on one database, 300 clients over 30 rooms spread across them
/// (each room has clients on every server); one client per room writes once a second, and the
/// time from the write to its arrival at the room's clients on the other two servers is
/// recorded.
pub(super) fn w12f(out: &mut Out) {
    let database = Database::new("w12f");
    let url = database.url();
    let servers: Vec<ServeChild> = (0..3)
        .map(|_| ServeChild::start("W12f", ["--save-interval-ms", "0", "--db", &url], false))
        .collect();
    let rooms = out.size(30, 6) as usize;
    let per_room = out.size(10, 3) as usize;
    let writes = out.size(10, 2) as usize;
    type Sent = Arc<Mutex<HashMap<(usize, u64), Instant>>>;
    let sent: Sent = Arc::default();
    let samples: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let mut clients = Vec::new();
    for room in 0..rooms {
        for k in 0..per_room {
            let server = &servers[k % servers.len()];
            let store = MergeableStore::new(None);
            if k % servers.len() != 0 {
                let (sent, samples) = (sent.clone(), samples.clone());
                // Each write is a new row of its own, so every one must arrive (a value written
                // over and over could be skipped by a merge that brings only the latest).
                store.add_cell_listener(
                    Some("w"),
                    None,
                    Some("seq"),
                    move |_, _, _, _, new, old| {
                        if let (Some(Cell::Number(n)), None) = (new, old)
                            && let Some(at) = sent.lock().unwrap().get(&(room, *n as u64))
                        {
                            samples.lock().unwrap().push(at.elapsed());
                        }
                    },
                    false,
                );
            }
            let sync = WsSynchronizer::connect(
                &store,
                WsClientConfig {
                    url: format!("ws://127.0.0.1:{}/room{room}", server.port),
                    reconnect: Some(ReconnectPolicy::default()),
                    ..Default::default()
                },
                Default::default(),
            )
            .expect("W12f: a client connects");
            sync.start_sync(None);
            clients.push((room, k, store, sync));
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    // Each room gets one write per second, the rooms' writes spread evenly over the second.
    let pause = Duration::from_secs(1) / rooms as u32;
    for w in 1..=writes as u64 {
        for (room, k, store, _) in &clients {
            if *k == 0 {
                sent.lock().unwrap().insert((*room, w), Instant::now());
                store.set_cell("w", &w.to_string(), "seq", w as f64);
                std::thread::sleep(pause);
            }
        }
    }
    let expected = rooms * writes * (per_room - per_room.div_ceil(servers.len()));
    let deadline = Instant::now() + Duration::from_secs(30);
    while samples.lock().unwrap().len() < expected && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let elapsed = started.elapsed();
    let mut got = samples.lock().unwrap().clone();
    for (_, _, _, sync) in &clients {
        sync.destroy();
    }
    drop(servers);
    assert!(
        got.len() == expected,
        "W12f: only {} of {expected} arrivals within 30 s",
        got.len()
    );
    got.sort();
    let pct = |p: f64| got[((got.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1e3;
    out.emit(
        "W12f_pg_fanout",
        got.len() as u64,
        elapsed,
        json!({
            "servers": 3, "rooms": rooms, "clients": rooms * per_room, "writes": writes,
            "arrivals": got.len(), "expected": expected,
            "p50_ms": (pct(0.5) * 1000.0).round() / 1000.0,
            "p99_ms": (pct(0.99) * 1000.0).round() / 1000.0,
            "max_ms": (pct(1.0) * 1000.0).round() / 1000.0,
        }),
    );
}
