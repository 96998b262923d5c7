//! Queries beyond the TinyBase scenarios: definition errors, panicking definition functions,
//! incrementality, clean-up, threads, and a property test that any sequence of writes keeps
//! every query's result equal to a from-scratch run of the same definition.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use serde_json::{Value as Json, json};
use tinystore_core::content::table_to_json;
use tinystore_core::views::ViewError;
use tinystore_core::views::queries::{CustomAggregate, Queries, create_queries};
use tinystore_core::{Cell, Row, Store};

use super::queries::{at_least, pets, row, select_query, snap};

#[test]
fn invalid_definitions_are_errors_and_change_nothing() {
    let store = pets();
    let q = create_queries(&store);
    select_query(&q, "q", "pets", "price");
    let before = snap(&q, "q");
    let unknown = q.set_query_definition("q", "pets", |b| {
        b.select("price");
        b.group("price", "median").as_("m");
    });
    assert_eq!(
        unknown.err(),
        Some(ViewError::UnknownAggregate("median".into()))
    );
    let unnamed = q.set_query_definition("q", "pets", |b| {
        b.select("species");
        b.select_fn(|_, _| Some(Cell::from(1)));
    });
    assert_eq!(
        unnamed.err(),
        Some(ViewError::CalculatedSelectWithoutAlias(1))
    );
    assert!(unnamed_message_is_clear());
    assert_eq!(snap(&q, "q"), before);
    // The accepted definition still runs.
    store.set_cell("pets", "fido", "price", 50);
    assert_eq!(
        q.get_result_cell("q", "fido", "price"),
        Some(Cell::from(50))
    );
    let fresh = q.set_query_definition("new", "pets", |b| {
        b.group("price", "mean");
    });
    assert!(fresh.is_err());
    assert!(!q.has_query("new"));
}

fn unnamed_message_is_clear() -> bool {
    ViewError::CalculatedSelectWithoutAlias(1)
        .to_string()
        .contains("needs an alias")
}

#[test]
fn a_panicking_definition_function_leaves_everything_consistent() {
    let store = pets();
    let q = create_queries(&store);
    let baseline = store.get_listener_stats();
    q.set_query_definition("q", "pets", |b| {
        b.select("price");
        b.where_fn(|cells| {
            assert!(cells.cell("price") != Some(Cell::from(666)), "cursed price");
            true
        });
    })
    .unwrap();
    // A panic while a write is being published reaches the writer, like a store listener's.
    let write = catch_unwind(AssertUnwindSafe(|| {
        store.set_cell("pets", "fido", "price", 666);
    }));
    assert!(write.is_err());
    // The store kept the write (the panic came after commit) and is usable; the query resumes.
    assert_eq!(
        store.get_cell("pets", "fido", "price"),
        Some(Cell::from(666))
    );
    store.set_cell("pets", "fido", "price", 7);
    assert_eq!(q.get_result_cell("q", "fido", "price"), Some(Cell::from(7)));
    store.set_cell("pets", "tom", "price", 8);
    assert_eq!(q.get_result_cell("q", "tom", "price"), Some(Cell::from(8)));
    // A definition that panics while it is first run is not installed; the old one stays.
    let before = snap(&q, "q");
    let define = catch_unwind(AssertUnwindSafe(|| {
        let _ = q.set_query_definition("q", "pets", |b| {
            b.select("species");
            b.where_fn(|_| panic!("bad where"));
        });
    }));
    assert!(define.is_err());
    assert_eq!(snap(&q, "q"), before);
    store.set_cell("pets", "cujo", "price", 1);
    assert_eq!(q.get_result_cell("q", "cujo", "price"), Some(Cell::from(1)));
    // A panicking custom aggregate in a grouped query: same contract.
    q.set_query_definition("g", "pets", |b| {
        b.select("species");
        b.select("price");
        b.group_custom(
            "price",
            CustomAggregate::new(|cells, _| {
                assert!(!cells.contains(&Cell::from(-1)), "negative");
                Some(Cell::from(cells.len() as f64))
            }),
        )
        .as_("n");
    })
    .unwrap();
    assert!(
        catch_unwind(AssertUnwindSafe(|| {
            store.set_cell("pets", "fido", "price", -1);
        }))
        .is_err()
    );
    store.set_cell("pets", "fido", "price", 3);
    let fresh = create_queries(&store);
    fresh
        .set_query_definition("g", "pets", |b| {
            b.select("species");
            b.select("price");
            b.group_custom(
                "price",
                CustomAggregate::new(|cells, _| Some(Cell::from(cells.len() as f64))),
            )
            .as_("n");
        })
        .unwrap();
    assert_eq!(grouped_rows(&q, "g"), grouped_rows(&fresh, "g"));
    q.destroy();
    fresh.destroy();
    assert_eq!(store.get_listener_stats(), baseline);
}

