"""The exercises of the first backpropagation lesson, runnable with dualtape.

* :func:`hand_exercise` -- the lesson's hand computation (x = 2, w1 = 3,
  w2 = -1, b = 0.5; L = (w2 relu(w1 x + b))^2) printed step by step: forward
  values, then the backward pass node by node (upstream gradient x local
  gradient = downstream gradient), then forward mode, one seed at a time.
  :func:`explain_backward` and :func:`explain_forward` do the same for any
  :class:`~dualtape.Value` graph.
* :func:`train_lesson_mlp` -- ``MLP(3, [4, 4, 1])`` on the lesson's four
  samples, plain SGD; at every step the gradient of the scalar engine is
  compared with the array MLP's under both dualtape engines and with JAX.
* :func:`exercise_network` / :func:`draw_exercise_graph` -- the lesson's
  graph exercise (3-layer ReLU MLP, inputs in R^2, MSE loss), every node
  labelled, 20 parameters; :func:`exercise_tape` is the same network on
  arrays, recorded on a tape.
* :func:`cross_entropy_table` -- the textbook binary cross-entropy against the
  stable one, for |z| up to 1000.

JAX is imported only by the functions that compare against it.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from . import numpy as dnp
from .graph import TapeTrace, draw, trace
from .losses import binary_cross_entropy, binary_cross_entropy_with_logits, mse_loss
from .nn import MLP, ArrayMLP, mlp_loss, scalar_grads, scalar_params
from .value import Value, topological_order

__all__ = [
    "LESSON_XS", "LESSON_YS", "HandExercise", "TrainingHistory", "cross_entropy_table",
    "draw_exercise_graph", "draw_exercise_tape", "enable_jax_x64", "exercise_loss",
    "exercise_network", "exercise_tape", "explain_backward", "explain_forward", "hand_exercise",
    "jax_mlp_grad", "max_abs_diff", "print_cross_entropy_table", "train_lesson_mlp",
    "INITS", "ARCHITECTURES", "deep_mlp_loss", "init_deep_mlp", "layer_grad_norms",
]

#: The lesson's toy data set: four samples in R^3 and their targets.
LESSON_XS: list[list[float]] = [
    [2.0, 3.0, -1.0],
    [3.0, -1.0, 0.5],
    [0.5, 1.0, 1.0],
    [1.0, 1.0, -1.0],
]
LESSON_YS: list[float] = [1.0, -1.0, -1.0, 1.0]


def _fmt(x: Any) -> str:
    x = float(x) + 0.0
    return f"{x:.6g}"


def _name(v: Value | None, names: dict[int, str], const: Any = None) -> str:
    if v is None:
        return _fmt(const)
    return v.label or names.setdefault(id(v), f"v{len(names)}")


# ---------------------------------------------------------------- explaining a Value graph

# How the lesson's table writes each local derivative (arguments named a and b).
_LOCAL_TEXT = {
    "add": ("1", "1"), "sub": ("1", "-1"), "mul": ("{b}", "{a}"), "div": ("1/{b}", "-{out}/{b}"),
    "neg": ("-1",), "relu": ("1[{a} > 0]",), "sigmoid": ("σ({a})(1 - σ({a}))",),
    "tanh": ("1 - tanh²({a})",), "exp": ("exp({a})",), "log": ("1/{a}",),
    "softplus": ("σ({a})",), "power_const": ("{p}·{a}^{pm1}",),
}


def _expression(v: Value, names: dict[int, str], numbers: bool = False) -> str:
    """``v``'s operation on its inputs' names (or, with ``numbers``, their values)."""
    if numbers:
        ins = [_fmt(a) if float(a) >= 0 else f"({_fmt(a)})" for a in v.args]
    else:
        ins = [_name(p, names, c) for p, c in zip(v.inputs, v.args, strict=True)]
    symbol = {"add": "+", "sub": "-", "mul": "*", "div": "/"}.get(v.op)
    if symbol:
        return f"{ins[0]} {symbol} {ins[1]}"
    if v.prim is not None and v.prim.name == "power_const":
        return f"{ins[0]} ** {v.params['p']}"
    if v.op == "neg":
        return f"-{ins[0]}"
    return f"{v.op}({', '.join(ins)})"


def _local_text(v: Value, i: int, names: dict[int, str]) -> str:
    """The lesson's formula for ``d v / d input i``, in the inputs' names ("" if unknown)."""
    texts = _LOCAL_TEXT.get(v.prim.name if v.prim is not None else "")
    if texts is None or i >= len(texts):
        return ""
    ins = [_name(p, names, c) for p, c in zip(v.inputs, v.args, strict=True)]
    p = v.params.get("p", "")
    if texts[i] == "{p}·{a}^{pm1}" and p == 2:
        return f"2·{ins[0]}"
    text = texts[i].format(a=ins[0], b=ins[1] if len(ins) > 1 else "", out=_name(v, names),
                           p=p, pm1=(p - 1) if p != "" else "")
    return "" if text in ("1", "-1") else text


def explain_forward_values(root: Value, file: TextIO | None = None) -> list[dict[str, Any]]:
    """Print each node of ``root``'s graph with its operation and value, inputs first."""
    out = file or sys.stdout
    names: dict[int, str] = {}
    rows = []
    print("Forward pass: each node's value from its inputs", file=out)
    for v in topological_order(root):
        name = _name(v, names)
        if v.is_leaf:
            rows.append({"node": name, "op": "input", "value": v.data})
            print(f"  {name:>4} = {_fmt(v.data):<12} (input)", file=out)
            continue
        expr = _expression(v, names)
        rows.append({"node": name, "op": v.op, "expr": expr, "value": v.data})
        print(f"  {name:>4} = {expr:<12} = {_expression(v, names, numbers=True):<14} "
              f"= {_fmt(v.data)}", file=out)
    return rows


