//! The PostgreSQL persister (feature `postgres`): TinyBase's `createPostgresPersister`, with its
//! tables, columns, types and configuration, so that TinyBase and tinystore read what the other
//! wrote and see each other's writes at once.
//!
//! - **JSON mode** (Store or MergeableStore): the document in the `store` column (`text`) of
//!   the row `_id = '_'` of one table (default `tinybase`).
//! - **Tabular mode** (plain Stores): a table per Store table with a `text` column per cell id,
//!   each cell stored as its `JSON.stringify` (`"dog"`, `4`, `true`, `null`); the Values in the
//!   row `_` of `tinybase_values`. Auto-save writes only the rows and columns a transaction
//!   changed.
//! - **Auto-load** through `LISTEN`/`NOTIFY` with TinyBase's own channel, functions and
//!   triggers (`notify.rs`): a write by any process (a TinyBase persister included) reaches
//!   every auto-loading persister of those tables at once; the auto-load interval is only the
//!   fallback poll.
//! - **Connection loss**: the command connection reconnects on its next use, the listener in
//!   the background with backoff and then has every persister load again (a change may have
//!   been missed). A save that failed is written in full by the next save, and an auto-loading
//!   persister retries it before loading again, so nothing written while the database was away
//!   is lost or overwritten by the load.
//!
//! ```no_run
//! use tinystore_core::persist::Persister;
//! use tinystore_core::persist::postgres::{PostgresDatabase, PostgresPersistence};
//! use tinystore_core::persist::config::JsonConfig;
//! use tinystore_core::Store;
//! let db = PostgresDatabase::connect("postgres://postgres@127.0.0.1:5432/app").unwrap();
//! let store = Store::new();
//! let persister = Persister::new(&store, PostgresPersistence::new(&db, JsonConfig::table("pets")));
//! persister
//!     .start_auto_persisting(None, std::time::Duration::from_secs(1), false)
//!     .unwrap();
//! store.set_cell("pets", "fido", "species", "dog"); // saved before set_cell returns
//! ```

mod connection;
mod listen;
mod notify;
pub mod rooms;
mod tables;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

pub use connection::PostgresDatabase;

use self::listen::{Notice, Subscription};
use self::tables::{Decode, LoadedRow, Save, SavedRow, Schema};
use super::config::{JsonConfig, SqlMode, TabularConfig, ValueSelection, quote_identifier};
use super::{ChangeSignal, PersistError, Persisted, Persistence, Persists, Target};
use crate::content::{Changes, Row, Table, Tables, Values};
use crate::store::Store;
use crate::types::Cell;

/// What a notification left for the auto-load thread to do (the listener's callback runs on
/// the runtime and must not wait for the database).
#[derive(Debug, Default)]
struct Pending {
    /// Something changed: load.
    changed: AtomicBool,
    /// Managed tables just created by someone: give them their triggers first.
    created: Mutex<Vec<String>>,
    /// The listener reconnected: set the functions and triggers up again (someone may have
    /// dropped them meanwhile).
    reinstall: AtomicBool,
    /// Tokens of this persistence's own saves in flight: each save notifies `w:<token>` first
    /// and `e:<token>` last, and a transaction's notifications arrive together, in commit
    /// order, so what comes between is its own writing and does not make it load again.
    own: Mutex<Vec<String>>,
    /// Between the two markers of an own save.
    muted: AtomicBool,
}

impl Pending {
    /// Whether a notification should make the persister load.
    fn counts(&self, payload: &str) -> bool {
        if let Some(token) = payload.strip_prefix("w:") {
            if lock(&self.own).iter().any(|t| t == token) {
                self.muted.store(true, Ordering::SeqCst);
                return false;
            }
        } else if let Some(token) = payload.strip_prefix("e:") {
            let mut own = lock(&self.own);
            if let Some(i) = own.iter().position(|t| t == token) {
                own.remove(i);
                self.muted.store(false, Ordering::SeqCst);
                return false;
            }
        }
        !self.muted.load(Ordering::SeqCst)
    }
}

