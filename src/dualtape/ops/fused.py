"""Fused forward kernels (``Primitive.jvp_fused``) and the in-place kernels they share.

Each kernel writes a primitive's answer and its tangent into one stacked array ``S``
(``S[0]`` the answer, ``S[1]`` the tangent), computing op for op what ``impl`` and the
JVP rules compute, for plain C-ordered float arrays only; it returns ``None`` to
decline anything else.  The forward engine calls them outside vector mode and outside
``dt.count()``.  Plain NumPy only: nothing here applies a primitive.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import buffers

__all__ = ["matmul_fused", "relu_fused", "stack_for", "sub_fused", "tanh_fused", "tanh_tangent_into"]


def tanh_tangent_into(t: Any, y: Any, out: np.ndarray) -> np.ndarray:
    """``t * (1 - y^2)`` with no temporary besides ``out``: on every tanh layer's hot path."""
    np.multiply(y, y, out=out)
    np.subtract(1.0, out, out=out)
    return np.multiply(t, out, out=out)


def stack_for(x: Any, tx: Any) -> np.ndarray | None:
    """An empty ``(2, *x.shape)`` array when ``x`` and its tangent are C-ordered arrays of one
    float dtype (NumPy would give other layouts the layout of ``x``, and the stack cannot)."""
    if (type(x) is not np.ndarray or type(tx) is not np.ndarray or not x.ndim
            or tx.shape != x.shape or tx.dtype != x.dtype or x.dtype.kind != "f"
            or not (x.flags.c_contiguous and tx.flags.c_contiguous)):
        return None
    return buffers.empty((2,) + x.shape, x.dtype)


def tanh_fused(x: Any, tx: Any, sx: Any) -> np.ndarray | None:
    s = stack_for(x, tx)
    if s is not None:
        y = np.tanh(x, out=s[0])
        tanh_tangent_into(tx, y, s[1])
    return s


def relu_fused(x: Any, tx: Any, sx: Any) -> np.ndarray | None:
    s = stack_for(x, tx)
    if s is not None:
        y = np.maximum(x, 0, out=s[0])
        np.greater(y, 0, out=s[1])  # positive_mask, written as 1.0 / 0.0
        np.multiply(tx, s[1], out=s[1])
    return s


def sub_fused(x: Any, tx: Any, sx: Any, y: Any, ty: Any, sy: Any) -> np.ndarray | None:
    # Both operands traced, one shape: tx - ty in one pass, where the rules add tx to -ty.
    # Only x's layout decides the stack's (NumPy's for x - y); the tangents may be views.
    if tx is None or ty is None or type(x) is not np.ndarray or not x.ndim \
            or x.dtype.kind != "f" or not x.flags.c_contiguous:
        return None
    for a in (y, tx, ty):
        if type(a) is not np.ndarray or a.shape != x.shape or a.dtype != x.dtype:
            return None
    s = buffers.empty((2,) + x.shape, x.dtype)
    np.subtract(x, y, out=s[0])
    np.subtract(tx, ty, out=s[1])
    return s


def matmul_fused(x: Any, tx: Any, sx: Any, y: Any, ty: Any, sy: Any) -> np.ndarray | None:
    # Matrices of one float dtype only; the answer and its tangent land in one (2, m, n) stack.
    if type(x) is not np.ndarray or type(y) is not np.ndarray or x.ndim != 2 or y.ndim != 2:
        return None
    dtype = x.dtype
    if dtype.kind != "f" or y.dtype != dtype:
        return None
    for p, t in ((x, tx), (y, ty)):
        if t is not None and (type(t) is not np.ndarray or t.dtype != dtype or t.shape != p.shape):
            return None
    m, n = x.shape[0], y.shape[1]
    if tx is not None and sx is not None:
        # [x; tx] @ y: the answer and x's tangent term from one GEMM of twice the rows
        s = buffers.matmul(sx.reshape(2 * m, x.shape[1]), y).reshape(2, m, n)
    else:
        s = buffers.empty((2, m, n), dtype)
        np.matmul(x, y, out=s[0])
        if tx is None:
            np.matmul(x, ty, out=s[1])
            return s
        np.matmul(tx, y, out=s[1])
    if ty is not None:
        s[1] += buffers.matmul(x, ty)
    return s
