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
use std::io;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use indexmap::IndexMap;
use parking_lot::{Mutex, ReentrantMutex};
use serde_json::Value as Json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

mod stream;
use stream::ServerStream;
pub use stream::{TlsError, TlsIdentity};

use crate::sync::protocol::{
    ChannelFrame, Control, Decoded, FragmentBudget, MAX_CHANNELS, MAX_PAYLOAD_BYTES,
    MAX_QUEUED_PAYLOADS, MAX_SERVER_MESSAGE_BYTES, Message, MessageType, PayloadDecoder,
    ProtocolError, SERVER_CLIENT_ID, SUBPROTOCOL, channel_path, channel_payload, control_payload,
    is_body_valid, is_channel_id_too_large, joined_remainder, make_remainders, parse_channel_frame,
    parse_control, path_id_of_url, raw_payload,
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

/// Longest HTTP request head accepted before the upgrade.
const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Most HTTP headers accepted.
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
/// Most messages waiting for a room peer; beyond that the sender is closed (`server`).
const MAX_PEER_INBOX: usize = 4 * MAX_QUEUED_PAYLOADS;
/// Most bytes (of the messages' wire text) waiting for a room peer, likewise: what bounds a
/// room's memory while its store catches up.
const MAX_PEER_INBOX_BYTES: usize = 4 * MAX_PAYLOAD_BYTES;
/// Most messages a room peer takes in one go on the blocking pool (a batch ends sooner when the
/// inbox runs dry): enough to amortise the hand-over, few enough to keep other rooms moving.
const PEER_BATCH: usize = 256;
/// The room peer's messages are split into fragments of at most this many bytes when the
/// server has no `fragment_size` of its own, so that an answer holding a large value or table
/// (a late joiner's pull) never exceeds the frame limit; smaller messages go whole, as in
/// TinyBase.
const PEER_FRAGMENT_BYTES: usize = 1024 * 1024;
/// Most bytes queued for one socket: one largest message plus its fragments' headers, with
/// room for the traffic around it.
const MAX_SOCKET_QUEUE_BYTES: usize = 2 * MAX_PAYLOAD_BYTES;
/// Most bytes queued for one socket while the room peer's answers are among them: a pull's
/// answer holds a whole table, up to what a client reassembles.
const MAX_SOCKET_QUEUE_BYTES_WITH_ANSWERS: usize = MAX_SERVER_MESSAGE_BYTES + MAX_PAYLOAD_BYTES;
/// The `conn` of a buffered message whose sender has gone: it is kept for the room's peer
/// (it was received, so it must be applied and saved), but belongs to no socket's budget.
const GONE: u64 = 0;
/// Longest close reason a WebSocket close frame can carry.
const MAX_CLOSE_REASON: usize = 123;

// ---------------------------------------------------------------------------------- public API

/// Sends from the room peer into its room: `to = None` broadcasts to every client of the path,
/// `Some(id)` goes to that client only; `remainder` is an encoded message (`[requestId,message,body]`),
/// relayed as `S\n<remainder>` (fragmented per the server's fragment size). Cheap to clone; never blocks;
/// sending after the room stopped is a no-op.
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
            let remainders = make_remainders(remainder, Some(size));
            relay(
                &shared,
                st,
                &self.inner.path,
                SERVER_CLIENT_ID,
                to.unwrap_or(""),
                &remainders,
                false,
            );
        });
    }

    /// The path (room) this sender sends into.
    pub fn path(&self) -> &str {
        &self.inner.path
    }
}

/// The server-side participant of one room.
pub trait RoomPeer: Send + Sync + 'static {
    /// A validated message from client `from` addressed to "" or "S". Called on the blocking
    /// pool, one message at a time per room, in the order the server received them: it may
    /// block (apply, save), but a slow peer holds back its own room's inbox (bounded: senders
    /// past it are closed with 1013 `tinybase:15:server`).
    fn receive(&self, from: &str, message: crate::sync::protocol::Message);
    /// The same message as its text (`[requestId,message,body]`), already validated. The
    /// server calls this one; the default decodes and calls [`RoomPeer::receive`]. A peer that
    /// can use the text directly (a synchronizer applying a ContentDiff) saves the parsed
    /// tree's memory, many times the text's size.
    fn receive_text(&self, from: &str, text: &str) {
        if let Some(message) = crate::sync::protocol::decode_message(text) {
            self.receive(from, message);
        }
    }
    /// The room is being torn down (its last client left, or the server shuts down): save and stop. May block (called via spawn_blocking).
    fn stop(&self);
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

/// What the [`AuthHook`] is asked about.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuthRequest {
    /// What the client asks for.
    pub purpose: AuthPurpose,
    /// The request target as sent (path and query string), e.g. to read a `?token=` parameter,
    /// which browsers' WebSockets can send where they cannot set headers.
    pub url: String,
    /// The room: the path id of a legacy socket, or the channel's path of a multiplexed one
    /// (empty for [`AuthPurpose::Stats`]).
    pub path: String,
    /// The client id (the socket's `Sec-WebSocket-Key`).
    pub client_id: String,
    /// Every HTTP header of the upgrade request, names lowercased, in request order.
    pub headers: Vec<(String, String)>,
}

/// What an [`AuthRequest`] asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthPurpose {
    /// To join the room `path` (read-write or read-only, as the hook decides).
    Join,
    /// To read `GET /stats` (room paths and counts); `ReadOnly` suffices.
    Stats,
}

impl AuthRequest {
    /// The value of the query parameter `name` in [`AuthRequest::url`] (not percent-decoded;
    /// tokens are expected to be URL-safe).
    pub fn query_param(&self, name: &str) -> Option<&str> {
        let query = self.url.split_once('?')?.1;
        let query = query.split('#').next().unwrap_or("");
        query
            .split('&')
            .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    }

    /// The first header named `name` (give it lowercased).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The [`AuthHook`]'s answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthDecision {
    /// Full access.
    Accept,
    /// The client may read: its ContentHashes, ContentDiffs and diff Responses are dropped,
    /// its requests are relayed.
    ReadOnly,
    /// No access: a legacy upgrade is answered with this HTTP status (400–599, else 403) and
    /// reason as the body; a multiplexed Subscribe closes the socket with 1008 and the reason.
    Reject {
        /// The HTTP status.
        status: u16,
        /// Why (sent to the client).
        reason: String,
    },
}

/// Decides who may join which room. Runs on a blocking-capable thread (it may look things up);
/// a panic counts as a rejection with status 500.
pub type AuthHook = Arc<dyn Fn(&AuthRequest) -> AuthDecision + Send + Sync>;

/// How to run a [`WsServer`].
#[derive(Clone)]
pub struct ServerConfig {
    /// Where to listen (port 0: the OS picks one; see [`WsServer::port`]). Default
    /// [`DEFAULT_ADDR`].
    pub addr: SocketAddr,
    /// TinyBase's `requestTimeoutSeconds`: incomplete fragments expire after it, and payloads
    /// buffered while a room starts close their senders after ten times it. Default 1 s.
    pub request_timeout: Duration,
    /// Splits the room peers' outgoing messages into fragments of this many bytes (TinyBase's
    /// `fragmentSize`); `None` sends them whole.
    pub fragment_size: Option<usize>,
    /// Makes each room's server-side participant; `None`: every room is a pure relay.
    pub peer_factory: Option<RoomPeerFactory>,
    /// Authorizes clients; `None` accepts everyone.
    pub auth: Option<AuthHook>,
    /// Most simultaneous TCP connections; more are answered `503`. Default 10,000.
    pub max_connections: usize,
    /// Observes every socket's opening, text frames and closing (for traces such as the CLI's
    /// `--trace`). Called on server tasks: keep it quick.
    pub on_trace: Option<TraceHook>,
    /// Most rooms open at once; a client that would start one more is refused (HTTP 503 for a
    /// legacy socket, close 1013 `tinybase:15:rooms` for a multiplexed Subscribe). `None`: no
    /// limit.
    pub max_rooms: Option<usize>,
    /// Serves `wss://` (and `https://` for `/health`, `/stats`) with this certificate.
    pub tls: Option<TlsIdentity>,
}

