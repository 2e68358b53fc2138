#!/usr/bin/env bash
# Regenerate everything under results/ (and docs/lesson-day1.md) from the current code.
# Needs the peers for the benchmarks: python -m pip install -e ".[peers]"
# Takes about 15 minutes on 2 cores; run it on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."
for study in jacobian_scaling gradient_cost memory_depth fan_out vanishing_gradients lesson_mlp; do
    rm -rf "results/$study"
    dualtape study run "$study" --no-progress
done
python docs/build_lesson_day1.py
python -m benchmarks --wait-quiet 120
python -m benchmarks.profile
