"""Four ways to take a Hessian, and a Hessian-vector product, against n.

``dt.hessian(f, mode=...)`` composes the two engines outer-over-inner: ``fwd-rev``
(JAX's choice), ``rev-fwd``, ``rev-rev`` and ``fwd-fwd``, each in vector mode; ``dt.hvp``
is one forward-over-reverse pass.  Two problems: a dense quadratic-plus-tanh map
f(x) = ½ xᵀAx + Σ tanh(Bx) (A, B of shape (n, n), so one evaluation costs ~n² FLOPs)
and the lesson's MLP loss over its n parameters (one evaluation ~n FLOPs).  JAX's
``hessian``, eager and jit, is timed beside, and every Hessian is checked against it.

Theory, in FLOPs, with E the cost of one evaluation: the HVP is a constant times E;
``fwd-rev`` and ``rev-rev`` push n directions through a gradient (n · E); ``rev-fwd``
pulls n cotangents back through a pass that already carries n tangents, and
``fwd-fwd`` carries n × n tangent pairs: n² times the cost of the parts of f where the
two derivatives meet.  In the MLP every layer multiplies two traced values (weights and
activations), so that is n² · E; in the quadratic-plus-tanh map the seeds of the inner
pass are constants, so the matrix products carry only n tangents each (n · n²) and only
the elementwise tanh carries n × n pairs (n² · n).  Against n the FLOP slopes are thus
2, 3, 3, 3, 3 (HVP, fwd-rev, rev-rev, rev-fwd, fwd-fwd) for the dense map and
1, 2, 2, 3, 3 for the MLP.

Run: ``dualtape study run hessian_modes`` (a few minutes) or
``python studies/hessian_modes.py``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dualtape.study import RunReport, Study, TimingConfig, get_problem
from dualtape.study.custom import distinct, load_csv, pick, run_cells, save_figure, study_main
from dualtape.study.storage import write_atomic

NAME = "hessian_modes"
RESULTS = Path(__file__).resolve().parents[1] / "results" / NAME
SIZES = {"quadratic_tanh": (4, 8, 16, 32, 64, 128), "mlp_loss": (16, 32, 64, 128, 256, 512)}
QUICK_SIZES = {"quadratic_tanh": (4, 16), "mlp_loss": (16, 64)}
COMPOSITIONS = ("fwd-fwd", "fwd-rev", "rev-fwd", "rev-rev")
METHODS = (*COMPOSITIONS, "hvp", "jax_hessian", "jax_hessian_jit")
THEORY = {"quadratic_tanh": {"hvp": 2, "fwd-rev": 3, "rev-rev": 3, "rev-fwd": 3, "fwd-fwd": 3},
          "mlp_loss": {"hvp": 1, "fwd-rev": 2, "rev-rev": 2, "rev-fwd": 3, "fwd-fwd": 3}}
TIMING = TimingConfig(target_s=0.005, repeats=7, warmup=1, blas_threads=1, clock="cpu")
QUICK_TIMING = TimingConfig(target_s=0.002, repeats=3, warmup=1, blas_threads=1, clock="cpu")
COLUMNS = ("problem", "n", "method", "time_s", "time_q1", "time_q3", "flops", "rel_error")


def quadratic_tanh(n: int):
    """f(x) = ½ xᵀAx + Σ tanh(Bx), A symmetric and B dense, both (n, n); and a point."""
    import dualtape.numpy as dnp

    rng = np.random.default_rng([7, n])
    a = rng.standard_normal((n, n)) / math.sqrt(n)
    a = (a + a.T) / 2
    b = rng.standard_normal((n, n)) / math.sqrt(n)

    def f(x):
        return 0.5 * dnp.sum(x * dnp.matmul(a, x)) + dnp.sum(dnp.tanh(dnp.matmul(b, x)))

    return f, rng.standard_normal(n)


def instance(problem: str, n: int):
    """(f, x) of one cell."""
    if problem == "quadratic_tanh":
        return quadratic_tanh(n)
    inst = get_problem("mlp_loss").instance(n, 1, 2)
    return inst.f, inst.x


def measure_cell(problem: str, n: int, timing: TimingConfig,
                 methods: Sequence[str] = METHODS) -> list[dict[str, Any]]:
    """``methods``' times (interleaved), FLOPs and errors against jax.hessian at one cell."""
    import dualtape as dt
    from dualtape.comparison.methods import enable_jax
    from dualtape.comparison.run import rel_error
    from dualtape.measure.timing import interleaved

    jax = enable_jax()
    f, x = instance(problem, n)
    v = np.random.default_rng(n).standard_normal(x.size)
    hessians = {c: dt.hessian(f, mode=c) for c in COMPOSITIONS}
    runners = {c: (lambda h=h: h(x)) for c, h in hessians.items()}
    runners["hvp"] = lambda: dt.hvp(f, (x,), (v,))
    jx = jax.numpy.asarray(x)
    eager, jitted = jax.hessian(f), jax.jit(jax.hessian(f))
    runners["jax_hessian"] = lambda: jax.block_until_ready(eager(jx))
    runners["jax_hessian_jit"] = lambda: jax.block_until_ready(jitted(jx))
    ref = np.asarray(eager(jx))
    samples = interleaved({k: runners[k] for k in methods}, timing)
    rows = []
    for name in methods:
        flops, err = math.nan, math.nan
        if not name.startswith("jax"):
            with dt.count() as c:
                got = runners[name]()
            flops = float(c.flops)
            err = rel_error(got, ref @ v if name == "hvp" else ref)
        else:
            err = rel_error(runners[name](), ref)
        q1, med, q3 = np.percentile(samples[name], [25, 50, 75])
        rows.append({"problem": problem, "n": int(x.size), "method": name, "time_s": float(med),
                     "time_q1": float(q1), "time_q3": float(q3), "flops": flops,
                     "rel_error": err})
    return rows


