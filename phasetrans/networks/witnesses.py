"""Witnesses: sparse networks inside the tolerance set, found by the strongest pruning searches.

[ZZSL] claims a *limit*: beyond the predicted removal ratio p̂ (plus the window a_eta sqrt(D) / D
of [ALMT Thm I]) no support of size (1 - p) D meets the tolerance set

    S = {w : F(w) <= F_ref + eps},   F(w) = L(w) + lam ||w||_1   (training set, full batch),

whatever retraining is done. A sparse parameter vector x in S is a **witness**: one witness
beyond p̂ + window refutes the limit on that network, anyone can check it
(:mod:`phasetrans.applications.witness_file`), and failing to find one supports the limit only
as far as the search was strong. Each search in :data:`SEARCHES` finds, per network, the largest
removal ratio at which it produces a witness:

- ``"retrain"``: masked retraining from x_p = M_p ⊙ w* (M_p the global magnitude mask) until
  the stop rule holds (not a fixed step count; steps and convergence are reported per ratio);
- ``"imp"``: iterative magnitude pruning with retraining [Han et al. 2015; Frankle & Carbin
  2019]: R rounds, round r keeps (1 - p)^(r / R) of the weights (a geometric schedule), its mask
  nested in the previous one (:func:`phasetrans.networks.prune.nested_magnitude`), each round
  retrained to the stop rule; with ``rewind`` the kept weights restart every round from w*
  (``"trained"``: fine-tuning restarts) or from the initialisation (``"init"``: lottery-ticket
  rewinding to iteration 0 [Frankle & Carbin 2019]; Frankle et al., ICML 2020 rewind to an early
  iteration, which a trained network does not record).
  [ZZSL sec. 6] argues that pruning in small steps (smaller R per step) raises the threshold;
  this search tests that claim;
- ``"gradual"``: gradual magnitude pruning during l1 training from an initialisation [Zhu &
  Gupta 2017, eq. 1]: every ``gradual_every`` steps the removal ratio is raised to
  p (1 - (1 - t / T)^3) (:func:`cubic_schedule`), then the final support is retrained to the
  stop rule. Its support is not the one-shot ranking of w*;
- ``"model"``: masked retraining, as ``"retrain"``, of the support that ranks the weights by
  given ``scores`` instead of |w*| (global: the (1 - p) D largest |scores| are kept);
  :func:`phasetrans.applications.limit.limit_test` ranks by the minimiser of the l1-induced
  quadratic model of F [ZZSL sec. 4], so the search is not tied to magnitude order.

Optimiser: proximal Adam (:func:`phasetrans.networks.train.prox_adam`, the trainer's: its fixed
points are the stationary points of F on the support), full batch (or mini-batches of
``SearchOptions.batch_size``, searches and reference alike), until ``SearchOptions.stop`` holds
or its step cap is hit (then the run counts as not converged).
Proximal steps may zero more kept weights; a witness's removal ratio is its exact zeros counted.

**Fair reference.** The theory assumes w* minimises F. The dense network gets the same
optimisation as the searches (w* continued with the same optimiser, all weights free) for
the budget of the most optimised search, every step of it (:func:`search_budget`: IMP's R
rounds of retraining may take R times one run's cap, and a witness that had more steps than
the dense network can sit below F(w*) + eps by plain further optimisation: on the scale
family's h = 128 seed 1 an IMP witness of 40 000 steps passed against a reference of 10 000
steps and failed by 8.7 eps against one of 40 000); F*_fair, the lowest F the continuation
visits (w* included; :class:`Reference`), is the reference of the verdict's criterion, F(w*)
of the other. Three criteria (:data:`CRITERIA`), each with its own threshold:
``"objective"`` F(x) <= F*_fair + eps; ``"objective_trained"`` F(x) <= F(w*) + eps; and
``"accuracy"`` test accuracy >= that of w* - ``accuracy_tol``.

**Refinement.** Per network, search and criterion, the largest passing removal ratio is
bracketed by bisection (``points_per_round=1``, the default; a k-section for k > 1): round 0
tries 0 and ``points_per_round`` equally spaced interior ratios of (0, 1); every later round
tries as many interior points of each criterion's bracket (largest passing ratio, smallest
failing ratio above it) wider than ``resolution`` (default a quarter of the window), one run
after the other (or all in one vmapped call: ``SearchOptions.sequential``).
A failure above a pass does not hide a later pass: the witness ratio is the largest ratio at
which a witness was found, whatever failed below it.

References:
    [ZZSL] Q. Zhang, R. Zhang, J. Sun, Y. Liu, "How sparse can we prune a deep network: a
        fundamental limit perspective", NeurIPS 2024, sec. 4-6.
    [ALMT] D. Amelunxen, M. Lotz, M. McCoy, J. Tropp, "Living on the edge", Inf. Inference 2014.
    M. Zhu, S. Gupta, "To prune, or not to prune: exploring the efficacy of pruning for model
        compression", arXiv:1710.01878, 2017.
    S. Han, J. Pool, J. Tran, W. Dally, "Learning both weights and connections for efficient
        neural networks", NeurIPS 2015. J. Frankle, M. Carbin, "The lottery ticket
        hypothesis", ICLR 2019. A. Renda, J. Frankle, M. Carbin, "Comparing rewinding and
        fine-tuning in neural network pruning", ICLR 2020.
"""

