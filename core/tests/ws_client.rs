//! The WebSocket client against real TinyBase 10.0.1: the reference kit's `peer.mjs serve` (TinyBase's
//! `createWsServer`) as the server and `peer.mjs client` (TinyBase's `createWsSynchronizer`) as
//! the other peer, in both framings, with fragments, with a server-side persisted store, and
//! across a server restart (reconnection).
//!
//! Needs Node.js and the kit installed by `make kit` (`target/kit`: tinybase, better-sqlite3
//! built, peer.mjs; `TINYSTORE_NODE_MODULES` points elsewhere); fails (never skips) with a
//! message saying so when they are missing.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};
use tinystore_core::MergeableStore;
use tinystore_core::mergeable::JsonForm;
use tinystore_core::ops::apply_ops;
use tinystore_core::sync::client::{
    ConnectionStatus, FrameDirection, ReconnectPolicy, WsClientConfig, WsClientError,
    WsSynchronizer,
};
use tinystore_core::sync::{SyncError, SynchronizerOptions};

// ---------------------------------------------------------------------------------- the kit

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn peer_script() -> PathBuf {
    let node_modules = std::env::var_os("TINYSTORE_NODE_MODULES")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/kit/node_modules"));
    let peer = node_modules.parent().unwrap().join("peer.mjs");
    let addon = node_modules.join("better-sqlite3/build/Release/better_sqlite3.node");
    assert!(
        peer.is_file() && node_modules.join("tinybase").is_dir() && addon.is_file(),
        "the TinyBase reference kit is not installed ({} with tinybase and better-sqlite3): \
         run `make kit` (needs Node.js 20+)",
        peer.display()
    );
    let node = Command::new("node").arg("--version").output();
    assert!(
        node.is_ok_and(|o| o.status.success()),
        "node cannot run: install Node.js 20+ and run `make kit`"
    );
    peer
}

/// A scratch directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("tinystore-ws-client-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// TinyBase's `createWsServer` in a node process; killed when dropped (its stdin pipe closing
/// also stops it if this process dies).
struct Server {
    child: Option<Child>,
    port: u16,
}

impl Server {
    fn start(db: Option<&Path>, log: &Path) -> Server {
        Self::try_start(0, db, log).expect("the TinyBase server did not start")
    }

