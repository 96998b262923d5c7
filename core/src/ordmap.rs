//! An insertion-ordered hash map with O(1) removal, the container behind tables, rows, values
//! and transaction logs.
//!
//! TinyBase iterates ids in JavaScript `Map` order: insertion order, where re-setting an existing
//! key keeps its place and a removed-then-re-added key goes to the end. `indexmap` gives that
//! order only with O(n) `shift_remove`, which makes deleting many rows quadratic; here removal
//! leaves a hole that iteration skips, and the holes are compacted away once they outnumber
//! the live entries.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{BuildHasher, Hash};

use hashbrown::HashTable;

/// The hasher for every id map: fast, and seeded per process so that ids chosen by a remote
/// peer cannot force collisions.
pub(crate) type IdHasher = foldhash::fast::RandomState;

/// Up to this many slots (live or holes) a lookup compares keys instead of hashing.
const SCAN_MAX: usize = 3;

pub(crate) struct OrdMap<K, V> {
    index: HashTable<u32>,
    entries: Vec<Option<(K, V)>>,
    live: usize,
    hasher: IdHasher,
}

impl<K, V> Default for OrdMap<K, V> {
    fn default() -> Self {
        OrdMap {
            index: HashTable::new(),
            entries: Vec::new(),
            live: 0,
            hasher: IdHasher::default(),
        }
    }
}

impl<K: Clone, V: Clone> Clone for OrdMap<K, V> {
    fn clone(&self) -> Self {
        OrdMap {
            index: self.index.clone(),
            entries: self.entries.clone(),
            live: self.live,
            hasher: self.hasher.clone(),
        }
    }
}

impl<K: fmt::Debug + Hash + Eq, V: fmt::Debug> fmt::Debug for OrdMap<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K: Hash + Eq, V> OrdMap<K, V> {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// An empty map with room for `n` entries (no rehash while it is filled up to `n`).
    pub(crate) fn with_capacity(n: usize) -> Self {
        OrdMap {
            index: HashTable::with_capacity(n),
            entries: Vec::with_capacity(n),
            live: 0,
            hasher: IdHasher::default(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.live
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.live == 0
    }

    #[inline(always)]
    fn find<Q>(&self, key: &Q) -> Option<usize>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        // Transaction logs are mostly empty maps: skip hashing the key for them.
        if self.live == 0 {
            return None;
        }
        if self.entries.len() <= SCAN_MAX {
            return self.scan(key);
        }
        self.find_hashed(self.hasher.hash_one(key), key)
    }

    /// `find` by comparing keys in order: for a map of a few entries (a store's tables, a
    /// listener tree's first level) cheaper than hashing the key and probing the index.
    #[inline(always)]
    fn scan<Q>(&self, key: &Q) -> Option<usize>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.entries
            .iter()
            .position(|e| matches!(e, Some((k, _)) if k.borrow() == key))
    }

