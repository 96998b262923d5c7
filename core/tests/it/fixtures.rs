//! Conformance against the golden fixtures recorded from TinyBase 10.0.1 in `../shared/kit`.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde_json::{Value as Json, json};
use tinystore_core::content::{tables_from_json, values_from_json};
use tinystore_core::{Cell, SortedRowIdsArgs, Store};

/// The kit lives beside the repository (`../shared/kit`); `TINYSTORE_KIT` overrides it.
pub fn kit_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("TINYSTORE_KIT") {
        return PathBuf::from(dir);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/kit")
}

pub fn fixture(path: &str) -> Json {
    let file = kit_dir().join("fixtures").join(path);
    let text = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("fixture {} must exist: {e}", file.display()));
    serde_json::from_str(&text).expect("fixture is JSON")
}

/// Applies one op of the kit's op format (`["setCell", t, r, c, v]`, ...).
pub fn apply_op(store: &Store, op: &Json) {
    tinystore_core::ops::apply_ops(store, &Json::Array(vec![op.clone()])).expect("valid op");
}

pub fn content_json(store: &Store) -> Json {
    let (tables, values) = store.get_content();
    json!([
        tinystore_core::content::tables_to_json(&tables, false),
        tinystore_core::content::values_to_json(&values, false)
    ])
}

#[test]
fn script_replays_to_tinybase_content() {
    let script = fixture("store/script.json");
    let store = Store::new();
    for op in script["ops"].as_array().unwrap() {
        apply_op(&store, op);
    }
    assert_eq!(content_json(&store), fixture("store/content.json"));
}

type Log = Arc<Mutex<Vec<Json>>>;

fn rec(log: &Log, entry: Json) {
    log.lock().unwrap().push(entry);
}

fn opt_cell(c: Option<&Cell>) -> Json {
    c.map_or(json!("<undefined>"), Cell::to_json)
}

#[test]
fn firing_order_matches_tinybase() {
    let fixture = fixture("store/firing-order.json");
    let store = Store::new();
    store.set_tables(&tables_from_json(&json!({"t": {"r1": {"a": 1}}}), false).unwrap());
    store.set_values(&values_from_json(&json!({"v": 1}), false).unwrap());
    let log: Log = Arc::default();
    macro_rules! l {
        () => {{
            let log = log.clone();
            log
        }};
    }
    let g = l!();
    store.add_has_tables_listener(move |_, b| rec(&g, json!(["HasTables", b])), false);
    let g = l!();
    store.add_tables_listener(move |_| rec(&g, json!(["Tables"])), false);
    let g = l!();
    store.add_table_ids_listener(move |_, _| rec(&g, json!(["TableIds"])), false);
    let g = l!();
    store.add_has_table_listener(
        None,
        move |_, t, b| rec(&g, json!(["HasTable", t, b])),
        false,
    );
    let g = l!();
    store.add_table_listener(None, move |_, t| rec(&g, json!(["Table", t])), false);
    let g = l!();
    store.add_table_cell_ids_listener(
        None,
        move |_, t, _| rec(&g, json!(["TableCellIds", t])),
        false,
    );
    let g = l!();
    store.add_has_table_cell_listener(
        None,
        None,
        move |_, t, c, b| rec(&g, json!(["HasTableCell", t, c, b])),
        false,
    );
    let g = l!();
    store.add_row_count_listener(
        None,
        move |_, t, n| rec(&g, json!(["RowCount", t, n])),
        false,
    );
    let g = l!();
    store.add_row_ids_listener(None, move |_, t, _| rec(&g, json!(["RowIds", t])), false);
    let g = l!();
    store.add_sorted_row_ids_listener(
        SortedRowIdsArgs::new("t").cell_id("a"),
        move |_, a, ids| {
            rec(
                &g,
                json!([
                    "SortedRowIds",
                    a.table_id,
                    a.cell_id,
                    a.descending,
                    a.offset,
                    "<undefined>",
                    ids
                ]),
            )
        },
        false,
    );
    let g = l!();
    store.add_has_row_listener(
        None,
        None,
        move |_, t, r, b| rec(&g, json!(["HasRow", t, r, b])),
        false,
    );
    let g = l!();
    store.add_row_listener(
        None,
        None,
        move |_, t, r| rec(&g, json!(["Row", t, r])),
        false,
    );
    let g = l!();
    store.add_cell_ids_listener(
        None,
        None,
        move |_, t, r, _| rec(&g, json!(["CellIds", t, r])),
        false,
    );
    let g = l!();
    store.add_has_cell_listener(
        None,
        None,
        None,
        move |_, t, r, c, b| rec(&g, json!(["HasCell", t, r, c, b])),
        false,
    );
    let g = l!();
    store.add_cell_listener(
        None,
        None,
        None,
        move |_, t, r, c, new, old| rec(&g, json!(["Cell", t, r, c, opt_cell(new), opt_cell(old)])),
        false,
    );
    let g = l!();
    store.add_invalid_cell_listener(
        None,
        None,
        None,
        move |_, t, r, c, invalid| {
            let invalid: Vec<Json> = invalid
                .iter()
                .map(|v| v.as_ref().map_or(Json::Null, Cell::to_json))
                .collect();
            rec(&g, json!(["InvalidCell", t, r, c, invalid]))
        },
        false,
    );
    let g = l!();
    store.add_has_values_listener(move |_, b| rec(&g, json!(["HasValues", b])), false);
    let g = l!();
    store.add_values_listener(move |_| rec(&g, json!(["Values"])), false);
    let g = l!();
    store.add_value_ids_listener(move |_, _| rec(&g, json!(["ValueIds"])), false);
    let g = l!();
    store.add_has_value_listener(
        None,
        move |_, v, b| rec(&g, json!(["HasValue", v, b])),
        false,
    );
    let g = l!();
    store.add_value_listener(
        None,
        move |_, v, new, old| rec(&g, json!(["Value", v, opt_cell(new), opt_cell(old)])),
        false,
    );
    let g = l!();
    store.add_invalid_value_listener(
        None,
        move |_, v, _| rec(&g, json!(["InvalidValue", v])),
        false,
    );
    let g = l!();
    store.add_cell_listener(
        None,
        None,
        Some("a"),
        move |s, t, r, _, _, _| {
            rec(&g, json!(["mutator:Cell", t, r, "a"]));
            s.set_cell(t, r, "m", 1);
        },
        true,
    );
    let g = l!();
    store.add_start_transaction_listener(move |_| rec(&g, json!(["StartTransaction"])));
    let g = l!();
    store.add_will_finish_transaction_listener(move |_| rec(&g, json!(["WillFinishTransaction"])));
    let g = l!();
    store.add_did_finish_transaction_listener(move |_| rec(&g, json!(["DidFinishTransaction"])));

    store.transaction(|s| {
        s.set_cell("t", "r2", "a", 0);
        s.set_cell("t", "r1", "a", 2);
        s.set_value("w", 2);
        s.set_cell("t", "r1", "bad", f64::NAN);
    });

    let calls = Json::Array(log.lock().unwrap().clone());
    let expected = &fixture["calls"];
    let got: Vec<String> = calls
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect();
    let want: Vec<String> = expected
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert_eq!(got, want, "listener call sequence");
    assert_eq!(content_json(&store), fixture["finalContent"]);
}
