//! The derived-view workloads W9-W11 (cli/bench/notes.md, "Derived views"): the same data, the
//! same seeded operations and the same checks as TinyBase's side, `cli/bench/views.mjs`, so
//! the deterministic figures each run returns (listener calls, checksums, result rows, totals)
//! equal the ones views.mjs prints for the same sizes. Shared by `tinystore bench` (included by
//! `#[path]`) and the criterion bench `core/benches/views.rs`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tinystore_core::views::queries::create_queries;
use tinystore_core::views::{Source, create_checkpoints, create_indexes};
use tinystore_core::{Cell, Row, Store, Table};

/// views.mjs's 32-bit LCG (the Numerical Recipes constants of WORKLOADS.md), own seed per
/// workload.
struct Draw(u32);

impl Draw {
    fn next(&mut self, n: u32) -> u32 {
        self.0 = self.0.wrapping_mul(1664525).wrapping_add(1013904223);
        (self.0 >> 8) % n
    }
}

/// One timed run: the time of its timed section, its op count and the deterministic figures
/// (named as views.mjs names them) that must equal TinyBase's.
pub struct ViewsRun {
    pub time: Duration,
    pub ops: u64,
    pub extra: Vec<(&'static str, u64)>,
}

impl ViewsRun {
    /// W9's and W10's run: `ops` writes over `rows` rows, the view's listener calls (checked
    /// to be some), then the workload's own figures.
    fn upkeep(
        name: &str,
        time: Duration,
        ops: u32,
        rows: u32,
        calls: &AtomicU64,
        more: &[(&'static str, u64)],
    ) -> ViewsRun {
        let calls = calls.load(Ordering::Relaxed);
        assert!(calls > 0, "{name} listener calls");
        let mut extra = vec![("rows", rows.into()), ("listener_calls", calls)];
        extra.extend_from_slice(more);
        ViewsRun {
            time,
            ops: ops.into(),
            extra,
        }
    }
}

/// FNV-1a over the ids in order, each id followed by `,` (views.mjs's `checksum`, chained from
/// 0 over the slices); ids are ASCII, so bytes are JavaScript's UTF-16 code units.
pub fn checksum(ids: &[String], mut h: u32) -> u32 {
    for id in ids {
        for b in id.bytes() {
            h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
        }
        h = (h ^ 0x2c).wrapping_mul(0x0100_0193);
    }
    h
}

fn ids(prefix: &str, n: u32) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

/// Times `ops` writes, each to the row `ids[draw(ids.len())]`, made by `write(k, row, draw)`
/// (views.mjs draws the row first, then whatever the write needs).
fn timed_writes(
    ids: &[String],
    ops: u32,
    seed: u32,
    mut write: impl FnMut(u32, &str, &mut Draw),
) -> Duration {
    let mut draw = Draw(seed);
    let start = Instant::now();
    for k in 0..ops {
        let row = &ids[draw.next(ids.len() as u32) as usize];
        write(k, row, &mut draw);
    }
    start.elapsed()
}

fn counter() -> (Arc<AtomicU64>, Arc<AtomicU64>) {
    let calls = Arc::new(AtomicU64::new(0));
    (calls.clone(), calls)
}

/// W9, index upkeep: `rows` rows of `items` in 100 slices sorted by `key`, a slice-row-ids
/// listener per slice; timed: `ops` single-cell writes, even ones moving a random row to a
/// random slice, odd ones giving it a new sort key. Checks every slice against an index built
/// from scratch over a copy of the final table.
pub fn w9(rows: u32, ops: u32) -> ViewsRun {
    let store = Store::new();
    let row_ids = ids("r", rows);
    let slice_ids = ids("s", 100);
    store.transaction(|s| {
        for i in 0..rows {
            let mut row = Row::with_capacity(2);
            row.insert("slice".into(), Cell::from(&slice_ids[(i % 100) as usize]));
            let key = u64::from(i) * 7919 % u64::from(rows);
            row.insert("key".into(), Cell::from(key as f64));
            s.set_row("items", &row_ids[i as usize], &row);
        }
    });
    let define = |store: &Store| {
        let indexes = create_indexes(store);
        indexes.set_index_definition(
            "bySlice",
            "items",
            Some(Source::cell("slice")),
            Some(Source::cell("key")),
            None,
            None,
        );
        indexes
    };
    let indexes = define(&store);
    let (calls, seen) = counter();
    for slice in &slice_ids {
        let c = calls.clone();
        indexes.add_slice_row_ids_listener(Some("bySlice"), Some(slice), move |_, _, _| {
            c.fetch_add(1, Ordering::Relaxed);
        });
    }
    let time = timed_writes(&row_ids, ops, 9, |k, row, draw| {
        if k % 2 == 0 {
            let slice = &slice_ids[draw.next(100) as usize];
            store.set_cell("items", row, "slice", slice.as_str());
        } else {
            store.set_cell("items", row, "key", f64::from(draw.next(1_000_000)));
        }
    });
    // A from-scratch index over a copy of the final table (a second index over the same store
    // would be the same object in TinyBase, whose createIndexes is memoized per store) has the
    // same slices holding the same rows; rows with equal keys may be in another order (a moved
    // row goes after the rows already there, as in TinyBase), so order is checked by key.
    let copy = Store::new();
    copy.set_tables(&store.get_tables());
    let fresh = define(&copy);
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let slices = indexes.get_slice_ids("bySlice");
    assert_eq!(
        sorted(slices.clone()),
        sorted(fresh.get_slice_ids("bySlice")),
        "W9 slice ids"
    );
    let key = |row: &str| store.get_cell("items", row, "key").and_then(|c| c.as_f64());
    let mut sum = 0;
    for slice in slices {
        let ids = indexes.get_slice_row_ids("bySlice", &slice);
        assert_eq!(
            sorted(ids.clone()),
            sorted(fresh.get_slice_row_ids("bySlice", &slice)),
            "W9 rows of slice {slice}"
        );
        assert!(
            ids.windows(2).all(|w| key(&w[0]) <= key(&w[1])),
            "W9 slice {slice} in key order"
        );
        sum = checksum(&ids, sum);
    }
    ViewsRun::upkeep("W9", time, ops, rows, &seen, &[("checksum", sum.into())])
}

/// A result table's rows as `cell=value` lists (cells sorted), sorted: grouped result rows are
/// compared by content, as their ids and order depend on the order groups appeared in.
fn result_rows(table: &Table) -> Vec<String> {
    let mut rows: Vec<String> = table
        .values()
        .map(|row| {
            let mut cells: Vec<String> = row.iter().map(|(k, v)| format!("{k}={v}")).collect();
            cells.sort();
            cells.join(",")
        })
        .collect();
    rows.sort();
    rows
}

/// W10, query upkeep: `rows` pets over 1k species; the query `byKind` selects species, joins
/// the species table, selects its legs and the price, keeps unsold pets and sums the price
/// per group as `total`, with a result-cell listener on `total`. Timed: `ops` single-cell
/// writes, even ones a new price, odd ones a new sold flag. Checks the result against a query
/// defined from scratch over a copy of the final tables.
pub fn w10(rows: u32, ops: u32) -> ViewsRun {
    let store = Store::new();
    let pet_ids = ids("p", rows);
    let species_ids = ids("sp", 1000);
    store.transaction(|s| {
        for (j, id) in species_ids.iter().enumerate() {
            s.set_cell("species", id, "legs", (j % 5) as f64);
        }
        for i in 0..rows {
            let mut row = Row::with_capacity(3);
            row.insert(
                "species".into(),
                Cell::from(&species_ids[(i % 1000) as usize]),
            );
            row.insert("price".into(), Cell::from(f64::from(i % 100)));
            row.insert("sold".into(), Cell::from(i % 3 == 0));
            s.set_row("pets", &pet_ids[i as usize], &row);
        }
    });
    let define = |store: &Store| {
        let queries = create_queries(store);
        queries
            .set_query_definition("byKind", "pets", |b| {
                b.select("species");
                b.join("species", "species");
                b.select_from("species", "legs");
                b.select("price");
                b.where_("sold", false);
                b.group("price", "sum").as_("total");
            })
            .expect("W10 query definition");
        queries
    };
    let queries = define(&store);
    let (calls, seen) = counter();
    queries.add_result_cell_listener(
        Some("byKind"),
        None,
        Some("total"),
        move |_, _, _, _, _, _| {
            calls.fetch_add(1, Ordering::Relaxed);
        },
    );
    let time = timed_writes(&pet_ids, ops, 10, |k, row, draw| {
        if k % 2 == 0 {
            store.set_cell("pets", row, "price", f64::from(draw.next(100)));
        } else {
            store.set_cell("pets", row, "sold", draw.next(2) == 0);
        }
    });
    let copy = Store::new();
    copy.set_tables(&store.get_tables());
    let fresh = define(&copy);
    assert_eq!(
        result_rows(&queries.get_result_table("byKind")),
        result_rows(&fresh.get_result_table("byKind")),
        "W10 result"
    );
    let mut total = 0f64;
    queries.for_each_result_row("byKind", |row| {
        total += queries
            .get_result_cell("byKind", row, "total")
            .and_then(|c| c.as_f64())
            .expect("W10 total is a number");
    });
    assert!(total >= 0.0 && total.fract() == 0.0, "W10 total {total}");
    let result_rows = queries.get_result_row_count("byKind") as u64;
    let more = [("result_rows", result_rows), ("total", total as u64)];
    ViewsRun::upkeep("W10", time, ops, rows, &seen, &more)
}

/// W11, checkpoints: 1,000 rows × 10 cells; timed: `ops` transactions, each setting one random
/// cell and adding a checkpoint (size `ops`, so none is dropped), then `ops` go-backwards.
/// Checks the checkpoint ids and that the content is back to the start.
pub fn w11(ops: u32) -> ViewsRun {
    let store = Store::new();
    let row_ids = ids("r", 1000);
    let cell_ids = ids("c", 10);
    store.transaction(|s| {
        for (i, id) in row_ids.iter().enumerate() {
            let row: Row = cell_ids
                .iter()
                .enumerate()
                .map(|(j, c)| (c.clone(), Cell::from((i * 10 + j) as f64)))
                .collect();
            s.set_row("t", id, &row);
        }
    });
    let before = store.get_tables_json();
    let checkpoints = create_checkpoints(&store);
    checkpoints.set_size(ops as usize);
    let mut draw = Draw(11);
    let start = Instant::now();
    for k in 0..ops {
        let row = &row_ids[draw.next(1000) as usize];
        let cell = &cell_ids[draw.next(10) as usize];
        store.transaction(|s| {
            s.set_cell("t", row, cell, -f64::from(k) - 1.0);
        });
        checkpoints.add_checkpoint("");
    }
    for _ in 0..ops {
        checkpoints.go_backward();
    }
    let time = start.elapsed();
    let (backward, current, forward) = checkpoints.get_checkpoint_ids();
    assert!(
        backward.is_empty() && current.as_deref() == Some("0") && forward.len() == ops as usize,
        "W11 ids"
    );
    assert!(
        store.get_tables_json() == before,
        "W11 content back to the start"
    );
    ViewsRun {
        time,
        ops: 2 * u64::from(ops),
        extra: vec![("checkpoints", ops.into())],
    }
}
