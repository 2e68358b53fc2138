"""Reductions and normalisations along axes: sum, mean, prod, max, min, logsumexp,
softmax, log_softmax and cumsum.

``axis`` is a tuple of negative ints (an int for ``cumsum``); ``bind`` converts NumPy's
positive axes (:func:`.core.axis_param`).  Also :func:`unbroadcast`, the one place
broadcasting is undone.
"""

from __future__ import annotations

import math
import weakref
from typing import Any

import numpy as np

from .. import dispatch
from ..dispatch import concrete
from ..registry import AXIS_GROUP, CUMULATIVE, REDUCTION, SPREAD, Primitive, register
from .core import (
    as_floating,
    axis_param,
    batch_shape,
    count_over,
    ndim_of,
    per_input,
    reduce_flops,
    shape_of,
    size_of,
    times,
)
from .elementwise import div, exp, mul, mul_zero_wins, sub, where
from .kernels import EXTREMUM_MAX_K, broadcast_view, extremum_last, short_rows, sum_block, sum_last
from .onehot import OneHot, maximisers
from .rules import deflinear, op_for
from .shape_ops import _expand_dims_impl, broadcast_to, expand_dims, flip, reshape, transpose

_AXIS = axis_param("axis")


def _expand_reduced(g: Any, axis: tuple, keepdims: bool) -> Any:
    """Put back the reduced axes of a reduction's output as unit axes."""
    return g if keepdims else expand_dims(g, axis=axis)


_ARRAYS = (np.ndarray, np.float64, np.float32)  # plain cotangents: _restore skips dispatch


def _restore(g: Any, x: Any, axis: tuple, keepdims: bool) -> Any:
    """Broadcast a reduction's cotangent back over ``x``'s shape (batch axes kept)."""
    if dispatch.counting is None and type(g) in _ARRAYS:  # a plain cotangent: no dispatch
        if g.ndim == 0:  # a full reduction's: spread over any shape as it is
            return broadcast_view(g, shape_of(x))
        if not keepdims:
            g = _expand_dims_impl(g, axis)
        xs = shape_of(x)
        return broadcast_view(g, g.shape[:g.ndim - len(xs)] + xs)
    g = _expand_reduced(g, axis, keepdims)
    return broadcast_to(g, shape=batch_shape(g, x) + shape_of(x))


def _reducer(ufunc: np.ufunc, fallback: Any) -> Any:
    """``fallback`` (``np.sum``, ``np.max``, ...), calling ``ufunc.reduce`` directly on arrays,
    and :mod:`.kernels`' faster kernels over short last axes."""

    def impl(x: Any, axis: tuple, keepdims: bool) -> Any:
        if type(x) is np.ndarray and x.ndim < 2:  # no kernel for one axis: NumPy's loop
            return ufunc.reduce(x, axis=axis, keepdims=keepdims)
        if ufunc is np.add:
            out = sum_block(x, axis, keepdims)
            if out is not None:
                return out
            if short_rows(x, axis):
                return sum_last(x, keepdims)
        elif short_rows(x, axis) and x.shape[-1] <= EXTREMUM_MAX_K:
            return extremum_last(ufunc, x, keepdims)
        if type(x) is np.ndarray:  # the same reduction without NumPy's Python wrapper
            return ufunc.reduce(x, axis=axis, keepdims=keepdims)
        return fallback(x, axis=axis, keepdims=keepdims)

    return impl


def _reduction(name: str, impl: Any, weights: Any = None, vjp: Any = None, jvp: Any = None,
               **kw: Any) -> Any:
    """A reduction whose derivative is a weighting of its input:
    ``jvp = sum(t * w)`` and ``vjp = restore(g) * w`` with ``w = weights(ans, x, axis, keepdims)``
    (``jvp``, ``vjp``: faster rules for the same products; with both, no ``weights``)."""
    return op_for(register(Primitive(
        name, impl,
        jvp=(jvp or (lambda t, ans, x, axis, keepdims: sum_(mul(t, weights(ans, x, axis, keepdims)),
                                                             axis=axis, keepdims=keepdims)),),
        vjp=(vjp or (lambda g, ans, x, axis, keepdims: mul(_restore(g, x, axis, keepdims),
                                                           weights(ans, x, axis, keepdims))),),
        normalize=_AXIS, sparsity=REDUCTION, **kw,
    )))


