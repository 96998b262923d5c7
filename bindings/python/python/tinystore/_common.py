"""Shared plumbing of the Python layer: the error type, the listener error handler, cell
conversions and the adapters of Python callables to the generated callback interfaces."""

from __future__ import annotations

import json as _json
import sys as _sys
import threading as _threading
import traceback as _traceback
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from . import tinystore as _ffi


#: The one exception type; ``TinystoreError.InvalidJson``, ``.InvalidValue``, ``.Schema``,
#: ``.Mergeable``, ``.Persist``, ``.Sync``, ``.Server``, ``.Destroyed`` and ``.Callback`` are
#: its subclasses, each with a ``reason`` attribute.
TinystoreError = _ffi.TinystoreError
# str(error) is the reason alone (the generated classes print "reason='...'").
TinystoreError.__str__ = lambda self: str(getattr(self, "reason", "") or Exception.__str__(self))  # type: ignore[method-assign]
# Tracebacks name an exception by its module: ``tinystore.TinystoreError.InvalidValue``, the
# name a user catches it by, not the generated module's ``tinystore.tinystore.tinystore``.
for _cls in (TinystoreError, *vars(TinystoreError).values()):
    if isinstance(_cls, type) and issubclass(_cls, TinystoreError):
        _cls.__module__ = "tinystore"
del _cls
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


def _handle_repr(obj: Any) -> str:
    """``<Class where status, auto-load + auto-save>`` for a persister or synchronizer (``where``
    from its ``_where()``), as the Store shows its content; never raises (a destroyed object
    says so)."""
    try:
        where = obj._where()
    except Exception:  # noqa: BLE001 - a repr must not raise
        where = None
    parts = [type(obj).__name__, *([where] if where else [])]
    try:
        flags = [
            name
            for name, on in (("auto-load", obj.is_auto_loading()), ("auto-save", obj.is_auto_saving()))
            if on
        ]
        state = obj.get_status().name.lower()
        parts.append(", ".join([state, " + ".join(flags)]) if flags else state)
    except Exception:  # noqa: BLE001 - a repr must not raise
        parts.append("destroyed")
    return "<" + " ".join(parts) + ">"


def _redacted_url(url: str) -> str:
    """The URL without its password (reprs end up in logs)."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        host = parts.hostname or ""
        netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    except ValueError:
        return "<url>"


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
