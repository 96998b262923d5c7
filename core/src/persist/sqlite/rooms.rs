//! Room tables: which database table holds each sync-server room (a URL path, any Unicode
//! string), with every SQL statement about that mapping.
//!
//! A room is kept in JSON mode in a table named as TinyBase's server names it
//! ([`table_for_path`]), so databases move freely between TinyBase and tinystore. That name is
//! not unique: `a-b` and `a/b` sanitize alike, and the database compares identifiers ignoring
//! ASCII case (`Secret` and `secret`), so two rooms could land in one table and mix their data.
//! [`RoomTables`] therefore gives each path the plain name only while no other room (and no
//! other table) holds a name the database treats as the same, and otherwise a suffixed name
//! that is checked free as well. Each assignment is recorded in the table `tinystore_rooms`
//! (`path TEXT PRIMARY KEY, table_name TEXT UNIQUE NOT NULL`), so a path keeps its table
//! across restarts whatever order rooms start in.
//!
//! The identifier rules are data ([`IdentifierRules`]) so the PostgreSQL room store can reuse
//! the same choice with its own folding and 63-byte limit.
//!
//! ```
//! use rusqlite::Connection;
//! use tinystore_core::persist::sqlite::rooms::{IdentifierRules, RoomTables};
//! let conn = Connection::open_in_memory().unwrap();
//! let rooms = RoomTables::open(&conn, IdentifierRules::SQLITE).unwrap();
//! assert_eq!(rooms.claim(&conn, "Secret").unwrap(), "tinybase_Secret");
//! // SQLite would treat `tinybase_secret` as the same table: this room gets its own.
//! assert_eq!(rooms.claim(&conn, "secret").unwrap(), "tinybase_secret_667c6911");
//! assert_eq!(rooms.claim(&conn, "Secret").unwrap(), "tinybase_Secret");
//! ```

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior};

use super::{SqliteJsonConfig, SqlitePersistence};
pub use crate::persist::room_names::{IdentifierRules, table_for_path};
use crate::persist::room_names::{candidates_prefix, check_aliases, choose};
use crate::persist::{PersistError, SqliteError};

/// The table recording which table each room path uses (existing databases have it).
pub const ROOMS_TABLE: &str = "tinystore_rooms";

fn sql(context: &'static str) -> impl Fn(rusqlite::Error) -> PersistError {
    move |e| PersistError::Sqlite(SqliteError::new(e, Some(context)))
}

/// The SQLite file of a sync server's rooms: opened and checked once ([`RoomTables::open`]),
/// then each room's table claimed and its storage opened ([`RoomDatabase::room`]). Claims and
/// every room's reads and writes share one connection, one at a time (why: see
/// [`SqlitePersistence`]'s connection notes; one writer at a time is SQLite's rule anyway).
///
/// ```
/// use tinystore_core::persist::sqlite::rooms::RoomDatabase;
/// let dir = std::env::temp_dir().join(format!("tinystore-doc-roomdb-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let db = RoomDatabase::open(dir.join("rooms.sqlite")).unwrap();
/// assert_eq!(db.claim("pets/shop").unwrap(), "tinybase_pets_shop");
/// assert!(db.room("pets/shop").is_ok());
/// assert!(RoomDatabase::open(dir.join("missing/rooms.sqlite")).is_err());
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub struct RoomDatabase {
    path: PathBuf,
    conn: Arc<Mutex<Connection>>,
    tables: RoomTables,
}

