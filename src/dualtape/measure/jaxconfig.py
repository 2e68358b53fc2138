"""JAX with float64 switched on: the one place dualtape sets ``jax_enable_x64``.

dualtape computes in float64 by default, so every comparison with JAX (the tests'
reference, ``check_against_jax``, the studies' checks, the speed suite's peers) needs
JAX in float64 too.  Import this module's :func:`jax_x64` inside a function: it imports
JAX on first use only.
"""

from __future__ import annotations

from types import ModuleType


def jax_x64() -> ModuleType:
    """Import JAX, switch float64 on (idempotent) and return the ``jax`` module."""
    import jax

    if not jax.config.jax_enable_x64:
        jax.config.update("jax_enable_x64", True)
    return jax
