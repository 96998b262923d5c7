//! What can go wrong in a synchronizer, as TinyBase reports it.

use crate::mergeable::MergeableError;

/// Why a synchronizer operation failed; reported to the ignored-error callback (TinyBase's
/// `onIgnoredError`) with TinyBase's message texts.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// A request got no answer in time: `<to>.<requestId>.<message>`.
    #[error("tinybase:3:{0}")]
    NoResponse(String),
    /// Pending requests were rejected because the synchronizer was destroyed.
    #[error("tinybase:3:destroyed")]
    Destroyed,
    /// A message or response had the wrong shape.
    #[error("tinybase:14")]
    InvalidMessage,
    /// Too many requests were waiting for responses.
    #[error("tinybase:15:requests")]
    TooManyRequests,
    /// Changes or content received from a peer were rejected by this store as a whole (a stamp
    /// dated more than five minutes ahead of this store's clock, a malformed stamp or cell):
    /// none of it was applied. `source` says why.
    #[error("{what} from client {from} rejected: {source}")]
    Rejected {
        /// The client id of the peer the payload came from.
        from: String,
        /// How the payload arrived.
        what: Received,
        /// Why the store rejected it.
        #[source]
        source: MergeableError,
    },
    /// The transport failed, as the transport describes it (TinyBase's message text).
    #[error("tinybase:5:{0}")]
    Transport(String),
    /// A store listener or a view's function failed while changes received from a peer were
    /// applied. The changes were applied and the store's transaction finished; the failure
    /// cannot reach a writer (none of this thread's callers wrote), so it is reported here.
    #[error("a listener failed while {what} from client {from} were applied: {message}")]
    Listener {
        /// The client id of the peer the changes came from.
        from: String,
        /// How the changes arrived.
        what: Received,
        /// The failure's message (a foreign function's error text, or the panic's).
        message: String,
    },
}

/// What kind of failure a [`SyncError`] is: stable across versions (new kinds may be added),
/// for code that maps errors to its own codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SyncErrorKind {
    /// A request got no answer in time.
    NoResponse,
    /// The synchronizer was destroyed while requests were pending.
    Destroyed,
    /// A message had the wrong shape.
    InvalidMessage,
    /// Too many requests were waiting.
    TooManyRequests,
    /// This store rejected what a peer sent.
    Rejected,
    /// The transport failed.
    Transport,
    /// A listener failed while received changes were applied.
    Listener,
}

impl SyncError {
    /// The kind of failure.
    ///
    /// ```
    /// use tinystore_core::sync::{SyncError, synchronizer::SyncErrorKind};
    /// assert_eq!(SyncError::Destroyed.kind(), SyncErrorKind::Destroyed);
    /// ```
    pub fn kind(&self) -> SyncErrorKind {
        match self {
            SyncError::NoResponse(_) => SyncErrorKind::NoResponse,
            SyncError::Destroyed => SyncErrorKind::Destroyed,
            SyncError::InvalidMessage => SyncErrorKind::InvalidMessage,
            SyncError::TooManyRequests => SyncErrorKind::TooManyRequests,
            SyncError::Rejected { .. } => SyncErrorKind::Rejected,
            SyncError::Transport(_) => SyncErrorKind::Transport,
            SyncError::Listener { .. } => SyncErrorKind::Listener,
        }
    }
}

/// How a payload that [`SyncError::Rejected`] names arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Received {
    /// A peer's `ContentDiff` (its auto-save of a transaction).
    Changes,
    /// What a pull (content hashes, then table, row, cell and value diffs) fetched from a peer.
    PulledChanges,
}

impl std::fmt::Display for Received {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Received::Changes => "changes",
            Received::PulledChanges => "changes pulled",
        })
    }
}
