"""dualtape.nn: the scalar MLP on Values and the same MLP on arrays, under every engine."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dualtape import Value, nn
from dualtape.lessons import LESSON_XS, LESSON_YS, max_abs_diff
from dualtape.losses import mse_loss


def test_parameter_counts() -> None:
    assert nn.MLP(3, [4, 4, 1]).num_parameters() == 3 * 4 + 4 + 4 * 4 + 4 + 4 * 1 + 1 == 41
    assert nn.MLP(2, [3, 2, 1]).num_parameters() == 20  # the lesson's exercise network
    assert len(nn.MLP(2, [3, 2, 1]).parameters()) == 20
    assert nn.ArrayMLP(2, [3, 2, 1]).num_parameters() == 20
    assert nn.Neuron(5).num_parameters() == 6
    assert nn.Layer(3, 4).num_parameters() == 16


def test_neuron_layer_mlp_shapes_and_init() -> None:
    n = nn.Neuron(3, rng=0, name="n")
    assert all(-1.0 <= w.data <= 1.0 for w in n.w) and n.b.data == 0.0
    assert [w.label for w in n.w] == ["n.w0", "n.w1", "n.w2"] and n.b.label == "n.b"
    assert isinstance(n([1.0, 2.0, 3.0]), Value)
    layer = nn.Layer(3, 2, rng=0)
    assert len(layer([1.0, 2.0, 3.0])) == 2
    model = nn.MLP(3, [4, 4, 1], seed=0)
    assert isinstance(model([1.0, 2.0, 3.0]), Value)
    assert model.sizes == [3, 4, 4, 1]
    assert "MLP(3, [4, 4, 1]" in repr(model)
    assert nn.MLP(3, [4, 2]).__call__([1.0, 2.0, 3.0]).__len__() == 2
    # same seed, same weights
    a, b = nn.MLP(3, [4, 1], seed=7), nn.MLP(3, [4, 1], seed=7)
    assert [p.data for p in a.parameters()] == [p.data for p in b.parameters()]


def test_activations_and_errors() -> None:
    x = [0.3, -0.2]
    for act in ("relu", "tanh", "sigmoid", None, "linear"):
        model = nn.MLP(2, [3, 1], activation=act, final_activation=act, seed=1)
        out = model(x)
        arr = nn.ArrayMLP.from_scalar(model)
        assert float(arr(np.array(x))[0]) == pytest.approx(out.data, rel=1e-12)
    with pytest.raises(ValueError, match="activation"):
        nn.MLP(2, [3, 1], activation="gelu")
    with pytest.raises(ValueError, match="inputs"):
        nn.Neuron(3)([1.0])
    with pytest.raises(ValueError, match="n_outs"):
        nn.MLP(2, [])
    with pytest.raises(ValueError, match="engine"):
        nn.ArrayMLP(2, [1]).grad(np.ones((1, 2)), np.ones(1), engine="sideways")


def test_zero_grad_resets_parameters() -> None:
    model = nn.MLP(3, [4, 1], seed=0)
    loss = mse_loss([model(x) for x in LESSON_XS], LESSON_YS, reduction="sum")
    loss.backward()
    assert any(p.grad != 0.0 for p in model.parameters())
    model.zero_grad()
    assert all(p.grad == 0.0 for p in model.parameters())


def test_scalar_and_array_mlp_agree_on_value_and_every_gradient() -> None:
    model = nn.MLP(3, [4, 4, 1], seed=3)
    xs, ys = np.array(LESSON_XS), np.array(LESSON_YS)
    loss = mse_loss([model(x) for x in LESSON_XS], LESSON_YS, reduction="sum")
    model.zero_grad()
    loss.backward()
    arr = nn.ArrayMLP.from_scalar(model)
    assert float(arr.loss(xs, ys)) == pytest.approx(loss.data, rel=1e-13)
    mine = nn.scalar_grads(model)
    rev = arr.grad(xs, ys, "reverse")
    fwd = arr.grad(xs, ys, "forward")
    jgrad = jax.grad(lambda p: nn.mlp_loss(p, jnp.asarray(xs), jnp.asarray(ys)))
    ref = [(np.asarray(a), np.asarray(b)) for a, b in
           jgrad([(jnp.asarray(W), jnp.asarray(b)) for W, b in arr.params])]
    for other in (rev, fwd, ref):
        assert max_abs_diff(mine, other) < 1e-12
    # a single sample as a vector gives the same output as a batch of one
    one = arr(xs[0])
    np.testing.assert_allclose(one, arr(xs[:1])[0], rtol=1e-15)


def test_array_mlp_sgd_step_lowers_the_loss() -> None:
    arr = nn.ArrayMLP(3, [4, 4, 1], seed=2)
    xs, ys = np.array(LESSON_XS), np.array(LESSON_YS)
    before = float(arr.loss(xs, ys))
    for _ in range(20):
        arr.sgd_step(arr.grad(xs, ys), lr=0.01)
    assert float(arr.loss(xs, ys)) < before
    assert len(arr.parameters()) == 6
