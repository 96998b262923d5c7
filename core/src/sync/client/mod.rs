//! The WebSocket sync client (spec sync.md §3, §4): TinyBase's `createWsSynchronizer`, in both
//! framings (legacy one-socket-per-room, and the `tinybase` multiplexing subprotocol on a
//! channel), wire-compatible with TinyBase 10.0.1 servers, plus an optional reconnect policy.
//!
//! Every socket of the process is driven by the library's shared tokio runtime
//! ([`crate::runtime`], created on first use), so [`WsSynchronizer::connect`] works from any thread,
//! inside a tokio runtime or not, and a process can hold many clients cheaply.
//!
//! # Behaviour
//! - Outgoing messages become one text frame each, or fragments when
//!   [`WsClientConfig::fragment_size`] is set; multiplexed frames are wrapped as
//!   `M\n<channel>\n<payload>`.
//! - Incoming frames are validated and reassembled; an invalid frame closes the socket with
//!   1007 `tinybase:14` (or 1013 `tinybase:15:<what>` for an exceeded limit), as TinyBase does.
//! - Without a [`ReconnectPolicy`] (TinyBase's behaviour) a closed socket stays closed: the
//!   synchronizer keeps its store and nothing is resent; pending requests time out.
//! - With a policy, a dropped connection is retried with capped exponential backoff and jitter.
//!   While disconnected, broadcast `ContentHashes`/`ContentDiff` messages are coalesced into one
//!   fresh `ContentHashes` after reconnecting; other messages queue (at most 1,000 payloads or
//!   16 MiB, each dropped after the request timeout). After every reconnect a full hash exchange
//!   runs: a save (if auto-saving or something was coalesced) and a pull (if auto-loading).
//!   Only connections that opened once are retried: the first [`WsSynchronizer::connect`]
//!   reports its failure instead.
//!
//! # Threads
//! Incoming messages are handled on the runtime's threads (inside `block_in_place`, so a slow
//! store listener never stalls other sockets); store listeners fired by remote changes run
//! there. The hooks of [`WsClientConfig`] run on the runtime too: they must return quickly and
//! must not call [`WsSynchronizer::connect`] or [`WsSynchronizer::destroy`].
//!
//! `wss://` uses rustls (with its `ring` crypto provider, the only one this crate enables, so
//! rustls picks it by itself) and the webpki root certificates. An app that links another
//! rustls provider as well must install one with `CryptoProvider::install_default`; should none
//! be available, the connection attempt fails with [`WsClientError::Connect`].

use std::collections::VecDeque;
use std::fmt;
use std::ops::Deref;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use parking_lot::{Condvar, Mutex};
use serde_json::Value as Json;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Request;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::protocol::{
    ChannelFrame, Control, FragmentBudget, MAX_PAYLOAD_BYTES, MAX_QUEUED_PAYLOADS,
    MAX_SERVER_MESSAGE_BYTES, Message, MessageType, PayloadDecoder, ProtocolError, SUBPROTOCOL,
    channel_payload, control_payload, is_channel_id_too_large, is_channel_id_valid, make_payloads,
    parse_channel_frame, parse_control,
};
use super::synchronizer::{
    DEFAULT_REQUEST_TIMEOUT, ErrorHook, SyncError, Synchronizer, SynchronizerOptions, Transport,
    WeakSynchronizer,
};
use crate::js;
use crate::mergeable::MergeableStore;

mod connect;
mod framing;
mod link;
mod reconnect;

use connect::*;
use framing::*;
use link::*;
use reconnect::*;

/// How long [`WsSynchronizer::connect`] waits for the socket (and, multiplexed, the handshake)
/// unless [`WsClientConfig::connect_timeout`] says otherwise.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a closing socket waits for the server's close reply.
const CLOSE_GRACE: Duration = Duration::from_millis(1500);
/// The bound on [`WsSynchronizer::destroy`]'s wait for the close handshake.
const DESTROY_WAIT: Duration = Duration::from_secs(2);
/// The WebSocket layer accepts a little more than the protocol limit so that the protocol
/// decoder, not tungstenite, names the overflow.
const WS_MAX_MESSAGE: usize = MAX_PAYLOAD_BYTES + 64 * 1024;
/// How long a connection must have lasted for the reconnect backoff to start over.
const STABLE_CONNECTION: Duration = Duration::from_secs(5);
/// WebSocket close code of a normal closure.
const CLOSE_NORMAL: u16 = 1000;

