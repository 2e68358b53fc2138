"""Workload 6: sparse Jacobians of the 1-D reaction-diffusion residual at n = 10^5.

Pattern detection (``dt.jacobian_sparsity``, the issue's target: under 10 s), colouring
(``dt.color_jacobian`` in both modes) and one coloured Jacobian (``dt.sparse_jacobian``
with pattern and colouring known: three tangents in one forward pass). The detected pattern
is checked against the same band built directly with SciPy. The family is
``dualtape.sparse.families.reaction_diffusion`` (tridiagonal, 3 colours). Needs SciPy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks import peers
from benchmarks.contenders import Case, Contender, Target

N = 100_000
TITLE = f"Sparse Jacobian of a tridiagonal residual, n = {N}"


def _family() -> Any:
    peers.dualtape("jacobian_sparsity")
    from dualtape.sparse.families import make

    return make("reaction_diffusion", N)


def _csr(pattern: Any) -> tuple[np.ndarray, np.ndarray]:
    """A pattern as floats the suite compares: its row pointers and column indices."""
    return pattern.indptr.astype(float), pattern.indices.astype(float)


def _detect() -> Callable[[], Any]:
    dt, _ = peers.dualtape("jacobian_sparsity")
    fam = _family()
    return lambda: _csr(dt.jacobian_sparsity(fam.f, fam.x))


def _by_hand() -> Callable[[], Any]:
    """The reference: the tridiagonal pattern built directly with SciPy (no tracing)."""
    peers.dualtape("jacobian_sparsity")  # SciPy is dualtape's sparse extra
    import scipy.sparse as sp

    def pattern() -> Any:
        band = sp.diags_array([np.ones(N - 1), np.ones(N), np.ones(N - 1)], offsets=[-1, 0, 1])
        out = sp.csr_array(band, dtype=bool)
        out.sort_indices()
        return _csr(out)

    return pattern


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
        Contender("scipy pattern by hand", "scipy", "sparsity", _by_hand, reference=True),
        Contender("dualtape color_jacobian", "dualtape", "coloring", _color),
        Contender("dualtape sparse_jacobian", "dualtape", "sparse_jacobian", _sparse_jacobian),
    ]
    targets = [Target("dualtape jacobian_sparsity", None, 10.0, strict=True)]
    return [Case(6, "6:tridiagonal", TITLE, contenders, targets)]
