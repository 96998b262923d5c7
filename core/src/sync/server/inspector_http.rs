//! `/inspector` over HTTP: the page and its assets, the room list, a room's page of rows, the
//! live stream of a room's changes (server-sent events) and cell edits. The data comes from
//! [`super::inspect`] and [`crate::sync::inspector`]; this file holds the routes, the auth
//! checks and the stream.
//!
//! Auth: the page and the room list are what `/stats` is (the hook is asked with
//! [`AuthPurpose::Stats`]); a room's content and its stream need the right to join that room
//! ([`AuthPurpose::Join`], read-only suffices); an edit needs a read-write join, and the
//! server started with [`InspectorMode::Write`](super::InspectorMode::Write).

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Limited, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request};

use super::http::{Response, full, header_pairs, stats_check, stats_refusal, text};
use super::*;
use crate::sync::inspector::{self, Edit, PageQuery};

/// Largest edit request body (a cell value may be a large string or object).
const MAX_EDIT_BYTES: usize = 1024 * 1024;
/// Fewest milliseconds between two change events of one stream: a busy room's page is
/// refetched at most this often.
const EVENT_SPACING: Duration = Duration::from_millis(100);
/// How often a stream looks at the room list (clients joining and leaving) and, when nothing
/// happened for a while, sends a comment so that proxies keep it open.
const LIST_POLL: Duration = Duration::from_secs(1);
const KEEP_ALIVE_TICKS: u32 = 15;

/// The client id the auth hook sees for the inspector's requests.
const INSPECTOR_CLIENT: &str = "inspector";

/// Routes a request under `/inspector`.
pub(super) async fn route(shared: Arc<Shared>, req: Request<Incoming>) -> Response {
    if !shared.cfg.inspector.is_enabled() {
        return text(404, "not found");
    }
    let path = req.uri().path().to_string();
    match (req.method().clone(), path.as_str()) {
        // The page loads its assets and API relative to `/inspector`.
        (Method::GET, "/inspector/") => {
            let target = match req.uri().query() {
                Some(query) => format!("/inspector?{query}"),
                None => "/inspector".to_string(),
            };
            let mut moved = text(308, "see /inspector");
            if let Ok(location) = HeaderValue::from_str(&target) {
                moved
                    .headers_mut()
                    .insert(hyper::header::LOCATION, location);
            }
            moved
        }
        (Method::GET, "/inspector") => match stats_refusal(&shared, &req).await {
            Some(refused) => refused,
            None => page(200, "text/html; charset=utf-8", inspector::INDEX_HTML),
        },
        // The assets hold no data: they load without a token (the page's URL carries it).
        (Method::GET, "/inspector/app.js") => {
            page(200, "text/javascript; charset=utf-8", inspector::APP_JS)
        }
        (Method::GET, "/inspector/app.css") => {
            page(200, "text/css; charset=utf-8", inspector::APP_CSS)
        }
        (Method::GET, "/inspector/api/rooms") => match stats_check(&shared, &req).await {
            Err((status, reason)) => json_error(status, &reason),
            Ok(()) => {
                let mut rooms = shared.inspect_rooms();
                rooms["write"] = Json::Bool(shared.cfg.inspector.can_write());
                json(200, &rooms)
            }
        },
        (Method::GET, "/inspector/api/room") => room(shared, req).await,
        (Method::GET, "/inspector/api/events") => events(shared, req).await,
        (Method::POST, "/inspector/api/cell") => edit(shared, req).await,
        _ => text(404, "not found"),
    }
}

