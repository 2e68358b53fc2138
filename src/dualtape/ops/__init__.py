"""Every primitive: implementation, JVP rule, VJP rule and cost, side by side, by family.

* :mod:`.elementwise` -- arithmetic, powers, selection (maximum, where, clip), the
  unary functions and the masks;
* :mod:`.reductions` -- sum, mean, prod, max, min, logsumexp, softmax, cumsum, and
  :func:`unbroadcast`;
* :mod:`.shape_ops` -- transpose, reshape, broadcast_to, expand_dims, squeeze, flip,
  concatenate, stack;
* :mod:`.indexing` -- getitem, scatter_add, take, pick_along, put_along;
* :mod:`.linalg` -- matmul, matvec; :mod:`.matrix` -- solve, inv, det, slogdet, cholesky,
  triangular solve, pinv; :mod:`.decomp` -- eigh, svd, qr; :mod:`.einsum` -- einsum;
* :mod:`.special` -- NumPy's further elementwise functions (inverse trigonometric,
  other bases, two-operand functions, rounding); :mod:`.statistics` -- var, cumprod;
* :mod:`.fused` -- the fused forward kernels; :mod:`.rules` -- the rule-writing
  helpers; :mod:`.core` -- shapes, cost models and axis normalisation.

Conventions (docs/design.md): rules are written with dualtape's own ops, so they are
differentiable too; a tangent or cotangent may carry leading batch axes, so axis
parameters are negative (``bind`` converts positive ones); broadcasting is undone in
one place (:func:`unbroadcast`, called by the engines for ``broadcasting=True``
primitives); ``None`` as a rule means "zero".
"""

from ..dispatch import NO_PARAMS, PLAIN_TYPES, Tracer
from ..registry import Primitive, register
from .core import Meta, batch_shape, count_over, ndim_of, shape_of, size_of
from .elementwise import (
    abs_,
    add,
    arctan,
    clip,
    cos,
    cosh,
    div,
    equal_mask,
    exp,
    expm1,
    log,
    log1p,
    max_weight,
    maximum,
    minimum,
    mul,
    neg,
    positive_mask,
    power,
    power_const,
    reciprocal,
    relu,
    sigmoid,
    sign,
    sin,
    sinh,
    softplus,
    sqrt,
    square,
    sub,
    tan,
    tanh,
    tanh_tangent,
    where,
)
from .indexing import getitem, pick_along, put_along, scatter_add, take
from .linalg import matmul, matvec
from .reductions import (
    cumsum,
    log_softmax,
    logsumexp,
    max_,
    mean,
    min_,
    prod,
    softmax,
    sum_,
    tie_pick,
    tie_scale,
    unbroadcast,
)
from .shape_ops import (
    broadcast_to,
    concatenate,
    expand_dims,
    flip,
    pad_batch,
    reshape,
    squeeze,
    stack,
    transpose,
)

__all__ = [
    "Meta", "NO_PARAMS", "PLAIN_TYPES", "Primitive", "Tracer", "abs_", "add", "arctan",
    "batch_shape", "broadcast_to", "clip", "concatenate", "cos", "cosh", "cumsum", "div",
    "equal_mask", "exp", "expand_dims", "expm1", "flip", "getitem", "log", "log1p",
    "log_softmax", "logsumexp", "matmul", "matvec", "max_", "max_weight", "maximum", "mean", "min_",
    "minimum", "mul", "ndim_of", "neg", "pad_batch", "pick_along", "positive_mask", "power", "power_const",
    "prod", "put_along", "reciprocal", "register", "relu", "reshape", "scatter_add", "shape_of", "sigmoid",
    "count_over", "sign", "sin", "sinh", "size_of", "softmax", "softplus", "sqrt", "square", "squeeze",
    "stack", "sub", "sum_", "take", "tan", "tanh", "tanh_tangent", "tie_pick", "tie_scale",
    "transpose", "unbroadcast",
    "where",
]

# The families written on top of the core set; importing them fills the registry.
from . import decomp, einsum, matrix, special, statistics  # noqa: E402, F401
