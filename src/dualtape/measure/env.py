"""The environment a measurement was taken in, and how busy the machine was.

:func:`environment` is the record every results folder keeps in ``env.json``: host, CPU,
cores (and how many this process may use), the BLAS NumPy links with its kernel and
thread count, the thread variables, versions, the git commit of the checkout, the load
average and the command line.  Its parts are public so a client can add its own keys
(the speed suite adds its peers' versions and its timing policy).

The machine's load is sampled, not guessed: :class:`OthersMeter` measures other
processes' CPU use over a stretch of our own work, :func:`others_busy` while we sleep,
and :func:`wait_until_quiet` waits for a busy machine to calm down.
"""

from __future__ import annotations

import ctypes
import datetime as _dt
import os
import platform
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

#: Variables that choose thread counts of the BLAS, OpenMP and XLA.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "XLA_FLAGS")
#: Distributions whose versions every record lists.
DEFAULT_VERSIONS = ("numpy", "jax", "jaxlib", "pandas", "matplotlib", "dualtape")
#: Others' CPU use (fraction of all cores) under which the machine counts as quiet.
QUIET_THRESHOLD = 0.15


def cpu_model() -> str:
    """The processor's marketing name, as the OS reports it."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def host() -> str:
    """This machine's host name."""
    return socket.gethostname()


def cores() -> dict[str, int | None]:
    """Cores of the machine (``os_cpu_count``) and those this process may run on."""
    try:
        usable: int | None = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {"os_cpu_count": os.cpu_count(), "usable": usable}


def openblas_runtime() -> dict[str, Any]:
    """The OpenBLAS NumPy loaded: library path, kernel and thread count (read from it)."""
    info: dict[str, Any] = {}
    try:
        maps = Path("/proc/self/maps").read_text().splitlines()
    except OSError:
        return info
    paths = sorted({line.split()[-1] for line in maps
                    if line.count(" ") >= 5 and "openblas" in Path(line.split()[-1]).name.lower()})
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        info["library"] = path
        for prefix in ("scipy_openblas", "openblas"):
            for suffix in ("64_", ""):
                core = getattr(lib, f"{prefix}_get_corename{suffix}", None)
                threads = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
                if core is not None and "kernel" not in info:
                    core.restype = ctypes.c_char_p
                    info["kernel"] = core().decode()
                if threads is not None and "threads" not in info:
                    threads.restype = ctypes.c_int
                    info["threads"] = int(threads())
    return info


def _openblas_functions(kind: str) -> list[Any]:
    """``openblas_{kind}_num_threads`` of every OpenBLAS this process loaded."""
    try:
        maps = Path("/proc/self/maps").read_text().splitlines()
    except OSError:
        return []
    found = []
    for path in sorted({ln.split()[-1] for ln in maps if "openblas" in ln.lower()}):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name in (f"scipy_openblas_{kind}_num_threads64_", f"scipy_openblas_{kind}_num_threads",
                     f"openblas_{kind}_num_threads64_", f"openblas_{kind}_num_threads"):
            fn = getattr(lib, name, None)
            if fn is not None:
                found.append(fn)
                break
    return found


def set_blas_threads(threads: int) -> int | None:
    """Set the thread count of NumPy's OpenBLAS; returns the previous count (None: unknown,
    or no OpenBLAS to set, so nothing was changed)."""
    import numpy  # noqa: F401  (loads the BLAS, so its library is mapped)

    previous = openblas_runtime().get("threads")
    setters = _openblas_functions("set")
    for fn in setters:
        fn.argtypes = [ctypes.c_int]
        fn(int(threads))
    return previous if setters else None


def numpy_build_blas() -> dict[str, Any]:
    """NumPy's build-time BLAS and LAPACK description."""
    import numpy as np

    try:
        deps = np.show_config(mode="dicts").get("Build Dependencies", {})
        return {key: deps.get(key, {}) for key in ("blas", "lapack")}
    except Exception as exc:  # noqa: BLE001 - older NumPy, odd builds
        return {"error": str(exc)}


def blas_info() -> dict[str, Any]:
    """Name, version, kernel and thread count of NumPy's BLAS (None where unknown)."""
    build = numpy_build_blas().get("blas") or {}
    runtime = openblas_runtime()
    info: dict[str, Any] = {"name": build.get("name"), "version": build.get("version"),
                            "threads": runtime.get("threads"), "kernel": runtime.get("kernel")}
    if info["threads"] is None:
        try:
            from threadpoolctl import threadpool_info

            pools = [p for p in threadpool_info() if p.get("user_api") == "blas"]
            info["threads"] = int(pools[0]["num_threads"]) if pools else None
        except Exception:  # noqa: BLE001 - threadpoolctl missing or confused
            pass
    for var in THREAD_VARIABLES[:3]:
        if var in os.environ:
            info[var] = os.environ[var]
    return info


