"""tinystore: a reactive, local-first data store with TinyBase's behaviour and formats.

The idiomatic Python layer over libtinystore's UniFFI bindings (the generated module is
``tinystore.tinystore``). Cells and values are native Python types -- ``str``, ``int`` /
``float``, ``bool``, ``None``, and ``dict`` / ``list`` for object and array cells -- listeners
are plain callables, transactions are context managers, and every error is a
:class:`TinystoreError` (one subclass per area: ``TinystoreError.Persist``,
``TinystoreError.Sync``, ...).

>>> import tinystore
>>> store = tinystore.create_store()
>>> store.set_cell("pets", "fido", "legs", 4)
>>> store.get_cell("pets", "fido", "legs")
4

Calls that wait on I/O (``load``, ``save``, ``start_sync``, connecting, server start) block
until done; ``*_async`` variants are coroutines for asyncio.

Listeners run synchronously on the thread whose write ended the transaction (for sync, a
socket thread). An exception raised by a listener is reported through
:func:`set_listener_error_handler` (by default: printed to stderr) and never reaches the
writer.
"""

from __future__ import annotations

import json as _json
import sys as _sys
import threading as _threading
import traceback as _traceback
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from . import tinystore as _ffi

__all__ = [
    "TinystoreError",
    "Status",
    "ConnectionStatus",
    "Store",
    "MergeableStore",
    "Persister",
    "SqlitePersister",
    "FilePersister",
    "CustomPersister",
    "Synchronizer",
    "CustomSynchronizer",
    "WsSynchronizer",
    "LocalBus",
    "WsServer",
    "create_store",
    "create_mergeable_store",
    "create_sqlite_persister",
    "create_file_persister",
    "create_custom_persister",
    "create_ws_synchronizer",
    "create_ws_synchronizer_async",
    "create_custom_synchronizer",
    "create_local_synchronizer",
    "create_ws_server",
    "create_ws_server_async",
    "set_listener_error_handler",
    "library_version",
]

#: The one exception type; ``TinystoreError.InvalidJson``, ``.InvalidValue``, ``.Schema``,
#: ``.Mergeable``, ``.Persist``, ``.Sync``, ``.Server``, ``.Destroyed`` and ``.Callback`` are
#: its subclasses, each with a ``reason`` attribute.
TinystoreError = _ffi.TinystoreError
# str(error) is the reason alone (the generated classes print "reason='...'").
TinystoreError.__str__ = lambda self: str(getattr(self, "reason", "") or Exception.__str__(self))  # type: ignore[method-assign]
#: A persister's or synchronizer's status: ``Status.IDLE``, ``.LOADING``, ``.SAVING``.
Status = _ffi.Status
#: A WebSocket synchronizer's connection: ``CONNECTING``, ``CONNECTED``, ``DISCONNECTED``.
ConnectionStatus = _ffi.ConnectionStatus

Cell = Union[str, int, float, bool, None, Dict[str, Any], List[Any]]
Row = Dict[str, Cell]
Table = Dict[str, Row]
Tables = Dict[str, Table]
Values = Dict[str, Cell]


def library_version() -> str:
    """The version of libtinystore."""
    return _ffi.library_version()


# ------------------------------------------------------------------------------ errors


def _default_listener_error(exc: BaseException) -> None:
    print("tinystore: exception in a listener (ignored):", file=_sys.stderr)
    _traceback.print_exception(type(exc), exc, exc.__traceback__, file=_sys.stderr)


_listener_error_handler: Callable[[BaseException], None] = _default_listener_error


def set_listener_error_handler(handler: Optional[Callable[[BaseException], None]]) -> None:
    """Sets what happens to an exception raised by a listener or another callback that has no
    caller to raise into (``None`` restores the default: print the traceback to stderr)."""
    global _listener_error_handler
    _listener_error_handler = handler or _default_listener_error


def _report(exc: BaseException) -> None:
    try:
        _listener_error_handler(exc)
    except BaseException:  # noqa: BLE001 - a failing handler must not break the store
        _default_listener_error(exc)


def _invalid(reason: str) -> TinystoreError:
    return TinystoreError.InvalidValue(reason)


# ------------------------------------------------------------------------------ values


