//! Store spec §4 (listeners: registration, firing order, semantics).

use super::*;

/// Registers one listener of every kind, specific (`*_s`) and wildcard (`*_w`).
fn register_all(store: &Store, log: &Log, t: &str, r: &str, cid: &str, v: &str) {
    macro_rules! g {
        () => {
            log.clone()
        };
    }
    let l = g!();
    store.add_has_tables_listener(move |_, b| push(&l, format!("HasTables {b}")), false);
    let l = g!();
    store.add_tables_listener(move |_| push(&l, "Tables"), false);
    let l = g!();
    store.add_table_ids_listener(
        move |_, x| push(&l, format!("TableIds {}", id_changes(x))),
        false,
    );
    for (spec, name) in [(Some(t), "s"), (None, "w")] {
        let l = g!();
        store.add_has_table_listener(
            spec,
            move |_, t, b| push(&l, format!("HasTable_{name} {t} {b}")),
            false,
        );
        let l = g!();
        store.add_table_listener(
            spec,
            move |_, t| push(&l, format!("Table_{name} {t}")),
            false,
        );
        let l = g!();
        store.add_table_cell_ids_listener(
            spec,
            move |_, t, x| push(&l, format!("TableCellIds_{name} {t} {}", id_changes(x))),
            false,
        );
        let l = g!();
        store.add_row_count_listener(
            spec,
            move |_, t, n| push(&l, format!("RowCount_{name} {t} {n}")),
            false,
        );
        let l = g!();
        store.add_row_ids_listener(
            spec,
            move |_, t, x| push(&l, format!("RowIds_{name} {t} {}", id_changes(x))),
            false,
        );
    }
    for (st, sc, name) in [(Some(t), Some(cid), "s"), (None, None, "w")] {
        let l = g!();
        store.add_has_table_cell_listener(
            st,
            sc,
            move |_, t, c, b| push(&l, format!("HasTableCell_{name} {t} {c} {b}")),
            false,
        );
    }
    for (st, sr, name) in [(Some(t), Some(r), "s"), (None, None, "w")] {
        let l = g!();
        store.add_has_row_listener(
            st,
            sr,
            move |_, t, r, b| push(&l, format!("HasRow_{name} {t} {r} {b}")),
            false,
        );
        let l = g!();
        store.add_row_listener(
            st,
            sr,
            move |_, t, r| push(&l, format!("Row_{name} {t} {r}")),
            false,
        );
        let l = g!();
        store.add_cell_ids_listener(
            st,
            sr,
            move |_, t, r, x| push(&l, format!("CellIds_{name} {t} {r} {}", id_changes(x))),
            false,
        );
    }
    for (st, sr, sc, name) in [(Some(t), Some(r), Some(cid), "s"), (None, None, None, "w")] {
        let l = g!();
        store.add_has_cell_listener(
            st,
            sr,
            sc,
            move |_, t, r, cc, b| push(&l, format!("HasCell_{name} {t} {r} {cc} {b}")),
            false,
        );
        let l = g!();
        store.add_cell_listener(
            st,
            sr,
            sc,
            move |_, t, r, cc, new, old| {
                push(
                    &l,
                    format!("Cell_{name} {t} {r} {cc} {} {}", c(new), c(old)),
                )
            },
            false,
        );
        let l = g!();
        store.add_invalid_cell_listener(
            st,
            sr,
            sc,
            move |_, t, r, cc, x| {
                push(
                    &l,
                    format!(
                        "InvalidCell_{name} {} {} {} {}",
                        opt_id(t),
                        opt_id(r),
                        opt_id(cc),
                        invalid(x)
                    ),
                )
            },
            false,
        );
    }
    let l = g!();
    store.add_has_values_listener(move |_, b| push(&l, format!("HasValues {b}")), false);
    let l = g!();
    store.add_values_listener(move |_| push(&l, "Values"), false);
    let l = g!();
    store.add_value_ids_listener(
        move |_, x| push(&l, format!("ValueIds {}", id_changes(x))),
        false,
    );
    for (sv, name) in [(Some(v), "s"), (None, "w")] {
        let l = g!();
        store.add_has_value_listener(
            sv,
            move |_, v, b| push(&l, format!("HasValue_{name} {v} {b}")),
            false,
        );
        let l = g!();
        store.add_value_listener(
            sv,
            move |_, v, new, old| push(&l, format!("Value_{name} {v} {} {}", c(new), c(old))),
            false,
        );
        let l = g!();
        store.add_invalid_value_listener(
            sv,
            move |_, v, x| {
                push(
                    &l,
                    format!("InvalidValue_{name} {} {}", opt_id(v), invalid(x)),
                )
            },
            false,
        );
    }
}

