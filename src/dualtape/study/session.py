"""One run into a results folder: the bookkeeping every study shares.

A ``RunSession`` prepares the folder, locks it against a second run, opens
``data.csv`` for appending (dropping a torn line and incomplete groups, see
``.storage``), and records the run in ``env.json``: an entry marked ``running``
when measuring starts and completed, interrupted or failed when it ends.  The
sweep studies (``.sweep.execute``) and the studies that measure something of their
own (``.custom.run_cells``) both measure through it, group by group.
"""

from __future__ import annotations

import datetime as _dt
from contextlib import ExitStack, suppress
from pathlib import Path
from typing import Any

from ..measure.env import environment, host, load_average
from .spec import StudyError
from .storage import (
    DATA_FILE,
    ENV_FILE,
    LOCK_FILE,
    TIDY,
    Layout,
    ResultsWriter,
    lock_folder,
    prepare_dir,
    read_env,
    write_json,
)

__all__ = ["KILLED", "RunSession", "kept_rows", "now"]

#: The outcome of a run that died without recording one (found by a later run or summary).
KILLED = "killed"


def now() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


class RunSession:
    """A locked results folder with its writer and its ``env.json`` run entry.

    Use as a context manager: ``with RunSession(name, out) as s: ... s.start(cells);
    s.emit(rows) ...; s.finish(...)``.  Leaving the block releases the lock; an entry
    that was started but not finished is marked ``failed``.
    """

    def __init__(self, study: str, out: Path | str, *, layout: Layout = TIDY,
                 quick: bool = False, sizes: Any = None,
                 command: list[str] | None = None) -> None:
        self.study = study
        self.out = Path(out)
        self.layout = layout
        self.quick = quick
        self.sizes = list(sizes) if sizes is not None else None
        self.command = command
        self.run_id = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        self.entry: dict[str, Any] | None = None
        self.here = host()
        self._stack = ExitStack()

    def __enter__(self) -> RunSession:
        self._created = not self.out.exists()
        self.out = prepare_dir(self.out)
        with ExitStack() as stack:
            stack.enter_context(lock_folder(self.out))
            self.writer = ResultsWriter(self.out / DATA_FILE, self.study, self.layout)
            self.env_doc = read_env(self.out, self.study)
            _close_killed(self.env_doc, self.writer.rows)
            self._check_profile()
            self._stack = stack.pop_all()
        return self

    def _check_profile(self) -> None:
        """Refuse to add measurements of another profile (``--quick`` or not) to the rows
        already here: a cell already measured would not be measured again, so the folder
        would mix quick timings with default ones without saying so."""
        mine = "quick" if self.quick else "default"
        kept = {r["run_id"] for r in self.writer.rows}
        for entry in self.env_doc["runs"]:
            if isinstance(entry, dict) and entry.get("run_id") in kept \
                    and entry.get("profile", mine) != mine:
                other = entry["profile"]
                raise StudyError(f"'{self.out}' holds {other} measurements (run "
                                 f"{entry['run_id']}), and a {mine} run would mix them in: run "
                                 f"{'with' if other == 'quick' else 'without'} --quick, or "
                                 "choose another --out", "--out")

    def __exit__(self, *exc: Any) -> None:
        try:
            if self.entry is not None and self.entry["outcome"] == "running":
                self.finish(cells_measured=self.entry["cells_measured"], elapsed_s=None,
                            outcome="failed")
        finally:
            if self._created and self.entry is None:  # refused before it began: leave no folder
                (self.out / LOCK_FILE).unlink(missing_ok=True)
                with suppress(OSError):
                    self.out.rmdir()
            self._stack.close()

    def start(self, cells_planned: int) -> None:
        """Add this run's entry (``running``) to ``env.json``."""
        self.entry = {"run_id": self.run_id, "started": now(), "finished": None,
                      "elapsed_s": None, "outcome": "running",
                      "profile": "quick" if self.quick else "default", "sizes": self.sizes,
                      "cells_planned": cells_planned, "cells_measured": 0,
                      "environment": environment(self.command)}
        self.env_doc["runs"].append(self.entry)
        write_json(self.out / ENV_FILE, self.env_doc)

    def emit(self, rows: list[dict[str, Any]]) -> None:
        """Append one batch of whole groups, stamped with the run, the study and the host."""
        for r in rows:
            r["run_id"], r["study"] = self.run_id, self.study
            r.setdefault("host", self.here)
        self.writer.write(rows)

    def finish(self, *, cells_measured: int, elapsed_s: float | None, outcome: str,
               **extra: Any) -> None:
        """Close this run's entry in ``env.json`` with its outcome."""
        assert self.entry is not None
        self.entry["environment"]["load_average_at_end"] = load_average()
        self.entry.update(extra)
        self.entry.update(finished=now(), outcome=outcome, cells_measured=cells_measured,
                          elapsed_s=round(elapsed_s, 3) if elapsed_s is not None else None)
        write_json(self.out / ENV_FILE, self.env_doc)


def kept_rows(entry: Any) -> bool:
    """Whether a run entry of ``env.json`` left rows in ``data.csv`` (measured cells, or the
    rows a killed run kept)."""
    return isinstance(entry, dict) and bool(entry.get("cells_measured") or entry.get("rows_kept"))


def _close_killed(env_doc: dict[str, Any], rows: list[dict[str, str]]) -> None:
    """Mark ``killed`` the entries still ``running``: under this run's lock no other run
    is alive, so theirs died without closing (SIGKILL, a power cut); count the rows they kept.
    ``cells_measured`` they never wrote, which the rows cannot tell: a cell's groups may be
    only partly there (``null``, not the 0 the entry started with)."""
    for entry in env_doc["runs"]:
        if isinstance(entry, dict) and entry.get("outcome") == "running":
            entry["outcome"] = KILLED
            entry["rows_kept"] = sum(r["run_id"] == entry.get("run_id") for r in rows)
            entry["cells_measured"] = None
