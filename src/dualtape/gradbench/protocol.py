"""GradBench's JSON-lines protocol, tool side: one response line per message line.

Messages (one JSON object per line on stdin) have an ``id`` and a ``kind``:

* ``start``: answered with the tool's name and its configuration;
* ``define`` of a ``module``: ``success`` tells whether dualtape implements it;
* ``evaluate`` of ``module``/``function`` on ``input``: the ``output``, and one ``evaluate``
  timing (nanoseconds) per run. When the input has ``min_runs`` and ``min_seconds``, the
  function runs at least ``min_runs`` times and until the runs add up to ``min_seconds``;
* anything else (``analysis``, ...): acknowledged with the ``id`` alone.

A failure inside one evaluation is reported in that response (``success: false`` and the
error) and the session goes on; a line that is not a JSON object with an ``id`` ends it.
"""

from __future__ import annotations

import json
import math
import time
import traceback
from collections.abc import Iterable
from typing import Any, TextIO

from .evals import EVALS, EvalFunction, Settings

TOOL = "dualtape"


class ProtocolError(ValueError):
    """A line the tool cannot answer at all (not JSON, no ``id``)."""


#: The most runs and seconds one evaluate may ask for (Python's json reads Infinity and 1e300).
MAX_RUNS, MAX_SECONDS = 10_000_000, 86_400.0


def _runs(data: Any) -> tuple[int, float]:
    """``(min_runs, min_seconds)`` from an evaluate input, validated."""
    if not isinstance(data, dict):
        raise ValueError("input: expected an object with min_runs and min_seconds")
    runs, seconds = data.get("min_runs", 1), data.get("min_seconds", 0.0)
    if isinstance(runs, float) and runs.is_integer():
        runs = int(runs)  # a JSON number: 2.0 is 2
    if isinstance(runs, bool) or not isinstance(runs, int) or not 0 <= runs <= MAX_RUNS:
        raise ValueError(f"input: min_runs must be an integer from 0 to {MAX_RUNS:,}, got {runs!r}")
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) \
            or not 0 <= seconds <= MAX_SECONDS:  # (NaN and inf fail the comparison)
        raise ValueError(f"input: min_seconds must be a number of seconds from 0 to "
                         f"{MAX_SECONDS:g}, got {seconds!r}")
    return runs, float(seconds)


def evaluate(fn: EvalFunction, data: Any, settings: Settings) -> dict[str, Any]:
    """Run ``fn`` on ``data`` as often as the input asks; the output and per-run timings."""
    min_runs, min_seconds = _runs(data) if fn.repeated else (1, 0.0)
    args = fn.prepare(data)
    timings: list[dict[str, Any]] = []
    total = 0
    while not timings or len(timings) < min_runs or total < min_seconds * 1e9:  # one run at least
        start = time.perf_counter_ns()
        result = fn.run(args, settings)
        elapsed = time.perf_counter_ns() - start
        timings.append({"name": "evaluate", "nanoseconds": elapsed})
        total += elapsed
    return {"success": True, "output": fn.post(result), "timings": timings}


class Session:
    """The tool's state across messages: its settings and the modules defined so far."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.defined: set[str] = set()

    def respond(self, message: Any) -> dict[str, Any]:
        """The response to one parsed message."""
        if not isinstance(message, dict) or "id" not in message:
            raise ProtocolError(f"expected a JSON object with an 'id', got {message!r}")
        response: dict[str, Any] = {"id": message["id"]}
        kind = message.get("kind")
        if kind == "start":
            response["tool"] = TOOL
            response["config"] = {"mode": self.settings.mode, "chunk": self.settings.chunk}
        elif kind == "define":
            response.update(self._define(message.get("module")))
        elif kind == "evaluate":
            response.update(self._evaluate(message))
        return response

    def _define(self, module: Any) -> dict[str, Any]:
        if not isinstance(module, str):
            return {"success": False, "error": f"module must be a string, got {module!r}"}
        if module not in EVALS:
            return {"success": False, "error": f"dualtape has no module {module!r}; "
                                               f"it has {', '.join(sorted(EVALS))}"}
        self.defined.add(module)
        return {"success": True}

    def _evaluate(self, message: dict[str, Any]) -> dict[str, Any]:
        module, function = message.get("module"), message.get("function")
        for name, value in (("module", module), ("function", function)):
            if not isinstance(value, str):
                return {"success": False, "error": f"{name} must be a string, got {value!r}"}
        if module not in self.defined:
            return {"success": False, "error": f"module {module!r} was not defined"}
        functions = EVALS[module]
        if function not in functions:
            return {"success": False, "error": f"module {module!r} has no function "
                                               f"{function!r}; it has {', '.join(functions)}"}
        try:
            return evaluate(functions[function], message.get("input"), self.settings)
        except ValueError as exc:  # bad input: the message names the field
            return {"success": False, "error": str(exc)}
        except MemoryError:
            return {"success": False, "error": "input: too large, not enough memory for it"}
        except Exception as exc:  # reported to the eval, which decides what to do
            return {"success": False,
                    "error": "".join(traceback.format_exception(exc)).rstrip()}


def serve(lines: Iterable[str], out: TextIO, settings: Settings | None = None) -> None:
    """Answer every message line of ``lines`` on ``out``, flushing after each response."""
    session = Session(settings)
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            message = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ProtocolError(f"line {number} is not JSON: {exc}") from exc
        out.write(_encoded(session.respond(message)) + "\n")
        out.flush()


def _encoded(response: dict[str, Any]) -> str:
    """``response`` as strict JSON: an output holding inf or NaN, which JSON cannot carry
    (the harness would reject the line and end the session), becomes a failed evaluation."""
    try:
        return json.dumps(response, allow_nan=False)
    except ValueError:
        ident = response.get("id")
        if isinstance(ident, float) and not math.isfinite(ident):
            return json.dumps({"id": None, "success": False,
                               "error": f"id: {ident} is not a JSON number; send a finite id"})
        return json.dumps({"id": ident, "success": False,
                           "error": "the output holds inf or NaN, which JSON cannot carry"})
