"""dt.checkpoint: the same derivatives as without it (and as JAX's), in every mix of modes."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dualtape as dt
import dualtape.numpy as dnp


def assert_close(got, want, rtol=1e-12):
    got_l, want_l = jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want)
    assert len(got_l) == len(want_l)
    for g, w in zip(got_l, want_l, strict=True):
        g, w = np.asarray(g), np.asarray(w)
        assert g.shape == w.shape
        scale = max(float(np.max(np.abs(w))), 1e-300) if w.size else 1.0
        assert float(np.max(np.abs(g - w), initial=0.0)) <= rtol * scale, (g, w)


def block(x):
    return dnp.sin(dnp.tanh(x) * x) + x ** 2 / 3


def make_loss(ckpt):
    blk = dt.checkpoint(block) if ckpt else block

    def loss(x):
        return dnp.sum(blk(blk(x)) ** 2)

    return loss


@pytest.fixture
def x(rng):
    return rng.standard_normal(5)


def test_grad_equals_plain_and_jax(x):
    want = jax.grad(make_loss(False))(jnp.asarray(x))
    assert_close(dt.grad(make_loss(True))(x), dt.grad(make_loss(False))(x))
    assert_close(dt.grad(make_loss(True))(x), want)


def test_forward_mode_is_the_function_itself(x):
    v = np.linspace(-1, 1, 5)
    got = dt.jvp(make_loss(True), (x,), (v,))
    assert_close(got, dt.jvp(make_loss(False), (x,), (v,)))
    assert_close(got, jax.jvp(make_loss(False), (jnp.asarray(x),), (jnp.asarray(v),)))
    with dt.count() as c1:
        dt.jvp(make_loss(True), (x,), (v,))
    with dt.count() as c0:
        dt.jvp(make_loss(False), (x,), (v,))
    assert c1.by_name == c0.by_name and c1.n_recomputed == 0


@pytest.mark.parametrize("how", ["grad_of_grad", "hessian", "jacrev", "jacfwd", "hvp",
                                 "grad_of_jvp", "jvp_of_grad"])
def test_every_mix_of_modes(x, how):
    v = np.cos(x)
    loss_c, loss_p = make_loss(True), make_loss(False)
    jloss = make_loss(False)
    xj, vj = jnp.asarray(x), jnp.asarray(v)
    if how == "grad_of_grad":
        got = dt.grad(lambda y: dnp.sum(dt.grad(loss_c)(y) ** 2))(x)
        want = jax.grad(lambda y: jnp.sum(jax.grad(jloss)(y) ** 2))(xj)
        assert_close(got, dt.grad(lambda y: dnp.sum(dt.grad(loss_p)(y) ** 2))(x))
    elif how == "hessian":
        got, want = dt.hessian(loss_c)(x), jax.hessian(jloss)(xj)
    elif how == "jacrev":
        got, want = dt.jacrev(dt.checkpoint(block))(x), jax.jacrev(block)(xj)
    elif how == "jacfwd":
        got, want = dt.jacfwd(dt.checkpoint(block))(x), jax.jacfwd(block)(xj)
    elif how == "hvp":
        got = dt.hvp(loss_c, (x,), (v,))
        want = jax.jvp(jax.grad(jloss), (xj,), (vj,))[1]
    elif how == "grad_of_jvp":
        got = dt.grad(lambda y: dt.jvp(loss_c, (y,), (v,))[1])(x)
        want = jax.grad(lambda y: jax.jvp(jloss, (y,), (vj,))[1])(xj)
    else:
        got = dt.jvp(dt.grad(loss_c), (x,), (v,))[1]
        want = jax.jvp(jax.grad(jloss), (xj,), (vj,))[1]
    assert_close(got, want)


def test_checkpoint_inside_checkpoint(x):
    inner = dt.checkpoint(block)
    outer = dt.checkpoint(lambda y: inner(inner(y)) * 2)
    f = lambda y: dnp.sum(outer(y) ** 2)  # noqa: E731
    want = jax.grad(lambda y: jnp.sum((block(block(y)) * 2) ** 2))(jnp.asarray(x))
    assert_close(dt.grad(f)(x), want)
    assert_close(dt.hessian(f)(x), jax.hessian(
        lambda y: jnp.sum((block(block(y)) * 2) ** 2))(jnp.asarray(x)))
    with dt.count() as c:
        dt.grad(f)(x)
    with dt.count() as plain:
        block(x)  # NumPy's own operators on plain arrays are not dualtape ops
    with dt.count() as traced:
        dt.vjp(block, x)
    # the outer body is recorded again: its two inner blocks run as entries (plain values
    # inside), plus `* 2`; pulling back through that recording records each inner block again
    assert c.n_recomputed == 2 * plain.n_ops + 2 + 1 + 2 * traced.n_ops
    assert c.recomputed_by_name["checkpoint"] == 2


def test_pytrees_closures_kwargs_and_static_args(rng):
    W = rng.standard_normal((3, 3))
    b = rng.standard_normal(3)
    x = rng.standard_normal(3)

    def layer(p, h, act, scale=1.0):
        z = act(p["W"] @ h + p["b"]) * scale
        return {"z": z, "mean": dnp.mean(z), "n": 3}

    def loss(W, b, ckpt):
        f = dt.checkpoint(layer, static_argnums=2) if ckpt else layer
        out = f({"W": W, "b": b}, x, dnp.tanh, scale=b[0])
        g = dt.checkpoint(lambda h: dnp.tanh(W @ h)) if ckpt else (lambda h: dnp.tanh(W @ h))
        assert out["n"] == 3
        return dnp.sum(g(out["z"]) ** 2) + out["mean"]

    got = dt.grad(loss, argnums=(0, 1))(W, b, True)
    assert_close(got, dt.grad(loss, argnums=(0, 1))(W, b, False))
    assert_close(got, jax.grad(loss, argnums=(0, 1))(jnp.asarray(W), jnp.asarray(b), False))


def test_tape_keeps_inputs_only_and_count_reports_recomputation(rng):
    W = rng.standard_normal((16, 16)) / 4
    x = rng.standard_normal(16)

    def chain(h):
        for _ in range(10):
            h = dnp.tanh(dnp.matmul(W, h))  # `W @ h` on plain arrays would be NumPy's, uncounted
        return h

    def recording(f):
        with dt.count() as c:
            dt.vjp(f, x)
        return c

    plain, ckpt = recording(chain), recording(dt.checkpoint(chain))
    assert ckpt.tape_entries == 1 and ckpt.tape_bytes == x.nbytes
    assert plain.tape_entries >= 20 and plain.tape_bytes > 10 * x.nbytes
    with dt.count() as c0:
        dt.grad(lambda h: dnp.sum(chain(h)))(x)
    with dt.count() as c1:
        dt.grad(lambda h: dnp.sum(dt.checkpoint(chain)(h)))(x)
    # exactly one more recording of the chain, op for op
    assert c1.n_recomputed == plain.n_ops and c1.recomputed_by_name == plain.by_name
    assert c1.n_ops - c1.n_recomputed - c1.by_name["checkpoint"] == c0.n_ops
    assert c0.n_recomputed == 0


def test_vjp_called_twice_and_batched_cotangents(x):
    f = dt.checkpoint(lambda y: (dnp.sin(y), y[0] * y))
    out, pull = dt.vjp(f, x)
    ct = (np.ones(5), np.arange(5.0))
    first, second = pull(ct), pull(ct)
    want = jax.vjp(lambda y: (jnp.sin(y), y[0] * y), jnp.asarray(x))[1](ct)
    assert_close(first, want)
    assert_close(second, want)
    assert_close(dt.jacrev(f, chunk=2)(x), jax.jacrev(lambda y: (jnp.sin(y), y[0] * y))(
        jnp.asarray(x)))


def test_partials_and_negative_static_argnums_as_jax():
    # were refused: a partial's bound tracer was "outside its arguments", and -1 not an int >= 0
    x = np.array([0.1, 0.2, 0.3])

    def f(w, ck, xp):
        inner = functools.partial(lambda c, a, k=1.0: xp.sin(a * c) * k, w, k=w)
        return xp.sum(ck(functools.partial(inner))(x * w))

    ours = lambda w: f(w, dt.checkpoint, dnp)  # noqa: E731
    theirs = lambda w: f(w, jax.checkpoint, jnp)  # noqa: E731
    assert_close(dt.grad(ours)(0.7), jax.grad(theirs)(0.7))
    assert_close(dt.hessian(ours)(0.7), jax.hessian(theirs)(0.7))
    power = lambda ck, xp: lambda w: xp.sum(  # noqa: E731
        ck(lambda a, k: xp.sin(a) ** k, static_argnums=-1)(x * w, 3))
    assert_close(dt.grad(power(dt.checkpoint, dnp))(0.7),
                 jax.grad(power(jax.checkpoint, jnp))(0.7))
    with dt.count() as c:
        dt.grad(ours)(0.7)
    assert c.n_recomputed > 0


def test_bad_input():
    with pytest.raises(TypeError, match="fun: expected a callable"):
        dt.checkpoint(3)
    with pytest.raises(TypeError, match="static_argnums"):
        dt.checkpoint(np.sin, static_argnums="a")
    with pytest.raises(ValueError, match="static_argnums: 2 is out of range"):
        dt.grad(lambda y: dt.checkpoint(lambda a: a, static_argnums=2)(y))(1.0)
    with pytest.raises(ValueError, match="static_argnums: -2 is out of range"):
        dt.grad(lambda y: dt.checkpoint(lambda a: a, static_argnums=-2)(y))(1.0)
    with pytest.raises(TypeError, match="static_argnums"):
        dt.checkpoint(np.sin, static_argnums=True)

    class Holder:
        pass

    h = Holder()

    def hidden(y):
        h.w = y * 2  # reached through an attribute, not the closure: cannot be made an input
        return dt.checkpoint(lambda a: a * h.w)(y)

    with pytest.raises(TypeError, match="pass that value as an argument"):
        dt.grad(hidden)(1.0)
    mixed = dt.checkpoint(lambda a: (a, np.float32(1.0) * np.ones(2, np.float32)))
    with pytest.raises(NotImplementedError, match="different float dtypes"):
        dt.grad(lambda a: mixed(a)[0])(1.0)


def loop_closures(m, ck, kind):
    """A chain of checkpointed lambdas built in a loop, each reading the loop's variables."""
    x = np.array([0.3, 0.5, 0.9])

    def loss(w):
        h = x
        for i, s in enumerate([0.5, 1.5, -2.0]):
            if kind == "constant":  # a plain float that the next iteration rebinds
                h = ck(lambda b: m.sin(b * s * w[0]))(h)  # noqa: B023
            elif kind == "traced":  # a traced value indexed by the loop's int
                h = ck(lambda a: m.sin(a * w[i]))(h)  # noqa: B023
            elif kind == "default":  # bound as a default argument, traced
                h = ck(lambda a, wi=w[i], s=s: m.sin(a * wi + s))(h)
            else:  # through a helper defined in the loop: the helpers share the cell of `s`
                def act(z):
                    return m.tanh(z * s) + w[i]  # noqa: B023

                h = ck(lambda a: act(m.sin(a)) * w[i])(h)  # noqa: B023
        return m.sum(h ** 2)

    return loss


