"""Moved to :mod:`dualtape.lessons.nn`; this name stays for existing imports."""

import sys

from .lessons import nn as _moved

sys.modules[__name__] = _moved
