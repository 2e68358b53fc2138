"""Small neural networks for the lessons: the same MLP on scalars and on arrays.

* :class:`Neuron`, :class:`Layer`, :class:`MLP` -- micrograd-style, on
  :class:`~dualtape.Value` scalars: ``model(x)``, ``model.parameters()``,
  ``model.num_parameters()``, ``model.zero_grad()``, then ``loss.backward()``.
* :class:`ArrayMLP` -- the same network as a list of ``(W, b)`` arrays and a
  pure function :func:`mlp_apply` written with ``dualtape.numpy``, so its
  gradient comes from either engine (``dt.grad``: reverse, ``dt.jacfwd``:
  forward) and, given JAX arrays, from ``jax.grad``.

:meth:`ArrayMLP.from_scalar` copies a scalar MLP's weights (neuron ``j`` of
layer ``l`` is row ``j`` of ``W[l]`` and entry ``j`` of ``b[l]``), and
:func:`scalar_grads` reads its ``.grad`` in the same layout, so the engines can
be compared number by number.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import numpy as dnp
from ..argchecks import is_integral, rng_for
from .losses import same_shape
from .value import Value

__all__ = [
    "ACTIVATIONS", "ArrayMLP", "Layer", "MLP", "Module", "Neuron", "activation_fn", "mlp_apply",
    "mlp_loss", "scalar_grads", "scalar_params",
]

#: Activation names understood by both APIs (``None`` and ``"linear"`` mean identity).
ACTIVATIONS = ("relu", "tanh", "sigmoid", "linear")

Params = list[tuple[Any, Any]]


def _check_activation(name: str | None) -> str:
    name = "linear" if name in (None, "none", "identity") else name
    if name not in ACTIVATIONS:
        raise ValueError(f"activation: expected one of {', '.join(ACTIVATIONS)} or None, "
                         f"got {name!r}")
    return name


def activation_fn(name: str | None) -> Callable[[Any], Any]:
    """The array-API activation called ``name`` (works on Values too)."""
    name = _check_activation(name)
    if name == "linear":
        return lambda h: h
    fn = {"relu": dnp.relu, "tanh": dnp.tanh, "sigmoid": dnp.sigmoid}[name]

    def act(h: Any) -> Any:
        return getattr(h, name)() if isinstance(h, Value) else fn(h)

    return act


def _size(n: Any, name: str) -> int:
    if not is_integral(n):
        raise TypeError(f"{name}: expected a positive int, got {n!r}")
    if n < 1:
        raise ValueError(f"{name}: expected a positive int, got {n!r}")
    return int(n)


def _sizes(n_in: Any, n_outs: Any) -> list[int]:
    """``[n_in, *n_outs]``, each checked to be a positive int."""
    if isinstance(n_outs, (str, bytes)) or not hasattr(n_outs, "__len__"):
        raise TypeError(f"n_outs: expected a sequence of layer sizes (e.g. [4, 1]), got "
                        f"{n_outs!r}")
    if not len(n_outs):
        raise ValueError("n_outs: expected at least one layer size")
    return [_size(n_in, "n_in"), *(_size(n, "n_outs") for n in n_outs)]


def _inputs(x: Any, n: int) -> Any:
    if isinstance(x, (str, bytes)) or not hasattr(x, "__len__"):
        raise TypeError(f"x: expected a sequence of {n} inputs, got {type(x).__name__}")
    if len(x) != n:
        raise ValueError(f"x: expected {n} inputs, got {len(x)}")
    return x


# ---------------------------------------------------------------- the scalar network


class Module:
    """Base of the scalar networks: parameters, their count, and zeroing their grads."""

    def parameters(self) -> list[Value]:
        """Every trainable :class:`~dualtape.Value`, in a fixed order."""
        return []

    def num_parameters(self) -> int:
        """How many scalars are trained."""
        return len(self.parameters())

    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to 0 (call before each ``backward``)."""
        for p in self.parameters():
            p.grad = 0.0


