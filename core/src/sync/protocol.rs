//! The synchronizer wire protocol of TinyBase 10.0.1 (spec sync.md §1, §3), sans I/O: message
//! validation and JSON framing, request ids, WebSocket payloads (`<clientId>\n<remainder>`),
//! fragments and their reassembly, the `tinybase` subprotocol's control and channel frames, and
//! the close codes and limits.
//!
//! Everything here is a pure function of its inputs (plus a caller-supplied `now` for fragment
//! expiry), so it is unit-tested, property-tested and fuzzed without sockets.
//!
//! ```
//! use tinystore_core::sync::protocol::{Message, MessageType, decode_message};
//! let m = decode_message(r#"["yfaW6R_ukQY.8pdt",1,""]"#).unwrap();
//! assert_eq!(m.message, MessageType::GetContentHashes);
//! assert_eq!(m.encode(), r#"["yfaW6R_ukQY.8pdt",1,""]"#);
//! ```

use std::collections::HashMap;

use serde_json::Value as Json;

use crate::hlc::is_valid_hlc;
use crate::js::{self, ALPHABET};
use crate::json;
use crate::types::UNDEFINED_MARKER;

/// Largest WebSocket payload, reassembled message, or fragment buffer (UTF-8 bytes).
pub const MAX_PAYLOAD_BYTES: usize = 16 * 1024 * 1024;
/// Largest message a client reassembles from a server's fragments. A server's answer to a
/// pull holds a whole table (TinyBase's TableDiff), so it may be far larger than any one
/// client's message, which the server caps at [`MAX_PAYLOAD_BYTES`].
pub const MAX_SERVER_MESSAGE_BYTES: usize = 256 * 1024 * 1024;
/// Most requests a synchronizer may have waiting for a response.
pub const MAX_PENDING_REQUESTS: usize = 100;
/// Most fragments one message may be split into.
pub const MAX_FRAGMENTS: usize = 1000;
/// Most incomplete fragmented messages buffered per socket.
pub const MAX_FRAGMENT_BUFFERS: usize = 100;
/// Most channels one multiplexed socket may subscribe.
pub const MAX_CHANNELS: usize = 100;
/// Longest channel id (UTF-8 bytes).
pub const MAX_CHANNEL_ID_BYTES: usize = 1024;
/// Most payloads queued for a socket (server room start-up, client while disconnected).
pub const MAX_QUEUED_PAYLOADS: usize = 1000;
/// The client id of a server's own synchronizer.
pub const SERVER_CLIENT_ID: &str = "S";
/// The first line of every data frame of the `tinybase` subprotocol.
pub const MULTIPLEX_CLIENT_ID: &str = "M";
/// The WebSocket subprotocol of multiplexed sockets.
pub const SUBPROTOCOL: &str = "tinybase";
/// The multiplexing protocol version a Hello carries.
pub const MULTIPLEX_VERSION: i64 = 1;
/// WebSocket close code for an invalid frame.
pub const CLOSE_INVALID: u16 = 1007;
/// WebSocket close code for an exceeded limit.
pub const CLOSE_OVERFLOW: u16 = 1013;

/// The eight synchronizer messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum MessageType {
    /// A reply to a request, with the same request id.
    Response = 0,
    /// Asks for `[tablesHash, valuesHash]`; body `""`.
    GetContentHashes = 1,
    /// Announces `[tablesHash, valuesHash]`.
    ContentHashes = 2,
    /// Carries hash-less MergeableChanges.
    ContentDiff = 3,
    /// Asks for the tables that differ from the sender's table hashes.
    GetTableDiff = 4,
    /// Asks for the rows that differ from the sender's row hashes.
    GetRowDiff = 5,
    /// Asks for the cells that differ from the sender's cell hashes.
    GetCellDiff = 6,
    /// Asks for the values that differ from the sender's value hashes.
    GetValueDiff = 7,
}

impl MessageType {
    /// The type with this wire number.
    pub fn from_number(n: i64) -> Option<MessageType> {
        Some(match n {
            0 => MessageType::Response,
            1 => MessageType::GetContentHashes,
            2 => MessageType::ContentHashes,
            3 => MessageType::ContentDiff,
            4 => MessageType::GetTableDiff,
            5 => MessageType::GetRowDiff,
            6 => MessageType::GetCellDiff,
            7 => MessageType::GetValueDiff,
            _ => return None,
        })
    }

    /// The wire number.
    pub fn number(self) -> u8 {
        self as u8
    }
}

/// Why a frame was refused; decides the close code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// Malformed or invalid (`tinybase:14`): close with 1007.
    #[error("tinybase:14")]
    Invalid,
    /// A limit was exceeded (`tinybase:15:<what>`): close with 1013. `what` is one of `socket`,
    /// `fragments`, `channels`, `client`, `server`, `requests`, `controls`.
    #[error("tinybase:15:{0}")]
    Overflow(&'static str),
}

impl ProtocolError {
    /// The WebSocket close code TinyBase uses for this error.
    pub fn close_code(&self) -> u16 {
        match self {
            ProtocolError::Invalid => CLOSE_INVALID,
            ProtocolError::Overflow(_) => CLOSE_OVERFLOW,
        }
    }
}

// ---------------------------------------------------------------------------------- validation

