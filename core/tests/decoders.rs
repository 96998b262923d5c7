//! Decoders of outside bytes never panic, reject atomically and round-trip what they accept.
//!
//! This proves, for every input generated below (arbitrary strings; mutations of valid
//! documents; structured but hostile JSON shaped like MergeableContent, MergeableChanges, store
//! content, schemas and op scripts; deep nesting), that each decoder tinystore-core exposes to
//! outside text — `json::parse`, `json::container_kind`, `Cell::from_encoded_str`,
//! `MergeableContent::from_json_str`, `MergeableStore::apply_mergeable_changes_json` and
//! `set_mergeable_content_json`, `Store::set_json`, `set_tables_json`, `set_values_json`,
//! `set_tables_schema_json`, `set_values_schema_json`, and `ops::apply_ops` after
//! `json::parse` —
//!
//! 1. returns `Ok` or `Err` and never panics (nor overflows the stack);
//! 2. on `Err`, leaves the store it was called on unchanged: its JSON, its schemas and, for a
//!    MergeableStore, `get_mergeable_content_json()` with every stamp and hash;
//! 3. on `Ok`, leaves a store whose output re-parses with the matching decoder (for a
//!    MergeableStore, `MergeableContent::from_json_str(.., true, u64::MAX)`) and loads into a
//!    fresh store as an identical copy; decoded values re-serialise to text that decodes to the
//!    same.
//!
//! The synchronizer protocol's decoders (`sync::protocol`: `decode_message`, `parse_control`,
//! `parse_channel_frame`, `PayloadDecoder`) likewise never panic, and what they accept
//! round-trips (see the last section).
//!
//! The properties are written once, in `core/fuzz/src/oracle.rs` and `core/fuzz/src/lib.rs`,
//! and shared with the cargo-fuzz targets in `core/fuzz/`, which search far more inputs than
//! this CI-sized run (at most 500 cases per property). Failing cases are not persisted to a
//! file: add any that is found to `known_edge_cases` (or `protocol_known_edge_cases`) below.

#[path = "../fuzz/src/lib.rs"]
mod fuzz;

use fuzz::{oracle, protocol};

use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::test_runner::Config;
use tinystore_core::hlc::Hlc;
use tinystore_core::json;
use tinystore_core::mergeable::JsonForm;
use tinystore_core::sync::protocol::make_payloads;

fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

/// `JSON.stringify(s)`.
fn quote(s: &str) -> String {
    let mut out = String::new();
    json::write_string(&mut out, s);
    out
}

fn object(entries: &[(String, String)]) -> String {
    let body: Vec<String> = entries.iter().map(|(k, v)| format!("{k}:{v}")).collect();
    format!("{{{}}}", body.join(","))
}

// ------------------------------------------------------------------------- generators
// Each generates JSON *text*, so that number literals JavaScript reads as Infinity, escaped
// lone surrogates, duplicate keys and invalid tokens can be produced too. `calm` weighs the
// well-formed choices against the hostile ones: 1 gives mostly hostile documents, 100 mostly
// valid ones, which get past validation to the merge, store and round-trip code.

/// How calm each generated document is (see above).
fn calm() -> impl Strategy<Value = u32> {
    select(&[1u32, 8, 100][..])
}

/// Ids, quoted; including the ones JavaScript or TinyBase treat specially.
fn id() -> impl Strategy<Value = String> + Clone {
    select(
        &[
            "t",
            "u",
            "r",
            "c",
            "v",
            "w",
            "0",
            "1",
            "10",
            "01",
            "-1",
            "4294967295",
            "__proto__",
            "",
            "\u{FFFD}",
            "\u{FFFC}",
            "a\"b\\",
        ][..],
    )
    .prop_map(quote)
}

/// Valid number literals: ordinary, huge, negative, fractional, and beyond f64 (which
/// JavaScript reads as ±Infinity, and tinystore as null).
fn number() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        2 => any::<i64>().prop_map(|n| n.to_string()),
        1 => any::<u64>().prop_map(|n| n.to_string()),
        2 => any::<f64>()
            .prop_filter("finite", |n| n.is_finite())
            .prop_map(json::number_to_js_string),
        2 => select(
            &[
                "0", "-0", "1", "-1", "0.5", "-1.5e-7", "1e21", "1E+2", "5e-324",
                "1.7976931348623157e308", "123456789012345678901234567890", "4294967295",
                "4294967296", "9007199254740993", "-9223372036854775809", "1e-400",
            ][..]
        )
        .prop_map(str::to_owned),
        1 => select(&["1e400", "-1e400"][..]).prop_map(str::to_owned),
    ]
}

