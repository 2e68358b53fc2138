"""``dualtape.numpy``: the registry's primitives under NumPy's names and signatures.

Every function here works on Python floats, NumPy arrays, ``Dual`` and
``TapeValue`` values, and on JAX arrays and tracers (where it calls
``jax.numpy``), so one function body runs under dualtape and under JAX::

    import dualtape.numpy as dnp

    def f(x):
        return dnp.sum(dnp.tanh(x) ** 2)
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Sequence
from typing import Any

import numpy as _np

# Array creation and constants are plain NumPy: they are never differentiated.
from numpy import (  # noqa: F401  (re-exported)
    arange,
    e,
    eye,
    float32,
    float64,
    inf,
    nan,
    newaxis,
    ones,
    pi,
    zeros,
)

from . import ops as _ops
from .dispatch import concrete  # dnp.concrete, public
from .dispatch import read_values as _read_values
from .npext._common import refuse_out as _refuse_out
from .npext.axes import axis_list as _axis_list
from .npext.axes import axis_tuple as _axis_tuple
from .npext.axes import one_axis as _one_axis
from .npext.axes import sizes as _sizes
from .registry import Tracer

ArrayLike = Any

# ---------------------------------------------------------------- helpers


def shape(a: ArrayLike) -> tuple[int, ...]:
    """Shape of ``a`` (traced or not)."""
    return _ops.shape_of(a)


def ndim(a: ArrayLike) -> int:
    """Number of axes of ``a``."""
    return _ops.ndim_of(a)


def size(a: ArrayLike) -> int:
    """Number of elements of ``a``."""
    return _ops.size_of(a)


# ---------------------------------------------------------------- elementwise

# The primitives' own functions (no wrapper: they route traced operands straight to an engine).
add, subtract, multiply, negative = _ops.add, _ops.sub, _ops.mul, _ops.neg
divide = true_divide = _ops.div
abs = absolute = _ops.abs_
square, reciprocal, sqrt, sign = _ops.square, _ops.reciprocal, _ops.sqrt, _ops.sign
exp, log, log1p, expm1 = _ops.exp, _ops.log, _ops.log1p, _ops.expm1
sin, cos, tan, arctan = _ops.sin, _ops.cos, _ops.tan, _ops.arctan
tanh, sinh, cosh = _ops.tanh, _ops.sinh, _ops.cosh
maximum, minimum = _ops.maximum, _ops.minimum
sigmoid, relu, softplus = _ops.sigmoid, _ops.relu, _ops.softplus


def power(x1: ArrayLike, x2: ArrayLike) -> Any:
    """``x1 ** x2``; a constant Python exponent uses the cheaper constant-power rule."""
    if type(x2) in (int, float):
        return _ops.power_const(x1, p=x2)
    return _ops.power(x1, x2)


_ABSENT = object()


def where(condition: ArrayLike, x: ArrayLike = _ABSENT, y: ArrayLike = _ABSENT) -> Any:
    """Pick ``x`` where ``condition`` holds, else ``y`` (the condition is not differentiated);
    with the condition alone, its ``nonzero`` indices, as NumPy's."""
    if x is _ABSENT and y is _ABSENT:
        return _np.nonzero(concrete(condition))
    if x is _ABSENT or y is _ABSENT:
        raise ValueError("where: either both or neither of x and y should be given")
    return _ops.where(concrete(condition), x, y)


def clip(a: ArrayLike, a_min: ArrayLike = None, a_max: ArrayLike = None, *,
         min: ArrayLike = None, max: ArrayLike = None) -> Any:  # noqa: A002
    """Limit ``a`` to ``[a_min, a_max]`` (or NumPy 2.1's ``min=``, ``max=``); the slope is 1/2
    at a bound, as in JAX."""
    if min is not None or max is not None:
        if a_min is not None or a_max is not None:
            raise TypeError("clip: pass the bounds as a_min/a_max or as min/max, not both")
        a_min, a_max = min, max
    if a_min is None and a_max is None:
        raise ValueError("clip: at least one of a_min and a_max must be given")
    if isinstance(a_min, Tracer) or isinstance(a_max, Tracer):
        # traced bounds have derivatives too: JAX's definition, min(max(a, a_min), a_max)
        out = a if a_min is None else maximum(a, a_min)
        return out if a_max is None else minimum(out, a_max)
    return _ops.clip(a, a_min, a_max)


