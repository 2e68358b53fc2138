"""The one routing decision: which engine sees an operation, and how a primal is evaluated.

Every operation takes the same path (see docs/design.md, "One dispatch path")::

    route(prim, args, params):
        top = the traced argument of the highest level
        no top     -> evaluate: prim.impl on plain values (and tell an active counter)
        otherwise  -> top.process(prim, args, params)

    Engine.process(prim, args, params):      # Tracer.process below
        vals, mine = unwrap(self.level, args)   # shared
        ans = evaluate(prim, vals, params)      # shared: impl, counting, nested levels
        return self.extend(prim, ans, vals, mine, params)   # the engine's own step

:func:`bind` is the general route.  :func:`op1` and :func:`op2` build the function that
``dualtape.ops`` exports for a primitive without parameters: the same decision written
for one and two operands, without ``bind``'s loop and keyword dictionary, because that
is most of the cost of scalar code.  They hand a traced operand to the engine's
``process1``/``process2`` only when the other operand is plain or on the same level.

The operation counters (:func:`dualtape.count`) live here: ``counting`` is None while no
thread counts (the one test every fast path makes) and :data:`ROUTER` while any does, which
hands each record to the counter opened in the calling thread (``this_thread.counter``), so
a count sees only its own thread's primitives.  Evaluations are counted only here; the
only other readers are ``Value``'s node builders (which skip the call to
:func:`evaluate2` when nothing counts) and the tape, which counts the bytes it saves.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import MappingProxyType
from typing import Any

import numpy as np

__all__ = [
    "NO_PARAMS", "PLAIN_TYPES", "ROUTER", "Tracer", "bind", "concrete", "counting", "evaluate", "evaluate1",
    "evaluate2", "fusing", "is_jax", "method2", "op1", "op2", "opn", "this_thread", "unwrap",
]

# Types that never need an engine: every fast path checks membership first.
PLAIN_TYPES = frozenset(
    {float, int, bool, type(None), np.ndarray, np.float64, np.float32, np.int64, np.int32,
     np.bool_}
)

# Shared by every call without parameters; never mutated.
NO_PARAMS: Any = MappingProxyType({})



# Per thread: the innermost counter dt.count() opened in it, and its recomputation depth.
class _ThisThread(threading.local):
    counter: Any = None
    recompute_depth = 0


this_thread = _ThisThread()


# ``counting`` while any thread counts: a record goes to the calling thread's own counter.
class _Router:
    __slots__ = ()

    def record(self, prim: Any, ans: Any, args: tuple, params: Any) -> None:
        c = this_thread.counter
        if c is not None:
            c.record(prim, ans, args, params)

    def record_saved(self, values: tuple, entry: bool = True) -> None:
        c = this_thread.counter
        if c is not None:
            c.record_saved(values, entry)


ROUTER = _Router()

# None while no thread counts, else ROUTER (set by dualtape.count()): the fast paths' one test.
counting: Any = None


class UnexpectedTracerError(TypeError):
    """A traced value was used after its transformation returned (JAX's error of that name)."""


LEAKED = ("a traced value was used after the transformation that traced it returned: it "
          "leaked out of the function (a global, a closure, a list; or a custom_vjp's bwd "
          "reads it from a closure instead of its residuals). Return it from the function "
          "instead, or use dnp.concrete(x) for its value as a constant")


class Tracer:
    """A traced value, and the protocol every engine implements.

    An engine is a subclass whose instances carry ``level`` (an int from
    ``dualtape.new_level``; the highest level is processed first) and ``value``
    (the value one level down: a plain value or a tracer of a lower level).  The
    routing hands an operation to the highest-level traced argument's
    :meth:`process`; the default implementation unwraps this level's operands,
    evaluates the primal with the shared :func:`evaluate` and leaves the rest to
    :meth:`extend`, the one step each engine writes: forward mode computes
    tangents, reverse mode appends a tape entry, a sparsity tracer would combine
    index sets.  A new engine subclasses ``Tracer`` and defines ``extend`` (or
    overrides ``process`` whole); the other engines are not touched.

    ``process1(prim, x)`` and ``process2(prim, x, y)`` are the entry points of
    :func:`op1` and :func:`op2` (primitives without parameters); each operand
    there is plain or a tracer of ``self``'s level, and ``self`` is one of them.
    They default to :meth:`process`; engines may specialise them for speed.
    """

    __slots__ = ("level",)
    level: int
    #: Called when :func:`read_values` reads the value as data that steers the computation
    #: (``bool()``, ``int()``, an index from ``argmax``): an engine that must know (the
    #: sparsity tracer) sets a method.
    on_read: Any = None
    #: ``hold(value)``: how the engine carries a value computed from its tracer's values with
    #: no derivative (a comparison, a mask; see :func:`held`); ``None``: as a plain value.
    hold: Any = None

    def __copy__(self) -> Any:
        return self  # immutable: a copy is the value itself, derivative and all

    def __deepcopy__(self, memo: dict) -> Any:
        return self  # a deep copy would clone the tape, whose entries then count twice

    def __reduce_ex__(self, protocol: Any) -> Any:
        raise TypeError("a traced value cannot be pickled: its derivative is tied to the running "
                        "transformation. Pickle dnp.concrete(x), its value, instead")

    def process(self, prim: Any, args: tuple, params: Any) -> Any:
        """Apply ``prim`` to ``args``, of which ``self`` is the highest-level tracer."""
        vals, mine = unwrap(self.level, args)
        ans = evaluate(prim, vals, params)
        return self.extend(prim, ans, vals, mine, params)

    def extend(self, prim: Any, ans: Any, vals: tuple, mine: list, params: Any) -> Any:
        """The engine's own step: wrap ``ans`` (``prim`` applied to ``vals``, the
        arguments with this level unwrapped) given ``mine``, the ``(position, tracer)``
        pairs of the arguments on this level."""
        raise NotImplementedError(f"{type(self).__name__} must define extend() or process()")

    def process1(self, prim: Any, x: Any) -> Any:
        return self.process(prim, (x,), NO_PARAMS)

    def process2(self, prim: Any, x: Any, y: Any) -> Any:
        return self.process(prim, (x, y), NO_PARAMS)


def concrete(x: Any) -> Any:
    """The plain value under any number of tracing levels (``x`` itself if it is plain)."""
    while type(x) not in PLAIN_TYPES and isinstance(x, Tracer):
        x = x.value  # type: ignore[attr-defined]
    return x


def read_values(x: Any) -> Any:
    """:func:`concrete`, telling every tracer on the way that its value now steers the
    computation (a branch, an index computed from it): see ``Tracer.on_read``."""
    while type(x) not in PLAIN_TYPES and isinstance(x, Tracer):
        if x.on_read is not None:
            x.on_read()
        x = x.value  # type: ignore[attr-defined]
    return x


#: How many traces are running whose engine sets ``Tracer.hold`` (sparsity detection): at 0
#: a comparison does not look for one.
holding = 0


def held(value: Any, args: tuple) -> Any:
    """``value``, computed with no derivative from the concrete values of ``args``, handed to
    the first tracer among them (or under them) whose engine follows such values
    (``Tracer.hold``): a branch on it, or an index made from it, is then seen."""
    if not holding:
        return value
    for a in args:
        if isinstance(a, (list, tuple)):
            a = held(value, a)
            if a is not value:
                return a
            continue
        while type(a) not in PLAIN_TYPES and isinstance(a, Tracer):
            if a.hold is not None:
                return a.hold(value)
            a = a.value  # type: ignore[attr-defined]
    return value


def unwrap(level: int, args: tuple) -> tuple[tuple, list]:
    """Split ``args`` at ``level``: the values with this level's tracers replaced by their
    ``value``, and the ``(position, tracer)`` pairs of those tracers."""
    vals = list(args)
    mine = []
    for i, a in enumerate(args):
        if type(a) not in PLAIN_TYPES and isinstance(a, Tracer) and a.level == level:
            vals[i] = a.value  # type: ignore[attr-defined]
            mine.append((i, a))
    return tuple(vals), mine


def is_jax(t: type) -> bool:
    """Whether ``t`` is a JAX array or tracer type (checked by module, without importing jax)."""
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


# ---------------------------------------------------------------- evaluation (and counting)


def evaluate(prim: Any, vals: tuple, params: Any) -> Any:
    """The primal of ``prim`` on ``vals``: ``prim.impl`` on plain values, and the one place
    an evaluation is counted; anything still traced (a lower level, when transformations
    nest) is routed again."""
    for v in vals:
        if type(v) not in PLAIN_TYPES and isinstance(v, Tracer):
            return bind(prim, vals, params)
    ans = prim.impl(*vals, **params)
    counter = counting  # read once: another thread's count may close meanwhile
    if counter is not None:
        counter.record(prim, ans, vals, params)
    return ans


def evaluate1(prim: Any, a: Any) -> Any:
    """:func:`evaluate` for one operand and no parameters; a traced operand (transformations
    nest) takes :func:`op1`'s route again, so its engine's ``process1``."""
    if type(a) in PLAIN_TYPES:
        return prim.impl(a) if counting is None else evaluate(prim, (a,), NO_PARAMS)
    return prim.route(a) if prim.route is not None else bind(prim, (a,), NO_PARAMS)


def evaluate2(prim: Any, a: Any, b: Any) -> Any:
    """:func:`evaluate` for two operands and no parameters; traced operands (transformations
    nest) take :func:`op2`'s route again, so their engine's ``process2``."""
    if type(a) in PLAIN_TYPES and type(b) in PLAIN_TYPES:
        return prim.impl(a, b) if counting is None else evaluate(prim, (a, b), NO_PARAMS)
    return prim.route(a, b) if prim.route is not None else bind(prim, (a, b), NO_PARAMS)


def fusing() -> bool:
    """Whether fused kernels may replace the primitives they fuse (not while counting,
    which counts the unfused primitives)."""
    return counting is None


# ---------------------------------------------------------------- routing


def bind(prim: Any, args: tuple, params: Any) -> Any:
    """Route ``prim`` applied to any mix of plain, traced and JAX values."""
    top = None
    has_jax = False
    for a in args:
        if type(a) in PLAIN_TYPES:
            continue
        if isinstance(a, Tracer):
            if top is None or a.level > top.level:
                top = a
        elif is_jax(type(a)):
            has_jax = True
    if has_jax:
        if top is None:
            return prim.jax_fn()(*args, **params)
        args = tuple(_jax_constant(a, prim.name) if is_jax(type(a)) else a for a in args)
    if top is not None:
        return top.process(prim, args, params)
    # plain values only (evaluate's own check would find no tracer)
    return prim.impl(*args, **params) if counting is None else evaluate(prim, args, params)


def _named(op: Callable[..., Any], prim: Any) -> Callable[..., Any]:
    op.__name__ = op.__qualname__ = prim.name
    op.__doc__ = f"Apply the ``{prim.name}`` primitive."
    op.primitive = prim  # type: ignore[attr-defined]
    return op


def op1(prim: Any) -> Callable[[Any], Any]:
    """The function for a one-operand primitive without parameters."""
    impl = prim.impl

    def op(x):
        if type(x) is float and counting is None:
            return impl(x)  # Python floats first: scalar code and the rules applied to it
        if type(x) in PLAIN_TYPES:
            return impl(x) if counting is None else evaluate(prim, (x,), NO_PARAMS)
        if isinstance(x, Tracer):
            return x.process1(prim, x)  # a single tracer is the top by itself
        return bind(prim, (x,), NO_PARAMS)

    prim.route = op
    return _named(op, prim)


def op2(prim: Any) -> Callable[[Any, Any], Any]:
    """The function for a two-operand primitive without parameters."""
    impl = prim.impl

    def op(x, y):
        tx, ty = type(x), type(y)
        if tx is float and ty is float and counting is None:
            return impl(x, y)  # Python floats first: scalar code and the rules applied to it
        if tx in PLAIN_TYPES:
            if ty in PLAIN_TYPES:
                return impl(x, y) if counting is None else evaluate(prim, (x, y), NO_PARAMS)
            if isinstance(y, Tracer):
                return y.process2(prim, x, y)
        elif isinstance(x, Tracer) and (ty in PLAIN_TYPES or (ty is tx and y.level == x.level)):
            return x.process2(prim, x, y)
        return bind(prim, (x, y), NO_PARAMS)  # two levels, or JAX values

    prim.route = op
    return _named(op, prim)


def method2(prim: Any, reflected: bool = False) -> Callable[[Any, Any], Any]:
    """The operator method (``__mul__``, or ``__rmul__`` when ``reflected``) of a traced value
    for a two-operand primitive: :func:`op2`'s decision with ``self`` known to be a tracer."""

    def op(self, other):
        t = type(other)
        if t in PLAIN_TYPES or (t is type(self) and other.level == self.level):
            return self.process2(prim, other, self) if reflected else self.process2(prim, self, other)
        return bind(prim, (other, self) if reflected else (self, other), NO_PARAMS)

    op.__name__ = op.__qualname__ = f"__{'r' if reflected else ''}{prim.name}__"
    return op


def opn(prim: Any) -> Callable[..., Any]:
    """The function for any other primitive: three or more operands (``where``, ``clip``)
    or parameters (axes, shapes).  Parameters are normalised first; plain operands are
    evaluated at once (the rules' own calls), the rest routed."""
    impl, normalize = prim.impl, prim.normalize

    def op(*args, **params):
        if normalize is not None:
            params = normalize(args, params)
        for a in args:
            if type(a) not in PLAIN_TYPES:
                if isinstance(a, Tracer):
                    for b in args:  # a single tracer among plain values is the top by itself
                        if b is not a and type(b) not in PLAIN_TYPES:
                            return bind(prim, args, params)
                    return a.process(prim, args, params)
                return bind(prim, args, params)
        return impl(*args, **params) if counting is None else evaluate(prim, args, params)

    return _named(op, prim)
