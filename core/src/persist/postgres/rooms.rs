//! A sync server's rooms in PostgreSQL: each room path claims a JSON-mode table named as
//! TinyBase's server names it (`tinybase_<path>`, see [`crate::persist::room_names`]), under
//! PostgreSQL's identifier rules (names compared ignoring ASCII case, cut at 63 bytes), and the
//! claims are recorded in `tinystore_rooms` so every process and every restart maps a path to
//! the same table. Claims are serialized across processes by an advisory lock.
//!
//! A room's persistence is [merging](super::PostgresPersistence::merging): several server
//! processes keep the same room in one table without losing each other's changes.

use std::collections::{HashMap, HashSet};

use super::connection::pg_err;
use super::{PostgresDatabase, PostgresPersistence};
use crate::hash::fnv1a;
use crate::persist::PersistError;
use crate::persist::config::JsonConfig;
use crate::persist::room_names::{IdentifierRules, check_aliases, choose};

/// The table recording which table each room path uses (the same as in SQLite).
pub const ROOMS_TABLE: &str = "tinystore_rooms";

/// The advisory lock key serializing claims (and the rooms table's creation).
fn claims_lock() -> i64 {
    i64::from(fnv1a(b"tinystore_rooms"))
}

/// The rooms of a sync server in one PostgreSQL database.
///
/// ```no_run
/// use tinystore_core::persist::postgres::rooms::PostgresRooms;
/// let rooms = PostgresRooms::open("postgres://postgres@127.0.0.1:5432/app").unwrap();
/// assert_eq!(rooms.claim("pets/shop").unwrap(), "tinybase_pets_shop");
/// ```
#[derive(Debug, Clone)]
pub struct PostgresRooms {
    db: PostgresDatabase,
    rules: IdentifierRules,
}

impl PostgresRooms {
    /// Connects, creates `tinystore_rooms` if absent and checks it: recorded rooms whose tables
    /// PostgreSQL treats as one are refused with [`PersistError::AliasedRooms`].
    ///
    /// ```
    /// use tinystore_core::persist::{PersistErrorKind, postgres::rooms::PostgresRooms};
    /// // A malformed URL fails before any connection is tried.
    /// let err = PostgresRooms::open("postgres://app@localhost:port/app").unwrap_err();
    /// assert_eq!(err.kind(), PersistErrorKind::Storage);
    /// ```
    pub fn open(url: &str) -> Result<PostgresRooms, PersistError> {
        let db = PostgresDatabase::connect(url)?;
        let rules = IdentifierRules::POSTGRES;
        let recorded = db.transaction(async |client| {
            client
                .query("SELECT pg_advisory_xact_lock($1)", &[&claims_lock()])
                .await
                .map_err(pg_err("locking the rooms table"))?;
            client
                .batch_execute(&format!(
                    "CREATE TABLE IF NOT EXISTS {ROOMS_TABLE}(path text PRIMARY KEY, table_name text UNIQUE NOT NULL)"
                ))
                .await
                .map_err(pg_err("creating the rooms table"))?;
            recorded(client).await
        })?;
        check_aliases(rules, recorded)?;
        Ok(PostgresRooms { db, rules })
    }

    /// The database.
    ///
    /// ```no_run
    /// use tinystore_core::persist::postgres::rooms::PostgresRooms;
    /// let rooms = PostgresRooms::open("postgres://postgres@127.0.0.1:5432/app")?;
    /// assert!(rooms.database().is_connected());
    /// # Ok::<(), tinystore_core::persist::PersistError>(())
    /// ```
    pub fn database(&self) -> &PostgresDatabase {
        &self.db
    }

    /// The table of `path`: the one recorded for it, or a newly chosen free name (the plain
    /// TinyBase name when free, adopting a table TinyBase's server wrote for this path),
    /// recorded before it is returned.
    ///
    /// ```no_run
    /// use tinystore_core::persist::postgres::rooms::PostgresRooms;
    /// let rooms = PostgresRooms::open("postgres://postgres@127.0.0.1:5432/app")?;
    /// let table = rooms.claim("Pets")?;
    /// // PostgreSQL folds case: `pets` would share the table, so it gets its own name.
    /// assert_ne!(rooms.claim("pets")?, table);
    /// assert_eq!(rooms.claim("Pets")?, table);
    /// # Ok::<(), tinystore_core::persist::PersistError>(())
    /// ```
    pub fn claim(&self, path: &str) -> Result<String, PersistError> {
        let rules = self.rules;
        self.db.transaction(async |client| {
            client
                .query("SELECT pg_advisory_xact_lock($1)", &[&claims_lock()])
                .await
                .map_err(pg_err("locking the rooms table"))?;
            let found = client
                .query(
                    &format!("SELECT table_name FROM {ROOMS_TABLE} WHERE path=$1"),
                    &[&path],
                )
                .await
                .map_err(pg_err("reading a room's table"))?;
            if let Some(row) = found.first() {
                return row.try_get(0).map_err(pg_err("reading a room's table"));
            }
            let claimed: HashSet<String> = recorded(client)
                .await?
                .into_iter()
                .map(|(_, table)| rules.fold(&table))
                .collect();
            // Tables, views, indexes and sequences share one namespace per schema.
            let relations = client
                .query(
                    "SELECT c.relname::text, c.relkind IN ('r','p') FROM pg_class c \
                     JOIN pg_namespace n ON n.oid=c.relnamespace WHERE n.nspname='public'",
                    &[],
                )
                .await
                .map_err(pg_err("listing tables"))?;
            let mut existing: HashMap<String, Vec<(String, bool)>> = HashMap::new();
            for row in relations {
                let name: String = row.try_get(0).map_err(pg_err("listing tables"))?;
                let is_table: bool = row.try_get(1).map_err(pg_err("listing tables"))?;
                existing
                    .entry(rules.fold(&name))
                    .or_default()
                    .push((name, is_table));
            }
            let table = choose(rules, path, &claimed, &existing, "postgres")?;
            client
                .execute(
                    &format!("INSERT INTO {ROOMS_TABLE}(path, table_name) VALUES($1, $2)"),
                    &[&path, &table],
                )
                .await
                .map_err(pg_err("recording a room's table"))?;
            Ok(table)
        })
    }

    /// The storage of room `path` (its table claimed first): JSON mode, merging.
    ///
    /// ```no_run
    /// use tinystore_core::persist::{Persister, postgres::rooms::PostgresRooms};
    /// use tinystore_core::MergeableStore;
    /// let rooms = PostgresRooms::open("postgres://postgres@127.0.0.1:5432/app")?;
    /// let store = MergeableStore::new(None);
    /// let persister = Persister::new(&store, rooms.room("pets/shop")?);
    /// persister.start_auto_save()?;
    /// # Ok::<(), tinystore_core::persist::PersistError>(())
    /// ```
    pub fn room(&self, path: &str) -> Result<PostgresPersistence, PersistError> {
        let table = self.claim(path)?;
        Ok(PostgresPersistence::new(&self.db, JsonConfig::table(table)).merging())
    }
}

async fn recorded(client: &tokio_postgres::Client) -> Result<Vec<(String, String)>, PersistError> {
    client
        .query(&format!("SELECT path, table_name FROM {ROOMS_TABLE}"), &[])
        .await
        .map_err(pg_err("reading the rooms table"))?
        .into_iter()
        .map(|row| {
            Ok((
                row.try_get(0).map_err(pg_err("reading the rooms table"))?,
                row.try_get(1).map_err(pg_err("reading the rooms table"))?,
            ))
        })
        .collect()
}
