//! Flag parsing shared by the commands: `--name value` pairs, some repeatable.

use std::collections::HashMap;

use serde_json::{Value as Json, json};
use tinystore_core::json::stringify_pretty;
use tinystore_core::{MergeableStore, Store, content};

/// A command's failure: bad usage (exit 2) or a failed run (exit 1).
#[derive(Debug)]
pub(crate) enum CliError {
    Usage(String),
    Failed(String),
    /// A message and an exit status, without the usage text (the kit's `fail(message, code)`).
    Exit(u8, String),
}

impl CliError {
    pub(crate) fn failed(message: impl std::fmt::Display) -> CliError {
        CliError::Failed(message.to_string())
    }
}

/// Parsed `--flag value` pairs.
pub(crate) struct Flags {
    values: HashMap<String, Vec<String>>,
}

impl Flags {
    /// Parses `args`, accepting only the `known` flags (each takes one value).
    pub(crate) fn parse(args: &[String], known: &[&str]) -> Result<Flags, CliError> {
        let mut values: HashMap<String, Vec<String>> = HashMap::new();
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let name = arg
                .strip_prefix("--")
                .filter(|n| known.contains(n))
                .ok_or_else(|| CliError::Usage(format!("unexpected argument '{arg}'")))?;
            let value = it
                .next()
                .ok_or_else(|| CliError::Usage(format!("--{name} needs a value")))?;
            values
                .entry(name.to_string())
                .or_default()
                .push(value.clone());
        }
        Ok(Flags { values })
    }

    /// The last value of a flag.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .and_then(|v| v.last())
            .map(String::as_str)
    }

    /// A flag that must be present.
    pub(crate) fn required(&self, name: &str) -> Result<&str, CliError> {
        self.get(name)
            .ok_or_else(|| CliError::Usage(format!("--{name} is required")))
    }

    /// Every value of a repeatable flag, in order.
    pub(crate) fn all(&self, name: &str) -> &[String] {
        self.values.get(name).map(Vec::as_slice).unwrap_or_default()
    }
}

/// Flags parsed the way the kit's `peer.mjs` parses them: `--name value`, `--name=value`, or a
/// bare `--name` (true) when no value follows; other arguments are positional.
pub(crate) struct PeerFlags {
    flags: HashMap<String, Option<String>>,
}

impl PeerFlags {
    pub(crate) fn parse(args: &[String]) -> PeerFlags {
        let mut flags = HashMap::new();
        let mut i = 0;
        while i < args.len() {
            if let Some(name) = args[i].strip_prefix("--") {
                if let Some((name, value)) = name.split_once('=') {
                    flags.insert(name.to_string(), Some(value.to_string()));
                } else {
                    match args.get(i + 1) {
                        Some(next) if !(next.starts_with("--") && next.len() > 2) => {
                            flags.insert(name.to_string(), Some(next.clone()));
                            i += 1;
                        }
                        _ => {
                            flags.insert(name.to_string(), None);
                        }
                    }
                }
            }
            i += 1;
        }
        PeerFlags { flags }
    }

    /// A flag's value (`None` when absent or given without a value).
    pub(crate) fn value(&self, name: &str) -> Option<&str> {
        self.flags.get(name).and_then(|v| v.as_deref())
    }

    /// Whether the flag was given at all.
    pub(crate) fn has(&self, name: &str) -> bool {
        self.flags.contains_key(name)
    }
}

// ---------------------------------------------------------------------------------- peer.mjs helpers

/// `fail(message)` of peer.mjs: exit 2 with the message.
pub(crate) fn peer_fail(message: impl std::fmt::Display) -> CliError {
    CliError::Exit(2, message.to_string())
}

/// peer.mjs's `newMergeableStore`: `--unique-id` and a clock frozen at `--fixed-now`.
pub(crate) fn new_mergeable_store(flags: &PeerFlags) -> Result<MergeableStore, CliError> {
    let unique_id = flags.value("unique-id");
    match flags.value("fixed-now") {
        None => Ok(MergeableStore::new(unique_id)),
        Some(ms) => {
            let now = ms
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite() && *n >= 0.0)
                .ok_or_else(|| peer_fail("--fixed-now must be a number"))?
                as u64;
            Ok(MergeableStore::with_clock(unique_id, Box::new(move || now)))
        }
    }
}

/// peer.mjs's `writeOut`: two-space JSON and a newline, to `--out` or stdout.
pub(crate) fn write_out(flags: &PeerFlags, value: &Json) -> Result<(), CliError> {
    let text = stringify_pretty(value, "  ") + "\n";
    match flags.value("out") {
        Some(file) => {
            std::fs::write(file, text).map_err(|e| CliError::Exit(1, format!("{file}: {e}")))
        }
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
