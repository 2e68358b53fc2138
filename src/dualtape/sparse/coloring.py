"""Colouring a sparsity pattern, so that one pass per colour gives the whole Jacobian.

Forward mode seeds one tangent per colour of the *columns*: two columns may share
a colour when no row has a nonzero in both (they are structurally orthogonal), so
each entry of the compressed product ``J @ S`` is one Jacobian entry.  That is a
distance-2 colouring of the bipartite row/column graph, the same as a distance-1
colouring of the column intersection graph.  Reverse mode does the same for rows.

The ordering is **largest-first**: vertices by decreasing degree in the
intersection graph (ties by index), then greedy first-fit.  The degrees are
computed exactly, in blocks of columns so that a dense row never builds the whole
n x n intersection graph at once.

Hessians use a **star colouring** (Gebremedhin, Manne and Pothen, SIAM Review 2005)
of the adjacency graph of the symmetric pattern, with **direct recovery**: a
distance-1 colouring in which every path on four vertices uses at least three
colours, so each entry ``H[i, j]`` is read off a single compressed Hessian-vector
product, from column ``colour(j)`` at row ``i`` or from ``colour(i)`` at row ``j``.
An arrowhead Hessian then needs 2 colours where a column colouring needs n.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..argchecks import is_count

__all__ = ["Coloring", "as_pattern", "check_coloring", "color_hessian", "color_jacobian",
           "star_sources"]

_MODES = ("fwd", "rev", "auto")
_ORDERS = ("largest_first", "natural")


@dataclass(frozen=True, eq=False)
class Coloring:
    """A colouring of a pattern's columns (``mode="fwd"``), rows (``"rev"``) or both (``"sym"``).

    ``colors[k]`` (0-based) is the colour of column (or row) ``k``; ``n_colors`` passes
    of one direction each give the whole Jacobian (or Hessian).
    """

    colors: np.ndarray
    n_colors: int
    mode: str
    order: str = "largest_first"

    def __repr__(self) -> str:
        return f"Coloring(mode={self.mode!r}, n_colors={self.n_colors}, size={self.colors.size})"

    def seeds(self) -> np.ndarray:
        """The seed matrix, one row per colour: ``S[c, k] = 1`` where ``colors[k] == c``."""
        s = np.zeros((self.n_colors, self.colors.size))
        s[self.colors, np.arange(self.colors.size)] = 1.0
        return s


def as_pattern(pattern: Any, what: str = "pattern") -> sp.csr_array:
    """A 2-D scipy sparse matrix or array, or a dense array, as a boolean CSR array.

    Every entry a sparse matrix stores is in the pattern, zero or not (a Jacobian that
    vanishes at one point stores its zeros); in a dense array, the nonzeros are."""
    if sp.issparse(pattern):
        p = sp.csr_array(pattern, copy=True)
        p.data = np.ones(len(p.data), dtype=bool)  # scipy's convention: a stored 0 is structure
    elif isinstance(pattern, np.ndarray):
        if pattern.dtype.kind not in "biufc":
            raise TypeError(f"{what}: expected a boolean or numeric array, got dtype "
                            f"{pattern.dtype}")
        p = sp.csr_array(pattern != 0) if pattern.ndim == 2 else None
    else:
        raise TypeError(f"{what}: expected a scipy.sparse matrix or a 2-D NumPy array, got "
                        f"{type(pattern).__name__}")
    if p is None or p.ndim != 2:
        raise ValueError(f"{what}: expected a 2-D pattern, got shape {np.shape(pattern)}")
    p = sp.csr_array(p, dtype=bool)
    p.eliminate_zeros()
    p.sum_duplicates()
    p.sort_indices()
    return p


def _intersection_degrees(p: sp.csr_array, block_work: int = 4_000_000) -> np.ndarray:
    """Degree of every column in the column intersection graph of ``p``.

    Computed as the row lengths of ``P.T @ P``, in blocks of columns whose bound on the
    product's size (the sum of the lengths of the rows each column meets) stays below
    ``block_work``: a dense row never builds the whole n x n graph at once.
    """
    n = p.shape[1]
    pt = sp.csr_array(p.T)
    work = pt @ np.diff(p.indptr)  # per column: an upper bound on its degree + 1
    bounds = np.searchsorted(np.cumsum(work), np.arange(block_work, int(work.sum()), block_work))
    edges = np.unique(np.concatenate([[0], bounds, [n]]))
    deg = np.zeros(n, dtype=np.int64)
    for start, stop in zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True):
        g = pt[start:stop] @ p
        nonempty = np.diff(pt.indptr[start:stop + 1]) > 0
        deg[start:stop] = np.diff(g.indptr) - nonempty  # minus the column itself
    return deg


def _order(degrees: np.ndarray, order: str) -> np.ndarray:
    if order == "natural":
        return np.arange(degrees.size)
    return np.argsort(-degrees, kind="stable")


def _color_columns(p: sp.csr_array, order: str) -> np.ndarray:
    """Greedy distance-2 colouring of the columns of ``p`` (first fit, in ``order``).

    Each row keeps the set of colours already used in it, so a column's forbidden
    colours are the union over its rows: no column pair is ever enumerated.
    """
    m, n = p.shape
    csc = sp.csc_array(p)
    ptr, rows_of = csc.indptr.tolist(), csc.indices.tolist()
    degrees = _intersection_degrees(p) if order != "natural" else np.zeros(n, dtype=np.int64)
    colors = [0] * n
    in_row: list[set[int]] = [set() for _ in range(m)]
    top = 0  # colours in use so far: 0..top-1
    for j in _order(degrees, order).tolist():
        rows = rows_of[ptr[j]:ptr[j + 1]]
        if not rows:
            continue  # an empty column fits any colour
        taken = in_row[rows[0]] if len(rows) == 1 else set().union(*(in_row[i] for i in rows))
        if len(taken) == top:
            c = top
        else:
            c = 0
            while c in taken:
                c += 1
        colors[j] = c
        top = max(top, c + 1)
        for i in rows:
            in_row[i].add(c)
    return np.array(colors, dtype=np.int64)


def _finish(colors: np.ndarray, mode: str, order: str) -> Coloring:
    n_colors = int(colors.max()) + 1 if colors.size else 0
    return Coloring(colors=colors, n_colors=n_colors, mode=mode, order=order)


def color_jacobian(pattern: Any, mode: str = "auto", *, order: str = "largest_first") -> Coloring:
    """Colour a Jacobian's pattern for compressed forward (columns) or reverse (rows) mode.

    ``mode="fwd"`` colours the columns (one tangent per colour), ``"rev"`` the rows
    (one cotangent per colour), ``"auto"`` does both and keeps the one with fewer
    colours (forward on a tie: it needs no recording).  ``order`` is
    ``"largest_first"`` (default; see the module docstring) or ``"natural"``.
    """
    if mode not in _MODES:
        raise ValueError(f"mode: expected one of {_MODES}, got {mode!r}")
    if order not in _ORDERS:
        raise ValueError(f"order: expected one of {_ORDERS}, got {order!r}")
    p = as_pattern(pattern)
    if mode == "fwd":
        return _finish(_color_columns(p, order), "fwd", order)
    if mode == "rev":
        return _finish(_color_columns(sp.csr_array(p.T), order), "rev", order)
    fwd = color_jacobian(p, "fwd", order=order)
    rev = color_jacobian(p, "rev", order=order)
    return fwd if fwd.n_colors <= rev.n_colors else rev


def _color_star(p: sp.csr_array, order: str) -> np.ndarray:
    """Greedy star colouring of the adjacency graph of symmetric ``p`` (diagonal ignored).

    Colouring vertex v with colour c must not create a two-coloured path on four
    coloured vertices through v: c differs from every coloured neighbour's colour, and
    c may equal the colour of a vertex x two steps away (via w) only when neither x nor
    v has another neighbour with w's colour (paths v-w-x-y and u-v-w-x).
    """
    n = p.shape[0]
    ptr, idx = p.indptr, p.indices
    adj = [[w for w in idx[ptr[v]:ptr[v + 1]].tolist() if w != v] for v in range(n)]
    degrees = np.array([len(a) for a in adj], dtype=np.int64)
    colors = [-1] * n
    around: list[dict[int, int]] = [{} for _ in range(n)]  # colour counts among neighbours
    for v in _order(degrees, order).tolist():
        mine = around[v]
        forbidden = set(mine)
        for w in adj[v]:
            cw = colors[w]
            if cw < 0:
                continue
            twice_at_v = mine[cw] >= 2
            for x in adj[w]:
                cx = colors[x]
                if x == v or cx < 0 or cx in forbidden:
                    continue
                if twice_at_v or around[x].get(cw, 0) >= 2:
                    forbidden.add(cx)
        c = 0
        while c in forbidden:
            c += 1
        colors[v] = c
        for w in adj[v]:
            around[w][c] = around[w].get(c, 0) + 1
    return np.array(colors, dtype=np.int64)


def color_hessian(pattern: Any, *, order: str = "largest_first") -> Coloring:
    """Star-colour a symmetric (Hessian) pattern for direct recovery (``mode="sym"``).

    The pattern is symmetrised first (``P | P.T``).  See the module docstring.
    """
    if order not in _ORDERS:
        raise ValueError(f"order: expected one of {_ORDERS}, got {order!r}")
    p = as_pattern(pattern)
    if p.shape[0] != p.shape[1]:
        raise ValueError(f"pattern: a Hessian pattern must be square, got shape {p.shape}")
    p = sp.csr_array(p + p.T, dtype=bool)
    return _finish(_color_star(p, order), "sym", order)


def _counts(p: sp.csr_array, colors: np.ndarray, n_colors: int) -> sp.csr_array:
    """``K[i, c]``: how many nonzeros row i of ``p`` has in columns of colour c."""
    onehot = sp.csr_array((np.ones(colors.size, dtype=np.int64),
                           (np.arange(colors.size), colors)), shape=(colors.size, n_colors))
    return sp.csr_array(sp.csr_array(p, dtype=np.int64) @ onehot)


def check_coloring(pattern: Any, coloring: Coloring) -> None:
    """Raise ``ValueError`` unless ``coloring`` lets every entry of ``pattern`` be recovered."""
    p = as_pattern(pattern)
    if not isinstance(coloring, Coloring):
        raise TypeError(f"coloring: expected a Coloring, got {type(coloring).__name__}")
    k = coloring.colors
    if not isinstance(k, np.ndarray) or k.dtype.kind not in "iu":
        raise TypeError(f"coloring: colors must be a NumPy array of ints, got "
                        f"{type(k).__name__}{f' of dtype {k.dtype}' if hasattr(k, 'dtype') else ''}")
    n_colors = coloring.n_colors
    if not is_count(n_colors):
        raise TypeError(f"coloring: n_colors must be a non-negative int, got {n_colors!r}")
    if coloring.mode not in ("fwd", "rev", "sym"):
        raise ValueError(f"coloring: mode must be 'fwd', 'rev' or 'sym', got {coloring.mode!r}")
    if coloring.mode == "rev":
        p = sp.csr_array(p.T)
    expected = p.shape[1]
    if k.ndim != 1 or k.size != expected:
        raise ValueError(f"coloring: has {k.size} colours for a pattern with {expected} "
                         f"{'rows' if coloring.mode == 'rev' else 'columns'}")
    if k.size and (k.min() < 0 or k.max() >= coloring.n_colors):
        raise ValueError("coloring: colours must lie in 0..n_colors-1")
    counts = _counts(p, k, coloring.n_colors)
    if coloring.mode in ("fwd", "rev"):
        if counts.nnz and counts.data.max() > 1:
            raise ValueError(f"coloring: two {'rows' if coloring.mode == 'rev' else 'columns'} "
                             "of one colour share a nonzero, so the compressed pass cannot "
                             "separate them")
        return
    if not star_sources(p, k, counts)[1].all():
        raise ValueError("coloring: some Hessian entries cannot be recovered directly from "
                         "this symmetric colouring (not a star colouring of the pattern)")


def star_sources(p: sp.csr_array, colors: np.ndarray,
                 counts: sp.csr_array) -> tuple[np.ndarray, np.ndarray]:
    """Where each stored entry (i, j) of ``p`` (in CSR order) is read from.

    Returns ``(here, ok)``: ``here`` is True where (i, colour(j)) of the compressed
    product holds H[i, j] alone, else it is read at (j, colour(i)); ``ok`` is False
    where neither holds it alone (not a star colouring).
    """
    rows = np.repeat(np.arange(p.shape[0]), np.diff(p.indptr))
    cols = p.indices
    here = _lookup(counts, rows, colors[cols]) == 1
    there = _lookup(counts, cols, colors[rows]) == 1
    return here, here | there


def _lookup(a: sp.csr_array, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``a[rows[k], cols[k]]`` for every k (0 where not stored), by binary search on keys."""
    a = sp.csr_array(a)
    a.sort_indices()
    width = a.shape[1]
    keys = np.repeat(np.arange(a.shape[0], dtype=np.int64), np.diff(a.indptr)) * width + a.indices
    want = rows.astype(np.int64) * width + cols
    if keys.size == 0:
        return np.zeros(want.size, dtype=a.dtype)
    pos = np.minimum(np.searchsorted(keys, want), keys.size - 1)
    return np.where(keys[pos] == want, a.data[pos], 0)
