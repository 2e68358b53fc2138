"""dualtape's measurement base: one place for timing, environment records and durable files.

The study harness (:mod:`dualtape.study`) and the speed suite (``benchmarks/``) are both
clients of this package; neither times, records its machine or writes a file its own way.

* :mod:`.timing`: warm-up, batch calibration, repeats, the garbage-collector policy,
  settling the C heap, page-fault counts (:class:`TimingConfig`, :func:`sample`).
* :mod:`.env`: the environment record (CPU, cores, host, BLAS and its threads, versions,
  git commit, load) and how busy the machine is with other work.
* :mod:`.files`: atomic, fsync'ed replacement of a file and durable appends.
* :mod:`.jaxconfig`: JAX imported with float64 switched on, the one place that does so.

Everything here needs only the standard library and NumPy; JAX is imported inside
:func:`dualtape.measure.jaxconfig.jax_x64` only.  ``import dualtape`` does not import this package.
"""

from __future__ import annotations

from .files import append_durable, write_atomic, write_json
from .timing import GC_POLICIES, Samples, TimingConfig, sample

__all__ = ["GC_POLICIES", "Samples", "TimingConfig", "append_durable", "sample", "write_atomic",
           "write_json"]
