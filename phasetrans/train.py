"""Training with an l1 penalty (the first step of LOMP [ZZSL sec. 5]), vmappable over seeds.

Objective: F(w) = L(w) + l1 * sum over prunable leaves of |w|, with L the mean cross-entropy of
the training set (full batch) or of a random mini-batch per step. Optimiser: optax Adam or SGD.
The whole loop is one ``lax.scan``; ``train_seeds`` vmaps it over keys, so S seeds are one
compiled call.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from phasetrans import _checks, nets
from phasetrans.data import Dataset

OPTIMIZERS = {"adam": optax.adam, "sgd": optax.sgd}


class TrainResult(NamedTuple):
    """``params`` after training and the objective F per step, ``loss_history`` (steps,)."""

    params: object
    loss_history: jax.Array


def l1_norm(params, prunable) -> jax.Array:
    """sum |w| over the leaves where the bool pytree ``prunable`` is True."""
    leaves = [jnp.sum(jnp.abs(w)) for w, keep in zip(jax.tree_util.tree_leaves(params),
                                                     jax.tree_util.tree_leaves(prunable),
                                                     strict=True) if keep]
    return sum(leaves, jnp.zeros(()))


def default_prunable(params):
    """Bool pytree: True for weight leaves (``ndim >= 2``), False for biases."""
    return jax.tree_util.tree_map(lambda w: jnp.ndim(w) >= 2, params)


def objective(net: nets.Network, l1: float, prunable):
    """``F(params, (x, y)) = cross-entropy + l1 * ||prunable weights||_1``."""
    loss_fn = nets.cross_entropy(net.apply)

    def f(params, batch):
        return loss_fn(params, batch) + l1 * l1_norm(params, prunable)

    return f


def _check_config(dataset, l1, steps, learning_rate, batch_size, optimizer):
    if not isinstance(dataset, Dataset):
        raise TypeError(f"dataset must be a phasetrans.data.Dataset, got {type(dataset).__name__}")
    _checks.real("l1", l1, nonnegative=True)
    _checks.positive_int("steps", steps)
    _checks.real("learning_rate", learning_rate, positive=True)
    if batch_size is not None:
        _checks.integer("batch_size", batch_size, minimum=1, maximum=len(dataset.y_train))
    _checks.one_of("optimizer", optimizer, OPTIMIZERS)


def train(net: nets.Network, dataset: Dataset, *, key, l1: float = 1e-4, steps: int = 2000,
          learning_rate: float = 3e-3, batch_size: int | None = None,
          optimizer: str = "adam") -> TrainResult:
    """Initialise with ``key`` and minimise the l1-regularised loss for ``steps`` steps.

    Args:
        net: a :class:`phasetrans.nets.Network`.
        dataset: training data (``x_train``, ``y_train`` are used).
        key: PRNG key for initialisation and mini-batches (keyword-only, required).
        l1: penalty strength lambda >= 0 on the weights (``ndim >= 2`` leaves); default 1e-4.
        steps, learning_rate, optimizer: optax ``"adam"`` (default) or ``"sgd"``.
        batch_size: None (default) for full-batch steps, else examples per random mini-batch.
    """
    key = _checks.prng_key("key", key)
    _check_config(dataset, l1, steps, learning_rate, batch_size, optimizer)
    return _train(net, dataset.x_train, dataset.y_train, key, l1, steps, learning_rate,
                  batch_size, optimizer)


def train_seeds(net: nets.Network, dataset: Dataset, *, keys, **options) -> TrainResult:
    """:func:`train` for a batch of keys (S,) in one jitted, vmapped call; leading axis S."""
    keys = jnp.asarray(keys)
    if keys.ndim != 1 or not jnp.issubdtype(keys.dtype, jax.dtypes.prng_key):
        raise TypeError("keys must be a 1-D batch of typed keys, e.g. "
                        "jax.random.split(jax.random.key(0), 3)")
    full = dict(l1=1e-4, steps=2000, learning_rate=3e-3, batch_size=None, optimizer="adam")
    unknown = set(options) - set(full)
    if unknown:
        raise TypeError(f"unknown training options {sorted(unknown)}; allowed {sorted(full)}")
    full.update(options)
    _check_config(dataset, **full)
    run = jax.vmap(_train, in_axes=(None, None, None, 0, None, None, None, None, None))
    return run(net, dataset.x_train, dataset.y_train, keys, full["l1"], full["steps"],
               full["learning_rate"], full["batch_size"], full["optimizer"])


@functools.partial(jax.jit, static_argnums=(0, 5, 7, 8))
def _train(net, x, y, key, l1, steps, learning_rate, batch_size, optimizer):
    init_key, batch_key = jax.random.split(key)
    params = net.init(key=init_key)
    f = objective(net, l1, default_prunable(params))
    opt = OPTIMIZERS[optimizer](learning_rate)

    def step(state, step_key):
        params, opt_state = state
        if batch_size is None:
            batch = (x, y)
        else:
            idx = jax.random.choice(step_key, x.shape[0], (batch_size,), replace=False)
            batch = (x[idx], y[idx])
        value, grads = jax.value_and_grad(f)(params, batch)
        updates, opt_state = opt.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), value

    (params, _), history = jax.lax.scan(step, (params, opt.init(params)),
                                        jax.random.split(batch_key, steps))
    return TrainResult(params, history)


def save_params(path, params) -> None:
    """Write the leaves of ``params`` to an ``.npz`` (``leaf_0``, ``leaf_1``, ... pytree order)."""
    np.savez(path, **{f"leaf_{i}": np.asarray(leaf)
                      for i, leaf in enumerate(jax.tree_util.tree_leaves(params))})


def load_params(path, like):
    """Read an ``.npz`` written by :func:`save_params` into the structure of ``like``.

    Raises ``ValueError`` if the file's leaves do not match ``like``'s count and shapes.
    """
    import pathlib

    if not pathlib.Path(path).exists():
        raise ValueError(f"params file {str(path)!r} does not exist")
    leaves, treedef = jax.tree_util.tree_flatten(like)
    with np.load(path) as f:
        loaded = [f[f"leaf_{i}"] for i in range(len(f.files))]
    shapes = [np.shape(x) for x in loaded]
    expected = [np.shape(x) for x in leaves]
    if shapes != expected:
        raise ValueError(f"params file {path} has leaf shapes {shapes}; the network needs "
                         f"{expected} (same architecture and number of seeds?)")
    _checks.finite("params file", loaded)
    return jax.tree_util.tree_unflatten(treedef, [jnp.asarray(x) for x in loaded])
