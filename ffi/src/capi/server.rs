//! The WebSocket sync server (`tinystore_core::sync::serve`).

use super::*;

pub(crate) fn start(
    host: *const c_char,
    port: u16,
    db_path: *const c_char,
    auth: Option<AuthHook>,
    out_server: *mut *mut tinystore_ws_server_t,
) -> R<usize> {
    let (host, db) = unsafe { (opt_str_arg(host, "host")?, opt_str_arg(db_path, "db_path")?) };
    let out = Out::new(out_server, "out_server")?;
    let server = serve::serve(serve::ServeOptions {
        host: host.unwrap_or(serve::DEFAULT_HOST).to_string(),
        port,
        rooms: db.map_or(serve::Rooms::Relay, serve::Rooms::from_db),
        auth,
        ..serve::ServeOptions::default()
    })?;
    let handle = register(Object::Server(server));
    out.set(handle as *mut tinystore_ws_server_t);
    Ok(handle)
}

/// Starts a sync server (TinyBase's `createWsServer`, as `tinystore serve` runs it) listening
/// on `host` (NULL: `127.0.0.1`) and `port` (0: the system picks one; see
/// `tinystore_ws_server_port`). With `db_path`, each room's content is kept in that SQLite
/// database (a JSON-mode table per room) and survives restarts; with NULL the server only
/// relays between clients. The server runs on threads of its own.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_ws_server_new(
    host: *const c_char,
    port: u16,
    db_path: *const c_char,
    out_server: *mut *mut tinystore_ws_server_t,
) -> tinystore_status_t {
    guard(|| start(host, port, db_path, None, out_server).map(drop))
}

/// Auth callbacks are closed when their server is freed: a call in progress is waited for,
/// later ones reject, so `user_data` may be freed once `tinystore_ws_server_free` returns.
static AUTH_GATES: LazyLock<Mutex<HashMap<usize, Arc<RwLock<bool>>>>> =
    LazyLock::new(Default::default);

/// The callback's decision for one request (its raw number read as an `int`, so that a value
/// outside the enum is a rejection, never an invalid Rust enum).
fn decide(
    f: unsafe extern "C" fn(*mut c_void, *const tinystore_auth_request_t) -> c_int,
    user_data: usize,
    request: &AuthRequest,
) -> AuthDecision {
    let c = |s: &str| to_cstring(s);
    let (url, path, client) = (c(&request.url), c(&request.path), c(&request.client_id));
    let names: Vec<(CString, CString)> =
        request.headers.iter().map(|(n, v)| (c(n), c(v))).collect();
    let headers: Vec<tinystore_header_t> = names
        .iter()
        .map(|(n, v)| tinystore_header_t {
            name: n.as_ptr(),
            value: v.as_ptr(),
        })
        .collect();
    let c_request = tinystore_auth_request_t {
        purpose: match request.purpose {
            AuthPurpose::Stats => tinystore_auth_purpose_t::TINYSTORE_AUTH_PURPOSE_STATS,
            _ => tinystore_auth_purpose_t::TINYSTORE_AUTH_PURPOSE_JOIN,
        },
        url: url.as_ptr(),
        path: path.as_ptr(),
        client_id: client.as_ptr(),
        headers: slice_ptr(&headers),
        headers_len: headers.len(),
    };
    clear_failure_message();
    // SAFETY: the caller's callback with its user data; `c_request` and everything it points
    // to live until it returns.
    match unsafe { f(user_data as *mut c_void, &c_request) } {
        0 => AuthDecision::Accept,
        1 => AuthDecision::ReadOnly,
        2 => AuthDecision::Reject {
            status: 403,
            reason: take_failure_message().unwrap_or_else(|| "forbidden".into()),
        },
        other => AuthDecision::Reject {
            status: 500,
            reason: format!("the auth callback returned {other}, not a tinystore_auth_decision_t"),
        },
    }
}