def thread_variables() -> dict[str, str | None]:
    """The thread-count variables of this process' environment (None when unset)."""
    return {k: os.environ.get(k) for k in THREAD_VARIABLES}


def versions(distributions: Iterable[str] = DEFAULT_VERSIONS) -> dict[str, str | None]:
    """Installed versions of the named distributions (None when not installed)."""
    found: dict[str, str | None] = {}
    for name in distributions:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    if "dualtape" in found:
        import dualtape

        found["dualtape"] = getattr(dualtape, "__version__", found["dualtape"])
    return found


def git_state(root: Path | None = None) -> dict[str, Any]:
    """HEAD of ``root`` (default: dualtape's source checkout, else the current folder), and
    whether a tracked file outside ``results/`` differs from it."""
    if root is None:
        import dualtape

        checkout = Path(dualtape.__file__).resolve().parents[2]
        root = checkout if (checkout / ".git").exists() else Path.cwd()

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                                  timeout=20)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    # results/ is what a run writes: regenerating it does not make the measured code dirty
    status = git("status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)results")
    return {"commit": git("rev-parse", "HEAD"), "dirty": bool(status) if status is not None else None}


def load_average() -> list[float] | None:
    """1, 5 and 15 minute load averages: other work on the machine skews wall times."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def now_utc() -> str:
    """The current time, ISO 8601 in UTC, to the second."""
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def environment(command: list[str] | None = None, *, git: bool = True) -> dict[str, Any]:
    """Everything needed to tell where and how a results folder was made.

    ``command`` is the command line to record (default ``sys.argv``); ``git=False``
    skips the commit (a worker far from any checkout).
    """
    cpu_cores = cores()
    record: dict[str, Any] = {
        "host": host(),
        "date_utc": now_utc(),
        "cpu": cpu_model(),
        "machine": platform.machine(),
        "os": platform.platform(),
        "cores": cpu_cores["os_cpu_count"],
        "cores_usable": cpu_cores["usable"],
        "blas": blas_info(),
        "thread_variables": thread_variables(),
        "python": platform.python_version(),
        **versions(),
    }
    if git:
        record["git"] = git_state()
    record["load_average"] = load_average()
    record["command"] = shlex.join(command if command is not None else sys.argv)
    record["cwd"] = str(Path.cwd())
    return record


# ---------------------------------------------------------------- other processes' load


def _cpu_times() -> tuple[int, int] | None:
    """``(busy, total)`` jiffies over all cores, or None where /proc/stat is missing."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except (OSError, IndexError):
        return None
    values = [int(v) for v in fields]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return sum(values) - idle, sum(values)


class OthersMeter:
    """Other processes' CPU use over a stretch of our own work (busy jiffies minus ours)."""

    def __init__(self) -> None:
        self._start: tuple[tuple[int, int], float] | None = None
        self._ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    @staticmethod
    def _own_seconds() -> float:
        t = os.times()
        return t.user + t.system + t.children_user + t.children_system

    def start(self) -> None:
        """Begin a stretch."""
        times = _cpu_times()
        self._start = None if times is None else (times, self._own_seconds())

    def stop(self) -> float | None:
        """Others' share of all cores since :meth:`start`, or None where unknown."""
        times = _cpu_times()
        if self._start is None or times is None:
            return None
        (busy0, total0), own0 = self._start
        total = times[1] - total0
        if total <= 0:
            return None
        own = (self._own_seconds() - own0) * self._ticks
        return max(0.0, (times[0] - busy0 - own) / total)


def others_busy(interval: float = 0.5) -> float | None:
    """Fraction of all cores used by other processes over ``interval`` seconds (we sleep)."""
    before = _cpu_times()
    time.sleep(interval)
    after = _cpu_times()
    if before is None or after is None or after[1] == before[1]:
        return None
    return (after[0] - before[0]) / (after[1] - before[1])


def wait_until_quiet(max_wait: float, log: Callable[[str], None]) -> float | None:
    """Wait up to ``max_wait`` seconds for the machine to be quiet; returns the last reading."""
    busy = others_busy()
    deadline = time.monotonic() + max_wait
    told = False
    while busy is not None and busy > QUIET_THRESHOLD and time.monotonic() < deadline:
        if not told:
            log(f"      machine busy ({100 * busy:.0f}% of {os.cpu_count()} cores used by "
                f"others); waiting up to {max_wait:.0f} s")
            told = True
        busy = others_busy(2.0)
    return busy