# ---------------------------------------------------------------- reductions


def sum(a: ArrayLike, axis: Any = None, dtype: Any = None, out: Any = None,  # noqa: A001
        keepdims: bool = False, initial: Any = None, where: Any = None) -> Any:
    """Sum over ``axis`` (all axes by default); ``dtype``, ``initial`` and ``where`` as NumPy's."""
    if dtype is not None or out is not None or initial is not None or where is not None:
        return with_keywords("sum", a, axis, keepdims, dtype, out, initial, where)
    return _ops.sum_(a, axis=_axis_tuple(a, axis), keepdims=builtins.bool(keepdims))


def mean(a: ArrayLike, axis: Any = None, dtype: Any = None, out: Any = None,
         keepdims: bool = False, *, where: Any = None) -> Any:
    """Mean over ``axis``; ``dtype`` and ``where`` (the mean of the selected entries) as NumPy's."""
    if dtype is not None or out is not None or where is not None:
        return with_keywords("mean", a, axis, keepdims, dtype, out, None, where)
    return _ops.mean(a, axis=_axis_tuple(a, axis), keepdims=builtins.bool(keepdims))


def prod(a: ArrayLike, axis: Any = None, dtype: Any = None, out: Any = None,
         keepdims: bool = False, initial: Any = None, where: Any = None) -> Any:
    """Product over ``axis``; its derivative is exact when the input holds zeros."""
    if dtype is not None or out is not None or initial is not None or where is not None:
        return with_keywords("prod", a, axis, keepdims, dtype, out, initial, where)
    return _ops.prod(a, axis=_axis_tuple(a, axis), keepdims=builtins.bool(keepdims))


def max(a: ArrayLike, axis: Any = None, out: Any = None, keepdims: bool = False,  # noqa: A001
        initial: Any = None, where: Any = None) -> Any:
    """Maximum over ``axis``; tied maxima share the derivative equally (as in JAX).
    ``initial`` and ``where`` as NumPy's (``where`` needs ``initial``)."""
    if out is not None or initial is not None or where is not None:
        return with_keywords("max", a, axis, keepdims, None, out, initial, where)
    return _ops.max_(a, axis=_axis_tuple(a, axis), keepdims=builtins.bool(keepdims))


def min(a: ArrayLike, axis: Any = None, out: Any = None, keepdims: bool = False,  # noqa: A001
        initial: Any = None, where: Any = None) -> Any:
    """Minimum over ``axis``; tied minima share the derivative equally.
    ``initial`` and ``where`` as NumPy's (``where`` needs ``initial``)."""
    if out is not None or initial is not None or where is not None:
        return with_keywords("min", a, axis, keepdims, None, out, initial, where)
    return _ops.min_(a, axis=_axis_tuple(a, axis), keepdims=builtins.bool(keepdims))


amax = max
amin = min


def logsumexp(a: ArrayLike, axis: Any = None, keepdims: bool = False) -> Any:
    """``log(sum(exp(a)))`` over ``axis``, computed without overflow."""
    return _ops.logsumexp(a, axis=_axis_tuple(a, axis), keepdims=builtins.bool(keepdims))


def softmax(x: ArrayLike, axis: Any = -1) -> Any:
    """Softmax along ``axis``."""
    return _ops.softmax(x, axis=_axis_tuple(x, axis))


def log_softmax(x: ArrayLike, axis: Any = -1) -> Any:
    """Log-softmax along ``axis``."""
    return _ops.log_softmax(x, axis=_axis_tuple(x, axis))


def cumsum(a: ArrayLike, axis: int | None = None, dtype: Any = None, out: Any = None) -> Any:
    """Cumulative sum along ``axis`` (over the flattened array if None), in ``dtype``."""
    _refuse_out("cumsum", out)
    if dtype is not None:
        a = astype(a, dtype)
    if axis is None:
        return _ops.cumsum(reshape(a, (-1,)), axis=-1)
    return _ops.cumsum(a, axis=_one_axis(a, axis))


# ---------------------------------------------------------------- linear algebra


