//! Queries over query results (TinyBase v10's `setQueryDefinition(id, true, rootQueryId, …)`
//! and joins to a query's result), compared with TinyBase as in [`super::queries`].

use std::sync::Arc;

use serde_json::{Value as Json, json};
use tinystore_core::views::queries::{On, Queries, create_queries};
use tinystore_core::{Cell, Row, Store};

use super::queries::{Log, cell, expected, observe, pets, snap, take};

#[test]
fn query_on_query_and_join_to_a_query() {
    let store = pets();
    let q = create_queries(&store);
    q.set_query_definition("base", "pets", |b| {
        b.select("species");
        b.select("price");
        b.where_("sold", false);
    })
    .unwrap();
    q.set_query_definition_on_query(
        "dogs",
        "base",
        |b| {
            b.select("price");
            b.where_("species", "dog");
        },
        Row::new(),
    )
    .unwrap();
    q.set_query_definition("owned", "owners", |b| {
        b.select("city");
        b.join_query(
            "base",
            On::func(|_, row_id| {
                Some(if row_id == "alice" { "fido" } else { "felix" }.to_string())
            }),
        )
        .as_("b");
        b.select_from_query("b", "price").as_("price");
    })
    .unwrap();
    let s = |q: &Queries| json!([snap(q, "dogs"), snap(q, "owned")]);
    let writes: &[&dyn Fn(&Store)] = &[
        &|s| {
            s.set_cell("pets", "cujo", "price", 9);
        },
        &|s| {
            s.set_cell("pets", "felix", "sold", false);
        },
        &|s| {
            s.set_cell("pets", "fido", "species", "cat");
        },
        &|s| {
            s.set_cell("pets", "fido", "price", 1);
        },
    ];
    assert_eq!(
        observe(&store, writes, || s(&q)),
        expected("query_on_query")
    );
}

#[test]
fn joins_through_from_and_on_query_results() {
    let store = pets();
    let q = create_queries(&store);
    q.set_query_definition("base", "pets", |b| {
        b.select("species");
        b.select("price");
        b.select("owner");
    })
    .unwrap();
    q.set_query_definition("x", "owners", |b| {
        b.select("city");
        b.join_query(
            "base",
            On::func(|_, row_id| {
                Some(if row_id == "alice" { "fido" } else { "felix" }.to_string())
            }),
        )
        .as_("b");
        b.join_from("species", "b", "species");
        b.join_query_from(
            "base",
            "b",
            On::func(|row, _| {
                let alice = row.get("owner") == Some(Cell::from("alice"));
                Some(if alice { "tom" } else { "cujo" }.to_string())
            }),
        )
        .as_("b2");
        b.select_from("species", "legs");
        b.select_from_query("b2", "price").as_("price2");
        b.select_all_mapped(Some("b"), |cell_id| format!("b:{cell_id}"));
        b.where_from_query("b", "species", "dog");
    })
    .unwrap();
    let writes: &[&dyn Fn(&Store)] = &[
        &|s| {
            s.set_cell("pets", "felix", "species", "dog");
        },
        &|s| {
            s.set_cell("pets", "tom", "price", 11);
        },
        &|s| {
            s.set_cell("pets", "fido", "owner", "bob");
        },
        &|s| {
            s.set_cell("species", "dog", "legs", 3);
        },
    ];
    assert_eq!(
        observe(&store, writes, || snap(&q, "x")),
        expected("query_joins")
    );
}

#[test]
fn a_renaming_select_all_loop_between_queries_is_refused() {
    use tinystore_core::ViewError;
    let store = pets();
    let q = create_queries(&store);
    q.set_query_definition("a", "pets", |b| {
        b.join_query("b", "species").as_("jb");
        b.select_all_from("jb", "x_");
    })
    .unwrap();
    let outcome = |r: Result<&Queries, ViewError>| match r {
        Ok(_) => json!("ok"),
        Err(ViewError::SelectAllCycle) => json!("tinybase:16"),
        Err(e) => json!(e.to_string()),
    };
    let same_row = || On::func(|_, row_id| Some(row_id.to_string()));
    let mut steps = vec![outcome(q.set_query_definition("b", "species", move |b| {
        b.join_query("a", same_row()).as_("ja");
        b.select_all_from("ja", "");
    }))];
    steps.push(json!(q.get_query_ids()));
    steps.push(outcome(q.set_query_definition("c", "species", move |b| {
        b.join_query("d", same_row()).as_("jd");
        b.select_all_from("jd", "");
    })));
    steps.push(outcome(q.set_query_definition("d", "species", move |b| {
        b.select("legs");
        b.join_query("c", same_row()).as_("jc");
        b.select_all_from("jc", "");
    })));
    steps.push(json!(q.get_query_ids()));
    steps.push(snap(&q, "d"));
    assert_eq!(Json::Array(steps), expected("select_all_cycle"));
}

#[test]
fn a_query_on_a_query_defined_before_its_root() {
    let store = pets();
    let q = create_queries(&store);
    let log: Log = Arc::default();
    q.set_query_definition_on_query(
        "child",
        "parent",
        |b| {
            b.select("price");
            b.where_("species", "cat");
        },
        Row::new(),
    )
    .unwrap();
    let l = log.clone();
    q.add_result_cell_listener(Some("child"), None, None, move |_, _, r, c, new, old| {
        l.lock().unwrap().push(json!([r, c, cell(new), cell(old)]));
    });
    let s = |q: &Queries| json!([snap(q, "child"), take(&log)]);
    let mut steps = vec![s(&q)];
    let parent = |q: &Queries, unsold: bool| {
        q.set_query_definition("parent", "pets", move |b| {
            b.select("species");
            b.select("price");
            if unsold {
                b.where_("sold", false);
            }
        })
        .unwrap();
    };
    parent(&q, false);
    steps.push(s(&q));
    store.set_cell("pets", "felix", "price", 40);
    steps.push(s(&q));
    q.del_query_definition("parent");
    steps.push(s(&q));
    store.set_cell("pets", "tom", "price", 20);
    steps.push(s(&q));
    parent(&q, true);
    steps.push(s(&q));
    store.set_cell("pets", "tom", "price", 21);
    steps.push(s(&q));
    assert_eq!(Json::Array(steps), expected("query_before_its_root"));
}
