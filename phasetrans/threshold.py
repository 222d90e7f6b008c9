"""Predict the pruning threshold from the loss landscape's geometry [ZZSL].

Zhang, Zhang, Sun, Liu, "How Sparse Can We Prune A Deep Network: A Fundamental Limit
Perspective", NeurIPS 2024 (arXiv 2306.05857), section 4 and the official code's ``cal_rate.py``.

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
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np

from phasetrans import _checks
from phasetrans._progress import track

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


def width_ratio(nodes, weights, *, distances, epsilon, eigen_treatment: str, floor: float = 0.0):
    """The paper's width formula W(R)/D for each probe and each distance.

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
    distances = _checks.array("distances", distances, ndim=1)
    if np.any(np.asarray(distances) < 0):
        raise ValueError("distances must be >= 0")
    epsilon = _checks.real("epsilon", epsilon, positive=True)
    _checks.one_of("eigen_treatment", eigen_treatment, EIGEN_TREATMENTS)
    floor = _checks.real("floor", floor, nonnegative=True)
    if eigen_treatment == "floor" and floor <= 0:
        raise ValueError("floor must be > 0 with eigen_treatment='floor'")
    return _width_ratio(nodes, weights, distances, epsilon, eigen_treatment, floor)


@functools.partial(jax.jit, static_argnames=("treatment",))
def _width_ratio(nodes, weights, distances, epsilon, treatment, floor):
    def one_distance(distance):
        return jnp.sum(weights * _treated_terms(nodes, epsilon, distance, treatment, floor), -1)

    return jax.vmap(one_distance, out_axes=1)(distances)


def fixed_point(removal_ratios, curve) -> float:
    """The removal ratio p where a non-increasing curve c(p) crosses the diagonal c(p) = p.

    ``curve`` is evaluated on the increasing grid ``removal_ratios`` in [0, 1]; the crossing is
    located by linear interpolation of c(p) - p between the two grid points that bracket it.
    Returns the first grid point if c(p0) <= p0 there already, and 1.0 if the curve stays above
    the diagonal on the whole grid (the network could be pruned completely).

    [ZZSL, official ``cal_rate.py``: the grid point minimising |W(R(p))/D - p|; interpolation
    removes the grid's discretisation error.]
    """
    p = np.asarray(_checks.array("removal_ratios", removal_ratios, ndim=1), dtype=np.float64)
    c = np.asarray(_checks.array("curve", curve, shape=p.shape), dtype=np.float64)
    if p.size < 2 or np.any(np.diff(p) <= 0) or p[0] < 0 or p[-1] > 1:
        raise ValueError("removal_ratios must be a strictly increasing grid in [0, 1] with >= 2 "
                         "points")
    gap = c - p
    below = np.flatnonzero(gap <= 0)
    if below.size == 0:
        return 1.0
    i = int(below[0])
    if i == 0:
        return float(p[0])
    t = gap[i - 1] / (gap[i - 1] - gap[i])
    return float(p[i - 1] + t * (p[i] - p[i - 1]))


class LossNoise(NamedTuple):
    """The loss tolerance eps: the spread of mini-batch training losses at w*.

    Attributes:
        epsilon: standard deviation of the mini-batch losses (eps of [ZZSL]).
        standard_error: its standard error, epsilon / sqrt(2 (num_batches - 1)) (normal theory).
        mean_loss: the mean of the mini-batch losses.
        num_batches, batch_size: how the batches were drawn.
    """

    epsilon: float
    standard_error: float
    mean_loss: float
    num_batches: int
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
    num_examples = _num_examples(data)
    batch_size = _checks.integer("batch_size", batch_size, minimum=1, maximum=num_examples)
    num_batches = _checks.integer("num_batches", num_batches, minimum=2)
    losses = _batch_losses(loss_fn, params, data, jax.random.split(key, num_batches), batch_size)
    losses = np.asarray(losses, dtype=np.float64)
    if not np.all(np.isfinite(losses)):
        raise ValueError("loss_fn returned NaN or Inf on some batches; check params and data")
    epsilon = float(np.std(losses, ddof=1))
    if epsilon <= 0:
        raise ValueError("all mini-batch losses are equal, so eps = 0; pass epsilon explicitly")
    return LossNoise(epsilon, epsilon / np.sqrt(2.0 * (num_batches - 1)), float(losses.mean()),
                     num_batches, batch_size)


