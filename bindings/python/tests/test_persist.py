"""Persisters: SQLite (JSON and tabular), file, custom storage; auto-save, auto-load, status,
errors and the async variants."""

import asyncio
import json
import sqlite3
import time

import pytest

import tinystore
from tinystore import Status, TinystoreError
from conftest import wait_until

CONTENT = ({"pets": {"fido": {"species": "dog", "toys": ["ball"]}, "felix": {"species": "cat"}}}, {"open": True})


def fill(store):
    store.set_content(CONTENT)
    return store


@pytest.mark.parametrize("mergeable", [False, True])
def test_sqlite_json_round_trip(tmp_path, mergeable):
    db = str(tmp_path / "app.sqlite")
    make = tinystore.create_mergeable_store if mergeable else tinystore.create_store
    store = fill(make())
    with tinystore.create_sqlite_persister(store, db, mode="json") as p:
        assert p.get_path() == db and p.get_store() is store
        p.save()
        assert p.get_stats() == {"loads": 0, "saves": 1}
    again = make()
    tinystore.create_sqlite_persister(again, db).load()
    assert again.get_content() == store.get_content()
    if mergeable:
        assert again.get_mergeable_content_hashes() == store.get_mergeable_content_hashes()
    rows = sqlite3.connect(db).execute("SELECT _id, store FROM tinybase").fetchall()
    assert rows[0][0] == "_" and json.loads(rows[0][1])


def test_sqlite_json_custom_table(tmp_path):
    db = str(tmp_path / "a.sqlite")
    store = fill(tinystore.create_store())
    tinystore.create_sqlite_persister(store, db, config="my_store").save()
    tinystore.create_sqlite_persister(store, db, config={"storeTableName": "other", "storeColumnName": "doc"}).save()
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM my_store").fetchone() == (1,)
    assert conn.execute("SELECT doc FROM other").fetchone()[0] == store.get_json()


def test_sqlite_tabular(tmp_path):
    db = str(tmp_path / "t.sqlite")
    store = fill(tinystore.create_store())
    p = tinystore.create_sqlite_persister(store, db, mode="tabular", tables=["pets"])
    p.save()
    conn = sqlite3.connect(db)
    assert sorted(conn.execute("SELECT _id, species FROM pets").fetchall()) == [("felix", "cat"), ("fido", "dog")]
    loaded = tinystore.create_store()
    config = {"tables": {"load": {"pets": "animals"}, "save": {"animals": "pets"}}, "values": {"load": True, "save": True}}
    tinystore.create_sqlite_persister(loaded, db, mode="tabular", config=config).load()
    assert loaded.get_table("animals")["fido"]["species"] == "dog"
    assert loaded.get_values() == {"open": True}


def test_sqlite_tabular_refuses_mergeable_store(tmp_path):
    with pytest.raises(TinystoreError.Persist):
        tinystore.create_sqlite_persister(tinystore.create_mergeable_store(), str(tmp_path / "x.sqlite"), mode="tabular", tables=["t"])
    with pytest.raises(TinystoreError.InvalidValue):
        tinystore.create_sqlite_persister(tinystore.create_store(), str(tmp_path / "x.sqlite"), mode="tabular")
    with pytest.raises(TinystoreError.InvalidValue):
        tinystore.create_sqlite_persister(tinystore.create_store(), str(tmp_path / "x.sqlite"), mode="csv")


def test_in_memory_sqlite():
    store = fill(tinystore.create_store())
    p = tinystore.create_sqlite_persister(store, ":memory:")
    p.save()
    store.del_tables()
    p.load()
    assert store.get_content() == CONTENT


