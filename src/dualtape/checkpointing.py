"""Checkpointing: ``dt.checkpoint`` keeps a function's inputs on the tape, not its intermediates.

Under reverse mode a checkpointed call becomes one tape entry of the primitive
``checkpoint``, which saves only the call's inputs.  Its VJP rule records the function
again from those inputs (``dt.vjp``) and pulls the cotangent back through that
recording; because the rule is written with dualtape's own transformations, an outer
level traces through it (grad of grad, Hessians), and the rule is itself checkpointed
at every lower level.  Under forward mode alone the call is the function itself.

The primitive has one output, so a function with several float outputs returns them
packed into one flat array, unpacked by ordinary (recorded) indexing.  Values the
function closes over that are traced by an enclosing transformation (a weight matrix
in a ``lambda``) are found in its closure cells and made inputs too.

The recording happens later than the call, so the call notes what the function reads
besides its arguments: its closure cells and default arguments, and those of the
functions they hold (a helper defined in the same loop, to depth 4).  Each replay puts
them back as they were (a ``lambda`` made in a loop sees its own iteration's variable,
as under JAX, which traces at the call) and restores them afterwards.  What is noted is
which object each cell holds: an object changed in place since the call, an attribute
or a global is read as it is at the replay (the function must be pure, as for JAX).
"""

from __future__ import annotations

import functools
import math
import types
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from . import dispatch
from . import numpy as dnp
from .api import scoped_level, vjp
from .counting import recomputing
from .forward import Dual, running
from .ops import shape_of
from .registry import Primitive, Tracer
from .reverse import TapeValue
from .tree import flatten, unflatten

__all__ = ["checkpoint", "remat"]


def _is_float(x: Any) -> bool:
    """Whether a pytree leaf carries a derivative (traced values always do)."""
    if isinstance(x, (float, Tracer)):
        return True
    return isinstance(x, (np.ndarray, np.generic)) and x.dtype.kind == "f"


def _dtype(x: Any) -> np.dtype:
    while isinstance(x, Tracer):
        x = x.value  # type: ignore[attr-defined]
    return np.dtype(getattr(x, "dtype", np.float64))


def needs_tape(values: Sequence[Any]) -> bool:
    """Whether any of ``values`` is recorded on a tape at some level (else forward mode only)."""
    todo = list(values)
    while todo:
        x = todo.pop()
        if type(x) is TapeValue:
            return True
        if type(x) is Dual:
            todo += (x.primal, x.tangent)
    return False


_EMPTY = object()  # an emptied closure cell (``del`` of the variable)


def _read(owner: Any, attr: str) -> Any:
    try:
        return getattr(owner, attr)
    except ValueError:  # an empty cell
        return _EMPTY


def _write(owner: Any, attr: str, value: Any) -> None:
    if value is _EMPTY:
        delattr(owner, attr)
    else:
        setattr(owner, attr, value)


def _captures(fun: Callable) -> list[tuple[Any, str, Any, Any, list, list[int]]]:
    """What ``fun`` reads besides its arguments, as it is now: its closure cells and default
    arguments, and those of the functions they hold (nested helpers, to depth 4).

    Each is ``(owner, attribute, value, structure, leaves, positions of the traced
    leaves)``: a cell's ``cell_contents`` or a function's ``__defaults__`` or
    ``__kwdefaults__``.  Empty cells are left out (the call cannot have read them).
    """
    found: list[tuple[Any, str, Any, Any, list, list[int]]] = []
    seen: set[int] = set()

    def add(owner: Any, attr: str, v: Any, depth: int) -> None:
        leaves, td = flatten(v)
        found.append((owner, attr, v, td, leaves,
                      [k for k, x in enumerate(leaves) if isinstance(x, Tracer)]))
        for x in leaves:
            if callable(x) and not isinstance(x, Tracer):
                visit(x, depth + 1)

    def visit(f: Any, depth: int) -> None:
        f = getattr(f, "__func__", f)
        if id(f) in seen or depth > 4:
            return
        seen.add(id(f))
        for attr in ("__defaults__", "__kwdefaults__"):
            if isinstance(f, types.FunctionType) and getattr(f, attr):
                add(f, attr, getattr(f, attr), depth)
        for cell in getattr(f, "__closure__", None) or ():
            if id(cell) not in seen and (v := _read(cell, "cell_contents")) is not _EMPTY:
                seen.add(id(cell))
                add(cell, "cell_contents", v, depth)

    visit(fun, 0)
    return found