#[test]
fn a_change_recomputes_only_the_rows_it_touches() {
    let store = Store::new();
    for i in 0..100 {
        store.set_row(
            "pets",
            &format!("r{i}"),
            &row(json!({"price": i, "kind": i % 3})),
        );
    }
    let q = create_queries(&store);
    let selects = Arc::new(AtomicUsize::new(0));
    let full = Arc::new(AtomicUsize::new(0));
    let (s, f) = (selects.clone(), full.clone());
    q.set_query_definition("q", "pets", move |b| {
        let s = s.clone();
        b.select("kind");
        b.select_fn(move |cells, _| {
            s.fetch_add(1, Ordering::SeqCst);
            cells.cell("price")
        })
        .as_("p");
        let f = f.clone();
        b.group_custom(
            "p",
            CustomAggregate::new(move |cells, _| {
                f.fetch_add(1, Ordering::SeqCst);
                Some(Cell::from(cells.len() as f64))
            })
            .with_replace(|metric, _, _, _| Some(metric.clone())),
        )
        .as_("n");
    })
    .unwrap();
    assert_eq!(selects.load(Ordering::SeqCst), 100);
    selects.store(0, Ordering::SeqCst);
    full.store(0, Ordering::SeqCst);
    store.set_cell("pets", "r5", "price", 1000);
    // One row re-selected; the group's aggregate stepped (replace), not recomputed.
    assert_eq!(selects.load(Ordering::SeqCst), 1);
    assert_eq!(full.load(Ordering::SeqCst), 0);
    store.del_row("pets", "r7");
    assert_eq!(selects.load(Ordering::SeqCst), 1);
    // Without a remove step, only the one group is recomputed.
    assert_eq!(full.load(Ordering::SeqCst), 1);
}

#[test]
fn destroy_and_drop_take_every_listener_off_the_store() {
    let store = pets();
    let baseline = store.get_listener_stats();
    let q = create_queries(&store);
    q.set_query_definition("a", "pets", |b| {
        b.select("price");
        b.join("owners", "owner");
        b.select_from("owners", "city");
    })
    .unwrap();
    q.set_query_definition_on_query(
        "b",
        "a",
        |b| {
            b.select("city");
        },
        Row::new(),
    )
    .unwrap();
    assert_ne!(store.get_listener_stats(), baseline);
    q.destroy();
    assert_eq!(store.get_listener_stats(), baseline);
    assert!(q.get_query_ids().is_empty());
    // Memoized: the store's Queries is still `q`, destroyed but usable.
    let q2 = create_queries(&store);
    q2.set_query_definition("g", "pets", |b| {
        b.select_all();
        b.group("price", "max").as_("price");
    })
    .unwrap();
    // A new cell id re-runs the grouped select_all while the store's transaction is being
    // published: the replaced definition's bridge closes that transaction, then goes.
    store.transaction(|s| {
        s.set_cell("pets", "fido", "color", "brown")
            .set_cell("pets", "tom", "price", 1);
    });
    assert_eq!(
        q2.get_result_cell("g", "0", "color"),
        Some(Cell::from("brown"))
    );
    store.set_cell("pets", "fido", "price", 100);
    assert_eq!(q2.get_result_cell("g", "0", "price"), Some(Cell::from(100)));
    assert_eq!(q.get_query_ids(), ["g"]);
    drop((q, q2));
    assert_eq!(store.get_listener_stats(), baseline);
}

