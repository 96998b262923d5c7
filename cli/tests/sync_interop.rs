//! The kit's sync scenarios with tinystore substituted on either side: tinystore's server with
//! TinyBase clients, TinyBase's server with tinystore clients, mixed rooms on both servers, the
//! `tinybase` subprotocol, fragments, a late joiner served from the server's persisted room,
//! and a server restart that keeps the room. Every participant must end with equal
//! `mergeableContent` and equal hashes.
//!
//! Runs `tinystore serve|client` and the kit's `peer.mjs serve|client` (real TinyBase 10.0.1)
//! as processes with the same flags. Needs Node.js and the kit installed by `make kit`; fails
//! (never skips) when they are missing.

mod common;
#[path = "../../core/tests/pg/mod.rs"]
mod pg;

use std::path::{Path, PathBuf};

use common::peer_script;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value as Json;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Side {
    Tinystore,
    TinyBase,
}

fn command(side: Side) -> Command {
    match side {
        Side::Tinystore => Command::new(env!("CARGO_BIN_EXE_tinystore")),
        Side::TinyBase => {
            let mut c = Command::new("node");
            c.arg(peer_script(false));
            c
        }
    }
}

fn scratch(name: &str) -> PathBuf {
    common::scratch("sync", name)
}

/// A running server; stopped (stdin closed, then killed if it lingers) on drop.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(side: Side, db: Option<&Path>, port: u16) -> Server {
        Self::start_with(side, db, port, &[])
    }

    fn start_with(side: Side, db: Option<&Path>, port: u16, extra: &[&str]) -> Server {
        let mut c = command(side);
        c.args(["serve", "--port", &port.to_string()]);
        c.args(extra);
        match (side, db) {
            (_, Some(db)) => {
                c.arg("--db").arg(db);
            }
            (Side::Tinystore, None) => {
                c.arg("--relay-only");
            }
            (Side::TinyBase, None) => {}
        }
        Self::spawn(side, c)
    }

    /// A server keeping its rooms in the PostgreSQL database at `url`: `tinystore serve --db
    /// <url>`, or TinyBase's server with `createPostgresPersister` per room (`tb-postgres.mjs`).
    fn start_postgres(side: Side, url: &str) -> Server {
        let c = match side {
            Side::Tinystore => {
                let mut c = command(side);
                c.args([
                    "serve",
                    "--port",
                    "0",
                    "--save-interval-ms",
                    "50",
                    "--db",
                    url,
                ]);
                c
            }
            Side::TinyBase => {
                let mut c = Command::new("node");
                c.arg(peer_script(false).with_file_name("tb-postgres.mjs"))
                    .args(["serve", "--port", "0", "--url", url]);
                c
            }
        };
        Self::spawn(side, c)
    }

    fn spawn(side: Side, mut c: Command) -> Server {
        let mut child = c
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("{side:?} server cannot start ({e}); run `make kit`"));
        let port = common::read_ready(&mut child)
            .unwrap_or_else(|| panic!("{side:?} server printed no PORT"));
        Server { child, port }
    }

    fn url(&self, path: &str) -> String {
        format!("ws://127.0.0.1:{}/{path}", self.port)
    }

    /// Stops the way a harness does (SIGTERM) and waits: rooms are saved on the way out.
    fn stop(mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("server did not stop on SIGTERM");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        if let Ok(None) = self.child.try_wait() {
            std::thread::sleep(Duration::from_millis(200));
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

struct ClientRun<'a> {
    side: Side,
    url: String,
    ops: &'a str,
    pre_ops: Option<&'a str>,
    extra: Vec<String>,
}

fn client(side: Side, url: String, ops: &str) -> ClientRun<'_> {
    ClientRun {
        side,
        url,
        ops,
        pre_ops: None,
        extra: Vec::new(),
    }
}

