"""Sparse Jacobians: what detection, colouring and one coloured pass cost against dense Jacobians.

Five families from ``dualtape.sparse.families`` (a 1-D reaction-diffusion residual, a
2-D 5-point stencil, a block-diagonal map with blocks of 8, an arrowhead with one
dense row, a random map of density 1%) are measured at growing n with: one
evaluation of f (``primal``), pattern detection (``detect``), colouring in both modes
(``color``), the coloured Jacobian by forward and by reverse mode (``colored_fwd``,
``colored_rev``: one vector-mode pass with one seed per colour, pattern and colouring
already known), the dense Jacobian by dualtape's vector-mode ``jacfwd``/``jacrev``,
``jax.jacfwd`` under ``jax.jit`` and, when installed, ``sparsejac`` under ``jax.jit``
(the dense and JAX methods only while the m x n Jacobian has at most 2^24 entries).

Run: ``dualtape study run sparse_jacobians`` (``--quick`` for a smoke run into
``results/quick/``) or ``python studies/sparse_jacobians.py``.  Writes ``data.csv``
(one row per family, n, method, measure), ``env.json``, ``colors``, ``cost`` and
``spy`` figures (PNG and SVG) and ``summary.md`` into ``results/sparse_jacobians/``.
"""

from __future__ import annotations

import csv
import io
import math
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import dualtape as dt
from dualtape.study import RunReport, Study, TimingConfig
from dualtape.study.custom import (
    load_csv,
    measured_quick,
    pick,
    run_cells,
    save_figure,
    study_main,
)
from dualtape.study.measure import timings
from dualtape.study.storage import write_atomic

NAME = "sparse_jacobians"
RESULTS = Path(__file__).resolve().parents[1] / "results" / NAME
BANDED = ("reaction_diffusion", "stencil_2d", "block_diagonal")
SIZES = {name: (100, 1000, 3000, 10000) for name in BANDED}
# x[idx] in random_sparse makes dense tangents of n x n x 0.01n: kept to n <= 1000
SIZES.update(arrowhead=(100, 1000, 3000), random_sparse=(100, 300, 1000))
QUICK_SIZES = (30, 100, 300)
DENSE_CAP = 2 ** 24  # largest m * n for which the dense Jacobians are measured
TIMING = TimingConfig(target_s=0.03, repeats=5, warmup=1)
QUICK_TIMING = TimingConfig(target_s=0.005, repeats=2, warmup=1)
FIELDS = ("family", "n", "m", "method", "measure", "value")
COST_METHODS = ("colored_fwd", "colored_rev", "dense_fwd", "dense_rev", "jax_jacfwd_jit",
                "sparsejac_jit", "detect_color")


def _best_time(fn: Callable[[], Any], cfg: TimingConfig) -> float:
    """Seconds per call, the fastest of the repeats (the least disturbed by other load)."""
    return float(np.min(timings(fn, cfg)[1]))


def _jax_methods(fam: Any, pattern: Any, mode: str) -> dict[str, Callable[[], Any]]:
    """JAX's dense jacfwd under jit, and sparsejac (if installed) under jit, compiled."""
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    x = jnp.asarray(fam.x)
    dense = jax.jit(jax.jacfwd(fam.f))
    out = {"jax_jacfwd_jit": lambda: dense(x).block_until_ready()}
    try:
        import sparsejac
        from jax.experimental import sparse as jsparse
    except ImportError:
        return out
    jac = (sparsejac.jacfwd if mode == "fwd" else sparsejac.jacrev)(
        fam.f, sparsity=jsparse.BCOO.from_scipy_sparse(pattern.astype(np.float64)))
    sparse_jit = jax.jit(jac)
    out["sparsejac_jit"] = lambda: jax.block_until_ready(sparse_jit(x))
    return out


