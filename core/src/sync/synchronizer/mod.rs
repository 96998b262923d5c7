//! The synchronizer (spec sync.md §2): keeps a [`MergeableStore`] in sync with its peers over
//! any [`Transport`], exactly as TinyBase 10.0.1's `createCustomSynchronizer` does on the wire.
//!
//! A synchronizer is a persister whose storage is the set of other peers: `load` pulls what
//! the peers have (content hashes → table → row → cell diffs, then value diffs) and applies it;
//! `save` announces this store's hashes; auto-save sends each local transaction's changes as a
//! `ContentDiff`; auto-load applies what peers announce or send.
//!
//! # Threads
//! Calls that wait for peers (`load`, `start_auto_load`, `start_sync`) block the calling thread
//! until the pull finishes or its requests time out (`request_timeout`, 1 s by default, per
//! request). Never call them from the thread that delivers messages to this synchronizer (a
//! transport's reader): that thread must stay free to deliver the responses. Incoming requests
//! are answered on the delivering thread; incoming changes are applied there too, so store
//! listeners fire on it. Request timeouts are driven by one shared timer thread. Auto-save sends
//! from the thread that finished the transaction.
//!
//! ```
//! use std::sync::Arc;
//! use tinystore_core::MergeableStore;
//! use tinystore_core::sync::{LocalBus, Synchronizer};
//!
//! let bus = LocalBus::new();
//! let (a, b) = (MergeableStore::new(None), MergeableStore::new(None));
//! let sa = bus.synchronizer(&a);
//! let sb = bus.synchronizer(&b);
//! sa.start_sync(None);
//! sb.start_sync(None);
//! a.set_cell("pets", "fido", "species", "dog");
//! bus.flush();
//! assert_eq!(b.get_cell("pets", "fido", "species"), a.get_cell("pets", "fido", "species"));
//! ```

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use super::protocol::{self, ContentDiff, Message, MessageType};
use crate::content::{Tables, Values};
use crate::mergeable::MergeableStore;
use crate::status::{Stats, Status, StatusCell};
use crate::store::ListenerId;

mod bodies;
mod error;
mod pull;
mod receive;
mod save;
mod timer;

pub use error::{Received, SyncError, SyncErrorKind};
use pull::Engine;

/// The request timeout TinyBase uses by default.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(1);

/// Carries a synchronizer's encoded messages to its peers.
///
/// `send` must not block on the network and must not deliver to any synchronizer on the
/// calling thread (queue the message instead): it is called from store listeners and while
/// answering other peers.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use tinystore_core::MergeableStore;
/// use tinystore_core::sync::protocol::MessageType;
/// use tinystore_core::sync::{Synchronizer, Transport};
///
/// /// Keeps what it is given; a real transport queues it for its socket.
/// #[derive(Default)]
/// struct Outbox(Mutex<Vec<(Option<String>, MessageType)>>);
///
/// impl Transport for Outbox {
///     fn send(&self, to: Option<&str>, message: MessageType, _remainder: String) {
///         self.0.lock().unwrap().push((to.map(str::to_string), message));
///     }
/// }
///
/// let outbox = Arc::new(Outbox::default());
/// let sync = Synchronizer::new(&MergeableStore::new(None), outbox.clone());
/// sync.save();
/// assert_eq!(*outbox.0.lock().unwrap(), [(None, MessageType::ContentHashes)]);
/// ```
pub trait Transport: Send + Sync + 'static {
    /// Sends `remainder` (`[requestId, message, body]`, of type `message`) to peer `to`, or to
    /// every peer when `to` is `None`. The type is given so that a transport never re-parses
    /// what the synchronizer just wrote (a reconnecting client, say, drops announcements that
    /// a full exchange will cover).
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use tinystore_core::MergeableStore;
    /// use tinystore_core::sync::protocol::{MessageType, decode_message};
    /// use tinystore_core::sync::{Synchronizer, Transport};
    ///
    /// struct Last(Mutex<String>);
    ///
    /// impl Transport for Last {
    ///     fn send(&self, _to: Option<&str>, _message: MessageType, remainder: String) {
    ///         *self.0.lock().unwrap() = remainder;
    ///     }
    /// }
    ///
    /// let last = Arc::new(Last(Mutex::new(String::new())));
    /// let sync = Synchronizer::new(&MergeableStore::new(None), last.clone());
    /// sync.save();
    /// let sent = decode_message(&last.0.lock().unwrap()).unwrap();
    /// assert_eq!(sent.message, MessageType::ContentHashes);
    /// ```
    fn send(&self, to: Option<&str>, message: MessageType, remainder: String);

    /// The synchronizer was destroyed: release the medium (close a socket, leave a bus).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use tinystore_core::MergeableStore;
    /// use tinystore_core::sync::protocol::MessageType;
    /// use tinystore_core::sync::{Synchronizer, Transport};
    ///
    /// struct Socket { open: AtomicBool }
    ///
    /// impl Transport for Socket {
    ///     fn send(&self, _: Option<&str>, _: MessageType, _: String) {}
    ///     fn close(&self) {
    ///         self.open.store(false, Ordering::SeqCst);
    ///     }
    /// }
    ///
    /// let socket = Arc::new(Socket { open: AtomicBool::new(true) });
    /// let sync = Synchronizer::new(&MergeableStore::new(None), socket.clone());
    /// sync.destroy();
    /// assert!(!socket.open.load(Ordering::SeqCst));
    /// ```
    fn close(&self) {}
}

