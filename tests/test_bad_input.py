"""Misuse raises an error of the right type whose message names the problem."""

from __future__ import annotations

import collections
import re
import warnings

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


def _call(fn, x, traced, err, shown):
    """``fn(x)``, or ``fn`` inside ``dt.grad`` when ``traced``, must raise ``err`` showing ``shown``."""
    with pytest.raises(err, match=shown):
        if traced:
            dt.grad(lambda a: dnp.sum(fn(a)))(x)
        else:
            fn(x)


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


_MIXED = {1: 1.0, "a": 2.0}
_SORTING = r"has keys that cannot be sorted \(1 \(int\), 'a' \(str\)\); pytrees order"


@pytest.mark.parametrize("how", [*TRANSFORMS, "jacobian"])
def test_dict_with_keys_of_mixed_types_names_the_argument(how):
    # was: Python's bare "'<' not supported between instances of 'str' and 'int'"
    f = lambda d: d[1] * d["a"]  # noqa: E731
    name = "primal 0" if how == "jvp" else "argument 0"  # jvp's arguments are its primals
    with pytest.raises(TypeError, match=f"{name}: the dict {_SORTING}"):
        if how == "jacobian":
            dt.jacobian(f)(_MIXED)
        else:
            _each_transform(f, _MIXED)[how]()


def test_dict_with_keys_of_mixed_types_deeper_or_returned_says_where():
    x = np.ones(2)
    nested = {"w": x, "layers": [x, {"b": x, 1: x, "a": x}]}
    with pytest.raises(TypeError, match=r"argument 1: the dict at \['layers'\]\[1\] has keys"):
        dt.grad(lambda s, p: s * dnp.sum(p["w"]), argnums=(0, 1))(1.0, nested)
    with pytest.raises(TypeError, match=f"output: the dict {_SORTING}"):
        dt.jacrev(lambda a: {1: a, "a": a})(x)
    with pytest.raises(TypeError, match=f"aux: the dict {_SORTING}"):
        dt.grad(lambda a: (dnp.sum(a), {1: a, "a": a}), has_aux=True)(x)
    # an OrderedDict keeps its insertion order: mixed keys are fine there
    od = collections.OrderedDict([(1, 1.0), ("a", 2.0)])
    assert list(dt.grad(lambda d: d[1] * d["a"])(od).values()) == [2.0, 1.0]


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
    _call(fn, np.ones((2, 3)), traced, ValueError, shown)


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


# ---------------------------------------------------------------- functions that are not callable


@pytest.mark.parametrize("how", [
    lambda f: dt.grad(f), lambda f: dt.value_and_grad(f), lambda f: dt.jacfwd(f),
    lambda f: dt.jacrev(f), lambda f: dt.hessian(f), lambda f: dt.hessian(f, mode="auto"),
    lambda f: dt.jacobian(f), lambda f: dt.jacobian(f, mode="rev"),
    lambda f: dt.jvp(f, (1.0,), (1.0,)), lambda f: dt.vjp(f, 1.0),
    lambda f: dt.hvp(f, (1.0,), (1.0,)), lambda f: dt.choose_mode(f, 1.0),
], ids=["grad", "value_and_grad", "jacfwd", "jacrev", "hessian", "hessian_auto", "jacobian",
        "jacobian_rev", "jvp", "vjp", "hvp", "choose_mode"])
@pytest.mark.parametrize("fun, shown", [(3, "int 3"), (None, "NoneType"), (np.ones(2), "ndarray")])
def test_function_that_is_not_callable(how, fun, shown):
    with pytest.raises(TypeError, match=f"fun: expected a callable, got {shown}"):
        how(fun)


def test_choose_mode_refuses_a_model_that_is_not_a_cost_model():
    with pytest.raises(TypeError, match="model: expected a CostModel or None, got str"):
        dt.choose_mode(SQ, np.ones(2), model="fast")  # was: 'str' object has no attribute 'gamma'


# ---------------------------------------------------------------- check_grads options


