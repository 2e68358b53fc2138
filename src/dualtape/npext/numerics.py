"""Order statistics, covariance, interpolation, polynomials and 1-D signals: ``quantile``,
``percentile``, ``median``, ``ptp``, ``cov``, ``corrcoef``, ``interp``, ``polyval``,
``vander``, ``trapezoid``, ``convolve``, ``correlate`` and ``heaviside``. All are
compositions of existing primitives, differentiated in every array argument NumPy
computes with (quantile levels, sample points, weights of an interpolation)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import numpy as dnp
from .. import ops
from ._common import concrete, is_traced, jax_twin, unsupported

__all__ = ["convolve", "corrcoef", "correlate", "cov", "heaviside", "interp", "median",
           "percentile", "polyval", "ptp", "quantile", "trapezoid", "vander"]


def _one_axis(fn: str, a: Any, axis: Any) -> int:
    if not isinstance(axis, (int, np.integer)):
        raise NotImplementedError(f"{fn}: axis must be None or one int, got {axis!r}")
    nd = len(dnp.shape(a))
    if not -nd <= axis < nd:
        raise np.exceptions.AxisError(f"{fn}: axis {axis} is out of bounds for {nd} dimensions")
    return int(axis) % nd


@jax_twin()
def quantile(a: Any, q: Any, axis: Any = None, out: Any = None, overwrite_input: bool = False,
             method: str = "linear", keepdims: bool = False, *, weights: Any = None) -> Any:
    """The ``q``-th quantiles along ``axis`` (``q`` in [0, 1], a scalar or 1-D, whose axis comes
    first), interpolating linearly between the sorted values, NumPy's default method. The
    derivative reaches ``a`` through the two values each quantile reads, and ``q`` itself."""
    unsupported("quantile", out=out, weights=weights)
    if method != "linear":
        raise NotImplementedError(f"quantile: method={method!r} is not supported (only 'linear', "
                                  "NumPy's default)")
    qc = np.asarray(concrete(q), dtype=float)
    if qc.ndim > 1:
        raise NotImplementedError(f"quantile: q must be a scalar or 1-D, got shape {qc.shape}")
    if np.any((qc < 0) | (qc > 1)) or np.isnan(qc).any():
        raise ValueError(f"quantile: q must be in the range [0, 1], got {qc}")
    shape = dnp.shape(a)
    x, ax = (dnp.ravel(a), 0) if axis is None else (a, _one_axis("quantile", a, axis))
    n = dnp.shape(x)[ax]
    if n == 0:
        raise ValueError("quantile: the array is empty along the axis")
    s = dnp.sort(x, axis=ax)
    pos = (q if is_traced(q) else qc) * (n - 1.0)
    lo = np.clip(np.floor(qc * (n - 1.0)).astype(np.intp), 0, n - 1)
    hi = np.minimum(lo + 1, n - 1)
    frac = pos - lo  # traced where q is: its derivative is the local slope of the sorted values
    low, high = dnp.take(s, lo, axis=ax), dnp.take(s, hi, axis=ax)
    if qc.ndim == 1:  # q's axis first, as NumPy orders the result
        low, high = dnp.moveaxis(low, ax, 0), dnp.moveaxis(high, ax, 0)
        frac = dnp.reshape(frac, (-1,) + (1,) * (len(dnp.shape(low)) - 1))
    out_ = low + frac * (high - low)
    nan = np.isnan(np.asarray(concrete(x))).any(axis=ax)
    if nan.any():  # NumPy's answer where a slice holds NaN
        out_ = ops.where(nan, np.nan, out_)
    if keepdims:
        kept = tuple(1 for _ in shape) if axis is None else shape[:ax] + (1,) + shape[ax + 1:]
        out_ = dnp.reshape(out_, qc.shape + kept)
    return out_


@jax_twin()
def percentile(a: Any, q: Any, axis: Any = None, out: Any = None, overwrite_input: bool = False,
               method: str = "linear", keepdims: bool = False, *, weights: Any = None) -> Any:
    """``quantile(a, q / 100)``: ``q`` in [0, 100]."""
    q = q if is_traced(q) else np.asarray(q, dtype=float)
    return quantile(a, q / 100.0, axis, out, overwrite_input, method, keepdims, weights=weights)


@jax_twin()
def median(a: Any, axis: Any = None, out: Any = None, overwrite_input: bool = False,
           keepdims: bool = False) -> Any:
    """``quantile(a, 0.5)``: the middle value, or the mean of the two middle values."""
    return quantile(a, 0.5, axis, out, overwrite_input, keepdims=keepdims)


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
    x = dnp.atleast_2d(m)
    if not rowvar and dnp.shape(x)[0] != 1:
        x = dnp.transpose(x)
    if y is not None:
        yy = dnp.atleast_2d(y)
        if not rowvar and dnp.shape(yy)[0] != 1:
            yy = dnp.transpose(yy)
        x = dnp.concatenate([x, yy], axis=0)
    n = dnp.shape(x)[1]
    dof = n - (int(ddof) if ddof is not None else (0 if bias else 1))
    centred = x - dnp.mean(x, axis=1, keepdims=True)
    c = dnp.matmul(centred, dnp.transpose(centred)) / float(dof)
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
    xpc = np.asarray(concrete(xp), dtype=float)
    if xpc.ndim != 1 or dnp.shape(fp) != xpc.shape:
        raise ValueError(f"interp: xp and fp must be 1-D of one length, got shapes {xpc.shape} "
                         f"and {dnp.shape(fp)}")
    if xpc.size == 0:
        raise ValueError("interp: xp and fp must not be empty")
    xc = np.asarray(concrete(x), dtype=float)
    if xpc.size == 1:
        inside = dnp.broadcast_to(fp[0], xc.shape)
    else:
        i = np.clip(np.searchsorted(xpc, xc, side="right") - 1, 0, xpc.size - 2)
        x0, x1, f0, f1 = xp[i], xp[i + 1], fp[i], fp[i + 1]
        inside = f0 + (x - x0) * ((f1 - f0) / (x1 - x0))
    below = fp[0] if left is None else left
    above = fp[-1] if right is None else right
    out = ops.where(xc < xpc[0], below, ops.where(xc > xpc[-1], above, inside))
    return out


@jax_twin()
def polyval(p: Any, x: Any) -> Any:
    """The polynomial with coefficients ``p`` (highest power first) at ``x``, by Horner's rule."""
    n = dnp.shape(p)[0] if dnp.shape(p) else 0
    if n == 0:
        return np.zeros(dnp.shape(x))
    y = p[0] + x * 0.0  # p[0] in x's shape
    for k in range(1, n):
        y = y * x + p[k]
    return y


