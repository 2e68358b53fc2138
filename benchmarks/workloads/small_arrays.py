"""Workload 2: many operations on a small array.

``for _ in range(100): x = sin(x) * 0.5 + x * x * 0.1``, then ``sum(x)``, on a length-10
float64 vector: the gradient, and a JVP in a fixed random direction. Each tool runs the
same function written against its own NumPy-like namespace.

A second case (key ``where``) spells a branch with ``where`` and a Python float, as users
write a rectifier: ``x = sin(x)*0.5 + where(x > 0, x*x, 0.0)*0.1``; every tool writes it
with its own ``where``, and the gradients are checked against JAX's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks import peers
from benchmarks.contenders import Case, Contender, Target

SIZE = 10
STEPS = 100
TITLE = "Small arrays: 100 x (sin(x)*0.5 + x*x*0.1) on length 10, then sum"
WHERE_TITLE = "Small arrays, where spelling: 100 x (sin(x)*0.5 + where(x > 0, x*x, 0.0)*0.1)"


def _inputs() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(2)
    return rng.standard_normal(SIZE), rng.standard_normal(SIZE)


def make_function(xp: Any) -> Callable[[Any], Any]:
    """The workload's function, written with namespace ``xp`` (numpy, jax.numpy, ...)."""

    def f(x: Any) -> Any:
        for _ in range(STEPS):
            x = xp.sin(x) * 0.5 + x * x * 0.1
        return xp.sum(x)

    return f


def make_where_function(xp: Any) -> Callable[[Any], Any]:
    """The ``where`` spelling: the square term only where ``x`` is positive."""

    def f(x: Any) -> Any:
        for _ in range(STEPS):
            x = xp.sin(x) * 0.5 + xp.where(x > 0.0, x * x, 0.0) * 0.1
        return xp.sum(x)

    return f


Maker = Callable[[Any], Callable[[Any], Any]]


def _numpy_forward(make: Maker = make_function) -> Callable[[], Callable[[], Any]]:
    def build() -> Callable[[], Any]:
        f = make(np)
        x, _ = _inputs()
        return lambda: f(x)

    return build


def _dualtape_grad(make: Maker = make_function) -> Callable[[], Callable[[], Any]]:
    def build() -> Callable[[], Any]:
        dt, dnp = peers.dualtape("grad")
        grad = dt.grad(make(dnp))
        x, _ = _inputs()
        return lambda: grad(x)

    return build


def _dualtape_jvp() -> Callable[[], Any]:
    dt, dnp = peers.dualtape("jvp")
    f = make_function(dnp)
    x, v = _inputs()
    return lambda: dt.jvp(f, (x,), (v,))


def _autograd_grad(make: Maker = make_function) -> Callable[[], Callable[[], Any]]:
    def build() -> Callable[[], Any]:
        ag, anp = peers.autograd()
        grad = ag.grad(make(anp))
        x, _ = _inputs()
        return lambda: grad(x)

    return build


def _autograd_jvp() -> Callable[[], Any]:
    ag, anp = peers.autograd()
    jvp_at = ag.make_jvp(make_function(anp))
    x, v = _inputs()
    return lambda: jvp_at(x)(v)


def _torch_grad(make: Maker = make_function) -> Callable[[], Callable[[], Any]]:
    def build() -> Callable[[], Any]:
        torch = peers.torch()
        f = make(torch)
        x0, _ = _inputs()
        x = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
        return lambda: torch.autograd.grad(f(x), x)[0]

    return build


def _torch_jvp() -> Callable[[], Any]:
    torch = peers.torch()
    f = make_function(torch)
    x0, v0 = _inputs()
    x, v = torch.tensor(x0, dtype=torch.float64), torch.tensor(v0, dtype=torch.float64)
    return lambda: torch.func.jvp(f, (x,), (v,))


def _jax(task: str, jit: bool, make: Maker = make_function) -> Callable[[], Callable[[], Any]]:
    def build() -> Callable[[], Any]:
        jax, jnp = peers.jax()
        f = make(jnp)
        x0, v0 = _inputs()
        x, v = jnp.asarray(x0), jnp.asarray(v0)
        if task == "grad":
            fn = jax.grad(f)
            fn = jax.jit(fn) if jit else fn
            return lambda: jax.block_until_ready(fn(x))
        jvp = lambda x, v: jax.jvp(f, (x,), (v,))
        jvp = jax.jit(jvp) if jit else jvp
        return lambda: jax.block_until_ready(jvp(x, v))

    return build


def cases() -> list[Case]:
    """The single case of workload 2."""
    contenders = [
        Contender("dualtape grad", "dualtape", "grad", _dualtape_grad()),
        Contender("dualtape jvp", "dualtape", "jvp", _dualtape_jvp),
        Contender("numpy forward", "numpy", "forward", _numpy_forward()),
        Contender("autograd grad", "autograd", "grad", _autograd_grad()),
        Contender("autograd jvp", "autograd", "jvp", _autograd_jvp),
        Contender("torch eager grad", "torch", "grad", _torch_grad()),
        Contender("torch eager jvp", "torch", "jvp", _torch_jvp),
        Contender("jax eager grad", "jax", "grad", _jax("grad", jit=False)),
        Contender("jax jit grad", "jax", "grad", _jax("grad", jit=True), reference=True),
        Contender("jax eager jvp", "jax", "jvp", _jax("jvp", jit=False)),
        Contender("jax jit jvp", "jax", "jvp", _jax("jvp", jit=True), reference=True),
    ]
    targets = [
        Target("dualtape grad", "torch eager grad", 1.0),
        Target("dualtape grad", "autograd grad", 0.4),
        Target("dualtape jvp", "autograd jvp", 0.4),
    ]
    make = make_where_function
    where = [
        Contender("dualtape grad", "dualtape", "grad", _dualtape_grad(make)),
        Contender("numpy forward", "numpy", "forward", _numpy_forward(make)),
        Contender("autograd grad", "autograd", "grad", _autograd_grad(make)),
        Contender("torch eager grad", "torch", "grad", _torch_grad(make)),
        Contender("jax eager grad", "jax", "grad", _jax("grad", jit=False, make=make)),
        Contender("jax jit grad", "jax", "grad", _jax("grad", jit=True, make=make),
                  reference=True),
    ]
    where_targets = [Target("dualtape grad", "torch eager grad", 0.75)]
    return [Case(2, "2", TITLE, contenders, targets),
            Case(2, "2:where", WHERE_TITLE, where, where_targets)]
