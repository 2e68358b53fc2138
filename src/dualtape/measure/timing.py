"""Timing a zero-argument call: warm-up, calibrated batches, repeats, GC policy, page faults.

One sample is a *batch*: the call run ``calls`` times back to back, timed with
``time.perf_counter`` and divided by ``calls``.  :func:`calibrate` picks ``calls`` so
that a batch lasts about ``TimingConfig.target_s``; :func:`sample` warms the call up,
calibrates, then keeps ``repeats`` batches.  The speed suite interleaves the batches of
several contenders itself (``benchmarks.timing.run_interleaved``) from the same pieces.

The garbage-collector policy is explicit, because the two clients need opposite ones:

* ``"off"`` (the studies): the collector is disabled while timing, so a cell's time is
  its arithmetic and dispatch, never a collection triggered by an earlier cell's garbage;
* ``"collect"`` (the speed suite): the collector stays on, because what a user pays for
  a tool that makes cyclic garbage (micrograd's graph) includes collecting it.  It runs
  a full collection before each batch, and the objects that exist before timing (every
  loaded library) are frozen out of its sight (``gc.freeze``), so no tool's collections
  pay for another tool's imports.
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from typing import Any

GC_POLICIES = ("off", "collect")

#: Bytes :func:`settle_heap` allocates and frees (glibc's adaptive mmap limit is 32 MiB).
SETTLE_BYTES = 24 * 2**20

Call = Callable[[], Any]


@dataclass(frozen=True)
class TimingConfig:
    """How a call is timed.

    ``target_s``: seconds one batch should last; ``repeats``: batches kept (the speed
    suite's rounds); ``warmup``: untimed calls first, continued until ``warmup_s``
    seconds have passed; ``max_calls``: most calls per batch; ``gc``: the
    collector policy while timing (see the module docstring); ``blas_threads``: the
    OpenBLAS thread count while timing (None: as the process has it; Dask starts its
    workers with 1).
    """

    target_s: float = 0.02
    repeats: int = 5
    warmup: int = 1
    warmup_s: float = 0.0
    max_calls: int = 100_000
    gc: str = "off"
    blas_threads: int | None = None

    def __post_init__(self) -> None:
        if not (isinstance(self.target_s, int | float) and self.target_s > 0):
            raise ValueError(f"TimingConfig.target_s must be a positive number of seconds, "
                             f"got {self.target_s!r}")
        for name in ("repeats", "max_calls"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"TimingConfig.{name} must be an integer >= 1, got {value!r}")
        if isinstance(self.warmup, bool) or not isinstance(self.warmup, int) or self.warmup < 0:
            raise ValueError(f"TimingConfig.warmup must be an integer >= 0, got {self.warmup!r}")
        if not (isinstance(self.warmup_s, int | float) and self.warmup_s >= 0):
            raise ValueError(f"TimingConfig.warmup_s must be >= 0 seconds, got {self.warmup_s!r}")
        threads = self.blas_threads
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)
                                    or threads < 1):
            raise ValueError(f"TimingConfig.blas_threads must be None or an integer >= 1, "
                             f"got {threads!r}")
        if self.gc not in GC_POLICIES:
            raise ValueError(f"TimingConfig.gc must be one of {GC_POLICIES}, got {self.gc!r}")

    def but(self, **changes: Any) -> TimingConfig:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        """The fields, for an environment record."""
        return asdict(self)


@dataclass
class Samples:
    """What :func:`sample` measured: calls per batch, then one entry per batch."""

    calls: int
    seconds: list[float] = field(default_factory=list)
    faults: list[float | None] = field(default_factory=list)


@contextmanager
def gc_policy(policy: str) -> Iterator[None]:
    """Apply a collector policy for the duration of the block (see the module docstring)."""
    if policy not in GC_POLICIES:
        raise ValueError(f"gc policy must be one of {GC_POLICIES}, got {policy!r}")
    if policy == "off":
        enabled = gc.isenabled()
        gc.disable()
        try:
            yield
        finally:
            if enabled:
                gc.enable()
        return
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def warm_up(call: Call, config: TimingConfig) -> None:
    """Call ``config.warmup`` times, then on until ``config.warmup_s`` seconds have passed.

    A JIT compiles on its first call, so that call is never part of a timing.
    """
    start = time.perf_counter()
    count = 0
    while count < config.warmup or time.perf_counter() - start < config.warmup_s:
        call()
        count += 1


def calibrate(call: Call, config: TimingConfig, tries: int = 3) -> int:
    """The number of calls per batch that makes one batch last about ``target_s``.

    Times ``tries`` short runs (each at least one call and about a tenth of
    ``target_s``) rather than a single call, and trusts the fastest: on a shared
    machine one run can be descheduled, and one unlucky run must not set the size.
    """
    budget = config.target_s / 10.0
    per_call = math.inf
    for _ in range(tries):
        count = 0
        t0 = time.perf_counter()
        while count == 0 or time.perf_counter() - t0 < budget:
            call()
            count += 1
        per_call = min(per_call, (time.perf_counter() - t0) / count)
    if per_call <= 0.0:
        return config.max_calls
    return max(1, min(config.max_calls, math.ceil(config.target_s / per_call)))


def minor_faults() -> int | None:
    """Minor page faults of this process so far, or None where ``resource`` is missing."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on POSIX
        return None
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def time_batch(call: Call, calls: int, policy: str = "off") -> tuple[float, float | None]:
    """Seconds and minor page faults per call over one batch of ``calls`` calls.

    Under the ``"collect"`` policy the collector runs first, outside the timed region.
    """
    if policy == "collect":
        gc.collect()
    faults = minor_faults()
    t0 = time.perf_counter()
    for _ in range(calls):
        call()
    seconds = (time.perf_counter() - t0) / calls
    after = minor_faults()
    return seconds, None if faults is None or after is None else (after - faults) / calls


def sample(call: Call, config: TimingConfig) -> Samples:
    """Warm ``call`` up, calibrate a batch, and time ``config.repeats`` batches (with the
    BLAS thread count ``config.blas_threads``, restored afterwards)."""
    previous = None
    if config.blas_threads is not None:
        from .env import set_blas_threads

        previous = set_blas_threads(config.blas_threads)
    try:
        warm_up(call, config)
        with gc_policy(config.gc):
            out = Samples(calibrate(call, config))
            for _ in range(config.repeats):
                seconds, faults = time_batch(call, out.calls, config.gc)
                out.seconds.append(seconds)
                out.faults.append(faults)
    finally:
        if previous is not None:
            set_blas_threads(previous)
    return out


def settle_heap() -> int:
    """Put the C heap in its steady state before timing; returns the bytes cycled.

    glibc's ``malloc`` serves large blocks with ``mmap`` and gives the top of the heap back
    to the kernel once more than ``M_TRIM_THRESHOLD`` (at first 128 KiB x 2) lies free.
    Both limits adapt: freeing one ``mmap``-ed block of up to 32 MiB raises them to its
    size.  A process that has never freed a large array therefore hands its freed arrays
    back after every call and takes page faults to get them again the next call; any
    process that has loaded some data has not.  Which state a timing starts in would
    otherwise depend on what ran before it, so callers settle the heap first and record
    the page faults per call (``time_batch``).
    """
    import numpy as np

    buffer = np.ones(SETTLE_BYTES // 8)
    del buffer
    return SETTLE_BYTES


#: glibc's ``mallopt`` parameter numbers (malloc.h).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def hold_heap(mmap_bytes: int = 32 * 2**20, trim_bytes: int = 256 * 2**20) -> bool:
    """Opt-in: keep freed arrays in the C heap for the rest of the process (glibc only).

    A short script that has never freed a large block pays page faults on every call
    (see :func:`settle_heap`). This sets glibc's limits once with ``mallopt``: blocks of up
    to ``mmap_bytes`` come from the heap, and up to ``trim_bytes`` of free heap top is kept
    rather than returned to the kernel. It changes the whole process (every library's
    allocations, and memory the process keeps after a peak), so dualtape never calls it
    itself. Returns False where there is no glibc ``mallopt`` (nothing changes).
    """
    import ctypes
    import ctypes.util

    if not (0 < mmap_bytes <= 32 * 2**20) or trim_bytes <= 0:
        raise ValueError(f"hold_heap: mmap_bytes must be in (0, 32 MiB] (got {mmap_bytes}) "
                         f"and trim_bytes positive (got {trim_bytes})")
    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError, TypeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, mmap_bytes)) and bool(mallopt(_M_TRIM_THRESHOLD, trim_bytes))
