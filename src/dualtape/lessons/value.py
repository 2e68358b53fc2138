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
from collections.abc import Callable, Iterable
from operator import attrgetter
from typing import Any

import numpy as np

from .. import dispatch as _dispatch
from .. import ops as _ops
from ..dispatch import evaluate, evaluate1, evaluate2
from ..registry import Primitive, primitives

__all__ = ["Value", "topological_order", "zero_grad"]

_P = primitives()
_ADD, _SUB, _MUL, _DIV, _NEG = _P["add"], _P["sub"], _P["mul"], _P["div"], _P["neg"]
_POW, _POWC = _P["power"], _P["power_const"]

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


def _float(x: Any, what: str) -> float:
    t = type(x)
    if t is float:
        return x
    if t is not int:  # a Python int (x * 2) needs no check: one type test per operation
        if isinstance(x, Value):  # a Value where a number is taken would be detached
            raise TypeError(f"{what}: expected a real number, got a Value; read its .data "
                            "for a constant")
        kind = getattr(getattr(x, "dtype", None), "kind", "f")  # NumPy's: complex, str, bool
        if isinstance(x, (bool, str, bytes, complex)) or kind not in "iuf" or not hasattr(
                x, "__float__"):
            raise TypeError(f"{what}: expected a real number or a Value, got {t.__name__}"
                            + (f" of dtype {x.dtype}" if isinstance(x, np.ndarray) else ""))
        if getattr(x, "shape", ()) not in ((), None):
            raise TypeError(f"{what}: Value holds one scalar, got an array of shape "
                            f"{x.shape}; use dualtape.numpy (dt.grad / dt.jvp) for arrays")
    try:
        return float(x)
    except OverflowError:
        raise ValueError(f"{what}: {type(x).__name__} too large for a float (above "
                         "1.8e308)") from None


# The node builders: one for two-argument primitives, one for one-argument ones.  Each
# makes the method for one primitive, so the hot operators cost one call to the
# shared evaluation (dualtape.dispatch, which also counts) and no other.


def _binary(prim: Primitive, reflected: bool = False) -> Callable[[Value, Any], Value]:
    """The method ``self (op) other`` (``other (op) self`` if reflected) for ``prim``."""
    what = f"operand of {prim.name}"
    impl = prim.impl

    def method(self: Value, other: Any) -> Value:
        if type(other) is Value and not reflected:
            pa = self
            pb = other
            a = self.data
            b = other.data
        elif isinstance(other, Value):  # reflected, or a subclass of Value
            pa, pb = (other, self) if reflected else (self, other)
            a, b = pa.data, pb.data
        elif reflected:
            pa, pb, a, b = None, self, _float(other, what), self.data
        else:
            pa, pb, a, b = self, None, self.data, _float(other, what)
        # impl keeps Python floats as floats (docs/design.md, "Python floats stay Python floats")
        ans = impl(a, b) if _dispatch.counting is None else evaluate2(prim, a, b)
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
        return out

    method.__name__ = prim.name
    return method


def _unary(prim: Primitive, doc: str = "") -> Callable[..., Value]:
    """The method ``op(self)`` for a one-argument ``prim`` (``op(self, params)`` with
    keyword parameters, e.g. ``{"p": 2}`` for ``power_const``)."""
    rule = prim.jvp[0]
    impl = prim.impl

    def method(self: Value, params: dict | None = None) -> Value:
        a = self.data
        out = _new(Value)
        if params is None:
            ans = impl(a) if _dispatch.counting is None else evaluate1(prim, a)
            out._b = _UNARY
        else:
            ans = evaluate(prim, (a,), params)
            out._b = _PARAMS
            out._params = params
        out.data = ans  # a float: impl keeps Python floats as floats
        out.grad = 0.0
        out.label = ""
        out._prim = prim
        out._a = a
        out._pa = self
        out._pb = None
        out._id = _next_id()
        t = self.tangent
        if t is None:
            out.tangent = None
        else:
            out.tangent = rule(t, ans, a) if params is None else rule(t, ans, a, **params)
        return out

    method.__name__ = prim.name
    method.__doc__ = doc
    return method


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

    Division by zero and ``log(0)`` give ``inf`` (and their gradients ``inf``), as NumPy
    and JAX do, with NumPy's ``RuntimeWarning``; micrograd raises ``ZeroDivisionError``.
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

    # ------------------------------------------------------------ operators

    __add__ = _binary(_ADD)
    __radd__ = _binary(_ADD, reflected=True)
    __sub__ = _binary(_SUB)
    __rsub__ = _binary(_SUB, reflected=True)
    __mul__ = _binary(_MUL)
    __rmul__ = _binary(_MUL, reflected=True)
    __truediv__ = _binary(_DIV)
    __rtruediv__ = _binary(_DIV, reflected=True)
    __rpow__ = _binary(_POW, reflected=True)
    __neg__ = _unary(_NEG)
    __abs__ = _unary(_P["abs"])
    relu = _unary(_P["relu"], "``max(x, 0)``; slope 1 where ``x > 0`` and 0 elsewhere (also at 0).")
    sigmoid = _unary(_P["sigmoid"], "The logistic ``1 / (1 + exp(-x))``, without overflow for any x.")
    tanh = _unary(_P["tanh"], "Hyperbolic tangent.")
    exp = _unary(_P["exp"], "``e ** x``.")
    log = _unary(_P["log"], "Natural logarithm.")
    softplus = _unary(_P["softplus"], "``log(1 + exp(x))`` without overflow; its slope is ``sigmoid(x)``.")
    sqrt = _unary(_P["sqrt"], "Square root.")
    _pow_const = _unary(_POWC)
    _pow_value = _binary(_POW)

    def __pow__(self, other: Any) -> Value:
        if isinstance(other, Value):
            return self._pow_value(other)
        if isinstance(other, (bool, np.bool_)) or not isinstance(other, (int, float, np.number)):
            raise TypeError(f"Value ** {type(other).__name__}: the exponent must be a "
                            "number or a Value")
        p = int(other) if isinstance(other, (int, np.integer)) else _float(other, "exponent")
        return self._pow_const({"p": p})

    def __pos__(self) -> Value:
        return self

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
        self._g = gradient if type(gradient) is float else _float(gradient, "gradient")
        nodes.sort(key=_by_id, reverse=True)
        for v in nodes:
            g = v._g
            v.grad += g if type(g) is float else float(g)  # abs's and power's rules give NumPy's
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
    def operands(self) -> tuple[Value | None, Value | None]:
        """The Value in each argument position, ``None`` where the argument was a constant
        (or there is no second argument): :attr:`parents` with the positions kept."""
        return self._pa, self._pb

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
        # float(v) (and so math.exp(v)) would drop the derivative without a word
        raise TypeError("float(Value) would lose the derivative: read .data for the number, "
                        "or use the Value's methods (v.exp(), v.tanh(), v ** 0.5)")

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
