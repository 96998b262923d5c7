//! What `/inspector` reads from a running server: a registry of the rooms whose peer keeps a
//! store ([`RoomHandle`]: the store and a change signal), and the room list as JSON. The HTTP
//! handlers call these from async code, so everything here is synchronous, short and never
//! waits on I/O: a store's lock is held only while a room's sizes or a page are read.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::json;

use super::*;
use crate::mergeable::MergeableStore;
use crate::store::ListenerId;

/// One live room's store, as the inspector sees it. Cheap to clone (a handle).
#[derive(Clone)]
pub(crate) struct RoomHandle {
    inner: Arc<HandleInner>,
}

struct HandleInner {
    generation: u64,
    store: MergeableStore,
    signal: Arc<Signal>,
    listener: ListenerId,
    /// The sizes last computed, with the version they were computed at.
    sizes: Mutex<Option<(u64, Sizes)>>,
}

/// Shared with the store's listener, which must not hold the store (that would be a cycle).
struct Signal {
    version: watch::Sender<u64>,
    /// Ms since the epoch of the last change; 0: none since the room started.
    last_change: AtomicU64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Sizes {
    tables: usize,
    rows: usize,
    cells: usize,
    values: usize,
}

fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl RoomHandle {
    /// Follows `store`'s changes until [`RoomHandle::detach`].
    fn attach(generation: u64, store: MergeableStore) -> RoomHandle {
        let (version, _) = watch::channel(0);
        let signal = Arc::new(Signal {
            version,
            last_change: AtomicU64::new(0),
        });
        // One did-finish listener, no tables or values listener: those would make every
        // transaction of the room's store build its listener phase, on the server's hot path.
        let on_end = signal.clone();
        let end = store.add_did_finish_transaction_listener(move |store| {
            if store.has_transaction_touches() {
                on_end.last_change.store(epoch_ms(), Ordering::Release);
                // send_modify never waits: receivers only ever hold the value briefly.
                on_end.version.send_modify(|v| *v += 1);
            }
        });
        RoomHandle {
            inner: Arc::new(HandleInner {
                generation,
                store,
                signal,
                listener: end,
                sizes: Mutex::new(None),
            }),
        }
    }

    /// Stops following the store: its listeners go, and (once the last clone of this handle is
    /// dropped) subscribers see the signal close.
    fn detach(&self) {
        self.inner.store.del_listener(self.inner.listener);
    }

    /// The room's store (a handle on it: writes go to the room's clients through its
    /// synchronizer).
    pub(crate) fn store(&self) -> &MergeableStore {
        &self.inner.store
    }

    /// A receiver of the room's change version, bumped after every transaction that changed the
    /// store; `changed()` fails once the room has stopped.
    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.signal.version.subscribe()
    }

    /// The room's change version (0 until the first change).
    pub(crate) fn version(&self) -> u64 {
        *self.inner.signal.version.borrow()
    }

    /// When the store last changed (ms since the epoch), `None` if not since the room started.
    pub(crate) fn last_change(&self) -> Option<u64> {
        match self.inner.signal.last_change.load(Ordering::Acquire) {
            0 => None,
            ms => Some(ms),
        }
    }

    /// The body of an SSE `change` event: `{"version":n,"lastChange":ms-or-null}`.
    pub(crate) fn change_json(&self) -> Json {
        json!({"version": self.version(), "lastChange": self.last_change()})
    }

    /// The store's sizes, recomputed only when the store changed since they were last asked
    /// for (a room list polled often costs nothing while the rooms are quiet).
    fn sizes(&self) -> Sizes {
        let version = self.version();
        if let Some((at, sizes)) = *self.inner.sizes.lock()
            && at == version
        {
            return sizes;
        }
        let store = &self.inner.store;
        let mut sizes = Sizes {
            values: store.get_value_ids().len(),
            ..Sizes::default()
        };
        for table in store.get_table_ids() {
            sizes.tables += 1;
            sizes.rows += store.get_row_count(&table);
            store.for_each_table_cell(&table, |_, n| sizes.cells += n);
        }
        *self.inner.sizes.lock() = Some((version, sizes));
        sizes
    }
}

impl Shared {
    /// Registers the store of `path`'s room `generation` (replacing an older room's).
    pub(super) fn inspect_attach(&self, path: &str, generation: u64, store: MergeableStore) {
        let handle = RoomHandle::attach(generation, store);
        // Detached with the registry unlocked: no store lock is ever taken under it.
        let old = self.inspect.lock().insert(path.to_string(), handle);
        if let Some(old) = old {
            old.detach();
        }
    }

    /// Unregisters `path`'s room `generation`, unless a newer room of the path took its place.
    pub(super) fn inspect_detach(&self, path: &str, generation: u64) {
        let removed = {
            let mut rooms = self.inspect.lock();
            match rooms.get(path) {
                Some(h) if h.inner.generation == generation => rooms.remove(path),
                _ => None,
            }
        };
        if let Some(handle) = removed {
            handle.detach();
        }
    }

    /// The live room of `path` with a store, if any.
    pub(super) fn inspect_room(&self, path: &str) -> Option<RoomHandle> {
        self.inspect.lock().get(path).cloned()
    }

