//! The WebSocket sync server (spec sync.md §5): TinyBase's `createWsServer`, wire-compatible
//! with TinyBase 10.0.1 clients in both framings (legacy one-socket-per-path and the `tinybase`
//! multiplexing subprotocol), plus what a production server needs beyond it: an authorization
//! hook, read-only clients, `/health` and `/stats` over plain HTTP on the same port, bounded
//! queues everywhere, and a graceful shutdown.
//!
//! The server owns its tokio runtime, so callers without one (the C ABI, Python) can use it:
//!
//! ```no_run
//! use tinystore_core::sync::server::{ServerConfig, WsServer};
//! let server = WsServer::start(ServerConfig {
//!     addr: "127.0.0.1:0".parse().unwrap(),
//!     ..ServerConfig::default()
//! })
//! .unwrap();
//! println!("listening on port {}", server.port());
//! server.shutdown();
//! ```
//!
//! ## Rooms
//! A *room* is the set of clients on one path. Every payload is validated (fragments are
//! reassembled for that) before it is relayed, so one client's garbage never reaches another;
//! the offending socket alone is closed (1007 `tinybase:14`, or 1013 `tinybase:15:<what>` for
//! a limit). A room may have a server-side participant, the *room peer* (client id `S`), made by
//! the [`RoomPeerFactory`] when the room starts and stopped when its last client leaves.
//!
//! ## Authorization
//! The [`AuthHook`] sees every legacy upgrade request (path, client id, headers) and may accept
//! it, make it read-only, or reject it with an HTTP status. Multiplexed sockets are authorized
//! per channel when they subscribe: the hook gets the channel's path, and a rejected Subscribe
//! closes the whole socket with close code 1008 and the hook's reason (TinyBase clients treat a
//! missing Subscribe ack as a timeout; an explicit close tells them why at once).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use parking_lot::{Mutex, ReentrantMutex};
use serde_json::Value as Json;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

mod auth;
mod config;
mod http;
mod inspect;
mod inspector_http;
mod lifecycle;
mod relay;
mod room_task;
mod socket;
mod stream;
mod upgrade;

pub use auth::{AuthDecision, AuthHook, AuthPurpose, AuthRequest};
pub use config::{InspectorMode, ServerConfig, ServerError, ServerStats, TraceEvent, TraceHook};
use http::*;
pub(crate) use inspect::RoomHandle;
use lifecycle::*;
use relay::*;
use room_task::*;
use socket::*;
use stream::ServerStream;
pub use stream::{TlsError, TlsIdentity};

use crate::sync::metrics::{Direction, SyncMetrics};
use crate::sync::protocol::{
    ChannelFrame, Control, FragmentBudget, MAX_CHANNELS, MAX_PAYLOAD_BYTES, MAX_QUEUED_PAYLOADS,
    PayloadDecoder, ProtocolError, Relayed, SERVER_CLIENT_ID, SUBPROTOCOL, channel_path,
    control_payload, is_channel_id_too_large, make_remainders, message_type_of,
    parse_channel_frame, parse_control, path_id_of_url,
};

// ---------------------------------------------------------------------------------- constants

/// The default listening address.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8043";
/// Close code sent to every client by [`WsServer::shutdown`] ("going away").
pub const CLOSE_GOING_AWAY: u16 = 1001;
/// Close code for a multiplexed Subscribe the [`AuthHook`] rejected ("policy violation").
pub const CLOSE_POLICY: u16 = 1008;
/// Close code when the room peer factory panicked ("internal error").
pub const CLOSE_INTERNAL: u16 = 1011;