    /// Restarts on `port`, retrying while the old socket still holds it.
    fn restart(port: u16, db: Option<&Path>, log: &Path) -> Server {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(server) = Self::try_start(port, db, log) {
                return server;
            }
            assert!(
                Instant::now() < deadline,
                "cannot restart the TinyBase server on {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn try_start(port: u16, db: Option<&Path>, log: &Path) -> Option<Server> {
        let mut command = Command::new("node");
        command
            .arg(peer_script())
            .args(["serve", "--port", &port.to_string()]);
        if let Some(db) = db {
            command.arg("--db").arg(db);
        }
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("node cannot run: install Node.js 20+ and run `make kit`");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut port = None;
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) if line.starts_with("PORT ") => port = line[5..].trim().parse().ok(),
                Ok(line) if line == "READY" => break,
                Ok(_) => {}
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return None;
                }
            }
        }
        Some(Server {
            child: Some(child),
            port: port.expect("the server printed no PORT"),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("ws://127.0.0.1:{}/{path}", self.port)
    }

    /// Kills the process (its sockets drop without a close handshake).
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs a TinyBase client (`peer.mjs client`) to completion and returns its output
/// (`{content, mergeableContent, contentHashes, ignoredErrors}`).
fn tinybase_client(scratch: &Scratch, name: &str, url: &str, ops: &Json, extra: &[&str]) -> Json {
    let ops_file = scratch.path(&format!("{name}.ops.json"));
    let out_file = scratch.path(&format!("{name}.out.json"));
    std::fs::write(&ops_file, ops.to_string()).unwrap();
    let output = Command::new("node")
        .arg(peer_script())
        .args([
            "client",
            "--url",
            url,
            "--wait-ms",
            "1500",
            "--timeout-ms",
            "20000",
        ])
        .arg("--ops")
        .arg(&ops_file)
        .arg("--out")
        .arg(&out_file)
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .expect("node cannot run: install Node.js 20+ and run `make kit`");
    assert!(
        output.status.success(),
        "the TinyBase client failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(&std::fs::read_to_string(&out_file).unwrap()).unwrap()
}

// ---------------------------------------------------------------------------------- our side

/// Frames and statuses a client saw, and the errors its synchronizer ignored.
#[derive(Default)]
struct Seen {
    frames: Mutex<Vec<(FrameDirection, String)>>,
    statuses: Mutex<Vec<ConnectionStatus>>,
    errors: Mutex<Vec<String>>,
}

impl Seen {
    fn frames(&self, direction: FrameDirection) -> Vec<String> {
        self.frames
            .lock()
            .unwrap()
            .iter()
            .filter(|(d, _)| *d == direction)
            .map(|(_, f)| f.clone())
            .collect()
    }
}

fn options(seen: &Arc<Seen>) -> SynchronizerOptions {
    let s = seen.clone();
    SynchronizerOptions {
        request_timeout: Some(Duration::from_millis(300)),
        on_ignored_error: Some(Arc::new(move |e: &SyncError| {
            s.errors.lock().unwrap().push(e.to_string());
        })),
        ..SynchronizerOptions::default()
    }
}

fn config(url: &str, seen: &Arc<Seen>) -> WsClientConfig {
    let (frames, statuses) = (seen.clone(), seen.clone());
    WsClientConfig {
        url: url.to_string(),
        on_frame: Some(Arc::new(move |d, f: &str| {
            frames.frames.lock().unwrap().push((d, f.to_string()));
        })),
        on_connection_status: Some(Arc::new(move |s| statuses.statuses.lock().unwrap().push(s))),
        ..WsClientConfig::default()
    }
}

fn connect(store: &MergeableStore, config: WsClientConfig, seen: &Arc<Seen>) -> WsSynchronizer {
    let client = WsSynchronizer::connect(store, config, options(seen)).expect("connect");
    assert_eq!(client.connection_status(), ConnectionStatus::Connected);
    client
}

fn ops(store: &MergeableStore, ops: Json) {
    apply_ops(store, &ops).unwrap();
}

/// `getMergeableContent()` as TinyBase's public JSON.
fn mergeable(store: &MergeableStore) -> Json {
    serde_json::from_str(
        &store
            .get_mergeable_content()
            .to_json_string(JsonForm::PUBLIC_CONTENT),
    )
    .unwrap()
}

fn hashes(store: &MergeableStore) -> Json {
    let (t, v) = store.get_mergeable_content_hashes();
    json!([t, v])
}

fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn assert_converged(a: &MergeableStore, b: &MergeableStore) {
    wait_until("both stores converge", Duration::from_secs(8), || {
        hashes(a) == hashes(b) && mergeable(a) == mergeable(b)
    });
    assert_eq!(a.get_json(), b.get_json());
}

/// Converged with a TinyBase client's final state.
fn assert_converged_with(ours: &MergeableStore, theirs: &Json) {
    wait_until(
        "our store matches the TinyBase client",
        Duration::from_secs(8),
        || hashes(ours) == theirs["contentHashes"] && mergeable(ours) == theirs["mergeableContent"],
    );
}

fn assert_no_protocol_errors(errors: &[String]) {
    for e in errors {
        assert!(
            !e.starts_with("tinybase:14") && !e.starts_with("tinybase:15"),
            "protocol error: {e} (all: {errors:?})"
        );
    }
}

/// `<clientId>\n<16-char message id>\n<index>\n<total>\n<piece>`, possibly in `M\n<channel>\n`.
fn is_fragment(frame: &str) -> bool {
    let inner = frame
        .strip_prefix("M\n")
        .and_then(|rest| rest.split_once('\n'))
        .map_or(frame, |(_, inner)| inner);
    let parts: Vec<&str> = inner.splitn(5, '\n').collect();
    parts.len() == 5
        && parts[1].len() == 16
        && parts[2].parse::<u32>().is_ok()
        && parts[3].parse::<u32>().is_ok()
}

// ---------------------------------------------------------------------------------- tests

#[test]
fn two_tinystore_clients_converge_through_a_tinybase_server() {
    let scratch = Scratch::new("two");
    let server = Server::start(None, &scratch.path("server.log"));
    let (a, b) = (MergeableStore::new(None), MergeableStore::new(None));
    ops(
        &a,
        json!([["setRow", "pets", "fido", {"species": "dog", "color": "brown"}]]),
    );
    ops(
        &b,
        json!([
            ["setCell", "pets", "fido", "color", "black"],
            ["setValue", "open", true]
        ]),
    );
    let (seen_a, seen_b) = (Arc::new(Seen::default()), Arc::new(Seen::default()));
    let ca = connect(&a, config(&server.url("petShop"), &seen_a), &seen_a);
    let cb = connect(&b, config(&server.url("petShop"), &seen_b), &seen_b);
    assert_eq!(ca.url(), server.url("petShop"));
    ca.start_sync(None);
    cb.start_sync(None);
    // Concurrent conflicting edits while syncing.
    let writer = {
        let a = a.clone();
        std::thread::spawn(move || {
            for i in 0..10 {
                ops(
                    &a,
                    json!([
                        ["setCell", "pets", "fido", "age", i],
                        ["setValue", "open", false]
                    ]),
                );
            }
        })
    };
    for i in 0..10 {
        ops(
            &b,
            json!([
                ["setCell", "pets", "fido", "age", 100 + i],
                ["delCell", "pets", "fido", "color"]
            ]),
        );
    }
    writer.join().unwrap();
    assert_converged(&a, &b);
    assert!(a.get_cell("pets", "fido", "species").is_some());
    assert_no_protocol_errors(&seen_a.errors.lock().unwrap());
    assert_no_protocol_errors(&seen_b.errors.lock().unwrap());
    ca.destroy();
    cb.destroy();
    assert_eq!(ca.connection_status(), ConnectionStatus::Disconnected);
    assert!(ca.is_destroyed());
    assert_eq!(
        *seen_a.statuses.lock().unwrap(),
        [
            ConnectionStatus::Connecting,
            ConnectionStatus::Connected,
            ConnectionStatus::Disconnected
        ]
    );
}

/// A tinystore client and a TinyBase client edit one room concurrently and converge.
fn mixed_room(name: &str, multiplexed: bool, fragments: bool) {
    let scratch = Scratch::new(name);
    let server = Server::start(None, &scratch.path("server.log"));
    let store = MergeableStore::new(None);
    let seen = Arc::new(Seen::default());
    let url = if multiplexed {
        server.url("")
    } else {
        server.url("room")
    };
    let ours = connect(
        &store,
        WsClientConfig {
            channel: multiplexed.then(|| "room".to_string()),
            fragment_size: fragments.then_some(64),
            ..config(&url, &seen)
        },
        &seen,
    );
    ours.start_sync(None);
    let bio =
        "a long biography, so that the messages carrying it need several fragments ".repeat(4);
    ops(
        &store,
        json!([
            ["setRow", "pets", "fido", {"species": "dog", "color": "brown", "bio": bio}],
            ["setValue", "open", true]
        ]),
    );
    let mut extra = Vec::new();
    if multiplexed {
        extra.extend(["--protocol", "tinybase", "--channel", "room"]);
    }
    if fragments {
        extra.extend(["--fragment-size", "64"]);
    }
    let theirs_ops = json!([
        ["setCell", "pets", "fido", "color", "black"],
        ["setRow", "pets", "felix", {"species": "cat", "bio": bio}],
        ["sleep", 300],
        ["transaction", [["setValue", "open", false], ["delCell", "pets", "fido", "species"]]]
    ]);
    // Our edits while TinyBase's client is in the room.
    let writer = {
        let store = store.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(700));
            ops(
                &store,
                json!([
                    ["setCell", "pets", "felix", "age", 3],
                    ["setValue", "visits", 7]
                ]),
            );
        })
    };
    let theirs = tinybase_client(&scratch, "theirs", &url, &theirs_ops, &extra);
    writer.join().unwrap();
    assert_converged_with(&store, &theirs);
    assert_eq!(
        store.get_value("visits"),
        Some(7.into()),
        "our late write reached TinyBase"
    );
    assert_eq!(theirs["content"][1]["visits"], json!(7));
    assert_eq!(
        theirs["content"][0]["pets"]["felix"]["species"],
        json!("cat")
    );
    let their_errors: Vec<String> = theirs["ignoredErrors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap_or_default().to_string())
        .collect();
    assert_no_protocol_errors(&their_errors);
    assert_no_protocol_errors(&seen.errors.lock().unwrap());
    if fragments {
        assert!(
            seen.frames(FrameDirection::Send)
                .iter()
                .any(|f| is_fragment(f))
        );
        assert!(
            seen.frames(FrameDirection::Receive)
                .iter()
                .any(|f| is_fragment(f))
        );
    }
    ours.destroy();
    let sent = seen.frames(FrameDirection::Send);
    if multiplexed {
        assert!(
            sent[0].starts_with("S\n[\"") && sent[0].ends_with("\",-1,[0,1]]"),
            "{sent:?}"
        );
        assert!(sent[1].ends_with("\",-1,[1,\"room\"]]"), "{sent:?}");
        assert!(
            sent[2..]
                .iter()
                .take_while(|f| f.starts_with("M\nroom\n"))
                .count()
                > 0
        );
        assert_eq!(sent.last().unwrap(), "S\n[null,-1,[2,\"room\"]]");
    } else {
        assert!(
            sent.iter()
                .all(|f| !f.starts_with("M\n") && !f.starts_with("S\n"))
        );
    }
}

