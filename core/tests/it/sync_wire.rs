//! The synchronizer wire protocol (`sync::protocol`, spec sync.md §1 and §3) against TinyBase
//! 10.0.1's own frames, random messages and hostile input.
//!
//! - Every frame of the kit's recorded WebSocket traces (`fixtures/wire/*/*.jsonl`) parses and
//!   is written back byte for byte: plain messages, control frames, channel frames, fragments
//!   (reassembled by one `PayloadDecoder` per connection and direction), and `make_payloads`
//!   splits the fragmenting client's messages exactly as TinyBase did.
//! - Random valid messages survive `make_payloads` + `PayloadDecoder` in any order, within the
//!   fragment size and count bounds.
//! - `decode_message` and `PayloadDecoder` never panic, are idempotent and keep their budget.
//! - The limits and errors of §3.1 and §3.3.
//! - Where `protocol.rs` once differed from TinyBase (checked against TinyBase's server).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::test_runner::Config;
use serde_json::{Value as Json, json};
use tinystore_core::json as js;
use tinystore_core::sync::protocol::{
    ChannelFrame, Control, FragmentBudget, MAX_FRAGMENT_BUFFERS, MAX_FRAGMENTS, MAX_PAYLOAD_BYTES,
    Message, MessageType, PayloadDecoder, ProtocolError, channel_payload, control_payload,
    decode_message, is_body_valid, make_payloads, parse_channel_frame, parse_control, raw_payload,
    split_payload,
};

use crate::fixtures::kit_dir;

fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

/// `(messageId, index, total, piece)` of a fragment remainder: TinyBase's
/// `^([-0-9A-Z_a-z]{16})\n(\d+)\n(\d+)\n([\s\S]*)$`.
fn fragment_parts(remainder: &str) -> Option<(&str, usize, usize, &str)> {
    let mut parts = remainder.splitn(4, '\n');
    let (id, index, total, piece) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let alphabet = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
    let number = |s: &str| {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<usize>().ok())
            .flatten()
    };
    (id.len() == 16 && id.bytes().all(alphabet)).then_some(())?;
    Some((id, number(index)?, number(total)?, piece))
}

/// JavaScript's `===` on JSON trees (so `-0` equals `0`, whatever the `serde_json` number).
fn js_equal(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => x.as_f64() == y.as_f64(),
        (Json::Array(x), Json::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| js_equal(x, y))
        }
        (Json::Object(x), Json::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| js_equal(v, w)))
        }
        _ => a == b,
    }
}

/// An accepted message re-encodes to text that decodes to an equal message, and that text is
/// a fixed point.
fn assert_idempotent(message: &Message) {
    let once = message.encode();
    let again = decode_message(&once)
        .unwrap_or_else(|| panic!("{once:?}, the encoding of an accepted message, is refused"));
    assert_eq!(again.request_id, message.request_id, "{once}");
    assert_eq!(again.message, message.message, "{once}");
    assert!(js_equal(&again.body, &message.body), "{once}");
    assert_eq!(again.encode(), once);
}

// ---------------------------------------------------------------------------------- fixtures

/// The fragment size each fragmenting client of the wire fixtures was run with (the kit's
/// `gen-fixtures.mjs`): `(scenario, trace file)`.
const FRAGMENTING_CLIENTS: &[(&str, &str, usize)] = &[(
    "legacy-with-server-store-late-joiner-fragmented",
    "client-c.jsonl",
    64,
)];

#[derive(Debug, Default)]
struct Counts {
    /// Whole messages (`<clientId>\n<json>`), top level or inside a channel frame.
    plain: usize,
    /// `S\n[id,-1,[control,body]]`.
    control: usize,
    /// `M\n<channel>\n<payload>`.
    channel: usize,
    /// Fragment frames.
    fragment: usize,
    /// Messages reassembled from fragments.
    reassembled: usize,
    /// Messages of a fragmenting client that `make_payloads` re-split identically.
    resplit: usize,
}

/// The messages being reassembled on one connection, direction (and channel).
#[derive(Default)]
struct Stream {
    decoder: Option<PayloadDecoder>,
    budget: FragmentBudget,
    /// The fragment remainders received so far, by message id and index.
    fragments: HashMap<String, BTreeMap<usize, String>>,
}

struct Trace<'a> {
    scenario: &'a str,
    file: &'a str,
    fragment_size: Option<usize>,
    counts: &'a mut Counts,
    streams: HashMap<(u64, String, String), Stream>,
}

