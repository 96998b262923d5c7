//! MergeableStore conformance against the fixtures recorded from TinyBase 10.0.1.

use serde_json::{Value as Json, json};
use tinystore_core::hash::{child_term, fnv1a, leaf_hash};
use tinystore_core::hlc::{Hlc, HlcClock, client_id_of};
use tinystore_core::json::{parse, stringify_pretty};
use tinystore_core::mergeable::{JsonForm, MergeableContent};
use tinystore_core::{Cell, MergeableStore};

use crate::fixtures::{apply_op, content_json, fixture, kit_dir};

const T0: u64 = 1_700_000_000_000;

/// The fixture file's exact text.
fn fixture_text(path: &str) -> String {
    std::fs::read_to_string(kit_dir().join("fixtures").join(path)).expect("fixture exists")
}

/// TinyBase's public JSON of `getMergeableContent()` printed with two-space indentation, as
/// the fixture files hold it.
fn public_pretty(store: &MergeableStore) -> String {
    let compact = store
        .get_mergeable_content()
        .to_json_string(JsonForm::PUBLIC_CONTENT);
    stringify_pretty(&parse(&compact).unwrap(), "  ") + "\n"
}

/// Fixture files end with a newline after the JSON.
fn pretty(json: &Json) -> String {
    stringify_pretty(json, "  ") + "\n"
}

fn fixed(unique_id: &str, now: u64) -> MergeableStore {
    MergeableStore::with_clock(Some(unique_id), Box::new(move || now))
}

fn script_store() -> MergeableStore {
    let script = fixture("store/script.json");
    let store = fixed(
        script["uniqueId"].as_str().unwrap(),
        script["now"].as_u64().unwrap(),
    );
    for op in script["ops"].as_array().unwrap() {
        apply_op(&store, op);
    }
    store
}

#[test]
fn script_renders_tinybase_mergeable_content_exactly() {
    let store = script_store();
    assert_eq!(
        public_pretty(&store),
        fixture_text("store/mergeable-content.json")
    );
    assert_eq!(
        pretty(&content_json(&store)),
        fixture_text("store/content.json")
    );
}

#[test]
fn script_hashes_match() {
    let store = script_store();
    let expected = fixture("store/hashes.json");
    assert_eq!(store.client_id(), expected["clientId"]);
    let (tables, values) = store.get_mergeable_content_hashes();
    assert_eq!(json!([tables, values]), expected["contentHashes"]);
    assert_eq!(
        json!(store.get_mergeable_table_hashes()),
        expected["tableHashes"]
    );
    let zero_tables = [("pets".to_string(), 0u32), ("species".to_string(), 0)]
        .into_iter()
        .collect();
    assert_eq!(
        json!(store.get_mergeable_row_hashes(&zero_tables)),
        expected["rowHashes"]
    );
    let zero_rows = serde_json::from_value(
        json!({"pets": {"fido": 0, "rex": 0, "felix": 0}, "species": {"dog": 0}}),
    )
    .unwrap();
    // Key order of the output follows the input's order, as in TinyBase.
    assert_eq!(
        serde_json::to_string(&store.get_mergeable_cell_hashes(&zero_rows)).unwrap(),
        serde_json::to_string(&expected["cellHashes"]).unwrap()
    );
    assert_eq!(
        json!(store.get_mergeable_value_hashes()),
        expected["valueHashes"]
    );
}

#[test]
fn file_form_loads_back_to_equal_hashes() {
    let store = script_store();
    let file = store.get_mergeable_content_json();
    let loaded = MergeableStore::new(None);
    loaded.set_mergeable_content_json(&file).unwrap();
    assert_eq!(
        loaded.get_mergeable_content_hashes(),
        store.get_mergeable_content_hashes()
    );
    assert_eq!(loaded.get_mergeable_content_json(), file);
    assert_eq!(loaded.get_content(), store.get_content());
}

