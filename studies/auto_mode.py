"""Is ``dt.choose_mode`` right?  Its pick against the measured fastest method, cell by cell.

For every cell, the jacobian_scaling (n, m) grid of the dense two-layer map and a few
sizes of each other built-in problem family, ``choose_mode`` picks a mode and a chunk
from counts alone; then every dualtape Jacobian method (forward and reverse mode, one
direction per pass, chunks of 4, 16 and 64 where smaller than the number of directions,
and vector mode) is timed in the same process, interleaved round by round, with
OpenBLAS held to one thread (a helper thread of a multi-threaded GEMM that gets
descheduled on a busy machine would otherwise decide the race) and the process's CPU
time as the clock (on a shared machine wall time adds whatever the scheduler gave to
others; on a quiet one the two agree).  The *regret* of a cell
is the median time of the pick over the median time of the fastest method.

Run: ``dualtape study run auto_mode`` (a few minutes; ``--quick`` for a smoke run into
``results/quick/``) or ``python studies/auto_mode.py``.  It writes ``data.csv`` (one row
per cell and method), ``env.json``, ``regret.png``/``.svg`` and ``summary.md``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dualtape.study import RunReport, Study, TimingConfig, get_problem
from dualtape.study.custom import (
    distinct,
    load_csv,
    measured_quick,
    pick,
    run_cells,
    save_figure,
    study_main,
)
from dualtape.study.storage import write_atomic

NAME = "auto_mode"
RESULTS = Path(__file__).resolve().parents[1] / "results" / NAME
GRID = (1, 4, 16, 64, 256, 1024)  # the jacobian_scaling grid
QUICK_GRID = (1, 16, 256)
OTHERS = (
    [("broadcast_outer", n, m, 1) for n in (1, 4, 16, 64) for m in (16, 256)]
    + [("elementwise_sum", n, 1, 1) for n in (16, 256, 4096)]
    + [("mlp_loss", n, 1, 2) for n in (128, 1024)]
    + [("deep_chain", n, m, 3) for n in (16, 64, 256) for m in (1, 64)]
)
QUICK_OTHERS = [("broadcast_outer", 4, 256, 1), ("elementwise_sum", 256, 1, 1),
                ("mlp_loss", 128, 1, 2), ("deep_chain", 64, 1, 3)]
TIMING = TimingConfig(target_s=0.02, repeats=11, warmup=1, blas_threads=1, clock="cpu")
QUICK_TIMING = TimingConfig(target_s=0.002, repeats=3, warmup=1, blas_threads=1, clock="cpu")
WITHIN = 1.1
COLUMNS = ("problem", "n", "m", "depth", "method", "time_s", "time_q1", "time_q3",
           "predicted", "picked", "fastest", "regret")


def cells(quick: bool, sizes: Sequence[int] | None = None,
          problems: Sequence[str] | None = None) -> list[tuple[str, int, int, int]]:
    """Every (problem, n, m, depth) the study measures.  ``sizes`` replaces the dense
    map's grid and the other families' n (each keeps its m and depth).  Requests that
    give the same instance (the MLP rounds n to a parameter count: mlp_loss at 8 and 16
    are both n = 8) are one cell, the first of them."""
    grid = sizes or (QUICK_GRID if quick else GRID)
    dense = [("dense_two_layer", n, m, 1) for n in grid for m in grid]
    others = QUICK_OTHERS if quick else OTHERS
    if sizes:
        shapes = dict.fromkeys((p, m, d) for p, _, m, d in others)
        others = [(p, n, m, d) for p, m, d in shapes for n in sizes]
    every = dense + others
    allowed = list(dict.fromkeys(c[0] for c in every))
    chosen = pick(problems, allowed, "--problems", f"{NAME}'s problems")
    return distinct([c for c in every if c[0] in chosen], lambda c: _instance_sizes(*c))


def _instance_sizes(problem: str, n: int, m: int, depth: int) -> tuple[str, int, int, int]:
    # The sizes the instance built for this request really has (a family may round n or m).
    inst = get_problem(problem).instance(n, m, depth)
    return problem, inst.n, inst.m, depth


def measure_cell(problem: str, n: int, m: int, depth: int,
                 timing: TimingConfig) -> list[dict[str, Any]]:
    """choose_mode's pick and every method's time at one cell, as rows."""
    import dualtape as dt
    from dualtape.comparison.methods import first_order
    from dualtape.measure.timing import interleaved

    inst = get_problem(problem).instance(n, m, depth)
    f, x = inst.f, inst.x
    choice = dt.choose_mode(f, x)
    methods, _ = first_order(inst.n, inst.m)
    runners = {meth.name: meth.runner(f, (x,), 0, 1) for meth in methods}
    samples = interleaved(runners, timing)
    rows = []
    for meth in methods:
        q1, med, q3 = np.percentile(samples[meth.name], [25, 50, 75])
        rows.append({"problem": problem, "n": inst.n, "m": inst.m, "depth": depth,
                     "method": meth.name, "time_s": float(med), "time_q1": float(q1),
                     "time_q3": float(q3), "predicted": choice.costs.get(meth.name, math.nan),
                     "picked": int(meth.name == choice.method)})
    fastest = min(rows, key=lambda r: r["time_s"])
    picked = next(r for r in rows if r["picked"])
    for r in rows:
        r["fastest"] = int(r is fastest)
        r["regret"] = picked["time_s"] / fastest["time_s"]
    return rows


def load(out: Path | str) -> list[dict[str, Any]]:
    """The rows of ``out/data.csv``, numbers parsed."""
    return load_csv(out, NAME, ("n", "m", "depth", "picked", "fastest"),
                    ("time_s", "time_q1", "time_q3", "predicted", "regret"))


def verdicts(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per instance: the pick, the fastest method and the regret.  An instance
    measured again under another request's label (an earlier run's ``--sizes``) counts once,
    by the cell that measured it first."""
    out: dict[tuple, dict[str, Any]] = {}
    label: dict[tuple, str] = {}
    for r in rows:
        key = (r["problem"], r["n"], r["m"], r["depth"])
        if label.setdefault(key, r["cell"]) != r["cell"]:
            continue
        cell = out.setdefault(key, {"problem": key[0], "n": key[1], "m": key[2],
                                    "depth": key[3], "regret": r["regret"]})
        if r["picked"]:
            cell["pick"], cell["pick_s"] = r["method"], r["time_s"]
        if r["fastest"]:
            cell["fastest"], cell["fastest_s"] = r["method"], r["time_s"]
    return list(out.values())


