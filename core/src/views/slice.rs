//! The rows of one slice of an index, and how a sorted slice is kept in TinyBase's order
//! without re-sorting it at every change.
//!
//! TinyBase keeps a slice as a `Set`: a removed row is deleted, an added row appended, and a
//! slice whose rows were added or whose rows' keys changed is checked with `arrayIsSorted`
//! (strictly ascending under the default sorter, which never says "equal") and, if that fails,
//! sorted whole with V8's `Array.prototype.sort`. Where the default sorter compares keys that
//! are all numbers (or all strings), it is a consistent order, and then any stable sort gives
//! V8's result. A [`SortedSlice`] uses that: with one moved row it finds the row's place by two
//! binary searches (a stable sort puts a row between the equal keys before and after its old
//! place), otherwise it runs a stable sort of its own. Everything else (custom sorters, keys of
//! mixed types, objects, `NaN`, forced re-sorts) goes through the index's full V8-order sort,
//! which hands the resulting order back with [`SortedSlice::reorder`].

use std::cmp::Ordering;

use crate::js::compare_utf16;
use crate::ordmap::OrdMap;
use crate::types::{Cell, Text};

/// A sort key as TinyBase's default sorter sees it (`key ?? 0`, then JavaScript's `<`), where
/// that is a consistent order within its class.
#[derive(Clone, Debug)]
pub(crate) enum Key {
    /// Compared as a number: a number, `null`, a boolean or a missing key (as 0).
    Num(f64),
    /// Compared as a string, by UTF-16 code units.
    Str(Text),
    /// Anything else (an object, an array, `NaN`): only the full sort handles it.
    Other,
}

impl Key {
    /// The key a row sorts by (`None`: the row has no sort key, which TinyBase reads as 0).
    pub(crate) fn of(cell: Option<&Cell>) -> Key {
        match cell {
            None | Some(Cell::Null) => Key::Num(0.0),
            Some(Cell::Boolean(b)) => Key::Num(f64::from(u8::from(*b))),
            Some(Cell::Number(n)) if !n.is_nan() => Key::Num(*n),
            Some(Cell::String(s)) => Key::Str(s.clone()),
            Some(_) => Key::Other,
        }
    }

    /// A total order that agrees with the default sorter within a class (`-0` equals `0`, as
    /// for `<`); classes are ranked so that binary searches stay well defined.
    fn cmp(&self, other: &Key) -> Ordering {
        match (self, other) {
            (Key::Num(a), Key::Num(b)) => a.partial_cmp(b).unwrap_or(Ordering::Equal),
            (Key::Str(a), Key::Str(b)) => compare_utf16(a, b),
            (Key::Other, Key::Other) => Ordering::Equal,
            _ => self.rank().cmp(&other.rank()),
        }
    }

    fn rank(&self) -> u8 {
        match self {
            Key::Num(_) => 0,
            Key::Str(_) => 1,
            Key::Other => 2,
        }
    }

    /// The default sorter's `a < b` for keys of one class.
    fn less(&self, other: &Key) -> bool {
        self.cmp(other) == Ordering::Less
    }

    /// Whether the default sorter sees two keys as equal (then `arrayIsSorted` fails on them).
    fn tie(&self, other: &Key) -> bool {
        !matches!(self, Key::Other) && self.cmp(other) == Ordering::Equal
    }
}

/// One row of a sorted slice with the key it was last placed by.
#[derive(Clone, Debug)]
struct Entry {
    row: Text,
    key: Key,
}

/// The rows of a slice of a sorted index, in TinyBase's order, with their keys.
///
/// Between two updates the rows are in the order the last sort left them. An update goes
/// through [`SortedSlice::remove`] and [`SortedSlice::append`] (membership, as TinyBase's
/// `Set`), then [`SortedSlice::find`] for every row whose key changed (before any key is
/// changed) and [`SortedSlice::set_key`], then one of [`SortedSlice::settle`] (the default
/// sorter over consistent keys), [`SortedSlice::reorder`] (after the full sort) or
/// [`SortedSlice::keep_order`] (no sort at all).
#[derive(Clone, Debug, Default)]
pub(crate) struct SortedSlice {
    entries: Vec<Entry>,
    /// Keys compared as numbers.
    nums: usize,
    /// Keys compared as strings.
    strs: usize,
    /// Adjacent entries with equal keys.
    ties: usize,
    /// `entries[..settled]` are in non-decreasing key order, all of one class (binary
    /// searches and the one-row path rely on it).
    ordered: bool,
    /// Entries from here on were appended since the last settle.
    settled: usize,
    /// Entries appended or given a new key since the last settle.
    moved: usize,
    /// Where the last key was changed in place.
    moved_at: usize,
}

