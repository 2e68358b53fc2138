"""Forward mode: dual numbers.

A :class:`Dual` carries a primal and a tangent at one level.  In vector mode
the tangent has ``nb`` leading batch axes (one per direction set), and every
rule broadcasts over them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import registry
from .arrayops import ArrayOps
from .ops import NO_PARAMS, add, broadcast_to, pad_batch, shape_of
from .registry import PLAIN_TYPES, Primitive, Tracer

__all__ = ["Dual"]


class Dual(ArrayOps, Tracer):
    """A primal value and its tangent (directional derivative) at ``level``.

    ``stack``, when not ``None``, is one array holding both: ``stack[0]`` is the primal
    and ``stack[1]`` the tangent (made by a primitive's ``jvp_fused`` kernel), so a
    matmul can push both through one GEMM.
    """

    __slots__ = ("primal", "tangent", "nb", "stack")

    def __init__(self, primal: Any, tangent: Any, level: int, nb: int = 0,
                 stack: Any = None) -> None:
        self.primal = primal
        self.tangent = tangent
        self.level = level
        self.nb = nb
        self.stack = stack

    @property
    def value(self) -> Any:
        return self.primal

    def __repr__(self) -> str:
        return f"Dual(primal={self.primal!r}, tangent={self.tangent!r}, level={self.level})"

    def process(self, prim: Primitive, args: tuple, params: dict) -> Any:
        level = self.level
        primals = list(args)
        tangents: list[Any] = [None] * len(args)
        for i, a in enumerate(args):
            if type(a) is Dual and a.level == level:
                primals[i] = a.primal
                tangents[i] = a.tangent
        for p in primals:
            if type(p) not in PLAIN_TYPES:
                ans = prim.bind(*primals, **params)
                break
        else:
            ans = prim.impl(*primals, **params)
            if registry.counting is not None:
                registry.counting.record(prim, ans, tuple(primals), params)
        nb = self.nb
        if prim.variadic:
            out = prim.jvp(tangents, ans, *primals, **params)
        else:
            out = None
            rules = prim.jvp
            for i, t in enumerate(tangents):
                if t is None or rules[i] is None:
                    continue
                if nb and prim.broadcasting:
                    t = pad_batch(t, nb, len(shape_of(ans)))
                c = rules[i](t, ans, *primals, **params)
                out = c if out is None else add(out, c)
            if out is None:
                return ans
            if prim.broadcasting:
                ans_shape = shape_of(ans)
                out_shape = shape_of(out)
                if out_shape[nb:] != ans_shape:
                    out = broadcast_to(out, shape=out_shape[:nb] + ans_shape)
        return Dual(ans, out, level, nb)

    def process1(self, prim: Primitive, x: Any) -> Any:
        primal = self.primal
        if self.nb or type(primal) not in PLAIN_TYPES:
            return self.process(prim, (x,), NO_PARAMS)
        if (prim.jvp_fused is not None and type(primal) is np.ndarray
                and registry.counting is None):
            s = prim.jvp_fused(primal, self.tangent, self.stack)
            if s is not None:
                return Dual(s[0], s[1], self.level, 0, s)
        ans = prim.impl(primal)
        if registry.counting is not None:
            registry.counting.record(prim, ans, (primal,), NO_PARAMS)
        rule = prim.jvp[0]
        if rule is None:
            return ans
        return Dual(ans, rule(self.tangent, ans, primal), self.level)

    def process2(self, prim: Primitive, x: Any, y: Any) -> Any:
        # Called with ``self`` on top of the level order; ``prim`` is not variadic.
        if self.nb:
            return self.process(prim, (x, y), NO_PARAMS)
        level = self.level
        a, b = x, y
        ta = tb = sa = sb = None
        if type(a) is Dual and a.level == level:
            ta, sa, a = a.tangent, a.stack, a.primal
        if type(b) is Dual and b.level == level:
            tb, sb, b = b.tangent, b.stack, b.primal
        if type(a) not in PLAIN_TYPES or type(b) not in PLAIN_TYPES:
            return self.process(prim, (x, y), NO_PARAMS)
        if prim.jvp_fused is not None and registry.counting is None:
            s = prim.jvp_fused(a, ta, sa, b, tb, sb)
            if s is not None:
                return Dual(s[0], s[1], level, 0, s)
        ans = prim.impl(a, b)
        if registry.counting is not None:
            registry.counting.record(prim, ans, (a, b), NO_PARAMS)
        rules = prim.jvp
        out = None
        if ta is not None and rules[0] is not None:
            out = rules[0](ta, ans, a, b)
        if tb is not None and rules[1] is not None:
            c = rules[1](tb, ans, a, b)
            out = c if out is None else add(out, c)
        if out is None:
            return ans
        if prim.broadcasting and shape_of(out) != shape_of(ans):
            out = broadcast_to(out, shape=shape_of(ans))
        return Dual(ans, out, level)
