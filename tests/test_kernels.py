"""The short-row reduction kernels (dualtape.ops.kernels) against NumPy's own reductions."""

from __future__ import annotations

import numpy as np
import pytest

import dualtape as dt
import dualtape.numpy as dnp
from dualtape.ops import kernels

SHAPES = [(7, 2), (50, 3), (200, 16), (4, 5, 32), (3, 40)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("keepdims", [False, True])
def test_kernels_match_numpy(shape: tuple, dtype: type, keepdims: bool) -> None:
    x = np.random.default_rng(len(shape) * 100 + shape[-1]).standard_normal(shape).astype(dtype)
    x[0, ..., 1] = np.nan  # NaN propagates as in np.max
    assert kernels.short_rows(x, (-1,))
    np.testing.assert_allclose(kernels.sum_last(x, keepdims), x.sum(-1, keepdims=keepdims),
                               rtol=1e-5 if dtype is np.float32 else 1e-13)
    for ufunc, ref in ((np.maximum, np.max), (np.minimum, np.min)):
        got = kernels.extremum_last(ufunc, x, keepdims)
        assert got.dtype == x.dtype and got.shape == ref(x, -1, keepdims=keepdims).shape
        np.testing.assert_array_equal(got, ref(x, -1, keepdims=keepdims))


def test_short_rows_declines_what_it_cannot_take() -> None:
    x = np.ones((6, 4))
    assert not kernels.short_rows(x, (-2,))  # not the last axis
    assert not kernels.short_rows(x, (-2, -1))
    assert not kernels.short_rows(x[:, ::2], (-1,))  # not contiguous
    assert not kernels.short_rows(x.astype(int), (-1,))  # integers keep NumPy's reduction
    assert not kernels.short_rows(np.ones(6), (-1,))  # one row: NumPy's pairwise sum
    assert not kernels.short_rows(np.ones((6, 1)), (-1,))


def test_reductions_use_them_and_keep_their_derivatives() -> None:
    """sum/max/min over a short last axis, both modes, ties shared as JAX shares them."""
    x = np.random.default_rng(3).standard_normal((30, 5))
    x[2, 1] = x[2, 3] = 9.0  # a tie for the maximum of row 2
    assert np.array_equal(dnp.max(x, axis=1), x.max(axis=1))
    np.testing.assert_allclose(dnp.sum(x, axis=-1), x.sum(axis=-1), rtol=1e-13, atol=1e-14)
    g = dt.grad(lambda v: dnp.sum(dnp.max(v, axis=1) * np.arange(30.0)))(x)
    want = np.zeros_like(x)
    want[np.arange(30), x.argmax(axis=1)] = np.arange(30.0)
    want[2, 1] = want[2, 3] = 1.0  # row 2's weight 2 shared by the two maximisers
    np.testing.assert_allclose(g, want, rtol=1e-15)
    jac = dt.jacrev(lambda v: dnp.min(v, axis=1))(x)  # vector mode: batched cotangents
    assert jac.shape == (30, 30, 5)
    np.testing.assert_allclose(jac.sum(axis=(1, 2)), np.ones(30))