_sum_impl = _reducer(np.add, np.sum)
sum_ = deflinear(
    "sum", _sum_impl,
    (lambda g, ans, x, axis, keepdims: _restore(g, x, axis, keepdims),),
    flops=reduce_flops, normalize=_AXIS, sparsity=REDUCTION)


def _mean_impl(x: Any, axis: tuple, keepdims: bool) -> Any:
    if type(x) is np.ndarray and (x.dtype == np.float64 or x.dtype == np.float32):
        # np.mean's own arithmetic (sum, then divide by the count) without its Python wrapper
        return np.true_divide(np.add.reduce(x, axis=axis, keepdims=keepdims), float(count_over(x, axis)))
    return np.mean(x, axis=axis, keepdims=keepdims)


mean = deflinear(
    "mean", _mean_impl,
    # divided at the reduced shape, then spread: one small pass, not one over x
    (lambda g, ans, x, axis, keepdims: _restore(div(g, float(count_over(x, axis))), x, axis, keepdims),),
    flops=reduce_flops, normalize=_AXIS, sparsity=REDUCTION)


def _prod_others(ans: Any, x: Any, axis: tuple, keepdims: bool) -> Any:
    """For each element, the product of the other elements of its reduction group.

    Division-free (exact when the input holds zeros): the group is laid out on a
    last axis of length N, tiled N times with the diagonal set to 1, and reduced.
    """
    xs = shape_of(x)
    keep = [i - len(xs) for i in range(len(xs)) if i - len(xs) not in axis]
    perm = tuple(keep) + tuple(axis)
    moved = transpose(x, axes=perm)
    kept_shape = tuple(xs[a] for a in keep)
    n = math.prod(xs[a] for a in axis)
    flat = reshape(moved, shape=kept_shape + (n,))
    eye = np.eye(n, dtype=bool)
    tiled = where(eye, 1.0, expand_dims(flat, axis=(-2,)))
    others = prod(tiled, axis=(-1,), keepdims=False)
    others = reshape(others, shape=kept_shape + tuple(xs[a] for a in axis))
    inverse = tuple(int(i) - len(perm) for i in np.argsort([p % len(xs) for p in perm]))
    return transpose(others, axes=inverse)


def _times_others(t: Any, ans: Any, x: Any, axis: tuple, keepdims: bool) -> Any:
    return mul_zero_wins(t, _prod_others(ans, x, axis, keepdims))


def _prod_jvp(t: Any, ans: Any, x: Any, axis: tuple, keepdims: bool) -> Any:
    return sum_(_times_others(t, ans, x, axis, keepdims), axis=axis, keepdims=keepdims)


def _prod_vjp(g: Any, ans: Any, x: Any, axis: tuple, keepdims: bool) -> Any:
    return _times_others(_restore(g, x, axis, keepdims), ans, x, axis, keepdims)


prod = _reduction("prod", lambda x, axis, keepdims: np.prod(x, axis=axis, keepdims=keepdims),
                  jvp=_prod_jvp, vjp=_prod_vjp, flops=reduce_flops)


_F64 = np.dtype(np.float64)


def _share_dtype(g: Any, x: Any) -> np.dtype:
    """The dtype of ``g``'s shares over ``x``'s maximisers (tie_scale's and tie_pick's)."""
    if getattr(x, "dtype", None) is _F64 and (type(g) is float or getattr(g, "dtype", None) is _F64):
        return _F64
    return np.result_type(g, x, 1.0)  # before g becomes an array: a Python float stays weak


