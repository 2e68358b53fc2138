"""Order statistics, covariance, interpolation, polynomials and 1-D signals: ``quantile``,
``percentile``, ``median``, ``ptp``, ``cov``, ``corrcoef``, ``interp``, ``polyval``,
``vander``, ``trapezoid``, ``convolve``, ``correlate`` and ``heaviside``. All are
compositions of existing primitives, differentiated in every array argument NumPy
computes with (quantile levels, sample points, weights of an interpolation)."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from .. import numpy as dnp
from .. import ops
from ._common import concrete, is_traced, jax_twin, unsupported
from .axes import as_int

__all__ = ["convolve", "corrcoef", "correlate", "cov", "ediff1d", "heaviside", "interp", "ldexp", "median",
           "nanmedian", "nanpercentile", "nanquantile", "percentile", "polyval", "ptp", "quantile",
           "trapezoid", "vander"]


def _one_axis(fn: str, a: Any, axis: Any) -> int:
    if isinstance(axis, (tuple, list)):
        raise NotImplementedError(f"{fn}: axis must be None or one int, got {axis!r}")
    axis = as_int(axis, f"{fn}: axis")
    nd = len(dnp.shape(a))
    if not -nd <= axis < nd:
        raise np.exceptions.AxisError(f"{fn}: axis {axis} is out of bounds for {nd} dimensions")
    return int(axis) % nd


def _real(fn: str, name: str, v: Any) -> Any:
    if np.iscomplexobj(concrete(v)):
        raise TypeError(f"{fn}: {name} is complex; dualtape supports real values only")
    return v


def _array(v: Any) -> Any:
    """``v`` as an array: lists and tuples (of traced values too) stacked, others as they are."""
    return dnp.asarray(v) if isinstance(v, (list, tuple)) else v


def _float_dtype(*vs: Any) -> np.dtype:
    """The floating dtype NumPy computes these in (float64 from integers); Python scalars are
    weak, as in NumPy 2 (a float32 array and ``0.5`` give float32)."""
    dt = np.result_type(*(v if type(v) in (bool, int, float) else
                          getattr(concrete(v), "dtype", np.float64) for v in vs))
    return dt if dt.kind == "f" else np.dtype(np.float64)


def _levels(fn: str, q: Any, top: float) -> tuple[Any, np.ndarray]:
    q = _array(q)
    qc = np.asarray(concrete(q), dtype=float)
    if qc.ndim > 1:
        raise NotImplementedError(f"{fn}: q must be a scalar or 1-D, got shape {qc.shape}")
    if np.any((qc < 0) | (qc > top)) or np.isnan(qc).any():
        raise ValueError(f"{fn}: q must be in the range [0, {top:g}], got {qc}")
    return q, qc


def _lerp(low: Any, high: Any, frac: Any, same: np.ndarray) -> Any:
    """``low + frac * (high - low)`` as NumPy computes it, but ``low`` itself where both are the
    same entry (``same``) and ``low``/``high`` weighted where both are one infinity (no
    ``inf - inf``); the derivative is JAX's: ``1 - frac`` to ``low`` and ``frac`` to ``high``."""
    lc, hc = np.asarray(concrete(low)), np.asarray(concrete(high))
    special = np.isinf(lc) & (same | (lc == hc))
    if not special.any():
        return low + frac * (high - low)
    both = special & ~same
    result = low + frac * (ops.where(special, 0.0, high) - ops.where(special, 0.0, low))
    if both.any():
        weighted = (1.0 - frac) * ops.where(both, low, 0.0) + frac * ops.where(both, high, 0.0)
        result = ops.where(both, weighted, result)
    return result


