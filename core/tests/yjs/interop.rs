//! tinystore's Yjs persister beside TinyBase 10.0.1's YjsPersister and Yjs 13.6, run by node
//! from the reference kit (`tests/interop/yjs/tb-yjs.mjs`, copied into target/kit by
//! `make kit`): documents written by either side load on the other with equal content, and
//! concurrent edits on both sides of one document merge to the same content on both.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{Value as Json, json};
use tinystore_core::persist::yjs::YjsDoc;
use tinystore_core::{Store, ops};
use yrs::{Map, MapPrelim, Transact};

use super::{IDS, Rng, fill, normalized, persister, random_cell, wait_until};

/// Runs `tb-yjs.mjs` with `args`; its stdout lines. Fails (never skips) without node or the kit.
fn tinybase(args: &[&Path]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    let modules = std::env::var_os("TINYSTORE_NODE_MODULES")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/kit/node_modules"));
    let script = modules.parent().unwrap().join("tb-yjs.mjs");
    assert!(
        script.is_file() && modules.join("tinybase").is_dir() && modules.join("yjs").is_dir(),
        "TinyBase's YjsPersister and Yjs are not installed beside {}: run `make kit`",
        modules.display()
    );
    let out = Command::new("node")
        .arg(&script)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("node cannot run ({e}): install Node.js 20+ and run `make kit`")
        });
    assert!(
        out.status.success(),
        "tb-yjs.mjs {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// A fresh directory for one test's files.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tinystore-yjs-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn stores() -> Vec<Store> {
    let mut list: Vec<Store> = (1..=6)
        .map(|seed| {
            let store = Store::new();
            fill(&store, seed * 31);
            store
        })
        .collect();
    list.push(Store::new());
    list
}

