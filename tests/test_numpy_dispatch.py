"""NumPy's own functions on traced values reach ``dualtape.numpy`` (``__array_function__``
and ``__array_ufunc__``): every dualtape function with a NumPy namesake, by construction."""

from __future__ import annotations

import warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dualtape as dt
import dualtape.numpy as dnp
from dualtape.study.catalog import import_file

jax.config.update("jax_enable_x64", True)

_COVERAGE = import_file(Path(__file__).resolve().parents[1] / "scripts" / "coverage_table.py",
                        "tests")


def _namesakes(module, np_module) -> list[str]:
    """Public dualtape functions whose NumPy namesake dispatches on its arguments' types."""
    out = []
    for name in dir(module):
        fn, np_fn = getattr(module, name), getattr(np_module, name, None)
        if (name.startswith("_") or np_fn is None or fn is np_fn or not callable(fn)
                or isinstance(fn, type) or isinstance(np_fn, type) or not callable(np_fn)):
            continue
        if isinstance(np_fn, np.ufunc) or hasattr(np_fn, "_implementation"):
            out.append(name)
    return out


NAMESAKES = [("", n) for n in _namesakes(dnp, np)] + \
    [("linalg.", n) for n in _namesakes(dnp.linalg, np.linalg)]


@pytest.mark.parametrize("prefix, name", NAMESAKES, ids=[p + n for p, n in NAMESAKES])
def test_every_function_with_a_numpy_namesake_is_reachable_through_numpy(prefix, name):
    """NumPy's function called on a traced value is answered by dualtape (the probe of
    docs/coverage.md's table, scripts/coverage_table.py)."""
    assert _COVERAGE._numpy_dispatches(prefix + name) == "yes", \
        f"numpy.{prefix}{name} does not reach dualtape"


A = np.random.default_rng(3).standard_normal((3, 4))
XP = np.array([-2.0, -0.5, 0.3, 1.0, 2.5])
HOLES = np.arange(12).reshape(3, 4) % 5 == 1  # NaN there

# name -> a function of one array written with ``lib`` (numpy on traced values, or jax.numpy)
CALLS = {
    "median": lambda lib, a: lib.median(a, axis=0),
    "quantile": lambda lib, a: lib.quantile(a, 0.3, axis=1),
    "percentile": lambda lib, a: lib.percentile(a, np.array([10.0, 75.0])),
    "nanvar": lambda lib, a: lib.nanvar(lib.where(HOLES, np.nan, a), axis=1),
    "nanstd": lambda lib, a: lib.nanstd(lib.where(HOLES, np.nan, a), axis=0),
    "nanquantile": lambda lib, a: lib.nanquantile(lib.where(HOLES, np.nan, a), 0.4, axis=1),
    "nanpercentile": lambda lib, a: lib.nanpercentile(lib.where(HOLES, np.nan, a), 60.0),
    "nanmedian": lambda lib, a: lib.nanmedian(lib.where(HOLES, np.nan, a), axis=1),
    "ptp": lambda lib, a: lib.ptp(a, axis=1),
    "cov": lambda lib, a: lib.cov(a),
    "corrcoef": lambda lib, a: lib.corrcoef(a),
    "trapezoid": lambda lib, a: lib.trapezoid(a, XP[:4]),
    "interp": lambda lib, a: lib.interp(a[0], XP, lib.sin(XP)),
    "polyval": lambda lib, a: lib.polyval(a[0], a[1]),
    "vander": lambda lib, a: lib.vander(a[0], 3),
    "convolve": lambda lib, a: lib.convolve(a[0], a[1, :3]),
    "correlate": lambda lib, a: lib.correlate(a[0], a[1, :3], "full"),
    "ediff1d": lambda lib, a: lib.ediff1d(a),
    "heaviside": lambda lib, a: lib.heaviside(a, 0.5) * a,
    "ldexp": lambda lib, a: lib.ldexp(a, 3),
}


@pytest.mark.parametrize("name", list(CALLS))
def test_numpy_functions_give_dualtape_values_and_jax_derivatives_in_both_modes(name):
    call = CALLS[name]
    w = np.cos(np.arange(np.size(call(np, A))) + 1.0).reshape(np.shape(call(np, A)))
    f = lambda a: np.sum(call(np, a) * w)  # noqa: E731  (numpy's functions on traced values)
    jf = lambda a: jnp.sum(call(jnp, a) * w)  # noqa: E731
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_allclose(dt.jvp(lambda a: call(np, a), (A,), (A,))[0], call(np, A),
                                   rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(dt.jvp(lambda a: call(np, a), (A,), (A,))[0], call(dnp, A),
                                   rtol=0, atol=0)
        ref = np.asarray(jax.grad(jf)(jnp.asarray(A)))
        np.testing.assert_allclose(dt.grad(f)(A), ref, rtol=1e-10, atol=1e-12)
        v = np.sin(np.arange(A.size) + 0.5).reshape(A.shape)
        assert float(dt.jvp(f, (A,), (v,))[1]) == pytest.approx(float(np.sum(ref * v)), rel=1e-9,
                                                               abs=1e-12)
