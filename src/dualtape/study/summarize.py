"""``summary.md``: the numbers a results folder answers with, generated from its data.

Fitted exponents, the crossover, the gradient-to-evaluation ratios, memory
growth with depth, the counting identity and the errors against JAX.  Nothing
here is written by hand: rerunning ``dualtape study summary NAME`` rewrites it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import analysis
from .methods import is_headline
from .session import KILLED, kept_rows
from .spec import Study
from .storage import ENV_FILE, read_json, run_alive, write_atomic

SUMMARY_FILE = "summary.md"
COST_WORDS = {"time_median": "wall time", "flops": "FLOPs", "n_ops": "primitive ops",
              "peak_bytes": "peak memory", "tape_bytes": "tape bytes"}


def _num(x: float, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    if x == 0:
        return "0"
    if abs(x) >= 1e4 or abs(x) < 1e-2:
        return f"{x:.{digits - 1}e}"
    return f"{x:.{digits}g}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def _label(method: str) -> str:
    from .methods import method_label

    return method_label(method)


def _host_lines(df: pd.DataFrame, out: Path) -> list[str]:
    """Which machine the wall times come from, and how many workers ran at once."""
    hosts = [h or "unrecorded host" for h in analysis.time_hosts(df)]
    lines = []
    if len(hosts) > 1:
        lines.append(f"- Wall times (fits, figures) use only the rows of host `{hosts[0]}`, "
                     f"which timed the most cells; rows of {', '.join(f'`{h}`' for h in hosts[1:])} "
                     "are in `data.csv` but not mixed in (`dualtape.study.analysis.cells(df, "
                     "host=...)` fits another host)")
    elif hosts:
        lines.append(f"- Wall times measured on host `{hosts[0]}`")
    lines[-1:] = [lines[-1] + "; primitive counts, FLOPs, tape bytes and the checks against "
                  "JAX do not depend on the machine and use every row."] if lines else []
    doc = read_json(out / ENV_FILE) or {}
    runs = [r for r in doc.get("runs", []) if isinstance(r, dict) and r.get("cluster")]
    if runs:
        c = runs[-1]["cluster"]
        envs = c.get("worker_environments") or []
        threads = sorted({str((e.get("blas") or {}).get("threads")) for e in envs})
        shared = c.get("workers_on_this_host") and (c.get("parallel_workers") or 0) > 1
        lines.append(f"- Last cluster run: {c.get('parallel_workers')} Dask workers measuring "
                     f"at once {'on this machine' if c.get('workers_on_this_host') else 'on a cluster'}"
                     f" ({len(envs)} distinct worker environment(s) in `env.json`, BLAS threads "
                     f"{', '.join(threads)})"
                     + ("; their wall times interfere on shared cores" if shared else ""))
    return lines


def _env_lines(out: Path) -> list[str]:
    doc = read_json(out / ENV_FILE) or {}
    runs = [r for r in doc.get("runs", []) if isinstance(r, dict)]
    if not runs:
        return []
    # the machine and versions of the last run that measured something: a rerun of a
    # complete folder adds a run of 0 cells, which measured none of the rows
    measuring = [r for r in runs if kept_rows(r)] or runs
    env = measuring[-1].get("environment", {})
    blas = env.get("blas") or {}
    git = env.get("git") or {}
    total = sum(r.get("elapsed_s") or 0 for r in runs)
    lines = [
        f"- Measured on: {env.get('cpu')}, {env.get('cores_usable')} usable of "
        f"{env.get('cores')} cores, BLAS {blas.get('name')} {blas.get('version')} "
        f"({blas.get('threads')} threads)",
        f"- Versions: Python {env.get('python')}, NumPy {env.get('numpy')}, "
        f"JAX {env.get('jax')}, dualtape {env.get('dualtape')}, git "
        f"{(git.get('commit') or 'unknown')[:12]}{' (dirty tree)' if git.get('dirty') else ''}",
        f"- Command: `{env.get('command')}`; load average (1 min) at start and end: "
        f"{(env.get('load_average') or ['?'])[0]} and "
        f"{(env.get('load_average_at_end') or ['?'])[0]} on {env.get('cores')} cores",
        f"- Measuring time: {total:.1f} s over {len(runs)} run(s) "
        f"(last run: {_last_run(out, runs[-1])})",
    ]
    return lines


def _last_run(out: Path, run: dict[str, Any]) -> str:
    """The last run's outcome and cells; one still ``running`` with the folder unlocked died."""
    outcome = run.get("outcome")
    if outcome == "running" and not run_alive(out):
        outcome = KILLED
    if outcome == KILLED:
        return "killed before it recorded its outcome; its complete cells are kept"
    return f"{outcome}, {run.get('cells_measured')} cells"


