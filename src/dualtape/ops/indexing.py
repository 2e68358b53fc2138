"""Indexing primitives: getitem, its transpose scatter_add, and take.

``index`` is a tuple in NumPy's indexing language (``dualtape.numpy.getitem`` builds
it); the rules prepend whole slices for a tangent's batch axes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..registry import SCATTER
from .core import axis_param, batch_shape, ndim_of, shape_of, size_of
from .rules import deflinear


def _batched_index(t: Any, x: Any, index: tuple) -> tuple:
    nb = ndim_of(t) - ndim_of(x)
    return index if nb == 0 else (slice(None),) * nb + index


def _is_basic(index: tuple) -> bool:
    return all(type(i) in (int, slice, type(None), type(Ellipsis)) for i in index)


def _scatter_impl(g: Any, index: tuple, shape: tuple) -> np.ndarray:
    dtype = np.dtype(getattr(g, "dtype", np.float64))
    if _is_basic(index):
        out = np.zeros(shape, dtype=dtype)
        out[index] = g
        return out
    size = int(np.prod(shape))
    if 4 * np.size(g) >= size and dtype.kind == "f":
        # Where each element of g lands, read off an arange through the same index; one
        # bincount sums the repeats (np.add.at's per-element loop is 3-4x slower).
        where = np.arange(size).reshape(shape)[index]
        out = np.bincount(where.ravel(), weights=np.broadcast_to(g, where.shape).ravel(),
                          minlength=size)
        return out.reshape(shape).astype(dtype, copy=False)
    out = np.zeros(shape, dtype=dtype)
    np.add.at(out, index, g)
    return out


getitem = deflinear(
    "getitem", lambda x, index: x[index],
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
