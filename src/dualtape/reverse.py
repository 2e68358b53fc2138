"""Reverse mode: a tape in execution order, walked backwards by one loop.

Each operation on a :class:`TapeValue` appends one entry to its :class:`Tape`:
the primitive, its parameters, which arguments came from the tape, and only the
values its VJP rule reads (``Primitive.saves``).  Because entries are appended
in execution order, the reverse of the list is already a valid order for the
backward pass: no topological sort, no recursion, any depth.
"""

from __future__ import annotations

import gc
from typing import Any, NamedTuple

import numpy as np

from . import dispatch
from .arrayops import ArrayOps
from .dispatch import LEAKED, NO_PARAMS, PLAIN_TYPES, Tracer, UnexpectedTracerError, evaluate1, evaluate2
from .ops import Meta, add, shape_of, unbroadcast
from .ops.onehot import OneHot, dense
from .registry import Primitive, passes_through

__all__ = ["Entry", "Tape", "TapeValue", "UnexpectedTracerError", "backward", "collector_paused"]

_FLOAT_META = Meta(0.0)  # every float64 scalar's record: shape () and dtype float64
_FLOATS = frozenset({float, np.float64})


class Entry(NamedTuple):
    """One recorded operation, read by name (:meth:`Tape.entry`).

    The tape stores each entry as a plain tuple in this field order: building a
    NamedTuple per operation measured 8-10% slower on scalar code (workload 1), so
    the backward loop unpacks the tuple in ``Entry._fields`` order and every other
    reader goes through :meth:`Tape.entry`.

    ``parents`` holds one tape index per argument position, ``None`` where the argument is
    not on this tape or has no VJP rule (one flat tuple: no pair to build per argument, a
    twenty-fifth of scalar code's time); ``args`` and ``ans`` hold only what the VJP rules read
    (``Primitive.saves``: the values, :class:`~dualtape.ops.Meta` shapes, or ``None``).
    """

    prim: Primitive
    params: Any
    parents: tuple
    args: tuple
    ans: Any


class Tape:
    """The record of one reverse-mode level: a list of entries in execution order.

    ``entries[i]`` is ``None`` for an input (a leaf) or the tuple of an :class:`Entry`;
    :meth:`entry` reads it by name.
    """

    __slots__ = ("level", "entries", "values")

    def __init__(self, level: int, keep_values: bool = False) -> None:
        self.level = level
        self.entries: list[tuple | None] = []
        # Every entry's value, for drawing and teaching; off by default to save memory.
        self.values: list[Any] | None = [] if keep_values else None

    def __len__(self) -> int:
        return len(self.entries)

    def entry(self, i: int) -> Entry | None:
        """Entry ``i`` with named fields (``None`` for an input)."""
        e = self.entries[i]
        return None if e is None else Entry._make(e)

    def close(self) -> None:
        """End recording: a traced value of this tape used afterwards (leaked out of the
        function through a global or a closure) raises :class:`UnexpectedTracerError`."""
        self.entries = _ClosedEntries(self.entries)

    def leaf(self, value: Any) -> TapeValue:
        """Start recording ``value`` as an input of this tape."""
        self.entries.append(None)
        if self.values is not None:
            self.values.append(value)
        return TapeValue(value, self, len(self.entries) - 1)


class _ClosedEntries:
    """A finished tape's entries (``record``, the list the backward passes read), never
    extended. Not a list subclass: indexing one is slower than indexing a list."""

    __slots__ = ("record",)

    def __init__(self, record: list) -> None:
        self.record = record

    def __len__(self) -> int:
        return len(self.record)

    def __getitem__(self, i: Any) -> Any:
        return self.record[i]

    def append(self, entry: Any) -> None:
        raise UnexpectedTracerError(LEAKED)