def _quantiles(fn: str, a: Any, q: Any, axis: Any, method: str, keepdims: bool, out: Any,
               weights: Any, skip_nan: bool) -> Any:
    """``quantile`` (``skip_nan``: ``nanquantile``; ``fn`` "median": ``median``): per slice
    along ``axis``, interpolate linearly between the two sorted values around
    ``q * (count - 1)``, where ``count`` is the slice's length (or its number of non-NaN
    entries, which sort first)."""
    unsupported(fn, out=out, weights=weights)
    if method != "linear":
        raise NotImplementedError(f"{fn}: method={method!r} is not supported (only 'linear', "
                                  "NumPy's default)")
    q, qc = _levels(fn, q, 1.0)
    a = _array(a)
    shape = dnp.shape(a)
    x, ax = (dnp.ravel(a), 0) if axis is None else (a, _one_axis(fn, a, axis))
    dtype = _float_dtype(x, q)
    kept = tuple(1 for _ in shape) if axis is None else shape[:ax] + (1,) + shape[ax + 1:]
    out_shape = qc.shape + (kept if keepdims else () if axis is None else shape[:ax] + shape[ax + 1:])
    if qc.size == 0 or math.prod(out_shape) == 0:
        return np.empty(out_shape, dtype)
    if dnp.shape(x)[ax] == 0:
        if not (skip_nan or fn == "median"):
            raise ValueError(f"{fn}: the array is empty along the axis")
        warnings.warn("Mean of empty slice", RuntimeWarning, stacklevel=3)  # NumPy's NaN
        return np.full(out_shape, np.nan, dtype)[()]
    nan = np.isnan(np.asarray(concrete(x), dtype=dtype))
    # per slice, kept as a length-1 axis (NaN sorts last: the first `count` are the values)
    count = np.expand_dims((~nan).sum(axis=ax), ax) if skip_nan else dnp.shape(x)[ax]
    steps = np.maximum(count - 1, 0)
    s = dnp.sort(x, axis=ax)
    pos = qc.reshape(qc.shape + (1,) * len(dnp.shape(x))) * steps
    lo, hi = np.floor(pos).astype(np.intp), np.ceil(pos).astype(np.intp)
    picked = []
    for k in np.ndindex(qc.shape):  # one level at a time; q's axis comes first, as in NumPy
        # traced where q is: the slope of the sorted values between the two it reads
        level = q[k] if qc.ndim else q
        frac = level * steps - lo[k] if is_traced(q) else (pos[k] - lo[k]).astype(dtype)
        low, high = dnp.take_along_axis(s, lo[k], ax), dnp.take_along_axis(s, hi[k], ax)
        same = np.broadcast_to(lo[k] == hi[k], dnp.shape(low))
        picked.append(dnp.squeeze(_lerp(low, high, frac, same), axis=ax))
    result = dnp.stack(picked) if qc.ndim else picked[0]
    undefined = (count.squeeze(ax) == 0) if skip_nan else nan.any(axis=ax)
    if undefined.any():  # NumPy's NaN where a slice holds NaN (all NaN, skipping them)
        if skip_nan:
            warnings.warn("All-NaN slice encountered", RuntimeWarning, stacklevel=3)
        result = ops.where(undefined, np.array(np.nan, dtype), result)
    if keepdims:
        result = dnp.reshape(result, qc.shape + kept)
    return result


@jax_twin()
def quantile(a: Any, q: Any, axis: Any = None, out: Any = None, overwrite_input: bool = False,
             method: str = "linear", keepdims: bool = False, *, weights: Any = None) -> Any:
    """The ``q``-th quantiles along ``axis`` (``q`` in [0, 1], a scalar or 1-D, whose axis comes
    first), interpolating linearly between the sorted values, NumPy's default method. The
    derivative reaches ``a`` through the two values each quantile reads, and ``q`` itself
    (0 where ``q`` falls exactly on a sorted value, as in JAX)."""
    return _quantiles("quantile", a, q, axis, method, keepdims, out, weights, skip_nan=False)


@jax_twin()
def percentile(a: Any, q: Any, axis: Any = None, out: Any = None, overwrite_input: bool = False,
               method: str = "linear", keepdims: bool = False, *, weights: Any = None) -> Any:
    """``quantile(a, q / 100)``: ``q`` in [0, 100]."""
    q, _ = _levels("percentile", q, 100.0)
    return quantile(a, q / 100.0, axis, out, overwrite_input, method, keepdims, weights=weights)


@jax_twin()
def median(a: Any, axis: Any = None, out: Any = None, overwrite_input: bool = False,
           keepdims: bool = False) -> Any:
    """``quantile(a, 0.5)``: the middle value, or the mean of the two middle values (NaN,
    with NumPy's warning, for an empty slice)."""
    if type(a) is np.ndarray and a.dtype == bool and out is None:
        return np.median(a, axis=axis, keepdims=keepdims)  # booleans: nothing to differentiate
    return _quantiles("median", a, 0.5, axis, "linear", keepdims, out, None, skip_nan=False)


@jax_twin()
def nanquantile(a: Any, q: Any, axis: Any = None, out: Any = None, overwrite_input: bool = False,
                method: str = "linear", keepdims: bool = False, *, weights: Any = None) -> Any:
    """``quantile`` of the entries that are not NaN (NaN where a slice has none)."""
    return _quantiles("nanquantile", a, q, axis, method, keepdims, out, weights, skip_nan=True)


