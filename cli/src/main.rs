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
//!
//! Flags are parsed by `clap` (each command's `Args` struct lives in its module; the shared
//! value checks in `args.rs`): an unknown flag, a missing value or an out-of-range number is a
//! usage error (exit 2, naming the flag); `--help` prints the command's flags and exits 0;
//! every file or stdin input is read through `args::read_input`, capped at 256 MiB.

mod apply;
mod args;
mod bench;
mod demo;
mod logging;
mod sqlite;
mod sync;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

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
            [--auth-tokens FILE] [--max-rooms N] [--max-connections N]
            [--tls-cert FILE --tls-key FILE]
            [--save-interval-ms 1000] [--inspector-write | --no-inspector]
            WebSocket sync server: every room (URL path) is relayed and kept in a
            MergeableStore persisted to the --db file (table tinybase_<path>); prints
            'PORT <n>' then 'READY'; stops on SIGTERM/SIGINT or when a piped stdin closes;
            http://HOST:PORT/inspector shows the rooms live (read-only unless
            --inspector-write; --no-inspector turns it off)
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
  help      print this help; `tinystore help <command>` or `tinystore <command> --help`
            print a command's flags

Usage errors (an unknown flag, a missing or out-of-range value) exit with status 2; files
and stdin are read up to 256 MiB each.";

/// The command line; each command's flags are its module's `clap::Args`.
#[derive(Parser, Debug)]
#[command(
    name = "tinystore",
    version,
    override_help = USAGE,
    override_usage = "tinystore <command> [flags]",
    disable_help_subcommand = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Start the sync server, connect two clients to one room, show them converge
    Demo(demo::DemoArgs),
    /// Replay kit ops on a MergeableStore, merge stores in, write a file-persister file
    Apply(apply::ApplyArgs),
    /// Load a database as TinyBase would and print it as JSON (as peer.mjs dump-sqlite)
    DumpSqlite(sqlite::DumpArgs),
    /// Write content to a new database (as peer.mjs write-sqlite)
    WriteSqlite(sqlite::WriteArgs),
    /// The WebSocket sync server; prints 'PORT <n>' then 'READY'
    Serve(sync::ServeArgs),
    /// A MergeableStore synchronized with a server (as peer.mjs client)
    Client(sync::ClientArgs),
    /// The performance workloads, each run in a fresh process
    Bench(bench::BenchArgs),
    /// Print the version
    Version,
    /// Print this help, or a command's
    Help {
        /// The command whose flags to print
        command: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            logging::init(logging::LogFormat::Text, None);
            // Help and version go to stdout (exit 0); usage errors to stderr (exit 2).
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    match &cli.command {
        Some(Command::Serve(args)) => logging::init(args.log_format, args.log_level.as_deref()),
        _ => logging::init(logging::LogFormat::Text, None),
    }
    match cli.command {
        None | Some(Command::Help { command: None }) => print_help(USAGE),
        Some(Command::Demo(args)) => demo::demo(args),
        Some(Command::Apply(args)) => report(apply::run(args)),
        Some(Command::DumpSqlite(args)) => report(sqlite::dump(args)),
        Some(Command::WriteSqlite(args)) => report(sqlite::write(args)),
        Some(Command::Serve(args)) => report(sync::serve(args)),
        Some(Command::Client(args)) => report(sync::client(args)),
        Some(Command::Bench(args)) => bench::run(args),
        Some(Command::Version) => {
            println!("tinystore {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Some(Command::Help {
            command: Some(name),
        }) => {
            let mut cli = Cli::command();
            match cli.find_subcommand_mut(&name) {
                Some(sub) => {
                    let mut sub = sub.clone().bin_name(format!("tinystore {name}"));
                    print_help(&sub.render_long_help().to_string())
                }
                _ => {
                    eprintln!("tinystore: unknown command '{name}'\n\n{USAGE}");
                    ExitCode::from(2)
                }
            }
        }
    }
}

/// Prints help on stdout; a closed pipe (`tinystore help | head`) is not an error.
fn print_help(text: &str) -> ExitCode {
    use std::io::Write;
    let _ = writeln!(std::io::stdout(), "{}", text.trim_end());
    ExitCode::SUCCESS
}

/// Exit status of a command: 0, or its error's status with the message on stderr.
fn report(result: Result<(), args::CliError>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
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
