"""Witness files: a sparse network and its claim, written once and checked from the file alone.

A witness (:mod:`phasetrans.networks.witnesses`) claims that a sparse network x meets the
tolerance set of a trained network w*. Its file (``.npz``, nothing pickled) holds

- ``witness/leaf_<i>``: x, the leaves in pytree order (pruned weights exactly 0);
- ``mask/leaf_<i>``: the kept coordinates (bool; False exactly where a prunable weight of x is 0);
- ``trained/leaf_<i>``: w*; ``dense/leaf_<i>``: w* continued with the search's budget (the fair
  reference);
- ``__metadata__``: a JSON object: the claim (``criterion`` in :data:`CLAIMS`, the removal
  ratio and count, F, L, test accuracy of x, F(w*), F*_fair, the accuracy of w*, eps and how it
  was measured), the search and its settings, and the problem (dataset, arch, l1, data seed,
  which network).

:func:`check` recomputes all of it from the file and the model (the built-in network named in
the metadata, or a :class:`~phasetrans.networks.problem.Problem` of your own): it counts the
exact zeros, recomputes F(x), F(w*), F(dense), L, the accuracies and, when the file records the
mini-batch key, eps; compares them with the stored values; and evaluates the claim. It does not
import the search code. ``phasetrans check-witness FILE`` is its command line (exit 0 when the
claim holds, 1 when it does not, 2 on bad input).
"""

from __future__ import annotations

import json
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from phasetrans import _io
from phasetrans.networks import data, nets, train
from phasetrans.networks.problem import Problem, check_problem
from phasetrans.theory import formula

FORMAT = "phasetrans witness 1"
"""The ``format`` entry of a witness file's metadata."""

CLAIMS = {"objective": "F(x) <= F*_fair + eps",
          "objective_trained": "F(x) <= F(w*) + eps",
          "accuracy": "test accuracy of x >= that of w* - accuracy_tol"}
"""The criteria a witness can claim (F = L + l1 ||w||_1 on the training set, full batch)."""

GROUPS = ("witness", "mask", "trained", "dense")
REQUIRED = ("format", "criterion", "search", "settings", "target_ratio", "removal_ratio",
            "num_removed", "num_prunable", "objective", "train_loss", "test_accuracy",
            "trained_objective", "fair_objective", "trained_test_accuracy", "epsilon",
            "epsilon_noise", "accuracy_tol", "l1", "problem")
RTOL = 1e-5
"""Relative tolerance between a stored value and its recomputation (float32 evaluation)."""


def write(path, *, witness, trained, dense, prunable, claim: dict) -> None:
    """Write a witness file (see the module docstring); ``claim`` holds every key of
    :data:`REQUIRED` but ``format`` and the mask-derived counts, which are filled in here.

    Args:
        path: destination ``.npz`` (its directory must exist).
        witness, trained, dense: one network each (same pytree, no seed axis).
        prunable: bool pytree of the prunable leaves.
        claim: JSON-serialisable dict (see :data:`REQUIRED`).
    """
    flags = [bool(f) for f in jax.tree_util.tree_leaves(prunable)]
    leaves = [np.asarray(w) for w in jax.tree_util.tree_leaves(witness)]
    mask = [(w != 0) if f else np.ones(w.shape, bool) for w, f in zip(leaves, flags, strict=True)]
    removed = sum(int(np.sum(~m)) for m in mask)
    total = sum(w.size for w, f in zip(leaves, flags, strict=True) if f)
    metadata = {**claim, "format": FORMAT, "num_removed": removed, "num_prunable": total,
                "removal_ratio": removed / total, "prunable": flags}
    missing = sorted(set(REQUIRED) - set(metadata))
    if missing:
        raise ValueError(f"claim lacks {missing}")
    arrays = {}
    for group, tree in zip(GROUPS, (leaves, mask, trained, dense), strict=True):
        for i, leaf in enumerate(jax.tree_util.tree_leaves(tree)):
            arrays[f"{group}/leaf_{i}"] = np.asarray(leaf)
    text = json.dumps(metadata, sort_keys=True, allow_nan=False)
    train._params_path(path)
    _io.save_npz(path, **arrays, **{train.METADATA_KEY: np.array(text)})


class Check(NamedTuple):
    """What :func:`check` found: ``holds`` (every line passed) and one line per check, each
    starting with ``ok`` or ``FAILS``; ``recomputed`` holds the recomputed values."""

    holds: bool
    lines: list
    recomputed: dict


