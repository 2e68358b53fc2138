"""Flatten and rebuild nested tuples, lists and dicts of arrays (pytrees, as in JAX)."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["flatten", "unflatten", "TreeDef"]


class TreeDef:
    """The structure of a pytree without its leaves; equal structures compare equal."""

    __slots__ = ("kind", "meta", "children")

    def __init__(self, kind: str, meta: Any = None, children: tuple = ()) -> None:
        self.kind = kind  # "leaf", "none", "tuple", "list", "dict", "namedtuple"
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
        if self.kind == "dict":
            inner = ", ".join(f"{k!r}: {c!r}" for k, c in zip(self.meta, self.children,
                                                               strict=True))
            return "{" + inner + "}"
        return ("[" + inner + "]") if self.kind == "list" else ("(" + inner + ")")

    @property
    def num_leaves(self) -> int:
        if self.kind == "leaf":
            return 1
        return sum(c.num_leaves for c in self.children)


LEAF = TreeDef("leaf")


def flatten(tree: Any) -> tuple[list[Any], TreeDef]:
    """Leaves of ``tree`` in a fixed order (dict keys sorted), and its structure."""
    leaves: list[Any] = []
    return leaves, _flatten(tree, leaves)


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
        keys = tuple(sorted(tree))
        return TreeDef("dict", keys, tuple(_flatten(tree[k], leaves) for k in keys))
    if tree is None:
        return TreeDef("none")
    if isinstance(tree, tuple) and hasattr(tree, "_fields"):
        return TreeDef("namedtuple", t, tuple(_flatten(c, leaves) for c in tree))
    leaves.append(tree)
    return LEAF


def unflatten(treedef: TreeDef, leaves: list[Any]) -> Any:
    """Rebuild a pytree of structure ``treedef`` from ``leaves``."""
    if treedef is LEAF and len(leaves) == 1:
        return leaves[0]
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
    return td.meta(*kids)
