"""Workload 7 of the benchmark suite (GradBench's evals): its cases, checks and report."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.runner import _first_results, check_results  # noqa: E402
from benchmarks.workloads import build_cases  # noqa: E402
from benchmarks.workloads.gradbench_report import grad_over_objective  # noqa: E402


def test_cases_are_selectable_and_targets_name_contenders() -> None:
    cases = build_cases(["7"])
    assert len(cases) == 16
    for case in cases:
        assert "," not in case.key  # the CLI splits --workloads on commas
        assert [c.key for c in build_cases([case.key])] == [case.key]
        names = {c.name for c in case.contenders}
        for target in case.targets:
            assert target.dualtape in names and target.peer in names
    evals = {case.key.split(":")[1] for case in cases}
    assert evals == {"lse", "llsq", "kmeans", "gmm", "ode", "det", "particle", "saddle"}


def test_every_tool_agrees_on_small_cases() -> None:
    for key in ("7:lse:5000", "7:det:5"):
        (case,) = build_cases([key])
        prepared, results, skipped = _first_results(case, lambda msg: None)
        checks = check_results(case, results)
        assert not skipped, skipped
        derivatives = {n: c for n, c in checks.items() if not n.endswith(("objective", ")"))}
        assert derivatives and all(c in ("ok", "ref") for c in derivatives.values()), checks


def test_grad_over_objective_pairs_each_tool_with_its_own_objective() -> None:
    rows = [("dualtape grad", 3.0), ("dualtape objective", 1.0), ("jax jit grad", 2.0),
            ("jax jit objective", 4.0), ("numpy objective", 0.5), ("control (numpy)", 9.0)]
    data = pd.DataFrame([{"workload": 7, "case": "7:lse:5", "contender": name, "round": r,
                          "seconds_per_call": s} for name, s in rows for r in range(2)])
    table = grad_over_objective(data).set_index("derivative")["ratio"].to_dict()
    assert table == {"dualtape grad": 3.0, "jax jit grad": 0.5}
