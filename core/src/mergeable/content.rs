//! MergeableContent and MergeableChanges: the stamped trees that MergeableStores exchange, and
//! their JSON forms (TinyBase's, byte for byte).
//!
//! Two JSON renderings exist:
//! - the **encoded** form of TinyBase's persisters and synchronizers: object/array cells as
//!   `"\u{FFFD}" + JSON`, tombstones as the string `"\u{FFFC}"`;
//! - the **public** form of TinyBase's `getMergeableContent()` printed with `JSON.stringify`:
//!   object/array cells decoded, tombstones as `null`.

use indexmap::IndexMap;
use serde_json::Value as Json;

use crate::hlc::{Hlc, MAX_FUTURE_OFFSET_MS};
use crate::js::object_order as js_order;
use crate::json;
use crate::ordmap::OrdMap;
use crate::types::{Cell, Text, UNDEFINED_MARKER};

use super::tree::{Leaf, LeafMap, Names, Payload, TableStamps};

/// TinyBase's stamp: `[thing, hlc, hash]`. `hlc` is `""` for never-written things and for
/// containers; `hash` is absent in hash-less changes (sync) and present in full content.
///
/// ```
/// use tinystore_core::mergeable::{CellStamp, Stamp};
/// use tinystore_core::{Cell, MergeableStore};
/// let store = MergeableStore::with_clock(Some("client1"), Box::new(|| 1_700_000_000_000));
/// store.set_value("open", true);
/// let open: &CellStamp = &store.get_mergeable_content().values.thing["open"];
/// assert_eq!(open.thing, Some(Cell::from(true)));
/// assert_eq!(open.hlc, "NjEtLV-----mmxrx");
/// assert!(open.hash.is_some());
/// let never_written: CellStamp = Stamp::default();
/// assert_eq!((never_written.thing, never_written.hlc.as_str(), never_written.hash), (None, "", None));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Stamp<T> {
    /// The stamped thing: a cell/value (`None` = deleted), or a map of child stamps.
    pub thing: T,
    /// The HLC, or `""`.
    pub hlc: String,
    /// The hash, when the form carries hashes.
    pub hash: Option<u32>,
}

impl<T: Default> Default for Stamp<T> {
    fn default() -> Self {
        Stamp {
            thing: T::default(),
            hlc: String::new(),
            hash: None,
        }
    }
}

/// A Cell's or Value's stamp; `None` is a tombstone.
pub type CellStamp = Stamp<Option<Cell>>;
/// A Value's stamp.
pub type ValueStamp = CellStamp;
/// `{cellId: CellStamp}` stamped.
pub type RowStamp = Stamp<IndexMap<String, CellStamp>>;
/// `{rowId: RowStamp}` stamped.
pub type TableStamp = Stamp<IndexMap<String, RowStamp>>;
/// `{tableId: TableStamp}` stamped.
pub type TablesStamp = Stamp<IndexMap<String, TableStamp>>;
/// `{valueId: ValueStamp}` stamped.
pub type ValuesStamp = Stamp<IndexMap<String, ValueStamp>>;

/// A MergeableStore's full content (`[tablesStamp, valuesStamp]`, with hashes) or a set of
/// MergeableChanges (`[tablesStamp, valuesStamp, 1]`, usually without hashes): the same tree.
///
/// ```
/// use tinystore_core::mergeable::MergeableContent;
/// let json = r#"[[{"t":[{"r":[{"c":[1,"NjEtLV-----mmxrx",1]},"",2]},"",3]},"",4],[{},"",0]]"#;
/// let content = MergeableContent::from_json_str(json, true, u64::MAX).unwrap();
/// assert_eq!(content.tables.thing["t"].thing["r"].thing["c"].hlc, "NjEtLV-----mmxrx");
/// assert_eq!(content.to_json_string(JsonForm::CONTENT), json);
/// # use tinystore_core::mergeable::JsonForm;
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MergeableContent {
    /// The tables' stamps.
    pub tables: TablesStamp,
    /// The values' stamps.
    pub values: ValuesStamp,
}