def _num_examples(data) -> int:
    leaves = jax.tree_util.tree_leaves(data)
    if not leaves:
        raise ValueError("data must contain at least one array")
    sizes = {np.shape(leaf)[0] if np.ndim(leaf) else None for leaf in leaves}
    if len(sizes) != 1 or None in sizes:
        raise ValueError(f"all arrays in data need the same leading example axis, got {sizes}")
    _checks.finite("data", data)
    return int(sizes.pop())


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
            evaluated at eps -/+ ``num_sem`` standard errors of eps.
        removal_ratios: (G,) the grid of p.
        distances: (G,) R(p) on the grid.
        curve: (G,) probe-mean W(R(p))/D at ``epsilon``.
        curve_sem: (G,) its SEM across probes (zeros for an exact spectrum).
        epsilon, eigen_treatment, floor: the choices the prediction was made with.
    """

    removal_ratio: float
    interval: tuple[float, float]
    removal_ratios: np.ndarray
    distances: np.ndarray
    curve: np.ndarray
    curve_sem: np.ndarray
    epsilon: float
    eigen_treatment: str
    floor: float


def _curve_mean_sem(nodes, weights, distances, epsilon, eigen_treatment, floor):
    per_probe = np.asarray(width_ratio(nodes, weights, distances=distances, epsilon=epsilon,
                                       eigen_treatment=eigen_treatment, floor=floor))
    num_probes = per_probe.shape[0]
    sem = (per_probe.std(axis=0, ddof=1) / np.sqrt(num_probes) if num_probes > 1
           else np.zeros(per_probe.shape[1]))
    return per_probe.mean(axis=0), sem


def formula_prediction(nodes, weights, *, removal_ratios, distances, epsilon,
                       epsilon_standard_error: float = 0.0, eigen_treatment: str = "abs",
                       floor: float = 0.0, num_sem: float = 2.0) -> FormulaPrediction:
    """Fixed point p = W(R(p))/D of the paper's width formula, with an interval [ZZSL sec. 4].

    Args:
        nodes, weights: (P, k) spectral measure(s), see :func:`width_ratio`.
        removal_ratios: (G,) increasing grid of removal ratios in [0, 1].
        distances: (G,) R(p) = ||w* - M_p ⊙ w*|| on that grid (non-decreasing).
        epsilon: loss tolerance eps > 0; ``epsilon_standard_error`` its standard error (>= 0).
        eigen_treatment, floor: see ``EIGEN_TREATMENTS`` (default ``"abs"``, as the paper).
        num_sem: half-width of the interval in standard errors (default 2).
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
    interval = (fixed_point(grid, mean_lo - num_sem * sem_lo),
                fixed_point(grid, mean_hi + num_sem * sem_hi))
    return FormulaPrediction(fixed_point(grid, mean), interval, np.asarray(grid),
                             np.asarray(distances), mean, sem, epsilon, eigen_treatment, floor)


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


class MonteCarloPrediction(NamedTuple):
    """Formula-free prediction: fixed point of delta(cone(E - M_p w*)) / D on a grid of p.

    Attributes:
        removal_ratio: fixed point of the mean curve; ``interval``: of mean -/+ 2 SEM.
        removal_ratios: (G,) the grid; ``statdim_ratio``, ``statdim_ratio_sem``: (G,) delta/D.
        max_certificate: worst projection certificate over all samples; ``converged``: all
            samples met the solver's tolerance.
    """

    removal_ratio: float
    interval: tuple[float, float]
    removal_ratios: np.ndarray
    statdim_ratio: np.ndarray
    statdim_ratio_sem: np.ndarray
    max_certificate: float
    converged: bool