def _read(path):
    where = f"witness file {str(path)!r}"
    arrays = _io.read_npz(path, kind="witness file")
    if train.METADATA_KEY not in arrays:
        raise ValueError(f"{where} has no {train.METADATA_KEY} array: not a witness file")
    try:
        metadata = json.loads(str(arrays.pop(train.METADATA_KEY)))
    except ValueError as err:
        raise ValueError(f"{where} has corrupt metadata ({err})") from err
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise ValueError(f"{where} is not a witness file of format {FORMAT!r}")
    missing = sorted(set(REQUIRED) - set(metadata))
    if missing:
        raise ValueError(f"{where} metadata lacks {missing}")
    if metadata["criterion"] not in CLAIMS:
        raise ValueError(f"{where} claims an unknown criterion {metadata['criterion']!r}; "
                         f"known: {sorted(CLAIMS)}")
    groups = {}
    for group in GROUPS:
        names = sorted((k for k in arrays if k.startswith(f"{group}/")),
                       key=lambda k: int(k.rsplit("_", 1)[1]))
        groups[group] = [arrays[k] for k in names]
    return where, metadata, groups


def _built_in(where, problem_metadata, data_file):
    try:
        dataset_name, arch, seed = (problem_metadata[k] for k in ("dataset", "arch", "seed"))
        spec = nets.arch_spec(arch)
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{where} does not name a built-in dataset and network ({err}); check "
                         "it with the Problem of your model (--model)") from err
    ds = (data.load_npz(data_file, name=dataset_name) if data_file is not None
          else data.load(dataset_name, seed=seed))
    net = nets.parse_arch(spec, input_shape=ds.input_shape, num_classes=ds.num_classes)
    like = net.init(key=jax.random.key(0))
    return (nets.cross_entropy(net.apply), lambda p, b: nets.accuracy(net.apply, p, *b), like,
            (ds.x_train, ds.y_train), (ds.x_test, ds.y_test))


def _trees(where, groups, like, flags):
    leaves, treedef = jax.tree_util.tree_flatten(like)
    trees = {}
    for group, stored in groups.items():
        if len(stored) != len(leaves):
            raise ValueError(f"{where} has {len(stored)} {group} leaves; the model needs "
                             f"{len(leaves)} (the arrays do not match the metadata)")
        for i, (got, want) in enumerate(zip(stored, leaves, strict=True)):
            if np.shape(got) != np.shape(want):
                raise ValueError(f"{where} {group} leaf {i} has shape {np.shape(got)}; the "
                                 f"model needs {np.shape(want)} (the arrays do not match "
                                 "the metadata)")
            if group != "mask" and not np.all(np.isfinite(got)):
                raise ValueError(f"{where} {group} leaf {i} holds NaN or Inf")
        trees[group] = jax.tree_util.tree_unflatten(treedef, [jnp.asarray(x) for x in stored])
    if len(flags) != len(leaves):
        raise ValueError(f"{where} records {len(flags)} prunable flags for {len(leaves)} leaves")
    return trees


def load(path, like) -> tuple[dict, dict]:
    """A witness file's metadata and its trees ``{"witness", "mask", "trained", "dense"}``,
    each shaped as the pytree ``like`` (e.g. the model's parameters). ``ValueError`` on a file
    that cannot be read or whose arrays do not match ``like``. Nothing is checked: that is
    :func:`check`'s job."""
    where, meta, groups = _read(path)
    return meta, _trees(where, groups, like, [bool(f) for f in meta["prunable"]])


def _close(stored, value) -> bool:
    return abs(float(stored) - float(value)) <= RTOL * max(abs(float(value)), 1e-12) + 1e-7


