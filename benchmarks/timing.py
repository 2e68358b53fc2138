"""The suite's timing profile and its interleaved rounds (A B C A B C ...).

Warm-up, calibration, one timed batch, the collector policy and page-fault counts all
come from dualtape's measurement base (:mod:`dualtape.measure.timing`); what is the
suite's own is interleaving several contenders round by round.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from benchmarks.contenders import Contender
from dualtape.measure.env import OthersMeter
from dualtape.measure.timing import TimingConfig, calibrate, time_batch, warm_up

#: The suite's profile: 21 rounds of ~0.1 s batches, after at least 2 calls and 0.2 s of
#: warm-up; the collector stays on, collected before each batch (``gc="collect"``).
SUITE = TimingConfig(target_s=0.1, repeats=21, warmup=2, warmup_s=0.2, max_calls=1_000_000,
                     gc="collect")
#: ``--quick``: a smoke run, seconds not minutes; the numbers are rough.
QUICK = SUITE.but(target_s=0.01, repeats=3, warmup_s=0.0)


def record(config: TimingConfig) -> dict[str, Any]:
    """The profile as ``env.json`` records it (the suite's names: rounds, min_time, ...)."""
    return {"rounds": config.repeats, "min_time": config.target_s,
            "warmup_time": config.warmup_s, "max_repeats": config.max_calls,
            "gc": config.gc}


@dataclass
class Prepared:
    """A contender ready to be timed: its callable and its calibrated batch size."""

    contender: Contender
    call: Callable[[], Any]
    repeats: int = 1


def measure_once(prepared: Prepared, config: TimingConfig) -> tuple[float, float | None]:
    """One round's measurement of one contender: seconds and page faults per call."""
    if prepared.contender.self_timed:
        seconds, _detail = prepared.call()
        return float(seconds), None
    return time_batch(prepared.call, prepared.repeats, config.gc)


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
    for round_index in range(config.repeats):
        shift = round_index % count if count else 0
        meter.start()
        order = entries[shift:] + entries[:shift]
        timed = [(entry, measure_once(entry, config)) for entry in order]
        others = meter.stop()
        records.extend(
            (entry, round_index, seconds, faults, others) for entry, (seconds, faults) in timed
        )
    return records