/// Number-like tokens that are not JSON.
fn bad_number() -> impl Strategy<Value = String> + Clone {
    select(&["01", "1.", "-", ".5", "1e", "+1", "NaN", "Infinity", "0x10"][..])
        .prop_map(str::to_owned)
}

/// HLC strings (quoted) at and around the validity boundaries, and non-strings.
fn hlc(calm: u32) -> impl Strategy<Value = String> + Clone {
    let at = |ms: u64| quote(Hlc::encode(ms, 0, b"zzzzz").as_str());
    let limit = oracle::NOW + 300_000;
    prop_oneof![
        // Valid digits, time before the fixed clock's (first digit below 'N').
        6 * calm => "[-0-9A-M][-0-9A-Z_a-z]{15}".prop_map(|s| quote(&s)),
        // Valid digits, any time (mostly in the far future: rejected).
        2 => "[-0-9A-Z_a-z]{16}".prop_map(|s| quote(&s)),
        // The fixed clock's own HLCs, the 5-minute limit and one ms past it, time 0, "".
        3 => select(vec![
            quote("NjEtLV-----mmxrx"),
            quote("NjEtLV----0mmxrx"),
            at(limit),
            at(limit + 1),
            at(0),
            quote(""),
        ]),
        1 => "[-0-9A-Z_a-z]{0,15}|[-0-9A-Z_a-z]{17,20}".prop_map(|s| quote(&s)),
        1 => ".{16}".prop_map(|s| quote(&s)),
        1 => number(),
        1 => select(&["null", "[]", "{}", "true"][..]).prop_map(str::to_owned),
    ]
}

/// A stamp's hash: any u32, any number literal, or not a number.
fn hash(calm: u32) -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        4 * calm => any::<u32>().prop_map(|n| n.to_string()),
        2 => number(),
        1 => bad_number(),
        1 => select(&["null", "\"1\"", "[]"][..]).prop_map(str::to_owned),
    ]
}

/// Cells and values, in encoded or decoded form, valid or not.
fn cell(calm: u32) -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        4 * calm => number(),
        2 * calm => select(&["true", "false", "null"][..]).prop_map(str::to_owned),
        3 * calm => "[a-z0-9 ]{0,6}".prop_map(|s| quote(&s)),
        calm => any::<String>().prop_map(|s| quote(&s)),
        2 * calm => Just(quote("\u{FFFC}")),
        1 => Just("\"\\uFFFC\"".to_owned()),
        1 => Just("\"\\ud800\"".to_owned()),
        2 * calm => select(
            &["{}", "[]", "{\"a\":1}", "[1,[2,{}]]", "{\"0\":[],\"b\":\"\u{FFFD}\"}", " [ ] ",
              "{\"a\":1,\"a\":2}", "[\"\\ud800\"]"][..]
        )
        .prop_map(|s| quote(&format!("\u{FFFD}{s}"))),
        2 => select(&["nope", "", "{", "[1,]", "{} x", "[]]"][..])
            .prop_map(|s| quote(&format!("\u{FFFD}{s}"))),
        1 => select(&["{\"a\":1}", "[1,2]", "{}", "[]"][..]).prop_map(str::to_owned),
        1 => bad_number(),
    ]
}

/// Random JSON-ish trees, up to 4 levels deep with 1 to 4 children per container.
fn tree() -> BoxedStrategy<String> {
    let leaf = prop_oneof![number(), bad_number(), hlc(1), cell(1), id()];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..=4).prop_map(|v| format!("[{}]", v.join(","))),
            prop::collection::vec((id(), inner), 0..=4).prop_map(|v| object(&v)),
        ]
    })
    .boxed()
}

/// The elements after a stamp's thing: none, HLC, HLC and hash, or one too many. Full content
/// (`full`) needs all three elements, so then that is by far the most likely.
fn tail(full: bool, calm: u32) -> BoxedStrategy<String> {
    let (none, hlc_only, both) = if full {
        (1, 1, 40 * calm)
    } else {
        (6 * calm, 6 * calm, 4 * calm)
    };
    prop_oneof![
        none => Just(String::new()),
        hlc_only => hlc(calm).prop_map(|h| format!(",{h}")),
        both => (hlc(calm), hash(calm)).prop_map(|(h, x)| format!(",{h},{x}")),
        1 => (hlc(calm), hash(calm), tree()).prop_map(|(h, x, e)| format!(",{h},{x},{e}")),
    ]
    .boxed()
}

