//! Store spec §2 (TablesSchema and ValuesSchema).

use super::*;

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
