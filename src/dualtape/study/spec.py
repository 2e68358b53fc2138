"""What a study is: problems × methods × sweeps, with default and quick sizes.

A study is plain data.  ``Study`` names the problem families and methods to
measure, and ``Sweep`` says which of the coordinates ``n`` (inputs), ``m``
(outputs) and ``depth`` vary and which stay fixed.  The sizes a sweep walks
through come from the sweep itself or, when it has none, from the study; the
CLI's ``--sizes`` replaces them for every sweep at once.

A study that is not about Jacobians (a lesson, a one-off experiment) may bring
its own ``run``, ``plot`` and ``summary`` callables; the CLI then calls those
instead of the generic harness.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..measure.timing import TimingConfig

if TYPE_CHECKING:
    from .problems import Problem

AXES = ("n", "m", "depth")
GROUPS = ("check", "count", "memory", "time")
DEFAULT_DEPTH = 1


class StudyError(Exception):
    """A bad input to the harness: names the argument (``arg``) and the problem.

    The CLI prints it as one line and exits with status 2.
    """

    def __init__(self, message: str, arg: str | None = None) -> None:
        super().__init__(message)
        self.arg = arg

    def __str__(self) -> str:
        message = super().__str__()
        return f"{self.arg}: {message}" if self.arg else message


#: The studies' timing profiles: the collector off while timing (see dualtape.measure.timing).
DEFAULT_TIMING = TimingConfig(target_s=0.02, repeats=5, warmup=1)
QUICK_TIMING = TimingConfig(target_s=0.002, repeats=3, warmup=1)


def choose(values: Sequence[str], allowed: Sequence[str], arg: str, what: str) -> list[str]:
    """``values`` if every one is in ``allowed``, else ``StudyError`` naming ``arg``.

    ``what`` names the choices in the message: ``"memory_depth's methods"``.
    """
    for v in values:
        if v not in allowed:
            raise StudyError(f"{v} is not one of {what}: {', '.join(allowed)}", arg)
    return list(values)


def check_sizes(values: Sequence[Any], arg: str = "sizes") -> tuple[int, ...]:
    """Return ``values`` as a tuple of positive ints, or raise ``StudyError``.

    Strings are accepted (they come from the command line) but must spell an
    integer; ``'3.0'``, ``'-3'``, ``'0'`` and ``True`` are all refused.
    """
    out = []
    if len(values) == 0:
        raise StudyError("expected at least one positive integer", arg)
    for original in values:
        v = original
        if isinstance(v, bool):
            raise StudyError(f"expected positive integers, got {v!r}", arg)
        if isinstance(v, str):
            text = v.strip()
            if not text.lstrip("+").isdigit():
                raise StudyError(f"expected positive integers, got {v!r}", arg)
            v = int(text)
        elif isinstance(v, float) or not hasattr(v, "__index__"):
            raise StudyError(f"expected positive integers, got {v!r}", arg)
        v = int(v)
        if v <= 0:
            raise StudyError(f"expected positive integers, got {original!r}", arg)
        out.append(v)
    return tuple(out)


@dataclass(frozen=True)
class Sweep:
    """One walk through the coordinates.

    ``axes`` are the coordinates that take every value of the sizes (their
    product, for a grid); ``fixed`` gives the other coordinates.  ``depth``
    defaults to 1 when neither varies nor is fixed.  ``sizes`` and
    ``quick_sizes`` override the study's for this sweep; ``methods`` and
    ``problems`` restrict it to a subset of the study's.
    """

    name: str
    axes: tuple[str, ...]
    fixed: Mapping[str, int] = field(default_factory=dict)
    sizes: tuple[int, ...] | None = None
    quick_sizes: tuple[int, ...] | None = None
    methods: tuple[str, ...] | None = None
    problems: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if not self.name or not self.name.replace("_", "").isalnum():
            raise StudyError(f"sweep names are letters, digits and '_', got {self.name!r}", "sweep")
        if not self.axes:
            raise StudyError(f"sweep {self.name!r} varies no axis", "sweep")
        for axis in (*self.axes, *self.fixed):
            if axis not in AXES:
                raise StudyError(f"unknown axis {axis!r}; valid axes: {', '.join(AXES)}", "sweep")
        if set(self.axes) & set(self.fixed):
            raise StudyError(f"sweep {self.name!r} both varies and fixes an axis", "sweep")
        for axis in ("n", "m"):
            if axis not in self.axes and axis not in self.fixed:
                raise StudyError(f"sweep {self.name!r} must vary or fix {axis!r}", "sweep")
        if self.fixed:
            check_sizes(list(self.fixed.values()), f"sweep {self.name!r} fixed values")
        for sizes in (self.sizes, self.quick_sizes):
            if sizes is not None:
                check_sizes(sizes, f"sweep {self.name!r} sizes")

    def points(self, sizes: Sequence[int]) -> list[dict[str, int]]:
        """Every coordinate dict ``{'n':..,'m':..,'depth':..}`` this sweep visits."""
        out = []
        for values in itertools.product(sizes, repeat=len(self.axes)):
            point = {"depth": DEFAULT_DEPTH, **self.fixed}
            point.update(zip(self.axes, values, strict=True))
            out.append(point)
        return out


@dataclass(frozen=True)
class Study:
    """A named, reproducible measurement: problems × methods over sweeps.

    ``problems`` holds problem names (see ``dualtape.study.problems``) or
    ``Problem`` objects, so a user's own problem needs no registration.
    ``measures`` picks among ``check``, ``count``, ``memory`` and ``time``;
    ``notes`` is Markdown copied into the summary (what to look for).
    """

    name: str
    description: str
    problems: tuple[str | Problem, ...] = ()
    methods: tuple[str, ...] = ()
    sweeps: tuple[Sweep, ...] = ()
    sizes: tuple[int, ...] = ()
    quick_sizes: tuple[int, ...] = ()
    measures: tuple[str, ...] = GROUPS
    timing: TimingConfig = DEFAULT_TIMING
    quick_timing: TimingConfig = QUICK_TIMING
    notes: str = ""
    run: Callable[..., Any] | None = None
    plot: Callable[..., Any] | None = None
    summary: Callable[..., Any] | None = None
    source: str = ""

    def __post_init__(self) -> None:
        if not self.name or not self.name.replace("_", "").replace("-", "").isalnum():
            raise StudyError(f"study names are letters, digits, '-' and '_', got {self.name!r}")
        for g in self.measures:
            if g not in GROUPS:
                raise StudyError(f"unknown measure {g!r}; valid: {', '.join(GROUPS)}", "measures")
        if self.run is None:
            if not self.sweeps:
                raise StudyError(f"study {self.name!r} has no sweeps and no own run", "sweeps")
            if not self.problems or not self.methods:
                raise StudyError(f"study {self.name!r} needs problems and methods", "problems")
            names = [s.name for s in self.sweeps]
            if len(set(names)) != len(names):
                raise StudyError(f"study {self.name!r} repeats a sweep name", "sweeps")
        for sizes in (self.sizes, self.quick_sizes):
            if sizes:
                check_sizes(sizes, "sizes")

    @property
    def custom(self) -> bool:
        """True when the study brings its own ``run`` (not a Jacobian sweep)."""
        return self.run is not None

    def sweep_sizes(self, sweep: Sweep, quick: bool, override: Sequence[int] | None):
        """The sizes ``sweep`` walks through under the given profile."""
        if override is not None:
            return tuple(override)
        if quick:
            return sweep.quick_sizes or self.quick_sizes or sweep.sizes or self.sizes
        return sweep.sizes or self.sizes
