"""Problem families with known sparse Jacobians (the ``sparse_jacobians`` study's and the tests').

Each family builds, for a requested size ``n`` (rounded to a size it supports), a
function written with ``dualtape.numpy`` (so it runs under dualtape and JAX alike), a
point ``x`` and the true Jacobian pattern, constructed independently with SciPy.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from .. import numpy as dnp

__all__ = ["FAMILIES", "Family", "make"]


@dataclass(frozen=True)
class Family:
    """One instance: ``f`` at ``x`` (shape (n,)), and the pattern of its Jacobian."""

    name: str
    n: int
    f: Callable[[Any], Any]
    x: np.ndarray
    pattern: sp.csr_array


def _bool(m: Any) -> sp.csr_array:
    out = sp.csr_array(m, dtype=bool)
    out.sort_indices()
    return out


def reaction_diffusion(n: int, rng: np.random.Generator) -> Family:
    """1-D reaction-diffusion residual u'' + u^2 (1 - u), zero Dirichlet ends: tridiagonal."""
    n = max(n, 3)
    h2 = 1.0 / (n + 1) ** 2
    zero = np.zeros(1)

    def f(x):
        u = dnp.concatenate([zero, x, zero])
        return (u[:-2] - 2.0 * u[1:-1] + u[2:]) / h2 + x * x * (1.0 - x)

    band = sp.diags_array([np.ones(n - 1), np.ones(n), np.ones(n - 1)], offsets=[-1, 0, 1])
    return Family("reaction_diffusion", n, f, rng.uniform(0.1, 0.9, n), _bool(band))


def stencil_2d(n: int, rng: np.random.Generator) -> Family:
    """5-point Laplacian plus a cubic term on a k x k grid (n = k^2), zero boundary."""
    k = max(2, math.isqrt(n))
    n = k * k
    col, row = np.zeros((k, 1)), np.zeros((1, k + 2))

    def f(x):
        u = dnp.reshape(x, (k, k))
        p = dnp.concatenate([row, dnp.concatenate([col, u, col], axis=1), row], axis=0)
        lap = p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:] - 4.0 * u
        return dnp.reshape(lap * (k + 1) ** 2 - u ** 3, (n,))

    one = sp.diags_array([np.ones(k - 1), np.ones(k), np.ones(k - 1)], offsets=[-1, 0, 1])
    eye = sp.eye_array(k)
    pattern = sp.kron(one, eye) + sp.kron(eye, one)
    return Family("stencil_2d", n, f, rng.uniform(0.1, 0.9, n), _bool(pattern))


def block_diagonal(n: int, rng: np.random.Generator, block: int = 8) -> Family:
    """tanh of independent dense 8 x 8 maps of consecutive blocks of 8 inputs."""
    b = max(1, round(n / block))
    n = b * block
    w = rng.standard_normal((block, block)) / math.sqrt(block)

    def f(x):
        return dnp.reshape(dnp.tanh(dnp.matmul(dnp.reshape(x, (b, block)), w)), (n,))

    pattern = sp.block_diag([np.ones((block, block))] * b)
    return Family("block_diagonal", n, f, rng.standard_normal(n), _bool(pattern))


def arrowhead(n: int, rng: np.random.Generator) -> Family:
    """n elementwise outputs and one dense last row (m = n + 1): forward needs n colours,
    reverse needs 2."""
    n = max(n, 2)

    def f(x):
        return dnp.concatenate([x * dnp.sin(x), dnp.reshape(dnp.sum(x * x), (1,))])

    pattern = sp.vstack([sp.eye_array(n), np.ones((1, n))])
    return Family("arrowhead", n, f, rng.uniform(0.1, 0.9, n), _bool(pattern))


def random_sparse(n: int, rng: np.random.Generator, density: float = 0.01) -> Family:
    """tanh(sum_k w_ik x[idx_ik]) with 1% of the entries per row, at random columns."""
    d = max(1, round(density * n))
    idx = np.sort(np.stack([rng.choice(n, size=d, replace=False) for _ in range(n)]), axis=1)
    w = rng.standard_normal((n, d))

    def f(x):
        return dnp.tanh(dnp.sum(w * x[idx], axis=1))

    pattern = sp.csr_array((np.ones(n * d), idx.ravel(), np.arange(n + 1) * d), shape=(n, n))
    return Family("random_sparse", n, f, rng.standard_normal(n), _bool(pattern))


FAMILIES: dict[str, Callable[..., Family]] = {
    "reaction_diffusion": reaction_diffusion,
    "stencil_2d": stencil_2d,
    "block_diagonal": block_diagonal,
    "arrowhead": arrowhead,
    "random_sparse": random_sparse,
}


def make(name: str, n: int, seed: int = 0) -> Family:
    """The family ``name`` at (about) size ``n``, seeded."""
    if name not in FAMILIES:
        raise ValueError(f"name: unknown family {name!r}; choose among {sorted(FAMILIES)}")
    return FAMILIES[name](n, np.random.default_rng(seed))
