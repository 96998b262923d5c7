//! Server-side room stores: each room of a [`WsServer`](super::server::WsServer) gets a
//! MergeableStore that takes part in the room as client `S`, either in memory only
//! ([`memory_rooms`]) or persisted to SQLite in JSON mode, one table per room, as the kit's
//! TinyBase server does ([`sqlite_rooms`]: `tinybase_<path>`, with characters other than
//! `[A-Za-z0-9_]` replaced by `_`).
//!
//! Two paths can sanitize to the same table name (`a-b` and `a/b`). The first path to claim a
//! name keeps it; later ones get a hash suffix. Claims are recorded in the database (table
//! `tinystore_rooms`), so every restart maps each path to the same table.

#[cfg(feature = "sqlite")]
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::protocol::Message;
use super::server::{RoomPeer, RoomPeerFactory, RoomSender};
use super::synchronizer::{SyncError, Synchronizer, SynchronizerOptions, Transport};
#[cfg(feature = "sqlite")]
use crate::hash::fnv1a;
use crate::mergeable::MergeableStore;
#[cfg(feature = "sqlite")]
use crate::persist::PersistError;
use crate::persist::Persister;
#[cfg(feature = "sqlite")]
use crate::persist::sqlite::{Connection, SqliteJsonConfig, SqlitePersistence};

/// The kit's table name for a path: `tinybase_` + the path with every character other than
/// `[A-Za-z0-9_]` replaced by `_` (`tinybase__` for the empty path).
///
/// ```
/// use tinystore_core::sync::rooms::table_for_path;
/// assert_eq!(table_for_path("petShop"), "tinybase_petShop");
/// assert_eq!(table_for_path("a/b-c"), "tinybase_a_b_c");
/// assert_eq!(table_for_path(""), "tinybase__");
/// ```
pub fn table_for_path(path: &str) -> String {
    // JavaScript's regex replaces UTF-16 code units: a character outside the BMP becomes two.
    let sanitized: String = path
        .chars()
        .flat_map(|c| {
            let n = if c.is_ascii_alphanumeric() || c == '_' {
                0
            } else {
                c.len_utf16()
            };
            std::iter::repeat_n('_', n).chain((n == 0).then_some(c))
        })
        .collect();
    if sanitized.is_empty() {
        "tinybase__".into()
    } else {
        format!("tinybase_{sanitized}")
    }
}

#[cfg(feature = "sqlite")]
const ROOMS_TABLE: &str = "tinystore_rooms";

/// The table of `path` in the database at `conn`, claiming one if the path is new.
#[cfg(feature = "sqlite")]
fn claim_table(conn: &Connection, path: &str) -> Result<String, PersistError> {
    let err = |e: rusqlite::Error| PersistError::Io(format!("sqlite: {e}"));
    conn.execute_batch(&format!(
        "CREATE TABLE IF NOT EXISTS {ROOMS_TABLE}(path TEXT PRIMARY KEY, table_name TEXT UNIQUE NOT NULL)"
    ))
    .map_err(err)?;
    let known: Option<String> = conn
        .query_row(
            &format!("SELECT table_name FROM {ROOMS_TABLE} WHERE path=?1"),
            [path],
            |r| r.get(0),
        )
        .ok();
    if let Some(table) = known {
        return Ok(table);
    }
    let plain = table_for_path(path);
    let taken: bool = conn
        .query_row(
            &format!("SELECT count(*) FROM {ROOMS_TABLE} WHERE table_name=?1"),
            [&plain],
            |r| r.get::<_, i64>(0),
        )
        .map_err(err)?
        > 0;
    let table = if taken {
        format!("{plain}_{:08x}", fnv1a(path.as_bytes()))
    } else {
        plain
    };
    conn.execute(
        &format!("INSERT OR IGNORE INTO {ROOMS_TABLE}(path, table_name) VALUES(?1, ?2)"),
        [path, &table],
    )
    .map_err(err)?;
    Ok(table)
}

struct RoomTransport(RoomSender);

impl Transport for RoomTransport {
    fn send(&self, to: Option<&str>, remainder: String) {
        self.0.send(to, remainder);
    }
}

/// One room's store, persister and synchronizer.
struct StoreRoom {
    sync: Synchronizer,
    persister: Option<Persister>,
    stopped: Mutex<bool>,
}

impl RoomPeer for StoreRoom {
    fn receive(&self, from: &str, message: Message) {
        self.sync.receive(from, message);
    }

    fn stop(&self) {
        let mut stopped = self.stopped.lock().unwrap_or_else(|e| e.into_inner());
        if *stopped {
            return;
        }
        *stopped = true;
        self.sync.destroy();
        if let Some(persister) = &self.persister {
            if let Err(e) = persister.save() {
                tracing::warn!(error = %e, "saving a room failed");
            }
            persister.destroy();
        }
    }
}

/// Called with each room's path and store when the room starts (to watch or seed it).
pub type RoomHook = Arc<dyn Fn(&str, &MergeableStore) + Send + Sync>;

