"""An interrupted sweep loses nothing measured, and a rerun completes it to the same rows."""

from __future__ import annotations

import pytest
from study_helpers import comparable, read_csv, small_study

from dualtape.study import StudyError, measure, run


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("full")
    report = run(small_study(sizes=(2, 3)), out=out, figures=False)
    assert report.ok and report.cells_already_done == 0
    return read_csv(out / "data.csv")


def _interrupt_at(monkeypatch, call: int):
    real, calls = measure.timings, []

    def flaky(runner, cfg):
        calls.append(1)
        if len(calls) == call:
            raise KeyboardInterrupt
        return real(runner, cfg)

    monkeypatch.setattr(measure, "timings", flaky)


def test_resume_after_interruption_gives_the_same_rows(tmp_path, monkeypatch, uninterrupted):
    study = small_study(sizes=(2, 3))
    _interrupt_at(monkeypatch, 7)
    first = run(study, out=tmp_path)
    assert first.interrupted and not first.ok
    partial = read_csv(tmp_path / "data.csv")
    assert 0 < len(partial) < len(uninterrupted)
    assert set(comparable(partial)) < set(comparable(uninterrupted))  # nothing measured is lost
    assert not (tmp_path / "summary.md").exists()  # no figures from half the data
    monkeypatch.undo()

    second = run(study, out=tmp_path)
    assert second.ok and second.cells_already_done == 6  # six cells completed before the stop
    resumed = read_csv(tmp_path / "data.csv")
    assert comparable(resumed) == comparable(uninterrupted)
    keys = [(r["sweep"], r["method"], r["n"], r["m"], r["group"], r["measure"], r["repeat"])
            for r in resumed]
    assert len(keys) == len(set(keys))  # no group measured twice
    assert len({r["run_id"] for r in resumed}) == 2  # rows tell which run measured them


