//! TinyBase's 32-bit FNV-1a hashes of stamps and of the containers above them.
//!
//! Two replicas compare these hashes top-down to find what differs, so they must come out
//! bit-for-bit as TinyBase computes them, including the legacy `id + ":0"` term TinyBase folds
//! into every row and into the values root (spec mergeable.md §3).
//!
//! ```
//! use tinystore_core::hash::{fnv1a, leaf_hash};
//! use tinystore_core::Cell;
//! assert_eq!(fnv1a(b"foobar"), 3214735720);
//! assert_eq!(leaf_hash(Some(&Cell::from("dog")), "NjEtLV-----mmxrx"), 3368287843);
//! ```

use crate::types::Cell;

const OFFSET: u32 = 0x811c_9dc5;
const PRIME: u32 = 16_777_619;

/// 32-bit FNV-1a over bytes (TinyBase's `getHash` over the UTF-8 of a string).
#[inline]
pub fn fnv1a(bytes: &[u8]) -> u32 {
    fnv1a_continue(OFFSET, bytes)
}

#[inline]
fn fnv1a_continue(mut h: u32, bytes: &[u8]) -> u32 {
    for b in bytes {
        h ^= *b as u32;
        h = h.wrapping_mul(PRIME);
    }
    h
}

/// Hash of a Cell or Value stamp: `getHash(JSON.stringify(value ?? null) + ":" + hlc)` over
/// the stored (encoded) value; a tombstone (`None`) hashes like `null`.
pub fn leaf_hash(value: Option<&Cell>, hlc: &str) -> u32 {
    let mut buf = String::with_capacity(32);
    leaf_hash_with(&mut buf, value, hlc)
}

/// [`leaf_hash`] reusing a scratch buffer.
pub fn leaf_hash_with(buf: &mut String, value: Option<&Cell>, hlc: &str) -> u32 {
    buf.clear();
    match value {
        Some(cell) => cell.write_encoded_json(buf),
        None => buf.push_str("null"),
    }
    let h = fnv1a(buf.as_bytes());
    let h = fnv1a_continue(h, b":");
    fnv1a_continue(h, hlc.as_bytes())
}

/// `getHash(id + ":" + childHash)` with the hash in decimal: the term a child contributes to
/// its parent.
#[inline]
pub fn child_term(id: &str, child_hash: u32) -> u32 {
    let h = fnv1a_continue(OFFSET, id.as_bytes());
    let h = fnv1a_continue(h, b":");
    let mut digits = [0u8; 10];
    let mut n = child_hash;
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    fnv1a_continue(h, &digits[i..])
}

/// How a leaf's hash change moves its row's (or the values root's) hash: cells and values keep
/// TinyBase's legacy `id:0` term, so a new leaf (old hash 0) still contributes `getHash(id:0)`.
#[inline]
pub fn leaf_in_parent_delta(id: &str, old: u32, new: u32) -> u32 {
    child_term(id, old) ^ child_term(id, new)
}

/// How a row's (table's) hash change moves its table's (the tables root's) hash: a child whose
/// old hash is 0 (new) contributes nothing for its old state.
#[inline]
pub fn child_in_parent_delta(id: &str, old: u32, new: u32) -> u32 {
    (if old == 0 { 0 } else { child_term(id, old) }) ^ child_term(id, new)
}

/// The hash term of a container's own HLC, when it is not empty.
#[inline]
pub fn hlc_term(hlc: &str) -> u32 {
    if hlc.is_empty() {
        0
    } else {
        fnv1a(hlc.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_worked_example() {
        assert_eq!(fnv1a(b""), 2166136261);
        assert_eq!(fnv1a(b"a"), 3826002220);
        let cell = leaf_hash(Some(&Cell::from("dog")), "NjEtLV-----mmxrx");
        assert_eq!(cell, 3368287843);
        let row = leaf_in_parent_delta("species", 0, cell);
        assert_eq!(row, 1554302234);
        let table = child_in_parent_delta("fido", 0, row);
        assert_eq!(table, 513138410);
        assert_eq!(child_in_parent_delta("pets", 0, table), 3126691051);
        let value = leaf_hash(Some(&Cell::Boolean(true)), "NjEtLV----0mmxrx");
        assert_eq!(value, 2843401470);
        assert_eq!(leaf_in_parent_delta("open", 0, value), 3110897815);
        assert_eq!(leaf_hash(None, "NjEtLV----1mmxrx"), 3478600308);
        assert_eq!(child_term("x", u32::MAX), fnv1a(b"x:4294967295"));
    }
}
