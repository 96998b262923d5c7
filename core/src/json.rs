//! JavaScript-exact JSON.
//!
//! TinyBase hashes and persists data through JavaScript's `JSON.stringify` and reads it back with
//! `JSON.parse`. tinystore has to produce and accept the very same bytes, or hashes, synchronizer
//! messages and persisted documents would differ from TinyBase's. `serde_json`'s own writer is
//! not suitable for that: it prints `1.0` and `-0.0` where JavaScript prints `1` and `0`, and
//! `1e+16` where JavaScript prints `10000000000000000`; and it keeps object keys in insertion
//! order, where JavaScript enumerates integer-like keys first. This module therefore
//! reimplements, byte for byte:
//!
//! - `JSON.stringify` for numbers ([`write_number`]: `null` if not finite, otherwise
//!   `Number.prototype.toString` from [`crate::js`]);
//! - `JSON.stringify` for strings ([`write_string`]) and for whole values ([`stringify()`],
//!   [`write_value`]), including JavaScript's object key order ([`crate::js::object_order`]);
//! - `JSON.parse` ([`parse`]) and a tree-less check of a document ([`container_kind`]).
//!
//! Nothing here panics on any input, and neither writing nor parsing recurses, so deeply nested
//! input cannot overflow the stack.

use std::fmt;

use serde_json::{Map, Number, Value};

use crate::js;

/// Kind of a JSON container.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContainerKind {
    /// A JSON object, `{...}`.
    Object,
    /// A JSON array, `[...]`.
    Array,
}

/// Maximum nesting of arrays and objects that [`parse`] accepts.
///
/// JavaScript's `JSON.parse` has no fixed limit, but a `serde_json::Value` is dropped recursively,
/// so an unbounded tree could overflow the stack of whoever drops it. The bound is far beyond any
/// realistic TinyBase document (Node 20's own `JSON.stringify` gives up on nested arrays
/// somewhere between 2,000 and 5,000 levels with its default stack).
pub const MAX_PARSE_DEPTH: usize = 1000;

/// Returns `Some(kind)` iff `text` is, per JavaScript's `JSON.parse`, one complete JSON document
/// whose top level is an object or an array; JSON whitespace may surround it.
///
/// The document is validated in a single pass without building a tree. As in JavaScript there is
/// no nesting limit here (unlike [`parse`], see [`MAX_PARSE_DEPTH`]), and escaped lone surrogates
/// such as `"\ud800"` are accepted.
#[must_use]
pub fn container_kind(text: &str) -> Option<ContainerKind> {
    let bytes = text.as_bytes();
    let kind = match bytes.get(skip_ws(bytes, 0)) {
        Some(b'{') => ContainerKind::Object,
        Some(b'[') => ContainerKind::Array,
        _ => return None,
    };
    let mut sink = Validator;
    Parser::new(text).run(&mut sink).ok().map(|()| kind)
}

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