def test_a_sweep_that_an_exception_ends_is_recorded_as_failed(tmp_path, monkeypatch):
    # an error outside the cells (a full disk, a lost scheduler) was recorded as completed
    import json

    from dualtape.study import sweep

    real, calls = sweep.measure_cell, []

    def breaks(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise OSError("No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(sweep, "measure_cell", breaks)
    with pytest.raises(OSError, match="No space left"):
        run(small_study(sizes=(2, 3)), out=tmp_path, figures=False)
    runs = json.loads((tmp_path / "env.json").read_text())["runs"]
    assert [(r["outcome"], r["cells_measured"]) for r in runs] == [("failed", 1)]
    monkeypatch.undo()
    again = run(small_study(sizes=(2, 3)), out=tmp_path, figures=False)
    assert again.ok and again.cells_already_done == 1


def test_resume_after_a_torn_write(tmp_path, uninterrupted):
    study = small_study(sizes=(2, 3))
    run(study, out=tmp_path, figures=False, methods=["primal", "fwd_chunk1"])
    with open(tmp_path / "data.csv", "a") as fh:
        fh.write("20990101T000000Z,tiny,n,dense_two_layer,rev_chu")  # killed mid-line
    report = run(study, out=tmp_path, figures=False)
    assert report.ok and report.repaired_bytes > 0
    assert comparable(read_csv(tmp_path / "data.csv")) == comparable(uninterrupted)


def test_rerun_of_a_complete_folder_measures_nothing(tmp_path):
    study = small_study(sizes=(2,))
    run(study, out=tmp_path, figures=False)
    before = (tmp_path / "data.csv").read_bytes()
    again = run(study, out=tmp_path)
    assert again.cells_measured == 0 and again.cells_already_done == again.cells_planned > 0
    assert (tmp_path / "data.csv").read_bytes() == before
    assert len(__import__("json").loads((tmp_path / "env.json").read_text())["runs"]) == 2


def test_summary_of_a_complete_folder_names_the_run_that_measured_it(tmp_path):
    import json

    study = small_study(sizes=(2,))
    run(study, out=tmp_path, figures=False)
    doc = json.loads((tmp_path / "env.json").read_text())
    doc["runs"][0]["environment"]["command"] = "the measuring command"
    (tmp_path / "env.json").write_text(json.dumps(doc))
    run(study, out=tmp_path, command=["a", "rerun"])  # measures nothing, redraws the summary
    text = (tmp_path / "summary.md").read_text()
    assert "`the measuring command`" in text and "`a rerun`" not in text
    assert "over 2 run(s) (last run: completed, 0 cells)" in text


def test_a_partly_written_group_is_measured_again_without_duplicates(tmp_path):
    study = small_study(sizes=(2,), methods=("primal",))
    run(study, out=tmp_path, figures=False)
    path = tmp_path / "data.csv"
    lines = path.read_text().splitlines(keepends=True)
    assert lines[-1].split(",")[11] == "time_s"  # the last group timed two repeats
    path.write_text("".join(lines[:-1]))  # the run died after the group's first row
    again = run(study, out=tmp_path, figures=False)
    assert again.ok and again.cells_measured == 1 and again.dropped_rows == 1
    rows = read_csv(path)
    keys = [(r["sweep"], r["method"], r["n"], r["m"], r["group"], r["measure"], r["repeat"])
            for r in rows]
    assert len(keys) == len(set(keys)) == len(lines) - 1


def _custom(calls, stop_at=None, cells=(("a", 1), ("a", 2), ("b", 1)), fail_at=None):
    """A study with its own cells (three of them), measured through ``run_cells``."""
    from dualtape.study.custom import run_cells

    def measure_one(name, n):
        calls.append((name, n))
        if len(calls) == stop_at:
            raise KeyboardInterrupt
        if len(calls) == fail_at:
            raise RuntimeError("a cell's own error")
        return [{"name": name, "n": n, "value": n / 3}, {"name": name, "n": n, "value": 0.5}]

    def plot(_, out):
        return []

    def summary(_, out):
        return out / "data.csv"

    def go(out):
        return run_cells("own", out, list(cells), measure_one,
                         ("name", "n", "value"), plot=plot, summary=summary)

    return go


def test_a_study_with_its_own_run_appends_each_cell_and_resumes(tmp_path):
    import json

    calls = []
    first = _custom(calls, stop_at=3)(tmp_path)
    assert first.interrupted and first.cells_measured == 2
    rows = read_csv(tmp_path / "data.csv")
    assert [(r["cell"], r["value"]) for r in rows] == [
        ("a 1", repr(1 / 3)), ("a 1", "0.5"), ("a 2", repr(2 / 3)), ("a 2", "0.5")]
    calls.clear()
    second = _custom(calls)(tmp_path)
    assert second.ok and calls == [("b", 1)] and second.cells_already_done == 2
    assert len(read_csv(tmp_path / "data.csv")) == 6
    runs = json.loads((tmp_path / "env.json").read_text())
    assert runs["study"] == "own"
    assert [r["outcome"] for r in runs["runs"]] == ["interrupted", "completed"]


def test_own_run_measures_a_repeated_cell_once(tmp_path):
    calls = []
    report = _custom(calls, cells=(("a", 1), ("a", 1), ("b", 1)))(tmp_path / "dup")
    assert report.ok and calls == [("a", 1), ("b", 1)]


def test_own_run_records_a_failing_cell_and_goes_on_as_a_sweep_does(tmp_path):
    # a cell that raised used to stop the whole run with a traceback
    import json

    from dualtape.study.custom import load_csv

    calls = []
    report = _custom(calls, fail_at=2)(tmp_path)
    assert calls == [("a", 1), ("a", 2), ("b", 1)] and report.cells_measured == 3
    assert not report.ok and report.failed == ["a 2: RuntimeError: a cell's own error"]
    rows = read_csv(tmp_path / "data.csv")
    assert [(r["cell"], r["status"]) for r in rows] == [
        ("a 1", "ok"), ("a 1", "ok"), ("a 2", "failed"), ("b 1", "ok"), ("b 1", "ok")]
    assert rows[2]["note"] == "RuntimeError: a cell's own error" and rows[2]["value"] == ""
    runs = json.loads((tmp_path / "env.json").read_text())["runs"]
    assert [r["outcome"] for r in runs] == ["completed"]
    assert [r["cell"] for r in load_csv(tmp_path, "own", ("n",), ("value",))] == ["a 1"] * 2 + \
        ["b 1"] * 2  # plots and summaries see the cells that succeeded
    # a rerun counts the failed cell as done, as a sweep does, and still reports it
    calls.clear()
    again = _custom(calls)(tmp_path)
    assert calls == [] and again.cells_already_done == 3 and again.failed == report.failed


def test_own_run_whose_cells_all_fail_ends_with_failed_cells_and_no_summary(tmp_path):
    from dualtape.study.custom import load_csv, run_cells

    def boom(name, n, missing):
        raise ValueError(f"no {name} at {n}")

    def never(_, out):
        raise AssertionError("nothing succeeded: no figure, no summary")

    report = run_cells("own", tmp_path, [("a", 1), ("b", 2)], boom, ("name", "n", "method"),
                       parts=("method", ["x", "y"]), plot=never, summary=never)
    assert report.failed == ["a 1 x: ValueError: no a at 1", "a 1 y: ValueError: no a at 1",
                             "b 2 x: ValueError: no b at 2", "b 2 y: ValueError: no b at 2"]
    assert report.files == [tmp_path / "data.csv", tmp_path / "env.json"]
    with pytest.raises(StudyError, match="every cell .* failed"):
        load_csv(tmp_path, "own")


def test_own_run_folder_written_before_the_status_column_is_read_and_upgraded(tmp_path):
    from dualtape.study.custom import load_csv

    old = ("run_id,study,cell,name,n,value,host,group_rows\n"
           "r0,own,a 1,a,1,0.5,h,2\nr0,own,a 1,a,1,0.25,h,2\n")
    (tmp_path / "data.csv").write_text(old)
    assert [r["value"] for r in load_csv(tmp_path, "own", ("n",), ("value",))] == [0.5, 0.25]
    calls = []
    report = _custom(calls)(tmp_path)
    assert report.ok and calls == [("a", 2), ("b", 1)]
    rows = read_csv(tmp_path / "data.csv")
    assert list(rows[0])[-4:] == ["status", "note", "host", "group_rows"]
    assert [r["status"] for r in rows] == [""] * 2 + ["ok"] * 4


def test_hessian_modes_honours_sizes_problems_and_methods_and_resumes(tmp_path):
    from dualtape.study import get_study

    s = get_study("hessian_modes")
    report = run(s, out=tmp_path, quick=True, sizes=[3], problems=["quadratic_tanh"],
                 methods=["hvp"])
    assert report.ok and report.cells_measured == 1
    rows = read_csv(tmp_path / "data.csv")
    assert [(r["problem"], r["n"], r["method"]) for r in rows] == [("quadratic_tanh", "3", "hvp")]
    again = run(s, out=tmp_path, quick=True, sizes=[3], problems=["quadratic_tanh"],
                methods=["hvp", "fwd-rev"])
    assert again.cells_measured == 1  # only fwd-rev was missing
    rows = read_csv(tmp_path / "data.csv")
    assert sorted(r["method"] for r in rows) == ["fwd-rev", "hvp"]


def test_hessian_modes_measures_sizes_that_build_one_instance_once(tmp_path):
    # the MLP rounds n to a parameter count: 8 and 16 are both n = 8, measured twice before
    from dualtape.study import get_study

    report = run(get_study("hessian_modes"), out=tmp_path, quick=True, sizes=[8, 16],
                 problems=["mlp_loss"], methods=["hvp"])
    assert report.ok and report.cells_measured == 1
    assert [(r["n"], r["cell"]) for r in read_csv(tmp_path / "data.csv")] == [("8", "mlp_loss 8")]


def test_a_killed_run_is_called_killed_and_its_rows_are_kept(tmp_path):
    """SIGKILL leaves the run's entry "running": the summary (the folder unlocked) and the
    next run (holding the lock) both know it died, and the rerun completes the cells."""
    import json
    import signal
    import subprocess
    import sys
    from pathlib import Path

    from dualtape.study import summary

    script = f"""
import os, signal, sys
sys.path.insert(0, {str(Path(__file__).parent)!r})
from study_helpers import small_study
from dualtape.study import StudyError, measure, run
real, calls = measure.timings, []
def dying(runner, cfg):
    calls.append(1)
    if len(calls) == 7:
        os.kill(os.getpid(), signal.SIGKILL)
    return real(runner, cfg)
measure.timings = dying
run(small_study(sizes=(2, 3)), out={str(tmp_path)!r}, figures=False)
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    env = json.loads((tmp_path / "env.json").read_text())
    assert env["runs"][-1]["outcome"] == "running"  # nothing in the process could close it
    kept = read_csv(tmp_path / "data.csv")
    assert kept

    study = small_study(sizes=(2, 3))
    summary(study, out=tmp_path)
    assert "(last run: killed before it recorded its outcome" in (tmp_path / "summary.md").read_text()

    again = run(study, out=tmp_path, figures=False)
    assert again.ok and again.cells_already_done == 6
    first, second = json.loads((tmp_path / "env.json").read_text())["runs"]
    assert first["outcome"] == "killed" and first["rows_kept"] == len(kept)
    assert first["cells_measured"] is None  # was 0: a run writes its count when it finishes
    assert second["outcome"] == "completed"


def test_quick_and_default_measurements_do_not_mix_in_one_folder(tmp_path):
    # was: the default run found every cell done and kept the quick timings as its own
    from dualtape.study import StudyError

    study = small_study(sizes=(2,))
    assert run(study, out=tmp_path, quick=True, figures=False).ok
    before = (tmp_path / "data.csv").read_bytes()
    with pytest.raises(StudyError, match="holds quick measurements.*run with --quick"):
        run(study, out=tmp_path, figures=False)
    assert (tmp_path / "data.csv").read_bytes() == before
    again = run(study, out=tmp_path, quick=True, figures=False)
    assert again.ok and again.cells_measured == 0


def test_a_run_refused_before_it_began_leaves_no_folder(tmp_path):
    from dualtape.study import StudyError

    out = tmp_path / "new"
    with pytest.raises(StudyError, match="cannot build it"):
        run("jacobian_scaling", out=out, sizes=[10**11], figures=False)
    assert not out.exists()
