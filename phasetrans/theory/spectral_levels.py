"""The quadratic model's ellipsoid statistical dimension from two spectral measures (any D).

The Monte Carlo prediction of [ZZSL sec. 4] needs delta(cone(E)) for the ellipsoid
E = {x : 1/2 (x - c)^T A (x - c) <= eps} seen from the pruned point (c = w* - M_p ⊙ w*, the
pruned-away part; A = H+ the treated Hessian). In H's eigenbasis (:mod:`phasetrans.theory.predict`)
that costs a D x D eigendecomposition. This module needs neither eigenvectors nor D x D:

**Exact reduction.** If A has m distinct eigenvalues v_j with eigenspaces of dimension n_j
(projectors P_j), E is invariant under every rotation inside an eigenspace that fixes P_j c. A
Gaussian g ~ N(0, I_D) then enters only through, per level j, its component along P_j c
(z_j ~ N(0, 1)) and the norm of the rest of P_j g (chi with n_j - 1 degrees of freedom), and
the projection onto cone(E) lives in that 2m-dimensional span. So delta(cone(E)) equals the
expected squared projection, onto the cone of the axis-aligned ellipsoid in R^(2m) with
semi-axes sqrt(2 eps / v_j) (twice per level) and center (sqrt(e_j), 0) per level
(e_j = ||P_j c||^2), of g' = (z_j, chi_j)_j. Exact for any eigenvectors.

**One approximation: levels.** A trained network's A has D distinct eigenvalues; they are
binned into m levels (quantiles of log A's spectral measure). With ``rounding="geometric"``
each level takes the weighted geometric mean of its eigenvalues (the estimate); ``"lower"``
(``"upper"``) takes its smallest (largest) one, which gives A_lo <= A <= A_hi in the Loewner
order, hence E_lo ⊇ E ⊇ E_hi and delta_lo >= delta >= delta_hi: the binning error is bracketed.

**Matrix-free inputs.** The counts n_j = D mu_H(bin j) come from the SLQ quadrature of H
(:func:`phasetrans.networks.spectrum.slq`; its probes' spread gives their error), the energies
e_j = ||c||^2 mu_c(bin j) from one Lanczos run started at c
(:func:`phasetrans.networks.spectrum.vector_quadrature`): both are Gauss quadratures of the same
operator, so the quadrature error of a sharp bin indicator (see
:func:`phasetrans.networks.spectrum.count_bounds`) enters both; measured against the exact answer on
a trained network in tests/test_spectral_levels.py and the README ("Large networks").

What the model keeps, compared with the paper's width formula (which sees only the spectral
measure and ||c|| = R): how c's energy is spread over the spectrum (e_j), i.e. whether the
pruned-away part lies in sharp or in flat directions. What it ignores: the spread of the
eigenvalues inside a level.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from phasetrans import _checks, sampling
from phasetrans.estimate import Estimate, SolverInfo, from_samples
from phasetrans.geometry import bodies
from phasetrans.geometry.width import StatisticalDimension
from phasetrans.networks import spectrum
from phasetrans.theory import formula

ROUNDINGS = ("geometric", "lower", "upper")
"""Which value a level takes: weighted geometric mean of its eigenvalues, smallest, largest."""


class Levels(NamedTuple):
    """A spectral model of (A, c): per level j the treated eigenvalue ``values[j]`` > 0, the
    eigenspace dimension ``counts[j]`` (integers >= 1, summing to D) and c's energy
    ``energies[j]`` = ||P_j c||^2 >= 0 (summing to ||c||^2). Arrays (m,), float64/int64."""

    values: np.ndarray
    counts: np.ndarray
    energies: np.ndarray

    @property
    def dim(self) -> int:
        return int(self.counts.sum())

    def quadratic_form(self) -> float:
        """1/2 c^T A c = 1/2 sum_j v_j e_j (c lies in E's translate at the origin iff <= eps)."""
        return 0.5 * float(self.values @ self.energies)


def _integer_counts(weights, dim: int, occupied) -> np.ndarray:
    """Counts proportional to ``weights`` summing to ``dim``, >= 1 on occupied levels (largest
    remainder rounding; the excess of the minimum 1 is taken from the largest level)."""
    raw = weights / weights.sum() * dim
    counts = np.floor(raw).astype(np.int64)
    order = np.argsort(-(raw - counts), kind="stable")
    counts[order[: dim - counts.sum()]] += 1
    counts = np.where(occupied, np.maximum(counts, 1), 0)
    counts[np.argmax(counts)] -= counts.sum() - dim
    return counts


def _levels(nodes, weights, center_nodes, center_weights, center_norm2, *, dim, num_levels,
            eigen_treatment, floor, rounding) -> Levels:
    """Bin two discrete measures (A's: nodes/weights, c's: center_nodes/center_weights) on
    the same levels; nodes are untreated eigenvalues (or Ritz values)."""
    num_levels = _checks.integer("num_levels", num_levels, minimum=1)
    _checks.one_of("rounding", rounding, ROUNDINGS)
    floor = _checks.real("floor", floor, positive=True)

    def treated(x):
        return np.log(np.asarray(formula.positive_eigenvalues(
            jnp.asarray(np.asarray(x, np.float64)), eigen_treatment=eigen_treatment,
            floor=floor), np.float64))

    logs, w = treated(nodes).ravel(), np.asarray(weights, np.float64).ravel()
    clogs, cw = treated(center_nodes).ravel(), np.asarray(center_weights, np.float64).ravel()
    order = np.argsort(logs, kind="stable")
    cumulative = np.cumsum(w[order]) / w.sum()
    # level j holds cuts[j-1] < log value <= cuts[j], the cuts being quantiles of A's measure
    # (an atom heavier than 1/m gets a level of its own; empty levels are dropped)
    cuts = np.unique(logs[order][np.searchsorted(cumulative, np.arange(1, num_levels)
                                                 / num_levels)])
    level = np.searchsorted(cuts, logs, side="left")
    center_level = np.searchsorted(cuts, clogs, side="left")
    occupied = np.bincount(level, weights=w, minlength=cuts.size + 1) > 0
    index = np.cumsum(occupied) - 1  # drop empty levels
    level, center_level = index[level], index[center_level]
    m = int(occupied.sum())
    mass = np.bincount(level, weights=w, minlength=m)
    if rounding == "geometric":
        values = np.exp(np.bincount(level, weights=w * logs, minlength=m) / mass)
    else:
        pick = np.minimum if rounding == "lower" else np.maximum
        start = np.inf if rounding == "lower" else -np.inf
        extreme = np.full(m, start)
        pick.at(extreme, level, logs)
        values = np.exp(extreme)
    energies = center_norm2 * np.bincount(center_level, weights=cw, minlength=m) / cw.sum()
    return Levels(values, _integer_counts(mass, dim, mass > 0), energies)


def exact_levels(eigenvalues, eigenvectors, center, *, num_levels: int = 32,
                 eigen_treatment: str = "abs", floor: float = 1e-4,
                 rounding: str = "geometric") -> Levels:
    """:class:`Levels` from an exact eigendecomposition (H = U diag(eigenvalues) U^T, U (D, D))
    and c (D,): weights 1/D and (U^T c)_i^2 / ||c||^2 (the test oracle of the matrix-free
    path; only the binning is approximate)."""
    lam = np.asarray(_checks.array("eigenvalues", eigenvalues, ndim=1), np.float64)
    dim = lam.size
    vecs = np.asarray(_checks.array("eigenvectors", eigenvectors, shape=(dim, dim)), np.float64)
    c = np.asarray(_checks.array("center", center, shape=(dim,)), np.float64)
    coords = vecs.T @ c
    norm2 = float(c @ c)
    return _levels(lam, np.full(dim, 1.0 / dim), lam, coords**2 / max(norm2, 1e-300), norm2,
                   dim=dim, num_levels=num_levels, eigen_treatment=eigen_treatment,
                   floor=floor, rounding=rounding)


def quadrature_levels(sq: spectrum.SpectralQuadrature, matvec: Callable, center, *,
                      num_iters: int, num_levels: int = 32, eigen_treatment: str = "abs",
                      floor: float = 1e-4, rounding: str = "geometric") -> Levels:
    """:class:`Levels` from HVPs only: counts from the SLQ quadrature ``sq`` (all probes'
    nodes pooled, weights averaged), energies from ``num_iters`` Lanczos steps of ``matvec``
    started at ``center`` (:func:`phasetrans.networks.spectrum.vector_quadrature`). Cost: num_iters
    matvecs; memory num_iters x D.

    Args:
        sq: SLQ of the same H (untreated).
        matvec: v -> H v (D,) -> (D,). center: c (D,), finite and nonzero.
        num_iters, num_levels, eigen_treatment, floor, rounding: as in the module docstring.
    """
    if not isinstance(sq, spectrum.SpectralQuadrature):
        raise TypeError(f"sq must be a spectrum.SpectralQuadrature, got {type(sq).__name__}")
    center = _checks.array("center", center, shape=(sq.dim,))
    nodes, weights = spectrum.vector_quadrature(matvec, center, num_iters=num_iters)
    norm2 = float(np.sum(np.asarray(center, np.float64) ** 2))
    return _levels(np.asarray(sq.nodes), np.asarray(sq.weights) / sq.nodes.shape[0],
                   np.asarray(nodes), np.asarray(weights), norm2, dim=sq.dim,
                   num_levels=num_levels, eigen_treatment=eigen_treatment, floor=floor,
                   rounding=rounding)


class _Reduced(NamedTuple):  # what each Monte Carlo sample needs
    cone: bodies.GeneratedCone  # cone of the 2m-dimensional ellipsoid
    segment: jax.Array          # (D,) level of each coordinate of the drawn Gaussian
    first: jax.Array            # (m,) first coordinate of each level's segment


def _reduced_squared_projection(reduced: _Reduced, g):
    m = reduced.first.shape[0]
    z = g[reduced.first]
    chi = jnp.sqrt(jnp.maximum(jax.ops.segment_sum(g**2, reduced.segment, num_segments=m)
                               - z**2, 0.0))
    point, info = reduced.cone.projection(jnp.stack([z, chi], axis=1).ravel())[:2]
    return jnp.sum(point**2), info


def statdim(levels: Levels, *, epsilon: float, key, num_samples: int,
            chunk_size: int | None = None, progress: bool = False,
            devices: int | None = None) -> StatisticalDimension:
    """delta(cone(E)) of the levels' ellipsoid seen from the origin (module docstring), D
    exactly (SEM 0) when the origin lies in E.

    Each sample draws g ~ N(0, I_D) through :func:`phasetrans.sampling.gaussian_map` (so
    ``devices`` and the per-sample keys behave as for every width estimator), cuts it into
    one segment of n_j coordinates per level (z_j its first coordinate, chi_j the norm of the
    rest: exactly the law of the reduced coordinates) and projects (z_j, chi_j)_j onto the
    2m-dimensional cone (:class:`phasetrans.geometry.bodies.GeneratedCone`).

    Args:
        levels: a :class:`Levels`. epsilon: eps > 0. key: PRNG key (keyword-only, required).
        num_samples: >= 2; chunk_size, progress, devices: as for
            :func:`phasetrans.geometry.width.statistical_dimension`.
    """
    if not isinstance(levels, Levels):
        raise TypeError(f"levels must be spectral_levels.Levels, got {type(levels).__name__}")
    key = _checks.prng_key("key", key)
    epsilon = _checks.real("epsilon", epsilon, positive=True)
    num_samples = _checks.integer("num_samples", num_samples, minimum=2)
    values, counts, energies = (np.asarray(x) for x in levels)
    if not (np.all(values > 0) and np.all(np.isfinite(values)) and np.all(counts >= 1)
            and np.all(energies >= 0)):
        raise ValueError("levels need values > 0 (finite), counts >= 1 and energies >= 0")
    dim = levels.dim
    if levels.quadratic_form() <= epsilon:
        return StatisticalDimension(Estimate(float(dim), 0.0, num_samples),
                                    SolverInfo(0, 0.0, True))
    dtype = jnp.result_type(float)
    semi_axes = np.repeat(np.sqrt(2.0 * epsilon / values), 2)
    center = np.stack([np.sqrt(energies), np.zeros_like(energies)], axis=1).ravel()
    cone = bodies.GeneratedCone.create(bodies.Ellipsoid(jnp.asarray(semi_axes, dtype),
                                                        jnp.asarray(center, dtype)))
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    reduced = _Reduced(cone, jnp.asarray(np.repeat(np.arange(counts.size), counts)),
                       jnp.asarray(first))
    squared, infos = sampling.gaussian_map(
        _reduced_squared_projection, reduced, key=key, num_samples=num_samples, dim=dim,
        dtype=dtype, chunk_size=chunk_size, progress=progress, desc="spectral-levels cone",
        devices=devices)
    return StatisticalDimension(from_samples(squared), SolverInfo.worst(infos))
