"""``dt.compare``: every applicable method on the user's function, checked and timed together."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..modes import n_inputs, n_outputs
from ..tree import flatten
from .methods import (
    MAX_HELD,
    Method,
    affordable,
    first_order,
    jax_methods,
    reference_kind,
    second_order,
    to_jax,
)
from .result import Comparison, tolerance

__all__ = ["compare", "short_error"]


def short_error(exc: BaseException) -> str:
    """``Type: first line of the message``; never the notes JAX appends to its errors. A
    user's ``sys.exit`` is said as such."""
    if isinstance(exc, SystemExit):
        return f"it called sys.exit({exc.code!r})"
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0].strip()}" if lines else type(exc).__name__


def computed_dtype(*trees: Any) -> np.dtype:
    """The narrowest float among the leaves of ``trees`` (Python floats are float64)."""
    narrowest = np.dtype(np.float64)
    for leaf in flatten(trees)[0]:
        dtype = np.dtype(np.float64) if isinstance(leaf, float) else getattr(leaf, "dtype", None)
        try:
            if np.finfo(dtype).eps > np.finfo(narrowest).eps:
                narrowest = np.dtype(dtype)
        except (TypeError, ValueError):  # not a float (ints, bools, objects)
            continue
    return narrowest


def _jax_argnums(argnums: int | Sequence[int]) -> int | tuple[int, ...]:
    return argnums if isinstance(argnums, (int, np.integer)) else tuple(argnums)


def rel_error(got: Any, ref: Any) -> float:
    """max |got - ref| / max |ref| over all leaves; infinite on a mismatch of structure."""
    from ..study.measure import max_relative_error

    g, r = flatten(got)[0], flatten(ref)[0]
    if len(g) != len(r):
        return math.inf
    ga = [np.asarray(x, dtype=np.float64) for x in g]
    ra = [np.asarray(x, dtype=np.float64) for x in r]
    if any(a.shape != b.shape for a, b in zip(ga, ra, strict=True)):
        return math.inf
    if not ra:
        return 0.0
    return max_relative_error(np.concatenate([a.ravel() for a in ga]),
                              np.concatenate([b.ravel() for b in ra]))


def _select(available: list[Method], methods: Sequence[str] | None) -> list[Method]:
    if methods is None:
        return available
    if isinstance(methods, str) or not hasattr(methods, "__iter__"):
        raise TypeError(f"methods: expected a sequence of method names, got {methods!r}")
    methods = list(methods)  # a generator is read once
    if not all(isinstance(m, str) for m in methods):
        raise TypeError(f"methods: expected a sequence of method names, got {methods!r}")
    names = [m.name for m in available]
    if not methods:
        raise ValueError(f"methods: expected at least one method name; valid: {', '.join(names)}")
    unknown = [m for m in methods if m not in names]
    if unknown:
        raise ValueError(f"methods: unknown method(s) {', '.join(map(repr, unknown))} for this "
                         f"function; valid: {', '.join(names)}")
    return [m for m in available if m.name in methods]


def _jax_reference(fun: Callable, args: tuple, argnums: Any, order: int, notes: list[str],
                   n: int, m: int) -> tuple[bool, Any]:
    """Whether ``fun`` runs under JAX, and JAX's derivative (None when unavailable)."""
    try:
        from .methods import enable_jax

        jax = enable_jax()
    except ImportError as exc:
        notes.append(f"JAX methods skipped and nothing checked: JAX is not installed ({exc})")
        return False, None
    jargs = to_jax(args)
    try:
        jax.block_until_ready(fun(*jargs))
    except Exception as exc:  # noqa: BLE001 - any failure means "does not run under JAX"
        notes.append(f"JAX methods skipped and nothing checked: the function does not run on "
                     f"JAX arrays ({short_error(exc)})")
        return False, None
    transform = getattr(jax, reference_kind(n, m, order))
    try:
        return True, transform(fun, _jax_argnums(argnums))(*jargs)
    except Exception as exc:  # noqa: BLE001
        notes.append(f"nothing checked: JAX could not differentiate the function ({short_error(exc)})")
        return True, None


def _progress(total: int, enabled: bool, what: str):
    """A tqdm bar that appears only once the run has lasted a second, or None."""
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=what, unit="step", delay=1.0, leave=False)


