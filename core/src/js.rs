//! JavaScript semantics, in one place.
//!
//! TinyBase runs on JavaScript, and some of its observable behaviour is JavaScript's own: how a
//! string reads as a number, how `<` orders values of different types, in which order an
//! object's keys come out, how a number prints. Every part of tinystore that needs one of these
//! uses this module, so each rule exists once. This module depends on nothing else in the crate.
//!
//! - `Number(string)`: [`string_to_number`], with JavaScript's whitespace ([`is_whitespace`]);
//! - primitives, `ToNumber` and `a < b` across types: [`Primitive`], [`less_than`],
//!   [`compare_utf16`];
//! - `Number.prototype.toString()`: [`number_to_string`], [`write_number_string`];
//! - object key order: [`array_index`], [`object_order`];
//! - random numbers and ids (`Math.random()`, TinyBase's `getUniqueId`): [`random_u64`],
//!   [`random_unit`], [`random_string`], [`unique_id`], [`unique_id_bytes`].
//!
//! Nothing here panics on any input.

use std::borrow::Cow;
use std::cmp::Ordering;

// ---------------------------------------------------------------------------------------------
// Number(string)

/// Whether `c` is whitespace to JavaScript's `Number()`, `String.prototype.trim` and the
/// lexer: the ECMAScript *WhiteSpace* (tab, vertical tab, form feed, U+FEFF and every
/// `Space_Separator`) and *LineTerminator* (line feed, carriage return, U+2028, U+2029) code
/// points.
///
/// Unlike Rust's [`char::is_whitespace`], U+0085 (NEXT LINE) is not whitespace here, and
/// U+FEFF (the byte order mark) is.
///
/// ```
/// use tinystore_core::js::is_whitespace;
/// assert!(is_whitespace('\u{FEFF}') && is_whitespace('\u{3000}'));
/// assert!(!is_whitespace('\u{85}') && !is_whitespace('\u{180E}'));
/// ```
#[must_use]
pub fn is_whitespace(c: char) -> bool {
    matches!(
        c,
        '\u{9}'..='\u{D}'
            | ' '
            | '\u{A0}'
            | '\u{1680}'
            | '\u{2000}'..='\u{200A}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202F}'
            | '\u{205F}'
            | '\u{3000}'
            | '\u{FEFF}'
    )
}

/// JavaScript's `Number(s)` for a string (ECMAScript *StringToNumber*).
///
/// Surrounding [whitespace](is_whitespace) is ignored, and an empty or all-whitespace string is
/// `0`. Accepted are decimal literals with one optional sign (`"-1.5e3"`, `".5"`, `"5."`,
/// `"+Infinity"`; too large ones are `±Infinity`, too small ones `±0`), and unsigned
/// `0x`/`0o`/`0b` integers in either case (`"0X1f"`), rounded to the nearest number. Anything
/// else is `NaN`: `"-0x1"`, `"0x"`, `"1e"`, `"1_000"`, `"infinity"`, `"1n"`.
///
/// ```
/// use tinystore_core::js::string_to_number;
/// assert_eq!(string_to_number(" \u{FEFF}0x10\n"), 16.0);
/// assert_eq!(string_to_number(""), 0.0);
/// assert_eq!(string_to_number("1e400"), f64::INFINITY);
/// assert!(string_to_number("-0x1").is_nan());
/// assert!(string_to_number("\u{85}1").is_nan());
/// ```
#[must_use]
pub fn string_to_number(s: &str) -> f64 {
    let t = s.trim_matches(is_whitespace);
    if t.is_empty() {
        return 0.0;
    }
    let radix = match t.as_bytes() {
        [b'0', b'x' | b'X', ..] => 16,
        [b'0', b'o' | b'O', ..] => 8,
        [b'0', b'b' | b'B', ..] => 2,
        _ => return decimal_to_number(t),
    };
    t.get(2..)
        .and_then(|digits| non_decimal_to_number(digits, radix))
        .unwrap_or(f64::NAN)
}

