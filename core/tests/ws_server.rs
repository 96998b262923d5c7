//! The WebSocket sync server (`sync::server`, feature `ws-server`) against raw WebSocket
//! clients (exact frames, hostile input, limits) and against real TinyBase clients (the kit's
//! `peer.mjs`).

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::Value as Json;
use tinystore_core::sync::protocol::{FragmentBudget, Message, MessageType, PayloadDecoder};
use tinystore_core::sync::server::{
    AuthDecision, AuthRequest, RoomPeer, RoomPeerFactory, RoomSender, ServerConfig, ServerStats,
    WsServer,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{self, Message as WsMessage};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

const KEY_A: &str = "QtVuSWQrVqf77lLVph9fPw==";
const KEY_B: &str = "WyQY8t8gT8RyKu8y2jwaFQ==";
const KEY_C: &str = "AAAAAAAAAAAAAAAAAAAAAA==";
const WAIT: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------------- helpers

fn config() -> ServerConfig {
    ServerConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        ..ServerConfig::default()
    }
}

fn relay_server() -> WsServer {
    WsServer::start(config()).unwrap()
}

struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    key: String,
    protocol: Option<String>,
}

async fn try_connect(
    port: u16,
    path: &str,
    key: Option<&str>,
    protocol: Option<&str>,
) -> Result<Client, tungstenite::Error> {
    let mut request = format!("ws://127.0.0.1:{port}{path}")
        .into_client_request()
        .unwrap();
    if let Some(key) = key {
        request
            .headers_mut()
            .insert("Sec-WebSocket-Key", HeaderValue::from_str(key).unwrap());
    }
    if let Some(protocol) = protocol {
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_str(protocol).unwrap(),
        );
    }
    request
        .headers_mut()
        .insert("X-Token", HeaderValue::from_static("secret-token"));
    let key = request.headers()["Sec-WebSocket-Key"]
        .to_str()
        .unwrap()
        .to_string();
    let (ws, response) = connect_async(request).await?;
    Ok(Client {
        ws,
        key,
        protocol: response
            .headers()
            .get("Sec-WebSocket-Protocol")
            .map(|v| v.to_str().unwrap().to_string()),
    })
}

async fn connect(port: u16, path: &str, key: Option<&str>) -> Client {
    try_connect(port, path, key, None).await.unwrap()
}

async fn connect_mux(port: u16, path: &str, key: Option<&str>) -> Client {
    let c = try_connect(port, path, key, Some("tinybase"))
        .await
        .unwrap();
    assert_eq!(c.protocol.as_deref(), Some("tinybase"));
    c
}

impl Client {
    async fn send(&mut self, text: &str) {
        self.ws
            .send(WsMessage::text(text.to_string()))
            .await
            .unwrap();
    }

    /// The next text frame (fails after 5 s or on anything else).
    async fn recv(&mut self) -> String {
        loop {
            match tokio::time::timeout(WAIT, self.ws.next()).await {
                Ok(Some(Ok(WsMessage::Text(t)))) => return t.to_string(),
                Ok(Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_)))) => continue,
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    }

    /// Asserts no text frame arrives within `ms`.
    async fn silent(&mut self, ms: u64) {
        if let Ok(Some(Ok(WsMessage::Text(t)))) =
            tokio::time::timeout(Duration::from_millis(ms), self.ws.next()).await
        {
            panic!("unexpected frame {t:?}");
        }
    }

    /// Skips text frames until the server's close frame: (code, reason).
    async fn closed(&mut self) -> (u16, String) {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.ws.next()).await {
                Ok(Some(Ok(WsMessage::Close(Some(frame))))) => {
                    return (u16::from(frame.code), frame.reason.to_string());
                }
                Ok(Some(Ok(WsMessage::Close(None)))) => return (1005, String::new()),
                Ok(Some(Ok(_))) => continue,
                other => panic!("expected a close frame, got {other:?}"),
            }
        }
    }

    /// Hello + Subscribe on a multiplexed socket, checking both acks are exact echoes.
    async fn hello_and_subscribe(&mut self, channels: &[&str]) {
        let hello = "S\n[\"UvneNzz7kWw3pUec\",-1,[0,1]]";
        self.send(hello).await;
        assert_eq!(self.recv().await, hello);
        for (i, channel) in channels.iter().enumerate() {
            let sub = format!("S\n[\"1jGyTONxPi-qG{i:03}\",-1,[1,\"{channel}\"]]");
            self.send(&sub).await;
            assert_eq!(self.recv().await, sub);
        }
    }
}

async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn http_get(port: u16, path: &str) -> (u16, String, String) {
    let mut tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    tcp.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(WAIT, tcp.read_to_end(&mut out))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8(out).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head[9..12].parse().unwrap();
    (status, head.to_string(), body.to_string())
}

/// A room peer that records what it receives and answers GetContentHashes with `[0,0]`.
#[derive(Default)]
struct Recorder {
    received: Mutex<Vec<(String, String, String)>>,
    made: AtomicUsize,
    stopped: AtomicUsize,
    senders: Mutex<Vec<RoomSender>>,
}

struct TestPeer {
    recorder: Arc<Recorder>,
    sender: RoomSender,
}

impl RoomPeer for TestPeer {
    fn receive(&self, from: &str, message: Message) {
        self.recorder.received.lock().unwrap().push((
            self.sender.path().to_string(),
            from.to_string(),
            message.encode(),
        ));
        if message.message == MessageType::GetContentHashes {
            let reply = Message::new(
                message.request_id.clone(),
                MessageType::Response,
                serde_json::json!([0, 0]),
            )
            .unwrap();
            self.sender.send(Some(from), reply.encode());
        }
    }

    fn stop(&self) {
        self.recorder.stopped.fetch_add(1, Ordering::SeqCst);
    }
}

