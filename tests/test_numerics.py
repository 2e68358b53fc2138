# ruff: noqa: E501  (tables of one case per line)
"""Order statistics, covariance, interpolation, polynomials and 1-D signals
(dualtape/npext/numerics.py): NumPy's values, JAX's derivatives, checked in both modes."""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dualtape as dt
import dualtape.numpy as dnp

jax.config.update("jax_enable_x64", True)
RNG = np.random.default_rng(21)
A = RNG.standard_normal((4, 5))
V = RNG.standard_normal(7)
XP = np.array([0.0, 0.4, 1.1, 2.0, 3.5])
FP = np.array([1.0, -0.5, 2.0, 0.3, 1.2])

# name -> (dualtape call, numpy call on the same arguments, arguments)
VALUES = {
    "quantile scalar": (lambda a: dnp.quantile(a, 0.3), lambda a: np.quantile(a, 0.3), (A,)),
    "quantile axis": (lambda a: dnp.quantile(a, 0.75, axis=1), lambda a: np.quantile(a, 0.75, axis=1), (A,)),
    "quantile q vector": (lambda a: dnp.quantile(a, np.array([0.0, 0.2, 1.0]), axis=0),
                          lambda a: np.quantile(a, np.array([0.0, 0.2, 1.0]), axis=0), (A,)),
    "quantile keepdims": (lambda a: dnp.quantile(a, [0.1, 0.9], axis=-1, keepdims=True),
                          lambda a: np.quantile(a, [0.1, 0.9], axis=-1, keepdims=True), (A,)),
    "percentile": (lambda a: dnp.percentile(a, 40.0, axis=0), lambda a: np.percentile(a, 40.0, axis=0), (A,)),
    "median even": (lambda a: dnp.median(a, axis=0), lambda a: np.median(a, axis=0), (A,)),
    "median all": (lambda a: dnp.median(a), lambda a: np.median(a), (A,)),
    "ptp": (lambda a: dnp.ptp(a, axis=1), lambda a: np.ptp(a, axis=1), (A,)),
    "cov": (lambda a: dnp.cov(a), lambda a: np.cov(a), (A,)),
    "cov columns, bias": (lambda a: dnp.cov(a, rowvar=False, bias=True), lambda a: np.cov(a, rowvar=False, bias=True), (A,)),
    "cov with y, ddof": (lambda a, v: dnp.cov(a[0], v[:5], ddof=2), lambda a, v: np.cov(a[0], v[:5], ddof=2), (A, V)),
    "cov 1-D": (lambda v: dnp.cov(v), lambda v: np.cov(v), (V,)),
    "corrcoef": (lambda a: dnp.corrcoef(a), lambda a: np.corrcoef(a), (A,)),
    "interp": (lambda x, xp, fp: dnp.interp(x, xp, fp), np.interp, (np.array([-1.0, 0.2, 0.4, 1.7, 3.5, 9.0]), XP, FP)),
    "interp left/right": (lambda x, xp, fp: dnp.interp(x, xp, fp, left=-3.0, right=4.0),
                          lambda x, xp, fp: np.interp(x, xp, fp, left=-3.0, right=4.0),
                          (np.array([-1.0, 2.2, 9.0]), XP, FP)),
    "polyval": (dnp.polyval, np.polyval, (np.array([1.5, -2.0, 0.5, 3.0]), V)),
    "vander": (lambda v: dnp.vander(v[:4]), lambda v: np.vander(v[:4]), (V,)),
    "vander increasing N": (lambda v: dnp.vander(v[:4], 3, increasing=True),
                            lambda v: np.vander(v[:4], 3, increasing=True), (V,)),
    "trapezoid dx": (lambda a: dnp.trapezoid(a, dx=0.5), lambda a: np.trapezoid(a, dx=0.5), (A,)),
    "trapezoid x axis 0": (lambda a, x: dnp.trapezoid(a, x[:4], axis=0),
                           lambda a, x: np.trapezoid(a, x[:4], axis=0), (A, XP)),
    "convolve full": (dnp.convolve, np.convolve, (V, FP)),
    "convolve same": (lambda a, v: dnp.convolve(a, v, "same"), lambda a, v: np.convolve(a, v, "same"), (V, FP)),
    "convolve valid, short first": (lambda a, v: dnp.convolve(a, v, "valid"),
                                    lambda a, v: np.convolve(a, v, "valid"), (FP[:3], V)),
    "convolve same, short first": (lambda a, v: dnp.convolve(a, v, "same"),
                                   lambda a, v: np.convolve(a, v, "same"), (FP[:4], V)),
    "correlate": (dnp.correlate, np.correlate, (V, FP)),
    "correlate full": (lambda a, v: dnp.correlate(a, v, "full"), lambda a, v: np.correlate(a, v, "full"), (V, FP)),
    "correlate same, short first": (lambda a, v: dnp.correlate(a, v, "same"),
                                    lambda a, v: np.correlate(a, v, "same"), (FP[:4], V)),
    "heaviside": (dnp.heaviside, np.heaviside, (np.array([-1.0, 0.0, 2.0, 0.0]), np.array([0.5, 0.25, 0.5, 1.0]))),
}


