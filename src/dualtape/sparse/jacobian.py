"""Compressed Jacobians and Hessians: one vector-mode pass with one seed per colour.

``sparse_jacobian(f)(x)`` detects the pattern (:func:`jacobian_sparsity`), colours
it (:func:`color_jacobian`), pushes ``n_colors`` tangents through one forward pass
(or pulls ``n_colors`` cotangents through one backward pass) and reads every
Jacobian entry off the compressed result.  The pattern and the colouring are
computed on the first call for a given input structure and reused by later calls
with the same structure *and* the same other (non-differentiated) arguments: the
pattern may read their values (a constant matrix's zeros, an index array), so a
call with other values detects and colours it again (:class:`_Others`).
``sparse_hessian`` does the same with a star colouring and one batched
forward-over-reverse Hessian-vector product.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..api import Recording, grad, jvp_core
from ..argchecks import dynamic as _dynamic
from ..argchecks import normalize_argnums as _argnums
from ..ops import shape_of, size_of
from ..registry import Tracer
from ..tree import flatten
from .coloring import (
    Coloring,
    _counts,
    as_pattern,
    check_coloring,
    color_hessian,
    color_jacobian,
    star_sources,
)
from .tracer import detect, detect_hessian

__all__ = ["DensePatternWarning", "SparseHessian", "SparseJacobian", "sparse_hessian",
           "sparse_jacobian"]


class DensePatternWarning(UserWarning):
    """The pattern needs as many colours as the dense Jacobian needs passes."""


@dataclass(frozen=True)
class _Plan:
    """What one input structure needs: the pattern, its colouring, where each entry is read."""

    pattern: sp.csr_array
    coloring: Coloring
    rows: np.ndarray  # row of every stored entry, in CSR order
    here: np.ndarray | None = None  # Hessians: entry read at (i, colour(j)) (else (j, colour(i)))
    local: bool = False  # detected where the input's values steered the function


#: Leaves of the other arguments kept by value (immutable); arrays are copied.
_BY_VALUE = (bool, int, float, complex, str, bytes, type(None), np.generic)


class _Others:
    """A snapshot of the arguments that are not differentiated, to tell whether a cached
    pattern still holds.  ``same(args)`` is False when a leaf differs, and always False
    for a leaf it cannot copy and compare (an arbitrary object): re-detect, never reuse."""

    __slots__ = ("td", "leaves")

    def __init__(self, others: tuple) -> None:
        self.td, self.leaves = None, None
        try:
            leaves, td = flatten(others)
            kept = [_kept(x) for x in leaves]
        except Exception:  # unsortable dict keys, odd pytree nodes: never reused
            return
        if all(k is not _ODD for k in kept):
            self.td, self.leaves = td, kept

    def same(self, others: tuple) -> bool:
        """Whether ``others`` equals the snapshot (arrays: shape, dtype and values)."""
        if self.leaves is None:
            return False
        try:
            leaves, td = flatten(others)
            return (td == self.td and len(leaves) == len(self.leaves)
                    and all(_equal(a, b) for a, b in zip(self.leaves, leaves, strict=True)))
        except Exception:
            return False


_ODD = object()  # a leaf that cannot be snapshot


class _Identity:
    """A callable among the other arguments, kept by identity (its state is not watched, as
    ``fun``'s own closure is not)."""

    __slots__ = ("obj",)

    def __init__(self, obj: Any) -> None:
        self.obj = obj


def _kept(x: Any) -> Any:
    if isinstance(x, _BY_VALUE):
        return x
    if callable(x) and not isinstance(x, np.ndarray):
        return _Identity(x)
    if isinstance(x, np.ndarray) and x.dtype.kind in "biufcmMUSV":
        return x.copy()
    return _ODD


def _equal(kept: Any, x: Any) -> bool:
    if type(kept) is _Identity:
        return kept.obj is x
    if type(kept) is not type(x):
        return False
    if isinstance(kept, np.ndarray):
        if kept.shape != x.shape or kept.dtype != x.dtype:
            return False
        return bool(np.array_equal(kept, x, equal_nan=kept.dtype.kind in "fc"))
    return bool(kept == x) or bool(kept != kept and x != x)  # a NaN is the same NaN here


def _sizes(xs: Sequence[Any]) -> list[int]:
    return [size_of(x) for x in xs]


def _split(s: np.ndarray, like: Sequence[Any]) -> list[np.ndarray]:
    """Split the columns of ``s`` (k, total) into blocks shaped (k, *leaf shape), leaf dtypes."""
    out, off = [], 0
    for x, size in zip(like, _sizes(like), strict=True):
        dtype = getattr(x, "dtype", np.float64)
        dtype = dtype if np.dtype(dtype).kind == "f" else np.float64
        out.append(s[:, off:off + size].astype(dtype).reshape((s.shape[0],) + shape_of(x)))
        off += size
    return out


def _join(blocks: Sequence[Any], k: int) -> np.ndarray:
    """Leaves with a leading batch axis of ``k``, flattened and joined: (k, total), in their
    common floating dtype (float32 leaves stay float32, as in ``jacfwd``)."""
    arrays = [np.asarray(b) for b in blocks]
    floats = [a.dtype for a in arrays if a.dtype.kind == "f"]
    dtype = np.result_type(*floats) if floats else np.float64
    return np.concatenate([a.astype(dtype, copy=False).reshape(k, a.size // k if k else 0)
                           for a in arrays], axis=1)


def _identity(size: int, mode: str) -> Coloring:
    return Coloring(colors=np.arange(size), n_colors=size, mode=mode, order="natural")


def _warn_dense(what: str, n_colors: int, passes: int) -> None:
    warnings.warn(
        f"{what}: the pattern needs {n_colors} colours, no fewer than the {passes} passes of the "
        "dense computation, so colouring saves nothing; computing it densely in vector mode",
        DensePatternWarning, stacklevel=4)


def _check_coloring_type(coloring: Any) -> None:
    if coloring is not None and not isinstance(coloring, Coloring):
        raise TypeError(f"coloring: expected a Coloring, got {type(coloring).__name__}")


class _Compressed:
    """The shared part of :class:`SparseJacobian` and :class:`SparseHessian`: plans per input."""

    name = "sparse"

    def __init__(self, fun: Callable, argnums: int | Sequence[int], sparsity: Any,
                 coloring: Coloring | None) -> None:
        if not callable(fun):
            raise TypeError(f"fun: expected a callable, got {type(fun).__name__}")
        if coloring is not None and not isinstance(coloring, Coloring):
            raise TypeError(f"coloring: expected a Coloring, got {type(coloring).__name__}")
        self.fun = fun
        self.argnums = argnums
        self._sparsity = None if sparsity is None else as_pattern(sparsity, "sparsity")
        self._coloring = coloring
        self._plans: dict[Any, tuple[_Others | None, _Plan, _Others | None]] = {}
        self._last: _Plan | None = None

    @property
    def sparsity(self) -> sp.csr_array | None:
        """The pattern used by the last call (or the one given)."""
        return self._last.pattern if self._last is not None else self._sparsity

    @property
    def coloring(self) -> Coloring | None:
        """The colouring used by the last call (or the one given)."""
        return self._last.coloring if self._last is not None else self._coloring

    def _prepare(self, args: tuple, kwargs: dict) -> tuple[tuple[int, ...], bool, list, _Plan]:
        nums, single = _argnums(self.argnums, len(args))
        leaves, td = _dynamic(args, nums, single)
        if any(isinstance(x, Tracer) for x in flatten((args, kwargs))[0]):
            raise TypeError(f"{self.name}: an argument is traced by an enclosing "
                            "transformation, but a scipy.sparse result cannot carry its "
                            "derivative; use dt.jacfwd/dt.jacrev/dt.hessian inside transforms")
        key = (nums, td, tuple((shape_of(x), str(getattr(x, "dtype", "float"))) for x in leaves))
        # a detected pattern may read the other arguments: reused only while they are the same
        others = (tuple(a for i, a in enumerate(args) if i not in nums), kwargs)
        found = self._plans.get(key)
        if found is not None and (found[0] is None or found[0].same(others)) \
                and (found[2] is None or found[2].same(tuple(leaves))):
            plan = found[1]
        else:
            fun = functools.partial(self.fun, **kwargs) if kwargs else self.fun
            plan = self._plan(fun, args, sum(_sizes(leaves)))
            # a local pattern (argmax on the input, a mask) is reused at this input only
            self._plans[key] = (None if self._sparsity is not None else _Others(others), plan,
                                _Others(tuple(leaves)) if plan.local else None)
        self._last = plan
        return nums, single, leaves, plan

    def _plan(self, fun: Callable, args: tuple, n: int) -> _Plan:  # pragma: no cover
        raise NotImplementedError

    def _check_columns(self, pattern: sp.csr_array, n: int) -> None:
        if pattern.shape[1] != n:
            raise ValueError(f"sparsity: has {pattern.shape[1]} columns, but the differentiated "
                             f"inputs have {n} elements")

    @staticmethod
    def _result(plan: _Plan, data: np.ndarray) -> sp.csr_array:
        p = plan.pattern
        return sp.csr_array((data, p.indices.copy(), p.indptr.copy()), shape=p.shape)


class SparseJacobian(_Compressed):
    """``sparse_jacobian(fun, ...)``: call it like ``fun`` to get the Jacobian as CSR."""

    name = "sparse_jacobian"

    def __init__(self, fun: Callable, argnums: int | Sequence[int], sparsity: Any,
                 coloring: Coloring | None, mode: str) -> None:
        if mode not in ("fwd", "rev", "auto"):
            raise ValueError(f"mode: expected 'fwd', 'rev' or 'auto', got {mode!r}")
        _check_coloring_type(coloring)
        if coloring is not None and coloring.mode not in ("fwd", "rev"):
            raise ValueError(f"coloring: a Jacobian needs a 'fwd' or 'rev' colouring, got "
                             f"{coloring.mode!r} (color_hessian's is for sparse_hessian)")
        if coloring is not None and mode != "auto" and coloring.mode != mode:
            raise ValueError(f"coloring: is a {coloring.mode!r} colouring but mode={mode!r}")
        super().__init__(fun, argnums, sparsity, coloring)
        self.mode = mode

    def _plan(self, fun: Callable, args: tuple, n: int) -> _Plan:
        pattern, local = self._sparsity, False
        if pattern is None:
            pattern, local = detect(fun, args, self.argnums)
        self._check_columns(pattern, n)
        coloring = self._coloring
        if coloring is None:
            coloring = color_jacobian(pattern, self.mode)
        else:
            check_coloring(pattern, coloring)
        m = pattern.shape[0]
        if min(n, m) and coloring.n_colors >= min(n, m):
            _warn_dense("sparse_jacobian", coloring.n_colors, min(n, m))
            dense = self.mode if self.mode != "auto" else "fwd" if n <= m else "rev"
            coloring = _identity(n, "fwd") if dense == "fwd" else _identity(m, "rev")
        rows = np.repeat(np.arange(m), np.diff(pattern.indptr))
        return _Plan(pattern, coloring, rows, local=local)

    def __call__(self, *args: Any, **kwargs: Any) -> sp.csr_array:
        nums, single, leaves, plan = self._prepare(args, kwargs)
        col = plan.coloring
        k, m = col.n_colors, plan.pattern.shape[0]
        cols = plan.pattern.indices
        if col.mode == "fwd":
            tangents = _split(col.seeds(), leaves)
            _, outs, t_out, _ = jvp_core(self.fun, args, nums, single, tangents, 1, kwargs=kwargs)
            self._check_rows(outs, m)
            compressed = _join(t_out, k)  # (k, m): row c is J @ seed c
            data = compressed[col.colors[cols], plan.rows]
        else:
            rec = Recording(self.fun, args, nums, single, kwargs=kwargs)
            self._check_rows(rec.out_leaves, m)
            cts = _split(col.seeds(), rec.out_leaves)
            compressed = _join(rec.pull(cts, 1), k)  # (k, n): row c is seed c @ J
            data = compressed[col.colors[plan.rows], cols]
        return self._result(plan, data)

    @staticmethod
    def _check_rows(outs: Sequence[Any], m: int) -> None:
        got = sum(_sizes(outs))
        if got != m:
            raise ValueError(f"sparsity: has {m} rows, but the function returned {got} elements")


class SparseHessian(_Compressed):
    """``sparse_hessian(fun, ...)``: call it like ``fun`` to get the Hessian as CSR."""

    name = "sparse_hessian"

    def __init__(self, fun: Callable, argnums: int | Sequence[int], sparsity: Any,
                 coloring: Coloring | None) -> None:
        _check_coloring_type(coloring)
        if coloring is not None and coloring.mode != "sym":
            raise ValueError(f"coloring: a Hessian needs a symmetric colouring (color_hessian), "
                             f"got mode {coloring.mode!r}")
        super().__init__(fun, argnums, sparsity, coloring)
        if self._sparsity is not None:
            p = self._sparsity
            if p.shape[0] != p.shape[1]:
                raise ValueError(f"sparsity: a Hessian pattern must be square, got shape {p.shape}")
            self._sparsity = as_pattern(p + p.T, "sparsity")

    def _plan(self, fun: Callable, args: tuple, n: int) -> _Plan:
        pattern, local = self._sparsity, False
        if pattern is None:
            pattern, local = detect_hessian(fun, args, self.argnums)
        self._check_columns(pattern, n)
        coloring = self._coloring
        if coloring is None:
            coloring = color_hessian(pattern)
        else:
            check_coloring(pattern, coloring)
        if n and coloring.n_colors >= n:
            _warn_dense("sparse_hessian", coloring.n_colors, n)
            coloring = _identity(n, "sym")
        counts = _counts(pattern, coloring.colors, coloring.n_colors)
        here, _ = star_sources(pattern, coloring.colors, counts)
        rows = np.repeat(np.arange(n), np.diff(pattern.indptr))
        return _Plan(pattern, coloring, rows, here, local)

    def __call__(self, *args: Any, **kwargs: Any) -> sp.csr_array:
        nums, single, leaves, plan = self._prepare(args, kwargs)
        col = plan.coloring
        gfun = grad(self.fun, argnums=nums[0] if single else nums)
        _, _, t_out, _ = jvp_core(gfun, args, nums, single, _split(col.seeds(), leaves), 1,
                                  kwargs=kwargs)
        compressed = _join(t_out, col.n_colors)  # (k, n): row c is H @ seed c
        rows, cols, c = plan.rows, plan.pattern.indices, col.colors
        data = np.where(plan.here, compressed[c[cols], rows], compressed[c[rows], cols])
        return self._result(plan, data)


def sparse_jacobian(fun: Callable, argnums: int | Sequence[int] = 0, *, sparsity: Any = None,
                    coloring: Coloring | None = None, mode: str = "auto") -> SparseJacobian:
    """Return a function computing ``fun``'s Jacobian as a ``scipy.sparse.csr_array``.

    The result has shape ``(m, n)`` (outputs and the ``argnums`` inputs flattened in
    pytree order) and exactly the structure of the pattern.  On the first call for a
    given input structure the pattern is detected with :func:`jacobian_sparsity`
    (unless ``sparsity`` is given) and coloured with :func:`color_jacobian` in ``mode``
    (unless ``coloring`` is given); both are kept for later calls (see the returned
    object's ``.sparsity`` and ``.coloring``) with the same structure and the same
    non-differentiated arguments (compared by value; arrays are copied).  Other values
    there, or a leaf that cannot be compared (an arbitrary object), detect the pattern
    again, since it may read them (a constant matrix's zeros, an index array).  State
    that ``fun`` reads from elsewhere (globals, closures) is not watched: pass it as an
    argument if it changes.  Each call is then one vector-mode pass:
    forward with one tangent per column colour, or reverse with one cotangent per row
    colour.  A pattern that needs as many colours as the dense Jacobian needs passes
    raises a :class:`DensePatternWarning` and is computed densely in vector mode.
    """
    return SparseJacobian(fun, argnums, sparsity, coloring, mode)


def sparse_hessian(fun: Callable, argnums: int | Sequence[int] = 0, *, sparsity: Any = None,
                   coloring: Coloring | None = None) -> SparseHessian:
    """Return a function computing scalar ``fun``'s Hessian as a ``scipy.sparse.csr_array``.

    Like :func:`sparse_jacobian`, with :func:`hessian_sparsity` and a star colouring
    (:func:`color_hessian`): one forward-over-reverse pass of ``n_colors`` Hessian-vector
    products, each entry read directly from it.  The pattern and colouring are kept
    under the same rule: the same input structure and non-differentiated arguments.
    """
    return SparseHessian(fun, argnums, sparsity, coloring)