@pytest.mark.parametrize("kwargs, err, shown", [
    ({"order": 0}, ValueError, "order: expected a positive int, got 0"),
    ({"order": 1.5}, ValueError, "order: expected a positive int, got 1.5"),
    ({"modes": ("bogus",)}, ValueError, r"modes: expected a non-empty tuple of 'fwd' and 'rev'"),
    ({"modes": ()}, ValueError, r"modes: expected a non-empty tuple"),
    ({"eps": 0.0}, ValueError, "eps: expected a positive finite step, got 0.0"),
    ({"eps": float("nan")}, ValueError, "eps: expected a positive finite step, got nan"),
    ({"args": np.ones(2)}, TypeError, "args: expected a tuple or list of arguments, got ndarray"),
    ({"f": "SQ"}, TypeError, "f: expected a callable, got str"),
])
def test_check_grads_refuses_options_that_check_nothing(kwargs, err, shown):
    call = {"f": SQ, "args": (np.ones(2),), **kwargs}
    with pytest.raises(err, match=shown):
        dt.check_grads(**call)


@pytest.mark.parametrize("check", [
    lambda **kw: dt.check_grads(SQ, (np.ones(2),), **kw),
    lambda **kw: dt.check_against_jax(SQ, np.ones(2), **kw),  # rtol='a' failed on reading .ok
])
@pytest.mark.parametrize("kwargs, err, shown", [
    ({"seed": "a"}, TypeError, "seed: expected a non-negative int, a numpy Generator or None, "
     "got 'a'"),
    ({"rtol": "a"}, ValueError, "rtol: expected a non-negative finite number, got 'a'"),
    ({"rtol": -1.0}, ValueError, "rtol: expected a non-negative finite number, got -1.0"),
])
def test_checks_refuse_bad_tolerances_and_seeds(check, kwargs, err, shown):
    with pytest.raises(err, match=shown):
        check(**kwargs)


def test_check_grads_refuses_a_bad_atol():
    with pytest.raises(ValueError, match="atol: expected a non-negative finite number, got -1.0"):
        dt.check_grads(SQ, (np.ones(2),), atol=-1.0)


def test_check_grads_at_a_nan_input_agrees_nan_with_nan():
    # was: AssertionError "forward mode vs finite differences: nan != nan"
    dt.check_grads(SQ, (np.array([np.nan, 1.0]),), order=1)


def test_check_grads_takes_one_mode_by_name():
    dt.check_grads(SQ, (np.ones(2),), order=1, modes="rev")


# ---------------------------------------------------------------- Value


@pytest.mark.parametrize("make, err, shown", [
    (lambda: dt.Value(np.complex128(3 + 2j)), TypeError, "data: .* got complex128"),
    (lambda: dt.Value(np.array(1.0 + 1j)), TypeError, "data: .* got ndarray of dtype complex128"),
    (lambda: dt.Value(np.array("3.0")), TypeError, "data: .* got ndarray of dtype <U3"),
    (lambda: dt.Value(np.True_), TypeError, "data: expected a real number or a Value, got bool"),
    (lambda: dt.Value(2.0) * np.complex64(1j), TypeError, "operand of mul: .* got complex64"),
    (lambda: dt.Value(2.0) ** np.complex128(2), TypeError, "exponent: .* got complex128"),
    (lambda: dt.Value(1.0, tangent=np.complex128(1)), TypeError, "tangent: .* got complex128"),
    (lambda: dt.Value(10 ** 400), ValueError, r"data: int too large for a float \(above 1.8e308\)"),
    (lambda: (dt.Value(2.0) * 3.0).backward("a"), TypeError, "gradient: expected a real number"),
])
def test_value_refuses_what_is_not_one_real_number(make, err, shown):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # NumPy's ComplexWarning was the only sign before
        with pytest.raises(err, match=shown):
            make()


def test_value_backward_takes_a_numpy_gradient():
    x = dt.Value(2.0)
    (x * 3.0).backward(np.float32(2.0))
    assert x.grad == 6.0 and type(x.grad) is float


