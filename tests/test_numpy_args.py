"""Arguments and result dtypes as NumPy has them: NumPy integers are axes and sizes, floats
and repeated axes are refused with NumPy's kind of error naming the argument, and integer
input gives NumPy's float64 results."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dualtape as dt
import dualtape.numpy as dnp

jax.config.update("jax_enable_x64", True)

A = np.arange(24.0).reshape(2, 3, 4)
I = np.array([[1, 2], [3, 4]])  # noqa: E741
V = np.array([1, -2, 3])

# label -> (call with ``lib``, the argument an error must name or None)
CASES = {
    "rollaxis start -1": (lambda lib: lib.rollaxis(A, 0, -1), None),
    "rollaxis start -3": (lambda lib: lib.rollaxis(A, 2, -3), None),
    "rollaxis start np.int64": (lambda lib: lib.rollaxis(A, 0, np.int64(-2)), None),
    "rollaxis start -4": (lambda lib: lib.rollaxis(A, 0, -4), "start"),
    "rollaxis start 4": (lambda lib: lib.rollaxis(A, 0, 4), "start"),
    "rollaxis start 1.5": (lambda lib: lib.rollaxis(A, 0, 1.5), "start"),
    "pad 1.5": (lambda lib: lib.pad(A, 1.5), "pad_width"),
    "pad float pairs": (lambda lib: lib.pad(A, ((1.0, 1), (0, 0), (0, 0))), "pad_width"),
    "pad np.int64": (lambda lib: lib.pad(A, np.int64(1)), None),
    "tile 2.5": (lambda lib: lib.tile(A, 2.5), "reps"),
    "tile 2.0 in a list": (lambda lib: lib.tile(A, [2, 2.0]), "reps"),
    "tile np.int64": (lambda lib: lib.tile(A, (np.int64(2), 1)), None),
    "reshape float": (lambda lib: lib.reshape(A, (4, 6.0)), "shape"),
    "reshape np.int64": (lambda lib: lib.reshape(A, np.int64(24)), None),
    "broadcast_to float": (lambda lib: lib.broadcast_to(A[0, 0], 4.0), "shape"),
    "broadcast_to bool": (lambda lib: lib.broadcast_to(A[0, 0, :1], True), "shape"),
    "broadcast_to np.int64": (lambda lib: lib.broadcast_to(A[0, 0, :1], np.int64(4)), None),
    "moveaxis repeated destination": (lambda lib: lib.moveaxis(A, [0, 1], [2, 2]), "destination"),
    "moveaxis repeated source": (lambda lib: lib.moveaxis(A, [0, -3], [1, 2]), "source"),
    "moveaxis np.int64": (lambda lib: lib.moveaxis(A, np.int64(0), np.int64(-1)), None),
    "expand_dims repeated": (lambda lib: lib.expand_dims(A, (0, 0)), "axis"),
    "expand_dims repeated negative": (lambda lib: lib.expand_dims(A, (0, -5)), "axis"),
    "expand_dims np.int64": (lambda lib: lib.expand_dims(A, (np.int64(0), 4)), None),
    "roll float axis": (lambda lib: lib.roll(A, 1, 2.0), "axis"),
    "diag float k": (lambda lib: lib.diag(A[0, 0], 1.0), "k"),
    "diagonal float offset": (lambda lib: lib.diagonal(A, 1.0), "offset"),
    "trace np.int64 offset": (lambda lib: lib.trace(A[0], np.int64(1)), None),
    "median float axis": (lambda lib: lib.median(A, 1.0), "axis: expected an int"),
    "trapezoid bool axis": (lambda lib: lib.trapezoid(A, axis=True), "trapezoid: axis"),
    "hstack 0-d": (lambda lib: lib.hstack([1.0, 2.0]), None),
    "hstack 0-d and 1-d": (lambda lib: lib.hstack([1.0, np.ones(2)]), None),
    "vstack 0-d": (lambda lib: lib.vstack([1.0, 2.0]), None),
    "dstack 0-d and 1-d": (lambda lib: lib.dstack([np.ones(2), np.ones(2)]), None),
    "column_stack 0-d": (lambda lib: lib.column_stack([1.0, 2.0]), None),
    "dot not aligned": (lambda lib: lib.dot(np.ones((2, 3)), np.ones((4, 2))), "dot: shapes"),
    "dot not aligned, 3-d": (lambda lib: lib.dot(A, np.ones((3, 5, 2))), "dot: shapes"),
    "dot vector not aligned": (lambda lib: lib.dot(A, np.ones(3)), "dot: shapes"),
    "rot90 three axes": (lambda lib: lib.rot90(A, 1, (0, 1, 2)), "rot90: axes"),
    "cov 3-d y": (lambda lib: lib.cov(V * 1.0, np.ones((2, 2, 3))), "cov: y has more"),
    "pinv int": (lambda lib: lib.linalg.pinv(I), None),
    **{f"norm int {o!r}": (lambda lib, o=o: lib.linalg.norm(V, o), None)
       for o in (None, 0, 1, 2, np.inf, -np.inf, 3)},
    **{f"norm int matrix {o!r}": (lambda lib, o=o: lib.linalg.norm(I, o), None)
       for o in (None, 1, -1, 2, np.inf, -np.inf, "fro", "nuc")},
    "average int weights returned": (lambda lib: lib.average(I, 0, I, returned=True), None),
    "average int 1-D weights": (lambda lib: lib.average(I, 1, V[:2], returned=True), None),
    "average float32 returned": (lambda lib: lib.average(I.astype(np.float32), returned=True),
                                 None),
    "average float32 axis returned": (lambda lib: lib.average(I.astype(np.float32), 0,
                                                              returned=True), None),
    # NumPy's positional order (order after shape; dtype before out and keepdims)
    "reshape order by position": (lambda lib: lib.reshape(A, (4, 6), "F"), None),
    "ravel order": (lambda lib: lib.ravel(A, "F"), None),
    "sum dtype by position": (lambda lib: lib.sum(A, 0, np.float32), None),
    "mean dtype by position": (lambda lib: lib.mean(A, 1, np.float32), None),
    "prod keepdims by position": (lambda lib: lib.prod(A, 2, None, None, True), None),
    "max keepdims by position": (lambda lib: lib.max(A, 2, None, True), None),
    "unique with everything": (lambda lib: lib.unique(np.array([3.0, 1, 2, 1]), True, True,
                                                      True), None),
}


@pytest.mark.parametrize("label", list(CASES))
def test_arguments_and_dtypes_as_numpy(label):
    call, named = CASES[label]
    try:
        want = call(np)
    except (TypeError, ValueError) as e:
        kind = TypeError if isinstance(e, TypeError) else ValueError
        with pytest.raises(kind, match=named):
            call(dnp)
        return
    got = call(dnp)
    for g, w in zip(*((x if isinstance(x, tuple) else (x,)) for x in (got, want)), strict=True):
        assert np.shape(g) == np.shape(w) and np.result_type(g) == np.result_type(w), label
        assert isinstance(g, np.ndarray) == isinstance(w, np.ndarray), label
        np.testing.assert_allclose(g, w, rtol=1e-12)


@pytest.mark.parametrize("arg", ["a", "b"])
def test_complex_input_is_refused_naming_it(arg):
    """dualtape has no complex numbers: vdot (whose NumPy conjugates a) and the norms refuse
    complex input instead of dropping or mishandling the imaginary part."""
    c, r = np.array([1j, 2.0]), np.array([1.0, 2.0])
    with pytest.raises(TypeError, match=f"vdot: {arg} is complex"):
        dnp.vdot(*((c, r) if arg == "a" else (r, c)))
    with pytest.raises(TypeError, match="complex"):
        dt.grad(lambda x: dnp.real(dnp.vdot(x, c)) if arg == "a" else dnp.vdot(c, x))(r)
    with pytest.raises(TypeError, match="norm: x is complex"):
        dnp.linalg.norm(c)
    with pytest.raises(TypeError, match="norm: x is complex"):
        dnp.linalg.norm(np.outer(c, c), "fro")


@pytest.mark.parametrize("call", [
    lambda lib, x: lib.rollaxis(x, 2, -2),
    lambda lib, x: lib.moveaxis(x, np.int64(1), -1),
    lambda lib, x: lib.expand_dims(x, np.int64(-1)),
    lambda lib, x: lib.broadcast_to(x[0, 0], (np.int64(3), 4)),
    lambda lib, x: lib.hstack([x[0, 0, 0], x[1, 2, 3] * 2.0]),
    lambda lib, x: lib.linalg.norm(x[0], 1),
    lambda lib, x: lib.reshape(x, (4, 6), "F"),
    lambda lib, x: lib.ravel(x, "F"),
    lambda lib, x: lib.sum(x, 0, np.float64),
    lambda lib, x: lib.mean(x, 1, np.float64, None, True),
])
def test_derivatives_match_jax_in_both_modes(call):
    w = np.cos(np.arange(np.size(call(np, A))) + 1.0).reshape(np.shape(call(np, A)))
    f = lambda x: dnp.sum(call(dnp, x) * w)  # noqa: E731
    ref = np.asarray(jax.grad(lambda x: jnp.sum(call(jnp, x) * w))(jnp.asarray(A)))
    np.testing.assert_allclose(dt.grad(f)(A), ref, rtol=1e-12)
    v = np.sin(np.arange(A.size) + 0.5).reshape(A.shape)
    assert float(dt.jvp(f, (A,), (v,))[1]) == pytest.approx(float(np.sum(ref * v)), rel=1e-10)


def test_unique_differentiates_each_value_at_its_first_occurrence():
    # was a passthrough: its values came back constant, a zero gradient
    v = np.array([3.0, 1.0, 2.0, 1.0])
    want = jax.grad(lambda v: jnp.sum(jnp.unique(v, size=3) ** 2))(v)
    for f in (lambda v: dnp.sum(dnp.unique(v) ** 2), lambda v: dnp.sum(np.unique(v) ** 2)):
        np.testing.assert_array_equal(dt.grad(f)(v), want)
        np.testing.assert_array_equal(dt.jacfwd(f)(v), want)
    values, counts = dt.jvp(lambda v: dnp.unique(v, return_counts=True), (v,), (np.ones(4),))[0]
    np.testing.assert_array_equal(counts, [2, 1, 1])


def test_a_complex_cast_of_a_traced_value_is_refused():
    with pytest.raises(NotImplementedError, match="astype: complex dtypes are not supported"):
        dt.grad(lambda v: dnp.sum(dnp.abs(v.astype(complex))))(np.ones(2))


def test_linalg_cond_and_matrix_rank_as_numpy():
    for a in (np.array([[2.0, 1.0], [1.0, 3.0]]), np.zeros((2, 2, 2)), np.diag([1.0, 0.0])):
        for p in (None, 2, -2):
            with np.errstate(all="ignore"):
                np.testing.assert_array_equal(dnp.linalg.cond(a, p), np.linalg.cond(a, p))
        assert np.array_equal(dnp.linalg.matrix_rank(a), np.linalg.matrix_rank(a))
    a = np.array([[2.0, 1.0], [1.0, 3.0]])
    want = jax.grad(jnp.linalg.cond)(a)
    np.testing.assert_allclose(dt.grad(dnp.linalg.cond)(a), want, rtol=1e-12, atol=1e-15)


def test_cond_of_a_singular_matrix_in_every_norm_is_infinite_per_matrix():
    stack = np.stack([np.diag([1.0, 0.0]), np.array([[2.0, 1.0], [1.0, 3.0]])])
    for p in ("fro", 1, -1, np.inf, -np.inf):
        with np.errstate(all="ignore"):
            np.testing.assert_array_equal(dnp.linalg.cond(stack, p), np.linalg.cond(stack, p))
    assert dnp.linalg.cond(stack, "nuc")[0] == np.inf  # NumPy's own SVD fails there


def test_array_methods_take_numpy_keywords():
    x = np.array([0.5, -1.0, 2.0])
    np.testing.assert_array_equal(dt.grad(lambda x: dnp.sum(x.clip(min=0.0)))(x), [1, 0, 1])
    np.testing.assert_array_equal(dt.grad(lambda x: dnp.sum(x.cumsum(0, np.float64)))(x),
                                  [3, 2, 1])
    np.testing.assert_array_equal(
        dt.grad(lambda x: dnp.sum(x.take(np.array([5]), mode="wrap")))(x), [0, 0, 1])
    with pytest.raises(TypeError, match="cumsum: out= is not supported"):
        dt.grad(lambda x: dnp.sum(x.cumsum(0, None, np.zeros(3))))(x)
