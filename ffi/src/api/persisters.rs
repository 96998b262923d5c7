//! Persisters (SQLite, file, custom) and the status types persisters and synchronizers share.

use super::view_common::trapped;
use super::*;

/// A persister or synchronizer status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Status {
    /// Neither loading nor saving.
    Idle,
    /// Loading.
    Loading,
    /// Saving.
    Saving,
}

impl From<persist::Status> for Status {
    fn from(s: persist::Status) -> Self {
        match s {
            persist::Status::Idle => Status::Idle,
            persist::Status::Loading => Status::Loading,
            persist::Status::Saving => Status::Saving,
        }
    }
}

/// `{loads, saves}` of a persister or synchronizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct PersistStats {
    /// Loads so far.
    pub loads: u64,
    /// Saves so far.
    pub saves: u64,
}

impl From<persist::Stats> for PersistStats {
    fn from(s: persist::Stats) -> Self {
        PersistStats {
            loads: s.loads,
            saves: s.saves,
        }
    }
}

/// Told every status change of a persister or synchronizer.
#[uniffi::export(with_foreign)]
pub trait StatusListener: Send + Sync {
    /// The new status.
    fn on_status(&self, status: Status) -> Result<(), TinystoreError>;
}

/// Receives errors of background work (auto-load, auto-save), which have no caller.
#[uniffi::export(with_foreign)]
pub trait ErrorListener: Send + Sync {
    /// The error's message.
    fn on_error(&self, message: String) -> Result<(), TinystoreError>;
}

/// Storage implemented in the foreign language over TinyBase's JSON document (TinyBase's
/// `createCustomPersister` with `getPersisted`/`setPersisted`).
#[uniffi::export(with_foreign)]
pub trait PersisterStorage: Send + Sync {
    /// The stored document, `None` if nothing is stored yet.
    fn read(&self) -> Result<Option<String>, TinystoreError>;
    /// Stores a new document.
    fn write(&self, document: String) -> Result<(), TinystoreError>;
}

/// The layout of a store in an SQLite database.
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum SqliteConfig {
    /// TinyBase's JSON document in one row of one table (Stores and MergeableStores).
    Json {
        /// The table (default `tinybase`).
        table: String,
        /// Its id column (default `_id`).
        id_column: String,
        /// Its document column (default `store`).
        store_column: String,
    },
    /// One database table per Store table (plain Stores only).
    Tabular {
        /// Database tables loaded, each into a Store table.
        load: Vec<TableLoad>,
        /// Store tables saved, each into a database table.
        save: Vec<TableSave>,
        /// Values loaded: `None` none, `Some([])` all, else these ids.
        values_load: Option<Vec<String>>,
        /// Values saved: as `values_load`.
        values_save: Option<Vec<String>>,
        /// The values table (default `tinybase_values`).
        values_table: String,
    },
}

/// Which database table loads into which Store table.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct TableLoad {
    /// The database table.
    pub db_table: String,
    /// The Store table.
    pub table_id: String,
    /// The row-id column (default `_id`).
    #[uniffi(default = "_id")]
    pub row_id_column: String,
    /// An SQL condition selecting rows (`$tableName` is the quoted table).
    #[uniffi(default = None)]
    pub condition: Option<String>,
}

/// Where a Store table is saved.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct TableSave {
    /// The Store table.
    pub table_id: String,
    /// The database table.
    pub db_table: String,
    /// The row-id column (default `_id`).
    #[uniffi(default = "_id")]
    pub row_id_column: String,
    /// Drop columns no row uses (full saves).
    #[uniffi(default = false)]
    pub delete_empty_columns: bool,
    /// Drop the database table when the Store table is empty.
    #[uniffi(default = false)]
    pub delete_empty_table: bool,
    /// The rows a save may delete.
    #[uniffi(default = None)]
    pub condition: Option<String>,
}

/// The default JSON-mode configuration (table `tinybase`).
#[uniffi::export]
pub fn sqlite_json_config(table: Option<String>) -> SqliteConfig {
    let c = match table {
        Some(t) => persist::sqlite::SqliteJsonConfig::table(t),
        None => persist::sqlite::SqliteJsonConfig::default(),
    };
    SqliteConfig::Json {
        table: c.table,
        id_column: c.id_column,
        store_column: c.store_column,
    }
}

