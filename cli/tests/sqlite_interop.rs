//! SQLite files cross between tinystore and TinyBase both ways: the kit's `peer.mjs` (real
//! TinyBase 10.0.1 on better-sqlite3) reads every file `tinystore write-sqlite` writes to exactly
//! what it reads from its own, and tinystore reads every file `peer.mjs write-sqlite` writes to
//! the same JSON `peer.mjs` prints.
//!
//! Needs Node.js and the kit installed by `make kit` (target/kit: tinybase, better-sqlite3 built,
//! peer.mjs); fails (never skips) with a message saying so when they are missing.

mod common;

use std::path::PathBuf;

use common::peer_script;
use std::process::{Command, Output};

fn kit_fixtures() -> PathBuf {
    common::kit().join("fixtures/sqlite")
}

fn run(program: &str, args: &[&str]) -> Output {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("{program} cannot run ({e}); install Node.js 20+ and run `make kit`")
        });
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn tinystore(args: &[&str]) -> Output {
    run(env!("CARGO_BIN_EXE_tinystore"), args)
}

fn peer(args: &[&str]) -> Output {
    let script = peer_script(true);
    let mut all = vec![script.to_str().unwrap()];
    all.extend(args);
    run("node", &all)
}

const CASES: [(&str, &[&str]); 3] = [
    ("store-json", &["--mode", "json"]),
    ("store-tabular", &["--mode", "tabular"]),
    (
        "mergeable-json",
        &[
            "--mode",
            "json",
            "--store",
            "mergeable",
            "--unique-id",
            "fixture-client",
            "--fixed-now",
            "1700000000000",
        ],
    ),
];

#[test]
fn tinybase_reads_tinystore_files_and_back() {
    let dir = std::env::temp_dir().join(format!("tinystore-sqlite-interop-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let input = kit_fixtures().join("input-content.json");
    let input = input.to_str().unwrap();
    for (name, args) in CASES {
        let mode = if name.contains("tabular") {
            "tabular"
        } else {
            "json"
        };
        let expected =
            std::fs::read_to_string(kit_fixtures().join(format!("{name}.loaded.json"))).unwrap();

        let ours = dir.join(format!("{name}.tinystore.sqlite"));
        let mut write = vec![
            "write-sqlite",
            "--db",
            ours.to_str().unwrap(),
            "--in",
            input,
        ];
        write.extend(args);
        tinystore(&write);
        let seen_by_tinybase = peer(&[
            "dump-sqlite",
            "--db",
            ours.to_str().unwrap(),
            "--mode",
            mode,
        ]);
        assert_eq!(
            String::from_utf8(seen_by_tinybase.stdout).unwrap(),
            expected,
            "TinyBase reading tinystore's {name}"
        );

        let theirs = dir.join(format!("{name}.tinybase.sqlite"));
        let mut write = vec![
            "write-sqlite",
            "--db",
            theirs.to_str().unwrap(),
            "--in",
            input,
        ];
        write.extend(args);
        peer(&write);
        let seen_by_tinystore = tinystore(&[
            "dump-sqlite",
            "--db",
            theirs.to_str().unwrap(),
            "--mode",
            mode,
        ]);
        assert_eq!(
            String::from_utf8(seen_by_tinystore.stdout).unwrap(),
            expected,
            "tinystore reading TinyBase's {name}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