@pytest.mark.parametrize("name", list(VALUES))
def test_values_match_numpy(name):
    f, ref, args = VALUES[name]
    got = f(*args)
    want = ref(*args)
    assert np.shape(got) == np.shape(want)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


# name -> (dualtape scalar function, JAX's, arguments); JAX is the derivatives' reference
GRADS = {
    "quantile": (lambda a: dnp.sum(dnp.quantile(a, [0.3, 0.8], axis=1) ** 2),
                 lambda a: jnp.sum(jnp.quantile(a, jnp.array([0.3, 0.8]), axis=1) ** 2), (A,)),
    "quantile level": (lambda q: dnp.quantile(A[0], q), lambda q: jnp.quantile(jnp.asarray(A[0]), q), (0.35,)),
    "median": (lambda a: dnp.sum(dnp.median(a, axis=0) ** 2), lambda a: jnp.sum(jnp.median(a, axis=0) ** 2), (A,)),
    "percentile": (lambda a: dnp.percentile(a, 62.0), lambda a: jnp.percentile(a, 62.0), (A,)),
    "ptp": (lambda a: dnp.sum(dnp.ptp(a, axis=0)), lambda a: jnp.sum(jnp.ptp(a, axis=0)), (A,)),
    "cov": (lambda a: dnp.sum(dnp.sin(dnp.cov(a))), lambda a: jnp.sum(jnp.sin(jnp.cov(a))), (A,)),
    "corrcoef": (lambda a: dnp.sum(dnp.corrcoef(a)[0, 1:]), lambda a: jnp.sum(jnp.corrcoef(a)[0, 1:]), (A,)),
    "interp x": (lambda x: dnp.sum(dnp.interp(x, XP, FP) ** 2),
                 lambda x: jnp.sum(jnp.interp(x, jnp.asarray(XP), jnp.asarray(FP)) ** 2), (np.array([0.2, 1.7, 3.0]),)),
    "interp xp fp": (lambda xp, fp: dnp.sum(dnp.interp(np.array([0.2, 1.7, 3.0]), xp, fp) ** 2),
                     lambda xp, fp: jnp.sum(jnp.interp(jnp.array([0.2, 1.7, 3.0]), xp, fp) ** 2), (XP, FP)),
    "polyval": (lambda p, x: dnp.sum(dnp.polyval(p, x)), lambda p, x: jnp.sum(jnp.polyval(p, x)),
                (np.array([1.5, -2.0, 0.5]), V)),
    "vander": (lambda v: dnp.sum(dnp.vander(v[:3]) ** 2), lambda v: jnp.sum(jnp.vander(v[:3]) ** 2), (V,)),
    "trapezoid": (lambda a, x: dnp.sum(dnp.trapezoid(a, x)), lambda a, x: jnp.sum(jnp.trapezoid(a, x)), (A, XP)),
    "trapezoid dx": (lambda h: dnp.sum(dnp.trapezoid(A, dx=h)), lambda h: jnp.sum(jnp.trapezoid(A, dx=h)), (0.3,)),
    "convolve": (lambda a, v: dnp.sum(dnp.convolve(a, v, "same") ** 2),
                 lambda a, v: jnp.sum(jnp.convolve(a, v, "same") ** 2), (V, FP)),
    "correlate": (lambda a, v: dnp.sum(dnp.correlate(a, v, "full") ** 2),
                  lambda a, v: jnp.sum(jnp.correlate(a, v, "full") ** 2), (V, FP)),
    "heaviside": (lambda h: dnp.sum(dnp.heaviside(np.array([-1.0, 0.0, 2.0]), h)),
                  lambda h: jnp.sum(jnp.heaviside(jnp.array([-1.0, 0.0, 2.0]), h)), (np.array([0.5, 0.3, 0.1]),)),
}


@pytest.mark.parametrize("name", list(GRADS))
def test_derivatives_match_jax_in_both_modes(name):
    f, jf, args = GRADS[name]
    argnums = tuple(range(len(args)))
    got = dt.grad(f, argnums=argnums)(*args)
    want = jax.grad(jf, argnums=argnums)(*args)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)
    dt.check_grads(f, args, order=1, modes=("fwd", "rev"))


@pytest.mark.parametrize("kw", [{}, {"axis": 0}, {"axis": 1, "ddof": 1, "keepdims": True}])
def test_nanvar_and_nanstd_skip_nan_like_numpy_and_jax(kw):
    a = A.copy()
    a[1, 2] = a[3, 0] = np.nan
    np.testing.assert_allclose(dnp.nanvar(a, **kw), np.nanvar(a, **kw), rtol=1e-13)
    np.testing.assert_allclose(dnp.nanstd(a, **kw), np.nanstd(a, **kw), rtol=1e-13)
    got = dt.grad(lambda x: dnp.sum(dnp.nanstd(x, **kw)))(a)
    np.testing.assert_allclose(got, jax.grad(lambda x: jnp.sum(jnp.nanstd(x, **kw)))(a), atol=1e-13)
    assert got[1, 2] == 0.0 and got[3, 0] == 0.0


