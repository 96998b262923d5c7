//! Parsing JSON exactly as JavaScript's `JSON.parse` does, without recursion: one parser feeding
//! its events to a sink (a validator, the `Value` builder, or a crate-internal decoder).

use serde_json::{Map, Number, Value};

use super::{ContainerKind, JsonError, MAX_PARSE_DEPTH};

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

/// Whitespace as JSON defines it (not JavaScript's wider notion).
fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

pub(super) fn skip_ws(bytes: &[u8], mut pos: usize) -> usize {
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
pub(super) struct ParseError {
    kind: ErrorKind,
    pos: usize,
}

impl ParseError {
    pub(super) fn into_json_error(self, text: &str) -> JsonError {
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
pub(super) struct Validator;

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
pub(super) struct Builder {
    stack: Vec<Partial>,
    pub(super) root: Option<Value>,
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
pub(super) struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    pub(super) fn new(text: &'a str) -> Self {
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
    pub(super) fn run<S: Sink>(&mut self, sink: &mut S) -> Result<(), ParseError> {
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
    use crate::json::{container_kind, parse, stringify};
    use serde_json::json;

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
