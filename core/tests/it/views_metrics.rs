//! Metrics (spec store.md §7), against TinyBase's semantics.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::json;
use tinystore_core::views::{Aggregate, CustomAggregate, Metrics, Source, ViewError};
use tinystore_core::{Cell, MergeableStore, Store};

type Log = Arc<Mutex<Vec<String>>>;

fn take(log: &Log) -> Vec<String> {
    std::mem::take(&mut *log.lock().unwrap())
}

fn pets() -> Store {
    let store = Store::new();
    store
        .set_cell("pets", "fido", "price", 5)
        .set_cell("pets", "felix", "price", 4)
        .set_cell("pets", "cujo", "price", "x");
    store
}

#[test]
fn the_specs_example_and_the_four_aggregates() {
    let store = pets();
    let metrics = Metrics::new(&store);
    assert!(metrics.get_store().ptr_eq(&store));
    let price = || Some(Source::cell("price"));
    metrics.set_metric_definition("count", "pets", Aggregate::Sum, None);
    metrics.set_metric_definition("sum", "pets", Aggregate::Sum, price());
    metrics.set_metric_definition("avg", "pets", Aggregate::named("avg").unwrap(), price());
    metrics.set_metric_definition("min", "pets", Aggregate::Min, price());
    metrics.set_metric_definition("max", "pets", Aggregate::Max, price());
    let get = |id| metrics.get_metric(id);
    assert_eq!(
        (get("count"), get("sum"), get("avg"), get("min"), get("max")),
        (Some(3.0), Some(9.0), Some(4.5), Some(4.0), Some(5.0))
    );
    store.set_cell("pets", "rex", "price", 9);
    store.del_row("pets", "felix");
    assert_eq!(
        (get("count"), get("sum"), get("avg"), get("min"), get("max")),
        (Some(3.0), Some(14.0), Some(7.0), Some(5.0), Some(9.0))
    );
    assert_eq!(
        metrics.get_metric_ids(),
        ["count", "sum", "avg", "min", "max"]
    );
    assert_eq!(metrics.get_table_id("avg").as_deref(), Some("pets"));
    let mut seen = Vec::new();
    metrics.for_each_metric(|id, m| seen.push(format!("{id}={m}")));
    assert_eq!(seen, ["count=3", "sum=14", "avg=7", "min=5", "max=9"]);
}

#[test]
fn what_counts_as_a_number() {
    let store = Store::new();
    let values = [
        ("bool", Cell::from(true)),
        ("empty", Cell::from("")),
        ("text", Cell::from("x")),
        ("object", Cell::from_json(json!({"a": 1}))),
        ("null", Cell::Null),
        ("space", Cell::from(" ")),
        ("numeric", Cell::from("10")),
        ("hex", Cell::from("0x10")),
        ("emptyArray", Cell::from_json(json!([]))),
        ("oneArray", Cell::from_json(json!([5]))),
        ("twoArray", Cell::from_json(json!([5, 6]))),
    ];
    for (row, value) in &values {
        store.set_cell("t", row, "n", value.clone());
    }
    let metrics = Metrics::new(&store);
    metrics.set_metric_definition("sum", "t", Aggregate::Sum, Some(Source::cell("n")));
    metrics.set_metric_definition(
        "count",
        "t",
        CustomAggregate::new(|_, n| Some(n as f64)).into(),
        Some(Source::cell("n")),
    );
    // null 0, " " 0, "10" 10, "0x10" 16, [] 0, [5] 5.
    assert_eq!(metrics.get_metric("sum"), Some(31.0));
    assert_eq!(metrics.get_metric("count"), Some(6.0));
}

#[test]
fn no_numbers_no_metric_and_has_metric_follows_the_value() {
    let store = Store::new();
    let metrics = Metrics::new(&store);
    metrics.set_metric_definition("m", "t", Aggregate::Sum, Some(Source::cell("n")));
    assert_eq!(metrics.get_metric("m"), None);
    // As TinyBase: a metric without a value is listed, but `has_metric` is false.
    assert_eq!(metrics.get_metric_ids(), ["m"]);
    assert!(!metrics.has_metric("m"));
    store.set_cell("t", "r", "n", 2);
    assert!(metrics.has_metric("m"));
    store.set_cell("t", "r", "n", "x");
    assert_eq!(metrics.get_metric("m"), None);
    // Infinite results are no metric either.
    store
        .set_cell("t", "r", "n", 1e308)
        .set_cell("t", "s", "n", 1e308);
    assert_eq!(metrics.get_metric("m"), None);
}

#[test]
fn function_form() {
    let store = pets();
    let metrics = Metrics::new(&store);
    let doubled = Source::func(|get_cell, row: &str| match get_cell("price") {
        Some(Cell::Number(n)) => Some(Cell::Number(n * 2.0)),
        _ if row == "cujo" => Some(Cell::from("7")),
        _ => None,
    });
    metrics.set_metric_definition("m", "pets", Aggregate::Sum, Some(doubled));
    assert_eq!(metrics.get_metric("m"), Some(25.0));
}

