"""Sync: in-process bus, a custom transport written in Python, the in-process WebSocket server,
`tinystore serve` (relay and SQLite rooms) and TinyBase's own server from the kit; listeners
firing for changes that arrive by sync; error cases."""

import asyncio
import queue
import socket
import threading

import pytest

import tinystore
from tinystore import ConnectionStatus, TinystoreError
from conftest import wait_until


def converge(a, b, timeout=10.0):
    wait_until(lambda: a.get_content() == b.get_content(), timeout)
    wait_until(lambda: a.get_mergeable_content_hashes() == b.get_mergeable_content_hashes(), timeout)


def test_local_bus_sync_and_listener_from_sync():
    bus = tinystore.LocalBus()
    a = tinystore.create_mergeable_store("a")
    b = tinystore.create_mergeable_store("b")
    seen = []
    b.add_cell_listener(None, None, None, lambda s, t, r, c, new, old: seen.append((t, r, c, new)))
    sa, sb = bus.create_synchronizer(a), bus.create_synchronizer(b)
    assert len(bus.get_client_ids()) == 2
    sa.start_sync()
    sb.start_sync()
    a.set_cell("pets", "fido", "species", "dog")
    bus.flush()
    assert b.get_cell("pets", "fido", "species") == "dog"
    assert seen == [("pets", "fido", "species", "dog")]
    assert sa.get_synchronizer_stats()["sends"] > 0 and sb.get_synchronizer_stats()["receives"] > 0
    assert sa.is_auto_loading() and sa.is_auto_saving()
    sa.stop_sync()
    assert not sa.is_auto_saving()
    sa.destroy()
    sb.destroy()
    assert sa.is_destroyed()


def test_default_local_synchronizer():
    a, b = tinystore.create_mergeable_store(), tinystore.create_mergeable_store()
    with tinystore.create_local_synchronizer(a) as sa, tinystore.create_local_synchronizer(b) as sb:
        sa.start_sync()
        sb.start_sync()
        b.set_value("open", True)
        wait_until(lambda: a.get_value("open") is True)


class PyTransportHub:
    """A message medium written in Python: send() queues, a thread delivers."""

    def __init__(self):
        self.peers = {}
        self.q = queue.Queue()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while True:
            item = self.q.get()
            if item is None:
                return
            frm, to, msg = item
            for cid, sync in list(self.peers.items()):
                if cid != frm and (to is None or to == cid):
                    sync.receive(frm, msg)
            self.q.task_done()

    def join(self, client_id, store):
        sync = tinystore.create_custom_synchronizer(
            store, lambda to, msg: self.q.put((client_id, to, msg)), lambda: self.peers.pop(client_id, None)
        )
        self.peers[client_id] = sync
        return sync

    def close(self):
        self.q.put(None)


def test_custom_synchronizer_with_python_transport():
    hub = PyTransportHub()
    a, b = tinystore.create_mergeable_store("a"), tinystore.create_mergeable_store("b")
    a.set_row("t", "r", {"from": "a"})
    sa, sb = hub.join("A", a), hub.join("B", b)
    sa.start_sync()
    sb.start_sync()
    b.set_value("from_b", 1)
    converge(a, b)
    assert a.get_value("from_b") == 1 and b.get_row("t", "r") == {"from": "a"}
    sa.destroy()
    assert "A" not in hub.peers  # close() was called
    sb.destroy()
    hub.close()


def test_in_process_ws_server_relay_and_rooms(tmp_path):
    with tinystore.create_ws_server(0) as server:
        port = server.port
        assert server.get_port() == port and server.is_running()
        rooms = []
        server.add_path_ids_listener(lambda srv, path, added: rooms.append((path, added)))
        clients = []
        server.add_client_ids_listener(None, lambda srv, path, cid, added: clients.append((path, added)))
        a, b = tinystore.create_mergeable_store(), tinystore.create_mergeable_store()
        with tinystore.create_ws_synchronizer(a, f"ws://127.0.0.1:{port}/room1") as sa, \
                tinystore.create_ws_synchronizer(b, f"ws://127.0.0.1:{port}/room1") as sb:
            assert sa.get_connection_status() == ConnectionStatus.CONNECTED
            assert sa.get_url() == f"ws://127.0.0.1:{port}/room1"
            sa.start_sync()
            sb.start_sync()
            a.set_cell("t", "r", "c", "hello")
            converge(a, b)
            assert server.get_path_ids() == ["room1"]
            assert len(server.get_client_ids("room1")) == 2
            assert server.get_stats() == {"paths": 1, "clients": 2}
        wait_until(lambda: server.get_stats()["clients"] == 0)
        assert ("room1", True) in rooms and clients.count(("room1", True)) == 2
    assert not server.is_running()
    with pytest.raises(TinystoreError.Destroyed):
        server.get_path_ids()
    server.stop()  # idempotent


