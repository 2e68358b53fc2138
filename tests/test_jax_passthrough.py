"""One function body, two engines: code written with ``dualtape.numpy`` runs unchanged
under ``jax.jit``, ``jax.grad``, ``jax.jvp`` and ``jax.vjp`` (dualtape's ops call
``jax.numpy`` on JAX values), and JAX's derivatives of it equal dualtape's.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dualtape as dt
import dualtape.numpy as dnp

jax.config.update("jax_enable_x64", True)

R = np.random.default_rng(11)
A = R.normal(size=(3, 4))
B = R.normal(size=(4, 2))
V = R.normal(size=4)
BATCH = R.normal(size=(2, 3, 4))
POSITIVE = A > 0

FUNCS = {
    # reductions with axes
    "sum_all": lambda a: dnp.sum(a ** 2),
    "sum_axis0": lambda a: dnp.sum(a ** 2, axis=0),
    "sum_axis_neg_keepdims": lambda a: dnp.sin(dnp.sum(a, axis=-1, keepdims=True)) * a,
    "mean_axes": lambda a: dnp.mean(a ** 3, axis=(0, 1)),
    "mean_axis1": lambda a: dnp.mean(dnp.exp(a), axis=1),
    "max_all": lambda a: dnp.max(a) * a,
    "max_axis1": lambda a: dnp.max(a, axis=1),
    "max_axis0_keepdims": lambda a: dnp.max(a, axis=0, keepdims=True) - a,
    "min_axis0": lambda a: dnp.min(a, axis=0),
    "prod_axis0": lambda a: dnp.prod(a, axis=0),
    # linear algebra
    "matmul_2d": lambda a: dnp.tanh(dnp.matmul(a, B)),
    "matmul_2d_1d": lambda a: dnp.matmul(a, V),
    "matmul_1d_2d": lambda a: dnp.matmul(a[0], B),
    "matmul_1d_1d": lambda a: dnp.matmul(a[0], a[1]),
    "matmul_batched": lambda a: dnp.matmul(dnp.reshape(a, (1, 3, 4)) * BATCH, B),
    "matmul_operator": lambda a: a @ B,
    "dot_2d": lambda a: dnp.dot(a, B),
    "dot_1d": lambda a: dnp.dot(a[1], V),
    "dot_3d": lambda a: dnp.dot(dnp.reshape(a, (3, 2, 2)), B[:2]),
    "outer_vdot": lambda a: dnp.outer(a[0], a[1]) * dnp.vdot(a, a),
    # shapes
    "reshape": lambda a: dnp.reshape(a, (2, 6)) * np.arange(12.0).reshape(2, 6),
    "reshape_minus1": lambda a: dnp.sin(dnp.reshape(a, (-1, 3))),
    "transpose": lambda a: dnp.transpose(a) * np.arange(12.0).reshape(4, 3),
    "transpose_axes": lambda a: dnp.transpose(dnp.reshape(a, (3, 2, 2)), (2, 0, 1)) ** 2,
    "moveaxis": lambda a: dnp.moveaxis(dnp.reshape(a, (3, 2, 2)), 0, -1) * a[0, 0],
    "swapaxes": lambda a: dnp.swapaxes(a, 0, 1) ** 3,
    "expand_squeeze": lambda a: dnp.squeeze(dnp.expand_dims(a, 1) * 2.0, 1),
    "flip": lambda a: dnp.flip(a, 1) * a,
    "broadcast_to": lambda a: dnp.broadcast_to(a[0], (2, 4)) * a[1],
    "concatenate": lambda a: dnp.concatenate([a, a ** 2], axis=1),
    "concatenate_axis0": lambda a: dnp.concatenate([a[:1], np.ones((2, 4)), dnp.sin(a)]),
    "stack": lambda a: dnp.stack([a, dnp.cos(a)], axis=1),
    "stack_axis_last": lambda a: dnp.stack([a[0], a[1], a[2] ** 2], axis=-1),
    "hstack_vstack": lambda a: dnp.vstack([a[0], dnp.hstack([a[1, :2], a[2, 2:]])]),
    # indexing
    "getitem_basic": lambda a: a[1:, ::2] ** 3 + a[0, -1],
    "getitem_none_ellipsis": lambda a: a[None, ..., 1] * a[:, None, 2],
    "getitem_int_array": lambda a: a[np.array([2, 0, 2]), 1:],
    "getitem_int_array_pair": lambda a: a[np.array([0, 2, 2]), np.array([3, 1, 1])],
    "getitem_mask": lambda a: a[POSITIVE] ** 2,
    "getitem_row_mask": lambda a: a[np.array([True, False, True])] * 2.0,
    "take": lambda a: dnp.take(a, np.array([0, 2, 2]), axis=1) ** 2,
    "take_flat": lambda a: dnp.take(a, np.array([11, 0, 5])),
    "cumsum_axis1": lambda a: dnp.cumsum(a, axis=1) ** 2,
    "cumsum_flat": lambda a: dnp.cumsum(a),
    # selection and clipping
    "where": lambda a: dnp.where(a > 0, a ** 2, dnp.sin(a)),
    "where_constant_branch": lambda a: dnp.where(POSITIVE, a, 0.0),
    "clip": lambda a: dnp.clip(a, -0.5, 0.5) * a,
    "clip_lower_only": lambda a: dnp.clip(a, 0.0, None),
    "maximum_minimum": lambda a: dnp.maximum(a, a[::-1]) + dnp.minimum(a, 0.3),
    # nn functions
    "softmax": lambda a: dnp.softmax(a, axis=-1),
    "softmax_axis0": lambda a: dnp.softmax(a, axis=0),
    "log_softmax": lambda a: dnp.log_softmax(a, axis=-1),
    "log_softmax_axis0": lambda a: dnp.log_softmax(a, axis=0),
    "logsumexp": lambda a: dnp.logsumexp(a),
    "logsumexp_axis": lambda a: dnp.logsumexp(a, axis=1),
    "logsumexp_keepdims": lambda a: dnp.logsumexp(a, axis=0, keepdims=True) * a,
    "relu": lambda a: dnp.relu(a) ** 2,
    "sigmoid": lambda a: dnp.sigmoid(a * 3.0),
    "softplus": lambda a: dnp.softplus(a * 2.0),
    # elementwise and operators
    "elementwise_mix": lambda a: (dnp.tanh(a) + dnp.arctan(a) * dnp.log1p(a * a)
                                  - dnp.expm1(a / 4.0) + dnp.sqrt(a * a + 1.0)),
    "trig_hyperbolic": lambda a: dnp.tan(a / 4.0) + dnp.sinh(a) * dnp.cosh(a / 2.0),
    "power_forms": lambda a: dnp.power(a * a + 1.0, 1.5) + dnp.power(2.0, a) + dnp.power(a * a + 1.0, a),
    "operators": lambda a: (a - 1.0) / (a ** 2 + 1.0) * -a + abs(a) + 2.0 ** a,
    "square_reciprocal": lambda a: dnp.square(a) + dnp.reciprocal(a * a + 0.5),
}

# Fixed random weights that turn any output into a scalar loss.
_OUT_W = {}


def _weights(shape):
    if shape not in _OUT_W:
        _OUT_W[shape] = np.random.default_rng(len(shape) + sum(shape)).normal(size=shape)
    return _OUT_W[shape]


def _loss(name):
    f = FUNCS[name]
    w = _weights(np.shape(f(A)))
    return lambda a: dnp.sum(f(a) * w)


@functools.cache
def _jax_results(name):
    """Everything JAX computes for ``name``, in one compiled program."""
    f, loss = FUNCS[name], _loss(name)
    t = np.cos(np.arange(12.0)).reshape(3, 4)
    ct = _weights(np.shape(f(A))) + 0.5

    def everything(a):
        out = f(a)
        _, tangent = jax.jvp(f, (a,), (t,))
        _, vjp_fn = jax.vjp(f, a)
        return {"out": out, "grad": jax.grad(loss)(a), "jvp": tangent, "vjp": vjp_fn(ct)[0],
                "jac": jax.jacfwd(f)(a), "hessian": jax.hessian(loss)(a)}

    return jax.jit(everything)(A), t, ct


def _close(got, ref, rtol=1e-10, atol=1e-12):
    got, ref = np.asarray(got), np.asarray(ref)
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=rtol, atol=atol)


NAMES = list(FUNCS)


@pytest.mark.parametrize("name", NAMES)
def test_value_under_jit(name):
    res, _, _ = _jax_results(name)
    assert isinstance(res["out"], jax.Array)
    _close(res["out"], FUNCS[name](A))


@pytest.mark.parametrize("name", NAMES)
def test_grad_matches(name):
    res, _, _ = _jax_results(name)
    _close(dt.grad(_loss(name))(A), res["grad"])


@pytest.mark.parametrize("name", NAMES)
def test_jvp_matches(name):
    res, t, _ = _jax_results(name)
    out, tangent = dt.jvp(FUNCS[name], (A,), (t,))
    _close(out, res["out"])
    _close(tangent, res["jvp"])


@pytest.mark.parametrize("name", NAMES)
def test_vjp_matches(name):
    res, _, ct = _jax_results(name)
    out, vjp_fn = dt.vjp(FUNCS[name], A)
    _close(out, res["out"])
    _close(vjp_fn(ct)[0], res["vjp"])


@pytest.mark.parametrize("name", NAMES)
def test_jacobians_match(name):
    res, _, _ = _jax_results(name)
    _close(dt.jacfwd(FUNCS[name], chunk=5)(A), res["jac"])
    _close(dt.jacrev(FUNCS[name], chunk=5)(A), res["jac"])




@pytest.mark.parametrize("name", list(NAMES))
def test_hessian_matches(name):
    res, _, _ = _jax_results(name)
    _close(dt.hessian(_loss(name))(A), res["hessian"], rtol=1e-9, atol=1e-11)


# ---------------------------------------------------------------- eager JAX: concrete jax.Array inputs


EAGER = ["sum_axis_neg_keepdims", "matmul_2d", "getitem_mask", "where", "softmax", "logsumexp_axis",
         "concatenate", "cumsum_axis1"]


@pytest.mark.parametrize("name", EAGER)
def test_eager_jax_transformations(name):
    f, loss = FUNCS[name], _loss(name)
    res, t, ct = _jax_results(name)
    a = jnp.asarray(A)
    out = f(a)
    assert isinstance(out, jax.Array)
    _close(out, res["out"])
    _close(jax.grad(loss)(a), res["grad"])
    _close(jax.jvp(f, (a,), (jnp.asarray(t),))[1], res["jvp"])
    _close(jax.vjp(f, a)[1](jnp.asarray(ct))[0], res["vjp"])


def test_passthrough_does_not_count_or_record():
    """JAX values bypass dualtape's engines entirely: nothing is counted."""
    with dt.count() as c:
        jax.grad(lambda a: dnp.sum(dnp.sin(a)))(jnp.ones(3))
    assert c.n_ops == 0 and c.tape_entries == 0