def compare(fun: Callable, *args: Any, argnums: int | Sequence[int] = 0, order: int = 1,
            methods: Sequence[str] | None = None, repeats: int | None = None,
            progress: bool = False) -> Comparison:
    """Run every applicable method on ``fun(*args)``, check each against JAX, time them together.

    ``order=1`` compares Jacobian methods: dualtape's forward and reverse mode with one
    direction per pass, a few chunk sizes and vector mode, and JAX's ``jacfwd`` and
    ``jacrev``, eager and jit.  ``order=2`` compares Hessians: the four compositions of
    dualtape's modes and JAX's ``hessian``, eager and jit.  JAX's methods run only if
    ``fun`` runs on JAX arrays (``dualtape.numpy`` ops do); otherwise they are skipped
    with a note and nothing is checked.  JAX's float64 mode is switched on.

    A method that would push more than ``MAX_WORK`` values in all, or hold more than
    ``MAX_HELD`` at once (``comparison.methods``), is left out with a note; a derivative of
    more than ``MAX_HELD`` entries raises (it would not fit in memory, or would not finish).

    Each method is called once and checked against JAX's ``jacfwd`` (``hessian``; ``jacrev``
    where only it is within the budget): above
    a relative error of 1e-8 (in float64; ``sqrt(eps)`` of a narrower float the
    derivative is computed in, see ``result.tolerance``) it is marked failed and is never
    ``best``.  A method that raises is marked failed with its error, and so is one that
    raises later, when timed; if ``dt.choose_mode`` raises, a note says so.  dualtape's
    methods are also counted (``dt.count()``) and memory-profiled (tracemalloc), each in
    a run of its own.  Then all of them, and one plain evaluation of ``fun``, are timed
    in the same process, interleaved round by round: ``repeats`` rounds (default 7) of
    calibrated samples of about 10 ms; the table gives the median and quartiles.
    An empty differentiated input, an output that is not floats, or ``fun`` itself
    raising on ``args`` raise (there is nothing to compare).

    ``methods`` restricts the run to some of the method names (see ``Comparison.table``).
    ``progress=True`` shows a progress bar once the run has lasted a second.
    """
    from ..extras import require

    require("study", "dt.compare")
    from ..measure.timing import TimingConfig, interleaved_steps

    if order not in (1, 2) or isinstance(order, bool):
        raise ValueError(f"order: expected 1 (Jacobian) or 2 (Hessian), got {order!r}")
    if repeats is not None and (not isinstance(repeats, (int, np.integer))
                                or isinstance(repeats, bool) or repeats < 1):
        raise ValueError(f"repeats: expected a positive int, got {repeats!r}")
    if not callable(fun):
        raise TypeError(f"fun: expected a callable, got {type(fun).__name__}")
    # 7 rounds of ~10 ms batches by default, the collector off while timing
    cfg = TimingConfig(target_s=0.01, repeats=7 if repeats is None else int(repeats), warmup=1)
    n = n_inputs(args, argnums)
    if n == 0:
        raise ValueError("args: the differentiated input is empty (0 values); there is "
                         "nothing to differentiate")
    from ..argchecks import output_leaf as _output_leaf

    out = fun(*args)
    if out is None:
        raise TypeError("fun: returned None, so there is nothing to differentiate (a missing "
                        "return statement?)")
    for k, leaf in enumerate(flatten(out)[0]):
        _output_leaf(leaf, f"output leaf {k}")
        kind = np.asarray(leaf).dtype.kind
        if kind != "f":  # an int or bool output has a zero derivative in every mode
            raise TypeError(f"fun: output leaf {k} has dtype {np.asarray(leaf).dtype}, which has "
                            "no derivative: there is nothing to compare (return floats)")
    m = n_outputs(out)
    notes: list[str] = []
    if not all(np.all(np.isfinite(leaf)) for leaf in flatten(out)[0]):
        notes.append("the function's output has NaN or infinite entries at this input: its "
                     "derivative there may mean nothing (log of a negative number?)")
    if order == 1:
        candidates, dropped = first_order(n, m)
        notes += dropped
    else:
        candidates = second_order()
    entries = n * m if order == 1 else n * n * m
    if entries > MAX_HELD:
        raise ValueError(f"args: the {'Jacobian' if order == 1 else 'Hessian'} would have "
                         f"{entries:,} entries (n = {n:,}, m = {m:,}), more than dt.compare "
                         f"computes densely ({MAX_HELD:,}); use a smaller input")
    chosen = _select(candidates + jax_methods(order), methods)
    chosen, over = affordable(chosen, n, m, order)
    notes += over
    if not chosen:
        raise ValueError(f"args: with n = {n:,} and m = {m:,} every method chosen is beyond "
                         f"dt.compare's budget; use a smaller input ({'; '.join(over)})")
    runs_jax, ref = _jax_reference(fun, args, argnums, order, notes, n, m)
    if ref is not None and not all(np.all(np.isfinite(r)) for r in flatten(ref)[0]):
        # where a NaN spreads differs between methods (vector mode mixes columns)
        notes.append("nothing checked: JAX's derivative has NaN or infinite entries (at a NaN or "
                     "infinite input, or a singular point)")
        ref = None
    if not runs_jax:
        chosen = [m for m in chosen if m.engine != "jax"]
    dtype = computed_dtype(args, out, ref)
    tol = tolerance(dtype)
    rows: dict[str, dict[str, Any]] = {}
    runners: dict[str, Callable[[], Any]] = {"f": lambda: fun(*args)}
    bar = _progress(len(chosen) + interleaved_steps(len(chosen) + 1, cfg), progress,
                    f"compare {getattr(fun, '__name__', 'f')}")
    for meth in chosen:
        rows[meth.name] = row = {
            "method": meth.name, "label": meth.label, "mode": meth.mode, "chunk": meth.chunk,
            "engine": meth.engine, "jit": meth.jit, "status": "ok", "note": "",
            "max_rel_error": math.nan}
        runner = _check(meth, row, fun, args, argnums, order, ref, tol)
        if runner is not None:
            runners[meth.name] = runner
        if bar is not None:
            bar.update()
    try:
        samples = _timed(runners, rows, cfg, bar)
    finally:
        if bar is not None:
            bar.close()
    choice = None
    if order == 1:
        from ..choice import choose_mode

        try:
            choice = choose_mode(fun, *args, argnums=argnums)
        except Exception as exc:  # noqa: BLE001 - the table stands without the prediction
            notes.append(f"dt.choose_mode failed: {short_error(exc)}")
    eval_s = float(np.median(samples.pop("f")))
    for name, ts in samples.items():
        q1, med, q3 = np.percentile(ts, [25, 50, 75])
        rows[name].update(time_s=float(med), time_q1=float(q1), time_q3=float(q3),
                          relative_time=float(med) / eval_s, samples=len(ts))
    return Comparison(rows=list(rows.values()), n=n, m=m, order=order, eval_time_s=eval_s,
                      function=getattr(fun, "__name__", "f"), notes=notes, choice=choice,
                      repeats=cfg.repeats, dtype=str(dtype), tolerance=tol)


