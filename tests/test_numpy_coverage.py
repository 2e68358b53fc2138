"""``dualtape.numpy`` function by function, against JAX.

Each row names a NumPy function and how to call it. It is run three ways: as
``dualtape.numpy.<name>``, as ``numpy.<name>`` on traced values (which must reach
dualtape through ``__array_function__`` / ``__array_ufunc__``), and as
``jax.numpy.<name>``, the reference. Checked for every row: the value, finite
differences and the adjoint identity to second order, JAX's JVP and VJP, JAX's
second order (forward-over-reverse and reverse-over-forward), and vector mode.
The coverage table (``scripts/coverage_table.py``) may call a function covered
only if it has a row here or a primitive case in ``test_primitives.py``.
"""

from __future__ import annotations

import importlib.util
import pathlib
import sys
from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _jaxref import Ref, reference
from test_primitives import CASES, DOMAINS, _rel

import dualtape as dt
import dualtape.numpy as dnp

jax.config.update("jax_enable_x64", True)


@dataclass
class Row:
    name: str
    call: Callable
    shapes: tuple
    domain: str | tuple = "real"
    label: str = ""
    ref: str | None = None  # jax.numpy's name when it differs
    via_numpy: bool = True  # numpy.<name> exists and dispatches on traced values

    @property
    def id(self) -> str:
        return f"{self.name}-{self.label}" if self.label else self.name

    def args(self, seed: int = 0) -> tuple:
        rng = np.random.default_rng(seed)
        doms = self.domain if isinstance(self.domain, tuple) else (self.domain,) * len(self.shapes)
        return tuple(DOMAINS[d](rng, s) for d, s in zip(doms, self.shapes, strict=True))

    def fn(self, module) -> Callable:
        name = self.ref if module is jnp and self.ref else self.name
        f = module
        for part in name.split("."):  # "linalg.det"
            f = getattr(f, part)
        return lambda *a: self.call(f, *a)


def R(name, call=None, shapes=((3, 2),), domain="real", **kw) -> Row:
    return Row(name, call or (lambda f, *a: f(*a)), shapes, domain, **kw)


def U(names, domain="real", shape=(3, 2)) -> list[Row]:
    return [R(n, shapes=(shape,), domain=domain) for n in names.split()]


def B(names, domain="real") -> list[Row]:
    return [R(n, shapes=((3, 1), (1, 2)), domain=domain) for n in names.split()]


W3 = np.array([0.5, 1.5, 2.0])
MASK = np.array([[True, False], [False, True], [True, True]])

