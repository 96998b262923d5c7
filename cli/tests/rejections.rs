//! Finding 8 of the hardening issue: a client whose clock runs 10 minutes fast has every write
//! rejected by its peers (TinyBase's rule: stamps more than 5 minutes ahead are invalid). The
//! rejection must be reported with its cause: in the other clients' `ignoredErrors`, and in the
//! server's log when the room has a store of its own.
//!
//! Runs the real `tinystore serve` and `tinystore client` processes.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value as Json;

const TEN_MINUTES_MS: u128 = 10 * 60 * 1000;

fn tinystore() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tinystore"))
}

fn scratch(name: &str) -> std::path::PathBuf {
    common::scratch("rejections", name)
}

/// A running `tinystore serve`; killed on drop.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(extra: &[&str]) -> Server {
        let mut child = tinystore()
            .args(["serve", "--port", "0", "--no-stdin-watch"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("tinystore serve starts");
        let port = common::read_ready(&mut child).expect("the server prints PORT n");
        Server { child, port }
    }

    fn url(&self, room: &str) -> String {
        format!("ws://127.0.0.1:{}/{room}", self.port)
    }

    /// Stops the server and returns what it logged.
    fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut log = String::new();
        if let Some(mut stderr) = self.child.stderr.take() {
            let _ = stderr.read_to_string(&mut log);
        }
        log
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

/// Starts `tinystore client` on `url` running `ops`; returns the process and its output file.
fn spawn_client(dir: &Path, name: &str, url: &str, ops: &str, extra: &[&str]) -> (Child, PathBuf) {
    let ops_path = dir.join(format!("{name}.ops.json"));
    std::fs::write(&ops_path, ops).unwrap();
    let out = dir.join(format!("{name}.out.json"));
    let child = tinystore()
        .args(["client", "--url", url, "--unique-id", name, "--ops"])
        .arg(&ops_path)
        .arg("--out")
        .arg(&out)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tinystore client starts");
    (child, out)
}

fn finish(name: &str, (child, out): (Child, PathBuf)) -> Json {
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{name} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap()
}

/// A client whose clock is 10 minutes fast writes `pets/fido/species`; a normal client, started
/// while the first is still connected, writes `pets/rex/species`. Returns both outputs.
fn fast_and_normal(dir: &Path, url: &str) -> (Json, Json) {
    let fast_now = (now_ms() + TEN_MINUTES_MS).to_string();
    let fast = spawn_client(
        dir,
        "fast",
        url,
        r#"[["setCell","pets","fido","species","dog"]]"#,
        &["--fixed-now", &fast_now, "--wait-ms", "3000"],
    );
    std::thread::sleep(Duration::from_millis(500));
    let normal = spawn_client(
        dir,
        "normal",
        url,
        r#"[["setCell","pets","rex","species","cat"]]"#,
        &["--wait-ms", "1500"],
    );
    let normal = finish("normal client", normal);
    let fast = finish("fast client", fast);
    (fast, normal)
}

fn names_future_hlc(error: &str) -> bool {
    error.contains("rejected") && error.contains("more than 5 minutes ahead of this clock")
}

#[test]
fn finding_8_fast_clock_client_is_reported_in_ignored_errors() {
    let dir = scratch("relay");
    let server = Server::start(&["--relay-only"]);
    let (fast, normal) = fast_and_normal(&dir, &server.url("room"));
    server.stop();

    let errors: Vec<&str> = normal["ignoredErrors"]
        .as_array()
        .expect("ignoredErrors is an array")
        .iter()
        .filter_map(Json::as_str)
        .collect();
    assert!(
        errors.iter().any(|e| names_future_hlc(e)),
        "the normal client's ignoredErrors name the cause: {normal:#}"
    );
    let pets = &normal["content"][0]["pets"];
    assert!(
        pets.get("fido").is_none(),
        "rejected cell applied: {normal:#}"
    );
    assert_eq!(pets["rex"]["species"], "cat", "{normal:#}");
    // The fast client still has its own write.
    assert_eq!(
        fast["content"][0]["pets"]["fido"]["species"], "dog",
        "{fast:#}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn finding_8_room_store_logs_rejected_changes_at_warn() {
    let dir = scratch("room");
    let db = dir.join("rooms.sqlite");
    let server = Server::start(&["--db", db.to_str().unwrap()]);
    let (_, normal) = fast_and_normal(&dir, &server.url("room"));
    let log = server.stop();

    assert!(
        log.lines()
            .any(|l| l.contains("WARN") && names_future_hlc(l)),
        "the server warns about the rejected changes: {log}"
    );
    assert!(
        normal["content"][0]["pets"].get("fido").is_none(),
        "{normal:#}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