def test_in_process_ws_server_persists_rooms(tmp_path):
    db = str(tmp_path / "rooms.sqlite")
    with tinystore.create_ws_server(0, db) as server:
        a = tinystore.create_mergeable_store()
        with tinystore.create_ws_synchronizer(a, f"ws://127.0.0.1:{server.port}/shop") as s:
            s.start_sync()
            a.set_value("open", True)
            wait_until(lambda: server.get_stats()["clients"] == 1)
    # The room's store was saved when the server stopped; a new server serves it.
    with tinystore.create_ws_server(0, db) as server:
        late = tinystore.create_mergeable_store()
        with tinystore.create_ws_synchronizer(late, f"ws://127.0.0.1:{server.port}/shop") as s:
            s.start_sync()
            wait_until(lambda: late.get_value("open") is True)


def test_two_python_stores_converge_through_tinystore_serve(tinystore_serve):
    a = tinystore.create_mergeable_store()
    b = tinystore.create_mergeable_store()
    from_sync = []
    b.add_row_listener("todos", None, lambda s, t, r, _: from_sync.append(r))
    with tinystore.create_ws_synchronizer(a, tinystore_serve.url("todo")) as sa, \
            tinystore.create_ws_synchronizer(b, tinystore_serve.url("todo")) as sb:
        sa.start_sync()
        sb.start_sync()
        a.set_row("todos", "1", {"text": "buy milk", "done": False})
        b.set_row("todos", "2", {"text": "walk dog", "done": False})
        with a.transaction():
            a.set_cell("todos", "1", "done", True)
            a.set_value("owner", "alice")
        converge(a, b)
        assert b.get_row("todos", "1") == {"text": "buy milk", "done": True}
        assert "1" in from_sync
        # Concurrent edits of one cell: the later HLC wins on both sides.
        a.set_cell("todos", "2", "text", "walk the dog")
        b.set_cell("todos", "2", "text", "walk the cat")
        converge(a, b)


def test_late_joiner_gets_the_room_from_tinystore_serve_db(tinystore_serve_db):
    a = tinystore.create_mergeable_store()
    with tinystore.create_ws_synchronizer(a, tinystore_serve_db.url("shop")) as sa:
        sa.start_sync()
        a.set_table("pets", {"fido": {"species": "dog"}})
        late = tinystore.create_mergeable_store()
        with tinystore.create_ws_synchronizer(late, tinystore_serve_db.url("shop")) as sl:
            sl.start_sync()
            converge(a, late)


def test_two_python_stores_converge_through_tinybase_server(tinybase_serve):
    a = tinystore.create_mergeable_store()
    b = tinystore.create_mergeable_store()
    seen = []
    b.add_value_listener("greeting", lambda s, v, new, old: seen.append(new))
    with tinystore.create_ws_synchronizer(a, tinybase_serve.url("kit")) as sa, \
            tinystore.create_ws_synchronizer(b, tinybase_serve.url("kit")) as sb:
        sa.start_sync()
        sb.start_sync()
        a.set_value("greeting", "hello from python")
        a.set_row("t", "r", {"obj": {"nested": [1, 2]}, "n": 1.5})
        converge(a, b)
        assert b.get_cell("t", "r", "obj") == {"nested": [1, 2]}
        assert seen == ["hello from python"]


def test_multiplexed_channel(tinystore_serve):
    a, b = tinystore.create_mergeable_store(), tinystore.create_mergeable_store()
    base = f"ws://127.0.0.1:{tinystore_serve.port}/"
    with tinystore.create_ws_synchronizer(a, base, channel="chan") as sa, \
            tinystore.create_ws_synchronizer(b, base, channel="chan", fragment_size=64) as sb:
        sa.start_sync()
        sb.start_sync()
        a.set_cell("t", "r", "long", "x" * 500)
        converge(a, b)


