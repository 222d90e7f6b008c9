"""Geometry: convex bodies and cones as data with oracles (``bodies``), projections
(``projections``, ``conic_admm``), Gaussian widths and statistical dimensions (``width``),
closed forms for tests (``closed_forms``), the minimum of a model over a subspace
(``feasibility``) and random subspaces meeting a body (``subspaces``). Imports only the shared
kernels."""

from phasetrans import _threads

_threads.limit_lapack_threads()  # steady under a busy machine (see phasetrans._threads)