/// Longest HTTP request head accepted (hyper answers 431 past it).
const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Most HTTP headers accepted (hyper answers 431 past it).
const MAX_HEADERS: usize = 64;
/// How long a connection may take to send its request head (slow-loris bound).
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a closing socket waits for the client's close reply, and a close frame may take to
/// be written to a client that does not read.
const CLOSE_GRACE: Duration = Duration::from_secs(2);
/// How long shutdown waits for sockets to finish their close handshakes.
const SHUTDOWN_SOCKETS_GRACE: Duration = Duration::from_secs(3);
/// How long `Drop` waits for a graceful shutdown before abandoning the runtime.
const DROP_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);
/// The WebSocket layer accepts a little more than the protocol limit so that the protocol
/// decoder, not tungstenite, names the overflow (`socket` vs `fragments`) for near misses.
const WS_MAX_MESSAGE: usize = MAX_PAYLOAD_BYTES + 64 * 1024;
/// Bytes a socket reads from its stream at a time. tungstenite zero-fills its read buffer up to
/// this size once per socket, so it is resident for every connection: its default (128 KiB)
/// made 10,000 idle clients cost 1.3 GB. Large messages take more reads (W6 measured alike).
const WS_READ_BUFFER: usize = 32 * 1024;
/// Most messages a room peer takes in one go on the blocking pool (a batch ends sooner when the
/// inbox runs dry): enough to amortise the hand-over, few enough to keep other rooms moving.
const PEER_BATCH: usize = 256;
/// The room peer's messages are split into fragments of at most this many bytes when the
/// server has no `fragment_size` of its own, so that an answer holding a large value or table
/// (a late joiner's pull) never exceeds the frame limit; smaller messages go whole, as in
/// TinyBase.
const PEER_FRAGMENT_BYTES: usize = 1024 * 1024;

// ---------------------------------------------------------------------------------- public API

/// Sends from the room peer into its room: `to = None` broadcasts to every client of the path,
/// `Some(id)` goes to that client only; `remainder` is an encoded message (`[requestId,message,body]`),
/// relayed as `S\n<remainder>` (fragmented per the server's fragment size). Cheap to clone; never blocks;
/// sending after the room stopped is a no-op.
///
/// ```no_run
/// use std::sync::Arc;
/// use tinystore_core::sync::server::{RoomPeerFactory, RoomSender, ServerConfig, WsServer};
///
/// // No room store, but every room starts by announcing empty content as client `S`.
/// let factory: RoomPeerFactory = Arc::new(|_path: &str, sender: RoomSender| {
///     sender.send(None, r#"["tx",2,[0,0]]"#.to_string());
///     Ok(None)
/// });
/// let config = ServerConfig { peer_factory: Some(factory), ..ServerConfig::default() };
/// let server = WsServer::start(config)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct RoomSender {
    inner: Arc<SenderInner>,
}

struct SenderInner {
    // Weak: a peer that leaks its sender must not keep a shut-down server alive.
    shared: Weak<Shared>,
    path: String,
    generation: u64,
}

impl std::fmt::Debug for RoomSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoomSender")
            .field("path", &self.inner.path)
            .field("generation", &self.inner.generation)
            .finish()
    }
}

impl RoomSender {
    /// Relays `S\n<remainder>` to `to` (a client id of the room) or, for `None`, to every client
    /// of the room. Never blocks on I/O: payloads go to the clients' bounded queues (a client
    /// whose queue overflows is closed with 1013 `tinybase:15:socket`).
    ///
    /// ```no_run
    /// use std::sync::Arc;
    /// use tinystore_core::sync::protocol::{MessageType, encode_message};
    /// use tinystore_core::sync::server::{RoomPeerFactory, RoomSender, ServerConfig, WsServer};
    ///
    /// let factory: RoomPeerFactory = Arc::new(|_path: &str, sender: RoomSender| {
    ///     // To every client of the room: "S has content with these hashes".
    ///     sender.send(None, encode_message(Some("tx"), MessageType::ContentHashes, "[0,0]"));
    ///     Ok(None)
    /// });
    /// let config = ServerConfig { peer_factory: Some(factory), ..ServerConfig::default() };
    /// let server = WsServer::start(config)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn send(&self, to: Option<&str>, remainder: String) {
        let Some(shared) = self.inner.shared.upgrade() else {
            return;
        };
        if to == Some(SERVER_CLIENT_ID) {
            return;
        }
        shared.with_state(|st| {
            let Some(room) = st.rooms.get(&self.inner.path) else {
                return;
            };
            if room.generation != self.inner.generation {
                return;
            }
            let size = shared.cfg.fragment_size.unwrap_or(PEER_FRAGMENT_BYTES);
            let message = message_type_of(&remainder);
            let remainders = make_remainders(remainder, Some(size));
            st.relay(
                &self.inner.path,
                SERVER_CLIENT_ID,
                to.unwrap_or(""),
                remainders,
                None,
                false,
                message,
            );
        });
    }

    /// The path (room) this sender sends into.
    ///
    /// ```no_run
    /// use std::sync::Arc;
    /// use tinystore_core::sync::server::{RoomPeerFactory, RoomSender, ServerConfig, WsServer};
    ///
    /// let factory: RoomPeerFactory = Arc::new(|path: &str, sender: RoomSender| {
    ///     assert_eq!(sender.path(), path);
    ///     println!("room {} started", sender.path());
    ///     Ok(None)
    /// });
    /// let config = ServerConfig { peer_factory: Some(factory), ..ServerConfig::default() };
    /// let server = WsServer::start(config)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn path(&self) -> &str {
        &self.inner.path
    }
}

