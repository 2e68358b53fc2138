"""Losses for the lessons, in the scalar API (``Value``) and the array API (``dualtape.numpy``).

Binary cross-entropy on a sigmoid output is the lesson's exercise:

    L = -[y log(p) + (1 - y) log(1 - p)],   p = sigmoid(z)

Written that way it breaks for large |z|: ``sigmoid(40.0)`` is exactly 1.0 in
float64, so ``log(1 - p)`` is ``log(0) = -inf``; and ``exp(-z)`` overflows for
z < -709.  Since ``log(sigmoid(z)) = -softplus(-z)`` and
``log(1 - sigmoid(z)) = -softplus(z)``, the same loss is

    L = y softplus(-z) + (1 - y) softplus(z)

and ``softplus(z) = max(z, 0) + log1p(exp(-|z|))`` is finite for every finite z.
Its derivative is ``-y sigmoid(-z) + (1 - y) sigmoid(z) = sigmoid(z) - y``, the
textbook gradient, with no division.  (The shorter ``softplus(z) - y z`` is the
same function but cancels: at z = 50, y = 1 it gives 0 instead of 1.9e-22.)

The array functions are written with ``dualtape.numpy``: they run on floats and
NumPy arrays, under both of dualtape's engines (``dt.grad``, ``dt.jvp``), and on
JAX arrays under ``jax.grad`` / ``jax.jit``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import numpy as dnp
from ..dispatch import is_jax
from .value import Value

__all__ = [
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "log_sigmoid", "mse_loss",
]

_REDUCTIONS = ("mean", "sum", "none")


def _broadcasts_to(ys: tuple, xs: tuple) -> bool:
    try:
        return np.broadcast_shapes(xs, ys) == xs
    except ValueError:
        return False


def same_shape(x: Any, y: Any, xname: str, yname: str) -> None:
    """Refuse labels that would broadcast against the predictions into a bigger loss."""
    xs, ys = dnp.shape(x), dnp.shape(y)
    if ys != xs and not _broadcasts_to(ys, xs):  # () or (1,) labels are shared
        raise ValueError(f"{yname}: shape {ys} does not match {xname}'s shape {xs} "
                         "(broadcasting them would pair every prediction with every label)")


def _reduce(loss: Any, reduction: str) -> Any:
    if reduction == "mean":
        return loss if dnp.ndim(loss) == 0 else dnp.mean(loss)
    if reduction == "sum":
        return loss if dnp.ndim(loss) == 0 else dnp.sum(loss)
    if reduction == "none":
        return loss
    raise ValueError(f"reduction: expected one of {', '.join(_REDUCTIONS)}, got {reduction!r}")


def log_sigmoid(z: Any) -> Any:
    """``log(sigmoid(z)) = -softplus(-z)``, finite for every finite ``z``."""
    if isinstance(z, Value):
        return z.log_sigmoid()
    return dnp.negative(dnp.softplus(dnp.negative(z)))


def binary_cross_entropy_with_logits(z: Any, y: Any, reduction: str = "mean") -> Any:
    """Binary cross-entropy of logits ``z`` (before the sigmoid) against labels ``y``.

    Computed as ``y softplus(-z) + (1 - y) softplus(z)``: numerically stable for any finite ``z``
    (no ``log(0)``, no overflow), with gradient ``dL/dz = sigmoid(z) - y``
    (divided by the number of elements when ``reduction="mean"``).

    ``z`` may be a :class:`~dualtape.Value` (then ``y`` is a number or a Value
    and the result is a Value: ``z.cross_entropy(y)``), a float, a NumPy array,
    a traced dualtape value or a JAX array.  ``reduction`` is ``"mean"``
    (default), ``"sum"`` or ``"none"`` (elementwise).
    """
    if isinstance(z, Value):
        if reduction not in _REDUCTIONS:
            _reduce(z, reduction)
        return z.cross_entropy(y)
    if isinstance(y, Value):
        raise TypeError("binary_cross_entropy_with_logits: y is a Value but z is not; "
                        "use Values for both or arrays for both")
    same_shape(z, y, "z", "y")
    loss = dnp.add(dnp.multiply(y, dnp.softplus(dnp.negative(z))),
                   dnp.multiply(dnp.subtract(1.0, y), dnp.softplus(z)))
    return _reduce(loss, reduction)


def binary_cross_entropy(p: Any, y: Any, reduction: str = "mean") -> Any:
    """The textbook formula ``-[y log(p) + (1 - y) log(1 - p)]`` on probabilities ``p``.

    Kept to show *why* the logits form exists: with ``p = sigmoid(z)`` it breaks once
    ``sigmoid(z)`` rounds to 0 or 1, i.e. for |z| above about 37: ``inf`` where the label
    is on the other side, ``nan`` (``0 * log 0``) where it agrees, with ``nan`` gradients
    (PyTorch's ``binary_cross_entropy`` clamps the log at -100 instead).  Use
    :func:`binary_cross_entropy_with_logits`.  Probabilities outside [0, 1] are a
    ``ValueError``, as PyTorch refuses them.
    """
    if isinstance(p, Value):
        if reduction not in _REDUCTIONS:
            _reduce(p, reduction)  # the error naming the choices
        if not 0.0 <= p.data <= 1.0:
            raise ValueError(f"p: a probability must lie in [0, 1], got {p.data!r}")
        return -(p.log() * y + (1.0 - p).log() * (1.0 - y))
    if not is_jax(type(p)):  # under jax.jit the values are not known
        values = np.asarray(dnp.concrete(p), dtype=float)
        if np.any((values < 0) | (values > 1)):
            raise ValueError(f"p: probabilities must lie in [0, 1], got values from "
                             f"{float(np.nanmin(values))!r} to {float(np.nanmax(values))!r}")
    same_shape(p, y, "p", "y")
    loss = dnp.negative(dnp.add(dnp.multiply(y, dnp.log(p)),
                                dnp.multiply(dnp.subtract(1.0, y), dnp.log(dnp.subtract(1.0, p)))))
    return _reduce(loss, reduction)


def mse_loss(pred: Any, target: Any, reduction: str = "mean") -> Any:
    """Squared error ``(pred - target) ** 2``, averaged by default.

    On lists of :class:`~dualtape.Value` (the lesson's training loop) the
    ``"sum"`` reduction gives micrograd's ``sum((yout - ygt) ** 2 ...)``.
    """
    if isinstance(pred, Value) or (isinstance(pred, (list, tuple)) and pred
                                   and isinstance(pred[0], Value)):
        preds = [pred] if isinstance(pred, Value) else list(pred)
        targets = list(target) if isinstance(target, (list, tuple)) else \
            list(np.ravel(target)) if np.ndim(target) else [target]
        if len(preds) != len(targets):
            raise ValueError(f"mse_loss: {len(preds)} predictions for {len(targets)} targets")
        terms = [(p - t) ** 2 for p, t in zip(preds, targets, strict=True)]
        total = terms[0]
        for term in terms[1:]:
            total = total + term
        if reduction == "sum":
            return total
        if reduction == "mean":
            return total / float(len(terms))
        if reduction == "none":
            return terms
        _reduce(total, reduction)
    same_shape(pred, target, "pred", "target")
    diff = dnp.subtract(pred, target)
    return _reduce(dnp.multiply(diff, diff), reduction)
