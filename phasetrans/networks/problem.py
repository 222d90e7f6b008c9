"""The pruning problem: trained parameters, how to evaluate them, their data and lambda.

A :class:`Problem` is what every capability takes (prediction, sweeps, masked retraining,
attribution): the trained parameters w* (any pytree, held with a leading seed axis S), a
:class:`Model` that evaluates them, the training and test data, the l1 strength lambda of
F = L + lambda ||w||_1 [ZZSL sec. 3], which leaves are prunable, and where it came from.

Build one from your own pieces, for any JAX model (Equinox, Flax, plain functions)::

    problem = Problem.from_apply(apply, params, train=(x, y), test=(x_test, y_test), l1=1e-4)

(``apply(params, x) -> logits``; the loss is the mean softmax cross-entropy of integer labels
and the accuracy the arg-max's), or from any loss with :meth:`Problem.from_loss`; the built-in
trainers return one (:func:`phasetrans.networks.train.train_problem`). Inputs are validated once,
here:
finite floating parameters (an integer leaf, such as a step counter, is named with how to drop
it), one leading seed axis when ``seed_axis=True``, batches with a shared example axis, and a
model that evaluates the data to a scalar loss (checked with ``jax.eval_shape``, no compute).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from phasetrans import _checks
from phasetrans.networks import nets
from phasetrans.networks.data import Dataset


def default_prunable(params):
    """Bool pytree: True for weight leaves (``ndim >= 2``), False for biases."""
    return jax.tree_util.tree_map(lambda w: jnp.ndim(w) >= 2, params)


class Model(NamedTuple):
    """How a :class:`Problem` evaluates one network's parameters.

    Functions only, so it is hashable and jitted code takes it as a static argument (a jit
    cache entry per model, not per call). ``apply(params, x) -> logits`` gives the default
    loss (mean softmax cross-entropy, :func:`phasetrans.networks.nets.cross_entropy`) and accuracy
    (arg-max); ``loss_fn(params, batch) -> mean loss`` and ``accuracy_fn(params, batch) ->
    fraction correct`` replace them.
    """

    apply: Callable | None = None
    loss_fn: Callable | None = None
    accuracy_fn: Callable | None = None

    def loss(self, params, batch) -> jax.Array:
        """The mean training loss L (without the l1 term) of ``params`` on ``batch``."""
        if self.loss_fn is not None:
            return self.loss_fn(params, batch)
        return nets.cross_entropy(self.apply)(params, batch)

    def accuracy(self, params, batch) -> jax.Array:
        """The fraction of ``batch`` classified correctly."""
        if self.accuracy_fn is not None:
            return self.accuracy_fn(params, batch)
        x, y = batch
        return nets.accuracy(self.apply, params, x, y)


def _leaf_name(path) -> str:
    return "params" + jax.tree_util.keystr(path)


def check_params(params) -> None:
    """Raise ``TypeError``/``ValueError`` unless ``params`` is a non-empty pytree of finite
    float arrays; an integer leaf (a step counter, an RNG state) is named, with how to drop it."""
    leaves = jax.tree_util.tree_leaves_with_path(params)
    if not leaves:
        raise ValueError("params holds no arrays; pass the trained parameters (any pytree of "
                         "float arrays)")
    for path, leaf in leaves:
        if not hasattr(leaf, "dtype") and not isinstance(leaf, float | int):
            raise TypeError(f"{_leaf_name(path)} is a {type(leaf).__name__}, not an array; "
                            "pass only the parameter arrays (e.g. eqx.filter(model, "
                            "eqx.is_inexact_array))")
        if not jnp.issubdtype(jnp.result_type(leaf), jnp.floating):
            raise TypeError(f"{_leaf_name(path)} has dtype {jnp.result_type(leaf)}; every "
                            "parameter must be a float array. Drop integer leaves (a step "
                            "counter, an RNG state) from params before building the Problem, "
                            "e.g. keep them in apply's closure")
    _checks.finite("params", params)


def _checked_params(params, seed_axis: bool):
    """``params`` as JAX arrays with a leading seed axis (added when ``seed_axis`` is False)."""
    check_params(params)
    params = jax.tree_util.tree_map(jnp.asarray, params)
    if not seed_axis:
        return jax.tree_util.tree_map(lambda w: w[None], params)
    sizes = {np.shape(w)[0] if np.ndim(w) else None
             for w in jax.tree_util.tree_leaves(params)}
    if len(sizes) != 1 or None in sizes:
        raise ValueError(f"seed_axis=True needs one leading seed axis on every leaf of params, "
                         f"got leading sizes {sorted(sizes, key=str)} (None = a scalar leaf)")
    return params


def _checked_batch(name: str, batch):
    if batch is None:
        raise TypeError(f"{name} is required: a batch (x, y) of arrays with a leading example "
                        "axis")
    _checks.num_examples(name, batch)
    return jax.tree_util.tree_map(jnp.asarray, batch)


def check_problem(problem) -> Problem:
    """``problem`` after checking it is a :class:`Problem` (``TypeError`` saying how to build
    one): what every capability taking a problem calls first."""
    if not isinstance(problem, Problem):
        raise TypeError(f"problem must be a phasetrans.Problem (Problem.from_apply, "
                        f"from_loss or from_network), got {type(problem).__name__}")
    return problem


@dataclasses.dataclass(frozen=True, eq=False)
class Problem:
    """A trained network (or S of them) to prune: see the module docstring.

    Attributes:
        params: w*, a pytree with a leading seed axis S on every leaf.
        model: the :class:`Model` evaluating one network's parameters.
        train, test: batches (pytrees of arrays with a leading example axis, e.g. ``(x, y)``);
            L, the Hessian and eps are computed on ``train``; sweeps report both.
        l1: lambda >= 0 of F = L + lambda ||prunable||_1.
        prunable: one Python bool per leaf of a single network (True = prunable and
            penalised); :func:`default_prunable` (weights, not biases) unless given.
        metadata: where it came from (``dataset``, ``arch``, ``num_classes``, ``source``, ...);
            free-form, JSON-serialisable values.
    """

    params: Any
    model: Model
    train: Any
    test: Any
    l1: float
    prunable: Any
    metadata: dict

    def __post_init__(self):
        if not isinstance(self.model, Model):
            raise TypeError(f"model must be a phasetrans.Model, got {type(self.model).__name__}")
        if self.model.loss_fn is None and not callable(self.model.apply):
            raise TypeError("the model needs apply(params, x) -> logits or a loss function")
        if not isinstance(self.metadata, dict):
            raise TypeError(f"metadata must be a dict, got {type(self.metadata).__name__}")
        _checks.real("l1", self.l1, nonnegative=True)
        flags = jax.tree_util.tree_leaves(self.prunable)
        if not all(isinstance(flag, bool) for flag in flags):
            raise TypeError("prunable must hold one Python bool per leaf of params")
        _checks.same_structure("prunable", self.prunable, "params (one seed)",
                               jax.tree_util.tree_map(lambda w: True, self.seed(0)))
        if not any(flags):
            raise ValueError("prunable marks no leaf as prunable: nothing to prune")
        for name in ("train", "test"):
            self._check_evaluates(name, getattr(self, name))

    def _check_evaluates(self, name, batch):
        try:
            loss, accuracy = jax.eval_shape(
                lambda p, b: (self.model.loss(p, b), self.model.accuracy(p, b)),
                self.seed(0), batch)
        except Exception as err:  # the user's model failed: say where, without our internals
            raise ValueError(f"the model does not evaluate the {name} data: "
                             f"{type(err).__name__}: {str(err).splitlines()[0]}") from err
        for what, out in (("loss", loss), ("accuracy", accuracy)):
            if out.shape != ():
                raise ValueError(f"the model's {what} on the {name} data must be a scalar, "
                                 f"got shape {out.shape}")

    @classmethod
    def from_apply(cls, apply: Callable, params, *, train, test, l1: float, prunable=None,
                   seed_axis: bool = False, metadata: dict | None = None) -> Problem:
        """A classifier ``apply(params, x) -> logits`` (cross-entropy loss, arg-max accuracy).

        Args:
            apply: the forward pass of one network (unbatched over seeds); a pure function.
            params: its trained parameters (any pytree of float arrays); with ``seed_axis`` a
                leading axis of S independently trained networks.
            train, test: ``(x, y)`` with integer labels ``y`` (keyword-only, required).
            l1: the lambda the network was trained with (>= 0; keyword-only, required).
            prunable: one bool per leaf (default: leaves with ``ndim >= 2``, the weights).
            seed_axis: whether ``params`` has a leading seed axis (default False).
            metadata: where it came from (default: ``{"source": "from_apply"}``); the number
                of classes is read from the logits.
        """
        if not callable(apply):
            raise TypeError(f"apply must be a function apply(params, x) -> logits, got "
                            f"{type(apply).__name__}")
        problem = cls._build(Model(apply=apply), params, train, test, l1, prunable, seed_axis,
                             {"source": "from_apply", **(metadata or {})})
        logits = jax.eval_shape(apply, problem.seed(0), problem.train[0])
        problem.metadata.setdefault("num_classes", int(logits.shape[-1]))
        return problem

    @classmethod
    def from_loss(cls, loss: Callable, params, *, accuracy: Callable, train, test, l1: float,
                  prunable=None, seed_axis: bool = False,
                  metadata: dict | None = None) -> Problem:
        """Any ``loss(params, batch) -> mean loss`` with ``accuracy(params, batch)``; other
        arguments as :meth:`from_apply` (batches may be any pytree with an example axis)."""
        for name, fn in (("loss", loss), ("accuracy", accuracy)):
            if not callable(fn):
                raise TypeError(f"{name} must be a function {name}(params, batch), got "
                                f"{type(fn).__name__}")
        return cls._build(Model(loss_fn=loss, accuracy_fn=accuracy), params, train, test, l1,
                          prunable, seed_axis, {"source": "from_loss", **(metadata or {})})

    @classmethod
    def from_network(cls, net: nets.Network, params, dataset: Dataset, *, l1: float,
                     prunable=None, seed_axis: bool = True,
                     metadata: dict | None = None) -> Problem:
        """A built-in network (:mod:`phasetrans.networks.nets`) on a
        :class:`phasetrans.networks.data.Dataset`;
        ``params`` with a leading seed axis by default (as ``train_seeds`` returns them)."""
        if not isinstance(net, nets.Network):
            raise TypeError(f"net must be a phasetrans.networks.nets.Network, got "
                            f"{type(net).__name__}")
        if not isinstance(dataset, Dataset):
            raise TypeError(f"dataset must be a phasetrans.networks.data.Dataset, got "
                            f"{type(dataset).__name__}")
        single = jax.eval_shape(lambda: net.init(key=jax.random.key(0)))
        if seed_axis and (jax.tree_util.tree_structure(params)
                          == jax.tree_util.tree_structure(single)) and [
                np.shape(w) for w in jax.tree_util.tree_leaves(params)] == [
                w.shape for w in jax.tree_util.tree_leaves(single)]:
            raise ValueError("params needs a leading seed axis S (seed_axis=True); got the "
                             "shapes of a single network: pass seed_axis=False, or add the "
                             "axis with jax.tree_util.tree_map(lambda w: w[None], params)")
        return cls.from_apply(
            net.apply, params, train=(dataset.x_train, dataset.y_train),
            test=(dataset.x_test, dataset.y_test), l1=l1, prunable=prunable,
            seed_axis=seed_axis,
            metadata={"source": "phasetrans.networks.nets", "dataset": dataset.name,
                      "arch": net.name,
                      "num_classes": dataset.num_classes, **(metadata or {})})

    @classmethod
    def _build(cls, model, params, train, test, l1, prunable, seed_axis, metadata):
        _checks.boolean("seed_axis", seed_axis)
        stacked = _checked_params(params, seed_axis)
        one = jax.tree_util.tree_map(lambda w: w[0], stacked)
        if prunable is None:
            prunable = default_prunable(one)
        prunable = jax.tree_util.tree_map(
            lambda flag: flag if isinstance(flag, bool) else bool(flag), prunable)
        return cls(stacked, model, _checked_batch("train", train), _checked_batch("test", test),
                   _checks.real("l1", l1, nonnegative=True), prunable, dict(metadata))

    @property
    def num_seeds(self) -> int:
        """S, the number of networks."""
        return int(np.shape(jax.tree_util.tree_leaves(self.params)[0])[0])

    @property
    def num_classes(self) -> int | None:
        """Classes of the labels when known (chance accuracy is 1 / num_classes)."""
        return self.metadata.get("num_classes")

    def seed(self, s: int):
        """The parameters of network ``s`` (no seed axis)."""
        s = _checks.integer("seed", s, minimum=0, maximum=self.num_seeds - 1)
        return jax.tree_util.tree_map(lambda w: w[s], self.params)

    def replace(self, **changes) -> Problem:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)