/// The server-side participant of one room.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use tinystore_core::sync::protocol::Message;
/// use tinystore_core::sync::server::RoomPeer;
///
/// /// Counts what the room's clients send to the server.
/// #[derive(Default)]
/// struct Counter(AtomicUsize);
///
/// impl RoomPeer for Counter {
///     fn receive(&self, _from: &str, _message: Message) {
///         self.0.fetch_add(1, Ordering::SeqCst);
///     }
///     fn stop(&self) {}
/// }
///
/// let peer = Counter::default();
/// peer.receive_text("client1", r#"["tx",2,[0,0]]"#);
/// assert_eq!(peer.0.load(Ordering::SeqCst), 1);
/// ```
pub trait RoomPeer: Send + Sync + 'static {
    /// A validated message from client `from` addressed to "" or "S". Called on the blocking
    /// pool, one message at a time per room, in the order the server received them: it may
    /// block (apply, save), but a slow peer holds back its own room's inbox (bounded: senders
    /// past it are closed with 1013 `tinybase:15:server`).
    ///
    /// ```
    /// use std::sync::Mutex;
    /// use tinystore_core::sync::protocol::{Message, MessageType, decode_message};
    /// use tinystore_core::sync::server::RoomPeer;
    ///
    /// #[derive(Default)]
    /// struct Log(Mutex<Vec<(String, MessageType)>>);
    ///
    /// impl RoomPeer for Log {
    ///     fn receive(&self, from: &str, message: Message) {
    ///         self.0.lock().unwrap().push((from.to_string(), message.message));
    ///     }
    ///     fn stop(&self) {}
    /// }
    ///
    /// let log = Log::default();
    /// log.receive("client1", decode_message(r#"["tx.abcd",1,""]"#).unwrap());
    /// assert_eq!(*log.0.lock().unwrap(), [("client1".into(), MessageType::GetContentHashes)]);
    /// ```
    fn receive(&self, from: &str, message: crate::sync::protocol::Message);
    /// The same message as its text (`[requestId,message,body]`), already validated. The
    /// server calls this one; the default decodes and calls [`RoomPeer::receive`]. A peer that
    /// can use the text directly (a synchronizer applying a ContentDiff) saves the parsed
    /// tree's memory, many times the text's size.
    ///
    /// ```
    /// use std::sync::Mutex;
    /// use tinystore_core::sync::protocol::Message;
    /// use tinystore_core::sync::server::RoomPeer;
    ///
    /// #[derive(Default)]
    /// struct Log(Mutex<Vec<Message>>);
    ///
    /// impl RoomPeer for Log {
    ///     fn receive(&self, _from: &str, message: Message) {
    ///         self.0.lock().unwrap().push(message);
    ///     }
    ///     fn stop(&self) {}
    /// }
    ///
    /// let log = Log::default();
    /// // The default decodes the text and calls `receive`.
    /// log.receive_text("client1", r#"["tx",2,[1,2]]"#);
    /// assert_eq!(log.0.lock().unwrap()[0].encode(), r#"["tx",2,[1,2]]"#);
    /// ```
    fn receive_text(&self, from: &str, text: &str) {
        if let Some(message) = crate::sync::protocol::decode_message(text) {
            self.receive(from, message);
        }
    }
    /// A ContentDiff whose changes the server read into their stamp tree while validating it
    /// (its text is not kept). The default hands its text, as TinyBase writes it, to
    /// [`RoomPeer::receive_text`]; a synchronizer applies the tree without another parse.
    ///
    /// ```
    /// use std::sync::Mutex;
    /// use tinystore_core::sync::protocol::{ContentDiff, Message, MessageType};
    /// use tinystore_core::sync::server::RoomPeer;
    ///
    /// #[derive(Default)]
    /// struct Log(Mutex<Vec<MessageType>>);
    ///
    /// impl RoomPeer for Log {
    ///     fn receive(&self, _from: &str, message: Message) {
    ///         self.0.lock().unwrap().push(message.message);
    ///     }
    ///     fn stop(&self) {}
    /// }
    ///
    /// let log = Log::default();
    /// let text = r#"["tx",3,[[{}],[{"open":[true,"NjEtLV-----mmxrx"]}],1]]"#;
    /// log.receive_changes("client1", ContentDiff::from_remainder(text).unwrap());
    /// assert_eq!(*log.0.lock().unwrap(), [MessageType::ContentDiff]);
    /// ```
    fn receive_changes(&self, from: &str, diff: crate::sync::protocol::ContentDiff) {
        self.receive_text(from, &diff.encode());
    }
    /// The room is being torn down (its last client left, or the server shuts down): save and stop. May block (called via spawn_blocking).
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use tinystore_core::sync::protocol::Message;
    /// use tinystore_core::sync::server::RoomPeer;
    ///
    /// #[derive(Default)]
    /// struct Room { stopped: AtomicBool }
    ///
    /// impl RoomPeer for Room {
    ///     fn receive(&self, _from: &str, _message: Message) {}
    ///     fn stop(&self) {
    ///         // A persisted room would save here.
    ///         self.stopped.store(true, Ordering::SeqCst);
    ///     }
    /// }
    ///
    /// let room = Room::default();
    /// room.stop();
    /// assert!(room.stopped.load(Ordering::SeqCst));
    /// ```
    fn stop(&self);
    /// The store this peer keeps the room's content in, if it keeps one: the server shows it
    /// on `/inspector` while the room is live (and [`WsServer::room_store`] returns it). The
    /// default: none.
    ///
    /// ```
    /// use tinystore_core::MergeableStore;
    /// use tinystore_core::sync::protocol::Message;
    /// use tinystore_core::sync::server::RoomPeer;
    ///
    /// struct Keeper(MergeableStore);
    ///
    /// impl RoomPeer for Keeper {
    ///     fn receive(&self, _from: &str, _message: Message) {}
    ///     fn stop(&self) {}
    ///     fn store(&self) -> Option<MergeableStore> {
    ///         Some(self.0.clone())
    ///     }
    /// }
    ///
    /// let keeper = Keeper(MergeableStore::new(None));
    /// keeper.0.set_value("open", true);
    /// assert!(keeper.store().unwrap().has_value("open"));
    /// ```
    fn store(&self) -> Option<crate::mergeable::MergeableStore> {
        None
    }
}