#[test]
fn incremental_hooks_are_used_and_a_missing_hook_recomputes() {
    let store = Store::new();
    for (row, n) in [("a", 1), ("b", 2), ("c", 3)] {
        store.set_cell("t", row, "n", n);
    }
    let calls: Log = Arc::default();
    let (c1, c2, c3, c4) = (calls.clone(), calls.clone(), calls.clone(), calls.clone());
    let custom = CustomAggregate {
        aggregate: Arc::new(move |ns, len| {
            c1.lock().unwrap().push(format!("all {ns:?} {len}"));
            Some(ns.iter().sum())
        }),
        add: Some(Arc::new(move |m, add, len| {
            c2.lock().unwrap().push(format!("add {m} {add} {len}"));
            Some(m + add)
        })),
        remove: Some(Arc::new(move |m, removed, len| {
            c3.lock()
                .unwrap()
                .push(format!("remove {m} {removed} {len}"));
            Some(m - removed)
        })),
        replace: Some(Arc::new(move |m, new, old, len| {
            c4.lock()
                .unwrap()
                .push(format!("replace {m} {new} {old} {len}"));
            Some(m - old + new)
        })),
    };
    let metrics = Metrics::new(&store);
    metrics.set_metric_definition(
        "m",
        "t",
        Aggregate::Custom(custom.clone()),
        Some(Source::cell("n")),
    );
    assert_eq!(take(&calls), ["all [1.0, 2.0, 3.0] 3"]);
    store.set_cell("t", "d", "n", 4);
    store.set_cell("t", "a", "n", 10);
    store.del_row("t", "b");
    assert_eq!(
        take(&calls),
        ["add 6 4 3", "replace 10 10 1 4", "remove 19 2 4"]
    );
    assert_eq!(metrics.get_metric("m"), Some(17.0));
    // A hook saying `None` falls back to the full aggregate.
    let without_remove = CustomAggregate {
        remove: None,
        ..custom
    };
    metrics.set_metric_definition(
        "m",
        "t",
        Aggregate::Custom(without_remove),
        Some(Source::cell("n")),
    );
    take(&calls);
    store.del_row("t", "c");
    assert_eq!(take(&calls), ["all [10.0, 4.0] 2"]);
    assert_eq!(metrics.get_metric("m"), Some(14.0));
}

#[test]
fn listeners_get_the_new_and_old_metric() {
    let store = pets();
    let metrics = Metrics::new(&store);
    let log: Log = Arc::default();
    let l = log.clone();
    metrics.add_metric_ids_listener(move |_| l.lock().unwrap().push("ids".into()));
    let l = log.clone();
    metrics.add_metric_listener(None, move |_, id, new, old| {
        l.lock().unwrap().push(format!("{id} {new:?} {old:?}"))
    });
    let l = log.clone();
    metrics.add_metric_listener(Some("sum"), move |_, _, _, _| {
        l.lock().unwrap().push("exact".into())
    });
    metrics.set_metric_definition("sum", "pets", Aggregate::Sum, Some(Source::cell("price")));
    assert_eq!(take(&log), ["ids", "exact", "sum Some(9.0) None"]);
    store.set_cell("pets", "cujo", "price", 1);
    assert_eq!(take(&log), ["exact", "sum Some(10.0) Some(9.0)"]);
    store.set_cell("pets", "cujo", "other", 1);
    assert!(take(&log).is_empty());
    assert_eq!(metrics.get_listener_stats().metric, 2);
    metrics.del_metric_definition("sum");
    assert_eq!(take(&log), ["ids"]);
    assert_eq!(metrics.get_metric("sum"), None);
    metrics.set_metric_definition("sum", "pets", Aggregate::Sum, None);
    take(&log);
    metrics.destroy();
    assert_eq!(take(&log), ["ids"]);
    assert_eq!(store.get_listener_stats().table, 0);
}

#[test]
fn unknown_aggregate_names_are_errors() {
    let metrics = Metrics::new(&Store::new());
    assert_eq!(
        metrics
            .set_metric_definition_named("m", "t", "median", None)
            .err(),
        Some(ViewError::UnknownAggregate("median".into()))
    );
    assert!(metrics.get_metric_ids().is_empty());
    assert!(
        metrics
            .set_metric_definition_named("m", "t", "max", None)
            .is_ok()
    );
    assert!(
        ViewError::UnknownAggregate("x".into())
            .to_string()
            .contains("sum")
    );
}

#[test]
fn mergeable_store_and_transactions() {
    let store = MergeableStore::new(Some("s"));
    let metrics = Metrics::new(&store);
    metrics.set_metric_definition("rows", "t", Aggregate::Sum, None);
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    metrics.add_metric_listener(None, move |_, _, _, _| {
        c.fetch_add(1, Ordering::SeqCst);
    });
    store.transaction(|s| {
        for i in 0..5 {
            s.set_cell("t", &i.to_string(), "c", i);
        }
    });
    assert_eq!(
        (metrics.get_metric("rows"), calls.load(Ordering::SeqCst)),
        (Some(5.0), 1)
    );
    store.transaction_with_rollback(
        |s| {
            s.del_table("t");
        },
        |_| true,
    );
    assert_eq!(
        (metrics.get_metric("rows"), calls.load(Ordering::SeqCst)),
        (Some(5.0), 1)
    );
}

#[test]
fn a_panicking_aggregate_reaches_the_writer_and_recovers_at_the_next_change() {
    let store = Store::new();
    store.set_cell("t", "a", "n", 1);
    let metrics = Metrics::new(&store);
    let fragile = CustomAggregate::new(|ns, _| {
        assert!(!ns.contains(&13.0), "unlucky");
        Some(ns.iter().sum())
    });
    metrics.set_metric_definition(
        "m",
        "t",
        Aggregate::Custom(fragile),
        Some(Source::cell("n")),
    );
    metrics.set_metric_definition("count", "t", Aggregate::Sum, None);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        store.set_cell("t", "b", "n", 13);
    }));
    assert!(result.is_err());
    assert_eq!(metrics.get_metric("m"), Some(1.0));
    assert_eq!(metrics.get_metric("count"), Some(2.0));
    store.set_cell("t", "b", "n", 2);
    assert_eq!(metrics.get_metric("m"), Some(3.0));
}
