//! Store spec §3 (the API surface: getters, setters, deleters, JSON, sorting).

use super::*;

#[test]
fn getters_for_missing_things_return_empty() {
    let store = store_with(json!({"t": {"r": {"c": 1}}}), json!({"v": 1}));
    assert_eq!(store.get_table("x"), tinystore_core::Table::new());
    assert_eq!(store.get_row("t", "x"), Row::new());
    assert_eq!(store.get_row("x", "r"), Row::new());
    assert_eq!(store.get_cell("t", "r", "x"), None);
    assert_eq!(store.get_cell("x", "r", "c"), None);
    assert_eq!(store.get_value("x"), None);
    assert_eq!(store.get_row_ids("x"), Vec::<String>::new());
    assert_eq!(store.get_cell_ids("t", "x"), Vec::<String>::new());
    assert_eq!(store.get_table_cell_ids("x"), Vec::<String>::new());
    assert_eq!(store.get_row_count("x"), 0);
    assert_eq!(
        store.get_sorted_row_ids(&SortedRowIdsArgs::new("x")),
        Vec::<String>::new()
    );
    assert!(!store.has_table("x"));
    assert!(!store.has_table_cell("t", "x"));
    assert!(!store.has_table_cell("x", "c"));
    assert!(!store.has_row("t", "x"));
    assert!(!store.has_cell("t", "r", "x"));
    assert!(!store.has_value("x"));
    let empty = Store::new();
    assert_eq!(empty.get_tables(), Tables::new());
    assert_eq!(empty.get_values(), Values::new());
    assert_eq!(empty.get_content(), (Tables::new(), Values::new()));
    assert!(!empty.has_tables());
    assert!(!empty.has_values());
    assert!(!empty.is_mergeable());
}

#[test]
fn getters_return_content_and_ids() {
    let store = Store::new();
    store
        .set_cell("t", "r1", "b", 1)
        .set_cell("t", "r2", "a", 2)
        .set_cell("t", "r2", "b", 3)
        .set_cell("t", "r3", "c", 4)
        .set_cell("u", "x", "y", "z")
        .set_value("v", 1)
        .set_value("w", "s");
    assert_eq!(store.get_table_cell_ids("t"), ids(&["b", "a", "c"]));
    assert_eq!(store.get_row_count("t"), 3);
    assert_eq!(store.get_row_ids("t"), ids(&["r1", "r2", "r3"]));
    assert_eq!(store.get_cell_ids("t", "r2"), ids(&["a", "b"]));
    assert!(store.has_table_cell("t", "c"));
    assert!(!store.has_table_cell("u", "c"));
    assert_eq!(
        store.get_table("t"),
        table_from_json(
            &json!({"r1": {"b": 1}, "r2": {"a": 2, "b": 3}, "r3": {"c": 4}}),
            false
        )
        .unwrap()
    );
    assert_eq!(store.get_row("t", "r2"), row(json!({"a": 2, "b": 3})));
    assert_eq!(
        store.get_tables(),
        tables(
            json!({"t": {"r1": {"b": 1}, "r2": {"a": 2, "b": 3}, "r3": {"c": 4}}, "u": {"x": {"y": "z"}}})
        )
    );
    assert_eq!(store.get_values(), values(json!({"v": 1, "w": "s"})));
    let (t, v) = store.get_content();
    assert_eq!((t, v), (store.get_tables(), store.get_values()));
    let mut counts = vec![];
    store.for_each_table_cell("t", |c, n| counts.push(format!("{c}:{n}")));
    assert_eq!(counts, ["b:2", "a:1", "c:1"]);
    // Cell id use is counted: removing the only row using a cell removes it from the table.
    store.del_row("t", "r3");
    assert_eq!(store.get_table_cell_ids("t"), ids(&["b", "a"]));
    assert!(!store.has_table_cell("t", "c"));
    store.del_row("t", "r1");
    assert_eq!(store.get_table_cell_ids("t"), ids(&["b", "a"]));
    assert_eq!(store.get_row_count("t"), 1);
}

