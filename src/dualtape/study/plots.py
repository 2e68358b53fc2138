"""Figures from a results folder, as PNG and SVG (matplotlib, no pyplot state).

- ``cost__<problem>__<sweep>``: a one-axis sweep over n or m on log-log axes,
  one line per method with the JAX peers dashed: wall time, FLOPs, and both
  relative to one evaluation of f.
- ``crossover__<problem>__<sweep>``: an (n, m) grid as a heatmap of
  log2(forward cost / reverse cost) with the crossover contour.
- ``memory__<problem>__<sweep>``: a sweep over depth: peak memory, tape bytes
  and wall time against the number of layers.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pandas as pd

from . import analysis
from .storage import write_atomic

STYLE = {
    "primal": ("#000000", "-", "o"),
    "fwd_chunk1": ("#1f77b4", "-", "o"),
    "fwd_chunk8": ("#6baed6", "-", "s"),
    "fwd_vector": ("#08306b", "-", "^"),
    "rev_chunk1": ("#d62728", "-", "o"),
    "rev_chunk8": ("#fc9272", "-", "s"),
    "rev_vector": ("#67000d", "-", "^"),
    "jax_primal": ("#7f7f7f", "--", "x"),
    "jax_primal_jit": ("#7f7f7f", ":", "+"),
    "jax_jacfwd": ("#2ca02c", "--", "x"),
    "jax_jacrev": ("#ff7f0e", "--", "x"),
    "jax_jacfwd_jit": ("#2ca02c", ":", "+"),
    "jax_jacrev_jit": ("#ff7f0e", ":", "+"),
}
AXIS_NAMES = {"n": "number of inputs n", "m": "number of outputs m",
              "depth": "depth L (number of layers)"}


def _label(method: str) -> str:
    from .methods import method_label

    return method_label(method)


def _style(method: str, engine: str):
    if method in STYLE:
        return STYLE[method]
    return ("#9467bd", "--" if engine == "jax" else "-", "d")


def _fixed_text(part: pd.DataFrame, axis: str) -> str:
    names = {"n": "n", "m": "m", "depth": "depth"}
    return ", ".join(f"{names[a]} = {int(part[a].iloc[0])}" for a in ("n", "m", "depth")
                     if a != axis and not (a == "depth" and int(part[a].iloc[0]) == 1))


def save_figure(fig, out: Path, stem: str, dpi: int = 110) -> list[Path]:
    """Write ``fig`` as ``out/stem.png`` and ``out/stem.svg`` (each atomically); returns both paths.

    The SVG carries no date and names its clip paths and images from a fixed salt (not at
    random), so an unchanged figure gives an unchanged file.
    """
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    paths = []
    for fmt in ("png", "svg"):
        buf = io.BytesIO()
        meta = {"Date": None} if fmt == "svg" else {}
        with matplotlib.rc_context({"svg.hashsalt": stem}):
            fig.savefig(buf, format=fmt, dpi=dpi, metadata=meta)
        path = Path(out) / f"{stem}.{fmt}"
        write_atomic(path, buf.getvalue())
        paths.append(path)
    return paths


def _integer_ticks(axis) -> None:
    """Label a log2 axis with plain sizes (1, 2, 4, ...) rather than powers."""
    from matplotlib.ticker import FuncFormatter

    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}" if v >= 1 else f"{v:.2g}"))


def _lines(ax, part: pd.DataFrame, axis: str, col: str, band: tuple[str, str] | None = None):
    drawn = False
    for method, g in part.groupby("method", sort=False):
        g = g.sort_values(axis)
        y = g[col].to_numpy(dtype=float)
        ok = np.isfinite(y) & (y > 0)
        if not ok.any():
            continue
        color, ls, marker = _style(method, g["engine"].iloc[0])
        x = g[axis].to_numpy()[ok]
        ax.plot(x, y[ok], ls, color=color, marker=marker, ms=4, lw=1.5, label=_label(method))
        if band is not None:
            lo = g[band[0]].to_numpy(dtype=float)[ok]
            hi = g[band[1]].to_numpy(dtype=float)[ok]
            ax.fill_between(x, lo, hi, color=color, alpha=0.15, lw=0)
        failed = g["failed"].to_numpy(dtype=bool)[ok]
        if failed.any():
            ax.plot(x[failed], y[ok][failed], "X", color="red", ms=9, label="_failed")
        drawn = True
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    _integer_ticks(ax.xaxis)
    ax.grid(True, which="major", alpha=0.3)
    if not drawn:
        ax.text(0.5, 0.5, "not measured", transform=ax.transAxes, ha="center", va="center",
                color="grey")
    return drawn


def _guide(ax, part: pd.DataFrame, axis: str, slope: float, text: str) -> None:
    """A dotted reference line of the given slope through the axis' range."""
    xs = np.sort(part[axis].unique()).astype(float)
    if len(xs) < 2:
        return
    ymin, ymax = ax.get_ylim()
    y0 = math.sqrt(ymin * ymax) / (xs[-1] / xs[0]) ** (slope / 2)
    ax.plot(xs, y0 * (xs / xs[0]) ** slope, ":", color="#bbbbbb", lw=1, label=text)


