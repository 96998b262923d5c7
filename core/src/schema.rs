//! TablesSchema and ValuesSchema: parsing with TinyBase's clean-up rules, and cell validation.
//!
//! Setting a schema never fails loudly in TinyBase: invalid entries are dropped and invalid
//! defaults removed. [`TablesSchema::from_json`] and [`ValuesSchema::from_json`] apply the same
//! rules and return `None` only when nothing valid is left (TinyBase then ignores the call).

use serde_json::{Map, Value as Json};

use crate::ordmap::OrdMap;
use crate::types::{Cell, CellType, Text, is_reserved_string};

/// What a cell must be: one of some types, or one of some enumerated values.
///
/// ```
/// use tinystore_core::schema::{CellSchema, SchemaKind};
/// use tinystore_core::{Cell, CellType};
/// let typed = CellSchema::from_json(&serde_json::json!({"type": ["number", "string"]})).unwrap();
/// assert_eq!(typed.kind, SchemaKind::Types(vec![CellType::Number, CellType::String]));
/// let listed = CellSchema::from_json(&serde_json::json!({"enum": ["S", "M"]})).unwrap();
/// assert_eq!(listed.kind, SchemaKind::Enum(vec![Cell::from("S"), Cell::from("M")]));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum SchemaKind {
    /// `type`: one type or a union of types.
    Types(Vec<CellType>),
    /// `enum`: one of these strings, numbers or booleans.
    Enum(Vec<Cell>),
}

/// The schema of one Cell or Value.
///
/// ```
/// use tinystore_core::{Cell, CellSchema};
/// let schema = CellSchema::from_json(&serde_json::json!({
///     "type": "number", "default": 0, "allowNull": true
/// }))
/// .unwrap();
/// assert_eq!(schema.default, Some(Cell::Number(0.0)));
/// assert!(schema.allow_null && !schema.required);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct CellSchema {
    /// The accepted types or values.
    pub kind: SchemaKind,
    /// The value used when a cell is missing, invalid or deleted.
    pub default: Option<Cell>,
    /// Whether `null` is accepted.
    pub allow_null: bool,
    /// Whether a full row write without this cell is rejected.
    pub required: bool,
    /// The cleaned JSON of this entry, as `getTablesSchemaJson` prints it.
    json: Map<String, Json>,
}

/// The outcome of checking one cell against its schema.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Checked {
    /// The cell is acceptable as it is.
    Valid,
    /// The cell is invalid; store the default instead if there is one.
    Invalid(Option<Cell>),
}

impl CellSchema {
    /// Parses one entry, applying TinyBase's rules; `None` when the entry is invalid.
    ///
    /// ```
    /// use serde_json::json;
    /// use tinystore_core::CellSchema;
    /// assert!(CellSchema::from_json(&json!({"type": "string"})).is_some());
    /// // Unknown types, and entries with both `type` and `enum`, are invalid.
    /// assert!(CellSchema::from_json(&json!({"type": "date"})).is_none());
    /// assert!(CellSchema::from_json(&json!({"type": "string", "enum": ["a"]})).is_none());
    /// // A default of the wrong type is dropped, the entry kept.
    /// let schema = CellSchema::from_json(&json!({"type": "string", "default": 3})).unwrap();
    /// assert_eq!(schema.default, None);
    /// ```
    pub fn from_json(json: &Json) -> Option<CellSchema> {
        let obj = json.as_object()?;
        if obj.is_empty() {
            return None;
        }
        let mut cleaned = Map::new();
        let mut kind = None;
        let mut allow_null = false;
        let mut required = false;
        let mut default_json = None;
        for (key, value) in obj {
            match key.as_str() {
                "type" => {
                    if kind.is_some() {
                        return None;
                    }
                    kind = Some(SchemaKind::Types(parse_types(value)?));
                }
                "enum" => {
                    if kind.is_some() {
                        return None;
                    }
                    kind = Some(SchemaKind::Enum(parse_enum(value)?));
                }
                "allowNull" => allow_null = value.as_bool()?,
                "required" => required = value.as_bool()?,
                "default" => default_json = Some(value),
                // TinyBase 10.0.1 strips unknown keys and keeps the entry.
                _ => continue,
            }
            cleaned.insert(key.clone(), value.clone());
        }
        let kind = kind?;
        let mut schema = CellSchema {
            kind,
            default: None,
            allow_null,
            required,
            json: cleaned,
        };
        if let Some(default) = default_json {
            if default.is_null() {
                if !allow_null {
                    return None;
                }
                schema.default = Some(Cell::Null);
            } else {
                let cell = Cell::from_json(default.clone());
                if cell.is_valid() && schema.matches(&cell) {
                    schema.default = Some(cell);
                } else {
                    schema.json.remove("default");
                }
            }
        }
        Some(schema)
    }

