//! The value types every other module speaks: [`Cell`] (also used for Values) and ids.
//!
//! A Cell is one of TinyBase's six types. Objects and arrays are kept as their JSON text (the
//! part after TinyBase's `U+FFFD` marker), never re-serialised, so that a value received from a
//! TinyBase peer or file keeps its exact bytes and therefore its exact hash.

use std::borrow::Cow;
use std::fmt;

use compact_str::CompactString;

use crate::js;
use crate::json;

/// Text as stored in the store: ids and string cells. Strings of up to 24 bytes live inline,
/// so typical ids and short values cost no heap allocation.
pub type Text = CompactString;

/// The marker TinyBase puts in front of the JSON text of an object or array cell.
pub const ENCODED_PREFIX: char = '\u{FFFD}';
/// The string TinyBase's JSON codecs use for `undefined` (a tombstone on the wire).
pub const UNDEFINED_MARKER: &str = "\u{FFFC}";

/// One Cell or Value: string, finite number, boolean, null, object or array.
///
/// Objects and arrays hold their JSON text (without TinyBase's `U+FFFD` prefix).
///
/// ```
/// use tinystore_core::Cell;
/// assert_eq!(Cell::from("dog"), Cell::String("dog".into()));
/// assert_eq!(Cell::from(4), Cell::Number(4.0));
/// let obj = Cell::from_json(serde_json::json!({"a": 1}));
/// assert_eq!(obj.encoded().as_deref(), Some("\u{FFFD}{\"a\":1}"));
/// ```
#[derive(Clone, Debug)]
pub enum Cell {
    /// JSON `null`, a real value (`has_cell` is true).
    Null,
    /// `true` / `false`.
    Boolean(bool),
    /// A finite IEEE-754 double (non-finite numbers are rejected by the store).
    Number(f64),
    /// A string (the reserved `"\u{FFFC}"` and `U+FFFD`-prefixed strings are rejected).
    String(Text),
    /// A plain object, as its JSON text, e.g. `{"a":1}`.
    Object(Text),
    /// An array, as its JSON text, e.g. `[1,"x"]`.
    Array(Text),
}

/// Values share the Cell type.
pub type Value = Cell;

impl PartialEq for Cell {
    /// TinyBase's `!==` on the stored (encoded) form: numbers compare numerically (so `0 == -0`),
    /// objects and arrays compare by their JSON text.
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Cell::Null, Cell::Null) => true,
            (Cell::Boolean(a), Cell::Boolean(b)) => a == b,
            (Cell::Number(a), Cell::Number(b)) => a == b,
            (Cell::String(a), Cell::String(b))
            | (Cell::Object(a), Cell::Object(b))
            | (Cell::Array(a), Cell::Array(b)) => a == b,
            _ => false,
        }
    }
}

/// The type names TinyBase uses in schemas.
///
/// ```
/// use tinystore_core::{Cell, CellType};
/// assert_eq!(Cell::from(true).cell_type(), Some(CellType::Boolean));
/// assert_eq!(CellType::parse("array"), Some(CellType::Array));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CellType {
    /// `"string"`
    String,
    /// `"number"`
    Number,
    /// `"boolean"`
    Boolean,
    /// `"object"`
    Object,
    /// `"array"`
    Array,
}

impl CellType {
    /// The schema spelling of this type.
    ///
    /// ```
    /// use tinystore_core::CellType;
    /// assert_eq!(CellType::Number.as_str(), "number");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            CellType::String => "string",
            CellType::Number => "number",
            CellType::Boolean => "boolean",
            CellType::Object => "object",
            CellType::Array => "array",
        }
    }

    /// Parses a schema type name.
    ///
    /// ```
    /// use tinystore_core::CellType;
    /// assert_eq!(CellType::parse("string"), Some(CellType::String));
    /// // Names are case-sensitive, and `null` is not a schema type.
    /// assert_eq!(CellType::parse("String"), None);
    /// assert_eq!(CellType::parse("null"), None);
    /// ```
    pub fn parse(s: &str) -> Option<CellType> {
        Some(match s {
            "string" => CellType::String,
            "number" => CellType::Number,
            "boolean" => CellType::Boolean,
            "object" => CellType::Object,
            "array" => CellType::Array,
            _ => return None,
        })
    }
}