impl Trace<'_> {
    /// A plain payload or fragment (top level or inside a channel frame).
    fn check_payload(&mut self, conn: u64, dir: &str, channel: &str, payload: &str) {
        let at = format!(
            "{}/{} conn {conn} {dir}: {payload:?}",
            self.scenario, self.file
        );
        let (client_id, remainder) =
            split_payload(payload).unwrap_or_else(|| panic!("{at}: no client id"));
        let stream = self
            .streams
            .entry((conn, dir.to_owned(), channel.to_owned()))
            .or_default();
        let decoder = stream
            .decoder
            .get_or_insert_with(|| PayloadDecoder::new(1000));
        let decoded = decoder
            .decode(payload, 0, &mut stream.budget)
            .unwrap_or_else(|e| panic!("{at}: {e}"));
        let resplit = self.fragment_size.filter(|_| dir == "send");

        if let Some(message) = decode_message(remainder) {
            assert_eq!(message.encode(), remainder, "{at}");
            assert_eq!(raw_payload(client_id, &message.encode()), payload, "{at}");
            assert!(is_body_valid(message.message, &message.body), "{at}");
            assert_idempotent(&message);
            let decoded = decoded.unwrap_or_else(|| panic!("{at}: the decoder buffered it"));
            assert_eq!(decoded.client_id, client_id, "{at}");
            assert_eq!(decoded.remainders, [remainder], "{at}");
            assert_eq!(decoded.message, message, "{at}");
            if let Some(size) = resplit {
                assert_eq!(make_payloads(client_id, remainder, Some(size)), [payload]);
                self.counts.resplit += 1;
            }
            self.counts.plain += 1;
            return;
        }

        let (id, index, total, _) = fragment_parts(remainder)
            .unwrap_or_else(|| panic!("{at}: neither a message nor a fragment"));
        self.counts.fragment += 1;
        let received = stream.fragments.entry(id.to_owned()).or_default();
        assert!(
            received.insert(index, remainder.to_owned()).is_none(),
            "{at}: index repeated"
        );
        let Some(decoded) = decoded else {
            assert!(received.len() < total, "{at}: complete but not decoded");
            return;
        };
        assert_eq!(received.len(), total, "{at}: decoded before complete");
        let remainders: Vec<String> = received.values().cloned().collect();
        let whole: String = remainders
            .iter()
            .map(|r| fragment_parts(r).map_or("", |(_, _, _, piece)| piece))
            .collect();
        assert_eq!(decoded.client_id, client_id, "{at}");
        assert_eq!(decoded.remainders, remainders, "{at}");
        assert_eq!(decoded.message.encode(), whole, "{at}");
        assert_eq!(
            decode_message(&whole).as_ref(),
            Some(&decoded.message),
            "{at}"
        );
        assert_idempotent(&decoded.message);
        if let Some(size) = resplit {
            let ours = make_payloads(client_id, &whole, Some(size));
            let pieces = |payloads: &[String]| -> Vec<String> {
                payloads
                    .iter()
                    .map(|p| {
                        let (_, r) = split_payload(p).unwrap_or_default();
                        fragment_parts(r)
                            .map_or("", |(_, _, _, piece)| piece)
                            .to_owned()
                    })
                    .collect()
            };
            let theirs: Vec<String> = remainders
                .iter()
                .map(|r| raw_payload(client_id, r))
                .collect();
            assert_eq!(pieces(&ours), pieces(&theirs), "{at}: split differently");
            self.counts.resplit += 1;
        }
        stream.fragments.remove(id);
        self.counts.reassembled += 1;
    }

    fn check_frame(&mut self, conn: u64, dir: &str, multiplexed: bool, data: &str) {
        let at = format!(
            "{}/{} conn {conn} {dir}: {data:?}",
            self.scenario, self.file
        );
        if !multiplexed {
            self.check_payload(conn, dir, "", data);
            return;
        }
        if let Some(control) = parse_control(data) {
            assert_eq!(parse_channel_frame(data), None, "{at}");
            assert_eq!(
                control_payload(
                    control.request_id.as_deref(),
                    control.control,
                    &control.body
                ),
                data,
                "{at}"
            );
            if control.control != Control::Hello {
                assert!(control.channel().is_some(), "{at}");
            }
            self.counts.control += 1;
            return;
        }
        match parse_channel_frame(data) {
            Some(ChannelFrame::Data { channel, payload }) => {
                assert_eq!(channel_payload(channel, payload), data, "{at}");
                self.counts.channel += 1;
                self.check_payload(conn, dir, channel, payload);
            }
            other => panic!("{at}: neither a control nor a channel frame ({other:?})"),
        }
    }

    fn finish(&self) {
        for ((conn, dir, channel), stream) in &self.streams {
            let at = format!(
                "{}/{} conn {conn} {dir} {channel:?}",
                self.scenario, self.file
            );
            assert!(
                stream.fragments.is_empty(),
                "{at}: incomplete fragmented messages"
            );
            assert_eq!(stream.budget, FragmentBudget::default(), "{at}");
        }
    }
}

fn check_trace(scenario: &str, file: &str, text: &str, counts: &mut Counts) {
    let fragment_size = FRAGMENTING_CLIENTS
        .iter()
        .find(|(s, f, _)| *s == scenario && *f == file)
        .map(|(_, _, size)| *size);
    let mut trace = Trace {
        scenario,
        file,
        fragment_size,
        counts,
        streams: HashMap::new(),
    };
    // Whether each connection speaks the `tinybase` subprotocol.
    let mut multiplexed: HashMap<u64, bool> = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let at = format!("{scenario}/{file}:{}", n + 1);
        let entry: Json =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{at}: not JSON: {e}"));
        let conn = entry["conn"].as_u64();
        match entry["kind"].as_str() {
            Some("event") if entry["event"] == "open" => {
                let conn = conn.unwrap_or_else(|| panic!("{at}: open without conn"));
                multiplexed.insert(conn, entry["protocol"] == "tinybase");
            }
            Some("frame") => {
                assert!(entry.get("binary").is_none(), "{at}: a binary frame");
                let conn = conn.unwrap_or_else(|| panic!("{at}: frame without conn"));
                let dir = entry["dir"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{at}: no dir"));
                let data = entry["data"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{at}: no data"));
                let mux = *multiplexed
                    .get(&conn)
                    .unwrap_or_else(|| panic!("{at}: frame before open"));
                trace.check_frame(conn, dir, mux, data);
            }
            _ => {}
        }
    }
    trace.finish();
}

fn sorted_entries(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| {
            e.unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
                .path()
        })
        .collect();
    entries.sort();
    entries
}

#[test]
fn kit_wire_frames_round_trip() {
    let wire = kit_dir().join("fixtures").join("wire");
    assert!(
        wire.is_dir(),
        "TinyBase's wire fixtures are missing: no folder {} (set TINYSTORE_KIT to the kit, \
         by default ../shared/kit beside the repository)",
        wire.display()
    );
    let mut counts = Counts::default();
    let mut traces = 0;
    for scenario in sorted_entries(&wire).iter().filter(|p| p.is_dir()) {
        for file in sorted_entries(scenario) {
            if file.extension().is_none_or(|e| e != "jsonl") {
                continue;
            }
            let text = std::fs::read_to_string(&file)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
            let name = |p: &Path| {
                p.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned()
            };
            check_trace(&name(scenario), &name(&file), &text, &mut counts);
            traces += 1;
        }
    }
    eprintln!("{traces} traces: {counts:?}");
    assert!(traces > 0, "no *.jsonl trace under {}", wire.display());
    // The fixtures hold every kind (legacy, subprotocol, fragmented scenarios).
    for (kind, n) in [
        ("plain", counts.plain),
        ("control", counts.control),
        ("channel", counts.channel),
        ("fragment", counts.fragment),
        ("reassembled", counts.reassembled),
        ("resplit", counts.resplit),
    ] {
        assert!(n > 0, "no {kind} frame was checked: {counts:?}");
    }
}