/// A store kept in PostgreSQL in TinyBase's layout; hand it to a [`super::Persister`].
///
/// ```no_run
/// use tinystore_core::persist::{Persister, config::TabularConfig};
/// use tinystore_core::persist::postgres::PostgresPersistence;
/// use tinystore_core::Store;
/// let store = Store::new();
/// store.set_cell("pets", "fido", "legs", 4);
/// let url = "postgres://postgres@127.0.0.1:5432/app";
/// let pg = PostgresPersistence::connect(url, TabularConfig::tables(&["pets"]))?;
/// Persister::new(&store, pg).save()?;
/// # Ok::<(), tinystore_core::persist::PersistError>(())
/// ```
pub struct PostgresPersistence {
    db: PostgresDatabase,
    mode: SqlMode,
    hash: u32,
    managed: Vec<String>,
    pending: Arc<Pending>,
    subscription: Option<Subscription>,
    /// See [`PostgresPersistence::merging`].
    merging: bool,
    /// The document as this persistence last read or wrote it (merging only).
    last: Option<String>,
    /// The tables and values hashes of the document last read (merging only).
    last_hashes: Option<(u32, u32)>,
}

/// The root hashes of a stored MergeableContent (`[[tables, time, hash], [values, time, hash]]`).
fn root_hashes(document: &str) -> Option<(u32, u32)> {
    let doc = crate::json::parse(document).ok()?;
    let hash = |i: usize| {
        doc.get(i)?
            .get(2)?
            .as_u64()
            .and_then(|h| u32::try_from(h).ok())
    };
    Some((hash(0)?, hash(1)?))
}

/// A stored MergeableContent as MergeableChanges (`[tables, values, 1]`), which a
/// MergeableStore merges instead of taking as its whole content.
fn as_changes(document: &str) -> Option<String> {
    let body = document.trim_end();
    (body.starts_with("[[") && body.ends_with(']'))
        .then(|| format!("{},1]", &body[..body.len() - 1]))
}

