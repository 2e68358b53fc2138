"""An interrupted sweep loses nothing measured, and a rerun completes it to the same rows."""

from __future__ import annotations

import pytest
from study_helpers import comparable, read_csv, small_study

from dualtape.study import measure, run


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
