//! Indexes (spec store.md §5), against TinyBase's semantics.

use std::cmp::Ordering;
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex};

use serde_json::json;
use tinystore_core::views::{Indexes, Source, default_sorter};
use tinystore_core::{Cell, MergeableStore, Row, Store};

type Log = Arc<Mutex<Vec<String>>>;

fn log() -> Log {
    Arc::default()
}

fn take(log: &Log) -> Vec<String> {
    std::mem::take(&mut *log.lock().unwrap())
}

/// Wildcard listeners of every kind, logging `kind:args`.
pub(crate) fn listen_all(indexes: &Indexes, log: &Log) {
    let l = log.clone();
    indexes.add_index_ids_listener(move |_| l.lock().unwrap().push("indexIds".into()));
    let l = log.clone();
    indexes.add_has_index_listener(None, move |_, i, h| {
        l.lock().unwrap().push(format!("hasIndex:{i}:{h}"))
    });
    let l = log.clone();
    indexes.add_slice_ids_listener(None, move |_, i| {
        l.lock().unwrap().push(format!("sliceIds:{i}"))
    });
    let l = log.clone();
    indexes.add_has_slice_listener(None, None, move |_, i, s, h| {
        l.lock().unwrap().push(format!("hasSlice:{i}:{s}:{h}"))
    });
    let l = log.clone();
    indexes.add_slice_row_ids_listener(None, None, move |_, i, s| {
        l.lock().unwrap().push(format!("sliceRowIds:{i}:{s}"))
    });
}

fn pets() -> Store {
    let store = Store::new();
    store
        .set_cell("pets", "fido", "species", "dog")
        .set_cell("pets", "fido", "price", 5)
        .set_cell("pets", "felix", "species", "cat")
        .set_cell("pets", "felix", "price", 4)
        .set_cell("pets", "cujo", "species", "dog")
        .set_cell("pets", "cujo", "price", "x");
    store
}

/// `pets` indexed by species as index `i`.
fn by_species() -> (Store, Indexes) {
    let store = pets();
    let indexes = Indexes::new(&store);
    indexes.set_index_definition("i", "pets", Some(Source::cell("species")), None, None, None);
    (store, indexes)
}

/// [`by_species`] with [`listen_all`].
fn by_species_listened() -> (Store, Indexes, Log) {
    let (store, indexes) = by_species();
    let log = log();
    listen_all(&indexes, &log);
    (store, indexes, log)
}

#[test]
fn cell_slices_in_first_seen_order_and_missing_cells_in_the_empty_slice() {
    let store = pets();
    store.set_cell("pets", "nemo", "legs", 0);
    let indexes = Indexes::new(&store);
    indexes.set_index_definition(
        "bySpecies",
        "pets",
        Some(Source::cell("species")),
        None,
        None,
        None,
    );
    assert_eq!(indexes.get_slice_ids("bySpecies"), ["dog", "cat", ""]);
    assert_eq!(
        indexes.get_slice_row_ids("bySpecies", "dog"),
        ["fido", "cujo"]
    );
    assert_eq!(indexes.get_slice_row_ids("bySpecies", ""), ["nemo"]);
    // No slice source: every row in slice "".
    indexes.set_index_definition("all", "pets", None, None, None, None);
    assert_eq!(indexes.get_slice_ids("all"), [""]);
    assert_eq!(
        indexes.get_slice_row_ids("all", ""),
        ["fido", "felix", "cujo", "nemo"]
    );
    // Slice ids are `'' + value`; objects keep their encoded form.
    store.set_cell("pets", "nemo", "species", 1.5);
    store.set_cell("pets", "felix", "species", true);
    store.set_cell("pets", "cujo", "species", Cell::from_json(json!({"a": 1})));
    assert_eq!(
        indexes.get_slice_ids("bySpecies"),
        ["dog", "1.5", "true", "\u{FFFD}{\"a\":1}"]
    );
}

