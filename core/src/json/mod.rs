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

use serde_json::Value;

mod parse;
mod write;

pub(crate) use parse::Sink;
use parse::{Builder, Parser, Validator, skip_ws};
pub use write::*;

/// Kind of a JSON container.
///
/// ```
/// use tinystore_core::json::{ContainerKind, container_kind};
/// assert_eq!(container_kind(r#"{"a":[1]}"#), Some(ContainerKind::Object));
/// assert_eq!(container_kind("[]"), Some(ContainerKind::Array));
/// ```
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
///
/// ```
/// use tinystore_core::json::{ContainerKind, container_kind};
/// assert_eq!(container_kind(" [\"\\ud800\"]\n"), Some(ContainerKind::Array));
/// assert_eq!(container_kind("1"), None);
/// assert_eq!(container_kind("[1,]"), None);
/// assert_eq!(container_kind("{} x"), None);
/// ```
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

/// Error of [`parse`]: the text is not valid JSON (or nests deeper than [`MAX_PARSE_DEPTH`]).
///
/// ```
/// use tinystore_core::json::{MAX_PARSE_DEPTH, parse};
/// let err = parse("[1,]").unwrap_err();
/// assert_eq!(err.to_string(), err.message);
/// let too_deep = "[".repeat(MAX_PARSE_DEPTH + 1) + &"]".repeat(MAX_PARSE_DEPTH + 1);
/// assert!(parse(&too_deep).is_err());
/// ```
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
///
/// # Examples
///
/// ```
/// use serde_json::json;
/// use tinystore_core::json::parse;
/// let doc = parse(r#"{"b": 1, "a": 2, "b": 3, "n": -0, "big": 1e400}"#)?;
/// // The first position of `b`, its last value.
/// assert_eq!(doc.as_object().unwrap().keys().collect::<Vec<_>>(), ["b", "a", "n", "big"]);
/// assert_eq!(doc["b"], json!(3));
/// assert!(doc["n"].as_f64().unwrap().is_sign_negative());
/// assert_eq!(doc["big"], json!(null));
/// assert_eq!(parse(r#""\ud800""#)?, json!("\u{FFFD}"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
