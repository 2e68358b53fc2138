"""``dt.checkpoint_loop``: n applications of a step function, reversed on a memory budget.

Under reverse mode the whole loop is one ``checkpoint`` tape entry (see
``dualtape.checkpointing``) that keeps ``x0`` and the values the step closes over.  Its
forward pass follows a schedule (``dualtape.revolve``) up to the first reversal: it
advances, stores the scheduled snapshots and records the last step or segment, and
hands those to the backward pass, which continues the same schedule: restore a
snapshot, advance, record a step or segment, pull the cotangent back through it.  A
second backward pass (or one at a lower level, for grad of grad) runs the schedule
again from ``x0``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

from . import dispatch
from .api import vjp
from .argchecks import is_count
from .checkpointing import Call, _is_float, bind_call, needs_tape
from .counting import recomputing
from .registry import Tracer
from .revolve import binomial_schedule, every_schedule
from .tree import flatten, unflatten

__all__ = ["LoopStats", "checkpoint_loop"]

POLICIES = ("none", "every", "sqrt", "binomial")


@dataclass
class LoopStats:
    """What one :func:`checkpoint_loop` did; the backward pass keeps updating it.

    Attributes:
        n_steps, policy, snapshots: the loop and its schedule (``snapshots``: the budget
            of stored states, x0 included).
        forward_steps: calls of ``step``, recorded or not, in the forward and backward passes.
        recorded_steps: the part of them made while recording for a pullback.
        recordings: recordings made (a step or a segment each).
        peak_snapshots: most states stored at once (x0 included; ``"none"`` under reverse
            mode keeps every state on the tape: ``n_steps``).
    """

    n_steps: int
    policy: str
    snapshots: int
    forward_steps: int = 0
    recorded_steps: int = 0
    recordings: int = 0
    peak_snapshots: int = 0

    @property
    def recomputed_steps(self) -> int:
        """Step calls beyond the forward pass's ``n_steps``."""
        return max(0, self.forward_steps - self.n_steps)


def _floating(v: Any) -> bool:
    """Whether a state leaf is floating-point (a JAX array's by its dtype)."""
    return _is_float(v) or getattr(getattr(v, "dtype", None), "kind", "") == "f"


def _apply(step: Callable, x: Any, count: int, td: Any, stats: LoopStats) -> Any:
    """``count`` applications of ``step``; the first one's result is checked against ``td``."""
    # each leaf's kind is checked at the run's first step only (not again per segment)
    kinds = [_floating(v) for v in flatten(x)[0]] if count and not stats.forward_steps else []
    for i in range(count):
        x = step(x)
        if not i:
            leaves, got = flatten(x)
            if got != td:
                raise ValueError(f"step: returned a state with structure {got}, expected that "
                                 f"of x0, {td}")
            for k, (was, v) in enumerate(zip(kinds, leaves if kinds else [], strict=True)):
                if _floating(v) != was:
                    raise TypeError(f"step: leaf {k} of the state it returned is "
                                    f"{getattr(v, 'dtype', type(v).__name__)}, where x0's is "
                                    f"{'' if was else 'not '}floating-point; keep each leaf's "
                                    "kind (cast it)")
    stats.forward_steps += count
    return x


class _Loop(Call):
    """A checkpointed loop: ``Call`` whose function is the loop, closing over ``step``."""

    def __init__(self, step: Callable, x0: Any, stats: LoopStats,
                 schedule: Callable[[], Iterator[tuple]]) -> None:
        self.step = step
        self.stats = stats
        self.schedule = schedule
        self.state_td = flatten(x0)[1]
        self.pending: _Run | None = None
        super().__init__(self.loop, (x0,), {}, frozenset(), closure_of=step)
        floats = [k for k, x in enumerate(self.leaves) if _is_float(x)]
        self.input_float = [floats.index(k) for k in self.slots]

    def loop(self, x: Any) -> Any:
        """The loop as written (forward mode over a lower tape runs it)."""
        return _apply(self.step, x, self.stats.n_steps, self.state_td, self.stats)

    def _start(self, values: Any, recompute: bool) -> tuple[_Run, Any]:
        x0 = self.call_args(values[:self.n_args])[0][0]
        run = _Run(self, x0, list(values[self.n_args:]), recompute)
        return run, run.forward()

    def evaluate(self, values: tuple) -> Any:
        run, out = self._start(values, False)
        if self.layout is None:
            self.set_layout(out)
        self.pending = run
        return self.pack(out)

    def pull(self, args: list, g: Any) -> list:
        run = self.pending if not any(isinstance(a, Tracer) for a in args) else None
        self.pending = None  # the snapshots serve one backward pass; later ones start over
        if run is None:
            run = self._start(args, True)[0]
        ct_x0, ct_captured = run.backward(self.unpack_floats(g))
        return [ct_x0[i] for i in self.input_float] + ct_captured


