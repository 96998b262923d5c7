//! W14: one `tinystore serve` at scale. 10,000 WebSocket clients over 1,000 rooms (`W14`) or
//! 1,000 over 100 (`W14@1k`), 10 per room; every room gets one write a second from one of its
//! clients, and the time from that write leaving its client to the relayed frame reaching each
//! of the room's 9 other clients is recorded, with the server's CPU and memory.
//!
//! The server is a child process (this binary's `serve`, rooms kept in a fresh SQLite file with
//! the default 1 s save coalescing, so each room has its MergeableStore and synchronizer as in
//! production). The clients live in this process: plain WebSocket connections speaking the
//! legacy framing, not synchronizers, since 10,000 synchronizers (a store, hashes, a clock and
//! timers each) would measure the client side rather than the server. Both processes share the
//! machine's cores, so the latencies include the clients' own scheduling.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tinystore_core::hlc::HlcClock;
use tinystore_core::sync::protocol::{MessageType, encode_message};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::Out;
use super::serve_child::ServeChild;

/// Clients connecting at once: enough to connect 10,000 in seconds, few enough that the
/// server's accept backlog (and SYN cookies) never come into play.
const CONNECT_BATCH: usize = 500;

/// The request-id prefix of the bench's writes: a relayed frame's remainder starts with
/// `["w<index>"`, which names the write without parsing the rest.
const WRITE_PREFIX: &str = "[\"w";

/// W14's `tinystore serve` child and the folder of its database, removed once it stopped.
struct Server {
    // Declared first: dropped (stopped) before the folder goes.
    child: ServeChild,
    _dir: TempDir,
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Server {
    fn start(relay_only: bool) -> Server {
        let dir = std::env::temp_dir().join(format!("tinystore-w14-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("W14: a temporary directory");
        let db = dir.join("rooms.sqlite");
        // Headroom over the 10k clients (the server default is exactly 10,000). Warnings
        // shown: a socket the server closes (over a limit, a slow room start) says why.
        let mut args: Vec<std::ffi::OsString> = vec![
            "--log-level".into(),
            "warn".into(),
            "--max-connections".into(),
            "20000".into(),
        ];
        if relay_only {
            args.push("--relay-only".into());
        } else {
            args.push("--db".into());
            args.push(db.into_os_string());
        }
        Server {
            child: ServeChild::start("W14", args, true),
            _dir: TempDir(dir),
        }
    }
}

/// Sets this process's soft open-file limit to its hard limit (the server child inherits it);
/// returns the limit now in force.
fn raise_fd_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable rlimit for the duration of both calls.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 0;
        }
        limit.rlim_cur = limit.rlim_max;
        if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        }
    }
    limit.rlim_cur
}

/// User + system CPU seconds of a process so far (`/proc/<pid>/stat`).
fn cpu_seconds(pid: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces): state is field 3, utime 14.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11..13).map_or(0.0, |f| {
        f.iter().filter_map(|v| v.parse::<f64>().ok()).sum()
    });
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    ticks / hz
}

/// `VmRSS` and `VmHWM` of a process, in bytes.
fn rss_hwm(pid: &str) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// What the clients' reader tasks share.
struct Receipts {
    /// When each write was sent, in ns after `base` (0: not sent yet).
    sent: Vec<AtomicU64>,
    base: Instant,
    /// Writes before this index are warm-up: their receipts are not recorded.
    first_measured: u64,
    /// Fan-out latencies of measured writes, in µs.
    samples: Mutex<Vec<u32>>,
    /// Relayed frames of the bench's writes (warm-up included), and every other frame.
    relayed: AtomicU64,
    other: AtomicU64,
    /// Sockets the server closed or that failed.
    closed: AtomicU64,
}

