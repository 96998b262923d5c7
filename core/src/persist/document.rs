//! TinyBase's JSON documents applied to a store, as its persisters load them: checked whole
//! first, then set, merged or applied as changes.

use crate::content::{self, Changes, Tables, Values};
use crate::json;
use crate::mergeable::MergeableContent;

use super::{PersistError, Persisted, Target};

/// Applies what was read, per spec persist.md §1.
pub(super) fn apply_persisted(
    target: &Target,
    read: Option<Persisted>,
    initial: Option<(&Tables, &Values)>,
) -> Result<(), PersistError> {
    let store = target.store();
    match read {
        None => {
            if let Some((tables, values)) = initial {
                match target {
                    Target::Store(s) => {
                        s.set_content(tables, values);
                    }
                    Target::Mergeable(m) => {
                        m.set_default_content(tables, values);
                    }
                }
            }
            Ok(())
        }
        Some(Persisted::Content(tables, values)) => {
            store.set_owned_content(tables, values);
            Ok(())
        }
        Some(Persisted::Json(text)) => apply_document(target, &text),
    }
}

/// Applies a TinyBase JSON document to a store, checking all of it first, as TinyBase's
/// persisters `load()` it: for a MergeableStore, MergeableContent replaces content and stamps
/// and MergeableChanges (`[…, 1]`) are merged; a plain Store takes MergeableContent's live
/// cells as its content; `[tables, values]` is set and `[tables, values, 1]` applied as
/// changes (local writes on a MergeableStore).
///
/// ```
/// use tinystore_core::persist::{Persistable, apply_document};
/// use tinystore_core::MergeableStore;
/// let store = MergeableStore::new(None);
/// apply_document(&store.target(), r#"[{"pets":{"fido":{"legs":4}}},{}]"#).unwrap();
/// assert_eq!(store.get_json(), r#"[{"pets":{"fido":{"legs":4}}},{}]"#);
/// assert!(apply_document(&store.target(), "{}").is_err());
/// ```
pub fn apply_document(target: &Target, text: &str) -> Result<(), PersistError> {
    // The common documents in one pass; anything else through the checked path below.
    if let Some((tables, values)) = content::content_from_str(text) {
        target.store().set_owned_content(tables, values);
        return Ok(());
    }
    if let Target::Mergeable(m) = target
        && is_stamped_content(text)
        && m.set_mergeable_content_json(text).is_ok()
    {
        return Ok(());
    }
    let doc = json::parse(text).map_err(PersistError::content_from)?;
    let parts = doc
        .as_array()
        .ok_or_else(|| PersistError::content("expected a JSON array"))?;
    let stamped = parts.first().is_some_and(serde_json::Value::is_array);
    let is_changes = parts.len() == 3 && parts[2].as_f64() == Some(1.0);
    match (target, stamped) {
        (Target::Mergeable(m), true) => {
            if is_changes {
                m.apply_mergeable_changes_json(text)?;
            } else {
                m.set_mergeable_content_json(text)?;
            }
        }
        (Target::Store(_), true) => {
            // A plain Store loads MergeableContent as its plain content, as TinyBase does.
            let content = MergeableContent::from_json(&doc, false, u64::MAX)?;
            let (tables, values) = plain_content(&content);
            target.store().set_content(&tables, &values);
        }
        (_, false) if is_changes => {
            let changes = Changes::from_json(&doc).map_err(PersistError::content_from)?;
            target.store().apply_changes(&changes);
        }
        (_, false) if parts.len() == 2 => {
            let tables =
                content::tables_from_json(&parts[0], true).map_err(PersistError::content_from)?;
            let values =
                content::values_from_json(&parts[1], true).map_err(PersistError::content_from)?;
            target.store().set_content(&tables, &values);
        }
        _ => return Err(PersistError::content("not a TinyBase document")),
    }
    Ok(())
}

/// Whether a document is framed as stamped content is (`[[…]]`), so that a MergeableStore
/// may take it whole; changes (`[…, 1]`) and errors go through the checked path.
fn is_stamped_content(text: &str) -> bool {
    let mut head = text.bytes().filter(|b| !b.is_ascii_whitespace());
    let mut tail = text.bytes().rev().filter(|b| !b.is_ascii_whitespace());
    head.next() == Some(b'[')
        && head.next() == Some(b'[')
        && tail.next() == Some(b']')
        && tail.next() == Some(b']')
}

/// The live (non-tombstone) cells and values of stamped content.
fn plain_content(content: &MergeableContent) -> (Tables, Values) {
    let mut tables = Tables::new();
    for (t, table) in &content.tables.thing {
        for (r, row) in &table.thing {
            for (c, cell) in &row.thing {
                if let Some(v) = &cell.thing {
                    tables
                        .entry(t.clone())
                        .or_default()
                        .entry(r.clone())
                        .or_default()
                        .insert(c.clone(), v.clone());
                }
            }
        }
    }
    let values = content
        .values
        .thing
        .iter()
        .filter_map(|(v, s)| s.thing.clone().map(|x| (v.clone(), x)))
        .collect();
    (tables, values)
}
