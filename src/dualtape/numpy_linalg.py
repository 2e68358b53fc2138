"""``dualtape.numpy.linalg``: NumPy's ``linalg`` names on plain, traced and JAX values.

Decompositions return NumPy's named tuples (``EighResult``, ``SVDResult``,
``QRResult``, ``SlogdetResult``).  Each function accepts stacks of matrices
(leading axes) as NumPy does.  ``solve_triangular`` takes SciPy's and JAX's
``lower``, ``trans`` and ``unit_diagonal``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as _np

from . import numpy as _dnp
from . import ops as _ops
from .dispatch import read_values as _read_values
from .ops import decomp as _decomp
from .ops import matrix as _la
from .registry import Tracer

__all__ = ["EighResult", "QRResult", "SVDResult", "SlogdetResult", "cholesky", "cond", "cross",
           "det", "diagonal", "eigh", "eigvalsh", "inv", "lstsq", "matmul", "matrix_norm",
           "matrix_power", "matrix_rank", "matrix_transpose", "norm", "outer", "pinv", "qr",
           "slogdet", "solve", "solve_triangular", "svd", "svdvals", "tensordot", "trace",
           "vecdot", "vector_norm"]

ArrayLike = Any


class EighResult(NamedTuple):
    eigenvalues: Any
    eigenvectors: Any


class SVDResult(NamedTuple):
    U: Any
    S: Any
    Vh: Any


class QRResult(NamedTuple):
    Q: Any
    R: Any


class SlogdetResult(NamedTuple):
    sign: Any
    logabsdet: Any


def _square(a: ArrayLike, name: str) -> tuple[int, ...]:
    s = _ops.shape_of(a)
    if len(s) < 2 or s[-1] != s[-2]:
        raise ValueError(f"{name}: expected a square matrix (or a stack of them) in the last two "
                         f"axes, got shape {s}")
    return s


def _matrix(a: ArrayLike, name: str) -> tuple[int, ...]:
    s = _ops.shape_of(a)
    if len(s) < 2:
        raise ValueError(f"{name}: expected a matrix (at least 2 axes), got shape {s}")
    return s


def _real_float(x: ArrayLike, name: str) -> Any:
    """``x`` as NumPy computes a norm of it: integer and boolean arrays as float64; complex
    input raises TypeError (dualtape has no complex numbers)."""
    if isinstance(x, (list, tuple)):
        x = _dnp.asarray(x)
    dt = _la.dtype_of(x)
    if dt.kind == "c" or isinstance(x, complex):
        raise TypeError(f"{name}: x is complex; dualtape supports real inputs only")
    if dt.kind in "iub" and not isinstance(x, Tracer):
        return _np.asarray(x, dtype=_np.float64)
    return x


def _traced(*xs: Any) -> bool:
    return any(isinstance(x, Tracer) for x in xs)


# ---------------------------------------------------------------- solves and inverses


def solve(a: ArrayLike, b: ArrayLike) -> Any:
    """Solve ``a x = b``; ``b`` is a vector if 1-D, else a stack of matrices (NumPy 2 rules)."""
    n = _square(a, "solve")[-1]
    if _ops.ndim_of(b) == 1:
        if _ops.shape_of(b)[0] != n:
            raise ValueError(f"solve: b has length {_ops.shape_of(b)[0]}, a is {n}x{n}")
        return _ops.squeeze(_la.solve(a, _ops.expand_dims(b, axis=(-1,))), axis=(-1,))
    if _ops.ndim_of(b) < 2 or _ops.shape_of(b)[-2] != n:
        raise ValueError(f"solve: b of shape {_ops.shape_of(b)} does not match a {n}x{n} matrix")
    return _la.solve(a, b)


def inv(a: ArrayLike) -> Any:
    """Inverse of a square matrix (or of each in a stack)."""
    _square(a, "inv")
    return _la.inv(a)


def det(a: ArrayLike) -> Any:
    """Determinant; its derivative is ``det(a) a^{-T}`` (a singular ``a`` raises LinAlgError)."""
    _square(a, "det")
    return _la.det(a)


def slogdet(a: ArrayLike) -> SlogdetResult:
    """``(sign, log|det a|)``; the sign is piecewise constant (zero derivative)."""
    _square(a, "slogdet")
    return SlogdetResult(_la.det_sign(a), _la.logabsdet(a))


def cholesky(a: ArrayLike, upper: bool = False) -> Any:
    """Cholesky factor of ``(a + a^T) / 2`` (lower, or its transpose with ``upper=True``)."""
    _square(a, "cholesky")
    low = _la.cholesky(a)
    return _la.mT(low) if upper else low


def solve_triangular(a: ArrayLike, b: ArrayLike, lower: bool = False, trans: int | str = 0,
                     unit_diagonal: bool = False) -> Any:
    """Solve ``op(T) x = b`` with ``T`` the lower (or upper) triangle of ``a``, as
    ``jax.scipy.linalg.solve_triangular``: ``trans`` 0/'N' (T), 1/'T' or 2/'C' (T^T);
    ``unit_diagonal`` takes the diagonal as ones. Entries outside the triangle are not read
    and get zero derivative."""
    n = _square(a, "solve_triangular")[-1]
    codes = {0: 0, 1: 1, 2: 1, "N": 0, "T": 1, "C": 1}
    if trans not in codes:
        raise ValueError(f"trans: expected 0, 1, 2, 'N', 'T' or 'C', got {trans!r}")
    vector = _ops.ndim_of(b) == 1
    bm = _ops.expand_dims(b, axis=(-1,)) if vector else b
    if _ops.ndim_of(bm) < 2 or _ops.shape_of(bm)[-2] != n:
        raise ValueError(f"solve_triangular: b of shape {_ops.shape_of(b)} does not match a "
                         f"{n}x{n} matrix")
    x = _la.solve_triangular(a, bm, lower=bool(lower), trans=codes[trans],
                             unit_diagonal=bool(unit_diagonal))
    return _ops.squeeze(x, axis=(-1,)) if vector else x


_UNSET = object()


def pinv(a: ArrayLike, rcond: Any = None, hermitian: bool = False, *, rtol: Any = _UNSET) -> Any:
    """Moore-Penrose pseudo-inverse; singular values at most ``rtol * max(s)`` count as zero.
    The cutoff is NumPy's: ``rcond``, else ``rtol``, else 1e-15 (``rtol=None``: ``max(m, n) *
    eps``). The derivative is Golub and Pereyra's, valid where the rank does not change."""
    m, n = _matrix(a, "pinv")[-2:]
    if rcond is not None and rtol is not _UNSET:
        raise ValueError("pinv: rtol and rcond can't be both set")
    r = rcond if rcond is not None else 1e-15 if rtol is _UNSET else rtol
    if r is None:
        dt = _la.dtype_of(a)
        r = max(m, n) * float(_np.finfo(dt if dt.kind in "fc" else _np.float64).eps)
    return _la.pinv(a, rtol=float(r))