def explain_backward(root: Value, file: TextIO | None = None) -> list[dict[str, Any]]:
    """Run ``root.backward()`` on zeroed grads and print every step of it.

    For each node, from the output back to the inputs: its upstream gradient
    (``d root / d node``, the sum over all its uses), and for each of its
    inputs the local gradient (from the registry's VJP rule) and the
    downstream contribution ``upstream x local``.  Returns the same as rows.
    """
    out = file or sys.stdout
    root.zero_grad()
    root.backward()
    names: dict[int, str] = {}
    for v in topological_order(root):
        _name(v, names)
    rows = []
    print("Backward pass: downstream gradient = upstream gradient x local gradient", file=out)
    for v in reversed(topological_order(root)):
        if v.is_leaf:
            continue
        name = _name(v, names)
        up = v.grad
        print(f"  at {name} = {_expression(v, names)}: upstream d{_name(root, names)}/d{name} "
              f"= {_fmt(up)}", file=out)
        for i, (p, local) in enumerate(zip(v.inputs, v.local_grads(), strict=True)):
            if p is None or local is None:
                continue
            pname = _name(p, names)
            text = _local_text(v, i, names)
            text = f" = {text}" if text else ""
            down = up * local
            rows.append({"node": name, "input": pname, "upstream": up, "local": float(local),
                         "downstream": float(down)})
            local_part = f"local d{name}/d{pname}{text} = {_fmt(local)}"
            print(f"      -> {pname:<4} {local_part:<28} downstream {_fmt(up)} x {_fmt(local)} "
                  f"= {_fmt(down)}", file=out)
    leaves = [v for v in topological_order(root) if v.is_leaf]
    summary = ", ".join(f"d{_name(root, names)}/d{_name(v, names)} = {_fmt(v.grad)}"
                        for v in leaves)
    print(f"  gradients (each input's total over its paths): {summary}", file=out)
    return rows