impl Cell {
    /// The schema type of this cell, `None` for null.
    ///
    /// ```
    /// use tinystore_core::{Cell, CellType};
    /// assert_eq!(Cell::from(4).cell_type(), Some(CellType::Number));
    /// assert_eq!(Cell::Null.cell_type(), None);
    /// ```
    pub fn cell_type(&self) -> Option<CellType> {
        match self {
            Cell::Null => None,
            Cell::Boolean(_) => Some(CellType::Boolean),
            Cell::Number(_) => Some(CellType::Number),
            Cell::String(_) => Some(CellType::String),
            Cell::Object(_) => Some(CellType::Object),
            Cell::Array(_) => Some(CellType::Array),
        }
    }

    /// Whether TinyBase would accept this as user data: finite numbers, strings that are not
    /// reserved, and object/array text that parses as JSON of that kind.
    ///
    /// ```
    /// use tinystore_core::Cell;
    /// assert!(Cell::from("dog").is_valid());
    /// assert!(!Cell::from(f64::NAN).is_valid());
    /// assert!(!Cell::from("\u{FFFC}").is_valid());
    /// assert!(!Cell::Object("[1]".into()).is_valid());
    /// ```
    pub fn is_valid(&self) -> bool {
        match self {
            Cell::Null | Cell::Boolean(_) => true,
            Cell::Number(n) => n.is_finite(),
            Cell::String(s) => !is_reserved_string(s),
            Cell::Object(text) => json::container_kind(text) == Some(json::ContainerKind::Object),
            Cell::Array(text) => json::container_kind(text) == Some(json::ContainerKind::Array),
        }
    }

    /// Converts a JSON value as a TinyBase user would pass it: objects and arrays become
    /// [`Cell::Object`]/[`Cell::Array`] serialised exactly as `JSON.stringify` would.
    /// Strings are taken as they are (an encoded `U+FFFD` string stays a string, and so is
    /// rejected by the store); use [`Cell::from_encoded_json`] for TinyBase's encoded form.
    ///
    /// ```
    /// use serde_json::json;
    /// use tinystore_core::Cell;
    /// assert_eq!(Cell::from_json(json!([1, "x"])), Cell::Array("[1,\"x\"]".into()));
    /// assert_eq!(Cell::from_json(json!(null)), Cell::Null);
    /// // An encoded string is not decoded here.
    /// assert!(!Cell::from_json(json!("\u{FFFD}[1]")).is_valid());
    /// ```
    pub fn from_json(value: serde_json::Value) -> Cell {
        match value {
            serde_json::Value::Null => Cell::Null,
            serde_json::Value::Bool(b) => Cell::Boolean(b),
            serde_json::Value::Number(n) => Cell::Number(n.as_f64().unwrap_or(f64::NAN)),
            serde_json::Value::String(s) => Cell::String(s.into()),
            v @ serde_json::Value::Object(_) => Cell::Object(json::stringify(&v).into()),
            v @ serde_json::Value::Array(_) => Cell::Array(json::stringify(&v).into()),
        }
    }

    /// Converts a JSON value in TinyBase's *encoded* form (persisters, sync, `set_json`): a
    /// string starting with `U+FFFD` is decoded to an object or array, keeping its text
    /// verbatim. A raw JSON object or array is accepted too, as TinyBase's `setJson` does.
    /// An encoded string whose remainder is not a JSON object/array stays a (reserved, hence
    /// invalid) string.
    ///
    /// ```
    /// use serde_json::json;
    /// use tinystore_core::Cell;
    /// assert_eq!(Cell::from_encoded_json(json!("\u{FFFD}[1]")), Cell::Array("[1]".into()));
    /// assert_eq!(Cell::from_encoded_json(json!({"a": 1})), Cell::Object("{\"a\":1}".into()));
    /// assert_eq!(Cell::from_encoded_json(json!(2.5)), Cell::Number(2.5));
    /// ```
    pub fn from_encoded_json(value: serde_json::Value) -> Cell {
        match value {
            serde_json::Value::String(s) => Cell::from_encoded_str(&s),
            other => Cell::from_json(other),
        }
    }

