"""Every primitive: implementation, JVP rule, VJP rule and cost, side by side.

Conventions (see DESIGN.md):

* Rules are written with dualtape's own ops, so they are differentiable too
  (grad-of-grad, Hessians, every mix of modes).
* A tangent or cotangent may carry leading batch axes (vector mode); rules read
  primal shapes from the trailing axes, so axis parameters are always negative.
* Broadcasting is undone in one place: the engines call :func:`unbroadcast`
  for primitives registered with ``broadcasting=True``.
* ``None`` as a rule means "zero": the argument is not differentiable.
"""

from __future__ import annotations

import math
import operator
from typing import Any

import numpy as np

from . import registry
from .registry import PLAIN_TYPES, Primitive, Tracer, register

# ---------------------------------------------------------------- shape helpers


def shape_of(x: Any) -> tuple[int, ...]:
    """Shape of an array, scalar or traced value."""
    t = type(x)
    if t is np.ndarray:
        return x.shape
    if t is float or t is int:
        return ()
    if isinstance(x, Tracer):
        return shape_of(x.value)  # type: ignore[attr-defined]
    return x.shape if hasattr(x, "shape") else np.shape(x)


def ndim_of(x: Any) -> int:
    t = type(x)
    if t is np.ndarray:
        return x.ndim
    if t is float or t is int:
        return 0
    if isinstance(x, Tracer):
        return ndim_of(x.value)  # type: ignore[attr-defined]
    return x.ndim if hasattr(x, "ndim") else np.ndim(x)


def size_of(x: Any) -> int:
    t = type(x)
    if t is float or t is int:
        return 1
    return x.size if hasattr(x, "size") else np.size(x)


class Meta:
    """What the tape keeps of a value whose VJP needs only its shape and dtype."""

    __slots__ = ("shape", "dtype")

    def __init__(self, x: Any) -> None:
        self.shape = shape_of(x)
        self.dtype = getattr(x, "dtype", _FLOAT64)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)


_FLOAT64 = np.dtype(np.float64)


def unbroadcast(g: Any, target: tuple[int, ...], nb: int = 0) -> Any:
    """Sum ``g`` (batch axes ``nb`` + a broadcast shape) back down to batch + ``target``."""
    gs = shape_of(g)
    if gs[nb:] == target:
        return g
    lead = len(gs) - nb - len(target)
    axes = list(range(nb, nb + lead))
    axes += [nb + lead + i for i, s in enumerate(target) if s == 1 and gs[nb + lead + i] != 1]
    out = sum_(g, axis=tuple(a - len(gs) for a in axes), keepdims=False)
    return reshape(out, shape=gs[:nb] + tuple(target))


def pad_batch(t: Any, nb: int, out_ndim: int) -> Any:
    """Insert unit axes after the batch axes so ``t`` broadcasts against a rank-``out_ndim`` value."""
    ts = shape_of(t)
    missing = out_ndim - (len(ts) - nb)
    if missing <= 0:
        return t
    return reshape(t, shape=ts[:nb] + (1,) * missing + ts[nb:])


def batch_shape(t: Any, x: Any) -> tuple[int, ...]:
    """The leading batch axes of tangent ``t`` of primal ``x``."""
    ts = shape_of(t)
    return ts[: len(ts) - ndim_of(x)]


# ---------------------------------------------------------------- cost models


def _elementwise_flops(ans: Any, *args: Any, **params: Any) -> int:
    return size_of(ans)


def _reduce_flops(ans: Any, x: Any, **params: Any) -> int:
    return size_of(x)


def _no_flops(ans: Any, *args: Any, **params: Any) -> int:
    return 0


def _times(k: int):
    return lambda ans, *args, **params: k * size_of(ans)


# ---------------------------------------------------------------- impl helpers


def _scalar_fast(mathfn, npfn):
    """Use ``math`` on Python floats (much faster), NumPy semantics otherwise."""

    def impl(x):
        if type(x) is float:
            try:
                return mathfn(x)
            except (ValueError, OverflowError, ZeroDivisionError):
                pass
        return npfn(x)

    return impl


def _safe_binary(op, npfn):
    def impl(x, y):
        try:
            return op(x, y)
        except (ZeroDivisionError, OverflowError, ValueError):
            return npfn(x, y)

    return impl


