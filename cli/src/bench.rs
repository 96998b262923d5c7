//! `tinystore bench`: the workloads of `../shared/perf/WORKLOADS.md`, run as TinyBase's
//! reference bench (`../shared/perf/tinybase/bench.mjs`) runs them, and the derived-view
//! workloads W9-W11 (`W9`, `W9@10k`, `W10`, `W10@10k`, `W11`), run as `cli/bench/views.mjs`
//! runs them on TinyBase, W12 (PostgreSQL, `postgres.rs`) and W13 (app start-up from a file,
//! `startup.rs`); tinystore's own server workloads are W12f and W14 (`scale.rs`).
//!
//! - `tinystore bench [--runs N] [--quick] [W1 W4 W7@100k ...]` runs each run of each selected
//!   workload in a fresh child process (`tinystore bench --child W1`) and prints the children's
//!   JSON lines on stdout: `{"workload","impl","run","ops","seconds","ops_per_s","rss_bytes",
//!   "loadavg_1m",...extra}`, workload names exactly as TinyBase's bench prints them, plus the
//!   scaled-up variants WORKLOADS.md invites (names suffixed `@100k`).
//! - Every workload checks its result as WORKLOADS.md specifies; a run whose check fails
//!   prints nothing, and the command exits with status 1 after the remaining runs.
//! - `--quick`: tiny sizes and one run, for CI: the workloads still run and their checks pass
//!   (the lines carry `"quick":true`; their times mean nothing).
//! - `--child W1|W2|W3 --instructions`: one run at the fixed, reduced sizes that
//!   `cli/bench/instructions.py` counts instructions of under callgrind (lines carry
//!   `"instructions":true`). The counted region is [`measured_section`]: the same code the timer
//!   brackets, without the set-up, the checks or process start-up.
//!
//! The workloads' data and set-ups are shared with the criterion benches of `core/benches`
//! (included below by path), so both measure the same code.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};
use tinystore_core::persist::Persister;
use tinystore_core::{Cell, MergeableStore, Store};

mod postgres;
mod scale;
mod serve_child;
mod startup;
#[path = "../../core/benches/workloads/views.rs"]
mod views;
#[path = "../../core/benches/workloads/mod.rs"]
mod workloads;
#[path = "../../core/benches/workloads/ws.rs"]
mod ws;

use workloads::*;

// ------------------------------------------------------------------------- W8's allocator

/// Counts live heap bytes while [`COUNTING`] is set (only W8 sets it); otherwise each call
/// costs one relaxed load and a predictable branch on top of the system allocator.
struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; only a counter is kept.
unsafe impl GlobalAlloc for Counting {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        // SAFETY: same layout contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        // SAFETY: same layout contract as the caller's.
        unsafe { System.alloc_zeroed(layout) }
    }
    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if COUNTING.load(Ordering::Relaxed) {
            LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        }
        // SAFETY: `ptr` came from `alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            LIVE.fetch_add(
                new_size as isize - layout.size() as isize,
                Ordering::Relaxed,
            );
        }
        // SAFETY: forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

// ------------------------------------------------------------------------------ the driver

/// `impl` of every line: crate version and the compiler that built it.
const IMPL: &str = concat!(
    "tinystore-",
    env!("CARGO_PKG_VERSION"),
    "/rust-",
    env!("TINYSTORE_RUSTC_VERSION")
);

/// The selectable workloads, in run order (TinyBase's names for the standard sizes).
const WORKLOADS: [&str; 24] = [
    "W1", "W2", "W3", "W4", "W5", "W6", "W7", "W8s", "W8m", "W9", "W9@10k", "W10", "W10@10k",
    "W11", "W12", "W12f", "W13", "W14@1k", "W14", "W4@100k", "W5@100k", "W6@100k", "W7@100k", "L5",
];

