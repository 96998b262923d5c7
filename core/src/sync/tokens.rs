//! Bearer-token authorization for [`WsServer`](super::server::WsServer): a file maps each token
//! to the rooms it may read or write, and whether it may read `GET /stats`. This is what
//! `tinystore serve --auth-tokens FILE` uses; embedders may use it as their [`AuthHook`] too.
//!
//! The file is JSON:
//!
//! ```json
//! {
//!   "tokens": {
//!     "s3cret-writer": {"rooms": ["petShop", "team/*"], "access": "read-write"},
//!     "viewer":        {"rooms": ["*"], "access": "read"},
//!     "ops":           {"rooms": [], "stats": true}
//!   }
//! }
//! ```
//!
//! A room pattern is a path, or a prefix followed by `*` (`*` alone: every room). A client
//! presents its token as `Authorization: Bearer <token>` or, since browsers' WebSockets cannot
//! set headers, as the query parameter `?token=<token>` of the URL (the room is the path without
//! the query, so both forms join the same room). Unknown or missing tokens are refused with 401,
//! a known token outside its rooms with 403.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;

use super::server::{AuthDecision, AuthHook, AuthPurpose, AuthRequest};

/// Largest token file read (it is configuration, not data).
const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// What one token may do.
///
/// ```
/// use tinystore_core::sync::tokens::{Grant, TokenAuth};
///
/// let auth = TokenAuth::from_json(r#"{"tokens": {"viewer": {"rooms": ["*"]}}}"#)?;
/// let grant = Grant { rooms: vec!["*".into()], write: false, stats: false };
/// assert_eq!(auth.grant("viewer"), Some(&grant));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    /// Room patterns: exact paths, or prefixes ending in `*`.
    pub rooms: Vec<String>,
    /// Whether the token may write (else its writes are dropped, as a read-only client's).
    pub write: bool,
    /// Whether the token may read `GET /stats`.
    pub stats: bool,
}

impl Grant {
    fn covers(&self, path: &str) -> bool {
        self.rooms.iter().any(|p| match p.strip_suffix('*') {
            Some(prefix) => path.starts_with(prefix),
            None => p == path,
        })
    }
}

/// Tokens and their grants; see the [module documentation](self).
///
/// ```
/// use tinystore_core::sync::tokens::TokenAuth;
/// let auth = TokenAuth::from_json(
///     r#"{"tokens": {"t1": {"rooms": ["pets/*"], "access": "read-write"}}}"#,
/// ).unwrap();
/// assert!(auth.grant("t1").unwrap().write);
/// let _hook = auth.hook();
/// ```
#[derive(Clone, Debug, Default)]
pub struct TokenAuth {
    tokens: HashMap<String, Grant>,
}

