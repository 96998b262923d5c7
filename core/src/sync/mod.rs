//! Synchronization of MergeableStores (spec sync.md): the wire protocol, the synchronizer state
//! machine, and its transports.
//!
//! - [`protocol`]: messages, validation, framing, fragments, multiplexing (no I/O).
//! - `server` (feature `ws-server`): the WebSocket sync server (TinyBase's `createWsServer`).
//! - [`synchronizer`]: the transport-independent [`Synchronizer`] (TinyBase's
//!   `createCustomSynchronizer`) and the [`Transport`] trait apps implement for their medium.
//! - [`local`]: [`LocalBus`], synchronizers in one process (TinyBase's LocalSynchronizer).

pub mod local;
pub mod protocol;
#[cfg(feature = "ws-server")]
pub mod server;
pub mod synchronizer;

pub use local::LocalBus;
pub use synchronizer::{
    SyncError, Synchronizer, SynchronizerOptions, SynchronizerStats, Transport, WeakSynchronizer,
};
