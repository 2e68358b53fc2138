"""Every study end to end at small sizes; failures are kept and reported, never dropped."""

from __future__ import annotations

import inspect

import pytest
from study_helpers import FAST, WRONG, read_csv, small_study

from dualtape.study import (
    ALL_METHODS,
    Method,
    get_study,
    jacobian_study,
    plot,
    problem,
    register_method,
    run,
    studies,
    summary,
)

SMALL = (8, 17, 28)  # three distinct MLP widths (1, 2, 3) as well


def _cheap_methods(study):
    """The study's dualtape methods (test_every_method_runs_in_the_harness covers JAX's)."""
    return [m for m in study.methods if not m.startswith("jax_")]


@pytest.mark.parametrize("name", sorted(studies()))
def test_every_study_runs_end_to_end(name, tmp_path):
    s = get_study(name)
    if s.custom:
        # custom studies: --quick at one small size if they take sizes (JAX's compilations per
        # size were most of the suite's slowest tests; test_study_resume covers several sizes)
        takes = inspect.signature(s.run).parameters
        report = run(s, out=tmp_path, quick=True, **({"sizes": SMALL[:1]} if "sizes" in takes
                                                     else {}))
    else:
        report = run(s, out=tmp_path, sizes=SMALL, timing=FAST, methods=_cheap_methods(s))
        rows = read_csv(tmp_path / "data.csv")
        assert {r["study"] for r in rows} == {name}
        checks = [r for r in rows if r["group"] == "check"]
        assert checks and all(r["status"] == "ok" for r in checks)
        assert all(float(r["value"]) <= 1e-8 for r in checks)
        assert {r["method"] for r in rows} == set(_cheap_methods(s))
        text = (tmp_path / "summary.md").read_text()
        assert "failed: **0**" in text and "## Errors against JAX" in text
        assert "## Fitted exponents" in text
    assert report.ok, report.failed
    assert (tmp_path / "summary.md").exists() and (tmp_path / "env.json").exists()
    assert list(tmp_path.glob("*.png")) and list(tmp_path.glob("*.svg"))


def test_auto_mode_measures_a_cell_with_one_input_and_one_output():
    # choose_mode named chunk 1 where the timed methods call it vector mode: no row was picked
    study = inspect.getmodule(get_study("auto_mode").run)
    rows = study.measure_cell("dense_two_layer", 1, 1, 1, study.QUICK_TIMING)
    assert sum(r["picked"] for r in rows) == 1
    assert all(r["regret"] >= 1.0 for r in rows)


def test_every_method_runs_in_the_harness(tmp_path):
    report = run(small_study(methods=ALL_METHODS, sizes=(3,)), out=tmp_path)
    assert report.ok, report.failed
    rows = read_csv(tmp_path / "data.csv")
    by_method = {}
    for r in rows:
        by_method.setdefault(r["method"], set()).add(r["group"])
    assert by_method["primal"] == {"count", "memory", "time"}
    assert by_method["rev_chunk1"] == {"check", "count", "memory", "time"}
    assert by_method["jax_jacfwd_jit"] == {"check", "time"}  # XLA is not counted
    assert by_method["jax_primal"] == {"time"}
    counts = {r["measure"] for r in rows if r["method"] == "rev_chunk1" and r["group"] == "count"}
    assert counts == {"n_ops", "flops", "tape_bytes", "record_n_ops", "record_flops",
                      "pass_n_ops", "pass_flops"}


def test_a_wrong_jacobian_fails_the_cell_and_stays_in_the_data(tmp_path):
    report = run(small_study(problems=(WRONG,), sizes=(2, 3)), out=tmp_path)
    assert not report.ok and report.failed
    rows = read_csv(tmp_path / "data.csv")
    failed = [r for r in rows if r["status"] == "failed"]
    assert failed and all(r["group"] == "check" for r in failed)
    assert "differs from JAX" in failed[0]["note"]
    jac_cells = {(r["sweep"], r["method"], r["n"], r["m"]) for r in rows
                 if r["method"] != "primal"}
    assert len(failed) == len(jac_cells)  # every Jacobian cell failed, none dropped
    assert "Failed cells:" in (tmp_path / "summary.md").read_text()


def test_a_crashing_method_is_a_failed_cell(tmp_path):
    def make(inst):
        def boom():
            raise ZeroDivisionError("the method broke")
        return boom

    register_method(Method("test_crashing", "crashes", "forward", "dualtape", make, chunk=1),
                    replace=True)
    report = run(small_study(methods=("primal", "test_crashing"), sizes=(2,)), out=tmp_path)
    assert report.failed
    rows = [r for r in read_csv(tmp_path / "data.csv") if r["method"] == "test_crashing"]
    assert {r["group"] for r in rows} == {"check", "count", "memory", "time"}
    assert all(r["measure"] == "exception" and r["status"] == "failed" for r in rows)
    assert rows[0]["note"] == "ZeroDivisionError: the method broke"