class Call:
    """One call of a checkpointed function: its traced inputs, constants and output layout.

    ``inputs`` are the traced leaves of the arguments followed by the traced leaves the
    function closes over; ``flat(*inputs)`` runs the function on any values standing in
    for them and returns its float outputs packed into one value.
    """

    def __init__(self, fun: Callable, args: tuple, kwargs: dict, static: frozenset[int],
                 closure_of: Callable | None = None) -> None:
        self.fun = fun
        self.args = args
        self.static = static
        dyn = tuple(a for i, a in enumerate(args) if i not in static)
        self.leaves, self.td = flatten((dyn, kwargs))
        self.slots = [k for k, x in enumerate(self.leaves) if isinstance(x, Tracer)]
        self.cells = _captures(fun if closure_of is None else closure_of)
        self.inputs = [self.leaves[k] for k in self.slots]
        for _, _, _, _, leaves, slots in self.cells:
            self.inputs += [leaves[k] for k in slots]
        self.n_args = len(self.slots)
        self.layout: tuple | None = None
        self._cache: tuple | None = None

    # ------------------------------------------------------------ calling the function

    def call_args(self, values: Sequence[Any]) -> tuple[tuple, dict]:
        """The positional and keyword arguments with the traced leaves replaced by ``values``."""
        leaves = list(self.leaves)
        for k, v in zip(self.slots, values, strict=True):
            leaves[k] = v
        dyn, kwargs = unflatten(self.td, leaves)
        it = iter(dyn)
        args = tuple(a if i in self.static else next(it) for i, a in enumerate(self.args))
        return args, kwargs

    @contextmanager
    def closure(self, values: Sequence[Any], replay: bool = True) -> Iterator[None]:
        """Run with the traced values the function closes over replaced by ``values`` and,
        for a ``replay``, every cell and default as it was at the call; restore them after.

        The first run (``replay=False``) happens right at the call, when the other cells
        still hold those values; leaving them alone keeps what the function writes to them.
        """
        it = iter(values)
        previous = []
        try:
            for owner, attr, value, td, leaves, slots in self.cells:
                if slots:
                    new = list(leaves)
                    for k in slots:
                        new[k] = next(it)
                    value = unflatten(td, new)
                elif not replay:
                    continue
                previous.append((owner, attr, _read(owner, attr)))
                _write(owner, attr, value)
            yield
        finally:
            for owner, attr, old in reversed(previous):
                _write(owner, attr, old)

    def run(self, *inputs: Any, replay: bool = True) -> Any:
        """The function's output (a pytree) with ``inputs`` standing in for the traced values."""
        args, kwargs = self.call_args(inputs[:self.n_args])
        with self.closure(inputs[self.n_args:], replay):
            return self.fun(*args, **kwargs)

    def flat(self, *inputs: Any) -> Any:
        return self.pack(self.run(*inputs))

    # ------------------------------------------------------------ packing the outputs

    def set_layout(self, out: Any) -> None:
        """Record which output leaves are floats (packed) and which are constants."""
        leaves, td = flatten(out)
        for x in leaves:
            if isinstance(x, Tracer):
                raise TypeError(
                    "checkpoint: the function returned a value traced by an enclosing "
                    "transformation that it reached outside its arguments and closure cells "
                    "(an attribute or a global?); pass that value as an argument")
        floats = [k for k, x in enumerate(leaves) if _is_float(x)]
        dtypes = {_dtype(leaves[k]) for k in floats}
        if len(dtypes) > 1:
            raise NotImplementedError(
                f"checkpoint: the outputs have different float dtypes {sorted(map(str, dtypes))}; "
                "cast them to one dtype")
        pieces, off = [], 0
        for k in floats:
            shape = shape_of(leaves[k])
            size = math.prod(shape)
            pieces.append((k, off, shape, size))
            off += size
        consts = {k: x for k, x in enumerate(leaves) if not _is_float(x)}
        self.layout = (td, pieces, consts, dtypes.pop() if dtypes else np.dtype(np.float64))
        self.packed_ndim = len(pieces[0][2]) if len(pieces) == 1 else 1

    def float_leaves(self, out: Any) -> list:
        leaves, _ = flatten(out)
        return [leaves[k] for k, _, _, _ in self.layout[1]]  # type: ignore[index]

    def pack(self, out: Any) -> Any:
        """The float leaves of ``out`` as one value (itself if there is only one)."""
        xs = self.float_leaves(out)
        if len(xs) == 1:
            return xs[0]
        if not xs:
            return np.zeros(0, self.layout[3])  # type: ignore[index]
        if any(isinstance(x, Tracer) for x in xs):
            return dnp.concatenate([dnp.reshape(x, (-1,)) for x in xs], 0)
        return np.concatenate([np.ravel(x) for x in xs]).astype(self.layout[3], copy=False)

    def unpack_floats(self, packed: Any) -> list:
        """The float leaves packed into ``packed`` (an output or a cotangent of it)."""
        pieces = self.layout[1]  # type: ignore[index]
        if len(pieces) == 1:
            return [packed]
        out = []
        for _, off, shape, size in pieces:
            out.append(packed[off] if shape == () else
                       dnp.reshape(packed[off:off + size], shape))
        return out

    def unpack(self, packed: Any) -> Any:
        td, pieces, consts, _ = self.layout  # type: ignore[misc]
        leaves: list[Any] = [None] * (len(pieces) + len(consts))
        for (k, _, _, _), x in zip(pieces, self.unpack_floats(packed), strict=True):
            leaves[k] = x
        for k, x in consts.items():
            leaves[k] = x
        return unflatten(td, leaves)

    # ------------------------------------------------------------ the primitive's rules

    def evaluate(self, values: tuple) -> Any:
        """The primitive's implementation: plain values in, the packed output out."""
        out = self.run(*values, replay=False)
        if self.layout is None:
            self.set_layout(out)
        else:
            self.float_leaves(out)  # same structure as before
        return self.pack(out)

    def pull(self, args: list, g: Any) -> list:
        """Cotangents of all inputs for the cotangent ``g`` of the packed output: record the
        function again from its inputs, then pull back."""
        with recomputing():
            _, pullback = vjp(self.flat, *args)
        return list(pullback(g))

    def tangent(self, primals: tuple, tangents: list) -> Any:
        """The packed output's tangent (forward mode over a checkpoint on a lower tape)."""
        traced = [i for i, t in enumerate(tangents) if t is not None]

        def push(ps: list, ts: list) -> Any:
            level = scoped_level()
            try:
                i0 = traced[0]
                nb = len(shape_of(ts[0])) - len(shape_of(ps[i0]))
                xs = list(ps)
                for i, t in zip(traced, ts, strict=True):
                    xs[i] = Dual(ps[i], t, level, nb)
                out = self.flat(*xs)
            finally:
                running.discard(level)
            if type(out) is Dual and out.level == level:
                return out.tangent
            return np.zeros(shape_of(ts[0])[:nb] + shape_of(out), _dtype(out))

        return checkpoint(push)(list(primals), [tangents[i] for i in traced])

    def cotangent(self, j: int, g: Any, args: tuple) -> Any:
        """Input ``j``'s cotangent; the engine asks input by input, with the same ``g``, so
        all of them are computed on the first request and handed out from a cache."""
        cache = self._cache
        if cache is None or cache[0] is not g or j not in cache[1]:
            cts = checkpoint(_batched_pull)(self, list(args), g)
            cache = self._cache = (g, dict(enumerate(cts)))
        ct = cache[1].pop(j)
        if not cache[1]:
            self._cache = None
        return ct


