//! `tinystore apply`: the Rust side of the differential test against TinyBase.
//!
//! Steps, each as TinyBase does them: `createMergeableStore(uniqueId, () => MS)`, the op
//! script, then for each `--merge FILE` a fresh MergeableStore loaded from that file by the
//! file persister (on the same frozen clock) and `store.merge(other)`, and finally the file
//! persister's `save()`.

use std::path::Path;

use tinystore_core::json;
use tinystore_core::mergeable::MergeableContent;
use tinystore_core::{MergeableStore, content, ops};

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
        load_file(&other, &text).map_err(|e| CliError::failed(format!("{path}: {e}")))?;
        store.merge(&other);
    }
    write_atomically(Path::new(out), &store.get_mergeable_content_json())
}

fn read_json(path: &str) -> Result<serde_json::Value, CliError> {
    json::parse(&read_input(path)?).map_err(|e| CliError::failed(format!("{path}: {e}")))
}

/// Loads a file-persister document as TinyBase's persister `load()` does for a
/// MergeableStore: full content replaces everything, changes are merged, and plain
/// `[tables, values]` content is set as local writes.
fn load_file(store: &MergeableStore, text: &str) -> Result<(), String> {
    let doc = json::parse(text).map_err(|e| e.to_string())?;
    let parts = doc
        .as_array()
        .ok_or("not a TinyBase document (expected a JSON array)")?;
    let stamped = parts.first().is_some_and(serde_json::Value::is_array);
    let max_time = u64::MAX;
    if stamped && parts.len() == 2 {
        let content =
            MergeableContent::from_json(&doc, true, max_time).map_err(|e| e.to_string())?;
        store
            .set_mergeable_content(&content)
            .map_err(|e| e.to_string())?;
    } else if stamped {
        store
            .apply_mergeable_changes_json(text)
            .map_err(|e| e.to_string())?;
    } else if parts.len() == 2 {
        let tables = content::tables_from_json(&parts[0], true).map_err(|e| e.to_string())?;
        let values = content::values_from_json(&parts[1], true).map_err(|e| e.to_string())?;
        store.set_content(&tables, &values);
    } else {
        return Err("not a TinyBase document".into());
    }
    Ok(())
}

/// Writes like TinyBase's file persister: a temporary file beside the target, renamed over it.
fn write_atomically(path: &Path, text: &str) -> Result<(), CliError> {
    let fail = |e: std::io::Error| CliError::failed(format!("{}: {e}", path.display()));
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".{}.tmp", std::process::id()));
    let tmp = std::path::PathBuf::from(tmp);
    std::fs::write(&tmp, text).map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        fail(e)
    })
}
