"""``python -m dualtape``: the same command line as ``dualtape`` (:mod:`dualtape.cli`)."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
