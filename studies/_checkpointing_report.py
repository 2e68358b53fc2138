"""Figures and summary of the ``checkpointing`` study (see ``checkpointing.py``)."""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Any

from dualtape.revolve import binomial_cost, repetition_number
from dualtape.study.custom import load_csv, save_figure
from dualtape.study.storage import write_atomic

NAME = "checkpointing"
RESULTS = Path(__file__).resolve().parents[1] / "results" / NAME
NUMERIC = ("n", "peak_bytes", "tape_bytes", "time_s", "eval_s", "none_s", "forward_steps",
           "recorded_steps", "recordings", "peak_snapshots", "formula_steps", "rel_err",
           "xla_temp_bytes", "snapshots", "every")
TRADE_N = 1000
MUST_N, MUST_S = 10000, 10
CHECKPOINTED = ("binomial", "every", "sqrt")  # the policies that recompute (not forward mode)


def load(out: Path) -> list[dict[str, Any]]:
    """The rows of ``out/data.csv``, numbers parsed (empty cells: None)."""
    return load_csv(out, NAME, ints=("n",), floats=[k for k in NUMERIC if k != "n"])


def _series(rows: list[dict], problem: str) -> dict[str, list[tuple[int, dict]]]:
    by: dict[str, list[tuple[int, dict]]] = defaultdict(list)
    for r in rows:
        if r["problem"] == problem and r["policy"] != "jax":
            label = r["variant"]
            if r["policy"] == "every" and problem == "rk4" and r["every"] != 10:
                continue
            if r["policy"] == "binomial" and problem == "rk4" and r["snapshots"] != MUST_S:
                continue
            by[label].append((r["n"], r))
    return by


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot(study: Any = None, *, out: Path | str = RESULTS) -> list[Path]:
    """memory_vs_n, tradeoff and recompute_factor (PNG and SVG)."""
    plt = _plt()
    out = Path(out)
    rows = load(out)
    files = []
    titles = {"mlp": "deep tanh MLP (depth n)", "rk4": "RK4, Van der Pol (n steps)",
              "lesson": "lesson MLP, SGD (n training steps)"}
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6))
    for ax, (problem, title) in zip(axes, titles.items(), strict=True):
        for label, pts in sorted(_series(rows, problem).items()):
            pts.sort(key=lambda p: p[0])
            style = "--" if label.startswith("forward") else "-"
            ax.plot([p[0] for p in pts], [p[1]["peak_bytes"] for p in pts], style, marker="o",
                    ms=3, label=label)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.xaxis.set_minor_formatter(plt.NullFormatter())
        ax.set_title(title)
        ax.set_xlabel("n")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("peak memory of one gradient (bytes, tracemalloc)")
    fig.suptitle("Peak memory against n for each policy; forward mode (dashed) is the floor")
    fig.tight_layout()
    files += save_figure(fig, out, "memory_vs_n", dpi=110)
    plt.close(fig)

    trade = [r for r in rows if r["problem"] == "rk4" and r["n"] == TRADE_N
             and r["policy"] not in ("jax", "forward")]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 4.6))
    for r in trade:
        a1.scatter(r["time_s"] / r["none_s"], r["peak_bytes"],
                   color={"binomial": "C0", "every": "C1", "sqrt": "C2"}.get(r["policy"], "C3"))
        a1.annotate(r["variant"], (r["time_s"] / r["none_s"], r["peak_bytes"]), fontsize=7)
    a1.set_yscale("log")
    a1.set_xlabel("time / uncheckpointed gradient's")
    a1.set_ylabel("peak memory (bytes)")
    a1.set_title(f"RK4, n = {TRADE_N}: measured memory against time")
    binom = sorted((r for r in trade if r["policy"] == "binomial"), key=lambda r: r["snapshots"])
    s_all = list(range(1, 65))
    a2.plot(s_all, [(TRADE_N + binomial_cost(TRADE_N, s)) / TRADE_N for s in s_all], "-",
            color="C0", label="theory: (n + r n - C(s+r, s+1)) / n")
    a2.plot([r["snapshots"] for r in binom], [r["forward_steps"] / TRADE_N for r in binom], "o",
            color="C0", label="measured step evaluations / n")
    a2.set_xscale("log")
    a2.set_yscale("log")
    a2.set_xlabel("snapshots s (memory)")
    a2.set_ylabel("forward evaluations per step")
    a2.set_title("binomial schedule: recomputation against snapshots")
    a2.grid(True, alpha=0.3)
    a2.legend(fontsize=8)
    fig.tight_layout()
    files += save_figure(fig, out, "tradeoff", dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 4.6))
    scal = sorted((r for r in rows if r["problem"] == "scalar"), key=lambda r: r["n"])
    if scal:
        s = int(scal[0]["snapshots"])
        ns = sorted({int(round(10 ** (k / 20))) for k in range(0, 81)})
        ax.plot(ns, [(n + binomial_cost(n, s)) / n for n in ns], "-", label=f"theory, s = {s}")
        ax.plot([r["n"] for r in scal], [r["forward_steps"] / r["n"] for r in scal], "o",
                label="measured (one dt.grad)")
        ax.set_title(f"Binomial recomputation factor against n, s = {s}")
    ax.set_xscale("log")
    ax.set_xlabel("n (steps)")
    ax.set_ylabel("step evaluations per step")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    files += save_figure(fig, out, "recompute_factor", dpi=110)
    plt.close(fig)
    return files


