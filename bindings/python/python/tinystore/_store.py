"""Store and MergeableStore."""

from __future__ import annotations

import json as _json
import sys as _sys
import threading as _threading
import traceback as _traceback
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from . import tinystore as _ffi

from ._common import (  # noqa: F401
    Cell,
    Row,
    Table,
    Tables,
    TinystoreError,
    Values,
    _Actions,
    _Rollback,
    _Sorter,
    _StoreListener,
    _Transaction,
    _cells,
    _change,
    _content_json,
    _decode_row,
    _decode_table,
    _decode_tables,
    _dumps,
    _from_cell,
    _has_non_finite,
    _ids,
    _to_cell,
)


# ------------------------------------------------------------------------------ stores


class Store:
    """A reactive in-memory store of tables and values (TinyBase's ``Store``).

    Create one with :func:`create_store`. Thread-safe: calls from several threads are
    serialised; listeners may call any method, and mutator listeners may write.
    """

    _raw: Any

    def __init__(self, _raw: Any = None) -> None:
        self._raw = _raw if _raw is not None else _ffi.create_store()

    def _view(self) -> Any:
        """The generated Store object (for persisters)."""
        return self._raw

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._raw.get_json()[:60]}>"

    # ---------------------------------------------------------------- getters

    def has_tables(self) -> bool:
        """Whether any table exists."""
        return self._raw.has_tables()

    def has_table(self, table_id: str) -> bool:
        """Whether the table exists."""
        return self._raw.has_table(table_id)

    def has_table_cell(self, table_id: str, cell_id: str) -> bool:
        """Whether any row of the table has this cell id."""
        return self._raw.has_table_cell(table_id, cell_id)

    def has_row(self, table_id: str, row_id: str) -> bool:
        """Whether the row exists."""
        return self._raw.has_row(table_id, row_id)

    def has_cell(self, table_id: str, row_id: str, cell_id: str) -> bool:
        """Whether the cell exists."""
        return self._raw.has_cell(table_id, row_id, cell_id)

    def has_values(self) -> bool:
        """Whether any value exists."""
        return self._raw.has_values()

    def has_value(self, value_id: str) -> bool:
        """Whether the value exists."""
        return self._raw.has_value(value_id)

    def get_tables(self) -> Tables:
        """All tables, ``{table_id: {row_id: {cell_id: cell}}}``, in insertion order."""
        return _decode_tables(_json.loads(self._raw.get_tables_json()))

    def get_table_ids(self) -> List[str]:
        """Table ids in insertion order."""
        return self._raw.get_table_ids()

    def get_table(self, table_id: str) -> Table:
        """One table (``{}`` if absent)."""
        return _decode_table(_json.loads(self._raw.get_table_json(table_id)))

    def get_table_cell_ids(self, table_id: str) -> List[str]:
        """The cell ids used anywhere in a table."""
        return self._raw.get_table_cell_ids(table_id)

    def get_row_count(self, table_id: str) -> int:
        """How many rows a table has."""
        return self._raw.get_row_count(table_id)

    def get_row_ids(self, table_id: str) -> List[str]:
        """Row ids in insertion order."""
        return self._raw.get_row_ids(table_id)

    def get_sorted_row_ids(
        self,
        table_id: str,
        cell_id: Optional[str] = None,
        descending: bool = False,
        offset: int = 0,
        limit: Optional[int] = None,
        sorter: Optional[Callable[[Cell, Cell], Union[int, float]]] = None,
    ) -> List[str]:
        """Row ids sorted by a cell (by id when ``cell_id`` is ``None``), then sliced.
        ``sorter(a, b)`` returns a negative number to put ``a`` first."""
        args = _ffi.SortedRowIdsArgs(
            table_id=table_id, cell_id=cell_id, descending=descending, offset=offset, limit=limit
        )
        return self._raw.get_sorted_row_ids(args, None if sorter is None else _Sorter(sorter))

    def get_row(self, table_id: str, row_id: str) -> Row:
        """One row (``{}`` if absent)."""
        return _decode_row(_json.loads(self._raw.get_row_json(table_id, row_id)))

    def get_cell_ids(self, table_id: str, row_id: str) -> List[str]:
        """Cell ids of a row in insertion order."""
        return self._raw.get_cell_ids(table_id, row_id)

    def get_cell(self, table_id: str, row_id: str, cell_id: str) -> Cell:
        """A cell, ``None`` if absent (use :meth:`has_cell` to tell from a ``null`` cell)."""
        return _from_cell(self._raw.get_cell(table_id, row_id, cell_id))

    def get_values(self) -> Values:
        """All values in insertion order."""
        return _decode_row(_json.loads(self._raw.get_values_json()))

    def get_value_ids(self) -> List[str]:
        """Value ids in insertion order."""
        return self._raw.get_value_ids()

    def get_value(self, value_id: str) -> Cell:
        """A value, ``None`` if absent."""
        return _from_cell(self._raw.get_value(value_id))

    def get_content(self) -> Tuple[Tables, Values]:
        """``(tables, values)``."""
        tables, values = _json.loads(self._raw.get_json())
        return _decode_tables(tables), _decode_row(values)

    # ---------------------------------------------------------------- JSON

    def get_json(self) -> str:
        """``[tables, values]`` as TinyBase's JSON (objects/arrays in encoded form)."""
        return self._raw.get_json()

    def set_json(self, json: str) -> "Store":
        """Replaces the content from TinyBase's JSON; raises ``TinystoreError.InvalidJson`` and
        changes nothing if it cannot be parsed."""
        self._raw.set_json(json)
        return self

    def get_tables_json(self) -> str:
        """The tables as JSON."""
        return self._raw.get_tables_json()

    def set_tables_json(self, json: str) -> "Store":
        """Replaces the tables from JSON."""
        self._raw.set_tables_json(json)
        return self

    def get_values_json(self) -> str:
        """The values as JSON."""
        return self._raw.get_values_json()

    def set_values_json(self, json: str) -> "Store":
        """Replaces the values from JSON."""
        self._raw.set_values_json(json)
        return self

    # ---------------------------------------------------------------- setters

    def set_content(self, content: Any, values: Optional[Values] = None) -> "Store":
        """Replaces everything: ``set_content((tables, values))`` (or ``set_content(tables,
        values)``); an empty part deletes all its tables or values."""
        if values is not None:
            content = (content, values)
        self._raw.set_json(_content_json(content))
        return self

    def set_tables(self, tables: Tables) -> "Store":
        """Replaces all tables."""
        if _has_non_finite(tables):
            self._raw.set_tables({t: {r: _cells(row) for r, row in tb.items()} for t, tb in tables.items()})
        else:
            self._raw.set_tables_json(_dumps(tables))
        return self

    def set_table(self, table_id: str, table: Table) -> "Store":
        """Replaces one table."""
        if _has_non_finite(table):
            self._raw.set_table(table_id, {r: _cells(row) for r, row in table.items()})
        else:
            self._raw.set_table_json(table_id, _dumps(table))
        return self

    def set_row(self, table_id: str, row_id: str, row: Row) -> "Store":
        """Replaces one row."""
        if _has_non_finite(row):
            self._raw.set_row(table_id, row_id, _cells(row))
        else:
            self._raw.set_row_json(table_id, row_id, _dumps(row))
        return self

    def set_partial_row(self, table_id: str, row_id: str, row: Row) -> "Store":
        """Merges cells into a row (creating it if missing)."""
        if _has_non_finite(row):
            self._raw.set_partial_row(table_id, row_id, _cells(row))
        else:
            self._raw.set_partial_row_json(table_id, row_id, _dumps(row))
        return self

    def add_row(self, table_id: str, row: Row, reuse_row_ids: bool = True) -> Optional[str]:
        """Adds a row with a generated id (``"0"``, ``"1"``, ...) and returns it; ``None`` if
        the row was invalid."""
        if _has_non_finite(row):
            return self._raw.add_row(table_id, _cells(row), reuse_row_ids)
        return self._raw.add_row_json(table_id, _dumps(row), reuse_row_ids)

    def set_cell(self, table_id: str, row_id: str, cell_id: str, cell: Cell) -> "Store":
        """Sets one cell: ``str``, ``int``/``float``, ``bool``, ``None``, ``dict`` or ``list``."""
        self._raw.set_cell(table_id, row_id, cell_id, _to_cell(cell))
        return self

    def set_values(self, values: Values) -> "Store":
        """Replaces all values."""
        if _has_non_finite(values):
            self._raw.set_values(_cells(values))
        else:
            self._raw.set_values_json(_dumps(values) if values else "{}")
        return self

    def set_partial_values(self, values: Values) -> "Store":
        """Merges values."""
        if _has_non_finite(values):
            self._raw.set_partial_values(_cells(values))
        else:
            self._raw.set_partial_values_json(_dumps(values))
        return self

    def set_value(self, value_id: str, value: Cell) -> "Store":
        """Sets one value."""
        self._raw.set_value(value_id, _to_cell(value))
        return self

    def apply_changes(self, changes: Any) -> "Store":
        """Applies ``[changed_tables, changed_values, 1]`` (``None`` deletes)."""
        self._raw.apply_changes_json(changes if isinstance(changes, str) else _dumps(list(changes)))
        return self

    def del_tables(self) -> "Store":
        """Deletes every table."""
        self._raw.del_tables()
        return self

    def del_table(self, table_id: str) -> "Store":
        """Deletes a table."""
        self._raw.del_table(table_id)
        return self

    def del_row(self, table_id: str, row_id: str) -> "Store":
        """Deletes a row."""
        self._raw.del_row(table_id, row_id)
        return self

    def del_cell(self, table_id: str, row_id: str, cell_id: str, force_del: bool = False) -> "Store":
        """Deletes a cell (``force_del``: even if the schema gives it a default)."""
        self._raw.del_cell(table_id, row_id, cell_id, force_del)
        return self

    def del_values(self) -> "Store":
        """Deletes every value."""
        self._raw.del_values()
        return self

    def del_value(self, value_id: str) -> "Store":
        """Deletes a value."""
        self._raw.del_value(value_id)
        return self

    # ---------------------------------------------------------------- schemas

    def set_tables_schema(self, schema: Dict[str, Any]) -> "Store":
        """Sets the tables schema: ``{table_id: {cell_id: {"type": ..., "default": ...}}}``."""
        self._raw.set_tables_schema_json(schema if isinstance(schema, str) else _dumps(schema))
        return self

    def set_values_schema(self, schema: Dict[str, Any]) -> "Store":
        """Sets the values schema: ``{value_id: {"type": ..., "default": ...}}``."""
        self._raw.set_values_schema_json(schema if isinstance(schema, str) else _dumps(schema))
        return self

    def set_schema(self, tables_schema: Dict[str, Any], values_schema: Optional[Dict[str, Any]] = None) -> "Store":
        """Sets both schemas at once."""
        self._raw.set_schema_json(
            _dumps(tables_schema), None if values_schema is None else _dumps(values_schema)
        )
        return self

    def get_tables_schema(self) -> Dict[str, Any]:
        """The tables schema."""
        return _json.loads(self._raw.get_tables_schema_json())

    def get_values_schema(self) -> Dict[str, Any]:
        """The values schema."""
        return _json.loads(self._raw.get_values_schema_json())

    def get_schema_json(self) -> str:
        """``[tables_schema, values_schema]`` as JSON."""
        return self._raw.get_schema_json()

    def has_tables_schema(self) -> bool:
        """Whether a tables schema is set."""
        return self._raw.has_tables_schema()

    def has_values_schema(self) -> bool:
        """Whether a values schema is set."""
        return self._raw.has_values_schema()

    def del_tables_schema(self) -> "Store":
        """Removes the tables schema."""
        self._raw.del_tables_schema()
        return self

    def del_values_schema(self) -> "Store":
        """Removes the values schema."""
        self._raw.del_values_schema()
        return self

    def del_schema(self) -> "Store":
        """Removes both schemas."""
        self._raw.del_schema()
        return self

    # ---------------------------------------------------------------- transactions

    def transaction(
        self,
        actions: Optional[Callable[[], Any]] = None,
        do_rollback: Optional[Callable[["Store"], bool]] = None,
    ) -> Any:
        """Groups writes so that listeners fire once, at the end.

        ``with store.transaction(): ...`` -- an exception inside rolls every change back and
        propagates. ``store.transaction(fn)`` runs ``fn()`` and returns its result; if ``fn``
        raises, or ``do_rollback(store)`` returns true, everything is rolled back.
        """
        if actions is None:
            if do_rollback is not None:
                raise TypeError("do_rollback needs actions")
            return _Transaction(self)
        runner = _Actions(actions)
        try:
            self._raw.transaction(runner, None if do_rollback is None else _Rollback(self, do_rollback))
        except TinystoreError.Callback:
            if runner.error is not None:
                raise runner.error from None
            raise
        return runner.result

    def start_transaction(self) -> "Store":
        """Starts an explicit transaction; pair with :meth:`finish_transaction`."""
        self._raw.start_transaction()
        return self

    def finish_transaction(self, do_rollback: Union[bool, Callable[["Store"], bool]] = False) -> "Store":
        """Finishes an explicit transaction, rolled back if ``do_rollback`` (or its result)."""
        rollback = do_rollback(self) if callable(do_rollback) else bool(do_rollback)
        self._raw.finish_transaction(rollback)
        return self

    def is_in_transaction(self) -> bool:
        """Whether a transaction is open (also while its listeners run)."""
        return self._raw.is_in_transaction()

    def get_transaction_changes(self) -> List[Any]:
        """The current transaction's net changes: ``[tables, values, 1]``."""
        return _json.loads(self._raw.get_transaction_changes_json())

    def get_cell_change(self, table_id: str, row_id: str, cell_id: str) -> Tuple[bool, Cell, Cell]:
        """``(changed, old_cell, new_cell)`` in the current transaction."""
        return _change(self._raw.get_cell_change(table_id, row_id, cell_id))

    def get_value_change(self, value_id: str) -> Tuple[bool, Cell, Cell]:
        """``(changed, old_value, new_value)`` in the current transaction."""
        return _change(self._raw.get_value_change(value_id))

    # ---------------------------------------------------------------- listeners

    def del_listener(self, listener_id: int) -> "Store":
        """Removes a listener."""
        self._raw.del_listener(listener_id)
        return self

    def call_listener(self, listener_id: int) -> "Store":
        """Calls a listener now with the current state."""
        self._raw.call_listener(listener_id)
        return self

    def get_listener_stats(self) -> Dict[str, int]:
        """Listener counts per kind."""
        s = self._raw.get_listener_stats()
        return {k: getattr(s, k) for k in vars(s)}

    def _l(self, fn: Callable[..., None], adapt: Callable[[Any], tuple]) -> _StoreListener:
        store = self
        return _StoreListener(lambda e: fn(store, *adapt(e)))

    def add_has_tables_listener(self, listener: Callable[["Store", bool], None], mutator: bool = False) -> int:
        """``listener(store, has_tables)`` when that flips."""
        return self._raw.add_has_tables_listener(self._l(listener, lambda e: (e.has,)), mutator)

    def add_tables_listener(self, listener: Callable[..., None], mutator: bool = False) -> int:
        """``listener(store, get_cell_change)`` after any cell changed."""
        return self._raw.add_tables_listener(self._l(listener, lambda e: (self.get_cell_change,)), mutator)

    def add_table_ids_listener(self, listener: Callable[..., None], mutator: bool = False) -> int:
        """``listener(store, changes)``, ``changes`` = ``{table_id: 1 | -1}``."""
        return self._raw.add_table_ids_listener(self._l(listener, lambda e: (_ids(e.changes),)), mutator)

    def add_has_table_listener(self, table_id: Optional[str], listener: Callable[..., None], mutator: bool = False) -> int:
        """``listener(store, table_id, has_table)``; ``table_id`` ``None`` means any."""
        return self._raw.add_has_table_listener(table_id, self._l(listener, lambda e: (e.table_id, e.has)), mutator)

    def add_table_listener(self, table_id: Optional[str], listener: Callable[..., None], mutator: bool = False) -> int:
        """``listener(store, table_id, get_cell_change)`` after a cell of the table changed."""
        return self._raw.add_table_listener(
            table_id, self._l(listener, lambda e: (e.table_id, self.get_cell_change)), mutator
        )

    def add_table_cell_ids_listener(self, table_id: Optional[str], listener: Callable[..., None], mutator: bool = False) -> int:
        """``listener(store, table_id, changes)`` when cell ids appear in or leave a table."""
        return self._raw.add_table_cell_ids_listener(
            table_id, self._l(listener, lambda e: (e.table_id, _ids(e.changes))), mutator
        )

    def add_has_table_cell_listener(
        self, table_id: Optional[str], cell_id: Optional[str], listener: Callable[..., None], mutator: bool = False
    ) -> int:
        """``listener(store, table_id, cell_id, has_table_cell)``."""
        return self._raw.add_has_table_cell_listener(
            table_id, cell_id, self._l(listener, lambda e: (e.table_id, e.cell_id, e.has)), mutator
        )

    def add_row_count_listener(self, table_id: Optional[str], listener: Callable[..., None], mutator: bool = False) -> int:
        """``listener(store, table_id, count)``."""
        return self._raw.add_row_count_listener(table_id, self._l(listener, lambda e: (e.table_id, e.count)), mutator)

    def add_row_ids_listener(self, table_id: Optional[str], listener: Callable[..., None], mutator: bool = False) -> int:
        """``listener(store, table_id, changes)`` when rows are added or removed."""
        return self._raw.add_row_ids_listener(
            table_id, self._l(listener, lambda e: (e.table_id, _ids(e.changes))), mutator
        )

    def add_sorted_row_ids_listener(
        self,
        table_id: str,
        cell_id: Optional[str],
        descending: bool,
        offset: int,
        limit: Optional[int],
        listener: Callable[..., None],
        mutator: bool = False,
        sorter: Optional[Callable[[Cell, Cell], Union[int, float]]] = None,
    ) -> int:
        """``listener(store, table_id, cell_id, descending, offset, limit, sorted_row_ids)``
        whenever that sorted slice changes."""
        args = _ffi.SortedRowIdsArgs(
            table_id=table_id, cell_id=cell_id, descending=descending, offset=offset, limit=limit
        )
        adapt = lambda e: (e.table_id, e.cell_id, e.descending, e.offset, e.limit, list(e.sorted_row_ids))  # noqa: E731
        return self._raw.add_sorted_row_ids_listener(
            args, None if sorter is None else _Sorter(sorter), self._l(listener, adapt), mutator
        )

    def add_has_row_listener(
        self, table_id: Optional[str], row_id: Optional[str], listener: Callable[..., None], mutator: bool = False
    ) -> int:
        """``listener(store, table_id, row_id, has_row)``."""
        return self._raw.add_has_row_listener(
            table_id, row_id, self._l(listener, lambda e: (e.table_id, e.row_id, e.has)), mutator
        )

    def add_row_listener(
        self, table_id: Optional[str], row_id: Optional[str], listener: Callable[..., None], mutator: bool = False
    ) -> int:
        """``listener(store, table_id, row_id, get_cell_change)`` after a cell of the row changed."""
        return self._raw.add_row_listener(
            table_id, row_id, self._l(listener, lambda e: (e.table_id, e.row_id, self.get_cell_change)), mutator
        )

    def add_cell_ids_listener(
        self, table_id: Optional[str], row_id: Optional[str], listener: Callable[..., None], mutator: bool = False
    ) -> int:
        """``listener(store, table_id, row_id, changes)`` when cells are added to or removed from a row."""
        return self._raw.add_cell_ids_listener(
            table_id, row_id, self._l(listener, lambda e: (e.table_id, e.row_id, _ids(e.changes))), mutator
        )

    def add_has_cell_listener(
        self,
        table_id: Optional[str],
        row_id: Optional[str],
        cell_id: Optional[str],
        listener: Callable[..., None],
        mutator: bool = False,
    ) -> int:
        """``listener(store, table_id, row_id, cell_id, has_cell)``."""
        return self._raw.add_has_cell_listener(
            table_id, row_id, cell_id, self._l(listener, lambda e: (e.table_id, e.row_id, e.cell_id, e.has)), mutator
        )

    def add_cell_listener(
        self,
        table_id: Optional[str],
        row_id: Optional[str],
        cell_id: Optional[str],
        listener: Callable[..., None],
        mutator: bool = False,
    ) -> int:
        """``listener(store, table_id, row_id, cell_id, new_cell, old_cell)``; an id of
        ``None`` matches any. ``mutator=True`` listeners may write to the store."""
        adapt = lambda e: (e.table_id, e.row_id, e.cell_id, _from_cell(e.new_cell), _from_cell(e.old_cell))  # noqa: E731
        return self._raw.add_cell_listener(table_id, row_id, cell_id, self._l(listener, adapt), mutator)

    def add_invalid_cell_listener(
        self,
        table_id: Optional[str],
        row_id: Optional[str],
        cell_id: Optional[str],
        listener: Callable[..., None],
        mutator: bool = False,
    ) -> int:
        """``listener(store, table_id, row_id, cell_id, invalid_cells)`` for rejected writes."""
        adapt = lambda e: (e.table_id, e.row_id, e.cell_id, [_from_cell(c) for c in e.invalid_cells])  # noqa: E731
        return self._raw.add_invalid_cell_listener(table_id, row_id, cell_id, self._l(listener, adapt), mutator)

    def add_has_values_listener(self, listener: Callable[["Store", bool], None], mutator: bool = False) -> int:
        """``listener(store, has_values)``."""
        return self._raw.add_has_values_listener(self._l(listener, lambda e: (e.has,)), mutator)

    def add_values_listener(self, listener: Callable[..., None], mutator: bool = False) -> int:
        """``listener(store, get_value_change)`` after any value changed."""
        return self._raw.add_values_listener(self._l(listener, lambda e: (self.get_value_change,)), mutator)

    def add_value_ids_listener(self, listener: Callable[..., None], mutator: bool = False) -> int:
        """``listener(store, changes)``, ``changes`` = ``{value_id: 1 | -1}``."""
        return self._raw.add_value_ids_listener(self._l(listener, lambda e: (_ids(e.changes),)), mutator)

    def add_has_value_listener(self, value_id: Optional[str], listener: Callable[..., None], mutator: bool = False) -> int:
        """``listener(store, value_id, has_value)``."""
        return self._raw.add_has_value_listener(value_id, self._l(listener, lambda e: (e.value_id, e.has)), mutator)

    def add_value_listener(self, value_id: Optional[str], listener: Callable[..., None], mutator: bool = False) -> int:
        """``listener(store, value_id, new_value, old_value)``."""
        adapt = lambda e: (e.value_id, _from_cell(e.new_value), _from_cell(e.old_value))  # noqa: E731
        return self._raw.add_value_listener(value_id, self._l(listener, adapt), mutator)

    def add_invalid_value_listener(self, value_id: Optional[str], listener: Callable[..., None], mutator: bool = False) -> int:
        """``listener(store, value_id, invalid_values)`` for rejected writes."""
        adapt = lambda e: (e.value_id, [_from_cell(c) for c in e.invalid_values])  # noqa: E731
        return self._raw.add_invalid_value_listener(value_id, self._l(listener, adapt), mutator)

    def add_start_transaction_listener(self, listener: Callable[["Store"], None]) -> int:
        """``listener(store)`` when the outermost transaction starts."""
        return self._raw.add_start_transaction_listener(self._l(listener, lambda e: ()))

    def add_will_finish_transaction_listener(self, listener: Callable[["Store"], None]) -> int:
        """``listener(store)`` after mutator listeners, before the others."""
        return self._raw.add_will_finish_transaction_listener(self._l(listener, lambda e: ()))

    def add_did_finish_transaction_listener(self, listener: Callable[["Store"], None]) -> int:
        """``listener(store)`` at the very end of every transaction."""
        return self._raw.add_did_finish_transaction_listener(self._l(listener, lambda e: ()))

    def is_mergeable(self) -> bool:
        """Whether this is a :class:`MergeableStore`."""
        return False