def check(path, problem: Problem | None = None, *, data_file=None) -> Check:
    """Recompute a witness file's claim (see the module docstring).

    Args:
        path: the witness ``.npz``.
        problem: None (default) for a built-in network (dataset, arch and data seed from the
            file's metadata), or a :class:`~phasetrans.networks.problem.Problem` of your model:
            its model and data are used, its parameters only for the pytree structure.
        data_file: a local dataset ``.npz`` (:func:`phasetrans.networks.data.load_npz`) instead
            of the built-in one of the metadata's name.

    Returns:
        :class:`Check`. Raises ``ValueError`` on a file that cannot be checked (unreadable,
        truncated, missing metadata, arrays that do not match the model).
    """
    where, meta, groups = _read(path)
    if problem is None:
        loss_fn, accuracy_fn, like, train_set, test_set = _built_in(where, meta["problem"],
                                                                    data_file)
    else:
        check_problem(problem)
        loss_fn, accuracy_fn = problem.model.loss, problem.model.accuracy
        like, train_set, test_set = problem.seed(0), problem.train, problem.test
    flags = [bool(f) for f in meta["prunable"]]
    trees = _trees(where, groups, like, flags)
    prunable = jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(like), flags)
    l1 = float(meta["l1"])
    f = jax.jit(train.objective(loss_fn, l1, prunable))
    lines = []

    def line(ok: bool, text: str) -> None:
        lines.append(("ok     " if ok else "FAILS  ") + text)

    x_leaves = [np.asarray(w) for w in jax.tree_util.tree_leaves(trees["witness"])]
    masks = [np.asarray(m) for m in jax.tree_util.tree_leaves(trees["mask"])]
    removed = sum(int(np.sum(~m.astype(bool))) for m, p in zip(masks, flags, strict=True) if p)
    zeros = sum(int(np.sum(w == 0)) for w, p in zip(x_leaves, flags, strict=True) if p)
    total = sum(w.size for w, p in zip(x_leaves, flags, strict=True) if p)
    outside = sum(int(np.sum(w[~m.astype(bool)] != 0))
                  for w, m in zip(x_leaves, masks, strict=True))
    frozen_masked = sum(int(np.sum(~m.astype(bool))) for m, p in zip(masks, flags, strict=True)
                        if not p)
    line(removed == meta["num_removed"] and total == meta["num_prunable"],
         f"mask removes {removed} of {total} prunable weights (claimed {meta['num_removed']} "
         f"of {meta['num_prunable']})")
    line(outside == 0 and frozen_masked == 0,
         f"the witness is exactly 0 off the mask ({outside} nonzero there; {frozen_masked} "
         "masked entries in leaves that are not prunable)")
    line(zeros == meta["num_removed"],
         f"the witness has {zeros} exact zeros among its prunable weights")
    ratio = removed / total
    line(abs(ratio - meta["removal_ratio"]) <= 1e-12,
         f"removal ratio {ratio:.6f} (claimed {meta['removal_ratio']:.6f})")
    values = {"objective": float(f(trees["witness"], train_set)),
              "train_loss": float(loss_fn(trees["witness"], train_set)),
              "test_accuracy": float(accuracy_fn(trees["witness"], test_set)),
              "trained_objective": float(f(trees["trained"], train_set)),
              "trained_test_accuracy": float(accuracy_fn(trees["trained"], test_set))}
    values["fair_objective"] = min(values["trained_objective"],
                                   float(f(trees["dense"], train_set)))
    for name, value in values.items():
        line(_close(meta[name], value), f"{name} recomputed {value:.8g} (stored "
             f"{meta[name]:.8g})")
    epsilon = float(meta["epsilon"])
    noise = meta["epsilon_noise"]
    if noise is not None:
        key = jax.random.wrap_key_data(jnp.asarray(noise["key_data"], jnp.uint32))
        measured = formula.loss_noise(loss_fn, trees["trained"], train_set, key=key,
                                      batch_size=noise["batch_size"],
                                      num_batches=noise["num_batches"]).epsilon.mean
        values["epsilon"] = measured
        line(abs(measured - epsilon) <= 1e-4 * epsilon,
             f"eps recomputed {measured:.6g} from {noise['num_batches']} mini-batches of "
             f"{noise['batch_size']} (stored {epsilon:.6g})")
    else:
        line(epsilon > 0, f"eps = {epsilon:.6g} as given (no mini-batch key recorded)")
    criterion = meta["criterion"]
    if criterion == "accuracy":
        floor = values["trained_test_accuracy"] - float(meta["accuracy_tol"])
        holds = values["test_accuracy"] >= floor - 1e-7
        text = f"test accuracy {values['test_accuracy']:.4f} vs w*'s - tol = {floor:.4f}"
    else:
        reference = values["fair_objective" if criterion == "objective" else
                           "trained_objective"]
        holds = values["objective"] <= reference + epsilon
        text = f"F(x) = {values['objective']:.8g} vs reference + eps = {reference + epsilon:.8g}"
    line(holds, f"claim {CLAIMS[criterion]}: {text}")
    return Check(all(s.startswith("ok") for s in lines), lines, values)
