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
///
/// ```
/// use tinystore_core::hash::fnv1a;
/// assert_eq!(fnv1a(b""), 2166136261);
/// assert_eq!(fnv1a("a".as_bytes()), 3826002220);
/// ```
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
///
/// ```
/// use tinystore_core::Cell;
/// use tinystore_core::hash::leaf_hash;
/// assert_eq!(leaf_hash(Some(&Cell::from(true)), "NjEtLV----0mmxrx"), 2843401470);
/// assert_eq!(leaf_hash(None, "NjEtLV----1mmxrx"), 3478600308);
/// assert_eq!(leaf_hash(None, "x"), leaf_hash(Some(&Cell::Null), "x"));
/// ```
pub fn leaf_hash(value: Option<&Cell>, hlc: &str) -> u32 {
    let mut buf = String::with_capacity(32);
    leaf_hash_with(&mut buf, value, hlc)
}

/// [`leaf_hash`] reusing a scratch buffer.
///
/// ```
/// use tinystore_core::Cell;
/// use tinystore_core::hash::{leaf_hash, leaf_hash_with};
/// let mut scratch = String::new();
/// for n in 0..3 {
///     let cell = Cell::from(n);
///     assert_eq!(leaf_hash_with(&mut scratch, Some(&cell), "h"), leaf_hash(Some(&cell), "h"));
/// }
/// ```
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
///
/// ```
/// use tinystore_core::hash::{child_term, fnv1a};
/// assert_eq!(child_term("fido", 42), fnv1a(b"fido:42"));
/// assert_eq!(child_term("x", u32::MAX), fnv1a(b"x:4294967295"));
/// ```
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
///
/// ```
/// use tinystore_core::Cell;
/// use tinystore_core::hash::{fnv1a, leaf_hash, leaf_in_parent_delta};
/// let cell = leaf_hash(Some(&Cell::from("dog")), "NjEtLV-----mmxrx");
/// let row = leaf_in_parent_delta("species", 0, cell);
/// assert_eq!(row, 1554302234);
/// // The new leaf's term, XORed with the legacy `species:0` term.
/// assert_eq!(row, fnv1a(format!("species:{cell}").as_bytes()) ^ fnv1a(b"species:0"));
/// ```
#[inline]
pub fn leaf_in_parent_delta(id: &str, old: u32, new: u32) -> u32 {
    child_term(id, old) ^ child_term(id, new)
}

/// How a row's (table's) hash change moves its table's (the tables root's) hash: a child whose
/// old hash is 0 (new) contributes nothing for its old state.
///
/// ```
/// use tinystore_core::hash::{child_in_parent_delta, child_term};
/// assert_eq!(child_in_parent_delta("fido", 0, 1554302234), 513138410);
/// assert_eq!(child_in_parent_delta("fido", 0, 7), child_term("fido", 7));
/// // Changing back and forth cancels out.
/// let there = child_in_parent_delta("fido", 7, 9);
/// assert_eq!(there ^ child_in_parent_delta("fido", 9, 7), 0);
/// ```
#[inline]
pub fn child_in_parent_delta(id: &str, old: u32, new: u32) -> u32 {
    (if old == 0 { 0 } else { child_term(id, old) }) ^ child_term(id, new)
}

/// The hash term of a container's own HLC, when it is not empty.
///
/// ```
/// use tinystore_core::hash::{fnv1a, hlc_term};
/// assert_eq!(hlc_term(""), 0);
/// assert_eq!(hlc_term("NjEtLV-----mmxrx"), fnv1a(b"NjEtLV-----mmxrx"));
/// ```
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