/// `tinystore bench`.
#[derive(clap::Args, Debug)]
#[command(args_override_self = true)]
pub(crate) struct BenchArgs {
    /// Runs of each workload, each in a fresh process (1 to 1000)
    #[arg(long, value_name = "N", default_value_t = 3, allow_negative_numbers = true,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    runs: u32,
    /// Tiny sizes and one run, checks only (CI)
    #[arg(long)]
    quick: bool,
    /// With --child W1|W2|W3: the instruction-count sizes (cli/bench/instructions.py)
    #[arg(long, hide = true, requires = "child")]
    instructions: bool,
    /// Run one workload in this process (what each fresh process runs)
    #[arg(long, value_name = "WORKLOAD", hide = true, value_parser = clap::builder::PossibleValuesParser::new(WORKLOADS))]
    child: Option<String>,
    /// The workloads to run (default: all)
    #[arg(value_name = "WORKLOAD", value_parser = clap::builder::PossibleValuesParser::new(WORKLOADS))]
    workloads: Vec<String>,
}

pub(crate) fn run(args: BenchArgs) -> ExitCode {
    let BenchArgs {
        mut runs,
        quick,
        instructions,
        child,
        workloads: mut selected,
    } = args;
    if let Some(name) = child {
        let run = std::env::var("BENCH_RUN")
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(0);
        let mode = match (instructions, quick) {
            (true, _) if !matches!(name.as_str(), "W1" | "W2" | "W3") => {
                eprintln!("tinystore bench: --instructions is for W1, W2 and W3 only, not {name}");
                return ExitCode::FAILURE;
            }
            (true, _) => Mode::Instructions,
            (false, true) => Mode::Quick,
            (false, false) => Mode::Full,
        };
        return run_child(&name, mode, run);
    }
    if selected.is_empty() {
        selected = WORKLOADS.iter().map(|w| w.to_string()).collect();
    }
    if quick {
        runs = 1;
    }
    drive(&selected, runs, quick)
}

/// Runs every run of every workload in a fresh child process; passes their lines through.
fn drive(selected: &[String], runs: u32, quick: bool) -> ExitCode {
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("tinystore bench: cannot find this executable: {e}");
            return ExitCode::FAILURE;
        }
    };
    let started = Instant::now();
    let (mut passed, mut failed) = (0u32, 0u32);
    for name in selected {
        for run in 1..=runs {
            let mut command = Command::new(&exe);
            command.args(["bench", "--child", name]);
            if quick {
                command.arg("--quick");
            }
            let output = command
                .env("BENCH_RUN", run.to_string())
                .stdin(Stdio::null())
                .stderr(Stdio::inherit())
                .output();
            match output {
                Ok(out) if out.status.success() && !out.stdout.is_empty() => {
                    let mut stdout = std::io::stdout().lock();
                    let _ = stdout.write_all(&out.stdout);
                    let _ = stdout.flush();
                    passed += 1;
                }
                Ok(out) => {
                    eprintln!("tinystore bench: {name} run {run} failed ({})", out.status);
                    failed += 1;
                }
                Err(e) => {
                    eprintln!("tinystore bench: {name} run {run}: cannot start: {e}");
                    failed += 1;
                }
            }
        }
    }
    eprintln!(
        "tinystore bench{}: {} workload runs in {:.1} s",
        if quick { " --quick" } else { "" },
        passed + failed,
        started.elapsed().as_secs_f64()
    );
    eprintln!("bench: {passed} passed, {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// One run of one workload in this process: its lines are printed only when every check of
/// the run passed (a failed check panics: nothing is printed, the exit status is non-zero).
fn run_child(name: &str, mode: Mode, run: u64) -> ExitCode {
    let mut out = Out {
        run,
        quick: mode == Mode::Quick,
        instructions: mode == Mode::Instructions,
        lines: Vec::new(),
    };
    match name {
        "W1" => w1(&mut out),
        "W2" => w2(&mut out),
        "W3" => w3(&mut out),
        "W4" => w4(&mut out, ""),
        "W4@100k" => w4(&mut out, "@100k"),
        "W5" => w5(&mut out, ""),
        "W5@100k" => w5(&mut out, "@100k"),
        "W6" => w6(&mut out, ""),
        "W6@100k" => w6(&mut out, "@100k"),
        "W7" => w7(&mut out),
        "W7@100k" => w7_100k(&mut out),
        "W8s" => w8(&mut out, false),
        "W8m" => w8(&mut out, true),
        "L5" => l5(&mut out),
        "W9" | "W9@10k" | "W10" | "W10@10k" | "W11" => derived_view(&mut out, name),
        "W12" => postgres::w12(&mut out),
        "W12f" => postgres::w12f(&mut out),
        "W13" => startup::w13(&mut out),
        "W14" | "W14@1k" => scale::w14(&mut out, name),
        _ => unreachable!("checked by the caller"),
    }
    let mut stdout = std::io::stdout().lock();
    for line in &out.lines {
        let _ = writeln!(stdout, "{line}");
    }
    let _ = stdout.flush();
    ExitCode::SUCCESS
}

/// A child's sizes: WORKLOADS.md's, `--quick`'s, or `--instructions`' (W1-W3).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Full,
    Quick,
    Instructions,
}

