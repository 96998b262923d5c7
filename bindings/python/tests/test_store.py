"""The Store through the Python layer: values, getters and setters, JSON, schemas,
transactions, every listener kind, and error cases."""

import json

import pytest

import tinystore
from tinystore import TinystoreError


@pytest.fixture
def store():
    return tinystore.create_store()


def test_quick_start():
    s = tinystore.create_store()
    s.set_cell("t", "r", "c", 1)
    assert s.get_tables() == {"t": {"r": {"c": 1}}}
    assert tinystore.library_version() == "0.1.0"


@pytest.mark.parametrize(
    "value",
    ["dog", "", "ünï©ødé", 0, 1, -7, 2**52, 4.5, -0.25, 1e300, True, False, None,
     {"a": 1, "b": [1, 2.5, "x", None, True]}, [1, {"x": "y"}], {}, []],
)
def test_cell_and_value_types_round_trip(store, value):
    store.set_cell("t", "r", "c", value)
    store.set_value("v", value)
    assert store.has_cell("t", "r", "c")
    got = store.get_cell("t", "r", "c")
    assert got == value and type(got) is type(value)
    assert store.get_value("v") == value
    assert store.get_row("t", "r") == {"c": value}
    assert store.get_values() == {"v": value}


def test_integral_numbers_come_back_as_int(store):
    store.set_cell("t", "r", "c", 4.0)
    assert store.get_cell("t", "r", "c") == 4 and isinstance(store.get_cell("t", "r", "c"), int)
    store.set_cell("t", "r", "c", 4.5)
    assert isinstance(store.get_cell("t", "r", "c"), float)


def test_getters_and_setters(store):
    assert not store.has_tables() and not store.has_values()
    store.set_tables({"pets": {"fido": {"species": "dog", "legs": 4}, "felix": {"species": "cat"}}})
    store.set_table("toys", {"ball": {"color": "red"}})
    store.set_row("pets", "polly", {"species": "bird", "legs": 2})
    store.set_partial_row("pets", "polly", {"color": "green"})
    assert store.has_tables() and store.has_table("pets") and store.has_row("pets", "fido")
    assert store.has_table_cell("pets", "legs") and not store.has_table_cell("pets", "nope")
    assert store.get_table_ids() == ["pets", "toys"]
    assert store.get_row_ids("pets") == ["fido", "felix", "polly"]
    assert store.get_row_count("pets") == 3
    assert store.get_cell_ids("pets", "polly") == ["species", "legs", "color"]
    assert store.get_table_cell_ids("pets") == ["species", "legs", "color"]
    assert store.get_table("toys") == {"ball": {"color": "red"}}
    assert store.get_row("pets", "missing") == {}
    assert store.get_cell("pets", "missing", "x") is None
    assert list(store.get_tables()["pets"]) == ["fido", "felix", "polly"]

    row_id = store.add_row("pets", {"species": "fish"})
    assert row_id == "0" and store.get_cell("pets", "0", "species") == "fish"
    assert store.add_row("pets", {"bad": float("nan")}) is None  # invalid row

    store.set_values({"open": True, "employees": 3})
    store.set_partial_values({"owner": "alice"})
    assert store.get_value_ids() == ["open", "employees", "owner"]
    assert store.has_value("open") and not store.has_value("closed")

    store.del_cell("pets", "polly", "color")
    assert not store.has_cell("pets", "polly", "color")
    store.del_row("pets", "polly")
    assert not store.has_row("pets", "polly")
    store.del_table("toys")
    assert store.get_table_ids() == ["pets"]
    store.del_value("owner")
    assert store.get_value("owner") is None
    store.del_values()
    assert store.get_values() == {}
    store.del_tables()
    assert store.get_tables() == {}


def test_fluent_setters_return_the_store(store):
    assert store.set_cell("t", "r", "a", 1).set_value("v", 2) is store


def test_content_and_json(store):
    store.set_content(({"t": {"r": {"c": {"x": 1}}}}, {"v": [1, 2]}))
    assert store.get_content() == ({"t": {"r": {"c": {"x": 1}}}}, {"v": [1, 2]})
    assert store.get_json() == '[{"t":{"r":{"c":"\ufffd{\\"x\\":1}"}}},{"v":"\ufffd[1,2]"}]'
    assert json.loads(store.get_tables_json()) == {"t": {"r": {"c": "\ufffd{\"x\":1}"}}}
    assert store.get_values_json() == '{"v":"\ufffd[1,2]"}'

    other = tinystore.create_store()
    other.set_json(store.get_json())
    assert other.get_content() == store.get_content()
    other.set_tables_json('{"a":{"b":{"c":true}}}')
    other.set_values_json("{}")
    assert other.get_content() == ({"a": {"b": {"c": True}}}, {})
    store.set_content({}, {"only": "values"})
    assert store.get_content() == ({}, {"only": "values"})


