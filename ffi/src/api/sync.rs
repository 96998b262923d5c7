//! Synchronizers: over a foreign transport, a local bus, or a WebSocket.

use super::*;

/// A connection status of a WebSocket synchronizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ConnectionStatus {
    /// Opening the socket.
    Connecting,
    /// Open.
    Connected,
    /// Closed (waiting to retry, with `reconnect`).
    Disconnected,
}

/// `{sends, receives}`: messages a synchronizer sent and received.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct SyncStats {
    /// Messages sent.
    pub sends: u64,
    /// Valid messages received.
    pub receives: u64,
}

/// Carries a synchronizer's messages, implemented in the foreign language (TinyBase's
/// `createCustomSynchronizer`). `send` must not block and must not deliver to a synchronizer
/// on the calling thread: queue the message and deliver it from another thread with
/// [`Synchronizer::receive`].
#[uniffi::export(with_foreign)]
pub trait SyncTransport: Send + Sync {
    /// Sends an encoded message to peer `to`, or to every peer when `None`.
    fn send(&self, to: Option<String>, message: String) -> Result<(), TinystoreError>;
    /// The synchronizer was shut down: release the medium. (Not `close`: generated Kotlin
    /// classes are `AutoCloseable`.)
    fn disconnect(&self) -> Result<(), TinystoreError>;
}

pub(crate) struct ForeignTransport(Arc<dyn SyncTransport>);

impl Transport for ForeignTransport {
    fn send(
        &self,
        to: Option<&str>,
        _message: tinystore_core::sync::protocol::MessageType,
        remainder: String,
    ) {
        if let Err(e) = self.0.send(to.map(str::to_string), remainder) {
            report("sync transport", &e);
        }
    }
    fn close(&self) {
        if let Err(e) = self.0.disconnect() {
            report("sync transport", &e);
        }
    }
}

/// Options of a synchronizer.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct SyncOptions {
    /// How long each request waits for its answer (default 1000 ms).
    #[uniffi(default = None)]
    pub request_timeout_ms: Option<u64>,
}

pub(crate) fn sync_options(
    options: Option<SyncOptions>,
    on_error: Option<Arc<dyn ErrorListener>>,
) -> csync::SynchronizerOptions {
    csync::SynchronizerOptions {
        request_timeout: options
            .and_then(|o| o.request_timeout_ms)
            .map(Duration::from_millis),
        on_ignored_error: on_error.map(|l| {
            let hook: csync::synchronizer::ErrorHook = Arc::new(move |e: &csync::SyncError| {
                if let Err(e) = l.on_error(e.to_string()) {
                    report("error listener", &e);
                }
            });
            hook
        }),
        ..Default::default()
    }
}

/// Keeps a MergeableStore in sync with peers over a transport (a [`LocalBus`] or a foreign
/// [`SyncTransport`]).
#[derive(Debug, uniffi::Object)]
pub struct Synchronizer {
    pub(crate) inner: csync::Synchronizer,
}

/// A synchronizer connected to a sync server over a WebSocket (TinyBase's
/// `createWsSynchronizer`; works with `tinystore serve` and TinyBase's own server).
#[derive(Debug, uniffi::Object)]
pub struct WsSynchronizer {
    pub(crate) inner: csync::WsSynchronizer,
}

impl Synchronizer {
    pub(crate) fn sync(&self) -> &csync::Synchronizer {
        &self.inner
    }
}

impl WsSynchronizer {
    pub(crate) fn sync(&self) -> &csync::Synchronizer {
        &self.inner
    }
}

impl Drop for WsSynchronizer {
    fn drop(&mut self) {
        self.inner.destroy();
    }
}

/// A synchronizer over a foreign transport; feed it incoming messages with `receive`.
#[uniffi::export]
pub fn create_custom_synchronizer(
    store: Arc<MergeableStore>,
    transport: Arc<dyn SyncTransport>,
    options: Option<SyncOptions>,
    on_ignored_error: Option<Arc<dyn ErrorListener>>,
) -> Arc<Synchronizer> {
    Arc::new(Synchronizer {
        inner: csync::Synchronizer::with_options(
            &store.inner,
            Arc::new(ForeignTransport(transport)),
            sync_options(options, on_ignored_error),
        ),
    })
}

/// How a WebSocket synchronizer connects.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct WsSynchronizerOptions {
    /// `Some(channel)`: use the `tinybase` subprotocol on this channel (URL is the base);
    /// `None`: the URL path is the room.
    #[uniffi(default = None)]
    pub channel: Option<String>,
    /// Extra headers of the upgrade request (e.g. `Authorization`).
    #[uniffi(default = None)]
    pub headers: Option<HashMap<String, String>>,
    /// Reconnect dropped connections (with backoff); TinyBase never does.
    #[uniffi(default = false)]
    pub reconnect: bool,
    /// How long connecting may take (default 10000 ms).
    #[uniffi(default = None)]
    pub connect_timeout_ms: Option<u64>,
    /// How long each request waits for its answer (default 1000 ms).
    #[uniffi(default = None)]
    pub request_timeout_ms: Option<u64>,
    /// Split messages larger than this many bytes into fragments.
    #[uniffi(default = None)]
    pub fragment_size: Option<u64>,
    /// More servers of the same rooms, tried in turn when a connection cannot be opened or
    /// drops (round robin with the URL).
    #[uniffi(default = None)]
    pub fallback_urls: Option<Vec<String>>,
}

