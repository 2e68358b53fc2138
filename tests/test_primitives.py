"""Tests generated from the registry: every primitive x shapes x modes x orders.

Each registered primitive must have cases here (a test fails otherwise).  Every
case is checked, to second order, against central finite differences, through
the adjoint identity <u, J v> = <J^T u, v> between its own JVP and VJP rules,
against jax.jvp / jax.vjp, and in vector mode (jacfwd == jacrev == jax.jacfwd).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import jax
import numpy as np
import pytest
from _jaxref import Ref, directions, reference

import dualtape as dt
import dualtape.numpy as dnp
from dualtape import ops
from dualtape.ops import special as _E

jax.config.update("jax_enable_x64", True)

DOMAINS: dict[str, Callable[[np.random.Generator, tuple], np.ndarray]] = {
    "real": lambda r, s: r.standard_normal(s),
    "pos": lambda r, s: r.uniform(0.5, 2.0, s),
    "unit": lambda r, s: r.uniform(-0.9, 0.9, s),
    "away": lambda r, s: r.choice([-1.0, 1.0], s) * r.uniform(0.3, 1.5, s),
}


@dataclass
class Case:
    prim: str
    fn: Callable
    shapes: tuple[tuple[int, ...], ...]
    domain: str | tuple[str, ...] = "real"
    label: str = ""
    second_order: bool = True

    @property
    def id(self) -> str:
        shp = "x".join(str(s).replace(" ", "") for s in self.shapes)
        return f"{self.prim}-{self.label}-{shp}" if self.label else f"{self.prim}-{shp}"

    def args(self, seed: int = 0) -> tuple:
        rng = np.random.default_rng(seed)
        doms = self.domain if isinstance(self.domain, tuple) else (self.domain,) * len(self.shapes)
        return tuple(DOMAINS[d](rng, s) for d, s in zip(doms, self.shapes, strict=True))


UNARY_SHAPES = [(), (3,), (3, 2)]
BINARY_SHAPES = [((), ()), ((3,), (3,)), ((3, 2), (3, 2)), ((3, 1), (1, 4)), ((), (3,))]


def unary(prim, fn, domain="real", **kw):
    return [Case(prim, fn, (s,), domain, **kw) for s in UNARY_SHAPES]


def binary(prim, fn, domain="real", **kw):
    return [Case(prim, fn, pair, domain, **kw) for pair in BINARY_SHAPES]


MASK_32 = np.array([[True, False], [False, True], [True, True]])

CASES: list[Case] = [
    *binary("add", lambda x, y: x + y),
    *binary("sub", lambda x, y: x - y),
    *binary("mul", lambda x, y: x * y),
    *binary("div", lambda x, y: x / y, ("real", "away")),
    *binary("power", dnp.power, ("pos", "real")),
    *binary("maximum", dnp.maximum),
    *binary("minimum", dnp.minimum),
    *unary("neg", lambda x: -x),
    *unary("power_const", lambda x: x ** 3, label="cube"),
    *unary("power_const", lambda x: x ** 0.5, "pos", label="sqrt"),
    *unary("power_const", lambda x: x ** -1.5, "pos", label="neg"),
    *unary("power_const", lambda x: x ** 2, label="square"),
    *unary("exp", dnp.exp),
    *unary("log", dnp.log, "pos"),
    *unary("log1p", dnp.log1p, "pos"),
    *unary("expm1", dnp.expm1),
    *unary("sqrt", dnp.sqrt, "pos"),
    *unary("sin", dnp.sin),
    *unary("cos", dnp.cos),
    *unary("tan", dnp.tan, "unit"),
    *unary("tanh", dnp.tanh),
    *unary("sinh", dnp.sinh),
    *unary("cosh", dnp.cosh),
    *unary("arctan", dnp.arctan),
    *unary("abs", dnp.abs, "away"),
    *unary("sign", dnp.sign, "away"),
    *unary("square", dnp.square),
    *binary("tanh_tangent", ops.tanh_tangent, ("real", "unit")),
    *unary("reciprocal", dnp.reciprocal, "away"),
    *unary("sigmoid", dnp.sigmoid),
    *unary("relu", dnp.relu, "away"),
    *unary("softplus", dnp.softplus),
    *unary("positive_mask", ops.positive_mask, "away"),
    *binary("equal_mask", ops.equal_mask),
    *binary("max_weight", ops.max_weight),
    Case("where", lambda x, y: dnp.where(MASK_32, x, y), ((3, 2), (3, 2))),
    Case("where", lambda x, y: dnp.where(MASK_32, x, y), ((3, 1), (2,)), label="bcast"),
    Case("where", lambda x: dnp.where(MASK_32, x, 0.0), ((),), label="scalar"),
    *unary("clip", lambda x: dnp.clip(x, -0.5, 0.5)),
    Case("clip", lambda x: dnp.clip(x, a_min=0.0), ((3, 2),), label="lower"),
]

REDUCTION_AXES = [((3,), None, False), ((3, 2), None, False), ((3, 2), 0, False),
                  ((3, 2), -1, True), ((2, 3, 2), (0, 2), False), ((2, 3, 2), 1, True)]
for _name, _fn, _dom in [("sum", dnp.sum, "real"), ("mean", dnp.mean, "real"),
                         ("prod", dnp.prod, "real"), ("max", dnp.max, "real"),
                         ("min", dnp.min, "real"), ("logsumexp", dnp.logsumexp, "real")]:
    for _shape, _axis, _keep in REDUCTION_AXES:
        CASES.append(Case(_name, lambda x, f=_fn, a=_axis, k=_keep: f(x, axis=a, keepdims=k),
                          (_shape,), _dom, label=f"axis{_axis}-keep{int(_keep)}"))
for _shape, _axis, _keep in [((3,), (-1,), False), ((3, 2), (-2,), True), ((2, 3, 2), (-3, -1), False)]:
    # max's VJP as a function of the cotangent g; x holds a tie, so the shares are 1/2
    _x = np.arange(float(np.prod(_shape))).reshape(_shape) % 3.0
    _m = np.max(_x, axis=_axis, keepdims=_keep)
    CASES.append(Case("tie_scale", lambda g, x=_x, m=_m, a=_axis, k=_keep: ops.tie_scale(
        g, x, m, axis=a, keepdims=k), (np.shape(_m),), label=f"axis{_axis}-keep{int(_keep)}"))
    # its transpose (max's JVP) as a function of the tangent t, with the same tie
    CASES.append(Case("tie_pick", lambda t, x=_x, m=_m, a=_axis, k=_keep: ops.tie_pick(
        t, x, m, axis=a, keepdims=k), (_shape,), label=f"axis{_axis}-keep{int(_keep)}"))
for _shape, _axis in [((5,), (-1,)), ((4, 3), (-1,)), ((2, 4, 3), (-1,)), ((4, 3), (-2, -1))]:
    # one maximiser per group: tie_pick's gather
    _x = np.random.default_rng(len(_shape)).permutation(int(np.prod(_shape))).reshape(_shape) * 1.0
    _m = np.max(_x, axis=_axis)
    CASES.append(Case("tie_pick", lambda t, x=_x, m=_m, a=_axis: ops.tie_pick(
        t, x, m, axis=a, keepdims=False), (_shape,), label=f"unique-axis{_axis}"))
CASES.append(Case("sum", lambda x: dnp.sum(x), ((),), label="scalar"))
CASES.append(Case("prod", lambda x: dnp.prod(x * np.array([1.0, 0.0, 1.0])), ((3,),),
                  label="with-zero"))
for _name, _fn in [("softmax", dnp.softmax), ("log_softmax", dnp.log_softmax)]:
    for _shape, _axis in [((4,), -1), ((3, 2), 0), ((3, 2), -1), ((2, 3, 2), (0, 2))]:
        CASES.append(Case(_name, lambda x, f=_fn, a=_axis: f(x, axis=a), (_shape,),
                          label=f"axis{_axis}"))
for _shape, _axis in [((4,), None), ((3, 2), 0), ((3, 2), -1), ((3, 2), None)]:
    CASES.append(Case("cumsum", lambda x, a=_axis: dnp.cumsum(x, axis=a), (_shape,),
                      label=f"axis{_axis}"))
for _sa, _sb in [((3, 2), (2, 4)), ((2,), (2, 3)), ((2,), (2,)),
                 ((2, 3, 2), (2, 4)), ((2, 3, 2), (2, 2, 4)), ((3, 2), (5, 2, 4))]:
    CASES.append(Case("matmul", lambda a, b: a @ b, (_sa, _sb)))
for _sa in [(3, 2), (4, 3, 2)]:  # A @ x with a 1-D x takes matvec
    CASES.append(Case("matvec", lambda a, b: a @ b, (_sa, (2,))))
for _sa, _sv in [((4, 3, 2), (4, 2)), ((3, 2), (4, 2)), ((4, 3, 2), (5, 1, 2))]:
    CASES.append(Case("matvec", lambda a, v: dt.ops.matvec(a, v), (_sa, _sv), label="stacked"))
CASES += [
    Case("matmul", dnp.dot, ((2, 3, 2), (4, 2, 3)), label="dotND"),
    Case("transpose", lambda x: x.T, ((3, 2),)),
    Case("transpose", lambda x: dnp.transpose(x, (1, 0, 2)), ((2, 3, 4),), label="perm"),
    Case("transpose", lambda x: dnp.moveaxis(x, 0, -1), ((2, 3, 4),), label="moveaxis"),
    Case("reshape", lambda x: dnp.reshape(x, (2, 3)), ((3, 2),)),
    Case("reshape", lambda x: x.reshape(-1), ((3, 2),), label="flat"),
    Case("reshape", lambda x: dnp.reshape(x, (3, 1, 2)), ((6,),), label="grow"),
    Case("broadcast_to", lambda x: dnp.broadcast_to(x, (2, 3, 4)), ((3, 1),)),
    Case("broadcast_to", lambda x: dnp.broadcast_to(x, (3,)), ((),), label="scalar"),
    Case("expand_dims", lambda x: dnp.expand_dims(x, 0), ((3, 2),)),
    Case("expand_dims", lambda x: dnp.expand_dims(x, (0, 3)), ((3, 2),), label="two"),
    Case("squeeze", lambda x: dnp.squeeze(x, 1), ((3, 1, 2),)),
    Case("squeeze", lambda x: dnp.squeeze(x), ((1, 3),), label="all"),
    Case("flip", lambda x: dnp.flip(x, 0), ((3, 2),)),
    Case("flip", lambda x: dnp.flip(x), ((3, 2),), label="all"),
    Case("concatenate", lambda x, y: dnp.concatenate([x, y]), ((3,), (2,))),
    Case("concatenate", lambda x, y: dnp.concatenate([x, y], axis=1), ((3, 2), (3, 1)),
         label="axis1"),
    Case("concatenate", lambda x: dnp.concatenate([x, 2.0 * x, np.ones(3)]), ((3,),),
         label="const"),
    Case("stack", lambda x, y: dnp.stack([x, y]), ((3,), (3,))),
    Case("stack", lambda x, y: dnp.stack([x, y], axis=-1), ((3, 2), (3, 2)), label="last"),
    Case("getitem", lambda x: x[1], ((3, 2),), label="int"),
    Case("getitem", lambda x: x[1:], ((3, 2),), label="slice"),
    Case("getitem", lambda x: x[::-1, -1], ((3, 2),), label="step"),
    Case("getitem", lambda x: x[..., 0], ((2, 3, 2),), label="ellipsis"),
    Case("getitem", lambda x: x[None, :, 1], ((3, 2),), label="newaxis"),
    Case("getitem", lambda x: x[np.array([0, 2, 0])], ((3, 2),), label="intarray-dup"),
    Case("getitem", lambda x: x[MASK_32], ((3, 2),), label="mask"),
    Case("getitem", lambda x: x[np.array([0, 1]), np.array([1, 0])], ((3, 2),), label="pairs"),
    Case("getitem", lambda x: x[2], ((4,),), label="vector"),
    Case("take", lambda x: dnp.take(x, np.array([0, 2, 2]), axis=0), ((3, 2),)),
    Case("take", lambda x: dnp.take(x, np.array([5, 0]), axis=None), ((3, 2),), label="flat"),
    Case("take", lambda x: dnp.take(x, np.array([[1, 0], [1, 1]]), axis=-1), ((3, 2),),
         label="last"),
    Case("scatter_add", lambda g: ops.scatter_add(g, index=(np.array([0, 2, 0]),), shape=(3, 2)),
         ((3, 2),)),
    Case("scatter_add", lambda g: ops.scatter_add(g, index=(slice(1, None),), shape=(3, 2)),
         ((2, 2),), label="basic"),
    Case("pick_along", lambda x: dnp.sort(x), ((4,),), label="sort"),
    Case("pick_along", lambda x: dnp.sort(x, axis=0), ((3, 2),), label="sort-axis0"),
    Case("pick_along", lambda x: ops.pick_along(x, indices=np.array([[1, 1, 0], [0, 1, 1]]), axis=1),
         ((2, 2),), label="repeats"),
    Case("put_along", lambda g: ops.put_along(g, indices=np.array([[1, 1, 0], [0, 1, 1]]), axis=1,
                                              length=2), ((2, 3),)),
    Case("put_along", lambda g: ops.put_along(g, indices=np.array([2, 0, 2, 1]), axis=0, length=3),
         ((4,),), label="vector"),
]


# ---------------------------------------------------------------- npcov: ops.special, ops.statistics

DOMAINS["gt1"] = lambda r, s: r.uniform(1.2, 3.0, s)
# Standard normal with about a third of the entries exactly zero.
DOMAINS["zeros"] = lambda r, s: r.standard_normal(s) * (r.uniform(size=s) > 0.35)

CASES += [
    *unary("arcsin", dnp.arcsin, "unit"),
    *unary("arccos", dnp.arccos, "unit"),
    *unary("arcsinh", dnp.arcsinh),
    *unary("arccosh", dnp.arccosh, "gt1"),
    *unary("arctanh", dnp.arctanh, "unit"),
    *unary("log2", dnp.log2, "pos"),
    *unary("log10", dnp.log10, "pos"),
    *unary("exp2", dnp.exp2),
    *unary("cbrt", dnp.cbrt, "away"),
    *unary("sinc", dnp.sinc),
    Case("sinc", dnp.sinc, ((7,),), "zeros", label="at-zero"),
    *binary("arctan2", dnp.arctan2),
    *binary("hypot", dnp.hypot, "away"),
    *binary("logaddexp", dnp.logaddexp),
    *binary("logaddexp2", dnp.logaddexp2),
    *binary("remainder", dnp.remainder, ("real", "away")),
    *binary("fmod", dnp.fmod, ("real", "away")),
    *unary("ldexp", lambda x: dnp.ldexp(x, 3)),
    Case("ldexp", lambda x: dnp.ldexp(x, np.array([[-2], [0], [5]])), ((3, 2),), label="bcast"),
    *unary("floor", dnp.floor, "away"),
    *unary("ceil", dnp.ceil, "away"),
    *unary("rint", dnp.rint, "away"),
    *unary("trunc", dnp.trunc, "away"),
    *unary("round", lambda x: dnp.round(x, 1), "away"),
    *unary("astype", lambda x: _E.astype(x, dtype=np.dtype(np.float64))),
]
for _shape, _axis, _keep in REDUCTION_AXES:
    for _ddof in (0, 1):
        CASES.append(Case("var", lambda x, a=_axis, k=_keep, d=_ddof: dnp.var(x, a, ddof=d, keepdims=k),
                          (_shape,), label=f"axis{_axis}-keep{int(_keep)}-ddof{_ddof}"))
for _shape, _axis in [((4,), None), ((3, 2), 0), ((3, 2), -1), ((2, 3, 2), 1)]:
    CASES.append(Case("cumprod", lambda x, a=_axis: dnp.cumprod(x, axis=a), (_shape,),
                      label=f"axis{_axis}"))
    CASES.append(Case("cumprod", lambda x, a=_axis: dnp.cumprod(x, axis=a), (_shape,), "zeros",
                      label=f"zeros-axis{_axis}"))


# ---------------------------------------------------------------- linear algebra and einsum
# (the "linalg" block; decompositions are tested through sign-invariant functions of their
# factors, since two correct libraries may flip a singular vector)


def _eye_like(s):
    return np.broadcast_to(np.eye(s[-1]), s)


DOMAINS.update({
    "spd": lambda r, s: (lambda m: m @ np.swapaxes(m, -1, -2) + s[-1] * _eye_like(s))(
        r.standard_normal(s)),
    "wellcond": lambda r, s: r.standard_normal(s) + 3.0 * _eye_like(s),
    "negdet": lambda r, s: (r.standard_normal(s) + 3.0 * _eye_like(s)) * np.array(
        [-1.0] + [1.0] * (s[-1] - 1))[:, None],
})
LA = dnp.linalg


def _svd_u(x):
    u, s, _ = LA.svd(x, full_matrices=False)
    return u * u * s[..., None, :]


def _svd_v(x):
    _, s, vh = LA.svd(x, full_matrices=False)
    return vh * vh * s[..., :, None]


def _eigh_v(x):
    w, v = LA.eigh(x)
    return v * v * w[..., None, :]


def _qr_both(x):
    q, r = LA.qr(x)
    if dnp.shape(q)[-1] == dnp.shape(r)[-1]:
        return dnp.concatenate([q, r], axis=-2)
    return q @ r + q[..., :1] * r[..., :1, :]  # wide: R has more columns than Q


CASES += [
    Case("solve", LA.solve, ((3, 3), (3, 2)), ("wellcond", "real")),
    Case("solve", LA.solve, ((2, 3, 3), (3, 2)), ("wellcond", "real"), label="bcast"),
    Case("solve", LA.solve, ((3, 3), (3,)), ("wellcond", "real"), label="vector"),
    Case("inv", LA.inv, ((3, 3),), "wellcond"),
    Case("inv", LA.inv, ((2, 3, 3),), "wellcond", label="stack"),
    Case("det", LA.det, ((3, 3),), "wellcond"),
    Case("det", LA.det, ((2, 3, 3),), "negdet", label="stack"),
    Case("logabsdet", lambda x: LA.slogdet(x)[1], ((3, 3),), "wellcond"),
    Case("logabsdet", lambda x: LA.slogdet(x).logabsdet, ((2, 3, 3),), "negdet", label="neg"),
    Case("det_sign", lambda x: LA.slogdet(x)[0] * dnp.sum(x), ((3, 3),), "negdet"),
    Case("cholesky", LA.cholesky, ((3, 3),), "spd"),
    Case("cholesky", LA.cholesky, ((2, 3, 3),), "spd", label="stack"),
    Case("cholesky", lambda x: LA.cholesky(x, upper=True), ((3, 3),), "spd", label="upper"),
    Case("pinv", LA.pinv, ((3, 2),)),
    Case("pinv", LA.pinv, ((2, 3),), label="wide"),
    Case("pinv", LA.pinv, ((2, 3, 3),), "wellcond", label="stack"),
    Case("eigh", LA.eigvalsh, ((3, 3),), "spd", label="values"),
    Case("eigh", LA.eigvalsh, ((2, 3, 3),), "real", label="values-stack"),
    Case("eigh", _eigh_v, ((3, 3),), "spd", label="vectors"),
    Case("eigh", _eigh_v, ((2, 4, 4),), "real", label="vectors-stack"),
    Case("svd", LA.svdvals, ((3, 2),), label="values"),
    Case("svd", LA.svdvals, ((2, 2, 3),), label="values-stack"),
    Case("svd", _svd_u, ((4, 3),), label="u-tall"),
    Case("svd", _svd_u, ((2, 4),), label="u-wide"),
    Case("svd", _svd_v, ((3, 2),), label="v-tall"),
    Case("svd", _svd_v, ((2, 2, 3),), label="v-wide"),
    Case("svd", _svd_u, ((3, 3),), label="u-square"),
    Case("qr", _qr_both, ((3, 2),)),
    Case("qr", _qr_both, ((3, 3),), label="square"),
    Case("qr", _qr_both, ((2, 3, 2),), label="stack"),
    Case("qr", _qr_both, ((2, 4),), label="wide"),
    Case("qr", lambda x: LA.qr(x, mode="r"), ((4, 3),), label="r"),
    Case("inv", lambda x: LA.matrix_power(x, -2), ((3, 3),), "wellcond", label="matrix_power"),
    Case("matmul", lambda x: LA.matrix_power(x, 5), ((3, 3),), label="matrix_power"),
    Case("einsum", lambda x: dnp.einsum("ij,ij->ij", x, x), ((1, 3),), label="selfsame"),
    # (finite differences see through stop_gradient, so its argument is constant in value here)
    Case("stop_gradient", lambda x: dnp.sin(x) * dt.stop_gradient(dnp.sign(x) + 0.0 * x),
         ((3, 2),), "away"),
]
for _lower in (True, False):
    for _trans in (0, 1, "C"):
        for _unit in (False, True):
            CASES.append(Case(
                "solve_triangular",
                lambda a, b, lo=_lower, tr=_trans, un=_unit: LA.solve_triangular(
                    a, b, lower=lo, trans=tr, unit_diagonal=un),
                ((3, 3), (3, 2)), ("wellcond", "real"), label=f"lower{int(_lower)}-{_trans}-{int(_unit)}"))
CASES += [
    Case("solve_triangular", lambda a, b: LA.solve_triangular(a, b, lower=True),
         ((2, 3, 3), (3,)), ("wellcond", "real"), label="vector-bcast"),
    Case("solve_triangular", lambda a, b: LA.solve_triangular(a, b, trans="T"),
         ((3, 3), (2, 3, 2)), ("wellcond", "real"), label="bcast-b"),
]
EINSUM_CASES = [
    ("ij,jk->ik", ((3, 2), (2, 4))), ("ij,jk", ((3, 2), (2, 4))), ("ii->", ((3, 3),)),
    ("ii", ((3, 3),)), ("ii->i", ((3, 3),)), ("...ij,...jk->...ik", ((2, 3, 2), (2, 4))),
    ("...ij,...jk", ((2, 1, 3, 2), (4, 2, 2))), ("i,i", ((3,), (3,))), ("i,j->ij", ((3,), (2,))),
    ("ijk->", ((2, 3, 2),)), ("ij->ji", ((3, 2),)), ("bij,bjk,bkl->bil", ((2, 3, 2), (2, 2, 2),
                                                                         (2, 2, 3))),
    ("ij->i", ((3, 2),)), ("ii,i->i", ((3, 3), (3,))), ("iij->j", ((2, 2, 3),)),
    ("ij,ij->ij", ((1, 3), (2, 3))), ("i...->...", ((2, 3, 2),)), (",i->i", ((), (3,))),
    ("ij,jk,kl,lm->im", ((2, 3), (3, 2), (2, 2), (2, 3))), ("Ba,aC", ((2, 3), (3, 2))),
]
for _spec, _shapes in EINSUM_CASES:
    CASES.append(Case("einsum", lambda *xs, s=_spec: dnp.einsum(s, *xs), _shapes, label=_spec))
CASES += [
    Case("einsum", lambda a, b: dnp.einsum(a, [0, 1], b, [1, 2], [0, 2]), ((3, 2), (2, 4)),
         label="sublist"),
    Case("einsum", lambda a: dnp.einsum(a, [Ellipsis, 1]), ((2, 3),), label="sublist-ellipsis"),
    Case("einsum", lambda a, b: dnp.tensordot(a, b, 1), ((3, 2), (2, 4)), label="tensordot1"),
    Case("einsum", lambda a, b: dnp.tensordot(a, b), ((3, 2, 2), (2, 2, 3)),
         label="tensordot2"),
    Case("einsum", lambda a, b: dnp.tensordot(a, b, ([1, 0], [0, 1])), ((3, 2, 2), (2, 3)),
         label="tensordot-pairs"),
    Case("einsum", lambda a, b: dnp.tensordot(a, b, 0), ((3,), (2,)), label="tensordot0"),
    Case("einsum", lambda a, b: dnp.tensordot(a, b, (1, 0)), ((3, 2), (2, 4)),
         label="tensordot-ints"),
    Case("getitem", lambda x: dnp.trace(x), ((3, 3),), label="trace"),
    Case("getitem", lambda x: dnp.trace(x, 1, 1, 2), ((2, 3, 4),), label="trace-offset"),
    Case("getitem", lambda x: dnp.diagonal(x, -1), ((3, 4),), label="diagonal"),
    Case("getitem", lambda x: dnp.diag(x, 1), ((3, 3),), label="diag-2d"),
    Case("scatter_add", lambda v: dnp.diag(v, -1), ((3,),), label="diag"),
    Case("mul", lambda x: dnp.triu(x, 1), ((2, 3, 3),), label="triu"),
    Case("mul", lambda x: dnp.tril(x), ((3, 4),), label="tril"),
    Case("mul", dnp.kron, ((2, 3), (3, 2)), label="kron"),
    Case("mul", dnp.kron, ((2,), (2, 3)), label="kron-ranks"),
    Case("mul", dnp.cross, ((4, 3), (3,)), label="cross"),
    Case("mul", lambda a, b: dnp.cross(a, b, axis=0), ((3, 2), (3, 2)), label="cross-axis"),
    Case("mul", dnp.cross, ((2,), (4, 2)), label="cross-2d"),
]
NORM_CASES = [
    ("sqrt", {}, (3, 2), "real"), ("sqrt", {"ord": 2, "axis": 0}, (3, 2), "real"),
    ("abs", {"ord": 1, "axis": -1}, (3, 2), "away"), ("max", {"ord": np.inf}, (4,), "away"),
    ("min", {"ord": -np.inf, "axis": 1, "keepdims": True}, (3, 4), "away"),
    ("power_const", {"ord": 3}, (4,), "away"),
    ("power_const", {"ord": 0.5, "axis": 0}, (4, 2), "away"),
    ("sqrt", {"ord": "fro"}, (3, 2), "real"), ("svd", {"ord": "nuc"}, (3, 2), "real"),
    ("svd", {"ord": 2}, (3, 3), "real"), ("svd", {"ord": -2, "axis": (2, 0)}, (3, 2, 2), "real"),
    ("max", {"ord": 1}, (3, 2), "away"), ("min", {"ord": -1}, (3, 2), "away"),
    ("max", {"ord": np.inf, "axis": (0, 2), "keepdims": True}, (3, 2, 2), "away"),
    ("min", {"ord": -np.inf}, (3, 2), "away"),
]
for _prim, _kw, _shape, _dom in NORM_CASES:
    CASES.append(Case(_prim, lambda x, kw=_kw: dnp.linalg.norm(x, **kw), (_shape,), _dom,
                      label="norm-" + "-".join(f"{k}{v}" for k, v in _kw.items())))


CASE_IDS = [c.id for c in CASES]


def _representatives(cases: list[Case]) -> list[Case]:
    """One case per (primitive, label): the one with the most elements (broadcasting wins ties)."""
    best: dict[tuple[str, str], Case] = {}
    for c in cases:
        key = (c.prim, c.label)
        score = (len(set(c.shapes)), sum(int(np.prod(s)) for s in c.shapes))
        if key not in best or score > best[key][1]:
            best[key] = (c, score)  # type: ignore[assignment]
    return [c for c, _ in best.values()]  # type: ignore[misc]


REPRESENTATIVE = _representatives(CASES)


def jax_reference(case: Case) -> Ref:
    """JAX's value, Jacobian and Hessian of <u, f> for ``case``, computed once (see _jaxref)."""
    return reference("prim:" + case.id, case.fn, case.args())


