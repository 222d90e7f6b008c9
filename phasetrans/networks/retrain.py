"""Feasibility of a pruned support by masked retraining, next to the one-shot criteria [ZZSL].

The predicted threshold of [ZZSL] is a statement about the *kept-coordinate subspace*
V_p = {w : w_i = 0 off T_p}, T_p the support kept by the global magnitude mask M_p of the
trained weights w*: V_p meets the tolerance set S = {w : F(w) <= F(w*) + eps} for p below the
threshold and misses it above, where

    F(w) = L(w) + lam ||w||_1,

L the mean training cross-entropy (full batch) and the l1 norm over the prunable leaves (as in
:func:`phasetrans.networks.train.objective`). One-shot pruning tests only the single point
x_p = M_p ⊙ w* of V_p. This module measures both:

- **feasibility of V_p** (:func:`retrain`): minimise F over V_p starting from x_p, the mask held
  fixed, for a fixed step budget. A local optimiser finds *a* point of V_p, so a retrained
  F <= F* + eps certifies V_p ∩ S ≠ ∅, while a failure is inconclusive: the retrained
  threshold is a lower bound on the feasibility threshold of V_p.
- **one-shot** (same call): F, L and test accuracy at x_p itself.

:func:`thresholds` turns both into per-seed removal thresholds under three criteria: F <= F* +
eps, L <= L* + eps (pruning lowers lam ||w||_1, so the two differ) and test accuracy >= the
unpruned one (the criterion of the [ZZSL] official code).

Optimiser: full-batch Adam (``optax.adam``) on F, the mask held fixed: the
gradient is masked and after every step the pruned coordinates are set to exactly 0. Adam is not
monotone, so the iterate with the lowest F among x_p, x_1, ..., x_steps is returned (hence retrained
F <= one-shot F by construction). Why Adam and not proximal gradient (ISTA with a backtracking line
search [BT09], which treats the l1 term exactly and is monotone): on small ReLU MLPs its line search
shrank the step size to ~1e-4 while the gradient mapping was still ~3e-3 (probably the ReLU kinks: L
is not smooth), and F stalled (digits, MLP 64-16-10, lam = 1e-3, w* from 3000 Adam steps: F = 0.1257
from ISTA vs 0.1024 from Adam after 3000 steps at p = 0, 0.152 vs 0.149 at p = 0.9). A local
optimiser's F only bounds feasibility, so the one that reaches lower F gives the tighter bound; Adam
is also what produced w* (:func:`phasetrans.networks.train.train`), so at p = 0 retraining continues
the training. The price: the sub-gradient of |w| makes small kept weights chatter around 0 at the
scale of the learning rate (they cost about lam * learning_rate each).

References:
    [ZZSL] Q. Zhang, R. Zhang, J. Sun, Y. Liu, "How sparse can we prune a deep network: a
        fundamental limit perspective", NeurIPS 2024.
    [BT09] A. Beck, M. Teboulle, "A fast iterative shrinkage-thresholding algorithm for linear
        inverse problems", SIAM J. Imaging Sci. 2(1), 2009 (ISTA with backtracking, sec. 3).
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from phasetrans import _checks, crossings
from phasetrans._progress import track
from phasetrans.devices import collect, mesh_for, sharded_map
from phasetrans.estimate import SolverInfo
from phasetrans.networks import prune, train
from phasetrans.networks.problem import Problem, check_problem

METHODS = ("global", "layerwise")
"""Masks of :func:`retrain` (``prune.mask_for``'s deterministic methods)."""

RULES = prune.RULES
"""Rules of :func:`thresholds` (those of ``prune.empirical_threshold``)."""

_WINDOW = 0.1  # the convergence residual compares F over the last 10% of the steps


class RetrainResult(NamedTuple):
    """Retrained, one-shot and unpruned metrics: (S seeds, P removal ratios) and (S,).

    Losses are mean cross-entropies without the l1 term; objectives are F = L_train + lam
    ||w||_1 (prunable leaves). "Retrained" is the lowest-F iterate of ``steps`` masked Adam
    steps from x_p = M_p ⊙ w*; "one-shot" is at x_p; "unpruned" is at w*.

    Attributes:
        removal_ratios: (P,) the grid.
        objective: (S, P) retrained F.
        train_loss: (S, P) retrained L (train cross-entropy).
        test_accuracy: (S, P) retrained test accuracy.
        test_loss: (S, P) retrained test cross-entropy.
        info: ``SolverInfo`` of arrays (S, P): ``iterations`` = steps; ``residual`` = the
            relative change of the returned F over the last 10% of the steps,
            |B_steps - B_(steps - m)| / max(|B_steps|, tiny), where B_k = min(F(x_0), ...,
            F(x_k)) is the lowest F after k steps (B_0 = one-shot F, B_steps = ``objective``)
            and m = max(1, ceil(0.1 steps)); ``converged`` = residual <= tol. A small residual
            says F stopped decreasing on this budget, not that a local minimum was certified.
        oneshot_objective: (S, P) F at x_p.
        oneshot_train_loss: (S, P) L at x_p.
        oneshot_test_accuracy: (S, P) test accuracy at x_p.
        oneshot_test_loss: (S, P) test cross-entropy at x_p.
        unpruned_objective: (S,) F* = F(w*).
        unpruned_train_loss: (S,) L* = L(w*).
        unpruned_test_accuracy: (S,) test accuracy at w*.
        unpruned_test_loss: (S,) test cross-entropy at w*.
        params: retrained parameters, the structure of one network's with leading axes (S, P)
            (pruned coordinates exactly 0); ``None`` is allowed in hand-built results.
        l1: lam used in F.
    """

    removal_ratios: np.ndarray
    objective: jax.Array
    train_loss: jax.Array
    test_accuracy: jax.Array
    test_loss: jax.Array
    info: SolverInfo
    oneshot_objective: jax.Array
    oneshot_train_loss: jax.Array
    oneshot_test_accuracy: jax.Array
    oneshot_test_loss: jax.Array
    unpruned_objective: jax.Array
    unpruned_train_loss: jax.Array
    unpruned_test_accuracy: jax.Array
    unpruned_test_loss: jax.Array
    params: object = None
    l1: float = 0.0


def retrain(problem: Problem, removal_ratios, *, steps: int = 2000,
            learning_rate: float = 3e-3, method: str = "global", tol: float = 1e-3,
            progress: bool = False, sequential: bool = False,
            devices: int | None = None) -> RetrainResult:
    """Masked retraining of every seed at every removal ratio: the seeds one after the other,
    each seed's P ratios in one jitted vmap (or one after the other, ``sequential``).

    For seed s and ratio p: M_p = ``prune.mask_for(method, w*_s, p, prunable)``, x_p = M_p ⊙ w*_s,
    then ``steps`` full-batch Adam steps on F(w) = L_train(w) + lam ||w||_1 over
    V_p = {w : w = M_p ⊙ w}, returning the iterate of lowest F (see the module docstring for
    the optimiser and why). Pruned coordinates are exactly 0 after every step. Step 4
    (retrained) and step 5 (one-shot) of the attribution of the gap between the [ZZSL]
    prediction and one-shot pruning.

    Args:
        problem: the :class:`phasetrans.networks.problem.Problem`: w* (S seeds), the model, its
            train data (F, L, retraining) and test data (accuracy, test loss), lam (its ``l1``: the
            lam w* was trained with, so that F* is the value of the trained objective) and the
            prunable leaves (pruned *and* carrying the l1 term).
        removal_ratios: (P,) removal ratios in [0, 1] (any order; :func:`thresholds` needs them
            increasing).
        steps: Adam steps >= 1 (default 2000, as ``train.train``), the same for every (s, p).
        learning_rate: Adam's learning rate > 0 (default 3e-3, as ``train.train``).
        method: ``"global"`` (default, LOMP's mask) or ``"layerwise"`` magnitude pruning.
        tol: ``info.converged`` is ``info.residual <= tol``; tol >= 0 (default 1e-3).
        progress: a progress bar on stderr, one step per seed (default False).
        sequential: retrain a seed's P ratios one after the other (``jax.lax.map``) instead of
            in one vmap (default False). Full-batch training is memory-bound: the vmap streams
            P networks' activations on the whole training set through memory at every step,
            one network at a time keeps them in cache. Per Adam step for 51 ratios on 2 cores
            (``benchmarks/bench_retrain.py``): mnist1d CNN (4000 examples x 160 hidden
            features) 234 ms sequential vs 576 ms vmapped (2.5x), digits CNN 152 vs 200 ms;
            digits MLP 64-16-10 17 vs 11 ms (1.5x slower), mnist1d MLP 40-32-32-10 49 vs
            57 ms. Same numbers up to float32 rounding.
        devices: how many devices share each seed's P ratios (default None: one device); each
            device retrains a contiguous block of them (see
            :func:`phasetrans.devices.sharded_map`). The result is that of one device up to
            float32 rounding (XLA may reduce a batch of another size in another order: losses
            and F within one ulp, parameters within ~1e-7, accuracies identical, measured).

    Returns:
        :class:`RetrainResult` with arrays (S, P) and unpruned values (S,).
    """
    check_problem(problem)
    grid = _checks.removal_ratios("removal_ratios", removal_ratios)
    l1 = problem.l1
    steps = _checks.positive_int("steps", steps)
    learning_rate = _checks.real("learning_rate", learning_rate, positive=True)
    _checks.one_of("method", method, METHODS)
    tol = _checks.real("tol", tol, nonnegative=True)
    sequential = _checks.boolean("sequential", sequential)
    mesh = mesh_for(devices)
    frozen = prune._frozen(problem.prunable)
    batches = (problem.train, problem.test)

    def one_seed(s):  # blocks, so that the progress bar moves when seed s is done
        params = jax.tree_util.tree_map(lambda w: w[s:s + 1], problem.params)
        out = collect(_retrain(problem.model, params, batches, grid, frozen,
                               _Plan(method, steps, sequential), mesh, l1, learning_rate, tol),
                      mesh=mesh)
        return jax.block_until_ready(out._replace(removal_ratios=None, l1=None))

    per_seed = [one_seed(s) for s in track(range(problem.num_seeds), desc="retraining (per seed)",
                                           enabled=progress)]
    out = jax.tree_util.tree_map(lambda *parts: jnp.concatenate(parts), *per_seed)
    return out._replace(removal_ratios=np.asarray(grid), l1=l1)


class _Plan(NamedTuple):
    """The static part of :func:`retrain`'s settings (hashable for ``jit``)."""

    method: str
    steps: int
    sequential: bool


@functools.partial(jax.jit, static_argnums=(0, 4, 5, 6))
def _retrain(model, params_seeds, batches, grid, frozen, plan: _Plan, mesh, l1, learning_rate,
             tol):
    method, steps, sequential = plan
    prunable = jax.tree_util.tree_unflatten(frozen[0], frozen[1])
    objective = train.objective(model.loss, l1, prunable)
    tx = optax.adam(learning_rate)
    window = max(1, math.ceil(_WINDOW * steps))

    def evaluate(batches, params):
        train_set, test_set = batches
        loss = model.loss(params, train_set)
        return (loss + l1 * train.l1_norm(params, prunable), loss,
                model.accuracy(params, test_set), model.loss(params, test_set))

    def better(f, x, best_f, best_x):  # keep the lowest-F iterate (ties: the earlier one)
        take = f < best_f
        return (jnp.where(take, f, best_f),
                jax.tree_util.tree_map(lambda a, b: jnp.where(take, a, b), x, best_x))

    def one(batches, params, _, ratio):
        train_set = batches[0]
        mask = prune.mask_for(method, params, ratio, prunable)
        x0 = prune.apply_mask(params, mask)
        oneshot = evaluate(batches, x0)

        def step(state, _):
            x, opt_state, best_f, best_x = state
            f, grads = jax.value_and_grad(objective)(x, train_set)
            best_f, best_x = better(f, x, best_f, best_x)
            updates, opt_state = tx.update(prune.apply_mask(grads, mask), opt_state, x)
            x = prune.apply_mask(optax.apply_updates(x, updates), mask)
            return (x, opt_state, best_f, best_x), best_f

        start = (x0, tx.init(x0), oneshot[0], x0)
        (x, _, best_f, best_x), history = jax.lax.scan(step, start, None, length=steps)
        best_f, best_x = better(objective(x, train_set), x, best_f, best_x)
        history = jnp.concatenate([history, best_f[None]])  # B_0 = one-shot F, ..., B_steps
        end, before = history[-1], history[-1 - window]
        residual = jnp.abs(end - before) / jnp.maximum(jnp.abs(end), jnp.finfo(end.dtype).tiny)
        info = SolverInfo(jnp.asarray(steps, jnp.int32), residual, residual <= tol)
        return evaluate(batches, best_x), info, oneshot, best_x

    retrained, info, oneshot, params = prune._seed_ratio_map(one, batches, params_seeds, grid,
                                                             mesh=mesh, sequential=sequential)
    unpruned = sharded_map(evaluate, batches, params_seeds, mesh=mesh)
    return RetrainResult(grid, *retrained, info, *oneshot, *unpruned, params=params, l1=l1)


class RetrainThresholds(NamedTuple):
    """Per-seed removal thresholds (S,) on the grid, retrained and one-shot, three criteria.

    A grid ratio p *passes* a criterion when

    - objective: F <= F* + ``epsilon`` (F = L_train + lam ||w||_1, F* at w*);
    - loss: L <= L* + ``epsilon`` (train cross-entropy);
    - accuracy: test accuracy >= unpruned test accuracy - ``accuracy_tol``;

    evaluated at the retrained point (``objective``, ``loss``, ``accuracy``) and at the one-shot
    point x_p (``oneshot_*``). The ``rule`` (``prune.empirical_threshold``'s) turns a seed's
    pass/fail row into one ratio: ``"first_failure"``, the largest p such that every grid
    p' <= p passes; ``"last_pass"``, the largest passing p; ``"official"`` (the [ZZSL] official
    code's), scanning down from the top, the first p whose accuracy is *strictly above* the
    unpruned one minus ``accuracy_tol`` (F, L: strictly below F* + eps, L* + eps). NaN where no
    grid ratio qualifies. Accuracies that agree to float32 rounding (``prune._SLACK``) count as
    equal, as in ``prune.empirical_threshold``.

    Attributes:
        objective, loss, accuracy: (S,) retrained thresholds.
        oneshot_objective, oneshot_loss, oneshot_accuracy: (S,) one-shot thresholds.
        epsilon: the tolerance used, (S,).
        accuracy_tol: the accuracy tolerance used.
        rule: the rule used.
    """

    objective: np.ndarray
    loss: np.ndarray
    accuracy: np.ndarray
    oneshot_objective: np.ndarray
    oneshot_loss: np.ndarray
    oneshot_accuracy: np.ndarray
    epsilon: np.ndarray
    accuracy_tol: float
    rule: str


def thresholds(result: RetrainResult, *, epsilon, accuracy_tol: float = 0.0,
               rule: str = "first_failure") -> RetrainThresholds:
    """Largest removal ratio of each seed meeting each criterion (see ``RetrainThresholds``).

    Args:
        result: a :class:`RetrainResult` (from :func:`retrain` or built by hand: ``info`` and
            ``params`` are not read); the grid must be strictly increasing.
        epsilon: tolerance > 0 of the F and L criteria, a scalar or one value per seed (its
            count must equal S).
        accuracy_tol: accuracy tolerance >= 0 (default 0).
        rule: ``"first_failure"`` (default), ``"last_pass"`` or ``"official"``.

    Returns:
        :class:`RetrainThresholds`; NaN for a seed where no grid ratio qualifies (e.g. one
        failing already at the first ratio under ``"first_failure"``).
    """
    if not isinstance(result, RetrainResult):
        raise TypeError(f"result must be a RetrainResult, got {type(result).__name__}")
    accuracy_tol = _checks.real("accuracy_tol", accuracy_tol, nonnegative=True)
    _checks.one_of("rule", rule, RULES)
    grid = _checks.increasing_ratios("result.removal_ratios", result.removal_ratios)
    unpruned_f = np.asarray(result.unpruned_objective, np.float64)
    num_seeds = unpruned_f.shape[0]
    epsilon = _checks.per_seed_positive("epsilon", epsilon, num_seeds, owner="result")
    strict = rule == "official"
    slack = prune._SLACK

    def below(values, reference):  # the F and L criteria
        values = np.asarray(values, np.float64)
        ceiling = (np.asarray(reference, np.float64) + epsilon)[:, None]
        return values < ceiling - slack if strict else values <= ceiling

    def above(values):  # the accuracy criterion
        values = np.asarray(values, np.float64)
        floor = np.asarray(result.unpruned_test_accuracy, np.float64)[:, None] - accuracy_tol
        return values > floor + slack if strict else values >= floor - slack

    passes = (below(result.objective, unpruned_f),
              below(result.train_loss, result.unpruned_train_loss),
              above(result.test_accuracy),
              below(result.oneshot_objective, unpruned_f),
              below(result.oneshot_train_loss, result.unpruned_train_loss),
              above(result.oneshot_test_accuracy))
    for row in passes:
        if row.shape != (num_seeds, grid.size):
            raise ValueError(f"result arrays must have shape (S, P) = ({num_seeds}, {grid.size}),"
                             f" got {row.shape}")
    return RetrainThresholds(*(crossings.largest_passing(grid, row, rule) for row in passes),
                             epsilon, accuracy_tol, rule)
