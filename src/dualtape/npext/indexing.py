"""``dualtape.numpy.getitem``: NumPy's indexing language (ints, slices, None, Ellipsis,
integer arrays and boolean masks, in any arrangement) on the ``getitem`` primitive,
with NumPy's placement of the indexed axes in every mode."""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from .. import numpy as dnp
from .. import ops
from ..dispatch import read_values

__all__ = ["getitem"]


def getitem(a: Any, index: Any) -> Any:
    """``a[index]`` for ints, slices, None, Ellipsis, integer arrays and boolean masks."""
    index = index if isinstance(index, tuple) else (index,)
    for i in index:  # a traced value is never a boolean: no need to look under tracers
        if _is_scalar_bool(i):
            a, index = _scalar_bools_as_arrays(a, index)
            break
    norm: list[Any] = []
    advanced = []
    for i in index:
        i = read_values(i)  # a traced index (held from the values: floor(x).astype(int)) steers
        if isinstance(i, (list, np.ndarray)) or (hasattr(i, "dtype") and hasattr(i, "shape")):
            arr = np.asarray(i)
            if arr.dtype == bool:
                read_values(a)  # a mask may come from the values (x[x > 0]): they steer it
                advanced.append(len(norm))
                norm.extend(np.nonzero(arr))
                advanced.extend(range(advanced[-1] + 1, len(norm)))
                continue
            if arr.dtype.kind not in "iu":
                raise IndexError(f"index: arrays used as indices must be integer or boolean, "
                                 f"got dtype {arr.dtype}")
            advanced.append(len(norm))
            norm.append(arr)
        elif isinstance(i, (np.integer,)):
            norm.append(int(i))
        else:
            norm.append(i)
    if advanced and builtins.any(type(i) is int for i in norm):
        # NumPy counts ints as advanced indices next to arrays, which would move the
        # batch axes of vector mode: apply the ints (and slices) first, then the arrays.
        first = tuple(slice(None) if k in advanced else i for k, i in enumerate(norm))
        second = tuple(i if k in advanced else (Ellipsis if i is Ellipsis else slice(None))
                       for k, i in enumerate(norm) if type(i) is not int)
        if _separated([k for k, i in enumerate(second) if isinstance(i, np.ndarray)]):
            # Arrays apart from each other: the broadcast axes go first, as in NumPy.
            return getitem(ops.getitem(a, index=first), second)
        out = ops.getitem(ops.getitem(a, index=first), index=second)
        mixed = sorted(advanced + [k for k, i in enumerate(norm) if type(i) is int])
        if mixed == list(range(mixed[0], mixed[-1] + 1)):
            return out
        # Separated ints and arrays: NumPy puts the indexed axes first.
        nd_first = dnp.ndim(a) - builtins.sum(type(i) is int for i in norm) \
            + builtins.sum(i is None for i in norm)
        consumed = builtins.sum(i is not Ellipsis for i in second)
        start = 0
        for i in second:
            if isinstance(i, np.ndarray):
                break
            start += (nd_first - consumed) if i is Ellipsis else 1
        k = np.broadcast(*[i for i in second if isinstance(i, np.ndarray)]).ndim
        order = list(range(start, start + k)) + [d for d in range(dnp.ndim(out))
                                                  if not start <= d < start + k]
        return dnp.transpose(out, order)
    if _separated(advanced):
        return _separated_getitem(a, norm)
    return ops.getitem(a, index=tuple(norm))


def _is_scalar_bool(i: Any) -> bool:
    return type(i) is bool or type(i) is np.bool_ or (type(i) is np.ndarray and i.ndim == 0
                                                      and i.dtype == bool)


def _scalar_bools_as_arrays(a: Any, index: tuple) -> tuple[Any, tuple]:
    """NumPy reads a scalar boolean index as a new axis of length 1 indexed by the integer
    array ``[0]`` (True) or ``[]`` (False), an advanced index like any other: insert those
    axes first (a basic index, a view), then index them with those arrays."""
    axes: list[Any] = []
    for i in index:
        if _is_scalar_bool(i):
            axes.append(None)
        elif i is Ellipsis:
            axes.append(Ellipsis)
        elif i is not None:  # a mask consumes one axis per dimension, anything else one
            mask = isinstance(i, (list, tuple, np.ndarray)) and np.asarray(i).dtype == bool
            axes.extend([slice(None)] * (np.ndim(i) if mask else 1))
    picks = tuple(np.zeros(1 if i else 0, np.intp) if _is_scalar_bool(i) else i for i in index)
    return ops.getitem(a, index=tuple(axes)), picks


def _separated(positions: list[int]) -> bool:
    return builtins.bool(positions) and positions != list(range(positions[0], positions[-1] + 1))


def _separated_getitem(a: Any, norm: list[Any]) -> Any:
    """``a[norm]`` for index arrays apart from each other (no ints): NumPy puts the broadcast
    axes first, then the other axes in order. Moving the indexed axes to the front first
    makes the arrays adjacent, which puts them in the same place in every mode."""
    consuming = builtins.sum(i is not None and i is not Ellipsis for i in norm)
    if consuming > dnp.ndim(a):
        raise IndexError(f"index: too many indices for an array with {dnp.ndim(a)} axes")
    fill = [slice(None)] * (dnp.ndim(a) - consuming)
    full_index = [f for i in norm for f in (fill if i is Ellipsis else [i])]
    if not builtins.any(i is Ellipsis for i in norm):
        full_index += fill
    arrays, rest, indexed = [], [], []
    axis = 0
    for i in full_index:
        if isinstance(i, np.ndarray):
            arrays.append(i)
            indexed.append(axis)
        else:
            rest.append(i)
        axis += i is not None
    order = indexed + [d for d in range(dnp.ndim(a)) if d not in indexed]
    return ops.getitem(dnp.transpose(a, order), index=tuple(arrays + rest))
