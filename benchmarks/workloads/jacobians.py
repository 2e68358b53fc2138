"""Workload 4: full Jacobians of ``tanh(A tanh(B x))``, hidden width 64.

``x`` has ``n`` entries and the output ``m``: ``B`` is ``(64, n)`` and ``A`` is ``(m, 64)``.
Four shapes ``(n, m)``: wide input, wide output, square and large square. dualtape's
``jacfwd`` and ``jacrev`` run in vector mode (one batched pass); the peers are JAX's
``jacfwd``/``jacrev``, eager and jitted, and autograd's ``jacobian`` (reverse mode, one
VJP per output row). The Jacobian written out by hand in NumPy is the floor both modes
are measured against.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks import peers
from benchmarks.contenders import Case, Contender, Target

HIDDEN = 64
SHAPES = ((4, 256), (256, 4), (64, 64), (512, 512))
#: Shapes at which the targets compare with JAX jit; JAX eager is compared everywhere.
JIT_TARGET_SHAPES = ((512, 512), (64, 64))
TITLE = "Jacobian of tanh(A tanh(B x)), hidden 64"


def _inputs(n: int, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(A, B, x)``, seeded by the shape."""
    rng = np.random.default_rng([4, n, m])
    a = rng.standard_normal((m, HIDDEN)) / np.sqrt(HIDDEN)
    b = rng.standard_normal((HIDDEN, n)) / np.sqrt(n)
    return a, b, rng.standard_normal(n)


def make_function(xp: Any, a: Any, b: Any) -> Callable[[Any], Any]:
    """``x -> tanh(A tanh(B x))`` written with namespace ``xp``."""

    def f(x: Any) -> Any:
        return xp.tanh(xp.matmul(a, xp.tanh(xp.matmul(b, x))))

    return f


def _numpy_forward(n: int, m: int) -> Callable[[], Callable[[], Any]]:
    def build() -> Callable[[], Any]:
        a, b, x = _inputs(n, m)
        f = make_function(np, a, b)
        return lambda: f(x)

    return build


def _numpy_by_hand(n: int, m: int) -> Callable[[], Callable[[], Any]]:
    """The Jacobian written out in NumPy, ``diag(1 - y^2) A diag(1 - h^2) B``: no AD at all."""

    def build() -> Callable[[], Any]:
        a, b, x = _inputs(n, m)

        def jacobian() -> np.ndarray:
            h = np.tanh(b @ x)
            y = np.tanh(a @ h)
            inner = a * (1.0 - h * h)
            out = inner @ b
            out *= (1.0 - y * y)[:, None]
            return out

        return jacobian

    return build


def _dualtape(mode: str, n: int, m: int) -> Callable[[], Callable[[], Any]]:
    def build() -> Callable[[], Any]:
        dt, dnp = peers.dualtape(mode)
        a, b, x = _inputs(n, m)
        jac = getattr(dt, mode)(make_function(dnp, a, b))
        return lambda: jac(x)

    return build


def _jax(mode: str, jit: bool, n: int, m: int) -> Callable[[], Callable[[], Any]]:
    def build() -> Callable[[], Any]:
        jax, jnp = peers.jax()
        a, b, x = (jnp.asarray(v) for v in _inputs(n, m))
        jac = getattr(jax, mode)(make_function(jnp, a, b))
        jac = jax.jit(jac) if jit else jac
        return lambda: jax.block_until_ready(jac(x))

    return build


def _autograd(n: int, m: int) -> Callable[[], Callable[[], Any]]:
    def build() -> Callable[[], Any]:
        ag, anp = peers.autograd()
        a, b, x = _inputs(n, m)
        jac = ag.jacobian(make_function(anp, a, b))
        return lambda: jac(x)

    return build


def _case(n: int, m: int) -> Case:
    contenders = [
        Contender("dualtape jacfwd", "dualtape", "jacfwd", _dualtape("jacfwd", n, m)),
        Contender("dualtape jacrev", "dualtape", "jacrev", _dualtape("jacrev", n, m)),
        Contender("numpy forward", "numpy", "forward", _numpy_forward(n, m)),
        Contender("numpy by hand jacobian", "numpy", "jacfwd", _numpy_by_hand(n, m),
                  also_for=("jacrev",)),
        Contender("jax eager jacfwd", "jax", "jacfwd", _jax("jacfwd", False, n, m)),
        Contender("jax jit jacfwd", "jax", "jacfwd", _jax("jacfwd", True, n, m), reference=True),
        Contender("jax eager jacrev", "jax", "jacrev", _jax("jacrev", False, n, m)),
        Contender("jax jit jacrev", "jax", "jacrev", _jax("jacrev", True, n, m), reference=True),
        # autograd has one Jacobian (reverse mode): it is a peer of both dualtape modes.
        Contender("autograd jacobian", "autograd", "jacrev", _autograd(n, m), also_for=("jacfwd",)),
    ]
    targets = []
    for mode in ("jacfwd", "jacrev"):
        if (n, m) in JIT_TARGET_SHAPES:
            targets.append(Target(f"dualtape {mode}", f"jax jit {mode}", 1.5))  # round two (was 2x)
        targets.append(Target(f"dualtape {mode}", f"jax eager {mode}", 1.0, strict=True))
    return Case(4, f"4:{n}x{m}", f"{TITLE}, (n, m) = ({n}, {m})", contenders, targets)


def cases() -> list[Case]:
    """One case per shape."""
    return [_case(n, m) for n, m in SHAPES]
