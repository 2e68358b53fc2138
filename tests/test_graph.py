"""dualtape.graph: DOT text for Value graphs and tapes, rendering with and without Graphviz."""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest

import dualtape as dt
import dualtape.numpy as dnp
from dualtape import Value, graph
from dualtape.graph import GraphvizNotFound, TapeTrace, to_dot, trace

HAVE_DOT = shutil.which("dot") is not None


def _hand_graph() -> tuple[Value, dict[str, Value]]:
    x, w1, w2, b = Value(2.0, label="x"), Value(3.0, label="w1"), Value(-1.0, label="w2"), \
        Value(0.5, label="b")
    z4 = w2 * (w1 * x + b).relu()
    loss = z4 ** 2
    loss.label = "L"
    loss.backward()
    return loss, {"x": x, "w1": w1, "w2": w2, "b": b}


def _node_labels(text: str) -> dict[str, str]:
    return dict(re.findall(r'^\s+(\w+) \[label="(.*?)"', text, flags=re.M))


def test_value_dot_labels_every_node_with_op_value_and_grad() -> None:
    loss, leaves = _hand_graph()
    text = to_dot(loss)
    labels = _node_labels(text)
    value_nodes = {k: v for k, v in labels.items() if k.startswith("v")}
    assert len(value_nodes) == 9  # 4 leaves + mul, add, relu, mul, power
    for label in value_nodes.values():
        assert "value = " in label and "grad = " in label
    joined = "\n".join(value_nodes.values())
    for op in ("mul", "add", "relu", "power_const(p=2)", "leaf"):
        assert op in joined
    assert "w1\\nleaf\\nvalue = 3\\ngrad = 26" in text
    assert "w2\\nleaf\\nvalue = -1\\ngrad = -84.5" in text
    assert "L\\npower_const(p=2)\\nvalue = 42.25\\ngrad = 1" in text
    assert text.startswith("digraph") and text.rstrip().endswith("}")
    assert text.count("->") == 8


def test_constants_tangents_and_ordered_edges_are_shown() -> None:
    x = Value(2.0, label="x", tangent=1.0)
    y = 1.0 - x / 4.0
    text = to_dot(y)
    assert 'shape=plaintext' in text and 'label="4"' in text and 'label="1"' in text
    assert "tangent = -0.25" in text
    assert '[label="lhs"]' in text and '[label="rhs"]' in text  # sub, div: which side is which
    assert 'labelloc=t' in to_dot(y, title="a title") and 'label="a title"' in to_dot(y, title="a title")


def test_tape_trace_labels_values_and_cotangents() -> None:
    W = np.array([[1.0, -2.0], [0.5, 3.0]])
    x = np.array([1.0, 1.0])

    def f(W, x):
        return dnp.sum(dnp.tanh(dnp.matmul(W, x)) ** 2)

    tr = trace(f, W, x, names=["W", "x"])
    assert isinstance(tr, TapeTrace)
    assert tr.value == pytest.approx(float(f(W, x)))
    gW, gx = dt.grad(f, argnums=(0, 1))(W, x)
    np.testing.assert_allclose(tr.grad(0), gW, rtol=1e-14)
    np.testing.assert_allclose(tr.grad(1), gx, rtol=1e-14)
    assert all(v is not None for v in tr.values)
    text = to_dot(tr, title="tape")
    labels = _node_labels(text)
    assert len(labels) == len(tr.tape.entries)
    for label in labels.values():
        assert "value = " in label and "grad = " in label
    for name in ("matvec", "tanh", "power_const", "sum", "W\\ninput", "x\\ninput"):
        assert name in text
    # a bare tape draws too (values it did not keep are shown as shapes or '?')
    bare = to_dot(tr.tape)
    assert "grad = -" in bare and "matvec" in bare


def test_trace_of_a_non_scalar_has_no_grads() -> None:
    tr = trace(lambda a: a * 2.0, np.ones(3))
    assert tr.grads is None and tr.value.shape == (3,)
    assert "grad = -" in to_dot(tr)


def test_to_dot_errors() -> None:
    with pytest.raises(TypeError, match="Value"):
        to_dot(3.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="rankdir"):
        to_dot(Value(1.0), rankdir="XY")
    with pytest.raises(ValueError, match="names"):
        trace(lambda a: a, 1.0, names=["a", "b"])


def test_draw_without_graphviz_writes_dot_and_explains(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(graph.shutil, "which", lambda name: None)
    loss, _ = _hand_graph()
    with pytest.raises(GraphvizNotFound) as info:
        graph.draw(loss, tmp_path / "g.png")
    message = str(info.value)
    assert "dot" in message and "apt-get install graphviz" in message
    assert str(tmp_path / "g.dot") in message and "-Tpng" in message
    assert (tmp_path / "g.dot").read_text().startswith("digraph")
    assert not (tmp_path / "g.png").exists()
    assert info.value.dot_path == tmp_path / "g.dot"
    with pytest.warns(UserWarning, match="Graphviz") as caught:
        out = graph.draw(loss, tmp_path / "h.svg", missing="warn")
    assert out == tmp_path / "h.dot" and out.exists()
    assert caught[0].filename == __file__  # the caller's line, not the library's
    from dualtape import lessons
    with pytest.warns(UserWarning, match="Graphviz") as caught:
        lessons.draw_exercise_graph(tmp_path / "ex.svg", missing="warn")
    assert caught[0].filename == __file__
    assert not graph.graphviz_available()


def test_draw_arguments_are_checked(tmp_path) -> None:
    with pytest.raises(ValueError, match="format"):
        graph.draw(Value(1.0), tmp_path / "g.gif")
    with pytest.raises(ValueError, match="missing"):
        graph.draw(Value(1.0), tmp_path / "g.png", missing="ignore")


@pytest.mark.skipif(not HAVE_DOT, reason="Graphviz 'dot' is not installed")
@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_draw_renders_with_graphviz(tmp_path, fmt) -> None:
    loss, _ = _hand_graph()
    out = graph.draw(loss, tmp_path / f"g.{fmt}")
    assert out == tmp_path / f"g.{fmt}" and out.stat().st_size > 0
    head = out.read_bytes()[:8]
    assert head.startswith(b"\x89PNG") if fmt == "png" else b"<" in head
    # a tape renders too, and the format may come from the argument instead of the suffix
    tr = trace(lambda a: dnp.sum(dnp.relu(a)), np.array([1.0, -1.0]))
    out2 = graph.draw(tr, tmp_path / "tape", format=fmt)
    assert out2.suffix == f".{fmt}" and out2.exists()


@pytest.mark.skipif(not HAVE_DOT, reason="Graphviz 'dot' is not installed")
def test_dot_text_is_valid_graphviz() -> None:
    loss, _ = _hand_graph()
    for text in (to_dot(loss), to_dot(trace(lambda a: dnp.sum(a * a), np.ones(2)))):
        subprocess.run(["dot", "-Tsvg"], input=text, text=True, check=True, capture_output=True)


def test_value_operands_keep_argument_positions() -> None:
    """``Value.operands`` is what the drawing reads: the Value per position, None for a constant."""
    from dualtape.lessons.value import Value

    a, b = Value(2.0), Value(3.0)
    assert (a - b).operands == (a, b)
    left, right = (5.0 - b).operands, (a - 5.0).operands
    assert left == (None, b) and right == (a, None)
    assert a.operands == (None, None) and a.relu().operands[0] is a
    assert (a * a).parents == (a, a)
