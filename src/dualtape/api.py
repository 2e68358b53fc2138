"""The transformations: ``jvp``, ``vjp``, ``grad``, ``value_and_grad`` and ``hvp``, with the
contracts of their JAX namesakes, and the two engines' entry points they share with the
Jacobians (:mod:`dualtape.jacobians`)."""

from __future__ import annotations

import gc
import itertools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import forward
from . import numpy as dnp
from .argchecks import (
    argnums_for,
    check_callable,
    check_direction,
    check_integer_cotangent,
    dynamic,
    flatten_each,
    flatten_named,
    input_leaf,
    is_integer_output,
    leaf_names,
    output_leaf,
    substitute,
    zeros,
)
from .dispatch import Tracer, is_jax
from .forward import Dual
from .ops import shape_of
from .reverse import Tape, TapeValue, backward, collector_paused
from .tree import LEAF, TreeDef, unflatten

__all__ = ["jvp", "vjp", "grad", "value_and_grad", "hvp", "new_level"]

_levels = itertools.count(1)


def _fresh(parity: int) -> int:
    level = next(_levels)
    return level if level % 2 == parity else next(_levels)


def new_level() -> int:
    """A fresh level, higher than every level handed out before, for tracers built by hand
    (``Dual(primal, tangent, new_level())``) or by a new engine: it never closes."""
    return _fresh(0)


def scoped_level() -> int:
    """A fresh level for a forward transformation, which removes it from ``forward.running``
    when it returns. Scoped levels are odd and the others even, so a Dual of an odd level
    that is not running has leaked (``forward``'s check), with no record of closed levels."""
    level = _fresh(1)
    forward.running.add(level)
    return level


def jvp_core(f: Callable, args: tuple, argnums: tuple[int, ...], single: bool, tangents: list,
              nb: int, has_aux: bool = False, kwargs: dict | None = None,
              checked: tuple[list, TreeDef] | None = None):
    leaves, td = checked if checked is not None else dynamic(args, argnums, single)
    level = scoped_level()
    try:
        duals = [Dual(p, t, level, nb) for p, t in zip(leaves, tangents, strict=True)]
        out = f(*substitute(args, argnums, single, td, duals), **(kwargs or {}))
    finally:
        forward.running.discard(level)
    aux = None
    if has_aux:
        out, aux = _split_aux(out)
        aux = _strip(aux, level, leaves)
    out_leaves, out_td = flatten_named(out, "output")
    batch = shape_of(tangents[0])[:nb] if nb and tangents else ()
    primals_out, tangents_out = [], []
    for k, o in enumerate(out_leaves):
        output_leaf(o, f"output leaf {k}")
        if type(o) is Dual or type(o) is TapeValue:  # the type tests inline: every jvp passes
            forward.check_returned(o, level)
        if type(o) is Dual and o.level == level:
            primals_out.append(o.value)
            t, v = o.tangent, o.value
            if isinstance(t, (np.ndarray, np.generic)) and t.dtype != getattr(v, "dtype", t.dtype):
                t = in_dtype(t, v)  # a float32 input met a float64 constant (c - x): JAX's dtype
            tangents_out.append(_detached(t))
        else:
            # not traced here (a constant, a closed-over array): the caller's own copy
            primals_out.append(o.copy() if type(o) is np.ndarray else o)
            tangents_out.append(zeros(o, batch))
    return out_td, primals_out, tangents_out, aux


def _detached(a: Any) -> Any:
    """``a``, copied if it is a view into an array at least twice its size.

    A fused forward kernel keeps a primal and its tangent in one stack (see
    ``Primitive.jvp_fused``); a result that keeps only one of them must not hold the other
    when the other is the larger (a batched tangent's primal is copied out; a tangent that
    is most of its stack is returned as the view, without a copy of its size).
    """
    if type(a) is np.ndarray and isinstance(a.base, np.ndarray) and 2 * a.nbytes <= a.base.nbytes:
        return a.copy()
    return a


