//! The SQLite persister (spec persist.md §2–4), with TinyBase's two layouts:
//!
//! - **JSON mode**: TinyBase's JSON document in one row (`_id = '_'`) of one table, for a Store
//!   or a MergeableStore;
//! - **tabular mode** (plain Stores): one database table per Store table, a column per cell id,
//!   and the Values in one row of `tinybase_values`. Auto-save writes only what the transaction
//!   changed (the rows, and in them the columns).
//!
//! Files are interchangeable with TinyBase's: the same tables, columns and contents.
//!
//! ```
//! use tinystore_core::persist::{Persister, sqlite::{SqliteJsonConfig, SqlitePersistence}};
//! use tinystore_core::Store;
//! let store = Store::new();
//! store.set_cell("pets", "fido", "species", "dog");
//! let db = SqlitePersistence::open_in_memory(SqliteJsonConfig::default()).unwrap();
//! let persister = Persister::new(&store, db);
//! persister.save().unwrap();
//! store.del_tables();
//! persister.load(None).unwrap();
//! assert_eq!(store.get_json(), r#"[{"pets":{"fido":{"species":"dog"}}},{}]"#);
//! ```

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use crate::content::Changes;
use crate::json;

use super::{PersistError, Persisted, Persistence, Persists, SqliteError, Target};

pub use super::config::{
    JsonConfig as SqliteJsonConfig, SqlMode as SqliteMode, TableLoad, TableSave, TabularConfig,
    ValueSelection, quote_identifier,
};

pub mod rooms;
mod tabular;

fn sql_err(e: rusqlite::Error) -> PersistError {
    PersistError::from(e)
}

/// An SQLite error with what was being done (`opening <path>`).
fn sql_context(context: impl std::fmt::Display) -> impl FnOnce(rusqlite::Error) -> PersistError {
    move |e| PersistError::Sqlite(SqliteError::new(e, Some(&context.to_string())))
}

/// Which kind of store a JSON-mode table appears to hold (see
/// [`SqliteDatabase::json_store_kind`]).
///
/// ```
/// use tinystore_core::persist::sqlite::{SqliteDatabase, StoreKind};
/// let db = SqliteDatabase::open_in_memory()?;
/// // No such table: nothing recognisable.
/// assert_eq!(db.json_store_kind("tinybase"), StoreKind::Plain);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreKind {
    /// A plain Store (`[tables, values]`), or nothing recognisable.
    Plain,
    /// A MergeableStore (stamped `[[tables, hlc, hash], [values, hlc, hash]]`).
    Mergeable,
}

/// An open SQLite database before a layout is chosen: look at what it holds (its tables, the
/// kind of store a JSON-mode table holds), then [`SqliteDatabase::into_persistence`] with the
/// layout. Opening checks that the file is an SQLite database.
///
/// ```
/// use tinystore_core::persist::{Persister, sqlite::*};
/// use tinystore_core::MergeableStore;
/// let dir = std::env::temp_dir().join(format!("tinystore-doc-db-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("db.sqlite");
/// let store = MergeableStore::new(None);
/// store.set_value("open", true);
/// let db = SqliteDatabase::open(&path).unwrap();
/// Persister::new(&store, db.into_persistence(SqliteJsonConfig::default()).unwrap())
///     .save()
///     .unwrap();
///
/// let db = SqliteDatabase::open_read_only(&path).unwrap();
/// assert_eq!(db.table_names().unwrap(), ["tinybase"]);
/// assert_eq!(db.json_store_kind("tinybase"), StoreKind::Mergeable);
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub struct SqliteDatabase {
    conn: Connection,
}

impl std::fmt::Debug for SqliteDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteDatabase").finish_non_exhaustive()
    }
}

impl SqliteDatabase {
    /// Opens (or creates) the database file at `path`.
    ///
    /// ```
    /// use tinystore_core::persist::sqlite::SqliteDatabase;
    /// let path = std::env::temp_dir().join(format!("tinystore-doc-open-{}", std::process::id()));
    /// std::fs::write(&path, [b'x'; 4096])?;
    /// assert!(SqliteDatabase::open(&path).is_err());
    /// std::fs::remove_file(&path)?;
    /// assert!(SqliteDatabase::open(&path)?.table_names()?.is_empty());
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<Self, PersistError> {
        let path = path.as_ref();
        let conn = Connection::open(path)
            .map_err(sql_context(format_args!("opening {}", path.display())))?;
        Self::checked(conn)
    }

