"""Derived views: Indexes, Relationships, Metrics, Queries and Checkpoints from Python."""

import pytest

import tinystore
from tinystore import TinystoreError


@pytest.fixture
def pets():
    store = tinystore.create_store()
    store.set_table("pets", {
        "fido": {"species": "dog", "price": 5, "name": "Fido", "sold": False, "next": "felix"},
        "felix": {"species": "cat", "price": 4, "name": "Felix", "sold": True, "next": "cujo"},
        "cujo": {"species": "dog", "price": 3, "name": "Cujo", "sold": False},
    })
    store.set_table("species", {"dog": {"legs": 4}, "cat": {"legs": 4}})
    return store


def test_indexes_slices_sorting_functions_and_listeners(pets):
    ix = tinystore.create_indexes(pets)
    assert ix.get_store() is pets
    ix.set_index_definition("bySpecies", "pets", "species")
    ix.set_index_definition("byPrice", "pets", None, "price")
    ix.set_index_definition("byLen", "pets", lambda get_cell, row_id: str(len(get_cell("name") or "")))
    ix.set_index_definition("sorted", "pets", "species", lambda g, r: g("price"),
                            lambda a, b: -1 if a > b else 1, lambda a, b, s: (b or 0) - (a or 0))
    assert ix.get_index_ids() == ["bySpecies", "byPrice", "byLen", "sorted"]
    assert ix.has_index("bySpecies") and not ix.has_index("nope")
    assert ix.get_table_id("byPrice") == "pets"
    assert ix.get_slice_ids("bySpecies") == ["dog", "cat"]
    assert ix.get_slice_row_ids("bySpecies", "dog") == ["fido", "cujo"]
    assert ix.get_slice_row_ids("byPrice", "") == ["cujo", "felix", "fido"]
    assert ix.get_slice_ids("byLen") == ["4", "5"]
    assert ix.get_slice_ids("sorted") == ["dog", "cat"]
    assert ix.get_slice_row_ids("sorted", "dog") == ["fido", "cujo"]
    assert ix.has_slice("bySpecies", "cat")
    seen = []
    ix.for_each_index(lambda i, each_slice: seen.append(i))
    ix.for_each_slice("bySpecies", lambda s, each_row: each_row(lambda r: seen.append((s, r))))
    assert seen[:4] == ["bySpecies", "byPrice", "byLen", "sorted"]
    assert ("dog", "cujo") in seen

    events = []
    lid = ix.add_slice_row_ids_listener("bySpecies", "dog", lambda v, i, s: events.append((v is ix, i, s)))
    ix.add_slice_ids_listener(None, lambda v, i: events.append(("ids", i)))
    ix.add_has_slice_listener("bySpecies", None, lambda v, i, s, has: events.append(("has", s, has)))
    ix.add_index_ids_listener(lambda v: events.append("index_ids"))
    ix.add_has_index_listener(None, lambda v, i, has: events.append(("has_index", i, has)))
    pets.set_cell("pets", "rex", "species", "dog")
    assert (True, "bySpecies", "dog") in events
    pets.set_cell("pets", "tweety", "species", "bird")
    assert ("has", "bird", True) in events and ("ids", "bySpecies") in events
    assert ix.get_listener_stats()["slice_row_ids"] == 1
    ix.del_listener(lid)
    assert ix.get_listener_stats()["slice_row_ids"] == 0
    ix.del_index_definition("byLen")
    assert "index_ids" in events and ("has_index", "byLen", False) in events
    ix.destroy()
    assert ix.get_index_ids() == []


