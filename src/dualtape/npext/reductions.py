"""Statistics and scans: ``var``, ``std``, ``average``, ``cumprod``, ``nansum``, ``nanmean``;
and NumPy's keyword arguments of the basic reductions (``with_keywords``)."""

from __future__ import annotations

import builtins
import warnings
from typing import Any

import numpy as np

from .. import numpy as dnp
from .. import ops
from ..ops import statistics as R
from ._common import concrete, jax_twin, refuse_out, unsupported

__all__ = ["average", "cumprod", "nanmax", "nanmean", "nanmin", "nanstd", "nansum", "nanvar",
           "std", "var", "with_keywords"]


@jax_twin()
def var(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: int = 0,
        keepdims: bool = False, *, where: Any = None) -> Any:
    """Variance over ``axis``, dividing by ``n - ddof`` (``ddof`` may be fractional, as in NumPy).

    ``where`` (a mask broadcast to ``a``) selects the entries, as NumPy's: ``n`` is then the
    number selected in each slice, and a slice with ``n - ddof <= 0`` divides by 0 (inf, or
    NaN where nothing is selected) with NumPy's warning.
    """
    unsupported("var", dtype=dtype, out=out)
    ddof = int(ddof) if float(ddof).is_integer() else float(ddof)
    if where is not None:
        return _masked_var(a, axis, ddof, builtins.bool(keepdims), where)
    return R.var(a, axis=dnp._axis_tuple(a, axis), ddof=ddof, keepdims=builtins.bool(keepdims))


def _masked_var(a: Any, axis: Any, ddof: float, keepdims: bool, where: Any) -> Any:
    """``var`` of the entries ``where`` selects, from differentiable ops: the masked mean, the
    masked sum of squares, and NumPy's divisor ``max(n - ddof, 0)``."""
    mask = np.broadcast_to(np.asarray(concrete(where), dtype=builtins.bool), dnp.shape(a))
    axes = dnp._axis_tuple(a, axis)
    centred = ops.where(mask, ops.sub(a, dnp.mean(a, axis=axis, keepdims=True, where=mask)), 0.0)
    total = ops.sum_(ops.square(centred), axis=axes, keepdims=keepdims)
    fdt = np.asarray(concrete(total)).dtype  # the mean's float dtype (float64 for integers)
    dof = np.maximum(np.sum(mask, axis=axes, keepdims=keepdims) - ddof, 0).astype(fdt)
    if not dof.all():
        warnings.warn("Degrees of freedom <= 0 for slice.", RuntimeWarning, stacklevel=4)
    return ops.div(total, dof)


@jax_twin()
def std(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: int = 0,
        keepdims: bool = False, *, where: Any = None) -> Any:
    """Standard deviation: ``sqrt(var)``; its slope is infinite where the variance is 0 (as JAX).
    ``where`` selects the entries, as in :func:`var`."""
    return ops.sqrt(var(a, axis, dtype, out, ddof, keepdims, where=where))


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
        n = float(ops.count_over(a, axes))
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


def _nan_mask(a: Any) -> np.ndarray | None:
    """Where ``a`` holds NaN (None for integers and bools, which cannot)."""
    c = np.asarray(concrete(a))
    return np.isnan(c) if c.dtype.kind in "fc" else None


def _counts(a: Any, nan: np.ndarray | None, axis: Any, keepdims: bool) -> tuple[np.ndarray, np.dtype]:
    """The number of entries that are not NaN per slice, in the float dtype of the mean."""
    dtype = np.asarray(concrete(a)).dtype
    dtype = dtype if dtype.kind == "f" else np.dtype(np.float64)
    valid = np.ones(dnp.shape(a), bool) if nan is None else ~nan
    return np.sum(valid, axis=dnp._axis_tuple(a, axis), keepdims=keepdims).astype(dtype), dtype


@jax_twin()
def nansum(a: Any, axis: Any = None, dtype: Any = None, out: Any = None,
           keepdims: bool = False) -> Any:
    """Sum treating NaN as zero (NaN entries get zero derivative); integers sum as ``sum``."""
    unsupported("nansum", dtype=dtype, out=out)
    nan = _nan_mask(a)
    return dnp.sum(a if nan is None else ops.where(nan, 0.0, a), axis=axis, keepdims=keepdims)


def _nan_extreme(name: str, pick: Any) -> Any:
    @jax_twin(name)
    def f(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False,
          initial: Any = None, where: Any = None) -> Any:
        unsupported(name, out=out, where=where)
        nan = _nan_mask(a)
        if nan is None or not nan.any():
            return pick(a, axis, keepdims=keepdims, initial=initial)
        fill = -np.inf if name == "nanmax" else np.inf
        got = pick(ops.where(nan, fill, a), axis, keepdims=keepdims, initial=initial)
        if initial is not None:
            return got
        empty = np.all(nan, axis=dnp._axis_tuple(a, axis), keepdims=builtins.bool(keepdims))
        if empty.any():  # an all-NaN slice is NaN, as NumPy's (which also warns)
            warnings.warn(f"{name}: All-NaN slice encountered", RuntimeWarning, stacklevel=2)
            return ops.where(empty, np.nan, got)
        return got

    f.__name__ = f.__qualname__ = name
    f.__doc__ = (f"{'Maximum' if name == 'nanmax' else 'Minimum'} ignoring NaN (an all-NaN slice "
                 "is NaN); ties share the derivative, NaN entries get none.")
    return f


