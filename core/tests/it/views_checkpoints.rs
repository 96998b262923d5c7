//! Checkpoints (spec store.md §9), against TinyBase's semantics.

use std::sync::{Arc, Mutex};

use tinystore_core::views::Checkpoints;
use tinystore_core::{Cell, Store};

type Log = Arc<Mutex<Vec<String>>>;

fn take(log: &Log) -> Vec<String> {
    std::mem::take(&mut *log.lock().unwrap())
}

fn ids(
    backward: &[&str],
    current: Option<&str>,
    forward: &[&str],
) -> (Vec<String>, Option<String>, Vec<String>) {
    let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect();
    (v(backward), current.map(str::to_string), v(forward))
}

fn listen(checkpoints: &Checkpoints) -> Log {
    let log: Log = Arc::default();
    let l = log.clone();
    checkpoints.add_checkpoint_ids_listener(move |c| {
        let (b, cur, f) = c.get_checkpoint_ids();
        l.lock().unwrap().push(format!("ids {b:?} {cur:?} {f:?}"))
    });
    let l = log.clone();
    checkpoints.add_checkpoint_listener(None, move |c, id| {
        l.lock()
            .unwrap()
            .push(format!("checkpoint {id} {:?}", c.get_checkpoint(id)))
    });
    log
}

#[test]
fn the_specs_example() {
    let store = Store::new();
    store.set_cell("pets", "fido", "sold", false);
    let checkpoints = Checkpoints::new(&store);
    assert!(checkpoints.get_store().ptr_eq(&store));
    assert_eq!(checkpoints.get_checkpoint_ids(), ids(&[], Some("0"), &[]));
    store.set_cell("pets", "fido", "sold", true);
    assert_eq!(checkpoints.get_checkpoint_ids(), ids(&["0"], None, &[]));
    assert_eq!(checkpoints.add_checkpoint("p6"), "1");
    assert_eq!(
        checkpoints.get_checkpoint_ids(),
        ids(&["0"], Some("1"), &[])
    );
    checkpoints.go_backward();
    assert_eq!(
        checkpoints.get_checkpoint_ids(),
        ids(&[], Some("0"), &["1"])
    );
    assert_eq!(
        store.get_cell("pets", "fido", "sold"),
        Some(Cell::from(false))
    );
    checkpoints.go_forward();
    assert_eq!(
        store.get_cell("pets", "fido", "sold"),
        Some(Cell::from(true))
    );
    assert_eq!(
        checkpoints.get_checkpoint_ids(),
        ids(&["0"], Some("1"), &[])
    );
}

#[test]
fn adding_without_changes_returns_the_current_id() {
    let store = Store::new();
    let checkpoints = Checkpoints::new(&store);
    let log = listen(&checkpoints);
    assert_eq!(checkpoints.add_checkpoint("same"), "0");
    assert!(take(&log).is_empty());
    assert_eq!(checkpoints.get_checkpoint("0").as_deref(), Some(""));
}

#[test]
fn labels_listeners_and_ids_listeners() {
    let store = Store::new();
    let checkpoints = Checkpoints::new(&store);
    let log = listen(&checkpoints);
    store.set_value("v", 1);
    assert_eq!(take(&log), ["ids [\"0\"] None []"]);
    // Further changes before the next checkpoint call nothing.
    store.set_value("v", 2);
    assert!(take(&log).is_empty());
    assert_eq!(checkpoints.add_checkpoint("two"), "1");
    assert_eq!(
        take(&log),
        ["checkpoint 1 Some(\"two\")", "ids [\"0\"] Some(\"1\") []"]
    );
    checkpoints.set_checkpoint("1", "deux");
    assert_eq!(take(&log), ["checkpoint 1 Some(\"deux\")"]);
    checkpoints.set_checkpoint("1", "deux");
    checkpoints.set_checkpoint("9", "nope");
    assert!(take(&log).is_empty());
    assert!(checkpoints.has_checkpoint("1") && !checkpoints.has_checkpoint("9"));
    let mut seen = Vec::new();
    checkpoints.for_each_checkpoint(|id, label| seen.push(format!("{id}={label}")));
    assert_eq!(seen, ["0=", "1=deux"]);
    let stats = checkpoints.get_listener_stats();
    assert_eq!((stats.checkpoint_ids, stats.checkpoint), (1, 1));
}

#[test]
fn going_backward_records_pending_changes_and_a_new_change_drops_the_forward_ones() {
    let store = Store::new();
    let checkpoints = Checkpoints::new(&store);
    store.set_cell("t", "r", "c", 1);
    checkpoints.add_checkpoint("one");
    store.set_cell("t", "r", "c", 2);
    let log = listen(&checkpoints);
    // Uncommitted changes become checkpoint "2" so they can be redone.
    checkpoints.go_backward();
    assert_eq!(
        take(&log),
        ["checkpoint 2 Some(\"\")", "ids [\"0\"] Some(\"1\") [\"2\"]"]
    );
    assert_eq!(store.get_cell("t", "r", "c"), Some(Cell::from(1)));
    checkpoints.go_backward();
    assert_eq!(store.get_cell("t", "r", "c"), None);
    assert_eq!(
        checkpoints.get_checkpoint_ids(),
        ids(&[], Some("0"), &["1", "2"])
    );
    // At the start, going backward does nothing.
    take(&log);
    checkpoints.go_backward();
    assert!(take(&log).is_empty());
    store.set_value("v", true);
    assert_eq!(
        take(&log),
        [
            "checkpoint 1 None",
            "checkpoint 2 None",
            "ids [\"0\"] None []"
        ]
    );
    assert!(!checkpoints.has_checkpoint("1"));
}