def positive_eigenvalues(eigenvalues, *, eigen_treatment: str, floor: float):
    """Eigenvalues made positive for building a bounded ellipsoid (Monte Carlo prediction).

    ``"abs"``: max(|lambda|, floor); every other treatment: max(lambda, floor). ("drop" and
    "flat" have no bounded-ellipsoid analogue: infinitely sharp or flat axes.) floor > 0.
    """
    _checks.one_of("eigen_treatment", eigen_treatment, EIGEN_TREATMENTS)
    floor = _checks.real("floor", floor, positive=True)
    lam = jnp.abs(eigenvalues) if eigen_treatment == "abs" else eigenvalues
    return jnp.maximum(lam, floor)


def monte_carlo_prediction(eigenvalues, eigenvectors, pruned_parts, removal_ratios, *,
                           epsilon, key, num_samples: int = 48,
                           num_sem: float = 2.0) -> MonteCarloPrediction:
    """Fixed point p = delta(cone(E_p)) / D with E_p the quadratic-model ellipsoid seen from M_p w*.

    E_p = {x : 1/2 (x - c_p)^T H (x - c_p) <= eps}, c_p = w* - M_p ⊙ w* (the pruned-away part),
    so delta(cone(E_p)) is the statistical dimension the kinematic formula needs [ZZSL sec. 4,
    ALMT Thm I]; the paper's width formula approximates it. Uses
    :func:`phasetrans.solvers.ellipsoid_cone_statdim` in the eigenbasis.

    Args:
        eigenvalues: (D,) positive eigenvalues of H (see :func:`positive_eigenvalues`).
        eigenvectors: (D, D) orthonormal eigenvectors (columns).
        pruned_parts: (G, D) c_p for each removal ratio on the grid.
        removal_ratios: (G,) increasing grid.
        epsilon: eps > 0; key: PRNG key; num_samples per grid point.
    """
    from phasetrans import solvers

    key = _checks.prng_key("key", key)
    grid = np.asarray(_checks.array("removal_ratios", removal_ratios, ndim=1))
    pruned_parts = _checks.array("pruned_parts", pruned_parts, ndim=2)
    centers = pruned_parts @ eigenvectors
    dim = eigenvalues.shape[0]
    means, sems, worst, converged = [], [], 0.0, True
    for center, k in zip(centers, jax.random.split(key, len(grid)), strict=True):
        res = solvers.ellipsoid_cone_statdim(eigenvalues, center, tolerance=epsilon, key=k,
                                             num_samples=num_samples)
        means.append(res.estimate.mean / dim)
        sems.append(res.estimate.sem / dim)
        worst, converged = max(worst, res.max_certificate), converged and res.converged
    means, sems = np.asarray(means), np.asarray(sems)
    interval = (fixed_point(grid, means - num_sem * sems),
                fixed_point(grid, means + num_sem * sems))
    return MonteCarloPrediction(fixed_point(grid, means), interval, grid, means, sems, worst,
                                converged)


