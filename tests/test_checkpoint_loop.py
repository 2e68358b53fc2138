"""dt.checkpoint_loop: every policy gives the plain loop's derivatives (and JAX's), and the
binomial schedule makes exactly the optimal number of step evaluations."""

from __future__ import annotations

import math
import sys
from functools import cache

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_checkpoint import assert_close

import dualtape as dt
import dualtape.numpy as dnp
from dualtape.revolve import beta, binomial_cost

POLICIES = [("none", {}), ("every", {"every": 7}), ("sqrt", {}), ("binomial", {"snapshots": 3}),
            ("binomial", {"snapshots": 1}), ("binomial", {})]
N = 40


def rk4_step(theta, h=0.05):
    """One RK4 step of a damped pendulum with a forcing term; the state is (q, p, t)."""

    def rhs(q, p, t):
        return p, -theta[0] * dnp.sin(q) - theta[1] * p + theta[2] * dnp.cos(t)

    def step(s):
        q, p, t = s
        k1 = rhs(q, p, t)
        k2 = rhs(q + h / 2 * k1[0], p + h / 2 * k1[1], t + h / 2)
        k3 = rhs(q + h / 2 * k2[0], p + h / 2 * k2[1], t + h / 2)
        k4 = rhs(q + h * k3[0], p + h * k3[1], t + h)
        return (q + h / 6 * (k1[0] + 2 * k2[0] + 2 * k3[0] + k4[0]),
                p + h / 6 * (k1[1] + 2 * k2[1] + 2 * k3[1] + k4[1]), t + h)

    return step


def make_loss(policy, kw, n=N):
    def loss(theta, q0):
        s = dt.checkpoint_loop(rk4_step(theta), (q0, q0 * 0.5, 0.0), n, policy=policy, **kw)
        return dnp.sum(s[0] ** 2) + dnp.sum(dnp.sin(s[1]))

    return loss


def _jax_loop(theta, q, n, p0=1.0):
    step = rk4_step(theta)
    return jax.lax.fori_loop(0, n, lambda i, s: step(s), (q, q * p0, 0.0))


@jax.jit
def jax_loss(theta, q0):
    s = _jax_loop(theta, q0, N, 0.5)
    return jnp.sum(s[0] ** 2) + jnp.sum(jnp.sin(s[1]))


def jax_loss12(theta, q0):
    s = _jax_loop(theta, q0, 12, 0.5)
    return jnp.sum(s[0] ** 2) + jnp.sum(jnp.sin(s[1]))


@pytest.fixture
def args(rng):
    return np.array([1.3, 0.2, 0.4]), rng.standard_normal(3)


@pytest.mark.parametrize(("policy", "kw"), POLICIES)
def test_gradient_equals_plain_loop_and_jax(args, policy, kw):
    theta, q0 = args
    got = dt.grad(make_loss(policy, kw), argnums=(0, 1))(theta, q0)
    assert_close(got, dt.grad(make_loss("none", {}), argnums=(0, 1))(theta, q0))
    assert_close(got, jax.grad(jax_loss, argnums=(0, 1))(jnp.asarray(theta), jnp.asarray(q0)))


@pytest.mark.parametrize(("policy", "kw"), POLICIES)
def test_forward_mode_runs_the_loop(args, policy, kw):
    theta, q0 = args
    v = np.array([0.3, -1.0, 2.0])
    with dt.count() as c:
        got = dt.jvp(lambda q: make_loss(policy, kw)(theta, q), (q0,), (v,))
    want = jax.jvp(lambda q: jax_loss(jnp.asarray(theta), q), (jnp.asarray(q0),),
                   (jnp.asarray(v),))
    assert_close(got, want)
    assert c.n_recomputed == 0


THETA2, Q2 = np.array([1.1, 0.3, 0.5]), np.array([0.4, -0.2, 0.9])