/// Hash-less (or hashed) changes: same tree as [`MergeableContent`].
pub type MergeableChanges = MergeableContent;

/// How to render a [`MergeableContent`] as JSON.
///
/// ```
/// use tinystore_core::mergeable::JsonForm;
/// use tinystore_core::{Cell, MergeableStore};
/// let store = MergeableStore::with_clock(Some("client1"), Box::new(|| 1_700_000_000_000));
/// store.set_value("tags", Cell::Array("[1]".into()));
/// let content = store.get_mergeable_content();
/// assert_eq!(
///     content.to_json_string(JsonForm::CHANGES),
///     "[[{}],[{\"tags\":[\"\u{FFFD}[1]\",\"NjEtLV-----mmxrx\"]}],1]"
/// );
/// let decoded = JsonForm { hashes: false, changes: false, encoded: false };
/// assert_eq!(content.to_json_string(decoded), r#"[[{}],[{"tags":[[1],"NjEtLV-----mmxrx"]}]]"#);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JsonForm {
    /// Write `hash` (and `""` HLCs) in every stamp; otherwise `[thing]` / `[thing, hlc]`.
    pub hashes: bool,
    /// Append the changes marker: `[tables, values, 1]`.
    pub changes: bool,
    /// Encoded cells and `"\u{FFFC}"` tombstones (persisters, sync); otherwise decoded objects
    /// and `null` tombstones (TinyBase's public API printed with `JSON.stringify`).
    pub encoded: bool,
}

impl JsonForm {
    /// Full content as persisters write it: hashed, encoded, two elements.
    pub const CONTENT: JsonForm = JsonForm {
        hashes: true,
        changes: false,
        encoded: true,
    };
    /// Changes as synchronizers send them: hash-less, encoded, with the `1` marker.
    pub const CHANGES: JsonForm = JsonForm {
        hashes: false,
        changes: true,
        encoded: true,
    };
    /// Full content in TinyBase's public (decoded) JSON.
    pub const PUBLIC_CONTENT: JsonForm = JsonForm {
        hashes: true,
        changes: false,
        encoded: false,
    };
}

/// Why a MergeableContent / MergeableChanges payload was rejected as a whole.
///
/// ```
/// use tinystore_core::{MergeableError, MergeableStore};
/// // A store whose clock reads 1 January 1970.
/// let store = MergeableStore::with_clock(None, Box::new(|| 0));
/// let from_2023 = r#"[[{}],[{"open":[true,"NjEtLV-----mmxrx"]}],1]"#;
/// assert!(matches!(
///     store.apply_mergeable_changes_json(from_2023),
///     Err(MergeableError::FutureHlc { ahead_ms: 1_700_000_000_000, .. })
/// ));
/// let bad_hlc = r#"[[{}],[{"open":[true,"yesterday"]}],1]"#;
/// assert!(matches!(store.apply_mergeable_changes_json(bad_hlc), Err(MergeableError::Hlc(_))));
/// assert!(matches!(store.apply_mergeable_changes_json("[[{}"), Err(MergeableError::Json(_))));
/// // Nothing of a rejected payload is applied.
/// assert!(store.get_values().is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MergeableError {
    /// The text is not JSON.
    #[error("mergeable payload is not JSON: {0}")]
    Json(String),
    /// The JSON (or typed tree) does not have TinyBase's shape.
    #[error("invalid mergeable payload: {0}")]
    Shape(String),
    /// A stamp's HLC is malformed (not 16 HLC digits or `""`).
    #[error("malformed HLC {0:?} in mergeable payload")]
    Hlc(String),
    /// A stamp's HLC is dated more than five minutes ahead of the receiving store's clock
    /// (TinyBase's rule): the writer's clock is fast, or the receiver's slow.
    #[error(
        "HLC {hlc:?} is more than 5 minutes ahead of this clock (by {}: the writer's clock is \
         fast or this one is slow)",
        Ahead(*ahead_ms)
    )]
    FutureHlc {
        /// The offending HLC.
        hlc: String,
        /// How far (ms) its time is ahead of the receiving store's clock.
        ahead_ms: u64,
    },
    /// A cell or value is not a valid TinyBase Cell/Value.
    #[error("invalid cell or value in mergeable payload: {0}")]
    Cell(String),
}