fn is_undefined(j: &Json) -> bool {
    matches!(j, Json::String(s) if s == UNDEFINED_MARKER)
}

fn as_integer(j: &Json) -> Option<f64> {
    j.as_f64().filter(|n| n.is_finite() && n.fract() == 0.0)
}

/// A hash: an integer 0…0xFFFFFFFF.
pub fn is_hash(j: &Json) -> bool {
    as_integer(j).is_some_and(|n| (0.0..=4_294_967_295.0).contains(&n))
}

/// `{id: hash}` nested `depth` levels below the top object.
pub fn is_hash_tree(j: &Json, depth: u8) -> bool {
    match j {
        Json::Object(map) => map.values().all(|child| {
            if depth > 0 {
                is_hash_tree(child, depth - 1)
            } else {
                is_hash(child)
            }
        }),
        _ => false,
    }
}

fn is_cell_or_value_or_undefined(j: &Json) -> bool {
    match j {
        Json::Number(n) => n.as_f64().is_some_and(f64::is_finite),
        _ => true,
    }
}

/// A hash-less stamp `[thing]` or `[thing, hlc]`, containers `depth` levels deep (3 = tables,
/// 1 = values, 0 = a cell or value).
pub fn is_stamp(j: &Json, depth: u8) -> bool {
    let Json::Array(parts) = j else { return false };
    let hlc_ok = match parts.len() {
        1 => true,
        2 => {
            matches!(&parts[1], Json::String(s) if !is_undefined(&parts[1]) && is_valid_hlc(s, u64::MAX))
        }
        _ => false,
    };
    hlc_ok
        && if depth > 0 {
            match &parts[0] {
                Json::Object(map) => map.values().all(|c| is_stamp(c, depth - 1)),
                _ => false,
            }
        } else {
            is_cell_or_value_or_undefined(&parts[0])
        }
}

fn is_content_hashes(j: &Json) -> bool {
    matches!(j, Json::Array(a) if a.len() == 2 && is_hash(&a[0]) && is_hash(&a[1]))
}

fn is_changes(j: &Json) -> bool {
    let Json::Array(a) = j else { return false };
    (a.len() == 2 || (a.len() == 3 && a[2].as_f64() == Some(1.0)))
        && is_stamp(&a[0], 3)
        && is_stamp(&a[1], 1)
}

fn is_response(j: &Json) -> bool {
    is_content_hashes(j)
        || is_stamp(j, 3)
        || is_stamp(j, 1)
        || matches!(j, Json::Array(a) if a.len() == 2
            && is_stamp(&a[0], 3)
            && (is_hash_tree(&a[1], 0) || is_hash_tree(&a[1], 1)))
}

/// Whether `body` is valid for `message` (spec §1.3).
pub fn is_body_valid(message: MessageType, body: &Json) -> bool {
    match message {
        MessageType::Response => is_response(body),
        MessageType::GetContentHashes => matches!(body, Json::String(s) if s.is_empty()),
        MessageType::ContentHashes => is_content_hashes(body),
        MessageType::ContentDiff => is_changes(body),
        MessageType::GetTableDiff | MessageType::GetValueDiff => is_hash_tree(body, 0),
        MessageType::GetRowDiff => is_hash_tree(body, 1),
        MessageType::GetCellDiff => is_hash_tree(body, 2),
    }
}

fn request_id_of(j: &Json) -> Result<Option<String>, ()> {
    match j {
        Json::Null => Ok(None),
        Json::String(s) if s != UNDEFINED_MARKER => Ok(Some(s.clone())),
        _ => Err(()),
    }
}

// ---------------------------------------------------------------------------------- messages

/// One synchronizer message `[requestId, message, body]`, validated. The body is kept as JSON
/// in TinyBase's encoded form (tombstones as the string `"\u{FFFC}"`, object/array cells as
/// `"\u{FFFD}…"` strings).
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    /// The request (or transaction) id; `None` is JSON `null`.
    pub request_id: Option<String>,
    /// What the message is.
    pub message: MessageType,
    /// The body, valid for `message`.
    pub body: Json,
}

impl Message {
    /// A message, if `body` is valid for `message`.
    pub fn new(request_id: Option<String>, message: MessageType, body: Json) -> Option<Message> {
        is_body_valid(message, &body).then_some(Message {
            request_id,
            message,
            body,
        })
    }

    /// The JSON remainder `[requestId, message, body]`, exactly as TinyBase writes it.
    pub fn encode(&self) -> String {
        let mut body = String::new();
        json::write_value(&mut body, &self.body);
        encode_message(self.request_id.as_deref(), self.message, &body)
    }
}

/// `[requestId, message, body]` with an already serialised body (what a synchronizer sends
/// without building a JSON tree first).
pub fn encode_message(request_id: Option<&str>, message: MessageType, body_json: &str) -> String {
    let mut out = String::with_capacity(body_json.len() + 32);
    out.push('[');
    match request_id {
        Some(id) => json::write_string(&mut out, id),
        None => out.push_str("null"),
    }
    out.push(',');
    out.push_str(&message.number().to_string());
    out.push(',');
    out.push_str(body_json);
    out.push(']');
    out
}