/// What a [`TraceHook`] observes; `conn` numbers sockets in accept order.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum TraceEvent<'a> {
    /// A WebSocket was accepted.
    Open {
        /// The socket.
        conn: u64,
        /// The request URL.
        url: &'a str,
        /// The negotiated subprotocol (`""` for none).
        protocol: &'a str,
        /// The `Sec-WebSocket-Key` (the client id).
        key: &'a str,
    },
    /// A text frame, exactly as received (`sent == false`) or sent.
    Frame {
        /// The socket.
        conn: u64,
        /// Whether the server sent it.
        sent: bool,
        /// The frame's text.
        data: &'a str,
    },
    /// The socket ended.
    Close {
        /// The socket.
        conn: u64,
    },
}

/// Observes sockets and frames; see [`ServerConfig::on_trace`].
pub type TraceHook = Arc<dyn Fn(TraceEvent<'_>) + Send + Sync>;

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            addr: DEFAULT_ADDR.parse().expect("valid default address"),
            request_timeout: Duration::from_secs(1),
            fragment_size: None,
            peer_factory: None,
            auth: None,
            max_connections: 10_000,
            on_trace: None,
            max_rooms: None,
            tls: None,
        }
    }
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("addr", &self.addr)
            .field("request_timeout", &self.request_timeout)
            .field("fragment_size", &self.fragment_size)
            .field("peer_factory", &self.peer_factory.is_some())
            .field("auth", &self.auth.is_some())
            .field("max_connections", &self.max_connections)
            .field("on_trace", &self.on_trace.is_some())
            .field("max_rooms", &self.max_rooms)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The tokio runtime could not be created.
    #[error("cannot create the server runtime: {0}")]
    Runtime(#[source] io::Error),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

/// TinyBase's `getStats()`: how many paths (rooms) and clients there are.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// Rooms.
    pub paths: usize,
    /// Clients, summed over rooms (a multiplexed socket counts once per channel).
    pub clients: usize,
}

/// Identifies a listener for [`WsServer::del_listener`].
pub type ServerListenerId = u64;

type PathListener = Arc<dyn Fn(&str, bool) + Send + Sync>;
type ClientListener = Arc<dyn Fn(&str, &str, bool) + Send + Sync>;

