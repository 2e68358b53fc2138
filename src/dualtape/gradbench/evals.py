"""GradBench's evals as dualtape functions: JSON input in, JSON output out, in either AD mode.

Every eval function is an :class:`EvalFunction`: ``prepare`` turns the eval's JSON input
into arrays (untimed), ``run`` computes the answer (the timed part; it takes the AD mode),
and ``post`` turns the answer into JSON values. ``EVALS[module][function]`` is the table the
protocol loop reads.

Modes: ``rev`` computes gradients in one reverse pass; ``fwd`` computes them by forward
mode, ``chunk`` tangents per pass (vector mode). ``kmeans``'s ``dir`` needs a Jacobian and
the Hessian's diagonal: ``rev`` takes the JVP of the reverse gradient (forward over
reverse), ``fwd`` the JVP of the forward Jacobian (forward over forward). ``particle`` and
``saddle`` name their modes in the function (``ff``, ``fr``, ``rf``, ``rr``) and ignore it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import api, jacobians
from . import nested
from . import objectives as ob

MODES = ("rev", "fwd")


@dataclass(frozen=True)
class Settings:
    """How gradients are taken: ``mode`` (``rev`` or ``fwd``) and forward mode's ``chunk``."""

    mode: str = "rev"
    chunk: int = 32

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode: expected one of {', '.join(MODES)}, got {self.mode!r}")
        if not isinstance(self.chunk, int) or self.chunk < 1:
            raise ValueError(f"chunk: expected a positive int, got {self.chunk!r}")


@dataclass(frozen=True)
class EvalFunction:
    """One function of an eval: ``post(run(prepare(input), settings))``, only ``run`` timed."""

    prepare: Callable[[Any], Any]
    run: Callable[[Any, Settings], Any]
    post: Callable[[Any], Any]
    repeated: bool = True  # whether the input carries min_runs / min_seconds


def gradient(f: Callable[..., Any], args: tuple, settings: Settings,
             argnums: int | tuple[int, ...] = 0) -> Any:
    """The gradient of scalar ``f(*args)`` in ``argnums``, in the settings' mode."""
    if settings.mode == "rev":
        return api.grad(f, argnums=argnums)(*args)
    return jacobians.jacfwd(f, argnums=argnums, chunk=settings.chunk)(*args)


def _field(data: Any, name: str) -> Any:
    if not isinstance(data, dict) or name not in data:
        raise ValueError(f"input: missing field {name!r}")
    return data[name]


def _floats(data: Any, name: str, ndim: int, empty: bool = False) -> np.ndarray:
    """Field ``name`` of ``data`` as a float64 array with ``ndim`` axes (and some values,
    unless ``empty``)."""
    value = _field(data, name)
    bad = _not_a_number(value)
    if bad is not None:  # JSON strings, booleans, nulls, objects, anywhere in the nesting
        raise ValueError(f"input: field {name!r} is not an array of numbers (it holds {bad})")
    try:
        a = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:  # ragged lists
        raise ValueError(f"input: field {name!r} is not an array of numbers ({exc})") from exc
    if a.ndim != ndim:
        raise ValueError(f"input: field {name!r} must have {ndim} axes, got shape {a.shape}")
    if not a.size and not empty:
        raise ValueError(f"input: field {name!r} is empty")
    return a