/// Options of [`sqlite_rooms`] and [`memory_rooms`].
#[derive(Clone)]
pub struct RoomOptions {
    /// The room synchronizers' request timeout (TinyBase's server passes its own).
    pub request_timeout: Duration,
    /// Called when a room's store is ready, before it joins the room.
    pub on_room: Option<RoomHook>,
}

impl Default for RoomOptions {
    fn default() -> Self {
        RoomOptions {
            request_timeout: super::synchronizer::DEFAULT_REQUEST_TIMEOUT,
            on_room: None,
        }
    }
}

impl std::fmt::Debug for RoomOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoomOptions")
            .field("request_timeout", &self.request_timeout)
            .field("on_room", &self.on_room.is_some())
            .finish()
    }
}

/// A [`RoomPeerFactory`] whose rooms keep a MergeableStore in memory only (lost when the room's
/// last client leaves): a server that also answers for the room, as TinyBase's server does with
/// a no-op persister.
pub fn memory_rooms(options: RoomOptions) -> RoomPeerFactory {
    Arc::new(move |path: &str, sender: RoomSender| {
        let store = MergeableStore::new(None);
        Some(join_room(path, store, None, sender, &options))
    })
}

/// The room's synchronizer on `store`, joined to the room.
fn join_room(
    path: &str,
    store: MergeableStore,
    persister: Option<Persister>,
    sender: RoomSender,
    options: &RoomOptions,
) -> Arc<dyn RoomPeer> {
    if let Some(hook) = &options.on_room {
        hook(path, &store);
    }
    let log_path = path.to_string();
    let sync = Synchronizer::with_options(
        &store,
        Arc::new(RoomTransport(sender)),
        SynchronizerOptions {
            request_timeout: Some(options.request_timeout),
            on_ignored_error: Some(Arc::new(move |e: &SyncError| {
                tracing::debug!(path = %log_path, error = %e, "room synchronizer");
            })),
            ..Default::default()
        },
    );
    sync.start_sync_detached(None);
    Arc::new(StoreRoom {
        sync,
        persister,
        stopped: Mutex::new(false),
    })
}

/// A [`RoomPeerFactory`] that keeps every room in the SQLite database at `db` (created if
/// absent), one JSON-mode table per room.
#[cfg(feature = "sqlite")]
pub fn sqlite_rooms(db: impl AsRef<Path>, options: RoomOptions) -> RoomPeerFactory {
    let db: PathBuf = db.as_ref().to_path_buf();
    // Rooms start concurrently; claiming a table name must not race.
    let claims = Arc::new(Mutex::new(()));
    Arc::new(move |path: &str, sender: RoomSender| {
        match start_room(&db, path, sender, &options, &claims) {
            Ok(peer) => Some(peer),
            Err(e) => {
                // Without its store the room still relays between clients.
                tracing::warn!(path, error = %e, "room store unavailable; relaying only");
                None
            }
        }
    })
}

#[cfg(feature = "sqlite")]
fn start_room(
    db: &Path,
    path: &str,
    sender: RoomSender,
    options: &RoomOptions,
    claims: &Mutex<()>,
) -> Result<Arc<dyn RoomPeer>, PersistError> {
    let table = {
        let _claim = claims.lock().unwrap_or_else(|e| e.into_inner());
        let conn = Connection::open(db).map_err(|e| PersistError::Io(format!("sqlite: {e}")))?;
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(|e| PersistError::Io(format!("sqlite: {e}")))?;
        // Rooms write concurrently through their own connections.
        let _ = conn.execute_batch("PRAGMA journal_mode=WAL");
        claim_table(&conn, path)?
    };
    let store = MergeableStore::new(None);
    let persistence = SqlitePersistence::open(db, SqliteJsonConfig::table(table))?;
    let persister = Persister::try_new(&store, persistence)?;
    let room_path = path.to_string();
    persister.set_on_ignored_error(move |e| {
        tracing::warn!(path = %room_path, error = %e, "room persister");
    });
    persister.load(None)?;
    persister.start_auto_save()?;
    Ok(join_room(path, store, Some(persister), sender, options))
}

#[cfg(all(test, feature = "sqlite"))]
mod tests {
    use super::*;

    #[test]
    fn tables_are_claimed_once_and_collisions_get_a_suffix() {
        let conn = Connection::open_in_memory().unwrap();
        assert_eq!(claim_table(&conn, "a-b").unwrap(), "tinybase_a_b");
        let other = claim_table(&conn, "a/b").unwrap();
        assert!(other.starts_with("tinybase_a_b_") && other.len() == "tinybase_a_b_".len() + 8);
        assert_eq!(claim_table(&conn, "a/b").unwrap(), other);
        assert_eq!(claim_table(&conn, "a-b").unwrap(), "tinybase_a_b");
        assert_eq!(table_for_path("\u{1F600}"), "tinybase___");
    }
}
