"""The shared tail of studies that measure something of their own (not a Jacobian sweep).

Such a study writes its rows as CSV text, then the same files as every study: ``data.csv``
and ``env.json`` (atomically), its figures (PNG and SVG) and ``summary.md``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from ..measure.env import environment
from .plots import save_figure
from .storage import write_atomic, write_json
from .sweep import RunReport

__all__ = ["finish_run", "save_figure", "study_main"]


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