ROWS: list[Row] = [
    # elementwise, one argument
    *U("negative exp expm1 sin cos tanh sinh cosh arctan atan arcsinh asinh square sinc exp2 "
       "deg2rad radians rad2deg degrees cbrt real conj conjugate"),
    *U("log log1p sqrt log2 log10", "pos"),
    *U("tan arcsin asin arccos acos arctanh atanh", "unit"),
    *U("arccosh acosh", "gt1"),
    *U("abs absolute fabs reciprocal sign floor ceil rint trunc round around", "away"),
    R("fix", domain="away", ref="trunc"),
    R("round", lambda f, x: f(x, 1), domain="away", label="decimals"),
    R("real_if_close", ref="real"),
    R("nan_to_num", lambda f, x: f(x + np.array([0.0, np.nan, -np.inf, 0.0, np.inf, 0.0])),
      ((6,),)),
    R("clip", lambda f, x: f(x, -0.5, 0.5)),
    R("astype", lambda f, x: f(x, np.float64), via_numpy=False),
    # elementwise, two arguments (broadcasting)
    *B("add subtract multiply maximum minimum arctan2 atan2 logaddexp logaddexp2"),
    *B("divide true_divide hypot", "away"),
    *B("power pow", ("pos", "real")),
    *B("mod remainder fmod", ("real", "away")),
    R("fmax", lambda f, x, y: f(x, y + np.array([[0.0, np.nan]])), ((3, 1), (1, 2))),
    R("fmin", lambda f, x, y: f(x + np.array([[np.nan], [0.0], [0.0]]), y), ((3, 1), (1, 2))),
    R("where", lambda f, x, y: f(MASK, x, y), ((3, 2), (2,))),
    R("copysign", shapes=((3, 1), (1, 2)), domain=("away", "away")),
    R("float_power", shapes=((3, 1), (1, 2)), domain=("pos", "real")),
    # reductions and scans
    *[R(n, lambda f, x: f(x, axis=0)) for n in "sum prod max min amax amin mean".split()],
    R("var", lambda f, x: f(x, axis=1, ddof=1), ((2, 3, 2),)),
    R("std", lambda f, x: f(x, axis=(0, 2), keepdims=True), ((2, 3, 2),)),
    R("std", lambda f, x: f(x), label="all"),
    R("average", lambda f, x, w: f(x, axis=0, weights=w), ((3, 2), (3,)), ("real", "pos")),
    R("average", lambda f, x, w: f(x, weights=w), ((3, 2), (3, 2)), ("real", "pos"), label="full"),
    R("average", lambda f, x: f(x, axis=1), label="plain"),
    R("cumsum", lambda f, x: f(x, axis=0)),
    R("cumprod", lambda f, x: f(x, axis=1), ((2, 4),)),
    R("cumprod", lambda f, x: f(x), ((5,),), "zeros", label="zeros"),
    R("nansum", lambda f, x: f(x + np.array([0.0, np.nan]), axis=0)),
    R("nanmean", lambda f, x: f(x + np.array([[0.0, np.nan], [0.0, 0.0], [0.0, 0.0]]), axis=0)),
    *[R(n, lambda f, x: f(x + np.array([[0.0, np.nan], [0.0, 0.0], [np.nan, 0.0]]), axis=0))
      for n in ("nanmax", "nanmin")],
    R("diff", lambda f, x: f(x, axis=0)),
    R("diff", lambda f, x: f(x, n=2, prepend=1.0, append=x[:, :1]), ((2, 4),), label="n2"),
    R("gradient", lambda f, x: f(x, 0.5, axis=1), ((2, 5),)),
    # shapes
    R("reshape", lambda f, x: f(x, (2, 3))),
    R("ravel"),
    R("transpose"),
    R("permute_dims", lambda f, x: f(x, (2, 0, 1)), ((2, 3, 4),), ref="permute_dims"),
    R("moveaxis", lambda f, x: f(x, 0, -1), ((2, 3, 4),)),
    R("swapaxes", lambda f, x: f(x, 0, 2), ((2, 3, 4),)),
    R("rollaxis", lambda f, x: f(x, 2, 1), ((2, 3, 4),)),
    R("rollaxis", lambda f, x: f(x, 0, -1), ((2, 3, 4),), label="negative_start"),
    R("moveaxis", lambda f, x: f(x, np.int64(0), [np.int64(-1)]), ((2, 3, 4),), label="np_int"),
    R("expand_dims", lambda f, x: f(x, np.int64(0)), label="np_int"),
    R("broadcast_to", lambda f, x: f(x, (np.int64(2), 3, 2)), label="np_int"),
    R("expand_dims", lambda f, x: f(x, 1)),
    R("squeeze", shapes=((3, 1, 2),)),
    R("broadcast_to", lambda f, x: f(x, (4, 3, 2))),
    R("atleast_1d", shapes=((),)),
    R("atleast_2d", shapes=((3,),)),
    R("atleast_3d", shapes=((3, 2),)),
    R("atleast_3d", shapes=((3,),), label="1d"),
    R("pad", lambda f, x: f(x, ((1, 2), (0, 1)))),
    R("pad", lambda f, x: f(x, 1, constant_values=2.5), label="value"),
    R("pad", lambda f, x: f(x, ((2, 1), (1, 1)), mode="reflect"), label="reflect"),
    R("pad", lambda f, x: f(x, 2, mode="edge"), label="edge"),
    R("pad", lambda f, x: f(x, ((1, 3), (2, 0)), mode="wrap"), label="wrap"),
    R("pad", lambda f, x: f(x, 1, mode="symmetric"), label="symmetric"),
    R("tile", lambda f, x: f(x, (2, 1, 3))),
    R("repeat", lambda f, x: f(x, 2, axis=0)),
    R("repeat", lambda f, x: f(x, np.array([1, 0, 2]), axis=0), label="counts"),
    R("repeat", lambda f, x: f(x, 2), label="flat"),
    R("roll", lambda f, x: f(x, 1, axis=0)),
    R("roll", lambda f, x: f(x, (2, -1), axis=(0, 1)), label="two"),
    R("roll", lambda f, x: f(x, 4), label="flat"),
    R("rot90"),
    R("rot90", lambda f, x: f(x, 3, axes=(2, 0)), ((2, 3, 4),), label="k3"),
    R("flip", lambda f, x: f(x, 1)),
    R("fliplr"),
    R("flipud"),
    R("sort"),
    R("sort", lambda f, x: f(x, axis=0), ((4, 3),), label="axis0"),
    R("sort", lambda f, x: f(x, axis=None), label="flat"),
    # jnp.partition arranges the other elements differently: compare the kth and the sums either side
    R("partition", lambda f, x: f(x, 2)[..., 2] + 2.0 * f(x, 2)[..., :2].sum(-1)
      - f(x, 2)[..., 3:].sum(-1), ((3, 5),)),
    R("take_along_axis", lambda f, x: f(x, np.array([[1], [0], [1]]), axis=1)),
    R("split", lambda f, x: f(x, 2, axis=1)[1], ((3, 4),)),
    R("split", lambda f, x: f(x, [1, 2])[0], ((3, 4),), label="indices"),
    R("array_split", lambda f, x: f(x, 3)[2], ((5, 2),)),
    R("hsplit", lambda f, x: f(x, 2)[0], ((3, 4),)),
    R("vsplit", lambda f, x: f(x, [1])[1]),
    R("dsplit", lambda f, x: f(x, 2)[1], ((2, 1, 4),)),
    R("concatenate", lambda f, x, y: f([x, y], axis=1), ((3, 2), (3, 1))),
    R("stack", lambda f, x, y: f([x, y], axis=1), ((3, 2), (3, 2))),
    R("hstack", lambda f, x, y: f([x, y]), ((3, 2), (3, 1))),
    R("vstack", lambda f, x, y: f([x, y]), ((2,), (3, 2))),
    R("column_stack", lambda f, x, y: f([x, y]), ((3,), (3, 2))),
    R("dstack", lambda f, x, y: f([x, y]), ((3, 2), (3, 2))),
    *[R(n, lambda f, x, y: f([x, y]), ((), ()), label="0d")
      for n in "hstack vstack dstack column_stack".split()],
    R("hstack", lambda f, x, y: f([x, y]), ((), (3,)), label="0d_1d"),
    R("append", lambda f, x, y: f(x, y), ((3, 2), (2,))),
    R("append", lambda f, x, y: f(x, y, axis=0), ((3, 2), (1, 2)), label="axis"),
    R("select", lambda f, x, y: f([MASK, ~MASK], [x, y], 0.5), ((3, 2), (2,))),
    R("take", lambda f, x: f(x, np.array([2, 0]), axis=0)),
    R("take", lambda f, x: f(x, np.array([7, -1]), mode="wrap"), label="wrap"),
    R("meshgrid", lambda f, x, y: f(x, y)[0] * f(x, y)[1] ** 2, ((3,), (2,))),
    R("meshgrid", lambda f, x, y: f(x, y, indexing="ij")[1], ((3,), (2,)), label="ij"),
    R("broadcast_arrays", lambda f, x, y: f(x, y)[0] * f(x, y)[1], ((3, 1), (1, 2))),
    R("copy", lambda f, x: f(x) * x, ((3, 2),)),
    # products
    R("matmul", shapes=((3, 2), (2, 4))),
    R("dot", shapes=((3, 2), (2,))),
    R("outer", shapes=((3,), (2,))),
    R("inner", shapes=((3,), (3,))),
    R("inner", shapes=((2, 3), (4, 3)), label="matrices"),
    R("inner", shapes=((2, 1, 3), (3,)), label="stack_vector"),
    R("inner", shapes=((), (2, 3)), label="scalar"),
    R("inner", shapes=((2, 0), (3, 0)), label="empty"),
    R("vdot", shapes=((3, 2), (3, 2))),
    # building arrays from traced values (numpy.array cannot dispatch: dualtape.numpy only)
    R("array", lambda f, x, y: f([[x, y], [y, x]]), ((), ()), via_numpy=False),
    R("asarray", lambda f, x: f([x, x]), ((2,),), via_numpy=False),
    R("full", lambda f, x: f((2, 3), x), ((),), via_numpy=False),
    # numpy.full_like dispatches on its first argument only
    R("full_like", lambda f, x: f(np.ones((2, 2)), x), ((),), via_numpy=False),
    R("linspace", lambda f, x, y: f(x, y, 5), ((), ()), via_numpy=False),
    R("linspace", lambda f, x, y: f(x, y, 4, endpoint=False, axis=1), ((2,), (2,)),
      via_numpy=False, label="vector"),
]

