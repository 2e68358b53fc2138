"""dt.jacobian (auto/fwd/rev), dt.hessian's four compositions and choose_mode, against JAX.

The Jacobian and Hessian tests are generated from the op table of test_primitives.py
(its CASES), so every primitive is covered in every mode.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import assume, given, settings
from test_hypothesis import SETTINGS, _finite_and_moderate, _functions, problems
from test_primitives import CASE_IDS, CASES, REPRESENTATIVE, jax_reference

import dualtape as dt
import dualtape.numpy as dnp

jax.config.update("jax_enable_x64", True)

HESSIAN_MODES = ("fwd-fwd", "fwd-rev", "rev-fwd", "rev-rev")


def _rel_tree(got, ref) -> float:
    """Largest |got - ref| over the largest |ref| (at least 1), over matching leaves."""
    g, _ = jax.tree_util.tree_flatten(got)
    r, _ = jax.tree_util.tree_flatten(ref)
    assert len(g) == len(r)
    worst = 0.0
    for a, b in zip(g, r, strict=True):
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        assert a.shape == b.shape, f"shape {a.shape} != {b.shape}"
        scale = max(1.0, float(np.max(np.abs(b), initial=0.0)))
        worst = max(worst, float(np.max(np.abs(a - b), initial=0.0)) / scale)
    return worst


@pytest.mark.parametrize("mode", ["fwd", "rev"])  # "auto" runs one of them: random compositions
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_jacobian_matches_jax_jacfwd(case, mode):
    """jax.jacfwd's Jacobian over every argument, and over the first alone (shaped as JAX's)."""
    args = case.args()
    nums = tuple(range(len(args)))
    ref = jax_reference(case).jac  # one jax.jacfwd per case, shared (see _jaxref)
    got = dt.jacobian(case.fn, argnums=nums, mode=mode)(*args)
    assert isinstance(got, tuple)
    assert _rel_tree(got, ref) < 1e-10
    assert _rel_tree(dt.jacobian(case.fn, mode=mode)(*args), ref[0]) < 1e-10


def _hessian_sweep() -> list:
    """Every second-order case in every mode, but the decompositions' n^2-pass modes
    (fwd-fwd, rev-fwd: about 2 s each) on the first case of each only: the suite's budget."""
    out, seen = [], set()
    for c in (c for c in REPRESENTATIVE if c.second_order):
        first = c.prim not in seen
        seen.add(c.prim)
        for mode in HESSIAN_MODES:
            if first or c.prim not in {"svd", "qr", "eigh"} or mode in ("fwd-rev", "rev-rev"):
                out.append(pytest.param(c, mode, id=f"{c.id}-{mode}"))
    return out


@pytest.mark.parametrize("case, mode", _hessian_sweep())  # "auto" picks one of these: see below
def test_hessian_modes_match_jax(case, mode):
    """dt.hessian of <u, f> over every argument against jax.hessian's (shared per case)."""
    args = case.args()
    ref = jax_reference(case)
    u = ref.u
    nums = tuple(range(len(args)))
    got = dt.hessian(lambda *a: dnp.sum(case.fn(*a) * u), argnums=nums, mode=mode)(*args)
    assert _rel_tree(got, ref.hess) < 1e-10


def test_hessian_auto_takes_fwd_fwd_for_one_input_or_as_many_outputs():
    from dualtape.modes import _auto_hessian_mode

    f = lambda a, b=1.0: dnp.sum(dnp.sin(a) * b)  # noqa: E731
    assert _auto_hessian_mode(f, (0.3,), {}, 0, False) == "fwd-fwd"
    assert _auto_hessian_mode(f, (np.array(0.3),), {}, 0, False) == "fwd-fwd"
    assert _auto_hessian_mode(f, (np.ones(2),), {}, 0, False) == "fwd-rev"
    assert _auto_hessian_mode(f, (0.3, 0.2), {}, (0, 1), False) == "fwd-rev"
    # many outputs of few inputs: fwd-rev pulled all m cotangents back (1.3 s for 2 x 2000)
    many = lambda a: (dnp.sin(np.linspace(0, 1, 50) * a[0]), a)  # noqa: E731
    assert _auto_hessian_mode(many, (np.ones(2),), {}, 0, True) == "fwd-fwd"
    assert _auto_hessian_mode(lambda a: many(a)[0][:1], (np.ones(2),), {}, 0, False) == "fwd-rev"
    for x in (0.3, np.array([0.3, -1.1])):
        ref = jax.hessian(lambda a: jnp.sum(jnp.sin(a) * 1.0))(jnp.asarray(x))
        assert _rel_tree(dt.hessian(f, mode="auto")(x), ref) < 1e-12


