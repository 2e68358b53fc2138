"""The cheap gradient principle: what a gradient (m = 1) costs next to one evaluation.

Two scalar functions of n inputs, the elementwise-then-sum map and the seed
lesson's MLP loss over its parameters, are differentiated by forward mode
(one pass per input, or vector mode) and by reverse mode, with JAX beside.
"""

from dualtape.study import Study, Sweep

STUDY = Study(
    name="gradient_cost",
    description=(
        "The cost of a gradient relative to one evaluation of f (the cheap gradient "
        "principle), forward vs reverse mode, for an elementwise map followed by a sum and for "
        "the seed lesson's MLP loss over its parameters."
    ),
    problems=("elementwise_sum", "mlp_loss"),
    methods=("primal", "fwd_chunk1", "fwd_vector", "rev_chunk1", "rev_vector",
             "jax_primal", "jax_primal_jit", "jax_jacfwd", "jax_jacrev",
             "jax_jacfwd_jit", "jax_jacrev_jit"),
    sweeps=(Sweep("n", ("n",), {"m": 1, "depth": 2}),),
    sizes=(16, 32, 64, 128, 256, 512, 1024, 2048),
    quick_sizes=(16, 64, 256),
    notes=(
        "What to look for: reverse mode's gradient costs a small constant number of "
        "evaluations whatever n (relative slope ~0), forward mode with one pass per input "
        "costs about n evaluations (relative slope ~1). For the MLP, n is the number of "
        "parameters of MLP(3, [w, w, 1]) on the seed's four samples, w chosen so that n is "
        "at most the requested size; depth is the number of hidden layers."
    ),
)
