//! Writing JSON exactly as JavaScript's `JSON.stringify` does: numbers, strings, whole values
//! (JavaScript's object key order), compact or indented.

use serde_json::{Number, Value};

use crate::js;

/// Appends `JSON.stringify(n)` to `out`: `null` when `n` is not finite, otherwise exactly
/// `Number.prototype.toString(n)` (see [`number_to_js_string`]).
pub fn write_number(out: &mut String, n: f64) {
    if n.is_finite() {
        js::write_number_string(out, n);
    } else {
        out.push_str("null");
    }
}

/// `Number.prototype.toString(n)` in radix 10, as JavaScript does: [`js::number_to_string`].
pub use crate::js::number_to_string as number_to_js_string;

/// Appends `JSON.stringify(s)` to `out`, exactly as ECMAScript 2019 and later does it.
///
/// The string is quoted; `"` and `\` are backslash-escaped, as are backspace, form feed, line feed,
/// carriage return and tab (`\b`, `\f`, `\n`, `\r`, `\t`); the other code points below U+0020 are
/// written as `\u00xx` with lower-case hex digits. Everything else, including U+007F, U+2028,
/// U+2029 and all non-ASCII characters, is copied raw as UTF-8.
pub fn write_string(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(s.len() + 2);
    out.push('"');
    // Most ids and strings need no escape: one branch-free scan, then one copy.
    if !s.bytes().fold(false, |escape, b| {
        escape | (b < 0x20) | (b == b'"') | (b == b'\\')
    }) {
        out.push_str(s);
        out.push('"');
        return;
    }
    let mut start = 0;
    for (i, &b) in s.as_bytes().iter().enumerate() {
        let short = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0x00..=0x1f => "",
            _ => continue,
        };
        // `i` indexes an ASCII byte, so both ends are character boundaries.
        if let Some(chunk) = s.get(start..i) {
            out.push_str(chunk);
        }
        if short.is_empty() {
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        } else {
            out.push_str(short);
        }
        start = i + 1;
    }
    if let Some(chunk) = s.get(start..) {
        out.push_str(chunk);
    }
    out.push('"');
}

