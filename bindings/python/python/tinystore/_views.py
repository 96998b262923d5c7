"""Derived views over a store: Indexes, Relationships, Metrics, Queries (TinyQL) and
Checkpoints, with TinyBase's methods, listener arguments and definition forms (a cell id or
a ``(get_cell, row_id)`` function).

A definition function that raises makes the write that ran it (or ``set_*_definition``) raise
``TinystoreError.Callback``; the store and the views stay consistent.
"""

from __future__ import annotations

import json as _json
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

from . import tinystore as _ffi
from ._common import Cell, Row, Table, TinystoreError, _decode_row, _decode_table, _from_cell, _ids, _report, _to_cell



def _raw_store(store: Any) -> Any:
    return getattr(store, "_store_view", None) or store._raw


def _fail(e: BaseException) -> TinystoreError:
    if isinstance(e, TinystoreError):
        return e
    return TinystoreError.Callback(f"{type(e).__name__}: {e}")


def _getter(g: "_ffi.CellGetter") -> Callable[..., Cell]:
    def get_cell(*args: Any) -> Cell:
        if len(args) == 1:
            return _from_cell(g.get(args[0]))
        if len(args) == 2:
            return _from_cell(g.get_from(args[0], args[1]))
        if len(args) == 3 and args[0] is True:
            return _from_cell(g.get_from_query(args[1], args[2]))
        raise TypeError("get_cell(cell_id), get_cell(joined_table_id, cell_id) or get_cell(True, query_id, cell_id)")

    return get_cell


def _cmp(n: Any) -> float:
    return float(n)