impl Receipts {
    fn on_frame(&self, text: &str) {
        let now = self.base.elapsed().as_nanos() as u64;
        let Some((_from, remainder)) = text.split_once('\n') else {
            self.other.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let index = remainder
            .strip_prefix(WRITE_PREFIX)
            .and_then(|r| r.split_once('"'))
            .and_then(|(i, _)| i.parse::<u64>().ok());
        let Some(index) = index else {
            self.other.fetch_add(1, Ordering::Relaxed);
            return;
        };
        self.relayed.fetch_add(1, Ordering::Relaxed);
        let sent = self
            .sent
            .get(index as usize)
            .map_or(0, |s| s.load(Ordering::Acquire));
        if index >= self.first_measured && sent > 0 {
            let micros = (now.saturating_sub(sent) / 1_000).min(u32::MAX as u64) as u32;
            self.samples.lock().unwrap().push(micros);
        }
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;
type Sink = futures_util::stream::SplitSink<Socket, Message>;

/// `W14` / `W14@1k`.
pub(super) fn w14(out: &mut Out, name: &str) {
    let small = name.ends_with("@1k");
    let clients = if small {
        out.size(1_000, 20)
    } else {
        out.size(10_000, 20)
    } as usize;
    let per_room = 10;
    let rooms = clients / per_room;
    let warm_rounds = out.size(5, 0);
    let measured_rounds = out.size(20, 2);
    let relay_only = std::env::var_os("TINYSTORE_W14_RELAY_ONLY").is_some();
    let fd_limit = raise_fd_limit();
    // Each client takes a socket here and one in the server, plus the server's own files.
    assert!(
        fd_limit as usize > clients + 256,
        "W14: the open-file limit ({fd_limit}) is too low for {clients} clients"
    );
    let server = Server::start(relay_only);
    let port = server.child.port;
    let server_pid = server.child.pid().to_string();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("W14: a tokio runtime");
    let total_writes = (warm_rounds + measured_rounds) * rooms as u64;
    let receipts = Arc::new(Receipts {
        sent: (0..total_writes).map(|_| AtomicU64::new(0)).collect(),
        base: Instant::now(),
        first_measured: warm_rounds * rooms as u64,
        samples: Mutex::new(Vec::with_capacity(
            (measured_rounds * rooms as u64 * (per_room as u64 - 1)) as usize,
        )),
        relayed: AtomicU64::new(0),
        other: AtomicU64::new(0),
        closed: AtomicU64::new(0),
    });

    // Connect in batches; client k of room r is number r * per_room + k, client 0 writes.
    let connect_started = Instant::now();
    let sinks: Vec<Sink> = runtime.block_on(async {
        let config = WebSocketConfig::default()
            .read_buffer_size(4096)
            .write_buffer_size(0);
        let mut sinks = Vec::with_capacity(clients);
        for batch in (0..clients).collect::<Vec<_>>().chunks(CONNECT_BATCH) {
            let mut connecting = tokio::task::JoinSet::new();
            for &c in batch {
                let url = format!("ws://127.0.0.1:{port}/room{}", c / per_room);
                connecting.spawn(async move {
                    let (socket, _) =
                        tokio_tungstenite::connect_async_with_config(url, Some(config), true)
                            .await
                            .unwrap_or_else(|e| panic!("W14: client {c} connects: {e}"));
                    (c, socket)
                });
            }
            let mut connected = Vec::with_capacity(batch.len());
            while let Some(joined) = connecting.join_next().await {
                connected.push(joined.expect("W14: a connect task"));
            }
            connected.sort_by_key(|(c, _)| *c);
            for (_, socket) in connected {
                let (sink, mut stream) = socket.split();
                let receipts = receipts.clone();
                tokio::spawn(async move {
                    while let Some(frame) = stream.next().await {
                        match frame {
                            Ok(Message::Text(text)) => receipts.on_frame(text.as_str()),
                            Ok(Message::Close(_)) | Err(_) => break,
                            Ok(_) => {}
                        }
                    }
                    receipts.closed.fetch_add(1, Ordering::Relaxed);
                });
                sinks.push(sink);
            }
        }
        sinks
    });
    let connect_time = connect_started.elapsed();
    // Every room's first client starts the room (its store loaded from the database) after
    // the upgrade: let that settle before the writes start.
    std::thread::sleep(Duration::from_millis(out.size(2_000, 200)));
    assert_eq!(
        receipts.closed.load(Ordering::Relaxed),
        0,
        "W14: sockets closed while connecting"
    );

    // One write per room per second, the rooms' writes spread evenly over each second. The
    // writer runs on this thread: its sends are not queued behind the readers' tasks.
    let mut sinks = sinks;
    let pause = Duration::from_secs(1) / rooms as u32;
    let clocks: Vec<HlcClock> = (0..rooms).map(|_| HlcClock::new(None, None)).collect();
    let mut cpu_start = (0.0, 0.0);
    let mut measured_start = Instant::now();
    let writes_started = Instant::now();
    runtime.block_on(async {
        for index in 0..total_writes {
            if index == receipts.first_measured {
                cpu_start = (cpu_seconds(&server_pid), cpu_seconds("self"));
                measured_start = Instant::now();
            }
            tokio::time::sleep_until((writes_started + pause * index as u32).into()).await;
            let room = (index % rooms as u64) as usize;
            let hlc = clocks[room].next();
            let body = format!(
                "[[{{\"w\":[{{\"r{index}\":[{{\"seq\":[{index},\"{}\"]}}]}}]}}],[{{}}],1]",
                hlc.as_str()
            );
            let frame = format!(
                "\n{}",
                encode_message(Some(&format!("w{index}")), MessageType::ContentDiff, &body)
            );
            receipts.sent[index as usize].store(
                receipts.base.elapsed().as_nanos().max(1) as u64,
                Ordering::Release,
            );
            sinks[room * per_room]
                .send(Message::text(frame))
                .await
                .unwrap_or_else(|e| panic!("W14: room {room}'s writer sends: {e}"));
        }
    });
    let expected = (measured_rounds * rooms as u64 * (per_room as u64 - 1)) as usize;
    let deadline = Instant::now() + Duration::from_secs(10);
    while receipts.samples.lock().unwrap().len() < expected && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let measured = measured_start.elapsed();
    let server_cpu = cpu_seconds(&server_pid) - cpu_start.0;
    let client_cpu = cpu_seconds("self") - cpu_start.1;
    let (server_rss, server_hwm) = rss_hwm(&server_pid);
    let (client_rss, _) = rss_hwm("self");
    let closed = receipts.closed.load(Ordering::Relaxed);
    let mut got = receipts.samples.lock().unwrap().clone();
    drop(sinks);
    runtime.shutdown_timeout(Duration::from_secs(1));
    drop(server);

    assert_eq!(closed, 0, "W14: sockets closed during the run");
    assert!(
        got.len() >= expected,
        "W14: only {} of {expected} receipts within 10 s of the last write",
        got.len()
    );
    got.sort_unstable();
    let pct = |p: f64| got[((got.len() as f64 - 1.0) * p).round() as usize] as f64 / 1e3;
    let round3 = |x: f64| (x * 1000.0).round() / 1000.0;
    let mb = |b: u64| (b as f64 / 1048576.0 * 10.0).round() / 10.0;
    let workload = if small {
        "W14_server_fanout@1k"
    } else {
        "W14_server_fanout"
    };
    out.emit(
        workload,
        got.len() as u64,
        measured,
        json!({
            "clients": clients, "rooms": rooms, "per_room": per_room,
            "room_stores": if relay_only { "relay-only" } else { "sqlite" },
            "writes": measured_rounds * rooms as u64, "warmup_writes": receipts.first_measured,
            "receipts": got.len(), "expected": expected,
            "lost": expected.saturating_sub(got.len()),
            "other_frames": receipts.other.load(Ordering::Relaxed),
            "p50_ms": round3(pct(0.5)), "p99_ms": round3(pct(0.99)),
            "p999_ms": round3(pct(0.999)), "max_ms": round3(pct(1.0)),
            "server_cpu_pct": (server_cpu / measured.as_secs_f64() * 1000.0).round() / 10.0,
            "client_cpu_pct": (client_cpu / measured.as_secs_f64() * 1000.0).round() / 10.0,
            "server_rss_mb": mb(server_rss), "server_hwm_mb": mb(server_hwm),
            "client_rss_mb": mb(client_rss),
            "connect_seconds": round3(connect_time.as_secs_f64()),
            "fd_limit": fd_limit,
        }),
    );
}
