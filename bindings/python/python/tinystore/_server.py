"""The WebSocket sync server."""

from __future__ import annotations

import json as _json
import sys as _sys
import threading as _threading
import traceback as _traceback
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from . import tinystore as _ffi

from ._common import (  # noqa: F401
    TinystoreError,
    _report,
)
from ._store import (  # noqa: F401
    MergeableStore,
)
from ._persist import (  # noqa: F401
    _interval_ms,
)


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

    def __repr__(self) -> str:
        try:
            stats = self.get_stats()
            return f"<WsServer port {self.get_port()}, {stats['paths']} rooms, {stats['clients']} clients>"
        except Exception:  # noqa: BLE001 - a repr must not raise
            return "<WsServer stopped>"

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