def explain_forward(root: Value, seed: Value, file: TextIO | None = None) -> float:
    """Forward mode, printed: tangent 1 on ``seed`` (0 on the other leaves), pushed to ``root``.

    Each node's tangent is the sum, over its inputs, of local derivative x
    the input's tangent (the JVP rules of the registry).  Returns
    ``d root / d seed``; the leaves' tangents are restored afterwards.
    """
    out = file or sys.stdout
    order = topological_order(root)
    leaves = [v for v in order if v.is_leaf]
    if seed not in leaves:
        raise ValueError("seed: must be a leaf of root's graph")
    saved = [v.tangent for v in leaves]
    names: dict[int, str] = {}
    for v in order:
        _name(v, names)
    sname = _name(seed, names)
    try:
        for v in leaves:
            v.tangent = 1.0 if v is seed else None
        result = root.propagate_tangents()
        print(f"Forward mode, seed {sname} (tangent 1 on {sname}, 0 on the other inputs): "
              "tangent = sum of local x input tangent", file=out)
        for v in order:
            if v.is_leaf or v.tangent is None:
                continue
            name = _name(v, names)
            terms = []
            for i, (p, local) in enumerate(zip(v.inputs, v.local_grads(), strict=True)):
                if p is None or local is None or p.tangent is None:
                    continue
                text = _local_text(v, i, names)
                terms.append(f"{_fmt(local)}{f' ({text})' if text else ''} x {_fmt(p.tangent)}")
            print(f"  d{name}/d{sname} = {' + '.join(terms)} = {_fmt(v.tangent)}", file=out)
    finally:
        for v, t in zip(leaves, saved, strict=True):
            v.tangent = t
        root.propagate_tangents()
    return float(result)


@dataclass
class HandExercise:
    """The hand exercise's numbers: node values and the gradients of L."""

    values: dict[str, float]
    grads: dict[str, float]
    forward_grads: dict[str, float]


def hand_exercise(x: float = 2.0, w1: float = 3.0, w2: float = -1.0, b: float = 0.5,
                  verbose: bool = True, file: TextIO | None = None) -> HandExercise:
    """The lesson's hand exercise: ``L = (w2 relu(w1 x + b))^2``, worked step by step.

    Prints the forward values, the backward pass (upstream, local and
    downstream gradient at each node) and forward mode seeded on each of
    ``w1``, ``w2`` and ``b``.  With the lesson's numbers, ``L = 42.25``,
    ``dL/dw1 = 26``, ``dL/dw2 = -84.5`` and ``dL/db = 13``.
    """
    out = file if verbose else _Null()
    xs = Value(x, label="x")
    w1v, w2v, bv = Value(w1, label="w1"), Value(w2, label="w2"), Value(b, label="b")
    z1 = w1v * xs
    z1.label = "z1"
    z2 = z1 + bv
    z2.label = "z2"
    z3 = z2.relu()
    z3.label = "z3"
    z4 = w2v * z3
    z4.label = "z4"
    loss = z4 ** 2
    loss.label = "L"
    explain_forward_values(loss, file=out)
    print(file=out)
    explain_backward(loss, file=out)
    forward = {}
    for leaf in (w1v, w2v, bv):
        print(file=out)
        forward[leaf.label] = explain_forward(loss, leaf, file=out)
    values = {v.label: v.data for v in (xs, w1v, w2v, bv, z1, z2, z3, z4, loss)}
    grads = {v.label: v.grad for v in (xs, w1v, w2v, bv, z1, z2, z3, z4, loss)}
    return HandExercise(values, grads, forward)


class _Null:
    def write(self, s: str) -> int:
        return len(s)

    def flush(self) -> None:
        pass


# ---------------------------------------------------------------- training the lesson's MLP


def enable_jax_x64() -> Any:
    """Import jax with float64 enabled (the comparisons are made in float64); returns jax."""
    import jax

    jax.config.update("jax_enable_x64", True)
    return jax


