"""Building arrays from traced values: ``array``, ``full``, ``linspace``, ``append``,
``column_stack``, ``dstack``, ``select``, and ``gradient`` (finite differences of an array).
All are compositions of existing primitives.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import numpy as dnp
from .. import ops
from ._common import concrete, has_jax, is_traced, jax_twin
from .axes import sizes
from .shapes import along, atleast_3d

__all__ = ["append", "array", "asarray", "column_stack", "dstack", "full", "full_like", "gradient",
           "linspace", "select"]


def _holds_traced(obj: Any) -> bool:
    if isinstance(obj, (list, tuple)):
        return any(_holds_traced(o) for o in obj)
    return is_traced(obj)


def _stack_nested(obj: Any) -> Any:
    if isinstance(obj, (list, tuple)):
        return dnp.stack([_stack_nested(o) for o in obj])
    return obj


def array(object: Any, dtype: Any = None, *, copy: bool = True, ndmin: int = 0) -> Any:  # noqa: A002
    """``numpy.array`` that also takes traced values, alone or in nested lists (stacked)."""
    if has_jax((object,)):
        import jax.numpy as jnp

        return jnp.array(object, dtype=dtype, copy=copy, ndmin=ndmin)
    if not _holds_traced(object):
        return np.array(object, dtype=dtype, copy=copy, ndmin=ndmin)
    out = _stack_nested(object)
    if dtype is not None:
        out = dnp.astype(out, dtype)
    nd = dnp.ndim(out)
    return dnp.reshape(out, (1,) * (ndmin - nd) + dnp.shape(out)) if ndmin > nd else out


def asarray(a: Any, dtype: Any = None) -> Any:
    """``numpy.asarray`` that returns traced values (and lists of them, stacked) as they are."""
    if has_jax((a,)):
        import jax.numpy as jnp

        return jnp.asarray(a, dtype=dtype)
    if not _holds_traced(a):
        return np.asarray(a, dtype=dtype)
    return array(a, dtype)


@jax_twin()
def full(shape: Any, fill_value: Any, dtype: Any = None) -> Any:
    """An array of ``shape`` filled with ``fill_value`` (differentiated)."""
    if not _holds_traced(fill_value):
        return np.full(shape, fill_value, dtype=dtype)
    shape = sizes(shape, "shape")
    out = dnp.broadcast_to(fill_value, shape)
    return out if dtype is None else dnp.astype(out, dtype)


@jax_twin()
def full_like(a: Any, fill_value: Any, dtype: Any = None) -> Any:
    """``full`` with the shape (and dtype) of ``a``; nothing flows from ``a`` itself."""
    c = concrete(a)
    return full(dnp.shape(c), fill_value, dtype or getattr(c, "dtype", np.float64))


@jax_twin()
def linspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True, retstep: bool = False,
             dtype: Any = None, axis: int = 0) -> Any:
    """``num`` evenly spaced values from ``start`` to ``stop``; both ends are differentiated."""
    if not (_holds_traced(start) or _holds_traced(stop)):
        return np.linspace(start, stop, num, endpoint, retstep, dtype, axis)
    num = int(num)
    if num < 0:
        raise ValueError(f"linspace: num must be non-negative, got {num}")
    div = (num - 1) if endpoint else num
    lead = np.broadcast_shapes(dnp.shape(start), dnp.shape(stop))
    start, stop = dnp.broadcast_to(start, lead), dnp.broadcast_to(stop, lead)
    step = ops.div(ops.sub(stop, start), float(div)) if div > 0 else ops.mul(start, np.nan)
    # NumPy's dtype: the ends' and a float's (float32 ends stay float32)
    kind = np.result_type(*(getattr(v, "dtype", v) for v in (start, stop)), 1.0)
    steps = np.arange(num, dtype=kind).reshape((num,) + (1,) * len(lead))
    y = ops.add(ops.mul(steps, step), start) if div > 0 else dnp.broadcast_to(start, (num,) + lead)
    if endpoint and num > 1:
        last = (np.arange(num) == num - 1).reshape(steps.shape)
        y = ops.where(last, stop, y)
    if axis != 0:
        y = dnp.moveaxis(y, 0, axis)
    if dtype is not None:
        y = dnp.astype(y, dtype)
    return (y, step) if retstep else y


@jax_twin()
def append(arr: Any, values: Any, axis: int | None = None) -> Any:
    """``values`` joined to the end of ``arr`` (both flattened if ``axis`` is None)."""
    if axis is None:
        return dnp.concatenate([dnp.ravel(arr), dnp.ravel(values)])
    return dnp.concatenate([arr, values], axis=axis)


@jax_twin()
def column_stack(tup: Any) -> Any:
    """1-D inputs as columns, 2-D inputs as they are, joined along the second axis."""
    cols = [dnp.reshape(a, (-1, 1)) if dnp.ndim(a) < 2 else a for a in tup]
    return dnp.concatenate(cols, axis=1)


@jax_twin()
def dstack(tup: Any) -> Any:
    """Join along the third axis (inputs made at least 3-D first)."""
    return dnp.concatenate([atleast_3d(a) for a in tup], axis=2)


@jax_twin()
def select(condlist: Any, choicelist: Any, default: Any = 0) -> Any:
    """The first choice whose condition holds, elementwise (conditions are not differentiated)."""
    if len(condlist) != len(choicelist):
        raise ValueError("select: condlist and choicelist must have the same length")
    out = default
    for cond, choice in zip(reversed(condlist), reversed(choicelist), strict=True):
        c = np.asarray(concrete(cond))
        if c.dtype != bool:
            raise TypeError(f"select: conditions must be boolean, got dtype {c.dtype}")
        out = ops.where(c, choice, out)
    return out


def _gradient_1axis(f: Any, ax: int, h: Any, edge_order: int) -> Any:
    def sl(s):
        return ops.getitem(f, index=along(ax, s))

    # h may be traced: its derivative flows through the divisions
    inner = ops.div(ops.sub(sl(slice(2, None)), sl(slice(None, -2))), ops.mul(2.0, h))
    if edge_order == 1:
        first = ops.div(ops.sub(sl(slice(1, 2)), sl(slice(0, 1))), h)
        last = ops.div(ops.sub(sl(slice(-1, None)), sl(slice(-2, -1))), h)
    else:
        first = ops.div(ops.add(ops.add(ops.mul(sl(slice(0, 1)), -1.5), ops.mul(sl(slice(1, 2)), 2.0)),
                                ops.mul(sl(slice(2, 3)), -0.5)), h)
        last = ops.div(ops.add(ops.add(ops.mul(sl(slice(-3, -2)), 0.5), ops.mul(sl(slice(-2, -1)), -2.0)),
                               ops.mul(sl(slice(-1, None)), 1.5)), h)
    return ops.concatenate(first, inner, last, axis=ax)


def _gradient_coords(f: Any, ax: int, x: Any, edge_order: int) -> Any:
    """Second-order differences on the sample points ``x`` (1-D, one per entry along ``ax``),
    with NumPy's weights for uneven steps; ``x`` may be traced."""
    nd = len(dnp.shape(f))

    def sl(s):
        return ops.getitem(f, index=along(ax, s))

    def lay(w):  # a weight per position along ax, broadcast over the other axes
        return dnp.reshape(w, tuple(-1 if k == ax % nd else 1 for k in range(nd)))

    dx = dnp.diff(x)
    d1, d2 = dx[:-1], dx[1:]
    inner = (lay(-d2 / (d1 * (d1 + d2))) * sl(slice(None, -2)) + lay((d2 - d1) / (d1 * d2)) * sl(slice(1, -1))
             + lay(d1 / (d2 * (d1 + d2))) * sl(slice(2, None)))
    if edge_order == 1:
        first = (sl(slice(1, 2)) - sl(slice(0, 1))) / dx[0]
        last = (sl(slice(-1, None)) - sl(slice(-2, -1))) / dx[-1]
    else:
        a, b = dx[0], dx[1]
        first = (-(2.0 * a + b) / (a * (a + b)) * sl(slice(0, 1)) + (a + b) / (a * b) * sl(slice(1, 2))
                 - a / (b * (a + b)) * sl(slice(2, 3)))
        a, b = dx[-2], dx[-1]
        last = (b / (a * (a + b)) * sl(slice(-3, -2)) - (a + b) / (a * b) * sl(slice(-2, -1))
                + (2.0 * b + a) / (b * (a + b)) * sl(slice(-1, None)))
    return ops.concatenate(first, inner, last, axis=ax)


