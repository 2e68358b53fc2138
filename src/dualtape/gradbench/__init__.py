"""GradBench's evals for dualtape: the objectives, and a tool that speaks GradBench's protocol.

GradBench (github.com/gradbench/gradbench) runs an *eval* and a *tool* as two processes
talking JSON lines. ``python -m dualtape.gradbench`` is the tool: it reads the eval's
messages on stdin and answers on stdout (see :mod:`dualtape.gradbench.protocol`).

The objectives are written from the eval specifications with ``dualtape.numpy``, so each
body also runs on plain NumPy (the primal) and under JAX (:mod:`.objectives` for ``lse``,
``llsq``, ``kmeans``, ``gmm``, ``ode``, ``det``; :mod:`.nested` for the nested-AD evals
``particle`` and ``saddle``). :mod:`.evals` turns each eval's JSON input into arrays, runs
the requested function in the requested AD mode, and turns the result back into JSON.

This package is imported only when used: ``import dualtape`` does not load it.
"""