def test_quantile_of_a_slice_holding_nan_is_nan_and_bad_levels_are_refused():
    a = A.copy()
    a[1, 2] = np.nan
    np.testing.assert_array_equal(np.isnan(dnp.quantile(a, 0.5, axis=1)), [False, True, False, False])
    with pytest.raises(ValueError, match=r"q must be in the range \[0, 1\]"):
        dnp.quantile(A, 1.5)
    with pytest.raises(NotImplementedError, match="method='nearest' is not supported"):
        dnp.quantile(A, 0.5, method="nearest")
    with pytest.raises(ValueError, match="mode must be 'full', 'same' or 'valid'"):
        dnp.convolve(V, FP, "wide")
    with pytest.raises(ValueError, match="xp and fp must be 1-D of one length"):
        dnp.interp(0.5, XP, FP[:3])


def test_they_take_jax_arrays_through_jax_numpy():
    np.testing.assert_allclose(dnp.median(jnp.asarray(A)), np.median(A))
    np.testing.assert_allclose(dnp.interp(jnp.asarray([0.5]), jnp.asarray(XP), jnp.asarray(FP)),
                               np.interp([0.5], XP, FP))


def test_review_cases_match_numpy_and_jax():
    """Lists (of traced values too), repeated knots, NumPy 2's rowvar rule, too few degrees of
    freedom, and NumPy's output dtypes."""
    a = np.array([1.0, 2.0, 4.0, 7.0])
    # a traced level inside a list keeps its derivative
    got = dt.grad(lambda t: dnp.sum(dnp.quantile(a, [t, 0.5])))(0.3)
    np.testing.assert_allclose(got, jax.grad(lambda t: jnp.sum(jnp.quantile(jnp.asarray(a), jnp.stack([t, 0.5]))))(0.3))
    # on a sorted value exactly, the level's derivative is 0, as in JAX
    assert dt.grad(lambda q: dnp.quantile(np.array([1.0, 2.0, 4.0]), q))(0.5) == 0.0
    np.testing.assert_allclose(dnp.median([1.0, 2.0, 3.0]), 2.0)
    np.testing.assert_allclose(dnp.trapezoid([1.0, 2.0, 3.0]), 4.0)
    np.testing.assert_allclose(dnp.polyval([1.0, 2.0], [1.0, 2.0]), [3.0, 4.0])
    np.testing.assert_allclose(dnp.interp(np.array([0.5, 1.5]), [0.0, 1, 2], [0.0, 1, 4]), [0.5, 2.5])
    # a repeated last knot: NumPy's value there, and no NaN leaking into derivatives
    xp, fp = np.array([0.0, 1.0, 2.0, 2.0]), np.array([0.0, 1.0, 2.0, 3.0])
    assert dnp.interp(2.0, xp, fp) == np.interp(2.0, xp, fp)
    np.testing.assert_array_equal(dt.grad(lambda f: dnp.interp(5.0, xp, f))(fp), [0.0, 0.0, 0.0, 1.0])
    np.testing.assert_array_equal(dt.grad(lambda f: dnp.interp(-1.0, np.array([0.0, 0.0, 1.0]), f))(fp[:3]),
                                  [1.0, 0.0, 0.0])
    one_row = np.array([[1.0, 2.0, 4.0]])
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):  # one observation each
        assert dnp.cov(one_row, rowvar=False).shape == np.cov(one_row, rowvar=False).shape == (3, 3)
    with pytest.warns(RuntimeWarning, match="degrees of freedom"):
        assert np.isinf(dnp.cov(A[:2, :3], ddof=3)[0, 0])
    with pytest.raises(ValueError, match="ddof must be an integer"):
        dnp.cov(A, ddof=1.5)
    with pytest.raises(ValueError, match="more than 2 dimensions"):
        dnp.cov(np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match="N must be non-negative"):
        dnp.vander(a, -1)
    with pytest.raises(ValueError, match=r"percentile: q must be in the range \[0, 100\]"):
        dnp.percentile(a, 150.0)
    f32 = np.ones(4, np.float32)
    for got, want in ((dnp.quantile(f32, 0.5), np.quantile(f32, 0.5)), (dnp.cov(A.astype(np.float32)), np.cov(A.astype(np.float32))),
                      (dnp.convolve(f32, f32), np.convolve(f32, f32)), (dnp.vander(np.array([1, 2])), np.vander(np.array([1, 2]))),
                      (dnp.heaviside(f32 - 1, np.float32(0.5)), np.heaviside(f32 - 1, np.float32(0.5))),
                      (dnp.interp(np.float32(0.5), f32[:2].cumsum(), f32[:2]), np.interp(np.float32(0.5), f32[:2].cumsum(), f32[:2]))):
        assert np.asarray(got).dtype == np.asarray(want).dtype
        np.testing.assert_allclose(got, want)


@pytest.mark.parametrize("kw", [{"q": 0.3}, {"q": 0.3, "axis": 1}, {"q": [0.1, 0.5, 1.0], "axis": 1},
                                {"q": [0.2, 0.7], "axis": 0, "keepdims": True}, {"q": 0.0, "axis": -1}])
