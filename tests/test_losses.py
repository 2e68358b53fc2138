"""Binary cross-entropy on logits: stable for |z| up to 1e3, gradient sigmoid(z) - y, every API."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dualtape as dt
from dualtape import Value
from dualtape.losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    log_sigmoid,
    mse_loss,
)

ZS = [-1000.0, -50.0, 0.0, 50.0, 1000.0, -3.0, 0.25]
YS = [0.0, 1.0, 0.3]


def _jax_bce(z, y):
    z = jnp.asarray(z, dtype=jnp.float64)
    return -(y * jax.nn.log_sigmoid(z) + (1.0 - y) * jax.nn.log_sigmoid(-z))


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


@pytest.mark.parametrize("z", ZS)
@pytest.mark.parametrize("y", YS)
def test_value_cross_entropy_is_finite_matches_jax_and_has_textbook_gradient(z, y) -> None:
    v = Value(z)
    loss = v.cross_entropy(y)
    loss.backward()
    assert math.isfinite(loss.data) and math.isfinite(v.grad)
    assert loss.data == pytest.approx(float(_jax_bce(z, y)), rel=1e-12, abs=1e-300)
    # sigmoid(z) - y, to rounding (at z = 50, y = 1 we return -sigmoid(-50) = -1.9e-22, the
    # exact value, where the float expression sigmoid(50) - 1 rounds to 0) ...
    assert v.grad == pytest.approx(_sigmoid(z) - y, rel=1e-12, abs=1e-15)
    # ... and exactly what JAX gives for its log_sigmoid form
    assert v.grad == pytest.approx(float(jax.grad(_jax_bce)(z, y)), rel=1e-12, abs=1e-300)
    assert binary_cross_entropy_with_logits(Value(z), y).data == loss.data
    # forward mode gives the same derivative
    assert Value(z, tangent=1.0).cross_entropy(y).tangent == pytest.approx(v.grad, abs=1e-15)


def test_array_bce_on_numpy_both_engines_and_jax() -> None:
    z = np.array(ZS)
    for y in (np.zeros_like(z), np.ones_like(z), np.full_like(z, 0.3)):
        want = np.asarray(_jax_bce(z, y))
        got = binary_cross_entropy_with_logits(z, y, reduction="none")
        assert np.all(np.isfinite(got))
        np.testing.assert_allclose(got, want, rtol=1e-12)
        f = lambda t: binary_cross_entropy_with_logits(t, y, reduction="sum")  # noqa: B023
        g_rev = dt.grad(f)(z)
        g_fwd = dt.jacfwd(f)(z)
        g_jax = np.asarray(jax.grad(lambda t: jnp.sum(_jax_bce(t, y)))(jnp.asarray(z)))  # noqa: B023
        textbook = np.array([_sigmoid(v) for v in z]) - y
        for g in (g_rev, g_fwd, g_jax):
            assert np.all(np.isfinite(g))
            np.testing.assert_allclose(g, textbook, rtol=1e-12, atol=1e-15)
            np.testing.assert_allclose(g, g_jax, rtol=1e-12, atol=1e-300)
        # the dualtape function itself runs under jax.grad
        g_same = jax.grad(lambda t: binary_cross_entropy_with_logits(t, jnp.asarray(y),  # noqa: B023
                                                                     reduction="sum"))(
            jnp.asarray(z))
        np.testing.assert_allclose(np.asarray(g_same), g_jax, rtol=1e-12, atol=1e-300)


def test_reductions() -> None:
    z, y = np.array([0.5, -2.0, 3.0]), np.array([1.0, 0.0, 1.0])
    each = binary_cross_entropy_with_logits(z, y, reduction="none")
    assert binary_cross_entropy_with_logits(z, y) == pytest.approx(each.mean())
    assert binary_cross_entropy_with_logits(z, y, reduction="sum") == pytest.approx(each.sum())
    g = dt.grad(lambda t: binary_cross_entropy_with_logits(t, y))(z)
    np.testing.assert_allclose(g, (np.array([_sigmoid(v) for v in z]) - y) / 3, rtol=1e-12)
    with pytest.raises(ValueError, match="reduction"):
        binary_cross_entropy_with_logits(z, y, reduction="avg")
    with pytest.raises(TypeError, match="Value"):
        binary_cross_entropy_with_logits(z, Value(1.0))


def test_textbook_formula_breaks_where_the_stable_one_does_not() -> None:
    with np.errstate(all="ignore"):
        naive = binary_cross_entropy(Value(50.0).sigmoid(), 0.0)
        assert math.isinf(naive.data)  # sigmoid(50) == 1.0 exactly: log(1 - 1)
        arr = binary_cross_entropy(np.array([_sigmoid(-50.0)]), np.array([1.0]))
        assert arr == pytest.approx(50.0, rel=1e-12)  # fine while sigmoid stays representable
    assert Value(50.0).cross_entropy(0.0).data == pytest.approx(50.0, rel=1e-15)


def test_log_sigmoid_and_mse() -> None:
    assert log_sigmoid(-1000.0) == pytest.approx(-1000.0)
    assert log_sigmoid(Value(-1000.0)).data == pytest.approx(-1000.0)
    preds, ys = [Value(1.0), Value(-0.5)], [0.0, 0.5]
    assert mse_loss(preds, ys, reduction="sum").data == pytest.approx(2.0)
    assert mse_loss(preds, ys).data == pytest.approx(1.0)
    assert len(mse_loss(preds, ys, reduction="none")) == 2
    assert mse_loss(np.array([1.0, -0.5]), np.array(ys)) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="predictions"):
        mse_loss(preds, [1.0])


def test_textbook_formula_refuses_probabilities_outside_0_1() -> None:
    # was a silent nan; PyTorch raises too
    with pytest.raises(ValueError, match=r"p: probabilities must lie in \[0, 1\], got values "
                                         r"from -0.2 to 1.5"):
        binary_cross_entropy(np.array([1.5, -0.2]), np.array([1.0, 0.0]))
    with pytest.raises(ValueError, match=r"p: a probability must lie in \[0, 1\], got 1.2"):
        binary_cross_entropy(Value(1.2), 1.0)
    under_jit = jax.jit(lambda p: binary_cross_entropy(p, jnp.array([0.0, 1.0])))
    assert math.isclose(float(under_jit(jnp.array([0.3, 0.9]))), 0.2310177297982794, rel_tol=1e-6)


def test_value_losses_check_reduction_and_take_an_array_of_targets() -> None:
    with pytest.raises(ValueError, match="reduction: expected one of mean, sum, none"):
        binary_cross_entropy(Value(0.3), 1.0, reduction="bogus")
    preds = [Value(0.3), Value(0.2)]
    # was "2 predictions for 1 targets": the array counted as one target
    assert mse_loss(preds, np.array([1.0, 2.0])).data == mse_loss(preds, [1.0, 2.0]).data
