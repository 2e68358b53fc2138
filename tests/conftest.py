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


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded NumPy generator, fresh for every test."""
    return np.random.default_rng(20240601)
