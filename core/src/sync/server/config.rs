//! How a [`WsServer`](super::WsServer) is run ([`ServerConfig`]), what it reports
//! ([`ServerStats`], [`TraceEvent`]) and why it may not start ([`ServerError`]).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::{AuthHook, DEFAULT_ADDR, RoomPeerFactory, TlsIdentity};
use crate::sync::metrics::SyncMetrics;

/// How to run a [`WsServer`](super::WsServer).
///
/// ```
/// use std::time::Duration;
/// use tinystore_core::sync::rooms::{RoomOptions, memory_rooms};
/// use tinystore_core::sync::server::{DEFAULT_ADDR, ServerConfig};
///
/// let config = ServerConfig {
///     addr: "0.0.0.0:8043".parse()?,
///     request_timeout: Duration::from_secs(2),
///     peer_factory: Some(memory_rooms(RoomOptions::default())),
///     max_rooms: Some(1000),
///     ..ServerConfig::default()
/// };
/// assert_eq!(ServerConfig::default().addr.to_string(), DEFAULT_ADDR);
/// # let _ = config;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct ServerConfig {
    /// Where to listen (port 0: the OS picks one; see
    /// [`WsServer::port`](super::WsServer::port)). Default [`DEFAULT_ADDR`].
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
    /// Where the server counts what `GET /metrics` reports (shared with the room stores, which
    /// count their saves); `None`: the server makes its own.
    pub metrics: Option<Arc<SyncMetrics>>,
    /// Whether `/inspector` (a live view of the rooms) is served, and whether it may edit
    /// cells. Default [`InspectorMode::ReadOnly`].
    pub inspector: InspectorMode,
}

/// Whether the server's `/inspector` page is served and may edit the rooms' stores.
///
/// ```
/// use tinystore_core::sync::server::{InspectorMode, ServerConfig};
///
/// assert_eq!(ServerConfig::default().inspector, InspectorMode::ReadOnly);
/// let config = ServerConfig { inspector: InspectorMode::Write, ..ServerConfig::default() };
/// assert!(config.inspector.is_enabled() && config.inspector.can_write());
/// assert!(!InspectorMode::Off.is_enabled());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InspectorMode {
    /// No `/inspector` page nor its API.
    Off,
    /// The page shows the rooms live; edits are refused.
    #[default]
    ReadOnly,
    /// The page shows the rooms and may set and delete cells (as the room's server client).
    Write,
}

impl InspectorMode {
    /// Whether the page and its API are served.
    ///
    /// ```
    /// use tinystore_core::sync::server::InspectorMode;
    /// assert!(InspectorMode::ReadOnly.is_enabled());
    /// assert!(!InspectorMode::Off.is_enabled());
    /// ```
    pub fn is_enabled(self) -> bool {
        self != InspectorMode::Off
    }

    /// Whether edits are allowed.
    ///
    /// ```
    /// use tinystore_core::sync::server::InspectorMode;
    /// assert!(InspectorMode::Write.can_write());
    /// assert!(!InspectorMode::ReadOnly.can_write());
    /// ```
    pub fn can_write(self) -> bool {
        self == InspectorMode::Write
    }
}

/// What a [`TraceHook`] observes; `conn` numbers sockets in accept order.
///
/// ```no_run
/// use std::sync::Arc;
/// use tinystore_core::sync::server::{ServerConfig, TraceEvent, TraceHook, WsServer};
///
/// let trace: TraceHook = Arc::new(|event: TraceEvent<'_>| match event {
///     TraceEvent::Open { conn, url, .. } => eprintln!("#{conn} open {url}"),
///     TraceEvent::Frame { conn, sent: true, data } => eprintln!("#{conn} > {data}"),
///     TraceEvent::Frame { conn, sent: false, data } => eprintln!("#{conn} < {data}"),
///     TraceEvent::Close { conn } => eprintln!("#{conn} closed"),
///     _ => {}
/// });
/// let server = WsServer::start(ServerConfig { on_trace: Some(trace), ..Default::default() })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
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
            metrics: None,
            inspector: InspectorMode::default(),
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
            .field("metrics", &self.metrics.is_some())
            .field("inspector", &self.inspector)
            .finish()
    }
}

/// Why the server could not start.
///
/// ```no_run
/// use tinystore_core::sync::server::{ServerConfig, ServerError, WsServer};
///
/// let first = WsServer::start(ServerConfig::default())?;
/// // Its address is taken now.
/// let again = WsServer::start(ServerConfig::default());
/// assert!(matches!(again, Err(ServerError::Bind { addr, .. }) if addr == first.local_addr()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
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
///
/// ```no_run
/// use tinystore_core::sync::server::{ServerConfig, ServerStats, WsServer};
///
/// let server = WsServer::start(ServerConfig::default())?;
/// assert_eq!(server.get_stats(), ServerStats { paths: 0, clients: 0 });
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// Rooms.
    pub paths: usize,
    /// Clients, summed over rooms (a multiplexed socket counts once per channel).
    pub clients: usize,
}
