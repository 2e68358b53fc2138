"""Print the committed speed run's figures that the README quotes, from results/benchmarks/.

    python scripts/run_summary.py [results/benchmarks]

Targets (measured, met), W3's hand-written floor, the control's range, the cold-process
ratios of W3/W4, the A/B ratios and GradBench's gradient/objective ratios: one place to
read them when the README's Performance section is brought up to date after a new run.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd


def main(folder: Path) -> None:
    targets = pd.read_csv(folder / "targets.csv")
    medians = pd.read_csv(folder / "medians.csv")
    print("## targets")
    for row in targets.itertuples():
        flag = "" if row.met == "yes" else "   <-- missed"
        print(f"{row.case:24s} {row.dualtape:26s} {row.target:32s} {row.measured:8.4g}{flag}")
    control = medians[medians.contender == "control (numpy)"]["median"]
    print(f"\n## control: {control.min() * 1e3:.2f}-{control.max() * 1e3:.2f} ms")
    w3 = medians[medians.case == "3"].set_index("contender")["median"]
    forward = w3["numpy forward"]
    for task in ("value_and_grad", "jvp"):
        ours, hand = w3[f"dualtape {task}"], w3[f"numpy by hand {task}"]
        print(f"W3 {task}: dualtape {ours / forward:.3f}x forward, by hand {hand / forward:.3f}x, "
              f"dualtape / by hand {ours / hand:.3f}")
    ratios = pd.read_csv(folder / "ratios.csv")
    by_hand = ratios[ratios.peer.str.startswith("numpy by hand")]
    print("\n## dualtape over NumPy by hand")
    for row in by_hand.itertuples():
        print(f"{row.case:24s} {row.dualtape:26s} {row.ratio:.3f}")
    cold = pd.read_csv(folder / "cold.csv").pivot_table(
        index=["case", "contender"], columns="state", values="seconds_per_call")
    print("\n## cold / settled (and held / settled)")
    for (case, contender), row in cold.iterrows():
        print(f"{case:12s} {contender:30s} cold {row.cold / row.settled:.2f}  "
              f"held {row.held / row.settled:.2f}")
    for name in ("ab.csv", "ab_one_blas_thread.csv"):
        if (folder / name).exists():
            ab = pd.read_csv(folder / name)
            print(f"\n## {name} (against {ab.against.iloc[0]})")
            for row in ab.itertuples():
                print(f"{row.case:24s} {row.contender:26s} {row.ratio:.3f}")
    grad = pd.read_csv(folder / "gradbench_ratios.csv")
    print("\n## GradBench gradient / objective (dualtape)")
    for row in grad[grad.derivative.str.startswith("dualtape")].itertuples():
        print(f"{row.case:24s} {row.derivative:20s} {row.ratio:.2f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("results/benchmarks"))