#[test]
fn go_to_clear_and_clear_forward() {
    let store = Store::new();
    let checkpoints = Checkpoints::new(&store);
    for i in 1..=3 {
        store.set_cell("t", "r", "c", i);
        checkpoints.add_checkpoint(&format!("c{i}"));
    }
    checkpoints.go_to("0");
    assert_eq!(
        checkpoints.get_checkpoint_ids(),
        ids(&[], Some("0"), &["1", "2", "3"])
    );
    assert_eq!(store.get_row_ids("t"), Vec::<String>::new());
    checkpoints.go_to("2");
    assert_eq!(store.get_cell("t", "r", "c"), Some(Cell::from(2)));
    checkpoints.go_to("nope");
    assert_eq!(
        checkpoints.get_checkpoint_ids(),
        ids(&["0", "1"], Some("2"), &["3"])
    );
    let log = listen(&checkpoints);
    checkpoints.clear_forward();
    assert_eq!(
        take(&log),
        ["checkpoint 3 None", "ids [\"0\", \"1\"] Some(\"2\") []"]
    );
    checkpoints.clear_forward();
    assert!(take(&log).is_empty());
    checkpoints.clear();
    assert_eq!(
        take(&log),
        [
            "checkpoint 0 None",
            "checkpoint 1 None",
            "checkpoint 2 None",
            "checkpoint 0 Some(\"\")",
            "ids [] Some(\"0\") []"
        ]
    );
    assert_eq!(store.get_cell("t", "r", "c"), Some(Cell::from(2)));
}

#[test]
fn set_size_trims_the_oldest() {
    let store = Store::new();
    let checkpoints = Checkpoints::new(&store);
    for i in 1..=4 {
        store.set_value("v", i);
        checkpoints.add_checkpoint("");
    }
    let log = listen(&checkpoints);
    checkpoints.set_size(2);
    assert_eq!(take(&log), ["checkpoint 0 None", "checkpoint 1 None"]);
    assert_eq!(
        checkpoints.get_checkpoint_ids(),
        ids(&["2", "3"], Some("4"), &[])
    );
    store.set_value("v", 5);
    assert_eq!(
        checkpoints.get_checkpoint_ids(),
        ids(&["3", "4"], None, &[])
    );
}

#[test]
fn changes_that_cancel_out_return_to_the_current_checkpoint() {
    let store = Store::new();
    store.set_cell("t", "a", "c", 1).set_cell("u", "b", "c", 1);
    let checkpoints = Checkpoints::new(&store);
    store.set_cell("t", "a", "c", 2).set_cell("u", "b", "c", 2);
    assert_eq!(checkpoints.get_checkpoint_ids(), ids(&["0"], None, &[]));
    // One table back to where it was, the other still changed.
    store.set_cell("u", "b", "c", 1);
    assert_eq!(checkpoints.get_checkpoint_ids(), ids(&["0"], None, &[]));
    store.set_cell("t", "a", "c", 1);
    assert_eq!(checkpoints.get_checkpoint_ids(), ids(&[], Some("0"), &[]));
    store.set_value("v", 1);
    store.del_value("v");
    assert_eq!(checkpoints.get_checkpoint_ids(), ids(&[], Some("0"), &[]));
}

#[test]
fn rows_and_values_are_restored_and_destroy_stops_recording() {
    let store = Store::new();
    store
        .set_cell("t", "r", "a", 1)
        .set_cell("t", "r", "b", "x")
        .set_value("v", 1);
    let checkpoints = Checkpoints::new(&store);
    store.transaction(|s| {
        s.del_row("t", "r").del_value("v").set_value("w", 2);
    });
    checkpoints.add_checkpoint("gone");
    checkpoints.go_backward();
    assert_eq!(store.get_json(), r#"[{"t":{"r":{"a":1,"b":"x"}}},{"v":1}]"#);
    checkpoints.go_forward();
    assert_eq!(store.get_json(), r#"[{},{"w":2}]"#);
    checkpoints.destroy();
    store.set_value("x", 1);
    assert_eq!(
        checkpoints.get_checkpoint_ids(),
        ids(&["0"], Some("1"), &[])
    );
}

#[test]
fn a_panicking_listener_reaches_the_writer_after_the_store_is_done() {
    let store = Store::new();
    let checkpoints = Checkpoints::new(&store);
    checkpoints.add_checkpoint_ids_listener(|_| panic!("listener"));
    let did_finish = Arc::new(Mutex::new(0));
    let d = did_finish.clone();
    store.add_did_finish_transaction_listener(move |_| *d.lock().unwrap() += 1);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        store.set_value("v", 1);
    }));
    assert!(result.is_err());
    assert_eq!(*did_finish.lock().unwrap(), 1);
    assert_eq!(checkpoints.get_checkpoint_ids(), ids(&["0"], None, &[]));
}
