"""The suite's environment record (``env.json``): dualtape's record plus the suite's own keys.

Machine, cores, BLAS, threads, versions, commit and load come from
:mod:`dualtape.measure.env`; the suite adds its peers' versions, the OpenBLAS kernel
variables (and whether this run unset them), PyTorch's threads and its timing policy.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

from benchmarks.peers import TOOL_DISTRIBUTIONS
from dualtape.measure import env as base

#: Variables that OpenBLAS reads for its kernel choice (set on some machines here).
OPENBLAS_KERNEL_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
#: Set by ``--unset-openblas-coretype`` in the re-run: JSON of the values that were removed.
UNSET_MARKER = "DUALTAPE_BENCH_UNSET_OPENBLAS"


def torch_threads() -> dict[str, Any]:
    """PyTorch's thread counts (left at their defaults), if torch was loaded."""
    torch = sys.modules.get("torch")
    if torch is None:
        return {}
    return {
        "num_threads": torch.get_num_threads(),
        "num_interop_threads": torch.get_num_interop_threads(),
    }


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
    versions = {"python": platform.python_version()}
    found = base.versions(TOOL_DISTRIBUTIONS.values())
    versions.update({tool: found[dist] for tool, dist in TOOL_DISTRIBUTIONS.items()})
    return {
        "date_utc": base.now_utc(),
        "host": base.host(),
        "command": " ".join([Path(sys.executable).name, "-m", "benchmarks", *argv]),
        "git": base.git_state(root),
        "platform": platform.platform(),
        "cpu": base.cpu_model(),
        "cores": base.cores(),
        "versions": versions,
        "numpy_blas": base.numpy_build_blas(),
        "openblas_runtime": base.openblas_runtime(),
        "openblas_variables": openblas_variables(),
        "torch_threads": torch_threads(),
        "thread_variables": base.thread_variables(),
        "load_average": base.load_average(),
        "gc_during_timing": {
            "policy": timing.get("gc"),
            "enabled": timing.get("gc") == "collect",
            "collected_before_each_batch": timing.get("gc") == "collect",
            "objects_present_before_timing_frozen": timing.get("gc") == "collect",
        },
        "timing": timing,
    }