def _slope(x: float) -> str:
    return f"{round(x, 2) + 0.0:.2f}" if math.isfinite(x) else "–"


SLOPE_COLUMNS = {  # which costs a sweep's table shows, by the axis it varies
    "n": ("time_median", "flops", "n_ops"),
    "m": ("time_median", "flops", "n_ops"),
    "depth": ("peak_bytes", "tape_bytes", "time_median", "flops"),
}


def _slope_section(s: pd.DataFrame) -> list[str]:
    if s.empty:
        return []
    out = ["## Fitted exponents", "",
           "Each cost is fitted as C · size^k by least squares on log-log axes over the "
           "largest half of the sizes (at least three), where fixed per-call overheads "
           "matter least. *Relative* divides the cost by one evaluation of f at the same "
           "size (the NumPy primal for dualtape, JAX's own primal for the peers): forward "
           "mode's relative Jacobian cost should grow like n and reverse mode's like m, each "
           "with its own constant C. JAX is timed only (no cost model, no tracemalloc).", ""]
    for (sweep, problem, axis), g in s.groupby(["sweep", "problem", "axis"], sort=False):
        fixed = g["fixed"].iloc[0]
        fixed_txt = ", ".join(f"{k} = {v}" for k, v in fixed.items()
                              if not (k == "depth" and v == 1))
        lo, hi = int(g["from"].min()), int(g["to"].max())
        out += [f"### `{problem}`, sweep `{sweep}`: cost against {axis} ({fixed_txt}; "
                f"fitted on {axis} = {lo}…{hi})", ""]
        costs = [k for k in SLOPE_COLUMNS.get(axis, tuple(COST_WORDS)) if k in set(g["cost"])]
        header = ["method"]
        for k in costs:
            header.append(f"{COST_WORDS[k]} k" + ("" if axis != "depth" else " (C)"))
            if k in analysis.RELATIVE_COSTS and axis != "depth":
                header.append(f"relative {COST_WORDS[k]} k (C)")
        rows = []
        for method, gm in g.groupby("method", sort=False):
            row = [_label(method)]
            for k in costs:
                raw = gm[(gm["cost"] == k) & ~gm["relative"]]
                cell = _slope(raw["slope"].iloc[0]) if len(raw) else "–"
                if axis == "depth" and len(raw):
                    cell += f" ({_num(raw['constant'].iloc[0])})"
                row.append(cell)
                if k in analysis.RELATIVE_COSTS and axis != "depth":
                    rel = gm[(gm["cost"] == k) & gm["relative"]]
                    row.append(f"{_slope(rel['slope'].iloc[0])} ({_num(rel['constant'].iloc[0])})"
                               if len(rel) else "–")
            rows.append(row)
        out += _table(header, rows) + [""]
    return out