def test_file_persister_and_auto_save(tmp_path):
    path = tmp_path / "store.json"
    store = tinystore.create_store()
    p = tinystore.create_file_persister(store, str(path))
    assert p.get_file_path() == str(path)
    p.start_auto_save()
    assert p.is_auto_saving()
    store.set_value("open", True)
    assert path.read_text() == '[{},{"open":true}]'  # saved before set_value returned
    p.stop_auto_save()
    store.set_value("open", False)
    assert path.read_text() == '[{},{"open":true}]'
    loaded = tinystore.create_store()
    tinystore.create_file_persister(loaded, str(path)).load()
    assert loaded.get_values() == {"open": True}


def test_load_with_initial_content(tmp_path):
    store = tinystore.create_store()
    tinystore.create_file_persister(store, str(tmp_path / "none.json")).load(({"t": {"r": {"c": 1}}}, {}))
    assert store.get_tables() == {"t": {"r": {"c": 1}}}


def test_auto_load_sees_another_writer(tmp_path):
    db = str(tmp_path / "shared.sqlite")
    reader = tinystore.create_store()
    rp = tinystore.create_sqlite_persister(reader, db)
    seen = []
    reader.add_value_listener("v", lambda s, v, new, old: seen.append(new))
    rp.start_auto_persisting(interval=0.05)
    assert rp.is_auto_loading() and rp.is_auto_saving()
    writer = tinystore.create_store()
    wp = tinystore.create_sqlite_persister(writer, db)
    writer.set_value("v", "from the writer")
    wp.save()
    wait_until(lambda: reader.get_value("v") == "from the writer")
    assert seen == ["from the writer"]
    rp.stop_auto_persisting()
    assert not rp.is_auto_loading() and not rp.is_auto_saving()
    rp.destroy()


def test_status_listener(tmp_path):
    store = tinystore.create_store()
    p = tinystore.create_file_persister(store, str(tmp_path / "s.json"))
    statuses = []
    lid = p.add_status_listener(lambda persister, status: statuses.append((persister is p, status)))
    p.save()
    p.load()
    assert statuses == [(True, Status.SAVING), (True, Status.IDLE), (True, Status.LOADING), (True, Status.IDLE)]
    assert p.get_status() == Status.IDLE
    p.del_listener(lid)
    p.save()
    assert len(statuses) == 4


def test_custom_persister():
    storage = {}
    store = fill(tinystore.create_store())
    p = tinystore.create_custom_persister(store, lambda: storage.get("doc"), lambda doc: storage.__setitem__("doc", doc))
    p.load()  # nothing stored yet: the content stays
    assert store.get_content() == CONTENT
    p.save()
    assert storage["doc"] == store.get_json()
    other = tinystore.create_store()
    tinystore.create_custom_persister(other, lambda: json.loads(storage["doc"]), lambda doc: None).load()
    assert other.get_content() == CONTENT


def test_custom_persister_errors_and_load_failure_guard():
    def broken_read():
        raise OSError("no disk")

    def broken_write(doc):
        raise OSError("read-only")

    store = tinystore.create_store()
    with pytest.raises(TinystoreError.Persist, match="no disk"):
        tinystore.create_custom_persister(store, broken_read, lambda d: None).load()
    with pytest.raises(TinystoreError.Persist, match="read-only"):
        tinystore.create_custom_persister(store, lambda: None, broken_write).save()

    stored = {"doc": "this is not JSON"}
    p = tinystore.create_custom_persister(store, lambda: stored["doc"], lambda d: stored.__setitem__("doc", d))
    with pytest.raises(TinystoreError.Persist):
        p.load()
    with pytest.raises(TinystoreError.Persist, match="allow_overwrite"):
        p.save()  # refuses to overwrite what it could not read
    assert stored["doc"] == "this is not JSON"
    p.allow_overwrite().save()
    assert stored["doc"] == "[{},{}]"


def test_ignored_errors_of_auto_save_are_reported():
    errors = []
    fail = {"on": False}

    def write(doc):
        if fail["on"]:
            raise OSError("gone")

    store = tinystore.create_store()
    p = tinystore.create_custom_persister(store, lambda: None, write)
    p.set_on_ignored_error(errors.append)
    p.start_auto_save()
    fail["on"] = True
    store.set_value("v", 1)  # the write still happens in memory
    assert store.get_value("v") == 1
    assert len(errors) == 1 and "gone" in errors[0]


