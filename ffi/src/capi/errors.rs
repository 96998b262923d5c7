//! Errors at the ABI edge: statuses derived from the core's `ErrorKind`, the thread's last
//! error message, and the guard every entry point runs in.

use super::*;

/// A failed call: its kind (whose code is the status C sees) and message.
pub(crate) struct Error {
    pub(crate) kind: ErrorKind,
    pub(crate) message: String,
}

pub(crate) type R<T> = Result<T, Error>;

pub(crate) fn err(kind: ErrorKind, message: impl Into<String>) -> Error {
    Error {
        kind,
        message: message.into(),
    }
}

/// Every core error converts through its [`Classify`] kind: one rule for all of them.
macro_rules! from_core_errors {
    ($($ty:ty),* $(,)?) => {$(
        impl From<$ty> for Error {
            fn from(e: $ty) -> Self {
                err(e.error_kind(), e.to_string())
            }
        }
    )*};
}

from_core_errors!(
    ContentError,
    StoreError,
    MergeableError,
    PersistError,
    WsClientError,
    ServeError,
    tinystore_core::views::ViewError,
);

/// The C status of a kind: the same number (`tests.rs` checks every one).
pub(crate) fn status(kind: ErrorKind) -> tinystore_status_t {
    STATUSES
        .get(kind.code() as usize)
        .copied()
        .unwrap_or(S::TINYSTORE_STATUS_PANIC)
}

/// The statuses by number.
pub(crate) const STATUSES: [tinystore_status_t; 16] = [
    S::TINYSTORE_STATUS_OK,
    S::TINYSTORE_STATUS_NULL_ARGUMENT,
    S::TINYSTORE_STATUS_INVALID_UTF8,
    S::TINYSTORE_STATUS_INVALID_JSON,
    S::TINYSTORE_STATUS_INVALID_HANDLE,
    S::TINYSTORE_STATUS_NOT_FOUND,
    S::TINYSTORE_STATUS_INVALID_ARGUMENT,
    S::TINYSTORE_STATUS_INVALID_SCHEMA,
    S::TINYSTORE_STATUS_NOT_MERGEABLE,
    S::TINYSTORE_STATUS_REJECTED,
    S::TINYSTORE_STATUS_INVALID_STATE,
    S::TINYSTORE_STATUS_STORAGE,
    S::TINYSTORE_STATUS_UNSUPPORTED,
    S::TINYSTORE_STATUS_NETWORK,
    S::TINYSTORE_STATUS_PANIC,
    S::TINYSTORE_STATUS_CALLBACK,
];

thread_local! {
    pub(crate) static LAST_ERROR: RefCell<Option<CString>> = const { RefCell::new(None) };
}

pub(crate) fn set_last_error(message: Option<&str>) {
    let _ = LAST_ERROR.try_with(|slot| {
        if let Ok(mut slot) = slot.try_borrow_mut() {
            *slot = message.map(to_cstring);
        }
    });
}

/// Runs one entry point: no panic crosses the ABI, and the thread's last error is set (or
/// cleared on success).
pub(crate) fn guard(f: impl FnOnce() -> R<()>) -> tinystore_status_t {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => {
            set_last_error(None);
            S::TINYSTORE_STATUS_OK
        }
        Ok(Err(e)) => {
            set_last_error(Some(&e.message));
            status(e.kind)
        }
        Err(payload) => match CallbackFailure::from_panic(&*payload) {
            // A C callback of the application failed during the call (see `CallbackFailure`).
            Some(failure) => {
                set_last_error(Some(failure.message()));
                S::TINYSTORE_STATUS_CALLBACK
            }
            None => {
                let message = format!(
                    "internal error (panic): {}",
                    tinystore_core::error_kind::panic_message(&*payload)
                );
                set_last_error(Some(&message));
                S::TINYSTORE_STATUS_PANIC
            }
        },
    }
}

/// [`guard`] for the few functions that return something other than a status.
pub(crate) fn guard_value<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(fallback)
}