#[test]
fn function_slices_put_a_row_in_several_or_no_slices() {
    let store = pets();
    let indexes = Indexes::new(&store);
    let slices = Source::func(|get_cell, row_id| {
        let mut ids = vec![row_id[..1].to_string()];
        if let Some(Cell::Number(n)) = get_cell("price") {
            ids.push(if n > 4.0 { "pricey" } else { "cheap" }.to_string());
        }
        if row_id == "cujo" {
            ids.clear();
        }
        ids
    });
    indexes.set_index_definition("i", "pets", Some(slices), None, None, None);
    assert_eq!(indexes.get_slice_ids("i"), ["f", "pricey", "cheap"]);
    assert_eq!(indexes.get_slice_row_ids("i", "f"), ["fido", "felix"]);
    assert!(!indexes.has_slice("i", "c"));
    store.set_cell("pets", "felix", "price", 9);
    assert_eq!(indexes.get_slice_ids("i"), ["f", "pricey"]);
    assert_eq!(indexes.get_slice_row_ids("i", "pricey"), ["fido", "felix"]);
}

#[test]
fn sort_keys_use_javascripts_less_than_and_custom_sorters() {
    let store = Store::new();
    for (row, key) in [
        ("a", Cell::from("10")),
        ("b", Cell::from(9)),
        ("c", Cell::from("9")),
    ] {
        store.set_cell("t", row, "k", key);
    }
    store.set_cell("t", "d", "other", 1);
    let indexes = Indexes::new(&store);
    indexes.set_index_definition("i", "t", None, Some(Source::cell("k")), None, None);
    // Missing keys count as 0; "10" < "9" as strings but 9 < "10" as numbers: JavaScript's
    // `<` is no order, and V8's sort decides (values checked against TinyBase).
    assert_eq!(indexes.get_slice_row_ids("i", ""), ["d", "b", "a", "c"]);
    let descending = Arc::new(|a: Option<&Cell>, b: Option<&Cell>, _: &str| default_sorter(b, a));
    indexes.set_index_definition(
        "i",
        "t",
        None,
        Some(Source::cell("k")),
        None,
        Some(descending),
    );
    assert_eq!(indexes.get_slice_row_ids("i", ""), ["c", "a", "b", "d"]);
    // The row sorter is told the slice; the slice sorter orders slice ids.
    let by_slice = Arc::new(|a: Option<&Cell>, b: Option<&Cell>, slice: &str| {
        if slice == "up" {
            default_sorter(a, b)
        } else {
            default_sorter(b, a)
        }
    });
    let slices =
        Source::func(|_, row: &str| vec![if row < "c" { "up" } else { "down" }.to_string()]);
    let alpha = Arc::new(|a: &str, b: &str| a.cmp(b));
    indexes.set_index_definition(
        "s",
        "t",
        Some(slices),
        Some(Source::func(|_, row: &str| Some(Cell::from(row)))),
        Some(alpha),
        Some(by_slice),
    );
    assert_eq!(indexes.get_slice_ids("s"), ["down", "up"]);
    assert_eq!(indexes.get_slice_row_ids("s", "up"), ["a", "b"]);
    assert_eq!(indexes.get_slice_row_ids("s", "down"), ["d", "c"]);
    // A changed key re-sorts its slice.
    store.set_cell("t", "b", "k", -1);
    assert_eq!(indexes.get_slice_row_ids("i", ""), ["c", "a", "d", "b"]);
}

#[test]
fn getters_and_for_each() {
    let (store, indexes) = by_species();
    assert!(indexes.get_store().ptr_eq(&store));
    indexes.set_index_definition("all", "pets", None, None, None, None);
    assert_eq!(indexes.get_index_ids(), ["i", "all"]);
    assert!(indexes.has_index("all") && !indexes.has_index("nope"));
    assert!(indexes.has_slice("i", "cat") && !indexes.has_slice("i", "cow"));
    assert_eq!(indexes.get_table_id("all").as_deref(), Some("pets"));
    assert_eq!(indexes.get_table_id("nope"), None);
    let mut seen = Vec::new();
    indexes.for_each_index(|i| seen.push(i.to_string()));
    indexes.for_each_slice("i", |s, rows| seen.push(format!("{s}={}", rows.join(","))));
    assert_eq!(seen, ["i", "all", "dog=fido,cujo", "cat=felix"]);
    assert!(indexes.get_slice_ids("nope").is_empty());
    assert!(indexes.get_slice_row_ids("i", "cow").is_empty());
}

