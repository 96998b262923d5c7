//! Differential test: tinystore's derived views (Indexes, Relationships, Metrics, Checkpoints,
//! Queries) against TinyBase 10.0.1.
//!
//! `node tests/interop/views/views_diff.mjs` generates seeded random cases (store content,
//! definitions from cell ids and a fixed menu of named functions, ops with transactions,
//! rollbacks, checkpoint moves and MergeableStore merges) and records TinyBase's trace: after
//! each step, the view listener calls in order (with a wildcard store Table listener and the
//! Tables listener, which pin where view listeners fire among the store's own) and every
//! getter's result. This test replays each case with tinystore as the script streams it (the
//! two sides run at once) and compares the traces step by step; the first difference names the
//! seed, the case, the step and the op.
//!
//! `TINYSTORE_VIEWS_DIFF_CASES` sets the number of cases (default [`CASES`]),
//! `TINYSTORE_VIEWS_DIFF_SEED` replays a seed, `TINYSTORE_VIEWS_DIFF_CASE=FILE` replays one case
//! file kept by a failing run (`TINYSTORE_VIEWS_DIFF_VERBOSE=1` prints every step). Needs Node.js and TinyBase in
//! `target/kit/node_modules` (`make kit`) or `TINYSTORE_NODE_MODULES`; fails rather than skips
//! without them.

use std::cmp::Ordering;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::{Value as Json, json};
use tinystore_core::js::{compare_utf16, number_to_string, string_to_number};
use tinystore_core::views::{
    Aggregate, CustomAggregate, GetCell, RowIdSorter, SliceIdSorter, Source, default_sorter,
};
use tinystore_core::{
    Cell, Checkpoints, Indexes, MergeableStore, Metrics, Queries, Relationships, Store, ops,
};

#[path = "views_diff/queries.rs"]
mod queries;

const ROWS: [&str; 6] = ["r0", "r1", "r2", "r3", "r4", "r5"];
const PROBES: [&str; 15] = [
    "r0",
    "r1",
    "r2",
    "r3",
    "r4",
    "r5",
    "a",
    "b",
    "",
    "null",
    "true",
    "1",
    "1.5",
    "[object Object]",
    "x",
];
const NOW: u64 = 1_700_000_000_000;
/// Cases per run unless `TINYSTORE_VIEWS_DIFF_CASES` says otherwise.
const CASES: &str = "2000";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("core/ has a parent directory")
        .to_path_buf()
}

// ------------------------------------------------------------------ the function menus
// Each twin of a function in views_diff.mjs.

/// `typeof v == 'string'`.
fn as_str(cell: &Option<Cell>) -> Option<&str> {
    match cell {
        Some(Cell::String(s)) => Some(s.as_str()),
        _ => None,
    }
}

fn as_num(cell: &Option<Cell>) -> Option<f64> {
    match cell {
        Some(Cell::Number(n)) => Some(*n),
        _ => None,
    }
}

fn slice_fn(name: &str) -> Source<Vec<String>> {
    let f: fn(&GetCell<'_>, &str) -> Vec<String> = match name {
        "parity" => |_, r| {
            let odd = r.as_bytes().last().is_some_and(|b| b % 2 == 1);
            vec![if odd { "odd" } else { "even" }.to_string()]
        },
        "multi" => |g, _| match as_str(&g("c0")) {
            Some(s) => vec![s.to_string(), "all".to_string()],
            None => vec!["all".to_string()],
        },
        "none" => |_, _| vec![],
        "undef" => |_, _| vec![String::new()],
        "bucket" => |g, _| {
            vec![match as_num(&g("c1")) {
                Some(n) if n > 2.0 => "hi".to_string(),
                Some(_) => "lo".to_string(),
                None => String::new(),
            }]
        },
        other => panic!("unknown slice function {other}"),
    };
    Source::func(f)
}

fn sort_fn(name: &str) -> Source<Option<Cell>> {
    let f: fn(&GetCell<'_>, &str) -> Option<Cell> = match name {
        "neg" => |g, _| match g("c1") {
            Some(Cell::Number(n)) => Some(Cell::Number(-n)),
            other => other,
        },
        "rowId" => |_, r| Some(Cell::from(r)),
        "c2" => |g, _| g("c2"),
        other => panic!("unknown sort function {other}"),
    };
    Source::func(f)
}

