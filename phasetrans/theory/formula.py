"""The paper's width formula for the pruning threshold: eigenvalue treatments, delta/D curve,
fixed point, interval, sensitivity, and the loss tolerance eps [ZZSL].

Zhang, Zhang, Sun, Liu, "How Sparse Can We Prune A Deep Network: A Fundamental Limit
Perspective", NeurIPS 2024 (arXiv 2306.05857), section 4 and the official code's ``cal_rate.py``
(https://github.com/QiaozheZhang/Global-One-shot-Pruning, commit e7c95904617b).

The pruned network M_p ⊙ w* keeps (1 - p) D coordinates. Pruning succeeds when the kept-coordinate
subspace meets the loss-tolerance set S = {w : F(w) <= F(w*) + eps}; by the approximate kinematic
formula [ALMT Thm I] that happens when (1 - p) D + delta(cone(S - M_p w*)) > D, so the largest
prunable removal ratio is the fixed point p = delta(p) / D.

With a quadratic model of the loss (Hessian eigenvalues lambda_i) S is an ellipsoid with semi-axes
r_i = sqrt(2 eps / lambda_i), at distance R(p) = ||w* - M_p ⊙ w*|| from the pruned point, and the
paper approximates delta / D by the width formula

    W(R) = (1/D) sum_i r_i^2 / (R^2 + r_i^2) = (1/D) sum_i 2 eps / (lambda_i R^2 + 2 eps),

written in the second form so that lambda_i = 0 contributes exactly 1 (a flat direction) and no
division by zero happens. A spectrum enters as a discrete measure: ``nodes`` (eigenvalues or SLQ
Ritz values) and ``weights`` (fractions of the D eigenvalues, summing to 1), with a leading probe
axis: the exact spectrum is one "probe" with weights 1/D; SLQ gives one measure per probe, and
the spread across probes is the spectrum's contribution to the interval of the prediction.

The full prediction pipeline (Hessian, R(p), formula and Monte Carlo) is
:func:`phasetrans.theory.predict.predict`.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from phasetrans import _checks, crossings
from phasetrans.estimate import Estimate

EIGEN_TREATMENTS = ("abs", "floor", "drop", "flat")
"""How eigenvalues lambda <= ``floor`` (negative, zero, tiny) enter the width formula.