def lstsq(a: ArrayLike, b: ArrayLike, rcond: Any = None) -> tuple[Any, Any, int, Any]:
    """NumPy's least squares ``(x, residuals, rank, s)``: ``x = pinv(a) b`` with singular values
    at most ``rcond * max(s)`` dropped (default ``max(m, n) * eps``; negative: ``eps``).
    Residuals (squared, per column of ``b``) only for full column rank with more rows than
    columns, as NumPy's."""
    m, n = _matrix(a, "lstsq")[-2:]
    if _ops.ndim_of(a) != 2 or _ops.ndim_of(b) not in (1, 2) or _ops.shape_of(b)[0] != m:
        raise ValueError(f"lstsq: expected a matrix and a vector or matrix of {m} rows, got "
                         f"shapes {_ops.shape_of(a)} and {_ops.shape_of(b)}")
    dt = _la.dtype_of(a)
    eps = float(_np.finfo(dt if dt.kind == "f" else _np.float64).eps)
    r = max(m, n) * eps if rcond is None else eps if float(rcond) < 0 else float(rcond)
    s = svdvals(a)
    sc = _np.asarray(_dnp.concrete(s))
    rank = int(_np.sum(sc > r * sc.max(initial=0.0)))
    x = _dnp.matmul(_la.pinv(a, rtol=r), b)
    if rank == n and m > n:
        res = _dnp.sum(_dnp.square(_dnp.matmul(a, x) - b), axis=0)
        res = _ops.reshape(res, shape=(1,)) if _ops.ndim_of(b) == 1 else res
    else:
        res = _np.zeros((0,), dtype=_la.dtype_of(x))
    return x, res, rank, s