def _key_numbers(c: pd.DataFrame, s: pd.DataFrame) -> list[str]:
    """A few sentences with the headline numbers, all read from the fits."""
    out = []

    def fit(sweep, problem, method, cost, relative):
        sel = s[(s["sweep"] == sweep) & (s["problem"] == problem) & (s["method"] == method)
                & (s["cost"] == cost) & (s["relative"] == relative)]
        return sel.iloc[0] if len(sel) else None

    if not s.empty:
        for (sweep, problem, axis), _ in s.groupby(["sweep", "problem", "axis"], sort=False):
            if axis == "depth":
                for method in ("rev_chunk1", "fwd_chunk1"):
                    tape = fit(sweep, problem, method, "tape_bytes", False)
                    peak = fit(sweep, problem, method, "peak_bytes", False)
                    if peak is not None:
                        tape_txt = (f"tape bytes ∝ depth^{_slope(tape['slope'])}, "
                                    if tape is not None else "no tape, ")
                        out.append(f"- `{problem}`: {_label(method)}: {tape_txt}peak memory ∝ "
                                   f"depth^{_slope(peak['slope'])}.")
                continue
            parts = []
            for method in ("fwd_chunk1", "rev_chunk1", "fwd_vector", "rev_vector"):
                flops = fit(sweep, problem, method, "flops", True)
                time_ = fit(sweep, problem, method, "time_median", True)
                if flops is not None:
                    txt = (f"{_label(method)} ∝ {axis}^{_slope(flops['slope'])} in FLOPs "
                           f"(C = {_num(flops['constant'])})")
                    if time_ is not None:
                        txt += f", {axis}^{_slope(time_['slope'])} in wall time"
                    parts.append(txt)
            if parts:
                out.append(f"- `{problem}`, cost relative to one evaluation against {axis}: "
                           + "; ".join(parts) + ".")
    _, lines = analysis.crossovers(c)
    for row in lines.itertuples(index=False) if not lines.empty else ():
        if not is_headline(row.forward):
            continue
        pair = f"{_label(row.forward)} vs {_label(row.reverse)}, {COST_WORDS[row.cost]}"
        if analysis.consistent_crossover(row):
            out.append(f"- Crossover ({pair}): equal cost along m* = {_num(row.a)} · "
                       f"n^{_slope(row.b)} ({row.points} crossings); forward mode is cheaper "
                       "above that line, reverse mode below.")
        else:
            fitted = "" if not np.isfinite(row.b) else \
                f", fitted slope {_slope(row.b)} explaining {max(row.r2, 0.0):.0%} of their spread"
            out.append(f"- Crossover ({pair}): no consistent line ({row.points} crossings"
                       f"{fitted}): the two costs stay within noise of each other.")
    g = _gradient_table(c)
    if not g.empty:
        for (_sweep, problem), gp in g.groupby(["sweep", "problem"], sort=False):
            n_max = int(gp["n"].max())
            at = gp[gp["n"] == n_max].set_index("method")
            bits = []
            for m in ("rev_chunk1", "fwd_chunk1", "jax_jacrev_jit"):
                if m in at.index:
                    flops = at.loc[m, "rel_flops"]
                    bits.append(f"{_label(m)} " + (f"{_num(flops)}× in FLOPs, "
                                                   if np.isfinite(flops) else "")
                                + f"{_num(at.loc[m, 'rel_time_median'])}× in time")
            if bits:
                out.append(f"- `{problem}`, gradient at n = {n_max} relative to one evaluation: "
                           + "; ".join(bits) + ".")
    e = analysis.errors(c)
    if not e.empty and e["checked"].sum():
        worst = e.loc[e["max_rel_err"].idxmax()] if e["max_rel_err"].notna().any() else None
        if worst is not None:
            out.append(f"- Largest relative error against JAX over {int(e['checked'].sum())} "
                       f"checked Jacobians: {_num(worst['max_rel_err'], 2)} "
                       f"({_label(worst['method'])}); failed cells: {int(e['failed'].sum())}.")
    return ["## Key numbers", "", *out, ""] if out else []


def _crossover_section(c: pd.DataFrame) -> list[str]:
    points, lines = analysis.crossovers(c)
    if lines.empty:
        return []
    out = ["## Crossover of forward and reverse mode", "",
           "For each n of the grid, m* is where log2(forward cost / reverse cost) changes "
           "sign along m (interpolated on log2 m): below m* reverse mode is cheaper, above "
           "it forward mode is. The line m* = a · n^b is fitted through those points; "
           "b ≈ 1 means the modes cross along m ∝ n.", ""]
    rows = []
    for row in lines.itertuples(index=False):
        pts = points[(points["sweep"] == row.sweep) & (points["problem"] == row.problem)
                     & (points["forward"] == row.forward) & (points["cost"] == row.cost)]
        crossing = ", ".join(f"n={p.n}: {_num(p.m_cross)}" if np.isfinite(p.m_cross)
                             else f"n={p.n}: {p.side}" for p in pts.itertuples())
        fit = (f"m* = {_num(row.a)} · n^{_num(row.b, 2)}" if np.isfinite(row.b)
               else "too few crossings to fit")
        if np.isfinite(row.b) and not analysis.consistent_crossover(row):
            fit += f" (no consistent line: R² {row.r2:.2f})"
        rows.append([f"`{row.problem}`", f"{_label(row.forward)} vs {_label(row.reverse)}",
                     COST_WORDS[row.cost], fit, crossing])
    out += _table(["problem", "pair", "cost", "crossover line", "m* per n"], rows) + [""]
    return out


def _gradient_table(c: pd.DataFrame) -> pd.DataFrame:
    """Gradient cells (m = 1) of sweeps over n: those with m = 1 throughout if any, else
    the m = 1 row of the others (an (n, m) grid's)."""
    g = analysis.gradient_ratios(c)
    if g.empty:
        return g
    over_n = [key for key, axes in analysis.sweep_axes(c).items() if "n" in axes]
    pure = [(sw, pr) for sw, pr in over_n
            if (c[(c["sweep"] == sw) & (c["problem"] == pr)]["m"] == 1).all()]
    keep = set(pure or over_n)
    return g[[(sw, pr) in keep for sw, pr in zip(g["sweep"], g["problem"], strict=True)]]


