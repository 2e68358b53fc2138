"""Interleaved timing: every method timed round by round in one process.

Each method is warmed up and its batch size calibrated by the shared measurement base
(:mod:`dualtape.measure.timing`); then each round times one batch of every method, in an
order that rotates from round to round, so a slow spell of the machine lands on all
methods alike.  The median over rounds is the time; the quartiles say how steady it was.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from ..measure.timing import TimingConfig, calibrate, gc_policy, time_batch, warm_up

#: dt.compare's default: 7 rounds of ~10 ms batches, the collector off while timing.
DEFAULT_TIMING = TimingConfig(target_s=0.01, repeats=7, warmup=1)


def _cpu_batch(runner: Callable[[], Any], calls: int) -> float:
    """CPU seconds of this process per call over one batch."""
    t0 = time.process_time()
    for _ in range(calls):
        runner()
    return (time.process_time() - t0) / calls


def interleaved(runners: Mapping[str, Callable[[], Any]], cfg: TimingConfig = DEFAULT_TIMING,
                tick: Callable[[], None] | None = None,
                clock: Callable[[], float] = time.perf_counter) -> dict[str, list[float]]:
    """Seconds per call of each runner, ``cfg.repeats`` batches each, taken round-robin.

    ``tick`` is called after each runner's calibration and after every batch (for a
    progress bar).  ``cfg.blas_threads`` holds OpenBLAS at that many threads meanwhile.
    ``clock`` is wall time by default; ``time.process_time`` measures the CPU time of this
    process instead, which on an oversubscribed machine leaves out the time the scheduler
    gave to others (use it only for single-threaded work: it adds up every thread's time).
    """
    from ..measure.env import set_blas_threads

    previous = set_blas_threads(cfg.blas_threads) if cfg.blas_threads is not None else None
    try:
        names = list(runners)
        calls: dict[str, int] = {}
        for name in names:
            warm_up(runners[name], cfg)
            calls[name] = calibrate(runners[name], cfg)
            if tick is not None:
                tick()
        samples: dict[str, list[float]] = {name: [] for name in names}
        with gc_policy(cfg.gc):
            for r in range(cfg.repeats):
                shift = r % len(names)
                for name in names[shift:] + names[:shift]:
                    if clock is time.perf_counter:
                        seconds = time_batch(runners[name], calls[name], cfg.gc)[0]
                    else:
                        seconds = _cpu_batch(runners[name], calls[name])
                    samples[name].append(seconds)
                    if tick is not None:
                        tick()
    finally:
        if previous is not None:
            set_blas_threads(previous)
    return samples


def steps(n_runners: int, cfg: TimingConfig) -> int:
    """How many times :func:`interleaved` calls ``tick``."""
    return n_runners * (1 + cfg.repeats)
