//! Regression tests for the server hardening findings (each named after its finding): rooms
//! never share storage, nothing received is lost, one room cannot stall the server, a large
//! frame neither blows up memory nor makes its room unusable, and operators' safety (token
//! auth incl. `/stats`, a room limit, TLS). The CLI-level findings (SIGTERM, flags) are in
//! `cli/tests/`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tinystore_core::MergeableStore;
use tinystore_core::hlc::{Hlc, client_id_of, wall_clock_ms};
use tinystore_core::sync::SynchronizerOptions;
use tinystore_core::sync::client::{WsClientConfig, WsSynchronizer};
use tinystore_core::sync::rooms::{RoomOptions, sqlite_rooms};
use tinystore_core::sync::server::{ServerConfig, TlsIdentity, WsServer};
use tinystore_core::sync::tokens::TokenAuth;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message as WsMessage;

// ---------------------------------------------------------------------------------- memory

/// Counts live heap bytes and their peak, for the bounded-memory finding.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);
static MULTIPLE: AtomicUsize = AtomicUsize::new(0);

fn note(delta: isize) {
    let now = LIVE.fetch_add(delta, Ordering::Relaxed) + delta;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: defers to the system allocator; only adds bookkeeping.
unsafe impl std::alloc::GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        note(layout.size() as isize);
        // SAFETY: same contract as the caller's.
        unsafe { std::alloc::System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        note(-(layout.size() as isize));
        // SAFETY: same contract as the caller's.
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new: usize) -> *mut u8 {
        note(new as isize - layout.size() as isize);
        // SAFETY: same contract as the caller's.
        unsafe { std::alloc::System.realloc(ptr, layout, new) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

// ---------------------------------------------------------------------------------- helpers

/// The tests of this file run one at a time: the memory test counts every thread's heap.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn temp_dir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("tinystore-hardening-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn sqlite_server(db: &Path, save_interval: Duration) -> WsServer {
    WsServer::start(ServerConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        peer_factory: Some(
            sqlite_rooms(
                db,
                RoomOptions {
                    save_interval,
                    ..RoomOptions::default()
                },
            )
            .unwrap(),
        ),
        ..ServerConfig::default()
    })
    .unwrap()
}

/// A client store synced with `path` (pulled once before returning).
fn client(port: u16, path: &str) -> (MergeableStore, WsSynchronizer) {
    let store = MergeableStore::new(None);
    let sync = WsSynchronizer::connect(
        &store,
        WsClientConfig {
            url: format!("ws://127.0.0.1:{port}/{path}"),
            ..Default::default()
        },
        SynchronizerOptions {
            request_timeout: Some(Duration::from_secs(120)),
            ..Default::default()
        },
    )
    .unwrap();
    sync.start_sync(None);
    (store, sync)
}

fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What a fresh client of `path` on a new server over `db` sees.
fn persisted_json(db: &Path, path: &str) -> String {
    let server = sqlite_server(db, Duration::from_millis(100));
    let (store, sync) = client(server.port(), path);
    let json = store.get_json();
    sync.destroy();
    server.shutdown();
    json
}

/// A ContentDiff payload (broadcast) setting one cell, as a TinyBase client sends it.
fn content_diff(table: &str, row: &str, value: &str, counter: u64) -> String {
    let hlc = Hlc::encode(wall_clock_ms(), counter, &client_id_of("raw-writer"));
    let hlc = hlc.as_str();
    format!(
        "\n[\"tx{counter}\",3,[[{{\"{table}\":[{{\"{row}\":[{{\"c\":[\"{value}\",\"{hlc}\"]}},\"{hlc}\"]}},\"{hlc}\"]}},\"{hlc}\"],[{{}},\"\"],1]]"
    )
}

async fn raw_connect(
    port: u16,
    path: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let (ws, _) = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/{path}"))
        .await
        .unwrap();
    ws
}

async fn http_get(port: u16, target: &str, headers: &str) -> (u16, String) {
    let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    tcp.write_all(format!("GET {target} HTTP/1.1\r\nHost: x\r\n{headers}\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = Vec::new();
    tcp.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (status, body)
}

// ---------------------------------------------------------------------------------- findings

#[test]
fn finding_1_rooms_differing_in_case_never_share_storage() {
    let _serial = serial();
    let dir = temp_dir("case");
    let db = dir.join("rooms.sqlite");
    let server = sqlite_server(&db, Duration::from_millis(50));
    let (upper, s1) = client(server.port(), "Secret");
    upper.set_cell("payroll", "alice", "salary", 100);
    let (lower, s2) = client(server.port(), "secret");
    lower.set_cell("notes", "n1", "text", "hello");
    std::thread::sleep(Duration::from_millis(300));
    s1.destroy();
    s2.destroy();
    server.shutdown();
    assert_eq!(
        persisted_json(&db, "Secret"),
        r#"[{"payroll":{"alice":{"salary":100}}},{}]"#
    );
    assert_eq!(
        persisted_json(&db, "secret"),
        r#"[{"notes":{"n1":{"text":"hello"}}},{}]"#
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn finding_2_suffix_look_alikes_never_share_storage() {
    let _serial = serial();
    let dir = temp_dir("suffix");
    let db = dir.join("rooms.sqlite");
    let paths = ["p_q_52d13223", "p-q", "p/q"];
    for (i, path) in paths.iter().enumerate() {
        let server = sqlite_server(&db, Duration::from_millis(50));
        let (store, sync) = client(server.port(), path);
        store.set_cell("t", &format!("only{i}"), "c", i as f64);
        std::thread::sleep(Duration::from_millis(200));
        sync.destroy();
        server.shutdown();
    }
    for (i, path) in paths.iter().enumerate() {
        assert_eq!(
            persisted_json(&db, path),
            format!(r#"[{{"t":{{"only{i}":{{"c":{i}}}}}}},{{}}]"#),
            "{path}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn finding_4_a_write_followed_by_an_immediate_close_is_saved() {
    let _serial = serial();
    let dir = temp_dir("close");
    let db = dir.join("rooms.sqlite");
    let server = sqlite_server(&db, Duration::from_millis(500));
    let port = server.port();
    let rooms = 30;
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        for i in 0..rooms {
            let mut ws = raw_connect(port, &format!("quick{i}")).await;
            ws.send(WsMessage::text(content_diff("t", "r", &format!("v{i}"), 0)))
                .await
                .unwrap();
            ws.close(None).await.unwrap();
            // The server answers the close after every frame before it: all were received.
            while let Some(Ok(_)) = ws.next().await {}
        }
    });
    // The rooms empty at once; the stop must still apply and save what they received.
    server.shutdown();
    for i in 0..rooms {
        assert_eq!(
            persisted_json(&db, &format!("quick{i}")),
            format!(r#"[{{"t":{{"r":{{"c":"v{i}"}}}}}},{{}}]"#),
            "room quick{i}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn finding_5_busy_rooms_do_not_stall_the_server() {
    let _serial = serial();
    let dir = temp_dir("stall");
    let db = dir.join("rooms.sqlite");
    let server = sqlite_server(&db, Duration::from_secs(1));
    let port = server.port();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let blob = "x".repeat(40_000);
    let per_room = 160;
    let slowest = runtime.block_on(async {
        let mut writers = Vec::new();
        for room in 0..2 {
            let blob = blob.clone();
            writers.push(tokio::spawn(async move {
                let mut ws = raw_connect(port, &format!("busy{room}")).await;
                for i in 0..per_room {
                    let diff = content_diff("t", &format!("r{i}"), &blob, i);
                    ws.send(WsMessage::text(diff)).await.unwrap();
                }
                ws
            }));
        }
        let mut slowest = Duration::ZERO;
        for _ in 0..20 {
            let start = Instant::now();
            let (status, _) = http_get(port, "/health", "").await;
            assert_eq!(status, 200);
            slowest = slowest.max(start.elapsed());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        for w in writers {
            let mut ws = w.await.unwrap();
            ws.close(None).await.unwrap();
        }
        slowest
    });
    // On the old server (applies and saves on the async workers) this took 8-12 s; the bound
    // is loose on purpose (noisy machines), it only catches a stall.
    assert!(slowest < Duration::from_secs(2), "/health took {slowest:?}");

    // A burst into one room; the writer leaves and a new client comes at once: the room
    // restarts after the old one applied and saved the burst (coalesced: a few writes, not
    // one per change), well within the start-up buffer's patience, and serves everything.
    let burst: u64 = std::env::var("TINYSTORE_BURST")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    let small = "y".repeat(20_000);
    runtime.block_on(async {
        // A pulled client first, so the room is past start-up (whose buffer holds 16 MiB).
        let (_, primer) = client(port, "burst");
        let mut ws = raw_connect(port, "burst").await;
        primer.destroy();
        for i in 0..burst {
            let diff = content_diff("t", &format!("r{i}"), &small, i);
            ws.send(WsMessage::text(diff)).await.unwrap();
        }
        let t = Instant::now();
        ws.close(None).await.unwrap();
        while let Some(Ok(_)) = ws.next().await {}
        eprintln!("writer closed after {:?}", t.elapsed());
    });
    let t = Instant::now();
    let (late, late_sync) = client(port, "burst");
    eprintln!(
        "late joiner pulled {} rows in {:?}",
        late.get_row_count("t"),
        t.elapsed()
    );
    assert_eq!(late.get_row_count("t"), burst as usize);
    late_sync.destroy();
    server.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn finding_6_a_large_frame_has_bounded_memory_and_its_room_stays_usable() {
    let _serial = serial();
    let dir = temp_dir("large");
    let db = dir.join("rooms.sqlite");
    // The room's own store, to see when it has applied the frame.
    let room: Arc<std::sync::Mutex<Option<MergeableStore>>> = Arc::default();
    let seen = room.clone();
    let server = WsServer::start(ServerConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        peer_factory: Some(
            sqlite_rooms(
                &db,
                RoomOptions {
                    on_room: Some(Arc::new(move |path, store: &MergeableStore| {
                        if path == "large" {
                            *seen.lock().unwrap() = Some(store.clone());
                        }
                    })),
                    ..RoomOptions::default()
                },
            )
            .unwrap(),
        ),
        ..ServerConfig::default()
    })
    .unwrap();
    let port = server.port();
    // 50k cells in one ContentDiff (~3 MB; TINYSTORE_LARGE_FRAME_CELLS=300000 for the issue's
    // 13.5 MB case).
    let cells: usize = std::env::var("TINYSTORE_LARGE_FRAME_CELLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000);
    let hlc = Hlc::encode(wall_clock_ms(), 0, &client_id_of("big"));
    let hlc = hlc.as_str();
    let mut rows = String::new();
    for i in 0..cells {
        if i > 0 {
            rows.push(',');
        }
        rows.push_str(&format!("\"r{i}\":[{{\"c\":[{i},\"{hlc}\"]}},\"{hlc}\"]"));
    }
    let frame =
        format!("\n[\"big\",3,[[{{\"t\":[{{{rows}}},\"{hlc}\"]}},\"{hlc}\"],[{{}},\"\"],1]]");
    drop(rows);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let size = frame.len() as isize;
    runtime.block_on(async {
        let mut ws = raw_connect(port, "large").await;
        wait_until("the room store", Duration::from_secs(10), || {
            room.lock().unwrap().is_some()
        });
        let base = LIVE.load(Ordering::Relaxed);
        PEAK.store(base, Ordering::Relaxed);
        ws.send(WsMessage::text(frame)).await.unwrap();
        let store = room.lock().unwrap().clone().unwrap();
        wait_until("the room store", Duration::from_secs(120), || {
            store.get_row_count("t") == cells
        });
        // Past the coalesced save.
        std::thread::sleep(Duration::from_millis(1500));
        let peak = PEAK.load(Ordering::Relaxed) - base;
        let multiple = peak as f64 / size as f64;
        eprintln!("frame {size} B: peak live heap +{peak} B ({multiple:.1}x)");
        MULTIPLE.store(multiple as usize, Ordering::Relaxed);
        ws.close(None).await.unwrap();
    });
    let multiple = MULTIPLE.load(Ordering::Relaxed) as f64;
    let peak = (multiple * size as f64) as isize;
    // Everything in this process counts: the sender's frame and its socket buffer, the
    // server's copy and its parse, the room store, its stamps and its save.
    assert!(
        multiple < 40.0,
        "a {size}-byte frame took {peak} bytes at peak ({multiple:.1}x)"
    );
    // A late joiner gets the whole room, though its answer is over a frame's worth.
    let (late, late_sync) = client(port, "large");
    assert_eq!(late.get_row_count("t"), cells);
    late_sync.destroy();

    // A room holding one value just under the frame limit stays usable for late joiners.
    let value = "v".repeat(15 * 1024 * 1024);
    let (writer, writer_sync) = client(port, "bigvalue");
    writer.set_value("blob", value.as_str());
    std::thread::sleep(Duration::from_millis(500));
    let (late, late_sync) = client(port, "bigvalue");
    wait_until("the large value", Duration::from_secs(60), || {
        late.get_value("blob").is_some()
    });
    assert_eq!(late.get_value("blob"), writer.get_value("blob"));
    late_sync.destroy();
    writer_sync.destroy();
    server.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn finding_9_stats_rooms_and_tls_are_guarded() {
    let _serial = serial();
    let auth = TokenAuth::from_json(
        r#"{"tokens": {"w": {"rooms": ["a", "b"], "access": "read-write"},
                       "ops": {"stats": true}}}"#,
    )
    .unwrap();
    let server = WsServer::start(ServerConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        auth: Some(auth.hook()),
        max_rooms: Some(1),
        ..ServerConfig::default()
    })
    .unwrap();
    let port = server.port();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        assert_eq!(http_get(port, "/stats", "").await.0, 401);
        assert_eq!(http_get(port, "/stats?token=w", "").await.0, 403);
        let (status, body) = http_get(port, "/stats", "Authorization: Bearer ops\r\n").await;
        assert_eq!(status, 200);
        assert!(body.contains("\"paths\":0"), "{body}");
        assert_eq!(http_get(port, "/health", "").await.0, 200);

        assert!(
            tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/a"))
                .await
                .is_err()
        );
        let first = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/a?token=w"))
            .await
            .unwrap();
        // One room is the limit: a second room is refused while the first is open.
        let second = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/b?token=w"));
        match second.await {
            Err(tokio_tungstenite::tungstenite::Error::Http(r)) => {
                assert_eq!(r.status().as_u16(), 503)
            }
            other => panic!("expected 503, got {:?}", other.map(|_| ())),
        }
        drop(first);
    });
    server.shutdown();
}

/// A test CA and a `localhost` certificate it signed, made with the `openssl` command:
/// `(ca.pem, cert.pem, key.pem)`.
fn test_certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let run = |args: &[&str]| {
        let status = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stderr(std::process::Stdio::null())
            .status()
            .expect("the openssl command is needed to make test certificates");
        assert!(status.success(), "openssl {args:?}");
    };
    std::fs::write(
        dir.join("leaf.ext"),
        "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    run(&[
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
    ]
    .iter()
    .chain(&[
        "-subj",
        "/CN=tinystore test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ])
    .copied()
    .collect::<Vec<_>>());
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
    ]
    .iter()
    .chain(&["-keyout", "key.pem", "-out", "leaf.csr"])
    .copied()
    .collect::<Vec<_>>());
    run(&[
        "x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
    ]
    .iter()
    .chain(&[
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "leaf.ext",
        "-out",
        "cert.pem",
    ])
    .copied()
    .collect::<Vec<_>>());
    (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    )
}

#[test]
fn tls_serves_wss_with_the_given_certificate() {
    let _serial = serial();
    let dir = temp_dir("tls");
    let (ca, cert, key) = test_certificates(&dir);
    let identity = TlsIdentity::from_pem_files(&cert, &key).unwrap();
    assert!(TlsIdentity::from_pem_files(&key, &cert).is_err());
    let server = WsServer::start(ServerConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        tls: Some(identity),
        ..ServerConfig::default()
    })
    .unwrap();
    let port = server.port();
    let mut roots = rustls::RootCertStore::empty();
    use rustls::pki_types::pem::PemObject;
    for c in rustls::pki_types::CertificateDer::pem_file_iter(&ca).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let received = Arc::new(AtomicUsize::new(0));
    runtime.block_on(async {
        let connector = tokio_tungstenite::Connector::Rustls(Arc::new(config));
        let url = format!("wss://localhost:{port}/room");
        let (mut a, _) = tokio_tungstenite::connect_async_tls_with_config(
            url.clone(),
            None,
            false,
            Some(connector.clone()),
        )
        .await
        .unwrap();
        let (mut b, _) =
            tokio_tungstenite::connect_async_tls_with_config(url, None, false, Some(connector))
                .await
                .unwrap();
        a.send(WsMessage::text(content_diff("t", "r", "v", 0)))
            .await
            .unwrap();
        let got = tokio::time::timeout(Duration::from_secs(5), b.next())
            .await
            .unwrap();
        if let Some(Ok(WsMessage::Text(t))) = got {
            assert!(t.contains("\"v\""));
            received.fetch_add(1, Ordering::SeqCst);
        }
        // Plain ws:// to a TLS port does not get a room.
        assert!(
            tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/room"))
                .await
                .is_err()
        );
    });
    assert_eq!(received.load(Ordering::SeqCst), 1);
    server.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}
