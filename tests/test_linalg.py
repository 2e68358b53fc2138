"""numpy.linalg and einsum on traced values, a Gaussian likelihood, degenerate spectra."""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dualtape as dt
import dualtape.numpy as dnp

jax.config.update("jax_enable_x64", True)

RNG = np.random.default_rng(7)
A = RNG.standard_normal((4, 4)) + 4.0 * np.eye(4)
B = RNG.standard_normal((4, 2))


@pytest.mark.parametrize("name, f, jf", [
    ("det", lambda a: np.linalg.det(a), lambda a: jnp.linalg.det(a)),
    ("slogdet", lambda a: np.linalg.slogdet(a)[1] * np.linalg.slogdet(a)[0],
     lambda a: jnp.linalg.slogdet(a)[1] * jnp.linalg.slogdet(a)[0]),
    ("solve", lambda a: np.sum(np.linalg.solve(a, B) ** 2),
     lambda a: jnp.sum(jnp.linalg.solve(a, B) ** 2)),
    ("einsum", lambda a: np.einsum("ij,jk,ik->", a, a, a), lambda a: jnp.einsum("ij,jk,ik->", a, a, a)),
    ("einsum-trace", lambda a: np.einsum("ii", a @ a), lambda a: jnp.einsum("ii", a @ a)),
    ("norm", lambda a: np.linalg.norm(a), lambda a: jnp.linalg.norm(a)),
    ("norm-nuc", lambda a: np.linalg.norm(a, "nuc"), lambda a: jnp.linalg.norm(a, "nuc")),
    ("norm-axis", lambda a: np.sum(np.linalg.norm(a, 3, axis=0)),
     lambda a: jnp.sum(jnp.linalg.norm(a, 3, axis=0))),
    ("inv-trace", lambda a: np.trace(np.linalg.inv(a)), lambda a: jnp.trace(jnp.linalg.inv(a))),
    ("tensordot", lambda a: np.sum(np.tensordot(a, a, 1) ** 2),
     lambda a: jnp.sum(jnp.tensordot(a, a, 1) ** 2)),
])
def test_numpy_functions_on_traced_values(name, f, jf):
    """NumPy's own functions reach dualtape's through __array_function__, in both modes."""
    ref = np.asarray(jax.grad(jf)(jnp.asarray(A)))
    np.testing.assert_allclose(dt.grad(f)(A), ref, rtol=1e-10)
    v = RNG.standard_normal(A.shape)
    _, t = dt.jvp(f, (A,), (v,))
    assert float(t) == pytest.approx(float(np.sum(ref * v)), rel=1e-9)
    np.testing.assert_allclose(dt.hessian(f)(A), jax.hessian(jf)(jnp.asarray(A)), rtol=1e-8,
                               atol=1e-10)


def _gaussian_nll(lib, solve_tri, cholesky):
    def nll(mu, a, x):
        n = x.shape[-1]
        sigma = a @ a.T + lib.eye(n)
        low = cholesky(sigma)
        z = solve_tri(low, (x - mu).T, lower=True)
        half_logdet = lib.sum(lib.log(lib.diagonal(low)))
        return 0.5 * lib.sum(z ** 2) + x.shape[0] * (half_logdet + 0.5 * n * np.log(2 * np.pi))
    return nll


def test_gaussian_nll_gradient_and_hessian_match_jax():
    import jax.scipy.linalg as jsl

    mu, a = RNG.standard_normal(3), RNG.standard_normal((3, 3))
    x = RNG.standard_normal((5, 3))
    ours = _gaussian_nll(dnp, dnp.linalg.solve_triangular, dnp.linalg.cholesky)
    theirs = _gaussian_nll(jnp, jsl.solve_triangular, jnp.linalg.cholesky)
    assert float(ours(mu, a, x)) == pytest.approx(float(theirs(mu, a, x)), rel=1e-12)
    g = dt.grad(ours, argnums=(0, 1))(mu, a, x)
    jg = jax.grad(theirs, argnums=(0, 1))(mu, a, x)
    for u, w in zip(g, jg, strict=True):
        np.testing.assert_allclose(u, w, rtol=1e-10)
    h = dt.hessian(ours, argnums=1)(mu, a, x)
    jh = jax.hessian(theirs, argnums=1)(mu, a, x)
    np.testing.assert_allclose(h, jh, rtol=1e-9, atol=1e-11)
    hm = dt.jacrev(dt.grad(ours, argnums=0), argnums=1)(mu, a, x)
    np.testing.assert_allclose(hm, jax.jacrev(jax.grad(theirs, argnums=0), argnums=1)(mu, a, x),
                               rtol=1e-9, atol=1e-11)
    # the same function body runs under JAX through dualtape.numpy
    np.testing.assert_allclose(jax.grad(ours, argnums=1)(mu, a, x), jg[1], rtol=1e-10)


