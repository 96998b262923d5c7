//! What the CLI's interop tests share: where the repository and the installed kit are.

#![allow(dead_code)] // each test binary uses a part

use std::path::{Path, PathBuf};

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The reference kit (`../shared/kit`, or `TINYSTORE_KIT`).
pub fn kit() -> PathBuf {
    std::env::var("TINYSTORE_KIT").map_or_else(|_| root().join("../shared/kit"), PathBuf::from)
}

/// `peer.mjs` as `make kit` installs it beside the kit's node_modules (`target/kit`, or
/// `TINYSTORE_NODE_MODULES`'s parent). Fails, never skips, when the kit is not installed;
/// `need_sqlite` also requires the built better-sqlite3 addon.
pub fn peer_script(need_sqlite: bool) -> PathBuf {
    let node_modules = std::env::var_os("TINYSTORE_NODE_MODULES")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/kit/node_modules"));
    let peer = node_modules.parent().unwrap().join("peer.mjs");
    let addon = node_modules.join("better-sqlite3/build/Release/better_sqlite3.node");
    assert!(
        peer.is_file()
            && node_modules.join("tinybase").is_dir()
            && (!need_sqlite || addon.is_file()),
        "the reference kit is not installed ({}): run `make kit`",
        node_modules.display()
    );
    peer
}

/// A fresh, empty scratch folder for one test of one suite.
pub fn scratch(suite: &str, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tinystore-{suite}-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Reads a starting server's `PORT n` and `READY` lines (the start-up protocol of
/// `tinystore serve` and `peer.mjs serve`) from its piped stdout; `None` when it printed no
/// port before `READY` or before it ended.
pub fn read_ready(child: &mut std::process::Child) -> Option<u16> {
    use std::io::BufRead;
    let stdout = child.stdout.take()?;
    let mut port = None;
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.ok()?;
        if let Some(p) = line.strip_prefix("PORT ") {
            port = p.trim().parse().ok();
        }
        if line == "READY" {
            return port;
        }
    }
    None
}