/// `Number(v ?? 0) || 0` of a decoded cell.
fn to_num(cell: Option<&Cell>) -> f64 {
    let n = match cell {
        None | Some(Cell::Null) => 0.0,
        Some(Cell::Boolean(b)) => f64::from(u8::from(*b)),
        Some(Cell::Number(n)) => *n,
        Some(Cell::String(s)) => string_to_number(s),
        Some(Cell::Object(_)) => f64::NAN,
        Some(Cell::Array(text)) => {
            let items: Vec<Json> = serde_json::from_str(text).expect("array cell");
            let joined: Vec<String> = items
                .iter()
                .map(|i| match i {
                    Json::Number(n) => number_to_string(n.as_f64().expect("number")),
                    Json::String(s) => s.clone(),
                    _ => String::new(),
                })
                .collect();
            string_to_number(&joined.join(","))
        }
    };
    if n.is_nan() { 0.0 } else { n }
}

fn row_sorter(name: &str) -> RowIdSorter {
    match name {
        "desc" => Arc::new(|a, b, _| default_sorter(b, a)),
        "bySlice" => Arc::new(|a, b, s: &str| {
            if s.encode_utf16().count() % 2 == 1 {
                default_sorter(a, b)
            } else {
                default_sorter(b, a)
            }
        }),
        "numeric" => Arc::new(|a, b, _| {
            let d = to_num(a) - to_num(b);
            d.partial_cmp(&0.0).unwrap_or(Ordering::Equal)
        }),
        other => panic!("unknown row sorter {other}"),
    }
}

fn slice_sorter(name: &str) -> SliceIdSorter {
    match name {
        "alpha" => Arc::new(compare_utf16),
        "rev" => Arc::new(|a, b| compare_utf16(b, a)),
        other => panic!("unknown slice sorter {other}"),
    }
}

fn remote_fn(name: &str) -> Source<Option<String>> {
    let f: fn(&GetCell<'_>, &str) -> Option<String> = match name {
        "c2str" => |g, _| as_str(&g("c2")).map(str::to_string),
        "fixed" => |_, _| Some("r0".to_string()),
        "next" => |_, r| {
            let n: u32 = r[1..].parse().expect("row ids are r0..r5");
            Some(format!("r{}", (n + 1) % 6))
        },
        other => panic!("unknown remote row function {other}"),
    };
    Source::func(f)
}

fn number_fn(name: &str) -> Source<Option<Cell>> {
    let f: fn(&GetCell<'_>, &str) -> Option<Cell> = match name {
        "double" => |g, _| as_num(&g("c1")).map(|n| Cell::Number(n * 2.0)),
        "asString" => |g, _| match g("c1") {
            Some(Cell::Number(n)) => Some(Cell::from(number_to_string(n).as_str())),
            other => other,
        },
        "rowNum" => |_, r| Some(Cell::Number(string_to_number(&r[1..]))),
        other => panic!("unknown number function {other}"),
    };
    Source::func(f)
}

fn custom_aggregate(name: &str) -> Aggregate {
    let c = match name {
        "count" => CustomAggregate {
            aggregate: Arc::new(|_, len| Some(len as f64)),
            add: Some(Arc::new(|m, _, _| Some(m + 1.0))),
            remove: Some(Arc::new(|m, _, _| Some(m - 1.0))),
            replace: Some(Arc::new(|m, _, _, _| Some(m))),
        },
        "first" => CustomAggregate::new(|ns, _| ns.first().copied()),
        "sumsq" => CustomAggregate {
            aggregate: Arc::new(|ns, _| Some(ns.iter().fold(0.0, |s, n| s + n * n))),
            add: Some(Arc::new(|m, a, _| Some(m + a * a))),
            remove: None,
            replace: Some(Arc::new(|m, a, r, _| Some(m - r * r + a * a))),
        },
        "lenHooks" => CustomAggregate {
            aggregate: Arc::new(|_, len| Some(len as f64 * 10.0)),
            add: Some(Arc::new(|_, _, l| Some((l as f64 + 1.0) * 10.0))),
            remove: Some(Arc::new(|_, _, l| {
                let v = (l as f64 - 1.0) * 10.0;
                (v != 0.0).then_some(v)
            })),
            replace: None,
        },
        other => panic!("unknown aggregate {other}"),
    };
    Aggregate::Custom(c)
}