#[test]
fn tinystore_and_tinybase_clients_converge_legacy() {
    mixed_room("legacy", false, false);
}

#[test]
fn tinystore_and_tinybase_clients_converge_multiplexed() {
    mixed_room("multiplexed", true, false);
}

#[test]
fn tinystore_and_tinybase_clients_converge_with_fragments() {
    mixed_room("fragments", false, true);
}

#[test]
fn multiplexed_fragments() {
    mixed_room("multiplexed-fragments", true, true);
}

#[test]
fn late_joiner_is_served_by_the_servers_persisted_store() {
    let scratch = Scratch::new("late");
    let db = scratch.path("rooms.sqlite");
    let server = Server::start(Some(&db), &scratch.path("server.log"));
    let written = tinybase_client(
        &scratch,
        "writer",
        &server.url("late"),
        &json!([
            ["setRow", "pets", "fido", {"species": "dog", "legs": 4}],
            ["setValues", {"open": true, "name": "petShop"}],
            ["delCell", "pets", "fido", "legs"]
        ]),
        &[],
    );
    // The writer has left: the room is stopped and its store saved; ours joins alone.
    let store = MergeableStore::new(None);
    let seen = Arc::new(Seen::default());
    let ours = connect(&store, config(&server.url("late"), &seen), &seen);
    ours.start_sync(None);
    assert_converged_with(&store, &written);
    assert!(
        seen.frames(FrameDirection::Receive)
            .iter()
            .any(|f| f.starts_with("S\n")),
        "the server's store (client id S) answered"
    );
    ours.destroy();
}

