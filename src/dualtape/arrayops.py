"""Python operators and NumPy protocol methods shared by ``Dual`` and ``TapeValue``."""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from . import dispatch, ops
from . import numpy as dnp
from .dispatch import held, method2, read_values

__all__ = ["ArrayOps", "numpy_namesakes"]


def numpy_namesakes(module: Any, np_module: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """``module``'s own functions keyed by the ``__name__`` of their ``np_module`` namesakes:
    (functions, ufuncs). NumPy's objects re-exported as they are (``arange``, ``zeros``) are
    left out: NumPy's function is the one called, so dualtape has nothing to add; so are
    NumPy functions that never dispatch on their arguments' types."""
    functions: dict[str, Any] = {}
    ufuncs: dict[str, Any] = {}
    for name in dir(module):
        fn, np_fn = getattr(module, name), getattr(np_module, name, None)
        if (name.startswith("_") or np_fn is None or fn is np_fn or not callable(fn)
                or isinstance(fn, type) or not callable(np_fn) or isinstance(np_fn, type)):
            continue
        if not isinstance(np_fn, np.ufunc) and not hasattr(np_fn, "_implementation"):
            continue  # never dispatched to __array_function__ (numpy.array, numpy.full)
        table = ufuncs if isinstance(np_fn, np.ufunc) else functions
        key = getattr(np_fn, "__name__", name)
        if key == name:  # an alias (permute_dims is numpy.transpose) yields to the exact name
            table[key] = fn
        else:
            table.setdefault(key, fn)
    return functions, ufuncs


# Every function of dualtape.numpy with a NumPy namesake answers NumPy's call on a traced value.
_FUNCTIONS, _UFUNCS = numpy_namesakes(dnp, np)
_UFUNCS["positive"] = lambda x: x

# ---- the "linalg" block: numpy.linalg functions, einsum, tensordot and matrix helpers
_LINALG = numpy_namesakes(dnp.linalg, np.linalg)[0]
_LINALG.update({"eig": dnp.linalg.unsupported_eig, "eigvals": dnp.linalg.unsupported_eig})
# ---- end of the "linalg" block


def _lookup(func: Any) -> Any:
    name = getattr(func, "__name__", "")
    if getattr(func, "__module__", "") == "numpy.linalg":
        return _LINALG.get(name)
    return _FUNCTIONS.get(name)


def _fn_name(func: Any) -> str:
    return f"numpy.{getattr(func, '__name__', repr(func))}"


def _no_derivative(op: Any, reflected: bool = False) -> Any:
    """The operator ``op`` on the concrete values (no derivative), as a method."""

    def method(self: Any, other: Any) -> Any:
        a, b = dnp.concrete(self), dnp.concrete(other)
        out = op(b, a) if reflected else op(a, b)
        return held(out, (self, other)) if dispatch.holding else out

    return method


class ArrayOps:
    """Operators for traced values: each calls the matching ``dualtape.numpy`` op."""

    __slots__ = ()
    __array_priority__ = 1000.0
    __hash__ = object.__hash__

    # arithmetic: the ops' routing with self known to be traced (dispatch.method2)
    __add__ = method2(ops.add.primitive)
    __sub__ = method2(ops.sub.primitive)
    __mul__ = method2(ops.mul.primitive)
    __truediv__ = method2(ops.div.primitive)
    __radd__ = method2(ops.add.primitive, reflected=True)
    __rsub__ = method2(ops.sub.primitive, reflected=True)
    __rmul__ = method2(ops.mul.primitive, reflected=True)
    __rtruediv__ = method2(ops.div.primitive, reflected=True)

    def __pow__(self, other: Any) -> Any:
        return dnp.power(self, other)

    def __rpow__(self, other: Any) -> Any:
        return ops.power(other, self)

    def __mod__(self, other: Any) -> Any:
        return dnp.remainder(self, other)

    def __rmod__(self, other: Any) -> Any:
        return dnp.remainder(other, self)

    def __floordiv__(self, other: Any) -> Any:
        return dnp.floor_divide(self, other)  # piecewise constant: no derivative, as in JAX

    def __rfloordiv__(self, other: Any) -> Any:
        return dnp.floor_divide(other, self)

    def __divmod__(self, other: Any) -> Any:
        return dnp.floor_divide(self, other), dnp.remainder(self, other)

    def __rdivmod__(self, other: Any) -> Any:
        return dnp.floor_divide(other, self), dnp.remainder(other, self)

    def __matmul__(self, other: Any) -> Any:
        return dnp.matmul(self, other)

    def __rmatmul__(self, other: Any) -> Any:
        return dnp.matmul(other, self)

    def __neg__(self) -> Any:
        return ops.neg(self)

    def __pos__(self) -> Any:
        return self

    def __abs__(self) -> Any:
        return ops.abs_(self)

    def __getitem__(self, index: Any) -> Any:
        return dnp.getitem(self, index)

    def __setitem__(self, index: Any, value: Any) -> None:
        raise TypeError(
            "a traced value cannot be changed in place (x[...] = v would lose the derivative); "
            "build a new one, e.g. dnp.where(mask, v, x) or dnp.concatenate([x[:i], v, x[i + 1:]])")

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    # comparisons and the bitwise operators (of masks) have no derivative: they act on the
    # concrete values (held while a sparsity pattern is detected: see dispatch.held)
    __lt__ = _no_derivative(operator.lt)
    __le__ = _no_derivative(operator.le)
    __gt__ = _no_derivative(operator.gt)
    __ge__ = _no_derivative(operator.ge)
    __eq__ = _no_derivative(operator.eq)  # type: ignore[assignment]
    __ne__ = _no_derivative(operator.ne)  # type: ignore[assignment]
    __and__, __rand__ = _no_derivative(operator.and_), _no_derivative(operator.and_, True)
    __or__, __ror__ = _no_derivative(operator.or_), _no_derivative(operator.or_, True)
    __xor__, __rxor__ = _no_derivative(operator.xor), _no_derivative(operator.xor, True)

    def __invert__(self) -> Any:
        out = ~dnp.concrete(self)
        return held(out, (self,)) if dispatch.holding else out

    # conversions of the concrete value
    def __float__(self) -> float:
        raise TypeError(
            "float() of a traced value: the derivative would be lost (math functions and "
            "writing it into a NumPy array call float()). Keep it traced with dualtape.numpy "
            "functions (dnp.stack or dnp.array to build arrays), or take dnp.concrete(x) where "
            "a constant is meant")

    def __int__(self) -> int:
        return int(read_values(self))

    def __bool__(self) -> bool:
        return bool(read_values(self))

    def __len__(self) -> int:
        s = self.shape
        if not s:
            raise TypeError("len() of a 0-d traced value")
        return s[0]

    # array attributes
    @property
    def shape(self) -> tuple[int, ...]:
        return ops.shape_of(self.value)  # type: ignore[attr-defined]

    @property
    def ndim(self) -> int:
        return ops.ndim_of(self.value)  # type: ignore[attr-defined]

    @property
    def size(self) -> int:
        return ops.size_of(self.value)  # type: ignore[attr-defined]

    @property
    def dtype(self) -> np.dtype:
        return getattr(self.value, "dtype", np.dtype(np.float64))  # type: ignore[attr-defined]

    @property
    def T(self) -> Any:
        return dnp.transpose(self)

    @property
    def mT(self) -> Any:  # noqa: N802  (NumPy's name)
        return dnp.swapaxes(self, -1, -2)

    @property
    def real(self) -> Any:
        return dnp.real(self)

    @property
    def imag(self) -> Any:
        return dnp.imag(self)

    def any(self, axis: Any = None, out: Any = None, keepdims: bool = False) -> Any:
        return dnp.any(self, axis=axis, out=out, keepdims=keepdims)

    def all(self, axis: Any = None, out: Any = None, keepdims: bool = False) -> Any:
        return dnp.all(self, axis=axis, out=out, keepdims=keepdims)

    # array methods
    # NumPy's positional order: x.sum(axis, dtype, out, keepdims, initial, where)
    def sum(self, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False,
            initial: Any = None, where: Any = None) -> Any:
        return dnp.sum(self, axis, dtype, out, keepdims, initial, where)

    def mean(self, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False,
             *, where: Any = None) -> Any:
        return dnp.mean(self, axis, dtype, out, keepdims, where=where)

    def prod(self, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False,
             initial: Any = None, where: Any = None) -> Any:
        return dnp.prod(self, axis, dtype, out, keepdims, initial, where)

    def max(self, axis: Any = None, out: Any = None, keepdims: bool = False,
            initial: Any = None, where: Any = None) -> Any:
        return dnp.max(self, axis, out, keepdims, initial, where)

    def min(self, axis: Any = None, out: Any = None, keepdims: bool = False,
            initial: Any = None, where: Any = None) -> Any:
        return dnp.min(self, axis, out, keepdims, initial, where)

    def reshape(self, *shape: Any, order: str = "C") -> Any:
        return dnp.reshape(self, shape[0] if len(shape) == 1 else shape, order=order)

    def transpose(self, *axes: Any) -> Any:
        return dnp.transpose(self, (axes[0] if len(axes) == 1 else axes) or None)

    def ravel(self, order: str = "C") -> Any:
        return dnp.ravel(self, order)

    flatten = ravel

    def dot(self, other: Any) -> Any:
        return dnp.dot(self, other)

    def squeeze(self, axis: Any = None) -> Any:
        return dnp.squeeze(self, axis)

    def cumsum(self, axis: int | None = None, dtype: Any = None, out: Any = None) -> Any:
        return dnp.cumsum(self, axis, dtype, out)

    def clip(self, min: Any = None, max: Any = None) -> Any:  # noqa: A002 (NumPy's names)
        return dnp.clip(self, min, max)

    # npcov: more array methods
    def var(self, axis: Any = None, dtype: Any = None, out: Any = None, ddof: int = 0,
            keepdims: bool = False, *, where: Any = None) -> Any:
        return dnp.var(self, axis, dtype, out, ddof, keepdims, where=where)

    def std(self, axis: Any = None, dtype: Any = None, out: Any = None, ddof: int = 0,
            keepdims: bool = False, *, where: Any = None) -> Any:
        return dnp.std(self, axis, dtype, out, ddof, keepdims, where=where)

    def cumprod(self, axis: int | None = None, dtype: Any = None, out: Any = None) -> Any:
        return dnp.cumprod(self, axis, dtype, out)

    def astype(self, dtype: Any, copy: bool = True) -> Any:
        return dnp.astype(self, dtype)

    def copy(self) -> Any:
        return self  # immutable: the copy is the value itself, derivative and all

    def round(self, decimals: int = 0) -> Any:
        return dnp.round(self, decimals)

    def __round__(self, ndigits: int | None = None) -> Any:
        return dnp.round(self, 0 if ndigits is None else ndigits)  # traced, as JAX's round(x)

    def repeat(self, repeats: Any, axis: int | None = None) -> Any:
        return dnp.repeat(self, repeats, axis)

    def swapaxes(self, axis1: int, axis2: int) -> Any:
        return dnp.swapaxes(self, axis1, axis2)

    def conj(self) -> Any:
        return dnp.conj(self)

    def argmax(self, axis: int | None = None) -> Any:
        return dnp.argmax(self, axis)

    def argmin(self, axis: int | None = None) -> Any:
        return dnp.argmin(self, axis)

    def argsort(self, axis: int | None = -1) -> Any:
        return dnp.argsort(self, axis)

    def trace(self, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
        return dnp.trace(self, offset, axis1, axis2)

    def diagonal(self, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
        return dnp.diagonal(self, offset, axis1, axis2)

    def take(self, indices: Any, axis: int | None = None, out: Any = None,
             mode: str = "raise") -> Any:
        return dnp.take(self, indices, axis, out, mode)

    def item(self, *args: Any) -> Any:
        raise TypeError(
            "item() of a traced value: the derivative would be lost. Index it (x[()] or "
            "x[i]) to keep it traced, or take dnp.concrete(x).item() where a constant is meant")

    def tolist(self) -> Any:
        raise TypeError(
            "tolist() of a traced value: the derivative would be lost. Keep it an array "
            "(iterate over it, or index it), or take dnp.concrete(x).tolist() for constants")

    # NumPy protocols: np.sin(traced), np.sum(traced), ...
    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        name = ufunc.__name__
        if method == "__call__" and not kwargs:
            if name in _UFUNCS:  # comparisons too: dnp's, which hand their mask to held()
                return _UFUNCS[name](*inputs)
        if method == "__call__" and name == "divmod" and not kwargs:
            return dnp.floor_divide(*inputs), dnp.remainder(*inputs)
        if any(isinstance(o, np.ndarray) for o in kwargs.get("out") or ()):
            raise TypeError(f"numpy.{name}: a traced value cannot be written into a NumPy array "
                            "in place (out=, or A += x with A a NumPy array): the derivative "
                            "would be lost. Write A = A + x, or build the array with "
                            "dualtape.numpy (dnp.stack, dnp.concatenate, dnp.where)")
        raise TypeError(
            f"dualtape does not support numpy.{name}"
            + (f".{method}" if method != "__call__" else "")
            + (f" with keyword arguments {sorted(kwargs)}" if kwargs else "")
            + " on traced values; use the functions of dualtape.numpy")

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        fn = _lookup(func)
        if fn is None:
            raise TypeError(f"dualtape does not support {_fn_name(func)} on traced values; "
                            "use the functions of dualtape.numpy")
        return fn(*args, **kwargs)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        raise TypeError(
            "a traced value cannot be converted to a NumPy array: the derivative would be lost. "
            "Use dualtape.numpy functions instead of NumPy ones (or dnp.concrete(x) where a constant "
            "is meant)")