/// `[cell, hlc?, hash?]`, now and then something else entirely.
fn leaf_stamp(full: bool, calm: u32) -> BoxedStrategy<String> {
    prop_oneof![
        30 * calm => (cell(calm), tail(full, calm)).prop_map(|(c, t)| format!("[{c}{t}]")),
        1 => tree(),
    ]
    .boxed()
}

/// `[{id: child, ...}, hlc?, hash?]` with 0 to 3 children, now and then something else.
fn map_stamp(child: BoxedStrategy<String>, full: bool, calm: u32) -> BoxedStrategy<String> {
    prop_oneof![
        30 * calm => (prop::collection::vec((id(), child), 0..=3), tail(full, calm))
            .prop_map(|(entries, t)| format!("[{}{t}]", object(&entries))),
        1 => tree(),
    ]
    .boxed()
}

/// MergeableContent (`[tables, values]`) or changes (`[tables, values, 1]`) text, mostly
/// well-formed but with hostile HLCs, hashes, cells, ids and shapes mixed in.
fn mergeable_text() -> BoxedStrategy<String> {
    (any::<bool>(), calm())
        .prop_flat_map(|(full, calm)| {
            let leaf = leaf_stamp(full, calm);
            let tables = map_stamp(
                map_stamp(map_stamp(leaf.clone(), full, calm), full, calm),
                full,
                calm,
            );
            let values = map_stamp(leaf, full, calm);
            let marker = prop_oneof![
                8 * calm => Just(""),
                4 * calm => Just(",1"),
                1 => select(&[",2", ",1,1", ",\"1\"", ",1.0", ",null", ",1e0"][..]),
            ];
            (tables, values, marker).prop_map(|(t, v, m)| format!("[{t},{v}{m}]"))
        })
        .boxed()
}

/// A row: `{id: cell}`.
fn row(calm: u32) -> impl Strategy<Value = String> + Clone {
    prop::collection::vec((id(), cell(calm)), 0..=3).prop_map(|v| object(&v))
}

/// A table: `{id: row}`.
fn table(calm: u32) -> impl Strategy<Value = String> + Clone {
    prop::collection::vec((id(), row(calm)), 0..=2).prop_map(|v| object(&v))
}

/// Tables: `{id: table}`.
fn tables(calm: u32) -> impl Strategy<Value = String> + Clone {
    prop::collection::vec((id(), table(calm)), 0..=2).prop_map(|v| object(&v))
}

/// `set_json`, `set_tables_json` and `set_values_json` input.
fn store_text() -> BoxedStrategy<String> {
    calm()
        .prop_flat_map(|calm| {
            prop_oneof![
                4 * calm => (tables(calm), row(calm)).prop_map(|(t, v)| format!("[{t},{v}]")),
                2 * calm => tables(calm),
                2 * calm => row(calm),
                1 => (tables(calm), row(calm), tree())
                    .prop_map(|(t, v, x)| format!("[{t},{v},{x}]")),
                1 => tree(),
            ]
        })
        .boxed()
}

/// One cell or value schema, with valid and invalid entries.
fn cell_schema(calm: u32) -> impl Strategy<Value = String> + Clone {
    let r#type = prop_oneof![
        calm => select(
            &["\"string\"", "\"number\"", "\"boolean\"", "\"object\"", "\"array\"",
              "[\"number\",\"string\"]"][..]
        ),
        1 => select(&["\"date\"", "[]", "[\"string\",1]", "1"][..]),
    ];
    let r#enum = prop_oneof![
        calm => select(&["[\"a\",1,true]", "[\"a\",\"b\"]", "[-0,0]"][..]),
        1 => select(&["[]", "[null]", "[\"\\uFFFC\"]", "[1e400]"][..]),
    ];
    let flag = prop_oneof![
        calm => select(&["true", "false"][..]),
        1 => select(&["1", "null"][..]),
    ];
    let kind = prop_oneof![
        3 => r#type.prop_map(|t| ("\"type\"".to_owned(), t.to_owned())),
        1 => r#enum.prop_map(|e| ("\"enum\"".to_owned(), e.to_owned())),
    ];
    let extra = prop_oneof![
        2 => cell(calm).prop_map(|c| ("\"default\"".to_owned(), c)),
        1 => flag.clone().prop_map(|f| ("\"allowNull\"".to_owned(), f.to_owned())),
        1 => flag.prop_map(|f| ("\"required\"".to_owned(), f.to_owned())),
        1 => (id(), tree()),
        1 => kind.clone(),
    ];
    (kind, prop::collection::vec(extra, 0..=3)).prop_map(|(kind, mut entries)| {
        entries.insert(0, kind);
        object(&entries)
    })
}

