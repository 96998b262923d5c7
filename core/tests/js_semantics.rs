//! `tinystore_core::js` against Node.js, the oracle: `Number(string)`, JavaScript whitespace,
//! `Number.prototype.toString`, `JSON.stringify` of numbers, `<` across types, TinyBase's
//! default sorter and object key order. Each test runs `node -e` for real on a list of tricky
//! inputs and compares every output exactly; without `node` on the `PATH` the tests fail.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{Value as Json, json};
use tinystore_core::Cell;
use tinystore_core::js::{self, Primitive};
use tinystore_core::json as tjson;
use tinystore_core::types::default_sorter_less;

/// Runs `script` under `node -e` with `input` on stdin and returns its stdout, one line per
/// output. The script gets `input` (the parsed JSON) and returns an array of strings.
fn node(script: &str, input: &Json) -> Vec<String> {
    let program = format!(
        "const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));\n\
         const f64 = new Float64Array(1), u64 = new BigUint64Array(f64.buffer);\n\
         const bits = x => {{ f64[0] = x; return Number.isNaN(x) ? 'NaN' : u64[0].toString(16); }};\n\
         const num = h => {{ u64[0] = BigInt('0x' + h); return f64[0]; }};\n\
         const out = (() => {{ {script} }})();\n\
         process.stdout.write(JSON.stringify(out));"
    );
    let mut child = match Command::new("node")
        .arg("-e")
        .arg(&program)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) => panic!(
            "these tests compare with Node.js, which could not be started (`node` must be on \
             the PATH): {e}"
        ),
    };
    let text = tjson::stringify(input);
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(text.as_bytes())
        .expect("write node's stdin");
    let output = child.wait_with_output().expect("node runs");
    assert!(
        output.status.success(),
        "node failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let out: Vec<String> =
        serde_json::from_slice(&output.stdout).expect("node prints a JSON array of strings");
    out
}

/// Asserts `actual == expected` item by item, listing the first mismatches with their input.
fn compare(what: &str, inputs: &[String], expected: &[String], actual: &[String]) {
    assert_eq!(expected.len(), actual.len(), "{what}: output counts differ");
    let mismatches: Vec<String> = inputs
        .iter()
        .zip(expected.iter().zip(actual))
        .filter(|(_, (e, a))| e != a)
        .map(|(i, (e, a))| format!("  {i}: node {e}, tinystore {a}"))
        .take(20)
        .collect();
    assert!(
        mismatches.is_empty(),
        "{what}: tinystore differs from Node on\n{}",
        mismatches.join("\n")
    );
}

fn bits(n: f64) -> String {
    if n.is_nan() {
        "NaN".to_owned()
    } else {
        format!("{:x}", n.to_bits())
    }
}

/// A small deterministic generator for the generated cases.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn digits(&mut self, alphabet: &[u8], len: usize) -> String {
        (0..len)
            .map(|_| char::from(alphabet[self.below(alphabet.len() as u64) as usize]))
            .collect()
    }
}

/// Characters to try as whitespace: every JavaScript one, and look-alikes that are not.
const SPACE_LIKE: &[char] = &[
    '\u{9}', '\u{A}', '\u{B}', '\u{C}', '\u{D}', ' ', '\u{1C}', '\u{1F}', '\u{85}', '\u{A0}',
    '\u{1680}', '\u{180E}', '\u{2000}', '\u{2005}', '\u{2009}', '\u{200A}', '\u{200B}', '\u{2028}',
    '\u{2029}', '\u{202F}', '\u{205F}', '\u{2060}', '\u{3000}', '\u{FEFF}', '\u{FFFE}', '\u{0}',
];

