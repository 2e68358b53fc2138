"""The environment record (``env.json``): machine, BLAS, threads, versions, commit, command."""

from __future__ import annotations

import ctypes
import datetime as _dt
import gc
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.peers import TOOL_DISTRIBUTIONS

#: Variables that OpenBLAS reads for its kernel choice (set on some machines here).
OPENBLAS_KERNEL_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
#: Set by ``--unset-openblas-coretype`` in the re-run: JSON of the values that were removed.
UNSET_MARKER = "DUALTAPE_BENCH_UNSET_OPENBLAS"
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "XLA_FLAGS",
)


def cpu_model() -> str:
    """The CPU model name, from /proc/cpuinfo when there is one."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def openblas_runtime() -> dict[str, Any]:
    """The OpenBLAS kernel and thread count NumPy runs with (read from the loaded library)."""
    info: dict[str, Any] = {}
    try:
        maps = Path("/proc/self/maps").read_text().splitlines()
    except OSError:
        return info
    paths = sorted({line.split()[-1] for line in maps if "openblas" in line.lower()})
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


def numpy_blas() -> dict[str, Any]:
    """NumPy's build-time BLAS/LAPACK description."""
    try:
        config = np.show_config(mode="dicts")
        deps = config.get("Build Dependencies", {})
        return {key: deps.get(key, {}) for key in ("blas", "lapack")}
    except Exception as exc:  # noqa: BLE001 - older NumPy, odd builds
        return {"error": str(exc)}


def versions() -> dict[str, str | None]:
    """Versions of Python and of every tool the suite can load."""
    found: dict[str, str | None] = {"python": platform.python_version()}
    for tool, distribution in TOOL_DISTRIBUTIONS.items():
        try:
            found[tool] = importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            found[tool] = None
    return found


def torch_threads() -> dict[str, Any]:
    """PyTorch's thread counts (left at their defaults), if torch was loaded."""
    torch = sys.modules.get("torch")
    if torch is None:
        return {}
    return {
        "num_threads": torch.get_num_threads(),
        "num_interop_threads": torch.get_num_interop_threads(),
    }


def git_state(root: Path) -> dict[str, Any]:
    """The commit of the checkout and whether its tracked files have local changes."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    status = git("status", "--porcelain", "--untracked-files=no")
    dirty = bool(status) if status is not None else None
    return {"commit": git("rev-parse", "HEAD"), "dirty": dirty}


def openblas_variables() -> dict[str, Any]:
    """Whether OPENBLAS_CORETYPE (and OPENBLAS_L2_SIZE) are set, and whether this run unset them."""
    unset = os.environ.get(UNSET_MARKER)
    removed = json.loads(unset) if unset else {}
    return {
        "OPENBLAS_CORETYPE_set": "OPENBLAS_CORETYPE" in os.environ,
        "values": {k: os.environ.get(k) for k in OPENBLAS_KERNEL_VARIABLES},
        "unset_for_this_run": bool(removed),
        "unset_values": removed,
    }


def record(root: Path, argv: list[str], timing: dict[str, Any]) -> dict[str, Any]:
    """The full environment record of this run."""
    affinity = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    return {
        "date_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, "-m", "benchmarks", *argv]),
        "git": git_state(root),
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cores": {"os_cpu_count": os.cpu_count(), "usable": len(affinity) if affinity else None},
        "versions": versions(),
        "numpy_blas": numpy_blas(),
        "openblas_runtime": openblas_runtime(),
        "openblas_variables": openblas_variables(),
        "torch_threads": torch_threads(),
        "thread_variables": {k: os.environ.get(k) for k in THREAD_VARIABLES},
        "gc_during_timing": {
            "enabled": gc.isenabled(),
            "collected_before_each_batch": True,
            "objects_present_before_timing_frozen": True,
        },
        "timing": timing,
    }