@jax_twin()
def nanpercentile(a: Any, q: Any, axis: Any = None, out: Any = None,
                  overwrite_input: bool = False, method: str = "linear",
                  keepdims: bool = False, *, weights: Any = None) -> Any:
    """``nanquantile(a, q / 100)``: ``q`` in [0, 100]."""
    q, _ = _levels("nanpercentile", q, 100.0)
    return nanquantile(a, q / 100.0, axis, out, overwrite_input, method, keepdims, weights=weights)


@jax_twin()
def nanmedian(a: Any, axis: Any = None, out: Any = None, overwrite_input: bool = False,
              keepdims: bool = False) -> Any:
    """``nanquantile(a, 0.5)``."""
    return nanquantile(a, 0.5, axis, out, overwrite_input, keepdims=keepdims)


@jax_twin()
def ptp(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False) -> Any:
    """Range: ``max - min`` over ``axis``."""
    unsupported("ptp", out=out)
    return dnp.max(a, axis, keepdims=keepdims) - dnp.min(a, axis, keepdims=keepdims)


@jax_twin()
def cov(m: Any, y: Any = None, rowvar: bool = True, bias: bool = False, ddof: Any = None,
        fweights: Any = None, aweights: Any = None, *, dtype: Any = None) -> Any:
    """Covariance matrix of the variables in ``m`` (rows, or columns with ``rowvar=False``),
    and of ``y``'s with them; divided by ``N - 1`` (``N`` with ``bias``, ``N - ddof`` with ``ddof``)."""
    unsupported("cov", fweights=fweights, aweights=aweights, dtype=dtype)
    if ddof is not None and ddof != int(ddof):
        raise ValueError(f"cov: ddof must be an integer, got {ddof!r}")
    m = _real("cov", "m", _array(m))
    if len(dnp.shape(m)) > 2:
        raise ValueError(f"cov: m has more than 2 dimensions (shape {dnp.shape(m)})")
    x = dnp.atleast_2d(m)
    if not rowvar and len(dnp.shape(m)) != 1:  # NumPy 2's rule
        x = dnp.transpose(x)
    if y is not None:
        yy = _real("cov", "y", _array(y))
        if len(dnp.shape(yy)) > 2:
            raise ValueError(f"cov: y has more than 2 dimensions (shape {dnp.shape(yy)})")
        yy = dnp.atleast_2d(yy)
        if not rowvar and dnp.shape(yy)[0] != 1:
            yy = dnp.transpose(yy)
        x = dnp.concatenate([x, yy], axis=0)
    fdt = np.result_type(_float_dtype(x), np.float64)  # NumPy's cov computes in float64
    if getattr(concrete(x), "dtype", fdt) != fdt:
        x = dnp.astype(x, fdt)
    n = dnp.shape(x)[1]
    dof = n - (int(ddof) if ddof is not None else (0 if bias else 1))
    if dof <= 0:
        warnings.warn("cov: degrees of freedom <= 0", RuntimeWarning, stacklevel=2)
    centred = x - dnp.mean(x, axis=1, keepdims=True) if n else x
    with np.errstate(divide="ignore", invalid="ignore"):
        c = dnp.matmul(centred, dnp.transpose(centred)) / float(max(dof, 0))
    return dnp.squeeze(c) if dnp.shape(c) == (1, 1) else c


@jax_twin()
def corrcoef(x: Any, y: Any = None, rowvar: bool = True, *, dtype: Any = None) -> Any:
    """Pearson correlation coefficients: ``cov`` scaled by the standard deviations, limited to
    [-1, 1] as NumPy does."""
    c = cov(x, y, rowvar, dtype=dtype)
    if dnp.shape(c) == ():
        return c / c
    d = dnp.sqrt(dnp.diagonal(c))
    c = c / d[:, None] / d[None, :]
    return dnp.clip(c, -1.0, 1.0)