#[test]
fn reconnects_after_a_server_restart_and_resyncs() {
    let scratch = Scratch::new("reconnect");
    let log = scratch.path("server.log");
    let mut server = Server::start(None, &log);
    let port = server.port;
    let policy = ReconnectPolicy {
        initial_delay: Duration::from_millis(100),
        max_delay: Duration::from_millis(400),
        jitter: 0.2,
    };
    let (x, y) = (MergeableStore::new(None), MergeableStore::new(None));
    let (seen_x, seen_y) = (Arc::new(Seen::default()), Arc::new(Seen::default()));
    let cx = connect(
        &x,
        WsClientConfig {
            reconnect: Some(policy),
            ..config(&server.url("room"), &seen_x)
        },
        &seen_x,
    );
    // y multiplexed: channel `room` on base path "" is the same server room as x's `/room`,
    // and its handshake must run again on the new socket.
    let cy = connect(
        &y,
        WsClientConfig {
            reconnect: Some(policy),
            channel: Some("room".into()),
            ..config(&server.url(""), &seen_y)
        },
        &seen_y,
    );
    cx.start_sync(None);
    cy.start_sync(None);
    x.set_cell("pets", "fido", "species", "dog");
    wait_until("y sees x's first write", Duration::from_secs(5), || {
        y.get_cell("pets", "fido", "species").is_some()
    });

    server.kill();
    wait_until(
        "both notice the server is gone",
        Duration::from_secs(5),
        || {
            cx.connection_status() != ConnectionStatus::Connected
                && cy.connection_status() != ConnectionStatus::Connected
        },
    );
    let sent_before = seen_x.frames(FrameDirection::Send).len();
    // Written while disconnected: coalesced into one ContentHashes after the reconnect.
    x.set_cell("pets", "fido", "color", "brown");
    x.set_value("open", true);
    std::thread::sleep(Duration::from_millis(300));

    let _server = Server::restart(port, None, &log);
    wait_until("both reconnect", Duration::from_secs(10), || {
        cx.connection_status() == ConnectionStatus::Connected
            && cy.connection_status() == ConnectionStatus::Connected
    });
    wait_until("y sees the offline write", Duration::from_secs(8), || {
        y.get_cell("pets", "fido", "color").is_some() && y.get_value("open").is_some()
    });
    assert_converged(&x, &y);
    // x wrote nothing after reconnecting: its offline ContentDiffs were not replayed, a fresh
    // ContentHashes announced them instead.
    let sent_after = seen_x.frames(FrameDirection::Send)[sent_before..].to_vec();
    let message = |f: &String| {
        f.split_once('\n')
            .map(|(_, r)| r.split(',').nth(1).map(str::to_string))
    };
    assert!(
        sent_after
            .iter()
            .any(|f| message(f) == Some(Some("2".into()))),
        "{sent_after:?}"
    );
    assert!(
        sent_after
            .iter()
            .all(|f| message(f) != Some(Some("3".into()))),
        "{sent_after:?}"
    );
    let statuses = seen_x.statuses.lock().unwrap().clone();
    let dropped = statuses
        .iter()
        .position(|s| *s == ConnectionStatus::Disconnected)
        .expect("Disconnected reported");
    assert_eq!(
        statuses[..2],
        [ConnectionStatus::Connecting, ConnectionStatus::Connected]
    );
    assert!(
        statuses[dropped..].contains(&ConnectionStatus::Connected),
        "Connected after Disconnected: {statuses:?}"
    );
    assert_no_protocol_errors(&seen_x.errors.lock().unwrap());
    assert_no_protocol_errors(&seen_y.errors.lock().unwrap());
    let hellos = seen_y
        .frames(FrameDirection::Send)
        .iter()
        .filter(|f| f.ends_with(",-1,[0,1]]"))
        .count();
    assert!(
        hellos >= 2,
        "the multiplexed handshake ran again ({hellos} Hellos)"
    );
    cx.destroy();
    cy.destroy();
    assert_eq!(cx.connection_status(), ConnectionStatus::Disconnected);
}

