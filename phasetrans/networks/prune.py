"""Pruning masks, the distance R(p), ratio sweeps and empirical thresholds [ZZSL].

A mask is a bool pytree with the structure of ``params`` (True = kept). ``prunable`` is a pytree
of one Python bool per leaf saying which leaves may be pruned; ``None`` means the weights
(``ndim >= 2`` leaves), not the biases. D is the number of prunable entries. A removal ratio p
removes ``floor(p * D)`` prunable entries (p = 1 removes all of them). Magnitude ties are
broken by position in ``jax.flatten_util.ravel_pytree`` order (the earlier entry is removed
first), so masks are deterministic.
"""

from __future__ import annotations

import functools
import inspect
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree

from phasetrans import _checks, crossings
from phasetrans.devices import collect, mesh_for, sharded_map
from phasetrans.networks import nets
from phasetrans.networks.problem import Problem, check_problem, default_prunable

METHODS = ("global", "layerwise", "random")
"""Masks of ``mask_for``/``sweep``: global or per-layer magnitude pruning, or uniformly random."""

RULES = crossings.RULES
"""Rules of ``empirical_threshold`` turning a pass/fail row over the grid into one ratio."""


def _prunable(params, prunable):
    if prunable is None:
        return default_prunable(params)
    _checks.same_structure("prunable", prunable, "params", jax.tree_util.tree_map(
        lambda w: jnp.zeros((), bool), params))
    return prunable


def prunable_flat_mask(params, prunable=None) -> np.ndarray:
    """(D_total,) bool in ``ravel_pytree(params)`` order: True on prunable entries."""
    prunable = _prunable(params, prunable)
    leaves = jax.tree_util.tree_leaves(params)
    flags = jax.tree_util.tree_leaves(prunable)
    return np.concatenate([np.full(np.size(w), bool(p)) for w, p in zip(leaves, flags,
                                                                        strict=True)])


def num_prunable(params, prunable=None) -> int:
    """D: the number of prunable entries of ``params``."""
    return int(prunable_flat_mask(params, prunable).sum())


def zero_fraction(params, prunable=None) -> float:
    """The fraction of the prunable entries of ``params`` that are exactly 0 (0 if none)."""
    flags = prunable_flat_mask(params, prunable)
    flat = np.asarray(ravel_pytree(params)[0])
    return int(np.sum(flat[flags] == 0)) / max(int(flags.sum()), 1)


def _num_removed(removal_ratio, count):
    return jnp.floor(removal_ratio * count + 1e-6).astype(jnp.int32)


def _score_keep(scores, removal_ratio):
    """Keep-flags of a 1-D array after removing the floor(p n) smallest scores (ties: earlier)."""
    order = jnp.argsort(scores, stable=True)
    rank = jnp.empty_like(order).at[order].set(jnp.arange(scores.size))
    return rank >= _num_removed(removal_ratio, scores.size)


def _magnitude_keep(values, removal_ratio):
    """Keep-flags of a 1-D array after removing floor(p n) smallest |values| (ties: earlier)."""
    return _score_keep(jnp.abs(values), removal_ratio)


def _validated(params, removal_ratio, prunable):
    _checks.finite("params", params)
    if not isinstance(removal_ratio, jax.core.Tracer):
        _checks.removal_ratio("removal_ratio", removal_ratio)
    return _prunable(params, prunable)


def global_magnitude(params, removal_ratio, prunable=None):
    """Remove the floor(p D) prunable entries of smallest |w| across all layers (LOMP)."""
    prunable = _validated(params, removal_ratio, prunable)
    flat, unravel = ravel_pytree(params)
    is_prunable = prunable_flat_mask(params, prunable)
    idx = np.flatnonzero(is_prunable)
    keep = jnp.ones(flat.shape, bool).at[idx].set(_magnitude_keep(flat[idx], removal_ratio))
    return jax.tree_util.tree_map(lambda m: m > 0.5, unravel(keep.astype(flat.dtype)))