def _dumps(obj: Any) -> str:
    try:
        return _json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as e:
        raise _invalid(f"cannot be stored: {e}") from None


def _has_non_finite(obj: Any) -> bool:
    if isinstance(obj, float):
        return obj != obj or obj in (float("inf"), float("-inf"))
    if isinstance(obj, dict):
        return any(_has_non_finite(v) for v in obj.values())
    return False


def _cells(row: Dict[str, Any]) -> Dict[str, Any]:
    return {k: _to_cell(v) for k, v in row.items()}


def _to_cell(value: Cell) -> "_ffi.CellValue":
    if value is None:
        return _ffi.CellValue.NULL()
    if isinstance(value, bool):
        return _ffi.CellValue.BOOL(value)
    if isinstance(value, (int, float)):
        try:
            return _ffi.CellValue.NUM(float(value))
        except OverflowError:
            raise _invalid(f"number too large: {value}") from None
    if isinstance(value, str):
        return _ffi.CellValue.STR(value)
    if isinstance(value, (dict, list, tuple)):
        return _ffi.CellValue.JSON(_dumps(value))
    raise _invalid(f"a cell must be str, int, float, bool, None, dict or list, not {type(value).__name__}")


def _number(n: float) -> Union[int, float]:
    # An integral number comes back as int (as JSON.stringify prints it without a fraction).
    if n == n and n.is_integer() and abs(n) < 1e21:
        return int(n)
    return n


def _from_cell(cell: Optional["_ffi.CellValue"]) -> Cell:
    if cell is None or cell.is_null():
        return None
    if cell.is_str():
        return cell.value
    if cell.is_num():
        return _number(cell.value)
    if cell.is_bool():
        return cell.value
    return _json.loads(cell.json)


def _decode_leaf(v: Any) -> Any:
    if isinstance(v, str) and v.startswith("\ufffd"):
        try:
            return _json.loads(v[1:])
        except ValueError:
            return v
    return v


def _decode_row(row: Dict[str, Any]) -> Row:
    return {c: _decode_leaf(v) for c, v in row.items()}


def _decode_table(table: Dict[str, Any]) -> Table:
    return {r: _decode_row(row) for r, row in table.items()}


def _decode_tables(tables: Dict[str, Any]) -> Tables:
    return {t: _decode_table(table) for t, table in tables.items()}


def _content_json(content: Any) -> Optional[str]:
    """``[tables, values]`` (or a JSON string) -> JSON text; ``None`` stays ``None``."""
    if content is None or isinstance(content, str):
        return content
    if isinstance(content, (list, tuple)) and len(content) == 2:
        return _dumps([content[0], content[1]])
    raise _invalid("content must be [tables, values]")


def _ids(changes: Sequence["_ffi.IdChange"]) -> Dict[str, int]:
    return {c.id: c.change for c in changes}


def _change(info: "_ffi.ChangeInfo") -> Tuple[bool, Cell, Cell]:
    return (info.changed, _from_cell(info.old_value), _from_cell(info.new_value))


# ------------------------------------------------------------------------------ callbacks


class _StoreListener(_ffi.StoreListener):
    def __init__(self, fn: Callable[["_ffi.StoreEvent"], None]) -> None:
        self._fn = fn

    def on_event(self, event: "_ffi.StoreEvent") -> None:
        try:
            self._fn(event)
        except BaseException as e:  # noqa: BLE001 - reported, never raised into the store
            _report(e)


class _Actions(_ffi.TransactionActions):
    def __init__(self, fn: Callable[[], Any]) -> None:
        self._fn = fn
        self.result: Any = None
        self.error: Optional[BaseException] = None

    def run(self) -> None:
        try:
            self.result = self._fn()
        except BaseException as e:  # noqa: BLE001 - re-raised by Store.transaction
            self.error = e
            raise TinystoreError.Callback(repr(e)) from None


class _Rollback(_ffi.RollbackCheck):
    def __init__(self, store: "Store", fn: Callable[["Store"], bool]) -> None:
        self._store, self._fn = store, fn

    def do_rollback(self) -> bool:
        try:
            return bool(self._fn(self._store))
        except BaseException as e:  # noqa: BLE001
            _report(e)
            return True