/// A TablesSchema (`{t: {c: schema}}`) or ValuesSchema (`{v: schema}`).
fn schema_text() -> BoxedStrategy<String> {
    calm()
        .prop_flat_map(|calm| {
            let values =
                prop::collection::vec((id(), cell_schema(calm)), 0..=3).prop_map(|v| object(&v));
            prop_oneof![
                calm => values.clone(),
                calm => prop::collection::vec((id(), values), 0..=2).prop_map(|v| object(&v)),
                1 => tree(),
            ]
        })
        .boxed()
}

/// Op signatures: `i` id, `c` cell, `r` row, `t` table, `T` tables, `C` `[tables, values]`,
/// `b` boolean. `sleep` and `bogus` are unsupported.
const OPS: &[(&str, &str)] = &[
    ("setCell", "iiic"),
    ("setRow", "iir"),
    ("setPartialRow", "iir"),
    ("addRow", "ir"),
    ("setTable", "it"),
    ("setTables", "T"),
    ("setValue", "ic"),
    ("setValues", "r"),
    ("setPartialValues", "r"),
    ("setContent", "C"),
    ("delCell", "iiib"),
    ("delRow", "ii"),
    ("delTable", "i"),
    ("delTables", ""),
    ("delValue", "i"),
    ("delValues", ""),
    ("sleep", "c"),
    ("bogus", ""),
];

fn op_arg(kind: char, calm: u32) -> BoxedStrategy<String> {
    let typed = match kind {
        'i' => prop_oneof![
            6 => id().boxed(),
            1 => number().boxed(),
            1 => select(&["true", "null", "[]", "{}"][..]).prop_map(str::to_owned).boxed(),
        ]
        .boxed(),
        'c' => cell(calm).boxed(),
        'r' => row(calm).boxed(),
        't' => table(calm).boxed(),
        'T' => tables(calm).boxed(),
        'C' => (tables(calm), row(calm))
            .prop_map(|(t, v)| format!("[{t},{v}]"))
            .boxed(),
        _ => select(&["true", "false"][..])
            .prop_map(str::to_owned)
            .boxed(),
    };
    prop_oneof![12 * calm => typed, 1 => tree()].boxed()
}

/// One op, now and then with an argument missing or one too many.
fn op(calm: u32) -> BoxedStrategy<String> {
    (select(OPS), 0..(10 * calm as usize + 2))
        .prop_flat_map(move |((name, signature), tweak)| {
            let args: Vec<BoxedStrategy<String>> =
                signature.chars().map(|kind| op_arg(kind, calm)).collect();
            (args, tree()).prop_map(move |(mut args, extra)| {
                match tweak {
                    0 => drop(args.pop()),
                    1 => args.push(extra),
                    _ => {}
                }
                let mut parts = vec![quote(name)];
                parts.extend(args);
                format!("[{}]", parts.join(","))
            })
        })
        .boxed()
}

/// An op script: a list of ops and transactions (nested ones are refused by `check_ops`).
fn ops_text() -> BoxedStrategy<String> {
    let list = |op: BoxedStrategy<String>| {
        prop::collection::vec(op, 0..=4).prop_map(|v| format!("[{}]", v.join(",")))
    };
    calm()
        .prop_flat_map(move |calm| {
            let nested = list(op(calm)).prop_map(|l| format!("[\"transaction\",{l}]"));
            let inner = prop_oneof![6 * calm => op(calm), 1 => nested];
            let outer = prop_oneof![
                4 => op(calm),
                1 => list(inner.boxed()).prop_map(|l| format!("[\"transaction\",{l}]")),
                1 => Just("[\"transaction\"]".to_owned()),
            ];
            prop_oneof![12 * calm => list(outer.boxed()), 1 => tree()]
        })
        .boxed()
}