def test_mixed_python_float_and_jax_scalar():
    f = lambda x: dnp.sin(x) * 2.0 + dnp.exp(x) ** 2
    assert np.isclose(jax.grad(f)(0.3), dt.grad(f)(0.3), rtol=1e-13)
    assert np.isclose(jax.jit(jax.grad(jax.grad(f)))(0.3), dt.grad(dt.grad(f))(0.3), rtol=1e-13)


# ---------------------------------------------------------------- JAX arrays inside dualtape

MIXED = {
    "traced * jax": lambda x, c: x * c,
    "jax * traced": lambda x, c: c * x,
    "matmul(jax, traced)": lambda x, c: dnp.matmul(dnp.reshape(c, (1, 3)), x),
    "where(traced > 0, jax, traced)": lambda x, c: dnp.where(x > 0, c, x),
    "concatenate": lambda x, c: dnp.concatenate([x, c]),
}


@pytest.mark.parametrize("transform", ["grad", "jvp", "jacrev", "jacfwd"])
@pytest.mark.parametrize("name", sorted(MIXED))
def test_concrete_jax_arrays_are_constants_inside_dualtape(name, transform):
    g = MIXED[name]
    x0 = np.array([0.5, -1.0, 2.0])
    c_np = np.array([1.5, 2.0, -0.5])

    def make(c):
        return lambda x: dnp.sum(dnp.sin(g(x, c)))

    f_jax, f_np = make(jnp.asarray(c_np)), make(c_np)
    if transform == "jvp":
        got = dt.jvp(f_jax, (x0,), (np.ones(3),))
        want = dt.jvp(f_np, (x0,), (np.ones(3),))
    else:
        got, want = getattr(dt, transform)(f_jax)(x0), getattr(dt, transform)(f_np)(x0)
    np.testing.assert_allclose(got, want, rtol=1e-15)
    assert not isinstance(np.asarray(got).flat[0], jax.Array)


def test_a_jax_tracer_meeting_a_dualtape_value_is_a_clear_error():
    def f(y):
        return dt.grad(lambda x: dnp.sum(x * y))(np.arange(3.0))

    with pytest.raises(TypeError, match="dualtape-traced value met a JAX tracer"):
        jax.jit(f)(jnp.ones(3))


def test_jax_directions_give_numpy_derivatives():
    # a JAX primal gave NumPy back, a JAX tangent or cotangent gave JAX arrays
    f = lambda a: dnp.sin(a) * 2.0
    for primal in (V, jnp.asarray(V)):
        out, tangent = dt.jvp(f, (primal,), (jnp.ones(4),))
        (cotangent,) = dt.vjp(f, primal)[1](jnp.ones(4))
        hv = dt.hvp(lambda a: dnp.sum(f(a)), (primal,), (jnp.ones(4),))
        for r in (out, tangent, cotangent, hv):
            assert type(r) is np.ndarray
        np.testing.assert_allclose(tangent, 2.0 * np.cos(V), rtol=1e-15)
        np.testing.assert_allclose(cotangent, 2.0 * np.cos(V), rtol=1e-15)
        np.testing.assert_allclose(hv, -2.0 * np.sin(V), rtol=1e-15)