#[test]
fn missing_tables_and_cells_are_valid_and_empty() {
    let store = pets();
    let indexes = Indexes::new(&store);
    indexes.set_index_definition(
        "i",
        "nowhere",
        Some(Source::cell("species")),
        None,
        None,
        None,
    );
    assert!(indexes.has_index("i"));
    assert!(indexes.get_slice_ids("i").is_empty());
    store.set_cell("nowhere", "r", "species", "x");
    assert_eq!(indexes.get_slice_row_ids("i", "x"), ["r"]);
}

#[test]
fn listener_arguments_and_order() {
    let store = pets();
    let indexes = Indexes::new(&store);
    let log = log();
    listen_all(&indexes, &log);
    indexes.set_index_definition(
        "bySpecies",
        "pets",
        Some(Source::cell("species")),
        None,
        None,
        None,
    );
    assert_eq!(
        take(&log),
        [
            "indexIds",
            "sliceIds:bySpecies",
            "hasSlice:bySpecies:dog:true",
            "hasSlice:bySpecies:cat:true",
            "sliceRowIds:bySpecies:dog",
            "sliceRowIds:bySpecies:cat",
            "hasIndex:bySpecies:true",
        ]
    );
    // felix moves from cat (which disappears) to cow (new).
    store.set_cell("pets", "felix", "species", "cow");
    assert_eq!(
        take(&log),
        [
            "sliceIds:bySpecies",
            "hasSlice:bySpecies:cat:false",
            "hasSlice:bySpecies:cow:true",
            "sliceRowIds:bySpecies:cat",
            "sliceRowIds:bySpecies:cow",
        ]
    );
    // A change that moves nothing calls nothing.
    store.set_cell("pets", "felix", "price", 1);
    assert!(take(&log).is_empty());
    // Specific ids, and exact listeners before wildcard ones.
    let l = log.clone();
    indexes.add_slice_row_ids_listener(Some("bySpecies"), Some("dog"), move |_, _, _| {
        l.lock().unwrap().push("exact".into())
    });
    store.set_cell("pets", "rex", "species", "dog");
    assert_eq!(take(&log), ["exact", "sliceRowIds:bySpecies:dog"]);
    let stats = indexes.get_listener_stats();
    assert_eq!((stats.slice_ids, stats.slice_row_ids), (1, 2));
}

#[test]
fn listener_ids_come_from_the_views_own_pool_and_are_reused() {
    let store = Store::new();
    store.add_tables_listener(|_| {}, false);
    let indexes = Indexes::new(&store);
    let a = indexes.add_index_ids_listener(|_| {});
    let b = indexes.add_slice_ids_listener(None, |_, _| {});
    assert_eq!((a.to_string(), b.to_string()), ("0".into(), "1".into()));
    indexes.del_listener(a);
    assert_eq!(
        indexes
            .add_slice_ids_listener(Some("x"), |_, _| {})
            .to_string(),
        "0"
    );
    assert_eq!(
        indexes
            .add_slice_ids_listener(Some("x"), |_, _| {})
            .to_string(),
        "2"
    );
    assert_eq!(indexes.get_listener_stats().slice_ids, 3);
}

#[test]
fn view_listeners_fire_in_the_table_listener_phase_after_the_store_commits() {
    let store = pets();
    let log = log();
    let l = log.clone();
    store.add_table_listener(
        None,
        move |_, t| l.lock().unwrap().push(format!("store table {t}")),
        false,
    );
    let l = log.clone();
    store.add_row_listener(
        None,
        None,
        move |_, _, r| l.lock().unwrap().push(format!("store row {r}")),
        false,
    );
    let l = log.clone();
    store.add_tables_listener(
        move |_| l.lock().unwrap().push("store tables".into()),
        false,
    );
    let l = log.clone();
    store.add_did_finish_transaction_listener(move |_| l.lock().unwrap().push("did finish".into()));
    let indexes = Indexes::new(&store);
    indexes.set_index_definition("i", "pets", Some(Source::cell("species")), None, None, None);
    let l = log.clone();
    let seen = store.clone();
    indexes.add_slice_row_ids_listener(None, None, move |ix, _, s| {
        // The store's change is visible, and so is the view's new state.
        let rows = ix.get_slice_row_ids("i", s).join(",");
        let species = seen.get_cell("pets", "felix", "species");
        l.lock()
            .unwrap()
            .push(format!("slice {s} [{rows}] {species:?}"))
    });
    store.set_cell("pets", "felix", "species", "dog");
    assert_eq!(
        take(&log),
        [
            "store row felix",
            // The index's table listener is for "pets" exactly, so it comes before the
            // wildcard table listener registered earlier (TinyBase's order).
            "slice cat [] Some(String(\"dog\"))",
            "slice dog [fido,cujo,felix] Some(String(\"dog\"))",
            "store table pets",
            "store tables",
            "did finish",
        ]
    );
}

