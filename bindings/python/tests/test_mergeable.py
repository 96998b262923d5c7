"""MergeableStore: stamped content, merge, hashes, changes, and its Store methods."""

import pytest

import tinystore
from tinystore import TinystoreError


def test_is_a_store_with_every_store_method():
    m = tinystore.create_mergeable_store("client1")
    assert isinstance(m, tinystore.Store) and m.is_mergeable()
    assert not tinystore.create_store().is_mergeable()
    m.set_row("pets", "fido", {"species": "dog"}).set_value("open", True)
    assert m.get_content() == ({"pets": {"fido": {"species": "dog"}}}, {"open": True})
    assert len(m.get_client_id()) == 5


def test_merge_converges_content_and_hashes():
    a = tinystore.create_mergeable_store("a")
    b = tinystore.create_mergeable_store("b")
    a.set_cell("pets", "fido", "species", "dog")
    b.set_cell("pets", "felix", "species", "cat")
    b.set_value("open", True)
    a.merge(b)
    assert a.get_content() == b.get_content()
    assert a.get_mergeable_content_hashes() == b.get_mergeable_content_hashes()
    assert a.get_mergeable_table_hashes() == b.get_mergeable_table_hashes()
    assert set(a.get_mergeable_value_hashes()) == {"open"}
    tables_hash, values_hash = a.get_mergeable_content_hashes()
    assert tables_hash != 0 and values_hash != 0


def test_mergeable_content_and_changes_round_trip():
    a = tinystore.create_mergeable_store("a")
    a.set_cell("t", "r", "c", {"x": [1, 2]})
    content = a.get_mergeable_content()
    assert content[0][0]["t"][0]["r"][0]["c"][0] == "\ufffd{\"x\":[1,2]}"
    b = tinystore.create_mergeable_store("b")
    b.set_mergeable_content(content)
    assert b.get_cell("t", "r", "c") == {"x": [1, 2]}
    assert b.get_mergeable_content_json() == a.get_mergeable_content_json()

    changes = []
    a.add_did_finish_transaction_listener(lambda s: changes.append(s.get_transaction_mergeable_changes()))
    a.set_cell("t", "r", "d", 5)
    c = tinystore.create_mergeable_store("c")
    c.apply_mergeable_changes(changes[-1])
    assert c.get_row("t", "r") == {"d": 5}


def test_set_default_content_loses_to_real_writes():
    a = tinystore.create_mergeable_store("a")
    a.set_default_content(({"t": {"r": {"c": "default"}}}, {}))
    b = tinystore.create_mergeable_store("b")
    b.set_cell("t", "r", "c", "real")
    a.merge(b)
    assert a.get_cell("t", "r", "c") == "real"


def test_listeners_fire_for_merged_changes():
    a = tinystore.create_mergeable_store("a")
    b = tinystore.create_mergeable_store("b")
    seen = []
    a.add_cell_listener(None, None, None, lambda s, t, r, c, new, old: seen.append((s is a, t, r, c, new)))
    b.set_cell("t", "r", "c", 1)
    a.merge(b)
    assert seen == [(True, "t", "r", "c", 1)]


def test_invalid_mergeable_payloads_change_nothing():
    m = tinystore.create_mergeable_store("m")
    m.set_cell("t", "r", "c", 1)
    before = m.get_mergeable_content_json()
    with pytest.raises(TinystoreError.Mergeable):
        m.apply_mergeable_changes("[1,2")
    with pytest.raises(TinystoreError.Mergeable):
        m.apply_mergeable_changes([{"t": [{"r": [{"c": [2, "not-an-hlc"]}]}]}, [{}], 1])
    with pytest.raises(TinystoreError.Mergeable):
        m.set_mergeable_content({"not": "content"})
    assert m.get_mergeable_content_json() == before