def nested_magnitude(params, previous, removal_ratio, prunable=None):
    """Global magnitude pruning inside an earlier mask: remove floor(p D) prunable entries, the
    ones ``previous`` already removed first, then the smallest |w| of the rest (ties: earlier).
    The result is nested in ``previous`` whenever p is at least its removal ratio (iterative
    and gradual pruning [Zhu & Gupta 2017, sec. 3]; a weight removed stays removed, even one
    that is 0 among kept ones). Vmappable over ``removal_ratio``."""
    prunable = _validated(params, removal_ratio, prunable)
    _checks.same_structure("previous", previous, "params", params)
    flat, unravel = ravel_pytree(params)
    kept = ravel_pytree(jax.tree_util.tree_map(lambda m: jnp.asarray(m, flat.dtype),
                                               previous))[0] > 0.5
    idx = np.flatnonzero(prunable_flat_mask(params, prunable))
    scores = jnp.where(kept[idx], jnp.abs(flat[idx]), -1.0)
    keep = jnp.ones(flat.shape, bool).at[idx].set(_score_keep(scores, removal_ratio))
    return jax.tree_util.tree_map(lambda m: m > 0.5, unravel(keep.astype(flat.dtype)))


def layerwise_magnitude(params, removal_ratio, prunable=None):
    """Remove floor(p n_l) smallest-|w| entries inside each prunable leaf l separately."""
    prunable = _validated(params, removal_ratio, prunable)
    return jax.tree_util.tree_map(
        lambda w, p: (_magnitude_keep(w.ravel(), removal_ratio).reshape(w.shape) if p
                      else jnp.ones(w.shape, bool)), params, prunable)


def random_mask(params, removal_ratio, prunable=None, *, key):
    """Remove floor(p D) prunable entries chosen uniformly at random (a baseline)."""
    key = _checks.prng_key("key", key)
    prunable = _validated(params, removal_ratio, prunable)
    noise = jax.tree_util.tree_map(lambda w: jnp.zeros_like(w), params)
    flat, unravel = ravel_pytree(noise)
    flat = jax.random.uniform(key, flat.shape, minval=0.5, maxval=1.0)
    return global_magnitude(unravel(flat), removal_ratio, prunable)


def mask_for(method: str, params, removal_ratio, prunable=None, *, key=None):
    """Dispatch on ``method`` in ``METHODS`` (``key`` only for ``"random"``)."""
    _checks.one_of("method", method, METHODS)
    if method == "random":
        return random_mask(params, removal_ratio, prunable, key=key)
    fn = global_magnitude if method == "global" else layerwise_magnitude
    return fn(params, removal_ratio, prunable)


def apply_mask(params, mask):
    """Zero the entries where ``mask`` is False."""
    return jax.tree_util.tree_map(lambda w, m: jnp.where(m, w, 0), params, mask)


def pruned_points(params, removal_ratios, prunable=None) -> tuple[np.ndarray, np.ndarray]:
    """M_p ⊙ w* and the global magnitude keep masks on a grid, on the prunable coordinates.

    Args:
        params: w* (any pytree). removal_ratios: (G,) in [0, 1].
        prunable: as :func:`global_magnitude`.

    Returns:
        (points (G, D), keeps (G, D) bool) in the order of
        ``np.flatnonzero(prunable_flat_mask(params, prunable))`` (D prunable coordinates),
        vmapped over the ratios.
    """
    grid, frozen = _grid_and_flags(params, removal_ratios, prunable)
    index = np.flatnonzero(prunable_flat_mask(params, prunable))
    points, keeps = _pruned_points(params, grid.astype(ravel_pytree(params)[0].dtype), index,
                                   frozen)
    return np.asarray(points), np.asarray(keeps)


def _grid_and_flags(params, removal_ratios, prunable):
    """The checked grid and the hashable prunable flags of :func:`pruned_points` and
    :func:`pruned_distances` (``params`` checked finite)."""
    grid = _checks.removal_ratios("removal_ratios", removal_ratios)
    _checks.finite("params", params)
    return grid, _frozen(_prunable(params, prunable))


@functools.partial(jax.jit, static_argnums=3)
def _pruned_points(params, grid, index, frozen):
    """One compiled program per shape (run outside jit, the vmap would dispatch and compile
    every operation on its own)."""
    prunable = jax.tree_util.tree_unflatten(*frozen)
    flat = ravel_pytree(params)[0]

    def one(p):
        keep = ravel_pytree(global_magnitude(params, p, prunable))[0][index].astype(bool)
        return jnp.where(keep, flat[index], 0.0), keep

    return jax.vmap(one)(grid)


