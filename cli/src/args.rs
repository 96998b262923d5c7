//! What the commands share: their failure type, the value checks of their flags (each flag is
//! parsed by `clap`; a bad value is a usage error, exit 2, that names the flag), bounded input
//! reading, and the helpers of the kit's `peer.mjs`.

use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use serde_json::{Value as Json, json};
use tinystore_core::json::stringify_pretty;
use tinystore_core::persist::file::write_atomically;
use tinystore_core::{MergeableStore, Store, content};

/// A command's failure: a failed run (exit 1), or a message with its own exit status.
#[derive(Debug)]
pub(crate) enum CliError {
    Failed(String),
    /// A message and an exit status, without the usage text (the kit's `fail(message, code)`).
    Exit(u8, String),
}

impl CliError {
    pub(crate) fn failed(message: impl std::fmt::Display) -> CliError {
        CliError::Failed(message.to_string())
    }
}

// ---------------------------------------------------------------------------------- input

/// The most any command reads from one input file or stdin: 256 MiB.
pub(crate) const MAX_INPUT_BYTES: u64 = 256 * 1024 * 1024;

/// Reads a whole input, a file or `-` for stdin, as UTF-8 text: never more than
/// [`MAX_INPUT_BYTES`] (a longer input, or one that never ends such as `/dev/zero`, fails
/// with `<file>: larger than 256 MiB`, exit 1).
pub(crate) fn read_input(path: &str) -> Result<String, CliError> {
    read_input_capped(path, MAX_INPUT_BYTES)
}

fn read_input_capped(path: &str, cap: u64) -> Result<String, CliError> {
    let name = if path == "-" { "stdin" } else { path };
    let io_error = |e: std::io::Error| CliError::Exit(1, format!("{name}: {e}"));
    let too_large = || {
        CliError::Exit(
            1,
            format!(
                "{name}: larger than {}",
                human_size(MAX_INPUT_BYTES.min(cap))
            ),
        )
    };
    let mut bytes = Vec::new();
    if path == "-" {
        std::io::stdin()
            .lock()
            .take(cap + 1)
            .read_to_end(&mut bytes)
            .map_err(io_error)?;
    } else {
        let file = std::fs::File::open(path).map_err(io_error)?;
        // A regular file's size is known: refuse a big one without reading it.
        if let Ok(meta) = file.metadata()
            && meta.is_file()
            && meta.len() > cap
        {
            return Err(too_large());
        }
        file.take(cap + 1)
            .read_to_end(&mut bytes)
            .map_err(io_error)?;
    }
    if bytes.len() as u64 > cap {
        return Err(too_large());
    }
    String::from_utf8(bytes).map_err(|_| CliError::Exit(1, format!("{name}: not valid UTF-8")))
}

fn human_size(bytes: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if bytes >= MIB && bytes % MIB == 0 {
        format!("{} MiB", bytes / MIB)
    } else {
        format!("{bytes} bytes")
    }
}

// ---------------------------------------------------------------------------------- value checks

/// Longest duration (ms) any `--*-ms` flag accepts: one day.
pub(crate) const MAX_MS: f64 = 86_400_000.0;
/// Longest `--request-timeout-s` (seconds): one day.
pub(crate) const MAX_REQUEST_TIMEOUT_S: f64 = 86_400.0;
/// Largest `--fragment-size` (bytes): 16 MiB.
pub(crate) const MAX_FRAGMENT_SIZE: usize = 16 * 1024 * 1024;

/// A finite number (peer.mjs's `Number(...)` of a flag, surrounding spaces allowed).
fn number(s: &str) -> Result<f64, String> {
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|n| n.is_finite())
        .ok_or_else(|| "must be a number".to_string())
}

/// A whole number in `lo..=hi`.
fn whole_in(s: &str, lo: u64, hi: u64) -> Result<u64, String> {
    let what = || format!("must be a whole number from {lo} to {hi}");
    let n = number(s).map_err(|_| what())?;
    if n.fract() != 0.0 || n < lo as f64 || n > hi as f64 {
        return Err(what());
    }
    Ok(n as u64)
}

/// `--port`: 0 (a free port) to 65535.
pub(crate) fn parse_port(s: &str) -> Result<u16, String> {
    whole_in(s, 0, 65535).map(|n| n as u16)
}

/// `--fragment-size`: 1 byte to 16 MiB.
pub(crate) fn parse_fragment_size(s: &str) -> Result<usize, String> {
    whole_in(s, 1, MAX_FRAGMENT_SIZE as u64).map(|n| n as usize)
}

/// `--request-timeout-s`: seconds, more than 0 and at most one day.
pub(crate) fn parse_request_timeout(s: &str) -> Result<Duration, String> {
    let what =
        || format!("must be a number of seconds above 0 and at most {MAX_REQUEST_TIMEOUT_S}");
    let n = number(s).map_err(|_| what())?;
    if n <= 0.0 || n > MAX_REQUEST_TIMEOUT_S {
        return Err(what());
    }
    Duration::try_from_secs_f64(n).map_err(|_| what())
}

/// `--timeout-ms`, `--wait-ms`, `--quiet-ms`, `--max-wait-ms`: milliseconds, 0 to one day.
pub(crate) fn parse_ms(s: &str) -> Result<f64, String> {
    let what = || format!("must be a number of milliseconds from 0 to {MAX_MS}");
    let n = number(s).map_err(|_| what())?;
    if !(0.0..=MAX_MS).contains(&n) {
        return Err(what());
    }
    Ok(n)
}

