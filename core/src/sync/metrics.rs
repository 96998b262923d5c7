//! What a sync server counts, for `GET /metrics` in the Prometheus (OpenMetrics) text format:
//! clients and rooms, messages and bytes in and out by message type, the relay's fan-out
//! latency, room-store saves (latency, failures) and auth rejections.
//!
//! One [`SyncMetrics`] is shared by the server (sockets, relay, auth) and the room stores of
//! [`rooms`](super::rooms) (saves); [`serve`](super::serve) makes it and hands it to both. The
//! counters are atomics (prometheus-client), so recording costs no lock.
//!
//! ```
//! use std::time::Duration;
//! use tinystore_core::sync::metrics::{Direction, SyncMetrics};
//! use tinystore_core::sync::protocol::MessageType;
//!
//! let metrics = SyncMetrics::new();
//! metrics.message(Direction::In, Some(MessageType::ContentDiff), 120);
//! metrics.save(Duration::from_millis(3));
//! let text = metrics.encode(1, 2);
//! assert!(text.contains(r#"tinystore_messages_total{direction="in",type="ContentDiff"} 1"#));
//! assert!(text.contains("tinystore_clients 2"));
//! assert!(text.ends_with("# EOF\n"));
//! ```

use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::sync::protocol::MessageType;

/// The content type of [`SyncMetrics::encode`]'s text.
///
/// ```
/// assert!(tinystore_core::sync::metrics::CONTENT_TYPE.starts_with("application/openmetrics-text"));
/// ```
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Whether a message came from a client or went to one.
///
/// ```
/// use tinystore_core::sync::metrics::Direction;
/// assert_ne!(Direction::In, Direction::Out);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Received from a client (counted once per message, after its fragments are joined).
    In,
    /// Queued for a client (counted once per recipient and payload).
    Out,
}

type Labels = Vec<(&'static str, &'static str)>;

/// The server's counters, gauges and histograms (see the module docs).
///
/// ```
/// use tinystore_core::sync::metrics::SyncMetrics;
/// let metrics = SyncMetrics::new();
/// metrics.auth_rejected("join");
/// assert!(metrics.encode(0, 0).contains(r#"tinystore_auth_rejections_total{purpose="join"} 1"#));
/// ```
pub struct SyncMetrics {
    registry: Registry,
    rooms: Gauge,
    clients: Gauge,
    /// `(messages, bytes)` by direction and type (the eight types, then `unknown`), looked up
    /// in the families once here: counting a message on the relay's path then takes no lock
    /// and allocates nothing.
    by_type: [[(Counter, Counter); 9]; 2],
    fanout: Histogram,
    saves: Counter,
    save_failures: Counter,
    save_seconds: Histogram,
    auth_rejections: Family<Labels, Counter>,
    connections: Counter,
    disconnections: Counter,
}

impl std::fmt::Debug for SyncMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncMetrics").finish_non_exhaustive()
    }
}

impl Default for SyncMetrics {
    fn default() -> Self {
        SyncMetrics::new()
    }
}

impl SyncMetrics {
    /// Every metric at zero, registered under the `tinystore_` prefix.
    ///
    /// ```
    /// let text = tinystore_core::sync::metrics::SyncMetrics::new().encode(0, 0);
    /// assert!(text.contains("# TYPE tinystore_relay_fanout_seconds histogram"));
    /// ```
    pub fn new() -> SyncMetrics {
        let mut registry = Registry::with_prefix("tinystore");
        let rooms = Gauge::default();
        let clients = Gauge::default();
        let messages = Family::<Labels, Counter>::default();
        let bytes = Family::<Labels, Counter>::default();
        // 10 µs to ~5 s: a relay is a few queue pushes; a save may write a large room.
        let fanout = Histogram::new(exponential_buckets(0.000_01, 4.0, 10));
        let save_seconds = Histogram::new(exponential_buckets(0.000_1, 4.0, 10));
        let saves = Counter::default();
        let save_failures = Counter::default();
        let auth_rejections = Family::<Labels, Counter>::default();
        let connections = Counter::default();
        let disconnections = Counter::default();
        registry.register(
            "rooms",
            "Rooms (paths) with at least one client",
            rooms.clone(),
        );
        registry.register(
            "clients",
            "Connected clients, over all rooms",
            clients.clone(),
        );
        registry.register(
            "messages",
            "Sync messages by direction and TinyBase message type",
            messages.clone(),
        );
        registry.register(
            "message_bytes",
            "Bytes of sync payloads by direction and TinyBase message type",
            bytes.clone(),
        );
        registry.register(
            "relay_fanout_seconds",
            "Time from a message's arrival to its payloads queued for every recipient",
            fanout.clone(),
        );
        registry.register("room_saves", "Room-store saves", saves.clone());
        registry.register(
            "room_save_failures",
            "Room-store saves that failed",
            save_failures.clone(),
        );
        registry.register(
            "room_save_seconds",
            "Room-store save latency",
            save_seconds.clone(),
        );
        registry.register(
            "auth_rejections",
            "Requests the auth hook rejected, by purpose",
            auth_rejections.clone(),
        );
        registry.register(
            "connections_opened",
            "WebSocket connections accepted",
            connections.clone(),
        );
        registry.register(
            "connections_closed",
            "WebSocket connections closed",
            disconnections.clone(),
        );
        let by_type = [Direction::In, Direction::Out].map(|direction| {
            let mut slot = 0;
            [(); 9].map(|()| {
                let labels = vec![
                    ("direction", direction_label(direction)),
                    (
                        "type",
                        MessageType::from_number(slot).map_or("unknown", type_label),
                    ),
                ];
                slot += 1;
                (
                    messages.get_or_create(&labels).clone(),
                    bytes.get_or_create(&labels).clone(),
                )
            })
        });
        SyncMetrics {
            registry,
            rooms,
            clients,
            by_type,
            fanout,
            saves,
            save_failures,
            save_seconds,
            auth_rejections,
            connections,
            disconnections,
        }
    }

