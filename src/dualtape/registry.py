"""The one operator table that both engines and the studies read.

A :class:`Primitive` holds everything dualtape knows about one operation: its
NumPy implementation, its JVP and VJP rules (one per positional argument), its
cost model, and which values its VJP needs saved on the tape.  ``bind`` is the
general dispatch: plain arguments go straight to ``impl``; traced ones go to the
engine of the innermost (highest) level; JAX arrays go to ``jax.numpy``.  The ops
in ``dualtape.ops`` take the same decision without ``bind`` in the common cases
(plain values; one traced operand, or two on one level).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import MappingProxyType
from typing import Any

import numpy as np

__all__ = ["Primitive", "Tracer", "primitives", "register", "counting"]

_TABLE: dict[str, Primitive] = {}

# Types that never need an engine: the fast path checks membership first.
PLAIN_TYPES = frozenset(
    {float, int, bool, np.ndarray, np.float64, np.float32, np.int64, np.int32, np.bool_}
)

# Shared by every call without parameters; never mutated.
_NO_PARAMS: Any = MappingProxyType({})

# The active counter (see dualtape.counting); module-global so the check is cheap.
counting: Any = None


class Tracer:
    """Base class of traced values (forward ``Dual`` and reverse ``TapeValue``).

    ``level`` orders nested transformations: the highest level is processed first.
    """

    __slots__ = ("level",)
    level: int

    def process(self, prim: Primitive, args: tuple, params: dict) -> Any:  # pragma: no cover
        raise NotImplementedError

    # Entry points for the hottest calls (no parameters); engines may specialise them.
    def process1(self, prim: Primitive, x: Any) -> Any:
        return self.process(prim, (x,), _NO_PARAMS)

    def process2(self, prim: Primitive, x: Any, y: Any) -> Any:
        return self.process(prim, (x, y), _NO_PARAMS)


def _is_jax(t: type) -> bool:
    mod = t.__module__
    return mod.startswith("jax") or mod.startswith("jaxlib")


def _jax_constant(a: Any, name: str) -> np.ndarray:
    """A concrete JAX array met by a dualtape-traced value: a constant, as a NumPy array."""
    import jax

    if isinstance(a, jax.core.Tracer):
        raise TypeError(
            f"{name}: a dualtape-traced value met a JAX tracer ({type(a).__name__}). dualtape's "
            "transformations run on NumPy values, so they cannot run inside jax.jit or a JAX "
            "transformation of the same value; apply JAX's transformations to the whole "
            "function instead (dualtape.numpy ops follow jax.numpy on JAX values)")
    return np.asarray(a)


class Primitive:
    """One primitive operation, defined once.

    Attributes:
        name: registry key.
        impl: NumPy implementation ``impl(*args, **params)``.
        jvp: tuple with one rule per positional argument,
            ``rule(t, ans, *args, **params)`` giving that argument's contribution
            to the output tangent (``None`` entry: not differentiable). For
            variadic primitives a single ``rule(i, t, ans, *args, **params)``.
        vjp: same layout, ``rule(g, ans, *args, **params)`` giving the cotangent
            of that argument.
        flops: cost model ``flops(ans, *args, **params) -> int``.
        saves: what the VJP reads, so the tape keeps only that: ``"args"``,
            ``"ans"``, ``"both"`` or ``"meta"`` (shapes and dtypes only).
        broadcasting: the engine pads tangents and unbroadcasts cotangents.
        jax_impl: used for JAX arguments; by default the function of the same
            name in ``dualtape._jax_impls`` (imported, with jax, on first use).
        jvp_fused: optional forward-mode kernel for plain float arrays that writes the
            primal and the tangent into one stacked array ``S`` (``S[0]`` the answer,
            ``S[1]`` its tangent). Called as ``fused(x, tx, sx)`` (unary) or
            ``fused(x, tx, sx, y, ty, sy)`` (binary), where ``t*`` is the argument's
            tangent (``None``: not traced) and ``s*`` its own stack (or ``None``).
            Returns ``None`` to decline. It must compute what ``impl`` and the JVP rules
            compute, op for op; the engine skips it while counting.
    """

    __slots__ = (
        "name", "impl", "jvp", "vjp", "flops", "saves", "broadcasting",
        "variadic", "linear", "_jax", "save_args", "save_ans", "save_meta", "jvp_fused",
    )

    def __init__(
        self,
        name: str,
        impl: Callable[..., Any],
        jvp: Any,
        vjp: Any,
        flops: Callable[..., int],
        *,
        saves: str = "args",
        broadcasting: bool = False,
        variadic: bool = False,
        linear: bool = False,
        jax_impl: Callable[..., Any] | None = None,
        jvp_fused: Callable[..., Any] | None = None,
    ) -> None:
        if saves not in ("args", "ans", "both", "meta"):
            raise ValueError(f"saves: expected args/ans/both/meta, got {saves!r}")
        self.name = name
        self.impl = impl
        self.jvp = jvp
        self.vjp = vjp
        self.flops = flops
        self.saves = saves
        self.save_args = saves in ("args", "both")
        self.save_ans = saves in ("ans", "both")
        self.save_meta = saves == "meta"
        self.broadcasting = broadcasting
        self.variadic = variadic
        self.linear = linear
        self._jax = jax_impl
        self.jvp_fused = jvp_fused

    def __repr__(self) -> str:
        return f"Primitive({self.name!r})"

    def jax_fn(self) -> Callable[..., Any]:
        """The jax implementation, resolved on first use (jax is imported lazily)."""
        if self._jax is None:
            self._jax = getattr(importlib.import_module("dualtape._jax_impls"), self.name)
        return self._jax

    def bind(self, *args: Any, **params: Any) -> Any:
        """Apply the primitive to any mix of plain, traced and JAX values."""
        top = None
        has_jax = False
        for a in args:
            if type(a) in PLAIN_TYPES:
                continue
            if isinstance(a, Tracer):
                if top is None or a.level > top.level:
                    top = a
            elif _is_jax(type(a)):
                has_jax = True
        if has_jax:
            if top is None:
                return self.jax_fn()(*args, **params)
            args = tuple(_jax_constant(a, self.name) if _is_jax(type(a)) else a for a in args)
        if top is not None:
            return top.process(self, args, params)
        ans = self.impl(*args, **params)
        if counting is not None:
            counting.record(self, ans, args, params)
        return ans


def register(prim: Primitive) -> Primitive:
    """Add ``prim`` to the table (names are unique)."""
    if prim.name in _TABLE:
        raise ValueError(f"primitive {prim.name!r} is already registered")
    _TABLE[prim.name] = prim
    return prim


def primitives() -> dict[str, Primitive]:
    """A copy of the registry: name -> Primitive."""
    return dict(_TABLE)