def _check(meth: Method, row: dict[str, Any], fun: Callable, args: tuple, argnums: Any,
           order: int, ref: Any, tol: float) -> Callable[[], Any] | None:
    """Run, check, count and profile one method into ``row``; its runner, None if it raised."""
    from ..study.measure import counts, peak_memory

    try:
        runner = meth.runner(fun, args, argnums, order)
        result = runner()
        if meth.counted:
            row.update(counts(runner), peak_bytes=peak_memory(runner))
    except Exception as exc:  # noqa: BLE001 - a method that raises is a failed method
        row.update(status="failed", note=f"raised {short_error(exc)}")
        return None
    if ref is None:
        row["status"] = "unchecked"
        return runner
    err = rel_error(result, ref)
    row["max_rel_error"] = err
    if not err <= tol:
        row.update(status="failed", note=f"differs from JAX (max rel. error {err:.3g} > "
                                         f"{tol:.2g})")
    return runner


def _timed(runners: dict[str, Callable[[], Any]], rows: dict[str, dict[str, Any]], cfg: Any,
           bar: Any) -> dict[str, list[float]]:
    """``interleaved`` timings; a method that raises while timed is failed and left out."""
    from ..measure.timing import interleaved

    while True:
        try:
            return interleaved(runners, cfg, tick=None if bar is None else bar.update)
        except Exception:
            raised = {}
            for name in [k for k in runners if k != "f"]:
                try:
                    runners[name]()
                except Exception as exc:  # noqa: BLE001
                    raised[name] = exc
            if not raised:  # the plain evaluation, or a failure that did not come back
                raise
            for name, exc in raised.items():
                del runners[name]
                rows[name].update(status="failed",
                                  note=f"raised {short_error(exc)} when called again")