def matrix_power(a: ArrayLike, n: int) -> Any:
    """``a`` to the integer power ``n`` by repeated squaring (``inv(a)`` for negative ``n``)."""
    s = _square(a, "matrix_power")
    if not isinstance(n, (int, _np.integer)) or isinstance(n, bool):
        raise TypeError(f"matrix_power: n must be an int, got {n!r}")
    if n == 0:
        return _np.broadcast_to(_np.eye(s[-1], dtype=_la.dtype_of(a)), s).copy()
    base = _la.inv(a) if n < 0 else a
    n = abs(int(n))
    out = None
    while n:
        if n & 1:
            out = base if out is None else _ops.matmul(out, base)
        n >>= 1
        if n:
            base = _ops.matmul(base, base)
    return out


# ---------------------------------------------------------------- decompositions


def eigh(a: ArrayLike, UPLO: str = "L") -> EighResult:  # noqa: N803
    """Eigenvalues (ascending) and eigenvectors of the symmetric matrix ``(a + a^T) / 2``.

    ``UPLO`` is accepted for NumPy compatibility; the input is symmetrised instead (as JAX
    does), so the value and the derivative agree for any input.
    """
    if UPLO not in ("L", "U"):
        raise ValueError(f"UPLO: expected 'L' or 'U', got {UPLO!r}")
    _square(a, "eigh")
    packed = _decomp.eigh(a)
    return EighResult(_ops.getitem(packed, index=(Ellipsis, 0, slice(None))),
                      _ops.getitem(packed, index=(Ellipsis, slice(1, None), slice(None))))


def eigvalsh(a: ArrayLike, UPLO: str = "L") -> Any:  # noqa: N803
    """Eigenvalues of the symmetric matrix ``(a + a^T) / 2``, ascending."""
    return eigh(a, UPLO).eigenvalues


def svd(a: ArrayLike, full_matrices: bool = True, compute_uv: bool = True,
        hermitian: bool = False) -> Any:
    """Singular value decomposition ``a = U diag(S) Vh`` (``S`` descending).

    Differentiable for ``full_matrices=False`` (or square ``a``): the extra columns of a
    full U or V are not unique. ``compute_uv=False`` returns ``S`` only.
    """
    m, n = _matrix(a, "svd")[-2:]
    if full_matrices and compute_uv and m != n:
        if _traced(a):
            raise NotImplementedError(
                "svd: full_matrices=True of a non-square traced matrix has no derivative "
                "(the extra singular vectors are not unique); pass full_matrices=False")
        if not isinstance(a, _np.ndarray):
            import jax.numpy as jnp

            return SVDResult(*jnp.linalg.svd(a, full_matrices=True))
        return SVDResult(*_np.linalg.svd(a, full_matrices=True))
    packed = _decomp.svd(a)
    u = _ops.getitem(packed, index=(Ellipsis, slice(0, m), slice(None)))
    s = _ops.getitem(packed, index=(Ellipsis, m, slice(None)))
    if not compute_uv:
        return s
    v = _ops.getitem(packed, index=(Ellipsis, slice(m + 1, None), slice(None)))
    return SVDResult(u, s, _la.mT(v))