@jax_twin()
def interp(x: Any, xp: Any, fp: Any, left: Any = None, right: Any = None, period: Any = None) -> Any:
    """Piecewise-linear interpolation of the points ``(xp, fp)`` (``xp`` increasing) at ``x``;
    ``left``/``right`` (``fp[0]``/``fp[-1]`` by default) outside. Differentiated in ``x``,
    ``xp`` and ``fp``: the slope of the segment each ``x`` falls in."""
    unsupported("interp", period=period)
    x, xp, fp = _array(x), _array(xp), _array(fp)
    xpc = np.asarray(concrete(xp), dtype=float)
    if xpc.ndim != 1 or dnp.shape(fp) != xpc.shape:
        raise ValueError(f"interp: xp and fp must be 1-D of one length, got shapes {xpc.shape} "
                         f"and {dnp.shape(fp)}")
    if xpc.size == 0:
        raise ValueError("interp: xp and fp must not be empty")
    if _float_dtype(x, xp, fp) != np.float64:  # NumPy interpolates in float64
        x, xp, fp = (dnp.astype(v, np.float64) if is_traced(v) else np.asarray(v, np.float64)
                     for v in (x, xp, fp))
    xc = np.asarray(concrete(x), dtype=float)
    if xpc.size == 1:
        inside = dnp.broadcast_to(fp[0], xc.shape)
    else:
        i = np.clip(np.searchsorted(xpc, xc, side="right") - 1, 0, xpc.size - 2)
        at = _by_value(xc.shape) if is_traced(x) or is_traced(xp) else (lambda v, j: v[j])
        x0, x1, f0, f1 = at(xp, i), at(xp, i + 1), at(fp, i), at(fp, i + 1)
        flat = (xpc[i + 1] - xpc[i]) == 0  # a repeated knot: no slope (and no 0 / 0 to leak)
        slope = ops.where(flat, 0.0, (f1 - f0) / ops.where(flat, 1.0, x1 - x0))
        inside = f0 + (x - x0) * slope
        last = xc == xpc[-1]
        if last.any():  # NumPy's value fp[-1] exactly there, with the last segment's slope (JAX's)
            inside = ops.where(last, f1 + (x - x1) * slope, inside)
    below = fp[0] if left is None else left
    above = fp[-1] if right is None else right
    return ops.where(xc < xpc[0], below, ops.where(xc > xpc[-1], above, inside))


def _by_value(shape: tuple) -> Any:
    """``v[j]`` for 1-D ``v`` and segments ``j`` found from traced values (``interp``'s
    ``x`` or ``xp``): ``pick_along``, whose sparsity pattern is all of ``v``, valid when
    the segments change with the point."""
    return lambda v, j: dnp.reshape(ops.pick_along(v, indices=j.ravel(), axis=-1), shape)


@jax_twin()
def polyval(p: Any, x: Any) -> Any:
    """The polynomial with coefficients ``p`` (highest power first, or a ``numpy.poly1d``) at
    ``x``, by Horner's rule."""
    p = p.coeffs if isinstance(p, np.poly1d) else p  # poly1d's own indexing counts powers up
    p, x = _array(p), _array(x)
    if dnp.shape(p) == ():
        raise TypeError("polyval: p must be a sequence of coefficients (1-D), got a scalar")
    n = dnp.shape(p)[0]
    if n == 0:
        return np.zeros_like(np.asarray(concrete(x)))  # NumPy's: zeros like x
    y = x * 0 + p[0]  # p[0] in x's shape and the common dtype
    for k in range(1, n):
        y = y * x + p[k]
    return y


@jax_twin()
def vander(x: Any, N: int | None = None, increasing: bool = False) -> Any:  # noqa: N803
    """The Vandermonde matrix: columns ``x**(N-1), ..., x, 1`` (reversed with ``increasing``)."""
    x = _array(x)
    if len(dnp.shape(x)) != 1:
        raise ValueError(f"vander: x must be 1-D, got shape {dnp.shape(x)}")
    n = dnp.shape(x)[0] if N is None else as_int(N, "vander: N")
    if n < 0:
        raise ValueError(f"vander: N must be non-negative, got {N}")
    dtype = np.result_type(getattr(concrete(x), "dtype", np.float64), np.int64)
    if n == 0:
        return np.empty((dnp.shape(x)[0], 0), dtype)
    powers: list[Any] = [np.ones(dnp.shape(x), dtype)]
    for _ in range(1, n):
        powers.append(powers[-1] * x)
    return dnp.stack(powers if increasing else powers[::-1], axis=1)


@jax_twin()
def trapezoid(y: Any, x: Any = None, dx: Any = 1.0, axis: int = -1) -> Any:
    """The integral of ``y`` along ``axis`` by the trapezoidal rule, at sample points ``x`` (1-D
    along the axis, or ``y``'s shape) or spacing ``dx``; differentiated in all three."""
    y, x = _array(y), _array(x)
    nd = len(dnp.shape(y))
    ax = _one_axis("trapezoid", y, axis)

    def part(s):
        return dnp.getitem(y, (slice(None),) * ax + (s,))

    if x is None:
        d = dx
    else:
        d = dnp.diff(x, axis=-1 if len(dnp.shape(x)) == 1 else axis)  # NumPy: x's own axis
        if len(dnp.shape(x)) == 1 and nd > 1:
            d = dnp.reshape(d, tuple(-1 if k == ax else 1 for k in range(nd)))
    return dnp.sum(d * (part(slice(1, None)) + part(slice(None, -1))) / 2.0, axis=ax)


