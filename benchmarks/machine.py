"""How busy the machine is with other work: measured, waited out, recorded.

On a shared machine another process can slow every contender of a workload several times
over. Interleaving keeps the ratios fair within a round, but a quiet machine gives tighter
numbers. :func:`others_busy` samples ``/proc/stat`` while this process sleeps, so what it
sees is the load of everything else.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

#: Others' CPU use (fraction of all cores) under which the machine counts as quiet.
QUIET_THRESHOLD = 0.15


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
            log(
                f"      machine busy ({100 * busy:.0f}% of {os.cpu_count()} cores used by "
                f"others); waiting up to {max_wait:.0f} s"
            )
            told = True
        busy = others_busy(2.0)
    return busy


#: Size of the buffer :func:`settle_heap` allocates and frees (glibc's adaptive limit is 32 MiB).
SETTLE_BYTES = 24 * 2**20


def settle_heap() -> int:
    """Put the C heap in its steady state before timing; returns the bytes cycled.

    glibc's ``malloc`` serves large blocks with ``mmap`` and gives the top of the heap back
    to the kernel once more than ``M_TRIM_THRESHOLD`` (at first 128 KiB x 2) lies free.
    Both limits adapt: freeing one ``mmap``-ed block of up to 32 MiB raises them to its
    size. A process that has never freed a large array therefore hands its freed arrays
    back after every call and takes page faults to get them again the next call; any
    process that has loaded some data has not. Which state the suite starts in would
    otherwise depend on the order of its workloads (the 512x512 Jacobians free 2 MiB
    blocks), so every contender is timed in the steady state. The suite records the page
    faults per call of every contender; ``--cold-heap`` skips this step.
    """
    import numpy as np

    buffer = np.ones(SETTLE_BYTES // 8)
    del buffer
    return SETTLE_BYTES


def minor_faults() -> int | None:
    """Minor page faults of this process so far, or None where ``resource`` is missing."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on POSIX
        return None
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