def test_async_load_and_save(tmp_path):
    db = str(tmp_path / "async.sqlite")

    async def main():
        store = fill(tinystore.create_store())
        p = tinystore.create_sqlite_persister(store, db)
        await p.save_async()
        other = tinystore.create_store()
        await tinystore.create_sqlite_persister(other, db).load_async()
        return other.get_content()

    assert asyncio.run(main()) == CONTENT


def test_unwritable_path_is_an_error(tmp_path):
    with pytest.raises(TinystoreError.Persist):
        tinystore.create_sqlite_persister(tinystore.create_store(), str(tmp_path / "no" / "such" / "dir.sqlite"))
    p = tinystore.create_file_persister(tinystore.create_store(), str(tmp_path / "missing" / "f.json"))
    with pytest.raises(TinystoreError.Persist):
        p.save()


def test_explicit_auto_load_start_and_stop(tmp_path):
    path = str(tmp_path / "auto.json")
    store = tinystore.create_store()
    p = tinystore.create_file_persister(store, path)
    p.start_auto_load(({}, {"initial": True}), interval=0.05)
    assert p.is_auto_loading() and store.get_value("initial") is True
    other = tinystore.create_store()
    other.set_value("from_other", 1)
    tinystore.create_file_persister(other, path).save()
    wait_until(lambda: store.get_value("from_other") == 1)
    p.stop_auto_load()
    assert not p.is_auto_loading()


# ------------------------------------------------------------------------------ PostgreSQL


def test_postgres_persister_round_trips_and_auto_loads_through_notify(pg_url):
    store = tinystore.create_store()
    store.set_cell("pets", "fido", "species", "dog")
    with tinystore.create_postgres_persister(store, pg_url, table="shop") as p:
        assert p.get_url() == pg_url
        p.save()
        assert not p.has_unsaved_changes()
    again = tinystore.create_store()
    watcher = tinystore.create_postgres_persister(again, pg_url, "shop")
    # A poll interval of an hour: only PostgreSQL's NOTIFY can bring the change in time.
    watcher.start_auto_load(interval=3600)
    assert again.get_cell("pets", "fido", "species") == "dog"
    with tinystore.create_postgres_persister(store, pg_url, "shop") as writer:
        writer.start_auto_save()
        store.set_cell("pets", "fido", "legs", 4)
        deadline = time.monotonic() + 15
        while again.get_cell("pets", "fido", "legs") != 4:
            assert time.monotonic() < deadline, "the change did not arrive"
            time.sleep(0.02)
    watcher.destroy()


def test_postgres_tabular_mode_and_bad_urls(pg_url):
    store = tinystore.create_store()
    store.set_row("pets", "fido", {"species": "dog", "legs": 4})
    store.set_value("open", True)
    tinystore.create_postgres_persister(store, pg_url, mode="tabular", tables=["pets"]).save()
    loaded = tinystore.create_store()
    tinystore.create_postgres_persister(loaded, pg_url, mode="tabular", tables=["pets"]).load()
    assert loaded.get_tables() == {"pets": {"fido": {"species": "dog", "legs": 4}}}
    assert loaded.get_values() == {"open": True}
    with pytest.raises(tinystore.TinystoreError):
        tinystore.create_postgres_persister(store, "postgres://postgres@127.0.0.1:1/none")
    with pytest.raises(tinystore.TinystoreError):
        tinystore.create_postgres_persister(store, pg_url, mode="tabular")
    mergeable = tinystore.create_mergeable_store()
    with pytest.raises(tinystore.TinystoreError):
        tinystore.create_postgres_persister(mergeable, pg_url, mode="tabular", tables=["pets"])