# ---- the "linalg" block: linear algebra, einsum and matrix helpers
ROWS += [
    R("einsum", lambda f, a, b: f("ij,jk->ik", a, b), ((3, 2), (2, 4))),
    R("einsum", lambda f, a: f("ii", a), ((3, 3),), label="trace"),
    R("tensordot", lambda f, a, b: f(a, b, 1), ((3, 2), (2, 4))),
    R("trace", shapes=((3, 3),)),
    R("trace", lambda f, x: f(x, 1, 1, 2), ((2, 3, 4),), label="axes"),
    R("diag", shapes=((3,),)),
    R("diag", lambda f, x: f(x, 1), ((3, 3),), label="2d"),
    R("diagonal", lambda f, x: f(x, -1), ((3, 4),)),
    R("triu", lambda f, x: f(x, 1), ((3, 3),)),
    R("tril", lambda f, x: f(x, -1), ((2, 3, 3),)),
    R("kron", shapes=((2, 3), (3, 2))),
    R("cross", shapes=((4, 3), (3,))),
    R("linalg.norm"),
    R("linalg.norm", lambda f, x: f(x, "nuc"), label="nuc"),
    R("linalg.norm", lambda f, x: f(x, 1, axis=0), domain="away", label="ord1"),
    R("linalg.det", shapes=((3, 3),), domain="wellcond"),
    R("linalg.slogdet", lambda f, x: f(x)[1], ((3, 3),), "negdet"),
    R("linalg.solve", shapes=((3, 3), (3, 2)), domain=("wellcond", "real")),
    R("linalg.inv", shapes=((3, 3),), domain="wellcond"),
    R("linalg.cholesky", shapes=((3, 3),), domain="spd"),
    R("linalg.eigh", lambda f, x: f(x)[0], ((3, 3),), "spd"),
    R("linalg.eigvalsh", shapes=((2, 3, 3),), domain="spd"),
    R("linalg.svd", lambda f, x: f(x, full_matrices=False)[1], ((3, 2),)),
    R("linalg.svdvals", shapes=((2, 3),)),
    R("linalg.qr", lambda f, x: f(x)[1], ((3, 2),)),
    R("linalg.pinv", shapes=((3, 2),)),
    R("linalg.matrix_power", lambda f, x: f(x, 3), ((3, 3),)),
    R("linalg.multi_dot", lambda f, a, b: f([a, b, b]), ((3, 2), (2, 2))),
    R("linalg.cond", shapes=((3, 3),), domain="wellcond"),
    R("linalg.cond", lambda f, x: f(x, "fro"), ((2, 3, 3),), "wellcond", label="fro"),
    R("linalg.trace", lambda f, x: f(x, offset=1), ((2, 3, 4),)),
    R("linalg.diagonal", shapes=((2, 3, 4),)),
    R("linalg.outer", shapes=((3,), (2,))),
    R("linalg.cross", shapes=((4, 3), (3,))),
    R("linalg.matrix_transpose", shapes=((2, 3, 4),)),
    R("linalg.vecdot", shapes=((2, 3), (3,))),
]

