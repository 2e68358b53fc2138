"""Reduction and scan primitives beyond ``dualtape.ops``: ``var`` and ``cumprod``.

Axis parameters are negative (a tuple for ``var``, one int for ``cumprod``), so the
rules stay valid when vector mode adds batch axes in front.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import ops
from ..dispatch import concrete
from ..registry import CUMULATIVE, REDUCTION, Primitive, register
from .core import axis_param
from .elementwise import mul_zero_wins

__all__ = ["cumprod", "var"]


# ---------------------------------------------------------------- variance


def _var_scale(x: Any, axis: tuple[int, ...], ddof: int) -> float:
    # NumPy divides by max(n - ddof, 0): the variance is inf there, and so is its slope
    dof = ops.count_over(x, axis) - ddof
    return 2.0 / dof if dof > 0 else math.inf


def _centered(x: Any, axis: tuple[int, ...]) -> Any:
    return ops.sub(x, ops.mean(x, axis=axis, keepdims=True))


def _var_jvp(t, ans, x, axis, ddof, keepdims):
    # d var = 2 / (n - ddof) * sum(t * (x - mean)): the mean's own tangent sums to zero against it
    s = ops.sum_(ops.mul(t, _centered(x, axis)), axis=axis, keepdims=keepdims)
    return ops.mul(s, _var_scale(x, axis, ddof))


def _var_vjp(g, ans, x, axis, ddof, keepdims):
    g = g if keepdims else ops.expand_dims(g, axis=axis)
    return ops.mul(ops.mul(g, _var_scale(x, axis, ddof)), _centered(x, axis))


var = register(Primitive(
    "var", lambda x, axis, ddof, keepdims: np.var(x, axis=axis, ddof=ddof, keepdims=keepdims),
    jvp=(_var_jvp,), vjp=(_var_vjp,),
    flops=lambda ans, x, axis, ddof, keepdims: 4 * ops.size_of(x), normalize=axis_param("axis"),
    sparsity=REDUCTION,
)).bind

# ---------------------------------------------------------------- cumulative product


def _to_last(v: Any, axis: int) -> Any:
    if axis == -1:
        return v
    nd = ops.ndim_of(v)
    perm = tuple(i for i in range(-nd, 0) if i != axis) + (axis,)
    return ops.transpose(v, axes=perm)


def _from_last(v: Any, axis: int) -> Any:
    if axis == -1:
        return v
    nd = ops.ndim_of(v)
    perm = list(range(-nd, -1))
    perm.insert(nd + axis, -1)
    return ops.transpose(v, axes=tuple(perm))


def _rev_cumsum(v: Any, axis: int) -> Any:
    return ops.flip(ops.cumsum(ops.flip(v, axis=(axis,)), axis=axis), axis=(axis,))


def _partial_products(x: Any, axis: int) -> Any:
    """W[..., j, i] = prod of x_k for k <= i, k != j, when j <= i, else 0 (axis moved last).

    Division-free, so exact when ``x`` holds zeros or infinities; costs n^2 per line.
    """
    xm = _to_last(x, axis)
    n = ops.shape_of(xm)[-1]
    eye = np.eye(n, dtype=bool)
    others = ops.where(eye, 1.0, ops.expand_dims(xm, axis=(-2,)))
    return ops.where(np.triu(np.ones((n, n), dtype=bool)), cumprod(others, axis=-1), 0.0)


def _unsafe_to_divide(x: Any, ans: Any) -> bool:
    # a zero, inf or NaN in x, or products over- or underflowed: dividing them by x is wrong
    v, a = np.asarray(concrete(x)), np.abs(np.asarray(concrete(ans)))
    return bool(np.any(v == 0) or not np.all(np.isfinite(v)) or not np.all(np.isfinite(a))
                or np.any(a < np.finfo(np.result_type(a, np.float32)).tiny))


def _cumprod_jvp(t, ans, x, axis):
    if not _unsafe_to_divide(x, ans):
        return ops.mul(ans, ops.cumsum(ops.div(t, x), axis=axis))
    w = _partial_products(x, axis)
    tm = ops.expand_dims(_to_last(t, axis), axis=(-1,))
    return _from_last(ops.sum_(mul_zero_wins(tm, w), axis=(-2,), keepdims=False), axis)


def _cumprod_vjp(g, ans, x, axis):
    if not _unsafe_to_divide(x, ans):
        return ops.div(_rev_cumsum(ops.mul(g, ans), axis), x)
    w = _partial_products(x, axis)
    gm = ops.expand_dims(_to_last(g, axis), axis=(-2,))
    return _from_last(ops.sum_(mul_zero_wins(gm, w), axis=(-1,), keepdims=False), axis)


cumprod = register(Primitive(
    "cumprod", lambda x, axis: np.cumprod(x, axis=axis),
    jvp=(_cumprod_jvp,), vjp=(_cumprod_vjp,),
    flops=lambda ans, x, axis: ops.size_of(x), saves="both", normalize=axis_param("axis"),
    sparsity=CUMULATIVE,
)).bind
