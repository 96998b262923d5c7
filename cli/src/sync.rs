//! `tinystore serve` and `tinystore client`: the kit's `peer.mjs` commands of the same names
//! (flags, defaults, ops, output JSON, `PORT`/`READY` lines, stdin-close and signal behaviour,
//! exit codes) on tinystore's WebSocket server and client.
//!
//! Two deliberate differences from `peer.mjs serve`: `--port` defaults to 8043 and `--db` to
//! `./tinystore.sqlite` (the embedded default); `--relay-only` gives peer.mjs's no-`--db`
//! behaviour.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};

use crate::logging::{self, LogFormat};
use tinystore_core::json::{parse, stringify};
use tinystore_core::mergeable::JsonForm;
use tinystore_core::sync::client::{FrameDirection, WsClientConfig, WsSynchronizer};
use tinystore_core::sync::serve;
use tinystore_core::sync::server::{InspectorMode, TraceEvent, TraceHook};
use tinystore_core::sync::{SyncError, SynchronizerOptions};
use tinystore_core::{Store, ops};

use crate::args::{
    CliError, StoreArgs, new_mergeable_store, parse_fragment_size, parse_ms, parse_port,
    parse_readable_file, parse_request_timeout, peer_fail, public_content, read_input, write_out,
};

fn error(code: u8, message: impl std::fmt::Display) -> CliError {
    CliError::Exit(code, message.to_string())
}

fn read_json_arg(arg: &str) -> Result<Json, CliError> {
    let text = read_input(arg)?;
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
    fn open(path: Option<&str>, side: &'static str) -> Result<Option<Tracer>, CliError> {
        let Some(path) = path else {
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

/// `tinystore client`: flags as peer.mjs's `client`.
#[derive(clap::Args, Debug)]
#[command(args_override_self = true)]
pub(crate) struct ClientArgs {
    /// The server and room: ws://127.0.0.1:PORT/ROOM
    #[arg(long, value_name = "URL")]
    url: Option<String>,
    /// Ops to apply after sync starts (a JSON array; `-` for stdin; at most 256 MiB)
    #[arg(long, value_name = "FILE")]
    ops: Option<String>,
    /// Ops to apply before connecting
    #[arg(long = "pre-ops", value_name = "FILE")]
    pre_ops: Option<String>,
    /// Stay connected this long (ms) after the ops
    #[arg(long = "wait-ms", value_name = "N", default_value = "1000", value_parser = parse_ms,
          allow_negative_numbers = true)]
    wait_ms: f64,
    /// Then wait until no frame arrived for this long (ms)
    #[arg(long = "quiet-ms", value_name = "N", default_value = "300", value_parser = parse_ms,
          allow_negative_numbers = true)]
    quiet_ms: f64,
    /// But no longer than this (ms) after --wait-ms [default: --wait-ms + 10000]
    #[arg(long = "max-wait-ms", value_name = "N", value_parser = parse_ms,
          allow_negative_numbers = true)]
    max_wait_ms: Option<f64>,
    /// Where to write the result JSON (default: stdout)
    #[arg(long, value_name = "FILE")]
    out: Option<String>,
    /// Write every frame and sync message to this JSON-lines file
    #[arg(long, value_name = "FILE")]
    trace: Option<String>,
    #[command(flatten)]
    store: StoreArgs,
    /// The WebSocket subprotocol (with --channel)
    #[arg(long, value_name = "NAME")]
    protocol: Option<String>,
    /// Use the tinybase subprotocol framing on this channel
    #[arg(long, value_name = "ID")]
    channel: Option<String>,
    /// Split outgoing messages into fragments of at most N bytes (1 to 16 MiB)
    #[arg(long = "fragment-size", value_name = "N", value_parser = parse_fragment_size,
          allow_negative_numbers = true)]
    fragment_size: Option<usize>,
    /// The synchronizer's request timeout (seconds, above 0, at most 86400)
    #[arg(long = "request-timeout-s", value_name = "S", value_parser = parse_request_timeout,
          allow_negative_numbers = true)]
    request_timeout: Option<Duration>,
    /// Give up (exit 3) after this long (ms)
    #[arg(long = "timeout-ms", value_name = "N", default_value = "30000", value_parser = parse_ms,
          allow_negative_numbers = true)]
    timeout_ms: f64,
    /// Exit 1 unless the final content equals this file's ([tables, values] or {content})
    #[arg(long, value_name = "FILE")]
    expect: Option<String>,
}

