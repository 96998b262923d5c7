//! Message validation (spec sync.md §1.3): which bodies TinyBase accepts for each message.

use super::*;

pub(super) fn is_undefined(j: &Json) -> bool {
    matches!(j, Json::String(s) if s == UNDEFINED_MARKER)
}

pub(super) fn as_integer(j: &Json) -> Option<f64> {
    j.as_f64().filter(|n| n.is_finite() && n.fract() == 0.0)
}

/// A hash: an integer 0…0xFFFFFFFF.
pub fn is_hash(j: &Json) -> bool {
    as_integer(j).is_some_and(|n| (0.0..=4_294_967_295.0).contains(&n))
}

/// `{id: hash}` nested `depth` levels below the top object.
pub fn is_hash_tree(j: &Json, depth: u8) -> bool {
    match j {
        Json::Object(map) => map.values().all(|child| {
            if depth > 0 {
                is_hash_tree(child, depth - 1)
            } else {
                is_hash(child)
            }
        }),
        _ => false,
    }
}

fn is_cell_or_value_or_undefined(j: &Json) -> bool {
    match j {
        Json::Number(n) => n.as_f64().is_some_and(f64::is_finite),
        _ => true,
    }
}

/// A hash-less stamp `[thing]` or `[thing, hlc]`, containers `depth` levels deep (3 = tables,
/// 1 = values, 0 = a cell or value).
pub fn is_stamp(j: &Json, depth: u8) -> bool {
    let Json::Array(parts) = j else { return false };
    let hlc_ok = match parts.len() {
        1 => true,
        2 => {
            matches!(&parts[1], Json::String(s) if !is_undefined(&parts[1]) && is_valid_hlc(s, u64::MAX))
        }
        _ => false,
    };
    hlc_ok
        && if depth > 0 {
            match &parts[0] {
                Json::Object(map) => map.values().all(|c| is_stamp(c, depth - 1)),
                _ => false,
            }
        } else {
            is_cell_or_value_or_undefined(&parts[0])
        }
}

fn is_content_hashes(j: &Json) -> bool {
    matches!(j, Json::Array(a) if a.len() == 2 && is_hash(&a[0]) && is_hash(&a[1]))
}

fn is_changes(j: &Json) -> bool {
    let Json::Array(a) = j else { return false };
    (a.len() == 2 || (a.len() == 3 && a[2].as_f64() == Some(1.0)))
        && is_stamp(&a[0], 3)
        && is_stamp(&a[1], 1)
}

fn is_response(j: &Json) -> bool {
    is_content_hashes(j)
        || is_stamp(j, 3)
        || is_stamp(j, 1)
        || matches!(j, Json::Array(a) if a.len() == 2
            && is_stamp(&a[0], 3)
            && (is_hash_tree(&a[1], 0) || is_hash_tree(&a[1], 1)))
}

/// Whether `body` is valid for `message` (spec §1.3).
pub fn is_body_valid(message: MessageType, body: &Json) -> bool {
    match message {
        MessageType::Response => is_response(body),
        MessageType::GetContentHashes => matches!(body, Json::String(s) if s.is_empty()),
        MessageType::ContentHashes => is_content_hashes(body),
        MessageType::ContentDiff => is_changes(body),
        MessageType::GetTableDiff | MessageType::GetValueDiff => is_hash_tree(body, 0),
        MessageType::GetRowDiff => is_hash_tree(body, 1),
        MessageType::GetCellDiff => is_hash_tree(body, 2),
    }
}

pub(super) fn request_id_of(j: &Json) -> Result<Option<String>, ()> {
    match j {
        Json::Null => Ok(None),
        Json::String(s) if s != UNDEFINED_MARKER => Ok(Some(s.clone())),
        _ => Err(()),
    }
}
