"""Finding studies by name.

A study is any Python module that defines a module-level ``STUDY`` (a
``dualtape.study.Study``).  They are looked for, in this order, the first
found winning when two share a name:

1. studies registered in this process with ``register_study`` (a script, a
   notebook, a test);
2. ``*.py`` modules in the folders listed in ``$DUALTAPE_STUDIES``
   (separated like ``PATH``);
3. ``./studies/`` in the current directory;
4. ``studies/`` of the source checkout this package was imported from (so an
   editable install finds the repository's studies from anywhere);
5. entry points in the group ``dualtape.studies`` of installed distributions,
   each naming a ``Study`` or a module with ``STUDY``, so that an installed tool
   (or a plugin package) ships its own studies.

Modules whose names start with ``_`` are skipped; a module that fails to
import is reported by ``broken()`` instead of hiding the others.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

from .spec import Study, StudyError

_REGISTERED: dict[str, Study] = {}
_LOADED: dict[Path, Study | None] = {}
_BROKEN: dict[str, str] = {}


def register_study(study: Study) -> Study:
    """Make ``study`` findable by name in this process (it wins over files)."""
    if not isinstance(study, Study):
        raise StudyError(f"expected a Study, got {type(study).__name__}", "study")
    _REGISTERED[study.name] = study
    return study


def search_dirs() -> list[Path]:
    """The folders scanned for study modules, in priority order, existing ones only."""
    dirs = [Path(p) for p in os.environ.get("DUALTAPE_STUDIES", "").split(os.pathsep) if p]
    dirs.append(Path.cwd() / "studies")
    checkout = Path(__file__).resolve().parents[3]
    if (checkout / "pyproject.toml").exists():
        dirs.append(checkout / "studies")
    out, seen = [], set()
    for d in dirs:
        try:
            key = d.resolve()
        except OSError:
            continue
        if key not in seen and d.is_dir():
            seen.add(key)
            out.append(d)
    return out


def import_file(path: Path, prefix: str, *, sibling_imports: bool = False) -> ModuleType:
    """Run the Python file ``path`` as a module named ``<prefix>_<stem>_<hash of path>``.

    The module is in ``sys.modules`` while it runs (dataclasses under ``from __future__
    import annotations`` and pickle look it up there) and is taken out again if it raises.
    ``sibling_imports`` puts the file's folder on ``sys.path`` while it runs.
    """
    path = Path(path).resolve()
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
    modname = f"{prefix}_{path.stem}_{digest}"
    spec = importlib.util.spec_from_file_location(modname, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"{path} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[modname] = module
    folder = str(path.parent)
    if sibling_imports:
        sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(modname, None)
        raise
    finally:
        if sibling_imports:
            sys.path.remove(folder)
    return module


def _load_file(path: Path) -> Study | None:
    path = path.resolve()
    if path in _LOADED:
        return _LOADED[path]
    study = None
    try:
        module = import_file(path, "dualtape_studies")
        candidate = getattr(module, "STUDY", None)
        if candidate is not None:
            if not isinstance(candidate, Study):
                raise TypeError(f"STUDY is a {type(candidate).__name__}, not a Study")
            study = candidate if candidate.source else _with_source(candidate, str(path))
    except Exception as exc:
        _BROKEN[str(path)] = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
    _LOADED[path] = study
    return study


def _with_source(study: Study, source: str) -> Study:
    from dataclasses import replace

    return replace(study, source=source)


def _entry_point_studies() -> list[Study]:
    from importlib.metadata import entry_points

    found = []
    for ep in entry_points(group="dualtape.studies"):
        try:
            obj = ep.load()
            obj = getattr(obj, "STUDY", obj)
            if isinstance(obj, Study):
                found.append(obj if obj.source else _with_source(obj, f"entry point {ep.value}"))
        except Exception as exc:
            _BROKEN[f"entry point {ep.name}"] = f"{type(exc).__name__}: {exc}"
    return found


def studies() -> dict[str, Study]:
    """Every findable study by name (see the module docstring for the order)."""
    found: dict[str, Study] = dict(_REGISTERED)
    for d in search_dirs():
        for path in sorted(d.glob("*.py")):
            if path.name.startswith("_"):
                continue
            study = _load_file(path)
            if study is not None:
                found.setdefault(study.name, study)
    for study in _entry_point_studies():
        found.setdefault(study.name, study)
    return dict(sorted(found.items()))


def broken() -> dict[str, str]:
    """Study modules that failed to import, with the reason (after ``studies()``)."""
    return dict(_BROKEN)


def get_study(name: str | Study) -> Study:
    """The study called ``name``; unknown names list the valid ones."""
    if isinstance(name, Study):
        return name
    found = studies()
    if name in found:
        return found[name]
    for where, reason in _BROKEN.items():  # a module of that name that failed to import
        if where == f"entry point {name}" or (where.endswith(".py") and Path(where).stem == name):
            raise StudyError(f"study {name!r} could not be loaded from {where}: {reason}")
    valid = ", ".join(found) or "none found (is there a studies/ folder here?)"
    raise StudyError(f"unknown study {name!r}; valid studies: {valid}")
