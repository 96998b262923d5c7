//! Transactions (store.md §3–4): nesting, rollback, changes, logs.

use super::*;

#[test]
fn nested_transactions_join_the_outer_one() {
    let store = Store::new();
    let log = new_log();
    let l = log.clone();
    store.add_start_transaction_listener(move |_| push(&l, "start"));
    let l = log.clone();
    store.add_cell_listener(
        None,
        None,
        None,
        move |_, t, r, cid, new, old| push(&l, format!("cell {t}/{r}/{cid} {} {}", c(new), c(old))),
        false,
    );
    let l = log.clone();
    store.add_did_finish_transaction_listener(move |_| push(&l, "did"));
    let result = store.transaction(|s| {
        s.set_cell("t", "r", "a", 1);
        let inner = s.transaction(|s| {
            s.set_cell("t", "r", "a", 2);
            s.set_cell("t", "r", "b", 3);
            assert!(s.is_in_transaction());
            "inner"
        });
        s.set_cell("t", "r", "b", 4);
        inner.len()
    });
    assert_eq!(result, 5);
    assert!(!store.is_in_transaction());
    assert_eq!(
        take(&log),
        ["start", "cell t/r/a 2 U", "cell t/r/b 4 U", "did"]
    );
}

#[test]
fn explicit_start_and_finish_count_nesting() {
    let store = Store::new();
    let log = new_log();
    let l = log.clone();
    store.add_start_transaction_listener(move |_| push(&l, "start"));
    let l = log.clone();
    store.add_will_finish_transaction_listener(move |_| push(&l, "will"));
    let l = log.clone();
    store.add_did_finish_transaction_listener(move |_| push(&l, "did"));
    let l = log.clone();
    store.add_row_listener(
        None,
        None,
        move |_, t, r| push(&l, format!("row {t}/{r}")),
        false,
    );
    store.start_transaction().start_transaction();
    store.set_cell("t", "r", "c", 2);
    store.finish_transaction();
    assert_eq!(store.get_cell("t", "r", "c"), Some(Cell::Number(2.0)));
    assert!(store.is_in_transaction());
    assert_eq!(take(&log), ["start"]);
    store.finish_transaction();
    assert!(!store.is_in_transaction());
    assert_eq!(take(&log), ["will", "row t/r", "did"]);
    // Explicit rollback.
    store.start_transaction();
    store.set_cell("t", "r", "c", 3).set_cell("t", "s", "c", 1);
    store.finish_transaction_with_rollback(|s| s.get_cell("t", "r", "c") == Some(Cell::from(3)));
    assert_eq!(store.get_json(), r#"[{"t":{"r":{"c":2}}},{}]"#);
    assert_eq!(take(&log), ["start", "will", "did"]);
    // A stray finish is ignored.
    store.finish_transaction();
    assert!(take(&log).is_empty());
}

#[test]
fn rollback_restores_content_order_and_schemas() {
    let store = store_with(
        json!({"t": {"a": {"x": 1, "y": 2, "z": 3}, "b": {"x": 1}, "c": {"x": 1}}, "u": {"r": {"q": 1}}, "w": {"r": {"q": 1}}}),
        json!({"v1": 1, "v2": 2, "v3": 3}),
    );
    let before_json = store.get_json();
    let before_orders = all_orders(&store);
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
    store.add_did_finish_transaction_listener(move |_| push(&l, "did"));
    let r = store.transaction_with_rollback(
        |s| {
            s.del_row("t", "b");
            s.del_cell("t", "a", "y", false);
            s.set_cell("t", "a", "y", 9);
            s.del_table("u");
            s.set_cell("u", "r", "q", 1);
            s.set_cell("n", "r", "c", 1);
            s.del_value("v2");
            s.set_value("v2", 2);
            s.set_value("v0", 0);
            s.set_tables_schema_json(r#"{"t":{"x":{"type":"number"}}}"#)
                .unwrap();
            s.set_values_schema_json(r#"{"v1":{"type":"number"}}"#)
                .unwrap();
            7
        },
        |s| {
            assert_eq!(s.get_row_ids("t"), ids(&["a", "c"]));
            true
        },
    );
    assert_eq!(r, 7);
    assert_eq!(store.get_json(), before_json);
    assert_eq!(all_orders(&store), before_orders);
    assert!(!store.has_tables_schema());
    assert!(!store.has_values_schema());
    assert_eq!(take(&log), ["did"], "no change listeners after a rollback");
    // A rollback also restores a schema that was deleted.
    store
        .set_tables_schema_json(r#"{"t":{"x":{"type":"number"}}}"#)
        .unwrap();
    let schema = store.get_tables_schema_json();
    store.transaction_with_rollback(
        |s| {
            s.del_tables_schema();
            s.set_cell("z", "r", "c", 1);
        },
        |_| true,
    );
    assert_eq!(store.get_tables_schema_json(), schema);
    assert!(!store.has_table("z"));
    // false keeps everything.
    store.transaction_with_rollback(
        |s| {
            s.del_row("t", "c");
        },
        |_| false,
    );
    assert_eq!(store.get_row_ids("t"), ids(&["a", "b"]));
}

#[test]
fn a_panic_in_actions_rolls_back_and_is_resumed() {
    let store = store_with(
        json!({"t": {"a": {"x": 1}, "b": {"x": 2}}}),
        json!({"v": 1}),
    );
    let before = store.get_json();
    let log = new_log();
    let l = log.clone();
    store.add_did_finish_transaction_listener(move |_| push(&l, "did"));
    let l = log.clone();
    store.add_row_listener(None, None, move |_, _, _| push(&l, "row"), false);
    let result = catch_unwind(AssertUnwindSafe(|| {
        store.transaction(|s| {
            s.del_row("t", "a");
            s.set_value("v", 2);
            s.set_cell("t", "c", "x", 3);
            panic!("boom");
        })
    }));
    let err = result.unwrap_err();
    assert_eq!(err.downcast_ref::<&str>(), Some(&"boom"));
    assert_eq!(store.get_json(), before);
    assert_eq!(store.get_row_ids("t"), ids(&["a", "b"]));
    assert!(!store.is_in_transaction());
    assert_eq!(take(&log), ["did"]);
    // The store is fully usable afterwards.
    store.set_cell("t", "a", "x", 5);
    assert_eq!(take(&log), ["row", "did"]);
}

#[test]
fn try_transaction_rolls_back_on_err() {
    let store = store_with(json!({"t": {"r": {"c": 1}}}), json!({}));
    let r: Result<i32, String> = store.try_transaction(|s| {
        s.set_cell("t", "r", "c", 2).del_row("t", "r");
        Err("no".to_string())
    });
    assert_eq!(r, Err("no".to_string()));
    assert_eq!(store.get_json(), r#"[{"t":{"r":{"c":1}}},{}]"#);
    let r: Result<i32, String> = store.try_transaction(|s| {
        s.set_cell("t", "r", "c", 2);
        Ok(1)
    });
    assert_eq!(r, Ok(1));
    assert_eq!(store.get_cell("t", "r", "c"), Some(Cell::Number(2.0)));
}

#[test]
fn transaction_changes_are_net() {
    let store = store_with(
        json!({"t": {"r1": {"a": 1, "b": 2}, "r2": {"a": 1}}, "u": {"r": {"x": 1}}, "k": {"r": {"a": 1, "b": 2}}}),
        json!({"v": 1, "w": 2}),
    );
    let seen: Arc<Mutex<Option<Changes>>> = Arc::default();
    let s2 = seen.clone();
    store.add_did_finish_transaction_listener(move |s| {
        *s2.lock().unwrap() = Some(s.get_transaction_changes());
    });
    store.transaction(|s| {
        s.set_cell("t", "r1", "a", 5);
        s.set_cell("t", "r1", "b", 3);
        s.set_cell("t", "r1", "b", 2);
        s.del_row("t", "r2");
        s.del_table("u");
        s.del_row("k", "r");
        s.set_cell("k", "r", "a", 3);
        s.set_value("v", 9);
        s.del_value("w");
        s.set_value("n", 1);
        s.del_value("n");
        s.set_cell("t", "r3", "q", f64::NAN);
        let changes = s.get_transaction_changes();
        assert_eq!(
            changes.to_json(),
            json!([
                {"t": {"r1": {"a": 5}, "r2": null}, "u": null, "k": {"r": {"a": 3, "b": null}}},
                {"v": 9, "w": null},
                1
            ])
        );
        assert_eq!(changes.tables["u"], None);
        assert_eq!(changes.tables["t"].as_ref().unwrap()["r2"], None);
        assert_eq!(changes.values["w"], None);
    });
    let after = seen.lock().unwrap().take().unwrap();
    assert_eq!(after.values["v"], Some(Cell::Number(9.0)));
    // Outside a transaction there are no changes.
    assert_eq!(store.get_transaction_changes(), Changes::default());
    // Everything changed back: empty.
    store.transaction(|s| {
        s.set_cell("t", "r1", "a", 6);
        s.set_cell("t", "r1", "a", 5);
        s.set_value("v", 1);
        s.set_value("v", 9);
        assert_eq!(s.get_transaction_changes(), Changes::default());
    });
}

#[test]
fn transaction_log_contents() {
    let store = store_with(
        json!({"t": {"r1": {"a": 1, "b": 2}, "r2": {"a": 1}}, "u": {"r": {"x": 1}}}),
        json!({"v": 1, "w": 2}),
    );
    let log: Arc<Mutex<Option<TransactionLog>>> = Arc::default();
    let l = log.clone();
    store.add_did_finish_transaction_listener(move |s| {
        *l.lock().unwrap() = Some(s.get_transaction_log());
    });
    store.transaction(|s| {
        s.set_cell("t", "r1", "a", 5);
        s.del_row("t", "r2");
        s.del_table("u");
        s.set_value("v", 9);
        s.del_value("w");
        s.set_cell("t", "r3", "q", f64::NAN);
        s.set_value("bad", f64::INFINITY);
    });
    let got = log.lock().unwrap().take().unwrap();
    assert!(got.cells_touched);
    assert!(got.values_touched);
    let n = |x: f64| Some(Cell::Number(x));
    assert_eq!(got.changed_cells["t"]["r1"]["a"], (n(1.0), n(5.0)));
    assert_eq!(got.changed_cells["t"]["r2"]["a"], (n(1.0), None));
    assert_eq!(got.changed_cells["u"]["r"]["x"], (n(1.0), None));
    assert!(!got.changed_cells["t"]["r1"].contains_key("b"));
    assert_eq!(got.changed_values["v"], (n(1.0), n(9.0)));
    assert_eq!(got.changed_values["w"], (n(2.0), None));
    assert_eq!(got.invalid_cells.len(), 1);
    let (t, r, cid, cells) = &got.invalid_cells[0];
    assert_eq!(
        (t.as_deref(), r.as_deref(), cid.as_deref()),
        (Some("t"), Some("r3"), Some("q"))
    );
    assert!(matches!(cells[..], [Some(Cell::Number(x))] if x.is_nan()));
    assert_eq!(got.invalid_values.len(), 1);
    assert_eq!(got.invalid_values[0].0.as_deref(), Some("bad"));
    assert_eq!(
        got.changed_table_ids.iter().collect::<Vec<_>>(),
        [(&"u".to_string(), &-1)]
    );
    assert_eq!(got.changed_row_ids["t"]["r2"], -1);
    assert_eq!(got.changed_row_ids["u"]["r"], -1);
    assert!(!got.changed_row_ids["t"].contains_key("r1"));
    assert_eq!(got.changed_cell_ids["t"]["r2"]["a"], -1);
    assert_eq!(got.changed_cell_ids["u"]["r"]["x"], -1);
    assert_eq!(
        got.changed_value_ids.iter().collect::<Vec<_>>(),
        [(&"w".to_string(), &-1)]
    );
    // Added ids.
    store.transaction(|s| {
        s.set_cell("n", "r", "c", 1).set_value("nv", 1);
    });
    let got = log.lock().unwrap().take().unwrap();
    assert_eq!(got.changed_table_ids["n"], 1);
    assert_eq!(got.changed_row_ids["n"]["r"], 1);
    assert_eq!(got.changed_cell_ids["n"]["r"]["c"], 1);
    assert_eq!(got.changed_value_ids["nv"], 1);
    assert_eq!(got.changed_cells["n"]["r"]["c"], (None, n(1.0)));
    // Changed back: touched but nothing changed.
    store.transaction(|s| {
        s.set_cell("n", "r", "c", 2).set_cell("n", "r", "c", 1);
    });
    let got = log.lock().unwrap().take().unwrap();
    assert!(got.cells_touched);
    assert!(!got.values_touched);
    assert!(got.changed_cells.is_empty(), "{:?}", got.changed_cells);
    assert!(
        got.changed_cell_ids.is_empty(),
        "{:?}",
        got.changed_cell_ids
    );
    store.transaction(|s| {
        s.set_value("nv", 2).set_value("nv", 1);
    });
    let got = log.lock().unwrap().take().unwrap();
    assert!(!got.cells_touched);
    assert!(got.values_touched);
    assert!(got.changed_values.is_empty(), "{:?}", got.changed_values);
    assert!(got.changed_value_ids.is_empty());
}

#[test]
fn start_listeners_fire_only_for_the_outermost_and_for_empty_transactions() {
    let store = Store::new();
    let log = new_log();
    let l = log.clone();
    store.add_start_transaction_listener(move |s| {
        assert!(s.is_in_transaction());
        push(&l, "start")
    });
    let l = log.clone();
    store.add_will_finish_transaction_listener(move |_| push(&l, "will"));
    let l = log.clone();
    store.add_did_finish_transaction_listener(move |_| push(&l, "did"));
    store.transaction(|s| {
        s.transaction(|s| {
            s.set_cell("t", "r", "c", 1);
        });
    });
    assert_eq!(take(&log), ["start", "will", "did"]);
    store.transaction(|_| {});
    assert_eq!(take(&log), ["start", "will", "did"]);
    store.del_table("absent");
    assert_eq!(take(&log), ["start", "will", "did"]);
    store.set_cell("t", "r", "c", 1);
    assert_eq!(take(&log), ["start", "will", "did"]);
    assert_eq!(store.get_listener_stats().transaction, 3);
}

/// The first row a transaction touches is logged apart from the others until a second row
/// comes (the common lone write): the log still lists rows and cells in first-touch order,
/// keeps each cell's first old value, and answers `get_cell_change` before and after.
#[test]
fn the_change_log_keeps_first_touch_order_across_rows() {
    let store = store_with(
        json!({"t": {"a": {"x": 1, "y": 2}}, "u": {"b": {"z": 3}}}),
        json!({}),
    );
    store.transaction(|s| {
        s.set_cell("t", "a", "y", 20).set_cell("t", "a", "x", 10);
        assert_eq!(s.get_cell_change("t", "a", "y").old, Some(Cell::from(2)));
        assert!(!s.get_cell_change("u", "b", "z").changed);
        s.set_cell("u", "b", "z", 30)
            .set_cell("t", "a", "y", 21)
            .set_row("t", "c", &row(json!({"w": 5})));
        let log = s.get_transaction_log();
        let tables: Vec<_> = log.changed_cells.keys().cloned().collect();
        assert_eq!(tables, ["t", "u"]);
        let t = &log.changed_cells["t"];
        assert_eq!(t.keys().collect::<Vec<_>>(), ["a", "c"]);
        assert_eq!(t["a"].keys().collect::<Vec<_>>(), ["y", "x"]);
        assert_eq!(t["a"]["y"], (Some(Cell::from(2)), Some(Cell::from(21))));
        assert_eq!(t["c"]["w"], (None, Some(Cell::from(5))));
        assert_eq!(s.get_cell_change("t", "a", "x").old, Some(Cell::from(1)));
        let changes = s.get_transaction_changes();
        assert_eq!(changes.tables.keys().collect::<Vec<_>>(), ["t", "u"]);
    });
    // A write changed back to its value leaves nothing in the next transaction's log.
    store.transaction(|s| {
        s.set_cell("t", "a", "x", 99).set_cell("t", "a", "x", 10);
        assert!(s.get_transaction_log().changed_cells.is_empty());
        assert!(s.has_transaction_touches());
    });
    assert!(!store.has_transaction_touches());
}

/// A lone write outside a transaction that nothing can roll back keeps no journal; whatever
/// comes next can still roll back: an explicit transaction, a lone write that a mutator or
/// will-finish listener sees, a write nested in a transaction.
#[test]
fn rollback_after_lone_writes_restores_every_change() {
    let store = store_with(json!({"t": {"r": {"a": 1, "b": 2}}}), json!({}));
    store.set_cell("t", "r", "a", 10);
    store.transaction_with_rollback(
        |s| {
            s.set_cell("t", "r", "a", 11).set_cell("t", "r", "b", 12);
        },
        |_| true,
    );
    assert_eq!(store.get_row("t", "r"), row(json!({"a": 10, "b": 2})));

    let listener = store.add_will_finish_transaction_listener(|s| {
        if s.get_cell("t", "r", "a") == Some(Cell::Number(-1.0)) {
            panic!("no negatives");
        }
    });
    let err = catch_unwind(AssertUnwindSafe(|| {
        store.set_cell("t", "r", "a", -1);
    }))
    .unwrap_err();
    assert_eq!(err.downcast_ref::<&str>(), Some(&"no negatives"));
    assert_eq!(store.get_cell("t", "r", "a"), Some(Cell::Number(10.0)));
    store.del_listener(listener);

    store.add_cell_listener(
        None,
        None,
        Some("b"),
        |_, _, _, _, new, _| {
            if new == Some(&Cell::Number(-1.0)) {
                panic!("no negative b");
            }
        },
        true,
    );
    let err = catch_unwind(AssertUnwindSafe(|| {
        store.set_cell("t", "r", "b", -1);
    }))
    .unwrap_err();
    assert_eq!(err.downcast_ref::<&str>(), Some(&"no negative b"));
    assert_eq!(store.get_row("t", "r"), row(json!({"a": 10, "b": 2})));

    store.transaction_with_rollback(
        |s| {
            s.set_cell("t", "r", "a", 20);
        },
        |_| true,
    );
    assert_eq!(store.get_row("t", "r"), row(json!({"a": 10, "b": 2})));
}