def plot_cost_sweep(c: pd.DataFrame, sweep: str, problem: str, axis: str, out: Path):
    """Cost vs n (or m) for every method on log-log axes, 2 × 2 panels."""
    from matplotlib.figure import Figure

    part = analysis.with_relative(c[(c["sweep"] == sweep) & (c["problem"] == problem)])
    jac = part[part["mode"] != "primal"]
    counted = part[part["engine"] == "dualtape"]
    fig = Figure(figsize=(15, 9))
    axes = fig.subplots(2, 2)
    fig.subplots_adjust(left=0.06, right=0.77, top=0.91, bottom=0.07, hspace=0.3, wspace=0.22)
    fixed = _fixed_text(part, axis)
    fig.suptitle(f"Cost of the full Jacobian of '{problem}' as the {AXIS_NAMES[axis]} grows"
                 f" ({fixed})", fontsize=13)
    ax = axes[0, 0]
    _lines(ax, part, axis, "time_median", band=("time_q1", "time_q3"))
    ax.set_title("Wall time (median of repeats; band: quartiles)")
    ax.set_ylabel("seconds per call")
    ax = axes[0, 1]
    _lines(ax, counted, axis, "flops")
    ax.set_title("Floating-point operations (dualtape cost model; JAX not counted)")
    ax.set_ylabel("FLOPs per call")
    ax = axes[1, 0]
    if _lines(ax, jac, axis, "rel_time_median"):
        _guide(ax, jac, axis, 1.0, f"∝ {axis} (guide)")
    ax.set_title("Wall time relative to one evaluation of f")
    ax.set_ylabel("Jacobian time / primal time")
    ax = axes[1, 1]
    if _lines(ax, jac[jac["engine"] == "dualtape"], axis, "rel_flops"):
        _guide(ax, jac, axis, 1.0, f"∝ {axis} (guide)")
    ax.set_title("FLOPs relative to one evaluation of f")
    ax.set_ylabel("Jacobian FLOPs / primal FLOPs")
    for ax in axes.flat:
        ax.set_xlabel(AXIS_NAMES[axis])
    _legend(fig, axes.flat, "method\n(solid: dualtape,\ndashed / dotted: JAX eager / jit)")
    return save_figure(fig, out, f"cost__{problem}__{sweep}")


def _legend(fig, axes, title: str) -> None:
    """One legend for all panels, to the right of them, each method once."""
    handles, labels = [], []
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in labels and not lab.startswith("_"):
                handles.append(h)
                labels.append(lab)
    fig.legend(handles, labels, loc="center right", fontsize=9, title=title, title_fontsize=9,
               frameon=False)


