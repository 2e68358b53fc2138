"""Command line of the suite: parse options, run the cases, write and print the report."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import env as environment
from benchmarks import peers, plot, report
from benchmarks import timing as suite_timing
from benchmarks.runner import CaseResult, run_case
from benchmarks.workloads import WORKLOADS, build_cases
from dualtape.measure.env import wait_until_quiet
from dualtape.measure.files import write_atomic, write_json
from dualtape.measure.timing import settle_heap

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "results" / "benchmarks"


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The options; see the package docstring for the whole picture."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description="dualtape's speed suite against its peers."
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="few rounds and short batches: a smoke run, rough numbers",
    )
    parser.add_argument(
        "--workloads",
        default=",".join(map(str, sorted(WORKLOADS))),
        help="comma-separated workload numbers or case keys such as 4:64x64 (default: all)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help=f"output folder (default: {DEFAULT_OUT.relative_to(ROOT)})",
    )
    parser.add_argument("--rounds", type=int, help="override the number of rounds")
    parser.add_argument("--min-time", type=float, help="override the seconds per batch")
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before each case, wait up to SECONDS for other processes to go quiet "
        "(recommended on a shared machine, e.g. 300)",
    )
    parser.add_argument("--no-chart", action="store_true", help="skip the bar chart")
    parser.add_argument(
        "--no-preload",
        action="store_true",
        help="do not import every tool before the first case (see benchmarks.peers.preload)",
    )
    parser.add_argument(
        "--cold-heap",
        action="store_true",
        help="skip settling the C heap before timing (see dualtape.measure.timing.settle_heap)",
    )
    parser.add_argument(
        "--list", action="store_true", help="list the workloads and their contenders, and exit"
    )
    parser.add_argument(
        "--unset-openblas-coretype",
        action="store_true",
        help="run once without OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE (recorded)",
    )
    return parser.parse_args(argv)


def _percent(fraction: float | None) -> str:
    return "unknown" if fraction is None else f"{100 * fraction:.0f}%"


def _selected(spec: str) -> list[str]:
    return [part for part in spec.replace(" ", "").split(",") if part]


def _rerun_without_openblas_coretype(argv: list[str]) -> int | None:
    """Re-run this command without the OpenBLAS kernel variables; None if none are set."""
    removed = {k: os.environ[k] for k in environment.OPENBLAS_KERNEL_VARIABLES if k in os.environ}
    if not removed:
        print("--unset-openblas-coretype: OPENBLAS_CORETYPE is not set; nothing to unset.")
        return None
    child_env = {k: v for k, v in os.environ.items() if k not in removed}
    child_env[environment.UNSET_MARKER] = json.dumps(removed)
    args = [a for a in argv if a != "--unset-openblas-coretype"]
    print(f"NOTE: re-running with {', '.join(removed)} unset for this run (was {removed}).")
    return subprocess.call([sys.executable, "-m", "benchmarks", *args], cwd=ROOT, env=child_env)


def _list_workloads() -> None:
    for number, (title, _factory) in WORKLOADS.items():
        print(f"{number}: {title}")
        for case in build_cases([str(number)]):
            names = ", ".join(c.name for c in case.contenders)
            print(f"   [{case.key}] {names}")
            for target in case.targets:
                print(f"      target: {target.dualtape} {target.describe()}")


def main(argv: list[str] | None = None) -> int:
    """Run the suite; returns the exit status (0 even when targets are missed)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.list:
        _list_workloads()
        return 0
    if args.unset_openblas_coretype and environment.UNSET_MARKER not in os.environ:
        status = _rerun_without_openblas_coretype(argv)
        if status is not None:
            return status
    if os.environ.get(environment.UNSET_MARKER):
        print(
            f"NOTE: OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset for this run "
            f"(were {os.environ[environment.UNSET_MARKER]})."
        )

    config = suite_timing.QUICK if args.quick else suite_timing.SUITE
    if args.rounds is not None:
        config = config.but(repeats=args.rounds)
    if args.min_time is not None:
        config = config.but(target_s=args.min_time)
    cases = build_cases(_selected(args.workloads))
    preloaded = peers.preload() if not args.no_preload else {}
    heap = "cold (--cold-heap)" if args.cold_heap else f"settled ({settle_heap() // 2**20} MiB cycled)"

    started = time.perf_counter()
    results: list[CaseResult] = []
    busy: dict[str, float | None] = {}
    log = lambda msg: print(msg, flush=True)  # noqa: E731
    not_run: list[str] = []
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        for case in cases:
            print(f"[{case.key}] {case.title}", flush=True)
            busy[case.key] = wait_until_quiet(args.wait_quiet, log)
            t0 = time.perf_counter()
            results.append(run_case(case, config, log=log))
            print(
                f"      {len(results[-1].checks)} contenders, {time.perf_counter() - t0:.1f} s"
                f" (others' CPU use before: {_percent(busy[case.key])})",
                flush=True,
            )
    except KeyboardInterrupt:
        not_run = [c.key for c in cases[len(results):]]
        print(f"\nInterrupted: keeping the {len(results)} finished case(s); not run: "
              f"{', '.join(not_run)}.", flush=True)
        if not results:
            return 130
    finally:
        signal.signal(signal.SIGTERM, previous)

    timing = {
        **suite_timing.record(config),
        "quick": args.quick,
        "wait_quiet_seconds": args.wait_quiet,
        "tools_imported_before_timing": preloaded,
        "c_heap": heap,
        "others_cpu_use_before_case": busy,
        "wall_seconds": time.perf_counter() - started,
        "interrupted_before": not_run,
    }
    write_outputs(args.out, results, environment.record(ROOT, argv, timing), not args.no_chart)
    return 130 if not_run else 0


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM ends a run like Ctrl-C: the finished cases are written."""
    raise KeyboardInterrupt


def write_outputs(out: Path, results: list[CaseResult], env: dict, chart: bool) -> None:
    """Write every output file, then print the table."""
    data = report.tidy(results)
    median_frame = report.medians(data)
    ratio_frame = report.ratios(results, data)
    target_frame = report.targets(results, data)
    skipped = {r.case.key: r.skipped for r in results if r.skipped}
    env = {**env, "skipped": skipped}
    titles = {r.case.key: r.case.title for r in results}
    table = report.markdown(data, titles, ratio_frame, target_frame, median_frame, skipped, env)

    for name, frame in (("data", data), ("ratios", ratio_frame), ("targets", target_frame),
                        ("medians", median_frame)):
        write_atomic(out / f"{name}.csv", frame.to_csv(index=False, lineterminator="\n"))
    write_json(out / "env.json", env)
    write_atomic(out / "table.md", table)
    if chart:
        plot.ratio_chart(ratio_frame, [out / "ratios.png", out / "ratios.svg"])
    print()
    print(table)
    print(f"Wrote {out}")
