//! Relationships (spec store.md §6), against TinyBase's semantics.

use std::sync::{Arc, Mutex};

use serde_json::json;
use tinystore_core::views::{Relationships, Source};
use tinystore_core::{Cell, Store};

type Log = Arc<Mutex<Vec<String>>>;

fn take(log: &Log) -> Vec<String> {
    std::mem::take(&mut *log.lock().unwrap())
}

fn listen_all(rels: &Relationships, log: &Log) {
    let l = log.clone();
    rels.add_relationship_ids_listener(move |_| l.lock().unwrap().push("ids".into()));
    let l = log.clone();
    rels.add_remote_row_id_listener(None, None, move |_, r, row| {
        l.lock().unwrap().push(format!("remote:{r}:{row}"))
    });
    let l = log.clone();
    rels.add_local_row_ids_listener(None, None, move |_, r, row| {
        l.lock().unwrap().push(format!("local:{r}:{row}"))
    });
}

fn pets() -> Store {
    let store = Store::new();
    store
        .set_cell("pets", "fido", "species", "dog")
        .set_cell("pets", "felix", "species", "cat")
        .set_cell("pets", "cujo", "species", "dog")
        .set_cell("species", "dog", "legs", 4)
        .set_cell("species", "cat", "legs", 4);
    store
}

#[test]
fn remote_and_local_row_ids_follow_the_cell() {
    let store = pets();
    let rels = Relationships::new(&store);
    assert!(rels.get_store().ptr_eq(&store));
    rels.set_relationship_definition("petSpecies", "pets", "species", Source::cell("species"));
    assert_eq!(
        rels.get_remote_row_id("petSpecies", "fido").as_deref(),
        Some("dog")
    );
    assert_eq!(rels.get_remote_row_id("petSpecies", "nobody"), None);
    assert_eq!(
        rels.get_local_row_ids("petSpecies", "dog"),
        ["fido", "cujo"]
    );
    assert!(rels.get_local_row_ids("petSpecies", "cow").is_empty());
    assert_eq!(
        rels.get_local_table_id("petSpecies").as_deref(),
        Some("pets")
    );
    assert_eq!(
        rels.get_remote_table_id("petSpecies").as_deref(),
        Some("species")
    );
    assert_eq!(rels.get_relationship_ids(), ["petSpecies"]);
    assert!(rels.has_relationship("petSpecies") && !rels.has_relationship("x"));
    let mut seen = Vec::new();
    rels.for_each_relationship(|id| seen.push(id.to_string()));
    assert_eq!(seen, ["petSpecies"]);
    store
        .set_cell("pets", "fido", "species", "cat")
        .del_row("pets", "cujo");
    assert_eq!(
        rels.get_local_row_ids("petSpecies", "cat"),
        ["felix", "fido"]
    );
    assert!(rels.get_local_row_ids("petSpecies", "dog").is_empty());
    // Remote ids are `'' + value` of what TinyBase's getCell returns.
    store.set_cell("pets", "a", "species", 1.5);
    store.set_cell("pets", "b", "species", Cell::Null);
    store.set_cell("pets", "c", "species", Cell::from_json(json!({"k": 1})));
    store.set_cell(
        "pets",
        "d",
        "species",
        Cell::from_json(json!([1, null, "x"])),
    );
    let remote = |row| rels.get_remote_row_id("petSpecies", row);
    assert_eq!(remote("a").as_deref(), Some("1.5"));
    assert_eq!(remote("b").as_deref(), Some("null"));
    assert_eq!(remote("c").as_deref(), Some("[object Object]"));
    assert_eq!(remote("d").as_deref(), Some("1,,x"));
}

#[test]
fn function_form_and_missing_tables() {
    let store = pets();
    let rels = Relationships::new(&store);
    let source = Source::func(|get_cell, _| match get_cell("species") {
        Some(Cell::String(s)) if s.as_str() != "cat" => Some(s.to_uppercase().to_string()),
        _ => None,
    });
    rels.set_relationship_definition("r", "pets", "nowhere", source);
    assert_eq!(rels.get_local_row_ids("r", "DOG"), ["fido", "cujo"]);
    assert_eq!(rels.get_remote_row_id("r", "felix"), None);
    rels.set_relationship_definition("empty", "nothing", "nowhere", Source::cell("x"));
    assert_eq!(rels.get_remote_row_id("empty", "fido"), None);
}

