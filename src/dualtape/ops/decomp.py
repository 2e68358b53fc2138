"""Decompositions: ``eigh``, ``svd`` and ``qr``, each one primitive with one packed output.

A primitive has one output, so each factorisation returns its factors stacked
along the second-last axis, and ``dualtape.numpy.linalg`` slices them apart
(the slices are ordinary ``getitem`` ops, so a factor nobody uses gets a zero
cotangent):

* ``eigh``: ``(..., 1 + n, n)`` = eigenvalues (one row) over eigenvectors.
* ``svd``:  ``(..., m + 1 + n, k)`` = U over the singular values over V (= Vh^T).
* ``qr``:   ``(..., m + n, n)`` = Q over R (``m >= n``; the wide case is composed).

At a degenerate spectrum (repeated eigenvalues or singular values) eigenvector
and singular-vector derivatives do not exist: the rules warn with
:class:`DegenerateSpectrumWarning` and the affected entries come out ``nan``.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from .. import ops
from ..dispatch import concrete
from ..ops import add, concatenate, expand_dims, getitem, matmul, mul, shape_of, sub, sum_
from ..registry import DENSE, Primitive, register
from .matrix import batch_count, dtype_of, mT, solve_triangular, sym, thin_svd_flops

__all__ = ["DegenerateSpectrumWarning", "eigh", "svd", "qr"]


class DegenerateSpectrumWarning(RuntimeWarning):
    """A derivative was asked at repeated eigenvalues or singular values."""


def _concrete(x: Any) -> np.ndarray:
    return np.asarray(concrete(x))


def _rows(x: Any, start: int, stop: int | None) -> Any:
    return getitem(x, index=(Ellipsis, slice(start, stop), slice(None)))


def _row(x: Any, i: int) -> Any:
    return getitem(x, index=(Ellipsis, i, slice(None)))


def _diag_part(x: Any) -> Any:
    """The diagonal of each matrix, as a vector."""
    n = shape_of(x)[-1]
    return sum_(mul(x, np.eye(n, dtype=dtype_of(x))), axis=(-1,), keepdims=False)


def _diag_matrix(v: Any) -> Any:
    n = shape_of(v)[-1]
    return mul(expand_dims(v, axis=(-2,)), np.eye(n, dtype=dtype_of(v)))


def _is_zero(g: Any) -> bool:
    """A cotangent block that is a plain array of zeros (an unused factor)."""
    return type(g) is np.ndarray and not g.any()


def _gaps(vals: Any, seen: Any = None) -> tuple[Any, np.ndarray]:
    """``F[i, j] = 1 / (vals[j] - vals[i])`` off the diagonal, 0 on it and where two values
    coincide, and the mask of those pairs; ``seen`` (default ``vals``) are the values whose
    coincidence counts (the singular values, where ``vals`` are their squares)."""
    d = sub(expand_dims(vals, axis=(-2,)), expand_dims(vals, axis=(-1,)))
    seen = _concrete(vals if seen is None else seen)
    gap = seen[..., None, :] - seen[..., :, None]
    n = gap.shape[-1]
    eye = np.eye(n, dtype=bool)
    # each matrix's own scale: a larger matrix in the same stack must not hide its gaps
    scale = np.max(np.abs(seen), axis=-1, initial=0.0)[..., None, None]
    tol = 10 * n * np.finfo(gap.dtype).eps * np.maximum(scale, np.finfo(gap.dtype).tiny)
    bad = (np.abs(gap) <= tol) & ~eye
    f = ops.reciprocal(ops.where(eye | bad, 1.0, d))
    return ops.where(eye | bad, 0.0, f), bad


def _warn_vectors(name: str, what: str) -> None:
    warnings.warn(f"{name}: repeated {what}; the derivatives of the corresponding vectors "
                  "do not exist and are set to nan", DegenerateSpectrumWarning, stacklevel=3)


def _inverse_gaps(vals: Any, name: str, what: str, seen: Any = None) -> Any:
    """:func:`_gaps`' ``F`` with ``nan`` where two values coincide (and a
    :class:`DegenerateSpectrumWarning`): the forward rules' (a nan reaches only the columns
    of the vectors of a repeated group)."""
    f, bad = _gaps(vals, seen)
    if bad.any():
        _warn_vectors(name, what)
        f = ops.where(bad, np.nan, f)
    return f


def _gap_product(vals: Any, p: Any, name: str, what: str, seen: Any = None,
                 symmetric: bool = False) -> Any:
    """``F * p`` for the reverse rules: 0 at a pair of coinciding values where ``p`` is 0
    there (the cotangent does not mix their vectors: the derivative exists), ``nan`` where it
    is not (with a :class:`DegenerateSpectrumWarning`); a nan would spread to every entry.
    ``symmetric``: the rule keeps only the symmetric part of ``F * p``, which at such a pair
    is ``F_ij (p_ij - p_ji) / 2``: the derivative exists where ``p`` is symmetric there (a
    function of the group's projector, not of a basis of it)."""
    f, bad = _gaps(vals, seen)
    out = mul(f, p)
    pc = _concrete(p)
    if symmetric:
        scale = np.max(np.abs(pc), axis=(-2, -1), keepdims=True, initial=0.0)
        pc = pc - np.swapaxes(pc, -1, -2)
        pc = np.where(np.abs(pc) <= 10 * pc.shape[-1] * np.finfo(pc.dtype).eps * scale, 0.0, pc)
    mixed = bad & (pc != 0)
    if mixed.any():
        _warn_vectors(name, what)
        out = ops.where(mixed, np.nan, out)
    return out


def _warn_degenerate(vals: Any, g: Any, name: str, what: str) -> None:
    """Warn when ``vals`` has repeated entries whose cotangents ``g`` differ: a cotangent
    equal across each repeated group (a trace, a nuclear norm, any symmetric function)
    gives the same answer for every choice of basis, so the derivative exists there."""
    v = _concrete(vals)
    if v.shape[-1] < 2:
        return
    gc = _concrete(g)
    order = np.argsort(v, axis=-1)
    v = np.take_along_axis(v, order, axis=-1)
    gs = np.take_along_axis(gc, np.broadcast_to(order, gc.shape[:gc.ndim - v.ndim] + order.shape),
                            axis=-1)
    n, eps = v.shape[-1], np.finfo(v.dtype).eps

    def close(x):  # neighbours equal up to rounding, relative to the largest entry of the row
        scale = np.max(np.abs(x), axis=-1, keepdims=True, initial=0.0)
        return np.abs(np.diff(x, axis=-1)) <= 10 * n * eps * np.maximum(scale, np.finfo(v.dtype).tiny)

    if np.any(close(v) & ~close(gs)):
        warnings.warn(f"{name}: repeated {what} with different cotangents; the derivative there "
                      "is one of many one-sided choices (the function is not differentiable)",
                      DegenerateSpectrumWarning, stacklevel=3)


# ---------------------------------------------------------------- eigh


def _eigh_impl(a):
    w, v = np.linalg.eigh(0.5 * (a + np.swapaxes(a, -1, -2)))
    return np.concatenate([w[..., None, :], v], axis=-2)


def _eigh_jvp(t, ans, a):
    w, v = _row(ans, 0), _rows(ans, 1, None)
    p = matmul(mT(v), matmul(sym(t), v))
    dv = matmul(v, mul(_inverse_gaps(w, "eigh", "eigenvalues"), p))
    return concatenate(expand_dims(_diag_part(p), axis=(-2,)), dv, axis=-2)


def _eigh_vjp(g, ans, a):
    w, v = _row(ans, 0), _rows(ans, 1, None)
    gw, gv = _row(g, 0), _rows(g, 1, None)
    inner = _diag_matrix(gw)
    if _is_zero(gv):
        _warn_degenerate(w, gw, "eigh", "eigenvalues")
    else:
        inner = add(inner, _gap_product(w, matmul(mT(v), gv), "eigh", "eigenvalues",
                                        symmetric=True))
    return sym(matmul(v, matmul(inner, mT(v))))


def _jax_eigh(a):
    import jax.numpy as jnp

    w, v = jnp.linalg.eigh(a, symmetrize_input=True)
    return jnp.concatenate([w[..., None, :], v], axis=-2)


eigh = register(Primitive(
    "eigh", _eigh_impl, jvp=(_eigh_jvp,), vjp=(_eigh_vjp,),
    flops=lambda ans, a: batch_count(a) * 9 * shape_of(a)[-1] ** 3,
    saves="ans", jax_impl=_jax_eigh,
    sparsity=DENSE,
)).bind


# ---------------------------------------------------------------- svd (reduced)


def _svd_impl(a):
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    return np.concatenate([u, s[..., None, :], np.swapaxes(vh, -1, -2)], axis=-2)


def _svd_parts(x, m):
    return _rows(x, 0, m), _row(x, m), _rows(x, m + 1, None)


def _over_s(x, s):
    """``x`` with column k divided by ``s[k]``; a zero singular value's column is 0 where
    ``x``'s is all 0, and ``nan`` (with a :class:`DegenerateSpectrumWarning`) where it is not:
    that singular value's vector has no derivative there."""
    zero = _concrete(s) == 0
    out = mul(x, expand_dims(ops.where(zero, 0.0, ops.reciprocal(ops.where(zero, 1.0, s))),
                             axis=(-2,)))
    lost = zero & np.any(_concrete(x) != 0, axis=-2)  # per column: the whole vector
    lost = np.broadcast_to(lost[..., None, :], shape_of(x))
    if lost.any():
        warnings.warn("svd: a zero singular value of a non-square matrix; the derivatives of "
                      "its vectors do not exist and are set to nan", DegenerateSpectrumWarning,
                      stacklevel=3)
        out = ops.where(lost, np.nan, out)
    return out


def _svd_jvp(t, ans, a):
    m, n = shape_of(a)[-2:]
    u, s, v = _svd_parts(ans, m)
    f = _inverse_gaps(mul(s, s), "svd", "singular values", seen=s)
    dp = matmul(mT(u), matmul(t, v))
    row, col = expand_dims(s, axis=(-2,)), expand_dims(s, axis=(-1,))
    du = matmul(u, mul(f, add(mul(dp, row), mul(col, mT(dp)))))
    dv = matmul(v, mul(f, add(mul(col, dp), mul(mT(dp), row))))
    if m > n:  # (I - U U^T) t V S^{-1}
        du = add(du, _over_s(sub(matmul(t, v), matmul(u, dp)), s))
    if n > m:  # (I - V V^T) t^T U S^{-1}
        dv = add(dv, _over_s(sub(matmul(mT(t), u), matmul(v, mT(dp))), s))
    return concatenate(du, expand_dims(_diag_part(dp), axis=(-2,)), dv, axis=-2)


def _svd_vjp(g, ans, a):
    m, n = shape_of(a)[-2:]
    u, s, v = _svd_parts(ans, m)
    gu, gs, gv = _svd_parts(g, m)
    pbar = _diag_matrix(gs)
    row, col = expand_dims(s, axis=(-2,)), expand_dims(s, axis=(-1,))
    if _is_zero(gu) and _is_zero(gv):
        _warn_degenerate(s, gs, "svd", "singular values")
        return matmul(u, matmul(pbar, mT(v)))
    s2 = mul(s, s)
    ju, jv = matmul(mT(u), gu), matmul(mT(v), gv)
    j = _gap_product(s2, ju, "svd", "singular values", seen=s)
    k = _gap_product(s2, jv, "svd", "singular values", seen=s)
    pbar = add(pbar, add(mul(add(j, mT(j)), row), mul(col, add(k, mT(k)))))
    out = matmul(u, matmul(pbar, mT(v)))
    if m > n:
        out = add(out, matmul(_over_s(sub(gu, matmul(u, ju)), s), mT(v)))
    if n > m:
        out = add(out, matmul(u, mT(_over_s(sub(gv, matmul(v, jv)), s))))
    return out


def _jax_svd(a):
    import jax.numpy as jnp

    u, s, vh = jnp.linalg.svd(a, full_matrices=False)
    return jnp.concatenate([u, s[..., None, :], jnp.swapaxes(vh, -1, -2)], axis=-2)


def _svd_flops(ans, a):
    return batch_count(a) * thin_svd_flops(*shape_of(a)[-2:])


svd = register(Primitive(
    "svd", _svd_impl, jvp=(_svd_jvp,), vjp=(_svd_vjp,), flops=_svd_flops,
    saves="both", jax_impl=_jax_svd,
    sparsity=DENSE,
)).bind


# ---------------------------------------------------------------- qr (reduced, m >= n)


def _qr_flops(ans, a):
    # Householder R, 2n^2(m - n/3), and as much again to form the thin Q (m >= n)
    m, n = shape_of(a)[-2:]
    return batch_count(a) * 4 * n * n * (3 * m - n) // 3


def _qr_impl(a):
    if a.shape[-2] < a.shape[-1]:
        raise ValueError("qr primitive: needs rows >= columns (dualtape.numpy.linalg.qr "
                         "composes the wide case)")
    q, r = np.linalg.qr(a)
    return np.concatenate([q, r], axis=-2)


def _strict_lower(x):
    n = shape_of(x)[-1]
    return mul(x, np.tril(np.ones((n, n), dtype_of(x)), -1))


def _r_solve(r, x, trans):
    """``x R^{-1}`` (trans=1) or ``x R^{-T}`` (trans=0), through R's triangular solves."""
    return mT(solve_triangular(r, mT(x), lower=False, trans=trans, unit_diagonal=False))


def _qr_jvp(t, ans, a):
    m = shape_of(a)[-2]
    q, r = _rows(ans, 0, m), _rows(ans, m, None)
    c = _r_solve(r, t, 1)
    b = matmul(mT(q), c)
    low = _strict_lower(b)
    omega = sub(low, mT(low))
    dq = add(matmul(q, sub(omega, b)), c)
    dr = matmul(sub(b, omega), r)
    return concatenate(dq, dr, axis=-2)


def _qr_vjp(g, ans, a):
    m = shape_of(ans)[-2] - shape_of(ans)[-1]  # a is not saved: Q over R has m + n rows
    q, r = _rows(ans, 0, m), _rows(ans, m, None)
    gq, gr = _rows(g, 0, m), _rows(g, m, None)
    nmat = sub(matmul(mT(q), gq), matmul(gr, mT(r)))
    bbar = sub(_strict_lower(sub(nmat, mT(nmat))), nmat)
    cbar = add(gq, matmul(q, bbar))
    return _r_solve(r, cbar, 0)


def _jax_qr(a):
    import jax.numpy as jnp

    q, r = jnp.linalg.qr(a)
    return jnp.concatenate([q, r], axis=-2)


qr = register(Primitive(
    "qr", _qr_impl, jvp=(_qr_jvp,), vjp=(_qr_vjp,),
    flops=_qr_flops, saves="ans", jax_impl=_jax_qr,
    sparsity=DENSE,
)).bind
