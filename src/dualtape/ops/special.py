"""Elementwise primitives beyond ``dualtape.ops``: inverse trigonometric and hyperbolic
functions, other bases of exp and log, ``cbrt``, ``sinc`` (every derivative), the
two-argument functions (``arctan2``, ``hypot``, ``logaddexp``, ``logaddexp2``,
``remainder``, ``fmod``, ``ldexp``), dtype conversion, and rounding (zero derivative).

Each rule is ``t * f'(x)`` (or ``g * f'(x)``) with ``f'`` written in dualtape ops,
so it is differentiated again at higher orders.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import dispatch, ops
from ..registry import ELEMENTWISE, Primitive, register
from .core import elementwise_flops, times
from .rules import defbinary, defnondiff, defunary

__all__ = [
    "arccos", "arccosh", "arcsin", "arcsinh", "arctan2", "arctanh", "astype", "cbrt", "ceil",
    "exp2", "floor", "fmod", "hypot", "ldexp", "log10", "log2", "logaddexp", "logaddexp2", "remainder",
    "rint", "round_", "sinc", "trunc",
]

# The rule-writing helpers of dualtape.ops, under this module's names.
_size, _times = elementwise_flops, times
_unary, _binary, _zero_slope = defunary, defbinary, defnondiff

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)


def _one_minus_sq(x: Any) -> Any:
    return ops.sub(1.0, ops.square(x))


# ---------------------------------------------------------------- inverse trigonometric, hyperbolic

arcsin = _unary("arcsin", np.arcsin, lambda ans, x: ops.reciprocal(ops.sqrt(_one_minus_sq(x))))
arccos = _unary("arccos", np.arccos,
                lambda ans, x: ops.neg(ops.reciprocal(ops.sqrt(_one_minus_sq(x)))))
arcsinh = _unary("arcsinh", np.arcsinh,
                 lambda ans, x: ops.reciprocal(ops.sqrt(ops.add(ops.square(x), 1.0))))
arccosh = _unary("arccosh", np.arccosh,
                 lambda ans, x: ops.reciprocal(ops.sqrt(ops.sub(ops.square(x), 1.0))))
arctanh = _unary("arctanh", np.arctanh, lambda ans, x: ops.reciprocal(_one_minus_sq(x)))

# ---------------------------------------------------------------- other bases, roots

log2 = _unary("log2", np.log2, lambda ans, x: ops.reciprocal(ops.mul(x, _LN2)))
log10 = _unary("log10", np.log10, lambda ans, x: ops.reciprocal(ops.mul(x, _LN10)))
exp2 = _unary("exp2", np.exp2, lambda ans, x: ops.mul(ans, _LN2), saves="ans")
# cbrt' = 1 / (3 cbrt(x)^2): infinite at 0, as in JAX.
def _cbrt_slope(ans: Any, x: Any) -> Any:
    # at 0 or inf, ans ** -2 keeps the next order's limit (the quotient's gives 0 * inf = NaN)
    a = np.asarray(dispatch.concrete(ans))
    if ((a == 0) | np.isinf(a)).any():
        return ops.mul(1.0 / 3.0, ops.power_const(ans, p=-2))
    return ops.div(1.0 / 3.0, ops.square(ans))


cbrt = _unary("cbrt", np.cbrt, _cbrt_slope, saves="ans")

# ---------------------------------------------------------------- sinc and all its derivatives

_SERIES_TERMS = 30
_SERIES_BELOW = 1.5  # |pi x| below this: Maclaurin series (no cancellation near 0)


def _sinc_derivative_y(y: np.ndarray, k: int) -> np.ndarray:
    """The k-th derivative of sin(y)/y, exact at y = 0."""
    small = np.abs(y) < _SERIES_BELOW
    out = np.empty_like(y)
    ys = y[small]
    acc = np.zeros_like(ys)
    # sin(y)/y = sum_n (-1)^n y^(2n) / (2n+1)!, differentiated k times term by term
    for n in range((k + 1) // 2, _SERIES_TERMS + k // 2):
        p = 2 * n - k
        acc += (-1.0) ** n * ys ** p / ((2 * n + 1) * math.factorial(p))
    out[small] = acc
    yl = y[~small]
    # Leibniz on sin(y) * (1/y): sin^(j)(y) = sin(y + j pi/2), (1/y)^(m) = (-1)^m m! / y^(m+1)
    big = np.zeros_like(yl)
    # sin(y + j pi/2) by quadrant: adding j pi/2 to a large y rounds the phase away
    sin_y, cos_y = np.sin(yl), np.cos(yl)
    quadrant = (sin_y, cos_y, -sin_y, -cos_y)
    for j in range(k + 1):
        m = k - j
        big += math.comb(k, j) * quadrant[j % 4] * (-1.0) ** m * math.factorial(m) \
            / yl ** (m + 1)
    out[~small] = big
    return out


def _sinc_impl(x: Any, k: int) -> Any:
    if k == 0:
        return np.sinc(x)
    xa = np.asarray(x)
    dtype = xa.dtype if xa.dtype.kind == "f" else np.dtype(np.float64)
    y = np.pi * xa.astype(np.float64)
    out = (np.pi ** k * _sinc_derivative_y(np.atleast_1d(y), k)).reshape(y.shape)
    return out.astype(dtype)[()]


# ``sinc(x, k)`` is the k-th derivative of sin(pi x)/(pi x); its slope is ``sinc(x, k + 1)``.
sinc = register(Primitive(
    "sinc", _sinc_impl,
    jvp=(lambda t, ans, x, k: ops.mul(t, sinc(x, k=k + 1)),),
    vjp=(lambda g, ans, x, k: ops.mul(g, sinc(x, k=k + 1)),),
    flops=_times(8), sparsity=ELEMENTWISE,
)).bind

# ---------------------------------------------------------------- two arguments (broadcasting)


def _sumsq(x: Any, y: Any) -> Any:
    return ops.add(ops.square(x), ops.square(y))


# arctan2(y, x) = angle of the point (x, y): d/dy = x / r^2, d/dx = -y / r^2.
arctan2 = _binary("arctan2", np.arctan2,
                  lambda ans, y, x: ops.div(x, _sumsq(x, y)),
                  lambda ans, y, x: ops.neg(ops.div(y, _sumsq(x, y))), flops=_times(6))


def _over_radius(v: Any, ans: Any) -> Any:
    # v / hypot, taken as 0 at the origin (the minimum-norm subgradient; JAX gives 1/2 there),
    # and with slope 0 there too (v / 1 would give the Hessian the identity)
    origin = ans == 0
    return ops.where(origin, 0.0, ops.div(v, ops.where(origin, 1.0, ans)))


hypot = _binary("hypot", np.hypot,
                lambda ans, x, y: _over_radius(x, ans), lambda ans, x, y: _over_radius(y, ans),
                saves="both", flops=_times(5))
def _gap(v: Any, ans: Any) -> Any:
    # v - logaddexp(v, w), with +inf - +inf read as 0: the slope there is 1, as in JAX
    gap = ops.sub(v, ans)
    at_inf = np.asarray(dispatch.concrete(ans)) == np.inf
    return ops.where(at_inf & (np.asarray(dispatch.concrete(v)) == np.inf), 0.0, gap) \
        if at_inf.any() else gap


logaddexp = _binary("logaddexp", np.logaddexp,
                    lambda ans, x, y: ops.exp(_gap(x, ans)),
                    lambda ans, x, y: ops.exp(_gap(y, ans)), saves="both", flops=_times(4))
logaddexp2 = _binary("logaddexp2", np.logaddexp2,
                     lambda ans, x, y: exp2(_gap(x, ans)),
                     lambda ans, x, y: exp2(_gap(y, ans)), saves="both", flops=_times(4))


def _one(ans: Any, x: Any, y: Any) -> float:
    return 1.0


# x - q y with q = floor(x / y) (remainder) or trunc(x / y) (fmod); q is piecewise constant.
def _floor_quotient(x: Any, y: Any) -> Any:
    # floor(x / y), with -1 where x / y underflowed to -0 (y infinite or huge, signs apart)
    q = floor(ops.div(x, y))
    qv = np.asarray(dispatch.concrete(q))
    if not (qv == 0).any():
        return q
    xv, yv = np.asarray(dispatch.concrete(x)), np.asarray(dispatch.concrete(y))
    under = (qv == 0) & (xv != 0) & (np.signbit(xv) != np.signbit(yv))
    return ops.where(under, -1.0, q) if under.any() else q


remainder = _binary("remainder", np.remainder, _one,
                    lambda ans, x, y: ops.neg(_floor_quotient(x, y)), flops=_times(2))
fmod = _binary("fmod", np.fmod, _one, lambda ans, x, y: ops.neg(trunc(ops.div(x, y))),
               flops=_times(2))



def _times_two_to(t: Any, ans: Any, x: Any, e: Any) -> Any:
    # t * 2**e; beyond 2**e's own range in up to three factors, so a zero t stays 0 (no 0 * inf)
    # and the rest saturate to inf or 0 as t * 2**e would exactly (as JAX's)
    one = np.ones((), getattr(dispatch.concrete(ans), "dtype", np.float64))
    top = np.finfo(one.dtype).maxexp - 1
    if np.all(np.abs(e) <= top):
        return ops.mul(t, np.ldexp(one, e))
    e = np.clip(e, -3 * top, 3 * top)
    first = e // 3
    second = (e - first) // 2
    with np.errstate(over="ignore"):  # the slope itself is out of range: inf, on purpose
        for part in (first, second, e - first - second):
            t = ops.mul(t, np.ldexp(one, part))
    return t


# x * 2**e for integer e, computed in one step (2**e alone may over- or underflow).
ldexp = _binary("ldexp", np.ldexp, saves="both", rules=(_times_two_to, None))

# ---------------------------------------------------------------- rounding: zero derivative

floor = _zero_slope("floor", np.floor)
ceil = _zero_slope("ceil", np.ceil)
rint = _zero_slope("rint", np.rint)
trunc = _zero_slope("trunc", np.trunc)


round_ = _zero_slope("round", lambda x, decimals: np.round(x, decimals), params=True)

# ---------------------------------------------------------------- dtype conversion (float to float)


def _astype_impl(x: Any, dtype: Any) -> Any:
    return np.asarray(x).astype(dtype)[()]


def _source_dtype(x: Any) -> Any:
    return getattr(x, "dtype", np.dtype(np.float64))


astype = register(Primitive(
    "astype", _astype_impl,
    jvp=(lambda t, ans, x, dtype: astype(t, dtype=dtype),),
    vjp=(lambda g, ans, x, dtype: astype(g, dtype=_source_dtype(x)),),
    flops=_size, saves="meta", linear=True, sparsity=ELEMENTWISE,
)).bind
