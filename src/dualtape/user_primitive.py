"""``dt.primitive``: a primitive of the user's own in the registry, like the built-in ones.

Its JVP and VJP rules are the user's, so each is wrapped to refuse an answer of the wrong
shape (JAX refuses one too): a wrong shape would otherwise broadcast into a silently wrong
derivative further on.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from .argchecks import dtype_of
from .ops import ndim_of, shape_of, size_of
from .registry import Primitive, register

__all__ = ["primitive"]


def _as_rules(rules: Any, what: str) -> Any:
    if rules is None or callable(rules):
        return (rules,)
    if isinstance(rules, (tuple, list)):
        return tuple(rules)
    raise TypeError(f"{what}: expected a callable, None, or a tuple of them, got {rules!r}")


def _shape_checked(rule: Callable, name: str, kind: str, k: int, broadcasting: bool,
                   saves: str) -> Callable:
    """``rule`` (argument ``k``'s JVP or VJP rule of user primitive ``name``), refusing an
    answer of the wrong shape: a JVP rule gives the output's shape, a VJP rule its argument's,
    each after the batch axes of vector mode (a broadcasting primitive's rule may give any
    shape that broadcasts to the output's, or that sums back to the argument's). The tape
    keeps both the answer and the arguments for the check; a VJP rule gets what ``saves``
    names (``None`` for the other), a JVP rule both, as the forward engine has them."""
    vjp = kind == "VJP"
    gives_ans, gives_args = not vjp or saves != "args", not vjp or saves != "ans"

    def checked(d: Any, ans: Any, *args: Any, **params: Any) -> Any:
        out = rule(d, ans if gives_ans else None,
                   *(args if gives_args else (None,) * len(args)), **params)
        zero = (type(out) is float or type(out) is int) and out == 0
        if out is None or (dtype_of(out) is None and not zero):
            raise TypeError(f"primitive {name!r}: the {kind} rule of argument {k} returned "
                            f"{type(out).__name__}; expected an array or a float")
        got, a_shape = shape_of(out), shape_of(ans)
        if kind == "JVP":  # a broadcasting primitive's tangent arrives padded to the output's
            nb = max(0, ndim_of(d) - len(a_shape)) if broadcasting else ndim_of(d) - ndim_of(args[k])
            want = shape_of(d)[:nb] + a_shape
        else:
            nb = ndim_of(d) - len(a_shape)
            want = shape_of(d)[:max(nb, 0)] + shape_of(args[k])
        if zero:  # a Python zero stands for zeros, as for custom_jvp and custom_vjp
            like = ans if kind == "JVP" else args[k]
            return np.zeros(want, getattr(like, "dtype", None) or np.float64)
        if got == want or (broadcasting and got[:nb] == want[:nb]
                           and _fits(got[nb:], want[nb:], kind)):
            return out
        what = "the output's" if kind == "JVP" else f"argument {k}'s"
        batch = f" after {nb} batch axes" if nb > 0 else ""
        raise ValueError(f"primitive {name!r}: the {kind} rule of argument {k} returned shape "
                         f"{got}; expected {what} shape {want[max(nb, 0):]}{batch}")

    return functools.wraps(rule)(checked)


def _fits(got: tuple, want: tuple, kind: str) -> bool:
    """Whether a broadcasting rule's shape ``got`` broadcasts to the output's ``want`` (JVP),
    or sums back to the argument's ``want`` (VJP)."""
    try:
        return np.broadcast_shapes(got, want) == (want if kind == "JVP" else got)
    except ValueError:
        return False


def primitive(name: str, impl: Callable, jvp: Any = None, vjp: Any = None,
              flops: Callable[..., int] | None = None, saves: str = "args",
              jax_impl: Callable | None = None, broadcasting: bool = False,
              linear: bool = False) -> Callable[..., Any]:
    """Add a primitive to the registry and return the function that applies it.

    ``impl(*args, **params)`` computes it with NumPy. ``jvp`` and ``vjp`` hold one rule per
    positional argument (a single callable for one argument; ``None``: not differentiable):
    ``jvp_rule(t, ans, *args, **params)`` gives that argument's contribution to the output
    tangent and ``vjp_rule(g, ans, *args, **params)`` that argument's cotangent. Write the
    rules with ``dualtape.numpy`` ops so they differentiate again, and let them broadcast
    over leading batch axes of ``t``/``g`` (vector mode). ``flops(ans, *args, **params)`` is
    the cost model (default: one per output element); ``saves`` says what the VJP reads
    ("args", "ans", "both", "meta"); ``jax_impl`` runs it on JAX arrays.

    The primitive is counted by ``dt.count``, drawn by ``dt.draw`` and checked by
    ``dt.check_grads``/``dt.check_against_jax`` like the built-in ones.
    """
    jvps, vjps = _as_rules(jvp, "jvp"), _as_rules(vjp, "vjp")
    if len(jvps) != len(vjps):
        raise ValueError(f"primitive {name!r}: {len(jvps)} JVP rule(s) but {len(vjps)} VJP "
                         "rule(s); give one of each per argument")
    for k, (j, v) in enumerate(zip(jvps, vjps, strict=True)):
        if (j is None) != (v is None):
            raise ValueError(f"primitive {name!r}: argument {k} has a "
                             f"{'VJP' if j is None else 'JVP'} rule but no "
                             f"{'JVP' if j is None else 'VJP'} rule")

    if jax_impl is None:
        def jax_impl(*args: Any, **params: Any) -> Any:
            raise NotImplementedError(f"primitive {name!r} has no JAX implementation; pass "
                                      "jax_impl= to dt.primitive")

    if saves not in ("args", "ans", "both", "meta"):
        raise ValueError(f"saves: expected 'args', 'ans', 'both' or 'meta', got {saves!r}")
    jvps = tuple(None if r is None else _shape_checked(r, name, "JVP", k, broadcasting, saves)
                 for k, r in enumerate(jvps))
    vjps = tuple(None if r is None else _shape_checked(r, name, "VJP", k, broadcasting, saves)
                 for k, r in enumerate(vjps))
    kept = "meta" if saves == "meta" else "both"  # the checks read both shapes
    prim = register(Primitive(name, impl, jvp=jvps, vjp=vjps,
                              flops=flops or (lambda ans, *a, **p: size_of(ans)), saves=kept,
                              broadcasting=broadcasting, linear=linear, jax_impl=jax_impl))

    def apply(*args: Any, **params: Any) -> Any:
        return prim.bind(*args, **params)

    apply.__name__ = apply.__qualname__ = name
    apply.__doc__ = f"Apply the user primitive ``{name}``."
    apply.primitive = prim  # type: ignore[attr-defined]
    return apply