// ---------------------------------------------------------------------------------- public API

/// The state of a client's connection.
///
/// ```no_run
/// use tinystore_core::MergeableStore;
/// use tinystore_core::sync::SynchronizerOptions;
/// use tinystore_core::sync::client::{ConnectionStatus, WsClientConfig, WsSynchronizer};
///
/// let store = MergeableStore::new(None);
/// let url = "ws://127.0.0.1:8043/petShop".to_string();
/// let config = WsClientConfig { url, ..WsClientConfig::default() };
/// let client = WsSynchronizer::connect(&store, config, SynchronizerOptions::default())?;
/// assert_eq!(client.connection_status(), ConnectionStatus::Connected);
/// client.destroy();
/// assert_eq!(client.connection_status(), ConnectionStatus::Disconnected);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectionStatus {
    /// Opening the socket (and, multiplexed, waiting for the Hello and Subscribe acks).
    Connecting,
    /// Open: messages flow.
    Connected,
    /// Closed; with a [`ReconnectPolicy`], waiting to retry.
    Disconnected,
}

/// When to retry a dropped connection: the n-th retry waits `initial_delay · 2ⁿ`, at most
/// `max_delay`, each delay varied by ±`jitter` (a fraction) so that many clients of one server
/// do not retry in step. The count starts over once a connection has stayed up for 5 s.
///
/// ```
/// use std::time::Duration;
/// use tinystore_core::sync::client::{ReconnectPolicy, WsClientConfig};
///
/// let policy = ReconnectPolicy {
///     max_delay: Duration::from_secs(5),
///     ..ReconnectPolicy::default()
/// };
/// assert_eq!(policy.initial_delay, Duration::from_millis(250));
/// let config = WsClientConfig {
///     url: "ws://127.0.0.1:8043/petShop".into(),
///     reconnect: Some(policy),
///     ..WsClientConfig::default()
/// };
/// # let _ = config;
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReconnectPolicy {
    /// The delay before the first retry (250 ms by default).
    pub initial_delay: Duration,
    /// The longest delay between retries (30 s by default).
    pub max_delay: Duration,
    /// How much each delay varies, as a fraction of it (0.2 by default: ±20 %).
    pub jitter: f64,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        ReconnectPolicy {
            initial_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(30),
            jitter: 0.2,
        }
    }
}

