"""Sparse Jacobians and Hessians: detection against JAX, colourings, compressed evaluation."""

from __future__ import annotations

import subprocess
import sys
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from test_hypothesis import SETTINGS, evaluate, problems

import dualtape as dt
import dualtape.numpy as dnp
from dualtape.registry import Primitive, primitives
from dualtape.sparse import check_coloring, declarations
from dualtape.sparse.families import FAMILIES, make

jax.config.update("jax_enable_x64", True)


def jax_jacobian(f, x, jit=True):
    """JAX's Jacobian of f at x as an (m, n) array."""
    x = np.asarray(x, dtype=float)
    jac = jax.jacfwd(f)
    out = np.asarray((jax.jit(jac) if jit else jac)(jnp.asarray(x)))
    return out.reshape(-1, x.size)


def assert_covers(pattern, jac):
    """Every nonzero of ``jac`` is in ``pattern``."""
    missed = (jac != 0) & ~pattern.toarray()
    assert not missed.any(), f"pattern misses {np.argwhere(missed)[:5].tolist()}"


def assert_close(got, want, rtol=1e-12):
    scale = max(1.0, float(np.abs(want).max(initial=0.0)))
    assert np.abs(got - want).max(initial=0.0) <= rtol * scale


# ---------------------------------------------------------------- detection


@pytest.mark.parametrize("name", sorted(FAMILIES))
@pytest.mark.parametrize("n", [8, 37, 200])
def test_pattern_is_exact_on_the_families(name, n):
    fam = make(name, n, seed=n)
    pattern = dt.jacobian_sparsity(fam.f, fam.x)
    assert pattern.dtype == bool and pattern.shape == fam.pattern.shape
    assert (pattern != fam.pattern).nnz == 0
    rng = np.random.default_rng(n)
    for x in (fam.x, rng.uniform(-2, 2, fam.n)):
        jac = jax_jacobian(fam.f, x)
        assert_covers(pattern, jac)


@given(problems())
@settings(SETTINGS, max_examples=25)
def test_pattern_covers_jax_on_random_compositions(problem):
    tree, x, seed = problem
    f = lambda v: evaluate(tree, v, 0)  # noqa: E731
    pattern = dt.jacobian_sparsity(f, x)
    jac = jax_jacobian(lambda v: evaluate(tree, v, 1), x, jit=False)
    assert pattern.shape == jac.shape
    assert_covers(pattern, jac)
    x2 = np.random.default_rng(seed).uniform(-2, 2, np.shape(x))
    assert_covers(pattern, jax_jacobian(lambda v: evaluate(tree, v, 1), x2, jit=False))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dt.DensePatternWarning)
        for mode in ("fwd", "rev"):
            got = dt.sparse_jacobian(f, mode=mode, sparsity=pattern)(x)
            assert_close(got.toarray(), jac)


@given(problems())
@settings(SETTINGS, max_examples=15)
def test_hessian_pattern_covers_jax_on_random_compositions(problem):
    tree, x, _ = problem
    f = lambda v: dnp.sum(evaluate(tree, v, 0))  # noqa: E731
    pattern = dt.hessian_sparsity(f, x)
    hess = np.asarray(jax.jit(jax.hessian(lambda v: jnp.sum(evaluate(tree, v, 1))))(jnp.asarray(x)))
    hess = hess.reshape(np.size(x), np.size(x))
    assert_covers(pattern, hess)
    assert (pattern != pattern.T).nnz == 0