def _owner(a: np.ndarray) -> int:
    """The id of the array that owns ``a``'s memory (``a``'s own for an array that does)."""
    while type(a.base) is np.ndarray:
        a = a.base
    return id(a)


def _unaliased(results: list, given: list) -> list:
    """``results`` with a copy of each array that is read-only (a reduction's stride-0
    cotangent, a broadcast) or whose memory belongs to an array of ``given`` or of an earlier
    result (identity-like paths hand the caller's own tangent, cotangent or primal straight
    back; ``add`` hands one cotangent to both operands)."""
    taken = [id(g) if g.base is None else _owner(g) for g in given if type(g) is np.ndarray]
    out = []
    for r in results:
        if type(r) is np.ndarray:
            owner = id(r) if r.base is None else _owner(r)
            if owner in taken or not r.flags.writeable:  # taken: a short list, faster than a set
                r = r.copy()
                owner = id(r)
            taken.append(owner)
        out.append(r)
    return out


def _as_numpy(leaves: list) -> list:
    """``leaves`` with each JAX array made a NumPy array, as the primals are (input_leaf)."""
    return [x if type(x) is np.ndarray or type(x) is float or not is_jax(type(x))
            else np.asarray(x) for x in leaves]


def _same_looking(got: TreeDef, want: TreeDef) -> str:
    """A note for two structures that print alike but differ: a container type of the same
    name from elsewhere (JAX's ``SlogdetResult`` for dualtape's)."""
    if repr(got) != repr(want):
        return ""
    return (" (they print alike, but a container differs in type: a namedtuple or pytree node "
            "of the same name from another module; build it with the output's own type)")


def _split_aux(out: Any) -> tuple[Any, Any]:
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        raise TypeError("has_aux=True requires the function to return a pair (output, aux)")
    return out[0], out[1]


def _strip(tree: Any, level: int, given: list) -> Any:
    """``tree`` with the values traced at ``level`` replaced by their values (for aux), none
    sharing memory with the arrays ``given`` (the inputs) or with one another."""
    leaves, td = flatten_named(tree, "aux")
    out = []
    for x in leaves:
        forward.check_returned(x, level)
        if isinstance(x, Tracer) and x.level == level:
            x = _detached(x.value)  # type: ignore[attr-defined]
        out.append(x)
    return unflatten(td, _unaliased(out, given))


