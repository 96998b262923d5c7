//! `tinystore apply`: the Rust side of the differential test against TinyBase.
//!
//! Steps, each as TinyBase does them: `createMergeableStore(uniqueId, () => MS)`, the op
//! script, then for each `--merge FILE` a fresh MergeableStore loaded from that file by the
//! file persister (on the same frozen clock) and `store.merge(other)`, and finally the file
//! persister's `save()`. Loading and writing are the core's ([`apply_document`],
//! [`write_atomically`]): the command has no file format or write path of its own.

use std::path::Path;

use tinystore_core::persist::file::write_atomically;
use tinystore_core::persist::{Persistable, apply_document};
use tinystore_core::{MergeableStore, json, ops};

use crate::args::{CliError, StoreArgs, read_input};

/// `tinystore apply`: flags as `tests/interop/apply/tinybase_apply.mjs` takes them.
#[derive(clap::Args, Debug)]
#[command(args_override_self = true)]
pub(crate) struct ApplyArgs {
    /// The kit op script to replay (a JSON array of ops; `-` for stdin)
    #[arg(long, value_name = "OPS.json")]
    ops: String,
    #[command(flatten)]
    store: StoreArgs,
    /// A TinyBase file-persister file to merge in (repeatable, merged in order)
    #[arg(long = "merge", value_name = "FILE", action = clap::ArgAction::Append)]
    merges: Vec<String>,
    /// Where to write the result (TinyBase's file-persister format)
    #[arg(long, value_name = "FILE")]
    out: String,
}

pub(crate) fn run(flags: ApplyArgs) -> Result<(), CliError> {
    let ops_path = flags.ops.as_str();
    let out = flags.out.as_str();
    let fixed_now = flags.store.fixed_now;

    let script = read_json(ops_path)?;
    ops::check_ops(&script).map_err(|e| CliError::failed(format!("{ops_path}: {e}")))?;
    // Read every input before changing anything, so a bad file fails the whole command.
    let merges = flags
        .merges
        .iter()
        .map(|path| read_input(path).map(|text| (path.as_str(), text)))
        .collect::<Result<Vec<_>, _>>()?;

    let unique_id = flags.store.unique_id.as_deref();
    let store = match fixed_now {
        Some(ms) => MergeableStore::with_clock(unique_id, Box::new(move || ms)),
        None => MergeableStore::new(unique_id),
    };
    ops::apply_ops(&store, &script).map_err(|e| CliError::failed(format!("{ops_path}: {e}")))?;
    for (path, text) in merges {
        // The other store never makes an HLC of its own; sharing the frozen clock keeps its
        // future-HLC check (now + 5 min) deterministic.
        let other = match fixed_now {
            Some(ms) => MergeableStore::with_clock(None, Box::new(move || ms)),
            None => MergeableStore::new(None),
        };
        apply_document(&other.target(), &text)
            .map_err(|e| CliError::failed(format!("{path}: {e}")))?;
        store.merge(&other);
    }
    let document = store.get_mergeable_content_json();
    write_atomically(Path::new(out), document.as_bytes())
        .map_err(|e| CliError::failed(format!("{out}: {e}")))
}

fn read_json(path: &str) -> Result<serde_json::Value, CliError> {
    json::parse(&read_input(path)?).map_err(|e| CliError::failed(format!("{path}: {e}")))
}