class _Sorter(_ffi.RowSorter):
    def __init__(self, fn: Callable[[Cell, Cell], Union[int, float]]) -> None:
        self._fn = fn

    def compare(self, a: Optional["_ffi.CellValue"], b: Optional["_ffi.CellValue"]) -> int:
        try:
            n = self._fn(_from_cell(a), _from_cell(b))
        except BaseException as e:  # noqa: BLE001
            _report(e)
            return 0
        return -1 if n < 0 else (1 if n > 0 else 0)


class _StatusListener(_ffi.StatusListener):
    def __init__(self, owner: Any, fn: Callable[[Any, "_ffi.Status"], None]) -> None:
        self._owner, self._fn = owner, fn

    def on_status(self, status: "_ffi.Status") -> None:
        try:
            self._fn(self._owner, status)
        except BaseException as e:  # noqa: BLE001
            _report(e)


class _ErrorListener(_ffi.ErrorListener):
    def __init__(self, fn: Callable[[str], None]) -> None:
        self._fn = fn

    def on_error(self, message: str) -> None:
        try:
            self._fn(message)
        except BaseException as e:  # noqa: BLE001
            _report(e)


def _error_listener(fn: Optional[Callable[[str], None]]) -> Optional[_ErrorListener]:
    return None if fn is None else _ErrorListener(fn)


class _Transaction:
    """``with store.transaction(): ...`` -- an exception rolls everything back."""

    def __init__(self, store: "Store") -> None:
        self._store = store

    def __enter__(self) -> "Store":
        self._store._raw.start_transaction()
        return self._store

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        self._store._raw.finish_transaction(exc_type is not None)
        return False


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


# ------------------------------------------------------------------------------ persisters


def _interval_ms(interval: Optional[float]) -> Optional[int]:
    return None if interval is None else max(1, int(interval * 1000))


class Persister:
    """Keeps a store in storage: :meth:`load`, :meth:`save`, auto-load and auto-save.
    Usable as a context manager (``destroy`` on exit)."""

    def __init__(self, store: Store, raw: Any) -> None:
        self._store, self._raw = store, raw

    def __enter__(self) -> "Persister":
        return self

    def __exit__(self, *exc: Any) -> bool:
        self.destroy()
        return False

    def get_store(self) -> Store:
        """The store this persister serves."""
        return self._store

    def load(self, initial_content: Any = None) -> "Persister":
        """Loads the stored content into the store (blocks). With nothing stored,
        ``initial_content`` ``(tables, values)`` is set."""
        self._raw.load(_content_json(initial_content))
        return self

    async def load_async(self, initial_content: Any = None) -> "Persister":
        """:meth:`load` as a coroutine."""
        await self._raw.load_async(_content_json(initial_content))
        return self

    def save(self) -> "Persister":
        """Saves the whole content (blocks until stored)."""
        self._raw.save()
        return self

    async def save_async(self) -> "Persister":
        """:meth:`save` as a coroutine."""
        await self._raw.save_async()
        return self

    def allow_overwrite(self) -> "Persister":
        """Lets saves replace stored data that failed to load."""
        self._raw.allow_overwrite()
        return self

    def start_auto_save(self) -> "Persister":
        """Saves now, then after every transaction that changed the store."""
        self._raw.start_auto_save()
        return self

    def stop_auto_save(self) -> "Persister":
        """Stops auto-saving."""
        self._raw.stop_auto_save()
        return self

    def is_auto_saving(self) -> bool:
        """Whether auto-save is on."""
        return self._raw.is_auto_saving()

    def start_auto_load(self, initial_content: Any = None, interval: Optional[float] = None) -> "Persister":
        """Loads now, then polls the storage every ``interval`` seconds (default 1) and loads
        again when it was changed by someone else."""
        self._raw.start_auto_load(_content_json(initial_content), _interval_ms(interval))
        return self

    def stop_auto_load(self) -> "Persister":
        """Stops auto-loading."""
        self._raw.stop_auto_load()
        return self

    def is_auto_loading(self) -> bool:
        """Whether auto-load is on."""
        return self._raw.is_auto_loading()

    def start_auto_persisting(
        self, initial_content: Any = None, interval: Optional[float] = None, save_first: bool = False
    ) -> "Persister":
        """Auto-load then auto-save (the reverse with ``save_first``)."""
        self._raw.start_auto_persisting(_content_json(initial_content), _interval_ms(interval), save_first)
        return self

    def stop_auto_persisting(self) -> "Persister":
        """Stops both."""
        self._raw.stop_auto_persisting()
        return self

    def get_status(self) -> "_ffi.Status":
        """``Status.IDLE``, ``LOADING`` or ``SAVING``."""
        return self._raw.get_status()

    def get_stats(self) -> Dict[str, int]:
        """``{"loads": n, "saves": n}``."""
        s = self._raw.get_stats()
        return {"loads": s.loads, "saves": s.saves}

    def add_status_listener(self, listener: Callable[["Persister", "_ffi.Status"], None]) -> int:
        """``listener(persister, status)`` on every status change."""
        return self._raw.add_status_listener(_StatusListener(self, listener))

    def del_listener(self, listener_id: int) -> "Persister":
        """Removes a status listener."""
        self._raw.del_listener(listener_id)
        return self

    def set_on_ignored_error(self, handler: Callable[[str], None]) -> "Persister":
        """``handler(message)`` for errors of auto-load and auto-save."""
        self._raw.set_on_ignored_error(_ErrorListener(handler))
        return self

    def destroy(self) -> None:
        """Stops everything this persister runs."""
        self._raw.shutdown()