    /// Opens the existing database file at `path` for reading only: nothing is created or
    /// changed (a persister over it can load; its saves fail).
    ///
    /// ```
    /// use tinystore_core::persist::sqlite::SqliteDatabase;
    /// let path = std::env::temp_dir().join(format!("tinystore-doc-ro-{}", std::process::id()));
    /// assert!(SqliteDatabase::open_read_only(&path).is_err());
    /// assert!(!path.exists());
    /// ```
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Self, PersistError> {
        let path = path.as_ref();
        let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(sql_context(format_args!("opening {}", path.display())))?;
        Self::checked(conn)
    }

    /// A private in-memory database.
    ///
    /// ```
    /// use tinystore_core::persist::sqlite::SqliteDatabase;
    /// let db = SqliteDatabase::open_in_memory()?;
    /// assert_eq!(db.table_names()?, Vec::<String>::new());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open_in_memory() -> Result<Self, PersistError> {
        Self::checked(Connection::open_in_memory().map_err(sql_err)?)
    }

    /// Waits for other processes' write locks; fails on a file that is not a database.
    fn checked(conn: Connection) -> Result<Self, PersistError> {
        // Another process holding a write lock is waited for rather than failed on.
        conn.busy_timeout(Duration::from_secs(5)).map_err(sql_err)?;
        // Fails on a file that is not an SQLite database, before anything else touches it.
        conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))
            .map_err(sql_err)?;
        Ok(SqliteDatabase { conn })
    }

    /// The database's tables by name, in ascending order, without SQLite's own (`sqlite_%`).
    ///
    /// ```
    /// use tinystore_core::persist::sqlite::SqliteDatabase;
    /// let path = std::env::temp_dir().join(format!("tinystore-doc-names-{}", std::process::id()));
    /// let conn = rusqlite::Connection::open(&path)?;
    /// conn.execute_batch("CREATE TABLE pets(x); CREATE TABLE ages(x);")?;
    /// assert_eq!(SqliteDatabase::open(&path)?.table_names()?, ["ages", "pets"]);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn table_names(&self) -> Result<Vec<String>, PersistError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' \
                 ORDER BY name",
            )
            .map_err(sql_err)?;
        let names = stmt
            .query_map([], |row| row.get::<_, String>(0))
            .map_err(sql_err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(sql_err)?;
        Ok(names)
    }

    /// Which kind of store the JSON-mode table `table` appears to hold, judged as TinyBase's
    /// tools peek at it: the first text cell of its first row that starts with `[` is parsed,
    /// and a stamped first element (`[thing, hlc, hash]`) means a MergeableStore. Anything
    /// else (no such table, row or cell, unparsable JSON) is [`StoreKind::Plain`]. Only a
    /// guess to choose which store to load into; loading checks the document.
    ///
    /// ```
    /// use tinystore_core::persist::sqlite::{SqliteDatabase, StoreKind};
    /// let path = std::env::temp_dir().join(format!("tinystore-doc-kind-{}", std::process::id()));
    /// rusqlite::Connection::open(&path)?.execute_batch(
    ///     r#"CREATE TABLE tinybase(_id PRIMARY KEY, store);
    ///        INSERT INTO tinybase VALUES('_', '[{"pets":{}},{}]');"#,
    /// )?;
    /// assert_eq!(SqliteDatabase::open(&path)?.json_store_kind("tinybase"), StoreKind::Plain);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn json_store_kind(&self, table: &str) -> StoreKind {
        let sql = format!("SELECT * FROM {} LIMIT 1", quote_identifier(table));
        let found = self
            .conn
            .query_row(&sql, [], |row| {
                let columns = row.as_ref().column_count();
                Ok((0..columns).find_map(|i| match row.get_ref(i) {
                    Ok(ValueRef::Text(bytes)) if bytes.starts_with(b"[") => {
                        std::str::from_utf8(bytes).ok().map(str::to_string)
                    }
                    _ => None,
                }))
            })
            .ok()
            .flatten();
        let stamped = found
            .and_then(|text| json::parse(&text).ok())
            .and_then(|doc| {
                doc.get(0)
                    .and_then(serde_json::Value::as_array)
                    .map(Vec::len)
            })
            == Some(3);
        if stamped {
            StoreKind::Mergeable
        } else {
            StoreKind::Plain
        }
    }

    /// Storage for a store in this database, laid out as `mode`.
    ///
    /// ```
    /// use tinystore_core::persist::{Persister, sqlite::{SqliteDatabase, TabularConfig}};
    /// use tinystore_core::MergeableStore;
    /// let db = SqliteDatabase::open_in_memory()?;
    /// let tabular = db.into_persistence(TabularConfig::default())?;
    /// // Tabular mode holds plain Stores only.
    /// assert!(Persister::try_new(&MergeableStore::new(None), tabular).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_persistence(
        self,
        mode: impl Into<SqliteMode>,
    ) -> Result<SqlitePersistence, PersistError> {
        Ok(SqlitePersistence::with_database(self, mode.into()))
    }
}