def jax_mlp_grad(activation: str | None = "relu", final_activation: str | None = None) -> Any:
    """``jax.jit(jax.grad(mlp_loss))`` for the same network: the reference gradient.

    The function is :func:`~dualtape.nn.mlp_loss` itself, written with
    ``dualtape.numpy``, run on JAX arrays.
    """
    jax = enable_jax_x64()

    def loss(params: Any, xs: Any, ys: Any) -> Any:
        return mlp_loss(params, xs, ys, activation, final_activation)

    return jax.jit(jax.grad(loss))


def max_abs_diff(a: Sequence[tuple[Any, Any]], b: Sequence[tuple[Any, Any]]) -> float:
    """Largest absolute difference between two ``[(W, b), ...]`` parameter lists."""
    return float(max(np.max(np.abs(np.asarray(x) - np.asarray(y)))
                     for pa, pb in zip(a, b, strict=True) for x, y in zip(pa, pb, strict=True)))


@dataclass
class TrainingHistory:
    """What :func:`train_lesson_mlp` did, step by step.

    ``losses[k]`` is the loss before update ``k``; ``disagreement[name][k]``
    is the largest absolute difference at step ``k`` between the scalar
    engine's gradient and engine ``name``'s (``"array reverse"``,
    ``"array forward"``, ``"jax"``).
    """

    losses: list[float]
    disagreement: dict[str, list[float]] = field(default_factory=dict)
    model: MLP | None = None
    predictions: list[float] = field(default_factory=list)

    @property
    def max_disagreement(self) -> float:
        """The largest gradient disagreement over every step and engine."""
        return max((max(v) for v in self.disagreement.values() if v), default=0.0)


def train_lesson_mlp(steps: int = 100, lr: float = 0.01, seed: int = 2, *,
                     engines: Sequence[str] = ("array reverse", "array forward", "jax"),
                     activation: str = "relu", verbose: bool = False,
                     file: TextIO | None = None) -> TrainingHistory:
    """Train ``MLP(3, [4, 4, 1])`` on the lesson's data by plain SGD, checking every gradient.

    Each step: forward on the four samples with Values, loss =
    ``sum((ŷ - y)^2)``, zero the grads, ``loss.backward()``, then
    ``p.data -= lr * p.grad``.  Before the update, the same gradient is
    computed by each of ``engines`` on the array MLP holding the same weights
    (dualtape reverse mode, dualtape forward mode, ``jax.grad``) and the
    largest difference is recorded.  ``verbose`` prints the loss every 10 steps.
    """
    out = file or sys.stdout
    model = MLP(3, [4, 4, 1], activation=activation, seed=seed)
    xs, ys = np.array(LESSON_XS), np.array(LESSON_YS)
    history = TrainingHistory(losses=[], disagreement={e: [] for e in engines}, model=model)
    jgrad = None
    if "jax" in engines:
        jax = enable_jax_x64()
        jgrad = jax_mlp_grad(activation)
    for step in range(steps):
        preds = [model(x) for x in LESSON_XS]
        loss = mse_loss(preds, LESSON_YS, reduction="sum")
        model.zero_grad()
        loss.backward()
        history.losses.append(loss.data)
        if engines:
            mine = scalar_grads(model)
            array = ArrayMLP.from_scalar(model)
            for e in engines:
                if e == "array reverse":
                    other = array.grad(xs, ys, "reverse")
                elif e == "array forward":
                    other = array.grad(xs, ys, "forward")
                elif e == "jax":
                    jp = [(jax.numpy.asarray(W), jax.numpy.asarray(b)) for W, b in array.params]
                    other = [(np.asarray(gW), np.asarray(gb)) for gW, gb in
                             jgrad(jp, jax.numpy.asarray(xs), jax.numpy.asarray(ys))]
                else:
                    raise ValueError(f"engines: unknown engine {e!r}; valid: 'array reverse', "
                                     "'array forward', 'jax'")
                history.disagreement[e].append(max_abs_diff(mine, other))
        if verbose and (step % 10 == 0 or step == steps - 1):
            print(f"step {step:3d} | loss {loss.data:.6f}", file=out)
        for p in model.parameters():
            p.data -= lr * p.grad
    history.predictions = [float(model(x).data) for x in LESSON_XS]
    return history


