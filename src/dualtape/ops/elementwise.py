"""Elementwise primitives: arithmetic, comparisons' masks, powers and the unary functions.

Binary ops broadcast (``broadcasting=True``: the engines pad tangents and unbroadcast
cotangents).  The hot arithmetic (``add``, ``sub``, ``mul``, ``div``) writes its rules
out; everything else states its derivative once through :mod:`.rules`.
"""

from __future__ import annotations

import math
import operator
from typing import Any

import numpy as np

from .. import dispatch
from ..registry import ELEMENTWISE, Primitive, passes_through, register
from . import buffers
from .core import as_floating, elementwise_flops, shape_of, size_of, times
from .fused import relu_fused, sub_fused, tanh_fused, tanh_tangent_into
from .kernels import compact, times_rows
from .onehot import OneHot
from .rules import defbinary, deflinear, defnondiff, defunary, mask, op_for, safe_binary, scalar_fast

# ---------------------------------------------------------------- masks (zero derivative)


def _positive_mask_impl(x: Any) -> Any:
    if type(x) is float:
        return 1.0 if x > 0.0 else 0.0
    return mask(x > 0, x)


sign = defnondiff("sign", np.sign)
positive_mask = defnondiff("positive_mask", _positive_mask_impl)
equal_mask = defnondiff("equal_mask", lambda x, y: mask(x == y, x, y), 2, broadcasting=True)
# Weight of x in max(x, y): 1 if x > y, 0.5 on ties (as JAX does), 0 otherwise.
def _max_weight_impl(x: Any, y: Any) -> Any:
    if type(x) is float and type(y) is float:
        return 1.0 if x > y else (0.5 if x == y else 0.0)
    return mask(x > y, x, y) + 0.5 * mask(x == y, x, y)


max_weight = defnondiff("max_weight", _max_weight_impl, 2, broadcasting=True)

# ---------------------------------------------------------------- arithmetic


def _arith(name: str, impl: Any, jvp: tuple, vjp: tuple, **kw: Any) -> Any:
    kw.setdefault("flops", elementwise_flops)
    kw.setdefault("sparsity", ELEMENTWISE)
    return op_for(register(Primitive(name, impl, jvp=jvp, vjp=vjp, broadcasting=True, **kw)), 2)


add = _arith("add", operator.add, (passes_through, passes_through),
             (passes_through, passes_through), saves="meta", linear=True)
def _sub_vjp_y(g: Any, ans: Any, x: Any, y: Any) -> Any:
    # Reduce to y's shape first, then negate the (often much smaller) result; a OneHot takes
    # the general path below (unbroadcast sums it, neg's impl negates it).
    if type(g) is np.ndarray and dispatch.counting is None:  # plain: no dispatch
        ys = shape_of(y)
        if g.shape == ys:
            return np.negative(g)
        if ys == () and g.ndim == len(shape_of(ans)):  # a scalar y, no batch axes
            return -np.add.reduce(g, axis=None)
    from .reductions import unbroadcast

    return neg(unbroadcast(g, shape_of(y), len(shape_of(g)) - len(shape_of(ans))))


sub = _arith("sub", operator.sub,
             (passes_through, lambda t, ans, x, y: neg(t)),
             (passes_through, _sub_vjp_y), saves="meta", linear=True, jvp_fused=sub_fused)
def _times_y(t: Any, ans: Any, x: Any, y: Any) -> Any:
    if type(t) is float and type(y) is float and dispatch.counting is None:
        return t * y  # mul(t, y) on floats, inline: scalar code's most common rule
    if type(t) is OneHot:
        return _onehot_times(t, y)
    return mul(t, y)


def _x_times(t: Any, ans: Any, x: Any, y: Any) -> Any:
    if type(t) is float and type(x) is float and dispatch.counting is None:
        return x * t
    if type(t) is OneHot:
        return _onehot_times(t, x)
    return mul(x, t)


def _onehot_times(g: OneHot, s: Any) -> Any:
    scaled = g.scaled(s)
    return scaled if scaled is not None else mul(g.dense(), s)


mul = _arith("mul", operator.mul, (_times_y, _x_times), (_times_y, _x_times))
div = _arith("div", safe_binary(operator.truediv, np.true_divide),
             (lambda t, ans, x, y: div(t, y), lambda t, ans, x, y: neg(mul(t, div(ans, y)))),
             (lambda g, ans, x, y: div(g, y), lambda g, ans, x, y: neg(mul(g, div(ans, y)))),
             saves="both")