class Recording:
    """One forward pass recorded on a tape, ready for any number of backward passes."""

    def __init__(self, f: Callable, args: tuple, argnums: tuple[int, ...], single: bool,
                 has_aux: bool = False, kwargs: dict | None = None) -> None:
        leaves, td = dynamic(args, argnums, single, allow_empty=True)
        self.tape = tape = Tape(new_level())
        self.inputs = [tape.leaf(p) for p in leaves]
        self.in_leaves = leaves
        self.in_td = td
        was_on = gc.isenabled()  # collector_paused, inline (grad's caller has paused it)
        gc.disable()
        try:
            out = f(*substitute(args, argnums, single, td, self.inputs), **(kwargs or {}))
        finally:
            tape.close()  # also when f raises: a value it leaked must not stay usable
            if was_on:
                gc.enable()
        self.aux = None
        if has_aux:
            out, aux = _split_aux(out)
            self.aux = _strip(aux, tape.level, leaves)
        if type(out) is TapeValue:  # one traced output, the common case: no tree to walk
            out_leaves, self.out_td = [out], LEAF
        else:
            out_leaves, self.out_td = flatten_named(out, "output")
        self.out_index: list[int | None] = []
        self.out_leaves: list[Any] = []
        for k, o in enumerate(out_leaves):
            traced = type(o) is TapeValue and o.tape is tape
            if type(o) is Dual or (type(o) is TapeValue and not traced):
                forward.check_returned(o, tape.level)
            v = o.value if traced else o
            if type(v) is not np.float64 and type(v) is not float:  # those need no check
                output_leaf(v, f"output leaf {k}", tape.level if traced else None)
            self.out_index.append(o.index if traced else None)
            self.out_leaves.append(v)

    def pull(self, cts: list, nb: int = 0, given: bool = True) -> list:
        """Cotangents of the inputs (flat) for cotangents ``cts`` of the outputs (flat);
        ``given``: the caller passed ``cts`` (a result must not share their memory)."""
        index = self.out_index
        if len(index) == 1 and len(cts) == 1:  # one output (grad's): no pairs to filter
            seeds = [(index[0], cts[0])] if index[0] is not None and cts[0] is not None else []
        else:
            seeds = [(i, c) for i, c in zip(index, cts, strict=True)
                     if i is not None and c is not None]
        batch = shape_of(cts[0])[:nb] if nb and cts else ()
        got = backward(self.tape, seeds, nb)
        out = []
        for v, p in zip(self.inputs, self.in_leaves, strict=True):
            g = got[v.index]
            if g is None:
                g = zeros(p, batch)
            elif type(g) is float and (batch or type(p) is not float):  # one for every element
                g = np.full(batch + shape_of(p), g, _F64 if type(p) is float else p.dtype)
            elif type(g) is not float and g.dtype != (p.dtype if type(p) is not float else _F64):
                g = in_dtype(g, p)  # a Python float's is float64, as JAX's (x64) is
            if type(p) is np.ndarray and type(g) is not np.ndarray and not isinstance(g, Tracer):
                g = np.asarray(g)  # a 0-d array's cotangent is a 0-d array (NumPy gave a scalar)
            out.append(g)
        return _unaliased(out, [*cts, *self.in_leaves] if given else self.in_leaves)


_F64 = np.dtype(np.float64)


def in_dtype(g: Any, p: Any) -> Any:
    """Cotangent ``g`` in its input ``p``'s floating dtype, as JAX and PyTorch give it (a
    float32 input's cotangent is float32 even where float64 constants promoted its uses),
    traced or not (a transformation nested outside keeps the derivative)."""
    dtype = _F64 if type(p) is float else getattr(p, "dtype", None)
    if dtype is None or np.dtype(dtype).kind != "f":
        return g
    if isinstance(g, Tracer):
        return dnp.astype(g, dtype)
    return g.astype(dtype) if type(g) is np.ndarray else np.dtype(dtype).type(g)


def recorded(fun: Callable, argnums: int | Sequence[int], has_aux: bool,
             then: Callable[[Recording], Any]) -> Callable[..., Any]:
    """The function that records ``fun`` at its arguments (``argnums`` differentiated) and
    returns ``then(recording)``: ``value_and_grad``'s and ``jacrev``'s."""
    check_callable(fun)
    nums_for = argnums_for(argnums)

    def record(args: tuple, kwargs: dict) -> Any:
        nums, single = nums_for(len(args))
        return then(Recording(fun, args, nums, single, has_aux, kwargs))

    def transformed(*args: Any, **kwargs: Any) -> Any:
        with collector_paused():  # the tape is freed (record returned) before it resumes
            return record(args, kwargs)

    return transformed


# ---------------------------------------------------------------- public API


