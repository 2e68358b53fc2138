"""dt.Value: micrograd-compatible scalars, reverse mode by iterative backward, forward mode by tangents."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dualtape as dt
import dualtape.numpy as dnp
from dualtape import Value
from dualtape.value import topological_order, zero_grad

# ---------------------------------------------------------------- values and gradients of each op

UNARY = {
    "relu": (lambda v: v.relu(), lambda x: dnp.relu(x)),
    "sigmoid": (lambda v: v.sigmoid(), lambda x: dnp.sigmoid(x)),
    "tanh": (lambda v: v.tanh(), lambda x: dnp.tanh(x)),
    "exp": (lambda v: v.exp(), lambda x: dnp.exp(x)),
    "log": (lambda v: v.log(), lambda x: dnp.log(x)),
    "softplus": (lambda v: v.softplus(), lambda x: dnp.softplus(x)),
    "sqrt": (lambda v: v.sqrt(), lambda x: dnp.sqrt(x)),
    "neg": (lambda v: -v, lambda x: -x),
    "abs": (lambda v: abs(v), lambda x: dnp.abs(x)),
    "pow3": (lambda v: v ** 3, lambda x: x ** 3),
    "pow-1": (lambda v: v ** -1, lambda x: x ** -1),
    "pow0.5": (lambda v: v ** 0.5, lambda x: x ** 0.5),
    "log_sigmoid": (lambda v: v.log_sigmoid(), lambda x: -dnp.softplus(-x)),
}

BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a ** b,
}


@pytest.mark.parametrize("name", sorted(UNARY))
@pytest.mark.parametrize("x", [0.7, 1.9])
def test_unary_value_and_grad_match_dt_grad(name: str, x: float) -> None:
    on_value, on_float = UNARY[name]
    v = Value(x)
    out = on_value(v)
    out.backward()
    assert out.data == pytest.approx(float(on_float(x)), rel=1e-14)
    assert v.grad == pytest.approx(float(dt.grad(on_float)(x)), rel=1e-12)
    # forward mode on the same node kind
    w = Value(x, tangent=1.0)
    assert on_value(w).tangent == pytest.approx(v.grad, rel=1e-12)


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_value_and_grads_match_dt_grad(name: str) -> None:
    f = BINARY[name]
    a, b = 1.3, 0.6
    va, vb = Value(a), Value(b)
    out = f(va, vb)
    out.backward()
    ga, gb = dt.grad(f, argnums=(0, 1))(a, b)
    assert out.data == pytest.approx(f(a, b), rel=1e-14)
    assert va.grad == pytest.approx(ga, rel=1e-12)
    assert vb.grad == pytest.approx(gb, rel=1e-12)
    # reflected forms with a constant on either side
    for const_left in (True, False):
        v = Value(b if const_left else a)
        out = f(a, v) if const_left else f(v, b)
        out.backward()
        assert out.data == pytest.approx(f(a, b), rel=1e-14)
        assert v.grad == pytest.approx(gb if const_left else ga, rel=1e-12)


def test_relu_slope_at_zero_is_zero() -> None:
    v = Value(0.0)
    v.relu().backward()
    assert v.grad == 0.0
    w = Value(-1.0)
    w.relu().backward()
    assert w.grad == 0.0


def test_data_is_float_and_repr() -> None:
    v = Value(2, label="x")
    assert type(v.data) is float and v.data == 2.0
    assert v.grad == 0.0
    assert repr(v) == "Value(data=2.0, grad=0.0, label='x')"
    assert "tangent=1.0" in repr(Value(1.0, tangent=1.0))
    assert Value(np.float32(1.5)).data == 1.5


def test_what_would_drop_the_derivative_is_refused() -> None:
    x = Value(1.0)
    with pytest.raises(TypeError, match=r"float\(Value\) would lose the derivative"):
        math.exp(x)  # micrograd refuses it too
    with pytest.raises(TypeError, match="got a Value"):
        Value(x)


def test_a_subclass_of_value_is_a_value_on_either_side() -> None:
    class Named(Value):
        __slots__ = ()

    for build in (lambda a, b: a * b, lambda a, b: b * a, lambda a, b: a - b,
                  lambda a, b: a ** b, lambda a, b: b / a):
        a, b = Value(2.0), Named(3.0)
        out = build(a, b)
        out.backward()
        pa, pb = Value(2.0), Value(3.0)
        want = build(pa, pb)
        want.backward()
        assert (out.data, a.grad, b.grad) == (want.data, pa.grad, pb.grad)


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(TypeError, match="scalar"):
        Value(np.array([1.0, 2.0]))
    with pytest.raises(TypeError, match="real number"):
        Value("2.0")
    with pytest.raises(ValueError, match="operators"):
        Value(1.0, (Value(2.0),))
    with pytest.raises(TypeError, match="exponent"):
        Value(1.0) ** "2"
    with pytest.raises(TypeError, match="operand"):
        Value(1.0) + "a"


# ---------------------------------------------------------------- micrograd compatibility


def _expr(V, a, b, c):
    d = a * b + c ** 2
    e = (d - a / c).relu() * 2.0 + 1.0 - b
    f = e ** 3 / (a + 4.0) - (-c) * d
    return f


def test_same_numbers_as_micrograd() -> None:
    engine = pytest.importorskip("micrograd.engine")
    old = sys.getrecursionlimit()
    try:
        ours = [Value(1.5), Value(-0.5), Value(2.0)]
        theirs = [engine.Value(1.5), engine.Value(-0.5), engine.Value(2.0)]
        f_ours, f_theirs = _expr(Value, *ours), _expr(engine.Value, *theirs)
        f_ours.backward()
        f_theirs.backward()
    finally:
        sys.setrecursionlimit(old)
    assert f_ours.data == pytest.approx(f_theirs.data, rel=1e-14)
    for o, t in zip(ours, theirs, strict=True):
        assert o.grad == pytest.approx(t.grad, rel=1e-12)


def test_micrograd_graph_attributes() -> None:
    a, b = Value(1.0, label="a"), Value(2.0, label="b")
    c = a * b
    d = c ** 2
    assert c._op == "*" and d._op == "**2" and a._op == ""
    assert c._prev == {a, b}
    assert d._prev == {c}
    assert c.parents == (a, b)
    assert c.op == "mul" and d.op == "power_const(p=2)"
    assert (a + 1.0).args == (1.0, 1.0) and (a + 1.0).inputs == (a, None)
    assert d.params == {"p": 2} and c.params == {}
    assert c.local_grads() == (2.0, 1.0)
    assert a.is_leaf and not c.is_leaf and c.prim is dt.primitives()["mul"]


# ---------------------------------------------------------------- accumulation semantics


def test_parameter_used_twice_sums_its_paths() -> None:
    x = Value(3.0)
    y = x * x + x  # dy/dx = 2x + 1
    y.backward()
    assert x.grad == 7.0
    w = Value(2.0)
    a, b = Value(5.0), Value(-1.0)
    out = w * a + w * b  # w on two paths: a + b
    out.backward()
    assert w.grad == 4.0


def test_backward_twice_adds_and_zero_grad_resets() -> None:
    x = Value(0.5)
    y = (x * 3.0).tanh() * x
    y.backward()
    first = x.grad
    y.backward()
    assert x.grad == pytest.approx(2 * first, rel=1e-15)
    assert y.grad == 2.0
    y.zero_grad()
    assert x.grad == 0.0 and y.grad == 0.0
    y.backward()
    assert x.grad == pytest.approx(first, rel=1e-15)
    zero_grad([x])
    assert x.grad == 0.0


def test_backward_with_a_seed() -> None:
    x = Value(2.0)
    y = x * x
    y.backward(0.5)
    assert x.grad == 2.0


def test_graph_100000_deep_backward_iterative() -> None:
    depth = 100_000
    limit = sys.getrecursionlimit()
    x = Value(0.3)
    acc = x
    for _ in range(depth):
        acc = acc * 1.0 + 0.0
    acc.backward()
    assert sys.getrecursionlimit() == limit  # nothing was raised to make it fit
    assert x.grad == 1.0
    assert len(topological_order(acc)) == 2 * depth + 1
    del acc  # freeing a deep graph must not overflow the C stack either


def test_deep_relu_chain_matches_dt_grad() -> None:
    def chain(x, y):
        acc = x
        for _ in range(1000):
            acc = _f("relu", acc * y + x)
        return acc

    x, y = Value(0.5), Value(0.7)
    out = chain(x, y)
    out.backward()
    gx, gy = dt.grad(lambda a, b: chain(a, b), argnums=(0, 1))(0.5, 0.7)
    assert x.grad == pytest.approx(gx, rel=1e-12)
    assert y.grad == pytest.approx(gy, rel=1e-12)


# ---------------------------------------------------------------- forward mode


def _f(name, x):
    """Value method or dualtape.numpy function of the same name (one program, both APIs)."""
    return getattr(x, name)() if isinstance(x, Value) else getattr(dnp, name)(x)


def _graph(a, b, c):
    d = a * b + _f("tanh", c)
    e = _f("sigmoid", d * a) + _f("relu", b - c) ** 2
    return _f("exp", e) / (1.0 + _f("softplus", d)) + _f("log", e)


@pytest.mark.parametrize("which", [0, 1, 2])
def test_forward_tangent_equals_backward_grad(which: int) -> None:
    xs = (0.4, 1.1, -0.3)
    leaves = [Value(v, tangent=1.0 if i == which else None) for i, v in enumerate(xs)]
    out = _graph(*leaves)
    out.backward()
    assert out.tangent == pytest.approx(leaves[which].grad, rel=1e-12)
    assert leaves[which].grad == pytest.approx(
        dt.grad(lambda *a: _graph(*a), argnums=which)(*xs), rel=1e-12)


def test_tangent_readable_on_every_node_and_seedable_after_the_fact() -> None:
    x, w = Value(2.0), Value(3.0)
    z = w * x
    h = z.relu()
    out = h * h
    assert z.tangent is None and out.tangent is None
    w.tangent = 1.0  # seed after the graph was built
    assert out.propagate_tangents() == pytest.approx(2 * 6.0 * 2.0)
    assert z.tangent == 2.0 and h.tangent == 2.0
    # seeding two leaves gives the directional derivative
    x.tangent = 1.0
    assert out.propagate_tangents() == pytest.approx(2 * 6.0 * (2.0 + 3.0))
    w.tangent = x.tangent = None
    assert out.propagate_tangents() == 0.0 and out.tangent is None


def test_forward_mode_matches_dt_jvp() -> None:
    def f(a, b):
        return _f("tanh", a * b) * a + b ** 2

    a, b = Value(0.3, tangent=0.5), Value(-1.2, tangent=2.0)
    out = f(a, b)
    _, t = dt.jvp(f, (0.3, -1.2), (0.5, 2.0))
    assert out.tangent == pytest.approx(t, rel=1e-12)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(["add", "mul", "tanh", "sigmoid", "relu", "sub", "sq"]),
                min_size=1, max_size=25),
       st.floats(-2.0, 2.0), st.floats(-2.0, 2.0))
def test_random_programs_both_modes_agree_with_dt_grad(ops, x0, y0) -> None:
    def prog(x, y):
        acc = x
        for op in ops:
            if op == "add":
                acc = acc + y
            elif op == "mul":
                acc = acc * y
            elif op == "sub":
                acc = x - acc
            elif op == "sq":
                acc = acc * acc * 0.5
            else:
                acc = _f(op, acc)
        return acc

    x, y = Value(x0, tangent=1.0), Value(y0)
    out = prog(x, y)
    out.backward()
    gx, gy = dt.grad(prog, argnums=(0, 1))(x0, y0)
    assert out.data == pytest.approx(float(prog(x0, y0)), rel=1e-12, abs=1e-12)
    assert x.grad == pytest.approx(gx, rel=1e-9, abs=1e-12)
    assert y.grad == pytest.approx(gy, rel=1e-9, abs=1e-12)
    assert (out.tangent if out.tangent is not None else 0.0) == pytest.approx(
        x.grad, rel=1e-9, abs=1e-12)


# ---------------------------------------------------------------- the registry and counting


def test_rules_come_from_the_registry_and_ops_are_counted() -> None:
    x = Value(0.5)
    with dt.count() as c:
        y = (x * 2.0).tanh() + x
        y.backward()
    assert c.by_name["mul"] >= 1 and c.by_name["tanh"] == 1 and c.by_name["add"] >= 1
    assert y.prim is dt.primitives()["add"]


def test_value_data_is_finite_where_python_math_would_raise() -> None:
    big = Value(1000.0)
    assert big.sigmoid().data == 1.0
    assert Value(-1000.0).sigmoid().data == 0.0
    assert big.softplus().data == 1000.0
    with np.errstate(all="ignore"):
        assert math.isinf(big.exp().data)
        assert math.isinf((Value(1.0) / 0.0).data)


def test_numpy_scalar_exponents_and_python_float_gradients() -> None:
    for p in (np.int64(2), np.float32(2.0), np.float64(2.0), 2, 2.0):
        y = Value(3.0) ** p
        assert y.data == 9.0 and type(y.data) is float
    a, b = Value(2.0), Value(3.0)
    (a ** b + abs(a) + 2.0 ** b).backward()
    assert all(type(v.grad) is float for v in (a, b))
    assert a.grad == 3 * 4.0 + 1.0 and math.isclose(b.grad, 8 * math.log(2) * 2)
    with pytest.raises(TypeError, match="exponent"):
        Value(3.0) ** np.bool_(True)