# ---------------------------------------------------------------- sparse Jacobians and Hessians


def _coloring(colors, n_colors=1, mode="fwd"):
    from dualtape.sparse import Coloring

    return Coloring(colors=colors, n_colors=n_colors, mode=mode)


@pytest.mark.parametrize("kwargs, err, shown", [
    ({"sparsity": np.array([["a", ""]] * 2)}, TypeError,
     "sparsity: expected a boolean or numeric array, got dtype <U1"),
    ({"sparsity": np.array([[None, 1]] * 2)}, TypeError, "sparsity: .* got dtype object"),
    ({"coloring": [0, 1]}, TypeError, "coloring: expected a Coloring, got list"),
    ({"sparsity": np.eye(2), "coloring": _coloring([0, 0])}, TypeError,
     "coloring: colors must be a NumPy array of ints, got list"),
    ({"sparsity": np.eye(2), "coloring": _coloring(np.zeros(2))}, TypeError,
     "coloring: colors must be .* got ndarray of dtype float64"),
    ({"sparsity": np.eye(2), "coloring": _coloring(np.zeros(2, dtype=bool))}, TypeError,
     "coloring: colors must be .* dtype bool"),
    ({"sparsity": np.eye(2), "coloring": _coloring(np.zeros(2, dtype=int), "1")}, TypeError,
     "coloring: n_colors must be a non-negative int, got '1'"),
    ({"sparsity": np.eye(2), "coloring": _coloring(np.zeros(2, dtype=int), 1.0)}, TypeError,
     "coloring: n_colors must be a non-negative int, got 1.0"),
])
def test_sparse_jacobian_bad_pattern_or_coloring(kwargs, err, shown):
    pytest.importorskip("scipy")
    with pytest.raises(err, match=shown):
        dt.sparse_jacobian(lambda x: x * 2.0, **kwargs)(np.ones(2))


@pytest.mark.parametrize("kwargs, err, shown", [
    ({"sparsity": np.ones((2, 3))}, ValueError,
     r"sparsity: a Hessian pattern must be square, got shape \(2, 3\)"),
    ({"coloring": (0, 0)}, TypeError, "coloring: expected a Coloring, got tuple"),
    ({"sparsity": np.eye(2), "coloring": _coloring(np.zeros(2), mode="sym")}, TypeError,
     "coloring: colors must be a NumPy array of ints"),
])
def test_sparse_hessian_bad_pattern_or_coloring(kwargs, err, shown):
    pytest.importorskip("scipy")
    with pytest.raises(err, match=shown):
        dt.sparse_hessian(SQ, **kwargs)(np.ones(2))


def test_check_coloring_refuses_an_unknown_mode():
    pytest.importorskip("scipy")
    from dualtape.sparse.coloring import check_coloring

    with pytest.raises(ValueError, match="coloring: mode must be 'fwd', 'rev' or 'sym', got 'up'"):
        check_coloring(np.eye(2), _coloring(np.zeros(2, dtype=int), mode="up"))


# ---------------------------------------------------------------- counts and orders of dualtape.numpy


@pytest.mark.parametrize("traced", [False, True])
@pytest.mark.parametrize("fn, err, shown", [
    (lambda a: dnp.tile(a, -1), ValueError, r"tile: reps must be non-negative, got \(-1,\)"),
    (lambda a: dnp.tile(a, (2, -2)), ValueError, r"tile: reps must be non-negative"),
    (lambda a: dnp.repeat(a, -1), ValueError, "repeat: repeats must be non-negative, got -1"),
    (lambda a: dnp.repeat(a, None), TypeError, "repeats: expected an int or a sequence of ints"),
    (lambda a: dnp.repeat(a, "2"), TypeError, "repeats: expected an int or a sequence of ints"),
    (lambda a: dnp.diff(a, n=1.5), TypeError, "n: expected an int, got 1.5"),
    (lambda a: dnp.sort(a, axis=3), ValueError, "axis: axis 3 is out of bounds for rank 1"),
    (lambda a: dnp.sort(a, axis=0.0), TypeError, "axis: expected an int, got 0.0"),
])
def test_bad_counts_and_orders(fn, err, shown, traced):
    _call(fn, np.arange(4.0), traced, err, shown)


