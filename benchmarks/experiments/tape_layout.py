"""Tape layout: one tuple per entry (today's tape) against five parallel lists.

``python -m benchmarks.experiments.tape_layout`` times the two steps the layout decides,
with the tape's own field values: appending one entry while recording, and reading one
back in the backward loop (the best of five runs of a million each, in ns per entry).
Issue 16 named a tape of parallel lists as the next step for W1; this is the measurement
behind keeping the tuple (see the README, "Performance").
"""

from __future__ import annotations

import timeit

_FIELDS = "p = object(); q = {}; r = ((0, 1), (1, 2)); s = (0.5, 0.7); t = None"
_STORES = "e = []; e1 = []; e2 = []; e3 = []; e4 = []; e5 = []"
_FILLED = ("e = [(p, q, r, s, t)] * 1000; e1 = [p] * 1000; e2 = [q] * 1000; e3 = [r] * 1000; "
           "e4 = [s] * 1000; e5 = [t] * 1000; i = 500")
STEPS = {
    "record, one tuple": ("e.append((p, q, r, s, t))", _STORES),
    "record, parallel lists": ("e1.append(p); e2.append(q); e3.append(r); e4.append(s); "
                               "e5.append(t)", _STORES),
    "read, one tuple": ("prim, params, parents, args, ans = e[i]", _FILLED),
    "read, parallel lists": ("prim = e1[i]; params = e2[i]; parents = e3[i]; args = e4[i]; "
                             "ans = e5[i]", _FILLED),
}


def measure(number: int = 1_000_000, repeat: int = 5) -> dict[str, float]:
    """Nanoseconds per entry for each step (best of ``repeat`` runs of ``number``)."""
    return {name: min(timeit.repeat(stmt, f"{_FIELDS}; {setup}", number=number,
                                    repeat=repeat)) / number * 1e9
            for name, (stmt, setup) in STEPS.items()}


if __name__ == "__main__":
    for step, ns in measure().items():
        print(f"{step:24s} {ns:6.1f} ns")
