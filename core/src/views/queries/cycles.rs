//! Definitions whose `select_all` columns would feed each other forever: a query selecting all
//! of another query's result under new cell ids, where that result (through any chain of
//! `select_all`s) selects all of the first one, would add columns on every round.

use std::collections::{HashMap, HashSet};

use indexmap::IndexMap;

/// Per query: the query results it selects all cells of, and whether it renames their ids.
pub(crate) type SelectAllSources = IndexMap<String, bool>;

/// Whether giving `query` the sources `next` makes a cycle through a renaming `select_all`
/// (TinyBase's error 16). Cycles that keep cell ids settle, and are allowed.
pub(crate) fn has_renaming_cycle(
    query: &str,
    next: &SelectAllSources,
    others: &HashMap<String, SelectAllSources>,
) -> bool {
    let sources = |q: &str| -> Option<&SelectAllSources> {
        if q == query {
            Some(next)
        } else {
            others.get(q)
        }
    };
    fn reaches<'a>(
        sources: &dyn Fn(&str) -> Option<&'a SelectAllSources>,
        from: &str,
        target: &str,
        seen: &mut HashSet<String>,
    ) -> bool {
        if from == target {
            return true;
        }
        if !seen.insert(from.to_string()) {
            return false;
        }
        sources(from).is_some_and(|s| s.keys().any(|n| reaches(sources, n, target, seen)))
    }
    let renaming_cycle = |q: &str, s: &SelectAllSources| {
        s.iter()
            .any(|(n, renames)| *renames && reaches(&sources, n, q, &mut HashSet::new()))
    };
    renaming_cycle(query, next)
        || others
            .iter()
            .any(|(q, s)| q != query && renaming_cycle(q, s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sources(entries: &[(&str, bool)]) -> SelectAllSources {
        entries.iter().map(|(q, r)| (q.to_string(), *r)).collect()
    }

    #[test]
    fn a_renaming_loop_is_a_cycle_and_a_plain_one_is_not() {
        let mut others = HashMap::new();
        others.insert("b".to_string(), sources(&[("a", false)]));
        assert!(has_renaming_cycle("a", &sources(&[("b", true)]), &others));
        assert!(!has_renaming_cycle("a", &sources(&[("b", false)]), &others));
        assert!(!has_renaming_cycle("a", &sources(&[("c", true)]), &others));
        others.insert("b".to_string(), sources(&[("a", true)]));
        assert!(has_renaming_cycle("a", &sources(&[("b", false)]), &others));
        assert!(has_renaming_cycle(
            "a",
            &sources(&[("a", true)]),
            &HashMap::new()
        ));
    }
}
