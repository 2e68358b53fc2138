"""Counting primitive applications, FLOPs and tape bytes: a machine-independent cost."""

from __future__ import annotations

import threading
from collections import Counter as _Tally
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from . import dispatch

__all__ = ["OpCounter", "count", "recomputing"]

# How many dt.count() blocks are open, in every thread together (under _OPEN_LOCK).
_open = 0
_OPEN_LOCK = threading.Lock()


def _held(values: tuple) -> list:
    """The arrays ``values`` keep alive: a traced value of an outer transformation (a tape
    saves those when transformations nest) holds its value and, in forward mode, its tangent."""
    out, todo = [], list(values)
    while todo:
        v = todo.pop()
        if isinstance(v, dispatch.Tracer):
            todo.append(v.value)  # type: ignore[attr-defined]
            todo.append(getattr(v, "tangent", None))
        else:
            out.append(v)
    return out


class OpCounter:
    """Totals gathered inside :func:`count`.

    Attributes:
        n_ops: primitive applications evaluated (each NumPy-level evaluation once).
        flops: floating-point operations, from each primitive's cost model.
        by_name: applications per primitive name.
        tape_bytes: bytes of the distinct values saved on tapes for the backward pass
            (and of the snapshots ``checkpoint_loop`` stores)
            (an array saved by several entries counts once; shapes count nothing).
        tape_entries: operations recorded on tapes.
        n_recomputed: the part of ``n_ops`` that recomputed values a checkpoint dropped
            (``dt.checkpoint``, ``dt.checkpoint_loop``), made during the backward pass.
        recomputed_by_name: that part per primitive name.
    """

    __slots__ = ("n_ops", "flops", "by_name", "tape_bytes", "tape_entries", "n_recomputed",
                 "recomputed_by_name", "_parent", "_seen")

    def __init__(self, parent: OpCounter | None = None) -> None:
        self.n_ops = 0
        self.flops = 0
        self.by_name: _Tally[str] = _Tally()
        self.tape_bytes = 0
        self.tape_entries = 0
        self.n_recomputed = 0
        self.recomputed_by_name: _Tally[str] = _Tally()
        self._parent = parent
        self._seen: dict[int, Any] = {}  # id -> array: an array saved twice is counted once

    def record(self, prim: Any, ans: Any, args: tuple, params: dict) -> None:
        flops = int(prim.flops(ans, *args, **params))
        recomputed = dispatch.this_thread.recompute_depth > 0
        c: OpCounter | None = self
        while c is not None:
            c.n_ops += 1
            c.flops += flops
            c.by_name[prim.name] += 1
            if recomputed:
                c.n_recomputed += 1
                c.recomputed_by_name[prim.name] += 1
            c = c._parent

    def record_saved(self, values: tuple, entry: bool = True) -> None:
        """Count the bytes of ``values`` saved by one tape entry (each array once); with
        ``entry=False`` they are kept for the backward pass some other way (a snapshot)."""
        c: OpCounter | None = self
        while c is not None:
            c.tape_entries += entry
            for v in _held(values):
                if v is None or id(v) in c._seen or not hasattr(v, "nbytes") and type(v) is not float:
                    continue
                c._seen[id(v)] = v
                c.tape_bytes += int(getattr(v, "nbytes", 8))
            c = c._parent

    def as_dict(self) -> dict[str, Any]:
        """The totals as a plain dict."""
        return {"n_ops": self.n_ops, "flops": self.flops, "tape_bytes": self.tape_bytes,
                "tape_entries": self.tape_entries, "by_name": dict(self.by_name),
                "n_recomputed": self.n_recomputed,
                "recomputed_by_name": dict(self.recomputed_by_name)}

    def __repr__(self) -> str:
        return (f"OpCounter(n_ops={self.n_ops}, flops={self.flops}, "
                f"tape_bytes={self.tape_bytes}, tape_entries={self.tape_entries}, "
                f"n_recomputed={self.n_recomputed})")


@contextmanager
def count() -> Iterator[OpCounter]:
    """Count every primitive application inside the block, in this thread only (other
    threads' operations are not counted, whether they count or not).

    >>> import dualtape as dt, dualtape.numpy as dnp
    >>> with dt.count() as c:
    ...     _ = dt.grad(lambda x: dnp.sum(dnp.sin(x)))(1.0)
    >>> c.by_name["sin"], c.by_name["cos"]
    (1, 1)
    """
    here = dispatch.this_thread
    previous = here.counter
    counter = OpCounter(previous)
    here.counter = counter
    _opened(1)
    try:
        yield counter
    finally:
        here.counter = previous
        _opened(-1)


def _opened(k: int) -> None:
    # Route records to the threads' counters while any count is open, else keep the fast paths.
    global _open
    with _OPEN_LOCK:
        _open += k
        dispatch.counting = dispatch.ROUTER if _open else None


@contextmanager
def recomputing() -> Iterator[None]:
    """Mark the primitives applied inside the block as recomputation (see ``n_recomputed``)."""
    here = dispatch.this_thread
    here.recompute_depth += 1
    try:
        yield
    finally:
        here.recompute_depth -= 1
