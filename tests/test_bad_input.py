"""Misuse raises an error of the right type whose message names the problem."""

from __future__ import annotations

import re

import numpy as np
import pytest

import dualtape as dt
import dualtape.numpy as dnp

SQ = lambda x: dnp.sum(x * x)  # noqa: E731


def _each_transform(f, x):
    """Call ``f`` at ``x`` through every transformation; yields (name, thunk)."""
    return {
        "grad": lambda: dt.grad(f)(x),
        "value_and_grad": lambda: dt.value_and_grad(f)(x),
        "jvp": lambda: dt.jvp(f, (x,), (x,)),
        "vjp": lambda: dt.vjp(f, x),
        "jacfwd": lambda: dt.jacfwd(f)(x),
        "jacrev": lambda: dt.jacrev(f)(x),
        "hessian": lambda: dt.hessian(f)(x),
    }


TRANSFORMS = ["grad", "value_and_grad", "jvp", "vjp", "jacfwd", "jacrev", "hessian"]

# ---------------------------------------------------------------- non-scalar outputs for grad


@pytest.mark.parametrize("how", ["grad", "value_and_grad", "hvp"])
@pytest.mark.parametrize("f, x, shown", [
    (lambda x: x * 2.0, np.ones(3), r"\(3,\)"),
    (lambda x: x[:1], np.ones(3), r"\(1,\)"),
    (lambda x: dnp.reshape(x, (3, 1)) * 2.0, np.ones(3), r"\(3, 1\)"),
    (lambda x: (dnp.sum(x), dnp.sum(x)), np.ones(3), "2 outputs"),
])
def test_grad_of_non_scalar_output(how, f, x, shown):
    with pytest.raises(TypeError, match="scalar") as info:
        if how == "hvp":
            dt.hvp(f, (x,), (x,))
        else:
            getattr(dt, how)(f)(x)
    assert info.match(shown)


def test_grad_of_integer_output():
    with pytest.raises(TypeError, match="floating-point output"):
        dt.grad(lambda x: 3)(1.0)


# ---------------------------------------------------------------- tangents and cotangents


def test_tangent_shape_mismatch():
    with pytest.raises(ValueError, match=r"tangent 0: shape \(3,\) does not match the primal's shape \(2,\)"):
        dt.jvp(SQ, (np.ones(2),), (np.ones(3),))


def test_tangent_shape_mismatch_in_second_argument():
    with pytest.raises(ValueError, match=r"tangent 1: shape \(2, 2\) does not match .*\(4,\)"):
        dt.jvp(lambda x, y: x * dnp.sum(y), (1.0, np.ones(4)), (1.0, np.ones((2, 2))))


def test_tangent_for_scalar_primal_must_be_scalar():
    with pytest.raises(ValueError, match=r"shape \(1,\) does not match the primal's shape \(\)"):
        dt.jvp(lambda x: x * 2.0, (1.0,), (np.ones(1),))


def test_tangent_dtype_mismatch():
    with pytest.raises(TypeError, match="dtype float64 does not match the primal's dtype float32"):
        dt.jvp(SQ, (np.ones(2, np.float32),), (np.ones(2),))


@pytest.mark.parametrize("tangent, shown", [
    (np.ones(2, int), "int64"), (np.ones(2, bool), "bool"), (np.ones(2, complex), "complex128")])
def test_tangent_of_non_float_dtype(tangent, shown):
    with pytest.raises(TypeError, match=f"tangent 0: dtype {shown} is not a floating-point dtype"):
        dt.jvp(SQ, (np.ones(2),), (tangent,))


@pytest.mark.parametrize("primal, tangent", [(1.0, np.float32(1.0)), (np.float32(1.0), 1.0)])
def test_tangent_dtype_mismatch_with_python_float(primal, tangent):
    with pytest.raises(TypeError, match="dtype"):
        dt.jvp(lambda x: x * 2.0, (primal,), (tangent,))


