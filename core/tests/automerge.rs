//! The AutomergePersister (feature `automerge`): round trips, the document's layout, auto-save
//! of changed paths, auto-load from merged bytes, bad input; and interop with TinyBase 10.0.1's
//! own AutomergePersister on @automerge/automerge 3 (`tests/interop/automerge/tb-automerge.mjs`,
//! copied beside the kit's node_modules by `make kit`).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjId, ObjType, ReadDoc, ScalarValue, Value};
use serde_json::{Value as Json, json};
use tinystore_core::persist::automerge::{AutomergeDoc, AutomergePersistence};
use tinystore_core::persist::{PersistErrorKind, Persister};
use tinystore_core::{Cell, MergeableStore, Store};

#[path = "automerge/interop.rs"]
mod interop;

// ---------------------------------------------------------------------------------------------
// Content: a small deterministic generator covering every cell type and the ids TinyBase
// escapes.

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap()
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const IDS: &[&str] = &[
    "pets",
    "fido",
    "constructor",
    "__proto__",
    "prototype",
    "\0x",
    "toString",
    "hasOwnProperty",
    "valueOf",
    "ñandú",
    "🐶",
    "10",
    "9",
    "a b",
    "c",
];

fn random_cell(rng: &mut Rng) -> Cell {
    let n = i64::try_from(rng.below(2001)).unwrap() - 1000;
    #[allow(clippy::cast_precision_loss)]
    match rng.below(8) {
        0 => Cell::from(*rng.pick(&["", "dog", "ünïcødé 🐕", "\"quoted\"\n\t", "\0lead", "😀x"])),
        1 => Cell::from(n as f64),
        2 => Cell::from(n as f64 / 7.0),
        3 => Cell::from(rng.below(2) == 0),
        4 => Cell::Null,
        5 => Cell::from_json(json!({"a": n, "b": [1, "x", null], "ünï": {"c": true}, "10": 0.5})),
        6 => Cell::from_json(json!([n, "s", {"k": false}, []])),
        // Numbers JavaScript reads back as written: TinyBase writes any integral number as
        // an Int, clamped to 64 bits, and reads those from 2^53 - 1 up as BigInts.
        _ => Cell::from(*rng.pick(&[
            0.1,
            -2.5e-7,
            1e-300,
            9_007_199_254_740_990.0,
            -9_007_199_254_740_991.0,
        ])),
    }
}

fn random_store(seed: u64) -> Store {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let store = Store::new();
    store.transaction(|s| {
        for _ in 0..1 + rng.below(4) {
            let table = *rng.pick(IDS);
            for _ in 0..1 + rng.below(4) {
                let row = *rng.pick(IDS);
                for _ in 0..1 + rng.below(5) {
                    let cell = *rng.pick(IDS);
                    s.set_cell(table, row, cell, random_cell(&mut rng));
                }
            }
        }
        for _ in 0..rng.below(5) {
            let value = *rng.pick(IDS);
            s.set_value(value, random_cell(&mut rng));
        }
    });
    store
}

