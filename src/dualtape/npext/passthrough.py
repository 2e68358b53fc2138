"""NumPy functions with no derivative (integer, boolean or piecewise-constant results):
they run on the concrete values under any tracing and return plain values, as JAX's
``argmax``, comparisons and ``*_like`` constructors give no derivative."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import dispatch
from ..dispatch import held
from ._common import concrete, has_jax, read_values

NAMES = (
    "all", "any", "argmax", "argmin", "argpartition", "argsort", "argwhere", "nonzero",
    "flatnonzero", "count_nonzero", "searchsorted", "floor_divide", "logical_and", "logical_or",
    "logical_not", "logical_xor", "isfinite", "isinf", "isnan", "isneginf", "isposinf",
    "allclose", "isclose", "array_equal", "array_equiv", "greater", "greater_equal", "less",
    "less_equal", "equal", "not_equal", "iscomplexobj", "iscomplex", "isreal", "isscalar",
    "signbit", "zeros_like", "ones_like", "empty_like", "result_type", "digitize",
)

__all__ = list(NAMES)


#: The functions whose answers are positions or counts picked by the values (indices a
#: caller may index with): the sparsity tracer's pattern is then local to the point.
STEERING = frozenset({"argmax", "argmin", "argpartition", "argsort", "argwhere", "nonzero",
                      "flatnonzero", "count_nonzero", "searchsorted", "digitize"})


#: The functions whose answers do not depend on the values (shapes and dtypes only).
VALUE_FREE = frozenset({"zeros_like", "ones_like", "empty_like", "result_type", "isscalar",
                        "iscomplexobj"})


def _constant(name: str) -> Any:
    npfn = getattr(np, name)
    read = read_values if name in STEERING else concrete
    hold = name not in STEERING and name not in VALUE_FREE  # a mask or a test of the values

    def f(*args: Any, **kwargs: Any) -> Any:
        if has_jax(args) or has_jax(tuple(kwargs.values())):
            import jax.numpy as jnp

            return getattr(jnp, name)(*args, **kwargs)
        out = npfn(*read(args), **{k: read(v) for k, v in kwargs.items()})
        return held(out, (*args, *kwargs.values())) if hold and dispatch.holding else out

    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"``numpy.{name}`` of the concrete values (no derivative)."
    return f


all, any, argmax, argmin = map(_constant, ("all", "any", "argmax", "argmin",))  # noqa: A001
argpartition, argsort, argwhere = map(_constant, ("argpartition", "argsort", "argwhere",))
nonzero, flatnonzero, count_nonzero = map(_constant, ("nonzero", "flatnonzero", "count_nonzero",))
searchsorted, floor_divide = map(_constant, ("searchsorted", "floor_divide",))
logical_and, logical_or, logical_not = map(_constant, ("logical_and", "logical_or", "logical_not",))
logical_xor, isfinite, isinf, isnan = map(_constant, ("logical_xor", "isfinite", "isinf", "isnan",))
isneginf, isposinf, allclose = map(_constant, ("isneginf", "isposinf", "allclose",))
isclose, array_equal, array_equiv = map(_constant, ("isclose", "array_equal", "array_equiv",))
greater, greater_equal, less = map(_constant, ("greater", "greater_equal", "less",))
less_equal, equal, not_equal = map(_constant, ("less_equal", "equal", "not_equal",))
iscomplexobj, iscomplex, isreal = map(_constant, ("iscomplexobj", "iscomplex", "isreal",))
isscalar, signbit, zeros_like = map(_constant, ("isscalar", "signbit", "zeros_like",))
ones_like, empty_like, result_type = map(_constant, ("ones_like", "empty_like", "result_type",))
digitize = _constant("digitize")
