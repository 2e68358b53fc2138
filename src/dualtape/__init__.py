"""dualtape: forward mode (dual numbers) and reverse mode (a tape), side by side.

>>> import dualtape as dt
>>> import dualtape.numpy as dnp
>>> f = lambda x: dnp.sum(dnp.tanh(x) ** 2)
>>> g = dt.grad(f)  # reverse mode
>>> out, t = dt.jvp(f, (1.0,), (1.0,))  # forward mode
"""

from . import ops as _ops  # noqa: F401  (fills the registry)
from .api import grad, hvp, jvp, new_level, value_and_grad, vjp
from .checkpointing import checkpoint, remat
from .checks import JaxComparison, check_against_jax, check_grads
from .choice import ModeChoice, choose_mode
from .comparison import Comparison, compare
from .counting import OpCounter, count
from .custom import custom_jvp, custom_vjp, stop_gradient
from .forward import Dual
from .jacobians import hessian, jacfwd, jacrev
from .lessons import Value, binary_cross_entropy_with_logits, draw, nn, to_dot
from .loop import LoopStats, checkpoint_loop
from .modes import jacobian
from .ops.decomp import DegenerateSpectrumWarning
from .registry import Primitive, primitives
from .reverse import Tape, TapeValue, UnexpectedTracerError
from .tree import register_pytree_node
from .user_primitive import primitive

__version__ = "0.1.0"

# dualtape.sparse needs SciPy: its names are imported on first use, not by `import dualtape`.
_SPARSE = ("Coloring", "DensePatternWarning", "color_hessian", "color_jacobian",
           "hessian_sparsity", "jacobian_sparsity", "sparse_hessian", "sparse_jacobian")


def __getattr__(name: str):
    if name in _SPARSE:
        from . import sparse

        return getattr(sparse, name)
    raise AttributeError(f"module 'dualtape' has no attribute {name!r}")


__all__ = [
    "Comparison", "DegenerateSpectrumWarning", "Dual", "JaxComparison", "LoopStats", "ModeChoice",
    "OpCounter", "Primitive", "Tape", "TapeValue", "UnexpectedTracerError", "Value", "__version__",
    "binary_cross_entropy_with_logits", "check_against_jax", "check_grads", "checkpoint",
    "checkpoint_loop", "choose_mode", "compare", "count", "custom_jvp", "custom_vjp", "draw", "grad",
    "hessian", "hvp", "jacfwd", "jacobian", "jacrev", "jvp", "new_level", "nn", "primitive",
    "primitives", "register_pytree_node", "remat", "stop_gradient", "to_dot", "value_and_grad",
    "vjp", *_SPARSE,
]
