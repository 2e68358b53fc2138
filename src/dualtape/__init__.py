"""dualtape: forward mode (dual numbers) and reverse mode (a tape), side by side.

>>> import dualtape as dt
>>> import dualtape.numpy as dnp
>>> f = lambda x: dnp.sum(dnp.tanh(x) ** 2)
>>> g = dt.grad(f)  # reverse mode
>>> out, t = dt.jvp(f, (1.0,), (1.0,))  # forward mode
"""

from . import ops as _ops  # noqa: F401  (fills the registry)
from .api import grad, hessian, hvp, jacfwd, jacrev, jvp, value_and_grad, vjp
from .checks import JaxComparison, check_against_jax, check_grads
from .counting import OpCounter, count
from .forward import Dual
from .registry import Primitive, primitives
from .reverse import Tape, TapeValue

__version__ = "0.1.0"

__all__ = [
    "Dual", "JaxComparison", "OpCounter", "check_against_jax", "check_grads", "Primitive", "Tape", "TapeValue", "__version__", "count", "grad",
    "hessian", "hvp", "jacfwd", "jacrev", "jvp", "primitives", "value_and_grad", "vjp",
]

# The lessons: a micrograd-style scalar engine, networks, losses and graph drawing.
from . import nn  # noqa: E402
from .graph import draw, to_dot  # noqa: E402
from .losses import binary_cross_entropy_with_logits  # noqa: E402
from .value import Value  # noqa: E402

__all__ += ["Value", "binary_cross_entropy_with_logits", "draw", "nn", "to_dot"]