def test_tangent_structure_mismatch():
    with pytest.raises(ValueError, match="structure"):
        dt.jvp(lambda p: p[0] * p[1], ((1.0, 2.0),), ([1.0, 2.0],))
    with pytest.raises(ValueError, match="structure"):
        dt.jvp(lambda d: d["a"], ({"a": 1.0},), ({"b": 1.0},))


def test_tangent_count_mismatch():
    with pytest.raises(ValueError, match="got 2 tangents for 1 primals"):
        dt.jvp(SQ, (np.ones(2),), (np.ones(2), np.ones(2)))


def test_jvp_primals_must_be_a_sequence():
    with pytest.raises(TypeError, match="primals: expected a tuple or list"):
        dt.jvp(SQ, np.ones(2), (np.ones(2),))
    with pytest.raises(TypeError, match="tangents: expected a tuple or list"):
        dt.jvp(SQ, (np.ones(2),), np.ones(2))


def test_no_primals():
    with pytest.raises(ValueError, match="at least one"):
        dt.jvp(lambda: 1.0, (), ())
    with pytest.raises(ValueError, match="at least one"):
        dt.vjp(lambda: 1.0)


def test_cotangent_shape_mismatch():
    _, vjp_fn = dt.vjp(lambda x: x * 2.0, np.ones(2))
    with pytest.raises(ValueError, match=r"cotangent.*shape \(3,\) does not match.*\(2,\)"):
        vjp_fn(np.ones(3))
    _, vjp_fn = dt.vjp(lambda x: dnp.sum(x), np.ones(2))
    with pytest.raises(ValueError, match=r"cotangent.*shape \(2,\) does not match.*\(\)"):
        vjp_fn(np.ones(2))


def test_cotangent_shape_mismatch_names_the_output_leaf():
    _, vjp_fn = dt.vjp(lambda x: (x, dnp.sum(x)), np.ones(2))
    with pytest.raises(ValueError, match=r"output leaf 1"):
        vjp_fn((np.ones(2), np.ones(2)))


def test_cotangent_dtype_mismatch():
    _, vjp_fn = dt.vjp(lambda x: x * 2.0, np.ones(2))
    with pytest.raises(TypeError, match="dtype float32 does not match"):
        vjp_fn(np.ones(2, np.float32))
    with pytest.raises(TypeError, match="int64 is not a floating-point dtype"):
        vjp_fn(np.ones(2, int))


def test_structure_messages_tell_a_one_tuple_and_a_namedtuple_apart():
    import collections

    pair = collections.namedtuple("Pair", "w b")
    _, pullback = dt.vjp(lambda a: (a * 2.0, a), np.ones(2))
    with pytest.raises(ValueError, match=re.escape("structure (*,) does not match the output (*, *)")):
        pullback((np.ones(2),))
    message = "structure ((*, *),) does not match primals (Pair(*, *),)"
    with pytest.raises(ValueError, match=re.escape(message)):
        dt.jvp(lambda p: p.w * p.b, (pair(1.0, 2.0),), ((1.0, 1.0),))


def test_cotangent_structure_mismatch():
    _, vjp_fn = dt.vjp(lambda x: {"a": x, "b": x}, np.ones(2))
    with pytest.raises(ValueError, match="cotangent: structure"):
        vjp_fn({"a": np.ones(2)})
    with pytest.raises(ValueError, match="cotangent: structure"):
        vjp_fn((np.ones(2), np.ones(2)))


# ---------------------------------------------------------------- unsupported argument types


@pytest.mark.parametrize("how", TRANSFORMS)
@pytest.mark.parametrize("arg, shown", [
    ("abc", "unsupported type str"),
    (object(), "unsupported type object"),
    ({1.0, 2.0}, "unsupported type set"),
    (np.array(["a"]), "unsupported dtype"),
    (np.array([1.0], dtype=object), "unsupported dtype object"),
    ({"w": np.ones(2), "name": "layer"}, "unsupported type str"),
])
def test_argument_of_unsupported_type(how, arg, shown):
    with pytest.raises(TypeError, match=shown):
        _each_transform(lambda x: x, arg)[how]()


