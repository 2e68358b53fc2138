"""Running a study's cells on a Dask cluster: one cell, one task.

The client plans the cells exactly as a sequential run does and submits each cell as one
task.  A task measures all of its cell's missing groups (check, count, memory, time) on
one worker and returns the rows; the client appends them to ``data.csv`` with the same
durable writer, in completion order.  One task per cell, not per group: the cell's
instance, runner and JAX reference are built once, and a worker that dies mid-cell
leaves no partial rows, because nothing is written until the whole cell comes back.
Dask reschedules a task whose worker died; a task that keeps killing workers ends as
``KilledWorker`` after Dask's retry limit (``distributed.scheduler.allowed-failures``)
and its cell is recorded failed, as a cell that raises is.

A worker measures one cell at a time (a per-process lock, whatever its thread count),
so plain ``dask worker ADDRESS --nthreads 1`` workers and ``LocalCluster`` workers need
no configuration and no custom resources.  Every row records the worker's host; the
run's entry in ``env.json`` lists each distinct worker environment.  A worker whose
dualtape, NumPy or JAX differs from the client's is refused, naming both versions.

Dask is an optional extra (``pip install "dualtape[dask]"``), imported only here.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..measure import env as menv
from ..measure.timing import TimingConfig
from .spec import StudyError

INSTALL_HINT = 'pip install "dualtape[dask]"'
#: Versions a worker must share with the client.
CHECKED_VERSIONS = ("dualtape", "numpy", "jax")
#: Keys of a worker's environment that change from task to task (left out of its identity).
_VOLATILE = ("date_utc", "load_average", "command", "cwd")

#: Seconds a run waits for a first worker to join the scheduler, or for one to come back
#: once every worker has left (``--worker-wait``).
WORKER_WAIT_S = 60.0

_CELL_LOCK = threading.Lock()
_WORKER_ENV: dict[str, Any] = {}


class VersionSkew(Exception):
    """A worker runs another dualtape, NumPy or JAX than the client."""


def require_dask(flag: str = "--workers") -> Any:
    """Import ``distributed``, or raise a one-line ``StudyError`` saying how to install it."""
    try:
        import distributed
    except ImportError:
        raise StudyError(f"needs Dask's distributed scheduler, which is not installed; "
                         f"install it with: {INSTALL_HINT}", flag) from None
    return distributed


def local_warning(workers: int) -> str:
    """The plain warning that workers sharing the client's machine earn."""
    return (f"warning: {workers} Dask workers time {workers} cells at once on this machine's "
            "cores, so their wall times interfere; use it for counts and checks, or on a "
            "machine with idle cores (counts, FLOPs and checks are unaffected)")


@contextmanager
def connect(*, scheduler: str | None = None, scheduler_file: str | None = None,
            workers: int | None = None, timeout: str = "30s") -> Iterator[Any]:
    """A Dask client: to ``scheduler`` (an address), through ``scheduler_file``, or to a
    ``LocalCluster`` of ``workers`` single-threaded worker processes started here.
    Reaching a scheduler that does not answer fails after ``timeout``."""
    chosen = [(flag, v) for flag, v in (("--scheduler", scheduler),
                                        ("--scheduler-file", scheduler_file),
                                        ("--workers", workers)) if v is not None]
    if len(chosen) != 1:
        raise StudyError("give exactly one of --scheduler, --scheduler-file and --workers",
                         chosen[1][0] if chosen else "--workers")
    flag, value = chosen[0]
    distributed = require_dask(flag)
    if workers is not None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise StudyError(f"expected a positive number of workers, got {workers!r}", flag)
        import dask

        # Saturation 1: a worker holds only the cell it measures, so a worker that dies
        # takes no queued cell down with it, and long cells spread evenly.
        with dask.config.set({"distributed.scheduler.worker-saturation": 1.0}):
            cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1,
                                               processes=True, dashboard_address=None)
        try:
            with distributed.Client(cluster) as client:
                yield client
        finally:
            cluster.close()
        return
    if scheduler_file is not None and not Path(scheduler_file).is_file():
        # distributed would wait for the file to appear, forever
        raise StudyError(f"no such file: '{scheduler_file}' (start the scheduler with "
                         "`dask scheduler --scheduler-file F` first)", flag)
    if scheduler_file is not None:
        _check_scheduler_file(Path(scheduler_file), flag)
    try:
        client = (distributed.Client(scheduler, timeout=timeout) if scheduler is not None
                  else distributed.Client(scheduler_file=scheduler_file, timeout=timeout))
    except (OSError, ValueError, TimeoutError) as exc:
        raise StudyError(f"cannot reach the scheduler {value!r}: {exc}", flag) from None
    with client:
        yield client


