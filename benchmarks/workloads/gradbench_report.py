"""ADBench's metric for workload 7: each tool's derivative time over its own objective time.

    python -m benchmarks.workloads.gradbench_report results/benchmarks

reads ``data.csv`` of a suite run and prints, per GradBench case and derivative contender,
the median seconds of the derivative, of the same tool's objective (eager and jit apart;
dualtape's is its objective on NumPy arrays; the by-hand NumPy derivatives' is the objective
on plain NumPy, ``numpy objective``), and their ratio. It also writes them to
``RESULTS_DIR/gradbench_ratios.csv`` (atomically).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from benchmarks.workloads.control import CONTROL_NAME
from benchmarks.workloads.gradbench import NUMBER
from dualtape.measure.files import write_atomic

#: The part of a contender's name that is not its tool's (``numpy by hand grad``: plain NumPy).
BY_HAND = " by hand"


def objective_of(derivative: str) -> str:
    """The name of the objective contender a derivative contender is divided by."""
    tool = derivative.rsplit(" ", 1)[0].removesuffix(BY_HAND)
    return f"{tool} objective"


def grad_over_objective(data: pd.DataFrame) -> pd.DataFrame:
    """Per case and derivative contender: median derivative time / median objective time."""
    rows = data[(data["workload"] == NUMBER) & (data["contender"] != CONTROL_NAME)]
    medians = rows.groupby(["case", "contender"], sort=False)["seconds_per_call"].median()
    out = []
    for case in rows["case"].unique():
        per = medians[case]
        for name in per.index:
            if name.endswith(" objective"):
                continue
            objective = per.get(objective_of(name))
            if objective is not None and not pd.isna(objective):
                out.append({"case": case, "derivative": name, "seconds": per[name],
                            "objective_seconds": objective, "ratio": per[name] / objective})
    return pd.DataFrame(out)


def main(argv: list[str]) -> int:
    """Print the ratios of ``argv[0]/data.csv``; 2 on a missing file or bad usage."""
    if len(argv) != 1:
        print("usage: python -m benchmarks.workloads.gradbench_report RESULTS_DIR", file=sys.stderr)
        return 2
    path = Path(argv[0]) / "data.csv"
    if not path.is_file():
        print(f"no {path}: run the suite with --out {argv[0]} first", file=sys.stderr)
        return 2
    table = grad_over_objective(pd.read_csv(path))
    write_atomic(Path(argv[0]) / "gradbench_ratios.csv",
                 table.to_csv(index=False, lineterminator="\n", float_format="%.6g"))
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