/// Parses and validates a remainder (TinyBase's `decodeProtocolMessage`); `None` if it is not a
/// valid message.
pub fn decode_message(remainder: &str) -> Option<Message> {
    let parsed = json::parse(remainder).ok()?;
    let message = message_from_json(parsed)?;
    if let Some(widened) = widen_infinite_elements(remainder) {
        message_from_json(json::parse(&widened).ok()?)?;
    }
    Some(message)
}

/// `text` (valid JSON) with every array element that is a number literal beyond `f64` (which
/// JavaScript reads as ±Infinity) replaced by `null,null,null`; `None` if there is none.
///
/// [`json::parse`] reads such a literal as `null`, what `JSON.stringify` writes for it, but
/// TinyBase validates JavaScript's `Infinity`, and the two differ where a request id or a bare
/// cell or value may be `null`: there TinyBase refuses `Infinity`. Validating the widened text
/// instead gives TinyBase's answer: every array TinyBase checks has 1 to 3 elements (a message,
/// a stamp, content hashes, changes, a control frame and its `[control, body]`), and none of
/// them accepts `Infinity` as an element, so two more elements make it invalid exactly when
/// `Infinity` would; the other arrays are inside a cell or value (valid whatever they hold) or
/// compared with `==` (where `[Infinity]` and `[null,null,null]` both differ from every small
/// integer). Object members need no change: `null` and `Infinity` are both invalid as a hash or
/// a stamp, and both valid inside a cell or value.
fn widen_infinite_elements(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    // Whether each open container is an array.
    let mut arrays: Vec<bool> = Vec::new();
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'"' => {
                i += 1;
                while let Some(&c) = bytes.get(i) {
                    i += if c == b'\\' { 2 } else { 1 };
                    if c == b'"' {
                        break;
                    }
                }
                continue;
            }
            b'[' | b'{' => arrays.push(b == b'['),
            b']' | b'}' => drop(arrays.pop()),
            b'-' | b'0'..=b'9' => {
                let start = i;
                while bytes
                    .get(i)
                    .is_some_and(|c| matches!(c, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'))
                {
                    i += 1;
                }
                let literal = text.get(start..i).unwrap_or_default();
                // Without an exponent, only a literal of over 300 digits can be that large.
                let may_overflow =
                    literal.len() > 300 || literal.bytes().any(|c| c == b'e' || c == b'E');
                if arrays.last() == Some(&true)
                    && may_overflow
                    && literal.parse::<f64>().is_ok_and(f64::is_infinite)
                {
                    let out = out.get_or_insert_with(|| String::with_capacity(text.len() + 16));
                    out.push_str(text.get(copied..start).unwrap_or_default());
                    out.push_str("null,null,null");
                    copied = i;
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    let mut out = out?;
    out.push_str(text.get(copied..).unwrap_or_default());
    Some(out)
}

fn message_from_json(parsed: Json) -> Option<Message> {
    let Json::Array(mut parts) = parsed else {
        return None;
    };
    if parts.len() != 3 {
        return None;
    }
    let request_id = request_id_of(&parts[0]).ok()?;
    let number = as_integer(&parts[1])?;
    let message = MessageType::from_number(number as i64)?;
    let body = parts.pop()?;
    Message::new(request_id, message, body)
}

// ---------------------------------------------------------------------------------- ids

/// `len` random characters of the HLC alphabet (TinyBase's `getUniqueId`).
pub use crate::js::unique_id;

/// A fresh 11-character transaction id (notifications, and the stem of request ids).
pub fn transaction_id() -> String {
    unique_id(11)
}

/// A request id: `transactionId.xxxx`.
pub fn request_id(transaction_id: &str) -> String {
    format!("{transaction_id}.{}", unique_id(4))
}

fn is_alphabet_id(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| ALPHABET.contains(&b))
}

// ---------------------------------------------------------------------------------- payloads

/// Splits a payload at its first `\n` into `(clientId, remainder)`.
pub fn split_payload(payload: &str) -> Option<(&str, &str)> {
    payload.split_once('\n')
}

/// `clientId\nremainder`.
pub fn raw_payload(client_id: &str, remainder: &str) -> String {
    let mut out = String::with_capacity(client_id.len() + 1 + remainder.len());
    out.push_str(client_id);
    out.push('\n');
    out.push_str(remainder);
    out
}

/// The payloads that carry `remainder` to (or from) `client_id`: one, or fragments when
/// `fragment_size` is set and the remainder is larger (spec §3.1).
pub fn make_payloads(
    client_id: &str,
    remainder: &str,
    fragment_size: Option<usize>,
) -> Vec<String> {
    match fragments(remainder, fragment_size) {
        None => vec![raw_payload(client_id, remainder)],
        Some(pieces) => pieces.iter().map(|p| raw_payload(client_id, p)).collect(),
    }
}

/// [`make_payloads`] without the client-id line, for a relay that adds it per recipient: the
/// remainder itself (not copied) when it needs no fragments, else its fragment remainders.
pub fn make_remainders(remainder: String, fragment_size: Option<usize>) -> Vec<String> {
    fragments(&remainder, fragment_size).unwrap_or_else(|| vec![remainder])
}

/// The fragment remainders (`messageId\nindex\ntotal\npiece`) of `remainder`, or `None`
/// when it goes whole: pieces split at code points, at most `fragment_size` bytes each (raised
/// so that there are never more than [`MAX_FRAGMENTS`]).
fn fragments(remainder: &str, fragment_size: Option<usize>) -> Option<Vec<String>> {
    let size = fragment_size.filter(|s| *s >= 1)?;
    let max = size.max(remainder.len().div_ceil(MAX_FRAGMENTS) + 3);
    let mut pieces: Vec<&str> = Vec::new();
    let mut start = 0;
    let mut len = 0;
    for (i, ch) in remainder.char_indices() {
        let w = ch.len_utf8();
        if len > 0 && len + w > max {
            pieces.push(&remainder[start..i]);
            start = i;
            len = 0;
        }
        len += w;
    }
    pieces.push(&remainder[start..]);
    if pieces.len() == 1 {
        return None;
    }
    let message_id = unique_id(16);
    let total = pieces.len();
    Some(
        pieces
            .iter()
            .enumerate()
            .map(|(i, piece)| format!("{message_id}\n{i}\n{total}\n{piece}"))
            .collect(),
    )
}

/// `^([-0-9A-Z_a-z]{16})\n(\d+)\n(\d+)\n([\s\S]*)$` on a remainder.
fn parse_fragment(remainder: &str) -> Option<(&str, u64, u64, &str)> {
    let (id, rest) = remainder.split_once('\n')?;
    if !is_alphabet_id(id, 16) {
        return None;
    }
    let (index, rest) = rest.split_once('\n')?;
    let (total, piece) = rest.split_once('\n')?;
    let number = |s: &str| -> Option<u64> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        // Longer digit strings than u64 holds are over every limit anyway.
        Some(s.parse::<u64>().unwrap_or(u64::MAX))
    };
    Some((id, number(index)?, number(total)?, piece))
}

/// The text of the message that `remainders` (as in [`Decoded::remainders`]) carry: the
/// remainder itself (moved, not copied) when it went whole, else its fragments' pieces joined.
///
/// ```
/// use tinystore_core::sync::protocol::joined_remainder;
/// assert_eq!(joined_remainder(vec!["[null,1,\"\"]".to_string()]), "[null,1,\"\"]");
/// let pieces = vec!["AAAAAAAAAAAAAAAA\n0\n2\n[null,".to_string(), "AAAAAAAAAAAAAAAA\n1\n2\n1,\"\"]".to_string()];
/// assert_eq!(joined_remainder(pieces), "[null,1,\"\"]");
/// ```
pub fn joined_remainder(mut remainders: Vec<String>) -> String {
    if remainders.len() == 1 && parse_fragment(&remainders[0]).is_none() {
        return remainders.pop().unwrap_or_default();
    }
    remainders
        .iter()
        .filter_map(|r| parse_fragment(r).map(|(_, _, _, piece)| piece))
        .collect()
}

/// The body text of a ContentDiff message's text (`[requestId,3,body]`), located without
/// parsing the body; `None` for any other message or a text not of that shape. For messages
/// already validated (e.g. by [`decode_message`] before a relay), so the body can go straight
/// into a store without a JSON tree.
///
/// ```
/// use tinystore_core::sync::protocol::content_diff_body;
/// assert_eq!(content_diff_body(r#"["t\"x",3,[[{},""],[{},""],1]]"#), Some(r#"[[{},""],[{},""],1]"#));
/// assert_eq!(content_diff_body(r#"[null, 3 ,[]] "#), Some("[]"));
/// assert_eq!(content_diff_body(r#"["t",2,[1,2]]"#), None);
/// assert_eq!(content_diff_body(r#"["t",30,[1,2]]"#), None);
/// ```
pub fn content_diff_body(text: &str) -> Option<&str> {
    let is_ws = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
    let bytes = text.as_bytes();
    let mut i = 0;
    let skip_ws = |mut i: usize| {
        while i < bytes.len() && is_ws(bytes[i]) {
            i += 1;
        }
        i
    };
    i = skip_ws(i);
    if bytes.get(i) != Some(&b'[') {
        return None;
    }
    i = skip_ws(i + 1);
    match bytes.get(i)? {
        b'n' if text[i..].starts_with("null") => i += 4,
        b'"' => {
            i += 1;
            loop {
                match bytes.get(i)? {
                    b'\\' => i += 2,
                    b'"' => break,
                    _ => i += 1,
                }
            }
            i += 1;
        }
        _ => return None,
    }
    i = skip_ws(i);
    if bytes.get(i) != Some(&b',') {
        return None;
    }
    i = skip_ws(i + 1);
    if bytes.get(i) != Some(&b'3') {
        return None;
    }
    i = skip_ws(i + 1);
    if bytes.get(i) != Some(&b',') {
        return None;
    }
    let start = skip_ws(i + 1);
    let mut end = text.len();
    while end > start && is_ws(bytes[end - 1]) {
        end -= 1;
    }
    if end <= start || bytes[end - 1] != b']' {
        return None;
    }
    end -= 1;
    while end > start && is_ws(bytes[end - 1]) {
        end -= 1;
    }
    (end > start).then(|| &text[start..end])
}

/// Whether a whole payload looks like a fragment (`FRAGMENT_PAYLOAD`), to name an oversize
/// error.
fn looks_like_fragment(payload: &str) -> bool {
    split_payload(payload).is_some_and(|(_, rest)| parse_fragment(rest).is_some())
}

/// A complete message decoded from one payload or reassembled from fragments.
#[derive(Clone, Debug, PartialEq)]
pub struct Decoded {
    /// The payload's client id (destination from a client, source from a server).
    pub client_id: String,
    /// The remainders as received: one, or every fragment's in index order (servers relay
    /// these, not a re-encoding).
    pub remainders: Vec<String>,
    /// The message.
    pub message: Message,
}

/// What a socket's incomplete fragments may hold at once, shared by every decoder of one
/// socket (the channels of a multiplexed socket share one budget).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FragmentBudget {
    /// Incomplete messages buffered.
    pub buffers: usize,
    /// Bytes buffered.
    pub bytes: usize,
}

struct Pending {
    pieces: Vec<Option<String>>,
    missing: usize,
    total: u64,
    started_ms: u64,
    retained: usize,
}

/// Turns the payloads of one socket (or channel) into messages, reassembling fragments
/// (TinyBase's payload decoder). After an error the decoder stays invalid and drops everything.
pub struct PayloadDecoder {
    pending: HashMap<String, Pending>,
    bytes: usize,
    timeout_ms: u64,
    /// Most bytes of incomplete messages (all of this socket's budget).
    max_buffered: usize,
    valid: bool,
}

impl std::fmt::Debug for PayloadDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PayloadDecoder")
            .field("pending", &self.pending.len())
            .field("bytes", &self.bytes)
            .field("valid", &self.valid)
            .finish()
    }
}