impl SortedSlice {
    /// A slice of `rows` in this order (e.g. converted from an unsorted index's slice).
    pub(crate) fn from_rows(rows: impl IntoIterator<Item = (Text, Key)>) -> SortedSlice {
        let mut slice = SortedSlice::default();
        for (row, key) in rows {
            slice.count(&key, true);
            slice.entries.push(Entry { row, key });
        }
        slice.after_reorder();
        slice
    }

    /// The number of rows.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The row ids, in order.
    pub(crate) fn rows(&self) -> impl Iterator<Item = &Text> {
        self.entries.iter().map(|e| &e.row)
    }

    /// Whether the default sorter is a consistent order on these keys.
    pub(crate) fn consistent(&self) -> bool {
        let n = self.entries.len();
        self.nums == n || self.strs == n
    }

    fn count(&mut self, key: &Key, add: bool) {
        let counter = match key {
            Key::Num(_) => &mut self.nums,
            Key::Str(_) => &mut self.strs,
            Key::Other => return,
        };
        if add {
            *counter += 1;
        } else {
            *counter -= 1;
        }
    }

    fn tie_at(&self, a: usize, b: usize) -> usize {
        usize::from(self.entries[a].key.tie(&self.entries[b].key))
    }

    /// Adjusts `ties` for taking entry `i` out (before it goes) or for having put it in.
    fn relink(&mut self, i: usize, inserted: bool) {
        let n = self.entries.len();
        let before = if i > 0 { self.tie_at(i - 1, i) } else { 0 };
        let after = if i + 1 < n { self.tie_at(i, i + 1) } else { 0 };
        let across = if i > 0 && i + 1 < n {
            self.tie_at(i - 1, i + 1)
        } else {
            0
        };
        if inserted {
            self.ties = self.ties + before + after - across;
        } else {
            self.ties = self.ties + across - before - after;
        }
    }

    /// Where `row` is; `key` must be the key it was placed with (before any
    /// [`SortedSlice::set_key`] of this update).
    pub(crate) fn find(&self, row: &str, key: &Key) -> Option<usize> {
        if self.ordered {
            let head = &self.entries[..self.settled];
            let start = head.partition_point(|e| e.key.less(key));
            let equal = head[start..]
                .iter()
                .take_while(|e| e.key.cmp(key) == Ordering::Equal)
                .position(|e| e.row == row);
            if let Some(i) = equal {
                return Some(start + i);
            }
            let tail = &self.entries[self.settled..];
            if let Some(i) = tail.iter().position(|e| e.row == row) {
                return Some(self.settled + i);
            }
        }
        // Not ordered, or a key that does not match the placement (never expected): scan.
        self.entries.iter().position(|e| e.row == row)
    }

    /// Removes `row` (placed with `key`); false if it is not here.
    pub(crate) fn remove(&mut self, row: &str, key: &Key) -> bool {
        let Some(i) = self.find(row, key) else {
            return false;
        };
        self.relink(i, false);
        let entry = self.entries.remove(i);
        self.count(&entry.key, false);
        if i < self.settled {
            self.settled -= 1;
        } else {
            self.moved -= 1;
        }
        true
    }

    /// Appends a row that is not in the slice yet.
    pub(crate) fn append(&mut self, row: Text, key: Key) {
        self.count(&key, true);
        self.entries.push(Entry { row, key });
        self.relink(self.entries.len() - 1, true);
        self.moved += 1;
    }

    /// Gives the row at `i` (from [`SortedSlice::find`]) its new key, in place.
    pub(crate) fn set_key(&mut self, i: usize, key: Key) {
        let Some(entry) = self.entries.get(i) else {
            return;
        };
        let old = entry.key.clone();
        self.relink(i, false);
        self.count(&old, false);
        self.count(&key, true);
        self.entries[i].key = key;
        self.relink(i, true);
        if i < self.settled {
            self.moved += 1;
            self.moved_at = i;
        }
    }

