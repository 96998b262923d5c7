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

use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError, Weak};
use std::time::{Duration, Instant};

use indexmap::IndexMap;
use serde_json::{Map, Value as Json};

use super::protocol::{self, MAX_PENDING_REQUESTS, Message, MessageType};
use crate::content::{Tables, Values};
use crate::js::object_order;
use crate::json;
use crate::mergeable::content::{write_tables_stamp, write_values_stamp};
use crate::mergeable::{JsonForm, MergeableError, MergeableStore};
use crate::status::{Stats, Status, StatusCell};
use crate::store::ListenerId;

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

/// Why a synchronizer operation failed; reported to the ignored-error callback (TinyBase's
/// `onIgnoredError`) with TinyBase's message texts.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// A request got no answer in time: `<to>.<requestId>.<message>`.
    #[error("tinybase:3:{0}")]
    NoResponse(String),
    /// Pending requests were rejected because the synchronizer was destroyed.
    #[error("tinybase:3:destroyed")]
    Destroyed,
    /// A message or response had the wrong shape.
    #[error("tinybase:14")]
    InvalidMessage,
    /// Too many requests were waiting for responses.
    #[error("tinybase:15:requests")]
    TooManyRequests,
    /// Changes or content received from a peer were rejected by this store as a whole (a stamp
    /// dated more than five minutes ahead of this store's clock, a malformed stamp or cell):
    /// none of it was applied. `source` says why.
    #[error("{what} from client {from} rejected: {source}")]
    Rejected {
        /// The client id of the peer the payload came from.
        from: String,
        /// How the payload arrived.
        what: Received,
        /// Why the store rejected it.
        #[source]
        source: MergeableError,
    },
    /// The transport failed, as the transport describes it (TinyBase's message text).
    #[error("tinybase:5:{0}")]
    Transport(String),
}

/// What kind of failure a [`SyncError`] is: stable across versions (new kinds may be added),
/// for code that maps errors to its own codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SyncErrorKind {
    /// A request got no answer in time.
    NoResponse,
    /// The synchronizer was destroyed while requests were pending.
    Destroyed,
    /// A message had the wrong shape.
    InvalidMessage,
    /// Too many requests were waiting.
    TooManyRequests,
    /// This store rejected what a peer sent.
    Rejected,
    /// The transport failed.
    Transport,
}

impl SyncError {
    /// The kind of failure.
    ///
    /// ```
    /// use tinystore_core::sync::{SyncError, synchronizer::SyncErrorKind};
    /// assert_eq!(SyncError::Destroyed.kind(), SyncErrorKind::Destroyed);
    /// ```
    pub fn kind(&self) -> SyncErrorKind {
        match self {
            SyncError::NoResponse(_) => SyncErrorKind::NoResponse,
            SyncError::Destroyed => SyncErrorKind::Destroyed,
            SyncError::InvalidMessage => SyncErrorKind::InvalidMessage,
            SyncError::TooManyRequests => SyncErrorKind::TooManyRequests,
            SyncError::Rejected { .. } => SyncErrorKind::Rejected,
            SyncError::Transport(_) => SyncErrorKind::Transport,
        }
    }
}

/// How a payload that [`SyncError::Rejected`] names arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Received {
    /// A peer's `ContentDiff` (its auto-save of a transaction).
    Changes,
    /// What a pull (content hashes, then table, row, cell and value diffs) fetched from a peer.
    PulledChanges,
}

impl std::fmt::Display for Received {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Received::Changes => "changes",
            Received::PulledChanges => "changes pulled",
        })
    }
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

// ---------------------------------------------------------------------------------- the pull

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Hashes,
    Tables,
    Rows,
    Cells,
    Values,
}

#[derive(Debug)]
enum Purpose {
    /// `load()`: falls back to the initial content; a waiter may block on it.
    Load {
        initial: Option<(Tables, Values)>,
        waiter: Option<u64>,
    },
    /// Reacting to a peer's ContentHashes: on failure, a full load follows (as in TinyBase).
    Notified,
}