def svdvals(x: ArrayLike) -> Any:
    """Singular values, descending."""
    return svd(x, compute_uv=False)


def qr(a: ArrayLike, mode: str = "reduced") -> Any:
    """QR decomposition (``mode`` 'reduced' or 'r'; 'complete' of a square or wide matrix).

    A wide matrix ``[X, Y]`` is factored as ``X = Q R_X`` and ``R = [R_X, Q^T Y]``, so
    its derivative follows from the square case.
    """
    m, n = _matrix(a, "qr")[-2:]
    if mode not in ("reduced", "r", "complete"):
        raise ValueError(f"mode: expected 'reduced', 'complete' or 'r', got {mode!r}")
    if mode == "complete" and m > n:
        raise NotImplementedError("qr: mode='complete' of a tall matrix has no derivative "
                                  "(the extra columns of Q are not unique); use 'reduced'")
    if m < n:
        left = _ops.getitem(a, index=(Ellipsis, slice(None), slice(0, m)))
        right = _ops.getitem(a, index=(Ellipsis, slice(None), slice(m, None)))
        q, r_left = qr(left)
        r = _ops.concatenate(r_left, _ops.matmul(_la.mT(q), right), axis=-1)
    else:
        packed = _decomp.qr(a)
        q = _ops.getitem(packed, index=(Ellipsis, slice(0, m), slice(None)))
        r = _ops.getitem(packed, index=(Ellipsis, slice(m, None), slice(None)))
    return r if mode == "r" else QRResult(q, r)


# ---------------------------------------------------------------- norms


def vector_norm(x: ArrayLike, axis: Any = None, keepdims: bool = False, ord: Any = 2) -> Any:  # noqa: A002
    """Vector p-norm over ``axis`` (all axes by default): ``ord`` any real p, ``inf``, ``-inf``,
    or 0 (the count of nonzeros, a constant)."""
    x = _real_float(x, "vector_norm")
    axes = _dnp._axis_tuple(x, axis)
    kw = {"axis": axes, "keepdims": keepdims}
    if ord is None or ord == 2:
        return _dnp.sqrt(_dnp.sum(_ops.mul(x, x), **kw))
    if ord == _np.inf:
        return _dnp.max(_dnp.abs(x), **kw)
    if ord == -_np.inf:
        return _dnp.min(_dnp.abs(x), **kw)
    if ord == 0:
        return _np.sum(_dnp.concrete(x) != 0, axis=axes, keepdims=keepdims).astype(
            _la.dtype_of(x))
    if ord == 1:
        return _dnp.sum(_dnp.abs(x), **kw)
    if isinstance(ord, str):
        raise ValueError(f"ord: {ord!r} is not a vector norm")
    p = float(ord)
    return _dnp.power(_dnp.sum(_dnp.power(_dnp.abs(x), p), **kw), 1.0 / p)


def matrix_norm(x: ArrayLike, keepdims: bool = False, ord: Any = "fro",
                axis: tuple[int, int] = (-2, -1)) -> Any:  # noqa: A002
    """Matrix norm over two axes: 'fro', 'nuc', 1, -1, 2, -2, inf, -inf."""
    x = _real_float(x, "matrix_norm")
    rc = _dnp._axis_tuple(x, axis)
    if len(rc) != 2 or len(axis) != 2:
        raise ValueError(f"axis: a matrix norm needs two distinct axes, got {axis!r}")
    r, c = (_dnp._one_axis(x, a) for a in axis)
    if ord in ("fro", None):
        out = _dnp.sqrt(_dnp.sum(_ops.mul(x, x), axis=rc, keepdims=True))
    elif ord in ("nuc", 2, -2):
        s = svdvals(_dnp.moveaxis(x, (r, c), (-2, -1)))
        empty = {"initial": 0.0} if ord == 2 and _dnp.size(x) == 0 else {}  # NumPy's 0
        red = {"nuc": _dnp.sum, 2: _dnp.max, -2: _dnp.min}[ord](s, axis=-1, **empty)
        out = _ops.expand_dims(red, axis=rc)
    elif ord in (1, -1, _np.inf, -_np.inf):
        along, then = (r, c) if ord in (1, -1) else (c, r)
        pick = _dnp.max if ord in (1, _np.inf) else _dnp.min
        empty = {"initial": 0.0} if pick is _dnp.max and _dnp.shape(x)[then] == 0 else {}
        out = pick(_dnp.sum(_dnp.abs(x), axis=along, keepdims=True), axis=then, keepdims=True,
                   **empty)
    else:
        raise ValueError(f"ord: {ord!r} is not a matrix norm ('fro', 'nuc', 1, -1, 2, -2, inf, "
                         "-inf)")
    out = out if keepdims else _ops.squeeze(out, axis=rc)
    return out[()] if isinstance(out, _np.ndarray) and out.ndim == 0 else out  # NumPy's scalar


