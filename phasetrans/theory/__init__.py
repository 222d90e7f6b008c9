"""Theory: the width formula (``formula``), the matrix-free Hessian models
(``hessian_model``, ``spectral_levels``) and the prediction pipeline (``predict``). Imports
``networks``, ``geometry`` and the shared kernels."""

from phasetrans import _threads

_threads.limit_lapack_threads()  # steady under a busy machine (see phasetrans._threads)
