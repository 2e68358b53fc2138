"""Shared pytest configuration for dualtape's tests.

Kept minimal on purpose: other test authors may add fixtures here.
"""

from __future__ import annotations

import jax
import numpy as np
import pytest

# JAX is the correctness reference; compare in float64.
jax.config.update("jax_enable_x64", True)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: takes more than a few seconds (still run by default)")


@pytest.hookimpl(tryfirst=True)  # before xdist's, which reads the groups into the node ids
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Group each generated case's tests on one worker, and start the slow tests first.

    Tests parametrized by a ``case`` (test_primitives, test_modes) or a ``row``
    (test_numpy_coverage) share one JAX reference (tests/_jaxref.py); the
    ``xdist_group`` keeps them together under ``--dist loadgroup`` so it is computed
    once. Slow tests go to the front of the queue so that both workers finish together.
    """
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        for name, prefix in (("case", "prim:"), ("row", "npcov:")):
            if name in params and hasattr(params[name], "id"):
                item.add_marker(pytest.mark.xdist_group(prefix + params[name].id))
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)  # stable


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded NumPy generator, fresh for every test."""
    return np.random.default_rng(20240601)
