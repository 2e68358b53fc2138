"""dualtape's study harness: how forward and reverse mode costs grow with n and m.

A *study* (``Study``) sweeps problem families f: R^n -> R^m (``Problem``)
over sizes (``Sweep``) and measures, for every method of computing the full
Jacobian (``Method``): wall time, primitive applications and FLOPs from the
registry's cost model, peak memory and tape bytes, and the error against JAX.
Rows land in ``results/<study>/data.csv`` as they are measured; plots, fits
and ``summary.md`` are generated from that file.

From Python, on your own problem::

    import dualtape.numpy as dnp
    from dualtape.study import Study, Sweep, problem, run, plot

    @problem("sine_map", "sin(A x)")
    def sine_map(n, m, depth, rng):
        A = rng.standard_normal((m, n))
        return (lambda x: dnp.sin(dnp.matmul(A, x))), rng.standard_normal(n)

    report = run(sine_map, sizes=[2, 8, 32], out="results/sine_map")  # n and m sweeps
    # or a full Study(...) for your own sweeps and methods

From the shell: ``dualtape study list | run NAME | plot NAME | summary NAME``.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .catalog import broken, get_study, register_study, studies
from .methods import ALL_METHODS, Method, get_method, method_names, register_method
from .problems import Instance, Problem, get_problem, problem, problem_names, register_problem
from .spec import GROUPS, Study, StudyError, Sweep, TimingConfig, check_sizes
from .storage import DATA_FILE, check_owner
from .sweep import RunReport, default_out, execute, plan

__all__ = [
    "ALL_METHODS", "GROUPS", "Instance", "Method", "Problem", "RunReport", "Study",
    "StudyError", "Sweep", "TimingConfig", "broken", "check_sizes", "default_out",
    "get_method", "get_problem", "get_study", "jacobian_study", "method_names", "plan",
    "plot", "problem", "problem_names", "register_method", "register_problem",
    "register_study", "results_dir", "run", "studies", "summary",
]

DEFAULT_SIZES = (2, 4, 8, 16, 32, 64)
DEFAULT_QUICK_SIZES = (2, 8, 32)


def jacobian_study(
    problem: Problem | str,
    *,
    name: str | None = None,
    methods: Sequence[str] = ALL_METHODS,
    fixed: int = 8,
    sizes: Sequence[int] = DEFAULT_SIZES,
    quick_sizes: Sequence[int] = DEFAULT_QUICK_SIZES,
) -> Study:
    """A ready-made study of one problem: n swept at m = ``fixed``, m swept at n = ``fixed``."""
    p = get_problem(problem)
    return Study(
        name=name or p.name,
        description=f"Jacobian cost of '{p.name}' ({p.description}) against n and against m.",
        problems=(p,),
        methods=tuple(methods),
        sweeps=(Sweep("n", ("n",), {"m": fixed}), Sweep("m", ("m",), {"n": fixed})),
        sizes=tuple(sizes),
        quick_sizes=tuple(quick_sizes),
    )


def _as_study(study: Study | Problem | str) -> Study:
    if isinstance(study, Problem):
        return jacobian_study(study)
    return get_study(study)


def results_dir(study: Study | str, out: Path | str | None = None, quick: bool = False) -> Path:
    """Where a study's results live: ``out`` or ``results/[quick/]<study>``."""
    name = study.name if isinstance(study, Study) else str(study)
    return Path(out) if out is not None else default_out(name, quick)


def _existing_results(study: Study, out: Path | str | None, quick: bool) -> Path:
    """The study's results folder, refused when it has no data or is another study's."""
    folder = results_dir(study, out, quick)
    if not (folder / DATA_FILE).exists():
        hint = f"dualtape study run {study.name}{' --quick' if quick else ''}"
        raise StudyError(f"no results in '{folder}' (no {DATA_FILE}); run `{hint}` first",
                         "--out" if out is not None else study.name)
    check_owner(folder, study.name)
    return folder


#: The CLI's filters, by the name of the argument a study's own ``run`` takes for them.
FILTERS = {"sizes": "--sizes", "problems": "--problems", "methods": "--methods"}


