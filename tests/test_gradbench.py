"""``python -m dualtape.gradbench`` driven as GradBench drives a tool: a subprocess, JSON lines.

A small driver of our own plays the eval: it starts the tool, sends ``start``, ``define``,
``evaluate`` and ``analysis`` messages for every eval at small sizes, and checks each answer
against JAX (gradients, Jacobian-Hessian products) and against independent references for
the primals (SciPy, NumPy's determinant, plain loops written from the specifications).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dualtape
from dualtape.gradbench import objectives as ob

_llsq_data = ob.llsq_data

SRC = str(Path(dualtape.__file__).resolve().parents[1])
RUNS = {"min_runs": 2, "min_seconds": 0.0}

# What GradBench's own evals expect for the nested-AD evals (their validators' constants).
PARTICLE_ANSWER = 0.2071918746486116
SADDLE_ANSWER = 8.246324826140356e-06


class Tool:
    """The tool under test, in a subprocess; :meth:`send` returns the parsed response."""

    def __init__(self, *options: str) -> None:
        env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
        self.proc = subprocess.Popen([sys.executable, "-m", "dualtape.gradbench", *options],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=env)
        self.next_id = 0

    def send(self, kind: str, **fields: Any) -> dict[str, Any]:
        message = {"id": self.next_id, "kind": kind, **fields}
        self.next_id += 1
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(message) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, f"the tool exited: {self.proc.stderr.read() if self.proc.stderr else ''}"
        response = json.loads(line)
        assert response["id"] == message["id"]
        return response

    def evaluate(self, module: str, function: str, data: Any) -> Any:
        """Evaluate, check the response's shape and timings, return the output."""
        response = self.send("evaluate", module=module, function=function, input=data)
        assert response["success"], response.get("error")
        runs = data.get("min_runs", 1) if isinstance(data, dict) else 1
        assert len(response["timings"]) >= runs
        assert all(t["name"] == "evaluate" and t["nanoseconds"] >= 0 for t in response["timings"])
        return response["output"]

    def close(self) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        return self.proc.wait(timeout=30)


@pytest.fixture(scope="module", params=["rev", "fwd"])
def tool(request: pytest.FixtureRequest):
    t = Tool("--mode", request.param, "--chunk", "7")
    start = t.send("start", eval="test")
    assert start["tool"] == "dualtape" and start["config"]["mode"] == request.param
    for module in ("hello", "lse", "llsq", "kmeans", "gmm", "ode", "det"):
        assert t.send("define", module=module) == {"id": t.next_id - 1, "success": True}
    yield t
    assert t.close() == 0


def close(got: Any, want: Any, rtol: float = 1e-9, atol: float = 1e-12) -> None:
    np.testing.assert_allclose(np.asarray(got, dtype=float), np.asarray(want), rtol=rtol, atol=atol)


def test_hello_alternates_square_and_double(tool: Tool) -> None:
    x = 1.0
    for _ in range(4):
        y = tool.evaluate("hello", "square", x)
        assert y == x * x
        x = tool.evaluate("hello", "double", y)
        assert x == 2 * y
    assert tool.send("analysis", of=1, valid=True) == {"id": tool.next_id - 1}


def test_lse(tool: Tool, rng: np.random.Generator) -> None:
    from scipy.special import logsumexp, softmax

    x = rng.random(50) * 200 - 100
    data = {"x": x.tolist(), **RUNS}
    close(tool.evaluate("lse", "primal", data), logsumexp(x))
    close(tool.evaluate("lse", "gradient", data), jax.grad(ob.lse)(jnp.asarray(x)))
    close(tool.evaluate("lse", "gradient", data), softmax(x))
    assert math.isclose(ob.lse(np.array([1e308, 1e308])), 1e308 + math.log(2))


def test_llsq(tool: Tool, rng: np.random.Generator) -> None:
    x, n = rng.random(6), 33
    data = {"x": x.tolist(), "n": n, **RUNS}
    want = 0.0
    for i in range(n):  # the specification's sums, written out
        t = -1 + i * 2 / (n - 1)
        want += (np.sign(t) - sum(x[j] * t ** j for j in range(6))) ** 2
    close(tool.evaluate("llsq", "primal", data), want / 2)
    powers, s = ob.llsq_data(n, 6)
    close(tool.evaluate("llsq", "gradient", data),
          jax.grad(ob.llsq)(jnp.asarray(x), jnp.asarray(powers), jnp.asarray(s)))