# ---------------------------------------------------------------- NumPy integers as counts


def test_checkpoint_loop_takes_numpy_integers():
    step = dnp.sin  # "n_steps: expected an int >= 0, got np.int64(5)" before
    want = dt.grad(lambda x: dt.checkpoint_loop(step, x, 5, snapshots=2))(0.5)
    got = dt.grad(lambda x: dt.checkpoint_loop(step, x, np.int64(5), snapshots=np.int32(2)))(0.5)
    assert got == want
    got = dt.grad(lambda x: dt.checkpoint_loop(step, x, np.int64(5), policy="every",
                                               every=np.int64(2)))(0.5)
    assert got == want
    with pytest.raises(ValueError, match=r"n_steps: expected an int >= 0, got np.int64\(-1\)"):
        dt.checkpoint_loop(step, 0.5, np.int64(-1))


def test_checkpoint_static_argnums_takes_a_numpy_integer():
    f = dt.checkpoint(lambda x, k: x ** k, static_argnums=np.int64(1))
    assert dt.grad(f)(2.0, 3) == 12.0
    with pytest.raises(TypeError, match="static_argnums: expected an int or a tuple"):
        dt.checkpoint(lambda x, k: x ** k, static_argnums=np.float64(1))


# ---------------------------------------------------------------- custom_jvp and custom_vjp


def _cjvp(rule):
    f = dt.custom_jvp(lambda x: dnp.sin(x))
    f.defjvp(rule)
    return f


def _cvjp(fwd, bwd):
    f = dt.custom_vjp(lambda x: dnp.sin(x))
    f.defvjp(fwd, bwd)
    return f


@pytest.mark.parametrize("make, err, shown", [
    (lambda: dt.custom_jvp(3), TypeError, "fun: expected a callable, got int 3"),
    (lambda: dt.custom_vjp(None), TypeError, "fun: expected a callable, got NoneType"),
    (lambda: dt.custom_jvp(dnp.sin).defjvp("rule"), TypeError, "jvp: expected a callable"),
    (lambda: dt.custom_vjp(dnp.sin).defvjp(dnp.sin, 3), TypeError, "bwd: expected a callable"),
    (lambda: dt.jvp(_cjvp(lambda p, t: (dnp.sin(p[0]), "a")), (1.0,), (1.0,)), TypeError,
     r"custom_jvp\(<lambda>\): the JVP rule's tangent_out: got str; expected a float"),
    (lambda: dt.grad(_cjvp(lambda p, t: (dnp.sin(p[0]), np.ones((), complex))))(1.0), TypeError,
     "tangent_out: got ndarray of dtype complex128"),
    (lambda: dt.grad(_cvjp(lambda x: dnp.sin(x), lambda r, g: (g,)))(1.0), TypeError,
     r"custom_vjp\(<lambda>\): fwd must return a pair \(output, residuals\), got float"),
    (lambda: dt.grad(_cvjp(lambda x: (dnp.sin(x), x), lambda r, g: ("a",)))(1.0), TypeError,
     r"custom_vjp\(<lambda>\): bwd's cotangent 0: got str"),
])
def test_custom_rules_that_are_not_functions_or_return_garbage(make, err, shown):
    with pytest.raises(err, match=shown):
        make()


@pytest.mark.parametrize("second, shown", [
    ("s", "argument 1: unsupported type str"),
    (2, "argument 1: got the integer 2"),
    ([2.0, "x"], r"argument 1 \(leaf 1\): unsupported type str"),
])
def test_bad_leaf_under_tuple_argnums_names_its_argument(second, shown):
    # was: "argument (0, 1) (leaf 1)", counting the leaves of every argument together
    with pytest.raises(TypeError, match=shown):
        dt.grad(lambda a, b: a * 2.0, argnums=(0, 1))(1.0, second)