def _check_scheduler_file(path: Path, flag: str) -> None:
    """Refuse a file that is not what ``dask scheduler --scheduler-file`` writes (JSON with
    the scheduler's ``address``), which distributed reports with a traceback."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise StudyError(f"'{path}' is not a Dask scheduler file (not readable JSON: {exc})",
                         flag) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("address"), str):
        raise StudyError(f"'{path}' is not a Dask scheduler file (no \"address\" string; "
                         "`dask scheduler --scheduler-file F` writes one)", flag)


def wait_for_workers(client: Any, timeout: float | None = None) -> None:
    """Wait up to ``timeout`` seconds (``WORKER_WAIT_S`` by default) for a worker to join
    the client's scheduler, or raise a ``StudyError`` naming the scheduler and the wait:
    without one, the tasks would wait for a worker forever, silently."""
    timeout = WORKER_WAIT_S if timeout is None else timeout
    try:
        client.wait_for_workers(1, timeout=timeout)
    except TimeoutError:
        address = client.scheduler.address
        raise StudyError(f"no Dask worker joined the scheduler at {address} within "
                         f"{timeout:g} s; start one (`dask worker {address}`) or wait longer "
                         "(--worker-wait SECONDS)", "--scheduler") from None


def checked_versions() -> dict[str, str | None]:
    """This process' versions of the packages client and workers must share."""
    return menv.versions(CHECKED_VERSIONS)


def _refuse_skew(theirs: dict[str, str | None], ours: dict[str, str | None], who: str) -> None:
    differ = [f"{name} {theirs.get(name)} on {who} but {ours.get(name)} on the client"
              for name in CHECKED_VERSIONS if theirs.get(name) != ours.get(name)]
    if differ:
        raise VersionSkew("version skew: " + "; ".join(differ) +
                          "; install the same versions everywhere")


def _identity() -> dict[str, Any]:
    return {"versions": checked_versions(), "host": menv.host()}


def worker_environment() -> dict[str, Any]:
    """This worker's environment record (no git commit: a worker may be far from a checkout)."""
    if not _WORKER_ENV:
        record = menv.environment([], git=False)
        _WORKER_ENV.update({k: v for k, v in record.items() if k not in _VOLATILE})
    return dict(_WORKER_ENV)


def measure_task(cell: Any, timing: TimingConfig, client_versions: dict[str, str | None]
                 ) -> dict[str, Any]:
    """The task a worker runs: refuse version skew, then measure one cell, one at a time."""
    from .sweep import INSTANCES, measure_cell

    _refuse_skew(checked_versions(), client_versions, f"worker {menv.host()}")
    environment = worker_environment()
    rows: list[dict[str, Any]] = []
    with _CELL_LOCK:
        measure_cell(cell, INSTANCES, timing, rows.extend)
    for r in rows:
        r["host"] = environment["host"]
    return {"rows": rows, "environment": environment}


def _ship_by_value(cells: list[Any]) -> None:
    """Send user code (a study file's problems and methods) with the tasks, by value."""
    import cloudpickle

    for cell in cells:
        for fn in (cell.problem.build, cell.method.make):
            module = sys.modules.get(getattr(fn, "__module__", "") or "")
            if module is not None and module.__name__.split(".")[0] != "dualtape" \
                    and module.__name__ != "__main__":
                cloudpickle.register_pickle_by_value(module)


@dataclass
class ClusterRun:
    """What the cluster side of a run saw: the workers' environments and concurrency."""

    scheduler: str = ""
    workers: int = 0
    same_host: bool = False
    environments: list[dict[str, Any]] = field(default_factory=list)

    def record(self) -> dict[str, Any]:
        """The run's cluster entry for ``env.json``."""
        return {"scheduler": self.scheduler, "parallel_workers": self.workers,
                "workers_on_this_host": self.same_host,
                "worker_environments": self.environments}