/// `{cell}` / `{fn}` / `null` of the case format.
fn spec<T>(json: &Json, menu: impl Fn(&str) -> Source<T>) -> Option<Source<T>> {
    if let Some(cell) = json.get("cell").and_then(Json::as_str) {
        return Some(Source::cell(cell));
    }
    json.get("fn").and_then(Json::as_str).map(menu)
}

// ------------------------------------------------------------------ running a case

type Log = Arc<Mutex<Vec<Json>>>;

#[derive(Default)]
struct Objects {
    indexes: Option<Indexes>,
    relationships: Option<Relationships>,
    metrics: Option<Metrics>,
    checkpoints: Option<Checkpoints>,
    queries: Option<Queries>,
    /// Whether the case has object/array cells (fewer sorted row id probes).
    json_cells: bool,
}

fn push(log: &Log, event: Json) {
    log.lock().unwrap().push(event);
}

fn cell_json(n: Option<f64>) -> Json {
    n.map_or(Json::Null, |n| json!(n))
}

fn create(store: &Store, kind: &str, objects: &mut Objects, log: &Log) {
    match kind {
        "indexes" => {
            let x = Indexes::new(store);
            let l = log.clone();
            x.add_index_ids_listener(move |_| push(&l, json!(["indexIds"])));
            let l = log.clone();
            x.add_has_index_listener(None, move |_, i, h| push(&l, json!(["hasIndex", i, h])));
            let l = log.clone();
            x.add_slice_ids_listener(None, move |_, i| push(&l, json!(["sliceIds", i])));
            let l = log.clone();
            x.add_has_slice_listener(None, None, move |_, i, s, h| {
                push(&l, json!(["hasSlice", i, s, h]))
            });
            let l = log.clone();
            x.add_slice_row_ids_listener(None, None, move |_, i, s| {
                push(&l, json!(["sliceRowIds", i, s]))
            });
            objects.indexes = Some(x);
        }
        "relationships" => {
            let x = Relationships::new(store);
            let l = log.clone();
            x.add_relationship_ids_listener(move |_| push(&l, json!(["relationshipIds"])));
            let l = log.clone();
            x.add_remote_row_id_listener(None, None, move |_, r, row| {
                push(&l, json!(["remoteRowId", r, row]))
            });
            let l = log.clone();
            x.add_local_row_ids_listener(None, None, move |_, r, row| {
                push(&l, json!(["localRowIds", r, row]))
            });
            objects.relationships = Some(x);
        }
        "metrics" => {
            let x = Metrics::new(store);
            let l = log.clone();
            x.add_metric_ids_listener(move |_| push(&l, json!(["metricIds"])));
            let l = log.clone();
            x.add_metric_listener(None, move |_, m, new, old| {
                push(&l, json!(["metric", m, cell_json(new), cell_json(old)]))
            });
            objects.metrics = Some(x);
        }
        "checkpoints" => {
            let x = Checkpoints::new(store);
            let l = log.clone();
            x.add_checkpoint_ids_listener(move |_| push(&l, json!(["checkpointIds"])));
            let l = log.clone();
            x.add_checkpoint_listener(None, move |_, id| push(&l, json!(["checkpoint", id])));
            objects.checkpoints = Some(x);
        }
        // One Queries per store, as TinyBase's memoized createQueries.
        "queries" => objects.queries = Some(queries::create(store, log)),
        other => panic!("unknown object kind {other}"),
    }
}