fn shape(what: &str) -> MergeableError {
    MergeableError::Shape(what.to_string())
}

/// A duration in ms, as people read it: `10 min 0.250 s`, `42.000 s`.
struct Ahead(u64);

impl std::fmt::Display for Ahead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (min, ms) = (self.0 / 60_000, self.0 % 60_000);
        if min > 0 {
            write!(f, "{min} min ")?;
        }
        write!(f, "{}.{:03} s", ms / 1000, ms % 1000)
    }
}

/// Checks a stamp's HLC as TinyBase's `isHlc(hlc, maxTime)` does: `""`, or 16 valid digits
/// whose time is at most `max_time` (the receiving clock's now + 5 minutes).
pub(super) fn check_hlc(s: &str, max_time: u64) -> Result<(), MergeableError> {
    match Hlc::parse(s) {
        None => Err(MergeableError::Hlc(s.to_string())),
        Some(h) if !h.is_empty() && h.time() > max_time => Err(MergeableError::FutureHlc {
            hlc: s.to_string(),
            ahead_ms: h.time() - max_time.saturating_sub(MAX_FUTURE_OFFSET_MS),
        }),
        Some(_) => Ok(()),
    }
}

/// JavaScript's `ToUint32` of a finite number (how TinyBase's `>>> 0` treats a hash).
pub(super) fn to_uint32(n: f64) -> u32 {
    let t = n.trunc();
    let m = t.rem_euclid(4_294_967_296.0);
    m as u32
}

/// The two or three top-level parts of a payload, checked as TinyBase does.
fn top_level(json: &Json, has_hashes: bool) -> Result<&[Json], MergeableError> {
    let parts = json
        .as_array()
        .ok_or_else(|| shape("expected [tables, values] or [tables, values, 1]"))?;
    let ok_len = match parts.len() {
        2 => true,
        3 => !has_hashes && parts[2].as_f64() == Some(1.0),
        _ => false,
    };
    if !ok_len {
        return Err(shape(if has_hashes {
            "full content is [tables, values]"
        } else {
            "expected [tables, values] or [tables, values, 1]"
        }));
    }
    Ok(parts)
}

struct Parser {
    has_hashes: bool,
    max_time: u64,
}

