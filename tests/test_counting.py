"""``dt.count()``: exact primitive counts, FLOPs and tape bytes, derived by hand from ops.py.

How the expected numbers follow from the rules (x has n elements, float64):

* elementwise ops cost ``size(ans)`` FLOPs; reductions ``size(x)``; shape ops 0;
  matmul ``2 * size(ans) * k``.
* ``sum``'s VJP is ``_restore``: one ``expand_dims`` and one ``broadcast_to``.
* ``sin``'s rules are ``mul(g, cos(x))``: one ``cos`` and one ``mul``.
* ``exp``'s rules are ``mul(g, ans)``: one ``mul``.
* ``mul``'s VJP is ``mul(g, y)`` / ``mul(x, g)``: one ``mul`` per traced argument.
* A tape entry keeps what ``saves`` asks for: ``sin`` and ``mul`` their arguments,
  ``exp`` its answer, ``sum`` only metadata (0 bytes).
* Two cotangents reaching the same value are joined by one ``add``.
"""

from __future__ import annotations

import threading
from collections import Counter

import numpy as np
import pytest

import dualtape as dt
import dualtape.numpy as dnp
from dualtape import registry
from dualtape.counting import recomputing
from dualtape.ops import decomp

N = 5
X = np.linspace(0.1, 0.9, N)


def _snapshot(c):
    return {"n_ops": c.n_ops, "flops": c.flops, "tape_bytes": c.tape_bytes,
            "tape_entries": c.tape_entries, "by_name": dict(c.by_name)}


# ---------------------------------------------------------------- exact counts for small functions


def test_plain_evaluation_counts_one_op():
    with dt.count() as c:
        dnp.exp(X)
    assert _snapshot(c) == {"n_ops": 1, "flops": N, "tape_bytes": 0, "tape_entries": 0,
                            "by_name": {"exp": 1}}


def test_grad_of_sum_of_sin_exact():
    with dt.count() as c:
        g = dt.grad(lambda x: dnp.sum(dnp.sin(x)))(X)
    np.testing.assert_allclose(g, np.cos(X))
    assert dict(c.by_name) == {"sin": 1, "sum": 1, "expand_dims": 1, "broadcast_to": 1,
                               "cos": 1, "mul": 1}
    assert c.n_ops == 6
    assert c.flops == 4 * N  # sin, sum, cos, mul
    assert c.tape_entries == 2
    assert c.tape_bytes == X.nbytes  # sin keeps x; sum keeps metadata only


def test_jvp_of_sum_of_sin_exact():
    with dt.count() as c:
        dt.jvp(lambda x: dnp.sum(dnp.sin(x)), (X,), (np.ones(N),))
    # sin, cos, mul for the tangent; sum of the primal and sum of the tangent
    assert dict(c.by_name) == {"sin": 1, "cos": 1, "mul": 1, "sum": 2}
    assert c.n_ops == 5 and c.flops == 5 * N
    assert c.tape_bytes == 0 and c.tape_entries == 0


def test_grad_of_sum_of_exp_times_x_exact():
    with dt.count() as c:
        g = dt.grad(lambda x: dnp.sum(dnp.exp(x) * x))(X)
    np.testing.assert_allclose(g, np.exp(X) * (1 + X))
    # forward: exp, mul, sum; backward: expand_dims, broadcast_to, 2 mul (mul's VJP),
    # 1 mul (exp's VJP), 1 add (x receives two cotangents)
    assert dict(c.by_name) == {"exp": 1, "mul": 4, "sum": 1, "expand_dims": 1,
                               "broadcast_to": 1, "add": 1}
    assert c.n_ops == 9
    assert c.flops == 7 * N
    assert c.tape_entries == 3
    # exp keeps its answer (8n); mul keeps both arguments (16n); sum nothing
    assert c.tape_bytes == 2 * X.nbytes  # exp's answer and x: each distinct array counts once


