"""A persistent cache of compiled programs for the command line and the demo: a second run of
the same command skips XLA's compilation.

Every phasetrans command compiles hundreds of programs (training steps, Lanczos loops, cone
projections, retraining scans), and on CPU their compilation is a fixed cost of each run that
does not shrink with the network. JAX can keep compiled programs on disk
(``jax_compilation_cache_dir``; JAX documentation, "Persistent compilation cache"). Measured
(``benchmarks/bench_compile_cache.py``, 2 cores beside one niced experiment, 2026-12-07, two
rounds): ``phasetrans explain --dataset digits --arch 16`` 214 / 213 s with the cache off,
206 / 206 s with an empty one, 188 / 187 s with the filled one (1.14x); a short ``predict``
12.8 s off, 5.7 s filled (2.2x). The cached programs are the same programs, so the numbers are
the same.

:func:`enable` is called by the process entry points only (the ``phasetrans`` console script,
``python -m experiments.demo``), never on import, so a program that imports phasetrans keeps its
own JAX configuration. The directory is ``$PHASETRANS_CACHE_DIR`` if set, else
``$XDG_CACHE_HOME/phasetrans/jax``, else ``~/.cache/phasetrans/jax``; it is capped at
:data:`MAX_BYTES` (JAX evicts the least recently used entries). Nothing is changed when
``PHASETRANS_COMPILE_CACHE=0``, when the user has configured JAX's own cache
(``JAX_COMPILATION_CACHE_DIR``), or when the directory cannot be created or written.
"""

from __future__ import annotations

import os
import pathlib

MAX_BYTES = 512 * 2**20
"""The cache's size cap (512 MiB)."""


def directory(environ) -> pathlib.Path | None:
    """Where :func:`enable` keeps compiled programs for the environment ``environ`` (a mapping
    like ``os.environ``), or None where it must leave JAX as it is (see the module
    docstring)."""
    if environ.get("PHASETRANS_COMPILE_CACHE", "1") == "0" or environ.get(
            "JAX_COMPILATION_CACHE_DIR"):
        return None
    if environ.get("PHASETRANS_CACHE_DIR"):
        return pathlib.Path(environ["PHASETRANS_CACHE_DIR"])
    base = environ.get("XDG_CACHE_HOME") or pathlib.Path(environ.get("HOME", "~"), ".cache")
    return pathlib.Path(base).expanduser() / "phasetrans" / "jax"


def enable(environ=None) -> pathlib.Path | None:
    """Turn on JAX's persistent compilation cache in :func:`directory` (every program, however
    short its compilation; at most :data:`MAX_BYTES`); returns the directory, or None where it
    left JAX as it is. ``environ`` defaults to ``os.environ``."""
    path = directory(os.environ if environ is None else environ)
    if path is None:
        return None
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    if not os.access(path, os.W_OK | os.X_OK):
        return None
    import jax

    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    jax.config.update("jax_compilation_cache_max_size", MAX_BYTES)
    return path
