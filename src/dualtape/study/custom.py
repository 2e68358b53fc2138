"""The shared tail of studies that measure something of their own (not a Jacobian sweep).

Such a study writes its rows as CSV text, then the same files as every study: ``data.csv``
and ``env.json`` (atomically), its figures (PNG and SVG) and ``summary.md``.
"""

from __future__ import annotations

import csv
import io
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from ..measure.env import environment
from .plots import save_figure
from .storage import write_atomic, write_json
from .sweep import RunReport

__all__ = ["csv_text", "finish_run", "load_csv", "run_cells", "save_figure", "study_main"]


def finish_run(name: str, out: Path, csv_text: str, *, cells: int, started: float,
               command: Sequence[str] | None, plot: Callable[..., list[Path]],
               summary: Callable[..., Path]) -> RunReport:
    """Write ``data.csv`` and ``env.json``, draw the figures and the summary; report the run.

    ``started`` is the run's ``time.perf_counter()`` at its start; ``plot`` and ``summary``
    are the study's own, called as ``plot(None, out=out)`` and ``summary(None, out=out)``.
    """
    write_atomic(out / "data.csv", csv_text)
    write_json(out / "env.json", environment(list(command) if command is not None else None))
    files = [out / "data.csv", out / "env.json", *plot(None, out=out), summary(None, out=out)]
    return RunReport(study=name, out=out, cells_planned=cells, cells_measured=cells,
                     elapsed_s=time.perf_counter() - started, files=files)


def study_main(name: str, argv: list[str] | None = None) -> int:
    """``python studies/NAME.py [options]``: the same as ``dualtape study run NAME [options]``."""
    from dualtape.cli import main as cli

    return cli(["study", "run", name, *(sys.argv[1:] if argv is None else argv)])


def csv_text(rows: Iterable[dict[str, Any]], columns: Sequence[str]) -> str:
    """``rows`` as CSV text with a header; floats written exactly (``repr``)."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: (repr(v) if isinstance(v, float) else v) for k, v in r.items()})
    return buf.getvalue()


def load_csv(out: Path | str, study: str, ints: Sequence[str] = (),
             floats: Sequence[str] = ()) -> list[dict[str, Any]]:
    """The rows of ``out/data.csv`` with the named columns parsed as ints and floats
    (an empty float cell is ``None``)."""
    path = Path(out) / "data.csv"
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: run `dualtape study run {study}` first")
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        r.update({k: int(r[k]) for k in ints})
        r.update({k: float(r[k]) if r.get(k) not in (None, "") else None for k in floats})
    return rows


def run_cells(name: str, out: Path | str, cells: Sequence[tuple], measure: Callable[..., list],
              columns: Sequence[str], *, command: Sequence[str] | None,
              plot: Callable[..., list[Path]], summary: Callable[..., Path],
              progress: bool = False) -> RunReport:
    """Measure ``measure(*cell)`` rows for every cell, then write everything
    :func:`finish_run` writes (``data.csv`` from ``columns``)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    rows: list[dict[str, Any]] = []
    for k, cell in enumerate(cells):
        rows += measure(*cell)
        if progress:
            print(f"  [{k + 1}/{len(cells)}] {' '.join(map(str, cell[:3]))}", file=sys.stderr)
    return finish_run(name, out, csv_text(rows, columns), cells=len(cells), started=t0,
                      command=command, plot=plot, summary=summary)
