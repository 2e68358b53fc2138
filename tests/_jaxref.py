"""JAX references computed once per test case and shared by every check that uses them.

The generated tests (``test_primitives``, ``test_numpy_coverage``, ``test_modes``)
compare dualtape with JAX on the same case in many ways: value, JVP, VJP, vector
mode, ``dt.jacobian`` in three modes, forward-over-reverse, reverse-over-forward
and ``dt.hessian`` in five modes. All of these are contractions of two arrays:

* the Jacobian ``J`` of ``f`` with respect to every argument (one ``jax.jacfwd``,
  which also returns the value), so ``J v`` is the JVP and ``u^T J`` the VJP;
* the Hessian ``H`` of the scalar ``<u, f(x)>`` (one ``jax.hessian``), so
  ``H v`` is both forward-over-reverse and reverse-over-forward along ``(u, v)``.

Both are compiled with ``jax.jit``: one XLA compilation per case costs a
quarter of the CPU time and memory of running the transformed function eagerly
(where every primitive at every batched shape is compiled on its own).
A reference is kept in a cache keyed by the case's id; with ``--dist loadgroup`` and
one ``xdist_group`` per case id, all tests of a case run back to back on one worker, so
each reference is computed once. The cache holds every case (a few MB in all): should the
grouping fail, each worker still computes a reference at most once.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)

_CACHE: OrderedDict[str, Ref] = OrderedDict()
_CACHE_SIZE = 4096


def directions(out_shape: tuple, args: tuple, seed: int = 1) -> tuple[tuple, np.ndarray]:
    """Seeded tangent ``v`` (one per argument) and cotangent ``u`` (shaped like the output)."""
    rng = np.random.default_rng(seed)
    v = tuple(rng.standard_normal(np.shape(a)) for a in args)
    return v, rng.standard_normal(out_shape)


def jax_args(args: tuple) -> tuple:
    return tuple(jnp.asarray(a) for a in args)


def _with_value(fn: Callable) -> Callable:
    def f(*a):
        y = fn(*a)
        return y, y

    return f


def _compiled(g: Callable, args: tuple):
    """``g(*args)`` under ``jax.jit``; eagerly if ``g`` branches on values (it then cannot trace)."""
    try:
        return jax.jit(g)(*jax_args(args))
    except jax.errors.ConcretizationTypeError:
        return g(*jax_args(args))


@dataclass
class Ref:
    """JAX's value, Jacobian and (on demand) Hessian of ``<u, f>`` for one case."""

    fn: Callable  # the JAX-traceable function
    args: tuple  # NumPy arguments
    value: np.ndarray
    jac: tuple  # jac[i] has shape value.shape + args[i].shape
    v: tuple
    u: np.ndarray
    _hess: tuple | None = field(default=None, repr=False)

    def jvp(self) -> np.ndarray:
        """J v: JAX's JVP along ``v``."""
        out = np.zeros(self.value.shape)
        for j, t in zip(self.jac, self.v, strict=True):
            out = out + np.tensordot(j, t, axes=np.ndim(t))
        return out

    def vjp(self) -> tuple:
        """u^T J: JAX's VJP of ``u``, one array per argument."""
        return tuple(np.tensordot(self.u, j, axes=self.u.ndim) for j in self.jac)

    @property
    def hess(self) -> tuple:
        """jax.hessian of ``<u, f>`` over every argument: ``hess[i][j]``."""
        if self._hess is None:
            u = jnp.asarray(self.u)
            fn = self.fn
            nums = tuple(range(len(self.args)))
            h = _compiled(jax.hessian(lambda *a: jnp.sum(fn(*a) * u), argnums=nums),
                          self.args)
            self._hess = tuple(tuple(np.asarray(b) for b in row) for row in h)
        return self._hess

    def hvp(self) -> tuple:
        """H v: forward-over-reverse (= reverse-over-forward) along ``(u, v)``, per argument."""
        return tuple(sum(np.tensordot(hij, vj, axes=np.ndim(vj)) for hij, vj in zip(row, self.v,
                                                                                    strict=True))
                     for row in self.hess)


def reference(key: str, fn: Callable, args: tuple) -> Ref:
    """The cached reference for ``key``: ``fn`` traced by JAX at ``args``."""
    ref = _CACHE.get(key)
    if ref is not None:
        _CACHE.move_to_end(key)
        return ref
    nums = tuple(range(len(args)))
    jac, value = _compiled(jax.jacfwd(_with_value(fn), argnums=nums, has_aux=True), args)
    value = np.asarray(value)
    v, u = directions(value.shape, args)
    ref = Ref(fn, tuple(args), value, tuple(np.asarray(j) for j in jac), v, u)
    _CACHE[key] = ref
    if len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return ref