fn number_inputs() -> Vec<String> {
    let mut inputs: Vec<String> = [
        "",
        " ",
        "   ",
        "\t\n",
        "42",
        "0x10",
        "0X1f",
        "0xAbC",
        "-0x1",
        "+0x1",
        "0x-1",
        "0x+1",
        "0b101",
        "0B11",
        "0o17",
        "0O17",
        "0b2",
        "0o8",
        "0xg",
        "0x1.5",
        "0x_1",
        "0x1_0",
        "0x",
        "0b",
        "0o",
        "0X",
        "00x1",
        "1e400",
        "-1e400",
        "1e-400",
        "-1e-400",
        "1_000",
        ".5",
        "5.",
        "+.5e-3",
        "-.5E+3",
        "5.e5",
        ".e5",
        "e5",
        ".",
        "+",
        "-",
        "+-1",
        "-+1",
        "--1",
        "++1",
        "1e",
        "1e+",
        "1e-",
        "1E5",
        "1e05",
        "1.5e3.2",
        "Infinity",
        "-Infinity",
        "+Infinity",
        "infinity",
        "INFINITY",
        "Inf",
        "inf",
        "-inf",
        "NaN",
        "nan",
        "Infinityx",
        " Infinity ",
        "00",
        "007",
        "-0",
        "+0",
        "0.0",
        "-0.0",
        "-0e5",
        "1n",
        "0x1n",
        "١٢",
        "１２",
        "−1",
        "1,000",
        "1 2",
        "12abc",
        "abc",
        "true",
        "false",
        "null",
        "undefined",
        "[]",
        "{}",
        "1\u{0}",
        "0.1",
        "0.30000000000000004",
        "9007199254740993",
        "9007199254740993.0000000000000001",
        "9007199254740995",
        "1e308",
        "1.7976931348623157e308",
        "1.7976931348623158e308",
        "1.7976931348623159e308",
        "2.4703282292062327e-324",
        "2.4703282292062328e-324",
        "4.9e-324",
        "5e-324",
        "1e-324",
        "1e99999999999999999999",
        "0e99999999999999999",
        "1e-99999999999999999999",
        "0x20000000000001",
        "0x20000000000003",
        "0x20000000000002",
        "0x200000000000010000001",
        "0x1fffffffffffff8",
        "0x1fffffffffffff7ff",
        "0x1fffffffffffff800",
        "0x1fffffffffffff801",
        "0x10000000000000000000000001",
        "\u{2009}42\u{2009}",
        "\u{FEFF}0x10\u{3000}",
        "\n0b11\t",
        "\u{85}1",
        "1\u{85}",
        "\u{A0}1\u{A0}",
        "\u{2028}1\u{2029}",
        "\u{180E}1",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    for &c in SPACE_LIKE {
        for body in ["42", "-0x1", "0x1f", "", "-Infinity", ".5"] {
            inputs.push(format!("{c}{body}{c}"));
        }
        inputs.push(format!("1{c}2"));
    }
    for (prefix, digit, counts) in [
        ("", "1", &[309, 400, 800][..]),
        ("", "9", &[308, 309, 500][..]),
        ("0.", "0", &[300, 323, 400][..]),
        ("0x", "f", &[13, 14, 16, 17, 255, 256, 300][..]),
        ("0o", "7", &[17, 18, 19, 342, 400][..]),
        ("0b", "1", &[53, 54, 64, 65, 1023, 1024, 1025][..]),
    ] {
        for &count in counts {
            inputs.push(format!("{prefix}{}", digit.repeat(count)));
            inputs.push(format!("{prefix}{}1", digit.repeat(count)));
        }
    }
    inputs.push(format!("1{}", "0".repeat(400)));
    inputs.push(format!("0.{}1", "0".repeat(400)));
    inputs.push(format!("1.{}1e5", "0".repeat(400)));
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    for _ in 0..400 {
        let len = 1 + rng.below(40) as usize;
        let radix = [
            ("0x", &b"0123456789abcdefABCDEF"[..]),
            ("0o", &b"01234567"[..]),
            ("0b", &b"01"[..]),
        ][rng.below(3) as usize];
        inputs.push(format!("{}{}", radix.0, rng.digits(radix.1, len * 3)));
        let int = rng.digits(b"0123456789", len);
        let frac_len = rng.below(25) as usize;
        let frac = rng.digits(b"0123456789", frac_len);
        let exp = rng.below(700) as i64 - 350;
        inputs.push(format!("{int}.{frac}e{exp}"));
        let junk_len = 1 + rng.below(8) as usize;
        inputs.push(rng.digits(b"0123456789.eE+-x ", junk_len));
    }
    inputs
}

#[test]
fn number_of_strings_matches_node() {
    let inputs = number_inputs();
    let expected = node("return input.map(s => bits(Number(s)));", &json!(inputs));
    let actual: Vec<String> = inputs
        .iter()
        .map(|s| bits(js::string_to_number(s)))
        .collect();
    let shown: Vec<String> = inputs.iter().map(|s| format!("{s:?}")).collect();
    compare("Number(string)", &shown, &expected, &actual);
}

#[test]
fn whitespace_matches_node() {
    // Every code point that Number() skips around digits, per Node.
    let expected = node(
        "const ws = [];\n\
         for (let c = 0; c <= 0x10FFFF; c++) {\n\
           if (c >= 0xD800 && c <= 0xDFFF) continue;\n\
           const ch = String.fromCodePoint(c);\n\
           if (Number(ch + '7' + ch) === 7) ws.push(c.toString(16));\n\
         }\n\
         return ws;",
        &Json::Null,
    );
    let actual: Vec<String> = (0..=0x10_FFFFu32)
        .filter_map(char::from_u32)
        .filter(|&c| js::is_whitespace(c))
        .map(|c| format!("{:x}", u32::from(c)))
        .collect();
    assert_eq!(actual, expected, "JavaScript whitespace");
    assert!(!actual.contains(&"85".to_owned()) && actual.contains(&"feff".to_owned()));
}

fn number_samples() -> Vec<f64> {
    let mut samples = vec![
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.1,
        0.2 + 0.1,
        1e21,
        1e21 - 131_072.0,
        999_999_999_999_999_900_000.0,
        1e-6,
        9.99e-7,
        1e-7,
        1.5e-7,
        123_456_789_012_345_680_000.0,
        f64::MAX,
        f64::MIN_POSITIVE,
        5e-324,
        -5e-324,
        9_007_199_254_740_992.0,
        9_007_199_254_740_994.0,
        u64::MAX as f64,
        i64::MIN as f64,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        1.0 / 3.0,
        2.0 / 3.0,
        100.0,
        1e100,
        -1.2345e100,
        4.35,
        0.000_001_234_5,
    ];
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    for _ in 0..3000 {
        samples.push(f64::from_bits(rng.next()));
    }
    for _ in 0..500 {
        let digits = 1 + rng.below(17) as i32;
        let mantissa = rng.below(10u64.pow(digits as u32)) as f64;
        samples.push(mantissa * 10f64.powi(rng.below(60) as i32 - 30));
    }
    samples
}

#[test]
fn number_to_string_and_json_match_node() {
    let samples = number_samples();
    let hex: Vec<String> = samples
        .iter()
        .map(|n| format!("{:x}", n.to_bits()))
        .collect();
    let expected = node(
        "return input.flatMap(h => { const x = num(h); return [String(x), JSON.stringify(x)]; });",
        &json!(hex),
    );
    let actual: Vec<String> = samples
        .iter()
        .flat_map(|&n| {
            let mut json = String::new();
            tjson::write_number(&mut json, n);
            [js::number_to_string(n), json]
        })
        .collect();
    let shown: Vec<String> = samples
        .iter()
        .flat_map(|n| [format!("String({n:e})"), format!("JSON.stringify({n:e})")])
        .collect();
    compare("Number#toString", &shown, &expected, &actual);
}

/// A primitive for Node: `["u"]`, `["null"]`, `["b", true]`, `["n", bits]`, `["s", text]`.
fn encode(p: &Primitive<'_>) -> Json {
    match p {
        Primitive::Undefined => json!(["u"]),
        Primitive::Null => json!(["null"]),
        Primitive::Boolean(b) => json!(["b", b]),
        Primitive::Number(n) => json!(["n", format!("{:x}", n.to_bits())]),
        Primitive::String(s) => json!(["s", s]),
    }
}

const DECODE: &str = "const value = ([t, v]) => t === 'u' ? undefined : t === 'null' ? null \
                      : t === 'b' ? v : t === 'n' ? num(v) : v;";

fn primitives() -> Vec<Primitive<'static>> {
    let mut out = vec![
        Primitive::Undefined,
        Primitive::Null,
        Primitive::Boolean(false),
        Primitive::Boolean(true),
    ];
    for n in [
        0.0,
        -0.0,
        1.0,
        -1.0,
        1.5,
        9.0,
        10.0,
        1e21,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
    ] {
        out.push(Primitive::Number(n));
    }
    for s in [
        "",
        " ",
        "0",
        "00",
        "1",
        "01",
        "1.5",
        "9",
        "10",
        "-1",
        "1e3",
        "0x10",
        " 12 ",
        "\u{85}1",
        "\u{FEFF}1",
        "a",
        "A",
        "b",
        "ab",
        "B",
        "é",
        "z",
        "\u{D7FF}",
        "\u{E000}",
        "\u{FFFD}",
        "\u{FFFD}{\"a\":1}",
        "\u{FFFD}[1]",
        "\u{FFFF}",
        "😀",
        "😁",
        "𐀀",
        "true",
        "null",
        "Infinity",
        "NaN",
    ] {
        out.push(Primitive::String(s.into()));
    }
    out
}

