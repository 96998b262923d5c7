//! The data and set-ups of `../shared/perf/WORKLOADS.md` shared by every benchmark binary
//! (the criterion benches here and `tinystore bench`, which includes this file by `#[path]`):
//! cell ids, the cell value of row `i`, cell `j`, `fill`, the seeded LCG, W5b's concurrent
//! edits and W7's SQLite save/load with its checks. W6 (which needs the WebSocket features)
//! is in `ws.rs` beside this file.

#![allow(dead_code)] // each benchmark binary uses a different part

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tinystore_core::persist::Persister;
use tinystore_core::persist::sqlite::{
    SqliteJsonConfig, SqliteMode, SqlitePersistence, TabularConfig,
};
use tinystore_core::{Cell, MergeableStore, Row, Store};

pub const CELL_IDS: [&str; 10] = ["c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9"];

/// Numbers for cells 0–3, strings for 4–7, booleans for 8–9.
pub fn cell_value(i: u64, j: u64) -> Cell {
    if j < 4 {
        Cell::Number((i * 10 + j) as f64)
    } else if j < 8 {
        Cell::String(format!("s{i}_{j}").into())
    } else {
        Cell::Boolean((i + j) % 2 == 0)
    }
}

/// WORKLOADS.md `fill`: one transaction, rows built inside the loop.
pub fn fill(store: &Store, from: u64, to: u64) {
    store.transaction(|s| {
        for i in from..to {
            let mut row = Row::with_capacity(10);
            for (j, id) in CELL_IDS.iter().enumerate() {
                row.insert((*id).to_string(), cell_value(i, j as u64));
            }
            s.set_row("t", &format!("r{i}"), &row);
        }
    });
}

/// WORKLOADS.md's 32-bit LCG, seeded by the caller (42 in every workload).
pub struct Lcg(pub u32);

impl Lcg {
    /// `draw(n) = (x >> 8) mod n` after advancing `x`.
    pub fn draw(&mut self, n: u32) -> u32 {
        self.0 = self.0.wrapping_mul(1664525).wrapping_add(1013904223);
        (self.0 >> 8) % n
    }
}

/// W3's expected numeric sum for `gets` draws over `rows` filled rows, computed from the
/// generator and the data definition alone (199984783497 for 100k rows and 1M gets).
pub fn w3_expected_sum(rows: u32, gets: u64) -> f64 {
    let mut lcg = Lcg(42);
    let mut sum = 0f64;
    for _ in 0..gets {
        let (r, c) = (lcg.draw(rows), lcg.draw(10));
        if c < 4 {
            sum += (u64::from(r) * 10 + u64::from(c)) as f64;
        }
    }
    sum
}

/// A MergeableStore (wall clock, random id) holding `fill(from, to)`.
pub fn filled_mergeable(from: u64, to: u64) -> MergeableStore {
    let store = MergeableStore::new(None);
    fill(&store, from, to);
    store
}

/// W5b's edits on a shared base of `rows` rows, each side in ONE transaction: `a` sets
/// `c0 = -i` for even `i` and `c2 = "a"+i` for `i % 10 == 0`; `b` sets `c1 = -i` for odd `i`
/// and `c2 = "b"+i` for `i % 10 == 0`. Returns the number of edits (24,000 for 20k rows).
pub fn w5b_edits(a: &MergeableStore, b: &MergeableStore, rows: u64) -> u64 {
    let mut edits = 0;
    a.transaction(|s| {
        for i in (0..rows).step_by(2) {
            s.set_cell("t", &format!("r{i}"), "c0", -(i as f64));
            edits += 1;
        }
        for i in (0..rows).step_by(10) {
            s.set_cell("t", &format!("r{i}"), "c2", format!("a{i}"));
            edits += 1;
        }
    });
    b.transaction(|s| {
        for i in (1..rows).step_by(2) {
            s.set_cell("t", &format!("r{i}"), "c1", -(i as f64));
            edits += 1;
        }
        for i in (0..rows).step_by(10) {
            s.set_cell("t", &format!("r{i}"), "c2", format!("b{i}"));
            edits += 1;
        }
    });
    edits
}

/// W5's checks after `a.merge(b)`: same row count `rows` on both sides, equal content hashes
/// and equal (order-independent) stamped content.
pub fn check_merged(a: &MergeableStore, b: &MergeableStore, rows: u64) {
    assert_eq!(a.get_row_count("t") as u64, rows, "W5: rows in a");
    assert_eq!(b.get_row_count("t") as u64, rows, "W5: rows in b");
    assert_eq!(
        a.get_mergeable_content_hashes(),
        b.get_mergeable_content_hashes(),
        "W5: content hashes"
    );
    assert!(
        a.get_mergeable_content() == b.get_mergeable_content(),
        "W5: mergeable content differs"
    );
}

/// Current resident set size of this process, from `/proc/self/status` (0 elsewhere).
pub fn rss_bytes() -> i64 {
    proc_status_kb("VmRSS:") * 1024
}

/// Peak resident set size of this process (`VmHWM`), 0 where `/proc` is missing.
pub fn peak_rss_bytes() -> i64 {
    proc_status_kb("VmHWM:") * 1024
}

fn proc_status_kb(field: &str) -> i64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------- W7

/// A scratch directory for W7's files, unique to this process.
pub fn w7_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tinystore-bench-w7-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Removes a database and its WAL files.
pub fn fresh_db(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
}

