"""Predict the pruning threshold of a trained network: the formula and two Monte Carlo checks.

[ZZSL] Zhang, Zhang, Sun, Liu, "How Sparse Can We Prune A Deep Network: A Fundamental Limit
Perspective", NeurIPS 2024 (arXiv 2306.05857), section 4; official code ``cal_rate.py``
(https://github.com/QiaozheZhang/Global-One-shot-Pruning, commit e7c95904617b).

The pruned network M_p ⊙ w* keeps (1 - p) D coordinates. Pruning succeeds when the kept-coordinate
subspace meets the loss-tolerance set S = {w : F(w) <= F(w*) + eps}; by the approximate kinematic
formula [ALMT Thm I] that happens when (1 - p) D + delta(cone(S - M_p w*)) > D, so the largest
prunable removal ratio is the fixed point p = delta(p) / D. :func:`predict` computes it three ways:

1. the paper's width formula (:mod:`phasetrans.theory.formula`) on the Hessian spectrum;
2. the Monte Carlo delta of the quadratic model's ellipsoid cone (:func:`ellipsoid_prediction`);
3. the Monte Carlo delta of the l1-induced body's cone (:func:`l1_body_prediction`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from phasetrans import _checks, limits
from phasetrans._progress import counter, track
from phasetrans.estimate import Estimate, SolverInfo
from phasetrans.geometry import bodies, width
from phasetrans.networks import prune
from phasetrans.networks.problem import Problem, check_params, check_problem
from phasetrans.theory import formula, hessian_model, spectral_levels, spectrum_source

MAX_EXACT_DIM = limits.MAX_DENSE_DIM
"""Largest parameter count for which :func:`predict` builds the dense Hessian (exact spectrum)."""

EXACT_MODEL = "exact eigendecomposition"


class MonteCarloPrediction(NamedTuple):
    """Formula-free prediction: the fixed point of delta(cone(K - M_p w*)) / D in p.

    Attributes:
        removal_ratio: fixed point of the mean curve; ``interval``: of mean -/+ ``num_sem`` SEM.
        removal_ratios: (G,) the removal ratios where delta/D was estimated.
        statdim_ratio: ``Estimate`` of delta/D there: (G,) means, (G,) SEMs, samples per point.
        info: worst :class:`~phasetrans.estimate.SolverInfo` over every projection.
        hessian_model: which Hessian the bodies used (``"exact eigendecomposition"`` or a
            description of the :mod:`phasetrans.theory.spectral_levels` model).
    """

    removal_ratio: float
    interval: tuple[float, float]
    removal_ratios: np.ndarray
    statdim_ratio: Estimate
    info: SolverInfo
    hessian_model: str = EXACT_MODEL


def _fixed_point_prediction(grid, means, sems, num_samples, infos, num_sem,
                            hessian_model=EXACT_MODEL):
    grid, means, sems = (np.asarray(x, np.float64) for x in (grid, means, sems))
    interval = (formula.fixed_point(grid, means - num_sem * sems),
                formula.fixed_point(grid, means + num_sem * sems))
    return MonteCarloPrediction(formula.fixed_point(grid, means), interval, grid,
                                Estimate(means, sems, num_samples), SolverInfo.combine(*infos),
                                hessian_model)


def ellipsoid_prediction(eigenvalues, eigenvectors, pruned_parts, removal_ratios, *, epsilon,
                         key, num_samples: int = 48, num_sem: float = 2.0,
                         progress: bool = False, devices: int | None = None
                         ) -> MonteCarloPrediction:
    """Fixed point p = delta(cone(E_p)) / D with E_p the quadratic-model ellipsoid seen from M_p w*.

    E_p = {x : 1/2 (x - c_p)^T H (x - c_p) <= eps}, c_p = w* - M_p ⊙ w* (the pruned-away part),
    so delta(cone(E_p)) is the statistical dimension the kinematic formula needs [ZZSL sec. 4,
    ALMT Thm I]; the paper's width formula approximates it. Works in H's eigenbasis (a rotated
    standard Gaussian is standard Gaussian), where E_p is an axis-aligned
    :class:`~phasetrans.geometry.bodies.Ellipsoid` with semi-axes sqrt(2 eps / lambda_i), and
    estimates delta with :func:`phasetrans.geometry.width.cone_statdim` (D exactly when the apex is
    inside).

    Args:
        eigenvalues: (D,) positive eigenvalues of H (see :func:`formula.positive_eigenvalues`).
        eigenvectors: (D, D) orthonormal eigenvectors (columns).
        pruned_parts: (G, D) c_p for each removal ratio on the grid.
        removal_ratios: (G,) increasing grid.
        epsilon: eps > 0; key: PRNG key (keyword-only, required); num_samples per grid point.
        devices: devices sharing the samples (:func:`phasetrans.sampling.gaussian_map`;
            default None: one).
    """
    key = _checks.prng_key("key", key)
    grid = np.asarray(_checks.array("removal_ratios", removal_ratios, ndim=1))
    eigenvalues = _checks.array("eigenvalues", eigenvalues, ndim=1)
    if not bool(jnp.all(eigenvalues > 0)):
        raise ValueError("eigenvalues must be > 0: apply a floor to zero/negative eigenvalues "
                         "(formula.positive_eigenvalues)")
    epsilon = _checks.real("epsilon", epsilon, positive=True)
    pruned_parts = _checks.array("pruned_parts", pruned_parts, shape=(grid.size,
                                                                       eigenvalues.shape[0]))
    semi_axes = jnp.sqrt(2.0 * epsilon / eigenvalues)
    dim = eigenvalues.shape[0]
    results = [width.cone_statdim(bodies.Ellipsoid.create(semi_axes, center),
                                  jnp.zeros(dim, semi_axes.dtype), key=k,
                                  num_samples=num_samples, devices=devices)
               for center, k in track(zip(pruned_parts @ eigenvectors,
                                          jax.random.split(key, len(grid)), strict=True),
                                      desc="ellipsoid cone", total=len(grid), enabled=progress)]
    return _fixed_point_prediction(grid, [r.estimate.mean / dim for r in results],
                                   [r.estimate.sem / dim for r in results], num_samples,
                                   [r.info for r in results], num_sem)


def levels_prediction(levels_at: Callable, removal_ratios, *, dim: int, epsilon, key,
                      num_samples: int = 48, num_sem: float = 2.0, progress: bool = False,
                      devices: int | None = None, hessian_model: str = "spectral levels"
                      ) -> MonteCarloPrediction:
    """:func:`ellipsoid_prediction` without eigenvectors: the same fixed point with delta from
    :func:`phasetrans.theory.spectral_levels.statdim` (exact for the levels' Hessian; see that
    module for what the binning and the quadratures change).

    Args:
        levels_at: p -> :class:`phasetrans.theory.spectral_levels.Levels` of (H+, c_p) for removal
            ratio p (c_p = w* - M_p ⊙ w*), or None when c_p = 0 (the apex is w*: delta = D).
        removal_ratios: (G,) increasing grid. dim: D. epsilon, key, num_samples, num_sem,
            progress, devices: as :func:`ellipsoid_prediction`.
        hessian_model: the description stored in the result.
    """
    key = _checks.prng_key("key", key)
    grid = np.asarray(_checks.array("removal_ratios", removal_ratios, ndim=1))
    dim = _checks.positive_int("dim", dim)
    epsilon = _checks.real("epsilon", epsilon, positive=True)
    everywhere = width.StatisticalDimension(Estimate(float(dim), 0.0, num_samples),
                                            SolverInfo(0, 0.0, True))
    results = []
    for p, k in track(zip(grid, jax.random.split(key, len(grid)), strict=True),
                      desc="spectral-levels cone", total=len(grid), enabled=progress):
        levels = levels_at(float(p))
        results.append(everywhere if levels is None else spectral_levels.statdim(
            levels, epsilon=epsilon, key=k, num_samples=num_samples, devices=devices))
    return _fixed_point_prediction(grid, [r.estimate.mean / dim for r in results],
                                   [r.estimate.sem / dim for r in results], num_samples,
                                   [r.info for r in results], num_sem, hessian_model)


def l1_body_prediction(body: bodies.L1InducedBody, apex_at: Callable, *, key,
                       num_samples: int = 16, num_steps: int = 5, max_iters: int = 20000,
                       start: float | None = None, num_sem: float = 2.0,
                       progress: bool = False,
                       devices: int | None = None) -> MonteCarloPrediction:
    """Fixed point p = delta(cone(K - x_p)) / D for the l1-induced body K, by a bracketing search.

    K is :class:`phasetrans.geometry.bodies.L1InducedBody` (the second-order model of the
    l1-regularised loss [ZZSL sec. 4]) and x_p = M_p ⊙ w* the pruned weights. The gap delta/D - p is
    1 - p > 0 while x_p lies in K (the cone is R^D), <= 0 at p = 1, and decreases in p. It jumps
    where x_p leaves K: just outside, delta is about the statistical dimension of K's tangent cone
    at a point with p D zero coordinates, an l1 descent cone, far below D (digits 64-16-10,
    lambda = 1e-4: delta/D from 1 to 0.65 between removal ratios 0.816 and 0.818). So the search

    1. locates that exit to 1/D by membership tests alone (bisection on x_p in K, no
       projections; it assumes, as the rest of the search does, one crossing);
    2. evaluates delta just past it: at or below the diagonal, the fixed point is the exit;
    3. otherwise brackets the sign change beyond it to a width h = 2^-``num_steps``:
       ``start=None`` (default) by bisection, at most ``num_steps`` evaluations; ``start`` in
       [0, 1] (e.g. the ellipsoid's Monte Carlo prediction) by evaluating there, stepping h, 2h,
       4h, ... toward the sign change until it is bracketed, then bisecting the bracket down to
       h (two evaluations when ``start`` is within h of the fixed point).

    Each evaluation estimates delta with :func:`phasetrans.geometry.width.cone_statdim`
    (``num_samples`` cone projections, each bounded by ``max_iters`` iterations: semismooth
    Newton after an ADMM warm start with the exact eigendecomposition, the conic ADMM for the
    low-rank model, :class:`phasetrans.geometry.bodies.L1InducedCone`). Measured at D = 3392
    (digits 64-32-32-10, lambda = 1e-4, 16 samples): the fixed point was the exit (0.9173),
    and bisection of [0, 1] had spent 6 evaluations where steps 1-2 spend one.

    The fixed point and its interval (mean -/+ ``num_sem`` SEM) interpolate the evaluated points
    like :func:`formula.fixed_point`, so the interval is the Monte Carlo error only: the linear
    interpolation inside the last bracket (width h, or 1/D at the exit) is not in it. Where
    delta/D falls steeply (at large D it drops from near 1 to near 0 within one bisection
    bracket) raise ``num_steps`` until h is narrower than the theory window.

    Args:
        body: the :class:`~phasetrans.geometry.bodies.L1InducedBody` around w*.
        apex_at: p -> x_p, (D,) pruned weights for removal ratio p.
        key: PRNG key (keyword-only, required).
        start: where the search starts (default None: bisection of [0, 1]).
        devices: devices sharing the samples (default None: one).
    """
    key = _checks.prng_key("key", key)
    num_steps = _checks.positive_int("num_steps", num_steps)
    solver = bodies.L1_CONE_SOLVER._replace(max_iters=max_iters).validate()
    if start is not None:
        start = _checks.real("start", start, nonnegative=True, high=1.0)
    dim = body.dim
    points = {0.0: (1.0, 0.0), 1.0: (0.0, 0.0)}  # delta/D at the ends: R^D, and <= 1 = p
    infos = []
    h = 2.0 ** -num_steps
    # one evaluation at the exit, then at most num_steps by bisection, 2 num_steps + 1 from a start
    keys = jax.random.split(key, num_steps + 1 if start is None else 2 * num_steps + 2)
    bar = counter(total=None, desc="l1-body fixed-point search", enabled=progress)

    def above(p):  # evaluate delta/D at p: is it above the diagonal?
        res = width.cone_statdim(body, apex_at(p), key=keys[len(infos)],
                                 num_samples=num_samples, solver=solver, devices=devices)
        points[p] = (res.estimate.mean / dim, res.estimate.sem / dim)
        infos.append(res.info)
        bar.update(1)
        return points[p][0] > p

    lo, hi = 0.0, 1.0  # x_lo in K, x_hi not (x_1 = 0 may be in K: then hi stays 1)
    while hi - lo > 1.0 / dim:
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if body.contains(apex_at(mid)) else (lo, mid)
    points[lo] = (1.0, 0.0)
    if hi < 1.0 and above(hi):  # past the jump delta/D is still above p: search beyond it
        lo, hi = hi, 1.0  # the gap is > 0 at lo and <= 0 at hi
        if start is not None and hi - lo > 2 * h:
            p, step = min(max(start, lo + h), hi - h), h
            if above(p):
                lo = p
                while lo + step < hi and above(lo + step):
                    lo, step = lo + step, 2 * step
                hi = min(lo + step, hi)
            else:
                hi = p
                while hi - step > lo and not above(hi - step):
                    hi, step = hi - step, 2 * step
                lo = max(hi - step, lo)
        while hi - lo > h * (1 + 1e-9):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if above(mid) else (lo, mid)
    bar.close()
    grid = sorted(points)
    return _fixed_point_prediction(grid, [points[p][0] for p in grid],
                                   [points[p][1] for p in grid], num_samples, infos, num_sem)


def _low_rank_l1_body(source, *, center, gradient, l1, epsilon, rank, key, treatment,
                      calibration):
    """The l1-induced body on the source's low-rank model (:meth:`ExactSource.low_rank` or
    :meth:`SLQSource.low_rank`) with the bulk calibrated on the formula's fixed point
    ``calibration`` = (removal ratio, distance), and its description for
    :attr:`MonteCarloPrediction.hessian_model`."""
    top, described = source.low_rank(rank, key=key, **treatment)
    removal_ratio, distance = calibration
    beta = hessian_model.calibrated_bulk(top.eigenvalues, dim=center.size,
                                         removal_ratio=removal_ratio, distance=distance,
                                         epsilon=epsilon, floor=treatment["floor"])
    dtype = jnp.result_type(float)
    calibrated = top._replace(bulk=jnp.asarray(beta, top.eigenvalues.dtype), bulk_rule="value")
    body = hessian_model.l1_body(calibrated, center=jnp.asarray(center, dtype), l1=l1,
                                 epsilon=epsilon, gradient=jnp.asarray(gradient, dtype))
    return body, (f"low-rank model: {described} + a bulk {beta:.3g} calibrated on the width "
                  "formula's fixed point")


SPECTRUM_METHODS = ("exact", "slq")
L1_BODY_SEARCHES = ("bisection", "near_ellipsoid")


class SpectrumOptions(NamedTuple):
    """How :func:`predict` gets the Hessian spectrum of the prunable coordinates
    (:mod:`phasetrans.theory.spectrum_source`).

    ``method``: ``"exact"`` (dense Hessian and eigh; all parameters at most ``MAX_EXACT_DIM``)
    or ``"slq"`` (``num_probes`` probes of ``num_iters`` Lanczos steps); ``hvp_batch_size``:
    examples per Hessian-vector-product batch (None: all at once).
    """

    method: str = "exact"
    num_probes: int = 32
    num_iters: int = 80
    hvp_batch_size: int | None = None

    def validate(self) -> SpectrumOptions:
        """``self`` if every field is allowed; ``ValueError``/``TypeError`` naming it if not."""
        _checks.one_of("spectrum_options.method", self.method, SPECTRUM_METHODS)
        _checks.integer("spectrum_options.num_probes", self.num_probes, minimum=1)
        _checks.integer("spectrum_options.num_iters", self.num_iters, minimum=1)
        if self.hvp_batch_size is not None:
            _checks.positive_int("spectrum_options.hvp_batch_size", self.hvp_batch_size)
        return self


class EllipsoidOptions(NamedTuple):
    """The Monte Carlo ellipsoid prediction, on ``num_ratios`` removal ratios within +-0.2 of
    the formula's fixed point, ``num_samples`` Gaussian samples each. With an exact spectrum
    and D <= ``max_dim`` it works in H's eigenbasis (:func:`ellipsoid_prediction`); otherwise
    (an SLQ spectrum, or a larger D) through the spectral-levels model with ``num_levels``
    levels (:func:`levels_prediction`; with SLQ, one Lanczos run of
    ``SpectrumOptions.num_iters`` HVPs per ratio). ``max_dim=0`` turns it off."""

    max_dim: int = 4000
    num_ratios: int = 9
    num_samples: int = 48
    num_levels: int = 32

    def validate(self) -> EllipsoidOptions:
        """``self`` if every field is allowed; ``ValueError``/``TypeError`` naming it if not."""
        _checks.integer("ellipsoid_options.max_dim", self.max_dim, minimum=0)
        _checks.integer("ellipsoid_options.num_ratios", self.num_ratios, minimum=2)
        _checks.integer("ellipsoid_options.num_samples", self.num_samples, minimum=2)
        _checks.integer("ellipsoid_options.num_levels", self.num_levels, minimum=1)
        return self


class L1BodyOptions(NamedTuple):
    """The Monte Carlo l1-induced-body prediction (:func:`l1_body_prediction`: the exit of x_p from
    the body, then up to ``num_steps`` bisection steps), ``num_samples`` cone projections of at
    most ``max_iters`` iterations each per evaluation. With an exact spectrum and D <=
    ``max_dim`` (3500: the digits 64-32-32-10 networks, D = 3392, are in; there one evaluation
    took 32 s with 16 samples on 2 busy cores) H is the exact eigendecomposition (O(D^2) per
    iteration: 400 ADMM iterations, then semismooth Newton's conjugate-gradient steps,
    :mod:`phasetrans.geometry.l1_projection`; ``max_dim=0`` turns it off); otherwise,
    for D <= ``model_max_dim`` (default 0: off), the low-rank model of
    :mod:`phasetrans.theory.hessian_model` with the ``rank`` largest of 2 ``rank`` Ritz pairs and
    the formula-calibrated bulk (O(D rank) per iteration; what it changes:
    :func:`phasetrans.theory.hessian_model.l1_body`; its cone projects by the conic ADMM,
    thousands of O(D rank) iterations per sample). ``search``: how :func:`l1_body_prediction`
    brackets the fixed point when it lies beyond the exit of x_p from the body: ``"bisection"``
    (default) or ``"near_ellipsoid"``, steps from the ellipsoid's Monte Carlo prediction (the
    formula's where there is none); the same bracket width 2^-``num_steps``, fewer solves when
    the two bodies agree."""

    max_dim: int = 3500
    num_samples: int = 16
    num_steps: int = 5
    max_iters: int = 20000
    model_max_dim: int = 0
    rank: int = 64
    search: str = "bisection"

    def validate(self) -> L1BodyOptions:
        """``self`` if every field is allowed; ``ValueError``/``TypeError`` naming it if not."""
        for field in ("max_dim", "model_max_dim"):
            _checks.integer(f"l1_body_options.{field}", getattr(self, field), minimum=0)
        _checks.integer("l1_body_options.num_samples", self.num_samples, minimum=2)
        for field in ("num_steps", "max_iters", "rank"):
            _checks.integer(f"l1_body_options.{field}", getattr(self, field), minimum=1)
        _checks.one_of("l1_body_options.search", self.search, L1_BODY_SEARCHES)
        return self

    def route(self, method: str, dim: int) -> str | None:
        """Which l1-induced body a spectrum ``method`` at D = ``dim`` gets: ``"exact"`` (the
        eigendecomposition), ``"model"`` (the low-rank model) or None (off)."""
        if method == "exact" and dim <= self.max_dim:
            return "exact"
        if dim <= self.model_max_dim:
            if self.rank >= dim:
                raise ValueError(f"l1_body_options.rank must be < D = {dim}, got {self.rank}")
            return "model"
        return None


QuadraticModel = spectrum_source.QuadraticModel


class Prediction(NamedTuple):
    """Everything :func:`predict` computed for one trained network.

    Attributes:
        formula: the width-formula prediction (:class:`formula.FormulaPrediction`).
        sensitivity: rows of :func:`formula.sensitivity` (eigenvalue treatment x eps scale).
        noise: :class:`formula.LossNoise` (eps as an Estimate).
        num_params: D, the number of prunable weights.
        spectrum: summary dict: method, num_negative, num_near_zero, trace (floats for an
            exact spectrum; {"estimate", "sem", "num_samples"} dicts for SLQ), floor.
        ellipsoid: :class:`MonteCarloPrediction` for the ellipsoid (its ``hessian_model``
            says whether H's eigenbasis or the spectral-levels model was used), or None
            (``EllipsoidOptions.max_dim=0``).
        l1_body: :class:`MonteCarloPrediction` for the l1-induced body (its
            ``hessian_model`` names the exact eigendecomposition or the low-rank model), or
            None (turned off by :class:`L1BodyOptions`).
        model: the :class:`QuadraticModel` the Monte Carlo predictions used (exact spectrum), or
            None (SLQ spectrum).
    """

    formula: formula.FormulaPrediction
    sensitivity: list
    noise: formula.LossNoise
    num_params: int
    spectrum: dict
    ellipsoid: MonteCarloPrediction | None
    l1_body: MonteCarloPrediction | None
    model: QuadraticModel | None


class PredictOptions(NamedTuple):
    """The options of :func:`predict` as one value.

    Attributes:
        epsilon: the loss tolerance; default (None): estimated from mini-batch losses of
            ``noise_batch_size`` examples (:func:`formula.loss_noise`).
        eigen_treatment, floor: see ``formula.EIGEN_TREATMENTS``; default ``"abs"`` (as the
            paper) with floor 1e-4 (also the |lambda| threshold for counting near-zero ones).
        num_ratios: the removal-ratio grid of R(p) and the formula's fixed point.
        spectrum_options, ellipsoid_options, l1_body_options: None takes the defaults of
            :class:`SpectrumOptions`, :class:`EllipsoidOptions`, :class:`L1BodyOptions`.
    """

    epsilon: float | None = None
    eigen_treatment: str = "abs"
    floor: float = 1e-4
    num_ratios: int = 1001
    noise_batch_size: int = 128
    spectrum_options: SpectrumOptions | None = None
    ellipsoid_options: EllipsoidOptions | None = None
    l1_body_options: L1BodyOptions | None = None

    def validate(self) -> PredictOptions:
        """These options with every None sub-option replaced by its defaults, each validated
        (``ValueError``/``TypeError`` naming the field and what is allowed)."""
        if self.epsilon is not None:
            _checks.real("epsilon", self.epsilon, positive=True)
        _checks.one_of("eigen_treatment", self.eigen_treatment, formula.EIGEN_TREATMENTS)
        _checks.real("floor", self.floor, positive=True)
        _checks.integer("num_ratios", self.num_ratios, minimum=2)
        _checks.positive_int("noise_batch_size", self.noise_batch_size)
        return self._replace(**{
            name: _checks.options(name, getattr(self, name), kind)
            for name, kind in (("spectrum_options", SpectrumOptions),
                               ("ellipsoid_options", EllipsoidOptions),
                               ("l1_body_options", L1BodyOptions))})


def _spectrum(loss_fn, params, data, index, options: SpectrumOptions, *, key, devices):
    if options.method == "exact":
        return spectrum_source.exact_source(loss_fn, params, data, index,
                                            hvp_batch_size=options.hvp_batch_size)
    return spectrum_source.slq_source(loss_fn, params, data, index, key=key,
                                      num_probes=options.num_probes,
                                      num_iters=options.num_iters,
                                      hvp_batch_size=options.hvp_batch_size, devices=devices)


def _noise(loss_fn, params, data, options: PredictOptions, *, key) -> formula.LossNoise:
    if options.epsilon is not None:
        return formula.LossNoise(Estimate(float(options.epsilon), 0.0, 0), float("nan"), 0)
    batch_size = min(options.noise_batch_size, _checks.num_examples("data", data))
    return formula.loss_noise(loss_fn, params, data, key=key, batch_size=batch_size)


class _Pruning(NamedTuple):
    """The pruned points of one network: ``params``, ``prunable``, ``center`` w* (D,)."""

    params: object
    prunable: object
    center: np.ndarray

    def point(self, p):
        """M_p ⊙ w* on the prunable coordinates, (D,)."""
        return prune.pruned_points(self.params, np.array([p]), self.prunable)[0][0]

    def parts(self, grid):
        """(G, D) the pruned-away parts c_p = w* - M_p ⊙ w*."""
        return self.center - prune.pruned_points(self.params, grid, self.prunable)[0]

    def distance(self, p) -> float:
        return float(prune.pruned_distances(self.params, np.array([p]), self.prunable)[0])


def _ellipsoid(source, pruning: _Pruning, prediction, options: PredictOptions, *, key,
               progress, devices) -> MonteCarloPrediction | None:
    """The Monte Carlo ellipsoid on +-0.2 around the formula's fixed point: in the eigenbasis
    where the source has one and D <= max_dim, else on the source's spectral levels."""
    ell = options.ellipsoid_options
    centre, dim = prediction.removal_ratio, pruning.center.size
    grid = np.linspace(max(centre - 0.2, 0.0), min(centre + 0.2, 1.0), ell.num_ratios)
    eps = prediction.epsilon
    treatment = {"eigen_treatment": options.eigen_treatment, "floor": options.floor}
    if source.eigenpairs is not None and dim <= ell.max_dim:
        eigvals, eigvecs = source.eigenpairs
        return ellipsoid_prediction(formula.positive_eigenvalues(eigvals, **treatment), eigvecs,
                                    pruning.parts(grid), grid, epsilon=eps, key=key,
                                    num_samples=ell.num_samples, progress=progress,
                                    devices=devices)
    if ell.max_dim == 0:
        return None

    def levels_at(p):
        part = pruning.center - pruning.point(p)
        return (source.levels(part, num_levels=ell.num_levels, **treatment)
                if np.any(part != 0) else None)

    return levels_prediction(levels_at, grid, dim=dim, epsilon=eps, key=key,
                             num_samples=ell.num_samples, progress=progress, devices=devices,
                             hessian_model=source.levels_description(ell.num_levels))


def _l1_body(source, pruning: _Pruning, prediction, start_from, options: PredictOptions, *,
             l1, gradient, key, progress, devices) -> MonteCarloPrediction:
    """The Monte Carlo l1-induced body on the exact eigendecomposition or on the source's
    low-rank model, as :meth:`L1BodyOptions.route` says."""
    l1o, eps = options.l1_body_options, prediction.epsilon
    route = l1o.route(options.spectrum_options.method, pruning.center.size)
    dtype = jnp.result_type(float)
    description = EXACT_MODEL
    if route == "exact":
        eigvals, eigvecs = source.eigenpairs
        body = bodies.L1InducedBody.create(
            center=jnp.asarray(pruning.center, dtype), l1=l1, epsilon=eps,
            eigenvalues=jnp.asarray(formula.psd_eigenvalues(
                eigvals, eigen_treatment=options.eigen_treatment), dtype),
            eigenvectors=jnp.asarray(eigvecs, dtype), gradient=jnp.asarray(gradient, dtype))
    else:
        body, description = _low_rank_l1_body(
            source, center=pruning.center, gradient=gradient, l1=l1, epsilon=eps,
            rank=l1o.rank, key=jax.random.fold_in(key, 1),
            treatment={"eigen_treatment": options.eigen_treatment, "floor": options.floor},
            calibration=(prediction.removal_ratio, pruning.distance(prediction.removal_ratio)))
    start = None if l1o.search == "bisection" else start_from.removal_ratio
    result = l1_body_prediction(body, lambda p: jnp.asarray(pruning.point(p), dtype), key=key,
                                num_samples=l1o.num_samples, num_steps=l1o.num_steps,
                                max_iters=l1o.max_iters, start=start, progress=progress,
                                devices=devices)
    return result._replace(hessian_model=description)


def predict(params, loss_fn, data, *, key, l1: float | None = None, prunable=None,
            options: PredictOptions | None = None, progress: bool = False,
            devices: int | None = None) -> Prediction:
    """Predict the largest removal ratio of global magnitude pruning [ZZSL sec. 4].

    eps from mini-batch losses (:func:`formula.loss_noise`) unless ``options.epsilon``; the
    Hessian spectrum of ``loss_fn`` over ``data`` on the prunable coordinates
    (:mod:`phasetrans.theory.spectrum_source`); R(p) = ||w* - M_p ⊙ w*|| on ``num_ratios``
    removal ratios; the width formula's fixed point p = sum_i r_i^2 / (R(p)^2 + r_i^2) / D with
    its interval and sensitivity; the Monte Carlo predictions of the ellipsoid
    (:func:`ellipsoid_prediction` in the eigenbasis, :func:`levels_prediction` on spectral
    levels) and of the l1-induced body (:func:`l1_body_prediction`; exact eigenpairs or the
    low-rank model as :class:`L1BodyOptions` says; g* the loss gradient at w*, lam = ``l1``).

    Args:
        params: trained parameters w* (any pytree); loss_fn: ``loss_fn(params, batch) -> mean
            loss`` (without the l1 term); data: a pytree of arrays with a leading example axis.
        key: PRNG key (keyword-only, required), split 4 ways: eps, SLQ, ellipsoid, l1 body.
        l1: the lam the network was trained with; required when the l1 body is computed.
        prunable: which leaves count (:mod:`phasetrans.networks.prune`); default the weights.
        options: :class:`PredictOptions` (default: its defaults).
        progress: progress bars on stderr; devices: devices sharing the SLQ probes and Monte
            Carlo samples (:mod:`phasetrans.devices`; the numbers do not depend on it).
    """
    key = _checks.prng_key("key", key)
    check_params(params)
    options = _checks.options("options", options, PredictOptions)
    _checks.num_examples("data", data)
    index = np.flatnonzero(prune.prunable_flat_mask(params, prunable))
    route = options.l1_body_options.route(options.spectrum_options.method, index.size)
    if l1 is None and route is not None:
        raise ValueError("l1 is required to build the l1-induced body (the lambda the network "
                         "was trained with); or turn the body off with "
                         "L1BodyOptions(max_dim=0, model_max_dim=0)")
    k_noise, k_spec, k_mc, k_l1 = jax.random.split(key, 4)  # k_noise = noise_key(key)
    source = _spectrum(loss_fn, params, data, index, options.spectrum_options, key=k_spec,
                       devices=devices)
    noise = _noise(loss_fn, params, data, options, key=k_noise)
    grid = np.linspace(0.0, 1.0, options.num_ratios)
    distances = prune.pruned_distances(params, grid, prunable)
    shared = {"removal_ratios": grid, "distances": distances, "epsilon": noise.epsilon.mean,
              "floor": options.floor}
    prediction = formula.formula_prediction(
        source.nodes, source.weights, epsilon_standard_error=noise.epsilon.sem,
        eigen_treatment=options.eigen_treatment, coarse=source.coarse, **shared)
    rows = formula.sensitivity(source.nodes, source.weights, **shared)
    pruning = _Pruning(params, prunable, np.asarray(ravel_pytree(params)[0])[index])
    ellipsoid = _ellipsoid(source, pruning, prediction, options, key=k_mc, progress=progress,
                           devices=devices)
    l1_body = None if route is None else _l1_body(
        source, pruning, prediction, ellipsoid or prediction, options,
        l1=_checks.real("l1", l1, nonnegative=True), key=k_l1, progress=progress,
        devices=devices, gradient=(source.model.gradient if source.model is not None else
                                   spectrum_source.prunable_gradient(loss_fn, params, data,
                                                                     index)))
    return Prediction(prediction, rows, noise, index.size, source.summary(options.floor),
                      ellipsoid, l1_body, source.model)


def l1_induced_body(prediction: Prediction, l1: float) -> bodies.L1InducedBody | None:
    """The l1-induced body of a prediction's exact quadratic model: eigenvalues under the
    prediction's eigenvalue treatment (made PSD), its eps, g*, w* and ``l1``
    [ZZSL sec. 4]; None when the prediction has no exact model (SLQ spectrum)."""
    model = prediction.model
    if model is None:
        return None
    dtype = jnp.result_type(float)
    psd = formula.psd_eigenvalues(model.eigenvalues,
                                  eigen_treatment=prediction.formula.eigen_treatment)
    return bodies.L1InducedBody.create(
        center=jnp.asarray(model.center, dtype), l1=l1, epsilon=prediction.noise.epsilon.mean,
        eigenvalues=jnp.asarray(psd, dtype), eigenvectors=jnp.asarray(model.eigenvectors, dtype),
        gradient=jnp.asarray(model.gradient, dtype))


def seed_key(key, seed: int, num_seeds: int):
    """The key :func:`predict_problem` gives network ``seed`` of ``num_seeds``."""
    return jax.random.fold_in(jax.random.split(key, num_seeds)[seed], 1)


def noise_key(key):
    """The key :func:`predict` draws eps's mini-batches with (the first of ``split(key, 4)``)."""
    return jax.random.split(key, 4)[0]


def predict_problem(problem: Problem, *, key, options: PredictOptions | None = None,
                    progress: bool = False, devices: int | None = None) -> list[Prediction]:
    """:func:`predict` for every network of ``problem`` (its loss, train data, lambda and
    prunable leaves): seed s with key ``fold_in(split(key, S)[s], 1)`` (so a problem trained
    from ``key`` by :func:`phasetrans.networks.train.train_problem` predicts with the keys
    :func:`phasetrans.applications.compare.compare` always used). Returns one :class:`Prediction`
    per seed.
    """
    check_problem(problem)
    key = _checks.prng_key("key", key)
    options = _checks.options("options", options, PredictOptions)
    return [predict(problem.seed(s), problem.model.loss, problem.train,
                    key=seed_key(key, s, problem.num_seeds), l1=problem.l1,
                    prunable=problem.prunable, options=options, progress=progress,
                    devices=devices)
            for s in track(range(problem.num_seeds), desc="predict (per seed)",
                           enabled=progress)]

