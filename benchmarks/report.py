"""From tidy timings to medians, pair-by-pair ratios, target verdicts and the ratio table."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.runner import CaseResult
from benchmarks.workloads.control import CONTROL_NAME
from dualtape.measure.env import QUIET_THRESHOLD

#: Control times spread more than this (max/min across workloads) earn a warning.
CONTROL_SPREAD_WARNING = 1.25


def tidy(results: list[CaseResult]) -> pd.DataFrame:
    """All rounds of all contenders, one row each (the ``data.csv`` frame)."""
    rows = [row for result in results for row in result.rows]
    columns = [
        "workload",
        "case",
        "contender",
        "tool",
        "task",
        "round",
        "seconds_per_call",
        "minor_faults_per_call",
        "repeats",
        "check",
        "others_cpu",
    ]
    return pd.DataFrame(rows, columns=columns)


def medians(data: pd.DataFrame) -> pd.DataFrame:
    """Median seconds per call for each (case, contender)."""
    keys = ["workload", "case", "contender", "tool", "task", "check"]
    grouped = data.groupby(keys, sort=False)
    frame = grouped["seconds_per_call"].agg(
        median="median",
        q25=lambda s: s.quantile(0.25),
        q75=lambda s: s.quantile(0.75),
        rounds="count",
    )
    frame["faults_per_call"] = grouped["minor_faults_per_call"].median()
    return frame.reset_index()


def _per_round(data: pd.DataFrame, case: str, contender: str) -> pd.Series:
    rows = data[(data["case"] == case) & (data["contender"] == contender)]
    return rows.set_index("round")["seconds_per_call"]


def ratios(results: list[CaseResult], data: pd.DataFrame) -> pd.DataFrame:
    """dualtape / peer for every pair of a case (``ratios.csv``), with the targets.

    ``ratio`` is the ratio of the medians; ``paired_q25``/``paired_q75`` are quartiles of
    the round-by-round ratios, showing how stable the comparison was within the run.
    """
    rows: list[dict[str, Any]] = []
    for result in results:
        case = result.case
        targets = {(t.dualtape, t.peer): t for t in case.targets}
        for mine, peer in case.pairs(result.available):
            a = _per_round(data, case.key, mine.name)
            b = _per_round(data, case.key, peer.name)
            paired = (a / b).dropna()
            target = targets.get((mine.name, peer.name))
            ratio = float(a.median() / b.median())
            rows.append(
                {
                    "workload": case.workload,
                    "case": case.key,
                    "dualtape": mine.name,
                    "peer": peer.name,
                    "dualtape_s": float(a.median()),
                    "peer_s": float(b.median()),
                    "ratio": ratio,
                    "paired_q25": float(paired.quantile(0.25)),
                    "paired_q75": float(paired.quantile(0.75)),
                    "check": result.checks[mine.name],
                    "peer_check": result.checks[peer.name],
                    "target": target.describe() if target else "",
                    "target_max": target.max_ratio if target else math.nan,
                }
            )
    return pd.DataFrame(rows)


def targets(results: list[CaseResult], data: pd.DataFrame) -> pd.DataFrame:
    """Each target of the issue: measured value and verdict (``targets.csv``).

    A target is met only when the dualtape contender's check passed as well.
    """
    rows: list[dict[str, Any]] = []
    for result in results:
        case = result.case
        for target in case.targets:
            measured, verdict = math.nan, "not run"
            contenders = [target.dualtape] + ([target.peer] if target.peer else [])
            missing = [n for n in contenders if n not in result.available]
            if not missing:
                mine = _per_round(data, case.key, target.dualtape).median()
                measured = float(
                    mine if target.peer is None else mine / _per_round(data, case.key, target.peer).median()
                )
                check = result.checks[target.dualtape]
                if not check_passed(check):
                    verdict = f"no (check: {check})"
                else:
                    verdict = "yes" if target.met(measured) else "no"
            rows.append(
                {
                    "workload": case.workload,
                    "case": case.key,
                    "dualtape": target.dualtape,
                    "versus": target.peer or "(absolute, seconds)",
                    "target": target.describe(),
                    "target_max": target.max_ratio,
                    "measured": measured,
                    "met": verdict,
                    "factor_over": (measured / target.max_ratio if np.isfinite(measured) else math.nan),
                }
            )
    return pd.DataFrame(rows)


def check_passed(check: str) -> bool:
    """Whether a ``check`` value lets a target count (warnings are informational)."""
    return check in ("ok", "ref") or check.startswith("WARN")


def format_seconds(seconds: float) -> str:
    """``1.23 ms``-style formatting."""
    if not np.isfinite(seconds):
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def load_note(data: pd.DataFrame) -> str:
    """How much other processes ran while we timed: median per case, and busy rounds."""
    rounds = data.drop_duplicates(["case", "round"])[["case", "round", "others_cpu"]]
    known = rounds.dropna(subset=["others_cpu"])
    if known.empty:
        return "Other processes' CPU use during the rounds: unknown on this system."
    per_case = known.groupby("case", sort=False)["others_cpu"].median()
    busy = int((known["others_cpu"] > QUIET_THRESHOLD).sum())
    readings = ", ".join(f"{case}: {100 * v:.0f}%" for case, v in per_case.items())
    return (
        f"Other processes' CPU use during the rounds (median per case, share of all cores): "
        f"{readings}; {busy} of {len(known)} rounds above {100 * QUIET_THRESHOLD:.0f}%."
    )


def markdown(
    data: pd.DataFrame,
    titles: dict[str, str],
    ratio_frame: pd.DataFrame,
    target_frame: pd.DataFrame,
    median_frame: pd.DataFrame,
    skipped: dict[str, dict[str, str]],
    env: dict[str, Any],
) -> str:
    """The ratio table (``table.md``) for the README and the terminal."""
    lines: list[str] = ["## Ratios: dualtape time / peer time (lower is better)", ""]
    header = [
        "case",
        "dualtape",
        "peer",
        "dualtape",
        "peer",
        "ratio",
        "round quartiles",
        "target",
        "check",
    ]
    body: list[list[str]] = []
    for row in ratio_frame.itertuples(index=False):
        body.append(
            [
                row.case,
                row.dualtape,
                row.peer,
                format_seconds(row.dualtape_s),
                format_seconds(row.peer_s),
                f"**{row.ratio:.3g}x**",
                f"{row.paired_q25:.3g}-{row.paired_q75:.3g}",
                row.target or "",
                row.check,
            ]
        )
    lines += _md_table(header, body) if body else ["(no dualtape contender ran)"]
    lines += ["", "## Targets", ""]
    body = []
    for row in target_frame.itertuples(index=False):
        if not np.isfinite(row.measured):
            measured = "-"
        elif row.versus.startswith("("):
            measured = format_seconds(row.measured)
        else:
            measured = f"{row.measured:.3g}x"
        over = (
            f"{row.factor_over:.2f}x the target"
            if np.isfinite(row.factor_over) and not str(row.met).startswith("yes")
            else ""
        )
        body.append([row.case, row.dualtape, row.target, measured, row.met, over])
    lines += _md_table(["case", "dualtape", "target", "measured", "met", "miss"], body)
    lines += ["", "## All medians", ""]
    body = [
        [
            r.case,
            r.contender,
            format_seconds(r.median),
            f"{format_seconds(r.q25)} - {format_seconds(r.q75)}",
            str(r.rounds),
            "" if pd.isna(r.faults_per_call) else f"{r.faults_per_call:.0f}",
            r.check,
        ]
        for r in median_frame.itertuples(index=False)
    ]
    header = ["case", "contender", "median", "quartiles", "rounds", "page faults/call", "check"]
    lines += _md_table(header, body)
    control = median_frame[median_frame["contender"] == CONTROL_NAME]
    if len(control):
        spread = control["median"].max() / control["median"].min()
        lines += [
            "",
            f"Control job (plain NumPy, no AD) across cases: "
            f"{format_seconds(control['median'].min())} to "
            f"{format_seconds(control['median'].max())} (spread {spread:.2f}x).",
        ]
        if spread > CONTROL_SPREAD_WARNING:
            lines.append("**Warning: the machine's speed varied during the run.**")
    lines += ["", "Cases: " + "; ".join(f"{k}: {v}" for k, v in titles.items()) + "."]
    skipped_lines = [
        f"- {case} / {name}: {why}" for case, items in skipped.items() for name, why in items.items()
    ]
    if skipped_lines:
        lines += ["", "Skipped:", *skipped_lines]
    timing = env.get("timing", {})
    if timing.get("interrupted_before"):
        lines += ["", f"**Interrupted: cases {', '.join(timing['interrupted_before'])} were not "
                      "run; the tables hold the finished cases only.**"]
    lines += ["", load_note(data)]
    lines += [
        "",
        f"{timing.get('rounds', '?')} interleaved rounds of ~{timing.get('min_time', '?')} s "
        f"batches per contender{' (quick mode)' if timing.get('quick') else ''}; "
        f"C heap {timing.get('c_heap', 'not recorded')} (dualtape.measure.timing.settle_heap).",
        "",
        _environment_line(env),
        "",
    ]
    return "\n".join(lines)


def _environment_line(env: dict[str, Any]) -> str:
    v = env["versions"]
    blas = env.get("openblas_runtime", {})
    ob = env["openblas_variables"]
    if ob["unset_for_this_run"]:
        coretype = f"OPENBLAS_CORETYPE unset for this run (was {ob['unset_values']})"
    elif ob["OPENBLAS_CORETYPE_set"]:
        coretype = f"OPENBLAS_CORETYPE={ob['values']['OPENBLAS_CORETYPE']}"
    else:
        coretype = "OPENBLAS_CORETYPE not set"
    tools = ", ".join(f"{k} {val}" for k, val in v.items() if val and k != "python")
    return (
        f"Measured on {env['cpu']} ({env['cores']['usable']} cores), Python {v['python']}, "
        f"{tools}; OpenBLAS kernel {blas.get('kernel', '?')}, {coretype}; "
        f"commit {(env['git']['commit'] or '?')[:10]}"
        f"{' (dirty)' if env['git']['dirty'] else ''}; `{env['command']}`."
    )
