"""Rules users add themselves: ``custom_jvp``, ``custom_vjp``; and ``stop_gradient``
(``dt.primitive``, a registry primitive of the user's own, is in :mod:`.user_primitive`).

``custom_jvp`` and ``custom_vjp`` follow JAX's interface.  A ``custom_jvp``
function becomes a primitive of its own whose JVP is the user's rule; its VJP
is that rule transposed: the rule is linear in the tangent, so recording it on
a tape (with the tangent as the input) and pulling the cotangent back gives the
transpose, at any order and in any mix of modes.  A ``custom_vjp`` function
records one tape entry whose backward step is the user's ``bwd``; forward mode
has no rule to use and raises ``TypeError``, as in JAX.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import dispatch
from . import numpy as dnp
from .argchecks import check_callable, dtype_of
from .dispatch import NO_PARAMS, unwrap
from .forward import Dual
from .ops import ndim_of, shape_of
from .registry import PLAIN_TYPES, Primitive, Tracer, register
from .tree import LEAF, flatten, unflatten

__all__ = ["custom_jvp", "custom_vjp", "stop_gradient"]


def _no_flops(ans: Any, *args: Any, **params: Any) -> int:
    return 0


def _split(args: tuple, nondiff: tuple[int, ...], name: str) -> tuple[tuple, tuple, Any]:
    """(non-differentiated arguments, the leaves of the differentiated ones, their structures
    or None when each is one leaf) of a call."""
    for i in nondiff:
        if i >= len(args):
            raise TypeError(f"{name}: nondiff_argnums names argument {i}, but the call has "
                            f"only {len(args)} positional arguments")
        if any(isinstance(x, Tracer) for x in flatten(args[i])[0]):
            raise TypeError(f"{name}: argument {i} is in nondiff_argnums but is being "
                            "differentiated; remove it from nondiff_argnums")
    diff = tuple(a for i, a in enumerate(args) if i not in nondiff) if nondiff else args
    nd = tuple(args[i] for i in nondiff)
    if all(type(a) in PLAIN_TYPES or isinstance(a, Tracer) for a in diff):
        return nd, diff, None  # arrays, floats and traced values: nothing to flatten or check
    flat = [flatten(a) for a in diff]  # pytree arguments: their leaves, as in JAX
    diff = tuple(x for leaves, _ in flat for x in leaves)
    tds = tuple(td for _, td in flat)
    for a in diff:
        if not (type(a) in PLAIN_TYPES or isinstance(a, (Tracer, np.generic))
                or hasattr(a, "shape")):
            raise TypeError(f"{name}: differentiable arguments must be pytrees of arrays or "
                            f"floats, got {type(a).__name__} (mark it in nondiff_argnums)")
    return nd, diff, None if all(td == LEAF for td in tds) else tds


def _rebuild(leaves: Sequence[Any], tds: Any) -> list:
    """The differentiated arguments from their leaves (``_split``'s structures)."""
    if tds is None:
        return list(leaves)
    out, k = [], 0
    for td in tds:
        n = td.num_leaves
        out.append(unflatten(td, list(leaves[k:k + n])))
        k += n
    return out


def _ct_leaves(cts: Sequence[Any], tds: Any, name: str) -> list:
    """bwd's cotangents of pytree arguments, as leaves (``None`` for a whole argument or a
    part of one stands for zeros, as in JAX)."""
    out: list = []
    for k, (c, td) in enumerate(zip(cts, tds, strict=True)):
        leaves, ctd = flatten(c)
        if ctd == td:
            out += leaves
        elif not _with_zeros(td, ctd, iter(leaves), out):
            raise TypeError(f"{name}: bwd's cotangent {k}: structure {ctd} does not match the "
                            f"argument's {td}")
    return out


def _with_zeros(td: Any, ctd: Any, leaves: Any, out: list) -> bool:
    """Append the leaves of a cotangent of structure ``ctd`` for an argument of structure
    ``td``, ``None`` for each leaf of a part given as ``None``; False where they differ."""
    if ctd.kind == "none":
        out += [None] * td.num_leaves
        return True
    if td.kind == "leaf" or ctd.kind == "leaf":
        out.append(next(leaves))
        return td.kind == ctd.kind
    if td.kind != ctd.kind or td.meta != ctd.meta or len(td.children) != len(ctd.children):
        return False
    return all(_with_zeros(a, b, leaves, out) for a, b in zip(td.children, ctd.children, strict=True))


def _merge(nd_vals: tuple, diff: Sequence[Any], nondiff: tuple[int, ...]) -> list:
    """Put the non-differentiated arguments back in their positions."""
    out, it_nd, it_d = [], iter(nd_vals), iter(diff)
    for i in range(len(nd_vals) + len(diff)):
        out.append(next(it_nd) if i in nondiff else next(it_d))
    return out


def _nondiff_positions(nums: Sequence[int], sig: Any, npos: int, name: str) -> tuple[int, ...]:
    """``nondiff_argnums`` sorted, once each, negative ones counted from the end of ``fun``'s
    positional parameters (as JAX's)."""
    out = set()
    for i in nums:
        if not isinstance(i, (int, np.integer)) or isinstance(i, bool):
            raise TypeError(f"nondiff_argnums: expected ints, got {i!r}")
        if i < 0:
            varargs = sig is not None and any(p.kind is inspect.Parameter.VAR_POSITIONAL
                                              for p in sig.parameters.values())
            if sig is None or varargs or i < -npos:
                raise ValueError(f"nondiff_argnums: {i} does not name a positional parameter "
                                 f"of {name} (a negative index needs a fixed number of them)")
            i += npos
        out.add(int(i))
    return tuple(sorted(out))


def _positional(fun: Callable) -> tuple[Any, int]:
    """``fun``'s signature and how many parameters it takes by position (None, 0 when it
    has none to read)."""
    try:
        sig = inspect.signature(fun)
    except (TypeError, ValueError):
        return None, 0
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return sig, sum(p.kind in kinds for p in sig.parameters.values())


def _resolve(sig: Any, n: int, args: tuple, kwargs: dict, name: str) -> tuple:
    """``args`` with keyword arguments and defaults put in their positions, as JAX does."""
    if sig is None or (not kwargs and len(args) >= n):
        if kwargs:
            raise TypeError(f"{name}: keyword arguments need a function with a signature")
        return args
    bound = sig.bind(*args, **kwargs)
    bound.apply_defaults()
    if bound.kwargs:
        raise TypeError(f"{name}: keyword-only arguments {sorted(bound.kwargs)} are not "
                        "supported; pass them by position")
    return bound.args


def _fit(x: Any, like: Any, what: str) -> Any:
    """``x``, which must have ``like``'s shape; ``None`` or a plain scalar zero stands for
    zeros of it."""
    if x is not None and not isinstance(x, Tracer):
        dtype = dtype_of(x)
        if dtype is None or dtype.kind not in "fiu":
            raise TypeError(f"{what}: got {type(x).__name__}"
                            f"{'' if dtype is None else f' of dtype {dtype}'}; expected a "
                            "float or an array of floats")
    shape = shape_of(like)
    if x is not None and shape_of(x) == shape:
        return x
    if x is None or (not isinstance(x, Tracer) and np.ndim(x) == 0 and x == 0):
        return np.zeros(shape, getattr(like, "dtype", np.float64))
    raise ValueError(f"{what}: expected shape {shape}, got {shape_of(x)} (return an array "
                     "of that shape, or None or 0.0 for zeros)")


class _Layout:
    """How one call packs a pytree output into one flat array (``td`` None: one array)."""

    __slots__ = ("td", "shapes", "dtypes", "dtype")

    def __init__(self) -> None:
        self.td: Any = None

    def pack_output(self, out: Any, name: str) -> Any:
        """``out`` (plain values), packed when it is a pytree of several arrays or floats."""
        if type(out) in PLAIN_TYPES or isinstance(out, Tracer):
            return out  # one array or float: nothing to pack (nor to flatten)
        leaves, td = flatten(out)
        if td == LEAF:
            return out
        dtypes = [_dtype(x) for x in leaves]
        if not leaves or any(d is None or d.kind != "f" for d in dtypes):
            raise NotImplementedError(f"{name}: a pytree output must hold floating-point "
                                      "arrays or floats only")
        self.td, self.shapes, self.dtypes = td, [shape_of(x) for x in leaves], dtypes
        self.dtype = np.result_type(*dtypes)
        return self._join(leaves)

    def _join(self, leaves: list) -> Any:
        flat = [dnp.reshape(x if _dtype(x) == self.dtype else dnp.astype(x, self.dtype), (-1,))
                for x in leaves]
        return dnp.concatenate(flat, 0)

    def pack_tangent(self, t: Any, what: str) -> Any:
        """A tangent pytree of the output's structure, packed as the output is."""
        leaves, td = flatten(t)
        if td != self.td:
            raise TypeError(f"{what}: structure {td} does not match the output's {self.td}")
        fitted = []
        for k, (x, shape, dtype) in enumerate(zip(leaves, self.shapes, self.dtypes, strict=True)):
            x = _fit(x, np.broadcast_to(np.zeros((), dtype), shape), f"{what} (leaf {k})")
            if type(x) not in (float, int) and _dtype(x) != dtype:
                raise TypeError(f"{what} (leaf {k}): dtype {_dtype(x)} does not match the "
                                f"output's dtype {dtype} (as JAX refuses it)")
            fitted.append(x)
        return self._join(fitted)

    def unpack(self, packed: Any) -> Any:
        leaves, off = [], 0
        for shape, dtype in zip(self.shapes, self.dtypes, strict=True):
            size = math.prod(shape)
            x = dnp.reshape(packed[off:off + size], shape)
            leaves.append(x if dtype == self.dtype else dnp.astype(x, dtype))
            off += size
        return unflatten(self.td, leaves)


def _dtype(x: Any) -> Any:
    return np.dtype(np.float64) if type(x) is float else (
        np.dtype(x.dtype) if hasattr(x, "dtype") else None)


def _per_direction(fn: Callable[[list], Any], batched: list, nb: int, like: Any) -> Any:
    """Apply ``fn`` (written for one direction) to each direction of vector mode and stack."""
    if nb == 0:
        return fn(batched)
    batch, outs = _each_direction(fn, batched, nb)
    return _stacked(outs, batch, like)


def _each_direction(fn: Callable[[list], Any], batched: list, nb: int) -> tuple[tuple, list]:
    """The batch shape of vector mode's ``nb`` leading axes, and ``fn`` of each direction."""
    ref = next(b for b in batched if b is not None)
    batch = shape_of(ref)[:nb]
    n = math.prod(batch)
    flat = [None if b is None else dnp.reshape(b, (n,) + shape_of(b)[nb:]) for b in batched]
    return batch, [fn([None if f is None else f[k] for f in flat]) for k in range(n)]


def _stacked(outs: list, batch: tuple, like: Any) -> Any:
    if not outs:  # no direction (an empty input or output): an empty block
        return np.zeros(batch + shape_of(like), getattr(like, "dtype", np.float64))
    return dnp.reshape(dnp.stack(outs, 0), batch + shape_of(like))


class NoForwardRule(TypeError):
    """Forward mode met a function with reverse-mode rules only (a ``custom_vjp``)."""


def _nested_in_order(out: Any, name: str) -> Any:
    """``out``, checked: a traced value holds values of lower levels only. One that holds its
    own level's (or a higher one's) came from a closure over a value traced by the very
    transformation applying the rule; JAX raises UnexpectedTracerError for it too."""
    x = out
    while isinstance(x, Tracer):
        inner = x.value  # type: ignore[attr-defined]
        if isinstance(inner, Tracer) and inner.level >= x.level:
            raise dispatch.UnexpectedTracerError(
                f"{name}: the function closes over a value traced by the transformation "
                "that differentiates it; pass that value as an argument instead")
        x = inner
    return out


class custom_jvp:  # noqa: N801  (JAX's name)
    """A function with a user-given JVP rule, usable in both modes and nested.

    >>> @custom_jvp
    ... def log1pexp(x):
    ...     return dnp.log1p(dnp.exp(x))
    >>> @log1pexp.defjvp
    ... def log1pexp_jvp(primals, tangents):
    ...     (x,), (t,) = primals, tangents
    ...     return log1pexp(x), t * dnp.sigmoid(x)

    The rule is ``rule(*nondiff_args, primals, tangents) -> (out, tangent_out)`` and must
    be linear in the tangents; a pytree output takes a tangent pytree of its structure.
    Differentiable arguments are arrays, floats or pytrees of them; arguments that are not
    (ints, strings, callables) go in ``nondiff_argnums``. Keyword arguments and defaults
    work as in JAX.
    """

    def __init__(self, fun: Callable, nondiff_argnums: Sequence[int] = ()) -> None:
        check_callable(fun)
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.jvp_rule: Callable | None = None
        self._sig, self._npos = _positional(fun)
        self.nondiff_argnums = _nondiff_positions(nondiff_argnums, self._sig, self._npos,
                                                  getattr(fun, "__name__", "f"))
        name = getattr(fun, "__name__", "f")
        self.prim = Primitive(f"custom_jvp({name})", self._impl, jvp=self._jvp, vjp=self._vjp,
                              flops=_no_flops, saves="both", variadic=True,
                              jax_impl=self._impl)

    def defjvp(self, jvp: Callable) -> Callable:
        """Set the JVP rule (usable as a decorator)."""
        check_callable(jvp, "jvp")
        self.jvp_rule = jvp
        return jvp

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        name = self.prim.name
        if self.jvp_rule is None:
            raise AttributeError(f"{name}: no JVP rule; define one with @f.defjvp")
        args = _resolve(self._sig, self._npos, args, kwargs, name)
        nd, diff, tds = _split(args, self.nondiff_argnums, name)
        if not any(isinstance(a, Tracer) for a in diff):
            return self.fun(*args)
        layout = _Layout()  # a pytree output travels packed in one array
        out = _nested_in_order(self.prim.bind(*diff, nd=nd, layout=layout, tds=tds), name)
        return out if layout.td is None else layout.unpack(out)

    def _impl(self, *diff: Any, nd: tuple, layout: _Layout, tds: Any) -> Any:
        args = _merge(nd, _rebuild(diff, tds), self.nondiff_argnums)
        return layout.pack_output(self.fun(*args), self.prim.name)

    def _tangent_out(self, nd: tuple, primals: tuple, tangents: list, ans: Any,
                     layout: _Layout, tds: Any) -> Any:
        out = self.jvp_rule(*nd, tuple(_rebuild(primals, tds)),  # type: ignore[misc]
                            tuple(_rebuild(tangents, tds)))
        if not (isinstance(out, (tuple, list)) and len(out) == 2):
            raise TypeError(f"{self.prim.name}: the JVP rule must return a pair "
                            "(primal_out, tangent_out)")
        self._check_primal_out(out[0], ans, layout)
        what = f"{self.prim.name}: the JVP rule's tangent_out"
        if layout.td is not None:
            return layout.pack_tangent(out[1], what)
        t = _fit(out[1], ans, what)
        if type(t) not in (float, int):  # a Python number takes its primal's dtype
            tdt, adt = getattr(t, "dtype", None), getattr(ans, "dtype", None)
            if tdt is not adt and tdt is not None and adt is not None and tdt != adt \
                    and np.dtype(adt).kind == "f":  # the same dtype object: one test
                raise TypeError(f"{what}: dtype {np.dtype(tdt)} does not match the output's "
                                f"dtype {np.dtype(adt)} (as JAX refuses it)")
        return t

    def _check_primal_out(self, out: Any, ans: Any, layout: _Layout) -> None:
        """Refuse a rule whose primal_out differs in structure or shape from the function's
        output, as JAX does (the output dualtape returns is the function's)."""
        if layout.td is None and (type(out) in PLAIN_TYPES or isinstance(out, Tracer)) \
                and shape_of(out) == shape_of(ans):
            return  # one array, as the output: nothing to flatten
        leaves, td = flatten(out)
        shapes = [shape_of(ans)] if layout.td is None else layout.shapes
        if td != (LEAF if layout.td is None else layout.td) or \
                [shape_of(x) for x in leaves] != shapes:
            def described(td: Any, shapes: list) -> str:
                return f"shape {shapes[0]}" if td == LEAF else f"{td} with leaf shapes {shapes}"

            raise TypeError(f"{self.prim.name}: the JVP rule's primal_out must match the "
                            f"function's output: got {described(td, [shape_of(x) for x in leaves])}"
                            f", expected {described(layout.td or LEAF, shapes)}")

    def _jvp(self, ts: list, ans: Any, *primals: Any, nd: tuple, layout: _Layout,
             tds: Any) -> Any:
        k = next(i for i, t in enumerate(ts) if t is not None)
        nb = ndim_of(ts[k]) - ndim_of(primals[k])

        def one(tangents: list) -> Any:
            filled = [t if t is not None else np.zeros(shape_of(x), getattr(x, "dtype", float))
                      for t, x in zip(tangents, primals, strict=True)]
            return self._tangent_out(nd, primals, filled, ans, layout, tds)

        return _per_direction(one, list(ts), nb, ans)

    def _vjp(self, i: int, g: Any, ans: Any, *primals: Any, nd: tuple, layout: _Layout,
             tds: Any) -> Any:
        from .api import vjp

        zeros = [np.zeros(shape_of(x), getattr(x, "dtype", np.float64)) for x in primals]

        def linear(ti: Any) -> Any:
            tangents = list(zeros)
            tangents[i] = ti
            return self._tangent_out(nd, primals, tangents, ans, layout, tds)

        _, pull = vjp(linear, zeros[i])
        nb = ndim_of(g) - ndim_of(ans)
        return _per_direction(lambda gs: pull(gs[0])[0], [g], nb, primals[i])


class custom_vjp:  # noqa: N801  (JAX's name)
    """A function with a user-given VJP: ``f.defvjp(fwd, bwd)``.

    ``fwd(*args) -> (out, residuals)``; ``bwd(*nondiff_args, residuals, g) -> tuple`` with
    one cotangent per differentiable argument (``None`` for zero), shaped like it (a pytree
    for a pytree argument); ``g`` has the structure of the output, which may be a pytree.
    Reverse mode only: a ``custom_vjp`` function under forward mode (``jvp``, ``jacfwd``)
    raises ``TypeError``.
    """

    def __init__(self, fun: Callable, nondiff_argnums: Sequence[int] = ()) -> None:
        check_callable(fun)
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.fwd: Callable | None = None
        self.bwd: Callable | None = None
        self.name = f"custom_vjp({getattr(fun, '__name__', 'f')})"
        self._sig, self._npos = _positional(fun)
        self.nondiff_argnums = _nondiff_positions(nondiff_argnums, self._sig, self._npos,
                                                  getattr(fun, "__name__", "f"))

    def defvjp(self, fwd: Callable, bwd: Callable) -> None:
        """Set the forward pass (output and residuals) and the backward pass."""
        check_callable(fwd, "fwd")
        check_callable(bwd, "bwd")
        self.fwd, self.bwd = fwd, bwd

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.fwd is None or self.bwd is None:
            raise AttributeError(f"{self.name}: no VJP rule; define one with f.defvjp(fwd, bwd)")
        args = _resolve(self._sig, self._npos, args, kwargs, self.name)
        nd, diff, tds = _split(args, self.nondiff_argnums, self.name)
        top = None
        for a in diff:
            if isinstance(a, Tracer) and (top is None or a.level > top.level):
                top = a
        if top is None:
            return self.fun(*args)
        if isinstance(top, Dual):
            raise NoForwardRule(f"{self.name}: a custom_vjp function has no forward-mode rule, so "
                            "forward mode (jvp, jacfwd, hessian's fwd-fwd and rev-fwd modes) "
                            "cannot differentiate it (as in JAX); use reverse mode (grad, vjp, "
                            "jacrev, hessian(mode='rev-rev')), or custom_jvp")
        vals, mine = unwrap(top.level, tuple(diff))  # the shared unwrap of dispatch.py
        pair = self.fwd(*_merge(nd, _rebuild(vals, tds), self.nondiff_argnums))
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
            raise TypeError(f"{self.name}: fwd must return a pair (output, residuals), got "
                            f"{type(pair).__name__}")
        out, res = pair
        layout = _Layout()  # a pytree output travels packed in one array
        out = layout.pack_output(out, self.name)
        prim = Primitive(self.name, lambda *a: out, jvp=None,
                         vjp=self._backward(nd, res, out, list(vals), mine[0][0], layout, tds),
                         flops=_no_flops, saves="meta", variadic=True)
        counter = dispatch.counting  # read once: another thread's count may close meanwhile
        if counter is not None:  # fwd computed the primal: count it here, once
            counter.record(prim, out, tuple(vals), NO_PARAMS)
        # the tape's own step of the engine protocol: one entry, this level's arguments as parents
        ans = _nested_in_order(top.extend(prim, out, vals, mine, NO_PARAMS), self.name)
        return ans if layout.td is None else layout.unpack(ans)

    def _backward(self, nd: tuple, res: Any, out: Any, vals: list, first: int,
                  layout: _Layout, tds: Any) -> Callable:
        # (cotangent, its result): one bwd call per backward step, which asks for the traced
        # arguments in order from ``first`` (a later pass may bring the same array, changed)
        last: list = [None, None]

        def one(gs: list) -> list:
            g = gs[0] if layout.td is None else layout.unpack(gs[0])
            cts = self.bwd(*nd, res, g)  # type: ignore[misc]
            n = len(vals) if tds is None else len(tds)
            if not isinstance(cts, (tuple, list)) or len(cts) != n:
                raise TypeError(f"{self.name}: bwd must return a tuple of {n} "
                                f"cotangent(s), one per differentiable argument, got {cts!r}")
            if tds is not None:
                cts = _ct_leaves(cts, tds, self.name)
            return [_fit(c, x, f"{self.name}: bwd's cotangent {k}")
                    for k, (c, x) in enumerate(zip(cts, vals, strict=True))]

        def rule(i: int, g: Any, ans: Any, *args: Any) -> Any:
            if i == first or last[0] is not g:
                nb = ndim_of(g) - ndim_of(out)
                if nb == 0:
                    last[1] = one([g])
                else:  # one bwd call per direction, its cotangents split by argument
                    batch, per = _each_direction(one, [g], nb)
                    last[1] = [_stacked([p[j] for p in per], batch, x)
                               for j, x in enumerate(vals)]
                last[0] = g
            return last[1][i]

        return rule


def _jax_stop_gradient(x: Any) -> Any:
    import jax

    return jax.lax.stop_gradient(x)


_stop = register(Primitive("stop_gradient", lambda x: x, jvp=(None,), vjp=(None,),
                           flops=_no_flops, saves="meta", jax_impl=_jax_stop_gradient))


def stop_gradient(x: Any) -> Any:
    """``x`` with a zero derivative (in every mode, at every order); works on pytrees."""
    leaves, td = flatten(x)
    return unflatten(td, [_stop.bind(leaf) for leaf in leaves])