class _Run:
    """One execution of a schedule: the current state, the snapshots, the cotangent."""

    def __init__(self, loop: _Loop, x0: Any, captured: list, recompute: bool) -> None:
        self.loop = loop
        self.captured = captured
        self.recompute = recompute
        self.replay = recompute  # steps run again: ``step``'s cells as they were at the call
        self.snaps = {0: x0}
        self.cur = x0
        self.pos = 0
        self.actions = loop.schedule()
        self.pullback: Callable | None = None
        loop.stats.peak_snapshots = max(loop.stats.peak_snapshots, 1)

    def forward(self) -> Any:
        """Run the schedule up to its first reversal (recorded, not pulled yet); return x_n."""
        with recomputing() if self.recompute else nullcontext():
            for act in self.actions:
                if act[0] == "reverse":
                    out, self.pullback = self.record(act[1], act[2])
                    return out
                self.do(act)
        raise AssertionError("a schedule always reverses")  # pragma: no cover

    def backward(self, ct: list) -> tuple[list, list]:
        """Continue the schedule: cotangents of x0's float leaves and of the captured values."""
        assert self.pullback is not None
        ct, acc = self.pullback(ct)
        self.pullback = None
        self.replay = True
        for act in self.actions:
            if act[0] != "reverse":
                with recomputing():
                    self.do(act)
                continue
            with recomputing():
                _, pullback = self.record(act[1], act[2])
            ct, more = pullback(ct)
            acc = [a + b for a, b in zip(acc, more, strict=True)]
        return ct, acc

    def do(self, act: tuple) -> None:
        kind, a = act[0], act[1]
        loop = self.loop
        if kind == "advance":
            with loop.closure(self.captured, self.replay) if loop.cells else nullcontext():
                self.cur = _apply(loop.step, self.cur, act[2] - a, loop.state_td, loop.stats)
            self.pos = act[2]
        elif kind == "store":
            self.snaps[a] = self.cur
            counter = dispatch.counting  # read once: another thread's count may close meanwhile
            if counter is not None:  # snapshots count as saved for the backward pass
                counter.record_saved(tuple(flatten(self.cur)[0]), entry=False)
            loop.stats.peak_snapshots = max(loop.stats.peak_snapshots, len(self.snaps))
        elif kind == "restore":
            self.cur, self.pos = self.snaps[a], a
        else:  # free
            del self.snaps[a]

    def record(self, a: int, b: int) -> tuple[Any, Callable]:
        """Record steps a .. b-1 from the current state; return x_b and its pullback."""
        loop, stats = self.loop, self.loop.stats
        leaves, td = flatten(self.cur)
        fl = [k for k, x in enumerate(leaves) if _is_float(x)]
        nf = len(fl)
        held: list[Any] = []

        def segment(*vals: Any) -> list:
            xs = list(leaves)
            for k, v in zip(fl, vals[:nf], strict=True):
                xs[k] = v
            with loop.closure(vals[nf:], self.replay) if loop.cells else nullcontext():
                x = _apply(loop.step, unflatten(td, xs), b - a, td, stats)
            out = flatten(x)[0]
            held.append(out)
            return [out[k] for k in fl]

        stats.recorded_steps += b - a
        stats.recordings += 1
        out_floats, pb = vjp(segment, *[leaves[k] for k in fl], *self.captured)
        out = list(held[0])
        for k, v in zip(fl, out_floats, strict=True):
            out[k] = v

        def pullback(ct: list) -> tuple[list, list]:
            cts = pb(list(ct))
            return list(cts[:nf]), list(cts[nf:])

        return unflatten(td, out), pullback


