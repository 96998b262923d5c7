"""The remote persister against a real HTTP server (Python's, in a thread), and the Yjs and
Automerge persisters exchanging their documents' bytes."""

import http.server
import json
import threading

import pytest

import tinystore
from tinystore import TinystoreError
from conftest import wait_until

CONTENT = ({"pets": {"fido": {"species": "dog", "legs": 4}}}, {"open": True})


class _Handler(http.server.BaseHTTPRequestHandler):
    docs = {}
    log = []

    def log_message(self, *args):
        pass

    def _record(self, body=None):
        self.log.append((self.command, self.path, self.headers.get("If-None-Match"), body))

    def do_GET(self):
        self._answer(True)

    def do_HEAD(self):
        self._answer(False)

    def _answer(self, with_body):
        self._record()
        doc = self.docs.get(self.path)
        if doc is None:
            self.send_response(404)
            self.end_headers()
            return
        body, version = doc
        etag = f'"{version}"'
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("ETag", etag)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self._record(body)
        if self.path == "/fail":
            self.send_response(500)
        else:
            version = self.docs.get(self.path, (b"", 0))[1] + 1
            self.docs[self.path] = (body, version)
            self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def http_url():
    _Handler.docs, _Handler.log = {}, []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_remote_persister_saves_loads_and_polls_with_etags(http_url):
    store = tinystore.create_store()
    store.set_content(CONTENT)
    with tinystore.create_remote_persister(store, f"{http_url}/doc", f"{http_url}/doc") as p:
        assert p.get_urls() == [f"{http_url}/doc", f"{http_url}/doc"]
        p.save()
    method, path, _, body = _Handler.log[-1]
    assert (method, path) == ("POST", "/doc")
    assert json.loads(body) == [CONTENT[0], CONTENT[1]]

    again = tinystore.create_store()
    reader = tinystore.create_remote_persister(again, f"{http_url}/doc", auto_load_interval_seconds=0.1)
    assert reader.get_urls() == [f"{http_url}/doc"]
    reader.start_auto_load()
    assert again.get_content() == CONTENT
    # Polling with the ETag; a new document is fetched and loaded.
    wait_until(lambda: any(m == "HEAD" and inm == '"1"' for m, _, inm, _ in _Handler.log))
    store.set_value("open", False)
    tinystore.create_remote_persister(store, f"{http_url}/doc", f"{http_url}/doc").save()
    wait_until(lambda: again.get_value("open") is False)
    reader.destroy()
    # Read-only: saving raises.
    with pytest.raises(TinystoreError):
        reader.save()


def test_remote_persister_errors_leave_the_store(http_url):
    store = tinystore.create_store()
    store.set_value("kept", 1)
    with pytest.raises(TinystoreError):
        tinystore.create_remote_persister(store, f"{http_url}/missing").load()
    _Handler.docs["/odd"] = (b"not json", 1)
    with pytest.raises(TinystoreError):
        tinystore.create_remote_persister(store, f"{http_url}/odd").load()
    p = tinystore.create_remote_persister(store, f"{http_url}/x", f"{http_url}/fail")
    with pytest.raises(TinystoreError):
        p.save()
    assert store.get_values() == {"kept": 1}
    with pytest.raises(TinystoreError):
        tinystore.create_remote_persister(store, f"{http_url}/x", timeout_seconds=0)


@pytest.mark.parametrize("create", [tinystore.create_yjs_persister, tinystore.create_automerge_persister])
def test_document_persisters_exchange_updates(create):
    a, b = tinystore.create_store(), tinystore.create_store()
    pa, pb = create(a), create(b)
    # A second replica starts from the first one's document (two documents that each made
    # the `tinybase` map would merge to one of the two).
    pa.save()
    pb.apply_update(pa.encode_update())
    # a auto-saves and forwards its local updates to b, which auto-loads them.
    ida = pa.add_update_listener(lambda update: pb.apply_update(update))
    pb.start_auto_load(interval=0.05)
    pa.start_auto_save()
    a.set_content(CONTENT)
    wait_until(lambda: b.get_content() == CONTENT)
    # b saves an edit and forwards it; a loads it.
    pb.add_update_listener(lambda update: pa.apply_update(update))
    pb.stop_auto_load()
    b.set_cell("pets", "felix", "species", "cat")
    pb.save()
    pa.load()
    assert a.get_cell("pets", "felix", "species") == "cat"
    assert pa.del_update_listener(ida) and not pa.del_update_listener(ida)

    # The whole document as bytes, into a third replica.
    c = tinystore.create_store()
    pc = create(c)
    pc.apply_update(pa.encode_update())
    pc.load()
    assert c.get_content() == a.get_content()
    with pytest.raises(TinystoreError):
        pc.apply_update(b"\x00\x01 not an update")
    assert c.get_content() == a.get_content()
    for p in (pa, pb, pc):
        p.destroy()
