"""``choose_mode``: forward or reverse mode, and which chunk, from counts alone (no timing).

The rule
--------
Four counted runs (``dt.count()``), each a constant times one evaluation of ``f``:
one plain evaluation (E), one JVP with one tangent (J), one recording ``dt.vjp`` (R)
and one call of its pullback with one cotangent (B).  Each gives a number of primitive
applications (``ops``) and of FLOPs from the registry's cost model.  With n inputs and
m outputs, a Jacobian made of p passes of k directions (k = 1, 4, 16, 64, or all of
them: vector mode) is predicted to cost

* every method:     c_call + p · c_pass
* forward, k = 1:   + n · [α_fwd · J.ops + β · J.flops]
* forward, k > 1:   + ⌈n/k⌉ · [α_vec · J.ops + β · (E.flops + k · (J.flops − E.flops)) + S(k)]
* reverse, both:    + α_rec · R.ops + β · R.flops
* reverse, k = 1:   + m · [α_bwd · B.ops + β · B.flops]
* reverse, k > 1:   + ⌈m/k⌉ · [α_pull · B.ops + β · k · B.flops + S(k)]

α is the fixed cost of one primitive application in each engine (Python dispatch and
the rule), β the cost of one FLOP, c_call and c_pass the bookkeeping of a call and of a
pass (seeds, flattening, joining the result).  S(k) = γ · max(0, 8k(n + m) − cache)
charges a batched pass whose k-wide seeds and results no longer fit in cache.  The
constants (:class:`CostModel`) are seconds, fitted to the auto_mode study's CPU times of
the built-in problem families on one core (``scripts/fit_cost_model.py``; refit whenever
an engine's speed changes); only their ratios matter for the choice.  The candidate
with the lowest predicted cost wins; ties go to vector mode, then to reverse mode, then
to the smaller chunk.  A chunk at least as large as the number of directions is vector
mode and is not a separate candidate.

The whole choice is a function of the counts, n and m: it takes no timing and gives the
same answer on every run and every machine.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .argchecks import is_integer_output
from .counting import count
from .jacobians import batched_passes

__all__ = ["CostModel", "ModeChoice", "choose_mode", "Profile", "candidates", "pick", "predictions"]

CHUNKS = (1, 4, 16, 64, None)


@dataclass(frozen=True)
class CostModel:
    """Seconds per primitive application (α, per engine) and per FLOP (β); see the module."""

    alpha_fwd: float = 2.8e-6
    alpha_vec: float = 3.8e-6
    alpha_rec: float = 2.7e-6
    alpha_bwd: float = 2.6e-6
    alpha_pull: float = 2.5e-6
    beta: float = 3.1e-11
    gamma: float = 7.3e-9
    cache_bytes: float = 64e6
    per_pass: float = 6.9e-6
    per_call: float = 9.5e-6


@dataclass(frozen=True)
class Profile:
    """The counts ``choose_mode`` works from (ops, FLOPs) and the sizes n, m."""

    n: int
    m: int
    eval_ops: int
    eval_flops: int
    jvp_ops: int
    jvp_flops: int
    record_ops: int
    record_flops: int
    tape_bytes: int
    pull_ops: int
    pull_flops: int
    forward: bool = True  # False: forward mode cannot differentiate fun (a custom_vjp)
    reverse: bool = True  # False: an integer or bool output, which jacrev refuses


@dataclass(frozen=True)
class ModeChoice:
    """What :func:`choose_mode` picked: ``mode`` (``"fwd"``/``"rev"``), ``chunk`` (None:
    vector mode), a ``reason`` sentence, and ``costs``: the predicted cost of every
    candidate (``"fwd_chunk4"``, ``"rev_vector"``, ...) in evaluations of ``f``."""

    mode: str
    chunk: int | None
    reason: str
    costs: dict[str, float] = field(default_factory=dict)
    profile: Profile | None = None

    @property
    def method(self) -> str:
        """The candidate's name, as in ``costs`` and ``dt.compare``'s table."""
        return name(self.mode, self.chunk)


def name(mode: str, chunk: int | None) -> str:
    """``fwd_vector``, ``rev_chunk4``, ...: a candidate's name."""
    return f"{mode}_vector" if chunk is None else f"{mode}_chunk{chunk}"


