//! Store spec §1 (data model, cell/value types, validation of writes).

use super::*;

#[test]
fn ids_may_be_any_string_including_empty_and_proto() {
    let store = Store::new();
    store
        .set_cell("", "", "", 1)
        .set_cell("__proto__", "constructor", "__proto__", "x")
        .set_value("__proto__", 2)
        .set_value("", true);
    assert_eq!(store.get_cell("", "", ""), Some(Cell::Number(1.0)));
    assert!(store.has_table("__proto__"));
    assert!(store.has_row("__proto__", "constructor"));
    assert_eq!(
        store.get_cell("__proto__", "constructor", "__proto__"),
        Some(Cell::from("x"))
    );
    assert_eq!(store.get_table_ids(), ids(&["", "__proto__"]));
    assert_eq!(store.get_value_ids(), ids(&["__proto__", ""]));
    assert_eq!(
        store.get_json(),
        r#"[{"":{"":{"":1}},"__proto__":{"constructor":{"__proto__":"x"}}},{"__proto__":2,"":true}]"#
    );
    store.del_table("");
    assert_eq!(store.get_table_ids(), ids(&["__proto__"]));
}

#[test]
fn empty_rows_and_tables_never_exist() {
    let store = Store::new();
    store
        .set_cell("t", "r1", "a", 1)
        .set_cell("t", "r1", "b", 2)
        .set_cell("t", "r2", "a", 3);
    store.del_cell("t", "r1", "a", false);
    assert_eq!(store.get_cell_ids("t", "r1"), ids(&["b"]));
    store.del_cell("t", "r1", "b", false);
    assert!(!store.has_row("t", "r1"));
    assert_eq!(store.get_row_ids("t"), ids(&["r2"]));
    assert!(store.has_table("t"));
    store.del_cell("t", "r2", "a", false);
    assert!(!store.has_row("t", "r2"));
    assert!(!store.has_table("t"));
    assert!(!store.has_tables());
    assert_eq!(store.get_table_ids(), Vec::<String>::new());
    assert_eq!(store.get_json(), "[{},{}]");

    // Deleting the last row deletes the table.
    store.set_cell("u", "r", "a", 1).set_cell("v", "r", "a", 1);
    store.del_row("u", "r");
    assert_eq!(store.get_table_ids(), ids(&["v"]));
    assert_eq!(store.get_tables_json(), r#"{"v":{"r":{"a":1}}}"#);
}

#[test]
fn ids_keep_insertion_order_and_resetting_does_not_move() {
    let store = Store::new();
    store
        .set_cell("t2", "r", "x", 1)
        .set_cell("t1", "b", "c", 1)
        .set_cell("t1", "a", "c", 1)
        .set_cell("t1", "b", "z", 1)
        .set_cell("t1", "b", "y", 1)
        .set_value("w", 1)
        .set_value("v", 1);
    // Re-setting existing ids does not move them.
    store
        .set_cell("t2", "r", "x", 2)
        .set_cell("t1", "b", "c", 5)
        .set_cell("t1", "b", "z", 0)
        .set_value("w", 3);
    assert_eq!(store.get_table_ids(), ids(&["t2", "t1"]));
    assert_eq!(store.get_row_ids("t1"), ids(&["b", "a"]));
    assert_eq!(store.get_cell_ids("t1", "b"), ids(&["c", "z", "y"]));
    assert_eq!(store.get_value_ids(), ids(&["w", "v"]));
    // set_row with a different key order keeps existing cell positions.
    store.set_row("t1", "b", &row(json!({"y": 1, "c": 2, "z": 3})));
    assert_eq!(store.get_cell_ids("t1", "b"), ids(&["c", "z", "y"]));
    assert_eq!(
        store.get_json(),
        r#"[{"t2":{"r":{"x":2}},"t1":{"b":{"c":2,"z":3,"y":1},"a":{"c":1}}},{"w":3,"v":1}]"#
    );
}

#[test]
fn every_cell_type_is_stored_and_read_back() {
    let store = Store::new();
    store
        .set_cell("t", "r", "s", "dog")
        .set_cell("t", "r", "n", 1.5)
        .set_cell("t", "r", "i", -3)
        .set_cell("t", "r", "b", false)
        .set_cell("t", "r", "z", Cell::Null)
        .set_cell("t", "r", "o", json!({"b": 1, "a": [2]}))
        .set_cell("t", "r", "a", json!([1, "x"]))
        .set_value("vo", json!({"k": null}))
        .set_value("vn", Cell::Null);
    assert_eq!(store.get_cell("t", "r", "s"), Some(Cell::from("dog")));
    assert_eq!(store.get_cell("t", "r", "n"), Some(Cell::Number(1.5)));
    assert_eq!(store.get_cell("t", "r", "i"), Some(Cell::Number(-3.0)));
    assert_eq!(store.get_cell("t", "r", "b"), Some(Cell::Boolean(false)));
    assert_eq!(store.get_cell("t", "r", "z"), Some(Cell::Null));
    assert!(store.has_cell("t", "r", "z"), "a null cell exists");
    assert!(store.has_value("vn"), "a null value exists");
    assert_eq!(
        store.get_cell("t", "r", "o"),
        Some(Cell::Object(r#"{"b":1,"a":[2]}"#.into()))
    );
    assert_eq!(
        store.get_cell("t", "r", "o").unwrap().to_json(),
        json!({"b": 1, "a": [2]})
    );
    assert_eq!(
        store.get_cell("t", "r", "a"),
        Some(Cell::Array(r#"[1,"x"]"#.into()))
    );
    assert_eq!(
        store.get_json(),
        "[{\"t\":{\"r\":{\"s\":\"dog\",\"n\":1.5,\"i\":-3,\"b\":false,\"z\":null,\
         \"o\":\"\u{FFFD}{\\\"b\\\":1,\\\"a\\\":[2]}\",\"a\":\"\u{FFFD}[1,\\\"x\\\"]\"}}},\
         {\"vo\":\"\u{FFFD}{\\\"k\\\":null}\",\"vn\":null}]"
    );
    // The spec's example, byte for byte.
    let store = Store::new();
    store
        .set_cell("t", "r", "o", json!({"a": 1}))
        .set_cell("t", "r", "n", Cell::Null)
        .set_value("v", json!([1]));
    assert_eq!(
        store.get_json(),
        "[{\"t\":{\"r\":{\"o\":\"\u{FFFD}{\\\"a\\\":1}\",\"n\":null}}},{\"v\":\"\u{FFFD}[1]\"}]"
    );
}

#[test]
fn non_finite_numbers_are_rejected_and_reported() {
    let store = Store::new();
    let log = new_log();
    log_invalid_cells(&store, &log);
    log_invalid_values(&store, &log);
    store.set_cell("t", "r", "ok", 1);
    store.set_cell("t", "r", "a", f64::NAN);
    store.set_cell("t", "r", "b", f64::INFINITY);
    store.set_cell("t", "r2", "c", f64::NEG_INFINITY);
    store.set_value("v", f64::NAN);
    store.set_value("w", f64::INFINITY);
    assert_eq!(
        take(&log),
        [
            "inv t r a [NaN]",
            "inv t r b [inf]",
            "inv t r2 c [-inf]",
            "invv v [NaN]",
            "invv w [inf]"
        ]
    );
    assert_eq!(store.get_json(), r#"[{"t":{"r":{"ok":1}}},{}]"#);
    assert!(!store.has_row("t", "r2"));
    // An existing value is not overwritten by an invalid one.
    store.set_cell("t", "r", "ok", f64::NAN);
    assert_eq!(store.get_cell("t", "r", "ok"), Some(Cell::Number(1.0)));
}

#[test]
fn reserved_strings_are_rejected_as_user_data() {
    let store = Store::new();
    let log = new_log();
    log_invalid_cells(&store, &log);
    log_invalid_values(&store, &log);
    store.set_cell("t", "r", "a", "\u{FFFC}");
    store.set_cell("t", "r", "b", "\u{FFFD}{\"a\":1}");
    store.set_cell("t", "r", "c", "\u{FFFD}");
    store.set_value("v", "\u{FFFD}[1]");
    assert_eq!(store.get_json(), "[{},{}]");
    assert_eq!(
        take(&log),
        [
            "inv t r a [\"\u{FFFC}\"]",
            "inv t r b [\"\u{FFFD}{\\\"a\\\":1}\"]",
            "inv t r c [\"\u{FFFD}\"]",
            "invv v [\"\u{FFFD}[1]\"]",
        ]
    );
    // Only exactly U+FFFC and a U+FFFD prefix are reserved.
    store
        .set_cell("t", "r", "d", "\u{FFFC}x")
        .set_cell("t", "r", "e", "x\u{FFFD}");
    assert_eq!(store.get_cell_ids("t", "r"), ids(&["d", "e"]));
    assert!(take(&log).is_empty());
}

#[test]
fn encoded_strings_are_accepted_in_json_mode_when_they_decode() {
    let store = Store::new();
    let log = new_log();
    log_invalid_cells(&store, &log);
    log_invalid_values(&store, &log);
    let input = "[{\"t\":{\"r\":{\"o\":\"\u{FFFD}{\\\"b\\\":1,\\\"a\\\":2}\",\"a\":\"\u{FFFD}[1]\",\
                 \"bad\":\"\u{FFFD}nope\",\"u\":\"\u{FFFC}\",\"s\":\"ok\"}}},\
                 {\"v\":\"\u{FFFD}{}\",\"w\":\"\u{FFFD}1\"}]";
    store.set_json(input).unwrap();
    assert_eq!(
        store.get_cell("t", "r", "o"),
        Some(Cell::Object(r#"{"b":1,"a":2}"#.into())),
        "kept verbatim (not re-serialised)"
    );
    assert_eq!(
        store.get_cell("t", "r", "a"),
        Some(Cell::Array("[1]".into()))
    );
    assert!(!store.has_cell("t", "r", "bad"));
    assert!(!store.has_cell("t", "r", "u"));
    assert_eq!(store.get_cell_ids("t", "r"), ids(&["o", "a", "s"]));
    assert_eq!(store.get_value("v"), Some(Cell::Object("{}".into())));
    assert!(!store.has_value("w"));
    assert_eq!(
        take(&log),
        [
            "inv t r bad [\"\u{FFFD}nope\"]",
            "inv t r u [\"\u{FFFC}\"]",
            "invv w [\"\u{FFFD}1\"]"
        ]
    );
    assert_eq!(
        store.get_json(),
        "[{\"t\":{\"r\":{\"o\":\"\u{FFFD}{\\\"b\\\":1,\\\"a\\\":2}\",\"a\":\"\u{FFFD}[1]\",\"s\":\"ok\"}}},\
         {\"v\":\"\u{FFFD}{}\"}]"
    );
}

// ------------------------------------------------------------------ §1.2 validation

#[test]
fn set_row_with_empty_or_all_invalid_row_is_a_no_op() {
    let store = store_with(json!({"t": {"r": {"a": 1}}}), json!({}));
    let log = new_log();
    log_invalid_cells(&store, &log);
    let l = log.clone();
    store.add_row_listener(
        None,
        None,
        move |_, t, r| push(&l, format!("row {t} {r}")),
        false,
    );
    store.set_row("t", "r", &Row::new());
    assert_eq!(take(&log), ["inv t r U [U]"]);
    store.set_row(
        "t",
        "r",
        &Row::from([
            ("a".to_string(), Cell::Number(f64::NAN)),
            ("b".to_string(), Cell::from("\u{FFFC}")),
        ]),
    );
    assert_eq!(take(&log), ["inv t r a [NaN]", "inv t r b [\"\u{FFFC}\"]"]);
    assert_eq!(store.get_row("t", "r"), row(json!({"a": 1})));
    store.set_row("t", "new", &Row::new());
    assert!(!store.has_row("t", "new"));
    assert_eq!(take(&log), ["inv t new U [U]"]);
    // add_row of an invalid row yields no id.
    assert_eq!(store.add_row("t", &Row::new(), true), None);
    assert_eq!(
        store.add_row(
            "t",
            &Row::from([("a".to_string(), Cell::Number(f64::NAN))]),
            true
        ),
        None
    );
    assert_eq!(store.get_row_ids("t"), ids(&["r"]));
}

#[test]
fn set_tables_with_everything_pruned_does_not_clear_tables() {
    let store = store_with(json!({"t": {"r": {"a": 1}}}), json!({"v": 1}));
    let nan = Row::from([("c".to_string(), Cell::Number(f64::NAN))]);
    let bad = Tables::from([(
        "t".to_string(),
        tinystore_core::Table::from([("r".to_string(), nan.clone())]),
    )]);
    store.set_tables(&bad);
    assert_eq!(store.get_json(), r#"[{"t":{"r":{"a":1}}},{"v":1}]"#);
    store.set_table("t", &tinystore_core::Table::from([("r".to_string(), nan)]));
    assert_eq!(store.get_json(), r#"[{"t":{"r":{"a":1}}},{"v":1}]"#);
    store.set_values(&Values::from([("v".to_string(), Cell::Number(f64::NAN))]));
    assert_eq!(store.get_json(), r#"[{"t":{"r":{"a":1}}},{"v":1}]"#);
    // Partially valid input replaces; the invalid parts are dropped.
    let mixed = Tables::from([
        (
            "t".to_string(),
            tinystore_core::Table::from([(
                "r2".to_string(),
                Row::from([
                    ("x".to_string(), Cell::Number(f64::NAN)),
                    ("y".to_string(), Cell::from(2)),
                ]),
            )]),
        ),
        (
            "u".to_string(),
            tinystore_core::Table::from([(
                "r".to_string(),
                Row::from([("x".to_string(), Cell::Number(f64::NAN))]),
            )]),
        ),
    ]);
    store.set_tables(&mixed);
    assert_eq!(store.get_json(), r#"[{"t":{"r2":{"y":2}}},{"v":1}]"#);
}

/// Rows of one table in different layouts, and layouts that change under deletes, inserts and
/// rollbacks: every cell is still found (the store guesses a cell's slot from other rows).
#[test]
fn cells_are_found_whatever_each_rows_layout() {
    let store = Store::new();
    let mut row = Row::new();
    for (c, v) in [("a", 1), ("b", 2), ("c", 3)] {
        row.insert(c.to_string(), Cell::from(v));
    }
    store.set_row("t", "abc", &row);
    store
        .set_cell("t", "ca", "c", 13)
        .set_cell("t", "ca", "a", 11)
        .set_cell("t", "b", "b", 22);
    store.del_cell("t", "abc", "a", false);
    store.set_cell("t", "abc", "a", 100);
    store.transaction_with_rollback(
        |s| {
            s.set_cell("t", "n", "z", 0).set_cell("t", "n", "c", 1);
        },
        |_| true,
    );
    let expect = [
        ("abc", &[("b", 2), ("c", 3), ("a", 100)][..]),
        ("ca", &[("c", 13), ("a", 11)][..]),
        ("b", &[("b", 22)][..]),
    ];
    for (r, cells) in expect {
        let got: Vec<_> = store.get_cell_ids("t", r);
        assert_eq!(
            got,
            cells.iter().map(|(c, _)| c.to_string()).collect::<Vec<_>>()
        );
        for (c, v) in cells {
            assert_eq!(store.get_cell("t", r, c), Some(Cell::from(*v)), "{r}/{c}");
            store.set_cell("t", r, c, *v + 1000);
            assert_eq!(
                store.get_cell("t", r, c),
                Some(Cell::from(*v + 1000)),
                "{r}/{c}"
            );
        }
        assert_eq!(store.get_cell("t", r, "z"), None);
    }
    assert!(!store.has_row("t", "n"));
}
