"""Problem families f: R^n -> R^m, parameterised by n, m and depth.

A problem is a *builder*: given the requested sizes and a seeded random
generator it returns the function and the point to differentiate at.  The
function must be written with ``dualtape.numpy`` ops (or operators with the
traced value on the left), so that the very same function runs under
dualtape's transformations and under JAX's.

Register your own in a few lines::

    import dualtape.numpy as dnp
    from dualtape.study import problem

    @problem("sine_map", "sin(A x) with a dense A of shape (m, n)")
    def sine_map(n, m, depth, rng):
        A = rng.standard_normal((m, n))
        return (lambda x: dnp.sin(dnp.matmul(A, x))), rng.standard_normal(n)

The harness records the sizes the instance really has (``x.size`` and the
output's size), so a family may round a request (the MLP's parameter count)
or ignore an axis (a loss always has m = 1).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .spec import StudyError

Builder = Callable[[int, int, int, np.random.Generator], tuple[Callable[[Any], Any], Any]]


@dataclass(frozen=True)
class Instance:
    """One concrete function and point, with the sizes it really has."""

    problem: str
    f: Callable[[Any], Any]
    x: np.ndarray
    n: int
    m: int
    depth: int


@dataclass(frozen=True)
class Problem:
    """A family of functions f: R^n -> R^m (see the module docstring)."""

    name: str
    build: Builder
    description: str = ""

    def instance(self, n: int, m: int, depth: int = 1, seed: int = 0) -> Instance:
        """Build the family's member at the requested sizes.

        The random generator is seeded from (seed, name, n, m, depth), so the
        same request always gives the same function and point: a resumed sweep
        measures exactly what an uninterrupted one would have.
        """
        for arg, v in (("n", n), ("m", m), ("depth", depth)):
            if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
                raise StudyError(f"expected a positive integer, got {v!r}", arg)
        rng = np.random.default_rng([seed, zlib.crc32(self.name.encode()), n, m, depth])
        f, x = self.build(int(n), int(m), int(depth), rng)
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 1 or x.size == 0:
            raise StudyError(
                f"builder must return a non-empty 1-D point, got shape {x.shape}",
                f"problem {self.name!r}",
            )
        y = np.asarray(f(x))
        if y.ndim > 1 or y.size == 0:
            raise StudyError(
                f"f must return a scalar or a non-empty 1-D vector, got shape {y.shape}",
                f"problem {self.name!r}",
            )
        return Instance(self.name, f, x, int(x.size), int(y.size), int(depth))


_PROBLEMS: dict[str, Problem] = {}


def register_problem(p: Problem, *, replace: bool = False) -> Problem:
    """Add ``p`` to the table that studies name problems from."""
    if p.name in _PROBLEMS and not replace and _PROBLEMS[p.name] is not p:
        raise StudyError(f"a problem named {p.name!r} is already registered", "problem")
    _PROBLEMS[p.name] = p
    return p


def problem(name: str, description: str = "", *, replace: bool = False):
    """Decorator: register a builder ``(n, m, depth, rng) -> (f, x0)`` as a problem."""

    def wrap(build: Builder) -> Problem:
        return register_problem(Problem(name, build, description), replace=replace)

    return wrap


def problem_names() -> list[str]:
    """Names of every registered problem, sorted."""
    return sorted(_PROBLEMS)


def get_problem(p: str | Problem) -> Problem:
    """Look a problem up by name (a ``Problem`` is returned as is)."""
    if isinstance(p, Problem):
        return p
    try:
        return _PROBLEMS[p]
    except KeyError:
        raise StudyError(
            f"unknown problem {p!r}; valid problems: {', '.join(problem_names())}"
        ) from None


def _dnp():
    import dualtape.numpy as dnp

    return dnp


HIDDEN = 32  # hidden width of the dense two-layer map


@problem(
    "dense_two_layer",
    f"tanh(A2 tanh(A1 x)) with A1 of shape ({HIDDEN}, n) and A2 of shape (m, {HIDDEN})",
)
def _dense_two_layer(n, m, depth, rng):
    dnp = _dnp()
    a1 = rng.standard_normal((HIDDEN, n)) / math.sqrt(n)
    a2 = rng.standard_normal((m, HIDDEN)) / math.sqrt(HIDDEN)

    def f(x):
        return dnp.tanh(dnp.matmul(a2, dnp.tanh(dnp.matmul(a1, x))))

    return f, rng.standard_normal(n)


@problem(
    "elementwise_sum",
    "sum(sin(x) * exp(-x^2 / 2)): elementwise then a reduction, m = 1 (the gradient case)",
)
def _elementwise_sum(n, m, depth, rng):
    dnp = _dnp()

    def f(x):
        return dnp.sum(dnp.sin(x) * dnp.exp(x * x * -0.5))

    return f, rng.standard_normal(n)


@problem(
    "broadcast_outer",
    "y_j = mean_i sin(c_j x_i + d_j): an outer (broadcast) map from few inputs to many outputs",
)
def _broadcast_outer(n, m, depth, rng):
    dnp = _dnp()
    c = rng.uniform(0.5, 2.0, size=(m, 1))
    d = rng.uniform(0.0, math.pi, size=(m, 1))

    def f(x):
        return dnp.sum(dnp.sin(x[None, :] * c + d), axis=1) / n

    return f, rng.standard_normal(n)


@problem(
    "deep_chain",
    "depth layers h <- tanh(W_k h) of width n, then y = P h with P of shape (m, n)",
)
def _deep_chain(n, m, depth, rng):
    dnp = _dnp()
    ws = [rng.standard_normal((n, n)) * (1.2 / math.sqrt(n)) for _ in range(depth)]
    p = rng.standard_normal((m, n)) / math.sqrt(n)

    def f(x):
        h = x
        for w in ws:
            h = dnp.tanh(dnp.matmul(w, h))
        return dnp.matmul(p, h)

    return f, rng.standard_normal(n)


# The seed lesson's data set and network, run by the shared ``dualtape.nn.mlp_loss``:
# MLP(3, [w, ..., w, 1]), ReLU hidden neurons, squared-error loss summed over the
# four samples, weights uniform in [-1, 1], biases 0.  The output neuron is linear,
# as in micrograd: the lesson's listing puts ReLU on it too, and then the output
# unit is dead for most draws and the gradient is identically zero, which would
# make every check vacuous.
SEED_XS = np.array([[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]])
SEED_YS = np.array([1.0, -1.0, -1.0, 1.0])


def mlp_layer_sizes(width: int, hidden_layers: int) -> list[int]:
    """[3, width, ..., width, 1]: the seed's MLP(3, [4, 4, 1]) has width 4, 2 layers."""
    return [SEED_XS.shape[1], *([width] * hidden_layers), 1]