    /// Decodes one encoded string: `"\u{FFFD}{...}"` becomes an object, `"\u{FFFD}[...]"` an
    /// array, anything else a string.
    ///
    /// ```
    /// use tinystore_core::Cell;
    /// // The JSON text is kept verbatim, spaces included.
    /// assert_eq!(Cell::from_encoded_str("\u{FFFD}{ \"a\": 1 }"), Cell::Object("{ \"a\": 1 }".into()));
    /// assert_eq!(Cell::from_encoded_str("dog"), Cell::from("dog"));
    /// assert_eq!(Cell::from_encoded_str("\u{FFFD}nope"), Cell::from("\u{FFFD}nope"));
    /// ```
    pub fn from_encoded_str(s: &str) -> Cell {
        if let Some(rest) = s.strip_prefix(ENCODED_PREFIX) {
            match json::container_kind(rest) {
                Some(json::ContainerKind::Object) => return Cell::Object(rest.into()),
                Some(json::ContainerKind::Array) => return Cell::Array(rest.into()),
                None => {}
            }
        }
        Cell::String(s.into())
    }

    /// The decoded JSON value (objects and arrays parsed), as TinyBase's getters return it.
    /// Non-finite numbers, which the store never holds, become `null` like `JSON.stringify`.
    ///
    /// ```
    /// use serde_json::json;
    /// use tinystore_core::Cell;
    /// assert_eq!(Cell::Object("{\"a\":[1]}".into()).to_json(), json!({"a": [1]}));
    /// assert_eq!(Cell::from(3).to_json(), json!(3));
    /// assert_eq!(Cell::from(f64::INFINITY).to_json(), json!(null));
    /// ```
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Cell::Null => serde_json::Value::Null,
            Cell::Boolean(b) => serde_json::Value::Bool(*b),
            Cell::Number(n) => number_to_json(*n),
            Cell::String(s) => serde_json::Value::String(s.to_string()),
            Cell::Object(t) | Cell::Array(t) => {
                serde_json::from_str(t).unwrap_or(serde_json::Value::Null)
            }
        }
    }

    /// The encoded JSON value of TinyBase's persisted and wire formats: objects and arrays
    /// become a `U+FFFD`-prefixed string.
    ///
    /// ```
    /// use serde_json::json;
    /// use tinystore_core::Cell;
    /// assert_eq!(Cell::Array("[1]".into()).to_encoded_json(), json!("\u{FFFD}[1]"));
    /// assert_eq!(Cell::from("dog").to_encoded_json(), json!("dog"));
    /// ```
    pub fn to_encoded_json(&self) -> serde_json::Value {
        match self {
            Cell::Object(t) | Cell::Array(t) => {
                serde_json::Value::String(format!("{ENCODED_PREFIX}{t}"))
            }
            other => other.to_json(),
        }
    }

    /// The encoded string of an object or array (`U+FFFD` + JSON), `None` for other types.
    ///
    /// ```
    /// use tinystore_core::Cell;
    /// assert_eq!(Cell::Array("[]".into()).encoded().as_deref(), Some("\u{FFFD}[]"));
    /// assert_eq!(Cell::from("[]").encoded(), None);
    /// ```
    pub fn encoded(&self) -> Option<String> {
        match self {
            Cell::Object(t) | Cell::Array(t) => Some(format!("{ENCODED_PREFIX}{t}")),
            _ => None,
        }
    }

    /// Appends `JSON.stringify` of the encoded form, exactly as TinyBase writes it.
    ///
    /// ```
    /// use tinystore_core::Cell;
    /// let mut out = String::new();
    /// Cell::from("a\"b").write_encoded_json(&mut out);
    /// out.push(',');
    /// Cell::Array("[1]".into()).write_encoded_json(&mut out);
    /// assert_eq!(out, "\"a\\\"b\",\"\u{FFFD}[1]\"");
    /// ```
    pub fn write_encoded_json(&self, out: &mut String) {
        match self {
            Cell::Null => out.push_str("null"),
            Cell::Boolean(true) => out.push_str("true"),
            Cell::Boolean(false) => out.push_str("false"),
            Cell::Number(n) => json::write_number(out, *n),
            Cell::String(s) => json::write_string(out, s),
            Cell::Object(t) | Cell::Array(t) => {
                let mut encoded = String::with_capacity(t.len() + 3);
                encoded.push(ENCODED_PREFIX);
                encoded.push_str(t);
                json::write_string(out, &encoded);
            }
        }
    }

    /// Returns the string if this is a string cell.
    ///
    /// ```
    /// use tinystore_core::Cell;
    /// assert_eq!(Cell::from("dog").as_str(), Some("dog"));
    /// assert_eq!(Cell::Object("{}".into()).as_str(), None);
    /// ```
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Cell::String(s) => Some(s),
            _ => None,
        }
    }

    /// Returns the number if this is a number cell.
    ///
    /// ```
    /// use tinystore_core::Cell;
    /// assert_eq!(Cell::from(4).as_f64(), Some(4.0));
    /// assert_eq!(Cell::from("4").as_f64(), None);
    /// ```
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Cell::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// Returns the boolean if this is a boolean cell.
    ///
    /// ```
    /// use tinystore_core::Cell;
    /// assert_eq!(Cell::from(false).as_bool(), Some(false));
    /// assert_eq!(Cell::from(0).as_bool(), None);
    /// ```
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Cell::Boolean(b) => Some(*b),
            _ => None,
        }
    }

    /// Whether this is [`Cell::Null`].
    ///
    /// ```
    /// use tinystore_core::Cell;
    /// assert!(Cell::from(None::<i32>).is_null());
    /// assert!(!Cell::from("").is_null());
    /// ```
    pub fn is_null(&self) -> bool {
        matches!(self, Cell::Null)
    }

    /// The JavaScript value TinyBase holds for this cell: objects and arrays are their encoded
    /// string (`U+FFFD` then the JSON text), as in a TinyBase store.
    ///
    /// ```
    /// use tinystore_core::Cell;
    /// use tinystore_core::js::Primitive;
    /// assert_eq!(Cell::from(2).to_js(), Primitive::Number(2.0));
    /// assert_eq!(Cell::Array("[1]".into()).to_js(), Primitive::String("\u{FFFD}[1]".into()));
    /// ```
    pub fn to_js(&self) -> js::Primitive<'_> {
        match self {
            Cell::Null => js::Primitive::Null,
            Cell::Boolean(b) => js::Primitive::Boolean(*b),
            Cell::Number(n) => js::Primitive::Number(*n),
            Cell::String(s) => js::Primitive::String(Cow::Borrowed(s.as_str())),
            Cell::Object(t) | Cell::Array(t) => {
                js::Primitive::String(Cow::Owned(format!("{ENCODED_PREFIX}{t}")))
            }
        }
    }
}