/// *StrDecimalLiteral*: `[+-]? (Infinity | digits [. digits?]? exponent? | . digits exponent?)`.
fn decimal_to_number(t: &str) -> f64 {
    let (negative, unsigned) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if unsigned == "Infinity" {
        return if negative {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        };
    }
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e.strip_prefix(['+', '-']).unwrap_or(e))),
        None => (unsigned, None),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let valid = all_digits(int)
        && all_digits(frac)
        && !(int.is_empty() && frac.is_empty())
        && exponent.is_none_or(|e| !e.is_empty() && all_digits(e));
    if !valid {
        return f64::NAN;
    }
    // On this grammar Rust's parser is JavaScript's: correctly rounded, overflowing to
    // infinity, underflowing to zero, any number of digits.
    t.parse().unwrap_or(f64::NAN)
}

/// The value of `digits` in a power-of-two `radix`, correctly rounded (ties to even) as
/// ECMAScript rounds the mathematical value of a literal; `None` if `digits` is empty or holds
/// a character that is not a digit of `radix`.
fn non_decimal_to_number(digits: &str, radix: u32) -> Option<f64> {
    if digits.is_empty() {
        return None;
    }
    let bits_per_digit = radix.trailing_zeros();
    // The first 64 significant bits, how many bits followed them, and whether any was set.
    let mut top: u64 = 0;
    let mut dropped: u64 = 0;
    let mut sticky = false;
    for c in digits.chars() {
        let d = c.to_digit(radix)?;
        for i in (0..bits_per_digit).rev() {
            let bit = u64::from((d >> i) & 1);
            if top >> 63 == 0 {
                top = (top << 1) | bit;
            } else {
                dropped += 1;
                sticky |= bit == 1;
            }
        }
    }
    let len = 64 - top.leading_zeros();
    if len <= 53 {
        // Exact (and `dropped` is 0: bits are only dropped once `top` is full).
        return Some(top as f64);
    }
    let shift = len - 53;
    let mut kept = top >> shift;
    let rest = top & ((1u64 << shift) - 1);
    let half = 1u64 << (shift - 1);
    if rest > half || (rest == half && (sticky || kept & 1 == 1)) {
        kept += 1;
    }
    // `kept` has at most 54 bits, so the product is exact or overflows to infinity.
    let exponent = (u64::from(shift) + dropped).min(2048) as i32;
    Some(kept as f64 * 2f64.powi(exponent))
}

// ---------------------------------------------------------------------------------------------
// Primitives and `<`

/// A JavaScript primitive value (symbols and BigInts aside), as `<` and `ToNumber` see it.
///
/// ```
/// use tinystore_core::js::Primitive;
/// let answer = Primitive::String("42".into());
/// assert_eq!(answer.to_number(), 42.0);
/// assert_ne!(answer, Primitive::Number(42.0));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum Primitive<'a> {
    /// `undefined`.
    Undefined,
    /// `null`.
    Null,
    /// `true` or `false`.
    Boolean(bool),
    /// A number.
    Number(f64),
    /// A string.
    String(Cow<'a, str>),
}

impl Primitive<'_> {
    /// JavaScript's `ToNumber`: `undefined` is `NaN`, `null` `0`, booleans `0`/`1`, strings
    /// [`string_to_number`].
    ///
    /// ```
    /// use tinystore_core::js::Primitive;
    /// assert!(Primitive::Undefined.to_number().is_nan());
    /// assert_eq!(Primitive::Null.to_number(), 0.0);
    /// assert_eq!(Primitive::Boolean(true).to_number(), 1.0);
    /// assert_eq!(Primitive::String(" 0x1f ".into()).to_number(), 31.0);
    /// ```
    #[must_use]
    pub fn to_number(&self) -> f64 {
        match self {
            Primitive::Undefined => f64::NAN,
            Primitive::Null => 0.0,
            Primitive::Boolean(b) => f64::from(u8::from(*b)),
            Primitive::Number(n) => *n,
            Primitive::String(s) => string_to_number(s),
        }
    }
}