def _rel(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert a.shape == b.shape, f"shape {a.shape} != {b.shape}"
    return float(np.max(np.abs(a - b), initial=0.0)) / max(1.0, float(np.max(np.abs(b), initial=0)))


def _directions(case, args, seed=1):
    return directions(np.shape(case.fn(*args)), args, seed)


# ---------------------------------------------------------------- the registry itself


def test_every_primitive_has_cases():
    covered = {c.prim for c in CASES}
    missing = sorted(set(dt.primitives()) - covered)
    assert not missing, f"primitives without test cases: {missing}"


@pytest.mark.parametrize("name", sorted(dt.primitives()))
def test_primitive_is_complete(name):
    prim = dt.primitives()[name]
    assert callable(prim.impl)
    assert callable(prim.flops)
    assert prim.saves in ("args", "ans", "both", "meta")
    if prim.variadic:
        assert callable(prim.jvp) and callable(prim.vjp), "variadic rules are single callables"
    else:
        assert isinstance(prim.jvp, tuple) and isinstance(prim.vjp, tuple)
        assert len(prim.jvp) == len(prim.vjp), "one JVP and one VJP rule per argument"
        for j, v in zip(prim.jvp, prim.vjp, strict=True):
            assert (j is None) == (v is None), "a differentiable argument needs both rules"


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_primitive_is_counted(case):
    """Applying the case inside a transformation goes through the registry and is counted."""
    args = case.args()
    v, _ = _directions(case, args)
    with dt.count() as c:
        dt.jvp(case.fn, args, v)
    assert c.by_name[case.prim] >= 1
    assert c.n_ops == sum(c.by_name.values())
    assert c.flops >= 0


# ---------------------------------------------------------------- derivatives


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_finite_differences_and_adjoint(case):
    """Both modes, orders 1 and 2: FD for forward mode, adjoint identity for reverse."""
    dt.check_grads(case.fn, case.args(), order=2 if case.second_order else 1)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_first_order_matches_jax(case):
    args = case.args()
    ref = jax_reference(case)
    out, t = dt.jvp(case.fn, args, ref.v)
    assert _rel(out, ref.value) < 1e-12
    assert _rel(t, ref.jvp()) < 1e-10
    _, pull = dt.vjp(case.fn, *args)
    for a, b, x in zip(pull(ref.u), ref.vjp(), args, strict=True):
        assert np.shape(a) == np.shape(x)
        assert _rel(a, b) < 1e-10


def _second_order_sweep() -> list:
    """Every representative, but of the decompositions (2-3.5 s each, mostly JAX's reference)
    the first case of each only: the suite's budget (test_modes sweeps their Hessians)."""
    seen: set = set()
    out = []
    for c in REPRESENTATIVE:
        if c.prim not in {"svd", "qr", "eigh"} or c.prim not in seen:
            out.append(c)
        seen.add(c.prim)
    return out


@pytest.mark.parametrize("case", _second_order_sweep(), ids=lambda c: c.id)
def test_second_order_matches_jax(case):
    """Forward-over-reverse and reverse-over-forward against JAX's H v (H: Hessian of <u, f>)."""
    args = case.args()
    ref = jax_reference(case)
    v, u = ref.v, ref.u
    _, fwd_rev = dt.jvp(lambda *a: dt.vjp(case.fn, *a)[1](u), args, v)
    for a, b in zip(fwd_rev, ref.hvp(), strict=True):
        assert _rel(a, b) < 1e-9
    _, pull = dt.vjp(lambda *a: dt.jvp(case.fn, a, v)[1], *args)
    for a, b in zip(pull(u), ref.hvp(), strict=True):
        assert _rel(a, b) < 1e-9


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_vector_mode_matches_jax(case):
    """One batched pass per mode gives jax.jacfwd's Jacobian (rules see batch axes)."""
    args = case.args()
    nums = tuple(range(len(args)))
    ref = jax_reference(case).jac
    for jac in (dt.jacfwd(case.fn, argnums=nums)(*args), dt.jacrev(case.fn, argnums=nums)(*args),
                dt.jacfwd(case.fn, argnums=nums, chunk=2)(*args)):
        for a, b in zip(jac, ref, strict=True):
            assert _rel(a, b) < 1e-10


@pytest.mark.parametrize("case", [c for c in REPRESENTATIVE if c.second_order and c.prim in
                                  {"mul", "div", "tanh", "exp", "matmul", "sum", "getitem",
                                   "softmax", "logsumexp", "prod", "power", "broadcast_to"}],
                         ids=lambda c: c.id)
def test_batched_second_order(case):
    """Vector mode nested in vector mode: jacfwd(jacrev) and jacrev(jacfwd) of <u, f>."""
    args = case.args()
    ref = jax_reference(case)
    u = ref.u

    def scalar(*a):
        return dnp.sum(case.fn(*a) * u)

    for h in (dt.jacfwd(dt.jacrev(scalar))(*args), dt.jacrev(dt.jacfwd(scalar))(*args),
              dt.hessian(scalar)(*args)):
        assert _rel(h, ref.hess[0][0]) < 1e-9


def test_tie_conventions_match_jax():
    """Non-differentiable points follow JAX: relu'(0) = 0, ties split 1/2 each."""
    for fn in (dnp.relu, lambda x: dnp.maximum(x, 0.0), lambda x: dnp.minimum(x, 0.0),
               lambda x: dnp.clip(x, 0.0, 1.0), lambda x: dnp.clip(x, -1.0, 0.0)):
        assert float(dt.grad(fn)(0.0)) == float(jax.grad(fn)(0.0))
    x = np.array([1.0, 3.0, 3.0, 2.0])
    np.testing.assert_allclose(dt.grad(dnp.max)(x), jax.grad(dnp.max)(jax.numpy.asarray(x)))
    np.testing.assert_allclose(dt.grad(dnp.max)(x), [0.0, 0.5, 0.5, 0.0])


@pytest.mark.parametrize("op", [dnp.maximum, dnp.minimum], ids=["maximum", "minimum"])
def test_selection_rules_on_floats_match_the_array_rules(op):
    """maximum/minimum's inline rules on Python floats give what the array rules give:
    ties split the cotangent, a NaN operand gets none, and an infinite cotangent times a
    zero weight is NaN in both."""
    pairs = [(1.0, 2.0), (2.0, 1.0), (1.5, 1.5), (math.nan, 1.0), (1.0, math.nan), (0.0, -0.0)]
    for g in (1.0, -2.5, math.inf):
        for x, y in pairs:
            _, pull = dt.vjp(op, x, y)
            _, pull_arrays = dt.vjp(op, np.array([x]), np.array([y]))
            got = pull(g)
            want = pull_arrays(np.array([g]))
            for a, b in zip(got, want, strict=True):
                assert type(a) is float
                np.testing.assert_array_equal(np.array([a]), b, err_msg=f"{x}, {y}, g={g}")
            t = dt.jvp(op, (x, y), (g, 2.0 * g))[1]
            t_arrays = dt.jvp(op, (np.array([x]), np.array([y])), (np.array([g]), np.array([2.0 * g])))[1]
            np.testing.assert_array_equal(np.array([t]), t_arrays, err_msg=f"jvp {x}, {y}, g={g}")


_EDGES = [-2.0, -0.5, -0.0, 0.0, 0.5, 2.0, math.nan, math.inf, -math.inf]


def test_where_and_clip_on_python_floats_stay_floats_with_numpys_values():
    """where and clip on Python floats (as scalar code writes them: ``where(v > 0.0, v, 0.0)``,
    ``clip(v, 0.0, None)``) give a Python float, not a 0-d array or NumPy scalar that would
    slow every later operation, with np.where's and np.clip's values: NaN wins, lo > hi
    gives hi, int bounds promote."""
    bounds = [*_EDGES, None, 0, 1, -1]
    for x in _EDGES:
        for lo in bounds:
            for hi in bounds:
                if lo is None and hi is None:
                    continue
                got, want = dnp.clip(x, lo, hi), np.clip(x, lo, hi)
                assert type(got) is float, (x, lo, hi)
                np.testing.assert_array_equal(got, want, err_msg=f"clip({x}, {lo}, {hi})")
    for c in (True, False):
        for x in [*_EDGES, 3]:
            for y in [*_EDGES, 0]:
                if type(x) is int and type(y) is int:
                    continue
                got = dnp.where(c, x, y)
                assert type(got) is float, (c, x, y)
                np.testing.assert_array_equal(got, np.where(c, x, y), err_msg=f"where({c}, {x}, {y})")
    assert type(dnp.where(True, 1, 2)) is np.ndarray  # ints: NumPy's own result


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # inf * 0 in the array rules
@pytest.mark.parametrize("op", ["where", "clip"])
def test_where_and_clip_rules_on_floats_match_the_array_rules(op):
    """The inline rules on Python floats give what the array rules give, in both modes
    (ties at a clip bound split 1/2, as JAX's maximum and minimum do)."""
    fn = {"where": lambda v: dnp.where(v > 0.0, v, -1.0),
          "clip": lambda v: dnp.clip(v, 0.0, 0.5)}[op]
    for x in _EDGES:
        for g in (1.0, -2.5, math.inf):
            _, pull = dt.vjp(fn, x)
            _, pull_arrays = dt.vjp(fn, np.array([x]))
            (a,), (b,) = pull(g), pull_arrays(np.array([g]))
            assert type(a) is float
            np.testing.assert_array_equal(np.array([a]), b, err_msg=f"vjp {op} at {x}, g={g}")
            t = dt.jvp(fn, (x,), (g,))[1]
            t_arrays = dt.jvp(fn, (np.array([x]),), (np.array([g]),))[1]
            assert type(t) is float
            np.testing.assert_array_equal(np.array([t]), t_arrays, err_msg=f"jvp {op} at {x}, g={g}")
    for x in (-1.0, 0.0, 0.25, 0.5, 1.0):
        assert dt.grad(fn)(x) == float(jax.grad(fn)(x)), (op, x)


def test_a_traced_operand_among_plain_ones_records_only_its_own_parent():
    """where(c, x, x) and clip(x, lo, hi) with x traced twice or once: the shortcut for one
    traced operand among plain ones must not drop the second use."""
    assert dt.grad(lambda v: dnp.where(v > 0.0, v, v))(2.0) == 1.0
    assert dt.grad(lambda v: dnp.where(v > 0.0, v * 3.0, v))(-2.0) == 1.0
    assert dt.grad(lambda v: dnp.clip(v, v - 1.0, None))(2.0) == 1.0  # traced bound: max(v, v-1)
    x = np.array([-1.0, 0.5, 2.0])
    np.testing.assert_array_equal(dt.grad(lambda v: dnp.sum(dnp.where(v > 0.0, v * v, v)))(x),
                                  [1.0, 1.0, 4.0])


def test_abs_slope_at_zero_is_zero():
    """abs'(0) = sign(0) = 0 in both modes (as PyTorch and autograd; JAX 0.10 returns 1)."""
    assert float(dt.grad(dnp.abs)(0.0)) == 0.0
    assert float(dt.jvp(dnp.abs, (0.0,), (1.0,))[1]) == 0.0


def test_power_second_derivative_at_zero_exponent():
    """(e^x)^x = e^(x^2): the base's slope vanishes at y = 0 but its y-derivative does not."""
    g = lambda x: dnp.power(dnp.exp(x), x)
    assert float(dt.hessian(g)(np.array(0.0))) == pytest.approx(2.0)
    assert float(dt.hvp(g, (np.array(0.0),), (np.array(1.0),))) == pytest.approx(2.0)
    assert float(dt.grad(lambda x: dnp.power(x, 0.0 * x))(0.0)) == 0.0



@pytest.mark.parametrize("axis", [-1, 0, None])
def test_max_jvp_keeps_float32_with_and_without_ties(axis):
    for x in (np.array([[1.0, 3.0, 2.0], [4.0, 0.0, 5.0]], np.float32),
              np.array([[3.0, 3.0, 2.0], [5.0, 0.0, 5.0]], np.float32)):
        t = np.ones_like(x)
        out, tan = dt.jvp(lambda v: dnp.max(v, axis=axis), (x,), (t,))
        assert np.asarray(tan).dtype == np.float32, (axis, x)
