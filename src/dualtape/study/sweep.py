"""Planning and running a study's sweeps, resumably.

``plan`` expands a study into cells (sweep × point × problem × method), each
with the measurement groups it still lacks in the results folder.  ``execute``
measures them in order, writing each group's rows as soon as it is measured,
so an interrupted sweep loses nothing already measured and a rerun of the same
command picks up where it stopped.
"""

from __future__ import annotations

import math
import sys
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..measure.timing import TimingConfig
from . import measure, stop
from .methods import Method, get_method
from .problems import Instance, Problem, get_problem
from .session import RunSession
from .spec import Study, StudyError, check_sizes, choose
from .storage import DATA_FILE, ENV_FILE

RESULTS_ROOT = Path("results")


def default_out(study_name: str, quick: bool = False) -> Path:
    """``results/<study>``, or ``results/quick/<study>`` for ``--quick`` runs."""
    return RESULTS_ROOT / "quick" / study_name if quick else RESULTS_ROOT / study_name


@dataclass
class Cell:
    """One (sweep, problem, point, method) and the groups it still needs."""

    sweep: str
    problem: Problem
    method: Method
    request: tuple[int, int, int]
    n: int
    m: int
    depth: int
    groups: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"{self.problem.name} {self.method.name} n={self.n} m={self.m} depth={self.depth}"

    def weight(self) -> float:
        """A rough guess of the cell's seconds, for the progress bar's ETA.

        One call costs ~0.1 ms of Python per pass and layer plus arithmetic in
        proportion to directions × (n + m); the check, count and memory runs
        take about six calls (tracemalloc is slow), and timing takes ~0.15 s or
        seven calls, whichever is more.  A jit peer adds its compilation, longer
        for deeper functions.
        """
        meth = self.method
        directions = {"forward": self.n, "reverse": self.m}.get(meth.mode, 1)
        call = meth.passes(self.n, self.m) * self.depth * 1e-4 + \
            directions * (self.n + self.m) * self.depth * 1e-7
        cost = 0.0
        if "time" in self.groups:
            cost += max(0.15, 7 * call)
        cost += 2 * call * len([g for g in self.groups if g != "time"])
        return cost + (0.3 * (1 + self.depth / 16) if meth.jit else 0.0)


@dataclass
class RunReport:
    """What a run did, and whether the results folder holds failed cells."""

    study: str
    out: Path
    cells_planned: int = 0
    cells_measured: int = 0
    cells_already_done: int = 0
    failed: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    interrupted: bool = False
    repaired_bytes: int = 0
    dropped_rows: int = 0
    files: list[Path] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.interrupted


def applicable_groups(study: Study, method: Method) -> tuple[str, ...]:
    """The measurement groups that make sense for ``method`` in ``study``."""
    wanted = []
    for g in study.measures:
        if g == "check" and not method.is_jacobian:
            continue
        if g in ("count", "memory") and not method.counted:
            continue
        wanted.append(g)
    return tuple(wanted)


def plan(
    study: Study,
    *,
    quick: bool = False,
    sizes: Sequence[int] | None = None,
    problems: Sequence[str] | None = None,
    methods: Sequence[str] | None = None,
    done: set[tuple[str, ...]] | frozenset = frozenset(),
) -> tuple[list[Cell], int]:
    """Expand ``study`` into cells: (cells still to measure, cells already complete).

    Points whose instances come out with the same real sizes (a loss ignores m;
    the MLP rounds n to a parameter count) are measured once per sweep.
    """
    if sizes is not None:
        sizes = check_sizes(list(sizes), "--sizes")
    chosen = [get_problem(p) for p in (problems if problems is not None else study.problems)]
    method_filter = None if methods is None else choose(
        [get_method(m).name for m in methods], _study_methods(study), "--methods",
        f"{study.name}'s methods")
    cells: list[Cell] = []
    complete = 0
    for sweep in study.sweeps:
        sweep_problems = chosen if problems is not None else (
            [get_problem(p) for p in sweep.problems] if sweep.problems else chosen)
        names = sweep.methods or study.methods
        if method_filter is not None:
            names = [m for m in names if m in method_filter]
        sweep_methods = [get_method(m) for m in names]
        seen: set[tuple[str, int, int, int]] = set()
        for point in sweep.points(study.sweep_sizes(sweep, quick, sizes)):
            for prob in sweep_problems:
                inst = _build(prob, point)
                real = (prob.name, inst.n, inst.m, inst.depth)
                if real in seen:
                    continue
                seen.add(real)
                request = (point["n"], point["m"], point["depth"])
                for meth in sweep_methods:
                    groups = tuple(
                        g for g in applicable_groups(study, meth)
                        if (sweep.name, prob.name, meth.name, str(inst.n), str(inst.m),
                            str(inst.depth), g) not in done)
                    if groups:
                        cells.append(Cell(sweep.name, prob, meth, request, inst.n, inst.m,
                                          inst.depth, groups))
                    else:
                        complete += 1
    return cells, complete