def pruned_distance(params, removal_ratio, prunable=None) -> jax.Array:
    """R(p) = ||w* - M_p ⊙ w*||: the norm of the globally pruned-away part [ZZSL sec. 4].

    Vmappable over ``removal_ratio``; :func:`pruned_distances` evaluates a grid.
    """
    mask = global_magnitude(params, removal_ratio, prunable)
    removed = jax.tree_util.tree_map(lambda w, m: jnp.where(m, 0, w), params, mask)
    return jnp.linalg.norm(ravel_pytree(removed)[0])


def pruned_distances(params, removal_ratios, prunable=None) -> np.ndarray:
    """(G,) R(p) of :func:`pruned_distance` on a grid of removal ratios, one compiled program."""
    return np.asarray(_pruned_distances(params, *_grid_and_flags(params, removal_ratios,
                                                                 prunable)))


@functools.partial(jax.jit, static_argnums=2)
def _pruned_distances(params, grid, frozen):
    prunable = jax.tree_util.tree_unflatten(*frozen)
    return jax.vmap(lambda p: pruned_distance(params, p, prunable))(grid)


class SweepResult(NamedTuple):
    """Pruned-network metrics, shape (S seeds, P removal ratios), and unpruned ones (S,).

    Losses are the mean cross-entropy without the l1 term.
    """

    removal_ratios: np.ndarray
    test_accuracy: jax.Array
    test_loss: jax.Array
    train_accuracy: jax.Array
    train_loss: jax.Array
    unpruned_test_accuracy: jax.Array
    unpruned_test_loss: jax.Array
    unpruned_train_accuracy: jax.Array
    unpruned_train_loss: jax.Array


def sweep(problem: Problem, removal_ratios, *, method: str = "global", finetune_steps: int = 0,
          finetune_learning_rate: float = 1e-3, key=None,
          devices: int | None = None) -> SweepResult:
    """Prune every seed at every removal ratio and evaluate, in one jitted vmap (no Python loop).

    Seed s at ratio p is pruned with ``mask_for(method, params_s, p, problem.prunable)`` and,
    when ``finetune_steps`` > 0, fine-tuned with the mask held fixed; it is then evaluated on the
    problem's test and train data (see ``SweepResult``).

    Args:
        problem: the :class:`phasetrans.networks.problem.Problem` (networks, model, data, prunable).
        removal_ratios: (P,) removal ratios in [0, 1].
        method: ``"global"`` (default), ``"layerwise"`` or ``"random"``.
        finetune_steps: full-batch Adam steps on the loss L with the mask held fixed
            (default 0: one-shot pruning, as LOMP).
        finetune_learning_rate: Adam's learning rate > 0 for fine-tuning (default 1e-3).
        key: PRNG key, keyword-only; required for ``method="random"`` (``TypeError``
            otherwise), where seed s draws one random order of its prunable entries from
            ``jax.random.split(key, S)[s]``, shared by all ratios (its masks are nested in p).
            Unused, and may be omitted, for the deterministic ``"global"`` and ``"layerwise"``.
        devices: how many devices share the S * P (seed, ratio) pairs (default None: one
            device); each device prunes, fine-tunes and evaluates a contiguous block of pairs in
            seed-major order (see :func:`phasetrans.devices.sharded_map`). The masks and
            accuracies are those of one device; losses may differ in the last float32 bit (XLA
            may reduce a batch of another size in another order).

    One-shot (``finetune_steps`` = 0) ``"global"`` and ``"random"`` sweeps of a
    :func:`phasetrans.networks.nets.mlp` on one device take a faster route with the same masks (see
    :func:`_nested_sweep`): one sort per seed instead of one per (seed, ratio) pair, and the
    first layer's pre-activations of all ratios from nested corrections instead of one product
    per ratio. Accuracies are those of the per-pair route; losses agree to float32 rounding
    (the first layer's sums are added in another order).
    """
    grid, keys, frozen = _sweep_setup(problem, removal_ratios, method, key)
    finetune_steps = _checks.integer("finetune_steps", finetune_steps, minimum=0)
    lr = _checks.real("finetune_learning_rate", finetune_learning_rate, positive=True)
    mesh = mesh_for(devices)
    batches = (problem.train, problem.test)
    if (method != "layerwise" and finetune_steps == 0 and mesh.size == 1
            and _nested_applies(problem)):
        return _nested_sweep(problem.model, problem.params, batches, grid, method, frozen, keys)
    return collect(_sweep(problem.model, problem.params, batches, grid, method, frozen,
                          finetune_steps, lr, keys, mesh), mesh=mesh)


