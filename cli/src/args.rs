//! Flag parsing shared by the commands: `--name value` pairs, some repeatable.

use std::collections::HashMap;

/// A command's failure: bad usage (exit 2) or a failed run (exit 1).
#[derive(Debug)]
pub(crate) enum CliError {
    Usage(String),
    Failed(String),
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