/// A run's output lines, and its size mode.
struct Out {
    run: u64,
    quick: bool,
    instructions: bool,
    lines: Vec<String>,
}

impl Out {
    /// `full` in a measured run, `quick` with `--quick`.
    fn size(&self, full: u64, quick: u64) -> u64 {
        if self.quick { quick } else { full }
    }

    /// As [`Out::size`], and `instructions` with `--instructions`: fixed, so that a count
    /// stored in cli/bench/instructions.json stays comparable; small, because callgrind runs
    /// the code ~50x slower.
    fn size_or_instructions(&self, full: u64, quick: u64, instructions: u64) -> u64 {
        if self.instructions {
            instructions
        } else {
            self.size(full, quick)
        }
    }

    /// One JSON line, in TinyBase's field order; `rss_bytes` is the peak RSS so far.
    fn emit(&mut self, workload: &str, ops: u64, time: Duration, extra: Json) {
        let seconds = time.as_secs_f64();
        let mut line = serde_json::Map::new();
        line.insert("workload".into(), workload.into());
        line.insert("impl".into(), IMPL.into());
        line.insert("run".into(), self.run.into());
        line.insert("ops".into(), ops.into());
        line.insert("seconds".into(), json!((seconds * 1e6).round() / 1e6));
        line.insert(
            "ops_per_s".into(),
            json!((ops as f64 / seconds.max(1e-9)).round() as u64),
        );
        line.insert("rss_bytes".into(), peak_rss_bytes().into());
        line.insert("loadavg_1m".into(), loadavg_1m());
        if let Json::Object(extra) = extra {
            line.extend(extra);
        }
        if self.quick {
            line.insert("quick".into(), true.into());
        }
        if self.instructions {
            line.insert("instructions".into(), true.into());
        }
        self.lines.push(Json::Object(line).to_string());
    }
}

fn loadavg_1m() -> Json {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(Json::Null, Json::from)
}

fn row_ids(rows: u64) -> Vec<String> {
    (0..rows).map(|i| format!("r{i}")).collect()
}

/// The timed section of W1-W3, kept out of line so that callgrind can count exactly it
/// (`--collect-atstart=no --toggle-collect=*bench::measured_section*`, cli/bench/instructions.py):
/// inlined, its body would have no symbol of its own and the count would be empty. The clock
/// reads stay outside, in the caller. One call per run: its cost is nil in the timings.
#[inline(never)]
fn measured_section<R>(section: impl FnOnce() -> R) -> R {
    section()
}

// ---------------------------------------------------------------------------- the workloads

/// W1: `fill(store, 0, 100_000)` on an empty Store, one transaction.
fn w1(out: &mut Out) {
    let rows = out.size_or_instructions(100_000, 1_000, 10_000);
    let store = Store::new();
    let start = Instant::now();
    measured_section(|| fill(&store, 0, rows));
    let time = start.elapsed();
    assert_eq!(store.get_row_count("t") as u64, rows, "W1 row count");
    let last = rows - 1;
    assert_eq!(
        store.get_cell("t", &format!("r{last}"), "c9"),
        Some(Cell::Boolean((last + 9) % 2 == 0)),
        "W1 last cell"
    );
    out.emit("W1_bulk_insert", rows * 10, time, json!({"rows": rows}));
}

