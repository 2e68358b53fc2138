"""Statistics and scans: ``var``, ``std``, ``average``, ``cumprod``, ``nansum``, ``nanmean``;
and NumPy's keyword arguments of the basic reductions (``with_keywords``)."""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from .. import numpy as dnp
from .. import ops
from ..ops import statistics as R
from ._common import concrete, jax_twin, unsupported

__all__ = ["average", "cumprod", "nanmean", "nanstd", "nansum", "nanvar", "std", "var",
           "with_keywords"]


@jax_twin()
def var(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: int = 0,
        keepdims: bool = False) -> Any:
    """Variance over ``axis``, dividing by ``n - ddof``."""
    unsupported("var", dtype=dtype, out=out)
    return R.var(a, axis=dnp._axis_tuple(a, axis), ddof=int(ddof), keepdims=builtins.bool(keepdims))


@jax_twin()
def std(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: int = 0,
        keepdims: bool = False) -> Any:
    """Standard deviation: ``sqrt(var)``; its slope is infinite where the variance is 0 (as JAX)."""
    return ops.sqrt(var(a, axis, dtype, out, ddof, keepdims))


@jax_twin()
def average(a: Any, axis: Any = None, weights: Any = None, returned: bool = False, *,
            keepdims: bool = False) -> Any:
    """Weighted mean over ``axis``; both ``a`` and ``weights`` are differentiated.

    1-D weights with an int ``axis`` weigh that axis, as in NumPy.
    """
    if weights is None:
        avg = dnp.mean(a, axis=axis, keepdims=keepdims)
        if not returned:
            return avg
        axes = dnp._axis_tuple(a, axis)
        n = float(np.prod([dnp.shape(a)[i] for i in axes]))
        return avg, np.full(dnp.shape(avg), n, getattr(concrete(avg), "dtype", np.float64))[()]
    sa, sw = dnp.shape(a), dnp.shape(weights)
    if sw != sa:
        if axis is None:
            raise TypeError("average: axis must be given when the shapes of a and weights differ")
        if len(sw) != 1 or not isinstance(axis, (int, np.integer)):
            raise TypeError("average: weights must be 1-D (with an int axis) or the shape of a")
        ax = dnp._one_axis(a, axis)
        if sw[0] != sa[ax]:
            raise ValueError(f"average: weights of length {sw[0]} do not match axis {axis} "
                             f"of length {sa[ax]}")
        weights = dnp.reshape(weights, (sw[0],) + (1,) * (-ax - 1))
    num = dnp.sum(ops.mul(a, weights), axis=axis, keepdims=keepdims)
    den = dnp.sum(dnp.broadcast_to(weights, sa) if dnp.shape(weights) != sa else weights,
                  axis=axis, keepdims=keepdims)
    if np.any(np.asarray(concrete(den)) == 0):
        raise ZeroDivisionError("average: weights sum to zero")
    avg = ops.div(num, den)
    if not returned:
        return avg
    # NumPy's weight sum has the result's dtype (float64 for integer a)
    kinds = [getattr(concrete(v), "dtype", np.dtype(np.float64)) for v in (a, weights)]
    dtype = np.result_type(*kinds, *(["f8"] if kinds[0].kind in "iub" else []))
    return avg, (den if getattr(concrete(den), "dtype", None) == dtype else dnp.astype(den, dtype))


@jax_twin()
def cumprod(a: Any, axis: int | None = None, dtype: Any = None, out: Any = None) -> Any:
    """Cumulative product along ``axis`` (flattened if None); exact when ``a`` holds zeros."""
    unsupported("cumprod", dtype=dtype, out=out)
    if axis is None:
        return R.cumprod(dnp.ravel(a), axis=-1)
    return R.cumprod(a, axis=dnp._one_axis(a, axis))


def _without_nan(a: Any) -> Any:
    return ops.where(np.isnan(np.asarray(concrete(a))), 0.0, a)


