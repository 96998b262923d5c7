//! Criterion benchmarks of W7 (`../shared/perf/WORKLOADS.md`): SQLite save and load of a Store
//! in JSON and tabular mode, tabular at 100k rows (which TinyBase cannot save), a one-cell
//! auto-save into a 100k-row tabular store, and the L5 raw rusqlite insert reference measured
//! in the same run. Results: `docs/benchmarks.md`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use tinystore_core::persist::Persister;
use tinystore_core::persist::sqlite::{
    SqliteJsonConfig, SqliteMode, SqlitePersistence, TabularConfig,
};
use tinystore_core::{Cell, Store};

mod workloads;
use workloads::*;

fn dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tinystore-bench-w7-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn fresh(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
}

/// WORKLOADS.md's settings: WAL journal, synchronous=NORMAL.
fn open(path: &Path, mode: SqliteMode) -> SqlitePersistence {
    let p = SqlitePersistence::open(path, mode).unwrap();
    p.connection()
        .execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")
        .unwrap();
    p
}

fn json() -> SqliteMode {
    SqliteJsonConfig::default().into()
}

fn tabular() -> SqliteMode {
    TabularConfig::tables(&["t"]).into()
}

fn check(store: &Store, rows: u64) {
    assert_eq!(store.get_row_count("t"), rows as usize);
    let last = format!("r{}", rows - 1);
    assert!(store.get_cell("t", &last, "c9").is_some());
    assert_eq!(store.get_cell("t", "r7", "c5"), Some(Cell::from("s7_5")));
    assert_eq!(store.get_cell("t", "r3", "c1"), Some(Cell::Number(31.0)));
}

/// One timed save into a fresh file and one timed load from it into a new Store.
fn save_then_load(path: &Path, mode: fn() -> SqliteMode, rows: u64) -> (Duration, Duration) {
    fresh(path);
    let store = Store::new();
    fill(&store, 0, rows);
    let persister = Persister::new(&store, open(path, mode()));
    let start = Instant::now();
    persister.save().unwrap();
    let save = start.elapsed();
    drop(persister);
    let loaded = Store::new();
    let persister = Persister::new(&loaded, open(path, mode()));
    let start = Instant::now();
    persister.load(None).unwrap();
    let load = start.elapsed();
    check(&loaded, rows);
    (save, load)
}

fn w7(c: &mut Criterion) {
    let dir = dir();
    let mut g = c.benchmark_group("W7_sqlite");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    let path = dir.join("w7.sqlite");
    g.bench_function("save_json_50k", |b| {
        b.iter_custom(|n| (0..n).map(|_| save_then_load(&path, json, 50_000).0).sum())
    });
    g.bench_function("load_json_50k", |b| {
        b.iter_custom(|n| (0..n).map(|_| save_then_load(&path, json, 50_000).1).sum())
    });
    // 2,500 rows, ten fresh files, the ten timings summed.
    g.bench_function("save_tabular_2500x10", |b| {
        b.iter_custom(|n| {
            (0..n * 10)
                .map(|_| save_then_load(&path, tabular, 2_500).0)
                .sum()
        })
    });
    g.bench_function("load_tabular_2500x10", |b| {
        b.iter_custom(|n| {
            (0..n * 10)
                .map(|_| save_then_load(&path, tabular, 2_500).1)
                .sum()
        })
    });
    g.bench_function("save_tabular@100k", |b| {
        b.iter_custom(|n| {
            (0..n)
                .map(|_| save_then_load(&path, tabular, 100_000).0)
                .sum()
        })
    });
    g.bench_function("load_tabular@100k", |b| {
        b.iter_custom(|n| {
            (0..n)
                .map(|_| save_then_load(&path, tabular, 100_000).1)
                .sum()
        })
    });
    // Auto-save of one changed cell in a 100k-row tabular store (must not depend on its size).
    fresh(&path);
    let store = Store::new();
    fill(&store, 0, 100_000);
    let persister = Persister::new(&store, open(&path, tabular()));
    persister.start_auto_save().unwrap();
    let mut i = 0u64;
    g.bench_function("autosave_1_cell_tabular@100k", |b| {
        b.iter(|| {
            i += 1;
            store.set_cell("t", "r50000", "c0", i as f64);
        })
    });
    persister.destroy();
    // L5 at the same size: one prepared statement, one transaction, 100k rows × 11 columns.
    g.bench_function("L5_rusqlite_insert_100k", |b| {
        b.iter_custom(|n| {
            let mut total = Duration::ZERO;
            for _ in 0..n {
                fresh(&path);
                let conn = tinystore_core::persist::sqlite::Connection::open(&path).unwrap();
                conn.execute_batch(
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; \
                     CREATE TABLE t(_id PRIMARY KEY,c0,c1,c2,c3,c4,c5,c6,c7,c8,c9)",
                )
                .unwrap();
                let start = Instant::now();
                conn.execute_batch("BEGIN").unwrap();
                {
                    let mut stmt = conn
                        .prepare("INSERT INTO t VALUES(?,?,?,?,?,?,?,?,?,?,?)")
                        .unwrap();
                    for i in 0..100_000u64 {
                        let s = |j: u64| format!("s{i}_{j}");
                        stmt.execute(tinystore_core::persist::sqlite::rusqlite::params![
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
                total += start.elapsed();
            }
            total
        })
    });
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, w7);
criterion_main!(benches);