/// Called (via spawn_blocking: it may load from disk) when a room starts; `Ok(None)` = pure
/// relay for that room; `Err`: the room cannot start (its storage failed), so its clients are
/// closed with 1011 `room storage unavailable` rather than left unsaved, and may retry.
pub type RoomPeerFactory = std::sync::Arc<
    dyn Fn(&str, RoomSender) -> Result<Option<std::sync::Arc<dyn RoomPeer>>, RoomStartError>
        + Send
        + Sync,
>;

/// Why a room's peer could not be made (the factory's error, kept with its cause).
pub type RoomStartError = Box<dyn std::error::Error + Send + Sync>;

/// Identifies a listener for [`WsServer::del_listener`].
pub type ServerListenerId = u64;

type PathListener = Arc<dyn Fn(&str, bool) + Send + Sync>;
type ClientListener = Arc<dyn Fn(&str, &str, bool) + Send + Sync>;

/// A running sync server. Dropping it shuts it down (bounded wait).
///
/// ```no_run
/// use tinystore_core::sync::server::{ServerConfig, WsServer};
///
/// let server = WsServer::start(ServerConfig::default())?;
/// println!("ws://127.0.0.1:{}/<room>", server.port());
/// drop(server); // closes every client and stops every room
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct WsServer {
    shared: Arc<Shared>,
    runtime: Option<tokio::runtime::Runtime>,
    local_addr: SocketAddr,
}

