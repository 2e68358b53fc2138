"""Checking derivatives: finite differences, the adjoint identity, and JAX as referee."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .api import jvp, vjp
from .argchecks import check_callable, is_count, rng_for
from .tree import flatten, unflatten

__all__ = ["check_grads", "check_against_jax", "JaxComparison"]


def _random_like(tree: Any, rng: np.random.Generator) -> Any:
    leaves, td = flatten(tree)
    out = []
    for x in leaves:
        dtype = getattr(x, "dtype", np.float64)
        r = rng.standard_normal(np.shape(x)).astype(dtype)
        out.append(float(r) if type(x) is float else r)
    return unflatten(td, out)


def _vdot(a: Any, b: Any) -> float:
    la, _ = flatten(a)
    lb, _ = flatten(b)
    return float(sum(np.vdot(np.asarray(x, np.float64), np.asarray(y, np.float64))
                     for x, y in zip(la, lb, strict=True)))


def _axpy(a: float, x: Any, y: Any) -> Any:
    lx, td = flatten(x)
    ly, _ = flatten(y)
    return unflatten(td, [yy + a * xx for xx, yy in zip(lx, ly, strict=True)])


def _close(a: float, b: float, rtol: float, atol: float, what: str) -> None:
    if a == b or (np.isnan(a) and np.isnan(b)):  # a NaN (or inf) input gives NaN on both sides
        return
    if not abs(a - b) <= atol + rtol * max(abs(a), abs(b)):
        raise AssertionError(f"{what}: {a!r} != {b!r} (difference {abs(a - b):.3g})")


def _check_tolerances(seed: Any, **tols: Any) -> None:
    rng_for(seed)
    for name, tol in tols.items():
        if tol is not None and (isinstance(tol, bool) or not isinstance(
                tol, (int, float, np.integer, np.floating)) or not 0 <= tol < np.inf):
            raise ValueError(f"{name}: expected a non-negative finite number, got {tol!r}")


def _check_options(f: Any, args: Any, order: Any, modes: Any, eps: Any) -> tuple[str, ...]:
    """Refuse options that would make ``check_grads`` check nothing (or something else)."""
    check_callable(f, "f")
    if not isinstance(args, (tuple, list)):
        raise TypeError(f"args: expected a tuple or list of arguments, got {type(args).__name__}")
    if not is_count(order, 1):
        raise ValueError(f"order: expected a positive int, got {order!r}")
    modes = (modes,) if isinstance(modes, str) else modes
    if not isinstance(modes, (tuple, list)) or not modes or any(
            m not in ("fwd", "rev") for m in modes):
        raise ValueError(f"modes: expected a non-empty tuple of 'fwd' and 'rev', got {modes!r}")
    if isinstance(eps, bool) or not isinstance(eps, (int, float, np.floating)) or not 0 < eps < np.inf:
        raise ValueError(f"eps: expected a positive finite step, got {eps!r}")
    return tuple(modes)


def check_grads(f: Callable, args: tuple, order: int = 2, modes: tuple[str, ...] = ("fwd", "rev"),
                eps: float = 1e-6, rtol: float = 1e-5, atol: float = 1e-6, seed: int = 0) -> None:
    """Check ``f``'s derivatives at ``args`` up to ``order``, raising AssertionError if wrong.

    In one random direction ``v``: forward mode against central finite
    differences; reverse mode against forward mode through the adjoint identity
    ``<u, J v> = <J^T u, v>``. Higher orders apply the same checks to the
    derivative functions ``x -> J(x) v`` and ``x -> J(x)^T u``.
    """
    modes = _check_options(f, args, order, modes, eps)
    _check_tolerances(seed, rtol=rtol, atol=atol)
    rng = np.random.default_rng(seed)
    args = tuple(args)
    v = _random_like(args, rng)
    out = f(*args)
    u = _random_like(out, rng)
    _, jv = jvp(f, args, v)
    if "fwd" in modes:
        hi = f(*_axpy(eps, v, args))
        lo = f(*_axpy(-eps, v, args))
        fd = _axpy(-1.0, lo, hi)
        _close(_vdot(u, jv), _vdot(u, fd) / (2 * eps), rtol * 100, atol * 100,
               "forward mode vs finite differences")
    if "rev" in modes:
        _, pullback = vjp(f, *args)
        _close(_vdot(u, jv), _vdot(pullback(u), v), rtol, atol,
               "reverse mode vs forward mode (adjoint identity)")
    if order > 1:
        if "fwd" in modes:
            check_grads(lambda *a: jvp(f, a, v)[1], args, order - 1, modes, eps, rtol, atol, seed + 1)
        if "rev" in modes:
            check_grads(lambda *a: vjp(f, *a)[1](u), args, order - 1, modes, eps, rtol, atol,
                        seed + 2)


@dataclass
class JaxComparison:
    """Largest differences between dualtape and JAX on one function."""

    jvp_errors: list[float] = field(default_factory=list)  # per output leaf
    vjp_errors: list[float] = field(default_factory=list)  # per input leaf
    value_error: float = 0.0
    rtol: float = 1e-9

    @property
    def max_error(self) -> float:
        return max([self.value_error, *self.jvp_errors, *self.vjp_errors])

    @property
    def ok(self) -> bool:
        return self.max_error <= self.rtol

    def __str__(self) -> str:
        rows = [f"value            max rel. error {self.value_error:.3g}"]
        rows += [f"jvp output {k:<4}  max rel. error {e:.3g}" for k, e in enumerate(self.jvp_errors)]
        rows += [f"vjp input  {k:<4}  max rel. error {e:.3g}" for k, e in enumerate(self.vjp_errors)]
        rows.append("OK" if self.ok else f"MISMATCH (tolerance {self.rtol:g})")
        return "\n".join(rows)


def _rel_err(a: Any, b: Any) -> float:
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    if a.shape != b.shape:
        return float("inf")
    if a.size == 0:
        return 0.0
    scale = max(1.0, float(np.max(np.abs(b))))
    return float(np.max(np.abs(a - b))) / scale


def check_against_jax(f: Callable, *args: Any, seed: int = 0, rtol: float | None = None
                      ) -> JaxComparison:
    """Run ``dt.jvp``/``dt.vjp`` and ``jax.jvp``/``jax.vjp`` on ``f`` in random directions.

    ``f`` must be written with ``dualtape.numpy`` so that it also runs on JAX
    arrays. Returns the largest relative error per output (JVP) and per input
    (VJP); ``result.ok`` says whether all are within ``rtol`` (default 1e-9
    for float64 and 1e-4 for float32).
    """
    from .extras import require

    require("jax", "dt.check_against_jax")
    from .measure.jaxconfig import jax_x64

    check_callable(f, "f")
    _check_tolerances(seed, rtol=rtol)
    jax = jax_x64()
    import jax.numpy as jnp

    rng = np.random.default_rng(seed)
    v = _random_like(args, rng)
    out, t_out = jvp(f, args, v)
    u = _random_like(out, rng)
    _, pullback = vjp(f, *args)
    ct_in = pullback(u)

    to_jax = lambda tree: unflatten(flatten(tree)[1], [jnp.asarray(x) for x in flatten(tree)[0]])
    j_out, j_t = jax.jvp(f, to_jax(args), to_jax(v))
    _, j_pull = jax.vjp(f, *to_jax(args))
    j_ct = j_pull(to_jax(u))

    low = any(getattr(x, "dtype", np.float64) == np.float32 for x in flatten(args)[0])
    res = JaxComparison(rtol=rtol if rtol is not None else (1e-4 if low else 1e-9))
    res.value_error = max((_rel_err(a, b) for a, b in zip(flatten(out)[0], flatten(j_out)[0],
                                                          strict=True)), default=0.0)
    res.jvp_errors = [_rel_err(a, b) for a, b in zip(flatten(t_out)[0], flatten(j_t)[0], strict=True)]
    res.vjp_errors = [_rel_err(a, b) for a, b in zip(flatten(ct_in)[0], flatten(j_ct)[0], strict=True)]
    return res