impl std::fmt::Debug for RoomDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoomDatabase")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl RoomDatabase {
    /// Opens (or creates) the rooms database at `path`, in WAL mode (other processes reading
    /// it, `dump-sqlite` or a backup, do not hold the rooms' saves up), and checks its room
    /// tables. A path that cannot be opened, a file that is not an SQLite database, or
    /// recorded rooms that share a table ([`PersistError::AliasedRooms`]) are errors here.
    ///
    /// ```
    /// use tinystore_core::persist::sqlite::rooms::{RoomDatabase, ROOMS_TABLE};
    /// use tinystore_core::persist::sqlite::SqliteDatabase;
    /// let path = std::env::temp_dir().join(format!("tinystore-doc-rooms-{}", std::process::id()));
    /// drop(RoomDatabase::open(&path)?);
    /// assert_eq!(SqliteDatabase::open(&path)?.table_names()?, [ROOMS_TABLE]);
    /// # for end in ["", "-wal", "-shm"] {
    /// #     let _ = std::fs::remove_file(format!("{}{end}", path.display()));
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<RoomDatabase, PersistError> {
        let path = path.as_ref().to_path_buf();
        let context = format!("{}", path.display());
        let sql = |e: rusqlite::Error| PersistError::Sqlite(SqliteError::new(e, Some(&context)));
        let conn = Connection::open(&path).map_err(sql)?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(sql)?;
        // Also the first statement that reads the file: a file that is not a database fails
        // here.
        conn.query_row("PRAGMA journal_mode=WAL", [], |_| Ok(()))
            .map_err(sql)?;
        let tables = RoomTables::open(&conn, IdentifierRules::SQLITE)?;
        Ok(RoomDatabase {
            path,
            conn: Arc::new(Mutex::new(conn)),
            tables,
        })
    }

    /// The database file.
    ///
    /// ```
    /// use tinystore_core::persist::sqlite::rooms::RoomDatabase;
    /// let path = std::env::temp_dir().join(format!("tinystore-doc-rpath-{}", std::process::id()));
    /// let db = RoomDatabase::open(&path)?;
    /// assert_eq!(db.path(), path);
    /// # drop(db);
    /// # for end in ["", "-wal", "-shm"] {
    /// #     let _ = std::fs::remove_file(format!("{}{end}", path.display()));
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The table of the room at `room_path` ([`RoomTables::claim`]).
    ///
    /// ```
    /// use tinystore_core::persist::sqlite::rooms::RoomDatabase;
    /// let path = std::env::temp_dir().join(format!("tinystore-doc-claim-{}", std::process::id()));
    /// let db = RoomDatabase::open(&path)?;
    /// let table = db.claim("a/b")?;
    /// assert_eq!(table, "tinybase_a_b");
    /// // `a-b` sanitizes alike but is another room: it gets a table of its own.
    /// assert_ne!(db.claim("a-b")?, table);
    /// assert_eq!(db.claim("a/b")?, table);
    /// # drop(db);
    /// # for end in ["", "-wal", "-shm"] {
    /// #     let _ = std::fs::remove_file(format!("{}{end}", path.display()));
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn claim(&self, room_path: &str) -> Result<String, PersistError> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        self.tables.claim(&conn, room_path)
    }

    /// Storage for the room at `room_path`: its table, in JSON mode, on the database's shared
    /// connection.
    ///
    /// ```
    /// use tinystore_core::persist::{Persister, sqlite::rooms::RoomDatabase};
    /// use tinystore_core::MergeableStore;
    /// let path = std::env::temp_dir().join(format!("tinystore-doc-room-{}", std::process::id()));
    /// let db = RoomDatabase::open(&path)?;
    /// let store = MergeableStore::new(None);
    /// store.set_value("open", true);
    /// Persister::new(&store, db.room("shop")?).save()?;
    /// let copy = MergeableStore::new(None);
    /// Persister::new(&copy, db.room("shop")?).load(None)?;
    /// assert_eq!(copy.get_json(), store.get_json());
    /// # drop(db);
    /// # for end in ["", "-wal", "-shm"] {
    /// #     let _ = std::fs::remove_file(format!("{}{end}", path.display()));
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn room(&self, room_path: &str) -> Result<SqlitePersistence, PersistError> {
        let table = self.claim(room_path)?;
        Ok(SqlitePersistence::shared(
            self.conn.clone(),
            SqliteJsonConfig::table(table),
        ))
    }
}

/// The room-to-table mapping of one database, checked at open.
///
/// ```
/// use rusqlite::Connection;
/// use tinystore_core::persist::sqlite::rooms::{IdentifierRules, RoomTables};
/// let conn = Connection::open_in_memory().unwrap();
/// let rooms = RoomTables::open(&conn, IdentifierRules::SQLITE).unwrap();
/// let table = rooms.claim(&conn, "pets/shop").unwrap();
/// assert_eq!(table, "tinybase_pets_shop");
/// // `pets-shop` sanitizes alike, so it gets a suffixed name of its own.
/// assert_ne!(rooms.claim(&conn, "pets-shop").unwrap(), table);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct RoomTables {
    rules: IdentifierRules,
}