ROW_IDS = [r.id for r in ROWS]
# One row per function for the second-order comparison (the first row of each name).
FIRST = list({r.name: r for r in reversed(ROWS)}.values())


def _tested_names() -> set[str]:
    return {r.name for r in ROWS} | {c.prim for c in CASES} | set(CONSTANT_NAMES)


def jax_reference(row: Row) -> Ref:
    """jax.numpy's value, Jacobian and Hessian of <u, f> for ``row``, computed once (_jaxref)."""
    return reference("npcov:" + row.id, row.fn(jnp), row.args())


@pytest.mark.parametrize("row", ROWS, ids=ROW_IDS)
def test_value_and_numpy_dispatch(row):
    """Same value as jax.numpy; numpy's own function reaches dualtape on traced values."""
    args = row.args()
    f = row.fn(dnp)
    ref = jax_reference(row)
    assert _rel(f(*args), ref.value) < 1e-12
    out, t = dt.jvp(f, args, ref.v)
    if row.via_numpy:
        out_np, t_np = dt.jvp(row.fn(np), args, ref.v)
        assert _rel(out_np, out) == 0.0 and _rel(t_np, t) == 0.0
        _, pull = dt.vjp(row.fn(np), *args)
        for a, b in zip(pull(ref.u), dt.vjp(f, *args)[1](ref.u), strict=True):
            assert _rel(a, b) == 0.0


