"""``Comparison``: the table of a ``dt.compare`` run, its best method and what to make of it."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from ..choice import ModeChoice

TOLERANCE = 1e-8  # largest relative error accepted against JAX in float64
COLUMNS = ("method", "mode", "chunk", "engine", "time_s", "time_q1", "time_q3", "relative_time",
           "n_ops", "flops", "tape_bytes", "peak_bytes", "max_rel_error", "status", "label",
           "note")
_SHOWN = ("method", "time_s", "relative_time", "n_ops", "flops", "tape_bytes", "peak_bytes",
          "max_rel_error", "status")


def tolerance(dtype: Any) -> float:
    """The largest relative error accepted against JAX for a derivative computed in ``dtype``.

    1e-8 in float64 (and wider floats); in a narrower float the square root of its machine
    epsilon, i.e. half its digits as 1e-8 is of float64's: 3.5e-4 in float32, 3.1e-2 in
    float16.
    """
    import numpy as np

    eps = float(np.finfo(dtype).eps)
    return TOLERANCE if eps <= float(np.finfo(np.float64).eps) else math.sqrt(eps)


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3g} ms" if seconds < 1 else f"{seconds:.3g} s"


def _int(v: Any) -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{int(v):,}"


@dataclass
class Comparison:
    """What ``dt.compare`` measured: one row per method, and the verdict.

    ``rows`` are dicts with the columns of :attr:`table`; ``n`` and ``m`` are the numbers
    of inputs and outputs; ``eval_time_s`` is the median time of one plain evaluation of
    the function (the unit of ``relative_time``); ``choice`` is what
    :func:`dualtape.choose_mode` predicts (order 1 only); ``notes`` lists what was left
    out and why.  ``dtype`` is the float the derivative was computed in (the narrowest
    among the arguments, the output and JAX's result) and ``tolerance`` the largest
    relative error against JAX a method may have (:func:`tolerance` of ``dtype``).
    """

    rows: list[dict[str, Any]]
    n: int
    m: int
    order: int
    eval_time_s: float
    function: str = "f"
    notes: list[str] = field(default_factory=list)
    choice: ModeChoice | None = None
    repeats: int = 0
    dtype: str = "float64"
    tolerance: float = TOLERANCE

    @property
    def table(self) -> pd.DataFrame:
        """One row per method, fastest first (pandas ``DataFrame``).

        Columns: ``method``, ``mode``, ``chunk`` (None: vector mode), ``engine``, ``time_s``
        (median seconds per call), ``time_q1``/``time_q3`` (quartiles over the rounds),
        ``relative_time`` (over one evaluation of the function), ``n_ops``, ``flops``,
        ``tape_bytes`` (dualtape's counters), ``peak_bytes`` (tracemalloc), ``max_rel_error``
        (against JAX; NaN where unchecked), ``status`` (``ok``, ``failed`` or
        ``unchecked``), ``label`` and ``note``.
        """
        import pandas as pd

        df = pd.DataFrame([{c: r.get(c, math.nan) for c in COLUMNS} for r in self.rows],
                          columns=list(COLUMNS))
        df["chunk"] = df["chunk"].astype(object).where(df["chunk"].notna(), None)
        return df.sort_values("time_s", na_position="last", kind="stable").reset_index(drop=True)

    def _ranked(self, engine: str | None = None, mode: str | None = None) -> list[dict]:
        ok = [r for r in self.rows if r["status"] != "failed" and not math.isnan(
            r.get("time_s", math.nan)) and (engine is None or r["engine"] == engine)
            and (mode is None or r["mode"] == mode)]
        return sorted(ok, key=lambda r: r["time_s"])

    @property
    def best(self) -> str | None:
        """The name of the fastest method that did not fail (None if all failed)."""
        ranked = self._ranked()
        return ranked[0]["method"] if ranked else None

    @property
    def recommendation(self) -> str:
        """A sentence: which method to use and why, in terms of n, m and the measured costs."""
        ranked = self._ranked()
        if not ranked:
            return (f"Every method failed on {self.function} (n = {self.n}, m = {self.m}); "
                    "see the notes column.")
        best = ranked[0]
        head = (f"{self.function} has n = {self.n} inputs and m = {self.m} output"
                f"{'s' if self.m != 1 else ''}. Use {best['method']} ({best['label']}): "
                f"{_ms(best['time_s'])} per call, {best['relative_time']:.3g}× one evaluation")
        return head + self._why(best) + self._dualtape_note(best) + self._choice_note()

    def _why(self, best: dict) -> str:
        if self.order == 2:
            others = [r for r in self._ranked("dualtape") if r["method"] != best["method"]]
            if not others:
                return "."
            worst = others[-1]
            return (f", {worst['time_s'] / best['time_s']:.2g}× faster than the slowest "
                    f"composition ({worst['method']}).")
        other = "rev" if best["mode"] == "fwd" else "fwd"
        rivals = self._ranked(mode=other)
        if not rivals:
            return "."
        rival = rivals[0]
        ratio = rival["time_s"] / best["time_s"]
        than = f"{ratio:.2g}× faster than" if ratio >= 1.05 else "level with"
        name = {"fwd": "forward", "rev": "reverse"}
        head = (f", {than} the best {name[other]}-mode method ({rival['method']}, "
                f"{_ms(rival['time_s'])}). With n = {self.n} and m = {self.m}, ")
        return head + self._counts(best["mode"]) + self._flops(best, rival) + "."

    def _counts(self, mode: str) -> str:
        """What the numbers of tangents and cotangents say, for or against ``mode``."""
        s = lambda k: "s" if k != 1 else ""  # noqa: E731
        if self.n == self.m:
            return f"both modes need {self.n} pass{'es' if self.n != 1 else ''}"
        fwd = f"forward mode needs {self.n} tangent{s(self.n)}"
        rev = f"reverse mode needs {self.m} cotangent{s(self.m)}"
        favoured = "fwd" if self.n < self.m else "rev"
        said = f"{fwd} where {rev}" if favoured == "fwd" else f"{rev} where {fwd}"
        if mode == favoured:
            return said
        return (f"{said}, yet {'forward' if mode == 'fwd' else 'reverse'} mode measured faster: "
                "at this size the cost of a pass, not the number of directions, decides")

    @staticmethod
    def _flops(best: dict, rival: dict) -> str:
        if not (_finite(best.get("flops")) and _finite(rival.get("flops"))):
            return ""
        return (f"; {best['method']} does {_int(best['flops'])} FLOPs against "
                f"{_int(rival['flops'])} for {rival['method']}")

    def _dualtape_note(self, best: dict) -> str:
        if best["engine"] == "dualtape":
            return ""
        mine = self._ranked("dualtape")
        if not mine:
            return ""
        return (f" Among dualtape's methods, {mine[0]['method']} is fastest "
                f"({_ms(mine[0]['time_s'])}, {mine[0]['time_s'] / best['time_s']:.2g}× "
                f"{best['method']}).")

    def _choice_note(self) -> str:
        c = self.choice
        if c is None:
            return ""
        name = f"{c.mode}_vector" if c.chunk is None else f"{c.mode}_chunk{c.chunk}"
        row = next((r for r in self.rows if r["method"] == name), None)
        mine = self._ranked("dualtape")
        if row is None or not mine or not _finite(row.get("time_s")):
            return f" dt.choose_mode picks {name}."
        regret = row["time_s"] / mine[0]["time_s"]
        verdict = ("the fastest of dualtape's methods" if row is mine[0] else
                   f"within {regret - 1:.0%} of dualtape's fastest ({mine[0]['method']})"
                   if regret < 1.1 else
                   f"{regret:.2g}× the time of dualtape's fastest ({mine[0]['method']})")
        return f" dt.choose_mode (no timing) picks {name}: measured {verdict}."

    @property
    def checked(self) -> str:
        """A sentence: what each method was checked against, at which tolerance."""
        if not any(_finite(r.get("max_rel_error")) for r in self.rows):
            return "nothing checked against JAX"
        from .methods import reference_kind

        return (f"checked against JAX's {reference_kind(self.n, self.m, self.order)}: "
                f"max relative error <= {self.tolerance:.2g} ({self.dtype})")

    def __str__(self) -> str:
        lines = [f"dt.compare({self.function}): n = {self.n}, m = {self.m}, "
                 f"{'Jacobian' if self.order == 1 else 'Hessian'}; one evaluation "
                 f"{_ms(self.eval_time_s)}; medians of {self.repeats} interleaved rounds",
                 self.checked, ""]
        header = ("method", "time", "× f", "n_ops", "FLOPs", "tape bytes", "peak bytes",
                  "rel. error", "status")
        body = []
        for r in sorted(self.rows, key=lambda r: r.get("time_s", math.inf)):
            t = r.get("time_s", math.nan)
            body.append((r["method"], _ms(t) if _finite(t) else "—",
                         f"{r['relative_time']:.3g}" if _finite(r.get("relative_time")) else "—",
                         _int(r.get("n_ops")), _int(r.get("flops")), _int(r.get("tape_bytes")),
                         _int(r.get("peak_bytes")),
                         f"{r['max_rel_error']:.1e}" if _finite(r.get("max_rel_error")) else "—",
                         r["status"] + ("  " + r["note"] if r["note"] else "")))
        widths = [max(len(x[i]) for x in (header, *body)) for i in range(len(header))]
        for line in (header, *body):
            cells = [line[0].ljust(widths[0])] + [c.rjust(w) for c, w in
                                                   zip(line[1:-1], widths[1:-1], strict=True)]
            lines.append("  ".join([*cells, line[-1]]).rstrip())
        lines += ["", f"best: {self.best}", self.recommendation]
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        table = self.table[list(_SHOWN)].to_html(index=False, float_format=lambda v: f"{v:.3g}",
                                                 na_rep="—")
        import html

        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.notes)
        return (f"<div><p><b>dt.compare({html.escape(self.function)})</b>: n = {self.n}, "
                f"m = {self.m}; {html.escape(self.checked)}</p>{table}"
                f"<p>{html.escape(self.recommendation)}</p>"
                f"{f'<ul>{notes}</ul>' if notes else ''}</div>")

    def plot(self, path: str | Path | None = None):
        """Bar chart of median time (with quartiles) and FLOPs per method.

        Returns the matplotlib ``Figure``; with ``path`` it is also saved there (the
        format follows the suffix, written atomically).
        """
        from .figure import comparison_figure

        return comparison_figure(self, path)


def _finite(v: Any) -> bool:
    try:
        return v is not None and math.isfinite(float(v))
    except (TypeError, ValueError):
        return False
