"""Rule-writing helpers: each states one structural fact once, so a primitive is one block.

* :func:`defunary` -- an elementwise function from its derivative ``d(ans, x)``;
* :func:`defbinary` -- an elementwise function of two operands from its partial
  derivatives ``d_x(ans, x, y)`` and ``d_y(ans, x, y)``;
* :func:`deflinear` -- a linear op: its JVP is the op itself applied to the tangent,
  so only the VJP (its transpose) is written;
* :func:`defnondiff` -- zero derivative wherever defined (masks, ``sign``).

Each helper also declares the primitive's dependency pattern (``sparsity``):
elementwise for :func:`defunary`, :func:`defbinary` and :func:`defnondiff`, and
for :func:`deflinear` a gather (the op applied to element positions says where
each output element comes from) unless the definition passes another kind.

Elementwise rules are ``t * d`` in forward mode and ``g * d`` in reverse mode, so the
derivative is stated once and both modes follow.  Each helper registers the primitive
and returns the function that ``dualtape.ops`` exports for it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .. import dispatch
from ..registry import ELEMENTWISE, GATHER, Primitive, register
from . import elementwise as _ew  # the rules multiply with ``mul``: read when a rule runs
from .core import batch_shape, elementwise_flops, no_flops, shape_of

__all__ = ["defbinary", "deflinear", "defnondiff", "defunary", "mask", "op_for",
           "safe_binary", "scalar_fast"]


def op_for(prim: Primitive, nargs: int | None = None) -> Callable[..., Any]:
    """The exported function of a registered primitive: the fast routes of
    :mod:`dualtape.dispatch` for one or two operands, ``opn`` otherwise."""
    if nargs == 1:
        return dispatch.op1(prim)
    if nargs == 2:
        return dispatch.op2(prim)
    return dispatch.opn(prim)


def defunary(name: str, impl: Callable[[Any], Any], d: Callable[[Any, Any], Any] | None = None, *,
             saves: str = "args", flops: Callable[..., int] = elementwise_flops,
             jvp_fused: Any = None, rule: Any = None) -> Callable[[Any], Any]:
    """An elementwise op of one operand whose derivative is ``d(ans, x)``.

    ``rule``, instead: ``(t, ans, x) -> t * d(ans, x)`` written out (a quotient ``t / x``
    is one operation where ``t * (1 / x)`` is two); it serves as both JVP and VJP."""
    if rule is None:
        if d is None:
            raise TypeError(f"{name}: defunary needs the derivative d or the rule")

        def rule(t, ans, x):
            return _ew.mul(t, d(ans, x))

    return op_for(register(Primitive(name, impl, jvp=(rule,), vjp=(rule,), flops=flops,
                                     saves=saves, jvp_fused=jvp_fused, sparsity=ELEMENTWISE)), 1)


def defbinary(name: str, impl: Callable[[Any, Any], Any], d_x: Any = None, d_y: Any = None, *,
              saves: str = "args", flops: Callable[..., int] = elementwise_flops,
              jvp_fused: Any = None, rules: tuple | None = None) -> Callable[[Any, Any], Any]:
    """An elementwise, broadcasting op of two operands with partial derivatives
    ``d_x(ans, x, y)`` and ``d_y(ans, x, y)`` (``None``: not differentiable there).

    ``rules``, instead: the two rules ``(t, ans, x, y) -> t * d(ans, x, y)`` written out
    (they serve as both JVP and VJP, as the scaled partials do)."""
    def scale(d):
        if d is None:
            return None
        return lambda t, ans, x, y: _ew.mul(t, d(ans, x, y))

    if rules is None:
        rules = (scale(d_x), scale(d_y))
    return op_for(register(Primitive(name, impl, jvp=rules, vjp=rules, flops=flops,
                                     saves=saves, broadcasting=True, jvp_fused=jvp_fused,
                                     sparsity=ELEMENTWISE)), 2)


def deflinear(name: str, impl: Callable[..., Any], vjp: Any, *, nargs: int | None = None,
              jvp: Any = None, **kw: Any) -> Callable[..., Any]:
    """A linear op.  Its JVP, unless given, is the op itself applied to the tangent
    (with the same parameters): right for ops whose parameters do not depend on batch
    axes (negative axes).  ``vjp`` is the transpose; the tape keeps only shapes."""
    kw.setdefault("saves", "meta")
    kw.setdefault("flops", no_flops)
    kw.setdefault("sparsity", GATHER)
    prim = Primitive(name, impl, jvp=jvp, vjp=vjp, linear=True, **kw)
    op = op_for(register(prim), nargs)
    if prim.jvp is None:
        prim.jvp = linear_jvp(prim, op)
    return op


def linear_jvp(prim: Primitive, op: Callable[..., Any]) -> Any:
    """The JVP rules of a linear primitive: the op applied to the tangent(s)."""
    if not prim.linear:
        raise ValueError(f"{prim.name}: linear_jvp needs a primitive registered with linear=True")
    if prim.variadic:
        return lambda ts, ans, *xs, **params: op(*_filled(ts, xs), **params)
    return (lambda t, ans, x, **params: op(t, **params),)


def _filled(ts: list, xs: tuple) -> list:
    """Tangents of a variadic op with zeros in place of ``None``."""
    ref = next(i for i, t in enumerate(ts) if t is not None)
    bs = batch_shape(ts[ref], xs[ref])
    return [t if t is not None else np.zeros(bs + shape_of(x), dtype=getattr(x, "dtype", np.float64))
            for t, x in zip(ts, xs, strict=True)]


def defnondiff(name: str, impl: Callable[..., Any], nargs: int = 1, *,
               broadcasting: bool = False, params: bool = False) -> Callable[..., Any]:
    """A primitive with zero derivative everywhere it is defined (masks, sign, rounding);
    ``params``: it takes keyword parameters, so it is applied through ``bind``."""
    prim = register(Primitive(name, impl, jvp=(None,) * nargs, vjp=(None,) * nargs,
                              flops=elementwise_flops, saves="meta", broadcasting=broadcasting,
                              sparsity=ELEMENTWISE))
    return op_for(prim, None if params else nargs)


# ---------------------------------------------------------------- implementation helpers


def scalar_fast(mathfn: Callable[[float], float], npfn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Use ``math`` on Python floats (much faster), NumPy semantics otherwise."""

    def impl(x):
        if type(x) is float:
            try:
                return mathfn(x)
            except (ValueError, OverflowError, ZeroDivisionError):
                return float(npfn(x))  # NumPy's nan or inf, still a Python float
        return npfn(x)

    return impl


def safe_binary(op: Callable[[Any, Any], Any], npfn: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """``op`` (Python's operator), falling back to NumPy where Python raises (x / 0.0)."""
    def impl(x, y):
        try:
            return op(x, y)
        except (ZeroDivisionError, OverflowError, ValueError):
            out = npfn(x, y)
            return float(out) if type(x) is float and type(y) is float else out

    return impl


def mask(cond: Any, *like: Any) -> Any:
    """A boolean mask as a float array (or float) of the first array's dtype in ``like``."""
    if type(cond) in (bool, np.bool_):
        return 1.0 if cond else 0.0
    dtype = next((x.dtype for x in like if hasattr(x, "dtype")), np.float64)
    return cond.astype(dtype)