#[test]
fn for_each_iterates_in_order() {
    let store = store_with(
        json!({"t": {"r1": {"b": 1, "a": 2}, "r2": {"c": 3}}, "u": {"r": {"x": 1}}}),
        json!({"w": 1, "v": 2}),
    );
    let mut seen = vec![];
    store.for_each_table(|t| seen.push(format!("table {t}")));
    store.for_each_row("t", |r| seen.push(format!("row {r}")));
    store.for_each_cell("t", "r1", |c, v| seen.push(format!("cell {c}={v}")));
    store.for_each_value(|k, v| seen.push(format!("value {k}={v}")));
    store.for_each_row("missing", |r| seen.push(format!("never {r}")));
    store.for_each_cell("t", "missing", |c, _| seen.push(format!("never {c}")));
    assert_eq!(
        seen,
        [
            "table t",
            "table u",
            "row r1",
            "row r2",
            "cell b=1",
            "cell a=2",
            "value w=1",
            "value v=2"
        ]
    );
    // The callback may use the store.
    store.for_each_table(|t| {
        store.del_table(t);
    });
    assert!(!store.has_tables());
}

fn sorted(store: &Store, args: SortedRowIdsArgs) -> Vec<String> {
    store.get_sorted_row_ids(&args)
}

#[test]
fn sorted_row_ids_follow_the_spec_example() {
    let store = store_with(
        json!({"t": {"a": {"n": 3, "m": 1}, "b": {"n": 1}, "c": {"m": 1}, "d": {"n": "x"}, "e": {"n": 2}}}),
        json!({}),
    );
    let t = || SortedRowIdsArgs::new("t");
    assert_eq!(
        sorted(&store, t().cell_id("n")),
        ids(&["c", "b", "e", "a", "d"])
    );
    assert_eq!(
        sorted(&store, t().cell_id("n").descending(true)),
        ids(&["d", "a", "e", "b", "c"])
    );
    assert_eq!(
        sorted(&store, t().cell_id("n").offset(1).limit(2)),
        ids(&["b", "e"])
    );
    assert_eq!(sorted(&store, t().cell_id("n").offset(3)), ids(&["a", "d"]));
    assert_eq!(
        sorted(&store, t().cell_id("n").limit(0)),
        Vec::<String>::new()
    );
    assert_eq!(
        sorted(&store, t().cell_id("n").offset(10).limit(2)),
        Vec::<String>::new()
    );
    // By row id.
    assert_eq!(sorted(&store, t()), ids(&["a", "b", "c", "d", "e"]));
    assert_eq!(
        sorted(&store, t().descending(true)),
        ids(&["e", "d", "c", "b", "a"])
    );
    // A custom sorter gets the decoded keys (None when missing).
    let as_text = |x: Option<&Cell>| match x {
        None => "undefined".to_string(),
        Some(Cell::String(s)) => s.to_string(),
        Some(other) => other.to_string(),
    };
    assert_eq!(
        sorted(
            &store,
            t().cell_id("n")
                .sorter(move |a, b| as_text(a).cmp(&as_text(b)))
        ),
        ids(&["b", "e", "a", "c", "d"])
    );
    // Strings compare by code units; numbers numerically.
    let store = store_with(
        json!({"t": {"a": {"s": "b"}, "b": {"s": "B"}, "c": {"s": "a"}}, "u": {"d": {"s": 10}, "e": {"s": 9}, "f": {"s": -1.5}}}),
        json!({}),
    );
    assert_eq!(
        sorted(&store, SortedRowIdsArgs::new("t").cell_id("s")),
        ids(&["b", "c", "a"])
    );
    assert_eq!(
        sorted(&store, SortedRowIdsArgs::new("u").cell_id("s")),
        ids(&["f", "e", "d"])
    );
}

/// Row `i` of a table mixing numbers, strings, booleans, nulls and missing sort cells, for
/// which JavaScript's `<` is not a consistent order.
fn mixed_table(n: usize) -> Tables {
    let mut table = tinystore_core::Table::new();
    for i in 0..n {
        let k = (i * 37) % 11;
        let r = match k {
            0..=2 => row(json!({"m": 1})),
            3 | 4 => row(json!({"n": format!("s{}", (i * 7) % 5)})),
            5 => row(json!({"n": true})),
            6 => row(json!({"n": null})),
            _ => row(json!({"n": ((i * 13) % 17) as i64 - 5})),
        };
        table.insert(format!("r{i}"), r);
    }
    Tables::from([("t".to_string(), table)])
}

