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
#[derive(Clone, Default)]
pub struct WsClientConfig {
    /// The server URL, `ws://` or `wss://`. Its path selects the room (legacy framing) or the
    /// base path of the channels (multiplexed).
    pub url: String,
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
            .field("url", &self.shared.url)
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
    pub fn connect(
        store: &MergeableStore,
        config: WsClientConfig,
        options: SynchronizerOptions,
    ) -> Result<WsSynchronizer, WsClientError> {
        check_config(&config)?;
        let handle = runtime()?;
        let connect_timeout = config.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT);
        let (closing, _) = watch::channel(false);
        let shared = Arc::new(Shared {
            url: config.url,
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
                    url: shared.url.clone(),
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
    pub fn synchronizer(&self) -> &Synchronizer {
        &self.sync
    }

    /// The current connection status.
    pub fn connection_status(&self) -> ConnectionStatus {
        self.shared.status()
    }

    /// The URL this client connects to.
    pub fn url(&self) -> &str {
        &self.shared.url
    }

    /// Destroys the synchronizer (rejects pending requests), then unsubscribes (multiplexed)
    /// and closes the socket with 1000; waits (bounded, ≤ 2 s) until the close handshake is
    /// done. Called from inside a tokio runtime it does not wait (that would block a worker).
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
    let scheme_ok = config
        .url
        .get(..6)
        .is_some_and(|s| s.eq_ignore_ascii_case("wss://"))
        || config
            .url
            .get(..5)
            .is_some_and(|s| s.eq_ignore_ascii_case("ws://"));
    if !scheme_ok {
        return Err(WsClientError::BadUrl {
            url: config.url.clone(),
            reason: "the scheme must be ws:// or wss://".into(),
        });
    }
    if let Some(channel) = &config.channel
        && (is_channel_id_too_large(channel) || !is_channel_id_valid(channel))
    {
        return Err(WsClientError::BadChannel(channel.clone()));
    }
    build_request(&config.url, &config.headers, config.channel.is_some()).map(drop)
}

fn build_request(
    url: &str,
    headers: &[(String, String)],
    multiplexed: bool,
) -> Result<Request, WsClientError> {
    let mut request = url
        .into_client_request()
        .map_err(|e| WsClientError::BadUrl {
            url: url.to_string(),
            reason: e.to_string(),
        })?;
    for (name, value) in headers {
        let bad = |reason: String| WsClientError::BadHeader {
            name: name.clone(),
            reason,
        };
        let header_name =
            HeaderName::from_bytes(name.as_bytes()).map_err(|e| bad(e.to_string()))?;
        let header_value = HeaderValue::from_str(value).map_err(|e| bad(e.to_string()))?;
        request.headers_mut().append(header_name, header_value);
    }
    if multiplexed {
        request.headers_mut().insert(
            "sec-websocket-protocol",
            HeaderValue::from_static(SUBPROTOCOL),
        );
    }
    Ok(request)
}

// ---------------------------------------------------------------------------------- shared state

/// What the writer task sends, in order.
enum Out {
    Frame(String),
    Close(u16, String),
}

/// A connection that is open (and, multiplexed, subscribed): sends go straight to its writer.
struct LiveLink {
    tx: mpsc::UnboundedSender<Out>,
    /// Bytes handed to the writer and not yet written (TinyBase's `bufferedAmount`).
    outstanding: Arc<AtomicUsize>,
    /// Closes the socket at once, ahead of queued frames (overflow).
    abort: Arc<watch::Sender<Option<(u16, String)>>>,
}

#[derive(Default)]
struct Link {
    live: Option<LiveLink>,
    /// Payloads (unwrapped) waiting for a reconnect, with when they were queued.
    queue: VecDeque<(Instant, String)>,
    queued_bytes: usize,
    /// A broadcast ContentHashes/ContentDiff was dropped while disconnected.
    dirty: bool,
}

impl Link {
    fn expire(&mut self, timeout: Duration) {
        let now = Instant::now();
        while let Some((at, payload)) = self.queue.front() {
            if now.duration_since(*at) < timeout {
                break;
            }
            self.queued_bytes -= payload.len();
            self.queue.pop_front();
        }
    }
}

struct Shared {
    url: String,
    channel: Option<String>,
    headers: Vec<(String, String)>,
    fragment_size: Option<usize>,
    reconnect: Option<ReconnectPolicy>,
    connect_timeout: Duration,
    request_timeout: Duration,
    on_status: Option<ConnectionHook>,
    on_frame: Option<FrameHook>,
    on_error: Option<ErrorHook>,
    // Weak: the synchronizer owns the transport, which owns this.
    sync: OnceLock<WeakSynchronizer>,
    status: AtomicU8,
    link: Mutex<Link>,
    closing: watch::Sender<bool>,
    closed: AtomicBool,
    finished: Mutex<bool>,
    finished_changed: Condvar,
}

impl Shared {
    fn status(&self) -> ConnectionStatus {
        match self.status.load(Ordering::SeqCst) {
            0 => ConnectionStatus::Connecting,
            1 => ConnectionStatus::Connected,
            _ => ConnectionStatus::Disconnected,
        }
    }

    fn set_status(&self, status: ConnectionStatus) {
        if self.status.swap(status as u8, Ordering::SeqCst) == status as u8 {
            return;
        }
        tracing::debug!(url = %self.url, ?status, "connection status");
        if let Some(hook) = &self.on_status
            && catch_unwind(AssertUnwindSafe(|| hook(status))).is_err()
        {
            log_warn("the connection status hook panicked");
        }
    }

    fn frame_hook(&self, direction: FrameDirection, text: &str) {
        if let Some(hook) = &self.on_frame
            && catch_unwind(AssertUnwindSafe(|| hook(direction, text))).is_err()
        {
            log_warn("the frame hook panicked");
        }
    }

    fn report(&self, error: &SyncError) {
        if let Some(hook) = &self.on_error {
            let _ = catch_unwind(AssertUnwindSafe(|| hook(error)));
        }
    }

    fn synchronizer(&self) -> Option<Synchronizer> {
        self.sync.get().and_then(WeakSynchronizer::upgrade)
    }

    /// Starts closing: the supervisor unsubscribes, closes the socket and stops retrying.
    fn close(&self) {
        if !self.closed.swap(true, Ordering::SeqCst) {
            self.closing.send_replace(true);
        }
    }

    fn is_closing(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    fn set_finished(&self) {
        *self.finished.lock() = true;
        self.finished_changed.notify_all();
    }

    fn wait_finished(&self, bound: Duration) {
        let deadline = Instant::now() + bound;
        let mut finished = self.finished.lock();
        while !*finished {
            if self
                .finished_changed
                .wait_until(&mut finished, deadline)
                .timed_out()
            {
                return;
            }
        }
    }

    /// Hands one payload to a live connection; `false` when the connection can take no more.
    fn push(&self, live: &LiveLink, payload: String) -> bool {
        let frame = match &self.channel {
            Some(channel) => channel_payload(channel, &payload),
            None => payload,
        };
        if frame.len() > MAX_PAYLOAD_BYTES {
            // TinyBase closes the socket here; with reconnection that would loop forever, and
            // the frame can never be sent, so it alone is dropped.
            log_warn("dropped an outgoing frame over 16 MiB (set a fragment size)");
            self.report(&SyncError::Transport(
                "a frame over 16 MiB was dropped".into(),
            ));
            return true;
        }
        let len = frame.len();
        if live.outstanding.fetch_add(len, Ordering::SeqCst) + len > MAX_PAYLOAD_BYTES {
            log_warn("the server does not read fast enough: closing (tinybase:15:socket)");
            live.abort.send_replace(Some((
                ProtocolError::Overflow("socket").close_code(),
                ProtocolError::Overflow("socket").to_string(),
            )));
            return false;
        }
        live.tx.send(Out::Frame(frame)).is_ok()
    }

    /// Makes a freshly opened connection the live one, after the payloads queued while
    /// disconnected; returns whether broadcasts were coalesced meanwhile.
    fn go_live(&self, live: LiveLink) -> bool {
        let mut link = self.link.lock();
        link.expire(self.request_timeout);
        let queued = std::mem::take(&mut link.queue);
        link.queued_bytes = 0;
        let mut ok = true;
        for (_, payload) in queued {
            if ok {
                ok = self.push(&live, payload);
            }
        }
        if ok {
            link.live = Some(live);
        }
        std::mem::take(&mut link.dirty)
    }

    fn go_down(&self) {
        self.link.lock().live = None;
    }

    fn send(&self, to: Option<&str>, message: MessageType, remainder: &str) {
        if self.is_closing() {
            return;
        }
        let payloads = make_payloads(to.unwrap_or(""), remainder, self.fragment_size);
        let mut link = self.link.lock();
        if let Some(live) = &link.live {
            for payload in payloads {
                if !self.push(live, payload) {
                    link.live = None;
                    return;
                }
            }
            return;
        }
        if self.reconnect.is_none() {
            // TinyBase: a closed socket sends nothing, and nothing is resent later.
            return;
        }
        if to.is_none()
            && matches!(
                message,
                MessageType::ContentHashes | MessageType::ContentDiff
            )
        {
            link.dirty = true;
            return;
        }
        link.expire(self.request_timeout);
        let bytes: usize = payloads.iter().map(String::len).sum();
        if link.queue.len() + payloads.len() > MAX_QUEUED_PAYLOADS
            || link.queued_bytes + bytes > MAX_PAYLOAD_BYTES
        {
            log_warn("dropped an outgoing message: the disconnected queue is full");
            return;
        }
        let now = Instant::now();
        link.queued_bytes += bytes;
        link.queue.extend(payloads.into_iter().map(|p| (now, p)));
    }
}

fn log_warn(message: &str) {
    tracing::warn!("{message}");
}

struct WsTransport {
    shared: Arc<Shared>,
}

impl Transport for WsTransport {
    fn send(&self, to: Option<&str>, message: MessageType, remainder: String) {
        self.shared.send(to, message, &remainder);
    }

    fn close(&self) {
        self.shared.close();
    }
}

impl Drop for WsTransport {
    // The synchronizer was dropped without `destroy`: its socket must not outlive it.
    fn drop(&mut self) {
        self.shared.close();
    }
}

// ---------------------------------------------------------------------------------- connection

type WsStream = WebSocketStream<MaybeTlsStream<TcpStream>>;
type WsSink = SplitSink<WsStream, WsMessage>;
type WsSource = SplitStream<WsStream>;

/// Aborts a task when dropped (a cancelled attempt must not leave it running).
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// An opened connection before it goes live.
struct Opened {
    source: WsSource,
    tx: mpsc::UnboundedSender<Out>,
    outstanding: Arc<AtomicUsize>,
    abort: Arc<watch::Sender<Option<(u16, String)>>>,
    writer: AbortOnDrop<()>,
    /// Data frames that arrived during the handshake.
    early: Vec<String>,
}

async fn supervise(
    shared: Arc<Shared>,
    ready: std::sync::mpsc::SyncSender<Result<(), WsClientError>>,
) {
    let mut ready = Some(ready);
    let mut closing = shared.closing.subscribe();
    let mut attempt: u32 = 0;
    loop {
        if shared.is_closing() {
            break;
        }
        shared.set_status(ConnectionStatus::Connecting);
        let opened = tokio::select! {
            biased;
            _ = closing.wait_for(|c| *c) => break,
            opened = open(&shared) => opened,
        };
        match opened {
            Ok(opened) => {
                let opened_at = Instant::now();
                let Opened {
                    source,
                    tx,
                    outstanding,
                    abort,
                    writer,
                    early,
                } = opened;
                let dirty = shared.go_live(LiveLink {
                    tx: tx.clone(),
                    outstanding,
                    abort: abort.clone(),
                });
                shared.set_status(ConnectionStatus::Connected);
                match ready.take() {
                    Some(ready) => drop(ready.send(Ok(()))),
                    None => resync(&shared, dirty),
                }
                read_loop(&shared, source, &tx, early, &mut closing).await;
                shared.go_down();
                drop(tx);
                drop(abort);
                let mut writer = writer;
                let _ = tokio::time::timeout(CLOSE_GRACE, &mut writer.0).await;
                shared.set_status(ConnectionStatus::Disconnected);
                // A server that accepts and then drops at once must not be retried at the
                // shortest delay forever.
                if opened_at.elapsed() >= STABLE_CONNECTION {
                    attempt = 0;
                }
            }
            Err(e) => {
                shared.set_status(ConnectionStatus::Disconnected);
                if let Some(ready) = ready.take() {
                    drop(ready.send(Err(e)));
                    break;
                }
                tracing::debug!(url = %shared.url, error = %e, "reconnect attempt failed");
            }
        }
        let Some(policy) = shared.reconnect else {
            break;
        };
        let delay = policy.delay(attempt, js::random_unit());
        attempt = attempt.saturating_add(1);
        tokio::select! {
            biased;
            _ = closing.wait_for(|c| *c) => break,
            _ = tokio::time::sleep(delay) => {}
        }
    }
    shared.go_down();
    shared.set_status(ConnectionStatus::Disconnected);
    shared.set_finished();
}

/// The full hash exchange after a reconnect, off the runtime: `load` blocks until the peers
/// answer, and the answers arrive through this runtime.
fn resync(shared: &Arc<Shared>, dirty: bool) {
    let Some(sync) = shared.synchronizer() else {
        return;
    };
    tokio::task::spawn_blocking(move || {
        if sync.is_destroyed() {
            return;
        }
        if dirty || sync.is_auto_saving() {
            sync.save();
        }
        if sync.is_auto_loading() {
            sync.load(None);
        }
    });
}

async fn open(shared: &Arc<Shared>) -> Result<Opened, WsClientError> {
    let waiting_for = Arc::new(Mutex::new("the socket"));
    let timeout = shared.connect_timeout;
    match tokio::time::timeout(timeout, open_inner(shared, waiting_for.clone())).await {
        Ok(opened) => opened,
        Err(_) => Err(WsClientError::Timeout {
            url: shared.url.clone(),
            timeout,
            waiting_for: *waiting_for.lock(),
        }),
    }
}

async fn open_inner(
    shared: &Arc<Shared>,
    waiting_for: Arc<Mutex<&'static str>>,
) -> Result<Opened, WsClientError> {
    let url = || shared.url.clone();
    let request = build_request(&shared.url, &shared.headers, shared.channel.is_some())?;
    let config = WebSocketConfig::default()
        .max_message_size(Some(WS_MAX_MESSAGE))
        .max_frame_size(Some(WS_MAX_MESSAGE));
    // A task of its own: a TLS set-up panic (no rustls crypto provider) becomes an error.
    let mut connecting = AbortOnDrop(tokio::spawn(tokio_tungstenite::connect_async_with_config(
        request,
        Some(config),
        true,
    )));
    let ws = match (&mut connecting.0).await {
        Ok(Ok((ws, _response))) => ws,
        Ok(Err(e)) => return Err(connect_error(&shared.url, e)),
        Err(e) => {
            let reason = if e.is_panic() {
                "the connection attempt panicked (for wss://, the process needs a rustls crypto provider)"
            } else {
                "the connection attempt was cancelled"
            };
            return Err(WsClientError::Connect {
                url: url(),
                reason: reason.into(),
            });
        }
    };
    let (sink, mut source) = ws.split();
    let (tx, rx) = mpsc::unbounded_channel();
    let outstanding = Arc::new(AtomicUsize::new(0));
    let (abort, abort_rx) = watch::channel(None);
    let mut writer = AbortOnDrop(tokio::spawn(write_loop(
        shared.clone(),
        sink,
        rx,
        abort_rx,
        outstanding.clone(),
    )));
    let mut early = Vec::new();
    if let Some(channel) = &shared.channel {
        let steps = [
            (Control::Hello, Json::from(1), "the Hello ack"),
            (
                Control::Subscribe,
                Json::from(channel.as_str()),
                "the Subscribe ack",
            ),
        ];
        for (control, body, what) in steps {
            *waiting_for.lock() = what;
            let id = js::unique_id(16);
            let frame = control_payload(Some(&id), control, &body);
            outstanding.fetch_add(frame.len(), Ordering::SeqCst);
            let _ = tx.send(Out::Frame(frame));
            loop {
                let text = match source.next().await {
                    Some(Ok(WsMessage::Text(t))) => t.as_str().to_string(),
                    Some(Ok(WsMessage::Binary(b))) => String::from_utf8_lossy(&b).into_owned(),
                    Some(Ok(WsMessage::Close(frame))) => {
                        return Err(WsClientError::ClosedBeforeOpen {
                            url: url(),
                            code: frame.as_ref().map(|f| u16::from(f.code)),
                            reason: frame
                                .map(|f| f.reason.as_str().to_string())
                                .unwrap_or_default(),
                        });
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => {
                        return Err(WsClientError::ClosedBeforeOpen {
                            url: url(),
                            code: None,
                            reason: e.to_string(),
                        });
                    }
                    None => {
                        return Err(WsClientError::ClosedBeforeOpen {
                            url: url(),
                            code: None,
                            reason: String::new(),
                        });
                    }
                };
                shared.frame_hook(FrameDirection::Receive, &text);
                if let Some(ack) = parse_control(&text) {
                    let acked = ack.control == control
                        && ack.request_id.as_deref() == Some(id.as_str())
                        && match control {
                            Control::Hello => ack.body.as_f64() == Some(1.0),
                            _ => ack.body.as_str() == Some(channel.as_str()),
                        };
                    if acked {
                        break;
                    }
                    // Acks of other requests are ignored, as TinyBase does.
                    continue;
                }
                match parse_channel_frame(&text) {
                    Some(ChannelFrame::Data { channel: c, .. }) if c == channel => {
                        early.push(text);
                    }
                    _ => {
                        let e = ProtocolError::Invalid;
                        shared.report(&SyncError::InvalidMessage);
                        let _ = tx.send(Out::Close(e.close_code(), e.to_string()));
                        let _ = tokio::time::timeout(CLOSE_GRACE, &mut writer.0).await;
                        return Err(WsClientError::Handshake {
                            url: url(),
                            reason: "the server sent an invalid frame".into(),
                        });
                    }
                }
            }
        }
    }
    Ok(Opened {
        source,
        tx,
        outstanding,
        abort: Arc::new(abort),
        writer,
        early,
    })
}

fn connect_error(url: &str, e: WsError) -> WsClientError {
    use tokio_tungstenite::tungstenite::error::ProtocolError as WsProtocolError;
    match e {
        WsError::Http(response) => WsClientError::Rejected {
            url: url.to_string(),
            status: response.status().as_u16(),
        },
        WsError::Url(e) => WsClientError::BadUrl {
            url: url.to_string(),
            reason: e.to_string(),
        },
        WsError::Protocol(WsProtocolError::SecWebSocketSubProtocolError(e)) => {
            WsClientError::Handshake {
                url: url.to_string(),
                reason: format!("the server did not accept the `tinybase` subprotocol ({e})"),
            }
        }
        e => WsClientError::Connect {
            url: url.to_string(),
            reason: e.to_string(),
        },
    }
}

async fn write_loop(
    shared: Arc<Shared>,
    mut sink: WsSink,
    mut rx: mpsc::UnboundedReceiver<Out>,
    mut abort: watch::Receiver<Option<(u16, String)>>,
    outstanding: Arc<AtomicUsize>,
) {
    async fn close(sink: &mut WsSink, code: u16, reason: String) {
        let frame = CloseFrame {
            code: CloseCode::from(code),
            reason: reason.into(),
        };
        let _ = tokio::time::timeout(CLOSE_GRACE, sink.send(WsMessage::Close(Some(frame)))).await;
    }
    fn aborted(abort: &watch::Receiver<Option<(u16, String)>>) -> Option<(u16, String)> {
        abort.borrow().clone()
    }
    loop {
        let out = tokio::select! {
            biased;
            changed = abort.changed() => {
                if changed.is_ok() && let Some((code, reason)) = aborted(&abort) {
                    close(&mut sink, code, reason).await;
                }
                return;
            }
            out = rx.recv() => match out {
                Some(out) => out,
                None => return,
            },
        };
        match out {
            Out::Frame(text) => {
                outstanding.fetch_sub(text.len(), Ordering::SeqCst);
                shared.frame_hook(FrameDirection::Send, &text);
                let sent = tokio::select! {
                    biased;
                    changed = abort.changed() => {
                        if changed.is_ok() && let Some((code, reason)) = aborted(&abort) {
                            close(&mut sink, code, reason).await;
                        }
                        return;
                    }
                    sent = async {
                        sink.feed(WsMessage::text(text)).await?;
                        // Batch: flush once the queue is drained.
                        if rx.is_empty() {
                            sink.flush().await?;
                        }
                        Ok::<(), WsError>(())
                    } => sent,
                };
                if sent.is_err() {
                    return;
                }
            }
            Out::Close(code, reason) => {
                close(&mut sink, code, reason).await;
                return;
            }
        }
    }
}

/// Decodes the frames of one connection.
struct Reader {
    decoder: PayloadDecoder,
    budget: FragmentBudget,
}

impl Reader {
    fn on_text(
        &mut self,
        shared: &Shared,
        text: &str,
    ) -> Result<Option<(String, Message)>, ProtocolError> {
        if text.len() > MAX_PAYLOAD_BYTES {
            return Err(ProtocolError::Overflow("socket"));
        }
        let payload = match &shared.channel {
            None => text,
            Some(ours) => {
                if let Some(control) = parse_control(text) {
                    if matches!(control.control, Control::Subscribe | Control::Unsubscribe)
                        && control.channel().is_some_and(is_channel_id_too_large)
                    {
                        return Err(ProtocolError::Overflow("channels"));
                    }
                    return Ok(None);
                }
                match parse_channel_frame(text) {
                    Some(ChannelFrame::Data { channel, payload }) if channel == ours => payload,
                    Some(ChannelFrame::Oversized) => {
                        return Err(ProtocolError::Overflow("channels"));
                    }
                    _ => return Err(ProtocolError::Invalid),
                }
            }
        };
        let now = crate::hlc::wall_clock_ms();
        Ok(self
            .decoder
            .decode(payload, now, &mut self.budget)?
            .map(|d| (d.client_id, d.message)))
    }
}

fn deliver(shared: &Shared, from: &str, message: Message) {
    let Some(sync) = shared.synchronizer() else {
        return;
    };
    // Applying changes runs store listeners and takes the store's lock: off the worker's core.
    tokio::task::block_in_place(|| {
        if catch_unwind(AssertUnwindSafe(|| sync.receive(from, message))).is_err() {
            log_warn("a store listener panicked while applying a remote message");
        }
    });
}

async fn read_loop(
    shared: &Arc<Shared>,
    mut source: WsSource,
    tx: &mpsc::UnboundedSender<Out>,
    early: Vec<String>,
    closing: &mut watch::Receiver<bool>,
) {
    let mut reader = Reader {
        decoder: PayloadDecoder::with_max_message(
            shared.request_timeout.as_millis() as u64,
            MAX_SERVER_MESSAGE_BYTES,
        ),
        budget: FragmentBudget::default(),
    };
    let mut receiving = true;
    let mut deadline: Option<tokio::time::Instant> = None;
    let mut on_text = |text: &str, deadline: &mut Option<tokio::time::Instant>| {
        if !receiving {
            return;
        }
        match reader.on_text(shared, text) {
            Ok(Some((from, message))) => deliver(shared, &from, message),
            Ok(None) => {}
            Err(e) => {
                receiving = false;
                if e == ProtocolError::Invalid {
                    shared.report(&SyncError::InvalidMessage);
                }
                log_warn(&format!(
                    "closing the socket: the server sent an invalid frame ({e})"
                ));
                shared.go_down();
                let _ = tx.send(Out::Close(e.close_code(), e.to_string()));
                *deadline = Some(tokio::time::Instant::now() + CLOSE_GRACE);
            }
        }
    };
    for text in early {
        shared.frame_hook(FrameDirection::Receive, &text);
        on_text(&text, &mut deadline);
    }
    loop {
        let closed = deadline.is_some();
        tokio::select! {
            biased;
            _ = closing.wait_for(|c| *c), if !closed => {
                shared.go_down();
                if let Some(channel) = &shared.channel {
                    let unsubscribe = control_payload(None, Control::Unsubscribe, &Json::from(channel.as_str()));
                    let _ = tx.send(Out::Frame(unsubscribe));
                }
                let _ = tx.send(Out::Close(CLOSE_NORMAL, String::new()));
                deadline = Some(tokio::time::Instant::now() + CLOSE_GRACE);
            }
            _ = sleep_until(deadline), if closed => return,
            next = source.next() => match next {
                Some(Ok(WsMessage::Text(text))) => {
                    shared.frame_hook(FrameDirection::Receive, text.as_str());
                    on_text(text.as_str(), &mut deadline);
                }
                Some(Ok(WsMessage::Binary(bytes))) => {
                    // TinyBase reads every frame as UTF-8 text (`data.toString('utf8')`).
                    let text = String::from_utf8_lossy(&bytes);
                    shared.frame_hook(FrameDirection::Receive, &text);
                    on_text(&text, &mut deadline);
                }
                // Pings are answered and close frames replied to by tungstenite.
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    if matches!(e, WsError::Capacity(_)) {
                        log_warn("closing the socket: the server sent a frame over 16 MiB");
                    }
                    return;
                }
                None => return,
            },
        }
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
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
