//! Criterion benchmarks of workloads W4 and W5 (`../shared/perf/WORKLOADS.md`): MergeableStore
//! insert, export, import, and merging two stores both ways. Results: `docs/benchmarks.md`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use tinystore_core::{Cell, MergeableStore};

mod workloads;
use workloads::*;

fn filled(from: u64, to: u64) -> MergeableStore {
    filled_mergeable(from, to)
}

fn w4(c: &mut Criterion) {
    let mut g = c.benchmark_group("W4_mergeable");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    g.bench_function("W4a_insert_10k_rows", |b| {
        b.iter_batched(
            || MergeableStore::new(None),
            |store| {
                fill(&store, 0, 10_000);
                assert_eq!(store.get_row_count("t"), 10_000);
                store
            },
            BatchSize::PerIteration,
        )
    });
    let s1 = filled(0, 10_000);
    let json = s1.get_mergeable_content_json();
    eprintln!("W4b json_bytes = {}", json.len());
    g.bench_function("W4b_export_json", |b| {
        b.iter(|| black_box(s1.get_mergeable_content_json()))
    });
    g.bench_function("W4c_import_json", |b| {
        b.iter_batched(
            || MergeableStore::new(None),
            |s2| {
                s2.set_mergeable_content_json(black_box(&json)).unwrap();
                assert_eq!(s2.get_row_count("t"), 10_000);
                assert_eq!(
                    s2.get_mergeable_content_hashes(),
                    s1.get_mergeable_content_hashes()
                );
                s2
            },
            BatchSize::PerIteration,
        )
    });
    // L4 at W4's size: serde_json over the same 100k cells in a nested HashMap, no stamps.
    let mut l2: std::collections::HashMap<
        String,
        std::collections::HashMap<String, serde_json::Value>,
    > = std::collections::HashMap::new();
    for i in 0..10_000u64 {
        let row = CELL_IDS
            .iter()
            .enumerate()
            .map(|(j, id)| (id.to_string(), cell_value(i, j as u64).to_json()))
            .collect();
        l2.insert(format!("r{i}"), row);
    }
    g.bench_function("L4_serde_json_10k_rows", |b| {
        b.iter(|| black_box(serde_json::to_string(&l2).unwrap()))
    });
    g.finish();
}

/// W5b's set-up: a shared 20k-row base, then each side's edits in one transaction.
fn concurrent_edits() -> (MergeableStore, MergeableStore) {
    let a = filled(0, 10_000);
    let b = filled(10_000, 20_000);
    a.merge(&b);
    w5b_edits(&a, &b, 20_000);
    (a, b)
}

fn w5(c: &mut Criterion) {
    let mut g = c.benchmark_group("W5_merge");
    g.sample_size(10).measurement_time(Duration::from_secs(15));
    // Only `merge` is timed (`iter_custom`); the checks run after the clock stops.
    g.bench_function("W5a_disjoint_2x10k", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let (a, bb) = (filled(0, 10_000), filled(10_000, 20_000));
                let start = Instant::now();
                a.merge(&bb);
                total += start.elapsed();
                assert_eq!(a.get_row_count("t"), 20_000);
                assert_eq!(bb.get_row_count("t"), 20_000);
                assert_eq!(
                    a.get_mergeable_content_hashes(),
                    bb.get_mergeable_content_hashes()
                );
            }
            total
        })
    });
    g.bench_function("W5b_concurrent_edits", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let (a, bb) = concurrent_edits();
                let start = Instant::now();
                a.merge(&bb);
                total += start.elapsed();
                assert_eq!(a.get_content(), bb.get_content());
                assert_eq!(
                    a.get_mergeable_content_hashes(),
                    bb.get_mergeable_content_hashes()
                );
                assert_eq!(a.get_cell("t", "r1", "c1"), Some(Cell::Number(-1.0)));
                assert_eq!(bb.get_cell("t", "r2", "c0"), Some(Cell::Number(-2.0)));
            }
            total
        })
    });
    g.finish();
}

criterion_group!(benches, w4, w5);
criterion_main!(benches);