def measure_cell(name: str, n: int, cfg: TimingConfig, jax_peers: bool = True) -> list[dict]:
    """All measurements of one family at one size, as CSV rows."""
    from dualtape.sparse.families import make

    fam = make(name, n)
    x = fam.x
    rows: list[dict] = []
    t_detect = _best_time(lambda: dt.jacobian_sparsity(fam.f, x), cfg)
    pattern = dt.jacobian_sparsity(fam.f, x)
    m = pattern.shape[0]

    def add(method: str, measure: str, value: float) -> None:
        rows.append(dict(family=name, n=fam.n, m=m, method=method, measure=measure, value=value))

    add("primal", "time_s", _best_time(lambda: fam.f(x), cfg))
    add("detect", "time_s", t_detect)
    add("color", "time_s", _best_time(lambda: dt.color_jacobian(pattern, "auto"), cfg))
    add("pattern", "nnz", pattern.nnz)
    add("pattern", "exact", float((pattern != fam.pattern).nnz == 0))
    colorings = {mode: dt.color_jacobian(pattern, mode) for mode in ("fwd", "rev")}
    auto = dt.color_jacobian(pattern)
    add("color", "auto_is_fwd", float(auto.mode == "fwd"))
    results = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dt.DensePatternWarning)
        for mode, col in colorings.items():
            add(f"color_{mode}", "n_colors", col.n_colors)
            jac = dt.sparse_jacobian(fam.f, sparsity=pattern, coloring=col, mode=mode)
            results[mode] = jac(x).toarray()
            add(f"colored_{mode}", "time_s", _best_time(lambda jac=jac: jac(x), cfg))
    add("colored", "fwd_rev_diff", _rel(results["fwd"], results["rev"]))
    if m * fam.n <= DENSE_CAP:
        add("dense_fwd", "time_s", _best_time(lambda: dt.jacfwd(fam.f)(x), cfg))
        add("dense_rev", "time_s", _best_time(lambda: dt.jacrev(fam.f)(x), cfg))
        if jax_peers:
            peers = _jax_methods(fam, pattern, auto.mode)
            dense = np.asarray(peers["jax_jacfwd_jit"]())
            add("colored", "rel_err_vs_jax", max(_rel(r, dense) for r in results.values()))
            if "sparsejac_jit" in peers:
                add("sparsejac_jit", "rel_err_vs_jax", _rel(_densify(peers["sparsejac_jit"]()),
                                                            dense))
            for method, fn in peers.items():
                add(method, "time_s", _best_time(fn, cfg))
    return rows


def _densify(bcoo: Any) -> np.ndarray:
    return np.asarray(bcoo.todense())


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))


def _csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({**r, "value": repr(float(r["value"]))})
    return buf.getvalue()


def load(out: Path | str = RESULTS) -> dict[tuple[str, int, str, str], float]:
    """``data.csv`` as {(family, n, method, measure): value}; also (family, n, 'm', 'm')."""
    data = {}
    for r in load_csv(out, NAME, ("n",), ("m", "value")):
        data[(r["family"], r["n"], r["method"], r["measure"])] = r["value"]
        data[(r["family"], r["n"], "m", "m")] = r["m"]
    return data


def derived(data: dict) -> dict[tuple[str, int], dict[str, float]]:
    """Per (family, n): times relative to one evaluation of f, colours, break-even."""
    cells: dict[tuple[str, int], dict[str, float]] = {}
    for (fam, n, method, measure), v in data.items():
        cell = cells.setdefault((fam, n), {})
        cell[f"{method}.{measure}"] = v
    for cell in cells.values():
        primal = cell["primal.time_s"]
        cell["detect_color.time_s"] = cell["detect.time_s"] + cell["color.time_s"]
        for method in COST_METHODS:
            if f"{method}.time_s" in cell:
                cell[f"{method}.rel"] = cell[f"{method}.time_s"] / primal
        cell["colored.time_s"] = min(cell["colored_fwd.time_s"], cell["colored_rev.time_s"])
        cell["colored.rel"] = cell["colored.time_s"] / primal
        if "dense_fwd.time_s" in cell:
            dense = min(cell["dense_fwd.time_s"], cell["dense_rev.time_s"])
            saved = dense - cell["colored.time_s"]
            cell["break_even"] = cell["detect_color.time_s"] / saved if saved > 0 else math.inf
            cell["speedup_vs_jax"] = cell.get("jax_jacfwd_jit.time_s", math.nan) / \
                cell["colored.time_s"]
    return cells