def _study_methods(study: Study) -> list[str]:
    """Every method any sweep of ``study`` measures, in order."""
    names = [m for sweep in study.sweeps for m in (sweep.methods or study.methods)]
    return list(dict.fromkeys(get_method(m).name for m in names))


def _build(prob: Problem, point: dict[str, int]) -> Instance:
    """The problem's instance at a sweep point; a builder that crashes is a bad definition."""
    try:
        return prob.instance(point["n"], point["m"], point["depth"])
    except StudyError:
        raise
    except Exception as exc:
        raise StudyError(f"cannot build it at n={point['n']} m={point['m']} "
                         f"depth={point['depth']}: {_one_line(exc)}", f"problem {prob.name!r}"
                         ) from exc


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Instances:
    """Small caches of instances and of their JAX references (cells arrive grouped by
    instance).  Instances are deterministic, so a reference is shared by every method,
    sweep and run in the process; entries are keyed by the problem's name and builder,
    not by the object, so a problem sent to a Dask worker with each cell still hits."""

    def __init__(self, size: int = 4) -> None:
        self.size = size
        self.items: OrderedDict[tuple, Instance] = OrderedDict()
        self.references: OrderedDict[tuple, measure.Reference] = OrderedDict()

    @staticmethod
    def _key(cell: Cell) -> tuple:
        build = cell.problem.build
        return (cell.problem.name, getattr(build, "__module__", ""),
                getattr(build, "__qualname__", ""), cell.request)

    def _cached(self, table: OrderedDict, key: tuple, make: Callable[[], Any], size: int) -> Any:
        if key not in table:
            table[key] = make()
            while len(table) > size:
                table.popitem(last=False)
        table.move_to_end(key)
        return table[key]

    def get(self, cell: Cell) -> Instance:
        return self._cached(self.items, self._key(cell),
                            lambda: cell.problem.instance(*cell.request), self.size)

    def reference(self, cell: Cell) -> measure.Reference:
        return self._cached(self.references, self._key(cell),
                            lambda: measure.jax_reference(cell.problem.instance(*cell.request)),
                            2 * self.size)


#: The process-wide caches (the sequential run and, on a Dask worker, every task share them).
INSTANCES = Instances()


def measure_cell(
    cell: Cell,
    instances: Instances,
    timing: TimingConfig,
    emit: Callable[[list[dict[str, Any]]], None],
) -> bool:
    """Measure the cell's missing groups, emitting each group's rows. True if all passed."""
    base = _cell_base(cell)
    ok = True
    runner = None
    for group in cell.groups:
        rows: list[dict[str, Any]] = []

        def row(measure_name, value, unit, repeat=0, calls=None, status="ok", note="",
                _group=group, _rows=rows):
            _rows.append({**base, "group": _group, "measure": measure_name, "repeat": repeat,
                          "value": value, "unit": unit, "calls": calls, "status": status,
                          "note": note})

        try:
            inst = instances.get(cell)
            if runner is None:
                runner = cell.method.make(inst)
            if group == "check":
                ref = instances.reference(cell)
                err, passed, note = measure.check(cell.method, runner, inst, ref)
                row("max_rel_err", float(err), "1", status="ok" if passed else "failed",
                    note=note)
                ok &= passed
            elif group == "count":
                for name, value in measure.counts(runner).items():
                    row(name, value, "B" if name.endswith("bytes") else
                        ("flop" if "flops" in name else "ops"))
                if cell.method.is_jacobian and cell.method.chunk == 1:
                    for name, value in measure.pass_counts(cell.method, inst).items():
                        row(name, value, "flop" if "flops" in name else "ops")
            elif group == "memory":
                row("peak_bytes", measure.peak_memory(runner), "B")
            elif group == "time":
                calls, samples = measure.timings(runner, timing)
                for i, seconds in enumerate(samples):
                    row("time_s", seconds, "s", repeat=i, calls=calls)
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:  # a broken method is a failed cell, never a dropped one
            rows.clear()
            row("exception", math.nan, "", status="failed", note=_one_line(exc))
            ok = False
        emit(rows)
    return ok


def _cell_base(cell: Cell) -> dict[str, Any]:
    return {"sweep": cell.sweep, "problem": cell.problem.name, "method": cell.method.name,
            "engine": cell.method.engine, "mode": cell.method.mode,
            "n": cell.n, "m": cell.m, "depth": cell.depth}


