//! The HTTP side of a connection, on hyper: each accepted stream (plain or TLS) is served by
//! hyper's HTTP/1.1 server with upgrades, and every request is routed here — a WebSocket upgrade
//! to [`super::upgrade`], `/health`, `/stats`, `/metrics` and the inspector to their handlers.
//! hyper parses the requests and enforces the head limits (431 past [`MAX_HEAD_BYTES`] or
//! [`MAX_HEADERS`], 400 for a malformed head, the connection dropped after [`HEAD_TIMEOUT`]).

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, UPGRADE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};

use super::*;

/// A response body: whole, or streamed (the inspector's server-sent events).
pub(super) type Body = UnsyncBoxBody<Bytes, Infallible>;
/// A response of the server.
pub(super) type Response = hyper::Response<Body>;

/// hyper's HTTP/1.1 server with this server's limits. One request per connection (as before
/// the move to hyper: plain clients read the answer to the end of the stream).
fn http1_server() -> http1::Builder {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEAD_TIMEOUT)
        .max_buf_size(MAX_HEAD_BYTES)
        .max_headers(MAX_HEADERS)
        .keep_alive(false);
    builder
}

/// Serves one accepted connection until it ends, is upgraded to a WebSocket (which then lives
/// in its own task, holding `guard`), or the server stops accepting.
pub(super) async fn serve_connection(
    shared: Arc<Shared>,
    tcp: TcpStream,
    peer: SocketAddr,
    guard: Arc<ActiveGuard>,
) {
    let mut stopping = shared.stop_accept.subscribe();
    let stream = match &shared.cfg.tls {
        None => ServerStream::Plain(tcp),
        Some(acceptor) => {
            let handshake = tokio::select! {
                h = tokio::time::timeout(HEAD_TIMEOUT, acceptor.accept(tcp)) => h,
                _ = stopping.wait_for(|s| *s) => return,
            };
            match handshake {
                Ok(Ok(tls)) => ServerStream::Tls(Box::new(tls)),
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => return,
            }
        }
    };
    let service = service_fn(move |req| {
        let (shared, guard) = (shared.clone(), guard.clone());
        async move { Ok::<_, Infallible>(route(shared, peer, req, guard).await) }
    });
    let conn = http1_server()
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        done = conn.as_mut() => {
            if let Err(e) = done {
                tracing::debug!(%peer, error = %e, "HTTP connection ended");
            }
        }
        // The watch's guard must not live across the awaits below (it is not Send).
        _ = async { let _ = stopping.wait_for(|s| *s).await; } => {
            // A request in flight (a stats read, an inspector stream) gets to finish.
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(CLOSE_GRACE, conn).await;
        }
    }
}

/// Answers a connection over the limit with 503 (plain text even under TLS: a handshake would
/// cost what the limit protects).
pub(super) async fn refuse_connection(tcp: TcpStream) {
    let service = service_fn(|_req: Request<Incoming>| async {
        Ok::<_, Infallible>(text(503, "too many connections"))
    });
    let conn = http1_server().serve_connection(TokioIo::new(tcp), service);
    let _ = tokio::time::timeout(HEAD_TIMEOUT, conn).await;
}

