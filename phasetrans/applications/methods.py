"""Pruning methods side by side on the same trained networks, in direct and effective terms.

The predicted threshold claims a limit on how much of a network *any* pruning can remove
[ZZSL sec. 4]. :func:`sweep_methods` puts that claim against the methods a pruning researcher
would try on the networks of a :class:`phasetrans.applications.compare.Comparison`:

- ``"global"``: global magnitude pruning, one-shot (LOMP's pruning step) [ZZSL sec. 5];
- ``"layerwise"``: the same fraction of smallest-|w| entries removed in every layer;
- ``"random"``: uniformly random supports (a baseline);
- ``"nettrim"``: layer-wise convex pruning [Net-Trim, Aghasi et al. 2017, sec. 3], which
  re-fits the kept weights of every layer to the unpruned layer's outputs
  (:mod:`phasetrans.networks.nettrim`; MLPs only).

Every mask is also measured by its *effective* removal ratio [Vysogorets & Kempe 2023, sec. 3]
(:mod:`phasetrans.networks.effective`): weights that no longer lie on an input-to-output path count
as removed, so a method may look better in direct than in effective terms. A method's *effective
threshold* is the effective removal ratio of its mask at its (direct, first-failure) accuracy
threshold.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import numpy as np

from phasetrans import _checks
from phasetrans._progress import track
from phasetrans.applications.compare import Comparison
from phasetrans.estimate import SolverInfo
from phasetrans.networks import effective, nets, nettrim, prune

METHODS = ("global", "layerwise", "random", "nettrim")
"""The methods :func:`sweep_methods` compares."""


class MethodCurve(NamedTuple):
    """One method on every seed (S) and removal ratio (P).

    Attributes:
        method: a name in ``METHODS``.
        sweep: test/train accuracy and loss of the pruned networks
            (:class:`phasetrans.networks.prune.SweepResult`, (S, P)).
        effective_removal_ratios: (S, P) effective removal ratio of each mask [VK].
        empirical: per-seed thresholds (:class:`phasetrans.networks.prune.EmpiricalThreshold`,
            first-failure rule) in direct removal ratio.
        effective_threshold: (S,) effective removal ratio at ``empirical.accuracy`` (NaN where
            that is NaN).
        info: Net-Trim's worst ADMM :class:`SolverInfo` over seeds and layers (None otherwise).
    """

    method: str
    sweep: prune.SweepResult
    effective_removal_ratios: np.ndarray
    empirical: prune.EmpiricalThreshold
    effective_threshold: np.ndarray
    info: SolverInfo | None


class MethodComparison(NamedTuple):
    """The networks compared (``comparison``, with their predictions) and one
    :class:`MethodCurve` per method, in the order asked for; ``accuracy_tol`` is the accuracy
    criterion's tolerance, ``nettrim_epsilon`` and ``nettrim_variant`` the Net-Trim settings."""

    comparison: Comparison
    curves: dict
    accuracy_tol: float
    nettrim_epsilon: float
    nettrim_variant: str


def _effective_ratios(params_seeds, masks) -> np.ndarray:
    """(S, P) effective removal ratios of masks with leading axes (S, P); NaN for a model
    whose layout :mod:`phasetrans.networks.effective` does not know (not a
    ``phasetrans.networks.nets`` one)."""
    leaves = jax.tree_util.tree_leaves(masks)
    if not effective.supported(jax.tree_util.tree_map(lambda w: w[0], params_seeds)):
        return np.full(np.shape(leaves[0])[:2], np.nan)
    per_ratio = jax.vmap(effective.effective_removal_ratio, in_axes=(None, 0))
    return np.asarray(jax.jit(jax.vmap(per_ratio))(params_seeds, masks))


def _at_threshold(grid, values, thresholds) -> np.ndarray:
    """values[s, j] at grid[j] == thresholds[s] (NaN where the threshold is NaN)."""
    out = np.full(len(thresholds), np.nan)
    for s, t in enumerate(thresholds):
        if np.isfinite(t):
            out[s] = values[s, int(np.argmin(np.abs(grid - t)))]
    return out


