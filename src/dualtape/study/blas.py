"""Pin NumPy's OpenBLAS to a number of threads for the length of a measurement.

On a small shared machine a multi-threaded GEMM whose helper thread is descheduled can
take ten times its single-threaded time, at sizes that depend on the load: a study
about which *method* is faster then measures the scheduler.  ``blas_threads(1)`` asks
the OpenBLAS that NumPy loaded (found in this process's memory map) to use one thread,
and restores the previous count on exit.  Without OpenBLAS it does nothing and yields
None.
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_PREFIXES = ("scipy_openblas", "openblas")
_SUFFIXES = ("64_", "")


def _openblas() -> tuple[object, object] | None:
    """(get, set) thread-count functions of the loaded OpenBLAS, or None."""
    try:
        maps = Path("/proc/self/maps").read_text().splitlines()
    except OSError:
        return None
    libs = sorted({line.split()[-1] for line in maps if line.count(" ") >= 5
                   and "openblas" in Path(line.split()[-1]).name.lower()
                   and ".so" in Path(line.split()[-1]).name})
    for lib in libs:
        try:
            handle = ctypes.CDLL(lib)
        except OSError:
            continue
        for prefix in _PREFIXES:
            for suffix in _SUFFIXES:
                get = getattr(handle, f"{prefix}_get_num_threads{suffix}", None)
                put = getattr(handle, f"{prefix}_set_num_threads{suffix}", None)
                if get is not None and put is not None:
                    get.restype = ctypes.c_int
                    put.argtypes = [ctypes.c_int]
                    return get, put
    return None


@contextmanager
def blas_threads(n: int) -> Iterator[int | None]:
    """Run the block with OpenBLAS on ``n`` threads; yields the previous count (or None)."""
    import numpy  # noqa: F401  (loads OpenBLAS, so that it is in the memory map)

    fns = _openblas()
    if fns is None:
        yield None
        return
    get, put = fns
    before = int(get())  # type: ignore[operator]
    put(int(n))  # type: ignore[operator]
    try:
        yield before
    finally:
        put(before)  # type: ignore[operator]
