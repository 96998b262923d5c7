//! Differential test: `tinystore apply` against TinyBase 10.0.1.
//!
//! Runs `node tests/interop/apply/apply_diff.mjs` (from the repository root) on the `tinystore`
//! binary built for this test. That harness generates hundreds of random op scripts — every
//! Store write/delete call, transactions, awkward ids (`""`, `"__proto__"`, integer-like ids that
//! JS objects order first, emoji) and awkward values (escapes, `-0`, `1e21`, `5e-324`, encoded
//! object/array cells) — plus, for half of the cases, MergeableStore files made by TinyBase to be
//! merged in. Each script is applied once by TinyBase (`tinybase_apply.mjs`, the real npm package)
//! and once by `tinystore apply`; the two file-persister outputs must be byte-identical. It also
//! checks that bad input (a `sleep` op, malformed JSON, an unknown op) makes `tinystore apply`
//! exit non-zero without writing an output.
//!
//! So a pass proves that, for those scripts, tinystore's MergeableStore reproduces TinyBase's
//! content, HLC stamps, hashes, tombstones, key order and JSON text exactly.
//!
//! Needs Node.js and the reference kit (`make kit`, which installs tinybase into
//! `target/kit/node_modules`; `TINYSTORE_NODE_MODULES` points elsewhere). If either is missing
//! the test fails rather than skips. `TINYSTORE_APPLY_CASES` sets the number of random cases
//! (default 300) and `TINYSTORE_APPLY_SEED` replays a seed printed by an earlier run.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("cli/ has a parent directory")
        .to_path_buf()
}

#[test]
fn tinystore_apply_matches_tinybase_byte_for_byte() {
    let root = repo_root();

    let node = Command::new("node").arg("--version").output();
    match node {
        Ok(output) if output.status.success() => {}
        _ => panic!(
            "`node` is not available on PATH. This test compares `tinystore apply` with TinyBase \
             and needs Node.js 20+ plus the reference kit: install Node, then run `make kit`."
        ),
    }

    let node_modules = std::env::var_os("TINYSTORE_NODE_MODULES")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target").join("kit").join("node_modules"));
    let tinybase = node_modules.join("tinybase").join("package.json");
    assert!(
        tinybase.is_file(),
        "TinyBase is not installed: {} is missing. Run `make kit` (it installs tinybase 10.0.1 \
         into target/kit/node_modules), or set TINYSTORE_NODE_MODULES to a node_modules folder \
         that has it.",
        tinybase.display()
    );

    let cases = std::env::var("TINYSTORE_APPLY_CASES").unwrap_or_else(|_| "300".to_string());
    let mut command = Command::new("node");
    command
        .current_dir(&root)
        .arg(root.join("tests/interop/apply/apply_diff.mjs"))
        .arg("--tinystore")
        .arg(env!("CARGO_BIN_EXE_tinystore"))
        .arg("--cases")
        .arg(&cases)
        .env("TINYSTORE_NODE_MODULES", &node_modules);
    if let Ok(seed) = std::env::var("TINYSTORE_APPLY_SEED") {
        command.arg("--seed").arg(seed);
    }

    let output = command.output().expect("failed to start node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    assert!(
        output.status.success(),
        "apply_diff.mjs failed ({}): tinystore apply differs from TinyBase, or the harness could \
         not run; see the output above (each failing case prints a replay command and keeps its \
         files).",
        output.status
    );
}