#[test]
fn every_listener_kind_fires_with_specific_ids_before_wildcards() {
    let store = Store::new();
    let log = new_log();
    register_all(&store, &log, "t", "r", "c", "v");
    store.set_cell("t", "r", "c", 1);
    assert_eq!(
        take(&log),
        [
            "HasTables true",
            "TableIds t:1",
            "HasTable_s t true",
            "HasTable_w t true",
            "TableCellIds_s t c:1",
            "TableCellIds_w t c:1",
            "HasTableCell_s t c true",
            "HasTableCell_w t c true",
            "RowCount_s t 1",
            "RowCount_w t 1",
            "RowIds_s t r:1",
            "RowIds_w t r:1",
            "HasRow_s t r true",
            "HasRow_w t r true",
            "CellIds_s t r c:1",
            "CellIds_w t r c:1",
            "HasCell_s t r c true",
            "HasCell_w t r c true",
            "Cell_s t r c 1 U",
            "Cell_w t r c 1 U",
            "Row_s t r",
            "Row_w t r",
            "Table_s t",
            "Table_w t",
            "Tables",
        ]
    );
    // A change elsewhere reaches only the wildcards.
    store.set_cell("t", "r2", "d", 2);
    assert_eq!(
        take(&log),
        [
            "TableCellIds_s t d:1",
            "TableCellIds_w t d:1",
            "HasTableCell_w t d true",
            "RowCount_s t 2",
            "RowCount_w t 2",
            "RowIds_s t r2:1",
            "RowIds_w t r2:1",
            "HasRow_w t r2 true",
            "CellIds_w t r2 d:1",
            "HasCell_w t r2 d true",
            "Cell_w t r2 d 2 U",
            "Row_w t r2",
            "Table_s t",
            "Table_w t",
            "Tables",
        ]
    );
    // Changing an existing cell: no id or has listeners.
    store.set_cell("t", "r", "c", 5);
    assert_eq!(
        take(&log),
        [
            "Cell_s t r c 5 1",
            "Cell_w t r c 5 1",
            "Row_s t r",
            "Row_w t r",
            "Table_s t",
            "Table_w t",
            "Tables"
        ]
    );
    // Invalid cells.
    store.set_cell("t", "r", "c", f64::NAN);
    store.set_cell("x", "y", "z", f64::INFINITY);
    assert_eq!(
        take(&log),
        [
            "InvalidCell_s t r c [NaN]",
            "InvalidCell_w t r c [NaN]",
            "InvalidCell_w x y z [inf]"
        ]
    );
    // Values.
    store.set_value("v", 1);
    assert_eq!(
        take(&log),
        [
            "HasValues true",
            "ValueIds v:1",
            "HasValue_s v true",
            "HasValue_w v true",
            "Value_s v 1 U",
            "Value_w v 1 U",
            "Values"
        ]
    );
    store.set_value("w", "x").set_value("v", f64::NAN);
    assert_eq!(
        take(&log),
        [
            "ValueIds w:1",
            "HasValue_w w true",
            "Value_w w \"x\" U",
            "Values",
            "InvalidValue_s v [NaN]",
            "InvalidValue_w v [NaN]"
        ]
    );
    store.del_values();
    assert_eq!(
        take(&log),
        [
            "HasValues false",
            "ValueIds v:-1,w:-1",
            "HasValue_s v false",
            "HasValue_w v false",
            "HasValue_w w false",
            "Value_s v U 1",
            "Value_w v U 1",
            "Value_w w U \"x\"",
            "Values"
        ]
    );
    // Deleting everything.
    store.del_tables();
    assert_eq!(
        take(&log),
        [
            "HasTables false",
            "TableIds t:-1",
            "HasTable_s t false",
            "HasTable_w t false",
            "TableCellIds_s t c:-1,d:-1",
            "TableCellIds_w t c:-1,d:-1",
            "HasTableCell_s t c false",
            "HasTableCell_w t c false",
            "HasTableCell_w t d false",
            "RowCount_s t 0",
            "RowCount_w t 0",
            "RowIds_s t r:-1,r2:-1",
            "RowIds_w t r:-1,r2:-1",
            "HasRow_s t r false",
            "HasRow_w t r false",
            "HasRow_w t r2 false",
            "CellIds_s t r c:-1",
            "CellIds_w t r c:-1",
            "HasCell_s t r c false",
            "HasCell_w t r c false",
            "CellIds_w t r2 d:-1",
            "HasCell_w t r2 d false",
            "Cell_s t r c U 5",
            "Cell_w t r c U 5",
            "Row_s t r",
            "Row_w t r",
            "Cell_w t r2 d U 2",
            "Row_w t r2",
            "Table_s t",
            "Table_w t",
            "Tables",
        ]
    );
}

