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


__all__ = [
    "TinystoreError",
    "Status",
    "ConnectionStatus",
    "Store",
    "MergeableStore",
    "Persister",
    "SqlitePersister",
    "PostgresPersister",
    "FilePersister",
    "CustomPersister",
    "RemotePersister",
    "YjsPersister",
    "AutomergePersister",
    "Synchronizer",
    "CustomSynchronizer",
    "WsSynchronizer",
    "LocalBus",
    "WsServer",
    "create_store",
    "create_mergeable_store",
    "create_sqlite_persister",
    "create_postgres_persister",
    "create_file_persister",
    "create_custom_persister",
    "create_remote_persister",
    "create_yjs_persister",
    "create_automerge_persister",
    "create_ws_synchronizer",
    "create_ws_synchronizer_async",
    "create_custom_synchronizer",
    "create_local_synchronizer",
    "create_ws_server",
    "create_ws_server_async",
    "Indexes",
    "Relationships",
    "Metrics",
    "Checkpoints",
    "Queries",
    "QueryBuilder",
    "As",
    "create_indexes",
    "create_relationships",
    "create_metrics",
    "create_checkpoints",
    "create_queries",
    "set_listener_error_handler",
    "library_version",
]

from ._common import (  # noqa: F401
    Cell,
    ConnectionStatus,
    Row,
    Status,
    Table,
    Tables,
    TinystoreError,
    Values,
    library_version,
    set_listener_error_handler,
)
from ._store import (  # noqa: F401
    MergeableStore,
    Store,
    create_mergeable_store,
    create_store,
)
from ._persist import (  # noqa: F401
    CustomPersister,
    FilePersister,
    Persister,
    SqlitePersister,
    PostgresPersister,
    create_custom_persister,
    create_file_persister,
    create_sqlite_persister,
    create_postgres_persister,
    RemotePersister,
    YjsPersister,
    AutomergePersister,
    create_remote_persister,
    create_yjs_persister,
    create_automerge_persister,
)
from ._sync import (  # noqa: F401
    CustomSynchronizer,
    LocalBus,
    Synchronizer,
    WsSynchronizer,
    create_custom_synchronizer,
    create_local_synchronizer,
    create_ws_synchronizer,
    create_ws_synchronizer_async,
)
from ._server import (  # noqa: F401
    WsServer,
    create_ws_server,
    create_ws_server_async,
)

from ._views import (  # noqa: F401
    As,
    Checkpoints,
    Indexes,
    Metrics,
    Queries,
    QueryBuilder,
    Relationships,
    create_checkpoints,
    create_indexes,
    create_metrics,
    create_queries,
    create_relationships,
)

#: The version of libtinystore these bindings load (the package's own version).
__version__: str = library_version()

# The public names live in private modules (one per area); they present themselves as
# members of the package, as before the split (reprs, docs, the stub generator).
for _name in __all__:
    _obj = globals()[_name]
    if getattr(_obj, "__module__", "").startswith("tinystore._"):
        _obj.__module__ = "tinystore"
del _name, _obj