# ---------------------------------------------------------------- the graph exercise


def exercise_network(x: Sequence[float] = (1.0, -2.0), y: float = 1.0,
                     seed: int = 0) -> tuple[Value, MLP]:
    """The lesson's graph exercise on Values, every node labelled; ``backward`` already run.

    ``h1 = ReLU(W1 x + b1)`` (W1: 3x2), ``h2 = ReLU(W2 h1 + b2)`` (W2: 2x3),
    ``ŷ = W3 h2 + b3`` (W3: 1x2), ``L = (ŷ - y)^2``: 3x2 + 3 + 2x3 + 2 + 1x2 + 1
    = 20 parameters.  Node names: ``W1[j,i]``, ``b1[j]``, ``x[i]``,
    ``W1x[j,i]`` (a product), ``s1[j,i]`` (a partial sum), ``z1[j]``
    (pre-activation), ``h1[j]``, ``ŷ``, ``ŷ-y``, ``L``.  Returns ``(L, model)``.
    """
    if len(x) != 2:
        raise ValueError(f"x: the exercise's input is in R^2, got {len(x)} values")
    model = MLP(2, [3, 2, 1], activation="relu", seed=seed)
    for li, layer in enumerate(model.layers, start=1):
        for j, n in enumerate(layer.neurons):
            for i, w in enumerate(n.w):
                w.label = f"W{li}[{j},{i}]"
            n.b.label = f"b{li}[{j}]"
    h: list[Value] = [Value(float(v), label=f"x[{i}]") for i, v in enumerate(x)]
    for li, layer in enumerate(model.layers, start=1):
        nxt = []
        last = li == len(model.layers)
        for j, n in enumerate(layer.neurons):
            acc = n.b
            for i, (w, hi) in enumerate(zip(n.w, h, strict=True)):
                prod = w * hi
                prod.label = f"W{li}h[{j},{i}]" if li > 1 else f"W1x[{j},{i}]"
                acc = acc + prod
                acc.label = f"s{li}[{j},{i}]"
            acc.label = "ŷ" if last else f"z{li}[{j}]"
            if not last:
                acc = acc.relu()
                acc.label = f"h{li}[{j}]"
            nxt.append(acc)
        h = nxt
    diff = h[0] - y
    diff.label = "ŷ-y"
    loss = diff ** 2
    loss.label = "L"
    model.zero_grad()
    loss.backward()
    return loss, model


def draw_exercise_graph(path: str | Path = "exercise_graph.png", *, x: Sequence[float] = (1.0, -2.0),
                        y: float = 1.0, seed: int = 0, missing: str = "raise") -> Path:
    """Draw the exercise network's Value graph (op, value, gradient on every node): one call."""
    loss, model = exercise_network(x, y, seed)
    title = f"3-layer ReLU MLP, MSE loss: {model.num_parameters()} parameters"
    return draw(loss, path, missing=missing, title=title, rankdir="LR")


def exercise_loss(W1: Any, b1: Any, W2: Any, b2: Any, W3: Any, b3: Any, x: Any, y: Any) -> Any:
    """The exercise network on arrays: ``(W3 relu(W2 relu(W1 x + b1) + b2) + b3 - y)^2``."""
    h1 = dnp.relu(dnp.add(dnp.matmul(W1, x), b1))
    h2 = dnp.relu(dnp.add(dnp.matmul(W2, h1), b2))
    yhat = dnp.add(dnp.matmul(W3, h2), b3)
    d = dnp.subtract(yhat, y)
    return dnp.sum(dnp.multiply(d, d))