@pytest.mark.parametrize("row", ROWS, ids=ROW_IDS)
def test_finite_differences_and_adjoint(row):
    dt.check_grads(row.fn(dnp), row.args(), order=2)


@pytest.mark.parametrize("row", ROWS, ids=ROW_IDS)
def test_first_order_and_vector_mode_match_jax(row):
    """JVP, VJP and both vector modes against jax.jacfwd's Jacobian (shared per row)."""
    args = row.args()
    f = row.fn(dnp)
    ref = jax_reference(row)
    _, t = dt.jvp(f, args, ref.v)
    assert _rel(t, ref.jvp()) < 1e-10
    _, pull = dt.vjp(f, *args)
    for a, b, x in zip(pull(ref.u), ref.vjp(), args, strict=True):
        assert np.shape(a) == np.shape(x)
        assert _rel(a, b) < 1e-10
    nums = tuple(range(len(args)))
    for jac in (dt.jacfwd(f, argnums=nums)(*args), dt.jacrev(f, argnums=nums)(*args)):
        for a, b in zip(jac, ref.jac, strict=True):
            assert _rel(a, b) < 1e-10


@pytest.mark.parametrize("row", FIRST, ids=[r.id for r in FIRST])
def test_second_order_matches_jax(row):
    """Forward-over-reverse and reverse-over-forward against JAX's H v (H: Hessian of <u, f>)."""
    args = row.args()
    f = row.fn(dnp)
    ref = jax_reference(row)
    v, u = ref.v, ref.u
    _, fr = dt.jvp(lambda *a: dt.vjp(f, *a)[1](u), args, v)
    for a, b in zip(fr, ref.hvp(), strict=True):
        assert _rel(a, b) < 1e-9
    _, pull = dt.vjp(lambda *a: dt.jvp(f, a, v)[1], *args)
    for a, b in zip(pull(u), ref.hvp(), strict=True):
        assert _rel(a, b) < 1e-9


