//! TinyBase's configuration of its database persisters (SQLite and PostgreSQL share it, spec
//! persist.md §3–4): JSON mode (one document in one row) and tabular mode (Store tables as
//! database tables), and TinyBase's identifier quoting.

/// JSON-mode configuration (TinyBase's `{mode: 'json', storeTableName, storeIdColumnName,
/// storeColumnName}`).
///
/// ```
/// use tinystore_core::persist::config::JsonConfig;
/// let config = JsonConfig { store_column: "doc".into(), ..JsonConfig::default() };
/// assert_eq!((config.table.as_str(), config.id_column.as_str()), ("tinybase", "_id"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonConfig {
    /// The table holding the document (default `tinybase`; dotted names address attached
    /// schemas).
    pub table: String,
    /// Its row-id column (default `_id`).
    pub id_column: String,
    /// Its document column (default `store`).
    pub store_column: String,
}

impl Default for JsonConfig {
    fn default() -> Self {
        JsonConfig {
            table: "tinybase".into(),
            id_column: "_id".into(),
            store_column: "store".into(),
        }
    }
}

impl JsonConfig {
    /// The default configuration with another table name (TinyBase's string config).
    ///
    /// ```
    /// use tinystore_core::persist::config::JsonConfig;
    /// let config = JsonConfig::table("pets");
    /// assert_eq!(config.table, "pets");
    /// assert_eq!(config.store_column, JsonConfig::default().store_column);
    /// ```
    pub fn table(name: impl Into<String>) -> JsonConfig {
        JsonConfig {
            table: name.into(),
            ..JsonConfig::default()
        }
    }
}

/// TinyBase's identifier quoting: each `.`-separated part in double quotes, `"` doubled.
///
/// ```
/// use tinystore_core::persist::config::quote_identifier;
/// assert_eq!(quote_identifier("pets"), r#""pets""#);
/// assert_eq!(quote_identifier("main.my\"pets"), r#""main"."my""pets""#);
/// ```
pub fn quote_identifier(name: &str) -> String {
    name.split('.')
        .map(|part| format!("\"{}\"", part.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(".")
}

/// Which rows and columns of a database table load into a Store table (TinyBase's
/// `tables.load` entry).
///
/// ```
/// use tinystore_core::persist::config::{TableLoad, TabularConfig};
/// let mut config = TabularConfig::tables(&["pets"]);
/// // Only the dogs of the database table `animals` load into the Store table `pets`.
/// config.load = vec![TableLoad {
///     db_table: "animals".into(),
///     table_id: "pets".into(),
///     row_id_column: "_id".into(),
///     condition: Some("$tableName.species = 'dog'".into()),
/// }];
/// assert_eq!(config.load[0].table_id, config.save[0].table_id);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableLoad {
    /// The database table.
    pub db_table: String,
    /// The Store table it loads into.
    pub table_id: String,
    /// The column holding row ids (default `_id`).
    pub row_id_column: String,
    /// An SQL condition selecting the rows (`$tableName` stands for the quoted table name);
    /// `None` for all rows.
    pub condition: Option<String>,
}

/// Where a Store table is saved (TinyBase's `tables.save` entry).
///
/// ```
/// use tinystore_core::persist::config::TabularConfig;
/// let mut config = TabularConfig::tables(&["pets"]);
/// config.save[0].db_table = "animals".into();
/// config.save[0].delete_empty_table = true;
/// assert_eq!(config.save[0].table_id, "pets");
/// assert_eq!(config.save[0].row_id_column, "_id");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableSave {
    /// The Store table.
    pub table_id: String,
    /// The database table.
    pub db_table: String,
    /// The column holding row ids (default `_id`).
    pub row_id_column: String,
    /// Drop columns no row uses any more (full saves only).
    pub delete_empty_columns: bool,
    /// Drop the database table when the Store table is empty (else its rows are deleted).
    pub delete_empty_table: bool,
    /// The rows a save may delete; defaults to the load condition of the same database table.
    pub condition: Option<String>,
}

