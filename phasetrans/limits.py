"""Sizes the library will not go beyond, named once.

``MAX_DENSE_DIM``: the largest D for which a dense D x D matrix is built and decomposed (the
Hessian of the exact spectrum, the dense path of the support feasibility, the l1-body support
chain): 200 MB in float64 at D = 5000 and about a minute of ``eigh`` on 2 CPU cores. Beyond it
the matrix-free paths (SLQ, the low-rank and spectral-levels models, the ``*_matfree``
solvers) take over.
"""

MAX_DENSE_DIM = 5000
