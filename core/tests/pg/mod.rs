//! What the PostgreSQL suites (and `tinystore bench W12`) share: a real PostgreSQL server (`tests/postgres/pg.sh` starts a
//! throwaway cluster under `target/pg`, installing PostgreSQL when it is missing) and a fresh
//! database per test. `TINYSTORE_PG_URL` (`postgres://user@host:port`) points the suites at
//! another server instead. When no server can be had, the tests fail and say why.

#![allow(dead_code)] // each test binary uses a part

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn pg_sh(args: &[&str]) -> String {
    let script = root().join("tests/postgres/pg.sh");
    let out = Command::new("bash")
        .arg(&script)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    assert!(
        out.status.success(),
        "PostgreSQL could not be started for the tests ({} {args:?} failed):\n{}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// `postgres://user@host:port` of the server the suites use.
pub fn server() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| match std::env::var("TINYSTORE_PG_URL") {
        Ok(url) if !url.is_empty() => url.trim_end_matches('/').to_string(),
        _ => pg_sh(&["start"]),
    })
}

/// Runs SQL on the server's `postgres` database with psql; panics with its error.
pub fn psql(database_url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args([
            database_url,
            "-X",
            "-q",
            "-t",
            "-A",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
        ])
        .output()
        .unwrap_or_else(|e| panic!("psql cannot run ({e}): install PostgreSQL's client"));
    assert!(
        out.status.success(),
        "psql {sql:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim_end().to_string()
}

/// A new, empty database for one test (`<suite>_<name>_<pid>`), and its URL.
pub fn database(suite: &str, name: &str) -> String {
    let db = format!("{suite}_{name}_{}", std::process::id()).to_lowercase();
    let admin = format!("{}/postgres", server());
    psql(
        &admin,
        &format!("DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)"),
    );
    psql(&admin, &format!("CREATE DATABASE \"{db}\""));
    format!("{}/{db}", server())
}

/// Runs TinyBase's PostgresPersister (`tests/interop/postgres/tb-postgres.mjs`, copied beside
/// the kit's node_modules by `make kit`) and returns its stdout; panics with its stderr.
pub fn tinybase(args: &[&str]) -> String {
    let child = tinybase_spawn(args);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "tb-postgres.mjs {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// Starts TinyBase's PostgresPersister CLI with piped stdout/stderr.
pub fn tinybase_spawn(args: &[&str]) -> std::process::Child {
    let modules = std::env::var_os("TINYSTORE_NODE_MODULES")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/kit/node_modules"));
    let script = modules.parent().unwrap().join("tb-postgres.mjs");
    assert!(
        script.is_file() && modules.join("tinybase").is_dir() && modules.join("postgres").is_dir(),
        "TinyBase's PostgreSQL driver is not installed beside {}: run `make kit`",
        modules.display()
    );
    Command::new("node")
        .arg(&script)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("node cannot run ({e}): install Node.js 20+"))
}

/// Restarts the suites' cluster the way a crash would (`pg_ctl stop -m immediate`, then start
/// on the same port). Only the suites' own cluster can be restarted.
pub fn restart() {
    assert!(
        std::env::var("TINYSTORE_PG_URL").map_or(true, |u| u.is_empty()),
        "restarting PostgreSQL needs the suites' own cluster: unset TINYSTORE_PG_URL"
    );
    server();
    pg_sh(&["restart"]);
}