CONST = np.array([[1.0, 0.0, 2.0], [0.0, 0.0, 3.0]])
STRUCTURAL = {
    "transpose": lambda x: dnp.transpose(dnp.reshape(x, (2, 3))) * 2.0,
    "flip_cumsum": lambda x: dnp.cumsum(dnp.flip(x, 0)),
    "softmax_rows": lambda x: dnp.softmax(dnp.reshape(x, (2, 3)), axis=1),
    "take": lambda x: dnp.take(x, np.array([4, 0, 0, 2])) ** 2,
    "mask": lambda x: x[np.array([True, False, True, False, False, True])] * 3.0,
    "stack": lambda x: dnp.stack([x[:3], x[3:] * 2.0, np.ones(3)], axis=1),
    "broadcast": lambda x: dnp.reshape(x[:2], (2, 1)) * dnp.reshape(x[3:], (1, 3)),
    "matmul_const": lambda x: CONST @ dnp.reshape(x, (3, 2)),
    "matmul_traced": lambda x: dnp.reshape(x[:4], (2, 2)) @ dnp.reshape(x[2:], (2, 2)),
    "matvec": lambda x: dnp.matmul(x[:3], CONST.T),
    "batched_matmul": lambda x: np.ones((2, 1, 3)) @ dnp.reshape(x, (3, 2)),
    "scatter": lambda x: dt.grad(lambda y: dnp.sum(y[np.array([0, 2, 2])] * x[1:4]))(x[:3]),
    "reductions": lambda x: dnp.concatenate([
        dnp.prod(dnp.reshape(x, (2, 3)), axis=0), dnp.max(dnp.reshape(x, (3, 2)), axis=1),
        dnp.mean(x[::2], keepdims=True), dnp.logsumexp(dnp.reshape(x, (2, 3)), axis=1)]),
    "where_clip": lambda x: dnp.where(x > 0.4, dnp.clip(x, 0.2, 0.8), x[::-1]),
    "numpy_protocol": lambda x: np.sin(x) * np.sum(x[:2]),
}
# JAX's version where NumPy's functions cannot take a JAX tracer
JAX_VERSION = {
    "numpy_protocol": lambda x: jnp.sin(x) * jnp.sum(x[:2]),
    "scatter": lambda x: jax.grad(lambda y: jnp.sum(y[np.array([0, 2, 2])] * x[1:4]))(x[:3]),
}
EXACT = {"transpose", "flip_cumsum", "softmax_rows", "take", "stack", "broadcast",
         "matmul_const", "matmul_traced", "matvec", "batched_matmul", "numpy_protocol"}


@pytest.mark.parametrize("name", sorted(STRUCTURAL))
def test_structural_ops(name):
    f = STRUCTURAL[name]
    x = np.array([0.3, 0.9, 0.1, 0.7, 0.5, 0.6])
    pattern = dt.jacobian_sparsity(f, x)
    jac = jax_jacobian(JAX_VERSION.get(name, f), x)
    assert_covers(pattern, jac)
    if name in EXACT:
        assert np.array_equal(pattern.toarray(), jac != 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dt.DensePatternWarning)
        assert_close(dt.sparse_jacobian(f)(x).toarray(), jac)


def test_matmul_reads_the_zeros_of_a_constant_only():
    a = np.array([[1.0, 0.0], [0.0, 2.0]])
    x = np.array([1.0, 2.0])
    assert dt.jacobian_sparsity(lambda x: a @ x, x).nnz == 2
    # a traced operand's zero is not structural: x * 0 here, but not at other inputs
    both = dt.jacobian_sparsity(lambda x: dnp.reshape(x * 1.0, (1, 2)) @ dnp.reshape(x, (2, 1)), x)
    assert both.nnz == 2


