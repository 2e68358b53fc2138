"""Argument checks and pytree plumbing of the transformations (``dualtape.api``):
differentiated inputs, outputs, ``argnums``, tangent and cotangent directions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .dispatch import Tracer
from .dispatch import is_jax as _is_jax
from .ops import shape_of
from .tree import LEAF, TreeDef, UnsortableKeys, flatten, unflatten

__all__ = [
    "argnums_for",
    "check_callable",
    "check_direction",
    "check_integer_cotangent",
    "dtype_of",
    "dynamic",
    "flatten_each",
    "flatten_named",
    "input_leaf",
    "is_count",
    "is_integral",
    "is_integer_output",
    "leaf_names",
    "normalize_argnums",
    "output_leaf",
    "rng_for",
    "substitute",
    "zeros",
]


def is_integral(x: Any) -> bool:
    """Whether ``x`` is a Python or NumPy int or a 0-d int array, as ``operator.index``
    takes them (a bool is not)."""
    if isinstance(x, np.ndarray):
        return x.ndim == 0 and x.dtype.kind in "iu"
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def is_count(x: Any, low: int = 0) -> bool:
    """Whether ``x`` is an int (:func:`is_integral`) of at least ``low``."""
    return is_integral(x) and x >= low


def rng_for(seed: Any, name: str = "seed") -> np.random.Generator:
    """``np.random.default_rng(seed)`` for a seed it takes: None, an int >= 0, a Generator or
    a SeedSequence (a float or a string is a TypeError naming ``name``)."""
    if seed is not None and not isinstance(seed, (np.random.Generator, np.random.SeedSequence)) \
            and not is_count(seed):
        raise TypeError(f"{name}: expected a non-negative int, a numpy Generator or None, got "
                        f"{seed!r}")
    return np.random.default_rng(seed)


def check_callable(fun: Any, what: str = "fun") -> None:
    """Refuse a function argument that cannot be called (as JAX's transformations do)."""
    if not callable(fun):
        raise TypeError(f"{what}: expected a callable, got {type(fun).__name__} {fun!r:.60}")


def input_leaf(x: Any, what: str) -> Any:
    """Validate one differentiated input; returns it (JAX arrays become NumPy)."""
    t = type(x)
    if t is float or isinstance(x, Tracer):
        return x
    if t is int or t is bool:
        raise TypeError(f"{what}: got the integer {x!r}; only floating-point inputs can be "
                        f"differentiated, pass {float(x)!r} instead")
    if _is_jax(t):
        x = np.asarray(x)
    if isinstance(x, np.matrix):
        raise TypeError(f"{what}: numpy.matrix is not supported (its * is a matrix product and "
                        "its reductions stay 2-D); pass np.asarray(x)")
    if isinstance(x, (np.ndarray, np.generic)):
        kind = x.dtype.kind
        if kind == "f":
            return x
        if kind in "iub":
            raise TypeError(f"{what}: has dtype {x.dtype}; only floating-point inputs can be "
                            "differentiated, pass floats (e.g. x.astype(float))")
        if kind == "c":
            raise NotImplementedError(f"{what}: complex dtype {x.dtype} is not supported; "
                                      "dualtape differentiates real floating-point functions")
        raise TypeError(f"{what}: unsupported dtype {x.dtype}")
    if isinstance(x, complex):
        raise NotImplementedError(f"{what}: complex numbers are not supported")
    raise TypeError(f"{what}: unsupported type {t.__name__}; expected a float or a NumPy array "
                    "(or a tuple, list or dict of them; dualtape.register_pytree_node makes "
                    "another class a container)")


#: A tracer's value is of a lower level; one of its own level (or an object array) inside
#: means NumPy ran elementwise over traced values in an object array.
MIXED = ("a NumPy array of dtype object holds traced values (filled by out[i] = x, or "
         "np.array of traced values): dualtape cannot follow the derivative through it. Build "
         "the array with dnp.stack, dnp.array or dnp.concatenate instead")


def output_leaf(x: Any, what: str, level: int | None = None) -> None:
    """Check an output leaf (``level``: the transformation's, when ``x`` is its value)."""
    t = type(x)
    if t is float or t is np.float64:
        return
    while isinstance(x, Tracer):
        if level is not None and x.level >= level:
            raise TypeError(f"{what}: {MIXED}")
        level = x.level
        x = x.value  # type: ignore[attr-defined]
        t = type(x)
    if t is float or t is int or t is bool or _is_jax(t):  # ints and bools: zero derivatives
        return
    if t is np.ndarray and x.dtype.kind == "O":
        raise TypeError(f"{what}: {MIXED}")
    if t is complex or (isinstance(x, (np.ndarray, np.generic)) and x.dtype.kind == "c"):
        raise NotImplementedError(f"{what}: the function returned a complex value; dualtape "
                                  "differentiates real floating-point functions")
    if isinstance(x, (np.ndarray, np.generic)) and x.dtype.kind in "fiub":
        return
    raise TypeError(f"{what}: the function returned {t.__name__}; it must return floats or "
                    "arrays (or tuples, lists or dicts of them)")


def normalize_argnums(argnums: int | Sequence[int], nargs: int) -> tuple[tuple[int, ...], bool]:
    """Normalise ``argnums``; returns (positions, whether a single int was given)."""
    single = isinstance(argnums, (int, np.integer)) and not isinstance(argnums, bool)
    nums = (argnums,) if single else argnums
    if not isinstance(nums, (tuple, list)) or not nums:
        raise TypeError(f"argnums: expected an int or a non-empty tuple of ints, got {argnums!r}")
    out = []
    for a in nums:
        if not isinstance(a, (int, np.integer)) or isinstance(a, bool):
            raise TypeError(f"argnums: expected ints, got {a!r}")
        if not -nargs <= a < nargs:
            raise ValueError(f"argnums: {a} is out of range for a function called with "
                             f"{nargs} positional argument(s)")
        out.append(int(a) % nargs)
    if len(set(out)) != len(out):
        raise ValueError(f"argnums: repeated entries in {argnums!r}")
    return tuple(out), single


def argnums_for(argnums: int | Sequence[int]) -> Any:
    """:func:`normalize_argnums` for a transformation's fixed ``argnums``, kept per number of
    positional arguments: ``nums_for(nargs) -> (positions, single)``."""
    checked: dict[int, tuple[tuple[int, ...], bool]] = {}

    def nums_for(nargs: int) -> tuple[tuple[int, ...], bool]:
        got = checked.get(nargs)
        if got is None:
            got = checked[nargs] = normalize_argnums(argnums, nargs)
        return got

    return nums_for


def flatten_named(tree: Any, what: str) -> tuple[list, TreeDef]:
    """``flatten(tree)``, its error for a dict whose keys cannot be sorted naming ``what``."""
    try:
        return flatten(tree)
    except UnsortableKeys as e:
        raise UnsortableKeys(f"{what}: {e}") from None


def flatten_each(trees: tuple, names: Sequence[str]) -> tuple[list, TreeDef]:
    """``flatten(trees)`` (a tuple of arguments), its error naming the argument at fault."""
    try:
        return flatten(trees)
    except UnsortableKeys:
        for tree, name in zip(trees, names, strict=True):
            flatten_named(tree, name)
        raise


def _is_float_leaf(x: Any) -> bool:
    return type(x) is float or (type(x) is np.ndarray and x.dtype.kind == "f")


def dynamic(args: tuple, argnums: tuple[int, ...], single: bool,
            allow_empty: bool = False) -> tuple[list, TreeDef]:
    """The differentiated arguments' leaves (checked) and structure; ``allow_empty``: an
    empty container (not ``None``) has an empty derivative (JAX's grad, vjp, jvp)."""
    dyn = args[argnums[0]] if single else tuple([args[i] for i in argnums])
    if _is_float_leaf(dyn):
        return [dyn], LEAF  # one float leaf: nothing to check
    what = "argument {}".format
    if single:
        leaves, td = flatten_named(dyn, what(argnums[0]))
    else:
        leaves, td = flatten_each(dyn, [what(i) for i in argnums])
    if not leaves and (not allow_empty or any(args[i] is None for i in argnums)):
        # an argument None is a mistake far likelier than JAX's empty pytree
        raise TypeError(f"{what(argnums[0] if single else argnums)}: nothing to differentiate "
                        f"(got {dyn!r}); pass floats or arrays")
    checked = []
    for k, leaf in enumerate(leaves):
        if _is_float_leaf(leaf):
            checked.append(leaf)  # nothing to check (nor a message to build)
        elif type(leaf) is float or isinstance(leaf, Tracer):
            checked.append(leaf)  # input_leaf's own fast path, without building its name
        else:
            try:
                checked.append(input_leaf(leaf, "argument"))
            except (TypeError, NotImplementedError):
                try:  # the name is built only for the message
                    input_leaf(leaf, _leaf_name(args, argnums, single, k))
                except (TypeError, NotImplementedError) as named:
                    raise named from None
                raise
    return checked, td


def leaf_names(trees: Sequence[Any]) -> list[str]:
    """``["0 (leaf 0)", "0 (leaf 1)", "1"]``: each leaf of ``trees`` by its tree and place."""
    out = []
    for i, tree in enumerate(trees):
        n = len(flatten(tree)[0])
        out += [f"{i} (leaf {j})" for j in range(n)] if n > 1 else [str(i)] * n
    return out


def _leaf_name(args: tuple, argnums: tuple[int, ...], single: bool, k: int) -> str:
    """``argument 1`` or ``argument 1 (leaf 2)``: where leaf ``k`` of the inputs comes from."""
    for i in argnums[:1] if single else argnums:
        n = len(flatten(args[i])[0])
        if k < n:
            return f"argument {i}" + (f" (leaf {k})" if n > 1 else "")
        k -= n
    return f"argument {argnums}"  # pragma: no cover


def substitute(args: tuple, argnums: tuple[int, ...], single: bool, td: TreeDef,
                leaves: list) -> list:
    rebuilt = unflatten(td, leaves)
    new = list(args)
    if single:
        new[argnums[0]] = rebuilt
    else:
        for k, i in enumerate(argnums):
            new[i] = rebuilt[k]
    return new


def zeros(x: Any, batch: tuple[int, ...] = ()) -> Any:
    dtype = getattr(x, "dtype", np.float64)
    if np.dtype(dtype).kind != "f":
        dtype = np.float64
    return np.zeros(batch + shape_of(x), dtype=dtype)


def check_direction(d: Any, p: Any, what: str, batch: tuple[int, ...] = (),
                    of: str = "primal") -> None:
    ds, ps = shape_of(d), shape_of(p)
    if ds != batch + ps:
        raise ValueError(f"{what}: shape {ds} does not match the {of}'s shape {batch + ps}")
    ddt, pdt = dtype_of(d), dtype_of(p)
    if ddt is None:
        raise TypeError(f"{what}: got {type(d).__name__}; directions must be floating-point "
                        "floats or arrays, like their primal")
    if ddt.kind != "f":
        raise TypeError(f"{what}: dtype {ddt} is not a floating-point dtype")
    if pdt is not None and ddt != pdt:
        raise TypeError(f"{what}: dtype {ddt} does not match the {of}'s dtype {pdt}")


def is_integer_output(o: Any) -> bool:
    dtype = dtype_of(o)
    return dtype is not None and dtype.kind in "iub"


def check_integer_cotangent(c: Any, o: Any, what: str) -> None:
    """An integer or boolean output takes a cotangent of its shape that carries no value:
    JAX's float0, or zeros of an integer, boolean or floating dtype."""
    while isinstance(c, Tracer):  # a traced zero (inside an outer transformation)
        c = c.value  # type: ignore[attr-defined]
    dtype = dtype_of(c)
    if dtype is None:
        raise TypeError(f"{what}: got {type(c).__name__}; the output is an integer array, so "
                        "pass zeros of its shape (or JAX's float0)")
    if shape_of(c) != shape_of(o):
        raise ValueError(f"{what}: shape {shape_of(c)} does not match the output's shape "
                         f"{shape_of(o)}")
    if dtype.kind not in "Viubf":
        raise TypeError(f"{what}: dtype {dtype} cannot be the cotangent of an integer output; "
                        "pass zeros of its shape (or JAX's float0)")
    if dtype.kind != "V" and np.any(np.asarray(c) != 0):
        raise ValueError(f"{what}: the output is an integer array, which has no derivative; "
                         "its cotangent must be zero (or JAX's float0)")


def dtype_of(x: Any) -> np.dtype | None:
    t = type(x)
    if t is float:
        return np.dtype(np.float64)
    if t is bool:
        return np.dtype(bool)
    if t is int:
        return np.dtype(np.int64)
    dtype = getattr(x, "dtype", None)
    return np.dtype(dtype) if dtype is not None else None