# ---------------------------------------------------------------- zero-derivative functions


CONSTANT_NAMES = [*dnp.PASSTHROUGH, "shape", "ndim", "size", "angle", "imag"]


@pytest.mark.parametrize("name", CONSTANT_NAMES)
def test_passthrough_has_no_derivative(name):
    """Integer, boolean and *_like results: NumPy's value on traced inputs, and no derivative."""
    x = np.array([[0.5, -1.0, 2.0], [0.5, 3.0, -0.25]])
    calls = {"searchsorted": lambda f, a: f(np.array([0.0, 1.0]), a[0, 0]),
             "argpartition": lambda f, a: f(a, 1),
             "empty_like": lambda f, a: f(a).shape,
             "digitize": lambda f, a: f(a, np.array([0.0, 1.0])),
             "result_type": lambda f, a: f(a, np.float32)}
    binary = {"logical_and", "logical_or", "logical_xor", "allclose", "isclose", "array_equal",
              "array_equiv", "greater", "greater_equal", "less", "less_equal", "equal",
              "not_equal", "floor_divide"}
    call = calls.get(name) or ((lambda f, a: f(a, a[::-1])) if name in binary else
                               (lambda f, a: f(a)))
    expected = call(getattr(np, name), x)
    seen = []

    def probe(a):
        for mod in (dnp, np):  # dualtape.numpy, and numpy's dispatch to it
            out = call(getattr(mod, name), a)
            seen.append(out)
        return dnp.sum(a)  # the derivative of the passthrough itself is checked below

    dt.grad(probe)(x)
    for out in seen:
        if isinstance(out, tuple):
            for o, e in zip(out, expected, strict=True):
                np.testing.assert_array_equal(o, e)
        else:
            np.testing.assert_array_equal(out, expected)
    if name not in ("result_type", "isscalar", "iscomplexobj"):
        jout = call(getattr(jnp, name), jnp.asarray(x))
        np.testing.assert_array_equal(np.asarray(jout).astype(np.asarray(expected).dtype)
                                      if not isinstance(jout, tuple) else expected, expected)


@pytest.mark.parametrize("name", ["floor", "ceil", "rint", "trunc", "round", "sign", "zeros_like",
                                  "ones_like", "argmax", "argsort"])
def test_zero_derivative_matches_jax(name):
    x = np.array([0.3, -1.7, 2.2])
    g, jg = getattr(dnp, name), getattr(jnp, name)
    f = lambda a: dnp.sum(a * g(a))
    jf = lambda a: jnp.sum(a * jg(a))
    np.testing.assert_allclose(dt.grad(f)(x), jax.grad(jf)(jnp.asarray(x)), rtol=1e-12)
    np.testing.assert_allclose(dt.jvp(f, (x,), (x,))[1], jax.jvp(jf, (x,), (x,))[1], rtol=1e-12)


# ---------------------------------------------------------------- conventions and errors


def test_fmax_ties_go_to_the_second_argument_as_in_jax():
    x = np.array([1.0, 2.0])
    for fname in ("fmax", "fmin"):
        f, jf = getattr(dnp, fname), getattr(jnp, fname)
        g = dt.grad(lambda a, b, f=f: dnp.sum(f(a, b)), argnums=(0, 1))(x, x)
        jg = jax.grad(lambda a, b, jf=jf: jnp.sum(jf(a, b)), argnums=(0, 1))(x, x)
        np.testing.assert_array_equal(g[0], jg[0])
        np.testing.assert_array_equal(g[1], jg[1])


def test_cumprod_with_zeros_hessian_matches_jax():
    x = np.array([1.5, 0.0, -2.0, 0.5])
    f = lambda a: dnp.sum(dnp.cumprod(a) * np.arange(1.0, 5.0))
    jf = lambda a: jnp.sum(jnp.cumprod(a) * jnp.arange(1.0, 5.0))
    np.testing.assert_allclose(dt.hessian(f)(x), jax.hessian(jf)(jnp.asarray(x)), atol=1e-12)


