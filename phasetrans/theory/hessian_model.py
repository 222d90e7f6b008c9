"""A matrix-free model of the treated Hessian for large networks: top-r Lanczos pairs + a bulk.

For D beyond a dense eigendecomposition (~5000) the support feasibility of a pruned support
(does the kept-coordinate subspace meet the quadratic model's ellipsoid? [ZZSL sec. 4]) needs
the treated Hessian A = H+ (eigenvalues made positive by an eigenvalue treatment,
:mod:`phasetrans.theory.formula`) through something cheaper than D x D.
The model is

    A_model = V diag(a) V^T + beta (I - V V^T),

V (D, r) the Ritz vectors of the r largest treated Ritz values a of one reorthogonalised
Lanczos run on H (:func:`phasetrans.networks.spectrum.ritz_pairs`; both ends of the spectrum
converge first, so the sharpest directions, negative curvature included under ``"abs"``, are the
kept ones), and beta one bulk value on the orthogonal complement. Every spectral function costs
O(D r): f(A_model) v = V (f(a) - f(beta)) V^T v + f(beta) v (:meth:`HessianModel.apply`).

Why not Lanczos matrix functions (f(H) v from k Lanczos steps started at v, e.g. matfree's
``funm``): they keep H exact, but the treated operator A = |H| (or max(H, floor)) would cost k
HVPs (k ~ 30-80) for every product, and CG on a pruned support takes hundreds of products on a
trained network's ill-conditioned A: tens of thousands of full-data HVPs per support at
D ~ 1e5, against r HVPs once for this model.

What the model ignores: the spread of the D - r bulk eigenvalues (all set to beta), the bulk
eigenvectors' alignment with w* and with the coordinate axes, and the Ritz pairs' residuals
(``HessianModel.residuals``). The bulk value is an explicit choice (``bulk``):

- ``"lower"``: beta = the treatment's floor (the smallest value a treated eigenvalue can take).
  Then A_model <= A in the Loewner order (if the kept pairs are exact eigenpairs), so the
  ellipsoid, the l1-induced body and every cone they generate contain the true ones: the
  statistical dimension, the support minima's feasibility and the predicted threshold are
  upper bounds.
- ``"upper"``: beta = the smallest kept treated value (every bulk eigenvalue is below it once
  the top r have converged): A_model >= A, lower bounds.
- :func:`calibrated_bulk`: the beta for which the model's width formula [ZZSL sec. 4] has
  the same fixed point p* as the measured spectrum (SLQ): D p* = sum_kept 2 eps / (a_i R*^2 +
  2 eps) + (D - r) 2 eps / (beta R*^2 + 2 eps), R* = R(p*) (closed form). The point estimate:
  calibrated on the spectrum at the distance that matters, not on any pruning outcome. (The
  isotropic bulk with the SLQ trace, tried first, put the support threshold of a trained
  mnist1d 32-32 network at 0.075 against 0.20 exactly; calibrated: 0.225.)
- a positive float: that beta.

Loewner monotonicity makes ``"lower"`` and ``"upper"`` a bracket of the exact answer (up to
the Ritz residuals); on a trained mnist1d 32-32 network (D = 2624, r = 64) the support
feasibility threshold is 0.20 exactly, 0.025 (upper) to 0.70 (lower), 0.225 calibrated
(tests/test_hessian_model.py, README "Large networks"). The bracket is wide because trained
networks have hundreds of near-flat directions whose curvature the one bulk value cannot
resolve: use the model where a matrix-vector product is all a solver needs
(:func:`phasetrans.geometry.feasibility.support_minima` with ``matvec=model.operator()``); the Monte
Carlo statistical dimension of the ellipsoid has an exact reduction that keeps the bulk's
spectrum (:mod:`phasetrans.theory.spectral_levels`).

The l1-induced body has no such reduction (its l1 term is not rotation invariant), so its
matrix-free Monte Carlo runs on this model (:func:`l1_body`: the conic ADMM in the coordinates
(V^T x, x - V V^T x), O(D r) per iteration). ``python -m experiments.l1_body_model.run``
measures it against the exact eigendecomposition with the same Gaussian draws (fixed point of
delta(cone(K - x_p)) / D, 5 bisection steps x 16 samples, r = 64 of 128 Ritz pairs) on digits
64-16-10 and mnist1d 40-32-32-10; its numbers are on the results page "The l1 body through the
low-rank model" (docs/findings/l1_body_model.md). The model keeps the sharp directions and the
l1 term exactly but replaces the near-flat bulk, where the l1 term does the bounding, by one
value, and the l1 body's cone is sensitive to that spread: there the bracket held the exact
answer while the calibrated point was too high, on mnist1d by more than the theory's window,
and a larger rank did not help. Use it for its bracket at large D and read its point estimate
as uncertain by the bracket's width.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from phasetrans import _checks
from phasetrans.geometry import bodies
from phasetrans.networks import spectrum
from phasetrans.theory import formula

BULK_RULES = ("lower", "upper")
"""Named choices of the bulk value (module docstring); a positive float is also accepted."""


class HessianModel(NamedTuple):
    """A_model = V diag(a) V^T + beta (I - V V^T), treated (all values > 0 for an ellipsoid).

    Attributes:
        eigenvalues: (r,) treated kept values a, descending.
        eigenvectors: (D, r) their Ritz vectors V (orthonormal columns).
        bulk: beta, the treated value on the orthogonal complement (a 0-d array).
        residuals: (r,) Ritz residuals ||H v - theta v|| of the kept pairs (a diagnostic: the
            model's error in the kept directions).
        bulk_rule: how beta was chosen (``BULK_RULES`` or ``"value"``).
    """

    eigenvalues: jax.Array
    eigenvectors: jax.Array
    bulk: jax.Array
    residuals: jax.Array
    bulk_rule: str = "value"

    @property
    def dim(self) -> int:
        return self.eigenvectors.shape[0]

    @property
    def rank(self) -> int:
        return self.eigenvectors.shape[1]

    def apply(self, f: Callable, v):
        """f(A_model) v = V (f(a) - f(beta)) V^T v + f(beta) v, O(D r) for v (D,)."""
        return _apply(self.eigenvalues, self.eigenvectors, self.bulk, f, v)

    def matvec(self, v):
        """A_model v."""
        return self.apply(lambda x: x, v)

    def operator(self) -> jax.tree_util.Partial:
        """``matvec`` as a pytree (``jax.tree_util.Partial``) for the matrix-free solvers of
        :mod:`phasetrans.geometry.feasibility`: the (D, r) factor enters jit as an argument."""
        return jax.tree_util.Partial(_model_matvec, self.eigenvalues, self.eigenvectors,
                                     self.bulk)

    def quadrature(self) -> tuple[np.ndarray, np.ndarray]:
        """(nodes (1, r + 1), weights (1, r + 1)): the model's spectral measure for
        :func:`phasetrans.theory.formula.statdim_ratio` (the r kept values with weight 1/D each,
        beta with weight (D - r)/D)."""
        dim, rank = self.dim, self.rank
        nodes = np.append(np.asarray(self.eigenvalues, np.float64), float(self.bulk))
        weights = np.append(np.full(rank, 1.0 / dim), (dim - rank) / dim)
        return nodes[None], weights[None]


def _apply(eigenvalues, eigenvectors, bulk, f, v):
    coeffs = (f(eigenvalues) - f(bulk)) * (eigenvectors.T @ v)
    return eigenvectors @ coeffs + f(bulk) * v


def _model_matvec(eigenvalues, eigenvectors, bulk, v):
    return _apply(eigenvalues, eigenvectors, bulk, lambda x: x, v)


def _treat(values, eigen_treatment, floor):
    return np.asarray(formula.positive_eigenvalues(jnp.asarray(values),
                                                   eigen_treatment=eigen_treatment, floor=floor),
                      np.float64)


def from_ritz_pairs(pairs: spectrum.RitzPairs, *, rank: int, eigen_treatment: str = "abs",
                    floor: float = 1e-4, bulk="upper") -> HessianModel:
    """The model from Ritz pairs: keep the ``rank`` largest treated Ritz values.

    Args:
        pairs: :class:`phasetrans.networks.spectrum.RitzPairs` of H (untreated, any sign).
        rank: r, 1 <= r < D and <= the number of pairs (keep r well below it: the last Ritz
            pairs of a run have not converged; their residuals are in ``residuals``).
        eigen_treatment, floor: as :func:`phasetrans.theory.formula.positive_eigenvalues`
            (``"abs"``:
            max(|lambda|, floor), otherwise max(lambda, floor)); floor > 0.
        bulk: ``"lower"``, ``"upper"`` (default) or a float > 0, e.g. from
            :func:`calibrated_bulk` (module docstring).
    """
    if not isinstance(pairs, spectrum.RitzPairs):
        raise TypeError(f"pairs must be spectrum.RitzPairs (from spectrum.ritz_pairs), got "
                        f"{type(pairs).__name__}")
    _checks.finite("pairs", pairs)
    dim, count = pairs.vectors.shape
    rank = _checks.integer("rank", rank, minimum=1, maximum=min(count, dim - 1))
    floor = _checks.real("floor", floor, positive=True)
    treated = _treat(pairs.values, eigen_treatment, floor)
    order = np.argsort(-treated, kind="stable")[:rank]
    kept = treated[order]
    if isinstance(bulk, str):
        rule = _checks.one_of("bulk", bulk, BULK_RULES)
        beta = floor if bulk == "lower" else float(kept[-1])
    else:
        rule, beta = "value", _checks.real("bulk", bulk, positive=True)
    dtype = pairs.vectors.dtype
    return HessianModel(jnp.asarray(kept, dtype), pairs.vectors[:, order],
                        jnp.asarray(beta, dtype), pairs.residuals[order], rule)


def from_matvec(matvec: Callable, *, dim: int, key, rank: int, num_iters: int | None = None,
                eigen_treatment: str = "abs", floor: float = 1e-4,
                bulk="upper") -> HessianModel:
    """:func:`from_ritz_pairs` of ``num_iters`` (default 2 r) Lanczos steps on ``matvec``."""
    rank = _checks.positive_int("rank", rank)
    num_iters = 2 * rank if num_iters is None else num_iters
    pairs = spectrum.ritz_pairs(matvec, dim=dim, key=key, num_iters=min(num_iters, dim))
    return from_ritz_pairs(pairs, rank=rank, eigen_treatment=eigen_treatment, floor=floor,
                           bulk=bulk)


def exact(eigenvalues, eigenvectors, *, rank: int, eigen_treatment: str = "abs",
          floor: float = 1e-4, bulk="upper") -> HessianModel:
    """The model built from an exact eigendecomposition (for measuring what the model loses):
    the ``rank`` largest treated eigenpairs."""
    eigenvalues = _checks.array("eigenvalues", eigenvalues, ndim=1)
    dim = eigenvalues.shape[0]
    vectors = _checks.array("eigenvectors", eigenvectors, shape=(dim, dim))
    pairs = spectrum.RitzPairs(eigenvalues, vectors, jnp.zeros_like(eigenvalues))
    return from_ritz_pairs(pairs, rank=rank, eigen_treatment=eigen_treatment, floor=floor,
                           bulk=bulk)


def calibrated_bulk(kept, *, dim: int, removal_ratio: float, distance: float, epsilon: float,
                    floor: float) -> float:
    """beta with the measured formula fixed point (module docstring), clipped to
    [floor, min(kept)].

    Args:
        kept: (r,) treated kept values a (e.g. ``model.eigenvalues``).
        dim: D. removal_ratio: p*, the width formula's fixed point on the measured spectrum.
        distance: R* = R(p*). epsilon: eps > 0. floor: the treatment's floor > 0.
    """
    a = np.asarray(_checks.array("kept", kept, ndim=1), np.float64)
    dim = _checks.integer("dim", dim, minimum=a.size + 1)
    p = _checks.removal_ratio("removal_ratio", removal_ratio)
    distance = _checks.real("distance", distance, nonnegative=True)
    epsilon = _checks.real("epsilon", epsilon, positive=True)
    floor = _checks.real("floor", floor, positive=True)
    bulk_width = dim * p - np.sum(2 * epsilon / (a * distance**2 + 2 * epsilon))
    if bulk_width >= dim - a.size or distance == 0:
        return floor
    if bulk_width <= 0:
        return float(a.min())
    beta = 2 * epsilon * ((dim - a.size) / bulk_width - 1.0) / distance**2
    return float(np.clip(beta, floor, a.min()))


def l1_body(model: HessianModel, *, center, l1: float, epsilon: float,
            gradient=None) -> bodies.L1InducedBody:
    """The l1-induced body [ZZSL sec. 4] with H = A_model: every oracle (the conic ADMM of its
    Monte Carlo statistical dimension, support minima) then costs O(D r) per step
    (:mod:`phasetrans.geometry.conic_admm`), so it runs where H's eigendecomposition cannot.

    Args:
        model: the :class:`HessianModel` (treated values; bulk beta on the complement).
        center: w* (D,). l1: lam >= 0. epsilon: eps > 0. gradient: g* (D,), default 0.
    """
    if not isinstance(model, HessianModel):
        raise TypeError(f"model must be a HessianModel, got {type(model).__name__}")
    return bodies.L1InducedBody.create(center=center, l1=l1, epsilon=epsilon,
                                       eigenvalues=model.eigenvalues,
                                       eigenvectors=model.eigenvectors,
                                       bulk=float(model.bulk), gradient=gradient)
