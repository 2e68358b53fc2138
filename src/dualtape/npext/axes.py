"""Checks and normalisation of axis, shape and count arguments, with NumPy's rules: Python
and NumPy integers are accepted, floats and bools are not (they raise TypeError), axes
out of range or repeated raise ValueError."""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from ..ops import ndim_of

__all__ = ["as_int", "axis_list", "axis_tuple", "one_axis", "sizes"]

_AXES: dict[tuple, tuple[int, ...]] = {}  # (axis, rank) -> axes, for None and int axes seen


def is_int(x: Any) -> bool:
    """Whether ``x`` is a Python or NumPy integer (bool excluded)."""
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


def as_int(x: Any, name: str) -> int:
    """``x`` as a Python int; a float, bool or other non-integer raises TypeError naming it."""
    if not is_int(x):
        raise TypeError(f"{name}: expected an int, got {x!r}")
    return int(x)


def sizes(value: Any, name: str, allow_bool: bool = False) -> tuple[int, ...]:
    """An int or a sequence of ints (a shape, repetition counts) as a tuple of Python ints;
    floats (and bools unless ``allow_bool``) raise TypeError naming the argument."""
    if type(value) is tuple and all(type(v) is int for v in value):
        return value
    items = value if isinstance(value, (list, tuple)) or np.ndim(value) else (value,)
    out = []
    for v in items:
        if isinstance(v, (bool, np.bool_)) and not allow_bool:
            raise TypeError(f"{name}: expected an int or a sequence of ints, got {value!r}")
        try:
            out.append(operator.index(v))
        except TypeError:
            raise TypeError(f"{name}: expected an int or a sequence of ints, got {value!r}") \
                from None
    return tuple(out)


def axis_tuple(a: Any, axis: Any, name: str = "axis") -> tuple[int, ...]:
    """Normalise ``axis`` (None, int or sequence) to a sorted tuple of negative ints."""
    nd = ndim_of(a)
    if axis is None or type(axis) is int:
        got = _AXES.get((axis, nd))
        if got is None:
            got = tuple(range(-nd, 0)) if axis is None else axis_tuple(a, (axis,), name)
            if len(_AXES) < 4096:
                _AXES[(axis, nd)] = got
        return got
    if isinstance(axis, (int, np.integer)):
        axes: tuple = (axis,)
    elif isinstance(axis, (tuple, list)):
        axes = tuple(axis)
    else:
        raise TypeError(f"{name}: expected an int or a tuple of ints, got {axis!r}")
    out = []
    for ax in axes:
        if not isinstance(ax, (int, np.integer)) or isinstance(ax, bool):
            raise TypeError(f"{name}: expected an int or a tuple of ints, got {axis!r}")
        if not -nd <= ax < nd:
            raise ValueError(f"{name}: axis {ax} is out of bounds for an array of rank {nd}")
        out.append(int(ax) - nd if ax >= 0 else int(ax))
    if len(set(out)) != len(out):
        raise ValueError(f"{name}: repeated axis in {axis!r}")
    return tuple(sorted(out))


def one_axis(a: Any, axis: int, name: str = "axis", extra: int = 0) -> int:
    """One axis of ``a`` (of rank ``ndim(a) + extra``) as a negative int."""
    nd = ndim_of(a) + extra
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
        raise TypeError(f"{name}: expected an int, got {axis!r}")
    if not -nd <= axis < nd:
        raise ValueError(f"{name}: axis {axis} is out of bounds for rank {nd}")
    return int(axis) - nd if axis >= 0 else int(axis)


def axis_list(a: Any, axis: Any, name: str, extra: int = 0) -> list[int]:
    """An int or a sequence of axes of ``a`` (rank ``ndim(a) + extra``), in the given order,
    as non-negative ints; a repeated axis raises ValueError naming the argument."""
    nd = ndim_of(a) + extra
    given = (axis,) if isinstance(axis, (int, np.integer)) else axis
    out = [one_axis(a, ax, name, extra) % nd for ax in given]
    if len(set(out)) != len(out):
        raise ValueError(f"{name}: repeated axis in {axis!r}")
    return out
