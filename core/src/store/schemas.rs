//! Tables and values schemas: setting, deleting and reading them.

use std::sync::Arc;

use crate::content;
use crate::json;
use crate::schema::{TablesSchema, ValuesSchema};

use super::state::Undo;
use super::{Store, StoreError};

impl Store {
    // ------------------------------------------------------------------ schemas

    /// Sets the TablesSchema and re-validates every table through it.
    ///
    /// ```
    /// use tinystore_core::{Cell, Store, TablesSchema};
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "legs", "four");
    /// let schema = TablesSchema::from_json(&serde_json::json!({
    ///     "pets": {"legs": {"type": "number", "default": 4}}
    /// }))
    /// .unwrap();
    /// store.set_tables_schema(schema);
    /// // The existing invalid cell was replaced by the default.
    /// assert_eq!(store.get_cell("pets", "fido", "legs"), Some(Cell::Number(4.0)));
    /// ```
    pub fn set_tables_schema(&self, schema: TablesSchema) -> &Self {
        self.transaction(|store| {
            let tables = store.get_tables();
            store.with_mut(|s| {
                let old = s.tables_schema.replace(Arc::new(schema));
                s.undo.push(Undo::TablesSchema(old));
            });
            if !tables.is_empty() {
                store.del_tables();
                store.set_tables(&tables);
            }
        });
        self
    }

    /// Parses and sets a TablesSchema from JSON.
    ///
    /// ```
    /// use tinystore_core::{Store, StoreError};
    /// let store = Store::new();
    /// store.set_tables_schema_json(r#"{"pets": {"sold": {"type": "boolean"}}}"#)?;
    /// store.set_cell("pets", "fido", "sold", "no");
    /// assert!(!store.has_row("pets", "fido"));
    /// let err = store.set_tables_schema_json(r#"{"pets": {"sold": {"type": "date"}}}"#);
    /// assert!(matches!(err, Err(StoreError::Schema(_))));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_tables_schema_json(&self, json: &str) -> Result<&Self, StoreError> {
        let parsed = content::parse_json(json)?;
        let schema = TablesSchema::from_json(&parsed)
            .ok_or_else(|| StoreError::Schema("no valid table schema".into()))?;
        Ok(self.set_tables_schema(schema))
    }

    /// Sets the ValuesSchema and re-validates the values through it. As in TinyBase, the
    /// values are deleted without a schema (so not reset to defaults) and set again through
    /// the new one, which also fills in its defaults when there were no values at all.
    ///
    /// ```
    /// use tinystore_core::{Cell, Store, ValuesSchema};
    /// let store = Store::new();
    /// store.set_value("open", true).set_value("limit", "none");
    /// let schema = ValuesSchema::from_json(&serde_json::json!({
    ///     "open": {"type": "boolean"}, "limit": {"type": "number"}
    /// }))
    /// .unwrap();
    /// store.set_values_schema(schema);
    /// assert_eq!(store.get_value("open"), Some(Cell::Boolean(true)));
    /// assert!(!store.has_value("limit"));
    /// ```
    pub fn set_values_schema(&self, schema: ValuesSchema) -> &Self {
        self.transaction(|store| {
            let values = store.get_values();
            store.with_mut(|s| {
                let old = s.values_schema.take();
                s.undo.push(Undo::ValuesSchema(old));
            });
            store.del_values();
            store.with_mut(|s| s.values_schema = Some(Arc::new(schema)));
            store.set_values(&values);
        });
        self
    }

    /// Parses and sets a ValuesSchema from JSON.
    ///
    /// ```
    /// use tinystore_core::{Cell, Store};
    /// let store = Store::new();
    /// store.set_values_schema_json(r#"{"limit": {"type": "number", "default": 10}}"#)?;
    /// assert_eq!(store.get_value("limit"), Some(Cell::Number(10.0)));
    /// assert!(store.set_values_schema_json("not json").is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_values_schema_json(&self, json: &str) -> Result<&Self, StoreError> {
        let parsed = content::parse_json(json)?;
        let schema = ValuesSchema::from_json(&parsed)
            .ok_or_else(|| StoreError::Schema("no valid value schema".into()))?;
        Ok(self.set_values_schema(schema))
    }

    /// Sets both schemas (`setSchema(tablesSchema, valuesSchema?)`).
    ///
    /// ```
    /// use serde_json::json;
    /// use tinystore_core::{Store, TablesSchema, ValuesSchema};
    /// let store = Store::new();
    /// let tables = TablesSchema::from_json(&json!({"pets": {"n": {"type": "number"}}})).unwrap();
    /// let values = ValuesSchema::from_json(&json!({"open": {"type": "boolean"}})).unwrap();
    /// store.set_schema(tables, Some(values));
    /// assert!(store.has_tables_schema() && store.has_values_schema());
    /// ```
    pub fn set_schema(&self, tables: TablesSchema, values: Option<ValuesSchema>) -> &Self {
        self.transaction(|s| {
            s.set_tables_schema(tables);
            if let Some(values) = values {
                s.set_values_schema(values);
            }
        });
        self
    }

    /// Removes the TablesSchema (data is kept).
    ///
    /// ```
    /// use tinystore_core::{Cell, Store};
    /// let store = Store::new();
    /// store.set_tables_schema_json(r#"{"pets": {"n": {"type": "number"}}}"#)?;
    /// store.set_cell("pets", "fido", "n", 4);
    /// store.del_tables_schema();
    /// assert!(!store.has_tables_schema());
    /// assert_eq!(store.get_cell("pets", "fido", "n"), Some(Cell::Number(4.0)));
    /// // Without the schema, any type is accepted again.
    /// store.set_cell("pets", "fido", "n", "four");
    /// assert_eq!(store.get_cell("pets", "fido", "n"), Some(Cell::from("four")));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn del_tables_schema(&self) -> &Self {
        self.fluent(|s| {
            let old = s.tables_schema.take();
            s.undo.push(Undo::TablesSchema(old));
        })
    }

    /// Removes the ValuesSchema (data is kept).
    ///
    /// ```
    /// use tinystore_core::{Cell, Store};
    /// let store = Store::new();
    /// store.set_values_schema_json(r#"{"open": {"type": "boolean", "default": true}}"#)?;
    /// store.del_values_schema();
    /// assert!(!store.has_values_schema());
    /// assert_eq!(store.get_value("open"), Some(Cell::Boolean(true)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn del_values_schema(&self) -> &Self {
        self.fluent(|s| {
            let old = s.values_schema.take();
            s.undo.push(Undo::ValuesSchema(old));
        })
    }

    /// Removes both schemas.
    ///
    /// ```
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// store.set_tables_schema_json(r#"{"pets": {"n": {"type": "number"}}}"#)?;
    /// store.set_values_schema_json(r#"{"open": {"type": "boolean"}}"#)?;
    /// store.del_schema();
    /// assert_eq!(store.get_schema_json(), "[{},{}]");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn del_schema(&self) -> &Self {
        self.del_tables_schema().del_values_schema()
    }

    /// Whether a TablesSchema is set.
    ///
    /// ```
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// assert!(!store.has_tables_schema());
    /// store.set_tables_schema_json(r#"{"pets": {"n": {"type": "number"}}}"#)?;
    /// assert!(store.has_tables_schema());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn has_tables_schema(&self) -> bool {
        self.with(|s| s.tables_schema.is_some())
    }
    /// Whether a ValuesSchema is set.
    ///
    /// ```
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// assert!(!store.has_values_schema());
    /// store.set_values_schema_json(r#"{"open": {"type": "boolean"}}"#)?;
    /// assert!(store.has_values_schema());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn has_values_schema(&self) -> bool {
        self.with(|s| s.values_schema.is_some())
    }
    /// The TablesSchema as JSON (`{}` when none).
    ///
    /// ```
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// assert_eq!(store.get_tables_schema_json(), "{}");
    /// store.set_tables_schema_json(r#"{"pets": {"n": {"type": "number", "x": 1}}}"#)?;
    /// assert_eq!(store.get_tables_schema_json(), r#"{"pets":{"n":{"type":"number"}}}"#);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_tables_schema_json(&self) -> String {
        self.with(|s| {
            s.tables_schema
                .as_ref()
                .map_or_else(|| "{}".to_string(), |x| json::stringify(&x.to_json()))
        })
    }
    /// The ValuesSchema as JSON (`{}` when none).
    ///
    /// ```
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// assert_eq!(store.get_values_schema_json(), "{}");
    /// store.set_values_schema_json(r#"{"open": {"type": "boolean", "extra": 1}}"#)?;
    /// assert_eq!(store.get_values_schema_json(), r#"{"open":{"type":"boolean"}}"#);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_values_schema_json(&self) -> String {
        self.with(|s| {
            s.values_schema
                .as_ref()
                .map_or_else(|| "{}".to_string(), |x| json::stringify(&x.to_json()))
        })
    }
    /// `[tablesSchema, valuesSchema]` as JSON.
    ///
    /// ```
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// store.set_values_schema_json(r#"{"open": {"type": "boolean"}}"#)?;
    /// assert_eq!(store.get_schema_json(), r#"[{},{"open":{"type":"boolean"}}]"#);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_schema_json(&self) -> String {
        format!(
            "[{},{}]",
            self.get_tables_schema_json(),
            self.get_values_schema_json()
        )
    }
}
