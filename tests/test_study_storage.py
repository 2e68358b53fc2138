"""The results folder: tidy appends, torn-line repair, refusal of foreign or corrupt files."""

from __future__ import annotations

import json

import pytest

from dualtape.study import StudyError
from dualtape.study.storage import (
    COLUMNS,
    HEADER,
    ResultsWriter,
    custom_layout,
    prepare_dir,
    read_complete,
    read_json,
    read_rows,
    write_atomic,
)


def _row(**kw):
    base = {"run_id": "r", "study": "s", "sweep": "n", "problem": "p", "method": "primal",
            "engine": "dualtape", "mode": "primal", "n": 2, "m": 1, "depth": 1, "group": "time",
            "measure": "time_s", "repeat": 0, "value": 0.1, "unit": "s", "calls": 3,
            "status": "ok", "note": ""}
    base.update(kw)
    return base


def test_writer_appends_batches_with_one_header_and_exact_floats(tmp_path):
    path = tmp_path / "data.csv"
    w = ResultsWriter(path, "s")
    w.write([_row(value=0.1 + 0.2)])
    w.write([_row(repeat=1, value=1e-300, note='a "quoted", note')])
    text = path.read_text()
    assert text.startswith(HEADER + "\n") and text.count(HEADER) == 1
    rows, torn = read_rows(path, "s")
    assert torn == -1
    assert float(rows[0]["value"]) == 0.1 + 0.2 and float(rows[1]["value"]) == 1e-300
    assert rows[1]["note"] == 'a "quoted", note'
    assert ResultsWriter(path, "s").done == {("n", "p", "primal", "2", "1", "1", "time")}


def test_torn_last_line_is_dropped_and_reported(tmp_path):
    path = tmp_path / "data.csv"
    ResultsWriter(path, "s").write([_row()])
    good = path.read_bytes()
    path.write_bytes(good + b"r,s,n,p,primal,dualt")  # a crash mid-write
    w = ResultsWriter(path, "s")
    assert w.repaired_bytes == len(b"r,s,n,p,primal,dualt")
    assert path.read_bytes() == good and len(w.rows) == 1


@pytest.mark.parametrize("content", ["", HEADER[:17]])
def test_an_empty_file_or_a_header_cut_short_is_torn_not_foreign(tmp_path, content):
    # a crash between append_durable's open and its first write leaves either;
    # was: "not a dualtape results file", so no run could resume into the folder
    path = tmp_path / "data.csv"
    path.write_text(content)
    assert read_rows(path, "s") == ([], 0)
    w = ResultsWriter(path, "s")
    assert w.repaired_bytes == len(content) and w.done == set()
    w.write([_row()])
    rows, torn = read_rows(path, "s")
    assert len(rows) == 1 and torn == -1 and path.read_text().count(HEADER) == 1


@pytest.mark.parametrize("content, message", [
    ("a,b,c\n1,2,3\n", "not a dualtape results file"),
    ("run_id,study,sweep,probe", "not a dualtape results file"),  # not our header's start
    (HEADER + "\n" + "x,y\n", "line 2 has 2 fields"),
    (HEADER + "\n" + ",".join(["1"] * 7 + ["two"] + ["1"] * (len(COLUMNS) - 8)) + "\n",
     "is not a size"),
    (HEADER + "\n" + ",".join(["1"] * 13 + ["fast"] + ["1"] * (len(COLUMNS) - 14)) + "\n",
     "line 2: value='fast' is not a number"),
    (HEADER + "\n" + ",".join(["1"] * 15 + ["3x"] + ["1"] * (len(COLUMNS) - 16)) + "\n",
     "line 2: calls='3x' is not a number"),
])
def test_foreign_or_corrupt_csv_is_refused_untouched(tmp_path, content, message):
    path = tmp_path / "data.csv"
    path.write_text(content)
    before = path.read_bytes()
    with pytest.raises(StudyError, match=message):
        ResultsWriter(path, "s")
    assert path.read_bytes() == before


def test_binary_file_is_refused(tmp_path):
    path = tmp_path / "data.csv"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(StudyError, match="not UTF-8"):
        ResultsWriter(path, "s")
    assert path.read_bytes() == b"\xff\xfe\x00garbage"


def test_another_studys_results_are_refused(tmp_path):
    path = tmp_path / "data.csv"
    ResultsWriter(path, "other").write([_row(study="other")])
    before = path.read_bytes()
    with pytest.raises(StudyError, match="holds results of study 'other', not 's'"):
        ResultsWriter(path, "s")
    assert path.read_bytes() == before


def test_a_short_row_is_called_corrupt_not_another_studys(tmp_path):
    from dualtape.study.storage import check_owner

    (tmp_path / "data.csv").write_text(HEADER + "\nr,other,n\n")
    check_owner(tmp_path, "s")  # it names no study: reading it says what is wrong
    with pytest.raises(StudyError, match="line 2 has 3 fields"):
        read_rows(tmp_path / "data.csv", "s")


def test_unwritable_output_folder_is_refused(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StudyError, match="^--out: cannot write to"):
        prepare_dir(blocker / "sub")
    assert prepare_dir(tmp_path / "new" / "deep").is_dir()