def plot(study: Study | None = None, *, out: Path | str = RESULTS) -> list[Path]:
    """Regret over the dense map's (n, m) grid, and per cell of the other families."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    cellz = verdicts(load(out))
    dense = [c for c in cellz if c["problem"] == "dense_two_layer"]
    others = [c for c in cellz if c["problem"] != "dense_two_layer"]
    ns = sorted({c["n"] for c in dense})
    ms = sorted({c["m"] for c in dense})
    grid = np.full((len(ms), len(ns)), np.nan)
    for c in dense:
        grid[ms.index(c["m"]), ns.index(c["n"])] = c["regret"]
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(14, 5.6),
                                 gridspec_kw={"width_ratios": [1.3, 1]})
    im = ax.imshow(grid, origin="lower", cmap="RdYlGn_r", vmin=1.0, vmax=2.0)
    for c in dense:
        i, j = ms.index(c["m"]), ns.index(c["n"])
        short = c["pick"].replace("_vector", " vec").replace("_chunk", " ")
        ax.text(j, i, f"{c['regret']:.2f}\n{short}", ha="center", va="center", fontsize=7)
    ax.set_xticks(range(len(ns)), ns)
    ax.set_yticks(range(len(ms)), ms)
    ax.set_xlabel("n (inputs)")
    ax.set_ylabel("m (outputs)")
    ax.set_title("dense_two_layer: time of the pick / fastest")
    fig.colorbar(im, ax=ax, shrink=0.8, label="regret (1 = the pick was fastest)")
    labels = [f"{c['problem']} n={c['n']} m={c['m']}" for c in others]
    bx.barh(range(len(others)), [c["regret"] for c in others],
            color=["#2ca02c" if c["regret"] <= WITHIN else "#d62728" for c in others])
    bx.axvline(WITHIN, color="black", ls=":", lw=1)
    bx.set_yticks(range(len(others)), labels, fontsize=8)
    bx.invert_yaxis()
    bx.set_xlim(0.9, max(2.0, max((c["regret"] for c in others), default=1) + 0.1))
    bx.set_xlabel(f"regret (dotted: {WITHIN}×)")
    bx.set_title("the other problem families")
    fig.suptitle("dt.choose_mode (counts only, no timing) against the measured fastest method",
                 fontsize=11)
    fig.tight_layout()
    files = save_figure(fig, out, "regret")
    plt.close(fig)
    return files


def summary(study: Study | None = None, *, out: Path | str = RESULTS) -> Path:
    """Write ``summary.md``: the fraction of cells within 1.1×, the worst cells, every cell."""
    out = Path(out)
    cellz = verdicts(load(out))
    regrets = np.array([c["regret"] for c in cellz])
    within = float(np.mean(regrets <= WITHIN))
    worst = sorted(cellz, key=lambda c: -c["regret"])[:5]
    hit = sum(c["pick"] == c["fastest"] for c in cellz)
    timing = QUICK_TIMING if measured_quick(out, NAME) else TIMING
    lines = [
        f"# {NAME}", "",
        "![regret over the grid](regret.png)", "",
        f"**{within:.0%} of the {len(cellz)} cells are within {WITHIN}× of the fastest "
        f"method** (the worst regret is {regrets.max():.2f}×, the median "
        f"{np.median(regrets):.3f}×); `choose_mode` named the measured fastest method itself "
        f"in {hit} cells. Regret is the median time of the picked method over that of the "
        "fastest, both from the same interleaved rounds.", "",
        "## How", "",
        "- `dt.choose_mode(f, x)` counts one evaluation, one JVP, one recording and one "
        "pullback and predicts every candidate's cost (see `dualtape/choice.py`); it never "
        "times anything.",
        "- Candidates, all timed: forward and reverse mode with one direction per pass, "
        "chunks of 4, 16 and 64 (where smaller than the number of directions) and vector mode.",
        f"- Timing: {timing.repeats} interleaved rounds of ~{timing.target_s * 1e3:g} ms "
        "samples per method, medians of the process's CPU time (single-threaded: OpenBLAS "
        "is held to one thread during the run).",
        "", "## Worst cells", "",
        "| problem | n | m | pick | fastest | regret |", "|---|---|---|---|---|---|",
    ]
    lines += [f"| {c['problem']} | {c['n']} | {c['m']} | {c['pick']} | {c['fastest']} | "
              f"{c['regret']:.2f} |" for c in worst]
    lines += ["", "## Every cell", "", "| problem | n | m | pick | pick ms | fastest | "
              "fastest ms | regret |", "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {c['problem']} | {c['n']} | {c['m']} | {c['pick']} | {c['pick_s'] * 1e3:.3g}"
              f" | {c['fastest']} | {c['fastest_s'] * 1e3:.3g} | {c['regret']:.2f} |"
              for c in cellz]
    lines += ["", "## Regenerate", "", f"`dualtape study run {NAME}` (a few minutes; "
              f"`rm -rf results/{NAME}` first), then `dualtape study plot {NAME}` / "
              f"`dualtape study summary {NAME}` redraw from data.csv.", ""]
    path = out / "summary.md"
    write_atomic(path, "\n".join(lines))
    return path


def run(study: Study | None = None, *, out: Path | str = RESULTS, quick: bool = False,
        sizes: Sequence[int] | None = None, problems: Sequence[str] | None = None,
        progress: bool = False, command: list[str] | None = None) -> RunReport:
    """Measure every missing cell into data.csv, resumably, then draw the figure and write
    summary.md.  No ``methods``: a cell is a race between all of them."""
    timing = QUICK_TIMING if quick else TIMING
    return run_cells(NAME, out, cells(quick, sizes, problems),
                     lambda *c: measure_cell(*c, timing), COLUMNS, quick=quick, sizes=sizes,
                     command=command, plot=plot, summary=summary, progress=progress)


STUDY = Study(
    name=NAME,
    description=("dt.choose_mode's pick (from counts, no timing) against the measured fastest "
                 "Jacobian method, over the jacobian_scaling grid and the other problem "
                 "families: the regret of every cell and the fraction within 1.1x."),
    run=run, plot=plot, summary=summary,
)


def main(argv: list[str] | None = None) -> int:
    """Same as ``dualtape study run auto_mode [options]``."""
    return study_main(NAME, argv)


if __name__ == "__main__":
    raise SystemExit(main())
