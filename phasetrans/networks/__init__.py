"""Networks: offline data (``data``), built-in MLP/CNN (``nets``), the pruning ``Problem``
(``problem``), PyTorch import (``interop``), l1-penalised training and its stop rule
(``train``, ``stationarity``), masks and sweeps (``prune``), masked retraining (``retrain``),
Hessian spectra (``spectrum``), effective sparsity (``effective``) and Net-Trim
(``nettrim``). Imports the shared kernels and ``geometry``."""

from phasetrans import _threads

_threads.limit_lapack_threads()  # steady under a busy machine (see phasetrans._threads)