/// W2: 300k `setCell` calls outside any transaction, with a cell and a table listener.
fn w2(out: &mut Out) {
    let rows = out.size_or_instructions(10_000, 1_000, 10_000);
    let calls = out.size_or_instructions(300_000, 3_000, 30_000) as usize;
    let store = Store::new();
    fill(&store, 0, rows);
    let ids = row_ids(rows);
    let cell_calls = Arc::new(AtomicUsize::new(0));
    let table_calls = Arc::new(AtomicUsize::new(0));
    let (c, t) = (cell_calls.clone(), table_calls.clone());
    store.add_cell_listener(
        Some("t"),
        None,
        None,
        move |_, _, _, _, _, _| {
            c.fetch_add(1, Ordering::Relaxed);
        },
        false,
    );
    store.add_table_listener(
        Some("t"),
        move |_, _| {
            t.fetch_add(1, Ordering::Relaxed);
        },
        false,
    );
    let start = Instant::now();
    measured_section(|| {
        for k in 0..calls {
            store.set_cell(
                "t",
                &ids[k % ids.len()],
                CELL_IDS[k % 10],
                -((k + 1) as f64),
            );
        }
    });
    let time = start.elapsed();
    let (cell_calls, table_calls) = (
        cell_calls.load(Ordering::Relaxed),
        table_calls.load(Ordering::Relaxed),
    );
    assert_eq!(cell_calls, calls, "W2 cell listener calls");
    assert_eq!(table_calls, calls, "W2 table listener calls");
    out.emit(
        "W2_single_cell_writes",
        calls as u64,
        time,
        json!({"cellCalls": cell_calls, "tableCalls": table_calls}),
    );
}

/// W3: 1M random `getCell` (borrowing: `with_cell`) on 100k×10, one LCG, row draw first.
fn w3(out: &mut Out) {
    let rows = out.size_or_instructions(100_000, 1_000, 10_000);
    let gets = out.size_or_instructions(1_000_000, 10_000, 100_000);
    let store = Store::new();
    fill(&store, 0, rows);
    let ids = row_ids(rows);
    let mut lcg = Lcg(42);
    let (mut found, mut sum) = (0u64, 0f64);
    let start = Instant::now();
    measured_section(|| {
        for _ in 0..gets {
            let r = &ids[lcg.draw(rows as u32) as usize];
            let c = CELL_IDS[lcg.draw(10) as usize];
            store.with_cell("t", r, c, |cell| {
                if let Some(cell) = cell {
                    found += 1;
                    if let Cell::Number(n) = cell {
                        sum += n;
                    }
                }
            });
        }
    });
    let time = start.elapsed();
    assert_eq!(found, gets, "W3 found");
    assert_eq!(sum, w3_expected_sum(rows as u32, gets), "W3 numeric sum");
    if !out.quick && !out.instructions {
        assert_eq!(sum, 199_984_783_497.0, "W3 numeric sum (WORKLOADS.md)");
    }
    out.emit(
        "W3_random_get_cell",
        gets,
        time,
        json!({"found": found, "numSum": sum as u64}),
    );
}