class TapeValue(ArrayOps, Tracer):
    """A value recorded on a tape: its concrete ``value`` and its ``index`` there.

    The engine's own step (:meth:`extend`) appends a tape entry; routing, unwrapping
    and evaluation are :mod:`dualtape.dispatch`'s.
    """

    __slots__ = ("value", "tape", "index")

    def __init__(self, value: Any, tape: Tape, index: int) -> None:
        self.value = value
        self.tape = tape
        self.index = index
        self.level = tape.level

    def __repr__(self) -> str:
        return f"TapeValue({self.value!r}, index={self.index}, level={self.level})"

    @property
    def leaked(self) -> bool:
        """Whether its recording has finished (the value outlived its transformation)."""
        return type(self.tape.entries) is _ClosedEntries

    def extend(self, prim: Primitive, ans: Any, vals: tuple, mine: list, params: Any) -> Any:
        """Record ``ans`` with the arguments on this tape that have a VJP rule as parents."""
        rules = prim.vjp
        variadic = prim.variadic
        parents = None
        for i, v in mine:
            if variadic or rules[i] is not None:
                if parents is None:
                    parents = [None] * len(vals)
                parents[i] = v.index
        if parents is None:
            return ans
        # Most ops have no parameters: one shared empty mapping rather than one per entry.
        return self._record(prim, params or NO_PARAMS, tuple(parents), vals, ans)

    def process(self, prim: Primitive, args: tuple, params: Any) -> Any:
        value = self.value
        if prim.variadic or dispatch.counting is not None or type(value) not in PLAIN_TYPES:
            return Tracer.process(self, prim, args, params)
        if len(args) == 1:
            ans = prim.impl(value, **params)  # one operand with parameters: process1's shortcut
            if prim.vjp[0] is None:
                return ans
            return self._record(prim, params or NO_PARAMS, (self.index,), (value,), ans)
        # this value once among plain ones (where(c, x, 0.0), clip(x, lo, hi)): the same steps
        # as Tracer.process, without unwrap's pairs or extend's loop
        vals = list(args)
        i = -1
        for k, a in enumerate(args):
            if a is self and i < 0:
                i = k
                vals[k] = value
            elif type(a) not in PLAIN_TYPES:
                return Tracer.process(self, prim, args, params)
        ans = prim.impl(*vals, **params)
        if prim.vjp[i] is None:
            return ans
        parents = [None] * len(args)
        parents[i] = self.index
        return self._record(prim, params or NO_PARAMS, tuple(parents), tuple(vals), ans)

    def process1(self, prim: Primitive, x: Any) -> Any:
        value = self.value
        if dispatch.counting is None and type(value) in PLAIN_TYPES:
            ans = prim.impl(value)  # evaluate1, inline: one frame less per scalar op
        else:
            ans = evaluate1(prim, value)
        if prim.vjp[0] is None:
            return ans
        tape = self.tape
        if prim.save_meta or tape.values is not None or dispatch.counting is not None:
            return self._record(prim, NO_PARAMS, (self.index,), (value,), ans)
        entries = tape.entries  # _record's append, inline, as in process2
        out = _new(TapeValue)
        out.value = ans
        out.tape = tape
        out.index = len(entries)
        out.level = tape.level
        entries.append((prim, NO_PARAMS, (self.index,), (value,) if prim.save_args else _NONE1,
                        ans if prim.save_ans else None))
        return out

    def process2(self, prim: Primitive, x: Any, y: Any) -> Any:
        rules = prim.vjp
        if type(x) is TapeValue and type(y) is TapeValue and rules[0] is not None \
                and rules[1] is not None:
            if x is y and prim.diagonal is not None:
                return x.process1(prim.diagonal, x)
            parents: tuple | None = (x.index, y.index)  # the common case, built at once
            x = x.value
            y = y.value
        else:
            px = py = None
            if type(x) is TapeValue:
                if rules[0] is not None:
                    px = x.index
                x = x.value
            if type(y) is TapeValue:
                if rules[1] is not None:
                    py = y.index
                y = y.value
            parents = None if px is None and py is None else (px, py)
        if dispatch.counting is None and type(x) in PLAIN_TYPES and type(y) in PLAIN_TYPES:
            ans = prim.impl(x, y)  # evaluate2, inline: one frame less per scalar op
        else:
            ans = evaluate2(prim, x, y)
        if parents is None:
            return ans
        tape = self.tape
        if tape.values is not None or dispatch.counting is not None:
            return self._record(prim, NO_PARAMS, parents, (x, y), ans)
        if not prim.save_meta:
            saved, saved_ans = (x, y) if prim.save_args else _NONES2, ans if prim.save_ans else None
        elif type(ans) is float and type(x) is float and type(y) is float:
            saved, saved_ans = _FLOAT_METAS2, _FLOAT_META
        elif type(ans) is np.ndarray and type(x) is np.ndarray and type(y) is np.ndarray \
                and x.shape == ans.shape == y.shape and x.dtype is ans.dtype is y.dtype:
            saved_ans = Meta(ans)  # arrays of one shape: one shared record (_metas' first case)
            saved = (saved_ans, saved_ans)
        elif type(ans) is np.float64 and type(x) in _FLOATS and type(y) in _FLOATS:
            saved, saved_ans = _FLOAT_METAS2, _FLOAT_META
        else:
            return self._record(prim, NO_PARAMS, parents, (x, y), ans)
        # _record's append, inline: the binary op is most of scalar code
        entries = tape.entries
        out = _new(TapeValue)
        out.value = ans
        out.tape = tape
        out.index = len(entries)
        out.level = tape.level
        entries.append((prim, NO_PARAMS, parents, saved, saved_ans))
        return out

    def _record(self, prim: Primitive, params: Any, parents: tuple, vals: tuple,
                ans: Any) -> TapeValue:
        """Append the entry for ``ans`` and return it traced."""
        if prim.save_meta:
            saved_ans = _FLOAT_META if type(ans) in _FLOATS else Meta(ans)
            saved = _metas(vals, saved_ans)
        else:
            saved = vals if prim.save_args else (None,) * len(vals)
            saved_ans = ans if prim.save_ans else None
        tape = self.tape
        entries = tape.entries
        out = _new(TapeValue)  # __init__'s fields without its call: most of scalar code's cost
        out.value = ans
        out.tape = tape
        out.index = len(entries)
        out.level = tape.level
        entries.append((prim, params, parents, saved, saved_ans))  # an Entry's fields, in order
        if tape.values is not None:
            tape.values.append(ans)
        counter = dispatch.counting  # read once: another thread's count may close meanwhile
        if counter is not None:
            counter.record_saved((*saved, saved_ans))
        return out


