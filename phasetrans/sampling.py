"""The one Monte Carlo sampler: Gaussian samples in memory-sized jitted chunks.

Every estimator in :mod:`phasetrans.geometry.width` draws g ~ N(0, I_D) through
:func:`gaussian_map`.
Sample i uses the key ``fold_in(key, i)``, so the samples do not depend on the chunk size nor on
how many devices share them (nor do the outputs, bit for bit, on the device count: see
:func:`gaussian_map`). Each chunk is one jitted ``vmap`` of the per-sample function
(N devices evaluate N chunks per call, one each, through :func:`phasetrans.devices.sharded_map`);
a Python loop over the calls shows a progress bar on stderr and moves the per-sample outputs to
host memory, so no device ever holds more than one chunk of samples.
Reductions over samples (means, standard errors) happen afterwards, on the host, over the
outputs in sample order.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from phasetrans import _checks
from phasetrans._progress import track
from phasetrans.devices import mesh_for, sharded_map

CHUNK_ELEMENTS = 2**21
"""Default chunk: about this many sample entries (8 MB of float32), measured fastest in
``benchmarks/bench_width.py`` (1.9 s vs 2.6 s with 5000-sample chunks at D = 10^4)."""


@functools.partial(jax.jit, static_argnums=(0, 4, 5, 6, 7))
def _chunk(fn, operand, key, start, size, dim, dtype, mesh):
    def one(shared, index):
        operand, key = shared
        return fn(operand, jax.random.normal(jax.random.fold_in(key, index), (dim,), dtype))

    return sharded_map(one, (operand, key), start + jnp.arange(size), mesh=mesh)


def gaussian_map(fn: Callable, operand, *, key, num_samples: int, dim: int, dtype=None,
                 chunk_size: int | None = None, progress: bool = False,
                 desc: str = "Monte Carlo", devices: int | None = None):
    """Evaluate ``fn(operand, g_i)`` for ``num_samples`` independent g_i ~ N(0, I_dim).

    Args:
        fn: (operand, g (dim,)) -> pytree of per-sample outputs; a module-level function, so
            that jit caches its compilation across calls (``operand`` is traced).
        operand: a pytree of arrays (the body or cone).
        key: PRNG key (keyword-only, required); sample i uses ``fold_in(key, i)``.
        num_samples: >= 2.
        dim: D.
        dtype: floating dtype of g (default: JAX's default float).
        chunk_size: samples per batch (default ``CHUNK_ELEMENTS // dim``, at most
            ``num_samples``); memory per device is O(chunk_size * D) plus whatever ``fn`` needs
            per sample.
        progress: progress bar over jitted calls on stderr (default False).
        desc: the progress bar's label.
        devices: how many devices share the chunks (see :func:`phasetrans.devices.mesh`);
            None (default) is one device, the safe choice for a library: no sharding, the
            single-device code path (a plain jitted vmap per chunk, as before ``devices``
            existed). With N devices each jitted call evaluates N whole chunks, device k the
            k-th; the last call is filled up with whole chunks of extra samples, discarded.

    Returns:
        the pytree of outputs as NumPy arrays with a leading axis of length ``num_samples``,
        sample i at index i.

    Determinism: sample i is g_i = normal(fold_in(key, i)), evaluated at position
    i mod chunk_size of a vmapped batch of chunk_size samples; the last num_samples mod
    chunk_size samples form one shorter batch, on one device. That holds on any number of
    devices, so every device runs the same per-batch program on the same batch as one device
    would, and no arithmetic mixes samples: the outputs are the same bit for bit whatever
    ``devices`` is, and so is any reduction the caller makes over them afterwards on the host
    (in sample order). (``chunk_size`` itself can change the last bit: XLA may round a batch
    of another size differently.)
    """
    key = _checks.prng_key("key", key)
    num_samples = _checks.integer("num_samples", num_samples, minimum=2)
    dim = _checks.positive_int("dim", dim)
    dtype = _checks.float_dtype("dtype", dtype)
    mesh = mesh_for(devices)
    if chunk_size is None:
        chunk_size = max(1, min(num_samples, CHUNK_ELEMENTS // dim))
    chunk_size = _checks.positive_int("chunk_size", chunk_size)
    whole = num_samples - num_samples % chunk_size  # samples in whole chunks
    step = chunk_size * mesh.size
    # (first sample, samples evaluated, mesh, samples kept): N chunks per call, then the rest
    calls = [(start, step, mesh, min(step, whole - start)) for start in range(0, whole, step)]
    if whole < num_samples:
        calls.append((whole, num_samples - whole, mesh_for(None), num_samples - whole))
    parts = [jax.tree_util.tree_map(lambda a, keep=keep: np.asarray(a)[:keep],
                                    _chunk(fn, operand, key, start, size, dim, dtype, on))
             for start, size, on, keep in track(calls, desc=desc, enabled=progress)]
    return jax.tree_util.tree_map(lambda *xs: np.concatenate(xs), *parts)