/// W4: MergeableStore insert (W4a), export to JSON (W4b), parse + import into a new store
/// (W4c). `@100k`: 100k rows.
fn w4(out: &mut Out, suffix: &str) {
    let rows = if suffix.is_empty() {
        out.size(10_000, 500)
    } else {
        out.size(100_000, 2_000)
    };
    let cells = rows * 10;
    let s1 = MergeableStore::new(None);
    let start = Instant::now();
    fill(&s1, 0, rows);
    let time = start.elapsed();
    assert_eq!(s1.get_row_count("t") as u64, rows, "W4a row count");
    out.emit(
        &format!("W4a_mergeable_bulk_insert{suffix}"),
        cells,
        time,
        json!({"rows": rows}),
    );

    let start = Instant::now();
    let text = s1.get_mergeable_content_json();
    let time = start.elapsed();
    let bytes = text.len();
    out.emit(
        &format!("W4b_get_mergeable_content_json{suffix}"),
        cells,
        time,
        json!({"json_bytes": bytes}),
    );

    let s2 = MergeableStore::new(None);
    let start = Instant::now();
    s2.set_mergeable_content_json(&text)
        .expect("W4c: set_mergeable_content_json");
    let time = start.elapsed();
    assert_eq!(s2.get_row_count("t") as u64, rows, "W4c row count");
    assert_eq!(
        s2.get_mergeable_content_hashes(),
        s1.get_mergeable_content_hashes(),
        "W4c hashes"
    );
    assert!(
        s2.get_mergeable_content() == s1.get_mergeable_content(),
        "W4c content"
    );
    out.emit(
        &format!("W4c_parse_set_mergeable_content{suffix}"),
        cells,
        time,
        json!({"json_bytes": bytes}),
    );
}

/// W5: merge two MergeableStores both ways, disjoint (W5a) then after concurrent edits in one
/// transaction on each side (W5b). `@100k`: 2×50k rows (the CRDT peers' large scale).
fn w5(out: &mut Out, suffix: &str) {
    let half = if suffix.is_empty() {
        out.size(10_000, 500)
    } else {
        out.size(50_000, 1_000)
    };
    let rows = 2 * half;
    let a = filled_mergeable(0, half);
    let b = filled_mergeable(half, rows);
    let start = Instant::now();
    a.merge(&b);
    let time = start.elapsed();
    check_merged(&a, &b, rows);
    out.emit(
        &format!("W5a_merge_disjoint{suffix}"),
        rows * 10,
        time,
        json!({"rows": rows}),
    );

    let edits = w5b_edits(&a, &b, rows);
    let start = Instant::now();
    a.merge(&b);
    let time = start.elapsed();
    check_merged(&a, &b, rows);
    assert_eq!(
        a.get_cell("t", "r1", "c1"),
        Some(Cell::Number(-1.0)),
        "W5b: b's edit visible in a"
    );
    assert_eq!(
        b.get_cell("t", "r2", "c0"),
        Some(Cell::Number(-2.0)),
        "W5b: a's edit visible in b"
    );
    let winner = match a.get_cell("t", "r10", "c2") {
        Some(Cell::String(s)) if s.as_str() == "a10" => "a",
        Some(Cell::String(s)) if s.as_str() == "b10" => "b",
        other => panic!("W5b: r10.c2 is {other:?}, not a10 or b10"),
    };
    out.emit(
        &format!("W5b_merge_concurrent_edits{suffix}"),
        edits,
        time,
        json!({"rows": rows, "conflict_winner": winner}),
    );
}

/// W6: a client's 10k×10 fill synced to an empty server room store over loopback.
/// `@100k`: 100k rows as ten 10k-row transactions (one 1M-cell diff exceeds the 16 MiB frame
/// limit, as in TinyBase).
fn w6(out: &mut Out, suffix: &str) {
    let (rows, per_transaction) = if suffix.is_empty() {
        let rows = out.size(10_000, 500);
        (rows, rows)
    } else {
        (out.size(100_000, 2_000), out.size(10_000, 200))
    };
    let handshake = Duration::from_millis(out.size(1_500, 200));
    let run = ws::w6_once(rows, per_transaction, handshake, Duration::from_secs(120));
    out.emit(
        &format!("W6_ws_sync_to_server{suffix}"),
        rows * 10,
        run.sync,
        json!({
            "rows": rows,
            "transactions": rows.div_ceil(per_transaction),
            "client_fill_seconds": (run.fill.as_secs_f64() * 1e6).round() / 1e6,
            "handshake_errors": run.handshake_errors,
            "errors": run.errors,
        }),
    );
}