def test_scalar_python_float_chain_exact():
    with dt.count() as c:
        dt.grad(lambda x: dnp.sin(x) * x)(0.5)
    # forward: sin, mul; backward: mul's VJP (2 mul), sin's VJP (cos, mul), one add
    assert dict(c.by_name) == {"sin": 1, "mul": 4, "cos": 1, "add": 1}
    assert c.flops == c.n_ops == 7
    assert c.tape_bytes == 16  # x and sin(x), 8 bytes each; x saved twice counts once


@pytest.mark.parametrize("name, expected", [("log", lambda x: 1 / x),
                                            ("log1p", lambda x: 1 / (1 + x)),
                                            ("arctan", lambda x: 1 / (1 + x * x))])
def test_a_quotient_rule_is_one_division(name, expected):
    # log's derivative is t / x: one div, not reciprocal(x) and a mul (JAX's rule too)
    fn = getattr(dnp, name)
    with dt.count() as c:
        g = dt.grad(fn)(0.7)
    assert c.by_name["div"] == 1 and "reciprocal" not in c.by_name
    assert g == pytest.approx(expected(0.7), rel=1e-15)


def test_defunary_needs_a_derivative_or_a_rule():
    from dualtape.ops.rules import defunary

    with pytest.raises(TypeError, match="nameless: defunary needs the derivative d or the rule"):
        defunary("nameless", np.negative)


@pytest.mark.parametrize("mode", ["grad", "jvp", "vector jvp", "hessian"])
def test_a_value_times_itself_records_square(mode):
    # mul's diagonal: x * x is square(x), one rule t * 2x, in both engines and nested
    def f(x):
        s = dnp.sin(x)
        return dnp.sum(s * s)

    with dt.count() as c:
        if mode == "grad":
            out = dt.grad(f)(X)
        elif mode == "jvp":
            out = dt.jvp(f, (X,), (np.ones(N),))[1]
        elif mode == "vector jvp":
            out = dt.jacfwd(f, chunk=2)(X)
        else:
            out = np.diag(dt.hessian(f)(X))
    # grad: sin, square, sum; sum's VJP; square's mul(2.0, s) and mul(g, .); sin's cos, mul.
    # jvp: sin, cos, mul; square, its two muls; two sums.  No add: no second rule to join.
    exact = {"grad": {"sin": 1, "square": 1, "sum": 1, "expand_dims": 1, "broadcast_to": 1,
                      "mul": 3, "cos": 1},
             "jvp": {"sin": 1, "cos": 1, "mul": 3, "square": 1, "sum": 2}}
    assert dict(c.by_name) == exact.get(mode, dict(c.by_name)) and c.by_name["square"] >= 1
    d = {"grad": np.sin(2 * X), "jvp": np.sum(np.sin(2 * X)), "vector jvp": np.sin(2 * X),
         "hessian": 2 * np.cos(2 * X)}[mode]
    np.testing.assert_allclose(out, d, rtol=1e-12, atol=1e-15)
    y = dnp.sin(X)
    assert np.array_equal(dt.grad(lambda x: dnp.sum(x * x))(y),
                          dt.grad(lambda x: dnp.sum(x * dnp.asarray(y)))(y) * 2)


def test_float32_halves_tape_bytes():
    f = lambda x: dnp.sum(dnp.sin(x) * x)
    with dt.count() as c64:
        dt.grad(f)(X)
    with dt.count() as c32:
        dt.grad(f)(X.astype(np.float32))
    assert c64.n_ops == c32.n_ops and c64.flops == c32.flops
    assert c64.tape_bytes == 2 * c32.tape_bytes > 0


# ---------------------------------------------------------------- matmul FLOPs


@pytest.mark.parametrize("m, k, n", [(1, 1, 1), (2, 3, 4), (5, 7, 3), (8, 1, 6)])
def test_matmul_flops_are_2mnk(m, k, n):
    with dt.count() as c:
        dnp.matmul(np.ones((m, k)), np.ones((k, n)))
    assert c.by_name == Counter({"matmul": 1})
    assert c.flops == 2 * m * n * k