#[test]
fn has_listeners_fire_only_on_flips() {
    let store = Store::new();
    let log = new_log();
    let l = log.clone();
    store.add_has_tables_listener(move |_, b| push(&l, format!("tables {b}")), false);
    let l = log.clone();
    store.add_has_row_listener(
        None,
        None,
        move |_, t, r, b| push(&l, format!("row {t}/{r} {b}")),
        false,
    );
    let l = log.clone();
    store.add_has_value_listener(
        None,
        move |_, v, b| push(&l, format!("value {v} {b}")),
        false,
    );
    store.set_cell("t", "r", "a", 1);
    store.set_cell("t", "r", "b", 1);
    store.set_cell("t", "r", "a", 2);
    store.del_cell("t", "r", "a", false);
    store.set_value("v", 1).set_value("v", 2);
    assert_eq!(take(&log), ["tables true", "row t/r true", "value v true"]);
    // Deleted and re-added within one transaction: no flip.
    store.transaction(|s| {
        s.del_tables();
        s.set_cell("t", "r", "z", 1);
        s.del_value("v");
        s.set_value("v", 3);
    });
    assert!(take(&log).is_empty());
    store.del_row("t", "r");
    assert_eq!(take(&log), ["tables false", "row t/r false"]);
}

#[test]
fn sorted_row_ids_listener_fires_only_when_the_slice_changes() {
    let store = Store::new();
    let log = new_log();
    let l = log.clone();
    store.add_sorted_row_ids_listener(
        SortedRowIdsArgs::new("t").cell_id("n").limit(2),
        move |_, args, x| {
            push(
                &l,
                format!(
                    "{} {:?} {} {} {:?} {}",
                    args.table_id,
                    args.cell_id,
                    args.descending,
                    args.offset,
                    args.limit,
                    x.join(",")
                ),
            )
        },
        false,
    );
    store.set_tables(&tables(
        json!({"t": {"a": {"n": 3}, "b": {"n": 1}, "e": {"n": 2}}}),
    ));
    assert_eq!(take(&log), ["t Some(\"n\") false 0 Some(2) b,e"]);
    store.set_cell("t", "a", "n", 4); // a stays outside the slice
    store.set_cell("t", "a", "x", 4); // not the sort column
    store.set_cell("t", "b", "n", 0); // order unchanged
    store.set_cell("t", "f", "n", 10); // new row outside the slice
    store.set_cell("u", "g", "n", -1); // another table
    assert!(take(&log).is_empty());
    store.set_cell("t", "g", "n", -1);
    assert_eq!(take(&log), ["t Some(\"n\") false 0 Some(2) g,b"]);
    store.set_cell("t", "b", "n", 9); // moves out of the slice
    assert_eq!(take(&log), ["t Some(\"n\") false 0 Some(2) g,e"]);
    store.del_row("t", "a");
    assert!(take(&log).is_empty());
    store.del_table("t");
    assert_eq!(take(&log), ["t Some(\"n\") false 0 Some(2) "]);
}