fn snapshot(store: &Store, o: &Objects) -> Json {
    let mut s = serde_json::Map::new();
    s.insert("store".into(), json!(store.get_json()));
    let st = store.get_listener_stats();
    s.insert(
        "storeListeners".into(),
        json!([st.row, st.table, st.cell, st.value, st.transaction]),
    );
    if let Some(i) = &o.indexes {
        let ids: Vec<Json> = i
            .get_index_ids()
            .iter()
            .map(|id| {
                let slices: Vec<Json> = i
                    .get_slice_ids(id)
                    .iter()
                    .map(|sl| json!([sl, i.get_slice_row_ids(id, sl)]))
                    .collect();
                json!([id, i.get_table_id(id), slices])
            })
            .collect();
        s.insert("indexes".into(), Json::Array(ids));
        let st = i.get_listener_stats();
        s.insert("indexStats".into(), json!([st.slice_ids, st.slice_row_ids]));
    }
    if let Some(r) = &o.relationships {
        let ids: Vec<Json> = r
            .get_relationship_ids()
            .iter()
            .map(|id| {
                let remote: Vec<Json> = ROWS
                    .iter()
                    .map(|row| json!(r.get_remote_row_id(id, row)))
                    .collect();
                let local: Vec<Json> = PROBES
                    .iter()
                    .map(|p| json!(r.get_local_row_ids(id, p)))
                    .collect();
                let linked: Vec<Json> = ROWS
                    .iter()
                    .map(|row| json!(r.get_linked_row_ids(id, row)))
                    .collect();
                json!([
                    id,
                    r.get_local_table_id(id),
                    r.get_remote_table_id(id),
                    remote,
                    local,
                    linked
                ])
            })
            .collect();
        s.insert("relationships".into(), Json::Array(ids));
        let st = r.get_listener_stats();
        s.insert(
            "relationshipStats".into(),
            json!([st.remote_row_id, st.local_row_ids, st.linked_row_ids]),
        );
    }
    if let Some(m) = &o.metrics {
        let ids: Vec<Json> = m
            .get_metric_ids()
            .iter()
            .map(|id| json!([id, m.get_table_id(id), cell_json(m.get_metric(id))]))
            .collect();
        s.insert("metrics".into(), Json::Array(ids));
    }
    if let Some(k) = &o.checkpoints {
        let (back, current, forward) = k.get_checkpoint_ids();
        let mut labels = Vec::new();
        k.for_each_checkpoint(|id, label| labels.push(json!([id, label])));
        s.insert(
            "checkpoints".into(),
            json!([back, current, forward, labels]),
        );
    }
    if let Some(q) = &o.queries {
        queries::snapshot(q, o.json_cells, &mut s);
    }
    Json::Object(s)
}

fn store_ops(store: &Store, list: &Json) {
    ops::apply_ops(store, list).expect("valid store ops");
}

fn apply_op(store: &Store, mergeable: Option<&MergeableStore>, o: &Objects, log: &Log, op: &Json) {
    let a = op.as_array().expect("an op is an array");
    let name = a[0].as_str().expect("op name");
    let s = |i: usize| a[i].as_str().expect("a string argument");
    let opt = |i: usize| a.get(i).and_then(Json::as_str);
    match name {
        "transaction" => store.transaction(|st| store_ops(st, &a[1])),
        "mixed" => store.transaction(|_| {
            for inner in a[1].as_array().expect("ops") {
                apply_op(store, mergeable, o, log, inner);
            }
        }),
        "rollback" => store.transaction_with_rollback(|st| store_ops(st, &a[1]), |_| true),
        "merge" => {
            let other = MergeableStore::with_clock(Some("other"), Box::new(|| NOW + 1));
            store_ops(&other, &a[1]);
            mergeable
                .expect("merge needs a MergeableStore")
                .merge(&other);
        }
        "setIndexDefinition" => {
            o.indexes.as_ref().expect("indexes").set_index_definition(
                s(1),
                s(2),
                spec(&a[3], slice_fn),
                spec(&a[4], sort_fn),
                opt(5).map(slice_sorter),
                opt(6).map(row_sorter),
            );
        }
        "delIndexDefinition" => {
            o.indexes
                .as_ref()
                .expect("indexes")
                .del_index_definition(s(1));
        }
        "setRelationshipDefinition" => {
            let source = spec(&a[4], remote_fn).expect("a remote row id source");
            o.relationships
                .as_ref()
                .expect("relationships")
                .set_relationship_definition(s(1), s(2), s(3), source);
        }
        "delRelationshipDefinition" => {
            o.relationships
                .as_ref()
                .expect("relationships")
                .del_relationship_definition(s(1));
        }
        "addLinkedRowIdsListener" => {
            let l = log.clone();
            let id = o
                .relationships
                .as_ref()
                .expect("relationships")
                .add_linked_row_ids_listener(s(1), s(2), move |_, r, f| {
                    push(&l, json!(["linkedRowIds", r, f]))
                });
            push(log, json!(["listenerId", id.to_string()]));
        }
        "delListener" => {
            let id = || tinystore_core::ListenerId(s(2).parse().expect("a listener id"));
            match s(1) {
                "indexes" => {
                    o.indexes.as_ref().expect("indexes").del_listener(id());
                }
                "relationships" => {
                    o.relationships.as_ref().expect("rels").del_listener(id());
                }
                "metrics" => {
                    o.metrics.as_ref().expect("metrics").del_listener(id());
                }
                "checkpoints" => {
                    o.checkpoints.as_ref().expect("cps").del_listener(id());
                }
                "queries" => {
                    let id = queries::listener_id(s(2));
                    o.queries.as_ref().expect("queries").del_listener(id);
                }
                other => panic!("unknown object {other}"),
            }
        }
        "setMetricDefinition" => {
            let aggregate = match &a[3] {
                Json::String(n) => Aggregate::named(n).expect("a known aggregate"),
                other => custom_aggregate(other["custom"].as_str().expect("custom aggregate")),
            };
            o.metrics.as_ref().expect("metrics").set_metric_definition(
                s(1),
                s(2),
                aggregate,
                spec(&a[4], number_fn),
            );
        }
        "delMetricDefinition" => {
            o.metrics
                .as_ref()
                .expect("metrics")
                .del_metric_definition(s(1));
        }
        "destroy" => match s(1) {
            "indexes" => o.indexes.as_ref().expect("indexes").destroy(),
            "relationships" => o.relationships.as_ref().expect("rels").destroy(),
            "metrics" => o.metrics.as_ref().expect("metrics").destroy(),
            "queries" => o.queries.as_ref().expect("queries").destroy(),
            _ => o.checkpoints.as_ref().expect("cps").destroy(),
        },
        "addCheckpoint" => {
            let id = o.checkpoints.as_ref().expect("cps").add_checkpoint(s(1));
            push(log, json!(["checkpointAdded", id]));
        }
        "setCheckpoint" => {
            o.checkpoints
                .as_ref()
                .expect("cps")
                .set_checkpoint(s(1), s(2));
        }
        "goBackward" => {
            o.checkpoints.as_ref().expect("cps").go_backward();
        }
        "goForward" => {
            o.checkpoints.as_ref().expect("cps").go_forward();
        }
        "goTo" => {
            o.checkpoints.as_ref().expect("cps").go_to(s(1));
        }
        "clear" => {
            o.checkpoints.as_ref().expect("cps").clear();
        }
        "clearForward" => {
            o.checkpoints.as_ref().expect("cps").clear_forward();
        }
        "setSize" => {
            let n = a[1].as_u64().expect("a size") as usize;
            o.checkpoints.as_ref().expect("cps").set_size(n);
        }
        _ if queries::apply(o.queries.as_ref(), log, a) => {}
        _ => store_ops(store, &Json::Array(vec![op.clone()])),
    }
}