def test_user_problem_through_the_python_api(tmp_path):
    import dualtape.numpy as dnp

    @problem("test_sine_map", "sin(A x)", replace=True)
    def sine_map(n, m, depth, rng):
        a = rng.standard_normal((m, n))
        return (lambda x: dnp.sin(dnp.matmul(a, x))), rng.standard_normal(n)

    report = run(sine_map, out=tmp_path, sizes=[2, 4, 8], methods=["primal", "fwd_chunk1",
                                                                    "rev_chunk1"], timing=FAST)
    assert report.ok and report.cells_measured == 2 * 3 * 3  # 2 sweeps x 3 sizes x 3 methods
    assert set(plot(sine_map, out=tmp_path)) <= set(tmp_path.iterdir())
    assert summary(sine_map, out=tmp_path).read_text().startswith("# Study `test_sine_map`")
    assert jacobian_study(sine_map).sweeps[0].fixed == {"m": 8}


def test_quick_profile_uses_quick_sizes_and_its_own_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = small_study(name="quicky", sizes=(5, 6, 7))
    report = run(s, quick=True, methods=["primal"])
    assert report.out.resolve() == tmp_path / "results" / "quick" / "quicky"
    assert {r["n"] for r in read_csv(report.out / "data.csv") if r["sweep"] == "n"} == \
        {"2", "3", "4"}


def test_a_problem_that_cannot_be_built_is_a_clear_error(tmp_path):
    from dualtape.study import Problem, StudyError

    def crash(n, m, depth, rng):
        raise ZeroDivisionError("no such size")

    with pytest.raises(StudyError) as err:
        run(small_study(problems=(Problem("crash", crash),), sizes=(2,)), out=tmp_path)
    assert str(err.value) == ("problem 'crash': cannot build it at n=2 m=2 depth=1: "
                              "ZeroDivisionError: no such size")
    assert not (tmp_path / "data.csv").exists()


@pytest.mark.parametrize("kwargs, message", [
    ({"sizes": "16"}, "sizes: expected a list of positive integers, got '16'"),
    ({"sizes": 16}, "sizes: expected a list of positive integers, got 16"),
    ({"methods": "primal"}, "methods: expected a list of method names, got 'primal'"),
    ({"methods": []}, "methods: expected at least one"),
    ({"problems": "dense_two_layer"}, "problems: expected a list of problem names"),
    ({"timing": "fast"}, "timing: expected a TimingConfig, got str"),
    ({"out": 5}, "out: expected a folder"),
])
def test_run_refuses_bad_arguments_by_name(tmp_path, kwargs, message):
    """A lone string is not read character by character (sizes "16" ran sizes 1 and 6)."""
    from dualtape.study import StudyError, run

    kwargs.setdefault("out", tmp_path / "x")
    with pytest.raises(StudyError, match=message.replace("(", r"\(")):
        run("jacobian_scaling", quick=True, **kwargs)
    assert not (tmp_path / "x").exists()


def test_auto_mode_measures_an_instance_two_sizes_give_once(tmp_path):
    # mlp_loss at n = 8 and 16 is one instance (n = 8): it was measured twice under two
    # labels, and the summary mixed the two cells' picks and regrets
    study = inspect.getmodule(get_study("auto_mode").run)
    assert study.cells(True, [8, 16], ["mlp_loss"]) == [("mlp_loss", 8, 1, 2)]
    assert study.cells(True, [16, 8, 28], ["mlp_loss"]) == [("mlp_loss", 16, 1, 2),
                                                              ("mlp_loss", 28, 1, 2)]
    report = run("auto_mode", out=tmp_path, quick=True, sizes=[8, 16], problems=["mlp_loss"])
    assert report.ok and report.cells_planned == report.cells_measured == 1
    rows = read_csv(tmp_path / "data.csv")
    assert {r["cell"] for r in rows} == {"mlp_loss 8 1 2"} and {r["n"] for r in rows} == {"8"}
    assert sum(int(r["picked"]) for r in rows) == 1
    text = (tmp_path / "summary.md").read_text()
    assert "of the 1 cells" in text and text.count("| mlp_loss | 8 | 1 |") == 2  # worst, every


def test_auto_mode_summary_counts_an_instance_measured_under_two_labels_once():
    # a folder an earlier run filled under another request's label: one verdict, the first
    study = inspect.getmodule(get_study("auto_mode").run)
    rows = [{"cell": cell, "problem": "mlp_loss", "n": 8, "m": 1, "depth": 2, "method": meth,
             "time_s": t, "picked": picked, "fastest": fastest, "regret": regret}
            for cell, regret, picks in (("mlp_loss 8 1 2", 1.0, (1, 0)),
                                        ("mlp_loss 16 1 2", 2.0, (0, 1)))
            for meth, t, picked, fastest in (("fwd", 1.0, picks[0], 1),
                                             ("rev", 2.0, picks[1], 0))]
    assert study.verdicts(rows) == [{"problem": "mlp_loss", "n": 8, "m": 1, "depth": 2,
                                     "regret": 1.0, "pick": "fwd", "pick_s": 1.0,
                                     "fastest": "fwd", "fastest_s": 1.0}]