impl PayloadDecoder {
    /// A decoder whose incomplete messages expire after `timeout_ms` (TinyBase: the request
    /// timeout).
    pub fn new(timeout_ms: u64) -> PayloadDecoder {
        PayloadDecoder::with_max_message(timeout_ms, MAX_PAYLOAD_BYTES)
    }

    /// A decoder that reassembles messages of up to `max_message` bytes (a client decoding a
    /// server's answers uses [`MAX_SERVER_MESSAGE_BYTES`]); single payloads stay within
    /// [`MAX_PAYLOAD_BYTES`].
    pub fn with_max_message(timeout_ms: u64, max_message: usize) -> PayloadDecoder {
        PayloadDecoder {
            pending: HashMap::new(),
            bytes: 0,
            timeout_ms,
            max_buffered: max_message,
            valid: true,
        }
    }

    /// Whether no error has happened.
    pub fn is_valid(&self) -> bool {
        self.valid
    }

    /// Drops incomplete messages older than the timeout.
    pub fn expire(&mut self, now_ms: u64, budget: &mut FragmentBudget) {
        let timeout = self.timeout_ms;
        let mut freed = (0, 0);
        self.pending.retain(|_, p| {
            let keep = now_ms.saturating_sub(p.started_ms) < timeout;
            if !keep {
                freed.0 += 1;
                freed.1 += p.retained;
            }
            keep
        });
        self.bytes -= freed.1;
        budget.buffers -= freed.0;
        budget.bytes -= freed.1;
    }

