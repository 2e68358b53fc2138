"""The ratio bar chart: one bar per (dualtape, peer) pair, log scale, targets marked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from dualtape.measure.files import write_atomic


def ratio_chart(ratio_frame: pd.DataFrame, paths: list[Path]) -> None:
    """Draw the ratios as horizontal bars and save them to each path (png, svg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    frame = ratio_frame.reset_index(drop=True)
    count = max(len(frame), 1)
    fig, ax = plt.subplots(figsize=(10, 1.2 + 0.26 * count))
    if len(frame):
        y = np.arange(len(frame))[::-1]
        labels = [f"{r.case} | {r.dualtape} vs {r.peer}" for r in frame.itertuples()]
        workloads = sorted(frame["workload"].unique())
        palette = plt.get_cmap("tab10")
        colours = [palette(workloads.index(w) % 10) for w in frame["workload"]]
        ax.barh(y, frame["ratio"], color=colours, alpha=0.85)
        errors = np.vstack(
            [
                np.clip(frame["ratio"] - frame["paired_q25"], 0, None),
                np.clip(frame["paired_q75"] - frame["ratio"], 0, None),
            ]
        )
        ax.errorbar(frame["ratio"], y, xerr=errors, fmt="none", ecolor="black", lw=0.8)
        has_target = frame["target_max"].notna()
        ax.scatter(
            frame.loc[has_target, "target_max"],
            y[has_target.to_numpy()],
            marker="|",
            s=300,
            color="red",
            linewidths=2,
            zorder=3,
            label="target",
        )
        ax.axvline(1.0, color="grey", lw=1, ls="--")
        ax.set_yticks(y, labels, fontsize=7)
        ax.set_ylim(-0.7, len(frame) - 0.3)
        ax.set_xscale("log")
        ax.set_xlabel("dualtape time / peer time (log scale; < 1: dualtape faster)")
        if has_target.any():
            ax.legend(loc="lower right", fontsize=8)
    else:
        ax.text(0.5, 0.5, "no dualtape contender ran", ha="center", va="center")
        ax.set_axis_off()
    ax.set_title("dualtape vs peers: ratio of median times, same run")
    fig.tight_layout()
    for path in paths:
        fmt = path.suffix.lstrip(".")
        write_atomic(path, lambda tmp, fmt=fmt: fig.savefig(tmp, format=fmt, dpi=120))
    plt.close(fig)
