"""Studies on a Dask cluster: a LocalCluster of two single-threaded worker processes.

Same cells and deterministic rows as a sequential run, the worker's host on every row,
worker environments in env.json, a worker killed mid-cell, a task that keeps killing
workers, an interrupted client, version skew, and the one-line error without Dask.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from study_helpers import comparable, read_csv, small_study

from dualtape.measure.timing import TimingConfig
from dualtape.study import Method, StudyError, cluster, get_method, run
from dualtape.study.storage import HEADER, LEGACY_HEADER

distributed = pytest.importorskip("distributed")
dask = pytest.importorskip("dask")

ROOT = Path(__file__).resolve().parent.parent
KEY = ("sweep", "problem", "method", "n", "m", "depth", "group", "measure", "repeat")


@pytest.fixture(scope="module")
def client():
    # One retry: a task that kills its worker twice is given up (the default is 3 retries).
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        with cluster.connect(workers=2) as c:
            yield c


def _cells(rows):
    return {(r["sweep"], r["problem"], r["method"], r["n"], r["m"], r["depth"]) for r in rows}


def _no_duplicates(rows):
    keys = [tuple(r[k] for k in KEY) for r in rows]
    assert len(keys) == len(set(keys)), "a group was written twice"


def _boom(inst):
    def runner():
        raise RuntimeError("boom")

    return runner


def test_quick_runs_match_sequential_and_record_hosts(tmp_path, client):
    boom = Method("boom", "raises", "forward", "dualtape", _boom, chunk=1)
    studies = [small_study("tiny"),
               small_study("tiny2", problems=("elementwise_sum", "broadcast_outer"),
                           methods=("primal", "fwd_vector", "rev_chunk1", boom.name))]
    from dualtape.study import register_method

    register_method(boom, replace=True)
    for study in studies:
        seq, par = tmp_path / f"{study.name}-seq", tmp_path / f"{study.name}-dask"
        run(study, out=seq, quick=True, figures=False)
        report = run(study, out=par, quick=True, figures=False, client=client)
        assert not report.interrupted and report.cells_measured == report.cells_planned
        a, b = read_csv(seq / "data.csv"), read_csv(par / "data.csv")
        assert _cells(a) == _cells(b)
        assert comparable(a) == comparable(b)  # counts equal, check statuses equal
        _no_duplicates(b)
        workers = client.run(lambda: __import__("socket").gethostname())
        assert {r["host"] for r in b} <= set(workers.values()) and all(r["host"] for r in b)
        entry = json.loads((par / "env.json").read_text())["runs"][-1]
        assert entry["cluster"]["parallel_workers"] == 2
        envs = entry["cluster"]["worker_environments"]
        assert envs and all({"host", "cpu", "cores", "blas", "numpy", "dualtape"} <= set(e)
                            for e in envs)
    failed = [r for r in b if r["method"] == "boom"]
    assert failed and all(r["status"] == "failed" and "boom" in r["note"] for r in failed)


def _slow_first_time(marker: str):
    """fwd_vector, but the first call anywhere records its pid and hangs (to be killed)."""
    fast = get_method("fwd_vector").make

    def make(inst):
        runner = fast(inst)

        def call():
            if not os.path.exists(marker):
                Path(marker).write_text(str(os.getpid()))
                time.sleep(120)
            return runner()

        return call

    return make


def _kill_when_written(marker: Path, killed: list) -> threading.Thread:
    def watch():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if marker.exists() and marker.read_text():
                pid = int(marker.read_text())
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return
            time.sleep(0.05)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_worker_killed_mid_cell_is_rescheduled_and_counted_once(tmp_path, client):
    marker = tmp_path / "pid"
    slow = Method("slow_once", "hangs once", "forward", "dualtape", _slow_first_time(str(marker)),
                  chunk=0)
    from dualtape.study import register_method

    register_method(slow, replace=True)
    study = small_study("killed", methods=("primal", "slow_once", "rev_vector"), sizes=(2, 3))
    killed: list[int] = []
    watcher = _kill_when_written(marker, killed)
    report = run(study, out=tmp_path / "out", figures=False, client=client)
    watcher.join(timeout=5)
    assert killed, "the hanging cell never started"
    rows = read_csv(tmp_path / "out" / "data.csv")
    _no_duplicates(rows)
    assert report.ok, report.failed
    assert len(_cells(rows)) == report.cells_planned


def _exit_always(inst):
    def runner():
        os._exit(3)

    return runner


def test_task_that_keeps_killing_workers_is_failed_and_the_run_goes_on(tmp_path, client):
    from dualtape.study import register_method

    register_method(Method("exit_always", "kills its worker", "forward", "dualtape",
                           _exit_always, chunk=1), replace=True)
    study = small_study("killer", methods=("primal", "exit_always"), sizes=(2,))
    report = run(study, out=tmp_path, figures=False, client=client)
    rows = read_csv(tmp_path / "data.csv")
    _no_duplicates(rows)
    assert len(_cells(rows)) == report.cells_planned and not report.interrupted
    bad = [r for r in rows if r["method"] == "exit_always"]
    assert bad and all(r["status"] == "failed" and "KilledWorker" in r["note"] for r in bad)
    good = [r for r in rows if r["method"] == "primal"]
    assert good and all(r["status"] == "ok" for r in good)  # no queued cell died with them


def test_version_skew_is_refused_naming_both_versions(tmp_path, client, monkeypatch):
    real = cluster.checked_versions()
    monkeypatch.setattr(cluster, "checked_versions", lambda: {**real, "numpy": "0.0.1"})
    with pytest.raises(StudyError, match=rf"numpy {real['numpy']} .*but 0\.0\.1 on the client"):
        run(small_study("skew"), out=tmp_path, figures=False, client=client)


STUDY_FILE = """
import time
from dualtape.study import Method, Study, Sweep, TimingConfig, get_method, register_method