#[test]
fn only_changed_rows_are_evaluated() {
    let store = Store::new();
    for i in 0..100 {
        store.set_cell("t", &format!("r{i}"), "c", i % 3);
    }
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let indexes = Indexes::new(&store);
    let slice = Source::func(move |get_cell, _| {
        c.fetch_add(1, AtomicOrdering::SeqCst);
        vec![format!("{:?}", get_cell("c"))]
    });
    indexes.set_index_definition("i", "t", Some(slice), None, None, None);
    assert_eq!(calls.swap(0, AtomicOrdering::SeqCst), 100);
    store.set_cell("t", "r5", "c", 7);
    assert_eq!(calls.swap(0, AtomicOrdering::SeqCst), 1);
    store.transaction(|s| {
        s.set_cell("t", "r1", "c", 9)
            .set_cell("t", "r2", "d", 1)
            .del_row("t", "r3");
    });
    // r3 is gone: it is removed without calling the function.
    assert_eq!(calls.swap(0, AtomicOrdering::SeqCst), 2);
    // A change in another table evaluates nothing.
    store.set_cell("u", "r1", "c", 1);
    assert_eq!(calls.load(AtomicOrdering::SeqCst), 0);
    assert_eq!(indexes.get_slice_row_ids("i", "Some(Number(7.0))"), ["r5"]);
}

#[test]
fn transactions_notify_once_and_rollbacks_not_at_all() {
    let (store, indexes, log) = by_species_listened();
    store.transaction(|s| {
        s.set_cell("pets", "a", "species", "cat");
        s.set_cell("pets", "b", "species", "cat");
        s.del_row("pets", "a");
    });
    assert_eq!(take(&log), ["sliceRowIds:i:cat"]);
    assert_eq!(indexes.get_slice_row_ids("i", "cat"), ["felix", "b"]);
    store.transaction_with_rollback(
        |s| {
            s.set_cell("pets", "c", "species", "cow");
            s.del_row("pets", "felix");
        },
        |_| true,
    );
    assert!(take(&log).is_empty());
    assert_eq!(indexes.get_slice_ids("i"), ["dog", "cat"]);
    assert_eq!(indexes.get_slice_row_ids("i", "cat"), ["felix", "b"]);
}

#[test]
fn deleting_a_definition_and_destroying() {
    let (store, indexes) = by_species();
    indexes.set_index_definition("j", "pets", None, None, None, None);
    let log = log();
    listen_all(&indexes, &log);
    indexes.del_index_definition("i");
    assert_eq!(
        take(&log),
        [
            "indexIds",
            "hasIndex:i:false",
            "sliceIds:i",
            "hasSlice:i:dog:false",
            "sliceRowIds:i:dog",
            "hasSlice:i:cat:false",
            "sliceRowIds:i:cat",
        ]
    );
    assert!(!indexes.has_index("i") && indexes.get_slice_ids("i").is_empty());
    // TinyBase calls the index-ids listeners even for an unknown id.
    indexes.del_index_definition("nope");
    assert_eq!(take(&log), ["indexIds"]);
    let before = store.get_listener_stats().row + store.get_listener_stats().table;
    indexes.destroy();
    assert_eq!(take(&log), ["indexIds"]);
    assert!(indexes.get_index_ids().is_empty());
    assert_eq!(
        store.get_listener_stats().row + store.get_listener_stats().table,
        before - 2
    );
    store.set_cell("pets", "x", "species", "y");
    assert!(take(&log).is_empty());
}