def _frozen(prunable):
    """``prunable`` as a hashable (treedef, flags) pair, for jit's static arguments."""
    leaves, treedef = jax.tree_util.tree_flatten(prunable)
    return treedef, tuple(bool(leaf) for leaf in leaves)


def _sweep_setup(problem, removal_ratios, method, key):
    """Validated (grid, per-seed keys or None, hashable prunable flags) of a sweep."""
    check_problem(problem)
    grid = _checks.removal_ratios("removal_ratios", removal_ratios)
    _checks.one_of("method", method, METHODS)
    if method == "random":
        if key is None:
            raise TypeError("key is required for method='random': pass key=jax.random.key(seed)")
        key = _checks.prng_key("key", key)
    keys = jax.random.split(key, problem.num_seeds) if method == "random" else None
    return grid, keys, _frozen(problem.prunable)


def sweep_masks(problem: Problem, removal_ratios, *, method: str = "global", key=None):
    """The masks :func:`sweep` evaluates: ``mask_for(method, params_s, p, problem.prunable)``
    for every seed s and ratio p, as a bool pytree with leading axes (S, P); arguments as in
    :func:`sweep` (``key`` required for ``"random"``, split over seeds the same way)."""
    grid, keys, frozen = _sweep_setup(problem, removal_ratios, method, key)
    return _sweep_masks(problem.params, grid, keys, method, frozen)


@functools.partial(jax.jit, static_argnums=(3, 4))
def _sweep_masks(params_seeds, grid, keys, method, frozen):
    prunable = jax.tree_util.tree_unflatten(*frozen)

    def per_seed(params, key):
        return jax.vmap(lambda p: mask_for(method, params, p, prunable, key=key))(grid)

    if keys is None:
        return jax.vmap(lambda params: per_seed(params, None))(params_seeds)
    return jax.vmap(per_seed)(params_seeds, keys)


def evaluate(problem: Problem, pruned, removal_ratios) -> SweepResult:
    """A :class:`SweepResult` of networks pruned by any method (e.g. Net-Trim, which also
    changes the kept weights): ``pruned`` has leading axes (S seeds, P ratios) and the
    structure of ``problem.params``; ``removal_ratios`` are the (P,) ratios of ``pruned``."""
    check_problem(problem)
    grid = _checks.removal_ratios("removal_ratios", removal_ratios)
    _checks.finite("pruned", pruned)
    expected = (problem.num_seeds, grid.shape[0])
    for leaf in jax.tree_util.tree_leaves(pruned):
        if leaf.shape[:2] != expected:
            raise ValueError(f"pruned needs leading axes (seeds, ratios) = {expected}, got a "
                             f"leaf of shape {leaf.shape}")
    return _evaluate(problem.model, problem.params, pruned, (problem.train, problem.test), grid)


def _metrics(model, batches, params):
    """(test accuracy, test loss, train accuracy, train loss) of one network."""
    train_set, test_set = batches
    return (model.accuracy(params, test_set), model.loss(params, test_set),
            model.accuracy(params, train_set), model.loss(params, train_set))


@functools.partial(jax.jit, static_argnums=0)
def _evaluate(model, params_seeds, pruned, batches, grid):
    metrics = functools.partial(_metrics, model, batches)
    return SweepResult(grid, *jax.vmap(jax.vmap(metrics))(pruned),
                       *jax.vmap(metrics)(params_seeds))


def _seed_ratio_map(fn, shared, params_seeds, grid, *, mesh, sequential=False):
    """``fn(shared, params_s, s, grid[p])`` for every seed s and ratio p: outputs (S, P, ...).

    The S * P pairs, in seed-major order, are the items of
    :func:`phasetrans.devices.sharded_map` (vmapped, or one after the other with
    ``sequential``; seed s's parameters are gathered from the replicated
    ``params_seeds`` on the device that needs them). Used by :func:`sweep` and
    :func:`phasetrans.networks.retrain.retrain`; call inside ``jax.jit``.
    """
    num_seeds, num_ratios = jax.tree_util.tree_leaves(params_seeds)[0].shape[0], grid.shape[0]
    pairs = (jnp.repeat(jnp.arange(num_seeds), num_ratios), jnp.tile(grid, num_seeds))

    def one(everything, pair):
        shared, params_seeds = everything
        seed, ratio = pair
        return fn(shared, jax.tree_util.tree_map(lambda w: w[seed], params_seeds), seed, ratio)

    out = sharded_map(one, (shared, params_seeds), pairs, mesh=mesh, sequential=sequential)
    return jax.tree_util.tree_map(lambda a: a.reshape(num_seeds, num_ratios, *a.shape[1:]), out)