class Neuron(Module):
    """``act(w . x + b)`` with ``w`` uniform in [-1, 1] and ``b = 0`` (as in the lesson).

    Args:
        n_in: number of inputs.
        activation: ``"relu"`` (default), ``"tanh"``, ``"sigmoid"`` or ``None``.
        rng: a seed or ``numpy.random.Generator`` for the weights.
        name: prefix of the parameters' labels (e.g. ``"L1.n0"`` gives ``L1.n0.w0``).
    """

    def __init__(self, n_in: int, activation: str | None = "relu",
                 rng: int | np.random.Generator | None = None, name: str = "") -> None:
        n_in = _size(n_in, "n_in")
        g = rng_for(rng, "rng")
        prefix = f"{name}." if name else ""
        self.w = [Value(float(v), label=f"{prefix}w{i}") for i, v in
                  enumerate(g.uniform(-1.0, 1.0, n_in))]
        self.b = Value(0.0, label=f"{prefix}b")
        self.activation = _check_activation(activation)

    def __call__(self, x: Sequence[Any]) -> Value:
        if not hasattr(x, "__len__") or len(x) != len(self.w):
            _inputs(x, len(self.w))
        act = self.b
        for wi, xi in zip(self.w, x, strict=True):
            act = act + wi * xi
        if self.activation == "linear":
            return act
        return getattr(act, self.activation)()

    def parameters(self) -> list[Value]:
        return [*self.w, self.b]

    def __repr__(self) -> str:
        return f"Neuron({len(self.w)}, activation={self.activation!r})"


class Layer(Module):
    """``n_out`` neurons reading the same ``n_in`` inputs."""

    def __init__(self, n_in: int, n_out: int, activation: str | None = "relu",
                 rng: int | np.random.Generator | None = None, name: str = "") -> None:
        n_out = _size(n_out, "n_out")
        g = rng_for(rng, "rng")
        prefix = f"{name}." if name else ""
        self.neurons = [Neuron(n_in, activation, g, name=f"{prefix}n{j}") for j in range(n_out)]

    def __call__(self, x: Sequence[Any]) -> Value | list[Value]:
        outs = [n(x) for n in self.neurons]
        return outs[0] if len(outs) == 1 else outs

    def parameters(self) -> list[Value]:
        return [p for n in self.neurons for p in n.parameters()]

    def __repr__(self) -> str:
        return f"Layer({len(self.neurons[0].w)} -> {len(self.neurons)}, " \
               f"activation={self.neurons[0].activation!r})"


class MLP(Module):
    """A multilayer perceptron on Values: ``MLP(3, [4, 4, 1])``.

    Hidden layers use ``activation``; the last layer uses ``final_activation``
    (linear by default, as in micrograd, so the output can be negative; pass
    ``final_activation="relu"`` for the lesson's all-ReLU network).  Weights
    are uniform in [-1, 1] and biases 0, drawn from ``seed``.  A single output
    is returned as a Value, several as a list.
    """

    def __init__(self, n_in: int, n_outs: Sequence[int], activation: str | None = "relu",
                 final_activation: str | None = None,
                 seed: int | np.random.Generator | None = 0) -> None:
        sizes = _sizes(n_in, n_outs)
        g = rng_for(seed)
        self.activation = _check_activation(activation)
        self.final_activation = _check_activation(final_activation)
        self.layers = [
            Layer(sizes[i], sizes[i + 1],
                  self.activation if i < len(n_outs) - 1 else self.final_activation, g,
                  name=f"L{i + 1}")
            for i in range(len(n_outs))
        ]

    @property
    def sizes(self) -> list[int]:
        """``[n_in, *n_outs]``."""
        return [len(self.layers[0].neurons[0].w)] + [len(layer.neurons) for layer in self.layers]

    def __call__(self, x: Sequence[Any]) -> Value | list[Value]:
        h: Any = list(_inputs(x, self.sizes[0]))
        for layer in self.layers:
            h = layer(h if isinstance(h, list) else [h])
        return h

    def parameters(self) -> list[Value]:
        return [p for layer in self.layers for p in layer.parameters()]

    def __repr__(self) -> str:
        s = self.sizes
        return f"MLP({s[0]}, {s[1:]}, activation={self.activation!r}, " \
               f"final_activation={self.final_activation!r})"


def scalar_params(model: MLP) -> Params:
    """A scalar MLP's weights as ``[(W1, b1), ...]`` arrays (``W``: n_out x n_in)."""
    return [(np.array([[w.data for w in n.w] for n in layer.neurons]),
             np.array([n.b.data for n in layer.neurons])) for layer in model.layers]


def scalar_grads(model: MLP) -> Params:
    """A scalar MLP's ``.grad`` values laid out like :func:`scalar_params`."""
    return [(np.array([[w.grad for w in n.w] for n in layer.neurons]),
             np.array([n.b.grad for n in layer.neurons])) for layer in model.layers]


