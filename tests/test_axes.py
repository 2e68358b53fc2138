"""Axis parameters are normalised at the primitive boundary: every axis-taking primitive,
called directly with NumPy's positive axes, agrees with JAX in both modes and in vector
mode.  The cases are checked against the registry: a primitive with a ``normalize`` hook
and no case here fails the coverage test."""

from __future__ import annotations

import inspect

import jax
import numpy as np
import pytest

import dualtape as dt
from dualtape import primitives

jax.config.update("jax_enable_x64", True)

I3 = np.array([0, 2, 2])

# (primitive, argument shapes, parameters with positive axes)
CASES: list[tuple[str, tuple[tuple[int, ...], ...], dict]] = [
    *[(name, ((3, 4),), {"axis": axis, "keepdims": keep})
      for name in ("sum", "mean", "prod", "max", "min", "logsumexp")
      for axis, keep in (((0,), False), ((1,), True), ((0, 1), False))],
    ("softmax", ((3, 4),), {"axis": (0,)}),
    ("log_softmax", ((3, 4),), {"axis": (1,)}),
    ("cumsum", ((3, 4),), {"axis": 0}),
    ("cumprod", ((3, 4),), {"axis": 0}),
    ("var", ((3, 4),), {"axis": (0,), "ddof": 0, "keepdims": False}),
    ("var", ((3, 4),), {"axis": (1,), "ddof": 1, "keepdims": True}),
    ("flip", ((3, 4),), {"axis": (0,)}),
    ("expand_dims", ((3, 4),), {"axis": (0,)}),
    ("expand_dims", ((3, 4),), {"axis": (2,)}),
    ("squeeze", ((3, 1, 4),), {"axis": (1,)}),
    ("concatenate", ((2, 3), (1, 3)), {"axis": 0}),
    ("concatenate", ((3, 2), (3, 1)), {"axis": 1}),
    ("stack", ((3, 2), (3, 2)), {"axis": 0}),
    ("stack", ((3, 2), (3, 2)), {"axis": 2}),
    ("take", ((3, 4),), {"indices": I3, "axis": 0}),
    ("pick_along", ((3, 4),), {"indices": np.array([[2, 0, 1, 2]]).repeat(3, 0), "axis": 0}),
    ("put_along", ((3, 4),), {"indices": np.array([[1, 0, 1, 1]]).repeat(3, 0), "axis": 0,
                              "length": 2}),
    ("transpose", ((2, 3, 4),), {"axes": (2, 0, 1)}),
]


def _id(case):
    name, _, params = case
    return f"{name}-" + "-".join(f"{k}{v}" for k, v in params.items() if k != "indices")


def _takes_axes(prim) -> bool:
    try:
        names = inspect.signature(prim.impl).parameters
    except (TypeError, ValueError):
        return False
    return "axis" in names or "axes" in names


def test_every_axis_taking_primitive_normalizes_and_has_a_case() -> None:
    table = primitives()
    missing = sorted(n for n, p in table.items() if _takes_axes(p) and p.normalize is None)
    assert not missing, f"axis-taking primitives without a normalize hook: {missing}"
    axis_taking = {n for n, p in table.items() if p.normalize is not None}
    assert axis_taking == {name for name, _, _ in CASES} | {"tie_scale", "tie_pick"}


@pytest.mark.parametrize("name", ["tie_scale", "tie_pick"])
@pytest.mark.parametrize("axis, keepdims", [(0, False), (1, True), ((0, 1), False)])
def test_tie_scale_positive_axes_match_jax(name, axis, keepdims) -> None:
    # max/min's VJP and JVP: their x and ans operands must agree (ans = max of x), so they
    # have their own case; tie_scale is linear in an ans-shaped g, tie_pick in an x-shaped one.
    prim = primitives()[name]
    rng = np.random.default_rng(0)
    x = rng.integers(0, 3, (3, 4)).astype(float)  # small integers: ties on purpose
    ans = x.max(axis=axis, keepdims=keepdims)
    shape = ans.shape if name == "tie_scale" else x.shape
    g, t = rng.standard_normal(shape), rng.standard_normal(shape)
    params = {"axis": axis if isinstance(axis, tuple) else (axis,), "keepdims": keepdims}

    def f(g):
        return prim.bind(g, x, ans, **params)

    def fj(g):
        return prim.jax_fn()(g, x, ans, **params)

    out, tan = dt.jvp(f, (g,), (t,))
    jout, jtan = jax.jvp(fj, (g,), (t,))
    np.testing.assert_allclose(out, jout, rtol=1e-12)
    np.testing.assert_allclose(tan, jtan, rtol=1e-12, atol=1e-12)
    ct = rng.standard_normal(x.shape if name == "tie_scale" else ans.shape)
    (mine,) = dt.vjp(f, g)[1](ct)
    (ref,) = jax.vjp(fj, g)[1](ct)
    assert np.shape(mine) == np.shape(g)
    np.testing.assert_allclose(mine, ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dt.jacrev(f)(g), jax.jacfwd(fj)(g), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_positive_axes_match_jax(case) -> None:
    name, shapes, params = case
    prim = primitives()[name]
    rng = np.random.default_rng(0)
    xs = tuple(rng.uniform(0.5, 1.5, s) for s in shapes)
    ts = tuple(rng.standard_normal(s) for s in shapes)

    def f(*a):
        return prim.bind(*a, **params)

    def fj(*a):
        return prim.jax_fn()(*a, **params)

    out, tan = dt.jvp(f, xs, ts)
    jout, jtan = jax.jvp(fj, xs, ts)
    np.testing.assert_allclose(out, jout, rtol=1e-12)
    np.testing.assert_allclose(tan, jtan, rtol=1e-12, atol=1e-12)

    ct = rng.standard_normal(np.shape(jout))
    _, pull = dt.vjp(f, *xs)
    _, jpull = jax.vjp(fj, *xs)
    for mine, ref, x in zip(pull(ct), jpull(ct), xs, strict=True):
        assert np.shape(mine) == np.shape(x)
        np.testing.assert_allclose(mine, ref, rtol=1e-12, atol=1e-12)

    argnums = tuple(range(len(xs)))
    jref = jax.jacfwd(fj, argnums=argnums)(*xs)
    for jac in (dt.jacfwd(f, argnums=argnums)(*xs), dt.jacrev(f, argnums=argnums)(*xs)):
        for mine, ref in zip(jac, jref, strict=True):
            np.testing.assert_allclose(mine, ref, rtol=1e-12, atol=1e-12)


def test_bad_axes_name_the_parameter() -> None:
    x = np.ones((3, 4))
    sum_ = primitives()["sum"]
    with pytest.raises(ValueError, match="axis: axis 2 is out of range for 2 axes"):
        sum_.bind(x, axis=(2,), keepdims=False)
    with pytest.raises(TypeError, match="axis: expected an int axis"):
        sum_.bind(x, axis=(0.5,), keepdims=False)
    with pytest.raises(ValueError, match="axes: .* is not a permutation"):
        primitives()["transpose"].bind(x, axes=(0, 0))