pub(crate) fn connect(
    store: &core::MergeableStore,
    url: String,
    options: Option<WsSynchronizerOptions>,
    on_error: Option<Arc<dyn ErrorListener>>,
) -> Result<csync::WsSynchronizer, TinystoreError> {
    let o = options.unwrap_or(WsSynchronizerOptions {
        channel: None,
        headers: None,
        reconnect: false,
        connect_timeout_ms: None,
        request_timeout_ms: None,
        fragment_size: None,
        fallback_urls: None,
    });
    let mut headers: Vec<(String, String)> = o.headers.unwrap_or_default().into_iter().collect();
    headers.sort();
    let config = csync::WsClientConfig {
        url,
        fallback_urls: o.fallback_urls.unwrap_or_default(),
        channel: o.channel,
        headers,
        fragment_size: o
            .fragment_size
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
        reconnect: o.reconnect.then(csync::ReconnectPolicy::default),
        connect_timeout: o.connect_timeout_ms.map(Duration::from_millis),
        ..Default::default()
    };
    let options = sync_options(
        Some(SyncOptions {
            request_timeout_ms: o.request_timeout_ms,
        }),
        on_error,
    );
    Ok(csync::WsSynchronizer::connect(store, config, options)?)
}

/// Connects `store` to a sync server at `url` (`ws://host:port/room`); blocks until the socket
/// is open. Sync starts with `start_sync`.
#[uniffi::export]
pub fn create_ws_synchronizer(
    store: Arc<MergeableStore>,
    url: String,
    options: Option<WsSynchronizerOptions>,
    on_ignored_error: Option<Arc<dyn ErrorListener>>,
) -> Result<Arc<WsSynchronizer>, TinystoreError> {
    Ok(Arc::new(WsSynchronizer {
        inner: connect(&store.inner, url, options, on_ignored_error)?,
    }))
}

/// `create_ws_synchronizer` on the shared runtime's blocking pool.
#[uniffi::export]
pub async fn create_ws_synchronizer_async(
    store: Arc<MergeableStore>,
    url: String,
    options: Option<WsSynchronizerOptions>,
    on_ignored_error: Option<Arc<dyn ErrorListener>>,
) -> Result<Arc<WsSynchronizer>, TinystoreError> {
    let store = store.inner.clone();
    run_blocking(move || {
        Ok(Arc::new(WsSynchronizer {
            inner: connect(&store, url, options, on_ignored_error)?,
        }))
    })
    .await
}