/// Error of [`parse`]: the text is not valid JSON (or nests deeper than [`MAX_PARSE_DEPTH`]).
#[derive(Debug, Clone, PartialEq)]
pub struct JsonError {
    /// Human-readable description, including the byte offset of the problem.
    pub message: String,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for JsonError {}

/// `JSON.parse(text)` into a `serde_json::Value` (whose objects keep insertion order).
///
/// Accepts exactly the documents JavaScript accepts. Like JavaScript, a duplicated key keeps the
/// position of its first occurrence and the value of its last one. Where a `Value` cannot hold
/// what JavaScript would:
///
/// - numbers are read as the nearest `f64`, as in JavaScript; integral ones that fit `u64` or
///   `i64` are stored as integers, `-0` stays an `f64`, and literals too large for `f64` (which
///   JavaScript reads as `Infinity`) become `null`, which is what `JSON.stringify` writes for
///   them;
/// - an escaped lone surrogate (`"\ud800"`) becomes U+FFFD;
/// - nesting deeper than [`MAX_PARSE_DEPTH`] is rejected.
///
/// # Errors
///
/// Returns a [`JsonError`] describing the first problem and its byte offset if `text` is not one
/// complete JSON document.
pub fn parse(text: &str) -> Result<Value, JsonError> {
    let mut sink = Builder::default();
    Parser::new(text)
        .run(&mut sink)
        .map_err(|error| error.into_json_error(text))?;
    sink.root.ok_or_else(|| JsonError {
        message: "JSON parse error: no value was produced".to_owned(),
    })
}

/// Runs the parser over `text`, feeding its events to `sink` (a crate-internal streaming
/// decoder); the errors are [`parse`]'s.
pub(crate) fn parse_into<S: Sink>(text: &str, sink: &mut S) -> Result<(), JsonError> {
    Parser::new(text)
        .run(sink)
        .map_err(|error| error.into_json_error(text))
}

// ---------------------------------------------------------------------------------------------
// Numbers.

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

/// The `Value` for a number JavaScript read as `n`; see [`parse`].
fn number_value(n: f64) -> Value {
    const TWO_POW_64: f64 = 18_446_744_073_709_551_616.0;
    const MINUS_TWO_POW_63: f64 = -9_223_372_036_854_775_808.0;
    if !n.is_finite() {
        return Value::Null;
    }
    if n.fract() == 0.0 && !(n == 0.0 && n.is_sign_negative()) {
        if (0.0..TWO_POW_64).contains(&n) {
            return Value::Number(Number::from(n as u64));
        }
        if (MINUS_TWO_POW_63..0.0).contains(&n) {
            return Value::Number(Number::from(n as i64));
        }
    }
    Number::from_f64(n).map_or(Value::Null, Value::Number)
}

// ---------------------------------------------------------------------------------------------
// Parsing.

/// Whitespace as JSON defines it (not JavaScript's wider notion).
fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

fn skip_ws(bytes: &[u8], mut pos: usize) -> usize {
    while bytes.get(pos).is_some_and(|&b| is_ws(b)) {
        pos += 1;
    }
    pos
}

/// What went wrong while parsing, and at which byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ErrorKind {
    UnexpectedEnd,
    UnexpectedByte,
    ControlCharacter,
    BadEscape,
    TrailingCharacters,
    TooDeep,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ParseError {
    kind: ErrorKind,
    pos: usize,
}

impl ParseError {
    fn into_json_error(self, text: &str) -> JsonError {
        let found = match text.get(self.pos..).and_then(|rest| rest.chars().next()) {
            Some(c) => format!("{c:?}"),
            None => match text.as_bytes().get(self.pos) {
                Some(b) => format!("byte 0x{b:02x}"),
                None => "end of input".to_owned(),
            },
        };
        let pos = self.pos;
        let message = match self.kind {
            ErrorKind::UnexpectedEnd => "JSON parse error: unexpected end of JSON input".to_owned(),
            ErrorKind::UnexpectedByte => {
                format!("JSON parse error: unexpected character {found} at byte {pos}")
            }
            ErrorKind::ControlCharacter => {
                format!("JSON parse error: bad control character {found} in string at byte {pos}")
            }
            ErrorKind::BadEscape => {
                format!("JSON parse error: bad escape sequence in string at byte {pos}")
            }
            ErrorKind::TrailingCharacters => format!(
                "JSON parse error: unexpected character {found} after the JSON value at byte {pos}"
            ),
            ErrorKind::TooDeep => format!(
                "JSON parse error: nesting deeper than {MAX_PARSE_DEPTH} levels at byte {pos}"
            ),
        };
        JsonError { message }
    }
}

/// Receives the parse events. Validation and tree building share one parser this way (and
/// crate-internal decoders use it through [`parse_into`]).
pub(crate) trait Sink {
    /// Whether strings and numbers must be decoded (false for pure validation).
    const DECODE: bool;
    /// Maximum container nesting.
    const MAX_DEPTH: usize;
    /// A scalar value; only called when `DECODE`.
    fn scalar(&mut self, value: Value);
    /// The key of the next object member; only called when `DECODE`.
    fn key(&mut self, key: String);
    /// A container opens.
    fn begin(&mut self, kind: ContainerKind);
    /// The innermost open container closes.
    fn end(&mut self);
}

/// Sink that checks the syntax only.
struct Validator;

impl Sink for Validator {
    const DECODE: bool = false;
    const MAX_DEPTH: usize = usize::MAX;
    fn scalar(&mut self, _value: Value) {}
    fn key(&mut self, _key: String) {}
    fn begin(&mut self, _kind: ContainerKind) {}
    fn end(&mut self) {}
}

/// A container under construction.
enum Partial {
    Array(Vec<Value>),
    Object(Map<String, Value>, Option<String>),
}

/// Sink that builds a `serde_json::Value`.
#[derive(Default)]
struct Builder {
    stack: Vec<Partial>,
    root: Option<Value>,
}

impl Builder {
    fn add(&mut self, value: Value) {
        match self.stack.last_mut() {
            None => self.root = Some(value),
            Some(Partial::Array(items)) => items.push(value),
            Some(Partial::Object(map, key)) => {
                if let Some(key) = key.take() {
                    // With `preserve_order`, re-inserting a key replaces its value in place: the
                    // first position and the last value, as in JavaScript.
                    map.insert(key, value);
                }
            }
        }
    }
}

impl Sink for Builder {
    const DECODE: bool = true;
    const MAX_DEPTH: usize = MAX_PARSE_DEPTH;
    fn scalar(&mut self, value: Value) {
        self.add(value);
    }
    fn key(&mut self, key: String) {
        if let Some(Partial::Object(_, pending)) = self.stack.last_mut() {
            *pending = Some(key);
        }
    }
    fn begin(&mut self, kind: ContainerKind) {
        self.stack.push(match kind {
            ContainerKind::Array => Partial::Array(Vec::new()),
            ContainerKind::Object => Partial::Object(Map::new(), None),
        });
    }
    fn end(&mut self) {
        let value = match self.stack.pop() {
            Some(Partial::Array(items)) => Value::Array(items),
            Some(Partial::Object(map, _)) => Value::Object(map),
            None => return,
        };
        self.add(value);
    }
}

/// A non-recursive JSON parser following ECMA-404 exactly, as `JSON.parse` does.
struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        Parser {
            text,
            bytes: text.as_bytes(),
            pos: 0,
        }
    }

    fn error(&self, kind: ErrorKind) -> ParseError {
        ParseError {
            kind,
            pos: self.pos,
        }
    }

    /// `UnexpectedEnd` at the end of input, else `UnexpectedByte` at the current position.
    fn unexpected(&self) -> ParseError {
        if self.pos >= self.bytes.len() {
            self.error(ErrorKind::UnexpectedEnd)
        } else {
            self.error(ErrorKind::UnexpectedByte)
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        self.pos = skip_ws(self.bytes, self.pos);
    }

    fn expect(&mut self, byte: u8) -> Result<(), ParseError> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    /// Parses one whole document.
    fn run<S: Sink>(&mut self, sink: &mut S) -> Result<(), ParseError> {
        let mut open: Vec<ContainerKind> = Vec::new();
        'values: loop {
            // A value starts here.
            self.skip_ws();
            match self.peek() {
                Some(open_byte @ (b'[' | b'{')) => {
                    let (kind, close) = if open_byte == b'[' {
                        (ContainerKind::Array, b']')
                    } else {
                        (ContainerKind::Object, b'}')
                    };
                    if open.len() >= S::MAX_DEPTH {
                        return Err(self.error(ErrorKind::TooDeep));
                    }
                    self.pos += 1;
                    sink.begin(kind);
                    self.skip_ws();
                    if self.peek() == Some(close) {
                        self.pos += 1;
                        sink.end();
                    } else {
                        open.push(kind);
                        if kind == ContainerKind::Object {
                            self.member_key(sink)?;
                        }
                        continue 'values;
                    }
                }
                Some(b'"') => {
                    let mut s = String::new();
                    self.string::<S>(&mut s)?;
                    if S::DECODE {
                        sink.scalar(Value::String(s));
                    }
                }
                Some(b't') => {
                    self.literal(b"true")?;
                    sink.scalar(Value::Bool(true));
                }
                Some(b'f') => {
                    self.literal(b"false")?;
                    sink.scalar(Value::Bool(false));
                }
                Some(b'n') => {
                    self.literal(b"null")?;
                    sink.scalar(Value::Null);
                }
                Some(b'-' | b'0'..=b'9') => {
                    let start = self.pos;
                    let integer = self.number()?;
                    if S::DECODE {
                        sink.scalar(self.number_literal_value(start, integer));
                    }
                }
                _ => return Err(self.unexpected()),
            }

            // A value just ended: continue or close the innermost container.
            loop {
                let Some(&kind) = open.last() else {
                    break 'values;
                };
                self.skip_ws();
                match (self.peek(), kind) {
                    (Some(b','), ContainerKind::Array) => {
                        self.pos += 1;
                        continue 'values;
                    }
                    (Some(b','), ContainerKind::Object) => {
                        self.pos += 1;
                        self.skip_ws();
                        self.member_key(sink)?;
                        continue 'values;
                    }
                    (Some(b']'), ContainerKind::Array) | (Some(b'}'), ContainerKind::Object) => {
                        self.pos += 1;
                        open.pop();
                        sink.end();
                    }
                    _ => return Err(self.unexpected()),
                }
            }
        }
        self.skip_ws();
        if self.pos < self.bytes.len() {
            return Err(self.error(ErrorKind::TrailingCharacters));
        }
        Ok(())
    }

    /// Parses `"key"` `:` (with whitespace around the colon) at the current position.
    fn member_key<S: Sink>(&mut self, sink: &mut S) -> Result<(), ParseError> {
        if self.peek() != Some(b'"') {
            return Err(self.unexpected());
        }
        let mut key = String::new();
        self.string::<S>(&mut key)?;
        self.skip_ws();
        self.expect(b':')?;
        if S::DECODE {
            sink.key(key);
        }
        Ok(())
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), ParseError> {
        for &expected in word {
            self.expect(expected)?;
        }
        Ok(())
    }

    /// Skips a number: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    ///
    /// Returns `Some(magnitude)` when the literal is a plain integer (no fraction, no exponent) of
    /// at most 15 digits, which `f64` holds exactly.
    fn number(&mut self) -> Result<Option<u64>, ParseError> {
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        let int_start = self.pos;
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.unexpected()),
        }
        let int_end = self.pos;
        let mut plain = true;
        if self.peek() == Some(b'.') {
            plain = false;
            self.pos += 1;
            self.at_least_one_digit()?;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            plain = false;
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            self.at_least_one_digit()?;
        }
        if !plain || int_end - int_start > 15 {
            return Ok(None);
        }
        let digits = self.bytes.get(int_start..int_end).unwrap_or_default();
        Ok(Some(digits.iter().fold(0u64, |n, &b| {
            n * 10 + u64::from(b.wrapping_sub(b'0'))
        })))
    }

    /// The value of the number literal from `start` to the current position; `integer` is what
    /// [`Parser::number`] returned for it.
    fn number_literal_value(&self, start: usize, integer: Option<u64>) -> Value {
        let negative = self.bytes.get(start) == Some(&b'-');
        match integer {
            Some(0) if negative => number_value(-0.0),
            Some(magnitude) if negative => {
                // At most 15 digits, so the cast and the negation are exact.
                Value::Number(Number::from(-(magnitude as i64)))
            }
            Some(magnitude) => Value::Number(Number::from(magnitude)),
            None => number_value(
                self.text
                    .get(start..self.pos)
                    .and_then(|literal| literal.parse::<f64>().ok())
                    .unwrap_or(f64::NAN),
            ),
        }
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
    }

    fn at_least_one_digit(&mut self) -> Result<(), ParseError> {
        if !self.peek().is_some_and(|b| b.is_ascii_digit()) {
            return Err(self.unexpected());
        }
        self.digits();
        Ok(())
    }

    /// Parses a string literal starting at the opening quote. When `S::DECODE`, appends its
    /// value to `out`.
    fn string<S: Sink>(&mut self, out: &mut String) -> Result<(), ParseError> {
        self.pos += 1;
        let mut start = self.pos;
        loop {
            let rest = self.bytes.get(self.pos..).unwrap_or_default();
            self.pos += rest
                .iter()
                .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
                .unwrap_or(rest.len());
            let Some(b) = self.peek() else {
                return Err(self.error(ErrorKind::UnexpectedEnd));
            };
            if S::DECODE {
                // The scan stopped on an ASCII byte, so this is a character boundary.
                if let Some(chunk) = self.text.get(start..self.pos) {
                    out.push_str(chunk);
                }
            }
            match b {
                b'"' => {
                    self.pos += 1;
                    return Ok(());
                }
                b'\\' => {
                    self.escape::<S>(out)?;
                    start = self.pos;
                }
                _ => return Err(self.error(ErrorKind::ControlCharacter)),
            }
        }
    }

    /// Parses one escape sequence starting at its backslash.
    fn escape<S: Sink>(&mut self, out: &mut String) -> Result<(), ParseError> {
        let backslash = self.pos;
        let bad_escape = ParseError {
            kind: ErrorKind::BadEscape,
            pos: backslash,
        };
        let Some(letter) = self.bytes.get(backslash + 1).copied() else {
            self.pos = self.bytes.len();
            return Err(self.error(ErrorKind::UnexpectedEnd));
        };
        let simple = match letter {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let unit = self.hex4(backslash + 2).ok_or(bad_escape)?;
                self.pos = backslash + 6;
                let c = if (0xd800..0xdc00).contains(&unit) {
                    // A high surrogate: pair it with an immediately following escaped low one.
                    let low = if self.bytes.get(self.pos..self.pos + 2) == Some(b"\\u") {
                        self.hex4(self.pos + 2)
                            .filter(|low| (0xdc00..0xe000).contains(low))
                    } else {
                        None
                    };
                    match low {
                        Some(low) => {
                            self.pos += 6;
                            let scalar = 0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00);
                            char::from_u32(scalar).unwrap_or(char::REPLACEMENT_CHARACTER)
                        }
                        None => char::REPLACEMENT_CHARACTER,
                    }
                } else {
                    // Lone low surrogates are not chars either.
                    char::from_u32(unit).unwrap_or(char::REPLACEMENT_CHARACTER)
                };
                if S::DECODE {
                    out.push(c);
                }
                return Ok(());
            }
            _ => return Err(bad_escape),
        };
        self.pos = backslash + 2;
        if S::DECODE {
            out.push(simple);
        }
        Ok(())
    }

    /// The code unit of four hex digits at `at`, if there are four.
    fn hex4(&self, at: usize) -> Option<u32> {
        let digits = self.bytes.get(at..at.checked_add(4)?)?;
        digits.iter().try_fold(0u32, |unit, &b| {
            let digit = char::from(b).to_digit(16)?;
            Some(unit * 16 + digit)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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

    #[test]
    fn container_kind_cases() {
        assert_eq!(container_kind("{}"), Some(ContainerKind::Object));
        assert_eq!(container_kind(" [1] "), Some(ContainerKind::Array));
        assert_eq!(container_kind("[1"), None);
        assert_eq!(container_kind("{\"a\":}"), None);
        assert_eq!(container_kind("1"), None);
        assert_eq!(container_kind("\"x\""), None);
        assert_eq!(container_kind("null"), None);
        assert_eq!(container_kind("{} x"), None);
        assert_eq!(container_kind(""), None);
    }

    #[test]
    fn container_kind_more_cases() {
        let object = Some(ContainerKind::Object);
        let array = Some(ContainerKind::Array);
        assert_eq!(container_kind("\t\r\n {\"a\":[1,{\"b\":null}]}\n"), object);
        assert_eq!(container_kind("[\"\\ud800\"]"), array);
        assert_eq!(container_kind("[\"\\u00e9\\/\\\\\\\"\"]"), array);
        assert_eq!(container_kind("[-0,0.5e-3,1E+2,-1.5]"), array);
        assert_eq!(container_kind("[[],{}]"), array);
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(container_kind(&deep), array);
        for bad in [
            "[1,]",
            "{\"a\":1,}",
            "[01]",
            "[1.]",
            "[.5]",
            "[1e]",
            "[-]",
            "[+1]",
            "[\"\\x\"]",
            "[\"\t\"]",
            "[NaN]",
            "[Infinity]",
            "[\"\\u12\"]",
            "\u{feff}[]",
            "\u{a0}[]",
            "[]]",
            "{}}",
            "[}",
            "{]",
            "{'a':1}",
            "{a:1}",
            "{\"a\" 1}",
            "[tru]",
            "[nul]",
            "[\"abc",
            "[\"abc\\",
            "[1 2]",
            "[] []",
            "{\"a\":1 \"b\":2}",
        ] {
            assert_eq!(container_kind(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn parse_duplicate_keys_keep_first_position_last_value() {
        let value = parse(r#"{"a":1,"b":2,"a":3,"c":{"x":[1,{"9":0,"z":1,"0":2}],"x":null}}"#)
            .expect("valid");
        // Node 20: JSON.stringify(JSON.parse(<same text>)).
        assert_eq!(stringify(&value), r#"{"a":3,"b":2,"c":{"x":null}}"#);
        let keys: Vec<&String> = value
            .as_object()
            .map(|m| m.keys().collect())
            .unwrap_or_default();
        assert_eq!(keys, ["a", "b", "c"]);
    }

    #[test]
    fn parse_values() {
        let value = parse(
            " {\"s\":\"a\\n\\u00e9\\ud83d\\ude00\\/\",\"t\":true,\"f\":false,\"n\":null,\"a\":[]} ",
        )
        .expect("valid");
        assert_eq!(
            value,
            json!({"s": "a\né😀/", "t": true, "f": false, "n": null, "a": []})
        );
        assert_eq!(parse("\"x\"").expect("valid"), json!("x"));
        assert_eq!(parse("null").expect("valid"), Value::Null);
        assert_eq!(parse("\"\\uD83D\\uDE00\"").expect("valid"), json!("😀"));
    }

    #[test]
    fn parse_numbers() {
        let value = parse("[0,-0,1,-1,1.0,1e3,0.5,18446744073709551615,-9223372036854775808,1e400,-1e400,123456789012345678901234]")
            .expect("valid");
        let Value::Array(items) = &value else {
            panic!("not an array");
        };
        assert_eq!(items[0].as_u64(), Some(0));
        assert!(
            items[1]
                .as_f64()
                .is_some_and(|n| n == 0.0 && n.is_sign_negative())
        );
        assert_eq!(items[1].as_i64(), None);
        assert_eq!(items[2].as_u64(), Some(1));
        assert_eq!(items[3].as_i64(), Some(-1));
        assert_eq!(items[4].as_u64(), Some(1));
        assert_eq!(items[5].as_u64(), Some(1000));
        assert_eq!(items[6].as_f64(), Some(0.5));
        // JavaScript holds 2**64 here; it does not fit u64, so it stays an f64.
        assert_eq!(items[7].as_u64(), None);
        assert_eq!(items[7].as_f64(), Some(18_446_744_073_709_551_616.0));
        assert_eq!(items[8].as_i64(), Some(i64::MIN));
        assert_eq!(items[9], Value::Null);
        assert_eq!(items[10], Value::Null);
        assert_eq!(items[11].as_f64(), "123456789012345678901234".parse().ok());
        // Same output as JSON.stringify(JSON.parse(<same text>)) in Node 20.
        assert_eq!(
            stringify(&value),
            "[0,0,1,-1,1,1000,0.5,18446744073709552000,-9223372036854776000,null,null,1.2345678901234569e+23]"
        );
    }

    #[test]
    fn parse_lone_surrogates_become_replacement_characters() {
        assert_eq!(
            parse(r#"["\ud800","\udc00x","\ud800\u0041","\ud800\ud800\udc00"]"#).expect("valid"),
            json!(["\u{fffd}", "\u{fffd}x", "\u{fffd}A", "\u{fffd}\u{10000}"])
        );
    }

    #[test]
    fn parse_errors() {
        for bad in [
            "",
            " ",
            "[1",
            "{\"a\":}",
            "{} x",
            "[1,]",
            "01",
            "1.",
            "-",
            "\"\\x\"",
            "\"\u{1}\"",
            "\"abc",
            "tru",
            "nul",
            "[\"\\u12\"]",
            "{\"a\" 1}",
            "\u{feff}1",
            "'a'",
            "{\"a\":1,}",
        ] {
            let error = parse(bad).expect_err(bad);
            assert!(error.message.starts_with("JSON parse error: "), "{error}");
        }
        assert_eq!(
            parse("[1,]").expect_err("invalid").message,
            "JSON parse error: unexpected character ']' at byte 3"
        );
        assert_eq!(
            parse("[1").expect_err("invalid").to_string(),
            "JSON parse error: unexpected end of JSON input"
        );
        assert_eq!(
            parse("{} é").expect_err("invalid").message,
            "JSON parse error: unexpected character 'é' after the JSON value at byte 3"
        );
        assert_eq!(
            parse("\"a\nb\"").expect_err("invalid").message,
            "JSON parse error: bad control character '\\n' in string at byte 2"
        );
        assert_eq!(
            parse("\"\\q\"").expect_err("invalid").message,
            "JSON parse error: bad escape sequence in string at byte 1"
        );
        let error: Box<dyn std::error::Error> = Box::new(parse("x").expect_err("invalid"));
        assert_eq!(
            error.to_string(),
            "JSON parse error: unexpected character 'x' at byte 0"
        );
    }

    #[test]
    fn parse_depth_limit() {
        let ok = format!(
            "{}{}",
            "[".repeat(MAX_PARSE_DEPTH),
            "]".repeat(MAX_PARSE_DEPTH)
        );
        assert!(parse(&ok).is_ok());
        let too_deep = format!("[{ok}]");
        assert!(
            parse(&too_deep)
                .expect_err("too deep")
                .message
                .contains("nesting deeper than")
        );
        let objects = format!("{}1{}", "{\"a\":".repeat(2000), "}".repeat(2000));
        assert!(parse(&objects).is_err());
        assert_eq!(container_kind(&objects), Some(ContainerKind::Object));
    }

    #[test]
    fn parse_then_stringify_round_trips() {
        for text in [
            r#"{"a":[1,2,{"b":null}],"c":"d"}"#,
            r#"[1.5,-2,1e+21,5e-324,"\u0000\"\\",true]"#,
            r#"{"1":1,"0":0,"x":{"3":[],"2":{}}}"#,
        ] {
            let value = parse(text).expect("valid");
            let again = stringify(&value);
            assert_eq!(stringify(&parse(&again).expect("valid")), again);
        }
        assert_eq!(
            stringify(&parse(r#"{"1":1,"0":0,"x":{"3":[],"2":{}}}"#).expect("valid")),
            r#"{"0":0,"1":1,"x":{"2":{},"3":[]}}"#
        );
    }

    /// The container kind of `parse(text)`, to cross-check [`container_kind`].
    fn parsed_kind(text: &str) -> Option<ContainerKind> {
        match parse(text) {
            Ok(Value::Object(_)) => Some(ContainerKind::Object),
            Ok(Value::Array(_)) => Some(ContainerKind::Array),
            _ => None,
        }
    }

    #[test]
    fn no_panics_on_truncated_or_mutated_input() {
        let text = r#"{"a":[1,-2.5e-3,"x\u00e9\ud83d\ude00\n",true,false,null,{}],"é":{"0":[]}}"#;
        for end in 0..=text.len() {
            if let Some(prefix) = text.get(..end) {
                let kind = container_kind(prefix);
                assert_eq!(kind, parsed_kind(prefix), "{prefix:?}");
                assert_eq!(kind.is_some(), end == text.len(), "{prefix:?}");
            }
        }
        let bytes = text.as_bytes();
        for at in 0..bytes.len() {
            for replacement in [
                b'"', b'\\', b'{', b'}', b'[', b']', b',', b':', b'0', b'u', 0,
            ] {
                let mut mutated = bytes.to_vec();
                mutated[at] = replacement;
                if let Ok(mutated) = String::from_utf8(mutated) {
                    assert_eq!(
                        container_kind(&mutated),
                        parsed_kind(&mutated),
                        "{mutated:?}"
                    );
                }
            }
        }
    }
}
