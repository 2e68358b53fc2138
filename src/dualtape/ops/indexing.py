"""Indexing primitives: getitem, its transpose scatter_add, and take; pick_along and its
transpose put_along, gathers at indices computed from the data (sort's order).

``index`` is a tuple in NumPy's indexing language (``dualtape.numpy.getitem`` builds
it); the rules prepend whole slices for a tangent's batch axes.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..registry import AXIS_GROUP, SCATTER
from .core import axis_param, batch_shape, ndim_of, shape_of, size_of
from .rules import deflinear


def _batched_index(t: Any, x: Any, index: tuple) -> tuple:
    nb = ndim_of(t) - ndim_of(x)
    return index if nb == 0 else (slice(None),) * nb + index


def _is_basic(index: tuple) -> bool:
    return all(type(i) in (int, slice, type(None), type(Ellipsis)) for i in index)


def _positions(index: tuple, shape: tuple) -> tuple[np.ndarray, tuple] | None:
    """The flat positions in ``shape`` of the elements of ``x[index]``, in C order, and that
    result's shape, when ``index`` is one integer array (in range) among whole slices;
    ``None`` for any other index."""
    arrays = [k for k, i in enumerate(index) if type(i) is np.ndarray]
    if len(arrays) != 1 or len(index) > len(shape):
        return None
    a = arrays[0]
    arr, n = index[a], shape[a]
    if arr.dtype.kind not in "iu" or arr.size == 0 or arr.min() < -n or arr.max() >= n \
            or any(i != _ALL for k, i in enumerate(index) if k != a):
        return None
    pre, post = math.prod(shape[:a]), math.prod(shape[a + 1:])
    rows = np.arange(pre)[:, None] * n + np.where(arr < 0, arr + n, arr).reshape(1, -1)
    picked = shape[:a] + arr.shape + shape[a + 1:]
    if post == 1:  # the array indexes the last axis: no inner axis to spread over
        return rows.ravel(), picked
    return (rows.reshape(-1, 1) * post + np.arange(post)).ravel(), picked


_ALL = slice(None)
#: Fewest cotangent elements for which one bincount beats np.add.at's per-element loop.
_BINCOUNT_MIN = 2048


def _scatter_impl(g: Any, index: tuple, shape: tuple) -> np.ndarray:
    dtype = np.dtype(getattr(g, "dtype", np.float64))
    if type(g) is np.ndarray and g.size >= _BINCOUNT_MIN and dtype.kind == "f":
        found = _positions(index, shape)
        if found is not None:  # one bincount sums the repeats, 2-3x faster than np.add.at
            where, picked = found
            out = np.bincount(where, weights=np.broadcast_to(g, picked).ravel(),
                              minlength=math.prod(shape))
            return out.reshape(shape).astype(dtype, copy=False)
    out = np.zeros(shape, dtype=dtype)
    if _is_basic(index):
        out[index] = g
    else:
        np.add.at(out, index, g)
    return out


getitem = deflinear(
    "getitem", lambda x, index: x[index] if type(x) is not float else np.asarray(x)[index],
    jvp=(lambda t, ans, x, index: getitem(t, index=_batched_index(t, x, index)),),
    vjp=(lambda g, ans, x, index: scatter_add(
        g, index=_batched_index(g, ans, index), shape=batch_shape(g, ans) + shape_of(x)),))

# The transpose of getitem: add g into zeros of ``shape`` at ``index``.
scatter_add = deflinear(
    "scatter_add", _scatter_impl,
    jvp=(lambda t, ans, g, index, shape: scatter_add(
        t, index=_batched_index(t, g, index), shape=batch_shape(t, g) + tuple(shape)),),
    vjp=(lambda c, ans, g, index, shape: getitem(
        c, index=(slice(None),) * (ndim_of(c) - len(shape)) + index),),
    flops=lambda ans, g, index, shape: size_of(g), sparsity=SCATTER)

take = deflinear(
    "take", lambda x, indices, axis: np.take(x, indices, axis=axis),
    (lambda g, ans, x, indices, axis: scatter_add(
        g, index=(Ellipsis, indices) + (slice(None),) * (-axis - 1),
        shape=batch_shape(g, ans) + shape_of(x)),),
    normalize=axis_param("axis"))


# ---------------------------------------------------------------- gathers whose indices come from the data
# ``sort`` and ``interp`` compute their indices from the values (argsort, searchsorted), so
# the indices change with the point: values and derivatives are those of take_along_axis
# with these indices, but the sparsity tracer gives every output element the whole fibre
# along ``axis`` (AXIS_GROUP), a pattern valid at every point. ``indices`` has the rank of
# the primal (no batch axes); its other axes are the primal's.


def _batched(indices: np.ndarray, x: Any) -> np.ndarray:
    """``indices`` with a length-1 axis for each batch axis of ``x`` (they broadcast)."""
    nb = ndim_of(x) - indices.ndim
    return indices if nb == 0 else indices.reshape((1,) * nb + indices.shape)


def _pick_impl(x: Any, indices: np.ndarray, axis: int) -> Any:
    return np.take_along_axis(np.asarray(x), _batched(indices, x), axis)


def _put_impl(g: Any, indices: np.ndarray, axis: int, length: int) -> np.ndarray:
    # add g into zeros of length ``length`` along ``axis``: one bincount over the fibres
    g = np.asarray(g)
    dtype = g.dtype if g.dtype.kind == "f" else np.dtype(np.float64)
    gm = np.moveaxis(g, axis, -1)
    idx = np.moveaxis(np.broadcast_to(_batched(indices, g), g.shape), axis, -1)
    fibres = math.prod(gm.shape[:-1])
    where = (np.arange(fibres).reshape(gm.shape[:-1] + (1,)) * length + idx).ravel()
    out = np.bincount(where, weights=gm.ravel(), minlength=fibres * length)
    return np.moveaxis(out.reshape(gm.shape[:-1] + (length,)), -1, axis).astype(dtype, copy=False)


pick_along = deflinear(
    "pick_along", _pick_impl,
    (lambda g, ans, x, indices, axis: put_along(
        g, indices=indices, axis=axis, length=shape_of(x)[axis]),),
    normalize=axis_param("axis"), sparsity=AXIS_GROUP)

# The transpose of pick_along: add g into zeros at ``indices`` along ``axis`` (``length`` long).
put_along = deflinear(
    "put_along", _put_impl,
    (lambda c, ans, g, indices, axis, length: pick_along(c, indices=indices, axis=axis),),
    flops=lambda ans, g, indices, axis, length: size_of(g),
    normalize=axis_param("axis"), sparsity=AXIS_GROUP)
