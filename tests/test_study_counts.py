"""The counting theory, exactly: jacfwd(chunk=1) = n × one JVP; jacrev(chunk=1) = recording + m × pullback."""

from __future__ import annotations

import numpy as np
import pytest

import dualtape as dt
from dualtape.study import analysis, get_method, get_problem, problem_names
from dualtape.study.measure import counts, pass_counts

SIZES = [(1, 1), (3, 5), (6, 2)]


def _count(fn):
    with dt.count() as c:
        fn()
    return c.n_ops, c.flops


@pytest.mark.parametrize("name", problem_names())
@pytest.mark.parametrize("n, m", SIZES)
def test_forward_jacobian_is_n_jvps(name, n, m):
    inst = get_problem(name).instance(n, m, 2)
    ops_one = []
    for i in range(inst.n):  # every basis direction costs the same
        e = np.zeros(inst.n)
        e[i] = 1.0
        ops_one.append(_count(lambda e=e: dt.jvp(inst.f, (inst.x,), (e,))))
    assert len(set(ops_one)) == 1
    ops, flops = _count(lambda: dt.jacfwd(inst.f, chunk=1)(inst.x))
    assert (ops, flops) == (inst.n * ops_one[0][0], inst.n * ops_one[0][1])


@pytest.mark.parametrize("name", problem_names())
@pytest.mark.parametrize("n, m", SIZES)
def test_reverse_jacobian_is_one_recording_plus_m_pullbacks(name, n, m):
    inst = get_problem(name).instance(n, m, 2)
    with dt.count() as rec:
        y, pullback = dt.vjp(inst.f, inst.x)
    per_pass = []
    for j in range(inst.m):
        u = np.zeros(np.shape(y))
        u.reshape(-1)[j] = 1.0
        per_pass.append(_count(lambda u=u: pullback(u)))
    assert len(set(per_pass)) == 1
    ops, flops = _count(lambda: dt.jacrev(inst.f, chunk=1)(inst.x))
    assert ops == rec.n_ops + inst.m * per_pass[0][0]
    assert flops == rec.flops + inst.m * per_pass[0][1]


def test_harness_records_the_parts_and_the_identity_holds():
    inst = get_problem("dense_two_layer").instance(4, 3)
    fwd, rev = get_method("fwd_chunk1"), get_method("rev_chunk1")
    f_total = counts(fwd.make(inst))
    f_parts = pass_counts(fwd, inst)
    assert f_total["n_ops"] == 4 * f_parts["pass_n_ops"]
    assert f_total["tape_bytes"] == 0
    r_total = counts(rev.make(inst))
    r_parts = pass_counts(rev, inst)
    assert r_total["n_ops"] == r_parts["record_n_ops"] + 3 * r_parts["pass_n_ops"]
    assert r_total["flops"] == r_parts["record_flops"] + 3 * r_parts["pass_flops"]
    assert r_total["tape_bytes"] > 0


def test_count_identity_analysis_flags_a_mismatch():
    import pandas as pd

    c = pd.DataFrame([
        {"sweep": "n", "problem": "p", "method": "fwd_chunk1", "mode": "forward", "n": 4, "m": 2,
         "depth": 1, "n_ops": 40, "flops": 80, "pass_n_ops": 10, "pass_flops": 20,
         "record_n_ops": np.nan, "record_flops": np.nan},
        {"sweep": "n", "problem": "p", "method": "rev_chunk1", "mode": "reverse", "n": 4, "m": 2,
         "depth": 1, "n_ops": 25, "flops": 50, "pass_n_ops": 10, "pass_flops": 20,
         "record_n_ops": 5, "record_flops": 11},
    ])
    ident = analysis.count_identity(c)
    assert list(ident["holds"]) == [True, False]  # 11 + 2 * 20 = 51 != 50 FLOPs