# their VJP rules read a OneHot cotangent (add's pass it on)
add.primitive.takes_onehot = sub.primitive.takes_onehot = mul.primitive.takes_onehot = True
neg = deflinear("neg", operator.neg, (lambda g, ans, x: neg(g),), nargs=1,
                flops=elementwise_flops, sparsity=ELEMENTWISE)

# ---------------------------------------------------------------- powers


def _pow_impl(x: Any, y: Any) -> Any:
    if type(x) is float and type(y) in (float, int):
        try:
            return math.pow(x, y)
        except (ValueError, OverflowError, ZeroDivisionError):
            return float(np.power(x, y))  # nan or inf, as NumPy gives it, still a float
    return np.power(x, y)


def _pow_dx(ans: Any, x: Any, y: Any) -> Any:
    # y * x**(y-1); at x == y == 0 that is 0 * inf, taken as 0 (0**0 has slope 0 in x). The
    # power there reads base 1: 0**-1's own slope would make the discarded branch nan in reverse
    both = np.logical_and(x == 0, y == 0)
    return where(both, 0.0, mul(y, power(where(both, 1.0, x), sub(y, 1.0))))


def _pow_dy(ans: Any, x: Any, y: Any) -> Any:
    # ans * log(x), with log(0) replaced by 0 (0**y does not move with y); the log in the
    # answer's precision (a float32 base under a float64 exponent: float64)
    dtype = getattr(ans, "dtype", None)
    one = 1.0 if dtype is None or dtype == getattr(x, "dtype", None) else np.ones((), dtype)
    return mul(ans, log(where(x == 0, one, x)))


power = defbinary("power", _pow_impl, _pow_dx, _pow_dy, saves="both")  # one function: 1 FLOP


def _powc_deriv(x: Any, p: Any) -> Any:
    if p == 0:
        return 0.0
    if p == 1:
        return 1.0
    if p == 2:
        return mul(2.0, x)
    return mul(float(p), power_const(x, p=p - 1))


# x ** p for a constant exponent p (a parameter, not an operand).
power_const = register(Primitive(
    "power_const", lambda x, p: _pow_impl(x, p),
    jvp=(lambda t, ans, x, p: mul(t, _powc_deriv(x, p)),),
    vjp=(lambda g, ans, x, p: mul(g, _powc_deriv(x, p)),),
    flops=elementwise_flops, sparsity=ELEMENTWISE,
)).bind

# ---------------------------------------------------------------- selection


def _maximum_impl(x: Any, y: Any) -> Any:
    if type(x) is float and type(y) is float:
        return x if x >= y or x != x else y  # np.maximum on floats: NaN wins, stays a float
    return np.maximum(x, y)


def _minimum_impl(x: Any, y: Any) -> Any:
    if type(x) is float and type(y) is float:
        return x if x <= y or x != x else y
    return np.minimum(x, y)


# t * max_weight(a, b): the rule of the operand that wins when it is the larger (maximum's
# x, minimum's y), and of the one that wins when smaller; inline on Python floats.
def _when_larger(t: Any, ans: Any, x: Any, y: Any) -> Any:
    if type(t) is float and type(x) is float and type(y) is float and dispatch.counting is None:
        return t * (1.0 if x > y else (0.5 if x == y else 0.0))
    return mul(t, max_weight(x, y))


def _when_smaller(t: Any, ans: Any, x: Any, y: Any) -> Any:
    if type(t) is float and type(x) is float and type(y) is float and dispatch.counting is None:
        return t * (1.0 if x < y else (0.5 if x == y else 0.0))
    return mul(t, max_weight(y, x))


maximum = defbinary("maximum", _maximum_impl, rules=(_when_larger, _when_smaller))
minimum = defbinary("minimum", _minimum_impl, rules=(_when_smaller, _when_larger))

_SCALARS = frozenset({float, int})  # Python numbers a float operand promotes to float


def _where_impl(c: Any, x: Any, y: Any) -> Any:
    if type(c) is bool and type(x) in _SCALARS and type(y) in _SCALARS \
            and (type(x) is float or type(y) is float):
        return float(x if c else y)  # np.where on Python scalars: a float, not a 0-d array
    return np.where(c, x, y)


