"""Fits, crossovers and errors on synthetic data with known answers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from dualtape.study import analysis
from dualtape.study.measure import Reference, max_relative_error, timings
from dualtape.study.spec import TimingConfig


def test_fit_power_recovers_exponent_and_constant_on_the_upper_half():
    x = np.array([1, 2, 4, 8, 16, 32, 64], float)
    y = 3.0 * x ** 1.5
    y[:2] += 1000.0  # overhead at small sizes, ignored by the upper-half fit
    k, c, lo, hi, npts = analysis.fit_power(x, y)
    assert k == pytest.approx(1.5) and c == pytest.approx(3.0)
    assert (lo, hi, npts) == (8.0, 64.0, 4)
    assert analysis.fit_power(x[:2], y[:2]) is None


def test_crossing_along_m_interpolates_in_log2():
    ms = np.array([1, 4, 16])
    assert analysis.crossing_along_m(ms, np.array([2.0, -2.0, -4.0])) == pytest.approx(2.0)
    assert math.isnan(analysis.crossing_along_m(ms, np.array([-1.0, -2.0, -3.0])))


def _synthetic_grid(fwd_cost, rev_cost, sizes=(1, 2, 4, 8, 16)):
    rows = []
    for n in sizes:
        for m in sizes:
            for method, mode, cost in (("fwd_chunk1", "forward", fwd_cost(n, m)),
                                       ("rev_chunk1", "reverse", rev_cost(n, m)),
                                       ("primal", "primal", 1.0)):
                rows.append({"sweep": "grid", "problem": "p", "method": method,
                             "engine": "dualtape", "mode": mode, "n": n, "m": m, "depth": 1,
                             "flops": cost, "time_median": cost, "n_ops": cost,
                             "max_rel_err": 0.0, "failed": False})
    return pd.DataFrame(rows)


def test_crossover_line_of_n_against_3m_is_m_equals_n_over_3():
    c = _synthetic_grid(lambda n, m: 2.0 * n, lambda n, m: 6.0 * m)
    points, lines = analysis.crossovers(c)
    line = lines[(lines["forward"] == "fwd_chunk1") & (lines["cost"] == "flops")].iloc[0]
    assert line["b"] == pytest.approx(1.0) and line["a"] == pytest.approx(1 / 3)
    at8 = points[(points["n"] == 8) & (points["cost"] == "flops")].iloc[0]
    assert at8["m_cross"] == pytest.approx(8 / 3)
    at1 = points[(points["n"] == 1) & (points["cost"] == "flops")].iloc[0]
    assert at1["side"] == "forward cheaper at every m"


def test_slopes_relative_to_the_primal():
    rows = []
    for n in (4, 8, 16, 32):
        for method, mode, cost in (("primal", "primal", 10.0 * n), ("fwd_chunk1", "forward",
                                                                     30.0 * n * n)):
            rows.append({"sweep": "n", "problem": "p", "method": method, "engine": "dualtape",
                         "mode": mode, "n": n, "m": 2, "depth": 1, "flops": cost,
                         "time_median": np.nan, "n_ops": cost, "failed": False})
    s = analysis.slopes(pd.DataFrame(rows))
    fwd = s[(s["method"] == "fwd_chunk1") & (s["cost"] == "flops")].set_index("relative")
    assert fwd.loc[False, "slope"] == pytest.approx(2.0)
    assert fwd.loc[True, "slope"] == pytest.approx(1.0)
    assert fwd.loc[True, "constant"] == pytest.approx(3.0)


def test_max_relative_error_cases():
    ref = np.array([[1.0, -4.0]])
    assert max_relative_error(ref, ref) == 0.0
    assert max_relative_error(np.array([[1.0, -3.0]]), ref) == pytest.approx(0.25)
    assert max_relative_error(np.array([[np.nan, -4.0]]), ref) == math.inf
    assert max_relative_error(np.zeros((1, 3)), np.zeros((1, 2))) == math.inf
    assert max_relative_error(np.zeros((2, 2)), np.zeros((2, 2))) == 0.0
    assert max_relative_error(np.ones((2, 2)), np.zeros((2, 2))) == math.inf
    r = Reference(ref, ref * (1 + 1e-12))
    assert r.self_error < 1e-11 and r.error(ref) < 1e-11


def test_timings_calibrates_calls_and_keeps_every_repeat():
    calls = []
    n, samples = timings(lambda: calls.append(1), TimingConfig(target_s=1e-3, repeats=4, warmup=2))
    assert n >= 1 and len(samples) == 4 and all(s > 0 for s in samples)
    assert len(calls) >= 2 + 4 * n


def _timed_rows(host: str, seconds: float, n: int) -> list[dict]:
    base = {"sweep": "n", "problem": "p", "method": "fwd_vector", "engine": "dualtape",
            "mode": "forward", "n": n, "m": 2, "depth": 1, "host": host, "status": "ok",
            "note": ""}
    rows = [{**base, "group": "time", "measure": "time_s", "repeat": r, "value": seconds}
            for r in range(3)]
    rows.append({**base, "group": "count", "measure": "flops", "repeat": 0, "value": 10.0 * n})
    return rows


def test_wall_times_never_mix_hosts_but_counts_use_every_row():
    df = pd.DataFrame([*_timed_rows("fast", 1.0, 2), *_timed_rows("fast", 2.0, 4),
                       *_timed_rows("slow", 50.0, 8)])
    assert analysis.time_hosts(df) == ["fast", "slow"]
    c = analysis.cells(df).set_index("n")
    assert c.loc[2, "time_median"] == 1.0 and math.isnan(c.loc[8, "time_median"])
    assert list(c["flops"]) == [20.0, 40.0, 80.0]  # machine-independent: every host's rows
    assert analysis.cells(df, host="slow").set_index("n").loc[8, "time_median"] == 50.0
    one = pd.DataFrame(_timed_rows("fast", 1.0, 2))
    assert analysis.cells(one)["time_median"].tolist() == [1.0]


def test_a_failed_largest_size_does_not_shift_the_fit_window_down():
    # the window is the sweep's largest half; a missing point in it leaves too few to fit
    from dualtape.study.analysis import fit_power

    x = np.array([2, 4, 8, 16, 32, 64], float)
    y = x ** 2
    assert fit_power(x, y)[0] == pytest.approx(2.0) and fit_power(x, y)[2:] == (16.0, 64.0, 3)
    y[-1] = np.nan
    assert fit_power(x, y) is None


def test_a_redrawn_figure_is_the_same_file(tmp_path):
    # matplotlib names SVG clip paths at random unless salted: every redraw differed
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dualtape.study.plots import save_figure

    def draw(out):
        fig, ax = plt.subplots()
        ax.plot([1, 2, 3], [1, 4, 9])
        ax.set_yscale("log")
        files = save_figure(fig, out, "fig")
        plt.close(fig)
        return [f.read_bytes() for f in files]

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert draw(tmp_path / "a") == draw(tmp_path / "b")
