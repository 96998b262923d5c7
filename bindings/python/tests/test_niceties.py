"""What a new user notices first: the version, how errors print, and what objects look like
in a REPL or a log."""

import traceback

import pytest

import tinystore
from tinystore import TinystoreError


def test_version_is_the_librarys():
    assert tinystore.__version__ == tinystore.library_version()
    assert tinystore.__version__.count(".") == 2


def test_errors_print_under_the_name_they_are_caught_by():
    store = tinystore.create_store()
    with pytest.raises(TinystoreError.InvalidJson) as caught:
        store.set_tables_json("nope")
    printed = "".join(traceback.format_exception_only(caught.type, caught.value))
    assert printed.startswith("tinystore.TinystoreError.InvalidJson: invalid JSON"), printed
    assert "tinystore.tinystore" not in printed
    assert str(caught.value).startswith("invalid JSON")
    for cls in (TinystoreError, TinystoreError.Persist, TinystoreError.Sync, TinystoreError.InvalidValue):
        assert cls.__module__ == "tinystore"


def test_persisters_show_where_they_keep_the_store_and_their_state(tmp_path):
    store = tinystore.create_store()
    path = tmp_path / "pets.json"
    p = tinystore.create_file_persister(store, str(path))
    assert repr(p) == f"<FilePersister {path} idle>"
    p.start_auto_save()
    assert repr(p) == f"<FilePersister {path} idle, auto-save>"
    p.start_auto_load()
    assert repr(p) == f"<FilePersister {path} idle, auto-load + auto-save>"
    p.destroy()
    assert "FilePersister" in repr(p)

    db = tmp_path / "pets.sqlite"
    assert repr(tinystore.create_sqlite_persister(store, str(db))) == f"<SqlitePersister {db} idle>"
    assert repr(tinystore.create_yjs_persister(store)) == "<YjsPersister idle>"


def test_reprs_never_show_a_password():
    store = tinystore.create_store()
    r = tinystore.create_remote_persister(store, "http://ada:s3cret@127.0.0.1:9/pets.json")
    assert repr(r) == "<RemotePersister http://ada:***@127.0.0.1:9/pets.json idle>"
    both = tinystore.create_remote_persister(store, "http://127.0.0.1:9/a", "http://127.0.0.1:9/b")
    assert repr(both) == "<RemotePersister http://127.0.0.1:9/a -> http://127.0.0.1:9/b idle>"


def test_synchronizers_and_servers_have_reprs():
    store = tinystore.create_mergeable_store()
    bus = tinystore.LocalBus()
    sync = bus.create_synchronizer(store)
    assert repr(sync) == "<Synchronizer idle>"
    sync.start_sync()
    assert repr(sync) == "<Synchronizer idle, auto-load + auto-save>"
    sync.destroy()

    with tinystore.create_ws_server(0, in_memory_rooms=True) as server:
        assert repr(server) == f"<WsServer port {server.get_port()}, 0 rooms, 0 clients>"
        url = f"ws://127.0.0.1:{server.get_port()}/pets"
        with tinystore.create_ws_synchronizer(store, url) as ws:
            assert repr(ws) == f"<WsSynchronizer {url} connected idle>"


def test_every_public_name_and_method_has_a_docstring():
    import inspect

    gaps = []
    for name in tinystore.__all__:
        obj = getattr(tinystore, name)
        if not inspect.getdoc(obj):
            gaps.append(name)
        if inspect.isclass(obj):
            for member, value in inspect.getmembers(obj):
                if not member.startswith("_") and (callable(value) or isinstance(value, property)):
                    if not inspect.getdoc(value):
                        gaps.append(f"{name}.{member}")
    assert gaps == [], f"pydoc would show these without a description: {gaps}"
