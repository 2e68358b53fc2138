"""Elementwise NumPy functions: the new primitives under NumPy's names, plus the ones
that are exact compositions (degree conversion, ``fabs``, ``nan_to_num``, ``fmax``,
the complex-part functions on real input) and rounding (zero derivative).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import dispatch, ops
from ..dispatch import held
from ..ops import special as E
from ..ops.core import as_floating
from ..registry import Tracer
from ._common import concrete, jax_twin

__all__ = [
    "acos", "acosh", "angle", "arccos", "arccosh", "arcsin", "arcsinh", "arctan2", "arctanh",
    "around", "asin", "asinh", "astype", "atan", "atan2", "atanh", "cbrt", "ceil", "conj",
    "conjugate", "copysign", "deg2rad", "degrees", "exp2", "fabs", "fix", "float_power", "floor",
    "fmax", "fmin", "fmod",
    "hypot", "imag", "log10", "log2", "logaddexp", "logaddexp2", "mod", "nan_to_num", "rad2deg",
    "radians", "real", "real_if_close", "remainder", "rint", "round", "sinc", "trunc",
]

arcsin = asin = E.arcsin
arccos = acos = E.arccos
arcsinh = asinh = E.arcsinh
arccosh = acosh = E.arccosh
arctanh = atanh = E.arctanh
atan = ops.arctan
log2, log10, exp2, cbrt = E.log2, E.log10, E.exp2, E.cbrt
arctan2 = atan2 = E.arctan2
hypot, logaddexp, logaddexp2 = E.hypot, E.logaddexp, E.logaddexp2
remainder = mod = E.remainder
fmod = E.fmod
floor, ceil, rint = E.floor, E.ceil, E.rint
trunc = fix = E.trunc


def fabs(x: Any) -> Any:
    """``abs`` in floating point, as NumPy's ``fabs`` (integers and booleans give floats)."""
    if not isinstance(x, Tracer) and np.asarray(x).dtype.kind not in "fc":  # JAX arrays stay
        x = as_floating(x)
    return ops.abs_(x)


def sinc(x: Any) -> Any:
    """``sin(pi x) / (pi x)``, 1 at 0; every derivative is exact, at 0 too."""
    return E.sinc(x, k=0)


def round(a: Any, decimals: int = 0) -> Any:  # noqa: A001
    """Round to ``decimals`` places (zero derivative, as in JAX)."""
    return E.round_(a, decimals=int(decimals))


around = round

_DEG = 180.0 / math.pi


def deg2rad(x: Any) -> Any:
    """Degrees to radians: ``x * pi / 180``."""
    return ops.mul(x, 1.0 / _DEG)


def rad2deg(x: Any) -> Any:
    """Radians to degrees: ``x * 180 / pi``."""
    return ops.mul(x, _DEG)


radians, degrees = deg2rad, rad2deg


@jax_twin()
def nan_to_num(x: Any, copy: bool = True, nan: float = 0.0, posinf: float | None = None,
               neginf: float | None = None) -> Any:
    """Replace NaN and infinities by finite numbers; slope 1 where ``x`` is finite, else 0."""
    c = np.asarray(concrete(x))
    fill = np.nan_to_num(c, nan=nan, posinf=posinf, neginf=neginf)
    return ops.where(np.isfinite(c), x, fill)


def _nan_aware(fn_name: str, pick_first: Any) -> Any:
    @jax_twin(fn_name)
    def f(x1: Any, x2: Any) -> Any:
        a, b = np.asarray(concrete(x1)), np.asarray(concrete(x2))
        # As JAX: the first argument where it is strictly better or the second is NaN, so ties
        # go to the second.
        return ops.where(pick_first(a, b) | np.isnan(b), x1, x2)

    f.__name__ = f.__qualname__ = fn_name
    f.__doc__ = f"Elementwise {fn_name[1:]}imum ignoring NaN; ties go to the second argument (as JAX)."
    return f


fmax = _nan_aware("fmax", lambda a, b: a > b)
fmin = _nan_aware("fmin", lambda a, b: a < b)


@jax_twin()
def copysign(x1: Any, x2: Any) -> Any:
    """``|x1|`` with the sign (bit) of ``x2``: slope +-1 in ``x1``, none in ``x2`` (as JAX)."""
    a = as_floating(concrete(x1))
    flip = np.signbit(a) != np.signbit(concrete(x2))
    if not isinstance(x1, Tracer):
        return np.copysign(a, concrete(x2))
    return ops.where(flip, ops.neg(x1), x1)


@jax_twin()
def float_power(x1: Any, x2: Any) -> Any:
    """``x1 ** x2`` computed in float64 (NumPy's ``float_power``)."""
    return ops.power(astype(x1, np.float64), astype(x2, np.float64))


def _real_input(name: str, x: Any) -> None:
    if np.iscomplexobj(concrete(x)):
        raise NotImplementedError(f"{name}: complex inputs are not supported by dualtape")


@jax_twin()
def real(val: Any) -> Any:
    """The real part: the value itself for real input."""
    _real_input("real", val)
    return val


@jax_twin()
def conj(x: Any) -> Any:
    """The complex conjugate: the value itself for real input."""
    _real_input("conj", x)
    return x


conjugate = conj


def real_if_close(a: Any, tol: float = 100) -> Any:
    """The value itself for real input."""
    _real_input("real_if_close", a)
    return a


@jax_twin()
def imag(val: Any) -> Any:
    """The imaginary part: zeros for real input (no derivative)."""
    _real_input("imag", val)
    c = np.asarray(concrete(val))
    return np.zeros(c.shape, c.dtype)[()]


@jax_twin()
def angle(z: Any, deg: bool = False) -> Any:
    """The argument: 0 or pi for real input, piecewise constant (no derivative)."""
    _real_input("angle", z)
    return np.angle(concrete(z), deg=deg)


@jax_twin()
def astype(x: Any, dtype: Any, copy: bool = True) -> Any:
    """``x`` cast to ``dtype``: differentiable between float dtypes; to an integer or bool
    dtype the result is a constant (no derivative)."""
    target = np.dtype(dtype)
    c = concrete(x)
    if not isinstance(x, Tracer):  # a plain value: NumPy's cast (a scalar stays a scalar)
        out = np.asarray(c).astype(target, copy=copy)
        return out if isinstance(c, np.ndarray) else out[()]
    if target.kind == "c":
        raise NotImplementedError("astype: complex dtypes are not supported on traced values "
                                  "(dualtape differentiates real functions)")
    if target.kind not in "fiub":
        raise TypeError(f"astype: dtype {target} is not supported on traced values (an object "
                        "or string array would drop the derivative); cast to a floating, "
                        "integer or bool dtype")
    if target.kind != "f":
        out = np.asarray(c).astype(target)[()]  # no derivative, but the values may steer
        return held(out, (x,)) if dispatch.holding else out
    if getattr(c, "dtype", None) == target:
        return x.copy() if copy and type(x) is np.ndarray else x  # a traced value is immutable
    return E.astype(x, dtype=target)


def copy(a: Any) -> Any:
    """A copy of ``a`` (a traced value is immutable: itself, with its derivative)."""
    return a if isinstance(a, Tracer) else np.copy(a)