/// Tabular mode loading and saving each named Store table under its own name, and all values.
#[uniffi::export]
pub fn sqlite_tabular_config(table_ids: Vec<String>) -> SqliteConfig {
    let c = persist::sqlite::TabularConfig::tables(&table_ids);
    SqliteConfig::Tabular {
        load: c
            .load
            .into_iter()
            .map(|l| TableLoad {
                db_table: l.db_table,
                table_id: l.table_id,
                row_id_column: l.row_id_column,
                condition: l.condition,
            })
            .collect(),
        save: c
            .save
            .into_iter()
            .map(|s| TableSave {
                table_id: s.table_id,
                db_table: s.db_table,
                row_id_column: s.row_id_column,
                delete_empty_columns: s.delete_empty_columns,
                delete_empty_table: s.delete_empty_table,
                condition: s.condition,
            })
            .collect(),
        values_load: Some(vec![]),
        values_save: Some(vec![]),
        values_table: c.values_table,
    }
}

pub(crate) fn value_selection(v: Option<Vec<String>>) -> persist::sqlite::ValueSelection {
    use persist::sqlite::ValueSelection;
    match v {
        None => ValueSelection::None,
        Some(ids) if ids.is_empty() => ValueSelection::All,
        Some(ids) => ValueSelection::Only(ids),
    }
}

pub(crate) fn sqlite_mode(config: SqliteConfig) -> persist::sqlite::SqliteMode {
    use persist::sqlite as s;
    match config {
        SqliteConfig::Json {
            table,
            id_column,
            store_column,
        } => s::SqliteMode::Json(s::SqliteJsonConfig {
            table,
            id_column,
            store_column,
        }),
        SqliteConfig::Tabular {
            load,
            save,
            values_load,
            values_save,
            values_table,
        } => s::SqliteMode::Tabular(s::TabularConfig {
            load: load
                .into_iter()
                .map(|l| s::TableLoad {
                    db_table: l.db_table,
                    table_id: l.table_id,
                    row_id_column: l.row_id_column,
                    condition: l.condition,
                })
                .collect(),
            save: save
                .into_iter()
                .map(|t| s::TableSave {
                    table_id: t.table_id,
                    db_table: t.db_table,
                    row_id_column: t.row_id_column,
                    delete_empty_columns: t.delete_empty_columns,
                    delete_empty_table: t.delete_empty_table,
                    condition: t.condition,
                })
                .collect(),
            values_load: value_selection(values_load),
            values_save: value_selection(values_save),
            values_table,
        }),
    }
}

/// Keeps a store in an SQLite database (TinyBase's SQLite persisters; files interchangeable).
#[derive(Debug, uniffi::Object)]
pub struct SqlitePersister {
    pub(crate) inner: CorePersister,
    pub(crate) path: String,
}

/// Keeps a store in a JSON file (TinyBase's file persister; atomic writes).
#[derive(Debug, uniffi::Object)]
pub struct FilePersister {
    pub(crate) inner: CorePersister,
    pub(crate) path: String,
}

/// Keeps a store in storage the app implements ([`PersisterStorage`]).
#[derive(Debug, uniffi::Object)]
pub struct CustomPersister {
    pub(crate) inner: CorePersister,
}

/// An SQLite persister for `store` (a Store, or a MergeableStore's `as_store()`) in the
/// database file `path` (`:memory:` for an in-memory database); `config` defaults to JSON mode.
#[uniffi::export]
pub fn create_sqlite_persister(
    store: Arc<Store>,
    path: String,
    config: Option<SqliteConfig>,
) -> Result<Arc<SqlitePersister>, TinystoreError> {
    let mode = sqlite_mode(config.unwrap_or_else(|| sqlite_json_config(None)));
    let db = if path == ":memory:" {
        persist::sqlite::SqlitePersistence::open_in_memory(mode)?
    } else {
        persist::sqlite::SqlitePersistence::open(&path, mode)?
    };
    Ok(Arc::new(SqlitePersister {
        inner: CorePersister::try_new(&store.inner, db)?,
        path,
    }))
}