#[test]
fn documents_load_on_the_other_side() {
    let dir = scratch("both-ways");
    let sources = stores();

    // TinyBase saves, tinystore loads.
    let mut args = Vec::new();
    for (i, store) in sources.iter().enumerate() {
        let json = dir.join(format!("content{i}.json"));
        std::fs::write(&json, store.get_json()).unwrap();
        args.push(json);
        args.push(dir.join(format!("tinybase{i}.bin")));
    }
    let refs: Vec<&Path> = args.iter().map(PathBuf::as_path).collect();
    tinybase(&[&[Path::new("save")], &refs[..]].concat());
    for (i, source) in sources.iter().enumerate() {
        let doc = YjsDoc::new();
        doc.apply_update(&std::fs::read(dir.join(format!("tinybase{i}.bin"))).unwrap())
            .unwrap();
        let loaded = Store::new();
        loaded.set_value("stale", true);
        persister(&loaded, &doc).load(None).unwrap();
        assert_eq!(
            normalized(&loaded.get_json()),
            normalized(&source.get_json()),
            "store {i}"
        );
    }

    // tinystore saves, TinyBase loads; and a tinystore doc of the wrong shape fails on both.
    let mut files = Vec::new();
    for (i, source) in sources.iter().enumerate() {
        let doc = YjsDoc::new();
        persister(source, &doc).save().unwrap();
        let file = dir.join(format!("tinystore{i}.bin"));
        std::fs::write(&file, doc.encode_update()).unwrap();
        files.push(file);
    }
    let bad = YjsDoc::new();
    let root = bad.doc().get_or_insert_map("tinybase");
    {
        let mut txn = bad.doc().transact_mut();
        root.insert(&mut txn, "t", "not a map");
        root.insert(&mut txn, "v", MapPrelim::default());
    }
    let bad_file = dir.join("bad.bin");
    std::fs::write(&bad_file, bad.encode_update()).unwrap();
    files.push(bad_file);
    let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let lines = tinybase(&[&[Path::new("load")], &refs[..]].concat());
    assert_eq!(lines.len(), sources.len() + 1);
    for (i, (line, source)) in lines.iter().zip(&sources).enumerate() {
        assert_eq!(
            normalized(line),
            normalized(&source.get_json()),
            "store {i}"
        );
    }
    assert_eq!(
        normalized(&lines[sources.len()]),
        json!({"error": "tinybase:1"})
    );
    assert!(persister(&Store::new(), &bad).load(None).is_err());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Edits of a shared state for one side: cells only this side changes, cells both change
/// (`shared`), a row deleted here while the other side edits it, a new row and table of its
/// own, values.
fn edits(state: &Store, rng: &mut Rng, side: &str, shared: &[(String, String, String)]) -> Json {
    let mut list = Vec::new();
    let tables = state.get_table_ids();
    for table in &tables {
        for row in state.get_row_ids(table) {
            for cell in state.get_cell_ids(table, &row) {
                if rng.below(3) == 0 {
                    list.push(json!([
                        "setCell",
                        table,
                        row,
                        cell,
                        random_cell(rng).to_json()
                    ]));
                } else if rng.below(8) == 0 {
                    list.push(json!(["delCell", table, row, cell]));
                }
            }
        }
    }
    for (table, row, cell) in shared {
        list.push(json!(["setCell", table, row, cell, format!("by {side}")]));
    }
    if side == "tinystore" {
        if let Some((table, row, _)) = shared.first() {
            list.push(json!(["delRow", table, row]));
        }
    }
    let new_table = format!("{side} table");
    list.push(json!([
        "setCell",
        new_table,
        "r",
        "c",
        random_cell(rng).to_json()
    ]));
    if let Some(table) = tables.first() {
        list.push(json!([
            "setCell",
            table,
            format!("{side} row"),
            rng.pick(IDS),
            1
        ]));
    }
    list.push(json!([
        "setValue",
        format!("{side} value"),
        random_cell(rng).to_json()
    ]));
    list.push(json!(["delValue", rng.pick(IDS)]));
    Json::Array(list)
}

/// Every (table, row, cell) of the store, in order.
fn cells(store: &Store) -> Vec<(String, String, String)> {
    let mut list = Vec::new();
    for table in store.get_table_ids() {
        for row in store.get_row_ids(&table) {
            for cell in store.get_cell_ids(&table, &row) {
                list.push((table.clone(), row.clone(), cell));
            }
        }
    }
    list
}

#[test]
fn concurrent_edits_merge_alike_on_both_sides() {
    let dir = scratch("concurrent");
    for seed in 1..=3u64 {
        // A shared state, written by tinystore.
        let store = Store::new();
        fill(&store, seed * 7 + 1);
        fill(&store, seed * 7 + 2);
        let doc = YjsDoc::new();
        let p = persister(&store, &doc);
        p.start_auto_persisting(None, Duration::from_secs(3600), true)
            .unwrap();
        let state = dir.join(format!("state{seed}.bin"));
        std::fs::write(&state, doc.encode_update()).unwrap();
        let updates = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = updates.clone();
        doc.add_update_listener(move |u| sink.lock().unwrap().push(u.to_vec()));

        // Both sides edit it without seeing the other's edits.
        let mut rng = Rng::new(seed);
        let all = cells(&store);
        let shared: Vec<_> = all.iter().step_by(3).take(3).cloned().collect();
        let ours = edits(&store, &mut rng, "tinystore", &shared);
        let theirs = edits(&store, &mut rng, "tinybase", &shared);
        for op in ours.as_array().unwrap() {
            ops::apply_ops(&store, &json!([op])).unwrap();
        }
        let mut args = vec![PathBuf::from("edit"), state.clone()];
        let ops_file = dir.join(format!("ops{seed}.json"));
        std::fs::write(&ops_file, theirs.to_string()).unwrap();
        let out = dir.join(format!("tinybase{seed}.bin"));
        args.push(ops_file);
        args.push(out.clone());
        let ours_files: Vec<PathBuf> = updates
            .lock()
            .unwrap()
            .iter()
            .enumerate()
            .map(|(i, u)| {
                let file = dir.join(format!("tinystore{seed}-{i}.bin"));
                std::fs::write(&file, u).unwrap();
                file
            })
            .collect();
        assert!(!ours_files.is_empty());
        args.extend(ours_files.iter().cloned());
        let refs: Vec<&Path> = args.iter().map(PathBuf::as_path).collect();
        let lines = tinybase(&refs);
        let result: Json = serde_json::from_str(&lines[0]).unwrap();
        let loaded = normalized(&result["loaded"].to_string());
        // TinyBase's auto-load took tinystore's updates into its store as a fresh load reads
        // the merged doc.
        assert_eq!(
            normalized(&result["auto"].to_string()),
            loaded,
            "seed {seed}"
        );

        // tinystore takes TinyBase's update: its auto-load ends with the same content.
        doc.apply_update(&std::fs::read(&out).unwrap()).unwrap();
        wait_until("tinystore to load TinyBase's edits", || {
            normalized(&store.get_json()) == loaded
        });
        // A third replica merging everything agrees, and each side's own edits are there.
        let third = YjsDoc::new();
        for file in [&state, &out].into_iter().chain(&ours_files) {
            third.apply_update(&std::fs::read(file).unwrap()).unwrap();
        }
        let merged = Store::new();
        persister(&merged, &third).load(None).unwrap();
        assert_eq!(normalized(&merged.get_json()), loaded, "seed {seed}");
        for side in ["tinystore", "tinybase"] {
            assert!(
                merged.has_table(&format!("{side} table")),
                "seed {seed}: {side}"
            );
            assert!(
                merged.get_value(&format!("{side} value")).is_some(),
                "seed {seed}: {side}"
            );
        }
        p.destroy();
    }
    let _ = std::fs::remove_dir_all(&dir);
}
