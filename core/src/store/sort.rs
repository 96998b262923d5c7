//! `getSortedRowIds`: JavaScript's `<` across cell types and V8's sort, reproduced exactly.

use std::cmp::Ordering;

use crate::types::{Cell, Text, default_sorter_less};

use super::SortedRowIdsArgs;
use super::state::State;

/// JavaScript's `Array.prototype.sort` as V8 implements it (TimSort), driven by `lt(a, b)`
/// ("the comparator returned < 0"). TinyBase's default sorter never returns 0 and, across
/// types, is not a consistent order, so only the same algorithm gives the same result: runs of
/// the minimum run length are found and extended by binary insertion exactly as V8 does (so
/// tables of fewer than 64 rows sort exactly like V8); runs are then merged stably. Never
/// panics however inconsistent `lt` is.
pub(crate) fn js_sort<T: Clone>(items: &mut [T], lt: &impl Fn(&T, &T) -> bool) {
    let n = items.len();
    if n < 2 {
        return;
    }
    let min_run = {
        let (mut m, mut high_bit) = (n, 0);
        while m >= 64 {
            high_bit |= m & 1;
            m >>= 1;
        }
        m + high_bit
    };
    let mut runs: Vec<(usize, usize)> = Vec::new();
    let mut low = 0;
    while low < n {
        let remaining = n - low;
        let mut run = count_and_make_run(&mut items[low..], lt);
        if run < min_run {
            let forced = min_run.min(remaining);
            binary_insertion_sort(&mut items[low..low + forced], run, lt);
            run = forced;
        }
        runs.push((low, run));
        low += run;
    }
    while runs.len() > 1 {
        let mut merged = Vec::with_capacity(runs.len().div_ceil(2));
        for pair in runs.chunks(2) {
            match *pair {
                [(a, la), (_, lb)] => {
                    merge_runs(&mut items[a..a + la + lb], la, lt);
                    merged.push((a, la + lb));
                }
                [single] => merged.push(single),
                _ => {}
            }
        }
        runs = merged;
    }
}

/// V8's `CountAndMakeRun`: the length of the run starting at 0 (a strictly descending run is
/// reversed in place).
fn count_and_make_run<T>(items: &mut [T], lt: &impl Fn(&T, &T) -> bool) -> usize {
    if items.len() < 2 {
        return items.len();
    }
    let descending = lt(&items[1], &items[0]);
    let mut run = 2;
    while run < items.len() {
        let before = lt(&items[run], &items[run - 1]);
        if before != descending {
            break;
        }
        run += 1;
    }
    if descending {
        items[..run].reverse();
    }
    run
}

/// V8's `BinaryInsertionSort`: `items[..start]` is sorted; inserts the rest.
fn binary_insertion_sort<T>(items: &mut [T], start: usize, lt: &impl Fn(&T, &T) -> bool) {
    for i in start.max(1)..items.len() {
        let (mut left, mut right) = (0, i);
        while left < right {
            let mid = left + ((right - left) >> 1);
            if lt(&items[i], &items[mid]) {
                right = mid;
            } else {
                left = mid + 1;
            }
        }
        items[left..=i].rotate_right(1);
    }
}

/// Stably merges `items[..mid]` and `items[mid..]` (an element of the right run goes first
/// only if it is strictly before the left one).
fn merge_runs<T: Clone>(items: &mut [T], mid: usize, lt: &impl Fn(&T, &T) -> bool) {
    let left: Vec<T> = items[..mid].to_vec();
    let (mut i, mut j, mut k) = (0, mid, 0);
    while i < left.len() && j < items.len() {
        if lt(&items[j], &left[i]) {
            items[k] = items[j].clone();
            j += 1;
        } else {
            items[k] = left[i].clone();
            i += 1;
        }
        k += 1;
    }
    for x in &left[i..] {
        items[k] = x.clone();
        k += 1;
    }
}

pub(crate) fn sort_row_ids(s: &State, args: &SortedRowIdsArgs) -> Vec<String> {
    let Some(table) = s.tables.get(args.table_id.as_str()) else {
        return Vec::new();
    };
    let cell = args.cell_id.as_deref().and_then(|c| s.names.get(c));
    let mut keyed: Vec<(&Text, Option<Cell>)> = table
        .rows
        .iter()
        .map(|(r, row)| {
            let key = match &args.cell_id {
                None => Some(Cell::String(r.clone())),
                Some(_) => cell.and_then(|c| row.get(c).cloned()),
            };
            (r, key)
        })
        .collect();
    // TinyBase sorts with `sorter(key1, key2)`, negated when descending.
    let desc = args.descending;
    match &args.sorter {
        Some(sorter) => {
            let want = if desc {
                Ordering::Greater
            } else {
                Ordering::Less
            };
            js_sort(
                &mut keyed,
                &|a: &(&Text, Option<Cell>), b: &(&Text, Option<Cell>)| {
                    sorter(a.1.as_ref(), b.1.as_ref()) == want
                },
            );
        }
        None => {
            js_sort(
                &mut keyed,
                &|a: &(&Text, Option<Cell>), b: &(&Text, Option<Cell>)| {
                    default_sorter_less(a.1.as_ref(), b.1.as_ref()) != desc
                },
            );
        }
    }
    keyed
        .into_iter()
        .skip(args.offset)
        .take(args.limit.unwrap_or(usize::MAX))
        .map(|(r, _)| r.to_string())
        .collect()
}
