"""The default study: how the full Jacobian's cost grows with n and with m.

The dense two-layer map tanh(A2 tanh(A1 x)) (hidden width 32) is measured with
every method: n swept at m = 8, m swept at n = 8, and the (n, m) grid for the
crossover of forward and reverse mode.  Run it with
``dualtape study run jacobian_scaling`` (add ``--quick`` for a one-minute run).
"""

from dualtape.study import ALL_METHODS, Study, Sweep

GRID_METHODS = ("primal", "fwd_chunk1", "fwd_vector", "rev_chunk1", "rev_vector")

STUDY = Study(
    name="jacobian_scaling",
    description=(
        "How the cost of the full Jacobian of a dense two-layer map f: R^n -> R^m grows with "
        "the number of inputs n and of outputs m, for forward and reverse mode (one pass per "
        "direction, chunks of 8, vector mode), with JAX's jacfwd/jacrev (eager and jit) as peers."
    ),
    problems=("dense_two_layer",),
    methods=ALL_METHODS,
    sweeps=(
        Sweep("n", ("n",), {"m": 8}),
        Sweep("m", ("m",), {"n": 8}),
        Sweep("grid", ("n", "m"), methods=GRID_METHODS,
              sizes=(1, 4, 16, 64, 256, 1024), quick_sizes=(1, 8, 64)),
    ),
    sizes=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
    quick_sizes=(2, 8, 32, 128),
    notes=(
        "What to look for: relative to one evaluation of f, forward mode with one pass per "
        "input costs about c_fwd * n and reverse mode with one backward pass per output about "
        "c_rev * m (plus one recording), so the relative slopes are ~1 against their own axis "
        "and ~0 against the other. Vector mode does the same arithmetic in fewer, wider "
        "passes: its primitive count stays flat while its FLOPs still grow. The grid shows "
        "where the two modes cost the same: along a line m* proportional to n."
    ),
)
