"""Checking derivatives: finite differences, the adjoint identity, and JAX as referee."""

from __future__ import annotations

import math
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


def _close(a: float, b: float, rtol: float, atol: float, what: str, noise: float = 0.0) -> None:
    if a == b or (np.isnan(a) and np.isnan(b)):  # a NaN (or inf) input gives NaN on both sides
        return
    if not abs(a - b) <= atol + rtol * max(abs(a), abs(b)) + noise:
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


def _low_precision(tree: Any) -> bool:
    return any(getattr(x, "dtype", np.float64) in (np.float32, np.float16)
               for x in flatten(tree)[0])


def _largest(leaves: list, default: float) -> float:
    return max((float(np.max(np.abs(x))) for x in leaves if np.size(x)), default=default)


def _finite_differences(f: Callable, args: tuple, v: Any, u: Any, eps: float) -> tuple[float, float]:
    """``<u, (f(x + eps v) - f(x - eps v)) / 2 eps>``, and the rounding it may carry: the
    outputs' own (relative ``finfo.eps``) divided by the step, and the inputs' (their
    rounding moves the step itself by ``finfo.eps |x| / eps`` relative)."""
    hi = f(*_axpy(eps, v, args))
    lo = f(*_axpy(-eps, v, args))
    estimate = _vdot(u, _axpy(-1.0, lo, hi)) / (2 * eps)
    u_leaves, hi_leaves, lo_leaves = flatten(u)[0], flatten(hi)[0], flatten(lo)[0]
    arg_leaves = flatten(args)[0]
    unit = max((float(np.finfo(d).eps) for d in (np.dtype(getattr(x, "dtype", np.float64))
                                                 for x in [*hi_leaves, *arg_leaves])
                if d.kind == "f"), default=0.0)
    spread = sum(float(np.vdot(np.abs(np.asarray(a, np.float64)),
                               np.abs(np.asarray(h, np.float64)) + np.abs(np.asarray(lw, np.float64))))
                 for a, h, lw in zip(u_leaves, hi_leaves, lo_leaves, strict=True))
    noise = 8 * unit * spread / (2 * eps) + 8 * unit * _largest(arg_leaves, 0.0) \
        / (eps * max(_largest(flatten(v)[0], 1.0), 1e-300)) * abs(estimate)
    return estimate, noise


def check_grads(f: Callable, args: tuple, order: int = 2, modes: tuple[str, ...] = ("fwd", "rev"),
                eps: float | None = None, rtol: float | None = None, atol: float | None = None,
                seed: int = 0) -> None:
    """Check ``f``'s derivatives at ``args`` up to ``order``, raising AssertionError if wrong.

    In one random direction ``v`` (and output direction ``u``), as ``jax.test_util``'s
    ``check_grads``: forward mode's ``<u, J v>`` and reverse mode's ``<J^T u, v>`` against
    central finite differences with step ``eps``, each within ``atol + rtol * |value|`` plus
    the rounding the differences themselves carry; with both modes, also the adjoint
    identity ``<u, J v> = <J^T u, v>`` between them (exact but for rounding). Higher orders
    apply the same checks to ``x -> J(x) v`` (forward) and ``x -> J(x)^T u`` (reverse), so a
    ``custom_vjp`` function is checked with ``modes=("rev",)``. Defaults: ``eps`` 1e-4 (JAX's),
    ``rtol`` 1e-5 and ``atol`` 1e-6 for float64 arguments; 2e-3, 2e-3 and 2e-3 when any is
    float32 or float16.
    """
    modes = _check_options(f, args, order, modes, 1.0 if eps is None else eps)
    _check_tolerances(seed, rtol=rtol, atol=atol)
    low = _low_precision(args)
    eps = (2e-3 if low else 1e-4) if eps is None else eps
    rtol = (2e-3 if low else 1e-5) if rtol is None else rtol
    atol = (2e-3 if low else 1e-6) if atol is None else atol
    rng = np.random.default_rng(seed)
    args = tuple(args)
    v = _random_like(args, rng)
    out = f(*args)
    u = _random_like(out, rng)
    fd, noise = _finite_differences(f, args, v, u, eps)
    if "fwd" in modes:
        _, jv = jvp(f, args, v)
        _close(_vdot(u, jv), fd, rtol, atol, "forward mode vs finite differences", noise)
    if "rev" in modes:
        _, pullback = vjp(f, *args)
        vjp_v = _vdot(pullback(u), v)
        _close(vjp_v, fd, rtol, atol, "reverse mode vs finite differences", noise)
        if "fwd" in modes:  # both exact: they may differ by rounding only
            _close(_vdot(u, jv), vjp_v, rtol, atol,
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
        errors = [self.value_error, *self.jvp_errors, *self.vjp_errors]
        return math.inf if any(math.isnan(e) for e in errors) else max(errors)

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
    """The largest difference of ``a`` from the reference ``b`` over ``b``'s largest magnitude
    (absolute where ``b`` is all zeros); inf where their shapes, NaNs or infinities differ."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    if a.shape != b.shape:
        return math.inf
    if a.size == 0:
        return 0.0
    finite = np.isfinite(b)
    if not np.array_equal(np.isfinite(a), finite) or not np.array_equal(a[~finite], b[~finite],
                                                                         equal_nan=True):
        return math.inf  # a NaN or an infinity on one side only (or of another sign)
    if not finite.any():
        return 0.0
    scale = float(np.max(np.abs(b[finite])))
    diff = float(np.max(np.abs(a[finite] - b[finite])))
    return diff / scale if scale > 0 else diff


def check_against_jax(f: Callable, *args: Any, seed: int = 0, rtol: float | None = None
                      ) -> JaxComparison:
    """Run ``dt.jvp``/``dt.vjp`` and ``jax.jvp``/``jax.vjp`` on ``f`` in random directions.

    ``f`` must be written with ``dualtape.numpy`` so that it also runs on JAX
    arrays. Returns the largest relative error per output (JVP) and per input
    (VJP), each over the reference's largest magnitude (a NaN or infinity on one side
    only is an infinite error); ``result.ok`` says whether all are within ``rtol``
    (default 1e-9 for float64 and 1e-4 for float32). First order only: ``check_grads``
    checks the higher ones.
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