- ``"abs"``: use |lambda| (the official code's choice); zero stays zero and counts as flat.
- ``"floor"``: use max(lambda, floor): such directions get the large but finite semi-axis
  sqrt(2 eps / floor).
- ``"drop"``: such directions contribute 0 (they are treated as infinitely sharp); D is unchanged.
- ``"flat"``: such directions contribute 1 (infinite semi-axis), as the official ``gradient.py``
  does for "unimportant" directions (mass at eigenvalue 1e-30).
"""


def _treated_terms(nodes, epsilon, distance, treatment: str, floor: float):
    """Per-node width terms 2 eps / (lambda' R^2 + 2 eps) in [0, 1] under ``treatment``."""
    low = nodes <= floor
    if treatment == "abs":
        lam = jnp.abs(nodes)
    elif treatment == "floor":
        lam = jnp.maximum(nodes, floor)
    else:  # "drop" and "flat" change only the low nodes' term, below
        lam = jnp.where(low, 0.0, nodes)
    terms = 2.0 * epsilon / (lam * distance**2 + 2.0 * epsilon)
    if treatment == "drop":
        terms = jnp.where(low, 0.0, terms)
    return terms


def statdim_ratio(nodes, weights, *, distances, epsilon, eigen_treatment: str,
                  floor: float = 0.0):
    """The paper's width formula W(R)/D, its approximation of delta/D, per probe and distance.

    Args:
        nodes: (P, k) eigenvalue nodes, one row per probe (P = 1, k = D for an exact spectrum).
        weights: (P, k) non-negative weights, each row summing to 1 (1/D for exact spectra).
        distances: (G,) distances R >= 0 (e.g. R(p) on a grid of removal ratios).
        epsilon: loss tolerance eps > 0.
        eigen_treatment: one of ``EIGEN_TREATMENTS``.
        floor: threshold below which an eigenvalue is "low" (>= 0; for ``"floor"`` > 0).

    Returns:
        (P, G) array: sum_j weights[p, j] * 2 eps / (lambda'_j R_g^2 + 2 eps).
    """
    nodes = _checks.array("nodes", nodes, ndim=2)
    weights = _checks.array("weights", weights, shape=nodes.shape)
    if np.any(np.asarray(weights) < 0):
        raise ValueError("weights must be non-negative")
    sums = np.asarray(weights, np.float64).sum(axis=1)
    if np.any(np.abs(sums - 1.0) > 1e-3):
        raise ValueError(f"each row of weights must sum to 1 (a spectral measure), got row sums "
                         f"between {sums.min():.6g} and {sums.max():.6g}")
    distances = _checks.array("distances", distances, ndim=1)
    if np.any(np.asarray(distances) < 0):
        raise ValueError("distances must be >= 0")
    epsilon = _checks.real("epsilon", epsilon, positive=True)
    _checks.one_of("eigen_treatment", eigen_treatment, EIGEN_TREATMENTS)
    floor = _checks.real("floor", floor, nonnegative=True)
    if eigen_treatment == "floor" and floor <= 0:
        raise ValueError("floor must be > 0 with eigen_treatment='floor'")
    return _statdim_ratio(nodes, weights, distances, epsilon, eigen_treatment, floor)


@functools.partial(jax.jit, static_argnames=("treatment",))
def _statdim_ratio(nodes, weights, distances, epsilon, treatment, floor):
    def one_distance(distance):
        return jnp.sum(weights * _treated_terms(nodes, epsilon, distance, treatment, floor), -1)

    return jax.vmap(one_distance, out_axes=1)(distances)


def fixed_point(removal_ratios, curve) -> float:
    """The removal ratio p where a non-increasing curve c(p) crosses the diagonal c(p) = p.

    ``curve`` is evaluated on the increasing grid ``removal_ratios`` in [0, 1]; the crossing is
    located by linear interpolation of c(p) - p between the two grid points that bracket it.
    Returns the first grid point if c(p0) <= p0 there already, and 1.0 if the curve stays above
    the diagonal on the whole grid (the network could be pruned completely).

    [ZZSL, official code ``cal_rate.py`` at commit e7c95904617b: the grid point minimising
    |W(R(p))/D - p|; interpolation removes the grid's discretisation error.]
    """
    p = _checks.increasing_ratios("removal_ratios", removal_ratios, minimum_size=2)
    c = np.asarray(_checks.array("curve", curve, shape=p.shape), dtype=np.float64)
    index, crossing = crossings.interpolated_zero(p, c - p)
    return 1.0 if index is None else crossing


class LossNoise(NamedTuple):
    """The loss tolerance eps: the spread of mini-batch training losses at w*.

    Attributes:
        epsilon: ``Estimate`` of eps of [ZZSL], the standard deviation of the mini-batch losses,
            with its standard error eps / sqrt(2 (num_batches - 1)) (normal theory) and
            ``num_samples`` = the number of batches.
        mean_loss: the mean of the mini-batch losses.
        batch_size: examples per batch.
    """

    epsilon: Estimate
    mean_loss: float
    batch_size: int


def loss_noise(loss_fn, params, data, *, key, batch_size: int = 128,
               num_batches: int = 256) -> LossNoise:
    """Estimate eps as the standard deviation of the training loss over random mini-batches.

    [ZZSL official code: the std of the per-mini-batch training loss at w* over one epoch.]
    Here each of ``num_batches`` batches is drawn independently (without replacement inside a
    batch), which estimates the same spread with a controllable error instead of the few
    batches one epoch of a small dataset has.

    Args:
        loss_fn: ``loss_fn(params, batch) -> scalar`` mean loss of a batch.
        params: any pytree of parameters (w*).
        data: pytree of arrays with a leading example axis (e.g. ``(x, y)``).
        key: PRNG key for drawing batches (keyword-only, required).
        batch_size: examples per batch, <= number of examples (default 128).
        num_batches: number of batches, >= 2 (default 256).
    """
    key = _checks.prng_key("key", key)
    _checks.finite("params", params)
    num_examples = _checks.num_examples("data", data)
    batch_size = _checks.integer("batch_size", batch_size, minimum=1, maximum=num_examples)
    num_batches = _checks.integer("num_batches", num_batches, minimum=2)
    losses = _batch_losses(loss_fn, params, data, jax.random.split(key, num_batches), batch_size)
    losses = np.asarray(losses, dtype=np.float64)
    if not np.all(np.isfinite(losses)):
        raise ValueError("loss_fn returned NaN or Inf on some batches; check params and data")
    epsilon = float(np.std(losses, ddof=1))
    if epsilon <= 0:
        raise ValueError("all mini-batch losses are equal, so eps = 0; pass epsilon explicitly")
    return LossNoise(Estimate(epsilon, epsilon / np.sqrt(2.0 * (num_batches - 1)), num_batches),
                     float(losses.mean()), batch_size)


@functools.partial(jax.jit, static_argnums=(0, 4))
def _batch_losses(loss_fn, params, data, keys, batch_size):
    num_examples = jax.tree_util.tree_leaves(data)[0].shape[0]

    def one_batch(key):
        idx = jax.random.permutation(key, num_examples)[:batch_size]
        return loss_fn(params, jax.tree_util.tree_map(lambda a: a[idx], data))

    return jax.lax.map(one_batch, keys)


class FormulaPrediction(NamedTuple):
    """The width formula's predicted removal threshold with its interval.

    Attributes:
        removal_ratio: fixed point p of the probe-mean curve W(R(p))/D at ``epsilon``.
        interval: (lo, hi): fixed points of mean -/+ ``num_sem`` SEM (across probes) of the curve
            evaluated at eps -/+ ``num_sem`` standard errors of eps, widened on both sides by
            ``quadrature_term``.
        removal_ratios: (G,) the grid of p.
        distances: (G,) R(p) on the grid.
        statdim_ratio: ``Estimate`` of the curve W(R(p))/D at ``epsilon``: (G,) probe mean, (G,)
            SEM across probes (zeros for an exact spectrum), number of probes.
        epsilon, eigen_treatment, floor: the choices the prediction was made with.
        quadrature_term: |p - p_coarse|, p_coarse the fixed point of a coarser quadrature of the
            same probes (SLQ: their first k / 2 Lanczos steps), the interval's allowance for
            the quadrature's own error; 0 without a coarse quadrature (an exact spectrum).
    """

    removal_ratio: float
    interval: tuple[float, float]
    removal_ratios: np.ndarray
    distances: np.ndarray
    statdim_ratio: Estimate
    epsilon: float
    eigen_treatment: str
    floor: float
    quadrature_term: float = 0.0


def _curve_mean_sem(nodes, weights, distances, epsilon, eigen_treatment, floor):
    per_probe = np.asarray(statdim_ratio(nodes, weights, distances=distances, epsilon=epsilon,
                                       eigen_treatment=eigen_treatment, floor=floor))
    num_probes = per_probe.shape[0]
    sem = (per_probe.std(axis=0, ddof=1) / np.sqrt(num_probes) if num_probes > 1
           else np.zeros(per_probe.shape[1]))
    return per_probe.mean(axis=0), sem


def formula_prediction(nodes, weights, *, removal_ratios, distances, epsilon,
                       epsilon_standard_error: float = 0.0, eigen_treatment: str = "abs",
                       floor: float = 0.0, num_sem: float = 2.0,
                       coarse: tuple | None = None) -> FormulaPrediction:
    """Fixed point p = W(R(p))/D of the paper's width formula, with an interval [ZZSL sec. 4].

    Args:
        nodes, weights: (P, k) spectral measure(s), see :func:`statdim_ratio`.
        removal_ratios: (G,) increasing grid of removal ratios in [0, 1].
        distances: (G,) R(p) = ||w* - M_p ⊙ w*|| on that grid (non-decreasing).
        epsilon: loss tolerance eps > 0; ``epsilon_standard_error`` its standard error (>= 0).
        eigen_treatment, floor: see ``EIGEN_TREATMENTS`` (default ``"abs"``, as the paper).
        num_sem: half-width of the interval in standard errors (default 2).
        coarse: None (default) or (nodes, weights) of a coarser quadrature of the same spectral
            measures (SLQ: the same probes' first k / 2 Lanczos steps,
            :func:`phasetrans.networks.spectrum.truncate`). The interval then widens on both
            sides by |p - p_coarse| (``quadrature_term``): the probe SEM does not cover the
            quadrature's own error, which the two rules' difference measures as in nested
            quadrature error estimates. Measured on the scale family at D = 7072 (16 probes):
            p 0.6134 at 60 steps, 0.6083 at 30, so the interval [0.6110, 0.6159] widens to
            [0.6059, 0.6210], which contains the exact spectrum's 0.6066 (it did not before).
    """
    grid = _checks.array("removal_ratios", removal_ratios, ndim=1)
    distances = _checks.array("distances", distances, shape=grid.shape)
    se = _checks.real("epsilon_standard_error", epsilon_standard_error, nonnegative=True)
    num_sem = _checks.real("num_sem", num_sem, nonnegative=True)
    epsilon = _checks.real("epsilon", epsilon, positive=True)
    mean, sem = _curve_mean_sem(nodes, weights, distances, epsilon, eigen_treatment, floor)
    eps_lo = max(epsilon - num_sem * se, epsilon * 1e-3)
    mean_lo, sem_lo = _curve_mean_sem(nodes, weights, distances, eps_lo, eigen_treatment, floor)
    mean_hi, sem_hi = _curve_mean_sem(nodes, weights, distances, epsilon + num_sem * se,
                                      eigen_treatment, floor)
    removal_ratio = fixed_point(grid, mean)
    term = 0.0
    if coarse is not None:
        coarse_mean, _ = _curve_mean_sem(*coarse, distances, epsilon, eigen_treatment, floor)
        term = abs(removal_ratio - fixed_point(grid, coarse_mean))
    interval = (max(fixed_point(grid, mean_lo - num_sem * sem_lo) - term, 0.0),
                min(fixed_point(grid, mean_hi + num_sem * sem_hi) + term, 1.0))
    return FormulaPrediction(removal_ratio, interval, np.asarray(grid),
                             np.asarray(distances), Estimate(mean, sem, np.shape(nodes)[0]),
                             epsilon, eigen_treatment, floor, term)


def sensitivity(nodes, weights, *, removal_ratios, distances, epsilon, floor: float,
                eigen_treatments=EIGEN_TREATMENTS, epsilon_scales=(0.5, 1.0, 2.0)) -> list[dict]:
    """Predicted threshold for every eigenvalue treatment x eps scale (the choices that matter).

    Returns a list of ``{"eigen_treatment", "epsilon_scale", "predicted_removal_ratio"}``.
    ``floor`` must be > 0 when ``"floor"`` is among the treatments.
    """
    rows = []
    for treatment in eigen_treatments:
        for scale in epsilon_scales:
            scale = _checks.real("epsilon_scales", scale, positive=True)
            mean, _ = _curve_mean_sem(nodes, weights, distances, epsilon * scale, treatment, floor)
            rows.append({"eigen_treatment": treatment, "epsilon_scale": scale,
                         "predicted_removal_ratio": fixed_point(removal_ratios, mean)})
    return rows


def positive_eigenvalues(eigenvalues, *, eigen_treatment: str, floor: float):
    """Eigenvalues made positive for a bounded ellipsoid (the Monte Carlo ellipsoid prediction).

    ``"abs"``: max(|lambda|, floor); every other treatment: max(lambda, floor). ("drop" and
    "flat" have no bounded-ellipsoid analogue: infinitely sharp or flat axes.) floor > 0.
    """
    _checks.one_of("eigen_treatment", eigen_treatment, EIGEN_TREATMENTS)
    floor = _checks.real("floor", floor, positive=True)
    lam = jnp.abs(eigenvalues) if eigen_treatment == "abs" else eigenvalues
    return jnp.maximum(lam, floor)


def psd_eigenvalues(eigenvalues, *, eigen_treatment: str):
    """Eigenvalues made >= 0 for the l1-induced body: ``"abs"`` -> |lambda|, otherwise
    max(lambda, 0) (negative curvature treated as flat; the body's l1 term bounds it)."""
    _checks.one_of("eigen_treatment", eigen_treatment, EIGEN_TREATMENTS)
    return np.abs(eigenvalues) if eigen_treatment == "abs" else np.maximum(eigenvalues, 0.0)