class _Fn:
    """Adapts a Python callable to one of the foreign function traits; an exception becomes
    ``TinystoreError.Callback`` (the writer gets it)."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self._fn = fn

    def _call(self, *args: Any) -> Any:
        try:
            return self._fn(*args)
        except BaseException as e:  # noqa: BLE001 - carried to the writer
            raise _fail(e) from None


class _SliceIds(_Fn, _ffi.SliceIdsFunction):
    def call(self, get_cell: Any, row_id: str) -> List[str]:
        r = self._call(_getter(get_cell), row_id)
        if r is None:
            return []
        return [str(x) for x in r] if isinstance(r, (list, tuple)) else [str(r)]


class _CellFn(_Fn, _ffi.CellFunction):
    def call(self, get_cell: Any, row_id: str) -> Optional["_ffi.CellValue"]:
        r = self._call(_getter(get_cell), row_id)
        return None if r is None else _to_cell(r)


class _RowIdFn(_Fn, _ffi.RowIdFunction):
    def call(self, get_cell: Any, row_id: str) -> Optional[str]:
        r = self._call(_getter(get_cell), row_id)
        return None if r is None else str(r)


class _JoinFn(_Fn, _ffi.JoinFunction):
    def call(self, get_cell: Any, row_id: str) -> Optional[str]:
        r = self._call(_getter(get_cell), row_id)
        return None if r is None else str(r)


class _IdSorter(_Fn, _ffi.IdSorter):
    def compare(self, a: str, b: str) -> float:
        return _cmp(self._call(a, b))


class _KeySorter(_Fn, _ffi.SortKeySorter):
    def compare(self, a: Any, b: Any, slice_id: str) -> float:
        return _cmp(self._call(_from_cell(a), _from_cell(b), slice_id))


class _SelectFn(_Fn, _ffi.SelectFunction):
    def call(self, get_cell: Any, row_id: str) -> Optional["_ffi.CellValue"]:
        r = self._call(_getter(get_cell), row_id)
        return None if r is None else _to_cell(r)


class _Condition(_Fn, _ffi.ConditionFunction):
    def call(self, get_cell: Any) -> bool:
        return bool(self._call(_getter(get_cell)))


class _Mapper(_Fn, _ffi.IdMapper):
    def map(self, cell_id: str) -> str:
        return str(self._call(cell_id))


class _Aggregate:
    def __init__(self, aggregate: Callable[..., Any], add: Optional[Callable[..., Any]],
                 remove: Optional[Callable[..., Any]], replace: Optional[Callable[..., Any]],
                 cells: bool) -> None:
        self._fns = (_Fn(aggregate), _Fn(add) if add else None, _Fn(remove) if remove else None,
                     _Fn(replace) if replace else None)
        self._cells = cells

    def hooks(self) -> "_ffi.AggregateHooks":
        return _ffi.AggregateHooks(add=self._fns[1] is not None, remove=self._fns[2] is not None,
                                   replace=self._fns[3] is not None)

    def _in(self, v: Any) -> Any:
        return _from_cell(v) if self._cells else v

    def _out(self, v: Any) -> Any:
        if v is None:
            return None
        return _to_cell(v) if self._cells else float(v)

    def aggregate(self, values: List[Any], length: int) -> Any:
        return self._out(self._fns[0]._call([self._in(v) for v in values], length))

    def add(self, current: Any, add: Any, length: int) -> Any:
        return self._out(self._fns[1]._call(self._in(current), self._in(add), length))  # type: ignore[union-attr]

    def remove(self, current: Any, remove: Any, length: int) -> Any:
        return self._out(self._fns[2]._call(self._in(current), self._in(remove), length))  # type: ignore[union-attr]

    def replace(self, current: Any, add: Any, remove: Any, length: int) -> Any:
        return self._out(self._fns[3]._call(self._in(current), self._in(add), self._in(remove), length))  # type: ignore[union-attr]


class _MetricAggregate(_Aggregate, _ffi.MetricAggregate):
    pass


class _QueryAggregate(_Aggregate, _ffi.QueryAggregate):
    pass


class _ViewListener(_ffi.ViewListener):
    def __init__(self, view: Any, fn: Callable[..., Any], convert: Callable[[Any], Tuple[Any, ...]]) -> None:
        self._view, self._fn, self._convert = view, fn, convert

    def on_event(self, event: Any) -> None:
        try:
            self._fn(self._view, *self._convert(event))
        except BaseException as e:  # noqa: BLE001 - reported, never raised into the store
            _report(e)


def _no_args(_: Any) -> Tuple[Any, ...]:
    return ()


def _split(value: Any) -> Tuple[Optional[str], Optional[Callable[..., Any]]]:
    if value is None:
        return None, None
    if callable(value):
        return None, value
    return str(value), None


def _count(n: int, what: str) -> int:
    if n < 0:
        raise TinystoreError.InvalidValue(f"{what} must not be negative")
    return n


class _View:
    _raw: Any

    def __init__(self, store: Any, raw: Any) -> None:
        self._store, self._raw = store, raw

    def get_store(self) -> Any:
        """The store this object follows."""
        return self._store

    def del_listener(self, listener_id: int) -> Any:
        """Removes a listener."""
        self._raw.del_listener(listener_id)
        return self

    def get_listener_stats(self) -> Dict[str, int]:
        """Listener counts per kind."""
        return dict(self._raw.get_listener_stats())

    def destroy(self) -> None:
        """Removes every definition and stops following the store."""
        self._raw.shutdown()

    def _listen(self, adder: Callable[..., int], fn: Callable[..., Any], convert: Callable[[Any], Tuple[Any, ...]], *args: Any) -> int:
        return adder(*args, _ViewListener(self, fn, convert))


# ------------------------------------------------------------------------------ Indexes


class Indexes(_View):
    """Slices of a table's rows (TinyBase's Indexes)."""

    def set_index_definition(self, index_id: str, table_id: str, get_slice_id_or_ids: Union[str, Callable[..., Any], None] = None,
                             get_sort_key: Union[str, Callable[..., Any], None] = None,
                             slice_id_sorter: Optional[Callable[[str, str], float]] = None,
                             row_id_sorter: Optional[Callable[[Cell, Cell, str], float]] = None) -> "Indexes":
        """Defines an index: slices by a cell id or a ``(get_cell, row_id)`` function returning
        a slice id or a list of them (``None``: one slice ``""``), rows sorted by a cell id or
        function, with optional sorters."""
        slice_cell, slice_fn = _split(get_slice_id_or_ids)
        sort_cell, sort_fn = _split(get_sort_key)
        self._raw.set_index_definition(
            index_id, table_id, slice_cell, _SliceIds(slice_fn) if slice_fn else None,
            sort_cell, _CellFn(sort_fn) if sort_fn else None,
            _IdSorter(slice_id_sorter) if slice_id_sorter else None,
            _KeySorter(row_id_sorter) if row_id_sorter else None)
        return self

    def del_index_definition(self, index_id: str) -> "Indexes":
        """Removes an index definition."""
        self._raw.del_index_definition(index_id)
        return self

    def get_index_ids(self) -> List[str]:
        """The index ids."""
        return self._raw.get_index_ids()

    def for_each_index(self, fn: Callable[[str, Callable[..., None]], Any]) -> None:
        """Calls ``fn(index_id, for_each_slice)`` for each index."""
        for i in self.get_index_ids():
            fn(i, lambda f, i=i: self.for_each_slice(i, f))

    def for_each_slice(self, index_id: str, fn: Callable[[str, Callable[..., None]], Any]) -> None:
        """Calls ``fn(slice_id, for_each_row)`` for each slice of an index."""
        for s in self.get_slice_ids(index_id):
            rows = self.get_slice_row_ids(index_id, s)
            fn(s, lambda f, rows=rows: [f(r) for r in rows] and None)

    def has_index(self, index_id: str) -> bool:
        """Whether an index is defined."""
        return self._raw.has_index(index_id)

    def has_slice(self, index_id: str, slice_id: str) -> bool:
        """Whether a slice exists."""
        return self._raw.has_slice(index_id, slice_id)

    def get_table_id(self, index_id: str) -> Optional[str]:
        """The indexed table."""
        return self._raw.get_table_id(index_id)

    def get_slice_ids(self, index_id: str) -> List[str]:
        """The slice ids of an index."""
        return self._raw.get_slice_ids(index_id)

    def get_slice_row_ids(self, index_id: str, slice_id: str) -> List[str]:
        """The row ids of a slice."""
        return self._raw.get_slice_row_ids(index_id, slice_id)

    def add_index_ids_listener(self, fn: Callable[..., Any]) -> int:
        """``fn(indexes)`` when indexes are added or removed."""
        return self._listen(self._raw.add_index_ids_listener, fn, _no_args)

    def add_has_index_listener(self, index_id: Optional[str], fn: Callable[..., Any]) -> int:
        """``fn(indexes, index_id, has_index)``."""
        return self._listen(self._raw.add_has_index_listener, fn, lambda e: (e.index_id, e.has), index_id)

    def add_slice_ids_listener(self, index_id: Optional[str], fn: Callable[..., Any]) -> int:
        """``fn(indexes, index_id)`` when the slice ids change."""
        return self._listen(self._raw.add_slice_ids_listener, fn, lambda e: (e.index_id,), index_id)

    def add_has_slice_listener(self, index_id: Optional[str], slice_id: Optional[str], fn: Callable[..., Any]) -> int:
        """``fn(indexes, index_id, slice_id, has_slice)``."""
        return self._listen(self._raw.add_has_slice_listener, fn, lambda e: (e.index_id, e.slice_id, e.has), index_id, slice_id)

    def add_slice_row_ids_listener(self, index_id: Optional[str], slice_id: Optional[str], fn: Callable[..., Any]) -> int:
        """``fn(indexes, index_id, slice_id)`` when a slice's row ids change."""
        return self._listen(self._raw.add_slice_row_ids_listener, fn, lambda e: (e.index_id, e.slice_id), index_id, slice_id)


