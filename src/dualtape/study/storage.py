"""The results folder: a tidy ``data.csv`` appended row batch by row batch.

``data.csv`` has one row per cell × measurement group × measure × repeat, with the
host that measured it and the number of rows of its group (``group_rows``); a file
written before those columns existed is upgraded in place, atomically, when a run
appends to it.  A batch (one group of one cell) is written, flushed and fsync'ed as
soon as it is measured, so an interruption loses at most the group being measured:
a torn last line left by a crash is dropped on the next run, and so are the rows of
a group that has fewer rows than its ``group_rows`` (it is measured again).  Studies
with their own measurements use the same file and rules with their own columns
(``custom_layout``).  Every other file (``env.json``, plots, ``summary.md``) is
replaced atomically through a temporary file and ``os.replace``.

A run holds an exclusive lock on the folder's ``.lock`` file (``lock_folder``), so a
second run into the same folder is refused; the kernel releases the lock when the
process ends, however it ends.

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
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # not on Windows: runs there are not locked
    fcntl = None  # type: ignore[assignment]

from ..measure.files import append_durable, write_atomic, write_json
from .spec import StudyError

__all__ = ["COLUMNS", "CUSTOM_TAIL", "DATA_FILE", "ENV_FILE", "HEADER", "LOCK_FILE", "TIDY", "Layout",
           "ResultsWriter", "check_owner", "complete_groups", "custom_layout", "format_value",
           "lock_folder", "prepare_dir", "read_complete", "read_env", "read_json", "read_rows",
           "row_key", "run_alive", "write_atomic", "write_json"]

COLUMNS = (
    "run_id", "study", "sweep", "problem", "method", "engine", "mode",
    "n", "m", "depth", "group", "measure", "repeat", "value", "unit", "calls",
    "status", "note", "host", "group_rows",
)
HEADER = ",".join(COLUMNS)
#: The columns before rows recorded their host (files written before the cluster runs).
LEGACY_COLUMNS = COLUMNS[:-2]
LEGACY_HEADER = ",".join(LEGACY_COLUMNS)
DATA_FILE = "data.csv"
ENV_FILE = "env.json"
LOCK_FILE = ".lock"
KEY_COLUMNS = ("sweep", "problem", "method", "n", "m", "depth", "group")
#: The columns after a custom study's own (``custom_layout``).
CUSTOM_TAIL = ("status", "note", "host", "group_rows")


@dataclass(frozen=True)
class Layout:
    """The columns of a ``data.csv``, the columns naming a measurement group, the
    earlier column lists still accepted (upgraded on append), the size columns and the
    number columns (empty or a float)."""

    columns: tuple[str, ...]
    key: tuple[str, ...]
    older: tuple[tuple[str, ...], ...] = ()
    sizes: tuple[str, ...] = ()
    numbers: tuple[str, ...] = ()


#: The sweep studies' tidy layout (older files: without ``host``, without ``group_rows``).
TIDY = Layout(COLUMNS, KEY_COLUMNS, (LEGACY_COLUMNS, COLUMNS[:-1]), ("n", "m", "depth"),
              ("value", "calls"))


def custom_layout(columns: Sequence[str], key: Sequence[str] = ("cell",)) -> Layout:
    """The layout of a study with its own ``columns``: theirs, framed by the run, the
    study, the cell (its label), the status (``ok`` or ``failed``) and note (the error
    of a failed cell), the host and the group's row count.  Files written before the
    status and note columns are read (their rows are ``ok``) and upgraded on append."""
    return Layout(("run_id", "study", "cell", *columns, *CUSTOM_TAIL), tuple(key),
                  (("run_id", "study", "cell", *columns, "host", "group_rows"),))


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


@contextmanager
def lock_folder(out: Path) -> Iterator[None]:
    """Hold ``out/.lock`` exclusively for the block, or refuse at once (``--out``)."""
    if fcntl is None:
        yield
        return
    with open(Path(out) / LOCK_FILE, "a+", encoding="utf-8") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "?"
            raise StudyError(f"another run (pid {holder}) is writing to '{out}'; wait for it "
                             "to finish or choose another --out", "--out") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def run_alive(out: Path) -> bool:
    """Whether a run holds ``out``'s lock now (without ``fcntl``: assumed so)."""
    if fcntl is None:
        return True
    try:
        fd = os.open(Path(out) / LOCK_FILE, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:  # held (BlockingIOError), or a filesystem without locks: cannot tell
        return True
    finally:
        os.close(fd)  # closing drops a lock just taken
    return False


def read_env(out: Path, study: str) -> dict[str, Any]:
    """``out/env.json`` (or a fresh one) after checking it belongs to ``study``."""
    env_doc = read_json(Path(out) / ENV_FILE) or {"study": study, "runs": []}
    if env_doc.get("study") not in (None, study) or not isinstance(env_doc.get("runs"), list):
        raise StudyError(f"belongs to study {env_doc.get('study')!r}, not {study!r}; it was "
                         "left untouched: choose another --out", str(Path(out) / ENV_FILE))
    return env_doc


def check_owner(out: Path, study: str) -> None:
    """Refuse a results folder whose ``env.json`` or ``data.csv`` is another study's."""
    env_doc = read_json(Path(out) / ENV_FILE)
    if env_doc is not None and env_doc.get("study") not in (None, study):
        raise StudyError(f"belongs to study {env_doc.get('study')!r}, not {study!r}; it was "
                         "left untouched: choose another --out", str(Path(out) / ENV_FILE))
    path = Path(out) / DATA_FILE
    if path.exists():
        with path.open(newline="", encoding="utf-8", errors="replace") as fh:
            first = next(csv.DictReader(fh), None)
        whole = first is not None and None not in first and None not in first.values()
        # a row of the wrong length is corrupt, not another study's: read_rows says so
        if whole and first.get("study") not in (None, study):
            raise StudyError(f"holds results of study {first['study']!r}, not {study!r}; it "
                             "was left untouched: choose another --out", str(path))


def read_rows(path: Path, study: str | None = None,
              layout: Layout = TIDY) -> tuple[list[dict[str, str]], int]:
    """Parse ``data.csv``: (rows, byte offset where a torn last line starts or -1).

    Raises ``StudyError`` when the file is not a dualtape results file, is
    corrupt, or (with ``study``) holds another study's rows.  Rows of an older
    layout get the missing columns, empty.
    """
    path = Path(path)
    raw = path.read_bytes()
    where = f"{path}"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise StudyError("not a dualtape results file (not UTF-8 text); "
                         "move it away or choose another --out", where) from None
    first, newline, _ = text.partition("\n")
    known = {",".join(c): c for c in (layout.columns, *layout.older)}
    if not newline and ",".join(layout.columns).startswith(first):
        return [], 0  # empty, or a header cut short by a crash: torn, as a torn last line
    columns = known.get(first.rstrip("\r"))
    if columns is None:
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
        row = {**dict.fromkeys(layout.columns, ""), **dict(zip(columns, fields, strict=True))}
        for col in layout.sizes:
            if not row[col].isdigit():
                raise StudyError(f"line {lineno}: {col}={row[col]!r} is not a size; the file is "
                                 "corrupt and was left untouched", where)
        for col in layout.numbers:
            if row[col] and not _is_float(row[col]):
                raise StudyError(f"line {lineno}: {col}={row[col]!r} is not a number; the file "
                                 "is corrupt and was left untouched", where)
        if row["group_rows"] and not row["group_rows"].isdigit():
            raise StudyError(f"line {lineno}: group_rows={row['group_rows']!r} is not a count; "
                             "the file is corrupt and was left untouched", where)
        if study is not None and row["study"] != study:
            raise StudyError(
                f"holds results of study {row['study']!r}, not {study!r}; it was left "
                "untouched: choose another --out", where)
        rows.append(row)
    return rows, torn


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def complete_groups(rows: list[dict[str, str]], key: Sequence[str]) -> list[dict[str, str]]:
    """The rows whose group (``key``) has all of its ``group_rows`` rows; an interrupted run
    leaves the others, which the next run measures again (an older row, without the count,
    counts as complete)."""
    counts = Counter(row_key(r, key) for r in rows)
    return [r for r in rows if counts[row_key(r, key)] >= int(r["group_rows"] or 0)]


def read_complete(path: Path, study: str | None = None,
                  layout: Layout = TIDY) -> tuple[list[dict[str, str]], int]:
    """The rows of ``data.csv``'s complete groups, for reading only (the file is left as it
    is): a torn last line and the rows of incomplete groups are left out, as the next run
    drops them. Returns the rows and the number of rows left out."""
    rows, _ = read_rows(path, study, layout)
    kept = complete_groups(rows, layout.key)
    return kept, len(rows) - len(kept)


def row_key(row: Mapping[str, Any], key: Sequence[str] = KEY_COLUMNS) -> tuple[str, ...]:
    """The identity of a measurement group: sweep, problem, method, n, m, depth, group."""
    return tuple(str(row[c]) for c in key)


class ResultsWriter:
    """Appends row batches to ``data.csv``, durable once ``write`` returns.

    On opening, a torn last line is cut off and the rows of incomplete groups
    (fewer rows than their ``group_rows``) are dropped, so ``done`` holds only
    groups that are complete and a rerun measures the others again, once.
    """

    def __init__(self, path: Path, study: str, layout: Layout = TIDY) -> None:
        self.path = Path(path)
        self.study = study
        self.layout = layout
        self.rows: list[dict[str, str]] = []
        self.repaired_bytes = 0
        self.dropped_rows = 0
        if self.path.exists():
            self.rows, torn = read_rows(self.path, study, layout)
            if torn >= 0:
                self.repaired_bytes = self.path.stat().st_size - torn
                with open(self.path, "r+b") as fh:
                    fh.truncate(torn)
                    os.fsync(fh.fileno())
            counts = Counter(self._key(r) for r in self.rows)
            for r in self.rows:  # rows of an older layout: their groups count as complete
                r["group_rows"] = r["group_rows"] or str(counts[self._key(r)])
            kept = complete_groups(self.rows, layout.key)
            self.dropped_rows = len(self.rows) - len(kept)
            self.rows = kept
            header = ",".join(layout.columns).encode()
            if self.dropped_rows or \
                    self.path.read_bytes().partition(b"\n")[0].rstrip(b"\r") != header:
                write_atomic(self.path, self._csv_text(self.rows, header=True))
        self.done = {self._key(r) for r in self.rows}

    def _key(self, row: Mapping[str, Any]) -> tuple[str, ...]:
        return row_key(row, self.layout.key)

    def write(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Append one batch (whole groups) and fsync it; each row records its group's size."""
        rows = [{c: format_value(r.get(c)) for c in self.layout.columns} for r in rows]
        if not rows:
            return
        counts = Counter(self._key(r) for r in rows)
        for r in rows:
            r["group_rows"] = r["group_rows"] or str(counts[self._key(r)])
        new = not self.path.exists() or self.path.stat().st_size == 0
        append_durable(self.path, self._csv_text(rows, header=new))
        self.rows.extend(rows)
        self.done.update(self._key(r) for r in rows)

    def _csv_text(self, rows: Iterable[Mapping[str, str]], header: bool) -> str:
        buf = io.StringIO()
        if header:
            buf.write(",".join(self.layout.columns) + "\n")
        writer = csv.writer(buf, lineterminator="\n")
        for r in rows:
            writer.writerow([r[c] for c in self.layout.columns])
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