# ---------------------------------------------------------------- the lessons: networks, training, drawings


@pytest.mark.parametrize("make, err, shown", [
    (lambda: dt.nn.Neuron(2.5), TypeError, "n_in: expected a positive int, got 2.5"),
    (lambda: dt.nn.Neuron("3"), TypeError, "n_in: expected a positive int, got '3'"),
    (lambda: dt.nn.MLP(2, 3), TypeError, r"n_outs: expected a sequence of layer sizes"),
    (lambda: dt.nn.MLP(2, [3, -1]), ValueError, "n_outs: expected a positive int, got -1"),
    (lambda: dt.nn.MLP(2, [3], seed="a"), TypeError, "seed: expected a non-negative int, a "
     "numpy Generator or None, got 'a'"),
    (lambda: dt.nn.ArrayMLP(0, [3]), ValueError, "n_in: expected a positive int, got 0"),
    (lambda: dt.nn.ArrayMLP(2, [0]), ValueError, "n_outs: expected a positive int, got 0"),
    (lambda: dt.nn.MLP(2, [1])(1.0), TypeError, "x: expected a sequence of 2 inputs, got float"),
    (lambda: dt.nn.MLP(2, [1])([1.0, 2.0, 3.0]), ValueError, "x: expected 2 inputs, got 3"),
    (lambda: dt.nn.ArrayMLP(2, [1])(np.ones(3)), ValueError,
     r"x: expected shape \(2,\) or \(batch, 2\), got \(3,\)"),
    (lambda: dt.to_dot(dt.Value(1.0) * 2.0, digits=0), ValueError,
     "digits: expected a positive int, got 0"),
    (lambda: dt.to_dot(dt.Value(1.0) * 2.0, digits="4"), ValueError, "digits: .* got '4'"),
])
def test_lesson_networks_and_drawings_refuse_bad_sizes(make, err, shown):
    with pytest.raises(err, match=shown):
        make()


@pytest.mark.parametrize("kwargs, err, shown", [
    ({"steps": -1}, ValueError, "steps: expected an int >= 0, got -1"),  # trained nothing
    ({"steps": 1.5}, ValueError, "steps: expected an int >= 0, got 1.5"),
    ({"lr": "a"}, TypeError, "lr: expected a real number, got 'a'"),
    ({"engines": "jax"}, ValueError, "engines: unknown engine"),
    ({"engines": ["bogus"], "steps": 0}, ValueError, r"engines: unknown engine\(s\) \['bogus'\]"),
])
def test_train_lesson_mlp_refuses_bad_options(kwargs, err, shown):
    from dualtape.lessons.training import train_lesson_mlp

    with pytest.raises(err, match=shown):
        train_lesson_mlp(**{"steps": 1, "engines": (), **kwargs})


# ---------------------------------------------------------------- registered pytree nodes


class _OneField:
    def __init__(self, a):
        self.a = a


class _OneFieldPair(_OneField):
    pass


dt.register_pytree_node(_OneField, lambda p: p.a, lambda aux, ch: _OneField(ch[0]))
dt.register_pytree_node(_OneFieldPair, lambda p: (p.a, None), lambda aux, ch: _OneFieldPair(ch[0]))


@pytest.mark.parametrize("node, shown", [
    (_OneField(1.0), r"flatten_func of _OneField: must return \(children, aux_data\) with "
                     r"children a sequence, got 1.0"),  # was: cannot unpack non-iterable float
    (_OneFieldPair(1.0), r"flatten_func of _OneFieldPair: .* got \(1.0, None\)"),
])
def test_flatten_func_returning_no_children_pair(node, shown):
    with pytest.raises(TypeError, match=shown):
        dt.grad(lambda p: p.a * 2.0)(node)


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # NumPy's, on np.matrix
@pytest.mark.parametrize("how", ["grad", "jvp", "jacfwd", "vjp"])
def test_numpy_matrix_is_refused(how):
    m = np.matrix([[1.0, 2.0]])  # was: "matrix.sum() got an unexpected keyword argument"
    with pytest.raises(TypeError, match=r"numpy.matrix is not supported .* pass np.asarray\(x\)"):
        _each_transform(SQ, m)[how]()