def _full_convolution(a: Any, v: Any) -> Any:
    n, m = dnp.shape(a)[0], dnp.shape(v)[0]
    # out[k] = sum_j a[k - j] v[j]: a zero-padded, read in windows (one gather), times v reversed
    zeros = np.zeros(m - 1, np.result_type(*(getattr(concrete(u), "dtype", float) for u in (a, v))))
    padded = dnp.concatenate([zeros, a, zeros]) if m > 1 else a
    windows = dnp.take(padded, np.arange(n + m - 1)[:, None] + np.arange(m)[None, :], axis=0)
    return dnp.matmul(windows, dnp.flip(v, 0))


def _mode_slice(fn: str, full: Any, n: int, m: int, mode: str) -> Any:
    if mode == "full":
        return full
    if mode == "same":
        start = (min(n, m) - 1) // 2
        return full[start:start + max(n, m)]
    if mode == "valid":
        return full[min(n, m) - 1:max(n, m)]
    raise ValueError(f"{fn}: mode must be 'full', 'same' or 'valid', got {mode!r}")


def _check_1d(fn: str, a: Any, v: Any) -> tuple[int, int]:
    sa, sv = dnp.shape(a), dnp.shape(v)
    if len(sa) != 1 or len(sv) != 1:
        raise ValueError(f"{fn}: a and v must be 1-D, got shapes {sa} and {sv}")
    if 0 in (sa[0], sv[0]):
        raise ValueError(f"{fn}: a and v must not be empty")
    return sa[0], sv[0]


@jax_twin()
def convolve(a: Any, v: Any, mode: str = "full") -> Any:
    """Discrete linear convolution of two 1-D sequences (``full``, ``same`` or ``valid``)."""
    a, v = _array(a), _array(v)
    n, m = _check_1d("convolve", a, v)
    return _mode_slice("convolve", _full_convolution(a, v), n, m, mode)


@jax_twin()
def correlate(a: Any, v: Any, mode: str = "valid") -> Any:
    """Cross-correlation of two real 1-D sequences: ``c[k] = sum_n a[n + k] v[n]``, as NumPy's
    (complex sequences, which NumPy conjugates, are refused)."""
    a, v = _real("correlate", "a", _array(a)), _real("correlate", "v", _array(v))
    n, m = _check_1d("correlate", a, v)
    if m > n:  # NumPy's order: the longer sequence slides, the result reversed
        return dnp.flip(correlate(v, a, mode), 0)
    return _mode_slice("correlate", _full_convolution(a, dnp.flip(v, 0)), n, m, mode)


@jax_twin()
def ediff1d(ary: Any, to_end: Any = None, to_begin: Any = None) -> Any:
    """Differences of consecutive entries of the flattened array, with ``to_begin`` and
    ``to_end`` (scalars or sequences, traced or not) around them."""
    diffs = dnp.diff(dnp.ravel(_array(ary)))
    dtype = np.asarray(concrete(diffs)).dtype  # NumPy's: the ends are cast to it

    def end(name: str, v: Any) -> Any:
        v = dnp.ravel(_array(v))
        have = np.asarray(concrete(v)).dtype
        if not np.can_cast(have, dtype, casting="same_kind"):
            raise TypeError(f"ediff1d: {name} of dtype {have} cannot be cast to the input's "
                            f"{dtype} (NumPy's same_kind rule)")
        return v if have == dtype else dnp.astype(v, dtype)

    parts = [end("to_begin", to_begin)] if to_begin is not None else []
    parts.append(diffs)
    if to_end is not None:
        parts.append(end("to_end", to_end))
    return parts[0] if len(parts) == 1 else dnp.concatenate(parts)


@jax_twin()
def ldexp(x1: Any, x2: Any) -> Any:
    """``x1 * 2**x2`` for integer ``x2``, without overflow or underflow on the way
    (differentiated in ``x1``: ``2**x2``, infinite or 0 where it is out of range, as in JAX)."""
    e = np.asarray(concrete(x2))
    if e.dtype.kind not in "iu":
        raise TypeError(f"ldexp: x2 must be integers, got dtype {e.dtype}")
    return ops.special.ldexp(_array(x1), e)


@jax_twin()
def heaviside(x1: Any, x2: Any) -> Any:
    """0 where ``x1 < 0``, ``x2`` where ``x1 == 0``, 1 where ``x1 > 0`` (derivative only through
    ``x2``)."""
    x2 = _array(x2)
    c = np.asarray(concrete(x1))
    dtype = _float_dtype(x1, x2)
    step = np.where(np.isnan(c), np.nan, (c > 0)).astype(dtype)
    return ops.where(c == 0, x2 + step * 0, step)
