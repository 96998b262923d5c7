//! Criterion bench of the derived-view workloads W9-W11 at 10k rows (the same code as
//! `tinystore bench W9@10k W10@10k W11`, `workloads/views.rs`): each sample is whole runs, only
//! their timed sections counted.

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};

#[allow(dead_code)] // the run's figures are for `tinystore bench`
#[path = "workloads/views.rs"]
mod views;

fn timed(iters: u64, run: impl Fn() -> views::ViewsRun) -> Duration {
    (0..iters).map(|_| run().time).sum()
}

fn derived_views(c: &mut Criterion) {
    let mut g = c.benchmark_group("views");
    g.sample_size(10);
    g.bench_function("W9_index_upkeep@10k_10k_writes", |b| {
        b.iter_custom(|iters| timed(iters, || views::w9(10_000, 10_000)))
    });
    g.bench_function("W10_query_upkeep@10k_10k_writes", |b| {
        b.iter_custom(|iters| timed(iters, || views::w10(10_000, 10_000)))
    });
    g.bench_function("W11_checkpoints_2k", |b| {
        b.iter_custom(|iters| timed(iters, || views::w11(1_000)))
    });
    g.finish();
}

criterion_group!(benches, derived_views);
criterion_main!(benches);