    /// Drops every incomplete message, returning their budget.
    pub fn clear(&mut self, budget: &mut FragmentBudget) {
        budget.buffers -= self.pending.len();
        budget.bytes -= self.bytes;
        self.pending.clear();
        self.bytes = 0;
    }

    fn fail(&mut self, e: ProtocolError, budget: &mut FragmentBudget) -> ProtocolError {
        self.valid = false;
        self.clear(budget);
        e
    }

    /// Decodes one payload: `Ok(Some(_))` for a complete message, `Ok(None)` for a fragment
    /// that was buffered, `Err` when the socket must be closed (and on every later call).
    pub fn decode(
        &mut self,
        payload: &str,
        now_ms: u64,
        budget: &mut FragmentBudget,
    ) -> Result<Option<Decoded>, ProtocolError> {
        if !self.valid {
            return Err(ProtocolError::Invalid);
        }
        if payload.len() > MAX_PAYLOAD_BYTES {
            let what = if looks_like_fragment(payload) {
                "fragments"
            } else {
                "socket"
            };
            return Err(self.fail(ProtocolError::Overflow(what), budget));
        }
        self.expire(now_ms, budget);
        let Some((client_id, remainder)) = split_payload(payload) else {
            return Err(self.fail(ProtocolError::Invalid, budget));
        };
        if let Some(message) = decode_message(remainder) {
            return Ok(Some(Decoded {
                client_id: client_id.to_string(),
                remainders: vec![remainder.to_string()],
                message,
            }));
        }
        let Some((message_id, index, total, _)) = parse_fragment(remainder) else {
            return Err(self.fail(ProtocolError::Invalid, budget));
        };
        if total > MAX_FRAGMENTS as u64 {
            return Err(self.fail(ProtocolError::Overflow("fragments"), budget));
        }
        if total == 0 || index >= total {
            return Err(self.fail(ProtocolError::Invalid, budget));
        }
        let key = format!("{client_id}\n{message_id}");
        let existing = self.pending.get(&key);
        if existing.is_none() && budget.buffers >= MAX_FRAGMENT_BUFFERS {
            return Err(self.fail(ProtocolError::Overflow("fragments"), budget));
        }
        let fits = match existing {
            None => true,
            Some(p) => p.total == total && p.pieces[index as usize].is_none(),
        };
        if !fits {
            return Err(self.fail(ProtocolError::Invalid, budget));
        }
        let retained = remainder.len() + if existing.is_some() { 0 } else { key.len() };
        if budget.bytes + retained > self.max_buffered {
            return Err(self.fail(ProtocolError::Overflow("fragments"), budget));
        }
        let pending = self.pending.entry(key.clone()).or_insert_with(|| {
            budget.buffers += 1;
            Pending {
                pieces: vec![None; total as usize],
                missing: total as usize,
                total,
                started_ms: now_ms,
                retained: 0,
            }
        });
        pending.pieces[index as usize] = Some(remainder.to_string());
        pending.missing -= 1;
        pending.retained += retained;
        self.bytes += retained;
        budget.bytes += retained;
        if pending.missing > 0 {
            return Ok(None);
        }
        let done = self.pending.remove(&key).expect("just inserted");
        budget.buffers -= 1;
        budget.bytes -= done.retained;
        self.bytes -= done.retained;
        let remainders: Vec<String> = done.pieces.into_iter().flatten().collect();
        let mut whole = String::new();
        for r in &remainders {
            if let Some((_, _, _, piece)) = parse_fragment(r) {
                whole.push_str(piece);
            }
        }
        match decode_message(&whole) {
            Some(message) => Ok(Some(Decoded {
                client_id: client_id.to_string(),
                remainders,
                message,
            })),
            None => Err(self.fail(ProtocolError::Invalid, budget)),
        }
    }
}

