"""The suite's data model: contenders, cases, targets, and how results are compared."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Tasks whose results are checked against a reference contender of the same task: the
#: derivatives, and a Jacobian's sparsity pattern.
AD_TASKS = ("grad", "jvp", "jacfwd", "jacrev", "sparsity")
#: Tasks a dualtape contender is always paired with, whatever its own task: the floors.
FLOOR_TASKS = ("forward",)


class Unavailable(Exception):
    """A contender cannot be built here (peer not installed, dualtape API not there yet)."""


@dataclass(frozen=True)
class Contender:
    """One tool doing one task on one case.

    ``build`` prepares everything that is not part of the timed call (inputs in the tool's
    own array type, jitted functions, leaf tensors) and returns a zero-argument callable
    doing exactly one timed call. It raises :class:`Unavailable` when the tool is missing.
    A ``self_timed`` callable returns ``(seconds, detail)`` instead of being timed from
    outside (used for import time, measured inside a fresh process). ``also_for`` lists
    other tasks the contender is a peer for (autograd's one Jacobian serves both modes).
    """

    name: str
    tool: str
    task: str
    build: Callable[[], Callable[[], Any]]
    reference: bool = False
    self_timed: bool = False
    also_for: tuple[str, ...] = ()

    def serves(self, task: str) -> bool:
        """Whether this contender is a peer for ``task`` (its own, or one of ``also_for``)."""
        return task == self.task or task in self.also_for

    @property
    def is_dualtape(self) -> bool:
        """Whether this contender is dualtape itself."""
        return self.tool == "dualtape"


@dataclass(frozen=True)
class Target:
    """A target of the issue: ``dualtape / peer <= max_ratio`` (``<`` when ``strict``).

    With ``peer=None`` the target is absolute: the dualtape median in seconds.
    """

    dualtape: str
    peer: str | None
    max_ratio: float
    strict: bool = False

    def describe(self) -> str:
        """The target as a short sentence, e.g. ``<= 0.75x micrograd``."""
        op = "<" if self.strict else "<="
        if self.peer is None:
            return f"{op} {self.max_ratio:g} s"
        return f"{op} {self.max_ratio:g}x {self.peer}"

    def met(self, measured: float) -> bool:
        """Whether a measured ratio (or absolute time) meets the target."""
        return measured < self.max_ratio if self.strict else measured <= self.max_ratio


@dataclass
class Case:
    """One timed comparison: a workload at one size, with its contenders and targets."""

    workload: int
    key: str
    title: str
    contenders: list[Contender]
    targets: list[Target] = field(default_factory=list)
    rtol: float = 1e-6
    atol: float = 1e-9

    def pairs(self, available: set[str]) -> Iterator[tuple[Contender, Contender]]:
        """(dualtape, peer) pairs to compute ratios for, among the available contenders.

        A dualtape contender is paired with every peer of the same task, and with the
        floors (plain NumPy forward). Import-time contenders are all paired.
        """
        present = [c for c in self.contenders if c.name in available]
        for mine in (c for c in present if c.is_dualtape):
            for peer in (c for c in present if not c.is_dualtape):
                if peer.serves(mine.task) or peer.task in FLOOR_TASKS:
                    yield mine, peer


def flatten(obj: Any) -> list[np.ndarray]:
    """Turn a tool's output (nested tuples of tensors, arrays, floats) into float arrays."""
    if isinstance(obj, (tuple, list)):
        return [a for item in obj for a in flatten(item)]
    if isinstance(obj, dict):
        return [a for key in sorted(obj) for a in flatten(obj[key])]
    if hasattr(obj, "detach"):  # torch.Tensor
        obj = obj.detach().cpu().numpy()
    return [np.asarray(obj, dtype=np.float64)]


def compare(result: Any, reference: Any, rtol: float, atol: float) -> str:
    """``ok`` when ``result`` matches ``reference`` leaf by leaf, else ``FAIL ...``."""
    got, want = flatten(result), flatten(reference)
    if len(got) != len(want):
        return f"FAIL ({len(got)} outputs, reference has {len(want)})"
    errors = []
    for a, b in zip(got, want, strict=True):
        if a.shape != b.shape:
            return f"FAIL (shape {a.shape}, reference {b.shape})"
        if not np.allclose(a, b, rtol=rtol, atol=atol):
            errors.append(float(np.max(np.abs(a - b))))
    return f"FAIL (max abs err {max(errors):.3g})" if errors else "ok"