#[test]
fn hlc_fixture() {
    let f = fixture("store/hlc.json");
    for (unique_id, client_id) in f["clientIds"].as_object().unwrap() {
        assert_eq!(
            std::str::from_utf8(&client_id_of(unique_id)).unwrap(),
            client_id.as_str().unwrap(),
            "{unique_id}"
        );
    }
    let first = &f["firstThreeNextHlcs"];
    let clock = HlcClock::new(first["uniqueId"].as_str(), Some(Box::new(|| T0)));
    for hlc in first["hlcs"].as_array().unwrap() {
        assert_eq!(clock.next().as_str(), hlc.as_str().unwrap());
    }
    let seen = Hlc::parse(f["afterSeeingRemote"]["seen"].as_str().unwrap()).unwrap();
    clock.seen(Some(&seen));
    assert_eq!(clock.next().as_str(), f["afterSeeingRemote"]["next"]);
    for e in f["encoded"].as_array().unwrap() {
        let id = client_id_of(e["uniqueId"].as_str().unwrap());
        let hlc = Hlc::encode(
            e["logicalTime"].as_u64().unwrap(),
            e["counter"].as_u64().unwrap(),
            &id,
        );
        assert_eq!(hlc.as_str(), e["hlc"]);
        let (t, c, client) = hlc.decode();
        assert_eq!(json!([t, c, client]), e["decoded"]);
    }
}

fn fixture_cell(v: &Json) -> Option<Cell> {
    match v {
        Json::String(s) if s == "<undefined>" => None,
        other => Some(Cell::from_json(other.clone())),
    }
}

#[test]
fn hash_helpers_fixture() {
    let f = fixture("hashes.json");
    for e in f["getHash"].as_array().unwrap() {
        assert_eq!(
            fnv1a(e["string"].as_str().unwrap().as_bytes()),
            e["hash"].as_u64().unwrap() as u32
        );
    }
    for key in ["getCellHash", "getValueHash"] {
        for e in f[key].as_array().unwrap() {
            let cell = fixture_cell(&e["value"]);
            assert_eq!(
                leaf_hash(cell.as_ref(), e["hlc"].as_str().unwrap()),
                e["hash"].as_u64().unwrap() as u32,
                "{key} {e}"
            );
        }
    }
    let h = |v: &Json| v.as_u64().unwrap() as u32;
    for (key, id_key, child_key) in [
        ("getCellInRowHash", "cellId", "cellHash"),
        ("getRowInTableHash", "rowId", "rowHash"),
        ("getTableInTablesHash", "tableId", "tableHash"),
        ("getValueInValuesHash", "valueId", "valueHash"),
    ] {
        for e in f[key].as_array().unwrap() {
            assert_eq!(
                child_term(e[id_key].as_str().unwrap(), h(&e[child_key])),
                h(&e["hash"]),
                "{key}"
            );
        }
    }
    for e in f["addOrRemoveHash"].as_array().unwrap() {
        assert_eq!(h(&e["a"]) ^ h(&e["b"]), h(&e["hash"]));
    }
    // The composed tree: a row of two cells, in a table, in tables; and values.
    let composed = &f["composed"];
    let store = MergeableStore::new(None);
    let mut cells = serde_json::Map::new();
    for (id, stamp) in composed["cells"].as_object().unwrap() {
        cells.insert(id.clone(), stamp.clone());
    }
    let content = json!([
        [{"pets": [{"fido": [cells, "", 0]}, "", 0]}, "", 0],
        [{"open": ["\u{FFFC}", "", 0]}, "", 0]
    ]);
    // Merging (not loading) recomputes every container hash from the leaves.
    let changes = MergeableContent::from_json(&content, false, u64::MAX).unwrap();
    store.apply_mergeable_changes(&changes).unwrap();
    assert_eq!(
        json!(store.get_mergeable_table_hashes()["pets"]),
        composed["getTableHash"]
    );
    assert_eq!(
        json!(store.get_mergeable_content_hashes().0),
        composed["getTablesHash"]
    );
    let tables = [("pets".to_string(), 0)].into_iter().collect();
    assert_eq!(
        json!(store.get_mergeable_row_hashes(&tables)["pets"]["fido"]),
        composed["getRowHash"]
    );
    assert_eq!(
        MergeableStore::new(None).get_mergeable_content_hashes(),
        (0, 0)
    );
}

