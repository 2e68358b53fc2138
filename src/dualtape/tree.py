"""Flatten and rebuild nested tuples, lists and dicts of arrays (pytrees, as in JAX).

Containers, as in ``jax.tree_util``: tuples, lists, dicts (keys sorted), ``OrderedDict``
(insertion order), ``defaultdict`` (keys sorted), namedtuples, ``None`` (no leaves), and
any class given to :func:`register_pytree_node`. Everything else is a leaf.
"""

from __future__ import annotations

from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

__all__ = ["flatten", "unflatten", "register_pytree_node", "TreeDef", "UnsortableKeys"]

#: Registered container types: ``type -> (flatten_func, unflatten_func)``.
_NODES: dict[type, tuple[Callable[[Any], tuple[Iterable[Any], Any]],
                         Callable[[Any, Iterable[Any]], Any]]] = {}


def register_pytree_node(nodetype: type, flatten_func: Callable[[Any], tuple[Iterable[Any], Any]],
                         unflatten_func: Callable[[Any, Iterable[Any]], Any]) -> None:
    """Make ``nodetype`` a container of pytrees, as ``jax.tree_util.register_pytree_node`` does.

    ``flatten_func(node)`` returns ``(children, aux_data)``: the children are pytrees
    themselves, ``aux_data`` is the rest of the node (hashable, compared to tell structures
    apart). ``unflatten_func(aux_data, children)`` rebuilds a node.
    """
    if not isinstance(nodetype, type):
        raise TypeError(f"nodetype: expected a class, got {nodetype!r}")
    if nodetype in (tuple, list, dict, OrderedDict, defaultdict, type(None)) or \
            (issubclass(nodetype, tuple) and hasattr(nodetype, "_fields")):
        raise ValueError(f"nodetype: {nodetype.__name__} is already a pytree container")
    if nodetype in _NODES:
        raise ValueError(f"nodetype: {nodetype.__name__} is already registered")
    if not callable(flatten_func) or not callable(unflatten_func):
        raise TypeError("flatten_func and unflatten_func: expected two callables")
    _NODES[nodetype] = (flatten_func, unflatten_func)


class TreeDef:
    """The structure of a pytree without its leaves; equal structures compare equal."""

    __slots__ = ("kind", "meta", "children")

    def __init__(self, kind: str, meta: Any = None, children: tuple = ()) -> None:
        # "leaf", "none", "tuple", "list", "dict", "odict", "ddict", "namedtuple", "node"
        self.kind = kind
        self.meta = meta
        self.children = children

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, TreeDef) and self.kind == other.kind
                and self.meta == other.meta and self.children == other.children)

    def __hash__(self) -> int:
        return hash((self.kind, self.meta, self.children))

    def __repr__(self) -> str:
        if self.kind == "leaf":
            return "*"
        if self.kind == "none":
            return "None"
        inner = ", ".join(map(repr, self.children))
        if self.kind in ("dict", "odict", "ddict"):
            keys = self.meta[1] if self.kind == "ddict" else self.meta
            inner = ", ".join(f"{k!r}: {c!r}" for k, c in zip(keys, self.children, strict=True))
            if self.kind == "odict":
                return "OrderedDict({" + inner + "})"
            if self.kind == "ddict":
                return f"defaultdict({self.meta[0]!r}, {{{inner}}})"
            return "{" + inner + "}"
        if self.kind == "node":
            return f"{self.meta[0].__name__}[{self.meta[1]!r}]({inner})"
        if self.kind == "list":
            return "[" + inner + "]"
        if self.kind == "namedtuple":
            return f"{self.meta.__name__}({inner})"
        return "(" + inner + ("," if len(self.children) == 1 else "") + ")"  # (*,): a 1-tuple

    @property
    def num_leaves(self) -> int:
        if self.kind == "leaf":
            return 1
        return sum(c.num_leaves for c in self.children)


LEAF = TreeDef("leaf")


class UnsortableKeys(TypeError):
    """A dict in a pytree whose keys cannot be sorted (keys of different types): its leaves
    have no order, as in JAX, which sorts them too."""


def flatten(tree: Any) -> tuple[list[Any], TreeDef]:
    """Leaves of ``tree`` in a fixed order (dict keys sorted), and its structure."""
    leaves: list[Any] = []
    try:
        return leaves, _flatten(tree, leaves)
    except UnsortableKeys:
        path, keys = _unsortable(tree, "")
        where = f"the dict at {path}" if path else "the dict"
        raise UnsortableKeys(
            f"{where} has keys that cannot be sorted ({keys}); pytrees order a dict's leaves "
            "by its sorted keys, as JAX's do: use keys of one type, or an OrderedDict "
            "(ordered as inserted)") from None


