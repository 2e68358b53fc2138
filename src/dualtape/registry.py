"""The one operator table that every engine, the counter and the studies read.

A :class:`Primitive` holds everything dualtape knows about one operation: its
NumPy implementation, its JVP and VJP rules (one per positional argument), its
cost model, which values its VJP needs saved on the tape, and its structure
(``linear``, ``sparsity``).  Routing an application to the right engine is
:mod:`dualtape.dispatch`'s job; ``Primitive.bind`` is its general entry point.
See docs/design.md for the conventions.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from . import dispatch
from .dispatch import NO_PARAMS, PLAIN_TYPES, Tracer
from .dispatch import is_jax as _is_jax  # noqa: F401  (older name, imported by api.py)

__all__ = [
    "AXIS_GROUP", "CUMULATIVE", "DENSE", "ELEMENTWISE", "GATHER", "MATMUL", "PLAIN_TYPES",
    "Primitive", "REDUCTION", "SCATTER", "Sparsity", "Tracer", "passes_through", "primitives",
    "register",
]

_TABLE: dict[str, Primitive] = {}
_NO_PARAMS = NO_PARAMS  # older name, kept for imports written against it


def __getattr__(name: str) -> Any:
    # ``registry.counting``: this thread's active counter, kept in dualtape.dispatch.
    if name == "counting":
        return dispatch.this_thread.counter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class Sparsity:
    """A kind of dependency pattern, declared by a primitive (``Primitive.sparsity``).

    A plain descriptor: :mod:`dualtape.sparse` interprets each kind as a rule on
    boolean dependency matrices, so declaring one needs neither SciPy nor the tracer.
    """

    __slots__ = ("name", "doc")

    def __init__(self, name: str, doc: str) -> None:
        self.name = name
        self.doc = doc

    def __repr__(self) -> str:
        return f"Sparsity({self.name!r})"


ELEMENTWISE = Sparsity("elementwise", "output element k depends on element k of each "
                       "argument, after broadcasting")
REDUCTION = Sparsity("reduction", "output element k depends on the elements of group k "
                     "(params axis, keepdims)")
AXIS_GROUP = Sparsity("axis_group", "each output element depends on every element of its "
                      "group along params axis (softmax; pick_along, a gather at indices "
                      "computed from the data)")
CUMULATIVE = Sparsity("cumulative", "element i along params axis depends on elements 0..i "
                      "of its fibre (cumsum, cumprod)")
GATHER = Sparsity("gather", "each output element is one argument element or a constant; "
                  "the impl applied to element positions says which (shape ops, indexing)")
SPREAD = Sparsity("spread", "output element k depends on the element of the first argument "
                  "for k's group along params axis: a reduction's transpose (tie_scale)")
SCATTER = Sparsity("scatter", "scatter_add(g, index, shape): element j of g lands at index j")
MATMUL = Sparsity("matmul", "x @ y, reading the zeros of a constant operand")
DENSE = Sparsity("dense", "every output element may depend on every input element")


def passes_through(g: Any, ans: Any, *args: Any, **params: Any) -> Any:
    """The rule, in either mode, of an argument that the answer equals (up to broadcasting):
    the tangent or cotangent unchanged.

    The backward loop recognises it and skips the call."""
    return g


class Primitive:
    """One primitive operation, defined once.

    Attributes:
        name: registry key.
        impl: NumPy implementation ``impl(*args, **params)``.
        jvp: one rule per positional argument, ``rule(t, ans, *args, **params)``,
            giving that argument's contribution to the output tangent (a ``None``
            entry: not differentiable in that argument).  For a variadic primitive, one
            rule ``rule(tangents, ans, *args, **params)`` given the list of every
            argument's tangent (``None`` where not traced) that returns the output tangent.
        vjp: one rule per positional argument, ``rule(g, ans, *args, **params)``, giving
            that argument's cotangent.  For a variadic primitive, one rule
            ``rule(i, g, ans, *args, **params)`` giving argument ``i``'s cotangent.
        flops: cost model ``flops(ans, *args, **params) -> int``.
        saves: what the VJP reads, so the tape keeps only that: ``"args"``,
            ``"ans"``, ``"both"`` or ``"meta"`` (shapes and dtypes only).
        broadcasting: the engines pad tangents and unbroadcast cotangents.
        variadic: takes any number of positional arguments (one rule, as above).
        linear: linear in its (differentiable) arguments; ``dualtape.ops.rules.deflinear``
            then derives the JVP from the op itself.
        sparsity: how each output element depends on the inputs, for a sparsity
            tracer: a :class:`Sparsity` kind (``ELEMENTWISE``, ``GATHER``, ...; the
            rule-writing helpers of ``dualtape.ops.rules`` set it), or a callable rule
            (see :mod:`dualtape.sparse.rules`); ``None`` = ``DENSE``.
        normalize: ``normalize(args, params) -> params``, applied by ``bind`` to put
            axis parameters in the internal convention (negative axes), whoever calls.
        jax_impl: used for JAX arguments; by default the function of the same
            name in ``dualtape._jax_impls`` (imported, with jax, on first use).
        jvp_fused: optional forward-mode kernel for plain float arrays that writes the
            primal and the tangent into one stacked array ``S`` (``S[0]`` the answer,
            ``S[1]`` its tangent).  Called as ``fused(x, tx, sx)`` (unary) or
            ``fused(x, tx, sx, y, ty, sy)`` (binary), where ``t*`` is the argument's
            tangent (``None``: not traced) and ``s*`` its own stack (or ``None``).
            Returns ``None`` to decline.  It must compute what ``impl`` and the JVP rules
            compute, op for op; the engine skips it while counting.
        diagonal: the one-operand primitive that ``op(x, x)`` equals (``mul``: ``square``).
            Both engines record it when the two operands are the same traced value: one
            rule instead of two rules and a sum.  Set after both are registered.
        takes_onehot: its VJP rules read a :class:`dualtape.ops.onehot.OneHot` cotangent
            (one nonzero per row, from ``max``/``min``); the backward loop hands every
            other primitive's rules the dense array.
    """

    __slots__ = (
        "name", "impl", "jvp", "vjp", "flops", "saves", "broadcasting", "variadic", "linear",
        "sparsity", "normalize", "_jax", "save_args", "save_ans", "save_meta", "jvp_fused",
        "pullback", "route", "diagonal", "takes_onehot",
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
        sparsity: Any = None,
        normalize: Callable[[tuple, Any], Any] | None = None,
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
        self.sparsity = sparsity
        self.normalize = normalize
        self._jax = jax_impl
        self.jvp_fused = jvp_fused
        # What the backward loop reads of every entry's primitive, in one attribute.
        self.pullback = (vjp, broadcasting, variadic)
        # The exported op1/op2 function, set by dispatch: nested evaluations route through it.
        self.route: Callable[..., Any] | None = None
        self.diagonal: Primitive | None = None
        self.takes_onehot = False

    def __repr__(self) -> str:
        return f"Primitive({self.name!r})"

    def jax_fn(self) -> Callable[..., Any]:
        """The jax implementation, resolved on first use (jax is imported lazily)."""
        if self._jax is None:
            self._jax = getattr(importlib.import_module("dualtape._jax_impls"), self.name)
        return self._jax

    def bind(self, *args: Any, **params: Any) -> Any:
        """Apply the primitive to any mix of plain, traced and JAX values."""
        if self.normalize is not None:
            params = self.normalize(args, params)
        return dispatch.bind(self, args, params)


def register(prim: Primitive) -> Primitive:
    """Add ``prim`` to the table (names are unique)."""
    if prim.name in _TABLE:
        raise ValueError(f"primitive {prim.name!r} is already registered")
    _TABLE[prim.name] = prim
    return prim


def primitives() -> dict[str, Primitive]:
    """A copy of the registry: name -> Primitive."""
    return dict(_TABLE)