def _edges(values: np.ndarray) -> np.ndarray:
    """Cell edges halfway (geometrically) between sizes, for a log-scaled heatmap."""
    v = np.asarray(values, float)
    if len(v) == 1:
        return np.array([v[0] / math.sqrt(2), v[0] * math.sqrt(2)])
    mids = np.sqrt(v[:-1] * v[1:])
    return np.concatenate([[v[0] ** 2 / mids[0]], mids, [v[-1] ** 2 / mids[-1]]])


def plot_crossover(c: pd.DataFrame, sweep: str, problem: str, out: Path):
    """Heatmaps of log2(forward / reverse cost) over the (n, m) grid, with the crossover."""
    from matplotlib.colors import TwoSlopeNorm
    from matplotlib.figure import Figure

    panels = []
    from .methods import forward_reverse_pairs, is_headline

    present = set(c["method"])
    for fwd, rev in [p for p in forward_reverse_pairs(present) if is_headline(p[0])]:
        for cost in ("flops", "time_median"):
            grid = analysis.log2_ratio_grid(c, sweep, problem, fwd, rev, cost)
            if grid is not None:
                panels.append((fwd, rev, cost, grid))
    if not panels:
        return []
    _, lines = analysis.crossovers(c[(c["sweep"] == sweep) & (c["problem"] == problem)])
    cols = min(2, len(panels))
    rows = math.ceil(len(panels) / cols)
    fig = Figure(figsize=(7 * cols, 5.8 * rows))
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    fig.subplots_adjust(left=0.07, right=0.93, top=0.9, bottom=0.07, hspace=0.42, wspace=0.3)
    fig.suptitle(f"Forward vs reverse mode for the Jacobian of '{problem}': "
                 "where does each win?", fontsize=13)
    for ax, (fwd, rev, cost, (ns, ms, r)) in zip(axes, panels, strict=False):
        bound = max(1.0, float(np.nanmax(np.abs(r))))
        mesh = ax.pcolormesh(_edges(ns), _edges(ms), r.T, cmap="RdBu_r",
                             norm=TwoSlopeNorm(0.0, -bound, bound), shading="flat")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log", base=2)
        _integer_ticks(ax.xaxis)
        _integer_ticks(ax.yaxis)
        if len(ns) > 1 and len(ms) > 1 and np.nanmin(r) < 0 < np.nanmax(r):
            cs = ax.contour(ns, ms, r.T, levels=[0.0], colors="black", linewidths=2)
            ax.clabel(cs, fmt={0.0: "equal cost"}, fontsize=8)
        sel = lines[(lines["forward"] == fwd) & (lines["cost"] == cost)] if len(lines) else []
        if len(sel) and analysis.consistent_crossover(sel.iloc[0]):
            a, b = sel["a"].iloc[0], sel["b"].iloc[0]
            xs = np.geomspace(ns[0], ns[-1], 50)
            ax.plot(xs, a * xs ** b, "--", color="#333333", lw=1,
                    label=f"fit: m* = {a:.3g} · n^{b:.2f}")
            ax.legend(loc="lower right", fontsize=8)
        ax.set_xlim(_edges(ns)[[0, -1]])
        ax.set_ylim(_edges(ms)[[0, -1]])
        ax.set_xticks(ns, [str(v) for v in ns])
        ax.set_yticks(ms, [str(v) for v in ms])
        ax.minorticks_off()
        what = "FLOPs (cost model)" if cost == "flops" else "wall time (median)"
        ax.set_title(f"{what}: {_label(fwd)}\nvs {_label(rev)}", fontsize=10)
        ax.set_xlabel(AXIS_NAMES["n"])
        ax.set_ylabel(AXIS_NAMES["m"])
        cb = fig.colorbar(mesh, ax=ax)
        cb.set_label("log2(forward cost / reverse cost)\nred: reverse cheaper, blue: forward")
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    return save_figure(fig, out, f"crossover__{problem}__{sweep}")


