"""Sparse Jacobians and Hessians: detect the pattern, colour it, pay for colours.

* :func:`jacobian_sparsity`, :func:`hessian_sparsity`: the pattern, by tracing which
  inputs each element depends on (:mod:`.tracer`; each primitive's ``sparsity``
  declaration, interpreted by :mod:`.rules`).
* :func:`color_jacobian`, :func:`color_hessian`: greedy largest-first distance-2
  colouring of columns or rows, and star colouring for Hessians (:mod:`.coloring`).
* :func:`sparse_jacobian`, :func:`sparse_hessian`: one vector-mode pass with one seed
  per colour, then decompression into a ``scipy.sparse.csr_array`` (:mod:`.jacobian`).

Needs SciPy (``pip install dualtape[sparse]``); ``import dualtape`` does not import it.
"""

from ..extras import require

require("sparse", "dualtape.sparse")  # one line naming the extra, not SciPy's ImportError
# ruff: noqa: E402 (the imports below come after that check)

from .coloring import Coloring, check_coloring, color_hessian, color_jacobian
from .jacobian import DensePatternWarning, SparseHessian, SparseJacobian, sparse_hessian, sparse_jacobian
from .rules import declarations
from .tracer import SparsityTracer, hessian_sparsity, jacobian_sparsity

__all__ = [
    "Coloring", "DensePatternWarning", "SparseHessian", "SparseJacobian", "SparsityTracer",
    "check_coloring", "color_hessian", "color_jacobian", "declarations",
    "hessian_sparsity", "jacobian_sparsity", "sparse_hessian", "sparse_jacobian",
]
