"""The environment a results folder was measured in (``env.json``).

CPU model, cores (and how many this process may use), the BLAS NumPy links and
its thread count, versions of Python, NumPy, JAX, pandas and dualtape, the git
commit of the working tree, and the exact command line.
"""

from __future__ import annotations

import ctypes
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any


def cpu_model() -> str:
    """The processor's marketing name, as the OS reports it."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def blas_info() -> dict[str, Any]:
    """Name, version and thread count of NumPy's BLAS (threads: None if unknown)."""
    import numpy as np

    info: dict[str, Any] = {"name": None, "version": None, "threads": None}
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        info["name"], info["version"] = blas.get("name"), blas.get("version")
    except Exception:
        pass
    info["threads"] = _blas_threads()
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        if var in os.environ:
            info[var] = os.environ[var]
    return info


def _blas_threads() -> int | None:
    try:
        from threadpoolctl import threadpool_info

        for pool in threadpool_info():
            if pool.get("user_api") == "blas":
                return int(pool["num_threads"])
    except Exception:
        pass
    # Without threadpoolctl: ask the OpenBLAS that NumPy loaded, found in our memory map.
    try:
        paths = {line.split()[-1] for line in Path("/proc/self/maps").read_text().splitlines()
                 if line.count(" ") >= 5}
        libs = {p for p in paths if "openblas" in Path(p).name.lower() and ".so" in Path(p).name}
    except OSError:
        return None
    names = ("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads",
             "openblas_get_num_threads64_", "openblas_get_num_threads")
    for lib in sorted(libs):
        try:
            handle = ctypes.CDLL(lib)
        except OSError:
            continue
        for name in names:
            fn = getattr(handle, name, None)
            if fn is not None:
                fn.restype = ctypes.c_int
                return int(fn())
    return None


def git_commit(cwd: Path | None = None) -> dict[str, Any]:
    """HEAD of dualtape's source checkout (else of ``cwd``'s tree), and whether it is dirty."""
    import dualtape

    checkout = Path(dualtape.__file__).resolve().parents[2]
    where = checkout if (checkout / ".git").exists() else Path(cwd or Path.cwd())
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True,
                              text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=where, capture_output=True, text=True, timeout=10,
                               check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": head, "dirty": bool(dirty)}


def _version(module: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(module)
    except metadata.PackageNotFoundError:
        return None


def _load_average() -> list[float] | None:
    """1, 5 and 15 minute load averages: other work on the machine skews wall times."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def environment(command: list[str] | None = None) -> dict[str, Any]:
    """Everything needed to tell where and how a results folder was made."""
    import numpy as np

    import dualtape

    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    argv = command if command is not None else sys.argv
    return {
        "cpu": cpu_model(),
        "machine": platform.machine(),
        "os": platform.platform(),
        "cores": os.cpu_count(),
        "cores_usable": usable,
        "blas": blas_info(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "jax": _version("jax"),
        "jaxlib": _version("jaxlib"),
        "pandas": _version("pandas"),
        "matplotlib": _version("matplotlib"),
        "dualtape": getattr(dualtape, "__version__", None),
        "git": git_commit(),
        "load_average": _load_average(),
        "command": shlex.join(argv),
        "cwd": str(Path.cwd()),
    }