#[test]
fn connects_from_inside_a_tokio_runtime_and_reports_connect_errors() {
    let scratch = Scratch::new("runtime");
    let server = Server::start(None, &scratch.path("server.log"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let store = MergeableStore::new(None);
    let url = server.url("rt");
    let client = runtime.block_on(async {
        WsSynchronizer::connect(
            &store,
            WsClientConfig {
                url,
                ..WsClientConfig::default()
            },
            SynchronizerOptions::default(),
        )
    });
    let client = client.expect("connect inside a runtime");
    assert_eq!(client.connection_status(), ConnectionStatus::Connected);
    runtime.block_on(async { client.destroy() });

    // Nobody listens on the port of a server that was stopped.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let refused = WsSynchronizer::connect(
        &store,
        WsClientConfig {
            url: format!("ws://127.0.0.1:{port}/x"),
            reconnect: Some(ReconnectPolicy::default()),
            ..WsClientConfig::default()
        },
        SynchronizerOptions::default(),
    );
    assert!(
        matches!(refused, Err(WsClientError::Connect { .. })),
        "{refused:?}"
    );
}

// ---------------------------------------------------------------------------------- bad servers

// tungstenite's handshake callbacks must return its (large) `ErrorResponse`.
#[allow(clippy::result_large_err)]
/// A one-connection WebSocket server that sends `frames` once the client is ready (after its
/// first legacy frame, or after acking its Hello and Subscribe) and returns the close frame the
/// client sent.
fn misbehaving_server(
    frames: Vec<String>,
) -> (u16, std::thread::JoinHandle<Option<(u16, String)>>) {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let handle = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let (tcp, _) = listener.accept().await.unwrap();
            let echo_protocol = |request: &Request, mut response: Response| {
                if let Some(p) = request.headers().get("sec-websocket-protocol") {
                    response
                        .headers_mut()
                        .insert("sec-websocket-protocol", p.clone());
                }
                Ok(response)
            };
            let mut ws = tokio_tungstenite::accept_hdr_async(tcp, echo_protocol)
                .await
                .unwrap();
            let mut sent = false;
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            loop {
                let next = tokio::time::timeout_at(deadline, ws.next()).await.ok()??;
                match next.ok()? {
                    Message::Text(text) => {
                        let text = text.as_str().to_string();
                        if text.starts_with("S\n") && text.contains(",-1,[1,") {
                            ws.send(Message::text(text)).await.ok()?;
                            for f in &frames {
                                ws.send(Message::text(f.clone())).await.ok()?;
                            }
                            sent = true;
                        } else if text.starts_with("S\n") && text.contains(",-1,[0,") {
                            ws.send(Message::text(text)).await.ok()?;
                        } else if !sent {
                            for f in &frames {
                                ws.send(Message::text(f.clone())).await.ok()?;
                            }
                            sent = true;
                        }
                    }
                    Message::Close(frame) => {
                        return frame.map(|f| (u16::from(f.code), f.reason.as_str().to_string()));
                    }
                    _ => {}
                }
            }
        })
    });
    (port, handle)
}

