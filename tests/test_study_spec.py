"""Study definitions: size validation, sweeps, problems, methods, discovery."""

from __future__ import annotations

import numpy as np
import pytest

from dualtape.study import (
    Problem,
    Study,
    StudyError,
    Sweep,
    check_sizes,
    get_method,
    get_problem,
    get_study,
    problem_names,
    register_study,
    studies,
)
from dualtape.study.problems import mlp_param_count, mlp_width_for


@pytest.mark.parametrize("bad", ["-3", "0", "2.5", "abc", "", " ", "1e3"])
def test_check_sizes_refuses_non_positive_or_non_integer_strings(bad):
    with pytest.raises(StudyError) as err:
        check_sizes(["4", bad], "--sizes")
    assert str(err.value) == f"--sizes: expected positive integers, got {bad!r}"


@pytest.mark.parametrize("bad", [0, -1, 2.0, True, None])
def test_check_sizes_refuses_bad_python_values(bad):
    with pytest.raises(StudyError, match="expected positive integers"):
        check_sizes([bad])


def test_check_sizes_accepts_ints_and_digit_strings():
    assert check_sizes(["1", "+8", 3, np.int64(5)]) == (1, 8, 3, 5)
    with pytest.raises(StudyError, match="at least one"):
        check_sizes([])


def test_sweep_points_cover_the_product_of_its_axes():
    grid = Sweep("grid", ("n", "m"))
    assert grid.points([1, 2]) == [
        {"depth": 1, "n": 1, "m": 1}, {"depth": 1, "n": 1, "m": 2},
        {"depth": 1, "n": 2, "m": 1}, {"depth": 1, "n": 2, "m": 2},
    ]
    deep = Sweep("d", ("depth",), {"n": 4, "m": 1})
    assert [p["depth"] for p in deep.points([3, 5])] == [3, 5]


@pytest.mark.parametrize("kwargs, message", [
    ({"name": "x", "axes": ("q",)}, "unknown axis 'q'"),
    ({"name": "x", "axes": ("n",)}, "must vary or fix 'm'"),
    ({"name": "x", "axes": ("n",), "fixed": {"n": 2, "m": 1}}, "both varies and fixes"),
    ({"name": "x", "axes": ("n",), "fixed": {"m": 0}}, "expected positive integers"),
    ({"name": "bad name", "axes": ("n",), "fixed": {"m": 1}}, "sweep names"),
])
def test_sweep_validation_names_the_problem(kwargs, message):
    with pytest.raises(StudyError, match=message):
        Sweep(**kwargs)


def test_study_validation():
    with pytest.raises(StudyError, match="no sweeps"):
        Study("s", "d", problems=("dense_two_layer",), methods=("primal",))
    with pytest.raises(StudyError, match="unknown measure"):
        Study("s", "d", problems=("dense_two_layer",), methods=("primal",),
              sweeps=(Sweep("n", ("n",), {"m": 1}),), measures=("speed",))


def test_unknown_problem_and_method_list_the_valid_ones():
    with pytest.raises(StudyError) as err:
        get_problem("nope")
    assert "valid problems: " in str(err.value) and "dense_two_layer" in str(err.value)
    with pytest.raises(StudyError) as err:
        get_method("nope")
    assert "valid methods: " in str(err.value) and "rev_chunk1" in str(err.value)


@pytest.mark.parametrize("name", problem_names())
def test_every_builtin_problem_builds_reproducibly(name):
    p = get_problem(name)
    a, b = p.instance(5, 3, 2), p.instance(5, 3, 2)
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(np.asarray(a.f(a.x)), np.asarray(b.f(b.x)))
    assert a.n == a.x.size and a.m == np.asarray(a.f(a.x)).size


def test_problem_sizes_are_the_real_ones():
    assert get_problem("elementwise_sum").instance(7, 5).m == 1
    assert get_problem("dense_two_layer").instance(7, 5).m == 5
    mlp = get_problem("mlp_loss").instance(100, 1, 2)
    width = mlp_width_for(100, 2)
    assert mlp.n == mlp_param_count(width, 2) <= 100 < mlp_param_count(width + 1, 2)
    assert mlp_param_count(4, 2) == 41  # the seed lesson's MLP(3, [4, 4, 1])


def test_problem_rejects_bad_requests_and_bad_builders():
    with pytest.raises(StudyError, match="n: expected a positive integer"):
        get_problem("dense_two_layer").instance(0, 1)
    bad = Problem("matrix_out", lambda n, m, d, rng: (lambda x: np.ones((2, 2)), np.ones(n)))
    with pytest.raises(StudyError, match="scalar or a non-empty 1-D"):
        bad.instance(2, 2)


def test_repository_studies_are_discovered():
    found = studies()
    for name in ("jacobian_scaling", "gradient_cost", "memory_depth", "fan_out"):
        assert name in found, name
        assert found[name].source.endswith(f"{name}.py")


def test_any_module_with_STUDY_in_a_studies_folder_shows_up(tmp_path, monkeypatch):
    folder = tmp_path / "mystudies"
    folder.mkdir()
    (folder / "extra.py").write_text(
        "from dualtape.study import Study, Sweep\n"
        "STUDY = Study('extra_one', 'found via $DUALTAPE_STUDIES', problems=('dense_two_layer',),"
        " methods=('primal',), sweeps=(Sweep('n', ('n',), {'m': 1}),), sizes=(1,))\n")
    (folder / "helper.py").write_text("X = 1\n")  # no STUDY: ignored
    (folder / "broken.py").write_text("raise RuntimeError('boom')\n")
    monkeypatch.setenv("DUALTAPE_STUDIES", str(folder))
    from dualtape.study import broken

    found = studies()
    assert "extra_one" in found and found["extra_one"].source.endswith("extra.py")
    assert any("boom" in reason for reason in broken().values())
    with pytest.raises(StudyError, match=r"study 'broken' could not be loaded from .*broken\.py: "
                                         r"RuntimeError: boom"):
        get_study("broken")  # not "unknown study": the user asked for that module


def test_registered_study_and_unknown_study_message():
    s = register_study(Study("registered_here", "in-process", problems=("dense_two_layer",),
                             methods=("primal",), sweeps=(Sweep("n", ("n",), {"m": 1}),),
                             sizes=(1,)))
    assert get_study("registered_here") is s
    with pytest.raises(StudyError) as err:
        get_study("no_such_study")
    assert "unknown study 'no_such_study'; valid studies:" in str(err.value)
    assert "jacobian_scaling" in str(err.value)