#[test]
fn iteration_and_lookups() {
    let store = pets();
    let q = create_queries(&store);
    select_query(&q, "a", "pets", "price");
    select_query(&q, "b", "nothing", "x");
    let mut tables = Vec::new();
    q.for_each_result_table(|t| tables.push(t.to_string()));
    assert_eq!(tables, ["a"]);
    let mut queries = Vec::new();
    q.for_each_query(|id| queries.push(id.to_string()));
    assert_eq!(queries, ["a", "b"]);
    let mut rows = Vec::new();
    q.for_each_result_row("a", |r| rows.push(r.to_string()));
    assert_eq!(rows, ["fido", "felix", "cujo", "tom"]);
    let mut cells = Vec::new();
    q.for_each_result_cell("a", "tom", |c, v| cells.push((c.to_string(), v.clone())));
    assert_eq!(cells, [("price".to_string(), Cell::from(2))]);
    assert_eq!(q.get_table_id("b").as_deref(), Some("nothing"));
    assert_eq!(q.get_table_id("zzz"), None);
    assert!(q.get_store().ptr_eq(&store));
}

#[test]
fn queries_are_send_sync_and_serialise_with_writers() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<Queries>();
    let store = Store::new();
    let q = create_queries(&store);
    q.set_query_definition("g", "t", |b| {
        b.select("k");
        b.select("n");
        b.group("n", "sum").as_("total");
        b.group("n", "count").as_("count");
    })
    .unwrap();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (store, q) = (store.clone(), q.clone());
            std::thread::spawn(move || {
                for i in 0..50 {
                    store.set_row("t", &format!("{t}-{i}"), &row(json!({"k": i % 2, "n": 1})));
                    let _ = q.get_result_table("g");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut totals: Vec<Json> = q
        .get_result_table("g")
        .values()
        .map(|r| json!([r["k"].to_json(), r["total"].to_json(), r["count"].to_json()]))
        .collect();
    totals.sort_by_key(|v| v.to_string());
    assert_eq!(totals, [json!([0, 100, 100]), json!([1, 100, 100])]);
}

// ---------------------------------------------------------------------------- property test

/// A grouped result as a sorted list of rows (group ids depend on history), numbers rounded to
/// absorb the incremental average's rounding.
fn grouped_rows(q: &Queries, id: &str) -> Vec<String> {
    let mut rows: Vec<String> = q
        .get_result_table(id)
        .values()
        .map(|r| {
            let mut cells: Vec<String> = r
                .iter()
                .map(|(k, v)| match v {
                    Cell::Number(n) => format!("{k}={:.9e}", n),
                    other => format!("{k}={}", other.to_json()),
                })
                .collect();
            cells.sort();
            cells.join(",")
        })
        .collect();
    rows.sort();
    rows
}

fn define_all(q: &Queries) {
    q.set_query_definition("flat", "pets", |b| {
        b.select("species");
        b.select("price");
        b.join("species", "species");
        b.join_from("classes", "species", "classId").as_("cls");
        b.select_from("species", "legs");
        b.select_from("cls", "name");
        b.where_("sold", false);
        b.select_fn(|cells, _| {
            cells
                .cell("price")
                .and_then(|c| c.as_f64())
                .map(|p| Cell::from(p * 2.0))
        })
        .as_("double");
    })
    .unwrap();
    q.set_query_definition("grouped", "pets", |b| {
        b.select("species");
        b.select("price");
        for agg in ["count", "sum", "avg", "min", "max"] {
            b.group("price", agg).as_(agg);
        }
        b.having_fn(|row| at_least(row.get("count"), 2.0));
    })
    .unwrap();
    q.set_query_definition_on_query(
        "onQuery",
        "flat",
        |b| {
            b.select("double");
            b.select("legs");
            b.where_("legs", 4);
        },
        Row::new(),
    )
    .unwrap();
    q.set_query_definition("all", "pets", |b| {
        b.select_all();
        b.join("species", "species");
        b.select_all_from("species", "s.");
    })
    .unwrap();
}

#[derive(Clone, Debug)]
enum Op {
    SetCell(&'static str, &'static str, &'static str, Cell),
    DelCell(&'static str, &'static str, &'static str),
    DelRow(&'static str, &'static str),
    Transaction(Vec<Op>),
}

const PETS: &[&str] = &["fido", "felix", "cujo", "tom", "rex"];
const KINDS: &[&str] = &["dog", "cat", "parrot"];

fn value() -> impl Strategy<Value = Cell> {
    prop_oneof![
        (-3i32..10).prop_map(Cell::from),
        Just(Cell::Number(0.5)),
        prop::sample::select(KINDS).prop_map(Cell::from),
        Just(Cell::Null),
        any::<bool>().prop_map(Cell::from),
    ]
}

/// `pet_deletions`: the weight of deleting a pet row; 0 inside a transaction: deleted and
/// written again there, a row whose join key is gone keeps the joins made through it in
/// TinyBase (see `DelCell` below).
fn simple_op(pet_deletions: u32) -> impl Strategy<Value = Op> {
    let pet = prop::sample::select(PETS);
    let kind = prop::sample::select(KINDS);
    prop_oneof![
        3 => (pet.clone(), prop::sample::select(&["species", "sold", "owner"][..]), value())
            .prop_map(|(r, c, v)| Op::SetCell("pets", r, c, v)),
        // Numbers only, as in TinyBase: a string makes `sum` concatenate in an order that
        // depends on history, and `null` is 0 to `Math.min` but not `==` to it, so removing it
        // does not trigger the recomputation a removed minimum needs.
        2 => (pet.clone(), prop_oneof![(-3i32..10).prop_map(Cell::from), Just(Cell::Number(0.5))])
            .prop_map(|(r, v)| Op::SetCell("pets", r, "price", v)),
        2 => (kind.clone(), prop::sample::select(&["legs", "classId"][..]), prop_oneof![
                (2i32..5).prop_map(Cell::from),
                prop::sample::select(&["mammal", "bird"][..]).prop_map(Cell::from),
            ])
            .prop_map(|(r, c, v)| Op::SetCell("species", r, c, v)),
        1 => (prop::sample::select(&["mammal", "bird"][..]), prop::sample::select(&["Mammal", "Bird", "X"][..]))
            .prop_map(|(r, v)| Op::SetCell("classes", r, "name", Cell::from(v))),
        // Not `species`: a join key that disappears leaves the joins made through it in place
        // in TinyBase (pinned by `queries::a_vanished_join_key_keeps_the_joins_made_through_it`),
        // which no from-scratch run reproduces.
        2 => (pet.clone(), prop::sample::select(&["price", "sold", "owner"][..]))
            .prop_map(|(r, c)| Op::DelCell("pets", r, c)),
        pet_deletions => pet.prop_map(|r| Op::DelRow("pets", r)),
        1 => kind.prop_map(|r| Op::DelRow("species", r)),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => simple_op(1),
        1 => prop::collection::vec(simple_op(0), 1..4).prop_map(Op::Transaction),
    ]
}

fn apply(store: &Store, op: &Op) {
    match op {
        Op::SetCell(t, r, c, v) => {
            store.set_cell(t, r, c, v.clone());
        }
        Op::DelCell(t, r, c) => {
            store.del_cell(t, r, c, false);
        }
        Op::DelRow(t, r) => {
            store.del_row(t, r);
        }
        Op::Transaction(ops) => store.transaction(|s| ops.iter().for_each(|op| apply(s, op))),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
    #[test]
    fn incremental_results_equal_a_fresh_run(ops in prop::collection::vec(op(), 1..25)) {
        let store = pets();
        let incremental = create_queries(&store);
        define_all(&incremental);
        for op in &ops {
            apply(&store, op);
            let fresh = create_queries(&store);
            define_all(&fresh);
            for id in ["flat", "onQuery", "all"] {
                prop_assert_eq!(
                    table_to_json(&incremental.get_result_table(id), false),
                    table_to_json(&fresh.get_result_table(id), false),
                    "query {} after {:?}", id, op
                );
            }
            prop_assert_eq!(grouped_rows(&incremental, "grouped"), grouped_rows(&fresh, "grouped"));
            fresh.destroy();
        }
    }
}

/// TinyBase 10.0.1 lets a hidden group keep the id of its deleted row; when another group's
/// new row reuses that id, the hidden group later deletes it (there, the last step shows only
/// the dog group). Here the hidden group gives the id up.
#[test]
fn a_hidden_group_does_not_delete_a_row_that_reused_its_id() {
    let store = Store::new();
    store.set_tables(
        &tinystore_core::content::tables_from_json(
            &json!({"pets": {"fido": {"species": "dog", "price": 5}, "felix": {"species": "cat", "price": 4},
                             "cujo": {"species": "dog", "price": 6}, "tom": {"species": "cat", "price": 2}}}),
            false,
        )
        .unwrap(),
    );
    let q = create_queries(&store);
    q.set_query_definition("g", "pets", |b| {
        b.select("species");
        b.select("price");
        b.group("price", "count").as_("count");
        b.having_fn(|row| at_least(row.get("count"), 2.0));
    })
    .unwrap();
    store.del_row("pets", "felix");
    store.set_cell("pets", "felix", "price", 0);
    store.set_cell("pets", "rex", "price", 0);
    assert_eq!(
        table_to_json(&q.get_result_table("g"), false),
        json!({"0": {"species": "dog", "count": 2}, "1": {"count": 2}})
    );
    store.set_cell("pets", "tom", "price", 0);
    assert_eq!(
        table_to_json(&q.get_result_table("g"), false),
        json!({"0": {"species": "dog", "count": 2}, "1": {"count": 2}})
    );
    store.set_cell("pets", "felix", "species", "cat");
    assert_eq!(
        table_to_json(&q.get_result_table("g"), false),
        json!({"0": {"species": "dog", "count": 2}, "1": {"species": "cat", "count": 2}})
    );
}

/// A query function that panics for one row during a write: the writer gets the panic, and
/// everything else that write touched is still published — the query's other rows, a second
/// query and an index over the same table (the panic is kept until the transaction ends
/// instead of abandoning the store's listener phase).
#[test]
fn a_panic_in_one_row_leaves_other_rows_queries_and_views_up_to_date() {
    let store = pets();
    let q = create_queries(&store);
    q.set_query_definition("cursed", "pets", |b| {
        b.select_fn(|cells, _| {
            assert!(cells.cell("price") != Some(Cell::from(666)), "cursed price");
            cells.cell("price")
        })
        .as_("p");
    })
    .unwrap();
    q.set_query_definition("plain", "pets", |b| {
        b.select("price");
    })
    .unwrap();
    let indexes = tinystore_core::create_indexes(&store);
    indexes.set_index_definition(
        "byPrice",
        "pets",
        Some(tinystore_core::Source::cell("price")),
        None,
        None,
        None,
    );
    let write = catch_unwind(AssertUnwindSafe(|| {
        store.transaction(|s| {
            s.set_cell("pets", "fido", "price", 666);
            s.set_cell("pets", "tom", "price", 42);
        });
    }));
    assert!(write.is_err(), "the writer gets the panic");
    // The cursed query: the failing row keeps its old result, the other row is updated.
    assert_ne!(
        q.get_result_cell("cursed", "fido", "p"),
        Some(Cell::from(666))
    );
    assert_eq!(
        q.get_result_cell("cursed", "tom", "p"),
        Some(Cell::from(42))
    );
    // The other query and the index saw the whole transaction.
    assert_eq!(
        q.get_result_cell("plain", "fido", "price"),
        Some(Cell::from(666))
    );
    assert_eq!(
        q.get_result_cell("plain", "tom", "price"),
        Some(Cell::from(42))
    );
    assert_eq!(indexes.get_slice_row_ids("byPrice", "666"), ["fido"]);
    assert_eq!(indexes.get_slice_row_ids("byPrice", "42"), ["tom"]);
    // The next write goes through normally.
    store.set_cell("pets", "fido", "price", 1);
    assert_eq!(
        q.get_result_cell("cursed", "fido", "p"),
        Some(Cell::from(1))
    );
}