def test_batched_matmul_flops():
    with dt.count() as c:
        dnp.matmul(np.ones((3, 2, 4)), np.ones((4, 5)))
    assert c.flops == 2 * 3 * 2 * 5 * 4


def test_vector_matrix_matmul_flops():
    with dt.count() as c:
        dnp.matmul(np.ones(4), np.ones((4, 5)))
    assert c.by_name["matmul"] == 1
    assert c.flops == 2 * 5 * 4  # expand_dims and squeeze cost nothing


def test_grad_of_matmul_flops():
    m, k, n = 2, 4, 3
    w = np.ones((k, n))
    with dt.count() as c:
        dt.grad(lambda a: dnp.sum(a @ w))(np.ones((m, k)))
    # forward matmul + sum over m*n; backward matmul(g, w.T) (w is constant: one matmul)
    assert c.by_name["matmul"] == 2 and c.by_name["transpose"] == 1
    assert c.flops == 2 * m * n * k + m * n + 2 * m * n * k


def test_vector_mode_matmul_flops_scale_with_batch():
    m, k, n = 2, 4, 3
    w = np.ones((k, n))
    with dt.count() as c:
        dt.jacfwd(lambda a: a @ w)(np.ones((m, k)))
    # the primal, then one matmul of the (m*k, m, k) tangents
    assert c.by_name == Counter({"matmul": 2})
    assert c.flops == 2 * m * n * k + 2 * (m * k) * m * n * k


# ---------------------------------------------------------------- nesting and scoping


def test_nested_counters():
    with dt.count() as outer:
        dnp.sin(X)
        with dt.count() as inner:
            dnp.cos(X)
            dt.grad(lambda x: dnp.sum(x * x))(X)
        dnp.exp(X)
    assert inner.by_name["cos"] == 1 and inner.by_name["sin"] == 0 and inner.by_name["exp"] == 0
    assert outer.by_name["sin"] == outer.by_name["cos"] == outer.by_name["exp"] == 1
    assert outer.n_ops == inner.n_ops + 2
    assert outer.flops == inner.flops + 2 * N
    assert outer.tape_bytes == inner.tape_bytes > 0
    assert outer.tape_entries == inner.tape_entries == 2


def test_counter_stops_at_exit_and_after_an_error():
    with dt.count() as c:
        dnp.sin(X)
    dnp.sin(X)
    assert c.n_ops == 1
    assert registry.counting is None
    with pytest.raises(RuntimeError), dt.count() as c2:
        dnp.sin(X)
        raise RuntimeError("boom")
    assert registry.counting is None
    dnp.sin(X)
    assert c2.n_ops == 1


def _in_thread(body):
    # Run body in another thread and return what it returned (or raise what it raised).
    out = {}

    def target():
        try:
            out["value"] = body()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the calling thread
            out["error"] = exc

    t = threading.Thread(target=target)
    t.start()
    t.join(30)
    if "error" in out:
        raise out["error"]
    return out["value"]


def test_a_count_sees_only_its_own_threads_primitives():
    # the counter was a process global: another thread's sin, exp and grad were counted here
    f = lambda x: dnp.sum(dnp.exp(x) * x)
    plain = dt.grad(f)(X)

    def other():
        dnp.sin(X)
        with dt.count() as theirs:
            mine_seen = registry.counting
            grads = dt.grad(f)(X)
        with recomputing():
            dnp.tanh(X)
        return theirs, mine_seen, grads, registry.counting

    with dt.count() as c:
        dnp.cos(X)
        theirs, seen, grads, after = _in_thread(other)
        assert registry.counting is c
    assert dict(c.by_name) == {"cos": 1} and c.n_ops == 1 and c.n_recomputed == 0
    assert c.tape_entries == 0 and c.tape_bytes == 0
    with dt.count() as alone:
        dt.grad(f)(X)
    assert _snapshot(theirs) == _snapshot(alone) and seen is theirs and after is None
    np.testing.assert_array_equal(grads, plain)  # results unchanged while another thread counts