def _not_a_number(value: Any) -> Any:
    """The first leaf of nested lists that is not a JSON number (``true`` is not one), as
    JSON-ish text, or ``None`` when every leaf is one."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, list):
            stack.extend(reversed(v))
        elif isinstance(v, bool) or not isinstance(v, (int, float)):
            return "null" if v is None else json.dumps(v) if isinstance(v, (bool, str)) \
                else repr(v)
    return None


def _int(data: Any, name: str, least: int | None = None) -> int:
    value = _field(data, name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"input: field {name!r} must be an integer, got {value!r}")
    if least is not None and value < least:
        raise ValueError(f"input: field {name!r} must be at least {least}, got {value}")
    return value


def _number(data: Any) -> float:
    if isinstance(data, bool) or not isinstance(data, (int, float)):
        raise ValueError(f"input: expected a number, got {data!r}")
    return float(data)


def _tolist(a: Any) -> Any:
    return np.asarray(a, dtype=np.float64).tolist()


# ---------------------------------------------------------------- hello


def _double(x: float, settings: Settings) -> Any:
    square = lambda v: v * v  # noqa: E731
    if settings.mode == "rev":
        return api.grad(square)(x)
    return api.jvp(square, (x,), (1.0,))[1]


HELLO = {
    "square": EvalFunction(_number, lambda x, s: x * x, float, repeated=False),
    "double": EvalFunction(_number, _double, float, repeated=False),
}

# ---------------------------------------------------------------- lse, llsq, ode, det


def _llsq_input(data: Any) -> tuple:
    n = _int(data, "n")
    if n < 2:
        raise ValueError(f"input: llsq needs n of at least 2 points, got {n}")
    return _floats(data, "x", 1), n


def _det_input(data: Any) -> tuple:
    a = _floats(data, "A", 1)
    ell = _int(data, "ell")
    if ell < 1 or ell * ell != a.shape[0]:
        raise ValueError(f"input: ell={ell} does not match A of {a.shape[0]} entries")
    return a, ell


def _ode_input(data: Any) -> tuple:
    s = _int(data, "s")
    if s < 1:
        raise ValueError(f"input: s must be at least 1, got {s}")
    return _floats(data, "x", 1), s


def _primal_and_gradient(f: Callable[..., Any], prepare: Callable[[Any], tuple],
                         primal_post: Callable[[Any], Any] = float,
                         g: Callable[..., Any] | None = None) -> dict[str, EvalFunction]:
    """``primal`` (``f`` on NumPy) and ``gradient`` (of ``g``, default ``f``, in argument 0)."""
    scalar = f if g is None else g
    return {
        "primal": EvalFunction(prepare, lambda args, s: f(*args), primal_post),
        "gradient": EvalFunction(prepare, lambda args, s: gradient(scalar, args, s), _tolist),
    }


LSE = _primal_and_gradient(ob.lse, lambda d: (_floats(d, "x", 1),))
LLSQ = _primal_and_gradient(ob.llsq_points, _llsq_input)
ODE = _primal_and_gradient(ob.ode, _ode_input, _tolist, g=ob.ode_last)
DET = _primal_and_gradient(ob.det, _det_input)

# ---------------------------------------------------------------- kmeans


def _kmeans_input(data: Any) -> tuple[np.ndarray, np.ndarray]:
    points, centroids = _floats(data, "points", 2), _floats(data, "centroids", 2)
    if points.shape[1] != centroids.shape[1]:
        raise ValueError(f"input: points have {points.shape[1]} coordinates, "
                         f"centroids {centroids.shape[1]}")
    return centroids, points


def _kmeans_dir(args: tuple, settings: Settings) -> np.ndarray:
    centroids, points = args
    jac = lambda c: gradient(ob.kmeans, (c, points), settings)  # noqa: E731
    j, h_diag = api.jvp(jac, (centroids,), (np.ones_like(centroids),))
    return j / h_diag


KMEANS = {
    "cost": EvalFunction(_kmeans_input, lambda args, s: ob.kmeans(*args), float),
    "dir": EvalFunction(_kmeans_input, _kmeans_dir, _tolist),
}

# ---------------------------------------------------------------- gmm

GMM_PARAMETERS = ("alpha", "mu", "q", "l")


def _gmm_input(data: Any) -> tuple:
    d, k, n = _int(data, "d", 1), _int(data, "k", 1), _int(data, "n", 1)
    expected = {"alpha": (k,), "mu": (k, d), "q": (k, d), "l": (k, d * (d - 1) // 2), "x": (n, d)}
    arrays = []
    for name, shape in expected.items():
        a = _floats(data, name, len(shape), empty=name == "l")
        if name == "l" and d == 1:
            a = a.reshape(k, 0)
        if a.shape != shape:
            raise ValueError(f"input: field {name!r} has shape {a.shape}, expected {shape}")
        arrays.append(a)
    gamma = _number(_field(data, "gamma"))
    if gamma <= 0:
        raise ValueError(f"input: gamma must be positive, got {gamma}")
    return (*arrays, _int(data, "m", 0), gamma)  # the Wishart prior's extra degrees of freedom


def _gmm_jacobian(args: tuple, settings: Settings) -> tuple:
    return gradient(ob.gmm, args, settings, argnums=(0, 1, 2, 3))


GMM = {
    "objective": EvalFunction(_gmm_input, lambda args, s: ob.gmm(*args), float),
    "jacobian": EvalFunction(_gmm_input, _gmm_jacobian,
                             lambda g: dict(zip(GMM_PARAMETERS, map(_tolist, g), strict=True))),
}

# ---------------------------------------------------------------- particle, saddle


def _saddle_start(data: Any) -> tuple[float, float]:
    start = _floats(data, "start", 1)
    if start.shape != (2,):
        raise ValueError(f"input: start must hold 2 numbers, got {start.shape[0]}")
    return float(start[0]), float(start[1])


PARTICLE = {v: EvalFunction(lambda d: _number(_field(d, "w")),
                            lambda w, s, v=v: nested.particle(w, v), float)
            for v in nested.VARIANTS}
SADDLE = {v: EvalFunction(_saddle_start, lambda st, s, v=v: nested.saddle(st, v), list)
          for v in nested.VARIANTS}

#: module -> function -> :class:`EvalFunction`.
EVALS: dict[str, dict[str, EvalFunction]] = {
    "hello": HELLO,
    "lse": LSE,
    "llsq": LLSQ,
    "kmeans": KMEANS,
    "gmm": GMM,
    "ode": ODE,
    "det": DET,
    "particle": PARTICLE,
    "saddle": SADDLE,
}
