//! Spec tests (store.md §1–4): every item has at least one test that fails if it is wrong.
//!
//! Expected values were cross-checked against the tinybase 10.0.1 npm package where the spec
//! leaves room for interpretation.

mod api;
mod data_model;
mod listeners;
mod schemas;
mod threading;
mod transactions;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};

use serde_json::{Value as Json, json};
use tinystore_core::content::{row_from_json, table_from_json, tables_from_json, values_from_json};
use tinystore_core::{
    Cell, CellChange, Changes, IdChanges, ListenerId, Row, SortedRowIdsArgs, Store, Tables,
    TransactionLog, Values,
};

// ---------------------------------------------------------------------------------- helpers

fn row(j: Json) -> Row {
    row_from_json(&j, false).unwrap()
}

fn tables(j: Json) -> Tables {
    tables_from_json(&j, false).unwrap()
}

fn values(j: Json) -> Values {
    values_from_json(&j, false).unwrap()
}

/// A store holding `[tables, values]` (decoded form).
fn store_with(tables_json: Json, values_json: Json) -> Store {
    let store = Store::new();
    if tables_json.as_object().is_some_and(|o| !o.is_empty()) {
        store.set_tables(&tables(tables_json));
    }
    if values_json.as_object().is_some_and(|o| !o.is_empty()) {
        store.set_values(&values(values_json));
    }
    store
}

type Log = Arc<Mutex<Vec<String>>>;

fn new_log() -> Log {
    Arc::default()
}

fn push(log: &Log, entry: impl Into<String>) {
    log.lock().unwrap().push(entry.into());
}

fn take(log: &Log) -> Vec<String> {
    std::mem::take(&mut *log.lock().unwrap())
}

/// `U` for undefined, else the decoded JSON text.
fn c(cell: Option<&Cell>) -> String {
    cell.map_or_else(|| "U".to_string(), |c| c.to_string())
}

fn id_changes(ids: &IdChanges) -> String {
    ids.iter()
        .map(|(id, n)| format!("{id}:{n}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn invalid(cells: &[Option<Cell>]) -> String {
    let parts: Vec<String> = cells
        .iter()
        .map(|x| match x {
            Some(Cell::Number(n)) if n.is_nan() => "NaN".to_string(),
            Some(Cell::Number(n)) if n.is_infinite() => format!("{n}"),
            other => c(other.as_ref()),
        })
        .collect();
    format!("[{}]", parts.join(","))
}

fn opt_id(id: Option<&str>) -> &str {
    id.unwrap_or("U")
}

fn ids(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Registers a wildcard invalid-cell listener logging `inv t r c [cells]`.
fn log_invalid_cells(store: &Store, log: &Log) {
    let l = log.clone();
    store.add_invalid_cell_listener(
        None,
        None,
        None,
        move |_, t, r, cid, cells| {
            push(
                &l,
                format!(
                    "inv {} {} {} {}",
                    opt_id(t),
                    opt_id(r),
                    opt_id(cid),
                    invalid(cells)
                ),
            )
        },
        false,
    );
}

fn log_invalid_values(store: &Store, log: &Log) {
    let l = log.clone();
    store.add_invalid_value_listener(
        None,
        move |_, v, cells| push(&l, format!("invv {} {}", opt_id(v), invalid(cells))),
        false,
    );
}

/// Every id order the store exposes, to compare exactly.
fn all_orders(store: &Store) -> Vec<Vec<String>> {
    let mut out = vec![store.get_table_ids(), store.get_value_ids()];
    for t in store.get_table_ids() {
        out.push(store.get_row_ids(&t));
        out.push(store.get_table_cell_ids(&t));
        for r in store.get_row_ids(&t) {
            out.push(store.get_cell_ids(&t, &r));
        }
    }
    out
}
