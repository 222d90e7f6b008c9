"""Effective sparsity: kept weights that no longer connect an input to an output count as removed.

A kept weight is *effective* when it lies on at least one path of kept weights from an input
unit to an output unit [Vysogorets & Kempe, "Connectivity Matters: Neural Network Pruning
Through the Lens of Effective Sparsity", JMLR 24(99), 2023, sec. 3]. With M_l the bool
connectivity of layer l (n_l units in, n_{l+1} out; L layers), a_l the units of layer l reachable
from the inputs and z_l the units from which the outputs are reachable,

    a_0 = 1,  a_{l+1} = (M_l^T a_l > 0);      z_L = 1,  z_l = (M_l z_{l+1} > 0),

and the effective mask of layer l is M_l ∧ a_l z_{l+1}^T: a weight is effective iff it is kept,
its source unit is reachable from the inputs and its target unit reaches the outputs. Biases do
not make a unit alive: a unit whose incoming weights are all pruned is unreachable even with a
nonzero bias, so its outgoing weights are not effective. The effective removal ratio
1 - (#effective prunable entries) / D is never below the direct one, 1 - (#kept) / D.

Networks are those of :mod:`phasetrans.networks.nets` (a list of ``{"w", "b"}`` dicts), told apart
by their weight shapes:

- MLP: every ``w`` is (n_in, n_out); the units are the neurons.
- CNN: the first ``w`` is a convolution kernel (k, k, C_in, C) or (k, C_in, C), the following
  ones are dense (features, n_out). Channels are the units of the convolution, as in the paper:
  channel i connects to channel c when any kernel entry [..., i, c] is kept. The first dense
  layer reads the flattened (spatial..., C) output, so feature f belongs to channel f % C.

Masks are bool pytrees like ``params`` (True = kept; see :mod:`phasetrans.networks.prune`); D is the
number of prunable entries (default: the weights, not the biases).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from phasetrans import _checks
from phasetrans.networks import prune

_LAYOUT = ("params must be an MLP (2-D weights) or a CNN (a 3-D or 4-D convolution kernel, then "
           "2-D dense weights) of phasetrans.networks.nets")


def _weight_shapes(params) -> list[tuple[int, ...]]:
    """The shapes of the layers' weights, after checking they form an MLP or a CNN."""
    if not isinstance(params, list | tuple):
        raise TypeError(f"params must be a list of {{'w', 'b'}} dicts (one per layer, as "
                        f"phasetrans.networks.nets makes), got {type(params).__name__}")
    for index, layer in enumerate(params):
        if not (isinstance(layer, dict) and "w" in layer):
            raise TypeError(f"params[{index}] must be a dict with the layer's weight 'w' (and "
                            f"bias 'b'), got {type(layer).__name__}")
    if not params:
        raise ValueError("params must have at least one layer, got an empty list")
    shapes = [tuple(np.shape(layer["w"])) for layer in params]
    conv = len(shapes[0]) in (3, 4)
    dense = shapes[1:] if conv else shapes
    if (conv and not dense) or any(len(shape) != 2 for shape in dense):
        raise ValueError(f"{_LAYOUT}; got weight shapes {shapes}")
    if any(0 in shape for shape in shapes):
        raise ValueError(f"params has a weight with an empty axis; got weight shapes {shapes}")
    for index, (before, shape) in enumerate(zip(shapes[:-1], shapes[1:], strict=True), start=1):
        units = before[-1]
        if shape[0] % units or (len(before) == 2 and shape[0] != units):
            wanted = (f"a multiple of the {units} output channels of layer {index - 1} (its "
                      f"flattened (spatial..., C) output)" if len(before) > 2 else
                      f"{units}, the outputs of layer {index - 1}")
            raise ValueError(f"params[{index}]['w'] has {shape[0]} input units but must have "
                             f"{wanted}; got weight shapes {shapes}")
    return shapes


def supported(params) -> bool:
    """Whether ``params`` has a layout this module understands (an MLP or CNN of
    :mod:`phasetrans.networks.nets`, see the module docstring); other models have no effective
    sparsity here."""
    try:
        _weight_shapes(params)
    except (TypeError, ValueError):
        return False
    return True


def _check_mask(params, mask) -> None:
    """``mask`` must be a bool pytree with the structure and leaf shapes of ``params``."""
    _checks.same_structure("mask", mask, "params", params)
    for path, leaf in jax.tree_util.tree_leaves_with_path(mask):
        if jnp.result_type(leaf) != jnp.bool_:
            raise TypeError(f"mask{jax.tree_util.keystr(path)} must be bool (True = kept), got "
                            f"dtype {jnp.result_type(leaf)}; e.g. use w != 0 or "
                            f"phasetrans.networks.prune.mask_for")


