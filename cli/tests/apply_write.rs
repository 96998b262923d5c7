//! `tinystore apply` loads and writes through the core (`persist::apply_document`,
//! `persist::file::write_atomically`), not code of its own: the output replaces an existing file
//! whole, keeps its permissions, writes through a symlink to its target (the core's atomic
//! write resolves it first), leaves no temporary file, and a failed write leaves the old file.

mod common;

use std::path::Path;
use std::process::{Command, Output};

const T0: &str = "1700000000000";

fn apply(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tinystore"))
        .arg("apply")
        .args(args)
        .output()
        .expect("tinystore runs")
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn apply_replaces_its_output_atomically_through_the_core() {
    let dir = common::scratch("apply-write", "atomic");
    let ops = dir.join("ops.json");
    std::fs::write(
        &ops,
        r#"[["setCell","pets","fido","legs",4],["setValue","open",true]]"#,
    )
    .unwrap();
    let real = dir.join("real.json");
    let link = dir.join("out.json");
    // An old, longer document: a write that did not replace the file whole would leave its tail.
    std::fs::write(&real, format!("[{}]", " ".repeat(10_000))).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::os::unix::fs::symlink("real.json", &link).unwrap();
    }
    #[cfg(not(unix))]
    std::fs::copy(&real, &link).unwrap();

    let out = apply(&[
        "--ops",
        path(&ops),
        "--unique-id",
        "a",
        "--fixed-now",
        T0,
        "--out",
        path(&link),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The whole new document, loadable by the core's file persister.
    let written = std::fs::read_to_string(&link).unwrap();
    let store = tinystore_core::MergeableStore::new(None);
    tinystore_core::persist::apply_document(
        &tinystore_core::persist::Persistable::target(&store),
        &written,
    )
    .unwrap();
    assert_eq!(
        store.get_json(),
        r#"[{"pets":{"fido":{"legs":4}}},{"open":true}]"#
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // The symlink still points at the file it named, which now holds the document with
        // the permissions it had: `write_atomically`, not a plain write-and-rename.
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read_to_string(&real).unwrap(), written);
        let mode = std::fs::metadata(&real).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // No temporary file is left beside it.
    assert_eq!(
        files_in(&dir),
        ["ops.json", "out.json", "real.json"].map(String::from)
    );

    // A merge input the core cannot read fails the command before anything is written.
    let bad = dir.join("bad.json");
    std::fs::write(&bad, "[[{\"t\":").unwrap();
    let out = apply(&[
        "--ops",
        path(&ops),
        "--merge",
        path(&bad),
        "--out",
        path(&link),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unreadable stored content"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&real).unwrap(), written);

    // A write that cannot happen fails cleanly, leaving no temporary file.
    let missing = dir.join("missing").join("out.json");
    let out = apply(&["--ops", path(&ops), "--out", path(&missing)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!dir.join("missing").exists());
    let _ = std::fs::remove_dir_all(&dir);
}