/// `{sends, receives}`: messages sent and received.
///
/// ```
/// use tinystore_core::MergeableStore;
/// use tinystore_core::sync::{LocalBus, SynchronizerStats};
///
/// let sync = LocalBus::new().synchronizer(&MergeableStore::new(None));
/// sync.save();
/// assert_eq!(sync.get_synchronizer_stats(), SynchronizerStats { sends: 1, receives: 0 });
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SynchronizerStats {
    /// Messages sent.
    pub sends: u64,
    /// Valid messages received.
    pub receives: u64,
}

/// Observes each message sent: `(to, request_id, message, body_json)`.
pub type SendHook = Arc<dyn Fn(Option<&str>, Option<&str>, MessageType, &str) + Send + Sync>;
/// Observes each message received: `(from, message)`.
pub type ReceiveHook = Arc<dyn Fn(&str, &Message) + Send + Sync>;
/// Receives errors that have no caller to return to.
pub type ErrorHook = Arc<dyn Fn(&SyncError) + Send + Sync>;

/// Options of a synchronizer (TinyBase's `requestTimeoutSeconds`, `onSend`, `onReceive`,
/// `onIgnoredError`).
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use tinystore_core::MergeableStore;
/// use tinystore_core::sync::protocol::MessageType;
/// use tinystore_core::sync::{LocalBus, SynchronizerOptions};
///
/// let sent = Arc::new(Mutex::new(Vec::new()));
/// let log = sent.clone();
/// let options = SynchronizerOptions {
///     on_send: Some(Arc::new(move |_: Option<&str>, _: Option<&str>, m: MessageType, _: &str| {
///         log.lock().unwrap().push(m);
///     })),
///     ..SynchronizerOptions::default()
/// };
/// let sync = LocalBus::new().synchronizer_with_options(&MergeableStore::new(None), options);
/// sync.save();
/// assert_eq!(*sent.lock().unwrap(), [MessageType::ContentHashes]);
/// ```
#[derive(Clone, Default)]
pub struct SynchronizerOptions {
    /// How long each request waits for its response (default 1 s).
    pub request_timeout: Option<Duration>,
    /// Called for every message sent.
    pub on_send: Option<SendHook>,
    /// Called for every valid message received.
    pub on_receive: Option<ReceiveHook>,
    /// Called with errors of background work.
    pub on_ignored_error: Option<ErrorHook>,
}

impl std::fmt::Debug for SynchronizerOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SynchronizerOptions")
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

// ---------------------------------------------------------------------------------- synchronizer

struct Inner {
    store: MergeableStore,
    transport: Arc<dyn Transport>,
    timeout: Duration,
    on_send: Option<SendHook>,
    on_receive: Option<ReceiveHook>,
    on_ignored_error: Option<ErrorHook>,
    engine: Mutex<Engine>,
    done: Condvar,
    syncing: AtomicBool,
    auto_loading: AtomicBool,
    destroyed: AtomicBool,
    auto_save: Mutex<Option<ListenerId>>,
    /// Status, its listeners, and the load/save counts.
    status: StatusCell,
    sends: AtomicU64,
    receives: AtomicU64,
}

/// Keeps a MergeableStore in sync with peers over a [`Transport`]; see the
/// [module documentation](self). Cheap to clone (a handle).
///
/// ```
/// use tinystore_core::MergeableStore;
/// use tinystore_core::sync::LocalBus;
///
/// let sync = LocalBus::new().synchronizer(&MergeableStore::new(None));
/// // A clone is the same synchronizer.
/// sync.clone().start_auto_save();
/// assert!(sync.is_auto_saving());
/// ```
#[derive(Clone)]
pub struct Synchronizer {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Synchronizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Synchronizer")
            .field("status", &self.get_status())
            .field("stats", &self.get_synchronizer_stats())
            .finish_non_exhaustive()
    }
}

