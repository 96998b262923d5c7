//! Synchronization of MergeableStores (spec sync.md): the wire protocol, the synchronizer state
//! machine, and its transports.
//!
//! - [`protocol`]: messages, validation, framing, fragments, multiplexing (no I/O).
//! - `client` (feature `ws-client`): the WebSocket sync client (TinyBase's
//!   `createWsSynchronizer`), with optional reconnection.
//! - `server` (feature `ws-server`): the WebSocket sync server (TinyBase's `createWsServer`).
//! - [`synchronizer`]: the transport-independent [`Synchronizer`] (TinyBase's
//!   `createCustomSynchronizer`) and the [`Transport`] trait apps implement for their medium.
//! - [`local`]: [`LocalBus`], synchronizers in one process (TinyBase's LocalSynchronizer).
//! - `rooms` (feature `ws-server`): server-side room stores, in memory or persisted to SQLite.
//! - `inspector` (feature `ws-server`): what the server's `/inspector` page shows and edits.
//! - `metrics` (feature `ws-server`): the server's Prometheus metrics (`GET /metrics`).

#[cfg(feature = "ws-client")]
pub mod client;
#[cfg(feature = "ws-server")]
pub mod inspector;
pub mod local;
#[cfg(feature = "ws-server")]
pub mod metrics;
pub mod protocol;
#[cfg(feature = "ws-server")]
pub mod rooms;
#[cfg(feature = "ws-server")]
pub mod serve;
#[cfg(feature = "ws-server")]
pub mod server;
pub mod synchronizer;
#[cfg(feature = "ws-server")]
pub mod tokens;

#[cfg(feature = "ws-client")]
pub use client::{
    ConnectionStatus, FrameDirection, ReconnectPolicy, WsClientConfig, WsClientError,
    WsSynchronizer,
};
pub use local::LocalBus;
pub use synchronizer::{
    SyncError, Synchronizer, SynchronizerOptions, SynchronizerStats, Transport, WeakSynchronizer,
};