def exercise_tape(x: Sequence[float] = (1.0, -2.0), y: float = 1.0, seed: int = 0) -> TapeTrace:
    """The exercise network on arrays, recorded on a tape with values and cotangents.

    Same weights as :func:`exercise_network` (same seed); the tape's inputs
    are ``W1, b1, W2, b2, W3, b3``.
    """
    params = scalar_params(MLP(2, [3, 2, 1], activation="relu", seed=seed))
    flat = [a for wb in params for a in wb]
    xa, ya = np.asarray(x, dtype=float), np.asarray([y], dtype=float)
    return trace(lambda *p: exercise_loss(*p, xa, ya), *flat,
                 names=["W1", "b1", "W2", "b2", "W3", "b3"])


def draw_exercise_tape(path: str | Path = "exercise_tape.png", *, x: Sequence[float] = (1.0, -2.0),
                       y: float = 1.0, seed: int = 0, missing: str = "raise") -> Path:
    """Draw the exercise network's reverse-mode tape (primitive, value, cotangent per entry)."""
    return draw(exercise_tape(x, y, seed), path, missing=missing,
                title="the exercise network on arrays: its reverse-mode tape", rankdir="TB")


# ---------------------------------------------------------------- cross-entropy


def cross_entropy_table(zs: Sequence[float] = (-1000.0, -50.0, -40.0, -5.0, 0.0, 5.0, 40.0, 50.0,
                                               1000.0),
                        ys: Sequence[float] = (0.0, 1.0)) -> list[dict[str, float]]:
    """Textbook vs stable binary cross-entropy, and the gradient, for each ``(z, y)``.

    Columns: ``naive`` = ``-[y log σ(z) + (1-y) log(1-σ(z))]`` on Values
    (``inf`` or ``nan`` once σ(z) rounds to 0 or 1), ``naive_grad`` its
    gradient, ``stable`` = ``z.cross_entropy(y)``, ``grad`` its gradient from
    ``backward``, and ``sigmoid_minus_y`` = σ(z) - y, the textbook gradient.
    """
    rows = []
    with np.errstate(all="ignore"):
        for y in ys:
            for z in zs:
                zn = Value(z)
                naive = binary_cross_entropy(zn.sigmoid(), y)
                naive.backward()
                zv = Value(z)
                stable = zv.cross_entropy(y)
                stable.backward()
                arr = float(binary_cross_entropy_with_logits(np.array([z]), np.array([y])))
                rows.append({"z": z, "y": y, "naive": naive.data, "naive_grad": zn.grad,
                             "stable": stable.data, "array": arr, "grad": zv.grad,
                             "sigmoid_minus_y": Value(z).sigmoid().data - y})
    return rows


def print_cross_entropy_table(rows: list[dict[str, float]] | None = None,
                              file: TextIO | None = None) -> None:
    """Print :func:`cross_entropy_table` as a Markdown table."""
    out = file or sys.stdout
    rows = cross_entropy_table() if rows is None else rows
    print("| y | z | textbook L | its dL/dz | stable L | stable dL/dz | σ(z) - y |", file=out)
    print("|---|---|---|---|---|---|---|", file=out)
    for r in rows:
        cells = [r["naive"], r["naive_grad"], r["stable"], r["grad"], r["sigmoid_minus_y"]]
        text = " | ".join("nan" if math.isnan(c) else _fmt(c) for c in cells)
        print(f"| {_fmt(r['y'])} | {_fmt(r['z'])} | {text} |", file=out)


# ---------------------------------------------------------------- vanishing gradients

#: Weight initialisations of :func:`init_deep_mlp`.
INITS = ("default", "xavier", "he", "small")
#: ``"plain"``: ``h = act(W h + b)``; ``"residual"``: ``h = h + act(W h + b)``.
ARCHITECTURES = ("plain", "residual")