@pytest.mark.parametrize("how", ["grad", "jvp", "vjp", "jacfwd"])
def test_none_argument_is_rejected(how):
    with pytest.raises(TypeError, match="None"):
        _each_transform(lambda x: dnp.sum(x), None)[how]()


@pytest.mark.parametrize("how", TRANSFORMS)
@pytest.mark.parametrize("arg, shown", [
    (1, "integer 1"),
    (True, "integer True"),
    (np.arange(3), "dtype int64"),
    (np.ones(2, dtype=np.int32), "dtype int32"),
    (np.ones(2, dtype=bool), "dtype bool"),
    (np.uint8(3), "dtype uint8"),
    ([1.0, 2], "integer 2"),
])
def test_integer_and_bool_inputs_ask_for_floats(how, arg, shown):
    with pytest.raises(TypeError, match="floating-point") as info:
        _each_transform(lambda x: x, arg)[how]()
    assert info.match(shown)


@pytest.mark.parametrize("how", TRANSFORMS)
@pytest.mark.parametrize("arg", [1j, 1.0 + 0j, np.ones(2, complex), np.complex64(1.0),
                                 {"z": np.ones(2, np.complex64)}])
def test_complex_inputs_are_not_implemented(how, arg):
    with pytest.raises(NotImplementedError, match="complex"):
        _each_transform(lambda x: x, arg)[how]()


COMPLEX_OUTPUTS = {
    "python_float_times_1j": (lambda x: x * 1j, 1.0),
    "array_times_complex": (lambda x: dnp.sum(x * np.ones(1, complex)), np.ones(1)),
    "constant_complex_array": (lambda x: np.ones(1, complex), np.ones(1)),
}


@pytest.mark.parametrize("name, how", [
    (n, h) for n in COMPLEX_OUTPUTS for h in ["grad", "jvp", "vjp", "jacfwd", "jacrev"]])
def test_complex_outputs_are_rejected_naming_complex(name, how):
    f, x = COMPLEX_OUTPUTS[name]
    with pytest.raises((NotImplementedError, TypeError), match="complex"):
        _each_transform(f, x)[how]()


# ---------------------------------------------------------------- argnums


ARGNUMS_TRANSFORMS = [dt.grad, dt.value_and_grad, dt.jacfwd, dt.jacrev, dt.hessian]


@pytest.mark.parametrize("transform", ARGNUMS_TRANSFORMS, ids=lambda t: t.__name__)
@pytest.mark.parametrize("argnums, shown", [
    (2, "2 is out of range for a function called with 2 positional"),
    (-3, "-3 is out of range"),
    ((0, 5), "5 is out of range"),
])
def test_argnums_out_of_range(transform, argnums, shown):
    with pytest.raises(ValueError, match=f"argnums: {shown}"):
        transform(lambda x, y: x * y, argnums=argnums)(1.0, 2.0)


@pytest.mark.parametrize("transform", ARGNUMS_TRANSFORMS, ids=lambda t: t.__name__)
@pytest.mark.parametrize("argnums", ["0", 0.0, True, None, (), (0, "1"), (0, 1.0), {0: 1}])
def test_argnums_of_wrong_type(transform, argnums):
    with pytest.raises(TypeError, match="argnums: expected"):
        transform(lambda x, y: x * y, argnums=argnums)(1.0, 2.0)


def test_argnums_repeated():
    with pytest.raises(ValueError, match="argnums: repeated"):
        dt.grad(lambda x, y: x * y, argnums=(0, 0))(1.0, 2.0)
    with pytest.raises(ValueError, match="argnums: repeated"):
        dt.grad(lambda x, y: x * y, argnums=(1, -1))(1.0, 2.0)


def test_argnums_with_keyword_only_call():
    with pytest.raises(ValueError, match="0 positional"):
        dt.grad(lambda x=1.0: x)(x=1.0)


# ---------------------------------------------------------------- function outputs


@pytest.mark.parametrize("how", TRANSFORMS)
@pytest.mark.parametrize("out, shown", [
    ("abc", "returned str"),
    (object(), "returned object"),
    ({1.0}, "returned set"),
    ({"loss": "high"}, "returned str"),
])
def test_function_returning_a_non_array(how, out, shown):
    with pytest.raises(TypeError, match=shown):
        _each_transform(lambda x: out, np.ones(2))[how]()