    #[inline(always)]
    fn find_hashed<Q>(&self, hash: u64, key: &Q) -> Option<usize>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let entries = &self.entries;
        self.index
            .find(hash, |&slot| match &entries[slot as usize] {
                Some((k, _)) => k.borrow() == key,
                None => false,
            })
            .map(|&slot| slot as usize)
    }

    #[inline(always)]
    pub(crate) fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.find(key)
            .and_then(|slot| self.entries[slot].as_ref().map(|(_, v)| v))
    }

    #[inline]
    pub(crate) fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let slot = self.find(key)?;
        self.entries[slot].as_mut().map(|(_, v)| v)
    }

    #[inline]
    pub(crate) fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.find(key).is_some()
    }

    /// Inserts or replaces; a replaced key keeps its position. Returns the old value.
    pub(crate) fn insert(&mut self, key: K, value: V) -> Option<V> {
        if let Some(slot) = self.find(&key) {
            let entry = self.entries[slot].as_mut().map(|(_, v)| v);
            return entry.map(|v| std::mem::replace(v, value));
        }
        self.push_new(key, value);
        None
    }

    #[inline]
    fn push_new(&mut self, key: K, value: V) -> usize {
        let hash = self.hasher.hash_one(&key);
        self.push_new_hashed(hash, key, value)
    }

    /// `push_new` with the key's hash already computed (it equals `hash_one` of the owned key:
    /// `Borrow` requires borrowed and owned forms to hash alike).
    #[inline]
    fn push_new_hashed(&mut self, hash: u64, key: K, value: V) -> usize {
        let slot = self.entries.len();
        self.entries.push(Some((key, value)));
        let (entries, hasher) = (&self.entries, &self.hasher);
        self.index.insert_unique(hash, slot as u32, |&s| {
            let k = &entries[s as usize]
                .as_ref()
                .expect("indexed slots are live")
                .0;
            hasher.hash_one(k)
        });
        self.live += 1;
        slot
    }

    /// The value for `key`, inserting `make()` at the end first if absent.
    #[inline]
    pub(crate) fn entry_or_insert_with<Q>(&mut self, key: &Q, make: impl FnOnce() -> V) -> &mut V
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized + ToOwnedKey<K>,
    {
        let slot = if self.entries.len() <= SCAN_MAX {
            match self.scan(key) {
                Some(slot) => slot,
                None => self.push_new(key.to_owned_key(), make()),
            }
        } else {
            let hash = self.hasher.hash_one(key);
            match self.find_hashed(hash, key) {
                Some(slot) => slot,
                None => self.push_new_hashed(hash, key.to_owned_key(), make()),
            }
        };
        &mut self.entries[slot].as_mut().expect("live slot").1
    }

    pub(crate) fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hasher.hash_one(key);
        let entries = &self.entries;
        let found = self
            .index
            .find_entry(hash, |&slot| match &entries[slot as usize] {
                Some((k, _)) => k.borrow() == key,
                None => false,
            });
        let slot = match found {
            Ok(occupied) => occupied.remove().0 as usize,
            Err(_) => return None,
        };
        let (_, v) = self.entries[slot].take()?;
        self.live -= 1;
        if self.live == 0 {
            self.entries.clear();
            self.index.clear();
        } else if self.entries.len() > 32 && self.entries.len() > 2 * self.live {
            self.compact();
        }
        Some(v)
    }

    fn compact(&mut self) {
        self.entries.retain(Option::is_some);
        self.index.clear();
        let (entries, hasher) = (&self.entries, &self.hasher);
        for (slot, entry) in entries.iter().enumerate() {
            let hash = hasher.hash_one(&entry.as_ref().expect("retained").0);
            self.index.insert_unique(hash, slot as u32, |&s| {
                hasher.hash_one(&entries[s as usize].as_ref().expect("retained").0)
            });
        }
    }

    /// Removes an entry but keeps its slot as a hole (no compaction), so that
    /// [`OrdMap::restore_slot`] can put it back in the same place. Returns `(slot, key, value)`.
    pub(crate) fn remove_keep_slot<Q>(&mut self, key: &Q) -> Option<(usize, K, V)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hasher.hash_one(key);
        let entries = &self.entries;
        let found = self
            .index
            .find_entry(hash, |&slot| match &entries[slot as usize] {
                Some((k, _)) => k.borrow() == key,
                None => false,
            });
        let slot = match found {
            Ok(occupied) => occupied.remove().0 as usize,
            Err(_) => return None,
        };
        let (k, v) = self.entries[slot].take()?;
        self.live -= 1;
        Some((slot, k, v))
    }

    /// Puts an entry back into the hole left by [`OrdMap::remove_keep_slot`]. If the slot is
    /// gone or taken (which rollback never causes), the entry is appended instead.
    pub(crate) fn restore_slot(&mut self, slot: usize, key: K, value: V) {
        if self.find(&key).is_some() {
            self.insert(key, value);
            return;
        }
        if slot >= self.entries.len() || self.entries[slot].is_some() {
            self.push_new(key, value);
            return;
        }
        let hash = self.hasher.hash_one(&key);
        self.entries[slot] = Some((key, value));
        let (entries, hasher) = (&self.entries, &self.hasher);
        self.index.insert_unique(hash, slot as u32, |&s| {
            hasher.hash_one(
                &entries[s as usize]
                    .as_ref()
                    .expect("indexed slots are live")
                    .0,
            )
        });
        self.live += 1;
    }

    /// Compacts holes once they outnumber live entries (or all entries are gone).
    #[inline]
    pub(crate) fn compact_if_sparse(&mut self) {
        // (Called for every map a transaction may have touched: the common case inline.)
        if self.entries.len() <= 16 && (self.live != 0 || self.entries.is_empty()) {
            return;
        }
        self.compact_if_sparse_slow();
    }

    #[inline(never)]
    fn compact_if_sparse_slow(&mut self) {
        if self.live == 0 {
            self.entries.clear();
            self.index.clear();
        } else if self.entries.len() > 16 && self.entries.len() > 2 * self.live {
            self.compact();
        }
    }

    #[inline]
    pub(crate) fn clear(&mut self) {
        // Most of a transaction's logs stay empty: nothing to do for them (inline). An empty
        // map's index holds nothing either: `clear_slow` emptied it, and it shrank it when
        // it was large and sparsely used.
        if self.entries.is_empty() {
            return;
        }
        self.clear_slow();
    }

    #[inline(never)]
    fn clear_slow(&mut self) {
        // Clearing a hash table writes its whole control array: a map that once grew large
        // (a definition's first evaluation of every row) and now holds a few entries per
        // transaction would pay for its peak size at every clear, so such a map starts small.
        if self.index.capacity() > 64 && self.live < self.index.capacity() / 8 {
            self.index = HashTable::new();
            self.entries = Vec::new();
        } else if !self.entries.is_empty() {
            // (Most of a transaction's logs stay empty: no control bytes to rewrite for them.)
            self.entries.clear();
            self.index.clear();
        }
        self.live = 0;
    }

    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = (&K, &V)> + Clone {
        self.entries
            .iter()
            .filter_map(|e| e.as_ref().map(|(k, v)| (k, v)))
    }

    /// The values, mutable, in insertion order.
    pub(crate) fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.entries.iter_mut().flatten().map(|(_, v)| v)
    }

    pub(crate) fn keys(&self) -> impl DoubleEndedIterator<Item = &K> + Clone {
        self.iter().map(|(k, _)| k)
    }

    /// The entries, in order, taken out of the map.
    pub(crate) fn into_pairs(self) -> impl Iterator<Item = (K, V)> {
        self.entries.into_iter().flatten()
    }
}