impl Parser {
    /// `[thing, hlc?, hash?]` per TinyBase's `validateStamp`.
    fn stamp<'a>(
        &self,
        json: &'a Json,
    ) -> Result<(&'a Json, &'a str, Option<u32>), MergeableError> {
        let parts = json
            .as_array()
            .ok_or_else(|| shape("a stamp must be an array"))?;
        let (hlc, hash) = match parts.len() {
            3 => {
                let hash = parts[2]
                    .as_f64()
                    .filter(|h| h.is_finite())
                    .ok_or_else(|| shape("a stamp's hash must be a finite number"))?;
                (Some(&parts[1]), Some(to_uint32(hash)))
            }
            1 | 2 if !self.has_hashes => (parts.get(1), None),
            1 | 2 => return Err(shape("full content needs [thing, hlc, hash] stamps")),
            _ => return Err(shape("a stamp has 1 to 3 elements")),
        };
        let hlc = match hlc {
            None => "",
            Some(Json::String(s)) => {
                check_hlc(s, self.max_time)?;
                s.as_str()
            }
            Some(_) => return Err(shape("a stamp's HLC must be a string")),
        };
        Ok((&parts[0], hlc, hash))
    }

    fn map<T>(
        &self,
        json: &Json,
        child: impl Fn(&Self, &Json) -> Result<T, MergeableError>,
    ) -> Result<Stamp<IndexMap<String, T>>, MergeableError> {
        let (thing, hlc, hash) = self.stamp(json)?;
        let object = thing
            .as_object()
            .ok_or_else(|| shape("a container stamp must hold an object"))?;
        let mut map = IndexMap::with_capacity(object.len());
        for (id, child_json) in js_order(object.iter().collect()) {
            map.insert(id.clone(), child(self, child_json)?);
        }
        Ok(Stamp {
            thing: map,
            hlc: hlc.to_string(),
            hash,
        })
    }

    fn leaf(&self, json: &Json) -> Result<CellStamp, MergeableError> {
        let (thing, hlc, hash) = self.stamp(json)?;
        Ok(Stamp {
            thing: leaf_value(thing)?,
            hlc: hlc.to_string(),
            hash,
        })
    }

    /// A row's or the values' stamp straight into a [`LeafMap`].
    fn leaf_map(&self, json: &Json, names: &mut Names) -> Result<LeafMap, MergeableError> {
        let (thing, hlc, hash) = self.stamp(json)?;
        let object = thing
            .as_object()
            .ok_or_else(|| shape("a container stamp must hold an object"))?;
        let mut leaves = Vec::with_capacity(object.len());
        for (id, leaf) in object {
            let (value, leaf_hlc, leaf_hash) = self.stamp(leaf)?;
            leaves.push(Leaf {
                value: leaf_value(value)?,
                hlc: stamp_hlc(leaf_hlc),
                hash: leaf_hash.unwrap_or(0),
                id: names.intern(id),
            });
        }
        Ok(LeafMap::new(leaves, stamp_hlc(hlc), hash.unwrap_or(0)))
    }
}

/// A leaf's thing: `"\u{FFFC}"` is a tombstone, anything else must be a valid (encoded) cell.
fn leaf_value(thing: &Json) -> Result<Option<Cell>, MergeableError> {
    match thing {
        Json::String(s) if s == UNDEFINED_MARKER => Ok(None),
        other => {
            let cell = Cell::from_encoded_json(other.clone());
            if cell.is_valid() {
                Ok(Some(cell))
            } else {
                Err(MergeableError::Cell(json::stringify(other)))
            }
        }
    }
}