@pytest.mark.parametrize("mode", HESSIAN_MODES)
def test_hessian_of_vector_function_and_pytree(mode):
    """Non-scalar output and a dict argument: shapes and values as jax.hessian's."""
    w = np.array([[0.3, -1.2], [0.7, 0.4], [1.1, 0.2]])

    def f(p, x):
        return dnp.tanh(w @ p["a"] * x) + p["b"] ** 3

    p = {"a": np.array([0.5, -0.4]), "b": np.array([0.2, 0.9, -0.3])}
    x = 0.7
    ref = jax.hessian(f)(jax.tree_util.tree_map(jnp.asarray, p), x)
    assert _rel_tree(dt.hessian(f, mode=mode)(p, x), ref) < 1e-10
    ref2 = jax.hessian(f, argnums=(0, 1))(jax.tree_util.tree_map(jnp.asarray, p), x)
    assert _rel_tree(dt.hessian(f, argnums=(0, 1), mode=mode)(p, x), ref2) < 1e-10


@settings(SETTINGS, max_examples=16)  # jax.hessian of each example, eagerly: the slow part
@given(problems(), __import__("hypothesis").strategies.sampled_from(HESSIAN_MODES))
def test_hessian_modes_random_compositions(problem, mode):
    tree, x, _ = problem
    f, jf = _functions(tree)
    ref = jax.hessian(lambda y: jnp.sum(jf(y)))(x)
    assume(_finite_and_moderate(ref))
    got = dt.hessian(lambda y: dnp.sum(f(y)), mode=mode)(x)
    np.testing.assert_allclose(got, ref, rtol=1e-7,
                               atol=1e-9 * max(1.0, float(np.max(np.abs(ref)))))


@SETTINGS
@given(problems(), __import__("hypothesis").strategies.sampled_from(["auto", "fwd", "rev"]))
def test_jacobian_random_compositions(problem, mode):
    tree, x, _ = problem
    f, jf = _functions(tree)
    ref = jax.jacfwd(jf)(x)
    assume(_finite_and_moderate(ref))
    np.testing.assert_allclose(dt.jacobian(f, mode=mode)(x), ref, rtol=1e-7,
                               atol=1e-9 * max(1.0, float(np.max(np.abs(ref)))))


# ---------------------------------------------------------------- choose_mode


def _dense(n: int, m: int):
    rng = np.random.default_rng([n, m])
    a = rng.standard_normal((m, n)) / np.sqrt(n)
    return (lambda x: dnp.tanh(dnp.matmul(a, x))), rng.standard_normal(n)


def test_choose_mode_reverse_for_many_inputs_one_output():
    f, x = _dense(2000, 1)
    c = dt.choose_mode(f, x)
    assert c.mode == "rev"
    assert "reverse mode" in c.reason and "n = 2000" in c.reason and "m = 1 " in c.reason
    assert c.costs[c.method] == min(c.costs.values())
    assert c.costs["fwd_chunk1"] > 100 * c.costs[c.method]


def test_choose_mode_forward_for_one_input_many_outputs():
    f, x = _dense(1, 2000)
    c = dt.choose_mode(f, x)
    assert c.mode == "fwd"
    assert "forward mode" in c.reason and "n = 1 " in c.reason and "m = 2000" in c.reason
    assert c.costs["rev_chunk1"] > 100 * c.costs[c.method]


@pytest.mark.parametrize("n,m", [(0, 2), (1, 1), (1, 5), (5, 1), (2, 2), (4, 4), (5, 17)])
def test_choose_mode_picks_among_the_methods_compare_times(n, m):
    # the auto_mode study and dt.compare look the pick up among first_order's methods
    from dualtape.comparison.methods import first_order

    f, x = _dense(n, m)
    c = dt.choose_mode(f, x)
    names = {meth.name for meth in first_order(n, m)[0]}
    assert set(c.costs) == names and c.method in names


@pytest.mark.parametrize("chunk", [None, 1, 3])
@pytest.mark.parametrize("jac", [dt.jacfwd, dt.jacrev])
def test_one_direction_in_vector_mode_is_chunk_one(jac, chunk):
    one_in = lambda x: dnp.stack([dnp.sin(x[0]), x[0] ** 3])  # noqa: E731
    one_out = lambda x: dnp.sum(dnp.sin(x) * x)  # noqa: E731
    x1, x3 = np.array([0.7]), np.array([0.7, -0.2, 1.3])
    f, x, ref = (one_in, x1, jax.jacfwd(lambda x: jnp.stack([jnp.sin(x[0]), x[0] ** 3]))(x1)) \
        if jac is dt.jacfwd else (one_out, x3, jax.jacrev(lambda x: jnp.sum(jnp.sin(x) * x))(x3))
    got = jac(f, chunk=chunk)(x)
    assert got.shape == ref.shape and np.allclose(got, ref, rtol=1e-13)