def create_indexes(store: Any) -> Indexes:
    """Creates an Indexes object over a Store or MergeableStore."""
    return Indexes(store, _ffi.create_indexes(_raw_store(store)))


# ------------------------------------------------------------------------------ Relationships


class Relationships(_View):
    """Links from a local table's rows to a remote table's rows (TinyBase's Relationships)."""

    def set_relationship_definition(self, relationship_id: str, local_table_id: str, remote_table_id: str,
                                    get_remote_row_id: Union[str, Callable[..., Any]]) -> "Relationships":
        """Defines a relationship by a cell id or a ``(get_cell, row_id)`` function."""
        cell, fn = _split(get_remote_row_id)
        self._raw.set_relationship_definition(relationship_id, local_table_id, remote_table_id, cell,
                                              _RowIdFn(fn) if fn else None)
        return self

    def del_relationship_definition(self, relationship_id: str) -> "Relationships":
        """Removes a relationship definition."""
        self._raw.del_relationship_definition(relationship_id)
        return self

    def get_relationship_ids(self) -> List[str]:
        """The relationship ids."""
        return self._raw.get_relationship_ids()

    def for_each_relationship(self, fn: Callable[[str], Any]) -> None:
        """Calls ``fn(relationship_id)`` for each relationship."""
        for r in self.get_relationship_ids():
            fn(r)

    def has_relationship(self, relationship_id: str) -> bool:
        """Whether a relationship is defined."""
        return self._raw.has_relationship(relationship_id)

    def get_local_table_id(self, relationship_id: str) -> Optional[str]:
        """The local table."""
        return self._raw.get_local_table_id(relationship_id)

    def get_remote_table_id(self, relationship_id: str) -> Optional[str]:
        """The remote table."""
        return self._raw.get_remote_table_id(relationship_id)

    def get_remote_row_id(self, relationship_id: str, local_row_id: str) -> Optional[str]:
        """The remote row a local row links to."""
        return self._raw.get_remote_row_id(relationship_id, local_row_id)

    def get_local_row_ids(self, relationship_id: str, remote_row_id: str) -> List[str]:
        """The local rows linking to a remote row."""
        return self._raw.get_local_row_ids(relationship_id, remote_row_id)

    def get_linked_row_ids(self, relationship_id: str, first_row_id: str) -> List[str]:
        """The linked list of rows from ``first_row_id``."""
        return self._raw.get_linked_row_ids(relationship_id, first_row_id)

    def add_relationship_ids_listener(self, fn: Callable[..., Any]) -> int:
        """``fn(relationships)``."""
        return self._listen(self._raw.add_relationship_ids_listener, fn, _no_args)

    def add_remote_row_id_listener(self, relationship_id: Optional[str], local_row_id: Optional[str], fn: Callable[..., Any]) -> int:
        """``fn(relationships, relationship_id, local_row_id)``."""
        return self._listen(self._raw.add_remote_row_id_listener, fn, lambda e: (e.relationship_id, e.local_row_id),
                            relationship_id, local_row_id)

    def add_local_row_ids_listener(self, relationship_id: Optional[str], remote_row_id: Optional[str], fn: Callable[..., Any]) -> int:
        """``fn(relationships, relationship_id, remote_row_id)``."""
        return self._listen(self._raw.add_local_row_ids_listener, fn, lambda e: (e.relationship_id, e.remote_row_id),
                            relationship_id, remote_row_id)

    def add_linked_row_ids_listener(self, relationship_id: str, first_row_id: str, fn: Callable[..., Any]) -> int:
        """``fn(relationships, relationship_id, first_row_id)``."""
        return self._listen(self._raw.add_linked_row_ids_listener, fn, lambda e: (e.relationship_id, e.first_row_id),
                            relationship_id, first_row_id)