impl std::fmt::Debug for WsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsServer")
            .field("local_addr", &self.local_addr)
            .field("stats", &self.get_stats())
            .finish()
    }
}

impl WsServer {
    /// Binds `config.addr` and starts serving on a runtime of its own (two worker threads).
    ///
    /// ```no_run
    /// use tinystore_core::sync::server::{ServerConfig, WsServer};
    ///
    /// let config = ServerConfig { max_connections: 1000, ..ServerConfig::default() };
    /// let server = WsServer::start(config)?;
    /// assert_eq!(server.port(), 8043); // `DEFAULT_ADDR`'s
    /// server.shutdown();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn start(config: ServerConfig) -> Result<WsServer, ServerError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("tinystore-ws")
            .enable_all()
            .build()
            .map_err(ServerError::Runtime)?;
        let bind_err = |source| ServerError::Bind {
            addr: config.addr,
            source,
        };
        let std_listener = std::net::TcpListener::bind(config.addr).map_err(bind_err)?;
        std_listener.set_nonblocking(true).map_err(bind_err)?;
        let local_addr = std_listener.local_addr().map_err(bind_err)?;
        let listener = {
            let _enter = runtime.enter();
            TcpListener::from_std(std_listener).map_err(bind_err)?
        };
        let (stop_accept, stop_rx) = watch::channel(false);
        let (done_tx, _) = watch::channel(false);
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new(config.peer_factory.is_some(), config.max_rooms)),
            dispatch: ReentrantMutex::new(()),
            listeners: Mutex::new(Listeners::default()),
            cfg: Cfg {
                request_timeout: config.request_timeout,
                fragment_size: config.fragment_size,
                factory: config.peer_factory,
                auth: config.auth,
                max_connections: config.max_connections.max(1),
                on_trace: config.on_trace,
                inspector: config.inspector,
                tls: config
                    .tls
                    .map(|t| tokio_rustls::TlsAcceptor::from(t.config)),
            },
            handle: runtime.handle().clone(),
            epoch: Instant::now(),
            next_id: AtomicU64::new(1),
            active: AtomicUsize::new(0),
            active_changed: Notify::new(),
            frames_in: AtomicU64::new(0),
            frames_out: AtomicU64::new(0),
            metrics: config.metrics.clone().unwrap_or_default(),
            room_tasks: Mutex::new(Vec::new()),
            room_done: Mutex::new(HashMap::new()),
            inspect: Mutex::new(HashMap::new()),
            shutdown_started: AtomicBool::new(false),
            shutdown_done: done_tx,
            stop_accept,
        });
        runtime.spawn(accept_loop(shared.clone(), listener, stop_rx));
        tracing::debug!(%local_addr, "sync server listening");
        Ok(WsServer {
            shared,
            runtime: Some(runtime),
            local_addr,
        })
    }

    /// The bound port (the OS's choice when `addr` had port 0).
    ///
    /// ```no_run
    /// use tinystore_core::sync::server::{ServerConfig, WsServer};
    ///
    /// let addr = "127.0.0.1:0".parse()?;
    /// let server = WsServer::start(ServerConfig { addr, ..ServerConfig::default() })?;
    /// // Port 0: the OS picked a free one.
    /// assert_ne!(server.port(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn port(&self) -> u16 {
        self.local_addr.port()
    }

    /// The bound address.
    ///
    /// ```no_run
    /// use tinystore_core::sync::server::{ServerConfig, WsServer};
    ///
    /// let server = WsServer::start(ServerConfig::default())?;
    /// assert!(server.local_addr().ip().is_loopback());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The paths that have clients, in the order their rooms started.
    ///
    /// ```no_run
    /// use tinystore_core::sync::server::{ServerConfig, WsServer};
    ///
    /// let server = WsServer::start(ServerConfig::default())?;
    /// // No client has connected yet.
    /// assert!(server.get_path_ids().is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_path_ids(&self) -> Vec<String> {
        self.shared.state.lock().rooms.keys().cloned().collect()
    }

    /// The client ids of a path, in join order (empty for an unknown path).
    ///
    /// ```no_run
    /// use tinystore_core::sync::server::{ServerConfig, WsServer};
    ///
    /// let server = WsServer::start(ServerConfig::default())?;
    /// for path in server.get_path_ids() {
    ///     println!("{path}: {:?}", server.get_client_ids(&path));
    /// }
    /// assert!(server.get_client_ids("nobody-here").is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_client_ids(&self, path: &str) -> Vec<String> {
        self.shared
            .state
            .lock()
            .rooms
            .get(path)
            .map(|r| r.clients.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// The store of the live room on `path`, when its peer keeps one (a server with room
    /// stores, e.g. [`memory_rooms`](crate::sync::rooms::memory_rooms)); `None` for an unknown
    /// or stopped room and on a relay-only server. Writes to it reach the room's clients like
    /// any client's.
    ///
    /// ```no_run
    /// use tinystore_core::sync::rooms::{RoomOptions, memory_rooms};
    /// use tinystore_core::sync::server::{ServerConfig, WsServer};
    ///
    /// let server = WsServer::start(ServerConfig {
    ///     peer_factory: Some(memory_rooms(RoomOptions::default())),
    ///     ..ServerConfig::default()
    /// })?;
    /// // Once a client has joined `petShop`:
    /// if let Some(store) = server.room_store("petShop") {
    ///     println!("{} pets", store.get_row_count("pets"));
    ///     store.set_value("announcement", "closing soon"); // sent to the room's clients
    /// }
    /// assert!(server.room_store("nobody-here").is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn room_store(&self, path: &str) -> Option<crate::mergeable::MergeableStore> {
        self.shared.inspect_room(path).map(|h| h.store().clone())
    }

    /// How many rooms and clients there are.
    ///
    /// ```no_run
    /// use tinystore_core::sync::server::{ServerConfig, WsServer};
    ///
    /// let server = WsServer::start(ServerConfig::default())?;
    /// let stats = server.get_stats();
    /// println!("{} clients in {} rooms", stats.clients, stats.paths);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_stats(&self) -> ServerStats {
        let st = self.shared.state.lock();
        ServerStats {
            paths: st.rooms.len(),
            clients: st.rooms.values().map(|r| r.clients.len()).sum(),
        }
    }

    /// Calls `listener(path, added)` when a room starts (`true`) or stops (`false`). Listeners
    /// run on server threads, in event order, with no server lock held.
    ///
    /// ```no_run
    /// use tinystore_core::sync::server::{ServerConfig, WsServer};
    ///
    /// let server = WsServer::start(ServerConfig::default())?;
    /// server.add_path_ids_listener(|path, added| {
    ///     println!("room {path} {}", if added { "started" } else { "stopped" });
    /// });
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_path_ids_listener(
        &self,
        listener: impl Fn(&str, bool) + Send + Sync + 'static,
    ) -> ServerListenerId {
        let mut ls = self.shared.listeners.lock();
        let id = ls.next_id();
        ls.paths.push((id, Arc::new(listener)));
        id
    }

    /// Calls `listener(path, client_id, added)` when a client joins or leaves `path` (any path
    /// for `None`).
    ///
    /// ```no_run
    /// use tinystore_core::sync::server::{ServerConfig, WsServer};
    ///
    /// let server = WsServer::start(ServerConfig::default())?;
    /// server.add_client_ids_listener(Some("petShop"), |_path, client, added| {
    ///     println!("client {client} {}", if added { "joined" } else { "left" });
    /// });
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_client_ids_listener(
        &self,
        path: Option<&str>,
        listener: impl Fn(&str, &str, bool) + Send + Sync + 'static,
    ) -> ServerListenerId {
        let mut ls = self.shared.listeners.lock();
        let id = ls.next_id();
        ls.clients
            .push((id, path.map(str::to_string), Arc::new(listener)));
        id
    }

    /// Removes a listener; `false` if there was none with that id.
    ///
    /// ```no_run
    /// use tinystore_core::sync::server::{ServerConfig, WsServer};
    ///
    /// let server = WsServer::start(ServerConfig::default())?;
    /// let id = server.add_path_ids_listener(|path, _| println!("{path}"));
    /// assert!(server.del_listener(id));
    /// assert!(!server.del_listener(id));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn del_listener(&self, id: ServerListenerId) -> bool {
        let mut ls = self.shared.listeners.lock();
        let before = ls.paths.len() + ls.clients.len();
        ls.paths.retain(|(i, _)| *i != id);
        ls.clients.retain(|(i, _, _)| *i != id);
        before != ls.paths.len() + ls.clients.len()
    }

    /// Stops listening, closes every client (1001), stops every room peer and waits for their
    /// `stop()`, then returns. Idempotent. Blocks the calling thread; from async code prefer
    /// [`WsServer::shutdown_async`].
    ///
    /// ```no_run
    /// use tinystore_core::sync::server::{ServerConfig, WsServer};
    ///
    /// let server = WsServer::start(ServerConfig::default())?;
    /// server.shutdown();
    /// server.shutdown(); // idempotent
    /// assert_eq!(server.get_stats().clients, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn shutdown(&self) {
        let (tx, rx) = std::sync::mpsc::channel();
        let shared = self.shared.clone();
        self.shared.handle.spawn(async move {
            shutdown_inner(shared).await;
            let _ = tx.send(());
        });
        let _ = rx.recv();
    }

    /// [`WsServer::shutdown`] for async callers (on any runtime).
    ///
    /// ```no_run
    /// use tinystore_core::sync::server::{ServerConfig, WsServer};
    ///
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = WsServer::start(ServerConfig::default())?;
    /// server.shutdown_async().await;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn shutdown_async(&self) {
        let shared = self.shared.clone();
        let _ = self.shared.handle.spawn(shutdown_inner(shared)).await;
    }
}

