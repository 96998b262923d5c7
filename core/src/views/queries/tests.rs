//! Regressions found by the differential test against TinyBase (tests/interop/views).

use std::sync::{Arc, Mutex};

use super::create_queries;
use crate::Store;
use crate::content::Row;
use crate::types::Cell;

fn log() -> (Arc<Mutex<Vec<String>>>, impl Fn(&str) + Clone) {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let c = calls.clone();
    (calls, move |s: &str| c.lock().unwrap().push(s.to_string()))
}

#[test]
fn result_listeners_for_a_query_id_run_before_wildcard_ones() {
    // TinyBase's wildcard result listeners are wildcard table listeners of each result store,
    // so its store calls them after the ones added for that query id, whatever the order of
    // adding.
    let store = Store::new();
    let queries = create_queries(&store);
    queries
        .set_query_definition("q", "t", |b| {
            b.select("c");
        })
        .unwrap();
    let (calls, push) = log();
    let p = push.clone();
    queries.add_result_table_listener(None, move |_, _| p("table *"));
    let p = push.clone();
    queries.add_result_table_listener(Some("q"), move |_, _| p("table q"));
    let p = push.clone();
    queries.add_result_row_listener(None, None, move |_, _, _| p("row * *"));
    let p = push.clone();
    queries.add_result_row_listener(Some("q"), None, move |_, _, _| p("row q *"));
    let p = push.clone();
    queries.add_result_cell_listener(None, Some("r"), None, move |_, _, _, _, _, _| {
        p("cell * r *")
    });
    let p = push.clone();
    queries.add_result_cell_listener(Some("q"), Some("r"), None, move |_, _, _, _, _, _| {
        p("cell q r *")
    });
    store.set_cell("t", "r", "c", 1);
    assert_eq!(
        *calls.lock().unwrap(),
        [
            "cell q r *",
            "cell * r *",
            "row q *",
            "row * *",
            "table q",
            "table *"
        ]
    );
}

#[test]
fn a_redefinition_frees_its_param_listener_id_before_taking_one() {
    // TinyBase deletes a redefined query's param listener before adding the new one, which
    // then reuses its id: the next param listener's id follows.
    let queries = create_queries(&Store::new());
    let params: Row = [("p".to_string(), Cell::from(1))].into_iter().collect();
    let define = |params: Row| {
        queries
            .set_query_definition_with_params("q", "t", |b| b.where_("c", 1), params)
            .unwrap();
    };
    define(params.clone());
    define(params);
    let id = queries.add_param_values_listener(None, |_, _, _| {});
    assert_eq!(id.to_string(), "p1");
}