impl ClientRun<'_> {
    fn with(mut self, args: &[&str]) -> Self {
        self.extra.extend(args.iter().map(|s| s.to_string()));
        self
    }

    fn spawn(&self, dir: &Path, name: &str) -> (Child, PathBuf) {
        let ops = dir.join(format!("{name}.ops.json"));
        std::fs::write(&ops, self.ops).unwrap();
        let out = dir.join(format!("{name}.out.json"));
        let mut c = command(self.side);
        c.args(["client", "--url", &self.url, "--ops"])
            .arg(&ops)
            .args(["--wait-ms", "1500", "--out"])
            .arg(&out)
            .args(&self.extra);
        if let Some(pre) = self.pre_ops {
            let pre_path = dir.join(format!("{name}.pre.json"));
            std::fs::write(&pre_path, pre).unwrap();
            c.arg("--pre-ops").arg(pre_path);
        }
        let child = c
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{:?} client cannot start: {e}", self.side));
        (child, out)
    }
}

/// Runs clients concurrently and returns their outputs.
fn run_all(dir: &Path, clients: &[ClientRun<'_>]) -> Vec<Json> {
    let running: Vec<_> = clients
        .iter()
        .enumerate()
        .map(|(i, c)| (c.side, c.spawn(dir, &format!("c{i}"))))
        .collect();
    running
        .into_iter()
        .map(|(side, (child, out))| {
            let output = child.wait_with_output().unwrap();
            assert!(
                output.status.success(),
                "{side:?} client failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
            serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap()
        })
        .collect()
}

fn assert_converged(outputs: &[Json]) {
    for o in &outputs[1..] {
        assert_eq!(o["mergeableContent"], outputs[0]["mergeableContent"]);
        assert_eq!(o["contentHashes"], outputs[0]["contentHashes"]);
        assert_eq!(o["content"], outputs[0]["content"]);
    }
}

const OPS_A: &str = r#"[
  ["setCell","pets","fido","species","dog"],
  ["setValue","open",true],
  ["sleep",300],
  ["transaction",[["setCell","pets","fido","color","black"],["setRow","pets","felix",{"species":"cat","legs":4}]]],
  ["setCell","pets","shared","owner","a"]
]"#;

const OPS_B: &str = r#"[
  ["setCell","pets","rex","species","dog"],
  ["setValue","employees",3],
  ["sleep",300],
  ["setCell","pets","fido","color","brown"],
  ["delCell","pets","felix","legs"],
  ["setCell","pets","shared","owner","b"],
  ["setCell","pets","rex","toy",{"kind":"ball","size":[1,2]}]
]"#;

/// Both clients' edits arrived: every row each one wrote is there.
fn assert_both_edits(out: &Json) {
    let pets = &out["content"][0]["pets"];
    assert_eq!(pets["fido"]["species"], "dog", "{out}");
    assert_eq!(pets["rex"]["species"], "dog", "{out}");
    assert_eq!(out["content"][1]["open"], true, "{out}");
    assert_eq!(out["content"][1]["employees"], 3, "{out}");
}

fn pair(server: Side, a: Side, b: Side, extra: &[&str], channel: bool, name: &str) {
    let dir = scratch(name);
    let s = Server::start(server, None, 0);
    let url = if channel { s.url("") } else { s.url("room") };
    let mut args: Vec<&str> = extra.to_vec();
    if channel {
        args.extend(["--protocol", "tinybase", "--channel", "room"]);
    }
    let outs = run_all(
        &dir,
        &[
            client(a, url.clone(), OPS_A).with(&args),
            client(b, url, OPS_B).with(&args),
        ],
    );
    assert_converged(&outs);
    assert_both_edits(&outs[0]);
}

#[test]
fn tinystore_server_with_two_tinybase_clients() {
    pair(
        Side::Tinystore,
        Side::TinyBase,
        Side::TinyBase,
        &[],
        false,
        "ts-tb-tb",
    );
}

#[test]
fn tinybase_server_with_two_tinystore_clients() {
    pair(
        Side::TinyBase,
        Side::Tinystore,
        Side::Tinystore,
        &[],
        false,
        "tb-ts-ts",
    );
}

#[test]
fn mixed_room_on_tinystore_server() {
    pair(
        Side::Tinystore,
        Side::Tinystore,
        Side::TinyBase,
        &[],
        false,
        "ts-mixed",
    );
}