def test_relationships(pets):
    rel = tinystore.create_relationships(pets)
    rel.set_relationship_definition("petSpecies", "pets", "species", "species")
    rel.set_relationship_definition("next", "pets", "pets", "next")
    rel.set_relationship_definition("byFn", "pets", "species", lambda g, r: "cat" if r == "felix" else None)
    assert rel.get_relationship_ids() == ["petSpecies", "next", "byFn"]
    assert rel.has_relationship("next")
    assert rel.get_local_table_id("petSpecies") == "pets"
    assert rel.get_remote_table_id("petSpecies") == "species"
    assert rel.get_remote_row_id("petSpecies", "fido") == "dog"
    assert rel.get_local_row_ids("petSpecies", "dog") == ["fido", "cujo"]
    assert rel.get_linked_row_ids("next", "fido") == ["fido", "felix", "cujo"]
    assert rel.get_local_row_ids("byFn", "cat") == ["felix"]
    ids = []
    rel.for_each_relationship(ids.append)
    assert ids == ["petSpecies", "next", "byFn"]
    events = []
    rel.add_remote_row_id_listener("petSpecies", None, lambda v, r, l: events.append(("remote", r, l)))
    rel.add_local_row_ids_listener("petSpecies", "cat", lambda v, r, rr: events.append(("local", rr)))
    rel.add_linked_row_ids_listener("next", "fido", lambda v, r, f: events.append(("linked", f)))
    rel.add_relationship_ids_listener(lambda v: events.append("ids"))
    pets.set_cell("pets", "cujo", "species", "cat")
    pets.set_cell("pets", "cujo", "next", "rex")
    assert ("remote", "petSpecies", "cujo") in events and ("local", "cat") in events
    assert ("linked", "fido") in events
    assert rel.get_listener_stats() == {"remote_row_id": 1, "local_row_ids": 1, "linked_row_ids": 1}
    rel.del_relationship_definition("byFn")
    assert "ids" in events and not rel.has_relationship("byFn")
    rel.destroy()


def test_metrics_named_custom_and_function(pets):
    m = tinystore.create_metrics(pets)
    m.set_metric_definition("avgPrice", "pets", "avg", "price")
    m.set_metric_definition("count", "pets")
    m.set_metric_definition("maxLen", "pets", "max", lambda g, r: len(g("name")))
    calls = []

    def product(numbers, length):
        calls.append("full")
        out = 1.0
        for n in numbers:
            out *= n
        return out

    m.set_metric_definition("product", "pets", product, "price",
                            aggregate_add=lambda metric, add, length: calls.append("add") or metric * add)
    assert m.get_metric("avgPrice") == 4.0
    assert m.get_metric("count") == 3.0
    assert m.get_metric("maxLen") == 5.0
    assert m.get_metric("product") == 60.0
    assert m.get_metric("nope") is None
    assert m.has_metric("count") and m.get_table_id("count") == "pets"
    assert m.get_metric_ids() == ["avgPrice", "count", "maxLen", "product"]
    seen = {}
    m.for_each_metric(lambda i, v: seen.__setitem__(i, v))
    assert seen["count"] == 3.0
    events = []
    m.add_metric_listener("avgPrice", lambda v, i, new, old: events.append((i, new, old)))
    m.add_metric_ids_listener(lambda v: events.append("ids"))
    pets.set_row("pets", "rex", {"price": 8, "name": "Rex"})
    assert ("avgPrice", 5.0, 4.0) in events
    assert m.get_metric("product") == 480.0 and "add" in calls
    assert m.get_listener_stats() == {"metric": 1}
    m.del_metric_definition("maxLen")
    assert "ids" in events and not m.has_metric("maxLen")
    with pytest.raises(TinystoreError.InvalidValue):
        m.set_metric_definition("bad", "pets", "median", "price")
    assert not m.has_metric("bad")
    m.destroy()