// ---------------------------------------------------------------------------------- random messages

/// Characters that matter to JSON, UTF-8 and TinyBase: ASCII, escapes, astral characters,
/// the U+FFFC / U+FFFD markers.
fn text(max: usize) -> impl Strategy<Value = String> + Clone {
    let ch = prop_oneof![
        4 => proptest::char::range('a', 'z'),
        2 => any::<char>(),
        2 => proptest::char::range('\u{10000}', '\u{10FFFF}'),
        1 => select(vec!['"', '\\', '\n', '\u{0}', '\u{1F}', '\u{7F}', 'é', '\u{2028}',
                         '\u{FFFC}', '\u{FFFD}', '\u{1F600}']),
    ];
    prop::collection::vec(ch, 0..max).prop_map(String::from_iter)
}

fn hash() -> impl Strategy<Value = Json> + Clone {
    prop_oneof![
        any::<u32>().prop_map(Json::from),
        select(vec![0u32, u32::MAX]).prop_map(Json::from)
    ]
}

fn hlc() -> impl Strategy<Value = Option<String>> + Clone {
    prop_oneof![
        1 => Just(None),
        1 => Just(Some(String::new())),
        3 => "[-0-9A-Z_a-z]{16}".prop_map(Some),
    ]
}

/// A cell or value in its encoded form, or a tombstone.
fn leaf() -> impl Strategy<Value = Json> + Clone {
    prop_oneof![
        3 => text(12).prop_map(Json::from),
        1 => text(3000).prop_map(Json::from),
        2 => any::<f64>()
            .prop_filter("finite", |n| n.is_finite())
            .prop_map(Json::from),
        2 => any::<i64>().prop_map(Json::from),
        1 => any::<bool>().prop_map(Json::from),
        1 => Just(Json::Null),
        1 => Just(Json::from("\u{FFFC}")),
        1 => select(vec!["\u{FFFD}{\"a\":[1,\"\u{1F600}\"]}", "\u{FFFD}[]", "\u{FFFD}[null,2.5]"])
            .prop_map(Json::from),
    ]
}

fn stamp(thing: BoxedStrategy<Json>) -> BoxedStrategy<Json> {
    (thing, hlc())
        .prop_map(|(thing, hlc)| match hlc {
            Some(hlc) => json!([thing, hlc]),
            None => json!([thing]),
        })
        .boxed()
}

/// A hash-less stamp `depth` container levels deep (3 = tables, 1 = values, 0 = a leaf).
fn stamp_tree(depth: u8) -> BoxedStrategy<Json> {
    if depth == 0 {
        return stamp(leaf().boxed());
    }
    let children = prop::collection::vec((text(8), stamp_tree(depth - 1)), 0..3)
        .prop_map(|entries| Json::Object(entries.into_iter().collect()));
    stamp(children.boxed())
}

fn hash_tree(depth: u8) -> BoxedStrategy<Json> {
    let child = if depth == 0 {
        hash().boxed()
    } else {
        hash_tree(depth - 1)
    };
    prop::collection::vec((text(8), child), 0..4)
        .prop_map(|entries| Json::Object(entries.into_iter().collect()))
        .boxed()
}

fn body(message: MessageType) -> BoxedStrategy<Json> {
    let hashes = (hash(), hash()).prop_map(|(a, b)| json!([a, b]));
    match message {
        MessageType::Response => prop_oneof![
            hashes,
            stamp_tree(3),
            stamp_tree(1),
            (stamp_tree(3), prop_oneof![hash_tree(0), hash_tree(1)])
                .prop_map(|(t, h)| json!([t, h])),
        ]
        .boxed(),
        MessageType::GetContentHashes => Just(json!("")).boxed(),
        MessageType::ContentHashes => hashes.boxed(),
        MessageType::ContentDiff => (stamp_tree(3), stamp_tree(1), any::<bool>())
            .prop_map(|(t, v, one)| if one { json!([t, v, 1]) } else { json!([t, v]) })
            .boxed(),
        MessageType::GetTableDiff | MessageType::GetValueDiff => hash_tree(0),
        MessageType::GetRowDiff => hash_tree(1),
        MessageType::GetCellDiff => hash_tree(2),
    }
}

/// A valid message, as TinyBase would decode it (numbers in their parsed form).
fn message() -> impl Strategy<Value = Message> {
    let request_id = prop_oneof![
        1 => Just(None),
        3 => text(20)
            .prop_filter("undefined is no request id", |s| s != "\u{FFFC}")
            .prop_map(Some),
    ];
    (request_id, 0u8..8).prop_flat_map(|(request_id, n)| {
        let message = MessageType::from_number(n.into()).unwrap_or(MessageType::Response);
        body(message).prop_map(move |body| {
            let built = Message::new(request_id.clone(), message, body)
                .unwrap_or_else(|| panic!("generated an invalid body for {message:?}"));
            decode_message(&built.encode())
                .unwrap_or_else(|| panic!("{:?} is refused", built.encode()))
        })
    })
}

/// A permutation of `0..n` from `seed` (splitmix64 and Fisher-Yates).
fn permutation(n: usize, mut seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        seed = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        order.swap(i, (z % (i as u64 + 1)) as usize);
    }
    order
}

