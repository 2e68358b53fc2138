"""dualtape: forward mode (dual numbers) and reverse mode (a tape), side by side.

>>> import dualtape as dt
>>> import dualtape.numpy as dnp
>>> f = lambda x: dnp.sum(dnp.tanh(x) ** 2)
>>> g = dt.grad(f)  # reverse mode
>>> out, t = dt.jvp(f, (1.0,), (1.0,))  # forward mode
"""

from . import nn
from . import ops as _ops  # noqa: F401  (fills the registry)
from .api import grad, hessian, hvp, jacfwd, jacrev, jvp, new_level, value_and_grad, vjp
from .checks import JaxComparison, check_against_jax, check_grads
from .choice import ModeChoice, choose_mode
from .comparison import Comparison, compare
from .counting import OpCounter, count
from .forward import Dual
from .graph import draw, to_dot
from .losses import binary_cross_entropy_with_logits
from .modes import jacobian
from .registry import Primitive, primitives
from .reverse import Tape, TapeValue
from .value import Value

__version__ = "0.1.0"

__all__ = [
    "Comparison", "Dual", "JaxComparison", "ModeChoice", "OpCounter", "Primitive", "Tape",
    "TapeValue", "Value", "__version__", "binary_cross_entropy_with_logits",
    "check_against_jax", "check_grads", "choose_mode", "compare", "count", "draw", "grad",
    "hessian", "hvp", "jacfwd", "jacobian", "jacrev", "jvp", "new_level", "nn", "primitives",
    "to_dot", "value_and_grad", "vjp",
]