pub(crate) fn client(flags: ClientArgs) -> Result<(), CliError> {
    let url = flags
        .url
        .clone()
        .ok_or_else(|| peer_fail("client needs --url ws://127.0.0.1:PORT/path"))?;
    let timeout_ms = flags.timeout_ms;
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs_f64(timeout_ms / 1000.0));
        eprintln!("tinystore: client timed out after {timeout_ms} ms");
        std::process::exit(3);
    });

    let ops_json = match flags.ops.as_deref() {
        Some(path) => read_json_arg(path)?,
        None => json!([]),
    };
    let pre_ops = match flags.pre_ops.as_deref() {
        Some(path) => read_json_arg(path)?,
        None => json!([]),
    };
    let wait_ms = flags.wait_ms;
    let quiet_ms = flags.quiet_ms;
    let max_wait_ms = flags.max_wait_ms.unwrap_or(wait_ms + 10000.0);
    let request_timeout = flags.request_timeout;
    let fragment_size = flags.fragment_size;
    let trace = Tracer::open(flags.trace.as_deref(), "client")?;
    let errors = Arc::new(Mutex::new(Vec::<String>::new()));

    let store = new_mergeable_store(&flags.store);
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
    let channel = flags.channel.clone();
    let protocol = flags.protocol.clone();
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
    std::thread::sleep(Duration::from_secs_f64(wait_ms / 1000.0));
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
    write_out(flags.out.as_deref(), &result)?;

    if let Some(path) = flags.expect.as_deref() {
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

/// The default request timeout of `tinystore serve` (seconds).
const DEFAULT_REQUEST_TIMEOUT_S: &str = "1";
/// The default `--save-interval-ms` of `tinystore serve`.
pub(crate) const DEFAULT_SAVE_INTERVAL_MS: u64 = 1000;
/// The largest `--save-interval-ms`: one hour.
pub(crate) const MAX_SAVE_INTERVAL_MS: u64 = 3_600_000;
/// The largest `--max-rooms`.
pub(crate) const MAX_ROOMS: usize = 1_000_000;
/// The largest `--max-connections`.
pub(crate) const MAX_CONNECTIONS: usize = 1_000_000;

/// `tinystore serve`: peer.mjs's `serve` flags, plus tinystore's own.
#[derive(clap::Args, Debug)]
#[command(args_override_self = true)]
pub(crate) struct ServeArgs {
    /// The port to listen on (0: a free one, printed on the PORT line)
    #[arg(long, value_name = "P", default_value_t = DEFAULT_PORT, value_parser = parse_port,
          allow_negative_numbers = true)]
    port: u16,
    /// The address to listen on: an IP address or a host name such as localhost
    #[arg(long, value_name = "HOST", default_value = "127.0.0.1")]
    host: String,
    /// Where the rooms are kept (table tinybase_<path> per room): an SQLite file, or a
    /// PostgreSQL URL (postgres://user@host:port/db) that several servers may share
    #[arg(long, value_name = "FILE", default_value = DEFAULT_DB, conflicts_with = "relay_only")]
    db: String,
    /// Keep no room stores: only relay messages between clients (peer.mjs without --db)
    #[arg(long = "relay-only")]
    relay_only: bool,
    /// The rooms' request timeout (seconds, above 0, at most 86400)
    #[arg(long = "request-timeout-s", value_name = "S", default_value = DEFAULT_REQUEST_TIMEOUT_S,
          value_parser = parse_request_timeout, allow_negative_numbers = true)]
    request_timeout: Duration,
    /// Split outgoing messages into fragments of at most N bytes (1 to 16 MiB)
    #[arg(long = "fragment-size", value_name = "N", value_parser = parse_fragment_size,
          allow_negative_numbers = true)]
    fragment_size: Option<usize>,
    /// Write every connection event and frame to this JSON-lines file
    #[arg(long, value_name = "FILE")]
    trace: Option<String>,
    /// Keep running when a piped stdin closes (stop only on SIGTERM/SIGINT)
    #[arg(long = "no-stdin-watch")]
    no_stdin_watch: bool,
    /// A file of the tokens clients must present (must exist and be readable)
    #[arg(long = "auth-tokens", value_name = "FILE", value_parser = parse_readable_file)]
    auth_tokens: Option<PathBuf>,
    /// The most rooms open at once (1 to 1000000; default: no limit)
    #[arg(long = "max-rooms", value_name = "N", allow_negative_numbers = true,
          value_parser = clap::value_parser!(u64).range(1..=MAX_ROOMS as u64))]
    max_rooms: Option<u64>,
    /// The most connections open at once; past it, 503 (1 to 1000000; default: 10000)
    #[arg(long = "max-connections", value_name = "N", allow_negative_numbers = true,
          value_parser = clap::value_parser!(u64).range(1..=MAX_CONNECTIONS as u64))]
    max_connections: Option<u64>,
    /// Serve wss:// with this certificate chain (PEM; needs --tls-key)
    #[arg(long = "tls-cert", value_name = "FILE", requires = "tls_key",
          value_parser = parse_readable_file)]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM; needs --tls-cert)
    #[arg(long = "tls-key", value_name = "FILE", requires = "tls_cert",
          value_parser = parse_readable_file)]
    tls_key: Option<PathBuf>,
    /// Coalesce each room's saves to at most one per N ms (0 to 3600000; 0: save every change)
    #[arg(long = "save-interval-ms", value_name = "N", default_value_t = DEFAULT_SAVE_INTERVAL_MS,
          allow_negative_numbers = true,
          value_parser = clap::value_parser!(u64).range(0..=MAX_SAVE_INTERVAL_MS))]
    save_interval_ms: u64,
    /// Let the /inspector page edit cells (default: it only shows the rooms)
    #[arg(long = "inspector-write", conflicts_with = "no_inspector")]
    inspector_write: bool,
    /// Serve no /inspector page (a live view of the rooms, read-only by default)
    #[arg(long = "no-inspector")]
    no_inspector: bool,
    /// Log lines on stderr as text or as JSON objects, one per line
    #[arg(
        long = "log-format",
        value_name = "FORMAT",
        value_enum,
        default_value_t
    )]
    pub(crate) log_format: LogFormat,
    /// The least severe level logged: error, warn, info (a line per connection opened or
    /// closed, with its room and client id), debug or trace. Default: RUST_LOG, else warn
    #[arg(long = "log-level", value_name = "LEVEL", value_parser = logging::LEVELS)]
    pub(crate) log_level: Option<String>,
}