_new = object.__new__
_SHAPED = frozenset({np.ndarray, np.float64, np.float32, Meta})
_FLOAT_METAS2 = (_FLOAT_META, _FLOAT_META)
_NONE1, _NONES2 = (None,), (None, None)


def _metas(vals: tuple, like: Meta) -> tuple:
    """The :class:`Meta` of each value: ``like`` (the answer's) for an array of its shape and
    dtype, one shared record for Python floats."""
    if len(vals) == 1:
        return (_meta(vals[0], like),)
    return tuple([_meta(v, like) for v in vals])


def _meta(v: Any, like: Meta) -> Meta:
    if type(v) is np.ndarray and v.shape == like.shape and v.dtype == like.dtype:
        return like
    return _FLOAT_META if type(v) in _FLOATS else Meta(v)


class collector_paused:  # noqa: N801 - used as a context manager, like contextlib's
    """Pause Python's cyclic collector for the block (restored as it was).

    Recording and sweeping a tape allocate many small, acyclic objects (entries, traced
    values, cotangents) that all outlive the collector's youngest generation; on a
    scalar chain its passes over them were a sixth of ``dt.grad``'s time. A class
    rather than ``contextlib.contextmanager``: it is entered three times per gradient.
    """

    __slots__ = ("was_on",)

    def __enter__(self) -> None:
        self.was_on = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc: object) -> None:
        if self.was_on:
            gc.enable()


def backward(tape: Tape, seeds: list[tuple[int, Any]], nb: int = 0,
             keep: bool = False) -> list[Any]:
    """Propagate cotangents from ``seeds`` (tape index, cotangent) to every entry.

    ``nb`` is the number of leading batch axes of the cotangents (vector mode).
    Returns the list of cotangents by tape index: the leaves', and with ``keep``
    every entry's (otherwise intermediate ones are freed as soon as used).
    """
    entries = tape.entries
    if type(entries) is _ClosedEntries:
        entries = entries.record
    cts: list[Any] = [None] * len(entries)
    start = -1
    for index, g in seeds:
        cts[index] = g if cts[index] is None else add(cts[index], g)
        start = max(start, index)
    plain_sums = dispatch.counting is None  # float cotangents then add without dispatch
    sparse = False  # whether a rule has returned a OneHot cotangent (max/min along rows)
    was_on = gc.isenabled()  # collector_paused, inline: one pause per sweep
    gc.disable()
    try:
        for i in range(start, -1, -1):
            g = cts[i]
            if g is None:
                continue
            entry = entries[i]
            if entry is None:
                continue
            if not keep:
                cts[i] = None
            prim, params, parents, args, ans = entry  # Entry._fields, in order
            rules, bcast, variadic = prim.pullback
            j = -1
            for p in parents:  # one tape index per argument position (None: not traced here)
                j += 1
                if p is None:
                    continue
                if variadic:
                    c = rules(j, g, ans, *args, **params)
                else:
                    rule = rules[j]
                    if rule is passes_through:
                        c = g
                    elif params is not NO_PARAMS:
                        c = rule(g, ans, *args, **params)
                    elif len(args) == 2:  # positional: a call without building an argument tuple
                        c = rule(g, ans, args[0], args[1])
                    elif len(args) == 1:
                        c = rule(g, ans, args[0])
                    else:
                        c = rule(g, ans, *args)
                if type(c) is float:
                    old = cts[p]
                    if old is None:
                        cts[p] = c
                    elif plain_sums and type(old) is float:
                        cts[p] = old + c
                    else:
                        cts[p] = add(old, c) if not sparse else _add_onehot(old, c)
                    continue
                if bcast:
                    a = args[j]  # the common case, same shape, without unbroadcast's call
                    if nb or type(a) not in _SHAPED or type(c) not in _SHAPED or c.shape != a.shape:
                        c = unbroadcast(c, shape_of(a), nb)
                old = cts[p]
                if type(c) is OneHot or (sparse and type(old) is OneHot):
                    sparse = True
                    if old is not None:
                        cts[p] = _add_onehot(old, c)
                        continue
                    e = entries[p]  # the OneHot's reader: dense unless its rules take one
                    cts[p] = c if e is not None and e[0].takes_onehot else c.dense()
                    continue
                cts[p] = c if old is None else add(old, c)
    finally:
        if was_on:
            gc.enable()
    if sparse and keep:  # what the sweep hands back is dense (inputs' are already)
        for i, c in enumerate(cts):
            if type(c) is OneHot:
                cts[i] = c.dense()
    return cts


def _add_onehot(old: Any, c: Any) -> Any:
    """``old + c`` where either may be a :class:`~dualtape.ops.onehot.OneHot` (dense)."""
    if type(c) is OneHot:
        old, c = c, old
    if type(old) is not OneHot:
        return add(old, c)
    if type(c) is np.ndarray and c.shape == old.shape:
        return old.added_to(c)
    return add(old.dense(), dense(c))
