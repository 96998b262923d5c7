//! `tinystore demo`: the main job in one command. Starts the sync server with its embedded
//! SQLite persistence, connects two clients to one room, has them edit it concurrently (with a
//! listener showing what arrives), checks that they converge, stops the server (which saves the
//! room), and reads the room back from the database file.

use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tinystore_core::persist::Persister;
use tinystore_core::persist::sqlite::{SqliteJsonConfig, SqlitePersistence};
use tinystore_core::sync::SynchronizerOptions;
use tinystore_core::sync::client::{WsClientConfig, WsSynchronizer};
use tinystore_core::sync::rooms::table_for_path;
use tinystore_core::sync::serve::{Rooms, ServeOptions, serve};
use tinystore_core::{Cell, MergeableStore};

/// `tinystore demo`.
#[derive(clap::Args, Debug)]
#[command(args_override_self = true)]
pub(crate) struct DemoArgs {
    /// The SQLite database the server keeps its rooms in
    #[arg(long, value_name = "FILE", default_value = crate::sync::DEFAULT_DB)]
    db: String,
}

pub(crate) fn demo(args: DemoArgs) -> ExitCode {
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tinystore demo: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: DemoArgs) -> Result<(), String> {
    let db = args.db;
    let server = serve(ServeOptions {
        rooms: Rooms::Sqlite(db.clone().into()),
        ..ServeOptions::default()
    })
    .map_err(|e| e.to_string())?;
    let url = format!("ws://127.0.0.1:{}/petShop", server.port());
    println!(
        "server: listening on port {}, rooms saved to {db}",
        server.port()
    );

    let connect = |name: &str| -> Result<(MergeableStore, WsSynchronizer), String> {
        let store = MergeableStore::new(Some(name));
        let sync = WsSynchronizer::connect(
            &store,
            WsClientConfig {
                url: url.clone(),
                ..WsClientConfig::default()
            },
            SynchronizerOptions::default(),
        )
        .map_err(|e| format!("{name}: {e}"))?;
        sync.start_sync(None);
        println!("{name}: connected to {url}");
        Ok((store, sync))
    };
    let (alice, alice_sync) = connect("alice")?;
    let (bob, bob_sync) = connect("bob")?;

    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    bob.add_cell_listener(
        Some("pets"),
        None,
        None,
        move |_, _, row, cell, new, _| {
            let show = new.map_or("(deleted)".to_string(), Cell::to_string);
            log.lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(format!("bob sees pets/{row}/{cell} = {show}"));
        },
        false,
    );

    // Concurrent edits, one of them a conflict on the same cell.
    alice.transaction(|s| {
        s.set_cell("pets", "fido", "species", "dog")
            .set_cell("pets", "fido", "color", "brown");
    });
    bob.set_cell("pets", "felix", "species", "cat");
    bob.set_cell("pets", "fido", "color", "black");
    alice.set_value("open", true);

    let deadline = Instant::now() + Duration::from_secs(10);
    while alice.get_mergeable_content_hashes() != bob.get_mergeable_content_hashes() {
        if Instant::now() > deadline {
            return Err("the clients did not converge within 10 s".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    for line in seen.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        println!("{line}");
    }
    println!("alice: {}", alice.get_json());
    println!("bob:   {}", bob.get_json());
    println!(
        "converged: hashes {:?} on both sides",
        alice.get_mergeable_content_hashes()
    );

    alice_sync.destroy();
    bob_sync.destroy();
    server.shutdown();
    println!("server: stopped (rooms saved)");

    // What the server kept, read back the way TinyBase would read it.
    let kept = MergeableStore::new(None);
    let persistence =
        SqlitePersistence::open(&db, SqliteJsonConfig::table(table_for_path("petShop")))
            .map_err(|e| e.to_string())?;
    Persister::new(&kept, persistence)
        .load(None)
        .map_err(|e| e.to_string())?;
    // Equal hashes: equal stamped content (the hashes cover every cell, value and HLC).
    let same = kept.get_mergeable_content_hashes() == alice.get_mergeable_content_hashes();
    println!(
        "database: room 'petShop' in {db} (table {}) holds {} — {}",
        table_for_path("petShop"),
        kept.get_json(),
        if same {
            "same as the clients"
        } else {
            "DIFFERENT"
        }
    );
    if same {
        Ok(())
    } else {
        Err("the server's saved room differs from the clients".into())
    }
}