def test_kmeans(tool: Tool, rng: np.random.Generator) -> None:
    points = rng.random((40, 3))
    centroids = points[-4:]
    data = {"points": points.tolist(), "centroids": centroids.tolist(), **RUNS}
    brute = sum(min(float(np.sum((c - p) ** 2)) for c in centroids) for p in points)
    close(tool.evaluate("kmeans", "cost", data), brute)
    jac = jax.grad(ob.kmeans)
    j, h = jax.jvp(lambda c: jac(c, jnp.asarray(points)), (jnp.asarray(centroids),),
                   (jnp.ones(centroids.shape),))
    close(tool.evaluate("kmeans", "dir", data), j / h)


def test_kmeans_far_from_the_origin(tool: Tool, rng: np.random.Generator) -> None:
    # |P|^2 + |C|^2 - 2 P.C cancelled at 1e8: a negative cost and the wrong nearest centroid
    points = 1e8 + rng.random((20, 2))
    centroids = points[:3]
    data = {"points": points.tolist(), "centroids": centroids.tolist(), **RUNS}
    near = [min(range(3), key=lambda j: float(np.sum((centroids[j] - p) ** 2))) for p in points]
    cost = sum(float(np.sum((centroids[j] - p) ** 2)) for j, p in zip(near, points, strict=True))
    assert tool.evaluate("kmeans", "cost", data) == pytest.approx(cost, rel=1e-6)
    counts = np.bincount(near, minlength=3)[:, None]
    sums = np.array([points[np.array(near) == j].sum(axis=0) for j in range(3)])
    grad = 2.0 * (counts * centroids - sums)
    close(tool.evaluate("kmeans", "dir", data), grad / (2.0 * counts), atol=1e-6)  # eps * 1e8


def _gmm_naive(alpha, mu, q, l, x, m, gamma) -> float:  # noqa: E741
    """The log posterior straight from the definition: SciPy's densities, no simplification."""
    from scipy.stats import multivariate_normal, wishart

    k, d = mu.shape
    phi = np.exp(alpha) / np.sum(np.exp(alpha))
    precisions = []
    for c in range(k):
        big_q = np.diag(np.exp(q[c]))
        p = 0
        for j in range(d):  # column by column, as the specification fills Q
            for i in range(j + 1, d):
                big_q[i, j] = l[c][p]
                p += 1
        precisions.append(big_q.T @ big_q)
    dens = np.stack([phi[c] * multivariate_normal.pdf(x, mu[c], np.linalg.inv(precisions[c]))
                     for c in range(k)], axis=1)
    prior = sum(wishart.logpdf(s, df=d + m + 1, scale=np.eye(d) / gamma ** 2) for s in precisions)
    return float(np.sum(np.log(dens.sum(axis=1))) + prior)