class SqlitePersister(Persister):
    """Keeps a store in an SQLite database, in TinyBase's JSON or tabular layout."""

    def get_path(self) -> str:
        """The database path."""
        return self._raw.get_path()


class FilePersister(Persister):
    """Keeps a store in a JSON file (TinyBase's file format; atomic writes)."""

    def get_file_path(self) -> str:
        """The file path."""
        return self._raw.get_file_path()


class CustomPersister(Persister):
    """Keeps a store in storage you provide as two functions."""


def _tabular_config(config: Dict[str, Any]) -> "_ffi.SqliteConfig":
    tables = config.get("tables", {}) or {}
    load, save = [], []
    for db_table, spec in (tables.get("load") or {}).items():
        if isinstance(spec, str):
            spec = {"tableId": spec}
        load.append(
            _ffi.TableLoad(
                db_table=db_table,
                table_id=spec["tableId"],
                row_id_column=spec.get("rowIdColumnName", "_id"),
                condition=spec.get("condition"),
            )
        )
    for table_id, spec in (tables.get("save") or {}).items():
        if isinstance(spec, str):
            spec = {"tableName": spec}
        save.append(
            _ffi.TableSave(
                table_id=table_id,
                db_table=spec["tableName"],
                row_id_column=spec.get("rowIdColumnName", "_id"),
                delete_empty_columns=bool(spec.get("deleteEmptyColumns", False)),
                delete_empty_table=bool(spec.get("deleteEmptyTable", False)),
                condition=spec.get("condition"),
            )
        )
    values = config.get("values", {}) or {}

    def selection(v: Any) -> Optional[List[str]]:
        if v is True:
            return []
        if not v:
            return None
        return list(v)

    return _ffi.SqliteConfig.TABULAR(
        load=load,
        save=save,
        values_load=selection(values.get("load")),
        values_save=selection(values.get("save")),
        values_table=values.get("tableName", "tinybase_values"),
    )


def create_sqlite_persister(
    store: Store,
    path: str,
    mode: str = "json",
    config: Union[None, str, Dict[str, Any]] = None,
    *,
    tables: Optional[Sequence[str]] = None,
) -> SqlitePersister:
    """An SQLite persister for ``store`` in the database file ``path`` (``":memory:"`` for an
    in-memory database), with TinyBase's layouts.

    ``mode="json"``: the whole store as one JSON document; ``config`` may name the table (a
    string) or be TinyBase's ``{"storeTableName", "storeIdColumnName", "storeColumnName"}``.
    ``mode="tabular"`` (plain Stores): a database table per Store table; ``tables=[...]``
    maps those tables (and all values) to tables of the same name, or ``config`` is
    TinyBase's ``{"tables": {"load": {...}, "save": {...}}, "values": {"load": bool,
    "save": bool, "tableName": ...}}``.
    """
    if mode == "json":
        if isinstance(config, dict):
            cfg = _ffi.SqliteConfig.JSON(
                table=config.get("storeTableName", "tinybase"),
                id_column=config.get("storeIdColumnName", "_id"),
                store_column=config.get("storeColumnName", "store"),
            )
        else:
            cfg = _ffi.sqlite_json_config(config)
    elif mode == "tabular":
        if tables is not None:
            cfg = _ffi.sqlite_tabular_config(list(tables))
        elif isinstance(config, dict):
            cfg = _tabular_config(config)
        else:
            raise _invalid("tabular mode needs tables=[...] or a config dict")
    else:
        raise _invalid(f"unknown SQLite mode {mode!r} (expected 'json' or 'tabular')")
    return SqlitePersister(store, _ffi.create_sqlite_persister(store._view(), str(path), cfg))