def _pow_impl(x, y):
    if type(x) is float and type(y) in (float, int):
        try:
            return math.pow(x, y)
        except (ValueError, OverflowError, ZeroDivisionError):
            pass
    return np.power(x, y)


def _mask(cond: Any, *like: Any) -> Any:
    """A boolean mask as a float array (or float) of the first array's dtype in ``like``."""
    if type(cond) in (bool, np.bool_):
        return 1.0 if cond else 0.0
    dtype = next((x.dtype for x in like if hasattr(x, "dtype")), np.float64)
    return cond.astype(dtype)


# ---------------------------------------------------------------- registration helpers


NO_PARAMS = registry._NO_PARAMS


def _fast1(prim: Primitive):
    """The op for ``prim``: Python floats skip dispatch unless counting is on.

    A single traced argument is the top of the level order by itself, so it goes straight
    to its engine: what ``bind`` would decide, without its loop.
    """
    impl, bind = prim.impl, prim.bind

    def op(x):
        if type(x) is float and registry.counting is None:
            return impl(x)
        if isinstance(x, Tracer):
            return x.process1(prim, x)
        if type(x) in PLAIN_TYPES and registry.counting is None:
            return impl(x)
        return bind(x)

    op.__name__ = op.__qualname__ = prim.name
    op.__doc__ = f"Apply the ``{prim.name}`` primitive."
    op.primitive = prim  # type: ignore[attr-defined]
    return op


def _fast2(prim: Primitive):
    """Binary version of :func:`_fast1`."""
    impl, bind = prim.impl, prim.bind

    def op(x, y):
        tx, ty = type(x), type(y)
        if tx is float and ty is float and registry.counting is None:
            return impl(x, y)
        # The engine bind would pick: the traced operand, or the higher level of two.
        if isinstance(x, Tracer):
            if ty in PLAIN_TYPES or (ty is tx and y.level == x.level):
                return x.process2(prim, x, y)
        elif tx in PLAIN_TYPES:
            if ty in PLAIN_TYPES and registry.counting is None:
                return impl(x, y)  # plain arrays, e.g. inside the rules: no dispatch at all
            if isinstance(y, Tracer):
                return y.process2(prim, x, y)
        return bind(x, y)

    op.__name__ = op.__qualname__ = prim.name
    op.__doc__ = f"Apply the ``{prim.name}`` primitive."
    op.primitive = prim  # type: ignore[attr-defined]
    return op


def _unary(name, impl, deriv, *, saves="args", flops=_elementwise_flops):
    """An elementwise op from its derivative ``deriv(ans, x)``, written with dualtape ops."""
    prim = register(
        Primitive(
            name,
            impl,
            jvp=(lambda t, ans, x: mul(t, deriv(ans, x)),),
            vjp=(lambda g, ans, x: mul(g, deriv(ans, x)),),
            flops=flops,
            saves=saves,
        )
    )
    return _fast1(prim)


def _nondiff(name, impl, nargs=1, flops=_elementwise_flops, broadcasting=False):
    """A primitive with zero derivative everywhere it is defined (masks, sign)."""
    prim = register(
        Primitive(name, impl, jvp=(None,) * nargs, vjp=(None,) * nargs, flops=flops,
                  saves="meta", broadcasting=broadcasting)
    )
    return _fast1(prim) if nargs == 1 else _fast2(prim)


# ---------------------------------------------------------------- non-differentiable helpers

sign = _nondiff("sign", np.sign)
positive_mask = _nondiff("positive_mask", lambda x: _mask(x > 0, x))
equal_mask = _nondiff("equal_mask", lambda x, y: _mask(x == y, x, y), 2, broadcasting=True)
# Weight of x in max(x, y): 1 if x > y, 0.5 on ties (as JAX does), 0 otherwise.
max_weight = _nondiff(
    "max_weight",
    lambda x, y: _mask(x > y, x, y) + 0.5 * _mask(x == y, x, y),
    2,
    broadcasting=True,
)
# ---------------------------------------------------------------- arithmetic (broadcasting)

add = _fast2(register(Primitive(
    "add", operator.add,
    jvp=(lambda t, ans, x, y: t, lambda t, ans, x, y: t),
    vjp=(lambda g, ans, x, y: g, lambda g, ans, x, y: g),
    flops=_elementwise_flops, saves="meta", broadcasting=True, linear=True,
)))

