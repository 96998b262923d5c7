//! Spec tests (store.md §1–4): every item has at least one test that fails if it is wrong.
//!
//! Expected values were cross-checked against the tinybase 10.0.1 npm package where the spec
//! leaves room for interpretation.

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

// ======================================================================== §1 data model

#[test]
fn ids_may_be_any_string_including_empty_and_proto() {
    let store = Store::new();
    store
        .set_cell("", "", "", 1)
        .set_cell("__proto__", "constructor", "__proto__", "x")
        .set_value("__proto__", 2)
        .set_value("", true);
    assert_eq!(store.get_cell("", "", ""), Some(Cell::Number(1.0)));
    assert!(store.has_table("__proto__"));
    assert!(store.has_row("__proto__", "constructor"));
    assert_eq!(
        store.get_cell("__proto__", "constructor", "__proto__"),
        Some(Cell::from("x"))
    );
    assert_eq!(store.get_table_ids(), ids(&["", "__proto__"]));
    assert_eq!(store.get_value_ids(), ids(&["__proto__", ""]));
    assert_eq!(
        store.get_json(),
        r#"[{"":{"":{"":1}},"__proto__":{"constructor":{"__proto__":"x"}}},{"__proto__":2,"":true}]"#
    );
    store.del_table("");
    assert_eq!(store.get_table_ids(), ids(&["__proto__"]));
}

