"""Faster NumPy kernels: sums over adjacent axes before the last, reductions over the last axis of a stack
of short rows, and broadcast views.

``np.add.reduce(x, axis=-1)`` and ``np.minimum.reduce`` walk a ``(n, k)`` array row by
row: with ``k`` in the tens, NumPy's per-row overhead dominates (a sum over a (10000, 16)
array measured 194 µs, the same sum as ``x @ ones`` 23 µs; a minimum 461 µs, ``k`` pairwise
``np.minimum`` calls 153 µs). GradBench's kmeans and gmm reduce exactly such arrays.
NumPy's sum over any axes but the last is slow whenever the axes after them are short
(axis 0 of a (1000, 10) array: 22 µs, as ``ones @ x`` 4.4 µs; axis 0 of (100000, 2):
1.4 ms against 43 µs; axis 1 of (5, 1000, 2): 73 µs against 3 µs), and was never faster
than BLAS in any shape measured; unbroadcasting a bias-like operand is such a sum.
The results are the same values, summed in BLAS's order rather than NumPy's.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .core import shape_of

__all__ = ["broadcast_view", "compact", "extremum_last", "short_rows", "sum_block", "sum_last", "times_rows"]

_FLOATS = (np.dtype(np.float64), np.dtype(np.float32))
#: Longest last axis taken column by column by :func:`extremum_last` (past it, NumPy's own
#: reduction is faster).
EXTREMUM_MAX_K = 32
_ones: dict[tuple[int, np.dtype], np.ndarray] = {}


def short_rows(x: Any, axis: tuple) -> bool:
    """Whether ``x`` is a C-contiguous float stack whose last axis alone is reduced."""
    return (axis == (-1,) and type(x) is np.ndarray and x.ndim >= 2 and x.dtype in _FLOATS
            and x.shape[-1] > 1 and x.flags.c_contiguous)


def _ones_of(n: int, dtype: np.dtype) -> np.ndarray:
    key = (n, dtype)
    ones = _ones.get(key)
    if ones is None:
        if len(_ones) >= 64:
            _ones.clear()
        ones = _ones[key] = np.ones(n, dtype)
        ones.flags.writeable = False
    return ones


def sum_last(x: np.ndarray, keepdims: bool) -> np.ndarray:
    """``x.sum(axis=-1)`` as a matrix-vector product with ones."""
    out = np.matmul(x, _ones_of(x.shape[-1], x.dtype))
    return out[..., None] if keepdims else out


def times_rows(c: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``c * x`` for ``c`` of shape ``x.shape[:-1] + (1,)``: one value per row of ``x``.

    NumPy's broadcast loop runs once per row; with rows of at most 32 elements and 2^15
    elements or more, repeating ``c`` along the row and multiplying in place is one flat
    pass (gmm's (50, 1000, 20): 427 µs against 595 µs). The products are the same."""
    d = x.shape[-1]
    if (d > 32 or x.size < 1 << 15 or c.shape != x.shape[:-1] + (1,) or c.dtype != x.dtype
            or x.dtype not in _FLOATS or not x.flags.c_contiguous):
        return np.multiply(c, x)
    out = np.repeat(c, d, axis=-1)
    return np.multiply(out, x, out=out)


def extremum_last(ufunc: np.ufunc, x: np.ndarray, keepdims: bool) -> np.ndarray:
    """``ufunc.reduce(x, axis=-1)`` for ``np.maximum``/``np.minimum``, one column at a time."""
    out = x[..., 0].copy()
    for j in range(1, x.shape[-1]):
        ufunc(out, x[..., j], out=out)
    return out[..., None] if keepdims else out


def sum_block(x: Any, axis: tuple, keepdims: bool) -> np.ndarray | None:
    """``x.sum(axis)`` as ``ones @ x`` when ``axis`` is one run of adjacent axes with some
    axis kept after it (batched over the axes before it), on a non-empty C-contiguous float
    array; ``None`` otherwise (NumPy's reduction then)."""
    if type(x) is not np.ndarray or x.ndim < 2 or x.dtype not in _FLOATS \
            or not x.flags.c_contiguous or x.size == 0:
        return None
    nd = x.ndim
    ax = sorted(a % nd for a in axis)
    if not ax:
        return None
    lo, hi = ax[0], ax[-1] + 1
    if hi - lo != len(ax) or hi >= nd:
        return None
    shape = x.shape
    m, pre, post = math.prod(shape[lo:hi]), shape[:lo], shape[hi:]
    if m < 2:
        return None
    stack = x.reshape(math.prod(pre), m, -1) if pre else x.reshape(m, -1)
    out = np.matmul(_ones_of(m, x.dtype), stack)
    return out.reshape(pre + (1,) * len(ax) + post if keepdims else pre + post)


def broadcast_view(x: Any, shape: tuple) -> Any:
    """``np.broadcast_to(x, shape)``: the same read-only view, built directly from strides
    for a contiguous array (``np.broadcast_to`` costs about 2 µs per call in Python, which
    every reduction's cotangent paid)."""
    if type(x) is not np.ndarray:
        if type(x) is not np.float64 and type(x) is not float:
            return np.broadcast_to(x, shape)
        x = np.array(x)
    if x.ndim == 0 and x.dtype.kind in "fc":  # a scalar: every stride 0
        out = np.ndarray(shape, x.dtype, x, 0, (0,) * len(shape))
        out.flags.writeable = False
        return out
    nd, pad = len(shape), len(shape) - x.ndim
    if pad < 0 or not x.flags.c_contiguous or x.dtype.hasobject:
        return np.broadcast_to(x, shape)
    strides = [0] * nd
    for k, (n, st) in enumerate(zip(x.shape, x.strides, strict=True)):
        if n == shape[pad + k]:
            strides[pad + k] = st if n > 1 else 0
        elif n != 1:
            return np.broadcast_to(x, shape)  # NumPy's own error
    out = np.ndarray(shape, x.dtype, x, 0, tuple(strides))
    out.flags.writeable = False
    return out


def compact(t: Any, like: Any) -> Any:
    """``t`` with each broadcast axis over ``like``'s shape (stride 0, and as long as ``like``'s
    axis) cut to length one: the same values once broadcast against ``like``, so an elementwise
    op on ``t`` alone costs its compact size. Batch axes and other arrays: ``t`` as it is."""
    if type(t) is not np.ndarray or 0 not in t.strides:
        return t
    ls = shape_of(like)
    pad = t.ndim - len(ls)
    if pad < 0:
        return t
    cut = [slice(None)] * t.ndim
    for k, n in enumerate(ls):
        if t.strides[pad + k] == 0 and t.shape[pad + k] == n > 1:
            cut[pad + k] = slice(0, 1)
    return t[tuple(cut)]