/// Keeps a store in PostgreSQL (TinyBase's `PostgresPersister`: the same tables, and auto-load
/// through `LISTEN`/`NOTIFY`, so TinyBase and tinystore see each other's writes at once).
#[derive(Debug, uniffi::Object)]
pub struct PostgresPersister {
    pub(crate) inner: CorePersister,
    pub(crate) url: String,
}

/// A PostgreSQL persister for `store` (a Store, or a MergeableStore's `as_store()`) in the
/// database at `url` (`postgres://user:password@host:port/dbname`); `config` defaults to JSON
/// mode in the table `tinybase`. Fails when the database cannot be reached.
#[uniffi::export]
pub fn create_postgres_persister(
    store: Arc<Store>,
    url: String,
    config: Option<SqliteConfig>,
) -> Result<Arc<PostgresPersister>, TinystoreError> {
    let mode = sqlite_mode(config.unwrap_or_else(|| sqlite_json_config(None)));
    let db = persist::postgres::PostgresPersistence::connect(&url, mode)?;
    Ok(Arc::new(PostgresPersister {
        inner: CorePersister::try_new(&store.inner, db)?,
        url,
    }))
}

/// A file persister for `store` (a Store, or a MergeableStore's `as_store()`) at `path`.
#[uniffi::export]
pub fn create_file_persister(store: Arc<Store>, path: String) -> Arc<FilePersister> {
    let file = persist::file::FilePersistence::new(&path);
    Arc::new(FilePersister {
        inner: CorePersister::new(&store.inner, file),
        path,
    })
}

/// A persister over foreign storage (TinyBase's `createCustomPersister`).
#[uniffi::export]
pub fn create_custom_persister(
    store: Arc<Store>,
    storage: Arc<dyn PersisterStorage>,
) -> Arc<CustomPersister> {
    let (r, w) = (storage.clone(), storage);
    let custom = persist::CustomPersistence::new(
        move || r.read().map_err(persist_error),
        move |doc: &str| w.write(doc.to_string()).map_err(persist_error),
    );
    Arc::new(CustomPersister {
        inner: CorePersister::new(&store.inner, custom),
    })
}