def test_choose_mode_is_deterministic_and_counts_only():
    f, x = _dense(50, 20)
    first = dt.choose_mode(f, x)
    assert all(dt.choose_mode(f, x) == first for _ in range(3))
    with dt.count() as c:
        dt.choose_mode(f, x)
    with dt.count() as one:
        f(x)
    assert 0 < one.n_ops and c.n_ops <= 10 * one.n_ops  # a small constant times one evaluation


def test_choose_mode_argnums_and_pytrees():
    def f(p, x):
        return dnp.sum(dnp.tanh(p["w"] @ x + p["b"]))

    p = {"w": np.ones((3, 400)) / 20, "b": np.zeros(3)}
    x = np.linspace(-1, 1, 400)
    c = dt.choose_mode(f, p, x, argnums=(0, 1))
    assert c.profile.n == 1603 and c.profile.m == 1 and c.mode == "rev"
    with pytest.raises(ValueError, match="argnums"):
        dt.choose_mode(f, p, x, argnums=5)


def test_jacobian_auto_follows_choice_and_rejects_bad_mode():
    f, x = _dense(300, 2)
    assert dt.choose_mode(f, x).mode == "rev"
    np.testing.assert_allclose(dt.jacobian(f)(x), dt.jacfwd(f)(x), rtol=1e-12)
    with pytest.raises(ValueError, match="mode"):
        dt.jacobian(f, mode="forward")
    with pytest.raises(ValueError, match="mode"):
        dt.hessian(f, mode="fwd")
    with pytest.raises(ValueError, match="chunk"):
        dt.jacobian(f, chunk=0)


@pytest.mark.parametrize("shape", [(1, 30), (30, 1)], ids=["fwd picked", "rev picked"])
@pytest.mark.parametrize("mode", ("auto", "fwd", "rev"))
def test_jacobian_has_aux_as_jax(mode, shape):
    # was: dt.jacobian had no has_aux, where jacfwd, jacrev and JAX's jacobians have it
    n, m = shape
    w = np.linspace(-1.0, 1.0, n * m).reshape(m, n)
    x = np.linspace(0.2, 0.9, n)

    def f(a, scale=1.0):
        y = dnp.tanh(w @ a) * scale
        return y, {"y": y, "n": 3}

    jac = dt.jacobian(f, mode=mode, has_aux=True)
    for _ in range(2):  # the second call reuses auto's choice
        got, aux = jac(x, scale=2.0)
        ref, ref_aux = jax.jacobian(lambda a: f(a, 2.0), has_aux=True)(jnp.asarray(x))
        assert _rel_tree(got, ref) < 1e-12
        np.testing.assert_allclose(aux["y"], ref_aux["y"], rtol=1e-13)
        assert isinstance(aux["y"], np.ndarray) and aux["n"] == 3
    if mode == "auto":
        assert dt.choose_mode(lambda a: f(a)[0], x).mode == ("fwd" if n == 1 else "rev")
    with pytest.raises(TypeError, match="has_aux=True requires the function to return a pair"):
        dt.jacobian(lambda a: dnp.sin(a), mode=mode, has_aux=True)(x)


@pytest.mark.parametrize("mode", HESSIAN_MODES)
def test_hessian_of_pytree_output_with_mixed_dtypes(mode):
    """Several output leaves: each leaf's k x k blocks in their row argument's dtype."""
    a, b = np.array([0.5, -0.4, 0.3], np.float32), 0.7

    def f(a, b):
        return {"u": dnp.sin(a) * b, "v": [dnp.sum(a * a) * b * b, b ** 3]}

    got = dt.hessian(f, argnums=(0, 1), mode=mode)(a, b)
    ref = jax.hessian(f, argnums=(0, 1))(jnp.asarray(a), b)
    assert jax.tree_util.tree_structure(got) == jax.tree_util.tree_structure(ref)
    for g, r in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(ref), strict=True):
        assert np.asarray(g).dtype == r.dtype
    assert _rel_tree(got, ref) < 1e-6


@pytest.mark.parametrize("mode", (*HESSIAN_MODES, "auto"))
def test_hessian_has_aux_as_jax(mode):
    x, y = np.array([0.3, -1.1]), 0.7

    def f(a, b):
        return dnp.sum(dnp.sin(a) * b ** 2), {"a": a * b, "n": 3}

    got, aux = dt.hessian(f, argnums=(0, 1), mode=mode, has_aux=True)(x, y)
    ref, ref_aux = jax.hessian(f, argnums=(0, 1), has_aux=True)(jnp.asarray(x), y)
    assert _rel_tree(got, ref) < 1e-12
    np.testing.assert_allclose(aux["a"], ref_aux["a"])
    assert aux["n"] == 3 and isinstance(aux["a"], np.ndarray)