#[test]
fn less_than_matches_node() {
    let values = primitives();
    let encoded: Vec<Json> = values.iter().map(encode).collect();
    let expected = node(
        &format!(
            "{DECODE}\n\
             const vs = input.map(value);\n\
             return vs.flatMap(a => vs.map(b => String(a < b)));"
        ),
        &json!(encoded),
    );
    let mut shown = Vec::new();
    let mut actual = Vec::new();
    for a in &values {
        for b in &values {
            shown.push(format!("{a:?} < {b:?}"));
            actual.push(js::less_than(a, b).to_string());
        }
    }
    compare("a < b", &shown, &expected, &actual);
}

#[test]
fn default_sorter_matches_node() {
    // Sort keys as the store sees them: missing, and every kind of cell.
    let mut keys: Vec<Option<Cell>> = vec![
        None,
        Some(Cell::Null),
        Some(Cell::Boolean(false)),
        Some(Cell::Boolean(true)),
        Some(Cell::Object("{\"a\":1}".into())),
        Some(Cell::Object("{}".into())),
        Some(Cell::Array("[1]".into())),
        Some(Cell::Array("[]".into())),
    ];
    for n in [0.0, -0.0, 1.0, -1.0, 0.5, 10.0, 1e300] {
        keys.push(Some(Cell::Number(n)));
    }
    for s in [
        "",
        " ",
        "0",
        "1",
        "-1",
        "10",
        "9",
        "0x1",
        "\u{85}0",
        "\u{A0}0",
        "a",
        "B",
        "😀",
        "\u{FFFF}",
        "\u{FFFD}",
        "\u{FFFD}{",
        "true",
    ] {
        keys.push(Some(Cell::from(s)));
    }
    let encoded: Vec<Json> = keys
        .iter()
        .map(|k| encode(&k.as_ref().map_or(Primitive::Undefined, Cell::to_js)))
        .collect();
    let expected = node(
        &format!(
            "{DECODE}\n\
             const ks = input.map(value);\n\
             const sorter = (a, b) => (a ?? 0) < (b ?? 0);\n\
             return ks.flatMap(a => ks.map(b => String(sorter(a, b))));"
        ),
        &json!(encoded),
    );
    let mut shown = Vec::new();
    let mut actual = Vec::new();
    for a in &keys {
        for b in &keys {
            shown.push(format!("{a:?} < {b:?}"));
            actual.push(default_sorter_less(a.as_ref(), b.as_ref()).to_string());
        }
    }
    compare("(a ?? 0) < (b ?? 0)", &shown, &expected, &actual);
}