#[test]
fn listeners_fire_once_per_transaction_with_net_changes() {
    let store = store_with(json!({"t": {"r": {"c": 1}}}), json!({"v": 1}));
    let log = new_log();
    let l = log.clone();
    store.add_cell_listener(
        None,
        None,
        None,
        move |_, t, r, cid, new, old| push(&l, format!("cell {t}/{r}/{cid} {} {}", c(new), c(old))),
        false,
    );
    let l = log.clone();
    store.add_row_listener(
        None,
        None,
        move |_, t, r| push(&l, format!("row {t}/{r}")),
        false,
    );
    let l = log.clone();
    store.add_cell_ids_listener(
        None,
        None,
        move |_, _, _, x| push(&l, format!("cellIds {}", id_changes(x))),
        false,
    );
    let l = log.clone();
    store.add_value_listener(
        None,
        move |_, v, new, old| push(&l, format!("value {v} {} {}", c(new), c(old))),
        false,
    );
    store.transaction(|s| {
        s.set_cell("t", "r", "c", 2);
        s.set_cell("t", "r", "c", 3);
        s.set_cell("t", "r", "c", 4);
        s.set_value("v", 2).set_value("v", 3);
    });
    assert_eq!(take(&log), ["cell t/r/c 4 1", "row t/r", "value v 3 1"]);
    // Changed and changed back: nothing fires.
    store.transaction(|s| {
        s.set_cell("t", "r", "c", 2);
        s.set_cell("t", "r", "c", 4);
        s.set_cell("t", "r", "d", 1);
        s.del_cell("t", "r", "d", false);
        s.set_value("v", 0).set_value("v", 3);
    });
    assert!(take(&log).is_empty());
    // Same value set again: nothing.
    store.set_cell("t", "r", "c", 4).set_value("v", 3);
    store.set_cell("t", "r", "c", Cell::Number(4.0));
    assert!(take(&log).is_empty());
    // Objects compare by encoded form.
    store.set_cell("t", "r", "o", json!({"a": 1}));
    take(&log);
    store.set_cell("t", "r", "o", json!({"a": 1}));
    assert!(take(&log).is_empty());
    store.set_cell("t", "r", "o", json!([1]));
    assert_eq!(take(&log), ["cell t/r/o [1] {\"a\":1}", "row t/r"]);
}

#[test]
fn listener_ids_come_from_a_reusable_pool() {
    let store = Store::new();
    let a = store.add_tables_listener(|_| {}, false);
    let b = store.add_tables_listener(|_| {}, false);
    assert_eq!((a, b), (ListenerId(0), ListenerId(1)));
    store.del_listener(a);
    let c2 = store.add_values_listener(|_| {}, false);
    assert_eq!(c2, ListenerId(0));
    let d = store.add_start_transaction_listener(|_| {});
    assert_eq!(d, ListenerId(2));
    store.del_listener(b).del_listener(d);
    assert_eq!(store.add_tables_listener(|_| {}, false), ListenerId(1));
    assert_eq!(store.add_tables_listener(|_| {}, false), ListenerId(2));
    assert_eq!(store.add_tables_listener(|_| {}, false), ListenerId(3));
    // Deleting an unknown id is harmless.
    store.del_listener(ListenerId(99));
    assert_eq!(store.get_listener_stats().tables, 3);
}

#[test]
fn del_listener_stops_calls() {
    let store = Store::new();
    let log = new_log();
    let l = log.clone();
    let id = store.add_cell_listener(
        Some("t"),
        None,
        None,
        move |_, _, _, _, _, _| push(&l, "x"),
        false,
    );
    store.set_cell("t", "r", "c", 1);
    store.del_listener(id);
    store.set_cell("t", "r", "c", 2);
    assert_eq!(take(&log), ["x"]);
}