impl Drop for WsServer {
    fn drop(&mut self) {
        let Some(runtime) = self.runtime.take() else {
            return;
        };
        if !*self.shared.shutdown_done.borrow() {
            let (tx, rx) = std::sync::mpsc::channel();
            let shared = self.shared.clone();
            runtime.spawn(async move {
                shutdown_inner(shared).await;
                let _ = tx.send(());
            });
            if rx.recv_timeout(DROP_SHUTDOWN_TIMEOUT).is_err() {
                tracing::warn!("sync server: graceful shutdown timed out on drop");
            }
        }
        // Never blocks, and is allowed inside another runtime's context.
        runtime.shutdown_background();
    }
}

// ---------------------------------------------------------------------------------- state

struct Cfg {
    request_timeout: Duration,
    fragment_size: Option<usize>,
    factory: Option<RoomPeerFactory>,
    auth: Option<AuthHook>,
    max_connections: usize,
    on_trace: Option<TraceHook>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    inspector: InspectorMode,
}

struct Shared {
    state: Mutex<State>,
    // Re-entrant so a listener that triggers events (e.g. via a RoomSender) does not deadlock;
    // held while draining events so they reach listeners in the order they happened.
    dispatch: ReentrantMutex<()>,
    listeners: Mutex<Listeners>,
    cfg: Cfg,
    handle: tokio::runtime::Handle,
    epoch: Instant,
    next_id: AtomicU64,
    active: AtomicUsize,
    active_changed: Notify,
    frames_in: AtomicU64,
    frames_out: AtomicU64,
    metrics: Arc<SyncMetrics>,
    /// The tasks of rooms with a peer, awaited by shutdown.
    room_tasks: Mutex<Vec<JoinHandle<()>>>,
    /// The stop signal of each room task by generation, for the path's next room to wait on.
    room_done: Mutex<HashMap<u64, watch::Receiver<bool>>>,
    /// The stores of live rooms by path, for `/inspector` (see `server::inspect`).
    inspect: Mutex<HashMap<String, RoomHandle>>,
    shutdown_started: AtomicBool,
    shutdown_done: watch::Sender<bool>,
    stop_accept: watch::Sender<bool>,
}