from __future__ import annotations

import functools
import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from phasetrans import _checks
from phasetrans._progress import track
from phasetrans.geometry import closed_forms
from phasetrans.networks import prune, stationarity, train
from phasetrans.networks.problem import Problem, check_problem

SEARCHES = ("retrain", "imp", "gradual", "model")
"""The witness searches, from the cheapest (see the module docstring)."""

CRITERIA = ("objective", "objective_trained", "accuracy")
"""F <= F*_fair + eps (the verdict's), F <= F(w*) + eps, test accuracy >= w*'s - tol."""

REWINDS = ("trained", "init")
"""Where iterative pruning may restart the kept weights (see ``SearchOptions.rewind``)."""


class SearchOptions(NamedTuple):
    """Budget and settings shared by the witness searches.

    Attributes:
        stop: when one retraining counts as converged (default: F's decrease over 1000 steps
            <= 1e-5 |F| and ||subgradient on the support|| <= 0.25 ||grad L||, checked every
            250 steps, at most 10 000 steps).
        learning_rate: proximal Adam's (default 3e-3, the trainer's).
        accuracy_tol: the accuracy criterion's tolerance (default 0).
        resolution: bracket width at which refinement stops, in removal ratio (default None: a
            quarter of the window a_eta sqrt(D) / D, eta = 0.05).
        points_per_round: ratios tried inside each open bracket per round (default 1:
            bisection). With the runs one after the other (``sequential``) each point costs
            one run, and bisection needs the fewest runs for a given resolution: on monotone
            pass/fail rows with three criteria (:func:`refine`, resolution 0.025, 300 random
            thresholds in [0.3, 0.95]) 8.9 runs per seed where the criteria's thresholds lie
            within 0.03 of each other and 14.0 where they are spread, against 11.9 and 18.8
            with 3 points per round (the default until 2026-12-07).
        imp_rounds: rounds R of ``"imp"`` (default 4). rewind: where ``"imp"`` restarts the
            kept weights every round: None (default: continue from the last round), ``"trained"``
            (w*) or ``"init"`` (the search's ``init``).
        gradual_steps: steps T of ``"gradual"``'s pruning phase (default 3000);
            gradual_every: steps between its pruning events (default 100; divides T).
        sequential: run the ratios of a round one after the other (default True) instead of
            in one ``jax.vmap`` (False). A vmapped batch runs every member for as many steps as
            its slowest one (the stop rule ends runs at different steps: on digits 64-16-10 the
            retraining runs of one search took 1250-10 000 steps), so its cost is
            (batch size) x (largest step count); sequential runs cost the sum of their own step
            counts. Measured on digits 64-16-10, one seed, lambda = 1e-4: the retrain search
            87 500 step-equivalents batched vs 55 250 sequential, 19.5 s vs 10.8 s; imp 34.9 s
            vs 22.1 s (compilation included, same process, 2 busy cores). Same answers up to
            float rounding (batched and single products round differently; there imp's witness
            ratio moved from 0.8285 to 0.8294, the same target ratio).
        batch_size: None (default) for full-batch steps, else examples per random mini-batch
            (drawn without replacement from ``jax.random.key(0)``, the same sequence in every
            run), for networks whose full-batch steps are too slow. Every criterion stays the
            full training set's F; the stop rule's checks and the fair reference's candidate
            points are then the full-F evaluations every ``stop.check_every`` steps (a
            mini-batch step's F is not the set's), so :func:`reference`'s length must be a
            multiple of ``check_every``.
        rate_decay: False (default) for a constant rate; True: every optimiser run's rate
            decays linearly from ``learning_rate`` at its first step to 0 at
            ``stop.max_steps`` (each retraining, each IMP round, gradual's pruning phase and
            its final retraining; the fair reference at its own length). With mini-batches a
            constant rate leaves the iterates a noise ball away from a minimum: on the scale
            family (seed 0, batches of 64, the training's last rate) masked retraining at p = 0
            did not come back within eps of F(w*) at D = 3072 and 10 240. With the decay, the
            best witnesses on its nine members with D <= 10 240 lay within 0.016 of the
            full-batch ones, but 0.037 below them on one member at D = 36 864 (window 0.031).
    """

    stop: stationarity.StopRule = stationarity.StopRule(window=1000, check_every=250,
                                                        max_steps=10_000)
    learning_rate: float = 3e-3
    accuracy_tol: float = 0.0
    resolution: float | None = None
    points_per_round: int = 1
    imp_rounds: int = 4
    rewind: str | None = None
    gradual_steps: int = 3000
    gradual_every: int = 100
    sequential: bool = True
    batch_size: int | None = None
    rate_decay: bool = False

    def validate(self) -> SearchOptions:
        """These options with their values checked (ValueError/TypeError naming the field)."""
        if not isinstance(self.stop, stationarity.StopRule):
            raise TypeError(f"SearchOptions.stop must be a StopRule, got "
                            f"{type(self.stop).__name__}")
        self.stop.validate()
        _checks.real("SearchOptions.learning_rate", self.learning_rate, positive=True)
        _checks.real("SearchOptions.accuracy_tol", self.accuracy_tol, nonnegative=True)
        if self.resolution is not None:
            _checks.real("SearchOptions.resolution", self.resolution, positive=True, high=1.0)
        for name in ("points_per_round", "imp_rounds", "gradual_steps", "gradual_every"):
            _checks.positive_int(f"SearchOptions.{name}", getattr(self, name))
        if self.rewind is not None:
            _checks.one_of("SearchOptions.rewind", self.rewind, REWINDS)
        _checks.boolean("SearchOptions.sequential", self.sequential)
        _checks.boolean("SearchOptions.rate_decay", self.rate_decay)
        if self.batch_size is not None:
            _checks.positive_int("SearchOptions.batch_size", self.batch_size)
        if self.gradual_steps % self.gradual_every:
            raise ValueError(f"SearchOptions.gradual_steps ({self.gradual_steps}) must be a "
                             f"multiple of gradual_every ({self.gradual_every})")
        return self

    def settings(self, search: str) -> dict:
        """What ``search`` ran with, for reports and witness files."""
        out = {"optimizer": "prox-adam", "learning_rate": self.learning_rate,
               "stop": self.stop.describe(), "max_steps_per_run": self.stop.max_steps,
               "points_per_round": self.points_per_round}
        if self.batch_size is not None:
            out["batch_size"] = self.batch_size
        if self.rate_decay:
            out["rate_decay"] = "linear to 0 at each run's step cap"
        if search == "imp":
            out.update(rounds=self.imp_rounds, rewind=self.rewind or "none",
                       schedule="keep (1 - p)^(r / R) in round r")
        if search == "model":
            out.update(ranking="largest |scores| kept (limit_test: the l1-induced model's "
                               "minimiser first, then |w*|)")
        if search == "gradual":
            out.update(pruning_steps=self.gradual_steps, every=self.gradual_every,
                       schedule="p (1 - (1 - t / T)^3) [Zhu & Gupta 2017]")
        return out


