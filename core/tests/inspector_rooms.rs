//! The server's room stores as the inspector reaches them (`WsServer::room_store` while a room
//! is live, none once it stopped or on a relay-only server; a write to it reaches the clients),
//! and the inspector's HTTP API over them: auth, a room's page, the event stream, edits.

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
    client_with_token(server, room, None)
}

fn client_with_token(
    server: &WsServer,
    room: &str,
    token: Option<&str>,
) -> (MergeableStore, WsSynchronizer) {
    let query = token.map_or(String::new(), |t| format!("?token={t}"));
    let store = MergeableStore::new(None);
    let sync = WsSynchronizer::connect(
        &store,
        WsClientConfig {
            url: format!("ws://127.0.0.1:{}/{room}{query}", server.port()),
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

// ------------------------------------------------------------------------------ over HTTP

mod http {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpStream;
    use std::time::{Duration, Instant};

    /// One request on its own connection (the server answers one per connection and closes).
    pub fn request(
        port: u16,
        method: &str,
        target: &str,
        headers: &str,
        body: &str,
    ) -> (u16, String, String) {
        let mut tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let head = format!(
            "{method} {target} HTTP/1.1\r\nHost: x\r\n{headers}Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        tcp.write_all(head.as_bytes()).unwrap();
        let mut out = Vec::new();
        tcp.read_to_end(&mut out).unwrap();
        let text = String::from_utf8_lossy(&out).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        (
            head[9..12].parse().unwrap(),
            head.to_ascii_lowercase(),
            body.to_string(),
        )
    }

    pub fn get(port: u16, target: &str) -> (u16, String, String) {
        request(port, "GET", target, "", "")
    }

    pub fn post_json(port: u16, target: &str, body: &str) -> (u16, String) {
        let (status, _, body) = request(
            port,
            "POST",
            target,
            "Content-Type: application/json\r\n",
            body,
        );
        (status, body)
    }

    /// A server-sent event stream, read line by line.
    pub struct Events(BufReader<TcpStream>);

    impl Events {
        pub fn open(port: u16, target: &str) -> Events {
            let mut tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
            tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            tcp.write_all(format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
                .unwrap();
            let mut reader = BufReader::new(tcp);
            let mut status = String::new();
            reader.read_line(&mut status).unwrap();
            assert!(status.starts_with("HTTP/1.1 200"), "{status}");
            Events(reader)
        }

        /// The next event's name, or `None` when the stream ended.
        pub fn next(&mut self) -> Option<String> {
            let mut line = String::new();
            loop {
                line.clear();
                match self.0.read_line(&mut line) {
                    Ok(0) | Err(_) => return None,
                    Ok(_) => {}
                }
                if let Some(name) = line.trim_end().strip_prefix("event: ") {
                    return Some(name.to_string());
                }
            }
        }

        /// Reads events until one named `name` comes; how long it took.
        pub fn wait(&mut self, name: &str) -> Duration {
            let started = Instant::now();
            loop {
                match self.next() {
                    Some(n) if n == name => return started.elapsed(),
                    Some(_) => continue,
                    None => panic!("the event stream ended before a {name} event"),
                }
            }
        }
    }
}

fn inspector_server(mode: tinystore_core::sync::server::InspectorMode) -> WsServer {
    let tokens = tinystore_core::sync::tokens::TokenAuth::from_json(
        r#"{"tokens": {
            "ops": {"rooms": ["*"], "access": "read-write", "stats": true},
            "viewer": {"rooms": ["*"], "access": "read", "stats": true}
        }}"#,
    )
    .unwrap();
    WsServer::start(ServerConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        peer_factory: Some(memory_rooms(RoomOptions::default())),
        auth: Some(tokens.hook()),
        inspector: mode,
        ..ServerConfig::default()
    })
    .unwrap()
}

#[test]
fn the_inspector_api_reads_a_room_follows_its_changes_and_edits_it_behind_the_auth_hook() {
    use tinystore_core::sync::server::InspectorMode;
    let server = inspector_server(InspectorMode::Write);
    let port = server.port();
    let (store, sync) = client_with_token(&server, "petShop", Some("ops"));
    store.set_cell("pets", "fido", "species", "dog");
    wait_for("the room's store", || {
        server
            .room_store("petShop")
            .is_some_and(|s| s.get_cell("pets", "fido", "species").is_some())
    });

    // The page and the list need a token; the assets hold no data and do not.
    assert_eq!(http::get(port, "/inspector").0, 401);
    assert_eq!(http::get(port, "/inspector?token=nope").0, 401);
    let (status, head, page) = http::get(port, "/inspector?token=ops");
    assert_eq!(status, 200);
    assert!(
        head.contains("content-security-policy: default-src 'none'"),
        "{head}"
    );
    assert!(page.contains("tinystore inspector"));
    assert_eq!(http::get(port, "/inspector/app.js").0, 200);
    let (status, head, _) = http::get(port, "/inspector/?token=ops");
    assert_eq!(status, 308);
    assert!(head.contains("location: /inspector?token=ops"), "{head}");
    let (status, _, body) = http::get(port, "/inspector/api/rooms");
    assert_eq!(status, 401);
    assert!(!body.contains("petShop"));
    let (status, _, body) = http::get(port, "/inspector/api/rooms?token=viewer");
    assert_eq!(status, 200);
    let rooms: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(rooms["write"], true);
    assert_eq!(rooms["rooms"][0]["path"], "petShop");
    assert_eq!(rooms["rooms"][0]["clients"], 1);

    // A room's page, with each cell's stamp.
    assert_eq!(http::get(port, "/inspector/api/room?path=petShop").0, 401);
    assert_eq!(
        http::get(port, "/inspector/api/room?path=gone&token=ops").0,
        404
    );
    let (status, _, body) = http::get(port, "/inspector/api/room?path=petShop&token=viewer");
    assert_eq!(status, 200, "{body}");
    let room: serde_json::Value = serde_json::from_str(&body).unwrap();
    let species = &room["rows"][0]["cells"]["species"];
    assert_eq!(species["value"], "dog");
    let hlc = store.get_cell_stamp("pets", "fido", "species").unwrap().1;
    assert_eq!(species["hlc"], hlc.as_str());

    // The stream: a change at once, and one after a client's write.
    let mut events = http::Events::open(port, "/inspector/api/events?path=petShop&token=viewer");
    events.wait("change");
    store.set_cell("pets", "felix", "species", "cat");
    let took = events.wait("change");
    assert!(
        took < Duration::from_secs(5),
        "the change came after {took:?}"
    );

    // Edits: JSON only, a read-write token, valid ids; then the client gets it.
    let edit = r#"{"path":"petShop","table":"pets","row":"fido","cell":"legs","value":4}"#;
    let (status, _, _) = http::request(port, "POST", "/inspector/api/cell?token=ops", "", edit);
    assert_eq!(status, 415);
    let (status, body) = http::post_json(port, "/inspector/api/cell?token=viewer", edit);
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("read-only"), "{body}");
    let bad = r#"{"path":"petShop","table":"pets","row":"","cell":"legs","value":4}"#;
    let (status, body) = http::post_json(port, "/inspector/api/cell?token=ops", bad);
    assert_eq!(status, 400, "{body}");
    let (status, body) = http::post_json(port, "/inspector/api/cell?token=ops", "{not json");
    assert_eq!(status, 400, "{body}");
    let (status, body) = http::post_json(port, "/inspector/api/cell?token=ops", edit);
    assert_eq!((status, body.as_str()), (200, r#"{"ok":true}"#));
    wait_for("the client to get the inspector's edit", || {
        store.get_cell("pets", "fido", "legs") == Some(Cell::from(4))
    });
    events.wait("change");

    // A shutdown ends the stream (it does not hold the server up).
    let stopping = Instant::now();
    sync.destroy();
    server.shutdown();
    while events.next().is_some() {}
    assert!(
        stopping.elapsed() < Duration::from_secs(8),
        "{:?}",
        stopping.elapsed()
    );
}

#[test]
fn a_read_only_inspector_refuses_edits_and_no_inspector_is_not_found() {
    use tinystore_core::sync::server::InspectorMode;
    let server = inspector_server(InspectorMode::ReadOnly);
    let (store, sync) = client_with_token(&server, "petShop", Some("ops"));
    store.set_cell("pets", "fido", "legs", 4);
    wait_for("the room's store", || {
        server.room_store("petShop").is_some()
    });
    let edit = r#"{"path":"petShop","table":"pets","row":"fido","cell":"legs","value":3}"#;
    let (status, body) = http::post_json(server.port(), "/inspector/api/cell?token=ops", edit);
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("--inspector-write"), "{body}");
    assert_eq!(http::get(server.port(), "/inspector?token=ops").0, 200);
    sync.destroy();
    server.shutdown();

    let server = inspector_server(InspectorMode::Off);
    assert_eq!(http::get(server.port(), "/inspector?token=ops").0, 404);
    assert_eq!(
        http::get(server.port(), "/inspector/api/rooms?token=ops").0,
        404
    );
    assert_eq!(http::get(server.port(), "/health").0, 200);
    server.shutdown();
}