def test_counting_does_not_change_results():
    f = lambda x: dnp.sum(dnp.tanh(x) ** 2 * x)
    plain = dt.grad(f)(X)
    with dt.count():
        counted = dt.grad(f)(X)
    np.testing.assert_array_equal(plain, counted)


def test_as_dict_matches_attributes():
    with dt.count() as c:
        dt.grad(lambda x: dnp.sum(dnp.sin(x)))(X)
    assert c.as_dict() == {**_snapshot(c), "n_recomputed": c.n_recomputed,
                           "recomputed_by_name": dict(c.recomputed_by_name)}


# ---------------------------------------------------------------- tape bytes: reverse only


FUNCS = {
    "sin_sum": lambda x: dnp.sum(dnp.sin(x)),
    "tanh_times_x": lambda x: dnp.tanh(x) * x,
    "softmax": lambda x: dnp.softmax(x * 2.0),
    "matvec": lambda x: dnp.tanh(np.arange(2.0 * N).reshape(2, N) @ x),
    "logsumexp_mix": lambda x: dnp.logsumexp(x) * dnp.exp(x[::-1]) + x[0],
    "cumsum_max": lambda x: dnp.cumsum(x) * dnp.max(x),
}


@pytest.mark.parametrize("name", list(FUNCS))
def test_tape_bytes_positive_in_reverse_zero_in_forward(name):
    f = FUNCS[name]
    with dt.count() as rev:
        dt.jacrev(f)(X)
    with dt.count() as vjp_only:
        dt.vjp(f, X)
    with dt.count() as fwd:
        dt.jacfwd(f)(X)
    with dt.count() as jvp_only:
        dt.jvp(f, (X,), (np.ones(N),))
    assert rev.tape_bytes > 0 and rev.tape_entries > 0
    assert vjp_only.tape_bytes == rev.tape_bytes  # only the recording pass writes the tape
    assert fwd.tape_bytes == fwd.tape_entries == 0
    assert jvp_only.tape_bytes == jvp_only.tape_entries == 0


# ---------------------------------------------------------------- Jacobians: per-pass costs add up exactly


def _scaled(snapshot, k):
    return {"n_ops": k * snapshot["n_ops"], "flops": k * snapshot["flops"],
            "tape_bytes": k * snapshot["tape_bytes"], "tape_entries": k * snapshot["tape_entries"],
            "by_name": {name: k * v for name, v in snapshot["by_name"].items()}}


def _added(a, b):
    return {"n_ops": a["n_ops"] + b["n_ops"], "flops": a["flops"] + b["flops"],
            "tape_bytes": a["tape_bytes"] + b["tape_bytes"],
            "tape_entries": a["tape_entries"] + b["tape_entries"],
            "by_name": dict(Counter(a["by_name"]) + Counter(b["by_name"]))}


@pytest.mark.parametrize("name", list(FUNCS))
def test_jacfwd_chunk1_costs_n_jvps(name):
    f = FUNCS[name]
    with dt.count() as one:
        dt.jvp(f, (X,), (np.eye(N)[2],))
    with dt.count() as jac:
        dt.jacfwd(f, chunk=1)(X)
    assert _snapshot(jac) == _scaled(_snapshot(one), N)


def test_jacfwd_chunk1_costs_n_jvps_for_matrix_and_pytree_inputs():
    f = lambda d: dnp.sum(d["a"] @ dnp.sin(d["b"]), axis=0)
    d = {"a": np.ones((2, 3)), "b": np.ones((3, 2))}
    n = 12
    with dt.count() as one:
        dt.jvp(f, (d,), ({"a": np.ones((2, 3)), "b": np.zeros((3, 2))},))
    with dt.count() as jac:
        dt.jacfwd(f, chunk=1)(d)
    assert _snapshot(jac) == _scaled(_snapshot(one), n)


