"""Python operators, array attributes and NumPy functions on traced values.

Each expression is differentiated four ways (forward mode one tangent at a time
and in vector mode, reverse mode one cotangent at a time and in vector mode), so it
runs on ``Dual`` and on ``TapeValue`` values, and every Jacobian is compared with
``jax.jacfwd`` of the same expression on JAX arrays.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _trees import jax_out

import dualtape as dt
import dualtape.numpy as dnp

jax.config.update("jax_enable_x64", True)

R = np.random.default_rng(3)
X = np.array([0.8, -1.3, 0.4, 2.1])  # no zeros, no ties
A = R.normal(size=(3, 4))
M43 = R.normal(size=(4, 3))
M34 = R.normal(size=(3, 4))
MASK = np.array([True, False, True, True])

MODES = {
    "jvp": lambda f: dt.jacfwd(f, chunk=1),
    "jvp_vector": lambda f: dt.jacfwd(f, chunk=None),
    "vjp": lambda f: dt.jacrev(f, chunk=1),
    "vjp_vector": lambda f: dt.jacrev(f, chunk=3),
}


def _expect_traced(f, kind):
    def wrapped(x):
        assert isinstance(x, kind), type(x)
        out = f(x)
        assert isinstance(out, kind), f"result {type(out).__name__} is not traced"
        return out

    return wrapped


def check_all_modes(f, x, jf=None, rtol=1e-12, atol=1e-13):
    """Jacobian of ``f`` at ``x`` in every mode equals ``jax.jacfwd(jf or f)``."""
    ref = np.asarray(jax_out(jax.jacfwd(jf or f), x))
    for mode, jac in MODES.items():
        kind = dt.Dual if mode.startswith("jvp") else dt.TapeValue
        got = jac(_expect_traced(f, kind))(x)
        assert np.shape(got) == ref.shape, mode
        np.testing.assert_allclose(got, ref, rtol=rtol, atol=atol, err_msg=mode)


# ---------------------------------------------------------------- arithmetic operators


ARITH = {
    "add_float": lambda x: x + 2.0,
    "radd_float": lambda x: 2.0 + x,
    "add_self": lambda x: x + x[::-1],
    "sub_float": lambda x: x - 1.5,
    "rsub_float": lambda x: 1.5 - x,
    "sub_self": lambda x: x - x * x,
    "mul_float": lambda x: x * 3.0,
    "rmul_float": lambda x: 3.0 * x,
    "mul_int": lambda x: 3 * x * 2,
    "mul_self": lambda x: x * x[::-1],
    "div_float": lambda x: x / 2.0,
    "rdiv_float": lambda x: 2.0 / (x * x + 1.0),
    "div_self": lambda x: x / (x * x + 1.0),
    "pow_int": lambda x: x ** 3,
    "pow_neg_int": lambda x: x ** -2,
    "pow_float": lambda x: (x * x + 1.0) ** 2.5,
    "pow_half": lambda x: (x * x + 1.0) ** 0.5,
    "rpow_float": lambda x: 2.0 ** x,
    "mod_float": lambda x: x % 0.7,
    "rmod_float": lambda x: 5.0 % (x * x + 1.0),
    "mod_self": lambda x: x % (x[::-1] * 0.3 + 1.0),
    "floordiv_float": lambda x: x // 0.7 + x,  # piecewise constant: only x's slope
    "rfloordiv_float": lambda x: 5.0 // (x * x + 1.0) * x,
    "divmod_float": lambda x: divmod(x, 0.7)[0] + divmod(x, 0.7)[1],
    "pow_self": lambda x: (x * x + 1.0) ** x,
    "pow_array": lambda x: x ** np.array([1.0, 2.0, 3.0, 4.0]),
    "rpow_array": lambda x: np.array([1.5, 2.0, 3.0, 0.5]) ** x,
    "neg": lambda x: -x,
    "pos": lambda x: +x * 1.0,
    "abs": lambda x: abs(x) * x,
    "chain": lambda x: -(x - 1.0) / (2.0 + x * x) ** 2 + abs(x) ** 1.5,
}


@pytest.mark.parametrize("name", list(ARITH))
def test_arithmetic_operator(name):
    check_all_modes(ARITH[name], X)


MIXED = {
    "ndarray_plus": lambda x: np.ones(4) + x,
    "plus_ndarray": lambda x: x + np.arange(4.0),
    "ndarray_minus": lambda x: np.arange(4.0) - x,
    "ndarray_times": lambda x: np.arange(1.0, 5.0) * x,
    "ndarray_div": lambda x: np.arange(1.0, 5.0) / (x * x + 1.0),
    "np_float64_times": lambda x: np.float64(2.5) * x,
    "times_np_float64": lambda x: x * np.float64(2.5),
    "zero_d_array_times": lambda x: np.array(2.5) * x,
    "broadcast_row": lambda x: x + np.ones((3, 4)),
    "broadcast_col": lambda x: np.arange(3.0)[:, None] * x,
    "vector_matmul_matrix": lambda x: x @ M43,
    "matrix_matmul_vector": lambda x: M34 @ x,
    "vector_matmul_vector": lambda x: x @ np.arange(4.0),
    "vector_matmul_self": lambda x: x @ x,
    "matmul_rhs_numpy": lambda x: np.arange(4.0) @ x,
}


@pytest.mark.parametrize("name", list(MIXED))
def test_mixed_with_plain_values(name):
    check_all_modes(MIXED[name], X)


MATRIX_OPS = {
    "matrix_matmul_numpy": lambda a: a @ M43,
    "numpy_matmul_matrix": lambda a: M43 @ a,
    "gram": lambda a: a @ a.T,
    "transpose_attr": lambda a: a.T * 2.0,
    "batched_broadcast": lambda a: a[None] * np.ones((2, 1, 1)),
    "matrix_div_row": lambda a: a / (1.0 + a[0] ** 2),
}


@pytest.mark.parametrize("name", list(MATRIX_OPS))
def test_matrix_operators(name):
    check_all_modes(MATRIX_OPS[name], A)


# ---------------------------------------------------------------- indexing


VECTOR_INDEX = {
    "int": lambda x: x[1],
    "negative_int": lambda x: x[-1],
    "numpy_int": lambda x: x[np.int64(2)],
    "slice": lambda x: x[1:3],
    "negative_step": lambda x: x[::-2],
    "ellipsis": lambda x: x[...],
    "none": lambda x: x[None],
    "none_slice": lambda x: x[:, None],
    "int_array": lambda x: x[np.array([0, 0, 3, 1])],
    "int_list": (lambda x: x[[2, 2, 0]], lambda x: x[np.array([2, 2, 0])]),
    "negative_int_array": lambda x: x[np.array([-1, -4])],
    "bool_mask": lambda x: x[MASK],
    "bool_all_false": lambda x: x[np.zeros(4, bool)] + 1.0,
}


@pytest.mark.parametrize("name", list(VECTOR_INDEX))
def test_vector_indexing(name):
    f = VECTOR_INDEX[name]
    f, jf = f if isinstance(f, tuple) else (f, None)
    check_all_modes(f, X, jf)


MATRIX_INDEX = {
    "int": lambda a: a[1],
    "int_int": lambda a: a[1, -2],
    "chained": lambda a: a[2][1:],
    "slice_col": lambda a: a[:, 1],
    "ellipsis_col": lambda a: a[..., -1],
    "ellipsis_row": lambda a: a[0, ...],
    "none_middle": lambda a: a[:, None, 1:3],
    "reverse_rows": lambda a: a[::-1, 1:],
    "int_array_rows": lambda a: a[np.array([2, 0, 2])],
    "int_array_cols": lambda a: a[:, np.array([3, 3, 0])],
    "int_array_pair": lambda a: a[np.array([0, 1, 2, 2]), np.array([3, 0, 1, 1])],
    "int_array_2d": lambda a: a[np.array([[0, 1], [2, 2]])],
    "bool_mask_2d": lambda a: a[A > 0],
    "bool_mask_rows": lambda a: a[np.array([True, False, True])],
    "slice_then_int_array": lambda a: a[1:, np.array([0, 2])],
    "int_then_int_array": lambda a: a[1, np.array([0, 0, 2])],
}


@pytest.mark.parametrize("name", list(MATRIX_INDEX))
def test_matrix_indexing(name):
    check_all_modes(MATRIX_INDEX[name], A)




T3 = np.arange(24.0).reshape(2, 3, 4) / 7.0 - 1.0
I0, I2 = np.array([1, 0, 1]), np.array([3, 0, 2])

# Index arrays apart from each other: NumPy puts the broadcast axes first.
SEPARATED_INDEX = {
    "arrays_around_slice": lambda a: a[I0, :, I2],
    "arrays_around_partial_slice": lambda a: a[I0, 1:, I2],
    "arrays_around_none_and_slice": lambda a: a[I0, None, :, I2],
    "arrays_around_ellipsis": lambda a: a[I0, ..., I2],
    "broadcast_arrays_around_slice": lambda a: a[np.array([[0], [1]]), :, np.array([[1, 2, 3]])],
    "array_slice_int": lambda a: a[I0, 1:, 2],
    "int_then_separated_arrays": lambda a: a[None][0, I0, :, I2],
    "mask_and_array_around_slice": lambda a: a[np.array([True, False]), :, np.array([1])],
}


# A scalar boolean is a new axis indexed by [0] (True) or [] (False), an advanced index.
SCALAR_BOOL_INDEX = {
    "array_int_true": lambda a: a[I0[:2], 0, True],
    "true_alone": lambda a: a[True],
    "false_alone": lambda a: a[False],
    "ellipsis_true": lambda a: a[..., True],
    "int_true": lambda a: a[0, True],
    "zero_d_true_array": lambda a: a[np.array(True)],
    "arrays_apart_with_true": lambda a: a[np.array([1, 1, 1]), True, np.array([0])],
    "slice_true_array": lambda a: a[:, True, np.array([1, 2])],  # JAX asserts on np.True_
}


@pytest.mark.parametrize("name", list(SCALAR_BOOL_INDEX))
def test_scalar_bool_indices(name):
    # were: (2, 1) for (2,), or NumPy's "nonzero on 0d arrays" once traced
    check_all_modes(SCALAR_BOOL_INDEX[name], T3)


@pytest.mark.parametrize("name", list(SEPARATED_INDEX))
def test_separated_index_arrays(name):
    check_all_modes(SEPARATED_INDEX[name], T3)


@pytest.mark.parametrize("name", ["arrays_around_slice", "int_then_separated_arrays"])
def test_separated_index_arrays_second_order(name):
    f = SEPARATED_INDEX[name]
    g = lambda a: dnp.sum(dnp.sin(f(a)) * f(a))  # noqa: E731
    jg = lambda a: jnp.sum(jnp.sin(f(a)) * f(a))  # noqa: E731
    ref = np.asarray(jax_out(jax.hessian(jg), T3))
    np.testing.assert_allclose(dt.hessian(g)(T3), ref, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(dt.jacfwd(dt.jacfwd(g))(T3), ref, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("mode", [
    "jvp", "jvp_vector", "vjp", "vjp_vector"])
def test_int_and_index_array_separated_by_a_slice(mode):
    """a[0, :, idx]: NumPy puts the advanced axis first; all modes must agree with JAX."""
    a = np.arange(24.0).reshape(2, 3, 4)
    idx = np.array([0, 1])
    ref = np.asarray(jax.jacfwd(lambda a: a[0, :, idx])(a))
    got = MODES[mode](lambda a: a[0, :, idx])(a)
    np.testing.assert_array_equal(got, ref)


def test_traced_mask_indexing_uses_concrete_values():
    """x[x > 0]: the comparison of a traced value gives a plain mask."""
    f = lambda a: a[a > 0] ** 2
    check_all_modes(f, A, jf=lambda a: a[A > 0] ** 2)


# ---------------------------------------------------------------- comparisons, attributes, conversions


@pytest.mark.parametrize("mode", ["jvp", "grad"])
def test_comparisons_return_plain_bools_and_arrays(mode):
    seen = {}

    def f(x):
        seen["gt"] = x > 0.0
        seen["le_rev"] = 1.0 <= x
        seen["eq_self"] = x == x
        seen["ne"] = x != x[::-1]
        seen["lt_traced"] = x < x * 2.0
        seen["scalar"] = x[0] >= 0.5
        seen["ge_array"] = x >= np.zeros(4)
        return dnp.sum(x)

    if mode == "jvp":
        dt.jvp(f, (X,), (np.ones(4),))
    else:
        dt.grad(f)(X)
    np.testing.assert_array_equal(seen["gt"], X > 0)
    np.testing.assert_array_equal(seen["le_rev"], X >= 1.0)
    np.testing.assert_array_equal(seen["eq_self"], np.ones(4, bool))
    np.testing.assert_array_equal(seen["ne"], X != X[::-1])
    np.testing.assert_array_equal(seen["lt_traced"], X < 2 * X)
    np.testing.assert_array_equal(seen["ge_array"], X >= 0)
    for k in ("gt", "le_rev", "eq_self", "ne", "lt_traced", "ge_array"):
        assert type(seen[k]) is np.ndarray and seen[k].dtype == bool, k
    assert seen["scalar"] is True or seen["scalar"] is np.True_


@pytest.mark.parametrize("mode", ["jvp", "grad", "jacfwd", "jacrev"])
def test_python_control_flow_on_traced_scalars(mode):
    def f(x):
        return x ** 2 if x > 0 else -3.0 * x

    for x0, ref in ((2.0, 4.0), (-2.0, -3.0)):
        if mode == "jvp":
            got = dt.jvp(f, (x0,), (1.0,))[1]
        else:
            got = getattr(dt, mode)(f)(x0)
        assert float(got) == ref


@pytest.mark.parametrize("mode", ["jvp", "grad"])
@pytest.mark.parametrize("drop", [float, math.exp, np.float64, lambda v: np.empty(2).fill(v),
                                  lambda v: np.zeros(2).__setitem__(0, v)])
def test_float_of_a_traced_value_is_refused(mode, drop):
    # it would drop the derivative silently; JAX refuses it too
    f = lambda x: drop(x[0]) * x[1]
    x = np.array([0.5, 2.0])
    with pytest.raises((TypeError, ValueError)) as err:
        dt.jvp(f, (x,), (np.ones(2),)) if mode == "jvp" else dt.grad(f)(x)
    chain = [err.value, err.value.__cause__, err.value.__context__]
    assert any("derivative would be lost" in str(e) for e in chain if e is not None)


@pytest.mark.parametrize("mode", ["jvp", "grad", "jacfwd_vector", "jacrev_vector"])
def test_array_attributes_on_traced_values(mode):
    seen = {}

    def f(a):
        seen.update(shape=a.shape, ndim=a.ndim, dtype=a.dtype, size=a.size, len=len(a),
                    T_shape=a.T.shape, row_len=len(a[0]), float=float(dnp.concrete(a[1, 2])),
                    int=int(a[0, 0] * 0.0 + 7.9), bool=bool(a[0, 0] == a[0, 0]),
                    elem_shape=a[0, 0].shape, elem_ndim=a[0, 0].ndim)
        return dnp.sum(a * a) if mode in ("jvp", "grad") else a * a

    a = A.astype(np.float32)
    if mode == "jvp":
        dt.jvp(f, (a,), (np.ones_like(a),))
    elif mode == "grad":
        dt.grad(f)(a)
    elif mode == "jacfwd_vector":
        dt.jacfwd(f, chunk=5)(a)
    else:
        dt.jacrev(f, chunk=5)(a)
    assert seen == dict(shape=(3, 4), ndim=2, dtype=np.float32, size=12, len=3, T_shape=(4, 3),
                        row_len=4, float=float(a[1, 2]), int=7, bool=True, elem_shape=(),
                        elem_ndim=0)
    assert type(seen["float"]) is float and type(seen["len"]) is int


@pytest.mark.parametrize("mode", ["jvp", "grad"])
def test_len_of_scalar_traced_value_raises(mode):
    def f(x):
        return len(x) * x

    with pytest.raises(TypeError, match="len"):
        if mode == "jvp":
            dt.jvp(f, (1.0,), (1.0,))
        else:
            dt.grad(f)(1.0)


def test_iteration_over_traced_vector():
    """Python's sum() iterates the traced vector element by element."""
    check_all_modes(lambda x: sum(x) * x, X, jf=lambda x: jnp.sum(x) * x)


