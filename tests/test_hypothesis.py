"""Property tests: random compositions of primitives, checked against JAX and across modes.

An expression is a small tree over one input ``x``: unary elementwise primitives
(with safe domains), binary operations and keepdims reductions. The same tree is
evaluated with dualtape's functions and with independent ``jax.numpy`` ones.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from _trees import assert_tree_close
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import dualtape as dt
import dualtape.numpy as dnp

jax.config.update("jax_enable_x64", True)

SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

# name -> (dualtape version, jax version); each is safe on the whole real line.
UNARY = {
    "sin": (dnp.sin, jnp.sin),
    "cos": (dnp.cos, jnp.cos),
    "tanh": (dnp.tanh, jnp.tanh),
    "arctan": (dnp.arctan, jnp.arctan),
    "sigmoid": (dnp.sigmoid, jax.nn.sigmoid),
    "softplus": (dnp.softplus, jax.nn.softplus),
    "relu": (dnp.relu, jax.nn.relu),
    "neg": (lambda x: -x, lambda x: -x),
    "exp_tanh": (lambda x: dnp.exp(dnp.tanh(x)), lambda x: jnp.exp(jnp.tanh(x))),
    "log_softplus": (lambda x: dnp.log(dnp.softplus(x)), lambda x: jnp.log(jax.nn.softplus(x))),
    "log_sq1": (lambda x: dnp.log(x ** 2 + 1.0), lambda x: jnp.log(x ** 2 + 1.0)),
    "log1p_sq": (lambda x: dnp.log1p(dnp.square(x)), lambda x: jnp.log1p(jnp.square(x))),
    "sqrt_sq1": (lambda x: dnp.sqrt(x * x + 1.0), lambda x: jnp.sqrt(x * x + 1.0)),
    "pow_1_5": (lambda x: (x * x + 1.0) ** 1.5, lambda x: (x * x + 1.0) ** 1.5),
    "recip_sq1": (lambda x: dnp.reciprocal(x * x + 1.0), lambda x: 1.0 / (x * x + 1.0)),
    "expm1_sin": (lambda x: dnp.expm1(dnp.sin(x)), lambda x: jnp.expm1(jnp.sin(x))),
    "cube": (lambda x: x ** 3, lambda x: x ** 3),
    "scale": (lambda x: 0.5 * x + 1.0, lambda x: 0.5 * x + 1.0),
}
BINARY = {
    "add": (lambda a, b: a + b, lambda a, b: a + b),
    "sub": (lambda a, b: a - b, lambda a, b: a - b),
    "mul": (lambda a, b: a * b, lambda a, b: a * b),
    "div": (lambda a, b: a / (b * b + 1.0), lambda a, b: a / (b * b + 1.0)),
    "maximum": (dnp.maximum, jnp.maximum),
    "minimum": (dnp.minimum, jnp.minimum),
    "pow": (lambda a, b: (a * a + 1.0) ** dnp.tanh(b), lambda a, b: (a * a + 1.0) ** jnp.tanh(b)),
}
REDUCE = {
    "sum": (dnp.sum, jnp.sum),
    "mean": (dnp.mean, jnp.mean),
    "max": (dnp.max, jnp.max),
    "min": (dnp.min, jnp.min),
    "prod": (dnp.prod, jnp.prod),
    "logsumexp": (dnp.logsumexp, jax.scipy.special.logsumexp),
}
SHAPES = [(), (3,), (2, 3)]


def _axes(rank):
    """Reduction axes for a value of rank ``rank`` (None means all)."""
    out = [None]
    if rank >= 1:
        out += [0, -1]
    if rank == 2:
        out += [1, (0, 1)]
    return out


@st.composite
def _tree(draw, depth, rank):
    if depth == 0:
        return ("x",)
    kind = draw(st.sampled_from(["u", "u", "b", "b", "r"]))
    if kind == "u":
        return ("u", draw(st.sampled_from(sorted(UNARY))), draw(_tree(depth - 1, rank)))
    if kind == "b":
        left = draw(_tree(depth - 1, rank))
        if draw(st.integers(0, 4)):
            right = draw(_tree(draw(st.integers(0, depth - 1)), rank))
        else:  # a constant operand, on either side
            right = ("c", draw(st.sampled_from([-1.5, 0.5, 2.0])))
        if draw(st.booleans()):
            left, right = right, left
        return ("b", draw(st.sampled_from(sorted(BINARY))), left, right)
    return ("r", draw(st.sampled_from(sorted(REDUCE))), draw(st.sampled_from(_axes(rank))),
            draw(_tree(depth - 1, rank)))


def evaluate(tree, x, which):
    """Evaluate ``tree`` at ``x`` with dualtape's functions (0) or JAX's (1)."""
    tag = tree[0]
    if tag == "x":
        return x
    if tag == "c":
        return tree[1]
    if tag == "u":
        return UNARY[tree[1]][which](evaluate(tree[2], x, which))
    if tag == "b":
        return BINARY[tree[1]][which](evaluate(tree[2], x, which), evaluate(tree[3], x, which))
    return REDUCE[tree[1]][which](evaluate(tree[3], x, which), axis=tree[2], keepdims=True)


@st.composite
def problems(draw):
    """(expression, input, seed): depth 1-6, shape () / (3,) / (2, 3), inputs in [-2, 2]."""
    shape = draw(st.sampled_from(SHAPES))
    depth = draw(st.integers(1, 6))
    tree = draw(_tree(depth, len(shape)))  # depth >= 1: the root is always an operation
    x = draw(hnp.arrays(np.float64, shape, elements=st.floats(-2.0, 2.0, allow_subnormal=False)))
    if shape == () and draw(st.booleans()):
        x = float(x)
    return tree, x, draw(st.integers(0, 2 ** 31 - 1))


def _functions(tree):
    return (lambda x: evaluate(tree, x, 0)), (lambda x: evaluate(tree, x, 1))


def _finite_and_moderate(*arrays):
    return all(np.all(np.isfinite(np.asarray(a))) and np.all(np.abs(np.asarray(a)) < 1e8)
               for a in arrays)


def _close(got, ref):
    ref = np.asarray(ref)
    scale = max(1.0, float(np.max(np.abs(ref)))) if ref.size else 1.0
    assert_tree_close(got, ref, rtol=1e-7, atol=1e-9 * scale)


@SETTINGS
@given(problems())
def test_jvp_matches_jax(problem):
    tree, x, seed = problem
    f, jf = _functions(tree)
    t = np.random.default_rng(seed).normal(size=np.shape(x))
    t = float(t) if isinstance(x, float) else t
    ref_out, ref_t = jax.jvp(jf, (x,), (t,))
    assume(_finite_and_moderate(ref_out, ref_t))
    out, t_out = dt.jvp(f, (x,), (t,))
    _close(out, ref_out)
    _close(t_out, ref_t)


@SETTINGS
@given(problems())
def test_vjp_matches_jax(problem):
    tree, x, seed = problem
    f, jf = _functions(tree)
    out, vjp_fn = dt.vjp(f, x)
    ct = np.random.default_rng(seed).normal(size=np.shape(out))
    ref_out, ref_vjp = jax.vjp(jf, x)
    (ref_ct,) = ref_vjp(ct)
    assume(_finite_and_moderate(ref_out, ref_ct))
    _close(out, ref_out)
    (got_ct,) = vjp_fn(ct)
    assert np.shape(got_ct) == np.shape(x)
    _close(got_ct, ref_ct)


@SETTINGS
@given(problems(), st.sampled_from([1, 2, 4, None]), st.sampled_from([1, 3, None]))
def test_jacfwd_equals_jacrev(problem, chunk_fwd, chunk_rev):
    tree, x, _ = problem
    f, _ = _functions(tree)
    jf = dt.jacfwd(f, chunk=chunk_fwd)(x)
    assume(_finite_and_moderate(jf))
    jr = dt.jacrev(f, chunk=chunk_rev)(x)
    assert np.shape(jf) == np.shape(jr)
    np.testing.assert_allclose(jr, jf, rtol=1e-9, atol=1e-11 * max(1.0, float(np.max(np.abs(jf)))))


@SETTINGS
@given(problems())
def test_hvp_of_summed_expression_matches_jax(problem):
    """Second order: forward over reverse through the whole composition."""
    tree, x, seed = problem
    f, jf = _functions(tree)
    v = np.random.default_rng(seed).normal(size=np.shape(x))
    v = float(v) if isinstance(x, float) else v
    ref = jax.jvp(jax.grad(lambda y: jnp.sum(jf(y))), (x,), (v,))[1]
    assume(_finite_and_moderate(ref))
    _close(dt.hvp(lambda y: dnp.sum(f(y)), (x,), (v,)), ref)
