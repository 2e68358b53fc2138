"""Shared bits of the study harness tests: fast timing, a deliberately wrong problem."""

from __future__ import annotations

import csv
from pathlib import Path

import dualtape.numpy as dnp
from dualtape.study import Problem, Study, Sweep, TimingConfig

FAST = TimingConfig(target_s=1e-4, repeats=2, warmup=0)
DUALTAPE_METHODS = ("primal", "fwd_chunk1", "fwd_vector", "rev_chunk1", "rev_vector")


def _wrong_under_jax(n, m, depth, rng):
    """sin(x)[:m] for dualtape but cos(x)[:m] when JAX traces it: every check must fail."""

    def f(x):
        is_jax = type(x).__module__.startswith("jax")
        return (dnp.cos(x) if is_jax else dnp.sin(x))[:m] * 1.0

    return f, rng.standard_normal(max(n, m))


WRONG = Problem("wrong_under_jax", _wrong_under_jax, "disagrees with JAX on purpose")


def small_study(name: str = "tiny", problems=("dense_two_layer",), methods=DUALTAPE_METHODS,
                sizes=(2, 3, 4)) -> Study:
    """A study with an n sweep and an m sweep over a few small sizes."""
    return Study(name=name, description="a small test study", problems=tuple(problems),
                 methods=tuple(methods),
                 sweeps=(Sweep("n", ("n",), {"m": 2}), Sweep("m", ("m",), {"n": 2})),
                 sizes=tuple(sizes), quick_sizes=(2, 3, 4), timing=FAST, quick_timing=FAST)


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


DETERMINISTIC_GROUPS = ("check", "count")


def comparable(rows: list[dict[str, str]]) -> dict[tuple, str]:
    """Rows keyed by identity, with the values that do not depend on the clock.

    Counts and check statuses are compared by value; memory and time rows by
    their presence only (their values are measurements).
    """
    out = {}
    for r in rows:
        key = (r["sweep"], r["problem"], r["method"], r["n"], r["m"], r["depth"], r["group"],
               r["measure"], r["repeat"])
        value = r["value"] if r["group"] == "count" else ""
        out[key] = (value, r["status"], r["unit"])
    return out
