//! In-process synchronization (TinyBase's LocalSynchronizer): MergeableStores in one process
//! sync through a [`LocalBus`] without a socket, with the same messages as over a WebSocket.
//!
//! Messages are delivered asynchronously on the bus's own thread (as TinyBase delivers them on
//! a later tick), so a synchronizer never re-enters itself while sending.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};

use super::synchronizer::{Synchronizer, SynchronizerOptions, Transport, WeakSynchronizer};
use crate::mergeable::MergeableStore;

struct Queued {
    from: String,
    to: Option<String>,
    remainder: String,
}

#[derive(Default)]
struct BusState {
    members: HashMap<String, WeakSynchronizer>,
    queue: VecDeque<Queued>,
    /// Messages taken off the queue and not yet delivered.
    in_flight: usize,
}

struct BusInner {
    state: Mutex<BusState>,
    changed: Condvar,
    stopped: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A medium for synchronizers in one process.
///
/// ```
/// use tinystore_core::MergeableStore;
/// use tinystore_core::sync::LocalBus;
///
/// let bus = LocalBus::new();
/// let a = MergeableStore::new(None);
/// let sa = bus.synchronizer(&a);
/// assert_eq!(bus.client_ids().len(), 1);
/// sa.destroy();
/// assert!(bus.client_ids().is_empty());
/// ```
pub struct LocalBus {
    inner: Arc<BusInner>,
}

impl std::fmt::Debug for LocalBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalBus")
            .field("members", &lock(&self.inner.state).members.len())
            .finish()
    }
}

impl Default for LocalBus {
    fn default() -> Self {
        Self::new()
    }
}

impl LocalBus {
    /// A bus with its delivery thread.
    ///
    /// ```
    /// use tinystore_core::sync::LocalBus;
    /// let bus = LocalBus::new();
    /// assert!(bus.client_ids().is_empty());
    /// ```
    pub fn new() -> LocalBus {
        let inner = Arc::new(BusInner {
            state: Mutex::new(BusState::default()),
            changed: Condvar::new(),
            stopped: AtomicBool::new(false),
        });
        let weak = Arc::downgrade(&inner);
        let spawned = std::thread::Builder::new()
            .name("tinystore-local-bus".into())
            .spawn(move || deliver(weak));
        if spawned.is_err() {
            // Without a thread nothing would ever be delivered: fail loudly at construction.
            inner.stopped.store(true, Ordering::SeqCst);
        }
        LocalBus { inner }
    }

    /// A synchronizer for `store` on this bus, with default options.
    ///
    /// ```
    /// use tinystore_core::MergeableStore;
    /// use tinystore_core::sync::LocalBus;
    ///
    /// let bus = LocalBus::new();
    /// let (a, b) = (MergeableStore::new(None), MergeableStore::new(None));
    /// a.set_value("open", true);
    /// let sa = bus.synchronizer(&a);
    /// sa.start_sync_detached(None);
    /// // `a` is syncing, so it answers `b`'s pull and `start_sync` returns at once.
    /// let sb = bus.synchronizer(&b);
    /// sb.start_sync(None);
    /// assert_eq!(b.get_value("open"), Some(true.into()));
    /// ```
    pub fn synchronizer(&self, store: &MergeableStore) -> Synchronizer {
        self.synchronizer_with_options(store, SynchronizerOptions::default())
    }

    /// A synchronizer for `store` on this bus.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use std::time::Duration;
    /// use tinystore_core::MergeableStore;
    /// use tinystore_core::sync::synchronizer::{SyncError, SyncErrorKind};
    /// use tinystore_core::sync::{LocalBus, SynchronizerOptions};
    ///
    /// let bus = LocalBus::new();
    /// let errors = Arc::new(Mutex::new(Vec::new()));
    /// let log = errors.clone();
    /// let options = SynchronizerOptions {
    ///     request_timeout: Some(Duration::from_millis(20)),
    ///     on_ignored_error: Some(Arc::new(move |e: &SyncError| {
    ///         log.lock().unwrap().push(e.kind());
    ///     })),
    ///     ..SynchronizerOptions::default()
    /// };
    /// let sync = bus.synchronizer_with_options(&MergeableStore::new(None), options);
    /// // Alone on the bus, nobody answers: the pull gives up after 20 ms.
    /// sync.load(None);
    /// assert_eq!(*errors.lock().unwrap(), [SyncErrorKind::NoResponse]);
    /// ```
    pub fn synchronizer_with_options(
        &self,
        store: &MergeableStore,
        options: SynchronizerOptions,
    ) -> Synchronizer {
        let id = crate::js::unique_id(16);
        let transport = Arc::new(LocalTransport {
            bus: Arc::downgrade(&self.inner),
            id: id.clone(),
        });
        let sync = Synchronizer::with_options(store, transport, options);
        lock(&self.inner.state).members.insert(id, sync.downgrade());
        sync
    }

