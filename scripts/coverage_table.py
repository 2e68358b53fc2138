"""Generate the NumPy coverage table: every function HIPS autograd differentiates, and
whether dualtape (and JAX) cover it.

Everything is probed at run time, nothing is listed by hand except the reasons:

* autograd's list: the functions of ``autograd.numpy`` and ``autograd.numpy.linalg``
  with a registered VJP (plus its NumPy-named wrappers over them, such as ``mean`` and
  ``stack``), and the ones it marks as having no derivative (``floor``, ``argmax``, ...);
* dualtape: the function exists in ``dualtape.numpy`` (``dualtape.numpy.linalg``) as
  dualtape's own, and whether NumPy's function reaches it on a traced value through
  ``__array_function__`` / ``__array_ufunc__`` (called on a ``Dual``);
* JAX: the name exists in ``jax.numpy`` (``jax.numpy.linalg``).

Usage (needs autograd: ``pip install -e ".[peers]"``)::

    python scripts/coverage_table.py            # write docs/coverage.md and the README summary
    python scripts/coverage_table.py --check    # exit 1 if either file is out of date
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import pathlib
import sys
import warnings
from dataclasses import dataclass

import numpy as np

from dualtape.measure.files import write_atomic

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOC = ROOT / "docs" / "coverage.md"
START, END = "<!-- coverage-table:start -->", "<!-- coverage-table:end -->"

# autograd's internal names for NumPy functions.
ALIASES = {"_primitive_mean": "mean", "_primitive_std": "std", "_primitive_var": "var",
           "_primitive_norm": "norm", "concatenate_args": "concatenate", "_original_where": "where",
           "array_from_args": "array", "_astype": "astype"}

# Why a function is not covered (only read for rows the probe finds uncovered).
REASONS = {
    "make_diagonal": "autograd's own helper, not a NumPy function",
    "row_stack": "removed from NumPy 2 (use vstack)",
    "msort": "removed from NumPy 2 (use sort(axis=0))",
    "linalg.eig": "complex eigenvalues and eigenvectors: dualtape has no complex support",
}
DEFAULT_REASON = "not implemented yet"


@dataclass
class Row:
    name: str  # "sin", "linalg.det"
    kind: str  # "derivative" or "zero derivative"
    dualtape: str  # "covered" or "not covered"
    dispatch: str  # numpy.<name>(traced) reaches dualtape: "yes", "no" or "-"
    jax: str  # "yes" or "no"
    reason: str = ""


def _has_rule(table: dict, f: object) -> bool:
    try:
        return f in table
    except TypeError:
        return False


def autograd_functions() -> dict[str, str]:
    """name -> "derivative" / "zero derivative", read from autograd's registries."""
    import autograd.numpy as anp
    import autograd.numpy.linalg as alinalg
    from autograd.core import primitive_vjps
    from autograd.tracer import notrace_primitives

    out: dict[str, str] = {}
    for prefix, mod in (("", anp), ("linalg.", alinalg)):
        for name in dir(mod):
            if _has_rule(primitive_vjps, getattr(mod, name)):
                out[prefix + ALIASES.get(name, name)] = "derivative"
    # NumPy-named wrappers autograd writes over its primitives (mean, stack, select, ...)
    for name in dir(anp):
        f = getattr(anp, name)
        if (inspect.isfunction(f) and f.__module__ == "autograd.numpy.numpy_wrapper"
                and not name.startswith(("_", "wrap")) and hasattr(np, name)):
            out.setdefault(name, "derivative")
    constant = set().union(*notrace_primitives.values())
    for name in dir(anp):
        if not name.startswith("_") and _has_rule(constant, getattr(anp, name)):
            out.setdefault(name, "zero derivative")
    # autograd's names that are NumPy aliases of one function keep their own rows
    return {n: k for n, k in out.items() if not n.startswith("_")}


def _lookup(module: object, name: str) -> object:
    for part in name.split("."):
        try:
            module = getattr(module, part)
        except AttributeError:
            return None
    return module


def _dualtape_has(name: str) -> bool:
    import dualtape.numpy as dnp

    f = _lookup(dnp, name)
    return f is not None and callable(f) and not type(f).__module__.startswith("numpy") \
        and not getattr(f, "__module__", "").startswith("numpy")


