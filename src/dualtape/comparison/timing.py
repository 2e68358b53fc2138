"""Interleaved timing: every method timed round by round in one process.

Warm-up and the number of calls per sample come from the study harness's
:func:`dualtape.study.measure.timings` (one calibrated sample per method); then each
round times every method once, in an order that rotates from round to round, so a
slow spell of the machine lands on all methods alike.  The median over rounds is the
time; the quartiles say how steady it was.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from ..study.measure import timings
from ..study.spec import TimingConfig

#: dt.compare's default: 7 rounds of ~10 ms samples.
DEFAULT_TIMING = TimingConfig(target_s=0.01, repeats=7, warmup=1)


def _sample(runner: Callable[[], Any], calls: int, clock: Callable[[], float]) -> float:
    """Seconds per call over one batch of ``calls`` calls (the caller turns GC off)."""
    t0 = clock()
    for _ in range(calls):
        runner()
    return (clock() - t0) / calls


def interleaved(runners: Mapping[str, Callable[[], Any]], cfg: TimingConfig = DEFAULT_TIMING,
                tick: Callable[[], None] | None = None,
                clock: Callable[[], float] = time.perf_counter) -> dict[str, list[float]]:
    """Seconds per call of each runner, ``cfg.repeats`` samples each, taken round-robin.

    ``tick`` is called after every sample (for a progress bar).  The calibration sample
    (``timings`` with one repeat) is kept as the first sample of each runner when there
    is only one round, and discarded otherwise.  ``clock`` is wall time by default;
    ``time.process_time`` measures the CPU time of this process instead, which on an
    oversubscribed machine leaves out the time the scheduler gave to others (use it only
    for single-threaded work: it adds up the time of every thread).
    """
    names = list(runners)
    calls: dict[str, int] = {}
    first: dict[str, float] = {}
    for name in names:
        calls[name], (first[name],) = timings(runners[name], replace(cfg, repeats=1))
        if tick is not None:
            tick()
    if cfg.repeats == 1 and clock is time.perf_counter:
        return {name: [first[name]] for name in names}
    samples: dict[str, list[float]] = {name: [] for name in names}
    enabled = gc.isenabled()
    gc.disable()
    try:
        for r in range(cfg.repeats):
            shift = r % len(names)
            for name in names[shift:] + names[:shift]:
                samples[name].append(_sample(runners[name], calls[name], clock))
                if tick is not None:
                    tick()
    finally:
        if enabled:
            gc.enable()
    return samples


def steps(n_runners: int, cfg: TimingConfig) -> int:
    """How many times :func:`interleaved` calls ``tick``."""
    return n_runners * (1 + (cfg.repeats if cfg.repeats > 1 else 0))