impl ReconnectPolicy {
    /// The delay before retry number `attempt` (0-based), jittered by `unit` in `[0, 1)`.
    fn delay(&self, attempt: u32, unit: f64) -> Duration {
        let base = self
            .initial_delay
            .saturating_mul(1u32 << attempt.min(20))
            .min(self.max_delay);
        let jitter = if self.jitter.is_finite() {
            self.jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let factor = (1.0 + jitter * (2.0 * unit - 1.0)).max(0.0);
        // `mul_f64` panics past `Duration::MAX`, which a huge `max_delay` could reach.
        Duration::try_from_secs_f64(base.as_secs_f64() * factor).unwrap_or(base)
    }
}

/// Whether a frame went out or came in.
///
/// ```
/// use std::sync::Arc;
/// use tinystore_core::sync::client::{FrameDirection, WsClientConfig};
///
/// let config = WsClientConfig {
///     url: "ws://127.0.0.1:8043/petShop".into(),
///     on_frame: Some(Arc::new(|direction: FrameDirection, frame: &str| match direction {
///         FrameDirection::Send => eprintln!("> {frame}"),
///         FrameDirection::Receive => eprintln!("< {frame}"),
///     })),
///     ..WsClientConfig::default()
/// };
/// # let _ = config;
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameDirection {
    /// Sent to the server.
    Send,
    /// Received from the server.
    Receive,
}

/// Sees every raw text frame, as sent or received (control frames included).
pub type FrameHook = Arc<dyn Fn(FrameDirection, &str) + Send + Sync>;
/// Sees every change of the [`ConnectionStatus`].
pub type ConnectionHook = Arc<dyn Fn(ConnectionStatus) + Send + Sync>;

/// Where and how a [`WsSynchronizer`] connects.
///
/// ```no_run
/// use tinystore_core::MergeableStore;
/// use tinystore_core::sync::SynchronizerOptions;
/// use tinystore_core::sync::client::{WsClientConfig, WsSynchronizer};
///
/// // Multiplexed: channel `petShop` on a server whose base path is `/sync`.
/// let config = WsClientConfig {
///     url: "wss://sync.example.com/sync".into(),
///     fallback_urls: vec!["wss://sync2.example.com/sync".into()],
///     channel: Some("petShop".into()),
///     headers: vec![("Authorization".into(), "Bearer s3cret".into())],
///     ..WsClientConfig::default()
/// };
/// let store = MergeableStore::new(None);
/// let client = WsSynchronizer::connect(&store, config, SynchronizerOptions::default())?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Default)]
pub struct WsClientConfig {
    /// The server URL, `ws://` or `wss://`. Its path selects the room (legacy framing) or the
    /// base path of the channels (multiplexed).
    pub url: String,
    /// More servers of the same rooms (several `tinystore serve` processes on one PostgreSQL
    /// database, behind no load balancer): when a connection cannot be opened, or drops, the
    /// next attempt goes to the next URL in turn (`url`, then these, round robin). Opening
    /// fails only once every URL failed. Empty by default.
    pub fallback_urls: Vec<String>,
    /// `Some(channel)`: open the socket with the `tinybase` subprotocol and sync on that
    /// channel; `None`: legacy framing, the URL path is the room.
    pub channel: Option<String>,
    /// Extra request headers of the upgrade request (e.g. `Authorization: Bearer …`).
    pub headers: Vec<(String, String)>,
    /// Splits outgoing messages larger than this many bytes into fragments (TinyBase's
    /// `fragmentSize`).
    pub fragment_size: Option<usize>,
    /// Retry dropped connections; `None` (TinyBase's behaviour) never reconnects.
    pub reconnect: Option<ReconnectPolicy>,
    /// How long opening may take, handshake included (default 10 s).
    pub connect_timeout: Option<Duration>,
    /// Called on every status change (on the runtime's threads).
    pub on_connection_status: Option<ConnectionHook>,
    /// Called with every raw frame (on the runtime's threads).
    pub on_frame: Option<FrameHook>,
}

impl fmt::Debug for WsClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WsClientConfig")
            .field("url", &self.url)
            .field("fallback_urls", &self.fallback_urls)
            .field("channel", &self.channel)
            .field(
                "headers",
                &self.headers.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("fragment_size", &self.fragment_size)
            .field("reconnect", &self.reconnect)
            .field("connect_timeout", &self.connect_timeout)
            .finish_non_exhaustive()
    }
}