def test_initial_content_when_nobody_answers(tinystore_serve):
    a = tinystore.create_mergeable_store()
    with tinystore.create_ws_synchronizer(a, tinystore_serve.url("empty"), request_timeout=0.2) as s:
        s.start_sync(({"t": {"r": {"c": "default"}}}, {}))
        assert a.get_cell("t", "r", "c") == "default"


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_connect_errors():
    store = tinystore.create_mergeable_store()
    with pytest.raises(TinystoreError.Sync):
        tinystore.create_ws_synchronizer(store, f"ws://127.0.0.1:{_free_port()}/room", connect_timeout=2)
    with pytest.raises(TinystoreError.Sync):
        tinystore.create_ws_synchronizer(store, "http://not-a-ws-url/")


def test_server_errors():
    with tinystore.create_ws_server(0) as server:
        with pytest.raises(TinystoreError.Server):
            tinystore.create_ws_server(server.port)
    with pytest.raises(TinystoreError.Server):
        tinystore.create_ws_server(0, host="not an address")


def test_async_variants():
    async def main():
        server = await tinystore.create_ws_server_async(0)
        a, b = tinystore.create_mergeable_store(), tinystore.create_mergeable_store()
        sa = await tinystore.create_ws_synchronizer_async(a, f"ws://127.0.0.1:{server.port}/r")
        sb = await tinystore.create_ws_synchronizer_async(b, f"ws://127.0.0.1:{server.port}/r")
        await sa.start_sync_async()
        await sb.start_sync_async()
        a.set_value("v", 1)
        for _ in range(200):
            if b.get_value("v") == 1:
                break
            await asyncio.sleep(0.02)
        await sb.load_async()
        sa.destroy()
        sb.destroy()
        await server.stop_async()
        return b.get_value("v")

    assert asyncio.run(main()) == 1


def test_synchronizer_step_by_step_and_status():
    bus = tinystore.LocalBus()
    a, b = tinystore.create_mergeable_store("a"), tinystore.create_mergeable_store("b")
    sa, sb = bus.create_synchronizer(a), bus.create_synchronizer(b)
    assert sa.get_store() is a
    statuses = []
    lid = sb.add_status_listener(lambda sync, status: statuses.append((sync is sb, status)))
    a.set_value("v", 1)
    sa.start_auto_save()
    assert sa.is_auto_saving()
    sb.start_auto_load()
    assert sb.is_auto_loading()
    bus.flush()
    sb.load()
    assert b.get_value("v") == 1
    assert (True, tinystore.Status.LOADING) in statuses and sb.get_status() == tinystore.Status.IDLE
    assert sb.get_stats()["loads"] >= 1
    sb.del_listener(lid)
    sa.save()
    sa.stop_auto_save()
    sb.stop_auto_load()
    assert not sa.is_auto_saving() and not sb.is_auto_loading()
    sa.start_auto_persisting()
    sb.start_auto_persisting()
    b.set_value("w", 2)
    bus.flush()
    assert a.get_value("w") == 2
    sa.stop_auto_persisting()
    sb.stop_auto_persisting()
    sa.destroy()
    sb.destroy()


def test_server_listener_removal_and_destroy():
    server = tinystore.create_ws_server(0, in_memory_rooms=True)
    lid = server.add_path_ids_listener(lambda *a: None)
    assert server.del_listener(lid) and not server.del_listener(lid)
    a = tinystore.create_mergeable_store()
    with tinystore.create_ws_synchronizer(a, f"ws://127.0.0.1:{server.port}/mem") as s:
        s.start_sync()
        a.set_value("v", 1)
        # The room's in-memory store answers too (it lives while the room has clients).
        wait_until(lambda: server.get_stats()["clients"] == 1)
        late = tinystore.create_mergeable_store()
        with tinystore.create_ws_synchronizer(late, f"ws://127.0.0.1:{server.port}/mem") as s2:
            s2.start_sync()
            wait_until(lambda: late.get_value("v") == 1)
    server.destroy()
    assert not server.is_running()


def test_ws_synchronizer_falls_back_to_the_next_url():
    with tinystore.create_ws_server(0) as server:
        live = f"ws://127.0.0.1:{server.port}/room"
        a, b = tinystore.create_mergeable_store(), tinystore.create_mergeable_store()
        dead = "ws://127.0.0.1:1/room"
        with tinystore.create_ws_synchronizer(a, dead, fallback_urls=[live], reconnect=True) as sa, \
                tinystore.create_ws_synchronizer(b, live) as sb:
            assert sa.get_connection_status() == ConnectionStatus.CONNECTED
            sa.start_sync()
            sb.start_sync()
            a.set_cell("t", "r", "c", "via the fallback")
            converge(a, b)
        with pytest.raises(TinystoreError):
            tinystore.create_ws_synchronizer(a, dead, fallback_urls=["ws://127.0.0.1:2/room"])