def jvp(fun: Callable, primals: Sequence[Any], tangents: Sequence[Any],
        has_aux: bool = False) -> tuple[Any, ...]:
    """Forward mode: evaluate ``fun(*primals)`` and its directional derivative.

    Like ``jax.jvp``: ``primals`` and ``tangents`` are tuples (or lists) of the
    same structure, each tangent shaped like its primal.  Returns
    ``(primals_out, tangents_out)`` (plus ``aux`` when ``has_aux``).
    """
    check_callable(fun)
    if not isinstance(primals, (tuple, list)):
        raise TypeError(f"primals: expected a tuple or list of arguments, got "
                        f"{type(primals).__name__}")
    if not isinstance(tangents, (tuple, list)):
        raise TypeError(f"tangents: expected a tuple or list, got {type(tangents).__name__}")
    if len(primals) != len(tangents):
        raise ValueError(f"tangents: got {len(tangents)} tangents for {len(primals)} primals")
    if not primals:
        raise ValueError("primals: need at least one argument")
    p_leaves, p_td = flatten_each(tuple(primals), [f"primal {k}" for k in range(len(primals))])
    t_leaves, t_td = flatten_each(tuple(tangents), [f"tangent {k}" for k in range(len(tangents))])
    t_leaves = _as_numpy(t_leaves)  # a JAX tangent gives a NumPy one back, as a JAX primal does
    if not p_leaves and any(p is None for p in primals):
        raise TypeError(f"primals: nothing to differentiate (got {tuple(primals)!r}); "
                        "pass floats or arrays")
    if p_td != t_td:
        raise ValueError(f"tangents: structure {t_td} does not match primals {p_td}"
                         f"{_same_looking(t_td, p_td)}")
    checked = []
    try:
        for k, (p, t) in enumerate(zip(p_leaves, t_leaves, strict=True)):
            checked.append(input_leaf(p, f"primal {k}"))
            check_direction(t, p, f"tangent {k}")
    except (TypeError, ValueError, NotImplementedError):
        if all(c is LEAF for c in p_td.children):  # one leaf per primal: its position names it
            raise
        # containers: check again naming primal k's leaf j "primal k (leaf j)"
        for name, p, t in zip(leaf_names(primals), p_leaves, t_leaves, strict=True):
            try:
                input_leaf(p, f"primal {name}")
                check_direction(t, p, f"tangent {name}")
            except (TypeError, ValueError, NotImplementedError) as named:
                raise named from None  # one error, not two chained
        raise
    argnums = tuple(range(len(primals)))
    out_td, po, to, aux = jvp_core(fun, tuple(primals), argnums, False, t_leaves, 0, has_aux,
                                    checked=(checked, p_td))
    own = _unaliased([*po, *to], [*p_leaves, *t_leaves])
    result = (unflatten(out_td, own[:len(po)]), unflatten(out_td, own[len(po):]))
    return (*result, aux) if has_aux else result


def vjp(fun: Callable, *primals: Any, has_aux: bool = False) -> tuple[Any, ...]:
    """Reverse mode: evaluate ``fun(*primals)`` and return ``(out, vjp_fn)``.

    Like ``jax.vjp``: ``vjp_fn(cotangent)`` takes a cotangent shaped like ``out``
    and returns a tuple with one cotangent per primal, each shaped like it.
    ``vjp_fn`` may be called any number of times.

    ``out`` and ``vjp_fn``'s results are arrays of their own: changing them in place changes
    nothing else.  ``vjp_fn`` reads the primals as they are when it runs: like HIPS autograd's
    (JAX's arrays are immutable; PyTorch raises), it computes the wrong cotangent for a
    primal array changed in place after ``vjp`` returned.
    """
    check_callable(fun)
    if not primals:
        raise ValueError("primals: need at least one argument")
    rec = Recording(fun, primals, tuple(range(len(primals))), False, has_aux)
    # a copy: the tape may read the same array (exp's answer, an input returned as it is)
    out = unflatten(rec.out_td, [o.copy() if type(o) is np.ndarray else o for o in rec.out_leaves])

    def vjp_fn(cotangent: Any) -> tuple[Any, ...]:
        c_leaves, c_td = flatten_named(cotangent, "cotangent")
        c_leaves = _as_numpy(c_leaves)
        if c_td != rec.out_td:
            raise ValueError(f"cotangent: structure {c_td} does not match the output {rec.out_td}"
                             f"{_same_looking(c_td, rec.out_td)}")
        for k, (c, o) in enumerate(zip(c_leaves, rec.out_leaves, strict=True)):
            if is_integer_output(o):
                check_integer_cotangent(c, o, f"cotangent (output leaf {k})")
                c_leaves[k] = None  # an integer output has no derivative: nothing to pull back
            else:
                check_direction(c, o, f"cotangent (output leaf {k})", of="output")
        return tuple(unflatten(rec.in_td, rec.pull(c_leaves)))

    return (out, vjp_fn, rec.aux) if has_aux else (out, vjp_fn)