def create_file_persister(store: Store, path: str) -> FilePersister:
    """A persister keeping ``store`` in the JSON file at ``path`` (TinyBase's format)."""
    return FilePersister(store, _ffi.create_file_persister(store._view(), str(path)))


class _Storage(_ffi.PersisterStorage):
    def __init__(self, get_persisted: Callable[[], Any], set_persisted: Callable[[str], None]) -> None:
        self._get, self._set = get_persisted, set_persisted

    def read(self) -> Optional[str]:
        try:
            doc = self._get()
        except TinystoreError:
            raise
        except BaseException as e:  # noqa: BLE001 - becomes a load error
            raise TinystoreError.Persist(f"get_persisted failed: {e!r}") from None
        if doc is None or isinstance(doc, str):
            return doc
        return _dumps(doc)

    def write(self, document: str) -> None:
        try:
            self._set(document)
        except TinystoreError:
            raise
        except BaseException as e:  # noqa: BLE001 - becomes a save error
            raise TinystoreError.Persist(f"set_persisted failed: {e!r}") from None


def create_custom_persister(
    store: Store, get_persisted: Callable[[], Any], set_persisted: Callable[[str], None]
) -> CustomPersister:
    """A persister over your own storage (TinyBase's ``createCustomPersister``):
    ``get_persisted()`` returns the stored JSON document (``str``, or the parsed list), or
    ``None`` when nothing is stored; ``set_persisted(document)`` stores a JSON string. An
    exception in either becomes ``TinystoreError.Persist`` from ``load``/``save``."""
    return CustomPersister(store, _ffi.create_custom_persister(store._view(), _Storage(get_persisted, set_persisted)))


# ------------------------------------------------------------------------------ sync


