//! The Yjs persister (feature `yjs`): round trips, auto-save of changed paths, auto-load from
//! other replicas' updates, bad input. The interop tests with TinyBase and Yjs themselves are
//! in `yjs/interop.rs`.

#[path = "yjs/interop.rs"]
mod interop;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};
use tinystore_core::persist::yjs::{YjsDoc, YjsPersistence};
use tinystore_core::persist::{PersistError, PersistErrorKind, Persistable, Persister};
use tinystore_core::{Cell, MergeableStore, Store};
use yrs::{Any, Map, MapPrelim, Out, Transact};

// ------------------------------------------------------------------ shared helpers

/// A small deterministic generator (xorshift64*).
#[derive(Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n
    }

    pub fn pick<T: Copy>(&mut self, list: &[T]) -> T {
        list[self.below(list.len())]
    }
}

pub const IDS: &[&str] = &[
    "pets",
    "t 1",
    "ünïcödé",
    "😀",
    "a.b",
    "0",
    "10",
    "x",
    "with space",
    "Ω",
    "r",
    "c",
];

/// A cell of any kind, objects and arrays with keys out of alphabetical order.
pub fn random_cell(rng: &mut Rng) -> Cell {
    let strings = [
        "",
        "dog",
        "a b c",
        "ünïcödé",
        "😀 emoji",
        "line\nbreak",
        "\"q\"",
    ];
    let numbers = [
        0.0,
        1.0,
        -1.0,
        42.0,
        2_147_483_647.0,
        2_147_483_648.0,
        -2_147_483_649.0,
        1_099_511_627_776.0,
        9_007_199_254_740_992.0,
        -9_007_199_254_740_991.0,
        1.5,
        -0.25,
        0.1,
        1e-7,
        1e21,
        123_456.789,
        -0.0,
    ];
    match rng.below(6) {
        0 => Cell::String((rng.pick(&strings)).into()),
        1 => Cell::Number(rng.pick(&numbers)),
        2 => Cell::Boolean(rng.below(2) == 0),
        3 => Cell::Null,
        4 => Cell::from_json(json!({
            "zeta": rng.below(100),
            "alpha": [1, "x", {"y": null, "b": true}],
            "ü": strings[rng.below(strings.len())],
            "2": 0.5,
        })),
        _ => Cell::from_json(json!([rng.below(9), "two", {"k": [3, {}]}, null, []])),
    }
}

/// A store's content: 1 to 3 tables of 1 to 4 rows of 1 to 4 cells, and 0 to 3 values.
pub fn fill(store: &Store, seed: u64) {
    let mut rng = Rng::new(seed);
    store.transaction(|s| {
        for _ in 0..1 + rng.below(3) {
            let table = rng.pick(IDS);
            for _ in 0..1 + rng.below(4) {
                let row = rng.pick(IDS);
                for _ in 0..1 + rng.below(4) {
                    let cell = random_cell(&mut rng);
                    s.set_cell(table, row, rng.pick(IDS), cell);
                }
            }
        }
        for _ in 0..rng.below(4) {
            let value = random_cell(&mut rng);
            s.set_value(rng.pick(IDS), value);
        }
    });
}

/// `getJson` text (either side's) as JSON with object/array cells decoded, so that contents
/// compare as data: key order inside object cells does not survive a Y.Doc written by yrs.
pub fn normalized(json: &str) -> Json {
    fn decode(value: Json) -> Json {
        match value {
            Json::String(s) => match s.strip_prefix('\u{FFFD}') {
                Some(text) => serde_json::from_str(text).unwrap_or(Json::String(s)),
                None => Json::String(s),
            },
            Json::Object(map) => {
                Json::Object(map.into_iter().map(|(k, v)| (k, decode(v))).collect())
            }
            Json::Array(items) => Json::Array(items.into_iter().map(decode).collect()),
            other => other,
        }
    }
    decode(serde_json::from_str(json).unwrap_or_else(|e| panic!("not JSON ({e}): {json}")))
}

pub fn persister(store: &impl Persistable, doc: &YjsDoc) -> Persister {
    Persister::new(store, YjsPersistence::new(doc))
}

