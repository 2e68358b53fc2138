"""Smoke test of the benchmark suite: structure and correctness checks, never wall-clock.

Runs ``python -m benchmarks`` in quick mode on a tiny subset (the scalar chain and the
smallest Jacobian case) into a temporary folder. Peers that are not installed are skipped
by the suite itself; the test only asks that what ran is well formed and correct.
"""

from __future__ import annotations

import importlib.util
import json
import math
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.contenders import Target, compare  # noqa: E402
from benchmarks.workloads import build_cases  # noqa: E402

CASES = "1,4:4x256"
ROUNDS = 2


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run the suite once for the whole module; returns its output folder."""
    out = tmp_path_factory.mktemp("bench")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "--quick",
            "--rounds",
            str(ROUNDS),
            "--min-time",
            "0.002",
            "--workloads",
            CASES,
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Ratios" in done.stdout
    return out


def test_writes_every_output(run: Path) -> None:
    for name in (
        "data.csv",
        "ratios.csv",
        "targets.csv",
        "medians.csv",
        "env.json",
        "table.md",
        "ratios.png",
        "ratios.svg",
    ):
        assert (run / name).stat().st_size > 0, name
    assert not list(run.glob(".*")), "temporary files left behind"


def test_tidy_data(run: Path) -> None:
    data = pd.read_csv(run / "data.csv")
    assert list(data.columns) == [
        "workload",
        "case",
        "contender",
        "tool",
        "task",
        "round",
        "seconds_per_call",
        "minor_faults_per_call",
        "repeats",
        "check",
        "others_cpu",
    ]
    assert set(data["case"].astype(str)) == set(CASES.split(","))
    assert np.isfinite(data["seconds_per_call"]).all() and (data["seconds_per_call"] > 0).all()
    assert (data["repeats"] >= 1).all()
    assert (data["minor_faults_per_call"].dropna() >= 0).all()
    others = data["others_cpu"].dropna()
    assert ((others >= 0) & (others <= 1)).all()
    per_contender = data.groupby(["case", "contender"])["round"].apply(sorted)
    assert all(rounds == list(range(ROUNDS)) for rounds in per_contender)
    assert "control (numpy)" in set(data["contender"])


def test_checks_pass_and_peers_are_skipped_only_when_missing(run: Path) -> None:
    data = pd.read_csv(run / "data.csv")
    checks = data.drop_duplicates(["case", "contender"])["check"]
    assert checks.isin(["ok", "ref", "not checked"]).all(), checks.tolist()
    env = json.loads((run / "env.json").read_text())
    for case, skipped in env["skipped"].items():
        for name, why in skipped.items():
            assert why.startswith("unavailable"), f"{case} / {name}: {why}"
    for tool in ("micrograd", "torch", "autograd", "jax"):
        ran = tool in set(data["tool"])
        assert ran == _installed(tool), tool


def test_ratios_pair_dualtape_with_peers(run: Path) -> None:
    data = pd.read_csv(run / "data.csv")
    if "dualtape" not in set(data["tool"]):
        pytest.skip("no dualtape contender could run here")
    ratios = pd.read_csv(run / "ratios.csv")
    dualtape = set(data.loc[data["tool"] == "dualtape", "contender"])
    # Every dualtape contender is paired, unless no peer of its case is installed here.
    peers = (data["tool"] != "dualtape") & (data["task"] != "control")
    cases_with_peers = set(data.loc[peers, "case"])
    expected = set(data.loc[(data["tool"] == "dualtape") & data["case"].isin(cases_with_peers),
                            "contender"])
    assert set(ratios["dualtape"]) == expected
    assert not set(ratios["peer"]) & dualtape
    for row in ratios.itertuples():
        assert math.isclose(row.ratio, row.dualtape_s / row.peer_s, rel_tol=1e-9)
        assert row.paired_q25 <= row.paired_q75


def test_targets_listed(run: Path) -> None:
    targets = pd.read_csv(run / "targets.csv")
    expected = {(t.dualtape, t.describe()) for c in build_cases(CASES.split(",")) for t in c.targets}
    assert set(zip(targets["dualtape"], targets["target"], strict=True)) == expected
    assert set(targets["met"]).issubset({"yes", "no", "not run"})


def test_env_record(run: Path) -> None:
    env = json.loads((run / "env.json").read_text())
    for key in (
        "cpu",
        "cores",
        "versions",
        "numpy_blas",
        "openblas_variables",
        "git",
        "command",
        "timing",
        "torch_threads",
    ):
        assert key in env, key
    assert isinstance(env["openblas_variables"]["OPENBLAS_CORETYPE_set"], bool)
    assert env["timing"]["rounds"] == ROUNDS


def test_compare_and_target_helpers() -> None:
    a = (1.0, np.arange(3.0))
    assert compare(a, (1.0, np.arange(3.0)), 1e-9, 0.0) == "ok"
    assert compare(a, (1.0, np.arange(3.0) + 1e-3), 1e-9, 0.0).startswith("FAIL")
    assert compare(a, (1.0,), 1e-9, 0.0).startswith("FAIL")
    assert compare((float("nan"),), (1.0,), 1e-9, 0.0).startswith("FAIL")
    assert Target("a", "b", 1.0, strict=True).met(0.99)
    assert not Target("a", "b", 1.0, strict=True).met(1.0)
    assert Target("a", "b", 1.0).met(1.0)


_HEAP_PROBE = """
import sys
import numpy as np
from dualtape.measure.timing import hold_heap, minor_faults, settle_heap
if sys.argv[1] == "settled":
    settle_heap()