def _tie_scale_impl(g: Any, x: Any, ans: Any, axis: tuple, keepdims: bool) -> Any:
    # One compare, the tie count on the bool mask, one multiply by g / count (reduced shape).
    dtype = _share_dtype(g, x)
    if getattr(ans, "size", 1) == 1 and (type(g) is float or g.ndim == ndim_of(ans)):
        hit = np.equal(x, ans)  # one group, no batch: a single share, written where hit
        ties = np.count_nonzero(hit)
        if ties:
            out = np.zeros(hit.shape, dtype)
            share = (g if type(g) is float else g.item()) / ties
            if ties == 1:  # argmax of a bool mask stops at its first True
                out.reshape(-1)[hit.argmax()] = share
            else:
                out[hit] = share
            return out
    if not keepdims:
        g, ans = _expand_dims_impl(g, axis), _expand_dims_impl(ans, axis)
    hit = np.equal(x, ans)
    rows = short_rows(x, axis) and dtype == x.dtype
    if rows and g.shape == ans.shape and np.count_nonzero(hit) * x.shape[-1] == x.size \
            and not np.isnan(ans).any():  # no NaN row, so no ties: g lands where hit, in order
        out = np.zeros(x.size, dtype)
        out[np.flatnonzero(hit)] = g.ravel()
        return out.reshape(x.shape)
    if rows:  # count the ties as floats: a fast sum
        hit = hit.astype(dtype)
        share = np.true_divide(g, sum_last(hit, True), dtype=dtype)
        if share.ndim != hit.ndim:  # g has batch axes: the product is larger than hit
            return np.multiply(hit, share)
        hit *= share
        return hit
    share = np.true_divide(g, np.add.reduce(hit, axis=axis, keepdims=True), dtype=dtype)
    return np.multiply(hit, share, dtype=dtype)


def _tie_primitive(name: str, impl: Any, itself: Any, transpose: Any, flops: Any,
                   sparsity: Any) -> Any:
    """A primitive linear in its first operand, whose ``x`` and ``ans`` operands only locate
    the maximisers: its JVP is itself on the tangent, its VJP ``transpose`` on the cotangent
    (``itself`` and ``transpose`` return the two ops, which refer to each other)."""
    return register(Primitive(
        name, impl,
        jvp=(lambda t, out, first, x, ans, axis, keepdims: itself()(t, x, ans, axis=axis,
                                                                    keepdims=keepdims), None, None),
        vjp=(lambda g, out, first, x, ans, axis, keepdims: transpose()(g, x, ans, axis=axis,
                                                                       keepdims=keepdims), None, None),
        flops=flops, linear=True, sparsity=sparsity,
        normalize=axis_param("axis", arg=1),  # axes of x, the 2nd operand
    )).bind


def _tie_scale_flops(ans: Any, g: Any, x: Any, *args: Any, **params: Any) -> int:
    # the compare and the tie count over x once, then one product per output element
    return size_of(ans) + 2 * size_of(x)


# The VJP of max/min: g spread over the maximisers (batch axes of g kept); its transpose
# is tie_pick.
tie_scale = _tie_primitive("tie_scale", _tie_scale_impl, lambda: tie_scale, lambda: tie_pick,
                           _tie_scale_flops, SPREAD)


def _tie_pick_impl(t: Any, x: Any, ans: Any, axis: tuple, keepdims: bool) -> Any:
    dtype = _share_dtype(t, x)
    hit = np.equal(x, ans if keepdims else _expand_dims_impl(ans, axis))
    one_group = len(axis) == ndim_of(x)
    if type(t) is np.ndarray and type(x) is np.ndarray and (one_group or axis == (-1,)) \
            and x.size and np.count_nonzero(hit) * (x.shape[-1] if not one_group else x.size) == x.size \
            and not np.isnan(ans).any():  # one maximiser per group: t read there, in order
        at, lead = np.flatnonzero(hit), t.shape[:t.ndim - x.ndim]
        if not one_group and x.ndim == 2:  # rows of a matrix: the VJP may need them again
            _found[:] = (weakref.ref(x), weakref.ref(ans), at - np.arange(0, x.size, x.shape[1]), True)
        picked = np.take(t.reshape(lead + (-1,)), at, axis=-1) if lead else t.take(at)
        return picked.reshape(lead + shape_of(ans)).astype(dtype, copy=False)
    share = np.true_divide(hit, np.add.reduce(hit, axis=axis, keepdims=True), dtype=dtype)
    return np.add.reduce(np.multiply(t, share, dtype=dtype), axis=axis, keepdims=keepdims)