def matmul(a: ArrayLike, b: ArrayLike) -> Any:
    """Matrix product with NumPy's rules for 1-D operands and batch broadcasting."""
    na, nb = ndim(a), ndim(b)
    if na == 0 or nb == 0:
        raise ValueError("matmul: operands must have at least one axis; use multiply for scalars")
    if nb == 1 and na >= 2:
        return _ops.matvec(a, b)
    a2 = _ops.expand_dims(a, axis=(-2,)) if na == 1 else a
    b2 = _ops.expand_dims(b, axis=(-1,)) if nb == 1 else b
    out = _ops.matmul(a2, b2)
    if na == 1 and nb == 1:
        return _ops.squeeze(out, axis=(-2, -1))
    if na == 1:
        return _ops.squeeze(out, axis=(-2,))
    if nb == 1:
        return _ops.squeeze(out, axis=(-1,))
    return out


def dot(a: ArrayLike, b: ArrayLike) -> Any:
    """NumPy's ``dot``: product for scalars, matmul up to 2-D, sum over last/second-last axes."""
    sa, sb = shape(a), shape(b)
    if not sa or not sb:
        return multiply(a, b)
    k = sa[-1]
    if sb[-2 if len(sb) > 1 else 0] != k:
        raise ValueError(f"dot: shapes {sa} (a) and {sb} (b) not aligned: {k} (dim {len(sa) - 1}) "
                         f"!= {sb[-2 if len(sb) > 1 else 0]} (dim {builtins.max(len(sb) - 2, 0)})")
    if len(sb) == 1 or len(sa) <= 2 and len(sb) <= 2:
        return matmul(a, b)
    b_moved = moveaxis(b, -2, 0)
    rest = sb[:-2] + sb[-1:]
    out = matmul(reshape(a, (-1, k)), reshape(b_moved, (k, math.prod(rest))))
    return reshape(out, sa[:-1] + rest)


def outer(a: ArrayLike, b: ArrayLike) -> Any:
    """Outer product of the flattened inputs."""
    return multiply(reshape(a, (-1, 1)), reshape(b, (1, -1)))


def inner(a: ArrayLike, b: ArrayLike) -> Any:
    """Sum product over the last axes: shape ``a.shape[:-1] + b.shape[:-1]`` (a product if
    either is a scalar), as ``numpy.inner``."""
    sa, sb = shape(a), shape(b)
    if not sa or not sb:
        return multiply(a, b)
    if sa[-1] != sb[-1]:
        raise ValueError(f"inner: the last axes differ in length: shapes {sa} and {sb}")
    if len(sa) == 1 and len(sb) == 1:
        return sum(multiply(a, b), axis=-1)
    n, ra, rb = sa[-1], math.prod(sa[:-1]), math.prod(sb[:-1])  # not -1: n may be 0
    rows = matmul(reshape(a, (ra, n)), transpose(reshape(b, (rb, n))))
    return reshape(rows, sa[:-1] + sb[:-1])


def vdot(a: ArrayLike, b: ArrayLike) -> Any:
    """Dot product of the flattened inputs (real only: dualtape has no complex numbers, and
    ``numpy.vdot`` would conjugate a complex ``a``)."""
    for name, v in (("a", a), ("b", b)):
        if _np.iscomplexobj(concrete(v)):
            raise TypeError(f"vdot: {name} is complex; dualtape supports real inputs only")
    return sum(multiply(reshape(a, (-1,)), reshape(b, (-1,))))


# ---------------------------------------------------------------- shapes


