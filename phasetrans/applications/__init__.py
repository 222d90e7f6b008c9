"""Applications: predicted vs measured (``compare``), the attribution ladder
(``attribution``), other pruning methods (``methods``), JSON and text reports (``report``),
figures (``plots``) and the compressed-sensing phase transition (``cs``)."""

from phasetrans import _threads

_threads.limit_lapack_threads()  # steady under a busy machine (see phasetrans._threads)
