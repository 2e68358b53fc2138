"""Sparsity detection: a third interpretation of the registry, beside dual numbers and the tape.

A :class:`SparsityTracer` carries a value and, for each of its elements, the set
of inputs it may depend on (a boolean sparse matrix of shape ``(size, n)``, see
:mod:`dualtape.sparse.rules`).  Every primitive goes through ``bind`` as usual; the
tracer is a :class:`dualtape.dispatch.Tracer`: the shared ``process`` unwraps its
level and evaluates the primal, and :meth:`SparsityTracer.extend` derives the output's
dependencies from the primitive's ``sparsity`` declaration.  The Jacobian's pattern is the
dependency matrix of the output.

The pattern is *global* (valid at every input) as long as the function's control flow
does not depend on the input's values: comparisons, ``float(x)`` and ``bool(x)`` read
the value at the point given, and a branch taken on it, or an index computed from it
(``dnp.argsort``, ``argmax``, a mask ``x > 0``), makes the pattern local.  dualtape's own
functions that pick elements by value (``sort``, ``partition``, the quantiles,
``interp`` at traced points) go through ``pick_along``, whose pattern is the whole axis.
It may depend on the values of the other (non-differentiated) arguments.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from .. import dispatch
from ..api import grad, new_level
from ..argchecks import check_callable
from ..argchecks import dynamic as _dynamic
from ..argchecks import normalize_argnums as _argnums
from ..argchecks import substitute as _substitute
from ..arrayops import ArrayOps
from ..dispatch import read_values
from ..ops import shape_of, size_of
from ..registry import Primitive, Tracer
from ..tree import flatten
from .rules import empty, rule_for

__all__ = ["SparsityTracer", "hessian_sparsity", "jacobian_sparsity"]


class SparsityTracer(ArrayOps, Tracer):
    """A value and its dependency matrix (boolean CSR, one row per element) at ``level``."""

    __slots__ = ("value", "deps")

    def __init__(self, value: Any, deps: sp.csr_array, level: int) -> None:
        self.value = value
        self.deps = deps
        self.level = level

    def __float__(self) -> float:
        return float(read_values(self))  # the value at the point given, as the module says

    def __index__(self) -> int:
        return operator.index(read_values(self))

    def on_read(self) -> None:
        """The value steers the computation (``dispatch.read_values``)."""
        _read_values.add(self.level)

    def __array__(self, dtype: Any = None, copy: Any = None) -> Any:
        if self.deps.nnz:  # a value with a derivative: refused, as for every traced value
            return ArrayOps.__array__(self, dtype, copy)
        # a held value (a mask, a comparison): its values, read as steering the function
        return np.asarray(read_values(self), dtype)

    def __hash__(self) -> int:
        if self.deps.nnz == 0 and shape_of(self.value) == ():  # a held bool or int: a dict key
            return hash(read_values(self).item() if hasattr(self.value, "item") else self.value)
        return object.__hash__(self)

    def hold(self, value: Any) -> SparsityTracer:
        """A value computed from this one with no derivative (a comparison, a mask), held
        with no dependencies: a branch on it or an index made from it then marks the
        pattern local (``on_read``), and a product with it does not read its zeros."""
        return SparsityTracer(value, empty(size_of(value), self.deps.shape[1]), self.level)

    def __repr__(self) -> str:
        return (f"SparsityTracer(shape={shape_of(self.value)}, "
                f"nnz={self.deps.nnz}, level={self.level})")

    def extend(self, prim: Primitive, ans: Any, vals: tuple, mine: list, params: Any) -> Any:
        """Combine this level's dependency matrices by the primitive's declaration
        (``dispatch.Tracer.process`` has unwrapped and evaluated)."""
        deps: list[Any] = [None] * len(vals)
        rules = None if prim.variadic else prim.jvp
        for i, a in mine:
            # an argument whose JVP rule is None has zero derivative: it adds no dependency
            if rules is None or (i < len(rules) and rules[i] is not None):
                deps[i] = a.deps
        if all(d is None for d in deps):  # no derivative (floor, sign): the values may steer
            return self.hold(ans)
        out = rule_for(prim)(prim, ans, list(vals), deps, params)
        if out is None:
            return ans
        return SparsityTracer(ans, out, self.level)


#: Levels whose function let its input's values steer it (``bool()``, ``int()``, indices
#: from ``argmax`` or ``nonzero``, a boolean mask): their pattern may hold there only.
_read_values: set[int] = set()


def _output_rows(o: Any, level: int, n: int) -> sp.csr_array:
    if type(o) is SparsityTracer and o.level == level:
        return o.deps
    return empty(size_of(o), n)


def jacobian_sparsity(fun: Callable, *args: Any,
                      argnums: int | Sequence[int] = 0) -> sp.csr_array:
    """The sparsity pattern of ``fun``'s Jacobian, detected by tracing dependencies.

    Returns a boolean ``scipy.sparse.csr_array`` of shape ``(m, n)``: entry ``(i, j)``
    is True when output element ``i`` may depend on input element ``j``.  Inputs
    (the arguments picked by ``argnums``) and outputs are flattened in pytree order,
    each leaf in C order.  The pattern contains every nonzero of the Jacobian at every
    input (see the module docstring for the one caveat: value-dependent control flow).
    ``args`` fixes the shapes and the values of the other arguments.
    """
    return detect(fun, args, argnums)[0]


def detect(fun: Callable, args: tuple, argnums: int | Sequence[int]) -> tuple[sp.csr_array, bool]:
    """:func:`jacobian_sparsity`'s pattern, and whether ``fun`` read its input's values as
    data on the way (then the pattern may hold at this input only)."""
    check_callable(fun)
    nums, single = _argnums(argnums, len(args))
    leaves, td = _dynamic(args, nums, single)
    sizes = [size_of(x) for x in leaves]
    n = sum(sizes)
    level = new_level()
    tracers, off = [], 0
    for x, size in zip(leaves, sizes, strict=True):
        deps = sp.eye_array(size, n, k=off, dtype=bool, format="csr")
        tracers.append(SparsityTracer(x, deps, level))
        off += size
    dispatch.holding += 1
    try:
        out = fun(*_substitute(args, nums, single, td, tracers))
    finally:
        dispatch.holding -= 1
        local = level in _read_values
        _read_values.discard(level)
    out_leaves, _ = flatten(out)
    if not out_leaves:
        raise TypeError("fun: returned no arrays; it must return floats or arrays "
                        "(or tuples, lists or dicts of them)")
    rows = [_output_rows(o, level, n) for o in out_leaves]
    pattern = rows[0] if len(rows) == 1 else sp.vstack(rows, format="csr")
    pattern = sp.csr_array(pattern, dtype=bool)
    pattern.sum_duplicates()
    pattern.sort_indices()
    return pattern, local


def hessian_sparsity(fun: Callable, *args: Any,
                     argnums: int | Sequence[int] = 0) -> sp.csr_array:
    """The sparsity pattern of the Hessian of scalar ``fun`` (boolean, symmetric, ``(n, n)``).

    The gradient is computed by dualtape's reverse mode on top of the sparsity tracer,
    so the pattern is that of the Jacobian of the gradient, symmetrised.  Inputs are
    flattened as in :func:`jacobian_sparsity`.
    """
    return detect_hessian(fun, args, argnums)[0]


def detect_hessian(fun: Callable, args: tuple,
                   argnums: int | Sequence[int]) -> tuple[sp.csr_array, bool]:
    """:func:`hessian_sparsity`'s pattern, and whether it may hold at this input only."""
    nums, single = _argnums(argnums, len(args))
    pattern, local = detect(grad(fun, argnums=nums[0] if single else nums), args, argnums)
    sym = sp.csr_array(pattern + pattern.T, dtype=bool)
    sym.sort_indices()
    return sym, local
