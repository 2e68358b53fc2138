"""``Value``: a micrograd-compatible scalar that runs in both modes, on the one registry.

A :class:`Value` wraps one Python float.  Every operation on Values evaluates the
registry primitive's implementation and records, on the new node, the primitive,
its parents and the argument values that the primitive's rules read.  Then:

* **reverse mode** -- :meth:`Value.backward` collects the graph below the node with
  an explicit stack (no recursion, so a chain 100,000 nodes deep is fine), orders
  it by creation (a node is always created after its parents) and runs one loop
  that calls each primitive's VJP rules, ``prim.vjp[i](g, ans, *args, **params)``;
* **forward mode** -- give any leaf a ``tangent`` (``Value(2.0, tangent=1.0)`` or
  ``x.tangent = 1.0`` before computing) and every node computed from it carries
  ``tangent``, the directional derivative, computed by the primitives' JVP rules.
  :meth:`Value.propagate_tangents` recomputes them for a graph built earlier.

No rule lives here: the derivative of ``relu``, ``tanh`` or ``*`` is the one in
``dualtape.ops``, the same one that ``dt.grad`` and ``dt.jvp`` use.

Gradients accumulate: each call of ``backward`` adds the gradient of that call to
``.grad`` of every node it reaches (a parameter used twice gets the sum of its
paths; calling ``backward`` twice adds twice).  :meth:`Value.zero_grad` (or
``dualtape.nn.Module.zero_grad``) resets them.

>>> from dualtape import Value
>>> x = Value(2.0, label="x")
>>> y = (x * x + x).relu()
>>> y.backward()
>>> x.grad
5.0
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from operator import attrgetter
from typing import Any

from . import ops as _ops
from . import registry as _registry
from .registry import Primitive, primitives

__all__ = ["Value", "topological_order", "zero_grad"]

_P = primitives()
_ADD: Primitive = _P["add"]
_SUB: Primitive = _P["sub"]
_MUL: Primitive = _P["mul"]
_DIV: Primitive = _P["div"]
_NEG: Primitive = _P["neg"]
_POW: Primitive = _P["power"]
_POWC: Primitive = _P["power_const"]
_RELU: Primitive = _P["relu"]
_SIGMOID: Primitive = _P["sigmoid"]
_TANH: Primitive = _P["tanh"]
_EXP: Primitive = _P["exp"]
_LOG: Primitive = _P["log"]
_SOFTPLUS: Primitive = _P["softplus"]
_SQRT: Primitive = _P["sqrt"]
_ABS: Primitive = _P["abs"]

_add = _ADD.impl
_mul = _MUL.impl
_relu = _RELU.impl

# Sentinels stored in ``_b`` (the second argument's value) for one-argument nodes.
_UNARY = object()  # call rules as rule(g, ans, a)
_PARAMS = object()  # call rules as rule(g, ans, a, **params)

_next_id = itertools.count().__next__
_new = object.__new__
_by_id = attrgetter("_id")

# Display names of the primitives, as micrograd's ``_op`` spells them.
_SYMBOLS = {"add": "+", "sub": "-", "mul": "*", "div": "/", "neg": "neg", "power": "**",
            "relu": "ReLU", "sigmoid": "σ"}

Number = float | int


def _count(prim: Primitive, ans: Any, args: tuple, params: dict) -> None:
    """Tell an active ``dt.count()`` about one primitive applied to plain floats."""
    _registry.counting.record(prim, ans, args, params)


def _float(x: Any, what: str) -> float:
    if isinstance(x, (bool, str, bytes)) or not hasattr(x, "__float__"):
        raise TypeError(f"{what}: expected a real number or a Value, got {type(x).__name__}")
    if getattr(x, "shape", ()) not in ((), None):
        raise TypeError(f"{what}: Value holds one scalar, got an array of shape {x.shape}; "
                        "use dualtape.numpy (dt.grad / dt.jvp) for arrays")
    return float(x)


class Value:
    """A scalar with a gradient (reverse mode) and a tangent (forward mode).

    Compatible with micrograd's ``Value``: ``data``, ``grad``, ``label``, the
    operators ``+ - * / **`` (and their reflected forms), ``relu()``,
    ``sigmoid()``, ``tanh()``, ``exp()``, ``log()``, ``backward()``, and the
    graph attributes ``_prev`` (set of parents) and ``_op`` (operation symbol)
    that micrograd's graph drawing reads.

    Args:
        data: the value (converted to ``float``).
        _children, _op: accepted for micrograd's signature; a Value's graph
            is built by its operators, so ``_children`` must be empty.
        label: a name shown by ``repr`` and in drawn graphs.
        tangent: forward-mode seed (``None`` means zero and is cheapest).
    """

    __slots__ = ("data", "grad", "tangent", "label", "_prim", "_a", "_b", "_pa", "_pb",
                 "_params", "_id", "_g", "__weakref__")

    def __init__(self, data: Any, _children: tuple = (), _op: str = "", label: str = "",
                 tangent: Any = None) -> None:
        if _children:
            raise ValueError("Value: a graph is built by applying operators to Values; "
                             "construct leaves as Value(data, label=...) only")
        self.data = data if type(data) is float else _float(data, "data")
        self.grad = 0.0
        self.tangent = None if tangent is None else _float(tangent, "tangent")
        self.label = label
        self._prim = None
        self._pa = None
        self._pb = None
        self._id = _next_id()

    # ------------------------------------------------------------ building nodes

    def _node1(self, prim: Primitive, params: dict | None = None) -> Value:
        """Apply a one-argument primitive to ``self``."""
        a = self.data
        out = _new(Value)
        if params is None:
            ans = prim.impl(a)
            out._b = _UNARY
        else:
            ans = prim.impl(a, **params)
            out._b = _PARAMS
            out._params = params
        if type(ans) is not float:
            ans = float(ans)
        out.data = ans
        out.grad = 0.0
        out.label = ""
        out._prim = prim
        out._a = a
        out._pa = self
        out._pb = None
        out._id = _next_id()
        t = self.tangent
        out.tangent = None if t is None else (
            prim.jvp[0](t, ans, a) if params is None else prim.jvp[0](t, ans, a, **params))
        if _registry.counting is not None:
            _count(prim, ans, (a,), params or {})
        return out

    def _node2(self, other: Any, prim: Primitive, reflected: bool = False) -> Value:
        """Apply a two-argument primitive to ``(self, other)`` (``(other, self)`` if reflected)."""
        if type(other) is Value:
            pa, pb = (other, self) if reflected else (self, other)
        else:
            c = _float(other, f"operand of {prim.name}")
            pa, pb = (None, self) if reflected else (self, None)
            other = c
        a = pa.data if pa is not None else other
        b = pb.data if pb is not None else other
        ans = prim.impl(a, b)
        if type(ans) is not float:
            ans = float(ans)
        out = _new(Value)
        out.data = ans
        out.grad = 0.0
        out.label = ""
        out._prim = prim
        out._a = a
        out._b = b
        out._pa = pa
        out._pb = pb
        out._id = _next_id()
        ta = pa.tangent if pa is not None else None
        tb = pb.tangent if pb is not None else None
        out.tangent = None if ta is None and tb is None else _tangent2(prim, ta, tb, ans, a, b)
        if _registry.counting is not None:
            _count(prim, ans, (a, b), {})
        return out

    # The hot operators (add, mul, relu) are written out in full: one call less each.

    def __add__(self, other: Any) -> Value:
        if type(other) is not Value:
            return self._node2(other, _ADD)
        out = _new(Value)
        out.data = _add(a := self.data, b := other.data)
        out.grad = 0.0
        out.label = ""
        out._prim = _ADD
        out._a = a
        out._b = b
        out._pa = self
        out._pb = other
        out._id = _next_id()
        if self.tangent is None and other.tangent is None:
            out.tangent = None
        else:
            out.tangent = _tangent2(_ADD, self.tangent, other.tangent, out.data, a, b)
        if _registry.counting is not None:
            _count(_ADD, out.data, (a, b), {})
        return out

    def __mul__(self, other: Any) -> Value:
        if type(other) is not Value:
            return self._node2(other, _MUL)
        out = _new(Value)
        out.data = _mul(a := self.data, b := other.data)
        out.grad = 0.0
        out.label = ""
        out._prim = _MUL
        out._a = a
        out._b = b
        out._pa = self
        out._pb = other
        out._id = _next_id()
        if self.tangent is None and other.tangent is None:
            out.tangent = None
        else:
            out.tangent = _tangent2(_MUL, self.tangent, other.tangent, out.data, a, b)
        if _registry.counting is not None:
            _count(_MUL, out.data, (a, b), {})
        return out

    def relu(self) -> Value:
        """``max(x, 0)``; its slope is 1 where ``x > 0`` and 0 elsewhere (also at 0)."""
        out = _new(Value)
        out.data = ans = _relu(a := self.data)
        out.grad = 0.0
        out.label = ""
        out._prim = _RELU
        out._a = a
        out._b = _UNARY
        out._pa = self
        out._pb = None
        out._id = _next_id()
        t = self.tangent
        out.tangent = None if t is None else _RELU.jvp[0](t, ans, a)
        if _registry.counting is not None:
            _count(_RELU, ans, (a,), {})
        return out

    def __radd__(self, other: Any) -> Value:
        return self._node2(other, _ADD, reflected=True)

    def __rmul__(self, other: Any) -> Value:
        return self._node2(other, _MUL, reflected=True)

    def __sub__(self, other: Any) -> Value:
        return self._node2(other, _SUB)

    def __rsub__(self, other: Any) -> Value:
        return self._node2(other, _SUB, reflected=True)

    def __truediv__(self, other: Any) -> Value:
        return self._node2(other, _DIV)

    def __rtruediv__(self, other: Any) -> Value:
        return self._node2(other, _DIV, reflected=True)

    def __pow__(self, other: Any) -> Value:
        if type(other) is Value:
            return self._node2(other, _POW)
        if isinstance(other, bool) or not isinstance(other, (int, float)):
            raise TypeError(f"Value ** {type(other).__name__}: the exponent must be a "
                            "number or a Value")
        return self._node1(_POWC, {"p": other})

    def __rpow__(self, other: Any) -> Value:
        return self._node2(other, _POW, reflected=True)

    def __neg__(self) -> Value:
        return self._node1(_NEG)

    def __pos__(self) -> Value:
        return self

    def sigmoid(self) -> Value:
        """The logistic function ``1 / (1 + exp(-x))``, without overflow for any ``x``."""
        return self._node1(_SIGMOID)

    def tanh(self) -> Value:
        """Hyperbolic tangent."""
        return self._node1(_TANH)

    def exp(self) -> Value:
        """``e ** x``."""
        return self._node1(_EXP)

    def log(self) -> Value:
        """Natural logarithm."""
        return self._node1(_LOG)

    def softplus(self) -> Value:
        """``log(1 + exp(x))``, computed without overflow; its slope is ``sigmoid(x)``."""
        return self._node1(_SOFTPLUS)

    def sqrt(self) -> Value:
        """Square root."""
        return self._node1(_SQRT)

    def __abs__(self) -> Value:
        return self._node1(_ABS)

    def log_sigmoid(self) -> Value:
        """``log(sigmoid(x)) = -softplus(-x)``: finite for every finite ``x``."""
        return -((-self).softplus())

    def cross_entropy(self, y: Any) -> Value:
        """Binary cross-entropy of the logit ``self`` (``z``) against the label ``y``.

        ``L = -[y log(sigmoid(z)) + (1 - y) log(1 - sigmoid(z))]``, computed as
        ``y softplus(-z) + (1 - y) softplus(z)`` (since ``log sigmoid(z) =
        -softplus(-z)``): no ``log(0)``, no overflow and no cancellation for any
        finite ``z`` (|z| = 1000 included), and its gradient is the textbook
        ``dL/dz = sigmoid(z) - y``.  ``y`` is a number in [0, 1] (or a Value).
        ``self`` is the *logit*, the value before the sigmoid.
        """
        return (-self).softplus() * y + self.softplus() * (1.0 - y)

    # ------------------------------------------------------------ reverse mode

    def backward(self, gradient: float = 1.0) -> None:
        """Add ``d self / d node`` (times ``gradient``) to ``.grad`` of every node below.

        The graph is collected with an explicit stack and swept once in reverse
        creation order, calling the registry's VJP rules; there is no recursion,
        so any depth works.
        """
        nodes = _collect(self)
        for v in nodes:
            v._g = 0.0
        self._g = gradient
        nodes.sort(key=_by_id, reverse=True)
        for v in nodes:
            g = v._g
            v.grad += g
            prim = v._prim
            if prim is None:
                continue
            rules = prim.vjp
            b = v._b
            if b is _UNARY:
                v._pa._g += rules[0](g, v.data, v._a)
            elif b is _PARAMS:
                v._pa._g += rules[0](g, v.data, v._a, **v._params)
            else:
                p = v._pa
                if p is not None:
                    p._g += rules[0](g, v.data, v._a, b)
                p = v._pb
                if p is not None:
                    p._g += rules[1](g, v.data, v._a, b)

    def zero_grad(self) -> None:
        """Set ``.grad`` to 0 on this node and every node of its graph."""
        for v in _collect(self):
            v.grad = 0.0

    # ------------------------------------------------------------ forward mode

    def propagate_tangents(self) -> float:
        """Recompute ``tangent`` on every node of this graph from its leaves' tangents.

        For a graph built before the seeds were set: set ``leaf.tangent`` on any
        leaves, call this on the output, then read ``node.tangent`` anywhere.
        Returns this node's tangent (0.0 if no leaf below has one).
        """
        nodes = _collect(self)
        nodes.sort(key=_by_id)
        for v in nodes:
            prim = v._prim
            if prim is None:
                continue
            b = v._b
            ta = v._pa.tangent if v._pa is not None else None
            if b is _UNARY:
                v.tangent = None if ta is None else prim.jvp[0](ta, v.data, v._a)
            elif b is _PARAMS:
                v.tangent = None if ta is None else prim.jvp[0](ta, v.data, v._a, **v._params)
            else:
                tb = v._pb.tangent if v._pb is not None else None
                v.tangent = None if ta is None and tb is None else _tangent2(
                    prim, ta, tb, v.data, v._a, b)
        return 0.0 if self.tangent is None else self.tangent

    # ------------------------------------------------------------ introspection

    @property
    def prim(self) -> Primitive | None:
        """The registry primitive that made this node (``None`` for a leaf)."""
        return self._prim

    @property
    def op(self) -> str:
        """The operation's name (``""`` for a leaf), e.g. ``"mul"`` or ``"power_const(p=2)"``."""
        prim = self._prim
        if prim is None:
            return ""
        if self._b is _PARAMS:
            inner = ", ".join(f"{k}={v!r}" for k, v in self._params.items())
            return f"{prim.name}({inner})"
        return prim.name

    @property
    def _op(self) -> str:
        """micrograd's operation symbol (``'+'``, ``'*'``, ``'ReLU'``, ``'**2'``...)."""
        prim = self._prim
        if prim is None:
            return ""
        if prim is _POWC:
            return f"**{self._params['p']}"
        return _SYMBOLS.get(prim.name, prim.name)

    @property
    def parents(self) -> tuple[Value, ...]:
        """The Values this node was computed from, in argument order."""
        return tuple(p for p in (self._pa, self._pb) if p is not None)

    @property
    def _prev(self) -> set[Value]:
        """micrograd's set of children (the parents, in dualtape's words)."""
        return set(self.parents)

    @property
    def args(self) -> tuple[Any, ...]:
        """The argument values the node was computed from (Values' data, constants)."""
        if self._prim is None:
            return ()
        return (self._a,) if self._b is _UNARY or self._b is _PARAMS else (self._a, self._b)

    @property
    def inputs(self) -> tuple[Value | None, ...]:
        """Per argument, the Value it came from, or ``None`` for a constant (aligned with ``args``)."""
        if self._prim is None:
            return ()
        return (self._pa,) if self._b is _UNARY or self._b is _PARAMS else (self._pa, self._pb)

    @property
    def params(self) -> dict[str, Any]:
        """The primitive's keyword parameters (``{"p": 2}`` for ``x ** 2``), usually empty."""
        return dict(self._params) if self._prim is not None and self._b is _PARAMS else {}

    def local_grads(self) -> tuple[Any, ...]:
        """The local derivatives ``d self / d arg`` per argument, from the registry's VJP rules.

        ``None`` for an argument the primitive does not differentiate.  The
        backward pass multiplies these by the upstream gradient.
        """
        prim = self._prim
        if prim is None:
            return ()
        args, params = self.args, self.params
        return tuple(None if rule is None else rule(1.0, self.data, *args, **params)
                     for rule in prim.vjp[:len(args)])

    @property
    def is_leaf(self) -> bool:
        """True for a Value made by the constructor rather than by an operation."""
        return self._prim is None

    def __float__(self) -> float:
        return self.data

    def __repr__(self) -> str:
        label = f", label={self.label!r}" if self.label else ""
        tangent = f", tangent={self.tangent!r}" if self.tangent is not None else ""
        return f"Value(data={self.data!r}, grad={self.grad!r}{tangent}{label})"