def test_nanquantile_skips_nan_like_numpy(kw):
    a = RNG.standard_normal((4, 6))
    a[1, 2] = a[0, 5] = np.nan
    a[3, :] = np.nan
    kw = dict(kw)
    q = kw.pop("q")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        got = dnp.nanquantile(a, q, **kw)
    # a row of NaN only gives NaN there, with NumPy's warning
    assert any("All-NaN slice" in str(w.message) for w in seen) == (kw.get("axis") in (1, -1))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = np.nanquantile(a, q, **kw)
    assert np.shape(got) == np.shape(want)
    np.testing.assert_allclose(got, want, rtol=1e-13)


def test_nan_order_statistics_ediff1d_and_ldexp_derivatives_match_jax():
    b = RNG.standard_normal((3, 6))
    b[1, 2] = b[0, 5] = np.nan
    f = lambda x: dnp.sum(dnp.nanquantile(x, [0.25, 0.8], axis=1))
    jf = lambda x: jnp.sum(jnp.nanquantile(x, jnp.array([0.25, 0.8]), axis=1))
    np.testing.assert_allclose(dt.grad(f)(b), jax.grad(jf)(b), atol=1e-13)
    np.testing.assert_allclose(dt.grad(lambda t: dnp.nanquantile(b[1], t))(0.35),
                               jax.grad(lambda t: jnp.nanquantile(jnp.asarray(b[1]), t))(0.35))
    np.testing.assert_allclose(dnp.nanmedian(b, axis=1), np.nanmedian(b, axis=1))
    np.testing.assert_allclose(dnp.nanpercentile(b, 40.0, axis=1), np.nanpercentile(b, 40.0, axis=1))
    x = np.array([[1.0, 4.0], [9.0, 2.0]])
    np.testing.assert_array_equal(dnp.ediff1d(x, to_end=[7.0, 8.0], to_begin=-1.0),
                                  np.ediff1d(x, to_end=[7.0, 8.0], to_begin=-1.0))
    np.testing.assert_allclose(dt.grad(lambda a: dnp.sum(dnp.ediff1d(a, to_begin=a[0, 0]) ** 2))(x),
                               jax.grad(lambda a: jnp.sum(jnp.ediff1d(a, to_begin=a[0, 0]) ** 2))(x))
    e, v = np.array([1, -2, 3]), np.array([1.5, 2.0, -0.5])
    np.testing.assert_array_equal(dnp.ldexp(v, e), np.ldexp(v, e))
    assert dnp.ldexp(np.float32(1.5), 2).dtype == np.float32
    np.testing.assert_allclose(dt.grad(lambda a: dnp.sum(dnp.ldexp(a, e)))(v), [2.0, 0.25, 8.0])
    dt.check_grads(f, (np.nan_to_num(b),), order=1)
    with pytest.raises(TypeError, match="x2 must be integers"):
        dnp.ldexp(v, 1.5)


INF, NAN = np.inf, np.nan
F32 = np.array([1.0, 2.0, 3.0, 4.0], np.float32)
Y3, X2 = np.arange(8.0).reshape(2, 2, 2), np.array([[0.0, 1.0], [3.0, 7.0]])
EXPONENTS = np.array([1024, -1100, 5000, -2000, 3])
TIE, LEFT_IN = np.array([1.0, 5.0, 1.0, 1.0]), np.array([True, False, False, False])
# rows selecting 0, 1, 2 and 3 entries: ddof = 2 leaves the first three without a degree of freedom
A4, STEPS = np.arange(12.0).reshape(4, 3) ** 1.5, np.tri(4, 3, -1, bool)

