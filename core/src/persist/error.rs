//! [`PersistError`]: why a persister call failed, keeping the error it came from.
//!
//! Errors of the storage itself keep their cause: [`std::error::Error::source`] of a
//! [`PersistError::Os`] is the [`std::io::Error`], of a [`PersistError::Sqlite`] the
//! `rusqlite::Error`, of unreadable content the JSON or content error. Text is made only where
//! it is shown ([`std::fmt::Display`], at the FFI and CLI edges). [`PersistError::kind`] is the
//! stable classification the edges derive their codes from.

use std::error::Error;
use std::fmt;
use std::sync::Arc;

use crate::mergeable::MergeableError;

/// Why a persister call failed.
///
/// Variants that carry a cause compare equal (`==`) when their causes say the same thing.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum PersistError {
    /// Storage failed and said why in words only: storage an app provides (its own error
    /// text, e.g. a callback's error across the C or UniFFI layer). tinystore's own storage
    /// reports [`PersistError::Os`] and [`PersistError::Sqlite`] instead.
    Io(String),
    /// A file or another operating-system call failed (reading, writing or renaming a file,
    /// starting a persister thread); the [`source`](Error::source) is the [`std::io::Error`].
    Os(Arc<std::io::Error>),
    /// The SQLite database failed; the [`source`](Error::source) is the `rusqlite::Error`.
    #[cfg(feature = "sqlite")]
    Sqlite(SqliteError),
    /// A PostgreSQL error (connecting, a statement, a lost connection), with what was being
    /// done.
    #[cfg(feature = "postgres")]
    Postgres(PostgresError),
    /// An HTTP request of the remote persister failed: no answer (connection, TLS, timeout),
    /// or an answer whose status means failure.
    #[cfg(feature = "remote")]
    Http(HttpError),
    /// The stored document is not JSON, or not in a shape TinyBase writes.
    Content(BadContent),
    /// The stored MergeableStore content was rejected.
    Mergeable(MergeableError),
    /// This persister cannot store this kind of store (e.g. a MergeableStore in tabular mode).
    Unsupported(&'static str),
    /// The last load failed; saving would overwrite stored data this store could not read.
    /// Load again, or call `allow_overwrite`.
    LoadFailed,
    /// Rooms recorded in `tinystore_rooms` with table names the database treats as one table
    /// (SQLite compares names ignoring ASCII case; written by versions before the check), so
    /// their data is mixed in one table. The database must be repaired before rooms start.
    AliasedRooms {
        /// `(path, table)` of every recorded room involved, rooms sharing a table adjacent.
        aliases: Vec<(String, String)>,
    },
}

/// What kind of failure a [`PersistError`] is: stable across versions (new kinds may be
/// added), for code that maps errors to its own codes. The C layer's statuses follow it:
/// `Rejected` → `TINYSTORE_STATUS_REJECTED`, `Unsupported` → `TINYSTORE_STATUS_UNSUPPORTED`,
/// `LoadFailed` → `TINYSTORE_STATUS_INVALID_STATE`, every other kind →
/// `TINYSTORE_STATUS_STORAGE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PersistErrorKind {
    /// The storage failed: a file, the database, or storage an app provides.
    Storage,
    /// What is stored cannot be read as a TinyBase document.
    Content,
    /// The store rejected stored MergeableStore content.
    Rejected,
    /// The storage cannot hold this kind of store.
    Unsupported,
    /// Saving is blocked by a failed load.
    LoadFailed,
    /// The rooms database maps several rooms to one table and must be repaired.
    AliasedRooms,
}

impl PersistError {
    /// The kind of failure.
    ///
    /// ```
    /// use tinystore_core::persist::{PersistError, PersistErrorKind};
    /// let e = PersistError::from(std::io::Error::other("disk on fire"));
    /// assert_eq!(e.kind(), PersistErrorKind::Storage);
    /// assert_eq!(e.to_string(), "storage error: disk on fire");
    /// assert_eq!(PersistError::LoadFailed.kind(), PersistErrorKind::LoadFailed);
    /// ```
    pub fn kind(&self) -> PersistErrorKind {
        match self {
            PersistError::Io(_) | PersistError::Os(_) => PersistErrorKind::Storage,
            #[cfg(feature = "sqlite")]
            PersistError::Sqlite(_) => PersistErrorKind::Storage,
            #[cfg(feature = "postgres")]
            PersistError::Postgres(_) => PersistErrorKind::Storage,
            #[cfg(feature = "remote")]
            PersistError::Http(_) => PersistErrorKind::Storage,
            PersistError::Content(_) => PersistErrorKind::Content,
            PersistError::Mergeable(_) => PersistErrorKind::Rejected,
            PersistError::Unsupported(_) => PersistErrorKind::Unsupported,
            PersistError::LoadFailed => PersistErrorKind::LoadFailed,
            PersistError::AliasedRooms { .. } => PersistErrorKind::AliasedRooms,
        }
    }