@pytest.mark.parametrize("how", TRANSFORMS)
def test_function_returning_a_non_array_next_to_a_traced_value(how):
    with pytest.raises(TypeError, match="output leaf 1: the function returned str"):
        _each_transform(lambda x: (dnp.sum(x), "note"), np.ones(2))[how]()


# ---------------------------------------------------------------- chunk


@pytest.mark.parametrize("transform", [dt.jacfwd, dt.jacrev], ids=["jacfwd", "jacrev"])
@pytest.mark.parametrize("chunk", [0, -1, "a", 1.5, True, [2]])
def test_bad_chunk(transform, chunk):
    with pytest.raises(ValueError, match=f"chunk: expected None or a positive int, got {chunk!r}"
                       .replace("[", r"\[").replace("]", r"\]")):
        transform(SQ, chunk=chunk)


# ---------------------------------------------------------------- axes and shapes


REDUCTIONS = [dnp.sum, dnp.mean, dnp.max, dnp.min, dnp.prod, dnp.logsumexp]


@pytest.mark.parametrize("traced", [False, True])
@pytest.mark.parametrize("red", REDUCTIONS, ids=lambda r: r.__name__)
@pytest.mark.parametrize("axis, err, shown", [
    (2, ValueError, "axis 2 is out of bounds for an array of rank 2"),
    (-3, ValueError, "axis -3 is out of bounds"),
    ((0, 2), ValueError, "axis 2 is out of bounds"),
    ((0, 0), ValueError, "repeated axis"),
    ((1, -1), ValueError, "repeated axis"),
    ("0", TypeError, "axis: expected an int or a tuple of ints"),
    (True, TypeError, "axis: expected an int"),
    ((0, None), TypeError, "axis: expected an int"),
])
def test_bad_axis_to_reduction(red, axis, err, shown, traced):
    x = np.ones((2, 3))
    with pytest.raises(err, match=shown):
        if traced:
            dt.grad(lambda a: dnp.sum(red(a, axis=axis)))(x)
        else:
            red(x, axis=axis)


def test_float_axis_to_sum_names_the_axis():
    with pytest.raises(TypeError, match="axis"):
        dnp.sum(np.ones((2, 3)), axis=1.0)


@pytest.mark.parametrize("fn, shown", [
    (lambda x: dnp.cumsum(x, axis=2), "axis 2 is out of bounds"),
    (lambda x: dnp.cumsum(x, axis="0"), "axis: expected an int"),
    (lambda x: dnp.softmax(x, axis=2), "axis 2 is out of bounds"),
    (lambda x: dnp.log_softmax(x, axis=-3), "axis -3 is out of bounds"),
    (lambda x: dnp.concatenate([x, x], axis=2), "axis 2 is out of bounds"),
    (lambda x: dnp.stack([x, x], axis=3), "axis 3 is out of bounds"),
    (lambda x: dnp.take(x, np.array([0]), axis=5), "axis 5 is out of bounds"),
    (lambda x: dnp.squeeze(x, axis=0), "axis -2 has size 2, not 1"),
    (lambda x: dnp.transpose(x, (0, 0)), r"axes: \(0, 0\) is not a permutation"),
    (lambda x: dnp.moveaxis(x, 0, 2), "destination: axis 2 is out of bounds"),
])
def test_bad_axis_to_other_functions(fn, shown):
    x = np.ones((2, 3))
    with pytest.raises((ValueError, TypeError), match=shown):
        fn(x)
    with pytest.raises((ValueError, TypeError), match=shown):
        dt.grad(lambda a: dnp.sum(fn(a)))(x)