#[test]
fn object_key_order_matches_node() {
    let pool = [
        "b",
        "10",
        "a",
        "2",
        "01",
        "-1",
        "0",
        "00",
        "-0",
        "4294967294",
        "4294967295",
        "4294967296",
        "1.0",
        "+1",
        " 1",
        "1 ",
        "1e3",
        "NaN",
        "Infinity",
        "١",
        "9",
        "99999999999",
        "",
        "__proto__x",
        "length",
        "3",
        "20",
    ];
    let mut rng = XorShift(0x0123_4567_89ab_cdef);
    let mut lists: Vec<Vec<&str>> = vec![pool.to_vec(), pool.iter().rev().copied().collect()];
    for _ in 0..200 {
        let mut list = pool.to_vec();
        for i in (1..list.len()).rev() {
            list.swap(i, rng.below(i as u64 + 1) as usize);
        }
        list.truncate(1 + rng.below(pool.len() as u64) as usize);
        lists.push(list);
    }
    let expected = node(
        "return input.map(keys => { const o = {}; for (const k of keys) o[k] = 1; \
         return JSON.stringify(Object.keys(o)); });",
        &json!(lists),
    );
    let actual: Vec<String> = lists
        .iter()
        .map(|keys| {
            let ordered = js::object_order(keys.iter().map(|k| (*k, ())).collect());
            let keys: Vec<&str> = ordered.into_iter().map(|(k, ())| k).collect();
            tjson::stringify(&json!(keys))
        })
        .collect();
    let shown: Vec<String> = lists.iter().map(|l| format!("{l:?}")).collect();
    compare("Object.keys", &shown, &expected, &actual);
    // JSON.stringify orders the same way.
    let object: serde_json::Map<String, Json> =
        pool.iter().map(|k| ((*k).to_owned(), json!(1))).collect();
    let expected = node(
        "const o = {}; for (const k of input) o[k] = 1; return [JSON.stringify(o)];",
        &json!(pool),
    );
    assert_eq!(vec![tjson::stringify(&Json::Object(object))], expected);
}

