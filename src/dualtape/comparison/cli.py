"""``dualtape compare FILE.py:FUNC``: load a user's function, compare, print and save.

Every failure a user can cause (no such file, no such function, a function that raises,
an input that cannot be differentiated) is a :class:`CompareError`: one line, exit 2.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_N = 100


class CompareError(Exception):
    """A bad input to ``dualtape compare``, said in one line."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``dualtape compare``."""
    p.add_argument("target", metavar="FILE.py:FUNC",
                   help="the Python file and the name of the function in it to differentiate")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--n", type=int, metavar="N",
                     help=f"call FUNC on a standard-normal vector of N entries (default "
                     f"{DEFAULT_N})")
    src.add_argument("--input", metavar="X.npy", help="call FUNC on the array in this file")
    p.add_argument("--order", type=int, choices=(1, 2), default=1,
                   help="1: compare Jacobian methods (default); 2: compare Hessian methods")
    p.add_argument("--out", metavar="DIR",
                   help="where to write table.csv, env.json and compare.png "
                   "(default results/compare/<FUNC>/)")
    p.add_argument("--repeats", type=int, metavar="R",
                   help="interleaved timing rounds (default 7)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random input (default 0)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _short(exc: BaseException) -> str:
    return traceback.format_exception_only(exc)[-1].strip()


def load_function(target: str) -> tuple[Callable, Path, str]:
    """``FILE.py:FUNC`` -> (the function, the file, its name)."""
    file, sep, name = target.rpartition(":")
    if not sep or not file or not name:
        raise CompareError(f"{target!r}: expected FILE.py:FUNC (a file and a function name)")
    path = Path(file)
    if not path.is_file():
        raise CompareError(f"{file}: no such file")
    spec = importlib.util.spec_from_file_location(f"_dualtape_compare_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise CompareError(f"{file}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.resolve().parent))
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - any error in the user's file
        raise CompareError(f"{file}: could not be loaded: {_short(exc)}") from None
    finally:
        sys.path.remove(str(path.resolve().parent))
    fun = getattr(module, name, None)
    if fun is None:
        raise CompareError(f"{file}: has no function {name!r}")
    if not callable(fun):
        raise CompareError(f"{file}: {name!r} is a {type(fun).__name__}, not a function")
    return fun, path, name


def make_input(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """The input array and how it was made (recorded in env.json)."""
    if args.input is not None:
        path = Path(args.input)
        if not path.is_file():
            raise CompareError(f"--input: {args.input}: no such file")
        try:
            x = np.load(path, allow_pickle=False)
        except Exception as exc:  # noqa: BLE001
            raise CompareError(f"--input: {args.input}: not a .npy array ({_short(exc)})") \
                from None
        if x.dtype.kind != "f":
            raise CompareError(f"--input: {args.input} holds {x.dtype} values, which cannot be "
                               "differentiated; save floats (x.astype(float))")
        return x, {"input": str(path), "shape": list(x.shape), "dtype": str(x.dtype)}
    n = DEFAULT_N if args.n is None else args.n
    if n < 1:
        raise CompareError(f"--n: expected a positive integer, got {n}")
    x = np.random.default_rng(args.seed).standard_normal(n)
    return x, {"input": "standard normal", "n": n, "seed": args.seed}


def run(args: argparse.Namespace, argv: list[str]) -> int:
    """The body of ``dualtape compare``; returns the exit status."""
    import dualtape as dt

    if args.repeats is not None and args.repeats < 1:
        raise CompareError(f"--repeats: expected a positive integer, got {args.repeats}")
    fun, path, name = load_function(args.target)
    x, made = make_input(args)
    try:
        out = fun(x)
    except Exception as exc:  # noqa: BLE001
        raise CompareError(f"{name} failed on the input: {_short(exc)}") from None
    if args.order == 2 and np.size(out) != 1:
        print(f"note: {name} has {np.size(out)} outputs; order 2 compares the Hessian of each",
              file=sys.stderr)
    try:
        c = dt.compare(fun, x, order=args.order, repeats=args.repeats,
                       progress=not args.no_progress)
    except (TypeError, ValueError, NotImplementedError) as exc:
        raise CompareError(f"{name} cannot be differentiated on this input: {_short(exc)}") \
            from None
    print(c)
    out_dir = Path(args.out) if args.out else Path("results") / "compare" / name
    for written in save(c, out_dir, {"function": f"{path}:{name}", "order": args.order,
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
    from ..study.storage import prepare_dir

    try:
        prepare_dir(out)
    except Exception as exc:  # noqa: BLE001
        raise CompareError(f"--out: {out}: cannot write there ({_short(exc)})") from None
    table = out / "table.csv"
    write_atomic(table, c.table.to_csv(index=False, float_format="%.6g"))
    env = out / "env.json"
    record = environment(["dualtape", *argv])
    record["compare"] = {**extra, "n": c.n, "m": c.m, "best": c.best,
                         "eval_time_s": c.eval_time_s, "recommendation": c.recommendation,
                         "notes": c.notes}
    write_json(env, _clean(record))
    figure = out / "compare.png"
    fig = c.plot(figure)
    plt.close(fig)
    return [table, env, figure]


def _clean(v: Any) -> Any:
    """JSON-safe: NaN and infinity become None."""
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v