# x's and y's rules, the same in both modes: t where the condition picks the operand, else 0
def _picked_x(t: Any, ans: Any, c: Any, x: Any, y: Any) -> Any:
    if type(t) is float and type(c) is bool and dispatch.counting is None:
        return t if c else 0.0
    return where(c, t, 0.0)


def _picked_y(t: Any, ans: Any, c: Any, x: Any, y: Any) -> Any:
    if type(t) is float and type(c) is bool and dispatch.counting is None:
        return 0.0 if c else t
    return where(c, 0.0, t)


where = op_for(register(Primitive(
    "where", _where_impl, jvp=(None, _picked_x, _picked_y), vjp=(None, _picked_x, _picked_y),
    flops=elementwise_flops, broadcasting=True, sparsity=ELEMENTWISE,
)), 3)


def mul_zero_wins(s: Any, w: Any) -> Any:
    """``s * w``, with 0 where ``s`` is 0 and ``w`` overflowed to inf (not 0 * inf = NaN):
    a zero tangent or cotangent contributes nothing, however large its weight."""
    sw = mul(s, w)
    if np.all(np.isfinite(np.asarray(dispatch.concrete(w)))):
        return sw
    return where(np.asarray(dispatch.concrete(s)) == 0, 0.0, sw)


def _clip_impl(x: Any, lo: Any, hi: Any) -> Any:
    if type(x) is float and (lo is None or type(lo) in _SCALARS) \
            and (hi is None or type(hi) in _SCALARS) and (lo is not None or hi is not None):
        # np.clip on a Python float, which stays one: maximum's, then minimum's float path
        if lo is not None:
            x = _maximum_impl(x, float(lo))
        if hi is not None:
            x = _minimum_impl(x, float(hi))
        return x
    return np.clip(x, lo, hi)


def _clip_weight(x: Any, lo: Any, hi: Any) -> Any:
    if type(x) is float and dispatch.counting is None:  # inline on Python floats, as maximum's
        w = 1.0
        if lo is not None:
            w = _max_weight_impl(x, float(lo))
        if hi is not None:
            w *= _max_weight_impl(float(hi), x)
        return w
    w = 1.0
    if lo is not None:
        w = mul(w, max_weight(x, lo))
    if hi is not None:
        w = mul(w, max_weight(hi, x))
    return w


clip = op_for(register(Primitive(
    "clip", _clip_impl,
    jvp=(lambda t, ans, x, lo, hi: mul(t, _clip_weight(x, lo, hi)), None, None),
    vjp=(lambda g, ans, x, lo, hi: mul(g, _clip_weight(x, lo, hi)), None, None),
    flops=times(2), broadcasting=True, sparsity=ELEMENTWISE,
)), 3)

# ---------------------------------------------------------------- unary functions

exp = defunary("exp", scalar_fast(math.exp, np.exp), lambda ans, x: ans, saves="ans")
log = defunary("log", scalar_fast(math.log, np.log), rule=lambda t, ans, x: div(t, x))
log1p = defunary("log1p", scalar_fast(math.log1p, np.log1p), rule=lambda t, ans, x: div(t, add(x, 1.0)))
expm1 = defunary("expm1", scalar_fast(math.expm1, np.expm1), lambda ans, x: add(ans, 1.0),
                 saves="ans")
sqrt = defunary("sqrt", scalar_fast(math.sqrt, np.sqrt), lambda ans, x: div(0.5, ans), saves="ans")
sin = defunary("sin", scalar_fast(math.sin, np.sin), lambda ans, x: cos(x))
cos = defunary("cos", scalar_fast(math.cos, np.cos), lambda ans, x: neg(sin(x)))
tan = defunary("tan", scalar_fast(math.tan, np.tan), lambda ans, x: add(1.0, square(ans)),
               saves="ans")
sinh = defunary("sinh", scalar_fast(math.sinh, np.sinh), lambda ans, x: cosh(x))
cosh = defunary("cosh", scalar_fast(math.cosh, np.cosh), lambda ans, x: sinh(x))
arctan = defunary("arctan", scalar_fast(math.atan, np.arctan),
                  rule=lambda t, ans, x: div(t, add(1.0, square(x))))
abs_ = defunary("abs", scalar_fast(abs, np.abs), lambda ans, x: sign(x))