@pytest.mark.parametrize("primals, tangents, err, shown", [
    (({"a": 1.0, "n": 3},), ({"a": 1.0, "n": 0.0},), TypeError,
     r"primal 0 \(leaf 1\): got the integer 3"),  # was "primal 1", with one primal
    (({"a": 1.0, "b": np.ones(2)}, 2.0), ({"a": 1.0, "b": np.ones(3)}, 1.0), ValueError,
     r"tangent 0 \(leaf 1\): shape \(3,\) does not match"),
    ((1.0, {"a": 1.0, "b": 2.0}), (1.0, {"a": 1.0, "b": "x"}), TypeError,
     r"tangent 1 \(leaf 1\): got str"),
])
def test_jvp_names_a_bad_leaf_by_its_primal_and_place(primals, tangents, err, shown):
    with pytest.raises(err, match=shown):
        dt.jvp(lambda *a: 1.0, primals, tangents)


# ---------------------------------------------------------------- NaN and infinity propagate


@pytest.mark.parametrize("x", [float("nan"), float("inf"), -float("inf"), -0.0, 2.0])
def test_value_relu_propagates_like_numpy(x):
    want = float(np.maximum(np.array(x), 0))
    got = dt.Value(x).relu().data
    assert (np.isnan(got) and np.isnan(want)) or got == want  # NaN gave 0.0 before
    assert type(got) is float


@pytest.mark.parametrize("traced", [False, True])
@pytest.mark.parametrize("step, shown", [
    (lambda s: (dnp.sin(s[0]), s[1] + 0.5), "leaf 1 of the state it returned is float, where "
     "x0's is not floating-point"),
    (lambda s: (np.int64(1), s[1]), "leaf 0 of the state it returned is int64, where x0's is "
     "floating-point"),
])
def test_checkpoint_loop_step_that_changes_a_leafs_kind(step, shown, traced):
    # was: "cotangent: structure [*, *] does not match the output [*]" under grad
    with pytest.raises(TypeError, match=f"step: {shown}"):
        if traced:
            dt.grad(lambda x: dt.checkpoint_loop(step, (x, 0), 3)[0])(0.5)
        else:
            dt.checkpoint_loop(step, (0.5, 0), 3)


@pytest.mark.parametrize("how", ["grad", "jvp"])
def test_item_assignment_to_a_traced_value(how):
    def f(x):
        x[0] = 1.0  # was: AttributeError: 'TapeValue' object has no attribute '__setitem__'
        return dnp.sum(x)

    with pytest.raises(TypeError, match=r"a traced value cannot be changed in place .* dnp.where"):
        _each_transform(f, np.ones(2))[how]()


@pytest.mark.parametrize("loss, names", [
    (lambda p, y: dt.binary_cross_entropy_with_logits(p, y), ("y", "z")),
    (lambda p, y: dt.lessons.binary_cross_entropy(p * 0.0 + 0.5, y), ("y", "p")),
    (lambda p, y: dt.lessons.mse_loss(p, y), ("target", "pred")),
])
def test_losses_refuse_labels_that_would_broadcast(loss, names):
    z, y = np.zeros((4, 1)), np.ones(4)  # was: a (4, 4) loss, every prediction against every label
    with pytest.raises(ValueError, match=rf"{names[0]}: shape \(4,\) does not match "
                       rf"{names[1]}'s shape \(4, 1\)"):
        loss(z, y)
    loss(z, 1.0)  # one label for all is fine


def test_mlp_loss_refuses_labels_that_would_broadcast():
    net = dt.nn.ArrayMLP(2, [3, 1])
    xs = np.ones((4, 2))
    assert np.ndim(net.loss(xs, np.ones(4))) == 0
    with pytest.raises(ValueError, match=r"ys: shape \(4, 1\) does not match pred.s shape \(4,\)"):
        net.loss(xs, np.ones((4, 1)))  # was: a sum over a (4, 4) broadcast


