"""The array objectives of GradBench's evals, written once with ``dualtape.numpy``.

Each function takes NumPy arrays, dualtape-traced values or JAX arrays (``dnp`` dispatches
to ``jax.numpy`` on the latter). The namespace is a parameter, ``xp``: the benchmark suite
passes ``autograd.numpy`` or an adapter over PyTorch to time the peers on the same bodies.
Inputs that are not differentiated (data points, the least-squares design, index tables)
are built by the ``*_data`` helpers with plain NumPy.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import numpy as dnp


def lse(x: Any, xp: Any = dnp) -> Any:
    """``log(sum(exp(x)))``, stabilised by the maximum (the eval asks for the max-and-sum form)."""
    a = xp.max(x)
    return a + xp.log(xp.sum(xp.exp(x - a)))


def llsq_data(n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """``(T, s)`` for ``llsq``: ``T[i, j] = t_i ** j`` with ``t_i = -1 + 2 i / (n - 1)``, ``s = sign(t)``."""
    if n < 2:
        raise ValueError(f"n: llsq needs at least 2 points, got {n}")
    t = -1.0 + np.arange(n) * 2.0 / (n - 1.0)
    powers = np.ones((n, m))
    if m > 1:
        powers[:, 1:] = np.cumprod(np.broadcast_to(t[:, None], (n, m - 1)), axis=1)
    return powers, np.sign(t)


def llsq(x: Any, powers: Any, s: Any, xp: Any = dnp) -> Any:
    """``1/2 sum_i (s_i - sum_j x_j t_i^j)^2``, with ``(powers, s)`` from :func:`llsq_data`."""
    r = s - xp.matmul(powers, x)
    return 0.5 * xp.sum(r * r)


def llsq_points(x: Any, n: int, xp: Any = dnp) -> Any:
    """:func:`llsq` as the eval states it, from ``x`` and the number of points ``n``: the
    points and their powers are built inside (GradBench times them as part of the function)."""
    return llsq(x, *llsq_data(n, len(x)), xp)


def kmeans(centroids: Any, points: Any, xp: Any = dnp) -> Any:
    """``sum_i min_j |C_j - P_i|^2``: the k-means cost of ``points`` (n, d) for ``centroids`` (k, d)."""
    # distances do not change when both move by one point: far from the origin the expansion
    # below would cancel (points near 1e8 gave a negative cost) unless they are moved near it
    origin = points[:1]
    points, centroids = points - origin, centroids - origin
    # |P_i - C_j|^2 = |P_i|^2 + |C_j|^2 - 2 P_i.C_j: no (n, k, d) temporary
    cross = xp.matmul(points, xp.transpose(centroids))
    norms = xp.sum(points * points, axis=1)[:, None] + xp.sum(centroids * centroids, axis=1)
    return xp.sum(xp.min(norms - 2.0 * cross, axis=1))


def gmm_index(d: int) -> np.ndarray:
    """Where each entry of the (d, d) matrix Q comes from, in the row ``[0, exp(q), l]``.

    Position 0 is the zero above the diagonal, ``1 + j`` the diagonal ``exp(q_j)``, and
    ``1 + d + p`` the strictly lower entry ``l_p``, filled column by column (the spec's order).
    """
    index = np.zeros((d, d), dtype=np.intp)
    index[np.arange(d), np.arange(d)] = 1 + np.arange(d)
    p = 0
    for j in range(d):
        for i in range(j + 1, d):
            index[i, j] = 1 + d + p
            p += 1
    return index.reshape(-1)


def _multigammaln(a: float, d: int) -> float:
    """``log Gamma_d(a)``, the log of the multivariate gamma function (constants only)."""
    return d * (d - 1) / 4 * math.log(math.pi) + sum(math.lgamma(a - j / 2) for j in range(d))


def gmm(alpha: Any, mu: Any, q: Any, l: Any, x: Any, m: int, gamma: float,  # noqa: E741
        xp: Any = dnp) -> Any:
    """The log posterior of the GMM eval: mixture likelihood of ``x`` plus a Wishart prior.

    ``alpha`` (k,), ``mu`` (k, d), ``q`` (k, d), ``l`` (k, d(d-1)/2), ``x`` (n, d).
    """
    n, d = x.shape
    k = alpha.shape[0]
    qexp = xp.exp(q)
    entries = xp.concatenate([xp.zeros((k, 1)), qexp, l], axis=1)
    qt = xp.transpose(xp.reshape(entries[:, gmm_index(d)], (k, d, d)), (0, 2, 1))
    # Q_k (x_i - mu_k) for all i, k, as rows: x Q_k^T - mu_k Q_k^T, shape (k, n, d)
    qx = xp.matmul(x, qt) - xp.matmul(mu[:, None, :], qt)
    sum_q = xp.sum(q, axis=1)
    beta = (alpha + sum_q)[:, None] - 0.5 * xp.sum(qx * qx, axis=2)
    likelihood = xp.sum(_lse_rows(beta, xp)) - n * (0.5 * d * math.log(2 * math.pi) + lse(alpha, xp))
    dof = d + m + 1
    constant = k * (dof * d * math.log(gamma / math.sqrt(2)) - _multigammaln(0.5 * dof, d))
    frobenius = xp.sum(qexp * qexp) + xp.sum(l * l)
    prior = constant - 0.5 * gamma * gamma * frobenius + m * xp.sum(sum_q)
    return likelihood + prior


def _lse_rows(beta: Any, xp: Any) -> Any:
    """Log-sum-exp over axis 0 of ``beta`` (k, n), one value per column, from max and sum."""
    a = xp.max(beta, axis=0)
    return a + xp.log(xp.sum(xp.exp(beta - a), axis=0))


def ode(x: Any, s: int, xp: Any = dnp) -> Any:
    """Fourth-order Runge-Kutta, ``s`` steps to ``t = 2``, for ``y0' = x0``, ``yi' = xi y(i-1)``."""
    if s < 1:
        raise ValueError(f"s: the number of steps must be at least 1, got {s}")
    h = 2.0 / s
    head, tail = x[:1], x[1:]

    def rate(y: Any) -> Any:
        return xp.concatenate([head, tail * y[:-1]])

    y = x * 0.0
    for _ in range(s):
        k1 = rate(y)
        k2 = rate(y + (0.5 * h) * k1)
        k3 = rate(y + (0.5 * h) * k2)
        k4 = rate(y + h * k3)
        y = y + (h / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    return y


def ode_last(x: Any, s: int, xp: Any = dnp) -> Any:
    """The last component of :func:`ode`: the scalar whose gradient the eval asks for."""
    return ode(x, s, xp)[-1]


def det(a: Any, ell: int) -> Any:
    """Determinant of the row-major (ell*ell,) ``a`` by expansion by minors along the first row.

    Scalar and recursive on purpose, as the eval specifies: O(ell!) multiplications.
    """
    if ell < 1 or ell * ell != a.shape[0]:
        raise ValueError(f"ell: {ell} does not match A of {a.shape[0]} entries")
    entries = [a[i] for i in range(ell * ell)]
    return _minor(entries, ell, 0, tuple(range(ell)))


def _minor(entries: list, ell: int, row: int, cols: tuple[int, ...]) -> Any:
    """Determinant of rows ``row..ell-1`` restricted to columns ``cols``."""
    if len(cols) == 1:
        return entries[row * ell + cols[0]]
    total = None
    for j, c in enumerate(cols):
        term = entries[row * ell + c] * _minor(entries, ell, row + 1, cols[:j] + cols[j + 1:])
        if total is None:
            total = term
        elif j % 2:
            total = total - term
        else:
            total = total + term
    return total
