"""The workloads, fixed and seeded: each module builds its :class:`~benchmarks.contenders.Case` s.

====  ===================================================================
0     control: plain NumPy, no AD (also timed inside every other workload)
1     scalar chain on Python floats (:mod:`.scalar_chain`)
2     small arrays, many ops (:mod:`.small_arrays`)
3     MLP loss (:mod:`.mlp`)
4     Jacobians at four shapes (:mod:`.jacobians`)
5     ``import dualtape`` in a fresh process (:mod:`.import_time`)
6     sparse Jacobian detection at n = 10^5 (:mod:`.sparsity`)
7     GradBench's evals (:mod:`.gradbench`)
8     ``dt.compare`` on a 100-input, 10-output function (:mod:`.compare_speed`)
====  ===================================================================
"""

from __future__ import annotations

from collections.abc import Callable

from benchmarks.contenders import Case
from benchmarks.workloads import (
    compare_speed,
    control,
    gradbench,
    import_time,
    jacobians,
    mlp,
    scalar_chain,
    small_arrays,
    sparsity,
)

CONTROL_TITLE = "Control: plain NumPy, no AD"


def _control_cases() -> list[Case]:
    return [Case(0, "0", CONTROL_TITLE, [])]


#: Workload number -> (title, case factory).
WORKLOADS: dict[int, tuple[str, Callable[[], list[Case]]]] = {
    0: (CONTROL_TITLE, _control_cases),
    1: (scalar_chain.TITLE, scalar_chain.cases),
    2: (small_arrays.TITLE, small_arrays.cases),
    3: (mlp.TITLE, mlp.cases),
    4: (jacobians.TITLE, jacobians.cases),
    5: (import_time.TITLE, import_time.cases),
    6: (sparsity.TITLE, sparsity.cases),
    7: (gradbench.TITLE, gradbench.cases),
    8: (compare_speed.TITLE, compare_speed.cases),
}


def build_cases(selected: list[str]) -> list[Case]:
    """The cases of the selected workloads, in order, each with the control job added.

    An entry is a workload number (``"4"``: all its cases) or a case key (``"4:64x64"``).
    """
    cases: list[Case] = []
    for entry in selected:
        number = int(entry.split(":", 1)[0])
        if number not in WORKLOADS:
            raise ValueError(f"no workload {number}; choose among {sorted(WORKLOADS)}")
        chosen = [c for c in WORKLOADS[number][1]() if ":" not in entry or c.key == entry]
        if not chosen:
            raise ValueError(f"no case {entry!r}")
        for case in chosen:
            case.contenders.append(control.contender())
            cases.append(case)
    return cases