def test_slogdet_hessian_every_mode_mix():
    f = lambda a: dnp.linalg.slogdet(a)[1]
    ref = jax.hessian(lambda a: jnp.linalg.slogdet(a)[1])(jnp.asarray(A))
    for h in (dt.hessian(f)(A), dt.jacrev(dt.jacrev(f))(A), dt.jacfwd(dt.jacfwd(f))(A),
              dt.jacrev(dt.jacfwd(f))(A)):
        np.testing.assert_allclose(h, ref, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("eps", [1e-9, 0.0])
def test_det_derivatives_at_nearly_and_exactly_singular_matrices(eps):
    # det * inv(a)^T raised at singular a and lost the Hessian (4e-3 off at eps 1e-14)
    x = RNG.standard_normal((3, 3))
    a = np.stack([x[0], x[1], x[0] + x[1] + eps * x[2]])
    g3 = dt.jacfwd(dt.jacrev(dt.grad(dnp.linalg.det)))(a)
    np.testing.assert_allclose(g3, jax.jacfwd(jax.jacrev(jax.grad(jnp.linalg.det)))(a), atol=1e-12)
    ref = jax.hessian(jnp.linalg.det)(a)
    for mode in ("fwd-rev", "rev-rev"):
        np.testing.assert_allclose(dt.hessian(dnp.linalg.det, mode=mode)(a), ref, atol=1e-12)
    np.testing.assert_allclose(dt.grad(dnp.linalg.det)(a), jax.grad(jnp.linalg.det)(a), atol=1e-14)


def test_degenerate_spectrum_warns_and_gives_nan():
    eye = np.eye(3)
    with pytest.warns(dt.DegenerateSpectrumWarning, match="repeated eigenvalues"):
        _, t = dt.jvp(lambda a: dnp.linalg.eigh(a)[1], (eye,), (RNG.standard_normal((3, 3)),))
    assert np.isnan(t).any()
    with pytest.warns(dt.DegenerateSpectrumWarning):
        g = dt.grad(lambda a: dnp.sum(dnp.linalg.eigh(a)[1][:, 0]))(eye)
    assert np.isnan(g).any()
    # eigenvalues alone: a cotangent that differs within the repeated group has no derivative
    with pytest.warns(dt.DegenerateSpectrumWarning, match="different cotangents"):
        g = dt.grad(lambda a: dnp.sum(dnp.linalg.eigvalsh(a) * np.arange(3.0)))(eye)
    # ... while a symmetric function of them (trace, nuclear norm, Frobenius norm) is smooth:
    # every basis of the repeated group gives the same answer, and nothing is warned
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(dt.grad(lambda a: dnp.sum(dnp.linalg.eigvalsh(a)))(eye), eye)
        np.testing.assert_allclose(dt.grad(lambda a: dnp.linalg.norm(a, "nuc"))(eye), eye)
        np.testing.assert_allclose(
            dt.grad(lambda a: dnp.sum(dnp.linalg.svd(a, compute_uv=False) ** 2))(2.0 * eye), 4.0 * eye)
    with pytest.warns(dt.DegenerateSpectrumWarning, match="singular values"):
        dt.grad(lambda a: dnp.sum(dnp.linalg.svd(a)[0]))(np.eye(3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dt.grad(lambda a: dnp.sum(dnp.linalg.eigh(a)[1] ** 2 * 3.0))(A @ A.T)


EINSUM_FORMS = [
    ("ij,jk->ik", [(3, 2), (2, 4)]), ("ij,jk", [(3, 2), (2, 4)]), ("ii", [(3, 3)]),
    ("ii->i", [(3, 3)]), ("...ij,...jk", [(2, 1, 3, 2), (4, 2, 2)]), ("i,i", [(3,), (3,)]),
    ("ba,ac", [(2, 3), (3, 4)]), ("Ba,aC", [(2, 3), (3, 2)]), ("...", [(2, 3)]),
    ("i...->...", [(2, 3, 2)]), ("ij,ij->ij", [(1, 3), (2, 3)]), (" i j , j ", [(2, 3), (3,)]),
    ("a,b,c->abc", [(2,), (3,), (2,)]), ("iij->ij", [(2, 2, 3)]),
]


@pytest.mark.parametrize("spec, shapes", EINSUM_FORMS)
def test_einsum_forms_match_numpy(spec, shapes):
    ops = [RNG.standard_normal(s) for s in shapes]
    np.testing.assert_allclose(dnp.einsum(spec, *ops), np.einsum(spec, *ops), rtol=1e-12)
    f = lambda *xs: dnp.sum(dnp.einsum(spec, *xs) ** 2)
    jf = lambda *xs: jnp.sum(jnp.einsum(spec, *xs) ** 2)
    nums = tuple(range(len(ops)))
    for a, b in zip(dt.grad(f, argnums=nums)(*ops), jax.grad(jf, argnums=nums)(*ops),
                    strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10)


def test_einsum_bad_input():
    a = np.ones((2, 3))
    with pytest.raises(ValueError, match="name 1"):
        dnp.einsum("i", a)
    with pytest.raises(ValueError, match="output label"):
        dnp.einsum("ij->k", a)
    with pytest.raises(ValueError, match="sizes"):
        dnp.einsum("ij,ij", a, np.ones((2, 4)))
    with pytest.raises(ValueError, match="operand subscripts"):
        dnp.einsum("ij,jk", a)
    with pytest.raises(ValueError, match="tensordot"):
        dnp.tensordot(a, a, 3)


def test_bad_input_and_unsupported():
    with pytest.raises(ValueError, match="square"):
        dnp.linalg.det(np.ones((2, 3)))
    with pytest.raises(ValueError, match="trans"):
        dnp.linalg.solve_triangular(A, B, trans=3)
    with pytest.raises(NotImplementedError, match="complex"):
        dt.grad(lambda a: np.sum(np.linalg.eig(a)[0]))(A)
    with pytest.raises(AttributeError, match="complex"):
        dnp.linalg.eig(A)
    with pytest.raises(NotImplementedError, match="full_matrices=False"):
        dt.grad(lambda a: dnp.sum(dnp.linalg.svd(a)[0]))(np.ones((3, 2)))
    u, s, vh = dnp.linalg.svd(RNG.standard_normal((3, 2)))  # plain values: NumPy's full SVD
    assert u.shape == (3, 3)


def test_results_are_named_tuples_and_float32_stays():
    a32 = (A @ A.T).astype(np.float32)
    w, v = dnp.linalg.eigh(a32)
    assert w.dtype == np.float32 and dnp.linalg.eigh(a32).eigenvectors is not None
    g = dt.grad(lambda a: dnp.linalg.slogdet(a).logabsdet)(a32)
    assert g.dtype == np.float32
    g = dt.grad(lambda a: dnp.sum(dnp.linalg.cholesky(a)))(a32)
    assert g.dtype == np.float32
    q, r = dnp.linalg.qr(A)
    np.testing.assert_allclose(q @ r, A, atol=1e-12)


@pytest.mark.parametrize("fn, args", [
    (lambda a: dnp.trace(a, 1), (A,)), (lambda a: dnp.diag(dnp.diagonal(a)), (A,)),
    (lambda a: dnp.triu(a, -1), (A,)), (lambda a: dnp.tril(a, 1), (A,)),
    (lambda a: dnp.kron(a[:2, :2], a[1:, 2]), (A,)), (lambda a: dnp.cross(a[:, :3], a[0, 1:]), (A,)),
    (lambda a: dnp.linalg.matrix_power(a, 3), (A,)), (lambda a: dnp.linalg.pinv(a[:, :3]), (A,)),
    (lambda a: dnp.linalg.multi_dot([a, a.T, a]), (A,)),
])
def test_matrix_helpers_match_jax(fn, args):
    """The same body on NumPy and on JAX arrays: values, and derivatives in both modes."""
    np.testing.assert_allclose(fn(*args), fn(*(jnp.asarray(a) for a in args)), rtol=1e-10)
    assert dt.check_against_jax(fn, *args).ok


def test_matrix_helpers_values_match_numpy():
    assert float(dnp.trace(A, 1)) == pytest.approx(np.trace(A, 1))
    np.testing.assert_allclose(dnp.diag(A[0], -2), np.diag(A[0], -2))
    np.testing.assert_allclose(dnp.diagonal(A[None], 1, 2, 1), np.diagonal(A[None], 1, 2, 1))
    np.testing.assert_allclose(dnp.triu(A, 1), np.triu(A, 1))
    np.testing.assert_allclose(dnp.tril(A, -1), np.tril(A, -1))
    np.testing.assert_allclose(dnp.kron(A[:2], B), np.kron(A[:2], B))
    np.testing.assert_allclose(dnp.cross(A[:, :3], B[:3, 0], axisb=0),
                               np.cross(A[:, :3], B[:3, 0], axisb=0))
    np.testing.assert_allclose(dnp.linalg.matrix_power(A, -2), np.linalg.matrix_power(A, -2))
    np.testing.assert_allclose(dnp.linalg.norm(A, -2), np.linalg.norm(A, -2))


def test_degeneracy_is_judged_per_matrix_of_a_stack():
    """Close but distinct eigenvalues next to a matrix of a much larger scale: finite, as JAX."""
    q1, _ = np.linalg.qr(RNG.standard_normal((3, 3)))
    q2, _ = np.linalg.qr(RNG.standard_normal((3, 3)))
    stack = np.stack([q1 @ np.diag([1e10, 2e10, 3e10]) @ q1.T,
                      q2 @ np.diag([1.0, 1.0 + 1e-5, 2.0]) @ q2.T])
    ref = jax.jacfwd(lambda a: jnp.linalg.eigh(a)[1] ** 2)(jnp.asarray(stack))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for jac in (dt.jacfwd, dt.jacrev):
            np.testing.assert_allclose(jac(lambda a: dnp.linalg.eigh(a)[1] ** 2)(stack), ref,
                                       rtol=1e-6, atol=1e-6)
        u = RNG.standard_normal((2, 3, 3))
        g = dt.grad(lambda a: dnp.sum(dnp.linalg.svd(a)[0] * u))(stack)
    np.testing.assert_allclose(g, jax.grad(lambda a: jnp.sum(jnp.linalg.svd(a)[0] * u))(stack),
                               rtol=1e-6, atol=1e-6)


def test_einsum_sublist_labels_sort_as_numpy_implicit_output():
    """Sublist label k is NumPy's letter k ('A'-'Z', then 'a'-'z'): 5 sorts before 40."""
    a, b = RNG.standard_normal((2, 3)), RNG.standard_normal((3, 4))
    np.testing.assert_allclose(dnp.einsum(a, [40, 1], b, [1, 5]), np.einsum(a, [40, 1], b, [1, 5]))
    np.testing.assert_allclose(dnp.einsum(a, [0, 30]), np.einsum(a, [0, 30]))
    u = RNG.standard_normal((4, 2))
    f = lambda x: dnp.sum(dnp.einsum(x, [40, 1], b, [1, 5]) * u)  # noqa: E731
    ref = jax.grad(lambda x: jnp.sum(jnp.einsum(x, [40, 1], b, [1, 5]) * u))(a)
    np.testing.assert_allclose(dt.grad(f)(a), ref, rtol=1e-12)


def test_lstsq_matches_numpy_and_its_derivative_jax():
    a, b = RNG.standard_normal((5, 3)), RNG.standard_normal((5, 2))
    for got, want in zip(dnp.linalg.lstsq(a, b), np.linalg.lstsq(a, b), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-10)
    low_rank = RNG.standard_normal((4, 2)) @ RNG.standard_normal((2, 3))
    assert dnp.linalg.lstsq(low_rank, b[:4])[2] == 2 and dnp.linalg.lstsq(low_rank, b[:4])[1].shape == (0,)
    f = lambda x, y: np.linalg.lstsq(x, y)[0]  # noqa: E731  (NumPy's own name on traced values)
    jf = lambda x, y: jnp.linalg.lstsq(x, y)[0]  # noqa: E731
    for x in (a, low_rank):
        y = b[:x.shape[0], 0]
        for mode in (dt.jacfwd, dt.jacrev):
            for got, want in zip(mode(f, argnums=(0, 1))(x, y), jax.jacfwd(jf, argnums=(0, 1))(x, y),
                                 strict=True):
                np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-10)


def test_pinv_cutoff_is_numpy_default():
    """A singular value of 8e-16 (relative) is dropped by NumPy's default 1e-15 cutoff, as JAX's."""
    u, _ = np.linalg.qr(RNG.standard_normal((3, 3)))
    v, _ = np.linalg.qr(RNG.standard_normal((3, 3)))
    a = u @ np.diag([1.0, 0.5, 8e-16]) @ v.T
    np.testing.assert_allclose(dnp.linalg.pinv(a), np.linalg.pinv(a), atol=1e-12)
    np.testing.assert_allclose(dnp.linalg.pinv(a), jnp.linalg.pinv(a), atol=1e-12)
    for kw in ({"rtol": None}, {"rtol": 1e-20}, {"rcond": 1e-3}):
        np.testing.assert_allclose(dnp.linalg.pinv(a, **kw), np.linalg.pinv(a, **kw), rtol=1e-6)
    with pytest.raises(ValueError, match="both"):
        dnp.linalg.pinv(a, 1e-3, rtol=1e-3)


def test_det_derivative_at_a_large_singular_matrix_raises():
    # above 8 x 8 no cofactors: an error, never a Hessian built from unchecked minors
    a = np.ones((10, 10))
    with pytest.raises(np.linalg.LinAlgError):
        dt.grad(dnp.linalg.det)(a)
    with pytest.raises(np.linalg.LinAlgError):
        dt.hessian(dnp.linalg.det)(a)


@pytest.mark.parametrize("spec, shapes", [("ij->j", [(0, 3)]), ("ij->", [(0, 3)]),
                                          ("ii->", [(0, 0)]), ("ij,jk->ik", [(3, 0), (0, 2)])])
def test_einsum_derivatives_over_an_empty_label_keep_their_shapes(spec, shapes):
    # a summed label of size 0 was taken as 1: a (1, 3) cotangent for a (0, 3) input
    args = [np.zeros(s) for s in shapes]
    f = lambda a: dnp.einsum(spec, a, *args[1:])  # noqa: E731
    jf = lambda a: jnp.einsum(spec, a, *args[1:])  # noqa: E731
    out, pull = dt.vjp(f, args[0])
    assert pull(np.ones(np.shape(out)))[0].shape == shapes[0]
    for ours, theirs in ((dt.jacrev, jax.jacrev), (dt.jacfwd, jax.jacfwd)):
        assert ours(f)(args[0]).shape == theirs(jf)(args[0]).shape


def _rotated(values, seed=0):
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((len(values),) * 2))
    return q, q @ np.diag(values) @ q.T


def test_a_repeated_eigenvalue_leaves_the_gradient_of_a_simple_ones_vector_finite():
    # was: reverse mode gave nan everywhere (nan * 0 at the repeated pair spread through V)
    _, s = _rotated([1.0, 1.0, 2.0])
    f = lambda a: dnp.linalg.eigh(a)[1][0, 2] ** 2  # noqa: E731
    want = jax.grad(lambda a: jnp.linalg.eigh(a)[1][0, 2] ** 2)(s)
    with warnings.catch_warnings():
        warnings.simplefilter("error", dt.DegenerateSpectrumWarning)
        np.testing.assert_allclose(dt.grad(f)(s), want, rtol=1e-9, atol=1e-12)
    q, _ = _rotated([3.0, 1.0, 1.0], seed=1)
    a = q @ np.diag([3.0, 1.0, 1.0])
    g = lambda a: dnp.linalg.svd(a)[0][0, 0] ** 2  # noqa: E731
    np.testing.assert_allclose(dt.grad(g)(a), jax.grad(lambda a: jnp.linalg.svd(a)[0][0, 0] ** 2)(a),
                               rtol=1e-9, atol=1e-12)
    with pytest.warns(dt.DegenerateSpectrumWarning):  # a cotangent that mixes the pair: nan
        assert np.isnan(dt.grad(lambda a: dnp.linalg.eigh(a)[1][0, 0] ** 2)(s)).all()


def test_small_distinct_singular_values_are_not_repeated():
    # was: compared on s**2 (3e-16 apart), so 1e-8 and 2e-8 were called repeated: nan
    q1, _ = _rotated([1.0, 1.0, 1.0], seed=2)
    q2, _ = _rotated([1.0, 1.0, 1.0], seed=3)
    a = q1 @ np.diag([1.0, 2e-8, 1e-8]) @ q2.T
    t = np.random.default_rng(4).standard_normal((3, 3))
    f = lambda a: dnp.linalg.svd(a)[0][:, 1] ** 2  # noqa: E731
    want = jax.jvp(lambda a: jnp.linalg.svd(a)[0][:, 1] ** 2, (a,), (t,))[1]
    with warnings.catch_warnings():
        warnings.simplefilter("error", dt.DegenerateSpectrumWarning)
        np.testing.assert_allclose(dt.jvp(f, (a,), (t,))[1], want, rtol=1e-6)


def test_a_zero_singular_value_of_a_non_square_matrix_has_no_vector_derivative():
    # was: 1/0 taken as 0, a finite derivative of a vector that jumps
    a, t = np.array([[1.0, 0, 0], [0, 0, 0]]), np.array([[0, 0, 0], [0, 1.0, 0.5]])
    with pytest.warns(dt.DegenerateSpectrumWarning, match="zero singular value"):
        got = dt.jvp(lambda a: dnp.linalg.svd(a, full_matrices=False)[2][1], (a,), (t,))[1]
    assert np.isnan(got).all()


@pytest.mark.parametrize("n", [1, 2, 3])
def test_the_gradient_of_det_at_the_zero_matrix_is_its_adjugate(n):
    # was: LinAlgError (0 < 0 called the zero matrix regular)
    np.testing.assert_array_equal(dt.grad(dnp.linalg.det)(np.zeros((n, n))),
                                  jax.grad(jnp.linalg.det)(jnp.zeros((n, n))))


def test_norms_of_empty_matrices_and_multi_dot_dimensions_as_numpy():
    for shape in [(3, 0), (0, 0), (0, 3)]:
        for o in (None, "fro", "nuc", 1, 2, np.inf):
            if o == np.inf and shape[0] == 0:
                continue  # NumPy raises (a max over no rows)
            assert dnp.linalg.norm(np.zeros(shape), o) == np.linalg.norm(np.zeros(shape), o) == 0.0
    with pytest.raises(ValueError, match="multi_dot: array 0 is 3-dimensional"):
        dnp.linalg.multi_dot([np.ones((2, 2, 2)), np.ones((2, 2))])


def test_a_function_of_a_repeated_groups_projector_has_a_finite_gradient():
    # the symmetric part of F * p is what eigh's rule keeps: finite where p is symmetric on
    # the group (a review found nan here); checked against central differences
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    a, w = q @ np.diag([1.0, 2.0, 2.0, 3.0]) @ q.T, rng.standard_normal((4, 4))

    def f(a):
        v = dnp.linalg.eigh(a)[1][:, 1:3]
        return dnp.sum((v @ v.T) * w)

    h, fd = 1e-6, np.zeros((4, 4))
    for i in range(4):
        for j in range(4):
            e = np.zeros((4, 4))
            e[i, j] = h
            fd[i, j] = (f(a + e) - f(a - e)) / (2 * h)
    with warnings.catch_warnings():
        warnings.simplefilter("error", dt.DegenerateSpectrumWarning)
        np.testing.assert_allclose(dt.grad(f)(a), fd, atol=1e-7)