METHODS = {
    "sum_axis": lambda a: a.sum(axis=0),
    "sum_keepdims": lambda a: a.sum(1, None, None, True),  # NumPy's order: axis, dtype, out
    "sum_dtype": lambda a: a.sum(0, np.float64),
    "mean_dtype": lambda a: a.mean(1, np.float64),
    "max_keepdims": lambda a: a.max(1, None, True),
    "var_ddof": lambda a: a.var(0, None, None, 1),
    "ravel_F": lambda a: a.ravel("F"),
    "reshape_F": lambda a: a.reshape((6, 2), order="F"),
    "mean": lambda a: a.mean() * a,
    "prod": lambda a: a.prod(axis=1),
    "max_axis": lambda a: a.max(axis=1),
    "min": lambda a: a.min() + a[0],
    "reshape_args": lambda a: a.reshape(2, 6),
    "reshape_tuple": lambda a: a.reshape((6, -1)),
    "transpose": lambda a: a.transpose(),
    "transpose_axes": lambda a: a.transpose(1, 0),
    "ravel": lambda a: a.ravel(),
    "flatten": lambda a: a.flatten(),
    "dot": lambda a: a.dot(M43),
    "squeeze": lambda a: a[:, None, 1:2].squeeze(),
    "cumsum": lambda a: a.cumsum(axis=1),
    "clip": lambda a: a.clip(-0.5, 0.5),
    "trace": lambda a: a.trace(1) * a,  # trace to take: were missing on traced values
    "diagonal": lambda a: a.diagonal(-1),
    "take_flat": lambda a: a.take(np.array([0, 5, 5])),
    "take_axis": lambda a: a.take(np.array([1, 1]), axis=1),
}


