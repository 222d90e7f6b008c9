"""Independent items split across devices: a 1-D device mesh and the one sharded map.

Every estimator whose work is a batch of independent items (Monte Carlo samples in
:func:`phasetrans.sampling.gaussian_map`, SLQ probes in :func:`phasetrans.networks.spectrum.slq`,
the (seed, ratio) pairs of :func:`phasetrans.networks.prune.sweep` and
:func:`phasetrans.networks.retrain.retrain`) maps a per-item function with :func:`sharded_map`
inside its jitted function, then hands the outputs back with :func:`collect`. Device k of an
N-device mesh evaluates a contiguous block of items; no arithmetic mixes items, the per-item random
keys and probes are drawn from the caller's key exactly as on one device, the outputs come back in
item order and every reduction over items happens afterwards, in item order. So the numbers do not
depend on N, to the last bit where every item is computed in a batch of the same size as on one
device (the Monte Carlo chunks and SLQ probes are); a vmap over ceil(n / N) items per device may
round differently (XLA can reduce in another order for another batch size: one float32 ulp in the
sweep and retrain losses, measured in ``tests/test_sharding.py``).

A mesh spans the first N of ``jax.devices()``: on one host its local devices (GPUs, TPU cores,
or host-platform CPU devices made with ``XLA_FLAGS=--xla_force_host_platform_device_count=N``,
set before JAX starts); after ``jax.distributed.initialize`` the devices of every process (see
``examples/multihost.py``).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from phasetrans import _checks

AXIS = "batch"
"""The mesh axis name: the axis of independent items."""


def mesh(devices: int | None = None) -> Mesh:
    """A 1-D mesh (axis ``AXIS``) over the first ``devices`` of ``jax.devices()``.

    Args:
        devices: how many devices, an integer from 1 to ``jax.device_count()``; None (default)
            means all visible devices.

    Raises:
        TypeError: ``devices`` is not an integer (or None).
        ValueError: ``devices`` < 1 or more than are visible; the message says how many are
            visible and how to get more host-platform devices on CPU.
    """
    visible = jax.devices()
    if devices is None:
        return Mesh(np.array(visible), (AXIS,))
    hint = (f"{len(visible)} {visible[0].platform.upper()} device(s) are visible; on CPU, "
            "XLA_FLAGS=--xla_force_host_platform_device_count=N (set before JAX starts) makes "
            "N host devices")
    try:
        count = _checks.integer("devices", devices, minimum=1, maximum=len(visible))
    except ValueError as error:
        raise ValueError(f"{error}: {hint}") from None
    return Mesh(np.array(visible[:count]), (AXIS,))


def mesh_for(devices: int | None) -> Mesh:
    """The mesh of an estimator's ``devices`` argument: None (the library's default) is one
    device, the unsharded code path; an integer N is :func:`mesh` (N) (validated there)."""
    return mesh(1 if devices is None else devices)


def sharded_map(fn: Callable, shared, items, *, mesh: Mesh, sequential: bool = False):
    """``fn(shared, item)`` for every item along the leading axis of ``items``, split across
    the devices of ``mesh``; call it inside ``jax.jit`` (with ``mesh`` a static argument).

    Args:
        fn: (shared, one item) -> pytree of arrays; it must not mix items (no collectives).
        shared: a pytree of arrays every item needs (replicated to every device), or None.
        items: a pytree of arrays with a common leading axis of n items.
        mesh: a 1-D mesh with axis ``AXIS`` (from :func:`mesh`).
        sequential: map with ``jax.lax.map`` (one item at a time per device: memory of one
            item, for Lanczos runs) instead of ``jax.vmap`` (default False).

    Returns:
        the outputs stacked along a leading axis of length n, in item order.

    On a 1-device mesh this is exactly ``jax.vmap`` (or ``jax.lax.map``) of ``fn`` over
    ``items``, the single-device code. On N devices the items are padded to a multiple of N by
    repeating the last one (so padding items are valid inputs), device k maps ``fn`` over items
    k * b to (k + 1) * b - 1 (b = ceil(n / N)) with the same vmap or lax.map, the padding is
    dropped and the outputs are replicated on every device of the mesh (gathered across
    processes too, so every host can read them). Each device holds its block of items and
    their intermediates only.
    """
    count = jax.tree_util.tree_leaves(items)[0].shape[0]

    def local(shared, block):
        if sequential:
            return jax.lax.map(lambda item: fn(shared, item), block)
        return jax.vmap(fn, in_axes=(None, 0))(shared, block)

    if mesh.size == 1:
        return local(shared, items)
    pad = -count % mesh.size
    padded = jax.tree_util.tree_map(
        lambda a: jnp.concatenate([a, jnp.repeat(a[-1:], pad, axis=0)]), items)
    # check_vma=False: fn has no collectives, and per-item solvers' while_loop carries start
    # as device-invariant constants, which the varying-axes type check would reject
    out = jax.shard_map(local, mesh=mesh, in_specs=(PartitionSpec(), PartitionSpec(AXIS)),
                        out_specs=PartitionSpec(AXIS), check_vma=False)(shared, padded)
    out = jax.lax.with_sharding_constraint(out, NamedSharding(mesh, PartitionSpec()))
    return jax.tree_util.tree_map(lambda a: a[:count], out)


def collect(tree, *, mesh: Mesh):
    """The outputs of a jitted call over ``mesh`` as a one-device call returns them.

    On a mesh of N > 1 devices, every array leaf is copied through host memory to an
    uncommitted array on the default device, so that later computations run once, on one device
    (not replicated over the mesh) and mix freely with arrays from runs on other meshes; on a
    1-device mesh ``tree`` is returned unchanged.
    """
    if mesh.size == 1:
        return tree
    return jax.tree_util.tree_map(lambda a: jnp.asarray(np.asarray(a)), tree)