def _connection_lost(client: Any, exc: Exception) -> bool:
    """Whether ``exc`` is the client's loss of its scheduler (cancelled futures, a closed
    connection) rather than the cell's own failure."""
    import asyncio
    import concurrent.futures

    if isinstance(exc, (asyncio.CancelledError, concurrent.futures.CancelledError)):
        return True
    return getattr(client, "status", "running") not in ("running", "connecting")


#: Seconds between checks that some worker is still there while no task completes.
POLL_S = 1.0


def _as_completed(client: Any, futures: dict, worker_wait: float) -> Iterator[Any]:
    """The futures as they complete; a ``StudyError`` once no worker has been connected for
    ``worker_wait`` seconds (every worker gone: the tasks would wait forever, silently)."""
    distributed = require_dask()
    pending = list(futures)
    gone_since = None
    while pending:
        try:
            finished, waiting = distributed.wait(pending, timeout=POLL_S, return_when="FIRST_COMPLETED")
        except TimeoutError:
            finished, waiting = (), pending
        if finished:
            gone_since = None
            yield from finished
            pending = list(waiting)
            continue
        if client.scheduler_info().get("workers"):
            gone_since = None
        elif gone_since is None:
            gone_since = time.monotonic()
        elif time.monotonic() - gone_since > worker_wait:
            address = client.scheduler.address
            raise StudyError(f"every Dask worker left the scheduler at {address}, and none came "
                             f"back within {worker_wait:g} s; the cells measured so far are "
                             "kept, and running the same command again measures the rest "
                             "(--worker-wait SECONDS waits longer)", "--scheduler")


def run_cells(client: Any, cells: list[Any], timing: TimingConfig,
              write: Callable[[list[dict[str, Any]]], None],
              done: Callable[[Any], None], failed_rows: Callable[[Any, str], list[dict]],
              info: ClusterRun, worker_wait: float | None = None) -> None:
    """Submit one task per cell and write each cell's rows as its task completes.

    ``write`` appends rows durably, ``done(cell)`` advances the progress bar, and
    ``failed_rows(cell, note)`` builds the failed rows of a cell whose task was lost.
    With no worker left for ``worker_wait`` seconds (``WORKER_WAIT_S`` by default) the run
    stops with a ``StudyError``; the cells measured so far are kept.
    """
    require_dask()
    ours = checked_versions()
    identities = client.run(_identity)
    for address, theirs in identities.items():
        try:
            _refuse_skew(theirs["versions"], ours, f"worker {address}")
        except VersionSkew as exc:
            raise StudyError(str(exc), "--scheduler") from None
    info.scheduler = client.scheduler.address
    info.workers = len(identities)
    info.same_host = bool(identities) and all(i["host"] == menv.host()
                                              for i in identities.values())
    if info.same_host and info.workers > 1:
        print(local_warning(info.workers), file=sys.stderr)
    _ship_by_value(cells)
    futures = {client.submit(measure_task, cell, timing, ours, pure=False): cell
               for cell in cells}
    seen: set[str] = set()
    try:
        for future in _as_completed(client, futures, WORKER_WAIT_S if worker_wait is None
                                    else worker_wait):
            cell = futures.pop(future)
            try:
                result = future.result()
            except VersionSkew as exc:
                raise StudyError(str(exc), "--scheduler") from None
            except Exception as exc:  # KilledWorker after Dask's retries, a lost task, ...
                if _connection_lost(client, exc):  # not the cell's failure: keep it unmeasured
                    raise StudyError(f"lost the Dask scheduler ({type(exc).__name__}); every "
                                     "cell measured so far is kept, and running the same "
                                     "command again measures the rest", "--scheduler") from None
                rows = failed_rows(cell, f"{type(exc).__name__}: {' '.join(str(exc).split())}")
            else:
                rows, environment = result["rows"], result["environment"]
                key = repr(sorted(environment.items()))
                if key not in seen:
                    seen.add(key)
                    info.environments.append(environment)
            write(rows)
            done(cell)
    finally:
        if futures:
            client.cancel(list(futures))