/// Returns `JSON.stringify(value)`, byte for byte as JavaScript would produce it for the same
/// data.
///
/// - Object keys are enumerated as JavaScript enumerates an object's own properties: first every
///   array-index key (the canonical decimal form of an integer from 0 to 4294967294, so `"7"`
///   but not `"07"`, `"-1"`, `"1.0"` or `"4294967295"`) in ascending numeric order, then all other
///   keys in insertion order.
/// - Numbers are first converted to `f64`, as JavaScript holds them (so `u64::MAX` prints as
///   `18446744073709552000`), then formatted like [`number_to_js_string`].
/// - Strings are written like [`write_string`]; no whitespace is emitted.
#[must_use]
pub fn stringify(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

/// Appends `JSON.stringify(value)` to `out`; see [`stringify()`].
///
/// This does not recurse, so any nesting depth is fine.
pub fn write_value(out: &mut String, value: &Value) {
    write_value_indented(out, value, "");
}

/// `JSON.stringify(value, null, indent)`: like [`stringify()`], with each array element and
/// object member on its own line, indented by `indent` per level, and `": "` after keys (an
/// empty `indent` gives the compact form).
///
/// ```
/// let v = serde_json::json!({"a": [1, {}], "b": []});
/// assert_eq!(tinystore_core::json::stringify_pretty(&v, "  "),
///            "{\n  \"a\": [\n    1,\n    {}\n  ],\n  \"b\": []\n}");
/// ```
#[must_use]
pub fn stringify_pretty(value: &Value, indent: &str) -> String {
    let mut out = String::new();
    write_value_indented(&mut out, value, indent);
    out
}

/// Appends `JSON.stringify(value, null, indent)` to `out`; see [`stringify_pretty`].
pub fn write_value_indented(out: &mut String, value: &Value, indent: &str) {
    /// An open container being written, and whether its next element is its first.
    enum Frame<'v> {
        Array(std::slice::Iter<'v, Value>, bool),
        Object(serde_json::map::Iter<'v>, bool),
        Ordered(std::vec::IntoIter<(&'v String, &'v Value)>, bool),
    }

    let newline = |out: &mut String, depth: usize| {
        if !indent.is_empty() {
            out.push('\n');
            for _ in 0..depth {
                out.push_str(indent);
            }
        }
    };
    let mut stack: Vec<Frame<'_>> = Vec::new();
    let mut current = value;
    'values: loop {
        match current {
            Value::Null => out.push_str("null"),
            Value::Bool(true) => out.push_str("true"),
            Value::Bool(false) => out.push_str("false"),
            Value::Number(number) => write_number(out, number_to_f64(number)),
            Value::String(s) => write_string(out, s),
            Value::Array(items) if items.is_empty() => out.push_str("[]"),
            Value::Object(map) if map.is_empty() => out.push_str("{}"),
            Value::Array(items) => {
                out.push('[');
                stack.push(Frame::Array(items.iter(), true));
            }
            Value::Object(map) => {
                out.push('{');
                if map.keys().any(|key| js::array_index(key).is_some()) {
                    let ordered = js::object_order(map.iter().collect());
                    stack.push(Frame::Ordered(ordered.into_iter(), true));
                } else {
                    stack.push(Frame::Object(map.iter(), true));
                }
            }
        }
        // Find the next value to write, closing finished containers on the way.
        loop {
            let depth = stack.len();
            let next = match stack.last_mut() {
                None => return,
                Some(Frame::Array(items, first)) => items.next().map(|item| (None, item, first)),
                Some(Frame::Object(entries, first)) => {
                    entries.next().map(|(key, item)| (Some(key), item, first))
                }
                Some(Frame::Ordered(entries, first)) => {
                    entries.next().map(|(key, item)| (Some(key), item, first))
                }
            };
            match next {
                Some((key, item, first)) => {
                    if !std::mem::replace(first, false) {
                        out.push(',');
                    }
                    newline(out, depth);
                    if let Some(key) = key {
                        write_string(out, key);
                        out.push(':');
                        if !indent.is_empty() {
                            out.push(' ');
                        }
                    }
                    current = item;
                    continue 'values;
                }
                None => {
                    let frame = stack.pop();
                    newline(out, depth - 1);
                    match frame {
                        Some(Frame::Array(..)) => out.push(']'),
                        Some(Frame::Object(..) | Frame::Ordered(..)) => out.push('}'),
                        None => return,
                    }
                }
            }
        }
    }
}

/// The value JavaScript would hold for a `serde_json` number.
fn number_to_f64(number: &Number) -> f64 {
    if let Some(n) = number.as_u64() {
        n as f64
    } else if let Some(n) = number.as_i64() {
        n as f64
    } else {
        number.as_f64().unwrap_or(f64::NAN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::parse;
    use serde_json::json;

    /// `(f64 bits, String(n) in Node 20, JS expression)`, generated with Node.
    const NUMBERS: &[(u64, &str, &str)] = &[
        (0x0000000000000000, "0", "0"),
        (0x8000000000000000, "0", "-0"),
        (0x3ff0000000000000, "1", "1"),
        (0xbff0000000000000, "-1", "-1"),
        (0x3fb999999999999a, "0.1", "0.1"),
        (0x3fc999999999999a, "0.2", "0.2"),
        (0x3fd3333333333333, "0.3", "0.3"),
        (0x3fd3333333333334, "0.30000000000000004", "0.1+0.2"),
        (0x3fe0000000000000, "0.5", "0.2+0.3"),
        (0x3fe9999999999999, "0.7999999999999999", "0.1+0.7"),
        (0x3fd5555555555555, "0.3333333333333333", "1/3"),
        (0x3fe5555555555555, "0.6666666666666666", "2/3"),
        (0xbfd5555555555555, "-0.3333333333333333", "-1/3"),
        (0x400aaaaaaaaaaaab, "3.3333333333333335", "10/3"),
        (0x4059000000000000, "100", "100"),
        (0x408f400000000000, "1000", "1000"),
        (0x412e848000000000, "1000000", "1e6"),
        (0x4415af1d78b58c40, "100000000000000000000", "1e20"),
        (0x444b1ae4d6e2ef50, "1e+21", "1e21"),
        (0xc44b1ae4d6e2ef50, "-1e+21", "-1e21"),
        (0x4480f0cf064dd592, "1e+22", "1e22"),
        (
            0x441ac53a7e04bcda,
            "123456789012345680000",
            "123456789012345680000",
        ),
        (0x444b1ae4d6e2ef50, "1e+21", "999999999999999999999"),
        (
            0x4415af1d78b58c3f,
            "99999999999999980000",
            "99999999999999990000",
        ),
        (0x3eb0c6f7a0b5ed8d, "0.000001", "1e-6"),
        (0x3e7ad7f29abcaf48, "1e-7", "1e-7"),
        (0xbe7ad7f29abcaf48, "-1e-7", "-1e-7"),
        (0x3e8421f5f40d8376, "1.5e-7", "1.5e-7"),
        (0x3eb421f5f40d8376, "0.0000012", "1.2e-6"),
        (0x3eb4b6231abfd271, "0.0000012345", "0.0000012345"),
        (0x3ee4f8b588e368f1, "0.00001", "1e-5"),
        (0x3c36b082c2148b8e, "1.23e-18", "123e-20"),
        (0x0000000000000001, "5e-324", "5e-324"),
        (0x8000000000000001, "-5e-324", "-5e-324"),
        (
            0x7fefffffffffffff,
            "1.7976931348623157e+308",
            "1.7976931348623157e308",
        ),
        (
            0xffefffffffffffff,
            "-1.7976931348623157e+308",
            "-1.7976931348623157e308",
        ),
        (0x0010000000000000, "2.2250738585072014e-308", "2**-1022"),
        (
            0x000fffffffffffff,
            "2.225073858507201e-308",
            "largest subnormal",
        ),
        (0x4340000000000000, "9007199254740992", "2**53"),
        (0x4340000000000001, "9007199254740994", "2**53+2"),
        (0x433fffffffffffff, "9007199254740991", "2**53-1"),
        (0xc340000000000000, "-9007199254740992", "-(2**53)"),
        (0x43f0000000000000, "18446744073709552000", "2**64"),
        (0x43e0000000000000, "9223372036854776000", "2**63"),
        (0xc3e0000000000000, "-9223372036854776000", "-(2**63)"),
        (0x41e0000000000000, "2147483648", "2**31"),
        (0x41f0000000000000, "4294967296", "2**32"),
        (0x41efffffffe00000, "4294967295", "2**32-1"),
        (0x4450000000000000, "1.1805916207174113e+21", "2**70"),
        (0x4011666666666666, "4.35", "4.35"),
        (0x407b2fffffffffff, "434.99999999999994", "4.35*100"),
        (0x3ff0147ae147ae14, "1.005", "1.005"),
        (0xbfe0000000000000, "-0.5", "-0.5"),
        (0x3ff8000000000000, "1.5", "1.5"),
        (0x4004000000000000, "2.5", "2.5"),
        (0x54b249ad2594c37d, "1e+100", "1e100"),
        (0xd4b693878aae8f8a, "-1.2345e+100", "-1.2345e+100"),
        (0x2b3147f19dd7eb02, "1.2345e-100", "1.2345e-100"),
        (0x405edd2f1a9fbe77, "123.456", "123.456"),
        (0xc05edd2f1a9fbe77, "-123.456", "-123.456"),
        (0x3f201f31f46ed246, "0.000123", "0.000123"),
        (0x430c6bf526340000, "1000000000000000", "1e15"),
        (0x4341c37937e08000, "10000000000000000", "1e16"),
        (0x4376345785d8a000, "100000000000000000", "1e17"),
        (0x4345ee2a2eb5a5c4, "12345678901234568", "12345678901234567"),
        (
            0x43b12210f47de981,
            "1234567890123456800",
            "1234567890123456789",
        ),
        (0x400921fb54442d18, "3.141592653589793", "Math.PI"),
        (0x421d4223fc1f977b, "31415926535.89793", "Math.PI*1e10"),
        (0x4005bf0a8b145769, "2.718281828459045", "Math.E"),
        (0x3ff6a09e667f3bcd, "1.4142135623730951", "Math.SQRT2"),
        (
            0x3cb0000000000000,
            "2.220446049250313e-16",
            "Number.EPSILON",
        ),
        (0x0000000000000003, "1.5e-323", "Number.MIN_VALUE*3"),
        (0x3eb0000000000000, "9.5367431640625e-7", "2**-20"),
        (0x0000000000000002, "1e-323", "1e-323"),
        (0x444dd0c885f9a0d8, "1.1e+21", "1.1e21"),
        (0x3e7d87247702c0d0, "1.1e-7", "1.1e-7"),
        (0x3eb4a2cf4d5aa6c0, "0.00000123", "1.23e-6"),
        (0x3ff35c28f5c28f5d, "1.2100000000000002", "1.1*1.1"),
        (0x7e6ddd4baa009303, "1e+301", "1e300*10"),
        (0x3e080d43de9cc603, "7e-10", "7.0e-10"),
        (0x40934a456d5cfaad, "1234.5678", "1234.5678"),
        (0x3ea0c6f7a0b5ed8d, "5e-7", "5e-7"),
        (0x3ea1309f9d2342ce, "5.123e-7", "5.123e-7"),
        (0x44dfe185ca57c517, "6.02214076e+23", "6.02214076e23"),
        (0x390b860bde023111, "6.62607015e-34", "6.62607015e-34"),
        (0x3fc2492492492492, "0.14285714285714285", "1/7"),
        (0x4009249249249249, "3.142857142857143", "22/7"),
        (0x41b1de784a000000, "299792458", "299792458"),
        (
            0x419d6f34547e6b75,
            "123456789.12345679",
            "123456789.12345679",
        ),
        (
            0x7fdfffffffffffff,
            "8.988465674311579e+307",
            "Number.MAX_VALUE/2",
        ),
        (
            0x444b1ae4d6e2ef4f,
            "999999999999999900000",
            "999999999999999900000",
        ),
        (0x3feffffffffffff7, "0.999999999999999", "0.999999999999999"),
        (
            0x3fefffffffffffff,
            "0.9999999999999999",
            "1-Number.EPSILON/2",
        ),
        (0x3ff0000000000001, "1.0000000000000002", "1+Number.EPSILON"),
        (0x3f1a36e2eb1c432d, "0.0001", "1e-4"),
        (0x3f50624dd2f1a9fc, "0.001", "0.001"),
        (0x4202a05f20000000, "10000000000", "1e10"),
        (0xc1d26580b4800000, "-1234567890", "-1234567890"),
        (
            0x44224301cc139b29,
            "168434878993434700000",
            "168434878993434700000",
        ),
        (0x3e45798ee2308c3a, "1e-8", "1e-8"),
        (
            0x3eb0c6f7a0b5ed8e,
            "0.0000010000000000000002",
            "1e-6 next up",
        ),
    ];

    #[test]
    fn numbers_match_node() {
        for &(bits, expected, expression) in NUMBERS {
            let n = f64::from_bits(bits);
            assert_eq!(number_to_js_string(n), expected, "String({expression})");
            let mut out = String::from("x");
            write_number(&mut out, n);
            assert_eq!(out, format!("x{expected}"), "JSON.stringify({expression})");
        }
    }

    #[test]
    fn numbers_table_is_large_enough() {
        assert!(NUMBERS.len() >= 60);
    }

    #[test]
    fn non_finite_numbers() {
        assert_eq!(number_to_js_string(f64::NAN), "NaN");
        assert_eq!(number_to_js_string(f64::INFINITY), "Infinity");
        assert_eq!(number_to_js_string(f64::NEG_INFINITY), "-Infinity");
        for n in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let mut out = String::new();
            write_number(&mut out, n);
            assert_eq!(out, "null");
        }
    }

    #[test]
    fn numbers_round_trip_through_rust_parsing() {
        // Every output must read back as the same f64, whatever the notation.
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let n = f64::from_bits(seed);
            if !n.is_finite() {
                continue;
            }
            let text = number_to_js_string(n);
            let back: f64 = text.parse().unwrap_or(f64::NAN);
            assert_eq!(back, if n == 0.0 { 0.0 } else { n }, "{text}");
            assert!(!text.contains('E'), "{text}");
        }
    }

    #[test]
    fn integers_use_plain_digits_below_1e21() {
        assert_eq!(number_to_js_string(-123.0), "-123");
        assert_eq!(
            number_to_js_string(1e21 - 131072.0),
            "999999999999999900000"
        );
        assert_eq!(number_to_js_string(i64::MAX as f64), "9223372036854776000");
        assert_eq!(number_to_js_string(u64::MAX as f64), "18446744073709552000");
    }

    fn js(s: &str) -> String {
        let mut out = String::new();
        write_string(&mut out, s);
        out
    }

    #[test]
    fn strings_ascii_range_matches_node() {
        let all: String = (0u8..0x80).map(char::from).collect();
        // JSON.stringify(String.fromCharCode(...[0..0x7f])) in Node 20.
        let expected = concat!(
            "\"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r",
            "\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018",
            "\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f !\\\"#$%&'()*+,-./0123456789:;<=>?",
            "@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\\\]^_`abcdefghijklmnopqrstuvwxyz{|}~\u{7f}\"",
        );
        assert_eq!(js(&all), expected);
    }

    #[test]
    fn strings_escapes() {
        assert_eq!(js(""), "\"\"");
        assert_eq!(js("plain"), "\"plain\"");
        assert_eq!(js("a\"b"), "\"a\\\"b\"");
        assert_eq!(js("a\\b"), "\"a\\\\b\"");
        assert_eq!(js("/"), "\"/\"");
        assert_eq!(js("\u{8}\u{c}\n\r\t"), "\"\\b\\f\\n\\r\\t\"");
        assert_eq!(js("\u{0}"), "\"\\u0000\"");
        assert_eq!(js("\u{1b}[0m"), "\"\\u001b[0m\"");
        assert_eq!(js("\u{1f}"), "\"\\u001f\"");
        assert_eq!(js("x\u{b}y\u{1e}"), "\"x\\u000by\\u001e\"");
        assert_eq!(js("\"\\\""), "\"\\\"\\\\\\\"\"");
    }

    #[test]
    fn strings_non_ascii_are_raw() {
        let raw = "\u{7f}\u{80}\u{9f}\u{a0}é\u{2028}\u{2029}\u{fffd}\u{fffc}\u{feff}😀👍🏽日本";
        assert_eq!(js(raw), format!("\"{raw}\""));
        // Bytes as printed by Node for ["\u2028\u2029\ufffd\ufffc\u{1f600}"].
        assert_eq!(
            js("\u{2028}\u{2029}\u{fffd}\u{fffc}\u{1f600}").as_bytes(),
            b"\"\xe2\x80\xa8\xe2\x80\xa9\xef\xbf\xbd\xef\xbf\xbc\xf0\x9f\x98\x80\""
        );
    }

    #[test]
    fn write_string_appends() {
        let mut out = String::from("[");
        write_string(&mut out, "a\nb");
        out.push(']');
        assert_eq!(out, "[\"a\\nb\"]");
    }

    #[test]
    fn object_key_order_matches_node() {
        let value =
            parse(r#"{"b":1,"2":2,"a":3,"1":4,"01":5,"-1":6,"4294967294":7,"4294967295":8}"#)
                .expect("valid");
        // Node 20: JSON.stringify of the same object literal.
        assert_eq!(
            stringify(&value),
            r#"{"1":4,"2":2,"4294967294":7,"b":1,"a":3,"01":5,"-1":6,"4294967295":8}"#
        );

        let value = parse(
            r#"{"b":1,"2":2,"a":3,"1":4,"01":5,"-1":6,"4294967294":7,"4294967295":8,"1.0":9,"0":10," 3":11,"3 ":12,"+4":13,"1e3":14}"#,
        )
        .expect("valid");
        assert_eq!(
            stringify(&value),
            r#"{"0":10,"1":4,"2":2,"4294967294":7,"b":1,"a":3,"01":5,"-1":6,"4294967295":8,"1.0":9," 3":11,"3 ":12,"+4":13,"1e3":14}"#
        );
    }

    #[test]
    fn stringify_nested_values_match_node() {
        let value = json!({
            "z": [{"10": "a", "9": "b", "y": [[], {}]}],
            "1": [true, false, null, -0.0, 1.5e-7, "é"]
        });
        // Node 20 output for the same object literal.
        assert_eq!(
            stringify(&value),
            r#"{"1":[true,false,null,0,1.5e-7,"é"],"z":[{"9":"b","10":"a","y":[[],{}]}]}"#
        );
        assert_eq!(stringify(&json!([])), "[]");
        assert_eq!(stringify(&json!({})), "{}");
        assert_eq!(stringify(&json!([[[]], {"a": {}}])), r#"[[[]],{"a":{}}]"#);
        assert_eq!(stringify(&json!(null)), "null");
        assert_eq!(stringify(&json!("x\u{7f}\u{1}")), "\"x\u{7f}\\u0001\"");
        assert_eq!(
            stringify(&json!({"a b": "\"q\"", "\n": 1})),
            r#"{"a b":"\"q\"","\n":1}"#
        );
    }

    #[test]
    fn stringify_numbers_like_javascript() {
        assert_eq!(
            stringify(&json!([1.0, 1e21, 1e-7, u64::MAX, i64::MIN, 0.1, -5, 100])),
            "[1,1e+21,1e-7,18446744073709552000,-9223372036854776000,0.1,-5,100]"
        );
        assert_eq!(
            stringify(&json!(9_007_199_254_740_993_u64)),
            "9007199254740992"
        );
    }

    #[test]
    fn write_value_appends() {
        let mut out = String::from("prefix:");
        write_value(&mut out, &json!({"a": [1, 2]}));
        assert_eq!(out, r#"prefix:{"a":[1,2]}"#);
    }

    #[test]
    fn stringify_deep_nesting_does_not_recurse() {
        let depth = 100_000;
        let mut value = json!(1);
        for _ in 0..depth {
            value = Value::Array(vec![value]);
        }
        let text = stringify(&value);
        // Take the tree apart iteratively before asserting, so that neither dropping it nor
        // unwinding from a failed assertion recurses through it.
        let mut current = value;
        while let Value::Array(mut items) = current {
            current = items.pop().unwrap_or(Value::Null);
        }
        assert_eq!(text, format!("{}1{}", "[".repeat(depth), "]".repeat(depth)));
    }
}
