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


@pytest.mark.parametrize("shape,axis", [((1000, 10), (-2,)), ((4, 5, 6), (-3, -2)), ((4, 5, 6), (-3,)),
                                        ((100000, 2), (-2,)), ((2, 3), (0,)), ((5, 1000, 2), (-2,)),
                                        ((3, 4, 5, 6), (1, 2)), ((3, 4, 5, 6), (-3,))])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("keepdims", [False, True])
def test_sum_block_matches_numpy(shape: tuple, axis: tuple, dtype: type, keepdims: bool) -> None:
    x = np.random.default_rng(shape[0]).standard_normal(shape).astype(dtype)
    got = kernels.sum_block(x, axis, keepdims)
    want = x.sum(axis=axis, keepdims=keepdims)
    assert got is not None and got.dtype == x.dtype and got.shape == want.shape
    tol = {"rtol": 1e-4 if dtype is np.float32 else 1e-12, "atol": 1e-3 if dtype is np.float32 else 1e-9}
    np.testing.assert_allclose(got, want, **tol)
    np.testing.assert_allclose(dnp.sum(x, axis=axis, keepdims=keepdims), want, **tol)


def test_sum_block_declines_what_it_cannot_take() -> None:
    x = np.ones((6, 4, 3))
    assert kernels.sum_block(x, (-3, -1), False) is None  # not adjacent
    assert kernels.sum_block(x, (-1,), False) is None  # the last axis: NumPy's (or sum_last)
    assert kernels.sum_block(x, (-3, -2, -1), False) is None  # everything: NumPy's pairwise sum
    assert kernels.sum_block(x[:, ::2], (-3,), False) is None  # not contiguous
    assert kernels.sum_block(x.astype(int), (-3,), False) is None
    assert kernels.sum_block(np.ones((0, 3)), (-2,), False) is None
    assert kernels.sum_block(np.ones((1, 3)), (-2,), False) is None  # nothing to add
    assert kernels.sum_block(x, (), False) is None  # no axis


@pytest.mark.parametrize("src,shape", [(np.float64(2.0), (3, 4)), (2.0, (5,)), (np.arange(3.0), (2, 3)),
                                       (np.arange(3.0).reshape(3, 1), (2, 3, 4)),
                                       (np.ones((1, 1)), (4, 1, 5)), (np.arange(6.0)[1:4], (2, 3)),
                                       (np.arange(6.0).reshape(2, 3)[:, 1:], (4, 2, 2)),
                                       (np.ones(0), (3, 0)), (np.array(3), (2,))])
def test_broadcast_view_is_numpys_broadcast(src: object, shape: tuple) -> None:
    got, want = kernels.broadcast_view(src, shape), np.broadcast_to(src, shape)
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
    assert not got.flags.writeable
    with pytest.raises(ValueError):
        kernels.broadcast_view(np.arange(3.0), (4,))


@pytest.mark.parametrize("keepdims", [False, True])
def test_extremum_derivative_shortcuts_share_ties_and_keep_nan(keepdims: bool) -> None:
    """One share for a whole-array max, one cotangent per row for a short-row min: ties
    still share, NaN rows still give NaN, float32 stays float32."""
    x = np.random.default_rng(5).standard_normal(40)
    g = dt.grad(lambda v: dnp.max(v, keepdims=keepdims).sum() * 3.0)(x)
    want = np.zeros(40)
    want[x.argmax()] = 3.0
    np.testing.assert_array_equal(g, want)
    x[[4, 9]] = 10.0  # a tie
    g = dt.grad(lambda v: dnp.max(v, keepdims=keepdims).sum() * 3.0)(x.astype(np.float32))
    assert g.dtype == np.float32 and g[4] == g[9] == 1.5 and g.sum() == 3.0
    rows = np.random.default_rng(6).standard_normal((50, 6))
    w = np.arange(1.0, 51.0)
    f = lambda v: dnp.sum(dnp.min(v, axis=1, keepdims=keepdims).reshape(50) * w)  # noqa: E731
    want = np.zeros_like(rows)
    want[np.arange(50), rows.argmin(axis=1)] = w
    np.testing.assert_array_equal(dt.grad(f)(rows), want)
    rows[7, 2] = rows[7, 4] = -9.0  # a tie in row 7
    rows[11, 0] = np.nan  # row 11's minimum is NaN: no minimiser, a NaN derivative
    with np.errstate(invalid="ignore", divide="ignore"):
        got = dt.grad(f)(rows)
    assert got[7, 2] == got[7, 4] == 4.0 and np.count_nonzero(got[7]) == 2
    assert np.isnan(got[11]).all()  # the two rows' hit counts cancel: the NaN guard's case
    others = np.delete(got, [7, 11], axis=0)
    np.testing.assert_array_equal(others, np.delete(want, [7, 11], axis=0))


