"""Moved to :mod:`dualtape.lessons.value`; this name stays for existing imports."""

import sys

from .lessons import value as _moved

sys.modules[__name__] = _moved