/// Runs one case; returns the trace in the format of views_diff.mjs.
fn run_case(case: &Json) -> Vec<Json> {
    let log: Log = Arc::default();
    let mergeable = case["mergeable"]
        .as_bool()
        .unwrap_or(false)
        .then(|| MergeableStore::with_clock(Some("views"), Box::new(|| NOW)));
    let store: Store = match &mergeable {
        Some(m) => (**m).clone(),
        None => Store::new(),
    };
    store_ops(&store, &case["init"]);
    if case["mutator"].as_bool().unwrap_or(false) {
        store.add_cell_listener(
            Some("t0"),
            None,
            Some("c0"),
            |s, _, r, _, cell, _| {
                let value = match cell {
                    Some(Cell::Number(n)) => Cell::Number(n + 1.0),
                    _ => Cell::from("m"),
                };
                s.set_cell("t1", r, "c1", value);
            },
            true,
        );
    }
    let l = log.clone();
    store.add_table_listener(None, move |_, t| push(&l, json!(["storeTable", t])), false);
    let l = log.clone();
    store.add_tables_listener(move |_| push(&l, json!(["storeTables"])), false);
    let mut objects = Objects {
        json_cells: case["jsonCells"].as_bool().unwrap_or(false),
        ..Objects::default()
    };
    for kind in case["objects"].as_array().expect("objects") {
        create(&store, kind.as_str().expect("a kind"), &mut objects, &log);
    }
    let take = |log: &Log| Json::Array(std::mem::take(&mut *log.lock().unwrap()));
    let mut trace = vec![json!({"events": take(&log), "state": snapshot(&store, &objects)})];
    for op in case["ops"].as_array().expect("ops") {
        apply_op(&store, mergeable.as_ref(), &objects, &log, op);
        trace.push(json!({"events": take(&log), "state": snapshot(&store, &objects)}));
    }
    trace
}

