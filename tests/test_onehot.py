"""The one-nonzero-per-row cotangent of max/min along rows (dualtape.ops.onehot).

Every derivative that passes through one is checked against JAX; the OneHot's own
methods are checked against the dense array they stand for.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dualtape as dt
import dualtape.numpy as dnp
from dualtape.ops import onehot, reductions
from dualtape.ops.onehot import OneHot


@pytest.fixture(autouse=True)
def _onehot_for_small_arrays(monkeypatch):
    monkeypatch.setattr(reductions, "ONEHOT_MIN_SIZE", 1)  # the tests' matrices are small


def _kmeans(xp, reduce="min", keepdims=False):
    def f(c, p):
        cross = xp.matmul(p, xp.transpose(c))
        norms = xp.sum(p * p, axis=1)[:, None] + xp.sum(c * c, axis=1)
        r = getattr(xp, reduce)(norms - 2.0 * cross, axis=1, keepdims=keepdims)
        return xp.sum(r * xp.arange(1.0, r.shape[0] + 1.0).reshape(r.shape))  # uneven weights
    return f


CASES = {
    "kmeans_min": dict(reduce="min"),
    "kmeans_max": dict(reduce="max"),
    "kmeans_keepdims": dict(reduce="min", keepdims=True),
}


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_row_extremum_gradients_match_jax(name, dtype):
    rng = np.random.default_rng(7)
    c, p = rng.random((5, 3)).astype(dtype), rng.random((40, 3)).astype(dtype)
    f, jf = _kmeans(dnp, **CASES[name]), _kmeans(jnp, **CASES[name])
    tol = 1e-10 if dtype == np.float64 else 2e-4
    g = dt.grad(f)(c, p)
    assert g.dtype == dtype and type(g) is np.ndarray
    np.testing.assert_allclose(g, jax.grad(jf)(c, p), rtol=tol, atol=tol)
    gs = dt.grad(f, argnums=(0, 1))(c, p)  # points traced too: matmul's other rule
    ref = jax.grad(jf, argnums=(0, 1))(c, p)
    for a, b in zip(gs, ref, strict=True):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
    v = rng.random(c.shape).astype(dtype)
    _, hv = dt.jvp(lambda c: dt.grad(f)(c, p), (c,), (v,))  # forward over reverse
    _, jhv = jax.jvp(lambda c: jax.grad(jf)(c, p), (c,), (v,))
    np.testing.assert_allclose(hv, jhv, rtol=tol, atol=tol)
    np.testing.assert_allclose(dt.jacrev(lambda c: dt.grad(f)(c, p))(c),
                               jax.jacrev(lambda c: jax.grad(jf)(c, p))(c), rtol=tol, atol=tol)


def _after_min(xp, then):
    def f(x, w):
        m = xp.min(x @ w, axis=-1)
        return xp.sum(then(xp, m, x @ w))
    return f


THEN = {
    "exp_of_min": lambda xp, m, y: xp.exp(m),  # a rule that needs the dense array
    "min_plus_dense": lambda xp, m, y: m[:, None] * y,  # the OneHot meets a dense cotangent
    "min_times_itself": lambda xp, m, y: m * m,
    "broadcast_into_rows": lambda xp, m, y: xp.tanh(y - m[:, None]),
    "square_of_rows": lambda xp, m, y: (y - m[:, None]) ** 2,
}


@pytest.mark.parametrize("name", list(THEN))
def test_the_onehot_meets_every_other_rule_as_the_dense_array(name):
    rng = np.random.default_rng(11)
    x, w = rng.standard_normal((6, 4)), rng.standard_normal((4, 5))
    f, jf = _after_min(dnp, THEN[name]), _after_min(jnp, THEN[name])
    for a, b in zip(dt.grad(f, argnums=(0, 1))(x, w), jax.grad(jf, argnums=(0, 1))(x, w),
                    strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dt.hessian(f)(x, w), jax.hessian(jf)(x, w), rtol=1e-9, atol=1e-10)


def test_the_sweep_uses_the_onehot(monkeypatch):
    made = []

    def counted(*args):
        made.append(onehot.maximisers(*args))
        return made[-1]

    monkeypatch.setattr(reductions, "maximisers", counted)
    c, p = np.random.default_rng(1).random((4, 2)), np.random.default_rng(2).random((9, 2))
    dt.grad(_kmeans(dnp))(c, p)
    assert len(made) == 1 and type(made[0]) is OneHot


def test_ties_and_nan_rows_keep_the_dense_rule():
    x = np.array([[1.0, 3.0, 1.0], [2.0, 0.5, 4.0], [np.nan, 1.0, 2.0]])
    f = lambda x: dnp.sum(dnp.min(x, axis=1) * np.array([1.0, 2.0, 3.0]))  # noqa: E731
    jf = lambda x: jnp.sum(jnp.min(x, axis=1) * np.array([1.0, 2.0, 3.0]))  # noqa: E731
    np.testing.assert_array_equal(dt.grad(f)(x), jax.grad(jf)(x))  # ties split, NaN row


def test_vjp_results_and_counting_see_dense_arrays():
    x = np.random.default_rng(3).random((5, 4))
    y, pull = dt.vjp(lambda x: dnp.max(x, axis=1) * 2.0, x)
    (ct,) = pull(np.ones(5))
    assert type(ct) is np.ndarray and ct.flags.writeable
    np.testing.assert_array_equal(ct, 2.0 * (x == x.max(1, keepdims=True)))
    with dt.count() as counted:
        dt.grad(lambda x: dnp.sum(dnp.max(x, axis=1) * 2.0))(x)
    assert counted.by_name["tie_scale"] == 1  # counted as the primitive, unfused


def test_onehot_methods_agree_with_the_dense_array():
    rng = np.random.default_rng(5)
    n, k, d = 7, 4, 3
    cols = rng.integers(0, k, n)
    vals = rng.standard_normal(n)
    oh = OneHot((n, k), cols, vals)
    dense = oh.dense()
    assert dense.shape == (n, k) and np.count_nonzero(dense) == n
    np.testing.assert_array_equal(dense[np.arange(n), cols], vals)
    for s in (2.5, np.float64(-1.5), rng.standard_normal((n, k)), rng.standard_normal(k),
              rng.standard_normal((n, 1))):
        np.testing.assert_allclose(oh.scaled(s).dense(), dense * s)
    assert oh.scaled(rng.standard_normal((2, n, k))) is None  # would grow the shape
    sums = {(k,): dense.sum(0), (1, k): dense.sum(0, keepdims=True),
            (n, 1): dense.sum(1, keepdims=True), (): dense.sum(), (1, 1): dense.sum().reshape(1, 1)}
    for target, want in sums.items():
        got = oh.summed_to(target)
        assert np.shape(got) == target
        np.testing.assert_allclose(got, want)
    assert oh.summed_to((n, k)) is oh and oh.summed_to((2, n, k)) is None
    a, b = rng.standard_normal((n, d)), rng.standard_normal((d, k))
    np.testing.assert_allclose(oh.t_matmul(a), a.T @ dense)
    np.testing.assert_allclose(oh.matmul_t(b), dense @ b.T)
    c = rng.standard_normal((n, k))
    np.testing.assert_allclose(oh.added_to(c), c + dense)
    np.testing.assert_allclose((-oh).dense(), -dense)


def test_maximisers_declines_ties_and_empty_rows():
    g = np.array([1.0, 2.0])
    assert onehot.maximisers(g, np.array([[True, False], [False, True]]), np.dtype("f8")) \
        is not None
    assert onehot.maximisers(g, np.array([[True, True], [False, False]]), np.dtype("f8")) is None
    assert onehot.maximisers(g, np.array([[True, True], [False, True]]), np.dtype("f8")) is None


def test_small_matrices_keep_the_dense_cotangent(monkeypatch):
    monkeypatch.setattr(reductions, "ONEHOT_MIN_SIZE", 2**15)
    made = []
    monkeypatch.setattr(reductions, "maximisers", lambda *a: made.append(a))
    c, p = np.random.default_rng(1).random((4, 2)), np.random.default_rng(2).random((9, 2))
    np.testing.assert_allclose(dt.grad(_kmeans(dnp))(c, p), jax.grad(_kmeans(jnp))(c, p))
    assert made == []



@pytest.mark.parametrize("bshape", [(5,), (1, 5), (8, 1), (), (8, 5)], ids=str)
@pytest.mark.parametrize("op", ["sub", "add", "mul"])
def test_the_onehot_unbroadcasts_into_every_operand_shape(bshape, op):
    rng = np.random.default_rng(4)
    x, b = rng.standard_normal((8, 5)), rng.standard_normal(bshape)

    def f(xp):
        fn = {"sub": lambda u, v: u - v, "add": lambda u, v: u + v, "mul": lambda u, v: u * v}[op]
        return lambda x, b: xp.sum(xp.min(fn(x, b), axis=1) * xp.arange(1.0, 9.0))

    for a, r in zip(dt.grad(f(dnp), argnums=(0, 1))(x, b), jax.grad(f(jnp), argnums=(0, 1))(x, b),
                    strict=True):
        assert np.shape(a) == np.shape(r)
        np.testing.assert_allclose(a, r, rtol=1e-12, atol=1e-14)


def test_a_float_cotangent_meets_a_stored_onehot(monkeypatch):
    from dualtape import registry

    monkeypatch.setattr(registry, "_TABLE", dict(registry._TABLE))  # the primitive is this test's
    rng = np.random.default_rng(9)
    count_pos = dt.primitive("count_positive_for_onehot_test", lambda x: float(np.sum(x > 0)),
                             jvp=lambda t, ans, x: 0.0, vjp=lambda g, ans, x: 0.0)
    x, w = rng.standard_normal((40, 4)), rng.standard_normal((4, 10))

    def f(w):
        m = dnp.matmul(x, w)
        return count_pos(m) + dnp.sum(dnp.min(m, axis=1))

    np.testing.assert_allclose(dt.grad(f)(w), jax.grad(lambda w: jnp.sum(jnp.min(x @ w, axis=1)))(w),
                               rtol=1e-12)


@pytest.mark.parametrize("where", ["scale", "matmul_a", "matmul_b"])
def test_zeros_times_inf_stay_nan_as_in_the_dense_product(where):
    rng = np.random.default_rng(2)
    x, w, s = rng.standard_normal((8, 3)), rng.standard_normal((3, 5)), rng.standard_normal((8, 5))
    if where == "scale":
        s[:, 0] = np.inf
        f = lambda xp: lambda s: xp.sum(xp.min(x @ w * s, axis=1))  # noqa: E731
        arg = s
    elif where == "matmul_a":
        x[0, 0] = np.inf
        f = lambda xp: lambda w: xp.sum(xp.min(x @ w, axis=1))  # noqa: E731
        arg = w
    else:
        w[0, 0] = np.nan
        f = lambda xp: lambda x: xp.sum(xp.min(x @ w, axis=1))  # noqa: E731
        arg = x
    with np.errstate(invalid="ignore"):
        got = dt.grad(f(dnp))(arg)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(jax.grad(f(jnp))(arg)))


@pytest.mark.parametrize("reduce", ["min", "max"])
@pytest.mark.parametrize("keepdims", [False, True])
def test_rows_read_at_argmin_give_numpy_values_and_jax_gradients(monkeypatch, reduce, keepdims):
    """Long rows take argmax/argmin in the forward pass and reuse the places in the VJP:
    the values are NumPy's (a NaN row's NaN included), ties and NaN rows still share."""
    monkeypatch.setattr(reductions, "ARG_MIN_K", 2)  # the tests' rows are short
    rng = np.random.default_rng(7)
    unique = rng.standard_normal((6, 5))
    ties = unique.copy()
    ties[1, 3] = ties[1].min() if reduce == "min" else ties[1].max()  # a tie in row 1
    nan = unique.copy()
    nan[2, 4] = np.nan
    w = np.arange(1.0, 7.0).reshape((6, 1) if keepdims else (6,))
    f = lambda x: dnp.sum(getattr(dnp, reduce)(x, axis=1, keepdims=keepdims) * w)  # noqa: E731
    jf = lambda x: jnp.sum(getattr(jnp, reduce)(x, axis=1, keepdims=keepdims) * w)  # noqa: E731
    scanned = []
    monkeypatch.setattr(reductions, "maximisers", lambda *a: scanned.append(1) or onehot.maximisers(*a))
    for x in (unique, ties, nan, unique.astype(np.float32)):
        want = getattr(np, reduce)(x, axis=1, keepdims=keepdims)
        got = getattr(dnp, reduce)(x, axis=1, keepdims=keepdims)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
        np.testing.assert_allclose(dt.grad(f)(x), jax.grad(jf)(x), rtol=1e-6)
    assert len(scanned) == 2  # the rows with a tie or a NaN only: the others read the places