def failed_rows(cell: Cell, note: str) -> list[dict[str, Any]]:
    """The rows of a cell that could not be measured at all (its task was lost)."""
    return [{**_cell_base(cell), "group": group, "measure": "exception", "repeat": 0,
             "value": math.nan, "unit": "", "calls": None, "status": "failed", "note": note}
            for group in cell.groups]


def failed_cells(rows: Sequence[dict[str, str]]) -> list[str]:
    """One description per cell of the results that has a failed row."""
    out: dict[tuple, str] = {}
    for r in rows:
        if r["status"] == "failed":
            key = (r["sweep"], r["problem"], r["method"], r["n"], r["m"], r["depth"])
            out.setdefault(key, f"{r['sweep']}: {r['problem']} {r['method']} n={r['n']} "
                                f"m={r['m']} depth={r['depth']}: {r['note'] or r['measure']}")
    return list(out.values())


def execute(
    study: Study,
    *,
    out: Path | str | None = None,
    quick: bool = False,
    sizes: Sequence[int] | None = None,
    problems: Sequence[str] | None = None,
    methods: Sequence[str] | None = None,
    timing: TimingConfig | None = None,
    progress: bool = True,
    command: list[str] | None = None,
    client: Any = None,
    worker_wait: float | None = None,
) -> RunReport:
    """Measure every missing cell of ``study`` into ``out``; see ``dualtape.study.run``.

    With a Dask ``client`` every cell is one task on the cluster (``.cluster``); a
    scheduler without a worker for ``worker_wait`` seconds is a ``StudyError``.
    """
    out = Path(out) if out is not None else default_out(study.name, quick)
    with RunSession(study.name, out, quick=quick, sizes=sizes, command=command) as session:
        report = _measure(session, study, quick=quick, sizes=sizes, problems=problems,
                          methods=methods, timing=timing, progress=progress, client=client,
                          worker_wait=worker_wait)
    return report


def _measure(session: RunSession, study: Study, *, quick: bool, sizes: Sequence[int] | None,
             problems: Sequence[str] | None, methods: Sequence[str] | None,
             timing: TimingConfig | None, progress: bool, client: Any,
             worker_wait: float | None) -> RunReport:
    """``execute``'s work inside its locked session."""
    out, writer = session.out, session.writer
    cells, complete = plan(study, quick=quick, sizes=sizes, problems=problems,
                           methods=methods, done=writer.done)
    timing = timing or (study.quick_timing if quick else study.timing)
    report = RunReport(study.name, out, cells_planned=len(cells) + complete,
                       cells_already_done=complete, repaired_bytes=writer.repaired_bytes,
                       dropped_rows=writer.dropped_rows)
    if client is not None and cells:
        from .cluster import wait_for_workers

        wait_for_workers(client, worker_wait)  # before the run's entry: nothing began
    session.start(report.cells_planned)
    emit = session.emit

    bar = None
    if progress and cells:
        from tqdm import tqdm

        bar = tqdm(total=sum(c.weight() for c in cells), file=sys.stderr, unit="w",
                   bar_format="{desc} {percentage:3.0f}%|{bar:24}| "
                              "[{elapsed} elapsed, ETA {remaining}] {postfix}",
                   desc=study.name, dynamic_ncols=True)
    start = time.perf_counter()

    def advance(cell: Cell) -> None:
        report.cells_measured += 1
        if bar is not None:
            bar.set_postfix_str(f"cell {report.cells_measured}/{len(cells)}: {cell.label}",
                                refresh=False)
            bar.update(cell.weight())

    cluster_info = None
    outcome = "failed"  # unless the loop ends or is interrupted: an exception propagates
    try:
        if client is not None and cells:
            from .cluster import ClusterRun, run_cells

            cluster_info = ClusterRun()
            run_cells(client, cells, timing, emit, advance, failed_rows, cluster_info, worker_wait)
        else:
            for cell in cells:
                stop.check()  # a signal's stop that a GC callback swallowed lands here
                measure_cell(cell, INSTANCES, timing, emit)
                advance(cell)
        outcome = "completed"
    except KeyboardInterrupt:
        report.interrupted = True
        outcome = "interrupted"
    finally:
        if bar is not None:
            bar.close()
        report.elapsed_s = time.perf_counter() - start
        extra = {"cluster": cluster_info.record()} if cluster_info is not None else {}
        session.finish(cells_measured=report.cells_measured, elapsed_s=report.elapsed_s,
                       outcome=outcome, **extra)
    report.failed = failed_cells(writer.rows)
    report.files = [out / DATA_FILE, out / ENV_FILE]
    return report
