#!/usr/bin/env bash
# Regenerate everything under results/ (and docs/lesson-day1.md, docs/coverage.md) from the current code.
# Needs every extra: python -m pip install -e ".[dev]"   (study, peers, dask, sparse)
# Takes about 80 minutes on 2 cores (--speed about 60); run it on a quiet machine. Timing-sensitive parts run first.
# Pass study names to regenerate only those studies (and skip the benchmarks): scripts/regenerate-results.sh auto_mode
# Pass --speed to regenerate only the speed suite's files, the cluster timing and the profiles (no study)
set -euo pipefail
cd "$(dirname "$0")/.."
ALL_STUDIES="auto_mode jacobian_scaling gradient_cost memory_depth fan_out hessian_modes sparse_jacobians checkpointing vanishing_gradients lesson_mlp"
speed_only=0
if [ "${1:-}" = "--speed" ]; then
    speed_only=1
    shift
fi
if [ "$#" -gt 0 ]; then
    studies="$*"
else
    rm -f results/benchmarks/ab_since_run.csv   # a later commit's A/B against the run being replaced
    python -m benchmarks --wait-quiet 120
    python -m benchmarks.cold                    # fresh processes: settled, cold and held heaps
    # W3 and W4 in fresh processes again with one BLAS thread (a two-thread GEMM is slow in some processes)
    OPENBLAS_NUM_THREADS=1 python -m benchmarks.cold --workloads 3,4 --out results/benchmarks/cold_one_blas_thread
    # W1-W4 and GradBench's array evals against the last committed run's code (session 24), in one run
    python -m benchmarks.ab --against 108293f 1 2 3 4 7:lse:5000 7:lse:160000 7:llsq:512x128 \
        7:llsq:8196x128 7:kmeans:10x1000x8 7:kmeans:100x10000x16 7:gmm:2x5x1000 7:gmm:20x50x1000
    # the GEMM-bound cases again with one BLAS thread (two threads on two cores time bimodally)
    OPENBLAS_NUM_THREADS=1 python -m benchmarks.ab --against 108293f --rounds 9 3 4:512x512 \
        --out results/benchmarks/ab_one_blas_thread.csv
    python -m benchmarks.workloads.gradbench_report results/benchmarks   # gradbench_ratios.csv
    studies="$ALL_STUDIES"
    if [ "$speed_only" -eq 1 ]; then studies=""; fi
fi
for study in $studies; do
    rm -rf "results/$study"
    dualtape study run "$study" --no-progress
done
if [ "$#" -eq 0 ]; then
    python -m benchmarks.study_cluster
    python -m benchmarks.profile
    if [ "$speed_only" -eq 0 ]; then
        python docs/build_lesson_day1.py
        python scripts/coverage_table.py
    fi
fi
