"""Linear algebra: ``matmul`` on operands of rank >= 2, and ``matvec`` for a matrix (or a
stack of them) times a vector, ``dualtape.numpy``'s route for ``A @ x`` with a 1-D ``x``
(one primitive where ``matmul`` would need ``expand_dims`` and ``squeeze`` around it).
``x @ A`` with a 1-D ``x`` adds and removes a unit axis around ``matmul``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import dispatch
from ..registry import MATMUL, Primitive, register
from . import buffers
from .core import ndim_of, shape_of, size_of
from .elementwise import mul
from .fused import matmul_fused
from .onehot import OneHot, dense
from .reductions import unbroadcast
from .rules import op_for
from .shape_ops import expand_dims, pad_batch, transpose


def _mT(x: Any) -> Any:
    return transpose(x, axes=tuple(range(-ndim_of(x), -2)) + (-1, -2))


def _matmul_impl(x: Any, y: Any) -> Any:
    # Fold a stack against one matrix into a single GEMM (vector mode's common case).
    if type(x) is np.ndarray and type(y) is np.ndarray:
        if x.ndim == 2 and y.ndim > 2 and y.shape[-1] == 1:
            return buffers.matmul(y[..., 0], x.T)[..., None]
        if y.ndim == 2 and x.ndim > 2:
            rows = math.prod(x.shape[:-1])  # not -1: an empty inner axis leaves it undefined
            return buffers.matmul(x.reshape(rows, x.shape[-1]), y).reshape(x.shape[:-1] + (y.shape[1],))
        if x.ndim == 2 and y.ndim == 2:
            if x.shape[1] == 1 == y.shape[0] and x.dtype == y.dtype and x.dtype.kind == "f" \
                    and x.dtype.isnative:
                return buffers.outer(x, y)  # one product per entry: no GEMM needed
            return buffers.matmul(x, y)
    return np.matmul(x, y)


def _plain_matrices(g: Any, a: Any) -> bool:
    return type(g) is np.ndarray and type(a) is np.ndarray and g.ndim == 2 and a.ndim == 2 \
        and dispatch.counting is None


def _matmul_vjp_x(g: Any, ans: Any, x: Any, y: Any) -> Any:
    if _plain_matrices(g, y):  # first order on matrices: no dispatch
        return _matmul_impl(g, y.T)
    got = g.matmul_t(y) if type(g) is OneHot else None
    return got if got is not None else matmul(dense(g), _mT(y))


def _matmul_vjp_y(g: Any, ans: Any, x: Any, y: Any) -> Any:
    if _plain_matrices(g, x):
        return _matmul_impl(x.T, g)
    got = g.t_matmul(x) if type(g) is OneHot else None
    return got if got is not None else matmul(_mT(x), dense(g))


matmul = op_for(register(Primitive(
    "matmul", _matmul_impl,
    jvp=(lambda t, ans, x, y: matmul(t, y), lambda t, ans, x, y: matmul(x, t)),
    vjp=(_matmul_vjp_x, _matmul_vjp_y),
    flops=lambda ans, x, y: 2 * size_of(ans) * shape_of(x)[-1],
    broadcasting=True, jvp_fused=matmul_fused, sparsity=MATMUL,
)), 2)
matmul.primitive.takes_onehot = True


def _matvec_impl(a: Any, v: Any) -> Any:
    # One matrix against a stack of vectors (vector mode's case) is one GEMM: v @ a.T.
    if type(a) is np.ndarray and a.ndim == 2:
        return buffers.matmul(v, a.T)
    return np.matmul(a, v[..., None])[..., 0]


# a is one rank above the answer, so the engines' padding (to the answer's rank) does not
# fit: matvec is not ``broadcasting``, and its rules pad and unbroadcast themselves.
def _out_rank(a: Any, v: Any) -> int:
    return max(ndim_of(a) - 1, ndim_of(v))


def _matvec_jvp_a(t: Any, ans: Any, a: Any, v: Any) -> Any:
    r = _out_rank(a, v)
    return matvec(pad_batch(t, ndim_of(t) - ndim_of(a), r + 1), v)


def _matvec_jvp_v(t: Any, ans: Any, a: Any, v: Any) -> Any:
    r = _out_rank(a, v)
    return matvec(a, pad_batch(t, ndim_of(t) - ndim_of(v), r))


def _matvec_vjp_a(g: Any, ans: Any, a: Any, v: Any) -> Any:
    outer = mul(expand_dims(g, axis=(-1,)), expand_dims(v, axis=(-2,)))
    return unbroadcast(outer, shape_of(a), ndim_of(g) - _out_rank(a, v))


def _matvec_vjp_v(g: Any, ans: Any, a: Any, v: Any) -> Any:
    if type(a) is np.ndarray and a.ndim == 2 and type(g) is np.ndarray and dispatch.counting is None:
        if g.ndim == 1 and ndim_of(v) == 1:
            return np.matmul(g, a)  # one vector, no batch: nothing to unbroadcast
        return unbroadcast(np.matmul(g, a), shape_of(v), g.ndim - _out_rank(a, v))  # g^T a, plain
    return unbroadcast(matvec(_mT(a), g), shape_of(v), ndim_of(g) - _out_rank(a, v))


matvec = op_for(register(Primitive(
    "matvec", _matvec_impl,
    jvp=(_matvec_jvp_a, _matvec_jvp_v), vjp=(_matvec_vjp_a, _matvec_vjp_v),
    flops=lambda ans, a, v: 2 * size_of(ans) * shape_of(v)[-1], sparsity=MATMUL,
)), 2)
