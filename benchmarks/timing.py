"""Warm-up, batch calibration and interleaved timing (A B C A B C ...)."""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from benchmarks.contenders import Contender
from benchmarks.machine import OthersMeter, minor_faults


@dataclass(frozen=True)
class TimingConfig:
    """How long and how often each contender is timed."""

    rounds: int = 21
    min_time: float = 0.1
    warmup_time: float = 0.2
    max_repeats: int = 1_000_000

    @classmethod
    def quick(cls) -> TimingConfig:
        """A smoke-test configuration: seconds, not minutes; numbers are rough."""
        return cls(rounds=3, min_time=0.01, warmup_time=0.0)


@dataclass
class Prepared:
    """A contender ready to be timed: its callable and its calibrated batch size."""

    contender: Contender
    call: Callable[[], Any]
    repeats: int = 1


def warm_up(call: Callable[[], Any], config: TimingConfig) -> None:
    """Call at least twice, then until ``warmup_time`` has passed.

    The first call compiles what a JIT compiles, so it is never part of the timings.
    """
    start = time.perf_counter()
    count = 0
    while count < 2 or time.perf_counter() - start < config.warmup_time:
        call()
        count += 1


def calibrate(call: Callable[[], Any], config: TimingConfig) -> int:
    """The number of calls per batch so that one batch lasts about ``min_time``.

    Times a short batch (at least one call, about a tenth of ``min_time``) rather than a
    single call, so one unlucky call does not set the batch size.
    """
    budget = config.min_time / 10.0
    count = 0
    t0 = time.perf_counter()
    while count == 0 or time.perf_counter() - t0 < budget:
        call()
        count += 1
    per_call = (time.perf_counter() - t0) / count
    if per_call <= 0.0:
        return config.max_repeats
    return max(1, min(config.max_repeats, math.ceil(config.min_time / per_call)))


def time_batch(call: Callable[[], Any], repeats: int) -> tuple[float, float | None]:
    """Seconds and minor page faults per call over one batch (garbage collected first)."""
    gc.collect()
    faults = minor_faults()
    t0 = time.perf_counter()
    for _ in range(repeats):
        call()
    seconds = (time.perf_counter() - t0) / repeats
    after = minor_faults()
    return seconds, None if faults is None or after is None else (after - faults) / repeats


def measure_once(prepared: Prepared) -> tuple[float, float | None]:
    """One round's measurement of one contender: seconds and page faults per call."""
    if prepared.contender.self_timed:
        seconds, _detail = prepared.call()
        return float(seconds), None
    return time_batch(prepared.call, prepared.repeats)


def prepare(prepared: Prepared, config: TimingConfig) -> None:
    """Warm a contender up and set its batch size (self-timed ones run one call a round)."""
    if prepared.contender.self_timed:
        prepared.call()
        prepared.repeats = 1
        return
    warm_up(prepared.call, config)
    prepared.repeats = calibrate(prepared.call, config)


def run_interleaved(
    entries: list[Prepared], config: TimingConfig
) -> list[tuple[Prepared, int, float, float | None, float | None]]:
    """Time every entry once per round, rotating the start.

    Returns ``(entry, round, seconds per call, page faults per call, others' CPU use
    during the round)``.
    """
    records: list[tuple[Prepared, int, float, float | None, float | None]] = []
    count = len(entries)
    meter = OthersMeter()
    for round_index in range(config.rounds):
        shift = round_index % count if count else 0
        meter.start()
        timed = [(entry, measure_once(entry)) for entry in entries[shift:] + entries[:shift]]
        others = meter.stop()
        records.extend(
            (entry, round_index, seconds, faults, others) for entry, (seconds, faults) in timed
        )
    return records