/// `--fixed-now`: milliseconds since the epoch, 0 to the latest time an HLC can carry
/// (2^42 - 1, in 2109); a fraction is dropped, as TinyBase's HLC encoding drops it.
pub(crate) fn parse_fixed_now(s: &str) -> Result<u64, String> {
    let max = tinystore_core::hlc::MAX_TIME;
    let what = || format!("must be a number of milliseconds from 0 to {max}");
    let n = number(s).map_err(|_| what())?;
    if !(0.0..=max as f64).contains(&n) {
        return Err(what());
    }
    Ok(n as u64)
}

/// A file that exists and can be read (opened here, read later by whoever uses it).
pub(crate) fn parse_readable_file(s: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(s);
    let file = std::fs::File::open(&path).map_err(|e| format!("cannot read {s}: {e}"))?;
    match file.metadata() {
        Ok(meta) if meta.is_dir() => Err(format!("{s} is a directory, not a file")),
        Ok(_) => Ok(path),
        Err(e) => Err(format!("cannot read {s}: {e}")),
    }
}

// ---------------------------------------------------------------------------------- peer.mjs helpers

/// `fail(message)` of peer.mjs: exit 2 with the message.
pub(crate) fn peer_fail(message: impl std::fmt::Display) -> CliError {
    CliError::Exit(2, message.to_string())
}

/// The flags of peer.mjs's `newMergeableStore`.
#[derive(Args, Debug, Clone, Default)]
pub(crate) struct StoreArgs {
    /// The MergeableStore's unique id (taken verbatim, even "" or "-x")
    #[arg(long = "unique-id", value_name = "ID", allow_hyphen_values = true)]
    pub(crate) unique_id: Option<String>,
    /// Freeze the store's clock at MS (milliseconds since the epoch, 0 to 2^42-1)
    #[arg(long = "fixed-now", value_name = "MS", value_parser = parse_fixed_now,
          allow_negative_numbers = true)]
    pub(crate) fixed_now: Option<u64>,
}

/// peer.mjs's `newMergeableStore`: `--unique-id` and a clock frozen at `--fixed-now`.
pub(crate) fn new_mergeable_store(flags: &StoreArgs) -> MergeableStore {
    let unique_id = flags.unique_id.as_deref();
    match flags.fixed_now {
        None => MergeableStore::new(unique_id),
        Some(now) => MergeableStore::with_clock(unique_id, Box::new(move || now)),
    }
}

/// peer.mjs's `writeOut`: two-space JSON and a newline, to `--out` or stdout.
pub(crate) fn write_out(out: Option<&str>, value: &Json) -> Result<(), CliError> {
    let text = stringify_pretty(value, "  ") + "\n";
    match out {
        // Atomically (and synced), as the core writes every file: a reader never sees half.
        Some(file) => write_atomically(std::path::Path::new(file), text.as_bytes())
            .map_err(|e| CliError::Exit(1, format!("{file}: {e}"))),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

/// A store's content as TinyBase's public `getContent()` prints it.
pub(crate) fn public_content(store: &Store) -> Json {
    let (tables, values) = store.get_content();
    json!([
        content::tables_to_json(&tables, false),
        content::values_to_json(&values, false)
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_checked() {
        assert_eq!(parse_port("0"), Ok(0));
        assert_eq!(parse_port(" 65535 "), Ok(65535));
        for bad in ["65536", "-1", "1.5", "abc", "", "NaN", "inf"] {
            assert!(parse_port(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_request_timeout("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(
            parse_request_timeout("86400"),
            Ok(Duration::from_secs(86400))
        );
        for bad in ["0", "-1", "1e20", "86400.5", "abc", "inf", "NaN"] {
            assert!(parse_request_timeout(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_fragment_size("1"), Ok(1));
        assert_eq!(parse_fragment_size("16777216"), Ok(16 * 1024 * 1024));
        for bad in ["0", "16777217", "-5", "2.5"] {
            assert!(parse_fragment_size(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_ms("0"), Ok(0.0));
        assert!(parse_ms("-1").is_err());
        assert!(parse_ms("1e20").is_err());
        assert_eq!(parse_fixed_now("1700000000000"), Ok(1_700_000_000_000));
        assert_eq!(parse_fixed_now("4398046511103"), Ok((1 << 42) - 1));
        assert!(parse_fixed_now("4398046511104").is_err());
        assert!(parse_fixed_now("-1").is_err());
    }

    #[test]
    fn input_is_capped() {
        let dir = std::env::temp_dir().join(format!("tinystore-args-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("in.json");
        std::fs::write(&file, "[1,2,3]").unwrap();
        let path = file.to_str().unwrap();
        assert_eq!(read_input_capped(path, 7).unwrap(), "[1,2,3]");
        let Err(CliError::Exit(1, message)) = read_input_capped(path, 6) else {
            panic!("not refused");
        };
        assert_eq!(message, format!("{path}: larger than 6 bytes"));
        // A device that never ends stops at the cap.
        let Err(CliError::Exit(1, message)) = read_input_capped("/dev/zero", 1000) else {
            panic!("not refused");
        };
        assert_eq!(message, "/dev/zero: larger than 1000 bytes");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