def _mb(b: float | None) -> str:
    return "" if b is None else f"{b / 2**20:.2f}"


def _long_loops(rows: list[dict]) -> str:
    """What the longest loop of each problem costs checkpointed, against uncheckpointed."""
    bits, cheaper = [], False
    for problem in ("rk4", "mlp", "lesson"):
        mine = [r for r in rows if r["problem"] == problem and r["policy"] in CHECKPOINTED
                and r["none_s"] and r["time_s"]]
        if not mine:
            continue
        n = max(r["n"] for r in mine)
        fastest = min((r for r in mine if r["n"] == n), key=lambda r: r["time_s"] / r["none_s"])
        ratio = fastest["time_s"] / fastest["none_s"]
        cheaper |= ratio < 1
        bits.append(f"{problem} n = {n}: {ratio:.2f}× ({fastest['variant']})")
    if not bits:
        return "- No loop was timed both with and without checkpointing."
    verdict = ("at least one checkpointed policy took less time than the uncheckpointed "
               "gradient, although it evaluates more steps (the uncheckpointed tape keeps "
               "hundreds of thousands of Python objects alive, which makes every allocation "
               "and garbage-collector pass dearer)" if cheaper else
               "every checkpointed policy took more time than the uncheckpointed gradient")
    return (f"- At the longest loops {verdict}; the fastest checkpointed policy's time over the "
            f"uncheckpointed one: {'; '.join(bits)}. The step counts are exact; the times are "
            "from one 2-core machine.")


