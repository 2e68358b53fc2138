"""The four measurements of a cell, each in its own run of the method.

- ``check``: the Jacobian against a JAX reference (largest relative error);
- ``count``: primitive applications, FLOPs (registry cost model) and tape
  bytes from ``dualtape.count()``: deterministic and machine-independent;
- ``memory``: peak bytes allocated during one call, from ``tracemalloc``
  (NumPy reports its buffers to it), in a run of its own;
- ``time``: wall time per call, after warm-up, in calibrated batches, with the
  collector off while timing (:mod:`dualtape.measure.timing`).
"""

from __future__ import annotations

import math
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..measure.jaxconfig import jax_x64
from ..measure.timing import TimingConfig, sample
from .methods import Method
from .problems import Instance

TOLERANCE = 1e-8  # largest relative error accepted against JAX (float64 on both sides)


def max_relative_error(jac: np.ndarray, ref: np.ndarray) -> float:
    """max |J - R| / max |R|: the error relative to the Jacobian's largest entry.

    Infinite when J has a non-finite entry, a different shape, or R is all zero
    while J is not; zero when both are all zero.
    """
    if jac.shape != ref.shape or not np.all(np.isfinite(jac)):
        return math.inf
    diff = float(np.max(np.abs(jac - ref)))
    scale = float(np.max(np.abs(ref)))
    if scale == 0.0:
        return 0.0 if diff == 0.0 else math.inf
    return diff / scale


@dataclass(frozen=True)
class Reference:
    """JAX's Jacobian of one instance, built twice: from jax.jvp and from jax.vjp.

    The forward reference pushes every basis vector through ``jax.jvp`` (one
    column each, batched with ``jax.vmap``); the reverse one pulls every basis
    covector through the ``jax.vjp`` pullback (one row each).
    """

    forward: np.ndarray
    reverse: np.ndarray

    @property
    def self_error(self) -> float:
        """How far JAX's two constructions are from each other."""
        return max_relative_error(self.forward, self.reverse)

    def error(self, jac: np.ndarray) -> float:
        """Largest relative error of ``jac`` against either construction."""
        return max(max_relative_error(jac, self.forward), max_relative_error(jac, self.reverse))


def jax_reference(inst: Instance) -> Reference:
    """Build the JAX reference Jacobians of ``inst`` (float64)."""
    jax = jax_x64()
    import jax.numpy as jnp

    x = jnp.asarray(inst.x)
    f = inst.f
    out_shape = jax.eval_shape(f, x).shape

    @jax.jit
    def both(x):
        cols = jax.vmap(lambda v: jax.jvp(f, (x,), (v,))[1])(jnp.eye(inst.n, dtype=x.dtype))
        _, pullback = jax.vjp(f, x)
        basis = jnp.eye(inst.m, dtype=x.dtype).reshape((inst.m, *out_shape))
        rows = jax.vmap(lambda u: pullback(u)[0])(basis)
        return cols, rows  # cols[i] = J e_i, rows[j] = e_j^T J

    # Optimisation level 0 halves XLA's compile time; float64 semantics are unchanged.
    compiled = both.lower(x).compile(compiler_options={"xla_backend_optimization_level": 0})
    cols, rows = compiled(x)
    fwd = np.asarray(cols, dtype=np.float64).reshape(inst.n, inst.m).T
    rev = np.asarray(rows, dtype=np.float64).reshape(inst.m, inst.n)
    return Reference(np.ascontiguousarray(fwd), rev)


def check(method: Method, runner: Callable[[], Any], inst: Instance, ref: Reference):
    """Run once and compare with JAX: (max relative error, ok, note)."""
    jac = method.jacobian(runner(), inst.n, inst.m)
    if ref.self_error > TOLERANCE:
        return ref.error(jac), False, f"JAX's jvp and vjp references disagree ({ref.self_error:.3g})"
    err = ref.error(jac)
    ok = err <= TOLERANCE
    return err, ok, "" if ok else f"Jacobian differs from JAX's (max rel. error {err:.3g})"


def counts(runner: Callable[[], Any]) -> dict[str, int]:
    """Primitive applications, FLOPs and tape bytes of one call."""
    import dualtape as dt

    with dt.count() as c:
        runner()
    return {"n_ops": int(c.n_ops), "flops": int(c.flops), "tape_bytes": int(c.tape_bytes)}


def pass_counts(method: Method, inst: Instance) -> dict[str, int]:
    """The parts a one-pass-per-direction Jacobian is made of, counted separately.

    Forward (chunk 1): one ``dt.jvp`` along the first basis vector, so that
    count(jacfwd) = n × pass.  Reverse (chunk 1): the recording ``dt.vjp(f, x)``
    and one call of its pullback, so that count(jacrev) = record + m × pass.
    """
    import dualtape as dt

    x = inst.x
    out: dict[str, int] = {}
    if method.mode == "forward":
        e = np.zeros_like(x)
        e[0] = 1.0
        with dt.count() as c:
            dt.jvp(inst.f, (x,), (e,))
    else:
        with dt.count() as rec:
            y, pullback = dt.vjp(inst.f, x)
        out["record_n_ops"], out["record_flops"] = int(rec.n_ops), int(rec.flops)
        u = np.zeros(np.shape(y), dtype=np.float64)
        u.reshape(-1)[0] = 1.0
        with dt.count() as c:
            pullback(u)
    out["pass_n_ops"], out["pass_flops"] = int(c.n_ops), int(c.flops)
    return out


def peak_memory(runner: Callable[[], Any]) -> int:
    """Peak bytes allocated above the starting level during one call."""
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base, _ = tracemalloc.get_traced_memory()
        result = runner()
        _, peak = tracemalloc.get_traced_memory()
        del result
    finally:
        if not was_tracing:
            tracemalloc.stop()
    return max(0, peak - base)


def timings(runner: Callable[[], Any], cfg: TimingConfig) -> tuple[int, list[float]]:
    """Seconds per call: (calls per sample, one value per repeat), from the shared
    timing base (``dualtape.measure.timing.sample``, under ``cfg.gc``)."""
    samples = sample(runner, cfg)
    return samples.calls, samples.seconds
