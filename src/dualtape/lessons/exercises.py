"""The lesson's graph exercise (drawn as a Value graph and as a tape) and the
cross-entropy table (textbook against stable, for |z| up to 1000)."""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from .. import numpy as dnp
from .explain import _fmt
from .graph import TapeTrace, draw, trace
from .losses import binary_cross_entropy, binary_cross_entropy_with_logits
from .nn import MLP, scalar_params
from .value import Value

__all__ = ["cross_entropy_table", "draw_exercise_graph", "draw_exercise_tape", "exercise_loss",
           "exercise_network", "exercise_tape", "print_cross_entropy_table"]


# ---------------------------------------------------------------- the graph exercise


def exercise_network(x: Sequence[float] = (1.0, -2.0), y: float = 1.0,
                     seed: int = 0) -> tuple[Value, MLP]:
    """The lesson's graph exercise on Values, every node labelled; ``backward`` already run.

    ``h1 = ReLU(W1 x + b1)`` (W1: 3x2), ``h2 = ReLU(W2 h1 + b2)`` (W2: 2x3),
    ``ŷ = W3 h2 + b3`` (W3: 1x2), ``L = (ŷ - y)^2``: 3x2 + 3 + 2x3 + 2 + 1x2 + 1
    = 20 parameters.  Node names: ``W1[j,i]``, ``b1[j]``, ``x[i]``,
    ``W1x[j,i]`` (a product), ``s1[j,i]`` (a partial sum), ``z1[j]``
    (pre-activation), ``h1[j]``, ``ŷ``, ``ŷ-y``, ``L``.  Returns ``(L, model)``.
    """
    if len(x) != 2:
        raise ValueError(f"x: the exercise's input is in R^2, got {len(x)} values")
    model = MLP(2, [3, 2, 1], activation="relu", seed=seed)
    for li, layer in enumerate(model.layers, start=1):
        for j, n in enumerate(layer.neurons):
            for i, w in enumerate(n.w):
                w.label = f"W{li}[{j},{i}]"
            n.b.label = f"b{li}[{j}]"
    h: list[Value] = [Value(float(v), label=f"x[{i}]") for i, v in enumerate(x)]
    for li, layer in enumerate(model.layers, start=1):
        nxt = []
        last = li == len(model.layers)
        for j, n in enumerate(layer.neurons):
            acc = n.b
            for i, (w, hi) in enumerate(zip(n.w, h, strict=True)):
                prod = w * hi
                prod.label = f"W{li}h[{j},{i}]" if li > 1 else f"W1x[{j},{i}]"
                acc = acc + prod
                acc.label = f"s{li}[{j},{i}]"
            acc.label = "ŷ" if last else f"z{li}[{j}]"
            if not last:
                acc = acc.relu()
                acc.label = f"h{li}[{j}]"
            nxt.append(acc)
        h = nxt
    diff = h[0] - y
    diff.label = "ŷ-y"
    loss = diff ** 2
    loss.label = "L"
    model.zero_grad()
    loss.backward()
    return loss, model


def draw_exercise_graph(path: str | Path = "exercise_graph.png", *, x: Sequence[float] = (1.0, -2.0),
                        y: float = 1.0, seed: int = 0, missing: str = "raise") -> Path:
    """Draw the exercise network's Value graph (op, value, gradient on every node): one call."""
    loss, model = exercise_network(x, y, seed)
    title = f"3-layer ReLU MLP, MSE loss: {model.num_parameters()} parameters"
    return draw(loss, path, missing=missing, title=title, rankdir="LR")


def exercise_loss(W1: Any, b1: Any, W2: Any, b2: Any, W3: Any, b3: Any, x: Any, y: Any) -> Any:
    """The exercise network on arrays: ``(W3 relu(W2 relu(W1 x + b1) + b2) + b3 - y)^2``."""
    h1 = dnp.relu(dnp.add(dnp.matmul(W1, x), b1))
    h2 = dnp.relu(dnp.add(dnp.matmul(W2, h1), b2))
    yhat = dnp.add(dnp.matmul(W3, h2), b3)
    d = dnp.subtract(yhat, y)
    return dnp.sum(dnp.multiply(d, d))


def exercise_tape(x: Sequence[float] = (1.0, -2.0), y: float = 1.0, seed: int = 0) -> TapeTrace:
    """The exercise network on arrays, recorded on a tape with values and cotangents.

    Same weights as :func:`exercise_network` (same seed); the tape's inputs
    are ``W1, b1, W2, b2, W3, b3``.
    """
    params = scalar_params(MLP(2, [3, 2, 1], activation="relu", seed=seed))
    flat = [a for wb in params for a in wb]
    xa, ya = np.asarray(x, dtype=float), np.asarray([y], dtype=float)
    return trace(lambda *p: exercise_loss(*p, xa, ya), *flat,
                 names=["W1", "b1", "W2", "b2", "W3", "b3"])


def draw_exercise_tape(path: str | Path = "exercise_tape.png", *, x: Sequence[float] = (1.0, -2.0),
                       y: float = 1.0, seed: int = 0, missing: str = "raise") -> Path:
    """Draw the exercise network's reverse-mode tape (primitive, value, cotangent per entry)."""
    return draw(exercise_tape(x, y, seed), path, missing=missing,
                title="the exercise network on arrays: its reverse-mode tape", rankdir="TB")


# ---------------------------------------------------------------- cross-entropy


def cross_entropy_table(zs: Sequence[float] = (-1000.0, -50.0, -40.0, -5.0, 0.0, 5.0, 40.0, 50.0,
                                               1000.0),
                        ys: Sequence[float] = (0.0, 1.0)) -> list[dict[str, float]]:
    """Textbook vs stable binary cross-entropy, and the gradient, for each ``(z, y)``.

    Columns: ``naive`` = ``-[y log σ(z) + (1-y) log(1-σ(z))]`` on Values
    (``inf`` or ``nan`` once σ(z) rounds to 0 or 1), ``naive_grad`` its
    gradient, ``stable`` = ``z.cross_entropy(y)``, ``grad`` its gradient from
    ``backward``, and ``sigmoid_minus_y`` = σ(z) - y, the textbook gradient.
    """
    rows = []
    with np.errstate(all="ignore"):
        for y in ys:
            for z in zs:
                zn = Value(z)
                naive = binary_cross_entropy(zn.sigmoid(), y)
                naive.backward()
                zv = Value(z)
                stable = zv.cross_entropy(y)
                stable.backward()
                arr = float(binary_cross_entropy_with_logits(np.array([z]), np.array([y])))
                rows.append({"z": z, "y": y, "naive": naive.data, "naive_grad": zn.grad,
                             "stable": stable.data, "array": arr, "grad": zv.grad,
                             "sigmoid_minus_y": Value(z).sigmoid().data - y})
    return rows


def print_cross_entropy_table(rows: list[dict[str, float]] | None = None,
                              file: TextIO | None = None) -> None:
    """Print :func:`cross_entropy_table` as a Markdown table."""
    out = file or sys.stdout
    rows = cross_entropy_table() if rows is None else rows
    print("| y | z | textbook L | its dL/dz | stable L | stable dL/dz | σ(z) - y |", file=out)
    print("|---|---|---|---|---|---|---|", file=out)
    for r in rows:
        cells = [r["naive"], r["naive_grad"], r["stable"], r["grad"], r["sigmoid_minus_y"]]
        text = " | ".join("nan" if math.isnan(c) else _fmt(c) for c in cells)
        print(f"| {_fmt(r['y'])} | {_fmt(r['z'])} | {text} |", file=out)

