"""Jacobians and Hessians: ``jacfwd``, ``jacrev`` and ``hessian``, shaped like JAX's, built on
the engines' entry points of :mod:`dualtape.api` (``jvp_core`` and ``Recording``)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import numpy as dnp
from .api import Recording, _unaliased, in_dtype, jvp_core, recorded
from .argchecks import argnums_for, check_callable, dtype_of, dynamic, is_integer_output, zeros
from .dispatch import Tracer
from .ops import shape_of, size_of
from .tree import unflatten

__all__ = ["basis", "check_chunk", "hessian", "jacfwd", "jacrev"]


def check_chunk(chunk: int | None) -> None:
    if chunk is None:
        return
    if not isinstance(chunk, (int, np.integer)) or isinstance(chunk, bool) or chunk < 1:
        raise ValueError(f"chunk: expected None or a positive int, got {chunk!r}")


def batched_passes(chunk: int | None, dim: int) -> bool:
    """Whether each pass carries a leading axis of directions: not at chunk 1, nor in vector
    mode with one direction (the same computation as chunk 1, so it is run as chunk 1)."""
    return chunk != 1 and dim != 1


def _traced(xs: list) -> bool:
    return any(isinstance(x, Tracer) for x in xs)


def _join(pieces: list, batched: bool) -> Any:
    """Stack per-pass results along a new leading axis (or join batched ones)."""
    if len(pieces) == 1 and batched:
        return pieces[0]
    if _traced(pieces):
        return dnp.concatenate(pieces, 0) if batched else dnp.stack(pieces, 0)
    if batched:
        return np.concatenate(pieces, 0)
    # np.stack's own steps, without its Python wrapper (a few µs on a small Jacobian)
    return np.concatenate([np.asarray(p)[None] for p in pieces], 0)


#: Identity blocks kept read-only between calls (a Jacobian's seeds are the same each call):
#: at most _EYES_KEPT of them, each at most _EYE_MAX_BYTES.
_EYES: dict[tuple, np.ndarray] = {}
_EYES_KEPT, _EYE_MAX_BYTES = 4, 4 * 2**20


def _eye(rows: int, n: int, k: int, dtype: Any) -> np.ndarray:
    key = (rows, n, k, np.dtype(dtype))
    block = _EYES.get(key)
    if block is None:
        block = np.eye(rows, n, k=k, dtype=dtype)
        if block.nbytes <= _EYE_MAX_BYTES:
            block.flags.writeable = False
            if len(_EYES) >= _EYES_KEPT:
                del _EYES[next(iter(_EYES))]
            _EYES[key] = block
    return block


def _writable(x: Any) -> Any:
    """``x``, copied if it is a read-only array (a view of a kept identity block)."""
    return x.copy() if type(x) is np.ndarray and not x.flags.writeable else x


def basis(leaves: list, start: int, stop: int, batched: bool) -> list:
    """Rows ``start:stop`` of the identity, split and shaped like ``leaves`` (read-only)."""
    out, off = [], 0
    for leaf in leaves:
        s = shape_of(leaf)
        n = math.prod(s)
        block = _eye(stop - start, n, start - off, getattr(leaf, "dtype", np.float64))
        out.append(block.reshape((stop - start,) + s) if batched else block.reshape(s))
        off += n
    return out


def _split_columns(full: Any, lead: tuple[int, ...], leaves: list) -> list:
    """Split the last axis of ``full`` (``lead + (n,)``) into blocks shaped like ``leaves``."""
    out, off = [], 0
    for leaf in leaves:
        s = shape_of(leaf)
        n = math.prod(s)
        block = full[..., off:off + n]
        out.append(block.reshape(lead + s) if not isinstance(block, Tracer)
                   else dnp.reshape(block, lead + s))
        off += n
    return out


def _moveaxis0_last(x: Any) -> Any:
    if isinstance(x, Tracer):
        return dnp.moveaxis(x, 0, -1)
    return x.transpose(tuple(range(1, x.ndim)) + (0,))  # np.moveaxis's view, without its wrapper


def jacfwd(fun: Callable, argnums: int | Sequence[int] = 0,
           chunk: int | None = None, has_aux: bool = False) -> Callable[..., Any]:
    """Jacobian by forward mode, shaped like ``jax.jacfwd``'s (output shape + input shape).

    ``chunk=1`` is the textbook method, one JVP per input; ``chunk=k`` pushes
    ``k`` tangents through each pass (vector mode); ``None`` does all inputs in
    one pass.  Every choice gives the same Jacobian.  With ``has_aux`` ``fun``
    returns ``(output, aux)`` and the result is ``(jacobian, aux)``, as in JAX.
    """
    check_callable(fun)
    check_chunk(chunk)

    nums_for = argnums_for(argnums)

    def jacfwd_fun(*args: Any, **kwargs: Any) -> Any:
        nums, single = nums_for(len(args))
        leaves, in_td = dynamic(args, nums, single)
        n = sum(size_of(x) for x in leaves)
        step = n if chunk is None else min(chunk, n)
        stacked = batched_passes(chunk, n)
        per_pass: list[list] = []
        out_td, outs, aux = None, [], None
        for start in range(0, max(n, 1), max(step, 1)):
            stop = min(start + step, n)
            tangents = basis(leaves, start, stop, stacked)
            out_td, outs, t_out, aux = jvp_core(fun, args, nums, single, tangents,
                                                 1 if stacked else 0, has_aux, kwargs=kwargs)
            per_pass.append(t_out)
        fulls = [_join([p[k] for p in per_pass], stacked) if n else zeros(o, (0,))
                 for k, o in enumerate(outs)]
        fulls = _unaliased(fulls, [])  # one traced value returned twice: two arrays of their own
        jac_leaves = []
        for full, o in zip(fulls, outs, strict=True):
            columns = _split_columns(_moveaxis0_last(full), shape_of(o), leaves)
            # the output's dtype, as JAX's (a Python float input's float64 seeds can promote)
            jac_leaves.append(unflatten(in_td, [_writable(_like(c, o)) for c in columns]))
        jac = unflatten(out_td, jac_leaves)
        return (jac, aux) if has_aux else jac

    return jacfwd_fun


def _like(column: Any, out: Any) -> Any:
    """A Jacobian block of forward mode in the dtype of its output ``out`` (zeros of an
    integer output's dtype, as in JAX)."""
    dtype = dtype_of(out)
    if dtype is None or dtype == dtype_of(column):
        return column
    if dtype.kind in "iub":
        return np.zeros(shape_of(column), dtype)
    return in_dtype(column, out)


def jacrev(fun: Callable, argnums: int | Sequence[int] = 0,
           chunk: int | None = None, has_aux: bool = False) -> Callable[..., Any]:
    """Jacobian by reverse mode, shaped like ``jax.jacrev``'s (output shape + input shape).

    The function is recorded once; then ``chunk=1`` runs one backward pass per
    output, ``chunk=k`` pulls ``k`` cotangents through each pass, and ``None``
    all outputs in one pass.  With ``has_aux`` ``fun`` returns ``(output, aux)`` and
    the result is ``(jacobian, aux)``, as in JAX.
    """
    check_chunk(chunk)

    def jacobian(rec: Recording) -> Any:
        outs = rec.out_leaves
        for k, o in enumerate(outs):
            if is_integer_output(o):
                raise TypeError(f"jacrev requires floating-point outputs, but output leaf {k} "
                                f"has dtype {dtype_of(o)}; use vjp for integer outputs")
        m = sum(size_of(o) for o in outs)
        step = m if chunk is None else min(chunk, m)
        stacked = batched_passes(chunk, m)
        per_pass = []
        for start in range(0, max(m, 1), max(step, 1)):
            stop = min(start + step, m)
            per_pass.append(rec.pull(basis(outs, start, stop, stacked), 1 if stacked else 0,
                                     given=False))  # the kept blocks are ours, not the caller's
        # full[j]: (m, *in_shape_j)
        full = [_join([p[j] for p in per_pass], stacked) if m else zeros(x, (0,))
                for j, x in enumerate(rec.in_leaves)]
        jac_leaves, off = [], 0
        for o in outs:
            s = shape_of(o)
            size = math.prod(s)
            blocks = []
            for j, x in enumerate(rec.in_leaves):
                rows = full[j][off:off + size]
                target = s + shape_of(x)
                blocks.append(dnp.reshape(rows, target) if isinstance(rows, Tracer)
                              else _writable(rows.reshape(target)))
            jac_leaves.append(unflatten(rec.in_td, blocks))
            off += size
        jac = unflatten(rec.out_td, jac_leaves)
        return (jac, rec.aux) if has_aux else jac

    return recorded(fun, argnums, has_aux, jacobian)


def hessian(fun: Callable, argnums: int | Sequence[int] = 0, *,
            mode: str = "fwd-rev", has_aux: bool = False) -> Callable[..., Any]:
    """Hessian of ``fun``; by default ``jacfwd(jacrev(fun))``, as in JAX.

    ``mode`` is ``"fwd-rev"``, ``"fwd-fwd"``, ``"rev-fwd"``, ``"rev-rev"`` (outer-inner)
    or ``"auto"``: see :func:`dualtape.modes.hessian`.  With ``has_aux`` ``fun`` returns
    ``(output, aux)`` and the result is ``(hessian, aux)``, as in JAX.
    """
    from .modes import hessian as by_mode

    return by_mode(fun, argnums, mode=mode, has_aux=has_aux)
