"""Checkpointing: reverse mode's memory traded for recomputation, measured.

Three loops are differentiated with ``dt.checkpoint_loop`` under every policy
(``none``, ``every`` k, ``sqrt``, ``binomial`` with a range of snapshot counts) and
with forward mode (one JVP, the memory floor):

* ``mlp``: a deep weight-tied tanh MLP, h <- tanh(h W + b), width 64, batch 16, depth
  up to 1,024; gradient of mean(h^2) with respect to W and b;
* ``rk4``: RK4 on the Van der Pol oscillator (mu = 1, dt = 0.01) for up to 10^4 steps;
  gradient of x_n^2 + v_n^2 with respect to mu, x_0 and v_0;
* ``lesson``: the lesson's MLP(3, [4, 4, 1]) on its four samples, trained by SGD for T
  steps (each step a ``dt.grad``); gradient of the final loss with respect to the
  initial weights, a gradient of gradients through the whole training run.

Measures: peak memory of one gradient (tracemalloc, in a pass of its own), bytes kept
for the backward pass (``dt.count``: tape plus snapshots), time (median of interleaved
rounds) relative to one evaluation and to the uncheckpointed gradient, step
evaluations (``return_stats``) against the binomial formula.  Peer: JAX's
``lax.scan`` over the step, plain and with ``jax.checkpoint``, eager and jitted (for
``mlp`` and ``rk4``; the training run's gradient of gradients takes JAX long to compile).

Run: ``dualtape study run checkpointing`` (a few minutes; ``--quick`` for a smoke run
into ``results/quick/``) or ``python studies/checkpointing.py``.  Writes ``data.csv``,
``env.json``, the three figures and ``summary.md`` into ``results/checkpointing/``.
"""

from __future__ import annotations

import math
import statistics
import sys
import tracemalloc
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

import dualtape as dt
import dualtape.numpy as dnp
from dualtape.lessons import LESSON_XS, LESSON_YS
from dualtape.measure.timing import TimingConfig, interleaved
from dualtape.nn import ArrayMLP, mlp_loss
from dualtape.revolve import binomial_cost
from dualtape.study import RunReport, Study
from dualtape.study.custom import pick, run_cells, study_main

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _checkpointing_report import plot, summary  # noqa: E402

NAME = "checkpointing"
RESULTS = Path(__file__).resolve().parents[1] / "results" / NAME
COLUMNS = ("problem", "n", "variant", "policy", "snapshots", "every", "peak_bytes",
           "tape_bytes", "time_s", "eval_s", "none_s", "forward_steps", "recorded_steps",
           "recordings", "peak_snapshots", "formula_steps", "rel_err", "xla_temp_bytes")

# ---------------------------------------------------------------- the three loops


def mlp_problem(n: int) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    W, b = rng.standard_normal((64, 64)) / 8, rng.standard_normal(64) * 0.1
    X = rng.standard_normal((16, 64))
    return {"args": (W, b), "x0": lambda W, b: X,
            "step": lambda W, b, grad: (lambda h: dnp.tanh(dnp.matmul(h, W) + b)),
            "readout": lambda h: dnp.mean(h * h)}


def rk4_problem(n: int) -> dict[str, Any]:
    h = 0.01

    def step(mu, x0, v0, grad):
        def rhs(x, v):
            return v, mu * (1.0 - x * x) * v - x

        def rk4(s):
            x, v = s
            k1 = rhs(x, v)
            k2 = rhs(x + h / 2 * k1[0], v + h / 2 * k1[1])
            k3 = rhs(x + h / 2 * k2[0], v + h / 2 * k2[1])
            k4 = rhs(x + h * k3[0], v + h * k3[1])
            return (x + h / 6 * (k1[0] + 2 * k2[0] + 2 * k3[0] + k4[0]),
                    v + h / 6 * (k1[1] + 2 * k2[1] + 2 * k3[1] + k4[1]))

        return rk4

    return {"args": (1.0, 0.5, 0.0), "x0": lambda mu, x0, v0: (x0, v0), "step": step,
            "readout": lambda s: s[0] * s[0] + s[1] * s[1]}


def lesson_problem(n: int) -> dict[str, Any]:
    xs, ys = np.array(LESSON_XS), np.array(LESSON_YS)
    params = [(W, b) for W, b in ArrayMLP(3, [4, 4, 1], seed=2).params]

    def step(params, grad):
        g = grad(lambda p: mlp_loss(p, xs, ys))

        def sgd(p):
            return [(W - 0.05 * gW, c - 0.05 * gc) for (W, c), (gW, gc) in zip(p, g(p),
                                                                             strict=True)]
        return sgd

    return {"args": (params,), "x0": lambda p: p, "step": step,
            "readout": lambda p: mlp_loss(p, xs, ys)}


PROBLEMS = {"mlp": mlp_problem, "rk4": rk4_problem, "lesson": lesson_problem}