sub = _fast2(register(Primitive(
    "sub", operator.sub,
    jvp=(lambda t, ans, x, y: t, lambda t, ans, x, y: neg(t)),
    vjp=(lambda g, ans, x, y: g, lambda g, ans, x, y: neg(g)),
    flops=_elementwise_flops, saves="meta", broadcasting=True, linear=True,
)))

mul = _fast2(register(Primitive(
    "mul", operator.mul,
    jvp=(lambda t, ans, x, y: mul(t, y), lambda t, ans, x, y: mul(x, t)),
    vjp=(lambda g, ans, x, y: mul(g, y), lambda g, ans, x, y: mul(x, g)),
    flops=_elementwise_flops, broadcasting=True,
)))

div = _fast2(register(Primitive(
    "div", _safe_binary(operator.truediv, np.true_divide),
    jvp=(lambda t, ans, x, y: div(t, y), lambda t, ans, x, y: neg(mul(t, div(ans, y)))),
    vjp=(lambda g, ans, x, y: div(g, y), lambda g, ans, x, y: neg(mul(g, div(ans, y)))),
    flops=_elementwise_flops, saves="both", broadcasting=True,
)))

neg = _fast1(register(Primitive(
    "neg", operator.neg,
    jvp=(lambda t, ans, x: neg(t),), vjp=(lambda g, ans, x: neg(g),),
    flops=_elementwise_flops, saves="meta", linear=True,
)))


def _pow_dx(ans, x, y):
    # y * x**(y-1); at x == y == 0 that is 0 * inf, taken as 0 (0**0 has slope 0 in x).
    return where(np.logical_and(x == 0, y == 0), 0.0, mul(y, power(x, sub(y, 1.0))))


def _pow_dy(ans, x, y):
    # ans * log(x), with log(0) replaced by 0 (0**y does not move with y).
    return mul(ans, log(where(x == 0, 1.0, x)))


power = register(Primitive(
    "power", _pow_impl,
    jvp=(lambda t, ans, x, y: mul(t, _pow_dx(ans, x, y)),
         lambda t, ans, x, y: mul(t, _pow_dy(ans, x, y))),
    vjp=(lambda g, ans, x, y: mul(g, _pow_dx(ans, x, y)),
         lambda g, ans, x, y: mul(g, _pow_dy(ans, x, y))),
    flops=_times(2), saves="both", broadcasting=True,
)).bind


def _powc_impl(x, p):
    return _pow_impl(x, p)


def _powc_deriv(x, p):
    if p == 0:
        return 0.0
    if p == 1:
        return 1.0
    if p == 2:
        return mul(2.0, x)
    return mul(float(p), power_const(x, p=p - 1))


power_const = register(Primitive(
    "power_const", _powc_impl,
    jvp=(lambda t, ans, x, p: mul(t, _powc_deriv(x, p)),),
    vjp=(lambda g, ans, x, p: mul(g, _powc_deriv(x, p)),),
    flops=_times(2),
)).bind

def _extremum(name, impl, weight_x, weight_y):
    """maximum/minimum: each argument's slope is its weight (1, 1/2 on ties, or 0)."""
    return register(Primitive(
        name, impl,
        jvp=(lambda t, ans, x, y: mul(t, weight_x(x, y)), lambda t, ans, x, y: mul(t, weight_y(x, y))),
        vjp=(lambda g, ans, x, y: mul(g, weight_x(x, y)), lambda g, ans, x, y: mul(g, weight_y(x, y))),
        flops=_elementwise_flops, broadcasting=True,
    )).bind


maximum = _extremum("maximum", np.maximum, max_weight, lambda x, y: max_weight(y, x))
minimum = _extremum("minimum", np.minimum, lambda x, y: max_weight(y, x), max_weight)

where = register(Primitive(
    "where", np.where,
    jvp=(None, lambda t, ans, c, x, y: where(c, t, 0.0), lambda t, ans, c, x, y: where(c, 0.0, t)),
    vjp=(None, lambda g, ans, c, x, y: where(c, g, 0.0), lambda g, ans, c, x, y: where(c, 0.0, g)),
    flops=_elementwise_flops, broadcasting=True,
)).bind


def _clip_weight(x, lo, hi):
    w = 1.0
    if lo is not None:
        w = mul(w, max_weight(x, lo))
    if hi is not None:
        w = mul(w, max_weight(hi, x))
    return w