/// A static page or asset, with headers that keep the data it shows from being run as code.
fn page(status: u16, content_type: &str, body: &'static str) -> Response {
    let mut response = full(status, content_type, body);
    let headers = response.headers_mut();
    headers.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
             img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        ),
    );
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn json(status: u16, body: &Json) -> Response {
    let mut response = full(status, "application/json", body.to_string());
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn json_error(status: u16, reason: &str) -> Response {
    json(status, &serde_json::json!({ "error": reason }))
}

/// The query parameters of a request (percent-decoded).
fn query(req: &Request<Incoming>) -> Vec<(String, String)> {
    form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// Asks the auth hook whether this request may join `room`: `Ok(writable)`, or the refusal.
async fn join_allowed<B>(shared: &Shared, req: &Request<B>, room: &str) -> Result<bool, Response> {
    let request = AuthRequest {
        purpose: AuthPurpose::Join,
        url: req.uri().to_string(),
        path: room.to_string(),
        client_id: INSPECTOR_CLIENT.to_string(),
        headers: header_pairs(req.headers()),
    };
    match run_auth(shared, request).await {
        AuthDecision::Accept => Ok(true),
        AuthDecision::ReadOnly => Ok(false),
        AuthDecision::Reject { status, reason } => {
            Err(json_error(reject_status(status), &clean_line(&reason)))
        }
    }
}

/// The answer for a room that is not live (or keeps no store).
fn no_room() -> Response {
    json_error(
        404,
        "no such active room (rooms exist while they have clients)",
    )
}

/// The room a read names (`?path=`), once the auth hook lets this request join it
/// (read-only suffices).
async fn readable_room(
    shared: &Shared,
    req: &Request<Incoming>,
    params: &[(String, String)],
) -> Result<(String, super::inspect::RoomHandle), Response> {
    let Some(path) = param(params, "path").map(str::to_string) else {
        return Err(json_error(400, "missing path"));
    };
    join_allowed(shared, req, &path).await?;
    let handle = shared.inspect_room(&path).ok_or_else(no_room)?;
    Ok((path, handle))
}

/// A room's page: `?path=P&table=T&offset=O&limit=L&row=SEARCH`.
async fn room(shared: Arc<Shared>, req: Request<Incoming>) -> Response {
    let params = query(&req);
    let (path, handle) = match readable_room(&shared, &req, &params).await {
        Ok(room) => room,
        Err(refused) => return refused,
    };
    let number = |name: &str| param(&params, name).and_then(|v| v.parse::<usize>().ok());
    let page = PageQuery {
        table: param(&params, "table")
            .filter(|t| !t.is_empty())
            .map(str::to_string),
        offset: number("offset").unwrap_or(0),
        limit: number("limit").unwrap_or(inspector::DEFAULT_PAGE_ROWS),
        row: param(&params, "row")
            .filter(|r| !r.is_empty())
            .map(str::to_string),
    };
    // The store's lock may be held by the room applying a large batch: wait off the runtime.
    let read = tokio::task::spawn_blocking(move || {
        let mut body = inspector::room_json(handle.store(), &page);
        body["path"] = Json::String(path);
        body["version"] = handle.version().into();
        body
    })
    .await;
    match read {
        Ok(body) => json(200, &body),
        Err(_) => json_error(500, "internal error"),
    }
}

/// The room list's shape that the page shows (paths and client counts): a change of it is a
/// `rooms` event.
fn list_signature(shared: &Arc<Shared>) -> Vec<(String, usize)> {
    shared.with_state(|st| {
        st.rooms
            .iter()
            .map(|(p, r)| (p.clone(), r.clients.len()))
            .collect()
    })
}

fn event(name: &str, data: &Json) -> Result<Frame<Bytes>, Infallible> {
    Ok(Frame::data(Bytes::from(format!(
        "event: {name}\ndata: {data}\n\n"
    ))))
}

/// A room's changes as server-sent events: a `change` at once and after every change of the
/// room's store (at most one per [`EVENT_SPACING`]), a `rooms` when the room list changes; the
/// stream ends when the room stops or the server shuts down.
async fn events(shared: Arc<Shared>, req: Request<Incoming>) -> Response {
    let params = query(&req);
    let (_, handle) = match readable_room(&shared, &req, &params).await {
        Ok(room) => room,
        Err(refused) => return refused,
    };
    struct Follow {
        shared: Arc<Shared>,
        handle: super::inspect::RoomHandle,
        changes: watch::Receiver<u64>,
        stopping: watch::Receiver<bool>,
        list: Vec<(String, usize)>,
        first: bool,
        ended: bool,
        quiet_ticks: u32,
    }
    let follow = Follow {
        changes: handle.subscribe(),
        stopping: shared.stop_accept.subscribe(),
        list: list_signature(&shared),
        shared,
        handle,
        first: true,
        ended: false,
        quiet_ticks: 0,
    };
    let stream = futures_util::stream::unfold(follow, |mut f| async move {
        if f.ended {
            return None;
        }
        if f.first {
            f.first = false;
            f.changes.mark_unchanged();
            let frame = event("change", &f.handle.change_json());
            return Some((frame, f));
        }
        loop {
            tokio::select! {
                _ = async { let _ = f.stopping.wait_for(|s| *s).await; } => return None,
                changed = f.changes.changed() => {
                    if changed.is_err() {
                        // The room stopped (its last client left): the page learns it from
                        // the room list, then reconnects or shows the room gone.
                        f.ended = true;
                        return Some((event("rooms", &Json::Null), f));
                    }
                    tokio::time::sleep(EVENT_SPACING).await;
                    f.changes.mark_unchanged();
                    f.quiet_ticks = 0;
                    let frame = event("change", &f.handle.change_json());
                    return Some((frame, f));
                }
                _ = tokio::time::sleep(LIST_POLL) => {
                    let list = list_signature(&f.shared);
                    if list != f.list {
                        f.list = list;
                        f.quiet_ticks = 0;
                        return Some((event("rooms", &Json::Null), f));
                    }
                    f.quiet_ticks += 1;
                    if f.quiet_ticks >= KEEP_ALIVE_TICKS {
                        f.quiet_ticks = 0;
                        return Some((Ok(Frame::data(Bytes::from_static(b": keep-alive\n\n"))), f));
                    }
                }
            }
        }
    });
    let mut response = hyper::Response::new(StreamBody::new(stream).boxed_unsync());
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `POST /inspector/api/cell` with `{"path", "table", "row", "cell", "value", "delete"}`
/// (`table` and `row` empty for a value): the edit goes through the room's store, so its
/// synchronizer sends it to the room's clients like any client's write.
async fn edit(shared: Arc<Shared>, req: Request<Incoming>) -> Response {
    if !shared.cfg.inspector.can_write() {
        return json_error(
            403,
            "this server's inspector is read-only (start it with --inspector-write)",
        );
    }
    // JSON only: a cross-site form cannot send it without a preflight the server never allows.
    let is_json = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"));
    if !is_json {
        return json_error(415, "the edit must be sent as application/json");
    }
    let (parts, body) = req.into_parts();
    let bytes = match Limited::new(body, MAX_EDIT_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return json_error(413, "the edit is too large or was cut off"),
    };
    let request = Request::from_parts(parts, ());
    let body: Json = match serde_json::from_slice(&bytes) {
        Ok(body) => body,
        Err(e) => return json_error(400, &format!("the edit is not JSON: {e}")),
    };
    let Some(path) = body.get("path").and_then(Json::as_str).map(str::to_string) else {
        return json_error(400, "missing path");
    };
    let edit: Edit = match serde_json::from_value(body) {
        Ok(edit) => edit,
        Err(e) => return json_error(400, &format!("invalid edit: {e}")),
    };
    match join_allowed(&shared, &request, &path).await {
        Ok(true) => {}
        Ok(false) => return json_error(403, "read-only: this token may not write to the room"),
        Err(refused) => return refused,
    }
    let Some(handle) = shared.inspect_room(&path) else {
        return no_room();
    };
    let applied =
        tokio::task::spawn_blocking(move || inspector::apply_edit(handle.store(), &edit)).await;
    match applied {
        Ok(Ok(())) => {
            tracing::info!(room = path, "inspector edit applied");
            json(200, &serde_json::json!({ "ok": true }))
        }
        Ok(Err(e)) => json_error(e.http_status(), &e.to_string()),
        Err(_) => json_error(500, "internal error"),
    }
}