/// What `tinystore serve` runs with: its flags, checked (the address resolved).
#[derive(Clone, Debug)]
pub(crate) struct ServeOptions {
    /// `--host` (checked to resolve) and `--port`, handed to the core as given.
    pub(crate) host: String,
    pub(crate) port: u16,
    /// `--db`; `None` with `--relay-only`.
    pub(crate) db: Option<String>,
    /// `--request-timeout-s` (default 1 s).
    pub(crate) request_timeout: Duration,
    /// `--fragment-size`.
    pub(crate) fragment_size: Option<usize>,
    /// `--trace`.
    pub(crate) trace: Option<String>,
    /// Not `--no-stdin-watch`: stop when a piped stdin closes.
    pub(crate) watch_stdin: bool,
    /// `--auth-tokens`: a readable file (checked at parse time, read by the server).
    pub(crate) auth_tokens: Option<PathBuf>,
    /// `--max-rooms` (1..=1_000_000); `None`: no limit.
    pub(crate) max_rooms: Option<usize>,
    /// `--max-connections` (1..=1_000_000); `None`: the server's default.
    pub(crate) max_connections: Option<usize>,
    /// `--tls-cert` + `--tls-key` (both readable); `None`: plain ws://.
    pub(crate) tls: Option<serve::TlsFiles>,
    /// `--save-interval-ms` (0..=3_600_000, default 1000): room auto-save coalescing.
    pub(crate) save_interval: Duration,
    /// `--no-inspector` (off), `--inspector-write` (write), else read-only.
    pub(crate) inspector: InspectorMode,
}