def profile(fun: Callable, *args: Any, argnums: int | Sequence[int] = 0) -> Profile:
    """Count one evaluation, one JVP, one recording and one pullback of ``fun`` at ``args``."""
    from .api import Recording, jvp_core
    from .argchecks import dynamic as _dynamic
    from .argchecks import normalize_argnums as _argnums
    from .jacobians import basis

    nums, single = _argnums(argnums, len(args))
    leaves, td = _dynamic(args, nums, single)
    with count() as e:
        fun(*args)
    from .custom import NoForwardRule

    forward = True
    with count() as j:
        try:
            jvp_core(fun, args, nums, single, basis(leaves, 0, 1, False), 0,
                     checked=(leaves, td))
        except NoForwardRule:
            forward = False
    with count() as r:
        rec = Recording(fun, args, nums, single)
    n = sum(int(np.size(x)) for x in leaves)
    m = sum(int(np.size(o)) for o in rec.out_leaves)
    with count() as b:
        rec.pull(basis(rec.out_leaves, 0, 1, False) if m else [None] * len(rec.out_leaves))
    reverse = not any(is_integer_output(o) for o in rec.out_leaves)
    return Profile(n, m, e.n_ops, e.flops, j.n_ops, j.flops, r.n_ops, r.flops, r.tape_bytes,
                   b.n_ops, b.flops, forward, reverse)


def predict(p: Profile, mode: str, chunk: int | None, model: CostModel = CostModel()) -> float:
    """Predicted seconds for the Jacobian by ``mode`` with ``chunk`` directions per pass."""
    dim = p.n if mode == "fwd" else p.m
    k = dim if chunk is None else min(chunk, dim)
    passes = math.ceil(dim / max(k, 1))
    batched = batched_passes(chunk, dim)
    spill = model.gamma * max(0.0, k * 8 * (p.n + p.m) - model.cache_bytes) if batched else 0.0
    fixed = model.per_call + passes * model.per_pass
    if mode == "fwd":
        if not batched:
            return fixed + passes * (model.alpha_fwd * p.jvp_ops + model.beta * p.jvp_flops)
        tangent = max(p.jvp_flops - p.eval_flops, 0)
        return fixed + passes * (model.alpha_vec * p.jvp_ops + spill
                                 + model.beta * (p.eval_flops + k * tangent))
    fixed += model.alpha_rec * p.record_ops + model.beta * p.record_flops
    if not batched:
        return fixed + passes * (model.alpha_bwd * p.pull_ops + model.beta * p.pull_flops)
    return fixed + passes * (model.alpha_pull * p.pull_ops + model.beta * k * p.pull_flops
                             + spill)


def choose_mode(fun: Callable, *args: Any, argnums: int | Sequence[int] = 0,
                model: CostModel | None = None) -> ModeChoice:
    """Predict whether forward or reverse mode, and which chunk, computes ``fun``'s Jacobian
    at ``args`` fastest, from n, m and dualtape's cost model: no timing, deterministic.

    It counts one evaluation, one JVP, one recording and one pullback (a small constant
    times one evaluation) and applies the rule in this module's docstring.  The result's
    ``mode`` and ``chunk`` are what ``dt.jacobian(fun, mode="auto")`` uses.
    """
    from .argchecks import check_callable

    check_callable(fun)
    if model is not None and not isinstance(model, CostModel):
        raise TypeError(f"model: expected a CostModel or None, got {type(model).__name__}")
    model = model or CostModel()
    p = profile(fun, *args, argnums=argnums)
    predicted = predictions(p, model)
    only = _only_mode(p)
    if only is not None:  # one mode cannot differentiate f: its candidates are out
        predicted = {mc: t for mc, t in predicted.items() if mc[0] == only}
    mode, chunk = pick(p, model, predicted)
    unit = model.alpha_fwd * max(p.eval_ops, 1) + model.beta * p.eval_flops
    costs = {name(m, c): t / unit for (m, c), t in predicted.items()}
    return ModeChoice(mode, chunk, _reason(p, mode, chunk, costs), costs, p)