/// `tinystore_ws_server_new` with an auth callback (the server's auth hook): every client's
/// WebSocket upgrade, and every channel a multiplexed socket subscribes to, is first given to
/// `auth(user_data, request)` with the room's path, the request URL, the client id and the
/// request headers. `TINYSTORE_AUTH_REJECT` refuses the client (HTTP 403, whose body is the
/// message the callback set with `tinystore_callback_set_error`, else `forbidden`): its
/// `tinystore_ws_synchronizer_new` fails with `TINYSTORE_STATUS_NETWORK`.
/// `TINYSTORE_AUTH_READ_ONLY` lets it read but not change the room. The callback runs on the
/// server's threads, possibly several at once, and may block (e.g. to look a token up). The
/// library never frees `user_data`; once `tinystore_ws_server_free` returns the callback is not
/// running and will not be called again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_ws_server_new_with_auth(
    host: *const c_char,
    port: u16,
    db_path: *const c_char,
    auth: tinystore_auth_fn_t,
    user_data: *mut c_void,
    out_server: *mut *mut tinystore_ws_server_t,
) -> tinystore_status_t {
    guard(|| {
        let f = auth.ok_or_else(|| err(ErrorKind::NullArgument, "auth is NULL"))?;
        // SAFETY: the decision enum has the size and ABI of an int (checked below).
        let f: unsafe extern "C" fn(*mut c_void, *const tinystore_auth_request_t) -> c_int =
            unsafe { std::mem::transmute(f) };
        let ud = user_data as usize;
        let open = Arc::new(RwLock::new(true));
        let gate = open.clone();
        let hook: AuthHook = Arc::new(move |request: &AuthRequest| {
            let open = gate.read();
            if !*open {
                return AuthDecision::Reject {
                    status: 503,
                    reason: "the server is stopping".into(),
                };
            }
            decide(f, ud, request)
        });
        let handle = start(host, port, db_path, Some(hook), out_server)?;
        AUTH_GATES.lock().insert(handle, open);
        Ok(())
    })
}

const _: () = assert!(size_of::<tinystore_auth_decision_t>() == size_of::<c_int>());

/// The port the server listens on.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_ws_server_port(
    server: *mut tinystore_ws_server_t,
    out_port: *mut u16,
) -> tinystore_status_t {
    guard(|| {
        let out = Out::new(out_port, "out_port")?;
        with_server(server, |s| {
            out.set(s.port());
            Ok(())
        })
    })
}

/// How many rooms (paths) and clients the server has.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_ws_server_get_stats(
    server: *mut tinystore_ws_server_t,
    out_paths: *mut usize,
    out_clients: *mut usize,
) -> tinystore_status_t {
    guard(|| {
        let paths = Out::new(out_paths, "out_paths")?;
        let clients = Out::new(out_clients, "out_clients")?;
        with_server(server, |s| {
            let stats = s.get_stats();
            paths.set(stats.paths);
            clients.set(stats.clients);
            Ok(())
        })
    })
}

/// The rooms (paths) that have clients, in the order they started.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_ws_server_get_path_ids(
    server: *mut tinystore_ws_server_t,
    out_ids: *mut tinystore_string_list_t,
) -> tinystore_status_t {
    guard(|| ids_out(out_ids, || with_server(server, |s| Ok(s.get_path_ids()))))
}

/// The client ids of a room, in join order (empty for an unknown path).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_ws_server_get_client_ids(
    server: *mut tinystore_ws_server_t,
    path: *const c_char,
    out_ids: *mut tinystore_string_list_t,
) -> tinystore_status_t {
    guard(|| {
        let path = unsafe { str_arg(path, "path")? };
        ids_out(out_ids, || {
            with_server(server, |s| Ok(s.get_client_ids(path)))
        })
    })
}

/// Stops the server: stops listening, closes every client, saves and stops every room, then
/// frees it. Blocks until that is done.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_ws_server_free(
    server: *mut tinystore_ws_server_t,
) -> tinystore_status_t {
    guard(|| {
        let object = unregister(server as usize, "server", "a server", |o| {
            matches!(o, Object::Server(_))
        })?;
        if let Object::Server(s) = &*object {
            s.shutdown();
        }
        if let Some(gate) = AUTH_GATES.lock().remove(&(server as usize)) {
            *gate.write() = false;
        }
        Ok(())
    })
}
