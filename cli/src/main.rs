//! The `tinystore` command line.
//!
//! `tinystore demo` creates a store, registers listeners, writes and prints what happened.
//! Later commands (`serve`, `client`, `apply`, `dump-sqlite`, `write-sqlite`, `bench`) mirror
//! `../shared/kit/peer.mjs` and arrive with the persister, sync and benchmark work.

use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use tinystore_core::{Cell, SortedRowIdsArgs, Store};

const USAGE: &str = "usage: tinystore <command>

commands:
  demo      create a store, register listeners, write some data and print what happened
  version   print the version
  help      print this help";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("demo") | None => demo(),
        Some("version" | "--version" | "-V") => {
            println!("tinystore {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Some("help" | "--help" | "-h") => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("tinystore: unknown command '{other}'\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn demo() -> ExitCode {
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
