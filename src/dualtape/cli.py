"""The ``dualtape`` command line.

``dualtape study list``                       studies, problems and methods
``dualtape study run NAME [--quick] ...``     measure, plot and summarise a study
``dualtape study run NAME --workers N``       the same, each cell a task on Dask workers
                                             (or ``--scheduler ADDRESS``, ``--scheduler-file F``;
                                             ``--worker-wait SECONDS`` for a first worker, 60)
``dualtape study plot NAME``                  redraw the figures from data.csv
``dualtape study summary NAME``               rewrite summary.md from data.csv
``dualtape compare FILE.py:FUNC [--n N] ...``  every way to differentiate FUNC, timed
                                             (or ``MODULE:FUNC``, an importable module)

Exit status: 0 on success, 1 when the results hold failed cells, 2 on bad
arguments (with a one-line reason), 130 when interrupted (rerun to resume).
Heavy imports (pandas, JAX, matplotlib) happen only inside the commands.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Sequence

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit status 2."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _positive_int(text: str) -> int:
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return int(text)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def _os_error(exc: OSError) -> str:
    """``path: reason`` for a file the command could not read or write."""
    where = exc.filename if exc.filename is not None else ""
    return f"{where}: {exc.strerror}" if where and exc.strerror else str(exc)


def _fail(prog: str, message: str, status: int) -> int:
    print(f"{prog}: error: {message}", file=sys.stderr)
    return status


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (exposed for docs and tests)."""
    from dualtape import __version__

    parser = _Parser(prog="dualtape", description="Forward and reverse mode automatic "
                     "differentiation side by side, and a harness that measures their cost.")
    parser.add_argument("--version", action="version", version=f"dualtape {__version__}")
    top = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    top.required = True

    study = top.add_parser(
        "study", help="run, plot and summarise cost studies (forward vs reverse mode)",
        description="Studies live as modules with a STUDY object in ./studies, in the "
        "repository's studies/, in $DUALTAPE_STUDIES folders, or in installed plugins.")
    sub = study.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    sub.required = True

    sub.add_parser("list", help="list the studies, problem families and methods",
                   description="List every study that can be run, with where it was found, "
                   "then the problem families and Jacobian methods studies can use.")

    run = sub.add_parser(
        "run", help="measure a study, then write its plots and summary",
        description="Measure every cell of a study into results/<study>/data.csv (rows are "
        "appended as they are measured: rerun the same command to resume after an "
        "interruption), then draw the figures and write summary.md. Exits 1 if any cell "
        "failed its check against JAX.")
    run.add_argument("name", metavar="NAME", help="study to run (see 'dualtape study list')")
    run.add_argument("--quick", action="store_true",
                     help="small sizes and short timing (under a minute); default output "
                     "results/quick/<study>")
    run.add_argument("--sizes", nargs="+", metavar="N",
                     help="positive integers replacing the sizes of every sweep of the study")
    run.add_argument("--out", metavar="DIR", help="results folder (default results/<study>)")
    run.add_argument("--problems", nargs="+", metavar="P",
                     help="measure these problem families instead of the study's")
    run.add_argument("--methods", nargs="+", metavar="M",
                     help="measure only these of the study's methods")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    where = run.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="run each cell as a task on the Dask scheduler at ADDRESS "
                       "(e.g. tcp://10.0.0.5:8786); needs pip install \"dualtape[dask]\"")
    where.add_argument("--scheduler-file", metavar="F",
                       help="the same, with the scheduler found through its scheduler file")
    where.add_argument("--workers", type=_positive_int, metavar="N",
                       help="start a Dask LocalCluster of N single-threaded worker processes "
                       "here (parallel timings interfere: for counts and checks, or idle cores)")
    run.add_argument("--worker-wait", type=_seconds, metavar="SECONDS",
                     help="with --scheduler or --scheduler-file: how long to wait for a first "
                     "worker to join, or for one to come back once every worker has left, "
                     "before giving up with an error (default 60)")

    for action, text in (("plot", "redraw the figures (PNG and SVG) from data.csv"),
                         ("summary", "rewrite summary.md from data.csv")):
        p = sub.add_parser(action, help=text, description=text[0].upper() + text[1:] + ".")
        p.add_argument("name", metavar="NAME", help="study (see 'dualtape study list')")
        p.add_argument("--quick", action="store_true", help="use results/quick/<study>")
        p.add_argument("--out", metavar="DIR", help="results folder (default results/<study>)")

    from dualtape.comparison.cli import add_arguments

    add_arguments(top.add_parser(
        "compare", help="compare every way to differentiate your function (and JAX's)",
        description="Load FUNC from FILE.py (or from an importable MODULE), call it on a "
        "random input (or --input), run "
        "every Jacobian (or, with --order 2, Hessian) method of dualtape and JAX on it, check "
        "each against JAX, time them interleaved, print the table and the recommendation, "
        "and write table.csv, env.json and compare.png to --out. Exits 2 on a bad input, 1 "
        "when every method failed."))
    return parser


