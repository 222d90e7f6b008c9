"""Exact and asymptotic Gaussian widths and statistical dimensions, each with its reference.

These are the oracles the Monte Carlo estimators in :mod:`phasetrans.width` are tested against.
Conventions: g ~ N(0, I_D); the Gaussian width is w(T) = E sup_{x in T} <g, x>; the statistical
dimension of a closed convex cone is delta(C) = E ||Pi_C(g)||^2.
"""

from __future__ import annotations

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