nanmax = _nan_extreme("nanmax", lambda a, axis, **kw: dnp.max(a, axis, **kw))
nanmin = _nan_extreme("nanmin", lambda a, axis, **kw: dnp.min(a, axis, **kw))


@jax_twin()
def nanmean(a: Any, axis: Any = None, dtype: Any = None, out: Any = None,
            keepdims: bool = False) -> Any:
    """Mean of the entries that are not NaN (float64 for integers and bools, as in NumPy)."""
    unsupported("nanmean", dtype=dtype, out=out)
    count, _ = _counts(a, _nan_mask(a), axis, keepdims)
    return ops.div(nansum(a, axis=axis, keepdims=keepdims), count)


@jax_twin()
def nanvar(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: int = 0,
           keepdims: bool = False) -> Any:
    """Variance of the entries that are not NaN, dividing by their count minus ``ddof``: NaN
    where that is not positive, and where an entry is infinite (as NumPy and JAX)."""
    unsupported("nanvar", dtype=dtype, out=out)
    nan = _nan_mask(a)
    count, fdt = _counts(a, nan, axis, keepdims)
    centred = a - nanmean(a, axis=axis, keepdims=True)
    if nan is not None:  # the input's NaN only: inf - inf stays NaN, as in NumPy
        centred = ops.where(nan, 0.0, centred)
    dof = count - ddof
    bad = dof <= 0
    total = dnp.sum(centred * centred, axis=axis, keepdims=keepdims)
    if not bad.any():
        return ops.div(total, dof)
    warnings.warn("Degrees of freedom <= 0 for slice.", RuntimeWarning, stacklevel=3)
    return ops.where(bad, np.array(np.nan, fdt), ops.div(total, np.where(bad, 1, dof)))


@jax_twin()
def nanstd(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: int = 0,
           keepdims: bool = False) -> Any:
    """``sqrt(nanvar)``."""
    return ops.sqrt(nanvar(a, axis, dtype, out, ddof, keepdims))


# name -> (the reduction, how ``initial`` joins the result)
_WITH_KEYWORDS = {
    "sum": (ops.sum_, ops.add),
    "prod": (ops.prod, ops.mul),
    "max": (ops.max_, ops.maximum),
    "min": (ops.min_, ops.minimum),
}


def _identity(name: str, dtype: np.dtype) -> np.ndarray:
    """The value of an entry ``where=`` leaves out: the reduction's identity in ``dtype`` (for
    max and min the lowest and highest value, so that only ``initial`` ties with the result,
    as in JAX)."""
    if name in ("sum", "prod"):
        return np.array(0 if name == "sum" else 1, dtype)
    if dtype.kind == "f":
        return np.array(-np.inf if name == "max" else np.inf, dtype)
    if dtype.kind == "b":
        return np.array(name == "min")
    info = np.iinfo(dtype)
    return np.array(info.min if name == "max" else info.max, dtype)


def with_keywords(name: str, a: Any, axis: Any, keepdims: bool, dtype: Any, out: Any,
                  initial: Any, where: Any) -> Any:
    """``dnp.<name>(a, axis, keepdims)`` with NumPy's ``dtype``, ``initial`` and ``where``
    (``sum``, ``prod``, ``mean``, ``max``, ``min``); ``out=`` is refused, as a traced value
    cannot be written into."""
    refuse_out(name, out)
    if dtype is not None:
        a = dnp.astype(a, dtype)
    axes, keep = dnp._axis_tuple(a, axis), builtins.bool(keepdims)
    mask = None if where is None else np.asarray(concrete(where), dtype=builtins.bool)
    have = np.asarray(concrete(a)).dtype
    if name == "mean":
        if mask is None:
            return ops.mean(a, axis=axes, keepdims=keep)
        mask = np.broadcast_to(mask, dnp.shape(a))
        total = ops.sum_(ops.where(mask, a, np.zeros((), have)), axis=axes, keepdims=keep)
        fdt = have if have.kind == "f" else np.dtype(np.float64)  # NumPy's dtype of the mean
        return ops.div(total, np.sum(mask, axis=axes, keepdims=keep).astype(fdt))
    reduce, join = _WITH_KEYWORDS[name]
    extremum = name in ("max", "min")
    if mask is not None:
        if extremum and initial is None:
            raise ValueError(f"{name}: where= needs initial= (the {name}imum of no entries is "
                             "undefined), as in NumPy")
        a = ops.where(mask, a, _identity(name, have))
    shape = dnp.shape(a)
    if extremum and initial is not None and 0 in (shape[i] for i in axes):
        # no entries: NumPy's initial, in the result's shape
        result = np.full(np.sum(np.zeros(shape, bool), axis=axes, keepdims=keep).shape,
                         _identity(name, have))
    else:
        result = reduce(a, axis=axes, keepdims=keep)
    return result if initial is None else join(result, initial)