impl RoomTables {
    /// Creates `tinystore_rooms` in the database at `conn` if absent and checks it: a database
    /// where two recorded paths have table names the database treats as one (written by the
    /// old case-sensitive check) is refused with [`PersistError::AliasedRooms`], whose message
    /// says how to repair it, because those rooms' data is already mixed.
    ///
    /// Set a busy timeout on `conn` when other connections write the same file.
    ///
    /// ```
    /// use rusqlite::Connection;
    /// use tinystore_core::persist::{PersistError, sqlite::rooms::*};
    /// let conn = Connection::open_in_memory().unwrap();
    /// RoomTables::open(&conn, IdentifierRules::SQLITE).unwrap();
    /// // What the old case-sensitive check could record: one table for two rooms.
    /// conn.execute_batch(
    ///     "INSERT INTO tinystore_rooms VALUES('Secret','tinybase_Secret'),('secret','tinybase_secret')",
    /// ).unwrap();
    /// let err = RoomTables::open(&conn, IdentifierRules::SQLITE).unwrap_err();
    /// assert!(matches!(err, PersistError::AliasedRooms { .. }));
    /// assert!(err.to_string().contains("UPDATE tinystore_rooms SET table_name="));
    /// ```
    pub fn open(conn: &Connection, rules: IdentifierRules) -> Result<Self, PersistError> {
        conn.execute_batch(&format!(
            "CREATE TABLE IF NOT EXISTS {ROOMS_TABLE}(path TEXT PRIMARY KEY, table_name TEXT UNIQUE NOT NULL)"
        ))
        .map_err(sql("creating the rooms table"))?;
        check_aliases(rules, recorded(conn)?)?;
        Ok(RoomTables { rules })
    }

    /// The rules names are compared by.
    ///
    /// ```
    /// use rusqlite::Connection;
    /// use tinystore_core::persist::sqlite::rooms::{IdentifierRules, RoomTables};
    /// let conn = Connection::open_in_memory()?;
    /// let rooms = RoomTables::open(&conn, IdentifierRules::SQLITE)?;
    /// assert_eq!(rooms.rules(), IdentifierRules::SQLITE);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn rules(&self) -> IdentifierRules {
        self.rules
    }

    /// The table of `path`: the one recorded for it, or else a newly chosen free name, recorded
    /// before it is returned.
    ///
    /// The plain TinyBase name ([`table_for_path`], fitted to the length limit) is taken when
    /// free, so a table TinyBase's server wrote for this path (exactly that name, unclaimed) is
    /// adopted; otherwise the first free of `<plain>_<fnv1a hex>`, `<plain>_<hex>_2`, … A name
    /// is free when no other path's recorded table and no other table, view or index of the
    /// database folds equal to it.
    ///
    /// Safe when several connections to one file claim at once: the choice and the record are
    /// one `BEGIN IMMEDIATE` transaction. Fails if `conn` is inside a transaction already.
    ///
    /// ```
    /// use rusqlite::Connection;
    /// use tinystore_core::persist::sqlite::rooms::{IdentifierRules, RoomTables};
    /// let conn = Connection::open_in_memory().unwrap();
    /// // A table TinyBase's server wrote for room `petShop`, and one for `Other` only.
    /// conn.execute_batch("CREATE TABLE tinybase_petShop(_id PRIMARY KEY, store);
    ///                     CREATE TABLE tinybase_Other(_id PRIMARY KEY, store);").unwrap();
    /// let rooms = RoomTables::open(&conn, IdentifierRules::SQLITE).unwrap();
    /// assert_eq!(rooms.claim(&conn, "petShop").unwrap(), "tinybase_petShop");
    /// assert_ne!(rooms.claim(&conn, "other").unwrap(), "tinybase_other");
    /// ```
    pub fn claim(&self, conn: &Connection, path: &str) -> Result<String, PersistError> {
        // Most claims are of known rooms: answer those without taking the write lock.
        if let Some(table) = claimed(conn, path)? {
            return Ok(table);
        }
        let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)
            .map_err(sql("starting a room claim"))?;
        // Another connection may have claimed it since the read above.
        if let Some(table) = claimed(conn, path)? {
            return Ok(table);
        }
        let table = self.choose(conn, path)?;
        conn.execute(
            &format!("INSERT INTO {ROOMS_TABLE}(path, table_name) VALUES(?1, ?2)"),
            [path, &table],
        )
        .map_err(sql("recording a room's table"))?;
        tx.commit().map_err(sql("committing a room claim"))?;
        Ok(table)
    }

    /// The first free candidate for `path`, which has no recorded table. Only the names that
    /// could block a candidate are read (a thousand rooms' start-ups listing every room and
    /// table each made claims grow with the database).
    fn choose(&self, conn: &Connection, path: &str) -> Result<String, PersistError> {
        let rules = self.rules;
        // SQLite's LIKE compares ASCII letters without case and all else exactly: the rules'
        // folding. Sanitized names hold `_`, a LIKE wildcard, hence the escapes.
        let prefix = candidates_prefix(rules, path);
        let mut pattern = String::with_capacity(prefix.len() * 2 + 1);
        for c in prefix.chars() {
            if matches!(c, '%' | '_' | '\\') {
                pattern.push('\\');
            }
            pattern.push(c);
        }
        pattern.push('%');
        let like =
            |query: &str, context: &'static str| -> Result<Vec<(String, bool)>, PersistError> {
                let mut stmt = conn.prepare(query).map_err(sql(context))?;
                let rows = stmt
                    .query_map([&pattern], |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?))
                    })
                    .map_err(sql(context))?;
                rows.collect::<Result<_, _>>().map_err(sql(context))
            };
        let claimed: HashSet<String> = like(
            &format!(
                "SELECT table_name, 1 FROM {ROOMS_TABLE} WHERE table_name LIKE ?1 ESCAPE '\\'"
            ),
            "reading the rooms table",
        )?
        .into_iter()
        .map(|(table, _)| rules.fold(&table))
        .collect();
        let mut existing: HashMap<String, Vec<(String, bool)>> = HashMap::new();
        // Tables, views and indexes share one namespace in SQLite.
        for (name, is_table) in like(
            "SELECT name, type='table' FROM sqlite_master \
             WHERE type IN ('table','view','index') AND name LIKE ?1 ESCAPE '\\'",
            "listing tables",
        )? {
            existing
                .entry(rules.fold(&name))
                .or_default()
                .push((name, is_table));
        }
        choose(rules, path, &claimed, &existing, "sqlite")
    }
}