def test_queries_builder_results_params_and_listeners(pets):
    q = tinystore.create_queries(pets)
    q.set_query_definition("byKind", "pets", lambda b: (
        b.select("species"), b.join("species", "species"), b.select("species", "legs"),
        b.where("sold", False), b.select("price"), b.group("price", "sum").as_("total")))
    assert q.get_result_table("byKind") == {"0": {"species": "dog", "legs": 4, "total": 8}}
    q.set_query_definition("all", "pets", lambda b: (
        b.select_all(), b.select(lambda get_table_cell, row_id: get_table_cell("price") * 2).as_("double"),
        b.join("species", lambda get_cell, row_id: get_cell("species")).as_("s"),
        b.select("s", "legs").as_("feet"),
        b.where(lambda get_table_cell: get_table_cell("price") >= b.param("min"))), {"min": 4})
    assert q.get_result_row_ids("all") == ["fido", "felix"]
    assert q.get_result_row("all", "fido")["double"] == 10
    assert q.get_result_cell("all", "felix", "feet") == 4
    assert q.get_result_sorted_row_ids("all", "price", descending=False, offset=0, limit=None) == ["felix", "fido"]
    assert q.get_result_sorted_row_ids("byKind", "total", descending=True, offset=0, limit=1) == ["0"]
    assert q.has_result_table("all") and q.has_result_row("all", "fido") and q.has_result_cell("all", "fido", "price")
    assert "double" in q.get_result_table_cell_ids("all")
    assert q.get_result_row_count("all") == 2
    assert "species" in q.get_result_cell_ids("all", "fido")
    assert q.get_query_ids() == ["byKind", "all"] and q.has_query("all") and q.get_table_id("all") == "pets"
    assert q.get_param_values("all") == {"min": 4} and q.get_param_value("all", "min") == 4

    events = []
    q.add_result_row_ids_listener("all", lambda v, i, changes: events.append(("rows", changes)))
    q.add_result_cell_listener("all", None, "double", lambda v, i, r, c, new, old: events.append(("cell", r, new, old)))
    q.add_param_value_listener("all", "min", lambda v, i, p, value: events.append(("param", value)))
    q.add_param_values_listener(None, lambda v, i, params: events.append(("params", params)))
    q.add_result_table_listener("all", lambda v, i: events.append("table"))
    q.add_result_table_cell_ids_listener("all", lambda v, i, c: events.append("table_cell_ids"))
    q.add_result_row_count_listener("all", lambda v, i, n: events.append(("count", n)))
    q.add_result_sorted_row_ids_listener("all", "price", False, 0, None, lambda v, *a: events.append(("sorted", a[-1])))
    q.add_result_row_listener("all", "fido", lambda v, i, r: events.append(("row", r)))
    q.add_result_cell_ids_listener("all", None, lambda v, i, r, c: events.append("cell_ids"))
    q.add_query_ids_listener(lambda v: events.append("query_ids"))
    pets.set_cell("pets", "fido", "price", 6)
    assert ("cell", "fido", 12, 10) in events and ("row", "fido") in events and "table" in events
    q.set_param_value("all", "min", 3)
    assert ("param", 3) in events and ("count", 3) in events
    q.set_param_values("all", {"min": 6})
    assert ("params", {"min": 6}) in events and q.get_result_row_ids("all") == ["fido"]
    stats = q.get_listener_stats()
    assert stats["row_ids"] == 1 and stats["param_value"] == 1
    seen = []
    q.for_each_query(seen.append)
    q.for_each_result_table(seen.append)
    q.for_each_result_row("all", seen.append)
    q.for_each_result_cell("all", "fido", lambda c, v: seen.append(c))
    assert seen[:4] == ["byKind", "all", "byKind", "all"] and "fido" in seen and "double" in seen
    q.del_query_definition("byKind")
    assert "query_ids" in events and not q.has_query("byKind")
    q.destroy()


