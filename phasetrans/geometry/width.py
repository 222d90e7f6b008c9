"""Monte Carlo Gaussian widths and statistical dimensions with standard errors.

With g ~ N(0, I_D) [ALMT sec. 2, 10]:
- ``gaussian_width``: w(K) = E h_K(g) (h_K the support function);
- ``squared_gaussian_width``: w(K)^2 = (E h_K(g))^2, SEM by the delta method 2 |w| SEM(w);
- ``expected_squared_support``: E h_K(g)^2 (>= w(K)^2; not the same number);
- ``statistical_dimension``: delta(C) = E ||Pi_C(g)||^2 of a closed convex cone, with the worst
  :class:`~phasetrans.estimate.SolverInfo` of its projections;
- ``cone_statdim``: delta(cone(K - x0)) of a body seen from a point (D exactly when x0 is in K).

Every estimator draws its samples through :func:`phasetrans.sampling.gaussian_map` (memory-sized
jitted chunks, per-sample keys, progress bar on stderr). Each takes ``devices``: how many devices
share the samples (default None: one device); the estimate is the same bit for bit on any number
(see :func:`~phasetrans.sampling.gaussian_map`).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from phasetrans import _checks, sampling
from phasetrans.estimate import Estimate, SolverInfo, SolverOptions, from_samples


class StatisticalDimension(NamedTuple):
    """delta(C) = E ||Pi_C(g)||^2 with its SEM (``estimate``) and the worst projection
    diagnostics over all samples (``info``: most iterations, largest residual, all converged)."""

    estimate: Estimate
    info: SolverInfo


def _dtype(body):
    floats = [leaf.dtype for leaf in jax.tree_util.tree_leaves(body)
              if hasattr(leaf, "dtype") and jnp.issubdtype(leaf.dtype, jnp.floating)]
    return floats[0] if floats else jnp.result_type(float)


def _gaussian_map(fn, body, *, key, num_samples, chunk_size, progress, desc, devices):
    _checks.finite("body", body)
    return sampling.gaussian_map(fn, body, key=key, num_samples=num_samples, dim=int(body.dim),
                                 dtype=_dtype(body), chunk_size=chunk_size, progress=progress,
                                 desc=desc, devices=devices)


def _support(body, g):
    return body.support(g)


def _squared_support(body, g):
    return body.support(g) ** 2


def _squared_projection(cone, g):
    if hasattr(cone, "projection"):
        point, info = cone.projection(g)[:2]
    else:  # a closed-form projection
        point, info = cone.project(g), SolverInfo.exact(g.dtype)
    return jnp.sum(point**2), info


def gaussian_width(body, *, key, num_samples: int, chunk_size: int | None = None,
                   progress: bool = False, devices: int | None = None) -> Estimate:
    """Estimate of w(K) = E sup_{x in K} <g, x> (needs ``body.support``)."""
    return from_samples(_gaussian_map(_support, body, key=key, num_samples=num_samples,
                                      chunk_size=chunk_size, progress=progress,
                                      desc="Gaussian width", devices=devices))


def squared_gaussian_width(body, *, key, num_samples: int, chunk_size: int | None = None,
                           progress: bool = False, devices: int | None = None) -> Estimate:
    """Estimate of w(K)^2 = (E h_K(g))^2 with the delta-method SEM 2 |w| SEM(w)."""
    w = gaussian_width(body, key=key, num_samples=num_samples, chunk_size=chunk_size,
                       progress=progress, devices=devices)
    return Estimate(w.mean**2, 2.0 * abs(w.mean) * w.sem, w.num_samples)


def expected_squared_support(body, *, key, num_samples: int, chunk_size: int | None = None,
                             progress: bool = False, devices: int | None = None) -> Estimate:
    """Estimate of E h_K(g)^2 (for a cone C, with K = C ∩ ball, this is delta(C))."""
    return from_samples(_gaussian_map(_squared_support, body, key=key, num_samples=num_samples,
                                      chunk_size=chunk_size, progress=progress,
                                      desc="E h^2", devices=devices))


def statistical_dimension(cone, *, key, num_samples: int, chunk_size: int | None = None,
                          progress: bool = False,
                          devices: int | None = None) -> StatisticalDimension:
    """Estimate of delta(C) = E ||Pi_C(g)||^2 for a cone (``is_cone``; needs ``project``).

    Cones with an iterative projection (``projection(g) -> (point, SolverInfo, ...)``) report
    the worst SolverInfo over the samples; closed-form ones report an exact info. A cone may set
    ``samples_per_chunk``, the default ``chunk_size``
    (:class:`~phasetrans.geometry.bodies.L1InducedCone`
    does). For a body K (not a cone) use :func:`cone_statdim` or
    :class:`~phasetrans.geometry.bodies.GeneratedCone`.
    """
    if not getattr(cone, "is_cone", False):
        raise ValueError(f"statistical_dimension needs a cone, got a {type(cone).__name__}; for "
                         "a body K use cone_statdim(K, apex) or bodies.GeneratedCone.create(K)")
    if chunk_size is None:
        chunk_size = getattr(cone, "samples_per_chunk", None)
    squared, infos = _gaussian_map(_squared_projection, cone, key=key, num_samples=num_samples,
                                   chunk_size=chunk_size, progress=progress,
                                   desc="statistical dimension", devices=devices)
    return StatisticalDimension(from_samples(squared), SolverInfo.worst(infos))


def cone_statdim(body, apex, *, key, num_samples: int, chunk_size: int | None = None,
                 progress: bool = False, devices: int | None = None,
                 solver: SolverOptions | None = None, **cone_options) -> StatisticalDimension:
    """delta(cone(K - x0)) for a body with ``contains`` and ``cone_at`` (the ellipsoid, the
    l1-induced body): D exactly (SEM 0) when x0 lies in K, else :func:`statistical_dimension`
    of ``body.cone_at(apex, solver=solver, **cone_options)``: ``solver`` the projection's
    :class:`~phasetrans.estimate.SolverOptions` for a body with an iterative projection (the
    l1-induced body; None: its default, :data:`phasetrans.geometry.bodies.L1_CONE_SOLVER`),
    ``cone_options`` the body's other ones (the ellipsoid's ``tol``).

    This is the quantity the kinematic formula needs for the pruned point x0 = M_p ⊙ w* [ALMT
    Thm I; ZZSL sec. 4].
    """
    key = _checks.prng_key("key", key)
    num_samples = _checks.integer("num_samples", num_samples, minimum=2)
    apex = _checks.array("apex", apex, shape=(body.dim,))
    if body.contains(apex):
        return StatisticalDimension(Estimate(float(body.dim), 0.0, num_samples),
                                    SolverInfo(0, 0.0, True))
    if solver is not None:
        cone_options = {"solver": solver, **cone_options}
    return statistical_dimension(body.cone_at(apex, **cone_options), key=key,
                                 num_samples=num_samples, chunk_size=chunk_size,
                                 progress=progress, devices=devices)
