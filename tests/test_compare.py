"""dt.compare and ``dualtape compare``: the table, the verdict, the checks, the CLI end to end."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import dualtape as dt
import dualtape.numpy as dnp
from dualtape.cli import main

W = np.random.default_rng(0).standard_normal((3, 6))


def small(x):
    return dnp.tanh(dnp.matmul(W, x)) * dnp.sum(x * x)


X = np.linspace(-1.0, 1.0, 6)


@pytest.fixture(scope="module")
def first():
    return dt.compare(small, X, repeats=2)


def test_table_has_the_columns_and_one_row_per_method(first):
    t = first.table
    assert isinstance(t, pd.DataFrame)
    for col in ("method", "mode", "chunk", "time_s", "time_q1", "time_q3", "n_ops", "flops",
                "tape_bytes", "peak_bytes", "max_rel_error", "relative_time"):
        assert col in t.columns
    names = set(t["method"])
    assert {"fwd_chunk1", "fwd_chunk4", "fwd_vector", "rev_chunk1", "rev_vector",
            "jax_jacfwd", "jax_jacrev", "jax_jacfwd_jit", "jax_jacrev_jit"} <= names
    assert "rev_chunk4" not in names  # m = 3: chunk 4 is vector mode
    assert (t["status"] == "ok").all() and (t["max_rel_error"] < 1e-12).all()
    assert (t["time_q1"] <= t["time_s"]).all() and (t["time_s"] <= t["time_q3"]).all()
    mine = t[t["engine"] == "dualtape"]
    assert (mine["n_ops"] > 0).all() and (mine["peak_bytes"] > 0).all()
    assert t.loc[t["method"] == "rev_vector", "tape_bytes"].item() > 0
    assert math.isnan(t.loc[t["method"] == "jax_jacrev", "flops"].item())
    assert first.n == 6 and first.m == 3


def test_best_recommendation_str_html_plot(first, tmp_path):
    t = first.table
    assert first.best == t.loc[t["status"] != "failed"].sort_values("time_s")["method"].iloc[0]
    rec = first.recommendation
    assert "n = 6" in rec and "m = 3" in rec and first.best in rec
    text = str(first)
    assert first.best in text and "rev_vector" in text
    assert "<table" in first._repr_html_()
    fig = first.plot(tmp_path / "c.png")
    assert (tmp_path / "c.png").stat().st_size > 1000
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_a_wrong_method_is_failed_and_never_best(monkeypatch):
    from dualtape.comparison import methods as cm

    real = cm.Method.runner

    def broken(self, fun, args, argnums, order):
        run = real(self, fun, args, argnums, order)
        if self.name == "fwd_chunk1":
            return lambda: run() * 1.001
        return run

    monkeypatch.setattr(cm.Method, "runner", broken)
    c = dt.compare(small, X, repeats=1, methods=["fwd_chunk1", "rev_vector", "jax_jacfwd"])
    row = c.table.set_index("method").loc["fwd_chunk1"]
    assert row["status"] == "failed" and row["max_rel_error"] > 1e-8
    assert c.best != "fwd_chunk1"


def test_order_two_compares_the_four_hessians():
    c = dt.compare(lambda x: dnp.sum(dnp.tanh(x) ** 3), X, order=2, repeats=1)
    names = set(c.table["method"])
    assert {"hessian_fwd_fwd", "hessian_fwd_rev", "hessian_rev_fwd", "hessian_rev_rev",
            "jax_hessian", "jax_hessian_jit"} == names
    assert (c.table["status"] == "ok").all()
    assert c.best in names


@pytest.mark.parametrize("order, argnums", [(1, 0), (1, (0, 2)), (2, 2)])
def test_jax_jit_closes_over_arguments_that_are_neither_differentiated_nor_numeric(order, argnums):
    # a step count used by range() was traced by jit, and its rows failed
    def steps(x, n, y):
        for _ in range(n):
            x = dnp.sin(x) * y
        return x if order == 1 else dnp.sum(x)

    c = dt.compare(steps, X, 3, X + 2.0, argnums=argnums, order=order, repeats=1)
    jits = [name for name in c.table["method"] if name.startswith("jax_") and name.endswith("_jit")]
    assert len(jits) == (2 if order == 1 else 1)
    assert (c.table["status"] == "ok").all(), c.table[["method", "status", "note"]]


def test_a_function_that_does_not_run_under_jax_is_compared_without_it():
    def host_only(x):
        if not isinstance(x, (np.ndarray, dt.Dual, dt.TapeValue)):
            raise TypeError("NumPy or dualtape values only")
        return dnp.sin(x) * 2.0

    c = dt.compare(host_only, X, repeats=1)
    assert not any(c.table["engine"] == "jax")
    assert (c.table["status"] == "unchecked").all()
    assert any("JAX" in n for n in c.notes)


def test_float32_is_checked_at_a_float32_tolerance():
    from dualtape.comparison.result import tolerance

    c = dt.compare(lambda x: dnp.tanh(x) * 2.0, X.astype(np.float32), repeats=1)
    assert c.dtype == "float32" and c.tolerance == pytest.approx(np.finfo(np.float32).eps ** 0.5)
    assert (c.table["status"] == "ok").all() and c.best is not None
    assert "<= 0.00035 (float32)" in str(c)
    assert tolerance(np.float64) == 1e-8 and tolerance(np.float16) > tolerance(np.float32)


def test_methods_that_raise_are_failed_rows_and_the_comparison_completes():
    def flat(x):  # AttributeError on dualtape's and JAX's traced values
        return dnp.sum(x.flat[:2])

    c = dt.compare(flat, X, repeats=1)
    t = c.table
    assert (t["status"] == "failed").all() and t["note"].str.contains("AttributeError").all()
    assert c.best is None and c.choice is None
    assert any(n.startswith("dt.choose_mode failed: AttributeError") for n in c.notes)


def test_a_method_that_raises_only_when_timed_is_failed(monkeypatch):
    from dualtape.comparison import methods as cm

    real = cm.Method.runner

    def once(self, fun, args, argnums, order):
        run, calls = real(self, fun, args, argnums, order), []
        if self.name != "jax_jacfwd":
            return run

        def flaky():
            calls.append(1)
            if len(calls) > 1:
                raise RuntimeError("second call")
            return run()
        return flaky

    monkeypatch.setattr(cm.Method, "runner", once)
    c = dt.compare(small, X, repeats=1, methods=["rev_vector", "jax_jacfwd"])
    rows = c.table.set_index("method")
    assert rows.loc["jax_jacfwd", "status"] == "failed"
    assert "RuntimeError: second call" in rows.loc["jax_jacfwd", "note"]
    assert c.best == "rev_vector"


def test_error_notes_give_the_type_and_message_not_jax_boilerplate():
    from dualtape.comparison.run import short_error

    exc = RuntimeError("first line\nsecond line")
    exc.add_note("For simplicity, JAX has removed its internal frames")
    assert short_error(exc) == "RuntimeError: first line"
    c = dt.compare(lambda x: np.sin(x) * 2.0, X, repeats=1, methods=["fwd_vector"])
    note = " ".join(c.notes)
    assert "TracerArrayConversionError: " in note and "For simplicity" not in note


def test_bad_arguments():
    with pytest.raises(ValueError, match="order"):
        dt.compare(small, X, order=3)
    with pytest.raises(ValueError, match="repeats"):
        dt.compare(small, X, repeats=0)
    with pytest.raises(ValueError, match="methods"):
        dt.compare(small, X, methods=["nope"])
    with pytest.raises(TypeError, match="fun"):
        dt.compare(3, X)
    with pytest.raises(ValueError, match="empty"):
        dt.compare(small, np.zeros(0))


# ---------------------------------------------------------------- the CLI

USER_FILE = """
import numpy as np
import dualtape.numpy as dnp

