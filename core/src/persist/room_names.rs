//! Room table names, the same for SQLite and PostgreSQL: the kit's `tinybase_<path>` name for a
//! sync-server room, how a database compares table names ([`IdentifierRules`]), and the choice
//! of a free name when the plain one is taken. The databases' own modules record the choices.

use std::collections::{HashMap, HashSet};

use crate::hash::fnv1a;
use crate::persist::PersistError;

/// The kit's table name for a path: `tinybase_` + the path with every character other than
/// `[A-Za-z0-9_]` replaced by `_` (`tinybase__` for the empty path).
///
/// ```
/// use tinystore_core::persist::room_names::table_for_path;
/// assert_eq!(table_for_path("petShop"), "tinybase_petShop");
/// assert_eq!(table_for_path("a/b-c"), "tinybase_a_b_c");
/// assert_eq!(table_for_path(""), "tinybase__");
/// ```
pub fn table_for_path(path: &str) -> String {
    // JavaScript's regex replaces UTF-16 code units: a character outside the BMP becomes two.
    let sanitized: String = path
        .chars()
        .flat_map(|c| {
            let n = if c.is_ascii_alphanumeric() || c == '_' {
                0
            } else {
                c.len_utf16()
            };
            std::iter::repeat_n('_', n).chain((n == 0).then_some(c))
        })
        .collect();
    if sanitized.is_empty() {
        "tinybase__".into()
    } else {
        format!("tinybase_{sanitized}")
    }
}

/// How a database compares table names: two names are the same table when their
/// [`fold`](IdentifierRules::fold)s are equal.
///
/// ```
/// use tinystore_core::persist::room_names::IdentifierRules;
/// let pg = IdentifierRules::POSTGRES;
/// assert_eq!(IdentifierRules::SQLITE.fold("tinybase_Secret"), "tinybase_secret");
/// assert_eq!(pg.fold(&"a".repeat(100)).len(), 63);
/// assert_eq!(pg.fit(&"a".repeat(100), "_1").len(), 63);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IdentifierRules {
    /// Names differing only in ASCII case are the same name.
    pub fold_case: bool,
    /// Names are cut to this many bytes (at a character boundary), so names equal in their
    /// first `max_len` bytes are the same name; chosen names never exceed it.
    pub max_len: Option<usize>,
}

impl IdentifierRules {
    /// SQLite: identifiers compare ignoring ASCII case (only ASCII: SQLite's own comparison),
    /// any length.
    pub const SQLITE: IdentifierRules = IdentifierRules {
        fold_case: true,
        max_len: None,
    };

    /// PostgreSQL: unquoted identifiers fold to lower case (treating quoted ones alike too is
    /// conservative: it only costs a suffix), and all are truncated to 63 bytes
    /// (`NAMEDATALEN - 1`).
    pub const POSTGRES: IdentifierRules = IdentifierRules {
        fold_case: true,
        max_len: Some(63),
    };

    /// The form under which the database compares `name`.
    ///
    /// ```
    /// use tinystore_core::persist::room_names::IdentifierRules;
    /// let exact = IdentifierRules { fold_case: false, max_len: Some(4) };
    /// assert_eq!(exact.fold("Pets_shop"), "Pets");
    /// assert_eq!(IdentifierRules::SQLITE.fold("Pets_shop"), "pets_shop");
    /// ```
    pub fn fold(&self, name: &str) -> String {
        let name = match self.max_len {
            Some(max) => truncate(name, max),
            None => name,
        };
        if self.fold_case {
            name.to_ascii_lowercase()
        } else {
            name.to_string()
        }
    }

    /// `base` + `suffix`, with `base` (never the suffix, which makes the name distinct) cut at a
    /// character boundary so the whole fits `max_len` bytes.
    ///
    /// ```
    /// use tinystore_core::persist::room_names::IdentifierRules;
    /// let rules = IdentifierRules { fold_case: true, max_len: Some(8) };
    /// // The suffix stays whole; the base is cut, at a character boundary.
    /// assert_eq!(rules.fit("tinybase_x", "_2"), "tinyba_2");
    /// assert_eq!(rules.fit("ééééé", "_2"), "ééé_2");
    /// assert_eq!(IdentifierRules::SQLITE.fit("tinybase_x", "_2"), "tinybase_x_2");
    /// ```
    pub fn fit(&self, base: &str, suffix: &str) -> String {
        let base = match self.max_len {
            Some(max) => truncate(base, max.saturating_sub(suffix.len())),
            None => base,
        };
        format!("{base}{suffix}")
    }
}