def test_item_and_tolist_of_a_traced_value_say_why_they_cannot():
    for method in ("item", "tolist"):
        with pytest.raises(TypeError, match=rf"{method}\(\) of a traced value: the derivative "
                                            "would be lost"):
            dt.grad(lambda x, m=method: getattr(x, m)())(1.0)


@pytest.mark.parametrize("name", list(METHODS))
def test_array_methods(name):
    f = METHODS[name]
    f, jf = f if isinstance(f, tuple) else (f, None)
    check_all_modes(f, A, jf)


# ---------------------------------------------------------------- NumPy functions dispatch to the registry


NUMPY_FUNCS = {
    "sin": (lambda xp: lambda x: xp.sin(x), "sin"),
    "exp_log": (lambda xp: lambda x: xp.log(xp.exp(x) + 1.0), "log"),
    "tanh_sqrt": (lambda xp: lambda x: xp.sqrt(xp.tanh(x) ** 2 + 1.0), "sqrt"),
    "sum": (lambda xp: lambda x: xp.sum(x * x), "sum"),
    "sum_axis": (lambda xp: lambda x: xp.sum(xp.reshape(x, (2, 2)), axis=1), "sum"),
    "mean": (lambda xp: lambda x: xp.mean(x ** 3), "mean"),
    "prod": (lambda xp: lambda x: xp.prod(x), "prod"),
    "max": (lambda xp: lambda x: xp.max(x) * x, "max"),
    "reshape": (lambda xp: lambda x: xp.reshape(x, (2, 2)) @ np.ones((2, 3)), "reshape"),
    "transpose": (lambda xp: lambda x: xp.transpose(xp.reshape(x, (2, 2)) * np.arange(2.0)),
                  "transpose"),
    "concatenate": (lambda xp: lambda x: xp.concatenate([x, x ** 2, np.ones(2)]), "concatenate"),
    "stack": (lambda xp: lambda x: xp.stack([x, np.ones(4), xp.cos(x)], axis=1), "stack"),
    "dot": (lambda xp: lambda x: xp.dot(x, x), "matmul"),
    "matmul": (lambda xp: lambda x: xp.matmul(M34, x), "matvec"),
    "outer": (lambda xp: lambda x: xp.outer(x, x[:2]), "mul"),
    "maximum": (lambda xp: lambda x: xp.maximum(x, 0.5), "maximum"),
    "minimum": (lambda xp: lambda x: xp.minimum(x[::-1], x), "minimum"),
    "abs": (lambda xp: lambda x: xp.abs(x) * xp.absolute(x - 5.0), "abs"),
    "square_reciprocal": (lambda xp: lambda x: xp.square(x) + xp.reciprocal(x), "reciprocal"),
    "power": (lambda xp: lambda x: xp.power(x * x + 1.0, 1.5), "power_const"),
    "where": (lambda xp: lambda x: xp.where(X > 0, x ** 2, -x), "where"),
    "clip": (lambda xp: lambda x: xp.clip(x, -1.0, 1.0), "clip"),
    "cumsum": (lambda xp: lambda x: xp.cumsum(x), "cumsum"),
    "take": (lambda xp: lambda x: xp.take(x, np.array([3, 0, 0])), "take"),
    "flip": (lambda xp: lambda x: xp.flip(x) * x, "flip"),
    "expand_squeeze": (lambda xp: lambda x: xp.squeeze(xp.expand_dims(x, 0) * 2.0), "squeeze"),
    "moveaxis": (lambda xp: lambda x: xp.moveaxis(xp.reshape(x, (1, 2, 2)), 0, -1), "transpose"),
    "broadcast_to": (lambda xp: lambda x: xp.broadcast_to(x, (2, 4)), "broadcast_to"),
    "hstack_vstack": (lambda xp: lambda x: xp.vstack([x, xp.hstack([x[:2], x[2:]])]), "concatenate"),
}


