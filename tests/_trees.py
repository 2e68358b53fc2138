"""Comparison helpers for pytrees of arrays (dualtape results against JAX results)."""

from __future__ import annotations

from typing import Any

import numpy as np


def _kind(x: Any) -> str:
    if isinstance(x, dict):
        return "dict"
    if isinstance(x, list):
        return "list"
    if isinstance(x, tuple):
        return "tuple"
    if x is None:
        return "none"
    return "leaf"


def assert_tree_close(actual: Any, expected: Any, rtol: float = 1e-10, atol: float = 1e-12,
                      path: str = "root", check_dtype: bool = False) -> None:
    """Same structure (tuple/list/dict, same keys), same leaf shapes, close leaf values."""
    ka, ke = _kind(actual), _kind(expected)
    assert ka == ke, f"{path}: structure {ka} != {ke} ({actual!r} vs {expected!r})"
    if ka == "dict":
        assert set(actual) == set(expected), f"{path}: keys {set(actual)} != {set(expected)}"
        for k in expected:
            assert_tree_close(actual[k], expected[k], rtol, atol, f"{path}[{k!r}]", check_dtype)
        return
    if ka in ("list", "tuple"):
        assert len(actual) == len(expected), f"{path}: length {len(actual)} != {len(expected)}"
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            assert_tree_close(a, e, rtol, atol, f"{path}[{i}]", check_dtype)
        return
    if ka == "none":
        return
    a, e = np.asarray(actual), np.asarray(expected)
    assert a.shape == e.shape, f"{path}: shape {a.shape} != {e.shape}"
    if check_dtype:
        assert a.dtype == e.dtype, f"{path}: dtype {a.dtype} != {e.dtype}"
    np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, err_msg=path)


def leaves(tree: Any) -> list:
    """Leaves of a pytree in a fixed order (dict keys sorted)."""
    k = _kind(tree)
    if k == "dict":
        return [leaf for key in sorted(tree) for leaf in leaves(tree[key])]
    if k in ("list", "tuple"):
        return [leaf for c in tree for leaf in leaves(c)]
    if k == "none":
        return []
    return [tree]


# ---------------------------------------------------------------- JAX references, compiled
# Eager JAX compiles every primitive for every new shape; one jit per reference is far cheaper.


def jax_jvp(f: Any, primals: Any, tangents: Any) -> Any:
    import jax

    return jax.jit(lambda p, t: jax.jvp(f, p, t))(tuple(primals), tuple(tangents))


def jax_vjp(f: Any, primals: Any, cotangent: Any) -> Any:
    """``(out, vjp_fn(cotangent))`` of ``jax.vjp(f, *primals)``."""
    import jax

    def run(p, c):
        out, fn = jax.vjp(f, *p)
        return out, fn(c)

    return jax.jit(run)(tuple(primals), cotangent)


def jax_out(f: Any, *args: Any) -> Any:
    """``f(*args)`` under ``jax.jit`` (``f`` is usually a JAX transformation)."""
    import jax

    return jax.jit(f)(*args)
