//! Criterion benchmarks of W7 (`../shared/perf/WORKLOADS.md`): SQLite save and load of a Store
//! in JSON and tabular mode, tabular at 100k rows (which TinyBase cannot save), a one-cell
//! auto-save into a 100k-row tabular store, and the L5 raw rusqlite insert reference measured
//! in the same run. Results: `docs/benchmarks.md`.

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use tinystore_core::Store;
use tinystore_core::persist::Persister;

mod workloads;
use workloads::*;

fn w7(c: &mut Criterion) {
    let dir = w7_dir();
    let mut g = c.benchmark_group("W7_sqlite");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    let path = dir.join("w7.sqlite");
    g.bench_function("save_json_50k", |b| {
        b.iter_custom(|n| {
            (0..n)
                .map(|_| save_then_load(&path, json_mode, 50_000).save)
                .sum()
        })
    });
    g.bench_function("load_json_50k", |b| {
        b.iter_custom(|n| {
            (0..n)
                .map(|_| save_then_load(&path, json_mode, 50_000).load)
                .sum()
        })
    });
    // 2,500 rows, ten fresh files, the ten timings summed.
    g.bench_function("save_tabular_2500x10", |b| {
        b.iter_custom(|n| {
            (0..n * 10)
                .map(|_| save_then_load(&path, tabular_mode, 2_500).save)
                .sum()
        })
    });
    g.bench_function("load_tabular_2500x10", |b| {
        b.iter_custom(|n| {
            (0..n * 10)
                .map(|_| save_then_load(&path, tabular_mode, 2_500).load)
                .sum()
        })
    });
    g.bench_function("save_tabular@100k", |b| {
        b.iter_custom(|n| {
            (0..n)
                .map(|_| save_then_load(&path, tabular_mode, 100_000).save)
                .sum()
        })
    });
    g.bench_function("load_tabular@100k", |b| {
        b.iter_custom(|n| {
            (0..n)
                .map(|_| save_then_load(&path, tabular_mode, 100_000).load)
                .sum()
        })
    });
    // Auto-save of one changed cell in a 100k-row tabular store (must not depend on its size).
    fresh_db(&path);
    let store = Store::new();
    fill(&store, 0, 100_000);
    let persister = Persister::new(&store, open_db(&path, tabular_mode()));
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
            (0..n)
                .map(|_| l5_rusqlite_insert(&path, 100_000, false))
                .sum()
        })
    });
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, w7);
criterion_main!(benches);