# name -> (dualtape call, numpy call on the same arguments, arguments): values and dtypes
EDGES = {
    "median [inf, inf]": (dnp.median, np.median, (np.array([INF, INF]),)),
    "median [1, inf, inf]": (dnp.median, np.median, (np.array([1.0, INF, INF]),)),
    "median [-inf, -inf, 1]": (dnp.median, np.median, (np.array([-INF, -INF, 1.0]),)),
    "median [-inf, inf]": (dnp.median, np.median, (np.array([-INF, INF]),)),
    "nanmedian [inf, nan, inf]": (dnp.nanmedian, np.nanmedian, (np.array([INF, NAN, INF]),)),
    "median empty axis": (lambda a: dnp.median(a, axis=0), lambda a: np.median(a, axis=0), (np.zeros((0, 3)),)),
    "median empty keepdims": (lambda a: dnp.median(a, axis=0, keepdims=True),
                              lambda a: np.median(a, axis=0, keepdims=True), (np.zeros((0, 3)),)),
    "median empty other axis": (lambda a: dnp.median(a, axis=0), lambda a: np.median(a, axis=0), (np.zeros((3, 0)),)),
    "nanmedian empty": (dnp.nanmedian, np.nanmedian, (np.array([]),)),
    "quantile no levels": (lambda a: dnp.quantile(a, np.array([])), lambda a: np.quantile(a, np.array([])), (np.arange(4.0),)),
    "quantile no levels axis": (lambda a: dnp.quantile(a, [], axis=1), lambda a: np.quantile(a, [], axis=1), (A,)),
    "nanvar ddof = count": (lambda a: dnp.nanvar(a, ddof=3), lambda a: np.nanvar(a, ddof=3), (np.array([1.0, 2.0, 3.0]),)),
    "nanvar ddof > count": (lambda a: dnp.nanvar(a, ddof=5), lambda a: np.nanvar(a, ddof=5), (np.array([1.0, 2.0, 3.0]),)),
    "nanstd ddof rows": (lambda a: dnp.nanstd(a, axis=1, ddof=2), lambda a: np.nanstd(a, axis=1, ddof=2),
                         (np.array([[1.0, 2.0, 3.0], [1.0, NAN, 2.0]]),)),
    "nanvar inf": (dnp.nanvar, np.nanvar, (np.array([1.0, INF, NAN]),)),
    "nanmean bool": (dnp.nanmean, np.nanmean, (np.array([True, False, True]),)),
    "nanmean int8": (dnp.nanmean, np.nanmean, (np.ones(200, np.int8),)),
    "nanmean uint8 axis": (lambda a: dnp.nanmean(a, axis=0), lambda a: np.nanmean(a, axis=0), (np.ones((256, 2), np.uint8),)),
    "nanvar int8": (dnp.nanvar, np.nanvar, (np.arange(100, dtype=np.int8),)),
    "nanmean float32": (dnp.nanmean, np.nanmean, (np.array([1.0, NAN, 2.0], np.float32),)),
    "nansum int": (dnp.nansum, np.nansum, (np.array([1, 2]),)),
    "nansum bool": (dnp.nansum, np.nansum, (np.array([True, True]),)),
    "var fractional ddof": (lambda a: dnp.var(a, ddof=1.5), lambda a: np.var(a, ddof=1.5), (np.array([1.0, 2.0, 4.0, 7.0]),)),
    "var where ddof rows": (lambda a: dnp.var(a, axis=1, ddof=2, where=STEPS), lambda a: np.var(a, axis=1, ddof=2, where=STEPS), (A4,)),
    "std where none selected": (lambda a: dnp.std(a, axis=0, where=STEPS), lambda a: np.std(a, axis=0, where=STEPS), (A4,)),
    "var where int": (lambda a: dnp.var(a, where=a > 1), lambda a: np.var(a, where=a > 1), (np.arange(5),)),
    "std where float32": (lambda a: dnp.std(a, where=a > 1, ddof=1), lambda a: np.std(a, where=a > 1, ddof=1), (F32,)),
    "std fractional ddof": (lambda a: dnp.std(a, ddof=0.5), lambda a: np.std(a, ddof=0.5), (np.array([1.0, 2.0, 4.0, 7.0]),)),
    "trapezoid 2-D x, axis -2": (lambda y, x: dnp.trapezoid(y, x, axis=-2), lambda y, x: np.trapezoid(y, x, axis=-2), (Y3, X2)),
    "trapezoid 2-D x, axis -1": (lambda y, x: dnp.trapezoid(y, x, axis=-1), lambda y, x: np.trapezoid(y, x, axis=-1),
                                 (np.ones((2, 3, 4)), np.ones((3, 1)) * np.arange(4.0))),
    "ldexp out of range": (lambda a: dnp.ldexp(a, EXPONENTS), lambda a: np.ldexp(a, EXPONENTS),
                           (np.array([0.5, 2.0 ** 600, 0.0, INF, 1.5]),)),
    "ldexp float32": (lambda a: dnp.ldexp(a, 130), lambda a: np.ldexp(a, 130), (np.float32(2.0 ** -10),)),
    "max empty initial": (lambda a: dnp.max(a, initial=2.0), lambda a: np.max(a, initial=2.0), (np.zeros(0),)),
    "min empty axis initial": (lambda a: dnp.min(a, axis=0, initial=-1.0), lambda a: np.min(a, axis=0, initial=-1.0), (np.zeros((0, 3)),)),
    "max where initial": (lambda a: dnp.max(a, where=LEFT_IN, initial=1.0), lambda a: np.max(a, where=LEFT_IN, initial=1.0), (TIE,)),
    "max int where": (lambda a: dnp.max(a, where=a < 3, initial=0), lambda a: np.max(a, where=a < 3, initial=0), (np.arange(5),)),
    "interp at the last knot": (lambda x: dnp.interp(x, XP, FP), lambda x: np.interp(x, XP, FP), (np.array([0.0, 1.1, 3.5]),)),
    "polyval poly1d": (lambda x: dnp.polyval(np.poly1d([1.0, 2.0, -3.0]), x),
                       lambda x: np.polyval(np.poly1d([1.0, 2.0, -3.0]), x), (np.array([2.0, 0.5]),)),
    "heaviside float32, Python x2": (lambda a: dnp.heaviside(a, 0.5), lambda a: np.heaviside(a, 0.5), (F32 - 2,)),
    "quantile float32, list q": (lambda a: dnp.quantile(a, [0.3]), lambda a: np.quantile(a, [0.3]), (F32,)),
    "quantile float32, Python q": (lambda a: dnp.quantile(a, 0.3), lambda a: np.quantile(a, 0.3), (F32,)),
    "mean float32 where": (lambda a: dnp.mean(a, where=a > 1), lambda a: np.mean(a, where=a > 1), (F32,)),
    "mean int where": (lambda a: dnp.mean(a, where=a > 1), lambda a: np.mean(a, where=a > 1), (np.arange(4),)),
    "sum int where": (lambda a: dnp.sum(a, where=a > 1), lambda a: np.sum(a, where=a > 1), (np.arange(4, dtype=np.int32),)),
    "prod int where": (lambda a: dnp.prod(a, where=a > 1), lambda a: np.prod(a, where=a > 1), (np.arange(4),)),
    "polyval no coefficients": (lambda x: dnp.polyval(np.array([]), x), lambda x: np.polyval(np.array([]), x), (F32,)),
    "ediff1d float32, float64 end": (lambda a: dnp.ediff1d(a, to_end=np.array([1.0])),
                                     lambda a: np.ediff1d(a, to_end=np.array([1.0])), (F32,)),
}


