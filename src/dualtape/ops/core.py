"""Shapes, cost models and axis normalisation: the helpers every op family uses.

Nothing here applies a primitive, so every other module of ``dualtape.ops`` may import
it.  Conventions (docs/design.md, "Conventions"):

* a tangent or cotangent may carry leading batch axes (vector mode), so rules read a
  primal's shape from the trailing axes and axis parameters are negative;
* ``bind`` normalises axis parameters at the primitive boundary (:func:`axis_param`,
  :func:`perm_param`), so a caller may pass NumPy's positive axes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..dispatch import Tracer

__all__ = [
    "Meta", "as_floating", "axis_param", "batch_shape", "count_over", "elementwise_flops",
    "ndim_of", "no_flops", "per_input", "perm_param", "reduce_flops", "shape_of", "size_of",
    "times",
]


def shape_of(x: Any) -> tuple[int, ...]:
    """Shape of an array, scalar or traced value."""
    t = type(x)
    if t is np.ndarray or t is Meta:
        return x.shape
    if t is float or t is int:
        return ()
    if isinstance(x, Tracer):
        return shape_of(x.value)  # type: ignore[attr-defined]
    return x.shape if hasattr(x, "shape") else np.shape(x)


def ndim_of(x: Any) -> int:
    """Number of axes of an array, scalar or traced value."""
    t = type(x)
    if t is np.ndarray:
        return x.ndim
    if t is float or t is int:
        return 0
    if isinstance(x, Tracer):
        return ndim_of(x.value)  # type: ignore[attr-defined]
    return x.ndim if hasattr(x, "ndim") else np.ndim(x)


def size_of(x: Any) -> int:
    """Number of elements of an array, scalar or traced value."""
    t = type(x)
    if t is float or t is int:
        return 1
    return x.size if hasattr(x, "size") else np.size(x)


def as_floating(x: Any) -> np.ndarray:
    """``x`` as an array of the floating (or complex) dtype NumPy's ``exp`` gives it: its
    own, or the smallest float that holds its integers (bools: float16, int64: float64)."""
    x = np.asarray(x)
    return x if x.dtype.kind in "fc" else x.astype(np.result_type(x.dtype, np.float16))


def count_over(x: Any, axis: tuple[int, ...]) -> int:
    """Number of elements a reduction of ``x`` over ``axis`` combines into each result."""
    shape = shape_of(x)
    return math.prod(shape[a] for a in axis)


_FLOAT64 = np.dtype(np.float64)


class Meta:
    """What the tape keeps of a value whose VJP needs only its shape and dtype."""

    __slots__ = ("shape", "dtype")

    def __init__(self, x: Any) -> None:
        t = type(x)
        if t is np.ndarray or t is np.float64:
            self.shape, self.dtype = x.shape, x.dtype
        else:
            self.shape = shape_of(x)
            self.dtype = getattr(x, "dtype", _FLOAT64)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)


def batch_shape(t: Any, x: Any) -> tuple[int, ...]:
    """The leading batch axes of tangent ``t`` of primal ``x``."""
    ts = shape_of(t)
    return ts[: len(ts) - ndim_of(x)]


# ---------------------------------------------------------------- cost models


def elementwise_flops(ans: Any, *args: Any, **params: Any) -> int:
    """One operation per output element."""
    return size_of(ans)


def reduce_flops(ans: Any, x: Any, **params: Any) -> int:
    """One operation per input element."""
    return size_of(x)


def per_input(k: int) -> Callable[..., int]:
    """``k`` operations per element of the first operand (a reduction's input, batch axes too)."""
    return lambda ans, x, *args, **params: k * size_of(x)


def no_flops(ans: Any, *args: Any, **params: Any) -> int:
    """Data movement only."""
    return 0


def times(k: int) -> Callable[..., int]:
    """``k`` operations per output element."""
    return lambda ans, *args, **params: k * size_of(ans)


# ---------------------------------------------------------------- axis normalisation


def _negative(a: Any, rank: int, what: str) -> int:
    if isinstance(a, bool) or not isinstance(a, (int, np.integer)):
        raise TypeError(f"{what}: expected an int axis, got {a!r}")
    a = int(a)
    if not -rank <= a < rank:
        raise ValueError(f"{what}: axis {a} is out of range for {rank} axes")
    return a - rank if a >= 0 else a


def axis_param(name: str = "axis", extra: int | str = 0, arg: int = 0) -> Callable[[tuple, Any], Any]:
    """A ``normalize`` hook: parameter ``name`` (an int or a tuple of ints) as negative axes.

    Axes count against the rank of argument ``arg`` (the first by default) plus ``extra``:
    ``1`` for ``stack`` (a new axis), ``"len"`` for ``expand_dims`` (one new axis per entry).
    """

    def normalize(args: tuple, params: Any) -> Any:
        axis = params[name]
        if type(axis) is int:
            if axis < 0:
                return params
        elif type(axis) is tuple:
            for a in axis:
                if type(a) is not int or a >= 0:
                    break
            else:
                return params
        rank = ndim_of(args[arg]) if len(args) > arg else 0
        what = f"{name}"
        if isinstance(axis, (tuple, list)):
            rank += len(axis) if extra == "len" else int(extra)
            axis = tuple(_negative(a, rank, what) for a in axis)
        else:
            rank += 1 if extra == "len" else int(extra)
            axis = _negative(axis, rank, what)
        return {**params, name: axis}

    return normalize


def perm_param(name: str = "axes") -> Callable[[tuple, Any], Any]:
    """A ``normalize`` hook for a permutation of the first argument's axes (``transpose``)."""
    checked: dict[tuple, tuple] = {}  # (axes, rank) -> negative axes, for permutations seen

    def normalize(args: tuple, params: Any) -> Any:
        axes = params[name]
        rank = ndim_of(args[0])
        out = checked.get((axes, rank)) if type(axes) is tuple else None
        if out is None:
            if not isinstance(axes, (tuple, list)) or len(axes) != rank:
                raise ValueError(f"{name}: expected a permutation of {rank} axes, got {axes!r}")
            out = tuple(_negative(a, rank, name) for a in axes)
            if sorted(out) != list(range(-rank, 0)):
                raise ValueError(f"{name}: {axes!r} is not a permutation of {rank} axes")
            if type(axes) is tuple and len(checked) < 4096:
                checked[(axes, rank)] = out
        return params if out == axes else {**params, name: out}

    return normalize
