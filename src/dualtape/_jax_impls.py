"""JAX implementations of the primitives, used when an argument is a JAX array or tracer.

Imported on first use only, so ``import dualtape`` does not import jax.  Each
function takes the same arguments and parameters as the primitive's NumPy impl.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

add = jnp.add
sub = jnp.subtract
mul = jnp.multiply
div = jnp.true_divide
neg = jnp.negative
power = jnp.power
exp, log, log1p, expm1, sqrt = jnp.exp, jnp.log, jnp.log1p, jnp.expm1, jnp.sqrt
sin, cos, tan, tanh, sinh, cosh = jnp.sin, jnp.cos, jnp.tan, jnp.tanh, jnp.sinh, jnp.cosh
arctan, square, reciprocal, sign = jnp.arctan, jnp.square, jnp.reciprocal, jnp.sign
maximum, minimum, where, matmul = jnp.maximum, jnp.minimum, jnp.where, jnp.matmul
sigmoid = jax.nn.sigmoid
relu = jax.nn.relu
softplus = jax.nn.softplus


def tanh_tangent(t, y):
    return t * (1.0 - y * y)


def matvec(a, v):
    return jnp.matmul(a, v[..., None])[..., 0]


def power_const(x, p):
    return jnp.power(x, p)


def clip(x, lo, hi):
    return jnp.clip(x, lo, hi)


def positive_mask(x):
    return (x > 0).astype(x.dtype)


def equal_mask(x, y):
    return (x == y).astype(jnp.result_type(x))


def max_weight(x, y):
    dt = jnp.result_type(x)
    return (x > y).astype(dt) + 0.5 * (x == y).astype(dt)


def _reduction(fn):
    return lambda x, axis, keepdims: fn(x, axis=axis, keepdims=keepdims)


sum = _reduction(jnp.sum)  # noqa: A001
max = _reduction(jnp.max)  # noqa: A001
min = _reduction(jnp.min)  # noqa: A001
abs = jnp.abs  # noqa: A001
mean = _reduction(jnp.mean)
prod = _reduction(jnp.prod)


def tie_scale(g, x, ans, axis, keepdims):
    hit = x == (ans if keepdims else jnp.expand_dims(ans, axis))
    share = (g if keepdims else jnp.expand_dims(g, axis)) / jnp.sum(hit, axis=axis, keepdims=True)
    return hit * share


def tie_pick(t, x, ans, axis, keepdims):
    hit = x == (ans if keepdims else jnp.expand_dims(ans, axis))
    return jnp.sum(t * (hit / jnp.sum(hit, axis=axis, keepdims=True)), axis=axis, keepdims=keepdims)


def logsumexp(x, axis, keepdims):
    return jax.scipy.special.logsumexp(x, axis=axis, keepdims=keepdims)


def softmax(x, axis):
    return jax.nn.softmax(x, axis=axis)


def log_softmax(x, axis):
    return jax.nn.log_softmax(x, axis=axis)


def cumsum(x, axis):
    return jnp.cumsum(x, axis=axis)


def transpose(x, axes):
    return jnp.transpose(x, axes)


def reshape(x, shape):
    return jnp.reshape(x, shape)


def broadcast_to(x, shape):
    return jnp.broadcast_to(x, shape)


def expand_dims(x, axis):
    return jnp.expand_dims(x, axis)


def squeeze(x, axis):
    return jnp.squeeze(x, axis)


def flip(x, axis):
    return jnp.flip(x, axis)


def concatenate(*xs, axis):
    return jnp.concatenate(xs, axis=axis)


def stack(*xs, axis):
    return jnp.stack(xs, axis=axis)


def getitem(x, index):
    return x[index]


def scatter_add(g, index, shape):
    return jnp.zeros(shape, dtype=g.dtype).at[index].add(g)


def take(x, indices, axis):
    return jnp.take(x, indices, axis=axis)


def pick_along(x, indices, axis):
    idx = jnp.asarray(indices).reshape((1,) * (x.ndim - indices.ndim) + indices.shape)
    return jnp.take_along_axis(x, idx, axis=axis)


def put_along(g, indices, axis, length):
    ax = axis % g.ndim
    idx = jnp.broadcast_to(jnp.asarray(indices).reshape((1,) * (g.ndim - indices.ndim)
                                                        + indices.shape), g.shape)
    grid = list(jnp.indices(g.shape, sparse=True))
    grid[ax] = idx
    shape = g.shape[:ax] + (length,) + g.shape[ax + 1:]
    return jnp.zeros(shape, dtype=g.dtype).at[tuple(grid)].add(g)


# ---------------------------------------------------------------- ops.special, ops.statistics (npcov)

arcsin, arccos, arcsinh, arccosh, arctanh = jnp.arcsin, jnp.arccos, jnp.arcsinh, jnp.arccosh, jnp.arctanh
log2, log10, exp2, cbrt = jnp.log2, jnp.log10, jnp.exp2, jnp.cbrt
arctan2, hypot, logaddexp, logaddexp2 = jnp.arctan2, jnp.hypot, jnp.logaddexp, jnp.logaddexp2
ldexp = jnp.ldexp
remainder, fmod = jnp.remainder, jnp.fmod
floor, ceil, rint, trunc = jnp.floor, jnp.ceil, jnp.rint, jnp.trunc


def sinc(x, k):
    f = jnp.sinc
    for _ in range(k):  # the k-th derivative, by nested forward mode
        f = (lambda g: lambda v: jax.jvp(g, (v,), (jnp.ones_like(v),))[1])(f)
    return f(x)


def round(x, decimals):  # noqa: A001
    return jnp.round(x, decimals)


def astype(x, dtype):
    return jnp.asarray(x).astype(dtype)


def var(x, axis, ddof, keepdims):
    return jnp.var(x, axis=axis, ddof=ddof, keepdims=keepdims)


def cumprod(x, axis):
    return jnp.cumprod(x, axis=axis)