/// Every `(path, table_name)` of `tinystore_rooms`.
fn recorded(conn: &Connection) -> Result<Vec<(String, String)>, PersistError> {
    let mut stmt = conn
        .prepare(&format!("SELECT path, table_name FROM {ROOMS_TABLE}"))
        .map_err(sql("reading the rooms table"))?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(sql("reading the rooms table"))?;
    rows.collect::<Result<_, _>>()
        .map_err(sql("reading the rooms table"))
}

/// The recorded table of `path`, if any.
fn claimed(conn: &Connection, path: &str) -> Result<Option<String>, PersistError> {
    conn.query_row(
        &format!("SELECT table_name FROM {ROOMS_TABLE} WHERE path=?1"),
        [path],
        |r| r.get(0),
    )
    .optional()
    .map_err(sql("reading a room's table"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MergeableStore;
    use crate::hash::fnv1a;
    use crate::persist::Persister;
    use crate::persist::room_names::candidate;
    use crate::persist::sqlite::{SqliteJsonConfig, SqlitePersistence};
    use proptest::prelude::*;
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    /// A database file of its own under the temp directory, removed on drop.
    struct TempDb(PathBuf);

    impl TempDb {
        fn new(tag: &str) -> TempDb {
            static N: AtomicUsize = AtomicUsize::new(0);
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            TempDb(std::env::temp_dir().join(format!(
                "tinystore-rooms-{tag}-{}-{nanos}-{}.sqlite",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            )))
        }

        fn connect(&self) -> Connection {
            let conn = Connection::open(&self.0).unwrap();
            conn.busy_timeout(Duration::from_secs(10)).unwrap();
            conn
        }
    }

    impl Drop for TempDb {
        fn drop(&mut self) {
            for ext in ["", "-wal", "-shm", "-journal"] {
                let mut p = self.0.clone().into_os_string();
                p.push(ext);
                let _ = std::fs::remove_file(p);
            }
        }
    }

    fn open(conn: &Connection) -> RoomTables {
        RoomTables::open(conn, IdentifierRules::SQLITE).unwrap()
    }

    /// Saves a room document with one cell through the real persister.
    fn save_room(db: &TempDb, table: &str, value: &str) {
        let store = MergeableStore::new(None);
        store.set_cell("t", "r", "c", value);
        let persistence = SqlitePersistence::open(&db.0, SqliteJsonConfig::table(table)).unwrap();
        Persister::try_new(&store, persistence)
            .unwrap()
            .save()
            .unwrap();
    }

    /// The room's store as loaded from its table.
    fn load_room(db: &TempDb, table: &str) -> String {
        let store = MergeableStore::new(None);
        let persistence = SqlitePersistence::open(&db.0, SqliteJsonConfig::table(table)).unwrap();
        Persister::try_new(&store, persistence)
            .unwrap()
            .load(None)
            .unwrap();
        store.get_json()
    }

    #[test]
    fn finding_1_rooms_differing_in_case_never_share_a_table() {
        let db = TempDb::new("case");
        let conn = db.connect();
        let rooms = open(&conn);
        let upper = rooms.claim(&conn, "Secret").unwrap();
        let lower = rooms.claim(&conn, "secret").unwrap();
        assert_eq!(upper, "tinybase_Secret");
        assert_ne!(upper.to_ascii_lowercase(), lower.to_ascii_lowercase());
        assert_eq!(
            lower,
            format!("tinybase_secret_{:08x}", fnv1a(b"secret")),
            "deterministic suffix"
        );

        save_room(&db, &upper, "upper");
        save_room(&db, &lower, "lower");
        // Reopened, in the other order: same tables, each room sees only its own data.
        drop(conn);
        let conn = db.connect();
        let rooms = open(&conn);
        assert_eq!(rooms.claim(&conn, "secret").unwrap(), lower);
        assert_eq!(rooms.claim(&conn, "Secret").unwrap(), upper);
        assert_eq!(load_room(&db, &upper), r#"[{"t":{"r":{"c":"upper"}}},{}]"#);
        assert_eq!(load_room(&db, &lower), r#"[{"t":{"r":{"c":"lower"}}},{}]"#);
    }

    #[test]
    fn finding_2_suffix_look_alikes_never_share_a_table() {
        assert_eq!(format!("{:08x}", fnv1a(b"p/q")), "52d13223");
        let db = TempDb::new("suffix");
        let conn = db.connect();
        let rooms = open(&conn);
        let first = rooms.claim(&conn, "p_q_52d13223").unwrap();
        let dash = rooms.claim(&conn, "p-q").unwrap();
        let slash = rooms.claim(&conn, "p/q").unwrap();
        assert_eq!(first, "tinybase_p_q_52d13223");
        assert_eq!(dash, "tinybase_p_q");
        // `p/q`'s first suffixed name is the first room's plain one: it takes the next.
        assert_eq!(slash, "tinybase_p_q_52d13223_2");
        let names: HashSet<String> = [&first, &dash, &slash]
            .iter()
            .map(|t| t.to_ascii_lowercase())
            .collect();
        assert_eq!(names.len(), 3);

        for (table, value) in [(&first, "first"), (&dash, "dash"), (&slash, "slash")] {
            save_room(&db, table, value);
        }
        for (table, value) in [(&first, "first"), (&dash, "dash"), (&slash, "slash")] {
            assert_eq!(
                load_room(&db, table),
                format!(r#"[{{"t":{{"r":{{"c":"{value}"}}}}}},{{}}]"#)
            );
        }
        let rows: i64 = conn
            .query_row("SELECT count(*) FROM tinystore_rooms", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 3, "every claim is recorded");
    }

    #[test]
    fn an_existing_table_of_another_case_is_not_adopted() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(r#"CREATE TABLE "tinybase_secret"(_id PRIMARY KEY, store)"#)
            .unwrap();
        let rooms = open(&conn);
        let table = rooms.claim(&conn, "Secret").unwrap();
        assert!(table.starts_with("tinybase_Secret_"), "{table}");
        assert_eq!(rooms.claim(&conn, "secret").unwrap(), "tinybase_secret");
        // An index's name is taken too.
        conn.execute_batch(r#"CREATE INDEX "tinybase_Idx" ON tinybase_secret(store)"#)
            .unwrap();
        assert!(
            rooms
                .claim(&conn, "idx")
                .unwrap()
                .starts_with("tinybase_idx_")
        );
    }

    #[test]
    fn the_start_up_check_refuses_a_database_aliased_by_the_old_code() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE tinystore_rooms(path TEXT PRIMARY KEY, table_name TEXT UNIQUE NOT NULL);
             INSERT INTO tinystore_rooms VALUES('a','tinybase_a');
             INSERT INTO tinystore_rooms VALUES('Secret','tinybase_Secret');
             INSERT INTO tinystore_rooms VALUES('secret','tinybase_secret');",
        )
        .unwrap();
        let err = RoomTables::open(&conn, IdentifierRules::SQLITE).unwrap_err();
        assert_eq!(
            err,
            PersistError::AliasedRooms {
                aliases: vec![
                    ("Secret".into(), "tinybase_Secret".into()),
                    ("secret".into(), "tinybase_secret".into()),
                ]
            }
        );
        let message = err.to_string();
        for needle in [
            r#""Secret" -> tinybase_Secret"#,
            r#""secret" -> tinybase_secret"#,
            "mixed",
            "UPDATE tinystore_rooms SET table_name=",
            "WHERE path=",
            "DELETE FROM tinystore_rooms",
        ] {
            assert!(
                message.contains(needle),
                "{needle:?} missing from: {message}"
            );
        }

        // The repair the message describes makes it open, with the tables kept.
        conn.execute_batch(
            "UPDATE tinystore_rooms SET table_name='tinybase_secret_2' WHERE path='secret'",
        )
        .unwrap();
        let rooms = open(&conn);
        assert_eq!(rooms.claim(&conn, "Secret").unwrap(), "tinybase_Secret");
        assert_eq!(rooms.claim(&conn, "secret").unwrap(), "tinybase_secret_2");
    }

    #[test]
    fn a_clean_database_opens_and_keeps_its_claims() {
        let db = TempDb::new("clean");
        {
            let conn = db.connect();
            let rooms = open(&conn);
            rooms.claim(&conn, "a-b").unwrap();
            rooms.claim(&conn, "a/b").unwrap();
        }
        let conn = db.connect();
        let rooms = open(&conn);
        assert_eq!(rooms.claim(&conn, "a/b").unwrap(), "tinybase_a_b_3a8e75c1");
        assert_eq!(rooms.claim(&conn, "a-b").unwrap(), "tinybase_a_b");
        assert_eq!(rooms.rules(), IdentifierRules::SQLITE);
    }

    #[test]
    fn a_database_written_by_tinybase_s_server_is_adopted() {
        let db = TempDb::new("tinybase");
        let source = MergeableStore::new(None);
        source.set_cell("pets", "fido", "species", "dog");
        {
            // What TinyBase's server leaves: the room's table, no tinystore_rooms.
            let conn = db.connect();
            conn.execute_batch(r#"CREATE TABLE "tinybase_petShop"("_id" PRIMARY KEY,"store")"#)
                .unwrap();
            conn.execute(
                r#"INSERT INTO "tinybase_petShop"("_id","store") VALUES('_',?1)"#,
                [source.get_mergeable_content_json()],
            )
            .unwrap();
        }
        let conn = db.connect();
        let rooms = open(&conn);
        assert_eq!(rooms.claim(&conn, "petShop").unwrap(), "tinybase_petShop");
        // A case variant of it is another room.
        assert_ne!(
            rooms.claim(&conn, "petshop").unwrap().to_ascii_lowercase(),
            "tinybase_petshop"
        );
        assert_eq!(
            load_room(&db, "tinybase_petShop"),
            r#"[{"pets":{"fido":{"species":"dog"}}},{}]"#
        );
    }

    #[test]
    fn concurrent_claims_through_separate_connections_agree() {
        let db = TempDb::new("threads");
        {
            let conn = db.connect();
            conn.execute_batch("PRAGMA journal_mode=WAL").unwrap();
            open(&conn);
        }
        let paths: Vec<String> = ["Room", "room", "ROOM", "r-o", "r/o", "r_o", "", "é"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let barrier = std::sync::Barrier::new(4);
        let results: Vec<Vec<(String, String)>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|t| {
                    let (db, paths, barrier) = (&db, &paths, &barrier);
                    s.spawn(move || {
                        let conn = db.connect();
                        let rooms = open(&conn);
                        barrier.wait();
                        let mut order: Vec<&String> = paths.iter().collect();
                        order.rotate_left(t * 3 % paths.len());
                        if t % 2 == 1 {
                            order.reverse();
                        }
                        order
                            .into_iter()
                            .map(|p| (p.clone(), rooms.claim(&conn, p).unwrap()))
                            .collect()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut tables: HashMap<String, String> = HashMap::new();
        for (path, table) in results.into_iter().flatten() {
            let known = tables.entry(path.clone()).or_insert_with(|| table.clone());
            assert_eq!(*known, table, "{path:?} got two tables");
        }
        let folded: HashSet<String> = tables.values().map(|t| t.to_ascii_lowercase()).collect();
        assert_eq!(folded.len(), paths.len());
    }

    #[test]
    fn postgres_names_fit_63_bytes_and_cut_the_base_not_the_suffix() {
        let rules = IdentifierRules::POSTGRES;
        let long = "x".repeat(5000);
        let plain = candidate(rules, &long, 0);
        assert_eq!(plain.len(), 63);
        let suffixed = candidate(rules, &long, 1);
        assert_eq!(suffixed.len(), 63);
        assert!(suffixed.ends_with(&format!("_{:08x}", fnv1a(long.as_bytes()))));
        // A multi-byte base character is never split.
        let wide = "tinybase_".to_string() + &"é".repeat(40);
        assert!(rules.fit(&wide, "_12345678").len() <= 63);
        assert_eq!(
            IdentifierRules::SQLITE.fit(&wide, "_1"),
            format!("{wide}_1")
        );
        // Two long paths sharing their first 63 bytes are one name to PostgreSQL.
        let conn = Connection::open_in_memory().unwrap();
        let rooms = RoomTables::open(&conn, rules).unwrap();
        let a = rooms.claim(&conn, &format!("{long}a")).unwrap();
        let b = rooms.claim(&conn, &format!("{long}b")).unwrap();
        assert_eq!(a, plain);
        assert_ne!(rules.fold(&a), rules.fold(&b));
    }

    /// A path to start from: adversarial forms that sanitize, fold or hash alike.
    fn atom() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-cA-C_/\\-]{0,5}",
            "[sS][eE][cC]",
            Just(String::new()),
            Just("é".to_string()),
            Just("e\u{301}".to_string()),
            Just("\u{1F600}".to_string()),
            Just("\u{1F600}x".to_string()),
            Just("__x".to_string()),
            (
                1usize..4,
                prop::sample::select(vec!["a", "A/", "é", "\u{1F600}"])
            )
                .prop_map(|(n, s)| s.repeat(n * 1000)),
            ".{0,6}",
        ]
    }

    /// Paths whose plain names equal other paths' candidates (under each rule set).
    fn look_alikes(paths: &[String]) -> Vec<String> {
        let mut out = Vec::new();
        for path in paths {
            for rules in [IdentifierRules::SQLITE, IdentifierRules::POSTGRES] {
                for k in 0..3 {
                    let name = candidate(rules, path, k);
                    let body = name.strip_prefix("tinybase_").unwrap().to_string();
                    out.push(body.to_ascii_uppercase());
                    out.push(body);
                }
            }
        }
        out
    }

    fn swap_case(s: &str) -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_lowercase() {
                    c.to_ascii_uppercase()
                } else {
                    c.to_ascii_lowercase()
                }
            })
            .collect()
    }

    /// Path sets and two claim orders, plus which paths had a TinyBase table beforehand.
    fn scenario() -> impl Strategy<Value = (Vec<String>, Vec<String>, Vec<bool>)> {
        prop::collection::vec(atom(), 1..6).prop_flat_map(|atoms| {
            let mut paths = atoms.clone();
            paths.extend(atoms.iter().map(|a| swap_case(a)));
            paths.extend(look_alikes(&atoms));
            paths.sort();
            paths.dedup();
            let n = paths.len();
            (
                Just(paths.clone()).prop_shuffle(),
                Just(paths).prop_shuffle(),
                prop::collection::vec(prop::bool::weighted(0.2), n),
            )
        })
    }

    fn check_claims(
        rules: IdentifierRules,
        first: &[String],
        second: &[String],
        pre: &[bool],
    ) -> Result<(), TestCaseError> {
        let db = TempDb::new("prop");
        let mut existing: Vec<String> = Vec::new();
        let mut tables: HashMap<String, String> = HashMap::new();
        {
            let conn = db.connect();
            conn.execute_batch("PRAGMA journal_mode=MEMORY; PRAGMA synchronous=OFF")
                .unwrap();
            // Some rooms already have a table as TinyBase's server names it.
            for (path, _) in first.iter().zip(pre).filter(|(_, pre)| **pre) {
                let name = candidate(rules, path, 0);
                let created = conn.execute_batch(&format!(
                    "CREATE TABLE {}(_id PRIMARY KEY, store)",
                    crate::persist::sqlite::quote_identifier(&name)
                ));
                if created.is_ok() {
                    existing.push(name);
                }
            }
            let rooms = RoomTables::open(&conn, rules).unwrap();
            // The first half now, the rest after a restart.
            let half = first.len() / 2;
            for path in &first[..half] {
                let table = rooms.claim(&conn, path).unwrap();
                tables.insert(path.clone(), table);
            }
            drop(conn);
            let conn = db.connect();
            let rooms = RoomTables::open(&conn, rules).unwrap();
            for path in &first[half..] {
                let table = rooms.claim(&conn, path).unwrap();
                tables.insert(path.clone(), table);
            }
        }
        // Distinct paths, distinct tables under the rules' folding.
        let mut owners: HashMap<String, &String> = HashMap::new();
        for (path, table) in &tables {
            if let Some(max) = rules.max_len {
                prop_assert!(table.len() <= max, "{table} longer than {max}");
            }
            if let Some(other) = owners.insert(rules.fold(table), path) {
                prop_assert!(false, "{other:?} and {path:?} share {table}");
            }
        }
        // A table that existed is only ever used by the path it was named for.
        // (`a-b` may adopt the table made for `a/b`: TinyBase's server shares it too.)
        for name in &existing {
            if let Some(user) = owners.get(&rules.fold(name)) {
                prop_assert_eq!(&candidate(rules, user, 0), name, "adopted by another room");
                prop_assert_eq!(&tables[*user], name);
            }
        }
        // Reopened, in another order: the same path gets the same table.
        let conn = db.connect();
        let rooms = RoomTables::open(&conn, rules).unwrap();
        for path in second {
            prop_assert_eq!(&rooms.claim(&conn, path).unwrap(), &tables[path]);
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        #[test]
        fn adversarial_paths_get_distinct_stable_tables(
            (first, second, pre) in scenario()
        ) {
            check_claims(IdentifierRules::SQLITE, &first, &second, &pre)?;
            check_claims(IdentifierRules::POSTGRES, &first, &second, &pre)?;
        }
    }

    /// A server starting many rooms at once (10k clients joining 1,000 rooms): every room's
    /// first save and claim must get through, however many wait for the file's write lock.
    #[test]
    fn many_rooms_saving_at_once_all_get_through() {
        use crate::MergeableStore;
        use crate::persist::Persister;
        let db = TempDb::new("many");
        let rooms = std::sync::Arc::new(RoomDatabase::open(&db.0).unwrap());
        let failures = std::sync::Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..150)
            .map(|i| {
                let (rooms, failures) = (rooms.clone(), failures.clone());
                std::thread::spawn(move || {
                    let store = MergeableStore::new(None);
                    let saved = rooms.room(&format!("room{i}")).and_then(|storage| {
                        let persister = Persister::try_new(&store, storage)?;
                        persister.load(None)?;
                        for n in 0..3 {
                            store.set_cell("t", &format!("r{n}"), "c", n);
                            persister.save()?;
                        }
                        Ok(())
                    });
                    if let Err(e) = saved {
                        eprintln!("room{i}: {e}");
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(failures.load(Ordering::Relaxed), 0);
    }

    /// The rooms' writes queue on the database's shared connection in the process rather
    /// than polling SQLite's write lock: a save waits while another holds it, then succeeds.
    #[test]
    fn a_rooms_save_waits_its_turn_instead_of_failing() {
        use crate::MergeableStore;
        use crate::persist::Persister;
        let db = TempDb::new("turns");
        let rooms = std::sync::Arc::new(RoomDatabase::open(&db.0).unwrap());
        let store = MergeableStore::new(None);
        store.set_value("open", true);
        let persister = Persister::try_new(&store, rooms.room("a").unwrap()).unwrap();
        let turn = rooms.conn.lock().unwrap();
        let saving = std::thread::spawn(move || persister.save().map(|_| ()));
        std::thread::sleep(Duration::from_millis(300));
        assert!(!saving.is_finished(), "the save did not wait for its turn");
        drop(turn);
        saving.join().unwrap().unwrap();
        let copy = MergeableStore::new(None);
        Persister::try_new(&copy, rooms.room("a").unwrap())
            .unwrap()
            .load(None)
            .unwrap();
        assert_eq!(copy.get_json(), store.get_json());
    }
}