@jax_twin()
def gradient(f: Any, *varargs: Any, axis: Any = None, edge_order: int = 1) -> Any:
    """Central differences inside, one-sided at the ends (``edge_order`` 1 or 2), as
    ``np.gradient``: no ``varargs`` (spacing 1), one scalar spacing for every axis, or one per
    axis, each a scalar or the 1-D sample coordinates. Spacings and coordinates may be
    traced (the derivative flows to them too)."""
    axes = dnp._axis_tuple(f, axis)
    if edge_order not in (1, 2):
        raise ValueError(f"gradient: edge_order must be 1 or 2, got {edge_order}")
    if len(varargs) == 0:
        spacing: list = [1.0] * len(axes)
    elif len(varargs) == 1 and np.ndim(concrete(varargs[0])) == 0:
        spacing = [varargs[0]] * len(axes)
    elif len(varargs) == len(axes):
        spacing = list(varargs)
    else:
        raise TypeError(f"gradient: expected no spacing, one, or one per axis ({len(axes)}), "
                        f"got {len(varargs)}")
    shape = dnp.shape(f)
    out = []
    for ax, h in zip(axes, spacing, strict=True):
        shown = ax % len(shape)
        if shape[ax] < edge_order + 1:
            raise ValueError(f"gradient: axis {shown} has {shape[ax]} points; edge_order={edge_order} "
                             f"needs at least {edge_order + 1}")
        hs = dnp.shape(h)
        if hs == ():
            out.append(_gradient_1axis(f, ax, h, edge_order))
        elif hs == (shape[ax],):
            out.append(_gradient_coords(f, ax, h, edge_order))
        else:
            raise ValueError(f"gradient: the spacing of axis {shown} must be a scalar or {shape[ax]} "
                             f"coordinates (1-D), got shape {hs}")
    return out[0] if len(out) == 1 else tuple(out)