def test_apply_changes(store):
    store.set_row("t", "r", {"a": 1, "b": 2})
    store.apply_changes([{"t": {"r": {"a": None, "c": 3}}}, {"v": 1}, 1])
    assert store.get_row("t", "r") == {"b": 2, "c": 3}
    assert store.get_values() == {"v": 1}


def test_sorted_row_ids(store):
    store.set_table("pets", {"fido": {"price": 5}, "felix": {"price": 4}, "cujo": {"price": 10}})
    assert store.get_sorted_row_ids("pets", "price") == ["felix", "fido", "cujo"]
    assert store.get_sorted_row_ids("pets", "price", True) == ["cujo", "fido", "felix"]
    assert store.get_sorted_row_ids("pets", None, False, 1, 1) == ["felix"]
    by_last_digit = lambda a, b: (a % 3) - (b % 3)  # noqa: E731
    assert store.get_sorted_row_ids("pets", "price", sorter=by_last_digit) == ["felix", "cujo", "fido"]


def test_schemas(store):
    store.set_tables_schema({"pets": {"species": {"type": "string"}, "legs": {"type": "number", "default": 4}}})
    store.set_values_schema({"open": {"type": "boolean", "default": False}})
    assert store.has_tables_schema() and store.has_values_schema()
    assert store.get_values() == {"open": False}
    store.set_row("pets", "fido", {"species": "dog"})
    assert store.get_row("pets", "fido") == {"species": "dog", "legs": 4}
    store.set_cell("pets", "fido", "legs", "four")  # wrong type: ignored
    assert store.get_cell("pets", "fido", "legs") == 4
    assert store.get_tables_schema()["pets"]["legs"] == {"type": "number", "default": 4}
    assert store.get_values_schema() == {"open": {"type": "boolean", "default": False}}
    assert json.loads(store.get_schema_json())[1] == {"open": {"type": "boolean", "default": False}}
    store.set_schema({"t": {"c": {"type": "string"}}}, {"v": {"type": "number"}})
    assert list(store.get_tables_schema()) == ["t"]
    store.del_tables_schema()
    store.del_values_schema()
    assert not store.has_tables_schema() and not store.has_values_schema()
    store.set_tables_schema({"t": {"c": {"type": "string"}}})
    store.del_schema()
    assert not store.has_tables_schema()


def test_transaction_context_manager(store):
    calls = []
    store.add_row_listener(None, None, lambda s, t, r, get_change: calls.append((t, r)))
    with store.transaction() as s:
        assert s is store and store.is_in_transaction()
        store.set_cell("t", "r", "a", 1)
        store.set_cell("t", "r", "b", 2)
        assert calls == []
    assert calls == [("t", "r")] and not store.is_in_transaction()


def test_transaction_rolls_back_on_exception(store):
    store.set_cell("t", "r", "a", 1)
    with pytest.raises(KeyError):
        with store.transaction():
            store.set_cell("t", "r", "a", 2)
            store.set_value("v", 1)
            raise KeyError("boom")
    assert store.get_content() == ({"t": {"r": {"a": 1}}}, {})


def test_transaction_with_function(store):
    assert store.transaction(lambda: store.set_cell("t", "r", "a", 1) and 42) == 42
    with pytest.raises(ZeroDivisionError):
        store.transaction(lambda: (store.set_cell("t", "r", "a", 2), 1 / 0))
    assert store.get_cell("t", "r", "a") == 1
    store.transaction(lambda: store.set_cell("t", "r", "a", 3), lambda s: s.get_cell("t", "r", "a") == 3)
    assert store.get_cell("t", "r", "a") == 1  # do_rollback said yes