@jax_twin()
def vander(x: Any, N: int | None = None, increasing: bool = False) -> Any:  # noqa: N803
    """The Vandermonde matrix: columns ``x**(N-1), ..., x, 1`` (reversed with ``increasing``)."""
    if len(dnp.shape(x)) != 1:
        raise ValueError(f"vander: x must be 1-D, got shape {dnp.shape(x)}")
    n = dnp.shape(x)[0] if N is None else int(N)
    if n == 0:
        return np.empty((dnp.shape(x)[0], 0))
    powers: list[Any] = [np.ones(dnp.shape(x))]
    for _ in range(1, n):
        powers.append(powers[-1] * x)
    return dnp.stack(powers if increasing else powers[::-1], axis=1)


@jax_twin()
def trapezoid(y: Any, x: Any = None, dx: Any = 1.0, axis: int = -1) -> Any:
    """The integral of ``y`` along ``axis`` by the trapezoidal rule, at sample points ``x`` (1-D
    along the axis, or ``y``'s shape) or spacing ``dx``; differentiated in all three."""
    nd = len(dnp.shape(y))
    ax = _one_axis("trapezoid", y, axis)

    def part(s):
        return dnp.getitem(y, (slice(None),) * ax + (s,))

    if x is None:
        d = dx
    else:
        d = dnp.diff(x, axis=-1 if len(dnp.shape(x)) == 1 else ax)
        if len(dnp.shape(x)) == 1 and nd > 1:
            d = dnp.reshape(d, tuple(-1 if k == ax else 1 for k in range(nd)))
    return dnp.sum(d * (part(slice(1, None)) + part(slice(None, -1))) / 2.0, axis=ax)


def _full_convolution(a: Any, v: Any) -> Any:
    n, m = dnp.shape(a)[0], dnp.shape(v)[0]
    # out[k] = sum_j a[k - j] v[j]: a zero-padded, read in windows (one gather), times v reversed
    padded = dnp.concatenate([np.zeros(m - 1), a, np.zeros(m - 1)]) if m > 1 else a
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
    n, m = _check_1d("convolve", a, v)
    return _mode_slice("convolve", _full_convolution(a, v), n, m, mode)


@jax_twin()
def correlate(a: Any, v: Any, mode: str = "valid") -> Any:
    """Cross-correlation of two real 1-D sequences: ``c[k] = sum_n a[n + k] v[n]``, as NumPy's."""
    n, m = _check_1d("correlate", a, v)
    if m > n:  # NumPy's order: the longer sequence slides, the result reversed
        return dnp.flip(correlate(v, a, mode), 0)
    return _mode_slice("correlate", _full_convolution(a, dnp.flip(v, 0)), n, m, mode)


@jax_twin()
def heaviside(x1: Any, x2: Any) -> Any:
    """0 where ``x1 < 0``, ``x2`` where ``x1 == 0``, 1 where ``x1 > 0`` (derivative only through
    ``x2``)."""
    c = np.asarray(concrete(x1))
    step = np.where(np.isnan(c), np.nan, (c > 0).astype(float))
    return ops.where(c == 0, x2 + 0.0 * step, step)