def create_relationships(store: Any) -> Relationships:
    """Creates a Relationships object over a Store or MergeableStore."""
    return Relationships(store, _ffi.create_relationships(_raw_store(store)))


# ------------------------------------------------------------------------------ Metrics


class Metrics(_View):
    """Aggregates of a table's numbers (TinyBase's Metrics)."""

    def set_metric_definition(self, metric_id: str, table_id: str,
                              aggregate: Union[str, Callable[[List[float], int], Optional[float]], None] = None,
                              get_number: Union[str, Callable[..., Any], None] = None,
                              aggregate_add: Optional[Callable[[float, float, int], Optional[float]]] = None,
                              aggregate_remove: Optional[Callable[[float, float, int], Optional[float]]] = None,
                              aggregate_replace: Optional[Callable[[float, float, float, int], Optional[float]]] = None) -> "Metrics":
        """Defines a metric: ``aggregate`` is ``"sum"`` (default), ``"avg"``, ``"min"``, ``"max"``
        or a function ``(numbers, length)`` with optional incremental hooks; ``get_number`` a
        cell id or ``(get_cell, row_id)`` function (``None``: each row counts 1)."""
        custom = _MetricAggregate(aggregate, aggregate_add, aggregate_remove, aggregate_replace, False) if callable(aggregate) else None
        cell, fn = _split(get_number)
        self._raw.set_metric_definition(metric_id, table_id, None if custom else aggregate, custom, cell,
                                        _CellFn(fn) if fn else None)
        return self

    def del_metric_definition(self, metric_id: str) -> "Metrics":
        """Removes a metric definition."""
        self._raw.del_metric_definition(metric_id)
        return self

    def get_metric_ids(self) -> List[str]:
        """The metric ids."""
        return self._raw.get_metric_ids()

    def for_each_metric(self, fn: Callable[[str, float], Any]) -> None:
        """Calls ``fn(metric_id, metric)`` for each metric that has a value."""
        for m in self.get_metric_ids():
            v = self.get_metric(m)
            if v is not None:
                fn(m, v)

    def has_metric(self, metric_id: str) -> bool:
        """Whether a metric is defined."""
        return self._raw.has_metric(metric_id)

    def get_table_id(self, metric_id: str) -> Optional[str]:
        """The aggregated table."""
        return self._raw.get_table_id(metric_id)

    def get_metric(self, metric_id: str) -> Optional[float]:
        """The metric's value (``None``: no numbers)."""
        return self._raw.get_metric(metric_id)

    def add_metric_ids_listener(self, fn: Callable[..., Any]) -> int:
        """``fn(metrics)``."""
        return self._listen(self._raw.add_metric_ids_listener, fn, _no_args)

    def add_metric_listener(self, metric_id: Optional[str], fn: Callable[..., Any]) -> int:
        """``fn(metrics, metric_id, new_metric, old_metric)``."""
        return self._listen(self._raw.add_metric_listener, fn, lambda e: (e.metric_id, e.new_metric, e.old_metric), metric_id)


