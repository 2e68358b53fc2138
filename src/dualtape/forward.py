"""Forward mode: dual numbers.

A :class:`Dual` carries a primal and a tangent at one level.  In vector mode the
tangent has ``nb`` leading batch axes (one per direction), and every rule broadcasts
over them.  The engine's own step (:meth:`Dual.extend`) applies the primitive's JVP
rules; routing, unwrapping and evaluation are :mod:`dualtape.dispatch`'s.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .arrayops import ArrayOps
from .dispatch import LEAKED, NO_PARAMS, Tracer, UnexpectedTracerError, evaluate1, evaluate2, fusing
from .ops import add, broadcast_to, pad_batch, shape_of
from .registry import Primitive, passes_through

__all__ = ["Dual", "check_alive", "check_returned", "running"]

#: The levels of the forward transformations running now (``jvp``, a checkpoint's push).
#: Theirs are odd (``api.scoped_level``); every other level is even and never closes
#: (``dualtape.new_level``: Duals built by hand, tapes, other engines).
running: set[int] = set()


def check_alive(level: int) -> None:
    """Raise :class:`UnexpectedTracerError` for a Dual whose transformation has returned."""
    if level % 2 and level not in running:
        raise UnexpectedTracerError(LEAKED)


def check_returned(x: Any, level: int) -> None:
    """Check an output or aux leaf of the transformation at ``level``: a Dual of another level
    returned untouched may still have leaked."""
    if type(x) is Dual:
        if x.level != level:
            check_alive(x.level)
    elif getattr(x, "leaked", False) and x.level != level:  # of another, finished recording
        raise UnexpectedTracerError(LEAKED)


class Dual(ArrayOps, Tracer):
    """A primal value and its tangent (directional derivative) at ``level``.

    ``stack``, when not ``None``, is one array holding both: ``stack[0]`` is the primal
    and ``stack[1]`` the tangent (made by a primitive's ``jvp_fused`` kernel), so a
    matmul can push both through one GEMM.
    """

    __slots__ = ("value", "tangent", "nb", "stack")

    def __init__(self, primal: Any, tangent: Any, level: int, nb: int = 0,
                 stack: Any = None) -> None:
        self.value = primal
        self.tangent = tangent
        self.level = level
        self.nb = nb
        self.stack = stack

    @property
    def primal(self) -> Any:
        """The primal value (the value one level down)."""
        return self.value

    def __repr__(self) -> str:
        return f"Dual(primal={self.value!r}, tangent={self.tangent!r}, level={self.level})"

    def process(self, prim: Primitive, args: tuple, params: Any) -> Any:
        if self.level not in running:
            check_alive(self.level)
        return Tracer.process(self, prim, args, params)

    def extend(self, prim: Primitive, ans: Any, vals: tuple, mine: list, params: Any) -> Any:
        """The output tangent: the sum of the JVP rules of the arguments on this level."""
        nb = self.nb
        if prim.variadic:
            tangents: list[Any] = [None] * len(vals)
            for i, d in mine:
                tangents[i] = d.tangent
            return Dual(ans, prim.jvp(tangents, ans, *vals, **params), self.level, nb)
        out = None
        rules = prim.jvp
        for i, d in mine:
            rule = rules[i]
            if rule is None:
                continue
            t = d.tangent
            if nb and prim.broadcasting:
                t = pad_batch(t, nb, len(shape_of(ans)))
            c = rule(t, ans, *vals, **params)
            out = c if out is None else add(out, c)
        return self._wrap(prim, ans, out, nb)

    def _wrap(self, prim: Primitive, ans: Any, out: Any, nb: int) -> Any:
        if out is None:
            return ans
        if prim.broadcasting:
            ans_shape = shape_of(ans)
            out_shape = shape_of(out)
            if out_shape[nb:] != ans_shape:
                out = broadcast_to(out, shape=out_shape[:nb] + ans_shape)
        return Dual(ans, out, self.level, nb)

    def process1(self, prim: Primitive, x: Any) -> Any:
        if self.level not in running:
            check_alive(self.level)
        if self.nb:
            return self.process(prim, (x,), NO_PARAMS)
        v = self.value
        if prim.jvp_fused is not None and type(v) is np.ndarray and fusing():
            s = prim.jvp_fused(v, self.tangent, self.stack)
            if s is not None:
                return Dual(s[0], s[1], self.level, 0, s)
        ans = evaluate1(prim, v)
        rule = prim.jvp[0]
        if rule is None:
            return ans
        return Dual(ans, rule(self.tangent, ans, v), self.level)

    def process2(self, prim: Primitive, x: Any, y: Any) -> Any:
        if self.level not in running:
            check_alive(self.level)
        if x is y and prim.diagonal is not None:
            return self.process1(prim.diagonal, x)
        if self.nb:
            return self.process(prim, (x, y), NO_PARAMS)
        ta = tb = sa = sb = None
        if type(x) is Dual:
            ta, sa, x = x.tangent, x.stack, x.value
        if type(y) is Dual:
            tb, sb, y = y.tangent, y.stack, y.value
        if prim.jvp_fused is not None and fusing():
            s = prim.jvp_fused(x, ta, sa, y, tb, sb)
            if s is not None:
                return Dual(s[0], s[1], self.level, 0, s)
        ans = evaluate2(prim, x, y)
        rules = prim.jvp
        out = None
        if ta is not None and rules[0] is not None:
            out = ta if rules[0] is passes_through else rules[0](ta, ans, x, y)
        if tb is not None and rules[1] is not None:
            c = tb if rules[1] is passes_through else rules[1](tb, ans, x, y)
            out = c if out is None else add(out, c)
        return self._wrap(prim, ans, out, 0)
