//! `tinystore serve` and `tinystore client`: the kit's `peer.mjs` commands of the same names
//! (flags, defaults, ops, output JSON, `PORT`/`READY` lines, stdin-close and signal behaviour,
//! exit codes) on tinystore's WebSocket server and client.
//!
//! Two deliberate differences from `peer.mjs serve`: `--port` defaults to 8043 and `--db` to
//! `./tinystore.sqlite` (the embedded default); `--relay-only` gives peer.mjs's no-`--db`
//! behaviour.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};
use tinystore_core::json::{parse, stringify};
use tinystore_core::mergeable::JsonForm;
use tinystore_core::sync::client::{FrameDirection, WsClientConfig, WsSynchronizer};
use tinystore_core::sync::rooms::{RoomOptions, sqlite_rooms};
use tinystore_core::sync::server::{ServerConfig, TraceEvent, TraceHook, WsServer};
use tinystore_core::sync::{SyncError, SynchronizerOptions};
use tinystore_core::{Store, ops};

use crate::args::{CliError, PeerFlags, new_mergeable_store, public_content, write_out};

fn fail(message: impl std::fmt::Display) -> CliError {
    CliError::Exit(2, message.to_string())
}

fn error(code: u8, message: impl std::fmt::Display) -> CliError {
    CliError::Exit(code, message.to_string())
}

/// peer.mjs's `num`: absent (or a bare flag) gives the default; anything else must be a
/// finite number.
fn num(flags: &PeerFlags, name: &str, default: Option<f64>) -> Result<Option<f64>, CliError> {
    match flags.value(name) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite())
            .map(Some)
            .ok_or_else(|| fail(format!("--{name} must be a number"))),
    }
}

fn read_json_arg(arg: &str) -> Result<Json, CliError> {
    let text = if arg == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| error(1, format!("stdin: {e}")))?;
        s
    } else {
        std::fs::read_to_string(arg).map_err(|e| error(1, format!("{arg}: {e}")))?
    };
    parse(&text).map_err(|e| error(1, format!("{arg}: {e}")))
}

/// A JSON-lines trace file like peer.mjs's: `{t, ms, side, ...record}`.
#[derive(Clone)]
struct Tracer {
    out: Arc<Mutex<BufWriter<File>>>,
    start: Instant,
    side: &'static str,
}

impl Tracer {
    fn open(flags: &PeerFlags, side: &'static str) -> Result<Option<Tracer>, CliError> {
        let Some(path) = flags.value("trace") else {
            return Ok(None);
        };
        let file = File::create(path).map_err(|e| error(1, format!("{path}: {e}")))?;
        Ok(Some(Tracer {
            out: Arc::new(Mutex::new(BufWriter::new(file))),
            start: Instant::now(),
            side,
        }))
    }

    fn record(&self, fields: Json) {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let ms = (self.start.elapsed().as_secs_f64() * 1e6).round() / 1e3;
        let mut record = json!({"t": t, "ms": ms, "side": self.side});
        if let (Some(r), Json::Object(f)) = (record.as_object_mut(), fields) {
            r.extend(f);
        }
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writeln!(out, "{}", stringify(&record));
    }

    fn flush(&self) {
        let _ = self.out.lock().unwrap_or_else(|e| e.into_inner()).flush();
    }
}

