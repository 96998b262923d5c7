//! The listener registry every derived view uses: ids from its own pool, wildcard paths, and
//! TinyBase's calling order.
//!
//! A listener is registered for a kind and a path of ids where `None` is TinyBase's `null`
//! ("any"). A call for the path `[a, b]` reaches, in this order, the listeners of `[a, b]`,
//! `[a, *]`, `[*, b]`, `[*, *]` (exact before wildcard, depth first), each group in
//! registration order: the order TinyBase's `callListeners` visits its id-set tree in.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::ordmap::IdHasher;
use crate::store::ListenerId;
use crate::types::Text;

/// TinyBase's `getPoolFunctions`: ids `0`, `1`, … with released ids reused first-in first-out
/// (at most 1,000 kept for reuse). See the tests below for an example.
#[derive(Debug, Default)]
pub(crate) struct IdPool {
    next: u32,
    free: VecDeque<u32>,
}

impl IdPool {
    /// The next id: a released one first, else a new one.
    pub(crate) fn take(&mut self) -> u32 {
        self.free.pop_front().unwrap_or_else(|| {
            self.next += 1;
            self.next - 1
        })
    }

    /// Releases an id for reuse.
    pub(crate) fn give(&mut self, id: u32) {
        if self.free.len() < 1000 {
            self.free.push_back(id);
        }
    }
}

/// A listener path: one id or wildcard per level.
pub(crate) type Path = Vec<Option<Text>>;

struct Entry<C> {
    kind: u8,
    path: Path,
    callback: Arc<Mutex<C>>,
}

/// The listeners of one view object. `C` is the view's callback type (an enum of boxed
/// closures, one variant per listener kind); `kind` numbers are the view's own. The tests
/// below show the calling order.
pub(crate) struct Registry<C> {
    pool: IdPool,
    entries: HashMap<u32, Entry<C>>,
    /// Listener ids by kind (the index) and path, looked up by a borrowed path.
    by_path: Vec<HashMap<Path, Vec<u32>, IdHasher>>,
}

impl<C> Default for Registry<C> {
    fn default() -> Self {
        Registry {
            pool: IdPool::default(),
            entries: HashMap::new(),
            by_path: Vec::new(),
        }
    }
}

impl<C> Registry<C> {
    /// Registers `callback` for `kind` at `path`.
    pub(crate) fn add(&mut self, kind: u8, path: Path, callback: C) -> ListenerId {
        let id = self.pool.take();
        let kind_index = usize::from(kind);
        if self.by_path.len() <= kind_index {
            self.by_path.resize_with(kind_index + 1, HashMap::default);
        }
        self.by_path[kind_index]
            .entry(path.clone())
            .or_default()
            .push(id);
        self.entries.insert(
            id,
            Entry {
                kind,
                path,
                callback: Arc::new(Mutex::new(callback)),
            },
        );
        ListenerId(id)
    }

    /// Removes a listener; returns its kind and path (unknown ids: `None`).
    pub(crate) fn remove(&mut self, id: ListenerId) -> Option<(u8, Path)> {
        let entry = self.entries.remove(&id.0)?;
        if let Some(by_path) = self.by_path.get_mut(usize::from(entry.kind)) {
            if let Some(ids) = by_path.get_mut(&entry.path) {
                ids.retain(|&i| i != id.0);
                if ids.is_empty() {
                    by_path.remove(&entry.path);
                }
            }
        }
        self.pool.give(id.0);
        Some((entry.kind, entry.path))
    }

    /// The callbacks a call of `kind` for `ids` reaches, in TinyBase's order.
    pub(crate) fn matching(&self, kind: u8, ids: &[&str]) -> Vec<Arc<Mutex<C>>> {
        let mut out = Vec::new();
        let Some(by_path) = self
            .by_path
            .get(usize::from(kind))
            .filter(|m| !m.is_empty())
        else {
            return out;
        };
        let mut path: Path = Vec::with_capacity(ids.len());
        self.visit(by_path, ids, &mut path, &mut out);
        out
    }

    fn visit(
        &self,
        by_path: &HashMap<Path, Vec<u32>, IdHasher>,
        ids: &[&str],
        path: &mut Path,
        out: &mut Vec<Arc<Mutex<C>>>,
    ) {
        if path.len() == ids.len() {
            if let Some(list) = by_path.get(path.as_slice()) {
                out.extend(list.iter().map(|id| self.entries[id].callback.clone()));
            }
            return;
        }
        for choice in [Some(Text::from(ids[path.len()])), None] {
            path.push(choice);
            self.visit(by_path, ids, path, out);
            path.pop();
        }
    }

    /// How many listeners of `kind` are registered.
    pub(crate) fn count(&self, kind: u8) -> usize {
        self.entries.values().filter(|e| e.kind == kind).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_reused_first_in_first_out() {
        let mut pool = IdPool::default();
        assert_eq!((pool.take(), pool.take(), pool.take()), (0, 1, 2));
        pool.give(1);
        pool.give(0);
        assert_eq!((pool.take(), pool.take(), pool.take()), (1, 0, 3));
    }

    #[test]
    fn exact_paths_come_before_wildcards_depth_first() {
        let mut reg: Registry<&'static str> = Registry::default();
        let t = |s: &str| Some(Text::from(s));
        reg.add(0, vec![None, None], "**");
        reg.add(0, vec![None, t("b")], "*b");
        reg.add(0, vec![t("a"), None], "a*");
        let ab = reg.add(0, vec![t("a"), t("b")], "ab");
        reg.add(0, vec![t("a"), t("b")], "ab2");
        reg.add(1, vec![t("a"), t("b")], "other kind");
        let order = |reg: &Registry<&'static str>, ids: &[&str]| -> Vec<&'static str> {
            reg.matching(0, ids).iter().map(|c| *c.lock()).collect()
        };
        assert_eq!(order(&reg, &["a", "b"]), ["ab", "ab2", "a*", "*b", "**"]);
        assert_eq!(order(&reg, &["x", "b"]), ["*b", "**"]);
        assert_eq!(reg.count(0), 5);
        assert_eq!(reg.remove(ab), Some((0, vec![t("a"), t("b")])));
        assert_eq!(reg.remove(ab), None);
        assert_eq!(order(&reg, &["a", "b"]), ["ab2", "a*", "*b", "**"]);
        // The released id is the next one handed out.
        assert_eq!(reg.add(0, vec![], "new"), ab);
    }
}
