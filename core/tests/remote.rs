//! The remote persister against a real HTTP server and TinyBase's own `createRemotePersister`
//! (`tests/interop/remote/tb-remote.mjs`, copied beside the kit's node_modules by `make kit`):
//! both send the same requests to the same server, each loads what the other saved, ETag/304
//! polling reloads only when the document changed, and every failure is an error with the
//! store untouched.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};
use tinystore_core::persist::remote::RemotePersistence;
use tinystore_core::persist::{PersistError, PersistErrorKind, Persister};
use tinystore_core::{MergeableStore, Store};

fn node_modules() -> PathBuf {
    let modules = std::env::var_os("TINYSTORE_NODE_MODULES").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/kit/node_modules"),
        PathBuf::from,
    );
    let script = modules.parent().unwrap().join("tb-remote.mjs");
    assert!(
        script.is_file() && modules.join("tinybase").is_dir(),
        "TinyBase and tb-remote.mjs are not installed beside {}: run `make kit`",
        modules.display()
    );
    modules
}

fn node(args: &[&str]) -> Command {
    let modules = node_modules();
    let mut command = Command::new("node");
    command
        .arg(modules.parent().unwrap().join("tb-remote.mjs"))
        .args(args);
    command
}

/// Runs TinyBase's side; returns its stdout, panics with its stderr.
fn tinybase(args: &[&str]) -> String {
    let out = node(args)
        .output()
        .unwrap_or_else(|e| panic!("node cannot run ({e}): install Node.js 20+"));
    assert!(
        out.status.success(),
        "tb-remote.mjs {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The recording HTTP server of tb-remote.mjs; stops when dropped (its stdin closes).
struct Server {
    child: Child,
    _stdin: ChildStdin,
    port: u16,
}

impl Server {
    fn start() -> Server {
        let mut child = node(&["serve"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("node cannot run ({e}): install Node.js 20+"));
        let stdin = child.stdin.take().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut port = None;
        for line in lines.by_ref() {
            let line = line.unwrap();
            if let Some(p) = line.strip_prefix("PORT ") {
                port = p.parse().ok();
            }
            if line == "READY" {
                break;
            }
        }
        Server {
            child,
            _stdin: stdin,
            port: port.expect("the HTTP server printed its port"),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The requests recorded since the last call, without their paths' common prefix.
    fn take_log(&self) -> Vec<Json> {
        let text = http("GET", &self.url("/_log"), None);
        http("POST", &self.url("/_reset"), None);
        serde_json::from_str::<Vec<Json>>(&text).unwrap()
    }

    fn post(&self, path: &str, body: &str) {
        http("POST", &self.url(path), Some(body));
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal HTTP/1.0 exchange for the test's own bookkeeping requests.
fn http(method: &str, url: &str, body: Option<&str>) -> String {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    let body = body.unwrap_or("");
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: {host}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    std::io::Read::read_to_string(&mut stream, &mut response).unwrap();
    response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}

fn content() -> Json {
    json!([
        {
            "pets": {
                "fido": {"species": "dog", "legs": 4, "good": true, "toy": {"a": [1, "b"]}},
                "félix": {"species": "cat", "weight": 4.25, "note": "line\nbreak \"quoted\""}
            },
            "empty": {"r": {"c": ""}}
        },
        {"open": true, "count": -3, "list": [1, 2]}
    ])
}

fn store_with(content: &Json) -> Store {
    let store = Store::new();
    store.set_json(&content.to_string()).unwrap();
    store
}

fn content_file(content: &Json) -> tempfile_path::TempFile {
    tempfile_path::TempFile::with(content.to_string())
}

/// A file under target/ holding some text, removed when dropped.
mod tempfile_path {
    pub struct TempFile(pub std::path::PathBuf);
    impl TempFile {
        pub fn with(text: String) -> TempFile {
            let dir =
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/remote-test");
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join(format!(
                "content-{}-{:x}.json",
                std::process::id(),
                tinystore_core::js::random_u64()
            ));
            std::fs::write(&path, text).unwrap();
            TempFile(path)
        }
        pub fn path(&self) -> &str {
            self.0.to_str().unwrap()
        }
    }
    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

/// The parts of a recorded request that TinyBase's persister determines.
fn shape(request: &Json) -> Json {
    json!({
        "method": request["method"],
        "contentType": request["contentType"],
        "ifNoneMatch": request["ifNoneMatch"],
        "body": request["body"],
    })
}

#[test]
fn saves_and_loads_send_what_tinybase_sends_and_read_what_it_wrote() {
    let server = Server::start();
    let content = content();
    let file = content_file(&content);

    // The same content saved by TinyBase (to /tb) and by tinystore (to /ts): the same POST.
    tinybase(&["save", &server.url("/tb"), &server.url("/tb"), file.path()]);
    let store = store_with(&content);
    let persister = Persister::new(
        &store,
        RemotePersistence::new(server.url("/ts")).with_save_url(server.url("/ts")),
    );
    persister.save().unwrap();
    let log = server.take_log();
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(log[0]["path"], "/tb");
    assert_eq!(log[1]["path"], "/ts");
    assert_eq!(shape(&log[1]), shape(&log[0]));
    assert_eq!(log[0]["method"], "POST");
    assert_eq!(log[0]["contentType"], "application/json");

    // Each loads what the other saved.
    let loaded = Store::new();
    Persister::new(&loaded, RemotePersistence::new(server.url("/tb")))
        .load(None)
        .unwrap();
    assert_eq!(loaded.get_json(), store.get_json());
    let by_tinybase: Json = serde_json::from_str(&tinybase(&["load", &server.url("/ts")])).unwrap();
    assert_eq!(by_tinybase, content);
    let log = server.take_log();
    assert_eq!(shape(&log[0]), shape(&log[1]), "both GETs alike: {log:?}");
    assert_eq!(log[0]["method"], "GET");
    assert_eq!(log[0]["ifNoneMatch"], Json::Null);

    // A MergeableStore posts its plain content, as TinyBase's store-only persister does.
    tinybase(&[
        "save",
        &server.url("/tbm"),
        &server.url("/tbm"),
        file.path(),
        "mergeable",
    ]);
    let mergeable = MergeableStore::new(Some("ts"));
    mergeable.set_json(&content.to_string()).unwrap();
    Persister::new(
        &mergeable,
        RemotePersistence::new(server.url("/tsm")).with_save_url(server.url("/tsm")),
    )
    .save()
    .unwrap();
    let log = server.take_log();
    assert_eq!(shape(&log[1]), shape(&log[0]));
    let copy = MergeableStore::new(None);
    Persister::new(&copy, RemotePersistence::new(server.url("/tbm")))
        .load(None)
        .unwrap();
    assert_eq!(copy.get_json(), store.get_json());
}

#[test]
fn auto_load_polls_with_the_etag_and_reloads_only_a_changed_document() {
    let server = Server::start();
    server.post("/doc", r#"[{"t":{"r":{"c":1}}},{}]"#);
    server.take_log();

    // TinyBase's polling: a GET, then HEADs carrying the ETag.
    let tb = tinybase(&["poll", &server.url("/doc"), "2.5"]);
    assert_eq!(tb, r#"[{"t":{"r":{"c":1}}},{}]"#);
    let tb_log = server.take_log();
    assert!(tb_log.len() >= 3, "{tb_log:?}");

    let store = Store::new();
    let persister = Persister::new(&store, RemotePersistence::new(server.url("/doc")));
    let loads = Arc::new(Mutex::new(Vec::new()));
    let seen = loads.clone();
    store.add_cell_listener(
        None,
        None,
        None,
        move |_, t, r, c, _, _| seen.lock().unwrap().push(format!("{t}/{r}/{c}")),
        false,
    );
    persister
        .start_auto_load(None, Duration::from_millis(200))
        .unwrap();
    std::thread::sleep(Duration::from_millis(900));
    let ts_log = server.take_log();
    // The same shapes as TinyBase's: GET without If-None-Match, then HEAD with "1".
    assert_eq!(shape(&ts_log[0]), shape(&tb_log[0]));
    assert_eq!(shape(&ts_log[1]), shape(&tb_log[1]));
    assert_eq!(ts_log[1]["method"], "HEAD");
    assert_eq!(ts_log[1]["ifNoneMatch"], "\"1\"");
    assert!(
        ts_log[1..].iter().all(|r| r["method"] == "HEAD"),
        "an unchanged document is not fetched again: {ts_log:?}"
    );
    assert_eq!(*loads.lock().unwrap(), vec!["t/r/c".to_string()]);

    // A new document (ETag "2") is fetched once, with the old ETag, and loaded.
    server.post("/doc", r#"[{"t":{"r":{"c":2}}},{}]"#);
    let start = Instant::now();
    while store.get_cell("t", "r", "c") != Some(2.into()) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the change was not loaded"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    let log = server.take_log();
    let gets: Vec<&Json> = log.iter().filter(|r| r["method"] == "GET").collect();
    assert_eq!(gets.len(), 1, "{log:?}");
    assert_eq!(gets[0]["ifNoneMatch"], "\"1\"");
    assert!(
        log.iter()
            .skip_while(|r| r["method"] != "GET")
            .skip(1)
            .all(|r| r["ifNoneMatch"] == "\"2\"")
    );
    persister.stop_auto_load();

    // A load answered 304 keeps the last document.
    persister.load(None).unwrap();
    let log = server.take_log();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["ifNoneMatch"], "\"2\"");
    assert_eq!(store.get_json(), r#"[{"t":{"r":{"c":2}}},{}]"#);
}

#[test]
fn without_etags_auto_load_does_not_reload_as_tinybase_and_redirects_are_followed() {
    let server = Server::start();
    server.post("/doc", r#"[{},{"v":1}]"#);
    let store = Store::new();
    let persister = Persister::new(&store, RemotePersistence::new(server.url("/_noetag/doc")));
    persister
        .start_auto_load(None, Duration::from_millis(100))
        .unwrap();
    assert_eq!(store.get_value("v"), Some(1.into()));
    server.post("/doc", r#"[{},{"v":2}]"#);
    std::thread::sleep(Duration::from_millis(600));
    // TinyBase compares ETags only: a server without them is never polled as changed.
    assert_eq!(store.get_value("v"), Some(1.into()));
    persister.stop_auto_load();
    persister.load(None).unwrap();
    assert_eq!(store.get_value("v"), Some(2.into()));

    // Redirects are followed.
    let moved = Store::new();
    Persister::new(&moved, RemotePersistence::new(server.url("/_redirect/doc")))
        .load(None)
        .unwrap();
    assert_eq!(moved.get_value("v"), Some(2.into()));
}

#[test]
fn failures_are_errors_and_leave_the_store_as_it_was() {
    let server = Server::start();
    let store = Store::new();
    store.set_value("kept", true);
    let before = store.get_json();
    let load = |path: &str| {
        Persister::new(&store, RemotePersistence::new(server.url(path)))
            .load(None)
            .unwrap_err()
    };
    let status = |e: &PersistError| match e {
        PersistError::Http(h) => h.status(),
        other => panic!("not an HTTP error: {other}"),
    };

    let e = load("/missing");
    assert_eq!(e.kind(), PersistErrorKind::Storage);
    assert_eq!(status(&e), Some(404));
    assert!(e.to_string().contains("HTTP 404"), "{e}");
    assert_eq!(status(&load("/_status/500")), Some(500));
    assert_eq!(load("/_text").kind(), PersistErrorKind::Content);
    // JSON, but not a store.
    server.post("/odd", r#"{"not":"a store"}"#);
    assert_eq!(load("/odd").kind(), PersistErrorKind::Content);
    assert_eq!(store.get_json(), before);

    // No answer in time, no server at all.
    let slow = Persister::new(
        &store,
        RemotePersistence::new(server.url("/_slow")).with_timeout(Duration::from_millis(500)),
    );
    let started = Instant::now();
    let e = slow.load(None).unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the timeout held"
    );
    assert!(
        matches!(&e, PersistError::Http(h) if h.status().is_none() && h.error().is_some()),
        "{e}"
    );
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let e = Persister::new(
        &store,
        RemotePersistence::new(format!("http://127.0.0.1:{closed}/x")),
    )
    .load(None)
    .unwrap_err();
    assert_eq!(e.kind(), PersistErrorKind::Storage);
    assert!(
        e.to_string()
            .contains(&format!("GET http://127.0.0.1:{closed}/x")),
        "{e}"
    );
    assert_eq!(store.get_json(), before);

    // Saving: a refused POST is an error; without a save URL saving is unsupported.
    let e = Persister::new(
        &store,
        RemotePersistence::new(server.url("/x")).with_save_url(server.url("/_status/403")),
    )
    .save()
    .unwrap_err();
    assert_eq!(status(&e), Some(403));
    let e = Persister::new(&store, RemotePersistence::new(server.url("/x")))
        .save()
        .unwrap_err();
    assert_eq!(e.kind(), PersistErrorKind::Unsupported);

    // Auto-load's polling failures (here: the server gone) reach the ignored-error callback.
    server.post("/doc", "[{},{}]");
    let persister = Persister::new(&store, RemotePersistence::new(server.url("/doc")));
    let errors = Arc::new(Mutex::new(Vec::new()));
    let seen = errors.clone();
    persister.set_on_ignored_error(move |e| seen.lock().unwrap().push(e.to_string()));
    persister
        .start_auto_load(None, Duration::from_millis(100))
        .unwrap();
    drop(server);
    let start = Instant::now();
    while errors.lock().unwrap().is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no error reported"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    persister.stop_auto_load();
}
