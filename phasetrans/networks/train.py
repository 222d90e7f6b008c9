"""Training with an l1 penalty (the first step of LOMP [ZZSL sec. 5]), vmappable over seeds.

Objective: F(w) = L(w) + l1 * sum over prunable leaves of |w|, with L the mean loss of the
training set (full batch) or of a random mini-batch per step. Optimisers:

- ``"prox-adam"`` (default): Adam on grad L followed by the proximal step of the l1 term in
  Adam's own metric, w <- soft(w - a m^/(sqrt(v^) + e), a l1 / (sqrt(v^) + e)) per coordinate
  (ProxGen: Yun, Lozano, Yang, "Adaptive Proximal Gradient Methods for Structured Neural
  Networks", NeurIPS 2021, sec. 3). It sets exact zeros, and its fixed points are exactly the
  stationary points of F;
- ``"adam"``, ``"sgd"``: optax on the subgradient of F (the l1 term's sign); they never set
  exact zeros and hover around a minimum (the budget of every result before the premise check).

Training runs either a fixed number of ``steps`` (one ``lax.scan``) or until a
:class:`phasetrans.networks.stationarity.StopRule` holds (the default: F has stopped decreasing and
its minimum-norm subgradient is small, with a step cap); ``train_seeds`` vmaps either over keys, so
S seeds are one compiled call. :func:`check_stationarity` measures how close any trained point is to
a minimum of F (measures (a) and (b) of :mod:`phasetrans.networks.stationarity`).
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from phasetrans import _checks, _io
from phasetrans.networks import data, nets, prune, stationarity
from phasetrans.networks.data import Dataset
from phasetrans.networks.problem import Problem, default_prunable

OPTIMIZERS = ("prox-adam", "adam", "sgd")
ADAM_B2, ADAM_EPS = 0.999, 1e-8  # optax's Adam defaults, which prox-adam's metric uses
FURTHER_STEPS = 2000
"""Default further steps of measure (b) in :func:`check_stationarity` (as many as the fixed
training budget of every result before the premise check)."""


class TrainingOptions(NamedTuple):
    """How F is minimised (:func:`minimise`; the knobs of :func:`train`, :func:`train_problem`
    and :func:`phasetrans.applications.compare.compare`).

    Attributes:
        steps: a fixed budget of steps >= 1; default None: train until ``stop`` holds.
        stop: the :class:`phasetrans.networks.stationarity.StopRule` (None with ``steps`` None:
            ``StopRule()``, F stationary, at most 50 000 steps); not with ``steps``.
        learning_rate: > 0 (default 3e-3).
        batch_size: None (default) for full-batch steps, else examples per random mini-batch.
        optimizer: one of :data:`OPTIMIZERS` (default ``"prox-adam"``, the one that reaches
            stationarity, see the module docstring).
        rate_decay: False (default) for a constant rate; True: step t (from 0) takes the rate
            ``learning_rate`` (1 - t / T), T the steps the run may take (``steps``, or the stop
            rule's ``max_steps``), so it falls linearly towards 0. With mini-batches a constant rate
            leaves F hovering at the scale of the gradient noise; the decay takes it down.
            Measured on the scale family's h = 128 member (D = 36 864, seed 0): mini-batches
            of 64 for 2e6 steps (622 s) reach F = 0.01301, below the 0.01352 that 5e5
            full-batch steps at constant rates in stages reached (1637 s); full batch with
            the decay, 2e5 steps: 0.01484 (294 s).
    """

    steps: int | None = None
    stop: stationarity.StopRule | None = None
    learning_rate: float = 3e-3
    batch_size: int | None = None
    optimizer: str = "prox-adam"
    rate_decay: bool = False

    def validate(self) -> TrainingOptions:
        """These options checked (``TypeError``/``ValueError`` naming the field and what is
        allowed), with ``stop`` the rule that will run: ``StopRule()`` when neither ``steps``
        nor ``stop`` is given, None with ``steps``. ``batch_size`` is checked against the
        data by the trainer."""
        stop = _check_options(self.steps, self.stop, self.learning_rate, self.optimizer)
        _checks.boolean("rate_decay", self.rate_decay)
        if self.batch_size is not None:
            _checks.integer("batch_size", self.batch_size, minimum=1)
        return self._replace(stop=stop)


class TrainResult(NamedTuple):
    """What training returns.

    Attributes:
        params: the trained parameters.
        loss_history: F per step, (steps,), for a fixed budget; F at each check of the stop
            rule, (max_steps // check_every,), NaN after the last check, otherwise.
        steps: the optimisation steps taken.
        converged: whether the stop rule held when training ended (for a fixed budget: whether
            it holds at the end, evaluated with the default :class:`StopRule`).
    """

    params: object
    loss_history: jax.Array
    steps: jax.Array
    converged: jax.Array


def l1_norm(params, prunable) -> jax.Array:
    """sum |w| over the leaves where the bool pytree ``prunable`` is True."""
    leaves = [jnp.sum(jnp.abs(w)) for w, keep in zip(jax.tree_util.tree_leaves(params),
                                                     jax.tree_util.tree_leaves(prunable),
                                                     strict=True) if keep]
    return sum(leaves, jnp.zeros(()))


def objective(loss_fn: Callable, l1: float, prunable) -> Callable:
    """``F(params, batch) = loss_fn(params, batch) + l1 * ||prunable leaves||_1``."""

    def f(params, batch):
        return loss_fn(params, batch) + l1 * l1_norm(params, prunable)

    return f


def soft_threshold(x, threshold):
    """sign(x) max(|x| - threshold, 0): the proximal map of threshold * |.| (exact zeros)."""
    return jnp.sign(x) * jnp.maximum(jnp.abs(x) - threshold, 0.0)


def prox_adam(learning_rate, *, l1: float, prunable) -> optax.GradientTransformation:
    """Proximal Adam for L + l1 ||prunable||_1: feed it grad L, not the subgradient of F.

    The update moves ``params`` to soft(w + u, a l1 / (sqrt(v^) + e)) on the prunable leaves,
    u = -a m^ / (sqrt(v^) + e) Adam's step, v^ its bias-corrected second moment (ProxGen,
    Yun et al. NeurIPS 2021, sec. 3); other leaves take the plain Adam step. A coordinate the
    prox zeroes is exactly 0 after ``optax.apply_updates`` (w + (0 - w) == 0 in floating point).
    ``learning_rate`` a: a float, or an ``optax.Schedule`` of the step count (0 at the first
    update).
    """
    base = optax.scale_by_adam(b2=ADAM_B2, eps=ADAM_EPS)

    def update(grads, state, params):
        directions, state = base.update(grads, state, params)
        correction = 1.0 - ADAM_B2 ** state.count.astype(jnp.float32)
        rate = learning_rate(state.count - 1) if callable(learning_rate) else learning_rate

        def leaf(w, direction, nu, penalised):
            step = -rate * direction
            if not penalised:
                return step
            threshold = rate * l1 / (jnp.sqrt(nu / correction) + ADAM_EPS)
            return soft_threshold(w + step, threshold) - w

        return jax.tree_util.tree_map(leaf, params, directions, state.nu, prunable), state

    return optax.GradientTransformation(base.init, update)


def _optimizer(name, learning_rate, l1, prunable):
    if name == "prox-adam":
        return prox_adam(learning_rate, l1=l1, prunable=prunable)
    return {"adam": optax.adam, "sgd": optax.sgd}[name](learning_rate)


def _check_options(steps, stop, learning_rate, optimizer):
    if steps is not None and stop is not None:
        raise ValueError("give steps (a fixed budget) or stop (a StopRule), not both")
    if steps is not None:
        _checks.positive_int("steps", steps)
    else:
        if stop is None:
            stop = stationarity.StopRule()
        if not isinstance(stop, stationarity.StopRule):
            raise TypeError(f"stop must be a phasetrans.networks.stationarity.StopRule or None, "
                            f"got {type(stop).__name__}")
        stop = stop.validate()
    _checks.real("learning_rate", learning_rate, positive=True)
    _checks.one_of("optimizer", optimizer, OPTIMIZERS)
    return stop


def minimise(loss_fn: Callable, params, data, *, l1: float, prunable=None,
             training: TrainingOptions | None = None, key=None, mask=None) -> TrainResult:
    """Minimise F = ``loss_fn(params, batch)`` + l1 ||prunable leaves||_1 from ``params``.

    Args:
        loss_fn: (params, (x, y)) -> mean loss L.
        params: the starting point (any pytree of float arrays).
        data: the training set (x, y), leading example axis.
        l1: lambda >= 0. prunable: bool pytree of penalised leaves (default: ``ndim >= 2``).
        training: :class:`TrainingOptions` (default None: ``TrainingOptions()``, prox-adam at
            3e-3, full batch, until ``StopRule()`` holds): a fixed budget ``steps`` or a
            ``stop`` rule (see :class:`TrainResult`), the optimizer, its learning rate and the
            ``batch_size`` (then ``key`` is required; the stop rule is evaluated on the full
            set).
        mask: None (default: every coordinate free) or a bool pytree with the structure and
            shapes of ``params``: F is minimised over the subspace {w : w = mask ⊙ w} (masked
            retraining). ``params`` is masked first, the gradient is masked before every step
            and the masked coordinates are set to exactly 0 after it; the stop rule's
            subgradient is that of F restricted to the subspace (masked coordinates dropped).
    """
    training = _check_training(l1, training)
    count = _checks.num_examples("data", data)
    prunable = default_prunable(params) if prunable is None else prunable
    if jax.tree_util.tree_structure(prunable) != jax.tree_util.tree_structure(params):
        raise ValueError("prunable must be a pytree of bools with the structure of params, got "
                         f"{jax.tree_util.tree_structure(prunable)}")
    if training.batch_size is not None:
        _checks.integer("batch_size", training.batch_size, minimum=1, maximum=count)
        key = _checks.prng_key("key", key)
    else:
        key = jax.random.key(0) if key is None else _checks.prng_key("key", key)
    _checks.finite("params", params)
    if mask is not None:
        _checks.same_structure("mask", mask, "params", params)
        mask = jax.tree_util.tree_map(lambda m: jnp.asarray(m, bool), mask)
    leaves, treedef = jax.tree_util.tree_flatten(prunable)
    return _minimise(loss_fn, params, tuple(data), key, (treedef, tuple(map(bool, leaves))), l1,
                     training.learning_rate, training._replace(learning_rate=None), mask)


def _check_training(l1, training) -> TrainingOptions:
    """``training`` (None: the defaults) checked with ``l1``, its stop rule resolved."""
    _checks.real("l1", l1, nonnegative=True)
    return _checks.options("training", training, TrainingOptions)


@functools.partial(jax.jit, static_argnums=(0, 4, 7))
def _minimise(loss_fn, params, data, key, prunable, l1, learning_rate, training, mask):
    """``training`` static without its learning rate, which is traced (``learning_rate``)."""
    prunable = jax.tree_util.tree_unflatten(*prunable)  # (treedef, bools): hashable for jit
    return _run(loss_fn, params, data, key, prunable, l1,
                training._replace(learning_rate=learning_rate), mask=mask)


def _masked(tree, mask):
    """``tree`` with the entries where ``mask`` is False set to 0 (``tree`` itself if no mask)."""
    if mask is None:
        return tree
    return jax.tree_util.tree_map(lambda a, m: jnp.where(m, a, 0), tree, mask)


def stepper(loss_fn, data, *, prunable, l1, optimizer, learning_rate, batch_size=None,
            mask=None):
    """(opt, step): the optimiser and one optimisation step of F, ``step((params, opt_state),
    key) -> ((params, opt_state), F before the step)`` (``lax.scan``-able; ``key`` draws the
    mini-batch when ``batch_size`` is set). With a ``mask`` the gradient is masked and the
    masked coordinates are exactly 0 after the step. Traceable."""
    x, y = data
    f = objective(loss_fn, l1, prunable)
    proximal = optimizer == "prox-adam"
    opt = _optimizer(optimizer, learning_rate, l1, prunable)
    differentiate = loss_fn if proximal else f

    def step(carry, step_key):
        params, opt_state = carry
        if batch_size is None:
            batch = (x, y)
        else:
            idx = jax.random.choice(step_key, x.shape[0], (batch_size,), replace=False)
            batch = (x[idx], y[idx])
        value, grads = jax.value_and_grad(differentiate)(params, batch)
        if proximal:
            value = value + l1 * l1_norm(params, prunable)
        updates, opt_state = opt.update(_masked(grads, mask), opt_state, params)
        return (_masked(optax.apply_updates(params, updates), mask), opt_state), value

    return opt, step


def scheduled_rate(learning_rate, rate_decay: bool, total_steps: int):
    """``learning_rate`` itself, or with ``rate_decay`` the ``optax.Schedule`` that gives step
    t (from 0) the rate ``learning_rate`` (1 - t / total_steps) (see
    :attr:`TrainingOptions.rate_decay`)."""
    if not rate_decay:
        return learning_rate
    return optax.linear_schedule(learning_rate, 0.0, total_steps)


def _run(loss_fn, params, data, key, prunable, l1, training: TrainingOptions, *, mask=None):
    """The traceable training loop behind :func:`minimise` and :func:`train` (``training``
    validated, its learning rate possibly traced; ``mask``: see :func:`minimise`)."""
    steps, stop, learning_rate, batch_size, optimizer, rate_decay = training
    learning_rate = scheduled_rate(learning_rate, rate_decay,
                                   steps if stop is None else stop.max_steps)
    x, y = data
    f = objective(loss_fn, l1, prunable)
    opt, step = stepper(loss_fn, data, prunable=prunable, l1=l1, optimizer=optimizer,
                        learning_rate=learning_rate, batch_size=batch_size, mask=mask)
    params = _masked(params, mask)

    def measure(params):
        gradient = _masked(jax.grad(loss_fn)(params, (x, y)), mask)
        sub = _masked(stationarity.min_norm_subgradient(gradient, params, l1=l1,
                                                        prunable=prunable), mask)
        relative = stationarity.Subgradient(stationarity.norm(sub),
                                            stationarity.norm(gradient)).relative
        return f(params, (x, y)), relative

    if stop is None:
        (params, _), history = jax.lax.scan(step, (params, opt.init(params)),
                                            jax.random.split(key, steps))
        rule = stationarity.StopRule()
        value, relative = measure(params)
        before = history[max(steps - rule.window, 0)]
        converged = (before - value <= rule.rtol * jnp.abs(value)) & (
            relative <= rule.subgradient_rtol)
        return TrainResult(params, history, jnp.asarray(steps), converged)

    def advance(state):
        params, opt_state, key = state
        key, chunk_key = jax.random.split(key)
        (params, opt_state), _ = jax.lax.scan(step, (params, opt_state),
                                              jax.random.split(chunk_key, stop.check_every))
        return params, opt_state, key

    run = stationarity.run_until(stop, advance, lambda state: measure(state[0]),
                                 (params, opt.init(params), key))
    return TrainResult(run.state[0], run.history, run.steps, run.converged)


def _check_config(dataset, l1, steps, stop, learning_rate, batch_size, optimizer):
    if not isinstance(dataset, Dataset):
        raise TypeError(f"dataset must be a phasetrans.networks.data.Dataset, got "
                        f"{type(dataset).__name__}")
    _checks.real("l1", l1, nonnegative=True)
    stop = _check_options(steps, stop, learning_rate, optimizer)
    if batch_size is not None:
        _checks.integer("batch_size", batch_size, minimum=1, maximum=len(dataset.y_train))
    return stop


def train(net: nets.Network, dataset: Dataset, *, key, l1: float = 1e-4,
          steps: int | None = None, stop: stationarity.StopRule | None = None,
          learning_rate: float = 3e-3, batch_size: int | None = None,
          optimizer: str = "prox-adam") -> TrainResult:
    """Initialise with ``key`` and minimise the l1-regularised cross-entropy.

    Args:
        net: a :class:`phasetrans.networks.nets.Network`.
        dataset: training data (``x_train``, ``y_train`` are used).
        key: PRNG key for initialisation and mini-batches (keyword-only, required).
        l1: penalty strength lambda >= 0 on the weights (``ndim >= 2`` leaves); default 1e-4.
        steps: a fixed budget of steps; default None: train until ``stop`` holds.
        stop: the :class:`phasetrans.networks.stationarity.StopRule` (default ``StopRule()``: F
            stationary, at most 50 000 steps); not with ``steps``.
        learning_rate: default 3e-3; optimizer: one of :data:`OPTIMIZERS` (default
            ``"prox-adam"``, the one that reaches stationarity, see the module docstring).
        batch_size: None (default) for full-batch steps, else examples per random mini-batch.
    """
    key = _checks.prng_key("key", key)
    stop = _check_config(dataset, l1, steps, stop, learning_rate, batch_size, optimizer)
    return _train(net, dataset.x_train, dataset.y_train, key, l1, steps, stop, learning_rate,
                  batch_size, optimizer)


def train_seeds(net: nets.Network, dataset: Dataset, *, keys, **options) -> TrainResult:
    """:func:`train` for a batch of keys (S,) in one jitted, vmapped call; leading axis S (each
    seed stops at its own check of the stop rule)."""
    keys = jnp.asarray(keys)
    if keys.ndim != 1 or not jnp.issubdtype(keys.dtype, jax.dtypes.prng_key):
        raise TypeError("keys must be a 1-D batch of typed keys, e.g. "
                        "jax.random.split(jax.random.key(0), 3)")
    full = dict(l1=1e-4, steps=None, stop=None, learning_rate=3e-3, batch_size=None,
                optimizer="prox-adam")
    unknown = set(options) - set(full)
    if unknown:
        raise TypeError(f"unknown training options {sorted(unknown)}; allowed {sorted(full)}")
    full.update(options)
    full["stop"] = _check_config(dataset, **full)
    run = jax.vmap(_train, in_axes=(None, None, None, 0, None, None, None, None, None, None))
    return run(net, dataset.x_train, dataset.y_train, keys, full["l1"], full["steps"],
               full["stop"], full["learning_rate"], full["batch_size"], full["optimizer"])


PARAMS_KEYS = ("dataset", "arch", "l1", "seeds", "seed", "steps")
"""What a params file of built-in networks records (see :func:`params_metadata`)."""


def params_metadata(dataset_name: str, arch: str, l1: float, num_seeds: int, seed: int,
                    steps: int | None) -> dict:
    """What a params file records about how its networks were trained (checked on loading:
    every key but ``steps``, None when trained to stationarity)."""
    return dict(zip(PARAMS_KEYS, (dataset_name, arch, l1, num_seeds, seed, steps), strict=True))


def _built_in(dataset, arch, num_seeds, seed):
    """(dataset, network, per-seed keys) of a built-in configuration, validated."""
    ds = data.load(dataset, seed=seed) if isinstance(dataset, str) else dataset
    if not isinstance(ds, Dataset):
        raise TypeError(f"dataset must be a name in {data.DATASETS} or a Dataset, got "
                        f"{type(dataset).__name__}")
    net = nets.parse_arch(arch, input_shape=ds.input_shape, num_classes=ds.num_classes)
    num_seeds = _checks.positive_int("num_seeds", num_seeds)
    seed = _checks.integer("seed", seed, minimum=0)
    return ds, net, jax.random.split(jax.random.key(seed), num_seeds)


def train_problem(dataset: str | Dataset = "digits", *, arch: str = "32-32", l1: float = 1e-4,
                  num_seeds: int = 1, seed: int = 0, steps: int | None = None,
                  stop: stationarity.StopRule | None = None, optimizer: str = "prox-adam",
                  learning_rate: float = 3e-3) -> Problem:
    """Train ``num_seeds`` built-in networks (:func:`train_seeds`, keys
    ``split(key(seed), num_seeds)``) and return them as a
    :class:`phasetrans.networks.problem.Problem`.

    Args:
        dataset: a name in ``data.DATASETS`` (loaded with ``seed``) or a loaded ``Dataset``.
        arch: ``"cnn"`` or hidden widths such as ``"32-32"`` (:func:`nets.parse_arch`).
        l1, steps, stop, optimizer, learning_rate: as :func:`train` (default: proximal Adam
            until the default :class:`~phasetrans.networks.stationarity.StopRule` holds).

    The problem's ``metadata`` holds :func:`params_metadata` and ``training``: the optimiser,
    learning rate, the rule in words, and the steps taken and convergence per seed.
    """
    ds, net, keys = _built_in(dataset, arch, num_seeds, seed)
    trained = train_seeds(net, ds, keys=keys, l1=l1, steps=steps, stop=stop,
                          optimizer=optimizer, learning_rate=learning_rate)
    rule = (f"fixed budget of {steps} steps" if steps is not None
            else (stop or stationarity.StopRule()).describe())
    training = {"optimizer": optimizer, "learning_rate": learning_rate, "rule": rule,
                "steps": np.asarray(trained.steps).tolist(),
                "converged": np.asarray(trained.converged).tolist()}
    metadata = params_metadata(ds.name, net.name, l1, len(keys), seed, steps)
    return Problem.from_network(net, trained.params, ds, l1=l1,
                                metadata={**metadata, "training": training})


def load_problem(path, dataset: str | Dataset = "digits", *, arch: str = "32-32",
                 l1: float = 1e-4, num_seeds: int = 1, seed: int = 0) -> Problem:
    """The built-in networks saved by :func:`save_params` (e.g. ``phasetrans predict
    --save-params``) as a :class:`~phasetrans.networks.problem.Problem`: the file must record the
    same dataset, arch, l1, seeds and seed (``ValueError`` naming the file otherwise)."""
    ds, net, keys = _built_in(dataset, arch, num_seeds, seed)
    like = jax.vmap(lambda k: net.init(key=k))(keys)
    metadata = params_metadata(ds.name, net.name, l1, len(keys), seed, None)
    expected = {k: v for k, v in metadata.items() if k != "steps"}
    params = load_params(path, like, expected_metadata=expected)
    training = {"optimizer": None, "learning_rate": None, "rule": f"loaded from {path}",
                "steps": None, "converged": None}
    return Problem.from_network(net, params, ds, l1=l1,
                                metadata={**metadata, "training": training})


def initial_params(problem: Problem):
    """The initialisation :func:`train_problem` started each network of ``problem`` from
    (leading seed axis), rebuilt from its metadata; None for a problem that is not a built-in
    network on a built-in dataset (yours, or one of a local data file)."""
    meta = problem.metadata
    if meta.get("dataset") not in data.DATASETS or not all(k in meta for k in ("arch", "seed")):
        return None
    ds = data.load(meta["dataset"], seed=meta["seed"])
    net = nets.parse_arch(nets.arch_spec(meta["arch"]), input_shape=ds.input_shape,
                          num_classes=ds.num_classes)
    keys = jax.random.split(jax.random.key(meta["seed"]), problem.num_seeds)
    return jax.vmap(lambda k: net.init(key=jax.random.split(k)[0]))(keys)  # as _train


def save_problem(path, problem: Problem) -> None:
    """Write the networks of a built-in problem (:func:`train_problem`, :func:`load_problem`)
    to ``path`` with the :func:`params_metadata` :func:`load_problem` checks
    (:func:`save_params`). A problem of your own has no such record (``ValueError``): save its
    params with :func:`save_params` and your own metadata."""
    missing = [key for key in PARAMS_KEYS if key not in problem.metadata]
    if missing:
        raise ValueError(f"problem metadata lacks {missing}: only built-in networks "
                         "(train_problem, load_problem) are saved with save_problem")
    save_params(path, problem.params,
                metadata={key: problem.metadata[key] for key in PARAMS_KEYS})


@functools.partial(jax.jit, static_argnums=(0, 5, 6, 8, 9))
def _train(net, x, y, key, l1, steps, stop, learning_rate, batch_size, optimizer):
    init_key, batch_key = jax.random.split(key)
    params = net.init(key=init_key)
    return _run(nets.cross_entropy(net.apply), params, (x, y), batch_key,
                default_prunable(params), l1,
                TrainingOptions(steps, stop, learning_rate, batch_size, optimizer))


def check_stationarity(loss_fn: Callable, params, data, *, l1: float, epsilon: float,
                       prunable=None, further_steps: int = FURTHER_STEPS,
                       learning_rate: float = 3e-3, optimizer: str = "prox-adam"
                       ) -> stationarity.Stationarity:
    """How close ``params`` is to a minimum of F = L + l1 ||prunable||_1 (one network).

    Measure (a): the minimum-norm subgradient of F at ``params`` (absolute and relative to
    ||grad L||). Measure (b): the decrease of F over ``further_steps`` more full-batch steps of
    ``optimizer`` from ``params`` (all weights free, fresh optimiser state; the smallest F on the
    way counts), in units of ``epsilon``; above 1 eps, ``params`` is not a minimum at the scale
    of the tolerance set S (see :mod:`phasetrans.networks.stationarity`).

    Args:
        loss_fn: (params, (x, y)) -> mean training loss L. params: one network (no seed axis).
        data: the training set (x, y). l1: lambda >= 0. epsilon: eps > 0 (the loss tolerance).
        prunable: bool pytree of penalised leaves (default ``ndim >= 2``).
        further_steps: default :data:`FURTHER_STEPS`; learning_rate: default 3e-3;
        optimizer: default ``"prox-adam"``.
    """
    epsilon = _checks.real("epsilon", epsilon, positive=True)
    further_steps = _checks.positive_int("further_steps", further_steps)
    prunable = default_prunable(params) if prunable is None else prunable
    flags = jax.tree_util.tree_map(bool, prunable)
    further = minimise(loss_fn, params, data, l1=l1, prunable=prunable,
                       training=TrainingOptions(steps=further_steps, learning_rate=learning_rate,
                                                optimizer=optimizer))
    at_start, at_end, sub = _measures(loss_fn, params, further.params, tuple(data),
                                      prune._frozen(flags), l1)
    objective_value = float(at_start)
    lowest = min(float(jnp.min(further.loss_history)), float(at_end))
    decrease = objective_value - lowest
    return stationarity.Stationarity(
        objective=objective_value, subgradient_norm=float(sub.norm),
        gradient_norm=float(sub.gradient_norm), relative_subgradient=float(sub.relative),
        further_objective=lowest, decrease=decrease, epsilon=epsilon,
        decrease_in_epsilon=decrease / epsilon, is_minimum=decrease <= epsilon,
        further_steps=further_steps, optimizer=optimizer, learning_rate=learning_rate,
        zero_fraction=prune.zero_fraction(params, flags))


@functools.partial(jax.jit, static_argnums=(0, 4))
def _measures(loss_fn, params, further, data, frozen, l1):
    """F(params), F(further) and the subgradient measure at ``params``, in one program."""
    prunable = jax.tree_util.tree_unflatten(*frozen)
    f = objective(loss_fn, l1, prunable)
    return (f(params, data), f(further, data),
            stationarity.subgradient(loss_fn, params, data, l1=l1, prunable=prunable))


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