    /// TinyBase's check-and-sort for the default sorter over consistent keys
    /// ([`SortedSlice::consistent`]); true if the slice was not strictly ascending (TinyBase
    /// then sorts it and calls its listeners, even if the order stays the same).
    pub(crate) fn settle(&mut self) -> bool {
        let n = self.entries.len();
        let unsorted = if self.ordered && self.moved == 1 {
            let p = if self.settled < n {
                self.settled
            } else {
                self.moved_at
            };
            let e = &self.entries;
            let strict = self.ties == 0
                && (p == 0 || e[p - 1].key.less(&e[p].key))
                && (p + 1 == n || e[p].key.less(&e[p + 1].key));
            if !strict {
                self.place(p);
            }
            !strict
        } else {
            let strict = self.entries.windows(2).all(|w| w[0].key.less(&w[1].key));
            if !strict {
                // Stable, so equal keys keep their order, as in any stable sort (V8's too).
                self.entries.sort_by(|a, b| a.key.cmp(&b.key));
                self.recount_ties();
            }
            !strict
        };
        self.ordered = true;
        self.settled = n;
        self.moved = 0;
        unsorted
    }

    /// Moves the one moved row, at `p` among rows in order, to where a stable sort puts it:
    /// after the rows before it with an equal key, before the ones after it, so at `p`
    /// clamped to the run of keys equal to its own.
    fn place(&mut self, p: usize) {
        let key = &self.entries[p].key;
        let (left, right) = (&self.entries[..p], &self.entries[p + 1..]);
        let mut lo = left.partition_point(|e| e.key.less(key));
        if lo == p {
            lo += right.partition_point(|e| e.key.less(key));
        }
        let mut hi = left.partition_point(|e| !key.less(&e.key));
        if hi == p {
            hi += right.partition_point(|e| !key.less(&e.key));
        }
        let q = p.clamp(lo, hi);
        if q == p {
            return;
        }
        self.relink(p, false);
        if q < p {
            self.entries[q..=p].rotate_right(1);
        } else {
            self.entries[p..=q].rotate_left(1);
        }
        self.relink(q, true);
    }

    /// Puts the rows in the order of `order` (indexes into the current order, a permutation,
    /// as the full sort returned it).
    pub(crate) fn reorder(&mut self, order: &[usize]) {
        let mut taken: Vec<Option<Entry>> = std::mem::take(&mut self.entries)
            .into_iter()
            .map(Some)
            .collect();
        self.entries = order.iter().filter_map(|&i| taken[i].take()).collect();
        // Not a permutation (never expected): keep every row rather than lose one.
        self.entries.extend(taken.into_iter().flatten());
        self.after_reorder();
    }

    /// Ends an update that sorted nothing (the index has no sort keys at all, or its sorter
    /// panicked): the rows stay in their `Set` order.
    pub(crate) fn keep_order(&mut self) {
        self.after_reorder();
    }

    fn after_reorder(&mut self) {
        self.recount_ties();
        self.ordered = self.consistent()
            && self
                .entries
                .windows(2)
                .all(|w| w[0].key.cmp(&w[1].key) != Ordering::Greater);
        self.settled = self.entries.len();
        self.moved = 0;
    }

    fn recount_ties(&mut self) {
        self.ties = self
            .entries
            .windows(2)
            .filter(|w| w[0].key.tie(&w[1].key))
            .count();
    }
}

/// The rows of one slice of an index.
#[derive(Clone, Debug)]
pub(crate) enum Slice {
    /// An index without a sort key: the rows in the order they joined (TinyBase's `Set`).
    Plain(OrdMap<Text, ()>),
    /// An index with a sort key.
    Sorted(SortedSlice),
}

impl Slice {
    /// An empty slice of the kind an index with (`sorted`) or without a sort key has.
    pub(crate) fn new(sorted: bool) -> Slice {
        if sorted {
            Slice::Sorted(SortedSlice::default())
        } else {
            Slice::Plain(OrdMap::new())
        }
    }

    /// The number of rows.
    pub(crate) fn len(&self) -> usize {
        match self {
            Slice::Plain(set) => set.len(),
            Slice::Sorted(slice) => slice.len(),
        }
    }