/// Applies an op list; `sleep` ops pause (only at the top level, as in peer.mjs).
fn apply_ops(store: &Store, ops_json: &Json) -> Result<(), CliError> {
    let list = ops_json
        .as_array()
        .ok_or_else(|| error(1, "ops must be a JSON array"))?;
    for op in list {
        if let Some([name, ms]) = op.as_array().map(Vec::as_slice)
            && name.as_str() == Some("sleep")
        {
            let ms = ms
                .as_f64()
                .filter(|n| n.is_finite() && *n >= 0.0)
                .unwrap_or(0.0);
            std::thread::sleep(Duration::from_secs_f64(ms / 1000.0));
            continue;
        }
        ops::apply_ops(store, &Json::Array(vec![op.clone()])).map_err(|e| error(1, e))?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------- client

pub(crate) fn client(args: &[String]) -> Result<(), CliError> {
    let flags = PeerFlags::parse(args);
    let url = flags
        .value("url")
        .ok_or_else(|| fail("client needs --url ws://127.0.0.1:PORT/path"))?
        .to_string();
    let timeout_ms = num(&flags, "timeout-ms", Some(30000.0))?.unwrap_or(30000.0);
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs_f64(timeout_ms.max(0.0) / 1000.0));
        eprintln!("tinystore: client timed out after {timeout_ms} ms");
        std::process::exit(3);
    });

    let ops_json = match flags.value("ops") {
        Some(path) => read_json_arg(path)?,
        None => json!([]),
    };
    let pre_ops = match flags.value("pre-ops") {
        Some(path) => read_json_arg(path)?,
        None => json!([]),
    };
    let wait_ms = num(&flags, "wait-ms", Some(1000.0))?.unwrap_or(1000.0);
    let quiet_ms = num(&flags, "quiet-ms", Some(300.0))?.unwrap_or(300.0);
    let max_wait_ms = num(&flags, "max-wait-ms", Some(wait_ms + 10000.0))?.unwrap_or(0.0);
    let request_timeout =
        num(&flags, "request-timeout-s", None)?.map(|s| Duration::from_secs_f64(s.max(0.0)));
    let fragment_size = num(&flags, "fragment-size", None)?.map(|n| n.max(0.0) as usize);
    let trace = Tracer::open(&flags, "client")?;
    let errors = Arc::new(Mutex::new(Vec::<String>::new()));

    let store = new_mergeable_store(&flags)?;
    apply_ops(&store, &pre_ops)?;

    let start = Instant::now();
    let last_activity = Arc::new(AtomicU64::new(0));
    let activity = last_activity.clone();
    let frame_trace = trace.clone();
    let on_frame = Arc::new(move |dir: FrameDirection, data: &str| {
        activity.store(start.elapsed().as_millis() as u64, Ordering::SeqCst);
        if let Some(t) = &frame_trace {
            let dir = match dir {
                FrameDirection::Send => "send",
                FrameDirection::Receive => "recv",
            };
            t.record(json!({"kind": "frame", "conn": 1, "dir": dir, "data": data}));
        }
    });
    let seen = errors.clone();
    let mut options = SynchronizerOptions {
        request_timeout,
        on_ignored_error: Some(Arc::new(move |e: &SyncError| {
            seen.lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(e.to_string())
        })),
        ..Default::default()
    };
    if let Some(t) = &trace {
        let (ts, tr) = (t.clone(), t.clone());
        options.on_send = Some(Arc::new(move |to, request_id, message, body| {
            let body = parse(body).unwrap_or(Json::Null);
            ts.record(json!({"kind": "sync", "dir": "send", "toClientId": to,
                "requestId": request_id, "message": message.number(), "body": body}));
        }));
        options.on_receive = Some(Arc::new(move |from, m| {
            tr.record(json!({"kind": "sync", "dir": "recv", "fromClientId": from,
                "requestId": m.request_id, "message": m.message.number(), "body": m.body}));
        }));
    }
    let channel = flags.value("channel").map(str::to_string);
    let protocol = flags.value("protocol").map(str::to_string);
    let config = WsClientConfig {
        url: url.clone(),
        channel: channel.clone(),
        fragment_size,
        on_frame: Some(on_frame),
        ..Default::default()
    };
    let sync = WsSynchronizer::connect(&store, config, options)
        .map_err(|e| error(4, format!("websocket error: {e}")))?;
    if let Some(t) = &trace {
        let negotiated = if channel.is_some() {
            protocol.unwrap_or_else(|| "tinybase".into())
        } else {
            String::new()
        };
        t.record(
            json!({"kind": "event", "conn": 1, "event": "open", "url": url,
            "protocol": negotiated}),
        );
    }
    sync.start_sync(None);
    apply_ops(&store, &ops_json)?;

    // Settle: stay connected for --wait-ms, then until the link is quiet.
    std::thread::sleep(Duration::from_secs_f64(wait_ms.max(0.0) / 1000.0));
    loop {
        let now = start.elapsed().as_millis() as f64;
        let quiet_for = now - last_activity.load(Ordering::SeqCst) as f64;
        if quiet_for >= quiet_ms || now - wait_ms >= max_wait_ms {
            break;
        }
        std::thread::sleep(Duration::from_millis(quiet_ms.clamp(1.0, 50.0) as u64));
    }

    let (t, v) = store.get_mergeable_content_hashes();
    let mergeable = parse(
        &store
            .get_mergeable_content()
            .to_json_string(JsonForm::PUBLIC_CONTENT),
    )
    .unwrap_or(Json::Null);
    let ignored: Vec<String> = errors.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let result = json!({
        "content": public_content(&store),
        "mergeableContent": mergeable,
        "contentHashes": [t, v],
        "ignoredErrors": ignored,
    });
    sync.destroy();
    if let Some(t) = &trace {
        t.record(json!({"kind": "event", "conn": 1, "event": "close", "code": 1000, "reason": ""}));
        t.flush();
    }
    write_out(&flags, &result)?;

    if let Some(path) = flags.value("expect") {
        let expected = read_json_arg(path)?;
        let want = if expected.is_array() {
            expected
        } else {
            expected.get("content").cloned().unwrap_or(Json::Null)
        };
        if result["content"] != want {
            return Err(error(
                1,
                format!(
                    "content differs from --expect\n got: {}\nwant: {}",
                    stringify(&result["content"]),
                    stringify(&want)
                ),
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------- serve

/// The default database of `tinystore serve`.
pub(crate) const DEFAULT_DB: &str = "./tinystore.sqlite";
/// The default port of `tinystore serve`.
pub(crate) const DEFAULT_PORT: u16 = 8043;

pub(crate) fn serve(args: &[String]) -> Result<(), CliError> {
    let flags = PeerFlags::parse(args);
    let port = num(&flags, "port", Some(f64::from(DEFAULT_PORT)))?.unwrap_or(0.0);
    if !(0.0..=65535.0).contains(&port) || port.fract() != 0.0 {
        return Err(fail("--port must be 0..65535"));
    }
    let host = flags.value("host").unwrap_or("127.0.0.1");
    let addr: SocketAddr = format!("{host}:{port}")
        .parse()
        .map_err(|_| fail(format!("--host {host} is not an IP address")))?;
    let request_timeout = num(&flags, "request-timeout-s", Some(1.0))?
        .map_or(Duration::from_secs(1), |s| {
            Duration::from_secs_f64(s.max(0.0))
        });
    let fragment_size = num(&flags, "fragment-size", None)?.map(|n| n.max(0.0) as usize);
    let trace = Tracer::open(&flags, "server")?;
    let relay_only = flags.has("relay-only");
    let db = flags.value("db").unwrap_or(DEFAULT_DB).to_string();

    let peer_factory = (!relay_only).then(|| {
        sqlite_rooms(
            &db,
            RoomOptions {
                request_timeout,
                ..RoomOptions::default()
            },
        )
    });
    let on_trace: Option<TraceHook> = trace.clone().map(|t| {
        Arc::new(move |event: TraceEvent<'_>| match event {
            TraceEvent::Open {
                conn,
                url,
                protocol,
                key,
            } => t.record(
                json!({"kind": "event", "conn": conn, "event": "open", "url": url,
                "protocol": protocol, "key": key}),
            ),
            TraceEvent::Frame { conn, sent, data } => t.record(json!({"kind": "frame",
                "conn": conn, "dir": if sent { "send" } else { "recv" }, "data": data})),
            TraceEvent::Close { conn } => {
                t.record(json!({"kind": "event", "conn": conn, "event": "close"}))
            }
            _ => {}
        }) as TraceHook
    });
    let server = WsServer::start(ServerConfig {
        addr,
        request_timeout,
        fragment_size,
        peer_factory,
        on_trace,
        ..ServerConfig::default()
    })
    .map_err(|e| error(1, format!("cannot listen: {e}")))?;
    tracing::info!(port = server.port(), db = %if relay_only { "(relay only)" } else { &db }, "serving");
    println!("PORT {}\nREADY", server.port());
    let _ = std::io::stdout().flush();

    let why = wait_for_stop(!flags.has("no-stdin-watch"));
    // Bounded like peer.mjs's forced exit: a stuck room must not keep the process alive.
    std::thread::spawn(|| {
        std::thread::sleep(Duration::from_secs(10));
        eprintln!("tinystore: forced exit after shutdown timeout");
        std::process::exit(1);
    });
    server.shutdown();
    if let Some(t) = &trace {
        t.record(json!({"kind": "event", "event": "stop", "why": why}));
        t.flush();
    }
    Ok(())
}

/// Blocks until SIGTERM, SIGINT or (when it is a pipe or socket) stdin closes.
fn wait_for_stop(watch_stdin: bool) -> &'static str {
    let (tx, rx) = std::sync::mpsc::channel::<&'static str>();
    if watch_stdin && stdin_is_pipe() {
        let tx = tx.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            let mut stdin = std::io::stdin();
            loop {
                match stdin.read(&mut buf) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(_) => {
                        let _ = tx.send("stdin error");
                        return;
                    }
                }
            }
            let _ = tx.send("stdin closed");
        });
    }
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build();
        let Ok(runtime) = runtime else { return };
        let why = runtime.block_on(async {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut term), Ok(mut int)) = (
                signal(SignalKind::terminate()),
                signal(SignalKind::interrupt()),
            ) else {
                return std::future::pending().await;
            };
            tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            }
        });
        let _ = tx.send(why);
    });
    rx.recv().unwrap_or("stopped")
}

fn stdin_is_pipe() -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::metadata("/proc/self/fd/0")
        .map(|m| m.file_type().is_fifo() || m.file_type().is_socket())
        .unwrap_or(false)
}
