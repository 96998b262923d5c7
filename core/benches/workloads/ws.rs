//! W6 of `../shared/perf/WORKLOADS.md`: a client MergeableStore syncing `fill` into an empty
//! server-side room store over a loopback WebSocket, client and server in one process. Shared
//! by the criterion bench (`benches/sync.rs`) and `tinystore bench` (both include this file by
//! `#[path]` beside `workloads`); needs the `ws-client` and `ws-server` features.

#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use tinystore_core::MergeableStore;
use tinystore_core::sync::client::{WsClientConfig, WsSynchronizer};
use tinystore_core::sync::rooms::{RoomOptions, memory_rooms};
use tinystore_core::sync::server::{ServerConfig, WsServer};
use tinystore_core::sync::{SyncError, SynchronizerOptions};

use super::workloads::fill;

/// Set when the server's room store has `rows` rows including the last row's `c9`.
type Done = Arc<(Mutex<bool>, Condvar)>;

/// The server: in-memory room stores (TinyBase's no-op persister), request timeout 1 s as in
/// TinyBase's bench; the room's store is published in `room` when it starts.
fn server(rows: u64, done: Done, room: Arc<Mutex<Option<MergeableStore>>>) -> WsServer {
    let last = format!("r{}", rows - 1);
    WsServer::start(ServerConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        peer_factory: Some(memory_rooms(RoomOptions {
            request_timeout: Duration::from_secs(1),
            on_room: Some(Arc::new(move |_, store: &MergeableStore| {
                *room.lock().unwrap() = Some(store.clone());
                let (done, last) = (done.clone(), last.clone());
                // Checked on each server transaction end, as WORKLOADS.md says.
                store.add_did_finish_transaction_listener(move |s| {
                    if s.get_row_count("t") as u64 == rows && s.has_cell("t", &last, "c9") {
                        *done.0.lock().unwrap() = true;
                        done.1.notify_all();
                    }
                });
            })),
            ..RoomOptions::default()
        })),
        ..ServerConfig::default()
    })
    .unwrap()
}

/// One W6 run's measurements.
#[derive(Debug, Clone, Copy)]
pub struct W6Run {
    /// From the end of the (last) fill transaction until the server's store has every row.
    pub sync: Duration,
    /// The client's fill (untimed in WORKLOADS.md's sense; reported).
    pub fill: Duration,
    /// Errors the client's synchronizer reported (its `onIgnoredError`).
    pub errors: usize,
    /// Of which during the handshake wait.
    pub handshake_errors: usize,
}

/// One W6 run: `rows` rows filled `per_transaction` rows at a time (WORKLOADS.md: all in one)
/// after waiting `handshake` (WORKLOADS.md: 1.5 s) for the initial handshake. Checks that the
/// server's and the client's content hashes are equal; panics after `timeout`.
pub fn w6_once(rows: u64, per_transaction: u64, handshake: Duration, timeout: Duration) -> W6Run {
    let done: Done = Arc::new((Mutex::new(false), Condvar::new()));
    let room = Arc::new(Mutex::new(None));
    let server = server(rows, done.clone(), room.clone());
    let client = MergeableStore::new(None);
    let errors = Arc::new(AtomicUsize::new(0));
    let counter = errors.clone();
    let sync = WsSynchronizer::connect(
        &client,
        WsClientConfig {
            url: format!("ws://127.0.0.1:{}/bench", server.port()),
            ..Default::default()
        },
        SynchronizerOptions {
            on_ignored_error: Some(Arc::new(move |e: &SyncError| {
                if counter.fetch_add(1, Ordering::Relaxed) < 5 {
                    eprintln!("W6 ignored error: {e}");
                }
            })),
            ..SynchronizerOptions::default()
        },
    )
    .unwrap();
    sync.start_sync(None);
    std::thread::sleep(handshake);
    let handshake_errors = errors.load(Ordering::Relaxed);
    let fill_start = Instant::now();
    let mut from = 0;
    while from < rows {
        let to = (from + per_transaction).min(rows);
        fill(&client, from, to);
        from = to;
    }
    let fill_end = Instant::now();
    let deadline = fill_end + timeout;
    let mut finished = done.0.lock().unwrap();
    while !*finished {
        let now = Instant::now();
        assert!(
            now < deadline,
            "W6: the server did not get every row in time"
        );
        finished = done.1.wait_timeout(finished, deadline - now).unwrap().0;
    }
    let sync_time = fill_end.elapsed();
    drop(finished);
    // The check (after the clock stopped): equal table hashes, given a moment for anything
    // still in flight.
    let server_store = room.lock().unwrap().clone().expect("W6: no room store");
    let hashes_equal =
        || server_store.get_mergeable_content_hashes().0 == client.get_mergeable_content_hashes().0;
    let check_deadline = Instant::now() + Duration::from_secs(5);
    while !hashes_equal() && Instant::now() < check_deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(hashes_equal(), "W6: server and client table hashes differ");
    sync.destroy();
    server.shutdown();
    W6Run {
        sync: sync_time,
        fill: fill_end - fill_start,
        errors: errors.load(Ordering::Relaxed),
        handshake_errors,
    }
}
