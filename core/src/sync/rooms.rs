//! Server-side room stores: each room of a [`WsServer`](super::server::WsServer) gets a
//! MergeableStore that takes part in the room as client `S`, either in memory only
//! ([`memory_rooms`]) or persisted to SQLite in JSON mode, one table per room, as the kit's
//! TinyBase server does ([`sqlite_rooms`]: `tinybase_<path>`, with characters other than
//! `[A-Za-z0-9_]` replaced by `_`).
//!
//! Two paths can sanitize to the same table name (`a-b` and `a/b`, or `Secret` and `secret`,
//! which SQLite's case-insensitive names make one table). The first path to claim a name keeps
//! it; later ones get a checked suffixed name ([`crate::persist::sqlite::rooms`]). Claims are
//! recorded in the database (table `tinystore_rooms`), so every restart maps each path to the
//! same table, and a database whose recorded rooms already share a table is refused at start.
//!
//! Saving is coalesced: a room writes its document at most once per
//! [`RoomOptions::save_interval`] while changes arrive, and always when it stops (its last
//! client left, or the server shuts down).

#[cfg(feature = "sqlite")]
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::metrics::SyncMetrics;
use super::protocol::{ContentDiff, Message};
use super::server::{RoomPeer, RoomPeerFactory, RoomSender};
use super::synchronizer::{SyncError, Synchronizer, SynchronizerOptions, Transport};
use crate::mergeable::MergeableStore;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
use crate::persist::PersistError;
use crate::persist::Persister;
#[cfg(feature = "sqlite")]
use crate::persist::sqlite::rooms::RoomDatabase;

#[cfg(feature = "sqlite")]
pub use crate::persist::sqlite::rooms::table_for_path;

struct RoomTransport(RoomSender);

impl Transport for RoomTransport {
    fn send(&self, to: Option<&str>, _message: super::protocol::MessageType, remainder: String) {
        self.0.send(to, remainder);
    }
}

/// One room's store, persister and synchronizer.
struct StoreRoom {
    store: MergeableStore,
    sync: Synchronizer,
    persister: Option<Persister>,
    stopped: Mutex<bool>,
}

impl RoomPeer for StoreRoom {
    fn receive(&self, from: &str, message: Message) {
        self.sync.receive(from, message);
    }

    fn receive_text(&self, from: &str, text: &str) {
        self.sync.receive_validated(from, text);
    }

    fn receive_changes(&self, from: &str, diff: ContentDiff) {
        self.sync.receive_content_diff(from, diff);
    }

    fn store(&self) -> Option<MergeableStore> {
        Some(self.store.clone())
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
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use tinystore_core::MergeableStore;
/// use tinystore_core::sync::rooms::{DEFAULT_SAVE_INTERVAL, RoomOptions, memory_rooms};
///
/// let options = RoomOptions {
///     // Each room's store is seeded before its first client is served.
///     on_room: Some(Arc::new(|path: &str, store: &MergeableStore| {
///         store.set_value("room", path);
///     })),
///     request_timeout: Duration::from_secs(5),
///     ..RoomOptions::default()
/// };
/// assert_eq!(options.save_interval, DEFAULT_SAVE_INTERVAL);
/// let factory = memory_rooms(options);
/// # let _ = factory;
/// ```
#[derive(Clone)]
pub struct RoomOptions {
    /// The room synchronizers' request timeout (TinyBase's server passes its own).
    pub request_timeout: Duration,
    /// Called when a room's store is ready, before it joins the room.
    pub on_room: Option<RoomHook>,
    /// Persisted rooms write their document at most once per this interval while changes
    /// arrive (and always when they stop). Zero writes after every change. Default 1 s.
    pub save_interval: Duration,
    /// Where persisted rooms count their saves (latency, failures); `None`: not counted.
    pub metrics: Option<Arc<SyncMetrics>>,
}

/// The default [`RoomOptions::save_interval`].
pub const DEFAULT_SAVE_INTERVAL: Duration = Duration::from_secs(1);

impl Default for RoomOptions {
    fn default() -> Self {
        RoomOptions {
            request_timeout: super::synchronizer::DEFAULT_REQUEST_TIMEOUT,
            on_room: None,
            save_interval: DEFAULT_SAVE_INTERVAL,
            metrics: None,
        }
    }
}

impl std::fmt::Debug for RoomOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoomOptions")
            .field("request_timeout", &self.request_timeout)
            .field("on_room", &self.on_room.is_some())
            .field("save_interval", &self.save_interval)
            .field("metrics", &self.metrics.is_some())
            .finish()
    }
}

