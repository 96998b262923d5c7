//! Criterion benchmarks of workloads W1–W3 (`../shared/perf/WORKLOADS.md`), with the L2/L3
//! raw nested-`HashMap` references measured in the same run so the targets ("no slower than
//! L2 / L3") compare on the same machine. Results: `docs/benchmarks.md`.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use tinystore_core::{Cell, Store};

mod workloads;
use workloads::*;

fn w1(c: &mut Criterion) {
    let mut g = c.benchmark_group("W1_bulk_insert");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.bench_function("tinystore", |b| {
        b.iter_batched(
            Store::new,
            |store| {
                fill(&store, 0, 100_000);
                assert_eq!(store.get_row_count("t"), 100_000);
                assert_eq!(
                    store.get_cell("t", "r99999", "c9"),
                    Some(Cell::Boolean(true))
                );
                store
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function("L2_nested_hashmap", |b| {
        b.iter(|| {
            let mut table: HashMap<String, HashMap<String, Cell>> = HashMap::new();
            for i in 0..100_000u64 {
                let mut row = HashMap::with_capacity(10);
                for (j, id) in CELL_IDS.iter().enumerate() {
                    row.insert((*id).to_string(), cell_value(i, j as u64));
                }
                table.insert(format!("r{i}"), row);
            }
            black_box(table)
        })
    });
    g.finish();
}

fn w2(c: &mut Criterion) {
    let mut g = c.benchmark_group("W2_single_cell_writes");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    let row_ids: Vec<String> = (0..10_000).map(|i| format!("r{i}")).collect();
    g.bench_function("tinystore", |b| {
        b.iter_batched(
            || {
                let store = Store::new();
                fill(&store, 0, 10_000);
                let cells = Arc::new(AtomicUsize::new(0));
                let tables = Arc::new(AtomicUsize::new(0));
                let (c1, t1) = (cells.clone(), tables.clone());
                store.add_cell_listener(
                    Some("t"),
                    None,
                    None,
                    move |_, _, _, _, _, _| {
                        c1.fetch_add(1, Ordering::Relaxed);
                    },
                    false,
                );
                store.add_table_listener(
                    Some("t"),
                    move |_, _| {
                        t1.fetch_add(1, Ordering::Relaxed);
                    },
                    false,
                );
                (store, cells, tables)
            },
            |(store, cells, tables)| {
                for k in 0..300_000usize {
                    store.set_cell(
                        "t",
                        &row_ids[k % 10_000],
                        CELL_IDS[k % 10],
                        -((k + 1) as f64),
                    );
                }
                assert_eq!(cells.load(Ordering::Relaxed), 300_000);
                assert_eq!(tables.load(Ordering::Relaxed), 300_000);
                store
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

fn w3(c: &mut Criterion) {
    let mut g = c.benchmark_group("W3_random_get_cell");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    let store = Store::new();
    fill(&store, 0, 100_000);
    let row_ids: Vec<String> = (0..100_000).map(|i| format!("r{i}")).collect();
    g.bench_function("tinystore", |b| {
        b.iter(|| {
            let mut lcg = Lcg(42);
            let (mut found, mut sum) = (0u64, 0f64);
            for _ in 0..1_000_000 {
                let r = &row_ids[lcg.draw(100_000) as usize];
                let c = CELL_IDS[lcg.draw(10) as usize];
                store.with_cell("t", r, c, |cell| {
                    if let Some(cell) = cell {
                        found += 1;
                        if let Cell::Number(n) = cell {
                            sum += n;
                        }
                    }
                });
            }
            assert_eq!(found, 1_000_000);
            assert_eq!(sum, 199_984_783_497.0);
        })
    });
    g.bench_function("tinystore_get_cell_owned", |b| {
        b.iter(|| {
            let mut lcg = Lcg(42);
            let mut found = 0u64;
            for _ in 0..1_000_000 {
                let r = &row_ids[lcg.draw(100_000) as usize];
                let c = CELL_IDS[lcg.draw(10) as usize];
                found += store.get_cell("t", r, c).is_some() as u64;
            }
            assert_eq!(found, 1_000_000);
        })
    });
    let mut table: HashMap<String, HashMap<String, Cell>> = HashMap::new();
    for i in 0..100_000u64 {
        let row = CELL_IDS
            .iter()
            .enumerate()
            .map(|(j, id)| ((*id).to_string(), cell_value(i, j as u64)))
            .collect();
        table.insert(format!("r{i}"), row);
    }
    g.bench_function("L3_nested_hashmap", |b| {
        b.iter(|| {
            let mut lcg = Lcg(42);
            let (mut found, mut sum) = (0u64, 0f64);
            for _ in 0..1_000_000 {
                let r = &row_ids[lcg.draw(100_000) as usize];
                let c = CELL_IDS[lcg.draw(10) as usize];
                if let Some(cell) = table.get(r.as_str()).and_then(|row| row.get(c)) {
                    found += 1;
                    if let Cell::Number(n) = cell {
                        sum += n;
                    }
                }
            }
            assert_eq!(found, 1_000_000);
            black_box(sum)
        })
    });
    g.finish();
}

criterion_group!(benches, w1, w2, w3);
criterion_main!(benches);