    /// Unreadable content described by `message` alone.
    pub(crate) fn content(message: impl Into<String>) -> PersistError {
        PersistError::Content(BadContent {
            message: message.into(),
            cause: None,
        })
    }

    /// Unreadable content because of `cause` (its text is the message).
    pub(crate) fn content_from(cause: impl Error + Send + Sync + 'static) -> PersistError {
        PersistError::Content(BadContent {
            message: cause.to_string(),
            cause: Some(Arc::new(cause)),
        })
    }
}

impl fmt::Display for PersistError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PersistError::Io(message) => write!(f, "storage error: {message}"),
            PersistError::Os(e) => write!(f, "storage error: {e}"),
            #[cfg(feature = "sqlite")]
            PersistError::Sqlite(e) => write!(f, "storage error: {e}"),
            #[cfg(feature = "postgres")]
            PersistError::Postgres(e) => write!(f, "storage error: {e}"),
            #[cfg(feature = "remote")]
            PersistError::Http(e) => write!(f, "storage error: {e}"),
            PersistError::Content(e) => write!(f, "unreadable stored content: {e}"),
            PersistError::Mergeable(e) => e.fmt(f),
            PersistError::Unsupported(what) => write!(f, "this persister does not support {what}"),
            PersistError::LoadFailed => f.write_str(
                "refusing to save over stored data that failed to load (call allow_overwrite to \
                 replace it)",
            ),
            PersistError::AliasedRooms { aliases } => write!(
                f,
                "rooms share one table: {} (the database treats these names as the same table, \
                 so these rooms' data is mixed in it); repair the database before starting: give \
                 all but one of these paths a new table of its own with `UPDATE tinystore_rooms \
                 SET table_name='<unused name>' WHERE path='<path>'`, then copy the shared \
                 table's `_id='_'` row into the new table and remove from each copy what belongs \
                 to the other rooms; or delete a path's row with `DELETE FROM tinystore_rooms \
                 WHERE path='<path>'` to start that room empty",
                aliases
                    .iter()
                    .map(|(path, table)| format!("{path:?} -> {table}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

impl Error for PersistError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            PersistError::Os(e) => Some(&**e),
            #[cfg(feature = "sqlite")]
            PersistError::Sqlite(e) => Some(e.error()),
            #[cfg(feature = "postgres")]
            PersistError::Postgres(e) => e.error().map(|e| e as &(dyn Error + 'static)),
            #[cfg(feature = "remote")]
            PersistError::Http(e) => e.error().map(|e| e as &(dyn Error + 'static)),
            PersistError::Content(e) => e.source(),
            PersistError::Mergeable(e) => Some(e),
            _ => None,
        }
    }
}

impl PartialEq for PersistError {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (PersistError::Io(a), PersistError::Io(b)) => a == b,
            (PersistError::Os(a), PersistError::Os(b)) => {
                a.kind() == b.kind() && a.to_string() == b.to_string()
            }
            #[cfg(feature = "sqlite")]
            (PersistError::Sqlite(a), PersistError::Sqlite(b)) => a.to_string() == b.to_string(),
            #[cfg(feature = "postgres")]
            (PersistError::Postgres(a), PersistError::Postgres(b)) => {
                a.to_string() == b.to_string()
            }
            #[cfg(feature = "remote")]
            (PersistError::Http(a), PersistError::Http(b)) => a.to_string() == b.to_string(),
            (PersistError::Content(a), PersistError::Content(b)) => a.message == b.message,
            (PersistError::Mergeable(a), PersistError::Mergeable(b)) => a == b,
            (PersistError::Unsupported(a), PersistError::Unsupported(b)) => a == b,
            (PersistError::LoadFailed, PersistError::LoadFailed) => true,
            (
                PersistError::AliasedRooms { aliases: a },
                PersistError::AliasedRooms { aliases: b },
            ) => a == b,
            _ => false,
        }
    }
}

impl From<std::io::Error> for PersistError {
    fn from(e: std::io::Error) -> Self {
        PersistError::Os(Arc::new(e))
    }
}

impl From<MergeableError> for PersistError {
    fn from(e: MergeableError) -> Self {
        PersistError::Mergeable(e)
    }
}

/// Why stored content is unreadable: a message, and the error it came from when there is one
/// (a JSON syntax error, a content shape error).
#[derive(Clone, Debug)]
pub struct BadContent {
    message: String,
    cause: Option<Arc<dyn Error + Send + Sync>>,
}

impl BadContent {
    /// What is wrong.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for BadContent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Error for BadContent {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.cause.as_deref().map(|e| e as &(dyn Error + 'static))
    }
}

/// An SQLite failure: the `rusqlite::Error` and what tinystore was doing when it happened.
/// Displays as `sqlite: <what>: <error>`.
#[cfg(feature = "sqlite")]
#[derive(Clone, Debug)]
pub struct SqliteError {
    context: Option<Arc<str>>,
    error: Arc<rusqlite::Error>,
}

#[cfg(feature = "sqlite")]
impl SqliteError {
    /// `error`, which happened while doing `context` (e.g. `"opening rooms.sqlite"`).
    pub fn new(error: rusqlite::Error, context: Option<&str>) -> SqliteError {
        SqliteError {
            context: context.map(Arc::from),
            error: Arc::new(error),
        }
    }

    /// The error SQLite (through rusqlite) reported.
    pub fn error(&self) -> &rusqlite::Error {
        &self.error
    }

    /// What was being done, if recorded.
    pub fn context(&self) -> Option<&str> {
        self.context.as_deref()
    }
}

#[cfg(feature = "sqlite")]
impl fmt::Display for SqliteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.context {
            Some(context) => write!(f, "sqlite: {context}: {}", self.error),
            None => write!(f, "sqlite: {}", self.error),
        }
    }
}