# max/min's JVP: t weighted by the shares of the maximisers and reduced, t[argmax] when each
# group has one; its transpose is tie_scale.
tie_pick = _tie_primitive("tie_pick", _tie_pick_impl, lambda: tie_pick, lambda: tie_scale,
                          per_input(2), REDUCTION)


def _extremum_vjp(g: Any, ans: Any, x: Any, axis: tuple, keepdims: bool) -> Any:
    # One maximiser in each row of a matrix: a OneHot cotangent (the reverse sweep's own).
    if type(g) is np.ndarray and axis == (-1,) and dispatch.counting is None \
            and g.ndim == ndim_of(ans):
        xv, av = concrete(x), concrete(ans)  # the places do not depend on any tangent
        if type(xv) is np.ndarray and xv.ndim == 2 and xv.shape[1] > 1 and xv.dtype.kind == "f" \
                and xv.size >= ONEHOT_MIN_SIZE:
            x_ref, ans_ref, cols, unique = _found
            same = x_ref() is xv and ans_ref() is av
            # unique: forward over reverse, tie_pick found them; else one hit per row (and no
            # NaN) makes the forward pass's first places the maximisers
            hit = None if same and unique else np.equal(xv, av if keepdims else av[:, None])
            if same and (hit is None or (np.count_nonzero(hit) == xv.shape[0]
                                         and not np.isnan(av).any())):
                return OneHot(xv.shape, cols, g.astype(_share_dtype(g, xv), copy=False).reshape(-1))
            sparse = maximisers(g, hit, _share_dtype(g, xv))
            if sparse is not None:
                return sparse
    if dispatch.counting is None and type(g) in _PLAIN_G and type(x) is np.ndarray \
            and type(ans) in _ARRAYS:  # nothing traced: tie_scale's impl without its dispatch
        return _tie_scale_impl(g, x, ans, axis, keepdims)
    return tie_scale(g, x, ans, axis=axis, keepdims=keepdims)


_PLAIN_G = frozenset({float, *_ARRAYS})


#: Below this many elements the dense cotangent's passes cost less than OneHot's calls
#: (GradBench's small kmeans, 10,000 elements: 4% slower with a OneHot; its large one, a
#: million: 41% faster).
ONEHOT_MIN_SIZE = 2**15


def _dead() -> None:
    return None


# The last matrix whose row maxima were found by place, and its maxima, held weakly; each
# row's column; whether ties are ruled out. tie_pick (the JVP) finds the unique maximisers,
# so a JVP's own VJP (forward over reverse, GradBench's kmeans) reads them as they are;
# the forward pass of a large matrix (_by_position) finds the first ones, and the VJP then
# counts the hits instead of finding them again.
_found: list = [_dead, _dead, None, False]

#: Rows at least this long take argmax/argmin (their reduction is faster on shorter ones).
ARG_MIN_K = 64


def _by_position(arg: Any, impl: Any) -> Any:
    """``impl``, but a large float matrix's extremum along its rows is read at ``arg``'s
    places (``np.argmax``/``np.argmin``: the first extremum, the first NaN), kept for the VJP."""

    def rows(x: Any, axis: tuple, keepdims: bool) -> Any:
        if axis == (-1,) and type(x) is np.ndarray and x.ndim == 2 and x.shape[1] >= ARG_MIN_K \
                and x.size >= ONEHOT_MIN_SIZE and x.dtype.kind == "f" and x.flags.c_contiguous:
            cols = arg(x, axis=1)
            ans = x[np.arange(x.shape[0]), cols]
            if keepdims:
                ans = ans[:, None]
            _found[:] = (weakref.ref(x), weakref.ref(ans), cols, False)
            return ans
        return impl(x, axis, keepdims)

    return rows


def _extremum(name: str, impl: Any) -> Any:
    # Ties share the derivative equally, as in JAX (tie_pick and tie_scale).
    return _reduction(name, impl, flops=reduce_flops, saves="both",
                      jvp=lambda t, ans, x, axis, keepdims: tie_pick(t, x, ans, axis=axis,
                                                                     keepdims=keepdims),
                      vjp=_extremum_vjp)


