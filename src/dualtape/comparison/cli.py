"""``dualtape compare FILE.py:FUNC`` (or ``MODULE:FUNC``): load a user's function, compare,
print and save.

Every failure a user can cause (no such file or module, no such function, a function that
raises on the input, an input that cannot be differentiated, a bad option) is a
:class:`CompareError`: one line, exit 2.  A method that raises is a failed row of the table.
"""

from __future__ import annotations

import argparse
import importlib
import math
import sys
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any

import numpy as np

from .run import short_error

DEFAULT_N = 100
MAX_N = 10_000_000  # --n: 80 MB of input; a Jacobian of more inputs is out of reach anyway


class CompareError(Exception):
    """A bad input to ``dualtape compare``, said in one line."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``dualtape compare``."""
    p.add_argument("target", metavar="FILE.py:FUNC",
                   help="the Python file and the name of the function in it to differentiate, "
                   "or MODULE:FUNC for an importable module (from the current folder or "
                   "installed), e.g. mypkg.model:predict")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--n", type=int, metavar="N",
                     help=f"call FUNC on a standard-normal vector of N entries (default "
                     f"{DEFAULT_N}, at most {MAX_N:,})")
    src.add_argument("--input", metavar="X.npy", help="call FUNC on the array in this file")
    p.add_argument("--order", type=int, choices=(1, 2), default=1,
                   help="1: compare Jacobian methods (default); 2: compare Hessian methods")
    p.add_argument("--out", metavar="DIR",
                   help="where to write table.csv, env.json and compare.png "
                   "(default results/compare/<FUNC>/)")
    p.add_argument("--repeats", type=int, metavar="R",
                   help="interleaved timing rounds (default 7)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the random input, >= 0 (default 0)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def load_function(target: str) -> tuple[Callable, str, str]:
    """``FILE.py:FUNC`` or ``MODULE:FUNC`` -> (the function, where it is from, its name)."""
    source, sep, name = target.rpartition(":")
    if not sep or not source or not name:
        raise CompareError(f"{target!r}: expected FILE.py:FUNC (a file and a function name) "
                           "or MODULE:FUNC")
    if _is_module_name(source):
        module = _import_module(source)
    else:
        from ..study.catalog import import_file

        path = Path(source)
        if not path.is_file():
            raise CompareError(f"{source}: no such file")
        try:
            module = import_file(path, "dualtape_compare", sibling_imports=True)
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - any error in the user's file
            raise CompareError(f"{source}: could not be loaded: {short_error(exc)}") from None
    fun = getattr(module, name, None)
    if fun is None:
        raise CompareError(f"{source}: has no function {name!r}")
    if not callable(fun):
        raise CompareError(f"{source}: {name!r} is a {type(fun).__name__}, not a function")
    return fun, source, name


def _is_module_name(source: str) -> bool:
    """``pkg.mod`` rather than a path: dotted identifiers, not ending in ``.py``, no file."""
    return (not source.endswith(".py") and all(p.isidentifier() for p in source.split("."))
            and not Path(source).is_file())


def _import_module(name: str) -> Any:
    """Import ``name`` as ``python -m`` would: the current folder first, then installed."""
    sys.path.insert(0, str(Path.cwd()))
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (name == exc.name or name.startswith(exc.name + ".")):
            raise CompareError(f"{name}: no such file or module") from None
        raise CompareError(f"{name}: could not be imported: {short_error(exc)}") from None
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - any error in the user's module
        raise CompareError(f"{name}: could not be imported: {short_error(exc)}") from None
    finally:
        sys.path.remove(str(Path.cwd()))


def make_input(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """The input array and how it was made (recorded in env.json)."""
    if args.input is not None:
        path = Path(args.input)
        if not path.is_file():
            raise CompareError(f"--input: {args.input}: no such file")
        with path.open("rb") as head:
            magic = head.read(6)
        if magic != b"\x93NUMPY" and not magic.startswith(b"PK"):  # neither .npy nor .npz
            raise CompareError(f"--input: {args.input} is not a .npy file (it lacks NumPy's "
                               "header); save the input with np.save")
        try:
            x = np.load(path, allow_pickle=False)
        except Exception as exc:  # noqa: BLE001
            raise CompareError(f"--input: {args.input}: not a .npy array ({short_error(exc)})") \
                from None
        if not isinstance(x, np.ndarray):  # an .npz archive of several arrays
            raise CompareError(f"--input: {args.input} is an archive of arrays, not one .npy "
                               "array; save the input with np.save")
        if x.dtype.kind != "f":
            raise CompareError(f"--input: {args.input} holds {x.dtype} values, which cannot be "
                               "differentiated; save floats (x.astype(float))")
        if x.size == 0:
            raise CompareError(f"--input: {args.input} is empty (shape {x.shape}); save an "
                               "array of at least one value")
        return x, {"input": str(path), "shape": list(x.shape), "dtype": str(x.dtype)}
    n = DEFAULT_N if args.n is None else args.n
    if not 1 <= n <= MAX_N:
        raise CompareError(f"--n: expected a positive integer up to {MAX_N:,}, got {n}")
    if args.seed < 0:
        raise CompareError(f"--seed: expected an integer >= 0, got {args.seed}")
    try:
        x = np.random.default_rng(args.seed).standard_normal(n)
    except MemoryError:
        raise CompareError(f"--n: not enough memory for {n:,} values") from None
    return x, {"input": "standard normal", "n": n, "seed": args.seed}


def run(args: argparse.Namespace, argv: list[str]) -> int:
    """The body of ``dualtape compare``; returns the exit status."""
    import dualtape as dt

    if args.repeats is not None and args.repeats < 1:
        raise CompareError(f"--repeats: expected a positive integer, got {args.repeats}")
    fun, source, name = load_function(args.target)
    x, made = make_input(args)
    out_dir = Path(args.out) if args.out else Path("results") / "compare" / name
    created = not out_dir.exists()
    _writable(out_dir)  # before measuring: an unwritable --out fails at once
    try:
        return _compare(dt, fun, x, name, source, made, out_dir, args, argv)
    except BaseException:  # refused, failed or interrupted: leave no empty folder behind
        if created:
            with suppress(OSError):
                out_dir.rmdir()
        raise


def _compare(dt: Any, fun: Any, x: np.ndarray, name: str, source: str, made: dict[str, Any],
             out_dir: Path, args: argparse.Namespace, argv: list[str]) -> int:
    try:
        out = fun(x)
    except (Exception, SystemExit) as exc:  # noqa: BLE001
        raise CompareError(f"{name} failed on the input: {short_error(exc)}") from None
    if args.order == 2 and np.size(out) != 1:
        print(f"note: {name} has {np.size(out)} outputs; order 2 compares the Hessian of each",
              file=sys.stderr)
    try:
        c = dt.compare(fun, x, order=args.order, repeats=args.repeats,
                       progress=not args.no_progress)
    except (TypeError, ValueError, NotImplementedError) as exc:
        said = str(exc)
        if said.startswith("args: "):  # dt.compare's argument is the CLI's input
            raise CompareError(f"{'--input' if args.input else '--n'}: {said[6:]}") from None
        raise CompareError(f"{name} cannot be differentiated on this input: {short_error(exc)}") \
            from None
    print(c)
    for written in save(c, out_dir, {"function": f"{source}:{name}", "order": args.order,
                                     "repeats": c.repeats, **made}, argv):
        print(f"wrote {written}")
    return 1 if c.best is None else 0


def save(c: Any, out: Path, extra: dict[str, Any], argv: list[str]) -> list[Path]:
    """Write ``table.csv``, ``env.json`` and ``compare.png`` into ``out`` (atomically)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..measure.env import environment
    from ..measure.files import write_atomic, write_json

    _writable(out)
    table = out / "table.csv"
    write_atomic(table, c.table.to_csv(index=False, float_format="%.6g"))
    env = out / "env.json"
    record = environment(["dualtape", *argv])
    record["compare"] = {**extra, "n": c.n, "m": c.m, "best": c.best,
                         "eval_time_s": c.eval_time_s, "dtype": c.dtype,
                         "tolerance": c.tolerance, "recommendation": c.recommendation,
                         "notes": c.notes}
    write_json(env, _clean(record))
    figure = out / "compare.png"
    fig = c.plot(figure)
    plt.close(fig)
    return [table, env, figure]


def _writable(out: Path) -> None:
    """Create ``out`` and prove it writable, or a one-line :class:`CompareError`."""
    from ..study.spec import StudyError
    from ..study.storage import prepare_dir

    try:
        prepare_dir(out)
    except StudyError as exc:
        raise CompareError(str(exc)) from None


def _clean(v: Any) -> Any:
    """JSON-safe: NaN and infinity become None."""
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v