/// Makes an owned key from a borrowed lookup key (`&str` → `Text`), so lookups never allocate.
pub(crate) trait ToOwnedKey<K> {
    fn to_owned_key(&self) -> K;
}

impl ToOwnedKey<crate::types::Text> for str {
    #[inline]
    fn to_owned_key(&self) -> crate::types::Text {
        crate::types::Text::from(self)
    }
}

impl<T: Copy> ToOwnedKey<T> for T {
    #[inline]
    fn to_owned_key(&self) -> T {
        *self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Text;

    #[test]
    fn insertion_order_and_reinsert() {
        let mut m: OrdMap<Text, i32> = OrdMap::new();
        m.insert("b".into(), 1);
        m.insert("a".into(), 2);
        m.insert("b".into(), 3);
        assert_eq!(m.keys().map(|k| k.as_str()).collect::<Vec<_>>(), ["b", "a"]);
        assert_eq!(m.get("b"), Some(&3));
        assert_eq!(m.remove("b"), Some(3));
        m.insert("b".into(), 4);
        assert_eq!(m.keys().map(|k| k.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(m.len(), 2);
    }

    #[test]
    fn many_removals_compact_and_keep_order() {
        let mut m: OrdMap<u32, u32> = OrdMap::new();
        for i in 0..1000 {
            m.insert(i, i * 2);
        }
        for i in (0..1000).filter(|i| i % 3 != 0) {
            assert_eq!(m.remove(&i), Some(i * 2));
        }
        assert_eq!(m.len(), 334);
        assert!(m.entries.len() < 1000);
        let keys: Vec<u32> = m.keys().copied().collect();
        assert_eq!(keys, (0..1000).filter(|i| i % 3 == 0).collect::<Vec<_>>());
        for k in keys {
            assert_eq!(m.get(&k), Some(&(k * 2)));
        }
        assert_eq!(m.remove(&1), None);
    }

    proptest::proptest! {
        /// Against a plain ordered vector: small key sets exercise the scanned lookups (with
        /// holes left by removals), larger ones the hashed index and compaction.
        #[test]
        fn behaves_like_an_ordered_vector(
            ops in proptest::collection::vec((0u8..6, 0u32..40, 0i32..100), 0..200)
        ) {
            let mut m: OrdMap<Text, i32> = OrdMap::new();
            let mut model: Vec<(String, i32)> = Vec::new();
            for (op, key, value) in ops {
                let key = format!("k{key}");
                let at = model.iter().position(|(k, _)| *k == key);
                match op {
                    0 => {
                        let old = m.insert(key.as_str().into(), value);
                        proptest::prop_assert_eq!(old, at.map(|i| model[i].1));
                        match at {
                            Some(i) => model[i].1 = value,
                            None => model.push((key, value)),
                        }
                    }
                    1 => {
                        let removed = m.remove(key.as_str());
                        proptest::prop_assert_eq!(removed, at.map(|i| model.remove(i).1));
                    }
                    2 => {
                        *m.entry_or_insert_with(key.as_str(), || 0) += value;
                        match at {
                            Some(i) => model[i].1 += value,
                            None => model.push((key, value)),
                        }
                    }
                    3 => {
                        if let Some(v) = m.get_mut(key.as_str()) {
                            *v = value;
                        }
                        if let Some(i) = at {
                            model[i].1 = value;
                        }
                    }
                    4 if value < 5 => {
                        m.clear();
                        model.clear();
                    }
                    _ => m.compact_if_sparse(),
                }
                proptest::prop_assert_eq!(m.len(), model.len());
                let got: Vec<(String, i32)> =
                    m.iter().map(|(k, v)| (k.to_string(), *v)).collect();
                proptest::prop_assert_eq!(&got, &model);
                for (k, v) in &model {
                    proptest::prop_assert_eq!(m.get(k.as_str()), Some(v));
                    proptest::prop_assert!(m.contains_key(k.as_str()));
                }
                proptest::prop_assert_eq!(m.get("absent"), None);
            }
        }
    }

    #[test]
    fn entry_and_remove() {
        let mut m: OrdMap<Text, Vec<i32>> = OrdMap::new();
        m.entry_or_insert_with("x", Vec::new).push(1);
        m.entry_or_insert_with("y", Vec::new).push(2);
        m.entry_or_insert_with("x", Vec::new).push(3);
        assert_eq!(m.get("x"), Some(&vec![1, 3]));
        assert_eq!(m.remove("x"), Some(vec![1, 3]));
        assert_eq!(m.keys().map(|k| k.as_str()).collect::<Vec<_>>(), ["y"]);
        m.clear();
        assert!(m.is_empty());
        assert!(m.keys().next().is_none());
    }
}
