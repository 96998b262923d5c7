//! `tinystore demo`: a store, listeners, a few writes, and what happened.

use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use tinystore_core::{Cell, SortedRowIdsArgs, Store};

pub(crate) fn demo() -> ExitCode {
    let store = Store::new();
    let events = Arc::new(Mutex::new(Vec::<String>::new()));

    let log = events.clone();
    store.add_cell_listener(
        Some("pets"),
        None,
        None,
        move |_, _, row, cell, new, old| {
            let show = |c: Option<&Cell>| c.map_or("-".to_string(), Cell::to_string);
            log.lock().expect("demo log").push(format!(
                "cell pets/{row}/{cell}: {} -> {}",
                show(old),
                show(new)
            ));
        },
        false,
    );
    let log = events.clone();
    store.add_sorted_row_ids_listener(
        SortedRowIdsArgs::new("pets")
            .cell_id("price")
            .descending(true),
        move |_, _, ids| {
            log.lock()
                .expect("demo log")
                .push(format!("pets by price, highest first: {ids:?}"));
        },
        false,
    );

    store.transaction(|s| {
        s.set_cell("pets", "fido", "species", "dog")
            .set_cell("pets", "fido", "price", 5)
            .set_cell("pets", "felix", "species", "cat")
            .set_cell("pets", "felix", "price", 4);
    });
    store.set_cell("pets", "felix", "price", 6);
    store.set_value("open", true);

    for line in events.lock().expect("demo log").iter() {
        println!("{line}");
    }
    println!("json: {}", store.get_json());
    ExitCode::SUCCESS
}