@pytest.mark.parametrize("name", list(NUMPY_FUNCS))
def test_numpy_function_on_traced_value(name):
    make, prim = NUMPY_FUNCS[name]
    check_all_modes(make(np), X, jf=make(jnp))
    with dt.count() as c:
        dt.grad(lambda x: dnp.sum(make(np)(x)))(X)
    assert c.by_name[prim] >= 1, f"numpy call did not reach primitive {prim!r}: {dict(c.by_name)}"


def test_numpy_ufunc_on_scalar_traced_values():
    f = lambda x: np.sin(x) * np.exp(x) + np.float64(1.0) * x
    got_jvp = dt.jvp(f, (0.3,), (1.0,))[1]
    got_grad = dt.grad(f)(0.3)
    ref = math.cos(0.3) * math.exp(0.3) + math.sin(0.3) * math.exp(0.3) + 1.0
    assert math.isclose(got_jvp, ref, rel_tol=1e-14) and math.isclose(got_grad, ref, rel_tol=1e-14)


UNSUPPORTED = {
    "fft": (lambda x: np.fft.fft(x), "fft"),
    "tensorinv": (lambda x: np.linalg.tensorinv(np.reshape(x, (2, 2)), ind=1), "tensorinv"),
    "unwrap": (lambda x: np.unwrap(x), "unwrap"),
    "histogram": (lambda x: np.histogram(x)[0], "histogram"),
    "ufunc_method": (lambda x: np.add.reduce(x), "add.reduce"),
    "ufunc_out": (lambda x: np.sin(x, out=np.zeros(4)), "sin"),
    "unknown_ufunc": (lambda x: np.spacing(x), "spacing"),
}


