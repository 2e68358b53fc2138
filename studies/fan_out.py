"""Few inputs, many outputs: the case where forward mode wins.

The broadcast (outer) map y_j = mean_i sin(c_j x_i + d_j) takes n inputs to m
outputs; with n small and m large, one forward pass per input is far cheaper
than one backward pass per output.
"""

from dualtape.study import ALL_METHODS, Study, Sweep

STUDY = Study(
    name="fan_out",
    description=(
        "A broadcast (outer) map from few inputs to many outputs, where forward mode should "
        "win: m swept at n = 4, and n swept at m = 256."
    ),
    problems=("broadcast_outer",),
    methods=ALL_METHODS,
    sweeps=(
        Sweep("m", ("m",), {"n": 4}),
        Sweep("n", ("n",), {"m": 256}, sizes=(1, 2, 4, 8, 16, 32, 64, 128),
              quick_sizes=(1, 4, 16)),
    ),
    sizes=(1, 4, 16, 64, 256, 1024),
    quick_sizes=(1, 16, 256),
    notes=(
        "What to look for: at n = 4, forward mode's relative cost stays flat as m grows while "
        "reverse mode's (one backward pass per output) grows like m; sweeping n at m = 256 "
        "reverses the picture."
    ),
)
