"""Jacobians and Hessians with the mode as an argument: ``jacobian`` and ``hessian``.

``jacobian(f, mode=...)`` is ``jacfwd`` or ``jacrev``, or, with ``mode="auto"``, whichever
:func:`dualtape.choose_mode` predicts is cheaper for the arguments it is called with.
``hessian(f, mode=...)`` composes the two engines in any of the four orders.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .api import _split_aux, in_dtype
from .argchecks import check_callable
from .argchecks import dynamic as _dynamic
from .argchecks import normalize_argnums as _argnums
from .custom import NoForwardRule
from .jacobians import check_chunk, jacfwd, jacrev
from .ops import shape_of
from .tree import flatten, unflatten

__all__ = ["HESSIAN_MODES", "JACOBIAN_MODES", "hessian", "jacobian"]

JACOBIAN_MODES = ("auto", "fwd", "rev")
HESSIAN_MODES = ("fwd-fwd", "fwd-rev", "rev-fwd", "rev-rev", "auto")
_ENGINES = {"fwd": jacfwd, "rev": jacrev}


def _check_mode(mode: Any, valid: Sequence[str]) -> str:
    if not isinstance(mode, str) or mode not in valid:
        raise ValueError(f"mode: expected one of {', '.join(map(repr, valid))}, got {mode!r}")
    return mode


def _signature(args: tuple, argnums: int | Sequence[int]) -> tuple:
    """What the auto choice depends on: the structure, shapes and dtypes of the inputs."""
    nums, single = _argnums(argnums, len(args))
    leaves, td = _dynamic(args, nums, single)
    return (nums, td, tuple((shape_of(x), str(getattr(x, "dtype", type(x).__name__)))
                            for x in leaves))


def jacobian(fun: Callable, argnums: int | Sequence[int] = 0, *, mode: str = "auto",
             chunk: int | None = None, has_aux: bool = False) -> Callable[..., Any]:
    """The Jacobian of ``fun``, by the mode you name or by the one predicted to be cheaper.

    Shaped like ``jax.jacfwd``'s (output shape + input shape, nested as output pytree of
    input pytrees, ``argnums`` as in JAX).  ``mode="fwd"`` is ``jacfwd(fun, argnums,
    chunk)``, ``mode="rev"`` is ``jacrev(fun, argnums, chunk)``.  ``mode="auto"`` asks
    :func:`dualtape.choose_mode` on the first call (one counted evaluation, one counted
    JVP and one counted recording and pullback, no timing) and reuses its choice for later
    calls whose inputs have the same structure, shapes and dtypes; an explicit ``chunk``
    then replaces the chunk it picked.  With ``has_aux`` ``fun`` returns ``(output, aux)``
    and the result is ``(jacobian, aux)``, as in JAX (the choice looks at the output alone).
    """
    check_callable(fun)
    _check_mode(mode, JACOBIAN_MODES)
    check_chunk(chunk)
    if mode != "auto":
        return _ENGINES[mode](fun, argnums, chunk=chunk, has_aux=has_aux)
    choices: dict[tuple, Any] = {}

    def jacobian_fun(*args: Any, **kwargs: Any) -> Any:
        from .choice import choose_mode

        key = _signature(args, argnums)
        choice = choices.get(key)
        if choice is None:
            if has_aux:  # the choice costs the output: aux is dropped, as the engines drop it
                bound = lambda *a: _split_aux(fun(*a, **kwargs))[0]  # noqa: E731
            else:
                bound = (lambda *a: fun(*a, **kwargs)) if kwargs else fun
            choice = choices[key] = choose_mode(bound, *args, argnums=argnums)
        k = chunk if chunk is not None else choice.chunk
        return _ENGINES[choice.mode](fun, argnums, chunk=k, has_aux=has_aux)(*args, **kwargs)

    jacobian_fun.__name__ = f"jacobian({getattr(fun, '__name__', 'f')})"
    return jacobian_fun


def _auto_hessian_mode(fun: Callable, args: tuple, kwargs: dict,
                       argnums: int | Sequence[int], has_aux: bool) -> str:
    """``fwd-fwd`` for one scalar input or at least as many outputs as inputs, else
    ``fwd-rev`` (see :func:`hessian`); the outputs are counted on one evaluation."""
    n = n_inputs(args, argnums)
    if n == 1:
        return "fwd-fwd"
    out = fun(*args, **kwargs)
    return "fwd-fwd" if n_outputs(out[0] if has_aux else out) >= n else "fwd-rev"


def _size(shape: tuple[int, ...]) -> int:
    out = 1
    for s in shape:
        out *= s
    return out


def hessian(fun: Callable, argnums: int | Sequence[int] = 0, *,
            mode: str = "fwd-rev", has_aux: bool = False) -> Callable[..., Any]:
    """The Hessian of ``fun`` as one of four compositions of the two modes (outer-inner).

    ``"fwd-rev"`` is ``jacfwd(jacrev(fun))``, JAX's choice and the default: the inner
    reverse pass gives the whole gradient for a constant times one evaluation, and the
    outer forward pass carries all n tangents through it at once (vector mode).
    ``"rev-fwd"`` is ``jacrev(jacfwd(fun))``: a tape of the n-tangent forward pass, then
    n cotangents pulled back through it.  ``"rev-rev"`` is ``jacrev(jacrev(fun))``: a tape
    of a backward pass, the most bookkeeping.  ``"fwd-fwd"`` is ``jacfwd(jacfwd(fun))``:
    n × n tangent pairs, cheapest for tiny n and quadratic beyond.  Every mode gives the
    same Hessian (``argnums`` and shapes as in ``jax.hessian``).

    ``"auto"`` takes ``"fwd-rev"``, and ``"fwd-fwd"`` when the function has one scalar
    input or at least as many output elements m as input elements n (counted on one
    evaluation): ``fwd-rev`` pulls all m cotangents through its inner backward pass, about
    n·m evaluations' worth, where ``fwd-fwd`` carries n² tangent pairs.  Why ``fwd-rev``
    otherwise: in the ``hessian_modes`` study (``results/hessian_modes/summary.md``)
    ``fwd-rev`` and ``rev-rev`` are the two fastest compositions on both problems at the
    largest sizes and grow like n evaluations, within about 15% of each other, while
    ``fwd-fwd`` and ``rev-fwd`` carry n × n tangent pairs wherever two traced values
    meet (7-12× slower on the dense map at n = 128, 60-140× on the MLP at n = 476); of
    the two, ``fwd-rev`` never records a backward pass on a tape.  At
    n = 1 the nested forward pass is one dual-of-dual evaluation with no tape at all.

    With ``has_aux`` ``fun`` returns ``(output, aux)`` and the result is ``(hessian, aux)``,
    as in JAX.
    """
    check_callable(fun)
    _check_mode(mode, HESSIAN_MODES)
    if mode == "fwd-rev":
        return jacfwd(jacrev(fun, argnums, has_aux=has_aux), argnums, has_aux=has_aux)
    if mode != "auto":
        outer, inner = mode.split("-")
        composed = _ENGINES[outer](_ENGINES[inner](fun, argnums, has_aux=has_aux), argnums,
                                   has_aux=has_aux)

        def in_row_dtypes(*args: Any, **kwargs: Any) -> Any:
            # block (i, j) in argument i's dtype, as fwd-rev gives it (fwd-fwd's follows
            # the output's: float64 for a float32 input that meets a float64 constant)
            nums, single = _argnums(argnums, len(args))
            leaves, _ = _dynamic(args, nums, single)
            out = composed(*args, **kwargs)
            blocks, td = flatten(out[0] if has_aux else out)
            k = len(leaves)  # k * k blocks per output leaf: block i is row (i % k²) // k
            hess = unflatten(td, [in_dtype(b, leaves[i % (k * k) // k])
                                  for i, b in enumerate(blocks)])
            return (hess, out[1]) if has_aux else hess

        in_row_dtypes.__name__ = f"hessian({getattr(fun, '__name__', 'f')})"
        return in_row_dtypes

    def hessian_fun(*args: Any, **kwargs: Any) -> Any:
        mode = _auto_hessian_mode(fun, args, kwargs, argnums, has_aux)
        if mode == "fwd-fwd":
            try:
                return hessian(fun, argnums, mode=mode, has_aux=has_aux)(*args, **kwargs)
            except NoForwardRule:  # a custom_vjp: forward over its reverse rule, as the default
                mode = "fwd-rev"
        return hessian(fun, argnums, mode=mode, has_aux=has_aux)(*args, **kwargs)

    hessian_fun.__name__ = f"hessian({getattr(fun, '__name__', 'f')})"
    return hessian_fun


def n_inputs(args: tuple, argnums: int | Sequence[int]) -> int:
    """How many scalars the differentiated arguments hold (n)."""
    nums, single = _argnums(argnums, len(args))
    leaves, _ = _dynamic(args, nums, single)
    return sum(_size(shape_of(x)) for x in leaves)


def n_outputs(out: Any) -> int:
    """How many scalars an output pytree holds (m)."""
    return sum(_size(shape_of(x)) for x in flatten(out)[0])