impl std::fmt::Debug for PostgresPersistence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresPersistence")
            .field("database", &self.db.label())
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl PostgresPersistence {
    /// Storage in `db`, laid out as `mode` ([`JsonConfig`] or [`TabularConfig`]).
    ///
    /// ```no_run
    /// use tinystore_core::persist::{Persister, config::JsonConfig};
    /// use tinystore_core::persist::postgres::{PostgresDatabase, PostgresPersistence};
    /// use tinystore_core::Store;
    /// // One database, its connections shared by the persisters of two stores.
    /// let db = PostgresDatabase::connect("postgres://postgres@127.0.0.1:5432/app")?;
    /// let (pets, shop) = (Store::new(), Store::new());
    /// Persister::new(&pets, PostgresPersistence::new(&db, JsonConfig::table("pets"))).load(None)?;
    /// Persister::new(&shop, PostgresPersistence::new(&db, JsonConfig::table("shop"))).load(None)?;
    /// # Ok::<(), tinystore_core::persist::PersistError>(())
    /// ```
    pub fn new(db: &PostgresDatabase, mode: impl Into<SqlMode>) -> PostgresPersistence {
        let mode = mode.into();
        PostgresPersistence {
            db: db.clone(),
            hash: notify::config_hash(&mode),
            managed: notify::managed_tables(&mode),
            mode,
            pending: Arc::default(),
            subscription: None,
            merging: false,
            last: None,
            last_hashes: None,
        }
    }

    /// For a MergeableStore in JSON mode: loads merge what is stored into the store (as
    /// changes) instead of replacing its content, and each save first merges what another
    /// writer stored since this one last read or wrote, under an advisory lock on the table,
    /// then writes the union. Several processes (sync servers sharing a room) can so keep one
    /// MergeableStore in one table: no process's changes are lost to another's save or load.
    /// TinyBase's persister on the same table still replaces what it loads and overwrites what
    /// it saves; its changes reach a merging persister all the same.
    ///
    /// ```no_run
    /// use tinystore_core::persist::{Persister, config::JsonConfig};
    /// use tinystore_core::persist::postgres::{PostgresDatabase, PostgresPersistence};
    /// use tinystore_core::MergeableStore;
    /// let db = PostgresDatabase::connect("postgres://postgres@127.0.0.1:5432/app")?;
    /// let (a, b) = (MergeableStore::new(None), MergeableStore::new(None));
    /// let merging = || PostgresPersistence::new(&db, JsonConfig::table("room")).merging();
    /// let (pa, pb) = (Persister::new(&a, merging()), Persister::new(&b, merging()));
    /// a.set_value("a", 1);
    /// b.set_value("b", 2);
    /// pa.save()?;
    /// pb.save()?; // merges `a` in before it writes
    /// pa.load(None)?;
    /// assert_eq!(a.get_values_json(), r#"{"a":1,"b":2}"#);
    /// # Ok::<(), tinystore_core::persist::PersistError>(())
    /// ```
    pub fn merging(mut self) -> PostgresPersistence {
        self.merging = true;
        self
    }

    /// Connects to `url` and keeps the store there (TinyBase's
    /// `createPostgresPersister(store, sql, config)`).
    ///
    /// ```
    /// use tinystore_core::persist::{PersistErrorKind, config::JsonConfig};
    /// use tinystore_core::persist::postgres::PostgresPersistence;
    /// // A malformed URL fails before any connection is tried.
    /// let url = "postgres://app@localhost:port/app";
    /// let err = PostgresPersistence::connect(url, JsonConfig::default()).unwrap_err();
    /// assert_eq!(err.kind(), PersistErrorKind::Storage);
    /// ```
    pub fn connect(
        url: &str,
        mode: impl Into<SqlMode>,
    ) -> Result<PostgresPersistence, PersistError> {
        Ok(PostgresPersistence::new(
            &PostgresDatabase::connect(url)?,
            mode,
        ))
    }

    /// The database (TinyBase's `getSql`).
    ///
    /// ```no_run
    /// use tinystore_core::persist::{config::JsonConfig, postgres::PostgresPersistence};
    /// let url = "postgres://postgres@127.0.0.1:5432/app";
    /// let pg = PostgresPersistence::connect(url, JsonConfig::default())?;
    /// assert_eq!(pg.database().label(), "127.0.0.1:5432/app");
    /// # Ok::<(), tinystore_core::persist::PersistError>(())
    /// ```
    pub fn database(&self) -> &PostgresDatabase {
        &self.db
    }

    /// The `NOTIFY` channel of this configuration (`tinybase_<hash>`), as TinyBase names it.
    ///
    /// ```no_run
    /// use tinystore_core::persist::{config::JsonConfig, postgres::PostgresPersistence};
    /// let url = "postgres://postgres@127.0.0.1:5432/app";
    /// let pg = PostgresPersistence::connect(url, JsonConfig::default())?;
    /// // What TinyBase's persister of the same configuration listens on.
    /// assert!(pg.channel().starts_with("tinybase_"));
    /// # Ok::<(), tinystore_core::persist::PersistError>(())
    /// ```
    pub fn channel(&self) -> String {
        notify::channel(self.hash)
    }

    fn read_json(&self, config: &JsonConfig) -> Result<Option<Persisted>, PersistError> {
        let managed = &self.managed;
        let text = self.db.transaction(async |client| {
            let schema = Schema::read(client, managed).await?;
            read_document(client, &schema, config).await
        })?;
        Ok(text.map(Persisted::Json))
    }

    fn read_tabular(&self, config: &TabularConfig) -> Result<Option<Persisted>, PersistError> {
        let managed = &self.managed;
        let (loaded, values) = self.db.transaction(async |client| {
            let schema = Schema::read(client, managed).await?;
            let mut loaded: Vec<(&str, Vec<LoadedRow>)> = Vec::new();
            for load in &config.load {
                if load.db_table == config.values_table
                    || loaded.iter().any(|(t, _)| *t == load.db_table)
                {
                    continue;
                }
                let rows = tables::load_table(
                    client,
                    &schema,
                    &load.db_table,
                    &load.row_id_column,
                    load.condition.as_deref(),
                    None,
                    Decode::Json,
                )
                .await?;
                loaded.push((&load.db_table, rows));
            }
            let values = match &config.values_load {
                ValueSelection::None => Some(Vec::new()),
                selection => {
                    let ids = match selection {
                        ValueSelection::Only(ids) => Some(ids.as_slice()),
                        _ => None,
                    };
                    tables::load_table(
                        client,
                        &schema,
                        &config.values_table,
                        "_id",
                        None,
                        ids,
                        Decode::Json,
                    )
                    .await?
                    .into_iter()
                    .find(|(id, _)| id == "_")
                    .map(|(_, cells)| cells)
                }
            };
            Ok((loaded, values))
        })?;
        let mut tables = Tables::new();
        for (db_table, rows) in loaded {
            if rows.is_empty() {
                continue;
            }
            let Some(load) = config.load.iter().find(|l| l.db_table == db_table) else {
                continue;
            };
            let mut table = Table::new();
            for (id, cells) in rows {
                let row: Row = cells
                    .into_iter()
                    .map(|(c, v)| (c, Cell::from_encoded_json(v)))
                    .collect();
                table.insert(id, row);
            }
            // As TinyBase's object of tables: a later database table of the same Store table wins.
            tables.insert(load.table_id.clone(), table);
        }
        let Some(values) = values else {
            return Ok((!tables.is_empty()).then(|| Persisted::Content(tables, Values::new())));
        };
        let values: Values = values
            .into_iter()
            .map(|(v, value)| (v, Cell::from_encoded_json(value)))
            .collect();
        Ok(Some(Persisted::Content(tables, values)))
    }

    fn write_tabular(
        &self,
        config: &TabularConfig,
        store: &Store,
        changes: Option<&Changes>,
    ) -> Result<(), PersistError> {
        let saves = tabular_saves(config, store, changes);
        let managed = &self.managed;
        let mark = self.marker();
        let result = self.db.transaction(async |client| {
            mark.begin(client).await?;
            let mut schema = Schema::read(client, managed).await?;
            for s in &saves {
                tables::save_table(client, &mut schema, s.as_save()).await?;
            }
            mark.end(client).await
        });
        mark.settle(&self.pending, result.is_ok());
        result
    }

    /// The markers of one save (none while not watching: nobody would be told of it).
    fn marker(&self) -> Marker {
        let token = self.subscription.as_ref().map(|_| {
            let token = format!("{:016x}", crate::js::random_u64());
            lock(&self.pending.own).push(token.clone());
            token
        });
        Marker {
            channel: self.channel(),
            token,
        }
    }

    /// Sets TinyBase's functions and triggers up, and the triggers of tables announced as
    /// created, when a notification or a reconnection asked for it.
    fn settle_triggers(&self) -> Result<(), PersistError> {
        if self.pending.reinstall.swap(false, Ordering::SeqCst) {
            let (mode, hash) = (&self.mode, self.hash);
            if let Err(e) = self
                .db
                .transaction(async |client| notify::install(client, mode, hash).await)
            {
                self.pending.reinstall.store(true, Ordering::SeqCst);
                return Err(e);
            }
        }
        let created = std::mem::take(&mut *lock(&self.pending.created));
        for table in created {
            let (mode, hash) = (&self.mode, self.hash);
            self.db.with_client(async |client| {
                notify::add_table_triggers(client, mode, hash, &table).await
            })?;
        }
        Ok(())
    }
}