@pytest.mark.parametrize("mode", ["jvp", "grad"])
@pytest.mark.parametrize("name", list(UNSUPPORTED))
def test_unsupported_numpy_function_raises_type_error_naming_it(name, mode):
    f, fname = UNSUPPORTED[name]
    g = lambda x: dnp.sum(f(x))
    with pytest.raises(TypeError, match=fname.replace(".", r"\.")):
        if mode == "jvp":
            dt.jvp(g, (X,), (np.ones(4),))
        else:
            dt.grad(g)(X)


@pytest.mark.parametrize("convert", [np.asarray, np.array])
@pytest.mark.parametrize("mode", ["jvp", "grad"])
def test_conversion_to_numpy_array_raises(convert, mode):
    g = lambda x: dnp.sum(convert(x))
    with pytest.raises(TypeError, match="cannot be converted to a NumPy array"):
        if mode == "jvp":
            dt.jvp(g, (X,), (np.ones(4),))
        else:
            dt.grad(g)(X)


def test_operators_keep_float32():
    x = X.astype(np.float32)

    def f(v):
        return (2.0 * v + 1.0) / (v * v + 1.0) - v ** 2 + abs(v) @ np.ones((4, 2), np.float32)[:, :1]

    out, t = dt.jvp(f, (x,), (np.ones(4, np.float32),))
    (g,) = dt.vjp(f, x)[1](np.ones(4, np.float32))
    assert out.dtype == t.dtype == g.dtype == np.float32