#[test]
fn mixed_room_on_tinybase_server() {
    pair(
        Side::TinyBase,
        Side::TinyBase,
        Side::Tinystore,
        &[],
        false,
        "tb-mixed",
    );
}

#[test]
fn subprotocol_mixed_on_both_servers() {
    pair(
        Side::Tinystore,
        Side::TinyBase,
        Side::Tinystore,
        &[],
        true,
        "ts-mux",
    );
    pair(
        Side::TinyBase,
        Side::Tinystore,
        Side::TinyBase,
        &[],
        true,
        "tb-mux",
    );
}

#[test]
fn fragments_mixed_on_both_servers() {
    let f = ["--fragment-size", "64"];
    pair(
        Side::Tinystore,
        Side::Tinystore,
        Side::TinyBase,
        &f,
        false,
        "ts-frag",
    );
    pair(
        Side::TinyBase,
        Side::TinyBase,
        Side::Tinystore,
        &f,
        false,
        "tb-frag",
    );
}

/// A writes and leaves; the room lives on in the server's store (and, after a restart, in its
/// database); a late joiner with data of its own gets A's content, and the server gets its.
fn late_joiner(server: Side, writer: Side, joiner: Side, restart: bool, name: &str) {
    let dir = scratch(name);
    let db = dir.join("rooms.sqlite");
    let s = Server::start(server, Some(&db), 0);
    let outs = run_all(&dir, &[client(writer, s.url("petShop"), OPS_A)]);
    let a = &outs[0];
    let s = if restart {
        s.stop();
        Server::start(server, Some(&db), 0)
    } else {
        s
    };
    let mut late = client(joiner, s.url("petShop"), "[]").with(&["--fragment-size", "64"]);
    late.pre_ops = Some(r#"[["setCell","pets","late","species","owl"]]"#);
    let outs = run_all(&dir, &[late]);
    let c = &outs[0];
    let pets = &c["content"][0]["pets"];
    assert_eq!(pets["fido"], a["content"][0]["pets"]["fido"], "{c}");
    assert_eq!(pets["late"]["species"], "owl");
    // The server kept the joiner's data too: a third client sees everything.
    let outs = run_all(&dir, &[client(writer, s.url("petShop"), "[]")]);
    assert_eq!(outs[0]["mergeableContent"], c["mergeableContent"]);
    assert_eq!(outs[0]["contentHashes"], c["contentHashes"]);
}

#[test]
fn late_joiner_served_from_the_tinystore_servers_store() {
    late_joiner(
        Side::Tinystore,
        Side::TinyBase,
        Side::Tinystore,
        false,
        "ts-late",
    );
}

#[test]
fn late_joiner_served_from_the_tinybase_servers_store() {
    late_joiner(
        Side::TinyBase,
        Side::Tinystore,
        Side::Tinystore,
        false,
        "tb-late",
    );
}

#[test]
fn tinystore_server_restart_keeps_the_room() {
    late_joiner(
        Side::Tinystore,
        Side::TinyBase,
        Side::TinyBase,
        true,
        "ts-restart",
    );
}

#[test]
fn tinystore_server_files_load_in_tinybase() {
    // What the tinystore server stored is what TinyBase reads from the table the kit's server
    // would have used.
    let dir = scratch("ts-db");
    let db = dir.join("rooms.sqlite");
    let s = Server::start(Side::Tinystore, Some(&db), 0);
    let outs = run_all(&dir, &[client(Side::TinyBase, s.url("pet-shop"), OPS_A)]);
    s.stop();
    let dump = Command::new("node")
        .arg(peer_script(false))
        .args(["dump-sqlite", "--db"])
        .arg(&db)
        .args(["--mode", "json", "--table", "tinybase_pet_shop"])
        .output()
        .unwrap();
    assert!(
        dump.status.success(),
        "{}",
        String::from_utf8_lossy(&dump.stderr)
    );
    let dump: Json = serde_json::from_slice(&dump.stdout).unwrap();
    assert_eq!(dump["store"], "mergeable");
    assert_eq!(dump["mergeableContent"], outs[0]["mergeableContent"]);
    assert_eq!(dump["contentHashes"], outs[0]["contentHashes"]);
}

#[test]
fn server_trace_records_sockets_and_frames_like_the_kit() {
    let dir = scratch("ts-trace");
    let trace = dir.join("server.jsonl");
    let trace_arg = trace.to_str().unwrap().to_string();
    let s = Server::start_with(Side::Tinystore, None, 0, &["--trace", &trace_arg]);
    run_all(&dir, &[client(Side::TinyBase, s.url("room"), OPS_A)]);
    s.stop();
    let records: Vec<Json> = std::fs::read_to_string(&trace)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let open = records
        .iter()
        .find(|r| r["kind"] == "event" && r["event"] == "open")
        .expect("an open event");
    assert_eq!(open["url"], "/room");
    assert_eq!(open["side"], "server");
    assert_eq!(open["key"].as_str().map(str::len), Some(24));
    let frames: Vec<&Json> = records.iter().filter(|r| r["kind"] == "frame").collect();
    assert!(frames.iter().any(|f| {
        f["dir"] == "recv"
            && f["data"]
                .as_str()
                .is_some_and(|d| d.starts_with("\n[") && d.contains(",3,"))
    }));
    assert!(
        records
            .iter()
            .any(|r| r["event"] == "stop" && r["why"] == "SIGTERM")
    );
}

/// Two clients of one room, each on another server process, both servers keeping the room in
/// one PostgreSQL database: they converge, and the room's table holds both edits.
fn shared_room(a: Side, b: Side, name: &str) {
    let url = pg::database("sync", name);
    let dir = scratch(name);
    let first = Server::start_postgres(a, &url);
    let second = Server::start_postgres(b, &url);
    let outs = run_all(
        &dir,
        &[
            client(Side::TinyBase, first.url("room"), OPS_A),
            client(Side::Tinystore, second.url("room"), OPS_B),
        ],
    );
    assert_converged(&outs);
    assert_both_edits(&outs[0]);
    drop((first, second));
    let stored = pg::psql(&url, "SELECT store FROM tinybase_room WHERE \"_id\"='_'");
    assert!(
        stored.contains("fido") && stored.contains("rex"),
        "{stored}"
    );
}

#[test]
fn two_tinystore_servers_share_a_room_in_postgres() {
    shared_room(Side::Tinystore, Side::Tinystore, "pg_two");
}

/// A TinyBase server and a tinystore server keep one room in one PostgreSQL database: what a
/// client wrote through one reaches clients of the other, both ways. The writes are in turns:
/// TinyBase's persister skips auto-saving a transaction that arrives while it loads and then
/// replaces the store with what it loaded, so a client write racing a reload can be lost from
/// TinyBase's server store (`docs/scale-out.md`); tinystore's servers merge and do not race so.
#[test]
fn a_tinybase_and_a_tinystore_server_share_a_room_in_postgres() {
    let url = pg::database("sync", "pg_mixed");
    let dir = scratch("pg_mixed");
    let theirs = Server::start_postgres(Side::TinyBase, &url);
    let ours = Server::start_postgres(Side::Tinystore, &url);
    run_all(&dir, &[client(Side::TinyBase, theirs.url("room"), OPS_A)]);
    let b = run_all(&dir, &[client(Side::Tinystore, ours.url("room"), OPS_B)]);
    assert_both_edits(&b[0]);
    std::thread::sleep(Duration::from_millis(500));
    let c = run_all(&dir, &[client(Side::TinyBase, theirs.url("room"), "[]")]);
    assert_both_edits(&c[0]);
    assert_eq!(c[0]["content"], b[0]["content"]);
    assert_eq!(c[0]["contentHashes"], b[0]["contentHashes"]);
}

#[test]
fn an_unreachable_postgres_db_stops_serve_at_once() {
    let out = Command::new(env!("CARGO_BIN_EXE_tinystore"))
        .args([
            "serve",
            "--port",
            "0",
            "--db",
            "postgres://tiny:secret@127.0.0.1:1/nowhere",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("127.0.0.1:1/nowhere"), "{stderr}");
    assert!(
        !stderr.contains("secret"),
        "the password is shown: {stderr}"
    );
}
