"""The one Monte Carlo sampler: Gaussian samples in memory-sized jitted chunks.

Every estimator in :mod:`phasetrans.width` draws g ~ N(0, I_D) through :func:`gaussian_map`.
Sample i uses the key ``fold_in(key, i)``, so the numbers do not depend on the chunk size (nor,
later, on how samples are split across devices). Each chunk is one jitted ``vmap`` of the
per-sample function; a Python loop over chunks shows a progress bar on stderr and moves each
chunk's outputs to host memory, so no more than one chunk of samples is ever materialised.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from phasetrans import _checks
from phasetrans._progress import track

CHUNK_ELEMENTS = 2**21
"""Default chunk: about this many sample entries (8 MB of float32), measured fastest in
``benchmarks/bench_width.py`` (1.9 s vs 2.6 s with 5000-sample chunks at D = 10^4)."""


@functools.partial(jax.jit, static_argnums=(0, 4, 5, 6))
def _chunk(fn, operand, key, start, size, dim, dtype):
    keys = jax.vmap(jax.random.fold_in, in_axes=(None, 0))(key, start + jnp.arange(size))
    g = jax.vmap(lambda k: jax.random.normal(k, (dim,), dtype))(keys)
    return jax.vmap(lambda x: fn(operand, x))(g)


def gaussian_map(fn: Callable, operand, *, key, num_samples: int, dim: int, dtype=None,
                 chunk_size: int | None = None, progress: bool = False,
                 desc: str = "Monte Carlo"):
    """Evaluate ``fn(operand, g_i)`` for ``num_samples`` independent g_i ~ N(0, I_dim).

    Args:
        fn: (operand, g (dim,)) -> pytree of per-sample outputs; a module-level function, so
            that jit caches its compilation across calls (``operand`` is traced).
        operand: a pytree of arrays (the body or cone).
        key: PRNG key (keyword-only, required); sample i uses ``fold_in(key, i)``.
        num_samples: >= 2.
        dim: D.
        dtype: floating dtype of g (default: JAX's default float).
        chunk_size: samples per jitted call (default ``CHUNK_ELEMENTS // dim``); memory is
            O(chunk_size * D) plus whatever ``fn`` needs per sample.
        progress: progress bar over chunks on stderr (default False).

    Returns:
        the pytree of outputs as NumPy arrays with a leading axis of length ``num_samples``.
    """
    key = _checks.prng_key("key", key)
    num_samples = _checks.integer("num_samples", num_samples, minimum=2)
    dim = _checks.positive_int("dim", dim)
    dtype = _checks.float_dtype("dtype", dtype)
    if chunk_size is None:
        chunk_size = max(1, min(num_samples, CHUNK_ELEMENTS // dim))
    chunk_size = _checks.positive_int("chunk_size", chunk_size)
    starts = range(0, num_samples, chunk_size)
    parts = [jax.tree_util.tree_map(np.asarray, _chunk(fn, operand, key, start,
                                                       min(chunk_size, num_samples - start),
                                                       dim, dtype))
             for start in track(starts, desc=desc, total=len(starts), enabled=progress)]
    return jax.tree_util.tree_map(lambda *xs: np.concatenate(xs), *parts)