    /// Whether a non-null cell has an accepted type or is an enumerated value.
    ///
    /// ```
    /// use tinystore_core::{Cell, CellSchema};
    /// let size = CellSchema::from_json(&serde_json::json!({"enum": ["S", "M", "L"]})).unwrap();
    /// assert!(size.matches(&Cell::from("M")));
    /// assert!(!size.matches(&Cell::from("XL")));
    /// assert!(!size.matches(&Cell::from(1)));
    /// ```
    pub fn matches(&self, cell: &Cell) -> bool {
        match &self.kind {
            SchemaKind::Types(types) => cell.cell_type().is_some_and(|t| types.contains(&t)),
            SchemaKind::Enum(values) => values.iter().any(|v| v == cell),
        }
    }

    pub(crate) fn check(&self, cell: &Cell) -> Checked {
        let ok = if cell.is_null() {
            self.allow_null
        } else {
            self.matches(cell)
        };
        if ok {
            Checked::Valid
        } else {
            Checked::Invalid(self.default.clone())
        }
    }

    /// The cleaned JSON of this entry.
    ///
    /// ```
    /// use serde_json::json;
    /// use tinystore_core::CellSchema;
    /// let schema = CellSchema::from_json(&json!({"type": "string", "extra": 1})).unwrap();
    /// assert_eq!(schema.to_json(), json!({"type": "string"}));
    /// ```
    pub fn to_json(&self) -> Json {
        Json::Object(self.json.clone())
    }
}

fn parse_types(value: &Json) -> Option<Vec<CellType>> {
    match value {
        Json::String(s) => Some(vec![CellType::parse(s)?]),
        Json::Array(items) if !items.is_empty() => items
            .iter()
            .map(|t| t.as_str().and_then(CellType::parse))
            .collect(),
        _ => None,
    }
}

fn parse_enum(value: &Json) -> Option<Vec<Cell>> {
    let items = value.as_array()?;
    if items.is_empty() {
        return None;
    }
    items
        .iter()
        .map(|item| match item {
            Json::String(s) if !is_reserved_string(s) => Some(Cell::String(s.as_str().into())),
            Json::Number(n) => n.as_f64().filter(|f| f.is_finite()).map(Cell::Number),
            Json::Bool(b) => Some(Cell::Boolean(*b)),
            _ => None,
        })
        .collect()
}

/// The schemas of the cells of one table (or of the Values), in declaration order.
///
/// ```
/// use tinystore_core::TablesSchema;
/// let schema = TablesSchema::from_json(&serde_json::json!({
///     "pets": {"species": {"type": "string"}, "legs": {"type": "number"}}
/// }))
/// .unwrap();
/// let pets = schema.table("pets").unwrap();
/// assert_eq!(pets.cells().map(|(id, _)| id).collect::<Vec<_>>(), ["species", "legs"]);
/// ```
#[derive(Clone, Debug, Default)]
pub struct TableSchema {
    cells: OrdMap<Text, CellSchema>,
    /// Cells with a default, in declaration order, for full writes.
    defaults: Vec<(Text, Cell)>,
    /// Cells without a default, in declaration order.
    non_defaulted: Vec<(Text, bool)>,
}

impl TableSchema {
    fn from_json(json: &Json) -> Option<TableSchema> {
        let obj = json.as_object()?;
        let mut schema = TableSchema::default();
        for (cell_id, entry) in obj {
            if let Some(cell_schema) = CellSchema::from_json(entry) {
                match &cell_schema.default {
                    Some(default) => schema.defaults.push((cell_id.into(), default.clone())),
                    None => schema
                        .non_defaulted
                        .push((cell_id.into(), cell_schema.required)),
                }
                schema.cells.insert(cell_id.into(), cell_schema);
            }
        }
        (!schema.cells.is_empty()).then_some(schema)
    }

    /// The schema of one cell id.
    ///
    /// ```
    /// use tinystore_core::TablesSchema;
    /// let schema = TablesSchema::from_json(&serde_json::json!({
    ///     "pets": {"sold": {"type": "boolean", "required": true}}
    /// }))
    /// .unwrap();
    /// let pets = schema.table("pets").unwrap();
    /// assert!(pets.cell("sold").unwrap().required);
    /// assert!(pets.cell("price").is_none());
    /// ```
    pub fn cell(&self, cell_id: &str) -> Option<&CellSchema> {
        self.cells.get(cell_id)
    }