#[test]
fn sorted_row_ids_match_javascript_sort_for_inconsistent_keys() {
    // Expected orders recorded from tinybase 10.0.1 on node (V8's TimSort). Below 64 rows V8
    // sorts by binary insertion only, which the store reproduces exactly.
    let cases = [
        (
            20,
            "0,1,8,16,3,6,7,11,14,17,18,4,15,2,19,10,5,9,12,13",
            "13,12,9,5,10,19,2,15,4,18,17,14,11,7,6,3,16,8,1,0",
        ),
        (
            63,
            "0,1,21,38,8,46,16,3,6,7,11,14,17,18,22,25,28,29,33,36,39,40,44,47,50,51,54,55,58,61,62,4,15,24,26,2,19,10,5,20,45,23,31,9,12,37,41,48,59,32,49,57,27,35,60,13,30,53,56,34,42,52,43",
            "42,34,30,13,60,43,52,35,27,57,49,59,48,41,37,40,12,9,56,31,53,23,45,20,5,10,19,2,32,26,24,15,4,62,61,58,55,54,51,50,47,44,39,36,33,29,28,25,22,18,17,14,11,7,6,3,16,46,8,38,21,1,0",
        ),
    ];
    for (n, asc, desc) in cases {
        let store = Store::new();
        store.set_tables(&mixed_table(n));
        let strip = |v: Vec<String>| {
            v.iter()
                .map(|r| r[1..].to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        let args = SortedRowIdsArgs::new("t").cell_id("n");
        assert_eq!(
            strip(store.get_sorted_row_ids(&args)),
            asc,
            "ascending, {n} rows"
        );
        let args = args.descending(true);
        assert_eq!(
            strip(store.get_sorted_row_ids(&args)),
            desc,
            "descending, {n} rows"
        );
    }
}

#[test]
fn add_row_generates_ids_as_in_the_spec() {
    let store = Store::new();
    let r = row(json!({"a": 1}));
    assert_eq!(store.add_row("t", &r, true).as_deref(), Some("0"));
    assert_eq!(store.add_row("t", &r, true).as_deref(), Some("1"));
    store.set_row("t", "5", &r);
    assert_eq!(store.add_row("t", &r, true).as_deref(), Some("2"));
    store.del_row("t", "0");
    assert_eq!(store.add_row("t", &r, true).as_deref(), Some("0"));
    assert_eq!(store.add_row("t", &r, true).as_deref(), Some("3"));
    // Without reuse the counter continues; the pool is kept for later.
    store.del_row("t", "1");
    assert_eq!(store.add_row("t", &r, false).as_deref(), Some("4"));
    assert_eq!(store.add_row("t", &r, true).as_deref(), Some("1"));
    assert_eq!(store.get_row_ids("t"), ids(&["5", "2", "0", "3", "4", "1"]));
    // Counter skips ids already present.
    store.set_row("t", "6", &r);
    assert_eq!(store.add_row("t", &r, true).as_deref(), Some("7"));
    // Non-numeric deleted ids are not pooled.
    store.set_row("t", "x", &r);
    store.del_row("t", "x");
    assert_eq!(store.add_row("t", &r, true).as_deref(), Some("8"));
    // Pool is FIFO.
    store.del_row("t", "3").del_row("t", "2");
    assert_eq!(store.add_row("t", &r, true).as_deref(), Some("3"));
    assert_eq!(store.add_row("t", &r, true).as_deref(), Some("2"));
    // Dropped with the table.
    store.del_row("t", "0");
    store.del_table("t");
    assert_eq!(store.add_row("t", &r, true).as_deref(), Some("0"));
    assert_eq!(store.add_row("t", &r, true).as_deref(), Some("1"));
    // Per table.
    assert_eq!(store.add_row("u", &r, true).as_deref(), Some("0"));
}

#[test]
fn set_partial_row_and_values_merge_and_apply_changes_deletes() {
    let store = store_with(
        json!({"t": {"r": {"a": 1, "b": 2}}}),
        json!({"v": 1, "w": 2}),
    );
    store.set_partial_row("t", "r", &row(json!({"b": 3, "c": 4})));
    store.set_partial_values(&values(json!({"w": 3, "x": 4})));
    assert_eq!(
        store.get_json(),
        r#"[{"t":{"r":{"a":1,"b":3,"c":4}}},{"v":1,"w":3,"x":4}]"#
    );
    let changes = Changes::from_json(
        &json!([{"t": {"r": {"a": null, "c": 5}}, "u": {"r": {"z": 1}}}, {"v": null, "y": 1}, 1]),
    )
    .unwrap();
    store.apply_changes(&changes);
    assert_eq!(
        store.get_json(),
        r#"[{"t":{"r":{"b":3,"c":5}},"u":{"r":{"z":1}}},{"w":3,"x":4,"y":1}]"#
    );
    let changes = Changes::from_json(&json!([{"t": null, "u": {"r": null}}, {}, 1])).unwrap();
    store.apply_changes(&changes);
    assert_eq!(store.get_json(), r#"[{},{"w":3,"x":4,"y":1}]"#);
    // set_partial_row with nothing valid is a no-op.
    store.set_partial_row(
        "t",
        "r",
        &Row::from([("a".to_string(), Cell::Number(f64::NAN))]),
    );
    assert!(!store.has_tables());
}

#[test]
fn full_setters_replace_at_their_level() {
    let store = store_with(
        json!({"t": {"r": {"a": 1, "b": 2}, "s": {"a": 1}}, "u": {"r": {"a": 1}}}),
        json!({"v": 1, "w": 2}),
    );
    store.set_row("t", "r", &row(json!({"b": 5, "c": 6})));
    assert_eq!(store.get_cell_ids("t", "r"), ids(&["b", "c"]));
    store.set_table(
        "t",
        &table_from_json(&json!({"s": {"z": 1}}), false).unwrap(),
    );
    assert_eq!(
        store.get_tables_json(),
        r#"{"t":{"s":{"z":1}},"u":{"r":{"a":1}}}"#
    );
    store.set_tables(&tables(json!({"u": {"q": {"a": 2}}})));
    assert_eq!(store.get_tables_json(), r#"{"u":{"q":{"a":2}}}"#);
    store.set_values(&values(json!({"x": 1})));
    assert_eq!(store.get_values_json(), r#"{"x":1}"#);
    // set_content: an empty part deletes everything in it.
    store.set_content(&tables(json!({"n": {"r": {"c": 1}}})), &Values::new());
    assert_eq!(store.get_json(), r#"[{"n":{"r":{"c":1}}},{}]"#);
    store.set_content(&Tables::new(), &values(json!({"v": 1})));
    assert_eq!(store.get_json(), r#"[{},{"v":1}]"#);
    store.set_value_with("v", |old| {
        Cell::Number(old.and_then(Cell::as_f64).unwrap() + 1.0)
    });
    store.set_cell_with("t", "r", "c", |old| {
        assert_eq!(old, None);
        Cell::from("first")
    });
    assert_eq!(store.get_json(), r#"[{"t":{"r":{"c":"first"}}},{"v":2}]"#);
}

#[test]
fn json_getters_are_byte_exact_with_js_key_order() {
    let store = Store::new();
    store
        .set_cell("t", "b", "x", 1)
        .set_cell("t", "b", "10", 2)
        .set_cell("t", "b", "2", 3)
        .set_cell("t", "10", "a", 1)
        .set_cell("t", "2", "a", 1)
        .set_cell("5", "r", "c", 1)
        .set_value("z", 1)
        .set_value("3", 2);
    assert_eq!(
        store.get_json(),
        r#"[{"5":{"r":{"c":1}},"t":{"2":{"a":1},"10":{"a":1},"b":{"2":3,"10":2,"x":1}}},{"3":2,"z":1}]"#
    );
    assert_eq!(
        store.get_tables_json(),
        r#"{"5":{"r":{"c":1}},"t":{"2":{"a":1},"10":{"a":1},"b":{"2":3,"10":2,"x":1}}}"#
    );
    assert_eq!(store.get_values_json(), r#"{"3":2,"z":1}"#);
    // Id getters keep insertion order.
    assert_eq!(store.get_row_ids("t"), ids(&["b", "10", "2"]));
    assert_eq!(store.get_table_ids(), ids(&["t", "5"]));
    assert_eq!(store.get_cell_ids("t", "b"), ids(&["x", "10", "2"]));
    assert_eq!(store.get_value_ids(), ids(&["z", "3"]));
    assert_eq!(store.get_table_cell_ids("t"), ids(&["x", "10", "2", "a"]));
    // Numbers print as JavaScript does; strings are escaped as JSON.stringify does.
    let store = Store::new();
    store
        .set_cell("t", "r", "a", 1e21)
        .set_cell("t", "r", "b", 0.1)
        .set_cell("t", "r", "c", -0.0)
        .set_cell("t", "r", "d", "q\"\n\u{1}é");
    assert_eq!(
        store.get_tables_json(),
        "{\"t\":{\"r\":{\"a\":1e+21,\"b\":0.1,\"c\":0,\"d\":\"q\\\"\\n\\u0001é\"}}}"
    );
}

#[test]
fn set_json_variants() {
    let store = Store::new();
    store
        .set_json(r#"[{"t":{"r":{"a":1}}},{"v":true}]"#)
        .unwrap();
    assert_eq!(store.get_json(), r#"[{"t":{"r":{"a":1}}},{"v":true}]"#);
    // Replaces.
    store.set_json(r#"[{"u":{"r":{"b":2}}},{"w":1}]"#).unwrap();
    assert_eq!(store.get_json(), r#"[{"u":{"r":{"b":2}}},{"w":1}]"#);
    // Malformed JSON: error, store untouched.
    let before = store.get_json();
    assert!(store.set_json(r#"[{"t":"#).is_err());
    assert!(store.set_json("nope").is_err());
    assert!(store.set_tables_json("{").is_err());
    assert!(store.set_values_json("[1").is_err());
    assert_eq!(store.get_json(), before);
    // Tables-only fallback.
    store.set_json(r#"{"x":{"r":{"c":1}}}"#).unwrap();
    assert_eq!(store.get_json(), r#"[{"x":{"r":{"c":1}}},{"w":1}]"#);
    store.set_tables_json(r#"{"y":{"r":{"c":2}}}"#).unwrap();
    store.set_values_json(r#"{"k":"\uFFFD[1,2]"}"#).unwrap();
    assert_eq!(
        store.get_json(),
        "[{\"y\":{\"r\":{\"c\":2}}},{\"k\":\"\u{FFFD}[1,2]\"}]"
    );
    assert_eq!(store.get_value("k"), Some(Cell::Array("[1,2]".into())));
    // "{}" deletes all.
    store.set_values_json("{}").unwrap();
    assert_eq!(store.get_json(), r#"[{"y":{"r":{"c":2}}},{}]"#);
    store.set_tables_json("{}").unwrap();
    assert_eq!(store.get_json(), "[{},{}]");
    store.set_json(r#"[{"t":{"r":{"a":1}}},{"v":1}]"#).unwrap();
    store.set_json("[{},{}]").unwrap();
    assert_eq!(store.get_json(), "[{},{}]");
    // Round trip of everything through JSON.
    let a = Store::new();
    a.set_cell("t", "r", "o", json!({"b": [1, {"c": null}]}))
        .set_cell("t", "2", "n", Cell::Null)
        .set_value("1", "x");
    let b = Store::new();
    b.set_json(&a.get_json()).unwrap();
    assert_eq!(b.get_json(), a.get_json());
    assert_eq!(b.get_cell("t", "r", "o"), a.get_cell("t", "r", "o"));
}

#[test]
fn deleting_absent_things_is_a_no_op() {
    let store = store_with(json!({"t": {"r": {"c": 1}}}), json!({"v": 1}));
    let log = new_log();
    let l = log.clone();
    store.add_cell_listener(
        None,
        None,
        None,
        move |_, _, _, _, _, _| push(&l, "cell"),
        false,
    );
    let l = log.clone();
    store.add_table_ids_listener(move |_, _| push(&l, "tableIds"), false);
    let l = log.clone();
    store.add_value_ids_listener(move |_, _| push(&l, "valueIds"), false);
    let l = log.clone();
    store.add_row_ids_listener(None, move |_, _, _| push(&l, "rowIds"), false);
    store
        .del_table("x")
        .del_row("t", "x")
        .del_row("x", "r")
        .del_cell("t", "r", "x", false)
        .del_cell("t", "x", "c", true)
        .del_cell("x", "r", "c", false)
        .del_value("x");
    let empty = Store::new();
    empty.del_tables().del_values();
    assert_eq!(empty.get_json(), "[{},{}]");
    assert!(take(&log).is_empty());
    assert_eq!(store.get_json(), r#"[{"t":{"r":{"c":1}}},{"v":1}]"#);
    store.del_tables().del_values();
    assert_eq!(take(&log), ["tableIds", "rowIds", "cell", "valueIds"]);
    assert_eq!(store.get_json(), "[{},{}]");
}
