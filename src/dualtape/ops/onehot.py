"""A cotangent with one nonzero per row: what ``max``/``min`` along the last axis give back.

The VJP of ``min(d, axis=-1)`` on an (n, k) array is zero except at each row's minimiser.
Written out, it is an (n, k) array that every later rule reads in full: k-means' backward
pass spent most of its time negating, scaling and summing zeros, and multiplying them in
a GEMM. :class:`OneHot` keeps the n positions and values instead. Only the reverse sweep
(:func:`dualtape.reverse.backward`) sees one, and only primitives whose rules read it
(``Primitive.takes_onehot``: ``add``, ``sub``, ``mul``, ``matmul``); every other rule gets
the dense array, as do the results.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["OneHot", "dense", "maximisers"]


class OneHot:
    """An (n, k) array that is zero except ``vals[i]`` at ``(i, cols[i])``."""

    __slots__ = ("shape", "cols", "vals")

    def __init__(self, shape: tuple[int, int], cols: np.ndarray, vals: np.ndarray) -> None:
        self.shape = shape
        self.cols = cols  # (n,) ints
        self.vals = vals  # (n,) floats

    @property
    def ndim(self) -> int:
        return 2

    @property
    def dtype(self) -> np.dtype:
        return self.vals.dtype

    def dense(self) -> np.ndarray:
        out = np.zeros(self.shape, self.vals.dtype)
        out.reshape(-1)[self._flat()] = self.vals
        return out

    def _flat(self) -> np.ndarray:
        n, k = self.shape
        return np.arange(0, n * k, k) + self.cols

    def scaled(self, s: Any) -> OneHot | None:
        """``self * s`` for a plain scalar or a plain array that broadcasts to the shape;
        ``None`` for anything else."""
        if type(s) is float or (type(s) in _SCALARS and np.ndim(s) == 0):
            # the zeros times an infinite or NaN factor are NaN, as in the dense product
            return OneHot(self.shape, self.cols, self.vals * s) if np.isfinite(s) else None
        if type(s) is np.ndarray and s.ndim <= 2 and \
                np.broadcast_shapes(s.shape, self.shape) == self.shape and np.isfinite(s).all():
            picked = np.broadcast_to(s, self.shape)[np.arange(self.shape[0]), self.cols]
            return OneHot(self.shape, self.cols, self.vals * picked)
        return None

    def __neg__(self) -> OneHot:
        return OneHot(self.shape, self.cols, -self.vals)

    def summed_to(self, target: tuple[int, ...]) -> Any:
        """The sum over broadcast axes down to ``target`` (``unbroadcast``'s job), or
        ``None`` for a target it does not know."""
        n, k = self.shape
        if target == self.shape:
            return self
        if target in ((k,), (1, k)):  # down the columns: each row's value lands in its column
            out = np.bincount(self.cols, self.vals, minlength=k)
            return out.astype(self.vals.dtype, copy=False).reshape(target)
        if target == (n, 1):  # along each row: its one value
            return self.vals.reshape(target)
        if target in ((), (1,), (1, 1)):
            return np.add.reduce(self.vals).reshape(target)
        return None

    def t_matmul(self, a: np.ndarray) -> np.ndarray | None:
        """``a.T @ self`` for a plain (n, d) matrix ``a``: row i of ``a``, scaled by its
        value, lands in column ``cols[i]`` of the (d, k) answer; ``None`` for anything else."""
        if type(a) is not np.ndarray or a.ndim != 2 or not np.isfinite(a).all():
            return None  # (the zeros times inf or NaN are NaN in the dense product)
        k, d = self.shape[1], a.shape[1]
        at = (self.cols * d)[:, None] + np.arange(d)  # (n, d) places in the answer's (k, d)
        weights = a * self.vals[:, None]
        out = np.bincount(at.reshape(-1), weights.reshape(-1), minlength=k * d)
        return out.astype(weights.dtype, copy=False).reshape(k, d).T

    def added_to(self, c: np.ndarray) -> np.ndarray:
        """``self + c`` for a plain array ``c`` of the same shape: one copy of ``c``."""
        out = c.astype(np.result_type(c, self.vals), copy=True)
        out.reshape(-1)[self._flat()] += self.vals
        return out

    def matmul_t(self, b: np.ndarray) -> np.ndarray | None:
        """``self @ b.T`` for a plain (p, k) matrix ``b``: column ``cols[i]`` of ``b``, scaled;
        ``None`` for anything else."""
        if type(b) is not np.ndarray or b.ndim != 2 or not np.isfinite(b).all():
            return None  # (the zeros times inf or NaN are NaN in the dense product)
        return b.T[self.cols] * self.vals[:, None]


_SCALARS = frozenset({float, int, np.float64, np.float32, np.ndarray})


def maximisers(g: np.ndarray, hit: np.ndarray, dtype: np.dtype) -> OneHot | None:
    """``g`` (one value per row) at the one True of each row of the 2-D mask ``hit``, or
    ``None`` if a row has ties or none (the dense rule then shares them)."""
    n, k = hit.shape
    at = np.flatnonzero(hit)
    if at.size != n:
        return None
    cols = at - np.arange(0, n * k, k)
    if n and (cols.min() < 0 or cols.max() >= k):  # two in one row, none in another
        return None
    return OneHot((n, k), cols, g.astype(dtype, copy=False).reshape(n))


def dense(c: Any) -> Any:
    """``c`` as an array if it is a :class:`OneHot`."""
    return c.dense() if type(c) is OneHot else c
