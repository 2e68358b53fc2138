"""dualtape's speed suite: dualtape against the AD tools its users would otherwise pick.

Run it from the repository root with one command::

    python -m benchmarks                     # every workload, full rounds
    python -m benchmarks --quick             # few rounds, short batches: a smoke run
    python -m benchmarks --workloads 1,3     # a subset (0 = control only, 5 = import time)
    python -m benchmarks --workloads 4:64x64 # one case of a workload
    python -m benchmarks --out DIR           # write somewhere else than results/benchmarks/
    python -m benchmarks --list              # show the workloads and contenders, run nothing
    python -m benchmarks --wait-quiet 300    # on a shared machine: wait for others to go quiet

The peers (HIPS autograd, micrograd, PyTorch CPU) come with ``pip install -e ".[peers]"``;
JAX is a dependency already. A peer that is not installed is skipped and listed as such.

What one run does: it imports every installed tool first (importing jax or torch changes
how fast NumPy's threaded BLAS runs in the same process, so every case gets the same state;
``--no-preload`` turns this off), then, workload by workload (see :mod:`benchmarks.workloads`):

1. builds every contender (dualtape and each installed peer) on the same seeded inputs;
2. calls each once and checks its result against a reference peer (``np.allclose``), which
   fills the ``check`` column: ``ref``, ``ok``, ``FAIL ...``, or ``not checked`` (no
   derivative to check: the floors, the control job, the peers' imports);
3. warms each up (JIT compilation happens here, untimed) and calibrates a batch size so
   that one batch lasts about ``--min-time`` seconds;
4. times the contenders interleaved, ``for round: for contender: one batch`` (the start
   rotates each round), with the garbage collector on and collected before each batch,
   and the objects that exist before timing (every tool's library) frozen out of its
   sight (``gc.freeze``), so that no tool's collections pay for the peers' imports;
5. takes medians per contender and computes ratios pair by pair (dualtape / peer, both
   from the same run), and evaluates the issue's targets.

A control job (plain NumPy, no AD) is timed inside every workload: its time, per workload,
shows whether the machine itself was slow while that workload ran.

Outputs in ``results/benchmarks/`` (each written atomically: temp file + ``os.replace``):
``data.csv`` (tidy, one row per contender and round), ``ratios.csv``, ``targets.csv``,
``env.json`` (machine, BLAS, threads, versions, git commit, command), ``ratios.png`` and
``ratios.svg`` (log-scale bars with the target lines) and ``table.md`` (the ratio table for
the README). The same table is printed at the end.

``OPENBLAS_CORETYPE`` (set on some machines) is left as it is. ``--unset-openblas-coretype``
re-runs the suite once without it (and without ``OPENBLAS_L2_SIZE``); the printed output and
``env.json`` say so. ``python -m benchmarks.profile`` profiles the dualtape contenders.
"""