/// WORKLOADS.md's settings: WAL journal, synchronous=NORMAL.
pub fn open_db(path: &Path, mode: SqliteMode) -> SqlitePersistence {
    let p = SqlitePersistence::open(path, mode).unwrap();
    p.connection()
        .execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")
        .unwrap();
    p
}

/// JSON mode: the whole store as one JSON value in table `tinybase`.
pub fn json_mode() -> SqliteMode {
    SqliteJsonConfig::default().into()
}

/// Tabular mode: Store table `t` ↔ SQL table `t`, row ids in `_id`.
pub fn tabular_mode() -> SqliteMode {
    TabularConfig::tables(&["t"]).into()
}

/// W7's check after every load: row count, `r(N-1).c9`, `r7.c5 == "s7_5"`, `r3.c1 == 31`.
pub fn check_loaded(store: &Store, rows: u64) {
    assert_eq!(store.get_row_count("t") as u64, rows, "W7: loaded rows");
    // A boolean comes back from a tabular database as SQLite stores it, 1 or 0 (TinyBase's
    // tabular load reads it the same way; its bench's check of this cell is vacuous).
    let last = rows - 1;
    let c9 = (last + 9) % 2 == 0;
    let got = store.get_cell("t", &format!("r{last}"), "c9");
    assert!(
        got == Some(Cell::Boolean(c9)) || got == Some(Cell::Number(f64::from(u8::from(c9)))),
        "W7: last row's c9 is {got:?}"
    );
    assert_eq!(
        store.get_cell("t", "r7", "c5"),
        Some(Cell::from("s7_5")),
        "W7: r7.c5"
    );
    assert_eq!(
        store.get_cell("t", "r3", "c1"),
        Some(Cell::Number(31.0)),
        "W7: r3.c1"
    );
}

/// One W7 repetition's timings.
#[derive(Debug, Clone, Copy)]
pub struct SaveLoad {
    pub save: Duration,
    pub load: Duration,
    /// The database file's size after the save's connection closed.
    pub file_bytes: u64,
}

/// One timed save of `fill(0, rows)` into a fresh file and one timed load from it into a new
/// Store, checked; no ignored errors allowed.
pub fn save_then_load(path: &Path, mode: fn() -> SqliteMode, rows: u64) -> SaveLoad {
    fresh_db(path);
    let errors = Arc::new(AtomicUsize::new(0));
    let count = |errors: &Arc<AtomicUsize>| {
        let errors = errors.clone();
        move |e: &tinystore_core::persist::PersistError| {
            eprintln!("W7 ignored error: {e}");
            errors.fetch_add(1, Ordering::Relaxed);
        }
    };
    let store = Store::new();
    fill(&store, 0, rows);
    let persister = Persister::new(&store, open_db(path, mode()));
    persister.set_on_ignored_error(count(&errors));
    let start = Instant::now();
    persister.save().unwrap();
    let save = start.elapsed();
    drop(persister);
    let file_bytes = std::fs::metadata(path).map_or(0, |m| m.len());
    let loaded = Store::new();
    let persister = Persister::new(&loaded, open_db(path, mode()));
    persister.set_on_ignored_error(count(&errors));
    let start = Instant::now();
    persister.load(None).unwrap();
    let load = start.elapsed();
    check_loaded(&loaded, rows);
    drop(persister);
    assert_eq!(errors.load(Ordering::Relaxed), 0, "W7: ignored errors");
    SaveLoad {
        save,
        load,
        file_bytes,
    }
}

/// The L5 reference at W7's sizes: raw rusqlite (the same bundled SQLite as tinystore's
/// persister), `rows` rows of `(_id, c0..c9)` inserted with one prepared statement in ONE
/// transaction into a fresh WAL file. Returns the time of the transaction; with
/// `create_timed`, also of creating the table (the file's first write, which creates its WAL
/// file), as a save into a fresh file must.
pub fn l5_rusqlite_insert(path: &Path, rows: u64, create_timed: bool) -> Duration {
    use rusqlite::Connection;
    fresh_db(path);
    let conn = Connection::open(path).unwrap();
    conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")
        .unwrap();
    let create = "CREATE TABLE t(_id PRIMARY KEY,c0,c1,c2,c3,c4,c5,c6,c7,c8,c9)";
    if !create_timed {
        conn.execute_batch(create).unwrap();
    }
    let start = Instant::now();
    if create_timed {
        conn.execute_batch(create).unwrap();
    }
    conn.execute_batch("BEGIN").unwrap();
    {
        let mut stmt = conn
            .prepare("INSERT INTO t VALUES(?,?,?,?,?,?,?,?,?,?,?)")
            .unwrap();
        for i in 0..rows {
            let s = |j: u64| format!("s{i}_{j}");
            stmt.execute(rusqlite::params![
                format!("r{i}"),
                (i * 10) as f64,
                (i * 10 + 1) as f64,
                (i * 10 + 2) as f64,
                (i * 10 + 3) as f64,
                s(4),
                s(5),
                s(6),
                s(7),
                (i + 8) % 2 == 0,
                (i + 9) % 2 == 0
            ])
            .unwrap();
        }
    }
    conn.execute_batch("COMMIT").unwrap();
    let elapsed = start.elapsed();
    let count: i64 = conn
        .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
        .unwrap();
    assert_eq!(count as u64, rows, "L5: rows");
    elapsed
}