/// `make_payloads(client_id, remainder, Some(size))` obeys §3.1 and TinyBase's greedy split,
/// and a decoder given the payloads in `order` gives back `message`.
fn check_fragments(message: &Message, client_id: &str, size: usize, seed: u64) {
    let remainder = message.encode();
    let payloads = make_payloads(client_id, &remainder, Some(size));
    let bound = size.max(remainder.len().div_ceil(MAX_FRAGMENTS) + 3);
    if remainder.len() <= bound {
        assert_eq!(payloads, [raw_payload(client_id, &remainder)]);
    } else {
        assert!(
            payloads.len() > 1 && payloads.len() <= MAX_FRAGMENTS,
            "{}",
            payloads.len()
        );
        let mut pieces = Vec::new();
        let mut ids = Vec::new();
        for (i, payload) in payloads.iter().enumerate() {
            let (to, rest) = split_payload(payload).unwrap_or_default();
            assert_eq!(to, client_id);
            let (id, index, total, piece) =
                fragment_parts(rest).unwrap_or_else(|| panic!("not a fragment: {payload:?}"));
            assert_eq!((index, total), (i, payloads.len()));
            assert!(
                piece.len() <= bound || piece.chars().count() == 1,
                "{} bytes > {bound}",
                piece.len()
            );
            assert!(!piece.is_empty());
            ids.push(id.to_owned());
            pieces.push(piece);
        }
        assert!(ids.iter().all(|id| *id == ids[0]));
        assert_eq!(pieces.concat(), remainder);
        // Greedy, as TinyBase's getFragments: a piece ends only where the next character
        // would not fit.
        for pair in pieces.windows(2) {
            let next = pair[1].chars().next().map_or(0, char::len_utf8);
            assert!(pair[0].len() + next > bound);
        }
    }
    let mut decoder = PayloadDecoder::new(1000);
    let mut budget = FragmentBudget::default();
    let order = permutation(payloads.len(), seed);
    for (k, &i) in order.iter().enumerate() {
        let decoded = decoder
            .decode(&payloads[i], 0, &mut budget)
            .unwrap_or_else(|e| panic!("payload {i}: {e}"));
        if k + 1 < order.len() {
            assert_eq!(decoded, None, "decoded before the last fragment");
            continue;
        }
        let decoded = decoded.unwrap_or_else(|| panic!("not decoded after every fragment"));
        assert_eq!(&decoded.message, message);
        assert_eq!(decoded.client_id, client_id);
        let remainders: Vec<&str> = payloads
            .iter()
            .map(|p| split_payload(p).unwrap_or_default().1)
            .collect();
        assert_eq!(decoded.remainders, remainders);
    }
    assert_eq!(budget, FragmentBudget::default());
}

proptest! {
    #![proptest_config(config(96))]

    #[test]
    fn fragments_round_trip(
        message in message(),
        client_id in select(vec!["", "S", "QtVuSWQrVqf77lLVph9fPw==", "\u{1F600}"]),
        size in 1usize..200,
        seed in any::<u64>(),
    ) {
        check_fragments(&message, client_id, size, seed);
    }
}

#[test]
fn fragments_of_large_messages() {
    // Past 1000 × the fragment size the pieces grow, so that there are never more than 1000.
    let big = |s: &str| -> Message {
        let body = json!([[{"t": [{"r": [{"c": [s, "NjEtLV-----67WEb"]}]}]}], [{}], 1]);
        Message::new(Some("fmYAlzuwlW8".into()), MessageType::ContentDiff, body)
            .unwrap_or_else(|| panic!("invalid"))
    };
    for (text, size) in [
        ("x".repeat(250_000), 1),
        ("\u{1F600}".repeat(30_000), 1),
        ("\u{1F600}".repeat(30_000), 2),
        ("é\u{1F600}a".repeat(9_001), 5),
        ("y".repeat(997), 1),
    ] {
        let message = big(&text);
        let len = message.encode().len();
        let payloads = make_payloads("", &message.encode(), Some(size));
        assert!(
            payloads.len() <= MAX_FRAGMENTS,
            "{len} bytes: {}",
            payloads.len()
        );
        check_fragments(&message, "", size, len as u64);
    }
    // Without a size, or with 0, there is one payload whatever the length.
    let message = big(&"z".repeat(5000));
    for size in [None, Some(0)] {
        assert_eq!(
            make_payloads("c", &message.encode(), size),
            [raw_payload("c", &message.encode())]
        );
    }
}

// ---------------------------------------------------------------------------------- no panics

/// Remainders recorded from TinyBase 10.0.1 (spec sync.md §6), to mutate.
const SEEDS: &[&str] = &[
    r#"["XRI2_CxO_c4.R1gO",1,""]"#,
    r#"["y-Dbh_QbYQT",2,[467359372,0]]"#,
    r#"["yfaW6R_ukQY.SG6T",4,{}]"#,
    r#"["yfaW6R_ukQY.SG6T",0,[[{"pets":[{"fido":[{"species":["dog","NjEtLV-----67WEb"]}]}]}],{}]]"#,
    "[\"fmYAlzuwlW8\",3,[[{\"pets\":[{\"fido\":[{\"species\":[\"\u{FFFC}\",\"NjEtLV----15le2J\"]}]}]}],[{\"open\":[true,\"NjEtLV----05le2J\"]}],1]]",
    r#"["mRQVzgxTQ5w.m_JW",5,{"pets":{"fido":2903194823}}]"#,
    r#"["mRQVzgxTQ5w.m_JX",6,{"pets":{"fido":{"species":1}}}]"#,
    r#"[null,7,{"open":0}]"#,
    r#"["a",0,[[{"t":[{"r":[{"c":["\uFFFD{\"x\":1}"]}]}]}],{"t":{"r":4294967295}}]]"#,
];

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
    "-0",
    "4294967296",
    "\u{FFFC}",
    "\u{FFFD}",
    "null",
    "\"\"",
    "\"NjEtLV-----mmxrx\"",
    "\"\\uFFFC\"",
    "\\ud800",
    "1.5",
    " ",
];

/// Edits `text` at character boundaries: delete, insert, truncate, replace.
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

fn check_decode(text: &str) {
    if let Some(message) = decode_message(text) {
        assert!(is_body_valid(message.message, &message.body), "{text:?}");
        assert!(js::parse(text).is_ok(), "{text:?}");
        assert_idempotent(&message);
    }
}