A = np.random.default_rng(1).standard_normal((4, 12)) / 4

def model(x):
    return dnp.tanh(A @ x) * dnp.sum(x ** 2)

def broken(x):
    raise RuntimeError("boom")

def complex_out(x):
    return x * 1j

def traced_only_fails(x):
    if not isinstance(x, np.ndarray):
        raise RuntimeError("traced")
    return dnp.sin(x)

NOT_A_FUNCTION = 3
"""


@pytest.fixture
def user(tmp_path, monkeypatch):
    (tmp_path / "user_fn.py").write_text(USER_FILE)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_cli_end_to_end(user, capsys):
    status = main(["compare", "user_fn.py:model", "--n", "12", "--repeats", "2",
                   "--no-progress"])
    out = capsys.readouterr().out
    assert status == 0
    assert "best:" in out and "n = 12" in out and "m = 4" in out
    folder = user / "results" / "compare" / "model"
    table = pd.read_csv(folder / "table.csv")
    assert len(table) >= 9 and (table["status"] == "ok").all()
    env = json.loads((folder / "env.json").read_text())
    assert env["compare"]["seed"] == 0 and env["compare"]["n"] == 12
    assert (folder / "compare.png").stat().st_size > 1000


def test_cli_a_function_failing_under_tracing_still_writes_the_outputs(user, capsys):
    status = main(["compare", "user_fn.py:traced_only_fails", "--n", "3", "--repeats", "1",
                   "--out", "here", "--no-progress"])
    out = capsys.readouterr().out
    assert status == 1 and "raised RuntimeError: traced" in out
    table = pd.read_csv(user / "here" / "table.csv")
    assert (table["status"] == "failed").all()
    assert (user / "here" / "compare.png").exists()


def test_cli_float32_input_passes_and_says_what_was_checked(user, capsys):
    np.save(user / "x32.npy", np.linspace(-1, 1, 12).astype(np.float32))
    status = main(["compare", "user_fn.py:model", "--input", "x32.npy", "--out", "here",
                   "--repeats", "1", "--no-progress"])
    assert status == 0 and "(float32)" in capsys.readouterr().out
    env = json.loads((user / "here" / "env.json").read_text())["compare"]
    assert env["dtype"] == "float32" and env["tolerance"] > 1e-4
    assert (pd.read_csv(user / "here" / "table.csv")["status"] == "ok").all()


def test_cli_loads_dataclasses_under_future_annotations(user, capsys):
    (user / "dc.py").write_text(
        "from __future__ import annotations\nfrom dataclasses import dataclass\n"
        "import dualtape.numpy as dnp\n\n@dataclass\nclass P:\n    scale: float = 2.0\n\n"
        "def f(x):\n    return dnp.sum(dnp.sin(x)) * P().scale\n")
    assert main(["compare", "dc.py:f", "--n", "3", "--repeats", "1", "--out", "here",
                 "--no-progress"]) == 0
    assert "best:" in capsys.readouterr().out


def test_cli_module_colon_function(user, capsys):
    assert main(["compare", "user_fn:model", "--n", "12", "--repeats", "1", "--out", "here",
                 "--no-progress"]) == 0
    env = json.loads((user / "here" / "env.json").read_text())
    assert env["compare"]["function"] == "user_fn:model"
    sys.modules.pop("user_fn", None)


def test_cli_bad_out_is_refused_before_measuring(user, capsys):
    (user / "afile").write_text("")
    status = main(["compare", "user_fn.py:model", "--n", "12", "--out", "afile/x",
                   "--no-progress"])
    out, err = capsys.readouterr()
    assert status == 2 and "dt.compare" not in out
    assert err.strip() == ("dualtape compare: error: --out: cannot write to 'afile/x': "
                           "Not a directory")


def test_cli_input_file_and_out(user, capsys):
    np.save(user / "x.npy", np.linspace(0, 1, 12))
    status = main(["compare", "user_fn.py:model", "--input", "x.npy", "--out", "here",
                   "--repeats", "1", "--order", "2", "--no-progress"])
    assert status == 0
    assert (user / "here" / "table.csv").exists()
    assert "hessian_fwd_rev" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["missing.py:model"], "missing.py: no such file"),
    (["user_fn.py:nope"], "has no function 'nope'"),
    (["user_fn.py:NOT_A_FUNCTION"], "not a function"),
    (["user_fn.py"], "expected FILE.py:FUNC"),
    (["no_such_module:f"], "no_such_module: no such file or module"),
    (["user_fn.py:broken"], "broken failed on the input: RuntimeError: boom"),
    (["user_fn.py:complex_out"], "cannot be differentiated"),
    (["user_fn.py:model", "--input", "nowhere.npy"], "--input: nowhere.npy: no such file"),
    (["user_fn.py:model", "--input", "ints.npy"], "cannot be differentiated"),
    (["user_fn.py:model", "--n", "0"], "--n: expected a positive integer"),
    (["user_fn.py:model", "--repeats", "0"], "--repeats: expected a positive integer"),
    (["user_fn.py:model", "--seed", "-1"], "--seed: expected an integer >= 0, got -1"),
    (["user_fn.py:model", "--n", "1000000000000"], "--n: expected a positive integer up to"),
    (["user_fn.py:model", "--input", "empty.npy"], "--input: empty.npy is empty"),
    (["user_fn.py:model", "--input", "text.npy"], "--input: text.npy is not a .npy file"),
])
def test_cli_bad_inputs_exit_2_with_one_line(user, capsys, argv, message):
    np.save(user / "ints.npy", np.arange(12))
    np.save(user / "empty.npy", np.zeros(0))
    (user / "text.npy").write_text("1.0 2.0 3.0\n")
    status = main(["compare", *argv, "--no-progress"])
    err = capsys.readouterr().err
    assert status == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_cli_syntax_error_in_the_file(user, capsys):
    (user / "bad.py").write_text("def f(x):\n    return x +\n")
    assert main(["compare", "bad.py:f", "--no-progress"]) == 2
    assert "bad.py: could not be loaded: SyntaxError" in capsys.readouterr().err


def test_console_script_runs(user):
    done = subprocess.run([sys.executable, "-m", "dualtape.cli", "compare", "user_fn.py:nope"],
                          capture_output=True, text=True, cwd=user)
    assert done.returncode == 2 and "has no function" in done.stderr
    assert Path(user / "user_fn.py").exists()


def test_a_nan_input_leaves_the_methods_unchecked_not_failed():
    # forward vector mode spreads the NaN to every column, reverse mode does not: both right
    c = dt.compare(lambda x: dnp.sum(dnp.sin(x)), np.array([np.nan, 1.0]), repeats=1,
                   methods=["fwd_vector", "rev_vector", "jax_jacfwd"])
    assert {r["status"] for r in c.rows} == {"unchecked"}
    assert c.best is not None
    assert any("NaN or infinite entries" in n for n in c.notes)


def test_methods_empty_or_a_generator():
    f, x = (lambda x: dnp.sum(x * x)), np.ones(3)
    with pytest.raises(ValueError, match="methods: expected at least one method name; valid: "):
        dt.compare(f, x, methods=[], repeats=1)
    c = dt.compare(f, x, methods=(m for m in ["fwd_vector"]), repeats=1)  # was: no rows at all
    assert [r["method"] for r in c.rows] == ["fwd_vector"]


@pytest.fixture
def small_budget(monkeypatch):
    from dualtape.comparison import methods, run

    monkeypatch.setattr(methods, "MAX_WORK", 1000)
    monkeypatch.setattr(methods, "MAX_HELD", 500)
    monkeypatch.setattr(run, "MAX_HELD", 500)


def test_methods_beyond_the_budget_are_left_out(small_budget):
    # as at n = 100,000 with the real budget: fwd_vector pushed a 100,000 x 100,000 tangent
    c = dt.compare(lambda x: dnp.sum(dnp.sin(x)), np.linspace(0.0, 1.0, 50), repeats=1)
    names = {r["method"] for r in c.rows}
    assert names == {"rev_vector", "jax_jacrev", "jax_jacrev_jit"}  # one output: no chunk 1
    assert any(n.startswith("fwd_vector left out: with n = 50 and m = 1") for n in c.notes)
    assert all(r["status"] == "ok" for r in c.rows)
    assert c.checked.startswith("checked against JAX's jacrev")


def test_a_derivative_beyond_the_budget_raises(small_budget):
    with pytest.raises(ValueError, match=r"args: the Jacobian would have 900 entries \(n = 30, "
                       r"m = 30\), more than dt.compare computes densely \(500\)"):
        dt.compare(dnp.sin, np.ones(30), repeats=1)
    with pytest.raises(ValueError, match="args: the Hessian would have 900 entries"):
        dt.compare(lambda x: dnp.sum(dnp.sin(x)), np.ones(30), order=2, repeats=1)
    with pytest.raises(ValueError, match="args: with n = 20 and m = 20 every method chosen is "
                       "beyond dt.compare's budget"):
        dt.compare(dnp.sin, np.ones(20), methods=["fwd_vector"], repeats=1)


def test_cli_an_n_whose_jacobian_cannot_be_held_is_one_line(user, capsys):
    # sin on 20,000 values: a 20,000 x 20,000 Jacobian (3.2 GB), refused before anything runs
    status = main(["compare", "user_fn.py:traced_only_fails", "--n", "20000", "--out", "here",
                   "--no-progress"])
    err = capsys.readouterr().err
    assert status == 2 and len(err.strip().splitlines()) == 1
    assert "--n: the Jacobian would have 400,000,000 entries" in err


def test_an_integer_or_boolean_output_has_nothing_to_compare(user, capsys):
    # was: every method "unchecked", and a best method named for a derivative that is zero
    for f in (lambda x: dnp.sum(x) > 0, lambda x: dnp.argmax(x)):
        with pytest.raises(TypeError, match="output leaf 0 has dtype (bool|int64), which has no "
                                            "derivative"):
            dt.compare(f, np.ones(3), repeats=1)
    (user / "bool_fn.py").write_text("import dualtape.numpy as dnp\n"
                                     "def f(x):\n    return dnp.sum(x) > 0\n")
    assert main(["compare", "bool_fn.py:f", "--n", "3", "--out", "new", "--no-progress"]) == 2
    assert "dtype bool, which has no derivative" in capsys.readouterr().err
    assert not (user / "new").exists()  # a refused run leaves no folder behind


def test_cli_npz_input_and_a_function_returning_none(user, capsys):
    np.savez(user / "two.npz", a=np.ones(3), b=np.zeros(2))
    (user / "none_fn.py").write_text("def f(x):\n    y = x * 2\n")
    assert main(["compare", "user_fn.py:model", "--input", "two.npz", "--no-progress"]) == 2
    assert "--input: two.npz is an archive of arrays" in capsys.readouterr().err
    assert main(["compare", "none_fn.py:f", "--n", "3", "--no-progress"]) == 2
    assert "returned None" in capsys.readouterr().err


def test_cli_user_code_calling_sys_exit_is_an_error_not_a_silent_exit(user, capsys):
    (user / "exits_on_import.py").write_text("import sys\nsys.exit(3)\n")
    (user / "exits_in_f.py").write_text("import sys\ndef f(x):\n    sys.exit(4)\n")
    assert main(["compare", "exits_on_import.py:f", "--no-progress"]) == 2
    assert "could not be loaded: it called sys.exit(3)" in capsys.readouterr().err
    assert main(["compare", "exits_in_f.py:f", "--n", "3", "--no-progress"]) == 2
    assert "f failed on the input: it called sys.exit(4)" in capsys.readouterr().err


def _row(method, mode, time_s, flops):
    return dict(method=method, label=method, mode=mode, chunk=None, engine="dualtape", jit=False,
                status="ok", note="", max_rel_error=0.0, time_s=time_s,
                relative_time=time_s / 1e-5, flops=flops)


@pytest.mark.parametrize("fwd_s, says", [
    (2e-5, "reverse mode needs 1 cotangent where forward mode needs 3 tangents, yet forward mode "
           "measured faster"),
    (5e-5, "reverse mode needs 1 cotangent where forward mode needs 3 tangents; rev_vector does "
           "20 FLOPs against 40 for fwd_vector."),
])
def test_the_reason_given_agrees_with_the_method_recommended(fwd_s, says):
    from dualtape.comparison.result import Comparison

    c = Comparison(rows=[_row("fwd_vector", "fwd", fwd_s, 40), _row("rev_vector", "rev", 4e-5, 20)],
                   n=3, m=1, order=1, eval_time_s=1e-5)
    assert says in c.recommendation


def test_one_output_has_no_chunk_beside_vector_mode_and_a_nan_output_is_noted():
    c = dt.compare(lambda x: dnp.sum(dnp.log(x)), np.array([-1.0, 2.0, 3.0]), repeats=1)
    names = {r["method"] for r in c.rows}
    assert "rev_vector" in names and "rev_chunk1" not in names and "fwd_chunk1" in names
    assert "rev_chunk1 left out: with 1 output it is vector mode" in c.notes
    assert any("output has NaN or infinite entries" in n for n in c.notes)