def test_sinc_derivatives_at_zero():
    """sinc is smooth at 0: sinc'(0) = 0, sinc''(0) = -pi^2/3, sinc'''(0) = 0."""
    d1 = dt.grad(dnp.sinc)
    d2 = dt.grad(d1)
    d3 = dt.grad(d2)
    assert float(d1(0.0)) == 0.0
    assert float(d2(0.0)) == pytest.approx(-np.pi ** 2 / 3, rel=1e-14)
    assert float(d3(0.0)) == 0.0


def test_astype_float32_round_trip():
    x = np.array([0.1, 0.2], dtype=np.float64)
    f = lambda a: dnp.sum(dnp.astype(a, np.float32) ** 2)
    g = dt.grad(f)(x)
    assert g.dtype == np.float64
    np.testing.assert_allclose(g, jax.grad(f)(jnp.asarray(x)), rtol=1e-6)
    assert dnp.astype(dt.jvp(lambda a: a, (x,), (x,))[0], np.int64).dtype == np.int64


def test_gradient_second_order_edges():
    """edge_order=2 (which jax.numpy.gradient lacks): NumPy's values, checked derivatives."""
    x = np.random.default_rng(3).standard_normal(6)
    np.testing.assert_allclose(dnp.gradient(x, 0.5, edge_order=2),
                               np.gradient(x, 0.5, edge_order=2), rtol=1e-14)
    dt.check_grads(lambda a: dnp.gradient(a, edge_order=2), (x,), order=2)


@pytest.mark.parametrize("edge_order", [1, 2])
def test_gradient_takes_coordinates_and_traced_spacings(edge_order):
    """Uneven sample points (NumPy's weights) and spacings that are themselves traced: the
    derivative reaches them (it was silently zero for a traced scalar spacing)."""
    rng = np.random.default_rng(8)
    y = rng.standard_normal((5, 4))
    c0, c1 = np.array([0.0, 1.0, 1.5, 3.0, 4.0]), np.array([0.0, 0.3, 1.0, 1.2])
    for spacing in ((c0, c1), (0.5, c1), (c0, 0.7)):
        for got, ref in zip(dnp.gradient(y, *spacing, edge_order=edge_order),
                            np.gradient(y, *spacing, edge_order=edge_order), strict=True):
            np.testing.assert_allclose(got, ref, rtol=1e-13, atol=1e-14)
    f = lambda h: dnp.sum(dnp.gradient(y[:, 0], h, edge_order=edge_order) ** 2)
    jf = lambda h: jnp.sum(jnp.gradient(jnp.asarray(y[:, 0]), h) ** 2)
    if edge_order == 1:  # jax.numpy.gradient has no edge_order=2
        np.testing.assert_allclose(dt.grad(f)(0.5), jax.grad(jf)(0.5), rtol=1e-12)
    dt.check_grads(f, (0.5,), order=2)
    dt.check_grads(lambda c: dnp.sum(dnp.sin(dnp.gradient(y, c, c1, edge_order=edge_order)[0])),
                   (c0,), order=2)
    with pytest.raises(ValueError, match="spacing of axis 0 must be a scalar or 5 coordinates"):
        dnp.gradient(y, np.ones(4), c1)
    with pytest.raises(TypeError, match="expected no spacing, one, or one per axis"):
        dnp.gradient(y, 1.0, 1.0, 1.0)


def test_hypot_slope_at_origin_is_zero():
    """The minimum-norm subgradient, as abs'(0) = 0 (JAX gives 1/2 for each argument)."""
    g = dt.grad(lambda a, b: dnp.hypot(a, b), argnums=(0, 1))(0.0, 0.0)
    assert (float(g[0]), float(g[1])) == (0.0, 0.0)