def mlp_param_count(width: int, hidden_layers: int) -> int:
    """Number of weights and biases of the seed-style MLP."""
    sizes = mlp_layer_sizes(width, hidden_layers)
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:], strict=True))


def mlp_width_for(n: int, hidden_layers: int) -> int:
    """The largest width whose parameter count is at most n (at least width 1)."""
    width = 1
    while mlp_param_count(width + 1, hidden_layers) <= n:
        width += 1
    return width


@problem(
    "mlp_loss",
    "the seed lesson's MLP loss over its parameters (ReLU hidden layers of equal width, chosen "
    "so n = #params <= requested n, width 1 at least, which holds 6 params at depth 1; "
    "depth = hidden layers, m = 1)",
)
def _mlp_loss(n, m, depth, rng):
    from dualtape import nn

    dnp = _dnp()
    hidden_layers = max(depth, 1)
    sizes = mlp_layer_sizes(mlp_width_for(n, hidden_layers), hidden_layers)
    shapes = list(zip(sizes[:-1], sizes[1:], strict=True))
    theta = []
    for n_in, n_out in shapes:
        theta.append(rng.uniform(-1.0, 1.0, size=n_out * n_in))
        theta.append(np.zeros(n_out))
    x0 = np.concatenate(theta)

    def f(flat):
        params, start = [], 0
        for n_in, n_out in shapes:  # the layout of dualtape.nn: W[l] is (n_out, n_in)
            w = dnp.reshape(flat[start : start + n_out * n_in], (n_out, n_in))
            start += n_out * n_in
            params.append((w, flat[start : start + n_out]))
            start += n_out
        return nn.mlp_loss(params, SEED_XS, SEED_YS, activation="relu")

    return f, x0