def _sorted_keys(d: dict) -> tuple:
    try:
        return tuple(sorted(d))
    except TypeError:
        raise UnsortableKeys from None  # flatten names the dict and its keys


def _unsortable(tree: Any, path: str) -> tuple[str, str]:
    """The path to the first dict in ``tree`` whose keys cannot be sorted, and those keys."""
    t = type(tree)
    if t is dict or t is defaultdict:
        try:
            sorted(tree)
        except TypeError:
            shown = ", ".join(f"{k!r} ({type(k).__name__})" for k in list(tree)[:4])
            return path, shown + (", ..." if len(tree) > 4 else "")
        items = [(f"[{k!r}]", tree[k]) for k in sorted(tree)]
    elif t is OrderedDict:
        items = [(f"[{k!r}]", v) for k, v in tree.items()]
    elif isinstance(tree, (tuple, list)):
        items = [(f"[{i}]", v) for i, v in enumerate(tree)]
    elif t in _NODES:
        items = [(f"[{i}]", v) for i, v in enumerate(_NODES[t][0](tree)[0])]
    else:
        items = []
    for step, child in items:
        found = _unsortable(child, path + step)
        if found[1]:
            return found
    return path, ""


#: Leaf types common enough to test for before walking a tuple: floats and NumPy arrays.
_PLAIN = frozenset({float, np.ndarray, np.float64})
_TUPLES: dict[int, TreeDef] = {}


def _tuple_of_leaves(n: int) -> TreeDef:
    td = _TUPLES.get(n)
    if td is None:
        td = _TUPLES[n] = TreeDef("tuple", None, (LEAF,) * n)
    return td


def _flatten(tree: Any, leaves: list[Any]) -> TreeDef:
    t = type(tree)
    if t is tuple and len(tree) <= 16 and all(type(c) in _PLAIN for c in tree):
        leaves.extend(tree)  # argnums=(0, 1)'s arguments, a pair of outputs: one shared record
        return _tuple_of_leaves(len(tree))
    if t is tuple or t is list:
        return TreeDef(t.__name__, None, tuple(_flatten(c, leaves) for c in tree))
    if t is dict:
        keys = _sorted_keys(tree)
        return TreeDef("dict", keys, tuple(_flatten(tree[k], leaves) for k in keys))
    if tree is None:
        return TreeDef("none")
    if isinstance(tree, tuple) and hasattr(tree, "_fields"):
        return TreeDef("namedtuple", t, tuple(_flatten(c, leaves) for c in tree))
    if t is OrderedDict:
        keys = tuple(tree)
        return TreeDef("odict", keys, tuple(_flatten(tree[k], leaves) for k in keys))
    if t is defaultdict:
        keys = _sorted_keys(tree)
        return TreeDef("ddict", (tree.default_factory, keys),
                       tuple(_flatten(tree[k], leaves) for k in keys))
    node = _NODES.get(t)
    if node is not None:
        pair = node[0](tree)
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2 and hasattr(pair[0], "__iter__")
                and not isinstance(pair[0], (str, bytes))):
            raise TypeError(f"flatten_func of {t.__name__}: must return (children, aux_data) with "
                            f"children a sequence, got {pair!r:.80}")
        children, aux = pair
        return TreeDef("node", (t, aux), tuple(_flatten(c, leaves) for c in children))
    leaves.append(tree)
    return LEAF


def unflatten(treedef: TreeDef, leaves: list[Any]) -> Any:
    """Rebuild a pytree of structure ``treedef`` from ``leaves``."""
    if treedef is LEAF and len(leaves) == 1:
        return leaves[0]
    if treedef is _TUPLES.get(len(leaves)):  # argnums=(0, 1)'s structure: a tuple of leaves
        return tuple(leaves)
    it = iter(leaves)
    out = _build(treedef, it)
    if next(it, _END) is not _END:
        raise ValueError("unflatten: more leaves than the structure holds")
    return out


_END = object()


def _build(td: TreeDef, it: Any) -> Any:
    if td.kind == "leaf":
        leaf = next(it, _END)
        if leaf is _END:
            raise ValueError("unflatten: fewer leaves than the structure holds")
        return leaf
    if td.kind == "none":
        return None
    kids = [_build(c, it) for c in td.children]
    if td.kind == "tuple":
        return tuple(kids)
    if td.kind == "list":
        return kids
    if td.kind == "dict":
        return dict(zip(td.meta, kids, strict=True))
    if td.kind == "odict":
        return OrderedDict(zip(td.meta, kids, strict=True))
    if td.kind == "ddict":
        return defaultdict(td.meta[0], zip(td.meta[1], kids, strict=True))
    if td.kind == "node":
        return _NODES[td.meta[0]][1](td.meta[1], tuple(kids))
    return td.meta(*kids)