def test_bad_input_is_named():
    x = np.ones((3, 2))
    with pytest.raises(ValueError, match="equal division"):
        dt.grad(lambda a: dnp.sum(dnp.split(a, 2)[0]))(x)
    with pytest.raises(NotImplementedError, match="mode 'median'"):
        dt.grad(lambda a: dnp.sum(dnp.pad(a, 1, mode="median")))(x)
    with pytest.raises(NotImplementedError, match="dtype"):
        dt.grad(lambda a: dnp.var(a, dtype=np.float32))(x)
    with pytest.raises(ValueError, match="weights of length"):
        dnp.average(x, axis=0, weights=np.ones(2))
    with pytest.raises(NotImplementedError, match="complex"):
        dnp.real(np.ones(2) + 1j)


# ---------------------------------------------------------------- the coverage table


def _coverage_module():
    path = pathlib.Path(__file__).parents[1] / "scripts" / "coverage_table.py"
    spec = importlib.util.spec_from_file_location("coverage_table", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


def test_every_covered_row_has_a_generated_test():
    pytest.importorskip("autograd")
    rows = _coverage_module().coverage_rows()
    covered = {r.name for r in rows if r.dualtape == "covered"}
    tested = _tested_names()
    missing = sorted(n for n in covered
                     if n not in tested and n.removeprefix("linalg.") not in tested
                     and n.replace(".", "_") not in tested)
    assert not missing, f"covered in the table but without a generated test: {missing}"
    uncovered = [r for r in rows if r.dualtape != "covered" and r.kind != "zero derivative"]
    assert all(r.reason for r in uncovered), "every function not covered needs a reason"


def test_pad_takes_traced_constant_values_per_axis_and_side():
    """Each traced value fills the region NumPy gives it (later axes take the corners); the
    derivative of a value is the sum of the cotangent over its region (jax.grad of jnp.pad
    with a traced constant fails in the JAX this suite pins, so the regions are the reference)."""
    x = np.arange(6.0).reshape(2, 3)
    width = ((1, 2), (2, 1))
    weights = np.arange(30.0).reshape(5, 6)
    nested = lambda c: ((c[0], c[1]), (c[2], c[3]))
    f = lambda c: dnp.sum(dnp.pad(x, width, constant_values=nested(c)) * weights)
    c = np.array([1.0, 2.0, 3.0, 4.0])
    regions = np.pad(np.zeros((2, 3), int), width, constant_values=((1, 2), (3, 4)))
    np.testing.assert_allclose(dt.grad(f)(c), [weights[regions == k].sum() for k in (1, 2, 3, 4)])
    np.testing.assert_allclose(f(c), np.sum(np.pad(x, width, constant_values=nested(c)) * weights))
    dt.check_grads(lambda a, v: dnp.sum(dnp.sin(dnp.pad(a, 1, constant_values=(v, 2.0)))), (x, 0.7), order=2)
    for values in (0, 1.5, (1.0, 2.0), ((1.0, 2.0),), ((1.0,), (2.0,)), ((1.0, 2.0), (3.0, 4.0))):
        np.testing.assert_array_equal(dnp.pad(x, width, constant_values=values),
                                      np.pad(x, width, constant_values=values))


def test_where_with_the_condition_alone_gives_its_indices():
    x = np.array([[1.0, -2.0, 3.0], [-1.0, 5.0, 0.0]])
    for got, want in zip(dnp.where(x > 0), np.where(x > 0), strict=True):
        np.testing.assert_array_equal(got, want)
    f = lambda a: dnp.sum(a[dnp.where(a > 0)] ** 2)  # noqa: E731
    np.testing.assert_allclose(dt.grad(f)(x), jax.grad(lambda a: jnp.sum(a[jnp.where(a > 0)] ** 2))(x))
    np.testing.assert_allclose(dt.grad(lambda a: dnp.sum(a[np.where(a > 0)]))(x), x > 0)
    with pytest.raises(ValueError, match="both or neither"):
        dnp.where(x > 0, x)