def test_explicit_transaction_changes_and_log(store):
    store.set_cell("t", "r", "a", 1)
    store.start_transaction()
    store.set_cell("t", "r", "a", 2)
    store.set_value("v", "x")
    assert store.get_cell_change("t", "r", "a") == (True, 1, 2)
    assert store.get_value_change("v") == (True, None, "x")
    assert store.get_transaction_changes() == [{"t": {"r": {"a": 2}}}, {"v": "x"}, 1]
    store.finish_transaction()
    assert store.get_cell("t", "r", "a") == 2
    store.start_transaction()
    store.set_cell("t", "r", "a", 3)
    store.finish_transaction(lambda s: True)
    assert store.get_cell("t", "r", "a") == 2


def test_every_listener_kind(store):
    log = []

    def rec(name):
        return lambda s, *args: log.append((name, *[a for a in args if not callable(a)]))

    store.add_has_tables_listener(rec("has_tables"))
    store.add_tables_listener(rec("tables"))
    store.add_table_ids_listener(rec("table_ids"))
    store.add_has_table_listener("t", rec("has_table"))
    store.add_table_listener("t", rec("table"))
    store.add_table_cell_ids_listener("t", rec("table_cell_ids"))
    store.add_has_table_cell_listener("t", "c", rec("has_table_cell"))
    store.add_row_count_listener("t", rec("row_count"))
    store.add_row_ids_listener("t", rec("row_ids"))
    store.add_sorted_row_ids_listener("t", "c", False, 0, None, rec("sorted_row_ids"))
    store.add_has_row_listener("t", "r", rec("has_row"))
    store.add_row_listener("t", "r", rec("row"))
    store.add_cell_ids_listener("t", "r", rec("cell_ids"))
    store.add_has_cell_listener("t", "r", "c", rec("has_cell"))
    store.add_cell_listener("t", "r", "c", rec("cell"))
    store.add_has_values_listener(rec("has_values"))
    store.add_values_listener(rec("values"))
    store.add_value_ids_listener(rec("value_ids"))
    store.add_has_value_listener("v", rec("has_value"))
    store.add_value_listener("v", rec("value"))
    store.add_start_transaction_listener(rec("start"))
    store.add_will_finish_transaction_listener(rec("will_finish"))
    store.add_did_finish_transaction_listener(rec("did_finish"))
    stats = store.get_listener_stats()
    assert stats["cell"] == 1 and stats["sorted_row_ids"] == 1 and stats["transaction"] == 3

    with store.transaction():
        store.set_cell("t", "r", "c", 1)
        store.set_value("v", True)
    names = [e[0] for e in log]
    assert names[0] == "start" and names[-1] == "did_finish" and "will_finish" in names
    events = {e[0]: e[1:] for e in log}
    assert events["has_tables"] == (True,)
    assert events["table_ids"] == ({"t": 1},)
    assert events["has_table"] == ("t", True)
    assert events["table"] == ("t",)
    assert events["table_cell_ids"] == ("t", {"c": 1})
    assert events["has_table_cell"] == ("t", "c", True)
    assert events["row_count"] == ("t", 1)
    assert events["row_ids"] == ("t", {"r": 1})
    assert events["sorted_row_ids"] == ("t", "c", False, 0, None, ["r"])
    assert events["has_row"] == ("t", "r", True)
    assert events["row"] == ("t", "r")
    assert events["cell_ids"] == ("t", "r", {"c": 1})
    assert events["has_cell"] == ("t", "r", "c", True)
    assert events["cell"] == ("t", "r", "c", 1, None)
    assert events["has_values"] == (True,)
    assert "values" in events
    assert events["value_ids"] == ({"v": 1},)
    assert events["has_value"] == ("v", True)
    assert events["value"] == ("v", True, None)


def test_tables_and_row_listeners_get_cell_change(store):
    seen = []
    store.add_tables_listener(lambda s, get_change: seen.append(get_change("t", "r", "c")))
    store.add_values_listener(lambda s, get_change: seen.append(get_change("v")))
    store.set_cell("t", "r", "c", 1)
    store.set_value("v", "x")
    assert seen == [(True, None, 1), (True, None, "x")]


def test_invalid_cell_and_value_listeners(store):
    seen = []
    store.add_invalid_cell_listener(None, None, None, lambda s, t, r, c, bad: seen.append((t, r, c, bad)))
    store.add_invalid_value_listener(None, lambda s, v, bad: seen.append((v, bad)))
    store.set_tables_schema({"t": {"c": {"type": "number"}}})
    store.set_cell("t", "r", "c", "not a number")
    store.set_value("v", float("inf"))
    assert seen[0] == ("t", "r", "c", ["not a number"])
    assert seen[1][0] == "v"