#[test]
fn id_alphabet_is_the_hlc_alphabet() {
    assert_eq!(js::ALPHABET, tinystore_core::hlc::ALPHABET);
    let id = js::unique_id(11);
    assert!(id.bytes().all(|b| js::ALPHABET.contains(&b)));
}

#[test]
fn math_min_and_max_match_node() {
    let samples = [
        0.0,
        -0.0,
        1.0,
        -1.5,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        1e308,
    ];
    let pairs: Vec<(f64, f64)> = samples
        .iter()
        .flat_map(|&a| samples.iter().map(move |&b| (a, b)))
        .collect();
    let hex: Vec<[String; 2]> = pairs
        .iter()
        .map(|(a, b)| [format!("{:x}", a.to_bits()), format!("{:x}", b.to_bits())])
        .collect();
    let expected = node(
        "return input.flatMap(([a, b]) => [bits(Math.min(num(a), num(b))), bits(Math.max(num(a), num(b)))]);",
        &json!(hex),
    );
    let actual: Vec<String> = pairs
        .iter()
        .flat_map(|&(a, b)| [bits(js::math_min(a, b)), bits(js::math_max(a, b))])
        .collect();
    let shown: Vec<String> = pairs
        .iter()
        .flat_map(|(a, b)| {
            [
                format!("Math.min({a:?}, {b:?})"),
                format!("Math.max({a:?}, {b:?})"),
            ]
        })
        .collect();
    compare("Math.min/max", &shown, &expected, &actual);
}