def reshape(a: ArrayLike, shape: Any = None, order: str = "C", *,  # noqa: A002
            newshape: Any = None) -> Any:
    """Reshape ``a``; one dimension may be -1. ``order="F"`` reads and writes the elements
    with the first index fastest, as NumPy's."""
    if shape is None:
        shape = newshape
    target = _sizes(shape, "shape")
    if order == "F":
        return transpose(reshape(transpose(a), target[::-1]))
    if order not in ("C", "A"):
        raise ValueError(f"order: expected 'C' or 'F', got {order!r}")
    n = size(a)
    if target.count(-1) > 1:
        raise ValueError(f"reshape: at most one -1 allowed in shape {target}")
    if -1 in target:
        known = math.prod(s for s in target if s != -1)
        if known == 0 or n % known:
            raise ValueError(f"reshape: cannot reshape size {n} into shape {target}")
        target = tuple(n // known if s == -1 else s for s in target)
    if math.prod(target) != n:
        raise ValueError(f"reshape: cannot reshape size {n} into shape {target}")
    if target == _ops.shape_of(a):
        return a
    return _ops.reshape(a, shape=target)


def ravel(a: ArrayLike, order: str = "C") -> Any:
    """Flatten ``a`` (``order="F"``: the first index fastest, as NumPy's)."""
    return reshape(a, (-1,), order)


def transpose(a: ArrayLike, axes: Sequence[int] | None = None) -> Any:
    """Permute the axes of ``a`` (reverse them by default)."""
    nd = ndim(a)
    if axes is None:
        perm = tuple(range(-1, -nd - 1, -1))
    else:
        perm = tuple(_one_axis(a, ax, "axes") for ax in axes)
        if sorted(perm) != list(range(-nd, 0)):
            raise ValueError(f"axes: {tuple(axes)} is not a permutation of {nd} axes")
    if perm == tuple(range(-nd, 0)):
        return a
    return _ops.transpose(a, axes=perm)


def moveaxis(a: ArrayLike, source: Any, destination: Any) -> Any:
    """Move axes of ``a`` to new positions."""
    nd = ndim(a)
    src, dst = _axis_list(a, source, "source"), _axis_list(a, destination, "destination")
    if len(src) != len(dst):
        raise ValueError("moveaxis: source and destination must have the same number of axes")
    order = [i for i in range(nd) if i not in src]
    for d, s in sorted(zip(dst, src, strict=True)):
        order.insert(d, s)
    return transpose(a, order)


def swapaxes(a: ArrayLike, axis1: int, axis2: int) -> Any:
    """Exchange two axes."""
    nd = ndim(a)
    perm = list(range(nd))
    i, j = _one_axis(a, axis1, "axis1") % nd, _one_axis(a, axis2, "axis2") % nd
    perm[i], perm[j] = perm[j], perm[i]
    return transpose(a, perm)


def broadcast_to(a: ArrayLike, shape: Any) -> Any:  # noqa: A002
    """Broadcast ``a`` to ``shape``."""
    target = _sizes(shape, "shape")
    src = _ops.shape_of(a)
    try:
        ok = _np.broadcast_shapes(src, target) == target
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"broadcast_to: cannot broadcast shape {src} to {target}")
    if target == src:
        return a
    return _ops.broadcast_to(a, shape=target)


def expand_dims(a: ArrayLike, axis: Any) -> Any:
    """Insert unit axes at ``axis`` (positions in the result)."""
    n = 1 if isinstance(axis, (int, _np.integer)) else len(axis)
    nd = ndim(a) + n
    return _ops.expand_dims(a, axis=tuple(sorted(i - nd for i in _axis_list(a, axis, "axis", n))))


def squeeze(a: ArrayLike, axis: Any = None) -> Any:
    """Remove unit axes (all of them by default)."""
    s = shape(a)
    if axis is None:
        axes = tuple(i - len(s) for i, d in enumerate(s) if d == 1)
    else:
        axes = _axis_tuple(a, axis)
        for ax in axes:
            if s[ax] != 1:
                raise ValueError(f"squeeze: axis {ax} has size {s[ax]}, not 1")
    if not axes:
        return a
    return _ops.squeeze(a, axis=axes)


def flip(a: ArrayLike, axis: Any = None) -> Any:
    """Reverse the order of elements along ``axis`` (all axes by default)."""
    return _ops.flip(a, axis=_axis_tuple(a, axis))


def concatenate(arrays: Sequence[ArrayLike], axis: int | None = 0) -> Any:
    """Join arrays along an existing axis."""
    arrays = list(arrays)
    if not arrays:
        raise ValueError("concatenate: need at least one array")
    if axis is None:  # the arrays flattened, then joined
        arrays = [reshape(x, (-1,)) for x in arrays]
        axis = 0
    return _ops.concatenate(*arrays, axis=_one_axis(arrays[0], axis))


def stack(arrays: Sequence[ArrayLike], axis: int = 0) -> Any:
    """Join arrays along a new axis."""
    arrays = list(arrays)
    if not arrays:
        raise ValueError("stack: need at least one array")
    return _ops.stack(*arrays, axis=_one_axis(arrays[0], axis, extra=1))


def hstack(arrays: Sequence[ArrayLike]) -> Any:
    """Concatenate along the first axis for 1-D inputs, else the second."""
    arrays = [reshape(a, (1,)) if ndim(a) == 0 else a for a in arrays]
    if not arrays:
        raise ValueError("hstack: need at least one array")
    return concatenate(arrays, axis=0 if ndim(arrays[0]) == 1 else 1)