def init_deep_mlp(rng: np.random.Generator, depth: int = 10, width: int = 64,
                  init: str = "default") -> list[tuple[np.ndarray, np.ndarray]]:
    """``depth`` square layers ``(W, b)`` of size ``width``.

    ``init``: ``"default"`` is PyTorch's ``nn.Linear`` (W and b uniform in
    ±1/sqrt(fan_in)); ``"xavier"`` is Glorot normal (std sqrt(2/(fan_in +
    fan_out)), b = 0); ``"he"`` is He normal (std sqrt(2/fan_in), b = 0);
    ``"small"`` is normal with std 0.01, b = 0.
    """
    if init not in INITS:
        raise ValueError(f"init: expected one of {', '.join(INITS)}, got {init!r}")
    params = []
    for _ in range(depth):
        if init == "default":
            bound = 1.0 / math.sqrt(width)
            W = rng.uniform(-bound, bound, (width, width))
            b = rng.uniform(-bound, bound, width)
        else:
            std = {"xavier": math.sqrt(2.0 / (2 * width)), "he": math.sqrt(2.0 / width),
                   "small": 0.01}[init]
            W = rng.normal(0.0, std, (width, width))
            b = np.zeros(width)
        params.append((W, b))
    return params


def deep_mlp_loss(params: Any, x: Any, y: Any, activation: str | None = None,
                  architecture: str = "plain") -> Any:
    """The lesson's deep network and loss: ``mean((net(x) - y)^2)``.

    Every layer but the last is ``h = act(h W^T + b)`` (``"plain"``) or
    ``h = h + act(h W^T + b)`` (``"residual"``); the last is linear.  With
    ``activation=None`` and ``"plain"`` it is the lesson's
    ``nn.Sequential(*[nn.Linear(64, 64) for _ in range(10)])``.  Written with
    ``dualtape.numpy``: both dualtape engines and JAX differentiate it.
    """
    if architecture not in ARCHITECTURES:
        raise ValueError(f"architecture: expected one of {', '.join(ARCHITECTURES)}, "
                         f"got {architecture!r}")
    from .nn import activation_fn

    act = activation_fn(activation)
    h = x
    for i, (W, b) in enumerate(params):
        z = dnp.add(dnp.matmul(h, dnp.transpose(W)), b)
        if i == len(params) - 1:
            h = z
        elif architecture == "residual":
            h = dnp.add(h, act(z))
        else:
            h = act(z)
    d = dnp.subtract(h, y)
    return dnp.mean(dnp.multiply(d, d))


def layer_grad_norms(params: Any, x: Any, y: Any, activation: str | None = None,
                     architecture: str = "plain", engine: str = "reverse") -> list[float]:
    """``||dL/dW_l||`` (Frobenius) for each layer ``l`` of :func:`deep_mlp_loss`, input side first.

    ``engine``: ``"reverse"`` (``dt.grad``), ``"forward"`` (``dt.jacfwd``,
    one vector-mode pass over every parameter: slow for wide layers) or
    ``"jax"`` (``jax.grad`` on the same function).
    """
    def f(p: Any) -> Any:
        return deep_mlp_loss(p, x, y, activation, architecture)

    if engine == "reverse":
        from .api import grad

        g = grad(f)(params)
    elif engine == "forward":
        from .api import jacfwd

        g = jacfwd(f)(params)
    elif engine == "jax":
        jax = enable_jax_x64()
        jnp = jax.numpy
        jp = [(jnp.asarray(W), jnp.asarray(b)) for W, b in params]
        xa, ya = jnp.asarray(x), jnp.asarray(y)
        g = jax.grad(lambda p: deep_mlp_loss(p, xa, ya, activation, architecture))(jp)
    else:
        raise ValueError(f"engine: expected 'reverse', 'forward' or 'jax', got {engine!r}")
    return [float(np.linalg.norm(np.asarray(gW))) for gW, _ in g]
