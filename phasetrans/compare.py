"""Predicted versus empirical pruning threshold for one configuration: the headline reproduction.

``compare`` trains ``num_seeds`` networks with an l1 penalty in one vmapped call (LOMP's first
step), predicts each one's removal threshold with :func:`phasetrans.threshold.predict`, prunes
every seed at every ratio of a grid in one vmapped sweep, and returns a JSON-ready summary.
[ZZSL sec. 4-5; official code ``cal_rate.py`` / ``gaussian_width.py``.]
"""

from __future__ import annotations

import jax
import numpy as np

from phasetrans import _checks, data, nets, prune, threshold, train
from phasetrans._progress import track


def _estimate_interval(values, intervals):
    values = np.asarray(values, np.float64)
    return {"removal_ratio": float(values.mean()),
            "interval": [float(min(i[0] for i in intervals)), float(max(i[1] for i in intervals))],
            "per_seed": values.tolist()}


def compare(dataset: str | data.Dataset = "digits", *, arch: str = "32-32", l1: float = 1e-4,
            num_seeds: int = 3, seed: int = 0, steps: int = 2000, learning_rate: float = 3e-3,
            spectrum_method: str = "exact", eigen_treatment: str = "abs", floor: float = 1e-4,
            num_sweep_ratios: int = 101, accuracy_tol: float = 0.0, monte_carlo: bool = True,
            l1_max_dim: int = 1500,
            params_file=None, save_params_file=None, progress: bool = True) -> dict:
    """Train, predict and prune; return a JSON-ready dict (keys documented in the README).

    Args:
        dataset: a name in ``data.DATASETS`` or a loaded :class:`phasetrans.data.Dataset`.
        arch: ``"cnn"`` or hidden widths such as ``"32-32"``.
        l1, steps, learning_rate: training (full-batch Adam, see :func:`phasetrans.train.train`).
        num_seeds, seed: networks trained from ``jax.random.key(seed)`` split ``num_seeds`` ways.
        spectrum_method, eigen_treatment, floor: passed to :func:`threshold.predict`.
        num_sweep_ratios: grid size of the empirical sweep over [0, 1].
        accuracy_tol: accuracy criterion: pruned test accuracy >= unpruned - tol.
        monte_carlo: also compute the formula-free Monte Carlo predictions (exact spectrum only):
            the ellipsoid's (D <= 4000) and the l1-induced body's (D <= ``l1_max_dim``).
        params_file: an ``.npz`` from ``save_params_file`` (same arch and seeds): skip training.
        save_params_file: write the trained parameters (leading seed axis) there.
    """
    ds = data.load(dataset, seed=seed) if isinstance(dataset, str) else dataset
    net = nets.parse_arch(arch, input_shape=ds.input_shape, num_classes=ds.num_classes)
    num_seeds = _checks.positive_int("num_seeds", num_seeds)
    l1_max_dim = _checks.integer("l1_max_dim", l1_max_dim, minimum=0)
    keys = jax.random.split(jax.random.key(_checks.integer("seed", seed, minimum=0)), num_seeds)
    if params_file is None:
        params = train.train_seeds(net, ds, keys=keys, l1=l1, steps=steps,
                                   learning_rate=learning_rate).params
    else:
        like = jax.vmap(lambda k: net.init(key=k))(keys)
        params = train.load_params(params_file, like)
    if save_params_file is not None:
        train.save_params(save_params_file, params)
    loss_fn = nets.cross_entropy(net.apply)
    predictions = []
    for s in track(range(num_seeds), desc="predict (per seed)", enabled=progress):
        seed_params = jax.tree_util.tree_map(lambda w, s=s: w[s], params)
        predictions.append(threshold.predict(
            seed_params, loss_fn, (ds.x_train, ds.y_train), key=jax.random.fold_in(keys[s], 1),
            spectrum_method=spectrum_method, eigen_treatment=eigen_treatment, floor=floor,
            mc_max_dim=4000 if monte_carlo else 0, l1=l1,
            l1_max_dim=l1_max_dim if monte_carlo else 0, progress=progress))
    grid = np.linspace(0.0, 1.0, num_sweep_ratios)
    swept = prune.sweep(net, params, ds, grid)
    epsilons = np.array([p.noise.epsilon for p in predictions])
    empirical = prune.empirical_threshold(swept, epsilon=epsilons, accuracy_tol=accuracy_tol)
    formula = _estimate_interval([p.formula.removal_ratio for p in predictions],
                                 [p.formula.interval for p in predictions])
    mcs = [p.monte_carlo for p in predictions]
    mc = (None if any(m is None for m in mcs) else
          {"ellipsoid": _mc_summary(mcs),
           "l1_body": _mc_summary([p.l1_body for p in predictions])})
    first = predictions[0]
    return {
        "dataset": ds.name, "arch": net.name, "l1": l1, "seeds": num_seeds,
        "num_params": first.num_params,
        "predicted_removal_ratio": formula["removal_ratio"],
        "predicted_interval": formula["interval"],
        "predicted_per_seed": formula["per_seed"],
        "empirical_removal_ratio": {
            "accuracy": float(np.nanmean(empirical.accuracy)),
            "loss": float(np.nanmean(empirical.loss)),
            "accuracy_per_seed": empirical.accuracy.tolist(),
            "loss_per_seed": empirical.loss.tolist(),
            "criteria": {"accuracy": f"test accuracy >= unpruned - {accuracy_tol}",
                         "loss": "train cross-entropy <= unpruned + epsilon",
                         "rule": empirical.rule}},
        "unpruned_test_accuracy": np.asarray(swept.unpruned_test_accuracy).tolist(),
        "epsilon": float(epsilons.mean()), "epsilon_per_seed": epsilons.tolist(),
        "eigen_treatment": eigen_treatment,
        "spectrum": [p.spectrum for p in predictions],
        "sensitivity": _mean_sensitivity([p.sensitivity for p in predictions]),
        "mc_prediction": mc,
        "trace_hessian": [p.spectrum["trace"] for p in predictions],
        "curves": {"removal_ratios": first.formula.removal_ratios[::10].tolist(),
                   "distances": first.formula.distances[::10].tolist(),
                   "width_ratio": first.formula.curve[::10].tolist(),
                   "mc_removal_ratios": None if mcs[0] is None else mcs[0].removal_ratios.tolist(),
                   "mc_statdim_ratio": None if mcs[0] is None else mcs[0].statdim_ratio.tolist(),
                   "mc_statdim_ratio_sem": (None if mcs[0] is None
                                            else mcs[0].statdim_ratio_sem.tolist()),
                   "sweep_removal_ratios": grid.tolist(),
                   "sweep_test_accuracy": np.asarray(swept.test_accuracy[0]).tolist(),
                   "empirical_first_seed": {"accuracy": float(empirical.accuracy[0]),
                                            "loss": float(empirical.loss[0])},
                   "predicted_first_seed": first.formula.removal_ratio},
    }


def _mc_summary(per_seed):
    """Seed-averaged Monte Carlo fixed point with the union interval, or None if any is None."""
    if any(m is None for m in per_seed):
        return None
    return {**_estimate_interval([m.removal_ratio for m in per_seed],
                                 [m.interval for m in per_seed]),
            "converged": all(m.converged for m in per_seed),
            "max_certificate": max(m.max_certificate for m in per_seed),
            "statdim_curve": [{"removal_ratios": m.removal_ratios.tolist(),
                               "statdim_ratio": m.statdim_ratio.tolist(),
                               "statdim_ratio_sem": m.statdim_ratio_sem.tolist()}
                              for m in per_seed]}


def _mean_sensitivity(per_seed_rows):
    rows = []
    for group in zip(*per_seed_rows, strict=True):
        values = [r["predicted_removal_ratio"] for r in group]
        rows.append({"eigen_treatment": group[0]["eigen_treatment"],
                     "epsilon_scale": group[0]["epsilon_scale"],
                     "predicted_removal_ratio": float(np.mean(values))})
    return rows