#[test]
fn linked_row_ids_follow_a_list_until_missing_or_a_cycle() {
    let store = Store::new();
    store
        .set_cell("t", "a", "next", "b")
        .set_cell("t", "b", "next", "c")
        .set_cell("t", "c", "next", "a")
        .set_cell("t", "x", "next", "nowhere");
    let rels = Relationships::new(&store);
    rels.set_relationship_definition("list", "t", "t", Source::cell("next"));
    assert_eq!(rels.get_linked_row_ids("list", "a"), ["a", "b", "c"]);
    assert_eq!(rels.get_linked_row_ids("list", "x"), ["x", "nowhere"]);
    assert_eq!(rels.get_linked_row_ids("list", "zzz"), ["zzz"]);
    assert_eq!(rels.get_linked_row_ids("unknown", "a"), ["a"]);
    rels.set_relationship_definition("other", "t", "u", Source::cell("next"));
    assert_eq!(rels.get_linked_row_ids("other", "a"), ["a"]);
}

#[test]
fn listener_arguments_and_order() {
    let store = Store::new();
    store
        .set_cell("t", "a", "next", "b")
        .set_cell("t", "b", "next", "c");
    let rels = Relationships::new(&store);
    let log: Log = Arc::default();
    listen_all(&rels, &log);
    rels.set_relationship_definition("list", "t", "t", Source::cell("next"));
    assert_eq!(
        take(&log),
        [
            "ids",
            "remote:list:a",
            "remote:list:b",
            "local:list:b",
            "local:list:c"
        ]
    );
    let l = log.clone();
    rels.add_linked_row_ids_listener("list", "a", move |_, r, first| {
        l.lock().unwrap().push(format!("linked:{r}:{first}"))
    });
    // c joins a's list; b's old remote (c) and new remote (d) are told.
    store.set_cell("t", "c", "next", "d");
    assert_eq!(
        take(&log),
        ["remote:list:c", "local:list:d", "linked:list:a"]
    );
    store.set_cell("t", "b", "next", "z");
    assert_eq!(
        take(&log),
        [
            "remote:list:b",
            "local:list:c",
            "local:list:z",
            "linked:list:a"
        ]
    );
    assert_eq!(rels.get_linked_row_ids("list", "a"), ["a", "b", "z"]);
    // A row outside the list does not call its listener.
    store.set_cell("t", "q", "next", "r");
    assert_eq!(take(&log), ["remote:list:q", "local:list:r"]);
    let stats = rels.get_listener_stats();
    assert_eq!(
        (
            stats.remote_row_id,
            stats.local_row_ids,
            stats.linked_row_ids
        ),
        (1, 1, 1)
    );
}

#[test]
fn deleting_and_destroying() {
    let store = pets();
    let rels = Relationships::new(&store);
    rels.set_relationship_definition("r", "pets", "species", Source::cell("species"));
    let log: Log = Arc::default();
    listen_all(&rels, &log);
    rels.del_relationship_definition("r");
    assert_eq!(take(&log), ["ids"]);
    assert_eq!(rels.get_remote_row_id("r", "fido"), None);
    store.set_cell("pets", "fido", "species", "cow");
    assert!(take(&log).is_empty());
    rels.set_relationship_definition("r", "pets", "species", Source::cell("species"));
    take(&log);
    rels.destroy();
    assert_eq!(take(&log), ["ids"]);
    assert_eq!(store.get_listener_stats().table, 0);
    assert!(rels.get_relationship_ids().is_empty());
}

#[test]
fn a_panicking_function_reaches_the_writer_and_keeps_the_old_link() {
    let store = pets();
    let rels = Relationships::new(&store);
    let source = Source::func(|get_cell, _| match get_cell("species") {
        Some(Cell::String(s)) if s.as_str() == "boom" => panic!("boom"),
        Some(cell) => Some(format!("{cell:?}")),
        None => None,
    });
    rels.set_relationship_definition("r", "pets", "species", source);
    let before = rels.get_remote_row_id("r", "fido");
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        store.set_cell("pets", "fido", "species", "boom");
    }));
    assert!(result.is_err());
    assert_eq!(
        store.get_cell("pets", "fido", "species"),
        Some(Cell::from("boom"))
    );
    assert_eq!(rels.get_remote_row_id("r", "fido"), before);
    store.set_cell("pets", "fido", "species", "cat");
    assert_eq!(
        rels.get_local_row_ids("r", "String(\"cat\")"),
        ["felix", "fido"]
    );
}
