//! Property tests of the derived views: after any sequence of writes, transactions and
//! rollbacks, each incrementally maintained view equals a view computed from scratch over the
//! same store; checkpoints take the store back to exactly what it was.

use std::collections::BTreeSet;
use std::sync::Arc;

use proptest::prelude::*;
use tinystore_core::views::{Aggregate, Checkpoints, CustomAggregate, Source};
use tinystore_core::{Cell, Indexes, Metrics, Relationships, Store};

const TABLES: &[&str] = &["t", "u"];
const ROWS: &[&str] = &["a", "b", "c", "d", "e"];
const CELLS: &[&str] = &["s", "k", "n", "p"];

#[derive(Clone, Debug)]
enum Op {
    Set(&'static str, &'static str, &'static str, Cell),
    DelCell(&'static str, &'static str, &'static str),
    DelRow(&'static str, &'static str),
    DelTable(&'static str),
    Transaction(Vec<Op>),
    Rollback(Vec<Op>),
}

fn value() -> impl Strategy<Value = Cell> {
    prop_oneof![
        (-3i32..4).prop_map(Cell::from),
        prop::sample::select(vec!["a", "b", "c", "z", "x", "2", ""]).prop_map(Cell::from),
        any::<bool>().prop_map(Cell::from),
        Just(Cell::Null),
    ]
}

fn write() -> impl Strategy<Value = Op> {
    let t = prop::sample::select(TABLES);
    let r = prop::sample::select(ROWS);
    let c = prop::sample::select(CELLS);
    prop_oneof![
        4 => (t.clone(), r.clone(), c.clone(), value()).prop_map(|(t, r, c, v)| Op::Set(t, r, c, v)),
        1 => (t.clone(), r.clone(), c).prop_map(|(t, r, c)| Op::DelCell(t, r, c)),
        1 => (t.clone(), r).prop_map(|(t, r)| Op::DelRow(t, r)),
        1 => t.prop_map(Op::DelTable),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => write(),
        1 => prop::collection::vec(write(), 1..6).prop_map(Op::Transaction),
        1 => prop::collection::vec(write(), 1..6).prop_map(Op::Rollback),
    ]
}

fn apply(store: &Store, op: &Op) {
    match op {
        Op::Set(t, r, c, v) => drop(store.set_cell(t, r, c, v.clone())),
        Op::DelCell(t, r, c) => drop(store.del_cell(t, r, c, true)),
        Op::DelRow(t, r) => drop(store.del_row(t, r)),
        Op::DelTable(t) => drop(store.del_table(t)),
        Op::Transaction(ops) => store.transaction(|s| ops.iter().for_each(|op| apply(s, op))),
        Op::Rollback(ops) => {
            store.transaction_with_rollback(|s| ops.iter().for_each(|op| apply(s, op)), |_| true)
        }
    }
}

fn text(cell: Option<Cell>) -> String {
    format!("{cell:?}")
}

/// The definitions under test, applied to fresh view objects.
fn define(store: &Store) -> (Indexes, Relationships, Metrics) {
    let indexes = Indexes::new(store);
    // Sort keys unique per row, so any correct sort gives one order.
    let key = Source::func(|get_cell, row: &str| {
        Some(Cell::from(format!("{}|{row}", text(get_cell("k")))))
    });
    indexes.set_index_definition(
        "sorted",
        "t",
        Some(Source::cell("s")),
        Some(key),
        None,
        None,
    );
    let multi = Source::func(|get_cell, _| vec![text(get_cell("s")), "all".to_string()]);
    indexes.set_index_definition("multi", "t", Some(multi), None, None, None);
    let rels = Relationships::new(store);
    rels.set_relationship_definition("link", "t", "u", Source::cell("p"));
    rels.set_relationship_definition("self", "t", "t", Source::cell("p"));
    let metrics = Metrics::new(store);
    let n = || Some(Source::cell("n"));
    metrics.set_metric_definition("sum", "t", Aggregate::Sum, n());
    metrics.set_metric_definition("avg", "t", Aggregate::Avg, n());
    metrics.set_metric_definition("min", "t", Aggregate::Min, n());
    metrics.set_metric_definition("max", "t", Aggregate::Max, n());
    let count = CustomAggregate {
        aggregate: Arc::new(|_, len| Some(len as f64)),
        add: Some(Arc::new(|m, _, _| Some(m + 1.0))),
        remove: Some(Arc::new(|m, _, _| Some(m - 1.0))),
        replace: Some(Arc::new(|m, _, _, _| Some(m))),
    };
    metrics.set_metric_definition("count", "u", Aggregate::Custom(count), n());
    (indexes, rels, metrics)
}

/// The store's content, compared without regard to key order (undo re-adds a deleted row or
/// cell at the end, in TinyBase too).
fn content(store: &Store) -> serde_json::Value {
    serde_json::from_str(&store.get_json()).expect("valid JSON")
}

fn set(ids: Vec<String>) -> BTreeSet<String> {
    ids.into_iter().collect()
}

fn assert_same(
    live: &(Indexes, Relationships, Metrics),
    fresh: &(Indexes, Relationships, Metrics),
) {
    let (li, lr, lm) = live;
    let (fi, fr, fm) = fresh;
    for index in ["sorted", "multi"] {
        let slices = li.get_slice_ids(index);
        assert_eq!(
            set(slices.clone()),
            set(fi.get_slice_ids(index)),
            "{index} slice ids"
        );
        for slice in slices {
            let (l, f) = (
                li.get_slice_row_ids(index, &slice),
                fi.get_slice_row_ids(index, &slice),
            );
            if index == "sorted" {
                assert_eq!(l, f, "{index}/{slice} rows");
            } else {
                assert_eq!(set(l), set(f), "{index}/{slice} rows");
            }
        }
    }
    for rel in ["link", "self"] {
        for row in ROWS.iter().chain(&["z", "x", "2", ""]) {
            assert_eq!(
                lr.get_remote_row_id(rel, row),
                fr.get_remote_row_id(rel, row)
            );
            assert_eq!(
                set(lr.get_local_row_ids(rel, row)),
                set(fr.get_local_row_ids(rel, row))
            );
            assert_eq!(
                lr.get_linked_row_ids(rel, row),
                fr.get_linked_row_ids(rel, row)
            );
        }
    }
    for metric in ["sum", "min", "max", "count"] {
        assert_eq!(lm.get_metric(metric), fm.get_metric(metric), "{metric}");
    }
    match (lm.get_metric("avg"), fm.get_metric("avg")) {
        (Some(a), Some(b)) => assert!((a - b).abs() < 1e-9, "avg {a} vs {b}"),
        (a, b) => assert_eq!(a, b, "avg"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn incremental_views_equal_views_computed_from_scratch(
        setup in prop::collection::vec(write(), 0..10),
        ops in prop::collection::vec(op(), 1..30),
    ) {
        let store = Store::new();
        setup.iter().for_each(|op| apply(&store, op));
        let live = define(&store);
        for op in &ops {
            apply(&store, op);
            assert_same(&live, &define(&store));
        }
    }

    #[test]
    fn checkpoints_restore_exactly_what_the_store_held(
        steps in prop::collection::vec((prop::collection::vec(op(), 1..4), 0u8..4), 1..12),
    ) {
        let store = Store::new();
        let checkpoints = Checkpoints::new(&store);
        let mut snapshots = vec![("0".to_string(), content(&store))];
        for (ops, action) in &steps {
            ops.iter().for_each(|op| apply(&store, op));
            match action {
                0 => checkpoints.go_backward(),
                1 => checkpoints.go_forward(),
                _ => {
                    let id = checkpoints.add_checkpoint("");
                    if !snapshots.iter().any(|(known, _)| *known == id) {
                        snapshots.push((id, content(&store)));
                    }
                    &checkpoints
                }
            };
            // Going forward from a discarded branch is impossible, so every current id is one
            // whose content was recorded (or re-recorded after `go_backward` made it).
            let (_, current, _) = checkpoints.get_checkpoint_ids();
            if let Some(current) = current {
                match snapshots.iter().find(|(id, _)| *id == current) {
                    Some((_, json)) => prop_assert_eq!(&content(&store), json),
                    None => snapshots.push((current, content(&store))),
                }
            }
        }
        // Walking all the way back gives the start.
        let (back, _, _) = checkpoints.get_checkpoint_ids();
        if let Some(first) = back.first() {
            checkpoints.go_to(first);
            let expected = &snapshots.iter().find(|(id, _)| id == first).expect("recorded").1;
            prop_assert_eq!(&content(&store), expected);
        }
    }
}

#[test]
fn view_handles_are_send_sync_and_usable_across_threads() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<Indexes>();
    assert_send_sync::<Relationships>();
    assert_send_sync::<Metrics>();
    assert_send_sync::<Checkpoints>();
    let store = Store::new();
    let (indexes, _, metrics) = define(&store);
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let store = store.clone();
            std::thread::spawn(move || {
                for i in 0..50 {
                    store.set_cell("t", &format!("r{w}-{i}"), "n", 1);
                }
            })
        })
        .collect();
    let reader = {
        let (indexes, metrics) = (indexes.clone(), metrics.clone());
        std::thread::spawn(move || {
            for _ in 0..200 {
                let _ = indexes.get_slice_ids("sorted");
                let _ = metrics.get_metric("sum");
            }
        })
    };
    for thread in writers.into_iter().chain([reader]) {
        thread.join().expect("no thread panicked");
    }
    assert_eq!(metrics.get_metric("sum"), Some(200.0));
    assert_eq!(indexes.get_slice_row_ids("multi", "all").len(), 200);
}