@pytest.mark.parametrize("name", list(EDGES))
def test_edge_values_and_dtypes_match_numpy(name):
    f, ref, args = EDGES[name]
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got, want = f(*args), ref(*args)
    assert np.asarray(got).dtype == np.asarray(want).dtype
    assert np.shape(got) == np.shape(want)
    np.testing.assert_allclose(got, want, rtol=1e-13)


# name -> (dualtape function, JAX's, arguments): Jacobians in each mode against JAX's in the
# same mode (at these points JAX's two modes can differ: a NaN forward, 0 backward)
LAE_Y = np.array([0.0, 0.0, INF])
REM_X = np.array([1.0, 1e-300, -1e-300, 2.0, 0.0])
EDGE_JACOBIANS = {
    "median [1, inf, inf]": (dnp.median, jnp.median, (np.array([1.0, INF, INF]),)),
    "median [inf, 2, inf, 1]": (dnp.median, jnp.median, (np.array([INF, 2.0, INF, 1.0]),)),
    "nanmedian [inf, nan, inf]": (dnp.nanmedian, jnp.nanmedian, (np.array([INF, NAN, INF]),)),
    "quantile level below inf": (lambda q: dnp.quantile(np.array([1.0, 2.0, INF]), q),
                                 lambda q: jnp.quantile(jnp.array([1.0, 2.0, INF]), q), (0.5,)),
    "nanstd ddof rows": (lambda a: dnp.nanstd(a, axis=1, ddof=2), lambda a: jnp.nanstd(a, axis=1, ddof=2),
                         (np.array([[1.0, 2.0, 3.0], [1.0, NAN, 2.0]]),)),
    "nanvar ddof > count": (lambda a: dnp.nanvar(a, ddof=5), lambda a: jnp.nanvar(a, ddof=5), (np.array([1.0, 2.0, 3.0]),)),
    "nanvar inf": (dnp.nanvar, jnp.nanvar, (np.array([1.0, INF, NAN]),)),
    "var fractional ddof": (lambda a: dnp.var(a, ddof=1.5), lambda a: jnp.var(a, ddof=1.5), (np.array([1.0, 2.0, 4.0, 7.0]),)),
    "trapezoid 2-D x, axis -2": (lambda y, x: dnp.trapezoid(y, x, axis=-2), lambda y, x: jnp.trapezoid(y, x, axis=-2), (Y3, X2)),
    "ldexp out of range": (lambda a: dnp.ldexp(a, EXPONENTS[[0, 1, 3, 4]]), lambda a: jnp.ldexp(a, EXPONENTS[[0, 1, 3, 4]]),
                           (np.array([0.5, 2.0 ** 600, 1.0, 1.5]),)),
    "max where initial tie": (lambda a: dnp.max(a, where=LEFT_IN, initial=1.0),
                              lambda a: jnp.max(a, where=LEFT_IN, initial=1.0), (TIE,)),
    "min where initial tie": (lambda a: dnp.min(a, where=LEFT_IN, initial=1.0),
                              lambda a: jnp.min(a, where=LEFT_IN, initial=1.0), (TIE,)),
    "max initial ties twice": (lambda a: dnp.max(a, initial=1.0), lambda a: jnp.max(a, initial=1.0), (np.array([1.0, 1.0, 0.0]),)),
    "max where rows": (lambda a: dnp.max(a, axis=1, where=np.array([[True, False, True], [False] * 3]), initial=0.5),
                       lambda a: jnp.max(a, axis=1, where=np.array([[True, False, True], [False] * 3]), initial=0.5),
                       (np.array([[1.0, 2.0, 2.0], [0.0, 1.0, 1.0]]),)),
    "interp at the last knot": (lambda x, xp, fp: dnp.interp(x, xp, fp), jnp.interp, (np.array([0.0, 1.1, 3.5]), XP, FP)),
    "polyval poly1d": (lambda x: dnp.polyval(np.poly1d([1.0, 2.0, -3.0]), x),
                       lambda x: jnp.polyval(jnp.array([1.0, 2.0, -3.0]), x), (np.array([2.0, 0.5]),)),
    # the slope in x only: JAX's slope in y at (inf, 0) is 1 (its inf-to-0 substitution), not 0
    "logaddexp at inf": (lambda a: dnp.logaddexp(a, LAE_Y), lambda a: jnp.logaddexp(a, LAE_Y),
                         (np.array([INF, -INF, INF]),)),
    "logaddexp2 at inf": (lambda a: dnp.logaddexp2(a, LAE_Y), lambda a: jnp.logaddexp2(a, LAE_Y),
                          (np.array([INF, -INF, INF]),)),
    # x / y underflowed to -0, so floor gave 0, not -1: remainder's slope in y was 0 (JAX: 1)
    "remainder, quotient underflows": (lambda y: dnp.remainder(REM_X, y), lambda y: jnp.remainder(REM_X, y),
                                       (np.array([-INF, -1e300, 1e300, INF, -INF]),)),
    # forward: 0 * inf from another entry's overflowed co-product gave NaN (JAX: -1e300, 1)
    "prod overflowing co-products": (lambda a: dnp.prod(a, axis=1), lambda a: jnp.prod(a, axis=1),
                                     (np.array([[1e300, -1e300, 1.0], [1e200, 1e200, 1e-200]]),)),
    "cumprod over- and underflowing": (lambda a: dnp.cumprod(a, axis=1), lambda a: jnp.cumprod(a, axis=1),
                                       (np.array([[1e300, 1e300], [1e-300, 1e-300]]),)),
    "mean where none": (lambda a: dnp.mean(a, where=np.zeros(3, bool)), lambda a: jnp.mean(a, where=np.zeros(3, bool)),
                        (np.array([1.0, 2.0, 3.0]),)),
}