def _tangent2(prim: Primitive, ta: Any, tb: Any, ans: float, a: float, b: float) -> Any:
    """Output tangent of a two-argument primitive (``None`` tangents are zero)."""
    rules = prim.jvp
    if ta is None:
        return rules[1](tb, ans, a, b)
    out = rules[0](ta, ans, a, b)
    return out if tb is None else _ops.add(out, rules[1](tb, ans, a, b))


def _collect(root: Value) -> list[Value]:
    """Every node of ``root``'s graph (root included), found with an explicit stack."""
    seen = {root}
    nodes = [root]
    stack = [root]
    pop, push, keep, mark = stack.pop, stack.append, nodes.append, seen.add
    while stack:
        v = pop()
        p = v._pa
        if p is not None and p not in seen:
            mark(p)
            push(p)
            keep(p)
        p = v._pb
        if p is not None and p not in seen:
            mark(p)
            push(p)
            keep(p)
    return nodes


def topological_order(root: Value) -> list[Value]:
    """The nodes of ``root``'s graph, every node after its parents (root last)."""
    nodes = _collect(root)
    nodes.sort(key=_by_id)
    return nodes


def zero_grad(values: Iterable[Value]) -> None:
    """Set ``.grad`` to 0 on each of ``values`` (e.g. a model's parameters)."""
    for v in values:
        v.grad = 0.0
