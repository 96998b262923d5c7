"""Persisters: SQLite, PostgreSQL, file, remote (HTTP), Yjs, Automerge and custom."""

from __future__ import annotations

import json as _json
import sys as _sys
import threading as _threading
import traceback as _traceback
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from . import tinystore as _ffi

from ._common import (  # noqa: F401
    Status,
    TinystoreError,
    _ErrorListener,
    _StatusListener,
    _content_json,
    _dumps,
    _handle_repr,
    _invalid,
    _redacted_url,
    _report,
)
from ._store import (  # noqa: F401
    Store,
)


# ------------------------------------------------------------------------------ persisters


def _interval_ms(interval: Optional[float]) -> Optional[int]:
    return None if interval is None else max(1, int(interval * 1000))


class Persister:
    """Keeps a store in storage: :meth:`load`, :meth:`save`, auto-load and auto-save.
    Usable as a context manager (``destroy`` on exit)."""

    def __init__(self, store: Store, raw: Any) -> None:
        self._store, self._raw = store, raw

    def _where(self) -> Optional[str]:
        """Where this persister keeps the store, for its repr."""
        return None

    def __repr__(self) -> str:
        return _handle_repr(self)

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

    def has_unsaved_changes(self) -> bool:
        """Whether the last save failed, so the storage may lack some of the store's content
        (the next save, or auto-load's next round, writes all of it)."""
        return self._raw.has_unsaved_changes()

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

    def _where(self) -> Optional[str]:
        return self.get_path()


class FilePersister(Persister):
    """Keeps a store in a JSON file (TinyBase's file format; atomic writes)."""

    def get_file_path(self) -> str:
        """The file path."""
        return self._raw.get_file_path()

    def _where(self) -> Optional[str]:
        return self.get_file_path()


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


def _database_config(
    what: str, mode: str, config: Union[None, str, Dict[str, Any]], tables: Optional[Sequence[str]]
) -> "_ffi.SqliteConfig":
    if mode == "json":
        if isinstance(config, dict):
            return _ffi.SqliteConfig.JSON(
                table=config.get("storeTableName", "tinybase"),
                id_column=config.get("storeIdColumnName", "_id"),
                store_column=config.get("storeColumnName", "store"),
            )
        return _ffi.sqlite_json_config(config)
    if mode == "tabular":
        if tables is not None:
            return _ffi.sqlite_tabular_config(list(tables))
        if isinstance(config, dict):
            return _tabular_config(config)
        raise _invalid("tabular mode needs tables=[...] or a config dict")
    raise _invalid(f"unknown {what} mode {mode!r} (expected 'json' or 'tabular')")


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
    cfg = _database_config("SQLite", mode, config, tables)
    return SqlitePersister(store, _ffi.create_sqlite_persister(store._view(), str(path), cfg))


class PostgresPersister(Persister):
    """Keeps a store in PostgreSQL, in TinyBase's JSON or tabular layout; auto-load follows
    every writer of those tables at once through ``LISTEN``/``NOTIFY``."""

    def get_url(self) -> str:
        """The database URL."""
        return self._raw.get_url()

    def _where(self) -> Optional[str]:
        return _redacted_url(self.get_url())


def create_postgres_persister(
    store: Store,
    url: str,
    table: str = "tinybase",
    mode: str = "json",
    config: Optional[Dict[str, Any]] = None,
    *,
    tables: Optional[Sequence[str]] = None,
) -> PostgresPersister:
    """A PostgreSQL persister for ``store`` in the database at ``url``
    (``postgres://user:password@host:port/dbname``), with the tables of TinyBase's
    ``createPostgresPersister``: TinyBase reads what it saves and the other way round.

    ``mode="json"``: the whole store as one JSON document in ``table`` (or TinyBase's
    ``{"storeTableName", "storeIdColumnName", "storeColumnName"}`` as ``config``).
    ``mode="tabular"`` (plain Stores): ``tables=[...]`` or TinyBase's tabular ``config``, as for
    :func:`create_sqlite_persister`. Raises :class:`TinystoreError` when the database cannot be
    reached."""
    cfg = _database_config("PostgreSQL", mode, config if config is not None else table, tables)
    return PostgresPersister(store, _ffi.create_postgres_persister(store._view(), str(url), cfg))


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