#[derive(Default)]
struct Listeners {
    last_id: u64,
    paths: Vec<(u64, PathListener)>,
    clients: Vec<(u64, Option<String>, ClientListener)>,
}

impl Listeners {
    fn next_id(&mut self) -> u64 {
        self.last_id += 1;
        self.last_id
    }
}

/// The sending side of one socket: a bounded (by accounting) queue drained by its writer task.
struct ConnOut {
    tx: mpsc::UnboundedSender<String>,
    queued: AtomicUsize,
    queued_bytes: AtomicUsize,
    /// `Some(code, reason)` closes with a close frame, `None` just ends the writer.
    close: Mutex<Option<oneshot::Sender<CloseRequest>>>,
    closing: watch::Sender<bool>,
}

impl Outbox for ConnOut {
    fn is_closing(&self) -> bool {
        *self.closing.borrow()
    }

    fn close(&self, frame: CloseRequest) {
        if let Some(tx) = self.close.lock().take() {
            let _ = tx.send(frame);
        }
        self.closing.send_replace(true);
    }

    fn push(&self, payload: String, max_bytes: usize) -> bool {
        let len = payload.len();
        if len > MAX_PAYLOAD_BYTES
            || self.queued.load(Ordering::Acquire) >= MAX_QUEUED_PAYLOADS
            || self.queued_bytes.load(Ordering::Acquire) + len > max_bytes
        {
            return false;
        }
        self.queued.fetch_add(1, Ordering::AcqRel);
        self.queued_bytes.fetch_add(len, Ordering::AcqRel);
        // A closed receiver means the writer is gone: the payload is simply dropped.
        let _ = self.tx.send(payload);
        true
    }
}