@pytest.fixture(scope="module")
def jax_second_order():
    """JAX's Hessian and grad of the squared gradient norm for the 12-step loop (jitted once)."""
    tj, qj = jnp.asarray(THETA2), jnp.asarray(Q2)
    hess = jax.jit(jax.hessian(jax_loss12, argnums=1))(tj, qj)
    gg = jax.jit(jax.grad(lambda t: jnp.sum(jax.grad(jax_loss12, argnums=1)(t, qj) ** 2)))(tj)
    return hess, gg


@pytest.mark.parametrize(("policy", "kw"), [("binomial", {"snapshots": 2}),
                                            ("every", {"every": 4}), ("none", {})])
def test_second_order(jax_second_order, policy, kw):
    loss = make_loss(policy, kw, n=12)
    hess, gg = jax_second_order
    assert_close(dt.hessian(lambda q: loss(THETA2, q))(Q2), hess)
    got = dt.grad(lambda t: dnp.sum(dt.grad(lambda q: loss(t, q))(Q2) ** 2))(THETA2)
    assert_close(got, gg)


def test_checkpoint_loop_inside_checkpoint_and_repeated_pullbacks(args):
    theta, q0 = args
    body = dt.checkpoint(lambda t, q: dt.checkpoint_loop(rk4_step(t), (q, q, 0.0), 9,
                                                           snapshots=2)[0])
    f = lambda q: body(theta, q)  # noqa: E731
    want = jax.jacrev(lambda q: _jax_loop(jnp.asarray(theta), q, 9)[0])(jnp.asarray(q0))
    assert_close(dt.jacrev(f, chunk=1)(q0), want)  # three pullbacks of one recording
    assert_close(dt.jacrev(f)(q0), want)  # one batched pullback


@cache
def optimal_advances(l: int, c: int) -> int:
    """Brute force: the fewest untaped steps that reverse l steps with c snapshots."""
    if l == 1:
        return 0
    if c == 1:
        return optimal_advances(l - 1, 1) + l - 1  # advance from x0 to x_{l-1}, then the rest
    return min(m + optimal_advances(m, c) + optimal_advances(l - m, c - 1) for m in range(1, l))


@pytest.mark.slow
def test_binomial_makes_the_optimal_number_of_steps():
    """One dt.grad per (n, s), n <= 200, s <= 6 (about 120,000 one-step recordings)."""
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 5000))
    calls = [0]

    def step(x):
        calls[0] += 1
        return x * 0.999 + 0.001

    for s in range(1, 7):
        for n in range(1, 201):
            calls[0] = 0
            loss = lambda x: dt.checkpoint_loop(step, x, n, snapshots=s, return_stats=True)  # noqa: B023,E731
            stats = []
            g = dt.grad(lambda x: _keep(loss(x), stats))(0.5)  # noqa: B023
            assert g == pytest.approx(0.999 ** n, rel=1e-12)
            best = optimal_advances(n, s)
            assert calls[0] == n + best, (n, s)
            st = stats[0]
            assert st.forward_steps == calls[0] and st.recorded_steps == n
            assert st.peak_snapshots <= s and st.recomputed_steps == best
            assert best == binomial_cost(n, s)


def _keep(out_stats, into):
    into.append(out_stats[1])
    return out_stats[0]


def test_closed_form_and_stats(args):
    r = 3
    assert binomial_cost(beta(4, r), 4) == r * beta(4, r) - beta(5, r - 1)
    theta, q0 = args
    for policy, kw, peak in [("every", {"every": 7}, math.ceil(N / 7)),
                             ("sqrt", {}, math.ceil(N / math.ceil(math.sqrt(N)))),
                             ("binomial", {"snapshots": 4}, 4), ("none", {}, N)]:
        out = []

        def loss(q):
            s, st = dt.checkpoint_loop(rk4_step(theta), (q, q, 0.0), N, policy=policy,  # noqa: B023
                                       return_stats=True, **kw)  # noqa: B023
            out.append(st)  # noqa: B023
            return dnp.sum(s[0])

        dt.grad(loss)(q0)
        assert out[0].peak_snapshots == peak
        if policy in ("every", "sqrt"):
            k = kw.get("every") or math.ceil(math.sqrt(N))
            assert out[0].forward_steps == N + (N - 1) // k * k
    _, st = dt.checkpoint_loop(rk4_step(theta), (q0, q0, 0.0), N, return_stats=True)
    assert st.forward_steps == N and st.recorded_steps == 0