/// A payload for [`decoder_sequences`]: arbitrary text, whole messages, fragments of one
/// message under a few ids (so that they collide, repeat and complete), and hostile numbers.
fn payload() -> impl Strategy<Value = String> {
    const PIECES: &[&str] = &["[\"x\",", "1,\"\"]", "", "[", "]", "\u{1F600}"];
    let client = select(vec!["", "S", "c"]);
    let id = select(vec![
        "AAAAAAAAAAAAAAAA",
        "BBBBBBBBBBBBBBBB",
        "-_-_-_-_-_-_-_-_",
    ]);
    let number = prop_oneof![
        8 => (0u64..4).prop_map(|n| n.to_string()),
        1 => select(vec!["1000", "1001", "00", "18446744073709551616", "99999999999999999999999"])
            .prop_map(str::to_owned),
    ];
    prop_oneof![
        2 => any::<String>(),
        2 => (client.clone(), select(SEEDS.to_vec())).prop_map(|(c, m)| raw_payload(c, m)),
        6 => (client, id, number.clone(), number, prop_oneof![select(PIECES.to_vec()).prop_map(str::to_owned), text(6)])
            .prop_map(|(c, id, i, n, p)| format!("{c}\n{id}\n{i}\n{n}\n{p}")),
    ]
}

#[derive(Clone, Debug)]
enum Step {
    /// Decode a payload on decoder 0 or 1, `ms` later.
    Decode(usize, String, u64),
    /// Clear a decoder.
    Clear(usize),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        12 => (0usize..2, payload(), prop_oneof![4 => Just(0u64), 1 => Just(600), 1 => Just(1000)])
            .prop_map(|(d, p, ms)| Step::Decode(d, p, ms)),
        1 => (0usize..2).prop_map(Step::Clear),
    ]
}

proptest! {
    #![proptest_config(config(300))]

    #[test]
    fn decode_message_arbitrary(text in any::<String>()) {
        check_decode(&text);
    }

    #[test]
    fn decode_message_json_alphabet(text in "[\\[\\]{}\",:0-9eE.+\\-a-z\\\\ \u{FFFC}\u{FFFD}]{0,60}") {
        check_decode(&text);
    }

    #[test]
    fn decode_message_mutated(
        seed in select(SEEDS.to_vec()),
        edits in prop::collection::vec((any::<Index>(), 0u8..4, select(TOKENS.to_vec())), 1..=3),
    ) {
        check_decode(&mutate(seed, &edits));
    }

    #[test]
    fn decode_message_random_valid(message in message()) {
        prop_assert_eq!(decode_message(&message.encode()), Some(message.clone()));
        assert_idempotent(&message);
    }
}

proptest! {
    #![proptest_config(config(200))]

    /// Two decoders sharing a budget (the channels of one socket) never panic, stay failed
    /// after an error, and hand the whole budget back once cleared.
    #[test]
    fn decoder_sequences(steps in prop::collection::vec(step(), 1..40)) {
        let mut decoders = [PayloadDecoder::new(1000), PayloadDecoder::new(1000)];
        let mut failed = [false, false];
        let mut budget = FragmentBudget::default();
        let mut now = 0;
        for step in &steps {
            match step {
                Step::Clear(d) => decoders[*d].clear(&mut budget),
                Step::Decode(d, payload, ms) => {
                    now += ms;
                    let result = decoders[*d].decode(payload, now, &mut budget);
                    if failed[*d] {
                        prop_assert_eq!(&result, &Err(ProtocolError::Invalid));
                    }
                    match &result {
                        Err(_) => {
                            failed[*d] = true;
                            prop_assert!(!decoders[*d].is_valid());
                        }
                        Ok(Some(decoded)) => {
                            prop_assert!(is_body_valid(decoded.message.message, &decoded.message.body));
                            if let [only] = decoded.remainders.as_slice() {
                                prop_assert_eq!(split_payload(payload).map(|p| p.1), Some(only.as_str()));
                            }
                            assert_idempotent(&decoded.message);
                        }
                        Ok(None) => {}
                    }
                }
            }
            prop_assert!(budget.buffers <= MAX_FRAGMENT_BUFFERS);
            prop_assert!(budget.bytes <= MAX_PAYLOAD_BYTES);
        }
        for decoder in &mut decoders {
            decoder.clear(&mut budget);
        }
        prop_assert_eq!(budget, FragmentBudget::default());
    }
}

// ---------------------------------------------------------------------------------- limits

/// A fragment payload to client `""`.
fn fragment(id: &str, index: usize, total: usize, piece: &str) -> String {
    format!("\n{id}\n{index}\n{total}\n{piece}")
}

/// A 16-character message id for `n`.
fn nth_id(n: usize) -> String {
    format!("{n:-^16}").chars().take(16).collect()
}