#[test]
fn dropping_the_last_handle_removes_the_store_listeners() {
    let (store, indexes) = by_species();
    let clone = indexes.clone();
    drop(indexes);
    assert!(store.get_listener_stats().table > 0);
    drop(clone);
    let stats = store.get_listener_stats();
    assert_eq!((stats.row, stats.table, stats.transaction), (0, 0, 0));
    store.set_cell("pets", "x", "species", "y");
}

#[test]
fn works_over_a_mergeable_store_and_its_merges() {
    let store = MergeableStore::new(Some("a"));
    store.set_cell("pets", "fido", "species", "dog");
    let indexes = Indexes::new(&store);
    indexes.set_index_definition("i", "pets", Some(Source::cell("species")), None, None, None);
    let other = MergeableStore::new(Some("b"));
    other.set_row(
        "pets",
        "felix",
        &Row::from_iter([("species".to_string(), Cell::from("cat"))]),
    );
    store.merge(&other);
    assert_eq!(indexes.get_slice_ids("i"), ["dog", "cat"]);
    assert_eq!(indexes.get_slice_row_ids("i", "cat"), ["felix"]);
}

#[test]
fn a_panicking_function_while_defining_changes_nothing() {
    let (store, indexes, log) = by_species_listened();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let boom = Source::func(|_, row: &str| -> Vec<String> {
            assert_ne!(row, "felix", "boom");
            vec![]
        });
        indexes.set_index_definition("i", "pets", Some(boom.clone()), None, None, None);
    }));
    assert!(result.is_err());
    assert!(take(&log).is_empty());
    assert_eq!(indexes.get_slice_ids("i"), ["dog", "cat"]);
    // The old definition still follows the store.
    store.set_cell("pets", "rex", "species", "cat");
    assert_eq!(indexes.get_slice_row_ids("i", "cat"), ["felix", "rex"]);
}

#[test]
fn a_panicking_function_on_a_write_reaches_the_writer_and_leaves_every_view_consistent() {
    let store = pets();
    let indexes = Indexes::new(&store);
    let fragile = Source::func(|get_cell, _| -> Vec<String> {
        match get_cell("species") {
            Some(Cell::String(s)) if s.as_str() == "boom" => panic!("bad species"),
            other => vec![format!("{other:?}")],
        }
    });
    indexes.set_index_definition("fragile", "pets", Some(fragile), None, None, None);
    indexes.set_index_definition(
        "plain",
        "pets",
        Some(Source::cell("species")),
        None,
        None,
        None,
    );
    let other = Indexes::new(&store);
    other.set_index_definition(
        "plain",
        "pets",
        Some(Source::cell("species")),
        None,
        None,
        None,
    );
    let log = log();
    let l = log.clone();
    store.add_tables_listener(move |_| l.lock().unwrap().push("tables".into()), false);
    let fragile_before = indexes.get_slice_ids("fragile");
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        store.transaction(|s| {
            s.set_cell("pets", "felix", "species", "boom");
            s.set_cell("pets", "rex", "species", "cat");
        });
    }));
    let message = result.expect_err("the panic reaches the writer");
    assert_eq!(message.downcast_ref::<&str>(), Some(&"bad species"));
    // The store kept the write; its later listeners still ran.
    assert_eq!(
        store.get_cell("pets", "felix", "species"),
        Some(Cell::from("boom"))
    );
    assert_eq!(take(&log), ["tables"]);
    // The other definitions and views are up to date.
    for view in [&indexes, &other] {
        assert_eq!(view.get_slice_ids("plain"), ["dog", "boom", "cat"]);
    }
    // The failing row kept its previous slice; the other row of the transaction moved.
    assert_eq!(indexes.get_slice_ids("fragile"), fragile_before);
    assert_eq!(
        indexes.get_slice_row_ids("fragile", "Some(String(\"cat\"))"),
        ["felix", "rex"]
    );
    // Later writes work, and the row recovers when its value is valid again.
    store.set_cell("pets", "felix", "species", "dog");
    assert_eq!(
        indexes.get_slice_row_ids("fragile", "Some(String(\"dog\"))"),
        ["fido", "cujo", "felix"]
    );
}

