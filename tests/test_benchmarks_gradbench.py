"""Workload 7 of the benchmark suite (GradBench's evals): its cases, checks and report."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import peers  # noqa: E402
from benchmarks.runner import _first_results, check_results  # noqa: E402
from benchmarks.workloads import build_cases, gradbench  # noqa: E402
from benchmarks.workloads.gradbench_by_hand import DERIVATIVES, gmm_grad  # noqa: E402
from benchmarks.workloads.gradbench_kits import KITS  # noqa: E402
from benchmarks.workloads.gradbench_report import grad_over_objective  # noqa: E402

#: Small cases of the array evals, cheap enough for every tool.
SMALL_SPECS = [gradbench._lse_spec(50), gradbench._llsq_spec(20, m=6),
               gradbench._kmeans_spec(4, 60, 3), gradbench._gmm_spec(3, 4, n=25)]
#: Their derivatives: kmeans has its gradient alone besides ``dir``, as in the suite.
SMALL_DERIVATIVES = [one for spec in SMALL_SPECS for one in (
    [replace(spec, derivative="grad"), spec] if spec.derivative == "dir" else [spec])]


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


def _jax_derivative(spec: gradbench.Spec) -> tuple:
    """The spec's derivative by JAX (float64): the gradient tuple, or kmeans' J / diag(H)."""
    pytest.importorskip("jax")
    kit = KITS["jax"]()
    jax = peers.jax()[0]
    diff, data = spec.inputs()
    grad = jax.grad(lambda *a: spec.objective(kit, *a), argnums=tuple(range(len(diff))))
    if spec.derivative == "dir":
        ones = (np.ones_like(diff[0]),)
        j, h = jax.jvp(lambda c: grad(c, *data)[0], diff, ones)
        return (j / h,)
    return grad(*diff, *data)


@pytest.mark.parametrize("spec", SMALL_DERIVATIVES, ids=lambda s: f"{s.eval}-{s.derivative}")
def test_by_hand_derivatives_match_jax(spec: gradbench.Spec) -> None:
    diff, data = spec.inputs()
    got = DERIVATIVES[spec.eval, spec.derivative](*diff, *data)
    got = got if isinstance(got, tuple) else (got,)
    want = _jax_derivative(spec)
    assert len(got) == len(want) == (1 if spec.derivative == "dir" else len(diff))
    for mine, ref, x in zip(got, want, diff, strict=True):
        assert mine.shape == x.shape
        np.testing.assert_allclose(mine, np.asarray(ref), rtol=1e-7, atol=1e-10)


def test_by_hand_gmm_follows_the_prior_parameters() -> None:
    pytest.importorskip("jax")
    jax = peers.jax()[0]
    from dualtape.gradbench import objectives

    diff, (x,) = gradbench._gmm_inputs(4, 3, 20)
    want = jax.grad(lambda *a: objectives.gmm(*a, x, 2, 0.7, xp=jax.numpy),
                    argnums=(0, 1, 2, 3))(*diff)
    for mine, ref in zip(gmm_grad(*diff, x, m=2, gamma=0.7), want, strict=True):
        np.testing.assert_allclose(mine, np.asarray(ref), rtol=1e-7, atol=1e-10)


def test_by_hand_contenders_are_checked_against_the_reference() -> None:
    for spec in SMALL_SPECS:
        case = gradbench._case(spec)
        by_hand = {c.name: c for c in case.contenders if "by hand" in c.name}
        tasks = ["grad", "jvp"] if spec.derivative == "dir" else ["grad"]
        assert sorted(by_hand) == [f"numpy by hand {t}" for t in tasks]
        assert {c.tool for c in by_hand.values()} == {"numpy"}
        assert all(c.name not in (t.dualtape, t.peer) for c in by_hand.values()
                   for t in case.targets)
        prepared, results, skipped = _first_results(case, lambda msg: None)
        checks = check_results(case, results)
        assert {name: checks.get(name, skipped.get(name)) for name in by_hand} == dict.fromkeys(
            by_hand, "ok")


def test_by_hand_rows_are_divided_by_the_numpy_objective() -> None:
    rows = [("dualtape grad", 3.0), ("dualtape objective", 1.0), ("numpy objective", 0.5),
            ("numpy by hand grad", 1.0), ("numpy by hand jvp", 1.5)]
    data = pd.DataFrame([{"workload": 7, "case": "7:kmeans:5", "contender": name, "round": r,
                          "seconds_per_call": s} for name, s in rows for r in range(2)])
    table = grad_over_objective(data).set_index("derivative")["ratio"].to_dict()
    assert table == {"dualtape grad": 3.0, "numpy by hand grad": 2.0, "numpy by hand jvp": 3.0}