/// JavaScript's `a < b` (ECMAScript *IsLessThan*, an undefined result being `false`).
///
/// Two strings compare by UTF-16 code units ([`compare_utf16`]); any other pair compares as
/// numbers after `ToNumber`, so `NaN` on either side gives `false`, `"10" < 9` is `false`,
/// `null < 1` and `false < "1"` are `true`. This is not a total order.
///
/// ```
/// use tinystore_core::js::{Primitive, less_than};
/// let s = |s: &'static str| Primitive::String(s.into());
/// assert!(less_than(&s("10"), &s("9")));
/// assert!(!less_than(&s("10"), &Primitive::Number(9.0)));
/// assert!(!less_than(&s("a"), &Primitive::Number(1.0)) && !less_than(&Primitive::Number(1.0), &s("a")));
/// ```
#[must_use]
pub fn less_than(a: &Primitive<'_>, b: &Primitive<'_>) -> bool {
    if let (Primitive::String(x), Primitive::String(y)) = (a, b) {
        return compare_utf16(x, y) == Ordering::Less;
    }
    a.to_number() < b.to_number()
}

/// `Math.min` of two numbers: `NaN` wins, `-0` is below `+0`.
///
/// ```
/// use tinystore_core::js::{math_max, math_min};
/// assert!(math_min(1.0, f64::NAN).is_nan());
/// assert!(math_min(0.0, -0.0).is_sign_negative());
/// assert!(math_max(-0.0, 0.0).is_sign_positive());
/// assert_eq!(math_max(2.0, 3.0), 3.0);
/// ```
pub fn math_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == b {
        if a.is_sign_negative() { a } else { b }
    } else {
        a.min(b)
    }
}

/// `Math.max` of two numbers: `NaN` wins, `+0` is above `-0`.
///
/// ```
/// use tinystore_core::js::math_max;
/// assert_eq!(math_max(2.0, 3.0), 3.0);
/// assert!(math_max(f64::NAN, 1.0).is_nan());
/// assert!(math_max(-0.0, 0.0).is_sign_positive());
/// ```
pub fn math_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == b {
        if a.is_sign_positive() { a } else { b }
    } else {
        a.max(b)
    }
}