/// The longest prefix of `s` of at most `max` bytes ending at a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The `k`-th table name to try for `path`: the plain TinyBase name (fitted), then
/// `_<fnv1a hex>`, then `_<fnv1a hex>_2`, `_3`, …
pub(crate) fn candidate(rules: IdentifierRules, path: &str, k: usize) -> String {
    let plain = table_for_path(path);
    let hash = fnv1a(path.as_bytes());
    match k {
        0 => rules.fit(&plain, ""),
        1 => rules.fit(&plain, &format!("_{hash:08x}")),
        _ => rules.fit(&plain, &format!("_{hash:08x}_{k}")),
    }
}

/// A prefix of every candidate name for `path` that [`choose`] tries: only names starting
/// with it (under the rules' folding) can block one, so a database with many rooms need not
/// list them all for each new room. Under SQLite's rules it is the plain name itself.
pub(crate) fn candidates_prefix(rules: IdentifierRules, path: &str) -> String {
    // The longest suffix `candidate` adds: `_`, 8 hex digits, `_`, a usize's 20 digits.
    const LONGEST_SUFFIX: usize = 30;
    let plain = table_for_path(path);
    match rules.max_len {
        None => plain,
        Some(max) => truncate(&plain, max.saturating_sub(LONGEST_SUFFIX)).to_string(),
    }
}

/// The first free candidate for `path`, which has no recorded table: `claimed` holds the
/// folded names of every recorded table, `existing` every relation of the database by folded
/// name (with its name and whether it is a table). An unclaimed table with exactly the plain
/// name is this room's data as TinyBase's server wrote it, and is adopted.
pub(crate) fn choose(
    rules: IdentifierRules,
    path: &str,
    claimed: &HashSet<String>,
    existing: &HashMap<String, Vec<(String, bool)>>,
    database: &str,
) -> Result<String, PersistError> {
    let plain = candidate(rules, path, 0);
    // Candidates differ from each other under folding (barring contrived paths containing
    // their own hash), so each blocked name rules out at most about one of them.
    let limit = claimed.len() + existing.len() + 16;
    for k in 0..limit {
        let name = if k == 0 {
            plain.clone()
        } else {
            candidate(rules, path, k)
        };
        let folded = rules.fold(&name);
        if claimed.contains(&folded) {
            continue;
        }
        let free = match existing.get(&folded) {
            None => true,
            Some(found) => k == 0 && found.iter().all(|(n, t)| *t && *n == plain),
        };
        if free {
            return Ok(name);
        }
    }
    Err(PersistError::Io(format!(
        "{database}: no free table name for room {path:?} after {limit} candidates"
    )))
}

/// Refuses recorded rooms whose tables the database treats as one
/// ([`PersistError::AliasedRooms`], listing them in a stable order so the message is the same
/// on every start): those rooms' data is already mixed in one table.
pub(crate) fn check_aliases(
    rules: IdentifierRules,
    recorded: Vec<(String, String)>,
) -> Result<(), PersistError> {
    let mut by_fold: HashMap<String, Vec<(String, String)>> = HashMap::new();
    for (path, table) in recorded {
        by_fold
            .entry(rules.fold(&table))
            .or_default()
            .push((path, table));
    }
    let mut groups: Vec<Vec<(String, String)>> =
        by_fold.into_values().filter(|g| g.len() > 1).collect();
    if groups.is_empty() {
        return Ok(());
    }
    for group in &mut groups {
        group.sort();
    }
    groups.sort();
    Err(PersistError::AliasedRooms {
        aliases: groups.into_iter().flatten().collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_candidate_starts_with_the_candidates_prefix() {
        let rules = [
            IdentifierRules::SQLITE,
            IdentifierRules::POSTGRES,
            IdentifierRules {
                fold_case: false,
                max_len: Some(40),
            },
        ];
        let long = "é/".repeat(40);
        for rules in rules {
            for path in ["a/b", "petShop", long.as_str(), "", "x".repeat(70).as_str()] {
                let prefix = candidates_prefix(rules, path);
                for k in (0..40).chain([usize::MAX]) {
                    let name = candidate(rules, path, k);
                    assert!(name.starts_with(&prefix), "{name} lacks {prefix}");
                }
            }
        }
        assert_eq!(
            candidates_prefix(IdentifierRules::SQLITE, "a/b"),
            "tinybase_a_b"
        );
    }
}