# ---------------------------------------------------------------- the array network


def mlp_apply(params: Params, x: Any, activation: str | None = "relu",
              final_activation: str | None = None) -> Any:
    """The MLP as a pure function: ``x`` of shape ``(n_in,)`` or ``(batch, n_in)``.

    Written with ``dualtape.numpy``: differentiable by both dualtape engines
    and, with JAX arrays, by JAX.
    """
    act, final = activation_fn(activation), activation_fn(final_activation)
    n_in = np.shape(params[0][0])[-1] if params else None
    if n_in is not None and dnp.shape(x)[-1:] != (n_in,):
        raise ValueError(f"x: expected shape ({n_in},) or (batch, {n_in}), got {dnp.shape(x)}")
    h = x
    for i, (W, b) in enumerate(params):
        h = dnp.add(dnp.matmul(h, dnp.transpose(W)), b)
        h = act(h) if i < len(params) - 1 else final(h)
    return h


def mlp_loss(params: Params, xs: Any, ys: Any, activation: str | None = "relu",
             final_activation: str | None = None) -> Any:
    """The lesson's loss: ``sum((mlp(x) - y) ** 2)`` over the samples (one output)."""
    pred = mlp_apply(params, xs, activation, final_activation)
    pred = dnp.reshape(pred, (-1,)) if dnp.ndim(pred) > 1 else pred
    same_shape(pred, ys, "pred", "ys")
    diff = dnp.subtract(pred, ys)
    return dnp.sum(dnp.multiply(diff, diff))


class ArrayMLP:
    """The same MLP on arrays: ``params = [(W1, b1), (W2, b2), ...]``.

    ``grad(xs, ys, engine=...)`` differentiates :func:`mlp_loss` with
    ``"reverse"`` (``dt.grad``, one backward pass) or ``"forward"``
    (``dt.jacfwd``, all parameter directions pushed in one vector-mode pass);
    both give the same numbers.
    """

    def __init__(self, n_in: int, n_outs: Sequence[int], activation: str | None = "relu",
                 final_activation: str | None = None,
                 seed: int | np.random.Generator | None = 0) -> None:
        sizes = _sizes(n_in, n_outs)
        g = rng_for(seed)
        self.activation = _check_activation(activation)
        self.final_activation = _check_activation(final_activation)
        self.params: Params = [
            (g.uniform(-1.0, 1.0, (sizes[i + 1], sizes[i])), np.zeros(sizes[i + 1]))
            for i in range(len(n_outs))
        ]

    @classmethod
    def from_scalar(cls, model: MLP) -> ArrayMLP:
        """An ArrayMLP holding a copy of the scalar ``model``'s current weights."""
        out = cls.__new__(cls)
        out.activation = model.activation
        out.final_activation = model.final_activation
        out.params = scalar_params(model)
        return out

    def __call__(self, x: Any) -> Any:
        return mlp_apply(self.params, x, self.activation, self.final_activation)

    def loss(self, xs: Any, ys: Any, params: Params | None = None) -> Any:
        """:func:`mlp_loss` at ``params`` (default: the current ones)."""
        return mlp_loss(self.params if params is None else params, xs, ys, self.activation,
                        self.final_activation)

    def grad(self, xs: Any, ys: Any, engine: str = "reverse") -> Params:
        """Gradient of :meth:`loss` with respect to every ``W`` and ``b``."""
        from ..api import grad as _grad
        from ..jacobians import jacfwd as _jacfwd

        xs, ys = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)

        def f(params: Params) -> Any:
            return self.loss(xs, ys, params)

        if engine == "reverse":
            g = _grad(f)(self.params)
        elif engine == "forward":
            g = _jacfwd(f)(self.params)
        else:
            raise ValueError(f"engine: expected 'reverse' or 'forward', got {engine!r}")
        return [(np.asarray(gw), np.asarray(gb)) for gw, gb in g]

    def parameters(self) -> list[np.ndarray]:
        """The weight and bias arrays, ``[W1, b1, W2, b2, ...]``."""
        return [a for wb in self.params for a in wb]

    def num_parameters(self) -> int:
        """How many scalars are trained."""
        return int(sum(a.size for a in self.parameters()))

    def sgd_step(self, grads: Params, lr: float) -> None:
        """``p -= lr * grad`` for every parameter."""
        self.params = [(W - lr * gW, b - lr * gb)
                       for (W, b), (gW, gb) in zip(self.params, grads, strict=True)]
