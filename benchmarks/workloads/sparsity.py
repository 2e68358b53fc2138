"""Workload 6: sparse Jacobians of the 1-D reaction-diffusion residual at n = 10^5.

Pattern detection (``dt.jacobian_sparsity``, the issue's target: under 10 s), colouring
(``dt.color_jacobian`` in both modes) and one coloured Jacobian (``dt.sparse_jacobian``
with pattern and colouring known: three tangents in one forward pass). The family is
``dualtape.sparse.families.reaction_diffusion`` (tridiagonal, 3 colours). Needs SciPy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from benchmarks import peers
from benchmarks.contenders import Case, Contender, Target

N = 100_000
TITLE = f"Sparse Jacobian of a tridiagonal residual, n = {N}"


def _family() -> Any:
    peers.dualtape("jacobian_sparsity")
    from dualtape.sparse.families import make

    return make("reaction_diffusion", N)


def _detect() -> Callable[[], Any]:
    dt, _ = peers.dualtape("jacobian_sparsity")
    fam = _family()
    return lambda: dt.jacobian_sparsity(fam.f, fam.x).indices.astype(float)


def _color() -> Callable[[], Any]:
    dt, _ = peers.dualtape("color_jacobian")
    fam = _family()
    return lambda: dt.color_jacobian(fam.pattern, "auto").colors.astype(float)


def _sparse_jacobian() -> Callable[[], Any]:
    dt, _ = peers.dualtape("sparse_jacobian")
    fam = _family()
    jac = dt.sparse_jacobian(fam.f, sparsity=fam.pattern, mode="fwd")
    jac(fam.x)  # colours the pattern once, outside the timed call
    return lambda: jac(fam.x).data


def cases() -> list[Case]:
    """One case: detection, colouring and the coloured Jacobian at n = 10^5."""
    contenders = [
        Contender("dualtape jacobian_sparsity", "dualtape", "sparsity", _detect),
        Contender("dualtape color_jacobian", "dualtape", "coloring", _color),
        Contender("dualtape sparse_jacobian", "dualtape", "sparse_jacobian", _sparse_jacobian),
    ]
    targets = [Target("dualtape jacobian_sparsity", None, 10.0, strict=True)]
    return [Case(6, "6:tridiagonal", TITLE, contenders, targets)]
