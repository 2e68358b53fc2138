"""Checkpointing schedules for reversing a chain of steps x_{i+1} = step(x_i).

A schedule is a sequence of actions on a current state ``x_pos`` and a set of
stored states (snapshots):

* ``("advance", i, j)``: the current state is x_i; apply ``step`` j - i times (not recorded);
* ``("store", i)``: keep the current state x_i as a snapshot;
* ``("restore", i)``: make the snapshot x_i the current state;
* ``("free", i)``: drop the snapshot x_i;
* ``("reverse", i, j)``: record steps i .. j-1 from the current state x_i and pull the
  cotangent of x_j back to x_i.  The first ``reverse`` of every schedule ends at n.

x_0 is a snapshot from the start (it is the loop's input, kept anyway) and counts
towards the snapshot budget.

The binomial schedule is Griewank's (Griewank & Walther, ACM TOMS 26(1), 2000), derived
here from the recursion of its cost.  With ``c`` snapshots (x_a among them) a chain of
``l`` steps starting at x_a is reversed either by advancing ``m`` steps, storing
x_{a+m}, reversing the right part with ``c - 1`` free snapshots and then the left part
with ``c``, or, with one snapshot, by advancing from x_a to every step in turn.  The
number of advances is then

    P(1, c) = 0,    P(l, 1) = l (l - 1) / 2,
    P(l, c) = min over 0 < m < l of  m + P(m, c) + P(l - m, c - 1),

whose closed form is ``P(l, c) = r l - beta(c + 1, r - 1)`` with ``beta(c, r) =
C(c + r, c)`` and ``r`` the repetition number, the least r with ``l <= beta(c, r)``.
``P(l, c)`` is convex and piecewise linear in ``l`` with slope ``r`` on
``(beta(c, r-1), beta(c, r)]``; the split ``m = max(1, l - beta(c-1, r), beta(c, r-2))``
makes the slopes of both parts balance (the left part has repetition number at most
r - 1, the right part at most r), so it attains the minimum.  The tests check this
against the brute-force dynamic program for every n <= 200 and c <= 6.
"""

from __future__ import annotations

from collections.abc import Iterator
from math import comb

__all__ = ["beta", "repetition_number", "binomial_cost", "binomial_split",
           "binomial_schedule", "every_schedule"]

Action = tuple


def beta(c: int, r: int) -> int:
    """Griewank's binomial bound C(c + r, c): the longest chain that ``c`` snapshots
    reverse when no step is advanced more than ``r`` times (0 for r < 0)."""
    return comb(c + r, c) if r >= 0 else 0


def repetition_number(l: int, c: int) -> int:
    """The least ``r`` with ``l <= beta(c, r)``."""
    if l < 1 or c < 1:
        raise ValueError(f"need l >= 1 and c >= 1, got l={l}, c={c}")
    r = 0
    while beta(c, r) < l:
        r += 1
    return r


def binomial_cost(l: int, c: int) -> int:
    """Minimal number of untaped step evaluations (advances) to reverse ``l`` steps
    with ``c`` snapshots: ``r l - beta(c + 1, r - 1)``."""
    if c == 1:
        return l * (l - 1) // 2
    r = repetition_number(l, c)
    return r * l - beta(c + 1, r - 1)


def binomial_split(l: int, c: int) -> int:
    """Where to store the next snapshot: an optimal ``m`` for ``l >= 2``, ``c >= 2``."""
    r = repetition_number(l, c)
    return max(1, l - beta(c - 1, r), beta(c, r - 2))


def _reverse(a: int, l: int, c: int) -> Iterator[Action]:
    """Actions reversing steps a .. a+l-1, x_a stored, ``c`` snapshots (x_a's included)."""
    while l > 1 and c > 1:
        m = binomial_split(l, c)
        yield ("restore", a)
        yield ("advance", a, a + m)
        yield ("store", a + m)
        yield from _reverse(a + m, l - m, c - 1)
        yield ("free", a + m)
        l = m
    for i in range(a + l - 1, a, -1):  # one snapshot left: advance from x_a to every step
        yield ("restore", a)
        yield ("advance", a, i)
        yield ("reverse", i, i + 1)
    yield ("restore", a)
    yield ("reverse", a, a + 1)


def binomial_schedule(n: int, snapshots: int) -> Iterator[Action]:
    """The binomial (Revolve) schedule for ``n`` steps and ``snapshots`` stored states.

    It makes ``binomial_cost(n, snapshots)`` advances and records each step once.
    """
    if n < 1 or snapshots < 1:
        raise ValueError(f"need n >= 1 and snapshots >= 1, got n={n}, snapshots={snapshots}")
    return _reverse(0, n, snapshots)


def every_schedule(n: int, k: int) -> Iterator[Action]:
    """Store every ``k``-th state on the way forward; reverse segment by segment, each
    recorded whole from its snapshot (n advances in all, ceil(n / k) snapshots)."""
    if n < 1 or k < 1:
        raise ValueError(f"need n >= 1 and k >= 1, got n={n}, k={k}")
    starts = list(range(0, n, k))
    for a, b in zip(starts, starts[1:], strict=False):
        yield ("advance", a, b)
        yield ("store", b)
    for a in reversed(starts):
        yield ("restore", a)
        yield ("reverse", a, min(a + k, n))
        if a:
            yield ("free", a)
