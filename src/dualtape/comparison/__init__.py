"""``dt.compare``: every way to differentiate your function, checked against JAX and timed.

Only NumPy is imported here; pandas, JAX and matplotlib load when a comparison runs.
"""

from __future__ import annotations

from .result import Comparison
from .run import compare

__all__ = ["Comparison", "compare"]