/// TinyBase's default sorter on two sort keys, `(a ?? 0) < (b ?? 0)`: JavaScript's `<`
/// ([`js::less_than`]) where a missing key (or a null cell) counts as `0`.
///
/// ```
/// use tinystore_core::Cell;
/// use tinystore_core::types::default_sorter_less;
/// assert!(default_sorter_less(None, Some(&Cell::from(1))));
/// assert!(default_sorter_less(Some(&Cell::from("10")), Some(&Cell::from("9"))));
/// assert!(!default_sorter_less(Some(&Cell::from("10")), Some(&Cell::from(9))));
/// ```
pub fn default_sorter_less(a: Option<&Cell>, b: Option<&Cell>) -> bool {
    fn key(cell: Option<&Cell>) -> js::Primitive<'_> {
        match cell {
            None | Some(Cell::Null) => js::Primitive::Number(0.0),
            Some(cell) => cell.to_js(),
        }
    }
    js::less_than(&key(a), &key(b))
}

fn number_to_json(n: f64) -> serde_json::Value {
    if n.is_finite() && n.fract() == 0.0 && n.abs() < 9.007_199_254_740_992e15 {
        // Integral numbers come back as JSON integers, as JavaScript prints them.
        serde_json::Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null)
    }
}

/// Whether a string is reserved by TinyBase's encodings and so invalid as user data.
///
/// ```
/// use tinystore_core::types::is_reserved_string;
/// assert!(is_reserved_string("\u{FFFC}"));
/// assert!(is_reserved_string("\u{FFFD}anything"));
/// assert!(!is_reserved_string("\u{FFFC}x"));
/// ```
pub fn is_reserved_string(s: &str) -> bool {
    s == UNDEFINED_MARKER || s.starts_with(ENCODED_PREFIX)
}