    /// Cell ids and their schemas, in declaration order.
    ///
    /// ```
    /// use tinystore_core::TablesSchema;
    /// let schema = TablesSchema::from_json(&serde_json::json!({
    ///     "pets": {"b": {"type": "string"}, "a": {"type": "number", "default": 1}}
    /// }))
    /// .unwrap();
    /// let cells: Vec<_> = schema.table("pets").unwrap().cells().collect();
    /// assert_eq!(cells.len(), 2);
    /// assert_eq!((cells[0].0, cells[1].0), ("b", "a"));
    /// assert!(cells[1].1.default.is_some());
    /// ```
    pub fn cells(&self) -> impl Iterator<Item = (&str, &CellSchema)> {
        self.cells.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub(crate) fn defaults(&self) -> &[(Text, Cell)] {
        &self.defaults
    }

    /// Cell ids without a default, with their `required` flag.
    pub(crate) fn non_defaulted(&self) -> &[(Text, bool)] {
        &self.non_defaulted
    }

    fn to_json(&self) -> Json {
        Json::Object(
            self.cells
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_json()))
                .collect(),
        )
    }
}

/// A TablesSchema: `{tableId: {cellId: CellSchema}}`.
///
/// ```
/// use tinystore_core::TablesSchema;
/// let schema = TablesSchema::from_json(&serde_json::json!({
///     "pets": {"species": {"type": "string"}, "sold": {"type": "boolean", "default": false}}
/// }))
/// .unwrap();
/// assert!(schema.table("pets").unwrap().cell("sold").is_some());
/// ```
#[derive(Clone, Debug, Default)]
pub struct TablesSchema {
    tables: OrdMap<Text, TableSchema>,
}

impl TablesSchema {
    /// Parses and cleans a TablesSchema; `None` if nothing valid remains.
    ///
    /// ```
    /// use serde_json::json;
    /// use tinystore_core::TablesSchema;
    /// assert!(TablesSchema::from_json(&json!({"t": {"c": {"type": "date"}}})).is_none());
    /// let schema = TablesSchema::from_json(&json!({
    ///     "bad": {"c": {"type": "date"}},
    ///     "good": {"c": {"type": "string"}}
    /// }))
    /// .unwrap();
    /// assert!(schema.table("bad").is_none() && schema.table("good").is_some());
    /// ```
    pub fn from_json(json: &Json) -> Option<TablesSchema> {
        let obj = json.as_object()?;
        let mut schema = TablesSchema::default();
        for (table_id, table) in obj {
            if let Some(table_schema) = TableSchema::from_json(table) {
                schema.tables.insert(table_id.into(), table_schema);
            }
        }
        (!schema.tables.is_empty()).then_some(schema)
    }

    /// The schema of one table.
    ///
    /// ```
    /// use tinystore_core::TablesSchema;
    /// let json = serde_json::json!({"pets": {"n": {"type": "number"}}});
    /// let schema = TablesSchema::from_json(&json).unwrap();
    /// assert!(schema.table("pets").is_some());
    /// assert!(schema.table("owners").is_none());
    /// ```
    pub fn table(&self, table_id: &str) -> Option<&TableSchema> {
        self.tables.get(table_id)
    }

    /// The cleaned schema as JSON.
    ///
    /// ```
    /// use serde_json::json;
    /// use tinystore_core::TablesSchema;
    /// let schema = TablesSchema::from_json(&json!({
    ///     "pets": {"n": {"type": "number", "default": "x"}, "bad": {"type": "date"}}
    /// }))
    /// .unwrap();
    /// assert_eq!(schema.to_json(), json!({"pets": {"n": {"type": "number"}}}));
    /// ```
    pub fn to_json(&self) -> Json {
        Json::Object(
            self.tables
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_json()))
                .collect(),
        )
    }
}

/// A ValuesSchema: `{valueId: ValueSchema}`.
///
/// ```
/// use tinystore_core::{Cell, Store, ValuesSchema};
/// let json = serde_json::json!({"open": {"type": "boolean", "default": true}});
/// let schema = ValuesSchema::from_json(&json).unwrap();
/// let store = Store::new();
/// store.set_values_schema(schema);
/// assert_eq!(store.get_value("open"), Some(Cell::Boolean(true)));
/// ```
#[derive(Clone, Debug, Default)]
pub struct ValuesSchema {
    values: TableSchema,
}

impl ValuesSchema {
    /// Parses and cleans a ValuesSchema; `None` if nothing valid remains.
    ///
    /// ```
    /// use serde_json::json;
    /// use tinystore_core::ValuesSchema;
    /// assert!(ValuesSchema::from_json(&json!({"open": {"type": "boolean"}})).is_some());
    /// assert!(ValuesSchema::from_json(&json!({"open": {}})).is_none());
    /// assert!(ValuesSchema::from_json(&json!([])).is_none());
    /// ```
    pub fn from_json(json: &Json) -> Option<ValuesSchema> {
        TableSchema::from_json(json).map(|values| ValuesSchema { values })
    }