impl Shared {
    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Runs `f` under the state lock, carries out the effects it asked for (still under the
    /// lock, so a room's task is registered before anyone can see the room go), then hands the
    /// events it raised to the listeners with no lock held (listeners may call back into the
    /// server).
    fn with_state<R>(self: &Arc<Self>, f: impl FnOnce(&mut State) -> R) -> R {
        let (r, any) = {
            let mut st = self.state.lock();
            let r = f(&mut st);
            for (message, payloads, bytes) in st.sent.drain(..) {
                self.metrics
                    .messages_n(Direction::Out, message, payloads, bytes);
            }
            for effect in std::mem::take(&mut st.effects) {
                self.perform(effect);
            }
            (r, !st.events.is_empty())
        };
        if any {
            self.dispatch_events();
        }
        r
    }

    fn perform(self: &Arc<Self>, effect: Effect) {
        match effect {
            Effect::StartRoom {
                path,
                generation,
                previous,
            } => {
                let (done_tx, done_rx) = watch::channel(false);
                let previous = {
                    let mut done = self.room_done.lock();
                    done.insert(generation, done_rx);
                    previous.and_then(|p| done.get(&p).cloned())
                };
                let task =
                    self.handle
                        .spawn(run_room(self.clone(), path, generation, previous, done_tx));
                let mut tasks = self.room_tasks.lock();
                tasks.retain(|t| !t.is_finished());
                tasks.push(task);
            }
            Effect::ArmExpiry {
                path,
                generation,
                epoch,
            } => {
                let shared = self.clone();
                let delay = self.cfg.request_timeout.saturating_mul(10);
                self.handle.spawn(async move {
                    tokio::time::sleep(delay).await;
                    shared.with_state(|st| st.expire_buffer(&path, generation, epoch));
                });
            }
        }
    }

    fn dispatch_events(&self) {
        let _order = self.dispatch.lock();
        loop {
            let events = std::mem::take(&mut self.state.lock().events);
            if events.is_empty() {
                return;
            }
            for event in events {
                let (paths, clients) = {
                    let ls = self.listeners.lock();
                    (ls.paths.clone(), ls.clients.clone())
                };
                let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| match &event {
                    Event::Path(path, added) => {
                        for (_, l) in &paths {
                            l(path, *added);
                        }
                    }
                    Event::Client(path, client, added) => {
                        for (_, filter, l) in &clients {
                            if filter.as_deref().is_none_or(|f| f == path) {
                                l(path, client, *added);
                            }
                        }
                    }
                }));
                if outcome.is_err() {
                    tracing::warn!("sync server: a path/client listener panicked");
                }
            }
        }
    }
}
