"""The rest of ``dualtape.numpy``: NumPy functions built on the primitives of
``dualtape.ops`` and its family modules, re-exported by ``dualtape.numpy``.

Every function here takes JAX arrays and tracers too: it then calls its
``jax.numpy`` namesake, so one function body runs under dualtape and under JAX.
"""