def _list() -> int:
    from dualtape import study as st

    found = st.studies()
    print("Studies (dualtape study run NAME):")
    for name, s in found.items():
        text = textwrap.wrap(s.description, 74) or [""]
        print(f"  {name:22s} {text[0]}")
        for line in text[1:] + ([f"[{s.source}]"] if s.source else []):
            print(f"  {'':22s} {line}")
    if not found:
        print("  none found: run from the repository, or set DUALTAPE_STUDIES")
    print("\nProblem families (f: R^n -> R^m):")
    for name in st.problem_names():
        print(f"  {name:22s} {st.get_problem(name).description}")
    print("\nMethods:")
    for name in st.method_names():
        print(f"  {name:22s} {st.get_method(name).label}")
    for where, reason in st.broken().items():
        print(f"warning: could not load study module {where}: {reason}", file=sys.stderr)
    return EXIT_OK


def _run(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from dualtape import study as st

    flag = next((f for f, v in (("--workers", args.workers), ("--scheduler", args.scheduler),
                                ("--scheduler-file", args.scheduler_file)) if v is not None), None)
    if flag is not None:
        from dualtape.study.cluster import require_dask

        require_dask(flag)  # without the extra, fail at once
    if args.worker_wait is not None and flag is None:
        raise st.StudyError("waits for Dask workers: give it with --scheduler, "
                            "--scheduler-file or --workers", "--worker-wait")
    study = st.get_study(args.name)
    if flag is not None and study.run is not None:  # before any cluster starts
        raise st.StudyError(f"study {study.name!r} brings its own run, which cannot be spread "
                            f"over a Dask cluster; run it without {flag}", flag)
    sizes = st.check_sizes(args.sizes, "--sizes") if args.sizes is not None else None
    if study.run is None:  # a study with its own run checks its own problems and methods
        for p in args.problems or ():
            st.get_problem(p)
        for m in args.methods or ():
            st.get_method(m)
    kwargs = dict(out=args.out, quick=args.quick, sizes=sizes, problems=args.problems,
                  methods=args.methods, progress=not args.no_progress,
                  command=["dualtape", *argv])
    if args.scheduler is None and args.scheduler_file is None and args.workers is None:
        report = st.run(study, **kwargs)
    else:
        from dualtape.study.cluster import connect

        with connect(scheduler=args.scheduler, scheduler_file=args.scheduler_file,
                     workers=args.workers) as client:
            report = st.run(study, client=client, worker_wait=args.worker_wait, **kwargs)
    if report.repaired_bytes:
        print(f"note: dropped a torn last line ({report.repaired_bytes} bytes) left by an "
              "interrupted run", file=sys.stderr)
    if report.dropped_rows:
        print(f"note: dropped {report.dropped_rows} row(s) of incomplete measurement groups left "
              "by an interrupted run; they are measured again", file=sys.stderr)
    print(f"{study.name}: measured {report.cells_measured} cells "
          f"({report.cells_already_done} already done) in {report.elapsed_s:.1f} s -> "
          f"{report.out}")
    if report.interrupted:
        return _fail("dualtape study run", f"interrupted after {report.cells_measured} cells; "
                     "rerun the same command to resume", EXIT_INTERRUPTED)
    for path in report.files:
        print(f"  {path}")
    if report.cells_measured == 0 and report.cells_already_done:
        print(f"note: nothing measured: every cell is already in {report.out}/data.csv (the "
              "figures and summary were redrawn from it); to measure afresh, delete that "
              "folder or pass --out DIR", file=sys.stderr)
    if report.failed:
        where = "summary.md" if study.run is None else "the note column of data.csv"
        more = f" (and {len(report.failed) - 1} more, see {where})" if len(report.failed) > 1 \
            else ""
        return _fail("dualtape study run", f"{len(report.failed)} failed cell(s): "
                     f"{report.failed[0]}{more}", EXIT_FAILED)
    return EXIT_OK


def _plot(args: argparse.Namespace) -> int:
    from dualtape import study as st

    for path in st.plot(st.get_study(args.name), out=args.out, quick=args.quick):
        print(path)
    return EXIT_OK


def _summary(args: argparse.Namespace) -> int:
    from dualtape import study as st

    s = st.get_study(args.name)
    path = st.summary(s, out=args.out, quick=args.quick)
    print(path)
    if s.summary is None:
        from dualtape.study.analysis import cells, load

        c = cells(load(path.parent))
        if len(c) and c["failed"].any():
            return _fail("dualtape study summary",
                         f"{int(c['failed'].sum())} failed cell(s) in {path.parent}", EXIT_FAILED)
    return EXIT_OK


def _compare(args: argparse.Namespace, argv: list[str]) -> int:
    from dualtape.comparison.cli import CompareError, run

    try:
        return run(args, argv)
    except CompareError as exc:
        return _fail("dualtape compare", str(exc), EXIT_USAGE)
    except OSError as exc:  # a path that is a folder, unreadable or unwritable
        return _fail("dualtape compare", _os_error(exc), EXIT_USAGE)
    except KeyboardInterrupt:
        return _fail("dualtape compare", "interrupted", EXIT_INTERRUPTED)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``dualtape`` console script; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    prog = f"dualtape {args.command}" + (f" {args.action}" if args.command == "study" else "")
    if getattr(args, "out", None) is not None and not args.out.strip():
        return _fail(prog, "--out: expected a folder, got an empty path", EXIT_USAGE)
    from dualtape.extras import MissingExtraError, require

    try:  # pandas, matplotlib, tqdm and JAX: one line, not an ImportError from deep inside
        require("study")
    except MissingExtraError as exc:
        return _fail(prog, str(exc), EXIT_USAGE)
    if args.command == "compare":
        return _compare(args, argv)
    try:
        from dualtape.study.spec import StudyError
    except ImportError as exc:  # the harness needs pandas & co.
        return _fail(prog, f"the study harness cannot load: {exc}", EXIT_FAILED)
    try:
        if args.action == "list":
            return _list()
        if args.action == "run":
            with _term_as_interrupt():
                return _run(args, argv)
        if args.action == "plot":
            return _plot(args)
        return _summary(args)
    except StudyError as exc:
        return _fail(prog, str(exc), EXIT_USAGE)
    except OSError as exc:  # a path that is a folder, unreadable or unwritable
        return _fail(prog, _os_error(exc), EXIT_USAGE)
    except KeyboardInterrupt:
        return _fail(prog, "interrupted", EXIT_INTERRUPTED)


class _term_as_interrupt:  # noqa: N801 - used as a context manager
    """SIGTERM (a job scheduler's stop, ``kill``) ends a run as Ctrl-C does: the cells
    measured are kept, ``env.json`` says "interrupted", and the message says how to resume.
    Both signals also leave a request (:mod:`dualtape.study.stop`) that the sweeps act on
    between cells, should the ``KeyboardInterrupt`` land in a GC callback and be dropped."""

    SIGNALS = ("SIGINT", "SIGTERM")

    def __enter__(self) -> None:
        import signal
        import threading

        from dualtape.study import stop

        stop.clear()
        self.previous: dict = {}
        if threading.current_thread() is threading.main_thread():
            for name in self.SIGNALS:
                number = getattr(signal, name)
                self.previous[number] = signal.signal(number, _raise_interrupt)

    def __exit__(self, *exc: object) -> None:
        import signal

        for number, handler in self.previous.items():
            signal.signal(number, handler)


def _raise_interrupt(signum: int, frame: object) -> None:
    from dualtape.study import stop

    stop.request()
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