def cubic_schedule(target, event, num_events):
    """Removal ratio after pruning event k of n: p (1 - (1 - k / n)^3) [Zhu & Gupta 2017, eq. 1
    with s_i = 0, t_0 = 0]; 0 at k = 0, p at k = n. Traceable."""
    return target * (1.0 - (1.0 - event / num_events) ** 3)


def _support_search(ctx, params, ranking, ratio):
    """Masked retraining of the support keeping the (1 - p) D largest |ranking|."""
    mask = prune.global_magnitude(ranking, ratio, ctx.prunable)
    out = ctx.run(prune.apply_mask(params, mask), mask)
    return out.params, out.steps, out.converged


def _retrain_search(ctx, params, aux, ratio):
    return _support_search(ctx, params, params, ratio)


def _model_search(ctx, params, aux, ratio):
    return _support_search(ctx, params, aux["scores"], ratio)


def _imp_search(ctx, params, aux, ratio):
    rounds = ctx.options.imp_rounds
    x, mask = params, jax.tree_util.tree_map(lambda w: jnp.ones(w.shape, bool), params)
    steps, converged = jnp.zeros((), jnp.int32), jnp.ones((), bool)
    for r in range(1, rounds + 1):
        removal = 1.0 - (1.0 - ratio) ** (r / rounds)
        if r == rounds:
            removal = ratio  # exactly the target, whatever the rounding of the power
        mask = prune.nested_magnitude(x, mask, removal, ctx.prunable)
        origin = {None: x, "trained": params, "init": aux["init"]}[ctx.options.rewind]
        out = ctx.run(prune.apply_mask(origin, mask), mask)
        x, steps, converged = out.params, steps + out.steps, converged & out.converged
    return x, steps, converged