#[test]
fn merge_fixture() {
    let a = fixed("client-a", T0);
    let b = fixed("client-b", T0 + 1000);
    a.set_cell("pets", "fido", "color", "brown");
    a.set_value("open", true);
    b.set_cell("pets", "fido", "color", "black");
    b.set_cell("pets", "felix", "species", "cat");
    a.del_value("open");
    assert_eq!(public_pretty(&a), fixture_text("merge/a-before.json"));
    assert_eq!(public_pretty(&b), fixture_text("merge/b-before.json"));
    a.merge(&b);
    assert_eq!(
        pretty(&content_json(&a)),
        fixture_text("merge/merged-content.json")
    );
    assert_eq!(public_pretty(&a), fixture_text("merge/a-after.json"));
    assert_eq!(public_pretty(&b), fixture_text("merge/b-after.json"));
}

#[test]
fn spec_worked_example_and_transaction_changes() {
    let s = fixed("client1", T0);
    s.set_cell("pets", "fido", "species", "dog")
        .set_value("open", true);
    assert_eq!(
        s.get_mergeable_content()
            .to_json_string(JsonForm::PUBLIC_CONTENT),
        r#"[[{"pets":[{"fido":[{"species":["dog","NjEtLV-----mmxrx",3368287843]},"",1554302234]},"",513138410]},"",3126691051],[{"open":[true,"NjEtLV----0mmxrx",2843401470]},"",3110897815]]"#
    );
    s.del_cell("pets", "fido", "species", false);
    assert!(!s.has_tables());
    assert!(
        s.get_mergeable_content_json()
            .contains(r#""species":["￼","NjEtLV----1mmxrx",3478600308]"#)
    );
    let outside = s
        .get_transaction_mergeable_changes(false)
        .to_json_string(JsonForm::CHANGES);
    assert_eq!(outside, "[[{}],[{}],1]");
    let public = |hashes| JsonForm {
        hashes,
        changes: true,
        encoded: false,
    };
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    s.transaction(|st| {
        st.set_cell("pets", "fido", "legs", 3);
        st.del_cell("pets", "fido", "legs", false);
        st.del_value("open");
        let m = MergeableStore::from_store(st).unwrap();
        for hashes in [true, false] {
            let changes = m.get_transaction_mergeable_changes(hashes);
            seen.lock()
                .unwrap()
                .push(changes.to_json_string(public(hashes)));
        }
    });
    // Expected strings printed by TinyBase 10.0.1 for the same calls.
    assert_eq!(
        *seen.lock().unwrap(),
        [
            r#"[[{"pets":[{"fido":[{"legs":[null,"NjEtLV----3mmxrx",983193034]},"",1060615997]},"",914043029]},"",1632192165],[{"open":[null,"NjEtLV----4mmxrx",2440958893]},"",531313042],1]"#,
            r#"[[{"pets":[{"fido":[{"legs":[null,"NjEtLV----3mmxrx"]}]}]}],[{"open":[null,"NjEtLV----4mmxrx"]}],1]"#,
        ]
    );
    let hashes = |pairs: &[(&str, u32)]| pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect();
    let (new_tables, differing) = s.get_mergeable_table_diff(&hashes(&[("pets", 1)]));
    assert!(new_tables.thing.is_empty());
    assert_eq!(json!(differing), json!({"pets": 914043029}));
    let (new_tables, _) = s.get_mergeable_table_diff(&hashes(&[]));
    let tables = MergeableContent {
        tables: new_tables,
        ..Default::default()
    };
    assert_eq!(
        tables.to_json_string(JsonForm::CHANGES),
        "[[{\"pets\":[{\"fido\":[{\"species\":[\"\u{FFFC}\",\"NjEtLV----1mmxrx\"],\"legs\":[\"\u{FFFC}\",\"NjEtLV----3mmxrx\"]}]}]}],[{}],1]"
    );
    let rows = serde_json::from_value(json!({"pets": {"fido": 1}})).unwrap();
    let (new_rows, differing) = s.get_mergeable_row_diff(&rows);
    assert!(new_rows.thing.is_empty());
    assert_eq!(json!(differing), json!({"pets": {"fido": 1060615997}}));
    let cells = serde_json::from_value(json!({"pets": {"fido": {"legs": 983193034}}})).unwrap();
    let diff = MergeableContent {
        tables: s.get_mergeable_cell_diff(&cells),
        ..Default::default()
    };
    assert_eq!(
        diff.to_json_string(JsonForm::CHANGES),
        "[[{\"pets\":[{\"fido\":[{\"species\":[\"\u{FFFC}\",\"NjEtLV----1mmxrx\"]}]}]}],[{}],1]"
    );
    let values = MergeableContent {
        values: s.get_mergeable_value_diff(&hashes(&[])),
        ..Default::default()
    };
    assert_eq!(
        values.to_json_string(JsonForm::CHANGES),
        "[[{}],[{\"open\":[\"\u{FFFC}\",\"NjEtLV----4mmxrx\"]}],1]"
    );
}

#[test]
fn invalid_payloads_are_rejected_whole_and_change_nothing() {
    let s = fixed("client1", T0);
    s.set_cell("pets", "fido", "species", "dog")
        .set_value("open", true);
    let before = s.get_mergeable_content_json();
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = calls.clone();
    s.add_tables_listener(
        move |_| {
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        },
        false,
    );
    let future = "zzzzzzzzzzzzzzzz";
    let bad = [
        "".to_string(),
        "not json".into(),
        "{}".into(),
        "[1,2]".into(),
        "[[{}],[{}],2]".into(),
        "[[{}],[{}],1,1]".into(),
        // A valid change beside an invalid one: the valid one must not land either.
        r#"[[{"pets":[{"fido":[{"species":["cat","NjEtLV----Ammxrx"]}]}]}],[{"open":[1,"NjEtLV----Bmmxrx","x"]}],1]"#.into(),
        format!(r#"[[{{"pets":[{{"fido":[{{"species":["cat","NjEtLV----Ammxrx"]}}]}}]}}],[{{"open":[1,"{future}"]}}],1]"#),
        // Five minutes and a millisecond ahead of the clock.
        format!(
            r#"[[{{}}],[{{"open":[1,"{}"]}}],1]"#,
            tinystore_core::hlc::Hlc::encode(T0 + 300_001, 0, b"abcde")
        ),
        r#"[[{"t":[{"r":[{"c":["\uFFFDnot json","NjEtLV----Ammxrx"]}]}]}],[{}],1]"#.into(),
        r#"[[{"t":[{"r":[{"c":[1,5]}]}]}],[{}],1]"#.into(),
        r#"[[{"t":[{"r":[{"c":[1,"NjEtLV----Ammxrx",1,2]}]}]}],[{}],1]"#.into(),
        r#"[[{"t":[{"r":[["c"]]}]}],[{}],1]"#.into(),
        r#"[[{"t":[{"r":[{"c":[]}]}]}],[{}],1]"#.into(),
        "[".repeat(5000),
    ];
    for payload in &bad {
        assert!(
            s.apply_mergeable_changes_json(payload).is_err(),
            "{payload}"
        );
        assert!(s.set_mergeable_content_json(payload).is_err(), "{payload}");
    }
    // Full content must carry hashes everywhere and have exactly two parts.
    for payload in [
        r#"[[{},"",0],[{"v":[1,"NjEtLV----Ammxrx"]},"",0]]"#,
        r#"[[{},"",0],[{},"",0],1]"#,
        r#"[[{},"",0],[{"v":[1,"NjEtLV----Ammxrx",1.5e400]},"",0]]"#,
    ] {
        assert!(s.set_mergeable_content_json(payload).is_err(), "{payload}");
    }
    // A typed payload with a NaN cell is refused too.
    let mut typed = s.get_mergeable_content();
    typed.values.thing["open"].thing = Some(tinystore_core::Cell::Number(f64::NAN));
    assert!(s.apply_mergeable_changes(&typed).is_err());
    assert!(s.set_mergeable_content(&typed).is_err());
    assert_eq!(s.get_mergeable_content_json(), before);
    assert_eq!(calls.load(std::sync::atomic::Ordering::Relaxed), 0);
}

#[test]
fn rollback_restores_stamps_and_hashes() {
    let s = fixed("client1", T0);
    s.set_cell("pets", "fido", "species", "dog")
        .set_value("open", true);
    let before = s.get_mergeable_content_json();
    let hashes = s.get_mergeable_content_hashes();
    let other = fixed("client2", T0);
    other
        .set_cell("pets", "rex", "legs", 4)
        .set_value("open", false);
    s.transaction_with_rollback(
        |st| {
            st.set_cell("pets", "fido", "species", "cat");
            st.del_row("pets", "fido");
            st.set_cell("new", "row", "cell", 1);
            st.del_value("open");
            MergeableStore::from_store(st)
                .unwrap()
                .apply_mergeable_changes(&other.get_mergeable_content())
                .unwrap();
        },
        |_| true,
    );
    assert_eq!(s.get_mergeable_content_json(), before);
    assert_eq!(s.get_mergeable_content_hashes(), hashes);
    // The clock is not rewound: the next write gets a later HLC than any rolled-back one.
    s.set_value("after", 1);
    let after = &s.get_mergeable_content().values.thing["after"].hlc;
    assert!(after.as_str() > "NjEtLV----4mmxrx", "{after}");
}

#[test]
fn schema_defaults_get_the_empty_hlc_like_tinybase() {
    // Expected stamps printed by TinyBase 10.0.1 for the same calls.
    let s = fixed("client1", T0);
    s.set_tables_schema_json(
        r#"{"pets":{"species":{"type":"string","default":"dog"},"legs":{"type":"number"}}}"#,
    )
    .unwrap();
    s.set_values_schema_json(
        r#"{"open":{"type":"boolean","default":false},"n":{"type":"number"}}"#,
    )
    .unwrap();
    s.set_row(
        "pets",
        "fido",
        &[("legs".to_string(), tinystore_core::Cell::from(4))]
            .into_iter()
            .collect(),
    );
    let row = |s: &MergeableStore| {
        let c = s.get_mergeable_content();
        MergeableContent {
            tables: tinystore_core::mergeable::Stamp {
                thing: [(
                    "x".to_string(),
                    tinystore_core::mergeable::Stamp {
                        thing: [(
                            "fido".to_string(),
                            c.tables.thing["pets"].thing["fido"].clone(),
                        )]
                        .into_iter()
                        .collect(),
                        hlc: String::new(),
                        hash: None,
                    },
                )]
                .into_iter()
                .collect(),
                hlc: String::new(),
                hash: None,
            },
            values: c.values,
        }
        .to_json_string(JsonForm {
            hashes: true,
            changes: false,
            encoded: false,
        })
    };
    assert!(
        row(&s).contains(
            r#"{"legs":[4,"NjEtLV-----mmxrx",2654051909],"species":["dog","",1501595313]}"#
        ),
        "{}",
        row(&s)
    );
    s.set_cell("pets", "fido", "species", "cat");
    s.del_cell("pets", "fido", "species", false);
    assert!(
        row(&s).contains(r#""species":["dog","NjEtLV----1mmxrx",1808820991]"#),
        "{}",
        row(&s)
    );
    s.set_values(
        &[("n".to_string(), tinystore_core::Cell::from(1))]
            .into_iter()
            .collect(),
    );
    assert!(row(&s).ends_with(r#"[{"open":[false,"",3177411910],"n":[1,"NjEtLV----2mmxrx",3537940855]},"",3064016703]]"#), "{}", row(&s));
    s.set_value("open", true).del_value("open");
    assert!(row(&s).ends_with(r#"[{"open":[false,"NjEtLV----4mmxrx",2173494121],"n":[1,"NjEtLV----2mmxrx",3537940855]},"",2245907055]]"#), "{}", row(&s));
}