def test_tangent_mismatch_in_a_pytree_names_its_argument_and_leaf():
    # leaf 2 of the flattened primals is leaf 1 of argument 1, not "tangent 2"
    with pytest.raises(ValueError, match=r"tangent 1 \(leaf 1\): shape \(2,\) does not match .*\(3,\)"):
        dt.jvp(lambda x, d: x * d["a"], (1.0, {"a": np.ones(2), "b": np.ones(3)}),
               (1.0, {"a": np.ones(2), "b": np.ones(2)}))
    with pytest.raises(TypeError, match=r"tangent 1 \(leaf 0\): dtype float32"):
        dt.jvp(lambda n, p: p[0], (None, (np.ones(2), 1.0)), (None, (np.ones(2, np.float32), 1.0)))


# ---------------------------------------------------------------- found by an audit against JAX


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("fn", [dnp.var, dnp.std], ids=["var", "std"])
@pytest.mark.parametrize("ddof", [3, 4])
def test_variance_with_no_degrees_of_freedom_has_no_finite_slope(fn, ddof):
    """NumPy divides by max(n - ddof, 0), so var with ddof >= n is inf: its derivatives are
    not finite either (a negative n - ddof gave finite wrong numbers, ddof = n a
    ZeroDivisionError)."""
    x = np.array([1.0, 2.0, 4.0])
    assert not np.isfinite(fn(x, ddof=ddof))
    assert not np.isfinite(dt.grad(lambda x: fn(x, ddof=ddof))(x)).any()
    assert not np.isfinite(dt.jvp(lambda x: fn(x, ddof=ddof), (x,), (np.array([1.0, 0.0, 0.0]),))[1])
    assert not np.isfinite(dt.jacrev(lambda x: fn(x, ddof=ddof))(x)).any()
    assert np.isfinite(dt.grad(lambda x: fn(x, ddof=ddof - 2))(x)).all()


@pytest.mark.parametrize("fn", ["var", "std"])
def test_variance_where_counts_the_selected_entries_against_ddof(fn):
    """With where=, n is the number of entries selected in each slice and NumPy divides by
    max(n - ddof, 0): a slice with too few has no finite value nor slope (as above), the
    others keep theirs."""
    x = np.array([[1.0, 2.0, 4.0], [3.0, 5.0, 9.0]])
    mask = np.array([[True, False, True], [True, True, True]])
    f = lambda a: getattr(dnp, fn)(a, axis=1, ddof=2, where=mask)  # noqa: E731
    with pytest.warns(RuntimeWarning, match="Degrees of freedom <= 0 for slice"), \
            np.errstate(all="ignore"):
        got = f(x)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_array_equal(got, getattr(np, fn)(x, axis=1, ddof=2, where=mask))
        jacs = dt.jacfwd(f)(x), dt.jacrev(f)(x)
    assert got[0] == np.inf and np.isfinite(got[1])
    want = dt.jacrev(lambda r: getattr(dnp, fn)(r, ddof=2))(x[1])  # the unmasked primitive
    for jac in jacs:
        assert not np.isfinite(jac[0]).all()
        np.testing.assert_allclose(jac[1][1], want, rtol=1e-12)


def test_jvp_tangent_has_its_primals_dtype():
    """A float32 input meeting a float64 constant gives a float64 output: its tangent is
    float64 too, as JAX gives it."""
    x = np.ones(3, np.float32)
    c = np.full(3, 2.0)
    for f in (lambda x: c - x, lambda x: x + c, lambda x: dnp.fmax(x, c)):
        p, t = dt.jvp(f, (x,), (x,))
        assert p.dtype == t.dtype == np.float64