/// Why a token file could not be used.
///
/// ```
/// use tinystore_core::sync::tokens::{TokenAuth, TokenFileError};
///
/// let admin = TokenAuth::from_json(r#"{"tokens": {"t1": {"access": "admin"}}}"#);
/// assert!(matches!(admin, Err(TokenFileError::Invalid(_))));
/// let file = std::env::temp_dir().join("tinystore-doc-no-such-tokens.json");
/// let missing = TokenAuth::from_file(file);
/// assert!(matches!(missing, Err(TokenFileError::Io { .. })));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenFileError {
    /// The file could not be read.
    #[error("cannot read {file}: {source}")]
    Io {
        /// The file.
        file: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The file is larger than any token file needs to be.
    #[error("{0}: larger than 16 MiB")]
    TooLarge(String),
    /// The JSON is malformed or not in the documented shape.
    #[error("invalid token file: {0}")]
    Invalid(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileForm {
    tokens: HashMap<String, GrantForm>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantForm {
    #[serde(default)]
    rooms: Vec<String>,
    #[serde(default)]
    access: Option<String>,
    #[serde(default)]
    stats: bool,
}

impl TokenAuth {
    /// Reads a token file.
    ///
    /// ```
    /// use tinystore_core::sync::tokens::TokenAuth;
    ///
    /// let name = format!("tinystore-doc-tokens-{}.json", std::process::id());
    /// let file = std::env::temp_dir().join(name);
    /// std::fs::write(&file, r#"{"tokens": {"ops": {"stats": true}}}"#)?;
    /// let auth = TokenAuth::from_file(&file);
    /// std::fs::remove_file(&file)?;
    /// assert!(auth?.grant("ops").unwrap().stats);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_file(path: impl AsRef<Path>) -> Result<TokenAuth, TokenFileError> {
        use std::io::Read;
        let path = path.as_ref();
        let io = |source| TokenFileError::Io {
            file: path.display().to_string(),
            source,
        };
        let mut text = String::new();
        std::fs::File::open(path)
            .map_err(io)?
            .take(MAX_FILE_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(io)?;
        if text.len() as u64 > MAX_FILE_BYTES {
            return Err(TokenFileError::TooLarge(path.display().to_string()));
        }
        TokenAuth::from_json(&text)
    }

    /// Parses a token file's text.
    ///
    /// ```
    /// use tinystore_core::sync::tokens::TokenAuth;
    ///
    /// let text = r#"{"tokens": {"w": {"rooms": ["team/*"], "access": "read-write"}}}"#;
    /// let grant = TokenAuth::from_json(text)?.grant("w").cloned().unwrap();
    /// assert_eq!(grant.rooms, ["team/*"]);
    /// assert!(grant.write && !grant.stats);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_json(text: &str) -> Result<TokenAuth, TokenFileError> {
        let form: FileForm =
            serde_json::from_str(text).map_err(|e| TokenFileError::Invalid(e.to_string()))?;
        let mut tokens = HashMap::new();
        for (token, g) in form.tokens {
            if token.is_empty() {
                return Err(TokenFileError::Invalid("a token is empty".into()));
            }
            let write = match g.access.as_deref() {
                None | Some("read") => false,
                Some("read-write") => true,
                Some(other) => {
                    return Err(TokenFileError::Invalid(format!(
                        "access {other:?} of a token: expected \"read\" or \"read-write\""
                    )));
                }
            };
            tokens.insert(
                token,
                Grant {
                    rooms: g.rooms,
                    write,
                    stats: g.stats,
                },
            );
        }
        Ok(TokenAuth { tokens })
    }

    /// The grant of `token`, if it is known.
    ///
    /// ```
    /// use tinystore_core::sync::tokens::TokenAuth;
    ///
    /// let auth = TokenAuth::from_json(r#"{"tokens": {"viewer": {"rooms": ["*"]}}}"#)?;
    /// assert!(!auth.grant("viewer").unwrap().write);
    /// assert!(auth.grant("intruder").is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn grant(&self, token: &str) -> Option<&Grant> {
        self.tokens.get(token)
    }

    /// The decision for one request.
    ///
    /// ```no_run
    /// use std::sync::Arc;
    /// use tinystore_core::sync::server::{AuthDecision, AuthHook, AuthRequest};
    /// use tinystore_core::sync::server::{ServerConfig, WsServer};
    /// use tinystore_core::sync::tokens::TokenAuth;
    ///
    /// let tokens = TokenAuth::from_file("tokens.json")?;
    /// // The lobby is open to everyone; other rooms need a token.
    /// let auth: AuthHook = Arc::new(move |req: &AuthRequest| match req.path.as_str() {
    ///     "lobby" => AuthDecision::ReadOnly,
    ///     _ => tokens.decide(req),
    /// });
    /// let server = WsServer::start(ServerConfig { auth: Some(auth), ..ServerConfig::default() })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn decide(&self, request: &AuthRequest) -> AuthDecision {
        let presented = request
            .header("authorization")
            .and_then(|h| {
                let (scheme, token) = h.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .or_else(|| request.query_param("token"));
        let Some(grant) = presented.and_then(|t| self.tokens.get(t)) else {
            return AuthDecision::Reject {
                status: 401,
                reason: "a valid token is required".into(),
            };
        };
        let forbidden = |what: &str| AuthDecision::Reject {
            status: 403,
            reason: format!("this token may not {what}"),
        };
        match request.purpose {
            AuthPurpose::Stats if grant.stats => AuthDecision::ReadOnly,
            AuthPurpose::Stats => forbidden("read /stats"),
            _ if !grant.covers(&request.path) => forbidden("join this room"),
            _ if grant.write => AuthDecision::Accept,
            _ => AuthDecision::ReadOnly,
        }
    }

    /// This file as the server's [`AuthHook`].
    ///
    /// ```no_run
    /// use tinystore_core::sync::server::{ServerConfig, WsServer};
    /// use tinystore_core::sync::tokens::TokenAuth;
    ///
    /// let auth = TokenAuth::from_file("tokens.json")?.hook();
    /// let server = WsServer::start(ServerConfig { auth: Some(auth), ..ServerConfig::default() })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn hook(self) -> AuthHook {
        let auth = Arc::new(self);
        Arc::new(move |request: &AuthRequest| auth.decide(request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(purpose: AuthPurpose, url: &str, headers: &[(&str, &str)]) -> AuthRequest {
        let path = url
            .trim_start_matches('/')
            .split('?')
            .next()
            .unwrap_or("")
            .to_string();
        AuthRequest {
            purpose,
            url: url.to_string(),
            path: if purpose == AuthPurpose::Stats {
                String::new()
            } else {
                path
            },
            client_id: "k".into(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn grants_by_room_access_and_stats() {
        let auth = TokenAuth::from_json(
            r#"{"tokens": {
                "w": {"rooms": ["petShop", "team/*"], "access": "read-write"},
                "r": {"rooms": ["*"], "access": "read"},
                "ops": {"stats": true}
            }}"#,
        )
        .unwrap();
        let join = AuthPurpose::Join;
        let bearer = |t: &'static str| [("authorization", t)];
        assert_eq!(
            auth.decide(&request(join, "/petShop", &bearer("Bearer w"))),
            AuthDecision::Accept
        );
        assert_eq!(
            auth.decide(&request(join, "/team/a?token=w", &[])),
            AuthDecision::Accept
        );
        assert!(matches!(
            auth.decide(&request(join, "/other", &bearer("Bearer w"))),
            AuthDecision::Reject { status: 403, .. }
        ));
        assert_eq!(
            auth.decide(&request(join, "/other?x=1&token=r", &[])),
            AuthDecision::ReadOnly
        );
        assert!(matches!(
            auth.decide(&request(join, "/petShop", &[])),
            AuthDecision::Reject { status: 401, .. }
        ));
        assert!(matches!(
            auth.decide(&request(join, "/petShop?token=nope", &[])),
            AuthDecision::Reject { status: 401, .. }
        ));
        assert!(matches!(
            auth.decide(&request(AuthPurpose::Stats, "/stats?token=w", &[])),
            AuthDecision::Reject { status: 403, .. }
        ));
        assert_eq!(
            auth.decide(&request(
                AuthPurpose::Stats,
                "/stats",
                &bearer("bearer ops")
            )),
            AuthDecision::ReadOnly
        );
    }

    #[test]
    fn malformed_files_are_errors() {
        for text in [
            "",
            "[]",
            r#"{"tokens": {"a": {"access": "admin"}}}"#,
            r#"{"tokens": {"": {}}}"#,
            r#"{"tokens": {"a": {"room": ["x"]}}}"#,
            r#"{"tokenz": {}}"#,
        ] {
            assert!(
                matches!(TokenAuth::from_json(text), Err(TokenFileError::Invalid(_))),
                "{text}"
            );
        }
        assert!(matches!(
            TokenAuth::from_file("/nonexistent/tokens.json"),
            Err(TokenFileError::Io { .. })
        ));
    }
}