/// A [`RoomPeerFactory`] whose rooms keep a MergeableStore in memory only (lost when the room's
/// last client leaves): a server that also answers for the room, as TinyBase's server does with
/// a no-op persister.
///
/// ```no_run
/// use tinystore_core::sync::rooms::{RoomOptions, memory_rooms};
/// use tinystore_core::sync::server::{ServerConfig, WsServer};
///
/// let server = WsServer::start(ServerConfig {
///     peer_factory: Some(memory_rooms(RoomOptions::default())),
///     ..ServerConfig::default()
/// })?;
/// // A client joining `ws://127.0.0.1:8043/petShop` now gets the room's content from `S`.
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn memory_rooms(options: RoomOptions) -> RoomPeerFactory {
    Arc::new(move |path: &str, sender: RoomSender| {
        let store = MergeableStore::new(None);
        Ok(Some(join_room(path, store, None, sender, &options)))
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
                if matches!(e, SyncError::Rejected { .. }) {
                    // Changes the room's store rejected (e.g. from a client whose clock is
                    // fast) never reach it, nor late joiners served from it: say so.
                    tracing::warn!(path = %log_path, error = %e, "room store rejected changes");
                } else {
                    tracing::debug!(path = %log_path, error = %e, "room synchronizer");
                }
            })),
            ..Default::default()
        },
    );
    sync.start_sync_detached(None);
    Arc::new(StoreRoom {
        store,
        sync,
        persister,
        stopped: Mutex::new(false),
    })
}

/// A [`RoomPeerFactory`] that keeps every room in the SQLite database at `db` (created if
/// absent), one JSON-mode table per room.
///
/// The database is opened and checked now: a path that cannot be opened, a file that is not a
/// SQLite database, or a database whose recorded rooms share a table is an error here, not a
/// server that runs without saving. A room whose storage fails later does not start: its
/// clients are closed with 1011 and may retry.
///
/// ```
/// use tinystore_core::sync::rooms::{RoomOptions, sqlite_rooms};
/// let dir = std::env::temp_dir().join(format!("tinystore-doc-rooms-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// assert!(sqlite_rooms(dir.join("rooms.sqlite"), RoomOptions::default()).is_ok());
/// assert!(sqlite_rooms(dir.join("missing/rooms.sqlite"), RoomOptions::default()).is_err());
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
#[cfg(feature = "sqlite")]
pub fn sqlite_rooms(
    db: impl AsRef<Path>,
    options: RoomOptions,
) -> Result<RoomPeerFactory, PersistError> {
    // Opened and checked now; rooms claim their tables through it as they start.
    let db = Arc::new(RoomDatabase::open(db)?);
    Ok(Arc::new(move |path: &str, sender: RoomSender| {
        let peer = start_room(&db, path, sender, &options)?;
        Ok(Some(peer))
    }))
}

#[cfg(feature = "sqlite")]
fn start_room(
    db: &RoomDatabase,
    path: &str,
    sender: RoomSender,
    options: &RoomOptions,
) -> Result<Arc<dyn RoomPeer>, PersistError> {
    start_persisted_room(db.room(path)?, None, path, sender, options)
}