    /// `{"rooms":[{"path","clients","stored","tables","rows","cells","values","lastChange"}]}`,
    /// rooms in the order they started; a room without a store (a relay-only server, or a room
    /// still loading) has `stored: false` and `null` sizes.
    pub(super) fn inspect_rooms(&self) -> Json {
        // The state lock is let go before any store is read: a store's writer may be sending
        // into the room (which takes the state lock) while holding the store's lock.
        let rooms: Vec<(String, usize)> = {
            let st = self.state.lock();
            st.rooms
                .iter()
                .map(|(path, room)| (path.clone(), room.clients.len()))
                .collect()
        };
        let handles: Vec<Option<RoomHandle>> = {
            let registry = self.inspect.lock();
            rooms
                .iter()
                .map(|(p, _)| registry.get(p).cloned())
                .collect()
        };
        let list: Vec<Json> = rooms
            .into_iter()
            .zip(handles)
            .map(|((path, clients), handle)| match handle {
                Some(h) => {
                    let s = h.sizes();
                    json!({
                        "path": path, "clients": clients, "stored": true,
                        "tables": s.tables, "rows": s.rows, "cells": s.cells, "values": s.values,
                        "lastChange": h.last_change(),
                    })
                }
                None => json!({
                    "path": path, "clients": clients, "stored": false,
                    "tables": null, "rows": null, "cells": null, "values": null,
                    "lastChange": null,
                }),
            })
            .collect();
        json!({ "rooms": list })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transaction_bumps_the_version_once_and_only_when_it_changed_something() {
        let store = MergeableStore::new(None);
        let handle = RoomHandle::attach(1, store.clone());
        assert_eq!((handle.version(), handle.last_change()), (0, None));
        store.transaction(|s| {
            s.set_cell("t", "r", "c", 1).set_value("v", true);
        });
        assert_eq!(handle.version(), 1);
        assert!(handle.last_change().is_some());
        store.set_cell("t", "r", "c", 1); // the same value: no change
        assert_eq!(handle.version(), 1);
        let sizes = handle.sizes();
        assert_eq!(
            sizes,
            Sizes {
                tables: 1,
                rows: 1,
                cells: 1,
                values: 1
            }
        );
        handle.detach();
        store.set_cell("t", "r", "d", 2);
        assert_eq!(handle.version(), 1);
        assert_eq!(store.get_listener_stats().transaction, 0);
    }

    fn started() -> WsServer {
        WsServer::start(ServerConfig {
            addr: "127.0.0.1:0".parse().unwrap(),
            peer_factory: Some(crate::sync::rooms::memory_rooms(Default::default())),
            ..ServerConfig::default()
        })
        .unwrap()
    }

    #[test]
    fn an_older_rooms_end_leaves_a_newer_room_of_the_path_registered() {
        let server = started();
        let shared = &server.shared;
        let (old, new) = (MergeableStore::new(None), MergeableStore::new(None));
        shared.inspect_attach("p", 1, old.clone());
        shared.inspect_attach("p", 2, new.clone());
        // The replaced room's listeners are gone at once.
        assert_eq!(old.get_listener_stats().transaction, 0);
        shared.inspect_detach("p", 1);
        let handle = shared.inspect_room("p").unwrap();
        assert_eq!(handle.inner.generation, 2);
        let mut changes = handle.subscribe();
        new.set_value("v", 1);
        assert!(changes.has_changed().unwrap());
        assert_eq!(*changes.borrow_and_update(), 1);
        shared.inspect_detach("p", 2);
        assert!(shared.inspect_room("p").is_none());
        assert_eq!(new.get_listener_stats().transaction, 0);
        drop(handle);
        // The last handle gone, subscribers learn that the room stopped.
        assert!(changes.has_changed().is_err());
        server.shutdown();
    }

    #[cfg(feature = "ws-client")]
    #[test]
    fn the_room_list_counts_clients_and_sizes() {
        use crate::sync::{SynchronizerOptions, WsClientConfig, WsSynchronizer};
        let server = started();
        assert_eq!(server.shared.inspect_rooms(), json!({"rooms": []}));
        let store = MergeableStore::new(None);
        let sync = WsSynchronizer::connect(
            &store,
            WsClientConfig {
                url: format!("ws://127.0.0.1:{}/petShop", server.port()),
                ..WsClientConfig::default()
            },
            SynchronizerOptions::default(),
        )
        .unwrap();
        sync.start_sync(None);
        store
            .set_cell("pets", "fido", "legs", 4)
            .set_value("open", true);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let rooms = server.shared.inspect_rooms();
            let room = &rooms["rooms"][0];
            if room["cells"] == 1 && room["values"] == 1 {
                assert_eq!(room["path"], "petShop");
                assert_eq!(room["clients"], 1);
                assert_eq!(room["stored"], true);
                assert_eq!(
                    (room["tables"].as_u64(), room["rows"].as_u64()),
                    (Some(1), Some(1))
                );
                assert!(room["lastChange"].as_u64().is_some());
                break;
            }
            assert!(Instant::now() < deadline, "{rooms}");
            std::thread::sleep(Duration::from_millis(10));
        }
        let handle = server.shared.inspect_room("petShop").unwrap();
        assert!(handle.version() >= 1);
        assert_eq!(handle.change_json()["version"], handle.version());
        sync.destroy();
        server.shutdown();
        assert!(server.shared.inspect_room("petShop").is_none());
    }
}