def _batched_pull(call: Call, args: list, g: Any) -> list:
    """``call.pull``, once per row when ``g`` carries leading batch axes (vector mode)."""
    batch = shape_of(g)[:len(shape_of(g)) - call.packed_ndim]
    if not batch:
        return call.pull(args, g)
    rows = dnp.reshape(g, (-1,) + shape_of(g)[len(batch):])
    per_row = [call.pull(args, rows[b]) for b in range(shape_of(rows)[0])]
    return [dnp.reshape(dnp.stack([r[k] for r in per_row], 0), batch + shape_of(a))
            for k, a in enumerate(args)]


def _impl(*values: Any, call: Call) -> Any:
    return call.evaluate(values)


def _jvp(tangents: list, ans: Any, *primals: Any, call: Call) -> Any:
    return call.tangent(primals, tangents)


def _vjp(j: int, g: Any, ans: Any, *args: Any, call: Call) -> Any:
    return call.cotangent(j, g, args)


def _no_flops(ans: Any, *args: Any, **params: Any) -> int:
    return 0  # the function's own primitives are counted as they run


# Not registered: the registry lists the primitives a user function is made of, and this
# one is a wrapper around such a function rather than an operation of its own.
checkpoint_p = Primitive("checkpoint", _impl, _jvp, _vjp, _no_flops, saves="args",
                         variadic=True)