/// How often a room kept in PostgreSQL polls for others' saves when no notification came
/// (notifications bring them at once; this only covers a listener that is reconnecting).
#[cfg(feature = "postgres")]
pub const POSTGRES_ROOM_POLL: Duration = Duration::from_secs(5);

/// A [`RoomPeerFactory`] that keeps every room in the PostgreSQL database at `url`, one
/// JSON-mode table per room named as for SQLite ([`table_for_path`], claims recorded in
/// `tinystore_rooms`), so a TinyBase server persisting each path with
/// `createPostgresPersister(store, sql, 'tinybase_' + path)` shares rooms with it.
///
/// Several server processes can serve the same rooms from one database: each keeps the room's
/// MergeableStore, follows the others' saves through `NOTIFY` and merges them (its clients get
/// them as from any peer), and merges what is stored before each save of its own (see
/// [`crate::persist::postgres::PostgresPersistence::merging`]); `docs/scale-out.md`.
///
/// The database is connected to now: an unreachable one is an error here.
///
/// ```no_run
/// use tinystore_core::sync::rooms::{RoomOptions, postgres_rooms};
/// use tinystore_core::sync::server::{ServerConfig, WsServer};
///
/// let rooms = postgres_rooms("postgres://tinystore@localhost/rooms", RoomOptions::default())?;
/// let config = ServerConfig { peer_factory: Some(rooms), ..ServerConfig::default() };
/// let server = WsServer::start(config)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg(feature = "postgres")]
pub fn postgres_rooms(url: &str, options: RoomOptions) -> Result<RoomPeerFactory, PersistError> {
    let rooms = Arc::new(crate::persist::postgres::rooms::PostgresRooms::open(url)?);
    Ok(Arc::new(move |path: &str, sender: RoomSender| {
        let peer = start_persisted_room(
            rooms.room(path)?,
            Some(POSTGRES_ROOM_POLL),
            path,
            sender,
            &options,
        )?;
        Ok(Some(peer))
    }))
}

/// Starts a room over `storage`: loads it, auto-loads others' changes when `follow` is given
/// (at that fallback poll interval), and auto-saves.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
fn start_persisted_room(
    storage: impl crate::persist::Persistence,
    follow: Option<Duration>,
    path: &str,
    sender: RoomSender,
    options: &RoomOptions,
) -> Result<Arc<dyn RoomPeer>, PersistError> {
    let store = MergeableStore::new(None);
    let persister = Persister::try_new(&store, storage)?;
    use crate::status::Status;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Instant;
    let room_path = path.to_string();
    // A save's latency is the time from Saving to Idle; an error reported after an operation
    // that was a save is a failed save (errors are reported once the status is Idle again).
    let last_was_save = Arc::new(AtomicBool::new(false));
    let metrics = options.metrics.clone();
    persister.set_on_ignored_error({
        let (last_was_save, metrics) = (last_was_save.clone(), metrics.clone());
        move |e| {
            tracing::error!(path = %room_path, error = %e, "room persister");
            if let Some(metrics) = &metrics
                && last_was_save.load(Ordering::SeqCst)
            {
                metrics.save_failed();
            }
        }
    });
    if let Some(metrics) = metrics {
        let started = parking_lot::Mutex::new(None::<Instant>);
        persister.add_status_listener(move |status| match status {
            Status::Saving => {
                last_was_save.store(true, Ordering::SeqCst);
                *started.lock() = Some(Instant::now());
            }
            Status::Loading => last_was_save.store(false, Ordering::SeqCst),
            Status::Idle => {
                if let Some(at) = started.lock().take() {
                    metrics.save(at.elapsed());
                }
            }
        });
    }
    match follow {
        Some(interval) => persister.start_auto_load(None, interval)?,
        None => persister.load(None)?,
    };
    if options.save_interval.is_zero() {
        persister.start_auto_save()?;
    } else {
        persister.start_auto_save_coalesced(options.save_interval)?;
    }
    Ok(join_room(path, store, Some(persister), sender, options))
}