// ---------------------------------------------------------------------------------- multiplexing

/// A control request of the `tinybase` subprotocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Control {
    /// Opens the session; body = protocol version, echoed by the server.
    Hello = 0,
    /// Joins a channel; echoed by the server.
    Subscribe = 1,
    /// Leaves a channel; not acknowledged.
    Unsubscribe = 2,
}

/// A parsed control frame.
#[derive(Clone, Debug, PartialEq)]
pub struct ControlFrame {
    /// Its request id (`None` for Unsubscribe).
    pub request_id: Option<String>,
    /// Which control.
    pub control: Control,
    /// Hello: the version; Subscribe/Unsubscribe: the channel id.
    pub body: Json,
}

impl ControlFrame {
    /// The channel id of a Subscribe or Unsubscribe.
    pub fn channel(&self) -> Option<&str> {
        self.body.as_str()
    }
}

/// Whether a channel id is longer than [`MAX_CHANNEL_ID_BYTES`].
pub fn is_channel_id_too_large(channel: &str) -> bool {
    channel.len() > MAX_CHANNEL_ID_BYTES
}

/// A channel id's structure: non-empty, no `\n \r ? #`, `/`-separated segments that are not
/// empty, `.` or `..`.
pub fn is_channel_id_valid(channel: &str) -> bool {
    !channel.is_empty()
        && !channel.contains(['\n', '\r', '?', '#'])
        && channel
            .split('/')
            .all(|p| !p.is_empty() && p != "." && p != "..")
}

/// `S\n[requestId,-1,[control,body]]`.
pub fn control_payload(request_id: Option<&str>, control: Control, body: &Json) -> String {
    let mut out = String::from("S\n[");
    match request_id {
        Some(id) => json::write_string(&mut out, id),
        None => out.push_str("null"),
    }
    out.push_str(",-1,[");
    out.push_str(&(control as u8).to_string());
    out.push(',');
    json::write_value(&mut out, body);
    out.push_str("]]");
    out
}

/// Parses a control frame (`ifMultipleControlPayloadValid`).
///
/// TinyBase compares the message number, the control and Hello's version with JavaScript's
/// `==`, so it also accepts, say, `["…","-1",["0",[1]]]` as a Hello; so does this. (Its echo
/// carries the control as sent, where [`control_payload`] writes the number.)
pub fn parse_control(payload: &str) -> Option<ControlFrame> {
    let (client, remainder) = split_payload(payload)?;
    if client != SERVER_CLIENT_ID {
        return None;
    }
    let frame = control_from_json(json::parse(remainder).ok()?)?;
    if let Some(widened) = widen_infinite_elements(remainder) {
        control_from_json(json::parse(&widened).ok()?)?;
    }
    Some(frame)
}

fn control_from_json(parsed: Json) -> Option<ControlFrame> {
    let Json::Array(mut parts) = parsed else {
        return None;
    };
    if parts.len() != 3 || !js_loosely_equals(&parts[1], -1.0) {
        return None;
    }
    let request_id = request_id_of(&parts[0]).ok()?;
    let Json::Array(mut cb) = parts.pop()? else {
        return None;
    };
    if cb.len() != 2 {
        return None;
    }
    let body = cb.pop()?;
    let channel_ok = |b: &Json| {
        matches!(b, Json::String(s) if !is_undefined(b)
            && (is_channel_id_too_large(s) || is_channel_id_valid(s)))
    };
    let control = if js_loosely_equals(&cb[0], 0.0) {
        (request_id.is_some() && js_loosely_equals(&body, MULTIPLEX_VERSION as f64))
            .then_some(Control::Hello)
    } else if js_loosely_equals(&cb[0], 1.0) {
        (request_id.is_some() && channel_ok(&body)).then_some(Control::Subscribe)
    } else if js_loosely_equals(&cb[0], 2.0) {
        (request_id.is_none() && channel_ok(&body)).then_some(Control::Unsubscribe)
    } else {
        None
    }?;
    Some(ControlFrame {
        request_id,
        control,
        body,
    })
}