/// Valid documents of every kind, to be mutated.
fn seeds() -> Vec<String> {
    let mergeable = oracle::seeded_mergeable();
    vec![
        mergeable.get_mergeable_content_json(),
        mergeable
            .get_mergeable_content()
            .to_json_string(JsonForm::CHANGES),
        mergeable.get_json(),
        r#"{"t":{"c":{"type":"number","default":1},"s":{"enum":["a","b"],"allowNull":true}}}"#
            .to_owned(),
        r#"[["setCell","t","r","c",{"a":[1]}],["transaction",[["setValue","v",1],["delRow","t","r"]]],["setContent",[{"t":{"0":{"x":"\uFFFD[]"}}},{"w":null}]]]"#
            .to_owned(),
    ]
}

/// Tokens inserted by mutations.
const TOKENS: &[&str] = &[
    "[",
    "]",
    "{",
    "}",
    ",",
    ":",
    "\"",
    "\\",
    "0",
    "-",
    "1e400",
    "\u{FFFC}",
    "\u{FFFD}",
    "null",
    "\"NjEtLV-----mmxrx\"",
    "\"zzzzzzzzzzzzzzzz\"",
    ",1",
    "[{}",
    "\\ud800",
    " ",
];

/// Applies byte-level edits (at character boundaries) to `text`.
fn mutate(text: &str, edits: &[(Index, u8, &str)]) -> String {
    let mut text = text.to_owned();
    for (at, kind, token) in edits {
        let mut bounds: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
        bounds.push(text.len());
        let i = *at.get(&bounds);
        let next = bounds.iter().copied().find(|&b| b > i).unwrap_or(i);
        match kind {
            0 => text.replace_range(i..next, ""),
            1 => text.insert_str(i, token),
            2 => text.truncate(i),
            _ => text.replace_range(i..next, token),
        }
    }
    text
}

// ------------------------------------------------------------------------- properties

proptest! {
    #![proptest_config(config(300))]

    #[test]
    fn arbitrary_strings(text in any::<String>()) {
        oracle::check_all(&text);
    }

    #[test]
    fn json_alphabet_strings(text in "[\\[\\]{}\",:0-9eE.+\\-a-z\\\\ \u{FFFC}\u{FFFD}]{0,80}") {
        oracle::check_all(&text);
    }

    #[test]
    fn hostile_json_trees(text in tree()) {
        oracle::check_all(&text);
    }

    #[test]
    fn hostile_store_json(text in store_text()) {
        oracle::check_json(&text);
        oracle::check_store(&text);
    }

    #[test]
    fn hostile_schemas(text in schema_text()) {
        oracle::check_store(&text);
    }

    #[test]
    fn hostile_op_scripts(text in ops_text()) {
        oracle::check_ops(&text);
    }
}

proptest! {
    #![proptest_config(config(500))]

    #[test]
    fn mutated_valid_documents(
        seed in select(seeds()),
        edits in prop::collection::vec((any::<Index>(), 0u8..4, select(TOKENS)), 1..=3),
    ) {
        oracle::check_all(&mutate(&seed, &edits));
    }

    #[test]
    fn hostile_mergeable_content(text in mergeable_text()) {
        oracle::check_json(&text);
        oracle::check_mergeable(&text);
    }
}

// ------------------------------------------------------------------------- fixed cases