def create_metrics(store: Any) -> Metrics:
    """Creates a Metrics object over a Store or MergeableStore."""
    return Metrics(store, _ffi.create_metrics(_raw_store(store)))


# ------------------------------------------------------------------------------ Checkpoints


class Checkpoints(_View):
    """Undo and redo (TinyBase's Checkpoints)."""

    def add_checkpoint(self, label: str = "") -> str:
        """Records the changes since the last checkpoint; returns the new id."""
        return self._raw.add_checkpoint(label)

    def set_checkpoint(self, checkpoint_id: str, label: str) -> "Checkpoints":
        """Labels a checkpoint."""
        self._raw.set_checkpoint(checkpoint_id, label)
        return self

    def get_checkpoint_ids(self) -> Tuple[List[str], Optional[str], List[str]]:
        """``(backward, current | None, forward)``."""
        ids = self._raw.get_checkpoint_ids()
        return (list(ids.backward), ids.current, list(ids.forward))

    def for_each_checkpoint(self, fn: Callable[[str, str], Any]) -> None:
        """Calls ``fn(checkpoint_id, label)`` for each checkpoint."""
        backward, current, forward = self.get_checkpoint_ids()
        for c in backward + ([current] if current is not None else []) + forward:
            fn(c, self.get_checkpoint(c) or "")

    def has_checkpoint(self, checkpoint_id: str) -> bool:
        """Whether a checkpoint exists."""
        return self._raw.has_checkpoint(checkpoint_id)

    def get_checkpoint(self, checkpoint_id: str) -> Optional[str]:
        """A checkpoint's label."""
        return self._raw.get_checkpoint(checkpoint_id)

    def go_backward(self) -> "Checkpoints":
        """Undoes to the previous checkpoint."""
        self._raw.go_backward()
        return self

    def go_forward(self) -> "Checkpoints":
        """Redoes to the next checkpoint."""
        self._raw.go_forward()
        return self

    def go_to(self, checkpoint_id: str) -> "Checkpoints":
        """Goes to a checkpoint."""
        self._raw.go_to(checkpoint_id)
        return self

    def clear(self) -> "Checkpoints":
        """Forgets every checkpoint."""
        self._raw.clear()
        return self

    def clear_forward(self) -> "Checkpoints":
        """Forgets the checkpoints after the current one."""
        self._raw.clear_forward()
        return self

    def set_size(self, size: int) -> "Checkpoints":
        """How many checkpoints to keep."""
        self._raw.set_size(_count(size, "size"))
        return self

    def add_checkpoint_ids_listener(self, fn: Callable[..., Any]) -> int:
        """``fn(checkpoints)``."""
        return self._listen(self._raw.add_checkpoint_ids_listener, fn, _no_args)

    def add_checkpoint_listener(self, checkpoint_id: Optional[str], fn: Callable[..., Any]) -> int:
        """``fn(checkpoints, checkpoint_id)``."""
        return self._listen(self._raw.add_checkpoint_listener, fn, lambda e: (e.checkpoint_id,), checkpoint_id)


def create_checkpoints(store: Any) -> Checkpoints:
    """Creates a Checkpoints object over a Store or MergeableStore."""
    return Checkpoints(store, _ffi.create_checkpoints(_raw_store(store)))


# ------------------------------------------------------------------------------ Queries


class As:
    """What ``select``, ``join`` and ``group`` return: ``.as_(alias)`` names the clause."""

    def __init__(self, raw: Any) -> None:
        self._raw = raw

    def as_(self, alias: str) -> "As":
        """Names the selected cell, the join or the aggregate (TinyQL's ``.as()``)."""
        if self._raw is not None:
            self._raw.as_alias(alias)
        return self