#[test]
fn an_invalid_frame_closes_the_socket_with_1007() {
    for (multiplexed, garbage) in [
        (false, "not a payload at all"),
        (false, "\n[\"x\",2,[1]]"),
        (true, "M\nother-channel\n\n[\"x\",1,\"\"]"),
        (true, "S\n[\"x\",-1,[7,1]]"),
    ] {
        let (port, server) = misbehaving_server(vec![garbage.to_string()]);
        let store = MergeableStore::new(None);
        let seen = Arc::new(Seen::default());
        let client = connect(
            &store,
            WsClientConfig {
                channel: multiplexed.then(|| "room".to_string()),
                ..config(&format!("ws://127.0.0.1:{port}/room"), &seen)
            },
            &seen,
        );
        // Legacy: the server sends when the first frame arrives.
        client.start_sync(None);
        let close = server.join().unwrap();
        assert_eq!(
            close,
            Some((1007, "tinybase:14".to_string())),
            "{garbage:?}"
        );
        wait_until("the client is disconnected", Duration::from_secs(5), || {
            client.connection_status() == ConnectionStatus::Disconnected
        });
        assert!(
            seen.errors
                .lock()
                .unwrap()
                .contains(&"tinybase:14".to_string())
        );
        // Sending after the close is a no-op, not a panic.
        store.set_cell("t", "r", "c", 1);
        client.destroy();
    }
}

#[test]
fn the_multiplexed_handshake_needs_the_subprotocol() {
    // A TinyBase server offered `tinybase` on a plain path still negotiates it; a plain
    // WebSocket server that ignores it fails the handshake with a clear error.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        let _ws = tokio_tungstenite::tungstenite::accept(tcp);
        std::thread::sleep(Duration::from_millis(200));
    });
    let store = MergeableStore::new(None);
    let result = WsSynchronizer::connect(
        &store,
        WsClientConfig {
            url: format!("ws://127.0.0.1:{port}/"),
            channel: Some("room".into()),
            connect_timeout: Some(Duration::from_secs(2)),
            ..WsClientConfig::default()
        },
        SynchronizerOptions::default(),
    );
    assert!(
        matches!(result, Err(WsClientError::Handshake { .. })),
        "{result:?}"
    );
    server.join().unwrap();
}