/// A database connection holding a store.
///
/// ```
/// use tinystore_core::persist::{Persister, sqlite::{SqlitePersistence, TabularConfig}};
/// use tinystore_core::Store;
/// let store = Store::new();
/// store.set_cell("pets", "fido", "legs", 4);
/// let db = SqlitePersistence::open_in_memory(TabularConfig::tables(&["pets"]))?;
/// let persister = Persister::new(&store, db);
/// persister.save()?;
/// store.set_cell("pets", "fido", "legs", 3);
/// persister.load(None)?;
/// assert_eq!(store.get_cell("pets", "fido", "legs"), Some(4.into()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SqlitePersistence {
    conn: Link,
    config: SqliteJsonConfig,
    tabular: Option<TabularConfig>,
    /// `(data_version, schema_version, total_changes)` after this connection's last read or
    /// write: any difference means the database changed. On a shared connection the others'
    /// writes count too (a spurious reload at worst: its rooms do not auto-load).
    version: Option<(i64, i64, i64)>,
}

/// The connection of a [`SqlitePersistence`]: its own, or one it shares with the other
/// persistences of a database (a server's rooms, [`rooms::RoomDatabase`]).
///
/// Sharing is what lets a thousand rooms live in one file. Every connection keeps a parsed
/// copy of the schema, and any table another connection creates makes each of them parse the
/// whole schema again at its next statement (about 4 ms at 1,000 tables): a room per
/// connection turned each room's first save into a thousand re-parses. One connection parses
/// once and adds its own tables as it creates them. Its lock also queues the rooms' writes
/// (SQLite lets one writer in at a time and makes the others poll with growing sleeps; the
/// busy timeout still covers other processes).
enum Link {
    Own(Connection),
    Shared(Arc<Mutex<Connection>>),
}

/// How a [`ConnectionRef`] holds its connection.
enum Held<'a> {
    Own(&'a Connection),
    Shared(MutexGuard<'a, Connection>),
}

impl Link {
    fn lock(&self) -> ConnectionRef<'_> {
        ConnectionRef(match self {
            Link::Own(conn) => Held::Own(conn),
            Link::Shared(conn) => Held::Shared(conn.lock().unwrap_or_else(|e| e.into_inner())),
        })
    }
}

/// A persistence's connection, from [`SqlitePersistence::connection`]: for a shared one
/// (a server's rooms) the other persistences wait while it is held.
///
/// ```
/// use tinystore_core::persist::sqlite::{ConnectionRef, SqliteJsonConfig, SqlitePersistence};
/// let db = SqlitePersistence::open_in_memory(SqliteJsonConfig::default())?;
/// let conn: ConnectionRef<'_> = db.connection();
/// conn.execute_batch("CREATE TABLE notes(text)")?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ConnectionRef<'a>(Held<'a>);

impl std::fmt::Debug for ConnectionRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionRef").finish_non_exhaustive()
    }
}

impl std::ops::Deref for ConnectionRef<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        match &self.0 {
            Held::Own(conn) => conn,
            Held::Shared(conn) => conn,
        }
    }
}

