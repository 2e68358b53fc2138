"""Running one case: build the contenders, check their results, time them interleaved."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from benchmarks.contenders import AD_TASKS, Case, Contender, Unavailable, compare
from benchmarks.timing import Prepared, prepare, run_interleaved
from dualtape.measure.timing import TimingConfig, gc_policy

Log = Callable[[str], None]


@dataclass
class CaseResult:
    """Everything one case produced: tidy rows, the checks and what was skipped."""

    case: Case
    rows: list[dict[str, Any]] = field(default_factory=list)
    checks: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def available(self) -> set[str]:
        """Names of the contenders that were timed."""
        return set(self.checks)


def _first_results(case: Case, log: Log) -> tuple[list[Prepared], dict[str, Any], dict[str, str]]:
    """Build each contender and call it once; keep those that worked."""
    prepared: list[Prepared] = []
    results: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    for contender in case.contenders:
        try:
            call = contender.build()
            results[contender.name] = call()
        except Unavailable as exc:
            skipped[contender.name] = f"unavailable: {exc}"
            continue
        except Exception as exc:  # noqa: BLE001 - a broken contender must not stop the run
            last = traceback.format_exception_only(exc)[-1].strip()
            skipped[contender.name] = f"error: {last}"
            log(f"  ! {contender.name}: {last}")
            continue
        prepared.append(Prepared(contender, call))
    return prepared, results, skipped


def _reference(case: Case, task: str, names: set[str]) -> Contender | None:
    """The reference for ``task``: a marked peer, else the first peer, else dualtape."""
    candidates = [c for c in case.contenders if c.name in names and c.serves(task)]
    for wanted in (
        lambda c: c.reference and c.task == task,
        lambda c: not c.is_dualtape,
        lambda c: True,
    ):
        for contender in candidates:
            if wanted(contender):
                return contender
    return None


def check_results(case: Case, results: dict[str, Any]) -> dict[str, str]:
    """The ``check`` column: each derivative compared with its task's reference."""
    checks: dict[str, str] = {}
    names = set(results)
    for contender in case.contenders:
        if contender.name not in names:
            continue
        if contender.self_timed:
            heavy = results[contender.name][1]
            if not contender.is_dualtape:
                checks[contender.name] = "not checked"
            else:
                checks[contender.name] = f"WARN pulls in {', '.join(heavy)}" if heavy else "ok"
            continue
        if contender.task not in AD_TASKS:
            checks[contender.name] = "not checked"
            continue
        reference = _reference(case, contender.task, names)
        if reference is None or reference.name == contender.name:
            checks[contender.name] = "ref"
            continue
        checks[contender.name] = compare(
            results[contender.name], results[reference.name], case.rtol, case.atol
        )
    return checks


def run_case(case: Case, config: TimingConfig, log: Log) -> CaseResult:
    """Check, warm up, calibrate and time one case; returns its tidy rows."""
    outcome = CaseResult(case)
    prepared, results, outcome.skipped = _first_results(case, log)
    outcome.checks = check_results(case, results)
    for name, check in outcome.checks.items():
        if check not in ("ok", "ref", "not checked"):
            log(f"  ! check {name}: {check}")
    # The suite's policy (gc="collect") freezes what exists now (the libraries of every
    # tool, loaded in this one process) out of the collector's sight: otherwise each full
    # collection scans them, and a tool that makes cyclic garbage (micrograd) pays for the
    # peers' imports.
    with gc_policy(config.gc):
        _time_case(case, config, log, prepared, outcome)
    return outcome


def _time_case(
    case: Case, config: TimingConfig, log: Log, prepared: list[Prepared], outcome: CaseResult
) -> None:
    """Warm up, calibrate and time the prepared contenders; fills ``outcome.rows``."""
    ready: list[Prepared] = []
    for entry in prepared:
        try:
            prepare(entry, config)
        except Exception as exc:  # noqa: BLE001 - e.g. fails only on its second call
            last = traceback.format_exception_only(exc)[-1].strip()
            outcome.skipped[entry.contender.name] = f"error in warm-up: {last}"
            outcome.checks.pop(entry.contender.name, None)
            log(f"  ! {entry.contender.name}: {last}")
            continue
        ready.append(entry)
    for entry, round_index, seconds, faults, others in run_interleaved(ready, config):
        contender = entry.contender
        outcome.rows.append(
            {
                "workload": case.workload,
                "case": case.key,
                "contender": contender.name,
                "tool": contender.tool,
                "task": contender.task,
                "round": round_index,
                "seconds_per_call": seconds,
                "minor_faults_per_call": faults,
                "repeats": entry.repeats,
                "check": outcome.checks[contender.name],
                "others_cpu": others,
            }
        )