/// JavaScript's `value == n` for a parsed value (`"\u{FFFC}"` being `undefined`) and a number.
/// An object never equals (JavaScript throws: TinyBase's objects have no prototype).
fn js_loosely_equals(value: &Json, n: f64) -> bool {
    let x = match value {
        Json::Number(x) => x.as_f64().unwrap_or(f64::NAN),
        Json::Bool(b) => f64::from(u8::from(*b)),
        Json::String(s) if s != UNDEFINED_MARKER => js::string_to_number(s),
        Json::Array(items) => js_array_to_number(items),
        Json::String(_) | Json::Null | Json::Object(_) => return false,
    };
    x == n
}

/// `Number(array)`: the number of the elements joined with `,` (`null` and `undefined` as
/// `""`).
fn js_array_to_number(mut items: &[Json]) -> f64 {
    loop {
        return match items {
            [] => 0.0,
            [Json::Null] => 0.0,
            [Json::String(s)] if s == UNDEFINED_MARKER => 0.0,
            [Json::String(s)] => js::string_to_number(s),
            // A number's string reads back as the same number.
            [Json::Number(x)] => x.as_f64().unwrap_or(f64::NAN),
            [Json::Array(inner)] => {
                items = inner;
                continue;
            }
            // "true", "false", a throw for an object, or a `,` in the joined string.
            _ => f64::NAN,
        };
    }
}

/// `M\n<channelId>\n<payload>`.
pub fn channel_payload(channel: &str, payload: &str) -> String {
    let mut out = String::with_capacity(channel.len() + payload.len() + 3);
    out.push_str("M\n");
    out.push_str(channel);
    out.push('\n');
    out.push_str(payload);
    out
}

/// What a multiplexed data frame holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelFrame<'a> {
    /// Data for a channel.
    Data {
        /// The channel id.
        channel: &'a str,
        /// The inner payload (`<clientId>\n…`).
        payload: &'a str,
    },
    /// A channel id over the size limit (overflow: `channels`).
    Oversized,
}

/// Parses `M\n<channelId>\n<payload>` (`ifMultiplePayloadValid`); `None` when the frame is not
/// a valid data frame.
pub fn parse_channel_frame(payload: &str) -> Option<ChannelFrame<'_>> {
    let (client, rest) = split_payload(payload)?;
    if client != MULTIPLEX_CLIENT_ID {
        return None;
    }
    let (channel, inner) = split_payload(rest)?;
    if is_channel_id_too_large(channel) {
        Some(ChannelFrame::Oversized)
    } else if is_channel_id_valid(channel) {
        Some(ChannelFrame::Data {
            channel,
            payload: inner,
        })
    } else {
        None
    }
}

/// The room (path id) a request URL selects: the first match of `/\/([^?]*)/`, not decoded.
pub fn path_id_of_url(url: &str) -> Option<&str> {
    let start = url.find('/')? + 1;
    let rest = &url[start..];
    Some(rest.split('?').next().unwrap_or(""))
}