@functools.partial(jax.jit, static_argnums=(0, 4, 5, 6, 9))
def _sweep(model, params_seeds, batches, grid, method, frozen, finetune_steps, lr, keys, mesh):
    tx = optax.adam(lr)
    prunable = jax.tree_util.tree_unflatten(frozen[0], frozen[1])

    metrics = functools.partial(_metrics, model)

    def finetune(params, mask, train_set):
        def step(state, _):
            p, s = state
            grads = jax.grad(model.loss)(p, train_set)
            updates, s = tx.update(grads, s, p)
            return (apply_mask(jax.tree_util.tree_map(jnp.add, p, updates), mask), s), None

        return jax.lax.scan(step, (params, tx.init(params)), None, length=finetune_steps)[0][0]

    def one(shared, params, seed, removal_ratio):
        batches, keys = shared
        key = None if keys is None else keys[seed]
        mask = mask_for(method, params, removal_ratio, prunable, key=key)
        pruned = apply_mask(params, mask)
        if finetune_steps:
            pruned = finetune(pruned, mask, batches[0])
        return metrics(batches, pruned)

    pruned = _seed_ratio_map(one, (batches, keys), params_seeds, grid, mesh=mesh)
    unpruned = sharded_map(metrics, batches, params_seeds, mesh=mesh)
    return SweepResult(grid, *pruned, *unpruned)


# One-shot global / random sweeps of nets.mlp networks via nested masks ---------------------------

_MLP_APPLY_CODE = nets.mlp([1, 1]).apply.__code__

_UNROLL = 4
"""Entries per column added per iteration of the sparse first-layer update."""

_DENSE_SHARE = 10
"""A ratio step whose widest column adds more than (fan-in / _DENSE_SHARE) first-layer entries is
done as one dense product instead: about where both cost the same for a 784 x 1000 layer and
2000 examples on 2 CPU cores (adding one entry to every column costs ~1/80 of the dense
product; a 100-ratio grid adds ~8 entries per column per step, ~20 in the widest column)."""


def _mlp_activation(model):
    """The activation of a model whose ``apply`` was made by
    :func:`phasetrans.networks.nets.mlp` (with
    the default loss and accuracy), else None."""
    if model.loss_fn is not None or model.accuracy_fn is not None:
        return None
    apply = model.apply
    if getattr(apply, "__code__", None) is not _MLP_APPLY_CODE:
        return None
    act = inspect.getclosurevars(apply).nonlocals.get("act")
    return act if any(act is fn for fn in nets.ACTIVATIONS.values()) else None


def _nested_applies(problem: Problem) -> bool:
    """Whether :func:`_nested_sweep` can evaluate ``problem``: a
    :func:`phasetrans.networks.nets.mlp`
    whose parameters are a list of ``{"w": (S, a, b), "b": (S, b)}`` layers chaining the
    data's features ``(x, y)`` to the classes (anything else takes the generic route)."""
    params_seeds = problem.params
    if (_mlp_activation(problem.model) is None or not isinstance(params_seeds, list)
            or not params_seeds):
        return False
    batches = (problem.train, problem.test)
    if not all(isinstance(b, tuple) and len(b) == 2 for b in batches):
        return False
    (x_train, _), (x_test, _) = batches
    width = np.shape(x_train)[-1]
    if np.ndim(x_train) != 2 or np.ndim(x_test) != 2 or np.shape(x_test)[-1] != width:
        return False
    for layer in params_seeds:
        if not isinstance(layer, dict) or set(layer) != {"w", "b"}:
            return False
        w_shape, b_shape = np.shape(layer["w"]), np.shape(layer["b"])
        if len(w_shape) != 3 or len(b_shape) != 2 or w_shape[1] != width or \
                b_shape[1] != w_shape[2]:
            return False
        width = w_shape[2]
    return True