def test_unknown_primitive_falls_back_to_dense_silently():
    prim = Primitive("sparse_test_roll", lambda x: np.roll(x, 1), jvp=(None,), vjp=(None,),
                     flops=lambda ans, x: 0)
    prim.jvp = (lambda t, ans, x: prim.bind(t),)  # differentiable, but no declaration
    x = np.arange(4.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pattern = dt.jacobian_sparsity(lambda v: prim.bind(v * 2.0)[:3], x)
    assert pattern.toarray().all() and pattern.shape == (3, 4)
    # a primitive whose JVP rules are all None has zero derivative: no dependency at all
    assert dt.jacobian_sparsity(lambda v: dnp.sign(v) + 1.0, x).nnz == 0


def test_declarations_name_registered_primitives():
    names = set(primitives())
    assert set(declarations()) <= names, set(declarations()) - names


def test_pytrees_argnums_and_levels():
    def f(a, b):
        return {"s": a["u"] * b[1:], "t": dnp.sum(a["v"] ** 2)}

    a = {"u": np.array([1.0, 2.0]), "v": np.array([3.0])}
    b = np.array([1.0, 2.0, 3.0])
    pattern = dt.jacobian_sparsity(f, a, b, argnums=(0, 1))
    # inputs: u (2), v (1), b (3); outputs: s (2), t (1)
    want = np.array([[1, 0, 0, 0, 1, 0], [0, 1, 0, 0, 0, 1], [0, 0, 1, 0, 0, 0]], bool)
    assert np.array_equal(pattern.toarray(), want)
    # a transformation inside the traced function runs at a higher level
    g = lambda x: dt.grad(lambda y: dnp.sum(y ** 2 * x))(x[::-1])  # noqa: E731
    g_jax = lambda x: jax.grad(lambda y: jnp.sum(y ** 2 * x))(x[::-1])  # noqa: E731
    x = np.array([1.0, 2.0, 3.0])
    assert np.array_equal(dt.jacobian_sparsity(g, x).toarray(), jax_jacobian(g_jax, x) != 0)
    # and one outside
    out = dt.jvp(lambda s: dt.jacobian_sparsity(lambda x: x * s, x).nnz, (2.0,), (1.0,))
    assert out[0] == 3


# ---------------------------------------------------------------- colouring


@pytest.mark.parametrize("mode", ["fwd", "rev"])
def test_tridiagonal_needs_three_colours_at_every_n(mode):
    for n in list(range(3, 40)) + [1000, 4097]:
        pattern = make("reaction_diffusion", n).pattern
        coloring = dt.color_jacobian(pattern, mode)
        assert coloring.n_colors == 3 and coloring.mode == mode
        check_coloring(pattern, coloring)


def test_block_diagonal_needs_eight_colours():
    for n in (8, 64, 800):
        pattern = make("block_diagonal", n).pattern
        for mode in ("fwd", "rev", "auto"):
            assert dt.color_jacobian(pattern, mode).n_colors == 8


def test_auto_picks_the_mode_with_fewer_colours():
    pattern = make("arrowhead", 50).pattern  # dense last row
    assert dt.color_jacobian(pattern, "fwd").n_colors == 50
    assert dt.color_jacobian(pattern, "rev").n_colors == 2
    assert dt.color_jacobian(pattern).mode == "rev"
    transposed = dt.color_jacobian(pattern.T)  # dense last column
    assert transposed.mode == "fwd" and transposed.n_colors == 2


def test_colourings_are_valid_on_random_patterns():
    rng = np.random.default_rng(0)
    for _ in range(100):
        m, n = rng.integers(1, 25, 2)
        p = rng.random((m, n)) < rng.uniform(0, 0.5)
        for mode in ("fwd", "rev", "auto"):
            for order in ("largest_first", "natural"):
                check_coloring(p, dt.color_jacobian(p, mode, order=order))
        s = p[:, :min(m, n)][:min(m, n)]
        check_coloring(s | s.T, dt.color_hessian(s))


def test_star_colouring_of_an_arrowhead_needs_two_colours():
    n = 30
    p = np.eye(n, dtype=bool)
    p[0] = p[:, 0] = True
    assert dt.color_jacobian(p).n_colors == n
    assert dt.color_hessian(p).n_colors == 2


def test_an_invalid_colouring_is_rejected():
    pattern = make("reaction_diffusion", 10).pattern
    bad = dt.Coloring(colors=np.arange(10) % 2, n_colors=2, mode="fwd")
    with pytest.raises(ValueError, match="share a nonzero"):
        check_coloring(pattern, bad)
    with pytest.raises(ValueError, match="share a nonzero"):
        dt.sparse_jacobian(make("reaction_diffusion", 10).f, coloring=bad)(np.ones(10))
    with pytest.raises(ValueError, match="star"):
        check_coloring(pattern, dt.Coloring(colors=np.arange(10) % 2, n_colors=2, mode="sym"))


def test_bad_arguments():
    with pytest.raises(ValueError, match="mode"):
        dt.color_jacobian(np.eye(3), "forward")
    with pytest.raises(ValueError, match="order"):
        dt.color_jacobian(np.eye(3), order="random")
    with pytest.raises(TypeError, match="pattern"):
        dt.color_jacobian([[1, 0], [0, 1]])
    with pytest.raises(ValueError, match="2-D"):
        dt.color_jacobian(np.ones(3))
    with pytest.raises(ValueError, match="square"):
        dt.color_hessian(np.ones((2, 3)))
    with pytest.raises(ValueError, match="mode"):
        dt.sparse_jacobian(dnp.sin, mode="both")
    with pytest.raises(ValueError, match="columns"):
        dt.sparse_jacobian(dnp.sin, sparsity=sp.eye_array(4))(np.ones(3))
    with pytest.raises(ValueError, match="rows"):
        dt.sparse_jacobian(lambda x: x[:2], sparsity=sp.eye_array(3), mode="fwd")(np.ones(3))
    with pytest.raises(ValueError, match="symmetric"):
        dt.sparse_hessian(dnp.sum, coloring=dt.color_jacobian(np.eye(3)))
    with pytest.raises(TypeError, match="float"):
        dt.jacobian_sparsity(dnp.sin, np.arange(3))


# ---------------------------------------------------------------- compressed evaluation


@pytest.mark.parametrize("name", sorted(FAMILIES))
@pytest.mark.parametrize("mode", ["fwd", "rev", "auto"])
def test_sparse_jacobian_equals_jax(name, mode):
    fam = make(name, 120, seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dt.DensePatternWarning)  # arrowhead in fwd mode
        jac_fn = dt.sparse_jacobian(fam.f, mode=mode)
        got = jac_fn(fam.x)
    assert isinstance(got, sp.csr_array)
    assert (got != 0).nnz <= fam.pattern.nnz
    assert np.array_equal(got.indptr, fam.pattern.indptr)
    assert np.array_equal(got.indices, fam.pattern.indices)
    assert_close(got.toarray(), jax_jacobian(fam.f, fam.x))
    x2 = np.random.default_rng(1).uniform(0.1, 0.9, fam.n)
    assert_close(jac_fn(x2).toarray(), jax_jacobian(fam.f, x2))


def test_pattern_and_colouring_are_computed_once(monkeypatch):
    from dualtape.sparse import jacobian as module

    calls = []
    real = module.detect
    monkeypatch.setattr(module, "detect", lambda *a, **k: calls.append(1) or real(*a, **k))
    fam = make("reaction_diffusion", 30)
    jac_fn = dt.sparse_jacobian(fam.f)
    first = jac_fn(fam.x)
    coloring = jac_fn.coloring
    second = jac_fn(fam.x + 0.1)
    assert len(calls) == 1 and jac_fn.coloring is coloring and coloring.n_colors == 3
    assert not np.allclose(first.data, second.data)
    jac_fn(np.linspace(0.1, 0.9, 40))  # a new shape: detected again
    assert len(calls) == 2 and jac_fn.sparsity.shape == (40, 40)


def test_a_dense_pattern_warns_and_falls_back():
    a = np.random.default_rng(0).standard_normal((5, 4))
    f = lambda x: dnp.tanh(a @ x)  # noqa: E731
    x = np.linspace(0.1, 0.4, 4)
    with pytest.warns(dt.DensePatternWarning, match="dense"):
        jac_fn = dt.sparse_jacobian(f)
        got = jac_fn(x)
    assert jac_fn.coloring.n_colors == 4
    assert_close(got.toarray(), jax_jacobian(f, x))


def test_sparse_jacobian_of_several_arguments():
    f = lambda a, b: dnp.concatenate([a * b[:3], dnp.sin(b)])  # noqa: E731
    a, b = np.array([1.0, 2.0, 3.0]), np.array([0.5, 0.6, 0.7, 0.8])
    got = dt.sparse_jacobian(f, argnums=(0, 1), mode="rev")(a, b).toarray()
    ja, jb = jax.jacfwd(f, argnums=(0, 1))(jnp.asarray(a), jnp.asarray(b))
    assert_close(got, np.hstack([ja, jb]))


HESSIAN_CASES = {
    "chain": lambda x: dnp.sum(x[1:] * dnp.sin(x[:-1])) + dnp.sum(dnp.exp(x) ** 2),
    "arrowhead": lambda x: dnp.sum(x[1:] ** 2) * x[0] + dnp.sum(dnp.cos(x)),
    "stencil": lambda x: dnp.sum(make("stencil_2d", 36).f(x) ** 2),
    "rosenbrock": lambda x: dnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2),
}