def plot(study: Study | None = None, *, out: Path | str = RESULTS) -> list[Path]:
    """Colours against n, cost over one evaluation against n, and two spy plots."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    cells = derived(load(out))
    families = sorted({f for f, _ in cells}, key=list(SIZES).index)
    files = []
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for i, fam in enumerate(families):
        ns = sorted(n for f, n in cells if f == fam)
        for mode, style in (("fwd", "-o"), ("rev", "--s")):
            ax.plot(ns, [cells[(fam, n)][f"color_{mode}.n_colors"] for n in ns], style,
                    color=f"C{i}", label=f"{fam} ({mode})", ms=4)
    ax.set(xscale="log", yscale="log", xlabel="n (inputs)", ylabel="colours",
           title="Colours against n (forward: columns, reverse: rows)")
    ax.legend(fontsize=7, ncol=2)
    ax.grid(True, which="major", alpha=0.3)
    files += save_figure(fig, out, "colors")
    plt.close(fig)
    fig, axes = plt.subplots(1, len(families), figsize=(3.4 * len(families), 3.6), sharey=True)
    for ax, fam in zip(np.atleast_1d(axes), families, strict=True):
        ns = sorted(n for f, n in cells if f == fam)
        for j, method in enumerate(COST_METHODS):
            pts = [(n, cells[(fam, n)][f"{method}.rel"]) for n in ns
                   if f"{method}.rel" in cells[(fam, n)]]
            if pts:
                ax.plot(*zip(*pts, strict=True), "-o", ms=3, color=f"C{j}", label=method)
        ax.set(xscale="log", yscale="log", xlabel="n", title=fam)
        ax.grid(True, which="major", alpha=0.3)
    np.atleast_1d(axes)[0].set_ylabel("time / one evaluation of f")
    np.atleast_1d(axes)[0].legend(fontsize=7)
    fig.tight_layout()
    files += save_figure(fig, out, "cost")
    plt.close(fig)
    files += _spy(out, plt)
    return files


def _spy(out: Path, plt: Any) -> list[Path]:
    from dualtape.sparse.families import make

    fig, axes = plt.subplots(1, 2, figsize=(7, 3.6))
    for ax, (name, n) in zip(axes, (("reaction_diffusion", 30), ("stencil_2d", 64)), strict=True):
        fam = make(name, n)
        pattern = dt.jacobian_sparsity(fam.f, fam.x)
        coloring = dt.color_jacobian(pattern, "fwd")
        rows, cols = pattern.nonzero()
        ax.scatter(cols, rows, c=coloring.colors[cols], cmap="tab10", s=8, marker="s",
                   vmin=0, vmax=9)
        ax.set(xlim=(-1, fam.n), ylim=(pattern.shape[0], -1), aspect="equal",
               title=f"{name}, n={fam.n}: {coloring.n_colors} colours")
    fig.tight_layout()
    files = save_figure(fig, out, "spy")
    plt.close(fig)
    return files


def _fmt(v: float, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if math.isinf(v):
        return "never"
    return f"{v:.{digits}g}"


def summary(study: Study | None = None, *, out: Path | str = RESULTS) -> Path:
    """Write ``summary.md``: colours, costs over one evaluation, detection, break-even, checks."""
    out = Path(out)
    cells = derived(load(out))
    timing = QUICK_TIMING if measured_quick(out, NAME) else TIMING
    families = sorted({f for f, _ in cells}, key=list(SIZES).index)
    lines = [f"# {NAME}", "", "![colours](colors.png)", "", "![cost](cost.png)", "",
             "![spy](spy.png)", "",
             "Time of each method divided by the time of one evaluation of f (plain NumPy "
             f"through dualtape.numpy), the fastest of {timing.repeats} repeated timings. "
             "`colored` is the better of "
             "the coloured forward and reverse passes (pattern and colouring already known); "
             "`dense` the better of dualtape's vector-mode jacfwd and jacrev; `jax` is "
             "`jax.jit(jax.jacfwd(f))` after compilation; `detect+color` is pattern detection "
             "plus colouring in both modes; `break-even` is after how many Jacobians "
             "detect+color has paid for itself against the dense one. Dense methods run while "
             f"m x n <= 2^{int(math.log2(DENSE_CAP))}.", ""]
    lines += ["| family | n | colours fwd | colours rev | colored | dense fwd | dense rev | jax "
              "jit | sparsejac jit | detect+color | break-even | speedup over jax |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for fam in families:
        for n in sorted(n for f, n in cells if f == fam):
            c = cells[(fam, n)]
            lines.append(
                f"| {fam} | {n} | {c['color_fwd.n_colors']:.0f} | {c['color_rev.n_colors']:.0f} | "
                f"{_fmt(c['colored.rel'])} | {_fmt(c.get('dense_fwd.rel', math.nan))} | "
                f"{_fmt(c.get('dense_rev.rel', math.nan))} | "
                f"{_fmt(c.get('jax_jacfwd_jit.rel', math.nan))} | "
                f"{_fmt(c.get('sparsejac_jit.rel', math.nan))} | {_fmt(c['detect_color.rel'])} | "
                f"{_fmt(c.get('break_even', math.nan))} | "
                f"{_fmt(c.get('speedup_vs_jax', math.nan))} |")
    lines += ["", "## Checks", ""] + _checks(cells) + [
        "", "## Regenerate", "",
        f"`dualtape study run {NAME}` (about ten minutes on two busy cores; `--quick` for "
        f"a smoke run), then `dualtape study plot {NAME}` / `dualtape study summary {NAME}` redraw "
        "from data.csv.", ""]
    path = out / "summary.md"
    write_atomic(path, "\n".join(lines))
    return path


def _checks(cells: dict) -> list[str]:
    exact = all(c["pattern.exact"] == 1.0 for c in cells.values())
    errs = [c["colored.rel_err_vs_jax"] for c in cells.values() if "colored.rel_err_vs_jax" in c]
    agree = max(c["colored.fwd_rev_diff"] for c in cells.values())
    out = [f"- detected pattern equals the true pattern in every cell: {exact}",
           f"- coloured Jacobians against `jax.jacfwd`: largest relative error "
           f"{_fmt(max(errs, default=math.nan))}; forward against reverse: {_fmt(agree)}"]
    tri = sorted((n, c) for (f, n), c in cells.items() if f == "reaction_diffusion")
    if tri:
        colours = {int(c["color_fwd.n_colors"]) for _, c in tri} | \
            {int(c["color_rev.n_colors"]) for _, c in tri}
        n_max, c_max = tri[-1]
        out.append(f"- tridiagonal colours at every n, both modes: {sorted(colours)}; at "
                   f"n = {n_max} the coloured Jacobian costs {_fmt(c_max['colored.rel'])} "
                   "evaluations of f")
        dense = [(n, c) for n, c in tri if "jax_jacfwd_jit.time_s" in c]
        if dense:
            n_d, c_d = dense[-1]
            out.append(f"- at n = {n_d}, the largest n with the dense Jacobian measured, the "
                       f"coloured Jacobian is {_fmt(c_d['speedup_vs_jax'])}x faster than "
                       "jax.jacfwd under jit")
    return out


def run(study: Study | None = None, *, out: Path | str = RESULTS, quick: bool = False,
        sizes: Sequence[int] | None = None, problems: Sequence[str] | None = None,
        progress: bool = False, command: list[str] | None = None) -> RunReport:
    """Measure every missing (family, n) into data.csv, resumably, then draw the figures and
    write summary.md.  ``problems`` chooses among the families; ``sizes`` replaces n."""
    cfg = QUICK_TIMING if quick else TIMING
    chosen = pick(problems, list(SIZES), "--problems", f"{NAME}'s families")
    todo = [(name, n) for name in chosen
            for n in (sizes or (QUICK_SIZES if quick else SIZES[name]))]
    return run_cells(NAME, out, todo, lambda name, n: measure_cell(name, n, cfg), FIELDS,
                     quick=quick, sizes=sizes, command=command, plot=plot, summary=summary,
                     progress=progress)


STUDY = Study(
    name=NAME,
    description=("Sparse Jacobians: colours, cost over one evaluation of f, and the cost of "
                 "detection and colouring against n for five sparse families, with dense "
                 "dualtape, jax.jacfwd under jit and sparsejac as peers."),
    run=run,
    plot=plot,
    summary=summary,
)


def main(argv: list[str] | None = None) -> int:
    """Same as ``dualtape study run sparse_jacobians [options]``."""
    return study_main(NAME, argv)


if __name__ == "__main__":
    raise SystemExit(main())