#[test]
// tungstenite's handshake callbacks must return its (large) `ErrorResponse`.
#[allow(clippy::result_large_err)]
fn extra_headers_and_the_subprotocol_reach_the_server() {
    use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        let mut seen = (None, None, None);
        let callback = |request: &Request, mut response: Response| {
            let header = |name: &str| {
                request
                    .headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            };
            seen = (
                Some(request.uri().path().to_string()),
                header("authorization"),
                header("sec-websocket-protocol"),
            );
            response
                .headers_mut()
                .insert("sec-websocket-protocol", "tinybase".parse().unwrap());
            Ok(response)
        };
        let mut ws = tokio_tungstenite::tungstenite::accept_hdr(tcp, callback).unwrap();
        // Ack Hello and Subscribe by echoing them, then wait for the Unsubscribe and close.
        let mut frames = Vec::new();
        while let Ok(message) = ws.read() {
            if let tokio_tungstenite::tungstenite::Message::Text(text) = message {
                let text = text.as_str().to_string();
                if text.contains(",-1,[0,") || text.contains(",-1,[1,") {
                    ws.send(tokio_tungstenite::tungstenite::Message::text(text.clone()))
                        .unwrap();
                }
                frames.push(text);
            }
        }
        (seen, frames)
    });
    let store = MergeableStore::new(None);
    let client = WsSynchronizer::connect(
        &store,
        WsClientConfig {
            url: format!("ws://127.0.0.1:{port}/base"),
            channel: Some("a/b".into()),
            headers: vec![("Authorization".into(), "Bearer secret".into())],
            ..WsClientConfig::default()
        },
        SynchronizerOptions::default(),
    )
    .expect("connect");
    client.destroy();
    let ((path, auth, protocol), frames) = server.join().unwrap();
    assert_eq!(path.as_deref(), Some("/base"));
    assert_eq!(auth.as_deref(), Some("Bearer secret"));
    assert_eq!(protocol.as_deref(), Some("tinybase"));
    assert_eq!(frames.len(), 3, "{frames:?}");
    assert_eq!(frames[2], "S\n[null,-1,[2,\"a/b\"]]");
}

#[test]
fn a_failed_tls_connection_is_an_error_not_a_panic() {
    // A plain TCP listener: the TLS handshake (or, in a build without a rustls crypto
    // provider, the TLS set-up) fails either way.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        std::thread::sleep(Duration::from_millis(300));
        drop(tcp);
    });
    let store = MergeableStore::new(None);
    let result = WsSynchronizer::connect(
        &store,
        WsClientConfig {
            url: format!("wss://localhost:{port}/room"),
            connect_timeout: Some(Duration::from_secs(3)),
            ..WsClientConfig::default()
        },
        SynchronizerOptions::default(),
    );
    assert!(
        matches!(result, Err(WsClientError::Connect { .. })),
        "{result:?}"
    );
    server.join().unwrap();
}

#[test]
fn many_clients_share_one_runtime() {
    let scratch = Scratch::new("many");
    let server = Server::start(None, &scratch.path("server.log"));
    let stores: Vec<MergeableStore> = (0..100).map(|_| MergeableStore::new(None)).collect();
    let clients: Vec<WsSynchronizer> = stores
        .iter()
        .map(|store| {
            let config = WsClientConfig {
                url: server.url("many"),
                ..WsClientConfig::default()
            };
            WsSynchronizer::connect(store, config, SynchronizerOptions::default()).unwrap()
        })
        .collect();
    assert!(
        clients
            .iter()
            .all(|c| c.connection_status() == ConnectionStatus::Connected)
    );
    for client in &clients {
        client.destroy();
        assert_eq!(client.connection_status(), ConnectionStatus::Disconnected);
    }
}
