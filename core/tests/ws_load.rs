//! Load: many WebSocket clients over many rooms on loopback, every client writing; every room
//! converges (all clients and the server's room store end with equal hashes) and the server's
//! memory stays bounded (a second identical round does not grow the process much beyond the
//! first, and rooms and clients are all gone after everyone leaves).
//!
//! CI runs modest numbers; `TINYSTORE_LOAD_CLIENTS=1000 TINYSTORE_LOAD_ROOMS=100` runs the full
//! scenario (see docs/benchmarks.md for its figures).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tinystore_core::MergeableStore;
use tinystore_core::sync::SynchronizerOptions;
use tinystore_core::sync::client::{WsClientConfig, WsSynchronizer};
use tinystore_core::sync::rooms::{RoomOptions, memory_rooms};
use tinystore_core::sync::server::{ServerConfig, WsServer};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The default 1024 descriptors are too few for a thousand sockets (two ends each, in one
/// process).
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

fn rss_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Counts live heap bytes, so a leak shows as growth between identical rounds whatever the
/// allocator keeps cached.
struct Counting;

static LIVE: std::sync::atomic::AtomicIsize = std::sync::atomic::AtomicIsize::new(0);

// SAFETY: defers to the system allocator; only adds bookkeeping.
unsafe impl std::alloc::GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, std::sync::atomic::Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { std::alloc::System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        LIVE.fetch_sub(layout.size() as isize, std::sync::atomic::Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(
            new as isize - layout.size() as isize,
            std::sync::atomic::Ordering::Relaxed,
        );
        // SAFETY: same contract as the caller's.
        unsafe { std::alloc::System.realloc(ptr, layout, new) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live_bytes() -> isize {
    LIVE.load(std::sync::atomic::Ordering::Relaxed)
}

type Rooms = Arc<Mutex<HashMap<String, MergeableStore>>>;

/// One round: every client joins its room, writes, and the rooms converge; then all leave.
fn round(server: &WsServer, rooms: &Rooms, clients: usize, room_count: usize, tag: &str) {
    let port = server.port();
    let threads = 8.min(clients.max(1));
    let joined: Vec<(usize, MergeableStore, WsSynchronizer)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    (t..clients)
                        .step_by(threads)
                        .map(|i| {
                            let store = MergeableStore::new(None);
                            let sync = WsSynchronizer::connect(
                                &store,
                                WsClientConfig {
                                    url: format!("ws://127.0.0.1:{port}/room{}", i % room_count),
                                    ..Default::default()
                                },
                                SynchronizerOptions::default(),
                            )
                            .unwrap_or_else(|e| panic!("client {i}: {e}"));
                            sync.start_sync(None);
                            (i, store, sync)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    for (i, store, _) in &joined {
        store.transaction(|s| {
            s.set_cell("clients", &format!("{tag}{i}"), "n", *i as f64);
            s.set_cell("shared", "last", "writer", *i as f64);
        });
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut by_room: HashMap<usize, Vec<(u32, u32)>> = HashMap::new();
        for (i, store, _) in &joined {
            by_room
                .entry(i % room_count)
                .or_default()
                .push(store.get_mergeable_content_hashes());
        }
        let rooms_now = rooms.lock().unwrap().clone();
        let converged = by_room.iter().all(|(r, hashes)| {
            let server_hashes = rooms_now
                .get(&format!("room{r}"))
                .map(MergeableStore::get_mergeable_content_hashes);
            hashes.iter().all(|h| *h == hashes[0]) && server_hashes == Some(hashes[0])
        });
        if converged {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "rooms did not converge within 60 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Every client's row reached everyone in its room.
    for (i, store, _) in &joined {
        let expected = joined
            .iter()
            .filter(|(j, _, _)| j % room_count == i % room_count)
            .count();
        assert_eq!(store.get_row_count("clients"), expected, "client {i}");
    }
    for (_, _, sync) in &joined {
        sync.destroy();
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.get_stats().clients > 0 || server.get_stats().paths > 0 {
        assert!(
            Instant::now() < deadline,
            "rooms not torn down: {:?}",
            server.get_stats()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn many_clients_over_many_rooms_converge_with_bounded_memory() {
    raise_nofile();
    let clients = env_or("TINYSTORE_LOAD_CLIENTS", 120);
    let room_count = env_or("TINYSTORE_LOAD_ROOMS", 12).max(1);
    let rooms: Rooms = Arc::new(Mutex::new(HashMap::new()));
    let seen = rooms.clone();
    let server = WsServer::start(ServerConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        peer_factory: Some(memory_rooms(RoomOptions {
            on_room: Some(Arc::new(move |path, store| {
                seen.lock().unwrap().insert(path.to_string(), store.clone());
            })),
            ..RoomOptions::default()
        })),
        ..ServerConfig::default()
    })
    .unwrap();
    let before = rss_bytes();
    round(&server, &rooms, clients, room_count, "a");
    let after_first = rss_bytes();
    let live_first = live_bytes();
    round(&server, &rooms, clients, room_count, "b");
    let after_second = rss_bytes();
    let live_second = live_bytes();
    if std::env::var("TINYSTORE_LOAD_ROUNDS").is_ok() {
        for k in 0..env_or("TINYSTORE_LOAD_ROUNDS", 0) {
            round(&server, &rooms, clients, room_count, &format!("x{k}"));
            eprintln!(
                "round {k}: RSS {} MiB, live heap {} KiB",
                rss_bytes() >> 20,
                live_bytes() >> 10
            );
        }
    }
    eprintln!(
        "{clients} clients / {room_count} rooms: RSS {} MiB -> {} MiB -> {} MiB; live heap after \
         each round {} KiB, {} KiB",
        before >> 20,
        after_first >> 20,
        after_second >> 20,
        live_first >> 10,
        live_second >> 10
    );
    // Everything a round allocates is freed when its clients leave and its rooms are torn down:
    // the live heap after a second identical round is what it was after the first (RSS is only
    // reported: the allocator keeps freed pages cached per thread).
    assert!(
        live_second <= live_first + live_first / 10 + (256 << 10),
        "live heap grew between identical rounds: {live_first} -> {live_second} bytes"
    );
    server.shutdown();
}
