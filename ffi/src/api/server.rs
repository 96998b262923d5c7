//! The WebSocket sync server (started by `tinystore_core::sync::serve`).

use super::*;

/// How a sync server runs.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct WsServerOptions {
    /// The address to listen on: an IP address or a host name (default `127.0.0.1`).
    #[uniffi(default = None)]
    pub host: Option<String>,
    /// Without `db_path`: keep each room in an in-memory MergeableStore instead of only
    /// relaying between clients.
    #[uniffi(default = false)]
    pub in_memory_rooms: bool,
    /// TinyBase's `requestTimeoutSeconds`, in ms (default 1000).
    #[uniffi(default = None)]
    pub request_timeout_ms: Option<u64>,
    /// Split the room stores' messages larger than this many bytes into fragments.
    #[uniffi(default = None)]
    pub fragment_size: Option<u64>,
}

/// What a server listener is told.
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum ServerEvent {
    /// A room started (`added`) or stopped.
    PathIds {
        /// The room.
        path_id: String,
        /// Started or stopped.
        added: bool,
    },
    /// A client joined (`added`) or left a room.
    ClientIds {
        /// The room.
        path_id: String,
        /// The client.
        client_id: String,
        /// Joined or left.
        added: bool,
    },
}

/// A server listener implemented in the foreign language (runs on server threads).
#[uniffi::export(with_foreign)]
pub trait ServerListener: Send + Sync {
    /// A room or client change.
    fn on_event(&self, event: ServerEvent) -> Result<(), TinystoreError>;
}

/// `{paths, clients}` of a sync server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct ServerStats {
    /// Rooms.
    pub paths: u64,
    /// Clients, summed over rooms.
    pub clients: u64,
}

/// A running WebSocket sync server (TinyBase's `createWsServer`), compatible with TinyBase's
/// clients; rooms are URL paths.
#[derive(Debug, uniffi::Object)]
pub struct WsServer {
    pub(crate) inner: Mutex<Option<csync::server::WsServer>>,
    pub(crate) port: u16,
}

pub(crate) fn start_server(
    port: u16,
    db_path: Option<String>,
    options: Option<WsServerOptions>,
) -> Result<WsServer, TinystoreError> {
    use csync::serve::{Rooms, ServeOptions, serve};
    let defaults = ServeOptions::default();
    let o = options.unwrap_or(WsServerOptions {
        host: None,
        in_memory_rooms: false,
        request_timeout_ms: None,
        fragment_size: None,
    });
    let server = serve(ServeOptions {
        host: o.host.unwrap_or(defaults.host.clone()),
        port,
        rooms: match db_path {
            Some(db) => Rooms::from_db(&db),
            None if o.in_memory_rooms => Rooms::Memory,
            None => Rooms::Relay,
        },
        request_timeout: o
            .request_timeout_ms
            .map_or(defaults.request_timeout, Duration::from_millis),
        fragment_size: o
            .fragment_size
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
        ..defaults
    })?;
    Ok(WsServer {
        port: server.port(),
        inner: Mutex::new(Some(server)),
    })
}

/// Starts a sync server on `port` (0: the OS picks one; see `get_port`). With `db_path`, each
/// room also keeps a MergeableStore persisted to that SQLite file (table `tinybase_<path>`, as
/// TinyBase's server does); without it the server relays.
#[uniffi::export]
pub fn create_ws_server(
    port: u16,
    db_path: Option<String>,
    options: Option<WsServerOptions>,
) -> Result<Arc<WsServer>, TinystoreError> {
    start_server(port, db_path, options).map(Arc::new)
}

/// `create_ws_server` on the shared runtime's blocking pool.
#[uniffi::export]
pub async fn create_ws_server_async(
    port: u16,
    db_path: Option<String>,
    options: Option<WsServerOptions>,
) -> Result<Arc<WsServer>, TinystoreError> {
    run_blocking(move || start_server(port, db_path, options).map(Arc::new)).await
}

impl WsServer {
    pub(crate) fn with<R>(
        &self,
        f: impl FnOnce(&csync::server::WsServer) -> R,
    ) -> Result<R, TinystoreError> {
        match lock(&self.inner).as_ref() {
            Some(s) => Ok(f(s)),
            None => Err(TinystoreError::Destroyed {
                reason: "the server was stopped".into(),
            }),
        }
    }
}

#[uniffi::export]
impl WsServer {
    /// The bound port.
    pub fn get_port(&self) -> u16 {
        self.port
    }
    /// The rooms that have clients.
    pub fn get_path_ids(&self) -> Result<Vec<String>, TinystoreError> {
        self.with(|s| s.get_path_ids())
    }
    /// The clients of a room, in join order.
    pub fn get_client_ids(&self, path_id: String) -> Result<Vec<String>, TinystoreError> {
        self.with(|s| s.get_client_ids(&path_id))
    }
    /// How many rooms and clients there are.
    pub fn get_stats(&self) -> Result<ServerStats, TinystoreError> {
        self.with(|s| {
            let st = s.get_stats();
            ServerStats {
                paths: st.paths as u64,
                clients: st.clients as u64,
            }
        })
    }
    /// Calls `listener` when a room starts or stops.
    pub fn add_path_ids_listener(
        &self,
        listener: Arc<dyn ServerListener>,
    ) -> Result<u64, TinystoreError> {
        self.with(|s| {
            s.add_path_ids_listener(move |path, added| {
                let event = ServerEvent::PathIds {
                    path_id: path.into(),
                    added,
                };
                if let Err(e) = listener.on_event(event) {
                    report("server listener", &e);
                }
            })
        })
    }
    /// Calls `listener` when a client joins or leaves `path_id` (any room for `None`).
    pub fn add_client_ids_listener(
        &self,
        path_id: Option<String>,
        listener: Arc<dyn ServerListener>,
    ) -> Result<u64, TinystoreError> {
        self.with(|s| {
            s.add_client_ids_listener(path_id.as_deref(), move |path, client, added| {
                let event = ServerEvent::ClientIds {
                    path_id: path.into(),
                    client_id: client.into(),
                    added,
                };
                if let Err(e) = listener.on_event(event) {
                    report("server listener", &e);
                }
            })
        })
    }
    /// Removes a listener; `false` if there was none with that id.
    pub fn del_listener(&self, listener_id: u64) -> bool {
        self.with(|s| s.del_listener(listener_id)).unwrap_or(false)
    }
    /// Whether the server is running.
    pub fn is_running(&self) -> bool {
        lock(&self.inner).is_some()
    }
    /// Closes every client, saves and stops every room, and stops listening (blocks until
    /// done). Idempotent.
    pub fn stop(&self) {
        let server = lock(&self.inner).take();
        if let Some(server) = server {
            server.shutdown();
            drop(server);
        }
    }
    /// `stop` on the shared runtime's blocking pool.
    pub async fn stop_async(&self) {
        let server = lock(&self.inner).take();
        run_blocking(move || {
            if let Some(server) = server {
                server.shutdown();
                drop(server);
            }
        })
        .await;
    }
}