def _check_int(value: Any, name: str, low: int) -> int:
    if not is_count(value, low):
        raise ValueError(f"{name}: expected an int >= {low}, got {value!r}")
    return int(value)


def _schedule(policy: str, n: int, snapshots: int | None,
              every: int | None) -> tuple[int, Callable[[], Iterator[tuple]]]:
    """The snapshot budget and a schedule factory for ``policy``."""
    if policy not in POLICIES:
        raise ValueError(f"policy: expected one of {', '.join(POLICIES)}, got {policy!r}")
    if every is not None and policy != "every":
        raise ValueError(f"every: only used by policy 'every', got policy={policy!r}")
    if snapshots is not None:
        _check_int(snapshots, "snapshots", 1)
        if policy == "none":
            raise ValueError("snapshots: policy 'none' stores every state; leave snapshots out")
    if policy == "none":
        return n, lambda: iter(())
    if policy == "binomial":
        s = snapshots if snapshots is not None else max(1, math.ceil(math.log2(n + 1)))
        return s, lambda: binomial_schedule(n, s)
    if policy == "every":
        if every is None:
            raise ValueError("every: policy 'every' needs every=k, the distance between "
                             "stored states")
        k = _check_int(every, "every", 1)
    else:
        k = max(1, math.ceil(math.sqrt(n)))
    need = -(-n // k)
    if snapshots is not None and need > snapshots:
        raise ValueError(f"snapshots: policy {policy!r} with k={k} stores {need} states on "
                         f"{n} steps, more than snapshots={snapshots}")
    return need, lambda: every_schedule(n, k)


def checkpoint_loop(step: Callable[[Any], Any], x0: Any, n_steps: int, *,
                    snapshots: int | None = None, policy: str = "binomial",
                    every: int | None = None, return_stats: bool = False) -> Any:
    """The state after ``n_steps`` applications of ``step`` to ``x0``, checkpointed.

    Under reverse mode the tape keeps only ``x0`` (and the traced values ``step``
    closes over); the backward pass recomputes the states it needs (``step``'s closure
    cells and defaults as they were at the call, see :func:`dualtape.checkpoint`),
    following ``policy``:

    * ``"none"``: record every step (the tape holds every state);
    * ``"every"``: store every ``every``-th state; record each segment whole in the
      backward pass (about n extra steps, n/k states plus one segment's tape);
    * ``"sqrt"``: ``"every"`` with k = ceil(sqrt(n));
    * ``"binomial"``: Griewank's binomial schedule (Revolve) for at most ``snapshots``
      stored states (x0 included; default ceil(log2(n + 1))): the fewest extra steps any
      schedule with that many snapshots can make, ``r n - C(s + r, s + 1)`` with ``r``
      the least integer with ``n <= C(s + r, s)``; one step is recorded at a time.

    Under forward mode (or with no transformation) it simply runs the loop.  The state
    may be any pytree; ``step`` must return one of the same structure.  With
    ``return_stats=True`` it returns ``(state, stats)``, a :class:`LoopStats` that the
    backward pass keeps updating (read it after the gradient).
    """
    if not callable(step):
        raise TypeError(f"step: expected a callable, got {type(step).__name__}")
    n = _check_int(n_steps, "n_steps", 0)
    budget, schedule = _schedule(policy, max(n, 1), snapshots, every)
    stats = LoopStats(n, policy, budget)
    td = flatten(x0)[1]
    call = _Loop(step, x0, stats, schedule) if n else None
    if call is None or dispatch.holding or not needs_tape(call.inputs):  # holding: as checkpoint
        out = _apply(step, x0, n, td, stats)
    elif policy == "none":
        out = _apply(step, x0, n, td, stats)
        stats.recorded_steps, stats.recordings, stats.peak_snapshots = n, 1, n
    else:
        out = bind_call(call)
    return (out, stats) if return_stats else out