def _ranking_values(method, params, key):
    """The pytree whose |entries| ``mask_for`` ranks: ``params`` for ``"global"``, the
    uniform noise :func:`random_mask` draws from ``key`` for ``"random"``."""
    if method != "random":
        return params
    noise = jax.tree_util.tree_map(lambda w: jnp.zeros_like(w), params)
    flat, unravel = ravel_pytree(noise)
    return unravel(jax.random.uniform(key, flat.shape, minval=0.5, maxval=1.0))


def _removal_ranks(values, prunable):
    """Int32 pytree like ``values``: each prunable entry's position in the global removal order
    (stable argsort of |values| over the prunable entries in ``ravel_pytree`` order, as in
    :func:`global_magnitude`); ``D`` on entries that are not prunable.

    The mask at removal ratio p keeps exactly the entries of rank >= floor(p D), for every p.
    """
    flat, _ = ravel_pytree(values)
    idx = np.flatnonzero(prunable_flat_mask(values, prunable))
    order = jnp.argsort(jnp.abs(flat[idx]), stable=True)
    rank = jnp.empty_like(order).at[order].set(jnp.arange(idx.size, dtype=order.dtype))
    full = jnp.full(flat.shape, idx.size, order.dtype).at[idx].set(rank)
    leaves, treedef = jax.tree_util.tree_flatten(values)
    parts = jnp.split(full, np.cumsum([np.size(leaf) for leaf in leaves])[:-1])
    return treedef.unflatten([part.reshape(np.shape(leaf)) for part, leaf in zip(parts, leaves,
                                                                                strict=True)])


def _nested_products(xt, w, kept_for, num_ratios: int, fn):
    """``fn(k, (W ⊙ M_k)^T X^T)`` for k = 0, ..., P - 1 (stacked in that order), where M_k keeps
    the entries with ``kept_for`` > k: the first layer's pre-activations of nested masks.

    ``xt`` is X^T (a features, n examples), ``w`` the (a, b) weights and ``kept_for`` (a, b) ints
    c in 0..P: entry (i, j) is kept at ratios k < c (so M_0 ⊇ M_1 ⊇ ... ⊇ M_{P-1}).

    Math: A_k = (W ⊙ M_k)^T X^T (so X (W ⊙ M_k) = A_k^T) satisfies, with the increment
    E_k = {(i, j): c_ij = k + 1} (kept at ratio k, removed from ratio k + 1 on),

        A_P = 0,   A_k = A_{k+1} + sum over (i, j) in E_k of W_ij e_j x_i^T   (k = P-1, ..., 0),

    with x_i the i-th row of X^T (feature i of every example) and e_j the j-th unit vector:
    M_k = M_{k+1} + [E_k] because the masks are nested. A scan runs k = P-1, ..., 0 carrying
    A_k. Each entry is added once, so the P products cost one pass over the entries (n
    multiply-adds each) instead of P dense products (a b n each). This is the complement of
    "X W minus the cumulative removed part": each A_k is a sum over its kept entries only,
    never a difference, so it is as accurate as the direct product (the terms are only added
    in another order) also when nearly everything is removed.

    Each column's entries are sorted by c, descending: E_k is, in column j, the contiguous slots
    [#{c_ij >= k + 2}, #{c_ij >= k + 1}). Step k adds them ``_UNROLL`` slots at a time in all
    columns together (a fused gather of rows of X^T, padded with zero weights up to the widest
    column's count: for a 784 x 1000 layer and 100 ratios ~2.3 times the exact count of
    multiply-adds); a step whose widest column holds more than a / ``_DENSE_SHARE`` entries is
    one dense product with the increment matrix W ⊙ [c = k + 1] instead.
    """
    a, b = w.shape
    order = jnp.argsort(-kept_for, axis=0, stable=True)
    sorted_w = jnp.take_along_axis(w, order, 0)
    cols = jnp.arange(b)
    counts = jnp.zeros((num_ratios + 2, b), jnp.int32).at[kept_for, cols].add(1)
    at_least = jnp.cumsum(counts[::-1], axis=0)[::-1]  # at_least[c, j] = #{i: c_ij >= c}
    starts, stops = at_least[2:], at_least[1:-1]        # E_k's slots, k = 0..P-1

    def sparse(acc, k):
        start, count = starts[k], stops[k] - starts[k]

        def body(state):
            slot, acc = state
            for extra in range(_UNROLL):
                pos = jnp.minimum(start + slot + extra, a - 1)
                weight = jnp.where(slot + extra < count, sorted_w[pos, cols], 0)
                acc = acc + xt[order[pos, cols]] * weight[:, None]
            return slot + _UNROLL, acc

        widest = jnp.max(count)
        return jax.lax.while_loop(lambda state: state[0] < widest, body, (0, acc))[1]

    def dense(acc, k):
        increment = jnp.where(kept_for == k + 1, w, 0)
        return acc + jax.lax.dot_general(increment, xt, (((0,), (0,)), ((), ())))

    def step(acc, k):
        widest = jnp.max(stops[k] - starts[k])
        acc = jax.lax.cond(widest * _DENSE_SHARE > a, dense, sparse, acc, k)
        return acc, fn(k, acc)

    init = jnp.zeros((b, xt.shape[1]), jnp.result_type(xt, w))
    return jax.tree_util.tree_map(
        lambda out: out[::-1],
        jax.lax.scan(step, init, jnp.arange(num_ratios - 1, -1, -1))[1])