impl ServeArgs {
    /// Checks what clap cannot: `--host` must resolve (exit 2 otherwise).
    pub(crate) fn options(self) -> Result<ServeOptions, CliError> {
        serve::resolve(&self.host, self.port).map_err(|e| peer_fail(format!("--host: {e}")))?;
        let tls = match (self.tls_cert, self.tls_key) {
            (Some(cert), Some(key)) => Some(serve::TlsFiles { cert, key }),
            (None, None) => None,
            // clap's `requires` makes them a pair.
            _ => return Err(peer_fail("--tls-cert and --tls-key go together")),
        };
        Ok(ServeOptions {
            host: self.host,
            port: self.port,
            db: (!self.relay_only).then_some(self.db),
            request_timeout: self.request_timeout,
            fragment_size: self.fragment_size,
            trace: self.trace,
            watch_stdin: !self.no_stdin_watch,
            auth_tokens: self.auth_tokens,
            max_rooms: self.max_rooms.map(|n| n as usize),
            max_connections: self.max_connections.map(|n| n as usize),
            tls,
            save_interval: Duration::from_millis(self.save_interval_ms),
            inspector: match (self.no_inspector, self.inspector_write) {
                (true, _) => InspectorMode::Off,
                (false, true) => InspectorMode::Write,
                (false, false) => InspectorMode::ReadOnly,
            },
        })
    }
}

pub(crate) fn serve(flags: ServeArgs) -> Result<(), CliError> {
    let options = flags.options()?;
    let trace = Tracer::open(options.trace.as_deref(), "server")?;
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
    let server = serve::serve(serve::ServeOptions {
        host: options.host.clone(),
        port: options.port,
        rooms: options
            .db
            .as_ref()
            .map_or(serve::Rooms::Relay, |db| serve::Rooms::from_db(db)),
        request_timeout: options.request_timeout,
        fragment_size: options.fragment_size,
        auth_tokens: options.auth_tokens.clone(),
        auth: None,
        max_rooms: options.max_rooms,
        max_connections: options.max_connections,
        tls: options.tls.clone(),
        save_interval: options.save_interval,
        on_trace,
        inspector: options.inspector,
    })
    .map_err(|e| match e {
        serve::ServeError::Start(_) => error(1, format!("cannot listen: {e}")),
        e => error(1, e),
    })?;
    tracing::info!(
        port = server.port(),
        db = options.db.as_deref().unwrap_or("(relay only)"),
        "serving"
    );
    // Armed before READY: a SIGTERM right after READY must stop the server cleanly.
    let stop = watch_for_stop(options.watch_stdin);
    println!("PORT {}\nREADY", server.port());
    let _ = std::io::stdout().flush();

    let why = stop.recv().unwrap_or("stopped");
    // A clean stop waits for every room to apply and save what it received, however long
    // that takes (docs/sync.md); a second signal is the operator's way out.
    std::thread::spawn(move || {
        if stop.recv().is_ok() {
            eprintln!("tinystore: second stop signal: exiting without waiting for saves");
            std::process::exit(1);
        }
    });
    server.shutdown();
    if let Some(t) = &trace {
        t.record(json!({"kind": "event", "event": "stop", "why": why}));
        t.flush();
    }
    Ok(())
}

/// Blocks until SIGTERM, SIGINT or (when it is a pipe or socket) stdin closes.
/// Reports why to stop: SIGTERM, SIGINT or (when it is a pipe or socket) stdin closing. The
/// signal handlers are installed when this returns.
fn watch_for_stop(watch_stdin: bool) -> std::sync::mpsc::Receiver<&'static str> {
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
    let (armed_tx, armed) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build();
        let Ok(runtime) = runtime else { return };
        runtime.block_on(async {
            use tokio::signal::unix::{SignalKind, signal};
            let handlers = (
                signal(SignalKind::terminate()),
                signal(SignalKind::interrupt()),
            );
            let _ = armed_tx.send(());
            let (Ok(mut term), Ok(mut int)) = handlers else {
                return std::future::pending().await;
            };
            // Every signal is reported: the first stops, a second forces the exit.
            loop {
                let why = tokio::select! {
                    _ = term.recv() => "SIGTERM",
                    _ = int.recv() => "SIGINT",
                };
                if tx.send(why).is_err() {
                    return;
                }
            }
        });
    });
    // Dropped unsent (no runtime): carry on without signal handlers, as before.
    let _ = armed.recv();
    rx
}

fn stdin_is_pipe() -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::metadata("/proc/self/fd/0")
        .map(|m| m.file_type().is_fifo() || m.file_type().is_socket())
        .unwrap_or(false)
}
