"""Workload 1: a chain of scalar operations on Python floats.

``acc = relu(acc * y + x)`` 1,000 times from ``acc = x``, forward and backward, for the
gradient with respect to both ``x`` and ``y``. Per-operation overhead is all there is.
dualtape's ``grad`` is timed in four spellings: ``dnp.relu(v)`` and ``dnp.maximum(v, 0.0)``
(as HIPS autograd users write ReLU; the issue's targets), and ``dnp.where(v > 0.0, v, 0.0)``
and ``dnp.clip(v, 0.0, None)`` (no target: the other ways users write it). Each chain is
written out as a user writes it, the call inline in the loop
(``acc = dnp.maximum(acc * y + x, 0.0)``), not through a helper.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks import peers
from benchmarks.contenders import Case, Contender, Target

STEPS = 1_000
TITLE = "Scalar chain: 1,000 x relu(acc*y + x), forward + backward"


def _inputs() -> tuple[float, float]:
    rng = np.random.default_rng(1)
    return float(rng.uniform(0.2, 1.0)), float(rng.uniform(0.5, 0.9))


def _python_chain(x: float, y: float) -> float:
    acc = x
    for _ in range(STEPS):
        v = acc * y + x
        acc = v if v > 0.0 else 0.0
    return acc


def _python_forward() -> Callable[[], Any]:
    """The floor: the same chain on plain floats, no derivative."""
    x, y = _inputs()
    return lambda: _python_chain(x, y)


def _chains(np_like: Any) -> dict[str, Callable[[Any, Any], Any]]:
    """The chain in each spelling, on ``np_like``'s ``relu``, ``maximum``, ``where`` and ``clip``."""

    def relu_chain(x: Any, y: Any) -> Any:
        acc = x
        for _ in range(STEPS):
            acc = np_like.relu(acc * y + x)
        return acc

    def maximum_chain(x: Any, y: Any) -> Any:
        acc = x
        for _ in range(STEPS):
            acc = np_like.maximum(acc * y + x, 0.0)
        return acc

    def where_chain(x: Any, y: Any) -> Any:
        acc = x
        for _ in range(STEPS):
            v = acc * y + x
            acc = np_like.where(v > 0.0, v, 0.0)
        return acc

    def clip_chain(x: Any, y: Any) -> Any:
        acc = x
        for _ in range(STEPS):
            acc = np_like.clip(acc * y + x, 0.0, None)
        return acc

    return {"relu": relu_chain, "maximum": maximum_chain, "where": where_chain,
            "clip": clip_chain}


def _dualtape_grad(spelling: str) -> Callable[[], Callable[[], Any]]:
    def build() -> Callable[[], Any]:
        dt, dnp = peers.dualtape("grad")
        x, y = _inputs()
        grad = dt.grad(_chains(dnp)[spelling], argnums=(0, 1))
        return lambda: grad(x, y)

    return build


def _value_chain(value_class: Any) -> Callable[[], tuple[float, float]]:
    x0, y0 = _inputs()

    def run() -> tuple[float, float]:
        x, y = value_class(x0), value_class(y0)
        acc = x
        for _ in range(STEPS):
            acc = (acc * y + x).relu()
        acc.backward()
        return x.grad, y.grad

    return run


def _dualtape_value() -> Callable[[], Any]:
    dt, _ = peers.dualtape("Value")
    return _value_chain(dt.Value)


def _micrograd() -> Callable[[], Any]:
    return _value_chain(peers.micrograd_value())


def _torch() -> Callable[[], Any]:
    torch = peers.torch()
    x0, y0 = _inputs()
    x = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
    y = torch.tensor(y0, dtype=torch.float64, requires_grad=True)
    chain = _chains(torch)["relu"]
    return lambda: torch.autograd.grad(chain(x, y), (x, y))


def _autograd() -> Callable[[], Any]:
    ag, anp = peers.autograd()
    x, y = _inputs()
    grad = ag.grad(_chains(anp)["maximum"], argnum=(0, 1))  # autograd.numpy has no relu
    return lambda: grad(x, y)


def cases() -> list[Case]:
    """The single case of workload 1."""
    contenders = [
        Contender("dualtape grad", "dualtape", "grad", _dualtape_grad("relu")),
        Contender("dualtape grad maximum", "dualtape", "grad", _dualtape_grad("maximum")),
        Contender("dualtape grad where", "dualtape", "grad", _dualtape_grad("where")),
        Contender("dualtape grad clip", "dualtape", "grad", _dualtape_grad("clip")),
        Contender("dualtape Value", "dualtape", "grad", _dualtape_value),
        Contender("micrograd", "micrograd", "grad", _micrograd),
        Contender("python forward", "python", "forward", _python_forward),
        Contender("torch eager", "torch", "grad", _torch),
        Contender("autograd", "autograd", "grad", _autograd, reference=True),
    ]
    targets = [
        Target("dualtape grad", "micrograd", 0.5),
        Target("dualtape grad maximum", "micrograd", 0.5),
        Target("dualtape Value", "micrograd", 0.75),
    ]
    return [Case(1, "1", TITLE, contenders, targets)]