def _gradual_search(ctx, params, aux, ratio):
    start = aux["init"]
    every, total = ctx.options.gradual_every, ctx.options.gradual_steps
    num_events = total // every
    opt, _ = ctx.stepper(None)

    def event(carry, k):
        x, opt_state, mask = carry
        _, step = ctx.stepper(mask)
        step_keys = jax.random.split(jax.random.fold_in(jax.random.key(0), k), every)
        (x, opt_state), _ = jax.lax.scan(step, (x, opt_state), step_keys)  # (full batch: unused)
        mask = prune.nested_magnitude(x, mask, cubic_schedule(ratio, k, num_events),
                                      ctx.prunable)
        return (prune.apply_mask(x, mask), opt_state, mask), None

    mask = jax.tree_util.tree_map(lambda w: jnp.ones(w.shape, bool), start)
    (x, _, mask), _ = jax.lax.scan(event, (start, opt.init(start), mask),
                                   jnp.arange(1, num_events + 1))
    out = ctx.run(x, mask)
    return out.params, out.steps + total, out.converged


_SEARCH = {"retrain": _retrain_search, "imp": _imp_search, "gradual": _gradual_search,
           "model": _model_search}


class _Context(NamedTuple):
    run: object
    stepper: object
    prunable: object
    options: SearchOptions


def _rate(options: SearchOptions):
    """The learning rate of a run: ``options.learning_rate``, decayed linearly to 0 at
    ``options.stop.max_steps`` with ``options.rate_decay`` (the fair reference's options carry
    its own length)."""
    return train.scheduled_rate(options.learning_rate, options.rate_decay,
                                options.stop.max_steps)


def _training(options) -> train.TrainingOptions:
    """The search's training: proximal Adam until ``options.stop`` holds, full batch unless
    ``options.batch_size``, its rate decayed with ``options.rate_decay``."""
    return train.TrainingOptions(stop=options.stop, learning_rate=options.learning_rate,
                                 batch_size=options.batch_size,
                                 rate_decay=options.rate_decay)


@functools.partial(jax.jit, static_argnums=(0, 1, 2, 3))
def _batch(model, frozen, search, options, params, aux, batches, ratios, l1):
    """Run ``search`` at every ratio (one vmap): witnesses and their F, L, accuracy, steps."""
    prunable = jax.tree_util.tree_unflatten(*frozen)
    train_set, test_set = batches

    def run(x, mask):
        return train._run(model.loss, x, train_set, jax.random.key(0), prunable, l1,
                          _training(options), mask=mask)

    def stepper(mask):
        return train.stepper(model.loss, train_set, prunable=prunable, l1=l1,
                             optimizer="prox-adam",
                             learning_rate=_rate(options),
                             batch_size=options.batch_size, mask=mask)

    ctx = _Context(run, stepper, prunable, options)

    def one(ratio):
        x, steps, converged = _SEARCH[search](ctx, params, aux, ratio)
        return (x, *_metrics(model, prunable, l1, x, batches), steps, converged)

    return jax.vmap(one)(ratios)


def _metrics(model, prunable, l1, x, batches):
    train_set, test_set = batches
    loss = model.loss(x, train_set)
    return loss + l1 * train.l1_norm(x, prunable), loss, model.accuracy(x, test_set)


