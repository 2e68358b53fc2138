"""Wall time of a ``--quick`` study run sequentially and on a LocalCluster of N workers.

Usage, from the repository root (needs ``pip install -e ".[dask]"``)::

    python -m benchmarks.study_cluster                       # jacobian_scaling, 2 workers
    python -m benchmarks.study_cluster --study fan_out --workers 2 --repeats 2

Each run is a fresh ``dualtape study run NAME --quick`` in its own process, into a
temporary folder, so nothing resumes; the two ways alternate (sequential, cluster,
sequential, ...) so both see the same machine.  Wall time is the whole command:
start-up, the cluster's start and stop, measuring, plots and summary.  The load average
and other processes' CPU use are recorded with every run, and everything is written to
``results/benchmarks/study_cluster.json``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dualtape.measure.env import OthersMeter, environment, load_average
from dualtape.measure.files import write_json

ROOT = Path(__file__).resolve().parent.parent


def one_run(study: str, workers: int | None) -> dict:
    """Run the quick study once in a fresh process; its wall time and the machine's load."""
    with tempfile.TemporaryDirectory(prefix="dualtape-cluster-bench-") as out:
        cmd = [sys.executable, "-m", "dualtape.cli", "study", "run", study, "--quick",
               "--no-progress", "--out", out]
        if workers:
            cmd += ["--workers", str(workers)]
        meter, load_before = OthersMeter(), load_average()
        meter.start()
        t0 = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT,
                              env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
        seconds = time.perf_counter() - t0
    return {"workers": workers or 0, "seconds": round(seconds, 2), "status": done.returncode,
            "load_average_before": load_before, "load_average_after": load_average(),
            "others_cpu_share": meter.stop(), "last_line": (done.stdout.strip().splitlines()
                                                            or [""])[0]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.study_cluster",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--study", default="jacobian_scaling")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--out", type=Path,
                        default=ROOT / "results" / "benchmarks" / "study_cluster.json")
    args = parser.parse_args(argv)
    runs = []
    for _ in range(args.repeats):
        for workers in (None, args.workers):
            runs.append(one_run(args.study, workers))
            print(runs[-1], flush=True)
    best = {w: min(r["seconds"] for r in runs if r["workers"] == w) for w in (0, args.workers)}
    result = {"study": args.study, "quick": True, "runs": runs,
              "best_seconds": {"sequential": best[0], f"{args.workers} workers": best[args.workers]},
              "speed_up": round(best[0] / best[args.workers], 2),
              "environment": environment([sys.executable, "-m", "benchmarks.study_cluster",
                                          *(argv or sys.argv[1:])])}
    write_json(args.out, result)
    print(f"sequential {best[0]:.1f} s, {args.workers} workers {best[args.workers]:.1f} s "
          f"(speed-up {result['speed_up']}x); wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