@pytest.mark.parametrize("mode", ["rev", "fwd"])
@pytest.mark.parametrize("name", list(EDGE_JACOBIANS))
def test_edge_derivatives_match_jax_in_each_mode(name, mode):
    f, jf, args = EDGE_JACOBIANS[name]
    argnums = tuple(range(len(args)))
    ours, theirs = (dt.jacrev, jax.jacrev) if mode == "rev" else (dt.jacfwd, jax.jacfwd)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = ours(f, argnums=argnums)(*args)
    want = theirs(jf, argnums=argnums)(*(jnp.asarray(a) for a in args))
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-14)


def test_edge_warnings_and_refusals_name_the_problem():
    with pytest.warns(RuntimeWarning, match="Mean of empty slice"):
        dnp.median(np.zeros((0, 3)), axis=0)
    with pytest.warns(RuntimeWarning, match="Mean of empty slice"):
        dnp.nanmedian(np.array([]))
    with pytest.warns(RuntimeWarning, match="Degrees of freedom <= 0"):
        dnp.nanvar(np.array([1.0, 2.0]), ddof=2)
    with pytest.raises(TypeError, match="vander: N: expected an int, got 2.5"):
        dnp.vander(np.array([1.0, 2.0]), 2.5)
    with pytest.raises(TypeError, match="cov: m is complex"):
        dnp.cov(np.array([[1.0 + 0.3j, 2.0], [0.5, -1.0]]))
    with pytest.raises(TypeError, match="cov: y is complex"):
        dnp.cov(np.array([1.0, 2.0]), np.array([1j, 2.0]))
    with pytest.raises(TypeError, match="correlate: v is complex"):
        dnp.correlate(np.array([1.0, 2.0]), np.array([1.0, 1j]))
    with pytest.raises(TypeError, match="to_end of dtype float64 cannot be cast"):
        dnp.ediff1d(np.arange(3), to_end=1.5)
    # a level on one entry, or between two equal infinities, reads that value (JAX's; NumPy's
    # quantile gives NaN there from inf * 0, its median the value)
    assert dnp.quantile(np.array([1.0, INF]), 0.0) == 1.0
    assert dnp.quantile(np.array([INF, INF]), [0.0, 0.3, 1.0]).tolist() == [INF] * 3
    # quantile of an empty slice has no value to read (NumPy raises too)
    with pytest.raises(ValueError, match="empty along the axis"):
        dnp.quantile(np.zeros((0, 3)), 0.5, axis=0)