/// Waits up to 10 s for `done`.
pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The doc's root map `tinybase` and a write transaction's closure over `t` and `v`.
fn edit_doc(doc: &YjsDoc, edit: impl FnOnce(&mut yrs::TransactionMut, &yrs::MapRef, &yrs::MapRef)) {
    let root = doc.doc().get_or_insert_map("tinybase");
    let mut txn = doc.doc().transact_mut();
    let (Some(Out::YMap(t)), Some(Out::YMap(v))) = (root.get(&txn, "t"), root.get(&txn, "v"))
    else {
        panic!("the doc has no t and v maps");
    };
    edit(&mut txn, &t, &v);
}

fn child(txn: &yrs::TransactionMut, map: &yrs::MapRef, key: &str) -> yrs::MapRef {
    match map.get(txn, key) {
        Some(Out::YMap(m)) => m,
        other => panic!("{key} is not a map: {other:?}"),
    }
}

// ------------------------------------------------------------------ round trips

#[test]
fn every_cell_type_round_trips_through_an_update() {
    for seed in 1..=12 {
        let source = Store::new();
        fill(&source, seed);
        let doc = YjsDoc::new();
        persister(&source, &doc).save().unwrap();

        let replica = YjsDoc::new();
        replica.apply_update(&doc.encode_update()).unwrap();
        let plain = Store::new();
        persister(&plain, &replica).load(None).unwrap();
        assert_eq!(
            normalized(&plain.get_json()),
            normalized(&source.get_json()),
            "seed {seed}"
        );
        // Object cells written by tinystore keep their text (TinyBase's encoded string); ids
        // come back sorted (content maps compare regardless of order).
        assert_eq!(plain.get_content(), source.get_content(), "seed {seed}");

        let mergeable = MergeableStore::new(None);
        persister(&mergeable, &replica).load(None).unwrap();
        assert_eq!(mergeable.get_content(), source.get_content(), "seed {seed}");
        // …and a MergeableStore saves its plain content.
        let again = YjsDoc::new();
        persister(&mergeable, &again).save().unwrap();
        let back = Store::new();
        persister(&back, &again).load(None).unwrap();
        assert_eq!(back.get_content(), source.get_content(), "seed {seed}");
    }
}