impl MergeableContent {
    /// Reads TinyBase's encoded JSON form (as persisters and synchronizers carry it), checking
    /// it exactly as TinyBase does before any of it is used: `has_hashes` requires full content
    /// (two elements, every stamp hashed); otherwise the `[tables, values, 1]` changes form and
    /// hash-less stamps are accepted too. HLCs later than `max_time` (ms) are rejected.
    ///
    /// ```
    /// use tinystore_core::Cell;
    /// use tinystore_core::mergeable::MergeableContent;
    /// let changes = r#"[[{"pets":[{"fido":[{"legs":[4,"NjEtLV-----mmxrx"]}]}]}],[{}],1]"#;
    /// let parsed = MergeableContent::from_json_str(changes, false, u64::MAX)?;
    /// let legs = &parsed.tables.thing["pets"].thing["fido"].thing["legs"];
    /// assert_eq!((legs.thing.clone(), legs.hash), (Some(Cell::from(4)), None));
    /// // Full content needs every stamp hashed, and no `1` marker.
    /// assert!(MergeableContent::from_json_str(changes, true, u64::MAX).is_err());
    /// // The HLC is dated after `max_time`.
    /// assert!(MergeableContent::from_json_str(changes, false, 1_699_999_999_999).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_json_str(
        text: &str,
        has_hashes: bool,
        max_time: u64,
    ) -> Result<MergeableContent, MergeableError> {
        let json = json::parse(text).map_err(|e| MergeableError::Json(e.to_string()))?;
        Self::from_json(&json, has_hashes, max_time)
    }

    /// [`MergeableContent::from_json_str`] on parsed JSON.
    ///
    /// ```
    /// use serde_json::json;
    /// use tinystore_core::Cell;
    /// use tinystore_core::mergeable::MergeableContent;
    /// let payload = json!([[{}], [{"tags": ["\u{FFFD}[1]", "NjEtLV-----mmxrx"], "gone": ["\u{FFFC}"]}], 1]);
    /// let parsed = MergeableContent::from_json(&payload, false, u64::MAX)?;
    /// assert_eq!(parsed.values.thing["tags"].thing, Some(Cell::Array("[1]".into())));
    /// // `"\u{FFFC}"` is a tombstone.
    /// assert_eq!(parsed.values.thing["gone"].thing, None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_json(
        json: &Json,
        has_hashes: bool,
        max_time: u64,
    ) -> Result<MergeableContent, MergeableError> {
        let parts = top_level(json, has_hashes)?;
        let p = Parser {
            has_hashes,
            max_time,
        };
        let tables = p.map(&parts[0], |p, table| {
            p.map(table, |p, row| p.map(row, |p, cell| p.leaf(cell)))
        })?;
        let values = p.map(&parts[1], |p, value| p.leaf(value))?;
        Ok(MergeableContent { tables, values })
    }

    /// Reads the encoded JSON form straight into the internal stamp tree (what merging
    /// consumes), with exactly the checks of [`MergeableContent::from_json`].
    pub(crate) fn tree_from_json(
        json: &Json,
        has_hashes: bool,
        max_time: u64,
    ) -> Result<Payload, MergeableError> {
        let parts = top_level(json, has_hashes)?;
        let p = Parser {
            has_hashes,
            max_time,
        };
        let mut payload: Payload = Payload::default();
        let (names, tree) = (&mut payload.names, &mut payload.tree);
        let (tables, hlc, hash) = p.stamp(&parts[0])?;
        let tables = tables
            .as_object()
            .ok_or_else(|| shape("a container stamp must hold an object"))?;
        for (t, table) in tables {
            let (rows_json, table_hlc, table_hash) = p.stamp(table)?;
            let rows_json = rows_json
                .as_object()
                .ok_or_else(|| shape("a container stamp must hold an object"))?;
            let mut rows = OrdMap::new();
            for (r, row) in rows_json {
                rows.insert(Text::from(r.as_str()), p.leaf_map(row, names)?);
            }
            tree.tables.insert(
                Text::from(t.as_str()),
                TableStamps::new(rows, stamp_hlc(table_hlc), table_hash.unwrap_or(0)),
            );
        }
        tree.tables_hlc = stamp_hlc(hlc);
        tree.tables_hash = hash.unwrap_or(0);
        tree.values = p.leaf_map(&parts[1], names)?;
        Ok(payload)
    }

    /// Checks a typed tree as TinyBase checks a payload: valid HLCs no later than `max_time`,
    /// valid cells, and hashes everywhere when `has_hashes`.
    ///
    /// ```
    /// use tinystore_core::mergeable::{MergeableContent, Stamp};
    /// use tinystore_core::{Cell, MergeableError};
    /// let mut changes = MergeableContent::default();
    /// let stamp = Stamp { thing: Some(Cell::from(4)), hlc: "NjEtLV-----mmxrx".into(), hash: None };
    /// changes.values.thing.insert("legs".into(), stamp);
    /// assert_eq!(changes.validate(false, u64::MAX), Ok(()));
    /// assert!(matches!(changes.validate(true, u64::MAX), Err(MergeableError::Shape(_))));
    /// changes.values.thing["legs"].thing = Some(Cell::from(f64::NAN));
    /// assert!(matches!(changes.validate(false, u64::MAX), Err(MergeableError::Cell(_))));
    /// ```
    pub fn validate(&self, has_hashes: bool, max_time: u64) -> Result<(), MergeableError> {
        self.validate_naming(has_hashes, max_time, |cell| format!("{cell:?}"))
    }

    /// [`MergeableContent::validate`], naming an invalid cell with `cell_text`.
    pub(crate) fn validate_naming(
        &self,
        has_hashes: bool,
        max_time: u64,
        cell_text: impl Fn(&Cell) -> String,
    ) -> Result<(), MergeableError> {
        fn check<T>(s: &Stamp<T>, has_hashes: bool, max_time: u64) -> Result<(), MergeableError> {
            if has_hashes && s.hash.is_none() {
                return Err(shape("full content needs a hash in every stamp"));
            }
            check_hlc(&s.hlc, max_time)
        }
        let leaf = |s: &CellStamp| -> Result<(), MergeableError> {
            check(s, has_hashes, max_time)?;
            match &s.thing {
                Some(cell) if !cell.is_valid() => Err(MergeableError::Cell(cell_text(cell))),
                _ => Ok(()),
            }
        };
        check(&self.tables, has_hashes, max_time)?;
        for table in self.tables.thing.values() {
            check(table, has_hashes, max_time)?;
            for row in table.thing.values() {
                check(row, has_hashes, max_time)?;
                for cell in row.thing.values() {
                    leaf(cell)?;
                }
            }
        }
        check(&self.values, has_hashes, max_time)?;
        for value in self.values.thing.values() {
            leaf(value)?;
        }
        Ok(())
    }

    /// Renders the tree in the given JSON form.
    ///
    /// ```
    /// use tinystore_core::MergeableStore;
    /// use tinystore_core::mergeable::JsonForm;
    /// let store = MergeableStore::with_clock(Some("client1"), Box::new(|| 1_700_000_000_000));
    /// store.set_value("open", true);
    /// assert_eq!(
    ///     store.get_mergeable_content().to_json_string(JsonForm::PUBLIC_CONTENT),
    ///     r#"[[{},"",0],[{"open":[true,"NjEtLV-----mmxrx",2797822095]},"",2959220691]]"#
    /// );
    /// ```
    pub fn to_json_string(&self, form: JsonForm) -> String {
        let mut out = String::with_capacity(256);
        self.write_json(&mut out, form);
        out
    }

    /// Appends the tree in the given JSON form to `out`.
    ///
    /// ```
    /// use tinystore_core::mergeable::{JsonForm, MergeableContent};
    /// let mut message = String::from(r#"{"changes":"#);
    /// MergeableContent::default().write_json(&mut message, JsonForm::CHANGES);
    /// message.push('}');
    /// assert_eq!(message, r#"{"changes":[[{}],[{}],1]}"#);
    /// ```
    pub fn write_json(&self, out: &mut String, form: JsonForm) {
        out.push('[');
        write_tables_stamp(out, &self.tables, form);
        out.push(',');
        write_values_stamp(out, &self.values, form);
        if form.changes {
            out.push_str(",1");
        }
        out.push(']');
    }

    /// Whether there is nothing in the tree.
    ///
    /// ```
    /// use tinystore_core::MergeableStore;
    /// use tinystore_core::mergeable::MergeableContent;
    /// assert!(MergeableContent::default().is_empty());
    /// let store = MergeableStore::new(None);
    /// store.set_value("open", true).del_value("open");
    /// // The store is empty, but the deleted value's tombstone is not.
    /// assert!(store.get_values().is_empty());
    /// assert!(!store.get_mergeable_content().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.tables.thing.is_empty() && self.values.thing.is_empty()
    }
}

