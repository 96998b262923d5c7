//! The `tinystore` command line.
//!
//! - `tinystore demo` runs the main job: the sync server with SQLite persistence, two clients
//!   editing one room until they converge, then the room read back from the database.
//! - `tinystore apply` replays a kit op script on a MergeableStore with a frozen clock, merges
//!   other stores in, and writes TinyBase's file-persister format: the differential test
//!   against TinyBase runs it beside the real thing.
//!
//! - `tinystore dump-sqlite` / `write-sqlite` read and write TinyBase's SQLite files with the
//!   flags, output JSON and exit codes of the kit's `peer.mjs`, so either can run in the same
//!   scripts.
//!
//! - `tinystore serve` / `client`: the WebSocket sync server (rooms persisted to SQLite by
//!   default) and a client, with `peer.mjs`'s flags, output and exit codes.
//!
//! - `tinystore bench`: the performance workloads, one fresh process per run (`bench.rs`).
//!
//! Logs go to stderr (`RUST_LOG` filters them, default `warn`); stdout carries only command
//! output (`PORT`/`READY` for `serve`).

mod apply;
mod args;
mod bench;
mod demo;
mod sqlite;
mod sync;

use std::process::ExitCode;

const USAGE: &str = "usage: tinystore <command> [flags]

commands:
  demo      [--db ./tinystore.sqlite]  start the sync server (rooms persisted to SQLite),
            connect two clients to one room, edit concurrently, show them converge, stop
  apply     --ops OPS.json [--unique-id ID] [--fixed-now MS] [--merge FILE]... --out FILE
            replay kit ops on a MergeableStore, merge stores in from TinyBase file-persister
            files, and write the result in that format
  dump-sqlite  --db f.sqlite --mode json|tabular [--store auto|plain|mergeable]
               [--table tinybase] [--values-table tinybase_values]
               [--tables a,b] [--content-only] [--out f.json]
            load a database as TinyBase would and print {store, content, ...} as JSON
  write-sqlite --db f.sqlite --mode json|tabular [--store plain|mergeable]
               [--in content.json|-] [--table tinybase]
               [--values-table tinybase_values] [--unique-id ID]
               [--fixed-now MS] [--force]
            write content (or a dump's mergeableContent) to a new database
            (flags, output and exit codes as ../shared/kit/peer.mjs)
  serve     [--port 8043] [--host 127.0.0.1] [--db ./tinystore.sqlite | --relay-only]
            [--request-timeout-s S] [--fragment-size N] [--trace f.jsonl] [--no-stdin-watch]
            WebSocket sync server: every room (URL path) is relayed and kept in a
            MergeableStore persisted to the --db file (table tinybase_<path>); prints
            'PORT <n>' then 'READY'; stops on SIGTERM/SIGINT or when a piped stdin closes
  client    --url ws://127.0.0.1:P/room [--ops ops.json|-] [--pre-ops f]
            [--wait-ms N] [--quiet-ms N] [--max-wait-ms N] [--out f.json]
            [--trace f.jsonl] [--unique-id ID] [--fixed-now MS]
            [--protocol tinybase --channel ID] [--fragment-size N]
            [--request-timeout-s S] [--timeout-ms N] [--expect f.json]
            MergeableStore + WebSocket synchronizer; startSync; applies ops; waits; writes
            {content, mergeableContent, contentHashes, ignoredErrors}
  bench     [--runs N] [--quick] [W1 W2 ... W7@100k]
            the workloads of ../shared/perf/WORKLOADS.md, each run in a fresh process,
            one JSON line per measurement as TinyBase's bench prints them; --quick: tiny
            sizes, one run, checks only (CI)
  version   print the version
  help      print this help";

fn main() -> ExitCode {
    init_logging();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rest = args.get(1..).unwrap_or_default();
    match args.first().map(String::as_str) {
        Some("demo") | None => demo::demo(rest),
        Some("apply") => report(apply::run(rest)),
        Some("dump-sqlite") => report(sqlite::dump(rest)),
        Some("write-sqlite") => report(sqlite::write(rest)),
        Some("serve") => report(sync::serve(rest)),
        Some("client") => report(sync::client(rest)),
        Some("bench") => bench::run(rest),
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

/// Logs to stderr only, so stdout stays machine-readable.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Exit status of a command: 0, or 1 with the error on stderr (2 for usage errors).
fn report(result: Result<(), args::CliError>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(args::CliError::Usage(message)) => {
            eprintln!("tinystore: {message}\n\n{USAGE}");
            ExitCode::from(2)
        }
        Err(args::CliError::Failed(message)) => {
            eprintln!("tinystore: {message}");
            ExitCode::FAILURE
        }
        Err(args::CliError::Exit(code, message)) => {
            eprintln!("tinystore: {message}");
            ExitCode::from(code)
        }
    }
}