async fn route(
    shared: Arc<Shared>,
    peer: SocketAddr,
    req: Request<Incoming>,
    guard: Arc<ActiveGuard>,
) -> Response {
    if header_has_token(req.headers(), &UPGRADE, "websocket") {
        return super::upgrade::accept(shared, peer, req, guard).await;
    }
    let path = req.uri().path();
    if path == "/inspector" || path.starts_with("/inspector/") {
        return super::inspector_http::route(shared, req).await;
    }
    if req.method() != Method::GET {
        return text(404, "not found");
    }
    match path {
        "/health" => full(200, "application/json", r#"{"ok":true}"#),
        "/metrics" => match stats_refusal(&shared, &req).await {
            Some(refused) => refused,
            None => {
                let (rooms, clients) = shared.with_state(|st| {
                    let clients = st.rooms.values().map(|r| r.clients.len()).sum::<usize>();
                    (st.rooms.len(), clients)
                });
                let body = shared.metrics.encode(rooms, clients);
                full(200, crate::sync::metrics::CONTENT_TYPE, body)
            }
        },
        "/stats" => match stats_refusal(&shared, &req).await {
            Some(refused) => refused,
            None => full(200, "application/json", stats_json(&shared)),
        },
        _ => text(404, "not found"),
    }
}

/// The refusal to answer when the auth hook does not let this request read the server's
/// figures (`/stats`, `/metrics`), or `None` when it does.
pub(super) async fn stats_refusal<B>(shared: &Shared, req: &Request<B>) -> Option<Response> {
    stats_check(shared, req)
        .await
        .err()
        .map(|(status, reason)| text(status, &reason))
}

/// Whether the auth hook lets this request read the server's figures: the refusal's status
/// and reason when not.
pub(super) async fn stats_check<B>(shared: &Shared, req: &Request<B>) -> Result<(), (u16, String)> {
    let request = AuthRequest {
        purpose: AuthPurpose::Stats,
        url: req.uri().to_string(),
        path: String::new(),
        client_id: String::new(),
        headers: header_pairs(req.headers()),
    };
    match run_auth(shared, request).await {
        AuthDecision::Reject { status, reason } => {
            Err((reject_status(status), clean_line(&reason)))
        }
        _ => Ok(()),
    }
}

/// A whole response.
pub(super) fn full(status: u16, content_type: &str, body: impl Into<Bytes>) -> Response {
    let body = Full::new(body.into()).boxed_unsync();
    let mut response = hyper::Response::new(body);
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    if let Ok(value) = HeaderValue::from_str(content_type) {
        response.headers_mut().insert(CONTENT_TYPE, value);
    }
    response
}

/// A plain-text response.
pub(super) fn text(status: u16, text: &str) -> Response {
    full(status, "text/plain; charset=utf-8", text.to_string())
}

/// The canonical reason of a status ("Conflict" for 409), for plain refusals.
pub(super) fn status_text(status: u16) -> &'static str {
    StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error")
}

/// Every header as a `(lowercase name, value)` pair, values decoded lossily: what the
/// [`AuthHook`] sees.
pub(super) fn header_pairs(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_string(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// Whether a comma-separated header (`Connection: keep-alive, Upgrade`) holds `token`.
pub(super) fn header_has_token(headers: &HeaderMap, name: &HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|v| {
        String::from_utf8_lossy(v.as_bytes())
            .split(',')
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    })
}

/// `ws`'s key check: base64 of 16 bytes. It also keeps ids like `S` or empty ones, which
/// would impersonate the room peer or a broadcast, out of rooms.
pub(super) fn is_valid_key(key: &str) -> bool {
    let b = key.as_bytes();
    b.len() == 24
        && b[..22]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'+' || *c == b'/')
        && &b[22..] == b"=="
}

pub(super) fn stats_json(shared: &Shared) -> String {
    let st = shared.state.lock();
    let rooms: Vec<Json> = st
        .rooms
        .iter()
        .map(|(path, room)| {
            serde_json::json!({
                "path": path,
                "clients": room.clients.len(),
                "peer": room.peer_inbox.is_some(),
            })
        })
        .collect();
    serde_json::json!({
        "paths": st.rooms.len(),
        "clients": st.rooms.values().map(|r| r.clients.len()).sum::<usize>(),
        "rooms": rooms,
        "framesIn": shared.frames_in.load(Ordering::Relaxed),
        "framesOut": shared.frames_out.load(Ordering::Relaxed),
        "closedInvalid": st.closed_invalid,
        "closedOverflow": st.closed_overflow,
    })
    .to_string()
}

pub(super) async fn run_auth(shared: &Shared, request: AuthRequest) -> AuthDecision {
    let Some(auth) = shared.cfg.auth.clone() else {
        return AuthDecision::Accept;
    };
    let purpose = match request.purpose {
        AuthPurpose::Join => "join",
        AuthPurpose::Stats => "stats",
    };
    let decision = match tokio::task::spawn_blocking(move || auth(&request)).await {
        Ok(decision) => decision,
        Err(_) => {
            tracing::warn!("sync server: auth hook panicked");
            AuthDecision::Reject {
                status: 500,
                reason: "internal error".to_string(),
            }
        }
    };
    if matches!(decision, AuthDecision::Reject { .. }) {
        shared.metrics.auth_rejected(purpose);
    }
    decision
}

/// The HTTP status of a rejection: the hook's if it is an error status, else 403.
pub(super) fn reject_status(status: u16) -> u16 {
    if (400..=599).contains(&status) {
        status
    } else {
        403
    }
}

pub(super) fn clean_line(text: &str) -> String {
    text.chars().filter(|c| *c != '\r' && *c != '\n').collect()
}
