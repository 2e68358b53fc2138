"""From tidy rows to answers: per-cell costs, fitted exponents, crossover, ratios.

Everything here reads only ``data.csv`` (through ``load``), so plots and the
summary can be regenerated at any time from the committed data.

- ``cells``: one row per cell, wall time as median / quartiles / minimum of its
  repeats, the deterministic counts, peak memory and the check's error.
- ``slopes``: log-log least-squares fits cost ≈ C · size^k along every sweep
  that varies one axis, for raw costs and for costs *relative to one primal
  evaluation* at the same size (forward's relative Jacobian cost should grow
  like n, reverse's like m).
- ``crossovers``: where log2(forward cost / reverse cost) changes sign along m,
  for each n of an (n, m) grid, and the line m* = a · n^b through those points.
- ``gradient_ratios``: cost of a gradient (m = 1) over the cost of one
  evaluation: the cheap gradient principle, forward vs reverse.
- ``count_identity``: for chunk = 1, count(jacfwd) = n × count(one jvp) and
  count(jacrev) = count(recording) + m × count(one backward pass).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from .methods import forward_reverse_pairs
from .storage import DATA_FILE, read_complete

CELL_KEY = ["sweep", "problem", "method", "engine", "mode", "n", "m", "depth"]
COUNT_MEASURES = ["n_ops", "flops", "tape_bytes", "peak_bytes", "max_rel_err",
                  "pass_n_ops", "pass_flops", "record_n_ops", "record_flops"]
COSTS = {
    "time_median": "wall time (s)",
    "flops": "FLOPs (cost model)",
    "n_ops": "primitive applications",
    "peak_bytes": "peak memory (bytes)",
    "tape_bytes": "tape (bytes)",
}
RELATIVE_COSTS = ("time_median", "flops", "n_ops")


def load(out: Path | str) -> pd.DataFrame:
    """``out/data.csv`` as a typed DataFrame (validated, never modified): its complete
    measurement groups only (an interrupted run's last group is measured again by the next)."""
    path = Path(out) / DATA_FILE
    rows, _ = read_complete(path)
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    for col in ("n", "m", "depth", "repeat"):
        df[col] = df[col].astype(int)
    df["value"] = pd.to_numeric(df["value"].replace("", np.nan), errors="coerce")
    df["calls"] = pd.to_numeric(df["calls"].replace("", np.nan), errors="coerce")
    return df


def unit_method(method: str, engine: str) -> str:
    """The primal method a cost of ``method`` is divided by."""
    from .methods import find_method

    found = find_method(method)
    if found is not None:
        return found.unit
    if engine == "jax":
        return "jax_primal_jit" if method.endswith("_jit") else "jax_primal"
    return "primal"


def time_hosts(df: pd.DataFrame) -> list[str]:
    """Hosts that measured wall times, the one with the most timed cells first."""
    if df.empty or "host" not in df:
        return []
    timed = df[df["measure"] == "time_s"].drop_duplicates([*CELL_KEY, "host"])
    return list(timed["host"].fillna("").value_counts().index)


def cells(df: pd.DataFrame, host: str | None = None) -> pd.DataFrame:
    """One row per cell: time statistics, counts, memory, error and failure.

    Wall times never mix machines: they come from the rows of ``host``, by default the
    host that timed the most cells (see ``time_hosts``).  Counts, FLOPs, memory and
    checks do not depend on the machine and come from every row.
    """
    if df.empty:
        return pd.DataFrame(columns=[*CELL_KEY, "failed", "note"])
    keys = df[CELL_KEY].drop_duplicates().set_index(CELL_KEY)
    timed = df[df["measure"] == "time_s"]
    hosts = time_hosts(df)
    if len(hosts) > 1 or host is not None:
        timed = timed[timed["host"].fillna("") == (hosts[0] if host is None else host)]
    times = timed.groupby(CELL_KEY)["value"]
    stats = pd.DataFrame({
        "time_median": times.median(),
        "time_q1": times.quantile(0.25),
        "time_q3": times.quantile(0.75),
        "time_min": times.min(),
        "repeats": times.count(),
    })
    other = df[df["measure"].isin(COUNT_MEASURES)]
    wide = other.pivot_table(index=CELL_KEY, columns="measure", values="value", aggfunc="last")
    failed = df.groupby(CELL_KEY)["status"].agg(lambda s: bool((s == "failed").any()))
    notes = df[df["status"] == "failed"].groupby(CELL_KEY)["note"].agg(
        lambda s: next((x for x in s if x), ""))
    out = keys.join(stats).join(wide).join(failed.rename("failed")).join(notes.rename("note"))
    for col in COUNT_MEASURES:
        if col not in out:
            out[col] = np.nan
    out["note"] = out["note"].fillna("")
    return out.reset_index()


def sweep_axes(c: pd.DataFrame) -> dict[tuple[str, str], list[str]]:
    """For each (sweep, problem): the coordinates that take more than one value."""
    out = {}
    for (sweep, problem), g in c.groupby(["sweep", "problem"], sort=False):
        out[(sweep, problem)] = [a for a in ("n", "m", "depth") if g[a].nunique() > 1]
    return out


def with_relative(c: pd.DataFrame) -> pd.DataFrame:
    """Add ``rel_<cost>`` columns: the cost divided by its unit primal's at the same point."""
    c = c.copy()
    c["unit"] = [unit_method(m, e) for m, e in zip(c["method"], c["engine"], strict=True)]
    base = c.set_index(["sweep", "problem", "n", "m", "depth", "method"])
    for cost in RELATIVE_COSTS:
        lookup = base[cost] if cost in base else None
        rel = []
        for row in c.itertuples(index=False):
            den = math.nan
            if lookup is not None:
                try:
                    den = lookup.loc[(row.sweep, row.problem, row.n, row.m, row.depth, row.unit)]
                except KeyError:
                    den = math.nan
            num = getattr(row, cost) if cost in c else math.nan
            rel.append(num / den if den and np.isfinite(den) and den > 0 else math.nan)
        c[f"rel_{cost}"] = rel
    return c


def fit_power(x: np.ndarray, y: np.ndarray, upper_half: bool = True):
    """Fit y ≈ C · x^k by least squares in log-log: (k, C, x_lo, x_hi, points) or None.

    Uses the largest half of the sizes (at least three points), where the
    asymptotic growth shows rather than fixed per-call overheads.
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    keep = np.isfinite(x) & (x > 0)
    x, y = x[keep], y[keep]
    order = np.argsort(x)
    x, y = x[order], y[order]
    if upper_half:  # the window is the sweep's largest sizes, measured or not (a failed
        k = max(3, math.ceil(len(x) / 2))  # largest size must not shift it down)
        x, y = x[-k:], y[-k:]
    keep = np.isfinite(y) & (y > 0)
    x, y = x[keep], y[keep]
    if len(np.unique(x)) < 3:
        return None
    slope, intercept = np.polyfit(np.log(x), np.log(y), 1)
    return float(slope), float(math.exp(intercept)), float(x[0]), float(x[-1]), int(len(x))


def _failed(c: pd.DataFrame) -> pd.Series:
    return c["failed"].fillna(False).astype(bool)


def succeeded(c: pd.DataFrame) -> pd.DataFrame:
    """The cells that did not fail (a failed cell's partial times and counts fit nothing)."""
    if c.empty or "failed" not in c:
        return c
    return c[~_failed(c)]


def slopes(c: pd.DataFrame) -> pd.DataFrame:
    """Fitted exponents of every cost along every one-axis sweep, raw and relative (a failed
    cell's costs count as missing: its size still marks where the largest half begins)."""
    rows = []
    if c.empty:
        return pd.DataFrame(rows)
    if "failed" in c:
        c = c.copy()
        c.loc[_failed(c), [cost for cost in COSTS if cost in c]] = np.nan
    c = with_relative(c)
    for (sweep, problem), axes in sweep_axes(c).items():
        if len(axes) != 1:
            continue
        axis = axes[0]
        part = c[(c["sweep"] == sweep) & (c["problem"] == problem)]
        fixed = {a: int(part[a].iloc[0]) for a in ("n", "m", "depth") if a != axis}
        for method, g in part.groupby("method", sort=False):
            for cost in COSTS:
                for relative in (False, True):
                    col = f"rel_{cost}" if relative else cost
                    if col not in g or (relative and cost not in RELATIVE_COSTS):
                        continue
                    fit = fit_power(g[axis].to_numpy(), g[col].to_numpy())
                    if fit is None:
                        continue
                    k, const, lo, hi, npts = fit
                    rows.append({"sweep": sweep, "problem": problem, "axis": axis,
                                 "fixed": fixed, "method": method, "mode": g["mode"].iloc[0],
                                 "engine": g["engine"].iloc[0], "cost": cost,
                                 "relative": relative, "slope": k, "constant": const,
                                 "from": lo, "to": hi, "points": npts})
    return pd.DataFrame(rows)


def log2_ratio_grid(c: pd.DataFrame, sweep: str, problem: str, fwd: str, rev: str, cost: str):
    """(ns, ms, R) with R[i, j] = log2(cost of fwd / cost of rev) at (ns[i], ms[j])."""
    part = c[(c["sweep"] == sweep) & (c["problem"] == problem)]
    a = part[part["method"] == fwd].set_index(["n", "m"])[cost]
    b = part[part["method"] == rev].set_index(["n", "m"])[cost]
    ratio = np.log2(a / b).dropna()
    ratio = ratio[np.isfinite(ratio)]
    if ratio.empty:
        return None
    grid = ratio.unstack("m").sort_index().sort_index(axis=1)
    return grid.index.to_numpy(), grid.columns.to_numpy(), grid.to_numpy()


def crossing_along_m(ms: np.ndarray, r: np.ndarray) -> float:
    """m where r (log2 fwd/rev) first falls through zero (forward dearer below, cheaper
    above), interpolated in log2 m; a tie where it starts, or a rise through zero, is not one."""
    lm = np.log2(ms.astype(float))
    for j in range(len(ms) - 1):
        r0, r1 = r[j], r[j + 1]
        if not (np.isfinite(r0) and np.isfinite(r1)):
            continue
        if r0 > 0 >= r1:
            t = r0 / (r0 - r1)
            return float(2 ** (lm[j] + t * (lm[j + 1] - lm[j])))
    return math.nan


def crossovers(c: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Crossing points per n and the fitted line m* = a · n^b, for each grid and pair.

    Returns (points, lines).  A point's ``side`` says what happens when there is
    no crossing in the measured range: forward cheaper everywhere, or reverse.
    """
    points, lines = [], []
    c = succeeded(c)
    if c.empty:
        return pd.DataFrame(points), pd.DataFrame(lines)
    for (sweep, problem), axes in sweep_axes(c).items():
        if not {"n", "m"} <= set(axes):
            continue
        for fwd, rev in forward_reverse_pairs(set(c["method"])):
            for cost in ("flops", "time_median"):
                grid = log2_ratio_grid(c, sweep, problem, fwd, rev, cost)
                if grid is None:
                    continue
                ns, ms, r = grid
                xs, ys = [], []
                for i, n in enumerate(ns):
                    m_star = crossing_along_m(ms, r[i])
                    finite = r[i][np.isfinite(r[i])]
                    side = ("crossing" if np.isfinite(m_star) else  # ties count for neither
                            "forward cheaper at every m" if finite.size and (finite <= 0).all()
                            and (finite < 0).any() else
                            "reverse cheaper at every m" if finite.size and (finite >= 0).all()
                            and (finite > 0).any() else "no clear crossing")
                    points.append({"sweep": sweep, "problem": problem, "forward": fwd,
                                   "reverse": rev, "cost": cost, "n": int(n),
                                   "m_cross": m_star, "side": side})
                    if np.isfinite(m_star):
                        xs.append(float(n))
                        ys.append(m_star)
                line = {"sweep": sweep, "problem": problem, "forward": fwd, "reverse": rev,
                        "cost": cost, "points": len(xs), "a": math.nan, "b": math.nan,
                        "r2": math.nan}
                if len(set(xs)) >= 2:
                    lx, ly = np.log(xs), np.log(ys)
                    b, loga = np.polyfit(lx, ly, 1)
                    spread = float(np.sum((ly - ly.mean()) ** 2))
                    resid = float(np.sum((ly - (loga + b * lx)) ** 2))
                    line.update(a=float(math.exp(loga)), b=float(b),
                                r2=1.0 - resid / spread if spread > 0 else 1.0)
                lines.append(line)
    return pd.DataFrame(points), pd.DataFrame(lines)


#: The least share of the crossing points' log-log spread a quoted line must explain.
MIN_CROSSOVER_R2 = 0.8


def consistent_crossover(line) -> bool:
    """A crossover line worth quoting: at least three crossings, rising with n, and a fit
    that explains them (R² of log m* on log n of at least :data:`MIN_CROSSOVER_R2`; crossings
    that go up and down with n are noise, not a line)."""
    return line.points >= 3 and bool(np.isfinite(line.b)) and line.b > 0 \
        and float(getattr(line, "r2", 1.0)) >= MIN_CROSSOVER_R2


def gradient_ratios(c: pd.DataFrame) -> pd.DataFrame:
    """Cost of the gradient (cells with m = 1) relative to one evaluation of f."""
    c = succeeded(c)
    if c.empty:
        return pd.DataFrame()
    c = with_relative(c)
    g = c[(c["m"] == 1) & (c["mode"] != "primal")]
    cols = ["sweep", "problem", "method", "mode", "engine", "n", "depth",
            "rel_time_median", "rel_flops", "rel_n_ops"]
    return g[cols].sort_values(["sweep", "problem", "method", "n"]).reset_index(drop=True)


def count_identity(c: pd.DataFrame) -> pd.DataFrame:
    """Check the counting theory on every chunk-1 cell that recorded its parts.

    Forward: n_ops = n × pass_n_ops and flops = n × pass_flops.  Reverse:
    n_ops = record_n_ops + m × pass_n_ops, and the same for FLOPs.
    """
    if c.empty or "pass_n_ops" not in c:
        return pd.DataFrame()
    g = c[c["pass_n_ops"].notna()].copy()
    if g.empty:
        return pd.DataFrame()
    fwd = g["mode"] == "forward"
    rec_ops = g["record_n_ops"].fillna(0)
    rec_flops = g["record_flops"].fillna(0)
    passes = np.where(fwd, g["n"], g["m"])
    g["predicted_n_ops"] = np.where(fwd, 0, rec_ops) + passes * g["pass_n_ops"]
    g["predicted_flops"] = np.where(fwd, 0, rec_flops) + passes * g["pass_flops"]
    g["holds"] = (g["predicted_n_ops"] == g["n_ops"]) & (g["predicted_flops"] == g["flops"])
    return g[["sweep", "problem", "method", "mode", "n", "m", "depth", "n_ops",
              "predicted_n_ops", "flops", "predicted_flops", "holds"]].reset_index(drop=True)


def errors(c: pd.DataFrame) -> pd.DataFrame:
    """Per method: cells checked against JAX, the largest relative error, failed cells."""
    if c.empty:
        return pd.DataFrame()
    rows = []
    for method, g in c.groupby("method", sort=False):
        checked = g["max_rel_err"].notna()
        rows.append({"method": method, "engine": g["engine"].iloc[0], "cells": len(g),
                     "checked": int(checked.sum()),
                     "max_rel_err": float(g.loc[checked, "max_rel_err"].max())
                     if checked.any() else math.nan,
                     "failed": int(g["failed"].sum())})
    return pd.DataFrame(rows)
