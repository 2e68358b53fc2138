"""The bar chart of a ``Comparison``: median time (quartile whiskers) and FLOPs per method."""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

COLORS = {"fwd": "#1f77b4", "rev": "#d62728", "jax": "#7f7f7f"}


def _color(row: dict[str, Any]) -> str:
    if row["engine"] == "jax":
        return COLORS["jax"]
    return COLORS.get(row["mode"].split("-")[0], "#2ca02c")


def comparison_figure(c: Any, path: str | Path | None = None):
    """Draw ``c`` (a ``Comparison``); save it to ``path`` atomically when given."""
    import matplotlib.pyplot as plt

    from ..measure.files import write_atomic

    rows = sorted((r for r in c.rows if math.isfinite(r.get("time_s", math.nan))),
                  key=lambda r: r["time_s"])
    names = [r["method"] + (" (failed)" if r["status"] == "failed" else "") for r in rows]
    fig, (ax_t, ax_f) = plt.subplots(1, 2, figsize=(11, 0.45 * max(len(rows), 3) + 1.8),
                                   sharey=True)
    y = list(range(len(rows)))
    times = [r["time_s"] * 1e3 for r in rows]
    err = [[(r["time_s"] - r["time_q1"]) * 1e3 for r in rows],
           [(r["time_q3"] - r["time_s"]) * 1e3 for r in rows]]
    ax_t.barh(y, times, xerr=err, color=[_color(r) for r in rows], alpha=0.9, capsize=2)
    for k, r in enumerate(rows):
        if r["status"] == "failed":
            ax_t.barh(k, times[k], fill=False, hatch="//", edgecolor="black")
    ax_t.set_yticks(y, names)
    if not rows:  # every method failed: nothing was timed
        ax_t.set_ylim(-1, 1)
        ax_t.text(0.5, 0.5, "no method ran (see the table)", ha="center",
                  transform=ax_t.transAxes)
    ax_t.invert_yaxis()
    ax_t.set_xscale("log")
    ax_t.set_xlabel("median time per call (ms, log; whiskers: quartiles)")
    ax_t.axvline(c.eval_time_s * 1e3, color="black", lw=0.8, ls=":")
    ax_t.text(c.eval_time_s * 1e3, -0.6, " one evaluation", fontsize=8, va="bottom")
    flops = [float(r["flops"]) if _counted(r) else 0.0 for r in rows]
    ax_f.barh(y, flops, color=[_color(r) for r in rows], alpha=0.9)
    for k, r in enumerate(rows):
        if not _counted(r):
            ax_f.text(0, k, " not counted (JAX)", va="center", fontsize=8, color="#555555")
    if any(flops):
        ax_f.set_xscale("symlog", linthresh=max(1.0, min(f for f in flops if f > 0)))
    ax_f.set_xlabel("FLOPs per call (dualtape's cost model)")
    what = "Jacobian" if c.order == 1 else "Hessian"
    fig.suptitle(f"dt.compare({c.function}): {what}, n = {c.n}, m = {c.m}; best: {c.best}",
                 fontsize=11)
    fig.tight_layout()
    if path is not None:
        path = Path(path)
        buf = io.BytesIO()
        fig.savefig(buf, format=path.suffix.lstrip(".") or "png", dpi=120)
        write_atomic(path, buf.getvalue())
    return fig


def _counted(row: dict[str, Any]) -> bool:
    v = row.get("flops")
    return v is not None and not (isinstance(v, float) and math.isnan(v))