@pytest.mark.parametrize("kind", ["constant", "traced", "default", "nested"])
def test_replay_sees_the_closure_as_it_was_at_the_call(kind):
    w = np.array([0.5, 1.5, -2.0])
    loss, jloss = loop_closures(dnp, dt.checkpoint, kind), loop_closures(jnp, jax.checkpoint, kind)
    assert_close(dt.grad(loss)(w), jax.grad(jloss)(jnp.asarray(w)))
    assert_close(dt.hessian(loss)(w), jax.hessian(jloss)(jnp.asarray(w)), rtol=1e-10)
    assert_close(dt.jacfwd(dt.grad(loss))(w), jax.hessian(jloss)(jnp.asarray(w)), rtol=1e-10)


def test_replay_leaves_the_closures_as_it_found_them():
    seen, reads = [], {}
    x = np.array([0.3, 0.5])

    def loss(w):
        count, s = 0, 0.5

        def body(a):
            nonlocal count
            count += 1
            seen.append(s)
            return dnp.sin(a * s * w)

        h = dt.checkpoint(body)(x)
        s = 2.0
        h = dt.checkpoint(body)(h)
        reads.update(count=lambda: count, s=lambda: s)
        del reads["s"].__closure__[0].cell_contents  # `del s`: the replays still see it
        return dnp.sum(h)

    got = dt.grad(loss)(1.3)
    assert_close(got, jax.grad(lambda w: jnp.sum(jnp.sin(jnp.sin(x * 0.5 * w) * 2.0 * w)))(1.3))
    # the calls' own writes stay; the replays (the second call first) see each call's `s`,
    # and leave `count` and `s` as they found them
    assert seen == [0.5, 2.0, 2.0, 0.5] and reads["count"]() == 2
    with pytest.raises(NameError):
        reads["s"]()


def test_jax_keywords_prevent_cse_and_the_nothing_saveable_policy_are_accepted():
    f = dt.checkpoint(lambda x: dnp.sin(x) * x, prevent_cse=False,
                      policy=jax.checkpoint_policies.nothing_saveable)
    x = np.array([0.3, 1.2])
    np.testing.assert_allclose(dt.grad(lambda x: dnp.sum(f(x)))(x), np.cos(x) * x + np.sin(x))
    with pytest.raises(NotImplementedError, match="policy: 'everything_saveable' is not supported"):
        dt.checkpoint(lambda x: x, policy=jax.checkpoint_policies.everything_saveable)
    with pytest.raises(TypeError, match="prevent_cse: expected a bool"):
        dt.checkpoint(lambda x: x, prevent_cse="no")