def test_gmm(tool: Tool, rng: np.random.Generator) -> None:
    d, k, n, m, gamma = 3, 4, 25, 2, 1.3
    params = {"alpha": rng.normal(size=k), "mu": rng.uniform(size=(k, d)),
              "q": rng.normal(size=(k, d)) * 0.3, "l": rng.normal(size=(k, d * (d - 1) // 2))}
    x = rng.normal(size=(n, d))
    data = {"d": d, "k": k, "n": n, "x": x.tolist(), "m": m, "gamma": gamma,
            **{name: a.tolist() for name, a in params.items()}, **RUNS}
    args = (*params.values(), x, m, gamma)
    close(tool.evaluate("gmm", "objective", data), _gmm_naive(*args), rtol=1e-8)
    want = jax.grad(ob.gmm, argnums=(0, 1, 2, 3))(*map(jnp.asarray, args[:5]), m, gamma)
    got = tool.evaluate("gmm", "jacobian", data)
    assert sorted(got) == ["alpha", "l", "mu", "q"]
    for name, w in zip(params, want, strict=True):
        close(got[name], w)


def _rk4_last(x: np.ndarray, s: int) -> np.ndarray:
    """The ODE's solution by RK4, one component at a time, as the specification's loops."""
    n, h = len(x), 2.0 / s
    y = np.zeros(n)

    def rate(y: np.ndarray) -> np.ndarray:
        return np.array([x[0]] + [x[i] * y[i - 1] for i in range(1, n)])

    for _ in range(s):
        k1 = rate(y)
        k2 = rate(y + h * k1 / 2)
        k3 = rate(y + h * k2 / 2)
        k4 = rate(y + h * k3)
        y = y + h * (k1 + 2 * k2 + 2 * k3 + k4) / 6
    return y


def test_ode(tool: Tool, rng: np.random.Generator) -> None:
    x, s = rng.random(12), 4
    data = {"x": x.tolist(), "s": s, **RUNS}
    close(tool.evaluate("ode", "primal", data), _rk4_last(x, s))
    close(tool.evaluate("ode", "gradient", data), jax.grad(ob.ode_last)(jnp.asarray(x), s))


def test_det(tool: Tool, rng: np.random.Generator) -> None:
    ell = 5
    a = rng.random(ell * ell)
    data = {"A": a.tolist(), "ell": ell, **RUNS}
    close(tool.evaluate("det", "primal", data), np.linalg.det(a.reshape(ell, ell)))
    grad = tool.evaluate("det", "gradient", data)
    close(grad, jax.grad(ob.det)(jnp.asarray(a), ell))
    cofactors = np.linalg.det(a.reshape(ell, ell)) * np.linalg.inv(a.reshape(ell, ell)).T
    close(grad, cofactors.reshape(-1), rtol=1e-8)


def _jax_particle_miss(w: Any) -> Any:
    """The particle's miss distance written in JAX: jax.grad for the force, a while loop."""
    def potential(p: Any, w: Any) -> Any:
        return (1 / jnp.sqrt((p[0] - 10) ** 2 + (p[1] - 10 + w) ** 2)
                + 1 / jnp.sqrt((p[0] - 10) ** 2 + p[1] ** 2))

    def step(state: Any) -> Any:
        x, v = state
        return x + 0.1 * v, v - 0.1 * jax.grad(potential)(x, w)

    x, v = jax.lax.while_loop(lambda state: (state[0] + 0.1 * state[1])[1] >= 0, step,
                              (jnp.array([0.0, 8.0]), jnp.array([0.75, 0.0])))
    return (x[0] - x[1] / v[1] * v[0]) ** 2


def test_particle_nested_derivative_matches_jax() -> None:
    from dualtape.gradbench import nested

    # JAX differentiates a while loop in forward mode only: jvp, jitted
    want = jax.jit(lambda w: jax.jvp(_jax_particle_miss, (w,), (1.0,)))(0.3)
    for variant in nested.VARIANTS:
        outer, inner = variant
        close(nested.particle_miss(0.3, inner), want[0], rtol=1e-12)
        got = nested.partials(lambda w, inner=inner: nested.particle_miss(w, inner), (0.3,), 1, outer)[0]
        close(got, want[1], rtol=1e-9)


def test_saddle_nested_derivative_matches_jax() -> None:
    from dualtape.gradbench import nested

    def jax_inner_max(x: Any) -> Any:  # gradient ascent in y, 50 fixed steps, in JAX
        y = jnp.array([1.0, 1.0])
        for _ in range(50):
            y = y + 0.1 * jax.grad(lambda y: nested.saddle_f(x[0], x[1], y[0], y[1]))(y)
        return nested.saddle_f(x[0], x[1], y[0], y[1])

    x = (0.7, -0.4)
    want = jax.grad(jax_inner_max)(jnp.array(x))  # the inner maximum is 0 at y = 0
    for variant in nested.VARIANTS:
        outer, inner = variant
        got = nested.partials(lambda a, b, i=inner: nested.inner_max((a, b), (1.0, 1.0), i), x, 2,
                              outer)
        close(got, want, rtol=1e-9)


def test_saddle_reaches_gradbench_answer() -> None:
    tool = Tool()
    assert tool.send("define", module="saddle")["success"]
    for variant in ("fr", "rf"):  # all four agree on the nested derivative (test above)
        out = tool.evaluate("saddle", variant, {"start": [1.0, 1.0], "min_runs": 1,
                                                "min_seconds": 0})
        close(out, [SADDLE_ANSWER] * 4, rtol=1e-10)
    assert tool.close() == 0


def test_particle_reaches_gradbench_answer() -> None:
    tool = Tool()
    assert tool.send("define", module="particle")["success"]
    close(tool.evaluate("particle", "fr", {"w": 0.0, "min_runs": 1, "min_seconds": 0}),
          PARTICLE_ANSWER, rtol=1e-10)
    assert tool.close() == 0


def test_runs_until_min_seconds() -> None:
    tool = Tool()
    assert tool.send("define", module="lse")["success"]
    response = tool.send("evaluate", module="lse", function="primal",
                         input={"x": [1.0, 2.0], "min_runs": 1, "min_seconds": 0.02})
    assert sum(t["nanoseconds"] for t in response["timings"]) >= 0.02e9
    assert len(response["timings"]) > 1
    assert tool.close() == 0


def test_min_runs_as_any_json_number() -> None:
    tool = Tool()
    assert tool.send("define", module="lse")["success"]
    for runs, least in [(0, 1), (2.0, 2), (3, 3)]:  # no runs asked: one all the same
        response = tool.send("evaluate", module="lse", function="primal",
                             input={"x": [1.0, 2.0], "min_runs": runs, "min_seconds": 0})
        assert response["success"] and len(response["timings"]) == least
    assert tool.close() == 0


def test_an_infinite_output_is_a_failed_evaluation_in_strict_json() -> None:
    tool = Tool()
    assert tool.send("define", module="hello")["success"]
    response = tool.send("evaluate", module="hello", function="square", input=1e308)
    assert response == {"id": response["id"], "success": False,
                        "error": "the output holds inf or NaN, which JSON cannot carry"}
    assert tool.send("evaluate", module="hello", function="square", input=3.0)["output"] == 9.0
    assert tool.close() == 0


def test_llsq_builds_its_points_inside_the_timed_run(monkeypatch: pytest.MonkeyPatch) -> None:
    from dualtape.gradbench import evals, protocol
    built = []
    monkeypatch.setattr(ob, "llsq_data", lambda n, m: built.append(n) or _llsq_data(n, m))
    data = {"x": [0.5, -1.0], "n": 5, "min_runs": 3, "min_seconds": 0}
    for function in ("primal", "gradient"):
        built.clear()
        protocol.evaluate(evals.EVALS["llsq"][function], data, evals.Settings())
        assert built == [5, 5, 5]  # once per timed run, none before


def test_errors_are_answers_not_crashes() -> None:
    tool = Tool()
    no_module = tool.send("define", module="ba")
    assert not no_module["success"] and "'ba'" in no_module["error"]
    early = tool.send("evaluate", module="lse", function="primal", input={"x": [1.0]})
    assert not early["success"] and "not defined" in early["error"]
    assert tool.send("define", module="lse")["success"]
    for data, words in [({"x": [[1.0]], **RUNS}, "'x' must have 1 axes"),
                        ({"y": [1.0], **RUNS}, "missing field 'x'"),
                        ({"x": [1.0], "min_runs": -1, "min_seconds": 0}, "min_runs"),
                        ({"x": [1.0], "min_runs": 1.5, "min_seconds": 0}, "min_runs"),
                        ({"x": [1.0], "min_runs": 1e300, "min_seconds": 0}, "min_runs"),
                        ({"x": [1.0], "min_runs": 1, "min_seconds": math.inf}, "min_seconds"),
                        ({"x": [1.0], "min_runs": 1, "min_seconds": math.nan}, "min_seconds"),
                        # were taken as numbers, or failed deep inside without the field's name
                        ({"x": ["1", "2"], **RUNS}, "'x' is not an array of numbers (it holds \"1\")"),
                        ({"x": [1.0, True], **RUNS}, "not an array of numbers (it holds true)"),
                        ({"x": [1.5, None], **RUNS}, "not an array of numbers (it holds null)"),
                        ({"x": [[1.0, "a"]], **RUNS}, "it holds \"a\""),
                        ({"x": [], **RUNS}, "field 'x' is empty")]:
        response = tool.send("evaluate", module="lse", function="primal", input=data)
        assert not response["success"] and words in response["error"]
    wrong = tool.send("evaluate", module="lse", function="hessian", input={"x": [1.0]})
    assert not wrong["success"] and "no function 'hessian'" in wrong["error"]
    for module, function in ((["lse"], "primal"), ({"a": 1}, "primal"), ("lse", ["primal"])):
        response = tool.send("evaluate", module=module, function=function, input={"x": [1.0]})
        assert not response["success"] and "must be a string" in response["error"]
    assert "module must be a string" in tool.send("define", module=["lse"])["error"]
    assert tool.send("evaluate", module="lse", function="primal",
                     input={"x": [1.0], **RUNS})["success"]  # the session goes on
    assert tool.proc.stdin is not None
    tool.proc.stdin.write("this is not json\n")
    tool.proc.stdin.flush()
    assert tool.close() == 2
    assert tool.proc.stderr is not None and "not JSON" in tool.proc.stderr.read()


def test_bad_sizes_name_their_field() -> None:
    from dualtape.gradbench import evals, protocol

    session = protocol.Session(evals.Settings())
    for module in ("gmm", "ode", "llsq"):
        assert session.respond({"id": 0, "kind": "define", "module": module})["success"]
    gmm = {"d": 1, "k": 1, "n": 1, "alpha": [0.0], "mu": [[0.0]], "q": [[0.0]], "l": [[]],
           "x": [[1.0]], "gamma": 1.0, "m": 0, **RUNS}
    asks = [("gmm", "objective", {**gmm, "m": -2}, "field 'm' must be at least 0, got -2"),
            ("gmm", "objective", {**gmm, "k": 0}, "field 'k' must be at least 1, got 0"),
            ("ode", "gradient", {"x": [], "s": 3, **RUNS}, "field 'x' is empty"),
            ("llsq", "gradient", {"x": [1.0], "n": 10 ** 15, **RUNS}, "not enough memory")]
    for module, function, data, words in asks:
        response = session.respond({"id": 1, "kind": "evaluate", "module": module,
                                    "function": function, "input": data})
        assert not response["success"] and words in response["error"], response
    assert session.respond({"id": 2, "kind": "evaluate", "module": "gmm", "function": "objective",
                            "input": gmm})["success"]  # d = 1: an empty l is right
    assert session.respond({"id": 0, "kind": "define", "module": "lse"})["success"]
    big = session.respond({"id": 3, "kind": "evaluate", "module": "lse", "function": "primal",
                           "input": {"x": [10 ** 20, 1], **RUNS}})  # a JSON integer too big for int64
    assert big["success"] and big["output"] == 1e20


def test_a_nan_id_gets_an_answer_in_strict_json() -> None:
    tool = Tool()
    assert tool.proc.stdin is not None
    tool.proc.stdin.write('{"id": NaN, "kind": "start"}\n')
    tool.proc.stdin.flush()
    assert tool.proc.stdout is not None
    answer = json.loads(tool.proc.stdout.readline())  # was: an id of NaN, not JSON
    assert answer["id"] is None and not answer["success"] and "finite id" in answer["error"]
    assert tool.close() == 0


def test_bad_options_are_rejected() -> None:
    done = subprocess.run([sys.executable, "-m", "dualtape.gradbench", "--mode", "sideways"],
                          capture_output=True, text=True, input="",
                          env=dict(os.environ, PYTHONPATH=SRC))
    assert done.returncode == 2 and "--mode" in done.stderr


def test_importing_dualtape_does_not_load_the_tool() -> None:
    code = "import sys, dualtape; print('dualtape.gradbench' in sys.modules, 'scipy' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=SRC))
    assert done.stdout.split() == ["False", "False"]


def test_a_particle_that_never_lands_is_a_clear_error(monkeypatch) -> None:
    """A NaN or far-off control never crosses the axis: the Euler loop stops, naming w."""
    from dualtape.gradbench import nested

    monkeypatch.setattr(nested, "MAX_STEPS", 2_000)
    for w in (math.nan, 1e6):
        with pytest.raises(ValueError, match="w: the particle did not cross the x axis"):
            nested.particle_miss(w, "f")
    assert nested.particle_miss(0.0, "f") > 0.0  # 353 steps: within the cap