impl std::fmt::Debug for SqlitePersistence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlitePersistence")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl SqlitePersistence {
    /// Opens (or creates) the database file at `path`.
    ///
    /// ```
    /// use tinystore_core::persist::{Persister, sqlite::{SqliteJsonConfig, SqlitePersistence}};
    /// use tinystore_core::Store;
    /// let path = std::env::temp_dir().join(format!("tinystore-doc-sql-{}", std::process::id()));
    /// let store = Store::new();
    /// store.set_value("open", true);
    /// let db = SqlitePersistence::open(&path, SqliteJsonConfig::table("app"))?;
    /// Persister::new(&store, db).save()?;
    /// let copy = Store::new();
    /// let db = SqlitePersistence::open(&path, SqliteJsonConfig::table("app"))?;
    /// Persister::new(&copy, db).load(None)?;
    /// assert_eq!(copy.get_json(), store.get_json());
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open(path: impl AsRef<Path>, mode: impl Into<SqliteMode>) -> Result<Self, PersistError> {
        SqliteDatabase::open(path)?.into_persistence(mode)
    }

    /// A private in-memory database.
    ///
    /// ```
    /// use tinystore_core::persist::{Persister, sqlite::{SqliteJsonConfig, SqlitePersistence}};
    /// use tinystore_core::Store;
    /// let db = SqlitePersistence::open_in_memory(SqliteJsonConfig::default())?;
    /// let persister = Persister::new(&Store::new(), db);
    /// persister.load(None)?.save()?;
    /// assert_eq!(persister.get_stats().saves, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open_in_memory(mode: impl Into<SqliteMode>) -> Result<Self, PersistError> {
        SqliteDatabase::open_in_memory()?.into_persistence(mode)
    }

    /// Uses an open connection (a `rusqlite` one: apps that open their own depend on
    /// `rusqlite` themselves, at the version this crate uses).
    ///
    /// ```
    /// use rusqlite::Connection;
    /// use tinystore_core::persist::sqlite::{SqliteJsonConfig, SqlitePersistence};
    /// let conn = Connection::open_in_memory()?;
    /// conn.execute_batch("CREATE TABLE notes(text)")?;
    /// let db = SqlitePersistence::from_connection(conn, SqliteJsonConfig::default())?;
    /// let count: i64 = db.connection().query_row("SELECT count(*) FROM notes", [], |r| r.get(0))?;
    /// assert_eq!(count, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_connection(
        conn: Connection,
        mode: impl Into<SqliteMode>,
    ) -> Result<Self, PersistError> {
        SqliteDatabase::checked(conn)?.into_persistence(mode)
    }

    fn with_database(db: SqliteDatabase, mode: SqliteMode) -> SqlitePersistence {
        let parts = match mode {
            SqliteMode::Json(config) => (config, None),
            SqliteMode::Tabular(t) => (SqliteJsonConfig::default(), Some(t)),
        };
        Self::with_link(Link::Own(db.conn), parts)
    }

    /// A JSON-mode persistence of `config`'s table over a connection shared with others (see
    /// [`Link`]); `conn` must have been checked ([`SqliteDatabase::checked`]).
    pub(crate) fn shared(conn: Arc<Mutex<Connection>>, config: SqliteJsonConfig) -> Self {
        Self::with_link(Link::Shared(conn), (config, None))
    }

    fn with_link(conn: Link, (config, tabular): (SqliteJsonConfig, Option<TabularConfig>)) -> Self {
        SqlitePersistence {
            conn,
            config,
            tabular,
            version: None,
        }
    }

    /// The connection (TinyBase's `getDb`). A shared one (a server's room,
    /// [`rooms::RoomDatabase::room`]) is held while the returned reference lives.
    ///
    /// ```
    /// use tinystore_core::persist::sqlite::{SqliteJsonConfig, SqlitePersistence};
    /// let db = SqlitePersistence::open_in_memory(SqliteJsonConfig::default())?;
    /// assert!(db.connection().is_autocommit());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn connection(&self) -> ConnectionRef<'_> {
        self.conn.lock()
    }

    fn check_columns(&self, columns: &[String]) -> Result<(), PersistError> {
        for wanted in [&self.config.id_column, &self.config.store_column] {
            if !columns.iter().any(|c| c == wanted) {
                return Err(PersistError::content(format!(
                    "table {} has no column {wanted}; it was not written by tinystore or TinyBase in JSON mode",
                    self.config.table
                )));
            }
        }
        Ok(())
    }

    fn read_document(&self, conn: &Connection) -> Result<Option<Persisted>, PersistError> {
        let Some(columns) = table_columns(conn, &self.config.table)? else {
            return Ok(None);
        };
        self.check_columns(&columns)?;
        let sql = format!(
            "SELECT {} FROM{}WHERE{}=?",
            quote_identifier(&self.config.store_column),
            quote_identifier(&self.config.table),
            quote_identifier(&self.config.id_column),
        );
        let cell: Option<Result<String, PersistError>> = conn
            .query_row(&sql, params!["_"], |row| {
                Ok(match row.get_ref(0)? {
                    ValueRef::Text(bytes) => String::from_utf8(bytes.to_vec()).map_err(|_| {
                        PersistError::content("the stored document is not UTF-8 text")
                    }),
                    other => Err(PersistError::content(format!(
                        "the stored document is {:?}, not text",
                        other.data_type()
                    ))),
                })
            })
            .optional()
            .map_err(sql_err)?;
        cell.transpose().map(|text| text.map(Persisted::Json))
    }

    fn write_document(&self, conn: &Connection, document: &str) -> Result<(), PersistError> {
        let table = quote_identifier(&self.config.table);
        let id = quote_identifier(&self.config.id_column);
        let store = quote_identifier(&self.config.store_column);
        match table_columns(conn, &self.config.table)? {
            Some(columns) => self.check_columns(&columns)?,
            None => {
                conn.execute(
                    &format!("CREATE TABLE{table}({id} PRIMARY KEY,{store})"),
                    [],
                )
                .map_err(sql_err)?;
            }
        }
        conn.execute(
            &format!(
                "INSERT INTO{table}({id},{store})VALUES(?,?)ON CONFLICT({id})DO UPDATE SET{store}=excluded.{store}"
            ),
            params!["_", document],
        )
        .map_err(sql_err)?;
        conn.execute(
            &format!("DELETE FROM{table}WHERE{id}NOT IN(?)"),
            params!["_"],
        )
        .map_err(sql_err)?;
        Ok(())
    }
}