struct Pull {
    transaction_id: String,
    other: Option<String>,
    stage: Stage,
    purpose: Purpose,
    other_values_hash: u32,
    local_values_hash: u32,
    /// The tables stamp accumulated from the diff responses (hash-less JSON).
    tables: Json,
}

struct PendingRequest {
    to: Option<String>,
    message: MessageType,
    pull: u64,
    deadline: Instant,
}

/// What the engine decided, carried out after its lock is released (sending and applying may
/// re-enter the store and its listeners).
enum Effect {
    Send {
        to: Option<String>,
        request_id: Option<String>,
        message: MessageType,
        body: String,
    },
    Finished {
        purpose: Purpose,
        /// The peer the changes came from (the one a pull asked), if known.
        from: Option<String>,
        /// How they came: a ContentDiff or a pull.
        received: Received,
        result: Result<Option<Json>, SyncError>,
    },
    Schedule(Instant),
}

#[derive(Default)]
struct Engine {
    pending: HashMap<String, PendingRequest>,
    pulls: HashMap<u64, Pull>,
    next_id: u64,
    finished_waiters: HashSet<u64>,
}

fn new_tables_stamp() -> Json {
    Json::Array(vec![Json::Object(Map::new())])
}

fn hashes_json<'a>(entries: impl Iterator<Item = (&'a String, String)>) -> String {
    let mut out = String::from("{");
    for (i, (id, value)) in object_order(entries.collect()).into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json::write_string(&mut out, id);
        out.push(':');
        out.push_str(&value);
    }
    out.push('}');
    out
}

fn table_hashes_json(h: &IndexMap<String, u32>) -> String {
    hashes_json(h.iter().map(|(k, v)| (k, v.to_string())))
}

fn row_hashes_json(h: &IndexMap<String, IndexMap<String, u32>>) -> String {
    hashes_json(h.iter().map(|(k, v)| (k, table_hashes_json(v))))
}

fn cell_hashes_json(h: &IndexMap<String, IndexMap<String, IndexMap<String, u32>>>) -> String {
    hashes_json(h.iter().map(|(k, v)| (k, row_hashes_json(v))))
}

fn hash_of(j: &Json) -> u32 {
    // Validated as an integer 0…0xFFFFFFFF by the protocol layer.
    j.as_f64().map_or(0, |n| n as u32)
}

fn hashes_from(j: &Json) -> IndexMap<String, u32> {
    j.as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), hash_of(v))).collect())
        .unwrap_or_default()
}

fn nested_hashes_from(j: &Json) -> IndexMap<String, IndexMap<String, u32>> {
    j.as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), hashes_from(v))).collect())
        .unwrap_or_default()
}

fn deep_hashes_from(j: &Json) -> IndexMap<String, IndexMap<String, IndexMap<String, u32>>> {
    j.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), nested_hashes_from(v)))
                .collect()
        })
        .unwrap_or_default()
}

const STAMP_FORM: JsonForm = JsonForm {
    hashes: false,
    changes: false,
    encoded: true,
};

/// Splits a hash-less container stamp into its children and HLC.
fn stamp_parts(stamp: &Json) -> Option<(&Map<String, Json>, &str)> {
    let parts = stamp.as_array()?;
    let children = parts.first()?.as_object()?;
    let hlc = parts.get(1).and_then(Json::as_str).unwrap_or("");
    Some((children, hlc))
}

fn latest_hlc(a: &str, b: &str) -> String {
    if a > b { a } else { b }.to_string()
}

/// The container stamp `[{…}, hlc]` under `id`, created empty when absent.
fn ensure_stamp<'a>(children: &'a mut Map<String, Json>, id: &str) -> &'a mut Vec<Json> {
    let entry = children
        .entry(id.to_string())
        .or_insert_with(new_tables_stamp);
    if !matches!(entry, Json::Array(a) if a.first().is_some_and(Json::is_object)) {
        *entry = new_tables_stamp();
    }
    match entry {
        Json::Array(a) => a,
        _ => unreachable!("just made an array"),
    }
}

fn set_hlc(stamp: &mut Vec<Json>, hlc: String) {
    stamp.truncate(1);
    stamp.push(Json::String(hlc));
}