class Reference(NamedTuple):
    """The unpruned networks the witnesses are measured against, (S,) per seed.

    Attributes:
        objective: F(w*). train_loss: L(w*). test_accuracy: test accuracy of w*.
        fair_objective: F*_fair, the lowest F that w* continued with the searches'
            optimiser (all weights free, the searches' batches) visits in the largest search's
            budget, w* included. Every step of the budget runs (no stop rule): a search's runs
            may take that many steps, and a stop rule that ends the dense run sooner sets F*_fair
            higher than the steps a witness had reach (on the scale family's h = 64 seed 0:
            0.39 eps below F(w*) with the stop rule, 2.33 eps in 40 000 steps, and IMP's
            witness of 40 000 steps failed against the latter by 1.5 eps). The lowest point,
            not the last: proximal Adam's F at a fixed rate spikes (on h = 64 seed 1 it
            ranged over 2600 eps in the last 5000 of 40 000 steps while creeping down), so the
            last point can sit above where the run had been (there 0.62 eps below F(w*)
            against 3.7 eps for another run of the same steps, rounded differently).
        epsilon: the tolerance eps of each network.
        dense: the lowest-F points (params with a leading seed axis).
        best_step: (S,) the step of that point (0: w* itself).
        max_steps: the continuation's length.
    """

    objective: np.ndarray
    train_loss: np.ndarray
    test_accuracy: np.ndarray
    fair_objective: np.ndarray
    epsilon: np.ndarray
    dense: object
    best_step: np.ndarray
    max_steps: int

    @property
    def decrease_in_epsilon(self) -> np.ndarray:
        """(F(w*) - F*_fair) / eps: how far w* was from a minimum on this budget."""
        return (self.objective - self.fair_objective) / self.epsilon


def search_budget(name: str, options: SearchOptions) -> int:
    """The most optimisation steps one run of search ``name`` may take with ``options``: one
    retraining's cap for ``"retrain"`` and ``"model"``, ``imp_rounds`` of them for ``"imp"``,
    the pruning phase plus one for ``"gradual"``."""
    _checks.one_of("name", name, SEARCHES)
    cap = options.stop.max_steps
    return {"imp": options.imp_rounds * cap,
            "gradual": options.gradual_steps + cap}.get(name, cap)


def _tree_where(condition, a, b):
    return jax.tree_util.tree_map(lambda x, y: jnp.where(condition, x, y), a, b)


def _check_batch_size(options: SearchOptions, problem: Problem, steps: int | None = None):
    """``options.batch_size`` at most the training set's size; ``steps`` (the reference's
    length) a multiple of ``check_every`` when it is set."""
    if options.batch_size is None:
        return
    examples = jax.tree_util.tree_leaves(problem.train)[0].shape[0]
    if options.batch_size > examples:
        raise ValueError(f"SearchOptions.batch_size ({options.batch_size}) must be <= the "
                         f"{examples} training examples")
    if steps is not None and steps % options.stop.check_every:
        raise ValueError(f"with SearchOptions.batch_size the reference's max_steps ({steps}) "
                         f"must be a multiple of stop.check_every ({options.stop.check_every})")