    /// The schema of one value id.
    ///
    /// ```
    /// use tinystore_core::{Cell, ValuesSchema};
    /// let json = serde_json::json!({"limit": {"type": "number", "default": 10}});
    /// let schema = ValuesSchema::from_json(&json).unwrap();
    /// assert_eq!(schema.value("limit").unwrap().default, Some(Cell::Number(10.0)));
    /// assert!(schema.value("other").is_none());
    /// ```
    pub fn value(&self, value_id: &str) -> Option<&CellSchema> {
        self.values.cell(value_id)
    }

    pub(crate) fn as_table(&self) -> &TableSchema {
        &self.values
    }

    /// The cleaned schema as JSON.
    ///
    /// ```
    /// use serde_json::json;
    /// use tinystore_core::ValuesSchema;
    /// let json = json!({"open": {"type": "boolean", "unknown": 1}});
    /// let schema = ValuesSchema::from_json(&json).unwrap();
    /// assert_eq!(schema.to_json(), json!({"open": {"type": "boolean"}}));
    /// ```
    pub fn to_json(&self) -> Json {
        self.values.to_json()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn entry_rules() {
        assert!(CellSchema::from_json(&json!({"type": "string"})).is_some());
        assert!(CellSchema::from_json(&json!({"type": ["number", "string"]})).is_some());
        assert!(CellSchema::from_json(&json!({"type": []})).is_none());
        assert!(CellSchema::from_json(&json!({"type": "date"})).is_none());
        assert!(CellSchema::from_json(&json!({"enum": ["a", 1, true]})).is_some());
        assert!(CellSchema::from_json(&json!({"enum": [null]})).is_none());
        assert!(CellSchema::from_json(&json!({"enum": ["\u{FFFC}"]})).is_none());
        assert!(CellSchema::from_json(&json!({"type": "string", "enum": ["a"]})).is_none());
        assert!(CellSchema::from_json(&json!({"default": 1})).is_none());
        let s = CellSchema::from_json(&json!({"type": "string", "extra": 1})).unwrap();
        assert_eq!(s.to_json(), json!({"type": "string"}));
        assert!(CellSchema::from_json(&json!({"type": "string", "default": null})).is_none());
        let s =
            CellSchema::from_json(&json!({"type": "string", "default": null, "allowNull": true}))
                .unwrap();
        assert_eq!(s.default, Some(Cell::Null));
        let s = CellSchema::from_json(&json!({"type": "string", "default": 3})).unwrap();
        assert_eq!(s.default, None);
        assert_eq!(s.to_json(), json!({"type": "string"}));
        let s = CellSchema::from_json(&json!({"enum": ["a", "b"], "default": "z"})).unwrap();
        assert_eq!(s.default, None);
        let s = CellSchema::from_json(&json!({"type": "object", "default": {"a": 1}})).unwrap();
        assert_eq!(s.default, Some(Cell::Object("{\"a\":1}".into())));
    }

    #[test]
    fn checks() {
        let s = CellSchema::from_json(&json!({"type": ["number", "string"], "allowNull": true}))
            .unwrap();
        assert_eq!(s.check(&Cell::Null), Checked::Valid);
        assert_eq!(s.check(&Cell::from(1)), Checked::Valid);
        assert_eq!(s.check(&Cell::from(true)), Checked::Invalid(None));
        let s = CellSchema::from_json(&json!({"enum": ["a", "b"], "default": "a"})).unwrap();
        assert_eq!(
            s.check(&Cell::from("z")),
            Checked::Invalid(Some(Cell::from("a")))
        );
        assert_eq!(
            s.check(&Cell::Null),
            Checked::Invalid(Some(Cell::from("a")))
        );
    }

    #[test]
    fn tables_schema_prunes_invalid_tables() {
        assert!(TablesSchema::from_json(&json!({})).is_none());
        assert!(TablesSchema::from_json(&json!({"t": {"c": {"type": "x"}}})).is_none());
        let s = TablesSchema::from_json(&json!({
            "t": {"c": {"type": "x"}},
            "u": {"a": {"type": "number", "default": 1}, "b": {"type": "string", "required": true}}
        }))
        .unwrap();
        assert!(s.table("t").is_none());
        let u = s.table("u").unwrap();
        assert_eq!(u.defaults().len(), 1);
        assert_eq!(u.non_defaulted(), &[("b".into(), true)]);
        assert_eq!(
            s.to_json(),
            json!({"u": {"a": {"type": "number", "default": 1}, "b": {"type": "string", "required": true}}})
        );
    }
}