/// W7: SQLite save and load of a Store, JSON mode (50k rows) and tabular (2.5k rows, ten
/// fresh files, timings summed).
fn w7(out: &mut Out) {
    let dir = w7_dir();
    let path = dir.join("w7.sqlite");
    type Mode = fn() -> tinystore_core::persist::sqlite::SqliteMode;
    let modes: [(&str, Mode, u64, u64); 2] = [
        ("json", json_mode, out.size(50_000, 500), 1),
        (
            "tabular",
            tabular_mode,
            out.size(2_500, 250),
            out.size(10, 2),
        ),
    ];
    // L5 at the tabular shape, rep by rep beside tinystore's saves (same moment, same disk
    // state): each file new, its table's creation (the first write) timed, as a save sees it.
    let l5_path = dir.join("l5.sqlite");
    let mut l5 = Duration::ZERO;
    for (mode, config, rows, reps) in modes {
        let (mut save, mut load, mut file_bytes) = (Duration::ZERO, Duration::ZERO, 0);
        for _ in 0..reps {
            let r = save_then_load(&path, config, rows);
            save += r.save;
            load += r.load;
            file_bytes = r.file_bytes;
            if mode == "tabular" {
                l5 += l5_rusqlite_insert(&l5_path, rows, true);
            }
        }
        let cells = rows * 10 * reps;
        if mode == "tabular" {
            emit_limit(
                out,
                "L5_rusqlite_insert_1tx@2500x10",
                rows * reps,
                l5,
                json!({"rows": rows, "reps": reps, "cells": cells}),
            );
        }
        out.emit(
            &format!("W7_sqlite_save_{mode}"),
            cells,
            save,
            json!({"rows": rows, "reps": reps, "file_bytes": file_bytes}),
        );
        out.emit(
            &format!("W7_sqlite_load_{mode}"),
            cells,
            load,
            json!({"rows": rows, "reps": reps}),
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// W7 at 100k rows in tabular mode (TinyBase 10.0.1 cannot save it), and auto-saving one
/// changed cell into that 100k-row table (1,000 transactions, each saved).
fn w7_100k(out: &mut Out) {
    let dir = w7_dir();
    let path = dir.join("w7.sqlite");
    let rows = out.size(100_000, 2_000);
    let r = save_then_load(&path, tabular_mode, rows);
    out.emit(
        "W7_sqlite_save_tabular@100k",
        rows * 10,
        r.save,
        json!({"rows": rows, "reps": 1, "file_bytes": r.file_bytes}),
    );
    out.emit(
        "W7_sqlite_load_tabular@100k",
        rows * 10,
        r.load,
        json!({"rows": rows, "reps": 1}),
    );

    fresh_db(&path);
    let store = Store::new();
    fill(&store, 0, rows);
    let persister = Persister::new(&store, open_db(&path, tabular_mode()));
    let errors = Arc::new(AtomicUsize::new(0));
    let counter = errors.clone();
    persister.set_on_ignored_error(move |e| {
        eprintln!("W7 auto-save error: {e}");
        counter.fetch_add(1, Ordering::Relaxed);
    });
    persister.start_auto_save().expect("W7 start_auto_save");
    let saves = out.size(1_000, 100);
    let start = Instant::now();
    for k in 1..=saves {
        store.set_cell("t", "r500", "c0", -(k as f64));
    }
    let time = start.elapsed();
    persister.destroy();
    drop(persister);
    assert_eq!(errors.load(Ordering::Relaxed), 0, "W7 auto-save errors");
    let loaded = Store::new();
    Persister::new(&loaded, open_db(&path, tabular_mode()))
        .load(None)
        .expect("W7 auto-save reload");
    check_loaded(&loaded, rows);
    assert_eq!(
        loaded.get_cell("t", "r500", "c0"),
        Some(Cell::Number(-(saves as f64))),
        "W7 auto-saved cell"
    );
    out.emit(
        "W7_autosave_1_cell_tabular@100k",
        saves,
        time,
        json!({"rows": rows, "us_per_save": (time.as_secs_f64() * 1e6 / saves as f64 * 10.0).round() / 10.0}),
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// W9-W11 (`views.rs`, the same steps as TinyBase's `cli/bench/views.mjs`): 100k or 10k rows
/// (`@10k`), 100k timed writes (W9, W10) or 10k checkpoints and as many steps back (W11).
fn derived_view(out: &mut Out, name: &str) {
    let rows = if name.ends_with("@10k") {
        out.size(10_000, 1_000)
    } else {
        out.size(100_000, 2_000)
    } as u32;
    let ops = out.size(100_000, 2_000) as u32;
    let (workload, run) = match name.trim_end_matches("@10k") {
        "W9" => ("W9_index_upkeep", views::w9(rows, ops)),
        "W10" => ("W10_query_upkeep", views::w10(rows, ops)),
        _ => ("W11_checkpoints", views::w11(out.size(10_000, 500) as u32)),
    };
    let suffix = if name.ends_with("@10k") { "@10k" } else { "" };
    let extra: serde_json::Map<String, Json> = run
        .extra
        .iter()
        .map(|(k, v)| ((*k).to_string(), Json::from(*v)))
        .collect();
    out.emit(
        &format!("{workload}{suffix}"),
        run.ops,
        run.time,
        Json::Object(extra),
    );
}

/// The L5 reference at W7@100k's shape with the SQLite that tinystore bundles: 100k rows in one
/// transaction into a fresh file (the shared limits program measures L5 at 1M rows with its own
/// pinned SQLite; W7's child measures L5 at the 2,500-row shape beside its saves).
fn l5(out: &mut Out) {
    let dir = w7_dir();
    let rows = out.size(100_000, 2_000);
    let time = l5_rusqlite_insert(&dir.join("l5.sqlite"), rows, false);
    emit_limit(
        out,
        "L5_rusqlite_insert_1tx@100k",
        rows,
        time,
        json!({"rows": rows, "reps": 1, "cells": rows * 10}),
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A limit's line: same shape, the limits program's `impl`, and the SQLite version.
fn emit_limit(out: &mut Out, workload: &str, ops: u64, time: Duration, mut extra: Json) {
    if let Json::Object(map) = &mut extra {
        map.insert("sqlite".into(), rusqlite::version().into());
    }
    let mut line = Out {
        run: out.run,
        quick: out.quick,
        instructions: out.instructions,
        lines: Vec::new(),
    };
    line.emit(workload, ops, time, extra);
    for l in line.lines {
        out.lines.push(l.replacen(IMPL, "rust-limit", 1));
    }
}

/// W8: live heap bytes (counted by this binary's allocator) and RSS per cell after `fill`,
/// Store 100k×10 (W8s) or MergeableStore 10k×10 (W8m).
fn w8(out: &mut Out, mergeable: bool) {
    let rows = if mergeable {
        out.size(10_000, 500)
    } else {
        out.size(100_000, 1_000)
    };
    // Counted from before the store is made until after the fill, with the store alive.
    fn measure<S: std::ops::Deref<Target = Store>>(
        make: impl FnOnce() -> S,
        rows: u64,
    ) -> (Duration, isize, i64, u64) {
        COUNTING.store(true, Ordering::SeqCst);
        let (heap0, rss0) = (LIVE.load(Ordering::SeqCst), rss_bytes());
        let start = Instant::now();
        let store = make();
        fill(&store, 0, rows);
        let time = start.elapsed();
        let (heap1, rss1) = (LIVE.load(Ordering::SeqCst), rss_bytes());
        COUNTING.store(false, Ordering::SeqCst);
        let count = store.get_row_count("t") as u64;
        (time, heap1 - heap0, rss1 - rss0, count)
    }
    let (time, heap, rss, count) = if mergeable {
        measure(|| MergeableStore::new(None), rows)
    } else {
        measure(|| Box::new(Store::new()), rows)
    };
    assert_eq!(count, rows, "W8 rows");
    let cells = rows * 10;
    out.emit(
        if mergeable {
            "W8_memory_mergeable"
        } else {
            "W8_memory_store"
        },
        cells,
        time,
        json!({
            "rss_delta_bytes": rss,
            "heap_delta_bytes": heap,
            "rss_bytes_per_cell": (rss as f64 / cells as f64 * 10.0).round() / 10.0,
            "heap_bytes_per_cell": (heap as f64 / cells as f64 * 10.0).round() / 10.0,
        }),
    );
}
