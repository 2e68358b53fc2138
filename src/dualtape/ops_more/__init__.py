"""More registry primitives: NumPy's elementwise functions, reductions and rounding.

Written with the public pieces only (``registry.Primitive``, ``register`` and the
ops of ``dualtape.ops``), so the rules are differentiable like every other rule.
Importing this package registers the primitives.
"""

from . import elementwise, reductions  # noqa: F401  (fill the registry)
