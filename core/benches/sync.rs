//! W6 of `../shared/perf/WORKLOADS.md` (10k×10 rows from a client into an empty server-side
//! room store over loopback, client and server in one process), its `@100k` variant (ten
//! 10k-row transactions: one 1M-cell diff would exceed the 16 MiB frame limit), and the
//! server's fan-out latency with 1,000 clients over 100 rooms. Results: `docs/benchmarks.md`.
//!
//! `cargo bench -p tinystore-core --features ws-client,ws-server --bench sync`

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use tinystore_core::MergeableStore;
use tinystore_core::sync::SynchronizerOptions;
use tinystore_core::sync::client::{WsClientConfig, WsSynchronizer};
use tinystore_core::sync::rooms::{RoomOptions, memory_rooms};
use tinystore_core::sync::server::{ServerConfig, WsServer};

mod workloads;
#[path = "workloads/ws.rs"]
mod ws;
use ws::w6_once;

/// WORKLOADS.md's W6: 1.5 s handshake wait, the sync time only.
fn w6_run(rows: u64, per_transaction: u64) -> Duration {
    w6_once(
        rows,
        per_transaction,
        Duration::from_millis(1500),
        Duration::from_secs(120),
    )
    .sync
}

fn w6(c: &mut Criterion) {
    let mut g = c.benchmark_group("W6_sync");
    g.sample_size(10).measurement_time(Duration::from_secs(30));
    g.bench_function("10k_rows_to_empty_server", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| w6_run(10_000, 10_000)).sum())
    });
    g.bench_function("@100k_rows_as_10_transactions", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| w6_run(100_000, 10_000)).sum())
    });
    g.finish();
}

fn raise_nofile() {
    // SAFETY: getrlimit/setrlimit only read and write the struct passed in.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

/// Fan-out: 1,000 clients over 100 rooms; a client writes a cell, and the latency until each
/// other client of its room has it is recorded (per receiver, and for the last receiver).
fn fan_out(_: &mut Criterion) {
    raise_nofile();
    let (clients, rooms, writes) = (1000usize, 100usize, 300usize);
    let server = WsServer::start(ServerConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        peer_factory: Some(memory_rooms(RoomOptions::default())),
        ..ServerConfig::default()
    })
    .unwrap();
    let port = server.port();
    // (write number) -> arrival times
    let arrivals: Arc<Mutex<HashMap<u64, Vec<Instant>>>> = Arc::default();
    let joined: Vec<(MergeableStore, WsSynchronizer)> = (0..clients)
        .map(|i| {
            let store = MergeableStore::new(None);
            let seen = arrivals.clone();
            store.add_cell_listener(
                Some("ping"),
                None,
                Some("n"),
                move |_, _, _, _, new, _| {
                    if let Some(tinystore_core::Cell::Number(n)) = new {
                        let now = Instant::now();
                        seen.lock().unwrap().entry(*n as u64).or_default().push(now);
                    }
                },
                false,
            );
            let sync = WsSynchronizer::connect(
                &store,
                WsClientConfig {
                    url: format!("ws://127.0.0.1:{port}/room{}", i % rooms),
                    ..Default::default()
                },
                SynchronizerOptions::default(),
            )
            .unwrap();
            sync.start_sync(None);
            (store, sync)
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let mut per_receiver = Vec::new();
    let mut last_receiver = Vec::new();
    for w in 0..writes {
        let writer = (w * 7919) % clients;
        let expected = clients / rooms; // everyone in the room, the writer included
        let start = Instant::now();
        joined[writer]
            .0
            .set_cell("ping", &format!("w{w}"), "n", w as f64);
        let deadline = start + Duration::from_secs(10);
        loop {
            let got = arrivals
                .lock()
                .unwrap()
                .get(&(w as u64))
                .map_or(0, Vec::len);
            if got >= expected || Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        let times = arrivals
            .lock()
            .unwrap()
            .remove(&(w as u64))
            .unwrap_or_default();
        // The writer's own listener fires at once; the others are the fan-out.
        let mut lat: Vec<Duration> = times.iter().map(|t| *t - start).collect();
        lat.sort();
        lat.remove(0);
        last_receiver.push(*lat.last().unwrap_or(&Duration::ZERO));
        per_receiver.extend(lat);
    }
    let pct = |v: &mut Vec<Duration>, p: f64| {
        v.sort();
        v[((v.len() as f64 - 1.0) * p).round() as usize]
    };
    println!(
        "fan_out {clients} clients / {rooms} rooms, {writes} writes: per receiver p50 {:?} p99 {:?}; \
         last receiver of a write p50 {:?} p99 {:?}",
        pct(&mut per_receiver, 0.5),
        pct(&mut per_receiver, 0.99),
        pct(&mut last_receiver, 0.5),
        pct(&mut last_receiver, 0.99),
    );
    for (_, sync) in &joined {
        sync.destroy();
    }
    server.shutdown();
}

criterion_group!(benches, w6, fan_out);
criterion_main!(benches);