@pytest.mark.parametrize(("base", "shape", "like", "cut"), [
    ((5, 1), (5, 4), (5, 4), (5, 1)),            # a reduction's cotangent over the last axis
    ((), (3, 4), (3, 4), (1, 1)),                # a full reduction's
    ((1, 4), (2, 5, 4), (5, 4), (2, 1, 4)),      # a batch axis (stride 0 too) is kept
    ((5, 1), (5, 4), (5, 1), (5, 4)),            # like is itself broadcast there: not cut
    ((5, 4), (5, 4), (5, 4), (5, 4)),            # no broadcast axis: t as it is
])
def test_compact_cuts_broadcast_axes_to_one(base: tuple, shape: tuple, like: tuple,
                                            cut: tuple) -> None:
    rng = np.random.default_rng(3)
    t = np.broadcast_to(rng.standard_normal(base), shape)
    x = rng.standard_normal(like)
    got = kernels.compact(t, x)
    assert got.shape == cut
    np.testing.assert_array_equal(np.broadcast_to(got * x, np.broadcast_shapes(shape, like)),
                                  t * x)


# below and above _COMPACT_FROM, and a large one with short rows (kernels.times_rows)
@pytest.mark.parametrize("shape", [(3, 6, 5), (40, 50, 6), (20, 400, 20)])
def test_square_derivatives_of_a_broadcast_cotangent_match_a_dense_one(shape: tuple) -> None:
    # sum(x * x, axis) hands square's rule a broadcast view; a large one is doubled compact
    x = np.random.default_rng(4).standard_normal(shape)
    f = lambda x: dnp.sum(dnp.exp(-0.5 * dnp.sum(x * x, axis=2)))
    const = x.copy()  # the same values, untraced: mul's one rule, on a dense cotangent
    dense = lambda x: dnp.sum(dnp.exp(-0.5 * dnp.sum(x * const, axis=2)))
    g = dt.grad(f)(x)
    np.testing.assert_allclose(g, -x * np.exp(-0.5 * (x * x).sum(2, keepdims=True)), rtol=1e-13)
    np.testing.assert_allclose(g, 2 * dt.grad(dense)(x), rtol=1e-15)
    v = np.ones_like(x)
    np.testing.assert_allclose(dt.jvp(f, (x,), (v,))[1], np.sum(g * v), rtol=1e-13)


@pytest.mark.parametrize("shape", [(50, 700, 20), (40000, 2), (3, 5), (2000, 40)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_times_rows_is_numpys_broadcast_product(shape: tuple, dtype: type) -> None:
    rng = np.random.default_rng(5)
    x = rng.standard_normal(shape).astype(dtype)
    c = rng.standard_normal(shape[:-1] + (1,)).astype(dtype)
    got = kernels.times_rows(c, x)
    assert got.dtype == dtype and got.shape == shape
    np.testing.assert_array_equal(got, c * x)
    # what it cannot spell out (another dtype, a strided x) is NumPy's own product
    np.testing.assert_array_equal(kernels.times_rows(c.astype(np.float16), x), c.astype(np.float16) * x)
    np.testing.assert_array_equal(kernels.times_rows(c[..., ::1], x[..., ::-1]), c * x[..., ::-1])


@pytest.mark.parametrize(("shape", "index", "gshape"), [
    ((5, 7), (slice(None), np.array([0, 3, 0, 6, 3, 0])), (5, 6)),         # repeats, last axis
    ((6, 3), (np.array([[1, 1], [5, 0]]),), (2, 2, 3)),                     # 2-D index, axis 0
    ((2, 4, 5), (slice(None), np.array([3, 3]), slice(1, 4)), (2, 2, 3)),  # array between slices
    ((4, 3), (np.array([True, False, True, True]),), (3, 3)),               # boolean mask
    ((4,), (np.array([2, 2, 2]),), ()),                                     # a scalar cotangent
    ((3, 5, 2), (slice(None), np.array([-1, 4, -5])), (3, 3, 2)),          # negative indices
])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("bincount", [True, False])
def test_scatter_add_sums_repeats_like_add_at(shape: tuple, index: tuple, gshape: tuple,
                                              dtype: type, bincount: bool,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from dualtape.ops import indexing, scatter_add

    monkeypatch.setattr(indexing, "_BINCOUNT_MIN", 0 if bincount else 10**9)
    g = np.random.default_rng(5).standard_normal(gshape).astype(dtype)
    if gshape == ():
        g, dtype = 1.5, np.float64  # a Python float, broadcast over the three picks
    want = np.zeros(shape, dtype)
    np.add.at(want, index, g)
    got = scatter_add(g, index=index, shape=shape)
    assert got.dtype == want.dtype and got.shape == shape
    np.testing.assert_allclose(got, want, rtol=1e-6 if dtype is np.float32 else 1e-15)


def test_scatter_add_out_of_range_raises_on_either_path(monkeypatch: pytest.MonkeyPatch) -> None:
    from dualtape.ops import indexing, scatter_add

    for least in (0, 10**9):
        monkeypatch.setattr(indexing, "_BINCOUNT_MIN", least)
        with pytest.raises(IndexError):
            scatter_add(np.ones((2, 3)), index=(slice(None), np.array([0, 1, 5])), shape=(2, 4))


@pytest.mark.parametrize("jac", ["jacfwd", "jacrev"])
def test_square_of_one_value_in_vector_mode(jac: str) -> None:
    # x * x as square with batch axes on the tangent or cotangent (chunked and whole)
    x = np.random.default_rng(6).standard_normal((3, 4))
    f = lambda x: dnp.sum(x * x, axis=1) * 0.5
    want = np.zeros((3, 3, 4))
    want[np.arange(3), np.arange(3)] = x
    for chunk in (None, 5):
        np.testing.assert_allclose(getattr(dt, jac)(f, chunk=chunk)(x), want, rtol=1e-14)