def _nap(inst):
    runner = get_method("fwd_vector").make(inst)
    def call():
        time.sleep(0.05)
        return runner()
    return call

register_method(Method("nap", "naps", "forward", "dualtape", _nap, chunk=0), replace=True)
STUDY = Study(name="napping", description="slow cells", problems=("dense_two_layer",),
              methods=("primal", "nap", "rev_vector"),
              sweeps=(Sweep("n", ("n",), {"m": 2}),), sizes=(2, 3, 4, 5, 6, 7),
              timing=TimingConfig(target_s=1e-4, repeats=2, warmup=0))
"""


def test_interrupted_client_rerun_completes_without_duplicates(tmp_path):
    (tmp_path / "studies").mkdir()
    (tmp_path / "studies" / "napping.py").write_text(STUDY_FILE)
    env = {**os.environ, "DUALTAPE_STUDIES": str(tmp_path / "studies"),
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "dualtape.cli", "study", "run", "napping", "--workers", "2",
           "--no-progress", "--out", str(out)]
    # as a shell starts it: SIGINT at its default (a library in this test process may have
    # left it ignored, and an ignored disposition is inherited: the run then never stops)
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and proc.poll() is None:
        if (out / "data.csv").exists() and len(read_csv(out / "data.csv")) >= 5:
            proc.send_signal(signal.SIGINT)
            break
        time.sleep(0.05)
    log = proc.communicate(timeout=120)[0]
    assert proc.returncode == 130, log
    assert "warning: 2 Dask workers time 2 cells at once" in log  # the LocalCluster warning
    partial = read_csv(out / "data.csv")
    done = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = read_csv(out / "data.csv")
    _no_duplicates(rows)
    assert len(_cells(rows)) == 3 * 6 and len(rows) > len(partial)
    assert len({r["run_id"] for r in rows}) == 2


BLOCK_DASK = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('dask', 'distributed'):
            raise ImportError('blocked: ' + name)
sys.meta_path.insert(0, Block())
from dualtape.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("flag", [["--workers", "2"], ["--scheduler", "tcp://127.0.0.1:9"]])
def test_without_dask_the_flags_fail_at_once_in_one_line(tmp_path, flag):
    done = subprocess.run([sys.executable, "-c", BLOCK_DASK, "study", "run", "jacobian_scaling",
                           *flag, "--out", str(tmp_path)], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert 'pip install "dualtape[dask]"' in done.stderr and flag[0] in done.stderr
    assert not list(tmp_path.iterdir())


def test_a_results_file_without_the_host_and_group_rows_columns_is_upgraded(tmp_path):
    study = small_study(sizes=(2,))
    run(study, out=tmp_path, figures=False, methods=["primal"])
    path = tmp_path / "data.csv"
    lines = path.read_text().splitlines()
    assert lines[0] == HEADER
    legacy = [LEGACY_HEADER] + [line.rsplit(",", 2)[0] for line in lines[1:]]
    path.write_text("\n".join(legacy) + "\n")
    report = run(study, out=tmp_path, figures=False, methods=["primal", "fwd_vector"])
    assert report.cells_already_done == 2 and report.ok
    rows = read_csv(path)
    assert path.read_text().splitlines()[0] == HEADER
    assert {r["host"] for r in rows if r["method"] == "primal"} == {""}
    assert all(r["host"] for r in rows if r["method"] == "fwd_vector")


def test_workers_with_an_own_run_study_is_refused_before_any_cluster(tmp_path, monkeypatch):
    from dualtape.cli import main

    def no_cluster(*a, **k):
        raise AssertionError("a LocalCluster was started")

    monkeypatch.setattr(distributed, "LocalCluster", no_cluster)
    assert main(["study", "run", "lesson_mlp", "--workers", "2", "--out", str(tmp_path)]) == 2


def test_a_missing_scheduler_file_is_refused_at_once(tmp_path):
    with pytest.raises(StudyError, match="^--scheduler-file: no such file"):
        with cluster.connect(scheduler_file=str(tmp_path / "nope.json")):
            pass


@pytest.mark.parametrize("content, message", [
    ("garbage", "not readable JSON"), ('{"address": 5}', 'no "address" string'),
    ("[1, 2]", 'no "address" string')])
def test_a_scheduler_file_that_is_not_one_is_refused(tmp_path, content, message):
    # was: an AssertionError or TypeError traceback from distributed
    path = tmp_path / "scheduler.json"
    path.write_text(content)
    with pytest.raises(StudyError, match=f"^--scheduler-file: .* is not a Dask scheduler file "
                                         f"\\({message}"):
        with cluster.connect(scheduler_file=str(path)):
            pass


def test_a_scheduler_file_nobody_answers_times_out(tmp_path):
    path = tmp_path / "sched.json"
    path.write_text(json.dumps({"type": "Scheduler", "id": "x", "address": "tcp://127.0.0.1:9",
                                "services": {}, "started": 0, "workers": {}}))
    t0 = time.monotonic()
    with pytest.raises(StudyError, match="^--scheduler-file: cannot reach the scheduler"):
        with cluster.connect(scheduler_file=str(path), timeout="2s"):
            pass
    assert time.monotonic() - t0 < 20


def test_a_lost_scheduler_is_not_a_failed_cell():
    # cancelled futures (the scheduler's connection lost) used to become failed rows, which a
    # rerun counted as done: now the run stops and the cells stay unmeasured
    from distributed.client import FutureCancelledError

    from dualtape.study.cluster import _connection_lost

    class Client:
        status = "running"

    assert _connection_lost(Client(), FutureCancelledError("k", "scheduler-connection-lost"))
    assert not _connection_lost(Client(), RuntimeError("the cell's own error"))
    Client.status = "closed"
    assert _connection_lost(Client(), RuntimeError("anything, once the client is closed"))


def test_a_scheduler_without_workers_is_an_error_after_the_wait(tmp_path, monkeypatch):
    # a scheduler nobody works for made the run wait silently forever
    monkeypatch.setattr(cluster, "WORKER_WAIT_S", 1.0, raising=False)
    outcome = {}

    def go(client):
        try:
            run(small_study("idle"), out=tmp_path / "idle", quick=True, figures=False,
                client=client)
        except StudyError as exc:
            outcome["error"] = str(exc)

    with distributed.LocalCluster(n_workers=0, processes=False,
                                  dashboard_address=None) as idle, \
            distributed.Client(idle) as client:
        t0 = time.monotonic()
        waiter = threading.Thread(target=go, args=(client,), daemon=True)
        waiter.start()
        waiter.join(20)
        assert not waiter.is_alive(), "still waiting for a worker after 20 s"
        assert time.monotonic() - t0 < 15
        message = outcome["error"]
        assert message.startswith("--scheduler: no Dask worker joined the scheduler at "
                                  f"{idle.scheduler_address} within 1 s")
        assert "--worker-wait" in message
        assert not (tmp_path / "idle").exists()  # refused before it began: no folder left
        with pytest.raises(StudyError, match="within 0.5 s"):
            run(small_study("idle"), out=tmp_path / "idle", quick=True, figures=False,
                client=client, worker_wait=0.5)


def test_worker_wait_needs_a_cluster_and_a_positive_number(capsys):
    from dualtape.cli import main

    assert main(["study", "run", "tiny", "--worker-wait", "5"]) == 2
    assert "--worker-wait: waits for Dask workers" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["study", "run", "tiny", "--scheduler", "tcp://x:1", "--worker-wait", "0"])
    assert exc.value.code == 2
    assert "expected a positive number of seconds, got '0'" in capsys.readouterr().err


def test_a_run_whose_workers_all_leave_stops_with_an_error_and_keeps_its_cells(tmp_path,
                                                                              monkeypatch):
    # every worker gone mid-run left the remaining tasks waiting forever, silently
    monkeypatch.setattr(cluster, "POLL_S", 0.2)
    slow = dataclasses.replace(small_study("left"), timing=TimingConfig(target_s=0.02, repeats=3))
    outcome = {}

    def go(client):
        try:
            run(slow, out=tmp_path / "left", figures=False, client=client, worker_wait=1.0)
        except StudyError as exc:
            outcome["error"] = str(exc)

    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as local, \
            distributed.Client(local) as client:
        waiter = threading.Thread(target=go, args=(client,), daemon=True)
        waiter.start()
        data, t0 = tmp_path / "left" / "data.csv", time.monotonic()
        while not (data.exists() and len(read_csv(data))) and time.monotonic() - t0 < 30:
            time.sleep(0.05)  # until a cell is measured
        local.scale(0)
        waiter.join(30)
        assert not waiter.is_alive(), "still waiting for a worker 30 s after the last left"
    message = outcome["error"]
    assert message.startswith("--scheduler: every Dask worker left the scheduler at ")
    assert "within 1 s" in message and "--worker-wait" in message
    env = json.loads((tmp_path / "left" / "env.json").read_text())
    assert env["runs"][-1]["outcome"] == "failed"
    kept = read_csv(tmp_path / "left" / "data.csv")
    assert kept and all(r["status"] == "ok" for r in kept)  # nothing measured was lost