fn write_stamp_tail(out: &mut String, hlc: &str, hash: Option<u32>, form: JsonForm) {
    if form.hashes {
        out.push(',');
        json::write_string(out, hlc);
        out.push(',');
        let mut digits = [0u8; 10];
        let mut n = hash.unwrap_or(0);
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        out.push_str(std::str::from_utf8(&digits[i..]).unwrap_or("0"));
    } else if !hlc.is_empty() {
        out.push(',');
        json::write_string(out, hlc);
    }
}

/// Writes `[{id: child…}, hlc, hash]`, children in JavaScript object order.
pub(crate) fn write_map_parts<T>(
    out: &mut String,
    mut entries: Vec<(&str, T)>,
    hlc: &str,
    hash: Option<u32>,
    form: JsonForm,
    mut child: impl FnMut(&mut String, T),
) {
    if entries
        .iter()
        .any(|(k, _)| crate::js::array_index(k).is_some())
    {
        entries = js_order(entries);
    }
    out.push_str("[{");
    for (i, (id, value)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json::write_string(out, id);
        out.push(':');
        child(out, value);
    }
    out.push('}');
    write_stamp_tail(out, hlc, hash, form);
    out.push(']');
}

/// Writes one leaf stamp `[value, hlc, hash]` in the given form.
pub(crate) fn write_leaf_parts(
    out: &mut String,
    value: Option<&Cell>,
    hlc: &str,
    hash: Option<u32>,
    form: JsonForm,
) {
    out.push('[');
    match (value, form.encoded) {
        (None, true) => json::write_string(out, UNDEFINED_MARKER),
        (None, false) => out.push_str("null"),
        (Some(cell), true) => cell.write_encoded_json(out),
        (Some(Cell::Object(text) | Cell::Array(text)), false) => match json::parse(text) {
            Ok(value) => json::write_value(out, &value),
            Err(_) => out.push_str(text),
        },
        (Some(cell), false) => cell.write_encoded_json(out),
    }
    write_stamp_tail(out, hlc, hash, form);
    out.push(']');
}

