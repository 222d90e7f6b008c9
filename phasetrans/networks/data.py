"""Offline datasets with fixed, documented train/test splits. Nothing is downloaded.

- ``digits``: scikit-learn's bundled 8x8 digits (1797 images, 64 features, 10 classes); a fixed
  permutation (``seed``) puts 80% (1437) in train and 20% (360) in test.
- ``mnist1d``: the procedural generator of Greydanus' MNIST-1D (``mnist1d.data.make_dataset``,
  its default 5000 samples of length 40, its own 80/20 split, generator seed ``seed``); its
  download path is never used.
- ``synthetic``: teacher-student data: x ~ N(0, I_20), label = argmax of a random ReLU teacher
  MLP 20-32-10 (logits centred over the data so classes are balanced; keys from ``seed``);
  2000 train and 1000 test examples.
- ``load_npz(path)``: a local file with arrays x_train, y_train, x_test, y_test (e.g. MNIST or
  CIFAR-10 saved with ``np.savez``); ``load_cifar10(path)``: the CIFAR-10 "python version"
  directory (data_batch_1..5, test_batch).

Features are flattened and standardised per feature with the *train* split's mean and std
(features with zero std are left centred, not divided).
"""

from __future__ import annotations

import pathlib
import pickle
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from phasetrans import _checks, _io

DATASETS = ("digits", "mnist1d", "synthetic")


class Dataset(NamedTuple):
    """Standardised float32 features (n, features) and int32 labels (n,).

    ``input_shape`` is one example's shape before flattening (digits (8, 8), mnist1d (40,)),
    used by convolutional networks.
    """

    x_train: jax.Array
    y_train: jax.Array
    x_test: jax.Array
    y_test: jax.Array
    num_classes: int
    name: str
    input_shape: tuple


def _finish(name, x_train, y_train, x_test, y_test, input_shape=None) -> Dataset:
    input_shape = tuple(np.shape(x_train)[1:]) if input_shape is None else tuple(input_shape)
    x_train = np.asarray(x_train, np.float64).reshape(len(x_train), -1)
    x_test = np.asarray(x_test, np.float64).reshape(len(x_test), -1)
    if not (np.all(np.isfinite(x_train)) and np.all(np.isfinite(x_test))):
        raise ValueError(f"{name}: features contain NaN or Inf")
    mean, std = x_train.mean(0), x_train.std(0)
    std = np.where(std > 0, std, 1.0)
    y_train, y_test = np.asarray(y_train, np.int32).ravel(), np.asarray(y_test, np.int32).ravel()
    num_classes = int(max(y_train.max(), y_test.max())) + 1
    return Dataset(jnp.asarray((x_train - mean) / std, jnp.float32), jnp.asarray(y_train),
                   jnp.asarray((x_test - mean) / std, jnp.float32), jnp.asarray(y_test),
                   num_classes, name, input_shape)


def _digits(seed):
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    order = np.random.default_rng(seed).permutation(len(y))
    n_train = int(0.8 * len(y))
    train, test = order[:n_train], order[n_train:]
    return _finish("digits", x[train], y[train], x[test], y[test], input_shape=(8, 8))


def _mnist1d(seed):
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.seed = seed
    d = make_dataset(args)
    return _finish("mnist1d", d["x"], d["y"], d["x_test"], d["y_test"])


def _synthetic(seed, num_train=2000, num_test=1000, dim=20, hidden=32, num_classes=10):
    k_x, k_w1, k_w2 = jax.random.split(jax.random.key(seed), 3)
    x = np.asarray(jax.random.normal(k_x, (num_train + num_test, dim)))
    w1 = np.asarray(jax.random.normal(k_w1, (dim, hidden))) / np.sqrt(dim)
    w2 = np.asarray(jax.random.normal(k_w2, (hidden, num_classes))) / np.sqrt(hidden)
    logits = np.maximum(x @ w1, 0.0) @ w2
    y = np.argmax(logits - logits.mean(0), axis=1)  # centring the teacher balances the classes
    return _finish("synthetic", x[:num_train], y[:num_train], x[num_train:], y[num_train:])


def load(name: str, *, seed: int = 0) -> Dataset:
    """Load one of the offline datasets ``DATASETS`` (see the module docstring for splits)."""
    _checks.one_of("name", name, DATASETS)
    seed = _checks.integer("seed", seed, minimum=0)
    return {"digits": _digits, "mnist1d": _mnist1d, "synthetic": _synthetic}[name](seed)


def _existing(path, kind: str) -> pathlib.Path:
    path = pathlib.Path(path)
    if not path.exists():
        raise ValueError(f"path {str(path)!r} does not exist; give the local {kind}")
    return path


