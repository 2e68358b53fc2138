"""dt.check_grads and dt.check_against_jax catch wrong derivatives and pass right ones."""

from __future__ import annotations

import numpy as np
import pytest

import dualtape as dt
import dualtape.numpy as dnp
from dualtape import registry

X = np.array([0.3, -1.2, 0.8])


@pytest.fixture
def cube(monkeypatch):
    """x**3 with rules scaled by ``factor`` (1: right), and a VJP that may be NaN."""
    monkeypatch.setattr(registry, "_TABLE", dict(registry._TABLE))  # the primitives are ours

    def make(factor: float = 1.0, vjp_nan: bool = False):
        name = f"check_cube_{factor}_{vjp_nan}"
        return dt.primitive(
            name, lambda x: x ** 3, jvp=lambda t, a, x: factor * 3.0 * t * x ** 2,
            vjp=lambda g, a, x: g * np.nan if vjp_nan else factor * 3.0 * g * x ** 2,
            jax_impl=lambda x: x ** 3)

    return make


@pytest.mark.parametrize("modes", [("fwd",), ("rev",), ("fwd", "rev")])
@pytest.mark.parametrize("factor, scale", [(2.0, 1.0), (2.0, 1e-5), (1.0005, 1.0)])
def test_check_grads_catches_a_wrong_rule_in_every_mode(cube, modes, factor, scale):
    # rev alone compared reverse mode with forward mode only, so rules wrong alike passed;
    # the finite differences allowed 100x the tolerances, so 0.05% or a small f passed
    bad = cube(factor)
    with pytest.raises(AssertionError, match="finite differences"):
        dt.check_grads(lambda x: scale * dnp.sum(dnp.sin(bad(x))), (X,), modes=modes)


def test_check_grads_passes_right_derivatives_float32_and_custom_vjp(cube):
    good = cube()
    dt.check_grads(lambda x: dnp.sum(dnp.sin(good(x))), (X,), order=3)
    dt.check_grads(lambda x: dnp.sum(dnp.exp(10.0 * x)), (3.0 * X,))
    # cancellation inside f (variance of values near 1e3): a false alarm at eps = 1e-6
    near = 1e3 + np.random.default_rng(0).standard_normal(50)
    dt.check_grads(lambda x: dnp.mean(x ** 2) - dnp.mean(x) ** 2, (near,))
    # float32: the step and tolerances follow the dtype (a false alarm at eps = 1e-6 before)
    dt.check_grads(lambda x: dnp.sum(x ** 3 * dnp.sin(x)), (X.astype(np.float32),))
    right = dt.custom_vjp(lambda x: dnp.sin(x))
    right.defvjp(lambda x: (dnp.sin(x), x), lambda x, g: (dnp.cos(x) * g,))
    dt.check_grads(lambda x: dnp.sum(right(x)), (X,), order=1, modes=("rev",))
    wrong = dt.custom_vjp(lambda x: dnp.sin(x))
    wrong.defvjp(lambda x: (dnp.sin(x), x), lambda x, g: (2.0 * dnp.cos(x) * g,))
    with pytest.raises(AssertionError, match="reverse mode vs finite differences"):
        dt.check_grads(lambda x: dnp.sum(wrong(x)), (X,), order=1, modes=("rev",))


def test_check_against_jax_fails_nan_and_small_magnitude_errors(cube):
    # a NaN cotangent read ok (max() skipped it); a 2x error on a 1e-10 function too
    nan, bad, good = cube(vjp_nan=True), cube(2.0), cube()
    assert not dt.check_against_jax(lambda x: dnp.sum(nan(x)), X).ok
    assert not dt.check_against_jax(lambda x: 1e-10 * dnp.sum(dnp.sin(bad(x))), X).ok
    assert dt.check_against_jax(lambda x: 1e-10 * dnp.sum(dnp.sin(good(x))), X).ok
