"""``import dualtape`` needs only NumPy: the engines, dualtape.numpy and the lessons run
with pandas, matplotlib, tqdm and JAX unavailable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

_SCRIPT = r"""
import sys

BLOCKED = ("pandas", "matplotlib", "tqdm", "jax", "jaxlib")


class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is blocked in this test")
        return None


sys.meta_path.insert(0, Blocker())

import numpy as np

import dualtape as dt
import dualtape.numpy as dnp

g = dt.grad(lambda x: dnp.sum(dnp.tanh(x) ** 2))(np.array([0.1, 0.2, 0.3]))
assert np.allclose(g, 2 * np.tanh([0.1, 0.2, 0.3]) / np.cosh([0.1, 0.2, 0.3]) ** 2)
J = dt.jacfwd(lambda x: dnp.sin(x) * x[0])(np.array([0.5, 1.0]))
assert J.shape == (2, 2)
x = dt.Value(2.0)
y = (x * x + x).relu()
y.backward()
assert x.grad == 5.0
for name in BLOCKED:
    assert name not in sys.modules, name
print("ok")
"""


def test_import_and_differentiate_without_the_study_dependencies() -> None:
    out = subprocess.run([sys.executable, "-c", _SCRIPT], capture_output=True, text=True,
                         env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"}, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_the_blocker_blocks() -> None:
    script = _SCRIPT.split("import numpy as np")[0] + "import pandas\n"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"}, timeout=120)
    assert out.returncode != 0 and "blocked" in out.stderr