/// JSON equality with numbers compared as f64 (JavaScript has only those; serde_json tells 1
/// from 1.0).
fn json_eq(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => x.as_f64() == y.as_f64(),
        (Json::Array(x), Json::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        (Json::Object(x), Json::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((ka, va), (kb, vb))| ka == kb && json_eq(va, vb))
        }
        (a, b) => a == b,
    }
}

/// Replays one case line of views_diff.mjs; the first difference, described, as an error.
fn check_case(seed: &Json, entry: &Json) -> Result<(), String> {
    let index = &entry["index"];
    let expected = entry["trace"].as_array().expect("a trace");
    let actual = run_case(&entry["case"]);
    let ops = entry["case"]["ops"].as_array().expect("ops");
    let verbose = std::env::var_os("TINYSTORE_VIEWS_DIFF_VERBOSE").is_some();
    for (step, (want, got)) in expected.iter().zip(&actual).enumerate() {
        if verbose {
            println!("step {step}\n  TinyBase:  {want}\n  tinystore: {got}");
        }
        if !json_eq(want, got) {
            let op = if step == 0 {
                json!("set-up")
            } else {
                ops[step - 1].clone()
            };
            let kept = std::env::temp_dir().join(format!("views_diff_case_{index}.json"));
            std::fs::write(&kept, serde_json::to_string_pretty(&entry["case"]).unwrap())
                .expect("keep the case");
            return Err(format!(
                "seed {seed}, case {index} (replay: TINYSTORE_VIEWS_DIFF_SEED={seed}; case kept \
                 in {}), step {step}, op {op}:\n  TinyBase:  {want}\n  tinystore: {got}",
                kept.display()
            ));
        }
    }
    if expected.len() != actual.len() {
        return Err(format!("seed {seed}, case {index}: trace lengths differ"));
    }
    Ok(())
}

#[test]
fn views_match_tinybase_step_by_step() {
    let root = repo_root();
    let node_modules = std::env::var_os("TINYSTORE_NODE_MODULES")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target").join("kit").join("node_modules"));
    assert!(
        node_modules.join("tinybase").join("package.json").is_file(),
        "TinyBase is not installed in {}: run `make kit` or set TINYSTORE_NODE_MODULES",
        node_modules.display()
    );
    let cases = std::env::var("TINYSTORE_VIEWS_DIFF_CASES").unwrap_or_else(|_| CASES.into());
    let mut command = Command::new("node");
    command
        .current_dir(&root)
        .arg(root.join("tests/interop/views/views_diff.mjs"))
        .arg("--cases")
        .arg(&cases)
        .arg("--out")
        .arg("-")
        .env("TINYSTORE_NODE_MODULES", &node_modules)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Ok(seed) = std::env::var("TINYSTORE_VIEWS_DIFF_SEED") {
        command.arg("--seed").arg(seed);
    }
    if let Ok(file) = std::env::var("TINYSTORE_VIEWS_DIFF_CASE") {
        command.arg("--case").arg(file);
    }
    if let Ok(index) = std::env::var("TINYSTORE_VIEWS_DIFF_ONLY") {
        command.arg("--only").arg(index);
    }
    let started = Instant::now();
    // TinyBase runs the next cases while tinystore replays the ones it has sent.
    let mut child = command
        .spawn()
        .expect("`node` is needed (Node.js 20+): install it, then `make kit`");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut next = || lines.next().map(|l| l.expect("a line from views_diff.mjs"));
    let mut outcome = Ok(());
    let (mut seed, mut count, mut done) = (Json::Null, 0, Json::Null);
    if let Some(header) = next() {
        seed = serde_json::from_str::<Json>(&header).expect("json")["seed"].clone();
        while let Some(line) = next() {
            let entry: Json = serde_json::from_str(&line).expect("a case line");
            if entry["done"] == json!(true) {
                done = entry;
                break;
            }
            outcome = check_case(&seed, &entry);
            if outcome.is_err() {
                break;
            }
            count += 1;
        }
    }
    if outcome.is_err() {
        let _ = child.kill();
    }
    let output = child.wait_with_output().expect("views_diff.mjs runs");
    if let Err(e) = outcome {
        panic!("{e}");
    }
    assert!(
        output.status.success() && done != Json::Null,
        "views_diff.mjs failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    println!(
        "views_diff: seed {seed}, {count} cases equal, {} discarded by TinyBase ({:.1}s)",
        done["discarded"],
        started.elapsed().as_secs_f64()
    );
}