def _own_run(s: Study, *, client: Any, **kwargs: Any) -> RunReport:
    """Call a study's own ``run`` with the filters it takes; refuse the ones it lacks."""
    if client is not None:
        raise StudyError(f"study {s.name!r} brings its own run, which cannot be spread "
                         "over a Dask cluster; run it without a scheduler", "client")
    takes = inspect.signature(s.run).parameters
    for arg, flag in FILTERS.items():
        if kwargs[arg] is None:
            del kwargs[arg]
        elif arg not in takes:
            raise StudyError(f"study {s.name!r} has no {arg} to choose from; run it "
                             f"without {flag}", flag)
    return s.run(s, **kwargs)


def _listed(values: Any, arg: str, what: str) -> list:
    """``values`` as a non-empty list; a lone string or number is refused by name (a string
    would otherwise be read character by character)."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence | set | frozenset
                                                                | np.ndarray) \
            or (isinstance(values, np.ndarray) and values.ndim != 1):
        raise StudyError(f"expected a list of {what}, got {values!r}", arg)
    if len(values) == 0:
        raise StudyError(f"expected at least one of the {what}, got none", arg)
    return list(values)


def run(
    study: Study | Problem | str,
    *,
    out: Path | str | None = None,
    quick: bool = False,
    sizes: Sequence[int] | None = None,
    problems: Sequence[str] | None = None,
    methods: Sequence[str] | None = None,
    timing: TimingConfig | None = None,
    progress: bool = False,
    figures: bool = True,
    command: list[str] | None = None,
    client: Any = None,
    worker_wait: float | None = None,
) -> RunReport:
    """Measure a study (or a lone problem) into ``out``, then plot and summarise it.

    Cells already in ``out/data.csv`` are skipped, so rerunning after an
    interruption resumes.  ``sizes`` replaces every sweep's sizes; ``problems``
    and ``methods`` restrict the study; ``timing`` overrides its timing
    profile.  With a Dask ``client`` (``distributed.Client``) each cell is one
    task on its cluster and rows are appended as tasks complete (see
    ``dualtape.study.cluster``); a scheduler that has no worker after ``worker_wait``
    seconds (``cluster.WORKER_WAIT_S``, 60, by default), at the start or once every worker
    has left, is a ``StudyError``.  A study
    with its own ``run`` callable gets ``out``, ``quick``, ``progress`` and
    ``command``, and those of ``sizes``,
    ``problems`` and ``methods`` that are given (a study whose ``run`` has no such
    parameter refuses them), and must return a ``RunReport``.
    """
    s = _as_study(study)
    if sizes is not None:
        sizes = check_sizes(_listed(sizes, "sizes", "positive integers"), "--sizes")
    if problems is not None:
        problems = _listed(problems, "problems", "problem names")
    if methods is not None:
        methods = _listed(methods, "methods", "method names")
    if timing is not None and not isinstance(timing, TimingConfig):
        raise StudyError(f"expected a TimingConfig, got {type(timing).__name__}", "timing")
    if out is not None and not isinstance(out, (str, Path)):
        raise StudyError(f"expected a folder (str or Path), got {type(out).__name__}", "out")
    if s.run is not None:
        return _own_run(s, client=client, out=results_dir(s, out, quick), quick=quick,
                        sizes=sizes, problems=problems, methods=methods, progress=progress,
                        command=command)
    report = execute(s, out=out, quick=quick, sizes=sizes, problems=problems, methods=methods,
                     timing=timing, progress=progress, command=command, client=client,
                     worker_wait=worker_wait)
    if figures and not report.interrupted:
        report.files += plot(s, out=report.out)
        report.files.append(summary(s, out=report.out))
    return report


def plot(study: Study | Problem | str, *, out: Path | str | None = None,
         quick: bool = False) -> list[Path]:
    """Draw the study's figures (PNG and SVG) from its ``data.csv``; returns the files."""
    s = _as_study(study)
    folder = _existing_results(s, out, quick)
    if s.plot is not None:
        return list(s.plot(s, out=folder))
    from .plots import plot_results

    return plot_results(folder)


def summary(study: Study | Problem | str, *, out: Path | str | None = None,
            quick: bool = False) -> Path:
    """Write ``summary.md`` from the study's ``data.csv``; returns its path."""
    s = _as_study(study)
    folder = _existing_results(s, out, quick)
    if s.summary is not None:
        return Path(s.summary(s, out=folder))
    from .summarize import write_summary

    return write_summary(folder, s)