@pytest.mark.parametrize("x", [[INF, 1.0, 2.0, 3.0], [NAN, 1.0, 2.0], [2.0, -INF, 0.5], [1e300, 1e300], [1e-300, 1e-300]])
def test_cumprod_gradient_at_an_infinite_or_nan_entry_matches_jax(x):
    # dividing the running products by x gave NaN in every entry (JAX: 9 for the first), and
    # dividing overflowed or underflowed ones gave NaN or 0 (JAX: 2e300 + 1, 2e-300 + 1)
    x, w = np.array(x), np.arange(1.0, len(x) + 1)
    with np.errstate(all="ignore"):
        got = dt.grad(lambda a: dnp.sum(dnp.cumprod(a) * w))(x)
    want = jax.grad(lambda a: jnp.sum(jnp.cumprod(a) * w))(jnp.asarray(x))
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_sinc_derivatives_far_from_zero_match_jax():
    # sin(y + j pi/2) with y = pi x large lost the phase: 2e-8 off at 1e8, the wrong sign at 1e300
    x = np.array([1e8 + 0.3, 3e15 + 0.5, 1e300, -1e300])
    for ours, theirs in ((dt.jacrev(dnp.sinc), jax.jacrev(jnp.sinc)),
                         (dt.hessian(lambda a: dnp.sum(dnp.sinc(a))), jax.hessian(lambda a: jnp.sum(jnp.sinc(a))))):
        with np.errstate(over="ignore"):  # y ** k overflows at 1e300: its term is 0
            got = np.diag(ours(x))
        np.testing.assert_allclose(got, np.diag(theirs(jnp.asarray(x))), rtol=1e-12, atol=0)


# name -> (dualtape function, JAX's, point): Hessians of a sum at special points
EDGE_HESSIANS = {
    # (1/3) / cbrt(x)^2 differentiated gave 0 * inf = NaN at 0 and inf (JAX: -inf, inf, -0, 0)
    "cbrt at 0 and inf": (dnp.cbrt, jnp.cbrt, np.array([0.0, -0.0, INF, -INF, 8.0])),
}


@pytest.mark.parametrize("name", list(EDGE_HESSIANS))
def test_edge_hessians_match_jax(name):
    f, jf, x = EDGE_HESSIANS[name]
    with np.errstate(all="ignore"):
        got = dt.hessian(lambda a: dnp.sum(f(a)))(x)
    want = jax.hessian(lambda a: jnp.sum(jf(a)))(jnp.asarray(x))
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(want))


@pytest.mark.parametrize("x", [np.array([-1, 0, 3]), np.array([-1, 0, 3], np.int8),
                               np.array([True, False])])
def test_sigmoid_and_softplus_of_integers_are_floats_as_numpy_gives_them(x):
    # were cast back to the integer dtype: sigmoid([-1, 0, 3]) read [0, 0, 0]
    want = np.exp(x)  # NumPy's floating dtype for this input
    s, p = dnp.sigmoid(x), dnp.softplus(x)
    assert s.dtype == p.dtype == want.dtype
    f = x.astype(np.float64)
    np.testing.assert_allclose(s, 1 / (1 + np.exp(-f)), rtol=1e-3)
    np.testing.assert_allclose(p, np.log1p(np.exp(f)), rtol=1e-3)
    loss = dt.binary_cross_entropy_with_logits(np.array([-3, 0, 2]), np.array([0.0, 1, 1]))
    assert loss == pytest.approx(0.2895541810588866, rel=1e-12)


def test_the_exponent_derivative_of_a_float32_base_is_taken_in_float64():
    # log(a) was taken in float32: a relative error of 7e-8 in a float64 gradient
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    a, b = np.array([1.3, 0.0, 2.5], np.float32), np.array([2.7, 1.5, -0.5])
    want = jax.grad(lambda b: jnp.sum(a ** b))(b)
    np.testing.assert_allclose(dt.grad(lambda b: dnp.sum(a ** b))(b), want, rtol=1e-15)


def test_linspace_of_float32_ends_stays_float32_when_traced():
    # the traced form multiplied by float64 steps: float64 out of float32 ends
    for start in (np.float32(1.5), np.array([1.0, 2.0], np.float32)):
        out, tangent = dt.jvp(lambda s: dnp.linspace(s, 2 * s, 3), (start,), (np.ones_like(start),))
        want = np.linspace(start, 2 * start, 3)
        assert out.dtype == tangent.dtype == want.dtype == np.float32
        np.testing.assert_allclose(out, want, rtol=1e-7)


def test_logsumexp_and_softmax_over_an_empty_axis_as_jax():
    # were NumPy's "zero-size array to reduction operation maximum"
    empty = np.zeros((2, 0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(dnp.logsumexp(empty, axis=1), [-np.inf, -np.inf])
        assert dnp.softmax(empty, axis=1).shape == dnp.log_softmax(empty, axis=1).shape == (2, 0)
        assert dt.jacrev(lambda x: dnp.logsumexp(x, axis=1))(empty).shape == (2, 2, 0)
        assert dnp.logsumexp(np.array([-np.inf, -np.inf])) == -np.inf


def test_fabs_of_integers_and_booleans_is_floating_as_numpys():
    for x in (np.array([1, -2]), np.array([True, False])):
        assert dnp.fabs(x).dtype == np.fabs(x).dtype
        np.testing.assert_array_equal(dnp.fabs(x), np.fabs(x))


def test_diff_and_median_of_booleans_as_numpy():
    # were NumPy's "boolean subtract is not supported" from the float formulas
    b = np.array([True, False, False, True])
    np.testing.assert_array_equal(dnp.diff(b), np.diff(b))
    np.testing.assert_array_equal(dnp.diff(b, prepend=np.array([True])),
                                  np.diff(b, prepend=np.array([True])))
    assert dnp.median(b) == np.median(b) == 0.5