def loss_fn(prob: dict[str, Any], n: int, policy: str, kw: dict[str, Any], stats: list):
    def loss(*args):
        step = prob["step"](*args, dt.grad)
        out, st = dt.checkpoint_loop(step, prob["x0"](*args), n, policy=policy,
                                     return_stats=True, **kw)
        stats.append(st)
        return prob["readout"](out)

    return loss


def jax_fns(prob: dict[str, Any], n: int, remat: bool):
    import jax

    def loss(*args):
        step = prob["step"](*args, jax.grad)
        body = jax.checkpoint(step) if remat else step
        out, _ = jax.lax.scan(lambda s, _: (body(s), None), prob["x0"](*args), None, length=n)
        return prob["readout"](out)

    argnums = tuple(range(len(prob["args"])))
    return loss, jax.grad(loss, argnums=argnums)


# ---------------------------------------------------------------- measuring


def _rel_err(got: Any, want: Any) -> float:
    import jax

    g = np.concatenate([np.ravel(np.asarray(a, float)) for a in jax.tree_util.tree_leaves(got)])
    w = np.concatenate([np.ravel(np.asarray(a, float)) for a in jax.tree_util.tree_leaves(want)])
    return float(np.max(np.abs(g - w)) / max(np.max(np.abs(w)), 1e-300))


def _peak(fn) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _variants(problem: str, n: int, quick: bool) -> list[tuple[str, str, dict[str, Any]]]:
    out = [("none", "none", {}), ("sqrt", "sqrt", {})]
    if problem == "rk4":
        out.append(("every 10", "every", {"every": 10}))
        snaps = [2, 3, 4, 6, 8, 10, 16, 32] if n == 1000 and not quick else [10]
        if n == 1000 and not quick:
            out += [(f"every {k}", "every", {"every": k}) for k in (5, 25, 100)]
    elif problem == "mlp":
        out.append(("every 16", "every", {"every": 16}))
        snaps = [4, 10]
    else:
        snaps = [4]
    out += [(f"binomial s={s}", "binomial", {"snapshots": s}) for s in snaps if s < n]
    return out