@pytest.mark.parametrize("name", sorted(HESSIAN_CASES))
def test_sparse_hessian_equals_jax(name):
    f = HESSIAN_CASES[name]
    x = np.random.default_rng(2).uniform(0.1, 0.9, 36)
    hess_fn = dt.sparse_hessian(f)
    got = hess_fn(x)
    want = np.asarray(jax.jit(jax.hessian(f))(jnp.asarray(x)))
    assert_covers(hess_fn.sparsity, want)
    assert_close(got.toarray(), want)
    assert hess_fn.coloring.mode == "sym" and hess_fn.coloring.n_colors < 36
    if name == "arrowhead":
        assert hess_fn.coloring.n_colors == 2


def test_import_dualtape_does_not_import_scipy():
    code = "import sys, dualtape; print('scipy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_max_derivatives_keep_their_group_patterns():
    # max's JVP (tie_pick, a reduction) and VJP (tie_scale, its transpose) declare their patterns
    from dualtape.sparse.tracer import hessian_sparsity, jacobian_sparsity

    x = np.arange(12.0)
    tangent = lambda v: dt.jvp(lambda u: dnp.max(u.reshape(4, 3), axis=-1), (v,), (v,))[1]  # noqa: E731
    assert jacobian_sparsity(tangent, x).nnz == 12
    for jac in (dt.jacfwd, dt.jacrev):
        g = lambda v, jac=jac: dnp.sum(jac(lambda u: dnp.max(u.reshape(4, 3) ** 2, axis=-1))(v) ** 2)  # noqa: E731
        pattern = hessian_sparsity(g, x).toarray()
        assert not pattern[np.kron(1 - np.eye(4), np.ones((3, 3))) > 0].any()  # no cross-group entries