/// The `w:` and `e:` notifications around one save (see [`Pending::own`]).
struct Marker {
    channel: String,
    token: Option<String>,
}

impl Marker {
    async fn notify(
        &self,
        client: &tokio_postgres::Client,
        kind: &str,
    ) -> Result<(), PersistError> {
        if let Some(token) = &self.token {
            client
                .execute(
                    "SELECT pg_notify($1,$2)",
                    &[&self.channel, &format!("{kind}:{token}")],
                )
                .await
                .map_err(connection::pg_err("marking a save"))?;
        }
        Ok(())
    }

    async fn begin(&self, client: &tokio_postgres::Client) -> Result<(), PersistError> {
        self.notify(client, "w").await
    }

    async fn end(&self, client: &tokio_postgres::Client) -> Result<(), PersistError> {
        self.notify(client, "e").await
    }

    /// A save that did not commit sends no notifications: forget its token.
    fn settle(&self, pending: &Pending, committed: bool) {
        if let (Some(token), false) = (&self.token, committed) {
            lock(&pending.own).retain(|t| t != token);
        }
    }
}

/// The JSON-mode document (row `_`'s store column), `None` when there is none.
async fn read_document(
    client: &tokio_postgres::Client,
    schema: &Schema,
    config: &JsonConfig,
) -> Result<Option<String>, PersistError> {
    let rows = tables::load_table(
        client,
        schema,
        &config.table,
        &config.id_column,
        None,
        None,
        Decode::Raw,
    )
    .await?;
    let Some((_, cells)) = rows.into_iter().find(|(id, _)| id == "_") else {
        return Ok(None);
    };
    match cells.into_iter().find(|(c, _)| *c == config.store_column) {
        Some((_, serde_json::Value::String(text))) => Ok(Some(text)),
        Some((_, serde_json::Value::Null)) | None => Ok(None),
        Some((_, other)) => Err(PersistError::content(format!(
            "the stored document is JSON of type {}, not text",
            match other {
                serde_json::Value::Object(_) => "object",
                serde_json::Value::Array(_) => "array",
                serde_json::Value::Bool(_) => "boolean",
                _ => "number",
            }
        ))),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// One table save with owned rows (built from the store before the database is touched).
struct OwnedSave {
    table: String,
    row_id_column: String,
    content: Option<Vec<SavedRow>>,
    delete_empty_columns: bool,
    delete_empty_table: bool,
    partial: bool,
    condition: Option<String>,
    sub_ids: Option<Vec<String>>,
}

impl OwnedSave {
    fn as_save(&self) -> Save<'_> {
        Save {
            table: &self.table,
            row_id_column: &self.row_id_column,
            content: self.content.as_deref(),
            delete_empty_columns: self.delete_empty_columns,
            delete_empty_table: self.delete_empty_table,
            partial: self.partial,
            condition: self.condition.as_deref(),
            sub_ids: self.sub_ids.as_deref(),
        }
    }
}

/// A cell as tabular mode stores it: its encoded `JSON.stringify`.
fn stored(cell: &Cell) -> String {
    let mut text = String::new();
    cell.write_encoded_json(&mut text);
    text
}

/// TinyBase's `saveTables` and `saveValues` for a full save (`changes` is `None`) or an
/// auto-save of a transaction's changes.
fn tabular_saves(
    config: &TabularConfig,
    store: &Store,
    changes: Option<&Changes>,
) -> Vec<OwnedSave> {
    let mut saves = Vec::new();
    let partial = changes.is_some();
    let mut seen: Vec<&str> = Vec::new();
    for save in &config.save {
        // TinyBase's save map is keyed by Store table: the first mapping of a table counts.
        if save.db_table == config.values_table || seen.contains(&save.table_id.as_str()) {
            continue;
        }
        seen.push(&save.table_id);
        let content = match changes {
            Some(changes) => {
                let Some(changed) = changes.tables.get(&save.table_id) else {
                    continue;
                };
                changed.as_ref().map(|rows| {
                    rows.iter()
                        .map(|(id, row)| {
                            let cells = row.as_ref().map(|cells| {
                                cells
                                    .iter()
                                    .map(|(c, v)| (c.clone(), v.as_ref().map(stored)))
                                    .collect()
                            });
                            (id.clone(), cells)
                        })
                        .collect()
                })
            }
            None => Some(store.map_rows(&save.table_id, |id, cells| {
                let cells = cells
                    .iter()
                    .map(|(c, v)| (c.to_string(), Some(stored(v))))
                    .collect();
                (id.to_string(), Some(cells))
            })),
        };
        let condition = save.condition.clone().or_else(|| {
            config
                .load
                .iter()
                .find(|l| l.db_table == save.db_table)
                .and_then(|l| l.condition.clone())
        });
        saves.push(OwnedSave {
            table: save.db_table.clone(),
            row_id_column: save.row_id_column.clone(),
            content,
            delete_empty_columns: save.delete_empty_columns,
            delete_empty_table: save.delete_empty_table,
            partial,
            condition,
            sub_ids: None,
        });
    }
    if !matches!(config.values_save, ValueSelection::None) {
        let ids = match &config.values_save {
            ValueSelection::Only(ids) => Some(ids.clone()),
            _ => None,
        };
        let cells: Vec<(String, Option<String>)> = match changes {
            Some(changes) => changes
                .values
                .iter()
                .filter(|(id, _)| ids.as_ref().is_none_or(|ids| ids.contains(id)))
                .map(|(id, v)| (id.clone(), v.as_ref().map(stored)))
                .collect(),
            None => {
                let values = store.get_values();
                match &ids {
                    Some(ids) => ids
                        .iter()
                        .filter_map(|id| values.get(id).map(|v| (id.clone(), Some(stored(v)))))
                        .collect(),
                    None => values
                        .iter()
                        .map(|(id, v)| (id.clone(), Some(stored(v))))
                        .collect(),
                }
            }
        };
        saves.push(OwnedSave {
            table: config.values_table.clone(),
            row_id_column: "_id".into(),
            content: Some(vec![("_".into(), Some(cells))]),
            delete_empty_columns: true,
            delete_empty_table: true,
            partial,
            condition: None,
            sub_ids: ids,
        });
    }
    saves
}

impl Persistence for PostgresPersistence {
    fn persists(&self) -> Persists {
        match self.mode {
            SqlMode::Tabular(_) => Persists::StoreOnly,
            SqlMode::Json(_) => Persists::StoreOrMergeableStore,
        }
    }

    fn writes_changes(&self) -> bool {
        matches!(self.mode, SqlMode::Tabular(_))
    }

    fn read(&mut self) -> Result<Option<Persisted>, PersistError> {
        match &self.mode {
            SqlMode::Json(config) => {
                let read = self.read_json(config)?;
                if !self.merging {
                    return Ok(read);
                }
                let Some(Persisted::Json(text)) = read else {
                    return Ok(read);
                };
                let merged = as_changes(&text).map(Persisted::Json);
                self.last_hashes = root_hashes(&text);
                self.last = Some(text.clone());
                Ok(Some(merged.unwrap_or(Persisted::Json(text))))
            }
            SqlMode::Tabular(config) => self.read_tabular(config),
        }
    }

    fn write(&mut self, target: &Target, changes: Option<&Changes>) -> Result<(), PersistError> {
        match &self.mode {
            SqlMode::Json(config) => {
                let managed = &self.managed;
                let mark = self.marker();
                let merge_into = match target {
                    Target::Mergeable(m) if self.merging => Some(m),
                    _ => None,
                };
                let last = self.last.as_deref();
                let result = self.db.transaction(async |client| {
                    mark.begin(client).await?;
                    let mut schema = Schema::read(client, managed).await?;
                    if let Some(store) = merge_into {
                        client
                            .query(
                                "SELECT pg_advisory_xact_lock($1)",
                                &[&i64::from(crate::hash::fnv1a(config.table.as_bytes()))],
                            )
                            .await
                            .map_err(connection::pg_err("locking the room's table"))?;
                        if schema.has_table(&config.table) {
                            // Writers that take no advisory lock (TinyBase) wait for this one.
                            client
                                .query(
                                    &format!(
                                        "SELECT 1 FROM{}WHERE{}='_' FOR UPDATE",
                                        quote_identifier(&config.table),
                                        quote_identifier(&config.id_column)
                                    ),
                                    &[],
                                )
                                .await
                                .map_err(connection::pg_err("locking the room's row"))?;
                        }
                        let stored = read_document(client, &schema, config).await?;
                        if let Some(stored) = stored.filter(|s| Some(s.as_str()) != last)
                            && let Some(changes) = as_changes(&stored)
                        {
                            store.apply_mergeable_changes_json(&changes)?;
                        }
                    }
                    // The document (megabytes for a large store) is moved into the row and
                    // taken back out afterwards, not copied.
                    let rows: Vec<SavedRow> = vec![(
                        "_".into(),
                        Some(vec![(config.store_column.clone(), Some(target.document()))]),
                    )];
                    tables::save_table(
                        client,
                        &mut schema,
                        Save {
                            table: &config.table,
                            row_id_column: &config.id_column,
                            content: Some(&rows),
                            delete_empty_columns: true,
                            delete_empty_table: true,
                            partial: false,
                            condition: None,
                            sub_ids: None,
                        },
                    )
                    .await?;
                    mark.end(client).await?;
                    Ok(rows)
                });
                mark.settle(&self.pending, result.is_ok());
                let rows = result?;
                if self.merging {
                    self.last = rows
                        .into_iter()
                        .next()
                        .and_then(|(_, cells)| cells?.into_iter().next()?.1);
                }
                Ok(())
            }
            SqlMode::Tabular(config) => self.write_tabular(config, target.store(), changes),
        }
    }

    fn changed(&mut self) -> Result<bool, PersistError> {
        self.settle_triggers()?;
        Ok(self.pending.changed.swap(false, Ordering::SeqCst))
    }

    fn watch(&mut self, signal: ChangeSignal) -> Result<bool, PersistError> {
        let (mode, hash) = (&self.mode, self.hash);
        self.db
            .transaction(async |client| notify::install(client, mode, hash).await)?;
        let pending = self.pending.clone();
        let managed = self.managed.clone();
        let subscription = self
            .db
            .listener()?
            .subscribe(&self.channel(), move |notice| {
                match notice {
                    Notice::Payload(payload) => {
                        if !pending.counts(payload) {
                            return;
                        }
                        let Some((created, table)) = notify::parse_payload(payload, &managed)
                        else {
                            return;
                        };
                        if created {
                            lock(&pending.created).push(table.to_string());
                        }
                    }
                    Notice::Resync => {
                        pending.reinstall.store(true, Ordering::SeqCst);
                        pending.muted.store(false, Ordering::SeqCst);
                    }
                }
                pending.changed.store(true, Ordering::SeqCst);
                signal();
            })?;
        self.subscription = Some(subscription);
        Ok(true)
    }

    fn unwatch(&mut self) {
        self.subscription = None;
    }

    fn needs_save_after_load(&mut self, target: &Target) -> bool {
        match target {
            Target::Mergeable(m) if self.merging => self
                .last_hashes
                .is_some_and(|stored| stored != m.get_mergeable_content_hashes()),
            _ => false,
        }
    }
}