clip = register(Primitive(
    "clip", lambda x, lo, hi: np.clip(x, lo, hi),
    jvp=(lambda t, ans, x, lo, hi: mul(t, _clip_weight(x, lo, hi)), None, None),
    vjp=(lambda g, ans, x, lo, hi: mul(g, _clip_weight(x, lo, hi)), None, None),
    flops=_times(2), broadcasting=True,
)).bind

# ---------------------------------------------------------------- elementwise unary

exp = _unary("exp", _scalar_fast(math.exp, np.exp), lambda ans, x: ans, saves="ans")
log = _unary("log", _scalar_fast(math.log, np.log), lambda ans, x: reciprocal(x))
log1p = _unary("log1p", _scalar_fast(math.log1p, np.log1p), lambda ans, x: reciprocal(add(x, 1.0)))
expm1 = _unary("expm1", _scalar_fast(math.expm1, np.expm1), lambda ans, x: add(ans, 1.0), saves="ans")
sqrt = _unary("sqrt", _scalar_fast(math.sqrt, np.sqrt), lambda ans, x: div(0.5, ans), saves="ans")
sin = _unary("sin", _scalar_fast(math.sin, np.sin), lambda ans, x: cos(x))
cos = _unary("cos", _scalar_fast(math.cos, np.cos), lambda ans, x: neg(sin(x)))
tan = _unary("tan", _scalar_fast(math.tan, np.tan), lambda ans, x: add(1.0, square(ans)), saves="ans")
def _tanh_tangent_into(t, y, out):
    # t * (1 - y^2) with no temporary besides ``out``: on every tanh layer's hot path.
    np.multiply(y, y, out=out)
    np.subtract(1.0, out, out=out)
    return np.multiply(t, out, out=out)


def _tanh_tangent_impl(t, y):
    if type(y) is float and type(t) is float:
        return t * (1.0 - y * y)
    if (type(t) is np.ndarray and type(y) is np.ndarray and y.ndim
            and t.shape == y.shape and t.dtype == y.dtype):
        return _tanh_tangent_into(t, y, np.empty_like(y))
    return t * (1.0 - np.multiply(y, y))


def _stack_for(x, tx):
    """An empty ``(2, *x.shape)`` array when ``x`` and its tangent are C-ordered arrays of one
    float dtype (NumPy would give other layouts the layout of ``x``, and the stack cannot)."""
    if (type(x) is not np.ndarray or type(tx) is not np.ndarray or not x.ndim
            or tx.shape != x.shape or tx.dtype != x.dtype or x.dtype.kind != "f"
            or not (x.flags.c_contiguous and tx.flags.c_contiguous)):
        return None
    return np.empty((2,) + x.shape, x.dtype)


def _tanh_fused(x, tx, sx):
    s = _stack_for(x, tx)
    if s is not None:
        y = np.tanh(x, out=s[0])
        _tanh_tangent_into(tx, y, s[1])
    return s


# t * tanh'(x) written with y = tanh(x): linear in t, and differentiable in y for higher orders.
tanh_tangent = _fast2(register(Primitive(
    "tanh_tangent", _tanh_tangent_impl,
    jvp=(lambda dt_, ans, t, y: tanh_tangent(dt_, y),
         lambda dy, ans, t, y: mul(dy, mul(-2.0, mul(t, y)))),
    vjp=(lambda g, ans, t, y: tanh_tangent(g, y),
         lambda g, ans, t, y: mul(g, mul(-2.0, mul(t, y)))),
    flops=_times(3), broadcasting=True,
)))

tanh = register(Primitive(
    "tanh", _scalar_fast(math.tanh, np.tanh),
    jvp=(lambda t, ans, x: tanh_tangent(t, ans),),
    vjp=(lambda g, ans, x: tanh_tangent(g, ans),),
    flops=_elementwise_flops, saves="ans", jvp_fused=_tanh_fused,
))
tanh = _fast1(tanh)
sinh = _unary("sinh", _scalar_fast(math.sinh, np.sinh), lambda ans, x: cosh(x))
cosh = _unary("cosh", _scalar_fast(math.cosh, np.cosh), lambda ans, x: sinh(x))
arctan = _unary("arctan", _scalar_fast(math.atan, np.arctan),
                lambda ans, x: reciprocal(add(1.0, square(x))))
