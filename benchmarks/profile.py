"""Profile the dualtape contenders with cProfile: where does dualtape's time go?

Usage, from the repository root::

    python -m benchmarks.profile                      # every dualtape contender
    python -m benchmarks.profile --workloads 1,4:512x512 --seconds 2 --top 30

For each dualtape contender it warms up, runs calls for about ``--seconds`` under cProfile,
and writes ``results/benchmarks/profiles/<case>__<contender>.txt``: the functions ranked by
own time (``tottime``) and by cumulative time, with paths inside ``src/dualtape`` shortened,
and the share of own time spent in dualtape's Python code, in NumPy and in the rest.
Then it times every primitive's NumPy ``impl`` one by one (cProfile cannot see inside
NumPy's ufuncs, whose time it books to their caller): the kernels' share against dualtape's
own overhead, and the costliest primitives with their argument shapes. Forward mode's
fused kernels (``Primitive.jvp_fused``) are timed the same way and counted as kernels.
A ``summary.md`` next to them lists the top dualtape functions of every contender.
Profiling slows Python-level code more than C code: read shares, not absolute times.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import pstats
import re
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks import peers
from benchmarks.contenders import Unavailable
from benchmarks.timing import SUITE
from benchmarks.workloads import WORKLOADS, build_cases
from dualtape.measure.files import write_atomic
from dualtape.measure.timing import settle_heap, warm_up

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "results" / "benchmarks" / "profiles"

FuncKey = tuple[str, int, str]


def _where(key: FuncKey) -> str:
    """``dualtape/ops.py:120(add)``-style location of a profiled function."""
    filename, line, name = key
    marker = f"{Path('src') / 'dualtape'}"
    if marker in filename:
        filename = "dualtape" + filename.split(marker, 1)[1]
    elif "site-packages" in filename:
        filename = filename.split("site-packages/", 1)[1]
    elif filename == "~":
        return name
    return f"{filename}:{line}({name})"


def _kind(key: FuncKey) -> str:
    filename, _line, name = key
    if f"{Path('src') / 'dualtape'}" in filename or "/dualtape/" in filename:
        return "dualtape (Python)"
    if "numpy" in filename or "numpy" in name or re.search(r"ufunc|array|ndarray", name):
        return "numpy"
    if "benchmarks" in filename:
        return "benchmark driver"
    return "other (builtins, peers)"


def profile_call(call: Any, seconds: float) -> tuple[pstats.Stats, int]:
    """Run ``call`` repeatedly for about ``seconds`` under cProfile; returns stats, calls."""
    profiler = cProfile.Profile()
    count = 0
    start = time.perf_counter()
    profiler.enable()
    while count == 0 or time.perf_counter() - start < seconds:
        call()
        count += 1
    profiler.disable()
    return pstats.Stats(profiler), count


def report(stats: pstats.Stats, count: int, title: str, top: int) -> tuple[str, list[str]]:
    """A text report of ``stats`` and the top dualtape functions as markdown lines."""
    raw: dict[FuncKey, tuple[int, int, float, float, Any]] = stats.stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in raw.values()) or 1e-12
    by_kind: dict[str, float] = {}
    for key, value in raw.items():
        by_kind[_kind(key)] = by_kind.get(_kind(key), 0.0) + value[2]
    lines = [title, f"{count} calls profiled; own time {total:.3f} s in total", ""]
    lines += ["Own time by kind:"]
    for kind, t in sorted(by_kind.items(), key=lambda kv: -kv[1]):
        lines.append(f"  {100 * t / total:5.1f}%  {kind}")
    ranked = sorted(raw.items(), key=lambda kv: -kv[1][2])
    lines += ["", f"Top {top} by own time (tottime):", "   own%   cum%   calls/call  function"]
    for key, (_cc, nc, tt, ct, _callers) in ranked[:top]:
        lines.append(f"  {100 * tt / total:5.1f}  {100 * ct / total:5.1f}  {nc / count:11.1f}  {_where(key)}")
    by_cum = sorted(raw.items(), key=lambda kv: -kv[1][3])
    lines += ["", f"Top {top} by cumulative time:", "   cum%   own%   calls/call  function"]
    for key, (_cc, nc, tt, ct, _callers) in by_cum[:top]:
        lines.append(f"  {100 * ct / total:5.1f}  {100 * tt / total:5.1f}  {nc / count:11.1f}  {_where(key)}")
    mine = [(k, v) for k, v in ranked if _kind(k) == "dualtape (Python)"][:8]
    summary = [f"{100 * v[2] / total:.0f}% {_where(k)} ({v[1] / count:.0f}/call)" for k, v in mine]
    shares = ", ".join(
        f"{kind} {100 * t / total:.0f}%" for kind, t in sorted(by_kind.items(), key=lambda kv: -kv[1])
    )
    return "\n".join(lines) + "\n", [shares, *summary]


def _shape(value: Any) -> str:
    shape = getattr(value, "shape", None)
    if shape is None:
        return type(value).__name__
    return "x".join(map(str, shape)) or "0d"


def primitive_breakdown(call: Any, seconds: float, top: int) -> tuple[list[str], str]:
    """Time every primitive's NumPy ``impl`` (by name and argument shapes) while ``call`` runs.

    The impls are wrapped for the duration only and restored afterwards (nothing in
    dualtape is changed). What the impls do not account for is dualtape's own overhead:
    dispatch, taping, rules, tree handling. Returns report lines and a one-line summary.
    """
    import dualtape

    stats: dict[tuple[str, str], list[float]] = {}
    table = dualtape.primitives()
    originals = {name: prim.impl for name, prim in table.items()}

    def wrap(name: str, impl: Any) -> Any:
        def timed(*args: Any, **params: Any) -> Any:
            t0 = time.perf_counter()
            out = impl(*args, **params)
            spent = time.perf_counter() - t0
            if out is None:  # a fused kernel that declined: the impl runs next and is timed
                return out
            entry = stats.setdefault((name, ", ".join(_shape(a) for a in args)), [0, 0.0])
            entry[0] += 1
            entry[1] += spent
            return out

        return timed

    wrapped = {name: wrap(name, prim.impl) for name, prim in table.items()}
    # Forward mode's fused kernels (impl and tangent in one) run NumPy without the impl.
    fused = {name: prim.jvp_fused for name, prim in table.items() if prim.jvp_fused is not None}
    # The ops' fast paths hold their impl in a closure cell: swap it there too.
    cells = [
        (cell, prim.name)
        for op in vars(dualtape.ops).values()
        if (prim := getattr(op, "primitive", None)) is not None and callable(op)
        for cell in (getattr(op, "__closure__", None) or ())
        if cell.cell_contents is prim.impl
    ]
    try:
        for name, prim in table.items():
            prim.impl = wrapped[name]
        for cell, name in cells:
            cell.cell_contents = wrapped[name]
        for name, kernel in fused.items():
            table[name].jvp_fused = wrap(f"{name} (fused jvp)", kernel)
        call()
        stats.clear()
        count = 0
        start = time.perf_counter()
        while count == 0 or time.perf_counter() - start < seconds:
            call()
            count += 1
        wall = (time.perf_counter() - start) / count
    finally:
        for name, prim in table.items():
            prim.impl = originals[name]
        for cell, name in cells:
            cell.cell_contents = originals[name]
        for name, kernel in fused.items():
            table[name].jvp_fused = kernel
    kernels = sum(t for _n, t in stats.values()) / count
    share = 100 * kernels / wall if wall > 0 else 0.0
    summary = (
        f"{wall * 1e3:.3g} ms per call with timed impls: NumPy/math kernels "
        f"{share:.0f}%, dualtape overhead (dispatch, tape, rules, trees) {100 - share:.0f}%"
    )
    lines = [summary, "", "   ms/call   share  calls/call  primitive(argument shapes)"]
    ranked = sorted(stats.items(), key=lambda kv: -kv[1][1])
    for (name, shapes), (calls, spent) in ranked[:top]:
        lines.append(
            f"  {1e3 * spent / count:8.3f}  {100 * spent / count / wall:5.1f}%  "
            f"{calls / count:10.1f}  {name}({shapes})"
        )
    return lines, summary


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")


def main(argv: list[str] | None = None) -> int:
    """Profile the selected dualtape contenders and write the reports."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile", description=__doc__)
    parser.add_argument(
        "--workloads",
        default=",".join(str(w) for w in WORKLOADS if w not in (0, 5)),
        help="workload numbers or case keys (default: 1-4)",
    )
    parser.add_argument("--seconds", type=float, default=2.0, help="profiled time per contender")
    parser.add_argument("--top", type=int, default=25, help="functions listed per ranking")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)

    # The same process state as the suite's timings: every tool imported, the C heap in its
    # steady state, and the objects that exist before profiling frozen out of the garbage
    # collector's sight.
    peers.preload()
    settle_heap()
    gc.collect()
    gc.freeze()
    summary = ["# Where dualtape's time goes (cProfile, own time)", "",
               "Timed in the suite's process state: every tool imported, C heap settled "
               "(dualtape.measure.timing.settle_heap).", ""]
    for case in build_cases([p for p in args.workloads.split(",") if p]):
        for contender in case.contenders:
            if not contender.is_dualtape or contender.self_timed:
                continue
            title = f"[{case.key}] {contender.name}: {case.title}"
            try:
                call = contender.build()
            except Unavailable as exc:
                print(f"{title}: skipped ({exc})")
                continue
            warm_up(call, SUITE)
            stats, count = profile_call(call, args.seconds)
            text, top_lines = report(stats, count, title, args.top)
            prim_lines, prim_summary = primitive_breakdown(call, args.seconds / 2, args.top)
            text += "\nPrimitive impls, timed one by one (no cProfile):\n" + "\n".join(prim_lines) + "\n"
            top_lines.insert(1, prim_summary)
            name = f"{_slug(case.key)}__{_slug(contender.name)}.txt"
            write_atomic(args.out / name, text)
            buffer = io.StringIO()
            buffer.write(f"## {title}\n\n")
            buffer.write(f"cProfile own time: {top_lines[0]}.\n\n{top_lines[1]}.\n\n")
            buffer.writelines(f"- {line}\n" for line in top_lines[2:])
            summary.append(buffer.getvalue())
            print(text)
    write_atomic(args.out / "summary.md", "\n".join(summary))
    print(f"Wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