@jax_twin()
def nansum(a: Any, axis: Any = None, dtype: Any = None, out: Any = None,
           keepdims: bool = False) -> Any:
    """Sum treating NaN as zero (NaN entries get zero derivative)."""
    unsupported("nansum", dtype=dtype, out=out)
    return dnp.sum(_without_nan(a), axis=axis, keepdims=keepdims)


@jax_twin()
def nanmean(a: Any, axis: Any = None, dtype: Any = None, out: Any = None,
            keepdims: bool = False) -> Any:
    """Mean of the entries that are not NaN."""
    unsupported("nanmean", dtype=dtype, out=out)
    count = np.sum(~np.isnan(np.asarray(concrete(a))), axis=dnp._axis_tuple(a, axis),
                   keepdims=keepdims)
    dtype = getattr(concrete(a), "dtype", np.dtype(np.float64))
    return ops.div(nansum(a, axis=axis, keepdims=keepdims), count.astype(dtype))


@jax_twin()
def nanvar(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: int = 0,
           keepdims: bool = False) -> Any:
    """Variance of the entries that are not NaN, dividing by their count minus ``ddof``."""
    unsupported("nanvar", dtype=dtype, out=out)
    count = np.sum(~np.isnan(np.asarray(concrete(a))), axis=dnp._axis_tuple(a, axis),
                   keepdims=keepdims)
    dtype = getattr(concrete(a), "dtype", np.dtype(np.float64))
    centred = _without_nan(a - nanmean(a, axis=axis, keepdims=True))
    return ops.div(dnp.sum(centred * centred, axis=axis, keepdims=keepdims),
                   (count - ddof).astype(dtype))


@jax_twin()
def nanstd(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: int = 0,
           keepdims: bool = False) -> Any:
    """``sqrt(nanvar)``."""
    return ops.sqrt(nanvar(a, axis, dtype, out, ddof, keepdims))


# name -> (the reduction, the value of an entry ``where=`` leaves out (None: ``initial``'s),
# how ``initial`` joins the result)
_WITH_KEYWORDS = {
    "sum": (ops.sum_, 0.0, ops.add),
    "prod": (ops.prod, 1.0, ops.mul),
    "max": (ops.max_, None, ops.maximum),
    "min": (ops.min_, None, ops.minimum),
}


def with_keywords(name: str, a: Any, axis: Any, keepdims: bool, dtype: Any, out: Any,
                  initial: Any, where: Any) -> Any:
    """``dnp.<name>(a, axis, keepdims)`` with NumPy's ``dtype``, ``initial`` and ``where``
    (``sum``, ``prod``, ``mean``, ``max``, ``min``); ``out=`` is refused, as a traced value
    cannot be written into."""
    if out is not None:
        raise TypeError(f"{name}: out= is not supported (a traced value cannot be written "
                        "into); use the returned value")
    if dtype is not None:
        a = dnp.astype(a, dtype)
    axes, keep = dnp._axis_tuple(a, axis), builtins.bool(keepdims)
    mask = None if where is None else np.asarray(concrete(where), dtype=builtins.bool)
    if name == "mean":
        if mask is None:
            return ops.mean(a, axis=axes, keepdims=keep)
        mask = np.broadcast_to(mask, dnp.shape(a))
        total = ops.sum_(ops.where(mask, a, 0.0), axis=axes, keepdims=keep)
        return ops.div(total, np.sum(mask, axis=axes, keepdims=keep, dtype=float))
    reduce, left_out, join = _WITH_KEYWORDS[name]
    if mask is not None:
        if left_out is None and initial is None:
            raise ValueError(f"{name}: where= needs initial= (the {name}imum of no entries is "
                             "undefined), as in NumPy")
        a = ops.where(mask, a, initial if left_out is None else left_out)
    result = reduce(a, axis=axes, keepdims=keep)
    return result if initial is None else join(result, initial)
