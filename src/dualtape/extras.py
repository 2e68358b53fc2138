"""The optional extras: what each one installs, and a one-line error when one is missing.

The engines need only NumPy; the study harness and ``dt.compare`` need the ``[study]``
extra, ``dt.check_against_jax`` the ``[jax]`` one and ``dualtape.sparse`` the ``[sparse]``
one.  ``require`` looks the modules up without importing them, so it costs nothing when
they are there.
"""

from __future__ import annotations

import importlib.util

#: The modules each extra of pyproject.toml brings, as they are imported.
EXTRAS = {"study": ("pandas", "matplotlib", "tqdm", "jax"), "jax": ("jax",),
          "sparse": ("scipy",)}


class MissingExtraError(ImportError):
    """An optional extra is not installed; the message says how to install it."""


def missing(extra: str) -> list[str]:
    """The modules of ``extra`` that cannot be imported here."""
    return [name for name in EXTRAS[extra] if importlib.util.find_spec(name) is None]


def require(extra: str, what: str = "") -> None:
    """Raise a one-line ``MissingExtraError`` if a module of ``extra`` is not installed.

    The message reads "``what`` needs the [extra] extra ..." ("needs ..." without ``what``).
    """
    gone = missing(extra)
    if gone:
        subject = f"{what} needs" if what else "needs"
        raise MissingExtraError(f"{subject} the [{extra}] extra ({', '.join(gone)} not "
                                f"installed); install it with: pip install \"dualtape[{extra}]\"")
