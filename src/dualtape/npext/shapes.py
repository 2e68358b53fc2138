"""Shape functions, each an exact composition of the linear primitives (``getitem``,
``reshape``, ``broadcast_to``, ``transpose``, ``flip``, ``concatenate``, ``take``,
``scatter_add``; ``pick_along`` where the order comes from the values: ``sort``,
``partition``): their derivatives are those primitives' rules, nothing new.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from .. import numpy as dnp
from .. import ops
from ._common import concrete, is_traced, jax_twin, read_values
from .axes import as_int, sizes

__all__ = [
    "array_split", "atleast_1d", "atleast_2d", "atleast_3d", "broadcast_arrays", "diff", "dsplit",
    "fliplr", "flipud", "hsplit", "meshgrid", "pad", "partition", "permute_dims", "repeat",
    "roll", "rollaxis", "rot90", "sort", "split", "take_along_axis", "tile", "unique", "vsplit",
]


def along(axis: int, s: Any) -> tuple:
    """An index applying ``s`` on negative ``axis`` (valid with batch axes in front)."""
    return (Ellipsis, s) + (slice(None),) * (-axis - 1)


def _atleast(a: Any, nd: int) -> Any:
    s = dnp.shape(a)
    if len(s) >= nd:
        return a
    if nd == 3 and len(s) == 2:
        return dnp.reshape(a, s + (1,))
    if nd == 3 and len(s) == 1:
        return dnp.reshape(a, (1,) + s + (1,))
    return dnp.reshape(a, (1,) * (nd - len(s)) + s)


def _atleast_fn(nd: int) -> Any:
    @jax_twin(f"atleast_{nd}d")
    def f(*arys: Any) -> Any:
        out = tuple(_atleast(a, nd) for a in arys)
        return out[0] if len(out) == 1 else out

    f.__name__ = f.__qualname__ = f"atleast_{nd}d"
    f.__doc__ = f"View each input with at least {nd} axes (a tuple for several inputs)."
    return f


atleast_1d, atleast_2d, atleast_3d = _atleast_fn(1), _atleast_fn(2), _atleast_fn(3)


@jax_twin()
def diff(a: Any, n: int = 1, axis: int = -1, prepend: Any = None, append: Any = None) -> Any:
    """``n``-th forward difference along ``axis``."""
    try:
        n = operator.index(n)  # as NumPy and JAX: True is 1, a 0-d int array its value
    except TypeError:
        raise TypeError(f"n: expected an int, got {n!r}") from None
    if n < 0:
        raise ValueError(f"diff: order n must be non-negative, got {n}")
    if type(a) is np.ndarray and a.dtype == bool and not (is_traced(prepend) or is_traced(append)):
        return np.diff(a, n, axis, **{k: v for k, v in (("prepend", prepend), ("append", append))
                                      if v is not None})  # booleans: NumPy's not_equal
    ax = dnp._one_axis(a, axis)
    parts = []
    for extra in (prepend, append):
        if extra is None:
            parts.append(None)
            continue
        if dnp.ndim(extra) == 0:
            shape = list(dnp.shape(a))
            shape[ax] = 1
            extra = dnp.broadcast_to(extra, tuple(shape))
        parts.append(extra)
    if parts[0] is not None or parts[1] is not None:
        a = dnp.concatenate([p for p in (parts[0], a, parts[1]) if p is not None], axis=ax)
    for _ in range(n):
        a = ops.sub(ops.getitem(a, index=along(ax, slice(1, None))),
                    ops.getitem(a, index=along(ax, slice(None, -1))))
    return a


_INDEX_MODES = ("edge", "reflect", "symmetric", "wrap")


@jax_twin()
def pad(array: Any, pad_width: Any, mode: str = "constant", **kwargs: Any) -> Any:
    """Pad ``array``. ``constant`` mode writes it into a constant frame (``constant_values``
    are constants, not differentiated); ``edge``, ``reflect``, ``symmetric`` and ``wrap``
    are gathers along each axis."""
    nd = dnp.ndim(array)
    width = np.asarray(pad_width)
    if width.dtype.kind not in "iu":
        raise TypeError(f"pad: pad_width must be of integral type, got {pad_width!r}")
    width = np.broadcast_to(width.astype(np.int64), (nd, 2))
    if np.any(width < 0):
        raise ValueError(f"pad: pad_width must be non-negative, got {pad_width!r}")
    shape = dnp.shape(array)
    if mode == "constant":
        unknown = set(kwargs) - {"constant_values"}
        if unknown:
            raise TypeError(f"pad: unexpected keyword arguments {sorted(unknown)} for constant mode")
        values = kwargs.get("constant_values", 0)
        out_shape = tuple(int(s + b + e) for s, (b, e) in zip(shape, width, strict=True))
        index = tuple(slice(int(b), int(b) + s) for s, (b, _) in zip(shape, width, strict=True))
        out = ops.scatter_add(array, index=index, shape=out_shape)
        dtype = getattr(concrete(array), "dtype", np.float64)
        per_side = np.broadcast_to(_object_array(values), (nd, 2))
        if not any(is_traced(v) for v in per_side.flat):
            frame = np.pad(np.zeros(shape, dtype), width, mode="constant", constant_values=values)
            return ops.add(out, frame) if np.any(frame) else out
        # traced values: each fills the region NumPy gives it (later axes take the corners)
        codes = np.arange(1, 2 * nd + 1).reshape(nd, 2)
        where = np.pad(np.zeros(shape, np.int64), width, mode="constant", constant_values=codes)
        for (i, side), code in np.ndenumerate(codes):
            mask = where == code
            if mask.any():
                out = ops.add(out, ops.mul(per_side[i, side], mask.astype(dtype)))
        return out
    if mode not in _INDEX_MODES:
        raise NotImplementedError(f"pad: mode {mode!r} is not supported; use one of "
                                  f"{('constant',) + _INDEX_MODES}")
    if kwargs.get("reflect_type", "even") != "even" or set(kwargs) - {"reflect_type"}:
        raise NotImplementedError(f"pad: keyword arguments {sorted(kwargs)} are not supported "
                                  f"in {mode!r} mode (only reflect_type='even')")
    for i, (b, e) in enumerate(width):
        if b or e:
            idx = np.pad(np.arange(shape[i]), (int(b), int(e)), mode=mode)
            array = ops.take(array, indices=idx, axis=i - nd)
    return array


def _object_array(v: Any) -> np.ndarray:
    """Nested lists and tuples of values (traced or not) as an object array of their shape."""
    shape: list[int] = []
    probe = v
    while isinstance(probe, (list, tuple)):
        shape.append(len(probe))
        probe = probe[0] if probe else None
    out = np.empty(tuple(shape), object)
    for idx in np.ndindex(*shape):
        item = v
        for k in idx:
            item = item[k]
        out[idx] = item
    return out


@jax_twin()
def tile(A: Any, reps: Any) -> Any:
    """Repeat the whole of ``A`` ``reps`` times along each axis."""
    reps = sizes(reps, "reps", allow_bool=True)
    if any(r < 0 for r in reps):
        raise ValueError(f"tile: reps must be non-negative, got {reps}")
    shape = dnp.shape(A)
    d = max(len(reps), len(shape))
    reps = (1,) * (d - len(reps)) + reps
    shape = (1,) * (d - len(shape)) + shape
    if all(r == 1 for r in reps):
        return dnp.reshape(A, shape)
    inter = tuple(v for r, s in zip(reps, shape, strict=True) for v in (1, s))
    wide = tuple(v for r, s in zip(reps, shape, strict=True) for v in (r, s))
    out = dnp.broadcast_to(dnp.reshape(A, inter), wide)
    return dnp.reshape(out, tuple(r * s for r, s in zip(reps, shape, strict=True)))


@jax_twin()
def repeat(a: Any, repeats: Any, axis: int | None = None) -> Any:
    """Repeat each element ``repeats`` times along ``axis`` (of the flattened array if None)."""
    if axis is None:
        a, ax = dnp.ravel(a), -1
    else:
        ax = dnp._one_axis(a, axis)
    shape = dnp.shape(a)
    r = np.asarray(read_values(repeats))
    if r.dtype.kind not in "iubf":  # NumPy truncates floats too
        raise TypeError(f"repeats: expected an int or a sequence of ints, got {repeats!r}")
    if r.ndim == 0 and int(r) < 0:
        raise ValueError(f"repeat: repeats must be non-negative, got {repeats!r}")
    if r.ndim == 0:
        k = int(r)
        wide = shape[:len(shape) + ax + 1] + (k,) + shape[len(shape) + ax + 1:]
        out = dnp.broadcast_to(ops.expand_dims(a, axis=(ax,)), wide)
        merged = list(shape)
        merged[ax] *= k
        return dnp.reshape(out, tuple(merged))
    return ops.take(a, indices=np.repeat(np.arange(shape[ax]), r), axis=ax)


@jax_twin()
def roll(a: Any, shift: Any, axis: Any = None) -> Any:
    """Shift elements cyclically along ``axis`` (of the flattened array if None)."""
    if axis is None:
        return dnp.reshape(roll(dnp.ravel(a), shift, 0), dnp.shape(a))
    shifts, axes = np.broadcast_arrays(np.asarray(shift), np.asarray(axis))
    for s, ax in zip(shifts.ravel(), axes.ravel(), strict=True):
        ax = dnp._one_axis(a, ax)
        n = dnp.shape(a)[ax]
        k = int(s) % n if n else 0
        if k:
            a = ops.concatenate(ops.getitem(a, index=along(ax, slice(n - k, None))),
                                ops.getitem(a, index=along(ax, slice(None, n - k))), axis=ax)
    return a


@jax_twin()
def rot90(m: Any, k: int = 1, axes: Any = (0, 1)) -> Any:
    """Rotate by 90 degrees ``k`` times in the plane of ``axes``."""
    if len(axes) != 2:
        raise ValueError(f"rot90: axes must name two axes, got {axes!r}")
    a0, a1 = (dnp._one_axis(m, ax, "axes") for ax in axes)
    if a0 == a1:
        raise ValueError("rot90: the two axes must differ")
    k %= 4
    if k == 0:
        return m
    if k == 2:
        return dnp.flip(dnp.flip(m, a0), a1)
    if k == 1:
        return dnp.swapaxes(dnp.flip(m, a1), a0, a1)
    return dnp.flip(dnp.swapaxes(m, a0, a1), a1)


@jax_twin()
def fliplr(m: Any) -> Any:
    """Reverse the second axis."""
    return dnp.flip(m, 1)


@jax_twin()
def flipud(m: Any) -> Any:
    """Reverse the first axis."""
    return dnp.flip(m, 0)


@jax_twin()
def take_along_axis(arr: Any, indices: Any, axis: int | None) -> Any:
    """Pick values along ``axis`` at integer ``indices`` of the same rank."""
    idx = np.asarray(read_values(indices))
    if idx.dtype.kind not in "iu":
        raise TypeError(f"take_along_axis: indices must be integers, got dtype {idx.dtype}")
    if axis is None:
        arr, axis = dnp.ravel(arr), 0
    nd = dnp.ndim(arr)
    if idx.ndim != nd:
        raise ValueError(f"take_along_axis: indices have {idx.ndim} axes, the array has {nd}")
    ax = dnp._one_axis(arr, axis) % nd
    shape = np.broadcast_shapes(tuple(1 if i == ax else s for i, s in enumerate(dnp.shape(arr))),
                                tuple(1 if i == ax else s for i, s in enumerate(idx.shape)))
    full = [np.arange(s).reshape((1,) * i + (-1,) + (1,) * (nd - i - 1)) for i, s in
            enumerate(shape)]
    full[ax] = idx
    return ops.getitem(arr, index=tuple(np.broadcast_arrays(*full)))


@jax_twin()
def sort(a: Any, axis: int | None = -1, kind: Any = None, order: Any = None) -> Any:
    """Sorted copy; the derivative follows each element to its place (stable on ties)."""
    if order is not None:
        raise NotImplementedError("sort: order= (structured arrays) is not supported")
    if axis is None:
        a, axis = dnp.ravel(a), -1
    axis = dnp._one_axis(a, axis)
    return _permute(a, np.argsort(concrete(a), axis=axis, kind="stable"), axis)


@jax_twin()
def partition(a: Any, kth: Any, axis: int | None = -1, kind: str = "introselect",
              order: Any = None) -> Any:
    """Partitioned copy (NumPy's ``argpartition`` arrangement); the derivative follows each
    element to its place."""
    if order is not None:
        raise NotImplementedError("partition: order= (structured arrays) is not supported")
    if axis is None:
        a, axis = dnp.ravel(a), -1
    return _permute(a, np.argpartition(concrete(a), kth, axis=axis), axis)


@jax_twin()
def broadcast_arrays(*args: Any, subok: bool = False) -> tuple:
    """Every argument broadcast to their common shape (a tuple, as NumPy 2's)."""
    shape = np.broadcast_shapes(*(dnp.shape(a) for a in args))
    return tuple(dnp.broadcast_to(a, shape) for a in args)


@jax_twin()
def meshgrid(*xi: Any, copy: bool = True, sparse: bool = False, indexing: str = "xy") -> tuple:
    """Coordinate arrays from coordinate vectors (``indexing`` ``"xy"`` or ``"ij"``)."""
    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}")
    n = len(xi)
    shapes = [[1] * n for _ in xi]
    for i, s in enumerate(shapes):
        s[i] = -1
    if indexing == "xy" and n > 1:  # the first two axes swapped: x along columns
        shapes[0][:2], shapes[1][:2] = [1, -1], [-1, 1]
    out = tuple(dnp.reshape(x, tuple(s)) for x, s in zip(xi, shapes, strict=True))
    if not sparse:
        out = broadcast_arrays(*out)
    return tuple(o.copy() if copy and isinstance(o, np.ndarray) else o for o in out)


@jax_twin()
def unique(ar: Any, return_index: bool = False, return_inverse: bool = False,
           return_counts: bool = False, axis: int | None = None, *, equal_nan: bool = True) -> Any:
    """``numpy.unique``; each unique value is its first occurrence in ``ar``, which gets its
    derivative (as JAX's). The indices, inverse and counts are plain arrays."""
    got = np.unique(read_values(ar), return_index=True, return_inverse=return_inverse,
                    return_counts=return_counts, axis=axis, equal_nan=equal_nan)
    values = dnp.take(ar, got[1], axis=axis) if is_traced(ar) else got[0]
    if not (return_index or return_inverse or return_counts):
        return values
    return (values, *got[1:]) if return_index else (values, *got[2:])


def _permute(a: Any, order: np.ndarray, axis: int) -> Any:
    """``a`` rearranged along ``axis`` by ``order``, computed from its values: ``pick_along``,
    so the sparsity pattern is the whole fibre, valid at any other order."""
    return ops.pick_along(a, indices=order, axis=dnp._one_axis(a, axis))


def _split(ary: Any, sections: Any, axis: int, even: bool, name: str) -> list:
    ax = dnp._one_axis(ary, axis)
    n = dnp.shape(ary)[ax]
    if np.ndim(sections) == 0:
        k = int(sections)
        if k <= 0:
            raise ValueError(f"{name}: number of sections must be larger than 0")
        if even and n % k:
            raise ValueError(f"{name}: array split does not result in an equal division")
        each, extra = divmod(n, k)
        bounds = np.concatenate([[0], np.cumsum([each + 1] * extra + [each] * (k - extra))])
    else:
        bounds = np.concatenate([[0], np.asarray(sections, dtype=np.int64), [n]])
    return [ops.getitem(ary, index=along(ax, slice(int(b), int(e))))
            for b, e in zip(bounds[:-1], bounds[1:], strict=True)]


@jax_twin()
def split(ary: Any, indices_or_sections: Any, axis: int = 0) -> list:
    """Split into equal sections, or at the given indices, along ``axis``."""
    return _split(ary, indices_or_sections, axis, True, "split")


@jax_twin()
def array_split(ary: Any, indices_or_sections: Any, axis: int = 0) -> list:
    """As ``split``, allowing sections of unequal size."""
    return _split(ary, indices_or_sections, axis, False, "array_split")


def _split_fixed(name: str, axis_of: Any, min_nd: int) -> Any:
    @jax_twin(name)
    def f(ary: Any, indices_or_sections: Any) -> list:
        if dnp.ndim(ary) < min_nd:
            raise ValueError(f"{name} only works on arrays of {min_nd} or more dimensions")
        return _split(ary, indices_or_sections, axis_of(dnp.ndim(ary)), True, name)

    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"``split`` along the axis NumPy's ``{name}`` uses."
    return f


hsplit = _split_fixed("hsplit", lambda nd: 1 if nd > 1 else 0, 1)
vsplit = _split_fixed("vsplit", lambda nd: 0, 2)
dsplit = _split_fixed("dsplit", lambda nd: 2, 3)


@jax_twin()
def rollaxis(a: Any, axis: int, start: int = 0) -> Any:
    """Roll ``axis`` backwards until it lies before position ``start``."""
    nd = dnp.ndim(a)
    ax = dnp._one_axis(a, axis) % nd
    given, start = start, as_int(start, "start")
    if start < 0:
        start += nd
    if not 0 <= start <= nd:
        raise ValueError(f"rollaxis: start {given} is out of bounds: it must satisfy "
                         f"{-nd} <= start < {nd + 1}")
    if ax < start:
        start -= 1
    if ax == start:
        return a
    return dnp.moveaxis(a, ax, start)


@jax_twin()
def permute_dims(a: Any, axes: Any = None) -> Any:
    """``transpose`` under its array-API name."""
    return dnp.transpose(a, axes)
