"""How dependencies flow through each primitive: the interpretation of the declarations.

A *dependency matrix* is a boolean ``scipy.sparse.csr_array`` of shape
``(size, n)``: row ``k`` holds the inputs that element ``k`` (in C order) of a
value may depend on.  Each primitive declares its pattern where it is defined,
``Primitive(..., sparsity=ELEMENTWISE)`` (the rule-writing helpers of
``dualtape.ops.rules`` set it by construction); the kinds are plain descriptors in
:mod:`dualtape.registry`.  This module turns each kind into a rule

    rule(prim, ans, primals, deps, params) -> csr_array | None

where ``deps[i]`` is the dependency matrix of positional argument ``i`` (``None``
for a constant or a non-differentiable argument) and the result is the
dependency matrix of ``ans`` (``None``: depends on nothing).  Rules never look at
the values of traced arguments, so the pattern they build is global: valid at
every input.  (Matmul reads the zeros of a *constant* operand, and a gather its
constant indices: the same at every input, for the same other arguments.  Indices
computed from a traced value go through ``pick_along``, declared :data:`AXIS_GROUP`.)
A primitive may also declare a rule of its own (a callable).

A primitive without a declaration gets :data:`DENSE` ("every output element
depends on every input element of every argument"), which is always correct.
A primitive whose JVP rules are all ``None`` (masks, ``sign``) depends on
nothing; the tracer reads that from the registry.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp

from .. import registry as _kinds
from ..ops import shape_of
from ..registry import Sparsity, primitives

__all__ = [
    "AXIS_GROUP", "CUMULATIVE", "DENSE", "ELEMENTWISE", "GATHER", "MATMUL", "REDUCTION", "SPREAD",
    "SCATTER", "declarations", "empty", "rule_for",
]

Rule = Callable[..., Any]


def rule_for(prim: Any) -> Rule:
    """The rule of the primitive's ``sparsity`` declaration (:data:`DENSE` when it has none)."""
    kind = getattr(prim, "sparsity", None)
    if kind is None:
        return DENSE
    if isinstance(kind, Sparsity):
        return KINDS[kind.name]
    return kind


def declarations() -> dict[str, Any]:
    """Primitive name -> its declared ``sparsity`` (kind or rule), for every registered
    primitive that declares one."""
    return {name: p.sparsity for name, p in primitives().items() if p.sparsity is not None}


# ---------------------------------------------------------------- helpers


def empty(size: int, n: int) -> sp.csr_array:
    """A dependency matrix with no dependencies."""
    return sp.csr_array((size, n), dtype=bool)


def _size(shape: tuple[int, ...]) -> int:
    return math.prod(shape)


def _positions(shape: tuple[int, ...]) -> np.ndarray:
    """``arange(size).reshape(shape)``: each element's flat position."""
    return np.arange(_size(shape), dtype=np.int64).reshape(shape)