#[test]
fn oversize_payloads() {
    let mut budget = FragmentBudget::default();
    let over = "x".repeat(MAX_PAYLOAD_BYTES);
    // A message or anything else over 16 MiB: the socket's limit.
    let mut d = PayloadDecoder::new(1000);
    let payload = format!("\n[\"a\",1,\"\"]{over}");
    assert_eq!(
        d.decode(&payload, 0, &mut budget),
        Err(ProtocolError::Overflow("socket"))
    );
    assert_eq!(
        d.decode(&payload, 0, &mut budget)
            .map_err(|e| (e.close_code(), e.to_string())),
        Err((1007, "tinybase:14".to_owned())),
        "a failed decoder refuses everything as invalid"
    );
    // A fragment over 16 MiB: the fragments' limit.
    let mut d = PayloadDecoder::new(1000);
    let e = d
        .decode(&fragment("AAAAAAAAAAAAAAAA", 0, 2, &over), 0, &mut budget)
        .unwrap_err();
    assert_eq!(e, ProtocolError::Overflow("fragments"));
    assert_eq!(
        (e.close_code(), e.to_string()),
        (1013, "tinybase:15:fragments".to_owned())
    );
    // Exactly 16 MiB is still allowed.
    let mut d = PayloadDecoder::new(1000);
    let piece = "y".repeat(MAX_PAYLOAD_BYTES - "\nAAAAAAAAAAAAAAAA\n0\n2\n".len());
    let payload = fragment("AAAAAAAAAAAAAAAA", 0, 2, &piece);
    assert_eq!(payload.len(), MAX_PAYLOAD_BYTES);
    // ... as a payload, but its 16 MiB (plus its key) cannot be buffered.
    assert_eq!(
        d.decode(&payload, 0, &mut budget),
        Err(ProtocolError::Overflow("fragments"))
    );
    assert_eq!(budget, FragmentBudget::default());
    // Buffered fragments of several messages share the 16 MiB.
    let mut d = PayloadDecoder::new(1000);
    let nine = "z".repeat(9 << 20);
    assert_eq!(
        d.decode(&fragment("AAAAAAAAAAAAAAAA", 0, 2, &nine), 0, &mut budget),
        Ok(None)
    );
    assert!(budget.bytes > 9 << 20);
    assert_eq!(
        d.decode(&fragment("BBBBBBBBBBBBBBBB", 0, 2, &nine), 0, &mut budget),
        Err(ProtocolError::Overflow("fragments"))
    );
    assert_eq!(budget, FragmentBudget::default());
}