def l1_body_prediction(body, apex_at, *, key, num_samples: int = 16, num_steps: int = 5,
                       num_sem: float = 2.0, progress: bool = False) -> MonteCarloPrediction:
    """Fixed point p = delta(cone(K - x_p)) / D for the l1-induced body K, by bisection on p.

    K is :class:`phasetrans.l1_body.L1InducedBody` (the second-order model of the l1-regularised
    loss, reference.md sec. 3) and x_p = M_p ⊙ w* the pruned weights. The gap delta/D - p is
    1 at p = 0 (x_0 = w* is in K, the cone is R^D) and <= 0 at p = 1, and decreases in p; each of
    ``num_steps`` bisection steps estimates delta at the bracket's midpoint with
    :func:`phasetrans.l1_body.cone_statdim` (``num_samples`` ADMM solves; free when x_p lies in
    K). The fixed point and its interval (mean -/+ ``num_sem`` SEM) interpolate the evaluated
    points like :func:`fixed_point`.

    Args:
        body: the :class:`~phasetrans.l1_body.L1InducedBody` around w*.
        apex_at: p -> x_p, (D,) pruned weights for removal ratio p.
        key: PRNG key (keyword-only, required).
    """
    from phasetrans import l1_body

    key = _checks.prng_key("key", key)
    num_steps = _checks.positive_int("num_steps", num_steps)
    dim = body.dim
    points = {0.0: (1.0, 0.0), 1.0: (0.0, 0.0)}  # delta/D at the ends: R^D, and <= 1 = p
    lo, hi, worst, converged = 0.0, 1.0, 0.0, True
    for k in track(jax.random.split(key, num_steps), desc="l1-body bisection",
                   enabled=progress):
        mid = 0.5 * (lo + hi)
        res = l1_body.cone_statdim(body, apex_at(mid), key=k, num_samples=num_samples)
        points[mid] = (res.estimate.mean / dim, res.estimate.sem / dim)
        worst, converged = max(worst, res.max_certificate), converged and res.converged
        lo, hi = (mid, hi) if points[mid][0] > mid else (lo, mid)
    grid = np.array(sorted(points))
    means = np.array([points[p][0] for p in grid])
    sems = np.array([points[p][1] for p in grid])
    interval = (fixed_point(grid, means - num_sem * sems),
                fixed_point(grid, means + num_sem * sems))
    return MonteCarloPrediction(fixed_point(grid, means), interval, grid, means, sems, worst,
                                converged)


class Prediction(NamedTuple):
    """Everything :func:`predict` computed for one trained network.

    Attributes:
        formula: the width-formula prediction (:class:`FormulaPrediction`).
        sensitivity: rows of :func:`sensitivity` (eigenvalue treatment x eps scale).
        noise: :class:`LossNoise` (eps and its standard error).
        num_params: D, the number of prunable weights.
        spectrum: summary dict: method, num_negative, num_near_zero, trace (floats for an
            exact spectrum; {"estimate", "sem"} dicts for SLQ), floor.
        monte_carlo: :class:`MonteCarloPrediction` for the ellipsoid, or None (SLQ spectrum or
            D > ``mc_max_dim``).
        l1_body: :class:`MonteCarloPrediction` for the l1-induced body (:func:`l1_body_prediction`),
            or None (SLQ spectrum or D > ``l1_max_dim``).
    """

    formula: FormulaPrediction
    sensitivity: list
    noise: LossNoise
    num_params: int
    spectrum: dict
    monte_carlo: MonteCarloPrediction | None
    l1_body: MonteCarloPrediction | None


def psd_eigenvalues(eigenvalues, *, eigen_treatment: str):
    """Eigenvalues made >= 0 for the l1-induced body: ``"abs"`` -> |lambda|, otherwise
    max(lambda, 0) (negative curvature treated as flat; the body's l1 term bounds it)."""
    _checks.one_of("eigen_treatment", eigen_treatment, EIGEN_TREATMENTS)
    return np.abs(eigenvalues) if eigen_treatment == "abs" else np.maximum(eigenvalues, 0.0)


