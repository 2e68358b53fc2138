"""Moved to :mod:`dualtape.lessons.graph`; this name stays for existing imports."""

import sys

from .lessons import graph as _moved

sys.modules[__name__] = _moved