@pytest.mark.parametrize("name", list(FUNCS))
def test_jacrev_chunk1_costs_one_recording_plus_m_pullbacks(name):
    f = FUNCS[name]
    with dt.count() as rec:
        out, vjp_fn = dt.vjp(f, X)
    m = np.size(out)
    ct = np.zeros(np.shape(out))
    if np.ndim(out):
        ct[(0,) * np.ndim(out)] = 1.0
    else:
        ct = np.float64(1.0)
    with dt.count() as pull:
        vjp_fn(ct)
    with dt.count() as jac:
        dt.jacrev(f, chunk=1)(X)
    assert pull.tape_bytes == 0
    assert _snapshot(jac) == _added(_snapshot(rec), _scaled(_snapshot(pull), m))


@pytest.mark.parametrize("mode", ["jacfwd", "jacrev"])
def test_chunk_k_does_ceil_n_over_k_passes(mode):
    """jacfwd repeats the primal (sin) once per pass; jacrev repeats the pullback (cos)."""
    f = lambda x: dnp.sin(x) * x
    prim = "sin" if mode == "jacfwd" else "cos"
    for chunk, passes in ((1, 5), (2, 3), (3, 2), (5, 1), (7, 1), (None, 1)):
        with dt.count() as c:
            getattr(dt, mode)(f, chunk=chunk)(X)
        assert c.by_name[prim] == passes, chunk


def test_float_fast_paths_do_not_hide_operations_from_the_counter():
    """Python floats count the same primitives as arrays (the rules' float paths step aside)."""
    f = lambda v: dnp.sum(dnp.relu(v * 2.0 - 0.3) * dnp.tanh(v))  # noqa: E731
    counts = []
    for x in (0.37, np.array(0.37), np.array([0.37, -0.2])):
        with dt.count() as c:
            dt.jvp(f, (x,), (x * 0 + 1.0,))
        counts.append(c.as_dict()["by_name"])
    assert counts[0] == counts[1] == counts[2]
    assert counts[0]["positive_mask"] == 1 and counts[0]["mul"] == 6


def _flops_of(f, *args):
    with dt.count() as c:
        f(*args)
    return c.flops


def test_reductions_to_fewer_outputs_count_per_input_element():
    """logsumexp (max, exp, sum, log: 4 per input) and tie_pick (max's JVP: a product and a
    sum per tangent element) cost per element reduced, not per output."""
    x = np.linspace(-1.0, 1.0, 12).reshape(3, 4)
    assert _flops_of(lambda v: dt.ops.logsumexp(v, axis=(-1,), keepdims=False), x) == 4 * 12
    with dt.count() as c:
        dt.jvp(lambda v: dnp.max(v, axis=1), (x,), (x,))
    assert c.by_name["tie_pick"] == 1 and c.flops == 12 + 2 * 12