#[cfg(feature = "sqlite")]
impl Error for SqliteError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&*self.error)
    }
}

#[cfg(feature = "sqlite")]
impl From<rusqlite::Error> for PersistError {
    fn from(e: rusqlite::Error) -> Self {
        PersistError::Sqlite(SqliteError::new(e, None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_are_kept_and_texts_unchanged() {
        let e = PersistError::from(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            "denied",
        ));
        assert_eq!(e.to_string(), "storage error: denied");
        let io = e.source().and_then(|s| s.downcast_ref::<std::io::Error>());
        assert_eq!(
            io.map(std::io::Error::kind),
            Some(std::io::ErrorKind::PermissionDenied)
        );
        assert_eq!(e.clone(), e);

        let json = crate::json::parse("[").unwrap_err();
        let e = PersistError::content_from(json.clone());
        assert_eq!(e.to_string(), format!("unreadable stored content: {json}"));
        assert_eq!(e.kind(), PersistErrorKind::Content);
        assert!(e.source().is_some());
        assert!(PersistError::content("x").source().is_none());
    }
}

/// A PostgreSQL error: what was being done and the driver's error (absent when the failure
/// is ours, e.g. a connection that is down and not yet back).
#[cfg(feature = "postgres")]
#[derive(Clone, Debug)]
pub struct PostgresError {
    context: Arc<str>,
    error: Option<Arc<tokio_postgres::Error>>,
}

#[cfg(feature = "postgres")]
impl PostgresError {
    /// An error of the driver while doing `context`.
    pub fn new(context: impl Into<Arc<str>>, error: Option<tokio_postgres::Error>) -> Self {
        PostgresError {
            context: context.into(),
            error: error.map(Arc::new),
        }
    }

    /// The driver's error.
    pub fn error(&self) -> Option<&tokio_postgres::Error> {
        self.error.as_deref()
    }

    /// What was being done.
    pub fn context(&self) -> &str {
        &self.context
    }

    /// The SQLSTATE code of a database error (e.g. `42P01`), if it is one.
    pub fn code(&self) -> Option<&str> {
        self.error.as_ref()?.code().map(|c| c.code())
    }
}

#[cfg(feature = "postgres")]
impl fmt::Display for PostgresError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.error {
            // The driver's Display says only "db error": the server's message is in the source.
            Some(e) => match e.as_db_error() {
                Some(db) => write!(
                    f,
                    "{}: {} ({})",
                    self.context,
                    db.message(),
                    db.code().code()
                ),
                None => write!(f, "{}: {e}", self.context),
            },
            None => f.write_str(&self.context),
        }
    }
}

/// A failed HTTP request of the remote persister: the request (`GET https://…`), the status of
/// an answer that means failure, and the HTTP client's error when there was no usable answer.
/// Displays as `GET <url>: HTTP 404` or `GET <url>: <cause>`.
#[cfg(feature = "remote")]
#[derive(Clone, Debug)]
pub struct HttpError {
    request: Arc<str>,
    status: Option<u16>,
    error: Option<Arc<ureq::Error>>,
}

#[cfg(feature = "remote")]
impl HttpError {
    /// `request` (method and URL) failed with `status` and/or `error`.
    pub fn new(
        request: impl Into<Arc<str>>,
        status: Option<u16>,
        error: Option<ureq::Error>,
    ) -> Self {
        HttpError {
            request: request.into(),
            status,
            error: error.map(Arc::new),
        }
    }

    /// The method and URL of the request.
    pub fn request(&self) -> &str {
        &self.request
    }

    /// The answer's status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// The HTTP client's error (connection, TLS, timeout, reading the body).
    pub fn error(&self) -> Option<&ureq::Error> {
        self.error.as_deref()
    }
}

#[cfg(feature = "remote")]
impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.error, self.status) {
            (Some(e), _) => write!(f, "{}: {e}", self.request),
            (None, Some(status)) => write!(f, "{}: HTTP {status}", self.request),
            (None, None) => f.write_str(&self.request),
        }
    }
}
