"""The control job: plain NumPy, no AD, timed inside every workload.

Its cost mixes the two regimes the workloads live in: Python-level dispatch on tiny arrays
(a short loop of ufuncs on a length-10 vector) and BLAS on medium ones (one MLP forward at
batch 256). Its time per workload shows whether the machine was slow while that workload
ran; across runs it tells a slower machine from a slower dualtape.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from benchmarks.contenders import Contender

CONTROL_NAME = "control (numpy)"


def _build() -> Callable[[], float]:
    rng = np.random.default_rng(1234)
    x = rng.standard_normal(10)
    inputs = rng.standard_normal((256, 100))
    w1 = rng.standard_normal((100, 256)) / 10.0
    w2 = rng.standard_normal((256, 256)) / 16.0

    def control() -> float:
        v = x
        for _ in range(20):
            v = np.sin(v) * 0.5 + v * v * 0.1
        h = np.tanh(np.tanh(inputs @ w1) @ w2)
        return float(np.sum(v) + np.mean(h))

    return control


def contender() -> Contender:
    """The control contender, added to every case."""
    return Contender(CONTROL_NAME, "numpy", "control", _build)