# ------------------------------------------------------ remote, and other CRDTs' documents


class RemotePersister(Persister):
    """Keeps a store at a URL, as TinyBase's ``RemotePersister``: loads ``GET`` the load URL
    (with ``If-None-Match`` once the server sent an ``ETag``), saves ``POST`` the JSON document
    to the save URL, auto-load polls with ``HEAD``."""

    def get_urls(self) -> List[str]:
        """``[load_url]``, or ``[load_url, save_url]``."""
        return list(self._raw.get_urls())

    def _where(self) -> Optional[str]:
        urls = [_redacted_url(u) for u in self.get_urls()]
        return urls[0] if len(urls) == 1 or urls[0] == urls[1] else f"{urls[0]} -> {urls[1]}"


def create_remote_persister(
    store: Store,
    load_url: str,
    save_url: Optional[str] = None,
    auto_load_interval_seconds: Optional[float] = None,
    *,
    timeout_seconds: Optional[float] = None,
) -> RemotePersister:
    """A persister loading ``store`` from ``load_url`` and, when ``save_url`` is given, saving
    it there (without one, :meth:`Persister.save` raises: read-only cloud data). Auto-load
    polls every ``auto_load_interval_seconds`` (TinyBase's default: 5); each request gives up
    after ``timeout_seconds`` (default 30). A server answering an error, a timeout, or a body
    that is not a store raises :class:`TinystoreError` and leaves the store as it was."""
    return RemotePersister(
        store,
        _ffi.create_remote_persister(
            store._view(),
            str(load_url),
            None if save_url is None else str(save_url),
            None if auto_load_interval_seconds is None else float(auto_load_interval_seconds),
            None if timeout_seconds is None else float(timeout_seconds),
        ),
    )


class _UpdateListener(_ffi.UpdateListener):
    def __init__(self, fn: Callable[[bytes], None]) -> None:
        self._fn = fn

    def on_update(self, update: bytes) -> None:
        try:
            self._fn(bytes(update))
        except BaseException as e:  # noqa: BLE001 - a listener's error is reported, not raised
            _report(e)


class _DocumentPersister(Persister):
    def apply_update(self, update: bytes) -> "_DocumentPersister":
        """Merges an update from another replica into the document (auto-load, when on, then
        loads it into the store)."""
        self._raw.apply_update(bytes(update))
        return self

    def encode_update(self) -> bytes:
        """The whole document as bytes another replica can merge."""
        return bytes(self._raw.encode_update())

    def add_update_listener(self, listener: Callable[[bytes], None]) -> int:
        """Calls ``listener(bytes)`` for each local update of the document (this persister's
        saves), to forward to other replicas; not for updates merged by :meth:`apply_update`.
        Returns an id for :meth:`del_update_listener`."""
        return self._raw.add_update_listener(_UpdateListener(listener))

    def del_update_listener(self, listener_id: int) -> bool:
        """Removes an update listener; whether it was there."""
        return self._raw.del_update_listener(listener_id)


class YjsPersister(_DocumentPersister):
    """Keeps a store in a Y.Doc (TinyBase's ``YjsPersister`` layout: the ``tinybase`` map with
    ``t`` and ``v``); updates are Yjs v1 updates (``Y.encodeStateAsUpdate``,
    ``Y.applyUpdate``)."""


class AutomergePersister(_DocumentPersister):
    """Keeps a store in an Automerge document (TinyBase's ``AutomergePersister`` layout);
    updates are Automerge's save format (``Automerge.save``, ``Automerge.loadIncremental``)."""


def create_yjs_persister(store: Store) -> YjsPersister:
    """A persister keeping ``store`` in a new Y.Doc of its own."""
    return YjsPersister(store, _ffi.create_yjs_persister(store._view()))


def create_automerge_persister(store: Store) -> AutomergePersister:
    """A persister keeping ``store`` in a new Automerge document of its own."""
    return AutomergePersister(store, _ffi.create_automerge_persister(store._view()))
