"""Fit ``dt.choose_mode``'s cost model (``dualtape.choice.CostModel``) to the auto_mode study.

``python scripts/fit_cost_model.py [results/auto_mode]`` reads the study's measured times
(``data.csv``: every Jacobian method at every cell), counts each cell's profile again
(``dualtape.choice.profile``: deterministic, no timing), and fits the model's constants
by non-negative least squares on relative error: the prediction is linear in them, so
each constant's column is the prediction with that constant set to 1 and the others to 0
(``cache_bytes`` stays fixed). It prints the constants and the share of cells whose pick
is within 1.1x of the fastest method, with today's constants and with the fitted ones,
on the same measurements. Needs scipy (the ``sparse`` extra).
"""

from __future__ import annotations

import csv
import dataclasses
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from scipy.optimize import nnls

from dualtape.choice import CostModel, candidates, name, pick, predict, profile
from dualtape.study import get_problem


def regret_share(model: CostModel, profiles: dict, cells: dict) -> tuple[float, float]:
    """Share of cells whose pick is within 1.1x of the fastest, and the worst regret."""
    regrets = []
    for key, times in cells.items():
        regrets.append(times[name(*pick(profiles[key], model))] / min(times.values()))
    return float(np.mean(np.array(regrets) <= 1.1)), float(max(regrets))


def main(out: Path) -> None:
    cells: dict[tuple, dict[str, float]] = defaultdict(dict)
    label: dict[tuple, str] = {}
    with open(out / "data.csv", newline="") as f:
        for r in csv.DictReader(f):
            if r.get("status") == "failed":  # a cell that raised has no times
                continue
            key = (r["problem"], int(r["n"]), int(r["m"]), int(r["depth"]))
            if label.setdefault(key, r["cell"]) == r["cell"]:  # an instance once, as verdicts
                cells[key][r["method"]] = float(r["time_s"])
    profiles = {}
    for key in cells:
        problem, n, m, depth = key
        inst = get_problem(problem).instance(n, m, depth)
        profiles[key] = profile(inst.f, inst.x)
    today = CostModel()
    fields = [f.name for f in dataclasses.fields(CostModel) if f.name != "cache_bytes"]
    columns, times = [], []
    units = [CostModel(**{g: float(g == f) for g in fields}, cache_bytes=today.cache_bytes)
             for f in fields]
    for key, measured in cells.items():
        p = profiles[key]
        for mode, chunk in candidates(p):
            columns.append([predict(p, mode, chunk, unit) for unit in units])
            times.append(measured[name(mode, chunk)])
    a, t = np.array(columns), np.array(times)
    coef, _ = nnls(a / t[:, None], np.ones_like(t))
    fitted = CostModel(**{f: float(f"{c:.2g}") for f, c in zip(fields, coef, strict=True)},
                       cache_bytes=today.cache_bytes)
    for f in fields:
        print(f"{f} = {getattr(fitted, f):.2g}    (today {getattr(today, f):.2g})")
    for label, model in (("today", today), ("fitted", fitted)):
        share, worst = regret_share(model, profiles, cells)
        print(f"{label}: {share:.0%} of {len(cells)} cells within 1.1x, worst {worst:.2f}x")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "results/auto_mode"))