def summary(study: Any = None, *, out: Path | str = RESULTS) -> Path:
    """Write ``summary.md``: the must-show numbers, the exact counts, every cell."""
    out = Path(out)
    rows = load(out)
    cell = {(r["problem"], r["n"], r["variant"]): r for r in rows}
    lines = [f"# {NAME}", "", "![memory against n](memory_vs_n.png)", "",
             "![trade-off](tradeoff.png)", "", "![recomputation factor](recompute_factor.png)",
             ""]
    none, best = cell.get(("rk4", MUST_N, "none")), cell.get(("rk4", MUST_N, f"binomial s={MUST_S}"))
    if none and best:
        mem, tm = best["peak_bytes"] / none["peak_bytes"], best["time_s"] / none["time_s"]
        lines += [
            f"**RK4, n = {MUST_N}, binomial with s = {MUST_S} snapshots:** peak memory "
            f"{_mb(best['peak_bytes'])} MiB against {_mb(none['peak_bytes'])} MiB for the "
            f"uncheckpointed tape (1/{1 / mem:.0f}; must be at most 1/20: "
            f"{'met' if mem <= 1 / 20 else 'NOT met'}); time {tm:.2f}x the uncheckpointed "
            f"gradient's (must be at most 4x: {'met' if tm <= 4 else 'NOT met'}), with "
            f"{int(best['forward_steps'])} step evaluations for {MUST_N} steps.", ""]
    exact = [r for r in rows if r["policy"] in ("binomial", "every", "sqrt")]
    ok = [r for r in exact if r["forward_steps"] == r["formula_steps"]]
    binom = [r for r in exact if r["policy"] == "binomial"]
    lines += [
        "## Step evaluations against the formula",
        "",
        "Binomial with s snapshots on n steps: n + r n - C(s + r, s + 1) step evaluations, r "
        "the least integer with n <= C(s + r, s); every k (and sqrt, k = ceil(sqrt n)): n + "
        "k floor((n - 1) / k). "
        f"Measured (`return_stats`, or a counter in the step) equals the formula exactly in "
        f"{len(ok)} of {len(exact)} cells ({len(binom)} binomial).",
        "",
        "| problem | n | variant | r | measured | formula |",
        "|---|---|---|---|---|---|"]
    for r in binom:
        rr = repetition_number(r["n"], int(r["snapshots"]))
        lines.append(f"| {r['problem']} | {r['n']} | {r['variant']} | {rr} | "
                     f"{int(r['forward_steps'])} | {int(r['formula_steps'])} |")
    worst = max((r["rel_err"] for r in rows if r["rel_err"] is not None), default=math.nan)
    lines += ["", "## Every cell", "",
              f"Largest relative difference of any gradient from the uncheckpointed one "
              f"(dualtape's policies and JAX's scans): {worst:.1e}.", "",
              "| problem | n | variant | peak MiB | kept for backward MiB | time / eval | "
              "time / none | steps | peak snapshots |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r["problem"] == "scalar":
            continue
        kept = _mb(r["tape_bytes"]) if r["policy"] != "jax" else (
            f"XLA temp {_mb(r['xla_temp_bytes'])}" if r["xla_temp_bytes"] else "")
        lines.append(
            f"| {r['problem']} | {r['n']} | {r['variant']} | {_mb(r['peak_bytes'])} | {kept} | "
            f"{r['time_s'] / r['eval_s']:.2f} | {r['time_s'] / r['none_s']:.2f} | "
            f"{'' if r['forward_steps'] is None else int(r['forward_steps'])} | "
            f"{'' if r['peak_snapshots'] is None else int(r['peak_snapshots'])} |")
    lines += [
        "", "## Notes", "",
        "- Peak memory is measured by tracemalloc around one gradient call, in a pass of its "
        "own; it sees Python and NumPy allocations, not XLA's, so JAX rows give XLA's "
        "compiled temporary bytes instead (jit only).",
        "- \"kept for backward\" is `dt.count().tape_bytes` of the forward recording: the "
        "tape plus the snapshots the schedule stores.",
        "- Times are medians of interleaved rounds; `time / eval` divides by one plain "
        "evaluation (JAX rows: by JAX's own evaluation, eager or jit).",
        "- The `none` policy records every step; forward mode is one JVP (one direction), the "
        "memory floor.",
        "- RK4's state is two Python floats: one evaluation runs on native floats, which is why "
        "`time / eval` is in the hundreds for RK4, and why its peak memory is mostly the "
        "tape's Python objects (entries, traced values) rather than the saved numbers that "
        "`tape_bytes` counts.",
        _long_loops(rows),
        "", "## Regenerate", "",
        f"`rm -rf results/{NAME} && dualtape study run {NAME}` (a few minutes), then "
        f"`dualtape study plot {NAME}` / `dualtape study summary {NAME}` redraw from data.csv.",
        ""]
    path = out / "summary.md"
    write_atomic(path, "\n".join(lines))
    return path
