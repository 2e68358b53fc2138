"""W3's JVP by hand, with the primal and tangent products stacked into one GEMM each.

``python -m benchmarks.experiments.stacked_jvp`` times, in one process with a settled heap,
the MLP's forward pass, its JVP written by hand as two products per layer (the floor the
suite reports), and the same JVP with each layer's two products stacked into one
(``x @ [w1 | v1]``, ``[h1; t1] @ w2``). A forward engine could stack them itself; this
measures whether that would beat the unstacked floor on this machine's BLAS before
anyone writes it (median of interleaved batches, as a ratio to the forward pass).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable

import numpy as np

from benchmarks.workloads import mlp
from dualtape.measure.timing import settle_heap, time_batch


def _jvps() -> dict[str, Callable[[], object]]:
    x, y, (w1, w2, w3), (v1, v2, v3) = mlp._inputs()
    scale, width = 2.0 / y.size, w1.shape[1]

    def forward() -> object:
        h2 = np.tanh(np.tanh(x @ w1) @ w2)
        r = h2 @ w3 - y
        return np.mean(r * r)

    def unstacked() -> object:
        h1 = np.tanh(x @ w1)
        h2 = np.tanh(h1 @ w2)
        r = h2 @ w3 - y
        t1 = (x @ v1) * (1.0 - h1 * h1)
        t2 = t1 @ w2
        t2 += h1 @ v2
        t2 *= 1.0 - h2 * h2
        return np.mean(r * r), scale * np.sum(r * (t2 @ w3 + h2 @ v3))

    def stacked() -> object:
        a = x @ np.concatenate([w1, v1], axis=1)
        h1 = np.tanh(a[:, :width])
        t1 = a[:, width:] * (1.0 - h1 * h1)
        b = np.concatenate([h1, t1], axis=0) @ w2
        h2 = np.tanh(b[:len(x)])
        t2 = b[len(x):]
        t2 += h1 @ v2
        t2 *= 1.0 - h2 * h2
        r = h2 @ w3 - y
        return np.mean(r * r), scale * np.sum(r * (t2 @ w3 + h2 @ v3))

    return {"forward": forward, "jvp by hand": unstacked, "jvp stacked": stacked}


def measure(rounds: int = 21, calls: int = 50) -> dict[str, float]:
    """Median seconds per call of each variant, batches interleaved round by round."""
    calls_of = _jvps()
    assert np.isclose(calls_of["jvp by hand"]()[1], calls_of["jvp stacked"]()[1])
    settle_heap()
    times: dict[str, list[float]] = {name: [] for name in calls_of}
    names = list(calls_of)
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            times[name].append(time_batch(calls_of[name], calls, "collect")[0])
    return {name: statistics.median(t) for name, t in times.items()}


if __name__ == "__main__":
    medians = measure()
    for name, seconds in medians.items():
        print(f"{name:12s} {seconds * 1e3:7.3f} ms  {seconds / medians['forward']:5.2f}x forward")
