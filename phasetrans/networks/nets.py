"""Pure-JAX networks on pytrees: an MLP and a small CNN, with explicit keys.

A :class:`Network` bundles ``init(*, key) -> params`` and ``apply(params, x) -> logits`` for
flat inputs ``x`` of shape (n, features). Parameters are a list of ``{"w", "b"}`` dicts, one per
layer; weights have ``ndim >= 2`` (what :mod:`phasetrans.networks.prune` prunes by default), biases
are 1-D. Initialisation: He-normal weights (std sqrt(2 / fan_in)), zero biases.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp

from phasetrans import _checks

ACTIVATIONS = {"relu": jax.nn.relu, "tanh": jnp.tanh, "gelu": jax.nn.gelu}


class Network(NamedTuple):
    """``init(*, key)`` makes parameters; ``apply(params, x)`` maps (n, features) to logits."""

    init: Callable
    apply: Callable
    name: str


def _he(key, shape, fan_in):
    return jax.random.normal(key, shape) * math.sqrt(2.0 / fan_in)


def mlp(widths: Sequence[int], *, activation: str = "relu") -> Network:
    """Fully connected network; ``widths`` = (inputs, hidden..., outputs), e.g. (64, 32, 10)."""
    widths = [_checks.positive_int("widths", w) for w in widths]
    if len(widths) < 2:
        raise ValueError(f"widths needs at least inputs and outputs, got {widths}")
    act = ACTIVATIONS[_checks.one_of("activation", activation, ACTIVATIONS)]

    def init(*, key):
        key = _checks.prng_key("key", key)
        keys = jax.random.split(key, len(widths) - 1)
        return [{"w": _he(k, (a, b), a), "b": jnp.zeros(b)}
                for k, a, b in zip(keys, widths[:-1], widths[1:], strict=True)]

    def apply(params, x):
        for layer in params[:-1]:
            x = act(x @ layer["w"] + layer["b"])
        return x @ params[-1]["w"] + params[-1]["b"]

    return Network(init, apply, "mlp-" + "-".join(map(str, widths)))


def cnn(input_shape: Sequence[int], num_classes: int, *, channels: int = 8,
        kernel_size: int = 3, activation: str = "relu") -> Network:
    """One 'same' convolution (stride 2) + activation + a dense read-out.

    ``input_shape`` is the spatial shape of one example, (H, W) for images such as digits' (8, 8)
    or (L,) for 1-D signals such as mnist1d's (40,); inputs arrive flat and are reshaped.
    """
    input_shape = tuple(_checks.positive_int("input_shape", s) for s in input_shape)
    if len(input_shape) not in (1, 2):
        raise ValueError(f"input_shape must be (L,) or (H, W), got {input_shape}")
    num_classes = _checks.positive_int("num_classes", num_classes)
    channels = _checks.positive_int("channels", channels)
    kernel_size = _checks.positive_int("kernel_size", kernel_size)
    act = ACTIVATIONS[_checks.one_of("activation", activation, ACTIVATIONS)]
    spatial = "HW" if len(input_shape) == 2 else "W"
    dims = ("N" + spatial + "C", spatial + "IO", "N" + spatial + "C")
    out_shape = tuple(math.ceil(s / 2) for s in input_shape)
    features = channels * math.prod(out_shape)
    kernel_shape = (kernel_size,) * len(input_shape) + (1, channels)

    def init(*, key):
        key = _checks.prng_key("key", key)
        k_conv, k_dense = jax.random.split(key)
        return [{"w": _he(k_conv, kernel_shape, kernel_size ** len(input_shape)),
                 "b": jnp.zeros(channels)},
                {"w": _he(k_dense, (features, num_classes), features),
                 "b": jnp.zeros(num_classes)}]

    def apply(params, x):
        x = x.reshape((x.shape[0], *input_shape, 1))
        y = jax.lax.conv_general_dilated(x, params[0]["w"], (2,) * len(input_shape), "SAME",
                                         dimension_numbers=dims)
        y = act(y + params[0]["b"]).reshape(x.shape[0], -1)
        return y @ params[1]["w"] + params[1]["b"]

    shape = "x".join(map(str, input_shape))
    return Network(init, apply, f"cnn-{shape}-c{channels}-k{kernel_size}")


def parse_arch(arch: str, *, input_shape: Sequence[int], num_classes: int) -> Network:
    """``"cnn"`` or hidden widths like ``"32-32"`` (inputs/outputs from the data)."""
    if not isinstance(arch, str):
        raise TypeError(f"arch must be a string like '32-32' or 'cnn', got {arch!r}")
    if arch == "cnn":
        return cnn(input_shape, num_classes)
    try:
        hidden = [int(w) for w in arch.split("-")] if arch else []
    except ValueError:
        raise ValueError(f"arch must be 'cnn' or hidden widths like '32-32'; got {arch!r}") \
            from None
    return mlp([math.prod(input_shape), *hidden, num_classes])


def arch_spec(name: str) -> str:
    """The :func:`parse_arch` argument of a built-in network's ``name``: ``"cnn-8x8-c8-k3"`` ->
    ``"cnn"``, ``"mlp-64-16-10"`` -> ``"16"`` (the hidden widths)."""
    if not isinstance(name, str) or not name.startswith(("cnn", "mlp-")):
        raise ValueError(f"{name!r} is not the name of a built-in network (cnn-..., mlp-...)")
    return "cnn" if name.startswith("cnn") else "-".join(name.split("-")[2:-1])


def cross_entropy(apply: Callable) -> Callable:
    """``loss_fn(params, (x, y))``: mean softmax cross-entropy of integer labels ``y``."""

    def loss_fn(params, batch):
        x, y = batch
        logits = apply(params, x)
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], 1))

    return loss_fn


def accuracy(apply: Callable, params, x, y) -> jax.Array:
    """Fraction of examples whose arg-max logit equals the label."""
    return jnp.mean(jnp.argmax(apply(params, x), axis=-1) == y)
