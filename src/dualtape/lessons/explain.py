"""Explaining a :class:`~dualtape.Value` graph step by step, and the lesson's hand exercise.

* :func:`hand_exercise` -- the lesson's hand computation (x = 2, w1 = 3,
  w2 = -1, b = 0.5; L = (w2 relu(w1 x + b))^2) printed step by step: forward
  values, then the backward pass node by node (upstream gradient x local
  gradient = downstream gradient), then forward mode, one seed at a time.
* :func:`explain_backward`, :func:`explain_forward` and
  :func:`explain_forward_values` do the same for any Value graph.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, TextIO

from .value import Value, topological_order

__all__ = ["HandExercise", "explain_backward", "explain_forward", "explain_forward_values",
           "hand_exercise"]


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

