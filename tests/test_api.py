"""Contracts of the public transformations, checked against their JAX namesakes.

Every function under test is written once against a module ``xp`` and built twice:
with ``dualtape.numpy`` for dualtape and with ``jax.numpy`` for the reference, so
the reference never goes through dualtape's own code.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _trees import assert_tree_close, jax_jvp, jax_out, jax_vjp, leaves

import dualtape as dt
import dualtape.numpy as dnp

jax.config.update("jax_enable_x64", True)

R = np.random.default_rng(7)
W = R.normal(size=(3, 4))
V3 = R.normal(size=3)
V4 = R.normal(size=4)
M23 = R.normal(size=(2, 3))
M32 = R.normal(size=(3, 2))


def both(make):
    """(dualtape version, jax version) of ``make(xp)``."""
    return make(dnp), make(jnp)


# ---------------------------------------------------------------- jvp


JVP_CASES = {
    "scalar": (lambda xp: lambda x: xp.sin(x) * x ** 3, (0.7,)),
    "vector": (lambda xp: lambda x: xp.tanh(x) * x[::-1], (V3,)),
    "matrix_to_scalar": (lambda xp: lambda a: xp.sum(xp.exp(a) * a), (M23,)),
    "two_args": (lambda xp: lambda x, y: xp.sin(x) @ y, (V3, M32)),
    "float_and_array": (lambda xp: lambda s, x: s * x + s ** 2, (1.5, V4)),
    "pytree_in": (lambda xp: lambda p: p["w"] * xp.sum(p["b"][0]) + p["b"][1], (
        {"w": V3, "b": (V4, 0.3)},)),
    "pytree_out": (lambda xp: lambda x: {"s": xp.sum(x), "l": [x * 2.0, (xp.cos(x),)]}, (V3,)),
}


@pytest.mark.parametrize("name", list(JVP_CASES))
def test_jvp_matches_jax(name, rng):
    make, primals = JVP_CASES[name]
    f, jf = both(make)
    tangents = tuple(jax.tree_util.tree_map(lambda p: np.asarray(rng.normal(size=np.shape(p)))
                                            if np.ndim(p) else float(rng.normal()), primals))
    out, t_out = dt.jvp(f, primals, tangents)
    j_out, j_t_out = jax_jvp(jf, primals, tangents)
    assert_tree_close(out, j_out)
    assert_tree_close(t_out, j_t_out)


def test_jvp_returns_pair_and_accepts_lists():
    res = dt.jvp(lambda x, y: x * y, [2.0, 3.0], [1.0, 0.0])
    assert isinstance(res, tuple) and len(res) == 2
    assert res == (6.0, 3.0)


def test_jvp_is_linear_in_the_tangent(rng):
    f = lambda x: dnp.sin(x) * dnp.sum(x ** 2)
    x, u, v = rng.normal(size=(3, 4))
    _, tu = dt.jvp(f, (x,), (u,))
    _, tv = dt.jvp(f, (x,), (v,))
    _, tuv = dt.jvp(f, (x,), (2.0 * u - v,))
    np.testing.assert_allclose(tuv, 2.0 * tu - tv, rtol=1e-12, atol=1e-12)


def test_jvp_has_aux_returns_aux():
    out, t, aux = dt.jvp(lambda x: (x * 2.0, "label"), (np.ones(2),), (np.ones(2),), has_aux=True)
    np.testing.assert_array_equal(out, [2.0, 2.0])
    np.testing.assert_array_equal(t, [2.0, 2.0])
    assert aux == "label"


@pytest.mark.parametrize("how", ["jvp", "vjp", "grad", "value_and_grad"])
def test_aux_is_concrete_like_jax(how):
    x = np.array([1.0, 2.0])

    def f(v):
        return dnp.sum(v ** 2), v * 3.0

    if how == "jvp":
        aux = dt.jvp(f, (x,), (np.ones(2),), has_aux=True)[2]
    elif how == "vjp":
        aux = dt.vjp(f, x, has_aux=True)[2]
    elif how == "grad":
        aux = dt.grad(f, has_aux=True)(x)[1]
    else:
        aux = dt.value_and_grad(f, has_aux=True)(x)[0][1]
    ref = jax.grad(f, has_aux=True)(x)[1]
    assert type(aux) is np.ndarray
    np.testing.assert_array_equal(aux, ref)


# ---------------------------------------------------------------- vjp


VJP_CASES = {
    "scalar": (lambda xp: lambda x: xp.sin(x) * x ** 3, (0.7,)),
    "vector": (lambda xp: lambda x: xp.tanh(x) * x[::-1], (V3,)),
    "matvec": (lambda xp: lambda a, x: xp.tanh(a @ x), (W, V4)),
    "float_and_array": (lambda xp: lambda s, x: s * x + s ** 2, (1.5, V4)),
    "pytree_in_out": (lambda xp: lambda p, q: {"a": p[0] * q, "b": [xp.sum(p[1]["k"] ** 2)]},
                      ((V3, {"k": M23}), 0.5)),
}


def _cotangent_like(tree, rng):
    return jax.tree_util.tree_map(
        lambda o: np.asarray(rng.normal(size=np.shape(o))) if np.ndim(o) else float(rng.normal()),
        tree)


@pytest.mark.parametrize("name", list(VJP_CASES))
def test_vjp_matches_jax(name, rng):
    make, primals = VJP_CASES[name]
    f, jf = both(make)
    out, vjp_fn = dt.vjp(f, *primals)
    ct = _cotangent_like(out, rng)
    j_out, j_ct = jax_vjp(jf, primals, ct)
    assert_tree_close(out, j_out)
    got = vjp_fn(ct)
    assert isinstance(got, tuple) and len(got) == len(primals)
    for g, p in zip(got, primals, strict=True):
        for gl, pl in zip(leaves(g), leaves(p), strict=True):
            assert np.shape(gl) == np.shape(pl)
    assert_tree_close(got, j_ct)


def test_vjp_fn_can_be_called_twice(rng):
    f = lambda x, y: dnp.sin(x) * y + dnp.sum(x * y)
    x, y = rng.normal(size=(2, 5))
    out, vjp_fn = dt.vjp(f, x, y)
    c1, c2 = rng.normal(size=(2, 5))
    first = vjp_fn(c1)
    other = vjp_fn(c2)
    again = vjp_fn(c1)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    ref = jax_vjp(f, (x, y), c2)[1]
    assert_tree_close(other, ref)


def test_vjp_single_primal_returns_one_tuple():
    out, vjp_fn = dt.vjp(lambda x: x * 3.0, np.ones(2))
    (g,) = vjp_fn(np.array([1.0, 2.0]))
    np.testing.assert_array_equal(g, [3.0, 6.0])


def test_adjoint_identity_jvp_vjp(rng):
    """<u, J v> == <J^T u, v>, with J from dt.jvp and J^T from dt.vjp."""
    f = lambda a: dnp.tanh(a @ W) * dnp.sum(a ** 2)
    a = rng.normal(size=(2, 3))
    v = rng.normal(size=(2, 3))
    _, jv = dt.jvp(f, (a,), (v,))
    out, vjp_fn = dt.vjp(f, a)
    u = rng.normal(size=out.shape)
    (jtu,) = vjp_fn(u)
    assert np.isclose(np.sum(u * jv), np.sum(jtu * v), rtol=1e-12)


def test_vjp_has_aux():
    out, vjp_fn, aux = dt.vjp(lambda x: (x * 2.0, {"n": 3}), np.ones(2), has_aux=True)
    assert aux == {"n": 3}
    np.testing.assert_array_equal(vjp_fn(np.ones(2))[0], [2.0, 2.0])


# ---------------------------------------------------------------- grad and value_and_grad


def _g3(xp):
    return lambda x, y, z: xp.sum(xp.sin(x) * y) * z ** 2


ARGS3 = (V3, np.array([0.5, -1.0, 2.0]), 1.3)


@pytest.mark.parametrize("argnums", [0, 1, 2, -1, (0,), (0, 2), (2, 0), (0, 1, 2), [1, 2]])
def test_grad_argnums_matches_jax(argnums):
    f, jf = both(_g3)
    got = dt.grad(f, argnums=argnums)(*ARGS3)
    ref = jax_out(jax.grad(jf, argnums=argnums), *ARGS3)
    assert_tree_close(got, ref)


@pytest.mark.parametrize("argnums", [0, 2, (1, 2), (2, 1, 0)])
def test_value_and_grad_matches_jax(argnums):
    f, jf = both(_g3)
    value, g = dt.value_and_grad(f, argnums=argnums)(*ARGS3)
    j_value, j_g = jax_out(jax.value_and_grad(jf, argnums=argnums), *ARGS3)
    assert np.isclose(value, j_value, rtol=1e-13)
    assert_tree_close(g, j_g)


def test_grad_has_aux_structure():
    def f(x):
        return dnp.sum(x ** 2), {"sizes": (1, 2)}

    g, aux = dt.grad(f, has_aux=True)(np.array([1.0, -2.0]))
    np.testing.assert_array_equal(g, [2.0, -4.0])
    assert aux == {"sizes": (1, 2)}
    (value, aux2), g2 = dt.value_and_grad(f, has_aux=True)(np.array([1.0, -2.0]))
    assert value == 5.0 and aux2 == {"sizes": (1, 2)}
    np.testing.assert_array_equal(g2, [2.0, -4.0])


def test_grad_with_tuple_argnums_and_aux():
    def f(x, y):
        return x * y ** 2, "aux"

    (gx, gy), aux = dt.grad(f, argnums=(0, 1), has_aux=True)(2.0, 3.0)
    assert (gx, gy, aux) == (9.0, 12.0, "aux")


def test_grad_passes_keyword_arguments_through():
    f = lambda x, scale=1.0: dnp.sum(x ** 2) * scale
    np.testing.assert_allclose(dt.grad(f)(np.array([1.0, 2.0]), scale=3.0), [6.0, 12.0])


PYTREE_ARGS = {
    "dict": {"w": V3, "b": 0.25},
    "list": [V3, 0.25, M23],
    "tuple": (V3, (0.25, M23)),
    "nested": {"layers": [{"w": M23, "b": V3}, {"w": M32, "b": 0.5}], "scale": (1.5,)},
}


def _tree_loss(xp):
    def f(tree):
        return sum(xp.sum(xp.sin(leaf) * leaf) for leaf in jax.tree_util.tree_leaves(tree))

    return f


@pytest.mark.parametrize("name", list(PYTREE_ARGS))
def test_grad_of_pytree_argument_matches_jax(name):
    f, jf = both(_tree_loss)
    tree = PYTREE_ARGS[name]
    assert_tree_close(dt.grad(f)(tree), jax_out(jax.grad(jf), tree))


@pytest.mark.parametrize("name", list(PYTREE_ARGS))
def test_jvp_of_pytree_argument_matches_jax(name, rng):
    f, jf = both(_tree_loss)
    tree = PYTREE_ARGS[name]
    tangent = _cotangent_like(tree, rng)
    assert_tree_close(dt.jvp(f, (tree,), (tangent,)), jax_jvp(jf, (tree,), (tangent,)))


def test_grad_of_python_float_and_numpy_scalars():
    f = lambda x: x ** 3 + dnp.sin(x)
    for x in (2.0, np.float64(2.0), np.array(2.0)):
        g = dt.grad(f)(x)
        assert np.shape(g) == ()
        assert math.isclose(float(g), 12.0 + math.cos(2.0), rel_tol=1e-14)


def test_grad_of_numpy_array_is_array_of_same_shape(rng):
    x = rng.normal(size=(2, 3, 2))
    g = dt.grad(lambda a: dnp.sum(a ** 2))(x)
    assert isinstance(g, np.ndarray) and g.shape == x.shape
    np.testing.assert_allclose(g, 2 * x)


@pytest.mark.parametrize("f", [dnp.sum, dnp.mean, lambda a: dnp.sum(a + 1.0),
                               lambda a: dnp.max(a) + dnp.sum(a[0])])
def test_gradients_are_writable_arrays_of_their_own(rng, f):
    # a reduction's cotangent is a read-only stride-0 view; the caller gets a real array
    x = rng.normal(size=(3, 4))
    for g in (dt.grad(f)(x), dt.vjp(f, x)[1](np.array(1.0))[0]):
        assert g.flags.writeable and g.flags.c_contiguous and not np.shares_memory(g, x)
        want = np.array(g)
        g *= 2.0  # an optimiser's in-place update
        np.testing.assert_array_equal(g, 2.0 * want)


_AUX_OF = {  # each transform, with has_aux, on a function whose aux is its input
    "grad": lambda x: dt.grad(lambda x: (dnp.sum(x), x), has_aux=True)(x)[1],
    "value_and_grad": lambda x: dt.value_and_grad(lambda x: (dnp.sum(x), x), has_aux=True)(x)[0][1],
    "vjp": lambda x: dt.vjp(lambda x: (2.0 * x, x), x, has_aux=True)[2],
    "jvp": lambda x: dt.jvp(lambda x: (2.0 * x, x), (x,), (x,), has_aux=True)[2],
    "jacfwd": lambda x: dt.jacfwd(lambda x: (2.0 * x, x), has_aux=True)(x)[1],
    "jacrev": lambda x: dt.jacrev(lambda x: (2.0 * x, x), has_aux=True)(x)[1],
    **{f"hessian {mode}": functools.partial(
        lambda x, mode: dt.hessian(lambda x: (dnp.sum(x ** 3), x), mode=mode,
                                   has_aux=True)(x)[1], mode=mode)
       for mode in ("fwd-rev", "rev-rev", "fwd-fwd", "rev-fwd")},
}


@pytest.mark.parametrize("how", sorted(_AUX_OF))
def test_aux_never_shares_memory_with_the_input(how):
    # was: aux held the caller's own array, so changing it changed the input
    x = np.array([0.1, 0.2, 0.3])
    aux = _AUX_OF[how](x)
    np.testing.assert_array_equal(aux, [0.1, 0.2, 0.3])
    assert aux.flags.writeable and not np.shares_memory(aux, x)


def test_value_and_grad_of_a_constant_output_is_a_copy():
    # jvp and vjp copied a closed-over constant output; value_and_grad handed it back
    y = np.array(2.0)
    value, g = dt.value_and_grad(lambda x: y)(1.0)
    value[...] = 99.0
    assert y == 2.0 and g == 0.0


def test_vjp_output_changed_in_place_leaves_the_pullback_intact(rng):
    # y -= target before pulling back (least squares): exp's rule reads its own answer
    x, target = rng.normal(size=4), rng.normal(size=4)
    y, pullback = dt.vjp(dnp.exp, x)
    y -= target
    np.testing.assert_allclose(pullback(y)[0], np.exp(x) * (np.exp(x) - target))
    same, _ = dt.vjp(lambda a: a, x)
    assert not np.shares_memory(same, x)


@pytest.mark.parametrize("f", [lambda a: a + np.ones((2, 3)), lambda a: dnp.transpose(a),
                               lambda a: dnp.reshape(a, (3, 2)), lambda a: a[:, 1:],
                               lambda a: a])
def test_results_never_share_memory_with_what_the_caller_passed(rng, f):
    x, t = rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    outs = dt.jvp(f, (x,), (t,))
    out, pullback = dt.vjp(f, x)
    ct = np.ones_like(out)
    outs += pullback(ct)
    for r in outs:
        for given in (x, t, ct):
            assert not np.shares_memory(r, given)


def test_gradients_of_two_arguments_are_two_arrays(rng):
    # add hands one cotangent to both operands; each caller's array must be its own
    x, y = rng.normal(size=3), rng.normal(size=3)
    gx, gy = dt.grad(lambda x, y: dnp.sum(dnp.exp(x + y)), argnums=(0, 1))(x, y)
    assert not np.shares_memory(gx, gy)
    gx += 1.0
    np.testing.assert_allclose(gy, np.exp(x + y))
    z = np.array(2.0)
    value, _ = dt.value_and_grad(lambda a: a)(z)
    assert value is not z


@pytest.mark.parametrize("jac", [dt.jacfwd, dt.jacrev])
def test_jacobian_of_one_value_returned_twice_is_two_arrays(rng, jac):
    # both output leaves are one traced value: each Jacobian block must be the caller's own
    x = rng.normal(size=3)

    def f(a):
        y = dnp.sin(a)
        return y, y

    j0, j1 = jac(f)(x)
    assert not np.shares_memory(j0, j1)
    j0 *= 0.0  # an in-place update of one block
    np.testing.assert_allclose(j1, np.diag(np.cos(x)))


def test_grad_of_unused_argument_is_zero():
    g = dt.grad(lambda x, y: x * 2.0, argnums=1)(1.0, np.ones(3))
    np.testing.assert_array_equal(g, np.zeros(3))
    assert np.shape(g) == (3,)


def test_grad_of_constant_function_is_zero():
    assert dt.grad(lambda x: 3.0)(1.0) == 0.0
    assert dt.jvp(lambda x: 3.0, (1.0,), (1.0,))[1] == 0.0


def _sq(t, y):
    return dnp.sum(y ** 2) + 0.0 * len(t)


@pytest.mark.parametrize("empty", [(), [], {}])
def test_an_empty_container_has_an_empty_derivative_as_in_jax(empty):
    y = np.array([1.0, 2.0])
    jsq = lambda t, y: jnp.sum(y ** 2)  # noqa: E731
    assert dt.grad(_sq)(empty, y) == jax.grad(jsq)(empty, y) == empty
    value, g = dt.value_and_grad(_sq)(empty, y)
    assert value == 5.0 and g == empty
    both = dt.grad(_sq, argnums=(0, 1))(empty, y)
    assert both[0] == empty
    np.testing.assert_array_equal(both[1], 2 * y)
    out, pull = dt.vjp(lambda t: np.float64(1.0) + 0.0 * len(t), empty)
    assert out == 1.0 and pull(1.0) == (empty,) == jax.vjp(lambda t: jnp.float64(1.0), empty)[1](1.0)
    assert dt.jvp(lambda t: 3.0, (empty,), (empty,)) == (3.0, 0.0)
    with pytest.raises(TypeError, match="argument 0: nothing to differentiate"):
        dt.jacfwd(lambda t: 1.0)(empty)  # a Jacobian of nothing: JAX refuses it too


# ---------------------------------------------------------------- jacfwd / jacrev


JAC_CASES = {
    "scalar_to_scalar": (lambda xp: lambda x: xp.sin(x) * x ** 2, (0.7,), 0),
    "scalar_to_vector": (lambda xp: lambda x: xp.stack([x, x ** 2, xp.sin(x)]), (0.7,), 0),
    "vector_to_scalar": (lambda xp: lambda x: xp.sum(xp.tanh(x) * x), (V4,), 0),
    "vector_to_vector": (lambda xp: lambda x: xp.sin(x) * x[::-1], (V4,), 0),
    "vector_to_matrix": (lambda xp: lambda x: xp.reshape(x, (2, 2)) * xp.cos(x[0]), (V4,), 0),
    "matrix_to_vector": (lambda xp: lambda a: xp.sum(a ** 2, axis=1) * a[0, 0], (M23,), 0),
    "matrix_to_matrix": (lambda xp: lambda a: xp.tanh(a @ W) + a[:, :1], (M23,), 0),
    "tuple_outputs": (lambda xp: lambda x: (xp.sin(x), xp.sum(x ** 2), x[1:] * 2.0), (V3,), 0),
    "dict_outputs": (lambda xp: lambda x: {"b": xp.exp(x), "a": xp.sum(x)}, (V3,), 0),
    "dict_input": (lambda xp: lambda d: d["w"] * xp.sum(d["b"]) + xp.tanh(d["w"]),
                   ({"w": V3, "b": M32},), 0),
    "list_input": (lambda xp: lambda l: l[0] * l[1][0] + xp.sum(l[1][1]), ([V3, (0.5, V4)],), 0),
    "tuple_input": (lambda xp: lambda t: xp.concatenate([t[0], t[1] * 2.0]), ((V3, V4),), 0),
    "argnums_tuple": (lambda xp: lambda x, y: x * xp.sin(y), (V3, V3[::-1].copy()), (0, 1)),
    "argnums_second": (lambda xp: lambda x, y, z: xp.sum(x) * y ** 2 + z, (V3, V4, 1.0), 1),
}


@functools.cache
def _jac_ref(name):
    make, args, argnums = JAC_CASES[name]
    return jax.jit(jax.jacfwd(make(jnp), argnums=argnums))(*args)


@pytest.mark.parametrize("chunk", [1, 2, 3, None])
@pytest.mark.parametrize("mode", ["jacfwd", "jacrev"])
@pytest.mark.parametrize("name", list(JAC_CASES))
def test_jacobian_matches_jax(name, mode, chunk):
    make, args, argnums = JAC_CASES[name]
    got = getattr(dt, mode)(make(dnp), argnums=argnums, chunk=chunk)(*args)
    assert_tree_close(got, _jac_ref(name))


def test_jacobians_agree_for_every_chunk(rng):
    f = lambda x: dnp.sin(x[:, None] * x[None, :]) @ x
    x = rng.normal(size=7)
    ref = jax_out(jax.jacfwd(lambda x: jnp.sin(x[:, None] * x[None, :]) @ x), x)
    for chunk in (1, 2, 3, 4, 6, 7, 8, 100, None):
        np.testing.assert_allclose(dt.jacfwd(f, chunk=chunk)(x), ref, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(dt.jacrev(f, chunk=chunk)(x), ref, rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------- nesting and higher order


def test_grad_of_grad_matches_jax():
    f, jf = both(lambda xp: lambda x: xp.sin(x) * x ** 3 + xp.exp(-x * x))
    d2 = jax.jit(jax.grad(jax.grad(jf)))
    d3 = jax.jit(jax.grad(jax.grad(jax.grad(jf))))
    for x in (-1.2, 0.0, 0.4, 2.0):
        assert math.isclose(dt.grad(dt.grad(f))(x), d2(x), rel_tol=1e-12, abs_tol=1e-14)
        assert math.isclose(dt.grad(dt.grad(dt.grad(f)))(x), d3(x), rel_tol=1e-11, abs_tol=1e-13)


def test_jvp_of_jvp_of_jvp_third_derivative():
    f = lambda x: dnp.sin(x) * x ** 2

    def d(g):
        return lambda x: dt.jvp(g, (x,), (1.0,))[1]

    x = 0.9
    ref = jax_out(jax.grad(jax.grad(jax.grad(lambda x: jnp.sin(x) * x ** 2))), x)
    assert math.isclose(d(d(d(f)))(x), ref, rel_tol=1e-12)


HESS_CASES = {
    "poly": (lambda xp: lambda x: xp.sum(x ** 3 * x[0]), V4),
    "trig": (lambda xp: lambda x: xp.sum(xp.sin(x) * xp.cos(x[::-1])), V4),
    "logsumexp": (lambda xp: lambda x: xp.log(xp.sum(xp.exp(x))), V4),
    "mlp": (lambda xp: lambda x: xp.sum(xp.tanh(W @ x) ** 2), V4),
    "matrix": (lambda xp: lambda a: xp.sum(xp.sin(a) * xp.exp(a[0])), M23),
    "matrix_transpose": (lambda xp: lambda a: xp.sum(xp.sin(a.T) * 2.0), M23),
    "gram": (lambda xp: lambda a: xp.sum((a @ a.T) ** 2), M23),
}

NESTINGS = {
    "fwd_over_rev": lambda f: dt.jacfwd(dt.jacrev(f)),
    "fwd_over_rev_chunks": lambda f: dt.jacfwd(dt.jacrev(f, chunk=2), chunk=3),
    "fwd1_over_rev": lambda f: dt.jacfwd(dt.jacrev(f), chunk=1),
    "rev_over_fwd": lambda f: dt.jacrev(dt.jacfwd(f)),
    "rev_over_fwd_chunks": lambda f: dt.jacrev(dt.jacfwd(f, chunk=3), chunk=2),
    "fwd_over_fwd": lambda f: dt.jacfwd(dt.jacfwd(f, chunk=2)),
    "rev_over_rev": lambda f: dt.jacrev(dt.jacrev(f), chunk=1),
    "hessian": dt.hessian,
}


@pytest.mark.parametrize("name, nesting", [
    (n, m) for n in HESS_CASES for m in NESTINGS])
def test_second_derivatives_match_jax_hessian(name, nesting):
    make, x = HESS_CASES[name]
    got = NESTINGS[nesting](make(dnp))(x)
    np.testing.assert_allclose(got, _hess_ref(name), rtol=1e-10, atol=1e-12)


@functools.cache
def _hess_ref(name):
    make, x = HESS_CASES[name]
    return np.asarray(jax.jit(jax.hessian(make(jnp)))(x))


def test_hessian_through_transpose_minimal():
    a = np.ones((2, 3))
    h = dt.hessian(lambda a: dnp.sum(dnp.sin(a.T)))(a)
    np.testing.assert_allclose(h, jax.hessian(lambda a: jnp.sum(jnp.sin(a.T)))(a))


def test_hessian_of_pytree_and_argnums_match_jax():
    f, jf = both(lambda xp: lambda d: xp.sum(d["a"] ** 2 * d["b"]) * xp.sum(xp.sin(d["b"])))
    d = {"a": V3, "b": V3[::-1].copy()}
    assert_tree_close(dt.hessian(f)(d), jax_out(jax.hessian(jf), d), rtol=1e-10, atol=1e-12)
    g, jg = both(lambda xp: lambda x, y: xp.sum(xp.sin(x) * y ** 3))
    assert_tree_close(dt.hessian(g, argnums=(0, 1))(V3, V3 + 1.0),
                      jax_out(jax.hessian(jg, argnums=(0, 1)), V3, V3 + 1.0), rtol=1e-10, atol=1e-12)
    assert_tree_close(dt.hessian(g, argnums=1)(V3, V3 + 1.0),
                      jax_out(jax.hessian(jg, argnums=1), V3, V3 + 1.0), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", [n for n in HESS_CASES if n not in ("gram", "matrix_transpose")])
def test_hvp_matches_jax(name, rng):
    make, x = HESS_CASES[name]
    f, jf = both(make)
    v = rng.normal(size=np.shape(x))
    got = dt.hvp(f, (x,), (v,))
    ref = jax_jvp(jax.grad(jf), (x,), (v,))[1]
    assert np.shape(got) == np.shape(x)
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12)


def test_hvp_with_two_primals_matches_jax(rng):
    f, jf = both(lambda xp: lambda x, y: xp.sum(xp.tanh(x) * y ** 2) + xp.sum(x * x) * y[0])
    x, y, u, v = rng.normal(size=(4, 3))
    got = dt.hvp(f, (x, y), (u, v))
    ref = jax_jvp(jax.grad(jf, argnums=(0, 1)), (x, y), (u, v))[1]
    assert_tree_close(got, ref, rtol=1e-10, atol=1e-12)


def test_hvp_with_transpose(rng):
    """hvp is forward over reverse with nb=0, which is not hit by the transpose bug."""
    f, jf = both(HESS_CASES["gram"][0])
    v = rng.normal(size=M23.shape)
    np.testing.assert_allclose(dt.hvp(f, (M23,), (v,)), jax_jvp(jax.grad(jf), (M23,), (v,))[1],
                               rtol=1e-10)


# ---------------------------------------------------------------- perturbation confusion


def _inner(kind, x):
    """d/dy (x + y) at y = 1, by ``kind``; x is closed over."""
    if kind == "jvp":
        return dt.jvp(lambda y: x + y, (1.0,), (1.0,))[1]
    if kind == "grad":
        return dt.grad(lambda y: x + y)(1.0)
    if kind == "jacfwd":
        return dt.jacfwd(lambda y: x + y)(1.0)
    return dt.jacrev(lambda y: x + y)(1.0)


def _outer(kind, f):
    if kind == "jvp":
        return dt.jvp(f, (1.0,), (1.0,))[1]
    if kind == "grad":
        return dt.grad(f)(1.0)
    if kind == "jacfwd":
        return dt.jacfwd(f)(1.0)
    return dt.jacrev(f)(1.0)


KINDS = ["jvp", "grad", "jacfwd", "jacrev"]


@pytest.mark.parametrize("outer", KINDS)
@pytest.mark.parametrize("inner", KINDS)
def test_perturbation_confusion(inner, outer):
    """d/dx [x * d/dy (x + y) at y=1] at x=1 == 1 (a confused AD gives 2)."""
    got = _outer(outer, lambda x: x * _inner(inner, x))
    assert float(got) == 1.0


@pytest.mark.parametrize("outer", ["jvp", "grad"])
@pytest.mark.parametrize("inner", ["jvp", "grad"])
def test_perturbation_confusion_inner_depends_on_x(inner, outer):
    """d/dx [x * d/dy (x * y)] = d/dx x^2 = 2x, as JAX computes it."""

    def f(x):
        if inner == "jvp":
            d = dt.jvp(lambda y: x * y ** 2, (1.0,), (1.0,))[1]
        else:
            d = dt.grad(lambda y: x * y ** 2)(1.0)
        return x * d

    x0 = 1.5
    got = dt.jvp(f, (x0,), (1.0,))[1] if outer == "jvp" else dt.grad(f)(x0)
    ref = jax_out(jax.grad(lambda x: x * jax.grad(lambda y: x * y ** 2)(1.0)), x0)
    assert math.isclose(float(got), float(ref)) and math.isclose(float(got), 4 * x0)


# ---------------------------------------------------------------- float32 stays float32


F32_FUNCS = {
    "sin_scaled": lambda x: dnp.sin(x) * 2.0 + 1.0,
    "mean_tanh": lambda x: dnp.mean(dnp.tanh(x)) * x,
    "logsumexp": lambda x: dnp.logsumexp(x) - x,
    "softmax": lambda x: dnp.softmax(x),
    "matmul": lambda x: dnp.reshape(x, (2, 2)) @ W[:2, :2].astype(np.float32),
    "max_relu": lambda x: dnp.max(x) * dnp.relu(x),
    "sigmoid_softplus": lambda x: dnp.sigmoid(x) + dnp.softplus(x),
    "pow_sqrt": lambda x: dnp.sqrt(x * x + 1.0) ** 2.5 / (x ** 2 + 1.0),
    "where": lambda x: dnp.where(x > 0, x * 2.0, x ** 3),
    "clip_lower": lambda x: dnp.clip(x, -0.5, None) * x,
    "clip_both": lambda x: dnp.clip(x, -0.5, 0.5) * x,
    "minimum_const": lambda x: dnp.minimum(x, 0.5) * x,
}
X32 = np.array([0.3, -1.2, 2.0, 0.7], dtype=np.float32)


def _jax_f32(name):
    return {
        "sin_scaled": lambda x: jnp.sin(x) * 2.0 + 1.0,
        "mean_tanh": lambda x: jnp.mean(jnp.tanh(x)) * x,
        "logsumexp": lambda x: jax.scipy.special.logsumexp(x) - x,
        "softmax": lambda x: jax.nn.softmax(x),
        "matmul": lambda x: jnp.reshape(x, (2, 2)) @ W[:2, :2].astype(np.float32),
        "max_relu": lambda x: jnp.max(x) * jax.nn.relu(x),
        "sigmoid_softplus": lambda x: jax.nn.sigmoid(x) + jax.nn.softplus(x),
        "pow_sqrt": lambda x: jnp.sqrt(x * x + 1.0) ** 2.5 / (x ** 2 + 1.0),
        "where": lambda x: jnp.where(x > 0, x * 2.0, x ** 3),
        "clip_lower": lambda x: jnp.clip(x, -0.5, None) * x,
        "clip_both": lambda x: jnp.clip(x, -0.5, 0.5) * x,
        "minimum_const": lambda x: jnp.minimum(x, 0.5) * x,
    }[name]


@pytest.mark.parametrize("name", list(F32_FUNCS))
def test_float32_stays_float32(name):
    f = F32_FUNCS[name]
    jf = _jax_f32(name)
    t = np.ones_like(X32)
    out, t_out = dt.jvp(f, (X32,), (t,))
    assert out.dtype == np.float32 and t_out.dtype == np.float32
    out, vjp_fn = dt.vjp(f, X32)
    (ct,) = vjp_fn(np.ones_like(out))
    assert out.dtype == np.float32 and ct.dtype == np.float32
    g = dt.grad(lambda x: dnp.sum(f(x)))(X32)
    assert g.dtype == np.float32
    ref = jax_out(jax.jacfwd(jf), X32)
    assert ref.dtype == np.float32
    for chunk in (1, 3, None):
        jf_ = dt.jacfwd(f, chunk=chunk)(X32)
        jr_ = dt.jacrev(f, chunk=chunk)(X32)
        assert jf_.dtype == np.float32 and jr_.dtype == np.float32
        np.testing.assert_allclose(jf_, ref, rtol=2e-5, atol=2e-6)
        np.testing.assert_allclose(jr_, ref, rtol=2e-5, atol=2e-6)


def test_float32_scalar_stays_float32():
    x = np.float32(0.5)
    g = dt.grad(lambda x: dnp.sin(x) * x)(x)
    assert np.asarray(g).dtype == np.float32
    _, t = dt.jvp(lambda x: dnp.exp(x) * 3.0, (x,), (np.float32(1.0),))
    assert np.asarray(t).dtype == np.float32
    assert np.asarray(dt.hessian(lambda x: dnp.sum(dnp.sin(x) * x))(X32)).dtype == np.float32


def test_a_float32_input_gets_a_float32_cotangent_where_float64_constants_promote_it():
    c = np.array([1.5, -2.0, 0.25, 3.0])  # float64: NumPy promotes x * c to float64
    f = lambda x: dnp.sum(dnp.sin(x * c))  # noqa: E731
    ref = np.cos(X32.astype(np.float64) * c) * c
    g = dt.grad(f)(X32)
    assert g.dtype == np.float32  # the input's dtype, as jax.grad and torch give it
    np.testing.assert_allclose(g, ref, rtol=1e-6)
    (ct,) = dt.vjp(lambda x: x * c, X32)[1](np.ones(4))
    assert ct.dtype == np.float32
    np.testing.assert_allclose(ct, c, rtol=1e-7)
    assert dt.jacrev(lambda x: x * c)(X32).dtype == np.float32
    g = dt.grad(lambda x: x * 2.5)(np.float32(1.0))
    assert type(g) is np.float32 and g == 2.5
    g = dt.grad(lambda x: x * np.float64(2.5))(np.float32(1.0))
    assert np.asarray(g).dtype == np.float32 and g == 2.5
    # under an outer transformation the cast keeps the derivative, and the dtype, as JAX's
    out, t = dt.jvp(dt.grad(f), (X32,), (np.ones(4, np.float32),))
    jout, jt = jax.jvp(jax.grad(lambda x: jnp.sum(jnp.sin(x * c))), (X32,), (np.ones(4, np.float32),))
    assert out.dtype == t.dtype == np.float32 == jt.dtype
    np.testing.assert_allclose(t, jt, rtol=1e-5)
    assert dt.hessian(f)(X32).dtype == np.float32
    w = np.array([0.5, -1.0, 2.0, 0.25])  # float64 parameters, float32 data: a gradient penalty
    inner = lambda w: dt.grad(lambda x: dnp.sum(dnp.sin(x * w)))(X32)  # noqa: E731
    jinner = lambda w: jax.grad(lambda x: jnp.sum(jnp.sin(x * w)))(X32)  # noqa: E731
    np.testing.assert_allclose(dt.jvp(inner, (w,), (np.ones(4),))[1],
                               jax.jvp(jinner, (w,), (np.ones(4),))[1], rtol=1e-5)
    np.testing.assert_allclose(dt.jacrev(inner)(w), jax.jacrev(jinner)(w), rtol=1e-5)

# ---------------------------------------------------------------- non-differentiable points follow JAX


KINKS = {
    "relu_at_0": (dnp.relu, jax.nn.relu, 0.0),
    "relu_vector": (lambda x: dnp.sum(dnp.relu(x)), lambda x: jnp.sum(jax.nn.relu(x)),
                    np.array([-1.0, 0.0, 1.0])),
    "abs_at_0": (dnp.abs, jnp.abs, 0.0),
    "abs_operator_vector": (lambda x: dnp.sum(abs(x)), lambda x: jnp.sum(abs(x)),
                            np.array([-1.0, 0.0, 2.0])),
    "maximum_tie_x": (lambda x: dnp.maximum(x, 1.0), lambda x: jnp.maximum(x, 1.0), 1.0),
    "maximum_tie_self": (lambda x: dnp.sum(dnp.maximum(x, x[::-1])),
                         lambda x: jnp.sum(jnp.maximum(x, x[::-1])), np.array([1.0, 2.0, 1.0])),
    "minimum_tie": (lambda x: dnp.minimum(x, 2.0), lambda x: jnp.minimum(x, 2.0), 2.0),
    "max_reduction_ties": (dnp.max, jnp.max, np.array([1.0, 3.0, 3.0, -2.0])),
    "max_reduction_three_ties": (dnp.max, jnp.max, np.array([3.0, 3.0, 3.0])),
    "max_axis_ties": (lambda a: dnp.sum(dnp.max(a, axis=1) * np.array([1.0, 2.0])),
                      lambda a: jnp.sum(jnp.max(a, axis=1) * np.array([1.0, 2.0])),
                      np.array([[1.0, 1.0, 0.0], [2.0, 5.0, 5.0]])),
    "min_reduction_ties": (dnp.min, jnp.min, np.array([2.0, -1.0, -1.0])),
    "clip_at_bounds": (lambda x: dnp.sum(dnp.clip(x, 0.0, 1.0) * np.arange(1.0, 6.0)),
                       lambda x: jnp.sum(jnp.clip(x, 0.0, 1.0) * np.arange(1.0, 6.0)),
                       np.array([-1.0, 0.0, 0.5, 1.0, 2.0])),
    "sign": (lambda x: dnp.sum(dnp.sign(x) * x), lambda x: jnp.sum(jnp.sign(x) * x),
             np.array([-2.0, 0.0, 3.0])),
}
# By design: abs'(0) = sign(0) = 0 (the issue's convention, as PyTorch and autograd); JAX 0.10 gives 1.
_ABS_BUG = pytest.mark.xfail(strict=True, reason="documented divergence: abs'(0) = 0, JAX gives 1")


@pytest.mark.parametrize("mode", ["grad", "jvp"])
@pytest.mark.parametrize("name", [pytest.param(n, marks=[_ABS_BUG] if n.startswith("abs") else [])
                                  for n in KINKS])
def test_nondifferentiable_points_follow_jax(name, mode):
    f, jf, x = KINKS[name]
    ref = jax_out(jax.grad(jf), x)
    if mode == "grad":
        got = dt.grad(f)(x)
    else:
        got = dt.jacfwd(f, chunk=1)(x)
    np.testing.assert_array_equal(np.asarray(got), np.asarray(ref))


@pytest.mark.parametrize("mode", ["grad", "jacfwd"])
@pytest.mark.parametrize("bounds", [(-1.0, 1.0), (np.array([-2.0, 0.0, -1.0]), 1.5), (None, 1.0)])
def test_clip_with_traced_bounds_differentiates_them_as_jax(mode, bounds):
    # the ties (x at a bound) split 1/2 each, as jnp.clip's min(max(x, lo), hi) does
    x = np.array([-2.0, 0.0, 1.5])
    lo, hi = bounds
    f = lambda x, lo, hi: dnp.sum(dnp.clip(x, lo, hi) * np.array([1.0, 2.0, 3.0]))
    jf = lambda x, lo, hi: jnp.sum(jnp.clip(x, lo, hi) * np.array([1.0, 2.0, 3.0]))
    nums = (0, 2) if lo is None else (0, 1, 2)
    got = (dt.grad if mode == "grad" else dt.jacfwd)(f, argnums=nums)(x, lo, hi)
    ref = jax.grad(jf, argnums=nums)(x, lo, hi)
    for g, r in zip(got, ref, strict=True):
        np.testing.assert_allclose(np.asarray(g), np.asarray(r))


def test_maximum_ties_split_half_each_argument():
    got = dt.grad(lambda x, y: dnp.maximum(x, y), argnums=(0, 1))(1.0, 1.0)
    ref = jax.grad(jnp.maximum, argnums=(0, 1))(1.0, 1.0)
    assert tuple(map(float, got)) == tuple(map(float, ref)) == (0.5, 0.5)


def test_relu_at_zero_through_scalar_jvp():
    """The kink also agrees through dt.jvp of a scalar (no Jacobian wrapper)."""
    assert dt.jvp(dnp.relu, (0.0,), (1.0,))[1] == float(jax.jvp(jax.nn.relu, (0.0,), (1.0,))[1])


# ---------------------------------------------------------------- deep tapes


def _sin_chain_grad(n):
    """d/dx of sin applied n times, computed with plain math."""
    x, d = 0.5, 1.0
    for _ in range(n):
        d *= math.cos(x)
        x = math.sin(x)
    return x, d


@pytest.mark.slow
def test_million_op_chain_in_reverse_mode():
    n = 1_000_000

    def f(x):
        for _ in range(n):
            x = dnp.sin(x)
        return x

    value, g = dt.value_and_grad(f)(0.5)
    ref_value, ref_g = _sin_chain_grad(n)
    assert math.isclose(value, ref_value, rel_tol=1e-12)
    assert math.isclose(g, ref_g, rel_tol=1e-9)


def test_deep_tape_second_order_no_recursion():
    """grad of grad through a tape far deeper than Python's recursion limit."""
    n = 3000

    def f(x):
        for _ in range(n):
            x = x * 0.999 + 0.001 * dnp.sin(x)
        return x

    x0 = 0.3
    h = dt.grad(dt.grad(f))(x0)
    # reference: forward-mode second derivative by recurrences on (x, x', x'')
    x, d1, d2 = x0, 1.0, 0.0
    for _ in range(n):
        c, s = math.cos(x), math.sin(x)
        x, d1, d2 = (x * 0.999 + 0.001 * s, d1 * (0.999 + 0.001 * c),
                     d2 * (0.999 + 0.001 * c) - 0.001 * s * d1 * d1)
    assert math.isclose(h, d2, rel_tol=1e-9, abs_tol=1e-15)


