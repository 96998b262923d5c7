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
pub trait Transport: Send + Sync + 'static {
    /// Sends `remainder` (`[requestId, message, body]`, of type `message`) to peer `to`, or to
    /// every peer when `to` is `None`. The type is given so that a transport never re-parses
    /// what the synchronizer just wrote (a reconnecting client, say, drops announcements that
    /// a full exchange will cover).
    fn send(&self, to: Option<&str>, message: MessageType, remainder: String);

    /// The synchronizer was destroyed: release the medium (close a socket, leave a bus).
    fn close(&self) {}
}

/// `{sends, receives}`: messages sent and received.
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
#[derive(Clone, Debug)]
pub struct WeakSynchronizer {
    inner: Weak<Inner>,
}

impl WeakSynchronizer {
    /// The synchronizer, if it still exists.
    pub fn upgrade(&self) -> Option<Synchronizer> {
        self.inner.upgrade().map(|inner| Synchronizer { inner })
    }
}

impl Synchronizer {
    /// A handle that does not keep this synchronizer alive.
    pub fn downgrade(&self) -> WeakSynchronizer {
        WeakSynchronizer {
            inner: Arc::downgrade(&self.inner),
        }
    }

    /// A synchronizer of `store` over `transport` with default options.
    pub fn new(store: &MergeableStore, transport: Arc<dyn Transport>) -> Synchronizer {
        Self::with_options(store, transport, SynchronizerOptions::default())
    }

    /// A synchronizer with options.
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
    pub fn get_store(&self) -> &MergeableStore {
        &self.inner.store
    }

    /// Starts syncing: auto-load (a pull from the peers, falling back to `initial` as default
    /// content when nobody answers or nobody has anything), then auto-save (announces this
    /// store's hashes, then sends every transaction's changes). Blocks during the pull.
    pub fn start_sync(&self, initial: Option<(&Tables, &Values)>) -> &Self {
        self.inner.syncing.store(true, Ordering::SeqCst);
        self.start_auto_load(initial);
        self.start_auto_save();
        self
    }

    /// [`start_sync`](Self::start_sync) without waiting: auto-load and auto-save are on when
    /// it returns, and the initial pull finishes in the background. For callers that must not
    /// block, such as a server starting a room while the room's messages are held for it.
    pub fn start_sync_detached(&self, initial: Option<(&Tables, &Values)>) -> &Self {
        self.inner.syncing.store(true, Ordering::SeqCst);
        self.inner.auto_loading.store(true, Ordering::SeqCst);
        let initial = initial.map(|(t, v)| (t.clone(), v.clone()));
        self.inner.start_load(initial, false);
        self.start_auto_save()
    }

    /// Stops syncing (auto-load and auto-save).
    pub fn stop_sync(&self) -> &Self {
        self.inner.syncing.store(false, Ordering::SeqCst);
        self.stop_auto_load();
        self.stop_auto_save();
        self
    }

    /// Stops syncing, rejects pending requests and releases the transport.
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
    pub fn is_destroyed(&self) -> bool {
        self.inner.destroyed.load(Ordering::SeqCst)
    }

    /// Pulls what the peers have and applies it; blocks until done. With nothing to pull (or
    /// no answer), `initial` becomes the default content.
    pub fn load(&self, initial: Option<(&Tables, &Values)>) -> &Self {
        let initial = initial.map(|(t, v)| (t.clone(), v.clone()));
        let waiter = self.inner.start_load(initial, true);
        if let Some(waiter) = waiter {
            self.inner.wait_for(waiter);
        }
        self
    }

    /// Announces this store's content hashes to every peer (peers that differ then pull).
    pub fn save(&self) -> &Self {
        self.inner.save_hashes();
        self
    }

    /// Loads, then applies whatever peers announce or send from now on.
    pub fn start_auto_load(&self, initial: Option<(&Tables, &Values)>) -> &Self {
        self.inner.auto_loading.store(true, Ordering::SeqCst);
        self.load(initial)
    }

    /// Stops applying what peers send.
    pub fn stop_auto_load(&self) -> &Self {
        self.inner.auto_loading.store(false, Ordering::SeqCst);
        self
    }

    /// Whether auto-load is on.
    pub fn is_auto_loading(&self) -> bool {
        self.inner.auto_loading.load(Ordering::SeqCst)
    }

    /// Saves, then sends every transaction's changes to the peers.
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
    pub fn stop_auto_save(&self) -> &Self {
        if let Some(id) = lock(&self.inner.auto_save).take() {
            self.inner.store.del_listener(id);
        }
        self
    }

    /// Whether auto-save is on.
    pub fn is_auto_saving(&self) -> bool {
        lock(&self.inner.auto_save).is_some()
    }

    /// Auto-load then auto-save (TinyBase's `startAutoPersisting`).
    pub fn start_auto_persisting(&self, initial: Option<(&Tables, &Values)>) -> &Self {
        self.start_auto_load(initial).start_auto_save()
    }

    /// Stops both.
    pub fn stop_auto_persisting(&self) -> &Self {
        self.stop_auto_load().stop_auto_save()
    }

    /// Idle, loading or saving.
    pub fn get_status(&self) -> Status {
        self.inner.status.get()
    }

    /// Calls `listener` on every status change; returns an id for [`Self::del_listener`].
    pub fn add_status_listener(&self, listener: impl Fn(Status) + Send + Sync + 'static) -> u64 {
        self.inner.status.add_listener(listener)
    }

    /// Removes a status listener.
    pub fn del_listener(&self, id: u64) -> &Self {
        self.inner.status.del_listener(id);
        self
    }

    /// `{loads, saves}`.
    pub fn get_stats(&self) -> Stats {
        self.inner.status.stats()
    }

    /// `{sends, receives}`.
    pub fn get_synchronizer_stats(&self) -> SynchronizerStats {
        SynchronizerStats {
            sends: self.inner.sends.load(Ordering::SeqCst),
            receives: self.inner.receives.load(Ordering::SeqCst),
        }
    }

    /// Handles a message from peer `from` (transports call this from their reader).
    pub fn receive(&self, from: &str, message: Message) {
        self.inner.receive(from, message);
    }

    /// Decodes and handles an encoded message; an invalid one is reported as
    /// [`SyncError::InvalidMessage`] and dropped.
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