#[test]
fn call_listener_invokes_with_current_state() {
    let store = store_with(
        json!({"t": {"r1": {"a": 1}, "r2": {"b": 2}}}),
        json!({"v": 1}),
    );
    let log = new_log();
    let l = log.clone();
    let cell = store.add_cell_listener(
        None,
        None,
        None,
        move |_, t, r, cid, new, old| push(&l, format!("cell {t}/{r}/{cid} {} {}", c(new), c(old))),
        false,
    );
    let l = log.clone();
    let row_ids = store.add_row_ids_listener(
        None,
        move |_, t, x| push(&l, format!("rowIds {t} [{}]", id_changes(x))),
        false,
    );
    let l = log.clone();
    let has_row = store.add_has_row_listener(
        Some("t"),
        Some("zz"),
        move |_, t, r, b| push(&l, format!("hasRow {t}/{r} {b}")),
        false,
    );
    let l = log.clone();
    let value = store.add_value_listener(
        None,
        move |_, v, new, old| push(&l, format!("value {v} {} {}", c(new), c(old))),
        false,
    );
    let l = log.clone();
    let has_table_cell = store.add_has_table_cell_listener(
        Some("t"),
        None,
        move |_, t, cid, b| push(&l, format!("htc {t} {cid} {b}")),
        false,
    );
    let l = log.clone();
    let table = store.add_table_listener(None, move |_, t| push(&l, format!("table {t}")), false);
    let l = log.clone();
    let has_tables =
        store.add_has_tables_listener(move |_, b| push(&l, format!("hasTables {b}")), false);
    assert!(take(&log).is_empty());
    store.call_listener(cell);
    assert_eq!(take(&log), ["cell t/r1/a 1 1", "cell t/r2/b 2 2"]);
    store.call_listener(row_ids);
    assert_eq!(take(&log), ["rowIds t []"]);
    store.call_listener(has_row);
    assert_eq!(take(&log), ["hasRow t/zz false"]);
    store.call_listener(value);
    assert_eq!(take(&log), ["value v 1 1"]);
    store.call_listener(has_table_cell);
    assert_eq!(take(&log), ["htc t a true", "htc t b true"]);
    store.call_listener(table);
    assert_eq!(take(&log), ["table t"]);
    store.call_listener(has_tables);
    assert_eq!(take(&log), ["hasTables true"]);
    store.call_listener(ListenerId(1234));
    assert!(take(&log).is_empty());
    // Wildcards expand over the ids present now.
    store.del_row("t", "r1");
    take(&log);
    store.call_listener(cell);
    assert_eq!(take(&log), ["cell t/r2/b 2 2"]);
}

#[test]
fn listener_stats_count_per_kind() {
    let store = Store::new();
    let a = store.add_tables_listener(|_| {}, false);
    store.add_cell_listener(None, None, None, |_, _, _, _, _, _| {}, true);
    store.add_cell_listener(Some("t"), None, None, |_, _, _, _, _, _| {}, false);
    store.add_value_listener(None, |_, _, _, _| {}, false);
    store.add_invalid_value_listener(None, |_, _, _| {}, false);
    store.add_sorted_row_ids_listener(SortedRowIdsArgs::new("t"), |_, _, _| {}, false);
    store.add_start_transaction_listener(|_| {});
    store.add_will_finish_transaction_listener(|_| {});
    store.add_did_finish_transaction_listener(|_| {});
    let stats = store.get_listener_stats();
    assert_eq!(stats.tables, 1);
    assert_eq!(stats.cell, 2);
    assert_eq!(stats.value, 1);
    assert_eq!(stats.invalid_value, 1);
    assert_eq!(stats.sorted_row_ids, 1);
    assert_eq!(stats.transaction, 3);
    assert_eq!(stats.row, 0);
    assert_eq!(stats.has_tables, 0);
    store.del_listener(a);
    assert_eq!(store.get_listener_stats().tables, 0);
    assert_eq!(
        Store::new().get_listener_stats(),
        tinystore_core::ListenerStats::default()
    );
}

#[test]
fn mutator_listener_writes_join_the_transaction() {
    let store = Store::new();
    let log = new_log();
    store.add_cell_listener(
        Some("t"),
        None,
        Some("a"),
        |s, t, r, _, new, _| {
            let doubled = new.and_then(Cell::as_f64).map(|n| n * 2.0);
            if let Some(d) = doubled {
                s.set_cell(t, r, "double", d);
            }
            // Writes are validated.
            s.set_cell(t, r, "bad", f64::NAN);
        },
        true,
    );
    let l = log.clone();
    store.add_row_listener(
        None,
        None,
        move |s, t, r| push(&l, format!("row {t}/{r} {:?}", s.get_cell_ids(t, r))),
        false,
    );
    let l = log.clone();
    store.add_invalid_cell_listener(
        None,
        None,
        None,
        move |_, _, _, cid, _| push(&l, format!("inv {}", opt_id(cid))),
        false,
    );
    let l = log.clone();
    store.add_did_finish_transaction_listener(move |_| push(&l, "did"));
    store.set_cell("t", "r", "a", 2);
    assert_eq!(store.get_cell("t", "r", "double"), Some(Cell::Number(4.0)));
    assert_eq!(
        take(&log),
        ["inv bad", "row t/r [\"a\", \"double\"]", "did"]
    );
    // A rollback reverts the mutator's writes too.
    store.transaction_with_rollback(
        |s| {
            s.set_cell("t", "r", "a", 5);
        },
        |_| true,
    );
    assert_eq!(store.get_row("t", "r"), row(json!({"a": 2, "double": 4})));
}

