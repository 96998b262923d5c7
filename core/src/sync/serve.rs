//! "A sync server with rooms" in one call: what `tinystore serve`, `tinystore demo`, the C ABI
//! (`tinystore_ws_server_new`) and the bindings (`create_ws_server`) all start. [`serve`] turns
//! [`ServeOptions`] (a host name or address, timeouts, where rooms live, limits, auth, TLS)
//! into a running [`WsServer`]; each caller only maps its own arguments onto the options.
//!
//! ```
//! use tinystore_core::sync::serve::{Rooms, ServeOptions, serve};
//! let server = serve(ServeOptions { port: 0, rooms: Rooms::Memory, ..ServeOptions::default() })
//!     .unwrap();
//! assert!(server.port() > 0);
//! server.shutdown();
//! ```

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::metrics::SyncMetrics;
use super::rooms::{self, RoomOptions};
use super::server::{
    AuthDecision, AuthHook, AuthRequest, InspectorMode, ServerConfig, ServerError, TlsError,
    TlsIdentity, TraceHook, WsServer,
};
use super::tokens::{TokenAuth, TokenFileError};
use crate::error_kind::{Classify, ErrorArea, ErrorKind};
use crate::persist::PersistError;

/// The host [`ServeOptions`] listens on by default.
pub const DEFAULT_HOST: &str = "127.0.0.1";

/// Where a server's rooms keep their content.
///
/// ```
/// use tinystore_core::sync::serve::{Rooms, ServeOptions};
///
/// assert_eq!(ServeOptions::default().rooms, Rooms::Relay);
/// assert_eq!(Rooms::from_db("rooms.sqlite"), Rooms::Sqlite("rooms.sqlite".into()));
/// let options = ServeOptions { rooms: Rooms::Memory, ..ServeOptions::default() };
/// # let _ = options;
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Rooms {
    /// No room stores: the server only relays between clients.
    #[default]
    Relay,
    /// Each room keeps a MergeableStore in memory while it has clients.
    Memory,
    /// Each room is persisted to this SQLite database (a JSON-mode table per room).
    Sqlite(PathBuf),
    /// Each room is persisted to the PostgreSQL database at this URL (a JSON-mode table per
    /// room), shared with any other server processes on it (see `docs/scale-out.md`).
    Postgres(String),
}

impl Rooms {
    /// The rooms a `--db` argument names: a `postgres://` or `postgresql://` URL, else an SQLite
    /// file path.
    ///
    /// ```
    /// use tinystore_core::sync::serve::Rooms;
    /// assert_eq!(Rooms::from_db("rooms.sqlite"), Rooms::Sqlite("rooms.sqlite".into()));
    /// assert!(matches!(Rooms::from_db("postgres://u@h/db"), Rooms::Postgres(_)));
    /// ```
    pub fn from_db(db: &str) -> Rooms {
        if db.starts_with("postgres://") || db.starts_with("postgresql://") {
            Rooms::Postgres(db.to_string())
        } else {
            Rooms::Sqlite(db.into())
        }
    }
}

/// A certificate chain and its private key (PEM files) to serve `wss://` with.
///
/// ```
/// use tinystore_core::sync::serve::{ServeError, ServeOptions, TlsFiles, serve};
///
/// let dir = std::env::temp_dir().join("tinystore-doc-no-such-certs");
/// let tls = TlsFiles { cert: dir.join("cert.pem"), key: dir.join("key.pem") };
/// // The files are read before anything listens: missing ones are an error at once.
/// let refused = serve(ServeOptions { tls: Some(tls), ..ServeOptions::default() });
/// assert!(matches!(refused, Err(ServeError::Tls(_))));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, leaf first.
    pub cert: PathBuf,
    /// Its private key.
    pub key: PathBuf,
}

