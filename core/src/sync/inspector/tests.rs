use serde_json::json;

use super::*;

fn clocked() -> MergeableStore {
    MergeableStore::with_clock(Some("client1"), Box::new(|| 1_700_000_000_000))
}

fn ids(page: &Json) -> Vec<String> {
    page["rows"]
        .as_array()
        .map(|rows| {
            rows.iter()
                .map(|r| r["id"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn an_empty_store_has_no_table_and_no_rows() {
    let page = room_json(&MergeableStore::new(None), &PageQuery::default());
    assert_eq!(
        page,
        json!({"tables": [], "table": null, "total": 0, "offset": 0, "limit": 100,
               "cellIds": [], "rows": [], "values": {}})
    );
}

#[test]
fn a_page_lists_tables_cells_with_their_stamps_and_values() {
    let store = clocked();
    store
        .set_cell("pets", "fido", "species", "dog")
        .set_cell(
            "pets",
            "fido",
            "tags",
            Cell::from_json(json!(["a", {"b": 1}])),
        )
        .set_cell("pets", "tom", "color", "grey")
        .set_cell("pets", "tom", "none", Cell::Null)
        .set_cell("owners", "ann", "name", "Ann")
        .set_value("open", true);
    let page = room_json(&store, &PageQuery::default());
    assert_eq!(
        page["tables"],
        json!([{"id": "pets", "rows": 2}, {"id": "owners", "rows": 1}])
    );
    assert_eq!(page["table"], "pets");
    assert_eq!(page["cellIds"], json!(["species", "tags", "color", "none"]));
    assert_eq!(ids(&page), ["fido", "tom"]);
    assert_eq!(
        page["rows"][0]["cells"]["species"],
        json!({"value": "dog", "hlc": "NjEtLV-----mmxrx", "time": 1_700_000_000_000u64,
               "counter": 0, "client": "mmxrx"})
    );
    assert_eq!(
        page["rows"][0]["cells"]["tags"]["value"],
        json!(["a", {"b": 1}])
    );
    assert_eq!(page["rows"][1]["cells"]["none"]["value"], Json::Null);
    assert_eq!(page["values"]["open"]["value"], true);
    assert_eq!(page["values"]["open"]["counter"], 5);

    let owners = room_json(
        &store,
        &PageQuery {
            table: Some("owners".into()),
            ..PageQuery::default()
        },
    );
    assert_eq!(
        (owners["table"].clone(), ids(&owners)),
        (json!("owners"), vec!["ann".to_string()])
    );
    // A table that is gone: the first one instead.
    let gone = room_json(
        &store,
        &PageQuery {
            table: Some("vets".into()),
            ..PageQuery::default()
        },
    );
    assert_eq!(gone["table"], "pets");
}

#[test]
fn a_script_string_is_data() {
    let store = MergeableStore::new(None);
    let script = "<script>alert(1)</script>";
    apply_edit(&store, &Edit::set("t", script, "c", json!(script))).unwrap();
    let page = room_json(&store, &PageQuery::default());
    assert_eq!(page["rows"][0]["id"], script);
    assert_eq!(page["rows"][0]["cells"]["c"]["value"], script);
    // Serialized as JSON, the string stays one JSON string.
    let text = serde_json::to_string(&page).unwrap();
    let back: Json = serde_json::from_str(&text).unwrap();
    assert_eq!(back["rows"][0]["cells"]["c"]["value"], script);
}

#[test]
fn tombstones_are_hidden() {
    let store = clocked();
    store
        .set_cell("pets", "fido", "species", "dog")
        .set_cell("pets", "fido", "legs", 4)
        .set_cell("pets", "tom", "legs", 4)
        .set_value("open", true)
        .set_value("closed", false);
    store.del_cell("pets", "fido", "legs", false);
    store.del_row("pets", "tom");
    store.del_value("open");
    let page = room_json(&store, &PageQuery::default());
    assert_eq!(ids(&page), ["fido"]);
    assert_eq!(page["cellIds"], json!(["species"]));
    assert_eq!(page["values"].as_object().map(|v| v.len()), Some(1));
    assert!(page["values"].get("open").is_none());
    // The stamps are still there.
    assert_eq!(store.get_row_stamps("pets", "tom")[0].1, None);
}

#[test]
fn paging_and_searching_100k_rows() {
    let store = MergeableStore::new(None);
    store.transaction(|s| {
        for r in 0..100_000 {
            for c in 0..10 {
                s.set_cell("big", &format!("row{r}"), &format!("c{c}"), r * 10 + c);
            }
        }
    });
    let page = room_json(&store, &PageQuery::default());
    assert_eq!(page["total"], 100_000);
    assert_eq!(ids(&page).len(), 100);
    assert_eq!(ids(&page)[0], "row0");
    assert_eq!(page["cellIds"].as_array().map(Vec::len), Some(10));

    let last = room_json(
        &store,
        &PageQuery {
            offset: 99_950,
            ..PageQuery::default()
        },
    );
    assert_eq!(ids(&last).len(), 50);
    assert_eq!(ids(&last)[49], "row99999");
    assert_eq!(last["rows"][49]["cells"]["c9"]["value"], 999_999.0);

    let capped = room_json(
        &store,
        &PageQuery {
            limit: 5000,
            ..PageQuery::default()
        },
    );
    assert_eq!(
        (capped["limit"].as_u64(), ids(&capped).len()),
        (Some(1000), 1000)
    );

    let search = room_json(
        &store,
        &PageQuery {
            row: Some("row9999".into()),
            offset: 5,
            limit: 3,
            ..PageQuery::default()
        },
    );
    // row9999 and row99990..row99999.
    assert_eq!(search["total"], 11);
    assert_eq!(ids(&search), ["row99994", "row99995", "row99996"]);
    let none = room_json(
        &store,
        &PageQuery {
            row: Some("ROW".into()),
            ..PageQuery::default()
        },
    );
    assert_eq!((none["total"].as_u64(), ids(&none).len()), (Some(0), 0));
    let past = room_json(
        &store,
        &PageQuery {
            offset: 200_000,
            ..PageQuery::default()
        },
    );
    assert_eq!(
        (past["total"].as_u64(), ids(&past).len()),
        (Some(100_000), 0)
    );
}

#[test]
fn rows_come_in_insertion_order() {
    let store = MergeableStore::new(None);
    store
        .set_cell("t", "b", "c", 1)
        .set_cell("t", "10", "c", 1)
        .set_cell("t", "a", "c", 1)
        .set_cell("t", "2", "c", 1);
    let page = room_json(&store, &PageQuery::default());
    assert_eq!(ids(&page), store.get_row_ids("t"));
}

#[test]
fn an_edit_is_a_fresh_local_write() {
    let clock = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(1_700_000_000_000));
    let now = clock.clone();
    let store = MergeableStore::with_clock(
        Some("server"),
        Box::new(move || now.load(std::sync::atomic::Ordering::SeqCst)),
    );
    store.set_cell("pets", "fido", "legs", 3);
    let (_, before) = store.get_cell_stamp("pets", "fido", "legs").unwrap();
    clock.store(1_700_000_005_000, std::sync::atomic::Ordering::SeqCst);
    apply_edit(&store, &Edit::set("pets", "fido", "legs", json!(4))).unwrap();
    assert_eq!(store.get_cell("pets", "fido", "legs"), Some(Cell::from(4)));
    let (value, after) = store.get_cell_stamp("pets", "fido", "legs").unwrap();
    assert_eq!(value, Some(Cell::from(4)));
    assert!(after > before);
    assert_eq!(after.time(), 1_700_000_005_000);
    let content = store.get_mergeable_content();
    let legs = &content.tables.thing["pets"].thing["fido"].thing["legs"];
    assert_eq!(
        (legs.thing.clone(), legs.hlc.as_str()),
        (Some(Cell::from(4)), after.as_str())
    );
    let page = room_json(&store, &PageQuery::default());
    assert_eq!(page["rows"][0]["cells"]["legs"]["hlc"], after.as_str());
    assert_eq!(
        page["rows"][0]["cells"]["legs"]["time"],
        1_700_000_005_000u64
    );

    apply_edit(&store, &Edit::delete("pets", "fido", "legs")).unwrap();
    assert!(!store.has_cell("pets", "fido", "legs"));
    let (value, deleted) = store.get_cell_stamp("pets", "fido", "legs").unwrap();
    assert_eq!(value, None);
    assert!(deleted > after);
    // Deleting what is not there is fine.
    apply_edit(&store, &Edit::delete("pets", "fido", "legs")).unwrap();
}

#[test]
fn edits_of_values() {
    let store = MergeableStore::new(None);
    apply_edit(&store, &Edit::set("", "", "motd", json!({"text": "hi"}))).unwrap();
    assert_eq!(
        store.get_value("motd").map(|c| c.to_json()),
        Some(json!({"text": "hi"}))
    );
    apply_edit(&store, &Edit::delete("", "", "motd")).unwrap();
    assert!(!store.has_value("motd"));
}

#[test]
fn every_value_type_is_accepted_and_bad_ones_are_not() {
    let store = MergeableStore::new(None);
    for (i, value) in [
        json!("s"),
        json!(1.5),
        json!(-2),
        json!(true),
        json!(null),
        json!({"a": [1]}),
        json!([]),
    ]
    .into_iter()
    .enumerate()
    {
        apply_edit(
            &store,
            &Edit::set("t", "r", &format!("c{i}"), value.clone()),
        )
        .unwrap();
        assert_eq!(
            store
                .get_cell("t", "r", &format!("c{i}"))
                .map(|c| c.to_json()),
            Some(value)
        );
    }
    for bad in [json!("\u{FFFC}"), json!("\u{FFFD}[1]")] {
        let refused = apply_edit(&store, &Edit::set("t", "r", "bad", bad));
        assert!(matches!(refused, Err(EditError::InvalidValue { .. })));
    }
    assert!(!store.has_cell("t", "r", "bad"));
    for (edit, what) in [
        (Edit::set("", "r", "c", json!(1)), "table"),
        (Edit::set("t", "", "c", json!(1)), "row"),
        (Edit::set("t", "r", "", json!(1)), "cell"),
        (Edit::set("", "", "", json!(1)), "cell"),
    ] {
        assert_eq!(apply_edit(&store, &edit), Err(EditError::EmptyId { what }));
    }
}

#[test]
fn a_schema_or_a_panicking_listener_refuses() {
    let store = MergeableStore::new(None);
    store
        .set_tables_schema_json(r#"{"pets":{"legs":{"type":"number","default":4}}}"#)
        .unwrap();
    let refused = apply_edit(&store, &Edit::set("pets", "fido", "legs", json!("four")));
    assert!(matches!(refused, Err(EditError::Refused { .. })));
    assert_eq!(refused.unwrap_err().http_status(), 409);
    apply_edit(&store, &Edit::set("pets", "fido", "legs", json!(3))).unwrap();
    let refused = apply_edit(&store, &Edit::delete("pets", "fido", "legs"));
    assert!(matches!(refused, Err(EditError::Refused { .. })));

    let store = MergeableStore::new(None);
    store.add_value_listener(None, |_, _, _, _| panic!("no"), false);
    let refused = apply_edit(&store, &Edit::set("", "", "v", json!(1)));
    assert!(matches!(refused, Err(EditError::Refused { .. })));
}

#[test]
fn hlcs_decode() {
    let clock = crate::hlc::HlcClock::new(Some("x"), Some(Box::new(|| 1_234_567_890_123)));
    let hlc = clock.next();
    clock.next();
    let second = clock.next();
    assert_eq!(
        decode_hlc(hlc.as_str()),
        Some((1_234_567_890_123, 0, clock.client_id().to_string()))
    );
    assert_eq!(decode_hlc(second.as_str()).map(|d| d.1), Some(2));
    assert_eq!(decode_hlc("NjEtLV----0mmxr"), None);
    assert_eq!(decode_hlc("NjEtLV----0mmxr!"), None);
}

#[test]
fn queries_and_edits_deserialize_from_the_api() {
    let query: PageQuery =
        serde_json::from_value(json!({"path": "p", "table": "t", "offset": 100})).unwrap();
    assert_eq!(
        query,
        PageQuery {
            table: Some("t".into()),
            offset: 100,
            limit: 100,
            row: None
        }
    );
    let edit: Edit = serde_json::from_value(
        json!({"path": "p", "table": "t", "row": "r", "cell": "c", "delete": true}),
    )
    .unwrap();
    assert_eq!(edit, Edit::delete("t", "r", "c"));
}
