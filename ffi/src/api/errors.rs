//! The one error type of the bindings, derived from the core's error kinds and areas.

use super::*;

use tinystore_core::error_kind::{Classify, ErrorArea, ErrorKind};

/// The one error type of the bindings (Python `tinystore.TinystoreError`, Kotlin
/// `TinystoreException`, Swift `TinystoreError`); each variant is an area.
#[derive(Debug, Clone, PartialEq, thiserror::Error, uniffi::Error)]
pub enum TinystoreError {
    /// JSON text could not be parsed or had the wrong shape; nothing was changed.
    #[error("{reason}")]
    InvalidJson {
        /// What was wrong.
        reason: String,
    },
    /// A cell or value that the store cannot hold was given.
    #[error("{reason}")]
    InvalidValue {
        /// What was wrong.
        reason: String,
    },
    /// A schema had no valid entry.
    #[error("{reason}")]
    Schema {
        /// What was wrong.
        reason: String,
    },
    /// A MergeableStore payload was rejected (shape, stamps, HLCs in the future).
    #[error("{reason}")]
    Mergeable {
        /// What was wrong.
        reason: String,
    },
    /// A persister could not load or save.
    #[error("{reason}")]
    Persist {
        /// What was wrong.
        reason: String,
    },
    /// A synchronizer could not connect or sync.
    #[error("{reason}")]
    Sync {
        /// What was wrong.
        reason: String,
    },
    /// The sync server could not start.
    #[error("{reason}")]
    Server {
        /// What was wrong.
        reason: String,
    },
    /// The object was destroyed or stopped.
    #[error("{reason}")]
    Destroyed {
        /// What was wrong.
        reason: String,
    },
    /// A foreign callback failed (an exception the callback did not map to another variant).
    #[error("{reason}")]
    Callback {
        /// What was wrong.
        reason: String,
    },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for TinystoreError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        TinystoreError::Callback { reason: e.reason }
    }
}

impl TinystoreError {
    /// The variant for a core error, from its area (the variants name areas) and, for store
    /// errors, its kind; the reason is the error's message.
    pub(crate) fn classified(e: &impl Classify) -> Self {
        let reason = e.to_string();
        match (e.error_area(), e.error_kind()) {
            (_, ErrorKind::InvalidSchema) => TinystoreError::Schema { reason },
            (_, ErrorKind::Callback) => TinystoreError::Callback { reason },
            (ErrorArea::Store, _) => TinystoreError::InvalidJson { reason },
            (ErrorArea::Mergeable, _) => TinystoreError::Mergeable { reason },
            (ErrorArea::Persist, _) => TinystoreError::Persist { reason },
            (ErrorArea::Sync, _) => TinystoreError::Sync { reason },
            (ErrorArea::Server, _) => TinystoreError::Server { reason },
            _ => TinystoreError::InvalidValue { reason },
        }
    }
}

/// Every core error converts through [`TinystoreError::classified`]: one rule for all.
macro_rules! from_core_errors {
    ($($ty:ty),* $(,)?) => {$(
        impl From<$ty> for TinystoreError {
            fn from(e: $ty) -> Self {
                TinystoreError::classified(&e)
            }
        }
    )*};
}

from_core_errors!(
    core::StoreError,
    core::ContentError,
    core::MergeableError,
    persist::PersistError,
    csync::WsClientError,
    csync::serve::ServeError,
);

/// A foreign storage failure as the core's storage error (through `io::Error`, whose
/// conversion the persister owns).
pub(crate) fn persist_error(e: TinystoreError) -> persist::PersistError {
    let reason = match e {
        TinystoreError::Persist { reason } => reason,
        other => other.to_string(),
    };
    persist::PersistError::from(std::io::Error::other(reason))
}

/// Reports a failed foreign callback, which has no caller to return its error to.
pub(crate) fn report(what: &str, e: &TinystoreError) {
    tracing::warn!(target: "tinystore", callback = what, error = %e, "a foreign callback failed");
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
