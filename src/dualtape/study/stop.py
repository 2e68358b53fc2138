"""A stop asked for by a signal, checked between cells.

A signal handler that raises ``KeyboardInterrupt`` can fire while Python runs a garbage
collector callback (JAX registers one), where the exception is printed as "ignored" and
dropped: the run would go on to the end. The command line's handler therefore also calls
:func:`request`, and the sweeps call :func:`check` between cells, so the stop lands at the
next cell boundary at the latest.
"""

from __future__ import annotations

_requested = False


def request() -> None:
    """Record that the run should stop (a signal handler's first step)."""
    global _requested
    _requested = True


def clear() -> None:
    """Forget an earlier request (a new run starts)."""
    global _requested
    _requested = False


def check() -> None:
    """Raise ``KeyboardInterrupt`` if a stop was requested and not yet acted on."""
    global _requested
    if _requested:
        _requested = False
        raise KeyboardInterrupt