fn children_mut(stamp: &mut [Json]) -> &mut Map<String, Json> {
    match &mut stamp[0] {
        Json::Object(m) => m,
        _ => unreachable!("container stamps hold objects"),
    }
}

/// TinyBase's `mergeTablesStamps`: later responses override the same cell; container HLCs take
/// the later one.
fn merge_tables_stamps(acc: &mut Json, incoming: &Json) -> Result<(), SyncError> {
    let (tables, tables_hlc) = stamp_parts(incoming).ok_or(SyncError::InvalidMessage)?;
    let Json::Array(acc) = acc else {
        return Err(SyncError::InvalidMessage);
    };
    for (t, table) in tables {
        let (rows, table_hlc) = stamp_parts(table).ok_or(SyncError::InvalidMessage)?;
        let acc_table = ensure_stamp(children_mut(acc), t);
        for (r, row) in rows {
            let (cells, row_hlc) = stamp_parts(row).ok_or(SyncError::InvalidMessage)?;
            let acc_row = ensure_stamp(children_mut(acc_table), r);
            for (c, cell) in cells {
                let parts = cell.as_array().ok_or(SyncError::InvalidMessage)?;
                let mut stamp = vec![parts.first().cloned().ok_or(SyncError::InvalidMessage)?];
                if let Some(Json::String(h)) = parts.get(1).filter(|h| h.as_str() != Some("")) {
                    stamp.push(Json::String(h.clone()));
                }
                children_mut(acc_row).insert(c.clone(), Json::Array(stamp));
            }
            let old = acc_row.get(1).and_then(Json::as_str).unwrap_or("");
            let hlc = latest_hlc(old, row_hlc);
            set_hlc(acc_row, hlc);
        }
        let old = acc_table.get(1).and_then(Json::as_str).unwrap_or("");
        let hlc = latest_hlc(old, table_hlc);
        set_hlc(acc_table, hlc);
    }
    let old = acc.get(1).and_then(Json::as_str).unwrap_or("").to_string();
    set_hlc(acc, latest_hlc(&old, tables_hlc));
    Ok(())
}

fn stamp_is_empty(stamp: &Json) -> bool {
    stamp_parts(stamp).is_none_or(|(children, _)| children.is_empty())
}

impl Engine {
    fn new_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Sends a request of `pull`, or fails the pull when too many are pending.
    fn request(
        &mut self,
        pull_id: u64,
        to: Option<String>,
        message: MessageType,
        body: String,
        deadline: Instant,
        effects: &mut Vec<Effect>,
    ) {
        if self.pending.len() >= MAX_PENDING_REQUESTS {
            self.fail(pull_id, SyncError::TooManyRequests, effects);
            return;
        }
        let Some(pull) = self.pulls.get(&pull_id) else {
            return;
        };
        let request_id = protocol::request_id(&pull.transaction_id);
        self.pending.insert(
            request_id.clone(),
            PendingRequest {
                to: to.clone(),
                message,
                pull: pull_id,
                deadline,
            },
        );
        effects.push(Effect::Schedule(deadline));
        effects.push(Effect::Send {
            to,
            request_id: Some(request_id),
            message,
            body,
        });
    }

    fn fail(&mut self, pull_id: u64, error: SyncError, effects: &mut Vec<Effect>) {
        self.pending.retain(|_, p| p.pull != pull_id);
        if let Some(pull) = self.pulls.remove(&pull_id) {
            effects.push(Effect::Finished {
                purpose: pull.purpose,
                from: pull.other,
                received: Received::PulledChanges,
                result: Err(error),
            });
        }
    }

    fn finish(&mut self, pull_id: u64, values: Option<Json>, effects: &mut Vec<Effect>) {
        let Some(pull) = self.pulls.remove(&pull_id) else {
            return;
        };
        let values = values.unwrap_or_else(new_tables_stamp);
        let changes = if stamp_is_empty(&pull.tables) && stamp_is_empty(&values) {
            None
        } else {
            Some(Json::Array(vec![pull.tables, values, Json::from(1)]))
        };
        effects.push(Effect::Finished {
            purpose: pull.purpose,
            from: pull.other,
            received: Received::PulledChanges,
            result: Ok(changes),
        });
    }
}