/// A handle that does not keep a [`Synchronizer`] alive (for transports that hold their
/// synchronizer).
///
/// ```
/// use tinystore_core::MergeableStore;
/// use tinystore_core::sync::{LocalBus, WeakSynchronizer};
///
/// let bus = LocalBus::new();
/// let sync = bus.synchronizer(&MergeableStore::new(None));
/// let weak: WeakSynchronizer = sync.downgrade();
/// assert!(weak.upgrade().is_some());
/// drop(sync);
/// assert!(weak.upgrade().is_none());
/// ```
#[derive(Clone, Debug)]
pub struct WeakSynchronizer {
    inner: Weak<Inner>,
}

impl WeakSynchronizer {
    /// The synchronizer, if it still exists.
    ///
    /// ```
    /// use tinystore_core::MergeableStore;
    /// use tinystore_core::sync::LocalBus;
    ///
    /// let bus = LocalBus::new();
    /// let sync = bus.synchronizer(&MergeableStore::new(None));
    /// let weak = sync.downgrade();
    /// weak.upgrade().unwrap().start_auto_save();
    /// assert!(sync.is_auto_saving());
    /// ```
    pub fn upgrade(&self) -> Option<Synchronizer> {
        self.inner.upgrade().map(|inner| Synchronizer { inner })
    }
}

impl Synchronizer {
    /// A handle that does not keep this synchronizer alive.
    ///
    /// ```
    /// use tinystore_core::MergeableStore;
    /// use tinystore_core::sync::LocalBus;
    ///
    /// let bus = LocalBus::new();
    /// let sync = bus.synchronizer(&MergeableStore::new(None));
    /// let weak = sync.downgrade();
    /// drop(sync);
    /// assert!(weak.upgrade().is_none());
    /// ```
    pub fn downgrade(&self) -> WeakSynchronizer {
        WeakSynchronizer {
            inner: Arc::downgrade(&self.inner),
        }
    }

    /// A synchronizer of `store` over `transport` with default options.
    ///
    /// ```
    /// # use tinystore_core::sync::{Transport, protocol::MessageType};
    /// # struct Nowhere;
    /// # impl Transport for Nowhere {
    /// #     fn send(&self, _: Option<&str>, _: MessageType, _: String) {}
    /// # }
    /// use std::sync::Arc;
    /// use tinystore_core::MergeableStore;
    /// use tinystore_core::status::Status;
    /// use tinystore_core::sync::Synchronizer;
    ///
    /// // `Nowhere` is a `Transport` that drops every message.
    /// let sync = Synchronizer::new(&MergeableStore::new(None), Arc::new(Nowhere));
    /// assert_eq!(sync.get_status(), Status::Idle);
    /// assert!(!sync.is_auto_loading() && !sync.is_auto_saving());
    /// ```
    pub fn new(store: &MergeableStore, transport: Arc<dyn Transport>) -> Synchronizer {
        Self::with_options(store, transport, SynchronizerOptions::default())
    }

    /// A synchronizer with options.
    ///
    /// ```
    /// # use tinystore_core::sync::{Transport, protocol::MessageType};
    /// # struct Nowhere;
    /// # impl Transport for Nowhere {
    /// #     fn send(&self, _: Option<&str>, _: MessageType, _: String) {}
    /// # }
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use tinystore_core::MergeableStore;
    /// use tinystore_core::sync::{Synchronizer, SynchronizerOptions};
    ///
    /// let options = SynchronizerOptions {
    ///     request_timeout: Some(Duration::from_millis(10)),
    ///     ..SynchronizerOptions::default()
    /// };
    /// // `Nowhere` drops every message, so the load's request times out after 10 ms.
    /// let store = MergeableStore::new(None);
    /// let sync = Synchronizer::with_options(&store, Arc::new(Nowhere), options);
    /// sync.load(None);
    /// assert_eq!(sync.get_stats().loads, 1);
    /// ```
    pub fn with_options(
        store: &MergeableStore,
        transport: Arc<dyn Transport>,
        options: SynchronizerOptions,
    ) -> Synchronizer {
        Synchronizer {
            inner: Arc::new(Inner {
                store: store.clone(),
                transport,
                timeout: options.request_timeout.unwrap_or(DEFAULT_REQUEST_TIMEOUT),
                on_send: options.on_send,
                on_receive: options.on_receive,
                on_ignored_error: options.on_ignored_error,
                engine: Mutex::new(Engine::default()),
                done: Condvar::new(),
                syncing: AtomicBool::new(false),
                auto_loading: AtomicBool::new(false),
                destroyed: AtomicBool::new(false),
                auto_save: Mutex::new(None),
                status: StatusCell::default(),
                sends: AtomicU64::new(0),
                receives: AtomicU64::new(0),
            }),
        }
    }