# ---------------------------------------------------------------- patterns that must hold at other points

def _two_calls(f, first, second, mode="auto", argnums=0):
    """The sparse Jacobian at ``second`` after one at ``first`` (arguments tuples)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dt.DensePatternWarning)
        jac_fn = dt.sparse_jacobian(f, argnums=argnums, mode=mode)
        jac_fn(*first)
        return jac_fn(*second).toarray()


@pytest.mark.parametrize("mode", ["fwd", "rev"])
def test_other_arguments_change_the_pattern(mode):
    # matmul reads a constant matrix's zeros, a gather its index array: both are arguments
    x = np.array([1.0, 2.0, 3.0, 4.0])
    got = _two_calls(lambda a, m: m @ a, (x, np.diag([1.0, 2.0, 3.0, 4.0])), (x, np.ones((4, 4))),
                     mode)
    assert_close(got, np.ones((4, 4)))
    f = lambda a, idx: a[idx] * 2.0  # noqa: E731
    got = _two_calls(f, (x, np.array([0, 1])), (x, np.array([3, 2])), mode)
    assert_close(got, dt.jacfwd(f)(x, np.array([3, 2])))
    g = lambda a, opts: a[opts["idx"]] * opts["scale"]  # noqa: E731
    first, second = {"idx": [0, 1], "scale": 1.0}, {"idx": [2, 1], "scale": 1.0}
    assert_close(_two_calls(g, (x, first), (x, second), mode), dt.jacfwd(g)(x, second))


def test_the_pattern_is_kept_while_the_other_arguments_are_the_same(monkeypatch):
    from dualtape.sparse import jacobian as module

    calls = []
    real = module.detect
    monkeypatch.setattr(module, "detect", lambda *a, **k: calls.append(1) or real(*a, **k))
    warnings.simplefilter("ignore", dt.DensePatternWarning)  # pytest restores the filters
    f = lambda a, m, s: (m @ a) * s  # noqa: E731
    x, m = np.linspace(0.1, 0.5, 5), np.eye(5)
    jac_fn = dt.sparse_jacobian(f)
    jac_fn(x, m, 2.0)
    jac_fn(x + 1.0, m.copy(), 2.0)  # equal values in a new array: kept
    assert len(calls) == 1
    m[0, 1] = 3.0  # changed in place: the snapshot was a copy
    assert_close(jac_fn(x, m, 2.0).toarray(), dt.jacfwd(f)(x, m, 2.0))
    jac_fn(x, m, 3.0)
    assert len(calls) == 3
    # a leaf that cannot be compared is detected again at every call, never reused
    h = lambda a, o: a[o.idx] ** 2  # noqa: E731
    box = type("Box", (), {})()
    box.idx = np.array([0])
    jac_fn = dt.sparse_jacobian(h)
    jac_fn(x, box)
    box.idx = np.array([4])
    assert_close(jac_fn(x, box).toarray(), dt.jacfwd(h)(x, box))
    assert len(calls) == 5


def test_sparse_hessian_follows_the_other_arguments():
    f = lambda a, idx: dnp.sum(a[idx] ** 3)  # noqa: E731
    x = np.linspace(0.1, 0.5, 5)
    hess_fn = dt.sparse_hessian(f)
    hess_fn(x, np.array([0, 1]))
    assert_close(hess_fn(x, np.array([3, 4])).toarray(), dt.hessian(f)(x, np.array([3, 4])))


ORDERED = {  # functions that pick elements by their values: the pattern is the whole fibre
    "sort": (lambda a: dnp.sort(a, axis=1) * 2.0, lambda a: jnp.sort(a, axis=1) * 2.0),
    "sort_flat": (lambda a: dnp.sort(a, axis=None) ** 2, lambda a: jnp.sort(a, axis=None) ** 2),
    "partition": (lambda a: dnp.partition(a, 1, axis=0) ** 2, None),
    "median": (lambda a: dnp.median(a, axis=1), lambda a: jnp.median(a, axis=1)),
    "quantile": (lambda a: dnp.quantile(a, 0.3, axis=1), lambda a: jnp.quantile(a, 0.3, axis=1)),
    "percentile": (lambda a: dnp.percentile(a, [20.0, 70.0]),
                   lambda a: jnp.percentile(a, jnp.array([20.0, 70.0]))),
    "nanmedian": (lambda a: dnp.nanmedian(a, axis=1), lambda a: jnp.nanmedian(a, axis=1)),
    "interp_x": (lambda a: dnp.interp(a[0], np.arange(4.0) - 1.5, a[1] ** 2),
                 lambda a: jnp.interp(a[0], jnp.arange(4.0) - 1.5, a[1] ** 2)),
    "interp_xp": (lambda a: dnp.interp(np.array([-0.5, 0.5]), dnp.sort(a[0]), a[1]),
                  lambda a: jnp.interp(jnp.array([-0.5, 0.5]), jnp.sort(a[0]), a[1])),
}


@pytest.mark.parametrize("mode", ["fwd", "rev"])
@pytest.mark.parametrize("name", sorted(ORDERED))
def test_value_ordered_functions_hold_at_another_point(name, mode):
    f, jf = ORDERED[name]
    rng = np.random.default_rng(3)
    xa, xb = rng.standard_normal((2, 4)), rng.standard_normal((2, 4))
    got = _two_calls(f, (xa,), (xb,), mode)
    want = dt.jacfwd(f)(xb).reshape(got.shape)
    assert_close(got, want)
    if jf is not None:
        assert_close(want, jax_jacobian(jf, xb).reshape(got.shape))
    assert_covers(dt.jacobian_sparsity(f, xa), want)


def test_sort_has_the_group_pattern_in_every_order():
    x = np.array([[3.0, 1.0, 2.0], [6.0, 5.0, 4.0]])
    group = np.kron(np.eye(2), np.ones((3, 3)))
    assert np.array_equal(dt.jacobian_sparsity(lambda a: dnp.sort(a), x).toarray(), group)
    h = lambda a: dnp.sum(dnp.sort(a)[:, 1:] * dnp.sort(a)[:, :-1])  # noqa: E731
    assert np.array_equal(dt.hessian_sparsity(h, x).toarray(), group.astype(bool))
    hess_fn = dt.sparse_hessian(lambda a: h(dnp.reshape(a, (2, 3))))
    flat = x.ravel()
    hess_fn(flat)
    other = flat[::-1].copy()
    want = np.asarray(jax.hessian(lambda a: jnp.sum(jnp.sort(a.reshape(2, 3))[:, 1:]
                                                    * jnp.sort(a.reshape(2, 3))[:, :-1]))(other))
    assert_close(hess_fn(other).toarray(), want)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sparse_derivatives_keep_the_input_dtype_as_jacfwd_does(dtype):
    # was: float64 whatever the input's dtype
    x = np.linspace(0.1, 0.9, 6).astype(dtype)
    f = lambda x: dnp.sin(x) * x + dnp.roll(x, 1)
    for mode in ("fwd", "rev"):
        jac = dt.sparse_jacobian(f, mode=mode)(x)
        assert jac.dtype == dt.jacfwd(f)(x).dtype == dtype
        np.testing.assert_array_equal(jac.toarray(), dt.jacfwd(f)(x))
    hes = dt.sparse_hessian(lambda x: dnp.sum(f(x) ** 2))(x)
    assert hes.dtype == dtype


def test_a_pattern_found_by_reading_values_is_not_reused_at_other_values():
    # was: the diagonal pattern found at [3, 1, 2] was reused at [1, 3, 2], silently wrong
    f = lambda x: x[dnp.argmax(x)] * x
    masked = lambda x: dnp.sum(x[x > 0]) * x
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dt.DensePatternWarning)
        for fun in (f, masked):
            jac = dt.sparse_jacobian(fun)
            for x in ([3.0, 1.0, 2.0], [1.0, 3.0, 2.0], [-1.0, 3.0, 2.0]):
                x = np.array(x)
                np.testing.assert_array_equal(jac(x).toarray(), dt.jacfwd(fun)(x))
        hes = dt.sparse_hessian(lambda x: dnp.sum(f(x) ** 2))
        for x in ([3.0, 1.0, 2.0], [1.0, 3.0, 2.0]):
            x = np.array(x)
            np.testing.assert_allclose(hes(x).toarray(),
                                       dt.hessian(lambda x: dnp.sum(f(x) ** 2))(x), rtol=1e-14)
    smooth = dt.sparse_jacobian(lambda x: dnp.sin(x) + dnp.roll(x, 1))
    smooth(np.ones(6))
    plan = smooth._last
    smooth(np.arange(6.0))
    assert smooth._last is plan  # read no values: reused at any input of its shape
    # comparisons that only select (where, maximum, abs, inside the rules too) steer nothing:
    # the pattern is still reused (re-detecting made sparse_hessian 15x slower per call)
    kinked = lambda x: dnp.sum(dnp.maximum(x, 0.0) ** 2 + dnp.abs(dnp.roll(x, 1) * x)  # noqa: E731
                               + dnp.where(x > 0, x, 0.0) ** 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dt.DensePatternWarning)
        for sparse in (dt.sparse_hessian(kinked), dt.sparse_jacobian(dt.grad(kinked))):
            sparse(np.linspace(-1.0, 1.0, 8))
            plan = sparse._last
            sparse(np.linspace(1.0, -1.0, 8))
            assert sparse._last is plan and not plan.local


def _branchy(x):
    return dnp.sum(x[0] * x[1:] ** 2) if x[0] > 0 else dnp.sum(x ** 3)


def _loop(x):
    while dnp.sum(x ** 2) < 10.0:
        x = x * 2.0
    return x


@pytest.mark.parametrize("fun, points, hessian", [
    (lambda x: x * max(x[0], x[1]), ([2.0, 1.0, 3.0], [1.0, 2.0, 3.0]), False),
    (lambda x: dnp.diag((x > 0).astype(float)) @ dnp.sin(x), ([1.0, -1, 1], [-1.0, 1, -1]), False),
    (lambda x: dnp.cumsum(x) * dnp.all(x > 0), ([1.0, 2, 3], [-1.0, 2, 3]), False),
    (_loop, ([1.0, 1.0], [3.0, 3.0]), False),
    (_branchy, ([1.0, 2, 3], [-1.0, 2, 3]), True),
    (lambda x: x[dnp.floor(x).astype(int) % 4] * x, ([0.5, 1.5, 2.5, 3.5], [3.5, 2.5, 1.5, 0.5]),
     False),
    (lambda x: dnp.take(x, dnp.floor(x).astype(int) % 4) * x, ([0.5, 1.5, 2.5, 3.5],
                                                                [3.5, 2.5, 1.5, 0.5]), False),
], ids=["python_max", "mask_in_a_product", "all_of_a_test", "while_loop", "if_branch",
        "index_from_floor", "take_from_floor"])
def test_a_branch_or_product_on_a_comparison_is_not_reused_at_other_values(fun, points, hessian):
    # was: comparisons returned plain arrays, so `if x[0] > 0`, Python's max and a mask's
    # zeros read by matmul left the pattern global: reused where the other branch runs
    sparse, dense = (dt.sparse_hessian, dt.hessian) if hessian else (dt.sparse_jacobian, dt.jacfwd)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dt.DensePatternWarning)
        jac = sparse(fun)
        for x in points:
            x = np.array(x)
            np.testing.assert_allclose(jac(x).toarray(), dense(fun)(x), rtol=1e-14)


def test_a_given_pattern_keeps_the_zeros_it_stores():
    # scipy's convention: stored entries are the structure, zero or not (a Jacobian that
    # vanishes at one point stores zeros; they were dropped, giving zeros everywhere after)
    f = lambda x: x[:-1] * x[1:] + x[:-1] ** 2  # noqa: E731
    at_zero = dt.sparse_jacobian(f)(np.zeros(5))
    assert at_zero.nnz == 8 and not at_zero.toarray().any()
    x = np.arange(1.0, 6.0)
    np.testing.assert_array_equal(dt.sparse_jacobian(f, sparsity=at_zero)(x).toarray(),
                                  dt.jacfwd(f)(x))
    assert dt.color_jacobian(at_zero).n_colors == 2


@pytest.mark.parametrize("mode", ["auto", "fwd", "rev"])
def test_empty_inputs_and_outputs_give_empty_jacobians(mode):
    assert dt.sparse_jacobian(lambda x: x[:0], mode=mode)(np.ones(3)).shape == (0, 3)
    assert dt.sparse_jacobian(lambda x: dnp.sum(x) * 2, mode=mode)(np.zeros(0)).shape == (1, 0)
    assert dt.sparse_hessian(lambda x: dnp.sum(x ** 2))(np.zeros(0)).shape == (0, 0)


def test_detection_sees_through_checkpoints():
    # was: the checkpoint primitive had no sparsity rule, so the whole Hessian was dense
    def obj(x):
        step = dt.checkpoint(lambda v: dnp.sin(v) * dnp.roll(v, 1))
        return dnp.sum(step(step(x)) ** 2)

    def looped(x):
        return dnp.sum(dt.checkpoint_loop(lambda v: v + 0.1 * dnp.sin(dnp.roll(v, 1) - v), x, 5)
                       ** 2)

    x = np.linspace(0.1, 1.0, 12)
    with warnings.catch_warnings():
        warnings.simplefilter("error", dt.DensePatternWarning)
        for f in (obj, looped):
            pattern = dt.hessian_sparsity(f, x).toarray()
            assert pattern.sum() < x.size ** 2
            np.testing.assert_array_equal(pattern, pattern.T)
            np.testing.assert_allclose(dt.sparse_hessian(f)(x).toarray(), dt.hessian(f)(x),
                                       rtol=1e-12, atol=1e-14)


def test_a_callable_among_the_other_arguments_keeps_the_pattern():
    calls = []

    def f(x, fn):
        calls.append(1)
        return fn(x) * 2.0

    jac = dt.sparse_jacobian(f)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dt.DensePatternWarning)
        for _ in range(3):
            jac(np.ones(4), dnp.sin)
        assert len(calls) == 4  # one detection, three evaluations (was six: detected each call)
        jac(np.ones(4), dnp.cos)  # another callable: detected again
    assert len(calls) == 6


def test_keyword_arguments_are_passed_and_watched_like_the_other_arguments():
    f = lambda x, s=1.0: dnp.sin(x) * s + dnp.roll(x, 1) * (s > 2.5)  # noqa: E731
    x = np.linspace(0.0, 1.0, 6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dt.DensePatternWarning)
        for mode in ("fwd", "rev"):
            jac = dt.sparse_jacobian(f, mode=mode)
            for s in (2.0, 3.0, 2.0):  # 3.0 adds the roll's entries: detected again
                np.testing.assert_array_equal(jac(x, s=s).toarray(), dt.jacfwd(f)(x, s=s))
        g = lambda x, s=1.0: dnp.sum(dnp.sin(x) * s * dnp.roll(x, 1))  # noqa: E731
        np.testing.assert_allclose(dt.sparse_hessian(g)(x, s=2.0).toarray(),
                                   dt.hessian(g)(x, s=2.0), rtol=1e-13, atol=1e-15)


def test_a_sparse_result_inside_a_transformation_is_refused_naming_it():
    f = lambda x, a: dnp.sin(x) * a  # noqa: E731
    x = np.ones(3)
    with pytest.raises(TypeError, match="sparse_jacobian: an argument is traced by an enclosing"):
        dt.grad(lambda a: dnp.sum(dt.sparse_jacobian(f)(x, a).toarray()))(1.0)
    with pytest.raises(TypeError, match="sparse_hessian: an argument is traced"):
        dt.jvp(lambda x: dt.sparse_hessian(lambda x: dnp.sum(x ** 3))(x), (x,), (x,))


@pytest.mark.parametrize("fun", [
    lambda x: dnp.where((x > 0) & (x < 2), x, 0.0),
    lambda x: dnp.where((x > 0) | (x < -2), x, 0.0),
    lambda x: dnp.where(~(x > 0) ^ (x < 2), x, 0.0),
    lambda x: dnp.where(True & (x > 0), x, 0.0),
    lambda x: x * np.asarray(x > 0),
    lambda x: x * {True: 1.0, False: 2.0}[x[0] > 0],
    lambda x: dnp.where(np.greater(x, 0) & np.less(x, 2), x, 0.0),
    lambda x: x * {True: 1.0, False: 2.0}[bool(np.greater(x[0], 0))],
], ids=["and", "or", "invert_xor", "reflected", "asarray", "dict_key", "numpy_ufuncs",
        "numpy_ufunc_branch"])
def test_masks_made_of_held_comparisons_work_as_plain_masks(fun):
    # comparisons are held during detection: the mask operators, np.asarray and hashing
    # must still work on them (a review found &, |, ~, asarray and dict keys broken)
    x = np.array([1.0, -1.0, 3.0, 0.5])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dt.DensePatternWarning)
        jac = dt.sparse_jacobian(fun)
        for p in (x, -x):
            np.testing.assert_array_equal(jac(p).toarray(), dt.jacfwd(fun)(p))
