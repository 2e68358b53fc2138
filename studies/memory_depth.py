"""Memory against depth: reverse mode's tape grows with the layers, forward mode's doesn't.

A chain of L layers h <- tanh(W_k h) of width 32 with a scalar read-out is
differentiated with every dualtape mode; peak memory (tracemalloc) and the
bytes saved on the tape are measured against L.
"""

from dualtape.study import Study, Sweep

STUDY = Study(
    name="memory_depth",
    description=(
        "Peak memory and tape size against depth for a deep chain of tanh layers (width 32, "
        "scalar output): reverse mode stores every layer's values for the backward pass, "
        "forward mode carries tangents along and stores nothing."
    ),
    problems=("deep_chain",),
    methods=("primal", "fwd_chunk1", "fwd_vector", "rev_chunk1", "rev_vector",
             "jax_jacfwd_jit", "jax_jacrev_jit"),
    sweeps=(Sweep("depth", ("depth",), {"n": 32, "m": 1}),),
    sizes=(1, 2, 4, 8, 16, 32, 64, 128, 256),
    quick_sizes=(1, 4, 16, 64),
    notes=(
        "What to look for: tape bytes grow in proportion to depth (slope ~1) for reverse "
        "mode and are zero for forward mode; peak memory follows the tape for reverse mode "
        "and stays flat for forward mode, which is the memory price of reverse mode's cheap "
        "gradient. Tape bytes count every array the tape holds, including the weight matrices "
        "that exist anyway, so they exceed the extra memory the tape allocates (peak memory "
        "counts new allocations only)."
    ),
)