if sys.argv[1] == "held":
    assert hold_heap()
def burst():
    arrays = [np.ones(65536) for _ in range(8)]  # eight 512 KiB arrays, then all freed
    del arrays
burst()
before = minor_faults()
for _ in range(20):
    burst()
print((minor_faults() - before) / 20)
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc behaviour")
def test_settled_heap_stops_the_page_faults_of_a_fresh_process() -> None:
    """The state settle_heap puts every contender in: freed arrays stay in the process."""

    def faults(state: str) -> float:
        out = subprocess.run([sys.executable, "-c", _HEAP_PROBE, state], cwd=ROOT,
                             capture_output=True, text=True, check=True)
        return float(out.stdout)

    assert faults("cold") > 100  # 8 x 128 pages handed back and faulted in again
    assert faults("settled") < 10
    assert faults("held") < 10  # the opt-in mallopt route reaches the same state


def test_hold_heap_rejects_limits_glibc_would_refuse() -> None:
    from dualtape.measure.timing import hold_heap

    with pytest.raises(ValueError, match="mmap_bytes"):
        hold_heap(mmap_bytes=64 * 2**20)


def test_interrupted_run_keeps_the_finished_cases(tmp_path: Path) -> None:
    """SIGTERM (like Ctrl-C) after the first case: that case is written, the rest listed."""
    import signal

    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks", "--quick", "--rounds", "2", "--min-time", "0.002",
         "--workloads", "0,2,3", "--no-chart", "--out", str(tmp_path)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if "contenders," in line:  # the first case is done
            proc.send_signal(signal.SIGTERM)
            break
    rest = proc.stdout.read()
    assert proc.wait(timeout=300) == 130, rest
    data = pd.read_csv(tmp_path / "data.csv")
    assert "0" in set(data["case"].astype(str)) and "3" not in set(data["case"].astype(str))
    assert "Interrupted: cases" in (tmp_path / "table.md").read_text()
    env = json.loads((tmp_path / "env.json").read_text())
    assert env["timing"]["interrupted_before"][-1] == "3"


