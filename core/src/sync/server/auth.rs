//! Who may join which room: what the server asks its [`AuthHook`] ([`AuthRequest`]) and
//! what the hook answers ([`AuthDecision`]).

use std::sync::Arc;

/// What the [`AuthHook`] is asked about.
///
/// ```no_run
/// use std::sync::Arc;
/// use tinystore_core::sync::server::{AuthDecision, AuthPurpose, AuthRequest};
/// use tinystore_core::sync::server::{ServerConfig, WsServer};
///
/// let auth = Arc::new(|req: &AuthRequest| match req.purpose {
///     AuthPurpose::Join if req.path.starts_with("public/") => AuthDecision::ReadOnly,
///     _ => AuthDecision::Reject { status: 403, reason: "public rooms only".into() },
/// });
/// let server = WsServer::start(ServerConfig { auth: Some(auth), ..ServerConfig::default() })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuthRequest {
    /// What the client asks for.
    pub purpose: AuthPurpose,
    /// The request target as sent (path and query string), e.g. to read a `?token=` parameter,
    /// which browsers' WebSockets can send where they cannot set headers.
    pub url: String,
    /// The room: the path id of a legacy socket, or the channel's path of a multiplexed one
    /// (empty for [`AuthPurpose::Stats`]).
    pub path: String,
    /// The client id (the socket's `Sec-WebSocket-Key`).
    pub client_id: String,
    /// Every HTTP header of the upgrade request, names lowercased, in request order.
    pub headers: Vec<(String, String)>,
}

/// What an [`AuthRequest`] asks for.
///
/// ```
/// use std::sync::Arc;
/// use tinystore_core::sync::server::{AuthDecision, AuthPurpose, AuthRequest, ServerConfig};
///
/// // Everyone may join; only local tools may read `/stats`.
/// let auth = Arc::new(|req: &AuthRequest| match req.purpose {
///     AuthPurpose::Stats if req.header("x-ops") != Some("1") => {
///         AuthDecision::Reject { status: 403, reason: "ops only".into() }
///     }
///     _ => AuthDecision::Accept,
/// });
/// let config = ServerConfig { auth: Some(auth), ..ServerConfig::default() };
/// # let _ = config;
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthPurpose {
    /// To join the room `path` (read-write or read-only, as the hook decides).
    Join,
    /// To read `GET /stats` (room paths and counts); `ReadOnly` suffices.
    Stats,
}

impl AuthRequest {
    /// The value of the query parameter `name` in [`AuthRequest::url`] (not percent-decoded;
    /// tokens are expected to be URL-safe).
    ///
    /// ```no_run
    /// use std::io::{Read, Write};
    /// use std::sync::Arc;
    /// use tinystore_core::sync::server::{AuthDecision, AuthRequest, ServerConfig, WsServer};
    ///
    /// let server = WsServer::start(ServerConfig {
    ///     addr: "127.0.0.1:0".parse()?,
    ///     auth: Some(Arc::new(|req: &AuthRequest| match req.query_param("token") {
    ///         Some("s3cret") => AuthDecision::ReadOnly,
    ///         _ => AuthDecision::Reject { status: 401, reason: "token required".into() },
    ///     })),
    ///     ..ServerConfig::default()
    /// })?;
    /// let mut http = std::net::TcpStream::connect(server.local_addr())?;
    /// http.write_all(b"GET /stats?token=s3cret HTTP/1.1\r\nHost: localhost\r\n\r\n")?;
    /// let mut reply = [0; 12];
    /// http.read_exact(&mut reply)?;
    /// assert_eq!(&reply, b"HTTP/1.1 200");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn query_param(&self, name: &str) -> Option<&str> {
        let query = self.url.split_once('?')?.1;
        let query = query.split('#').next().unwrap_or("");
        query
            .split('&')
            .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    }

    /// The first header named `name` (give it lowercased).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tinystore_core::sync::server::{AuthDecision, AuthHook, AuthRequest};
    ///
    /// let auth: AuthHook = Arc::new(|req: &AuthRequest| match req.header("authorization") {
    ///     Some("Bearer s3cret") => AuthDecision::Accept,
    ///     Some(_) => AuthDecision::Reject { status: 403, reason: "unknown token".into() },
    ///     None => AuthDecision::ReadOnly,
    /// });
    /// # let _ = auth;
    /// ```
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The [`AuthHook`]'s answer.
///
/// ```
/// use std::sync::Arc;
/// use tinystore_core::sync::server::{AuthDecision, AuthRequest, ServerConfig};
///
/// let auth = Arc::new(|req: &AuthRequest| {
///     if req.path == "announcements" {
///         AuthDecision::ReadOnly
///     } else if req.query_param("token") == Some("s3cret") {
///         AuthDecision::Accept
///     } else {
///         AuthDecision::Reject { status: 401, reason: "a token is required".into() }
///     }
/// });
/// let config = ServerConfig { auth: Some(auth), ..ServerConfig::default() };
/// # let _ = config;
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthDecision {
    /// Full access.
    Accept,
    /// The client may read: its ContentHashes, ContentDiffs and diff Responses are dropped,
    /// its requests are relayed.
    ReadOnly,
    /// No access: a legacy upgrade is answered with this HTTP status (400–599, else 403) and
    /// reason as the body; a multiplexed Subscribe closes the socket with 1008 and the reason.
    Reject {
        /// The HTTP status.
        status: u16,
        /// Why (sent to the client).
        reason: String,
    },
}

/// Decides who may join which room. Runs on a blocking-capable thread (it may look things up);
/// a panic counts as a rejection with status 500.
pub type AuthHook = Arc<dyn Fn(&AuthRequest) -> AuthDecision + Send + Sync>;