// ---------------------------------------------------------------------------------- the timer

/// One thread for every synchronizer's request deadlines.
struct Timer {
    queue: Mutex<BinaryHeap<std::cmp::Reverse<(Instant, u64)>>>,
    targets: Mutex<HashMap<u64, Weak<Inner>>>,
    wake: Condvar,
    seq: AtomicU64,
}

fn timer() -> &'static Timer {
    static TIMER: OnceLock<Timer> = OnceLock::new();
    static STARTED: OnceLock<()> = OnceLock::new();
    let t = TIMER.get_or_init(|| Timer {
        queue: Mutex::new(BinaryHeap::new()),
        targets: Mutex::new(HashMap::new()),
        wake: Condvar::new(),
        seq: AtomicU64::new(0),
    });
    STARTED.get_or_init(|| {
        let spawned = std::thread::Builder::new()
            .name("tinystore-sync-timer".into())
            .spawn(|| timer().run());
        // Without the timer thread, blocking waits still tick themselves (see `wait_for`).
        drop(spawned);
    });
    t
}

impl Timer {
    fn schedule(&self, at: Instant, target: &Arc<Inner>) {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        lock(&self.targets).insert(seq, Arc::downgrade(target));
        lock(&self.queue).push(std::cmp::Reverse((at, seq)));
        self.wake.notify_one();
    }

