"""Training the lesson's MLP, with every engine's gradient checked against the others and JAX.

:func:`train_lesson_mlp` trains ``MLP(3, [4, 4, 1])`` on the lesson's four samples
with plain SGD; at every step the gradient of the scalar engine is compared with the
array MLP's under both dualtape engines and with JAX.  JAX is imported only by the
functions that compare against it.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

import numpy as np

from ..argchecks import is_count
from .losses import mse_loss
from .nn import MLP, ArrayMLP, mlp_loss, scalar_grads

__all__ = ["LESSON_XS", "LESSON_YS", "TrainingHistory", "enable_jax_x64", "jax_mlp_grad",
           "max_abs_diff", "train_lesson_mlp"]

#: The lesson's toy data set: four samples in R^3 and their targets.
LESSON_XS: list[list[float]] = [
    [2.0, 3.0, -1.0],
    [3.0, -1.0, 0.5],
    [0.5, 1.0, 1.0],
    [1.0, 1.0, -1.0],
]
LESSON_YS: list[float] = [1.0, -1.0, -1.0, 1.0]


# ---------------------------------------------------------------- training the lesson's MLP


def enable_jax_x64() -> Any:
    """Import jax with float64 enabled (the comparisons are made in float64); returns jax."""
    from ..measure.jaxconfig import jax_x64

    return jax_x64()


def jax_mlp_grad(activation: str | None = "relu", final_activation: str | None = None) -> Any:
    """``jax.jit(jax.grad(mlp_loss))`` for the same network: the reference gradient.

    The function is :func:`~dualtape.nn.mlp_loss` itself, written with
    ``dualtape.numpy``, run on JAX arrays.
    """
    jax = enable_jax_x64()

    def loss(params: Any, xs: Any, ys: Any) -> Any:
        return mlp_loss(params, xs, ys, activation, final_activation)

    return jax.jit(jax.grad(loss))


def max_abs_diff(a: Sequence[tuple[Any, Any]], b: Sequence[tuple[Any, Any]]) -> float:
    """Largest absolute difference between two ``[(W, b), ...]`` parameter lists."""
    return float(max(np.max(np.abs(np.asarray(x) - np.asarray(y)))
                     for pa, pb in zip(a, b, strict=True) for x, y in zip(pa, pb, strict=True)))


@dataclass
class TrainingHistory:
    """What :func:`train_lesson_mlp` did, step by step.

    ``losses[k]`` is the loss before update ``k``; ``disagreement[name][k]``
    is the largest absolute difference at step ``k`` between the scalar
    engine's gradient and engine ``name``'s (``"array reverse"``,
    ``"array forward"``, ``"jax"``).
    """

    losses: list[float]
    disagreement: dict[str, list[float]] = field(default_factory=dict)
    model: MLP | None = None
    predictions: list[float] = field(default_factory=list)

    @property
    def max_disagreement(self) -> float:
        """The largest gradient disagreement over every step and engine."""
        return max((max(v) for v in self.disagreement.values() if v), default=0.0)


def train_lesson_mlp(steps: int = 100, lr: float = 0.01, seed: int = 2, *,
                     engines: Sequence[str] = ("array reverse", "array forward", "jax"),
                     activation: str = "relu", verbose: bool = False,
                     file: TextIO | None = None) -> TrainingHistory:
    """Train ``MLP(3, [4, 4, 1])`` on the lesson's data by plain SGD, checking every gradient.

    Each step: forward on the four samples with Values, loss =
    ``sum((ŷ - y)^2)``, zero the grads, ``loss.backward()``, then
    ``p.data -= lr * p.grad``.  Before the update, the same gradient is
    computed by each of ``engines`` on the array MLP holding the same weights
    (dualtape reverse mode, dualtape forward mode, ``jax.grad``) and the
    largest difference is recorded.  ``verbose`` prints the loss every 10 steps.
    """
    if not is_count(steps):
        raise ValueError(f"steps: expected an int >= 0, got {steps!r}")
    if isinstance(lr, bool) or not isinstance(lr, (int, float, np.integer, np.floating)):
        raise TypeError(f"lr: expected a real number, got {lr!r}")
    unknown = engines if isinstance(engines, str) else [
        e for e in engines if e not in ("array reverse", "array forward", "jax")]
    if unknown:
        raise ValueError(f"engines: unknown engine(s) {unknown!r}; valid (a list of): "
                         "'array reverse', 'array forward', 'jax'")
    out = file or sys.stdout
    model = MLP(3, [4, 4, 1], activation=activation, seed=seed)
    xs, ys = np.array(LESSON_XS), np.array(LESSON_YS)
    history = TrainingHistory(losses=[], disagreement={e: [] for e in engines}, model=model)
    jgrad = None
    if "jax" in engines:
        jax = enable_jax_x64()
        jgrad = jax_mlp_grad(activation)
    for step in range(steps):
        preds = [model(x) for x in LESSON_XS]
        loss = mse_loss(preds, LESSON_YS, reduction="sum")
        model.zero_grad()
        loss.backward()
        history.losses.append(loss.data)
        if engines:
            mine = scalar_grads(model)
            array = ArrayMLP.from_scalar(model)
            for e in engines:
                if e == "array reverse":
                    other = array.grad(xs, ys, "reverse")
                elif e == "array forward":
                    other = array.grad(xs, ys, "forward")
                elif e == "jax":
                    jp = [(jax.numpy.asarray(W), jax.numpy.asarray(b)) for W, b in array.params]
                    other = [(np.asarray(gW), np.asarray(gb)) for gW, gb in
                             jgrad(jp, jax.numpy.asarray(xs), jax.numpy.asarray(ys))]
                else:
                    raise ValueError(f"engines: unknown engine {e!r}; valid: 'array reverse', "
                                     "'array forward', 'jax'")
                history.disagreement[e].append(max_abs_diff(mine, other))
        if verbose and (step % 10 == 0 or step == steps - 1):
            print(f"step {step:3d} | loss {loss.data:.6f}", file=out)
        for p in model.parameters():
            p.data -= lr * p.grad
    history.predictions = [float(model(x).data) for x in LESSON_XS]
    return history