    /// Counts `count` messages (or payloads, going out) of `message`'s type and their `bytes`;
    /// `None` when the type is not known (labelled `unknown`).
    ///
    /// ```
    /// use tinystore_core::sync::metrics::{Direction, SyncMetrics};
    /// let metrics = SyncMetrics::new();
    /// metrics.message(Direction::Out, None, 10);
    /// assert!(metrics.encode(0, 0).contains(r#"tinystore_message_bytes_total{direction="out",type="unknown"} 10"#));
    /// ```
    pub fn message(&self, direction: Direction, message: Option<MessageType>, bytes: usize) {
        self.messages_n(direction, message, 1, bytes);
    }

    /// [`message`](Self::message) for `count` payloads of `bytes` in all.
    ///
    /// ```
    /// use tinystore_core::sync::metrics::{Direction, SyncMetrics};
    /// use tinystore_core::sync::protocol::MessageType;
    /// let metrics = SyncMetrics::new();
    /// metrics.messages_n(Direction::Out, Some(MessageType::ContentHashes), 3, 90);
    /// assert!(metrics.encode(0, 0).contains(r#"tinystore_messages_total{direction="out",type="ContentHashes"} 3"#));
    /// ```
    pub fn messages_n(
        &self,
        direction: Direction,
        message: Option<MessageType>,
        count: u64,
        bytes: usize,
    ) {
        let (messages, total) =
            &self.by_type[direction as usize][message.map_or(8, |m| m as usize)];
        messages.inc_by(count);
        total.inc_by(bytes as u64);
    }

    /// Records how long one message took to reach every recipient's queue.
    ///
    /// ```
    /// use std::time::Duration;
    /// let metrics = tinystore_core::sync::metrics::SyncMetrics::new();
    /// metrics.fanout(Duration::from_micros(50));
    /// assert!(metrics.encode(0, 0).contains("tinystore_relay_fanout_seconds_count 1"));
    /// ```
    pub fn fanout(&self, took: Duration) {
        self.fanout.observe(took.as_secs_f64());
    }

    /// Records one room-store save and how long it took.
    ///
    /// ```
    /// use std::time::Duration;
    /// let metrics = tinystore_core::sync::metrics::SyncMetrics::new();
    /// metrics.save(Duration::from_millis(2));
    /// assert!(metrics.encode(0, 0).contains("tinystore_room_saves_total 1"));
    /// ```
    pub fn save(&self, took: Duration) {
        self.saves.inc();
        self.save_seconds.observe(took.as_secs_f64());
    }

    /// Counts a room-store save that failed.
    ///
    /// ```
    /// let metrics = tinystore_core::sync::metrics::SyncMetrics::new();
    /// metrics.save_failed();
    /// assert!(metrics.encode(0, 0).contains("tinystore_room_save_failures_total 1"));
    /// ```
    pub fn save_failed(&self) {
        self.save_failures.inc();
    }

    /// Counts a request the auth hook rejected; `purpose` is `join` or `stats`.
    ///
    /// ```
    /// let metrics = tinystore_core::sync::metrics::SyncMetrics::new();
    /// metrics.auth_rejected("stats");
    /// assert!(metrics.encode(0, 0).contains(r#"purpose="stats""#));
    /// ```
    pub fn auth_rejected(&self, purpose: &'static str) {
        self.auth_rejections
            .get_or_create(&vec![("purpose", purpose)])
            .inc();
    }

    /// Counts an accepted WebSocket connection (`true`) or a closed one (`false`).
    ///
    /// ```
    /// let metrics = tinystore_core::sync::metrics::SyncMetrics::new();
    /// metrics.connection(true);
    /// assert!(metrics.encode(0, 0).contains("tinystore_connections_opened_total 1"));
    /// ```
    pub fn connection(&self, opened: bool) {
        if opened {
            self.connections.inc();
        } else {
            self.disconnections.inc();
        }
    }

    /// The exposition text, with the room and client gauges set to what the server has now.
    ///
    /// ```
    /// let text = tinystore_core::sync::metrics::SyncMetrics::new().encode(3, 7);
    /// assert!(text.contains("tinystore_rooms 3") && text.contains("tinystore_clients 7"));
    /// ```
    pub fn encode(&self, rooms: usize, clients: usize) -> String {
        self.rooms.set(i64::try_from(rooms).unwrap_or(i64::MAX));
        self.clients.set(i64::try_from(clients).unwrap_or(i64::MAX));
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut text, &self.registry);
        text
    }
}

fn direction_label(direction: Direction) -> &'static str {
    match direction {
        Direction::In => "in",
        Direction::Out => "out",
    }
}

/// TinyBase's name of a message type, as the `type` label.
fn type_label(message: MessageType) -> &'static str {
    match message {
        MessageType::Response => "Response",
        MessageType::GetContentHashes => "GetContentHashes",
        MessageType::ContentHashes => "ContentHashes",
        MessageType::ContentDiff => "ContentDiff",
        MessageType::GetTableDiff => "GetTableDiff",
        MessageType::GetRowDiff => "GetRowDiff",
        MessageType::GetCellDiff => "GetCellDiff",
        MessageType::GetValueDiff => "GetValueDiff",
    }
}