#[test]
fn a_panicking_sorter_keeps_the_slice_order_and_reaches_the_writer() {
    let store = Store::new();
    store.set_cell("t", "a", "k", 1).set_cell("t", "b", "k", 2);
    let indexes = Indexes::new(&store);
    let sorter = Arc::new(|a: Option<&Cell>, b: Option<&Cell>, _: &str| {
        if a == Some(&Cell::from(0)) || b == Some(&Cell::from(0)) {
            panic!("no zeros");
        }
        default_sorter(a, b)
    });
    indexes.set_index_definition("i", "t", None, Some(Source::cell("k")), None, Some(sorter));
    assert_eq!(indexes.get_slice_row_ids("i", ""), ["a", "b"]);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        store.set_cell("t", "c", "k", 0);
    }));
    assert!(result.is_err());
    // Membership is up to date, the order as before the failed sort.
    assert_eq!(indexes.get_slice_row_ids("i", ""), ["a", "b", "c"]);
    store.set_cell("t", "c", "k", 3).set_cell("t", "a", "k", 9);
    assert_eq!(indexes.get_slice_row_ids("i", ""), ["b", "c", "a"]);
    assert_eq!(
        default_sorter(Some(&Cell::from(1)), None),
        Ordering::Greater
    );
}

#[test]
fn views_add_the_store_listeners_tinybase_adds_with_the_same_ids() {
    let store = pets();
    assert_eq!(store.add_tables_listener(|_| {}, false).to_string(), "0");
    let (_, indexes) = (store.clone(), Indexes::new(&store));
    // A row and a table listener per definition ("1" and "2"), nothing else.
    indexes.set_index_definition("i", "pets", Some(Source::cell("species")), None, None, None);
    assert_eq!(store.add_tables_listener(|_| {}, false).to_string(), "3");
    let stats = store.get_listener_stats();
    assert_eq!((stats.row, stats.table, stats.transaction), (1, 1, 0));
    // A panic adds a did-finish listener for its transaction only.
    let boom = Source::func(|get_cell, _| -> Vec<String> {
        assert!(get_cell("species") != Some(Cell::from("boom")), "boom");
        vec![]
    });
    indexes.set_index_definition("j", "pets", Some(boom), None, None, None);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        store.set_cell("pets", "fido", "species", "boom");
    }));
    assert!(result.is_err());
    assert_eq!(store.get_listener_stats().transaction, 0);
    store.set_cell("pets", "fido", "species", "dog");
    assert_eq!(indexes.get_slice_row_ids("i", "dog"), ["cujo", "fido"]);
}

#[test]
fn rows_with_equal_sort_keys_keep_their_slice_order_as_in_tinybase() {
    // TinyBase 10.0.1 prints these orders for the same steps: a row moved into a slice goes
    // after the rows with its key already there, a row whose key changed keeps its place
    // among the rows with its new key (its sort is stable over the slice's previous order).
    let store = Store::new();
    store
        .set_tables_json(r#"{"t":{"a":{"s":"x","k":1},"b":{"s":"x","k":2},"c":{"s":"y","k":1},"d":{"s":"x","k":3}}}"#)
        .unwrap();
    let indexes = Indexes::new(&store);
    indexes.set_index_definition(
        "i",
        "t",
        Some(Source::cell("s")),
        Some(Source::cell("k")),
        None,
        None,
    );
    assert_eq!(indexes.get_slice_row_ids("i", "x"), ["a", "b", "d"]);
    store.set_cell("t", "c", "s", "x");
    assert_eq!(indexes.get_slice_row_ids("i", "x"), ["a", "c", "b", "d"]);
    store.set_cell("t", "a", "k", 2);
    assert_eq!(indexes.get_slice_row_ids("i", "x"), ["c", "a", "b", "d"]);
    store.set_cell("t", "b", "k", 1);
    assert_eq!(indexes.get_slice_row_ids("i", "x"), ["c", "b", "a", "d"]);
}
