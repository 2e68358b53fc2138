"""A measurement in a fresh Python process: run code there and read its last line as JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def run_json(code: str, args: list[str], src: Path = ROOT / "src", what: str = "child") -> Any:
    """Run ``code`` with ``args`` in a fresh interpreter that imports dualtape from ``src``
    and the benchmarks from this tree; the JSON on its last line of output.

    Raises ``RuntimeError`` naming ``what`` with the end of the child's stderr if it fails.
    """
    path = os.pathsep.join([str(src), str(ROOT), os.environ.get("PYTHONPATH", "")])
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT,
                          env=dict(os.environ, PYTHONPATH=path),
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])
