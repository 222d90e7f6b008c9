"""PyTorch models as JAX functions: an ``nn.Sequential`` of Linear / Conv2d / ReLU / Flatten.

The paper's official code trains in PyTorch [ZZSL, github.com/QiaozheZhang/Global-One-shot-
Pruning], and so do most of its users. :func:`from_state_dict` rebuilds such a network from its
``state_dict`` — a ``.safetensors`` file read with the small ``safetensors`` package and NumPy
(no torch, no pickle) or any mapping of arrays — and the list of its layers;
:func:`from_module` reads a live ``nn.Sequential`` when torch happens to be installed. Both
return ``(apply, params)`` for :meth:`phasetrans.networks.problem.Problem.from_apply`:

- ``params``: one ``{"w", "b"}`` dict per Linear / Conv2d, in PyTorch's own layouts (Linear
  ``(out, in)``, Conv2d ``(out, in, kh, kw)``), so a mask or a pruned weight maps back to the
  ``state_dict`` entry of the same name (``names``) unchanged;
- ``apply(params, x)``: PyTorch's forward pass, inputs in PyTorch's layout (``(n, features)``,
  images ``(n, C, H, W)``); Flatten flattens (C, H, W) in that order, as ``nn.Flatten`` does.

Logits agree with PyTorch's within 1e-5 (tests/test_interop.py, against a committed fixture
made by ``tests/fixtures/make_torch_fixture.py``).
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from phasetrans import _checks

KINDS = ("linear", "conv2d", "relu", "flatten")
"""The layers :func:`from_state_dict` understands (``nn.Linear``, ``nn.Conv2d``, ``nn.ReLU``,
``nn.Flatten``)."""


class Layer(NamedTuple):
    """One layer of the ``nn.Sequential``: ``kind`` in :data:`KINDS`; ``stride`` and
    ``padding`` (symmetric, in pixels) for ``"conv2d"`` only."""

    kind: str
    stride: int = 1
    padding: int = 0


class Imported(NamedTuple):
    """A PyTorch network as JAX: ``apply(params, x)``, ``params`` (a list of ``{"w", "b"}``
    dicts), and ``names``: the ``state_dict`` key of each ``params[i]["w"]``."""

    apply: Callable
    params: list
    names: list


def _layer(index: int, layer) -> Layer:
    layer = Layer(layer) if isinstance(layer, str) else layer
    if not isinstance(layer, Layer):
        raise TypeError(f"layers[{index}] must be a kind in {KINDS} or an interop.Layer, got "
                        f"{type(layer).__name__}")
    _checks.one_of(f"layers[{index}].kind", layer.kind, KINDS)
    _checks.integer(f"layers[{index}].stride", layer.stride, minimum=1)
    _checks.integer(f"layers[{index}].padding", layer.padding, minimum=0)
    if layer.kind != "conv2d" and (layer.stride, layer.padding) != (1, 0):
        raise ValueError(f"layers[{index}]: stride and padding apply to 'conv2d' only")
    return layer


def _read(state) -> dict:
    if isinstance(state, str | pathlib.Path):
        path = pathlib.Path(state)
        if path.suffix != ".safetensors":
            raise ValueError(f"state {str(path)!r} must be a .safetensors file (save it with "
                             "safetensors.torch.save_file(model.state_dict(), path))")
        if not path.is_file():
            raise ValueError(f"state file {str(path)!r} does not exist")
        from safetensors.numpy import load_file

        return dict(load_file(str(path)))
    if not isinstance(state, Mapping):
        raise TypeError(f"state must be a .safetensors path or a mapping of arrays, got "
                        f"{type(state).__name__}")
    return {str(k): np.asarray(v) for k, v in state.items()}


def from_state_dict(state, layers: Sequence) -> Imported:
    """Rebuild an ``nn.Sequential`` from its ``state_dict`` and its layers.

    Args:
        state: a ``.safetensors`` path, or a mapping ``"i.weight"`` / ``"i.bias"`` -> array,
            i the layer's position in the Sequential (as ``state_dict()`` names them).
        layers: the Sequential's layers in order, each a kind in :data:`KINDS` or a
            :class:`Layer` (Conv2d's stride and padding are not in the state, give them).

    Raises ``ValueError`` naming the key for a missing or unused entry, a weight of the wrong
    rank, a bias that does not match its weight, or non-finite values.
    """
    if isinstance(layers, str) or not isinstance(layers, Sequence) or not layers:
        raise TypeError("layers must be a non-empty list of layer kinds / interop.Layer")
    layers = [_layer(i, layer) for i, layer in enumerate(layers)]
    arrays = _read(state)
    params, names, used = [], [], set()
    for i, layer in enumerate(layers):
        if layer.kind not in ("linear", "conv2d"):
            continue
        rank = 2 if layer.kind == "linear" else 4
        keys = (f"{i}.weight", f"{i}.bias")
        for key in keys:
            if key not in arrays:
                raise ValueError(f"state has no {key!r} for layers[{i}] ({layer.kind}); its "
                                 f"keys: {sorted(arrays)}")
        w = _checks.array(keys[0], arrays[keys[0]], ndim=rank).astype(jnp.float32)
        b = _checks.array(keys[1], arrays[keys[1]], shape=(w.shape[0],)).astype(jnp.float32)
        params.append({"w": w, "b": b})
        names.append(keys[0])
        used.update(keys)
    if not params:
        raise ValueError("layers has no linear or conv2d layer: nothing to prune")
    unused = sorted(set(arrays) - used)
    if unused:
        raise ValueError(f"state has entries no layer uses: {unused} (is the layer list the "
                         "Sequential's, in order?)")
    return Imported(_forward(tuple(layers)), params, names)


def _forward(layers: tuple) -> Callable:
    def apply(params, x):
        weights = iter(params)
        for layer in layers:
            if layer.kind == "relu":
                x = jax.nn.relu(x)
            elif layer.kind == "flatten":
                x = x.reshape(x.shape[0], -1)
            elif layer.kind == "linear":
                p = next(weights)
                x = x @ p["w"].T + p["b"]
            else:
                p = next(weights)
                pad = [(layer.padding, layer.padding)] * 2
                x = jax.lax.conv_general_dilated(
                    x, p["w"], (layer.stride, layer.stride), pad,
                    dimension_numbers=("NCHW", "OIHW", "NCHW")) + p["b"][None, :, None, None]
        return x

    return apply


def from_module(module) -> Imported:
    """:func:`from_state_dict` of a live ``torch.nn.Sequential`` (needs torch installed):
    its layers are read from the module (Conv2d with symmetric integer stride and padding,
    no dilation or groups; ``Flatten`` from dimension 1)."""
    import torch

    if not isinstance(module, torch.nn.Sequential):
        raise TypeError(f"module must be a torch.nn.Sequential, got {type(module).__name__}")
    layers = []
    for i, child in enumerate(module):
        if isinstance(child, torch.nn.Linear):
            layers.append(Layer("linear"))
        elif isinstance(child, torch.nn.Conv2d):
            stride, padding = child.stride, child.padding
            if (len(set(stride)) != 1 or isinstance(padding, str) or len(set(padding)) != 1
                    or child.dilation != (1, 1) or child.groups != 1
                    or child.padding_mode != "zeros"):
                raise ValueError(f"module[{i}]: only Conv2d with equal strides and paddings, "
                                 "no dilation or groups and zero padding is supported")
            layers.append(Layer("conv2d", stride[0], padding[0]))
        elif isinstance(child, torch.nn.ReLU):
            layers.append(Layer("relu"))
        elif isinstance(child, torch.nn.Flatten) and (child.start_dim, child.end_dim) == (1, -1):
            layers.append(Layer("flatten"))
        else:
            raise ValueError(f"module[{i}] is a {type(child).__name__}; supported: Linear, "
                             "Conv2d, ReLU, Flatten()")
    state = {k: v.detach().cpu().numpy() for k, v in module.state_dict().items()}
    return from_state_dict(state, layers)
