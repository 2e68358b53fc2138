"""Linear algebra: ``matmul`` on operands of rank >= 2 (``dualtape.numpy`` adds and
removes the unit axes of vectors)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..registry import Primitive, register
from .core import ndim_of, shape_of, size_of
from .fused import matmul_fused
from .rules import op_for
from .shape_ops import transpose


def _mT(x: Any) -> Any:
    return transpose(x, axes=tuple(range(-ndim_of(x), -2)) + (-1, -2))


def _matmul_impl(x: Any, y: Any) -> Any:
    # Fold a stack against one matrix into a single GEMM (vector mode's common case).
    if type(x) is np.ndarray and type(y) is np.ndarray:
        if x.ndim == 2 and y.ndim > 2 and y.shape[-1] == 1:
            return np.matmul(y[..., 0], x.T)[..., None]
        if y.ndim == 2 and x.ndim > 2:
            return np.matmul(x.reshape(-1, x.shape[-1]), y).reshape(x.shape[:-1] + (y.shape[1],))
    return np.matmul(x, y)


matmul = op_for(register(Primitive(
    "matmul", _matmul_impl,
    jvp=(lambda t, ans, x, y: matmul(t, y), lambda t, ans, x, y: matmul(x, t)),
    vjp=(lambda g, ans, x, y: matmul(g, _mT(y)), lambda g, ans, x, y: matmul(_mT(x), g)),
    flops=lambda ans, x, y: 2 * size_of(ans) * shape_of(x)[-1],
    broadcasting=True, jvp_fused=matmul_fused,
)), 2)