/// How [`serve`] starts a server. `Default`: `127.0.0.1`, port 0, relay only, TinyBase's
/// 1 s request timeout, 1 s room save interval, no limits beyond the server's defaults.
///
/// ```no_run
/// use std::time::Duration;
/// use tinystore_core::sync::serve::{Rooms, ServeOptions, serve};
///
/// let server = serve(ServeOptions {
///     host: "localhost".into(),
///     port: 8043,
///     rooms: Rooms::Sqlite("rooms.sqlite".into()),
///     auth_tokens: Some("tokens.json".into()),
///     max_rooms: Some(1000),
///     save_interval: Duration::from_millis(200),
///     ..ServeOptions::default()
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct ServeOptions {
    /// An IP address or a host name (`localhost`; `[::1]` with or without brackets).
    pub host: String,
    /// The port (0: the system picks one; see [`WsServer::port`]).
    pub port: u16,
    /// Where rooms keep their content.
    pub rooms: Rooms,
    /// TinyBase's `requestTimeoutSeconds`, for the server and its room synchronizers.
    pub request_timeout: Duration,
    /// Split the room stores' messages into fragments of at most this many bytes.
    pub fragment_size: Option<usize>,
    /// A token file ([`TokenAuth`]) clients must present a token of; `None`: no auth.
    pub auth_tokens: Option<PathBuf>,
    /// An [`AuthHook`] deciding who may join which room (an embedding app's own policy). With
    /// `auth_tokens` too, a client needs both: the hook is asked only about requests the
    /// token file lets in, and cannot widen a read-only token.
    pub auth: Option<AuthHook>,
    /// The most rooms open at once; `None`: no limit.
    pub max_rooms: Option<usize>,
    /// The most connections open at once (sockets and plain HTTP requests; past it a
    /// connection gets 503); `None`: the server's default, 10,000.
    pub max_connections: Option<usize>,
    /// Serve `wss://` with this certificate; `None`: plain `ws://`.
    pub tls: Option<TlsFiles>,
    /// Persisted rooms save at most once per this interval (zero: after every change).
    pub save_interval: Duration,
    /// Observes every socket and frame (the CLI's `--trace`).
    pub on_trace: Option<TraceHook>,
    /// Whether `/inspector` is served and may edit rooms (the CLI's `--no-inspector` and
    /// `--inspector-write`). Default [`InspectorMode::ReadOnly`].
    pub inspector: InspectorMode,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            host: DEFAULT_HOST.to_string(),
            port: 0,
            rooms: Rooms::Relay,
            request_timeout: super::synchronizer::DEFAULT_REQUEST_TIMEOUT,
            fragment_size: None,
            auth_tokens: None,
            auth: None,
            max_rooms: None,
            max_connections: None,
            tls: None,
            save_interval: rooms::DEFAULT_SAVE_INTERVAL,
            on_trace: None,
            inspector: InspectorMode::default(),
        }
    }
}

impl std::fmt::Debug for ServeOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeOptions")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("rooms", &self.rooms)
            .field("request_timeout", &self.request_timeout)
            .field("fragment_size", &self.fragment_size)
            .field("auth_tokens", &self.auth_tokens)
            .field("auth", &self.auth.is_some())
            .field("max_rooms", &self.max_rooms)
            .field("max_connections", &self.max_connections)
            .field("tls", &self.tls)
            .field("save_interval", &self.save_interval)
            .field("on_trace", &self.on_trace.is_some())
            .field("inspector", &self.inspector)
            .finish()
    }
}

