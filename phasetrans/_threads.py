"""One thread for the LAPACK that JAX's CPU decompositions call: steady under a busy machine.

On CPU, ``jnp.linalg.eigh/qr/cholesky`` run LAPACK from the OpenBLAS that SciPy ships (jaxlib
calls ``scipy.linalg.cython_lapack``). OpenBLAS's worker threads spin while they wait; beside
other CPU-bound processes they lose their cores, and the small decompositions phasetrans runs
by the thousand (a tridiagonal eigh in every Lanczos run, QR of random subspaces, eigh of Gram
matrices) slow down by far more than a fair share: measured on 2 cores (2026-12-06), a 169 x 169
eigh takes 2.5 ms alone, 14 ms beside two busy processes and 360 ms under heavier load with two
threads, 2.1-2.2 ms in all three cases with one; a 200 x 169 QR 1.7 / 3.8 ms with two threads,
0.9 / 1.1 ms with one (one thread is faster even on idle cores at these sizes). The price: a
dense ``eigh`` of a Hessian at D ~ 3400 runs on one core (about 5 s instead of 3 s on 2 idle
cores). The whole pipeline's slowdown: ``benchmarks/bench_load.py``.

:func:`limit_lapack_threads` sets SciPy's BLAS library (and only it: NumPy ships its own, which
keeps its threads) to one thread, once, when a compute layer of phasetrans is imported. Where
SciPy shares its BLAS with NumPy (system or conda builds) that library is limited too. Set
``PHASETRANS_LAPACK_THREADS=0`` before importing phasetrans to leave every library as it is.
"""

from __future__ import annotations

import os
import pathlib

_DONE: list = []


def _scipy_blas(controllers) -> list:
    import scipy

    root = pathlib.Path(scipy.__file__).resolve().parent
    own = [c for c in controllers
           if pathlib.Path(c.filepath).resolve().parent.name == f"{root.name}.libs"
           or root in pathlib.Path(c.filepath).resolve().parents]
    return own or list(controllers)  # no library of its own: SciPy uses the shared one


def limit_lapack_threads() -> None:
    """Limit the BLAS/LAPACK library behind SciPy (and so behind JAX's CPU decompositions) to
    one thread; idempotent; a no-op with ``PHASETRANS_LAPACK_THREADS=0`` or without
    threadpoolctl's support for the library."""
    if _DONE:
        return
    _DONE.append(True)
    if os.environ.get("PHASETRANS_LAPACK_THREADS", "1") == "0":
        return
    import scipy.linalg  # noqa: F401  (loads the LAPACK JAX calls, so threadpoolctl sees it)
    import threadpoolctl

    controller = threadpoolctl.ThreadpoolController()
    for library in _scipy_blas(controller.select(user_api="blas").lib_controllers):
        library.set_num_threads(1)