class QueryBuilder:
    """TinyQL's builder, given to a query definition function."""

    def __init__(self, raw: Any) -> None:
        self._raw = raw

    def select(self, *args: Any) -> As:
        """``select(cell_id)``, ``select(joined_table_id, cell_id)``,
        ``select(True, joined_query_id, cell_id)`` or ``select(lambda get_table_cell, row_id: ...)``."""
        if len(args) == 1 and callable(args[0]):
            return As(self._raw.select_function(_SelectFn(args[0])))
        if len(args) == 1:
            return As(self._raw.select(args[0]))
        if len(args) == 2:
            return As(self._raw.select_from(args[0], args[1]))
        if len(args) == 3 and args[0] is True:
            return As(self._raw.select_from_query(args[1], args[2]))
        raise TinystoreError.InvalidValue("select: unexpected arguments")

    def select_all(self, joined_table_id: Optional[str] = None, prefix_or_mapper: Union[str, Callable[[str], str], None] = None) -> As:
        """``select_all()``, ``select_all(joined_table_id, prefix)`` or with a ``mapper(cell_id)``."""
        if callable(prefix_or_mapper):
            self._raw.select_all_mapped(joined_table_id, _Mapper(prefix_or_mapper))
        else:
            self._raw.select_all(joined_table_id, prefix_or_mapper or "")
        return As(None)

    def join(self, *args: Any) -> As:
        """``join(table_id, on)``, ``join(table_id, from_joined_table_id, on)``,
        ``join(True, query_id, on)`` or ``join(True, query_id, from, on)``; ``on`` is a cell id or
        a ``(get_cell, row_id)`` function."""
        query = bool(args) and args[0] is True
        rest = list(args[1:] if query else args)
        if len(rest) not in (2, 3):
            raise TinystoreError.InvalidValue("join: unexpected arguments")
        target, on = rest[0], rest[-1]
        from_ = rest[1] if len(rest) == 3 else None
        cell, fn = _split(on)
        adder = self._raw.join_query if query else self._raw.join
        return As(adder(target, from_, cell, _JoinFn(fn) if fn else None))

    def where(self, *args: Any) -> None:
        """``where(cell_id, equals)``, ``where(joined_table_id, cell_id, equals)``,
        ``where(True, joined_query_id, cell_id, equals)`` or ``where(lambda get_table_cell: ...)``."""
        if len(args) == 1 and callable(args[0]):
            self._raw.where_function(_Condition(args[0]))
        elif len(args) == 2:
            self._raw.where_equals(None, args[0], _to_cell(args[1]))
        elif len(args) == 3:
            self._raw.where_equals(args[0], args[1], _to_cell(args[2]))
        elif len(args) == 4 and args[0] is True:
            self._raw.where_query_equals(args[1], args[2], _to_cell(args[3]))
        else:
            raise TinystoreError.InvalidValue("where: unexpected arguments")

    def group(self, selected_cell_id: str, aggregate: Union[str, Callable[[List[Cell], int], Cell]],
              aggregate_add: Optional[Callable[[Cell, Cell, int], Cell]] = None,
              aggregate_remove: Optional[Callable[[Cell, Cell, int], Cell]] = None,
              aggregate_replace: Optional[Callable[[Cell, Cell, Cell, int], Cell]] = None) -> As:
        """``group(selected_cell_id, "count"|"sum"|"avg"|"min"|"max")`` or a function
        ``(cells, length)`` with optional incremental hooks."""
        if callable(aggregate):
            custom = _QueryAggregate(aggregate, aggregate_add, aggregate_remove, aggregate_replace, True)
            return As(self._raw.group_custom(selected_cell_id, custom))
        return As(self._raw.group(selected_cell_id, aggregate))

    def having(self, *args: Any) -> None:
        """``having(cell_id, equals)`` or ``having(lambda get_cell: ...)``."""
        if len(args) == 1 and callable(args[0]):
            self._raw.having_function(_Condition(args[0]))
        elif len(args) == 2:
            self._raw.having(args[0], _to_cell(args[1]))
        else:
            raise TinystoreError.InvalidValue("having: unexpected arguments")

    def param(self, param_id: str) -> Cell:
        """The query's current value of a param."""
        return _from_cell(self._raw.param(param_id))


class _Definition(_Fn, _ffi.QueryDefinition):
    def build(self, builder: Any) -> None:
        self._call(QueryBuilder(builder))


def _params(params: Optional[Row]) -> Dict[str, Any]:
    return {k: _to_cell(v) for k, v in (params or {}).items()}