def _numpy_dispatches(name: str) -> str:
    """Call NumPy's function on a Dual: does it reach dualtape (any answer but 'not supported')?"""
    from dualtape import new_level
    from dualtape.forward import Dual

    f = _lookup(np, name)
    if f is None:
        return "-"
    x = Dual(np.eye(2) + 0.5, np.ones((2, 2)), level=new_level())
    quiet = contextlib.ExitStack()
    quiet.enter_context(warnings.catch_warnings())
    warnings.simplefilter("ignore")
    quiet.enter_context(np.errstate(all="ignore"))
    try:
        if isinstance(f, np.ufunc):
            x.__array_ufunc__(f, "__call__", *([x] * f.nin))
        else:
            x.__array_function__(f, (type(x),), (x,), {})
    except TypeError as e:
        if "does not support" in str(e):
            return "no"
    except Exception:  # reached dualtape; the probe's arguments just did not suit the function
        pass
    finally:
        quiet.close()
    return "yes"


def _jax_has(name: str) -> str:
    import jax.numpy as jnp

    try:
        return "yes" if _lookup(jnp, name) is not None else "no"
    except Exception:  # deprecated names raise on access
        return "no"


def coverage_rows() -> list[Row]:
    """One row per function autograd differentiates (or passes through), probed now."""
    rows = []
    for name, kind in sorted(autograd_functions().items(), key=lambda kv: (kv[1], kv[0])):
        covered = _dualtape_has(name)
        rows.append(Row(
            name, kind, "covered" if covered else "not covered",
            _numpy_dispatches(name) if covered else "-", _jax_has(name),
            "" if covered else (REASONS.get(name) or DEFAULT_REASON)))
    return rows


def full_table(rows: list[Row]) -> str:
    lines = ["| function | autograd | dualtape | `numpy.f(traced)` | JAX | reason |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        mark = "yes" if r.dualtape == "covered" else "**no**"
        lines.append(f"| `{r.name}` | {r.kind} | {mark} | {r.dispatch} | {r.jax} | {r.reason} |")
    return "\n".join(lines)


def summary(rows: list[Row]) -> str:
    lines = ["| autograd differentiates | functions | covered by dualtape | in jax.numpy |",
             "|---|---|---|---|"]
    for kind in ("derivative", "zero derivative"):
        sel = [r for r in rows if r.kind == kind]
        lines.append(f"| {kind} | {len(sel)} | {sum(r.dualtape == 'covered' for r in sel)} | "
                     f"{sum(r.jax == 'yes' for r in sel)} |")
    by_reason: dict[str, list[str]] = {}
    for r in rows:
        if r.dualtape != "covered":
            by_reason.setdefault(r.reason, []).append(f"`{r.name}`")
    if by_reason:
        lines += ["", "Not covered, and why:", ""]
        lines += [f"* {reason}: {', '.join(names)}" for reason, names in by_reason.items()]
    return "\n".join(lines)


def doc_text(rows: list[Row]) -> str:
    return ("# NumPy coverage\n\n"
            "Generated by `python scripts/coverage_table.py` (do not edit by hand): every function\n"
            "HIPS autograd differentiates or passes through with a zero derivative, whether\n"
            "`dualtape.numpy` covers it, whether NumPy's own function reaches dualtape on a traced\n"
            "value, and whether `jax.numpy` has it. Every covered function is tested against JAX\n"
            "in `tests/test_numpy_coverage.py` or `tests/test_primitives.py`.\n\n"
            f"{summary(rows)}\n\n{full_table(rows)}\n")


def readme_text(readme: str, rows: list[Row]) -> str:
    if START not in readme or END not in readme:
        raise SystemExit(f"README.md has no {START} ... {END} markers")
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    body = f"{summary(rows)}\n\nThe full table: [docs/coverage.md](docs/coverage.md)."
    return f"{head}{START}\n{body}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the files are out of date")
    args = parser.parse_args(argv)
    try:
        rows = coverage_rows()
    except ImportError as e:
        print(f"coverage_table: {e}; install the peers: pip install -e '.[peers]'", file=sys.stderr)
        return 2
    outputs = {DOC: doc_text(rows), README: readme_text(README.read_text(), rows)}
    stale = [p for p, text in outputs.items() if not p.exists() or p.read_text() != text]
    if args.check:
        for p in stale:
            print(f"out of date: {p.relative_to(ROOT)}", file=sys.stderr)
        return 1 if stale else 0
    for p in stale:
        write_atomic(p, outputs[p])  # fsync'ed, then os.replace
        print(f"wrote {p.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