def test_determinants_cost_one_lu():
    """det and slogdet are one LU factorisation, 2n^3/3 per matrix (inv is 2n^3)."""
    a = np.eye(6) * 2.0 + 0.1
    stack = np.stack([a, a, a])
    assert _flops_of(dnp.linalg.det, stack) == 3 * 2 * 6 ** 3 // 3
    assert _flops_of(dnp.linalg.slogdet, a) == 2 * (2 * 6 ** 3 // 3)
    assert _flops_of(dnp.linalg.inv, a) == 2 * 6 ** 3


def test_einsum_counts_the_contractions_performed():
    """Three operands are contracted pairwise (2n^3 each), not over the joint index space
    (4n^4); a lone transpose moves data only; an outer product is one product per entry."""
    n = 7
    a = np.arange(n * n, dtype=float).reshape(n, n)
    assert _flops_of(lambda m: dnp.einsum("ij,jk,kl->il", m, m, m), a) == 2 * (2 * n ** 3)
    assert _flops_of(lambda m: dnp.einsum("ij,jk->ik", m, m), a) == 2 * n ** 3
    assert _flops_of(lambda m: dnp.einsum("ij->ji", m), a) == 0
    assert _flops_of(lambda m: dnp.einsum("ii->", m), a) == n
    assert _flops_of(lambda m: dnp.einsum("i,j->ij", m[0], m[1]), a) == n * n


def test_nested_tape_counts_the_arrays_its_traced_values_hold():
    """Forward over reverse: grad's tape saves jacfwd's Duals, each holding its value (n floats)
    and its tangent (n x n); sin keeps x, mul keeps sin(x) and x (x once)."""
    f = lambda v: dnp.sum(dnp.sin(v) * v)  # noqa: E731
    with dt.count() as c:
        dt.jacfwd(dt.grad(f))(X)
    assert c.tape_entries == 3
    assert c.tape_bytes == 2 * 8 * (N + N * N)


def test_decompositions_count_the_factors_they_return():
    """qr returns thin Q and R: 4n^2(m - n/3); svd thin U, s and V: Golub & Van Loan's
    cheaper of 14mn^2 + 8n^3 and 6mn^2 + 20n^3; eigh 9n^3 and cholesky n^3/3."""
    m, n = 9, 6
    a = np.arange(m * n, dtype=float).reshape(m, n) % 7 + np.eye(m, n)
    assert _flops_of(decomp.qr, a) == 4 * n * n * (3 * m - n) // 3
    assert _flops_of(decomp.svd, a) == min(14 * m * n * n + 8 * n ** 3,
                                                         6 * m * n * n + 20 * n ** 3)
    s = a.T @ a
    assert _flops_of(decomp.eigh, s) == 9 * n ** 3
    assert _flops_of(dnp.linalg.cholesky, s) == n ** 3 // 3


def test_pinv_and_power_follow_the_stated_conventions():
    """pinv is a thin SVD plus V diag(1/s) U^T; power, one elementary function, 1 per element."""
    m, n = 7, 4
    a = np.arange(m * n, dtype=float).reshape(m, n) % 5 + np.eye(m, n)
    svd = min(14 * m * n * n + 8 * n ** 3, 6 * m * n * n + 20 * n ** 3)
    assert _flops_of(dnp.linalg.pinv, a) == svd + m * n + 2 * m * n * n
    assert _flops_of(lambda v: dnp.power(v, 1.5), X) == N
    assert _flops_of(lambda v: dnp.power(v, X), X) == N


def test_tanh_tangent_computes_one_minus_y_squared_once_for_all_directions():
    """jacfwd of tanh pushes n tangents in one tanh_tangent: n^2 products and 2n for 1 - y^2
    (the unfused mul(t, sub(1, square(y))) would cost the same), not 3n^2."""
    with dt.count() as c:
        dt.jacfwd(dnp.tanh)(X)
    assert c.by_name["tanh_tangent"] == 1
    assert c.flops == N + (N * N + 2 * N)


def test_tie_scale_finds_the_maximisers_once_for_all_cotangents():
    """max's VJP for m cotangents at once: the compare and tie count over x once (2 per x
    element) and one product per output element, m x; one cotangent costs 3 per element."""
    x = np.linspace(-1.0, 1.0, 12).reshape(3, 4)
    with dt.count() as one:
        dt.grad(lambda v: dnp.sum(dnp.max(v, axis=1)))(x)
    with dt.count() as rows:
        dt.jacrev(lambda v: dnp.max(v, axis=1))(x)
    assert one.by_name["tie_scale"] == rows.by_name["tie_scale"] == 1
    assert one.flops == 12 + 3 + 3 * 12  # max, sum, tie_scale
    assert rows.flops == 12 + 3 * 12 + 2 * 12  # max, tie_scale for 3 cotangents