max_ = _extremum("max", _by_position(np.argmax, _reducer(np.maximum, np.max)))
min_ = _extremum("min", _by_position(np.argmin, _reducer(np.minimum, np.min)))


def _axis_max(x: Any, axis: tuple) -> Any:
    """The maximum along ``axis`` (kept), -inf over an empty axis (as JAX's logsumexp)."""
    if np.size(x) == 0:
        return np.max(as_floating(x), axis=axis, keepdims=True, initial=-np.inf)
    return np.max(x, axis=axis, keepdims=True)


def _logsumexp_impl(x: Any, axis: tuple, keepdims: bool) -> Any:
    m = _axis_max(x, axis)
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):  # log(0): -inf over an empty axis, or all -inf
        out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


def _lse_weights(ans: Any, x: Any, axis: tuple, keepdims: bool) -> Any:
    return exp(sub(x, _expand_reduced(ans, axis, keepdims)))  # softmax(x) along axis


# the VJP broadcasts g in the multiply itself (no broadcast_to of g first)
logsumexp = _reduction(
    "logsumexp", _logsumexp_impl, _lse_weights, flops=per_input(4), saves="both",
    vjp=lambda g, ans, x, axis, keepdims: mul(_expand_reduced(g, axis, keepdims),
                                              _lse_weights(ans, x, axis, keepdims)))


def _softmax_impl(x: Any, axis: tuple) -> Any:
    e = np.exp(x - _axis_max(x, axis))
    return e / np.sum(e, axis=axis, keepdims=True)


def _softmax_lin(t: Any, ans: Any, x: Any, axis: tuple) -> Any:
    # d softmax = s * (t - <t, s>); the same expression is its own transpose.
    return mul(ans, sub(t, sum_(mul(t, ans), axis=axis, keepdims=True)))


softmax = register(Primitive(
    "softmax", _softmax_impl, jvp=(_softmax_lin,), vjp=(_softmax_lin,),
    flops=times(5), saves="ans", normalize=_AXIS, sparsity=AXIS_GROUP,
)).bind


def _log_softmax_impl(x: Any, axis: tuple) -> Any:
    s = x - _axis_max(x, axis)
    with np.errstate(divide="ignore"):  # log(0) over an empty axis: the answer is empty
        return s - np.log(np.sum(np.exp(s), axis=axis, keepdims=True))


log_softmax = register(Primitive(
    "log_softmax", _log_softmax_impl,
    jvp=(lambda t, ans, x, axis: sub(t, sum_(mul(t, exp(ans)), axis=axis, keepdims=True)),),
    vjp=(lambda g, ans, x, axis: sub(g, mul(exp(ans), sum_(g, axis=axis, keepdims=True))),),
    flops=times(5), saves="ans", normalize=_AXIS, sparsity=AXIS_GROUP,
)).bind

cumsum = deflinear(
    "cumsum", lambda x, axis: np.cumsum(x, axis=axis),
    (lambda g, ans, x, axis: flip(cumsum(flip(g, axis=(axis,)), axis=axis), axis=(axis,)),),
    flops=reduce_flops, normalize=_AXIS, sparsity=CUMULATIVE)


def unbroadcast(g: Any, target: tuple[int, ...], nb: int = 0) -> Any:
    """Sum ``g`` (batch axes ``nb`` + a broadcast shape) back down to batch + ``target``."""
    if type(g) is OneHot:
        summed = None if nb else g.summed_to(tuple(target))
        if summed is not None:
            return summed
        g = g.dense()
    gs = shape_of(g)
    if gs[nb:] == target:
        return g
    lead = len(gs) - nb - len(target)
    axes = list(range(nb, nb + lead))
    axes += [nb + lead + i for i, s in enumerate(target) if s == 1 and gs[nb + lead + i] != 1]
    axis = tuple(a - len(gs) for a in axes)
    want = gs[:nb] + tuple(target)
    if type(g) is np.ndarray and dispatch.counting is None:  # a plain cotangent: no dispatch
        out = _sum_impl(g, axis, False)
        return out if out.shape == want else out.reshape(want)
    out = sum_(g, axis=axis, keepdims=False)
    return out if shape_of(out) == want else reshape(out, shape=want)