def test_atomic_write_and_json(tmp_path):
    target = tmp_path / "summary.md"
    write_atomic(target, "one")
    write_atomic(target, "two")
    assert target.read_text() == "two"
    assert [p.name for p in tmp_path.iterdir()] == ["summary.md"]  # no temporary left
    bad = tmp_path / "env.json"
    bad.write_text("{not json")
    with pytest.raises(StudyError, match="not valid JSON"):
        read_json(bad)
    bad.write_text(json.dumps({"study": "s", "runs": []}))
    assert read_json(bad)["study"] == "s"


def test_a_partly_written_group_is_dropped_and_not_counted_done(tmp_path):
    path = tmp_path / "data.csv"
    w = ResultsWriter(path, "s")
    w.write([_row(group="check", measure="max_rel_err")])
    w.write([_row(repeat=i) for i in range(3)])
    lines = path.read_text().splitlines(keepends=True)
    assert all(line.rstrip("\n").endswith(",3") for line in lines[2:])  # group_rows
    path.write_text("".join(lines[:-1]))  # a crash between two whole lines of the group
    again = ResultsWriter(path, "s")
    assert again.dropped_rows == 2
    assert again.done == {("n", "p", "primal", "2", "1", "1", "check")}
    again.write([_row(repeat=i) for i in range(3)])  # re-measured, once
    rows, _ = read_rows(path, "s")
    assert [r["group"] for r in rows] == ["check", "time", "time", "time"]


def test_readers_see_the_complete_groups_only_and_leave_the_file_alone(tmp_path):
    # was: summary and plot read an unfinished group's rows (a silently different median)
    # and crashed on a torn line; the next run drops both, so the readers leave both out
    from dualtape.study.analysis import load
    from dualtape.study.custom import load_csv

    path = tmp_path / "data.csv"
    w = ResultsWriter(path, "s")
    w.write([_row(group="check", measure="max_rel_err")])
    w.write([_row(repeat=i, value=0.1 * (i + 1)) for i in range(3)])
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-1]) + "r,s,n,p,prim")  # one row short, then a torn line
    before = path.read_bytes()
    rows, left_out = read_complete(path, "s")
    assert [r["group"] for r in rows] == ["check"] and left_out == 2
    assert list(load(tmp_path)["group"]) == ["check"]
    assert path.read_bytes() == before

    custom = tmp_path / "custom"
    custom.mkdir()
    layout = custom_layout(("method", "time_s"), key=("cell", "method"))
    cw = ResultsWriter(custom / "data.csv", "c", layout)
    cw.write([{"run_id": "r", "study": "c", "cell": "4", "method": "a", "time_s": 1.0}])
    cw.write([{"run_id": "r", "study": "c", "cell": "4", "method": "b", "time_s": t}
              for t in (2.0, 3.0)])
    text = (custom / "data.csv").read_text()
    (custom / "data.csv").write_text(text[:text.rindex("\n", 0, -1) + 1] + "r,c,4,b,3")
    got = load_csv(custom, "c", floats=("time_s",), key=("cell", "method"))
    assert [(r["method"], r["time_s"]) for r in got] == [("a", 1.0)]
    (custom / "data.csv").write_text(text.partition("\n")[0] + "\n")  # the header alone
    with pytest.raises(StudyError, match="no complete measurements.*dualtape study run c"):
        load_csv(custom, "c", floats=("time_s",), key=("cell", "method"))


def test_the_folder_lock_refuses_a_second_holder_and_dies_with_its_process(tmp_path):
    import subprocess
    import sys

    from dualtape.study.storage import lock_folder

    with lock_folder(tmp_path):
        with pytest.raises(StudyError, match="--out: another run .* is writing to"):
            with lock_folder(tmp_path):
                pass
    holder = subprocess.Popen(  # a run killed with SIGKILL leaves no stale lock behind
        [sys.executable, "-c", "import fcntl, sys, time; f = open(sys.argv[1], 'a');"
         "fcntl.flock(f, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(60)",
         str(tmp_path / ".lock")], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    with pytest.raises(StudyError, match="another run"):
        with lock_folder(tmp_path):
            pass
    holder.kill()
    holder.wait()
    with lock_folder(tmp_path):
        pass


def test_summaries_know_the_profile_their_folder_was_measured_with(tmp_path):
    # auto_mode and sparse_jacobians printed the default timing settings for --quick folders
    from dualtape.study.custom import measured_quick

    assert not measured_quick(tmp_path, "s")  # no env.json: nothing quick
    quick = {"profile": "quick", "cells_measured": 3}
    (tmp_path / "env.json").write_text(json.dumps({"study": "s", "runs": [quick]}))
    assert measured_quick(tmp_path, "s")
    killed = {"profile": "quick", "cells_measured": None, "rows_kept": 0}  # measured nothing
    (tmp_path / "env.json").write_text(json.dumps({"study": "s", "runs": [killed]}))
    assert not measured_quick(tmp_path, "s")
    (tmp_path / "env.json").write_text(json.dumps({"study": "s", "runs": [{"profile": "default"}]}))
    assert not measured_quick(tmp_path, "s")
