"""Imports of dualtape and the peers, each raising :class:`Unavailable` when missing.

The peers are imported lazily, when a contender is built, so that a run restricted to a
few workloads does not pay for the others, and a missing peer only skips its contenders.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType
from typing import Any

from benchmarks.contenders import Unavailable

#: Recursion limit for micrograd, whose backward() sorts the graph recursively.
MICROGRAD_RECURSION_LIMIT = 100_000

#: Distribution names of the tools, for the version record in env.json.
TOOL_DISTRIBUTIONS = {
    "dualtape": "dualtape",
    "numpy": "numpy",
    "jax": "jax",
    "jaxlib": "jaxlib",
    "torch": "torch",
    "autograd": "autograd",
    "micrograd": "micrograd",
}


def _import(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise Unavailable(f"{name} is not installed ({exc})") from exc


def dualtape(*attributes: str) -> tuple[ModuleType, ModuleType]:
    """``(dualtape, dualtape.numpy)``, checking that the named API attributes exist."""
    dt = _import("dualtape")
    dnp = _import("dualtape.numpy")
    missing = [a for a in attributes if not hasattr(dt, a)]
    if missing:
        raise Unavailable(f"dualtape has no {', '.join(missing)} yet")
    return dt, dnp


def jax() -> tuple[ModuleType, ModuleType]:
    """``(jax, jax.numpy)`` with float64 enabled (the suite compares in float64)."""
    _import("jax")
    from dualtape.measure.jaxconfig import jax_x64

    return jax_x64(), _import("jax.numpy")


def torch() -> ModuleType:
    """PyTorch (CPU); its thread count is left at the default and recorded in env.json."""
    return _import("torch")


def autograd() -> tuple[ModuleType, ModuleType]:
    """``(autograd, autograd.numpy)``; the latter also registers autograd's JVP rules."""
    return _import("autograd"), _import("autograd.numpy")


def micrograd_value() -> Any:
    """micrograd's ``Value`` class, with the recursion limit raised for its backward()."""
    engine = _import("micrograd.engine")
    if sys.getrecursionlimit() < MICROGRAD_RECURSION_LIMIT:
        sys.setrecursionlimit(MICROGRAD_RECURSION_LIMIT)
    return engine.Value


def preload() -> dict[str, bool]:
    """Import every tool now, before any timing; returns which ones could be imported.

    Importing a library can change how fast the others run in the same process: on the
    2-core machine this suite was built on, importing jax or torch makes NumPy's threaded
    OpenBLAS matmul on 256-wide matrices about 2x faster. Loading everything first puts
    every case, and the control job, in the same process state.
    """
    loaded: dict[str, bool] = {}
    for name, load in (
        ("dualtape", lambda: dualtape()),
        ("jax", jax),
        ("torch", torch),
        ("autograd", autograd),
        ("micrograd", micrograd_value),
    ):
        try:
            load()
            loaded[name] = True
        except Unavailable:
            loaded[name] = False
    return loaded
