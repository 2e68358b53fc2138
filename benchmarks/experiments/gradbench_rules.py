"""Where the GradBench array gradients spend their time, and three proposed VJP changes.

Run from the repository root (single-threaded BLAS, CPU time, so that a shared machine
perturbs it less)::

    OPENBLAS_NUM_THREADS=1 python -m benchmarks.experiments.gradbench_rules

The proposals are registered here as new primitives (``*_x2``), outside the package, and
the objectives of :mod:`dualtape.gradbench.objectives` are run with a namespace that uses
them. Nothing in ``src/dualtape`` changes. For each eval and size it prints CPU time per
call of the objective (NumPy), today's ``dt.grad``, ``dt.grad`` with the proposals, and
the gradient written by hand in NumPy (the floor), each also as a multiple of the objective.

1. ``max``/``min`` VJP in one primitive (``tie_scale``): compare, count the ties on the
   bool mask, one multiply by ``g / count`` on the reduced shape; today it is
   ``equal_mask`` (compare + ``astype``), ``sum``, ``div``, and a multiply by the broadcast
   cotangent: five passes over the input become three.
2. ``sub``'s subtrahend cotangent is reduced to the subtrahend's shape before it is
   negated (``neg(unbroadcast(g))``), instead of negating the full cotangent first.
3. ``x * x`` with one operand twice: the reverse pass computes ``g * x`` twice and adds
   them (three full passes); ``square``'s rule ``g * (2 x)`` takes two. Here the
   objectives use ``square`` for it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import numpy as np

import dualtape as dt
import dualtape.numpy as dnp
from benchmarks.machine import settle_heap
from dualtape import ops
from dualtape.gradbench import objectives as ob
from dualtape.registry import Primitive, register


def _ties(x: np.ndarray, ans: np.ndarray, axis: tuple, keepdims: bool) -> tuple:
    a = ans if keepdims else np.expand_dims(ans, axis)
    mask = x == a
    return mask, np.count_nonzero(mask, axis=axis, keepdims=True)


def _tie_scale_impl(g: Any, x: Any, ans: Any, axis: tuple, keepdims: bool) -> Any:
    mask, count = _ties(x, ans, axis, keepdims)
    return np.multiply(mask, (g if keepdims else np.expand_dims(g, axis)) / count)


def _tie_scale_t(c: Any, out: Any, g: Any, x: Any, ans: Any, axis: tuple, keepdims: bool) -> Any:
    mask, count = _ties(x, ans, axis, keepdims)
    return ops.sum_(ops.mul(c, mask / count), axis=axis, keepdims=keepdims)


# linear in g (its transpose sums c * weights back); the mask is not differentiated
tie_scale = register(Primitive(
    "tie_scale_x2", _tie_scale_impl,
    jvp=(lambda t, out, g, x, ans, axis, keepdims: tie_scale(t, x, ans, axis=axis,
                                                              keepdims=keepdims), None, None),
    vjp=(_tie_scale_t, None, None), flops=ops._elementwise_flops, saves="args",
)).bind


def _extreme(name: str, npfn: Callable[..., Any]) -> Callable[..., Any]:
    return register(Primitive(
        name, lambda x, axis, keepdims: npfn(x, axis=axis, keepdims=keepdims),
        jvp=(None,),
        vjp=(lambda g, ans, x, axis, keepdims: tie_scale(g, x, ans, axis=axis, keepdims=keepdims),),
        flops=ops._reduce_flops, saves="both",
    )).bind


max2, min2 = _extreme("max_x2", np.max), _extreme("min_x2", np.min)
sub2 = ops._fast2(register(Primitive(
    "sub_x2", lambda x, y: x - y,
    jvp=(lambda t, ans, x, y: t, lambda t, ans, x, y: ops.neg(t)),
    vjp=(lambda g, ans, x, y: g, lambda g, ans, x, y: ops.neg(ops.unbroadcast(g, y.shape))),
    flops=ops._elementwise_flops, saves="meta", broadcasting=True, linear=True,
)))


def proposed_namespace() -> SimpleNamespace:
    """``dualtape.numpy`` with the proposed max, min and subtraction (as ``xp.subtract``)."""
    names = ("exp", "log", "sum", "matmul", "transpose", "concatenate", "reshape", "zeros")
    ns = SimpleNamespace(**{n: getattr(dnp, n) for n in names})
    ns.max = lambda a, axis=None: max2(a, axis=dnp._axis_tuple(a, axis), keepdims=False)
    ns.min = lambda a, axis=None: min2(a, axis=dnp._axis_tuple(a, axis), keepdims=False)
    ns.subtract, ns.square = sub2, dnp.square
    return ns


# ---------------------------------------------------------------- objectives with xp.subtract


def lse(x: Any, xp: Any) -> Any:
    """:func:`ob.lse` with its subtraction spelled ``xp.subtract``."""
    a = xp.max(x)
    return a + xp.log(xp.sum(xp.exp(xp.subtract(x, a))))


def kmeans(c: Any, p: Any, xp: Any) -> Any:
    """:func:`ob.kmeans` with ``xp.subtract``."""
    cross = xp.matmul(p, xp.transpose(c))
    norms = xp.sum(p * p, axis=1)[:, None] + xp.sum(c * c, axis=1)
    return xp.sum(xp.min(xp.subtract(norms, 2.0 * cross), axis=1))


def gmm(alpha: Any, mu: Any, q: Any, l: Any, x: Any, xp: Any) -> Any:  # noqa: E741
    """:func:`ob.gmm` (m = 0, gamma = 1) with ``xp.subtract`` and ``xp.square``."""
    import math

    n, d = x.shape
    k = alpha.shape[0]
    qexp = xp.exp(q)
    entries = xp.concatenate([xp.zeros((k, 1)), qexp, l], axis=1)
    qt = xp.transpose(xp.reshape(entries[:, ob.gmm_index(d)], (k, d, d)), (0, 2, 1))
    qx = xp.subtract(xp.matmul(x, qt), xp.matmul(mu[:, None, :], qt))
    sum_q = xp.sum(q, axis=1)
    beta = xp.subtract((alpha + sum_q)[:, None], 0.5 * xp.sum(xp.square(qx), axis=2))
    a = xp.max(beta, axis=0)
    rows = a + xp.log(xp.sum(xp.exp(xp.subtract(beta, a)), axis=0))
    likelihood = xp.sum(rows) - n * (0.5 * d * math.log(2 * math.pi) + lse(alpha, xp))
    constant = k * ((d + 1) * d * math.log(1 / math.sqrt(2)) - ob._multigammaln(0.5 * (d + 1), d))
    return likelihood + constant - 0.5 * (xp.sum(qexp * qexp) + xp.sum(l * l))


# ---------------------------------------------------------------- the floors, by hand


def lse_by_hand(x: np.ndarray) -> np.ndarray:
    """softmax(x), the gradient of log-sum-exp, in three NumPy passes."""
    e = np.exp(x - np.max(x))
    e /= np.sum(e)
    return e


def kmeans_by_hand(c: np.ndarray, p: np.ndarray) -> np.ndarray:
    """2 sum over the points closest to C_j of (C_j - P_i), from the argmin of the distances."""
    dists = np.sum(p * p, axis=1)[:, None] + np.sum(c * c, axis=1) - 2.0 * (p @ c.T)
    nearest = np.argmin(dists, axis=1)
    counts = np.bincount(nearest, minlength=len(c)).astype(float)
    sums = np.zeros_like(c)
    np.add.at(sums, nearest, p)
    return 2.0 * (counts[:, None] * c - sums)


def _cpu(fns: dict[str, Callable[[], Any]], rounds: int = 7, budget: float = 0.05) -> dict:
    """Minimum CPU seconds per call over interleaved rounds."""
    reps = {}
    for name, fn in fns.items():
        fn()
        start = time.process_time()
        fn()
        reps[name] = max(1, int(budget / max(time.process_time() - start, 1e-6)))
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.process_time()
            for _ in range(reps[name]):
                fn()
            best[name] = min(best[name], (time.process_time() - start) / reps[name])
    return best


def _cases() -> list[tuple[str, dict[str, Callable[[], Any]]]]:
    rng, v2 = np.random.default_rng(0), proposed_namespace()
    out = []
    for n in (5_000, 160_000):
        x = rng.random(n)
        out.append((f"lse n={n}", {
            "objective": lambda x=x: ob.lse(x, xp=np),
            "grad today": lambda x=x: dt.grad(ob.lse)(x),
            "grad proposed": lambda x=x: dt.grad(lambda v: lse(v, v2))(x),
            "by hand": lambda x=x: lse_by_hand(x)}))
    for n in (512, 8_196):
        powers, sign = ob.llsq_data(n, 128)
        x = rng.random(128)
        out.append((f"llsq n={n} m=128", {
            "objective": lambda x=x, t=powers, s=sign: ob.llsq(x, t, s, xp=np),
            "grad today": lambda x=x, t=powers, s=sign: dt.grad(ob.llsq)(x, t, s),
            "by hand": lambda x=x, t=powers, s=sign: (t @ x - s) @ t}))
    for k, n, d in ((10, 1000, 8), (100, 10000, 16)):
        p = rng.random((n, d))
        c = p[-k:].copy()
        out.append((f"kmeans k={k} n={n} d={d}", {
            "objective": lambda c=c, p=p: ob.kmeans(c, p, xp=np),
            "grad today": lambda c=c, p=p: dt.grad(ob.kmeans)(c, p),
            "grad proposed": lambda c=c, p=p: dt.grad(lambda v: kmeans(v, p, v2))(c),
            "by hand": lambda c=c, p=p: kmeans_by_hand(c, p)}))
    for d, k in ((2, 5), (20, 50)):
        a = (rng.normal(size=k), rng.uniform(size=(k, d)), rng.normal(size=(k, d)),
             rng.normal(size=(k, d * (d - 1) // 2)))
        x = rng.normal(size=(1000, d))
        out.append((f"gmm d={d} k={k} n=1000", {
            "objective": lambda a=a, x=x: ob.gmm(*a, x, 0, 1.0, xp=np),
            "grad today": lambda a=a, x=x: dt.grad(ob.gmm, argnums=(0, 1, 2, 3))(*a, x, 0, 1.0),
            "grad proposed": lambda a=a, x=x: dt.grad(
                lambda *v: gmm(*v, x, v2), argnums=(0, 1, 2, 3))(*a)}))
    return out


def _ops(fns: dict[str, Callable[[], Any]]) -> str:
    """Primitive applications (forward and backward) of today's and the proposed gradient."""
    counts = []
    for key in ("grad today", "grad proposed"):
        if key in fns:
            with dt.count() as c:
                fns[key]()
            counts.append(str(c.n_ops))
    return " / ".join(counts)


def _flat(g: Any) -> np.ndarray:
    return np.concatenate([np.ravel(a) for a in (g if isinstance(g, tuple) else (g,))])


def main() -> int:
    """Check the proposals against today's gradients, then print the CPU-time table."""
    settle_heap()
    print("| case | objective | grad today | grad proposed | by hand | ops today / proposed |")
    print("|---|---|---|---|---|---|")
    for name, fns in _cases():
        for other in ("grad proposed", "by hand"):
            if other in fns:
                np.testing.assert_allclose(_flat(fns[other]()), _flat(fns["grad today"]()),
                                           rtol=1e-9, atol=1e-9)
        best = _cpu(fns)
        base = best["objective"]
        cells = [f"{best[k] * 1e6:.0f} us ({best[k] / base:.2f}x)" if k in best else "-"
                 for k in ("objective", "grad today", "grad proposed", "by hand")]
        print(f"| {name} | " + " | ".join(cells) + f" | {_ops(fns)} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
