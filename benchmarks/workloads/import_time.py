"""Workload 5: ``import dualtape`` in a fresh process, next to the peers' imports.

Each measurement starts a new interpreter that times only the import statement (not the
interpreter's own start-up) and reports which heavy modules the import pulled in. The
first call of each contender warms the OS file cache and is not recorded. ``import numpy``
is the floor: dualtape needs NumPy.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from benchmarks.contenders import Case, Contender, Target, Unavailable

TITLE = "import time in a fresh process"
#: Modules that ``import dualtape`` must not pull in (it stays light).
HEAVY_MODULES = ("jax", "jaxlib", "torch", "scipy", "pandas", "matplotlib", "autograd")

_CHILD = """
import json, sys, time
t0 = time.perf_counter()
import {module}
seconds = time.perf_counter() - t0
heavy = [m for m in {heavy!r} if m in sys.modules and m != {module!r}.split('.')[0]]
print(json.dumps({{"seconds": seconds, "heavy": heavy}}))
"""


def _importer(module: str) -> Callable[[], Callable[[], tuple[float, list[str]]]]:
    def build() -> Callable[[], tuple[float, list[str]]]:
        code = _CHILD.format(module=module, heavy=HEAVY_MODULES)
        # Run from the directory holding the interpreter's files, never from a checkout.
        cwd = Path(sys.prefix)

        def run() -> tuple[float, list[str]]:
            done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd)
            if done.returncode != 0:
                last = (done.stderr.strip().splitlines() or ["no output"])[-1]
                raise Unavailable(f"import {module} failed: {last}")
            report = json.loads(done.stdout.strip().splitlines()[-1])
            return float(report["seconds"]), list(report["heavy"])

        return run

    return build


def cases() -> list[Case]:
    """The single case of workload 5."""
    contenders = [
        Contender("import dualtape", "dualtape", "import", _importer("dualtape"), self_timed=True),
        Contender("import numpy", "numpy", "forward", _importer("numpy"), self_timed=True),
        Contender("import autograd", "autograd", "import", _importer("autograd"), self_timed=True),
        Contender(
            "import micrograd",
            "micrograd",
            "import",
            _importer("micrograd.engine"),
            self_timed=True,
        ),
        Contender("import torch", "torch", "import", _importer("torch"), self_timed=True),
        Contender("import jax", "jax", "import", _importer("jax"), self_timed=True),
    ]
    targets = [Target("import dualtape", None, 0.3, strict=True)]
    return [Case(5, "5", TITLE, contenders, targets)]
