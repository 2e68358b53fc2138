"""Valid input that the argument checks must keep accepting, as NumPy and JAX do."""

from __future__ import annotations

import numpy as np
import pytest

import dualtape as dt
import dualtape.numpy as dnp


def test_diff_takes_a_bool_order_as_numpy_does():
    x = np.array([1.0, 4.0, 9.0, 16.0])
    np.testing.assert_array_equal(dnp.diff(x, True), np.diff(x, True))  # was: n: expected an int
    np.testing.assert_array_equal(dnp.diff(x, False), x)
    np.testing.assert_array_equal(dt.grad(lambda v: dnp.sum(dnp.diff(v, True) ** 2))(x),
                                  dt.grad(lambda v: dnp.sum(dnp.diff(v, 1) ** 2))(x))


@pytest.mark.parametrize("loss", [
    lambda p, y: dt.binary_cross_entropy_with_logits(p, y),
    lambda p, y: dt.lessons.binary_cross_entropy(p * 0.0 + 0.5, y),
    lambda p, y: dt.lessons.mse_loss(p, y),
])
def test_losses_take_labels_that_broadcast_to_the_predictions(loss):
    z = np.array([[0.1, -0.3], [0.4, 2.0]])
    for y in (np.ones(1), np.ones((1, 2)), np.ones((2, 1)), np.array(1.0)):  # was: refused
        assert loss(z, y) == pytest.approx(loss(z, np.broadcast_to(y, z.shape)), rel=1e-15)


def test_mlp_loss_takes_a_label_of_shape_one():
    net = dt.nn.ArrayMLP(2, [3, 1])
    xs = np.array([[0.1, 0.2], [0.3, -0.4], [1.0, 0.5]])
    assert net.loss(xs, np.full(1, 0.5)) == pytest.approx(net.loss(xs, np.full(3, 0.5)))


@pytest.mark.parametrize("seed", [None, np.random.default_rng(3), np.random.SeedSequence(3),
                                  np.int64(3)])
def test_check_grads_and_check_against_jax_take_what_default_rng_takes(seed):
    f = lambda x: dnp.sum(dnp.sin(x) * x)  # noqa: E731
    dt.check_grads(f, (np.array([0.3, -0.7]),), order=1, seed=seed)  # was: seed: expected an int
    assert dt.check_against_jax(f, np.array([0.3, -0.7]), seed=seed).ok


def test_checkpoint_loop_takes_a_jax_state_that_its_step_turns_into_numpy():
    import jax.numpy as jnp

    got = dt.checkpoint_loop(lambda s: np.asarray(s) * 2.0, jnp.ones(2, jnp.float32), 3)
    np.testing.assert_array_equal(got, np.full(2, 8.0, np.float32))  # was: "x0's is not floating"


@pytest.mark.parametrize("seed", [None, np.random.SeedSequence(5), np.int64(5)])
def test_lesson_networks_take_what_default_rng_takes(seed):
    dt.nn.MLP(2, [3, 1], seed=seed)  # was: seed: expected ... (a SeedSequence)
    dt.nn.ArrayMLP(2, [3, 1], seed=seed)


def test_counts_take_a_0d_int_array_as_operator_index_does():
    x, k = np.array([1.0, 4.0, 9.0]), np.array(1)  # was: n: expected an int, got array(1)
    np.testing.assert_array_equal(dnp.diff(x, k), np.diff(x, k))
    dt.check_grads(lambda a: dnp.sin(a), (x,), order=k)
    assert dt.lessons.to_dot(dt.Value(1.0) * 2, digits=np.array(3)) == \
        dt.lessons.to_dot(dt.Value(1.0) * 2, digits=3)
    assert len(dt.nn.Neuron(np.array(2)).w) == 2
    assert dt.checkpoint_loop(lambda s: s * 2.0, 1.0, np.array(3)) == 8.0