def load(out: Path | str) -> list[dict[str, Any]]:
    """The rows of ``out/data.csv``, numbers parsed."""
    return load_csv(out, NAME, ("n",), ("time_s", "time_q1", "time_q3", "flops", "rel_error"),
                    key=("cell", "method"))


def slope(rows: list[dict[str, Any]], problem: str, method: str, key: str) -> float:
    """Least-squares slope of log(key) against log(n) over the upper half of the sizes
    (at least three), as every sweep study fits them (``analysis.fit_power``)."""
    from dualtape.study.analysis import fit_power  # pandas: only when summarising

    mine = [r for r in rows if r["problem"] == problem and r["method"] == method]
    fit = fit_power(np.array([r["n"] for r in mine], float),
                    np.array([math.nan if r[key] is None else r[key] for r in mine], float))
    return math.nan if fit is None else fit[0]


def plot(study: Study | None = None, *, out: Path | str = RESULTS) -> list[Path]:
    """Time against n, one line per method, one panel per problem (log-log)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    rows = load(out)
    problems = [p for p in SIZES if any(r["problem"] == p for r in rows)]
    fig, axes = plt.subplots(1, len(problems), figsize=(6.2 * len(problems), 4.8), squeeze=False)
    styles = {"fwd-fwd": ("#9467bd", "-"), "fwd-rev": ("#1f77b4", "-"),
              "rev-fwd": ("#ff7f0e", "-"), "rev-rev": ("#d62728", "-"), "hvp": ("#2ca02c", "--"),
              "jax_hessian": ("#7f7f7f", ":"), "jax_hessian_jit": ("#000000", ":")}
    for ax, problem in zip(axes[0], problems, strict=True):
        for method in METHODS:
            pts = sorted((r["n"], r["time_s"]) for r in rows
                         if r["problem"] == problem and r["method"] == method)
            color, ls = styles[method]
            s = slope(rows, problem, method, "time_s")
            ax.plot([p[0] for p in pts], [p[1] * 1e3 for p in pts], ls, color=color, marker="o",
                    ms=3, label=f"{method} (slope {s:.2f})")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("n (inputs)")
        ax.set_ylabel("median CPU time per call (ms)")
        ax.set_title(problem)
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("The Hessian by four compositions of forward and reverse mode, the HVP, "
                 "and JAX's hessian", fontsize=11)
    fig.tight_layout()
    files = save_figure(fig, out, "hessian_modes")
    plt.close(fig)
    return files


def summary(study: Study | None = None, *, out: Path | str = RESULTS) -> Path:
    """Write ``summary.md``: fitted slopes (time and FLOPs) next to theory, the errors."""
    out = Path(out)
    rows = load(out)
    worst = max((r["rel_error"] for r in rows if math.isfinite(r["rel_error"])), default=0.0)
    lines = [f"# {NAME}", "", "![time against n](hessian_modes.png)", "",
             "Slopes of log(cost) against log(n), fitted over the upper half of the sizes; "
             "theory counts FLOPs (see the study's docstring). FLOPs are dualtape's cost "
             "model; times are medians of the process's CPU time over interleaved rounds. "
             "The time slopes are lower than the FLOP slopes because at these sizes a "
             "primitive's fixed cost (Python dispatch) still dominates, and vector mode keeps "
             "the number of primitives independent of n.",
             ""]
    for problem in SIZES:
        if not any(r["problem"] == problem for r in rows):
            continue
        ns = sorted({r["n"] for r in rows if r["problem"] == problem})
        top = max(ns)
        at = {r["method"]: r for r in rows if r["problem"] == problem and r["n"] == top}
        lines += [f"## {problem} (n = {', '.join(map(str, ns))})", ""]
        if any(c in at for c in COMPOSITIONS):
            fastest = min((c for c in COMPOSITIONS if c in at), key=lambda c: at[c]["time_s"])
            lines += [f"At n = {top} the fastest composition is **{fastest}** "
                      f"({at[fastest]['time_s'] * 1e3:.3g} ms).", ""]
        lines += ["| method | FLOP slope | theory | time slope | time at n = "
                  f"{top} (ms) |", "|---|---|---|---|---|"]
        for method in (m for m in METHODS if m in at):  # a run with --methods has fewer
            theory = THEORY[problem].get(method)
            lines.append(f"| {method} | {slope(rows, problem, method, 'flops'):.2f} | "
                         f"{theory if theory is not None else '—'} | "
                         f"{slope(rows, problem, method, 'time_s'):.2f} | "
                         f"{at[method]['time_s'] * 1e3:.3g} |")
        lines.append("")
    lines += [f"Largest relative error of any Hessian (or H·v) against `jax.hessian`: "
              f"{worst:.1e}.", "", "## Regenerate", "",
              f"`dualtape study run {NAME}` (`rm -rf results/{NAME}` first).", ""]
    path = out / "summary.md"
    write_atomic(path, "\n".join(lines))
    return path


def run(study: Study | None = None, *, out: Path | str = RESULTS, quick: bool = False,
        sizes: Sequence[int] | None = None, problems: Sequence[str] | None = None,
        methods: Sequence[str] | None = None, progress: bool = False,
        command: list[str] | None = None) -> RunReport:
    """Measure every missing (problem, n, method) into data.csv, resumably, then draw the
    figure and write summary.md.  ``sizes`` replaces both problems' n; ``problems`` and
    ``methods`` choose among the study's."""
    timing = QUICK_TIMING if quick else TIMING
    chosen = pick(problems, list(SIZES), "--problems", f"{NAME}'s problems")
    wanted = pick(methods, METHODS, "--methods", f"{NAME}'s methods")
    default = QUICK_SIZES if quick else SIZES
    todo = distinct([(p, n) for p in chosen for n in (sizes or default[p])],
                    lambda c: (c[0], instance(*c)[1].size))
    return run_cells(NAME, out, todo, lambda p, n, missing: measure_cell(p, n, timing, missing),
                     COLUMNS, parts=("method", wanted), quick=quick, sizes=sizes,
                     command=command, plot=plot, summary=summary, progress=progress)


STUDY = Study(
    name=NAME,
    description=("The Hessian by fwd-fwd, fwd-rev, rev-fwd and rev-rev, and the HVP, against "
                 "n, on a dense quadratic-plus-tanh map and the lesson MLP loss, with JAX's "
                 "hessian (eager and jit): fitted slopes against theory."),
    run=run, plot=plot, summary=summary,
)


def main(argv: list[str] | None = None) -> int:
    """Same as ``dualtape study run hessian_modes [options]``."""
    return study_main(NAME, argv)


if __name__ == "__main__":
    raise SystemExit(main())
