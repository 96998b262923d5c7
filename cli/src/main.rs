//! The `tinystore` command line.
//!
//! - `tinystore demo` creates a store, registers listeners, writes and prints what happened.
//! - `tinystore apply` replays a kit op script on a MergeableStore with a frozen clock, merges
//!   other stores in, and writes TinyBase's file-persister format: the differential test
//!   against TinyBase runs it beside the real thing.
//!
//! - `tinystore dump-sqlite` / `write-sqlite` read and write TinyBase's SQLite files with the
//!   flags, output JSON and exit codes of the kit's `peer.mjs`, so either can run in the same
//!   scripts.
//!
//! `serve`, `client` (mirroring `peer.mjs` too) and `bench` arrive with the sync and benchmark
//! work.

mod apply;
mod args;
mod demo;
mod sqlite;

use std::process::ExitCode;

const USAGE: &str = "usage: tinystore <command> [flags]

commands:
  demo      create a store, register listeners, write some data and print what happened
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
  version   print the version
  help      print this help";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rest = args.get(1..).unwrap_or_default();
    match args.first().map(String::as_str) {
        Some("demo") | None => demo::demo(),
        Some("apply") => report(apply::run(rest)),
        Some("dump-sqlite") => report(sqlite::dump(rest)),
        Some("write-sqlite") => report(sqlite::write(rest)),
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