def measure_group(problem: str, n: int, rounds: int, quick: bool, jax_peer: bool) -> list[dict]:
    """Every variant of one (problem, n), timed in interleaved rounds."""
    import jax

    prob = PROBLEMS[problem](n)
    args = prob["args"]
    argnums = tuple(range(len(args)))
    calls, rows = {}, {}
    for label, policy, kw in _variants(problem, n, quick):
        stats: list = []
        grad = dt.grad(loss_fn(prob, n, policy, kw, stats), argnums=argnums)
        calls[label] = grad
        row = {"problem": problem, "n": n, "variant": label, "policy": policy,
               "snapshots": kw.get("snapshots", ""), "every": kw.get("every", "")}
        g = grad(*args)
        st = stats[-1]
        row.update(forward_steps=st.forward_steps, recorded_steps=st.recorded_steps,
                   recordings=st.recordings, peak_snapshots=st.peak_snapshots)
        k = kw.get("every") or (math.ceil(math.sqrt(n)) if policy == "sqrt" else None)
        row["formula_steps"] = (n + binomial_cost(n, kw["snapshots"]) if policy == "binomial"
                                else n + (n - 1) // k * k if k else n)
        row["grad"] = g
        with dt.count() as c:
            dt.vjp(loss_fn(prob, n, policy, kw, []), *args)
        row["tape_bytes"] = c.tape_bytes
        row["peak_bytes"] = _peak(lambda: grad(*args))  # noqa: B023
        rows[label] = row
    ref = rows["none"]["grad"]
    plain = loss_fn(prob, n, "none", {}, [])
    calls["eval"] = lambda *a: plain(*a)
    direction = [np.ones_like(np.asarray(a, float)) if not isinstance(a, list)
                 else [(np.ones_like(W), np.ones_like(c)) for W, c in a] for a in args]
    calls["forward"] = lambda *a: dt.jvp(plain, a, tuple(direction))
    rows["forward"] = {"problem": problem, "n": n, "variant": "forward (one JVP)",
                       "policy": "forward", "snapshots": "", "every": "", "forward_steps": n,
                       "recorded_steps": 0, "recordings": 0, "peak_snapshots": 0,
                       "formula_steps": n, "tape_bytes": 0, "rel_err": "",
                       "peak_bytes": _peak(lambda: calls["forward"](*args))}
    if jax_peer:
        jargs = jax.tree_util.tree_map(lambda a: jax.numpy.asarray(a, float), args)
        for remat in (False, True):
            jloss, jgrad = jax_fns(prob, n, remat)
            name = "jax scan" + (" + checkpoint" if remat else "")
            jit = jax.jit(jgrad)
            calls[name + " eager"] = lambda *a, f=jgrad: jax.block_until_ready(f(*jargs))
            calls[name + " jit"] = lambda *a, f=jit: jax.block_until_ready(f(*jargs))
            calls[name + " eval eager"] = lambda *a, f=jloss: jax.block_until_ready(f(*jargs))
            jit_loss = jax.jit(jloss)
            calls[name + " eval jit"] = lambda *a, f=jit_loss: jax.block_until_ready(f(*jargs))
            mem = jit.lower(*jargs).compile().memory_analysis()
            for mode in ("eager", "jit"):
                rows[f"{name} {mode}"] = {
                    "problem": problem, "n": n, "variant": f"{name} {mode}",
                    "policy": "jax", "snapshots": "", "every": "", "rel_err":
                    _rel_err(calls[f"{name} {mode}"](), ref), "xla_temp_bytes":
                    getattr(mem, "temp_size_in_bytes", "") if mode == "jit" else ""}
    # the measurement base's rounds: warm-up (and JAX's compilations), calibrated batches,
    # an order that rotates from round to round
    times = interleaved({k: partial(f, *args) for k, f in calls.items()},
                        TimingConfig(target_s=0.02, repeats=rounds, warmup=1))
    med = {k: statistics.median(v) for k, v in times.items()}
    out = []
    for label, row in rows.items():
        row["time_s"] = med[label]
        jax_eval = label.replace(" eager", " eval eager").replace(" jit", " eval jit")
        row["eval_s"] = med[jax_eval] if label.startswith("jax") else med["eval"]
        row["none_s"] = med["none"]
        if "grad" in row:
            row["rel_err"] = _rel_err(row.pop("grad"), ref)
        out.append(row)
    return out


def recompute_counts(snapshots: int = 10, quick: bool = False) -> list[dict]:
    """Step evaluations of one ``dt.grad`` of a cheap scalar loop, binomial, against n."""
    sizes = [10, 20, 50, 100, 200, 500, 1000] + ([] if quick else [2000, 5000, 10000])
    rows = []
    for n in sizes:
        calls = [0]

        def step(x):
            calls[0] += 1  # noqa: B023
            return x * 0.9999 + 0.0001

        dt.grad(lambda x: dt.checkpoint_loop(step, x, n, snapshots=snapshots))(0.5)  # noqa: B023
        rows.append({"problem": "scalar", "n": n, "variant": f"binomial s={snapshots}",
                     "policy": "binomial", "snapshots": snapshots, "every": "",
                     "forward_steps": calls[0],
                     "formula_steps": n + binomial_cost(n, snapshots)})
    return rows


SIZES = {"mlp": ((16, 64, 256, 1024), (16, 64)), "rk4": ((100, 1000, 10000), (100, 1000)),
         "lesson": ((25, 100, 400), (10, 25))}


def cells(quick: bool = False, sizes: Sequence[int] | None = None,
          problems: Sequence[str] | None = None) -> list[tuple[str, int]]:
    """Every (problem, n) measured; ("scalar", 0) is the recompute count against n.
    ``sizes`` replaces the loops' lengths n."""
    chosen = pick(problems, [*SIZES, "scalar"], "--problems", f"{NAME}'s problems")
    out = [(p, n) for p, (full, small) in SIZES.items() if p in chosen
           for n in (sizes or (small if quick else full))]
    return out + ([("scalar", 0)] if "scalar" in chosen else [])


def measure_cell(problem: str, n: int, quick: bool = False) -> list[dict]:
    """The rows of one cell of :func:`cells`."""
    from dualtape.lessons import enable_jax_x64

    enable_jax_x64()
    if problem == "scalar":
        return recompute_counts(quick=quick)
    return measure_group(problem, n, 1 if quick else 3, quick, jax_peer=problem != "lesson")


def measure(quick: bool = False, progress: bool = False) -> list[dict]:
    """Every cell's rows, in memory (``run`` appends them to data.csv cell by cell)."""
    rows = []
    for problem, n in cells(quick):
        if progress:
            print(f"  {problem} n={n}", file=sys.stderr, flush=True)
        rows += measure_cell(problem, n, quick)
    return rows


def run(study: Study | None = None, *, out: Path | str = RESULTS, quick: bool = False,
        sizes: Sequence[int] | None = None, problems: Sequence[str] | None = None,
        progress: bool = False, command: list[str] | None = None) -> RunReport:
    """Measure every missing cell into data.csv, resumably, then draw the figures and
    write summary.md."""
    return run_cells(NAME, out, cells(quick, sizes, problems),
                     lambda p, n: measure_cell(p, n, quick), COLUMNS, quick=quick,
                     sizes=sizes, command=command, plot=plot, summary=summary,
                     progress=progress)


STUDY = Study(
    name=NAME,
    description=("Checkpointing: peak memory, tape bytes, time and step evaluations of "
                 "dt.checkpoint_loop under every policy (none, every k, sqrt, binomial) for a "
                 "deep MLP, an RK4 integration and a training run, with JAX's scan and "
                 "jax.checkpoint beside them."),
    run=run,
    plot=plot,
    summary=summary,
)


def main(argv: list[str] | None = None) -> int:
    """Same as ``dualtape study run checkpointing [options]``."""
    return study_main(NAME, argv)


if __name__ == "__main__":
    raise SystemExit(main())