fn write_map<T>(
    out: &mut String,
    stamp: &Stamp<IndexMap<String, T>>,
    form: JsonForm,
    child: impl FnMut(&mut String, &T),
) {
    let entries = stamp.thing.iter().map(|(k, v)| (k.as_str(), v)).collect();
    write_map_parts(out, entries, &stamp.hlc, stamp.hash, form, child);
}

fn write_leaf(out: &mut String, stamp: &CellStamp, form: JsonForm) {
    write_leaf_parts(out, stamp.thing.as_ref(), &stamp.hlc, stamp.hash, form);
}

/// Appends a TablesStamp alone (a synchronizer's diff response) in the given form.
///
/// ```
/// use tinystore_core::MergeableStore;
/// use tinystore_core::mergeable::content::write_tables_stamp;
/// use tinystore_core::mergeable::{JsonForm, TableHashes};
/// let store = MergeableStore::with_clock(Some("client1"), Box::new(|| 1_700_000_000_000));
/// store.set_cell("pets", "fido", "legs", 4);
/// let (new_tables, _) = store.get_mergeable_table_diff(&TableHashes::new());
/// let mut out = String::new();
/// write_tables_stamp(&mut out, &new_tables, JsonForm::CHANGES);
/// assert_eq!(out, r#"[{"pets":[{"fido":[{"legs":[4,"NjEtLV-----mmxrx"]}]}]}]"#);
/// ```
pub fn write_tables_stamp(out: &mut String, tables: &TablesStamp, form: JsonForm) {
    write_map(out, tables, form, |out, table| {
        write_map(out, table, form, |out, row| {
            write_map(out, row, form, |out, cell| write_leaf(out, cell, form))
        })
    });
}

/// Appends a ValuesStamp alone in the given form.
///
/// ```
/// use tinystore_core::MergeableStore;
/// use tinystore_core::mergeable::content::write_values_stamp;
/// use tinystore_core::mergeable::{JsonForm, ValueHashes};
/// let store = MergeableStore::with_clock(Some("client1"), Box::new(|| 1_700_000_000_000));
/// store.set_value("open", true);
/// let diff = store.get_mergeable_value_diff(&ValueHashes::new());
/// let mut out = String::new();
/// write_values_stamp(&mut out, &diff, JsonForm::CHANGES);
/// assert_eq!(out, r#"[{"open":[true,"NjEtLV-----mmxrx"]}]"#);
/// ```
pub fn write_values_stamp(out: &mut String, values: &ValuesStamp, form: JsonForm) {
    write_map(out, values, form, |out, value| write_leaf(out, value, form));
}