def norm(x: ArrayLike, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A002
    """NumPy's ``linalg.norm``: a vector norm over one axis, a matrix norm over two; with
    ``axis=None`` the 2-norm of the flattened array (``ord=None``) or, with ``ord``, the
    vector norm of a 1-D or the matrix norm of a 2-D input.

    At the zero vector the 2-norm's derivative is ``nan`` (0/0), as in JAX.
    """
    nd = _ops.ndim_of(x)
    if axis is None:
        if ord is None:
            return vector_norm(x, None, keepdims)
        if nd not in (1, 2):
            raise ValueError(f"norm: ord={ord!r} with axis=None needs a 1-D or 2-D input, "
                             f"got {nd} axes")
        axis = tuple(range(nd))
    if isinstance(axis, (int, _np.integer)):
        axis = (int(axis),)
    elif not isinstance(axis, (tuple, list)):
        raise TypeError(f"norm: axis must be None, an int or a tuple of ints, got {axis!r}")
    axis = tuple(axis)
    if len(axis) == 1:
        return vector_norm(x, axis, keepdims, ord)
    if len(axis) == 2:
        return matrix_norm(x, keepdims, "fro" if ord is None else ord, axis)
    raise ValueError(f"norm: axis must name one or two axes, got {axis!r}")


def multi_dot(arrays: Any) -> Any:
    """Product of a chain of matrices (1-D ends as in NumPy), left to right."""
    arrays = list(arrays)
    if len(arrays) < 2:
        raise ValueError("multi_dot: need at least two arrays")
    for k, a in enumerate(arrays):  # the ends may be vectors, the rest matrices (NumPy's rule)
        if _dnp.ndim(a) != 2 and not (_dnp.ndim(a) == 1 and k in (0, len(arrays) - 1)):
            raise ValueError(f"multi_dot: array {k} is {_dnp.ndim(a)}-dimensional; expected "
                             "2-D (1-D allowed for the first and the last)")
    out = arrays[0]
    for b in arrays[1:]:
        out = _dnp.dot(out, b)
    return out



def cond(x: ArrayLike, p: Any = None) -> Any:
    """Condition number: largest over smallest singular value (``p`` None or 2; -2 the
    inverse), else ``norm(x, p) * norm(inv(x), p)``; infinite at a singular matrix."""
    if p is None or p == 2 or p == -2:
        s = svdvals(x)
        first = _ops.getitem(s, index=(Ellipsis, 0))
        last = _ops.getitem(s, index=(Ellipsis, -1))
        with _np.errstate(divide="ignore", invalid="ignore"):
            r = _dnp.divide(last, first) if p == -2 else _dnp.divide(first, last)
        # 0 / 0 (a zero matrix) is infinite, as NumPy's, where the input holds no NaN
        nan = _np.isnan(_dnp.concrete(r)) & ~_np.isnan(_dnp.concrete(x)).any(axis=(-2, -1))
        return _dnp.where(nan, _np.inf, r) if nan.any() else r
    # a singular matrix's is infinite, as NumPy's: computed at the identity, then replaced
    cx = _np.asarray(_dnp.concrete(x), float)
    try:
        with _np.errstate(all="ignore"):
            singular = ~_np.isfinite(_np.linalg.cond(cx, p))
    except _np.linalg.LinAlgError:  # NumPy's own 'nuc' of an infinite inverse
        singular = _np.linalg.matrix_rank(cx) < cx.shape[-1]
    if singular.any():
        x = _dnp.where(singular[..., None, None], _np.eye(_dnp.shape(x)[-1]), x)
    r = _dnp.multiply(norm(x, p, axis=(-2, -1)), norm(inv(x), p, axis=(-2, -1)))
    return _dnp.where(singular, _np.inf, r) if singular.any() else r


def matrix_rank(A: ArrayLike, tol: Any = None, hermitian: bool = False, *,  # noqa: N803
                rtol: Any = None) -> Any:
    """The rank of the values (an integer: no derivative; under sparsity detection the
    values steer)."""
    return _np.linalg.matrix_rank(_read_values(A), tol=_dnp.concrete(tol), hermitian=hermitian,
                                 rtol=_dnp.concrete(rtol))


def trace(x: ArrayLike, *, offset: int = 0, dtype: Any = None) -> Any:
    """The trace of each matrix over the last two axes (NumPy 2's ``linalg.trace``)."""
    return _dnp.trace(x if dtype is None else _dnp.astype(x, dtype), offset, -2, -1)


def diagonal(x: ArrayLike, *, offset: int = 0) -> Any:
    """The diagonal of each matrix over the last two axes (NumPy 2's ``linalg.diagonal``)."""
    return _dnp.diagonal(x, offset, -2, -1)


def outer(x1: ArrayLike, x2: ArrayLike) -> Any:
    """The outer product of two vectors (NumPy 2's ``linalg.outer``: 1-D only)."""
    if _dnp.ndim(x1) != 1 or _dnp.ndim(x2) != 1:
        raise ValueError(f"outer: expected two 1-D vectors, got {_dnp.ndim(x1)}-D and "
                         f"{_dnp.ndim(x2)}-D")
    return _dnp.outer(x1, x2)


def cross(x1: ArrayLike, x2: ArrayLike, *, axis: int = -1) -> Any:
    """The cross product of 3-vectors along ``axis`` (NumPy 2's ``linalg.cross``)."""
    return _dnp.cross(x1, x2, axis=axis)


def matrix_transpose(x: ArrayLike) -> Any:
    """Each matrix transposed (the last two axes swapped)."""
    return _dnp.swapaxes(x, -1, -2)


def vecdot(x1: ArrayLike, x2: ArrayLike, *, axis: int = -1) -> Any:
    """The dot product of vectors along ``axis`` (real input)."""
    return _dnp.sum(_dnp.multiply(x1, x2), axis=axis)


def matmul(x1: ArrayLike, x2: ArrayLike) -> Any:
    """``x1 @ x2`` (NumPy 2's ``linalg.matmul``)."""
    return _dnp.matmul(x1, x2)


def tensordot(x1: ArrayLike, x2: ArrayLike, axes: Any = 2) -> Any:
    """NumPy 2's ``linalg.tensordot``: :func:`dualtape.numpy.tensordot`."""
    return _dnp.tensordot(x1, x2, axes)

_EIG = ("linalg.eig: the eigenvalues of a real non-symmetric matrix can be complex, and "
        "dualtape differentiates real functions only; use eigh for symmetric matrices")


def unsupported_eig(*args: Any, **kwargs: Any) -> Any:
    """What ``numpy.linalg.eig``/``eigvals`` do on a traced value: a clear error."""
    raise NotImplementedError(_EIG)


def __getattr__(name: str) -> Any:
    if name in ("eig", "eigvals"):
        raise AttributeError(_EIG)
    raise AttributeError(f"module 'dualtape.numpy.linalg' has no attribute {name!r}")
