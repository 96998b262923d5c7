"""Synchronizers: WebSocket, custom and local."""

from __future__ import annotations

import json as _json
import sys as _sys
import threading as _threading
import traceback as _traceback
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from . import tinystore as _ffi

from ._common import (  # noqa: F401
    ConnectionStatus,
    Status,
    TinystoreError,
    _StatusListener,
    _content_json,
    _error_listener,
    _handle_repr,
    _redacted_url,
    _report,
)
from ._store import (  # noqa: F401
    MergeableStore,
)
from ._persist import (  # noqa: F401
    _interval_ms,
)


# ------------------------------------------------------------------------------ sync


class Synchronizer:
    """Keeps a :class:`MergeableStore` in sync with peers. Usable as a context manager
    (``destroy`` on exit)."""

    def __init__(self, store: MergeableStore, raw: Any) -> None:
        self._store, self._raw = store, raw

    def _where(self) -> Optional[str]:
        """What this synchronizer syncs over, for its repr."""
        return None

    def __repr__(self) -> str:
        return _handle_repr(self)

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

    def _where(self) -> Optional[str]:
        return f"{_redacted_url(self.get_url())} {self.get_connection_status().name.lower()}"


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
    fallback_urls: Optional[List[str]] = None,
) -> "_ffi.WsSynchronizerOptions":
    return _ffi.WsSynchronizerOptions(
        channel=channel,
        headers=headers,
        reconnect=reconnect,
        connect_timeout_ms=_interval_ms(connect_timeout),
        request_timeout_ms=_interval_ms(request_timeout),
        fragment_size=fragment_size,
        fallback_urls=None if fallback_urls is None else list(fallback_urls),
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
    fallback_urls: Optional[List[str]] = None,
) -> WsSynchronizer:
    """Connects ``store`` to the sync server at ``url`` (``ws://host:port/room``), blocking
    until the socket is open; call :meth:`Synchronizer.start_sync` to sync. Raises
    ``TinystoreError.Sync`` if it cannot connect. Timeouts are in seconds.
    ``fallback_urls``: more servers of the same rooms (e.g. several ``tinystore serve`` on
    one PostgreSQL database), tried in turn when a connection cannot be opened or drops."""
    options = _ws_options(
        channel, headers, reconnect, connect_timeout, request_timeout, fragment_size, fallback_urls
    )
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
        kwargs.pop("fallback_urls", None),
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