macro_rules! persister_api {
    ($ty:ident) => {
        persister_api!($ty, |_: &$ty| persist::DEFAULT_AUTO_LOAD_INTERVAL);
    };
    ($ty:ident, $default_interval:expr) => {
        #[uniffi::export]
        impl $ty {
            /// Loads the stored content into the store (blocks). With nothing stored,
            /// `initial` (`[tables, values]` JSON) is set. On error nothing changes and saves
            /// are refused until a load succeeds or `allow_overwrite` is called.
            pub fn load(&self, initial: Option<String>) -> Result<(), TinystoreError> {
                let initial = parse_initial(initial)?;
                trapped(|| self.inner.load(as_pair(&initial)))??;
                Ok(())
            }
            /// Saves the whole content (blocks until stored).
            pub fn save(&self) -> Result<(), TinystoreError> {
                self.inner.save()?;
                Ok(())
            }
            /// `load` on the shared runtime's blocking pool.
            pub async fn load_async(&self, initial: Option<String>) -> Result<(), TinystoreError> {
                let p = self.inner.clone();
                run_blocking(move || {
                    let initial = parse_initial(initial)?;
                    trapped(|| p.load(as_pair(&initial)))??;
                    Ok(())
                })
                .await
            }
            /// `save` on the shared runtime's blocking pool.
            pub async fn save_async(&self) -> Result<(), TinystoreError> {
                let p = self.inner.clone();
                run_blocking(move || {
                    p.save()?;
                    Ok(())
                })
                .await
            }
            /// Whether the last save failed, so the storage may lack some of the store's
            /// content (the next save, or auto-load's next round, writes all of it).
            pub fn has_unsaved_changes(&self) -> bool {
                self.inner.has_unsaved_changes()
            }
            /// Lets saves replace stored data that failed to load.
            pub fn allow_overwrite(&self) {
                self.inner.allow_overwrite();
            }
            /// Saves now, then after every transaction that changed the store.
            pub fn start_auto_save(&self) -> Result<(), TinystoreError> {
                self.inner.start_auto_save()?;
                Ok(())
            }
            /// Stops auto-saving.
            pub fn stop_auto_save(&self) {
                self.inner.stop_auto_save();
            }
            /// Whether auto-save is on.
            pub fn is_auto_saving(&self) -> bool {
                self.inner.is_auto_saving()
            }
            /// Loads now, then polls the storage every `interval_ms` (default 1000; the remote
            /// persister's own interval, 5 s unless given at creation) and loads again when
            /// someone else changed it.
            pub fn start_auto_load(
                &self,
                initial: Option<String>,
                interval_ms: Option<u64>,
            ) -> Result<(), TinystoreError> {
                let initial = parse_initial(initial)?;
                let every =
                    interval_ms.map_or_else(|| ($default_interval)(self), Duration::from_millis);
                trapped(|| self.inner.start_auto_load(as_pair(&initial), every))??;
                Ok(())
            }
            /// Stops auto-loading.
            pub fn stop_auto_load(&self) {
                self.inner.stop_auto_load();
            }
            /// Whether auto-load is on.
            pub fn is_auto_loading(&self) -> bool {
                self.inner.is_auto_loading()
            }
            /// Auto-load then auto-save (the reverse with `save_first`).
            pub fn start_auto_persisting(
                &self,
                initial: Option<String>,
                interval_ms: Option<u64>,
                save_first: bool,
            ) -> Result<(), TinystoreError> {
                let initial = parse_initial(initial)?;
                let every =
                    interval_ms.map_or_else(|| ($default_interval)(self), Duration::from_millis);
                trapped(|| {
                    self.inner
                        .start_auto_persisting(as_pair(&initial), every, save_first)
                })??;
                Ok(())
            }
            /// `start_auto_persisting` on the shared runtime's blocking pool.
            pub async fn start_auto_persisting_async(
                &self,
                initial: Option<String>,
                interval_ms: Option<u64>,
                save_first: bool,
            ) -> Result<(), TinystoreError> {
                let p = self.inner.clone();
                let every =
                    interval_ms.map_or_else(|| ($default_interval)(self), Duration::from_millis);
                run_blocking(move || {
                    let initial = parse_initial(initial)?;
                    trapped(|| p.start_auto_persisting(as_pair(&initial), every, save_first))??;
                    Ok(())
                })
                .await
            }
            /// Stops auto-load and auto-save.
            pub fn stop_auto_persisting(&self) {
                self.inner.stop_auto_persisting();
            }
            /// Idle, loading or saving.
            pub fn get_status(&self) -> Status {
                self.inner.get_status().into()
            }
            /// Loads and saves so far.
            pub fn get_stats(&self) -> PersistStats {
                self.inner.get_stats().into()
            }
            /// Calls `listener` on every status change; returns an id for `del_listener`.
            pub fn add_status_listener(&self, listener: Arc<dyn StatusListener>) -> u64 {
                self.inner.add_status_listener(move |s| {
                    if let Err(e) = listener.on_status(s.into()) {
                        report("status listener", &e);
                    }
                })
            }
            /// Removes a status listener.
            pub fn del_listener(&self, listener_id: u64) {
                self.inner.del_listener(listener_id);
            }
            /// Receives the errors of auto-load and auto-save.
            pub fn set_on_ignored_error(&self, listener: Arc<dyn ErrorListener>) {
                self.inner.set_on_ignored_error(move |e| {
                    if let Err(e) = listener.on_error(e.to_string()) {
                        report("error listener", &e);
                    }
                });
            }
            /// Stops everything this persister runs (TinyBase's `destroy`; named `shutdown`
            /// because every generated Kotlin object already has a `destroy()` that frees it).
            pub fn shutdown(&self) {
                self.inner.destroy();
            }
        }
    };
}

pub(crate) use persister_api;

persister_api!(SqlitePersister);
persister_api!(FilePersister);
persister_api!(CustomPersister);
persister_api!(PostgresPersister);

#[uniffi::export]
impl PostgresPersister {
    /// The database URL it was created with.
    pub fn get_url(&self) -> String {
        self.url.clone()
    }
}

#[uniffi::export]
impl SqlitePersister {
    /// The database path.
    pub fn get_path(&self) -> String {
        self.path.clone()
    }
}

#[uniffi::export]
impl FilePersister {
    /// The file path (TinyBase's `getFilePath`).
    pub fn get_file_path(&self) -> String {
        self.path.clone()
    }
}