#[test]
fn non_mutator_listener_writes_are_ignored() {
    let store = Store::new();
    store.add_cell_listener(
        Some("t"),
        None,
        Some("a"),
        |s, t, r, _, _, _| {
            s.set_cell(t, r, "b", 1);
            s.set_value("x", 1);
            s.del_row(t, r);
        },
        false,
    );
    store.add_did_finish_transaction_listener(|s| {
        s.set_cell("d", "d", "d", 1);
    });
    store.set_cell("t", "r", "a", 1);
    assert_eq!(store.get_json(), r#"[{"t":{"r":{"a":1}}},{}]"#);
    assert!(!store.is_in_transaction());
}

#[test]
fn a_panicking_listener_still_finalises_and_resumes_the_panic() {
    let store = Store::new();
    let log = new_log();
    let l = log.clone();
    store.add_cell_listener(
        None,
        None,
        None,
        move |_, _, _, cid, _, _| {
            push(&l, format!("cell {cid}"));
            if cid == "a" {
                panic!("listener boom");
            }
        },
        false,
    );
    let l = log.clone();
    store.add_row_listener(None, None, move |_, _, _| push(&l, "row"), false);
    let l = log.clone();
    store.add_did_finish_transaction_listener(move |_| {
        push(&l, "did1");
        panic!("did boom");
    });
    let l = log.clone();
    store.add_did_finish_transaction_listener(move |s| {
        push(&l, format!("did2 {}", s.is_in_transaction()))
    });
    let err = catch_unwind(AssertUnwindSafe(|| {
        store.transaction(|s| {
            s.set_cell("t", "r", "a", 1).set_cell("t", "r", "b", 1);
        });
    }))
    .unwrap_err();
    // The first panic is the one resumed.
    assert_eq!(err.downcast_ref::<&str>(), Some(&"listener boom"));
    // The rest of the phase is abandoned; did-finish listeners all run.
    assert_eq!(take(&log), ["cell a", "did1", "did2 true"]);
    // Non-mutator listeners run after commit: the data stays.
    assert_eq!(store.get_row("t", "r"), row(json!({"a": 1, "b": 1})));
    assert!(!store.is_in_transaction());
    // The store still works.
    let err = catch_unwind(AssertUnwindSafe(|| {
        store.set_cell("t", "r", "b", 2);
    }))
    .unwrap_err();
    assert_eq!(err.downcast_ref::<&str>(), Some(&"did boom"));
    assert_eq!(take(&log), ["cell b", "row", "did1", "did2 true"]);
    assert_eq!(store.get_cell("t", "r", "b"), Some(Cell::Number(2.0)));
}

#[test]
fn a_panicking_mutator_listener_rolls_back() {
    let store = store_with(json!({"t": {"r": {"a": 1}}}), json!({}));
    let log = new_log();
    store.add_cell_listener(
        None,
        None,
        Some("a"),
        |s, t, r, _, _, _| {
            s.set_cell(t, r, "m", 1);
            panic!("mutator boom");
        },
        true,
    );
    let l = log.clone();
    store.add_cell_listener(
        None,
        None,
        None,
        move |_, _, _, cid, _, _| push(&l, format!("cell {cid}")),
        false,
    );
    let l = log.clone();
    store.add_did_finish_transaction_listener(move |_| push(&l, "did"));
    let err = catch_unwind(AssertUnwindSafe(|| {
        store.set_cell("t", "r", "a", 2);
    }))
    .unwrap_err();
    assert_eq!(err.downcast_ref::<&str>(), Some(&"mutator boom"));
    assert_eq!(store.get_json(), r#"[{"t":{"r":{"a":1}}},{}]"#);
    assert_eq!(take(&log), ["did"]);
    // Panics in do_rollback and will-finish listeners also roll back.
    let err = catch_unwind(AssertUnwindSafe(|| {
        store.transaction_with_rollback(
            |s| {
                s.set_cell("t", "r", "z", 2);
            },
            |_| panic!("rb boom"),
        );
    }))
    .unwrap_err();
    assert_eq!(err.downcast_ref::<&str>(), Some(&"rb boom"));
    assert!(!store.has_cell("t", "r", "z"));
    let will = store.add_will_finish_transaction_listener(|_| panic!("will boom"));
    let err = catch_unwind(AssertUnwindSafe(|| {
        store.set_cell("t", "r", "z", 3);
    }))
    .unwrap_err();
    assert_eq!(err.downcast_ref::<&str>(), Some(&"will boom"));
    assert!(!store.has_cell("t", "r", "z"));
    store.del_listener(will);
    take(&log);
}

#[test]
fn a_listener_may_delete_itself_and_call_getters() {
    let store = Store::new();
    let log = new_log();
    let me: Arc<Mutex<Option<ListenerId>>> = Arc::default();
    let me2 = me.clone();
    let l = log.clone();
    let id = store.add_cell_listener(
        None,
        None,
        None,
        move |s, t, r, cid, _, _| {
            // Re-entrant reads.
            let row = s.get_row(t, r);
            push(&l, format!("once {cid} {} {}", row.len(), s.get_json()));
            let id = me2.lock().unwrap().expect("set");
            s.del_listener(id);
        },
        false,
    );
    *me.lock().unwrap() = Some(id);
    let l = log.clone();
    store.add_row_listener(
        None,
        None,
        move |s, t, r| {
            push(
                &l,
                format!("row {} {}", s.get_cell_ids(t, r).join(","), s.has_row(t, r)),
            )
        },
        false,
    );
    store.set_cell("t", "r", "c", 1);
    store.set_cell("t", "r", "d", 2);
    assert_eq!(
        take(&log),
        [
            "once c 1 [{\"t\":{\"r\":{\"c\":1}}},{}]",
            "row c true",
            "row c,d true"
        ]
    );
    assert_eq!(store.get_listener_stats().cell, 0);
}

#[test]
fn firing_order_of_mutators_will_finish_and_non_mutators() {
    let store = store_with(json!({"t": {"r1": {"a": 1}}}), json!({"v": 1}));
    let log = new_log();
    let l = log.clone();
    store.add_start_transaction_listener(move |_| push(&l, "start"));
    let l = log.clone();
    store.add_will_finish_transaction_listener(move |_| push(&l, "will"));
    let l = log.clone();
    store.add_did_finish_transaction_listener(move |_| push(&l, "did"));
    let l = log.clone();
    store.add_value_listener(
        None,
        move |_, v, _, _| push(&l, format!("value {v}")),
        false,
    );
    let l = log.clone();
    store.add_cell_listener(
        None,
        None,
        None,
        move |_, _, r, cid, _, _| push(&l, format!("cell {r}.{cid}")),
        false,
    );
    let l = log.clone();
    store.add_row_listener(
        None,
        None,
        move |_, _, r| push(&l, format!("row {r}")),
        true,
    );
    let l = log.clone();
    store.add_value_listener(
        None,
        move |_, v, _, _| push(&l, format!("mut value {v}")),
        true,
    );
    let l = log.clone();
    let result = store.transaction_with_rollback(
        |s| {
            s.set_value("v", 2);
            s.set_cell("t", "r2", "a", 0);
            s.set_cell("t", "r1", "a", 2);
            1
        },
        move |_| {
            push(&l, "doRollback");
            false
        },
    );
    assert_eq!(result, 1);
    assert_eq!(
        take(&log),
        [
            "start",
            "row r2",
            "row r1",
            "mut value v",
            "doRollback",
            "will",
            "cell r2.a",
            "cell r1.a",
            "value v",
            "did"
        ]
    );
}

#[test]
fn get_cell_change_inside_listeners() {
    let store = store_with(json!({"t": {"r": {"a": 1}}}), json!({"v": 1}));
    let seen: Arc<Mutex<Vec<CellChange>>> = Arc::default();
    let s2 = seen.clone();
    store.add_row_listener(
        None,
        None,
        move |s, t, r| {
            s2.lock().unwrap().push(s.get_cell_change(t, r, "a"));
            s2.lock().unwrap().push(s.get_cell_change(t, r, "zz"));
            s2.lock().unwrap().push(s.get_value_change("v"));
        },
        false,
    );
    store.transaction(|s| {
        s.set_cell("t", "r", "a", 2);
        s.set_value("v", 5);
    });
    let got = seen.lock().unwrap().clone();
    assert_eq!(
        got,
        [
            CellChange {
                changed: true,
                old: Some(Cell::from(1)),
                new: Some(Cell::from(2))
            },
            CellChange {
                changed: false,
                old: None,
                new: None
            },
            CellChange {
                changed: true,
                old: Some(Cell::from(1)),
                new: Some(Cell::from(5))
            },
        ]
    );
}

/// A lone `set_cell` of an existing cell takes a shorter dispatch (no snapshot of the change
/// maps): the listeners it calls, and their order and arguments, are those of the general path,
/// including when a mutator listener widens the transaction, when a sorted view must re-sort,
/// and after a large transaction whose logs are not kept for reuse.
#[test]
fn one_cell_transactions_call_what_the_general_path_calls() {
    let store = store_with(json!({"t": {"a": {"n": 2}, "b": {"n": 1}}}), json!({}));
    let log = new_log();
    let l = log.clone();
    store.add_cell_listener(
        Some("t"),
        None,
        Some("n"),
        move |s, t, r, cid, new, old| {
            push(&l, format!("mut {t}/{r}/{cid} {} {}", c(new), c(old)));
            if r == "a" {
                s.set_cell("t", "b", "m", 7);
            }
        },
        true,
    );
    let l = log.clone();
    store.add_cell_listener(
        None,
        None,
        None,
        move |_, t, r, cid, new, old| push(&l, format!("cell {t}/{r}/{cid} {} {}", c(new), c(old))),
        false,
    );
    let l = log.clone();
    store.add_row_listener(
        None,
        None,
        move |_, t, r| push(&l, format!("row {t}/{r}")),
        false,
    );
    let l = log.clone();
    store.add_cell_ids_listener(
        None,
        None,
        move |_, _, r, x| push(&l, format!("cellIds {r} {}", id_changes(x))),
        false,
    );
    let l = log.clone();
    store.add_sorted_row_ids_listener(
        SortedRowIdsArgs::new("t").cell_id("n"),
        move |_, _, ids| push(&l, format!("sorted {}", ids.join(","))),
        false,
    );
    let l = log.clone();
    store.add_tables_listener(move |_| push(&l, "tables"), false);

    // The mutator adds a cell to another row: the non-mutator phase sees both changes.
    store.set_cell("t", "a", "n", 0);
    assert_eq!(
        take(&log),
        [
            "mut t/a/n 0 2",
            "sorted a,b",
            "cellIds b m:1",
            "cell t/a/n 0 2",
            "row t/a",
            "cell t/b/m 7 U",
            "row t/b",
            "tables",
        ]
    );
    // Setting the same value changes nothing and calls nothing.
    store.set_cell("t", "b", "n", 1);
    assert!(take(&log).is_empty());
    // A change that does not move the sorted ids: the sorted listener stays quiet.
    store.set_cell("t", "b", "n", 5);
    assert_eq!(
        take(&log),
        ["mut t/b/n 5 1", "cell t/b/n 5 1", "row t/b", "tables"]
    );
    // A large transaction, then lone writes again: each sees its own change only.
    store.transaction(|s| {
        for i in 0..200 {
            s.set_cell("t", &format!("r{i}"), "x", i);
        }
    });
    assert_eq!(
        take(&log).iter().filter(|e| e.starts_with("cell ")).count(),
        200
    );
    for v in [1, 2] {
        store.set_cell("t", "r7", "x", v);
        assert_eq!(
            take(&log),
            [
                format!("cell t/r7/x {v} {}", if v == 1 { 7 } else { 1 }),
                "row t/r7".to_string(),
                "tables".to_string(),
            ]
        );
    }
}