/// `url` with any password replaced by `***`, for messages.
#[cfg(feature = "postgres")]
fn without_password(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// Why [`serve`] could not start a server.
///
/// ```
/// use tinystore_core::sync::serve::{Rooms, ServeError, ServeOptions, serve};
///
/// let db = std::env::temp_dir().join("tinystore-doc-no-such-dir").join("rooms.sqlite");
/// let refused = serve(ServeOptions { rooms: Rooms::Sqlite(db), ..ServeOptions::default() });
/// assert!(matches!(refused, Err(ServeError::Database { .. })));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The host is not an address and does not resolve to one.
    #[error("host {host:?} does not resolve: {reason}")]
    Host {
        /// The host as given.
        host: String,
        /// Why.
        reason: String,
    },
    /// The rooms' database could not be opened or is not usable.
    #[error("cannot open database {db}: {source}")]
    Database {
        /// The database path or URL (without a password).
        db: String,
        /// Why.
        #[source]
        source: PersistError,
    },
    /// The token file could not be used.
    #[error(transparent)]
    Tokens(#[from] TokenFileError),
    /// The certificate or key could not be used.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The server could not listen.
    #[error(transparent)]
    Start(#[from] ServerError),
    /// Persisted rooms need the `sqlite` feature.
    #[error("persisted rooms need the sqlite feature")]
    NoSqlite,
    /// Rooms in PostgreSQL need the `postgres` feature.
    #[error("rooms in PostgreSQL need the postgres feature")]
    NoPostgres,
}

impl Classify for ServeError {
    fn error_kind(&self) -> ErrorKind {
        match self {
            ServeError::Database { source, .. } => source.error_kind(),
            ServeError::Start(e) => e.error_kind(),
            ServeError::Tokens(TokenFileError::Io { .. }) => ErrorKind::Storage,
            ServeError::NoSqlite | ServeError::NoPostgres => ErrorKind::Unsupported,
            _ => ErrorKind::InvalidArgument,
        }
    }
    fn error_area(&self) -> ErrorArea {
        match self {
            ServeError::Database { source, .. } => source.error_area(),
            _ => ErrorArea::Server,
        }
    }
}

/// The first address `host` (an IP address or a host name; IPv6 with or without brackets,
/// surrounding spaces ignored) and `port` resolve to.
///
/// ```
/// use tinystore_core::sync::serve::resolve;
///
/// assert_eq!(resolve("127.0.0.1", 8043)?, "127.0.0.1:8043".parse()?);
/// assert_eq!(resolve(" [::1] ", 8043)?, "[::1]:8043".parse()?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn resolve(host: &str, port: u16) -> Result<SocketAddr, ServeError> {
    let host = host.trim();
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let fail = |reason: String| ServeError::Host {
        host: host.to_string(),
        reason,
    };
    (bare, port)
        .to_socket_addrs()
        .map_err(|e| fail(e.to_string()))?
        .next()
        .ok_or_else(|| fail("no address".into()))
}

/// The token file's decision, narrowed by the app's hook: the most restrictive of the two.
fn both(tokens: AuthHook, hook: AuthHook) -> AuthHook {
    Arc::new(move |request: &AuthRequest| match tokens(request) {
        AuthDecision::Accept => hook(request),
        AuthDecision::ReadOnly => match hook(request) {
            AuthDecision::Accept => AuthDecision::ReadOnly,
            other => other,
        },
        rejected => rejected,
    })
}

/// Starts a server with rooms as `options` say; it runs on threads of its own until
/// [`WsServer::shutdown`] (which saves every persisted room).
///
/// ```no_run
/// use tinystore_core::sync::serve::{Rooms, ServeOptions, serve};
///
/// let server = serve(ServeOptions {
///     host: "0.0.0.0".into(),
///     port: 8043,
///     rooms: Rooms::from_db("rooms.sqlite"),
///     ..ServeOptions::default()
/// })?;
/// println!("serving ws://0.0.0.0:{}/<room>", server.port());
/// server.shutdown();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn serve(options: ServeOptions) -> Result<WsServer, ServeError> {
    let addr = resolve(&options.host, options.port)?;
    let tokens = options
        .auth_tokens
        .as_ref()
        .map(|file| TokenAuth::from_file(file).map(TokenAuth::hook))
        .transpose()?;
    let auth = match (tokens, options.auth.clone()) {
        (Some(tokens), Some(hook)) => Some(both(tokens, hook)),
        (tokens, hook) => tokens.or(hook),
    };
    let tls = options
        .tls
        .as_ref()
        .map(|TlsFiles { cert, key }| TlsIdentity::from_pem_files(cert, key))
        .transpose()?;
    let metrics = Arc::new(SyncMetrics::new());
    let room_options = RoomOptions {
        request_timeout: options.request_timeout,
        save_interval: options.save_interval,
        metrics: Some(metrics.clone()),
        ..RoomOptions::default()
    };
    let peer_factory =
        match &options.rooms {
            Rooms::Relay => None,
            Rooms::Memory => Some(rooms::memory_rooms(room_options)),
            #[cfg(feature = "sqlite")]
            Rooms::Sqlite(db) => Some(rooms::sqlite_rooms(db, room_options).map_err(|source| {
                ServeError::Database {
                    db: db.display().to_string(),
                    source,
                }
            })?),
            #[cfg(feature = "postgres")]
            Rooms::Postgres(url) => {
                Some(rooms::postgres_rooms(url, room_options).map_err(|source| {
                    ServeError::Database {
                        db: without_password(url),
                        source,
                    }
                })?)
            }
            #[cfg(not(feature = "postgres"))]
            Rooms::Postgres(_) => return Err(ServeError::NoPostgres),
            #[cfg(not(feature = "sqlite"))]
            Rooms::Sqlite(_) => return Err(ServeError::NoSqlite),
        };
    let defaults = ServerConfig::default();
    // Every field is set (no `..defaults`), so that a new one is a compile error here.
    Ok(WsServer::start(ServerConfig {
        addr,
        request_timeout: options.request_timeout,
        fragment_size: options.fragment_size,
        peer_factory,
        on_trace: options.on_trace,
        auth,
        max_rooms: options.max_rooms,
        max_connections: options.max_connections.unwrap_or(defaults.max_connections),
        tls,
        metrics: Some(metrics),
        inspector: options.inspector,
    })?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_file_and_hook_together_take_the_narrower_decision() {
        let request = AuthRequest {
            purpose: super::super::server::AuthPurpose::Join,
            url: "/room".into(),
            path: "room".into(),
            client_id: "k".into(),
            headers: Vec::new(),
        };
        let fixed = |d: AuthDecision| -> AuthHook { Arc::new(move |_: &AuthRequest| d.clone()) };
        let reject = AuthDecision::Reject {
            status: 403,
            reason: "no".into(),
        };
        let cases = [
            (
                AuthDecision::Accept,
                AuthDecision::Accept,
                AuthDecision::Accept,
            ),
            (
                AuthDecision::Accept,
                AuthDecision::ReadOnly,
                AuthDecision::ReadOnly,
            ),
            (
                AuthDecision::ReadOnly,
                AuthDecision::Accept,
                AuthDecision::ReadOnly,
            ),
            (AuthDecision::Accept, reject.clone(), reject.clone()),
            (reject.clone(), AuthDecision::Accept, reject.clone()),
            (AuthDecision::ReadOnly, reject.clone(), reject.clone()),
        ];
        for (tokens, hook, expected) in cases {
            assert_eq!(both(fixed(tokens), fixed(hook))(&request), expected);
        }
    }

    #[test]
    fn hosts_resolve_by_name_and_address() {
        assert!(resolve("localhost", 1).unwrap().ip().is_loopback());
        assert_eq!(resolve(" [::1] ", 2).unwrap(), "[::1]:2".parse().unwrap());
        assert_eq!(resolve("::1", 2).unwrap(), "[::1]:2".parse().unwrap());
        let e = resolve("no such host.invalid", 3).unwrap_err();
        assert_eq!(
            (e.error_kind(), e.error_area()),
            (ErrorKind::InvalidArgument, ErrorArea::Server)
        );
    }

    #[test]
    fn database_errors_keep_their_persist_kind() {
        let options = ServeOptions {
            rooms: Rooms::Sqlite("/nonexistent/dir/rooms.sqlite".into()),
            ..ServeOptions::default()
        };
        let e = serve(options).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("cannot open database /nonexistent")
        );
        assert_eq!(
            (e.error_kind(), e.error_area()),
            (ErrorKind::Storage, ErrorArea::Persist)
        );
    }

    #[test]
    fn a_taken_port_is_a_server_network_error() {
        let first = serve(ServeOptions::default()).unwrap();
        let again = ServeOptions {
            port: first.port(),
            ..ServeOptions::default()
        };
        let e = serve(again).unwrap_err();
        assert_eq!(
            (e.error_kind(), e.error_area()),
            (ErrorKind::Network, ErrorArea::Server)
        );
        first.shutdown();
    }
}
