"""Output buffers for large temporaries, reused between calls.

glibc hands a freed block of a few hundred KiB back to the kernel once enough of the
heap top lies free; a process that has not yet freed a larger block then takes a page
fault for every 4 KiB of its next large array (docs/design.md, "A fresh process and the
C heap"). A transformation allocates the same large temporaries on every call, so the
kernels here take their outputs from a small pool instead: a buffer is reused once no
array uses its memory any more, which its reference count shows exactly (every view of
it holds a reference to it, however the view is itself held).

Only arrays of at least :data:`MIN_BYTES` come from the pool, which keeps at most
:data:`MAX_BYTES` of buffers; :func:`release` empties it and :func:`set_enabled` turns it
off (NumPy's own ``np.empty`` then). The pool is off on a free-threaded build, where
reference counts are not exact, and wherever ``sys.getrefcount`` is missing.
"""

from __future__ import annotations

import math
import sys
import sysconfig
import threading
from typing import Any

import numpy as np

__all__ = ["MAX_BYTES", "MIN_BYTES", "empty", "matmul", "outer", "pooled_bytes", "release", "set_enabled"]

#: Smallest array taken from the pool (glibc's first mmap threshold is 128 KiB).
MIN_BYTES = 256 * 2**10
#: Most memory the pool keeps in buffers, idle or in use.
MAX_BYTES = 64 * 2**20

_pool: list[np.ndarray] = []  # flat uint8 buffers, most recently taken last
_lock = threading.Lock()
_EXACT = hasattr(sys, "getrefcount") and not sysconfig.get_config_var("Py_GIL_DISABLED")
_enabled = _EXACT


def _refs(pool: list, k: int) -> int:
    """References to ``pool[k]``, counted the one way every check here counts them."""
    return sys.getrefcount(pool[k])


#: What :func:`_refs` reads for a buffer only its list holds, measured on this interpreter
#: (so a version that counts the call's argument differently cannot make a used buffer
#: look idle).
_IDLE = _refs([np.empty(1, np.uint8)], 0) if _EXACT else -1


def empty(shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """``np.empty(shape, dtype)``, from a pooled buffer when it is large."""
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    # a busy lock (a signal handler or finalizer on this thread, or another thread) skips
    # the pool for this one call rather than wait for itself
    if not MIN_BYTES <= nbytes <= MAX_BYTES or not _enabled or not _lock.acquire(blocking=False):
        return np.empty(shape, dtype)
    try:
        for k in range(len(_pool) - 1, -1, -1):  # the most recently used first: still in cache
            if _pool[k].nbytes == nbytes and _refs(_pool, k) == _IDLE:
                buf = _pool.pop(k)
                _pool.append(buf)
                return np.ndarray(shape, dtype, buf)
        buf = _new_buffer(nbytes)
    finally:
        _lock.release()
    return np.ndarray(shape, dtype, buf)


def matmul(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``np.matmul(x, y)``; a large float answer of a matrix ``y`` is written into a pooled
    buffer."""
    # the answer's bytes first: on small products (most calls) little else is read
    if type(x) is np.ndarray and type(y) is np.ndarray and x.ndim and y.ndim == 2 \
            and x.nbytes * y.shape[1] >= MIN_BYTES * x.shape[-1] \
            and x.shape[-1] == y.shape[0] and x.dtype == y.dtype and x.dtype.kind == "f" \
            and x.dtype.isnative:
        return np.matmul(x, y, out=empty(x.shape[:-1] + y.shape[1:], x.dtype))
    return np.matmul(x, y)


def outer(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``x @ y`` for a column ``x`` (m, 1) and a row ``y`` (1, n) of one float dtype, as the
    broadcast product (a GEMM of inner size one takes about twice as long)."""
    shape = (x.shape[0], y.shape[1])
    return np.multiply(x, y, out=empty(shape, x.dtype))


def _new_buffer(nbytes: int) -> np.ndarray:
    """A new buffer, kept in the pool if it fits (idle buffers of other sizes make room)."""
    buf = np.empty(nbytes, np.uint8)
    # glibc raises its mmap threshold to the largest block freed; a pooled block is never
    # freed, so one untouched block of its size is, and other temporaries of that size
    # stay on the heap as they would without the pool
    np.empty(nbytes, np.uint8)  # freed at once
    held = sum(b.nbytes for b in _pool)
    k = 0
    while held + nbytes > MAX_BYTES and k < len(_pool):
        if _refs(_pool, k) == _IDLE:
            held -= _pool.pop(k).nbytes
        else:
            k += 1
    if held + nbytes > MAX_BYTES:  # the pool is full of buffers in use: forget the oldest
        while _pool and held + nbytes > MAX_BYTES:
            held -= _pool.pop(0).nbytes
    _pool.append(buf)
    return buf


def pooled_bytes() -> int:
    """Bytes the pool holds in buffers, idle or in use."""
    with _lock:
        return sum(b.nbytes for b in _pool)


def release() -> None:
    """Forget every pooled buffer (idle ones are freed; arrays in use keep theirs)."""
    with _lock:
        _pool.clear()


def set_enabled(on: bool) -> bool:
    """Turn the pool on or off; returns the previous setting."""
    global _enabled
    was, _enabled = _enabled, bool(on) and _EXACT
    if not _enabled:
        release()
    return was