/// A stamp's HLC as stored: `""` or a valid HLC (checked by validation beforehand).
pub(crate) fn stamp_hlc(s: &str) -> Hlc {
    Hlc::parse(s).unwrap_or(Hlc::EMPTY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uint32_like_javascript() {
        assert_eq!(to_uint32(1.5), 1);
        assert_eq!(to_uint32(-1.0), u32::MAX);
        assert_eq!(to_uint32(4_294_967_296.0 + 5.0), 5);
    }

    #[test]
    fn rejects_bad_shapes() {
        let max = u64::MAX;
        for bad in [
            "{}",
            "[]",
            "[[{}],[{}],2]",
            "[[{}]]",
            "[[{\"t\":5}],[{}]]",
            "[[{\"t\":[{\"r\":[{\"c\":[1,\"bad\"]}]}]}],[{}],1]",
            "[[{}],[{\"v\":[\"\u{FFFD}nope\",\"\"]}],1]",
            "[[{}],[{\"v\":[1,\"\",\"x\"]}],1]",
            "[[{}],[{\"v\":[1,\"\",1,4]}],1]",
        ] {
            assert!(
                MergeableContent::from_json_str(bad, false, max).is_err(),
                "{bad}"
            );
        }
        // Hash-less stamps are fine for changes, not for content.
        let changes = "[[{}],[{\"v\":[1]}],1]";
        assert!(MergeableContent::from_json_str(changes, false, max).is_ok());
        assert!(
            MergeableContent::from_json_str("[[{},\"\",0],[{\"v\":[1]},\"\",0]]", true, max)
                .is_err()
        );
    }

    #[test]
    fn future_hlc_is_rejected() {
        let json = "[[{}],[{\"v\":[1,\"NjEtLV-----mmxrx\"]}],1]";
        assert!(MergeableContent::from_json_str(json, false, 1_700_000_000_000).is_ok());
        let err = MergeableContent::from_json_str(json, false, 1_699_999_999_999).unwrap_err();
        assert_eq!(
            err,
            MergeableError::FutureHlc {
                hlc: "NjEtLV-----mmxrx".into(),
                ahead_ms: MAX_FUTURE_OFFSET_MS + 1,
            }
        );
        assert_eq!(
            err.to_string(),
            "HLC \"NjEtLV-----mmxrx\" is more than 5 minutes ahead of this clock (by 5 min \
             0.001 s: the writer's clock is fast or this one is slow)"
        );
        let malformed = "[[{}],[{\"v\":[1,\"NjEtLV-----mmxr!\"]}],1]";
        assert_eq!(
            MergeableContent::from_json_str(malformed, false, u64::MAX),
            Err(MergeableError::Hlc("NjEtLV-----mmxr!".into()))
        );
    }

    #[test]
    fn renders_forms() {
        let json = "[[{\"t\":[{\"1\":[{\"o\":[\"\u{FFFD}{\\\"b\\\":1, \\\"2\\\":0}\",\"NjEtLV-----mmxrx\"],\"d\":[\"\u{FFFC}\",\"NjEtLV----0mmxrx\"]}],\"0\":[{\"c\":[null]}]}]}],[{}],1]";
        let c = MergeableContent::from_json_str(json, false, u64::MAX).unwrap();
        assert_eq!(
            c.to_json_string(JsonForm::CHANGES),
            "[[{\"t\":[{\"0\":[{\"c\":[null]}],\"1\":[{\"o\":[\"\u{FFFD}{\\\"b\\\":1, \\\"2\\\":0}\",\"NjEtLV-----mmxrx\"],\"d\":[\"\u{FFFC}\",\"NjEtLV----0mmxrx\"]}]}]}],[{}],1]"
        );
        let public = JsonForm {
            hashes: false,
            changes: true,
            encoded: false,
        };
        assert_eq!(
            c.to_json_string(public),
            "[[{\"t\":[{\"0\":[{\"c\":[null]}],\"1\":[{\"o\":[{\"2\":0,\"b\":1},\"NjEtLV-----mmxrx\"],\"d\":[null,\"NjEtLV----0mmxrx\"]}]}]}],[{}],1]"
        );
    }
}
