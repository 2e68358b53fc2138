"""A/B: dualtape's own contenders at this commit against another commit, in one run.

``python -m benchmarks.ab --against REV [CASE ...]`` checks ``REV`` out into a temporary
worktree and times every dualtape contender of the selected cases (default: W1-W4) with
this tree's ``src`` and with ``REV``'s, in fresh processes that alternate round by round,
so a slow spell of the machine lands on both. It prints, and writes to
``results/benchmarks/ab.csv``, the median time of each side and their ratio (this / REV):
the check "no ratio got worse by more than 5%" made in one run instead of across two.
The workload code is this tree's for both sides; only the ``dualtape`` package differs.
"""

from __future__ import annotations

import argparse
import csv
import io
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.child import ROOT, run_json
from dualtape.measure.files import write_atomic

DEFAULT_CASES = ["1", "2", "3", "4:64x64", "4:512x512"]

# The child times with its own loop: the other side may predate ``dualtape.measure``. As in
# the suite, the collector stays on and runs before each batch; what existed is frozen.
_CHILD = """
import gc, json, sys, time
import numpy as np
from benchmarks.workloads import build_cases
np.ones(3 * 2**20); gc.freeze()  # 24 MiB freed: the heap settled, as the suite does
out = {}
for case in build_cases(sys.argv[1:]):
    for c in case.contenders:
        if c.is_dualtape and not c.self_timed:
            call = c.build()
            for _ in range(3):
                call()
            t0, n = time.perf_counter(), 0
            while time.perf_counter() - t0 < 0.005 or n == 0:
                call(); n += 1
            n = max(1, int(n * 10))
            batches = []
            for _ in range(7):
                gc.collect()
                t0 = time.perf_counter()
                for _ in range(n):
                    call()
                batches.append((time.perf_counter() - t0) / n)
            out[f"{case.key}|{c.name}"] = sorted(batches)[3]
print(json.dumps(out))
"""


def _run(src: Path, cases: list[str]) -> dict[str, float]:
    try:
        return run_json(_CHILD, cases, src, what=f"benchmarks.ab: the child for {src}")
    except RuntimeError as err:
        raise SystemExit(str(err)) from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ab", description=__doc__)
    parser.add_argument("cases", nargs="*", default=DEFAULT_CASES)
    parser.add_argument("--against", required=True, help="git revision to compare with")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "benchmarks" / "ab.csv")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error(f"--rounds must be >= 1, got {args.rounds}")
    with tempfile.TemporaryDirectory(prefix="dualtape-ab-") as tmp:
        other = Path(tmp) / "tree"
        subprocess.run(["git", "worktree", "add", "--detach", str(other), args.against],
                       cwd=ROOT, check=True, capture_output=True)
        try:
            sides = {"this": ROOT / "src", "other": other / "src"}
            times: dict[str, dict[str, list[float]]] = {"this": {}, "other": {}}
            for r in range(args.rounds):
                for side in (["this", "other"] if r % 2 == 0 else ["other", "this"]):
                    for key, sec in _run(sides[side], args.cases).items():
                        times[side].setdefault(key, []).append(sec)
                print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(other)], cwd=ROOT,
                           check=False, capture_output=True)
    rows = []
    for key in times["this"]:
        if key not in times["other"]:
            continue
        case, name = key.split("|", 1)
        a, b = statistics.median(times["this"][key]), statistics.median(times["other"][key])
        rows.append({"case": case, "contender": name, "this_s": f"{a:.4g}",
                     "against": args.against, "against_s": f"{b:.4g}",
                     "ratio": f"{a / b:.3f}"})
        print(f"{case:12s} {name:34s} {a * 1e3:9.3f} ms  {b * 1e3:9.3f} ms  {a / b:6.3f}")
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else ["case"])
    writer.writeheader()
    writer.writerows(rows)
    write_atomic(args.out, buffer.getvalue())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
