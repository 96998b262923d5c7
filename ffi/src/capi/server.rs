//! The WebSocket sync server (`tinystore_core::sync::serve`).

use super::*;

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
    guard(|| {
        let (host, db) = unsafe { (opt_str_arg(host, "host")?, opt_str_arg(db_path, "db_path")?) };
        let out = Out::new(out_server, "out_server")?;
        let server = serve::serve(serve::ServeOptions {
            host: host.unwrap_or(serve::DEFAULT_HOST).to_string(),
            port,
            rooms: db.map_or(serve::Rooms::Relay, serve::Rooms::from_db),
            ..serve::ServeOptions::default()
        })?;
        let handle = register(Object::Server(server));
        out.set(handle as *mut tinystore_ws_server_t);
        Ok(())
    })
}

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
        Ok(())
    })
}