def _gradient_section(c: pd.DataFrame) -> list[str]:
    g = _gradient_table(c)
    if g.empty:
        return []
    out = ["## Cost of a gradient relative to one evaluation (m = 1)", "",
           "The cheap gradient principle: reverse mode computes the whole gradient at a "
           "small constant multiple of one evaluation of f, whatever n; forward mode (one "
           "pass per input) costs about n evaluations.", ""]
    for (sweep, problem), gp in g.groupby(["sweep", "problem"], sort=False):
        ns = sorted(gp["n"].unique())
        out += [f"### `{problem}`, sweep `{sweep}`: gradient cost / evaluation cost", ""]
        header = ["method"] + [f"n={n}" for n in ns]
        rows = []
        for measure, word in (("rel_flops", "FLOPs"), ("rel_time_median", "time")):
            for method, gm in gp.groupby("method", sort=False):
                vals = gm.set_index("n")[measure]
                if vals.notna().any():
                    rows.append([f"{_label(method)} ({word})"] +
                                [_num(vals.get(n, math.nan)) for n in ns])
        out += _table(header, rows) + [""]
    return out


def _identity_section(c: pd.DataFrame) -> list[str]:
    ident = analysis.count_identity(c)
    if ident.empty:
        return []
    held = int(ident["holds"].sum())
    out = ["## Counting identity (chunk = 1)", "",
           "`jacfwd(chunk=1)` runs one full JVP per input, so its primitive count is exactly "
           "n × the count of one `dt.jvp`. `jacrev(chunk=1)` records the tape once and then "
           "runs the backward pass once per output, so its count is the count of the "
           "recording `dt.vjp(f, x)` plus m × the count of one call of the pullback. Both "
           "parts are counted separately in every such cell (FLOPs likewise).", "",
           f"The identity held exactly in **{held} of {len(ident)}** cells.", ""]
    bad = ident[~ident["holds"]]
    if len(bad):
        rows = [[r.method, str(r.n), str(r.m), str(r.depth), f"{int(r.n_ops)}",
                 f"{int(r.predicted_n_ops)}", f"{int(r.flops)}", f"{int(r.predicted_flops)}"]
                for r in bad.head(20).itertuples()]
        out += _table(["method", "n", "m", "depth", "ops", "predicted ops", "FLOPs",
                       "predicted FLOPs"], rows) + [""]
    return out


def _error_section(c: pd.DataFrame) -> list[str]:
    e = analysis.errors(c)
    if e.empty:
        return []
    out = ["## Errors against JAX", "",
           "Every Jacobian is compared with JAX's, built twice (columns from `jax.jvp`, rows "
           "from the `jax.vjp` pullback); the error is max |J − J_jax| / max |J_jax| over both. "
           "A cell fails above 1e-8 and stays in the data marked failed.", ""]
    rows = [[_label(r.method), str(r.cells), str(r.checked), _num(r.max_rel_err, 2),
             str(r.failed)] for r in e.itertuples()]
    out += _table(["method", "cells", "checked", "largest relative error", "failed cells"],
                  rows) + [""]
    failed = c[c["failed"]]
    if len(failed):
        out += ["Failed cells:", ""]
        out += [f"- `{r.sweep}` {r.problem} {r.method} n={r.n} m={r.m} depth={r.depth}: "
                f"{r.note}" for r in failed.itertuples()] + [""]
    return out


def render(out: Path | str, study: Study | None = None) -> str:
    """The Markdown summary of the results in ``out``."""
    out = Path(out)
    df = analysis.load(out)
    c = analysis.cells(df)
    name = study.name if study else (df["study"].iloc[0] if len(df) else out.name)
    failed = int(c["failed"].sum()) if len(c) else 0
    lines = [f"# Study `{name}`: summary", "",
             f"_Generated from `data.csv` by `dualtape study summary {name}`; do not edit._", ""]
    if study is not None:
        lines += [study.description, ""]
    lines += [f"- Cells: {len(c)} ({len(df)} rows); failed: **{failed}**"]
    lines += _env_lines(out) + _host_lines(df, out) + [""]
    if study is not None and study.notes:
        lines += [study.notes.strip(), ""]
    fits = analysis.slopes(c)
    lines += _key_numbers(c, fits)
    lines += _error_section(c) + _slope_section(fits)
    for section in (_crossover_section, _gradient_section, _identity_section):
        lines += section(c)
    return "\n".join(lines).rstrip() + "\n"


def write_summary(out: Path | str, study: Study | None = None) -> Path:
    """Write ``out/summary.md`` atomically and return its path."""
    path = Path(out) / SUMMARY_FILE
    write_atomic(path, render(out, study))
    return path