def bind_call(call: Call) -> Any:
    """Apply ``call`` as one ``checkpoint`` entry and return its output pytree."""
    return call.unpack(checkpoint_p.bind(*call.inputs, call=call))


def static_positions(static_argnums: int | Sequence[int]) -> frozenset[int]:
    """The positions named, as ints (negative ones count from the end of each call's)."""
    single = isinstance(static_argnums, (int, np.integer))
    nums = (static_argnums,) if single else static_argnums
    if not isinstance(nums, (tuple, list)) or not all(
            isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in nums):
        raise TypeError(f"static_argnums: expected an int or a tuple of ints, "
                        f"got {static_argnums!r}")
    return frozenset(int(a) for a in nums)


def _unwrapped(fun: Callable) -> tuple[Callable, tuple, dict]:
    """``fun`` without its ``functools.partial`` layers, and the arguments they bind (traced
    values among them become inputs, like the call's own arguments)."""
    bound: tuple = ()
    keywords: dict = {}
    while isinstance(fun, functools.partial):
        bound, keywords = (*fun.args, *bound), {**fun.keywords, **keywords}
        fun = fun.func
    return fun, bound, keywords


def checkpoint(fun: Callable, *, prevent_cse: bool = True, policy: Callable | None = None,
               static_argnums: int | Sequence[int] = ()) -> Callable:
    """Make ``fun`` keep only its inputs for reverse mode, recomputing the rest when needed.

    Like ``jax.checkpoint`` (alias :func:`remat`): ``checkpoint(fun)`` computes what ``fun``
    computes.  Under reverse mode the tape holds ``fun``'s inputs (its arguments and the
    traced values it closes over) instead of its intermediate values; the backward pass
    records ``fun`` again from them and pulls back through that recording, so memory
    drops and one more forward evaluation of ``fun`` is paid (``dt.count()`` reports it
    as ``n_recomputed``).  Under forward mode alone it is ``fun`` itself.  Nesting works
    in every mix of modes.  ``static_argnums`` names arguments passed through untouched
    (not traced, e.g. a flag or a shape; negative ones count from the end).  The arguments a
    ``functools.partial`` binds are arguments too.  The recording sees ``fun``'s closure
    cells and default arguments as they were at the call (a ``lambda`` made in a loop keeps its own
    iteration's variables); globals, attributes and objects changed in place are read
    as they are then, so ``fun`` must not depend on their changing (as for JAX: pure).
    ``prevent_cse`` is accepted for JAX's signature and changes nothing (there is no compiler
    to merge the recomputation away); ``policy`` may be ``None`` or JAX's
    ``checkpoint_policies.nothing_saveable``, which is what dualtape does (see
    :func:`checkpoint_loop` for the policies of a loop).

    >>> import dualtape as dt, dualtape.numpy as dnp
    >>> f = dt.checkpoint(lambda x: dnp.sin(dnp.sin(x)))
    >>> round(float(dt.grad(f)(1.0)), 6)  # cos(sin(1)) cos(1)
    0.360039
    """
    if not callable(fun):
        raise TypeError(f"fun: expected a callable, got {type(fun).__name__}")
    static = static_positions(static_argnums)
    if not isinstance(prevent_cse, (bool, np.bool_)):
        raise TypeError(f"prevent_cse: expected a bool, got {prevent_cse!r}")
    if policy is not None and getattr(policy, "__name__", "") != "nothing_saveable":
        raise NotImplementedError(
            f"policy: {getattr(policy, '__name__', policy)!r} is not supported: dualtape's "
            "checkpoint saves the inputs only (JAX's nothing_saveable)")

    inner, bound, keywords = _unwrapped(fun)

    @functools.wraps(fun)
    def checkpointed(*args: Any, **kwargs: Any) -> Any:
        for i in static:
            if not -len(args) <= i < len(args):
                raise ValueError(f"static_argnums: {i} is out of range for a call with "
                                 f"{len(args)} positional argument(s)")
        positions = frozenset(len(bound) + i % len(args) for i in static)
        call = Call(inner, (*bound, *args), {**keywords, **kwargs}, positions)
        if dispatch.holding or not needs_tape(call.inputs):
            # sparsity detection sees through it: checkpointing changes memory, not values
            return fun(*args, **kwargs)
        return bind_call(call)

    return checkpointed


remat = checkpoint