macro_rules! sync_api {
    ($ty:ident) => {
        #[uniffi::export]
        impl $ty {
            /// Starts syncing: pulls what the peers have (blocks until done or timed out;
            /// with nothing pulled, `initial` `[tables, values]` JSON becomes default
            /// content), then sends every change.
            pub fn start_sync(&self, initial: Option<String>) -> Result<(), TinystoreError> {
                let initial = parse_initial(initial)?;
                self.sync().start_sync(as_pair(&initial));
                Ok(())
            }
            /// `start_sync` on the shared runtime's blocking pool.
            pub async fn start_sync_async(
                &self,
                initial: Option<String>,
            ) -> Result<(), TinystoreError> {
                let s = self.sync().clone();
                run_blocking(move || {
                    let initial = parse_initial(initial)?;
                    s.start_sync(as_pair(&initial));
                    Ok(())
                })
                .await
            }
            /// Stops syncing.
            pub fn stop_sync(&self) {
                self.sync().stop_sync();
            }
            /// Pulls what the peers have and applies it (blocks).
            pub fn load(&self, initial: Option<String>) -> Result<(), TinystoreError> {
                let initial = parse_initial(initial)?;
                self.sync().load(as_pair(&initial));
                Ok(())
            }
            /// `load` on the shared runtime's blocking pool.
            pub async fn load_async(&self, initial: Option<String>) -> Result<(), TinystoreError> {
                let s = self.sync().clone();
                run_blocking(move || {
                    let initial = parse_initial(initial)?;
                    s.load(as_pair(&initial));
                    Ok(())
                })
                .await
            }
            /// Announces this store's hashes to the peers (they pull what differs).
            pub fn save(&self) {
                self.sync().save();
            }
            /// Loads, then applies whatever peers send from now on.
            pub fn start_auto_load(&self, initial: Option<String>) -> Result<(), TinystoreError> {
                let initial = parse_initial(initial)?;
                self.sync().start_auto_load(as_pair(&initial));
                Ok(())
            }
            /// Stops applying what peers send.
            pub fn stop_auto_load(&self) {
                self.sync().stop_auto_load();
            }
            /// Whether auto-load is on.
            pub fn is_auto_loading(&self) -> bool {
                self.sync().is_auto_loading()
            }
            /// Saves, then sends every transaction's changes.
            pub fn start_auto_save(&self) {
                self.sync().start_auto_save();
            }
            /// Stops sending changes.
            pub fn stop_auto_save(&self) {
                self.sync().stop_auto_save();
            }
            /// Whether auto-save is on.
            pub fn is_auto_saving(&self) -> bool {
                self.sync().is_auto_saving()
            }
            /// Auto-load then auto-save.
            pub fn start_auto_persisting(
                &self,
                initial: Option<String>,
            ) -> Result<(), TinystoreError> {
                let initial = parse_initial(initial)?;
                self.sync().start_auto_persisting(as_pair(&initial));
                Ok(())
            }
            /// Stops both.
            pub fn stop_auto_persisting(&self) {
                self.sync().stop_auto_persisting();
            }
            /// Idle, loading or saving.
            pub fn get_status(&self) -> Status {
                self.sync().get_status().into()
            }
            /// Loads and saves so far.
            pub fn get_stats(&self) -> PersistStats {
                self.sync().get_stats().into()
            }
            /// Messages sent and received so far.
            pub fn get_synchronizer_stats(&self) -> SyncStats {
                let s = self.sync().get_synchronizer_stats();
                SyncStats {
                    sends: s.sends,
                    receives: s.receives,
                }
            }
            /// Calls `listener` on every status change; returns an id for `del_listener`.
            pub fn add_status_listener(&self, listener: Arc<dyn StatusListener>) -> u64 {
                self.sync().add_status_listener(move |s| {
                    if let Err(e) = listener.on_status(s.into()) {
                        report("status listener", &e);
                    }
                })
            }
            /// Removes a status listener.
            pub fn del_listener(&self, listener_id: u64) {
                self.sync().del_listener(listener_id);
            }
            /// Whether `shutdown` was called.
            pub fn is_destroyed(&self) -> bool {
                self.sync().is_destroyed()
            }
        }
    };
}

sync_api!(Synchronizer);
sync_api!(WsSynchronizer);

#[uniffi::export]
impl Synchronizer {
    /// Handles an encoded message from peer `from` (call it from the transport's delivery
    /// thread, never from inside `SyncTransport::send`).
    pub fn receive(&self, from: String, message: String) {
        self.inner.receive_encoded(&from, &message);
    }
    /// Stops syncing, rejects pending requests and closes the transport (TinyBase's
    /// `destroy`; see the persisters' `shutdown`).
    pub fn shutdown(&self) {
        self.inner.destroy();
    }
}

#[uniffi::export]
impl WsSynchronizer {
    /// The connection status.
    pub fn get_connection_status(&self) -> ConnectionStatus {
        match self.inner.connection_status() {
            csync::ConnectionStatus::Connecting => ConnectionStatus::Connecting,
            csync::ConnectionStatus::Connected => ConnectionStatus::Connected,
            csync::ConnectionStatus::Disconnected => ConnectionStatus::Disconnected,
        }
    }
    /// The server URL.
    pub fn get_url(&self) -> String {
        self.inner.url().to_string()
    }
    /// Stops syncing and closes the socket, waiting ≤ 2 s for the close handshake (TinyBase's
    /// `destroy`; see the persisters' `shutdown`).
    pub fn shutdown(&self) {
        self.inner.destroy();
    }
}

/// In-process synchronization (TinyBase's LocalSynchronizer): synchronizers on one bus sync
/// without a socket; messages are delivered on the bus's own thread.
#[derive(Debug, uniffi::Object)]
pub struct LocalBus {
    pub(crate) inner: csync::LocalBus,
}

#[uniffi::export]
impl LocalBus {
    /// A bus with its delivery thread.
    #[uniffi::constructor]
    pub fn new() -> Arc<Self> {
        Arc::new(LocalBus {
            inner: csync::LocalBus::new(),
        })
    }
    /// A synchronizer for `store` on this bus.
    pub fn create_synchronizer(&self, store: Arc<MergeableStore>) -> Arc<Synchronizer> {
        Arc::new(Synchronizer {
            inner: self.inner.synchronizer(&store.inner),
        })
    }
    /// Waits until every message sent so far (and every answer to them) was delivered.
    pub fn flush(&self) {
        self.inner.flush();
    }
    /// The client ids of the synchronizers on the bus.
    pub fn get_client_ids(&self) -> Vec<String> {
        self.inner.client_ids()
    }
}