def effective_mask(params, mask):
    """The effective mask: the kept weights on some input-to-output path of kept weights.

    Weight entry (i -> j) of layer l stays True iff ``mask`` keeps it, unit i is reachable from
    the inputs (a_l[i]) and unit j reaches the outputs (z_{l+1}[j]); see the module docstring
    [Vysogorets & Kempe 2023, sec. 3]. Reachability is one bool matrix-vector product per layer
    and direction. A convolution's entry [..., i, c] is effective iff kept, input channel i is
    reachable and channel c reaches the outputs; a dense read-out weight from feature f is
    effective iff kept, channel f % C is reachable and its target reaches the outputs.

    Pure; jittable and vmappable over ``mask`` (e.g. ``jax.vmap(effective_mask, (None, 0))``
    for masks with a leading axis). ``params`` is used only for its structure and shapes.

    Args:
        params: an MLP's or CNN's parameters, a list of ``{"w", "b"}`` dicts (see the module
            docstring for the shapes allowed; others raise ``ValueError``).
        mask: bool pytree with the structure and leaf shapes of ``params`` (True = kept).

    Returns:
        A bool pytree like ``mask``: its weights replaced by their effective part (a subset of
        ``mask``), every other entry (the biases) copied from ``mask`` unchanged. Biases never
        make a unit reachable.
    """
    _weight_shapes(params)
    _check_mask(params, mask)
    kept = [jnp.asarray(layer["w"]) for layer in mask]
    units = [kept[0].shape[-2]] + [w.shape[-1] for w in kept]  # units entering each layer
    # unit-level connectivity (units[l], units[l + 1]): any kept entry between the two units
    links = [w.reshape(-1, n, w.shape[-1]).any(axis=0)
             for w, n in zip(kept, units[:-1], strict=True)]
    # reachability: bool matrix-vector products (any of and), which XLA fuses under vmap
    reach_in = [jnp.ones(units[0], bool)]  # a_0 ... a_{L-1}
    for link in links[:-1]:
        reach_in.append(jnp.any(reach_in[-1][:, None] & link, axis=0))
    reach_out = [jnp.ones(units[-1], bool)]  # z_1 ... z_L
    for link in reversed(links[1:]):
        reach_out.insert(0, jnp.any(link & reach_out[0], axis=1))
    # a layer's input entries repeat its input units: entry row f belongs to unit f % units[l]
    effective = [w & jnp.tile(a, w.shape[-2] // a.size)[:, None] & z
                 for w, a, z in zip(kept, reach_in, reach_out, strict=True)]
    return type(mask)(dict(layer, w=w) for layer, w in zip(mask, effective, strict=True))


def _count(mask_leaf) -> jax.Array:
    """The number of True entries (int32), summed per row in int16 first when rows are shorter
    than 2**15: XLA vectorises that 2-3x better than one int32 sum when vmapped over masks."""
    rows = jnp.atleast_1d(mask_leaf)
    row_dtype = jnp.int16 if rows.shape[-1] < 2**15 else jnp.int32
    return jnp.sum(jnp.sum(rows, axis=-1, dtype=row_dtype), dtype=jnp.int32)


def removal_ratio(params, mask, prunable=None) -> jax.Array:
    """The direct removal ratio of ``mask``: 1 - (#kept prunable entries) / D.

    Vmappable over ``mask``; ``params`` is used only for its structure and shapes.

    Args:
        params: any parameter pytree.
        mask: bool pytree with the structure and leaf shapes of ``params`` (True = kept).
        prunable: bool per leaf saying which leaves count (default: the weights, ``ndim >= 2``
            leaves, not the biases; see :mod:`phasetrans.networks.prune`). D is their number of
            entries; D = 0 raises ``ValueError``.

    Returns:
        Scalar array in [0, 1] (JAX's default float dtype).
    """
    _check_mask(params, mask)
    dim = prune.num_prunable(params, prunable)
    if dim == 0:
        raise ValueError("prunable marks no entry of params as prunable (D = 0), so no removal "
                         "ratio is defined; pass prunable=None to count the weights")
    flags = jax.tree_util.tree_leaves(prune._prunable(params, prunable))
    kept = [_count(m) for m, flag in zip(jax.tree_util.tree_leaves(mask), flags, strict=True)
            if flag]
    return (dim - sum(kept)).astype(jnp.result_type(float)) / dim


def effective_removal_ratio(params, mask, prunable=None) -> jax.Array:
    """The effective removal ratio: 1 - (#effective prunable entries) / D >= ``removal_ratio``.

    The direct removal ratio of ``effective_mask(params, mask)`` [Vysogorets & Kempe 2023,
    sec. 3]: weights cut off from the inputs or the outputs count as removed. Arguments as in
    :func:`effective_mask` and :func:`removal_ratio` (``prunable`` default: the weights);
    vmappable over ``mask``.

    Returns:
        Scalar array in [0, 1] (JAX's default float dtype).
    """
    return removal_ratio(params, effective_mask(params, mask), prunable)
