"""Matrix helpers of ``dualtape.numpy``: einsum, tensordot, trace, diag, diagonal, triu,
tril, kron, cross.

``einsum`` and ``tensordot`` are the ``einsum`` primitive; the others are compositions
of primitives (indexing, masks, products), so their derivatives come for free.
"""

from __future__ import annotations

from typing import Any

import numpy as _np

from . import numpy as _dnp
from . import ops as _ops
from .npext.axes import as_int
from .ops.einsum import einsum_call, tensordot  # noqa: F401  (re-exported)
from .ops.matrix import dtype_of

__all__ = ["cross", "diag", "diagonal", "einsum", "kron", "tensordot", "trace", "tril", "triu"]

ArrayLike = Any


def einsum(subscripts: Any, *operands: Any, optimize: Any = None, **kwargs: Any) -> Any:
    """NumPy's ``einsum``: implicit or explicit output, ellipsis, repeated labels (traces and
    diagonals), the sublist form, any number of operands. ``optimize`` is accepted and ignored
    (the primitive picks its own contraction order)."""
    if kwargs:
        raise TypeError(f"einsum: unsupported keyword arguments {sorted(kwargs)}")
    return einsum_call(subscripts, *operands)


def diagonal(a: ArrayLike, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
    """The ``offset`` diagonal of the ``axis1``/``axis2`` planes, as a last axis (NumPy's order)."""
    nd = _ops.ndim_of(a)
    i, j = _dnp._one_axis(a, axis1, "axis1") % nd, _dnp._one_axis(a, axis2, "axis2") % nd
    if i == j:
        raise ValueError("diagonal: axis1 and axis2 must differ")
    offset = as_int(offset, "offset")
    moved = _dnp.moveaxis(a, (i, j), (-2, -1))
    n, m = _ops.shape_of(moved)[-2:]
    rows = _np.arange(max(0, -offset), min(n, m - offset)) if -n < offset < m else _np.arange(0)
    return _ops.getitem(moved, index=(Ellipsis, rows, rows + offset))


def trace(a: ArrayLike, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
    """Sum of the ``offset`` diagonal."""
    return _dnp.sum(diagonal(a, offset, axis1, axis2), axis=-1)


def diag(v: ArrayLike, k: int = 0) -> Any:
    """A 1-D ``v`` placed on the ``k``-th diagonal of a square matrix, or a 2-D ``v``'s
    ``k``-th diagonal."""
    nd = _ops.ndim_of(v)
    if nd == 2:
        return diagonal(v, k)
    if nd != 1:
        raise ValueError(f"diag: expected a 1-D or 2-D input, got {nd} axes")
    k = as_int(k, "k")
    n = _ops.shape_of(v)[0]
    size = n + abs(k)
    idx = _np.arange(n)
    rows, cols = (idx, idx + k) if k >= 0 else (idx - k, idx)
    return _ops.scatter_add(v, index=(rows, cols), shape=(size, size))


def _tri(m: ArrayLike, k: int, lower: bool) -> Any:
    if _ops.ndim_of(m) < 2:
        raise ValueError("tril/triu: expected at least 2 axes")
    n, c = _ops.shape_of(m)[-2:]
    mask = _np.tri(n, c, k, dtype=dtype_of(m))
    return _ops.mul(m, mask if lower else 1 - mask)


def tril(m: ArrayLike, k: int = 0) -> Any:
    """Lower triangle (on and below the ``k``-th diagonal) of the last two axes."""
    return _tri(m, k, True)


def triu(m: ArrayLike, k: int = 0) -> Any:
    """Upper triangle (on and above the ``k``-th diagonal) of the last two axes."""
    return _tri(m, k - 1, False)


def kron(a: ArrayLike, b: ArrayLike) -> Any:
    """Kronecker product (NumPy's, for inputs of any rank)."""
    sa, sb = _ops.shape_of(a), _ops.shape_of(b)
    nd = max(len(sa), len(sb))
    sa, sb = (1,) * (nd - len(sa)) + sa, (1,) * (nd - len(sb)) + sb
    a2 = _dnp.reshape(a, tuple(x for d in sa for x in (d, 1)))
    b2 = _dnp.reshape(b, tuple(x for d in sb for x in (1, d)))
    return _dnp.reshape(_ops.mul(a2, b2), tuple(x * y for x, y in zip(sa, sb, strict=True)))


def cross(a: ArrayLike, b: ArrayLike, axisa: int = -1, axisb: int = -1, axisc: int = -1,
          axis: int | None = None) -> Any:
    """Cross product of 3-vectors (or the z component for 2-vectors) along the given axes."""
    if axis is not None:
        axisa = axisb = axisc = axis
    a = _dnp.moveaxis(a, axisa, -1)
    b = _dnp.moveaxis(b, axisb, -1)
    na, nb = _ops.shape_of(a)[-1], _ops.shape_of(b)[-1]
    if na not in (2, 3) or nb not in (2, 3):
        raise ValueError(f"cross: vectors must have 2 or 3 components, got {na} and {nb}")

    def comp(x: Any, n: int, i: int) -> Any:
        return _ops.getitem(x, index=(Ellipsis, i)) if i < n else 0.0

    ax, ay, az = (comp(a, na, i) for i in range(3))
    bx, by, bz = (comp(b, nb, i) for i in range(3))
    z = _ops.sub(_ops.mul(ax, by), _ops.mul(ay, bx))
    if na == 2 and nb == 2:
        return z
    x = _ops.sub(_ops.mul(ay, bz), _ops.mul(az, by))
    y = _ops.sub(_ops.mul(az, bx), _ops.mul(ax, bz))
    shape = _np.broadcast_shapes(*(_ops.shape_of(c) for c in (x, y, z)))
    parts = [_dnp.broadcast_to(c, shape) for c in (x, y, z)]
    return _dnp.moveaxis(_ops.stack(*parts, axis=-1), -1, axisc)