def test_cold_processes_measure_each_heap_state(tmp_path: Path) -> None:
    """benchmarks.cold runs a contender in a fresh process per state and writes both files."""
    from benchmarks import cold

    picked = cold.contenders("2")
    assert ("2", "dualtape jvp") in picked and ("2", "numpy forward") in picked
    assert all(name.startswith(("dualtape", cold.FLOOR + " ")) for _, name in picked)
    got = {state: cold.measure(state, "2", "dualtape jvp") for state in cold.STATES}
    for state, m in got.items():
        assert 0 < m["seconds"] < 1, state
        assert m["faults"] >= 0, state
    # three rounds; the second is a slow spell of the host that slows all three states
    scale = {"settled": 1.0, "cold": 1.2, "held": 0.9}
    got = {("3", "dualtape jvp", s): [{"seconds": 1e-3 * scale[s] * spell, "faults": 10.0}
                                      for spell in (1.0, 3.0, 1.1)] for s in cold.STATES}
    rows = cold.summarise(got)
    cold.write(tmp_path, rows, got)
    text = (tmp_path / "cold.md").read_text()
    # the medians are 1.1, 1.32 and 0.99 ms (1.32/1.1 = 1.2); the paired ratios are all 1.2
    assert "| 3 | dualtape jvp | 1100.0 µs | 1320.0 µs | 990.0 µs | 1.20x [1.20-1.20] " \
        "| 0.90x [0.90-0.90] |" in text
    assert "ok (<= 1.3x)" in text  # W3 is held to the cold-process target
    table = pd.read_csv(tmp_path / "cold.csv")
    assert list(table["state"]) == list(cold.STATES)
    assert table["over_settled"].tolist() == pytest.approx([1.0, 1.2, 0.9])
    rounds = pd.read_csv(tmp_path / "cold_rounds.csv")
    assert len(rounds) == 9 and rounds["seconds_per_call"].max() == pytest.approx(3.6e-3)
    # a cold process 1.5x its settled one in two rounds of three misses the target
    got["3", "dualtape jvp", "cold"] = [{"seconds": t, "faults": 0.0} for t in (1.5e-3, 3e-3, 1.65e-3)]
    cold.write(tmp_path, cold.summarise(got))
    assert "1.50x [1.25-1.50]" in (tmp_path / "cold.md").read_text()
    assert "MISSED (<= 1.3x)" in (tmp_path / "cold.md").read_text()


def test_cold_times_the_targets_cases_in_more_processes(tmp_path: Path, monkeypatch) -> None:
    """The cases the 1.3x target judges (W3, W4) and their floors get --target-rounds fresh
    processes per state, the others --rounds; the report says how many."""
    from collections import Counter

    from benchmarks import cold

    calls: Counter = Counter()

    def fake(state: str, key: str, name: str) -> dict[str, float]:
        calls[key, name] += 1
        return {"seconds": 1e-3, "faults": 0.0}

    monkeypatch.setattr(cold, "measure", fake)
    assert cold.main(["--workloads", "2,3", "--rounds", "2", "--target-rounds", "4",
                      "--out", str(tmp_path)]) == 0
    assert calls["2", "dualtape jvp"] == 2 * len(cold.STATES)
    assert calls["3", "dualtape jvp"] == calls["3", "numpy forward"] == 4 * len(cold.STATES)
    assert "median of the rounds (at least 3" in (tmp_path / "cold.md").read_text()
    with pytest.raises(SystemExit):
        cold.main(["--workloads", "3", "--target-rounds", "0", "--out", str(tmp_path)])


def test_tape_layout_experiment_times_both_layouts() -> None:
    """The tape-layout measurement runs every step and reports positive times."""
    from benchmarks.experiments import tape_layout

    got = tape_layout.measure(number=2000, repeat=2)
    assert set(got) == set(tape_layout.STEPS)
    assert all(0 < ns < 1e5 for ns in got.values())


def test_the_detected_pattern_is_checked_against_scipys() -> None:
    pytest.importorskip("scipy")
    (case,) = build_cases(["6"])
    calls = {c.name: c.build() for c in case.contenders if c.task == "sparsity"}
    got, want = calls["dualtape jacobian_sparsity"](), calls["scipy pattern by hand"]()
    assert compare(got, want, case.rtol, case.atol) == "ok"
    wrong = (got[0], np.roll(got[1], 1))  # the same counts, columns moved
    assert compare(wrong, want, case.rtol, case.atol).startswith("FAIL")