/// Which Values load or save.
///
/// ```
/// use tinystore_core::persist::config::{TabularConfig, ValueSelection};
/// let config = TabularConfig {
///     values_save: ValueSelection::Only(vec!["theme".into()]),
///     ..TabularConfig::default()
/// };
/// assert_eq!(config.values_load, ValueSelection::None);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ValueSelection {
    /// None.
    #[default]
    None,
    /// All.
    All,
    /// Only these ids.
    Only(Vec<String>),
}

impl ValueSelection {
    #[cfg(feature = "sqlite")]
    pub(crate) fn includes(&self, id: &str) -> bool {
        match self {
            ValueSelection::None => false,
            ValueSelection::All => true,
            ValueSelection::Only(ids) => ids.iter().any(|v| v == id),
        }
    }
}

/// Tabular-mode configuration (spec persist.md §4).
///
/// ```
/// use tinystore_core::persist::config::{SqlMode, TabularConfig};
/// let config = TabularConfig::default();
/// assert!(config.load.is_empty() && config.save.is_empty());
/// assert_eq!(config.values_table, "tinybase_values");
/// assert!(matches!(SqlMode::from(config), SqlMode::Tabular(_)));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TabularConfig {
    /// Database tables loaded, each into a Store table.
    pub load: Vec<TableLoad>,
    /// Store tables saved, each into a database table.
    pub save: Vec<TableSave>,
    /// Values loaded.
    pub values_load: ValueSelection,
    /// Values saved.
    pub values_save: ValueSelection,
    /// The Values table (default `tinybase_values`).
    pub values_table: String,
}

impl Default for TabularConfig {
    fn default() -> Self {
        TabularConfig {
            load: Vec::new(),
            save: Vec::new(),
            values_load: ValueSelection::None,
            values_save: ValueSelection::None,
            values_table: "tinybase_values".into(),
        }
    }
}

impl TabularConfig {
    /// Loads and saves each named table under its own name, and all Values.
    ///
    /// ```
    /// use tinystore_core::persist::config::{TabularConfig, ValueSelection};
    /// let config = TabularConfig::tables(&["pets", "species"]);
    /// assert_eq!(config.load[1].db_table, "species");
    /// assert_eq!(config.save[0].table_id, "pets");
    /// assert_eq!(config.values_save, ValueSelection::All);
    /// ```
    pub fn tables<S: AsRef<str>>(ids: &[S]) -> TabularConfig {
        TabularConfig {
            load: ids
                .iter()
                .map(|id| TableLoad {
                    db_table: id.as_ref().into(),
                    table_id: id.as_ref().into(),
                    row_id_column: "_id".into(),
                    condition: None,
                })
                .collect(),
            save: ids
                .iter()
                .map(|id| TableSave {
                    table_id: id.as_ref().into(),
                    db_table: id.as_ref().into(),
                    row_id_column: "_id".into(),
                    delete_empty_columns: false,
                    delete_empty_table: false,
                    condition: None,
                })
                .collect(),
            values_load: ValueSelection::All,
            values_save: ValueSelection::All,
            values_table: "tinybase_values".into(),
        }
    }
}

/// The layout of a store in the database.
///
/// ```
/// use tinystore_core::persist::config::{JsonConfig, SqlMode};
/// let mode: SqlMode = JsonConfig::table("pets").into();
/// assert_eq!(mode, SqlMode::Json(JsonConfig::table("pets")));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SqlMode {
    /// One JSON document.
    Json(JsonConfig),
    /// Tables, rows and columns.
    Tabular(TabularConfig),
}

impl From<JsonConfig> for SqlMode {
    fn from(c: JsonConfig) -> Self {
        SqlMode::Json(c)
    }
}

impl From<TabularConfig> for SqlMode {
    fn from(c: TabularConfig) -> Self {
        SqlMode::Tabular(c)
    }
}
