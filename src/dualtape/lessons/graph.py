"""Computation graphs drawn: Graphviz DOT text for a Value graph or a recorded tape.

Two kinds of graph, one output format:

* a :class:`~dualtape.Value` graph -- every node reachable from the output,
  labelled with its name, operation, value and gradient (and tangent, when
  forward mode was seeded);
* a reverse-mode tape -- :func:`trace` records a function of arrays the way
  ``dt.grad`` does, keeps every intermediate value and runs the backward pass
  with the registry's VJP rules, so each tape entry is labelled with its
  primitive, its value and its cotangent (the gradient of the output with
  respect to it).  A bare :class:`~dualtape.Tape` can be drawn too; it holds
  only what the VJP rules need, so the values it does not keep are shown as
  shapes.

:func:`to_dot` returns the DOT text.  :func:`draw` writes it to ``path`` with
the suffix ``.dot`` and, when the Graphviz ``dot`` binary is on the ``PATH``,
renders ``path`` as PNG or SVG; without it, it raises
:class:`GraphvizNotFound` naming the DOT file it wrote and how to render it
(pass ``missing="warn"`` to get a warning and the DOT file's path instead).
"""

from __future__ import annotations

import shutil
import sys
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..argchecks import is_count
from ..ops import Meta, shape_of
from ..reverse import Tape, TapeValue
from ..reverse import backward as reverse_pass
from ..tree import flatten, unflatten
from .value import Value, topological_order

__all__ = ["GraphvizNotFound", "TapeTrace", "draw", "graphviz_available", "to_dot", "trace"]

FORMATS = ("png", "svg", "pdf")


class GraphvizNotFound(RuntimeError):
    """The ``dot`` binary is not installed; the DOT file was written anyway."""

    def __init__(self, dot_path: Path, target: Path, fmt: str) -> None:
        self.dot_path = dot_path
        super().__init__(
            f"Graphviz's 'dot' program was not found on PATH, so {target} was not rendered. "
            f"The graph was written as DOT text to {dot_path}. Install Graphviz "
            "(apt-get install graphviz, brew install graphviz or conda install graphviz) and "
            f"run: dot -T{fmt} {dot_path} -o {target}")


def graphviz_available() -> bool:
    """Whether the Graphviz ``dot`` binary is on ``PATH``."""
    return shutil.which("dot") is not None


# ---------------------------------------------------------------- number formatting


def _num(x: Any, digits: int) -> str:
    """A short text for a float or an array (``shape`` plus a few entries)."""
    if x is None:
        return "?"
    if type(x) is Meta:
        return f"shape {x.shape}"
    if isinstance(x, (float, int, np.floating, np.integer)):
        return f"{float(x) + 0.0:.{digits}g}"  # + 0.0 shows -0.0 as 0
    a = np.asarray(x, dtype=float)
    if a.ndim == 0:
        return f"{float(a) + 0.0:.{digits}g}"
    flat = a.ravel() + 0.0
    head = ", ".join(f"{v:.{digits}g}" for v in flat[:4])
    more = ", …" if flat.size > 4 else ""
    return f"{list(a.shape)} [{head}{more}]"


