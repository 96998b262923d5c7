//! The server's room stores as the inspector reaches them: `WsServer::room_store` while a room
//! is live, none once it stopped or on a relay-only server; a write to it reaches the clients.

use std::time::{Duration, Instant};

use tinystore_core::sync::rooms::{RoomOptions, memory_rooms};
use tinystore_core::sync::server::{ServerConfig, WsServer};
use tinystore_core::sync::{SynchronizerOptions, WsClientConfig, WsSynchronizer};
use tinystore_core::{Cell, MergeableStore};

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn server(rooms: bool) -> WsServer {
    WsServer::start(ServerConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        peer_factory: rooms.then(|| memory_rooms(RoomOptions::default())),
        ..ServerConfig::default()
    })
    .unwrap()
}

fn client(server: &WsServer, room: &str) -> (MergeableStore, WsSynchronizer) {
    let store = MergeableStore::new(None);
    let sync = WsSynchronizer::connect(
        &store,
        WsClientConfig {
            url: format!("ws://127.0.0.1:{}/{room}", server.port()),
            ..WsClientConfig::default()
        },
        SynchronizerOptions::default(),
    )
    .unwrap();
    sync.start_sync(None);
    (store, sync)
}

#[test]
fn a_live_rooms_store_is_reachable_and_writes_to_it_reach_the_clients() {
    let server = server(true);
    assert!(server.room_store("petShop").is_none());
    let (store, sync) = client(&server, "petShop");
    store.set_cell("pets", "fido", "legs", 4);
    wait_for("the room's store", || {
        server
            .room_store("petShop")
            .is_some_and(|s| s.get_cell("pets", "fido", "legs").is_some())
    });
    let room = server.room_store("petShop").unwrap();
    room.set_cell("pets", "fido", "legs", 3);
    wait_for("the client to get the room's write", || {
        store.get_cell("pets", "fido", "legs") == Some(Cell::from(3))
    });
    assert!(server.room_store("other").is_none());
    sync.destroy();
    wait_for("the room to stop", || {
        server.room_store("petShop").is_none()
    });
    server.shutdown();
}

#[test]
fn a_relay_only_server_has_no_room_stores() {
    let server = server(false);
    let (_store, sync) = client(&server, "petShop");
    wait_for("the room", || !server.get_path_ids().is_empty());
    assert!(server.room_store("petShop").is_none());
    sync.destroy();
    server.shutdown();
}
