"""Moved to :mod:`dualtape.lessons.losses`; this name stays for existing imports."""

import sys

from .lessons import losses as _moved

sys.modules[__name__] = _moved