def _twice_times(t: Any, ans: Any, x: Any) -> Any:
    if dispatch.counting is None and type(t) is np.ndarray and type(x) is np.ndarray:
        if t.size >= _COMPACT_FROM and 0 in t.strides:
            # (2t) x: doubling a large broadcast cotangent costs its compact size, not x's
            return times_rows(compact(t, x) * 2.0, x)
        out = np.multiply(t, x)  # plain operands: the product, doubled in place
        out += out
        return out
    return mul(mul(t, 2.0), x)


_COMPACT_FROM = 8192  # below this many elements compact's own cost exceeds the pass it saves


square = op_for(register(Primitive("square", scalar_fast(lambda v: v * v, np.square),
                                   jvp=(_twice_times,), vjp=(_twice_times,),
                                   flops=elementwise_flops, sparsity=ELEMENTWISE)), 1)
mul.primitive.diagonal = square.primitive  # x * x: one rule t * 2x, not t * x + x * t
reciprocal = defunary("reciprocal", scalar_fast(lambda v: 1.0 / v, np.reciprocal),
                      lambda ans, x: neg(square(ans)), saves="ans")


def _tanh_tangent_impl(t: Any, y: Any) -> Any:
    if type(y) is float and type(t) is float:
        return t * (1.0 - y * y)
    if (type(t) is np.ndarray and type(y) is np.ndarray and y.ndim
            and t.shape == y.shape and t.dtype == y.dtype):
        return tanh_tangent_into(t, y, buffers.empty(y.shape, y.dtype))
    if type(t) is np.ndarray and type(y) is np.ndarray and t.nbytes >= buffers.MIN_BYTES \
            and t.dtype == y.dtype and t.shape[t.ndim - y.ndim:] == y.shape:
        return np.multiply(t, 1.0 - np.multiply(y, y), out=buffers.empty(t.shape, t.dtype))
    return t * (1.0 - np.multiply(y, y))


# t * tanh'(x) written with y = tanh(x): linear in t, and differentiable in y for higher orders.
tanh_tangent = _arith(
    "tanh_tangent", _tanh_tangent_impl,
    (lambda dt_, ans, t, y: tanh_tangent(dt_, y), lambda dy, ans, t, y: mul(dy, mul(-2.0, mul(t, y)))),
    (lambda g, ans, t, y: tanh_tangent(g, y), lambda g, ans, t, y: mul(g, mul(-2.0, mul(t, y)))),
    flops=lambda ans, t, y: size_of(ans) + 2 * size_of(y), sparsity=ELEMENTWISE)  # 1 - y^2 once
tanh = op_for(register(Primitive(
    "tanh", scalar_fast(math.tanh, np.tanh),
    jvp=(lambda t, ans, x: tanh_tangent(t, ans),), vjp=(lambda g, ans, x: tanh_tangent(g, ans),),
    flops=elementwise_flops, saves="ans", jvp_fused=tanh_fused, sparsity=ELEMENTWISE,
)), 1)


def _sigmoid_impl(x: Any) -> Any:
    if type(x) is float:
        return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))
    x = as_floating(x)  # ints and bools: floats, not cast back to their own dtype
    # exp of -|x| never overflows; pick the branch by sign
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype)[()]


def _relu_impl(x: Any) -> Any:
    if type(x) is float:
        return 0.0 if x <= 0.0 else x  # NaN stays NaN, as np.maximum keeps it
    return np.maximum(x, 0)


def _softplus_impl(x: Any) -> Any:
    if type(x) is float:
        return max(x, 0.0) + math.log1p(math.exp(-abs(x)))
    x = as_floating(x)  # ints and bools: floats, not cast back to their own dtype
    return np.logaddexp(0.0, x).astype(x.dtype)[()]


sigmoid = defunary("sigmoid", _sigmoid_impl, lambda ans, x: mul(ans, sub(1.0, ans)), saves="ans",
                   flops=times(4))
def _relu_rule(t: Any, ans: Any, x: Any) -> Any:
    if type(t) is float and type(ans) is float and dispatch.counting is None:
        return t if ans > 0.0 else 0.0  # mul(t, positive_mask(ans)) on floats, unfused when counting
    return mul(t, positive_mask(ans))


relu = op_for(register(Primitive(
    "relu", _relu_impl, jvp=(_relu_rule,), vjp=(_relu_rule,), flops=elementwise_flops,
    saves="ans", jvp_fused=relu_fused, sparsity=ELEMENTWISE,
)), 1)
softplus = defunary("softplus", _softplus_impl, lambda ans, x: sigmoid(x), flops=times(4))