@pytest.mark.parametrize("traced", [False, True])
@pytest.mark.parametrize("fn, shown", [
    (lambda x: dnp.reshape(x, (4,)), r"cannot reshape size 6 into shape \(4,\)"),
    (lambda x: dnp.reshape(x, (4, -1)), r"cannot reshape size 6 into shape \(4, -1\)"),
    (lambda x: dnp.reshape(x, (-1, -1)), "at most one -1"),
    (lambda x: dnp.reshape(x, 5), r"cannot reshape size 6 into shape \(5,\)"),
    (lambda x: dnp.reshape(dnp.ravel(x), (2, 2)), r"cannot reshape size 6 into shape \(2, 2\)"),
])
def test_reshape_to_incompatible_shape(fn, shown, traced):
    x = np.ones((2, 3))
    with pytest.raises(ValueError, match=shown):
        if traced:
            dt.grad(lambda a: dnp.sum(fn(a)))(x)
        else:
            fn(x)


def test_reshape_method_on_traced_value():
    with pytest.raises(ValueError, match=r"cannot reshape size 6 into shape \(4, 2\)"):
        dt.jvp(lambda a: a.reshape(4, 2), (np.ones((2, 3)),), (np.ones((2, 3)),))


@pytest.mark.parametrize("fn, err, shown", [
    (lambda x: dnp.broadcast_to(x, (3, 2)), ValueError, r"cannot broadcast shape \(2, 3\) to \(3, 2\)"),
    (lambda x: dnp.matmul(x[0, 0], x), ValueError, "at least one axis"),
    (lambda x: dnp.clip(x), ValueError, "at least one of a_min and a_max"),
    (lambda x: dnp.concatenate([]), ValueError, "need at least one array"),
    (lambda x: dnp.stack([]), ValueError, "need at least one array"),
    (lambda x: dnp.take(x, np.array([0.5])), TypeError, "indices must be integers"),
    (lambda x: x[np.array([0.5])], IndexError, "integer or boolean"),
    (lambda x: dnp.reshape(x, (1, 2, 3))[np.array([0]), :, np.array([0]), :], IndexError,
     "too many indices"),
])
def test_other_shape_errors_on_traced_values(fn, err, shown):
    with pytest.raises(err, match=shown):
        dt.grad(lambda a: dnp.sum(fn(a)))(np.ones((2, 3)))


# ---------------------------------------------------------------- has_aux


@pytest.mark.parametrize("how", ["grad", "value_and_grad", "jvp", "vjp"])
@pytest.mark.parametrize("out", [
    lambda x: dnp.sum(x),
    lambda x: (dnp.sum(x),),
    lambda x: (dnp.sum(x), 1.0, 2.0),
    lambda x: {"loss": dnp.sum(x), "aux": 1.0},
], ids=["bare", "one_tuple", "triple", "dict"])
def test_has_aux_with_a_non_pair(how, out):
    x = np.ones(2)
    with pytest.raises(TypeError, match=r"has_aux=True requires the function to return a pair"):
        if how in ("grad", "value_and_grad"):
            getattr(dt, how)(out, has_aux=True)(x)
        elif how == "jvp":
            dt.jvp(out, (x,), (x,), has_aux=True)
        else:
            dt.vjp(out, x, has_aux=True)


def test_has_aux_accepts_a_list_pair():
    g, aux = dt.grad(lambda x: [dnp.sum(x * x), 5.0], has_aux=True)(np.ones(2))
    np.testing.assert_array_equal(g, [2.0, 2.0])
    assert aux == 5.0


def test_tangent_mismatch_in_a_pytree_names_its_argument_and_leaf():
    # leaf 2 of the flattened primals is leaf 1 of argument 1, not "tangent 2"
    with pytest.raises(ValueError, match=r"tangent 1 \(leaf 1\): shape \(2,\) does not match .*\(3,\)"):
        dt.jvp(lambda x, d: x * d["a"], (1.0, {"a": np.ones(2), "b": np.ones(3)}),
               (1.0, {"a": np.ones(2), "b": np.ones(2)}))
    with pytest.raises(TypeError, match=r"tangent 1 \(leaf 0\): dtype float32"):
        dt.jvp(lambda n, p: p[0], (None, (np.ones(2), 1.0)), (None, (np.ones(2, np.float32), 1.0)))