def test_query_select_all_from_group_custom_and_on_query(pets):
    q = tinystore.create_queries(pets)
    q.set_query_definition("joined", "pets", lambda b: (
        b.select("price"), b.join("species", "species"), b.select_all("species", "s_")))
    assert q.get_result_row("joined", "fido") == {"price": 5, "s_legs": 4}
    q.set_query_definition("mapped", "pets", lambda b: (b.select_all(None, lambda c: c.upper()),))
    assert "PRICE" in q.get_result_row("mapped", "fido")
    q.set_query_definition("prices", "pets", lambda b: (b.select("species"), b.select("price"), b.group(
        "price", lambda cells, n: max(cells),
        lambda cur, add, n: max(cur, add), lambda cur, rem, n: None, lambda cur, add, rem, n: None).as_("top"),
        b.having("species", "dog"), b.having(lambda get_cell: get_cell("top") > 1)))
    assert q.get_result_table("prices") == {"0": {"species": "dog", "top": 5}}
    q.set_query_definition("all", "pets", lambda b: b.select("price"))
    q.set_query_definition("cheap", "all", lambda b: (b.select("price"), b.where("price", 3)), on_query=True)
    assert q.get_result_row_ids("cheap") == ["cujo"]
    q.set_query_definition("through", "pets", lambda b: (
        b.join("species", "species").as_("sp"), b.where("sp", "legs", 4), b.select("name"),
        b.join(True, "all", lambda g, r: r), b.select(True, "all", "price").as_("p"),
        b.where(lambda g: g(True, "all", "price") is not None and g("sp", "legs") == 4)))
    assert q.get_result_cell("through", "cujo", "p") == 3


def test_bad_arguments(pets):
    q = tinystore.create_queries(pets)
    with pytest.raises(TinystoreError.InvalidValue):
        q.set_query_definition("q", "pets", lambda b: b.group("price", "median"))
    with pytest.raises(TinystoreError.InvalidValue):
        q.set_query_definition("q", "pets", lambda b: b.select(lambda g, r: 1))
    with pytest.raises(TinystoreError.InvalidValue):
        q.get_result_sorted_row_ids("q", "price", offset=-1)
    with pytest.raises(TinystoreError.InvalidValue):
        q.get_result_sorted_row_ids("q", "price", limit=-2)
    assert not q.has_query("q")
    with pytest.raises(TinystoreError.InvalidValue):
        tinystore.create_relationships(pets).set_relationship_definition("r", "pets", "species", None)
    with pytest.raises(TinystoreError.InvalidValue):
        tinystore.create_checkpoints(pets).set_size(-1)


def test_raising_function_reaches_the_writer_and_views_stay_consistent(pets):
    ix = tinystore.create_indexes(pets)

    def slice_of(get_cell, row_id):
        if get_cell("species") == "boom":
            raise ValueError("bad slice")
        return get_cell("species")

    ix.set_index_definition("s", "pets", slice_of)
    with pytest.raises(TinystoreError.Callback) as info:
        pets.set_cell("pets", "fido", "species", "boom")
    assert "bad slice" in str(info.value)
    # the store took the write; the failing row kept its old slice, the others still update
    assert pets.get_cell("pets", "fido", "species") == "boom"
    assert ix.get_slice_row_ids("s", "dog") == ["fido", "cujo"]
    pets.set_cell("pets", "cujo", "species", "cat")
    assert ix.get_slice_row_ids("s", "cat") == ["felix", "cujo"]
    with pytest.raises(TinystoreError.Callback):
        ix.set_index_definition("t", "pets", slice_of)
    with pytest.raises(TinystoreError.Callback):
        with pets.transaction():
            pets.set_cell("pets", "felix", "species", "boom")
    with pytest.raises(TinystoreError.Callback):
        pets.set_row("pets", "x", {"species": "boom"})
    q = tinystore.create_queries(pets)
    with pytest.raises(TinystoreError.Callback):
        q.set_query_definition("q", "pets", lambda b: (b.select("price"), b.where(lambda g: 1 / 0)))
    # a listener that raises is reported, not raised
    reported = []
    tinystore.set_listener_error_handler(reported.append)
    try:
        ix.add_slice_ids_listener(None, lambda *a: 1 / 0)
        pets.set_cell("pets", "new", "species", "fish")
        assert reported and isinstance(reported[0], ZeroDivisionError)
    finally:
        tinystore.set_listener_error_handler(None)