class Synchronizer:
    """Keeps a :class:`MergeableStore` in sync with peers. Usable as a context manager
    (``destroy`` on exit)."""

    def __init__(self, store: MergeableStore, raw: Any) -> None:
        self._store, self._raw = store, raw

    def __enter__(self) -> "Synchronizer":
        return self

    def __exit__(self, *exc: Any) -> bool:
        self.destroy()
        return False

    def get_store(self) -> MergeableStore:
        """The store being synchronized."""
        return self._store

    def start_sync(self, initial_content: Any = None) -> "Synchronizer":
        """Pulls what the peers have (blocks until done or timed out), then sends every
        change; with nothing pulled, ``initial_content`` becomes default content."""
        self._raw.start_sync(_content_json(initial_content))
        return self

    async def start_sync_async(self, initial_content: Any = None) -> "Synchronizer":
        """:meth:`start_sync` as a coroutine."""
        await self._raw.start_sync_async(_content_json(initial_content))
        return self

    def stop_sync(self) -> "Synchronizer":
        """Stops syncing."""
        self._raw.stop_sync()
        return self

    def load(self, initial_content: Any = None) -> "Synchronizer":
        """Pulls what the peers have and applies it (blocks)."""
        self._raw.load(_content_json(initial_content))
        return self

    async def load_async(self, initial_content: Any = None) -> "Synchronizer":
        """:meth:`load` as a coroutine."""
        await self._raw.load_async(_content_json(initial_content))
        return self

    def save(self) -> "Synchronizer":
        """Announces this store's hashes to the peers (they pull what differs)."""
        self._raw.save()
        return self

    def start_auto_load(self, initial_content: Any = None) -> "Synchronizer":
        """Loads, then applies whatever peers send from now on."""
        self._raw.start_auto_load(_content_json(initial_content))
        return self

    def stop_auto_load(self) -> "Synchronizer":
        """Stops applying what peers send."""
        self._raw.stop_auto_load()
        return self

    def is_auto_loading(self) -> bool:
        """Whether auto-load is on."""
        return self._raw.is_auto_loading()

    def start_auto_save(self) -> "Synchronizer":
        """Saves, then sends every transaction's changes."""
        self._raw.start_auto_save()
        return self

    def stop_auto_save(self) -> "Synchronizer":
        """Stops sending changes."""
        self._raw.stop_auto_save()
        return self

    def is_auto_saving(self) -> bool:
        """Whether auto-save is on."""
        return self._raw.is_auto_saving()

    def start_auto_persisting(self, initial_content: Any = None) -> "Synchronizer":
        """Auto-load then auto-save."""
        self._raw.start_auto_persisting(_content_json(initial_content))
        return self

    def stop_auto_persisting(self) -> "Synchronizer":
        """Stops both."""
        self._raw.stop_auto_persisting()
        return self

    def get_status(self) -> "_ffi.Status":
        """``Status.IDLE``, ``LOADING`` or ``SAVING``."""
        return self._raw.get_status()

    def get_stats(self) -> Dict[str, int]:
        """``{"loads": n, "saves": n}``."""
        s = self._raw.get_stats()
        return {"loads": s.loads, "saves": s.saves}

    def get_synchronizer_stats(self) -> Dict[str, int]:
        """``{"sends": n, "receives": n}``: messages so far."""
        s = self._raw.get_synchronizer_stats()
        return {"sends": s.sends, "receives": s.receives}

    def add_status_listener(self, listener: Callable[["Synchronizer", "_ffi.Status"], None]) -> int:
        """``listener(synchronizer, status)`` on every status change."""
        return self._raw.add_status_listener(_StatusListener(self, listener))

    def del_listener(self, listener_id: int) -> "Synchronizer":
        """Removes a status listener."""
        self._raw.del_listener(listener_id)
        return self

    def is_destroyed(self) -> bool:
        """Whether :meth:`destroy` was called."""
        return self._raw.is_destroyed()

    def destroy(self) -> None:
        """Stops syncing and releases the transport."""
        self._raw.shutdown()


class WsSynchronizer(Synchronizer):
    """A synchronizer connected to a sync server (``tinystore serve`` or TinyBase's) over a
    WebSocket."""

    def get_connection_status(self) -> "_ffi.ConnectionStatus":
        """``ConnectionStatus.CONNECTING``, ``CONNECTED`` or ``DISCONNECTED``."""
        return self._raw.get_connection_status()

    def get_url(self) -> str:
        """The server URL."""
        return self._raw.get_url()


class CustomSynchronizer(Synchronizer):
    """A synchronizer over a medium written in Python (see :func:`create_custom_synchronizer`)."""

    def receive(self, from_client_id: str, message: str) -> None:
        """Hands a message received from peer ``from_client_id`` to the synchronizer. Call it
        from the thread that delivers messages, never from inside ``send``."""
        self._raw.receive(from_client_id, message)


def _ws_options(
    channel: Optional[str],
    headers: Optional[Dict[str, str]],
    reconnect: bool,
    connect_timeout: Optional[float],
    request_timeout: Optional[float],
    fragment_size: Optional[int],
) -> "_ffi.WsSynchronizerOptions":
    return _ffi.WsSynchronizerOptions(
        channel=channel,
        headers=headers,
        reconnect=reconnect,
        connect_timeout_ms=_interval_ms(connect_timeout),
        request_timeout_ms=_interval_ms(request_timeout),
        fragment_size=fragment_size,
    )


