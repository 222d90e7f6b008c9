"""Exact and asymptotic Gaussian widths and statistical dimensions, each with its reference.

These are the oracles the Monte Carlo estimators in :mod:`phasetrans.geometry.width` are tested
against.
Conventions: g ~ N(0, I_D); the Gaussian width is w(T) = E sup_{x in T} <g, x>; the statistical
dimension of a closed convex cone is delta(C) = E ||Pi_C(g)||^2.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import optimize, special

from phasetrans import _checks


def _l1_descent_objective(tau: float, sparsity: int, dim: int) -> float:
    """J(tau) = s (1 + tau^2) + (d - s) sqrt(2/pi) int_tau^inf (u - tau)^2 exp(-u^2/2) du.

    The integral has the closed form (1 + tau^2) sqrt(pi/2) erfc(tau/sqrt 2) - tau exp(-tau^2/2).
    """
    tail = (1.0 + tau**2) * np.sqrt(np.pi / 2) * special.erfc(tau / np.sqrt(2)) - tau * np.exp(
        -(tau**2) / 2
    )
    return sparsity * (1.0 + tau**2) + (dim - sparsity) * np.sqrt(2 / np.pi) * tail


def l1_descent_cone_statdim(*, sparsity: int, dim: int) -> float:
    """Upper bound psi(s, d) on the statistical dimension of the l1 descent cone at an s-sparse x.

    psi = inf_{tau >= 0} J(tau) with J as in ``_l1_descent_objective``
    [Amelunxen, Lotz, McCoy, Tropp, "Living on the edge", 2014, Prop. 4.5]. It is also the
    location of the Donoho-Tanner weak phase transition of basis pursuit: m ~ psi measurements.
    The true value satisfies psi - 2 sqrt(d/s) <= delta <= psi [ALMT Thm 4.3]; see
    :func:`l1_descent_cone_statdim_lower_bound`.

    Args:
        sparsity: s, the number of nonzeros, 0 <= s <= dim (s = 0 gives 0, s = d gives d).
        dim: d, the ambient dimension, >= 1.
    """
    dim = _checks.positive_int("dim", dim)
    sparsity = _checks.integer("sparsity", sparsity, minimum=0, maximum=dim)
    if sparsity in (0, dim):
        return float(sparsity)
    result = optimize.minimize_scalar(
        _l1_descent_objective, bounds=(0.0, 40.0), args=(sparsity, dim), method="bounded",
        options={"xatol": 1e-12},
    )
    return float(result.fun)


def l1_descent_cone_statdim_lower_bound(*, sparsity: int, dim: int) -> float:
    """Proven lower bound psi(s, d) - 2 sqrt(d / s) on the l1 descent cone's statistical dimension.

    [ALMT 2014, Thm 4.3: psi(rho) - 2 / sqrt(rho d) <= delta / d with rho = s / d.]
    """
    psi = l1_descent_cone_statdim(sparsity=sparsity, dim=dim)
    if sparsity == 0:
        return 0.0
    return psi - 2.0 * np.sqrt(dim / sparsity)


def l2_ball_width(*, dim: int, radius: float = 1.0) -> float:
    """w(r B_2^D) = r E||g|| = r sqrt(2) Gamma((D+1)/2) / Gamma(D/2) (chi distribution mean)."""
    dim = _checks.positive_int("dim", dim)
    radius = _checks.real("radius", radius, positive=True)
    return float(radius * np.sqrt(2.0) * np.exp(special.gammaln((dim + 1) / 2)
                                                 - special.gammaln(dim / 2)))


def l1_ball_width(*, dim: int, radius: float = 1.0) -> float:
    """w(r B_1^D) = r E||g||_inf = r int_0^inf (1 - (2 Phi(t) - 1)^D) dt (1-D quadrature);
    ~ r sqrt(2 log D) [Vershynin, High-Dimensional Probability, sec. 7.5]."""
    from scipy import integrate

    dim = _checks.positive_int("dim", dim)
    radius = _checks.real("radius", radius, positive=True)
    value, _ = integrate.quad(lambda t: 1.0 - special.erf(t / np.sqrt(2)) ** dim, 0, np.inf,
                              limit=200)
    return float(radius * value)


def linf_ball_width(*, dim: int, radius: float = 1.0) -> float:
    """w(r B_inf^D) = r E||g||_1 = r D sqrt(2 / pi)."""
    dim = _checks.positive_int("dim", dim)
    return float(_checks.real("radius", radius, positive=True) * dim * np.sqrt(2 / np.pi))


def ellipsoid_expected_squared_support(semi_axes) -> float:
    """E h_E(g)^2 = sum_i a_i^2 for the centred ellipsoid with semi-axes a."""
    a = np.asarray(semi_axes, np.float64)
    if a.ndim != 1 or not np.all(np.isfinite(a)) or np.any(a <= 0):
        raise ValueError("semi_axes must be a 1-D array of finite positive numbers")
    return float(np.sum(a**2))


def subspace_statdim(*, rank: int) -> float:
    """delta(L) = dim L for a linear subspace [ALMT Prop 3.1]."""
    return float(_checks.integer("rank", rank, minimum=0))


def orthant_statdim(*, dim: int) -> float:
    """delta(R^D_+) = D / 2 [ALMT sec. 3]."""
    return _checks.positive_int("dim", dim) / 2.0


def circular_cone_statdim(*, dim: int, angle: float) -> float:
    """delta(Circ_D(alpha)) ~ D sin^2(alpha) + cos(2 alpha) [ALMT sec. 3.4: the error is o(1) as
    D grows]; an approximation, accurate to ~0.1 for D >= 40 (tested against Monte Carlo)."""
    dim = _checks.positive_int("dim", dim)
    angle = _checks.real("angle", angle, positive=True, high=np.pi / 2)
    return float(dim * np.sin(angle) ** 2 + np.cos(2 * angle))


def ball_cone_statdim(*, dim: int, radius: float, distance: float) -> float:
    """delta(cone(B(R e_1, r))): circular cone with sin(alpha) = r / R; D if r >= R."""
    dim = _checks.positive_int("dim", dim)
    radius = _checks.real("radius", radius, positive=True)
    distance = _checks.real("distance", distance, positive=True)
    if radius >= distance:
        return float(dim)
    return circular_cone_statdim(dim=dim, angle=float(np.arcsin(radius / distance)))


def ellipsoid_statdim_formula(semi_axes_squared, *, distance: float) -> float:
    """The pruning paper's approximation sum_i r_i^2 / (R^2 + r_i^2) of delta(cone(ellipsoid at
    distance R)) [Zhang, Zhang, Sun, Liu, NeurIPS 2024, sec. 4]. Returns the sum (divide by D for
    a removal ratio). For a ball (all r_i = r) it gives D r^2 / (R^2 + r^2), below the exact
    D r^2 / R^2 of the circular cone: the two agree only for r << R."""
    r2 = np.asarray(semi_axes_squared, np.float64)
    if r2.ndim != 1 or not np.all(np.isfinite(r2)) or np.any(r2 < 0):
        raise ValueError("semi_axes_squared must be a 1-D array of finite numbers >= 0")
    distance = _checks.real("distance", distance, nonnegative=True)
    return float(np.sum(r2 / (distance**2 + r2))) if distance > 0 else float(r2.size)


class TheoryWindow(NamedTuple):
    """The approximate kinematic formula's own transition width, in removal ratio.

    [ALMT Thm I]: a random k-dim subspace misses a cone C with probability >= 1 - eta when
    k + delta(C) <= D - a_eta sqrt(D) and hits it with probability >= 1 - eta when
    k + delta(C) >= D + a_eta sqrt(D), with a_eta = sqrt(8 log(4 / eta)). So a threshold
    measured within ``half_width`` = a_eta sqrt(D) / D of the prediction is consistent with the
    theory at level eta, whatever the estimator's own interval says.
    """

    eta: float
    a_eta: float
    half_width: float


def theory_window(num_params: int, *, eta: float = 0.05) -> TheoryWindow:
    """:class:`TheoryWindow` for D = ``num_params`` (eta in (0, 1), default 0.05: a = 5.92)."""
    num_params = _checks.positive_int("num_params", num_params)
    eta = _checks.real("eta", eta, positive=True, high=1.0)
    if eta >= 1.0:
        raise ValueError(f"eta must be < 1, got {eta}")
    a_eta = float(np.sqrt(8.0 * np.log(4.0 / eta)))
    return TheoryWindow(eta, a_eta, float(a_eta / np.sqrt(num_params)))