def test_backward_leaves_the_garbage_collector_as_it_found_it():
    import gc

    f = lambda x: dnp.sum(dnp.sin(x) * x)
    assert gc.isenabled()
    dt.grad(f)(np.ones(3))
    assert gc.isenabled()
    gc.disable()
    try:
        dt.grad(f)(np.ones(3))
        assert not gc.isenabled()
    finally:
        gc.enable()
    with pytest.raises(ZeroDivisionError):
        dt.grad(lambda x: x * dt.grad(lambda y: 1 // 0 + y)(1.0))(1.0)
    assert gc.isenabled()


# ---------------------------------------------------------------- operands of two levels, either order

# Binary ops meet an outer-level and an inner-level operand; the engine of the higher level must
# handle the call whichever side it is on (the ops' fast paths decide this without bind).
MIXED_BINARY = {
    "add": (lambda a, b: a + b, lambda a, b: a + b),
    "sub": (lambda a, b: a - b, lambda a, b: a - b),
    "mul": (lambda a, b: a * b, lambda a, b: a * b),
    "div": (lambda a, b: a / b, lambda a, b: a / b),
    "dnp.maximum": (dnp.maximum, jnp.maximum),
    "tanh_tangent": (lambda a, b: dt.ops.tanh_tangent(a, b), lambda a, b: a * (1 - b * b)),
    # reflected operators: a plain float on the left of a value traced at two levels
    "radd_rmul": (lambda a, b: 2.0 + 3.0 * (a * b), lambda a, b: 2.0 + 3.0 * (a * b)),
    "rsub_rdiv": (lambda a, b: 2.0 - 1.5 / (a * b), lambda a, b: 2.0 - 1.5 / (a * b)),
}


@pytest.mark.parametrize("outer", ["jvp", "grad"])
@pytest.mark.parametrize("inner", ["jvp", "grad"])
@pytest.mark.parametrize("swap", [False, True], ids=["outer_first", "inner_first"])
@pytest.mark.parametrize("name", sorted(MIXED_BINARY))
def test_mixed_level_operands_follow_jax(name, swap, inner, outer):
    op, jop = MIXED_BINARY[name]

    def pair(f, x, y):
        return f(y, x) if swap else f(x, y)

    def f(x):
        if inner == "jvp":
            d = dt.jvp(lambda y: pair(op, x, dt.numpy.tanh(y) * y), (0.7,), (1.0,))[1]
        else:
            d = dt.grad(lambda y: pair(op, x, dt.numpy.tanh(y) * y))(0.7)
        return dt.numpy.relu(x) * d + x * x

    def g(x):
        d = jax.grad(lambda y: pair(jop, x, jnp.tanh(y) * y))(0.7)
        return jax.nn.relu(x) * d + x * x

    x0 = 1.3
    got = dt.jvp(f, (x0,), (1.0,))[1] if outer == "jvp" else dt.grad(f)(x0)
    assert math.isclose(float(got), float(jax_out(jax.grad(g), x0)), rel_tol=1e-12)


# ---------------------------------------------------------------- integer outputs in vjp


def _with_argmax(x):
    return dnp.tanh(x) * 2.0, dnp.argmax(x), x > 0.0


@pytest.mark.parametrize("zero", ["float0", "int_zeros", "float_zeros"])
def test_vjp_integer_outputs_take_float0_or_zeros_like_jax(zero):
    x = np.array([0.3, 1.2, -0.5])
    g = np.array([1.0, -2.0, 0.5])
    make = {"float0": lambda s: np.zeros(s, dtype=jax.dtypes.float0),
            "int_zeros": lambda s: np.zeros(s, dtype=np.int64),
            "float_zeros": lambda s: np.zeros(s)}[zero]
    out, fn = dt.vjp(_with_argmax, x)
    assert out[1] == 1 and out[2].dtype == bool
    (got,) = fn((g, make(()), make((3,))))
    f0 = lambda s: np.zeros(s, dtype=jax.dtypes.float0)  # noqa: E731
    _, jfn = jax.vjp(lambda x: (jnp.tanh(x) * 2.0, jnp.argmax(x), x > 0.0), x)
    (ref,) = jfn((g, f0(()), f0((3,))))
    np.testing.assert_allclose(got, np.asarray(ref), rtol=1e-14)


@pytest.mark.parametrize("bad, err, shown", [
    (1, ValueError, "must be zero"),
    (np.zeros(2, dtype=np.int64), ValueError, r"shape \(2,\) does not match"),
    ("zero", TypeError, "pass zeros of its shape"),
    (np.zeros((), dtype=complex), TypeError, "cannot be the cotangent of an integer output"),
])
def test_vjp_integer_output_rejects_a_cotangent_with_a_value(bad, err, shown):
    _, fn = dt.vjp(_with_argmax, np.array([0.3, 1.2, -0.5]))
    with pytest.raises(err, match=shown):
        fn((np.ones(3), bad, np.zeros(3, bool)))


def test_a_python_bool_output_is_an_integer_output_like_numpys():
    # was: refused ("must return floats or arrays") while np.bool_ and Python int passed
    x = np.ones(3)
    for f in (lambda x: True, lambda x: np.bool_(True), lambda x: 1):
        out, tangent = dt.jvp(f, (x,), (x,))
        assert out == 1 and float(tangent) == 0.0
        assert dt.vjp(f, x)[0] == 1


def test_vjp_integer_output_cotangent_may_be_traced_or_a_python_bool():
    x = np.array([0.3, 0.5, 0.7])

    def inner_vjp(x):
        _, fn = dt.vjp(lambda y: (y * x, np.array([1])), x)
        return dnp.sum(fn((x, x[:1] * 0.0))[0])

    np.testing.assert_allclose(dt.grad(inner_vjp)(x), 2.0 * x)
    _, fn = dt.vjp(lambda y: (y * 2.0, np.True_), x)
    np.testing.assert_allclose(fn((x, False))[0], 2.0 * x)


def test_jacobians_of_the_identity_are_writable_fresh_arrays() -> None:
    """The identity seeds are kept read-only between calls; what the user gets is writable."""
    x = np.arange(1.0, 5.0)
    for jac in (dt.jacfwd(lambda v: v), dt.jacrev(lambda v: v), dt.jacfwd(lambda v: v, chunk=2)):
        first = jac(x)
        assert first.flags.writeable
        first[0, 0] = 7.0  # must not leak into the next call's seeds
        np.testing.assert_array_equal(jac(x), np.eye(4))


def test_a_leaked_traced_value_raises_when_used_later():
    leak = []
    x = np.array([1.0, 2.0])
    dt.grad(lambda a: (leak.append(a), dnp.sum(a * a))[1])(x)
    with pytest.raises(dt.UnexpectedTracerError, match="leaked out of the function"):
        dt.grad(lambda y: dnp.sum(y * leak[0]))(x)
    with pytest.raises(dt.UnexpectedTracerError):
        leak[0] * 2.0
    out, pullback = dt.vjp(lambda a: a * a, x)  # the finished tape still pulls back
    np.testing.assert_allclose(pullback(np.ones(2))[0], 2 * x)
    np.testing.assert_allclose(pullback(np.ones(2))[0], 2 * x)


@pytest.mark.parametrize("outer", ["none", "jvp", "grad"])
def test_a_dual_leaked_out_of_jvp_raises_when_used_later(outer):
    """Forward mode as well: a leaked Dual never turns into a silently mixed-up tangent."""
    leak = []
    x = np.array([1.0, 2.0])
    dt.jvp(lambda a: (leak.append(a), dnp.sin(a))[1], (x,), (np.ones(2),))
    uses = {
        "none": lambda: dnp.sin(leak[0]) * 2.0,
        "jvp": lambda: dt.jvp(lambda y: y * leak[0], (x,), (np.ones(2),)),  # a later, higher level
        "grad": lambda: dt.grad(lambda y: dnp.sum(y * leak[0]))(x),
    }
    with pytest.raises(dt.UnexpectedTracerError, match="leaked out of the function"):
        uses[outer]()
    # a Dual leaked out of an inner jvp into the outer one that is still running
    inner_leak = []

    def outer_fn(a):
        dt.jvp(lambda b: (inner_leak.append(b), b * a)[1], (x,), (np.ones(2),))
        return dnp.sum(a * inner_leak[0])

    with pytest.raises(dt.UnexpectedTracerError):
        dt.jvp(outer_fn, (x,), (np.ones(2),))


def test_a_leaked_dual_returned_untouched_raises():
    """Handed back as an output or aux without an operation on it, a leaked Dual is still a
    leak (JAX passes it through; its tangent would be lost without a word)."""
    leak = []
    x = np.ones(2)
    dt.jvp(lambda a: (leak.append(a), a * 2.0)[1], (x,), (x,))
    for call in (lambda: dt.jvp(lambda y: (y, leak[0]), (x,), (x,)),
                 lambda: dt.jvp(lambda y: (y, leak[0]), (x,), (x,), has_aux=True),
                 lambda: dt.grad(lambda y: (dnp.sum(y), leak[0]), has_aux=True)(x),
                 lambda: dt.vjp(lambda y: (y, leak[0]), x)):
        with pytest.raises(dt.UnexpectedTracerError):
            call()


def test_duals_built_by_hand_on_a_new_level_stay_usable():
    d = dt.Dual(2.0, 1.0, dt.new_level())
    out = dnp.sin(d) * d
    assert dt.jvp(lambda y: (y, d), (1.0,), (1.0,))[0][1] is d  # returned as it is
    assert out.primal == pytest.approx(2.0 * np.sin(2.0))
    assert out.tangent == pytest.approx(np.sin(2.0) + 2.0 * np.cos(2.0))
    # nested transformations still see their own levels as running
    np.testing.assert_allclose(dt.hvp(lambda a: dnp.sum(dnp.sin(a) ** 2), (np.ones(3),), (np.ones(3),)),
                               2 * np.cos(2.0) * np.ones(3))


@pytest.mark.parametrize("name", ["jacfwd", "jacrev"])
@pytest.mark.parametrize("chunk", [None, 1, 2])
def test_jacobians_with_aux_match_jax(name, chunk):
    x = np.array([0.3, -1.2, 2.0])
    f = lambda a: (dnp.sin(a) * a[0], {"norm": dnp.sum(a * a), "n": 3})
    jf = lambda a: (jnp.sin(a) * a[0], {"norm": jnp.sum(a * a), "n": 3})
    jac, aux = getattr(dt, name)(f, chunk=chunk, has_aux=True)(x)
    ref, ref_aux = getattr(jax, name)(jf, has_aux=True)(x)
    np.testing.assert_allclose(jac, ref)
    assert type(aux["norm"]) is not dt.TapeValue and not isinstance(aux["norm"], dt.Dual)
    np.testing.assert_allclose(aux["norm"], ref_aux["norm"])
    assert aux["n"] == 3


def test_copies_are_copies_and_traced_copies_keep_the_derivative():
    x = np.array([1.0, 2.0])
    for y in (dnp.astype(x, np.float64), dnp.copy(x), np.copy(x)):
        assert y is not x and not np.shares_memory(y, x)
    assert dnp.astype(x, np.float64, copy=False) is x
    for f in (lambda a: a.copy(), dnp.copy, np.copy):
        np.testing.assert_array_equal(dt.grad(lambda a, f=f: dnp.sum(f(a) ** 2))(x), 2 * x)


def test_jvp_outputs_of_a_broadcast_are_writable():
    x = np.ones(3)
    for r in dt.jvp(lambda a: dnp.broadcast_to(dnp.sum(a), (2, 3)), (x,), (x,)):
        assert r.flags.writeable and r.shape == (2, 3)


# ---------------------------------------------------------------- containers beyond dict, list, tuple


class _Params:
    """A user's container of parameters, registered as a pytree node with both tools."""

    def __init__(self, w, b, name="layer"):
        self.w, self.b, self.name = w, b, name


def _params_flatten(p):
    return (p.w, p.b), p.name


def _params_unflatten(name, children):
    return _Params(*children, name=name)


dt.register_pytree_node(_Params, _params_flatten, _params_unflatten)
jax.tree_util.register_pytree_node(_Params, _params_flatten, _params_unflatten)


def _params_loss(xp):
    return lambda p: xp.sum(xp.tanh(p.w * p.b[0]) + p.b[1] ** 2)


def test_registered_pytree_node_grad_and_jvp_match_jax(rng):
    p = _Params(V3, (0.7, M23), name="first")
    f, jf = both(_params_loss)
    g, ref = dt.grad(f)(p), jax.grad(jf)(p)
    assert type(g) is _Params and g.name == "first"
    np.testing.assert_allclose(g.w, ref.w, rtol=1e-6)
    np.testing.assert_allclose(g.b[0], ref.b[0], rtol=1e-6)
    np.testing.assert_allclose(g.b[1], ref.b[1], rtol=1e-6)
    t = _Params(rng.standard_normal(3), (0.3, rng.standard_normal((2, 3))), name="first")
    out, tout = dt.jvp(f, (p,), (t,))
    jout, jtout = jax.jvp(jf, (p,), (t,))
    np.testing.assert_allclose(tout, jtout, rtol=1e-6)
    with pytest.raises(ValueError, match="structure"):  # aux data is part of the structure
        dt.jvp(f, (p,), (_Params(t.w, t.b, name="other"),))


def test_ordered_and_default_dicts_keep_their_type_and_order():
    import collections

    od = collections.OrderedDict([("z", V3), ("a", 0.5)])
    g = dt.grad(lambda d: dnp.sum(d["z"] ** 2) * d["a"])(od)
    assert type(g) is collections.OrderedDict and list(g) == ["z", "a"]  # insertion order
    ref = jax.grad(lambda d: jnp.sum(d["z"] ** 2) * d["a"])(od)
    assert list(ref) == ["z", "a"]
    assert_tree_close(dict(g), {k: np.asarray(v) for k, v in ref.items()}, rtol=1e-6)
    dd = collections.defaultdict(float, {"b": V3, "a": 2.0})
    g = dt.grad(lambda d: dnp.sum(d["b"]) * d["a"])(dd)
    assert type(g) is collections.defaultdict and g.default_factory is float
    np.testing.assert_allclose(g["b"], [2.0, 2.0, 2.0])
    assert g["a"] == pytest.approx(float(np.sum(V3)))
    y, pb = dt.vjp(lambda d: {"s": d["z"] * d["a"]}, od)
    with pytest.raises(ValueError, match="structure"):  # a dict is not an OrderedDict
        pb(collections.OrderedDict(s=np.ones(3)))


def test_register_pytree_node_rejects_builtins_and_repeats():
    with pytest.raises(ValueError, match="already a pytree container"):
        dt.register_pytree_node(dict, _params_flatten, _params_unflatten)
    with pytest.raises(ValueError, match="already registered"):
        dt.register_pytree_node(_Params, _params_flatten, _params_unflatten)
    with pytest.raises(TypeError, match="nodetype"):
        dt.register_pytree_node("Params", _params_flatten, _params_unflatten)


# ---------------------------------------------------------------- NumPy's keyword arguments

_M = np.random.default_rng(8).standard_normal((3, 4)) > 0
_V = np.array([[1, 1, 0, 1], [0, 1, 1, 0], [1, 1, 1, 1]], bool)
KEYWORD_CASES = {
    "sum_dtype": lambda xp: lambda x: xp.sum(x, dtype=np.float32),
    "sum_where": lambda xp: lambda x: xp.sum(x * x, axis=1, where=_M),
    "sum_initial": lambda xp: lambda x: xp.sum(x, axis=0, initial=2.0),
    "mean_where_axis": lambda xp: lambda x: xp.mean(x * x, axis=0, where=_M),
    "mean_where_all": lambda xp: lambda x: xp.mean(x * x, where=_M),
    "prod_where_initial": lambda xp: lambda x: xp.prod(x, axis=1, where=_M, initial=2.0),
    "max_initial": lambda xp: lambda x: xp.max(x, axis=1, initial=0.5),
    "max_where": lambda xp: lambda x: xp.max(x, axis=0, where=_M, initial=-1.0),
    "min_where_keepdims": lambda xp: lambda x: xp.min(x, axis=1, where=_M, initial=3.0,
                                                      keepdims=True),
    # was: var and std refused where= (every row and column of _V selects two or more)
    "var_where_axis": lambda xp: lambda x: xp.var(x, axis=1, where=_V),
    "var_where_ddof_keepdims": lambda xp: lambda x: xp.var(x * x, axis=0, ddof=1, keepdims=True,
                                                           where=_V),
    "var_where_all_fractional_ddof": lambda xp: lambda x: xp.var(x, ddof=1.5, where=_V),
    "std_where_broadcast_mask": lambda xp: lambda x: xp.std(x, axis=1, where=_V[0]),
    "std_where_ddof": lambda xp: lambda x: xp.std(x, axis=(0, 1), ddof=2, where=_V),
    "method_var_where": lambda xp: lambda x: (x * 1.0).var(axis=0, where=_V),
    "method_std_where": lambda xp: lambda x: (x * 1.0).std(where=_V, ddof=1),
    "reshape_order_f": lambda xp: lambda x: xp.reshape(x, (2, 6), order="F"),
    "reshape_order_f_inferred": lambda xp: lambda x: xp.reshape(x * 2.0, (6, -1), order="F"),
    "method_reshape_order_f": lambda xp: lambda x: (x * 1.0).reshape((4, 3), order="F"),
    "concatenate_axis_none": lambda xp: lambda x: xp.concatenate([x, x[:1] * 3.0], axis=None),
}


@pytest.mark.parametrize("name", list(KEYWORD_CASES))
def test_numpy_keyword_arguments_match_jax(name):
    f, jf = KEYWORD_CASES[name](dnp), KEYWORD_CASES[name](jnp)
    x = np.random.default_rng(9).standard_normal((3, 4))
    out, ref = f(x), jf(x)
    assert np.shape(out) == np.shape(ref) and np.asarray(out).dtype == ref.dtype
    np.testing.assert_allclose(out, ref, rtol=1e-6)
    np.testing.assert_allclose(dt.jacrev(f)(x), jax.jacrev(jf)(x), rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(dt.jacfwd(f)(x), jax.jacfwd(jf)(x), rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("fn", ["var", "std"])
def test_var_and_std_where_derivatives_match_jax_grad_and_jvp(fn):
    x = np.random.default_rng(10).standard_normal((3, 4))
    w = np.arange(1.0, 5.0)
    f = lambda a: dnp.sum(getattr(dnp, fn)(a, axis=0, ddof=1, where=_V) * w)  # noqa: E731
    jf = lambda a: jnp.sum(getattr(jnp, fn)(a, axis=0, ddof=1, where=_V) * w)  # noqa: E731
    np.testing.assert_allclose(dt.grad(f)(x), jax.grad(jf)(x), rtol=1e-12, atol=1e-14)
    t = np.random.default_rng(11).standard_normal((3, 4))
    (out, tan), (ref, ref_tan) = dt.jvp(f, (x,), (t,)), jax.jvp(jf, (x,), (t,))
    np.testing.assert_allclose(out, ref, rtol=1e-13)
    np.testing.assert_allclose(tan, ref_tan, rtol=1e-12)
    # the unselected entries have no derivative
    assert not dt.grad(f)(x)[~_V].any() and not dt.hessian(f)(x)[~_V].any()


def test_numpy_keyword_arguments_refused_say_why():
    x = np.ones((2, 3))
    with pytest.raises(ValueError, match="where= needs initial="):
        dt.grad(lambda x: dnp.max(x, where=x > 0))(x)
    with pytest.raises(TypeError, match="out= is not supported"):
        dt.grad(lambda x: dnp.sum(x, out=np.empty(())))(x)
    with pytest.raises(ValueError, match="order"):
        dnp.reshape(x, (3, 2), order="K")


# ---------------------------------------------------------------- dtypes of derivatives, as JAX's

_C64 = np.ones(2)
_O32 = np.ones(2, np.float32)


@pytest.mark.parametrize("mode", ["fwd-rev", "fwd-fwd", "rev-fwd", "rev-rev", "auto"])
def test_hessian_blocks_take_their_rows_dtype_in_every_mode(mode):
    # a float32 input meeting a float64 constant: jax.hessian (fwd-rev) gives float32
    x, y = np.ones(2, np.float32), np.ones(2)
    got = dt.hessian(lambda a, b: dnp.sum(a * b * _C64), argnums=(0, 1), mode=mode)(x, y)
    want = jax.hessian(lambda a, b: jnp.sum(a * b * _C64), argnums=(0, 1))(jnp.asarray(x), y)
    assert [[b.dtype for b in row] for row in got] == [[b.dtype for b in row] for row in want]
    scalar = dt.hessian(lambda a: a * a * np.float64(3.0), mode=mode)(np.float32(2.0))
    assert scalar.dtype == np.float32 and float(scalar) == 6.0


def test_a_python_float_inputs_derivatives_take_jaxs_dtypes():
    # a Python float is float64 (x64): its gradient too, though the function runs in float32;
    # jacfwd's Jacobian takes the output's dtype
    f = lambda a: dnp.sum(a * _O32)  # noqa: E731
    g = dt.grad(f)(2.0)
    assert g.dtype == jax.grad(lambda a: jnp.sum(a * _O32))(2.0).dtype == np.float64
    assert dt.vjp(lambda a: a * _O32, 2.0)[1](_O32)[0].dtype == np.float64
    assert dt.jacrev(lambda a: a * _O32)(2.0).dtype == np.float64
    assert dt.jacfwd(lambda a: a * _O32)(2.0).dtype == np.float32
    assert jax.jacfwd(lambda a: a * _O32)(2.0).dtype == np.float32


_OF_0D = {  # each transformation's derivative with respect to its (0-d) input
    "grad": lambda f, x: dt.grad(f)(x),
    "value_and_grad": lambda f, x: dt.value_and_grad(f)(x)[1],
    "vjp": lambda f, x: dt.vjp(f, x)[1](np.ones((), x.dtype))[0],
    "jacrev": lambda f, x: dt.jacrev(f)(x),
    "jacfwd": lambda f, x: dt.jacfwd(f)(x),
    "grad of grad": lambda f, x: dt.grad(dt.grad(f))(x),
    "hessian": lambda f, x: dt.hessian(f)(x),
    "grad in a dict": lambda f, x: dt.grad(lambda d: f(d["x"]))({"x": x})["x"],
    "grad argnums": lambda f, x: dt.grad(lambda a, b: f(a) + b, argnums=(0, 1))(x, x)[0],
    "grad passed through": lambda f, x: dt.grad(lambda a, b: f(a) + b, argnums=(0, 1))(x, x)[1],
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("how", list(_OF_0D))
def test_a_0d_array_inputs_derivative_is_a_0d_array_as_jaxs(how, dtype):
    # was: grad, value_and_grad and vjp gave a NumPy scalar (np.float64), JAX a 0-d array
    x = np.array(1.5, dtype)
    f = lambda a: a * a * a  # noqa: E731
    got = _OF_0D[how](f, x)
    want = {"grad of grad": 9.0, "hessian": 9.0, "grad passed through": 1.0}.get(how, 6.75)
    assert type(got) is np.ndarray and got.shape == () and got.dtype == dtype
    assert got == want and got.flags.writeable
    ref = jax.grad(f)(jnp.asarray(x))
    assert ref.shape == () and ref.dtype == dtype
    # a Python float keeps its Python float gradient (scalar code stays on floats)
    assert type(dt.grad(f)(1.5)) is float


def test_jacrev_of_an_integer_output_raises_like_jax_and_jacfwd_gives_its_zeros():
    f = lambda a: (a * 2.0, np.arange(3))  # noqa: E731
    with pytest.raises(TypeError, match="output leaf 1 has dtype int64"):
        dt.jacrev(f)(np.ones(2))
    with pytest.raises(TypeError, match="real-valued outputs"):
        jax.jacrev(lambda a: (a * 2.0, jnp.arange(3)))(jnp.ones(2))
    got = dt.jacfwd(f)(np.ones(2))[1]
    want = jax.jacfwd(lambda a: (a * 2.0, jnp.arange(3)))(jnp.ones(2))[1]
    assert got.dtype == want.dtype and got.shape == want.shape and not got.any()


@pytest.mark.parametrize("op", [lambda a, b: a + b, lambda a, b: a * b,
                                lambda a, b: dnp.maximum(a, b), lambda a, b: a ** b])
def test_a_tangent_has_its_primals_dtype_for_0d_outputs_too(op):
    # a Python float met a 0-d float32: the primal was float32, its tangent float64
    out, tangent = dt.jvp(op, (1.5, np.array(1.5, np.float32)),
                          (np.array(1.0), np.array(1.0, np.float32)))
    assert out.dtype == tangent.dtype == np.float32


def test_a_cotangent_of_a_look_alike_container_type_says_so():
    # JAX's SlogdetResult for dualtape's: both printed "SlogdetResult(*, *)"
    from collections import namedtuple

    mine = namedtuple("Pair", "a b")
    theirs = namedtuple("Pair", "a b")
    out, pull = dt.vjp(lambda x: mine(x, 2.0 * x), np.ones(2))
    with pytest.raises(ValueError, match="they print alike, but a container differs in type"):
        pull(theirs(np.ones(2), np.ones(2)))
    np.testing.assert_array_equal(pull(mine(np.ones(2), np.ones(2)))[0], [3.0, 3.0])


def test_max_along_an_axis_of_an_empty_batch():
    for f in (dt.jacfwd, dt.jacrev):
        assert f(lambda x: dnp.max(x, axis=-1))(np.zeros((0, 3))).shape == (0, 0, 3)
    assert dt.hessian(lambda x: dnp.sum(dnp.min(x * x, axis=-1)))(np.zeros((0, 3))).shape \
        == (0, 3, 0, 3)


def test_auto_modes_around_custom_vjp_and_integer_outputs():
    @dt.custom_vjp
    def g(x):
        return dnp.sin(x)

    g.defvjp(lambda x: (dnp.sin(x), x), lambda x, gg: (gg * dnp.cos(x),))
    ref = jax.hessian(lambda x: jnp.sin(x) ** 2)(0.3)
    assert dt.hessian(lambda x: g(x) ** 2, mode="auto")(0.3) == pytest.approx(float(ref))
    x = np.array([0.3, -0.7, 1.2])
    f = lambda x: (dnp.sin(x), dnp.argmax(x))  # noqa: E731
    assert dt.choose_mode(f, x).mode == "fwd"  # jacrev refuses the integer output
    jac = dt.jacobian(f)(x)
    assert np.allclose(jac[0], np.diag(np.cos(x))) and jac[1].shape == (3,)


def test_values_leaked_from_a_function_that_raised_or_returned_untouched_are_refused():
    x = np.array([0.3, -0.7])
    leak = []

    def raises(v):
        leak.append(v * 2.0)
        raise ValueError("a bug in the user's function")

    with pytest.raises(ValueError):
        dt.grad(raises)(x)
    with pytest.raises(dt.UnexpectedTracerError):
        dt.grad(lambda y: dnp.sum(y * leak[0]))(x)
    returned = []
    dt.grad(lambda v: (returned.append(v), dnp.sum(v))[1])(x)
    for call in (lambda: dt.jacrev(lambda y: returned[0])(x),
                 lambda: dt.jvp(lambda y: returned[0], (x,), (x,)),
                 lambda: dt.grad(lambda y: (dnp.sum(y), returned[0]), has_aux=True)(x)):
        with pytest.raises(dt.UnexpectedTracerError):
            call()


def test_grad_wants_a_bare_floating_scalar():
    x = np.array([0.3, -0.7])
    with pytest.raises(TypeError, match="container"):
        dt.grad(lambda v: (dnp.sum(v),))(x)
    with pytest.raises(TypeError, match="dtype bool"):
        dt.grad(lambda v: v.shape[0] == 2)(x)


@pytest.mark.parametrize("mode", ["fwd-fwd", "fwd-rev", "rev-fwd", "rev-rev"])
def test_second_derivatives_at_zero_of_power_and_hypot_agree_in_every_mode(mode):
    # x ** [0, 1, 2, 3] at 0: the discarded 0**-1 branch made reverse over reverse nan
    assert dt.hessian(lambda x: dnp.sum(x ** np.arange(4)), mode=mode)(0.0) == pytest.approx(2.0)
    # hypot's slope is taken as 0 at the origin; its curvature there was the identity
    hyp = dt.hessian(lambda v: dnp.hypot(v[0], v[1]), mode=mode)
    assert np.allclose(hyp(np.zeros(2)), 0.0)
    assert np.allclose(hyp(np.array([3.0, 4.0])), np.array([[16.0, -12.0], [-12.0, 9.0]]) / 125)