def predict(params, loss_fn, data, *, key, spectrum_method: str = "exact",
            eigen_treatment: str = "abs", floor: float = 1e-4, epsilon: float | None = None,
            prunable=None, num_ratios: int = 1001, num_probes: int = 32, num_iters: int = 80,
            hvp_batch_size: int | None = None, noise_batch_size: int = 128,
            mc_num_ratios: int = 9, mc_num_samples: int = 48,
            mc_max_dim: int = 4000, l1: float = 0.0, l1_num_samples: int = 16,
            l1_num_steps: int = 5, l1_max_dim: int = 1500, progress: bool = False) -> Prediction:
    """Predict the largest removal ratio of global magnitude pruning [ZZSL sec. 4].

    Steps: eps from mini-batch losses (:func:`loss_noise`, unless ``epsilon`` is given); the
    Hessian of ``loss_fn`` over the full ``data`` restricted to the prunable coordinates (exact
    eigendecomposition or SLQ); R(p) from the global magnitude masks on a grid of ``num_ratios``
    removal ratios; the fixed point of the width formula with its interval and sensitivity; and,
    for an exact spectrum with D <= ``mc_max_dim``, the Monte Carlo statistical dimension of the
    ellipsoid's cone on ``mc_num_ratios`` ratios within +-0.2 of the formula's fixed point
    (``mc_num_samples`` Gaussian samples each); for D <= ``l1_max_dim`` also the l1-induced
    body's fixed point (:func:`l1_body_prediction`, ``l1_num_steps`` bisection steps of
    ``l1_num_samples`` ADMM solves; H's eigenvalues via :func:`psd_eigenvalues`, g* the loss
    gradient at w*, lam = ``l1``). The l1 body costs O(D^2) per ADMM iteration and a few thousand
    iterations per sample, hence its lower size limit.

    Args:
        params: trained parameters w* (any pytree).
        loss_fn: ``loss_fn(params, batch) -> mean loss`` (without the l1 term).
        data: training data, a pytree of arrays with a leading example axis, e.g. (x, y).
        key: PRNG key (keyword-only, required).
        spectrum_method: ``"exact"`` (default; D <= 5000) or ``"slq"``.
        eigen_treatment, floor: see ``EIGEN_TREATMENTS``; default ``"abs"`` (as the paper) with
            floor 1e-4 (also the |lambda| threshold for counting near-zero eigenvalues).
        prunable: which leaves count (see :mod:`phasetrans.prune`); default the weights.
        l1: the l1 strength lam the network was trained with (the l1-induced body's lam).
        progress: progress bars on stderr for the l1-body bisection.
    """
    from phasetrans import prune, spectrum

    key = _checks.prng_key("key", key)
    _checks.finite("params", params)
    _checks.one_of("spectrum_method", spectrum_method, ("exact", "slq"))
    _checks.one_of("eigen_treatment", eigen_treatment, EIGEN_TREATMENTS)
    floor = _checks.real("floor", floor, positive=True)
    num_ratios = _checks.integer("num_ratios", num_ratios, minimum=2)
    l1 = _checks.real("l1", l1, nonnegative=True)
    l1_max_dim = _checks.integer("l1_max_dim", l1_max_dim, minimum=0)
    k_noise, k_spec, k_mc, k_l1 = jax.random.split(key, 4)
    if epsilon is None:
        noise = loss_noise(loss_fn, params, data, key=k_noise,
                           batch_size=min(noise_batch_size, _num_examples(data)))
    else:
        noise = LossNoise(_checks.real("epsilon", epsilon, positive=True), 0.0, float("nan"), 0, 0)
    idx = np.flatnonzero(prune.prunable_flat_mask(params, prunable))
    dim = idx.size
    grid = np.linspace(0.0, 1.0, num_ratios)
    distances = np.asarray(jax.vmap(lambda p: prune.pruned_distance(params, p, prunable))(grid))

    eigvecs = None
    if spectrum_method == "exact":
        hessian = spectrum.hessian_matrix(loss_fn, params, data, batch_size=hvp_batch_size)
        eigvals, eigvecs = np.linalg.eigh(np.asarray(hessian, np.float64)[np.ix_(idx, idx)])
        nodes, weights = eigvals[None], np.full((1, dim), 1.0 / dim)
        summary = {"method": "exact", "num_negative": int(np.sum(eigvals < 0)),
                   "num_near_zero": int(np.sum(np.abs(eigvals) < floor)),
                   "trace": float(eigvals.sum()), "max_eigenvalue": float(eigvals[-1]),
                   "min_eigenvalue": float(eigvals[0])}
    else:
        full_matvec = spectrum.hessian_vector_product(loss_fn, params, data,
                                                      batch_size=hvp_batch_size)
        total = _ravel_size(params)

        def matvec(v):
            return full_matvec(jnp.zeros(total, v.dtype).at[idx].set(v))[idx]

        sq = spectrum.slq(matvec, dim=dim, key=k_spec, num_probes=num_probes,
                          num_iters=min(num_iters, dim))
        nodes, weights = np.asarray(sq.nodes), np.asarray(sq.weights)

        def as_dict(est):
            return {"estimate": est.mean, "sem": est.sem}

        summary = {"method": "slq", "num_probes": num_probes, "num_iters": num_iters,
                   "num_negative": as_dict(spectrum.count_eigenvalues(sq, upper=0.0)),
                   "num_near_zero": as_dict(spectrum.count_eigenvalues(sq, lower=-floor,
                                                                       upper=floor)),
                   "trace": as_dict(spectrum.spectral_sum(sq, lambda x: x))}
    summary["floor"] = floor

    formula = formula_prediction(nodes, weights, removal_ratios=grid, distances=distances,
                                 epsilon=noise.epsilon,
                                 epsilon_standard_error=noise.standard_error,
                                 eigen_treatment=eigen_treatment, floor=floor)
    rows = sensitivity(nodes, weights, removal_ratios=grid, distances=distances,
                       epsilon=noise.epsilon, floor=floor)
    flat = jax.flatten_util.ravel_pytree

    def pruned(p):  # M_p ⊙ w* on the prunable coordinates
        mask = prune.global_magnitude(params, float(p), prunable)
        return np.asarray(flat(prune.apply_mask(params, mask))[0])[idx]

    w_star = np.asarray(flat(params)[0])[idx]
    mc = None
    if eigvecs is not None and dim <= mc_max_dim:
        # resolve the crossing: a grid of +-0.2 around the formula's fixed point
        centre = formula.removal_ratio
        mc_grid = np.linspace(max(centre - 0.2, 0.0), min(centre + 0.2, 1.0), mc_num_ratios)
        parts = np.stack([w_star - pruned(p) for p in mc_grid])
        lam = positive_eigenvalues(eigvals, eigen_treatment=eigen_treatment, floor=floor)
        mc = monte_carlo_prediction(lam, eigvecs, parts, mc_grid, epsilon=noise.epsilon,
                                    key=k_mc, num_samples=mc_num_samples)
    l1_mc = None
    if eigvecs is not None and dim <= l1_max_dim:
        from phasetrans import l1_body

        dtype = jnp.result_type(float)
        gradient = np.asarray(flat(jax.grad(loss_fn)(params, data))[0])[idx]
        body = l1_body.L1InducedBody.create(
            center=jnp.asarray(w_star, dtype), l1=l1, tolerance=noise.epsilon,
            eigenvalues=jnp.asarray(psd_eigenvalues(eigvals, eigen_treatment=eigen_treatment),
                                    dtype),
            eigenvectors=jnp.asarray(eigvecs, dtype), gradient=jnp.asarray(gradient, dtype))
        l1_mc = l1_body_prediction(body, lambda p: jnp.asarray(pruned(p), dtype), key=k_l1,
                                   num_samples=l1_num_samples, num_steps=l1_num_steps,
                                   progress=progress)
    return Prediction(formula, rows, noise, dim, summary, mc, l1_mc)


def _ravel_size(params) -> int:
    """Total number of entries of a pytree."""
    return int(sum(np.size(leaf) for leaf in jax.tree_util.tree_leaves(params)))
