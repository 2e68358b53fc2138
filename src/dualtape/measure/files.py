"""Durable files: atomic replacement (temporary file, fsync, ``os.replace``) and appends.

A reader never sees half a file: :func:`write_atomic` writes a temporary file in the
target's folder, fsyncs it, moves it into place and fsyncs the folder, so after a crash
the path holds either the old contents or the new ones.  :func:`append_durable` adds text
to the end of a file and returns only once it is on disk.
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

Writer = Callable[[Path], None]


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _umask(folder: Path) -> int:
    """The process' umask, read without changing it: the mode a fresh file gets."""
    probe = folder / f".umask-{os.getpid()}-{uuid.uuid4().hex}"
    fd = os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o777)
    try:
        return 0o777 & ~os.fstat(fd).st_mode
    finally:
        os.close(fd)
        probe.unlink()


def write_atomic(path: Path | str, data: str | bytes | Writer) -> None:
    """Replace ``path`` with ``data`` in one step.

    ``data`` is text (written as UTF-8), bytes, or a callable ``write(tmp_path)`` that
    writes the file itself (``fig.savefig``, ``frame.to_csv``).  The parent folder is
    created if needed; on any error the temporary file is removed and ``path`` is
    left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        if callable(data):
            os.close(fd)
            data(tmp)
            fd = os.open(tmp, os.O_RDONLY)
            os.fsync(fd)
            os.close(fd)
        else:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data.encode("utf-8") if isinstance(data, str) else data)
                fh.flush()
                os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask(path.parent))  # mkstemp made it 0600; give what open() would
        try:
            os.replace(tmp, path)
        except OSError as exc:  # name the file the caller asked for, not the temporary one
            raise type(exc)(exc.errno, exc.strerror, str(path)) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def write_json(path: Path | str, data: Any) -> None:
    """Atomically write ``data`` as indented JSON (keys in insertion order, newline at end)."""
    write_atomic(path, json.dumps(data, indent=2, default=str) + "\n")


def append_durable(path: Path | str, text: str) -> None:
    """Append ``text`` to ``path`` (created if missing) and fsync before returning."""
    path = Path(path)
    existed = path.exists()
    with open(path, "a", encoding="utf-8", newline="") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    if not existed:
        _fsync_dir(path.parent)
