"""The shared run of studies that measure something of their own (not a Jacobian sweep).

Such a study splits its work into cells (tuples such as ``(problem, n)``) and measures
each into rows of its own columns; :func:`run_cells` appends every cell's rows to
``data.csv`` as soon as it is measured, through the same ``RunSession`` as the sweep
studies (folder lock, ``env.json`` run entries, durable appends), so an interrupted
run resumes where it stopped.  A cell that raises is recorded as a sweep's is: a row
with status ``failed`` and the error in ``note``, which a rerun counts as done, and the
run goes on to the next cell.  Then it draws the study's figures (PNG and SVG) from the
cells that succeeded and writes ``summary.md``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from . import stop
from .plots import save_figure
from .session import RunSession, kept_rows
from .spec import StudyError, choose
from .storage import CUSTOM_TAIL, DATA_FILE, ENV_FILE, custom_layout, read_complete, read_env
from .sweep import RunReport

__all__ = ["cell_label", "distinct", "failed_cells", "load_csv", "measured_quick", "pick", "run_cells",
           "save_figure", "study_main"]

FAILED = "failed"


def pick(values: Sequence[Any] | None, allowed: Sequence[Any], arg: str, what: str) -> list:
    """``allowed``, or the chosen ``values`` of them (``--problems``, ``--methods``)."""
    return list(allowed) if values is None else choose(list(values), list(allowed), arg, what)


def distinct(cells: Sequence[tuple], instance: Callable[[tuple], Any]) -> list[tuple]:
    """``cells`` with only the first of those whose ``instance(cell)`` (the sizes the cell
    really builds: a family may round n) is the same, so no instance is measured twice."""
    seen, out = set(), []
    for cell in cells:
        key = instance(cell)
        if key not in seen:
            seen.add(key)
            out.append(cell)
    return out


def cell_label(cell: Sequence[Any]) -> str:
    """A cell's name in ``data.csv``'s ``cell`` column: its fields joined by spaces."""
    return " ".join(map(str, cell))


def run_cells(name: str, out: Path | str, cells: Sequence[tuple], measure: Callable[..., list],
              columns: Sequence[str], *, plot: Callable[..., list[Path]],
              summary: Callable[..., Path], command: Sequence[str] | None = None,
              quick: bool = False, sizes: Sequence[int] | None = None,
              parts: tuple[str, Sequence[str]] | None = None,
              progress: bool = False) -> RunReport:
    """Measure ``measure(*cell)`` rows for every cell not yet in ``out/data.csv``, then
    draw the figures and the summary (``plot(None, out=out)``, ``summary(None, out=out)``).

    With ``parts = (column, values)`` a cell is complete once it has a row for every
    value of that column (say every method); ``measure(*cell, missing)`` then gets the
    values still missing.  An interrupted run (Ctrl-C) keeps every cell measured so far.
    A cell whose ``measure`` raises gets one row per missing part with status ``failed``
    and the error as its note (a rerun counts it as done, as a sweep's failed cell), and
    the run goes on; ``RunReport.failed`` lists every failed cell of the folder.
    """
    key = ("cell", parts[0]) if parts else ("cell",)
    cells = list(dict.fromkeys(cells))  # a size given twice (--sizes 1 1) is one cell
    with RunSession(name, out, layout=custom_layout(columns, key), quick=quick, sizes=sizes,
                    command=list(command) if command is not None else None) as session:
        done = session.writer.done
        todo = []
        for cell in cells:
            label = cell_label(cell)
            missing = [p for p in parts[1] if (label, str(p)) not in done] if parts else \
                ([] if (label,) in done else [None])
            if missing:
                todo.append((cell, label, missing))
        report = RunReport(name, session.out, cells_planned=len(cells),
                           cells_already_done=len(cells) - len(todo),
                           repaired_bytes=session.writer.repaired_bytes,
                           dropped_rows=session.writer.dropped_rows)
        session.start(len(cells))
        t0 = time.perf_counter()
        outcome = "failed"  # unless the loop ends or is interrupted: an exception propagates
        try:
            for k, (cell, label, missing) in enumerate(todo):
                stop.check()  # a signal's stop that a GC callback swallowed lands here
                try:
                    rows = [{"status": "ok", **r, "cell": label}
                            for r in (measure(*cell, missing) if parts else measure(*cell))]
                except (KeyboardInterrupt, SystemExit):
                    raise
                except Exception as exc:  # a broken cell is a failed row, never a stopped run
                    note = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
                    rows = [{"cell": label, **({parts[0]: p} if parts else {}),
                             "status": FAILED, "note": note} for p in missing]
                session.emit(rows)
                report.cells_measured += 1
                if progress:
                    failed = f" failed: {rows[0]['note']}" if rows and \
                        rows[0]["status"] == FAILED else ""
                    print(f"  [{k + 1}/{len(todo)}] {label}{failed}", file=sys.stderr,
                          flush=True)
            outcome = "completed"
        except KeyboardInterrupt:
            report.interrupted = True
            outcome = "interrupted"
        finally:
            report.elapsed_s = time.perf_counter() - t0
            session.finish(cells_measured=report.cells_measured, elapsed_s=report.elapsed_s,
                           outcome=outcome)
    out = session.out
    report.failed = failed_cells(session.writer.rows, parts[0] if parts else None)
    report.files = [out / DATA_FILE, out / ENV_FILE]
    if not report.interrupted and any(r["status"] != FAILED for r in session.writer.rows):
        report.files += [*plot(None, out=out), summary(None, out=out)]
    return report


def failed_cells(rows: Sequence[dict[str, str]], part: str | None = None) -> list[str]:
    """One description per failed cell (and part) of a custom study's rows: label and error."""
    out: dict[tuple, str] = {}
    for r in rows:
        if r.get("status") == FAILED:
            name = f"{r['cell']} {r[part]}" if part else r["cell"]
            out.setdefault((r["cell"], r[part] if part else ""), f"{name}: {r['note']}")
    return list(out.values())


def study_main(name: str, argv: list[str] | None = None) -> int:
    """``python studies/NAME.py [options]``: the same as ``dualtape study run NAME [options]``."""
    from dualtape.cli import main as cli

    return cli(["study", "run", name, *(sys.argv[1:] if argv is None else argv)])


def measured_quick(out: Path | str, study: str) -> bool:
    """Whether ``out``'s measurements were taken with ``--quick`` (a folder holds one
    profile only: ``RunSession`` refuses to mix them), so a summary states the settings used."""
    runs = read_env(Path(out), study)["runs"]  # the runs that kept rows (a killed one may not)
    return any(kept_rows(r) and r.get("profile") == "quick" for r in runs)


def load_csv(out: Path | str, study: str, ints: Sequence[str] = (),
             floats: Sequence[str] = (), key: Sequence[str] = ("cell",)) -> list[dict[str, Any]]:
    """The rows of ``out/data.csv`` with the named columns parsed as ints and floats
    (an empty float cell is ``None``): the complete measurements that succeeded only, as
    ``run_cells`` wrote them with this ``key`` (an interrupted run's torn line and
    unfinished group, and failed cells, are left out). A file without any is a
    ``StudyError`` that says to run the study."""
    path = Path(out) / DATA_FILE
    if not path.exists():
        raise StudyError(f"no results in '{out}' (no {DATA_FILE}); run "
                         f"`dualtape study run {study}` first", "--out")
    with path.open(encoding="utf-8", errors="replace") as fh:
        header = fh.readline().rstrip("\r\n").split(",")
    tail = len(CUSTOM_TAIL) if header[-len(CUSTOM_TAIL):] == list(CUSTOM_TAIL) else 2
    columns = header[3:-tail] if header[:3] == ["run_id", "study", "cell"] \
        and header[-2:] == ["host", "group_rows"] else header  # else read_rows refuses it
    every, _ = read_complete(path, study, custom_layout(columns, key))
    rows = [r for r in every if r["status"] != FAILED]
    if every and not rows:
        raise StudyError(f"every cell in '{out}' failed (see the note column of its "
                         f"{DATA_FILE}); nothing to plot or summarise", "--out")
    if not rows:
        raise StudyError(f"no complete measurements in '{out}' yet (an interrupted run?); "
                         f"run `dualtape study run {study} --out {out}` to measure them", "--out")
    for r in rows:
        r.update({k: int(r[k]) for k in ints})
        r.update({k: float(r[k]) if r.get(k) not in (None, "") else None for k in floats})
    return rows