def _logit_metrics(logits, y):
    """(accuracy, mean cross-entropy) of (n, classes) logits, as :mod:`phasetrans.networks.nets`."""
    accuracy = jnp.mean(jnp.argmax(logits, axis=-1) == y)
    loss = -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], 1))
    return accuracy, loss


@functools.partial(jax.jit, static_argnums=(0, 4, 5))
def _nested_sweep(model, params_seeds, batches, grid, method, frozen, keys):
    """:func:`sweep` of a :func:`phasetrans.networks.nets.mlp` with ``"global"`` or ``"random"``
    one-shot masks: the same masks and metrics as the per-pair route :func:`_sweep`, computed
    per seed as

    1. one stable argsort of the ranking values (|w| or the seed's uniform noise) gives every
       prunable entry its removal rank r (:func:`_removal_ranks`); ratio p keeps r >= n(p) =
       floor(p D), so the masks of all ratios are nested;
    2. with the ratios sorted by n(p), first-layer entry (i, j) is kept at the first
       c_ij = #{k: n_k <= r_ij} ratios, and :func:`_nested_products` gives the first layer's
       pre-activations of all ratios from one pass over its entries;
    3. the later layers are evaluated per ratio with masks r >= n_k (one scan step per ratio,
       never materialising more than one pruned network), on the test and train examples in
       one batch.

    Results are returned in the caller's ratio order.
    """
    act = _mlp_activation(model)
    prunable = jax.tree_util.tree_unflatten(*frozen)
    (x_train, y_train), (x_test, y_test) = batches
    x = jnp.concatenate([x_test, x_train])
    n_test = x_test.shape[0]
    num_ratios = grid.shape[0]
    num_prunable = sum(int(np.prod(np.shape(w)[1:])) for w, flag in zip(
        jax.tree_util.tree_leaves(params_seeds), frozen[1], strict=True) if flag)
    removed = _num_removed(grid, num_prunable)
    ratio_order = jnp.argsort(removed, stable=True)
    removed_sorted = removed[ratio_order]

    def per_seed(params, key):
        ranks = _removal_ranks(_ranking_values(method, params, key), prunable)

        def kept(leaf, rank, k):
            return jnp.where(rank >= removed_sorted[k], leaf, 0)

        def rest(k, acc):
            h = acc + kept(params[0]["b"], ranks[0]["b"], k)[:, None]
            for layer, rank in zip(params[1:], ranks[1:], strict=True):
                h = jax.lax.dot_general(kept(layer["w"], rank["w"], k), act(h),
                                        (((0,), (0,)), ((), ())))
                h = h + kept(layer["b"], rank["b"], k)[:, None]
            logits = h.T
            return (*_logit_metrics(logits[:n_test], y_test),
                    *_logit_metrics(logits[n_test:], y_train))

        kept_for = jnp.searchsorted(removed_sorted, ranks[0]["w"], side="right")
        out = _nested_products(x.T, params[0]["w"], kept_for, num_ratios, rest)
        return tuple(jnp.empty_like(o).at[ratio_order].set(o) for o in out)

    if keys is None:
        pruned = jax.lax.map(lambda params: per_seed(params, None), params_seeds)
    else:
        pruned = jax.lax.map(lambda item: per_seed(*item), (params_seeds, keys))
    unpruned = jax.vmap(functools.partial(_metrics, model, batches))(params_seeds)
    return SweepResult(grid, *pruned, *unpruned)