@pytest.mark.parametrize("mode", ["grad", "jacfwd"])
def test_matrix_transpose_real_imag_any_all_on_traced_values(mode):
    x = np.random.default_rng(5).uniform(size=(2, 3, 4))
    w = np.arange(12.0).reshape(4, 3)
    flags = []

    def f(a, xp):
        if xp is dnp:
            flags.append((a.any(), a.all(axis=0).shape, (a > 2.0).any()))
        return xp.sum(a.mT * w) + xp.sum(a.real ** 2) + xp.sum(a.imag)

    got = getattr(dt, mode)(lambda a: f(a, dnp))(x)
    ref = jax.grad(lambda a: f(a, jnp))(x)
    np.testing.assert_allclose(got, ref)
    assert flags[0] == (True, (3, 4), False)


@pytest.mark.parametrize("index", [None, (), Ellipsis, (Ellipsis, None), (None, None)])
def test_indexing_a_traced_python_float_as_numpy_indexes_a_0d_array(index):
    # was: TypeError 'float' object is not subscriptable (np.float64 and 0-d arrays worked)
    f = lambda s: dnp.sum(s[index] * 3.0)  # noqa: E731
    assert dt.grad(f)(1.5) == dt.jvp(f, (1.5,), (1.0,))[1] == dt.jacfwd(f)(1.5) == 3.0
    assert np.shape(dt.jvp(lambda s: s[index], (1.5,), (1.0,))[0]) == np.shape(np.float64(1.5)[index])


def test_builtin_round_and_numpy_divmod_on_traced_values():
    assert dt.grad(lambda x: round(x) * x)(2.3) == pytest.approx(2.0)  # jax.grad gives 2.0
    assert dt.grad(lambda v: divmod(np.float64(5.0), v)[1])(2.0) == pytest.approx(-2.0)
    x = np.array([1.3, 2.9])
    got = dt.grad(lambda v: dnp.sum(np.divmod(v, 0.7)[1]))(x)
    ref = jax.grad(lambda v: jnp.sum(jnp.divmod(v, 0.7)[1]))(jnp.asarray(x))
    assert np.allclose(got, ref)