def test_jvp_output_not_traced_is_the_callers_own_copy():
    """An output that does not depend on the input (a closed-over array) comes back as a
    copy, as vjp's does: writing into it leaves the closure's array alone."""
    k = np.ones(3)
    p, t = dt.jvp(lambda a: k, (np.ones(3),), (np.ones(3),))
    p[...] = 7.0
    assert (k == 1.0).all() and (t == 0.0).all()


def test_cotangent_mismatch_names_the_output():
    _, pull = dt.vjp(lambda x: x * 2.0, np.ones(3))
    with pytest.raises(ValueError, match=r"does not match the output's shape \(3,\)"):
        pull(np.ones(2))
    with pytest.raises(TypeError, match="does not match the output's dtype float64"):
        pull(np.ones(3, np.float32))


@pytest.mark.parametrize("mode", ["grad", "jvp"])
def test_slogdet_slope_at_a_singular_matrix_says_what_is_missing(mode):
    """log|det| is -inf at a singular matrix and has no slope there: the error names
    slogdet and why, not only NumPy's "Singular matrix"."""
    a = np.array([[1.0, 2.0], [2.0, 4.0]])
    f = lambda a: dnp.linalg.slogdet(a)[1]
    with pytest.raises(np.linalg.LinAlgError, match="slogdet: the derivative of log"):
        dt.grad(f)(a) if mode == "grad" else dt.jvp(f, (a,), (np.eye(2),))


def test_copies_of_traced_values_keep_the_derivative_and_pickling_is_refused():
    import copy
    import pickle

    x = np.array([1.0, 2.0])
    # a deep copy used to clone the tape: the copy's uses were constants, others counted twice
    assert np.allclose(dt.grad(lambda v: dnp.sum(v * 3.0) + dnp.sum(copy.deepcopy(v)))(x), 4.0)
    assert np.allclose(dt.grad(lambda v: dnp.sum(copy.deepcopy(v) * v))(x), 2 * x)
    assert np.allclose(dt.hessian(lambda v: dnp.sum(copy.deepcopy(v) ** 2))(x), 2 * np.eye(2))
    assert np.allclose(dt.jvp(lambda v: dnp.sum(copy.copy(v) * v), (x,), (np.ones(2),))[1], 6.0)
    with pytest.raises(TypeError, match="cannot be pickled.*dnp.concrete"):
        dt.grad(lambda v: dnp.sum(pickle.loads(pickle.dumps(v))))(x)


def test_object_dtype_casts_and_writes_into_numpy_arrays_are_refused():
    x = np.array([1.0, 2.0])
    with pytest.raises(TypeError, match="astype: dtype object"):
        dt.grad(lambda v: dnp.sum(v.astype(object) * 2.0))(x)
    with pytest.raises(TypeError, match="astype: dtype object"):
        dt.grad(lambda v: dnp.sum(dnp.array(v, dtype=object)))(x)

    def in_place(v):
        a = np.ones(2)
        a += v
        return dnp.sum(a)

    with pytest.raises(TypeError, match="cannot be written into a NumPy array in place"):
        dt.grad(in_place)(x)


def _object_array(v):
    out = np.zeros(2, dtype=object)
    out[0], out[1] = v[0] * 2.0, v[1] * 3.0
    return out


@pytest.mark.parametrize("f", [
    lambda v: dnp.sum(_object_array(v) + v),
    lambda v: dnp.sum(dnp.where(np.array([True, True]), _object_array(v), v)) * 2.0,
    lambda v: dnp.sum(dnp.concatenate([_object_array(v), v])),
])
def test_object_arrays_of_traced_values_mixed_with_traced_values_are_refused(f):
    # NumPy ran elementwise over the traced values inside: the derivative was silently dropped
    x = np.array([1.0, 2.0])
    with pytest.raises(TypeError, match="dtype object holds traced values"):
        dt.grad(f)(x)
    with pytest.raises(TypeError, match="dtype object holds traced values"):
        dt.jvp(f, (x,), (np.ones(2),))
    # summed on its own, the object array is a sum of traced values: the derivative is right
    assert np.allclose(dt.grad(lambda v: dnp.sum(_object_array(v)))(x), [2.0, 3.0])