class EmpiricalThreshold(NamedTuple):
    """Removal threshold on the grid under each criterion (per seed, shape (S,)).

    A grid ratio p *passes* a criterion when

    - ``accuracy``: test accuracy >= unpruned test accuracy - ``accuracy_tol``;
    - ``loss``: train loss (cross-entropy) <= unpruned train loss + ``epsilon``.

    The ``rule`` turns a seed's pass/fail row into one ratio:

    - ``"first_failure"`` (default): the largest p such that every grid ratio <= p passes;
    - ``"last_pass"``: the largest passing p anywhere on the grid;
    - ``"official"``: the rule of the ZZSL official code (``gaussian_width.py`` of
      https://github.com/QiaozheZhang/Global-One-shot-Pruning, commit e7c95904617b): scanning down
      from the top of the grid, the first p whose pruned test accuracy is *strictly above* the
      unpruned one (with ``accuracy_tol`` > 0: strictly above unpruned - ``accuracy_tol``); for
      the loss criterion likewise the first p whose train loss is strictly below unpruned +
      ``epsilon``. That is ``"last_pass"`` with strict inequalities, so a network that never
      beats its unpruned accuracy gets NaN (p = 0 only ties it).

    NaN where no grid ratio qualifies.

    Attributes:
        accuracy: (S,) threshold under the accuracy criterion.
        loss: (S,) threshold under the loss criterion.
        accuracy_tol: the accuracy tolerance used.
        epsilon: the loss tolerance used (a scalar or (S,)).
        rule: the rule used (one of ``RULES``).
    """

    accuracy: np.ndarray
    loss: np.ndarray
    accuracy_tol: float
    epsilon: np.ndarray
    rule: str


_SLACK = 1e-7  # float32 accuracies/losses that agree to rounding count as equal


def empirical_threshold(sweep_result: SweepResult, *, epsilon: float, accuracy_tol: float = 0.0,
                        rule: str = "first_failure") -> EmpiricalThreshold:
    """Empirical removal threshold of each seed under both criteria (see ``EmpiricalThreshold``).

    Args:
        sweep_result: the output of ``sweep`` (S seeds, P ratios; the grid in increasing order).
        epsilon: loss tolerance > 0, a scalar or one value per seed (each seed's own loss
            noise; its count must equal S).
        accuracy_tol: accuracy tolerance >= 0 (default 0).
        rule: ``"first_failure"`` (default), ``"last_pass"`` or ``"official"`` (see
            ``EmpiricalThreshold``).

    Returns:
        ``EmpiricalThreshold``; NaN for a seed where no grid ratio qualifies (e.g. one that
        fails already at the first grid ratio under ``"first_failure"``).
    """
    epsilon = np.asarray(_checks.array("epsilon", epsilon), np.float64)
    if epsilon.ndim > 1 or np.any(epsilon <= 0):
        raise ValueError(f"epsilon must be > 0 (a scalar or one value per seed), got {epsilon}")
    accuracy_tol = _checks.real("accuracy_tol", accuracy_tol, nonnegative=True)
    _checks.one_of("rule", rule, RULES)
    r = jax.tree_util.tree_map(np.asarray, sweep_result)
    num_seeds = r.unpruned_train_loss.shape[0]
    if epsilon.ndim == 1 and epsilon.size != num_seeds:
        raise ValueError(f"epsilon has {epsilon.size} values (one per seed) but sweep_result has "
                         f"{num_seeds} seeds; pass one value per seed or a scalar")
    grid = np.asarray(r.removal_ratios)
    acc_floor = r.unpruned_test_accuracy[:, None] - accuracy_tol
    loss_ceiling = (r.unpruned_train_loss + epsilon)[:, None]
    if rule == "official":
        acc_ok = r.test_accuracy > acc_floor + _SLACK
        loss_ok = r.train_loss < loss_ceiling - _SLACK
    else:
        acc_ok = r.test_accuracy >= acc_floor - _SLACK
        loss_ok = r.train_loss <= loss_ceiling
    return EmpiricalThreshold(crossings.largest_passing(grid, acc_ok, rule),
                              crossings.largest_passing(grid, loss_ok, rule), accuracy_tol,
                              epsilon, rule)
