//! A todo list grouped by state and sorted by date, with an index and a query
//! (`cargo run -p tinystore-core --example todo_views`; `make examples-test` runs it, and
//! `cargo test -p tinystore-core --test examples` checks its output).
//!
//! The index `byState` keeps one slice per state, each slice's todos sorted by their due date,
//! up to date as todos change; the query `perState` counts the todos of each state.

use std::sync::{Arc, Mutex};

use tinystore_core::views::queries::create_queries;
use tinystore_core::views::{Source, create_indexes};
use tinystore_core::{Row, Store};

/// Runs the example and returns what it printed, line by line.
pub fn run() -> Vec<String> {
    let mut out = Vec::new();
    let store = Store::new();
    let todos = [
        ("t1", "buy milk", "todo", "2026-12-03"),
        ("t2", "file taxes", "doing", "2026-12-10"),
        ("t3", "call mum", "todo", "2026-12-01"),
        ("t4", "fix bike", "done", "2026-11-28"),
        ("t5", "book flights", "todo", "2026-12-02"),
    ];
    store.transaction(|s| {
        for (id, text, state, date) in todos {
            let row: Row = [("text", text), ("state", state), ("date", date)]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.into()))
                .collect();
            s.set_row("todos", id, &row);
        }
    });

    // Slices named by the `state` cell; rows in a slice sorted by `date` (ISO dates sort as
    // strings).
    let indexes = create_indexes(&store);
    indexes.set_index_definition(
        "byState",
        "todos",
        Some(Source::cell("state")),
        Some(Source::cell("date")),
        None,
        None,
    );
    // How many todos each state has: group the selected `text` cells by state and count them.
    let queries = create_queries(&store);
    queries
        .set_query_definition("perState", "todos", |q| {
            q.select("state");
            q.select("text");
            q.group("text", "count").as_("todos");
        })
        .expect("a valid query");

    // Told whenever the `done` slice changes.
    let done_changes = Arc::new(Mutex::new(0));
    let counter = done_changes.clone();
    indexes.add_slice_row_ids_listener(Some("byState"), Some("done"), move |_, _, _| {
        *counter.lock().unwrap() += 1;
    });

    let print = |out: &mut Vec<String>| {
        for state in indexes.get_slice_ids("byState") {
            let texts: Vec<String> = indexes
                .get_slice_row_ids("byState", &state)
                .iter()
                .map(|id| {
                    let cell = |c| {
                        store
                            .get_cell("todos", id, c)
                            .and_then(|v| v.as_str().map(str::to_owned))
                    };
                    format!(
                        "{} ({})",
                        cell("text").unwrap_or_default(),
                        cell("date").unwrap_or_default()
                    )
                })
                .collect();
            out.push(format!("{state}: {}", texts.join(", ")));
        }
        let mut counts = Vec::new();
        queries.for_each_result_row("perState", |row| {
            let r = queries.get_result_row("perState", row);
            let (state, n) = (
                r["state"].as_str().unwrap_or(""),
                r["todos"].as_f64().unwrap_or(0.0),
            );
            counts.push(format!("{state} {n}"));
        });
        out.push(format!("counts: {}", counts.join(", ")));
    };
    print(&mut out);

    // Calling mum is done: the todo moves from the `todo` slice to `done`, in date order.
    store.set_cell("todos", "t3", "state", "done");
    out.push("-- t3 done".to_string());
    print(&mut out);
    out.push(format!(
        "done slice changed {} time(s)",
        done_changes.lock().unwrap()
    ));
    out
}

#[allow(dead_code)] // `main` when run as an example; the test calls `run`
fn main() {
    for line in run() {
        println!("{line}");
    }
}
