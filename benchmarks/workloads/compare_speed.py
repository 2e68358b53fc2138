"""Workload 8: ``dt.compare`` itself, on a 100-input, 10-output function, default settings.

One call runs every method (dualtape's forward and reverse mode at every chunk, JAX's
``jacfwd``/``jacrev`` eager and jit, compiled afresh each call), checks each against JAX,
counts and memory-profiles dualtape's, and times all of them interleaved. The target is
the issue's: under 5 s. The call is timed from inside (one call per round), so the
suite's batching does not multiply a multi-second call.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks import peers
from benchmarks.contenders import Case, Contender, Target

TITLE = "dt.compare on f: R^100 -> R^10"
N, M = 100, 10


def _compare() -> Callable[[], tuple[float, list[str]]]:
    dt, dnp = peers.dualtape("compare")
    rng = np.random.default_rng(6)
    a = rng.standard_normal((M, N)) / np.sqrt(N)
    x = rng.standard_normal(N)

    def f(x: Any) -> Any:
        return dnp.tanh(a @ x) * dnp.sum(x * x)

    def run() -> tuple[float, list[str]]:
        t0 = time.perf_counter()
        c = dt.compare(f, x)
        seconds = time.perf_counter() - t0
        if c.best is None:
            raise RuntimeError("dt.compare found no correct method")
        return seconds, []

    return run


def cases() -> list[Case]:
    """The single case of workload 8."""
    contender = Contender("dualtape compare", "dualtape", "compare", _compare, self_timed=True)
    return [Case(8, "8", TITLE, [contender], [Target("dualtape compare", None, 5.0)])]
