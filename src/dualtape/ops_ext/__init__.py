"""Primitives beyond the core set: linear algebra, decompositions, einsum.

Importing this package fills the registry with them.
"""

from . import decomp, einsum, linalg  # noqa: F401