#[test]
fn empty_rows_and_tables_never_exist() {
    let store = Store::new();
    store
        .set_cell("t", "r1", "a", 1)
        .set_cell("t", "r1", "b", 2)
        .set_cell("t", "r2", "a", 3);
    store.del_cell("t", "r1", "a", false);
    assert_eq!(store.get_cell_ids("t", "r1"), ids(&["b"]));
    store.del_cell("t", "r1", "b", false);
    assert!(!store.has_row("t", "r1"));
    assert_eq!(store.get_row_ids("t"), ids(&["r2"]));
    assert!(store.has_table("t"));
    store.del_cell("t", "r2", "a", false);
    assert!(!store.has_row("t", "r2"));
    assert!(!store.has_table("t"));
    assert!(!store.has_tables());
    assert_eq!(store.get_table_ids(), Vec::<String>::new());
    assert_eq!(store.get_json(), "[{},{}]");

    // Deleting the last row deletes the table.
    store.set_cell("u", "r", "a", 1).set_cell("v", "r", "a", 1);
    store.del_row("u", "r");
    assert_eq!(store.get_table_ids(), ids(&["v"]));
    assert_eq!(store.get_tables_json(), r#"{"v":{"r":{"a":1}}}"#);
}

#[test]
fn ids_keep_insertion_order_and_resetting_does_not_move() {
    let store = Store::new();
    store
        .set_cell("t2", "r", "x", 1)
        .set_cell("t1", "b", "c", 1)
        .set_cell("t1", "a", "c", 1)
        .set_cell("t1", "b", "z", 1)
        .set_cell("t1", "b", "y", 1)
        .set_value("w", 1)
        .set_value("v", 1);
    // Re-setting existing ids does not move them.
    store
        .set_cell("t2", "r", "x", 2)
        .set_cell("t1", "b", "c", 5)
        .set_cell("t1", "b", "z", 0)
        .set_value("w", 3);
    assert_eq!(store.get_table_ids(), ids(&["t2", "t1"]));
    assert_eq!(store.get_row_ids("t1"), ids(&["b", "a"]));
    assert_eq!(store.get_cell_ids("t1", "b"), ids(&["c", "z", "y"]));
    assert_eq!(store.get_value_ids(), ids(&["w", "v"]));
    // set_row with a different key order keeps existing cell positions.
    store.set_row("t1", "b", &row(json!({"y": 1, "c": 2, "z": 3})));
    assert_eq!(store.get_cell_ids("t1", "b"), ids(&["c", "z", "y"]));
    assert_eq!(
        store.get_json(),
        r#"[{"t2":{"r":{"x":2}},"t1":{"b":{"c":2,"z":3,"y":1},"a":{"c":1}}},{"w":3,"v":1}]"#
    );
}

#[test]
fn every_cell_type_is_stored_and_read_back() {
    let store = Store::new();
    store
        .set_cell("t", "r", "s", "dog")
        .set_cell("t", "r", "n", 1.5)
        .set_cell("t", "r", "i", -3)
        .set_cell("t", "r", "b", false)
        .set_cell("t", "r", "z", Cell::Null)
        .set_cell("t", "r", "o", json!({"b": 1, "a": [2]}))
        .set_cell("t", "r", "a", json!([1, "x"]))
        .set_value("vo", json!({"k": null}))
        .set_value("vn", Cell::Null);
    assert_eq!(store.get_cell("t", "r", "s"), Some(Cell::from("dog")));
    assert_eq!(store.get_cell("t", "r", "n"), Some(Cell::Number(1.5)));
    assert_eq!(store.get_cell("t", "r", "i"), Some(Cell::Number(-3.0)));
    assert_eq!(store.get_cell("t", "r", "b"), Some(Cell::Boolean(false)));
    assert_eq!(store.get_cell("t", "r", "z"), Some(Cell::Null));
    assert!(store.has_cell("t", "r", "z"), "a null cell exists");
    assert!(store.has_value("vn"), "a null value exists");
    assert_eq!(
        store.get_cell("t", "r", "o"),
        Some(Cell::Object(r#"{"b":1,"a":[2]}"#.into()))
    );
    assert_eq!(
        store.get_cell("t", "r", "o").unwrap().to_json(),
        json!({"b": 1, "a": [2]})
    );
    assert_eq!(
        store.get_cell("t", "r", "a"),
        Some(Cell::Array(r#"[1,"x"]"#.into()))
    );
    assert_eq!(
        store.get_json(),
        "[{\"t\":{\"r\":{\"s\":\"dog\",\"n\":1.5,\"i\":-3,\"b\":false,\"z\":null,\
         \"o\":\"\u{FFFD}{\\\"b\\\":1,\\\"a\\\":[2]}\",\"a\":\"\u{FFFD}[1,\\\"x\\\"]\"}}},\
         {\"vo\":\"\u{FFFD}{\\\"k\\\":null}\",\"vn\":null}]"
    );
    // The spec's example, byte for byte.
    let store = Store::new();
    store
        .set_cell("t", "r", "o", json!({"a": 1}))
        .set_cell("t", "r", "n", Cell::Null)
        .set_value("v", json!([1]));
    assert_eq!(
        store.get_json(),
        "[{\"t\":{\"r\":{\"o\":\"\u{FFFD}{\\\"a\\\":1}\",\"n\":null}}},{\"v\":\"\u{FFFD}[1]\"}]"
    );
}

#[test]
fn non_finite_numbers_are_rejected_and_reported() {
    let store = Store::new();
    let log = new_log();
    log_invalid_cells(&store, &log);
    log_invalid_values(&store, &log);
    store.set_cell("t", "r", "ok", 1);
    store.set_cell("t", "r", "a", f64::NAN);
    store.set_cell("t", "r", "b", f64::INFINITY);
    store.set_cell("t", "r2", "c", f64::NEG_INFINITY);
    store.set_value("v", f64::NAN);
    store.set_value("w", f64::INFINITY);
    assert_eq!(
        take(&log),
        [
            "inv t r a [NaN]",
            "inv t r b [inf]",
            "inv t r2 c [-inf]",
            "invv v [NaN]",
            "invv w [inf]"
        ]
    );
    assert_eq!(store.get_json(), r#"[{"t":{"r":{"ok":1}}},{}]"#);
    assert!(!store.has_row("t", "r2"));
    // An existing value is not overwritten by an invalid one.
    store.set_cell("t", "r", "ok", f64::NAN);
    assert_eq!(store.get_cell("t", "r", "ok"), Some(Cell::Number(1.0)));
}

#[test]
fn reserved_strings_are_rejected_as_user_data() {
    let store = Store::new();
    let log = new_log();
    log_invalid_cells(&store, &log);
    log_invalid_values(&store, &log);
    store.set_cell("t", "r", "a", "\u{FFFC}");
    store.set_cell("t", "r", "b", "\u{FFFD}{\"a\":1}");
    store.set_cell("t", "r", "c", "\u{FFFD}");
    store.set_value("v", "\u{FFFD}[1]");
    assert_eq!(store.get_json(), "[{},{}]");
    assert_eq!(
        take(&log),
        [
            "inv t r a [\"\u{FFFC}\"]",
            "inv t r b [\"\u{FFFD}{\\\"a\\\":1}\"]",
            "inv t r c [\"\u{FFFD}\"]",
            "invv v [\"\u{FFFD}[1]\"]",
        ]
    );
    // Only exactly U+FFFC and a U+FFFD prefix are reserved.
    store
        .set_cell("t", "r", "d", "\u{FFFC}x")
        .set_cell("t", "r", "e", "x\u{FFFD}");
    assert_eq!(store.get_cell_ids("t", "r"), ids(&["d", "e"]));
    assert!(take(&log).is_empty());
}

#[test]
fn encoded_strings_are_accepted_in_json_mode_when_they_decode() {
    let store = Store::new();
    let log = new_log();
    log_invalid_cells(&store, &log);
    log_invalid_values(&store, &log);
    let input = "[{\"t\":{\"r\":{\"o\":\"\u{FFFD}{\\\"b\\\":1,\\\"a\\\":2}\",\"a\":\"\u{FFFD}[1]\",\
                 \"bad\":\"\u{FFFD}nope\",\"u\":\"\u{FFFC}\",\"s\":\"ok\"}}},\
                 {\"v\":\"\u{FFFD}{}\",\"w\":\"\u{FFFD}1\"}]";
    store.set_json(input).unwrap();
    assert_eq!(
        store.get_cell("t", "r", "o"),
        Some(Cell::Object(r#"{"b":1,"a":2}"#.into())),
        "kept verbatim (not re-serialised)"
    );
    assert_eq!(
        store.get_cell("t", "r", "a"),
        Some(Cell::Array("[1]".into()))
    );
    assert!(!store.has_cell("t", "r", "bad"));
    assert!(!store.has_cell("t", "r", "u"));
    assert_eq!(store.get_cell_ids("t", "r"), ids(&["o", "a", "s"]));
    assert_eq!(store.get_value("v"), Some(Cell::Object("{}".into())));
    assert!(!store.has_value("w"));
    assert_eq!(
        take(&log),
        [
            "inv t r bad [\"\u{FFFD}nope\"]",
            "inv t r u [\"\u{FFFC}\"]",
            "invv w [\"\u{FFFD}1\"]"
        ]
    );
    assert_eq!(
        store.get_json(),
        "[{\"t\":{\"r\":{\"o\":\"\u{FFFD}{\\\"b\\\":1,\\\"a\\\":2}\",\"a\":\"\u{FFFD}[1]\",\"s\":\"ok\"}}},\
         {\"v\":\"\u{FFFD}{}\"}]"
    );
}

// ------------------------------------------------------------------ §1.2 validation

#[test]
fn set_row_with_empty_or_all_invalid_row_is_a_no_op() {
    let store = store_with(json!({"t": {"r": {"a": 1}}}), json!({}));
    let log = new_log();
    log_invalid_cells(&store, &log);
    let l = log.clone();
    store.add_row_listener(
        None,
        None,
        move |_, t, r| push(&l, format!("row {t} {r}")),
        false,
    );
    store.set_row("t", "r", &Row::new());
    assert_eq!(take(&log), ["inv t r U [U]"]);
    store.set_row(
        "t",
        "r",
        &Row::from([
            ("a".to_string(), Cell::Number(f64::NAN)),
            ("b".to_string(), Cell::from("\u{FFFC}")),
        ]),
    );
    assert_eq!(take(&log), ["inv t r a [NaN]", "inv t r b [\"\u{FFFC}\"]"]);
    assert_eq!(store.get_row("t", "r"), row(json!({"a": 1})));
    store.set_row("t", "new", &Row::new());
    assert!(!store.has_row("t", "new"));
    assert_eq!(take(&log), ["inv t new U [U]"]);
    // add_row of an invalid row yields no id.
    assert_eq!(store.add_row("t", &Row::new(), true), None);
    assert_eq!(
        store.add_row(
            "t",
            &Row::from([("a".to_string(), Cell::Number(f64::NAN))]),
            true
        ),
        None
    );
    assert_eq!(store.get_row_ids("t"), ids(&["r"]));
}

#[test]
fn set_tables_with_everything_pruned_does_not_clear_tables() {
    let store = store_with(json!({"t": {"r": {"a": 1}}}), json!({"v": 1}));
    let nan = Row::from([("c".to_string(), Cell::Number(f64::NAN))]);
    let bad = Tables::from([(
        "t".to_string(),
        tinystore_core::Table::from([("r".to_string(), nan.clone())]),
    )]);
    store.set_tables(&bad);
    assert_eq!(store.get_json(), r#"[{"t":{"r":{"a":1}}},{"v":1}]"#);
    store.set_table("t", &tinystore_core::Table::from([("r".to_string(), nan)]));
    assert_eq!(store.get_json(), r#"[{"t":{"r":{"a":1}}},{"v":1}]"#);
    store.set_values(&Values::from([("v".to_string(), Cell::Number(f64::NAN))]));
    assert_eq!(store.get_json(), r#"[{"t":{"r":{"a":1}}},{"v":1}]"#);
    // Partially valid input replaces; the invalid parts are dropped.
    let mixed = Tables::from([
        (
            "t".to_string(),
            tinystore_core::Table::from([(
                "r2".to_string(),
                Row::from([
                    ("x".to_string(), Cell::Number(f64::NAN)),
                    ("y".to_string(), Cell::from(2)),
                ]),
            )]),
        ),
        (
            "u".to_string(),
            tinystore_core::Table::from([(
                "r".to_string(),
                Row::from([("x".to_string(), Cell::Number(f64::NAN))]),
            )]),
        ),
    ]);
    store.set_tables(&mixed);
    assert_eq!(store.get_json(), r#"[{"t":{"r2":{"y":2}}},{"v":1}]"#);
}

// ======================================================================== §2 schemas

const PETS_SCHEMA: &str = r#"{"pets":{"species":{"type":"string"},"sold":{"type":"boolean","default":false},"st":{"enum":["a","b"],"default":"a"},"n":{"type":["number","string"],"allowNull":true}}}"#;

#[test]
fn schema_pets_example() {
    let store = Store::new();
    store.set_tables_schema_json(PETS_SCHEMA).unwrap();
    let log = new_log();
    log_invalid_cells(&store, &log);
    store.set_row(
        "pets",
        "fido",
        &row(json!({"species": "dog", "n": null, "st": "z", "extra": 1})),
    );
    assert_eq!(
        store.get_row("pets", "fido"),
        row(json!({"species": "dog", "n": null, "st": "a", "sold": false}))
    );
    assert_eq!(
        store.get_cell_ids("pets", "fido"),
        ids(&["species", "n", "st", "sold"])
    );
    assert_eq!(
        take(&log),
        ["inv pets fido st [\"z\"]", "inv pets fido extra [1]"]
    );
    assert_eq!(
        store.get_tables_json(),
        r#"{"pets":{"fido":{"species":"dog","n":null,"st":"a","sold":false}}}"#
    );
}

#[test]
fn schema_type_unions_enums_and_null() {
    let store = Store::new();
    store.set_tables_schema_json(PETS_SCHEMA).unwrap();
    store.set_tables_schema_json(
        r#"{"t":{"u":{"type":["number","string"]},"e":{"enum":[1,true,"x"]},"o":{"type":"object"},"a":{"type":"array"},"d":{"type":"number","default":7},"z":{"type":"string","allowNull":true}}}"#,
    ).unwrap();
    let log = new_log();
    log_invalid_cells(&store, &log);
    store.set_cell("t", "r", "u", 1);
    store.set_cell("t", "r", "u", "s");
    assert_eq!(store.get_cell("t", "r", "u"), Some(Cell::from("s")));
    take(&log);
    store.set_cell("t", "r", "u", true);
    store.set_cell("t", "r", "u", Cell::Null);
    assert_eq!(store.get_cell("t", "r", "u"), Some(Cell::from("s")));
    assert_eq!(take(&log), ["inv t r u [true]", "inv t r u [null]"]);
    store.set_cell("t", "r", "e", true);
    assert_eq!(store.get_cell("t", "r", "e"), Some(Cell::Boolean(true)));
    store.set_cell("t", "r", "e", 1);
    assert_eq!(store.get_cell("t", "r", "e"), Some(Cell::Number(1.0)));
    store.set_cell("t", "r", "e", "y");
    store.set_cell("t", "r", "e", 2);
    store.set_cell("t", "r", "e", false);
    assert_eq!(store.get_cell("t", "r", "e"), Some(Cell::Number(1.0)));
    assert_eq!(
        take(&log),
        ["inv t r e [\"y\"]", "inv t r e [2]", "inv t r e [false]"]
    );
    store.set_cell("t", "r", "o", json!({"k": 1}));
    store.set_cell("t", "r", "o", json!([1]));
    store.set_cell("t", "r", "a", json!([1]));
    store.set_cell("t", "r", "a", json!({"k": 1}));
    assert_eq!(
        store.get_cell("t", "r", "o"),
        Some(Cell::Object(r#"{"k":1}"#.into()))
    );
    assert_eq!(
        store.get_cell("t", "r", "a"),
        Some(Cell::Array("[1]".into()))
    );
    assert_eq!(take(&log), ["inv t r o [[1]]", "inv t r a [{\"k\":1}]"]);
    // Wrong type or null without allowNull is replaced by the default when there is one.
    store.set_cell("t", "r", "d", 3);
    store.set_cell("t", "r", "d", "x");
    assert_eq!(store.get_cell("t", "r", "d"), Some(Cell::Number(7.0)));
    store.set_cell("t", "r", "d", 3);
    store.set_cell("t", "r", "d", Cell::Null);
    assert_eq!(store.get_cell("t", "r", "d"), Some(Cell::Number(7.0)));
    assert_eq!(take(&log), ["inv t r d [\"x\"]", "inv t r d [null]"]);
    store.set_cell("t", "r", "z", Cell::Null);
    assert_eq!(store.get_cell("t", "r", "z"), Some(Cell::Null));
    // Unknown cell id and unknown table are invalid.
    store.set_cell("t", "r", "nope", 1);
    store.set_cell("other", "r", "u", 1);
    assert!(!store.has_table("other"));
    assert!(!store.has_cell("t", "r", "nope"));
    assert_eq!(take(&log), ["inv t r nope [1]", "inv other r u [1]"]);
}

#[test]
fn schema_required_rejects_whole_row_on_full_writes() {
    let store = Store::new();
    store
        .set_tables_schema_json(
            r#"{"t":{"a":{"type":"number","required":true},"b":{"type":"string"}}}"#,
        )
        .unwrap();
    let log = new_log();
    log_invalid_cells(&store, &log);
    store.set_row("t", "r", &row(json!({"b": "x"})));
    assert_eq!(store.get_json(), "[{},{}]");
    assert_eq!(take(&log), ["inv t r a [U]"]);
    assert_eq!(store.add_row("t", &row(json!({"b": "x"})), true), None);
    store.set_table(
        "t",
        &table_from_json(&json!({"r": {"b": "x"}, "s": {"a": 1}}), false).unwrap(),
    );
    assert_eq!(store.get_json(), r#"[{"t":{"s":{"a":1}}},{}]"#);
    // An invalid value for the required cell also rejects the row.
    store.set_row("t", "q", &row(json!({"a": "nan", "b": "x"})));
    assert!(!store.has_row("t", "q"));
    // set_cell on a brand-new row is not a full row write: it is accepted (as TinyBase does).
    take(&log);
    store.set_cell("t", "r2", "b", "x");
    assert_eq!(store.get_row("t", "r2"), row(json!({"b": "x"})));
    assert_eq!(take(&log), ["inv t r2 a [U]"]);
}

#[test]
fn setting_a_schema_revalidates_existing_data() {
    let store = store_with(
        json!({"t": {"r": {"a": 1, "b": "x"}, "r2": {"b": "y"}}, "u": {"r": {"c": 1}}}),
        json!({"v": "s", "w": 2}),
    );
    let log = new_log();
    let l = log.clone();
    store.add_did_finish_transaction_listener(move |_| push(&l, "did"));
    store
        .set_tables_schema_json(r#"{"t":{"a":{"type":"number"}}}"#)
        .unwrap();
    assert_eq!(take(&log), ["did"], "one transaction");
    assert_eq!(store.get_tables_json(), r#"{"t":{"r":{"a":1}}}"#);
    store
        .set_values_schema_json(r#"{"w":{"type":"number"},"z":{"type":"boolean","default":true}}"#)
        .unwrap();
    assert_eq!(store.get_values_json(), r#"{"w":2,"z":true}"#);
    assert_eq!(store.get_value_ids(), ids(&["w", "z"]));
}

#[test]
fn schema_defaults_fill_full_writes_and_first_cell_of_new_row() {
    let store = Store::new();
    store.set_tables_schema_json(PETS_SCHEMA).unwrap();
    let log = new_log();
    log_invalid_cells(&store, &log);
    store.set_cell("pets", "felix", "species", "cat");
    assert_eq!(
        store.get_cell_ids("pets", "felix"),
        ids(&["species", "sold", "st"])
    );
    assert_eq!(
        store.get_row("pets", "felix"),
        row(json!({"species": "cat", "sold": false, "st": "a"}))
    );
    assert_eq!(take(&log), ["inv pets felix n [U]"]);
    // A later set_cell on an existing row adds nothing.
    store.del_cell("pets", "felix", "st", true);
    assert!(!store.has_row("pets", "felix"), "force_del deletes the row");
    store.set_partial_row("pets", "tom", &row(json!({"n": 2})));
    assert_eq!(
        store.get_row("pets", "tom"),
        row(json!({"n": 2, "sold": false, "st": "a"}))
    );
    store.set_partial_row("pets", "tom", &row(json!({"species": "cat"})));
    assert_eq!(
        store.get_cell_ids("pets", "tom"),
        ids(&["n", "sold", "st", "species"])
    );
    assert_eq!(
        store.add_row("pets", &row(json!({"species": "x"})), true),
        Some("0".to_string())
    );
    assert_eq!(
        store.get_row("pets", "0"),
        row(json!({"species": "x", "sold": false, "st": "a"}))
    );
    store.set_table(
        "pets",
        &table_from_json(&json!({"a": {"n": "q"}}), false).unwrap(),
    );
    assert_eq!(
        store.get_tables_json(),
        r#"{"pets":{"a":{"n":"q","sold":false,"st":"a"}}}"#
    );
    store.set_tables(&tables(json!({"pets": {"b": {"sold": true}}})));
    assert_eq!(
        store.get_tables_json(),
        r#"{"pets":{"b":{"sold":true,"st":"a"}}}"#
    );
}

#[test]
fn deleting_a_defaulted_cell_resets_it_and_force_del_deletes_the_row() {
    let store = Store::new();
    store.set_tables_schema_json(PETS_SCHEMA).unwrap();
    store.set_row(
        "pets",
        "fido",
        &row(json!({"species": "dog", "sold": true, "st": "b"})),
    );
    store.set_row("pets", "rex", &row(json!({"species": "dog"})));
    store.del_cell("pets", "fido", "sold", false);
    assert_eq!(
        store.get_cell("pets", "fido", "sold"),
        Some(Cell::Boolean(false))
    );
    store.del_cell("pets", "fido", "st", false);
    assert_eq!(store.get_cell("pets", "fido", "st"), Some(Cell::from("a")));
    // A cell without default is deleted normally.
    store.del_cell("pets", "fido", "species", false);
    assert_eq!(store.get_cell_ids("pets", "fido"), ids(&["sold", "st"]));
    store.del_cell("pets", "fido", "sold", true);
    assert!(!store.has_row("pets", "fido"));
    assert_eq!(store.get_row_ids("pets"), ids(&["rex"]));
    // del_row really deletes even a row of only defaults.
    store.del_row("pets", "rex");
    assert!(!store.has_tables());
}

#[test]
fn values_schema_defaults_validation_and_reset() {
    let store = Store::new();
    store
        .set_values_schema_json(
            r#"{"v":{"type":"number","default":1},"w":{"type":"string"},"e":{"enum":["x","y"]}}"#,
        )
        .unwrap();
    let log = new_log();
    log_invalid_values(&store, &log);
    store.set_values(&values(json!({"w": "x"})));
    assert_eq!(store.get_values_json(), r#"{"v":1,"w":"x"}"#);
    assert_eq!(take(&log), ["invv e [U]"]);
    store.set_value("v", 5);
    store.del_value("v");
    assert_eq!(store.get_value("v"), Some(Cell::Number(1.0)));
    store.set_value("zz", 1);
    store.set_value("w", 1);
    store.set_value("e", "z");
    store.set_value("e", "y");
    assert_eq!(store.get_values_json(), r#"{"v":1,"w":"x","e":"y"}"#);
    assert_eq!(take(&log), ["invv zz [1]", "invv w [1]", "invv e [\"z\"]"]);
    store.set_value("v", "bad");
    assert_eq!(store.get_value("v"), Some(Cell::Number(1.0)));
    store.del_values();
    assert_eq!(store.get_values_json(), r#"{"v":1}"#);
}

#[test]
fn schema_json_getters_has_and_deleters() {
    let store = Store::new();
    assert!(!store.has_tables_schema());
    assert!(!store.has_values_schema());
    assert_eq!(store.get_tables_schema_json(), "{}");
    assert_eq!(store.get_schema_json(), "[{},{}]");
    store.set_tables_schema_json(PETS_SCHEMA).unwrap();
    assert_eq!(store.get_tables_schema_json(), PETS_SCHEMA);
    assert_eq!(store.get_schema_json(), format!("[{PETS_SCHEMA},{{}}]"));
    store
        .set_values_schema_json(r#"{"v":{"type":"number","default":1}}"#)
        .unwrap();
    assert!(store.has_tables_schema() && store.has_values_schema());
    assert_eq!(
        store.get_schema_json(),
        format!(r#"[{PETS_SCHEMA},{{"v":{{"type":"number","default":1}}}}]"#)
    );
    store.set_cell("pets", "p", "species", "cat");
    store.del_tables_schema();
    assert!(!store.has_tables_schema());
    assert!(store.has_values_schema());
    // Data is kept, and without a schema anything goes again.
    assert_eq!(
        store.get_row("pets", "p"),
        row(json!({"species": "cat", "sold": false, "st": "a"}))
    );
    store.set_cell("other", "r", "c", 1);
    assert!(store.has_table("other"));
    store.del_values_schema();
    assert_eq!(store.get_values_schema_json(), "{}");
    store.set_tables_schema_json(PETS_SCHEMA).unwrap();
    store
        .set_values_schema_json(r#"{"v":{"type":"number"}}"#)
        .unwrap();
    store.del_schema();
    assert_eq!(store.get_schema_json(), "[{},{}]");
    // set_schema sets both in one go.
    let ts =
        tinystore_core::TablesSchema::from_json(&json!({"t": {"c": {"type": "number"}}})).unwrap();
    let vs = tinystore_core::ValuesSchema::from_json(&json!({"v": {"type": "string"}})).unwrap();
    store.set_schema(ts, Some(vs));
    assert_eq!(
        store.get_schema_json(),
        r#"[{"t":{"c":{"type":"number"}}},{"v":{"type":"string"}}]"#
    );
}

#[test]
fn invalid_schema_entries_are_removed() {
    let store = Store::new();
    store
        .set_tables_schema_json(
            r#"{"t":{"b":{"type":"string","default":3},"c":{"type":"string","enum":["x"]},"d":{"type":"number","default":null},"e":{"type":"number","default":null,"allowNull":true},"f":{"enum":["x","y"],"default":"y"},"g":{"type":"nope"},"h":{"enum":[]},"i":{"enum":[null]},"j":{"type":"string","default":"\uFFFDx"},"k":{"type":[]},"l":{"default":1}}}"#,
        )
        .unwrap();
    assert_eq!(
        store.get_tables_schema_json(),
        r#"{"t":{"b":{"type":"string"},"e":{"type":"number","default":null,"allowNull":true},"f":{"enum":["x","y"],"default":"y"},"j":{"type":"string"}}}"#
    );
    store.set_cell("t", "r", "c", "x");
    assert!(!store.has_table("t"), "c has no schema entry");
    store.set_cell("t", "r", "b", "s");
    assert_eq!(
        store.get_row("t", "r"),
        row(json!({"b": "s", "e": null, "f": "y"}))
    );
}

// ======================================================================== §3 API surface

#[test]
fn getters_for_missing_things_return_empty() {
    let store = store_with(json!({"t": {"r": {"c": 1}}}), json!({"v": 1}));
    assert_eq!(store.get_table("x"), tinystore_core::Table::new());
    assert_eq!(store.get_row("t", "x"), Row::new());
    assert_eq!(store.get_row("x", "r"), Row::new());
    assert_eq!(store.get_cell("t", "r", "x"), None);
    assert_eq!(store.get_cell("x", "r", "c"), None);
    assert_eq!(store.get_value("x"), None);
    assert_eq!(store.get_row_ids("x"), Vec::<String>::new());
    assert_eq!(store.get_cell_ids("t", "x"), Vec::<String>::new());
    assert_eq!(store.get_table_cell_ids("x"), Vec::<String>::new());
    assert_eq!(store.get_row_count("x"), 0);
    assert_eq!(
        store.get_sorted_row_ids(&SortedRowIdsArgs::new("x")),
        Vec::<String>::new()
    );
    assert!(!store.has_table("x"));
    assert!(!store.has_table_cell("t", "x"));
    assert!(!store.has_table_cell("x", "c"));
    assert!(!store.has_row("t", "x"));
    assert!(!store.has_cell("t", "r", "x"));
    assert!(!store.has_value("x"));
    let empty = Store::new();
    assert_eq!(empty.get_tables(), Tables::new());
    assert_eq!(empty.get_values(), Values::new());
    assert_eq!(empty.get_content(), (Tables::new(), Values::new()));
    assert!(!empty.has_tables());
    assert!(!empty.has_values());
    assert!(!empty.is_mergeable());
}

#[test]
fn getters_return_content_and_ids() {
    let store = Store::new();
    store
        .set_cell("t", "r1", "b", 1)
        .set_cell("t", "r2", "a", 2)
        .set_cell("t", "r2", "b", 3)
        .set_cell("t", "r3", "c", 4)
        .set_cell("u", "x", "y", "z")
        .set_value("v", 1)
        .set_value("w", "s");
    assert_eq!(store.get_table_cell_ids("t"), ids(&["b", "a", "c"]));
    assert_eq!(store.get_row_count("t"), 3);
    assert_eq!(store.get_row_ids("t"), ids(&["r1", "r2", "r3"]));
    assert_eq!(store.get_cell_ids("t", "r2"), ids(&["a", "b"]));
    assert!(store.has_table_cell("t", "c"));
    assert!(!store.has_table_cell("u", "c"));
    assert_eq!(
        store.get_table("t"),
        table_from_json(
            &json!({"r1": {"b": 1}, "r2": {"a": 2, "b": 3}, "r3": {"c": 4}}),
            false
        )
        .unwrap()
    );
    assert_eq!(store.get_row("t", "r2"), row(json!({"a": 2, "b": 3})));
    assert_eq!(
        store.get_tables(),
        tables(
            json!({"t": {"r1": {"b": 1}, "r2": {"a": 2, "b": 3}, "r3": {"c": 4}}, "u": {"x": {"y": "z"}}})
        )
    );
    assert_eq!(store.get_values(), values(json!({"v": 1, "w": "s"})));
    let (t, v) = store.get_content();
    assert_eq!((t, v), (store.get_tables(), store.get_values()));
    let mut counts = vec![];
    store.for_each_table_cell("t", |c, n| counts.push(format!("{c}:{n}")));
    assert_eq!(counts, ["b:2", "a:1", "c:1"]);
    // Cell id use is counted: removing the only row using a cell removes it from the table.
    store.del_row("t", "r3");
    assert_eq!(store.get_table_cell_ids("t"), ids(&["b", "a"]));
    assert!(!store.has_table_cell("t", "c"));
    store.del_row("t", "r1");
    assert_eq!(store.get_table_cell_ids("t"), ids(&["b", "a"]));
    assert_eq!(store.get_row_count("t"), 1);
}

#[test]
fn for_each_iterates_in_order() {
    let store = store_with(
        json!({"t": {"r1": {"b": 1, "a": 2}, "r2": {"c": 3}}, "u": {"r": {"x": 1}}}),
        json!({"w": 1, "v": 2}),
    );
    let mut seen = vec![];
    store.for_each_table(|t| seen.push(format!("table {t}")));
    store.for_each_row("t", |r| seen.push(format!("row {r}")));
    store.for_each_cell("t", "r1", |c, v| seen.push(format!("cell {c}={v}")));
    store.for_each_value(|k, v| seen.push(format!("value {k}={v}")));
    store.for_each_row("missing", |r| seen.push(format!("never {r}")));
    store.for_each_cell("t", "missing", |c, _| seen.push(format!("never {c}")));
    assert_eq!(
        seen,
        [
            "table t",
            "table u",
            "row r1",
            "row r2",
            "cell b=1",
            "cell a=2",
            "value w=1",
            "value v=2"
        ]
    );
    // The callback may use the store.
    store.for_each_table(|t| {
        store.del_table(t);
    });
    assert!(!store.has_tables());
}

fn sorted(store: &Store, args: SortedRowIdsArgs) -> Vec<String> {
    store.get_sorted_row_ids(&args)
}

#[test]
fn sorted_row_ids_follow_the_spec_example() {
    let store = store_with(
        json!({"t": {"a": {"n": 3, "m": 1}, "b": {"n": 1}, "c": {"m": 1}, "d": {"n": "x"}, "e": {"n": 2}}}),
        json!({}),
    );
    let t = || SortedRowIdsArgs::new("t");
    assert_eq!(
        sorted(&store, t().cell_id("n")),
        ids(&["c", "b", "e", "a", "d"])
    );
    assert_eq!(
        sorted(&store, t().cell_id("n").descending(true)),
        ids(&["d", "a", "e", "b", "c"])
    );
    assert_eq!(
        sorted(&store, t().cell_id("n").offset(1).limit(2)),
        ids(&["b", "e"])
    );
    assert_eq!(sorted(&store, t().cell_id("n").offset(3)), ids(&["a", "d"]));
    assert_eq!(
        sorted(&store, t().cell_id("n").limit(0)),
        Vec::<String>::new()
    );
    assert_eq!(
        sorted(&store, t().cell_id("n").offset(10).limit(2)),
        Vec::<String>::new()
    );
    // By row id.
    assert_eq!(sorted(&store, t()), ids(&["a", "b", "c", "d", "e"]));
    assert_eq!(
        sorted(&store, t().descending(true)),
        ids(&["e", "d", "c", "b", "a"])
    );
    // A custom sorter gets the decoded keys (None when missing).
    let as_text = |x: Option<&Cell>| match x {
        None => "undefined".to_string(),
        Some(Cell::String(s)) => s.to_string(),
        Some(other) => other.to_string(),
    };
    assert_eq!(
        sorted(
            &store,
            t().cell_id("n")
                .sorter(move |a, b| as_text(a).cmp(&as_text(b)))
        ),
        ids(&["b", "e", "a", "c", "d"])
    );
    // Strings compare by code units; numbers numerically.
    let store = store_with(
        json!({"t": {"a": {"s": "b"}, "b": {"s": "B"}, "c": {"s": "a"}}, "u": {"d": {"s": 10}, "e": {"s": 9}, "f": {"s": -1.5}}}),
        json!({}),
    );
    assert_eq!(
        sorted(&store, SortedRowIdsArgs::new("t").cell_id("s")),
        ids(&["b", "c", "a"])
    );
    assert_eq!(
        sorted(&store, SortedRowIdsArgs::new("u").cell_id("s")),
        ids(&["f", "e", "d"])
    );
}

/// Row `i` of a table mixing numbers, strings, booleans, nulls and missing sort cells, for
/// which JavaScript's `<` is not a consistent order.
fn mixed_table(n: usize) -> Tables {
    let mut table = tinystore_core::Table::new();
    for i in 0..n {
        let k = (i * 37) % 11;
        let r = match k {
            0..=2 => row(json!({"m": 1})),
            3 | 4 => row(json!({"n": format!("s{}", (i * 7) % 5)})),
            5 => row(json!({"n": true})),
            6 => row(json!({"n": null})),
            _ => row(json!({"n": ((i * 13) % 17) as i64 - 5})),
        };
        table.insert(format!("r{i}"), r);
    }
    Tables::from([("t".to_string(), table)])
}

#[test]
fn sorted_row_ids_match_javascript_sort_for_inconsistent_keys() {
    // Expected orders recorded from tinybase 10.0.1 on node (V8's TimSort). Below 64 rows V8
    // sorts by binary insertion only, which the store reproduces exactly.
    let cases = [
        (
            20,
            "0,1,8,16,3,6,7,11,14,17,18,4,15,2,19,10,5,9,12,13",
            "13,12,9,5,10,19,2,15,4,18,17,14,11,7,6,3,16,8,1,0",
        ),
        (
            63,
            "0,1,21,38,8,46,16,3,6,7,11,14,17,18,22,25,28,29,33,36,39,40,44,47,50,51,54,55,58,61,62,4,15,24,26,2,19,10,5,20,45,23,31,9,12,37,41,48,59,32,49,57,27,35,60,13,30,53,56,34,42,52,43",
            "42,34,30,13,60,43,52,35,27,57,49,59,48,41,37,40,12,9,56,31,53,23,45,20,5,10,19,2,32,26,24,15,4,62,61,58,55,54,51,50,47,44,39,36,33,29,28,25,22,18,17,14,11,7,6,3,16,46,8,38,21,1,0",
        ),
    ];
    for (n, asc, desc) in cases {
        let store = Store::new();
        store.set_tables(&mixed_table(n));
        let strip = |v: Vec<String>| {
            v.iter()
                .map(|r| r[1..].to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        let args = SortedRowIdsArgs::new("t").cell_id("n");
        assert_eq!(
            strip(store.get_sorted_row_ids(&args)),
            asc,
            "ascending, {n} rows"
        );
        let args = args.descending(true);
        assert_eq!(
            strip(store.get_sorted_row_ids(&args)),
            desc,
            "descending, {n} rows"
        );
    }
}

#[test]
fn add_row_generates_ids_as_in_the_spec() {
    let store = Store::new();
    let r = row(json!({"a": 1}));
    assert_eq!(store.add_row("t", &r, true).as_deref(), Some("0"));
    assert_eq!(store.add_row("t", &r, true).as_deref(), Some("1"));
    store.set_row("t", "5", &r);
    assert_eq!(store.add_row("t", &r, true).as_deref(), Some("2"));
    store.del_row("t", "0");
    assert_eq!(store.add_row("t", &r, true).as_deref(), Some("0"));
    assert_eq!(store.add_row("t", &r, true).as_deref(), Some("3"));
    // Without reuse the counter continues; the pool is kept for later.
    store.del_row("t", "1");
    assert_eq!(store.add_row("t", &r, false).as_deref(), Some("4"));
    assert_eq!(store.add_row("t", &r, true).as_deref(), Some("1"));
    assert_eq!(store.get_row_ids("t"), ids(&["5", "2", "0", "3", "4", "1"]));
    // Counter skips ids already present.
    store.set_row("t", "6", &r);
    assert_eq!(store.add_row("t", &r, true).as_deref(), Some("7"));
    // Non-numeric deleted ids are not pooled.
    store.set_row("t", "x", &r);
    store.del_row("t", "x");
    assert_eq!(store.add_row("t", &r, true).as_deref(), Some("8"));
    // Pool is FIFO.
    store.del_row("t", "3").del_row("t", "2");
    assert_eq!(store.add_row("t", &r, true).as_deref(), Some("3"));
    assert_eq!(store.add_row("t", &r, true).as_deref(), Some("2"));
    // Dropped with the table.
    store.del_row("t", "0");
    store.del_table("t");
    assert_eq!(store.add_row("t", &r, true).as_deref(), Some("0"));
    assert_eq!(store.add_row("t", &r, true).as_deref(), Some("1"));
    // Per table.
    assert_eq!(store.add_row("u", &r, true).as_deref(), Some("0"));
}

#[test]
fn set_partial_row_and_values_merge_and_apply_changes_deletes() {
    let store = store_with(
        json!({"t": {"r": {"a": 1, "b": 2}}}),
        json!({"v": 1, "w": 2}),
    );
    store.set_partial_row("t", "r", &row(json!({"b": 3, "c": 4})));
    store.set_partial_values(&values(json!({"w": 3, "x": 4})));
    assert_eq!(
        store.get_json(),
        r#"[{"t":{"r":{"a":1,"b":3,"c":4}}},{"v":1,"w":3,"x":4}]"#
    );
    let changes = Changes::from_json(
        &json!([{"t": {"r": {"a": null, "c": 5}}, "u": {"r": {"z": 1}}}, {"v": null, "y": 1}, 1]),
    )
    .unwrap();
    store.apply_changes(&changes);
    assert_eq!(
        store.get_json(),
        r#"[{"t":{"r":{"b":3,"c":5}},"u":{"r":{"z":1}}},{"w":3,"x":4,"y":1}]"#
    );
    let changes = Changes::from_json(&json!([{"t": null, "u": {"r": null}}, {}, 1])).unwrap();
    store.apply_changes(&changes);
    assert_eq!(store.get_json(), r#"[{},{"w":3,"x":4,"y":1}]"#);
    // set_partial_row with nothing valid is a no-op.
    store.set_partial_row(
        "t",
        "r",
        &Row::from([("a".to_string(), Cell::Number(f64::NAN))]),
    );
    assert!(!store.has_tables());
}

#[test]
fn full_setters_replace_at_their_level() {
    let store = store_with(
        json!({"t": {"r": {"a": 1, "b": 2}, "s": {"a": 1}}, "u": {"r": {"a": 1}}}),
        json!({"v": 1, "w": 2}),
    );
    store.set_row("t", "r", &row(json!({"b": 5, "c": 6})));
    assert_eq!(store.get_cell_ids("t", "r"), ids(&["b", "c"]));
    store.set_table(
        "t",
        &table_from_json(&json!({"s": {"z": 1}}), false).unwrap(),
    );
    assert_eq!(
        store.get_tables_json(),
        r#"{"t":{"s":{"z":1}},"u":{"r":{"a":1}}}"#
    );
    store.set_tables(&tables(json!({"u": {"q": {"a": 2}}})));
    assert_eq!(store.get_tables_json(), r#"{"u":{"q":{"a":2}}}"#);
    store.set_values(&values(json!({"x": 1})));
    assert_eq!(store.get_values_json(), r#"{"x":1}"#);
    // set_content: an empty part deletes everything in it.
    store.set_content(&tables(json!({"n": {"r": {"c": 1}}})), &Values::new());
    assert_eq!(store.get_json(), r#"[{"n":{"r":{"c":1}}},{}]"#);
    store.set_content(&Tables::new(), &values(json!({"v": 1})));
    assert_eq!(store.get_json(), r#"[{},{"v":1}]"#);
    store.set_value_with("v", |old| {
        Cell::Number(old.and_then(Cell::as_f64).unwrap() + 1.0)
    });
    store.set_cell_with("t", "r", "c", |old| {
        assert_eq!(old, None);
        Cell::from("first")
    });
    assert_eq!(store.get_json(), r#"[{"t":{"r":{"c":"first"}}},{"v":2}]"#);
}

#[test]
fn json_getters_are_byte_exact_with_js_key_order() {
    let store = Store::new();
    store
        .set_cell("t", "b", "x", 1)
        .set_cell("t", "b", "10", 2)
        .set_cell("t", "b", "2", 3)
        .set_cell("t", "10", "a", 1)
        .set_cell("t", "2", "a", 1)
        .set_cell("5", "r", "c", 1)
        .set_value("z", 1)
        .set_value("3", 2);
    assert_eq!(
        store.get_json(),
        r#"[{"5":{"r":{"c":1}},"t":{"2":{"a":1},"10":{"a":1},"b":{"2":3,"10":2,"x":1}}},{"3":2,"z":1}]"#
    );
    assert_eq!(
        store.get_tables_json(),
        r#"{"5":{"r":{"c":1}},"t":{"2":{"a":1},"10":{"a":1},"b":{"2":3,"10":2,"x":1}}}"#
    );
    assert_eq!(store.get_values_json(), r#"{"3":2,"z":1}"#);
    // Id getters keep insertion order.
    assert_eq!(store.get_row_ids("t"), ids(&["b", "10", "2"]));
    assert_eq!(store.get_table_ids(), ids(&["t", "5"]));
    assert_eq!(store.get_cell_ids("t", "b"), ids(&["x", "10", "2"]));
    assert_eq!(store.get_value_ids(), ids(&["z", "3"]));
    assert_eq!(store.get_table_cell_ids("t"), ids(&["x", "10", "2", "a"]));
    // Numbers print as JavaScript does; strings are escaped as JSON.stringify does.
    let store = Store::new();
    store
        .set_cell("t", "r", "a", 1e21)
        .set_cell("t", "r", "b", 0.1)
        .set_cell("t", "r", "c", -0.0)
        .set_cell("t", "r", "d", "q\"\n\u{1}é");
    assert_eq!(
        store.get_tables_json(),
        "{\"t\":{\"r\":{\"a\":1e+21,\"b\":0.1,\"c\":0,\"d\":\"q\\\"\\n\\u0001é\"}}}"
    );
}

#[test]
fn set_json_variants() {
    let store = Store::new();
    store
        .set_json(r#"[{"t":{"r":{"a":1}}},{"v":true}]"#)
        .unwrap();
    assert_eq!(store.get_json(), r#"[{"t":{"r":{"a":1}}},{"v":true}]"#);
    // Replaces.
    store.set_json(r#"[{"u":{"r":{"b":2}}},{"w":1}]"#).unwrap();
    assert_eq!(store.get_json(), r#"[{"u":{"r":{"b":2}}},{"w":1}]"#);
    // Malformed JSON: error, store untouched.
    let before = store.get_json();
    assert!(store.set_json(r#"[{"t":"#).is_err());
    assert!(store.set_json("nope").is_err());
    assert!(store.set_tables_json("{").is_err());
    assert!(store.set_values_json("[1").is_err());
    assert_eq!(store.get_json(), before);
    // Tables-only fallback.
    store.set_json(r#"{"x":{"r":{"c":1}}}"#).unwrap();
    assert_eq!(store.get_json(), r#"[{"x":{"r":{"c":1}}},{"w":1}]"#);
    store.set_tables_json(r#"{"y":{"r":{"c":2}}}"#).unwrap();
    store.set_values_json(r#"{"k":"\uFFFD[1,2]"}"#).unwrap();
    assert_eq!(
        store.get_json(),
        "[{\"y\":{\"r\":{\"c\":2}}},{\"k\":\"\u{FFFD}[1,2]\"}]"
    );
    assert_eq!(store.get_value("k"), Some(Cell::Array("[1,2]".into())));
    // "{}" deletes all.
    store.set_values_json("{}").unwrap();
    assert_eq!(store.get_json(), r#"[{"y":{"r":{"c":2}}},{}]"#);
    store.set_tables_json("{}").unwrap();
    assert_eq!(store.get_json(), "[{},{}]");
    store.set_json(r#"[{"t":{"r":{"a":1}}},{"v":1}]"#).unwrap();
    store.set_json("[{},{}]").unwrap();
    assert_eq!(store.get_json(), "[{},{}]");
    // Round trip of everything through JSON.
    let a = Store::new();
    a.set_cell("t", "r", "o", json!({"b": [1, {"c": null}]}))
        .set_cell("t", "2", "n", Cell::Null)
        .set_value("1", "x");
    let b = Store::new();
    b.set_json(&a.get_json()).unwrap();
    assert_eq!(b.get_json(), a.get_json());
    assert_eq!(b.get_cell("t", "r", "o"), a.get_cell("t", "r", "o"));
}

#[test]
fn deleting_absent_things_is_a_no_op() {
    let store = store_with(json!({"t": {"r": {"c": 1}}}), json!({"v": 1}));
    let log = new_log();
    let l = log.clone();
    store.add_cell_listener(
        None,
        None,
        None,
        move |_, _, _, _, _, _| push(&l, "cell"),
        false,
    );
    let l = log.clone();
    store.add_table_ids_listener(move |_, _| push(&l, "tableIds"), false);
    let l = log.clone();
    store.add_value_ids_listener(move |_, _| push(&l, "valueIds"), false);
    let l = log.clone();
    store.add_row_ids_listener(None, move |_, _, _| push(&l, "rowIds"), false);
    store
        .del_table("x")
        .del_row("t", "x")
        .del_row("x", "r")
        .del_cell("t", "r", "x", false)
        .del_cell("t", "x", "c", true)
        .del_cell("x", "r", "c", false)
        .del_value("x");
    let empty = Store::new();
    empty.del_tables().del_values();
    assert_eq!(empty.get_json(), "[{},{}]");
    assert!(take(&log).is_empty());
    assert_eq!(store.get_json(), r#"[{"t":{"r":{"c":1}}},{"v":1}]"#);
    store.del_tables().del_values();
    assert_eq!(take(&log), ["tableIds", "rowIds", "cell", "valueIds"]);
    assert_eq!(store.get_json(), "[{},{}]");
}

// ======================================================================== transactions

#[test]
fn nested_transactions_join_the_outer_one() {
    let store = Store::new();
    let log = new_log();
    let l = log.clone();
    store.add_start_transaction_listener(move |_| push(&l, "start"));
    let l = log.clone();
    store.add_cell_listener(
        None,
        None,
        None,
        move |_, t, r, cid, new, old| push(&l, format!("cell {t}/{r}/{cid} {} {}", c(new), c(old))),
        false,
    );
    let l = log.clone();
    store.add_did_finish_transaction_listener(move |_| push(&l, "did"));
    let result = store.transaction(|s| {
        s.set_cell("t", "r", "a", 1);
        let inner = s.transaction(|s| {
            s.set_cell("t", "r", "a", 2);
            s.set_cell("t", "r", "b", 3);
            assert!(s.is_in_transaction());
            "inner"
        });
        s.set_cell("t", "r", "b", 4);
        inner.len()
    });
    assert_eq!(result, 5);
    assert!(!store.is_in_transaction());
    assert_eq!(
        take(&log),
        ["start", "cell t/r/a 2 U", "cell t/r/b 4 U", "did"]
    );
}

#[test]
fn explicit_start_and_finish_count_nesting() {
    let store = Store::new();
    let log = new_log();
    let l = log.clone();
    store.add_start_transaction_listener(move |_| push(&l, "start"));
    let l = log.clone();
    store.add_will_finish_transaction_listener(move |_| push(&l, "will"));
    let l = log.clone();
    store.add_did_finish_transaction_listener(move |_| push(&l, "did"));
    let l = log.clone();
    store.add_row_listener(
        None,
        None,
        move |_, t, r| push(&l, format!("row {t}/{r}")),
        false,
    );
    store.start_transaction().start_transaction();
    store.set_cell("t", "r", "c", 2);
    store.finish_transaction();
    assert_eq!(store.get_cell("t", "r", "c"), Some(Cell::Number(2.0)));
    assert!(store.is_in_transaction());
    assert_eq!(take(&log), ["start"]);
    store.finish_transaction();
    assert!(!store.is_in_transaction());
    assert_eq!(take(&log), ["will", "row t/r", "did"]);
    // Explicit rollback.
    store.start_transaction();
    store.set_cell("t", "r", "c", 3).set_cell("t", "s", "c", 1);
    store.finish_transaction_with_rollback(|s| s.get_cell("t", "r", "c") == Some(Cell::from(3)));
    assert_eq!(store.get_json(), r#"[{"t":{"r":{"c":2}}},{}]"#);
    assert_eq!(take(&log), ["start", "will", "did"]);
    // A stray finish is ignored.
    store.finish_transaction();
    assert!(take(&log).is_empty());
}

#[test]
fn rollback_restores_content_order_and_schemas() {
    let store = store_with(
        json!({"t": {"a": {"x": 1, "y": 2, "z": 3}, "b": {"x": 1}, "c": {"x": 1}}, "u": {"r": {"q": 1}}, "w": {"r": {"q": 1}}}),
        json!({"v1": 1, "v2": 2, "v3": 3}),
    );
    let before_json = store.get_json();
    let before_orders = all_orders(&store);
    let log = new_log();
    let l = log.clone();
    store.add_cell_listener(
        None,
        None,
        None,
        move |_, _, _, _, _, _| push(&l, "cell"),
        false,
    );
    let l = log.clone();
    store.add_did_finish_transaction_listener(move |_| push(&l, "did"));
    let r = store.transaction_with_rollback(
        |s| {
            s.del_row("t", "b");
            s.del_cell("t", "a", "y", false);
            s.set_cell("t", "a", "y", 9);
            s.del_table("u");
            s.set_cell("u", "r", "q", 1);
            s.set_cell("n", "r", "c", 1);
            s.del_value("v2");
            s.set_value("v2", 2);
            s.set_value("v0", 0);
            s.set_tables_schema_json(r#"{"t":{"x":{"type":"number"}}}"#)
                .unwrap();
            s.set_values_schema_json(r#"{"v1":{"type":"number"}}"#)
                .unwrap();
            7
        },
        |s| {
            assert_eq!(s.get_row_ids("t"), ids(&["a", "c"]));
            true
        },
    );
    assert_eq!(r, 7);
    assert_eq!(store.get_json(), before_json);
    assert_eq!(all_orders(&store), before_orders);
    assert!(!store.has_tables_schema());
    assert!(!store.has_values_schema());
    assert_eq!(take(&log), ["did"], "no change listeners after a rollback");
    // A rollback also restores a schema that was deleted.
    store
        .set_tables_schema_json(r#"{"t":{"x":{"type":"number"}}}"#)
        .unwrap();
    let schema = store.get_tables_schema_json();
    store.transaction_with_rollback(
        |s| {
            s.del_tables_schema();
            s.set_cell("z", "r", "c", 1);
        },
        |_| true,
    );
    assert_eq!(store.get_tables_schema_json(), schema);
    assert!(!store.has_table("z"));
    // false keeps everything.
    store.transaction_with_rollback(
        |s| {
            s.del_row("t", "c");
        },
        |_| false,
    );
    assert_eq!(store.get_row_ids("t"), ids(&["a", "b"]));
}

#[test]
fn a_panic_in_actions_rolls_back_and_is_resumed() {
    let store = store_with(
        json!({"t": {"a": {"x": 1}, "b": {"x": 2}}}),
        json!({"v": 1}),
    );
    let before = store.get_json();
    let log = new_log();
    let l = log.clone();
    store.add_did_finish_transaction_listener(move |_| push(&l, "did"));
    let l = log.clone();
    store.add_row_listener(None, None, move |_, _, _| push(&l, "row"), false);
    let result = catch_unwind(AssertUnwindSafe(|| {
        store.transaction(|s| {
            s.del_row("t", "a");
            s.set_value("v", 2);
            s.set_cell("t", "c", "x", 3);
            panic!("boom");
        })
    }));
    let err = result.unwrap_err();
    assert_eq!(err.downcast_ref::<&str>(), Some(&"boom"));
    assert_eq!(store.get_json(), before);
    assert_eq!(store.get_row_ids("t"), ids(&["a", "b"]));
    assert!(!store.is_in_transaction());
    assert_eq!(take(&log), ["did"]);
    // The store is fully usable afterwards.
    store.set_cell("t", "a", "x", 5);
    assert_eq!(take(&log), ["row", "did"]);
}

#[test]
fn try_transaction_rolls_back_on_err() {
    let store = store_with(json!({"t": {"r": {"c": 1}}}), json!({}));
    let r: Result<i32, String> = store.try_transaction(|s| {
        s.set_cell("t", "r", "c", 2).del_row("t", "r");
        Err("no".to_string())
    });
    assert_eq!(r, Err("no".to_string()));
    assert_eq!(store.get_json(), r#"[{"t":{"r":{"c":1}}},{}]"#);
    let r: Result<i32, String> = store.try_transaction(|s| {
        s.set_cell("t", "r", "c", 2);
        Ok(1)
    });
    assert_eq!(r, Ok(1));
    assert_eq!(store.get_cell("t", "r", "c"), Some(Cell::Number(2.0)));
}

#[test]
fn transaction_changes_are_net() {
    let store = store_with(
        json!({"t": {"r1": {"a": 1, "b": 2}, "r2": {"a": 1}}, "u": {"r": {"x": 1}}, "k": {"r": {"a": 1, "b": 2}}}),
        json!({"v": 1, "w": 2}),
    );
    let seen: Arc<Mutex<Option<Changes>>> = Arc::default();
    let s2 = seen.clone();
    store.add_did_finish_transaction_listener(move |s| {
        *s2.lock().unwrap() = Some(s.get_transaction_changes());
    });
    store.transaction(|s| {
        s.set_cell("t", "r1", "a", 5);
        s.set_cell("t", "r1", "b", 3);
        s.set_cell("t", "r1", "b", 2);
        s.del_row("t", "r2");
        s.del_table("u");
        s.del_row("k", "r");
        s.set_cell("k", "r", "a", 3);
        s.set_value("v", 9);
        s.del_value("w");
        s.set_value("n", 1);
        s.del_value("n");
        s.set_cell("t", "r3", "q", f64::NAN);
        let changes = s.get_transaction_changes();
        assert_eq!(
            changes.to_json(),
            json!([
                {"t": {"r1": {"a": 5}, "r2": null}, "u": null, "k": {"r": {"a": 3, "b": null}}},
                {"v": 9, "w": null},
                1
            ])
        );
        assert_eq!(changes.tables["u"], None);
        assert_eq!(changes.tables["t"].as_ref().unwrap()["r2"], None);
        assert_eq!(changes.values["w"], None);
    });
    let after = seen.lock().unwrap().take().unwrap();
    assert_eq!(after.values["v"], Some(Cell::Number(9.0)));
    // Outside a transaction there are no changes.
    assert_eq!(store.get_transaction_changes(), Changes::default());
    // Everything changed back: empty.
    store.transaction(|s| {
        s.set_cell("t", "r1", "a", 6);
        s.set_cell("t", "r1", "a", 5);
        s.set_value("v", 1);
        s.set_value("v", 9);
        assert_eq!(s.get_transaction_changes(), Changes::default());
    });
}

#[test]
fn transaction_log_contents() {
    let store = store_with(
        json!({"t": {"r1": {"a": 1, "b": 2}, "r2": {"a": 1}}, "u": {"r": {"x": 1}}}),
        json!({"v": 1, "w": 2}),
    );
    let log: Arc<Mutex<Option<TransactionLog>>> = Arc::default();
    let l = log.clone();
    store.add_did_finish_transaction_listener(move |s| {
        *l.lock().unwrap() = Some(s.get_transaction_log());
    });
    store.transaction(|s| {
        s.set_cell("t", "r1", "a", 5);
        s.del_row("t", "r2");
        s.del_table("u");
        s.set_value("v", 9);
        s.del_value("w");
        s.set_cell("t", "r3", "q", f64::NAN);
        s.set_value("bad", f64::INFINITY);
    });
    let got = log.lock().unwrap().take().unwrap();
    assert!(got.cells_touched);
    assert!(got.values_touched);
    let n = |x: f64| Some(Cell::Number(x));
    assert_eq!(got.changed_cells["t"]["r1"]["a"], (n(1.0), n(5.0)));
    assert_eq!(got.changed_cells["t"]["r2"]["a"], (n(1.0), None));
    assert_eq!(got.changed_cells["u"]["r"]["x"], (n(1.0), None));
    assert!(!got.changed_cells["t"]["r1"].contains_key("b"));
    assert_eq!(got.changed_values["v"], (n(1.0), n(9.0)));
    assert_eq!(got.changed_values["w"], (n(2.0), None));
    assert_eq!(got.invalid_cells.len(), 1);
    let (t, r, cid, cells) = &got.invalid_cells[0];
    assert_eq!(
        (t.as_deref(), r.as_deref(), cid.as_deref()),
        (Some("t"), Some("r3"), Some("q"))
    );
    assert!(matches!(cells[..], [Some(Cell::Number(x))] if x.is_nan()));
    assert_eq!(got.invalid_values.len(), 1);
    assert_eq!(got.invalid_values[0].0.as_deref(), Some("bad"));
    assert_eq!(
        got.changed_table_ids.iter().collect::<Vec<_>>(),
        [(&"u".to_string(), &-1)]
    );
    assert_eq!(got.changed_row_ids["t"]["r2"], -1);
    assert_eq!(got.changed_row_ids["u"]["r"], -1);
    assert!(!got.changed_row_ids["t"].contains_key("r1"));
    assert_eq!(got.changed_cell_ids["t"]["r2"]["a"], -1);
    assert_eq!(got.changed_cell_ids["u"]["r"]["x"], -1);
    assert_eq!(
        got.changed_value_ids.iter().collect::<Vec<_>>(),
        [(&"w".to_string(), &-1)]
    );
    // Added ids.
    store.transaction(|s| {
        s.set_cell("n", "r", "c", 1).set_value("nv", 1);
    });
    let got = log.lock().unwrap().take().unwrap();
    assert_eq!(got.changed_table_ids["n"], 1);
    assert_eq!(got.changed_row_ids["n"]["r"], 1);
    assert_eq!(got.changed_cell_ids["n"]["r"]["c"], 1);
    assert_eq!(got.changed_value_ids["nv"], 1);
    assert_eq!(got.changed_cells["n"]["r"]["c"], (None, n(1.0)));
    // Changed back: touched but nothing changed.
    store.transaction(|s| {
        s.set_cell("n", "r", "c", 2).set_cell("n", "r", "c", 1);
    });
    let got = log.lock().unwrap().take().unwrap();
    assert!(got.cells_touched);
    assert!(!got.values_touched);
    assert!(got.changed_cells.is_empty(), "{:?}", got.changed_cells);
    assert!(
        got.changed_cell_ids.is_empty(),
        "{:?}",
        got.changed_cell_ids
    );
    store.transaction(|s| {
        s.set_value("nv", 2).set_value("nv", 1);
    });
    let got = log.lock().unwrap().take().unwrap();
    assert!(!got.cells_touched);
    assert!(got.values_touched);
    assert!(got.changed_values.is_empty(), "{:?}", got.changed_values);
    assert!(got.changed_value_ids.is_empty());
}

#[test]
fn start_listeners_fire_only_for_the_outermost_and_for_empty_transactions() {
    let store = Store::new();
    let log = new_log();
    let l = log.clone();
    store.add_start_transaction_listener(move |s| {
        assert!(s.is_in_transaction());
        push(&l, "start")
    });
    let l = log.clone();
    store.add_will_finish_transaction_listener(move |_| push(&l, "will"));
    let l = log.clone();
    store.add_did_finish_transaction_listener(move |_| push(&l, "did"));
    store.transaction(|s| {
        s.transaction(|s| {
            s.set_cell("t", "r", "c", 1);
        });
    });
    assert_eq!(take(&log), ["start", "will", "did"]);
    store.transaction(|_| {});
    assert_eq!(take(&log), ["start", "will", "did"]);
    store.del_table("absent");
    assert_eq!(take(&log), ["start", "will", "did"]);
    store.set_cell("t", "r", "c", 1);
    assert_eq!(take(&log), ["start", "will", "did"]);
    assert_eq!(store.get_listener_stats().transaction, 3);
}

// ======================================================================== §4 listeners

/// Registers one listener of every kind, specific (`*_s`) and wildcard (`*_w`).
fn register_all(store: &Store, log: &Log, t: &str, r: &str, cid: &str, v: &str) {
    macro_rules! g {
        () => {
            log.clone()
        };
    }
    let l = g!();
    store.add_has_tables_listener(move |_, b| push(&l, format!("HasTables {b}")), false);
    let l = g!();
    store.add_tables_listener(move |_| push(&l, "Tables"), false);
    let l = g!();
    store.add_table_ids_listener(
        move |_, x| push(&l, format!("TableIds {}", id_changes(x))),
        false,
    );
    for (spec, name) in [(Some(t), "s"), (None, "w")] {
        let l = g!();
        store.add_has_table_listener(
            spec,
            move |_, t, b| push(&l, format!("HasTable_{name} {t} {b}")),
            false,
        );
        let l = g!();
        store.add_table_listener(
            spec,
            move |_, t| push(&l, format!("Table_{name} {t}")),
            false,
        );
        let l = g!();
        store.add_table_cell_ids_listener(
            spec,
            move |_, t, x| push(&l, format!("TableCellIds_{name} {t} {}", id_changes(x))),
            false,
        );
        let l = g!();
        store.add_row_count_listener(
            spec,
            move |_, t, n| push(&l, format!("RowCount_{name} {t} {n}")),
            false,
        );
        let l = g!();
        store.add_row_ids_listener(
            spec,
            move |_, t, x| push(&l, format!("RowIds_{name} {t} {}", id_changes(x))),
            false,
        );
    }
    for (st, sc, name) in [(Some(t), Some(cid), "s"), (None, None, "w")] {
        let l = g!();
        store.add_has_table_cell_listener(
            st,
            sc,
            move |_, t, c, b| push(&l, format!("HasTableCell_{name} {t} {c} {b}")),
            false,
        );
    }
    for (st, sr, name) in [(Some(t), Some(r), "s"), (None, None, "w")] {
        let l = g!();
        store.add_has_row_listener(
            st,
            sr,
            move |_, t, r, b| push(&l, format!("HasRow_{name} {t} {r} {b}")),
            false,
        );
        let l = g!();
        store.add_row_listener(
            st,
            sr,
            move |_, t, r| push(&l, format!("Row_{name} {t} {r}")),
            false,
        );
        let l = g!();
        store.add_cell_ids_listener(
            st,
            sr,
            move |_, t, r, x| push(&l, format!("CellIds_{name} {t} {r} {}", id_changes(x))),
            false,
        );
    }
    for (st, sr, sc, name) in [(Some(t), Some(r), Some(cid), "s"), (None, None, None, "w")] {
        let l = g!();
        store.add_has_cell_listener(
            st,
            sr,
            sc,
            move |_, t, r, cc, b| push(&l, format!("HasCell_{name} {t} {r} {cc} {b}")),
            false,
        );
        let l = g!();
        store.add_cell_listener(
            st,
            sr,
            sc,
            move |_, t, r, cc, new, old| {
                push(
                    &l,
                    format!("Cell_{name} {t} {r} {cc} {} {}", c(new), c(old)),
                )
            },
            false,
        );
        let l = g!();
        store.add_invalid_cell_listener(
            st,
            sr,
            sc,
            move |_, t, r, cc, x| {
                push(
                    &l,
                    format!(
                        "InvalidCell_{name} {} {} {} {}",
                        opt_id(t),
                        opt_id(r),
                        opt_id(cc),
                        invalid(x)
                    ),
                )
            },
            false,
        );
    }
    let l = g!();
    store.add_has_values_listener(move |_, b| push(&l, format!("HasValues {b}")), false);
    let l = g!();
    store.add_values_listener(move |_| push(&l, "Values"), false);
    let l = g!();
    store.add_value_ids_listener(
        move |_, x| push(&l, format!("ValueIds {}", id_changes(x))),
        false,
    );
    for (sv, name) in [(Some(v), "s"), (None, "w")] {
        let l = g!();
        store.add_has_value_listener(
            sv,
            move |_, v, b| push(&l, format!("HasValue_{name} {v} {b}")),
            false,
        );
        let l = g!();
        store.add_value_listener(
            sv,
            move |_, v, new, old| push(&l, format!("Value_{name} {v} {} {}", c(new), c(old))),
            false,
        );
        let l = g!();
        store.add_invalid_value_listener(
            sv,
            move |_, v, x| {
                push(
                    &l,
                    format!("InvalidValue_{name} {} {}", opt_id(v), invalid(x)),
                )
            },
            false,
        );
    }
}

#[test]
fn every_listener_kind_fires_with_specific_ids_before_wildcards() {
    let store = Store::new();
    let log = new_log();
    register_all(&store, &log, "t", "r", "c", "v");
    store.set_cell("t", "r", "c", 1);
    assert_eq!(
        take(&log),
        [
            "HasTables true",
            "TableIds t:1",
            "HasTable_s t true",
            "HasTable_w t true",
            "TableCellIds_s t c:1",
            "TableCellIds_w t c:1",
            "HasTableCell_s t c true",
            "HasTableCell_w t c true",
            "RowCount_s t 1",
            "RowCount_w t 1",
            "RowIds_s t r:1",
            "RowIds_w t r:1",
            "HasRow_s t r true",
            "HasRow_w t r true",
            "CellIds_s t r c:1",
            "CellIds_w t r c:1",
            "HasCell_s t r c true",
            "HasCell_w t r c true",
            "Cell_s t r c 1 U",
            "Cell_w t r c 1 U",
            "Row_s t r",
            "Row_w t r",
            "Table_s t",
            "Table_w t",
            "Tables",
        ]
    );
    // A change elsewhere reaches only the wildcards.
    store.set_cell("t", "r2", "d", 2);
    assert_eq!(
        take(&log),
        [
            "TableCellIds_s t d:1",
            "TableCellIds_w t d:1",
            "HasTableCell_w t d true",
            "RowCount_s t 2",
            "RowCount_w t 2",
            "RowIds_s t r2:1",
            "RowIds_w t r2:1",
            "HasRow_w t r2 true",
            "CellIds_w t r2 d:1",
            "HasCell_w t r2 d true",
            "Cell_w t r2 d 2 U",
            "Row_w t r2",
            "Table_s t",
            "Table_w t",
            "Tables",
        ]
    );
    // Changing an existing cell: no id or has listeners.
    store.set_cell("t", "r", "c", 5);
    assert_eq!(
        take(&log),
        [
            "Cell_s t r c 5 1",
            "Cell_w t r c 5 1",
            "Row_s t r",
            "Row_w t r",
            "Table_s t",
            "Table_w t",
            "Tables"
        ]
    );
    // Invalid cells.
    store.set_cell("t", "r", "c", f64::NAN);
    store.set_cell("x", "y", "z", f64::INFINITY);
    assert_eq!(
        take(&log),
        [
            "InvalidCell_s t r c [NaN]",
            "InvalidCell_w t r c [NaN]",
            "InvalidCell_w x y z [inf]"
        ]
    );
    // Values.
    store.set_value("v", 1);
    assert_eq!(
        take(&log),
        [
            "HasValues true",
            "ValueIds v:1",
            "HasValue_s v true",
            "HasValue_w v true",
            "Value_s v 1 U",
            "Value_w v 1 U",
            "Values"
        ]
    );
    store.set_value("w", "x").set_value("v", f64::NAN);
    assert_eq!(
        take(&log),
        [
            "ValueIds w:1",
            "HasValue_w w true",
            "Value_w w \"x\" U",
            "Values",
            "InvalidValue_s v [NaN]",
            "InvalidValue_w v [NaN]"
        ]
    );
    store.del_values();
    assert_eq!(
        take(&log),
        [
            "HasValues false",
            "ValueIds v:-1,w:-1",
            "HasValue_s v false",
            "HasValue_w v false",
            "HasValue_w w false",
            "Value_s v U 1",
            "Value_w v U 1",
            "Value_w w U \"x\"",
            "Values"
        ]
    );
    // Deleting everything.
    store.del_tables();
    assert_eq!(
        take(&log),
        [
            "HasTables false",
            "TableIds t:-1",
            "HasTable_s t false",
            "HasTable_w t false",
            "TableCellIds_s t c:-1,d:-1",
            "TableCellIds_w t c:-1,d:-1",
            "HasTableCell_s t c false",
            "HasTableCell_w t c false",
            "HasTableCell_w t d false",
            "RowCount_s t 0",
            "RowCount_w t 0",
            "RowIds_s t r:-1,r2:-1",
            "RowIds_w t r:-1,r2:-1",
            "HasRow_s t r false",
            "HasRow_w t r false",
            "HasRow_w t r2 false",
            "CellIds_s t r c:-1",
            "CellIds_w t r c:-1",
            "HasCell_s t r c false",
            "HasCell_w t r c false",
            "CellIds_w t r2 d:-1",
            "HasCell_w t r2 d false",
            "Cell_s t r c U 5",
            "Cell_w t r c U 5",
            "Row_s t r",
            "Row_w t r",
            "Cell_w t r2 d U 2",
            "Row_w t r2",
            "Table_s t",
            "Table_w t",
            "Tables",
        ]
    );
}

#[test]
fn has_listeners_fire_only_on_flips() {
    let store = Store::new();
    let log = new_log();
    let l = log.clone();
    store.add_has_tables_listener(move |_, b| push(&l, format!("tables {b}")), false);
    let l = log.clone();
    store.add_has_row_listener(
        None,
        None,
        move |_, t, r, b| push(&l, format!("row {t}/{r} {b}")),
        false,
    );
    let l = log.clone();
    store.add_has_value_listener(
        None,
        move |_, v, b| push(&l, format!("value {v} {b}")),
        false,
    );
    store.set_cell("t", "r", "a", 1);
    store.set_cell("t", "r", "b", 1);
    store.set_cell("t", "r", "a", 2);
    store.del_cell("t", "r", "a", false);
    store.set_value("v", 1).set_value("v", 2);
    assert_eq!(take(&log), ["tables true", "row t/r true", "value v true"]);
    // Deleted and re-added within one transaction: no flip.
    store.transaction(|s| {
        s.del_tables();
        s.set_cell("t", "r", "z", 1);
        s.del_value("v");
        s.set_value("v", 3);
    });
    assert!(take(&log).is_empty());
    store.del_row("t", "r");
    assert_eq!(take(&log), ["tables false", "row t/r false"]);
}

#[test]
fn sorted_row_ids_listener_fires_only_when_the_slice_changes() {
    let store = Store::new();
    let log = new_log();
    let l = log.clone();
    store.add_sorted_row_ids_listener(
        SortedRowIdsArgs::new("t").cell_id("n").limit(2),
        move |_, args, x| {
            push(
                &l,
                format!(
                    "{} {:?} {} {} {:?} {}",
                    args.table_id,
                    args.cell_id,
                    args.descending,
                    args.offset,
                    args.limit,
                    x.join(",")
                ),
            )
        },
        false,
    );
    store.set_tables(&tables(
        json!({"t": {"a": {"n": 3}, "b": {"n": 1}, "e": {"n": 2}}}),
    ));
    assert_eq!(take(&log), ["t Some(\"n\") false 0 Some(2) b,e"]);
    store.set_cell("t", "a", "n", 4); // a stays outside the slice
    store.set_cell("t", "a", "x", 4); // not the sort column
    store.set_cell("t", "b", "n", 0); // order unchanged
    store.set_cell("t", "f", "n", 10); // new row outside the slice
    store.set_cell("u", "g", "n", -1); // another table
    assert!(take(&log).is_empty());
    store.set_cell("t", "g", "n", -1);
    assert_eq!(take(&log), ["t Some(\"n\") false 0 Some(2) g,b"]);
    store.set_cell("t", "b", "n", 9); // moves out of the slice
    assert_eq!(take(&log), ["t Some(\"n\") false 0 Some(2) g,e"]);
    store.del_row("t", "a");
    assert!(take(&log).is_empty());
    store.del_table("t");
    assert_eq!(take(&log), ["t Some(\"n\") false 0 Some(2) "]);
}

#[test]
fn listeners_fire_once_per_transaction_with_net_changes() {
    let store = store_with(json!({"t": {"r": {"c": 1}}}), json!({"v": 1}));
    let log = new_log();
    let l = log.clone();
    store.add_cell_listener(
        None,
        None,
        None,
        move |_, t, r, cid, new, old| push(&l, format!("cell {t}/{r}/{cid} {} {}", c(new), c(old))),
        false,
    );
    let l = log.clone();
    store.add_row_listener(
        None,
        None,
        move |_, t, r| push(&l, format!("row {t}/{r}")),
        false,
    );
    let l = log.clone();
    store.add_cell_ids_listener(
        None,
        None,
        move |_, _, _, x| push(&l, format!("cellIds {}", id_changes(x))),
        false,
    );
    let l = log.clone();
    store.add_value_listener(
        None,
        move |_, v, new, old| push(&l, format!("value {v} {} {}", c(new), c(old))),
        false,
    );
    store.transaction(|s| {
        s.set_cell("t", "r", "c", 2);
        s.set_cell("t", "r", "c", 3);
        s.set_cell("t", "r", "c", 4);
        s.set_value("v", 2).set_value("v", 3);
    });
    assert_eq!(take(&log), ["cell t/r/c 4 1", "row t/r", "value v 3 1"]);
    // Changed and changed back: nothing fires.
    store.transaction(|s| {
        s.set_cell("t", "r", "c", 2);
        s.set_cell("t", "r", "c", 4);
        s.set_cell("t", "r", "d", 1);
        s.del_cell("t", "r", "d", false);
        s.set_value("v", 0).set_value("v", 3);
    });
    assert!(take(&log).is_empty());
    // Same value set again: nothing.
    store.set_cell("t", "r", "c", 4).set_value("v", 3);
    store.set_cell("t", "r", "c", Cell::Number(4.0));
    assert!(take(&log).is_empty());
    // Objects compare by encoded form.
    store.set_cell("t", "r", "o", json!({"a": 1}));
    take(&log);
    store.set_cell("t", "r", "o", json!({"a": 1}));
    assert!(take(&log).is_empty());
    store.set_cell("t", "r", "o", json!([1]));
    assert_eq!(take(&log), ["cell t/r/o [1] {\"a\":1}", "row t/r"]);
}

#[test]
fn listener_ids_come_from_a_reusable_pool() {
    let store = Store::new();
    let a = store.add_tables_listener(|_| {}, false);
    let b = store.add_tables_listener(|_| {}, false);
    assert_eq!((a, b), (ListenerId(0), ListenerId(1)));
    store.del_listener(a);
    let c2 = store.add_values_listener(|_| {}, false);
    assert_eq!(c2, ListenerId(0));
    let d = store.add_start_transaction_listener(|_| {});
    assert_eq!(d, ListenerId(2));
    store.del_listener(b).del_listener(d);
    assert_eq!(store.add_tables_listener(|_| {}, false), ListenerId(1));
    assert_eq!(store.add_tables_listener(|_| {}, false), ListenerId(2));
    assert_eq!(store.add_tables_listener(|_| {}, false), ListenerId(3));
    // Deleting an unknown id is harmless.
    store.del_listener(ListenerId(99));
    assert_eq!(store.get_listener_stats().tables, 3);
}

#[test]
fn del_listener_stops_calls() {
    let store = Store::new();
    let log = new_log();
    let l = log.clone();
    let id = store.add_cell_listener(
        Some("t"),
        None,
        None,
        move |_, _, _, _, _, _| push(&l, "x"),
        false,
    );
    store.set_cell("t", "r", "c", 1);
    store.del_listener(id);
    store.set_cell("t", "r", "c", 2);
    assert_eq!(take(&log), ["x"]);
}

#[test]
fn call_listener_invokes_with_current_state() {
    let store = store_with(
        json!({"t": {"r1": {"a": 1}, "r2": {"b": 2}}}),
        json!({"v": 1}),
    );
    let log = new_log();
    let l = log.clone();
    let cell = store.add_cell_listener(
        None,
        None,
        None,
        move |_, t, r, cid, new, old| push(&l, format!("cell {t}/{r}/{cid} {} {}", c(new), c(old))),
        false,
    );
    let l = log.clone();
    let row_ids = store.add_row_ids_listener(
        None,
        move |_, t, x| push(&l, format!("rowIds {t} [{}]", id_changes(x))),
        false,
    );
    let l = log.clone();
    let has_row = store.add_has_row_listener(
        Some("t"),
        Some("zz"),
        move |_, t, r, b| push(&l, format!("hasRow {t}/{r} {b}")),
        false,
    );
    let l = log.clone();
    let value = store.add_value_listener(
        None,
        move |_, v, new, old| push(&l, format!("value {v} {} {}", c(new), c(old))),
        false,
    );
    let l = log.clone();
    let has_table_cell = store.add_has_table_cell_listener(
        Some("t"),
        None,
        move |_, t, cid, b| push(&l, format!("htc {t} {cid} {b}")),
        false,
    );
    let l = log.clone();
    let table = store.add_table_listener(None, move |_, t| push(&l, format!("table {t}")), false);
    let l = log.clone();
    let has_tables =
        store.add_has_tables_listener(move |_, b| push(&l, format!("hasTables {b}")), false);
    assert!(take(&log).is_empty());
    store.call_listener(cell);
    assert_eq!(take(&log), ["cell t/r1/a 1 1", "cell t/r2/b 2 2"]);
    store.call_listener(row_ids);
    assert_eq!(take(&log), ["rowIds t []"]);
    store.call_listener(has_row);
    assert_eq!(take(&log), ["hasRow t/zz false"]);
    store.call_listener(value);
    assert_eq!(take(&log), ["value v 1 1"]);
    store.call_listener(has_table_cell);
    assert_eq!(take(&log), ["htc t a true", "htc t b true"]);
    store.call_listener(table);
    assert_eq!(take(&log), ["table t"]);
    store.call_listener(has_tables);
    assert_eq!(take(&log), ["hasTables true"]);
    store.call_listener(ListenerId(1234));
    assert!(take(&log).is_empty());
    // Wildcards expand over the ids present now.
    store.del_row("t", "r1");
    take(&log);
    store.call_listener(cell);
    assert_eq!(take(&log), ["cell t/r2/b 2 2"]);
}

#[test]
fn listener_stats_count_per_kind() {
    let store = Store::new();
    let a = store.add_tables_listener(|_| {}, false);
    store.add_cell_listener(None, None, None, |_, _, _, _, _, _| {}, true);
    store.add_cell_listener(Some("t"), None, None, |_, _, _, _, _, _| {}, false);
    store.add_value_listener(None, |_, _, _, _| {}, false);
    store.add_invalid_value_listener(None, |_, _, _| {}, false);
    store.add_sorted_row_ids_listener(SortedRowIdsArgs::new("t"), |_, _, _| {}, false);
    store.add_start_transaction_listener(|_| {});
    store.add_will_finish_transaction_listener(|_| {});
    store.add_did_finish_transaction_listener(|_| {});
    let stats = store.get_listener_stats();
    assert_eq!(stats.tables, 1);
    assert_eq!(stats.cell, 2);
    assert_eq!(stats.value, 1);
    assert_eq!(stats.invalid_value, 1);
    assert_eq!(stats.sorted_row_ids, 1);
    assert_eq!(stats.transaction, 3);
    assert_eq!(stats.row, 0);
    assert_eq!(stats.has_tables, 0);
    store.del_listener(a);
    assert_eq!(store.get_listener_stats().tables, 0);
    assert_eq!(
        Store::new().get_listener_stats(),
        tinystore_core::ListenerStats::default()
    );
}

#[test]
fn mutator_listener_writes_join_the_transaction() {
    let store = Store::new();
    let log = new_log();
    store.add_cell_listener(
        Some("t"),
        None,
        Some("a"),
        |s, t, r, _, new, _| {
            let doubled = new.and_then(Cell::as_f64).map(|n| n * 2.0);
            if let Some(d) = doubled {
                s.set_cell(t, r, "double", d);
            }
            // Writes are validated.
            s.set_cell(t, r, "bad", f64::NAN);
        },
        true,
    );
    let l = log.clone();
    store.add_row_listener(
        None,
        None,
        move |s, t, r| push(&l, format!("row {t}/{r} {:?}", s.get_cell_ids(t, r))),
        false,
    );
    let l = log.clone();
    store.add_invalid_cell_listener(
        None,
        None,
        None,
        move |_, _, _, cid, _| push(&l, format!("inv {}", opt_id(cid))),
        false,
    );
    let l = log.clone();
    store.add_did_finish_transaction_listener(move |_| push(&l, "did"));
    store.set_cell("t", "r", "a", 2);
    assert_eq!(store.get_cell("t", "r", "double"), Some(Cell::Number(4.0)));
    assert_eq!(
        take(&log),
        ["inv bad", "row t/r [\"a\", \"double\"]", "did"]
    );
    // A rollback reverts the mutator's writes too.
    store.transaction_with_rollback(
        |s| {
            s.set_cell("t", "r", "a", 5);
        },
        |_| true,
    );
    assert_eq!(store.get_row("t", "r"), row(json!({"a": 2, "double": 4})));
}

#[test]
fn non_mutator_listener_writes_are_ignored() {
    let store = Store::new();
    store.add_cell_listener(
        Some("t"),
        None,
        Some("a"),
        |s, t, r, _, _, _| {
            s.set_cell(t, r, "b", 1);
            s.set_value("x", 1);
            s.del_row(t, r);
        },
        false,
    );
    store.add_did_finish_transaction_listener(|s| {
        s.set_cell("d", "d", "d", 1);
    });
    store.set_cell("t", "r", "a", 1);
    assert_eq!(store.get_json(), r#"[{"t":{"r":{"a":1}}},{}]"#);
    assert!(!store.is_in_transaction());
}

#[test]
fn a_panicking_listener_still_finalises_and_resumes_the_panic() {
    let store = Store::new();
    let log = new_log();
    let l = log.clone();
    store.add_cell_listener(
        None,
        None,
        None,
        move |_, _, _, cid, _, _| {
            push(&l, format!("cell {cid}"));
            if cid == "a" {
                panic!("listener boom");
            }
        },
        false,
    );
    let l = log.clone();
    store.add_row_listener(None, None, move |_, _, _| push(&l, "row"), false);
    let l = log.clone();
    store.add_did_finish_transaction_listener(move |_| {
        push(&l, "did1");
        panic!("did boom");
    });
    let l = log.clone();
    store.add_did_finish_transaction_listener(move |s| {
        push(&l, format!("did2 {}", s.is_in_transaction()))
    });
    let err = catch_unwind(AssertUnwindSafe(|| {
        store.transaction(|s| {
            s.set_cell("t", "r", "a", 1).set_cell("t", "r", "b", 1);
        });
    }))
    .unwrap_err();
    // The first panic is the one resumed.
    assert_eq!(err.downcast_ref::<&str>(), Some(&"listener boom"));
    // The rest of the phase is abandoned; did-finish listeners all run.
    assert_eq!(take(&log), ["cell a", "did1", "did2 true"]);
    // Non-mutator listeners run after commit: the data stays.
    assert_eq!(store.get_row("t", "r"), row(json!({"a": 1, "b": 1})));
    assert!(!store.is_in_transaction());
    // The store still works.
    let err = catch_unwind(AssertUnwindSafe(|| {
        store.set_cell("t", "r", "b", 2);
    }))
    .unwrap_err();
    assert_eq!(err.downcast_ref::<&str>(), Some(&"did boom"));
    assert_eq!(take(&log), ["cell b", "row", "did1", "did2 true"]);
    assert_eq!(store.get_cell("t", "r", "b"), Some(Cell::Number(2.0)));
}

#[test]
fn a_panicking_mutator_listener_rolls_back() {
    let store = store_with(json!({"t": {"r": {"a": 1}}}), json!({}));
    let log = new_log();
    store.add_cell_listener(
        None,
        None,
        Some("a"),
        |s, t, r, _, _, _| {
            s.set_cell(t, r, "m", 1);
            panic!("mutator boom");
        },
        true,
    );
    let l = log.clone();
    store.add_cell_listener(
        None,
        None,
        None,
        move |_, _, _, cid, _, _| push(&l, format!("cell {cid}")),
        false,
    );
    let l = log.clone();
    store.add_did_finish_transaction_listener(move |_| push(&l, "did"));
    let err = catch_unwind(AssertUnwindSafe(|| {
        store.set_cell("t", "r", "a", 2);
    }))
    .unwrap_err();
    assert_eq!(err.downcast_ref::<&str>(), Some(&"mutator boom"));
    assert_eq!(store.get_json(), r#"[{"t":{"r":{"a":1}}},{}]"#);
    assert_eq!(take(&log), ["did"]);
    // Panics in do_rollback and will-finish listeners also roll back.
    let err = catch_unwind(AssertUnwindSafe(|| {
        store.transaction_with_rollback(
            |s| {
                s.set_cell("t", "r", "z", 2);
            },
            |_| panic!("rb boom"),
        );
    }))
    .unwrap_err();
    assert_eq!(err.downcast_ref::<&str>(), Some(&"rb boom"));
    assert!(!store.has_cell("t", "r", "z"));
    let will = store.add_will_finish_transaction_listener(|_| panic!("will boom"));
    let err = catch_unwind(AssertUnwindSafe(|| {
        store.set_cell("t", "r", "z", 3);
    }))
    .unwrap_err();
    assert_eq!(err.downcast_ref::<&str>(), Some(&"will boom"));
    assert!(!store.has_cell("t", "r", "z"));
    store.del_listener(will);
    take(&log);
}

#[test]
fn a_listener_may_delete_itself_and_call_getters() {
    let store = Store::new();
    let log = new_log();
    let me: Arc<Mutex<Option<ListenerId>>> = Arc::default();
    let me2 = me.clone();
    let l = log.clone();
    let id = store.add_cell_listener(
        None,
        None,
        None,
        move |s, t, r, cid, _, _| {
            // Re-entrant reads.
            let row = s.get_row(t, r);
            push(&l, format!("once {cid} {} {}", row.len(), s.get_json()));
            let id = me2.lock().unwrap().expect("set");
            s.del_listener(id);
        },
        false,
    );
    *me.lock().unwrap() = Some(id);
    let l = log.clone();
    store.add_row_listener(
        None,
        None,
        move |s, t, r| {
            push(
                &l,
                format!("row {} {}", s.get_cell_ids(t, r).join(","), s.has_row(t, r)),
            )
        },
        false,
    );
    store.set_cell("t", "r", "c", 1);
    store.set_cell("t", "r", "d", 2);
    assert_eq!(
        take(&log),
        [
            "once c 1 [{\"t\":{\"r\":{\"c\":1}}},{}]",
            "row c true",
            "row c,d true"
        ]
    );
    assert_eq!(store.get_listener_stats().cell, 0);
}

#[test]
fn firing_order_of_mutators_will_finish_and_non_mutators() {
    let store = store_with(json!({"t": {"r1": {"a": 1}}}), json!({"v": 1}));
    let log = new_log();
    let l = log.clone();
    store.add_start_transaction_listener(move |_| push(&l, "start"));
    let l = log.clone();
    store.add_will_finish_transaction_listener(move |_| push(&l, "will"));
    let l = log.clone();
    store.add_did_finish_transaction_listener(move |_| push(&l, "did"));
    let l = log.clone();
    store.add_value_listener(
        None,
        move |_, v, _, _| push(&l, format!("value {v}")),
        false,
    );
    let l = log.clone();
    store.add_cell_listener(
        None,
        None,
        None,
        move |_, _, r, cid, _, _| push(&l, format!("cell {r}.{cid}")),
        false,
    );
    let l = log.clone();
    store.add_row_listener(
        None,
        None,
        move |_, _, r| push(&l, format!("row {r}")),
        true,
    );
    let l = log.clone();
    store.add_value_listener(
        None,
        move |_, v, _, _| push(&l, format!("mut value {v}")),
        true,
    );
    let l = log.clone();
    let result = store.transaction_with_rollback(
        |s| {
            s.set_value("v", 2);
            s.set_cell("t", "r2", "a", 0);
            s.set_cell("t", "r1", "a", 2);
            1
        },
        move |_| {
            push(&l, "doRollback");
            false
        },
    );
    assert_eq!(result, 1);
    assert_eq!(
        take(&log),
        [
            "start",
            "row r2",
            "row r1",
            "mut value v",
            "doRollback",
            "will",
            "cell r2.a",
            "cell r1.a",
            "value v",
            "did"
        ]
    );
}

#[test]
fn get_cell_change_inside_listeners() {
    let store = store_with(json!({"t": {"r": {"a": 1}}}), json!({"v": 1}));
    let seen: Arc<Mutex<Vec<CellChange>>> = Arc::default();
    let s2 = seen.clone();
    store.add_row_listener(
        None,
        None,
        move |s, t, r| {
            s2.lock().unwrap().push(s.get_cell_change(t, r, "a"));
            s2.lock().unwrap().push(s.get_cell_change(t, r, "zz"));
            s2.lock().unwrap().push(s.get_value_change("v"));
        },
        false,
    );
    store.transaction(|s| {
        s.set_cell("t", "r", "a", 2);
        s.set_value("v", 5);
    });
    let got = seen.lock().unwrap().clone();
    assert_eq!(
        got,
        [
            CellChange {
                changed: true,
                old: Some(Cell::from(1)),
                new: Some(Cell::from(2))
            },
            CellChange {
                changed: false,
                old: None,
                new: None
            },
            CellChange {
                changed: true,
                old: Some(Cell::from(1)),
                new: Some(Cell::from(5))
            },
        ]
    );
}

// ======================================================================== threading

#[test]
fn store_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<Store>();
}

#[test]
fn concurrent_writers_all_land() {
    let store = Store::new();
    let counter = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let c2 = counter.clone();
    store.add_cell_listener(
        None,
        None,
        None,
        move |_, _, _, _, _, _| {
            c2.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        },
        false,
    );
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            std::thread::spawn(move || {
                for j in 0..100 {
                    store.set_cell("t", &format!("r{i}"), &format!("c{j}"), j);
                    if j % 10 == 0 {
                        store.transaction(|s| {
                            s.set_value(&format!("v{i}"), j);
                            s.set_cell("shared", "row", &format!("t{i}"), j);
                        });
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(store.get_row_count("t"), 8);
    for i in 0..8 {
        assert_eq!(store.get_cell_ids("t", &format!("r{i}")).len(), 100);
        assert_eq!(
            store.get_cell("t", &format!("r{i}"), "c99"),
            Some(Cell::from(99))
        );
        assert_eq!(store.get_value(&format!("v{i}")), Some(Cell::from(90)));
        assert_eq!(
            store.get_cell("shared", "row", &format!("t{i}")),
            Some(Cell::from(90))
        );
    }
    // 800 new cells, plus 8 shared cells set 10 times each (each a change).
    assert_eq!(counter.load(std::sync::atomic::Ordering::SeqCst), 800 + 80);
}