fn parse(text: &str) -> Json {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

// ---------------------------------------------------------------------------------------------
// Document helpers.

fn persister(store: &Store, doc: &AutomergeDoc) -> Persister {
    Persister::new(store, AutomergePersistence::new(doc))
}

/// The id of the map at `path` from the document's root.
fn map_id(doc: &AutoCommit, path: &[&str]) -> ObjId {
    let mut obj = automerge::ROOT;
    for key in path {
        obj = match doc.get(&obj, *key).unwrap() {
            Some((Value::Object(ObjType::Map), id)) => id,
            other => panic!("{key:?} in {path:?} is {other:?}"),
        };
    }
    obj
}

/// What lies at `path`: its object type, or its scalar.
fn at(doc: &AutomergeDoc, path: &[&str]) -> Option<Result<ObjType, ScalarValue>> {
    doc.with_doc(|d| {
        let (last, parents) = path.split_last().unwrap();
        let obj = map_id(d, parents);
        d.get(&obj, *last).unwrap().map(|(v, _)| match v {
            Value::Object(t) => Ok(t),
            Value::Scalar(s) => Err(s.into_owned()),
        })
    })
}

fn text_at(doc: &AutomergeDoc, path: &[&str]) -> String {
    doc.with_doc(|d| {
        let (last, parents) = path.split_last().unwrap();
        let obj = map_id(d, parents);
        match d.get(&obj, *last).unwrap() {
            Some((Value::Object(ObjType::Text), id)) => d.text(&id).unwrap(),
            other => panic!("{path:?} is {other:?}"),
        }
    })
}

fn exid_at(doc: &AutomergeDoc, path: &[&str]) -> ObjId {
    doc.with_doc(|d| {
        let (last, parents) = path.split_last().unwrap();
        let obj = map_id(d, parents);
        d.get(&obj, *last).unwrap().unwrap().1
    })
}

/// Waits for `done`, failing after five seconds.
fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "timed out: {what}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

const NO_POLL: Duration = Duration::from_secs(3600);

// ---------------------------------------------------------------------------------------------
// Round trips and the layout.

#[test]
fn every_cell_type_and_escaped_id_round_trips() {
    for seed in 0..20 {
        let store = random_store(seed);
        let doc = AutomergeDoc::new();
        persister(&store, &doc).save().unwrap();

        let same_doc = Store::new();
        persister(&same_doc, &doc).load(None).unwrap();
        assert_eq!(
            parse(&same_doc.get_json()),
            parse(&store.get_json()),
            "seed {seed}"
        );

        let replica = AutomergeDoc::new();
        replica.apply_update(&doc.encode_update()).unwrap();
        let other = Store::new();
        persister(&other, &replica).load(None).unwrap();
        assert_eq!(
            parse(&other.get_json()),
            parse(&store.get_json()),
            "seed {seed}"
        );
    }
}

#[test]
fn cells_take_the_forms_tinybase_writes() {
    let store = Store::new();
    store
        .set_cell("constructor", "__proto__", "prototype", "dog")
        .set_cell("t", "r", "int", 3)
        .set_cell("t", "r", "neg_zero", -0.0)
        .set_cell("t", "r", "float", 1.5)
        .set_cell("t", "r", "big", 1e20)
        .set_cell("t", "r", "max", 9_007_199_254_740_991.0)
        .set_cell("t", "r", "below", 9_007_199_254_740_990.0)
        .set_cell("t", "r", "yes", true)
        .set_cell("t", "r", "nothing", Cell::Null)
        .set_cell("t", "r", "obj", Cell::from_json(json!({"a": [1]})))
        .set_cell("t", "r", "arr", Cell::from_json(json!([{"b": 2}])))
        .set_value("\0x", "")
        .set_value("toString", 2);
    let doc = AutomergeDoc::new();
    persister(&store, &doc).save().unwrap();
    let tb = ["tinybase", "t"];
    let cell = |t: &str, r: &str, c: &str| {
        let path = [tb[0], tb[1], t, r, c];
        at(&doc, &path).unwrap_or_else(|| panic!("{path:?} missing"))
    };
    assert_eq!(
        cell("\0constructor", "\0__proto__", "\0prototype"),
        Ok(ObjType::Text)
    );
    assert_eq!(
        text_at(
            &doc,
            &[
                "tinybase",
                "t",
                "\0constructor",
                "\0__proto__",
                "\0prototype"
            ]
        ),
        "dog"
    );
    assert_eq!(cell("t", "r", "int"), Err(ScalarValue::Int(3)));
    assert_eq!(cell("t", "r", "neg_zero"), Err(ScalarValue::Int(0)));
    assert_eq!(cell("t", "r", "float"), Err(ScalarValue::F64(1.5)));
    assert_eq!(cell("t", "r", "big"), Err(ScalarValue::F64(1e20)));
    assert_eq!(
        cell("t", "r", "max"),
        Err(ScalarValue::F64(9_007_199_254_740_991.0))
    );
    assert_eq!(
        cell("t", "r", "below"),
        Err(ScalarValue::Int(9_007_199_254_740_990))
    );
    assert_eq!(cell("t", "r", "yes"), Err(ScalarValue::Boolean(true)));
    assert_eq!(cell("t", "r", "nothing"), Err(ScalarValue::Null));
    assert_eq!(
        text_at(&doc, &["tinybase", "t", "t", "r", "obj"]),
        "\u{FFFD}{\"a\":[1]}"
    );
    assert_eq!(
        text_at(&doc, &["tinybase", "t", "t", "r", "arr"]),
        "\u{FFFD}[{\"b\":2}]"
    );
    assert_eq!(text_at(&doc, &["tinybase", "v", "\0\0x"]), "");
    assert_eq!(
        at(&doc, &["tinybase", "v", "\0toString"]),
        Some(Err(ScalarValue::Int(2)))
    );
}

#[test]
fn a_mergeable_store_persists_its_plain_content() {
    let store = MergeableStore::new(Some("a"));
    store
        .set_cell("pets", "fido", "legs", 4)
        .set_value("open", true);
    let doc = AutomergeDoc::new();
    let p = Persister::new(&store, AutomergePersistence::new(&doc));
    p.start_auto_save().unwrap();
    store.set_cell("pets", "felix", "legs", 3);
    store.del_value("open");

    let loaded = MergeableStore::new(Some("b"));
    Persister::new(&loaded, AutomergePersistence::new(&doc))
        .load(None)
        .unwrap();
    assert_eq!(parse(&loaded.get_json()), parse(&store.get_json()));
    assert_eq!(at(&doc, &["tinybase", "v", "open"]), None);
}

#[test]
fn another_name_and_ids_that_need_escaping() {
    let doc = AutomergeDoc::new();
    let store = Store::new();
    store.set_cell("a", "b", "c", 1);
    Persister::new(
        &store,
        AutomergePersistence::with_obj_name(&doc, "constructor"),
    )
    .save()
    .unwrap();
    assert_eq!(at(&doc, &["tinybase"]), None);
    assert_eq!(
        at(&doc, &["\0constructor", "t", "a", "b", "c"]),
        Some(Err(ScalarValue::Int(1)))
    );
}

// ---------------------------------------------------------------------------------------------
// Auto-save: only the changed paths.

#[test]
fn auto_save_touches_only_the_changed_paths() {
    let store = Store::new();
    store
        .set_cell("t", "r1", "c", 1)
        .set_cell("t", "r2", "c", "kept")
        .set_value("v", 1);
    let doc = AutomergeDoc::new();
    let p = persister(&store, &doc);
    p.start_auto_save().unwrap();
    let r2_text = exid_at(&doc, &["tinybase", "t", "t", "r2", "c"]);

    // An edit by hand in another row, which the store does not know of.
    doc.with_doc(|d| {
        let row = map_id(d, &["tinybase", "t", "t", "r2"]);
        d.put(&row, "hand", "made").unwrap();
    });
    store.set_cell("t", "r1", "c", 2);
    store.set_value("w", "x");
    assert_eq!(
        at(&doc, &["tinybase", "t", "t", "r1", "c"]),
        Some(Err(ScalarValue::Int(2)))
    );
    assert_eq!(text_at(&doc, &["tinybase", "v", "w"]), "x");
    assert!(at(&doc, &["tinybase", "t", "t", "r2", "hand"]).is_some());
    assert_eq!(exid_at(&doc, &["tinybase", "t", "t", "r2", "c"]), r2_text);

    // Deletions delete the path.
    store.del_cell("t", "r1", "c", true);
    assert_eq!(at(&doc, &["tinybase", "t", "t", "r1"]), None);
    store.del_value("v");
    assert_eq!(at(&doc, &["tinybase", "v", "v"]), None);

    // A new row is missing from the document. The store has not loaded the hand-made cell, so
    // the row is written whole and nothing else touched ...
    store.set_cell("t", "r3", "c", true);
    assert!(at(&doc, &["tinybase", "t", "t", "r2", "hand"]).is_some());
    assert_eq!(
        at(&doc, &["tinybase", "t", "t", "r3", "c"]),
        Some(Err(ScalarValue::Boolean(true)))
    );
    // ... and once it has, TinyBase's full match rewrites nothing that is equal.
    p.load(None).unwrap();
    assert_eq!(store.get_cell("t", "r2", "hand"), Some(Cell::from("made")));
    store.set_cell("t", "r4", "c", 4);
    assert_eq!(exid_at(&doc, &["tinybase", "t", "t", "r2", "c"]), r2_text);
    assert!(at(&doc, &["tinybase", "t", "t", "r2", "hand"]).is_some());
    assert_eq!(
        at(&doc, &["tinybase", "t", "t", "r4", "c"]),
        Some(Err(ScalarValue::Int(4)))
    );
    store.del_table("t");
    assert_eq!(at(&doc, &["tinybase", "t", "t"]), None);

    let loaded = Store::new();
    persister(&loaded, &doc).load(None).unwrap();
    assert_eq!(loaded.get_json(), store.get_json());
}

#[test]
fn a_broken_shape_is_rebuilt_by_a_save() {
    let store = Store::new();
    store.set_cell("t", "r", "c", 1).set_value("v", 2);
    let doc = AutomergeDoc::new();
    let p = persister(&store, &doc);
    p.start_auto_save().unwrap();
    doc.with_doc(|d| {
        let content = map_id(d, &["tinybase"]);
        d.put(&content, "v", "not a map").unwrap();
    });
    // A value change alone would leave the other values out: the whole content is written.
    store.set_value("w", 3);
    let loaded = Store::new();
    persister(&loaded, &doc).load(None).unwrap();
    assert_eq!(loaded.get_json(), r#"[{"t":{"r":{"c":1}}},{"v":2,"w":3}]"#);
}

// ---------------------------------------------------------------------------------------------
// Update listeners and auto-load.

#[test]
fn update_listeners_hear_local_changes_only() {
    let doc = AutomergeDoc::new();
    let heard = Arc::new(Mutex::new(Vec::<Vec<u8>>::new()));
    let h = heard.clone();
    let id = doc.add_update_listener(move |bytes| h.lock().unwrap().push(bytes.to_vec()));
    let _p = AutomergePersistence::new(&doc); // makes nothing until its first save
    assert!(heard.lock().unwrap().is_empty());
    doc.with_doc(|d| d.put(automerge::ROOT, "z", 0).unwrap());
    assert_eq!(heard.lock().unwrap().len(), 1);
    doc.with_doc(|d| d.put(automerge::ROOT, "x", 1).unwrap());
    assert_eq!(heard.lock().unwrap().len(), 2);
    doc.with_doc(|d| d.get(automerge::ROOT, "x").unwrap().is_some());
    assert_eq!(heard.lock().unwrap().len(), 2, "a read is no change");

    // The listener's bytes rebuild the document elsewhere, in order or not.
    let copy = AutomergeDoc::new();
    let bytes = heard.lock().unwrap().clone();
    copy.apply_update(&bytes[1]).unwrap();
    copy.apply_update(&bytes[0]).unwrap();
    assert_eq!(
        copy.with_doc(|d| d
            .get(automerge::ROOT, "x")
            .unwrap()
            .map(|(v, _)| v.as_i64())),
        Some(Some(1))
    );

    // A whole document followed by changes whose dependencies only the receiver has.
    let other = AutomergeDoc::new();
    other.with_doc(|d| d.put(automerge::ROOT, "y", 2).unwrap());
    let later = AutomergeDoc::new();
    later.apply_update(&copy.encode_update()).unwrap();
    let before = later.with_doc(|d| d.get_heads());
    later.with_doc(|d| d.put(automerge::ROOT, "w", 4).unwrap());
    let tail = later.with_doc(|d| d.save_after(&before));
    doc.apply_update(&[other.encode_update(), tail].concat())
        .unwrap();
    doc.with_doc(|d| {
        assert!(d.get(automerge::ROOT, "y").unwrap().is_some());
        assert!(d.get(automerge::ROOT, "w").unwrap().is_some());
    });
    assert_eq!(
        heard.lock().unwrap().len(),
        2,
        "merged changes are not echoed"
    );
    assert!(doc.del_update_listener(id));
    assert!(!doc.del_update_listener(id));
    doc.with_doc(|d| d.put(automerge::ROOT, "z", 3).unwrap());
    assert_eq!(heard.lock().unwrap().len(), 2);
}

#[test]
fn auto_load_follows_merged_updates_but_not_own_saves() {
    let doc = AutomergeDoc::new();
    let store = Store::new();
    let p = persister(&store, &doc);
    p.start_auto_persisting(None, NO_POLL, false).unwrap();
    let loads = p.get_stats().loads;
    store.set_cell("t", "r", "c", 1);
    store.set_value("v", 1);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(p.get_stats().loads, loads, "own saves do not reload");

    // Another replica, started from this document, edits; its bytes come back.
    let replica = AutomergeDoc::new();
    replica.apply_update(&doc.encode_update()).unwrap();
    let other = Store::new();
    let q = persister(&other, &replica);
    q.load(None).unwrap();
    q.start_auto_save().unwrap();
    let before = replica.with_doc(|d| d.get_heads());
    other.set_cell("t", "r2", "c", "from the replica");
    let changes = replica.with_doc(|d| d.save_after(&before));
    doc.apply_update(&changes).unwrap();
    eventually("the store reloads", || {
        store.get_cell("t", "r2", "c") == Some(Cell::from("from the replica"))
    });
    assert_eq!(store.get_json(), other.get_json());

    // Edits by the app through `with_doc` reload too.
    doc.with_doc(|d| {
        let values = map_id(d, &["tinybase", "v"]);
        d.put(&values, "by_hand", true).unwrap();
    });
    eventually("the store reloads", || store.get_value("by_hand").is_some());
}

#[test]
fn two_replicas_converge_through_their_update_listeners() {
    let a = AutomergeDoc::new();
    let sa = Store::new();
    let pa = persister(&sa, &a);
    sa.set_cell("pets", "fido", "legs", 4);
    pa.start_auto_persisting(None, NO_POLL, false).unwrap();

    // B starts from A's document, then both forward their local changes.
    let b = AutomergeDoc::new();
    b.apply_update(&a.encode_update()).unwrap();
    let (to_a, to_b) = (a.clone(), b.clone());
    a.add_update_listener(move |bytes| to_b.apply_update(bytes).unwrap());
    b.add_update_listener(move |bytes| to_a.apply_update(bytes).unwrap());
    let sb = Store::new();
    let pb = persister(&sb, &b);
    pb.start_auto_persisting(None, NO_POLL, false).unwrap();
    assert_eq!(sb.get_json(), sa.get_json());

    sa.set_cell("pets", "felix", "legs", 3);
    eventually("B hears of felix", || sb.has_row("pets", "felix"));
    sb.set_value("open", true);
    eventually("A hears of open", || sa.has_value("open"));

    // Concurrent edits from two threads, the same cell included.
    let ta = {
        let sa = sa.clone();
        std::thread::spawn(move || {
            for i in 0..20 {
                sa.set_cell("pets", "fido", "legs", i);
                sa.set_cell("pets", &format!("a{i}"), "n", i);
            }
        })
    };
    for i in 0..20 {
        sb.set_cell("pets", "fido", "legs", 100 + i);
        sb.set_cell("pets", &format!("b{i}"), "n", i);
        if i == 10 {
            sb.del_row("pets", "felix");
        }
    }
    ta.join().unwrap();
    // Row order may differ: each store keeps its own rows' places.
    eventually("both stores converge", || {
        parse(&sa.get_json()) == parse(&sb.get_json())
            && sa.has_row("pets", "a19")
            && sa.has_row("pets", "b19")
    });
    assert!(!sa.has_row("pets", "felix"));
    assert!(
        (0..20)
            .all(|i| sb.has_row("pets", &format!("a{i}")) && sa.has_row("pets", &format!("b{i}")))
    );
    pa.destroy();
    pb.destroy();
}

// ---------------------------------------------------------------------------------------------
// Bad input.

#[test]
fn bad_bytes_are_content_errors_and_change_nothing() {
    let doc = AutomergeDoc::new();
    let store = Store::new();
    store.set_cell("t", "r", "c", 1);
    let p = persister(&store, &doc);
    p.start_auto_persisting(None, NO_POLL, false).unwrap();
    let saved = doc.encode_update();

    let other = AutomergeDoc::new();
    other.apply_update(&saved).unwrap();
    let before = other.with_doc(|d| d.get_heads());
    other.with_doc(|d| {
        let values = map_id(d, &["tinybase", "v"]);
        d.put(&values, "x", 1).unwrap();
    });
    let incremental = other.with_doc(|d| d.save_after(&before));
    let whole = other.encode_update();

    let mut bad: Vec<Vec<u8>> = vec![
        b"not automerge at all".to_vec(),
        vec![0x85, 0x6f, 0x4a, 0x83],
        whole[..whole.len() / 2].to_vec(),
        whole[..whole.len() - 1].to_vec(),
        incremental[..incremental.len() - 3].to_vec(),
        [whole.as_slice(), b"trailing junk"].concat(),
    ];
    let mut flipped = whole.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0xff;
    bad.push(flipped);
    for bytes in &bad {
        let err = doc.apply_update(bytes).unwrap_err();
        assert_eq!(err.kind(), PersistErrorKind::Content, "{bytes:?}");
        assert_eq!(doc.encode_update(), saved);
    }
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(store.get_json(), r#"[{"t":{"r":{"c":1}}},{}]"#);

    // The good bytes still merge afterwards.
    doc.apply_update(&incremental).unwrap();
    eventually("the store reloads", || store.has_value("x"));
}

type PutCell = dyn FnOnce(&mut AutoCommit, &ObjId);

fn doc_with_cell(put: impl FnOnce(&mut AutoCommit, &ObjId)) -> AutomergeDoc {
    let doc = AutomergeDoc::new();
    doc.with_doc(|d| {
        let tb = d
            .put_object(automerge::ROOT, "tinybase", ObjType::Map)
            .unwrap();
        let t = d.put_object(&tb, "t", ObjType::Map).unwrap();
        d.put_object(&tb, "v", ObjType::Map).unwrap();
        let table = d.put_object(&t, "t", ObjType::Map).unwrap();
        let row = d.put_object(&table, "r", ObjType::Map).unwrap();
        put(d, &row);
    });
    doc
}

fn loaded(doc: &AutomergeDoc) -> Result<String, PersistErrorKind> {
    let store = Store::new();
    store.set_value("before", 1);
    persister(&store, doc)
        .load(None)
        .map(|_| store.get_json())
        .map_err(|e| {
            assert_eq!(store.get_json(), r#"[{},{"before":1}]"#, "store untouched");
            e.kind()
        })
}

#[test]
fn every_form_javascript_can_write_is_read() {
    let doc = doc_with_cell(|d, row| {
        d.put(row, "str", ScalarValue::Str("plain".into())).unwrap();
        d.put(row, "enc", ScalarValue::Str("\u{FFFD}{\"a\":1}".into()))
            .unwrap();
        d.put(row, "uint", ScalarValue::Uint(7)).unwrap();
        d.put(row, "counter", ScalarValue::counter(5)).unwrap();
        d.put(row, "f64int", ScalarValue::F64(3.0)).unwrap();
        let map = d.put_object(row, "map", ObjType::Map).unwrap();
        d.put(&map, "b", 1).unwrap();
        d.put(&map, "a", ScalarValue::Str("s".into())).unwrap();
        d.put(&map, "10", ScalarValue::Null).unwrap();
        d.put(&map, "9", ScalarValue::F64(f64::NAN)).unwrap();
        let list = d.put_object(row, "list", ObjType::List).unwrap();
        let text = d.insert_object(&list, 0, ObjType::Text).unwrap();
        d.splice_text(&text, 0, 0, "t").unwrap();
        d.insert(&list, 1, ScalarValue::counter(2)).unwrap();
    });
    assert_eq!(
        parse(&loaded(&doc).unwrap()),
        json!([{"t": {"r": {
            "str": "plain",
            "enc": "\u{FFFD}{\"a\":1}",
            "uint": 7,
            "counter": 5,
            "f64int": 3,
            "map": "\u{FFFD}{\"9\":null,\"10\":null,\"a\":\"s\",\"b\":1}",
            "list": "\u{FFFD}[\"t\",2]",
        }}}, {}])
    );
}

#[test]
fn wrong_shapes_load_nothing_or_fail_leaving_the_store() {
    // No `t`/`v` maps: nothing stored, as TinyBase.
    for shape in [
        "string t",
        "no v",
        "list t",
        "tinybase a string",
        "no tinybase",
    ] {
        let doc = AutomergeDoc::new();
        doc.with_doc(|d| {
            if shape == "tinybase a string" {
                d.put(automerge::ROOT, "tinybase", "x").unwrap();
                return;
            }
            if shape == "no tinybase" {
                return;
            }
            let tb = d
                .put_object(automerge::ROOT, "tinybase", ObjType::Map)
                .unwrap();
            match shape {
                "string t" => d.put(&tb, "t", "tables").unwrap(),
                "list t" => drop(d.put_object(&tb, "t", ObjType::List).unwrap()),
                _ => drop(d.put_object(&tb, "t", ObjType::Map).unwrap()),
            }
            if shape != "no v" {
                d.put_object(&tb, "v", ObjType::Map).unwrap();
            }
        });
        assert_eq!(loaded(&doc), Ok(r#"[{},{"before":1}]"#.into()), "{shape}");
    }
    // Cells no JavaScript value becomes, and tables or rows that are not maps: errors.
    let bad_cells: Vec<Box<PutCell>> = vec![
        Box::new(|d, row| d.put(row, "c", ScalarValue::Bytes(vec![1, 2])).unwrap()),
        Box::new(|d, row| d.put(row, "c", ScalarValue::Timestamp(5)).unwrap()),
        Box::new(|d, row| {
            let l = d.put_object(row, "c", ObjType::List).unwrap();
            d.insert(&l, 0, ScalarValue::Bytes(vec![])).unwrap();
        }),
        Box::new(|d, row| {
            let values = map_id(d, &["tinybase", "v"]);
            d.put(&values, "v", ScalarValue::Timestamp(1)).unwrap();
            d.put(row, "c", 1).unwrap();
        }),
        Box::new(|d, row| {
            let row_id = map_id(d, &["tinybase", "t", "t"]);
            d.put(&row_id, "r2", "not a row").unwrap();
            d.put(row, "c", 1).unwrap();
        }),
        Box::new(|d, row| {
            let tables = map_id(d, &["tinybase", "t"]);
            d.put(&tables, "t2", 5).unwrap();
            d.put(row, "c", 1).unwrap();
        }),
    ];
    for (i, put) in bad_cells.into_iter().enumerate() {
        let doc = doc_with_cell(put);
        assert_eq!(loaded(&doc), Err(PersistErrorKind::Content), "case {i}");
    }
}

#[test]
fn auto_load_of_a_document_without_content_is_an_error() {
    let doc = AutomergeDoc::new();
    let store = Store::new();
    store.set_cell("t", "r", "c", 1);
    let p = persister(&store, &doc);
    let errors = Arc::new(Mutex::new(Vec::new()));
    let e = errors.clone();
    p.set_on_ignored_error(move |err| e.lock().unwrap().push(err.kind()));
    p.start_auto_persisting(None, NO_POLL, true).unwrap();
    doc.with_doc(|d| {
        let content = map_id(d, &["tinybase"]);
        d.put(&content, "t", "tables").unwrap();
    });
    eventually("auto-load reports", || !errors.lock().unwrap().is_empty());
    assert_eq!(errors.lock().unwrap()[0], PersistErrorKind::Content);
    assert_eq!(store.get_json(), r#"[{"t":{"r":{"c":1}}},{}]"#);
    // Saves wait for a load that works: the document is not overwritten meanwhile.
    store.set_value("v", 1);
    assert_eq!(at(&doc, &["tinybase", "v", "v"]), None);

    // A document with nothing under the name (yet) is no error: nothing is stored.
    let doc = AutomergeDoc::new();
    let store = Store::new();
    let p = persister(&store, &doc);
    p.set_on_ignored_error(|err| panic!("{err}"));
    p.start_auto_load(None, NO_POLL).unwrap();
    doc.with_doc(|d| d.put(automerge::ROOT, "other", 1).unwrap());
    std::thread::sleep(Duration::from_millis(20));
    assert!(p.get_stats().loads >= 2);
    assert_eq!(store.get_json(), "[{},{}]");
}