/// Why a [`WsSynchronizer`] could not connect.
///
/// ```
/// use tinystore_core::MergeableStore;
/// use tinystore_core::sync::SynchronizerOptions;
/// use tinystore_core::sync::client::{WsClientConfig, WsClientError, WsSynchronizer};
///
/// // Checked before any connection is attempted.
/// let url = "http://127.0.0.1:8043/petShop".to_string();
/// let config = WsClientConfig { url, ..WsClientConfig::default() };
/// let store = MergeableStore::new(None);
/// let refused = WsSynchronizer::connect(&store, config, SynchronizerOptions::default());
/// assert!(matches!(refused, Err(WsClientError::BadUrl { .. })));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WsClientError {
    /// The URL is not a `ws://` or `wss://` URL.
    #[error("invalid WebSocket URL {url:?}: {reason}")]
    BadUrl {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The channel id breaks the subprotocol's rules.
    #[error("invalid channel id {0:?}")]
    BadChannel(String),
    /// A header name or value cannot be sent.
    #[error("invalid request header {name:?}: {reason}")]
    BadHeader {
        /// The header's name.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The socket could not be opened (DNS, TCP, TLS, or the WebSocket upgrade).
    #[error("cannot connect to {url}: {reason}")]
    Connect {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The server answered the upgrade request with an HTTP error status (e.g. 401, 403).
    #[error("{url} refused the WebSocket upgrade with HTTP status {status}")]
    Rejected {
        /// The URL.
        url: String,
        /// The HTTP status.
        status: u16,
    },
    /// Opening did not finish within the connect timeout.
    #[error("connecting to {url} timed out after {timeout:?} (waiting for {waiting_for})")]
    Timeout {
        /// The URL.
        url: String,
        /// The connect timeout.
        timeout: Duration,
        /// What was still missing: `the socket`, `the Hello ack` or `the Subscribe ack`.
        waiting_for: &'static str,
    },
    /// The multiplexing handshake failed: the server did not take the `tinybase` subprotocol,
    /// or sent an invalid frame.
    #[error("the multiplexing handshake with {url} failed: {reason}")]
    Handshake {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The server closed the socket before it was ready (e.g. a refused Subscribe).
    #[error("{url} closed the connection before it was ready (code {code:?}, reason {reason:?})")]
    ClosedBeforeOpen {
        /// The URL.
        url: String,
        /// The close code, if the server sent a close frame.
        code: Option<u16>,
        /// The close reason.
        reason: String,
    },
    /// The shared tokio runtime could not be started.
    #[error("the WebSocket runtime could not start: {0}")]
    Runtime(String),
}

/// A synchronizer connected to a sync server over a WebSocket (TinyBase's
/// `createWsSynchronizer`). Cheap to clone (a handle); derefs to its [`Synchronizer`].
///
/// ```no_run
/// use tinystore_core::MergeableStore;
/// use tinystore_core::sync::SynchronizerOptions;
/// use tinystore_core::sync::client::{ReconnectPolicy, WsClientConfig, WsSynchronizer};
///
/// let store = MergeableStore::new(None);
/// let client = WsSynchronizer::connect(
///     &store,
///     WsClientConfig {
///         url: "ws://127.0.0.1:8043/petShop".into(),
///         reconnect: Some(ReconnectPolicy::default()),
///         ..WsClientConfig::default()
///     },
///     SynchronizerOptions::default(),
/// )?;
/// client.start_sync(None);
/// store.set_cell("pets", "fido", "species", "dog");
/// client.destroy();
/// # Ok::<(), tinystore_core::sync::client::WsClientError>(())
/// ```
#[derive(Clone)]
pub struct WsSynchronizer {
    sync: Synchronizer,
    shared: Arc<Shared>,
}

impl fmt::Debug for WsSynchronizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WsSynchronizer")
            .field("url", &self.shared.current_url())
            .field("channel", &self.shared.channel)
            .field("status", &self.connection_status())
            .field("synchronizer", &self.sync)
            .finish()
    }
}

impl Deref for WsSynchronizer {
    type Target = Synchronizer;

    fn deref(&self) -> &Synchronizer {
        &self.sync
    }
}

impl WsSynchronizer {
    /// Connects (blocking until the socket is open, or — multiplexed — Hello and Subscribe
    /// acked) and returns the synchronizer; sync starts only with
    /// [`start_sync`](Synchronizer::start_sync), as in TinyBase.
    ///
    /// Callable from any thread, inside a tokio runtime or not (it blocks the calling thread,
    /// so from async code prefer `spawn_blocking`).
    ///
    /// ```no_run
    /// use tinystore_core::MergeableStore;
    /// use tinystore_core::sync::SynchronizerOptions;
    /// use tinystore_core::sync::client::{WsClientConfig, WsClientError, WsSynchronizer};
    ///
    /// let store = MergeableStore::new(None);
    /// let url = "ws://127.0.0.1:8043/petShop".to_string();
    /// let config = WsClientConfig { url, ..WsClientConfig::default() };
    /// let client = match WsSynchronizer::connect(&store, config, SynchronizerOptions::default()) {
    ///     Ok(client) => client,
    ///     Err(WsClientError::Rejected { status, .. }) => panic!("refused with HTTP {status}"),
    ///     Err(e) => return Err(e.into()),
    /// };
    /// client.start_sync(None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn connect(
        store: &MergeableStore,
        config: WsClientConfig,
        options: SynchronizerOptions,
    ) -> Result<WsSynchronizer, WsClientError> {
        check_config(&config)?;
        let handle = runtime()?;
        let connect_timeout = config.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT);
        let (closing, _) = watch::channel(false);
        let mut urls = vec![config.url];
        urls.extend(config.fallback_urls);
        let shared = Arc::new(Shared {
            urls,
            current: AtomicUsize::new(0),
            channel: config.channel,
            headers: config.headers,
            fragment_size: config.fragment_size,
            reconnect: config.reconnect,
            connect_timeout,
            request_timeout: options.request_timeout.unwrap_or(DEFAULT_REQUEST_TIMEOUT),
            on_status: config.on_connection_status,
            on_frame: config.on_frame,
            on_error: options.on_ignored_error.clone(),
            sync: OnceLock::new(),
            status: AtomicU8::new(ConnectionStatus::Disconnected as u8),
            link: Mutex::new(Link::default()),
            closing,
            closed: AtomicBool::new(false),
            finished: Mutex::new(false),
            finished_changed: Condvar::new(),
        });
        let transport = Arc::new(WsTransport {
            shared: shared.clone(),
        });
        let sync = Synchronizer::with_options(store, transport, options);
        let _ = shared.sync.set(sync.downgrade());
        let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
        handle.spawn(supervise(shared.clone(), ready_tx));
        // The supervisor bounds opening by the connect timeout; the margin only guards against
        // a runtime that stopped running tasks.
        let outcome = ready_rx
            .recv_timeout(connect_timeout.saturating_add(Duration::from_secs(5)))
            .unwrap_or_else(|_| {
                Err(WsClientError::Connect {
                    url: shared.current_url(),
                    reason: "the connection task ended unexpectedly".into(),
                })
            });
        match outcome {
            Ok(()) => Ok(WsSynchronizer { sync, shared }),
            Err(e) => {
                sync.destroy();
                Err(e)
            }
        }
    }

    /// The synchronizer (also reachable through `Deref`).
    ///
    /// ```no_run
    /// use tinystore_core::MergeableStore;
    /// use tinystore_core::sync::SynchronizerOptions;
    /// use tinystore_core::sync::client::{WsClientConfig, WsSynchronizer};
    ///
    /// let store = MergeableStore::new(None);
    /// let url = "ws://127.0.0.1:8043/petShop".to_string();
    /// let config = WsClientConfig { url, ..WsClientConfig::default() };
    /// let client = WsSynchronizer::connect(&store, config, SynchronizerOptions::default())?;
    /// let sync = client.synchronizer().clone();
    /// sync.start_sync(None);
    /// assert!(client.is_auto_saving());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn synchronizer(&self) -> &Synchronizer {
        &self.sync
    }

    /// The current connection status.
    ///
    /// ```no_run
    /// use tinystore_core::MergeableStore;
    /// use tinystore_core::sync::SynchronizerOptions;
    /// use tinystore_core::sync::client::{ConnectionStatus, WsClientConfig, WsSynchronizer};
    ///
    /// let store = MergeableStore::new(None);
    /// let url = "ws://127.0.0.1:8043/petShop".to_string();
    /// let config = WsClientConfig { url, ..WsClientConfig::default() };
    /// let client = WsSynchronizer::connect(&store, config, SynchronizerOptions::default())?;
    /// if client.connection_status() != ConnectionStatus::Connected {
    ///     eprintln!("offline: changes stay local for now");
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn connection_status(&self) -> ConnectionStatus {
        self.shared.status()
    }

    /// The URL this client was given first ([`WsClientConfig::url`]).
    ///
    /// ```no_run
    /// use tinystore_core::MergeableStore;
    /// use tinystore_core::sync::SynchronizerOptions;
    /// use tinystore_core::sync::client::{WsClientConfig, WsSynchronizer};
    ///
    /// let store = MergeableStore::new(None);
    /// let url = "ws://127.0.0.1:8043/petShop".to_string();
    /// let config = WsClientConfig { url, ..WsClientConfig::default() };
    /// let client = WsSynchronizer::connect(&store, config, SynchronizerOptions::default())?;
    /// assert_eq!(client.url(), "ws://127.0.0.1:8043/petShop");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn url(&self) -> &str {
        &self.shared.urls[0]
    }

    /// The URL this client is connected to (or trying next), among `url` and the fallbacks.
    ///
    /// ```no_run
    /// use tinystore_core::MergeableStore;
    /// use tinystore_core::sync::SynchronizerOptions;
    /// use tinystore_core::sync::client::{WsClientConfig, WsSynchronizer};
    ///
    /// let config = WsClientConfig {
    ///     url: "ws://server1:8043/petShop".into(),
    ///     fallback_urls: vec!["ws://server2:8043/petShop".into()],
    ///     ..WsClientConfig::default()
    /// };
    /// let store = MergeableStore::new(None);
    /// let client = WsSynchronizer::connect(&store, config, SynchronizerOptions::default())?;
    /// // `server2` when `server1` could not be reached.
    /// println!("connected to {}", client.current_url());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn current_url(&self) -> String {
        self.shared.current_url()
    }

    /// Destroys the synchronizer (rejects pending requests), then unsubscribes (multiplexed)
    /// and closes the socket with 1000; waits (bounded, ≤ 2 s) until the close handshake is
    /// done. Called from inside a tokio runtime it does not wait (that would block a worker).
    ///
    /// ```no_run
    /// use tinystore_core::MergeableStore;
    /// use tinystore_core::sync::SynchronizerOptions;
    /// use tinystore_core::sync::client::{WsClientConfig, WsSynchronizer};
    ///
    /// let store = MergeableStore::new(None);
    /// let url = "ws://127.0.0.1:8043/petShop".to_string();
    /// let config = WsClientConfig { url, ..WsClientConfig::default() };
    /// let client = WsSynchronizer::connect(&store, config, SynchronizerOptions::default())?;
    /// client.start_sync(None);
    /// client.destroy();
    /// assert!(client.is_destroyed());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn destroy(&self) {
        self.sync.destroy();
        self.shared.close();
        if tokio::runtime::Handle::try_current().is_err() {
            self.shared.wait_finished(DESTROY_WAIT);
        }
    }
}

