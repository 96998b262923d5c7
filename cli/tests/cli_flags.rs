//! The command line rejects careless input and bounds what it reads (finding 7): every test
//! runs the real `tinystore` binary under a deadline, so a flag that is silently accepted (and
//! starts a server that never stops) or an input that is read forever fails the test instead
//! of hanging the suite.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const TINYSTORE: &str = env!("CARGO_BIN_EXE_tinystore");
/// Long enough for a loaded 2-core machine; a command that should fail at once and instead
/// serves would run forever.
const DEADLINE: Duration = Duration::from_secs(20);

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

impl Run {
    fn describe(&self) -> String {
        format!(
            "exit {:?} after {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.elapsed, self.stdout, self.stderr
        )
    }
}

/// Kills a child still running when dropped (a failed assertion must not leave a server).
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

fn drain(mut pipe: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        let _ = tx.send(String::from_utf8_lossy(&bytes).into_owned());
    });
    rx
}

fn wait_until(child: &mut Child, deadline: Instant) -> Option<ExitStatus> {
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs `tinystore args` with `stdin` and waits at most [`DEADLINE`] (then kills it and fails).
fn run_with(args: &[&str], stdin: Stdio) -> Run {
    let start = Instant::now();
    let child = Command::new(TINYSTORE)
        .args(args)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tinystore runs");
    let mut guard = Guard(child);
    let stdout = drain(guard.0.stdout.take().unwrap());
    let stderr = drain(guard.0.stderr.take().unwrap());
    let status = wait_until(&mut guard.0, start + DEADLINE);
    let elapsed = start.elapsed();
    drop(guard);
    let run = Run {
        code: status.and_then(|s| s.code()),
        stdout: stdout
            .recv_timeout(Duration::from_secs(5))
            .unwrap_or_default(),
        stderr: stderr
            .recv_timeout(Duration::from_secs(5))
            .unwrap_or_default(),
        elapsed,
    };
    assert!(
        status.is_some(),
        "tinystore {args:?} still running after {DEADLINE:?} (killed)\n{}",
        run.describe()
    );
    run
}

fn run(args: &[&str]) -> Run {
    run_with(args, Stdio::null())
}

/// Whether a `READY` line (a server up) was printed; help text may mention the word.
fn said_ready(stdout: &str) -> bool {
    stdout.lines().any(|line| line.trim() == "READY")
}

/// Exit 2 (a usage error) naming `flag` on stderr; not a panic, no server started.
fn assert_usage_error(args: &[&str], flag: &str) {
    let out = run(args);
    assert_eq!(out.code, Some(2), "tinystore {args:?}: {}", out.describe());
    assert!(
        out.stderr.contains(flag),
        "tinystore {args:?}: stderr does not name {flag}\n{}",
        out.describe()
    );
    assert!(
        !out.stderr.contains("panicked"),
        "tinystore {args:?} panicked\n{}",
        out.describe()
    );
    assert!(
        !said_ready(&out.stdout),
        "tinystore {args:?} started serving\n{}",
        out.describe()
    );
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tinystore-flags-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn path(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

/// A `tinystore serve` that printed `PORT n` and `READY`; stopped with SIGTERM.
struct Server {
    guard: Guard,
    port: u16,
    stderr: mpsc::Receiver<String>,
}

impl Server {
    /// Starts `tinystore serve args` and waits for `PORT n` then `READY` (in that order).
    fn start(args: &[&str]) -> Server {
        let child = Command::new(TINYSTORE)
            .arg("serve")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("tinystore serve runs");
        let mut guard = Guard(child);
        let stderr = drain(guard.0.stderr.take().unwrap());
        let (tx, rx) = mpsc::channel();
        let stdout = guard.0.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + DEADLINE;
        let mut lines = Vec::new();
        while lines.last().map(String::as_str) != Some("READY") {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => lines.push(line),
                Err(_) => {
                    drop(guard);
                    panic!(
                        "serve {args:?} printed {lines:?}, no READY\n{}",
                        stderr
                            .recv_timeout(Duration::from_secs(5))
                            .unwrap_or_default()
                    );
                }
            }
        }
        assert_eq!(lines.len(), 2, "serve {args:?} printed {lines:?}");
        let port = lines[0]
            .strip_prefix("PORT ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("serve {args:?} printed {lines:?}"));
        Server {
            guard,
            port,
            stderr,
        }
    }

    /// SIGTERM, then the exit status (within the deadline) and stderr.
    fn stop(mut self) -> (Option<i32>, String) {
        let status = Command::new("kill")
            .arg(self.guard.0.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success());
        let status = wait_until(&mut self.guard.0, Instant::now() + DEADLINE)
            .expect("serve did not stop on SIGTERM");
        let stderr = self
            .stderr
            .recv_timeout(Duration::from_secs(5))
            .unwrap_or_default();
        (status.code(), stderr)
    }
}

// ---------------------------------------------------------------------------------- finding 7

#[test]
fn finding_7_request_timeout_out_of_range_is_a_usage_error() {
    for command in [
        &["serve", "--port", "0", "--relay-only", "--no-stdin-watch"][..],
        &["client", "--url", "ws://127.0.0.1:9/room"][..],
    ] {
        for bad in ["1e20", "-1", "0", "abc", "inf", "NaN", "86401", ""] {
            let mut args = command.to_vec();
            args.extend(["--request-timeout-s", bad]);
            assert_usage_error(&args, "--request-timeout-s");
            let eq = format!("--request-timeout-s={bad}");
            let mut args = command.to_vec();
            args.push(&eq);
            assert_usage_error(&args, "--request-timeout-s");
        }
    }
    // The bounds themselves are accepted.
    for ok in ["0.001", "86400"] {
        let server = Server::start(&[
            "--port",
            "0",
            "--relay-only",
            "--no-stdin-watch",
            "--request-timeout-s",
            ok,
        ]);
        assert_eq!(server.stop().0, Some(0));
    }
}

#[test]
fn finding_7_unknown_flag_is_rejected() {
    assert_usage_error(&["serve", "--dbb", "x"], "--dbb");
    assert_usage_error(
        &["serve", "--port", "0", "--relay-only", "--bogus"],
        "--bogus",
    );
    assert_usage_error(&["serve", "--port", "0", "stray"], "stray");
    assert_usage_error(
        &["client", "--url", "ws://127.0.0.1:9/r", "--nope", "1"],
        "--nope",
    );
    assert_usage_error(
        &["apply", "--ops", "a", "--out", "b", "--merg", "c"],
        "--merg",
    );
    assert_usage_error(&["dump-sqlite", "--db", "x", "--modes", "json"], "--modes");
    assert_usage_error(&["write-sqlite", "--db", "x", "--forse"], "--forse");
    assert_usage_error(&["demo", "--database", "x"], "--database");
    assert_usage_error(&["bench", "--run", "1"], "--run");
    assert_usage_error(&["frobnicate"], "frobnicate");
}

#[test]
fn finding_7_missing_value_is_rejected() {
    assert_usage_error(&["serve", "--port"], "--port");
    assert_usage_error(&["serve", "--db", "--relay-only"], "--db");
    assert_usage_error(&["client", "--url", "ws://127.0.0.1:9/r", "--ops"], "--ops");
    assert_usage_error(&["apply", "--ops"], "--ops");
    assert_usage_error(&["apply", "--out", "x"], "--ops");
    assert_usage_error(&["dump-sqlite", "--out"], "--out");
    assert_usage_error(&["write-sqlite", "--db", "x", "--in"], "--in");
    assert_usage_error(&["demo", "--db"], "--db");
}

#[test]
fn finding_7_help_prints_help_and_does_not_serve() {
    for args in [
        &["serve", "--help"][..],
        &["serve", "-h"],
        &["serve", "--port", "0", "--help"],
        &["help", "serve"],
    ] {
        let out = run(args);
        assert_eq!(out.code, Some(0), "{args:?}: {}", out.describe());
        assert!(
            out.stdout.contains("--port"),
            "{args:?}: {}",
            out.describe()
        );
        for flag in [
            "--auth-tokens",
            "--max-rooms",
            "--max-connections",
            "--tls-cert",
            "--tls-key",
            "--save-interval-ms",
        ] {
            assert!(out.stdout.contains(flag), "{args:?}: {}", out.describe());
        }
        assert!(!said_ready(&out.stdout), "{args:?}: {}", out.describe());
        assert!(
            out.elapsed < Duration::from_secs(10),
            "{args:?}: {}",
            out.describe()
        );
    }
    for command in [
        "demo",
        "apply",
        "dump-sqlite",
        "write-sqlite",
        "client",
        "bench",
    ] {
        let out = run(&[command, "--help"]);
        assert_eq!(out.code, Some(0), "{command}: {}", out.describe());
        assert!(out.stdout.contains("--"), "{command}: {}", out.describe());
        assert!(
            !said_ready(&out.stdout) && !out.stdout.contains("server:"),
            "{command}: {}",
            out.describe()
        );
    }
    // The command list: `tinystore`, `tinystore help`, `tinystore --help`.
    for args in [&[][..], &["help"], &["--help"], &["-h"]] {
        let out = run(args);
        assert_eq!(out.code, Some(0), "{args:?}: {}", out.describe());
        for command in [
            "demo",
            "apply",
            "dump-sqlite",
            "write-sqlite",
            "serve",
            "client",
            "bench",
            "--save-interval-ms",
        ] {
            assert!(out.stdout.contains(command), "{args:?}: {}", out.describe());
        }
    }
    let out = run(&["--version"]);
    assert_eq!(out.code, Some(0));
    assert!(out.stdout.starts_with("tinystore "), "{}", out.describe());
}

#[test]
fn finding_7_apply_ops_dev_zero_is_bounded() {
    let dir = scratch("dev-zero");
    let out_file = dir.join("out.json");
    let expect_size_error = |args: &[&str], stdin: Stdio, what: &str| {
        let out = run_with(args, stdin);
        assert_eq!(out.code, Some(1), "{args:?}: {}", out.describe());
        assert!(
            out.stderr.contains(&format!("{what}: larger than 256 MiB")),
            "{args:?}: {}",
            out.describe()
        );
        assert!(
            out.elapsed < Duration::from_secs(15),
            "{args:?}: {}",
            out.describe()
        );
    };
    let zero = || Stdio::from(std::fs::File::open("/dev/zero").unwrap());
    expect_size_error(
        &["apply", "--ops", "/dev/zero", "--out", path(&out_file)],
        Stdio::null(),
        "/dev/zero",
    );
    assert!(!out_file.exists());
    expect_size_error(
        &["apply", "--ops", "-", "--out", path(&out_file)],
        zero(),
        "stdin",
    );
    // --merge files are read before anything is written.
    let ops = dir.join("ops.json");
    std::fs::write(&ops, "[]").unwrap();
    expect_size_error(
        &[
            "apply",
            "--ops",
            path(&ops),
            "--merge",
            "/dev/zero",
            "--out",
            path(&out_file),
        ],
        Stdio::null(),
        "/dev/zero",
    );
    assert!(!out_file.exists());
    // The other readers: write-sqlite --in, client --ops/--pre-ops/--expect (the client reads
    // its ops before it connects; port 9 has no server).
    let db = dir.join("w.sqlite");
    expect_size_error(
        &["write-sqlite", "--db", path(&db), "--in", "/dev/zero"],
        Stdio::null(),
        "/dev/zero",
    );
    expect_size_error(&["write-sqlite", "--db", path(&db)], zero(), "stdin");
    assert!(!db.exists());
    for flag in ["--ops", "--pre-ops"] {
        expect_size_error(
            &["client", "--url", "ws://127.0.0.1:9/r", flag, "/dev/zero"],
            Stdio::null(),
            "/dev/zero",
        );
    }
    // A regular file over the cap is refused from its size, without reading it (sparse).
    let big = dir.join("big.json");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(256 * 1024 * 1024 + 1)
        .unwrap();
    expect_size_error(
        &["apply", "--ops", path(&big), "--out", path(&out_file)],
        Stdio::null(),
        path(&big),
    );
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------------- ranges

#[test]
fn numbers_are_range_checked() {
    let serve = ["serve", "--port", "0", "--relay-only", "--no-stdin-watch"];
    let client = ["client", "--url", "ws://127.0.0.1:9/r"];
    let cases: &[(&[&str], &str, &[&str])] = &[
        (&["serve"], "--port", &["-1", "65536", "1.5", "abc", "1e20"]),
        (
            &serve,
            "--fragment-size",
            &["0", "-1", "16777217", "2.5", "x"],
        ),
        (&client, "--fragment-size", &["0", "16777217"]),
        (&serve, "--save-interval-ms", &["-1", "3600001", "1.5", "x"]),
        (&client, "--timeout-ms", &["-1", "1e20", "NaN", "x"]),
        (&client, "--wait-ms", &["-1", "1e20", "inf"]),
        (&client, "--quiet-ms", &["-5", "1e300"]),
        (&client, "--max-wait-ms", &["-1", "86400001"]),
        (
            &client,
            "--fixed-now",
            &["-1", "1e20", "4398046511104", "x"],
        ),
        (
            &["apply", "--ops", "a", "--out", "b"],
            "--fixed-now",
            &["-1", "1e20", "x"],
        ),
        (
            &["write-sqlite", "--db", "x"],
            "--fixed-now",
            &["-1", "1e20"],
        ),
        (&["bench"], "--runs", &["0", "-1", "1001", "x"]),
    ];
    for (command, flag, values) in cases {
        for value in *values {
            let mut args = command.to_vec();
            args.extend([*flag, *value]);
            assert_usage_error(&args, flag);
        }
    }
}

#[test]
fn max_rooms_range() {
    let serve = ["serve", "--port", "0", "--relay-only", "--no-stdin-watch"];
    for bad in ["0", "-1", "1000001", "1.5", "abc", ""] {
        let mut args = serve.to_vec();
        args.extend(["--max-rooms", bad]);
        assert_usage_error(&args, "--max-rooms");
    }
    for ok in ["1", "1000000"] {
        let server = Server::start(&[
            "--port",
            "0",
            "--relay-only",
            "--no-stdin-watch",
            "--max-rooms",
            ok,
        ]);
        assert_eq!(server.stop().0, Some(0));
    }
}

#[test]
fn max_connections_range() {
    let serve = ["serve", "--port", "0", "--relay-only", "--no-stdin-watch"];
    for bad in ["0", "-1", "1000001", "abc", ""] {
        let mut args = serve.to_vec();
        args.extend(["--max-connections", bad]);
        assert_usage_error(&args, "--max-connections");
    }
    let server = Server::start(&[
        "--port",
        "0",
        "--relay-only",
        "--no-stdin-watch",
        "--max-connections",
        "20000",
    ]);
    assert_eq!(server.stop().0, Some(0));
}

#[test]
fn tls_flags_come_in_pairs() {
    let dir = scratch("tls");
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    std::fs::write(&cert, "-----BEGIN CERTIFICATE-----\n").unwrap();
    std::fs::write(&key, "-----BEGIN PRIVATE KEY-----\n").unwrap();
    let serve = ["serve", "--port", "0", "--relay-only", "--no-stdin-watch"];
    fn with<'a>(serve: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
        let mut args = serve.to_vec();
        args.extend(extra);
        args
    }
    // One without the other: a usage error naming the missing one.
    assert_usage_error(&with(&serve, &["--tls-cert", path(&cert)]), "--tls-key");
    assert_usage_error(&with(&serve, &["--tls-key", path(&key)]), "--tls-cert");
    // Files that cannot be read.
    let missing = dir.join("missing.pem");
    assert_usage_error(
        &with(
            &serve,
            &["--tls-cert", path(&missing), "--tls-key", path(&key)],
        ),
        "--tls-cert",
    );
    assert_usage_error(
        &with(
            &serve,
            &["--tls-cert", path(&cert), "--tls-key", path(&dir)],
        ),
        "--tls-key",
    );
    // Both, but not a certificate and key: an error at start naming the file, nothing served.
    let bad = run(&with(
        &serve,
        &["--tls-cert", path(&cert), "--tls-key", path(&key)],
    ));
    assert_eq!(bad.code, Some(1), "{}", bad.describe());
    assert!(bad.stderr.contains("cert.pem"), "{}", bad.describe());
    assert!(!said_ready(&bad.stdout));
    // (A real certificate serving wss:// is tested in core/tests/server_hardening.rs.)
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn auth_tokens_must_be_a_readable_file() {
    let dir = scratch("auth");
    let serve = ["serve", "--port", "0", "--relay-only", "--no-stdin-watch"];
    let missing = dir.join("tokens.txt");
    let mut args = serve.to_vec();
    args.extend(["--auth-tokens", path(&missing)]);
    assert_usage_error(&args, "--auth-tokens");
    let mut args = serve.to_vec();
    args.extend(["--auth-tokens", path(&dir)]);
    assert_usage_error(&args, "--auth-tokens");
    // Not a token file: an error at start, nothing served.
    std::fs::write(&missing, "secret\n").unwrap();
    let mut args = serve.to_vec();
    args.extend(["--auth-tokens", path(&missing)]);
    let bad = run(&args);
    assert_eq!(bad.code, Some(1), "{}", bad.describe());
    assert!(
        bad.stderr.contains("invalid token file"),
        "{}",
        bad.describe()
    );
    assert!(!said_ready(&bad.stdout));
    std::fs::write(
        &missing,
        r#"{"tokens": {"t": {"rooms": ["*"], "access": "read"}}}"#,
    )
    .unwrap();
    let server = Server::start(&[
        "--port",
        "0",
        "--relay-only",
        "--no-stdin-watch",
        "--auth-tokens",
        path(&missing),
        "--save-interval-ms",
        "0",
    ]);
    assert_eq!(server.stop().0, Some(0));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn host_must_resolve() {
    assert_usage_error(
        &[
            "serve",
            "--port",
            "0",
            "--relay-only",
            "--no-stdin-watch",
            "--host",
            "no-such-host.invalid",
        ],
        "--host",
    );
    assert_usage_error(
        &["serve", "--port", "0", "--relay-only", "--host", ""],
        "--host",
    );
    for host in ["localhost", "127.0.0.1"] {
        let server = Server::start(&[
            "--port",
            "0",
            "--relay-only",
            "--no-stdin-watch",
            "--host",
            host,
        ]);
        assert_eq!(server.stop().0, Some(0), "--host {host}");
    }
}

#[test]
fn db_and_relay_only_exclude_each_other() {
    assert_usage_error(
        &["serve", "--port", "0", "--db", "x.sqlite", "--relay-only"],
        "--relay-only",
    );
}

#[test]
fn inspector_flags_exclude_each_other_and_are_documented() {
    assert_usage_error(
        &[
            "serve",
            "--port",
            "0",
            "--relay-only",
            "--inspector-write",
            "--no-inspector",
        ],
        "--no-inspector",
    );
    let help = run(&["serve", "--help"]);
    assert_eq!(help.code, Some(0), "{}", help.describe());
    for flag in ["--inspector-write", "--no-inspector"] {
        assert!(help.stdout.contains(flag), "{flag}: {}", help.describe());
    }
    let overview = run(&["help"]);
    assert!(
        overview.stdout.contains("/inspector"),
        "{}",
        overview.describe()
    );
}

// ---------------------------------------------------------------------------------- still works

#[test]
fn serve_prints_port_then_ready_and_stops_on_sigterm() {
    let server = Server::start(&["--port", "0", "--relay-only", "--no-stdin-watch"]);
    assert_ne!(server.port, 0);
    // It listens on the port it printed.
    std::net::TcpStream::connect(("127.0.0.1", server.port)).expect("serve listens");
    let (code, stderr) = server.stop();
    assert_eq!(code, Some(0), "{stderr}");
    // `--name=value` works as well as `--name value`.
    let server = Server::start(&[
        "--port=0",
        "--relay-only",
        "--no-stdin-watch",
        "--host=127.0.0.1",
    ]);
    assert_eq!(server.stop().0, Some(0));
}

#[test]
fn serve_with_a_database_saves_on_sigterm() {
    let dir = scratch("serve-db");
    let db = dir.join("rooms.sqlite");
    let server = Server::start(&["--port", "0", "--no-stdin-watch", "--db", path(&db)]);
    let (code, stderr) = server.stop();
    assert_eq!(code, Some(0), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn repeated_flags_take_the_last_value() {
    // peer.mjs keeps the last value of a repeated flag.
    let server = Server::start(&[
        "--port",
        "8",
        "--port",
        "0",
        "--relay-only",
        "--no-stdin-watch",
    ]);
    assert_eq!(server.stop().0, Some(0));
}

#[test]
fn apply_still_takes_verbatim_ids_and_repeated_merges() {
    let dir = scratch("apply");
    let ops = dir.join("ops.json");
    std::fs::write(&ops, r#"[["setCell","t","r","c",1]]"#).unwrap();
    let first = dir.join("first.json");
    for id in ["-x", ""] {
        let out = run(&[
            "apply",
            "--unique-id",
            id,
            "--fixed-now",
            "1700000000000",
            "--ops",
            path(&ops),
            "--out",
            path(&first),
        ]);
        assert_eq!(out.code, Some(0), "--unique-id {id:?}: {}", out.describe());
    }
    let merged = dir.join("merged.json");
    let out = run(&[
        "apply",
        "--ops",
        path(&ops),
        "--merge",
        path(&first),
        "--merge",
        path(&first),
        "--fixed-now=1700000000000",
        "--out",
        path(&merged),
    ]);
    assert_eq!(out.code, Some(0), "{}", out.describe());
    assert!(merged.is_file());
    // A missing input is a failed run (exit 1), not a usage error.
    let out = run(&[
        "apply",
        "--ops",
        path(&dir.join("none.json")),
        "--out",
        path(&merged),
    ]);
    assert_eq!(out.code, Some(1), "{}", out.describe());
    let _ = std::fs::remove_dir_all(&dir);
}