def create_ws_synchronizer(
    store: MergeableStore,
    url: str,
    *,
    channel: Optional[str] = None,
    headers: Optional[Dict[str, str]] = None,
    reconnect: bool = False,
    connect_timeout: Optional[float] = None,
    request_timeout: Optional[float] = None,
    fragment_size: Optional[int] = None,
    on_ignored_error: Optional[Callable[[str], None]] = None,
) -> WsSynchronizer:
    """Connects ``store`` to the sync server at ``url`` (``ws://host:port/room``), blocking
    until the socket is open; call :meth:`Synchronizer.start_sync` to sync. Raises
    ``TinystoreError.Sync`` if it cannot connect. Timeouts are in seconds."""
    options = _ws_options(channel, headers, reconnect, connect_timeout, request_timeout, fragment_size)
    raw = _ffi.create_ws_synchronizer(store._raw, url, options, _error_listener(on_ignored_error))
    return WsSynchronizer(store, raw)


async def create_ws_synchronizer_async(store: MergeableStore, url: str, **kwargs: Any) -> WsSynchronizer:
    """:func:`create_ws_synchronizer` as a coroutine (same keyword arguments)."""
    on_error = kwargs.pop("on_ignored_error", None)
    options = _ws_options(
        kwargs.pop("channel", None),
        kwargs.pop("headers", None),
        kwargs.pop("reconnect", False),
        kwargs.pop("connect_timeout", None),
        kwargs.pop("request_timeout", None),
        kwargs.pop("fragment_size", None),
    )
    if kwargs:
        raise TypeError(f"unexpected arguments: {sorted(kwargs)}")
    raw = await _ffi.create_ws_synchronizer_async(store._raw, url, options, _error_listener(on_error))
    return WsSynchronizer(store, raw)


class _Transport(_ffi.SyncTransport):
    def __init__(self, send: Callable[[Optional[str], str], None], close: Optional[Callable[[], None]]) -> None:
        self._send, self._close = send, close

    def send(self, to: Optional[str], message: str) -> None:
        try:
            self._send(to, message)
        except BaseException as e:  # noqa: BLE001
            _report(e)

    def disconnect(self) -> None:
        if self._close is not None:
            try:
                self._close()
            except BaseException as e:  # noqa: BLE001
                _report(e)


def create_custom_synchronizer(
    store: MergeableStore,
    send: Callable[[Optional[str], str], None],
    close: Optional[Callable[[], None]] = None,
    *,
    request_timeout: Optional[float] = None,
    on_ignored_error: Optional[Callable[[str], None]] = None,
) -> CustomSynchronizer:
    """A synchronizer over your own medium (TinyBase's ``createCustomSynchronizer``).
    ``send(to_client_id, message)`` must queue the message (``to`` ``None``: every peer) for
    delivery on another thread, where the peer calls ``receive(from_client_id, message)``."""
    options = _ffi.SyncOptions(request_timeout_ms=_interval_ms(request_timeout))
    raw = _ffi.create_custom_synchronizer(store._raw, _Transport(send, close), options, _error_listener(on_ignored_error))
    return CustomSynchronizer(store, raw)


class LocalBus:
    """In-process sync: synchronizers on one bus sync without a socket."""

    def __init__(self) -> None:
        self._raw = _ffi.LocalBus()

    def create_synchronizer(self, store: MergeableStore) -> Synchronizer:
        """A synchronizer for ``store`` on this bus."""
        return Synchronizer(store, self._raw.create_synchronizer(store._raw))

    def flush(self) -> None:
        """Waits until every message sent so far (and every answer) was delivered."""
        self._raw.flush()

    def get_client_ids(self) -> List[str]:
        """The client ids of the synchronizers on the bus."""
        return self._raw.get_client_ids()


_default_bus: Optional[LocalBus] = None
_bus_lock = _threading.Lock()


def create_local_synchronizer(store: MergeableStore, bus: Optional[LocalBus] = None) -> Synchronizer:
    """A synchronizer for ``store`` on ``bus`` (default: one bus shared by the process), as
    TinyBase's ``createLocalSynchronizer``."""
    global _default_bus
    if bus is None:
        with _bus_lock:
            if _default_bus is None:
                _default_bus = LocalBus()
            bus = _default_bus
    return bus.create_synchronizer(store)


# ------------------------------------------------------------------------------ server