// ---------------------------------------------------------------------------------- runtime

fn runtime() -> Result<tokio::runtime::Handle, WsClientError> {
    crate::runtime::handle().map_err(WsClientError::Runtime)
}

fn check_config(config: &WsClientConfig) -> Result<(), WsClientError> {
    for url in std::iter::once(&config.url).chain(&config.fallback_urls) {
        let scheme_ok = url
            .get(..6)
            .is_some_and(|s| s.eq_ignore_ascii_case("wss://"))
            || url
                .get(..5)
                .is_some_and(|s| s.eq_ignore_ascii_case("ws://"));
        if !scheme_ok {
            return Err(WsClientError::BadUrl {
                url: url.clone(),
                reason: "the scheme must be ws:// or wss://".into(),
            });
        }
        build_request(url, &config.headers, config.channel.is_some())?;
    }
    if let Some(channel) = &config.channel
        && (is_channel_id_too_large(channel) || !is_channel_id_valid(channel))
    {
        return Err(WsClientError::BadChannel(channel.clone()));
    }
    build_request(&config.url, &config.headers, config.channel.is_some()).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnect_delays_grow_capped_with_jitter() {
        let p = ReconnectPolicy::default();
        assert_eq!(p.delay(0, 0.5), Duration::from_millis(250));
        assert_eq!(p.delay(2, 0.5), Duration::from_millis(1000));
        assert_eq!(p.delay(40, 0.5), Duration::from_secs(30));
        assert_eq!(p.delay(0, 0.0), Duration::from_millis(200));
        assert!(p.delay(0, 0.999) <= Duration::from_millis(300));
        let wild = ReconnectPolicy {
            jitter: f64::NAN,
            ..p
        };
        assert_eq!(wild.delay(1, 0.9), Duration::from_millis(500));
        let huge = ReconnectPolicy {
            initial_delay: Duration::MAX,
            max_delay: Duration::MAX,
            jitter: 1.0,
        };
        assert_eq!(huge.delay(3, 0.99), Duration::MAX);
    }

    #[test]
    fn bad_configs_are_refused_before_connecting() {
        let store = MergeableStore::new(None);
        let connect = |config: WsClientConfig| {
            WsSynchronizer::connect(&store, config, SynchronizerOptions::default())
        };
        assert!(matches!(
            connect(WsClientConfig {
                url: "http://127.0.0.1:1/".into(),
                ..WsClientConfig::default()
            }),
            Err(WsClientError::BadUrl { .. })
        ));
        assert!(matches!(
            connect(WsClientConfig {
                url: "ws://127.0.0.1:1/".into(),
                channel: Some("a/../b".into()),
                ..WsClientConfig::default()
            }),
            Err(WsClientError::BadChannel(_))
        ));
        assert!(matches!(
            connect(WsClientConfig {
                url: "ws://127.0.0.1:1/".into(),
                headers: vec![("bad header".into(), "x".into())],
                ..WsClientConfig::default()
            }),
            Err(WsClientError::BadHeader { .. })
        ));
    }
}
