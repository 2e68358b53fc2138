"""The methods ``dt.compare`` runs: dualtape's modes and chunk sizes, and JAX's transforms.

Each method turns (fun, args, argnums) into a zero-argument *runner*: the call that is
timed, counted and checked.  Methods that would do exactly the same computation as another
for this function (a chunk at least as large as the number of directions is vector mode)
are dropped before anything runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..choice import same_as_vector

Runner = Callable[[], Any]

#: Chunk sizes tried besides 1 and vector mode (those below the number of directions).
CHUNKS = (4, 16, 64)
HESSIAN_COMPOSITIONS = ("fwd-fwd", "fwd-rev", "rev-fwd", "rev-rev")


@dataclass(frozen=True)
class Method:
    """One way to compute the derivative: its row in the table.

    ``mode`` is ``fwd`` or ``rev`` (order 1) or an outer-inner composition such as
    ``fwd-rev`` (order 2); ``chunk`` is the tangents (cotangents) per pass, ``None`` for
    vector mode (all at once); ``engine`` is ``dualtape`` or ``jax``.
    """

    name: str
    label: str
    mode: str
    engine: str
    chunk: int | None = None
    jit: bool = False

    @property
    def counted(self) -> bool:
        """Whether dualtape's counters and tracemalloc see this method's work."""
        return self.engine == "dualtape"

    def runner(self, fun: Callable, args: tuple, argnums: int | Sequence[int],
               order: int) -> Runner:
        """The zero-argument call that computes this method's derivative."""
        if self.engine == "jax":
            return _jax_runner(self, fun, args, argnums)
        import dualtape as dt

        if order == 2:
            h = dt.hessian(fun, argnums, mode=self.mode)
        else:
            h = dt.jacobian(fun, argnums, mode=self.mode, chunk=self.chunk)
        return lambda: h(*args)


def _chunk_label(mode: str, chunk: int | None, dim: int) -> str:
    what = "tangent" if mode == "fwd" else "cotangent"
    engine = "forward" if mode == "fwd" else "reverse"
    if chunk is None:
        if dim == 1:
            return f"{engine}, one {what} in one pass"
        return f"{engine}, vector mode (all {dim} {what}s in one pass)"
    if chunk == 1:
        return f"{engine}, one {what} per pass ({dim} passes)"
    return f"{engine}, {chunk} {what}s per pass ({-(-dim // chunk)} passes)"


def first_order(n: int, m: int, chunks: Sequence[int] = CHUNKS) -> tuple[list[Method], list[str]]:
    """dualtape's forward and reverse modes at chunk 1, a few chunks and vector mode.

    Returns the methods and notes on those left out as duplicates of vector mode (every
    chunk that holds all the directions, 1 included where there is at most one): the
    candidates :func:`dualtape.choose_mode` chooses from.
    """
    methods, notes = [], []
    for mode, dim in (("fwd", n), ("rev", m)):
        for chunk in (1, *chunks, None):
            if chunk is not None and same_as_vector(chunk, dim):
                what = ("input" if mode == "fwd" else "output") + ("s" if dim != 1 else "")
                notes.append(f"{mode}_chunk{chunk} left out: with {dim} {what} it is vector mode")
                continue
            name = f"{mode}_vector" if chunk is None else f"{mode}_chunk{chunk}"
            methods.append(Method(name, _chunk_label(mode, chunk, dim), mode, "dualtape", chunk))
    return methods, notes


def second_order() -> list[Method]:
    """The four compositions of dualtape's modes (outer-inner), each in vector mode."""
    labels = {"fwd": "forward", "rev": "reverse"}
    out = []
    for comp in HESSIAN_COMPOSITIONS:
        outer, inner = comp.split("-")
        out.append(Method(f"hessian_{comp.replace('-', '_')}",
                          f"{labels[outer]} over {labels[inner]}", comp, "dualtape"))
    return out