class _ServerListener(_ffi.ServerListener):
    def __init__(self, server: "WsServer", on_path: Any = None, on_client: Any = None) -> None:
        self._server, self._on_path, self._on_client = server, on_path, on_client

    def on_event(self, event: "_ffi.ServerEvent") -> None:
        try:
            if event.is_path_ids() and self._on_path is not None:
                self._on_path(self._server, event.path_id, event.added)
            elif event.is_client_ids() and self._on_client is not None:
                self._on_client(self._server, event.path_id, event.client_id, event.added)
        except BaseException as e:  # noqa: BLE001
            _report(e)


class WsServer:
    """A running WebSocket sync server (TinyBase's ``createWsServer``). Usable as a context
    manager (``stop`` on exit)."""

    def __init__(self, raw: Any) -> None:
        self._raw = raw

    def __enter__(self) -> "WsServer":
        return self

    def __exit__(self, *exc: Any) -> bool:
        self.stop()
        return False

    @property
    def port(self) -> int:
        """The bound port."""
        return self._raw.get_port()

    def get_port(self) -> int:
        """The bound port."""
        return self._raw.get_port()

    def get_path_ids(self) -> List[str]:
        """The rooms that have clients."""
        return self._raw.get_path_ids()

    def get_client_ids(self, path_id: str) -> List[str]:
        """The clients of a room, in join order."""
        return self._raw.get_client_ids(path_id)

    def get_stats(self) -> Dict[str, int]:
        """``{"paths": n, "clients": n}``."""
        s = self._raw.get_stats()
        return {"paths": s.paths, "clients": s.clients}

    def add_path_ids_listener(self, listener: Callable[["WsServer", str, bool], None]) -> int:
        """``listener(server, path_id, added)`` when a room starts or stops."""
        return self._raw.add_path_ids_listener(_ServerListener(self, on_path=listener))

    def add_client_ids_listener(
        self, path_id: Optional[str], listener: Callable[["WsServer", str, str, bool], None]
    ) -> int:
        """``listener(server, path_id, client_id, added)`` when a client joins or leaves."""
        return self._raw.add_client_ids_listener(path_id, _ServerListener(self, on_client=listener))

    def del_listener(self, listener_id: int) -> bool:
        """Removes a listener."""
        return self._raw.del_listener(listener_id)

    def is_running(self) -> bool:
        """Whether the server is running."""
        return self._raw.is_running()

    def stop(self) -> None:
        """Closes every client, saves every room and stops (blocks until done)."""
        self._raw.stop()

    async def stop_async(self) -> None:
        """:meth:`stop` as a coroutine."""
        await self._raw.stop_async()

    def destroy(self) -> None:
        """Same as :meth:`stop` (TinyBase's name)."""
        self._raw.stop()


def _server_options(host: str, in_memory_rooms: bool, request_timeout: Optional[float], fragment_size: Optional[int]) -> Any:
    return _ffi.WsServerOptions(
        host=host,
        in_memory_rooms=in_memory_rooms,
        request_timeout_ms=_interval_ms(request_timeout),
        fragment_size=fragment_size,
    )


def create_ws_server(
    port: int = 8043,
    db_path: Optional[str] = None,
    *,
    host: str = "127.0.0.1",
    in_memory_rooms: bool = False,
    request_timeout: Optional[float] = None,
    fragment_size: Optional[int] = None,
) -> WsServer:
    """Starts a sync server on ``port`` (0: any free port, see :attr:`WsServer.port`). With
    ``db_path`` every room keeps a MergeableStore persisted to that SQLite file (as TinyBase's
    server); without it the server relays (``in_memory_rooms=True`` keeps unpersisted room
    stores). Raises ``TinystoreError.Server`` if it cannot listen."""
    options = _server_options(host, in_memory_rooms, request_timeout, fragment_size)
    return WsServer(_ffi.create_ws_server(port, None if db_path is None else str(db_path), options))


async def create_ws_server_async(
    port: int = 8043,
    db_path: Optional[str] = None,
    *,
    host: str = "127.0.0.1",
    in_memory_rooms: bool = False,
    request_timeout: Optional[float] = None,
    fragment_size: Optional[int] = None,
) -> WsServer:
    """:func:`create_ws_server` as a coroutine."""
    options = _server_options(host, in_memory_rooms, request_timeout, fragment_size)
    raw = await _ffi.create_ws_server_async(port, None if db_path is None else str(db_path), options)
    return WsServer(raw)