class MergeableStore(Store):
    """A Store with HLC stamps and hashes that merges and syncs (TinyBase's
    ``MergeableStore``). Create one with :func:`create_mergeable_store`."""

    def __init__(self, _raw: Any = None, unique_id: Optional[str] = None) -> None:
        super().__init__(_raw if _raw is not None else _ffi.create_mergeable_store(unique_id))
        self._store_view = self._raw.as_store()

    def _view(self) -> Any:
        return self._store_view

    def is_mergeable(self) -> bool:
        """Whether this is a MergeableStore: true."""
        return True

    def get_client_id(self) -> str:
        """The 5-character client id at the end of this store's HLCs."""
        return self._raw.get_client_id()

    def get_mergeable_content(self) -> List[Any]:
        """The full stamped content with hashes (TinyBase's persisted form)."""
        return _json.loads(self._raw.get_mergeable_content_json())

    def get_mergeable_content_json(self) -> str:
        """:meth:`get_mergeable_content` as JSON text."""
        return self._raw.get_mergeable_content_json()

    def set_mergeable_content(self, content: Any) -> "MergeableStore":
        """Replaces content and stamps (from :meth:`get_mergeable_content`'s form)."""
        self._raw.set_mergeable_content_json(content if isinstance(content, str) else _dumps(content))
        return self

    def apply_mergeable_changes(self, changes: Any) -> "MergeableStore":
        """Merges stamped changes or content from another replica; each leaf wins iff its
        HLC is later. Raises ``TinystoreError.Mergeable`` (changing nothing) if invalid."""
        self._raw.apply_mergeable_changes_json(changes if isinstance(changes, str) else _dumps(changes))
        return self

    def get_transaction_mergeable_changes(self, with_hashes: bool = False) -> List[Any]:
        """The stamps changed by the current transaction."""
        return _json.loads(self._raw.get_transaction_mergeable_changes_json(with_hashes))

    def set_default_content(self, content: Any, values: Optional[Values] = None) -> "MergeableStore":
        """Sets ``(tables, values)`` that any real write wins over."""
        if values is not None:
            content = (content, values)
        self._raw.set_default_content_json(_content_json(content))
        return self

    def merge(self, other: "MergeableStore") -> "MergeableStore":
        """Merges with another MergeableStore both ways."""
        self._raw.merge(other._raw)
        return self

    def get_mergeable_content_hashes(self) -> Tuple[int, int]:
        """``(tables_hash, values_hash)``: equal hashes mean equal content."""
        h = self._raw.get_mergeable_content_hashes()
        return (h.tables_hash, h.values_hash)

    def get_mergeable_table_hashes(self) -> Dict[str, int]:
        """Each table's hash."""
        return dict(self._raw.get_mergeable_table_hashes())

    def get_mergeable_value_hashes(self) -> Dict[str, int]:
        """Each value's hash."""
        return dict(self._raw.get_mergeable_value_hashes())


def create_store() -> Store:
    """Creates an empty :class:`Store` (TinyBase's ``createStore()``)."""
    return Store()


def create_mergeable_store(unique_id: Optional[str] = None) -> MergeableStore:
    """Creates an empty :class:`MergeableStore`; ``unique_id`` seeds its client id."""
    return MergeableStore(unique_id=unique_id)
