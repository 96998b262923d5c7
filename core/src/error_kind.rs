//! The error-kind contract: every public error of the core says *what kind* of failure it is
//! ([`ErrorKind`], frozen numeric codes) and *which part* of the library failed
//! ([`ErrorArea`]), through [`Classify`]. Both FFI layers derive their errors from these two
//! and nothing else:
//!
//! - the C ABI's `tinystore_status_t` is the [`ErrorKind`] code (a test in `ffi` checks that
//!   every code equals the status of the same name);
//! - the UniFFI `TinystoreError` variant is chosen from the area (its variants were named per
//!   area: `Persist`, `Sync`, `Server`, `Mergeable`) and, for store errors, the kind (`Schema`
//!   versus `InvalidJson`).
//!
//! Codes are never renumbered nor reused; new kinds are only appended. The trait's methods
//! are `error_kind`/`error_area` (not `kind`), so that an inherent `kind()` an error type may
//! grow never shadows them.

use std::fmt;

use crate::content::ContentError;
use crate::mergeable::MergeableError;
use crate::persist::PersistError;
use crate::store::StoreError;
use crate::views::ViewError;

macro_rules! kinds {
    ($($(#[doc = $doc:literal])* $kind:ident = $code:literal => $name:literal,)*) => {
        /// What kind of failure an error is. The numbers are frozen and equal the C ABI's
        /// `tinystore_status_t` values (0 is success there, so no kind has it).
        ///
        /// ```
        /// use tinystore_core::Store;
        /// use tinystore_core::error_kind::{Classify, ErrorKind};
        /// let err = Store::new().set_json("[{").unwrap_err();
        /// assert_eq!(err.error_kind(), ErrorKind::InvalidJson);
        /// assert_eq!((ErrorKind::InvalidJson.code(), ErrorKind::InvalidJson.name()), (3, "INVALID_JSON"));
        /// ```
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u32)]
        #[non_exhaustive]
        pub enum ErrorKind {
            $($(#[doc = $doc])* $kind = $code,)*
        }

        impl ErrorKind {
            /// Every kind, in code order.
            pub const ALL: &'static [ErrorKind] = &[$(ErrorKind::$kind),*];

            /// The kind with this code.
            ///
            /// ```
            /// use tinystore_core::error_kind::ErrorKind;
            /// assert_eq!(ErrorKind::from_code(5), Some(ErrorKind::NotFound));
            /// // 0 is the C ABI's success, not a kind.
            /// assert_eq!(ErrorKind::from_code(0), None);
            /// ```
            pub fn from_code(code: u32) -> Option<ErrorKind> {
                match code {
                    $($code => Some(ErrorKind::$kind),)*
                    _ => None,
                }
            }

            /// The upper-snake-case name (`"NOT_FOUND"`), as the C status names use it.
            ///
            /// ```
            /// use tinystore_core::error_kind::ErrorKind;
            /// assert_eq!(ErrorKind::NotFound.name(), "NOT_FOUND");
            /// assert_eq!(ErrorKind::NotFound.to_string(), "NOT_FOUND");
            /// ```
            pub const fn name(self) -> &'static str {
                match self {
                    $(ErrorKind::$kind => $name,)*
                }
            }
        }
    };
}

kinds! {
    /// A required argument (pointer, handle, callback) was missing.
    NullArgument = 1 => "NULL_ARGUMENT",
    /// A string argument was not valid UTF-8.
    InvalidUtf8 = 2 => "INVALID_UTF8",
    /// JSON did not parse, or did not have the expected shape; nothing was changed.
    InvalidJson = 3 => "INVALID_JSON",
    /// A handle or object is unknown, freed, stopped, or of another kind.
    InvalidHandle = 4 => "INVALID_HANDLE",
    /// The thing asked for does not exist.
    NotFound = 5 => "NOT_FOUND",
    /// An argument is out of range or meaningless (a bad URL, host, cell, option).
    InvalidArgument = 6 => "INVALID_ARGUMENT",
    /// A schema had no valid entry.
    InvalidSchema = 7 => "INVALID_SCHEMA",
    /// The call needs a MergeableStore and was given a plain Store.
    NotMergeable = 8 => "NOT_MERGEABLE",
    /// A MergeableStore payload was rejected (stamps, HLCs in the future, invalid cells).
    Rejected = 9 => "REJECTED",
    /// The call is not allowed now (no open transaction, a save after a failed load).
    InvalidState = 10 => "INVALID_STATE",
    /// Reading or writing storage failed, or the stored data is unreadable.
    Storage = 11 => "STORAGE",
    /// The operation is not supported for this object.
    Unsupported = 12 => "UNSUPPORTED",
    /// A network operation failed: connect, handshake, timeout, bind.
    Network = 13 => "NETWORK",
    /// An internal error (a caught panic, a failed foreign callback).
    Internal = 14 => "INTERNAL",
    /// A function the application supplied (a view's definition function, sorter or aggregate
    /// written in C, Python, Kotlin or Swift) failed while a write ran; its message is kept.
    Callback = 15 => "CALLBACK",
}

impl ErrorKind {
    /// The frozen code.
    ///
    /// ```
    /// use tinystore_core::error_kind::ErrorKind;
    /// assert_eq!(ErrorKind::NullArgument.code(), 1);
    /// for kind in ErrorKind::ALL {
    ///     assert_eq!(ErrorKind::from_code(kind.code()), Some(*kind));
    /// }
    /// ```
    pub const fn code(self) -> u32 {
        self as u32
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which part of the library an error comes from.
///
/// ```
/// use tinystore_core::MergeableStore;
/// use tinystore_core::error_kind::{Classify, ErrorArea};
/// let err = MergeableStore::new(None).set_mergeable_content_json("[1,2").unwrap_err();
/// assert_eq!(err.error_area(), ErrorArea::Mergeable);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorArea {
    /// The Store: content JSON, schemas, cells.
    Store,
    /// MergeableStore payloads.
    Mergeable,
    /// Persisters and their storage.
    Persist,
    /// Synchronizers and the sync client.
    Sync,
    /// The sync server.
    Server,
    /// Derived views: indexes, relationships, metrics, queries, checkpoints.
    Views,
}

/// An error that knows its [`ErrorKind`] and [`ErrorArea`].
///
/// ```
/// use tinystore_core::error_kind::{Classify, ErrorArea, ErrorKind};
/// // What an FFI layer does with any core error.
/// fn status(err: &dyn Classify) -> (u32, String) {
///     (err.error_kind().code(), err.to_string())
/// }
/// let err = tinystore_core::Store::new()
///     .set_tables_schema_json(r#"{"t":{"c":{"type":"nope"}}}"#)
///     .unwrap_err();
/// assert_eq!(status(&err).0, ErrorKind::InvalidSchema.code());
/// assert_eq!(err.error_area(), ErrorArea::Store);
/// ```
pub trait Classify: fmt::Display {
    /// What kind of failure this is.
    ///
    /// ```
    /// use tinystore_core::MergeableStore;
    /// use tinystore_core::error_kind::{Classify, ErrorKind};
    /// let err = MergeableStore::new(None).set_mergeable_content_json("[1,2").unwrap_err();
    /// assert_eq!(err.error_kind(), ErrorKind::InvalidJson);
    /// ```
    fn error_kind(&self) -> ErrorKind;
    /// Which part of the library failed.
    ///
    /// ```
    /// use tinystore_core::error_kind::{CallbackFailure, Classify, ErrorArea};
    /// assert_eq!(CallbackFailure::new("boom").error_area(), ErrorArea::Views);
    /// ```
    fn error_area(&self) -> ErrorArea;
}

/// The panic payload of a failed foreign callback. TinyBase re-throws an error thrown by a
/// function a view calls to the caller of the write that triggered it; the core carries a
/// panic the same way (a view traps it and resumes it to the writer when the transaction
/// finishes). So an FFI layer whose foreign function failed panics with this payload
/// ([`CallbackFailure::raise`]), and the same layer's entry point, catching the panic at its
/// edge, turns this payload back into an error of kind [`ErrorKind::Callback`] — distinct
/// from a real bug's panic ([`ErrorKind::Internal`]).
///
/// ```
/// use tinystore_core::error_kind::CallbackFailure;
/// let caught = std::panic::catch_unwind(|| CallbackFailure::raise("ValueError: bad slice"))
///     .unwrap_err();
/// let failure = CallbackFailure::from_panic(&*caught).unwrap();
/// assert_eq!(failure.message(), "ValueError: bad slice");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallbackFailure {
    message: String,
}

impl CallbackFailure {
    /// A failure described by `message` (the foreign error's text).
    ///
    /// ```
    /// use tinystore_core::error_kind::{CallbackFailure, Classify, ErrorKind};
    /// let failure = CallbackFailure::new("TypeError: not a function");
    /// assert_eq!(failure.error_kind(), ErrorKind::Callback);
    /// assert_eq!(failure.to_string(), "TypeError: not a function");
    /// ```
    pub fn new(message: impl Into<String>) -> CallbackFailure {
        CallbackFailure {
            message: message.into(),
        }
    }
    /// Unwinds with this failure as the payload, without the panic hook (so nothing is
    /// printed: it is an application error on its way to the writer, not a bug).
    ///
    /// ```
    /// use tinystore_core::error_kind::{CallbackFailure, panic_message};
    /// let caught = std::panic::catch_unwind(|| CallbackFailure::raise("KeyError: 'x'")).unwrap_err();
    /// assert_eq!(panic_message(&*caught), "KeyError: 'x'");
    /// ```
    pub fn raise(message: impl Into<String>) -> ! {
        std::panic::resume_unwind(Box::new(CallbackFailure::new(message)))
    }
    /// The foreign error's text.
    ///
    /// ```
    /// use tinystore_core::error_kind::CallbackFailure;
    /// assert_eq!(CallbackFailure::new("boom").message(), "boom");
    /// ```
    pub fn message(&self) -> &str {
        &self.message
    }
    /// The failure a caught panic carries, if it is one (and not a real bug's panic).
    ///
    /// ```
    /// use tinystore_core::error_kind::CallbackFailure;
    /// let bug = std::panic::catch_unwind(|| panic!("index out of bounds")).unwrap_err();
    /// assert!(CallbackFailure::from_panic(&*bug).is_none());
    /// ```
    pub fn from_panic(payload: &(dyn std::any::Any + Send)) -> Option<&CallbackFailure> {
        payload.downcast_ref::<CallbackFailure>()
    }
}

/// The text of a caught panic: a failed foreign callback's message, or the panic's own.
///
/// ```
/// use tinystore_core::error_kind::panic_message;
/// let caught = std::panic::catch_unwind(|| panic!("a bug")).unwrap_err();
/// assert_eq!(panic_message(&*caught), "a bug");
/// ```
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(failure) = CallbackFailure::from_panic(payload) {
        failure.message().to_string()
    } else if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

impl fmt::Display for CallbackFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Classify for CallbackFailure {
    fn error_kind(&self) -> ErrorKind {
        ErrorKind::Callback
    }
    fn error_area(&self) -> ErrorArea {
        ErrorArea::Views
    }
}

impl Classify for ViewError {
    fn error_kind(&self) -> ErrorKind {
        ErrorKind::InvalidArgument
    }
    fn error_area(&self) -> ErrorArea {
        ErrorArea::Views
    }
}

impl Classify for ContentError {
    fn error_kind(&self) -> ErrorKind {
        ErrorKind::InvalidJson
    }
    fn error_area(&self) -> ErrorArea {
        ErrorArea::Store
    }
}

impl Classify for StoreError {
    fn error_kind(&self) -> ErrorKind {
        match self {
            StoreError::Schema { .. } => ErrorKind::InvalidSchema,
            StoreError::Content { .. } => ErrorKind::InvalidJson,
            #[allow(unreachable_patterns)]
            _ => ErrorKind::InvalidArgument,
        }
    }
    fn error_area(&self) -> ErrorArea {
        ErrorArea::Store
    }
}

impl Classify for MergeableError {
    fn error_kind(&self) -> ErrorKind {
        match self {
            MergeableError::Json { .. } | MergeableError::Shape { .. } => ErrorKind::InvalidJson,
            _ => ErrorKind::Rejected,
        }
    }
    fn error_area(&self) -> ErrorArea {
        ErrorArea::Mergeable
    }
}

impl Classify for PersistError {
    // `{ .. }` on every variant: payloads may be added to these without breaking this match.
    #[allow(clippy::unneeded_struct_pattern)]
    fn error_kind(&self) -> ErrorKind {
        match self {
            PersistError::Mergeable { .. } => ErrorKind::Rejected,
            PersistError::Unsupported { .. } => ErrorKind::Unsupported,
            PersistError::LoadFailed { .. } => ErrorKind::InvalidState,
            _ => ErrorKind::Storage,
        }
    }
    fn error_area(&self) -> ErrorArea {
        ErrorArea::Persist
    }
}

#[cfg(feature = "ws-client")]
impl Classify for crate::sync::client::WsClientError {
    fn error_kind(&self) -> ErrorKind {
        use crate::sync::client::WsClientError as E;
        match self {
            E::BadUrl { .. } | E::BadChannel { .. } | E::BadHeader { .. } => {
                ErrorKind::InvalidArgument
            }
            _ => ErrorKind::Network,
        }
    }
    fn error_area(&self) -> ErrorArea {
        ErrorArea::Sync
    }
}

#[cfg(feature = "ws-server")]
impl Classify for crate::sync::server::ServerError {
    fn error_kind(&self) -> ErrorKind {
        ErrorKind::Network
    }
    fn error_area(&self) -> ErrorArea {
        ErrorArea::Server
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_frozen_and_round_trip() {
        // The C ABI's status values: never change a line of this list, only append.
        let frozen = [
            (1, "NULL_ARGUMENT"),
            (2, "INVALID_UTF8"),
            (3, "INVALID_JSON"),
            (4, "INVALID_HANDLE"),
            (5, "NOT_FOUND"),
            (6, "INVALID_ARGUMENT"),
            (7, "INVALID_SCHEMA"),
            (8, "NOT_MERGEABLE"),
            (9, "REJECTED"),
            (10, "INVALID_STATE"),
            (11, "STORAGE"),
            (12, "UNSUPPORTED"),
            (13, "NETWORK"),
            (14, "INTERNAL"),
            (15, "CALLBACK"),
        ];
        assert_eq!(ErrorKind::ALL.len(), frozen.len());
        for (kind, (code, name)) in ErrorKind::ALL.iter().zip(frozen) {
            assert_eq!((kind.code(), kind.name()), (code, name));
            assert_eq!(ErrorKind::from_code(code), Some(*kind));
        }
        assert_eq!(ErrorKind::from_code(0), None);
        assert_eq!(ErrorKind::from_code(16), None);
    }

    #[test]
    fn core_errors_are_classified() {
        let e = crate::Store::new().set_json("[{").unwrap_err();
        assert_eq!(
            (e.error_kind(), e.error_area()),
            (ErrorKind::InvalidJson, ErrorArea::Store)
        );
        let e = crate::Store::new()
            .set_tables_schema_json(r#"{"t":{"c":{"type":"nope"}}}"#)
            .unwrap_err();
        assert_eq!(e.error_kind(), ErrorKind::InvalidSchema);
        let e = crate::MergeableStore::new(None)
            .set_mergeable_content_json("[1,2")
            .unwrap_err();
        assert_eq!(
            (e.error_kind(), e.error_area()),
            (ErrorKind::InvalidJson, ErrorArea::Mergeable)
        );
        let e = PersistError::from(e);
        assert_eq!(
            (e.error_kind(), e.error_area()),
            (ErrorKind::Rejected, ErrorArea::Persist)
        );
    }
}
