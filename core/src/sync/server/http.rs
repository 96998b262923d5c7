//! The plain-HTTP side of a connection: the request head, `/health`, `/stats`, error
//! responses, and the auth hook's call.

use super::*;

pub(super) struct Head {
    pub(super) method: String,
    pub(super) uri: String,
    pub(super) headers: Vec<(String, String)>,
}

impl Head {
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub(super) fn header_has_token(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .any(|(_, v)| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    }
}

pub(super) enum HeadError {
    Closed,
    TooLarge,
    TooManyHeaders,
    Malformed,
}

/// Reads the HTTP request head; returns it and any bytes read past it.
pub(super) async fn read_head(tcp: &mut ServerStream) -> Result<(Head, Vec<u8>), HeadError> {
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    let end = loop {
        let n = tcp.read(&mut chunk).await.map_err(|_| HeadError::Closed)?;
        if n == 0 {
            return Err(HeadError::Closed);
        }
        let scan_from = buf.len().saturating_sub(3);
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf[scan_from..].windows(4).position(|w| w == b"\r\n\r\n") {
            break scan_from + i + 4;
        }
        if buf.len() > MAX_HEAD_BYTES {
            return Err(HeadError::TooLarge);
        }
    };
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(&buf[..end]) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(HeadError::Malformed),
        Err(httparse::Error::TooManyHeaders) => return Err(HeadError::TooManyHeaders),
        Err(_) => return Err(HeadError::Malformed),
    }
    let head = Head {
        method: req.method.unwrap_or("").to_string(),
        uri: req.path.unwrap_or("").to_string(),
        headers: req
            .headers
            .iter()
            .map(|h| {
                (
                    h.name.to_ascii_lowercase(),
                    String::from_utf8_lossy(h.value).into_owned(),
                )
            })
            .collect(),
    };
    Ok((head, buf[end..].to_vec()))
}

pub(super) fn status_text(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

pub(super) async fn respond(
    tcp: &mut ServerStream,
    status: u16,
    content_type: &str,
    body: &str,
    extra: &[(&str, &str)],
) -> io::Result<()> {
    let mut out = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n",
        status_text(status),
        body.len()
    );
    for (name, value) in extra {
        out.push_str(name);
        out.push_str(": ");
        out.push_str(value);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out.push_str(body);
    tcp.write_all(out.as_bytes()).await?;
    tcp.flush().await?;
    tcp.shutdown().await
}

pub(super) async fn respond_text(tcp: &mut ServerStream, status: u16, text: &str) {
    let _ = respond(tcp, status, "text/plain; charset=utf-8", text, &[]).await;
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
