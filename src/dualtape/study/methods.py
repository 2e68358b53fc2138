"""Ways to compute the full Jacobian, plus the primal evaluation as the unit of cost.

Every method turns an ``Instance`` into a zero-argument *runner*: the thing that
is timed, counted and memory-profiled.  ``Method.jacobian`` turns a runner's
result into an (m, n) NumPy array for the cross-check against JAX.

dualtape methods (engine ``dualtape``) and the NumPy primal are counted with
``dualtape.count()``; JAX peers (engine ``jax``) are timed and cross-checked
only, since neither the registry's cost model nor tracemalloc sees inside XLA.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..measure.jaxconfig import jax_x64
from .problems import Instance
from .spec import StudyError

Runner = Callable[[], Any]


@dataclass(frozen=True)
class Method:
    """How one cell computes its result.

    ``mode`` is ``primal``, ``forward`` or ``reverse``; ``engine`` is
    ``dualtape`` or ``jax``; ``chunk`` is the number of tangents (cotangents)
    per pass, 0 meaning all at once, ``None`` for non-Jacobian methods.
    ``unit`` names the primal method a cost is divided by to make it relative.
    """

    name: str
    label: str
    mode: str
    engine: str
    make: Callable[[Instance], Runner]
    chunk: int | None = None
    unit: str = "primal"
    jit: bool = False

    @property
    def is_jacobian(self) -> bool:
        return self.mode != "primal"

    @property
    def counted(self) -> bool:
        """Whether dualtape's counters and tracemalloc see this method's work."""
        return self.engine == "dualtape"

    def passes(self, n: int, m: int) -> int:
        """How many sweeps through f the method makes (for progress estimates)."""
        if self.mode == "primal":
            return 1
        k = n if self.mode == "forward" else m
        return 1 if not self.chunk else math.ceil(k / self.chunk)

    def jacobian(self, result: Any, n: int, m: int) -> np.ndarray:
        """The runner's result as an (m, n) float64 array."""
        arr = np.asarray(result, dtype=np.float64)
        if arr.size != n * m:
            raise StudyError(
                f"{self.name} returned shape {arr.shape}, expected {m * n} entries", "method"
            )
        return arr.reshape(m, n)


_METHODS: dict[str, Method] = {}


def register_method(method: Method, *, replace: bool = False) -> Method:
    """Add ``method`` to the table that studies name methods from."""
    if method.name in _METHODS and not replace and _METHODS[method.name] is not method:
        raise StudyError(f"a method named {method.name!r} is already registered", "method")
    _METHODS[method.name] = method
    return method


def method_names() -> list[str]:
    """Names of every registered method, in registration order."""
    return list(_METHODS)


def get_method(name: str) -> Method:
    """Look a method up by name; an unknown name raises ``StudyError`` listing the valid ones."""
    try:
        return _METHODS[name]
    except KeyError:
        raise StudyError(
            f"unknown method {name!r}; valid methods: {', '.join(method_names())}"
        ) from None


def find_method(name: str) -> Method | None:
    """The registered method called ``name``, or None (results may name methods of
    another process, such as a user's own, that are not registered here)."""
    return _METHODS.get(name)


def method_label(name: str) -> str:
    """A method's label for tables and legends (its name when not registered)."""
    method = _METHODS.get(name)
    return method.label if method is not None else name


def is_headline(name: str) -> bool:
    """Whether ``name`` is one of dualtape's two textbook Jacobians: one direction per
    pass (chunk 1) or all directions in one vector-mode pass (chunk 0)."""
    method = _METHODS.get(name)
    return method is not None and method.engine == "dualtape" and method.chunk in (0, 1)


def _pair_order(method: Method) -> tuple:
    """dualtape before peers; one direction per pass, then all at once, then chunks; jit first."""
    chunk = method.chunk or 0
    return (method.engine != "dualtape", chunk != 1, chunk != 0, chunk, not method.jit)


