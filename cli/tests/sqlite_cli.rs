//! `tinystore dump-sqlite` / `write-sqlite` behave as the kit's `peer.mjs` commands: on
//! TinyBase's own SQLite fixtures the dump is byte-identical to the `*.loaded.json` TinyBase
//! printed, files tinystore writes dump to the same, and the exit codes and refusals match.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn kit() -> PathBuf {
    std::env::var("TINYSTORE_KIT").map_or_else(
        |_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/kit"),
        PathBuf::from,
    )
}

fn fixtures() -> PathBuf {
    kit().join("fixtures/sqlite")
}

fn tinystore(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tinystore"))
        .args(args)
        .output()
        .expect("tinystore runs")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tinystore-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn dumps_tinybase_fixtures_byte_for_byte() {
    for (file, mode) in [
        ("store-json", "json"),
        ("mergeable-json", "json"),
        ("store-tabular", "tabular"),
    ] {
        let db = fixtures().join(format!("{file}.sqlite"));
        let out = tinystore(&["dump-sqlite", "--db", path(&db), "--mode", mode]);
        assert!(
            out.status.success(),
            "{file}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let expected =
            std::fs::read_to_string(fixtures().join(format!("{file}.loaded.json"))).unwrap();
        assert_eq!(String::from_utf8(out.stdout).unwrap(), expected, "{file}");
    }
}

#[test]
fn written_files_dump_as_tinybase_wrote_them() {
    let dir = scratch("write");
    let input = fixtures().join("input-content.json");
    for (file, args) in [
        ("store-json", vec!["--mode", "json"]),
        ("store-tabular", vec!["--mode=tabular"]),
        (
            "mergeable-json",
            vec![
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
    ] {
        let db = dir.join(format!("{file}.sqlite"));
        let mut write = vec!["write-sqlite", "--db", path(&db), "--in", path(&input)];
        write.extend(&args);
        let out = tinystore(&write);
        assert!(
            out.status.success(),
            "{file}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mode = if file.contains("tabular") {
            "tabular"
        } else {
            "json"
        };
        let dumped = dir.join(format!("{file}.json"));
        let out = tinystore(&[
            "dump-sqlite",
            "--db",
            path(&db),
            "--mode",
            mode,
            "--out",
            path(&dumped),
        ]);
        assert!(out.status.success());
        assert_eq!(
            std::fs::read_to_string(&dumped).unwrap(),
            std::fs::read_to_string(fixtures().join(format!("{file}.loaded.json"))).unwrap(),
            "{file}"
        );
    }
    // A dump (with mergeableContent) written back keeps its stamps.
    let again = dir.join("again.sqlite");
    let dump = dir.join("mergeable-json.json");
    assert!(
        tinystore(&["write-sqlite", "--db", path(&again), "--in", path(&dump)])
            .status
            .success()
    );
    let out = tinystore(&["dump-sqlite", "--db", path(&again)]);
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        std::fs::read_to_string(&dump).unwrap()
    );
    // --content-only prints just [tables, values].
    let out = tinystore(&["dump-sqlite", "--db", path(&again), "--content-only"]);
    let content: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(content[1]["name"], "shop");
}

#[test]
fn refusals_and_exit_codes_match_the_kit() {
    let dir = scratch("refuse");
    let input = fixtures().join("input-content.json");
    let db = dir.join("x.sqlite");
    assert!(
        tinystore(&["write-sqlite", "--db", path(&db), "--in", path(&input)])
            .status
            .success()
    );
    let before = std::fs::read(&db).unwrap();
    // An existing file needs --force (usage error, 2), and is kept.
    let out = tinystore(&["write-sqlite", "--db", path(&db), "--in", path(&input)]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(std::fs::read(&db).unwrap(), before);
    assert!(
        tinystore(&[
            "write-sqlite",
            "--db",
            path(&db),
            "--in",
            path(&input),
            "--force"
        ])
        .status
        .success()
    );
    // A MergeableStore in tabular mode fails (1) and leaves no file, as TinyBase's tinybase:0.
    let tab = dir.join("tab.sqlite");
    let out = tinystore(&[
        "write-sqlite",
        "--db",
        path(&tab),
        "--in",
        path(&input),
        "--mode",
        "tabular",
        "--store",
        "mergeable",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!tab.exists());
    // Missing or non-existent --db, a bad --mode: usage errors.
    assert_eq!(tinystore(&["dump-sqlite"]).status.code(), Some(2));
    assert_eq!(
        tinystore(&["dump-sqlite", "--db", path(&dir.join("none.sqlite"))])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(tinystore(&["write-sqlite"]).status.code(), Some(2));
    assert_eq!(
        tinystore(&["dump-sqlite", "--db", path(&db), "--mode", "csv"])
            .status
            .code(),
        Some(2)
    );
    // A file that is not a database: an error, not a panic, and the file is untouched.
    let junk = dir.join("junk.sqlite");
    std::fs::write(&junk, b"not a database, definitely not one at all").unwrap();
    let out = tinystore(&["dump-sqlite", "--db", path(&junk)]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read(&junk).unwrap(),
        b"not a database, definitely not one at all"
    );
}