def _spread(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> sp.csr_array:
    """The boolean matrix with ones at (rows[k], cols[k]) (repeats are merged)."""
    data = np.ones(rows.size, dtype=bool)
    m = sp.csr_array((data, (rows.ravel(), cols.ravel())), shape=shape)
    m.sum_duplicates()
    return m


def _union(mats: list) -> sp.csr_array | None:
    out = None
    for m in mats:
        if m is not None:
            out = m if out is None else out + m
    return out


def _broadcast(deps: sp.csr_array, shape: tuple[int, ...], out: tuple[int, ...]) -> sp.csr_array:
    """The rows of ``deps`` (a value of ``shape``) broadcast to ``out``."""
    if tuple(shape) == tuple(out):
        return deps
    return deps[np.broadcast_to(_positions(shape), out).ravel()]


def _group(shape: tuple[int, ...], axis: tuple[int, ...]) -> tuple[sp.csr_array, tuple]:
    """The reduction of ``shape`` over ``axis`` as a 0/1 matrix (groups x elements)."""
    nd = len(shape)
    axis = (axis,) if isinstance(axis, (int, np.integer)) else axis
    axes = {a % nd for a in axis} if nd else set()
    kept = tuple(1 if i in axes else s for i, s in enumerate(shape))
    out_pos = np.broadcast_to(_positions(kept), shape)
    size = _size(shape)
    return _spread(out_pos, np.arange(size), (_size(kept), size)), kept


# ---------------------------------------------------------------- the declaration kinds


def ELEMENTWISE(prim: Any, ans: Any, primals: list, deps: list, params: dict) -> Any:
    """Output element k depends on element k of each argument (after broadcasting)."""
    out = shape_of(ans)
    return _union([None if d is None else _broadcast(d, shape_of(x), out)
                   for x, d in zip(primals, deps, strict=True)])


def REDUCTION(prim: Any, ans: Any, primals: list, deps: list, params: dict) -> Any:
    """Output element k depends on the elements of group k (``axis``, ``keepdims`` params)."""
    reduce, _ = _group(shape_of(primals[0]), params["axis"])
    return reduce @ deps[0]


def SPREAD(prim: Any, ans: Any, primals: list, deps: list, params: dict) -> Any:
    """Output element k depends on the first argument's element for k's group (``axis``)."""
    reduce, _ = _group(shape_of(ans), params["axis"])
    return reduce.T @ deps[0]


def AXIS_GROUP(prim: Any, ans: Any, primals: list, deps: list, params: dict) -> Any:
    """Each output element depends on every element of the first argument's group along
    ``axis`` through it (softmax; ``pick_along``, whose fibre may change length)."""
    reduce, _ = _group(shape_of(primals[0]), params["axis"])
    spread, _ = _group(shape_of(ans), params["axis"])
    return spread.T @ (reduce @ deps[0])


def CUMULATIVE(prim: Any, ans: Any, primals: list, deps: list, params: dict) -> Any:
    """Element i along ``axis`` depends on elements 0..i of its fibre (cumsum)."""
    shape = shape_of(primals[0])
    axis = params["axis"] % len(shape)
    before, length, after = _size(shape[:axis]), shape[axis], _size(shape[axis + 1:])
    lower = sp.csr_array(np.tril(np.ones((length, length), dtype=bool)))
    eye = lambda k: sp.eye_array(k, dtype=bool, format="csr")  # noqa: E731
    return sp.kron(eye(before), sp.kron(lower, eye(after)), format="csr") @ deps[0]


def GATHER(prim: Any, ans: Any, primals: list, deps: list, params: dict) -> Any:
    """Every output element is one argument element (or a constant): shape ops, indexing.

    The primitive's own impl, applied to arrays of element positions in place of the
    arguments, says which element each output element comes from.
    """
    n = next(d for d in deps if d is not None).shape[1]
    blocks, positions, off = [], [], 0
    for x, d in zip(primals, deps, strict=True):
        shape = shape_of(x)
        if d is None:
            positions.append(np.full(shape, -1, dtype=np.int64))  # -1: the empty row below
        else:
            positions.append(_positions(shape) + off)
            blocks.append(d)
            off += d.shape[0]
    src = np.asarray(prim.impl(*positions, **params)).ravel()
    if len(blocks) < len(deps):  # a constant argument: its elements point at an empty row
        blocks.append(empty(1, n))
        src = np.where(src < 0, off, src)
    stacked = blocks[0] if len(blocks) == 1 else sp.vstack(blocks, format="csr")
    return stacked[src]


def SCATTER(prim: Any, ans: Any, primals: list, deps: list, params: dict) -> Any:
    """``scatter_add(g, index, shape)``: each element of ``g`` lands at ``index`` of the output."""
    g, shape = primals[0], tuple(params["shape"])
    pos = _positions(shape)[params["index"]]
    src = np.broadcast_to(_positions(shape_of(g)), pos.shape)
    return _spread(pos, src, (_size(shape), _size(shape_of(g)))) @ deps[0]


def _matmul_block(a_nz: np.ndarray, b_nz: np.ndarray, which: int) -> sp.csr_array:
    """Dependencies of ``a @ b`` (2-D) on ``a`` (which=0) or on ``b`` (which=1), flat C order.

    ``a_nz``/``b_nz`` mark the entries that may be nonzero.  out[i, k] depends on a[i, j]
    where b[j, k] may be nonzero, and on b[j, k] where a[i, j] may be nonzero.
    """
    p, q = a_nz.shape
    r = b_nz.shape[1]
    if which == 0:
        return sp.kron(sp.eye_array(p, dtype=bool), sp.csr_array(b_nz.T), format="csr")
    return sp.kron(sp.csr_array(a_nz), sp.eye_array(r, dtype=bool), format="csr")


def _nonzeros(x: Any, traced: bool) -> np.ndarray:
    """Where ``x`` may be nonzero: everywhere if traced (or not a plain array), else x != 0."""
    shape = shape_of(x)
    if traced or not isinstance(x, (np.ndarray, np.generic, float, int)):
        return np.ones(shape, dtype=bool)
    return np.asarray(x) != 0


def MATMUL(prim: Any, ans: Any, primals: list, deps: list, params: dict) -> Any:
    """``x @ y`` with NumPy's rules (1-D promotion, broadcast batch axes)."""
    x, y = primals
    xs, ys = shape_of(x), shape_of(y)
    x_nz = _nonzeros(x, deps[0] is not None)
    y_nz = _nonzeros(y, deps[1] is not None)
    x2 = x_nz.reshape((1,) + xs) if len(xs) == 1 else x_nz
    y2 = y_nz.reshape(ys + (1,)) if len(ys) == 1 else y_nz
    batch = np.broadcast_shapes(x2.shape[:-2], y2.shape[:-2])
    # for every output batch element, the batch element of x and of y it reads
    xb = np.broadcast_to(_positions(x2.shape[:-2]), batch).ravel()
    yb = np.broadcast_to(_positions(y2.shape[:-2]), batch).ravel()
    x3 = x2.reshape((-1,) + x2.shape[-2:])
    y3 = y2.reshape((-1,) + y2.shape[-2:])
    out = None
    for which, (d, src) in enumerate(((deps[0], xb), (deps[1], yb))):
        if d is None:
            continue
        rows, cols = [], []
        in_block = (x3 if which == 0 else y3).shape[1] * (x3 if which == 0 else y3).shape[2]
        out_block = x3.shape[1] * y3.shape[2]
        for b in range(len(xb)):
            blk = _matmul_block(x3[xb[b]], y3[yb[b]], which).tocoo()
            rows.append(blk.row + b * out_block)
            cols.append(blk.col + src[b] * in_block)
        in_size = _size(shape_of(primals[which]))
        lin = _spread(np.concatenate(rows), np.concatenate(cols), (len(xb) * out_block, in_size))
        out = _union([out, lin @ d])
    return out


def DENSE(prim: Any, ans: Any, primals: list, deps: list, params: dict) -> Any:
    """The fallback: every output element depends on every element of every traced argument."""
    n = next(d for d in deps if d is not None).shape[1]
    cols = np.unique(np.concatenate([d.indices for d in deps if d is not None]))
    size = _size(shape_of(ans))
    indptr = np.arange(size + 1, dtype=np.int64) * cols.size
    return sp.csr_array((np.ones(size * cols.size, dtype=bool), np.tile(cols, size), indptr),
                        shape=(size, n))


# ---------------------------------------------------------------- kind -> rule

KINDS: dict[str, Rule] = {
    _kinds.ELEMENTWISE.name: ELEMENTWISE, _kinds.REDUCTION.name: REDUCTION,
    _kinds.AXIS_GROUP.name: AXIS_GROUP, _kinds.CUMULATIVE.name: CUMULATIVE,
    _kinds.GATHER.name: GATHER, _kinds.SCATTER.name: SCATTER, _kinds.MATMUL.name: MATMUL,
    _kinds.SPREAD.name: SPREAD, _kinds.DENSE.name: DENSE,
}