@functools.partial(jax.jit, static_argnums=(0, 1, 2))
def _continue(model, frozen, options, params, batches, l1):
    """w* continued for ``options.stop.max_steps`` proximal-Adam steps; the metrics of w* and of
    the lowest-F point visited (w* itself, any step's, or the end; with ``options.batch_size``
    w* or the point after every ``check_every`` steps, F on the whole training set), and the
    step of that point (0: w*)."""
    prunable = jax.tree_util.tree_unflatten(*frozen)
    train_set = batches[0]
    opt, step = train.stepper(model.loss, train_set, prunable=prunable, l1=l1,
                              optimizer="prox-adam",
                              learning_rate=_rate(options),
                              batch_size=options.batch_size)
    start = _metrics(model, prunable, l1, params, batches)
    steps = options.stop.max_steps
    init = ((params, opt.init(params)), params, start[0], 0)

    def keep(best, lowest, at, candidate, value, step_count):  # the lower of best, candidate
        lower = value < lowest
        return (_tree_where(lower, candidate, best), jnp.minimum(value, lowest),
                jnp.where(lower, step_count, at))

    if options.batch_size is not None:  # a step's F is its mini-batch's: check every chunk
        every = options.stop.check_every
        objective = train.objective(model.loss, l1, prunable)

        def chunk(carry, index):
            keys = jax.random.split(jax.random.fold_in(jax.random.key(0), index), every)
            state, _ = jax.lax.scan(step, carry[0], keys)
            value = objective(state[0], train_set)
            return (state, *keep(*carry[1:], state[0], value, (index + 1) * every)), None

        (_, best, _, at), _ = jax.lax.scan(chunk, init, jnp.arange(steps // every))
        return start, _metrics(model, prunable, l1, best, batches), best, at

    def body(carry, index):  # step returns F before it: F of the params after `index` steps
        state, value = step(carry[0], None)
        return (state, *keep(*carry[1:], carry[0][0], value, index)), None

    (state, best, lowest, at), _ = jax.lax.scan(body, init, jnp.arange(steps))
    end = _metrics(model, prunable, l1, state[0], batches)
    last = end[0] < lowest
    best = _tree_where(last, state[0], best)
    return start, _metrics(model, prunable, l1, best, batches), best, jnp.where(last, steps, at)


def reference(problem: Problem, *, epsilon, options: SearchOptions | None = None,
              max_steps: int | None = None) -> Reference:
    """The fair reference of every network of ``problem`` (see :class:`Reference`).

    Args:
        problem: the trained networks (S seeds). epsilon: eps > 0, a scalar or (S,).
        options: the searches' :class:`SearchOptions` (default ``SearchOptions()``).
        max_steps: the continuation's length (default None: ``options.stop.max_steps``;
            :func:`phasetrans.applications.limit.limit_test` passes the largest
            :func:`search_budget` of its searches).
    """
    check_problem(problem)
    options = _checks.options("options", options, SearchOptions)
    epsilon = _checks.per_seed_positive("epsilon", epsilon, problem.num_seeds, owner="problem")
    if max_steps is not None:
        options = options._replace(stop=options.stop._replace(
            max_steps=_checks.positive_int("max_steps", max_steps)))
    _check_batch_size(options, problem, options.stop.max_steps)
    frozen = prune._frozen(problem.prunable)
    run = jax.vmap(_continue, in_axes=(None, None, None, 0, None, None))
    start, best, dense, at = run(problem.model, frozen, options, problem.params,
                                 (problem.train, problem.test), problem.l1)
    objective = np.asarray(start[0], np.float64)
    return Reference(objective, np.asarray(start[1], np.float64),
                     np.asarray(start[2], np.float64),
                     np.minimum(objective, np.asarray(best[0], np.float64)), epsilon, dense,
                     np.asarray(at), options.stop.max_steps)


class Settling(NamedTuple):
    """Networks continued until their fair reference no longer lowers F by more than eps.

    Attributes:
        problem: the networks after settling (the input problem with new params).
        decrease_in_epsilon: (rounds, S) each round's reference decrease (F(w) - F*_fair) / eps.
        steps: (rounds, S) the step of each round's lowest point (the steps a network that
            moved took; 0: it stayed).
        settled: (S,) whether the last round's decrease was <= 1 (else ``max_rounds`` ran out).
        max_steps: the continuation's length.
    """

    problem: Problem
    decrease_in_epsilon: np.ndarray
    steps: np.ndarray
    settled: np.ndarray
    max_steps: int


def settle(problem: Problem, *, epsilon, options: SearchOptions | None = None,
           max_steps: int | None = None, max_rounds: int = 8) -> Settling:
    """Train the networks of ``problem`` on until :func:`reference` lowers F by <= eps.

    The limit test holds witnesses to F*_fair, the dense network continued with the searches'
    optimiser and budget; when that continuation lowers F(w*) by more than eps, w* is not a
    minimum at the searches' horizon and a search that finds no witness cannot tell a limit from
    unfinished training (:func:`phasetrans.applications.limit.limit_lines`). Each round runs
    :func:`reference` with the same arguments; every network whose decrease exceeds eps adopts
    its continued parameters, the others keep theirs; rounds stop when none exceeds eps or
    after ``max_rounds``. A network that moved adopts the round's lowest point
    (:attr:`Reference.dense`). The last round is then the check the limit test repeats (same
    options, length and eps: the same deterministic continuation).

    Args:
        problem: the trained networks (S seeds). epsilon: eps > 0, a scalar or (S,).
        options, max_steps: as :func:`reference` (pass the limit test's: its largest
            :func:`search_budget`). max_rounds: >= 1 (default 8).
    """
    max_rounds = _checks.positive_int("max_rounds", max_rounds)
    decreases, steps = [], []
    for _ in range(max_rounds):
        ref = reference(problem, epsilon=epsilon, options=options, max_steps=max_steps)
        decreases.append(ref.decrease_in_epsilon)
        steps.append(ref.best_step)
        moved = ref.decrease_in_epsilon > 1.0
        if not moved.any():
            break
        problem = problem.replace(params=jax.vmap(_tree_where)(moved, ref.dense,
                                                               problem.params))
    return Settling(problem, np.stack(decreases), np.stack(steps), ~moved, ref.max_steps)


class Witness(NamedTuple):
    """One sparse network that meets a criterion (one seed, no seed axis).

    Attributes:
        params: the witness (pruned coordinates exactly 0).
        target_ratio: the removal ratio the search aimed at.
        removal_ratio: its exact zeros among the D prunable weights, / D (>= target_ratio).
        objective, train_loss, test_accuracy: F, L (training set) and test accuracy.
        steps, converged: the search's optimisation steps and whether every retraining in it
            met the stop rule.
    """

    params: object
    target_ratio: float
    removal_ratio: float
    objective: float
    train_loss: float
    test_accuracy: float
    steps: int
    converged: bool


class SearchResult(NamedTuple):
    """One search on every network: (S seeds, C criteria) arrays, criteria in :data:`CRITERIA`.

    Attributes:
        search: its name in :data:`SEARCHES`. settings: what it ran with.
        witness_ratio: (S, C) removal ratio of the best witness (its exact zeros); NaN where the
            search found none (not even at p = 0).
        bracket: (S, C, 2) target ratios [largest with a witness, smallest above it without
            one] (1.0 when nothing above failed); the threshold of the search lies inside.
        contiguous: (S, C) whether every ratio tried below the best witness's also had one (a
            local search need not be monotone in p; False says a failure lies below it).
        witnesses: S lists of C :class:`Witness` (None where there is none).
        evaluations: S dicts of (P,) arrays: every ``ratio`` tried, ``passes`` (P, C),
            ``objective``, ``steps``, ``converged``.
        converged_fraction: the fraction of all runs (seed, ratio) whose retraining converged.
        seconds: wall time.
    """

    search: str
    settings: dict
    witness_ratio: np.ndarray
    bracket: np.ndarray
    contiguous: np.ndarray
    witnesses: list
    evaluations: list
    converged_fraction: float
    seconds: float


def _interior(low, high, count):
    return [low + (high - low) * j / (count + 1) for j in range(1, count + 1)]


def _brackets(tried: dict, num_criteria: int) -> np.ndarray:
    """(C, 2): per criterion the largest passing ratio tried (NaN if none) and the smallest
    failing ratio above it (1.0 if none)."""
    ratios = sorted(tried)
    out = np.full((num_criteria, 2), [np.nan, 1.0])
    for c in range(num_criteria):
        passing = [r for r in ratios if tried[r][c]]
        if passing:
            out[c, 0] = passing[-1]
            out[c, 1] = min([r for r in ratios if r > passing[-1] and not tried[r][c]],
                            default=1.0)
    return out


def refine(evaluate, *, resolution: float, points_per_round: int, num_criteria: int,
           min_width: float = 0.0) -> np.ndarray:
    """Bracket the largest passing removal ratio of ``num_criteria`` criteria at once.

    ``evaluate(ratios (P,)) -> passes (P, C)`` (bool). Round 0 tries 0 and ``points_per_round``
    interior points of (0, 1); each later round tries that many interior points of every
    bracket wider than ``resolution`` (and than ``min_width``, e.g. 1/D), in one call, until
    none is. Returns (C, 2) brackets as :func:`_brackets` (NaN low: 0 failed).
    """
    tried: dict = {}
    queue = [0.0, *_interior(0.0, 1.0, points_per_round)]
    while queue:
        passes = np.asarray(evaluate(np.asarray(queue)), bool).reshape(len(queue), num_criteria)
        tried.update(zip(queue, passes, strict=True))
        brackets = _brackets(tried, num_criteria)
        wanted = set()
        for low, high in brackets:
            if not np.isnan(low) and high - low > max(resolution, min_width):
                wanted.update(_interior(low, high, points_per_round))
        queue = sorted(wanted - set(tried))
    return _brackets(tried, num_criteria)


def _batch_sizes(points: int, num_criteria: int) -> list:
    return sorted({points + 1, *(c * points for c in range(1, num_criteria + 1))})


def search(problem: Problem, name: str, *, ref: Reference, options: SearchOptions | None = None,
           init=None, scores=None, progress: bool = False) -> SearchResult:
    """Run witness search ``name`` on every network of ``problem`` (see the module docstring).

    Args:
        problem: the trained networks (S seeds).
        name: one of :data:`SEARCHES`.
        ref: the fair reference (:func:`reference`, same ``options``).
        options: :class:`SearchOptions` (default ``SearchOptions()``).
        init: where ``"gradual"`` starts and ``"imp"`` rewinds to with ``rewind="init"``:
            params with the seed axis of ``problem.params`` (e.g. each network's
            initialisation), or None (default: w*, i.e. gradual pruning of the trained
            network). Ignored by ``"retrain"``.
        scores: the ranking of ``"model"`` (required there, ignored elsewhere): params-shaped
            with the seed axis; the weights of largest |score| are kept.
        progress: one progress step per seed on stderr (default False).
    """
    check_problem(problem)
    _checks.one_of("name", name, SEARCHES)
    options = _checks.options("options", options, SearchOptions)
    if not isinstance(ref, Reference) or ref.objective.shape != (problem.num_seeds,):
        raise TypeError(f"ref must be the Reference of this problem ({problem.num_seeds} seeds), "
                        f"got {type(ref).__name__}")
    _check_batch_size(options, problem)
    if init is None:
        init = problem.params
    if name == "model" and scores is None:
        raise ValueError("the 'model' search needs scores (the ranking of the weights)")
    scores = problem.params if scores is None else scores
    for what, tree in (("init", init), ("scores", scores)):
        _checks.same_structure(what, tree, "problem.params", problem.params)
        _checks.finite(what, tree)
    frozen = prune._frozen(problem.prunable)
    num_params = prune.num_prunable(problem.seed(0), problem.prunable)
    resolution = (options.resolution if options.resolution is not None
                  else closed_forms.theory_window(num_params).half_width / 4)
    sizes = _batch_sizes(options.points_per_round, len(CRITERIA))
    batches = (problem.train, problem.test)
    start_time = time.perf_counter()
    witnesses, evaluations, ratio, bracket = [], [], [], []
    for s in track(range(problem.num_seeds), desc=f"witness search {name} (per seed)",
                   enabled=progress):
        params = problem.seed(s)
        aux = jax.tree_util.tree_map(lambda w, s=s: w[s], {"init": init, "scores": scores})
        ceiling = (ref.fair_objective[s] + ref.epsilon[s], ref.objective[s] + ref.epsilon[s])
        floor = ref.test_accuracy[s] - options.accuracy_tol - prune._SLACK
        best: list = [None] * len(CRITERIA)
        log: dict = {"ratio": [], "passes": [], "objective": [], "steps": [], "converged": []}

        def run(ratios, params=params, aux=aux):
            return jax.tree_util.tree_map(np.asarray, _batch(
                problem.model, frozen, name, options, params, aux, batches,
                jnp.asarray(ratios, jnp.float32), problem.l1))

        def evaluate(ratios, run=run, ceiling=ceiling, floor=floor, best=best, log=log):
            if options.sequential:  # one compiled program of one ratio, no padded runs
                out = jax.tree_util.tree_map(lambda *a: np.concatenate(a),
                                             *[run(ratios[i:i + 1]) for i in range(len(ratios))])
            else:  # padded to a few batch sizes, so that few programs are compiled
                size = min(n for n in sizes if n >= len(ratios))
                out = run(np.concatenate([ratios, np.full(size - len(ratios), ratios[-1])]))
            x, f, loss, accuracy, steps, converged = jax.tree_util.tree_map(
                lambda a: a[:len(ratios)], out)
            f64 = f.astype(np.float64)
            passes = np.stack([f64 <= ceiling[0], f64 <= ceiling[1], accuracy >= floor], 1)
            for i, r in enumerate(ratios):
                for c in range(len(CRITERIA)):
                    if passes[i, c] and (best[c] is None or r > best[c].target_ratio):
                        one = jax.tree_util.tree_map(lambda a, i=i: a[i], x)
                        best[c] = Witness(one, float(r), prune.zero_fraction(one, problem.prunable),
                                          float(f[i]), float(loss[i]), float(accuracy[i]),
                                          int(steps[i]), bool(converged[i]))
            for key, value in zip(log, (ratios, passes, f, steps, converged), strict=True):
                log[key].append(np.asarray(value))
            return passes

        bracket.append(refine(evaluate, resolution=resolution,
                              points_per_round=options.points_per_round,
                              num_criteria=len(CRITERIA), min_width=1.0 / num_params))
        witnesses.append(best)
        evaluations.append({k: np.concatenate(v) for k, v in log.items()})
        ratio.append([np.nan if w is None else w.removal_ratio for w in best])
    runs = np.concatenate([e["converged"] for e in evaluations])
    return SearchResult(name, options.settings(name), np.asarray(ratio), np.asarray(bracket),
                        np.array([_contiguous(e, b) for e, b in zip(evaluations, bracket,
                                                                    strict=True)]),
                        witnesses, evaluations, float(np.mean(runs)),
                        time.perf_counter() - start_time)


def _contiguous(evaluation: dict, brackets) -> list:
    """Per criterion: every ratio tried below the largest passing one passed too."""
    ratios, passes = evaluation["ratio"], evaluation["passes"]
    return [bool(np.isnan(low) or np.all(passes[ratios <= low, c]))
            for c, (low, _) in enumerate(brackets)]
