"""The nested-AD evals ``particle`` and ``saddle``: gradient descent over functions that
themselves take derivatives.

Both evals come in four variants named by two letters, ``f`` (forward mode) or ``r``
(reverse mode): the first for the outer optimisation, the second for the derivative inside
the objective. The outer derivative differentiates through the inner one, so every variant
is nested AD. The objectives take the AD operation as a parameter (``partials``, with
:func:`partials` the dualtape one), so the benchmark suite runs the same bodies with the
peers' ``grad`` and ``jvp``. The solver is GradBench's shared gradient descent (step ``eta`` starting at
1e-5, doubled after 10 accepted steps, halved after a rejected one; stop when the gradient
or the step is shorter than 1e-5), written here for scalars.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from .. import api
from .. import numpy as dnp

VARIANTS = ("ff", "fr", "rf", "rr")
TOLERANCE = 1e-5
FIRST_STEP = 1e-5
GROW_AFTER = 10

Scalars = tuple[Any, ...]


def check_variant(variant: str) -> None:
    """Raise a ``ValueError`` naming the variant unless it is one of :data:`VARIANTS`."""
    if variant not in VARIANTS:
        raise ValueError(f"variant: expected one of {', '.join(VARIANTS)}, got {variant!r}")


def partials(fn: Callable[..., Any], args: Sequence[Any], wrt: int, mode: str) -> Scalars:
    """The partial derivatives of scalar ``fn(*args)`` in its first ``wrt`` arguments.

    ``mode="r"``: one reverse pass. ``mode="f"``: one forward pass per argument.
    """
    if mode == "r":
        return tuple(api.grad(fn, argnums=tuple(range(wrt)))(*args))
    out = []
    for i in range(wrt):
        tangents = [1.0 if j == i else 0.0 for j in range(wrt)]
        out.append(api.jvp(lambda *xs: fn(*xs, *args[wrt:]), tuple(args[:wrt]), tangents)[1])
    return tuple(out)


Partials = Callable[[Callable[..., Any], Sequence[Any], int, str], Scalars]


def plain(a: Any) -> float:
    """The float under a dualtape-traced scalar: the solver's decisions are not differentiated."""
    return float(dnp.concrete(a))


def _norm(v: Scalars, value: Callable[[Any], float]) -> float:
    return math.sqrt(sum(value(a) ** 2 for a in v))


def argmin(objective: Callable[[Scalars], Any], gradient: Callable[[Scalars], Scalars],
           start: Scalars, value: Callable[[Any], float] = plain) -> Scalars:
    """GradBench's gradient descent from ``start``; the point may carry outer tracers.

    ``value`` reads the float under a traced scalar (for the stopping and step decisions).
    """
    x, fx, gx = start, objective(start), gradient(start)
    accepted, eta = 0, FIRST_STEP
    while True:
        if _norm(gx, value) <= TOLERANCE:
            return x
        if accepted == GROW_AFTER:
            eta, accepted = eta * 2.0, 0
            continue
        x_new = tuple(a - eta * g for a, g in zip(x, gx, strict=True))
        if _norm(tuple(a - b for a, b in zip(x, x_new, strict=True)), value) <= TOLERANCE:
            return x
        f_new = objective(x_new)
        if value(f_new) < value(fx):
            x, fx, gx = x_new, f_new, gradient(x_new)
            accepted += 1
        else:
            eta, accepted = eta / 2.0, 0


def argmax(objective: Callable[[Scalars], Any], gradient: Callable[[Scalars], Scalars],
           start: Scalars, value: Callable[[Any], float] = plain) -> Scalars:
    """:func:`argmin` of the negated objective."""
    return argmin(lambda x: -objective(x), lambda x: tuple(-g for g in gradient(x)), start,
                  value)


# ---------------------------------------------------------------- particle

STEP = 0.1
MAX_STEPS = 20_000  # Euler steps before particle_miss gives up
START = (0.0, 8.0)
VELOCITY = (0.75, 0.0)


def potential(x1: Any, x2: Any, w: Any) -> Any:
    """Electric potential at ``(x1, x2)`` of unit charges at ``(10, 10 - w)`` and ``(10, 0)``."""
    d1 = ((x1 - 10.0) ** 2 + (x2 - (10.0 - w)) ** 2) ** 0.5
    d2 = ((x1 - 10.0) ** 2 + x2 ** 2) ** 0.5
    return 1.0 / d1 + 1.0 / d2


def particle_miss(w: Any, inner: str, partials: Partials = partials) -> Any:
    """``x1(t_f)^2``: Euler steps until the particle crosses the x axis, then interpolation.

    The force is minus the gradient of :func:`potential`, taken in mode ``inner``.
    """
    (x1, x2), (v1, v2) = START, VELOCITY
    for _ in range(MAX_STEPS):
        g1, g2 = partials(potential, (x1, x2, w), 2, inner)
        n1, n2 = x1 + STEP * v1, x2 + STEP * v2
        if n2 < 0.0:  # a comparison of traced values gives a plain bool
            break
        x1, x2, v1, v2 = n1, n2, v1 - STEP * g1, v2 - STEP * g2
    else:  # (a NaN w never crosses; w = 0 crosses after 353 steps)
        raise ValueError(f"w: the particle did not cross the x axis in {MAX_STEPS:,} Euler "
                         f"steps (w = {dnp.concrete(w)!r})")
    x1_final = x1 + (-x2 / v2) * v1
    return x1_final * x1_final


def particle(w0: float, variant: str) -> float:
    """The control ``w`` found by gradient descent on :func:`particle_miss` from ``w0``."""
    check_variant(variant)
    outer, inner = variant
    objective = lambda w: particle_miss(w[0], inner)  # noqa: E731
    gradient = lambda w: partials(lambda v: particle_miss(v, inner), w, 1, outer)  # noqa: E731
    return float(argmin(objective, gradient, (float(w0),))[0])


# ---------------------------------------------------------------- saddle


def saddle_f(x1: Any, x2: Any, y1: Any, y2: Any) -> Any:
    """``(x1^2 + x2^2) - (y1^2 + y2^2)``: minimised over x, maximised over y."""
    return (x1 * x1 + x2 * x2) - (y1 * y1 + y2 * y2)


def inner_max(x: Scalars, start: Scalars, mode: str, partials: Partials = partials,
              value: Callable[[Any], float] = plain) -> Any:
    """``max_y f(x, y)`` by gradient ascent from ``start``, derivatives in ``mode``."""
    y = argmax(lambda y: saddle_f(*x, *y),
               lambda y: partials(lambda y1, y2: saddle_f(*x, y1, y2), y, 2, mode), start, value)
    return saddle_f(*x, *y)


def saddle(start: Sequence[float], variant: str) -> list[float]:
    """``[x1, x2, y1, y2]``: x minimises ``max_y f(x, y)`` (nested), then y maximises ``f(x, y)``."""
    check_variant(variant)
    outer, inner = variant
    s = (float(start[0]), float(start[1]))
    x = argmin(lambda x: inner_max(x, s, inner),
               lambda x: partials(lambda a, b: inner_max((a, b), s, inner), x, 2, outer), s)
    y = argmax(lambda y: saddle_f(*x, *y),
               lambda y: partials(lambda y1, y2: saddle_f(*x, y1, y2), y, 2, outer), s)
    return [float(v) for v in (*x, *y)]