#[test]
fn empty_strings_unicode_ids_and_empty_stores() {
    let store = Store::new();
    store
        .set_cell("😀 table", "ünï row", "", "")
        .set_cell("😀 table", "ünï row", "\u{0}", "nul")
        .set_value("", Cell::Number(-0.0));
    let doc = YjsDoc::new();
    persister(&store, &doc).save().unwrap();
    let copy = Store::new();
    persister(&copy, &doc).load(None).unwrap();
    assert_eq!(copy.get_json(), store.get_json());

    // An empty map is "nothing stored": the initial content is taken.
    let fresh = YjsDoc::new();
    let initial = Store::new();
    let tables =
        tinystore_core::content::tables_from_json(&json!({"t": {"r": {"c": 1}}}), false).unwrap();
    persister(&initial, &fresh)
        .load(Some((&tables, &Default::default())))
        .unwrap();
    assert_eq!(initial.get_json(), r#"[{"t":{"r":{"c":1}}},{}]"#);
    // An empty store saved is `t` and `v`, empty: loading it empties the store.
    persister(&Store::new(), &fresh).save().unwrap();
    persister(&initial, &fresh).load(None).unwrap();
    assert_eq!(initial.get_json(), "[{},{}]");
}

// ------------------------------------------------------------------ auto-save

/// A store of 100 rows auto-saved into a doc, and the updates the doc gives out.
/// Updates a listener collected.
type Updates = Arc<Mutex<Vec<Vec<u8>>>>;

fn auto_saved() -> (Store, YjsDoc, Persister, Updates) {
    let store = Store::new();
    store.transaction(|s| {
        for i in 0..100 {
            s.set_cell("pets", &format!("pet{i}"), "species", "dog")
                .set_cell("pets", &format!("pet{i}"), "legs", 4);
        }
        s.set_cell("toys", "ball", "color", "red");
    });
    let doc = YjsDoc::new();
    let persister = persister(&store, &doc);
    persister.start_auto_save().unwrap();
    let updates = Arc::new(Mutex::new(Vec::new()));
    let sink = updates.clone();
    doc.add_update_listener(move |u| sink.lock().unwrap().push(u.to_vec()));
    (store, doc, persister, updates)
}

#[test]
fn auto_save_writes_only_the_changed_paths() {
    let (store, doc, persister, updates) = auto_saved();
    let whole = doc.encode_update().len();
    store.set_cell("pets", "pet7", "legs", 3);
    {
        let updates = updates.lock().unwrap();
        assert_eq!(updates.len(), 1);
        assert!(
            updates[0].len() < 40,
            "{} bytes for one cell",
            updates[0].len()
        );
        assert!(whole > 2000, "{whole}");
    }
    // A cell set in the doc by someone else survives a save of other paths.
    edit_doc(&doc, |txn, t, _| {
        let row = child(txn, &child(txn, t, "pets"), "pet1");
        row.insert(txn, "name", "Rex");
    });
    store
        .set_cell("pets", "pet2", "legs", 5)
        .set_value("open", true);
    let stored = Store::new();
    persister_for_reading(&doc, &stored);
    assert_eq!(stored.get_cell("pets", "pet1", "name"), Some("Rex".into()));
    assert_eq!(stored.get_cell("pets", "pet2", "legs"), Some(5.into()));
    assert_eq!(stored.get_value("open"), Some(true.into()));

    // Deleting a row's last cell deletes the row; deleting a table deletes it.
    store.del_cell("toys", "ball", "color", true);
    store.del_row("pets", "pet3").del_value("open");
    persister_for_reading(&doc, &stored);
    assert_eq!(stored.get_table_ids(), ["pets"]);
    assert!(!stored.has_row("pets", "pet3"));
    assert_eq!(stored.get_value("open"), None);
    // A changed row or table the doc lacks is written whole, and what the store lacks
    // elsewhere stays (TinyBase would match the whole doc here, deleting it).
    edit_doc(&doc, |txn, t, _| {
        t.remove(txn, "pets");
        t.insert(txn, "toys", MapPrelim::default())
            .insert(txn, "kite", MapPrelim::default())
            .insert(txn, "color", "blue");
    });
    store.set_cell("pets", "pet0", "legs", 2);
    persister_for_reading(&doc, &stored);
    assert_eq!(stored.get_table("pets"), store.get_table("pets"));
    assert_eq!(
        stored.get_cell("toys", "kite", "color"),
        Some("blue".into())
    );
    edit_doc(&doc, |txn, t, _| {
        child(txn, t, "pets").remove(txn, "pet5");
    });
    store
        .set_cell("pets", "pet5", "legs", 1)
        .set_cell("pets", "new", "legs", 6);
    persister_for_reading(&doc, &stored);
    assert_eq!(stored.get_table("pets"), store.get_table("pets"));
    assert_eq!(
        stored.get_cell("toys", "kite", "color"),
        Some("blue".into())
    );
    // A full save matches the doc to the store too.
    edit_doc(&doc, |txn, t, _| {
        let row = child(txn, &child(txn, t, "pets"), "pet1");
        row.insert(txn, "name", "Rex");
    });
    persister.save().unwrap();
    persister_for_reading(&doc, &stored);
    assert_eq!(stored.get_content(), store.get_content());
    // A save that changes nothing writes nothing.
    let count = updates.lock().unwrap().len();
    persister.save().unwrap();
    store.set_cell("pets", "pet0", "legs", 2);
    assert_eq!(updates.lock().unwrap().len(), count);
}

fn persister_for_reading(doc: &YjsDoc, into: &Store) {
    persister(into, doc).load(None).unwrap();
}

#[test]
fn update_listeners_get_local_transactions_only() {
    let (store, doc, _persister, updates) = auto_saved();
    let other = YjsDoc::new();
    other.apply_update(&doc.encode_update()).unwrap();
    let elsewhere = Store::new();
    let other_persister = persister(&elsewhere, &other);
    other_persister.load(None).unwrap();
    other_persister.start_auto_save().unwrap();
    let mut from_other = Vec::new();
    let sink = Arc::new(Mutex::new(Vec::new()));
    let s = sink.clone();
    let id = other.add_update_listener(move |u| s.lock().unwrap().push(u.to_vec()));
    elsewhere.set_cell("pets", "pet0", "species", "cat");
    from_other.extend(sink.lock().unwrap().drain(..));
    assert_eq!(from_other.len(), 1);
    updates.lock().unwrap().clear();
    // Merged updates are not given out again (no echo)…
    doc.apply_update(&from_other[0]).unwrap();
    assert!(updates.lock().unwrap().is_empty());
    // …but the app's own edits through `doc()` are.
    edit_doc(&doc, |txn, _, v| {
        v.insert(txn, "note", "by hand");
    });
    assert_eq!(updates.lock().unwrap().len(), 1);
    assert!(other.del_update_listener(id));
    assert!(!other.del_update_listener(id));
    elsewhere.set_cell("pets", "pet0", "species", "cow");
    assert!(sink.lock().unwrap().is_empty());
    // A panicking listener neither fails the save nor stops the others.
    doc.add_update_listener(|_| {
        panic!("an update listener failing on purpose (expected in this test)")
    });
    store.set_cell("pets", "pet9", "legs", 1);
    assert_eq!(updates.lock().unwrap().len(), 2);

    // A listener may remove itself, the last one, inside the app's own commit.
    let lone = YjsDoc::new();
    let id = Arc::new(Mutex::new(None::<u64>));
    let (me, calls) = (id.clone(), Arc::new(Mutex::new(0)));
    let counted = calls.clone();
    let handle = lone.clone();
    *id.lock().unwrap() = Some(lone.add_update_listener(move |_| {
        *counted.lock().unwrap() += 1;
        if let Some(id) = *me.lock().unwrap() {
            handle.del_update_listener(id);
        }
    }));
    for value in [1, 2] {
        let map = lone.doc().get_or_insert_map("m");
        map.insert(&mut lone.doc().transact_mut(), "k", value);
    }
    assert_eq!(*calls.lock().unwrap(), 1);

    // Another wrapper of the same yrs document hears this one's saves too.
    let twin = YjsDoc::from_doc(doc.doc().clone());
    let heard = Arc::new(Mutex::new(0));
    let h = heard.clone();
    twin.add_update_listener(move |_| *h.lock().unwrap() += 1);
    store.set_cell("pets", "pet9", "legs", 2);
    assert_eq!(*heard.lock().unwrap(), 1);
    assert_eq!(updates.lock().unwrap().len(), 3);
}

// ------------------------------------------------------------------ auto-load

#[test]
fn replicas_exchanging_updates_converge() {
    let (a, b) = (YjsDoc::new(), YjsDoc::new());
    let to_b = b.clone();
    a.add_update_listener(move |u| to_b.apply_update(u).unwrap());
    let to_a = a.clone();
    b.add_update_listener(move |u| to_a.apply_update(u).unwrap());
    let (store_a, store_b) = (Store::new(), MergeableStore::new(None));
    fill(&store_a, 99);
    let pa = persister(&store_a, &a);
    let pb = persister(&store_b, &b);
    let interval = Duration::from_secs(3600);
    pa.start_auto_persisting(None, interval, true).unwrap();
    pb.start_auto_persisting(None, interval, false).unwrap();
    let same = || normalized(&store_a.get_json()) == normalized(&store_b.get_json());
    wait_until("B to load A's content", same);
    assert!(!store_b.get_json().contains(r#"[{},{}]"#));

    store_a.set_cell("pets", "fido", "species", "dog");
    wait_until("B to get A's cell", || {
        store_b.get_cell("pets", "fido", "species").is_some()
    });
    store_b
        .set_cell("pets", "fido", "legs", 4)
        .del_cell("pets", "fido", "species", true);
    wait_until("A to get B's changes", || {
        store_a.get_cell("pets", "fido", "legs") == Some(4.into())
            && store_a.get_cell("pets", "fido", "species").is_none()
    });

    // Both sides write at once, the same cell included, from two threads. The table and the
    // shared row exist on both first: two replicas creating one table (or row) concurrently
    // each make a Y.Map for it, and Yjs keeps one of them whole (TinyBase's layout).
    store_a.set_cell("race", "shared", "by", "nobody");
    wait_until("B to get the table", || store_b.has_row("race", "shared"));
    let writer = |store: Store, tag: &'static str| {
        std::thread::spawn(move || {
            for i in 0..50 {
                store.set_cell("race", &format!("{tag}{i}"), "n", i);
                store.set_cell("race", "shared", "by", tag);
            }
        })
    };
    let ta = writer(store_a.clone(), "a");
    let tb = writer((*store_b).clone(), "b");
    ta.join().unwrap();
    tb.join().unwrap();
    wait_until("the stores to converge", same);
    assert_eq!(store_a.get_row_count("race"), 101);
    for doc in [&a, &b] {
        let fresh = Store::new();
        persister(&fresh, doc).load(None).unwrap();
        assert_eq!(fresh.get_content(), store_a.get_content());
    }
    // Stopped: the other side's changes reach the doc but no longer load.
    pa.destroy();
    store_b.set_value("after", true);
    wait_until("A's doc to get B's value", || {
        let probe = Store::new();
        persister(&probe, &a).load(None).unwrap();
        probe.get_value("after").is_some()
    });
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(store_a.get_value("after"), None);
    pb.destroy();
}

#[test]
fn persisters_of_one_doc_see_each_other() {
    let doc = YjsDoc::new();
    let (one, two, elsewhere) = (Store::new(), Store::new(), Store::new());
    let p1 = persister(&one, &doc);
    let p2 = persister(&two, &doc);
    let p3 = Persister::new(&elsewhere, YjsPersistence::with_map_name(&doc, "other"));
    let interval = Duration::from_secs(3600);
    for p in [&p1, &p2, &p3] {
        p.start_auto_persisting(None, interval, false).unwrap();
    }
    one.set_cell("t", "r", "c", "one");
    wait_until("the second store to load", || {
        two.get_cell("t", "r", "c").is_some()
    });
    elsewhere.set_value("v", 1);
    two.set_value("w", 2);
    wait_until("the first store to load", || one.get_value("w").is_some());
    assert_eq!(one.get_json(), r#"[{"t":{"r":{"c":"one"}}},{"w":2}]"#);
    assert_eq!(elsewhere.get_json(), r#"[{},{"v":1}]"#);
    let stats = p3.get_stats();
    assert_eq!((stats.loads, stats.saves), (1, 2));
}

// ------------------------------------------------------------------ bad input

/// lib0's unsigned variable-length integer.
fn var_uint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n & 0x7f) as u8 | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

#[test]
fn bad_update_bytes_are_content_errors() {
    let source = Store::new();
    fill(&source, 5);
    let doc = YjsDoc::new();
    let store = Store::new();
    let p = persister(&store, &doc);
    p.start_auto_persisting(None, Duration::from_secs(3600), false)
        .unwrap();
    source.set_value("x", 1);
    store.set_value("mine", true);
    // Another replica of this doc saves `source` over it (a replica of its own would make its
    // own `t` and `v`, and one of the two would win whole).
    let good = {
        let d = YjsDoc::new();
        d.apply_update(&doc.encode_update()).unwrap();
        persister(&source, &d).save().unwrap();
        d.encode_update()
    };
    let before = (doc.encode_update(), store.get_json());
    let content = |e: PersistError| assert_eq!(e.kind(), PersistErrorKind::Content, "{e}");
    for bad in [
        &[][..],
        &[0xff; 40][..],
        &good[..good.len() / 2],
        &good[..good.len() - 1],
    ] {
        content(doc.apply_update(bad).unwrap_err());
        assert_eq!((doc.encode_update(), store.get_json()), before);
    }
    // Random damage: an error or an update, never a panic.
    let mut rng = Rng::new(7);
    for _ in 0..2000 {
        let mut bytes = good.clone();
        for _ in 0..1 + rng.below(3) {
            let i = rng.below(bytes.len());
            bytes[i] = rng.below(256) as u8;
        }
        bytes.truncate(1 + rng.below(bytes.len()));
        let _ = YjsDoc::new().apply_update(&bytes);
    }
    // Updates yrs would overflow the stack on (values nested 10,000 deep, 200,000 clients
    // without changes) are refused like garbage.
    let marker = {
        let d = YjsDoc::from_doc(yrs::Doc::with_client_id(1));
        let root = d.doc().get_or_insert_map("tinybase");
        root.insert(
            &mut d.doc().transact_mut(),
            "k",
            Any::Array(Arc::from(vec![Any::Null])),
        );
        d.encode_update()
    };
    let at = marker.windows(3).position(|w| w == [117, 1, 126]).unwrap();
    let mut deep = marker[..at].to_vec();
    deep.extend(std::iter::repeat_n([117u8, 1], 10_000).flatten());
    deep.extend_from_slice(&marker[at..]);
    let mut empty = Vec::new();
    var_uint(&mut empty, 200_000);
    for client in 1..=200_000 {
        var_uint(&mut empty, 0);
        var_uint(&mut empty, client);
        var_uint(&mut empty, 0);
    }
    var_uint(&mut empty, 0);
    for bad in [deep, empty] {
        let error = doc.apply_update(&bad).unwrap_err();
        assert_eq!(error.kind(), PersistErrorKind::Content, "{error}");
        assert_eq!((doc.encode_update(), store.get_json()), before);
    }
    doc.apply_update(&good).unwrap();
    wait_until("the good update to load", || store.get_value("x").is_some());
    p.destroy();
}

#[test]
fn documents_of_the_wrong_shape_fail_to_load() {
    type Build = Box<dyn Fn(&mut yrs::TransactionMut, &yrs::MapRef)>;
    let cases: Vec<(&str, Build)> = vec![
        (
            "t not a map",
            Box::new(|txn, root| {
                root.insert(txn, "t", "tables");
                root.insert(txn, "v", MapPrelim::default());
            }),
        ),
        (
            "no v",
            Box::new(|txn, root| {
                root.insert(txn, "t", MapPrelim::default());
            }),
        ),
        (
            "a row not a map",
            Box::new(|txn, root| {
                let t = root.insert(txn, "t", MapPrelim::default());
                root.insert(txn, "v", MapPrelim::default());
                let table = t.insert(txn, "pets", MapPrelim::default());
                table.insert(txn, "fido", 5);
            }),
        ),
        (
            "an undefined cell",
            Box::new(|txn, root| {
                let t = root.insert(txn, "t", MapPrelim::default());
                root.insert(txn, "v", MapPrelim::default());
                let row = t.insert(txn, "pets", MapPrelim::default()).insert(
                    txn,
                    "fido",
                    MapPrelim::default(),
                );
                row.insert(txn, "legs", Any::Undefined);
            }),
        ),
        (
            "a binary value",
            Box::new(|txn, root| {
                root.insert(txn, "t", MapPrelim::default());
                let v = root.insert(txn, "v", MapPrelim::default());
                v.insert(txn, "blob", Any::Buffer(Arc::from(vec![1u8, 2])));
            }),
        ),
        (
            "a Y.Map as a cell",
            Box::new(|txn, root| {
                let t = root.insert(txn, "t", MapPrelim::default());
                root.insert(txn, "v", MapPrelim::default());
                let row = t.insert(txn, "pets", MapPrelim::default()).insert(
                    txn,
                    "fido",
                    MapPrelim::default(),
                );
                row.insert(txn, "toy", MapPrelim::default());
            }),
        ),
    ];
    for (name, build) in cases {
        let doc = YjsDoc::new();
        let root = doc.doc().get_or_insert_map("tinybase");
        build(&mut doc.doc().transact_mut(), &root);
        let store = Store::new();
        store.set_cell("mine", "r", "c", 1);
        let p = persister(&store, &doc);
        let error = p.load(None).unwrap_err();
        assert_eq!(error.kind(), PersistErrorKind::Content, "{name}: {error}");
        assert_eq!(store.get_json(), r#"[{"mine":{"r":{"c":1}}},{}]"#, "{name}");
        // A store that failed to load does not overwrite the doc.
        let before = doc.encode_update();
        assert_eq!(p.save().unwrap_err(), PersistError::LoadFailed, "{name}");
        assert_eq!(doc.encode_update(), before, "{name}");
    }
    // Any maps and arrays written by other code are object and array cells.
    let doc = YjsDoc::new();
    let root = doc.doc().get_or_insert_map("tinybase");
    {
        let mut txn = doc.doc().transact_mut();
        let t = root.insert(&mut txn, "t", MapPrelim::default());
        root.insert(&mut txn, "v", MapPrelim::default());
        let row = t.insert(&mut txn, "pets", MapPrelim::default()).insert(
            &mut txn,
            "fido",
            MapPrelim::default(),
        );
        let obj = Any::from_json(r#"{"z":1,"a":[true,null]}"#).unwrap();
        row.insert(&mut txn, "obj", obj);
        row.insert(&mut txn, "big", Any::Number(yrs::Number::Int(1 << 40)));
    }
    let store = Store::new();
    persister(&store, &doc).load(None).unwrap();
    assert_eq!(
        normalized(&store.get_json()),
        json!([{"pets": {"fido": {"obj": {"a": [true, null], "z": 1}, "big": 1_099_511_627_776_u64}}}, {}])
    );
}