def test_wildcards_del_and_call_listener(store):
    seen = []
    lid = store.add_cell_listener(None, None, "c", lambda s, t, r, c, new, old: seen.append((t, r, new, old)))
    store.set_cell("a", "1", "c", "x").set_cell("b", "2", "c", "y").set_cell("b", "2", "other", 0)
    assert seen == [("a", "1", "x", None), ("b", "2", "y", None)]
    store.call_listener(lid)
    assert seen[-2:] == [("a", "1", "x", "x"), ("b", "2", "y", "y")]
    store.del_listener(lid)
    store.set_cell("a", "1", "c", "z")
    assert len(seen) == 4
    assert store.get_listener_stats()["cell"] == 0


def test_mutator_listener_writes_join_the_transaction(store):
    store.add_cell_listener(
        "t", None, "price",
        lambda s, t, r, c, new, old: s.set_cell(t, r, "tax", round(new * 0.2, 2)),
        mutator=True,
    )
    later = []
    store.add_cell_listener("t", None, "tax", lambda s, t, r, c, new, old: later.append(new))
    store.set_cell("t", "fido", "price", 10)
    assert store.get_row("t", "fido") == {"price": 10, "tax": 2}
    assert later == [2]
    # A non-mutator listener's writes are ignored, as in TinyBase.
    store.add_cell_listener("t", None, "price", lambda s, t, r, c, new, old: s.set_cell(t, r, "ignored", 1))
    store.set_cell("t", "fido", "price", 20)
    assert not store.has_cell("t", "fido", "ignored")


def test_throwing_listener_does_not_break_the_write(store):
    errors = []
    tinystore.set_listener_error_handler(errors.append)
    try:
        after = []
        store.add_cell_listener(None, None, None, lambda *a: 1 / 0)
        store.add_cell_listener(None, None, None, lambda s, t, r, c, new, old: after.append(new))
        store.set_cell("t", "r", "c", 5)
        assert store.get_cell("t", "r", "c") == 5
        assert after == [5]
        assert len(errors) == 1 and isinstance(errors[0], ZeroDivisionError)
    finally:
        tinystore.set_listener_error_handler(None)


def test_throwing_listener_default_report_goes_to_stderr(store, capfd):
    store.add_value_listener(None, lambda *a: (_ for _ in ()).throw(RuntimeError("listener broke")))
    store.set_value("v", 1)
    assert store.get_value("v") == 1
    assert "listener broke" in capfd.readouterr().err


def test_listener_can_read_the_store_reentrantly(store):
    seen = []
    store.add_row_listener("t", None, lambda s, t, r, _: seen.append(s.get_row(t, r)))
    store.set_row("t", "r", {"a": 1, "b": 2})
    assert seen == [{"a": 1, "b": 2}]


def test_errors(store):
    with pytest.raises(TinystoreError.InvalidJson):
        store.set_json("[{")
    with pytest.raises(TinystoreError):
        store.set_tables_json("[1]")
    with pytest.raises(TinystoreError.InvalidValue, match="set"):
        store.set_cell("t", "r", "c", {1, 2})
    with pytest.raises(TinystoreError.InvalidValue):
        store.set_row("t", "r", {"c": {"x": float("nan")}})
    store.set_row("t", "r", {"c": float("nan")})  # an invalid cell: dropped, as in TinyBase
    assert not store.has_row("t", "r")
    with pytest.raises(TinystoreError.InvalidValue):
        store.set_cell("t", "r", "c", 10**400)
    with pytest.raises(TinystoreError.Schema):
        store.set_tables_schema({"t": {"c": {"type": "nonsense"}}})
    with pytest.raises(TinystoreError.InvalidValue):
        store.set_content([1, 2, 3])
    with pytest.raises(TypeError):
        store.transaction(do_rollback=lambda s: True)
    assert store.get_content() == ({}, {})
    e = TinystoreError.Persist("disk full")
    assert isinstance(e, TinystoreError) and str(e) == "disk full" and e.reason == "disk full"


def test_raw_generated_api_is_reachable():
    raw = tinystore.tinystore
    s = raw.create_store()
    s.set_cell("t", "r", "c", raw.CellValue.NUM(4.0))
    assert s.get_cell("t", "r", "c") == raw.CellValue.NUM(4.0)