/// A running sync server. Dropping it shuts it down (bounded wait).
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
            state: Mutex::new(State::default()),
            dispatch: ReentrantMutex::new(()),
            listeners: Mutex::new(Listeners::default()),
            cfg: Cfg {
                request_timeout: config.request_timeout,
                fragment_size: config.fragment_size,
                factory: config.peer_factory,
                auth: config.auth,
                max_connections: config.max_connections.max(1),
                on_trace: config.on_trace,
                max_rooms: config.max_rooms,
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
            closed_invalid: AtomicU64::new(0),
            closed_overflow: AtomicU64::new(0),
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
    pub fn port(&self) -> u16 {
        self.local_addr.port()
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The paths that have clients, in the order their rooms started.
    pub fn get_path_ids(&self) -> Vec<String> {
        self.shared.state.lock().rooms.keys().cloned().collect()
    }

    /// The client ids of a path, in join order (empty for an unknown path).
    pub fn get_client_ids(&self, path: &str) -> Vec<String> {
        self.shared
            .state
            .lock()
            .rooms
            .get(path)
            .map(|r| r.clients.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// How many rooms and clients there are.
    pub fn get_stats(&self) -> ServerStats {
        let st = self.shared.state.lock();
        ServerStats {
            paths: st.rooms.len(),
            clients: st.rooms.values().map(|r| r.clients.len()).sum(),
        }
    }

    /// Calls `listener(path, added)` when a room starts (`true`) or stops (`false`). Listeners
    /// run on server threads, in event order, with no server lock held.
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
    max_rooms: Option<usize>,
    tls: Option<tokio_rustls::TlsAcceptor>,
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
    closed_invalid: AtomicU64,
    closed_overflow: AtomicU64,
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

enum Event {
    Path(String, bool),
    Client(String, String, bool),
}

#[derive(Default)]
struct State {
    rooms: IndexMap<String, Room>,
    conns: HashMap<u64, ConnEntry>,
    /// The stop-completion signal of each path's last torn-down room, so a new room on that
    /// path waits for the old peer to finish saving before its factory reloads.
    last_done: HashMap<String, (u64, watch::Receiver<bool>)>,
    room_tasks: Vec<JoinHandle<()>>,
    /// Messages for the peer of a room (by generation) that was torn down while its peer was
    /// still starting: the peer applies them before it stops, so a client's last write before
    /// it left is not lost.
    orphans: HashMap<u64, Vec<(String, String)>>,
    events: Vec<Event>,
    shutting_down: bool,
}

struct Room {
    generation: u64,
    clients: IndexMap<String, Member>,
    phase: Phase,
    peer_inbox: Option<PeerInbox>,
    done: watch::Receiver<bool>,
}

struct Member {
    conn: u64,
    channel: Option<String>,
}

enum Phase {
    /// The peer factory is running: client payloads wait here.
    Starting {
        buffer: Vec<Buffered>,
        payloads: usize,
        bytes: usize,
        epoch: u64,
        /// The factory runs (the path's previous room, if any, has stopped).
        loading: bool,
    },
    Ready,
}

struct Buffered {
    conn: u64,
    from: String,
    to: String,
    remainders: Vec<String>,
    /// The message's type (ContentHashes are coalesced); the parsed tree is not kept.
    kind: MessageType,
    payloads: usize,
    bytes: usize,
}

/// A message for the room peer: sender, the message's text, and its wire size (for the inbox
/// budget).
type PeerMessage = (String, String, usize);

struct PeerInbox {
    tx: mpsc::UnboundedSender<PeerMessage>,
    /// Messages and bytes sent but not yet taken by the peer.
    pending: Arc<(AtomicUsize, AtomicUsize)>,
}

struct ConnEntry {
    out: Arc<ConnOut>,
    paths: Vec<String>,
    /// Payloads and bytes this socket has waiting in starting rooms (all its channels).
    buffered: (usize, usize),
}

/// `Some(code, reason)`: send a close frame; `None`: just stop writing.
type CloseRequest = Option<(u16, String)>;

/// The sending side of one socket: a bounded (by accounting) queue drained by its writer task.
struct ConnOut {
    tx: mpsc::UnboundedSender<String>,
    queued: AtomicUsize,
    queued_bytes: AtomicUsize,
    /// `Some(code, reason)` closes with a close frame, `None` just ends the writer.
    close: Mutex<Option<oneshot::Sender<CloseRequest>>>,
    closing: watch::Sender<bool>,
}

impl ConnOut {
    fn is_closing(&self) -> bool {
        *self.closing.borrow()
    }

    fn close(&self, frame: CloseRequest) {
        if let Some(tx) = self.close.lock().take() {
            let _ = tx.send(frame);
        }
        self.closing.send_replace(true);
    }

    /// Queues a payload; `false` if it would exceed the socket's limits.
    fn push(&self, payload: String) -> bool {
        self.push_within(payload, MAX_SOCKET_QUEUE_BYTES)
    }

    /// [`ConnOut::push`] with another cap on the queued bytes.
    fn push_within(&self, payload: String, max_bytes: usize) -> bool {
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

    /// Runs `f` under the state lock, then hands the events it raised to the listeners with
    /// no lock held (listeners may call back into the server).
    fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let (r, any) = {
            let mut st = self.state.lock();
            let r = f(&mut st);
            (r, !st.events.is_empty())
        };
        if any {
            self.dispatch_events();
        }
        r
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

// ---------------------------------------------------------------------------------- rooms

enum JoinError {
    ShuttingDown,
    Duplicate,
    TooManyRooms,
}

/// Adds a client to a room, starting the room if needed. `ack` is queued to the socket in
/// the same critical section, so it precedes anything relayed to the new member.
fn join(
    shared: &Arc<Shared>,
    st: &mut State,
    conn: u64,
    path: &str,
    client_id: &str,
    channel: Option<&str>,
) -> Result<(), JoinError> {
    if st.shutting_down {
        return Err(JoinError::ShuttingDown);
    }
    if !st.conns.contains_key(&conn) {
        return Err(JoinError::ShuttingDown);
    }
    match st.rooms.get(path) {
        Some(room) => {
            if room.clients.contains_key(client_id) {
                return Err(JoinError::Duplicate);
            }
        }
        None => {
            if shared
                .cfg
                .max_rooms
                .is_some_and(|max| st.rooms.len() >= max)
            {
                tracing::warn!(path, "sync server: room limit reached, refusing a new room");
                return Err(JoinError::TooManyRooms);
            }
            start_room(shared, st, path)
        }
    }
    let Some(room) = st.rooms.get_mut(path) else {
        return Err(JoinError::ShuttingDown);
    };
    room.clients.insert(
        client_id.to_string(),
        Member {
            conn,
            channel: channel.map(str::to_string),
        },
    );
    if let Some(entry) = st.conns.get_mut(&conn) {
        entry.paths.push(path.to_string());
    }
    st.events
        .push(Event::Client(path.to_string(), client_id.to_string(), true));
    tracing::debug!(path, client_id, "client joined");
    Ok(())
}

fn start_room(shared: &Arc<Shared>, st: &mut State, path: &str) {
    let generation = shared.next_id();
    let previous = st.last_done.remove(path).map(|(_, rx)| rx);
    let (done_tx, done_rx) = watch::channel(false);
    let phase = if shared.cfg.factory.is_some() {
        Phase::Starting {
            buffer: Vec::new(),
            payloads: 0,
            bytes: 0,
            epoch: shared.next_id(),
            loading: false,
        }
    } else {
        let _ = done_tx.send(true);
        Phase::Ready
    };
    st.rooms.insert(
        path.to_string(),
        Room {
            generation,
            clients: IndexMap::new(),
            phase,
            peer_inbox: None,
            done: done_rx,
        },
    );
    st.events.push(Event::Path(path.to_string(), true));
    tracing::debug!(path, "room started");
    if shared.cfg.factory.is_some() {
        st.room_tasks.retain(|t| !t.is_finished());
        let task = shared.handle.spawn(run_room(
            shared.clone(),
            path.to_string(),
            generation,
            previous,
            done_tx,
        ));
        st.room_tasks.push(task);
    }
}

/// Removes a client from a room (if `conn` is still that member), stopping the room when it
/// empties.
fn leave(st: &mut State, conn: u64, path: &str) {
    let Some(room) = st.rooms.get_mut(path) else {
        return;
    };
    let Some(client_id) = room
        .clients
        .iter()
        .find(|(_, m)| m.conn == conn)
        .map(|(id, _)| id.clone())
    else {
        return;
    };
    room.clients.shift_remove(&client_id);
    let emptied = room.clients.is_empty();
    keep_buffered_of_gone(st, path, conn);
    if let Some(entry) = st.conns.get_mut(&conn) {
        entry.paths.retain(|p| p != path);
    }
    st.events
        .push(Event::Client(path.to_string(), client_id.clone(), false));
    tracing::debug!(path, client_id, "client left");
    if emptied {
        teardown_room(st, path);
    }
}

fn teardown_room(st: &mut State, path: &str) {
    // What a starting room buffered for its peer was received: the peer still gets it.
    let mut orphans: Vec<(String, String)> = Vec::new();
    {
        let State { rooms, conns, .. } = &mut *st;
        if let Some(Room {
            phase: Phase::Starting { buffer, .. },
            ..
        }) = rooms.get_mut(path)
        {
            for b in std::mem::take(buffer) {
                if let Some(c) = conns.get_mut(&b.conn) {
                    c.buffered.0 -= b.payloads;
                    c.buffered.1 -= b.bytes;
                }
                if b.from != SERVER_CLIENT_ID && (b.to.is_empty() || b.to == SERVER_CLIENT_ID) {
                    orphans.push((b.from, joined_remainder(&b.remainders)));
                }
            }
        }
    }
    let Some(room) = st.rooms.shift_remove(path) else {
        return;
    };
    if !orphans.is_empty() {
        st.orphans.insert(room.generation, orphans);
    }
    // Dropping the inbox ends the peer task, which then calls `stop()`.
    drop(room.peer_inbox);
    // Relay-only rooms are done at once: nothing to wait for, nothing to remember.
    if !*room.done.borrow() {
        st.last_done
            .insert(path.to_string(), (room.generation, room.done));
    }
    st.events.push(Event::Path(path.to_string(), false));
    tracing::debug!(path, "room stopped");
}

/// Hands a leaving socket's buffered payloads to the room: they stay for the peer and the
/// other clients, but no longer count against the socket.
fn keep_buffered_of_gone(st: &mut State, path: &str, conn: u64) {
    let State { rooms, conns, .. } = st;
    let Some(Room {
        phase: Phase::Starting { buffer, .. },
        ..
    }) = rooms.get_mut(path)
    else {
        return;
    };
    for b in buffer.iter_mut().filter(|b| b.conn == conn) {
        if let Some(c) = conns.get_mut(&conn) {
            c.buffered.0 -= b.payloads;
            c.buffered.1 -= b.bytes;
        }
        b.conn = GONE;
    }
}

/// Closes a socket: queues the close frame ahead of its pending payloads and takes it out of
/// every room at once, so nothing more is relayed to or from it.
fn close_conn(st: &mut State, shared: &Shared, conn: u64, code: u16, reason: &str) {
    let Some(entry) = st.conns.get(&conn) else {
        return;
    };
    if !entry.out.is_closing() {
        match code {
            crate::sync::protocol::CLOSE_INVALID => {
                shared.closed_invalid.fetch_add(1, Ordering::Relaxed);
            }
            crate::sync::protocol::CLOSE_OVERFLOW => {
                shared.closed_overflow.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
        tracing::debug!(conn, code, reason, "closing socket");
        entry.out.close(Some((code, truncate_reason(reason))));
    }
    detach(st, conn);
}

/// Takes a socket out of all its rooms and forgets it.
fn detach(st: &mut State, conn: u64) {
    let Some(paths) = st.conns.get(&conn).map(|e| e.paths.clone()) else {
        return;
    };
    for path in paths {
        leave(st, conn, &path);
    }
    st.conns.remove(&conn);
}

/// Forwards `from\n<remainder>` for each remainder to the recipients TinyBase's relay picks,
/// and the message to the room peer when it is addressed to "" or "S".
fn relay(
    shared: &Arc<Shared>,
    st: &mut State,
    path: &str,
    from: &str,
    to: &str,
    remainders: &[String],
    for_peer: bool,
) {
    let mut overflowed: Vec<(u64, &'static str)> = Vec::new();
    {
        let State { rooms, conns, .. } = &mut *st;
        let Some(room) = rooms.get(path) else {
            return;
        };
        let send_to = |member: &Member, overflowed: &mut Vec<(u64, &'static str)>| {
            let Some(entry) = conns.get(&member.conn) else {
                return;
            };
            for r in remainders {
                let payload = raw_payload(from, r);
                let payload = match &member.channel {
                    Some(channel) => channel_payload(channel, &payload),
                    None => payload,
                };
                let cap = if from == SERVER_CLIENT_ID {
                    MAX_SOCKET_QUEUE_BYTES_WITH_ANSWERS
                } else {
                    MAX_SOCKET_QUEUE_BYTES
                };
                if !entry.out.push_within(payload, cap) {
                    overflowed.push((member.conn, "socket"));
                    return;
                }
            }
        };
        let to_peer = if to.is_empty() {
            for (id, member) in &room.clients {
                if id != from {
                    send_to(member, &mut overflowed);
                }
            }
            from != SERVER_CLIENT_ID
        } else if to == SERVER_CLIENT_ID {
            from != SERVER_CLIENT_ID
        } else {
            if let Some(member) = room.clients.get(to) {
                send_to(member, &mut overflowed);
            }
            false
        };
        if let (true, Some(inbox), true) = (to_peer, &room.peer_inbox, for_peer) {
            let size: usize = remainders.iter().map(String::len).sum();
            let (count, bytes) = &*inbox.pending;
            if count.load(Ordering::Acquire) >= MAX_PEER_INBOX
                || bytes.load(Ordering::Acquire) + size > MAX_PEER_INBOX_BYTES
            {
                if let Some(member) = room.clients.get(from) {
                    overflowed.push((member.conn, "server"));
                }
            } else {
                count.fetch_add(1, Ordering::AcqRel);
                bytes.fetch_add(size, Ordering::AcqRel);
                // The text, not the parsed tree (many times larger): the peer applies it
                // straight from the text.
                let text = joined_remainder(remainders);
                let _ = inbox.tx.send((from.to_string(), text, size));
            }
        }
    }
    for (conn, what) in overflowed {
        tracing::warn!(conn, what, "sync server: socket over its limits, closing");
        close_conn(
            st,
            shared,
            conn,
            crate::sync::protocol::CLOSE_OVERFLOW,
            &ProtocolError::Overflow(what).to_string(),
        );
    }
}

/// Keeps a client payload until the room's peer has started (TinyBase's server buffer):
/// ContentHashes from one sender to one destination are coalesced to the latest; a sender
/// over the room's or its socket's budget is closed (`server`).
fn buffer_payload(
    shared: &Arc<Shared>,
    st: &mut State,
    path: &str,
    conn: u64,
    from: &str,
    d: Decoded,
) {
    let new_payloads = d.remainders.len();
    let new_bytes: usize = d.remainders.iter().map(|r| r.len() + from.len() + 1).sum();
    let Some(conn_buffered) = st.conns.get(&conn).map(|c| c.buffered) else {
        return;
    };
    let (coalesce, over) = {
        let Some(room) = st.rooms.get(path) else {
            return;
        };
        let Phase::Starting {
            buffer,
            payloads,
            bytes,
            ..
        } = &room.phase
        else {
            return;
        };
        let coalesce = if d.message.message == MessageType::ContentHashes {
            buffer.iter().position(|b| {
                b.from == from && b.to == d.client_id && b.kind == MessageType::ContentHashes
            })
        } else {
            None
        };
        let (old_payloads, old_bytes, old_conn) = coalesce
            .map(|i| (buffer[i].payloads, buffer[i].bytes, buffer[i].conn))
            .unwrap_or((0, 0, conn));
        let (conn_old_payloads, conn_old_bytes) = if old_conn == conn {
            (old_payloads, old_bytes)
        } else {
            (0, 0)
        };
        let over = *payloads + new_payloads - old_payloads > MAX_QUEUED_PAYLOADS
            || *bytes + new_bytes - old_bytes > MAX_PAYLOAD_BYTES
            || conn_buffered.0 + new_payloads - conn_old_payloads > MAX_QUEUED_PAYLOADS
            || conn_buffered.1 + new_bytes - conn_old_bytes > MAX_PAYLOAD_BYTES;
        (coalesce, over)
    };
    if over {
        // The sender's earlier payloads were received within budget: they stay (see `leave`).
        tracing::warn!(
            path,
            conn,
            "sync server: start-up buffer full, closing sender"
        );
        close_conn(
            st,
            shared,
            conn,
            crate::sync::protocol::CLOSE_OVERFLOW,
            &ProtocolError::Overflow("server").to_string(),
        );
        return;
    }
    let State { rooms, conns, .. } = &mut *st;
    let Some(room) = rooms.get_mut(path) else {
        return;
    };
    let generation = room.generation;
    let Phase::Starting {
        buffer,
        payloads,
        bytes,
        epoch,
        ..
    } = &mut room.phase
    else {
        return;
    };
    let was_empty = buffer.is_empty();
    let entry = Buffered {
        conn,
        from: from.to_string(),
        to: d.client_id,
        remainders: d.remainders,
        kind: d.message.message,
        payloads: new_payloads,
        bytes: new_bytes,
    };
    match coalesce {
        Some(i) => {
            let old = std::mem::replace(&mut buffer[i], entry);
            if let Some(c) = conns.get_mut(&old.conn) {
                c.buffered.0 -= old.payloads;
                c.buffered.1 -= old.bytes;
            }
            *payloads -= old.payloads;
            *bytes -= old.bytes;
        }
        None => buffer.push(entry),
    }
    *payloads += new_payloads;
    *bytes += new_bytes;
    if let Some(c) = conns.get_mut(&conn) {
        c.buffered.0 += new_payloads;
        c.buffered.1 += new_bytes;
    }
    if was_empty {
        arm_expiry(shared, path, generation, *epoch);
    }
}

/// Closes the start-up buffer's senders if it is still waiting ten request timeouts from now.
fn arm_expiry(shared: &Arc<Shared>, path: &str, generation: u64, armed: u64) {
    let shared2 = shared.clone();
    let path = path.to_string();
    let delay = shared.cfg.request_timeout.saturating_mul(10);
    shared.handle.spawn(async move {
        tokio::time::sleep(delay).await;
        let shared3 = shared2.clone();
        shared2.with_state(|st| expire_buffer(&shared3, st, &path, generation, armed));
    });
}

/// The start-up buffer outlived ten request timeouts: its senders are closed (`server`).
fn expire_buffer(shared: &Arc<Shared>, st: &mut State, path: &str, generation: u64, armed: u64) {
    let Some(room) = st.rooms.get(path) else {
        return;
    };
    if room.generation != generation {
        return;
    }
    let Phase::Starting {
        buffer,
        epoch,
        loading,
        ..
    } = &room.phase
    else {
        return;
    };
    if *epoch != armed || buffer.is_empty() {
        return;
    }
    if !*loading {
        // The path's previous room is still applying and saving what it received: that is
        // progress, not a stuck start. Patience counts from when this room's load begins.
        arm_expiry(shared, path, generation, armed);
        return;
    }
    let mut conns: Vec<u64> = buffer
        .iter()
        .map(|b| b.conn)
        .filter(|c| *c != GONE)
        .collect();
    conns.sort_unstable();
    conns.dedup();
    if conns.is_empty() {
        return;
    }
    tracing::warn!(
        path,
        "sync server: room start-up too slow, closing buffered senders"
    );
    let reason = ProtocolError::Overflow("server").to_string();
    for conn in conns {
        close_conn(
            st,
            shared,
            conn,
            crate::sync::protocol::CLOSE_OVERFLOW,
            &reason,
        );
    }
}

/// A room's life with a peer factory: wait for the path's previous peer to stop, make the
/// peer, replay the buffer, feed the peer in order, and stop it when the room goes.
async fn run_room(
    shared: Arc<Shared>,
    path: String,
    generation: u64,
    previous: Option<watch::Receiver<bool>>,
    done: watch::Sender<bool>,
) {
    if let Some(mut previous) = previous {
        // An error means the previous room's task is gone: it is done either way.
        let _ = previous.wait_for(|d| *d).await;
    }
    shared.with_state(|st| {
        if let Some(Room {
            phase: Phase::Starting { loading, .. },
            ..
        }) = st
            .rooms
            .get_mut(&path)
            .filter(|r| r.generation == generation)
        {
            *loading = true;
        }
    });
    let peer = match shared.cfg.factory.clone() {
        Some(factory) => {
            let sender = RoomSender {
                inner: Arc::new(SenderInner {
                    shared: Arc::downgrade(&shared),
                    path: path.clone(),
                    generation,
                }),
            };
            let p = path.clone();
            let made = tokio::task::spawn_blocking(move || factory(&p, sender)).await;
            let failure = match made {
                Ok(Ok(peer)) => Ok(peer),
                Ok(Err(e)) => {
                    tracing::error!(path, error = %e, "sync server: room could not start");
                    Err("room storage unavailable")
                }
                Err(_) => {
                    tracing::warn!(path, "sync server: room peer factory panicked");
                    Err("internal error")
                }
            };
            match failure {
                Ok(peer) => peer,
                Err(reason) => {
                    // Never a silent relay-only room: its clients would believe they are saved.
                    let shared2 = shared.clone();
                    shared.with_state(|st| {
                        let conns: Vec<u64> = st
                            .rooms
                            .get(&path)
                            .filter(|r| r.generation == generation)
                            .map(|r| r.clients.values().map(|m| m.conn).collect())
                            .unwrap_or_default();
                        for conn in conns {
                            close_conn(st, &shared2, conn, CLOSE_INTERNAL, reason);
                        }
                    });
                    None
                }
            }
        }
        None => None,
    };
    let has_peer = peer.is_some();
    let shared2 = shared.clone();
    let inbox = shared.with_state(|st| {
        let Some(room) = st
            .rooms
            .get_mut(&path)
            .filter(|r| r.generation == generation)
        else {
            // The room went while its peer started: what it buffered for the peer waits here.
            return Err(st.orphans.remove(&generation).unwrap_or_default());
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let pending = Arc::new((AtomicUsize::new(0), AtomicUsize::new(0)));
        if has_peer {
            room.peer_inbox = Some(PeerInbox {
                tx,
                pending: pending.clone(),
            });
        }
        let phase = std::mem::replace(&mut room.phase, Phase::Ready);
        if let Phase::Starting { buffer, .. } = phase {
            for b in buffer {
                if let Some(c) = st.conns.get_mut(&b.conn) {
                    c.buffered.0 -= b.payloads;
                    c.buffered.1 -= b.bytes;
                }
                relay(&shared2, st, &path, &b.from, &b.to, &b.remainders, true);
            }
        }
        tracing::debug!(path, peer = has_peer, "room ready");
        Ok(has_peer.then_some((rx, pending)))
    });
    if let Some(peer) = peer {
        match inbox {
            Ok(Some((rx, pending))) => feed_peer(&peer, &path, rx, pending).await,
            Ok(None) => {}
            Err(orphans) => {
                let batch: Vec<PeerMessage> = orphans.into_iter().map(|(f, m)| (f, m, 0)).collect();
                let none = Arc::new((AtomicUsize::new(0), AtomicUsize::new(0)));
                apply_batch(&peer, &path, batch, none).await;
            }
        }
        let stopping = peer.clone();
        if tokio::task::spawn_blocking(move || stopping.stop())
            .await
            .is_err()
        {
            tracing::warn!(path, "sync server: room peer panicked in stop");
        }
    } else {
        shared.with_state(|st| st.orphans.remove(&generation));
    }
    let _ = done.send(true);
    let mut st = shared.state.lock();
    if st
        .last_done
        .get(&path)
        .is_some_and(|(g, _)| *g == generation)
    {
        st.last_done.remove(&path);
    }
}

/// Hands the peer its messages in order until the room's inbox closes (the room went and
/// everything sent before was taken). The peer works on the blocking pool, never on the
/// async workers, so a room applying and saving a backlog cannot stall sockets, other rooms,
/// or `/health`.
async fn feed_peer(
    peer: &Arc<dyn RoomPeer>,
    path: &str,
    mut rx: mpsc::UnboundedReceiver<PeerMessage>,
    pending: Arc<(AtomicUsize, AtomicUsize)>,
) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < PEER_BATCH {
            match rx.try_recv() {
                Ok(m) => batch.push(m),
                Err(_) => break,
            }
        }
        apply_batch(peer, path, batch, pending.clone()).await;
    }
}

/// Runs `receive` for each message of `batch` on the blocking pool, returning their budget as
/// each is taken.
async fn apply_batch(
    peer: &Arc<dyn RoomPeer>,
    path: &str,
    batch: Vec<PeerMessage>,
    pending: Arc<(AtomicUsize, AtomicUsize)>,
) {
    let peer = peer.clone();
    let log_path = path.to_string();
    let work = tokio::task::spawn_blocking(move || {
        for (from, text, size) in batch {
            pending.0.fetch_sub(1, Ordering::AcqRel);
            pending.1.fetch_sub(size, Ordering::AcqRel);
            let p = &peer;
            if std::panic::catch_unwind(AssertUnwindSafe(|| p.receive_text(&from, &text))).is_err()
            {
                tracing::warn!(path = %log_path, "sync server: room peer panicked in receive");
            }
        }
    });
    if work.await.is_err() {
        tracing::warn!(path, "sync server: room peer task failed");
    }
}

// ---------------------------------------------------------------------------------- shutdown

async fn shutdown_inner(shared: Arc<Shared>) {
    if shared.shutdown_started.swap(true, Ordering::AcqRel) {
        let mut done = shared.shutdown_done.subscribe();
        let _ = done.wait_for(|d| *d).await;
        return;
    }
    shared.stop_accept.send_replace(true);
    let shared2 = shared.clone();
    let tasks = shared.with_state(|st| {
        st.shutting_down = true;
        let conns: Vec<u64> = st.conns.keys().copied().collect();
        for conn in conns {
            close_conn(st, &shared2, conn, CLOSE_GOING_AWAY, "");
        }
        let paths: Vec<String> = st.rooms.keys().cloned().collect();
        for path in paths {
            teardown_room(st, &path);
        }
        std::mem::take(&mut st.room_tasks)
    });
    for task in tasks {
        let _ = task.await;
    }
    let deadline = tokio::time::Instant::now() + SHUTDOWN_SOCKETS_GRACE;
    loop {
        let changed = shared.active_changed.notified();
        if shared.active.load(Ordering::Acquire) == 0 {
            break;
        }
        if tokio::time::timeout_at(deadline, changed).await.is_err() {
            break;
        }
    }
    tracing::debug!("sync server shut down");
    shared.shutdown_done.send_replace(true);
}

// ---------------------------------------------------------------------------------- connections

async fn accept_loop(shared: Arc<Shared>, listener: TcpListener, mut stop: watch::Receiver<bool>) {
    loop {
        let accepted = tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            a = listener.accept() => a,
        };
        let (tcp, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Typically EMFILE: back off instead of spinning.
                tracing::warn!(error = %e, "sync server: accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        if shared.active.fetch_add(1, Ordering::AcqRel) >= shared.cfg.max_connections {
            let guard = ActiveGuard(shared.clone());
            tokio::spawn(async move {
                // Plain text even under TLS: a handshake would cost what the limit protects.
                let mut tcp = ServerStream::Plain(tcp);
                let _ = respond(&mut tcp, 503, "text/plain", "too many connections", &[]).await;
                drop(guard);
            });
            continue;
        }
        let guard = ActiveGuard(shared.clone());
        let shared = shared.clone();
        tokio::spawn(async move {
            serve_connection(shared, tcp, peer).await;
            drop(guard);
        });
    }
    tracing::debug!("sync server stopped listening");
}

struct ActiveGuard(Arc<Shared>);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::AcqRel);
        self.0.active_changed.notify_waiters();
    }
}

struct Head {
    method: String,
    uri: String,
    headers: Vec<(String, String)>,
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn header_has_token(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .any(|(_, v)| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    }
}

enum HeadError {
    Closed,
    TooLarge,
    TooManyHeaders,
    Malformed,
}

/// Reads the HTTP request head; returns it and any bytes read past it.
async fn read_head(tcp: &mut ServerStream) -> Result<(Head, Vec<u8>), HeadError> {
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    let end = loop {
        let n = tcp.read(&mut chunk).await.map_err(|_| HeadError::Closed)?;
        if n == 0 {
            return Err(HeadError::Closed);
        }
        let scan_from = buf.len().saturating_sub(3);
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf[scan_from..].windows(4).position(|w| w == b"\r\n\r\n") {
            break scan_from + i + 4;
        }
        if buf.len() > MAX_HEAD_BYTES {
            return Err(HeadError::TooLarge);
        }
    };
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(&buf[..end]) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(HeadError::Malformed),
        Err(httparse::Error::TooManyHeaders) => return Err(HeadError::TooManyHeaders),
        Err(_) => return Err(HeadError::Malformed),
    }
    let head = Head {
        method: req.method.unwrap_or("").to_string(),
        uri: req.path.unwrap_or("").to_string(),
        headers: req
            .headers
            .iter()
            .map(|h| {
                (
                    h.name.to_ascii_lowercase(),
                    String::from_utf8_lossy(h.value).into_owned(),
                )
            })
            .collect(),
    };
    Ok((head, buf[end..].to_vec()))
}

fn status_text(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

async fn respond(
    tcp: &mut ServerStream,
    status: u16,
    content_type: &str,
    body: &str,
    extra: &[(&str, &str)],
) -> io::Result<()> {
    let mut out = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n",
        status_text(status),
        body.len()
    );
    for (name, value) in extra {
        out.push_str(name);
        out.push_str(": ");
        out.push_str(value);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out.push_str(body);
    tcp.write_all(out.as_bytes()).await?;
    tcp.flush().await?;
    tcp.shutdown().await
}

async fn respond_text(tcp: &mut ServerStream, status: u16, text: &str) {
    let _ = respond(tcp, status, "text/plain; charset=utf-8", text, &[]).await;
}

/// `ws`'s key check: base64 of 16 bytes. It also keeps ids like `S` or empty ones, which
/// would impersonate the room peer or a broadcast, out of rooms.
fn is_valid_key(key: &str) -> bool {
    let b = key.as_bytes();
    b.len() == 24
        && b[..22]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'+' || *c == b'/')
        && &b[22..] == b"=="
}

fn stats_json(shared: &Shared) -> String {
    let st = shared.state.lock();
    let rooms: Vec<Json> = st
        .rooms
        .iter()
        .map(|(path, room)| {
            serde_json::json!({
                "path": path,
                "clients": room.clients.len(),
                "peer": room.peer_inbox.is_some(),
            })
        })
        .collect();
    serde_json::json!({
        "paths": st.rooms.len(),
        "clients": st.rooms.values().map(|r| r.clients.len()).sum::<usize>(),
        "rooms": rooms,
        "framesIn": shared.frames_in.load(Ordering::Relaxed),
        "framesOut": shared.frames_out.load(Ordering::Relaxed),
        "closedInvalid": shared.closed_invalid.load(Ordering::Relaxed),
        "closedOverflow": shared.closed_overflow.load(Ordering::Relaxed),
    })
    .to_string()
}

async fn run_auth(shared: &Shared, request: AuthRequest) -> AuthDecision {
    let Some(auth) = shared.cfg.auth.clone() else {
        return AuthDecision::Accept;
    };
    match tokio::task::spawn_blocking(move || auth(&request)).await {
        Ok(decision) => decision,
        Err(_) => {
            tracing::warn!("sync server: auth hook panicked");
            AuthDecision::Reject {
                status: 500,
                reason: "internal error".to_string(),
            }
        }
    }
}

/// The HTTP status of a rejection: the hook's if it is an error status, else 403.
fn reject_status(status: u16) -> u16 {
    if (400..=599).contains(&status) {
        status
    } else {
        403
    }
}

fn truncate_reason(reason: &str) -> String {
    if reason.len() <= MAX_CLOSE_REASON {
        return reason.to_string();
    }
    let mut end = MAX_CLOSE_REASON;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason[..end].to_string()
}

fn clean_line(text: &str) -> String {
    text.chars().filter(|c| *c != '\r' && *c != '\n').collect()
}

async fn serve_connection(shared: Arc<Shared>, tcp: TcpStream, peer: SocketAddr) {
    let mut stopping = shared.stop_accept.subscribe();
    let mut tcp = match &shared.cfg.tls {
        None => ServerStream::Plain(tcp),
        Some(acceptor) => {
            let handshake = tokio::select! {
                h = tokio::time::timeout(HEAD_TIMEOUT, acceptor.accept(tcp)) => h,
                _ = stopping.wait_for(|s| *s) => return,
            };
            match handshake {
                Ok(Ok(tls)) => ServerStream::Tls(Box::new(tls)),
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => return,
            }
        }
    };
    let head = tokio::select! {
        h = tokio::time::timeout(HEAD_TIMEOUT, read_head(&mut tcp)) => h,
        _ = stopping.wait_for(|s| *s) => return,
    };
    let (head, leftover) = match head {
        Ok(Ok(h)) => h,
        Ok(Err(HeadError::TooLarge)) | Ok(Err(HeadError::TooManyHeaders)) => {
            return respond_text(&mut tcp, 431, "request head too large").await;
        }
        Ok(Err(HeadError::Malformed)) => {
            return respond_text(&mut tcp, 400, "bad request").await;
        }
        Ok(Err(HeadError::Closed)) | Err(_) => return,
    };
    if !head.header_has_token("upgrade", "websocket") {
        let route = head.uri.split('?').next().unwrap_or("");
        return match (head.method.as_str(), route) {
            ("GET", "/health") => {
                let _ = respond(&mut tcp, 200, "application/json", r#"{"ok":true}"#, &[]).await;
            }
            ("GET", "/stats") => {
                let request = AuthRequest {
                    purpose: AuthPurpose::Stats,
                    url: head.uri.clone(),
                    path: String::new(),
                    client_id: String::new(),
                    headers: head.headers.clone(),
                };
                if let AuthDecision::Reject { status, reason } = run_auth(&shared, request).await {
                    return respond_text(&mut tcp, reject_status(status), &clean_line(&reason))
                        .await;
                }
                let body = stats_json(&shared);
                let _ = respond(&mut tcp, 200, "application/json", &body, &[]).await;
            }
            _ => respond_text(&mut tcp, 404, "not found").await,
        };
    }
    if head.method != "GET" || !head.header_has_token("connection", "upgrade") {
        return respond_text(&mut tcp, 400, "bad websocket upgrade").await;
    }
    if head.header("sec-websocket-version").map(str::trim) != Some("13") {
        let _ = respond(
            &mut tcp,
            426,
            "text/plain; charset=utf-8",
            "unsupported websocket version",
            &[("Sec-WebSocket-Version", "13")],
        )
        .await;
        return;
    }
    let Some(client_id) = head
        .header("sec-websocket-key")
        .map(str::trim)
        .filter(|k| is_valid_key(k))
        .map(str::to_string)
    else {
        return respond_text(&mut tcp, 400, "missing or invalid Sec-WebSocket-Key").await;
    };
    let Some(path) = path_id_of_url(&head.uri).map(str::to_string) else {
        return respond_text(&mut tcp, 400, "bad path").await;
    };
    let offered: Vec<String> = head
        .headers
        .iter()
        .filter(|(n, _)| n == "sec-websocket-protocol")
        .flat_map(|(_, v)| v.split(',').map(|p| p.trim().to_string()))
        .filter(|p| !p.is_empty())
        .collect();
    let multiplexed = offered.iter().any(|p| p == SUBPROTOCOL);
    // Like `ws`: echo the first offered protocol, so clients that insist on one still connect.
    let echoed = if multiplexed {
        Some(SUBPROTOCOL.to_string())
    } else {
        offered.first().cloned()
    };
    let mut read_only = false;
    if !multiplexed {
        match run_auth(
            &shared,
            AuthRequest {
                purpose: AuthPurpose::Join,
                url: head.uri.clone(),
                path: path.clone(),
                client_id: client_id.clone(),
                headers: head.headers.clone(),
            },
        )
        .await
        {
            AuthDecision::Accept => {}
            AuthDecision::ReadOnly => read_only = true,
            AuthDecision::Reject { status, reason } => {
                return respond_text(&mut tcp, reject_status(status), &clean_line(&reason)).await;
            }
        }
    }

    let conn = shared.next_id();
    let (tx, rx) = mpsc::unbounded_channel();
    let (close_tx, close_rx) = oneshot::channel();
    let (closing_tx, closing_rx) = watch::channel(false);
    let out = Arc::new(ConnOut {
        tx,
        queued: AtomicUsize::new(0),
        queued_bytes: AtomicUsize::new(0),
        close: Mutex::new(Some(close_tx)),
        closing: closing_tx,
    });
    let shared2 = shared.clone();
    let registered = shared.with_state(|st| {
        if st.shutting_down {
            return Err(503);
        }
        st.conns.insert(
            conn,
            ConnEntry {
                out: out.clone(),
                paths: Vec::new(),
                buffered: (0, 0),
            },
        );
        if !multiplexed {
            match join(&shared2, st, conn, &path, &client_id, None) {
                Ok(()) => {}
                Err(e) => {
                    st.conns.remove(&conn);
                    return Err(match e {
                        JoinError::ShuttingDown | JoinError::TooManyRooms => 503,
                        JoinError::Duplicate => 409,
                    });
                }
            }
        }
        Ok(())
    });
    if let Err(status) = registered {
        return respond_text(&mut tcp, status, status_text(status)).await;
    }
    let mut response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n",
        derive_accept_key(client_id.as_bytes())
    );
    if let Some(protocol) = &echoed {
        response.push_str("Sec-WebSocket-Protocol: ");
        response.push_str(&clean_line(protocol));
        response.push_str("\r\n");
    }
    response.push_str("\r\n");
    if tcp.write_all(response.as_bytes()).await.is_err() {
        shared.with_state(|st| detach(st, conn));
        return;
    }
    tracing::debug!(%peer, path, client_id, multiplexed, read_only, "socket open");
    let config = WebSocketConfig::default()
        .max_message_size(Some(WS_MAX_MESSAGE))
        .max_frame_size(Some(WS_MAX_MESSAGE));
    let ws = WebSocketStream::from_partially_read(tcp, leftover, Role::Server, Some(config)).await;
    let (sink, stream) = ws.split();
    if let Some(hook) = &shared.cfg.on_trace {
        hook(TraceEvent::Open {
            conn,
            url: &head.uri,
            protocol: echoed.as_deref().unwrap_or(""),
            key: &client_id,
        });
    }
    let writer = tokio::spawn(write_loop(
        shared.clone(),
        sink,
        rx,
        close_rx,
        out.clone(),
        conn,
    ));
    let mode = if multiplexed {
        Mode::Multiplexed(Mux {
            base: path,
            url: if shared.cfg.auth.is_some() {
                head.uri.clone()
            } else {
                String::new()
            },
            headers: if shared.cfg.auth.is_some() {
                head.headers
            } else {
                Vec::new()
            },
            negotiated: false,
            channels: HashMap::new(),
        })
    } else {
        Mode::Legacy {
            path,
            decoder: PayloadDecoder::new(shared.cfg.request_timeout.as_millis() as u64),
            read_only,
        }
    };
    let mut socket = Socket {
        shared: shared.clone(),
        conn,
        client_id,
        out: out.clone(),
        budget: FragmentBudget::default(),
        mode,
    };
    socket.read_loop(stream, closing_rx).await;
    shared.with_state(|st| detach(st, conn));
    out.close(None);
    let mut writer = writer;
    if tokio::time::timeout(CLOSE_GRACE, &mut writer)
        .await
        .is_err()
    {
        writer.abort();
    }
    if let Some(hook) = &shared.cfg.on_trace {
        hook(TraceEvent::Close { conn });
    }
    tracing::debug!(conn, "socket finished");
}

type WsSink = SplitSink<WebSocketStream<ServerStream>, WsMessage>;
type WsStream = SplitStream<WebSocketStream<ServerStream>>;

/// Sends the close frame (bounded: a client that does not read cannot take it), or nothing.
async fn send_close(sink: &mut WsSink, close: CloseRequest) {
    if let Some((code, reason)) = close {
        let frame = CloseFrame {
            code: CloseCode::from(code),
            reason: reason.into(),
        };
        let _ = tokio::time::timeout(CLOSE_GRACE, sink.send(WsMessage::Close(Some(frame)))).await;
    }
}

/// Drains a socket's queue into the WebSocket; a close request jumps the queue (TinyBase
/// closes an overflowing client at once, whatever it still had queued).
async fn write_loop(
    shared: Arc<Shared>,
    mut sink: WsSink,
    mut rx: mpsc::UnboundedReceiver<String>,
    mut close_rx: oneshot::Receiver<CloseRequest>,
    out: Arc<ConnOut>,
    conn: u64,
) {
    loop {
        let payload = tokio::select! {
            biased;
            close = &mut close_rx => return send_close(&mut sink, close.ok().flatten()).await,
            p = rx.recv() => match p {
                Some(p) => p,
                None => return,
            },
        };
        out.queued.fetch_sub(1, Ordering::AcqRel);
        out.queued_bytes.fetch_sub(payload.len(), Ordering::AcqRel);
        if let Some(hook) = &shared.cfg.on_trace {
            hook(TraceEvent::Frame {
                conn,
                sent: true,
                data: &payload,
            });
        }
        // Batch: flush only when the queue is drained (or the writer must wait anyway).
        let sent = tokio::select! {
            biased;
            close = &mut close_rx => return send_close(&mut sink, close.ok().flatten()).await,
            r = async {
                sink.feed(WsMessage::text(payload)).await?;
                if rx.is_empty() {
                    sink.flush().await?;
                }
                Ok::<(), tokio_tungstenite::tungstenite::Error>(())
            } => r,
        };
        if sent.is_err() {
            return;
        }
        shared.frames_out.fetch_add(1, Ordering::Relaxed);
    }
}

// ---------------------------------------------------------------------------------- reading

struct Channel {
    path: String,
    decoder: PayloadDecoder,
    read_only: bool,
}

struct Mux {
    base: String,
    /// The upgrade request's headers, for the per-channel [`AuthHook`] calls (kept only when
    /// there is a hook).
    headers: Vec<(String, String)>,
    /// The upgrade request's target, likewise.
    url: String,
    negotiated: bool,
    channels: HashMap<String, Channel>,
}

enum Mode {
    Legacy {
        path: String,
        decoder: PayloadDecoder,
        read_only: bool,
    },
    Multiplexed(Mux),
}

struct Socket {
    shared: Arc<Shared>,
    conn: u64,
    client_id: String,
    out: Arc<ConnOut>,
    budget: FragmentBudget,
    mode: Mode,
}

/// Why a frame ends the socket.
enum Refusal {
    Protocol(ProtocolError),
    Policy(String),
}

impl From<ProtocolError> for Refusal {
    fn from(e: ProtocolError) -> Self {
        Refusal::Protocol(e)
    }
}

/// Whether a read-only client's message is dropped: anything that would change others' content.
fn is_write(message: &Message) -> bool {
    match message.message {
        MessageType::ContentHashes | MessageType::ContentDiff => true,
        MessageType::Response => !is_body_valid(MessageType::ContentHashes, &message.body),
        _ => false,
    }
}

impl Socket {
    async fn read_loop(&mut self, mut stream: WsStream, mut closing: watch::Receiver<bool>) {
        let mut deadline: Option<tokio::time::Instant> = None;
        loop {
            let next = match deadline {
                Some(d) => match tokio::time::timeout_at(d, stream.next()).await {
                    Ok(n) => n,
                    Err(_) => return,
                },
                None => tokio::select! {
                    n = stream.next() => n,
                    _ = closing.wait_for(|c| *c) => {
                        deadline = Some(tokio::time::Instant::now() + CLOSE_GRACE);
                        continue;
                    }
                },
            };
            let Some(frame) = next else {
                return;
            };
            let refusal = match frame {
                Ok(WsMessage::Text(text)) => {
                    self.shared.frames_in.fetch_add(1, Ordering::Relaxed);
                    if let Some(hook) = &self.shared.cfg.on_trace {
                        hook(TraceEvent::Frame {
                            conn: self.conn,
                            sent: false,
                            data: text.as_str(),
                        });
                    }
                    if self.out.is_closing() {
                        continue;
                    }
                    match self.on_text(text.as_str()).await {
                        Ok(()) => continue,
                        Err(r) => r,
                    }
                }
                Ok(WsMessage::Binary(_)) => {
                    self.shared.frames_in.fetch_add(1, Ordering::Relaxed);
                    Refusal::Protocol(ProtocolError::Invalid)
                }
                Ok(_) => continue,
                Err(tokio_tungstenite::tungstenite::Error::Capacity(_)) => {
                    Refusal::Protocol(ProtocolError::Overflow("socket"))
                }
                Err(tokio_tungstenite::tungstenite::Error::Utf8(_)) => {
                    Refusal::Protocol(ProtocolError::Invalid)
                }
                Err(e) => {
                    tracing::debug!(conn = self.conn, error = %e, "socket read error");
                    return;
                }
            };
            if self.out.is_closing() {
                // Already closing: a second error means the stream is unusable.
                if deadline.is_some() {
                    return;
                }
                continue;
            }
            let (code, reason) = match refusal {
                Refusal::Protocol(e) => (e.close_code(), e.to_string()),
                Refusal::Policy(reason) => (CLOSE_POLICY, reason),
            };
            let shared = self.shared.clone();
            let conn = self.conn;
            shared.with_state(|st| close_conn(st, &shared, conn, code, &reason));
            if let Mode::Multiplexed(mux) = &mut self.mode {
                for channel in mux.channels.values_mut() {
                    channel.decoder.clear(&mut self.budget);
                }
            }
        }
    }

    async fn on_text(&mut self, text: &str) -> Result<(), Refusal> {
        let now = self.shared.now_ms();
        match &mut self.mode {
            Mode::Legacy {
                path,
                decoder,
                read_only,
            } => {
                if let Some(decoded) = decoder.decode(text, now, &mut self.budget)? {
                    let (path, read_only) = (path.clone(), *read_only);
                    self.deliver(&path, read_only, decoded);
                }
                Ok(())
            }
            Mode::Multiplexed(_) => self.on_multiplexed(text, now).await,
        }
    }

    async fn on_multiplexed(&mut self, text: &str, now: u64) -> Result<(), Refusal> {
        if text.len() > MAX_PAYLOAD_BYTES {
            return Err(ProtocolError::Overflow("socket").into());
        }
        if let Some(control) = parse_control(text) {
            return self.on_control(control).await;
        }
        let Mode::Multiplexed(mux) = &mut self.mode else {
            return Ok(());
        };
        match parse_channel_frame(text) {
            Some(ChannelFrame::Oversized) => Err(ProtocolError::Overflow("channels").into()),
            Some(ChannelFrame::Data { channel, payload }) => {
                if !mux.negotiated {
                    return Err(ProtocolError::Invalid.into());
                }
                let Some(ch) = mux.channels.get_mut(channel) else {
                    return Err(ProtocolError::Invalid.into());
                };
                if let Some(decoded) = ch.decoder.decode(payload, now, &mut self.budget)? {
                    let (path, read_only) = (ch.path.clone(), ch.read_only);
                    self.deliver(&path, read_only, decoded);
                }
                Ok(())
            }
            None => Err(ProtocolError::Invalid.into()),
        }
    }

    async fn on_control(
        &mut self,
        control: crate::sync::protocol::ControlFrame,
    ) -> Result<(), Refusal> {
        let Mode::Multiplexed(mux) = &mut self.mode else {
            return Ok(());
        };
        let ack = control_payload(
            control.request_id.as_deref(),
            control.control,
            &control.body,
        );
        match control.control {
            Control::Hello => {
                mux.negotiated = true;
                self.push_own(ack);
                Ok(())
            }
            // TinyBase ignores channel controls before Hello.
            _ if !mux.negotiated => Ok(()),
            Control::Subscribe => {
                let channel = control.channel().unwrap_or("").to_string();
                if is_channel_id_too_large(&channel) {
                    return Err(ProtocolError::Overflow("channels").into());
                }
                if mux.channels.contains_key(&channel) {
                    self.push_own(ack);
                    return Ok(());
                }
                if mux.channels.len() >= MAX_CHANNELS {
                    return Err(ProtocolError::Overflow("channels").into());
                }
                let path = channel_path(&mux.base, &channel);
                let decision = run_auth(
                    &self.shared,
                    AuthRequest {
                        purpose: AuthPurpose::Join,
                        url: mux.url.clone(),
                        path: path.clone(),
                        client_id: self.client_id.clone(),
                        headers: mux.headers.clone(),
                    },
                )
                .await;
                let read_only = match decision {
                    AuthDecision::Accept => false,
                    AuthDecision::ReadOnly => true,
                    AuthDecision::Reject { reason, .. } => return Err(Refusal::Policy(reason)),
                };
                let shared = self.shared.clone();
                let (conn, client_id) = (self.conn, self.client_id.clone());
                let out = self.out.clone();
                let joined = shared.with_state(|st| {
                    let r = join(&shared, st, conn, &path, &client_id, Some(&channel));
                    if r.is_ok() && !out.push(ack) {
                        close_conn(
                            st,
                            &shared,
                            conn,
                            crate::sync::protocol::CLOSE_OVERFLOW,
                            &ProtocolError::Overflow("socket").to_string(),
                        );
                    }
                    r
                });
                match joined {
                    Ok(()) => {
                        let Mode::Multiplexed(mux) = &mut self.mode else {
                            return Ok(());
                        };
                        mux.channels.insert(
                            channel,
                            Channel {
                                path,
                                decoder: PayloadDecoder::new(
                                    self.shared.cfg.request_timeout.as_millis() as u64,
                                ),
                                read_only,
                            },
                        );
                        Ok(())
                    }
                    Err(JoinError::Duplicate) => Err(Refusal::Policy("duplicate client id".into())),
                    Err(JoinError::TooManyRooms) => Err(ProtocolError::Overflow("rooms").into()),
                    Err(JoinError::ShuttingDown) => Ok(()),
                }
            }
            Control::Unsubscribe => {
                let channel = control.channel().unwrap_or("").to_string();
                if is_channel_id_too_large(&channel) {
                    return Err(ProtocolError::Overflow("channels").into());
                }
                if let Some(mut ch) = mux.channels.remove(&channel) {
                    ch.decoder.clear(&mut self.budget);
                    let shared = self.shared.clone();
                    let conn = self.conn;
                    shared.with_state(|st| leave(st, conn, &ch.path));
                }
                Ok(())
            }
        }
    }

    /// Queues a frame for this socket (control acks), closing it if over its limits.
    fn push_own(&self, payload: String) {
        if !self.out.push(payload) {
            let shared = self.shared.clone();
            let conn = self.conn;
            shared.with_state(|st| {
                close_conn(
                    st,
                    &shared,
                    conn,
                    crate::sync::protocol::CLOSE_OVERFLOW,
                    &ProtocolError::Overflow("socket").to_string(),
                )
            });
        }
    }

    /// Relays (or buffers, while the room starts) a validated message from this socket.
    fn deliver(&self, path: &str, read_only: bool, decoded: Decoded) {
        if read_only && is_write(&decoded.message) {
            tracing::debug!(
                path,
                client_id = self.client_id,
                "dropped a read-only client's write"
            );
            return;
        }
        let shared = self.shared.clone();
        let conn = self.conn;
        let from = self.client_id.as_str();
        shared.with_state(|st| {
            let Some(room) = st.rooms.get(path) else {
                return;
            };
            if room.clients.get(from).is_none_or(|m| m.conn != conn) {
                return;
            }
            if matches!(room.phase, Phase::Starting { .. }) {
                buffer_payload(&shared, st, path, conn, from, decoded);
            } else {
                let Decoded {
                    client_id: to,
                    remainders,
                    message,
                } = decoded;
                // Validated: the tree is not needed any more (the peer gets the text).
                drop(message);
                relay(&shared, st, path, from, &to, &remainders, true);
            }
        });
    }
}