/// `(data_version, schema_version, total_changes)` of `conn`: see `SqlitePersistence::version`.
fn current_version(conn: &Connection) -> Result<(i64, i64, i64), PersistError> {
    conn.query_row(
        "SELECT data_version d,schema_version s,TOTAL_CHANGES() c \
         FROM pragma_data_version JOIN pragma_schema_version",
        [],
        |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
    )
    .map_err(sql_err)
}

/// A table's columns in order, or `None` if it does not exist.
fn table_columns(conn: &Connection, name: &str) -> Result<Option<Vec<String>>, PersistError> {
    let (schema, table) = match name.rsplit_once('.') {
        Some((schema, table)) => (schema, table),
        None => ("main", name),
    };
    let mut stmt = conn
        .prepare("SELECT name FROM pragma_table_info(?1, ?2)")
        .map_err(sql_err)?;
    let names = stmt
        .query_map(params![table, schema], |row| row.get::<_, String>(0))
        .map_err(sql_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(sql_err)?;
    Ok((!names.is_empty()).then_some(names))
}

impl Persistence for SqlitePersistence {
    fn persists(&self) -> Persists {
        if self.tabular.is_some() {
            Persists::StoreOnly
        } else {
            Persists::StoreOrMergeableStore
        }
    }

    fn read(&mut self) -> Result<Option<Persisted>, PersistError> {
        let conn = self.conn.lock();
        let result = match &self.tabular {
            Some(config) => tabular::read(&conn, config),
            None => self.read_document(&conn),
        };
        let version = current_version(&conn)?;
        drop(conn);
        self.version = Some(version);
        result
    }

    fn write(&mut self, target: &Target, changes: Option<&Changes>) -> Result<(), PersistError> {
        // Serialized before the connection is taken: a shared one waits for nobody's JSON.
        let document = match &self.tabular {
            Some(_) => String::new(),
            None => target.document(),
        };
        let conn = self.conn.lock();
        conn.execute_batch("BEGIN IMMEDIATE").map_err(sql_err)?;
        let result = match &self.tabular {
            Some(config) => tabular::write(&conn, config, target.store(), changes),
            None => self.write_document(&conn, &document),
        };
        match result {
            Ok(()) => conn.execute_batch("COMMIT").map_err(sql_err)?,
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                return Err(e);
            }
        }
        let version = current_version(&conn)?;
        drop(conn);
        self.version = Some(version);
        Ok(())
    }

    fn writes_changes(&self) -> bool {
        // Tabular mode writes only the rows and columns a transaction changed.
        self.tabular.is_some()
    }

    fn changed(&mut self) -> Result<bool, PersistError> {
        let now = current_version(&self.conn.lock())?;
        let changed = self.version.is_some_and(|v| v != now);
        self.version = Some(now);
        Ok(changed)
    }
}
