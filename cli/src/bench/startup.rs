//! W13: app start-up beside TinyBase (`cli/bench/startup.mjs` runs the same shapes on
//! TinyBase's `createBetterSqlite3Persister` and `createFilePersister`).
//!
//! For each shape a file of 100k×10 cells is first written by tinystore in TinyBase's format
//! (not timed), so it sits in the OS page cache as an app's file does on a warm launch. The
//! timed part is what an app does at launch: open the file (a new connection), create the
//! store and its persister, load, and read the first cell, checked. `L6_rusqlite_scan@100k` is
//! the physical-limit reference: raw rusqlite opening the tabular file and reading every row
//! into memory (the limits program's L6 scans 1M rows on an already open connection and keeps
//! two columns, so it is not the same shape).

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;
use tinystore_core::persist::Persister;
use tinystore_core::persist::file::FilePersistence;
use tinystore_core::persist::sqlite::SqlitePersistence;
use tinystore_core::{Cell, MergeableStore, Store};

use super::workloads::{check_loaded, fill, fresh_db, json_mode, open_db, tabular_mode, w7_dir};
use super::{Out, emit_limit};

/// The cell every shape reads first, and its value (WORKLOADS.md's fill).
const FIRST: (&str, &str, &str) = ("t", "r7", "c5");

fn check_first(cell: Option<Cell>, shape: &str) {
    assert_eq!(
        cell,
        Some(Cell::from("s7_5")),
        "W13 {shape}: the first get_cell"
    );
}

/// W13: the four start-up shapes and L6 at the tabular file's shape.
pub(super) fn w13(out: &mut Out) {
    let rows = out.size(100_000, 1_000);
    let dir = w7_dir();
    let sqlite = dir.join("w13.sqlite");
    let cells = rows * 10;

    // SQLite, JSON mode and tabular.
    type Mode = fn() -> tinystore_core::persist::sqlite::SqliteMode;
    for (shape, mode) in [("json", json_mode as Mode), ("tabular", tabular_mode)] {
        fresh_db(&sqlite);
        let store = Store::new();
        fill(&store, 0, rows);
        Persister::new(&store, open_db(&sqlite, mode()))
            .save()
            .expect("W13: the file is written");
        drop(store);
        let (time, store) = {
            let start = Instant::now();
            let store = Store::new();
            let persister = Persister::new(
                &store,
                SqlitePersistence::open(&sqlite, mode()).expect("W13: open"),
            );
            persister.load(None).expect("W13: load");
            check_first(store.get_cell(FIRST.0, FIRST.1, FIRST.2), shape);
            let time = start.elapsed();
            drop(persister);
            (time, store)
        };
        check_loaded(&store, rows);
        drop(store);
        if shape == "tabular" {
            // Right after tinystore's load, on the same warm file.
            let l6 = l6_scan(&sqlite, rows);
            emit_limit(
                out,
                "L6_rusqlite_scan@100k",
                rows,
                l6,
                json!({"rows": rows, "cells": cells}),
            );
        }
        out.emit(
            &format!("W13_startup_sqlite_{shape}"),
            cells,
            time,
            json!({"rows": rows, "file_bytes": file_bytes(&sqlite)}),
        );
    }

    // A MergeableStore in JSON mode: the stamped content, as TinyBase's persister writes it.
    fresh_db(&sqlite);
    let store = MergeableStore::new(None);
    fill(&store, 0, rows);
    Persister::new(&store, open_db(&sqlite, json_mode()))
        .save()
        .expect("W13: the mergeable file is written");
    drop(store);
    let start = Instant::now();
    let store = MergeableStore::new(None);
    let persister = Persister::new(
        &store,
        SqlitePersistence::open(&sqlite, json_mode()).expect("W13: open"),
    );
    persister.load(None).expect("W13: mergeable load");
    check_first(store.get_cell(FIRST.0, FIRST.1, FIRST.2), "mergeable");
    let time = start.elapsed();
    drop(persister);
    check_loaded(&store, rows);
    drop(store);
    out.emit(
        "W13_startup_mergeable_json",
        cells,
        time,
        json!({"rows": rows, "file_bytes": file_bytes(&sqlite)}),
    );
    fresh_db(&sqlite);

    // The file persister: TinyBase's JSON document.
    let path = dir.join("w13.json");
    let store = Store::new();
    fill(&store, 0, rows);
    Persister::new(&store, FilePersistence::new(&path))
        .save()
        .expect("W13: the JSON file is written");
    drop(store);
    let start = Instant::now();
    let store = Store::new();
    let persister = Persister::new(&store, FilePersistence::new(&path));
    persister.load(None).expect("W13: file load");
    check_first(store.get_cell(FIRST.0, FIRST.1, FIRST.2), "file");
    let time = start.elapsed();
    drop(persister);
    check_loaded(&store, rows);
    out.emit(
        "W13_startup_file_json",
        cells,
        time,
        json!({"rows": rows, "file_bytes": file_bytes(&path)}),
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn file_bytes(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// L6 at W13's tabular shape: a new connection, every row of `t` with its 11 columns read
/// into memory (owned values, as a store must own them), checked.
fn l6_scan(path: &Path, rows: u64) -> Duration {
    use rusqlite::types::Value;
    let start = Instant::now();
    let conn = rusqlite::Connection::open(path).expect("L6: open");
    let mut stmt = conn
        .prepare(r#"SELECT "_id","c0","c1","c2","c3","c4","c5","c6","c7","c8","c9" FROM "t""#)
        .expect("L6: prepare");
    let all: Vec<(String, [Value; 10])> = stmt
        .query_map([], |row| {
            Ok((
                row.get(0)?,
                [
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                    row.get(5)?,
                    row.get(6)?,
                    row.get(7)?,
                    row.get(8)?,
                    row.get(9)?,
                    row.get(10)?,
                ],
            ))
        })
        .expect("L6: query")
        .collect::<Result<_, _>>()
        .expect("L6: rows");
    let time = start.elapsed();
    assert_eq!(all.len() as u64, rows, "L6: rows");
    assert!(
        all.iter()
            .any(|(id, c)| id == "r7" && c[5] == Value::Text("s7_5".into())),
        "L6: r7.c5"
    );
    time
}
