"""Linear-algebra primitives: solve, inv, det, slogdet, cholesky, triangular solve, pinv.

Operands are stacks of matrices (the last two axes); leading axes broadcast as
in NumPy.  The rules are written with dualtape ops (matmul, these primitives
themselves), so they differentiate again to any order, and every matrix
product broadcasts over the leading batch axes of vector mode.

``cholesky`` reads its input as ``(a + a^T) / 2`` (JAX does the same), so its
value and derivative agree for any input, symmetric or not.  The spectral
decompositions (eigh, svd, qr) live in :mod:`dualtape.ops.decomp`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import ops
from ..dispatch import concrete
from ..ops import expand_dims, matmul, mul, neg, shape_of, size_of, sub, sum_
from ..registry import DENSE, Primitive, register

__all__ = ["solve", "inv", "det", "logabsdet", "det_sign", "cholesky", "solve_triangular",
           "pinv", "mT", "sym", "dtype_of", "batch_count", "thin_svd_flops"]


def mT(x: Any) -> Any:
    """Swap the last two axes."""
    nd = len(shape_of(x))
    return ops.transpose(x, axes=tuple(range(-nd, -2)) + (-1, -2))


def sym(x: Any) -> Any:
    """``(x + x^T) / 2`` over the last two axes."""
    return mul(0.5, ops.add(x, mT(x)))


def dtype_of(x: Any) -> np.dtype:
    return np.dtype(getattr(x, "dtype", np.float64))


def batch_count(x: Any) -> int:
    """Number of matrices in a stack."""
    return math.prod(shape_of(x)[:-2])


def _last2(x: Any) -> Any:
    """Put back the two matrix axes a scalar-per-matrix result has lost."""
    return expand_dims(x, axis=(-2, -1))


def _jax(name: str):
    """A ``jax.numpy.linalg`` function by name, imported on first call."""
    def call(*args: Any, **params: Any) -> Any:
        import jax.numpy as jnp

        return getattr(jnp.linalg, name)(*args, **params)

    return call


def _cubic(ans: Any, a: Any, *rest: Any, **params: Any) -> int:
    n = shape_of(a)[-1]
    return batch_count(a) * 2 * n ** 3


def _lu(ans: Any, a: Any) -> int:
    """One LU factorisation per matrix, 2n^3/3 (det and slogdet need nothing more)."""
    return batch_count(a) * 2 * shape_of(a)[-1] ** 3 // 3


# ---------------------------------------------------------------- solve, inv


def _solve_vjp_b(g, ans, a, b):
    return solve(mT(a), g)


solve = register(Primitive(
    "solve", np.linalg.solve,
    jvp=(lambda t, ans, a, b: neg(solve(a, matmul(t, ans))),
         lambda t, ans, a, b: solve(a, t)),
    vjp=(lambda g, ans, a, b: neg(matmul(_solve_vjp_b(g, ans, a, b), mT(ans))),
         _solve_vjp_b),
    flops=lambda ans, a, b: (batch_count(ans) * 2 * shape_of(a)[-1] ** 3 // 3
                             + 2 * shape_of(a)[-1] * size_of(ans)),
    saves="both", broadcasting=True, jax_impl=_jax("solve"),
    sparsity=DENSE,
)).bind

inv = register(Primitive(
    "inv", np.linalg.inv,
    jvp=(lambda t, ans, a: neg(matmul(ans, matmul(t, ans))),),
    vjp=(lambda g, ans, a: neg(matmul(mT(ans), matmul(g, mT(ans)))),),
    flops=_cubic, saves="ans", jax_impl=_jax("inv"),
    sparsity=DENSE,
)).bind


# ---------------------------------------------------------------- determinants

def _inv_T(a):
    return mT(inv(a))


def _logdet_slope(a):
    """a^{-T}, the slope of log|det a|; at a singular ``a`` it does not exist (log|det| is -inf)."""
    try:
        return _inv_T(a)
    except np.linalg.LinAlgError:
        raise np.linalg.LinAlgError(
            "slogdet: the derivative of log|det(a)| at a singular matrix does not exist "
            "(log|det(a)| is -inf there, and its slope a^{-T} needs the inverse)") from None


def _logdet_jvp(t, a):
    # d log|det a| = tr(a^{-1} t) = <a^{-T}, t>
    return sum_(mul(_logdet_slope(a), t), axis=(-2, -1), keepdims=False)


def _near_singular(a: Any) -> bool:
    """Whether det(a) * a^{-T} loses the cofactors (``a`` singular or nearly so)."""
    v = np.asarray(concrete(a))
    if v.shape[-1] > 8:  # the cofactors cost n^5 flops: larger matrices only when inv fails
        return False
    eps = np.finfo(v.dtype if v.dtype.kind == "f" else np.float64).eps
    sv = np.linalg.svd(v.astype(np.float64), compute_uv=False)
    # cond(a) > eps^-1/4, or a zero matrix (0 < 0 would call it regular)
    return bool(((sv[..., -1] * eps ** -0.25 < sv[..., 0]) | (sv[..., 0] == 0)).any())


def _cofactors(a: Any) -> Any:
    """The cofactor matrix of ``a`` from the determinants of its minors (exact when singular)."""
    n = shape_of(a)[-1]
    if n == 1:  # the empty minor's determinant
        return np.ones(shape_of(a), dtype_of(a))
    keep = np.array([[j for j in range(n) if j != i] for i in range(n)]).ravel()
    rows = ops.reshape(ops.take(a, indices=keep, axis=-2), shape=shape_of(a)[:-2] + (n, n - 1, n))
    both = ops.reshape(ops.take(rows, indices=keep, axis=-1),
                       shape=shape_of(a)[:-2] + (n, n - 1, n, n - 1))
    minors = ops.transpose(both, axes=(*range(-len(shape_of(a)) - 2, -4), -4, -2, -3, -1))
    signs = ((-1.0) ** np.add.outer(np.arange(n), np.arange(n))).astype(dtype_of(a))
    return mul(signs, det(minors))


def _det_grad(ans: Any, a: Any) -> Any:
    # d det a = <cofactors(a), da>; det(a) * a^{-T} when a is well conditioned
    if _near_singular(a):
        return _cofactors(a)
    # above 8 x 8 a singular a raises inv's LinAlgError: the minors' own derivatives would
    # take this path unchecked, and a wrong Hessian is worse than an error
    return mul(_last2(ans), _inv_T(a))


det = register(Primitive(
    "det", np.linalg.det,
    jvp=(lambda t, ans, a: sum_(mul(_det_grad(ans, a), t), axis=(-2, -1), keepdims=False),),
    vjp=(lambda g, ans, a: mul(_last2(g), _det_grad(ans, a)),),
    flops=_lu, saves="both", jax_impl=_jax("det"),
    sparsity=DENSE,
)).bind

logabsdet = register(Primitive(
    "logabsdet", lambda a: np.linalg.slogdet(a)[1],
    jvp=(lambda t, ans, a: _logdet_jvp(t, a),),
    vjp=(lambda g, ans, a: mul(_last2(g), _logdet_slope(a)),),
    flops=_lu, saves="args", jax_impl=lambda a: _jax("slogdet")(a)[1],
    sparsity=DENSE,
)).bind

# The sign of the determinant: piecewise constant, so its derivative is zero.
det_sign = register(Primitive(
    "det_sign", lambda a: np.linalg.slogdet(a)[0],
    jvp=(None,), vjp=(None,), flops=_lu, saves="meta",
    jax_impl=lambda a: _jax("slogdet")(a)[0],
    sparsity=DENSE,
)).bind


# ---------------------------------------------------------------- triangular solves


def _tri_mask(n: int, lower: bool, unit: bool, dtype: np.dtype) -> np.ndarray:
    m = np.tril(np.ones((n, n), dtype), -1 if unit else 0)
    return m if lower else m.T


def _tri_impl(a, b, lower, trans, unit_diagonal):
    m = np.tril(a) if lower else np.triu(a)
    if unit_diagonal:
        m = m.copy()
        idx = np.arange(a.shape[-1])
        m[..., idx, idx] = 1.0
    if trans:
        m = np.swapaxes(m, -1, -2)
    return np.linalg.solve(m, b)


def _tri_op(t, lower, trans, unit, dtype):
    """``op(tri(t))``: the part of ``t`` the solve reads, transposed when ``trans``."""
    t = mul(t, _tri_mask(shape_of(t)[-1], lower, unit, dtype))
    return mT(t) if trans else t


def _tri_vjp_b(g, ans, a, b, lower, trans, unit_diagonal):
    return solve_triangular(a, g, lower=lower, trans=1 - trans, unit_diagonal=unit_diagonal)


def _tri_vjp_a(g, ans, a, b, lower, trans, unit_diagonal):
    gb = _tri_vjp_b(g, ans, a, b, lower, trans, unit_diagonal)
    outer = neg(matmul(gb, mT(ans)))  # the cotangent of op(T); op^T, then the triangle
    outer = mT(outer) if trans else outer
    return mul(outer, _tri_mask(shape_of(a)[-1], lower, unit_diagonal, dtype_of(a)))


def _tri_jvp_a(t, ans, a, b, lower, trans, unit_diagonal):
    dm = _tri_op(t, lower, trans, unit_diagonal, dtype_of(a))
    return neg(solve_triangular(a, matmul(dm, ans), lower=lower, trans=trans,
                                unit_diagonal=unit_diagonal))


def _jax_tri(a, b, lower, trans, unit_diagonal):
    import jax.numpy as jnp
    from jax.scipy.linalg import solve_triangular as jst

    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    a = jnp.broadcast_to(a, batch + a.shape[-2:])
    b = jnp.broadcast_to(b, batch + b.shape[-2:])
    return jst(a, b, lower=lower, trans=trans, unit_diagonal=unit_diagonal)


solve_triangular = register(Primitive(
    "solve_triangular", _tri_impl,
    jvp=(_tri_jvp_a,
         lambda t, ans, a, b, lower, trans, unit_diagonal: solve_triangular(
             a, t, lower=lower, trans=trans, unit_diagonal=unit_diagonal)),
    vjp=(_tri_vjp_a, _tri_vjp_b),
    flops=lambda ans, a, b, **p: shape_of(a)[-1] * size_of(ans),
    saves="both", broadcasting=True, jax_impl=_jax_tri,
    sparsity=DENSE,
)).bind


# ---------------------------------------------------------------- Cholesky


def _phi(x, dtype):
    """The lower triangle of ``x`` with its diagonal halved."""
    n = shape_of(x)[-1]
    return mul(x, np.tril(np.ones((n, n), dtype), -1) + 0.5 * np.eye(n, dtype=dtype))


def _chol_jvp(t, ans, a):
    # dL = L phi(L^{-1} sym(t) L^{-T})  (L^{-1} S L^{-T} is symmetric: one more solve gives it)
    x = solve_triangular(ans, sym(t), lower=True, trans=0, unit_diagonal=False)
    y = solve_triangular(ans, mT(x), lower=True, trans=0, unit_diagonal=False)
    return matmul(ans, _phi(y, dtype_of(ans)))


def _chol_vjp(g, ans, a):
    # The transpose of _chol_jvp, step by step in reverse.
    p = _phi(matmul(mT(ans), g), dtype_of(ans))
    w = solve_triangular(ans, p, lower=True, trans=1, unit_diagonal=False)
    z = solve_triangular(ans, mT(w), lower=True, trans=1, unit_diagonal=False)
    return sym(z)


cholesky = register(Primitive(
    "cholesky", lambda a: np.linalg.cholesky(0.5 * (a + np.swapaxes(a, -1, -2))),
    jvp=(_chol_jvp,), vjp=(_chol_vjp,),
    flops=lambda ans, a: batch_count(a) * shape_of(a)[-1] ** 3 // 3,
    saves="ans", jax_impl=lambda a: _jax("cholesky")(a, symmetrize_input=True),
    sparsity=DENSE,
)).bind


# ---------------------------------------------------------------- pseudo-inverse


def _pinv_jvp(t, ans, a, rtol):
    # Golub & Pereyra: dP = -P t P + P P^T t^T (I - a P) + (I - P a) t^T P^T P
    p, tt = ans, mT(t)
    first = neg(matmul(p, matmul(t, p)))
    right = sub(tt, matmul(tt, matmul(a, p)))
    left = sub(tt, matmul(p, matmul(a, tt)))
    return ops.add(first, ops.add(matmul(p, matmul(mT(p), right)),
                                  matmul(left, matmul(mT(p), p))))


def _pinv_vjp(g, ans, a, rtol):
    p, gt = ans, mT(g)
    first = neg(matmul(mT(p), matmul(g, mT(p))))
    second = matmul(sub(gt, matmul(a, matmul(p, gt))), matmul(p, mT(p)))
    third = matmul(matmul(mT(p), p), sub(gt, matmul(gt, matmul(p, a))))
    return ops.add(first, ops.add(second, third))


def thin_svd_flops(m: int, n: int) -> int:
    """Thin U, s and V of one m x n matrix (Golub & Van Loan, 4th ed., fig. 8.6.1): the cheaper
    of Golub-Reinsch, 14mn^2 + 8n^3, and R-SVD, 6mn^2 + 20n^3 (m >= n; swapped when wide)."""
    k = min(m, n)
    return min(14 * m * n * k + 8 * k ** 3, 6 * m * n * k + 20 * k ** 3)


def _pinv_flops(ans, a, rtol):
    # an SVD, then V diag(1/s) U^T: a scaling (mk) and a product (2mnk)
    m, n = shape_of(a)[-2:]
    k = min(m, n)
    return batch_count(a) * (thin_svd_flops(m, n) + m * k + 2 * m * n * k)


def _pinv_impl(a, rtol):
    return np.linalg.pinv(a, rcond=rtol)


pinv = register(Primitive(
    "pinv", _pinv_impl, jvp=(_pinv_jvp,), vjp=(_pinv_vjp,),
    flops=_pinv_flops,
    saves="both", jax_impl=lambda a, rtol: _jax("pinv")(a, rtol=rtol),
    sparsity=DENSE,
)).bind