    /// The client ids of the synchronizers on the bus.
    ///
    /// ```
    /// use tinystore_core::MergeableStore;
    /// use tinystore_core::sync::LocalBus;
    ///
    /// let bus = LocalBus::new();
    /// let store = MergeableStore::new(None);
    /// let (s1, s2) = (bus.synchronizer(&store), bus.synchronizer(&store));
    /// let ids = bus.client_ids();
    /// assert_eq!(ids.len(), 2);
    /// assert!(ids.iter().all(|id| id.len() == 16));
    /// s1.destroy();
    /// assert_eq!(bus.client_ids().len(), 1);
    /// # drop(s2);
    /// ```
    pub fn client_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = lock(&self.inner.state).members.keys().cloned().collect();
        ids.sort();
        ids
    }

    /// Waits until every message sent so far, and every message sent in reaction to them, has
    /// been delivered.
    ///
    /// ```
    /// use tinystore_core::MergeableStore;
    /// use tinystore_core::sync::LocalBus;
    ///
    /// let bus = LocalBus::new();
    /// let (a, b) = (MergeableStore::new(None), MergeableStore::new(None));
    /// let (sa, sb) = (bus.synchronizer(&a), bus.synchronizer(&b));
    /// sa.start_sync_detached(None);
    /// sb.start_sync_detached(None);
    /// a.set_cell("pets", "fido", "legs", 4.0);
    /// // Delivery is asynchronous: without the flush, `b` may not have the cell yet.
    /// bus.flush();
    /// assert_eq!(b.get_cell("pets", "fido", "legs"), Some(4.0.into()));
    /// ```
    pub fn flush(&self) {
        let mut state = lock(&self.inner.state);
        while (!state.queue.is_empty() || state.in_flight > 0)
            && !self.inner.stopped.load(Ordering::SeqCst)
        {
            state = self
                .inner
                .changed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

impl Drop for LocalBus {
    fn drop(&mut self) {
        self.inner.stopped.store(true, Ordering::SeqCst);
        self.inner.changed.notify_all();
    }
}

fn deliver(bus: Weak<BusInner>) {
    loop {
        let Some(inner) = bus.upgrade() else { return };
        let mut state = lock(&inner.state);
        while state.queue.is_empty() && !inner.stopped.load(Ordering::SeqCst) {
            // Waking up now and then lets the thread notice that the bus was dropped.
            state = inner
                .changed
                .wait_timeout(state, std::time::Duration::from_millis(200))
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            if Arc::strong_count(&inner) == 1 {
                return;
            }
        }
        if inner.stopped.load(Ordering::SeqCst) {
            return;
        }
        let Some(message) = state.queue.pop_front() else {
            continue;
        };
        let targets: Vec<Synchronizer> = state
            .members
            .iter()
            .filter(|(id, _)| match &message.to {
                None => **id != message.from,
                Some(to) => *id == to,
            })
            .filter_map(|(_, s)| s.upgrade())
            .collect();
        state.in_flight += 1;
        drop(state);
        for target in targets {
            target.receive_encoded(&message.from, &message.remainder);
        }
        let mut state = lock(&inner.state);
        state.in_flight -= 1;
        drop(state);
        inner.changed.notify_all();
    }
}

struct LocalTransport {
    bus: Weak<BusInner>,
    id: String,
}

impl Transport for LocalTransport {
    fn send(&self, to: Option<&str>, _message: super::protocol::MessageType, remainder: String) {
        if let Some(bus) = self.bus.upgrade() {
            lock(&bus.state).queue.push_back(Queued {
                from: self.id.clone(),
                to: to.map(str::to_string),
                remainder,
            });
            bus.changed.notify_all();
        }
    }

    fn close(&self) {
        if let Some(bus) = self.bus.upgrade() {
            lock(&bus.state).members.remove(&self.id);
        }
    }
}