def _nettrim_sweep(c: Comparison, grid, epsilon, variant, max_iters, progress):
    """Net-Trim every seed on the training inputs: pruned params and masks (S, P, ...)."""
    x_train = c.problem.train[0]
    results = [nettrim.prune(c.problem.model.apply, c.problem.seed(s), x_train, grid,
                             epsilon=epsilon, variant=variant, max_iters=max_iters)
               for s in track(range(len(c.predictions)), desc="Net-Trim (per seed)",
                              enabled=progress)]
    stack = lambda *xs: np.stack(xs)  # noqa: E731
    params = jax.tree_util.tree_map(stack, *(r.params for r in results))
    masks = jax.tree_util.tree_map(stack, *(r.masks for r in results))
    return params, masks, SolverInfo.combine(*(r.info for r in results))


def sweep_methods(c: Comparison, *, methods=METHODS, key, num_ratios: int = 51,
                  nettrim_epsilon: float = 0.05, nettrim_variant: str = "parallel",
                  nettrim_max_iters: int = 5000, accuracy_tol: float = 0.01,
                  progress: bool = False, devices: int | None = None) -> MethodComparison:
    """Prune the networks of ``c`` with every method on one grid of removal ratios.

    Args:
        c: a :class:`phasetrans.applications.compare.Comparison` (its networks, data and epsilon per
            seed are used).
        methods: names in ``METHODS`` (default: all; ``"nettrim"`` needs an MLP).
        key: PRNG key (keyword-only, required): the random masks.
        num_ratios: grid size over [0, 1] (default 51, step 0.02).
        nettrim_epsilon: Net-Trim's relative fit tolerance in (0, 1) per layer (default 0.05).
        nettrim_variant: ``"parallel"`` (default) or ``"cascade"``.
        nettrim_max_iters: ADMM iteration budget per layer (default 5000).
        accuracy_tol: a ratio passes when pruned test accuracy >= unpruned - tol (default
            0.01); thresholds use the first-failure rule.
        progress: progress bars on stderr (default False).
        devices: devices sharing the magnitude and random sweeps' (seed, ratio) pairs
            (default None: one).

    Returns:
        a :class:`MethodComparison`.
    """
    key = _checks.prng_key("key", key)
    if isinstance(methods, str) or not methods:
        raise ValueError(f"methods must be a non-empty list of names in {METHODS}, "
                         f"got {methods!r}")
    methods = [_checks.one_of("method", m, METHODS) for m in methods]
    if len(set(methods)) != len(methods):
        raise ValueError(f"methods must not repeat a name, got {methods}")
    num_ratios = _checks.integer("num_ratios", num_ratios, minimum=2)
    accuracy_tol = _checks.real("accuracy_tol", accuracy_tol, nonnegative=True)
    nettrim_epsilon = nettrim.relative_epsilon("nettrim_epsilon", nettrim_epsilon)
    _checks.one_of("nettrim_variant", nettrim_variant, nettrim.VARIANTS)
    relu_mlp = prune._mlp_activation(c.problem.model) is nets.ACTIVATIONS["relu"]
    if "nettrim" in methods and not relu_mlp:
        raise ValueError(f"method 'nettrim' prunes the dense ReLU layers of a "
                         f"phasetrans.networks.nets.mlp; {c.arch} is not one (drop 'nettrim' or "
                         "use an MLP arch)")
    grid = np.linspace(0.0, 1.0, num_ratios)
    epsilons = np.array([p.noise.epsilon.mean for p in c.predictions])
    curves = {}
    for method in track(methods, desc="methods", enabled=progress):
        info = None
        if method == "nettrim":
            params, masks, info = _nettrim_sweep(c, grid, nettrim_epsilon, nettrim_variant,
                                                 nettrim_max_iters, progress)
            swept = prune.evaluate(c.problem, params, grid)
        else:
            method_key = key if method == "random" else None
            masks = prune.sweep_masks(c.problem, grid, method=method, key=method_key)
            swept = prune.sweep(c.problem, grid, method=method, key=method_key, devices=devices)
        ratios = _effective_ratios(c.problem.params, masks)
        empirical = prune.empirical_threshold(swept, epsilon=epsilons,
                                              accuracy_tol=accuracy_tol)
        curves[method] = MethodCurve(method, swept, ratios, empirical,
                                     _at_threshold(grid, ratios, empirical.accuracy), info)
    return MethodComparison(c, curves, accuracy_tol, nettrim_epsilon, nettrim_variant)