    /// Whether the slice has no rows.
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The row ids, in order.
    pub(crate) fn rows(&self) -> Box<dyn Iterator<Item = &Text> + '_> {
        match self {
            Slice::Plain(set) => Box::new(set.keys()),
            Slice::Sorted(slice) => Box::new(slice.rows()),
        }
    }

    /// Removes `row`, last placed with the key `key` (for a sorted slice).
    pub(crate) fn remove(&mut self, row: &str, key: impl FnOnce() -> Key) {
        match self {
            Slice::Plain(set) => {
                set.remove(row);
            }
            Slice::Sorted(slice) => {
                slice.remove(row, &key());
            }
        }
    }

    /// Adds a row that is not in the slice at the end, with its key (for a sorted slice).
    pub(crate) fn append(&mut self, row: &Text, key: impl FnOnce() -> Key) {
        match self {
            Slice::Plain(set) => {
                if !set.contains_key(row.as_str()) {
                    set.insert(row.clone(), ());
                }
            }
            Slice::Sorted(slice) => slice.append(row.clone(), key()),
        }
    }

    /// Puts the rows in the order of `order` (indexes into the current order, as the full
    /// sort returned it).
    pub(crate) fn reorder(&mut self, order: &[usize]) {
        match self {
            Slice::Plain(set) => {
                let rows: Vec<&Text> = set.keys().collect();
                let mut sorted = OrdMap::with_capacity(rows.len());
                for &i in order {
                    if let Some(row) = rows.get(i) {
                        sorted.insert((*row).clone(), ());
                    }
                }
                *set = sorted;
            }
            Slice::Sorted(slice) => slice.reorder(order),
        }
    }

    /// Ends an update that left the order as it was.
    pub(crate) fn keep_order(&mut self) {
        if let Slice::Sorted(slice) = self {
            slice.keep_order();
        }
    }

    /// This slice as the kind an index with (`sorted`) or without a sort key has, keeping the
    /// order; `key` gives a row's current key.
    pub(crate) fn converted(self, sorted: bool, key: impl Fn(&str) -> Key) -> Slice {
        match (self, sorted) {
            (Slice::Plain(set), true) => Slice::Sorted(SortedSlice::from_rows(
                set.keys().map(|r| (r.clone(), key(r))),
            )),
            (Slice::Sorted(slice), false) => {
                let mut set = OrdMap::with_capacity(slice.len());
                for row in slice.rows() {
                    set.insert(row.clone(), ());
                }
                Slice::Plain(set)
            }
            (same, _) => same,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::js_sort;
    use crate::views::default_row_sorter_less;
    use proptest::prelude::*;

    /// TinyBase's update of a slice, done the slow way: the `Set` order, then `arrayIsSorted`
    /// and V8's sort with the default sorter.
    fn reference(rows: &mut [(Text, Option<Cell>)]) -> bool {
        let less = |a: &(Text, Option<Cell>), b: &(Text, Option<Cell>)| {
            default_row_sorter_less(a.1.as_ref(), b.1.as_ref())
        };
        if rows.windows(2).all(|w| less(&w[0], &w[1])) {
            return false;
        }
        js_sort(rows, &less);
        true
    }

    #[derive(Clone, Debug)]
    enum Op {
        /// Append a new row with this key.
        Add(Option<u8>),
        /// Remove the row at this index (modulo the length).
        Remove(usize),
        /// Give the row at this index (modulo the length) a new key.
        Rekey(usize, Option<u8>),
    }

    fn op() -> impl Strategy<Value = Op> {
        let key = proptest::option::weighted(0.9, 0u8..6);
        prop_oneof![
            key.clone().prop_map(Op::Add),
            any::<usize>().prop_map(Op::Remove),
            (any::<usize>(), key).prop_map(|(i, k)| Op::Rekey(i, k)),
        ]
    }

    /// Runs updates (each a list of ops) on a [`SortedSlice`] and on the reference, comparing
    /// the order and whether a sort happened after each. Keys are numbers, or strings if
    /// `strings` (a missing key stays 0, so string runs use no missing keys).
    fn check(updates: Vec<Vec<Op>>, strings: bool) {
        let cell = |k: Option<u8>| -> Option<Cell> {
            match (k, strings) {
                (None, false) => None,
                (Some(k), false) => Some(Cell::Number(f64::from(k))),
                (k, true) => Some(Cell::String(Text::from(
                    ["", "a", "ab", "b", "\u{FFFF}", "😀"][usize::from(k.unwrap_or(0)) % 6],
                ))),
            }
        };
        let mut slice = SortedSlice::default();
        let mut model: Vec<(Text, Option<Cell>)> = Vec::new();
        let mut next = 0;
        for ops in updates {
            let mut rekeyed: Vec<(Text, Option<Cell>)> = Vec::new();
            for op in ops {
                match op {
                    Op::Add(k) => {
                        let row = Text::from(format!("r{next}"));
                        next += 1;
                        let c = cell(k);
                        slice.append(row.clone(), Key::of(c.as_ref()));
                        model.push((row, c));
                    }
                    Op::Remove(i) if !model.is_empty() => {
                        let (row, c) = model.remove(i % model.len());
                        rekeyed.retain(|(r, _)| *r != row);
                        assert!(slice.remove(&row, &Key::of(c.as_ref())));
                    }
                    Op::Rekey(i, k) if !model.is_empty() => {
                        let row = model[i % model.len()].0.clone();
                        rekeyed.retain(|(r, _)| *r != row);
                        rekeyed.push((row, cell(k)));
                    }
                    _ => {}
                }
            }
            // Keys change after membership, all rows found before any key is changed.
            let found: Vec<(usize, Key)> = rekeyed
                .iter()
                .map(|(row, c)| {
                    let old = &model.iter().find(|(r, _)| r == row).expect("in model").1;
                    let i = slice.find(row, &Key::of(old.as_ref())).expect("found");
                    (i, Key::of(c.as_ref()))
                })
                .collect();
            for (i, key) in found {
                slice.set_key(i, key);
            }
            for (row, c) in rekeyed {
                if let Some(m) = model.iter_mut().find(|(r, _)| *r == row) {
                    m.1 = c;
                }
            }
            assert!(slice.consistent());
            let sorted = slice.settle();
            assert_eq!(sorted, reference(&mut model));
            let got: Vec<&Text> = slice.rows().collect();
            let want: Vec<&Text> = model.iter().map(|(r, _)| r).collect();
            assert_eq!(got, want);
            let ties = model
                .windows(2)
                .filter(|w| {
                    Key::of(w[0].1.as_ref()).cmp(&Key::of(w[1].1.as_ref())) == Ordering::Equal
                })
                .count();
            assert_eq!(slice.ties, ties);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        #[test]
        fn number_keys_match_v8_order(
            updates in proptest::collection::vec(proptest::collection::vec(op(), 0..4), 1..40)
        ) {
            check(updates, false);
        }

        #[test]
        fn string_keys_match_v8_order(
            updates in proptest::collection::vec(proptest::collection::vec(op(), 0..4), 1..40)
        ) {
            check(updates, true);
        }
    }

    #[test]
    fn one_moved_row_goes_between_equal_keys_by_its_old_place() {
        let n = |v: f64| Key::Num(v);
        let mut slice = SortedSlice::from_rows(
            [("a", 1.0), ("b", 2.0), ("c", 2.0), ("d", 3.0)].map(|(r, k)| (Text::from(r), n(k))),
        );
        // "d" takes key 2: it goes after the 2s before it.
        let i = slice.find("d", &n(3.0)).unwrap();
        slice.set_key(i, n(2.0));
        assert!(slice.settle());
        assert_eq!(slice.rows().collect::<Vec<_>>(), ["a", "b", "c", "d"]);
        // "a" takes key 2: it goes before the 2s after it.
        let i = slice.find("a", &n(1.0)).unwrap();
        slice.set_key(i, n(2.0));
        assert!(slice.settle());
        assert_eq!(slice.rows().collect::<Vec<_>>(), ["a", "b", "c", "d"]);
        // A new row with key 2 goes after every 2.
        slice.append(Text::from("e"), n(2.0));
        assert!(slice.settle());
        assert_eq!(slice.rows().collect::<Vec<_>>(), ["a", "b", "c", "d", "e"]);
        assert_eq!(slice.ties, 4);
    }

    #[test]
    fn mixed_keys_are_not_consistent() {
        let mut slice = SortedSlice::default();
        slice.append(Text::from("a"), Key::Num(1.0));
        assert!(slice.consistent());
        slice.append(Text::from("b"), Key::Str(Text::from("x")));
        assert!(!slice.consistent());
        assert!(slice.remove("b", &Key::Str(Text::from("x"))));
        slice.append(Text::from("c"), Key::Other);
        assert!(!slice.consistent());
        slice.reorder(&[1, 0]);
        assert_eq!(slice.rows().collect::<Vec<_>>(), ["c", "a"]);
        assert!(!slice.ordered);
    }
}