impl fmt::Display for Cell {
    /// Displays the cell as decoded JSON (`"dog"`, `4`, `{"a":1}`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        match self {
            Cell::Object(t) | Cell::Array(t) => out.push_str(t),
            other => other.write_encoded_json(&mut out),
        }
        f.write_str(&out)
    }
}

impl From<&str> for Cell {
    fn from(s: &str) -> Self {
        Cell::String(s.into())
    }
}
impl From<String> for Cell {
    fn from(s: String) -> Self {
        Cell::String(s.into())
    }
}
impl From<&String> for Cell {
    fn from(s: &String) -> Self {
        Cell::String(s.as_str().into())
    }
}
impl From<Text> for Cell {
    fn from(s: Text) -> Self {
        Cell::String(s)
    }
}
impl From<f64> for Cell {
    fn from(n: f64) -> Self {
        Cell::Number(n)
    }
}
impl From<f32> for Cell {
    fn from(n: f32) -> Self {
        Cell::Number(n as f64)
    }
}
macro_rules! from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Cell {
            fn from(n: $t) -> Self {
                Cell::Number(n as f64)
            }
        }
    )*};
}
from_int!(i8, i16, i32, i64, u8, u16, u32, u64, isize, usize);
impl From<bool> for Cell {
    fn from(b: bool) -> Self {
        Cell::Boolean(b)
    }
}
impl From<serde_json::Value> for Cell {
    fn from(v: serde_json::Value) -> Self {
        Cell::from_json(v)
    }
}
impl<T: Into<Cell>> From<Option<T>> for Cell {
    /// `None` becomes [`Cell::Null`].
    fn from(v: Option<T>) -> Self {
        v.map(Into::into).unwrap_or(Cell::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equality_follows_strict_equals_on_encoded_form() {
        assert_eq!(Cell::Number(0.0), Cell::Number(-0.0));
        assert_ne!(Cell::Number(f64::NAN), Cell::Number(f64::NAN));
        assert_ne!(Cell::String("1".into()), Cell::Number(1.0));
        assert_ne!(Cell::Object("{}".into()), Cell::Array("{}".into()));
        assert_eq!(Cell::Null, Cell::Null);
    }

    #[test]
    fn validity() {
        assert!(Cell::from("x").is_valid());
        assert!(!Cell::from("\u{FFFC}").is_valid());
        assert!(Cell::from("\u{FFFC}x").is_valid());
        assert!(!Cell::from("\u{FFFD}").is_valid());
        assert!(!Cell::from("\u{FFFD}{}").is_valid());
        assert!(!Cell::Number(f64::INFINITY).is_valid());
        assert!(!Cell::Number(f64::NAN).is_valid());
        assert!(Cell::Object("{\"a\":1}".into()).is_valid());
        assert!(!Cell::Object("[1]".into()).is_valid());
        assert!(!Cell::Array("{".into()).is_valid());
    }

    #[test]
    fn encoded_round_trip() {
        let c = Cell::from_encoded_str("\u{FFFD}{\"b\":1,\"a\":[2]}");
        assert_eq!(c, Cell::Object("{\"b\":1,\"a\":[2]}".into()));
        assert_eq!(
            c.to_encoded_json(),
            serde_json::Value::String("\u{FFFD}{\"b\":1,\"a\":[2]}".into())
        );
        assert_eq!(
            Cell::from_encoded_str("\u{FFFD}nope"),
            Cell::String("\u{FFFD}nope".into())
        );
        let mut out = String::new();
        Cell::Array("[1]".into()).write_encoded_json(&mut out);
        assert_eq!(out, "\"\u{FFFD}[1]\"");
    }

    #[test]
    fn json_conversions() {
        assert_eq!(
            Cell::from_json(serde_json::json!([1, "x"])),
            Cell::Array("[1,\"x\"]".into())
        );
        assert_eq!(Cell::Number(3.0).to_json(), serde_json::json!(3));
        assert_eq!(Cell::Number(0.5).to_json(), serde_json::json!(0.5));
        assert_eq!(Cell::from(None::<i32>), Cell::Null);
        assert_eq!(Cell::Object("{\"a\":1}".into()).to_string(), "{\"a\":1}");
        assert_eq!(Cell::from("a\"b").to_string(), "\"a\\\"b\"");
    }
}
