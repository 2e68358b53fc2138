"""dualtape.lessons and the lesson studies: every exercise of the first lesson, checked."""

from __future__ import annotations

import importlib.util
import io
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from dualtape import lessons
from dualtape.graph import GraphvizNotFound
from dualtape.study import StudyError
from dualtape.study.storage import ResultsWriter, custom_layout

ROOT = Path(__file__).resolve().parents[1]


def _study(name: str):
    spec = importlib.util.spec_from_file_location(f"_test_study_{name}", ROOT / "studies" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------- the hand exercise


def test_hand_exercise_numbers() -> None:
    # L = (w2 relu(w1 x + b))^2; by hand: dL/dz4 = 2 z4 = -13, dL/dw2 = -13 z3 = -84.5,
    # dL/dz3 = -13 w2 = 13 = dL/dz2 = dL/db (relu active), dL/dw1 = 13 x = 26, dL/dx = 13 w1 = 39.
    buf = io.StringIO()
    r = lessons.hand_exercise(file=buf)
    assert r.values == {"x": 2.0, "w1": 3.0, "w2": -1.0, "b": 0.5, "z1": 6.0, "z2": 6.5,
                        "z3": 6.5, "z4": -6.5, "L": 42.25}
    assert r.grads["w1"] == 26.0
    assert r.grads["w2"] == -84.5
    assert r.grads["b"] == 13.0
    assert r.grads["x"] == 39.0
    assert r.grads["z4"] == -13.0 and r.grads["z3"] == 13.0 and r.grads["L"] == 1.0
    assert r.forward_grads == {"w1": 26.0, "w2": -84.5, "b": 13.0}  # forward mode agrees
    text = buf.getvalue()
    for line in ("z1 = w1 * x       = 3 * 2          = 6",
                 "L = z4 ** 2      = (-6.5) ** 2    = 42.25",
                 "local dL/dz4 = 2·z4 = -13",
                 "local dz4/dw2 = z3 = 6.5",
                 "downstream -13 x 6.5 = -84.5",
                 "local dz3/dz2 = 1[z2 > 0] = 1",
                 "downstream 13 x 2 = 26",
                 "dL/dw1 = 26, dL/dw2 = -84.5, dL/db = 13",
                 "Forward mode, seed w1",
                 "dL/dw1 = -13 (2·z4) x -2 = 26",
                 "dL/db = -13 (2·z4) x -1 = 13"):
        assert line in text, line


def test_hand_exercise_is_quiet_when_asked(capsys) -> None:
    lessons.hand_exercise(verbose=False)
    assert capsys.readouterr().out == ""


def test_hand_exercise_with_inactive_relu() -> None:
    r = lessons.hand_exercise(x=2.0, w1=-3.0, verbose=False)
    assert r.values["z3"] == 0.0 and r.grads["w1"] == 0.0 and r.grads["b"] == 0.0
    assert r.forward_grads["w1"] == 0.0


def test_explain_forward_restores_the_seeds() -> None:
    from dualtape import Value

    a, b = Value(1.0, label="a", tangent=5.0), Value(2.0, label="b")
    out = a * b
    assert lessons.explain_forward(out, b, file=io.StringIO()) == 1.0
    assert a.tangent == 5.0 and b.tangent is None and out.tangent == 10.0
    with pytest.raises(ValueError, match="leaf"):
        lessons.explain_forward(out, out, file=io.StringIO())


# ---------------------------------------------------------------- training


def test_training_loss_falls_and_every_engine_agrees_at_every_step() -> None:
    h = lessons.train_lesson_mlp(steps=100)
    assert len(h.losses) == 100
    assert h.losses[-1] < 0.1 * h.losses[0]
    assert set(h.disagreement) == {"array reverse", "array forward", "jax"}
    for engine, diffs in h.disagreement.items():
        assert len(diffs) == 100, engine
        assert max(diffs) < 1e-12, engine
    assert h.max_disagreement < 1e-12
    signs = np.sign(h.predictions)
    np.testing.assert_array_equal(signs, np.sign(lessons.LESSON_YS))


def test_training_prints_and_checks_engine_names() -> None:
    buf = io.StringIO()
    h = lessons.train_lesson_mlp(steps=3, engines=(), verbose=True, file=buf)
    assert h.disagreement == {} and "step   0 | loss" in buf.getvalue()
    with pytest.raises(ValueError, match="engines"):
        lessons.train_lesson_mlp(steps=1, engines=("tensorflow",))


def test_lesson_mlp_study(tmp_path) -> None:
    mod = _study("lesson_mlp")
    assert mod.STUDY.name == "lesson_mlp" and mod.STUDY.custom
    report = mod.run(mod.STUDY, out=tmp_path, quick=True)
    names = {p.name for p in report.files}
    assert names == {"data.csv", "env.json", "lesson_mlp.png", "lesson_mlp.svg", "summary.md"}
    text = (tmp_path / "summary.md").read_text()
    assert "the loss falls from" in text


# ---------------------------------------------------------------- the graph exercise


def test_exercise_network_has_20_parameters_and_labelled_nodes() -> None:
    loss, model = lessons.exercise_network()
    assert model.num_parameters() == 20
    from dualtape.value import topological_order

    nodes = topological_order(loss)
    assert all(v.label for v in nodes)  # every node named
    labels = {v.label for v in nodes}
    for name in ("x[0]", "W1[2,1]", "b3[0]", "z1[0]", "h1[2]", "h2[1]", "ŷ", "ŷ-y", "L"):
        assert name in labels
    params = {id(p) for p in model.parameters()}
    assert sum(1 for v in nodes if id(v) in params) == 20
    # the scalar graph and the recorded tape give the same loss and gradients
    tr = lessons.exercise_tape()
    assert tr.value == pytest.approx(loss.data, rel=1e-14)
    from dualtape.nn import scalar_grads

    for k, (gW, gb) in enumerate(scalar_grads(model)):
        np.testing.assert_allclose(tr.grad(2 * k), gW, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(tr.grad(2 * k + 1), gb, rtol=1e-13, atol=1e-15)


def test_exercise_graph_draws_with_one_call(tmp_path, monkeypatch) -> None:
    if shutil.which("dot"):
        out = lessons.draw_exercise_graph(tmp_path / "exercise.svg")
        assert out.exists() and out.suffix == ".svg"
        out = lessons.draw_exercise_tape(tmp_path / "tape.png")
        assert out.exists()
    dot = (tmp_path / "x.dot")
    monkeypatch.setattr("dualtape.graph.shutil.which", lambda name: None)
    with pytest.raises(GraphvizNotFound):
        lessons.draw_exercise_graph(tmp_path / "x.png")
    text = dot.read_text()
    assert "20 parameters" in text and "value = " in text and "grad = " in text


# ---------------------------------------------------------------- cross-entropy


def test_cross_entropy_table() -> None:
    rows = lessons.cross_entropy_table()
    assert len(rows) == 18
    for r in rows:
        assert math.isfinite(r["stable"]) and math.isfinite(r["grad"])
        assert r["stable"] == pytest.approx(r["array"], rel=1e-12, abs=1e-300)
        assert r["grad"] == pytest.approx(r["sigmoid_minus_y"], abs=1e-15)
    broken = [r for r in rows if not math.isfinite(r["naive"]) or math.isnan(r["naive_grad"])]
    assert {(r["z"], r["y"]) for r in broken} >= {(50.0, 0.0), (1000.0, 0.0), (-1000.0, 1.0)}
    buf = io.StringIO()
    lessons.print_cross_entropy_table(rows, file=buf)
    assert buf.getvalue().count("\n") == 20 and "inf" in buf.getvalue()


# ---------------------------------------------------------------- vanishing gradients


def test_layer_grad_norms_agree_across_engines() -> None:
    vg = _study("vanishing_gradients")
    rng = np.random.default_rng(0)
    params = vg.init_deep_mlp(rng, depth=4, width=3, init="xavier")
    x, y = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    for arch in vg.ARCHITECTURES:
        for act in (None, "tanh", "sigmoid", "relu"):
            rev = vg.layer_grad_norms(params, x, y, act, arch, "reverse")
            fwd = vg.layer_grad_norms(params, x, y, act, arch, "forward")
            ref = vg.layer_grad_norms(params, x, y, act, arch, "jax")
            assert len(rev) == 4
            np.testing.assert_allclose(rev, ref, rtol=1e-12)
            np.testing.assert_allclose(fwd, ref, rtol=1e-12)


def test_init_and_loss_arguments() -> None:
    vg = _study("vanishing_gradients")
    rng = np.random.default_rng(0)
    for init in vg.INITS:
        params = vg.init_deep_mlp(rng, 2, 8, init)
        assert params[0][0].shape == (8, 8) and params[0][1].shape == (8,)
    with pytest.raises(ValueError, match="init"):
        vg.init_deep_mlp(rng, 2, 8, "orthogonal")
    with pytest.raises(ValueError, match="architecture"):
        vg.deep_mlp_loss(params, np.ones((1, 8)), np.ones((1, 8)), None, "dense")
    with pytest.raises(ValueError, match="engine"):
        vg.layer_grad_norms(params, np.ones((1, 8)), np.ones((1, 8)), engine="torch")


def test_vanishing_gradients_study_pieces(tmp_path) -> None:
    mod = _study("vanishing_gradients")
    assert mod.STUDY.name == "vanishing_gradients" and mod.STUDY.custom
    rows = mod.measure(seeds=1, check_jax=False)
    assert len(rows) == 4 * 2 * 4 * 10
    writer = ResultsWriter(tmp_path / "data.csv", mod.NAME, custom_layout(mod.COLUMNS))
    for k in range(0, len(rows), 10):  # one cell per network and seed: its ten layers
        label = " ".join(str(rows[k][c]) for c in ("architecture", "activation", "init", "seed"))
        writer.write([{**r, "run_id": "test", "study": mod.NAME, "cell": label}
                      for r in rows[k:k + 10]])
    files = mod.plot(out=tmp_path)
    assert {f.name for f in files} == {"vanishing_gradients.png", "vanishing_gradients.svg"}
    text = mod.summary(out=tmp_path).read_text()
    assert "**What the plot shows.**" in text and "| default | sigmoid |" in text
    stats = mod.medians(mod.load(tmp_path))
    # the lesson's point: sigmoid without skips vanishes towards the input, with skips much less
    assert mod._ratio(stats[("plain", "sigmoid", "default")]) < 1e-5
    assert mod._ratio(stats[("residual", "sigmoid", "default")]) > 1e-3
    # an interrupted run's folder: the summary says what is missing (was: a KeyError)
    lines = (tmp_path / "data.csv").read_text().splitlines(keepends=True)
    (tmp_path / "data.csv").write_text("".join(lines[:-13]) + "run,vanish")
    with pytest.raises(StudyError, match="holds 30 of the 32 networks.*dualtape study run"):
        mod.summary(out=tmp_path)
    assert len(mod.load(tmp_path)) == 30 * 10  # the cell cut short is left out too


def test_committed_vanishing_gradients_results_are_consistent() -> None:
    out = ROOT / "results" / "vanishing_gradients"
    if not (out / "data.csv").exists():
        pytest.skip("results/vanishing_gradients not generated")
    mod = _study("vanishing_gradients")
    rows = mod.load(out)
    assert len(rows) == 4 * 2 * 4 * mod.SEEDS * 10
    assert max(r["rel_diff_jax"] for r in rows) < 1e-10
    for name in ("summary.md", "vanishing_gradients.png", "vanishing_gradients.svg", "env.json"):
        assert (out / name).exists(), name


def test_walkthrough_shows_every_exercise_and_its_pictures_exist() -> None:
    import re

    doc = ROOT / "docs" / "lesson-day1.md"
    text = doc.read_text(encoding="utf-8")
    for needle in ("Exercise 1", "Exercise 2", "Exercise 3", "Exercise 4",
                   "dL/dx = 39, dL/dw1 = 26, dL/dw2 = -84.5, dL/db = 13",
                   "trainable parameters: 20", "| 1 | 1000 | nan | nan | 0 | 0 | 0 |",
                   "max |grad(Value) - grad(jax)|", "**What the plot shows.**"):
        assert needle in text, needle
    pictures = re.findall(r"\]\(((?:img|\.\./results)/[^)]+)\)", text)
    assert len(pictures) >= 5
    for rel in pictures:
        assert (doc.parent / rel).exists(), rel


@pytest.mark.skipif(shutil.which("dot") is None, reason="the walkthrough renders graphs: "
                    "needs Graphviz's dot (apt-get install graphviz)")
def test_the_lesson_walkthrough_is_what_its_script_prints() -> None:
    """docs/lesson-day1.md is the output of docs/build_lesson_day1.py at this code."""
    import subprocess
    import sys

    script = Path(__file__).resolve().parents[1] / "docs" / "build_lesson_day1.py"
    done = subprocess.run([sys.executable, str(script), "--check"], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