fn peer_factory(recorder: Arc<Recorder>, delay: Duration) -> RoomPeerFactory {
    Arc::new(move |_path: &str, sender: RoomSender| {
        std::thread::sleep(delay);
        recorder.senders.lock().unwrap().push(sender.clone());
        recorder.made.fetch_add(1, Ordering::SeqCst);
        Ok(Some(Arc::new(TestPeer {
            recorder: recorder.clone(),
            sender,
        }) as Arc<dyn RoomPeer>))
    })
}

// ---------------------------------------------------------------------------------- relay

/// Spec §6's transcript, frame for frame, between two legacy clients of a relay-only server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_relay_matches_the_transcript() {
    let server = relay_server();
    let port = server.port();
    let mut other = connect(port, "/elsewhere", Some(KEY_C)).await;
    let mut a = connect(port, "/petShop", Some(KEY_A)).await;
    a.send("\n[\"XRI2_CxO_c4.R1gO\",1,\"\"]").await;
    a.send("\n[\"y-Dbh_QbYQT\",2,[467359372,0]]").await;
    // A barrier (not in the transcript): a payload to oneself comes back, so both frames
    // above were handled before B joins.
    a.send(&format!("{KEY_A}\n[\"sync\",1,\"\"]")).await;
    assert_eq!(a.recv().await, format!("{KEY_A}\n[\"sync\",1,\"\"]"));
    let mut b = connect(port, "/petShop?x=1", Some(KEY_B)).await;
    assert_eq!(server.get_client_ids("petShop"), [KEY_A, KEY_B]);

    b.send("\n[\"yfaW6R_ukQY.8pdt\",1,\"\"]").await;
    assert_eq!(
        a.recv().await,
        format!("{KEY_B}\n[\"yfaW6R_ukQY.8pdt\",1,\"\"]")
    );
    a.send(&format!("{KEY_B}\n[\"yfaW6R_ukQY.8pdt\",0,[467359372,0]]"))
        .await;
    assert_eq!(
        b.recv().await,
        format!("{KEY_A}\n[\"yfaW6R_ukQY.8pdt\",0,[467359372,0]]")
    );
    b.send(&format!("{KEY_A}\n[\"yfaW6R_ukQY.SG6T\",4,{{}}]"))
        .await;
    assert_eq!(
        a.recv().await,
        format!("{KEY_B}\n[\"yfaW6R_ukQY.SG6T\",4,{{}}]")
    );
    let diff = r#"["yfaW6R_ukQY.SG6T",0,[[{"pets":[{"fido":[{"species":["dog","NjEtLV-----67WEb"]}]}]}],{}]]"#;
    a.send(&format!("{KEY_B}\n{diff}")).await;
    assert_eq!(b.recv().await, format!("{KEY_A}\n{diff}"));
    b.send("\n[\"I32dsVcUbMC\",2,[467359372,0]]").await;
    assert_eq!(
        a.recv().await,
        format!("{KEY_B}\n[\"I32dsVcUbMC\",2,[467359372,0]]")
    );
    let change = "[\"fmYAlzuwlW8\",3,[[{\"pets\":[{\"fido\":[{\"species\":[\"\u{FFFC}\",\"NjEtLV----15le2J\"]}]}]}],[{\"open\":[true,\"NjEtLV----05le2J\"]}],1]]";
    b.send(&format!("\n{change}")).await;
    assert_eq!(a.recv().await, format!("{KEY_B}\n{change}"));

    // Direct to an unknown client, or to `S` without a room peer: dropped silently.
    a.send("ZZZZZZZZZZZZZZZZZZZZZZ==\n[\"q\",1,\"\"]").await;
    a.send("S\n[\"q\",1,\"\"]").await;
    // Nobody receives their own broadcast; other rooms see nothing.
    b.silent(200).await;
    a.silent(50).await;
    other.silent(50).await;
    assert_eq!(
        server.get_stats(),
        ServerStats {
            paths: 2,
            clients: 3
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multiplexed_handshake_channels_and_wrapping() {
    let server = relay_server();
    let port = server.port();
    let mut c = connect_mux(port, "/base", Some(KEY_A)).await;
    c.hello_and_subscribe(&["chan1"]).await;
    assert_eq!(server.get_path_ids(), ["base/chan1"]);
    assert_eq!(server.get_client_ids("base/chan1"), [KEY_A]);
    let mut l = connect(port, "/base/chan1", Some(KEY_B)).await;

    c.send("M\nchan1\n\n[\"yFOerdKBB-r.M8c5\",1,\"\"]").await;
    assert_eq!(
        l.recv().await,
        format!("{KEY_A}\n[\"yFOerdKBB-r.M8c5\",1,\"\"]")
    );
    l.send("\n[\"j5Xly16m40r\",2,[0,168557879]]").await;
    assert_eq!(
        c.recv().await,
        format!("M\nchan1\n{KEY_B}\n[\"j5Xly16m40r\",2,[0,168557879]]")
    );
    // Re-subscribing is acknowledged again; Unsubscribe is not acknowledged.
    let sub = "S\n[\"1jGyTONxPi-qG3-K\",-1,[1,\"chan1\"]]";
    c.send(sub).await;
    assert_eq!(c.recv().await, sub);
    c.send("S\n[null,-1,[2,\"chan1\"]]").await;
    c.silent(100).await;
    assert_eq!(server.get_client_ids("base/chan1"), [KEY_B]);
    // Data for a channel no longer subscribed: invalid.
    c.send("M\nchan1\n\n[\"a\",1,\"\"]").await;
    assert_eq!(c.closed().await, (1007, "tinybase:14".to_string()));
    l.silent(100).await;

    // An empty base path maps channels to themselves.
    let mut d = connect_mux(port, "/", None).await;
    d.hello_and_subscribe(&["room/x"]).await;
    assert!(server.get_path_ids().contains(&"room/x".to_string()));
    // Data before Hello is invalid.
    let mut e = connect_mux(port, "/", None).await;
    e.send("M\nroom\n\n[\"a\",1,\"\"]").await;
    assert_eq!(e.closed().await.0, 1007);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_101st_channel_overflows() {
    let server = relay_server();
    let mut c = connect_mux(server.port(), "/b", None).await;
    let channels: Vec<String> = (0..100).map(|i| format!("c{i}")).collect();
    let refs: Vec<&str> = channels.iter().map(String::as_str).collect();
    c.hello_and_subscribe(&refs).await;
    assert_eq!(server.get_stats().paths, 100);
    c.send("S\n[\"zzzzzzzzzzzzzzzz\",-1,[1,\"c100\"]]").await;
    assert_eq!(c.closed().await, (1013, "tinybase:15:channels".to_string()));
    wait_until("channels released", || server.get_stats().paths == 0).await;
}

// ---------------------------------------------------------------------------------- hostile

enum Hostile {
    Text(String),
    Texts(Vec<String>),
    Binary,
    Multiplexed(&'static str),
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_input_closes_only_the_offender() {
    let server = relay_server();
    let port = server.port();
    let mut g1 = connect(port, "/r", Some(KEY_A)).await;
    let mut g2 = connect(port, "/r", Some(KEY_B)).await;
    let mut o1 = connect(port, "/other", Some(KEY_A)).await;
    let mut o2 = connect(port, "/other", Some(KEY_B)).await;
    let frag =
        |i: usize, total: &str, piece: &str| format!("\nAAAAAAAAAAAAAAAA\n{i}\n{total}\n{piece}");
    let cases: Vec<(&str, Hostile, u16, &str)> = vec![
        (
            "malformed JSON",
            Hostile::Text("\n[\"a\",1,".into()),
            1007,
            "tinybase:14",
        ),
        (
            "no separator",
            Hostile::Text("garbage".into()),
            1007,
            "tinybase:14",
        ),
        (
            "wrong types",
            Hostile::Text("\n[\"a\",2,[\"x\",1]]".into()),
            1007,
            "tinybase:14",
        ),
        (
            "request id type",
            Hostile::Text("\n[1,1,\"\"]".into()),
            1007,
            "tinybase:14",
        ),
        (
            "unknown message",
            Hostile::Text("\n[\"a\",8,{}]".into()),
            1007,
            "tinybase:14",
        ),
        ("binary frame", Hostile::Binary, 1007, "tinybase:14"),
        (
            "frame over 16 MiB",
            Hostile::Text(format!("\n[\"{}\",1,\"\"]", "x".repeat(16 * 1024 * 1024))),
            1013,
            "tinybase:15:socket",
        ),
        (
            "garbage fragments",
            Hostile::Texts(vec![frag(0, "2", "[\"a\",1,"), frag(1, "2", "nonsense")]),
            1007,
            "tinybase:14",
        ),
        (
            "duplicate fragment index",
            Hostile::Texts(vec![frag(0, "3", "[\"a\","), frag(0, "3", "[\"a\",")]),
            1007,
            "tinybase:14",
        ),
        (
            "fragment index out of range",
            Hostile::Text(frag(2, "2", "x")),
            1007,
            "tinybase:14",
        ),
        (
            "too many fragments",
            Hostile::Text(frag(0, "1001", "x")),
            1013,
            "tinybase:15:fragments",
        ),
        (
            "data on an unsubscribed channel",
            Hostile::Multiplexed("M\nnope\n\n[\"a\",1,\"\"]"),
            1007,
            "tinybase:14",
        ),
        (
            "unknown control",
            Hostile::Multiplexed("S\n[\"UvneNzz7kWw3pUec\",-1,[7,1]]"),
            1007,
            "tinybase:14",
        ),
    ];
    let mut expected_invalid = 0;
    let mut expected_overflow = 0;
    for (i, (name, input, code, reason)) in cases.into_iter().enumerate() {
        let mut x = match &input {
            Hostile::Multiplexed(_) => {
                let mut x = connect_mux(port, "/", None).await;
                x.hello_and_subscribe(&["r"]).await;
                x
            }
            _ => connect(port, "/r", None).await,
        };
        match input {
            Hostile::Text(t) => x.send(&t).await,
            Hostile::Texts(ts) => {
                for t in ts {
                    x.send(&t).await;
                }
            }
            Hostile::Binary => x.ws.send(WsMessage::binary(vec![1, 2, 3])).await.unwrap(),
            Hostile::Multiplexed(t) => x.send(t).await,
        }
        assert_eq!(x.closed().await, (code, reason.to_string()), "{name}");
        if code == 1007 {
            expected_invalid += 1;
        } else {
            expected_overflow += 1;
        }
        // The room and the other room keep working, and saw nothing of the offender.
        let ping = format!("\n[\"ping{i}\",2,[1,2]]");
        g1.send(&ping).await;
        assert_eq!(g2.recv().await, format!("{KEY_A}{ping}"), "{name}");
        o2.send(&ping).await;
        assert_eq!(o1.recv().await, format!("{KEY_B}{ping}"), "{name}");
        wait_until("offender gone", || server.get_client_ids("r").len() == 2).await;
    }
    g1.silent(50).await;
    let (_, _, body) = http_get(port, "/stats").await;
    let stats: Json = serde_json::from_str(&body).unwrap();
    assert_eq!(stats["closedInvalid"], expected_invalid);
    assert_eq!(stats["closedOverflow"], expected_overflow);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_does_not_read_is_closed_for_overflow() {
    let server = relay_server();
    let port = server.port();
    let mut flood = connect(port, "/slow", None).await;
    let sleeper = connect(port, "/slow", None).await;
    let sleeper_key = sleeper.key.clone();
    let big = format!(
        "\n[\"x\",3,[[{{\"t\":[{{\"r\":[{{\"c\":[\"{}\",\"NjEtLV-----67WEb\"]}}]}}]}}],[{{}}],1]]",
        "a".repeat(1024 * 1024)
    );
    for _ in 0..48 {
        flood.send(&big).await;
        if !server.get_client_ids("slow").contains(&sleeper_key) {
            break;
        }
    }
    wait_until("the sleeper is dropped", || {
        !server.get_client_ids("slow").contains(&sleeper_key)
    })
    .await;
    let (_, _, body) = http_get(port, "/stats").await;
    let stats: Json = serde_json::from_str(&body).unwrap();
    assert_eq!(stats["closedOverflow"], 1);
    // The flooding client itself is fine.
    assert_eq!(server.get_client_ids("slow"), [flood.key.clone()]);
    drop(sleeper);
}

// ---------------------------------------------------------------------------------- room peer

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn room_peer_receives_and_answers_through_its_sender() {
    let recorder = Arc::new(Recorder::default());
    let server = WsServer::start(ServerConfig {
        peer_factory: Some(peer_factory(recorder.clone(), Duration::ZERO)),
        ..config()
    })
    .unwrap();
    let port = server.port();
    let mut a = connect(port, "/p", Some(KEY_A)).await;
    let mut b = connect(port, "/p", Some(KEY_B)).await;
    // Broadcast: the other client and the peer; the peer answers the sender only, as `S`.
    a.send("\n[\"q.1\",1,\"\"]").await;
    assert_eq!(b.recv().await, format!("{KEY_A}\n[\"q.1\",1,\"\"]"));
    assert_eq!(a.recv().await, "S\n[\"q.1\",0,[0,0]]");
    // To `S`: the peer only.
    a.send("S\n[\"q.2\",4,{}]").await;
    wait_until("peer got both", || {
        recorder.received.lock().unwrap().len() == 2
    })
    .await;
    b.silent(100).await;
    // Direct to another client: not the peer.
    a.send(&format!("{KEY_B}\n[\"q.3\",4,{{}}]")).await;
    assert_eq!(b.recv().await, format!("{KEY_A}\n[\"q.3\",4,{{}}]"));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        *recorder.received.lock().unwrap(),
        [
            (
                "p".to_string(),
                KEY_A.to_string(),
                "[\"q.1\",1,\"\"]".to_string()
            ),
            (
                "p".to_string(),
                KEY_A.to_string(),
                "[\"q.2\",4,{}]".to_string()
            ),
        ]
    );
    let (_, _, body) = http_get(port, "/stats").await;
    let stats: Json = serde_json::from_str(&body).unwrap();
    assert_eq!(
        stats["rooms"],
        serde_json::json!([{"path": "p", "clients": 2, "peer": true}])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn room_peer_output_is_fragmented_per_fragment_size() {
    let recorder = Arc::new(Recorder::default());
    let server = WsServer::start(ServerConfig {
        peer_factory: Some(peer_factory(recorder.clone(), Duration::ZERO)),
        fragment_size: Some(4),
        ..config()
    })
    .unwrap();
    let mut a = connect_mux(server.port(), "/", None).await;
    a.hello_and_subscribe(&["frag"]).await;
    a.send("M\nfrag\n\n[\"abcdefghijk.wxyz\",1,\"\"]").await;
    let mut decoder = PayloadDecoder::new(1000);
    let mut budget = FragmentBudget::default();
    let mut frames = 0;
    let decoded = loop {
        let frame = a.recv().await;
        frames += 1;
        let inner = frame
            .strip_prefix("M\nfrag\n")
            .expect("wrapped for the channel");
        assert!(inner.starts_with("S\n"));
        if let Some(d) = decoder.decode(inner, 0, &mut budget).unwrap() {
            break d;
        }
    };
    assert!(frames > 5);
    assert_eq!(decoded.client_id, "S");
    assert_eq!(decoded.message.encode(), "[\"abcdefghijk.wxyz\",0,[0,0]]");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_stop_when_empty_and_restart_on_rejoin() {
    let recorder = Arc::new(Recorder::default());
    let server = WsServer::start(ServerConfig {
        peer_factory: Some(peer_factory(recorder.clone(), Duration::ZERO)),
        ..config()
    })
    .unwrap();
    let events = Arc::new(Mutex::new(Vec::<String>::new()));
    let e = events.clone();
    server.add_path_ids_listener(move |path, added| {
        e.lock().unwrap().push(format!("path {path} {added}"))
    });
    let e = events.clone();
    let id = server.add_client_ids_listener(Some("p"), move |path, client, added| {
        e.lock()
            .unwrap()
            .push(format!("client {path} {client} {added}"))
    });
    let e = events.clone();
    server.add_client_ids_listener(Some("q"), move |path, _, _| {
        e.lock().unwrap().push(format!("wrong {path}"))
    });
    let port = server.port();

    let a = connect(port, "/p", Some(KEY_A)).await;
    wait_until("peer made", || recorder.made.load(Ordering::SeqCst) == 1).await;
    drop(a);
    wait_until("peer stopped", || {
        recorder.stopped.load(Ordering::SeqCst) == 1
    })
    .await;
    assert!(server.get_path_ids().is_empty());
    let mut a = connect(port, "/p", Some(KEY_A)).await;
    wait_until("peer made again", || {
        recorder.made.load(Ordering::SeqCst) == 2
    })
    .await;
    a.send("\n[\"again\",1,\"\"]").await;
    assert_eq!(a.recv().await, "S\n[\"again\",0,[0,0]]");
    // The stopped room's sender is inert; the new one reaches the client (and not an unknown one).
    let senders = recorder.senders.lock().unwrap().clone();
    assert_eq!(senders[0].path(), "p");
    senders[0].send(None, "[\"old\",2,[1,1]]".into());
    senders[1].send(Some("nobody"), "[\"lost\",2,[1,1]]".into());
    senders[1].send(None, "[\"new\",2,[2,2]]".into());
    assert_eq!(a.recv().await, "S\n[\"new\",2,[2,2]]");
    assert!(server.del_listener(id));
    assert!(!server.del_listener(id));
    a.ws.close(None).await.unwrap();
    wait_until("peer stopped again", || {
        recorder.stopped.load(Ordering::SeqCst) == 2
    })
    .await;
    assert_eq!(
        *events.lock().unwrap(),
        [
            "path p true".to_string(),
            format!("client p {KEY_A} true"),
            format!("client p {KEY_A} false"),
            "path p false".to_string(),
            "path p true".to_string(),
            format!("client p {KEY_A} true"),
            "path p false".to_string(),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payloads_wait_for_a_slow_room_start_and_replay_in_order() {
    let recorder = Arc::new(Recorder::default());
    let server = WsServer::start(ServerConfig {
        peer_factory: Some(peer_factory(recorder.clone(), Duration::from_millis(1200))),
        ..config()
    })
    .unwrap();
    let port = server.port();
    let mut a = connect(port, "/slow", Some(KEY_A)).await;
    let mut b = connect(port, "/slow", Some(KEY_B)).await;
    // ContentHashes from one sender to one destination coalesce to the latest.
    for i in 0..5 {
        a.send(&format!("\n[\"hashes{i}\",2,[{i},0]]")).await;
    }
    for i in 0..999 {
        a.send(&format!("{KEY_B}\n[\"r{i:04}\",4,{{}}]")).await;
    }
    assert_eq!(
        recorder.made.load(Ordering::SeqCst),
        0,
        "the factory is still sleeping"
    );
    assert_eq!(b.recv().await, format!("{KEY_A}\n[\"hashes4\",2,[4,0]]"));
    for i in 0..999 {
        assert_eq!(b.recv().await, format!("{KEY_A}\n[\"r{i:04}\",4,{{}}]"));
    }
    wait_until("peer got the hashes", || {
        !recorder.received.lock().unwrap().is_empty()
    })
    .await;
    assert_eq!(
        recorder.received.lock().unwrap()[0].2,
        "[\"hashes4\",2,[4,0]]"
    );
    b.silent(50).await;

    // One more than the buffer holds: the sender is closed, the other client stays, and what
    // was buffered within the budget (received) is still delivered once the room starts.
    let mut c = connect(port, "/slow2", Some(KEY_A)).await;
    let mut d = connect(port, "/slow2", Some(KEY_B)).await;
    for i in 0..1001 {
        c.send(&format!("{KEY_B}\n[\"r{i:04}\",4,{{}}]")).await;
    }
    assert_eq!(c.closed().await, (1013, "tinybase:15:server".to_string()));
    for i in 0..1000 {
        assert_eq!(d.recv().await, format!("{KEY_A}\n[\"r{i:04}\",4,{{}}]"));
    }
    d.silent(300).await;
    assert_eq!(server.get_client_ids("slow2"), [KEY_B]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_up_buffer_older_than_ten_timeouts_closes_its_senders() {
    let recorder = Arc::new(Recorder::default());
    let server = WsServer::start(ServerConfig {
        peer_factory: Some(peer_factory(recorder.clone(), Duration::from_millis(2500))),
        request_timeout: Duration::from_millis(100),
        ..config()
    })
    .unwrap();
    let port = server.port();
    let mut a = connect(port, "/late", Some(KEY_A)).await;
    let mut b = connect(port, "/late", Some(KEY_B)).await;
    let started = Instant::now();
    a.send("\n[\"x\",1,\"\"]").await;
    assert_eq!(a.closed().await, (1013, "tinybase:15:server".to_string()));
    assert!(started.elapsed() >= Duration::from_millis(900));
    // The buffered payload was received: it still reaches b (and the peer) once the room
    // starts, and b itself is served.
    wait_until("peer made", || recorder.made.load(Ordering::SeqCst) == 1).await;
    assert_eq!(b.recv().await, format!("{KEY_A}\n[\"x\",1,\"\"]"));
    b.send("\n[\"y\",1,\"\"]").await;
    assert_eq!(b.recv().await, "S\n[\"y\",0,[0,0]]");
}

// ---------------------------------------------------------------------------------- auth, http

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_hook_accepts_restricts_and_rejects() {
    let seen = Arc::new(Mutex::new(Vec::<AuthRequest>::new()));
    let s = seen.clone();
    let server = WsServer::start(ServerConfig {
        auth: Some(Arc::new(move |req: &AuthRequest| {
            s.lock().unwrap().push(req.clone());
            match req.path.as_str() {
                "secret" | "m/secret" => AuthDecision::Reject {
                    status: 401,
                    reason: "no entry".into(),
                },
                "ro" if req.client_id == KEY_B => AuthDecision::ReadOnly,
                "m/ro" => AuthDecision::ReadOnly,
                _ => AuthDecision::Accept,
            }
        })),
        ..config()
    })
    .unwrap();
    let port = server.port();
    match try_connect(port, "/secret", None, None).await {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 401),
        other => panic!("expected a 401, got {:?}", other.map(|_| ())),
    }
    assert!(server.get_path_ids().is_empty());
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen[0].path, "secret");
        assert_eq!(seen[0].header("x-token"), Some("secret-token"));
        assert_eq!(
            seen[0].client_id,
            seen[0].header("sec-websocket-key").unwrap()
        );
    }

    let mut writer = connect(port, "/ro", Some(KEY_A)).await;
    let mut reader = connect(port, "/ro", Some(KEY_B)).await;
    let dropped = [
        "\n[\"n1\",2,[1,2]]".to_string(),
        "\n[\"n2\",3,[[{}],[{}],1]]".to_string(),
        format!("{KEY_A}\n[\"n3\",0,[[{{}}],{{}}]]"),
        format!("{KEY_A}\n[\"n4\",0,[{{}}]]"),
    ];
    for d in &dropped {
        reader.send(d).await;
    }
    let relayed = [
        "\n[\"r1\",1,\"\"]".to_string(),
        format!("{KEY_A}\n[\"r2\",0,[1,2]]"),
        format!("{KEY_A}\n[\"r3\",4,{{}}]"),
        format!("{KEY_A}\n[\"r4\",7,{{}}]"),
    ];
    for r in &relayed {
        reader.send(r).await;
        let (_, remainder) = r.split_once('\n').unwrap();
        assert_eq!(writer.recv().await, format!("{KEY_B}\n{remainder}"));
    }
    writer.silent(100).await;
    writer.send("\n[\"w\",2,[1,2]]").await;
    assert_eq!(reader.recv().await, format!("{KEY_A}\n[\"w\",2,[1,2]]"));

    // Multiplexed: per channel, on Subscribe.
    let mut m = connect_mux(port, "/m", None).await;
    m.hello_and_subscribe(&["ok", "ro"]).await;
    {
        let seen = seen.lock().unwrap();
        let ok = seen.iter().find(|r| r.path == "m/ok").unwrap();
        assert_eq!(ok.client_id, m.key);
        assert_eq!(ok.header("x-token"), Some("secret-token"));
    }
    let mut ro_peer = connect(port, "/m/ro", None).await;
    m.send("M\nro\n\n[\"n\",2,[1,2]]").await;
    ro_peer.silent(100).await;
    m.send("S\n[\"1jGyTONxPi-qG3-K\",-1,[1,\"secret\"]]").await;
    assert_eq!(m.closed().await, (1008, "no entry".to_string()));
    assert!(!server.get_path_ids().contains(&"m/secret".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_health_stats_and_bad_upgrades() {
    let server = relay_server();
    let port = server.port();
    let _a = connect(port, "/room", None).await;
    let _b = connect(port, "/room", None).await;
    let (status, head, body) = http_get(port, "/health").await;
    assert_eq!(status, 200);
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json")
    );
    assert_eq!(body, r#"{"ok":true}"#);
    let (status, _, body) = http_get(port, "/stats").await;
    assert_eq!(status, 200);
    let stats: Json = serde_json::from_str(&body).unwrap();
    assert_eq!(stats["paths"], 1);
    assert_eq!(stats["clients"], 2);
    assert_eq!(
        stats["rooms"],
        serde_json::json!([{"path": "room", "clients": 2, "peer": false}])
    );
    for key in ["framesIn", "framesOut", "closedInvalid", "closedOverflow"] {
        assert!(stats[key].is_u64(), "{key}");
    }
    assert_eq!(http_get(port, "/nope").await.0, 404);

    // An upgrade without a key is refused, as is one with a key that is not one.
    for key in ["", "Sec-WebSocket-Key: S\r\n"] {
        let mut tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let request = format!(
            "GET /room HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n{key}\r\n"
        );
        tcp.write_all(request.as_bytes()).await.unwrap();
        let mut out = Vec::new();
        tokio::time::timeout(WAIT, tcp.read_to_end(&mut out))
            .await
            .unwrap()
            .unwrap();
        assert!(String::from_utf8_lossy(&out).starts_with("HTTP/1.1 400"));
    }
    // A duplicate client id in one room is refused.
    let _c = connect(port, "/dup", Some(KEY_A)).await;
    match try_connect(port, "/dup", Some(KEY_A), None).await {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 409),
        other => panic!("expected a 409, got {:?}", other.map(|_| ())),
    }
    assert_eq!(server.get_stats().clients, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_limit_get_503() {
    let server = WsServer::start(ServerConfig {
        max_connections: 2,
        ..config()
    })
    .unwrap();
    let port = server.port();
    let a = connect(port, "/x", None).await;
    let _b = connect(port, "/x", None).await;
    match try_connect(port, "/x", None, None).await {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 503),
        other => panic!("expected a 503, got {:?}", other.map(|_| ())),
    }
    drop(a);
    wait_until("a slot frees", || server.get_stats().clients == 1).await;
    // The socket's task ends shortly after it leaves its room.
    let deadline = Instant::now() + WAIT;
    while try_connect(port, "/x", None, None).await.is_err() {
        assert!(Instant::now() < deadline, "the slot was never freed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ---------------------------------------------------------------------------------- shutdown

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_clients_and_stops_every_peer() {
    let recorder = Arc::new(Recorder::default());
    let server = WsServer::start(ServerConfig {
        peer_factory: Some(peer_factory(recorder.clone(), Duration::from_millis(20))),
        ..config()
    })
    .unwrap();
    let port = server.port();
    let mut a = connect(port, "/one", None).await;
    let mut b = connect(port, "/two", None).await;
    let mut m = connect_mux(port, "/", None).await;
    m.hello_and_subscribe(&["three"]).await;
    wait_until("three peers", || recorder.made.load(Ordering::SeqCst) == 3).await;
    server.shutdown_async().await;
    assert_eq!(recorder.stopped.load(Ordering::SeqCst), 3);
    for c in [&mut a, &mut b, &mut m] {
        assert_eq!(c.closed().await.0, 1001);
    }
    assert_eq!(server.get_stats(), ServerStats::default());
    assert!(try_connect(port, "/one", None, None).await.is_err());
    server.shutdown_async().await;
}

#[test]
fn dropping_a_busy_server_does_not_hang() {
    let recorder = Arc::new(Recorder::default());
    let server = WsServer::start(ServerConfig {
        peer_factory: Some(peer_factory(recorder.clone(), Duration::ZERO)),
        ..config()
    })
    .unwrap();
    let port = server.port();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let clients = rt.block_on(async {
        let mut clients = Vec::new();
        for i in 0..5 {
            clients.push(connect(port, &format!("/r{i}"), None).await);
        }
        clients
    });
    wait_until_blocking(|| recorder.made.load(Ordering::SeqCst) == 5);
    let started = Instant::now();
    drop(server);
    assert!(started.elapsed() < Duration::from_secs(6));
    assert_eq!(recorder.stopped.load(Ordering::SeqCst), 5);
    drop(clients);
}

fn wait_until_blocking(mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out");
        std::thread::sleep(Duration::from_millis(10));
    }
}

// ---------------------------------------------------------------------------------- interop

fn kit_paths() -> (PathBuf, PathBuf) {
    let kit = std::env::var("TINYSTORE_KIT").unwrap_or_else(|_| "/work/shared/kit".into());
    let modules = std::env::var("TINYSTORE_NODE_MODULES")
        .unwrap_or_else(|_| "/work/main/target/kit/node_modules".into());
    let kit = PathBuf::from(kit);
    let modules = PathBuf::from(modules);
    let peer = modules.parent().map(|p| p.join("peer.mjs")).unwrap();
    assert!(
        kit.is_dir(),
        "the TinyBase kit is missing at {} (set TINYSTORE_KIT)",
        kit.display()
    );
    assert!(
        modules.join("tinybase").is_dir() && peer.is_file(),
        "TinyBase is not installed at {} with peer.mjs beside it: run `make kit` \
         (or set TINYSTORE_NODE_MODULES)",
        modules.display()
    );
    let node = std::process::Command::new("node").arg("--version").output();
    assert!(
        node.is_ok_and(|o| o.status.success()),
        "node is not on PATH: the TinyBase interop test needs Node.js >= 20"
    );
    (peer, modules)
}

fn run_tinybase_pair(label: &str, url: &str, extra: &[&str]) -> (Json, Json) {
    let (peer, _) = kit_paths();
    let dir = std::env::temp_dir().join(format!("tinystore-ws-{}-{label}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ops_a = r#"[["setCell","pets","fido","species","dog"],["setValue","open",true],["transaction",[["setCell","pets","felix","color","black"],["setCell","pets","fido","legs",4]]]]"#;
    let ops_b = r#"[["setCell","pets","fido","species","cat"],["setValue","open",false],["setRow","pets","rex",{"color":"brown","name":"Rex, a dog with a rather long description to force fragments"}]]"#;
    let children: Vec<_> = [("a", ops_a), ("b", ops_b)]
        .into_iter()
        .map(|(name, ops)| {
            let ops_file = dir.join(format!("{name}.ops.json"));
            std::fs::write(&ops_file, ops).unwrap();
            let out = dir.join(format!("{name}.out.json"));
            let child = std::process::Command::new("node")
                .arg(&peer)
                .args(["client", "--url", url, "--ops"])
                .arg(&ops_file)
                .args(["--wait-ms", "1500", "--timeout-ms", "20000", "--out"])
                .arg(&out)
                .args(extra)
                .stdin(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("cannot run node");
            (child, out)
        })
        .collect();
    let outs: Vec<Json> = children
        .into_iter()
        .map(|(child, out)| {
            let result = child.wait_with_output().unwrap();
            assert!(
                result.status.success(),
                "{label}: peer.mjs client failed: {}",
                String::from_utf8_lossy(&result.stderr)
            );
            serde_json::from_str(&std::fs::read_to_string(out).unwrap()).unwrap()
        })
        .collect();
    let _ = std::fs::remove_dir_all(&dir);
    let mut outs = outs.into_iter();
    (outs.next().unwrap(), outs.next().unwrap())
}

fn assert_converged(label: &str, a: &Json, b: &Json) {
    assert_eq!(a["mergeableContent"], b["mergeableContent"], "{label}");
    assert_eq!(a["contentHashes"], b["contentHashes"], "{label}");
    assert_eq!(a["content"], b["content"], "{label}");
    let pets = &a["content"][0]["pets"];
    assert_eq!(pets["felix"]["color"], "black", "{label}: A's edit");
    assert_eq!(pets["fido"]["legs"], 4, "{label}: A's edit");
    assert_eq!(pets["rex"]["color"], "brown", "{label}: B's edit");
    assert!(
        ["dog", "cat"].contains(&pets["fido"]["species"].as_str().unwrap()),
        "{label}: the conflict resolved to one side"
    );
    assert!(a["content"][1]["open"].is_boolean(), "{label}");
}

#[test]
fn real_tinybase_clients_converge_through_the_server() {
    kit_paths();
    let variants: Vec<(&str, &str, Vec<&str>)> = vec![
        ("legacy", "/room", vec![]),
        (
            "multiplexed",
            "/",
            vec!["--protocol", "tinybase", "--channel", "room"],
        ),
        ("fragmented", "/room", vec!["--fragment-size", "64"]),
    ];
    let handles: Vec<_> = variants
        .into_iter()
        .map(|(label, path, extra)| {
            std::thread::spawn(move || {
                let server = relay_server();
                let url = format!("ws://127.0.0.1:{}{path}", server.port());
                let (a, b) = run_tinybase_pair(label, &url, &extra);
                assert_converged(label, &a, &b);
                assert_eq!(
                    a["ignoredErrors"].as_array().map(|e| e
                        .iter()
                        .filter(|e| e.as_str().unwrap_or("").contains("tinybase:14"))
                        .count()),
                    Some(0),
                    "{label}: a TinyBase client saw an invalid frame"
                );
                server.shutdown();
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

/// A flood of 1,000 requests to the room's own store (and 1,000 broadcast hash requests) from
/// one client: every one is answered or the flooding socket alone is closed for overflow; the
/// other client of the room keeps syncing and the room store keeps its content.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_pending_requests_harm_nobody_else() {
    use tinystore_core::MergeableStore;
    use tinystore_core::sync::rooms::{RoomOptions, memory_rooms};

    let room_store: Arc<Mutex<Option<MergeableStore>>> = Arc::default();
    let seen = room_store.clone();
    let server = WsServer::start(ServerConfig {
        peer_factory: Some(memory_rooms(RoomOptions {
            on_room: Some(Arc::new(move |_, store: &MergeableStore| {
                *seen.lock().unwrap() = Some(store.clone());
            })),
            ..RoomOptions::default()
        })),
        ..config()
    })
    .unwrap();
    let port = server.port();
    let mut calm = connect(port, "/flood", Some(KEY_A)).await;
    let diff =
        "\n[\"calmTx00001\",3,[[{\"t\":[{\"r\":[{\"c\":[1,\"NjEtLV-----mmxrx\"]}]}]}],[{}],1]]";
    calm.send(diff).await;
    wait_until("the room store has the calm client's cell", || {
        room_store
            .lock()
            .unwrap()
            .as_ref()
            .is_some_and(|s| s.has_cell("t", "r", "c"))
    })
    .await;

    let mut flood = connect(port, "/flood", Some(KEY_B)).await;
    for i in 0..1000 {
        flood
            .send(&format!("S\n[\"floodTx0001.{i:04}\",4,{{}}]"))
            .await;
        flood
            .send(&format!("\n[\"floodTx0002.{i:04}\",1,\"\"]"))
            .await;
    }
    // Answers to the flooder (from S, and from the calm client if it answered — it does not:
    // this raw client never responds), until all 2,000 came or the socket was closed.
    let mut answered = 0;
    let mut closed = None;
    let deadline = Instant::now() + Duration::from_secs(20);
    while answered < 2000 && closed.is_none() && Instant::now() < deadline {
        match tokio::time::timeout(WAIT, flood.ws.next()).await {
            Ok(Some(Ok(WsMessage::Text(t)))) if t.starts_with("S\n[\"flood") => answered += 1,
            Ok(Some(Ok(WsMessage::Text(_)))) => {}
            Ok(Some(Ok(WsMessage::Close(frame)))) => {
                closed = Some(frame.map(|f| u16::from(f.code)).unwrap_or(1005))
            }
            Ok(Some(Ok(_))) => {}
            other => panic!("flooding socket: {other:?}"),
        }
    }
    assert!(
        answered == 2000 || closed == Some(1013),
        "answered {answered}, closed {closed:?}"
    );
    // The calm client still syncs: a new diff reaches the room store.
    let diff2 =
        "\n[\"calmTx00002\",3,[[{\"t\":[{\"r\":[{\"d\":[2,\"NjEtLV-----mmxry\"]}]}]}],[{}],1]]";
    calm.send(diff2).await;
    wait_until("the room store has the calm client's second cell", || {
        room_store
            .lock()
            .unwrap()
            .as_ref()
            .is_some_and(|s| s.has_cell("t", "r", "d") && s.has_cell("t", "r", "c"))
    })
    .await;
    server.shutdown_async().await;
}

// ---------------------------------------------------------------------------------- HTTP limits

/// Sends `request` as it is and reads the whole answer (the server answers one request per
/// connection, then closes).
async fn raw_http(port: u16, request: &[u8]) -> String {
    let mut tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    tcp.write_all(request).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(WAIT, tcp.read_to_end(&mut out))
        .await
        .expect("the server neither answered nor closed")
        .unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_heads_past_the_limits_and_bad_upgrades_get_their_statuses() {
    let server = relay_server();
    let port = server.port();
    // A head larger than 16 KiB, and one with more than 64 headers.
    let big = format!(
        "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(20_000)
    );
    assert!(
        raw_http(port, big.as_bytes())
            .await
            .starts_with("HTTP/1.1 431")
    );
    let many: String = (0..80).map(|i| format!("X-H{i}: v\r\n")).collect();
    let many = format!("GET /health HTTP/1.1\r\nHost: x\r\n{many}\r\n");
    assert!(
        raw_http(port, many.as_bytes())
            .await
            .starts_with("HTTP/1.1 431")
    );
    // Not HTTP at all.
    let garbage = raw_http(port, b"\x16\x03\x01 hello there\r\n\r\n").await;
    assert!(garbage.starts_with("HTTP/1.1 400"), "{garbage}");
    // A WebSocket version other than 13: 426 naming the one supported.
    let old = raw_http(
        port,
        format!(
            "GET /room HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Version: 8\r\nSec-WebSocket-Key: {KEY_A}\r\n\r\n"
        )
        .as_bytes(),
    )
    .await;
    assert!(old.starts_with("HTTP/1.1 426"), "{old}");
    assert!(
        old.to_ascii_lowercase()
            .contains("sec-websocket-version: 13"),
        "{old}"
    );
    // An upgrade that is not a GET.
    let post = raw_http(
        port,
        format!(
            "POST /room HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {KEY_A}\r\nContent-Length: 0\r\n\r\n"
        )
        .as_bytes(),
    )
    .await;
    assert!(post.starts_with("HTTP/1.1 400"), "{post}");
    // Other methods and paths.
    assert!(
        raw_http(port, b"DELETE /health HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .starts_with("HTTP/1.1 404")
    );
    let (status, _, body) = http_get(port, "/health").await;
    assert_eq!((status, body.as_str()), (200, r#"{"ok":true}"#));
    server.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_never_finishes_its_head_is_dropped_and_does_not_hold_shutdown() {
    let server = relay_server();
    let port = server.port();
    // Half a head, then silence: the server closes it after its head timeout (10 s) without
    // answering...
    let mut slow = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    slow.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(15), slow.read_to_end(&mut out))
        .await
        .expect("a connection that never sent its head was kept open")
        .ok();
    assert!(
        started.elapsed() >= Duration::from_secs(9),
        "closed after {:?}",
        started.elapsed()
    );
    assert!(!String::from_utf8_lossy(&out).starts_with("HTTP/1.1 200"));
    // ...and one waiting for its head does not hold a shutdown up.
    let _idle = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let stopping = Instant::now();
    server.shutdown_async().await;
    assert!(
        stopping.elapsed() < Duration::from_secs(3),
        "shutdown took {:?}",
        stopping.elapsed()
    );
}
