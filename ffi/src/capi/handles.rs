//! Handles: ids in a registry (never pointers to Rust memory), the objects they stand for, and
//! what the C layer tracks per store handle.

use super::*;

// ============================================================================ handles

/// What a handle refers to.
pub(crate) enum Object {
    Store(StoreEntry),
    Persister(Persister),
    Synchronizer(WsSynchronizer),
    Server(WsServer),
    Indexes(tinystore_core::views::Indexes),
    Relationships(tinystore_core::views::Relationships),
    Metrics(tinystore_core::views::Metrics),
    Queries(tinystore_core::Queries),
    Checkpoints(tinystore_core::views::Checkpoints),
}

impl Object {
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Object::Store(_) => "a store",
            Object::Persister(_) => "a persister",
            Object::Synchronizer(_) => "a synchronizer",
            Object::Server(_) => "a server",
            Object::Indexes(_) => "an indexes",
            Object::Relationships(_) => "a relationships",
            Object::Metrics(_) => "a metrics",
            Object::Queries(_) => "a queries",
            Object::Checkpoints(_) => "a checkpoints",
        }
    }
}

pub(crate) struct StoreEntry {
    pub(crate) store: Store,
    pub(crate) mergeable: Option<MergeableStore>,
    pub(crate) state: Mutex<StoreState>,
}

/// What the C layer tracks per store handle.
#[derive(Default)]
pub(crate) struct StoreState {
    /// Listeners registered through this handle (only these may be removed through it).
    pub(crate) listeners: Vec<ListenerId>,
    /// Explicit transactions begun through this handle and not finished.
    pub(crate) transactions: usize,
    /// The handle was freed (a registration racing with the free is undone).
    pub(crate) freed: bool,
}

impl StoreEntry {
    pub(crate) fn new(store: Store, mergeable: Option<MergeableStore>) -> StoreEntry {
        StoreEntry {
            store,
            mergeable,
            state: Mutex::new(StoreState::default()),
        }
    }

    pub(crate) fn mergeable(&self) -> R<&MergeableStore> {
        self.mergeable.as_ref().ok_or_else(|| {
            err(
                ErrorKind::NotMergeable,
                "this is a plain store; the call needs a MergeableStore",
            )
        })
    }

    pub(crate) fn track(&self, id: ListenerId) -> R<()> {
        let mut state = self.state.lock();
        if state.freed {
            drop(state);
            self.store.del_listener(id);
            return Err(err(
                ErrorKind::InvalidHandle,
                "the store was freed while the listener was being added",
            ));
        }
        state.listeners.push(id);
        Ok(())
    }

    /// Called once, when the handle is freed: removes its listeners and closes its explicit
    /// transactions (locks are never held while calling into the store, whose listeners may
    /// call back into this layer).
    pub(crate) fn release(&self) {
        let (listeners, transactions) = {
            let mut state = self.state.lock();
            state.freed = true;
            (
                std::mem::take(&mut state.listeners),
                std::mem::take(&mut state.transactions),
            )
        };
        for id in listeners {
            self.store.del_listener(id);
        }
        for _ in 0..transactions {
            self.store.finish_transaction();
        }
    }
}

pub(crate) static HANDLES: LazyLock<RwLock<HashMap<usize, Arc<Object>>>> =
    LazyLock::new(Default::default);
pub(crate) static NEXT_HANDLE: AtomicUsize = AtomicUsize::new(1);

/// Registers an object; its handle is an id (never reused), not an address.
pub(crate) fn register(object: Object) -> usize {
    let handle = NEXT_HANDLE.fetch_add(1, Ordering::Relaxed).wrapping_mul(16);
    HANDLES.write().insert(handle, Arc::new(object));
    handle
}

pub(crate) fn lookup(handle: usize, name: &str) -> R<Arc<Object>> {
    if handle == 0 {
        return Err(err(ErrorKind::NullArgument, format!("{name} is NULL")));
    }
    HANDLES.read().get(&handle).cloned().ok_or_else(|| {
        err(
            ErrorKind::InvalidHandle,
            format!("{name} is not a live tinystore handle (unknown or already freed)"),
        )
    })
}

pub(crate) fn wrong_kind(name: &str, expected: &str, got: &Object) -> Error {
    err(
        ErrorKind::InvalidHandle,
        format!("{name} is {}, not {expected}", got.kind()),
    )
}

/// Removes a handle of the expected kind from the registry; the object itself lives on until
/// calls running on other threads are done with it.
pub(crate) fn unregister(
    handle: usize,
    name: &str,
    expected: &str,
    is: fn(&Object) -> bool,
) -> R<Arc<Object>> {
    let object = lookup(handle, name)?;
    if !is(&object) {
        return Err(wrong_kind(name, expected, &object));
    }
    HANDLES.write().remove(&handle).ok_or_else(|| {
        err(
            ErrorKind::InvalidHandle,
            format!("{name} was freed by another thread"),
        )
    })
}

pub(crate) fn with_store<T>(
    store: *mut tinystore_store_t,
    f: impl FnOnce(&StoreEntry) -> R<T>,
) -> R<T> {
    let object = lookup(store as usize, "store")?;
    match &*object {
        Object::Store(entry) => f(entry),
        other => Err(wrong_kind("store", "a store", other)),
    }
}

pub(crate) fn with_mergeable<T>(
    store: *mut tinystore_mergeable_store_t,
    f: impl FnOnce(&MergeableStore) -> R<T>,
) -> R<T> {
    with_store(store, |entry| f(entry.mergeable()?))
}

pub(crate) fn with_persister<T>(
    p: *mut tinystore_persister_t,
    f: impl FnOnce(&Persister) -> R<T>,
) -> R<T> {
    let object = lookup(p as usize, "persister")?;
    match &*object {
        Object::Persister(persister) => f(persister),
        other => Err(wrong_kind("persister", "a persister", other)),
    }
}

pub(crate) fn with_synchronizer<T>(
    s: *mut tinystore_ws_synchronizer_t,
    f: impl FnOnce(&WsSynchronizer) -> R<T>,
) -> R<T> {
    let object = lookup(s as usize, "synchronizer")?;
    match &*object {
        Object::Synchronizer(sync) => f(sync),
        other => Err(wrong_kind("synchronizer", "a synchronizer", other)),
    }
}

pub(crate) fn with_server<T>(
    s: *mut tinystore_ws_server_t,
    f: impl FnOnce(&WsServer) -> R<T>,
) -> R<T> {
    let object = lookup(s as usize, "server")?;
    match &*object {
        Object::Server(server) => f(server),
        other => Err(wrong_kind("server", "a server", other)),
    }
}
