"""Atomic file writes: a temporary file in the same folder, then ``os.replace``."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd


def write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` on a temporary path next to ``path``, then move it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> None:
    """Write text atomically."""
    write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (indented, keys in insertion order, trailing newline)."""
    write_text(path, json.dumps(data, indent=2, default=str) + "\n")


def write_csv(path: Path, frame: pd.DataFrame) -> None:
    """Write a data frame as CSV atomically, without the index."""
    write_text(path, frame.to_csv(index=False, lineterminator="\n"))
