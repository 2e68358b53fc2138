"""The NumPy floor of workload 7's derivatives: GradBench's gradients written out by hand.

Each function here is the analytic derivative of one array objective of
:mod:`dualtape.gradbench.objectives`, in plain vectorised NumPy with no AD at all, as a
careful hand-coder would write it: the forward pass runs once, and its intermediates
(maxima, exponentials, assignments, the ``Q_k (x_i - mu_k)`` products) are reused by the
backward formulas. The value itself is not returned, only the derivative, in the structure
the AD tools' contenders return (a tuple over the differentiated arguments for ``grad``,
``J / diag(H)`` for kmeans' ``dir``). The suite times them as ``numpy by hand <task>`` to show
how fast NumPy itself can go: a target that asks an AD tool running on NumPy for less time
than this is below the floor.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


def lse_grad(x: np.ndarray) -> tuple[np.ndarray]:
    """Gradient of ``log(sum(exp(x)))``: the softmax of ``x``."""
    e = x - x.max()
    np.exp(e, out=e)
    e /= e.sum()
    return (e,)


def llsq_grad(x: np.ndarray, powers: np.ndarray, s: np.ndarray) -> tuple[np.ndarray]:
    """Gradient of ``1/2 |s - T x|^2`` in ``x``: ``T^T (T x - s)``."""
    r = powers @ x
    r -= s
    return (r @ powers,)


def _kmeans_clusters(centroids: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per centroid: how many points are nearest to it, and the sum of those points.

    The nearest centroid minimises ``|C_j|^2 - 2 P_i . C_j`` (``|P_i|^2`` is the same for
    every j); the sums are one ``bincount`` over the flat (centroid, coordinate) index.
    """
    k, d = centroids.shape
    scores = points @ centroids.T
    scores *= -2.0
    scores += np.einsum("jc,jc->j", centroids, centroids)
    nearest = scores.argmin(axis=1)
    counts = np.bincount(nearest, minlength=k).astype(np.float64)
    flat = (nearest * d)[:, None] + np.arange(d)
    sums = np.bincount(flat.ravel(), weights=points.ravel(), minlength=k * d).reshape(k, d)
    return counts, sums


def kmeans_grad(centroids: np.ndarray, points: np.ndarray) -> tuple[np.ndarray]:
    """Gradient of ``sum_i min_j |C_j - P_i|^2`` in C: ``2 (n_j C_j - sum of j's points)``."""
    counts, sums = _kmeans_clusters(centroids, points)
    grad = centroids * counts[:, None]
    grad -= sums
    grad *= 2.0
    return (grad,)


def kmeans_dir(centroids: np.ndarray, points: np.ndarray) -> np.ndarray:
    """kmeans' ``dir``, J / diag(H): ``J_j / (2 n_j) = C_j - mean of j's points``.

    The Hessian is block diagonal, ``2 n_j`` times the identity for centroid j. A centroid
    with no point gets 0 / 0 = NaN, as the AD tools' ``J / H`` does.
    """
    counts, sums = _kmeans_clusters(centroids, points)
    with np.errstate(divide="ignore", invalid="ignore"):
        sums /= counts[:, None]
    return centroids - sums


def _lower(d: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows, columns) of Q's strictly lower entries, column by column (the order of ``l``)."""
    upper_rows, upper_cols = np.triu_indices(d, 1)
    return upper_cols, upper_rows


def gmm_grad(alpha: np.ndarray, mu: np.ndarray, q: np.ndarray, l: np.ndarray,  # noqa: E741
             x: np.ndarray, m: int = 0, gamma: float = 1.0
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Gradient of the GMM log posterior in ``(alpha, mu, q, l)``.

    With ``z_ki = Q_k (x_i - mu_k)``, ``beta_ki = alpha_k + sum(q_k) - |z_ki|^2 / 2`` and the
    responsibilities ``w_ki = softmax_k(beta_ki)``: ``d/dalpha = sum_i w - n softmax(alpha)``,
    ``d/dmu_k = Q_k^T s_k`` with ``s_k = sum_i w_ki z_ki``, ``d/dQ_k = -sum_i w_ki z_ki
    (x_i - mu_k)^T`` (its diagonal times ``exp(q)`` plus ``sum_i w_ki`` for q, its lower part
    for l), and the prior adds ``-gamma^2 exp(2q) + m`` and ``-gamma^2 l``.

    Appending a column of ones to x folds ``- Q_k mu_k`` into the forward product and
    ``s_k`` into the backward one: one batched matrix product each way, per component k
    like the objective's (kept small, they run on one thread even on a busy machine).
    """
    n, d = x.shape
    k = alpha.shape[0]
    rows, cols = _lower(d)
    diagonal = np.arange(d)
    qexp = np.exp(q)
    # q_t[k] = [Q_k^T; -(Q_k mu_k)^T], (d + 1, d), so that [x_i, 1] q_t[k] = z_ki
    q_t = np.zeros((k, d + 1, d))
    q_t[:, diagonal, diagonal] = qexp
    q_t[:, cols, rows] = l
    q_t[:, d] = -np.einsum("kba,kb->ka", q_t[:, :d], mu)
    x_one = np.empty((n, d + 1))
    x_one[:, :d] = x
    x_one[:, d] = 1.0
    z = x_one @ q_t  # (k, n, d)
    beta = np.einsum("kia,kia->ki", z, z)
    beta *= -0.5
    beta += (alpha + q.sum(axis=1))[:, None]
    # responsibilities: softmax over k of each column, from the column maxima
    beta -= beta.max(axis=0)
    w = np.exp(beta, out=beta)
    w /= w.sum(axis=0)
    weight = w.sum(axis=1)
    z *= w[:, :, None]
    # sum_i w_ki z_ki [x_i, 1]: the x moments and, in the last column, s_k
    moments = z.transpose(0, 2, 1) @ x_one  # (k, d, d + 1)
    s = moments[:, :, d]
    # dQ_k = -sum_i w_ki z_ki (x_i - mu_k)^T = s_k mu_k^T - sum_i w_ki z_ki x_i^T
    d_big_q = s[:, :, None] * mu[:, None, :]
    d_big_q -= moments[:, :, :d]
    prior = gamma * gamma
    a = np.exp(alpha - alpha.max())
    d_alpha = weight - n * (a / a.sum())
    d_mu = np.einsum("ka,kba->kb", s, q_t[:, :d])
    d_q = d_big_q[:, diagonal, diagonal] * qexp
    d_q += weight[:, None] + m
    d_q -= prior * qexp * qexp
    d_l = d_big_q[:, rows, cols] - prior * l
    return d_alpha, d_mu, d_q, d_l


#: The by-hand derivative of each ``(eval, derivative)`` of workload 7 that has one.
DERIVATIVES: dict[tuple[str, str], Callable[..., Any]] = {
    ("lse", "grad"): lse_grad,
    ("llsq", "grad"): llsq_grad,
    ("kmeans", "grad"): kmeans_grad,
    ("kmeans", "dir"): kmeans_dir,
    ("gmm", "grad"): gmm_grad,
}
