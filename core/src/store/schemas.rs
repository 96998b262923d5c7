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
    pub fn set_tables_schema_json(&self, json: &str) -> Result<&Self, StoreError> {
        let parsed = content::parse_json(json)?;
        let schema = TablesSchema::from_json(&parsed)
            .ok_or_else(|| StoreError::Schema("no valid table schema".into()))?;
        Ok(self.set_tables_schema(schema))
    }

    /// Sets the ValuesSchema and re-validates the values through it. As in TinyBase, the
    /// values are deleted without a schema (so not reset to defaults) and set again through
    /// the new one, which also fills in its defaults when there were no values at all.
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
    pub fn set_values_schema_json(&self, json: &str) -> Result<&Self, StoreError> {
        let parsed = content::parse_json(json)?;
        let schema = ValuesSchema::from_json(&parsed)
            .ok_or_else(|| StoreError::Schema("no valid value schema".into()))?;
        Ok(self.set_values_schema(schema))
    }

    /// Sets both schemas (`setSchema(tablesSchema, valuesSchema?)`).
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
    pub fn del_tables_schema(&self) -> &Self {
        self.fluent(|s| {
            let old = s.tables_schema.take();
            s.undo.push(Undo::TablesSchema(old));
        })
    }

    /// Removes the ValuesSchema (data is kept).
    pub fn del_values_schema(&self) -> &Self {
        self.fluent(|s| {
            let old = s.values_schema.take();
            s.undo.push(Undo::ValuesSchema(old));
        })
    }

    /// Removes both schemas.
    pub fn del_schema(&self) -> &Self {
        self.del_tables_schema().del_values_schema()
    }

    /// Whether a TablesSchema is set.
    pub fn has_tables_schema(&self) -> bool {
        self.with(|s| s.tables_schema.is_some())
    }
    /// Whether a ValuesSchema is set.
    pub fn has_values_schema(&self) -> bool {
        self.with(|s| s.values_schema.is_some())
    }
    /// The TablesSchema as JSON (`{}` when none).
    pub fn get_tables_schema_json(&self) -> String {
        self.with(|s| {
            s.tables_schema
                .as_ref()
                .map_or_else(|| "{}".to_string(), |x| json::stringify(&x.to_json()))
        })
    }
    /// The ValuesSchema as JSON (`{}` when none).
    pub fn get_values_schema_json(&self) -> String {
        self.with(|s| {
            s.values_schema
                .as_ref()
                .map_or_else(|| "{}".to_string(), |x| json::stringify(&x.to_json()))
        })
    }
    /// `[tablesSchema, valuesSchema]` as JSON.
    pub fn get_schema_json(&self) -> String {
        format!(
            "[{},{}]",
            self.get_tables_schema_json(),
            self.get_values_schema_json()
        )
    }
}
