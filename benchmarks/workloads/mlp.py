"""Workload 3: the loss of a small MLP, its gradient over the weights, and a JVP.

Batch 256, layers 100-256-256-1 without biases, tanh on the hidden layers, mean squared
error, float64. ``value_and_grad`` over the three weight matrices, and the JVP of the loss
in a fixed random direction over the same three matrices. The floor is the plain NumPy
forward: reverse mode should cost about 3 of them, a JVP about 2. The same derivatives
written out by hand in NumPy are timed too: the floor that NumPy's kernels set on this
machine, next to the issue's targets.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks import peers
from benchmarks.contenders import Case, Contender, Target

BATCH = 256
LAYERS = (100, 256, 256, 1)
TITLE = "MLP loss: batch 256, 100-256-256-1, tanh, MSE"

Arrays = tuple[np.ndarray, ...]


def _inputs() -> tuple[np.ndarray, np.ndarray, Arrays, Arrays]:
    """``(X, Y, weights, direction)``, seeded."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((BATCH, LAYERS[0]))
    y = rng.standard_normal((BATCH, LAYERS[-1]))
    shapes = list(zip(LAYERS[:-1], LAYERS[1:], strict=True))
    weights = tuple(rng.standard_normal(s) / np.sqrt(s[0]) for s in shapes)
    direction = tuple(rng.standard_normal(s) for s in shapes)
    return x, y, weights, direction


def make_loss(xp: Any, x: Any, y: Any) -> Callable[[Any, Any, Any], Any]:
    """The MLP loss written with namespace ``xp``, closing over the batch ``(x, y)``."""

    def loss(w1: Any, w2: Any, w3: Any) -> Any:
        h = xp.tanh(xp.matmul(x, w1))
        h = xp.tanh(xp.matmul(h, w2))
        r = xp.matmul(h, w3) - y
        return xp.mean(r * r)

    return loss


def _numpy_forward() -> Callable[[], Any]:
    x, y, w, _ = _inputs()
    loss = make_loss(np, x, y)
    return lambda: loss(*w)


def _numpy_by_hand(task: str) -> Callable[[], Callable[[], Any]]:
    """The derivative written out in NumPy: what a careful hand-coder gets, no AD at all."""

    def build() -> Callable[[], Any]:
        x, y, (w1, w2, w3), (v1, v2, v3) = _inputs()
        scale = 2.0 / y.size

        def forward(w1: np.ndarray, w2: np.ndarray, w3: np.ndarray) -> tuple[np.ndarray, ...]:
            h1 = np.tanh(x @ w1)
            h2 = np.tanh(h1 @ w2)
            return h1, h2, h2 @ w3 - y

        def value_and_grad() -> Any:
            h1, h2, r = forward(w1, w2, w3)
            g = r * scale
            g3 = h2.T @ g
            d2 = (g @ w3.T) * (1.0 - h2 * h2)
            g2 = h1.T @ d2
            d1 = (d2 @ w2.T) * (1.0 - h1 * h1)
            return np.mean(r * r), (x.T @ d1, g2, g3)

        def jvp() -> Any:
            h1, h2, r = forward(w1, w2, w3)
            t1 = (x @ v1) * (1.0 - h1 * h1)
            t2 = t1 @ w2
            t2 += h1 @ v2
            t2 *= 1.0 - h2 * h2
            tr = t2 @ w3 + h2 @ v3
            return np.mean(r * r), scale * np.sum(r * tr)

        return value_and_grad if task == "grad" else jvp

    return build


def _dualtape(task: str) -> Callable[[], Callable[[], Any]]:
    def build() -> Callable[[], Any]:
        dt, dnp = peers.dualtape("value_and_grad" if task == "grad" else "jvp")
        x, y, w, v = _inputs()
        loss = make_loss(dnp, x, y)
        if task == "grad":
            vg = dt.value_and_grad(loss, argnums=(0, 1, 2))
            return lambda: vg(*w)
        return lambda: dt.jvp(loss, w, v)

    return build


def _autograd(task: str) -> Callable[[], Callable[[], Any]]:
    def build() -> Callable[[], Any]:
        ag, anp = peers.autograd()
        x, y, w, v = _inputs()
        loss = make_loss(anp, x, y)
        if task == "grad":
            vg = ag.value_and_grad(loss, argnum=(0, 1, 2))
            return lambda: vg(*w)
        jvp_at = ag.make_jvp(loss, argnum=(0, 1, 2))
        return lambda: jvp_at(*w)(v)

    return build


def _torch(task: str) -> Callable[[], Callable[[], Any]]:
    def build() -> Callable[[], Any]:
        torch = peers.torch()
        x, y, w, v = _inputs()
        x, y = torch.from_numpy(x), torch.from_numpy(y)
        w = tuple(map(torch.from_numpy, w))
        v = tuple(map(torch.from_numpy, v))
        loss = make_loss(torch, x, y)
        if task == "jvp":
            return lambda: torch.func.jvp(loss, w, v)
        leaves = tuple(a.clone().requires_grad_(True) for a in w)

        def value_and_grad() -> Any:
            value = loss(*leaves)
            return value.detach(), torch.autograd.grad(value, leaves)

        return value_and_grad

    return build


def _jax(task: str, jit: bool) -> Callable[[], Callable[[], Any]]:
    def build() -> Callable[[], Any]:
        jax, jnp = peers.jax()
        x, y, w, v = _inputs()
        loss = make_loss(jnp, jnp.asarray(x), jnp.asarray(y))
        w = tuple(map(jnp.asarray, w))
        v = tuple(map(jnp.asarray, v))
        if task == "grad":
            fn = jax.value_and_grad(loss, argnums=(0, 1, 2))
            fn = jax.jit(fn) if jit else fn
            return lambda: jax.block_until_ready(fn(*w))
        jvp = lambda w, v: jax.jvp(loss, w, v)
        jvp = jax.jit(jvp) if jit else jvp
        return lambda: jax.block_until_ready(jvp(w, v))

    return build


def cases() -> list[Case]:
    """The single case of workload 3."""
    contenders = [
        Contender("dualtape value_and_grad", "dualtape", "grad", _dualtape("grad")),
        Contender("dualtape jvp", "dualtape", "jvp", _dualtape("jvp")),
        Contender("numpy forward", "numpy", "forward", _numpy_forward),
        Contender("numpy by hand value_and_grad", "numpy", "grad", _numpy_by_hand("grad")),
        Contender("numpy by hand jvp", "numpy", "jvp", _numpy_by_hand("jvp")),
        Contender("autograd value_and_grad", "autograd", "grad", _autograd("grad")),
        Contender("autograd jvp", "autograd", "jvp", _autograd("jvp")),
        Contender("torch eager value_and_grad", "torch", "grad", _torch("grad")),
        Contender("torch eager jvp", "torch", "jvp", _torch("jvp")),
        Contender("jax eager value_and_grad", "jax", "grad", _jax("grad", jit=False)),
        Contender("jax jit value_and_grad", "jax", "grad", _jax("grad", jit=True), reference=True),
        Contender("jax eager jvp", "jax", "jvp", _jax("jvp", jit=False)),
        Contender("jax jit jvp", "jax", "jvp", _jax("jvp", jit=True), reference=True),
    ]
    targets = [
        # round two's targets (issue 16); round one's were 3.5x and 2.5x
        Target("dualtape value_and_grad", "numpy forward", 2.5),
        Target("dualtape jvp", "numpy forward", 2.3),
    ]
    return [Case(3, "3", TITLE, contenders, targets, rtol=1e-6, atol=1e-10)]