class Queries(_View):
    """TinyQL queries (TinyBase's Queries); each result is a table named after its query."""

    def set_query_definition(self, query_id: str, table_id: str, build: Callable[[QueryBuilder], Any],
                             params: Optional[Row] = None, on_query: bool = False) -> "Queries":
        """Defines a query over a table (``on_query=True``: over the query ``table_id``'s
        result) with a ``build(b)`` function and initial param values."""
        self._raw.set_query_definition(query_id, table_id, _Definition(build), _params(params), on_query)
        return self

    def del_query_definition(self, query_id: str) -> "Queries":
        """Removes a query definition."""
        self._raw.del_query_definition(query_id)
        return self

    def get_query_ids(self) -> List[str]:
        """The query ids."""
        return self._raw.get_query_ids()

    def for_each_query(self, fn: Callable[[str], Any]) -> None:
        """Calls ``fn(query_id)`` for each query."""
        for q in self.get_query_ids():
            fn(q)

    def has_query(self, query_id: str) -> bool:
        """Whether a query is defined."""
        return self._raw.has_query(query_id)

    def get_table_id(self, query_id: str) -> Optional[str]:
        """The queried table (or query)."""
        return self._raw.get_table_id(query_id)

    def set_param_values(self, query_id: str, params: Row) -> "Queries":
        """Replaces a query's param values (re-running it)."""
        self._raw.set_param_values(query_id, _params(params))
        return self

    def set_param_value(self, query_id: str, param_id: str, value: Cell) -> "Queries":
        """Sets one param value (re-running the query)."""
        self._raw.set_param_value(query_id, param_id, _to_cell(value))
        return self

    def get_param_values(self, query_id: str) -> Row:
        """A query's param values."""
        return _decode_row(_json.loads(self._raw.get_param_values_json(query_id)))

    def get_param_value(self, query_id: str, param_id: str) -> Cell:
        """One param value."""
        return _from_cell(self._raw.get_param_value(query_id, param_id))

    def get_result_table(self, query_id: str) -> Table:
        """A query's result table."""
        return _decode_table(_json.loads(self._raw.get_result_table_json(query_id)))

    def has_result_table(self, query_id: str) -> bool:
        """Whether the result has any row."""
        return self._raw.has_result_table(query_id)

    def get_result_table_cell_ids(self, query_id: str) -> List[str]:
        """The cell ids used in the result."""
        return self._raw.get_result_table_cell_ids(query_id)

    def get_result_row_count(self, query_id: str) -> int:
        """How many rows the result has."""
        return self._raw.get_result_row_count(query_id)

    def get_result_row_ids(self, query_id: str) -> List[str]:
        """The result row ids."""
        return self._raw.get_result_row_ids(query_id)

    def get_result_sorted_row_ids(self, query_id: str, cell_id: Optional[str] = None, descending: bool = False,
                                  offset: int = 0, limit: Optional[int] = None) -> List[str]:
        """The result row ids sorted by a cell (``None``: by id), sliced."""
        lim = None if limit is None else _count(limit, "limit")
        return self._raw.get_result_sorted_row_ids(query_id, cell_id, descending, _count(offset, "offset"), lim)

    def get_result_row(self, query_id: str, row_id: str) -> Row:
        """One result row."""
        return _decode_row(_json.loads(self._raw.get_result_row_json(query_id, row_id)))

    def has_result_row(self, query_id: str, row_id: str) -> bool:
        """Whether a result row exists."""
        return self._raw.has_result_row(query_id, row_id)

    def get_result_cell_ids(self, query_id: str, row_id: str) -> List[str]:
        """A result row's cell ids."""
        return self._raw.get_result_cell_ids(query_id, row_id)

    def get_result_cell(self, query_id: str, row_id: str, cell_id: str) -> Cell:
        """One result cell."""
        return _from_cell(self._raw.get_result_cell(query_id, row_id, cell_id))

    def has_result_cell(self, query_id: str, row_id: str, cell_id: str) -> bool:
        """Whether a result cell exists."""
        return self._raw.has_result_cell(query_id, row_id, cell_id)

    def for_each_result_table(self, fn: Callable[[str], Any]) -> None:
        """Calls ``fn(query_id)`` for each query with a non-empty result."""
        for q in self.get_query_ids():
            if self.has_result_table(q):
                fn(q)

    def for_each_result_row(self, query_id: str, fn: Callable[[str], Any]) -> None:
        """Calls ``fn(row_id)`` for each result row."""
        for r in self.get_result_row_ids(query_id):
            fn(r)

    def for_each_result_cell(self, query_id: str, row_id: str, fn: Callable[[str, Cell], Any]) -> None:
        """Calls ``fn(cell_id, cell)`` for each cell of a result row."""
        for c, v in self.get_result_row(query_id, row_id).items():
            fn(c, v)

    def add_query_ids_listener(self, fn: Callable[..., Any]) -> int:
        """``fn(queries)``."""
        return self._listen(self._raw.add_query_ids_listener, fn, _no_args)

    def add_param_values_listener(self, query_id: Optional[str], fn: Callable[..., Any]) -> int:
        """``fn(queries, query_id, param_values)``."""
        return self._listen(self._raw.add_param_values_listener, fn,
                            lambda e: (e.query_id, {k: _from_cell(v) for k, v in e.param_values.items()}), query_id)

    def add_param_value_listener(self, query_id: Optional[str], param_id: Optional[str], fn: Callable[..., Any]) -> int:
        """``fn(queries, query_id, param_id, value)``."""
        return self._listen(self._raw.add_param_value_listener, fn, lambda e: (e.query_id, e.param_id, _from_cell(e.value)),
                            query_id, param_id)

    def add_result_table_listener(self, query_id: Optional[str], fn: Callable[..., Any]) -> int:
        """``fn(queries, query_id)``."""
        return self._listen(self._raw.add_result_table_listener, fn, lambda e: (e.query_id,), query_id)

    def add_result_table_cell_ids_listener(self, query_id: Optional[str], fn: Callable[..., Any]) -> int:
        """``fn(queries, query_id, {cell_id: 1|-1})``."""
        return self._listen(self._raw.add_result_table_cell_ids_listener, fn, lambda e: (e.query_id, _ids(e.changes)), query_id)

    def add_result_row_count_listener(self, query_id: Optional[str], fn: Callable[..., Any]) -> int:
        """``fn(queries, query_id, count)``."""
        return self._listen(self._raw.add_result_row_count_listener, fn, lambda e: (e.query_id, e.count), query_id)

    def add_result_row_ids_listener(self, query_id: Optional[str], fn: Callable[..., Any]) -> int:
        """``fn(queries, query_id, {row_id: 1|-1})``."""
        return self._listen(self._raw.add_result_row_ids_listener, fn, lambda e: (e.query_id, _ids(e.changes)), query_id)

    def add_result_sorted_row_ids_listener(self, query_id: Optional[str], cell_id: Optional[str], descending: bool,
                                           offset: int, limit: Optional[int], fn: Callable[..., Any]) -> int:
        """``fn(queries, query_id, cell_id, descending, offset, limit, sorted_row_ids)``."""
        lim = None if limit is None else _count(limit, "limit")
        return self._listen(self._raw.add_result_sorted_row_ids_listener, fn,
                            lambda e: (e.query_id, e.cell_id, e.descending, e.offset, e.limit, list(e.sorted_row_ids)),
                            query_id, cell_id, descending, _count(offset, "offset"), lim)

    def add_result_row_listener(self, query_id: Optional[str], row_id: Optional[str], fn: Callable[..., Any]) -> int:
        """``fn(queries, query_id, row_id)``."""
        return self._listen(self._raw.add_result_row_listener, fn, lambda e: (e.query_id, e.row_id), query_id, row_id)

    def add_result_cell_ids_listener(self, query_id: Optional[str], row_id: Optional[str], fn: Callable[..., Any]) -> int:
        """``fn(queries, query_id, row_id, {cell_id: 1|-1})``."""
        return self._listen(self._raw.add_result_cell_ids_listener, fn, lambda e: (e.query_id, e.row_id, _ids(e.changes)),
                            query_id, row_id)

    def add_result_cell_listener(self, query_id: Optional[str], row_id: Optional[str], cell_id: Optional[str], fn: Callable[..., Any]) -> int:
        """``fn(queries, query_id, row_id, cell_id, new_cell, old_cell)``."""
        return self._listen(self._raw.add_result_cell_listener, fn,
                            lambda e: (e.query_id, e.row_id, e.cell_id, _from_cell(e.new_cell), _from_cell(e.old_cell)),
                            query_id, row_id, cell_id)


def create_queries(store: Any) -> Queries:
    """Creates a Queries object over a Store or MergeableStore."""
    return Queries(store, _ffi.create_queries(_raw_store(store)))