/// The server path of a channel of a multiplexed socket opened on `base`.
pub fn channel_path(base: &str, channel: &str) -> String {
    if base.is_empty() {
        channel.to_string()
    } else {
        format!("{base}/{channel}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transcript_messages_round_trip() {
        for m in [
            r#"["XRI2_CxO_c4.R1gO",1,""]"#,
            r#"["y-Dbh_QbYQT",2,[467359372,0]]"#,
            r#"["yfaW6R_ukQY.SG6T",4,{}]"#,
            r#"["yfaW6R_ukQY.SG6T",0,[[{"pets":[{"fido":[{"species":["dog","NjEtLV-----67WEb"]}]}]}],{}]]"#,
            "[\"fmYAlzuwlW8\",3,[[{\"pets\":[{\"fido\":[{\"species\":[\"\u{FFFC}\",\"NjEtLV----15le2J\"]}]}]}],[{\"open\":[true,\"NjEtLV----05le2J\"]}],1]]",
            r#"[null,2,[0,4294967295]]"#,
        ] {
            let decoded = decode_message(m).unwrap_or_else(|| panic!("{m}"));
            assert_eq!(decoded.encode(), m);
        }
    }

    #[test]
    fn invalid_messages() {
        for m in [
            r#"["a",1,"x"]"#,
            r#"["a",1]"#,
            r#"["a",1,"",4]"#,
            r#"[1,1,""]"#,
            "[\"\u{FFFC}\",1,\"\"]",
            r#"["a",8,{}]"#,
            r#"["a",-1,{}]"#,
            r#"["a",1.5,""]"#,
            r#"["a",2,[1,-1]]"#,
            r#"["a",2,[1,4294967296]]"#,
            r#"["a",2,[1,2.5]]"#,
            r#"["a",3,[[{}],[{}],2]]"#,
            r#"["a",3,[[{}],[{}],"1"]]"#,
            r#"["a",3,[[{"t":[{"r":[{"c":[1,"bad"]}]}]}],[{}],1]]"#,
            r#"["a",4,{"t":"1"}]"#,
            r#"["a",5,{"t":1}]"#,
            r#"["a",6,{"t":{"r":1}}]"#,
            r#"["a",0,"x"]"#,
            "not json",
        ] {
            assert!(decode_message(m).is_none(), "{m}");
        }
        assert!(decode_message(r#"["a",1.0,""]"#).is_some());
    }

    #[test]
    fn fragments_split_and_reassemble() {
        let remainder = "[\"abc\",3,[[{\"t\":[{\"r\":[{\"c\":[\"\u{1F600}é long text\",\"NjEtLV-----67WEb\"]}]}]}],[{}],1]]";
        let payloads = make_payloads("", remainder, Some(8));
        assert!(payloads.len() > 5);
        let mut budget = FragmentBudget::default();
        let mut decoder = PayloadDecoder::new(1000);
        let mut out = None;
        // Out of order delivery still reassembles.
        for p in payloads.iter().rev() {
            if let Some(d) = decoder.decode(p, 0, &mut budget).unwrap() {
                out = Some(d);
            }
        }
        let d = out.unwrap();
        assert_eq!(d.message.encode(), remainder);
        assert_eq!(d.remainders.len(), payloads.len());
        assert_eq!(budget, FragmentBudget::default());
    }

    #[test]
    fn fragment_errors() {
        let mut budget = FragmentBudget::default();
        let mut d = PayloadDecoder::new(1000);
        assert_eq!(
            d.decode("\nAAAAAAAAAAAAAAAA\n0\n1001\nx", 0, &mut budget),
            Err(ProtocolError::Overflow("fragments"))
        );
        let mut d = PayloadDecoder::new(1000);
        assert!(
            d.decode("\nAAAAAAAAAAAAAAAA\n0\n2\n[", 0, &mut budget)
                .unwrap()
                .is_none()
        );
        assert_eq!(
            d.decode("\nAAAAAAAAAAAAAAAA\n0\n2\n[", 0, &mut budget),
            Err(ProtocolError::Invalid)
        );
        assert_eq!(budget, FragmentBudget::default());
        let mut d = PayloadDecoder::new(1000);
        for i in 0..MAX_FRAGMENT_BUFFERS {
            let id = format!("{:A>16}", i);
            let id: String = id.chars().map(|c| if c == ' ' { 'A' } else { c }).collect();
            assert!(
                d.decode(&format!("\n{id}\n0\n2\nx"), 0, &mut budget)
                    .unwrap()
                    .is_none()
            );
        }
        assert_eq!(
            d.decode("\nBBBBBBBBBBBBBBBB\n0\n2\nx", 0, &mut budget),
            Err(ProtocolError::Overflow("fragments"))
        );
        // Expiry returns the budget.
        let mut d = PayloadDecoder::new(1000);
        let mut budget = FragmentBudget::default();
        assert!(
            d.decode("\nAAAAAAAAAAAAAAAA\n0\n2\nx", 0, &mut budget)
                .unwrap()
                .is_none()
        );
        d.expire(1000, &mut budget);
        assert_eq!(budget, FragmentBudget::default());
    }

    #[test]
    fn control_frames() {
        let hello = r#"S
["UvneNzz7kWw3pUec",-1,[0,1]]"#;
        let c = parse_control(hello).unwrap();
        assert_eq!(c.control, Control::Hello);
        assert_eq!(
            control_payload(c.request_id.as_deref(), c.control, &c.body),
            hello
        );
        let sub = "S\n[\"1jGyTONxPi-qG3-K\",-1,[1,\"chan1\"]]";
        assert_eq!(parse_control(sub).unwrap().channel(), Some("chan1"));
        assert!(parse_control("S\n[null,-1,[2,\"chan1\"]]").is_some());
        assert!(parse_control("S\n[null,-1,[1,\"chan1\"]]").is_none());
        assert!(parse_control("S\n[\"x\",-1,[1,\"a/../b\"]]").is_none());
        assert!(parse_control("S\n[\"x\",-1,[0,2]]").is_none());
        assert_eq!(
            parse_channel_frame("M\nchan1\n\n[\"x\",1,\"\"]"),
            Some(ChannelFrame::Data {
                channel: "chan1",
                payload: "\n[\"x\",1,\"\"]"
            })
        );
        assert!(parse_channel_frame("M\na#b\n\nx").is_none());
    }

    #[test]
    fn paths() {
        assert_eq!(path_id_of_url("/petShop"), Some("petShop"));
        assert_eq!(path_id_of_url("/a/b?x=1"), Some("a/b"));
        assert_eq!(path_id_of_url("/"), Some(""));
        assert_eq!(channel_path("base", "chan1"), "base/chan1");
        assert_eq!(channel_path("", "chan1"), "chan1");
        assert!(is_channel_id_valid("a/b"));
        assert!(!is_channel_id_valid("a//b"));
        assert!(!is_channel_id_valid(""));
    }

    #[test]
    fn ids() {
        let t = transaction_id();
        assert!(is_alphabet_id(&t, 11));
        let r = request_id(&t);
        assert_eq!(r.len(), 16);
        assert_ne!(unique_id(16), unique_id(16));
    }
}