    fn run(&self) {
        let mut queue = lock(&self.queue);
        loop {
            let now = Instant::now();
            match queue.peek().map(|r| r.0) {
                Some((at, seq)) if at <= now => {
                    queue.pop();
                    drop(queue);
                    let target = lock(&self.targets).remove(&seq).and_then(|w| w.upgrade());
                    if let Some(inner) = target {
                        inner.tick(Instant::now());
                    }
                    queue = lock(&self.queue);
                }
                Some((at, _)) => {
                    queue = self
                        .wake
                        .wait_timeout(queue, at - now)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
                None => {
                    queue = self
                        .wake
                        .wait(queue)
                        .unwrap_or_else(PoisonError::into_inner);
                }
            }
        }
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
    /// before it relays it): a ContentDiff's changes go from the text straight into the store,
    /// without the JSON tree [`receive_encoded`](Self::receive_encoded) builds (many times
    /// the text's size); any other message as there.
    pub fn receive_validated(&self, from: &str, remainder: &str) {
        match protocol::content_diff_body(remainder) {
            Some(body) if self.inner.on_receive.is_none() => {
                self.inner.receive_diff_text(from, body)
            }
            _ => self.receive_encoded(from, remainder),
        }
    }

    /// Expires requests whose deadline passed (the shared timer does this; transports and tests
    /// may call it too).
    pub fn tick(&self) {
        self.inner.tick(Instant::now());
    }
}

/// Received changes as parsed JSON or as their text.
enum ChangesForm<'a> {
    Tree(&'a Json),
    Text(&'a str),
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

    fn send(&self, to: Option<&str>, request_id: Option<&str>, message: MessageType, body: &str) {
        if self.destroyed.load(Ordering::SeqCst) {
            return;
        }
        self.sends.fetch_add(1, Ordering::SeqCst);
        if let Some(f) = &self.on_send {
            f(to, request_id, message, body);
        }
        self.transport.send(
            to,
            message,
            protocol::encode_message(request_id, message, body),
        );
    }

    fn save_hashes(self: &Arc<Self>) {
        self.status.count_save();
        self.set_status(Status::Saving);
        let (t, v) = self.store.get_mergeable_content_hashes();
        let tx = protocol::transaction_id();
        self.send(
            None,
            Some(&tx),
            MessageType::ContentHashes,
            &format!("[{t},{v}]"),
        );
        self.set_status(Status::Idle);
    }

    /// The auto-save listener: a transaction's changes go out as a ContentDiff, except the
    /// transactions that apply incoming changes (those are not echoed; see `apply`).
    fn auto_save(self: &Arc<Self>) {
        if self.destroyed.load(Ordering::SeqCst) || APPLYING.with(|a| a.get()) {
            return;
        }
        let changes = self.store.get_transaction_mergeable_changes(false);
        if changes.is_empty() {
            return;
        }
        self.status.count_save();
        self.set_status(Status::Saving);
        let body = changes.to_json_string(JsonForm::CHANGES);
        let tx = protocol::transaction_id();
        self.send(None, Some(&tx), MessageType::ContentDiff, &body);
        self.set_status(Status::Idle);
    }

    /// Starts a load pull; returns the waiter id when `wait`.
    fn start_load(self: &Arc<Self>, initial: Option<(Tables, Values)>, wait: bool) -> Option<u64> {
        self.status.count_load();
        let mut effects = Vec::new();
        let waiter;
        {
            let mut engine = lock(&self.engine);
            waiter = wait.then(|| engine.new_id());
            let id = engine.new_id();
            engine.pulls.insert(
                id,
                Pull {
                    transaction_id: protocol::transaction_id(),
                    other: None,
                    stage: Stage::Hashes,
                    purpose: Purpose::Load { initial, waiter },
                    other_values_hash: 0,
                    local_values_hash: 0,
                    tables: new_tables_stamp(),
                },
            );
            engine.request(
                id,
                None,
                MessageType::GetContentHashes,
                "\"\"".into(),
                Instant::now() + self.timeout,
                &mut effects,
            );
        }
        self.run(effects);
        waiter
    }

    fn wait_for(self: &Arc<Self>, waiter: u64) {
        let mut engine = lock(&self.engine);
        loop {
            if engine.finished_waiters.remove(&waiter) || self.destroyed.load(Ordering::SeqCst) {
                return;
            }
            // The shared timer normally expires requests; ticking here too keeps a blocked
            // caller from depending on it.
            let next = engine.pending.values().map(|p| p.deadline).min();
            let wait = next.map_or(Duration::from_millis(50), |d| {
                d.saturating_duration_since(Instant::now())
                    .max(Duration::from_millis(1))
            });
            engine = self
                .done
                .wait_timeout(engine, wait)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            let overdue = engine
                .pending
                .values()
                .any(|p| p.deadline <= Instant::now());
            if overdue {
                drop(engine);
                self.tick(Instant::now());
                engine = lock(&self.engine);
            }
        }
    }

    /// Pulls from `other` after its hashes are known (spec §2 step 1).
    fn after_hashes(
        &self,
        engine: &mut Engine,
        id: u64,
        other: Option<String>,
        (other_tables, other_values): (u32, u32),
        now: Instant,
        effects: &mut Vec<Effect>,
    ) {
        let (tables_hash, values_hash) = self.store.get_mergeable_content_hashes();
        let Some(pull) = engine.pulls.get_mut(&id) else {
            return;
        };
        pull.other = other.clone();
        pull.other_values_hash = other_values;
        pull.local_values_hash = values_hash;
        if tables_hash != other_tables {
            pull.stage = Stage::Tables;
            let body = table_hashes_json(&self.store.get_mergeable_table_hashes());
            engine.request(
                id,
                other,
                MessageType::GetTableDiff,
                body,
                now + self.timeout,
                effects,
            );
        } else {
            self.values_step(engine, id, now, effects);
        }
    }

    fn values_step(&self, engine: &mut Engine, id: u64, now: Instant, effects: &mut Vec<Effect>) {
        let Some(pull) = engine.pulls.get_mut(&id) else {
            return;
        };
        if pull.other_values_hash == pull.local_values_hash {
            engine.finish(id, None, effects);
        } else {
            pull.stage = Stage::Values;
            let other = pull.other.clone();
            let body = table_hashes_json(&self.store.get_mergeable_value_hashes());
            engine.request(
                id,
                other,
                MessageType::GetValueDiff,
                body,
                now + self.timeout,
                effects,
            );
        }
    }

    /// Advances a pull with a response.
    fn on_response(
        &self,
        engine: &mut Engine,
        id: u64,
        from: &str,
        body: Json,
        now: Instant,
        effects: &mut Vec<Effect>,
    ) {
        let Some(pull) = engine.pulls.get_mut(&id) else {
            return;
        };
        let pair = |b: &Json| -> Option<(Json, Json)> {
            match b.as_array().map(Vec::as_slice) {
                Some([a, b]) => Some((a.clone(), b.clone())),
                _ => None,
            }
        };
        let bad = SyncError::InvalidMessage;
        match pull.stage {
            Stage::Hashes => {
                let Some((t, v)) = pair(&body).filter(|(t, v)| t.is_number() && v.is_number())
                else {
                    return engine.fail(id, bad, effects);
                };
                let hashes = (hash_of(&t), hash_of(&v));
                self.after_hashes(engine, id, Some(from.to_string()), hashes, now, effects);
            }
            Stage::Tables | Stage::Rows => {
                let Some((stamp, diff)) =
                    pair(&body).filter(|(s, d)| s.is_array() && d.is_object())
                else {
                    return engine.fail(id, bad, effects);
                };
                if pull.stage == Stage::Tables {
                    pull.tables = stamp;
                } else if let Err(e) = merge_tables_stamps(&mut pull.tables, &stamp) {
                    return engine.fail(id, e, effects);
                }
                let diff_is_empty = diff.as_object().is_none_or(Map::is_empty);
                if diff_is_empty {
                    return self.values_step(engine, id, now, effects);
                }
                let other = pull.other.clone();
                let (message, body) = if pull.stage == Stage::Tables {
                    pull.stage = Stage::Rows;
                    let hashes = self.store.get_mergeable_row_hashes(&hashes_from(&diff));
                    (MessageType::GetRowDiff, row_hashes_json(&hashes))
                } else {
                    pull.stage = Stage::Cells;
                    let hashes = self
                        .store
                        .get_mergeable_cell_hashes(&nested_hashes_from(&diff));
                    (MessageType::GetCellDiff, cell_hashes_json(&hashes))
                };
                engine.request(id, other, message, body, now + self.timeout, effects);
            }
            Stage::Cells => {
                if let Err(e) = merge_tables_stamps(&mut pull.tables, &body) {
                    return engine.fail(id, e, effects);
                }
                self.values_step(engine, id, now, effects);
            }
            Stage::Values => {
                if stamp_parts(&body).is_none() {
                    return engine.fail(id, bad, effects);
                }
                engine.finish(id, Some(body), effects);
            }
        }
    }

    fn receive(self: &Arc<Self>, from: &str, message: Message) {
        if self.destroyed.load(Ordering::SeqCst) {
            return;
        }
        self.receives.fetch_add(1, Ordering::SeqCst);
        if let Some(f) = &self.on_receive {
            f(from, &message);
        }
        let auto_loading =
            self.syncing.load(Ordering::SeqCst) || self.auto_loading.load(Ordering::SeqCst);
        let now = Instant::now();
        let Message {
            request_id,
            message,
            body,
        } = message;
        let mut effects = Vec::new();
        match message {
            MessageType::Response => {
                let Some(rid) = request_id else { return };
                let mut engine = lock(&self.engine);
                let matches = engine
                    .pending
                    .get(&rid)
                    .is_some_and(|p| p.to.as_deref().is_none_or(|to| to == from));
                if matches {
                    let pending = engine.pending.remove(&rid).expect("checked");
                    self.on_response(&mut engine, pending.pull, from, body, now, &mut effects);
                }
            }
            MessageType::ContentHashes if auto_loading => {
                let hashes = match body.as_array().map(Vec::as_slice) {
                    Some([t, v]) => (hash_of(t), hash_of(v)),
                    // Decoded messages were validated; a hand-built one may not have been.
                    _ => return self.report(&SyncError::InvalidMessage),
                };
                let mut engine = lock(&self.engine);
                let id = engine.new_id();
                engine.pulls.insert(
                    id,
                    Pull {
                        transaction_id: request_id.unwrap_or_else(protocol::transaction_id),
                        other: Some(from.to_string()),
                        stage: Stage::Hashes,
                        purpose: Purpose::Notified,
                        other_values_hash: 0,
                        local_values_hash: 0,
                        tables: new_tables_stamp(),
                    },
                );
                self.after_hashes(
                    &mut engine,
                    id,
                    Some(from.to_string()),
                    hashes,
                    now,
                    &mut effects,
                );
            }
            MessageType::ContentDiff if auto_loading => {
                effects.push(Effect::Finished {
                    purpose: Purpose::Notified,
                    from: Some(from.to_string()),
                    received: Received::Changes,
                    result: Ok(Some(body)),
                });
            }
            MessageType::GetContentHashes => {
                if self.syncing.load(Ordering::SeqCst) || lock(&self.auto_save).is_some() {
                    let (t, v) = self.store.get_mergeable_content_hashes();
                    self.respond(from, request_id, format!("[{t},{v}]"));
                }
            }
            MessageType::GetTableDiff => {
                let (stamp, hashes) = self.store.get_mergeable_table_diff(&hashes_from(&body));
                let mut out = String::from("[");
                write_tables_stamp(&mut out, &stamp, STAMP_FORM);
                out.push(',');
                out.push_str(&table_hashes_json(&hashes));
                out.push(']');
                self.respond(from, request_id, out);
            }
            MessageType::GetRowDiff => {
                let (stamp, hashes) = self
                    .store
                    .get_mergeable_row_diff(&nested_hashes_from(&body));
                let mut out = String::from("[");
                write_tables_stamp(&mut out, &stamp, STAMP_FORM);
                out.push(',');
                out.push_str(&row_hashes_json(&hashes));
                out.push(']');
                self.respond(from, request_id, out);
            }
            MessageType::GetCellDiff => {
                let stamp = self.store.get_mergeable_cell_diff(&deep_hashes_from(&body));
                let mut out = String::new();
                write_tables_stamp(&mut out, &stamp, STAMP_FORM);
                self.respond(from, request_id, out);
            }
            MessageType::GetValueDiff => {
                let stamp = self.store.get_mergeable_value_diff(&hashes_from(&body));
                let mut out = String::new();
                write_values_stamp(&mut out, &stamp, STAMP_FORM);
                self.respond(from, request_id, out);
            }
            MessageType::ContentHashes | MessageType::ContentDiff => {}
        }
        self.run(effects);
    }

    fn respond(&self, to: &str, request_id: Option<String>, body: String) {
        self.send(
            Some(to),
            request_id.as_deref(),
            MessageType::Response,
            &body,
        );
    }

    fn tick(self: &Arc<Self>, now: Instant) {
        let mut effects = Vec::new();
        {
            let mut engine = lock(&self.engine);
            let overdue: Vec<(String, u64, Option<String>, MessageType)> = engine
                .pending
                .iter()
                .filter(|(_, p)| p.deadline <= now)
                .map(|(rid, p)| (rid.clone(), p.pull, p.to.clone(), p.message))
                .collect();
            for (rid, pull, to, message) in overdue {
                engine.pending.remove(&rid);
                let what = format!("{}.{rid}.{}", to.unwrap_or_default(), message.number());
                engine.fail(pull, SyncError::NoResponse(what), &mut effects);
            }
        }
        self.run(effects);
    }

    /// Carries out the engine's decisions, in order, with no lock held.
    fn run(self: &Arc<Self>, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::Send {
                    to,
                    request_id,
                    message,
                    body,
                } => self.send(to.as_deref(), request_id.as_deref(), message, &body),
                Effect::Schedule(at) => timer().schedule(at, self),
                Effect::Finished {
                    purpose,
                    from,
                    received,
                    result,
                } => self.finished(purpose, from, received, result),
            }
        }
    }

    /// A ContentDiff's body text (see [`Synchronizer::receive_validated`]): what `receive` and
    /// `finished` do for one, without the JSON tree.
    fn receive_diff_text(self: &Arc<Self>, from: &str, body: &str) {
        if self.destroyed.load(Ordering::SeqCst) {
            return;
        }
        self.receives.fetch_add(1, Ordering::SeqCst);
        if !(self.syncing.load(Ordering::SeqCst) || self.auto_loading.load(Ordering::SeqCst)) {
            return;
        }
        self.status.count_load();
        self.apply_from(ChangesForm::Text(body), Some(from), Received::Changes);
        if self.store.had_mutated() && lock(&self.auto_save).is_some() {
            self.save_hashes();
        }
    }

    /// Applies changes received from `from` (`what` says how they came); the store checks the
    /// whole payload first, and a rejected one (nothing applied) is reported with its cause.
    fn apply(self: &Arc<Self>, changes: &Json, from: Option<&str>, what: Received) {
        self.apply_from(ChangesForm::Tree(changes), from, what);
    }

    fn apply_from(self: &Arc<Self>, changes: ChangesForm<'_>, from: Option<&str>, what: Received) {
        self.set_status(Status::Loading);
        APPLYING.with(|a| a.set(true));
        let result = match changes {
            ChangesForm::Tree(json) => self.store.apply_mergeable_changes_value(json),
            ChangesForm::Text(text) => self.store.apply_mergeable_changes_json(text),
        };
        APPLYING.with(|a| a.set(false));
        self.set_status(Status::Idle);
        if let Err(source) = result {
            self.report(&SyncError::Rejected {
                from: from.unwrap_or("?").to_string(),
                what,
                source,
            });
        }
    }

    fn finished(
        self: &Arc<Self>,
        purpose: Purpose,
        from: Option<String>,
        received: Received,
        result: Result<Option<Json>, SyncError>,
    ) {
        let destroyed = self.destroyed.load(Ordering::SeqCst);
        let from = from.as_deref();
        match (purpose, result) {
            (Purpose::Notified, Ok(Some(changes))) => {
                if !destroyed {
                    self.status.count_load();
                    self.apply(&changes, from, received);
                }
            }
            (Purpose::Notified, Ok(None)) => {}
            (Purpose::Notified, Err(e)) => {
                self.report(&e);
                // TinyBase answers a failed reaction to peer hashes with a full load.
                if !destroyed && matches!(e, SyncError::NoResponse(_)) {
                    self.start_load(None, false);
                }
            }
            (Purpose::Load { initial, waiter }, result) => {
                match result {
                    Ok(Some(changes)) if !destroyed => self.apply(&changes, from, received),
                    Ok(_) => self.set_default(initial),
                    Err(e) => {
                        self.report(&e);
                        self.set_default(initial);
                    }
                }
                if let Some(w) = waiter {
                    lock(&self.engine).finished_waiters.insert(w);
                    self.done.notify_all();
                }
            }
        }
        // A mutator listener that wrote while changes were applied: announce the new hashes so
        // peers fetch those writes (TinyBase's saveAfterMutated).
        if !destroyed && self.store.had_mutated() && lock(&self.auto_save).is_some() {
            self.save_hashes();
        }
    }

    fn set_default(&self, initial: Option<(Tables, Values)>) {
        if let Some((tables, values)) = initial {
            self.store.set_default_content(&tables, &values);
        }
    }
}

thread_local! {
    /// Set while this thread applies incoming changes, so the auto-save listener does not echo
    /// them back to the peers.
    static APPLYING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_diff_responses_keeps_later_cells_and_latest_hlcs() {
        let mut acc =
            json::parse(r#"[{"t":[{"r":[{"a":[1,"A0000000000aaaaa"]},"A"]},"B"]}]"#).unwrap();
        let more = json::parse(
            r#"[{"t":[{"r":[{"a":[2,"A0000000001aaaaa"]}],"s":[{"b":["x"]},"Z"]},"A"]},"C"]"#,
        )
        .unwrap();
        merge_tables_stamps(&mut acc, &more).unwrap();
        assert_eq!(
            json::stringify(&acc),
            r#"[{"t":[{"r":[{"a":[2,"A0000000001aaaaa"]},"A"],"s":[{"b":["x"]},"Z"]},"B"]},"C"]"#
        );
    }

    #[test]
    fn hash_maps_in_javascript_key_order() {
        let mut h = IndexMap::new();
        h.insert("b".to_string(), 2);
        h.insert("1".to_string(), 1);
        assert_eq!(table_hashes_json(&h), r#"{"1":1,"b":2}"#);
    }
}
