"""Shape primitives: transpose, reshape, broadcast_to, expand_dims, squeeze, flip,
concatenate and stack.  All linear: each VJP is the op's transpose and the tape keeps
only shapes.  Also :func:`pad_batch`, which lines a batched tangent up for broadcasting.

Ops whose parameters are negative axes are their own JVP (:func:`.rules.deflinear`);
``transpose``, ``reshape`` and ``broadcast_to`` write theirs, to keep a tangent's
leading batch axes in front.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .core import axis_param, batch_shape, ndim_of, perm_param, shape_of
from .indexing import getitem
from .kernels import broadcast_view
from .rules import deflinear


def _batch_tail(t: Any, x: Any, axes: tuple) -> tuple:
    """A permutation of ``x``'s (negative) axes, extended to keep ``t``'s batch axes in front."""
    nb = ndim_of(t) - ndim_of(x)
    if nb == 0:
        return axes
    n = len(axes)
    return tuple(range(-nb - n, -n)) + tuple(axes)


def _inverse_perm(axes: tuple) -> tuple:
    n = len(axes)
    inv = [0] * n
    for i, a in enumerate(axes):
        inv[a % n] = i - n
    return tuple(inv)


transpose = deflinear(
    "transpose", lambda x, axes: np.transpose(x, axes),
    jvp=(lambda t, ans, x, axes: transpose(t, axes=_batch_tail(t, x, axes)),),
    vjp=(lambda g, ans, x, axes: transpose(g, axes=_batch_tail(g, ans, _inverse_perm(axes))),),
    normalize=perm_param("axes"))

reshape = deflinear(
    "reshape", lambda x, shape: np.reshape(x, shape),
    jvp=(lambda t, ans, x, shape: reshape(t, shape=batch_shape(t, x) + tuple(shape)),),
    vjp=(lambda g, ans, x, shape: reshape(g, shape=batch_shape(g, ans) + shape_of(x)),))


def pad_batch(t: Any, nb: int, out_ndim: int) -> Any:
    """Insert unit axes after the batch axes so ``t`` broadcasts against a rank-``out_ndim`` value."""
    ts = shape_of(t)
    missing = out_ndim - (len(ts) - nb)
    if missing <= 0:
        return t
    return reshape(t, shape=ts[:nb] + (1,) * missing + ts[nb:])


def _bcast_jvp(t: Any, ans: Any, x: Any, shape: tuple) -> Any:
    return broadcast_to(pad_batch(t, ndim_of(t) - ndim_of(x), len(shape)),
                        shape=batch_shape(t, x) + tuple(shape))


def _bcast_vjp(g: Any, ans: Any, x: Any, shape: tuple) -> Any:
    from .reductions import unbroadcast  # reductions builds on this module

    return unbroadcast(g, shape_of(x), ndim_of(g) - len(shape))


broadcast_to = deflinear("broadcast_to", broadcast_view,
                         jvp=(_bcast_jvp,), vjp=(_bcast_vjp,))


def _expand_dims_impl(x: Any, axis: tuple) -> Any:
    if axis == (-1,) and type(x) is np.ndarray:
        return x[..., None]  # a reduction over the last axis undone: the common case
    if not isinstance(x, (np.ndarray, np.generic)):  # NumPy scalars reshape like 0-d arrays
        return np.expand_dims(x, axis)
    shape = list(x.shape)
    n = len(shape) + len(axis)
    if len(axis) == 1:
        shape.insert(axis[0] % n, 1)
    else:
        for a in sorted([a % n for a in axis]):
            shape.insert(a, 1)
    return x.reshape(shape)


expand_dims = deflinear("expand_dims", _expand_dims_impl,
                        (lambda g, ans, x, axis: squeeze(g, axis=axis),),
                        normalize=axis_param("axis", extra="len"))
squeeze = deflinear("squeeze", lambda x, axis: np.squeeze(x, axis),
                    (lambda g, ans, x, axis: expand_dims(g, axis=axis),),
                    normalize=axis_param("axis"))
flip = deflinear("flip", lambda x, axis: np.flip(x, axis),
                 (lambda g, ans, x, axis: flip(g, axis=axis),), normalize=axis_param("axis"))


def _along(axis: int, index: Any) -> tuple:
    """An index selecting ``index`` along the (negative) ``axis``, every other axis whole."""
    return (Ellipsis, index) + (slice(None),) * (-axis - 1)


def _concat_vjp(i: int, g: Any, ans: Any, *xs: Any, axis: int) -> Any:
    start = sum(shape_of(x)[axis] for x in xs[:i])
    return getitem(g, index=_along(axis, slice(start, start + shape_of(xs[i])[axis])))


concatenate = deflinear("concatenate", lambda *xs, axis: np.concatenate(xs, axis=axis),
                        _concat_vjp, variadic=True, normalize=axis_param("axis"))
stack = deflinear("stack", lambda *xs, axis: np.stack(xs, axis=axis),
                  lambda i, g, ans, *xs, axis: getitem(g, index=_along(axis, i)),
                  variadic=True, normalize=axis_param("axis", extra=1))
