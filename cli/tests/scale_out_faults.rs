//! Faults of a scaled-out deployment (several `tinystore serve` on one PostgreSQL database,
//! `docs/scale-out.md`), with real processes and a real PostgreSQL:
//!
//! - a server killed with SIGKILL while its client writes: the client moves on to the next
//!   server URL, and everything it wrote reaches the database and the other server's clients;
//! - PostgreSQL restarted under a server: the server goes on without a restart of its own,
//!   and what its clients wrote meanwhile is saved once the database is back.
//!
//! The restart test restarts the suites' shared cluster, so this binary holds only these
//! tests and runs them one after another (cargo runs test binaries one at a time).

mod common;
#[path = "../../core/tests/pg/mod.rs"]
mod pg;

use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tinystore_core::MergeableStore;
use tinystore_core::sync::{ReconnectPolicy, WsClientConfig, WsSynchronizer};

/// The tests share one PostgreSQL cluster that one of them restarts: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(db: &str) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tinystore"))
            .args([
                "serve",
                "--port",
                "0",
                "--save-interval-ms",
                "50",
                "--db",
                db,
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("tinystore serve starts");
        let port = common::read_ready(&mut child).expect("tinystore serve printed its port");
        Server { child, port }
    }

    fn url(&self) -> String {
        format!("ws://127.0.0.1:{}/room", self.port)
    }

    fn kill_9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client(url: &str, fallbacks: &[String]) -> (MergeableStore, WsSynchronizer) {
    let store = MergeableStore::new(None);
    let sync = WsSynchronizer::connect(
        &store,
        WsClientConfig {
            url: url.to_string(),
            fallback_urls: fallbacks.to_vec(),
            reconnect: Some(ReconnectPolicy {
                initial_delay: Duration::from_millis(50),
                max_delay: Duration::from_millis(500),
                jitter: 0.2,
            }),
            ..Default::default()
        },
        Default::default(),
    )
    .expect("the client connects");
    sync.start_sync(None);
    (store, sync)
}

fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// How many of the rows `r0`…`r{n-1}` the room's stored document holds.
fn stored_rows(url: &str, n: usize) -> usize {
    let out = Command::new("psql")
        .args([
            url,
            "-X",
            "-q",
            "-t",
            "-A",
            "-c",
            "SELECT store FROM tinybase_room",
        ])
        .output()
        .unwrap();
    let doc = String::from_utf8_lossy(&out.stdout);
    (0..n)
        .filter(|i| doc.contains(&format!("\"r{i}\"")))
        .count()
}

#[test]
fn a_server_killed_mid_write_loses_nothing_its_client_wrote() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let db = pg::database("faults", "kill");
    let mut a = Server::start(&db);
    let b = Server::start(&db);
    let (writer, writer_sync) = client(&a.url(), &[b.url()]);
    let (reader, reader_sync) = client(&b.url(), &[]);
    const ROWS: usize = 60;
    for i in 0..ROWS {
        writer.set_cell("t", &format!("r{i}"), "v", i as f64);
        std::thread::sleep(Duration::from_millis(10));
        if i == ROWS / 2 {
            a.kill_9();
        }
    }
    wait_until(
        "the writer moved on to the second server",
        Duration::from_secs(20),
        || writer_sync.current_url() == b.url(),
    );
    wait_until("every row is stored", Duration::from_secs(30), || {
        stored_rows(&db, ROWS) == ROWS
    });
    wait_until(
        "the other server's client has every row",
        Duration::from_secs(30),
        || reader.get_row_ids("t").len() == ROWS,
    );
    // Row order is each store's own; the content and every stamp are the same.
    assert_eq!(
        reader.get_mergeable_content_hashes(),
        writer.get_mergeable_content_hashes()
    );
    // A client whose first URL is dead (A) opens on the next one.
    let (late, late_sync) = client(&a.url(), &[b.url()]);
    assert_eq!(late_sync.current_url(), b.url());
    wait_until(
        "the late client has every row",
        Duration::from_secs(30),
        || late.get_row_ids("t").len() == ROWS,
    );
    late_sync.destroy();
    writer_sync.destroy();
    reader_sync.destroy();
}

#[test]
fn a_postgres_restart_under_a_server_loses_nothing() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let db = pg::database("faults", "restart");
    let server = Server::start(&db);
    let (writer, writer_sync) = client(&server.url(), &[]);
    const ROWS: usize = 40;
    for i in 0..ROWS / 2 {
        writer.set_cell("t", &format!("r{i}"), "v", i as f64);
    }
    wait_until("the first rows are stored", Duration::from_secs(30), || {
        stored_rows(&db, ROWS / 2) == ROWS / 2
    });
    // Down (as after a crash: no shutdown checkpoint) while the client writes, then up again.
    let restart = std::thread::spawn(pg::restart);
    for i in ROWS / 2..ROWS {
        writer.set_cell("t", &format!("r{i}"), "v", i as f64);
        std::thread::sleep(Duration::from_millis(20));
    }
    restart.join().unwrap();
    wait_until(
        "every row is stored after the restart",
        Duration::from_secs(60),
        || stored_rows(&db, ROWS) == ROWS,
    );
    // The server itself is fine: a new client gets the whole room from it.
    let (late, late_sync) = client(&server.url(), &[]);
    wait_until(
        "a new client gets every row",
        Duration::from_secs(30),
        || late.get_row_ids("t").len() == ROWS,
    );
    late_sync.destroy();
    writer_sync.destroy();
}
