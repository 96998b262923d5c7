//! The WebSocket upgrade of a request hyper parsed: the checks `ws` makes (and their HTTP
//! statuses), the subprotocol, the auth hook for legacy sockets, joining the room, the 101
//! answer, and the hand-over of the upgraded connection to [`run_socket`].

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::header::{
    CONNECTION, HeaderValue, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_PROTOCOL,
    SEC_WEBSOCKET_VERSION, UPGRADE,
};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;

use super::http::{Response, header_has_token, header_pairs, status_text, text};
use super::*;

pub(super) async fn accept(
    shared: Arc<Shared>,
    peer: SocketAddr,
    mut req: Request<Incoming>,
    guard: Arc<ActiveGuard>,
) -> Response {
    let headers = req.headers();
    if req.method() != hyper::Method::GET || !header_has_token(headers, &CONNECTION, "upgrade") {
        return text(400, "bad websocket upgrade");
    }
    let version = headers
        .get(SEC_WEBSOCKET_VERSION)
        .map(|v| v.as_bytes().trim_ascii());
    if version != Some(b"13") {
        let mut refused = text(426, "unsupported websocket version");
        refused
            .headers_mut()
            .insert(SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13"));
        return refused;
    }
    let Some(client_id) = headers
        .get(SEC_WEBSOCKET_KEY)
        .and_then(|k| k.to_str().ok())
        .map(str::trim)
        .filter(|k| is_valid_key(k))
        .map(str::to_string)
    else {
        return text(400, "missing or invalid Sec-WebSocket-Key");
    };
    let url = req.uri().to_string();
    let Some(path) = path_id_of_url(&url).map(str::to_string) else {
        return text(400, "bad path");
    };
    let offered: Vec<String> = headers
        .get_all(SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .flat_map(|v| {
            String::from_utf8_lossy(v.as_bytes())
                .split(',')
                .map(|p| p.trim().to_string())
                .collect::<Vec<_>>()
        })
        .filter(|p| !p.is_empty())
        .collect();
    let multiplexed = offered.iter().any(|p| p == SUBPROTOCOL);
    // Like `ws`: echo the first offered protocol, so clients that insist on one still connect.
    let echoed = if multiplexed {
        Some(SUBPROTOCOL.to_string())
    } else {
        offered.first().cloned()
    };
    let headers = header_pairs(headers);
    let mut read_only = false;
    if !multiplexed {
        let request = AuthRequest {
            purpose: AuthPurpose::Join,
            url: url.clone(),
            path: path.clone(),
            client_id: client_id.clone(),
            headers: headers.clone(),
        };
        match run_auth(&shared, request).await {
            AuthDecision::Accept => {}
            AuthDecision::ReadOnly => read_only = true,
            AuthDecision::Reject { status, reason } => {
                return text(reject_status(status), &clean_line(&reason));
            }
        }
    }

    let conn = shared.next_id();
    let (tx, rx) = mpsc::unbounded_channel();
    let (close_tx, close_rx) = oneshot::channel();
    let (closing_tx, closing_rx) = watch::channel(false);
    let out = Arc::new(ConnOut {
        tx,
        queued: AtomicUsize::new(0),
        queued_bytes: AtomicUsize::new(0),
        close: Mutex::new(Some(close_tx)),
        closing: closing_tx,
    });
    let registered = shared.with_state(|st| {
        if st.shutting_down {
            return Err(503);
        }
        st.conns.insert(conn, ConnEntry::new(out.clone()));
        if !multiplexed {
            match st.join(conn, &path, &client_id, None) {
                Ok(()) => {}
                Err(e) => {
                    st.conns.remove(&conn);
                    return Err(match e {
                        JoinError::ShuttingDown | JoinError::TooManyRooms => 503,
                        JoinError::Duplicate => 409,
                    });
                }
            }
        }
        Ok(())
    });
    if let Err(status) = registered {
        return text(status, status_text(status));
    }

    let mut switching = hyper::Response::new(Empty::<Bytes>::new().boxed_unsync());
    *switching.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let answer = switching.headers_mut();
    answer.insert(UPGRADE, HeaderValue::from_static("websocket"));
    answer.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(accept) = HeaderValue::from_str(&derive_accept_key(client_id.as_bytes())) {
        answer.insert(SEC_WEBSOCKET_ACCEPT, accept);
    }
    if let Some(protocol) = echoed
        .as_deref()
        .and_then(|p| HeaderValue::from_str(&clean_line(p)).ok())
    {
        answer.insert(SEC_WEBSOCKET_PROTOCOL, protocol);
    }

    let upgrading = hyper::upgrade::on(&mut req);
    let accepted = Accepted {
        conn,
        peer,
        client_id,
        path,
        multiplexed,
        read_only,
        url,
        headers,
        echoed,
        out,
        rx,
        close_rx,
        closing_rx,
    };
    tokio::spawn(async move {
        // The socket counts as an active connection until it is done.
        let _guard = guard;
        match upgrading.await {
            Ok(upgraded) => run_socket(shared, TokioIo::new(upgraded), accepted).await,
            Err(e) => {
                tracing::debug!(%peer, error = %e, "the WebSocket upgrade did not complete");
                shared.with_state(|st| st.detach(conn));
            }
        }
    });
    switching
}
