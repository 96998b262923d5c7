"""Shared fixtures: temporary paths, `tinystore serve` and the kit's TinyBase server as child
processes (each prints `PORT n` then `READY`, and stops when its piped stdin closes)."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def _tinystore_bin() -> Path:
    env = os.environ.get("TINYSTORE_BIN")
    if env:
        return Path(env)
    for profile in ("release", "debug"):
        p = ROOT / "target" / profile / "tinystore"
        if p.exists():
            return p
    pytest.fail("tinystore binary not built: cargo build --release -p tinystore-cli (or set TINYSTORE_BIN)")


def _kit_peer() -> Path:
    modules = os.environ.get("TINYSTORE_NODE_MODULES", str(ROOT / "target" / "kit" / "node_modules"))
    peer = Path(modules).parent / "peer.mjs"
    if not peer.exists() or not (Path(modules) / "tinybase").exists():
        pytest.fail(f"the TinyBase kit is not installed at {peer.parent}: run `make kit`")
    return peer


class Server:
    """A server child process; `url(room)` gives a client URL."""

    def __init__(self, argv, cwd=None):
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=cwd,
        )
        self.port = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            line = line.strip()
            if line.startswith("PORT "):
                self.port = int(line.split()[1])
            if line == "READY":
                return
        err = self.proc.stderr.read() if self.proc.poll() is not None else ""
        self.stop()
        raise RuntimeError(f"server {argv} did not start: {err}")

    def url(self, room: str) -> str:
        return f"ws://127.0.0.1:{self.port}/{room}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()  # both servers stop when their stdin closes
                self.proc.wait(timeout=10)
            except Exception:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def tinystore_serve():
    server = Server([str(_tinystore_bin()), "serve", "--port", "0", "--relay-only"])
    yield server
    server.stop()


@pytest.fixture
def tinystore_serve_db(tmp_path):
    server = Server([str(_tinystore_bin()), "serve", "--port", "0", "--db", str(tmp_path / "rooms.sqlite")])
    yield server
    server.stop()


@pytest.fixture
def tinybase_serve():
    peer = _kit_peer()
    server = Server(["node", str(peer), "serve", "--port", "0"], cwd=str(peer.parent))
    yield server
    server.stop()


def wait_until(predicate, timeout=10.0, interval=0.02):
    """Polls `predicate` until true; fails the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    assert predicate(), "condition not reached in time"


sys.modules.setdefault("tinystore_test_helpers", sys.modules[__name__])


@pytest.fixture(scope="session")
def pg_server() -> str:
    """`postgres://user@host:port` of a real PostgreSQL: `TINYSTORE_PG_URL`, or the throwaway
    cluster `tests/postgres/pg.sh` starts under target/pg (installing PostgreSQL if missing)."""
    env = os.environ.get("TINYSTORE_PG_URL")
    if env:
        return env.rstrip("/")
    script = ROOT / "tests" / "postgres" / "pg.sh"
    result = subprocess.run(["bash", str(script), "start"], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.fail(f"PostgreSQL could not be started ({script} start): {result.stderr}")
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture
def pg_url(pg_server, request) -> str:
    """A new, empty database for this test, and its URL."""
    name = f"py_{request.node.name}_{os.getpid()}".lower()[:60]
    admin = f"{pg_server}/postgres"
    for sql in (f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'):
        subprocess.run(["psql", admin, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql], check=True, capture_output=True)
    return f"{pg_server}/{name}"