#: grad's seed for a float64 output, shared: read-only, so a result that is the seed itself
#: is copied (``_unaliased``) and no rule can write into it.
_ONE = np.array(1.0)
_ONE.flags.writeable = False


def value_and_grad(fun: Callable, argnums: int | Sequence[int] = 0,
                   has_aux: bool = False) -> Callable[..., Any]:
    """Return a function giving ``fun``'s value and its gradient (reverse mode).

    ``fun`` must return a scalar; ``argnums`` (int or tuple) picks the arguments
    to differentiate; with ``has_aux`` ``fun`` returns ``(value, aux)`` and the
    result is ``((value, aux), grad)``.
    """

    def gradient(rec: Recording) -> Any:
        if rec.out_td is not LEAF and len(rec.out_leaves) == 1:
            raise TypeError(f"grad requires the function to return a scalar, got a container "
                            f"{rec.out_td} holding one; return the scalar itself (or use "
                            "has_aux=True for a pair)")
        if len(rec.out_leaves) != 1 or shape_of(rec.out_leaves[0]) != ():
            shapes = [shape_of(o) for o in rec.out_leaves]
            raise TypeError(f"grad requires the function to return a scalar (shape ()), got "
                            f"{shapes[0] if len(shapes) == 1 else f'{len(shapes)} outputs'}; "
                            "use jacrev or vjp for non-scalar outputs")
        value = rec.out_leaves[0]
        if type(value) is np.float64:
            seed = _ONE  # the common case: a float64 reduction
        else:
            dtype = np.dtype(getattr(value, "dtype", np.float64) if type(value) not in (int, bool)
                             else type(value))
            if dtype.kind != "f":
                raise TypeError(f"grad requires a real floating-point output, got dtype {dtype}")
            seed = 1.0 if type(value) is float or not hasattr(value, "dtype") else np.array(1.0, dtype)
        grads = unflatten(rec.in_td, rec.pull([seed], given=False))  # our seed: no one else's
        if type(value) is np.ndarray:  # a constant output (not traced) is the caller's: copied
            out = value.copy() if rec.out_index[0] is None else _unaliased([value], rec.in_leaves)[0]
        else:
            out = value
        return ((out, rec.aux) if has_aux else out), grads

    value_and_grad_fun = recorded(fun, argnums, has_aux, gradient)
    value_and_grad_fun.__name__ = f"value_and_grad({getattr(fun, '__name__', 'f')})"
    return value_and_grad_fun


def grad(fun: Callable, argnums: int | Sequence[int] = 0,
         has_aux: bool = False) -> Callable[..., Any]:
    """Return a function computing the gradient of scalar ``fun`` (reverse mode).

    Like ``jax.grad``: the result has the structure of the differentiated
    argument(s); with ``has_aux`` it is ``(grad, aux)``.
    """
    vg = value_and_grad(fun, argnums, has_aux)

    def grad_fun(*args: Any, **kwargs: Any) -> Any:
        (value, g) = vg(*args, **kwargs)
        return (g, value[1]) if has_aux else g

    grad_fun.__name__ = f"grad({getattr(fun, '__name__', 'f')})"
    return grad_fun


def hvp(fun: Callable, primals: Sequence[Any], tangents: Sequence[Any]) -> Any:
    """Hessian-vector product of scalar ``fun`` by forward-over-reverse.

    Returns ``H(primals) @ tangents`` with the structure of ``primals``; never
    forms the Hessian.  Equals ``jvp(grad(fun, argnums=all), primals, tangents)[1]``.
    """
    nums = 0 if len(primals) == 1 else tuple(range(len(primals)))
    g = grad(fun, argnums=nums)
    return jvp(g, primals, tangents)[1]