/// Orders two strings as JavaScript does: by their UTF-16 code units.
///
/// This is code point order, except that characters above U+FFFF (a surrogate pair, starting
/// with a unit in `D800..DBFF`) come before U+E000…U+FFFF: `"\u{FFFF}" > "😀"`.
///
/// ```
/// use std::cmp::Ordering;
/// use tinystore_core::js::compare_utf16;
/// assert_eq!(compare_utf16("a", "ab"), Ordering::Less);
/// // Rust's `str` order (code points) disagrees here.
/// assert_eq!(compare_utf16("\u{FFFF}", "😀"), Ordering::Greater);
/// assert!("\u{FFFF}" < "😀");
/// ```
#[must_use]
pub fn compare_utf16(a: &str, b: &str) -> Ordering {
    /// The first UTF-16 unit of `c`, then `c` itself (which orders the second units of two
    /// surrogate pairs with the same first unit).
    fn key(c: char) -> (u32, u32) {
        let c = u32::from(c);
        let first = if c > 0xFFFF {
            0xD800 + ((c - 0x1_0000) >> 10)
        } else {
            c
        };
        (first, c)
    }
    let mut x = a.chars();
    let mut y = b.chars();
    loop {
        match (x.next(), y.next()) {
            (Some(c), Some(d)) if c == d => {}
            (Some(c), Some(d)) => return key(c).cmp(&key(d)),
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Number.prototype.toString

/// 2^53: below it every integral `f64` prints as its plain integer digits.
const TWO_POW_53: f64 = 9_007_199_254_740_992.0;

/// Returns `Number.prototype.toString(n)` in radix 10 (also `String(n)`, and template literals).
///
/// That is `NaN`, `Infinity` or `-Infinity` for non-finite values, `0` for both zeros, and
/// otherwise the shortest digits that round-trip to `n` (the closest such when there is a
/// choice), laid out in decimal notation when `1e-6 <= |n| < 1e21` (`0.000001`,
/// `123456789012345680000`) and in exponent notation otherwise (`9.99e-7`, `1e-7`, `1.5e-7`,
/// `1e+21`, `-1.2345e+100`, `5e-324`).
///
/// ```
/// use tinystore_core::js::number_to_string;
/// assert_eq!(number_to_string(1e21), "1e+21");
/// assert_eq!(number_to_string(-0.0), "0");
/// assert_eq!(number_to_string(0.1 + 0.2), "0.30000000000000004");
/// ```
#[must_use]
pub fn number_to_string(n: f64) -> String {
    let mut out = String::with_capacity(24);
    write_number_string(&mut out, n);
    out
}

/// Appends [`number_to_string`]`(n)` to `out`.
///
/// ```
/// use tinystore_core::js::write_number_string;
/// let mut out = String::from("n=");
/// write_number_string(&mut out, 1.5e-7);
/// write_number_string(&mut out, f64::NEG_INFINITY);
/// assert_eq!(out, "n=1.5e-7-Infinity");
/// ```
pub fn write_number_string(out: &mut String, n: f64) {
    if n.is_nan() {
        out.push_str("NaN");
    } else if n.is_infinite() {
        out.push_str(if n > 0.0 { "Infinity" } else { "-Infinity" });
    } else {
        write_finite(out, n);
    }
}

/// Writes `Number.prototype.toString(n)` for a finite `n`.
fn write_finite(out: &mut String, n: f64) {
    if n == 0.0 {
        // Both +0 and -0.
        out.push('0');
        return;
    }
    // `as i64` and back, not `fract()`: the same test without a call into libm.
    if n.abs() < TWO_POW_53 && (n as i64) as f64 == n {
        // Exact integers here are their own shortest round-trip digits.
        write_i64(out, n as i64);
        return;
    }

    let mut ryu_buffer = ryu::Buffer::new();
    let shortest = ryu_buffer.format_finite(n.abs());
    let Some(decimal) = Decimal::from_shortest(shortest) else {
        // Unreachable for ryu's output; fall back to its own rendering rather than panic.
        if n < 0.0 {
            out.push('-');
        }
        out.push_str(shortest);
        return;
    };
    let digits = decimal.digits();
    let k = digits.len() as i32;
    let point = decimal.point;

    if n < 0.0 {
        out.push('-');
    }
    if k <= point && point <= 21 {
        // Integer: all digits, then zeros.
        push_ascii(out, digits);
        push_zeros(out, point - k);
    } else if 0 < point && point <= 21 {
        // Decimal point inside the digits.
        let (int_part, frac_part) = digits.split_at(point as usize);
        push_ascii(out, int_part);
        out.push('.');
        push_ascii(out, frac_part);
    } else if -6 < point && point <= 0 {
        // Small: "0.", zeros, digits.
        out.push_str("0.");
        push_zeros(out, -point);
        push_ascii(out, digits);
    } else {
        // Exponent notation: d[.ddd]e±x.
        let exponent = point - 1;
        if let Some((first, rest)) = digits.split_first() {
            out.push(char::from(*first));
            if !rest.is_empty() {
                out.push('.');
                push_ascii(out, rest);
            }
        }
        out.push('e');
        out.push(if exponent < 0 { '-' } else { '+' });
        write_i64(out, i64::from(exponent.unsigned_abs()));
    }
}

/// Shortest significant digits `d1 d2 ... dk` and decimal point position `point`, meaning the
/// value `0.d1d2...dk × 10^point`; no leading or trailing zeros.
struct Decimal {
    buffer: [u8; 40],
    len: usize,
    point: i32,
}

impl Decimal {
    /// Decomposes ryu output such as `1.5e-7`, `0.001`, `123.0` or `1e21`.
    fn from_shortest(text: &str) -> Option<Self> {
        let (mantissa, exponent) = match text.split_once(['e', 'E']) {
            Some((mantissa, exponent)) => (mantissa, exponent.parse::<i32>().ok()?),
            None => (text, 0),
        };
        let mut decimal = Decimal {
            buffer: [0; 40],
            len: 0,
            point: 0,
        };
        let mut seen_point = false;
        for b in mantissa.bytes() {
            match b {
                b'.' if !seen_point => seen_point = true,
                b'0'..=b'9' => {
                    if decimal.len == 0 && b == b'0' {
                        // Leading zero: before the point it carries no weight, after it it
                        // shifts the point left.
                        if seen_point {
                            decimal.point -= 1;
                        }
                        continue;
                    }
                    *decimal.buffer.get_mut(decimal.len)? = b;
                    decimal.len += 1;
                    if !seen_point {
                        decimal.point += 1;
                    }
                }
                _ => return None,
            }
        }
        while decimal.len > 0 && decimal.buffer[decimal.len - 1] == b'0' {
            decimal.len -= 1;
        }
        if decimal.len == 0 {
            return None;
        }
        decimal.point = decimal.point.checked_add(exponent)?;
        Some(decimal)
    }

    fn digits(&self) -> &[u8] {
        self.buffer.get(..self.len).unwrap_or_default()
    }
}

fn push_ascii(out: &mut String, ascii: &[u8]) {
    // Digits, signs and exponent markers only: always UTF-8.
    out.push_str(std::str::from_utf8(ascii).unwrap_or_default());
}

fn push_zeros(out: &mut String, count: i32) {
    for _ in 0..count {
        out.push('0');
    }
}

fn write_i64(out: &mut String, n: i64) {
    out.push_str(itoa::Buffer::new().format(n));
}

// ---------------------------------------------------------------------------------------------
// Object key order

/// `Some(index)` iff `key` is a JavaScript array index: the canonical decimal form of an integer
/// in `0..=4294967294` (`"0"`, `"17"`; not `"01"`, `"-1"`, `"1.0"`, `"+1"`, `"4294967295"`).
///
/// JavaScript objects enumerate these keys first, in ascending numeric order.
///
/// ```
/// use tinystore_core::js::array_index;
/// assert_eq!(array_index("17"), Some(17));
/// assert_eq!(array_index("4294967294"), Some(4_294_967_294));
/// assert_eq!(array_index("01"), None);
/// assert_eq!(array_index("4294967295"), None);
/// ```
#[must_use]
pub fn array_index(key: &str) -> Option<u32> {
    match key.as_bytes() {
        [] => None,
        [b'0'] => Some(0),
        [b'0', ..] => None,
        bytes if bytes.len() <= 10 => {
            let mut n: u64 = 0;
            for &b in bytes {
                if !b.is_ascii_digit() {
                    return None;
                }
                n = n * 10 + u64::from(b - b'0');
            }
            u32::try_from(n).ok().filter(|&n| n != u32::MAX)
        }
        _ => None,
    }
}

/// Reorders `(key, value)` entries given in insertion order into the order in which a
/// JavaScript object enumerates its keys (`Object.keys`, `for…in`, `JSON.stringify`): every
/// [array index](array_index) first, ascending, then the other keys in insertion order.
///
/// Returns `items` untouched (no allocation) when no key is an array index.
///
/// ```
/// use tinystore_core::js::object_order;
/// let keys = object_order(vec![("b", ()), ("10", ()), ("a", ()), ("2", ()), ("01", ())]);
/// assert_eq!(keys.iter().map(|(k, _)| *k).collect::<Vec<_>>(), ["2", "10", "b", "a", "01"]);
/// ```
#[must_use]
pub fn object_order<K: AsRef<str>, T>(items: Vec<(K, T)>) -> Vec<(K, T)> {
    if !items.iter().any(|(k, _)| array_index(k.as_ref()).is_some()) {
        return items;
    }
    let mut indexed: Vec<(u32, (K, T))> = Vec::new();
    let mut named: Vec<(K, T)> = Vec::with_capacity(items.len());
    for item in items {
        match array_index(item.0.as_ref()) {
            Some(index) => indexed.push((index, item)),
            None => named.push(item),
        }
    }
    // Stable, so that repeated keys (never in a real object) keep their relative order.
    indexed.sort_by_key(|&(index, _)| index);
    let mut ordered = Vec::with_capacity(indexed.len() + named.len());
    ordered.extend(indexed.into_iter().map(|(_, item)| item));
    ordered.extend(named);
    ordered
}

// ---------------------------------------------------------------------------------------------
// Random numbers and ids

/// The 64 characters of TinyBase's ids and HLCs, in digit order (`-`, `0-9`, `A-Z`, `_`,
/// `a-z`: ascending in both byte and UTF-16 order).
pub const ALPHABET: &[u8; 64] = b"-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";

/// 32 characters safe in file names on every file system (lower case only, so
/// case-insensitive file systems see as many distinct names).
pub const LOWER_BASE32: &[u8; 32] = b"0123456789abcdefghijklmnopqrstuv";

/// Per-thread generator state, and the process it was seeded in (a forked child reseeds, so
/// parent and child never draw the same ids).
#[derive(Clone, Copy)]
struct Rng {
    state: u64,
    pid: u32,
}

thread_local! {
    static RNG: std::cell::Cell<Option<Rng>> = const { std::cell::Cell::new(None) };
}

fn seeded() -> Rng {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};
    static SEEDINGS: AtomicU64 = AtomicU64::new(0);
    let pid = std::process::id();
    // std's RandomState carries per-process OS randomness; the count, time and process id keep
    // every thread's and every process's stream apart without an RNG dependency.
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(SEEDINGS.fetch_add(1, AtomicOrdering::Relaxed));
    hasher.write_u32(pid);
    if let Ok(d) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        hasher.write_u128(d.as_nanos());
    }
    Rng {
        state: hasher.finish() | 1,
        pid,
    }
}

/// Runs `f` with this thread's generator: xorshift64* (Vigna), seeded per thread and process.
fn with_rng<R>(f: impl FnOnce(&mut dyn FnMut() -> u64) -> R) -> R {
    RNG.with(|cell| {
        let pid = std::process::id();
        let mut rng = match cell.get() {
            Some(rng) if rng.pid == pid => rng,
            _ => seeded(),
        };
        let mut next = || {
            let mut x = rng.state;
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            rng.state = x;
            x.wrapping_mul(0x2545_F491_4F6C_DD1D)
        };
        let result = f(&mut next);
        cell.set(Some(rng));
        result
    })
}

/// 64 random bits from this thread's generator.
///
/// Made for ids that must not collide (with other threads, processes and machines), not for
/// secrets: the generator is fast and unpredictable enough for that, not cryptographic.
///
/// ```
/// use tinystore_core::js::random_u64;
/// // 64 random bits: two draws colliding would be a 1 in 2^64 event.
/// assert_ne!(random_u64(), random_u64());
/// ```
#[must_use]
pub fn random_u64() -> u64 {
    with_rng(|next| next())
}

/// `Math.random()`: a uniformly distributed number in `[0, 1)` with 53 random bits.
///
/// ```
/// use tinystore_core::js::random_unit;
/// let x = random_unit();
/// assert!((0.0..1.0).contains(&x));
/// ```
#[must_use]
pub fn random_unit() -> f64 {
    (random_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// Fills `out` with characters drawn uniformly from `alphabet` (nothing when it is empty).
///
/// ```
/// use tinystore_core::js::fill_random;
/// let mut buf = [0u8; 8];
/// fill_random(b"01", &mut buf);
/// assert!(buf.iter().all(|b| *b == b'0' || *b == b'1'));
/// // An empty alphabet leaves the buffer as it was.
/// let mut untouched = [b'x'; 3];
/// fill_random(b"", &mut untouched);
/// assert_eq!(&untouched, b"xxx");
/// ```
pub fn fill_random(alphabet: &[u8], out: &mut [u8]) {
    if alphabet.is_empty() {
        return;
    }
    let n = alphabet.len() as u64;
    with_rng(|next| {
        for b in out.iter_mut() {
            // The high 32 bits scaled to `0..n` (exactly uniform for powers of two).
            let i = ((next() >> 32) * n) >> 32;
            *b = alphabet.get(i as usize).copied().unwrap_or_default();
        }
    });
}

/// `len` characters drawn uniformly from the ASCII `alphabet` (empty if it is empty).
///
/// ```
/// use tinystore_core::js::{LOWER_BASE32, random_string};
/// let s = random_string(LOWER_BASE32, 16);
/// assert!(s.len() == 16 && s.bytes().all(|b| LOWER_BASE32.contains(&b)));
/// ```
#[must_use]
pub fn random_string(alphabet: &[u8], len: usize) -> String {
    if alphabet.is_empty() {
        return String::new();
    }
    let mut bytes = vec![0u8; len];
    fill_random(alphabet, &mut bytes);
    bytes.into_iter().map(char::from).collect()
}

/// `len` random characters of [`ALPHABET`] (TinyBase's `getUniqueId`): message, request and
/// transaction ids.
///
/// ```
/// use tinystore_core::js::{ALPHABET, unique_id};
/// let id = unique_id(16);
/// assert_eq!(id.len(), 16);
/// assert!(id.bytes().all(|b| ALPHABET.contains(&b)));
/// assert_ne!(id, unique_id(16));
/// ```
#[must_use]
pub fn unique_id(len: usize) -> String {
    random_string(ALPHABET, len)
}

/// [`unique_id`] as an array of `N` bytes (such as the five digits of a random HLC client id).
///
/// ```
/// use tinystore_core::js::{ALPHABET, unique_id_bytes};
/// let client: [u8; 5] = unique_id_bytes();
/// assert!(client.iter().all(|b| ALPHABET.contains(b)));
/// ```
#[must_use]
pub fn unique_id_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    fill_random(ALPHABET, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_from_strings() {
        let cases: &[(&str, f64)] = &[
            ("", 0.0),
            (" \t\n", 0.0),
            ("42", 42.0),
            (" 42 ", 42.0),
            ("\u{FEFF}42\u{3000}", 42.0),
            ("-1.5e3", -1500.0),
            (".5", 0.5),
            ("5.", 5.0),
            ("+.5e-3", 0.0005),
            ("0x10", 16.0),
            ("0X1f", 31.0),
            ("0o17", 15.0),
            ("0B101", 5.0),
            ("Infinity", f64::INFINITY),
            ("+Infinity", f64::INFINITY),
            ("-Infinity", f64::NEG_INFINITY),
            ("1e400", f64::INFINITY),
            ("-1e400", f64::NEG_INFINITY),
            ("1e-400", 0.0),
            ("00012", 12.0),
        ];
        for &(s, expected) in cases {
            assert_eq!(string_to_number(s), expected, "{s:?}");
        }
        assert!(string_to_number("-0").is_sign_negative());
        for s in [
            "\u{85}1", "-0x1", "+0x1", "0x", "0x+1", "0xg", "0b2", "0o8", "1e", "e1", ".", "+",
            "-", "1_000", "infinity", "INFINITY", "inf", "NaN", "1n", "1.2.3", "--1", "1e1.5",
            "0x1.8", "١", "1 2",
        ] {
            assert!(string_to_number(s).is_nan(), "{s:?}");
        }
    }

    #[test]
    fn non_decimal_rounding() {
        // 2^53 + 1 is a tie: to even (2^53); 2^53 + 3 rounds up to 2^53 + 4.
        assert_eq!(
            string_to_number("0x20000000000001"),
            9_007_199_254_740_992.0
        );
        assert_eq!(
            string_to_number("0x20000000000003"),
            9_007_199_254_740_996.0
        );
        // A tie broken by a set bit past the first 64.
        let sticky = format!("0x20000000000001{}1", "0".repeat(20));
        assert_eq!(
            string_to_number(&sticky),
            (9_007_199_254_740_994.0f64) * 2f64.powi(84)
        );
        assert_eq!(
            string_to_number(&format!("0x{}", "f".repeat(256))),
            f64::INFINITY
        );
        assert_eq!(
            string_to_number(&format!("0x{}", "f".repeat(255))),
            2f64.powi(1020)
        );
        assert_eq!(string_to_number(&format!("0b{}", "0".repeat(500))), 0.0);
    }

    #[test]
    fn whitespace_differs_from_rust_only_at_nel_and_bom() {
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            let expected = (c.is_whitespace() && c != '\u{85}') || c == '\u{FEFF}';
            assert_eq!(is_whitespace(c), expected, "U+{:04X}", u32::from(c));
        }
    }

    #[test]
    fn less_than_across_types() {
        let s = |s: &'static str| Primitive::String(Cow::Borrowed(s));
        let n = Primitive::Number;
        assert!(less_than(&s("10"), &s("9")));
        assert!(!less_than(&s("10"), &n(9.0)));
        assert!(less_than(&n(9.0), &s("10")));
        assert!(less_than(&Primitive::Null, &n(1.0)));
        assert!(less_than(&Primitive::Boolean(false), &s("1")));
        assert!(!less_than(&Primitive::Undefined, &n(1.0)));
        assert!(!less_than(&n(f64::NAN), &n(1.0)));
        assert!(!less_than(&n(-0.0), &n(0.0)));
        assert!(less_than(&s("😀"), &s("\u{FFFF}")));
        assert!(less_than(&s("\u{D7FF}"), &s("😀")));
        assert!(less_than(&s("a"), &s("ab")));
        assert!(!less_than(&s("ab"), &s("ab")));
    }

    #[test]
    fn utf16_order_matches_encode_utf16() {
        let samples = [
            "",
            "a",
            "ab",
            "b",
            "\u{7f}",
            "é",
            "\u{D7FF}",
            "\u{E000}",
            "\u{FFFD}",
            "\u{FFFF}",
            "😀",
            "😁",
            "𐀀",
            "\u{10FFFF}",
            "a😀",
            "a\u{FFFF}",
        ];
        for a in samples {
            for b in samples {
                assert_eq!(
                    compare_utf16(a, b),
                    a.encode_utf16().cmp(b.encode_utf16()),
                    "{a:?} {b:?}"
                );
            }
        }
    }

    #[test]
    fn array_index_keys() {
        assert_eq!(array_index("0"), Some(0));
        assert_eq!(array_index("7"), Some(7));
        assert_eq!(array_index("123"), Some(123));
        assert_eq!(array_index("4294967294"), Some(4_294_967_294));
        for key in [
            "",
            "01",
            "00",
            "-1",
            "-0",
            "1.0",
            "+1",
            " 1",
            "1 ",
            "1e3",
            "4294967295",
            "4294967296",
            "99999999999",
            "١",
            "a",
        ] {
            assert_eq!(array_index(key), None, "{key:?}");
        }
    }

    #[test]
    fn object_order_puts_indices_first() {
        let ordered = object_order(vec![("b", 1), ("10", 2), ("a", 3), ("2", 4)]);
        assert_eq!(ordered, [("2", 4), ("10", 2), ("b", 1), ("a", 3)]);
        let named = vec![("b", 1), ("a", 2)];
        let ptr = named.as_ptr();
        let same = object_order(named);
        assert_eq!(same.as_ptr(), ptr);
    }

    #[test]
    fn random_ids() {
        let a = unique_id(16);
        let b = unique_id(16);
        assert_ne!(a, b);
        assert_eq!(a.len(), 16);
        assert!(a.bytes().all(|c| ALPHABET.contains(&c)));
        let bytes: [u8; 5] = unique_id_bytes();
        assert!(bytes.iter().all(|c| ALPHABET.contains(c)));
        assert_eq!(random_string(b"", 3), "");
        let other = std::thread::spawn(|| unique_id(16))
            .join()
            .unwrap_or_default();
        assert_ne!(other, a);
        for _ in 0..1000 {
            let u = random_unit();
            assert!((0.0..1.0).contains(&u));
        }
        // Every character of the alphabet shows up.
        let many = random_string(LOWER_BASE32, 4000);
        assert!(LOWER_BASE32.iter().all(|c| many.as_bytes().contains(c)));
    }
}
