"""The results folder: a tidy ``data.csv`` appended row batch by row batch.

``data.csv`` has one row per cell × measurement group × measure × repeat, with the
host that measured it (a file written before that column existed is upgraded in
place, atomically, when a run appends to it).  A
batch (one group of one cell) is written, flushed and fsync'ed as soon as it is
measured, so an interruption loses at most the group being measured; a torn
last line left by a crash is dropped on the next run.  Every other file
(``env.json``, plots, ``summary.md``) is replaced atomically through a
temporary file and ``os.replace``.

Before anything is written, an existing ``data.csv`` is checked: a file whose
header is not ours, whose rows do not parse, or that belongs to another study
is refused with a clear message and left exactly as it was.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..measure.files import append_durable, write_atomic, write_json
from .spec import StudyError

__all__ = ["COLUMNS", "DATA_FILE", "ENV_FILE", "HEADER", "ResultsWriter", "format_value",
           "prepare_dir", "read_json", "read_rows", "row_key", "write_atomic", "write_json"]

COLUMNS = (
    "run_id", "study", "sweep", "problem", "method", "engine", "mode",
    "n", "m", "depth", "group", "measure", "repeat", "value", "unit", "calls",
    "status", "note", "host",
)
HEADER = ",".join(COLUMNS)
#: The columns before rows recorded their host (files written before the cluster runs).
LEGACY_COLUMNS = COLUMNS[:-1]
LEGACY_HEADER = ",".join(LEGACY_COLUMNS)
DATA_FILE = "data.csv"
ENV_FILE = "env.json"
KEY_COLUMNS = ("sweep", "problem", "method", "n", "m", "depth", "group")


def format_value(v: Any) -> str:
    """Exact text for a number (floats round-trip through ``repr``)."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return str(int(v))
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    return str(v)


def prepare_dir(out: Path) -> Path:
    """Create ``out`` if needed and prove it writable, or raise (``--out``)."""
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=out)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        raise StudyError(f"cannot write to '{out}': {reason}", "--out") from None
    return out


def read_rows(path: Path, study: str | None = None) -> tuple[list[dict[str, str]], int]:
    """Parse ``data.csv``: (rows, byte offset where a torn last line starts or -1).

    Raises ``StudyError`` when the file is not a dualtape results file, is
    corrupt, or (with ``study``) holds another study's rows.
    """
    path = Path(path)
    raw = path.read_bytes()
    where = f"{path}"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise StudyError("not a dualtape results file (not UTF-8 text); "
                         "move it away or choose another --out", where) from None
    first, _, _ = text.partition("\n")
    columns = LEGACY_COLUMNS if first.rstrip("\r") == LEGACY_HEADER else COLUMNS
    if first.rstrip("\r") not in (HEADER, LEGACY_HEADER):
        raise StudyError(
            "not a dualtape results file (unexpected header); it was left untouched: "
            "move it away or choose another --out", where)
    torn = -1
    body = text[len(first) + 1:]
    if text and not text.endswith("\n"):
        cut = text.rfind("\n") + 1
        torn = len(text[:cut].encode("utf-8"))
        body = text[len(first) + 1:cut] if cut > len(first) else ""
    rows = []
    for lineno, fields in enumerate(csv.reader(io.StringIO(body)), start=2):
        if len(fields) != len(columns):
            raise StudyError(
                f"line {lineno} has {len(fields)} fields, expected {len(columns)}: the file is "
                "corrupt and was left untouched; move it away or choose another --out", where)
        row = {"host": "", **dict(zip(columns, fields, strict=True))}
        for col in ("n", "m", "depth"):
            if not row[col].isdigit():
                raise StudyError(f"line {lineno}: {col}={row[col]!r} is not a size; the file is "
                                 "corrupt and was left untouched", where)
        if study is not None and row["study"] != study:
            raise StudyError(
                f"holds results of study {row['study']!r}, not {study!r}; it was left "
                "untouched: choose another --out", where)
        rows.append(row)
    return rows, torn


def row_key(row: Mapping[str, Any]) -> tuple[str, ...]:
    """The identity of a measurement group: sweep, problem, method, n, m, depth, group."""
    return tuple(str(row[c]) for c in KEY_COLUMNS)


class ResultsWriter:
    """Appends row batches to ``data.csv``, durable once ``write`` returns."""

    def __init__(self, path: Path, study: str) -> None:
        self.path = Path(path)
        self.study = study
        self.rows: list[dict[str, str]] = []
        self.repaired_bytes = 0
        if self.path.exists():
            self.rows, torn = read_rows(self.path, study)
            if torn >= 0:
                self.repaired_bytes = self.path.stat().st_size - torn
                with open(self.path, "r+b") as fh:
                    fh.truncate(torn)
                    os.fsync(fh.fileno())
            if self.path.read_bytes().partition(b"\n")[0].rstrip(b"\r") != HEADER.encode():
                write_atomic(self.path, _csv_text(self.rows, header=True))  # add the host column
        self.done = {row_key(r) for r in self.rows}

    def write(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Append one batch and fsync it."""
        rows = [{c: format_value(r.get(c)) for c in COLUMNS} for r in rows]
        if not rows:
            return
        new = not self.path.exists() or self.path.stat().st_size == 0
        append_durable(self.path, _csv_text(rows, header=new))
        self.rows.extend(rows)
        self.done.update(row_key(r) for r in rows)


def _csv_text(rows: Iterable[Mapping[str, str]], header: bool) -> str:
    buf = io.StringIO()
    if header:
        buf.write(HEADER + "\n")
    writer = csv.writer(buf, lineterminator="\n")
    for r in rows:
        writer.writerow([r[c] for c in COLUMNS])
    return buf.getvalue()


def read_json(path: Path) -> dict[str, Any] | None:
    """A results folder's JSON file, or None when absent; refuses a corrupt one."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise StudyError("is not valid JSON; it was left untouched: move it away or choose "
                         "another --out", str(path)) from None
    if not isinstance(data, dict):
        raise StudyError("is not a dualtape env file; it was left untouched", str(path))
    return data