def _esc(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _label(lines: Sequence[str]) -> str:
    return "\\n".join(_esc(line) for line in lines)


# ---------------------------------------------------------------- tape traces


@dataclass
class TapeTrace:
    """A function recorded on a tape, with every entry's value and cotangent.

    ``values[i]`` and ``grads[i]`` belong to tape entry ``i``; ``labels[i]`` is
    the name of input ``i`` (inputs are the first entries); ``output`` is the
    tape index of the (scalar) output.
    """

    tape: Tape
    values: list[Any]
    grads: list[Any] | None
    labels: dict[int, str] = field(default_factory=dict)
    output: int | None = None

    @property
    def value(self) -> Any:
        """The function's output value."""
        return None if self.output is None else self.values[self.output]

    def grad(self, i: int) -> Any:
        """The cotangent of tape entry (or input) ``i``."""
        return None if self.grads is None else self.grads[i]


def trace(f: Callable[..., Any], *args: Any, names: Sequence[str] | None = None,
          backward: bool = True) -> TapeTrace:
    """Record ``f(*args)`` on a reverse-mode tape, keeping values and cotangents.

    ``args`` are floats or arrays (or tuples, lists and dicts of them); every
    leaf is an input of the tape, named by ``names`` (default ``x0, x1, ...``).
    With ``backward`` and a scalar output, the backward pass fills ``grads``.
    """
    from ..api import new_level

    leaves, td = flatten(args)
    if names is not None and len(names) != len(leaves):
        raise ValueError(f"names: got {len(names)} names for {len(leaves)} inputs")
    tape = Tape(new_level(), keep_values=True)
    inputs = [tape.leaf(leaf if type(leaf) is float else np.asarray(leaf, dtype=float))
              for leaf in leaves]
    out = f(*unflatten(td, inputs))
    values = tape.values
    assert values is not None
    labels = {i: (names[i] if names is not None else f"x{i}") for i in range(len(leaves))}
    if type(out) is not TapeValue or out.tape is not tape:
        return TapeTrace(tape, values, None, labels, None)
    values[out.index] = out.value
    grads = None
    if backward and shape_of(out.value) == ():
        grads = reverse_pass(tape, [(out.index, 1.0)], keep=True)
    return TapeTrace(tape, values, grads, labels, out.index)


# ---------------------------------------------------------------- DOT text


def _title(title: str | None) -> list[str]:
    if not title:
        return []
    return [f'  label="{_esc(title)}"; labelloc=t; fontname="Helvetica"; fontsize=14;']


def _value_dot(root: Value, digits: int, title: str | None, rankdir: str) -> str:
    nodes = topological_order(root)
    ids = {id(v): f"v{k}" for k, v in enumerate(nodes)}
    lines = [f'digraph "{_esc(title or "value graph")}" {{', f"  rankdir={rankdir};", *_title(title),
             '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];',
             '  edge [fontname="Helvetica", fontsize=9, color="#555555"];']
    consts = 0
    for v in nodes:
        name = ids[id(v)]
        label = [v.label or name]
        if v.is_leaf:
            label.append("leaf")
            fill = "#dbe9f6"
        else:
            label.append(v.op)
            fill = "#f4f4f4"
        label.append(f"value = {_num(v.data, digits)}")
        label.append(f"grad = {_num(v.grad, digits)}")
        if v.tangent is not None:
            label.append(f"tangent = {_num(v.tangent, digits)}")
        if v is root:
            fill = "#fde2c8"
        lines.append(f'  {name} [label="{_label(label)}", fillcolor="{fill}"];')
        if v.is_leaf:
            continue
        pa, pb = v.operands
        args = v.args
        ordered = v.prim is not None and v.prim.name in ("sub", "div", "power")
        for pos, parent in enumerate((pa, pb)[:len(args)]):
            tag = f' [label="{("lhs", "rhs")[pos]}"]' if ordered else ""
            if parent is not None:
                lines.append(f"  {ids[id(parent)]} -> {name}{tag};")
            else:
                c = f"c{consts}"
                consts += 1
                lines.append(f'  {c} [label="{_esc(_num(args[pos], digits))}", shape=plaintext, '
                             'style="", fontcolor="#777777"];')
                lines.append(f"  {c} -> {name}{tag};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _tape_dot(tr: TapeTrace, digits: int, title: str | None, rankdir: str) -> str:
    tape = tr.tape
    lines = [f'digraph "{_esc(title or "tape")}" {{', f"  rankdir={rankdir};", *_title(title),
             '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];',
             '  edge [fontname="Helvetica", fontsize=9, color="#555555"];']
    for i in range(len(tape.entries)):
        entry = tape.entry(i)
        value = tr.values[i] if i < len(tr.values) else None
        if value is None and entry is not None and entry.ans is not None:
            value = entry.ans
        if entry is None:
            label = [tr.labels.get(i, f"x{i}"), "input"]
            fill = "#dbe9f6"
        else:
            prim = entry.prim
            shown = {k: v for k, v in entry.params.items() if not isinstance(v, np.ndarray)}
            extra = ", ".join(f"{k}={v}" for k, v in shown.items())
            label = [f"#{i}", f"{prim.name}({extra})" if extra else prim.name]
            fill = "#f4f4f4"
        label.append(f"value = {_num(value, digits)}")
        label.append(f"grad = {_num(tr.grad(i), digits) if tr.grads is not None else '-'}")
        if i == tr.output:
            fill = "#fde2c8"
        lines.append(f'  t{i} [label="{_label(label)}", fillcolor="{fill}"];')
        if entry is not None:
            for pos, parent in enumerate(entry.parents):
                if parent is not None:
                    lines.append(f'  t{parent} -> t{i} [label="{pos}"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_dot(graph: Value | Tape | TapeTrace, *, title: str | None = None, digits: int = 4,
           rankdir: str = "LR") -> str:
    """Graphviz DOT text of a Value graph, a :class:`TapeTrace` or a bare Tape.

    Every node is labelled with its operation, its value and its gradient
    (for a Value graph, the ``.grad`` left by ``backward``; for a trace, the
    cotangent from its backward pass).  ``digits`` sets the significant
    digits shown, ``rankdir`` the direction (``"LR"`` or ``"TB"``).
    """
    if rankdir not in ("LR", "TB", "RL", "BT"):
        raise ValueError(f"rankdir: expected LR, TB, RL or BT, got {rankdir!r}")
    if not is_count(digits, 1):
        raise ValueError(f"digits: expected a positive int, got {digits!r}")
    if isinstance(graph, Value):
        return _value_dot(graph, digits, title, rankdir)
    if isinstance(graph, TapeTrace):
        return _tape_dot(graph, digits, title, rankdir)
    if isinstance(graph, Tape):
        values = [None if e is None else e.ans for e in map(graph.entry, range(len(graph)))]
        return _tape_dot(TapeTrace(graph, values, None), digits, title, rankdir)
    raise TypeError(f"to_dot: expected a Value, a Tape or a TapeTrace, got {type(graph).__name__}")


_PACKAGE = str(Path(__file__).resolve().parents[1])


def _outside_dualtape() -> int:
    """The ``stacklevel`` of the caller's first frame outside dualtape (a warning then names
    the user's line, however many lesson helpers lie between)."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    return level


def draw(graph: Value | Tape | TapeTrace | str, path: str | Path, format: str | None = None,
         *, missing: str = "raise", **dot_options: Any) -> Path:
    """Write ``graph`` as DOT next to ``path`` and render ``path`` with Graphviz.

    ``format`` is ``"png"``, ``"svg"`` or ``"pdf"`` (default: ``path``'s
    suffix, else PNG).  The DOT text always goes to ``path`` with suffix
    ``.dot``.  Without the ``dot`` binary: ``missing="raise"`` (default)
    raises :class:`GraphvizNotFound` saying where the DOT file is and how to
    render it; ``missing="warn"`` warns the same and returns the DOT file.
    Returns the rendered file.  ``graph`` may also be DOT text already.
    """
    path = Path(path)
    fmt = (format or path.suffix.lstrip(".") or "png").lower()
    if fmt not in FORMATS:
        raise ValueError(f"format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    if missing not in ("raise", "warn"):
        raise ValueError(f"missing: expected 'raise' or 'warn', got {missing!r}")
    if path.suffix.lstrip(".").lower() != fmt:
        path = path.with_name(path.name + f".{fmt}") if path.suffix == "" else path.with_suffix(
            f".{fmt}")
    text = graph if isinstance(graph, str) else to_dot(graph, **dot_options)
    path.parent.mkdir(parents=True, exist_ok=True)
    dot_path = path.with_suffix(".dot")
    from ..measure.files import write_atomic  # only when drawing: keeps the import light

    write_atomic(dot_path, text)
    exe = shutil.which("dot")
    if exe is None:
        err = GraphvizNotFound(dot_path, path, fmt)
        if missing == "raise":
            raise err
        warnings.warn(str(err), stacklevel=_outside_dualtape())
        return dot_path
    import subprocess  # only when rendering: keeps `import dualtape` light

    def render(tmp: Path) -> None:  # into write_atomic's own temporary file, fsync'ed, replaced
        result = subprocess.run([exe, f"-T{fmt}", str(dot_path), "-o", str(tmp)],
                                capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"dot failed on {dot_path} (exit {result.returncode}): "
                               f"{result.stderr.strip()}")

    write_atomic(path, render)
    return path