/// A full-content document whose only cell is `cell` (JSON text).
fn content_with_cell(cell: &str) -> String {
    format!(r#"[[{{"t":[{{"r":[{{"c":[{cell},"",0]}},"",0]}},"",0]}},"",0],[{{}},"",0]]"#)
}

#[test]
fn deep_nesting() {
    let n = 10_000;
    let open = "[".repeat(n);
    let close = "]".repeat(n);
    let deep_array = format!("{open}{close}");
    let deep_cell = quote(&format!("\u{FFFD}{deep_array}"));
    let limit = json::MAX_PARSE_DEPTH;
    let at_limit = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let cases = [
        open.clone(),
        deep_array.clone(),
        format!("{}1{}", "{\"a\":".repeat(n), "}".repeat(n)),
        "[{".repeat(n / 2),
        format!("{}{}", "[{\"a\":".repeat(n / 2), "}]".repeat(n / 2)),
        at_limit(limit),
        at_limit(limit + 1),
        format!("\u{FFFD}{deep_array}"),
        // The deep container inside a cell, an encoded string: accepted everywhere.
        content_with_cell(&deep_cell),
        format!("[[{{}}],[{{\"v\":[{deep_cell}]}}],1]"),
        format!("[{{\"t\":{{\"r\":{{\"c\":{deep_cell}}}}}}},{{\"v\":{deep_cell}}}]"),
        // The deep container as the stamp, the cell, the schema default or the op argument.
        content_with_cell(&deep_array),
        format!("[[{{}}],[{{\"v\":{deep_array}}}],1]"),
        format!("[[{{}}],[{{\"v\":[{}]}}],1]", at_limit(limit - 4)),
        format!(
            "{{\"v\":{{\"type\":\"array\",\"default\":{}}}}}",
            at_limit(limit - 3)
        ),
        format!("[[\"setValue\",\"v\",{}]]", at_limit(limit - 2)),
        format!("[[\"setCell\",\"t\",\"r\",\"c\",{deep_cell}]]"),
    ];
    for text in &cases {
        oracle::check_all(text);
    }
}

#[test]
fn known_edge_cases() {
    let cases = [
        "",
        " ",
        "null",
        "[]",
        "{}",
        "[[],[]]",
        "[{},{}]",
        "[[{}],[{}]]",
        "[[{}],[{}],1]",
        "[[{}],[{}],1.0]",
        "[[{},\"\",0],[{},\"\",0]]",
        "[[{},\"\",1e400],[{},\"\",0]]",
        "[[{},\"\",-1],[{},\"\",4294967296.5]]",
        "[[{}],[{\"v\":[1,\"zzzzzzzzzzzzzzzz\"]}],1]",
        "[[{}],[{\"v\":[\"\\uFFFC\",\"NjEtLV-----mmxrx\"]}],1]",
        "[[{}],[{\"v\":[\"\u{FFFD}nope\"]}],1]",
        "[[{\"t\":[{\"r\":[{}]}]}],[{}],1]",
        "[[{\"t\":[{\"r\":[{\"c\":[null]}]}]}],[{}],1]",
        "[[{\"__proto__\":[{\"0\":[{\"01\":[1]}]}]}],[{}],1]",
        "\u{FFFD}{}",
        "\u{FFFD}[]",
        "\u{FFFD}",
        "\u{FFFC}",
        "\"\\ud800\"",
        "[\"\\ud800\\udc00\"]",
        "[{\"t\":{\"r\":{\"c\":\"\u{FFFD}{\\\"a\\\":1}\"}}},{\"v\":\"\u{FFFC}\"}]",
        "{\"t\":{\"r\":{\"c\":1e400}}}",
        "{\"t\":{\"c\":{\"type\":\"number\",\"default\":null,\"allowNull\":true}}}",
        "{\"v\":{\"enum\":[\"a\"],\"type\":\"string\"}}",
        "[[\"transaction\",[[\"transaction\",[]]]]]",
        "[[\"setContent\",[{},{},{}]]]",
        "[[\"setCell\",{},\"r\",\"c\",1]]",
        "[[\"setCell\",1e400,-0,1e21,\"\u{FFFD}[]\"]]",
        "[[\"addRow\",\"t\",{\"c\":\"\u{FFFC}\"}],[\"setValue\",\"v\",[1,{\"a\":null}]]]",
    ];
    for text in cases {
        oracle::check_all(text);
    }
}

// ------------------------------------------------------------------------- sync protocol

/// Frames recorded from TinyBase 10.0.1 (spec sync.md §6 and the kit's wire traces): plain
/// messages of every type, control frames, channel frames and the two fragments of a message.
const PROTOCOL_SEEDS: &[&str] = &[
    "\n[\"XRI2_CxO_c4.R1gO\",1,\"\"]",
    "\n[\"y-Dbh_QbYQT\",2,[467359372,0]]",
    "B\n[\"yfaW6R_ukQY.SG6T\",4,{}]",
    "A\n[\"yfaW6R_ukQY.SG6T\",0,[[{\"pets\":[{\"fido\":[{\"species\":[\"dog\",\"NjEtLV-----67WEb\"]}]}]}],{}]]",
    "B\n[\"fmYAlzuwlW8\",3,[[{\"pets\":[{\"fido\":[{\"species\":[\"\u{FFFC}\",\"NjEtLV----15le2J\"]}]}]}],[{\"open\":[true,\"NjEtLV----05le2J\"]}],1]]",
    "S\n[\"mRQVzgxTQ5w.m_JW\",5,{\"pets\":{\"fido\":2903194823}}]",
    "S\n[\"mRQVzgxTQ5w.m_JX\",6,{\"pets\":{\"fido\":{\"species\":1}}}]",
    "S\n[null,7,{\"open\":0}]",
    "S\n[\"UvneNzz7kWw3pUec\",-1,[0,1]]",
    "S\n[\"1jGyTONxPi-qG3-K\",-1,[1,\"chan1\"]]",
    "S\n[null,-1,[2,\"chan1\"]]",
    "M\nchan1\n\n[\"yFOerdKBB-r.M8c5\",1,\"\"]",
    "M\nroom\nS\n[\"yYiiJlGFg-W\",2,[0,0]]",
    "S\n5fPQRLfeJwVECluQ\n0\n2\n[\"OsYDFaUrtcy.EKt5\",0,[2827520",
    "S\n5fPQRLfeJwVECluQ\n1\n2\n113,4287692325]]",
];

/// Several seeds as one input of [`protocol::check_payloads`]: payloads joined with its
/// separator, some for the second decoder or arriving after the timeout.
fn protocol_payloads() -> impl Strategy<Value = String> {
    let prefix = select(vec![
        String::new(),
        String::new(),
        protocol::SECOND_DECODER.to_string(),
        protocol::LATER.to_string(),
    ]);
    prop::collection::vec((prefix, select(PROTOCOL_SEEDS)), 1..=6).prop_map(|payloads| {
        let payloads: Vec<String> = payloads
            .into_iter()
            .map(|(prefix, payload)| format!("{prefix}{payload}"))
            .collect();
        payloads.join(&protocol::PAYLOAD_SEPARATOR.to_string())
    })
}

/// A message `[requestId, message, body]` with hostile parts: request ids of every type,
/// message numbers in and out of range, and bodies shaped like (or unlike) each message's.
fn protocol_message() -> BoxedStrategy<String> {
    calm()
        .prop_flat_map(|calm| {
            let request_id = prop_oneof![
                4 * calm => "[-0-9A-Za-z_]{11}(\\.[-0-9A-Za-z_]{4})?".prop_map(|s| quote(&s)),
                1 => select(&["null", "\"\"", "\"\\uFFFC\"", "1", "1e400", "[]", "{}"][..])
                    .prop_map(str::to_owned),
            ];
            // Mostly a number the body suits, now and then any other.
            let number = prop_oneof![
                8 * calm => Just(None),
                2 => (0u8..8).prop_map(|n| Some(n.to_string())),
                1 => select(&["-1", "8", "1.0", "1.5", "\"1\"", "1e400", "-0", "null"][..])
                    .prop_map(|n| Some(n.to_owned())),
            ];
            let hashes = (hash(calm), hash(calm)).prop_map(|(a, b)| format!("[{a},{b}]"));
            let hash_tree = |depth: usize| {
                let mut tree = prop::collection::vec((id(), hash(calm)), 0..=3)
                    .prop_map(|v| object(&v))
                    .boxed();
                for _ in 0..depth {
                    tree = prop::collection::vec((id(), tree), 0..=2)
                        .prop_map(|v| object(&v))
                        .boxed();
                }
                tree
            };
            let body = prop_oneof![
                3 * calm => (mergeable_text(), select(&["3", "0"][..])),
                calm => (hashes.boxed(), select(&["2", "0"][..])),
                calm => (Just("\"\"".to_owned()).boxed(), select(&["1"][..])),
                calm => (hash_tree(0), select(&["4", "7"][..])),
                calm => (hash_tree(1), select(&["5"][..])),
                calm => (hash_tree(2), select(&["6"][..])),
                1 => (tree(), select(&["0"][..])),
            ];
            (request_id, number, body).prop_map(|(r, n, (b, suits))| {
                let n = n.unwrap_or_else(|| suits.to_owned());
                format!("[{r},{n},{b}]")
            })
        })
        .boxed()
}

/// A message as a plain payload, a channel frame or fragments, or a control frame.
fn protocol_text() -> BoxedStrategy<String> {
    let sep = protocol::PAYLOAD_SEPARATOR.to_string();
    // Control frames: request id, message, control and body, each usually one that suits
    // (in any of the forms TinyBase's `==` accepts), now and then one that does not.
    let control = prop_oneof![
        4 => (
            select(&["\"UvneNzz7kWw3pUec\"", "\"1jGyTONxPi-qG3-K\""][..]),
            select(&["-1", "\"-1\"", "[-1]", "-1.0"][..]),
            prop_oneof![
                Just(("0", "1")),
                Just(("\"0\"", "[\"1\"]")),
                Just(("1", "\"chan\"")),
                Just(("[1]", "\"a/b\"")),
            ],
        )
            .prop_map(|(r, m, (c, b))| (r, m, c, b)),
        1 => (Just("null"), Just("-1"), select(&["2", "\"2\"", "true"][..]), Just("\"chan\"")),
        2 => (
            select(&["\"UvneNzz7kWw3pUec\"", "null", "1e400", "\"\""][..]),
            select(&["-1", "\"-1\"", "[-1]", "1"][..]),
            select(&["0", "1", "2", "\"1\"", "[2]", "true", "{}"][..]),
            select(
                &["1", "\"chan\"", "\"a/../b\"", "\"\"", "[1]", "\"\\uFFFC\"", "1e400"][..],
            ),
        ),
    ]
    .prop_map(|(r, m, c, b)| format!("S\n[{r},{m},[{c},{b}]]"));
    prop_oneof![
        3 => protocol_message(),
        2 => protocol_message().prop_map(|m| format!("\n{m}")),
        1 => protocol_message().prop_map(|m| format!("M\nchan\nS\n{m}")),
        2 => (protocol_message(), 1usize..12).prop_map(move |(m, n)| {
            make_payloads("c", &m, Some(n)).join(&sep)
        }),
        2 => control,
    ]
    .boxed()
}

proptest! {
    #![proptest_config(config(300))]

    #[test]
    fn protocol_arbitrary_strings(text in any::<String>()) {
        protocol::check_protocol(&text);
    }

    #[test]
    fn protocol_mutated_frames(
        seed in prop_oneof![select(PROTOCOL_SEEDS).prop_map(str::to_owned), protocol_payloads()],
        edits in prop::collection::vec((any::<Index>(), 0u8..4, select(TOKENS)), 1..=3),
    ) {
        protocol::check_protocol(&mutate(&seed, &edits));
    }

    #[test]
    fn protocol_hostile_messages(text in protocol_text()) {
        protocol::check_protocol(&text);
    }
}

#[test]
fn protocol_known_edge_cases() {
    let sep = protocol::PAYLOAD_SEPARATOR;
    let cases = [
        String::new(),
        "\n".to_owned(),
        "S\n".to_owned(),
        "M\n\n".to_owned(),
        "[null,1,\"\"]".to_owned(),
        "[\"\\ud800\",1,\"\"]".to_owned(),
        "[1e400,1,\"\"]".to_owned(),
        "[\"x\",0,[{\"v\":[1e400]}]]".to_owned(),
        "[\"x\",0,[{\"v\":[[1e400]]}]]".to_owned(),
        "[\"x\",3,[[{\"t\":[{\"r\":[{\"c\":[-0]}]}]}],[{}],1]]".to_owned(),
        "S\n[\"A\",\"-1\",[\"0\",[[\"1\"]]]]".to_owned(),
        "S\n[\"A\",-1,[{},1]]".to_owned(),
        format!("S\n[\"A\",-1,[1,\"{}\"]]", "c".repeat(2000)),
        format!("M\n{}\n\n[\"x\",1,\"\"]", "c".repeat(2000)),
        format!("\nAAAAAAAAAAAAAAAA\n0\n2\n[\"x\",{sep}\nAAAAAAAAAAAAAAAA\n1\n2\n1,\"\"]"),
        format!("\nAAAAAAAAAAAAAAAA\n0\n2\n[{sep}\u{3}\nAAAAAAAAAAAAAAAA\n1\n2\n]"),
        format!(
            "\nAAAAAAAAAAAAAAAA\n0\n2\nx{sep}\u{2}\nAAAAAAAAAAAAAAAA\n0\n3\nx{sep}\nAAAAAAAAAAAAAAAA\n0\n3\nx"
        ),
        format!("\nAAAAAAAAAAAAAAAA\n0\n1001\nx{sep}\n[\"x\",1,\"\"]"),
        format!("[\"{}\",1,\"\"]", "\u{1F600}".repeat(3000)),
    ];
    for text in &cases {
        protocol::check_protocol(text);
    }
}
