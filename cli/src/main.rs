//! The `tinystore` command line.
//!
//! - `tinystore demo` creates a store, registers listeners, writes and prints what happened.
//! - `tinystore apply` replays a kit op script on a MergeableStore with a frozen clock, merges
//!   other stores in, and writes TinyBase's file-persister format: the differential test
//!   against TinyBase runs it beside the real thing.
//!
//! `serve`, `client`, `dump-sqlite`, `write-sqlite` (mirroring `../shared/kit/peer.mjs`) and
//! `bench` arrive with the persister, sync and benchmark work.

mod apply;
mod args;
mod demo;

use std::process::ExitCode;

const USAGE: &str = "usage: tinystore <command> [flags]

commands:
  demo      create a store, register listeners, write some data and print what happened
  apply     --ops OPS.json [--unique-id ID] [--fixed-now MS] [--merge FILE]... --out FILE
            replay kit ops on a MergeableStore, merge stores in from TinyBase file-persister
            files, and write the result in that format
  version   print the version
  help      print this help";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rest = args.get(1..).unwrap_or_default();
    match args.first().map(String::as_str) {
        Some("demo") | None => demo::demo(),
        Some("apply") => report(apply::run(rest)),
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
    }
}