def _only_mode(p: Profile) -> str | None:
    """``"rev"`` for a custom_vjp (no forward rule), ``"fwd"`` for an integer or bool output
    (jacrev refuses it), else ``None``: both modes are candidates."""
    return "rev" if not p.forward else "fwd" if not p.reverse else None


def candidates(p: Profile) -> list[tuple[str, int | None]]:
    """The ``(mode, chunk)`` candidates for ``p``, in tie-breaking order: vector mode first,
    reverse before forward, smaller chunks first. A chunk at least as large as the number
    of directions (chunk 1 with one direction too) is the same computation as vector mode
    and is left out, as ``dt.compare`` leaves it out."""
    out = []
    for chunk in (None, *CHUNKS[:-1]):
        for mode in ("rev", "fwd"):
            dim = p.n if mode == "fwd" else p.m
            if chunk is None or not same_as_vector(chunk, dim):
                out.append((mode, chunk))
    return out


def same_as_vector(chunk: int, dim: int) -> bool:
    """Whether ``chunk`` directions per pass is vector mode's computation for ``dim``
    directions: one pass holds them all (chunk 1 too, where there is at most one)."""
    return chunk >= max(dim, 1)


def predictions(p: Profile, model: CostModel) -> dict[tuple[str, int | None], float]:
    """Every candidate's predicted seconds, in :func:`candidates`' order."""
    return {mc: predict(p, *mc, model) for mc in candidates(p)}


def pick(p: Profile, model: CostModel,
         predicted: dict[tuple[str, int | None], float] | None = None) -> tuple[str, int | None]:
    """The candidate with the lowest predicted cost (``min`` keeps the earlier candidate on a
    tie); ``predicted`` is :func:`predictions`' answer when the caller has it already."""
    predicted = predictions(p, model) if predicted is None else predicted
    return min(predicted, key=predicted.__getitem__)


def _reason(p: Profile, mode: str, chunk: int | None, costs: dict[str, float]) -> str:
    pick = name(mode, chunk)
    only = _only_mode(p)
    if only == "fwd":
        return (f"forward mode ({name(mode, chunk)}): f has an integer or bool output, which "
                f"reverse mode (jacrev) refuses; predicted {costs[pick]:.3g} evaluations of f")
    if only == "rev":
        return (f"reverse mode ({name(mode, chunk)}): forward mode cannot differentiate f (a "
                f"custom_vjp has no forward-mode rule); predicted {costs[pick]:.3g} "
                "evaluations of f")
    other = "rev" if mode == "fwd" else "fwd"
    rival = min((k for k in costs if k.startswith(other)), key=costs.__getitem__)
    engine, dirs = ("forward", "tangent") if mode == "fwd" else ("reverse", "cotangent")
    dim = p.n if mode == "fwd" else p.m
    how = (f"all {dim} {dirs}s in one pass" if chunk is None else
           f"one {dirs} per pass" if chunk == 1 else f"{chunk} {dirs}s per pass")
    size = (f"n = {p.n} inputs and m = {p.m} output{'s' if p.m != 1 else ''}")
    return (f"{engine} mode ({how}): with {size}, {engine} mode needs {dim} {dirs}"
            f"{'s' if dim != 1 else ''} against {p.m if mode == 'fwd' else p.n} for the other "
            f"mode; predicted {costs[pick]:.3g} evaluations of f against {costs[rival]:.3g} "
            f"for the best {'reverse' if other == 'rev' else 'forward'}-mode candidate "
            f"({rival}), from {p.jvp_ops} primitives per JVP and {p.record_ops} + "
            f"{p.pull_ops} per recording and pullback.")
