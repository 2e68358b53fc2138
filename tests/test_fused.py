"""Fused forward-mode kernels (``Primitive.jvp_fused``) against the unfused rules and JAX.

A fused kernel writes an answer and its tangent into one stacked array, so that a matmul
can push a primal and its tangent through one GEMM. It must give what ``impl`` and the JVP
rules give, decline what it cannot handle, and stay out of the way while counting.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _trees import assert_tree_close

import dualtape as dt
import dualtape.numpy as dnp
from dualtape.forward import Dual
from dualtape.registry import primitives

jax.config.update("jax_enable_x64", True)

R = np.random.default_rng(11)
FUSED = sorted(name for name, p in primitives().items() if p.jvp_fused is not None)


@pytest.fixture
def unfused(monkeypatch):
    """Switch every fused kernel off for the duration of a test."""
    for name in FUSED:
        monkeypatch.setattr(primitives()[name], "jvp_fused", None)


def _jvp_both(f, primals, tangents, monkeypatch):
    fused = dt.jvp(f, primals, tangents)
    with monkeypatch.context() as m:
        for name in FUSED:
            m.setattr(primitives()[name], "jvp_fused", None)
        plain = dt.jvp(f, primals, tangents)
    return fused, plain


def test_the_fused_kernels_are_the_expected_ones():
    # A new fused kernel needs its cases below; this fails until they are added.
    assert FUSED == ["matmul", "relu", "sub", "tanh"]


# ---------------------------------------------------------------- elementwise activations

ACTIVATIONS = {"tanh": (dnp.tanh, jnp.tanh), "relu": (dnp.relu, jax.nn.relu)}
SHAPES = [(5,), (3, 4), (2, 3, 4)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_fused_matches_unfused_and_jax(name, shape, dtype, monkeypatch):
    op, jop = ACTIVATIONS[name]
    x = R.normal(size=shape).astype(dtype)
    t = R.normal(size=shape).astype(dtype)
    fused, plain = _jvp_both(op, (x,), (t,), monkeypatch)
    assert_tree_close(fused, plain, rtol=0, atol=0, check_dtype=True)
    ref = jax.jvp(jop, (jnp.asarray(x),), (jnp.asarray(t),))
    tol = 1e-13 if dtype == np.float64 else 1e-5
    assert_tree_close(fused, ref, rtol=tol, atol=tol, check_dtype=True)


def test_relu_fused_keeps_the_rules_answers_at_zero_nan_and_inf(monkeypatch):
    x = np.array([-1.0, 0.0, 2.0, np.nan, -np.inf, np.inf])
    t = np.array([np.inf, 3.0, 4.0, 1.0, 2.0, -1.0])
    with np.errstate(invalid="ignore"):
        fused, plain = _jvp_both(dnp.relu, (x,), (t,), monkeypatch)
    assert_tree_close(fused, plain, rtol=0, atol=0)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_fused_writes_one_stack(name):
    op = ACTIVATIONS[name][0]
    x, t = R.normal(size=(3, 4)), R.normal(size=(3, 4))
    seen = {}

    def f(x):
        y = op(x)
        seen["y"] = y
        return y

    dt.jvp(f, (x,), (t,))
    y = seen["y"]
    assert type(y) is Dual and y.stack is not None
    assert y.stack.shape == (2, 3, 4)
    assert np.shares_memory(y.primal, y.stack) and np.shares_memory(y.tangent, y.stack)
    np.testing.assert_array_equal(y.stack[0], np.tanh(x) if name == "tanh" else np.maximum(x, 0))


DECLINED = {
    "0-d": (np.float64(0.3), np.float64(1.5)),
    "tangent of another shape": (R.normal(size=(3,)), R.normal(size=(1,))),
    "float32 tangent": (R.normal(size=(3,)), R.normal(size=(3,)).astype(np.float32)),
    "python float": (0.3, 1.5),
}


@pytest.mark.parametrize("case", sorted(DECLINED))
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_fused_declines_and_the_rules_take_over(name, case):
    x, t = DECLINED[case]
    assert primitives()[name].jvp_fused(x, t, None) is None
    if case in ("0-d", "python float"):
        op, jop = ACTIVATIONS[name]
        got = dt.jvp(op, (x,), (t,))
        assert_tree_close(got, jax.jvp(jop, (x,), (t,)), rtol=1e-15)


# ---------------------------------------------------------------- sub

SUB_CASES = {  # (x, tx, y, ty): both traced; a tangent may be a broadcast view
    "same shape": lambda: (R.normal(size=(3, 4)), R.normal(size=(3, 4)),
                           R.normal(size=(3, 4)), R.normal(size=(3, 4))),
    "broadcast tangent": lambda: (R.normal(size=(3, 4)), np.broadcast_to(R.normal(size=4), (3, 4)),
                                  R.normal(size=(3, 4)), R.normal(size=(3, 4))),
    "transposed y": lambda: (R.normal(size=(3, 4)), R.normal(size=(3, 4)),
                             R.normal(size=(4, 3)).T, R.normal(size=(4, 3)).T),
    "float32": lambda: tuple(a.astype(np.float32) for a in (R.normal(size=(2, 5)),) * 4),
}


@pytest.mark.parametrize("case", sorted(SUB_CASES))
def test_sub_fused_matches_the_rules_and_jax(case, monkeypatch):
    x, tx, y, ty = SUB_CASES[case]()
    assert primitives()["sub"].jvp_fused(x, tx, None, y, ty, None) is not None
    f = lambda x, y: dnp.tanh(x - y)  # noqa: E731
    fused, plain = _jvp_both(f, (x, y), (tx, ty), monkeypatch)
    assert_tree_close(fused, plain, rtol=0, atol=0, check_dtype=True)
    ref = jax.jvp(lambda x, y: jnp.tanh(x - y), (x, y), (np.asarray(tx), np.asarray(ty)))
    tol = 1e-13 if x.dtype == np.float64 else 1e-5
    assert_tree_close(fused, ref, rtol=tol, atol=tol)


def test_sub_fused_declines_one_tangent_other_shapes_and_layouts():
    x, t = R.normal(size=(3, 4)), R.normal(size=(3, 4))
    fused = primitives()["sub"].jvp_fused
    assert fused(x, t, None, x, None, None) is None  # one tangent: it passes as it is
    assert fused(x, None, None, x, t, None) is None
    assert fused(x, t, None, R.normal(size=4), R.normal(size=4), None) is None  # broadcasting
    assert fused(np.asfortranarray(x), t, None, x, t, None) is None  # x's layout is NumPy's
    assert fused(np.float64(1.0), np.float64(1.0), None, np.float64(2.0), np.float64(1.0),
                 None) is None


# ---------------------------------------------------------------- matmul

# (which operands are traced, whether x arrives stacked from a fused tanh)
MATMUL_MODES = ["x", "y", "both", "stacked x", "stacked x and y"]


def _matmul_fn(mode, w):
    def f(a, b):
        if mode.startswith("stacked"):
            a = dnp.relu(dnp.tanh(a))
        if mode == "x":
            return dnp.matmul(a, w)
        if mode == "y":
            return dnp.matmul(w, b)
        return dnp.matmul(a, b)

    return f


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("mode", MATMUL_MODES)
def test_matmul_fused_matches_unfused_and_jax(mode, dtype, monkeypatch):
    a = R.normal(size=(5, 4)).astype(dtype)
    b = R.normal(size=(4, 3)).astype(dtype)
    w = R.normal(size=(4, 3) if mode == "x" else (5, 4)).astype(dtype)
    ta, tb = R.normal(size=a.shape).astype(dtype), R.normal(size=b.shape).astype(dtype)
    if mode == "y":
        a, ta = R.normal(size=(4, 3)).astype(dtype), R.normal(size=(4, 3)).astype(dtype)
    f = _matmul_fn(mode, w)
    fused, plain = _jvp_both(f, (a, b), (ta, tb), monkeypatch)
    tol = 1e-13 if dtype == np.float64 else 1e-5
    # One GEMM of twice the rows may block differently from two: equal to rounding.
    assert_tree_close(fused, plain, rtol=tol, atol=tol, check_dtype=True)

    def g(a, b):
        if mode.startswith("stacked"):
            a = jax.nn.relu(jnp.tanh(a))
        if mode == "x":
            return a @ w
        if mode == "y":
            return w @ b
        return a @ b

    ref = jax.jvp(g, (jnp.asarray(a), jnp.asarray(b)), (jnp.asarray(ta), jnp.asarray(tb)))
    assert_tree_close(fused, ref, rtol=tol, atol=tol, check_dtype=True)


def test_matmul_takes_the_one_gemm_path_for_a_stacked_operand(monkeypatch):
    calls = []
    real = np.matmul

    def spy(x, y, *args, **kwargs):
        calls.append((x.shape, y.shape))
        return real(x, y, *args, **kwargs)

    a, b = R.normal(size=(6, 4)), R.normal(size=(4, 3))
    ta, tb = R.normal(size=a.shape), R.normal(size=b.shape)
    seen = {}

    def f(a, b):
        out = dnp.matmul(dnp.tanh(a), b)
        seen["out"] = out
        return out

    monkeypatch.setattr(np, "matmul", spy)
    got = dt.jvp(f, (a, b), (ta, tb))
    monkeypatch.setattr(np, "matmul", real)
    # [tanh(a); its tangent] @ b in one GEMM of 12 rows, then tanh(a) @ tb.
    assert calls == [((12, 4), (4, 3)), ((6, 4), (4, 3))]
    out = seen["out"]
    assert type(out) is Dual and out.stack is not None and out.stack.shape == (2, 6, 3)
    h = np.tanh(a)
    expected = (h @ b, (ta * (1 - h * h)) @ b + h @ tb)
    assert_tree_close(got, expected, rtol=1e-13)


@pytest.mark.parametrize("case", ["vector @ matrix", "batched", "mixed dtypes", "int matrix"])
def test_matmul_fused_declines_and_the_rules_take_over(case, monkeypatch):
    a, b = {
        "vector @ matrix": (R.normal(size=4), R.normal(size=(4, 3))),
        "batched": (R.normal(size=(2, 5, 4)), R.normal(size=(4, 3))),
        "mixed dtypes": (R.normal(size=(5, 4)).astype(np.float32), R.normal(size=(4, 3))),
        "int matrix": (R.normal(size=(5, 4)), np.arange(12).reshape(4, 3)),
    }[case]
    ta = R.normal(size=a.shape).astype(a.dtype)
    assert primitives()["matmul"].jvp_fused(a, ta, None, b, None, None) is None
    fused, plain = _jvp_both(lambda a: dnp.matmul(a, b), (a,), (ta,), monkeypatch)
    assert_tree_close(fused, plain, rtol=0, atol=0, check_dtype=True)
    ref = jax.jvp(lambda a: a @ jnp.asarray(b), (jnp.asarray(a),), (jnp.asarray(ta),))
    assert_tree_close(fused, ref, rtol=1e-6, atol=1e-6)


# ---------------------------------------------------------------- whole programs


def _mlp(xp, x, act=None):
    act = act or xp.tanh

    def loss(w1, w2, w3):
        h = act(xp.matmul(x, w1))
        h = act(xp.matmul(h, w2))
        r = xp.matmul(h, w3) - 0.5
        return xp.mean(r * r)

    return loss


def _weights():
    shapes = [(6, 8), (8, 8), (8, 1)]
    return tuple(R.normal(size=s) / 2 for s in shapes), tuple(R.normal(size=s) for s in shapes)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_mlp_jvp_fused_matches_unfused_and_jax(name, monkeypatch):
    op, jop = ACTIVATIONS[name]
    x = R.normal(size=(10, 6))
    w, v = _weights()
    fused, plain = _jvp_both(_mlp(dnp, x, op), w, v, monkeypatch)
    assert_tree_close(fused, plain, rtol=1e-13)
    ref = jax.jvp(_mlp(jnp, jnp.asarray(x), jop), tuple(map(jnp.asarray, w)),
                  tuple(map(jnp.asarray, v)))
    assert_tree_close(fused, ref, rtol=1e-12)


@pytest.mark.parametrize("order", ["jvp of jvp", "grad of jvp", "jvp of grad"])
def test_nested_transformations_with_fused_kernels_follow_jax(order):
    # Inner tangents and primals are traced here, so the kernels must decline cleanly.
    x = R.normal(size=(4, 3))
    w, v = R.normal(size=(3, 3)), R.normal(size=(3, 3))

    def make(xp, jvp, grad):
        def f(w):
            return xp.sum(xp.tanh(xp.matmul(xp.tanh(xp.matmul(x, w)), w)))

        if order == "jvp of jvp":
            return lambda w: jvp(lambda w: jvp(f, (w,), (v,))[1], (w,), (v,))[1]
        if order == "grad of jvp":
            return grad(lambda w: jvp(f, (w,), (v,))[1])
        return lambda w: jvp(grad(f), (w,), (v,))[1]

    got = make(dnp, dt.jvp, dt.grad)(w)
    ref = make(jnp, jax.jvp, jax.grad)(jnp.asarray(w))
    assert_tree_close(got, ref, rtol=1e-12)


def test_counting_sees_the_unfused_primitives():
    x = R.normal(size=(10, 6))
    w, v = _weights()
    with dt.count() as c:
        dt.jvp(_mlp(dnp, x), w, v)
    # Forward 3 matmuls; tangents x@v1, t1@w2, h1@v2, t2@w3, h2@v3; two tanh tangent maps.
    assert c.by_name["matmul"] == 8
    assert c.by_name["tanh"] == 2
    assert c.by_name["tanh_tangent"] == 2


# ---------------------------------------------------------------- layouts and memory


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@pytest.mark.parametrize("layout", ["transposed", "fortran", "strided"])
def test_non_c_ordered_inputs_keep_numpys_layout_and_its_sums(name, layout, monkeypatch):
    op = ACTIVATIONS[name][0]
    base = R.normal(size=(300, 8))
    x = {"transposed": base.T, "fortran": np.asfortranarray(base), "strided": base[::2]}[layout]
    t = np.ones_like(x)
    assert primitives()[name].jvp_fused(x, t, None) is None

    def f(x):
        return dnp.sum(op(x))

    fused, plain = _jvp_both(f, (x,), (t,), monkeypatch)
    assert fused == plain  # bit for bit: a reduction's order follows the layout
    assert fused[0] == f(x)


def _matvec_tanh(w):
    return lambda x: dnp.tanh(dnp.matmul(w, x))


def test_jvp_outputs_do_not_hold_each_others_memory():
    w, x, v = R.normal(size=(50, 4)), R.normal(size=4), R.normal(size=4)
    p, t = dt.jvp(_matvec_tanh(w), (x,), (v,))
    assert not np.shares_memory(p, t)
    # the tangent alone (``jvp(...)[1]``, jacfwd's passes) does not keep the primal alive
    assert t.base is None or t.base.nbytes == t.nbytes


def test_aux_does_not_hold_a_tangent():
    w, x, v = R.normal(size=(50, 4)), R.normal(size=4), R.normal(size=4)

    def f(x):
        y = _matvec_tanh(w)(x)
        return dnp.sum(y), y

    _, _, aux = dt.jvp(f, (x,), (v,), has_aux=True)
    assert aux.base is None or aux.base.nbytes == aux.nbytes
    np.testing.assert_array_equal(aux, np.tanh(w @ x))


def test_jacfwd_one_pass_per_input_keeps_tangents_only(monkeypatch):
    w, x = R.normal(size=(30, 5)), R.normal(size=5)
    kept = []
    real = dt.api.jvp_core

    def spy(*args, **kwargs):
        out = real(*args, **kwargs)
        kept.extend(out[2])
        return out

    monkeypatch.setattr(dt.api, "jvp_core", spy)
    jac = dt.jacfwd(_matvec_tanh(w), chunk=1)(x)
    assert all(t.base is None or t.base.nbytes == t.nbytes for t in kept)
    h = np.tanh(w @ x)
    np.testing.assert_allclose(jac, (1 - h * h)[:, None] * w, rtol=1e-13)
