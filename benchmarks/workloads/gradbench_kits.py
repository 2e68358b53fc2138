"""Each tool's kit for the GradBench workload: its namespace, its arrays and its derivatives.

The GradBench objectives (:mod:`dualtape.gradbench.objectives` and ``.nested``) take the
namespace ``xp`` and, for the nested evals, the AD operation ``partials`` and the float
reader ``value`` as parameters. A :class:`Kit` bundles those for one tool, with the tool's
array conversion, so the same objective bodies run under every tool.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np

from benchmarks import peers

Partials = Callable[[Callable[..., Any], Sequence[Any], int, str], tuple]


@dataclass(frozen=True)
class Kit:
    """What the objectives need from one tool."""

    name: str
    xp: Any
    asarray: Callable[[np.ndarray], Any]
    partials: Partials
    value: Callable[[Any], float]


def dualtape_kit() -> Kit:
    """dualtape: ``dualtape.numpy`` on NumPy arrays, ``grad``/``jvp`` for nested derivatives."""
    peers.dualtape("grad", "jvp")
    from dualtape.gradbench import nested

    dnp = peers.dualtape()[1]
    return Kit("dualtape", dnp, lambda a: a, nested.partials, nested.plain)


def autograd_kit() -> Kit:
    """HIPS autograd: ``autograd.numpy``; ``grad`` over a tuple, ``make_jvp`` per argument."""
    ag, anp = peers.autograd()
    from autograd.tracer import getval

    def partials(fn: Callable[..., Any], args: Sequence[Any], wrt: int, mode: str) -> tuple:
        rest = tuple(args[wrt:])
        if mode == "r":
            return tuple(ag.grad(lambda xs: fn(*xs, *rest))(tuple(args[:wrt])))
        out = []
        for i in range(wrt):
            def along(xi: Any, i: int = i) -> Any:
                return fn(*args[:i], xi, *args[i + 1:wrt], *rest)
            out.append(ag.make_jvp(along)(args[i])(1.0)[1])
        return tuple(out)

    return Kit("autograd", anp, lambda a: a, partials, lambda a: float(getval(a)))


def _torch_namespace(torch: Any) -> SimpleNamespace:
    """The NumPy names the objectives use, over PyTorch (axis -> dim, float64 zeros)."""

    def reduce(fn: Callable[..., Any]) -> Callable[..., Any]:
        return lambda a, axis=None: fn(a) if axis is None else fn(a, dim=axis)

    return SimpleNamespace(
        max=reduce(torch.amax), min=reduce(torch.amin), sum=reduce(torch.sum),
        exp=torch.exp, log=torch.log, sqrt=torch.sqrt, matmul=torch.matmul,
        reshape=torch.reshape, concatenate=lambda xs, axis=0: torch.cat(xs, dim=axis),
        transpose=lambda a, axes=None: a.T if axes is None else a.permute(*axes),
        zeros=lambda shape: torch.zeros(shape, dtype=torch.float64),
    )


def torch_kit() -> Kit:
    """PyTorch eager: an adapter namespace; ``torch.func.grad``/``jvp`` for nested derivatives."""
    torch = peers.torch()

    def tensor(a: Any) -> Any:
        return a if isinstance(a, torch.Tensor) else torch.tensor(a, dtype=torch.float64)

    def partials(fn: Callable[..., Any], args: Sequence[Any], wrt: int, mode: str) -> tuple:
        xs, rest = tuple(tensor(a) for a in args[:wrt]), tuple(args[wrt:])
        inner = lambda *v: fn(*v, *rest)  # noqa: E731
        if mode == "r":
            return tuple(torch.func.grad(inner, argnums=tuple(range(wrt)))(*xs))
        basis = [tuple(tensor(1.0 if j == i else 0.0) for j in range(wrt)) for i in range(wrt)]
        return tuple(torch.func.jvp(inner, xs, b)[1] for b in basis)

    def value(a: Any) -> float:
        return float(a.detach().item()) if isinstance(a, torch.Tensor) else float(a)

    return Kit("torch", _torch_namespace(torch), torch.from_numpy, partials, value)


def jax_kit() -> Kit:
    """JAX (eager; jit is applied by the caller): ``jax.numpy`` and ``jax.grad``/``jax.jvp``."""
    jax, jnp = peers.jax()

    def partials(fn: Callable[..., Any], args: Sequence[Any], wrt: int, mode: str) -> tuple:
        if mode == "r":
            return tuple(jax.grad(fn, argnums=tuple(range(wrt)))(*args))
        rest = tuple(args[wrt:])
        inner = lambda *v: fn(*v, *rest)  # noqa: E731
        basis = [tuple(1.0 if j == i else 0.0 for j in range(wrt)) for i in range(wrt)]
        return tuple(jax.jvp(inner, tuple(args[:wrt]), b)[1] for b in basis)

    return Kit("jax", jnp, jnp.asarray, partials, float)


KITS: dict[str, Callable[[], Kit]] = {
    "dualtape": dualtape_kit, "autograd": autograd_kit, "torch": torch_kit, "jax": jax_kit,
}