def plot_depth(c: pd.DataFrame, sweep: str, problem: str, out: Path):
    """Peak memory, tape bytes and wall time against depth."""
    from matplotlib.figure import Figure

    part = c[(c["sweep"] == sweep) & (c["problem"] == problem)]
    fig = Figure(figsize=(18, 5.6))
    axes = fig.subplots(1, 3)
    fig.subplots_adjust(left=0.05, right=0.8, top=0.8, bottom=0.12, wspace=0.3)
    fig.suptitle(f"Memory and time of the Jacobian of '{problem}' as the network gets deeper "
                 f"({_fixed_text(part, 'depth')})", fontsize=13)
    counted = part[part["engine"] == "dualtape"]
    _lines(axes[0], counted, "depth", "peak_bytes")
    axes[0].set_title("Peak memory during one call (tracemalloc)")
    axes[0].set_ylabel("bytes allocated above the start")
    _lines(axes[1], counted[counted["mode"] == "reverse"], "depth", "tape_bytes")
    axes[1].set_title("Tape size: bytes of values saved for the backward pass\n"
                      "(forward mode and the primal save none)", fontsize=10)
    axes[1].set_ylabel("bytes")
    _lines(axes[2], part, "depth", "time_median", band=("time_q1", "time_q3"))
    axes[2].set_title("Wall time (median of repeats)")
    axes[2].set_ylabel("seconds per call")
    for ax in axes:
        ax.set_xlabel(AXIS_NAMES["depth"])
    _legend(fig, axes, "method")
    return save_figure(fig, out, f"memory__{problem}__{sweep}")


def plot_hosts(df: pd.DataFrame, sweep: str, problem: str, axis: str, out: Path):
    """Wall time against ``axis`` coloured by host: one line per (host, method)."""
    from matplotlib.figure import Figure

    hosts = analysis.time_hosts(df)
    fig = Figure(figsize=(11, 6))
    ax = fig.subplots()
    fig.subplots_adjust(left=0.08, right=0.7, top=0.9, bottom=0.1)
    palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
    for i, host in enumerate(hosts):
        c = analysis.cells(df, host=host)
        part = c[(c["sweep"] == sweep) & (c["problem"] == problem)]
        for method, g in part.groupby("method", sort=False):
            g = g.sort_values(axis)
            ok = np.isfinite(g["time_median"].to_numpy(dtype=float))
            if ok.any():
                ax.plot(g[axis][ok], g["time_median"][ok], _style(method, "")[1],
                        marker=_style(method, "")[2], color=palette[i % len(palette)], ms=4,
                        label=f"{host or 'unrecorded host'}: {_label(method)}")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    _integer_ticks(ax.xaxis)
    ax.grid(True, alpha=0.3)
    ax.set_xlabel(AXIS_NAMES[axis])
    ax.set_ylabel("seconds per call (median)")
    ax.set_title(f"Wall time of '{problem}' by host (colour), sweep {sweep}")
    fig.legend(*ax.get_legend_handles_labels(), loc="center right", fontsize=8, frameon=False)
    return save_figure(fig, out, f"hosts__{problem}__{sweep}")


def plot_results(out: Path | str) -> list[Path]:
    """Draw every figure the data in ``out`` supports; returns the files written.

    Wall times come from one host (``analysis.cells``); when several hosts timed cells,
    a ``hosts__*`` figure per one-axis sweep shows each host's times in its own colour.
    """
    import matplotlib

    out = Path(out)
    df = analysis.load(out)
    c = analysis.cells(df)
    if c.empty:
        return []
    paths: list[Path] = []
    several_hosts = len(analysis.time_hosts(df)) > 1
    with matplotlib.rc_context({"svg.hashsalt": "dualtape", "font.size": 10}):
        for (sweep, problem), axes in analysis.sweep_axes(c).items():
            if {"n", "m"} <= set(axes):
                paths += plot_crossover(c, sweep, problem, out)
            elif axes == ["depth"]:
                paths += plot_depth(c, sweep, problem, out)
            elif len(axes) == 1:
                paths += plot_cost_sweep(c, sweep, problem, axes[0], out)
            if several_hosts and len(axes) == 1:
                paths += plot_hosts(df, sweep, problem, axes[0], out)
    return paths
