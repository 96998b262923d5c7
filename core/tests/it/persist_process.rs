//! Persisters across processes: a child process killed (SIGKILL) in the middle of auto-saving
//! large transactions never leaves a torn database, and a write made by one process reaches
//! another process's store through auto-load.
//!
//! The child is this same test binary, re-run with an environment variable naming its role.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tinystore_core::persist::Persister;
use tinystore_core::persist::sqlite::{
    SqliteJsonConfig, SqliteMode, SqlitePersistence, TabularConfig,
};
use tinystore_core::{Cell, MergeableStore, Store};

const ROLE: &str = "TINYSTORE_TEST_CHILD_ROLE";
const DB: &str = "TINYSTORE_TEST_CHILD_DB";
const ROWS: u64 = 1_000;

fn mode(tabular: bool) -> SqliteMode {
    if tabular {
        TabularConfig::tables(&["t"]).into()
    } else {
        SqliteJsonConfig::default().into()
    }
}

/// Runs the named child role of this binary.
fn spawn(role: &str, db: &Path, test: &str) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(ROLE, role)
        .env(DB, db)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tinystore-proc-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Child: rewrites every cell of a 1,000×10 table in one transaction, over and over, with
/// auto-save on; prints each generation once its save has returned.
fn writer_child(db: &str, tabular: bool) {
    let store = Store::new();
    let persister = Persister::new(&store, SqlitePersistence::open(db, mode(tabular)).unwrap());
    persister.load(None).unwrap();
    persister.start_auto_save().unwrap();
    let start = store
        .get_cell("t", "r0", "c0")
        .and_then(|c| c.as_f64())
        .map_or(0, |n| n as u64 + 1);
    let mut out = std::io::stdout();
    for generation in start.. {
        store.transaction(|s| {
            for r in 0..ROWS {
                for c in 0..10 {
                    s.set_cell("t", &format!("r{r}"), &format!("c{c}"), generation as f64);
                }
            }
        });
        writeln!(out, "{generation}").unwrap();
        out.flush().unwrap();
    }
}

fn check_consistent(db: &Path, tabular: bool) -> Option<u64> {
    let store = Store::new();
    Persister::new(&store, SqlitePersistence::open(db, mode(tabular)).unwrap())
        .load(None)
        .unwrap();
    if !store.has_tables() {
        return None;
    }
    let first = store.get_cell("t", "r0", "c0").unwrap();
    assert_eq!(
        store.get_row_count("t"),
        ROWS as usize,
        "a torn save: rows missing"
    );
    for r in 0..ROWS {
        for c in 0..10 {
            assert_eq!(
                store
                    .get_cell("t", &format!("r{r}"), &format!("c{c}"))
                    .as_ref(),
                Some(&first),
                "a torn save: r{r}.c{c} differs from r0.c0"
            );
        }
    }
    first.as_f64().map(|n| n as u64)
}

fn crash_loop(tabular: bool, test: &str) {
    let dir = scratch(test);
    let db = dir.join("crash.sqlite");
    let mut last_reported: Option<u64> = None;
    for round in 0..22 {
        let mut child = spawn(
            if tabular {
                "writer-tabular"
            } else {
                "writer-json"
            },
            &db,
            test,
        );
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Ok(n) = line.trim().parse::<u64>()
                    && tx.send(n).is_err()
                {
                    break;
                }
            }
        });
        // Let it commit at least one generation, then kill it at a varying point mid-save.
        let first = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the child saves");
        last_reported = Some(last_reported.map_or(first, |l: u64| l.max(first)));
        std::thread::sleep(Duration::from_millis(5 + (round * 37 % 120) as u64));
        child.kill().unwrap();
        child.wait().unwrap();
        while let Ok(n) = rx.try_recv() {
            last_reported = Some(last_reported.unwrap().max(n));
        }
        let loaded = check_consistent(&db, tabular).expect("committed content survives");
        // Durable: every generation reported as saved is on disk (a later one may be too).
        assert!(
            loaded >= last_reported.unwrap(),
            "round {round}: lost generation {last_reported:?}, found {loaded}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn killed_mid_autosave_never_tears_json_mode() {
    if let Ok(role) = std::env::var(ROLE) {
        if role == "writer-json" {
            writer_child(&std::env::var(DB).unwrap(), false);
        }
        return;
    }
    crash_loop(
        false,
        "persist_process::killed_mid_autosave_never_tears_json_mode",
    );
}

#[test]
fn killed_mid_autosave_never_tears_tabular_mode() {
    if let Ok(role) = std::env::var(ROLE) {
        if role == "writer-tabular" {
            writer_child(&std::env::var(DB).unwrap(), true);
        }
        return;
    }
    crash_loop(
        true,
        "persist_process::killed_mid_autosave_never_tears_tabular_mode",
    );
}

#[test]
fn another_process_write_arrives_through_auto_load() {
    const TEST: &str = "persist_process::another_process_write_arrives_through_auto_load";
    if let Ok(role) = std::env::var(ROLE) {
        if role == "one-write" {
            // Waits for the parent to be ready, then writes one cell through its own persister.
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).unwrap();
            let store = MergeableStore::new(Some("child"));
            let db = std::env::var(DB).unwrap();
            let persister = Persister::new(
                &store,
                SqlitePersistence::open(&db, SqliteJsonConfig::default()).unwrap(),
            );
            persister
                .start_auto_persisting(None, Duration::from_millis(50), false)
                .unwrap();
            store.set_cell("pets", "fido", "species", "dog");
            persister.destroy();
        }
        return;
    }
    let dir = scratch("two-process");
    let db = dir.join("shared.sqlite");
    let store = MergeableStore::new(Some("parent"));
    store.set_value("open", true);
    let persister = Persister::new(
        &store,
        SqlitePersistence::open(&db, SqliteJsonConfig::default()).unwrap(),
    );
    persister
        .start_auto_persisting(None, Duration::from_millis(20), true)
        .unwrap();
    let mut child = spawn("one-write", &db, TEST);
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    assert!(child.wait().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(20);
    while store.get_cell("pets", "fido", "species") != Some(Cell::from("dog")) {
        assert!(
            Instant::now() < deadline,
            "the other process's write never arrived"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // The child had loaded our value before writing: both are there.
    assert_eq!(store.get_value("open"), Some(Cell::Boolean(true)));
    persister.destroy();
    let _ = std::fs::remove_dir_all(&dir);
}