def forward_reverse_pairs(names: Sequence[str] | None = None) -> list[tuple[str, str]]:
    """(forward, reverse) method pairs that differ only in their mode.

    Two Jacobian methods pair when they share ``engine``, ``chunk`` and ``jit``, one
    in forward mode and one in reverse.  ``names`` restricts the pairs to methods
    among them (those present in a results file); every registered method counts
    otherwise, so a newly registered pair is found with no list to edit.
    """
    pool = [m for m in _METHODS.values() if m.is_jacobian and m.chunk is not None
            and (names is None or m.name in names)]
    reverse = {(m.engine, m.chunk, m.jit): m for m in pool if m.mode == "reverse"}
    pairs = [(f, reverse[(f.engine, f.chunk, f.jit)]) for f in pool if f.mode == "forward"
             and (f.engine, f.chunk, f.jit) in reverse]
    return [(f.name, r.name) for f, r in sorted(pairs, key=lambda p: _pair_order(p[0]))]


def _primal(inst: Instance) -> Runner:
    f, x = inst.f, inst.x
    return lambda: f(x)


def _dualtape_jac(kind: str, chunk: int) -> Callable[[Instance], Runner]:
    def make(inst: Instance) -> Runner:
        import dualtape as dt

        k = inst.n if kind == "jacfwd" else inst.m
        jac = getattr(dt, kind)(inst.f, chunk=None if chunk == 0 else min(chunk, k))
        x = inst.x
        return lambda: jac(x)

    return make


def _jax_runner(kind: str | None, jit: bool) -> Callable[[Instance], Runner]:
    def make(inst: Instance) -> Runner:
        jax = jax_x64()
        import jax.numpy as jnp

        fn = inst.f if kind is None else getattr(jax, kind)(inst.f)
        if jit:
            fn = jax.jit(fn)
        x = jnp.asarray(inst.x)

        def run():
            return jax.block_until_ready(fn(x))

        return run

    return make


def _register_builtins() -> None:
    add = register_method
    add(Method("primal", "f(x) (NumPy, the unit of cost)", "primal", "dualtape", _primal))
    add(Method("fwd_chunk1", "forward, 1 pass per input", "forward", "dualtape",
               _dualtape_jac("jacfwd", 1), chunk=1))
    add(Method("fwd_chunk8", "forward, 8 tangents per pass", "forward", "dualtape",
               _dualtape_jac("jacfwd", 8), chunk=8))
    add(Method("fwd_vector", "forward, vector mode (all n in 1 pass)", "forward", "dualtape",
               _dualtape_jac("jacfwd", 0), chunk=0))
    add(Method("rev_chunk1", "reverse, 1 backward pass per output", "reverse", "dualtape",
               _dualtape_jac("jacrev", 1), chunk=1))
    add(Method("rev_chunk8", "reverse, 8 cotangents per pass", "reverse", "dualtape",
               _dualtape_jac("jacrev", 8), chunk=8))
    add(Method("rev_vector", "reverse, vector mode (all m in 1 pass)", "reverse", "dualtape",
               _dualtape_jac("jacrev", 0), chunk=0))
    add(Method("jax_primal", "JAX f(x), eager", "primal", "jax", _jax_runner(None, False)))
    add(Method("jax_primal_jit", "JAX f(x), jit", "primal", "jax", _jax_runner(None, True),
               jit=True))
    add(Method("jax_jacfwd", "JAX jacfwd, eager", "forward", "jax",
               _jax_runner("jacfwd", False), chunk=0, unit="jax_primal"))
    add(Method("jax_jacrev", "JAX jacrev, eager", "reverse", "jax",
               _jax_runner("jacrev", False), chunk=0, unit="jax_primal"))
    add(Method("jax_jacfwd_jit", "JAX jacfwd, jit", "forward", "jax",
               _jax_runner("jacfwd", True), chunk=0, unit="jax_primal_jit", jit=True))
    add(Method("jax_jacrev_jit", "JAX jacrev, jit", "reverse", "jax",
               _jax_runner("jacrev", True), chunk=0, unit="jax_primal_jit", jit=True))


_register_builtins()

DUALTAPE_JACOBIAN_METHODS = (
    "fwd_chunk1", "fwd_chunk8", "fwd_vector", "rev_chunk1", "rev_chunk8", "rev_vector",
)
JAX_PEERS = ("jax_primal", "jax_primal_jit", "jax_jacfwd", "jax_jacrev",
             "jax_jacfwd_jit", "jax_jacrev_jit")
ALL_METHODS = ("primal", *DUALTAPE_JACOBIAN_METHODS, *JAX_PEERS)
