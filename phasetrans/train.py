"""Training with an l1 penalty (the first step of LOMP [ZZSL sec. 5]), vmappable over seeds.

Objective: F(w) = L(w) + l1 * sum over prunable leaves of |w|, with L the mean cross-entropy of
the training set (full batch) or of a random mini-batch per step. Optimiser: optax Adam or SGD.
The whole loop is one ``lax.scan``; ``train_seeds`` vmaps it over keys, so S seeds are one
compiled call.
"""

from __future__ import annotations

import functools
import json
import os
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from phasetrans import _checks, _io, nets
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


METADATA_KEY = "__metadata__"  # the params file's array holding the metadata as a JSON string


def _params_path(path) -> str:
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__} {path!r}")
    if not os.fspath(path).endswith(".npz"):
        raise ValueError(f"params file {str(path)!r} must end in '.npz' (numpy would append it "
                         "silently, and the file could not be loaded back under this name)")
    return os.fspath(path)


def save_params(path, params, *, metadata: dict | None = None) -> None:
    """Atomically write ``params`` and ``metadata`` to the ``.npz`` file ``path``.

    Arrays: ``leaf_0``, ``leaf_1``, ... (the leaves of ``params`` in pytree order) and
    ``__metadata__``, a 0-d unicode array holding ``metadata`` (default ``{}``) as a JSON
    object, so nothing is pickled. ``path`` must end in ``".npz"``; the write goes through a
    temporary file (:func:`phasetrans._io.save_npz`), so a failure leaves an old file intact.

    Args:
        path: destination, ending in ``.npz``; its directory must exist and be writable.
        params: pytree of numeric arrays.
        metadata: JSON-serialisable dict with str keys describing how ``params`` were made
            (e.g. arch, dataset, l1, seeds), checked by :func:`load_params`.
    """
    path = _params_path(path)
    metadata = {} if metadata is None else metadata
    if not isinstance(metadata, dict) or not all(isinstance(k, str) for k in metadata):
        raise TypeError(f"metadata must be a dict with str keys or None, got {metadata!r}")
    try:
        text = json.dumps(metadata, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise TypeError(f"metadata must be JSON-serialisable (finite numbers, str, bool, None, "
                        f"lists, dicts): {err}") from err
    arrays = {f"leaf_{i}": np.asarray(leaf)
              for i, leaf in enumerate(jax.tree_util.tree_leaves(params))}
    for key, leaf in arrays.items():
        if leaf.dtype.kind not in "biufc":
            raise TypeError(f"params {key} has dtype {leaf.dtype}; leaves must be numeric arrays")
    _io.save_npz(path, **arrays, **{METADATA_KEY: np.array(text)})


def _stored_metadata(where, arrays):
    if METADATA_KEY not in arrays:
        return None
    raw = arrays[METADATA_KEY]
    try:
        if raw.shape != () or raw.dtype.kind != "U":
            raise ValueError("not a 0-d unicode array")
        stored = json.loads(str(raw))
        if not isinstance(stored, dict):
            raise ValueError("not a JSON object")
    except ValueError as err:
        raise ValueError(f"{where} has a corrupt {METADATA_KEY} array ({err})") from err
    return stored


def _check_metadata(where, stored, expected) -> None:
    if not isinstance(expected, dict) or not all(isinstance(k, str) for k in expected):
        raise TypeError(f"expected_metadata must be a dict with str keys or None, "
                        f"got {expected!r}")
    if stored is None:
        raise ValueError(f"{where} has no metadata (written by an older version of phasetrans), "
                         f"so it cannot be checked against {expected}; retrain and save it again")
    try:  # compare in JSON form: tuples equal lists, as stored
        expected = json.loads(json.dumps(expected, sort_keys=True))
    except (TypeError, ValueError) as err:
        raise TypeError(f"expected_metadata must be JSON-serialisable: {err}") from err
    for key, value in expected.items():
        if key not in stored:
            raise ValueError(f"{where} metadata lacks key {key!r} (expected {value!r}); it has "
                             f"{sorted(stored)}")
        if stored[key] != value:
            raise ValueError(f"{where} metadata disagrees on {key!r}: stored {stored[key]!r}, "
                             f"expected {value!r}")


def load_params(path, like, *, expected_metadata: dict | None = None):
    """Read an ``.npz`` written by :func:`save_params` into the structure of ``like``.

    The file is read with ``allow_pickle=False``. Raises ``ValueError`` naming the file if it
    is missing, a directory, not a readable ``.npz`` (junk, truncated), a data file rather than a
    params file, holds a different number of leaves than ``like`` (or arrays other than
    ``leaf_<i>``), a leaf of another shape than ``like``'s, or NaN/Inf. If ``expected_metadata``
    is given, every one of its keys must be stored with an equal value (compared in JSON form);
    a file without metadata (older versions) loads only when ``expected_metadata`` is None.

    Args:
        path: the params file (``.npz``).
        like: pytree with the target structure and leaf shapes (e.g. freshly initialised).
        expected_metadata: dict of keys that must match the stored metadata, or None (default:
            no check).
    """
    where = f"params file {str(path)!r}"
    arrays = _io.read_npz(path, kind="params file")
    data_keys = sorted({"x_train", "y_train", "x_test", "y_test"} & set(arrays))
    if data_keys:
        raise ValueError(f"{where} is a data file (it has {data_keys}), not parameters written "
                         "by save_params")
    stored = _stored_metadata(where, arrays)
    if expected_metadata is not None:
        _check_metadata(where, stored, expected_metadata)
    leaves, treedef = jax.tree_util.tree_flatten(like)
    found = [key for key in arrays if key != METADATA_KEY]
    names = [f"leaf_{i}" for i in range(len(found))]
    if sorted(found) != sorted(names):
        unexpected = sorted(set(found) - set(names))
        raise ValueError(f"{where} holds arrays {unexpected} that are not params leaves "
                         "(leaf_0, leaf_1, ...); was it written by save_params?")
    if len(found) != len(leaves):
        raise ValueError(f"{where} has {len(found)} leaves; the network needs {len(leaves)} "
                         "(same architecture?)")
    loaded = [arrays[name] for name in names]
    for i, (got, want) in enumerate(zip(loaded, leaves, strict=True)):
        if got.dtype.kind not in "biufc":
            raise ValueError(f"{where} leaf {i} has dtype {got.dtype}; leaves must be numeric")
        if np.shape(got) != np.shape(want):
            raise ValueError(f"{where} does not match the network's leaf shapes: leaf {i} has "
                             f"shape {np.shape(got)}; the network needs {np.shape(want)} (same "
                             "architecture and number of seeds?)")
    _checks.finite(f"{where} leaves", loaded)
    return jax.tree_util.tree_unflatten(treedef, [jnp.asarray(x) for x in loaded])