def vstack(arrays: Sequence[ArrayLike]) -> Any:
    """Stack 1-D inputs as rows, or concatenate along the first axis."""
    arrays = [reshape(a, (1, -1)) if ndim(a) <= 1 else a for a in arrays]
    return concatenate(arrays, axis=0)


def take(a: ArrayLike, indices: Any, axis: int | None = None, out: Any = None,
         mode: str = "raise") -> Any:
    """Elements of ``a`` at integer ``indices`` along ``axis`` (of the flattened array if None);
    ``mode`` ``"wrap"`` or ``"clip"`` brings indices out of range back, as NumPy's."""
    _refuse_out("take", out)
    idx = _np.asarray(_read_values(indices))  # a traced index steers (sparsity: local)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"take: indices must be integers, got dtype {idx.dtype}")
    if mode != "raise":
        n = size(a) if axis is None else shape(a)[_one_axis(a, axis)]
        if mode == "wrap":
            idx = idx % builtins.max(n, 1)
        elif mode == "clip":
            idx = _np.clip(idx, 0, builtins.max(n - 1, 0))
        else:
            raise ValueError(f"take: mode must be 'raise', 'wrap' or 'clip', got {mode!r}")
    if axis is None:
        return _ops.take(reshape(a, (-1,)), indices=idx, axis=-1)
    return _ops.take(a, indices=idx, axis=_one_axis(a, axis))


# ---------------------------------------------------------------- npcov: the rest of NumPy (dualtape/npext)
# Imported last: the npext modules build on the functions above.

from .npext import passthrough as _passthrough  # noqa: E402, F401, I001
from .npext.construct import (  # noqa: E402, F401
    append, array, asarray, column_stack, dstack, full, full_like, gradient, linspace, select,
)
from .npext.elementwise import (  # noqa: E402, F401
    acos, acosh, angle, arccos, arccosh, arcsin, arcsinh, arctan2, arctanh, around, asin, asinh,
    astype, atan, atan2, atanh, cbrt, ceil, conj, conjugate, copy, copysign, deg2rad, degrees,
    exp2, fabs, fix, float_power,
    floor, fmax, fmin, fmod, hypot, imag, log2, log10, logaddexp, logaddexp2, mod, nan_to_num,
    rad2deg, radians, real, real_if_close, remainder, rint, round, sinc, trunc,
)
from .npext.numerics import (  # noqa: E402, F401
    convolve, corrcoef, correlate, cov, ediff1d, heaviside, interp, ldexp, median, nanmedian, nanpercentile,
    nanquantile, percentile, polyval, ptp, quantile, trapezoid, vander,
)
from .npext.passthrough import (  # noqa: E402, F401
    all, any, argmax, argmin, argpartition, argsort, argwhere, allclose, array_equal, array_equiv,
    count_nonzero, digitize, empty_like, equal, flatnonzero, floor_divide, greater, greater_equal,
    isclose, iscomplex, iscomplexobj, isfinite, isinf, isnan, isneginf, isposinf, isreal, isscalar,
    less, less_equal, logical_and, logical_not, logical_or, logical_xor, nonzero, not_equal,
    ones_like, result_type, searchsorted, signbit, zeros_like,
)
from .npext.indexing import getitem  # noqa: E402, F401
from .npext.reductions import (  # noqa: E402, F401
    average, cumprod, nanmax, nanmean, nanmin, nanstd, nansum, nanvar, std, var, with_keywords,
)
from .npext.shapes import (  # noqa: E402, F401
    array_split, atleast_1d, atleast_2d, atleast_3d, broadcast_arrays, diff, dsplit, fliplr,
    flipud, hsplit, meshgrid, pad,
    partition, permute_dims, repeat, roll, rollaxis, rot90, sort, split, take_along_axis, tile,
    unique, vsplit,
)

pow = power  # noqa: A001
PASSTHROUGH = _passthrough.NAMES


# ---------------------------------------------------------------- linear algebra and einsum
# (the "linalg" block: dualtape.numpy.linalg, einsum, tensordot, matrix helpers)

from . import numpy_linalg as linalg  # noqa: E402, F401  (dualtape.numpy.linalg)
from .numpy_matrix import (  # noqa: E402, F401  (re-exported)
    cross,
    diag,
    diagonal,
    einsum,
    kron,
    tensordot,
    trace,
    tril,
    triu,
)