def test_zero_steps_and_bad_input(args):
    theta, q0 = args
    assert dt.grad(lambda q: dnp.sum(dt.checkpoint_loop(dnp.sin, q, 0)))(q0) == \
        pytest.approx(np.ones(3))
    with pytest.raises(TypeError, match="step: expected a callable"):
        dt.checkpoint_loop(3, q0, 2)
    with pytest.raises(ValueError, match="n_steps: expected an int >= 0"):
        dt.checkpoint_loop(dnp.sin, q0, -1)
    with pytest.raises(ValueError, match="policy: expected one of"):
        dt.checkpoint_loop(dnp.sin, q0, 2, policy="revolve")
    with pytest.raises(ValueError, match="every: policy 'every' needs"):
        dt.checkpoint_loop(dnp.sin, q0, 2, policy="every")
    with pytest.raises(ValueError, match="every: only used by policy 'every'"):
        dt.checkpoint_loop(dnp.sin, q0, 2, every=3)
    with pytest.raises(ValueError, match="snapshots: expected an int >= 1"):
        dt.checkpoint_loop(dnp.sin, q0, 2, snapshots=0)
    with pytest.raises(ValueError, match="more than snapshots=2"):
        dt.checkpoint_loop(dnp.sin, q0, 10, policy="every", every=2, snapshots=2)
    with pytest.raises(ValueError, match="step: returned a state with structure"):
        dt.grad(lambda q: dt.checkpoint_loop(lambda s: (s, s), q, 3))(1.0)


def loop_of_loops(m, loop):
    """Loops started in a Python loop; each step reads that loop's variables (a plain float,
    a traced value indexed by the loop's int) directly and through a helper."""

    def loss(w):
        h = np.array([0.3, 0.5, 0.9])
        for i, s in enumerate([0.5, 1.5, -2.0]):
            def act(z):
                return m.tanh(z * s)  # noqa: B023

            h = loop(lambda a: act(m.sin(a * w[i] + s)), h, 5)  # noqa: B023
        return m.sum(h ** 2)

    return loss


@pytest.mark.parametrize("policy,kw", POLICIES)
def test_replay_sees_the_closure_as_it_was_at_the_call(policy, kw):
    w = np.array([0.5, 1.5, -2.0])
    loss = loop_of_loops(dnp, lambda f, h, n: dt.checkpoint_loop(f, h, n, policy=policy, **kw))
    jloss = loop_of_loops(jnp, lambda f, h, n: jax.lax.fori_loop(0, n, lambda i, a: f(a), h))
    assert_close(dt.grad(loss)(w), jax.grad(jloss)(jnp.asarray(w)))
    assert_close(dt.hessian(loss)(w), jax.hessian(jloss)(jnp.asarray(w)), rtol=1e-10)


def test_leaf_kinds_are_checked_once_per_run_not_per_segment(monkeypatch):
    import dualtape.loop as loop

    seen = []
    floating = loop._floating
    monkeypatch.setattr(loop, "_floating", lambda v: seen.append(v) or floating(v))
    f = lambda x: dnp.sum(dt.checkpoint_loop(lambda s: dnp.sin(s) * 1.01, x, 60, snapshots=3))  # noqa: E731
    dt.grad(f)(np.ones(4))
    assert len(seen) == 2  # x0's leaf and the first step's (was: 2 per segment, 238 here)