def test_checkpoints(pets):
    cp = tinystore.create_checkpoints(pets)
    assert cp.get_checkpoint_ids() == ([], "0", [])
    pets.set_cell("pets", "fido", "price", 6)
    assert cp.add_checkpoint("price") == "1"
    pets.set_cell("pets", "fido", "price", 7)
    cp.add_checkpoint("again")
    cp.set_checkpoint("2", "seven")
    assert cp.get_checkpoint("2") == "seven" and cp.has_checkpoint("1")
    cp.go_backward()
    assert pets.get_cell("pets", "fido", "price") == 6
    assert cp.get_checkpoint_ids() == (["0"], "1", ["2"])
    cp.go_forward()
    assert pets.get_cell("pets", "fido", "price") == 7
    cp.go_to("1")
    assert pets.get_cell("pets", "fido", "price") == 6
    seen = []
    cp.for_each_checkpoint(lambda i, label: seen.append((i, label)))
    assert seen == [("0", ""), ("1", "price"), ("2", "seven")]
    events = []
    cp.add_checkpoint_ids_listener(lambda v: events.append("ids"))
    cp.add_checkpoint_listener(None, lambda v, i: events.append(("label", i)))
    cp.set_checkpoint("1", "six")
    cp.clear_forward()
    assert "ids" in events and ("label", "1") in events
    assert cp.get_checkpoint_ids() == (["0"], "1", [])
    assert cp.get_listener_stats() == {"checkpoint_ids": 1, "checkpoint": 1}
    cp.set_size(1)
    cp.clear()
    assert cp.get_checkpoint_ids()[1] is not None
    cp.destroy()


def test_views_over_a_mergeable_store():
    m = tinystore.create_mergeable_store()
    ix = tinystore.create_indexes(m)
    ix.set_index_definition("i", "t", "c")
    m.set_cell("t", "r", "c", "x")
    assert ix.get_slice_row_ids("i", "x") == ["r"]


def _refusing_index(store):
    def slice_of(get_cell, row_id):
        if get_cell("species") == "boom":
            raise ValueError("bad slice")
        return get_cell("species")

    ix = tinystore.create_indexes(store)
    ix.set_index_definition("s", "pets", slice_of)
    return ix


def test_raising_function_reaches_merges_applies_and_loads(tmp_path):
    a = tinystore.create_mergeable_store("a")
    b = tinystore.create_mergeable_store("b")
    ix = _refusing_index(a)
    b.set_cell("pets", "rex", "species", "boom")
    with pytest.raises(TinystoreError.Callback, match="bad slice"):
        a.merge(b)
    # merged all the same, and the index goes on with the other rows
    assert a.get_cell("pets", "rex", "species") == "boom"
    b.set_cell("pets", "fido", "species", "dog")
    b.set_cell("pets", "rex", "species", "cat")
    a.merge(b)
    assert ix.get_slice_row_ids("s", "cat") == ["rex"]
    assert a.get_json() == b.get_json()

    c = tinystore.create_mergeable_store("c")
    ix_c = _refusing_index(c)
    d = tinystore.create_mergeable_store("d")
    d.set_cell("pets", "x", "species", "boom")
    with pytest.raises(TinystoreError.Callback, match="bad slice"):
        c.apply_mergeable_changes(d.get_mergeable_content())
    assert c.get_cell("pets", "x", "species") == "boom" and ix_c.get_slice_ids("s") == []

    path = tmp_path / "pets.json"
    path.write_text('[{"pets":{"x":{"species":"boom"},"y":{"species":"dog"}}},{}]')
    store = tinystore.create_store()
    ix_s = _refusing_index(store)
    persister = tinystore.create_file_persister(store, path)
    with pytest.raises(TinystoreError.Callback, match="bad slice"):
        persister.load()
    assert store.get_row_ids("pets") == ["x", "y"] and ix_s.get_slice_ids("s") == ["dog"]
    persister.destroy()