def jax_methods(order: int) -> list[Method]:
    """JAX's transforms, eager and jit: jacfwd and jacrev, or hessian."""
    kinds = ("jacfwd", "jacrev") if order == 1 else ("hessian",)
    out = []
    for kind in kinds:
        mode = {"jacfwd": "fwd", "jacrev": "rev", "hessian": "fwd-rev"}[kind]
        for jit in (False, True):
            suffix = "_jit" if jit else ""
            out.append(Method(f"jax_{kind}{suffix}", f"JAX {kind}, {'jit' if jit else 'eager'}",
                              mode, "jax", jit=jit))
    return out


#: Caps on one method's work (directions x values per direction) and its largest block of
#: directions at once (values held), and on the derivative itself: 2**25 float64 is 256 MiB.
MAX_WORK = 2 ** 29
MAX_HELD = 2 ** 25


def _cost(method: Method, n: int, m: int, order: int) -> tuple[int, int]:
    """(work, held): directions pushed in all, times the n + m values each goes through,
    and the most held at once (a proxy: the function's own intermediates are unknown)."""
    size = n + m
    if order == 2:
        per = n * n if method.mode == "fwd-fwd" else n  # fwd-fwd carries n x n pairs
        return per * size, per * size
    dim = n if method.mode == "fwd" else m
    k = dim if method.chunk is None else min(method.chunk, dim)
    return dim * size, k * size


def reference_kind(n: int, m: int, order: int) -> str:
    """JAX's transform that checks the methods: jacfwd (jacrev where jacfwd is beyond the
    budget and jacrev is cheaper; the same numbers) or hessian."""
    if order == 2:
        return "hessian"
    return "jacrev" if m < n and n * (n + m) > MAX_HELD else "jacfwd"


def affordable(methods: Sequence[Method], n: int, m: int,
               order: int) -> tuple[list[Method], list[str]]:
    """The methods within :data:`MAX_WORK` and :data:`MAX_HELD`, and notes on the others."""
    kept, notes = [], []
    for meth in methods:
        work, held = _cost(meth, n, m, order)
        if work > MAX_WORK or held > MAX_HELD:
            what = f"{work:.2g} values" if work > MAX_WORK else f"{held:.2g} values at once"
            notes.append(f"{meth.name} left out: with n = {n} and m = {m} it would push about "
                         f"{what} (more than {MAX_WORK if work > MAX_WORK else MAX_HELD:.2g})")
        else:
            kept.append(meth)
    return kept, notes


def enable_jax():
    """JAX with float64 on (float64 inputs are checked at 1e-8, which float32 cannot pass)."""
    from ..measure.jaxconfig import jax_x64

    return jax_x64()


def to_jax(args: tuple) -> tuple:
    """``args`` with every float array (or float) leaf turned into a JAX array."""
    from ..tree import flatten, unflatten

    jax = enable_jax()
    leaves, td = flatten(tuple(args))
    out = [jax.numpy.asarray(x) if isinstance(x, (float, np.ndarray, np.generic)) else x
           for x in leaves]
    return tuple(unflatten(td, out))


def _numeric(arg: Any) -> bool:
    """Whether ``arg`` holds a leaf that :func:`to_jax` turns into a JAX array."""
    from ..tree import flatten

    return any(isinstance(x, (float, np.ndarray, np.generic)) for x in flatten(arg)[0])


def _jax_runner(method: Method, fun: Callable, args: tuple,
                argnums: int | Sequence[int]) -> Runner:
    jax = enable_jax()
    kind = method.name[len("jax_"):].removesuffix("_jit")
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    # arguments neither differentiated nor numeric (a step count, a flag) are closed over,
    # as a JAX user marks them static: jit would otherwise trace them
    traced = [i for i, a in enumerate(args) if i in nums or _numeric(a)]

    def bound(*values: Any) -> Any:
        full = list(args)
        for i, v in zip(traced, values, strict=True):
            full[i] = v
        return fun(*full)

    moved = traced.index(argnums) if isinstance(argnums, int) else tuple(map(traced.index, nums))
    transform = getattr(jax, kind)(bound, moved)
    if method.jit:
        transform = jax.jit(transform)
    jargs = to_jax(tuple(args[i] for i in traced))
    return lambda: jax.block_until_ready(transform(*jargs))
