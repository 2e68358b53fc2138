"""The `dualtape` command line: exit codes (0 ok, 1 failed cells, 2 bad input) and messages."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from study_helpers import read_csv

from dualtape.cli import main
from dualtape.study.storage import LOCK_FILE

STUDY_MODULE = textwrap.dedent('''
    import dualtape.numpy as dnp
    from dualtape.study import Problem, Study, Sweep, TimingConfig

    FAST = TimingConfig(target_s=1e-4, repeats=2, warmup=0)

    def _wrong(n, m, depth, rng):
        def f(x):
            is_jax = type(x).__module__.startswith("jax")
            return (dnp.cos(x) if is_jax else dnp.sin(x)) * 1.0
        return f, rng.standard_normal(n)

    METHODS = ("primal", "fwd_chunk1", "rev_chunk1")
    STUDY = Study("cli_small", "a small study for the CLI tests", problems=("dense_two_layer",),
                  methods=METHODS, sweeps=(Sweep("n", ("n",), {"m": 2}),), sizes=(2, 3, 4),
                  quick_sizes=(2, 3), timing=FAST, quick_timing=FAST)
    ''')
FAILING_MODULE = STUDY_MODULE.replace("STUDY = Study(\"cli_small\"", "_OK = Study(\"cli_small\"") + \
    textwrap.dedent('''
    STUDY = Study("cli_failing", "disagrees with JAX", problems=(Problem("wrong", _wrong),),
                  methods=METHODS, sweeps=(Sweep("n", ("n",), {"m": 1}),), sizes=(2,),
                  timing=FAST)
    ''')


@pytest.fixture
def studies_dir(tmp_path, monkeypatch):
    folder = tmp_path / "studies_here"
    folder.mkdir()
    (folder / "cli_small.py").write_text(STUDY_MODULE)
    (folder / "cli_failing.py").write_text(FAILING_MODULE)
    monkeypatch.setenv("DUALTAPE_STUDIES", str(folder))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _run(capsys, *argv):
    try:
        status = main(list(argv))
    except SystemExit as exc:  # argparse's --help, --version and usage errors
        status = exc.code
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize("argv", [["--help"], ["study", "--help"], ["study", "list", "--help"],
                                  ["study", "run", "--help"], ["study", "plot", "--help"],
                                  ["study", "summary", "--help"]])
def test_help_everywhere(capsys, argv):
    status, out, _ = _run(capsys, *argv)
    assert status == 0 and out.startswith("usage: dualtape")


@pytest.mark.parametrize("argv, message", [
    ([], "the following arguments are required: COMMAND"),
    (["study"], "the following arguments are required: ACTION"),
    (["study", "run"], "the following arguments are required: NAME"),
    (["study", "fly"], "invalid choice: 'fly'"),
    (["study", "run", "x", "--bogus"], "unrecognized arguments: --bogus"),
])
def test_usage_errors_are_one_line_and_exit_2(capsys, argv, message):
    status, out, err = _run(capsys, *argv)
    assert status == 2 and message in err
    assert err.count("\n") == 1 and err.startswith("dualtape")


def test_version(capsys):
    import dualtape

    status, out, _ = _run(capsys, "--version")
    assert status == 0 and out.strip() == f"dualtape {dualtape.__version__}"


def test_list_shows_studies_problems_and_methods(capsys, studies_dir):
    status, out, _ = _run(capsys, "study", "list")
    assert status == 0
    for name in ("jacobian_scaling", "cli_small", "dense_two_layer", "mlp_loss", "fwd_chunk1",
                 "jax_jacrev_jit"):
        assert name in out


def test_unknown_study_lists_the_valid_ones(capsys, studies_dir):
    status, _, err = _run(capsys, "study", "run", "nope")
    assert status == 2
    assert err.startswith("dualtape study run: error: unknown study 'nope'; valid studies: ")
    assert "cli_small" in err and "jacobian_scaling" in err and err.count("\n") == 1


@pytest.mark.parametrize("bad", ["-3", "0", "2.5", "ten"])
def test_bad_sizes(capsys, studies_dir, bad):
    status, _, err = _run(capsys, "study", "run", "cli_small", "--sizes", "2", bad)
    assert status == 2
    assert err == f"dualtape study run: error: --sizes: expected positive integers, got {bad!r}\n"
    assert not (studies_dir / "results").exists()


def test_unknown_problem_and_method(capsys, studies_dir):
    status, _, err = _run(capsys, "study", "run", "cli_small", "--problems", "nope")
    assert status == 2 and "unknown problem 'nope'; valid problems: " in err
    status, _, err = _run(capsys, "study", "run", "cli_small", "--methods", "nope")
    assert status == 2 and "unknown method 'nope'; valid methods: " in err


def test_unwritable_out(capsys, studies_dir):
    (studies_dir / "afile").write_text("x")
    status, _, err = _run(capsys, "study", "run", "cli_small", "--out", "afile/sub")
    assert status == 2 and "--out: cannot write to 'afile/sub'" in err


def test_foreign_csv_is_left_untouched(capsys, studies_dir):
    out = studies_dir / "elsewhere"
    out.mkdir()
    (out / "data.csv").write_text("date,price\n2024-01-01,3\n")
    status, _, err = _run(capsys, "study", "run", "cli_small", "--out", str(out))
    assert status == 2 and "not a dualtape results file" in err
    assert (out / "data.csv").read_text() == "date,price\n2024-01-01,3\n"
    assert sorted(p.name for p in out.iterdir() if p.name != LOCK_FILE) == ["data.csv"]


def test_run_plot_summary_round_trip(capsys, studies_dir):
    status, out, err = _run(capsys, "study", "run", "cli_small", "--no-progress")
    assert status == 0, err
    folder = studies_dir / "results" / "cli_small"
    assert "measured 9 cells (0 already done)" in out and "-> results/cli_small" in out
    assert (folder / "data.csv").exists() and (folder / "summary.md").exists()
    status, out, _ = _run(capsys, "study", "plot", "cli_small")
    assert status == 0 and out.count(".png") == 1 and out.count(".svg") == 1
    status, out, _ = _run(capsys, "study", "summary", "cli_small")
    assert status == 0 and out.strip().endswith("summary.md")
    status, out, err = _run(capsys, "study", "run", "cli_small", "--no-progress")
    assert status == 0 and "measured 0 cells (9 already done)" in out
    assert err.count("\n") == 1 and "note: nothing measured" in err and "--out DIR" in err


def test_quick_run_goes_to_results_quick(capsys, studies_dir):
    status, out, _ = _run(capsys, "study", "run", "cli_small", "--quick", "--no-progress")
    assert status == 0
    rows = read_csv(studies_dir / "results" / "quick" / "cli_small" / "data.csv")
    assert {r["n"] for r in rows} == {"2", "3"}


def test_plot_and_summary_without_results(capsys, studies_dir):
    for action in ("plot", "summary"):
        status, _, err = _run(capsys, "study", action, "cli_small")
        assert status == 2 and "no results in 'results/cli_small'" in err
        assert "dualtape study run cli_small" in err


def test_failed_cells_exit_1_and_stay_in_the_data(capsys, studies_dir):
    status, _, err = _run(capsys, "study", "run", "cli_failing", "--no-progress")
    assert status == 1
    assert err.startswith("dualtape study run: error: 2 failed cell(s): ")
    rows = read_csv(studies_dir / "results" / "cli_failing" / "data.csv")
    assert [r["method"] for r in rows if r["status"] == "failed"] == ["fwd_chunk1", "rev_chunk1"]
    status, _, err = _run(capsys, "study", "summary", "cli_failing")
    assert status == 1 and "2 failed cell(s)" in err


def test_console_script_and_light_import():
    done = subprocess.run(["dualtape", "study", "run", "no_such_study"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2 and "unknown study 'no_such_study'" in done.stderr
    code = ("import sys, dualtape.cli; "
            "print(sorted(m for m in ('jax', 'pandas', 'matplotlib') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.stdout.strip() == "[]", done.stderr


def _one_line_error(status, err, *words):
    assert status == 2 and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err and all(w in err for w in words), err


@pytest.mark.parametrize("argv, flag", [
    (["lesson_mlp", "--sizes", "3"], "--sizes"),
    (["vanishing_gradients", "--problems", "mlp"], "--problems"),
    (["auto_mode", "--methods", "fwd_vector"], "--methods"),
    (["hessian_modes", "--methods", "rev_chunk1"], "--methods: rev_chunk1 is not one of"),
])
def test_own_run_studies_refuse_filters_they_do_not_have(capsys, tmp_path, argv, flag):
    status, _, err = _run(capsys, "study", "run", *argv, "--out", str(tmp_path / "o"))
    _one_line_error(status, err, flag)
    assert not (tmp_path / "o" / "data.csv").exists()


@pytest.mark.parametrize("action", ["summary", "plot"])
def test_own_run_study_without_results_is_a_one_line_error(capsys, tmp_path, action):
    status, _, err = _run(capsys, "study", action, "hessian_modes", "--out", str(tmp_path / "no"))
    _one_line_error(status, err, "--out", "no results in")


def test_own_run_study_into_a_file_is_a_one_line_error(capsys, tmp_path):
    (tmp_path / "afile").write_text("x")
    status, _, err = _run(capsys, "study", "run", "hessian_modes", "--out",
                          str(tmp_path / "afile"))
    _one_line_error(status, err, "--out: cannot write to")


@pytest.mark.parametrize("action", ["summary", "plot"])
def test_summary_and_plot_refuse_another_studys_folder(capsys, studies_dir, action):
    status, _, err = _run(capsys, "study", "run", "cli_small", "--quick", "--no-progress",
                          "--out", "mine")
    assert status == 0, err
    before = (studies_dir / "mine" / "summary.md").read_bytes()
    status, _, err = _run(capsys, "study", action, "cli_failing", "--out", "mine")
    _one_line_error(status, err, "not 'cli_failing'")
    assert (studies_dir / "mine" / "summary.md").read_bytes() == before


def test_a_method_of_another_study_is_named_and_nothing_is_written(capsys, studies_dir):
    status, _, err = _run(capsys, "study", "run", "cli_small", "--methods", "fwd_chunk8",
                          "--out", "m")
    _one_line_error(status, err, "--methods: fwd_chunk8 is not one of cli_small's methods: "
                    "primal, fwd_chunk1, rev_chunk1")
    assert not (studies_dir / "m" / "env.json").exists()


def test_a_second_run_into_a_locked_folder_is_refused(capsys, studies_dir):
    from dualtape.study.storage import lock_folder

    (studies_dir / "busy").mkdir()
    with lock_folder(studies_dir / "busy"):
        status, _, err = _run(capsys, "study", "run", "cli_small", "--out", "busy")
    _one_line_error(status, err, "--out: another run")
    assert not (studies_dir / "busy" / "env.json").exists()
    status, _, err = _run(capsys, "study", "run", "cli_small", "--quick", "--no-progress",
                          "--out", "busy")
    assert status == 0, err


def test_python_dash_m_dualtape_is_the_cli() -> None:
    done = subprocess.run([sys.executable, "-m", "dualtape", "study", "list"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "jacobian_scaling" in done.stdout
    assert main(["study", "list"]) == 0


@pytest.mark.parametrize("action", ["run", "plot", "summary"])
def test_a_data_csv_that_is_a_folder_is_a_one_line_error(capsys, studies_dir, action):
    (studies_dir / "odd" / "data.csv").mkdir(parents=True)  # was: IsADirectoryError's traceback
    status, _, err = _run(capsys, "study", action, "cli_small", "--out", "odd", "--no-progress"
                          if action == "run" else "--quick")
    assert status == 2 and err.strip().splitlines() == [
        f"dualtape study {action}: error: odd/data.csv: Is a directory"]


@pytest.mark.parametrize("argv", [["study", "run", "cli_small"], ["study", "plot", "cli_small"],
                                  ["compare", "f.py:f"]])
def test_an_empty_out_is_refused(capsys, studies_dir, argv):
    # was: compare wrote to results/compare/f/, study run into the current folder
    status, _, err = _run(capsys, *argv, "--out", "")
    assert status == 2 and err.strip() == (f"dualtape {' '.join(argv[:2 if argv[0] == 'study' else 1])}"
                                           ": error: --out: expected a folder, got an empty path")
    assert not (studies_dir / "data.csv").exists()


def test_sigterm_ends_a_study_run_as_an_interruption(tmp_path):
    """A job scheduler's SIGTERM keeps what was measured, records the run as interrupted
    (not "running") and says how to resume; the rerun then completes it."""
    import json
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "dualtape.cli", "study", "run", "jacobian_scaling", "--quick",
           "--out", str(out), "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (out / "data.csv").exists():
        time.sleep(0.1)
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    # (a quick run takes over 10 s: it cannot have finished; with JAX loaded the first
    # KeyboardInterrupt can land in a GC callback and be dropped, and the stop request
    # then ends the run at the next cell)
    assert proc.returncode == 130, err
    assert "rerun the same command to resume" in err
    assert json.loads((out / "env.json").read_text())["runs"][-1]["outcome"] == "interrupted"
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "already done" in done.stdout