#[test]
fn fragment_counts_and_indices() {
    let mut budget = FragmentBudget::default();
    let decode = |payloads: &[String], budget: &mut FragmentBudget| {
        let mut d = PayloadDecoder::new(1000);
        let mut last = Ok(None);
        for p in payloads {
            last = d.decode(p, 0, budget);
        }
        last
    };
    let id = "AAAAAAAAAAAAAAAA";
    // 1000 fragments are allowed, 1001 are not.
    let remainder = format!("[\"a\",1,\"\"{}]", " ".repeat(1000 - 10));
    assert_eq!(remainder.len(), 1000);
    let pieces: Vec<String> = (0..1000)
        .map(|i| fragment(id, i, 1000, &remainder[i..=i]))
        .collect();
    let decoded = decode(&pieces, &mut budget).unwrap().unwrap();
    assert_eq!(decoded.message.encode(), r#"["a",1,""]"#);
    assert_eq!(decoded.remainders.len(), 1000);
    assert_eq!(
        decode(&[fragment(id, 0, 1001, "[")], &mut budget),
        Err(ProtocolError::Overflow("fragments"))
    );
    assert_eq!(
        decode(&[fragment(id, 0, usize::MAX, "[")], &mut budget),
        Err(ProtocolError::Overflow("fragments"))
    );
    assert_eq!(
        decode(
            &["\nAAAAAAAAAAAAAAAA\n0\n99999999999999999999999\n[".to_owned()],
            &mut budget
        ),
        Err(ProtocolError::Overflow("fragments"))
    );
    for invalid in [
        // Duplicate index.
        vec![fragment(id, 0, 2, "[\"a\","), fragment(id, 0, 2, "1,\"\"]")],
        // Mismatched total.
        vec![fragment(id, 0, 2, "[\"a\","), fragment(id, 1, 3, "1,\"\"]")],
        // Index out of range; no fragments at all.
        vec![fragment(id, 2, 2, "[")],
        vec![fragment(id, 0, 0, "[")],
        // Complete, but not a message.
        vec![
            fragment(id, 0, 2, "[\"a\","),
            fragment(id, 1, 2, "1,\"x\"]"),
        ],
        // Neither a message nor a fragment; no client id.
        vec!["\n[\"a\",1,\"x\"]".to_owned()],
        vec!["\nAAAAAAAAAAAAAAA\n0\n2\n[".to_owned()],
        vec!["\nAAAAAAAAAAAAAAAA\n-1\n2\n[".to_owned()],
        vec!["\nAAAAAAAAAAAAAAAA\n0\n+2\n[".to_owned()],
        vec!["[\"a\",1,\"\"]".to_owned()],
    ] {
        assert_eq!(
            decode(&invalid, &mut budget),
            Err(ProtocolError::Invalid),
            "{invalid:?}"
        );
        assert_eq!(budget, FragmentBudget::default());
    }
    // The same message id from two client ids is two messages.
    let mut d = PayloadDecoder::new(1000);
    assert_eq!(
        d.decode(&fragment(id, 0, 2, "[\"a\","), 0, &mut budget),
        Ok(None)
    );
    assert_eq!(
        d.decode(&format!("c\n{id}\n0\n2\n[\"b\","), 0, &mut budget),
        Ok(None)
    );
    let a = d
        .decode(&fragment(id, 1, 2, "1,\"\"]"), 0, &mut budget)
        .unwrap()
        .unwrap();
    assert_eq!(
        (a.client_id.as_str(), a.message.request_id.as_deref()),
        ("", Some("a"))
    );
    let b = d
        .decode(&format!("c\n{id}\n1\n2\n1,\"\"]"), 0, &mut budget)
        .unwrap()
        .unwrap();
    assert_eq!(
        (b.client_id.as_str(), b.message.request_id.as_deref()),
        ("c", Some("b"))
    );
    assert_eq!(budget, FragmentBudget::default());
}

#[test]
fn concurrent_fragment_buffers() {
    // 100 incomplete messages per socket, across the decoders (channels) sharing its budget.
    let mut budget = FragmentBudget::default();
    let mut a = PayloadDecoder::new(1000);
    let mut b = PayloadDecoder::new(1000);
    for i in 0..MAX_FRAGMENT_BUFFERS {
        let d = if i % 2 == 0 { &mut a } else { &mut b };
        let payload = fragment(&nth_id(i), 0, 3, "x");
        assert_eq!(d.decode(&payload, 0, &mut budget), Ok(None), "{i}");
    }
    assert_eq!(budget.buffers, MAX_FRAGMENT_BUFFERS);
    // More fragments of a buffered message are fine, a 101st message is not.
    let more = fragment(&nth_id(1), 1, 3, "x");
    assert_eq!(b.decode(&more, 0, &mut budget), Ok(None));
    let extra = fragment(&nth_id(MAX_FRAGMENT_BUFFERS), 0, 3, "x");
    assert_eq!(
        b.decode(&extra, 0, &mut budget),
        Err(ProtocolError::Overflow("fragments"))
    );
    // The failed decoder gave its buffers back, and refuses everything from now on, even a
    // valid message, without touching the budget.
    assert!(!b.is_valid());
    assert_eq!(budget.buffers, MAX_FRAGMENT_BUFFERS / 2);
    let before = budget;
    let last = fragment(&nth_id(1), 2, 3, "x");
    assert_eq!(b.decode(&last, 0, &mut budget), Err(ProtocolError::Invalid));
    assert_eq!(
        b.decode("\n[\"a\",1,\"\"]", 0, &mut budget),
        Err(ProtocolError::Invalid)
    );
    assert_eq!(budget, before);
    // The other decoder goes on.
    assert!(
        a.decode("\n[\"a\",1,\"\"]", 0, &mut budget)
            .unwrap()
            .is_some()
    );
    // Fragments expire after the timeout, giving their budget back.
    a.expire(999, &mut budget);
    assert_eq!(budget, before);
    a.expire(1000, &mut budget);
    assert_eq!(budget, FragmentBudget::default());
    // A late fragment starts a new message.
    let late = fragment(&nth_id(0), 1, 3, "x");
    assert_eq!(a.decode(&late, 1000, &mut budget), Ok(None));
    assert_eq!(budget.buffers, 1);
    a.clear(&mut budget);
    assert_eq!(budget, FragmentBudget::default());
}

// ---------------------------------------------------------------------------------- TinyBase's behaviour
// Each case below was checked against TinyBase 10.0.1's `createWsServer` (frames sent over a
// real socket; acks and close codes observed). Both are fixes to `protocol.rs`.

/// Number literals beyond `f64` are `Infinity` to TinyBase, which it refuses where `null` is
/// valid: a request id and a bare cell or value (`json::parse` reads them as `null`).
#[test]
fn infinite_numbers_are_not_null() {
    let diff = |leaf: &str| format!(r#"["x",3,[[{{"t":[{{"r":[{{"c":{leaf}}}]}}]}}],[{{}}],1]]"#);
    for (text, valid) in [
        (diff("[null]"), true),
        (diff("[1e999]"), false),
        (diff("[-1e999,\"NjEtLV-----67WEb\"]"), false),
        (diff("[1E+400]"), false),
        (diff(&format!("[1{}]", "0".repeat(400))), false),
        (diff(&format!("[-1{}.5]", "0".repeat(300))), true),
        // Inside an object or array cell, Infinity is as valid as null (and written as null).
        (diff("[[1e999]]"), true),
        (diff("[{\"a\":1e999}]"), true),
        (diff("[[[1e999,2]],\"NjEtLV-----67WEb\"]"), true),
        (r#"[null,1,""]"#.to_owned(), true),
        (r#"[1e999,1,""]"#.to_owned(), false),
        (r#"["x",0,[{"v":[1e999]}]]"#.to_owned(), false),
        (r#"["x",0,[{"v":[null]}]]"#.to_owned(), true),
        // Where neither is valid.
        (r#"["x",4,{"t":1e999}]"#.to_owned(), false),
        (r#"["x",2,[1e999,0]]"#.to_owned(), false),
        // With a duplicated id the last stamp counts, as in JavaScript.
        (diff("[1e999]}],\"r\":[{\"c\":[null]"), true),
        (diff("[null]}],\"r\":[{\"c\":[1e999]"), false),
        // Not a number: a string.
        (diff("[\"1e999\"]"), true),
        (r#"["1e999",1,""]"#.to_owned(), true),
    ] {
        assert_eq!(decode_message(&text).is_some(), valid, "{text}");
    }
    assert_eq!(
        decode_message(&diff("[[1e999]]")).map(|m| m.encode()),
        Some(diff("[[null]]"))
    );
    // Reassembled from fragments too.
    let mut budget = FragmentBudget::default();
    let mut d = PayloadDecoder::new(1000);
    let text = diff("[1e999]");
    let (a, b) = text.split_at(10);
    assert_eq!(
        d.decode(&fragment("AAAAAAAAAAAAAAAA", 0, 2, a), 0, &mut budget),
        Ok(None)
    );
    assert_eq!(
        d.decode(&fragment("AAAAAAAAAAAAAAAA", 1, 2, b), 0, &mut budget),
        Err(ProtocolError::Invalid)
    );
    // Control frames: an Unsubscribe's request id must be null, not Infinity.
    assert!(parse_control("S\n[null,-1,[2,\"chan\"]]").is_some());
    assert_eq!(parse_control("S\n[1e999,-1,[2,\"chan\"]]"), None);
    assert_eq!(parse_control("S\n[-1e999,-1,[2,\"chan\"]]"), None);
    assert_eq!(
        parse_control("S\n[\"AAAAAAAAAAAAAAAA\",-1,[[1e999],1]]"),
        None
    );
    assert!(parse_control("S\n[\"AAAAAAAAAAAAAAAA\",-1,[[null],1]]").is_some());
}

/// `x == n` in Node 20 for each JSON text `x` (as TinyBase parses it: `"\uFFFC"` is
/// `undefined`) and `n` in -1, 0, 1, 2: the `n`s it equals. An object throws (TinyBase's
/// objects have no prototype): equal to none.
const LOOSELY_EQUAL: &[(&str, &[i8])] = &[
    ("\"-1\"", &[-1]),
    ("\" -1 \"", &[-1]),
    ("\"\\t-1\\n\"", &[-1]),
    ("\"-1.0\"", &[-1]),
    ("\"-1e0\"", &[-1]),
    ("\"-01\"", &[-1]),
    ("\"-.1e1\"", &[-1]),
    ("\"-1.\"", &[-1]),
    ("\"+1\"", &[1]),
    ("\"1\"", &[1]),
    ("\"01\"", &[1]),
    ("\"1.0000000000000000001\"", &[1]),
    ("\"0x1\"", &[1]),
    ("\"0X1\"", &[1]),
    ("\"0o1\"", &[1]),
    ("\"0b1\"", &[1]),
    ("\"0b10\"", &[2]),
    ("\"0x\"", &[]),
    ("\"-0x1\"", &[]),
    ("\"0x1p\"", &[]),
    ("\"Infinity\"", &[]),
    ("\"-Infinity\"", &[]),
    ("\"infinity\"", &[]),
    ("\"\"", &[0]),
    ("\"  \"", &[0]),
    ("\"\u{A0}\u{3000}1\u{FEFF}\"", &[1]),
    ("\"\u{85}1\"", &[]),
    ("\"\u{180E}0\"", &[]),
    ("\"1e\"", &[]),
    ("\"e1\"", &[]),
    ("\".\"", &[]),
    ("\"1_0\"", &[]),
    ("\"1,0\"", &[]),
    ("\"\u{FF11}\"", &[]),
    ("\"2e0\"", &[2]),
    ("\"0.2e1\"", &[2]),
    ("\"0x02\"", &[2]),
    ("\"1 1\"", &[]),
    ("\"true\"", &[]),
    ("\"null\"", &[]),
    ("\"\u{2028} 2 \u{2029}\"", &[2]),
    ("\"0b\"", &[]),
    ("\"0o7\"", &[]),
    ("\"0o8\"", &[]),
    ("\"00\"", &[0]),
    ("\"-0\"", &[0]),
    ("\"+0\"", &[0]),
    ("\"-\"", &[]),
    ("\"+\"", &[]),
    ("-1", &[-1]),
    ("-1.0", &[-1]),
    ("-0", &[0]),
    ("0", &[0]),
    ("1", &[1]),
    ("2", &[2]),
    ("true", &[1]),
    ("false", &[0]),
    ("null", &[]),
    ("[]", &[0]),
    ("[[]]", &[0]),
    ("[null]", &[0]),
    ("[\"\\uFFFC\"]", &[0]),
    ("\"\\uFFFC\"", &[]),
    ("[false]", &[]),
    ("[true]", &[]),
    ("[-1]", &[-1]),
    ("[[-1]]", &[-1]),
    ("[\"-1\"]", &[-1]),
    ("[[\"1\"]]", &[1]),
    ("[\" 2 \"]", &[2]),
    ("[1,2]", &[]),
    ("[\"\",\"\"]", &[]),
    ("[[1],[]]", &[]),
    ("{}", &[]),
    ("[{}]", &[]),
    ("[0,{}]", &[]),
    ("{\"a\":1}", &[]),
    ("[1e999]", &[]),
    ("1e999", &[]),
    ("[0]", &[0]),
    ("[0.5]", &[]),
    ("[\"0x2\"]", &[2]),
    ("[[[[1]]]]", &[1]),
    ("[\"Infinity\"]", &[]),
    ("[-0]", &[0]),
];

/// TinyBase compares a control frame's message (-1), control (0, 1, 2) and Hello's version (1)
/// with `==`, so it accepts and acknowledges, say, `S\n["…","-1",["0","1"]]` as a Hello.
#[test]
fn control_frames_compare_loosely() {
    let id = "\"AAAAAAAAAAAAAAAA\"";
    let kind = |frame: String| parse_control(&frame).map(|c| c.control);
    for &(x, equals) in LOOSELY_EQUAL {
        let is = |n: i8| equals.contains(&n);
        assert_eq!(
            kind(format!("S\n[{id},{x},[0,1]]")).is_some(),
            is(-1),
            "message {x}"
        );
        assert_eq!(
            kind(format!("S\n[{id},-1,[{x},1]]")),
            is(0).then_some(Control::Hello),
            "Hello control {x}"
        );
        assert_eq!(
            kind(format!("S\n[{id},-1,[0,{x}]]")).is_some(),
            is(1),
            "version {x}"
        );
        assert_eq!(
            kind(format!("S\n[{id},-1,[{x},\"chan\"]]")),
            (!is(0) && is(1)).then_some(Control::Subscribe),
            "Subscribe control {x}"
        );
        assert_eq!(
            kind(format!("S\n[null,-1,[{x},\"chan\"]]")),
            (!is(0) && !is(1) && is(2)).then_some(Control::Unsubscribe),
            "Unsubscribe control {x}"
        );
    }
    // The body is kept as sent (TinyBase's ack echoes it).
    let hello = parse_control("S\n[\"AAAAAAAAAAAAAAAA\",\"-1\",[\"0\",\"1\"]]").unwrap();
    assert_eq!((hello.control, hello.body), (Control::Hello, json!("1")));
    assert_eq!(
        control_payload(Some("AAAAAAAAAAAAAAAA"), Control::Hello, &json!("1")),
        "S\n[\"AAAAAAAAAAAAAAAA\",-1,[0,\"1\"]]"
    );
    // Still refused: a Hello without a request id, a Subscribe with a null one, an invalid
    // channel, and the undefined marker anywhere.
    for frame in [
        "S\n[null,-1,[\"0\",1]]",
        "S\n[null,-1,[\"1\",\"chan\"]]",
        "S\n[\"AAAAAAAAAAAAAAAA\",-1,[\"2\",\"chan\"]]",
        "S\n[\"AAAAAAAAAAAAAAAA\",\"-1\",[\"1\",\"a/../b\"]]",
        "S\n[\"\u{FFFC}\",-1,[0,1]]",
        "S\n[\"AAAAAAAAAAAAAAAA\",-1,[1,\"\u{FFFC}\"]]",
        "S\n[\"AAAAAAAAAAAAAAAA\",-1,[0,1],1]",
        "S\n[\"AAAAAAAAAAAAAAAA\",-1,[0,1,1]]",
        "M\n[\"AAAAAAAAAAAAAAAA\",-1,[0,1]]",
    ] {
        assert_eq!(parse_control(frame), None, "{frame:?}");
    }
}