    /// The store being synchronized.
    ///
    /// ```
    /// use tinystore_core::MergeableStore;
    /// use tinystore_core::sync::LocalBus;
    ///
    /// let store = MergeableStore::new(None);
    /// let sync = LocalBus::new().synchronizer(&store);
    /// sync.get_store().set_value("open", true);
    /// assert_eq!(store.get_value("open"), Some(true.into()));
    /// ```
    pub fn get_store(&self) -> &MergeableStore {
        &self.inner.store
    }

    /// Starts syncing: auto-load (a pull from the peers, falling back to `initial` as default
    /// content when nobody answers or nobody has anything), then auto-save (announces this
    /// store's hashes, then sends every transaction's changes). Blocks during the pull.
    ///
    /// ```
    /// use tinystore_core::content::{Tables, values_from_json};
    /// use tinystore_core::MergeableStore;
    /// use tinystore_core::sync::LocalBus;
    ///
    /// let bus = LocalBus::new();
    /// let (a, b) = (MergeableStore::new(None), MergeableStore::new(None));
    /// let sa = bus.synchronizer(&a);
    /// sa.start_sync_detached(None);
    /// // `a` answers, but has nothing: `b` starts from its defaults, which then reach `a`.
    /// let defaults = values_from_json(&serde_json::json!({"open": true}), false)?;
    /// let sb = bus.synchronizer(&b);
    /// sb.start_sync(Some((&Tables::new(), &defaults)));
    /// assert_eq!(b.get_value("open"), Some(true.into()));
    /// bus.flush();
    /// assert_eq!(a.get_value("open"), Some(true.into()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn start_sync(&self, initial: Option<(&Tables, &Values)>) -> &Self {
        self.inner.syncing.store(true, Ordering::SeqCst);
        self.start_auto_load(initial);
        self.start_auto_save();
        self
    }

    /// [`start_sync`](Self::start_sync) without waiting: auto-load and auto-save are on when
    /// it returns, and the initial pull finishes in the background. For callers that must not
    /// block, such as a server starting a room while the room's messages are held for it.
    ///
    /// ```
    /// use tinystore_core::MergeableStore;
    /// use tinystore_core::sync::LocalBus;
    ///
    /// let bus = LocalBus::new();
    /// let sync = bus.synchronizer(&MergeableStore::new(None));
    /// // Returns at once although no peer will answer its pull.
    /// sync.start_sync_detached(None);
    /// assert!(sync.is_auto_loading() && sync.is_auto_saving());
    /// ```
    pub fn start_sync_detached(&self, initial: Option<(&Tables, &Values)>) -> &Self {
        self.inner.syncing.store(true, Ordering::SeqCst);
        self.inner.auto_loading.store(true, Ordering::SeqCst);
        let initial = initial.map(|(t, v)| (t.clone(), v.clone()));
        self.inner.start_load(initial, false);
        self.start_auto_save()
    }

    /// Stops syncing (auto-load and auto-save).
    ///
    /// ```
    /// use tinystore_core::MergeableStore;
    /// use tinystore_core::sync::LocalBus;
    ///
    /// let bus = LocalBus::new();
    /// let sync = bus.synchronizer(&MergeableStore::new(None));
    /// sync.start_sync_detached(None).stop_sync();
    /// assert!(!sync.is_auto_loading() && !sync.is_auto_saving());
    /// ```
    pub fn stop_sync(&self) -> &Self {
        self.inner.syncing.store(false, Ordering::SeqCst);
        self.stop_auto_load();
        self.stop_auto_save();
        self
    }

    /// Stops syncing, rejects pending requests and releases the transport.
    ///
    /// ```
    /// use tinystore_core::MergeableStore;
    /// use tinystore_core::sync::LocalBus;
    ///
    /// let bus = LocalBus::new();
    /// let sync = bus.synchronizer(&MergeableStore::new(None));
    /// sync.start_sync_detached(None);
    /// sync.destroy();
    /// assert!(sync.is_destroyed() && !sync.is_auto_saving());
    /// // The local transport left the bus.
    /// assert!(bus.client_ids().is_empty());
    /// ```
    pub fn destroy(&self) {
        if self.inner.destroyed.swap(true, Ordering::SeqCst) {
            return;
        }
        let mut effects = Vec::new();
        {
            let mut engine = lock(&self.inner.engine);
            let ids: Vec<u64> = engine.pulls.keys().copied().collect();
            for id in ids {
                engine.fail(id, SyncError::Destroyed, &mut effects);
            }
        }
        self.inner.run(effects);
        self.stop_sync();
        self.inner.transport.close();
        self.inner.done.notify_all();
    }

    /// Whether [`destroy`](Self::destroy) was called.
    ///
    /// ```
    /// use tinystore_core::MergeableStore;
    /// use tinystore_core::sync::LocalBus;
    ///
    /// let sync = LocalBus::new().synchronizer(&MergeableStore::new(None));
    /// assert!(!sync.is_destroyed());
    /// sync.destroy();
    /// assert!(sync.is_destroyed());
    /// ```
    pub fn is_destroyed(&self) -> bool {
        self.inner.destroyed.load(Ordering::SeqCst)
    }

    /// Pulls what the peers have and applies it; blocks until done. With nothing to pull (or
    /// no answer), `initial` becomes the default content.
    ///
    /// ```
    /// use tinystore_core::MergeableStore;
    /// use tinystore_core::sync::LocalBus;
    ///
    /// let bus = LocalBus::new();
    /// let (a, b) = (MergeableStore::new(None), MergeableStore::new(None));
    /// a.set_cell("pets", "fido", "legs", 4.0);
    /// let sa = bus.synchronizer(&a);
    /// sa.start_sync_detached(None);
    /// let sb = bus.synchronizer(&b);
    /// sb.load(None);
    /// assert_eq!(b.get_cell("pets", "fido", "legs"), Some(4.0.into()));
    /// // A load is once: later changes of `a` are not applied (that is auto-load).
    /// a.set_cell("pets", "fido", "legs", 3.0);
    /// bus.flush();
    /// assert_eq!(b.get_cell("pets", "fido", "legs"), Some(4.0.into()));
    /// ```
    pub fn load(&self, initial: Option<(&Tables, &Values)>) -> &Self {
        let initial = initial.map(|(t, v)| (t.clone(), v.clone()));
        let waiter = self.inner.start_load(initial, true);
        if let Some(waiter) = waiter {
            self.inner.wait_for(waiter);
        }
        self
    }

    /// Announces this store's content hashes to every peer (peers that differ then pull).
    ///
    /// ```
    /// use tinystore_core::MergeableStore;
    /// use tinystore_core::sync::LocalBus;
    ///
    /// let bus = LocalBus::new();
    /// let (a, b) = (MergeableStore::new(None), MergeableStore::new(None));
    /// let sb = bus.synchronizer(&b);
    /// sb.start_sync_detached(None);
    /// let sa = bus.synchronizer(&a);
    /// a.set_cell("pets", "fido", "legs", 4.0);
    /// // `b` learns that `a` differs and pulls the difference.
    /// sa.save();
    /// bus.flush();
    /// assert_eq!(b.get_cell("pets", "fido", "legs"), Some(4.0.into()));
    /// ```
    pub fn save(&self) -> &Self {
        self.inner.save_hashes();
        self
    }

    /// Loads, then applies whatever peers announce or send from now on.
    ///
    /// ```
    /// use tinystore_core::MergeableStore;
    /// use tinystore_core::sync::LocalBus;
    ///
    /// let bus = LocalBus::new();
    /// let (a, b) = (MergeableStore::new(None), MergeableStore::new(None));
    /// let sa = bus.synchronizer(&a);
    /// sa.start_sync_detached(None);
    /// let sb = bus.synchronizer(&b);
    /// sb.start_auto_load(None);
    /// a.set_value("open", true);
    /// b.set_value("closed", true);
    /// bus.flush();
    /// assert_eq!(b.get_value("open"), Some(true.into()));
    /// // `b` only loads: its own changes stay local.
    /// assert_eq!(a.get_value("closed"), None);
    /// ```
    pub fn start_auto_load(&self, initial: Option<(&Tables, &Values)>) -> &Self {
        self.inner.auto_loading.store(true, Ordering::SeqCst);
        self.load(initial)
    }

    /// Stops applying what peers send.
    ///
    /// ```
    /// use tinystore_core::MergeableStore;
    /// use tinystore_core::sync::LocalBus;
    ///
    /// let bus = LocalBus::new();
    /// let (a, b) = (MergeableStore::new(None), MergeableStore::new(None));
    /// let sa = bus.synchronizer(&a);
    /// sa.start_sync_detached(None);
    /// let sb = bus.synchronizer(&b);
    /// sb.start_auto_load(None).stop_auto_load();
    /// a.set_value("open", true);
    /// bus.flush();
    /// assert!(!sb.is_auto_loading());
    /// assert_eq!(b.get_value("open"), None);
    /// ```
    pub fn stop_auto_load(&self) -> &Self {
        self.inner.auto_loading.store(false, Ordering::SeqCst);
        self
    }

    /// Whether auto-load is on.
    ///
    /// ```
    /// use tinystore_core::MergeableStore;
    /// use tinystore_core::sync::LocalBus;
    ///
    /// let sync = LocalBus::new().synchronizer(&MergeableStore::new(None));
    /// assert!(!sync.is_auto_loading());
    /// sync.start_sync_detached(None);
    /// assert!(sync.is_auto_loading());
    /// ```
    pub fn is_auto_loading(&self) -> bool {
        self.inner.auto_loading.load(Ordering::SeqCst)
    }

    /// Saves, then sends every transaction's changes to the peers.
    ///
    /// ```
    /// use tinystore_core::MergeableStore;
    /// use tinystore_core::sync::LocalBus;
    ///
    /// let bus = LocalBus::new();
    /// let (a, b) = (MergeableStore::new(None), MergeableStore::new(None));
    /// let sb = bus.synchronizer(&b);
    /// sb.start_sync_detached(None);
    /// let sa = bus.synchronizer(&a);
    /// sa.start_auto_save();
    /// a.set_cell("pets", "fido", "legs", 4.0);
    /// bus.flush();
    /// assert_eq!(b.get_cell("pets", "fido", "legs"), Some(4.0.into()));
    /// ```
    pub fn start_auto_save(&self) -> &Self {
        self.save();
        let mut slot = lock(&self.inner.auto_save);
        if slot.is_none() {
            let weak = Arc::downgrade(&self.inner);
            let id = self
                .inner
                .store
                .add_did_finish_transaction_listener(move |_| {
                    if let Some(inner) = weak.upgrade() {
                        inner.auto_save();
                    }
                });
            *slot = Some(id);
        }
        self
    }

    /// Stops sending changes.
    ///
    /// ```
    /// use tinystore_core::MergeableStore;
    /// use tinystore_core::sync::LocalBus;
    ///
    /// let bus = LocalBus::new();
    /// let (a, b) = (MergeableStore::new(None), MergeableStore::new(None));
    /// let sb = bus.synchronizer(&b);
    /// sb.start_sync_detached(None);
    /// let sa = bus.synchronizer(&a);
    /// sa.start_auto_save().stop_auto_save();
    /// // Let the hash exchange that `start_auto_save` began finish first.
    /// bus.flush();
    /// a.set_cell("pets", "fido", "legs", 4.0);
    /// bus.flush();
    /// assert!(!sa.is_auto_saving());
    /// assert_eq!(b.get_cell("pets", "fido", "legs"), None);
    /// ```
    pub fn stop_auto_save(&self) -> &Self {
        if let Some(id) = lock(&self.inner.auto_save).take() {
            self.inner.store.del_listener(id);
        }
        self
    }

    /// Whether auto-save is on.
    ///
    /// ```
    /// use tinystore_core::MergeableStore;
    /// use tinystore_core::sync::LocalBus;
    ///
    /// let sync = LocalBus::new().synchronizer(&MergeableStore::new(None));
    /// sync.start_auto_save();
    /// assert!(sync.is_auto_saving());
    /// sync.stop_auto_save();
    /// assert!(!sync.is_auto_saving());
    /// ```
    pub fn is_auto_saving(&self) -> bool {
        lock(&self.inner.auto_save).is_some()
    }

    /// Auto-load then auto-save (TinyBase's `startAutoPersisting`).
    ///
    /// ```
    /// use tinystore_core::MergeableStore;
    /// use tinystore_core::sync::LocalBus;
    ///
    /// let bus = LocalBus::new();
    /// let (a, b) = (MergeableStore::new(None), MergeableStore::new(None));
    /// let sa = bus.synchronizer(&a);
    /// sa.start_sync_detached(None);
    /// let sb = bus.synchronizer(&b);
    /// sb.start_auto_persisting(None);
    /// b.set_value("open", true);
    /// bus.flush();
    /// assert!(sb.is_auto_loading() && sb.is_auto_saving());
    /// assert_eq!(a.get_value("open"), Some(true.into()));
    /// ```
    pub fn start_auto_persisting(&self, initial: Option<(&Tables, &Values)>) -> &Self {
        self.start_auto_load(initial).start_auto_save()
    }

    /// Stops both.
    ///
    /// ```
    /// use tinystore_core::MergeableStore;
    /// use tinystore_core::sync::LocalBus;
    ///
    /// let sync = LocalBus::new().synchronizer(&MergeableStore::new(None));
    /// sync.start_sync_detached(None);
    /// sync.stop_auto_persisting();
    /// assert!(!sync.is_auto_loading() && !sync.is_auto_saving());
    /// ```
    pub fn stop_auto_persisting(&self) -> &Self {
        self.stop_auto_load().stop_auto_save()
    }

    /// Idle, loading or saving.
    ///
    /// ```
    /// use tinystore_core::MergeableStore;
    /// use tinystore_core::status::Status;
    /// use tinystore_core::sync::LocalBus;
    ///
    /// let sync = LocalBus::new().synchronizer(&MergeableStore::new(None));
    /// // Between loads and saves.
    /// assert_eq!(sync.get_status(), Status::Idle);
    /// ```
    pub fn get_status(&self) -> Status {
        self.inner.status.get()
    }

    /// Calls `listener` on every status change; returns an id for [`Self::del_listener`].
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use tinystore_core::MergeableStore;
    /// use tinystore_core::status::Status;
    /// use tinystore_core::sync::LocalBus;
    ///
    /// let sync = LocalBus::new().synchronizer(&MergeableStore::new(None));
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let log = seen.clone();
    /// sync.add_status_listener(move |status| log.lock().unwrap().push(status));
    /// sync.save();
    /// assert_eq!(*seen.lock().unwrap(), [Status::Saving, Status::Idle]);
    /// ```
    pub fn add_status_listener(&self, listener: impl Fn(Status) + Send + Sync + 'static) -> u64 {
        self.inner.status.add_listener(listener)
    }

    /// Removes a status listener.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use tinystore_core::MergeableStore;
    /// use tinystore_core::sync::LocalBus;
    ///
    /// let sync = LocalBus::new().synchronizer(&MergeableStore::new(None));
    /// let calls = Arc::new(AtomicUsize::new(0));
    /// let count = calls.clone();
    /// let id = sync.add_status_listener(move |_| {
    ///     count.fetch_add(1, Ordering::SeqCst);
    /// });
    /// sync.del_listener(id).save();
    /// assert_eq!(calls.load(Ordering::SeqCst), 0);
    /// ```
    pub fn del_listener(&self, id: u64) -> &Self {
        self.inner.status.del_listener(id);
        self
    }

    /// `{loads, saves}`.
    ///
    /// ```
    /// use tinystore_core::MergeableStore;
    /// use tinystore_core::status::Stats;
    /// use tinystore_core::sync::LocalBus;
    ///
    /// let sync = LocalBus::new().synchronizer(&MergeableStore::new(None));
    /// sync.save().save();
    /// assert_eq!(sync.get_stats(), Stats { loads: 0, saves: 2 });
    /// ```
    pub fn get_stats(&self) -> Stats {
        self.inner.status.stats()
    }

    /// `{sends, receives}`.
    ///
    /// ```
    /// use tinystore_core::MergeableStore;
    /// use tinystore_core::sync::LocalBus;
    ///
    /// let bus = LocalBus::new();
    /// let (a, b) = (MergeableStore::new(None), MergeableStore::new(None));
    /// let (sa, sb) = (bus.synchronizer(&a), bus.synchronizer(&b));
    /// sb.save();
    /// bus.flush();
    /// assert_eq!(sb.get_synchronizer_stats().sends, 1);
    /// // Counted even though `a` is not syncing and ignores the announcement.
    /// assert_eq!(sa.get_synchronizer_stats().receives, 1);
    /// ```
    pub fn get_synchronizer_stats(&self) -> SynchronizerStats {
        SynchronizerStats {
            sends: self.inner.sends.load(Ordering::SeqCst),
            receives: self.inner.receives.load(Ordering::SeqCst),
        }
    }

    /// Handles a message from peer `from` (transports call this from their reader).
    ///
    /// ```
    /// use tinystore_core::MergeableStore;
    /// use tinystore_core::sync::LocalBus;
    /// use tinystore_core::sync::protocol::decode_message;
    ///
    /// let store = MergeableStore::new(None);
    /// let sync = LocalBus::new().synchronizer(&store);
    /// sync.start_sync_detached(None);
    /// // A peer's ContentDiff setting the value `open`.
    /// let text = r#"["tx",3,[[{}],[{"open":[true,"NjEtLV-----mmxrx"]}],1]]"#;
    /// sync.receive("peer", decode_message(text).unwrap());
    /// assert_eq!(store.get_value("open"), Some(true.into()));
    /// ```
    pub fn receive(&self, from: &str, message: Message) {
        self.inner.receive(from, message);
    }

    /// Decodes and handles an encoded message; an invalid one is reported as
    /// [`SyncError::InvalidMessage`] and dropped.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use tinystore_core::MergeableStore;
    /// use tinystore_core::sync::synchronizer::{SyncError, SyncErrorKind};
    /// use tinystore_core::sync::{LocalBus, SynchronizerOptions};
    ///
    /// let errors = Arc::new(Mutex::new(Vec::new()));
    /// let log = errors.clone();
    /// let options = SynchronizerOptions {
    ///     on_ignored_error: Some(Arc::new(move |e: &SyncError| {
    ///         log.lock().unwrap().push(e.kind());
    ///     })),
    ///     ..SynchronizerOptions::default()
    /// };
    /// let store = MergeableStore::new(None);
    /// let sync = LocalBus::new().synchronizer_with_options(&store, options);
    /// sync.start_sync_detached(None);
    /// sync.receive_encoded("peer", r#"["tx",3,[[{}],[{"open":[true,"NjEtLV-----mmxrx"]}],1]]"#);
    /// assert_eq!(store.get_value("open"), Some(true.into()));
    /// sync.receive_encoded("peer", "not a message");
    /// assert_eq!(*errors.lock().unwrap(), [SyncErrorKind::InvalidMessage]);
    /// ```
    pub fn receive_encoded(&self, from: &str, remainder: &str) {
        match protocol::decode_message(remainder) {
            Some(m) => self.inner.receive(from, m),
            None => self.inner.report(&SyncError::InvalidMessage),
        }
    }

    /// Handles an encoded message that was already validated (a server checks every message
    /// before it relays it): a ContentDiff's changes are read from the text straight into
    /// their stamp tree, without the JSON tree [`receive_encoded`](Self::receive_encoded)
    /// builds (many times the text's size); any other message as there.
    ///
    /// ```
    /// use tinystore_core::MergeableStore;
    /// use tinystore_core::sync::LocalBus;
    /// use tinystore_core::sync::protocol::decode_message;
    ///
    /// let store = MergeableStore::new(None);
    /// let sync = LocalBus::new().synchronizer(&store);
    /// sync.start_sync_detached(None);
    /// let text = r#"["tx",3,[[{"pets":[{"fido":[{"legs":[4,"NjEtLV-----mmxrx"]}]}]}],[{}],1]]"#;
    /// // What a server does: validate once, then hand over the text.
    /// assert!(decode_message(text).is_some());
    /// sync.receive_validated("peer", text);
    /// assert_eq!(store.get_cell("pets", "fido", "legs"), Some(4.0.into()));
    /// ```
    pub fn receive_validated(&self, from: &str, remainder: &str) {
        match protocol::content_diff_body(remainder) {
            Some(body) if self.inner.on_receive.is_none() => self
                .inner
                .receive_changes(from, |store| store.read_changes_json(body)),
            _ => self.receive_encoded(from, remainder),
        }
    }

    /// Handles a ContentDiff whose changes a server already read into their stamp tree while
    /// validating it ([`ContentDiff::from_remainder`]): applied without another parse.
    ///
    /// ```
    /// use tinystore_core::MergeableStore;
    /// use tinystore_core::sync::{LocalBus, protocol::ContentDiff};
    /// let store = MergeableStore::new(None);
    /// let sync = LocalBus::new().synchronizer(&store);
    /// sync.start_sync_detached(None);
    /// let text = r#"["tx",3,[[{"t":[{"r":[{"c":[1,"NjEtLV-----mmxrx"]}]}]}],[{}],1]]"#;
    /// sync.receive_content_diff("peer", ContentDiff::from_remainder(text).unwrap());
    /// assert_eq!(store.get_cell("t", "r", "c"), Some(1.into()));
    /// ```
    pub fn receive_content_diff(&self, from: &str, diff: ContentDiff) {
        if self.inner.on_receive.is_some() {
            // The hook is shown the message as JSON, as TinyBase's `onReceive` is.
            return self.receive_encoded(from, &diff.encode());
        }
        let changes = diff.changes;
        self.inner.receive_changes(from, |_| Ok(changes));
    }

    /// Expires requests whose deadline passed (the shared timer does this; transports and tests
    /// may call it too).
    ///
    /// ```
    /// # use tinystore_core::sync::{Transport, protocol::MessageType};
    /// # struct Nowhere;
    /// # impl Transport for Nowhere {
    /// #     fn send(&self, _: Option<&str>, _: MessageType, _: String) {}
    /// # }
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use tinystore_core::MergeableStore;
    /// use tinystore_core::sync::synchronizer::{SyncError, SyncErrorKind};
    /// use tinystore_core::sync::{Synchronizer, SynchronizerOptions};
    ///
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// let options = SynchronizerOptions {
    ///     request_timeout: Some(Duration::ZERO),
    ///     on_ignored_error: Some(Arc::new(move |e: &SyncError| {
    ///         let _ = tx.send(e.kind());
    ///     })),
    ///     ..SynchronizerOptions::default()
    /// };
    /// // `Nowhere` drops every message: the pull's first request is never answered.
    /// let store = MergeableStore::new(None);
    /// let sync = Synchronizer::with_options(&store, Arc::new(Nowhere), options);
    /// sync.start_sync_detached(None);
    /// sync.tick();
    /// // Reported by this tick or by the shared timer, whichever came first.
    /// assert_eq!(rx.recv_timeout(Duration::from_secs(5))?, SyncErrorKind::NoResponse);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn tick(&self) {
        self.inner.tick(Instant::now());
    }
}

impl Inner {
    fn report(&self, e: &SyncError) {
        if let Some(f) = &self.on_ignored_error {
            f(e);
        }
    }

    fn set_status(&self, status: Status) {
        self.status.set(status);
    }
}

thread_local! {
    /// Set while this thread applies incoming changes, so the auto-save listener does not echo
    /// them back to the peers.
    static APPLYING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}