abs_ = _unary("abs", _scalar_fast(abs, np.abs), lambda ans, x: sign(x))
square = _unary("square", _scalar_fast(lambda v: v * v, np.square), lambda ans, x: mul(2.0, x))
reciprocal = _unary("reciprocal", _scalar_fast(lambda v: 1.0 / v, np.reciprocal),
                    lambda ans, x: neg(square(ans)), saves="ans")


def _sigmoid_impl(x):
    if type(x) is float:
        return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))
    # exp of -|x| never overflows; pick the branch by sign
    e = np.exp(-np.abs(x))
    return np.where(np.asarray(x) >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(
        getattr(x, "dtype", np.float64))[()]


def _relu_impl(x):
    if type(x) is float:
        return x if x > 0.0 else 0.0
    return np.maximum(x, 0)


def _softplus_impl(x):
    if type(x) is float:
        return max(x, 0.0) + math.log1p(math.exp(-abs(x)))
    return np.logaddexp(0.0, x).astype(getattr(x, "dtype", np.float64))[()]


sigmoid = _unary("sigmoid", _sigmoid_impl, lambda ans, x: mul(ans, sub(1.0, ans)), saves="ans",
                 flops=_times(4))


def _relu_rule(t, ans, x):
    if type(t) is float and type(ans) is float and registry.counting is None:
        return t * (1.0 if ans > 0.0 else 0.0)
    return mul(t, positive_mask(ans))


def _relu_fused(x, tx, sx):
    s = _stack_for(x, tx)
    if s is not None:
        y = np.maximum(x, 0, out=s[0])
        np.greater(y, 0, out=s[1])  # positive_mask, written as 1.0 / 0.0
        np.multiply(tx, s[1], out=s[1])
    return s


relu = _fast1(register(Primitive(
    "relu", _relu_impl, jvp=(_relu_rule,), vjp=(_relu_rule,),
    flops=_elementwise_flops, saves="ans", jvp_fused=_relu_fused,
)))
softplus = _unary("softplus", _softplus_impl, lambda ans, x: sigmoid(x), flops=_times(4))

# ---------------------------------------------------------------- reductions (axis: tuple of negative ints)


def _expand_reduced(g, axis, keepdims):
    """Put back the reduced axes of a reduction's output as unit axes."""
    return g if keepdims else expand_dims(g, axis=axis)


def _restore(g, x, axis, keepdims):
    """Broadcast a reduction's cotangent back over ``x``'s shape (batch axes kept)."""
    g = _expand_reduced(g, axis, keepdims)
    return broadcast_to(g, shape=batch_shape(g, x) + shape_of(x))


sum_ = register(Primitive(
    "sum", lambda x, axis, keepdims: np.sum(x, axis=axis, keepdims=keepdims),
    jvp=(lambda t, ans, x, axis, keepdims: sum_(t, axis=axis, keepdims=keepdims),),
    vjp=(lambda g, ans, x, axis, keepdims: _restore(g, x, axis, keepdims),),
    flops=_reduce_flops, saves="meta", linear=True,
)).bind


def _count(x, axis):
    s = shape_of(x)
    return float(math.prod(s[a] for a in axis))


def _mean_impl(x, axis, keepdims):
    if type(x) is np.ndarray and (x.dtype == np.float64 or x.dtype == np.float32):
        # np.mean's own arithmetic (sum, then divide by the count) without its Python wrapper
        return np.true_divide(np.add.reduce(x, axis=axis, keepdims=keepdims), _count(x, axis))
    return np.mean(x, axis=axis, keepdims=keepdims)


mean = register(Primitive(
    "mean", _mean_impl,
    jvp=(lambda t, ans, x, axis, keepdims: mean(t, axis=axis, keepdims=keepdims),),
    vjp=(lambda g, ans, x, axis, keepdims: div(_restore(g, x, axis, keepdims), _count(x, axis)),),
    flops=_reduce_flops, saves="meta", linear=True,
)).bind


def _prod_others(x, axis):
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


prod = register(Primitive(
    "prod", lambda x, axis, keepdims: np.prod(x, axis=axis, keepdims=keepdims),
    jvp=(lambda t, ans, x, axis, keepdims: sum_(mul(t, _prod_others(x, axis)), axis=axis,
                                                 keepdims=keepdims),),
    vjp=(lambda g, ans, x, axis, keepdims: mul(_restore(g, x, axis, keepdims),
                                               _prod_others(x, axis)),),
    flops=_reduce_flops,
)).bind


def _argmax_weights(ans, x, axis, keepdims):
    # Ties share the derivative equally, as in JAX.
    ind = equal_mask(x, _expand_reduced(ans, axis, keepdims))
    return div(ind, sum_(ind, axis=axis, keepdims=True))


def _reduce_extreme(name, npfn):
    return register(Primitive(
        name, lambda x, axis, keepdims: npfn(x, axis=axis, keepdims=keepdims),
        jvp=(lambda t, ans, x, axis, keepdims: sum_(
            mul(t, _argmax_weights(ans, x, axis, keepdims)), axis=axis, keepdims=keepdims),),
        vjp=(lambda g, ans, x, axis, keepdims: mul(
            _restore(g, x, axis, keepdims), _argmax_weights(ans, x, axis, keepdims)),),
        flops=_reduce_flops, saves="both",
    )).bind


max_ = _reduce_extreme("max", np.max)
min_ = _reduce_extreme("min", np.min)


def _logsumexp_impl(x, axis, keepdims):
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


def _lse_weights(ans, x, axis, keepdims):
    return exp(sub(x, _expand_reduced(ans, axis, keepdims)))


logsumexp = register(Primitive(
    "logsumexp", _logsumexp_impl,
    jvp=(lambda t, ans, x, axis, keepdims: sum_(mul(t, _lse_weights(ans, x, axis, keepdims)),
                                                 axis=axis, keepdims=keepdims),),
    vjp=(lambda g, ans, x, axis, keepdims: mul(_restore(g, x, axis, keepdims),
                                               _lse_weights(ans, x, axis, keepdims)),),
    flops=_times(4), saves="both",
)).bind


def _softmax_impl(x, axis):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def _softmax_lin(t, ans, axis):
    # d softmax = s * (t - <t, s>); the same expression is its own transpose.
    return mul(ans, sub(t, sum_(mul(t, ans), axis=axis, keepdims=True)))


softmax = register(Primitive(
    "softmax", _softmax_impl,
    jvp=(lambda t, ans, x, axis: _softmax_lin(t, ans, axis),),
    vjp=(lambda g, ans, x, axis: _softmax_lin(g, ans, axis),),
    flops=_times(5), saves="ans",
)).bind


def _log_softmax_impl(x, axis):
    s = x - np.max(x, axis=axis, keepdims=True)
    return s - np.log(np.sum(np.exp(s), axis=axis, keepdims=True))


log_softmax = register(Primitive(
    "log_softmax", _log_softmax_impl,
    jvp=(lambda t, ans, x, axis: sub(t, sum_(mul(t, exp(ans)), axis=axis, keepdims=True)),),
    vjp=(lambda g, ans, x, axis: sub(g, mul(exp(ans), sum_(g, axis=axis, keepdims=True))),),
    flops=_times(5), saves="ans",
)).bind

cumsum = register(Primitive(
    "cumsum", lambda x, axis: np.cumsum(x, axis=axis),
    jvp=(lambda t, ans, x, axis: cumsum(t, axis=axis),),
    vjp=(lambda g, ans, x, axis: flip(cumsum(flip(g, axis=(axis,)), axis=axis), axis=(axis,)),),
    flops=_reduce_flops, saves="meta", linear=True,
)).bind

# ---------------------------------------------------------------- linear algebra (operands of rank >= 2)


def _mT(x):
    return transpose(x, axes=tuple(range(-ndim_of(x), -2)) + (-1, -2))


def _matmul_impl(x, y):
    # Fold a stack against one matrix into a single GEMM (vector mode's common case).
    if type(x) is np.ndarray and type(y) is np.ndarray:
        if x.ndim == 2 and y.ndim > 2 and y.shape[-1] == 1:
            return np.matmul(y[..., 0], x.T)[..., None]
        if y.ndim == 2 and x.ndim > 2:
            return np.matmul(x.reshape(-1, x.shape[-1]), y).reshape(x.shape[:-1] + (y.shape[1],))
    return np.matmul(x, y)


def _matmul_fused(x, tx, sx, y, ty, sy):
    # Matrices of one float dtype only; the answer and its tangent land in one (2, m, n) stack.
    if type(x) is not np.ndarray or type(y) is not np.ndarray or x.ndim != 2 or y.ndim != 2:
        return None
    dtype = x.dtype
    if dtype.kind != "f" or y.dtype != dtype:
        return None
    for p, t in ((x, tx), (y, ty)):
        if t is not None and (type(t) is not np.ndarray or t.dtype != dtype or t.shape != p.shape):
            return None
    m, n = x.shape[0], y.shape[1]
    if tx is not None and sx is not None:
        # [x; tx] @ y: the answer and x's tangent term from one GEMM of twice the rows
        s = np.matmul(sx.reshape(2 * m, x.shape[1]), y).reshape(2, m, n)
    else:
        s = np.empty((2, m, n), dtype)
        np.matmul(x, y, out=s[0])
        if tx is None:
            np.matmul(x, ty, out=s[1])
            return s
        np.matmul(tx, y, out=s[1])
    if ty is not None:
        s[1] += np.matmul(x, ty)
    return s


matmul = _fast2(register(Primitive(
    "matmul", _matmul_impl,
    jvp=(lambda t, ans, x, y: matmul(t, y), lambda t, ans, x, y: matmul(x, t)),
    vjp=(lambda g, ans, x, y: matmul(g, _mT(y)), lambda g, ans, x, y: matmul(_mT(x), g)),
    flops=lambda ans, x, y: 2 * size_of(ans) * shape_of(x)[-1],
    broadcasting=True, jvp_fused=_matmul_fused,
)))

# ---------------------------------------------------------------- shape ops (linear; tape keeps shapes only)


def _batch_perm(nb, axes):
    # Negative axes, so the permutation stays valid when more batch axes are added in front.
    n = len(axes)
    return tuple(range(-nb - n, -n)) + tuple(a if a < 0 else a - n for a in axes)


def _inverse_perm(axes):
    n = len(axes)
    inv = [0] * n
    for i, a in enumerate(axes):
        inv[a % n] = i - n
    return tuple(inv)


transpose = register(Primitive(
    "transpose", lambda x, axes: np.transpose(x, axes),
    jvp=(lambda t, ans, x, axes: transpose(t, axes=_batch_tail(t, x, axes)),),
    vjp=(lambda g, ans, x, axes: transpose(g, axes=_batch_tail(g, ans, _inverse_perm(axes))),),
    flops=_no_flops, saves="meta", linear=True,
)).bind


def _batch_tail(t, x, axes):
    """A permutation of ``x``'s axes, extended to leave ``t``'s batch axes in front."""
    nb = ndim_of(t) - ndim_of(x)
    return axes if nb == 0 else _batch_perm(nb, axes)


reshape = register(Primitive(
    "reshape", lambda x, shape: np.reshape(x, shape),
    jvp=(lambda t, ans, x, shape: reshape(t, shape=batch_shape(t, x) + tuple(shape)),),
    vjp=(lambda g, ans, x, shape: reshape(g, shape=batch_shape(g, ans) + shape_of(x)),),
    flops=_no_flops, saves="meta", linear=True,
)).bind


def _bcast_jvp(t, ans, x, shape_):
    return broadcast_to(pad_batch(t, ndim_of(t) - ndim_of(x), len(shape_)),
                        shape=batch_shape(t, x) + tuple(shape_))


broadcast_to = register(Primitive(
    "broadcast_to", lambda x, shape: np.broadcast_to(x, shape),
    jvp=(lambda t, ans, x, shape: _bcast_jvp(t, ans, x, shape),),
    vjp=(lambda g, ans, x, shape: unbroadcast(g, shape_of(x), ndim_of(g) - len(shape)),),
    flops=_no_flops, saves="meta", linear=True,
)).bind

def _expand_dims_impl(x, axis):
    if type(x) is not np.ndarray:
        return np.expand_dims(x, axis)
    shape = list(x.shape)
    n = len(shape) + len(axis)
    for a in sorted(a % n for a in axis):
        shape.insert(a, 1)
    return x.reshape(shape)


expand_dims = register(Primitive(
    "expand_dims", _expand_dims_impl,
    jvp=(lambda t, ans, x, axis: expand_dims(t, axis=axis),),
    vjp=(lambda g, ans, x, axis: squeeze(g, axis=axis),),
    flops=_no_flops, saves="meta", linear=True,
)).bind

squeeze = register(Primitive(
    "squeeze", lambda x, axis: np.squeeze(x, axis),
    jvp=(lambda t, ans, x, axis: squeeze(t, axis=axis),),
    vjp=(lambda g, ans, x, axis: expand_dims(g, axis=axis),),
    flops=_no_flops, saves="meta", linear=True,
)).bind

flip = register(Primitive(
    "flip", lambda x, axis: np.flip(x, axis),
    jvp=(lambda t, ans, x, axis: flip(t, axis=axis),),
    vjp=(lambda g, ans, x, axis: flip(g, axis=axis),),
    flops=_no_flops, saves="meta", linear=True,
)).bind


def _filled(ts, xs):
    """Tangents of a variadic op with zeros in place of ``None``."""
    ref = next(t for t in ts if t is not None)
    bs = batch_shape(ref, next(x for x, t in zip(xs, ts, strict=True) if t is not None))
    return [t if t is not None else np.zeros(bs + shape_of(x), dtype=getattr(x, "dtype", np.float64))
            for t, x in zip(ts, xs, strict=True)]


def _concat_vjp(i, g, ans, *xs, axis):
    start = sum(shape_of(x)[axis] for x in xs[:i])
    stop = start + shape_of(xs[i])[axis]
    return getitem(g, index=(Ellipsis, slice(start, stop)) + (slice(None),) * (-axis - 1))


concatenate = register(Primitive(
    "concatenate", lambda *xs, axis: np.concatenate(xs, axis=axis),
    jvp=lambda ts, ans, *xs, axis: concatenate(*_filled(ts, xs), axis=axis),
    vjp=_concat_vjp,
    flops=_no_flops, saves="meta", variadic=True, linear=True,
)).bind

stack = register(Primitive(
    "stack", lambda *xs, axis: np.stack(xs, axis=axis),
    jvp=lambda ts, ans, *xs, axis: stack(*_filled(ts, xs), axis=axis),
    vjp=lambda i, g, ans, *xs, axis: getitem(g, index=(Ellipsis, i) + (slice(None),) * (-axis - 1)),
    flops=_no_flops, saves="meta", variadic=True, linear=True,
)).bind


def _batched_index(t, x, index):
    nb = ndim_of(t) - ndim_of(x)
    return index if nb == 0 else (slice(None),) * nb + index


def _is_basic(index):
    return all(type(i) in (int, slice, type(None), type(Ellipsis)) for i in index)


def _scatter_impl(g, index, shape):
    out = np.zeros(shape, dtype=getattr(g, "dtype", np.float64))
    if _is_basic(index):
        out[index] = g
    else:
        np.add.at(out, index, g)
    return out


getitem = register(Primitive(
    "getitem", lambda x, index: x[index],
    jvp=(lambda t, ans, x, index: getitem(t, index=_batched_index(t, x, index)),),
    vjp=(lambda g, ans, x, index: scatter_add(
        g, index=_batched_index(g, ans, index), shape=batch_shape(g, ans) + shape_of(x)),),
    flops=_no_flops, saves="meta", linear=True,
)).bind

# The transpose of getitem: add g into zeros of ``shape`` at ``index``.
scatter_add = register(Primitive(
    "scatter_add", _scatter_impl,
    jvp=(lambda t, ans, g, index, shape: scatter_add(
        t, index=(slice(None),) * (ndim_of(t) - ndim_of(g)) + index,
        shape=batch_shape(t, g) + tuple(shape)),),
    vjp=(lambda c, ans, g, index, shape: getitem(
        c, index=(slice(None),) * (ndim_of(c) - len(shape)) + index),),
    flops=lambda ans, g, index, shape: size_of(g),
    saves="meta", linear=True,
)).bind

take = register(Primitive(
    "take", lambda x, indices, axis: np.take(x, indices, axis=axis),
    jvp=(lambda t, ans, x, indices, axis: take(t, indices=indices, axis=axis),),
    vjp=(lambda g, ans, x, indices, axis: scatter_add(
        g, index=(Ellipsis, indices) + (slice(None),) * (-axis - 1),
        shape=batch_shape(g, ans) + shape_of(x)),),
    flops=_no_flops, saves="meta", linear=True,
)).bind