MAX_CLASSES = 10_000  # labels of a local file must lie in 0 .. MAX_CLASSES - 1
_NPZ_ARRAYS = ("x_train", "y_train", "x_test", "y_test")


def _npz_split(where, arrays, x_name, y_name):
    """Checked (x, y) of one split of a local .npz; ``where`` names the file in messages."""
    x, y = arrays[x_name], arrays[y_name]
    for array_name, a in ((x_name, x), (y_name, y)):
        if a.dtype.kind not in "biuf":
            raise ValueError(f"{array_name} of {where} has dtype {a.dtype}; it must be numeric "
                             "(bool, integer or float)")
    if x.ndim < 2:
        raise ValueError(f"{x_name} of {where} has shape {x.shape}; it must be (examples, "
                         "features...) with at least 2 dimensions")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"{y_name} of {where} has shape {y.shape}; labels must be (examples,) "
                         "or (examples, 1) class indices (convert one-hot labels with argmax)")
    if len(x) != len(y):
        raise ValueError(f"{x_name} of {where} has {len(x)} examples but {y_name} has "
                         f"{len(y)} labels; they must match")
    if len(x) == 0:
        raise ValueError(f"{x_name} and {y_name} of {where} hold no examples; each split needs "
                         "at least one")
    if x.dtype.kind == "f" and not np.all(np.isfinite(x)):
        raise ValueError(f"{x_name} of {where} contains NaN or Inf; features must be finite")
    if y.dtype.kind == "f":
        bad = ~np.isfinite(y) | (y != np.round(y))
        if np.any(bad):
            raise ValueError(f"{y_name} of {where} holds non-integer labels (e.g. "
                             f"{y[np.argmax(bad)].item()!r}); labels must be integer class "
                             "indices")
    if y.min() < 0:
        raise ValueError(f"{y_name} of {where} holds negative labels (min {y.min()}); labels "
                         "must be class indices 0, 1, ..., num_classes - 1")
    if y.max() >= MAX_CLASSES:
        raise ValueError(f"{y_name} of {where} has labels up to {y.max()}; labels must be < "
                         f"{MAX_CLASSES} (at most {MAX_CLASSES} classes)")
    return x, y.astype(np.int32)


def load_npz(path, *, name: str = "npz") -> Dataset:
    """Load a local ``.npz`` with arrays x_train, y_train, x_test, y_test (any feature shape).

    The file is read with ``allow_pickle=False``. Requirements, each checked with a
    ``ValueError`` that names the file and the array: ``x_*`` numeric, finite, (n, ...) with
    n >= 1 and the same per-example shape in both splits; ``y_*`` (n,) or (n, 1) integer class
    labels in [0, ``MAX_CLASSES``) (float labels are accepted if integer-valued). A one-example
    training split is allowed (standardisation then only centres). Extra arrays are ignored.

    Args:
        path: the ``.npz`` file (e.g. MNIST or CIFAR-10 saved with ``np.savez``).
        name: the returned ``Dataset.name``; default ``"npz"``.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__} {name!r}")
    arrays = _io.read_npz(path, kind="data file")
    where = f"data file {str(path)!r}"
    missing = [key for key in _NPZ_ARRAYS if key not in arrays]
    if missing:
        raise ValueError(f"{where} lacks arrays {missing}; it has {sorted(arrays)} (needs "
                         f"{list(_NPZ_ARRAYS)})")
    x_train, y_train = _npz_split(where, arrays, "x_train", "y_train")
    x_test, y_test = _npz_split(where, arrays, "x_test", "y_test")
    if x_train.shape[1:] != x_test.shape[1:]:
        raise ValueError(f"{where}: x_train examples have shape {x_train.shape[1:]} but x_test "
                         f"examples have shape {x_test.shape[1:]}; they must match")
    return _finish(name, x_train, y_train, x_test, y_test)


def load_cifar10(path) -> Dataset:
    """Load CIFAR-10 from the local "python version" directory (data_batch_1..5, test_batch)."""
    root = _existing(path, "CIFAR-10 directory (cifar-10-batches-py)")

    def batch(file_name):
        file = root / file_name
        if not file.exists():
            raise ValueError(f"{file} is missing; expected the cifar-10-batches-py layout")
        with open(file, "rb") as f:
            d = pickle.load(f, encoding="bytes")
        return np.asarray(d[b"data"], np.float64) / 255.0, np.asarray(d[b"labels"])

    train = [batch(f"data_batch_{i}") for i in range(1, 6)]
    x_test, y_test = batch("test_batch")
    return _finish("cifar10", np.concatenate([b[0] for b in train]),
                   np.concatenate([b[1] for b in train]), x_test, y_test)
