"""What the ``npext`` modules share: JAX dispatch and concrete values."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from ..dispatch import concrete as plain_value
from ..dispatch import read_values as _read_values
from ..registry import Tracer


def _is_jax(a: Any) -> bool:
    mod = type(a).__module__
    return mod.startswith("jax") or mod.startswith("jaxlib")


def has_jax(args: Any) -> bool:
    """Whether a JAX array or tracer sits anywhere in ``args`` (lists and tuples searched)."""
    for a in args:
        if isinstance(a, (list, tuple)):
            if has_jax(a):
                return True
        elif _is_jax(a):
            return True
    return False


def jax_twin(name: str | None = None) -> Callable[[Callable], Callable]:
    """Decorator: on JAX arguments, call ``jax.numpy.<name>`` (the function's own name by default)."""

    def wrap(fn: Callable) -> Callable:
        jname = name or fn.__name__

        @functools.wraps(fn)
        def f(*args: Any, **kwargs: Any) -> Any:
            if has_jax(args) or has_jax(tuple(kwargs.values())):
                import jax.numpy as jnp

                return getattr(jnp, jname)(*args, **kwargs)
            return fn(*args, **kwargs)

        return f

    return wrap


def concrete(x: Any) -> Any:
    """The plain value under any number of tracing levels (lists and tuples mapped)."""
    if isinstance(x, (list, tuple)):
        return type(x)(concrete(v) for v in x)
    return plain_value(x)


def read_values(x: Any) -> Any:
    """:func:`concrete` for values that steer the computation (``dispatch.read_values``)."""
    if isinstance(x, (list, tuple)):
        return type(x)(read_values(v) for v in x)
    return _read_values(x)


def is_traced(x: Any) -> bool:
    return isinstance(x, Tracer)


def unsupported(fn: str, **given: Any) -> None:
    """Raise for NumPy keyword arguments that dualtape does not implement (given not None)."""
    bad = sorted(k for k, v in given.items() if v is not None)
    if bad:
        raise NotImplementedError(f"{fn}: the argument(s) {', '.join(bad)} are not supported "
                                  "by dualtape.numpy")


def refuse_out(fn: str, out: Any) -> None:
    """Raise for NumPy's ``out=`` (given): a traced value cannot be written into an array."""
    if out is not None:
        raise TypeError(f"{fn}: out= is not supported (a traced value cannot be written into "
                        "an array); use the returned value")
