//! Interop with TinyBase 10.0.1's own AutomergePersister on @automerge/automerge 3
//! (`tests/interop/automerge/tb-automerge.mjs`, run by Node.js beside the kit's node_modules).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::*;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Runs `tb-automerge.mjs` (TinyBase 10.0.1 and @automerge/automerge-repo from the kit) and
/// returns its stdout; fails with its stderr.
fn tinybase<S: AsRef<OsStr>>(args: &[S]) -> String {
    let modules = std::env::var_os("TINYSTORE_NODE_MODULES")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/kit/node_modules"));
    let script = modules.parent().unwrap().join("tb-automerge.mjs");
    assert!(
        script.is_file()
            && modules.join("tinybase").is_dir()
            && modules.join("@automerge/automerge-repo").is_dir(),
        "TinyBase and Automerge are not installed beside {}: run `make kit`",
        modules.display()
    );
    let out = Command::new("node")
        .arg(&script)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("node cannot run ({e}): install Node.js 20+"));
    assert!(
        out.status.success(),
        "tb-automerge.mjs failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn scratch(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("tinystore-automerge-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Stores whose numbers JavaScript holds exactly after a save: integers within ±2^53.
fn interop_stores() -> Vec<Store> {
    (100..104).map(random_store).collect()
}

#[test]
fn tinybase_loads_what_tinystore_saves() {
    let dir = scratch("to-js");
    let mut stores = interop_stores();
    // Integers beyond 2^53 are written as F64s so that JavaScript reads numbers back.
    let big = Store::new();
    big.set_cell("t", "r", "big", 1e20)
        .set_cell("t", "r", "huge", 2f64.powi(60))
        .set_cell("t", "r", "max", 9_007_199_254_740_991.0)
        .set_cell("t", "r", "below", 9_007_199_254_740_990.0)
        .set_value("min", -9_007_199_254_740_991.0);
    stores.push(big);
    let mut files = Vec::new();
    for (i, store) in stores.iter().enumerate() {
        let doc = AutomergeDoc::new();
        let p = persister(store, &doc);
        p.save().unwrap();
        // Half of them through auto-save's changed paths too.
        if i % 2 == 0 {
            p.start_auto_save().unwrap();
            store.set_cell("extra", "row", "c", "added");
            store.set_value("c", 1);
        }
        let path = dir.join(format!("{i}.bin"));
        std::fs::write(&path, doc.encode_update()).unwrap();
        files.push(path);
    }
    let out = tinybase(
        &[
            &[OsStr::new("load")],
            &files.iter().map(|p| p.as_os_str()).collect::<Vec<_>>()[..],
        ]
        .concat(),
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), stores.len());
    for (i, (line, store)) in lines.iter().zip(&stores).enumerate() {
        assert_eq!(parse(line), parse(&store.get_json()), "store {i}");
    }

    // JavaScript reads every cell as a primitive TinyBase takes, never an ImmutableString,
    // a BigInt or a Counter.
    let types = parse(&tinybase(&[OsStr::new("types"), files[0].as_os_str()]));
    let mut kinds = std::collections::BTreeSet::new();
    for table in types["t"].as_object().unwrap().values() {
        for row in table.as_object().unwrap().values() {
            for kind in row.as_object().unwrap().values() {
                kinds.insert(kind.as_str().unwrap().to_string());
            }
        }
    }
    for kind in types["v"].as_object().unwrap().values() {
        kinds.insert(kind.as_str().unwrap().to_string());
    }
    assert!(
        kinds
            .iter()
            .all(|k| ["string", "number", "boolean", "null"].contains(&k.as_str())),
        "{kinds:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn tinystore_loads_what_tinybase_saves() {
    let dir = scratch("from-js");
    let stores = interop_stores();
    let mut args = vec![OsStr::new("save").to_os_string()];
    for (i, store) in stores.iter().enumerate() {
        let json = dir.join(format!("{i}.json"));
        std::fs::write(&json, store.get_json()).unwrap();
        args.push(json.into_os_string());
        args.push(dir.join(format!("{i}.bin")).into_os_string());
    }
    tinybase(&args);
    for (i, store) in stores.iter().enumerate() {
        let bytes = std::fs::read(dir.join(format!("{i}.bin"))).unwrap();
        let doc = AutomergeDoc::from_doc(AutoCommit::load(&bytes).unwrap());
        let loaded = Store::new();
        persister(&loaded, &doc).load(None).unwrap();
        assert_eq!(
            parse(&loaded.get_json()),
            parse(&store.get_json()),
            "store {i}"
        );

        if i == 0 {
            // What @automerge/automerge 3 makes of TinyBase's values: strings (and encoded
            // objects and arrays) are Text objects, integers Ints, other numbers F64s.
            doc.with_doc(|d| {
                let tables = map_id(d, &["tinybase", "t"]);
                for table in d.keys(&tables).collect::<Vec<_>>() {
                    let table = map_id(d, &["tinybase", "t", &table]);
                    for row in d.keys(&table).collect::<Vec<_>>() {
                        let (_, row) = d.get(&table, row.as_str()).unwrap().unwrap();
                        for cell in d.keys(&row).collect::<Vec<_>>() {
                            match d.get(&row, cell.as_str()).unwrap().unwrap().0 {
                                Value::Object(t) => assert_eq!(t, ObjType::Text),
                                Value::Scalar(s) => assert!(
                                    matches!(
                                        s.as_ref(),
                                        ScalarValue::Int(_)
                                            | ScalarValue::F64(_)
                                            | ScalarValue::Boolean(_)
                                            | ScalarValue::Null
                                    ),
                                    "{s:?}"
                                ),
                            }
                        }
                    }
                }
            });
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Store ops as TinyBase's method calls, for both sides.
fn random_ops(seed: u64, base: &Store, mark: &str) -> Vec<Json> {
    let mut rng = Rng(seed | 1);
    let tables = base.get_table_ids();
    let mut ops = Vec::new();
    for _ in 0..12 {
        let table = rng.pick(&tables).clone();
        let rows = base.get_row_ids(&table);
        let row = if rng.below(3) == 0 {
            (*rng.pick(IDS)).to_string()
        } else {
            rng.pick(&rows).clone()
        };
        ops.push(match rng.below(6) {
            0 => json!(["delCell", table, row, rng.pick(IDS)]),
            1 => json!(["delRow", table, row]),
            2 => json!(["setValue", rng.pick(IDS), random_cell(&mut rng).to_json()]),
            _ => json!([
                "setCell",
                table,
                row,
                rng.pick(IDS),
                random_cell(&mut rng).to_json()
            ]),
        });
    }
    ops.push(json!(["setValue", mark, 1]));
    ops
}

fn apply_ops(store: &Store, ops: &[Json]) {
    for op in ops {
        let a = op.as_array().unwrap();
        let s = |i: usize| a[i].as_str().unwrap();
        match s(0) {
            "delCell" => drop(store.del_cell(s(1), s(2), s(3), false)),
            "delRow" => drop(store.del_row(s(1), s(2))),
            "setValue" => drop(store.set_value(s(1), Cell::from_json(a[2].clone()))),
            "setCell" => drop(store.set_cell(s(1), s(2), s(3), Cell::from_json(a[4].clone()))),
            other => panic!("{other}"),
        }
    }
}

#[test]
fn concurrent_edits_on_both_sides_merge_to_the_same_store() {
    let dir = scratch("merge");
    for seed in [7_u64, 8] {
        let store = random_store(seed);
        let doc = AutomergeDoc::new();
        let p = persister(&store, &doc);
        p.start_auto_persisting(None, NO_POLL, true).unwrap();
        let base = dir.join(format!("{seed}-base.bin"));
        std::fs::write(&base, doc.encode_update()).unwrap();

        // TinyBase edits its copy ...
        let js_ops = dir.join(format!("{seed}-ops.json"));
        let ops = random_ops(seed * 31, &store, "js_mark");
        std::fs::write(&js_ops, Json::Array(ops).to_string()).unwrap();
        let js_doc = dir.join(format!("{seed}-js.bin"));
        tinybase(&[
            OsStr::new("edit"),
            base.as_os_str(),
            js_ops.as_os_str(),
            js_doc.as_os_str(),
        ]);

        // ... while tinystore edits its own, its update listener collecting the changes; then
        // each merges the other's: TinyBase's whole document into tinystore's, and tinystore's
        // whole document (seed 7) or its listener's incremental changes (seed 8) into TinyBase's.
        let heard = Arc::new(Mutex::new(Vec::new()));
        let h = heard.clone();
        doc.add_update_listener(move |bytes| h.lock().unwrap().extend_from_slice(bytes));
        apply_ops(&store, &random_ops(seed * 37, &store, "rust_mark"));
        doc.apply_update(&std::fs::read(&js_doc).unwrap()).unwrap();
        eventually("tinystore loads the merge", || store.has_value("js_mark"));
        let rust_doc = dir.join(format!("{seed}-rust.bin"));
        let rust_bytes = if seed == 7 {
            doc.encode_update()
        } else {
            heard.lock().unwrap().clone()
        };
        std::fs::write(&rust_doc, rust_bytes).unwrap();
        let merged = dir.join(format!("{seed}-merged.bin"));
        let js = tinybase(&[
            OsStr::new("merge"),
            js_doc.as_os_str(),
            rust_doc.as_os_str(),
            merged.as_os_str(),
        ]);

        let js = parse(js.trim());
        assert_eq!(js, parse(&store.get_json()), "seed {seed}");
        assert_eq!(js[1]["js_mark"], 1);
        assert_eq!(js[1]["rust_mark"], 1);

        // The document TinyBase merged is the same document.
        let again = AutomergeDoc::new();
        again
            .apply_update(&std::fs::read(&merged).unwrap())
            .unwrap();
        let reloaded = Store::new();
        persister(&reloaded, &again).load(None).unwrap();
        assert_eq!(parse(&reloaded.get_json()), js, "seed {seed}");
        p.destroy();
    }
    let _ = std::fs::remove_dir_all(&dir);
}
