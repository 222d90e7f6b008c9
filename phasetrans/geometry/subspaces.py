"""The random-subspace transition: how often does x0 + L0 meet a convex body K?

For a convex body K, an apex x0 outside K and a uniformly random (Haar) k-dimensional subspace
L0 of R^D, x0 + L0 meets K iff L0 meets cone(K - x0) outside 0, so by the approximate kinematic
formula [Amelunxen, Lotz, McCoy, Tropp, "Living on the edge", 2014 (ALMT), Thm I] the fraction
of subspaces that meet K jumps from 0 to 1 within

    k + delta(cone(K - x0)) = D -/+ a_eta sqrt(D),   a_eta = sqrt(8 log(4 / eta)),

with probability >= 1 - eta on either side. Measuring that fraction on a grid of k tests a
Monte Carlo or formula value of delta(cone(K - x0)) and the theorem itself on the body of the
pruning theory [Zhang, Zhang, Sun, Liu, NeurIPS 2024 (ZZSL), sec. 4]: there x0 = M_p ⊙ w* is
the pruned point, k = (1 - p) D the kept dimension and p the removal ratio.

- :func:`meets`: min over z in R^k of the body's defining function at x0 + Q z (Q a (D, k)
  orthonormal basis); x0 + span(Q) meets K iff that minimum is <= :func:`level` (1 for an
  ellipsoid, eps for the l1-induced body). Ellipsoid: exact least squares. l1-induced body:
  ADMM on the split u = x0 + Q z, certified by a duality gap or the primal/dual residual.
- :func:`transition`: the meeting fraction on a grid of k with binomial standard errors, its 50%
  point k50, delta_hat = D - k50 and the removal ratio 1 - k50 / D, beside the theorem's window.
- :func:`random_basis`: the Haar-distributed basis :func:`transition` uses for subspace i.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from phasetrans import _checks, _loops, crossings
from phasetrans._progress import track
from phasetrans.estimate import Estimate, SolverInfo, SolverOptions, from_samples
from phasetrans.geometry import bodies, closed_forms

CHUNK_ELEMENTS = 2**21
"""Default chunk: subspaces per jitted call so that chunk x D x k_max is about this many."""

ADMM_SUBSPACES_PER_CHUNK = 32
"""Cap on the default chunk for the l1-induced body: a vmapped ADMM runs until its slowest
subspace stops, so chunks stay small."""

SOLVER = SolverOptions(tol=None, max_iters=20000, check_every=10)
"""The ADMM of :func:`meets` for the l1-induced body (also :func:`transition(s) <transition>`):
tol None = 1e-4 in float32, 1e-7 in float64; 20000 iterations; a residual check every 10."""


# ---------------------------------------------------------------------------------------------
# Random subspaces


def _haar_basis(key, dim: int, rank: int, dtype):
    """Orthonormal (dim, rank) basis of a Haar-random subspace: Q of the QR of a Gaussian matrix
    whose column j is drawn with ``fold_in(key, j)``, times sign(diag R) [Mezzadri, "How to
    generate random matrices from the classical compact groups", 2007]. Column j does not depend
    on ``rank``, so the first k columns for rank >= k are the basis of rank k (nested)."""
    q, r = jnp.linalg.qr(_gaussian_columns(key, dim, rank, dtype))
    return q * jnp.where(jnp.diagonal(r) < 0, -1.0, 1.0).astype(dtype)


def _gaussian_columns(key, dim: int, rank: int, dtype):
    """(dim, rank) standard Gaussian matrix, column j drawn with ``fold_in(key, j)``; its first k
    columns span the same subspace as the first k columns of :func:`_haar_basis`."""
    keys = jax.vmap(jax.random.fold_in, in_axes=(None, 0))(key, jnp.arange(rank))
    return jax.vmap(lambda k: jax.random.normal(k, (dim,), dtype), out_axes=1)(keys)


def random_basis(*, key, dim: int, rank: int, dtype=None) -> jax.Array:
    """A (dim, rank) orthonormal basis of a uniformly random rank-dimensional subspace of R^dim.

    Haar measure via the sign-corrected QR of a Gaussian (dim, rank) matrix [Mezzadri 2007];
    column j of the Gaussian uses ``fold_in(key, j)``, so the bases for ranks k < k' from the same
    key are nested (the first k columns agree). :func:`transition` uses
    ``random_basis(key=fold_in(key, i), dim=D, rank=k)`` for subspace i at dimension k.

    Args:
        key: PRNG key (keyword-only, required).
        dim: D >= 1.
        rank: k, 0 <= k <= D.
        dtype: floating dtype (default JAX's default float).
    """
    key = _checks.prng_key("key", key)
    dim = _checks.positive_int("dim", dim)
    rank = _checks.integer("rank", rank, minimum=0, maximum=dim)
    dtype = _checks.float_dtype("dtype", dtype)
    if rank == 0:
        return jnp.zeros((dim, 0), dtype)
    return jax.jit(_haar_basis, static_argnums=(1, 2, 3))(key, dim, rank, dtype)


# ---------------------------------------------------------------------------------------------
# One subspace: does x0 + span(Q) meet K?


def level(body) -> float:
    """The level the minimum of :func:`meets` is compared with: x0 + span(Q) meets K iff
    ``value <= level(body)`` (1 for an :class:`~phasetrans.geometry.bodies.Ellipsoid`, eps for an
    :class:`~phasetrans.geometry.bodies.L1InducedBody`)."""
    _check_body(body)
    return 1.0 if isinstance(body, bodies.Ellipsoid) else float(body.epsilon)


def _check_body(body) -> None:
    if not isinstance(body, bodies.Ellipsoid | bodies.L1InducedBody):
        raise TypeError("body must be a bodies.Ellipsoid or bodies.L1InducedBody, got "
                        f"{type(body).__name__}")


def _dtype(body, apex):
    return jnp.result_type(body.center.dtype, apex.dtype)


def _ellipsoid_prefix_values(body: bodies.Ellipsoid, apex, basis):
    """min_z sum(((x0 + Q_j z - c) / a)^2) for every prefix Q_j = Q[:, :j], j = 0..k: (k + 1,)
    for an apex x0 (D,), (m, k + 1) for m apexes (m, D).

    With b = (x0 - c) / a and M = diag(1/a) Q = U R (Householder QR, U (D, k)), the first j
    columns of U span those of M, so the least-squares residual is
    ||b - U U^T b||^2 + sum_{i >= j} (U^T b)_i^2: every prefix and every apex from one QR, no
    cancellation. Q needs full column rank only (not orthonormal columns)."""
    inverse = 1.0 / body.semi_axes
    b = inverse * (apex - body.center)
    u, _ = jnp.linalg.qr(inverse[:, None] * basis)
    coefficients = b @ u
    rest = jnp.sum((b - coefficients @ u.T) ** 2, axis=-1)
    tails = jnp.flip(jnp.cumsum(jnp.flip(coefficients**2, -1), axis=-1), -1)
    zeros = jnp.zeros(tails.shape[:-1] + (1,), tails.dtype)
    return rest[..., None] + jnp.concatenate([tails, zeros], axis=-1)


class _L1Data(NamedTuple):  # what the ADMM needs of (K, x0, Q), independent of the mask
    basis: jax.Array  # (D, k) Q
    gram: jax.Array  # (k, k) Q^T A Q
    linear: jax.Array  # (k,) Q^T (g* + A (x0 - w*))
    basis_apex: jax.Array  # (k,) Q^T x0
    apex: jax.Array  # (D,)
    constant: jax.Array  # g*^T d + 1/2 d^T A d - lam ||w*||_1, d = x0 - w*


def _l1_gram(body: bodies.L1InducedBody, basis):
    """Q^T A Q (k, k), symmetrised: the part of :class:`_L1Data` that does not depend on x0."""
    rotated = body.eigenvectors.T @ basis
    gram = rotated.T @ (body.eigenvalues[:, None] * rotated)
    return 0.5 * (gram + gram.T)


def _l1_data(body: bodies.L1InducedBody, apex, basis, gram) -> _L1Data:
    shift = body.eigenvectors.T @ (apex - body.center)
    offset = body.eigenvectors @ (body.eigenvalues * shift)
    constant = (body.gradient @ (apex - body.center) + 0.5 * jnp.sum(body.eigenvalues * shift**2)
                - body.l1 * jnp.sum(jnp.abs(body.center)))
    return _L1Data(basis, gram, basis.T @ (body.gradient + offset),
                   basis.T @ apex, apex, constant)


def _ratio(numerator, denominator):
    """numerator / denominator, 0 when the numerator is 0."""
    return numerator / jnp.maximum(denominator, jnp.finfo(jnp.result_type(numerator)).tiny)


def _masked_spectrum(gram, mask):
    """(curvature, vectors, trace): the eigendecomposition of P = Q_m^T A Q_m (Q_m = Q with the
    columns off ``mask`` zeroed), where the masked coordinates get curvature tr(P) (or 1 if
    P = 0): their right-hand sides are 0, and they stay out of the null space of the kept block,
    whose threshold is relative to tr(P). Depends on (Q, mask) only, not on x0."""
    maskf = mask.astype(gram.dtype)
    gram = gram * maskf[:, None] * maskf[None, :]
    trace = jnp.trace(gram)
    shift = jnp.where(trace > 0, trace, 1.0)
    curvature, vectors = jnp.linalg.eigh(gram + jnp.diag((1.0 - maskf) * shift))
    return jnp.maximum(curvature, 0.0), vectors, trace


def _l1_minimum(body: bodies.L1InducedBody, data: _L1Data, mask, *, solver: SolverOptions,
                penalty, stop_level=None, active=True, spectrum=None):
    """ADMM for min_z f(x0 + Q_m z) (Q_m = Q with the columns off ``mask`` zeroed), see
    :func:`meets`. Returns (f at the last x0 + Q_m z, SolverInfo).

    ``stop_level``: also stop (residual 0) once the decision f_min <= stop_level is certified:
    by the value (a witness) or by the dual lower bound. ``active`` False skips the solve
    (initial residual 0: used by the bisection under vmap). ``spectrum``:
    ``_masked_spectrum(data.gram, mask)`` if already computed (default None: computed here).
    ``solver``: resolved (its tol set)."""
    dtype = data.apex.dtype
    dim = data.apex.shape[0]
    eps = jnp.finfo(dtype).eps
    maskf = mask.astype(dtype)
    basis = data.basis * maskf
    curvature, vectors, trace = (_masked_spectrum(data.gram, mask) if spectrum is None
                                 else spectrum)
    null = curvature <= 1e3 * eps * jnp.where(trace > 0, trace, 1.0)
    linear = -data.linear * maskf  # h(z) = const - linear^T z + 1/2 z^T P z
    basis_apex = data.basis_apex * maskf
    lam = jnp.asarray(body.l1, dtype)
    linear_null = jnp.linalg.norm(jnp.where(null, vectors.T @ linear, 0.0))
    flat_slope = linear_null > 1e3 * eps * jnp.linalg.norm(linear)
    if penalty is None:  # curvature scale of h plus the l1 scale
        count = jnp.maximum(jnp.sum(maskf), 1.0)
        rho = trace / count + _ratio(lam * math.sqrt(dim), jnp.linalg.norm(data.apex))
        rho = jnp.where(rho > 0, rho, 1.0)
    else:
        rho = jnp.asarray(penalty, dtype)

    def z_solve(rhs):  # (Q_m^T A Q_m + rho I)^{-1} rhs by the eigendecomposition
        return maskf * (vectors @ ((vectors.T @ rhs) / (curvature + rho)))

    def step(state):
        z, x, u, y, basis_u, basis_y = state
        z = z_solve(linear + rho * (basis_u - basis_apex - basis_y))
        x = data.apex + basis @ z
        v = x + y
        u_new = jnp.sign(v) * jnp.maximum(jnp.abs(v) - lam / rho, 0.0)
        basis_u_new = basis.T @ u_new
        basis_y = basis_y + basis_apex + z - basis_u_new  # Q_m^T y, as Q_m^T Q_m z = z
        return z, x, u_new, v - u_new, basis_u_new, basis_y

    def primal_dual(previous, state):
        z, x, u, y, basis_u, _ = state
        gradient = vectors @ (curvature * (vectors.T @ z)) - linear  # grad h(z) = P z - linear
        primal = _ratio(jnp.linalg.norm(x - u), jnp.maximum(jnp.linalg.norm(x),
                                                             jnp.linalg.norm(u)))
        dual = _ratio(rho * jnp.linalg.norm(basis_u - previous[4]),
                      jnp.maximum(rho * jnp.linalg.norm(y), jnp.linalg.norm(gradient)))
        return jnp.maximum(primal, dual)

    def lower_bound(y, basis_y):
        """inf_z h(z) + nu^T (x0 + Q_m z) <= f_min for ||nu||_inf <= lam (weak duality)."""
        nu = rho * y  # ||nu||_inf <= lam: y is v - soft(v, lam / rho)
        slope = rho * basis_y - linear  # Q_m^T nu - linear
        correction = vectors @ jnp.where(null, vectors.T @ slope, 0.0)
        nu = nu - basis @ correction  # now Q_m^T nu - linear has no null-space part
        peak = jnp.max(jnp.abs(nu))
        scale = jnp.where(peak > lam, _ratio(lam, peak), 1.0)
        slope = scale * (slope - correction) - (1.0 - scale) * linear
        rotated = vectors.T @ slope
        quadratic = jnp.sum(jnp.where(null, 0.0, rotated**2 / jnp.where(null, 1.0, curvature)))
        bound = data.constant + scale * (nu @ data.apex) - 0.5 * quadratic
        return jnp.where((scale < 1.0) & flat_slope, -jnp.inf, bound)

    def residual(previous, state):
        _, x, _, y, _, basis_y = state
        value = body.value(x)
        bound = lower_bound(y, basis_y)
        size = jnp.maximum(jnp.maximum(jnp.abs(value), lam * jnp.sum(jnp.abs(x))),
                           jnp.abs(data.constant))
        gap = _ratio(jnp.maximum(value - bound, 0.0), size)
        res = jnp.minimum(primal_dual(previous, state), gap)
        if stop_level is None:
            return res
        return jnp.where((value <= stop_level) | (bound > stop_level), 0.0, res)

    init = (jnp.zeros_like(linear), data.apex, data.apex, jnp.zeros_like(data.apex), basis_apex,
            jnp.zeros_like(linear))
    state, info = _loops.iterate(step, init, residual=residual, tol=solver.tol,
                                 max_iters=solver.max_iters, check_every=solver.check_every,
                                 initial_residual=jnp.where(active, jnp.inf, 0.0))
    return body.value(state[1]), info


@jax.jit
def _meets_l1(body, apex, basis, mask, solver, penalty):
    data = _l1_data(body, apex, basis, _l1_gram(body, basis))
    return _l1_minimum(body, data, mask, solver=solver, penalty=penalty)


@jax.jit
def _meets_ellipsoid(body, apex, basis):
    return _ellipsoid_prefix_values(body, apex, basis)[-1]


def _check_apex(body, apex):
    _check_body(body)
    apex = _checks.array("apex", apex, shape=(body.dim,))
    return apex.astype(_dtype(body, apex))


def meets(body, apex, basis, *, solver: SolverOptions | None = None,
          penalty: float | None = None):
    """min over z in R^k of the body's defining function at x0 + Q z; compare with :func:`level`.

    x0 + span(Q) meets K iff the returned value is <= ``level(body)``.

    - :class:`~phasetrans.geometry.bodies.Ellipsoid` E = {x : sum_i ((x_i - c_i) / a_i)^2 <= 1}: the
      value is min_z ||b + M z||^2 with b = (x0 - c) / a, M = diag(1/a) Q, an exact least
      squares solved by QR (``SolverInfo.exact()``). For a ball of radius r this is
      dist(c, x0 + span Q)^2 / r^2.
    - :class:`~phasetrans.geometry.bodies.L1InducedBody` K = {w : f(w) <= eps},
      f(w) = g*^T q + 1/2 q^T A q + lam (||w||_1 - ||w*||_1), q = w - w*: the value is
      min_z f(x0 + Q z), by ADMM [Boyd, Parikh, Chu, Peleato, Eckstein, "Distributed
      optimization and statistical learning via the alternating direction method of
      multipliers", 2011 (BPCPE), sec. 3] on the split u = x0 + Q z (scaled dual y):

          z <- (P + rho I)^{-1} (-Q^T (g* + A (x0 - w*)) + rho Q^T (u - y - x0)),
          u <- soft(x0 + Q z + y, lam / rho),   y <- y + x0 + Q z - u,

      P = Q^T A Q (k x k, eigendecomposed once). The l1 term is not separable in z, hence
      the split; rho stays fixed (residual balancing and over-relaxation were tried and slowed
      the near-boundary solves). Two certificates, checked every ``solver.check_every``
      iterations; ``SolverInfo.residual`` is the smaller of

      * the relative primal/dual residual [BPCPE sec. 3.3], x = x0 + Q z, h the smooth part:
        max(||x - u|| / max(||x||, ||u||),
        rho ||Q^T (u - u_prev)|| / max(||rho y||, ||grad h(z)||));
      * the relative duality gap (f(x) - L) / max(|f(x)|, lam ||x||_1, |f(x0) - lam ||x0||_1|)
        with the weak-duality bound L = inf_z h(z) + nu^T (x0 + Q z) <= min f, valid for any
        ||nu||_inf <= lam [Rockafellar, Convex Analysis, sec. 31]. nu = rho y is box-feasible
        at every iterate (y = v - soft(v, lam / rho)); its slope along the null space of P
        (eigenvalues <= 1e3 machine epsilons x tr P) is projected out (else L = -inf) and nu
        is scaled back into the box. L is finite, and tends to min f, for the l1-only body
        (A = 0, g* = 0: a linear program) and whenever P is positive definite; it is -inf (only
        the residual certifies) when h has a slope along a flat direction of P and the scaling
        was needed.

      The value returned is f(x0 + Q z) at the last z, an exact point of the affine subspace:
      ``value <= eps`` is a witness that the subspace meets K, and value >= the true minimum
      >= value - gap.

    Args:
        body: an ``Ellipsoid`` or ``L1InducedBody`` in R^D.
        apex: x0 (D,), finite.
        basis: Q (D, k), 0 <= k <= D, orthonormal columns (e.g. :func:`random_basis`).
        solver: the ADMM's :class:`~phasetrans.estimate.SolverOptions`: ``tol`` on the
            residual above, ``max_iters``, ``check_every`` (default None: :data:`SOLVER`, i.e.
            tol 1e-4 in float32 and 1e-7 in float64, 20000 iterations, a check every 10);
            ignored for the ellipsoid.
        penalty: ADMM penalty rho > 0 (default None: tr(P) / k + lam sqrt(D) / ||x0||, the
            curvature and the l1 scale; it changes the iteration count, not the answer).

    Returns:
        ``(value, SolverInfo)`` as JAX scalars; ``info.converged`` is False when the ADMM ran out
        of ``solver.max_iters`` first.
    """
    apex = _check_apex(body, apex)
    dim = body.dim
    basis = _checks.array("basis", basis, ndim=2)
    if basis.shape[0] != dim or basis.shape[1] > dim:
        raise ValueError(f"basis must have shape (D, k) with D = {dim} and k <= D, got "
                         f"{basis.shape}")
    basis = basis.astype(apex.dtype)
    rank = basis.shape[1]
    _checks.orthonormal_columns("basis", basis)
    if isinstance(body, bodies.Ellipsoid):
        value = (jnp.sum(((apex - body.center) / body.semi_axes) ** 2) if rank == 0
                 else _meets_ellipsoid(body, apex, basis))
        return value, SolverInfo.exact(apex.dtype)
    solver = _admm_solver(solver, apex.dtype)
    if penalty is not None:
        penalty = _checks.real("penalty", penalty, positive=True)
    mask = jnp.ones((max(rank, 1),), bool) if rank else jnp.zeros((1,), bool)
    if rank == 0:
        basis = jnp.zeros((dim, 1), apex.dtype)
    return _meets_l1(body, apex, basis, mask, solver, penalty)


def _admm_solver(solver, dtype) -> SolverOptions:
    """``solver`` (None: :data:`SOLVER`) checked, tol defaulted for ``dtype``."""
    return SolverOptions.check(solver, SOLVER, dtype=dtype, float32=1e-4, float64=1e-7)


# ---------------------------------------------------------------------------------------------
# The transition over a grid of subspace dimensions


class SubspaceTransition(NamedTuple):
    """The fraction of random subspaces x0 + L0 (dim L0 = k) that meet K, on a grid of k.

    Attributes:
        dim: D.
        dims: (K,) the subspace dimensions k (strictly increasing).
        removal_ratios: (K,) p = 1 - k / D (kept fraction k / D).
        fraction: ``Estimate``: mean (K,) fraction of subspaces meeting K, sem (K,) its binomial
            standard error sqrt(f (1 - f) / (n - 1)), num_samples = n subspaces per k.
        k50: the 50% point: linear interpolation of the fraction between the two grid points
            where it first reaches 1/2 (NaN when it does not cross 1/2 inside the grid).
        k50_interval: (lo, hi): the 50% points of the fraction +2 SEM and -2 SEM (the pointwise
            band inverted), each clipped to the grid; (NaN, NaN) with k50.
        statdim: delta_hat = D - k50, the statistical dimension of cone(K - x0) that the
            kinematic formula implies [ALMT Thm I].
        removal_ratio_50: 1 - k50 / D, the removal ratio at the 50% point.
        eta, a_eta: the theorem's level and a_eta = sqrt(8 log(4 / eta)) (the values of
            ``phasetrans.geometry.closed_forms.theory_window``, whose ``half_width`` a_eta / sqrt(D)
            is the window in removal ratio); :attr:`half_width_dims` = a_eta sqrt(D) is it in k.
        info: worst ``SolverInfo`` over all solves (exact for the ellipsoid).
        apex_inside: x0 lies in K (then every subspace meets it: fraction 1, k50 NaN).
    """

    dim: int
    dims: np.ndarray
    removal_ratios: np.ndarray
    fraction: Estimate
    k50: float
    k50_interval: tuple[float, float]
    statdim: float
    removal_ratio_50: float
    eta: float
    a_eta: float
    info: SolverInfo
    apex_inside: bool

    @property
    def half_width_dims(self) -> float:
        """a_eta sqrt(D): the theorem's half-width of the transition in subspace dimensions."""
        return self.a_eta * math.sqrt(self.dim)

    def consistent_with(self, statdim: float) -> bool:
        """Whether |delta_hat - statdim| <= a_eta sqrt(D) [ALMT Thm I at level eta]; False when
        k50 is NaN."""
        return bool(abs(self.statdim - statdim) <= self.half_width_dims)

    def to_dict(self) -> dict:
        """JSON-ready summary (NaN becomes None)."""

        def num(x):
            return None if not np.isfinite(x) else float(x)

        return {"dim": self.dim, "dims": self.dims.tolist(),
                "removal_ratios": self.removal_ratios.tolist(), "fraction": self.fraction.to_dict(),
                "k50": num(self.k50), "k50_interval": [num(x) for x in self.k50_interval],
                "statdim": num(self.statdim), "removal_ratio_50": num(self.removal_ratio_50),
                "eta": self.eta, "a_eta": self.a_eta,
                "half_width_dims": self.half_width_dims, "apex_inside": self.apex_inside,
                "solver_info": self.info.to_dict()}


def _crossing(dims, curve) -> float:
    """k where ``curve`` first reaches 1/2, linearly interpolated; NaN if it never does or does
    at the first grid point already (unless exactly 1/2 there)."""
    index, crossing = crossings.interpolated_zero(dims, 0.5 - np.asarray(curve, np.float64))
    if index == 0 and curve[0] != 0.5:
        return math.nan
    return crossing


def _band_crossing(dims, curve) -> float:
    above = np.flatnonzero(curve >= 0.5)
    if above.size == 0:
        return float(dims[-1])
    return float(dims[0]) if above[0] == 0 else _crossing(dims, curve)


def _subspace_keys(key, start, size):
    return jax.vmap(jax.random.fold_in, in_axes=(None, 0))(key, start + jnp.arange(size))


@functools.partial(jax.jit, static_argnames=("size", "rank"))
def _ellipsoid_chunk(body, apexes, dims, key, start, size, rank):
    """(size, m, K) flags: subspace i of the chunk, through apex j, meets K at dimension k."""
    def one(subspace_key):  # only spans matter: the Gaussian columns span the Haar prefixes
        gaussian = _gaussian_columns(subspace_key, apexes.shape[1], rank, apexes.dtype)
        values = _ellipsoid_prefix_values(body, apexes, gaussian)
        return values[:, dims] <= 1.0

    return jax.vmap(one)(_subspace_keys(key, start, size))


@functools.partial(jax.jit, static_argnames=("size", "rank"))
def _l1_chunk(body, apexes, dims, key, start, solver, penalty, size, rank):
    """(size, m, K) flags and (size, m) SolverInfos: for subspace i of the chunk and apex j
    (rows of ``apexes``, (m, D)), whether it meets K at dimension k, from the first index of
    ``dims`` whose subspace meets K, found by bisection (the subspaces of one key are nested,
    so meeting is monotone in k). The basis, Q^T A Q and, when the m bisections would need more
    eigendecompositions than there are dims (m ceil(log2(K + 1)) > K), the masked spectra of
    every k are computed once per subspace and shared by the apexes."""
    num_dims = dims.shape[0]
    steps = max(1, math.ceil(math.log2(num_dims + 1)))
    shared = apexes.shape[0] * steps > num_dims

    def one(subspace_key):
        basis = _haar_basis(subspace_key, apexes.shape[1], rank, apexes.dtype)
        gram = _l1_gram(body, basis)
        masks = jnp.arange(rank)[None, :] < dims[:, None]  # (K, rank)
        spectra = jax.vmap(_masked_spectrum, in_axes=(None, 0))(gram, masks) if shared else None
        # one apex after the other: a vmapped bisection would run every ADMM to the slowest
        return jax.lax.map(lambda apex: first_meeting(_l1_data(body, apex, basis, gram),
                                                      spectra), apexes)

    def first_meeting(data, spectra):
        def bisect(_, carry):
            lo, hi, info = carry
            active = lo < hi
            mid = jnp.minimum((lo + hi) // 2, num_dims - 1)
            mask = jnp.arange(rank) < dims[mid]
            spectrum = (None if spectra is None
                        else jax.tree_util.tree_map(lambda a: a[mid], spectra))
            value, new = _l1_minimum(body, data, mask, solver=solver, penalty=penalty,
                                     stop_level=body.epsilon, active=active, spectrum=spectrum)
            hit = value <= body.epsilon
            lo = jnp.where(active & ~hit, mid + 1, lo)
            hi = jnp.where(active & hit, mid, hi)
            info = SolverInfo(jnp.maximum(info.iterations, new.iterations),
                              jnp.maximum(info.residual, jnp.where(active, new.residual, 0.0)),
                              info.converged & (new.converged | ~active))
            return lo, hi, info

        start_info = SolverInfo.exact(data.apex.dtype)
        lo, _, info = jax.lax.fori_loop(0, steps, bisect, (jnp.zeros((), jnp.int32),
                                                           jnp.asarray(num_dims, jnp.int32),
                                                           start_info))
        return jnp.arange(num_dims) >= lo, info

    return jax.vmap(one)(_subspace_keys(key, start, size))


def transition(body, apex, *, key, dims, num_subspaces: int, eta: float = 0.05,
               solver: SolverOptions | None = None, penalty: float | None = None,
               chunk_size: int | None = None, progress: bool = False) -> SubspaceTransition:
    """Fraction of uniformly random k-dim subspaces L0 with x0 + L0 meeting K, on a grid of k.

    By [ALMT Thm I] the fraction is ~0 for k <= D - delta - a_eta sqrt(D) and ~1 for
    k >= D - delta + a_eta sqrt(D), delta = delta(cone(K - x0)); the 50% point k50 gives
    delta_hat = D - k50 and the removal ratio 1 - k50 / D of the pruning threshold [ZZSL sec. 4].

    Subspace i (i = 0..n-1) uses the key ``fold_in(key, i)`` and the bases
    ``random_basis(key=fold_in(key, i), dim=D, rank=k)`` for every k of the grid: each k's
    subspaces are Haar, and one subspace's bases are nested over k (common random numbers: the
    fraction is non-decreasing in k, as meeting is monotone under inclusion). The numbers do not
    depend on ``chunk_size`` nor on the other entries of ``dims``. Each chunk of subspaces is one
    jitted ``vmap``.

    - Ellipsoid: one QR per subspace gives the exact minimum for every k (:func:`meets`).
    - l1-induced body: per subspace, a bisection over the grid (ceil(log2(K + 1)) ADMM solves of
      :func:`meets`, monotonicity fills in the rest). Each solve stops as soon as its decision
      is certified, by a witness (f(x0 + Q z) <= eps at an iterate) or by the dual bound
      (L > eps, see :func:`meets`), with residual 0; otherwise at ``solver``'s tol or
      max_iters, and the decision is then f(x0 + Q z) <= eps at the last iterate. ``info`` is
      the worst over the solves.
    - x0 inside K: every subspace meets K (z = 0), fraction 1 at every k, k50 NaN, no solves.

    Args:
        body: ``bodies.Ellipsoid`` or ``bodies.L1InducedBody`` in R^D.
        apex: x0 (D,), finite (e.g. the pruned point M_p ⊙ w*).
        key: PRNG key (keyword-only, required).
        dims: (K,) strictly increasing integers in [0, D].
        num_subspaces: n >= 2 subspaces per k.
        eta: level of the theorem's window, in (0, 1) (default 0.05: a_eta = 5.92).
        solver, penalty: ADMM settings of :func:`meets` (l1 body only; ``solver`` None:
            :data:`SOLVER`).
        chunk_size: at most this many subspaces per jitted call (default: about
            ``CHUNK_ELEMENTS / (D k_max)``, at most ``ADMM_SUBSPACES_PER_CHUNK`` for the l1
            body); the chunks are made equal, the last padded with subspaces that are dropped.
        progress: tqdm bar over chunks on stderr (default False).

    Returns:
        :class:`SubspaceTransition`.
    """
    apex = _check_apex(body, apex)
    return transitions(body, apex[None], key=key, dims=dims, num_subspaces=num_subspaces,
                       eta=eta, solver=solver, penalty=penalty, chunk_size=chunk_size,
                       progress=progress)[0]


def transitions(body, apexes, *, key, dims, num_subspaces: int, eta: float = 0.05,
                solver: SolverOptions | None = None, penalty: float | None = None,
                chunk_size: int | None = None, progress: bool = False) -> list[SubspaceTransition]:
    """:func:`transition` for m apexes through the same random subspaces.

    Subspace i is the same for every apex (common random numbers), so entry j equals
    ``transition(body, apexes[j], key=key, ...)`` exactly, and differences between apexes carry
    no independent subspace noise. For the ellipsoid one QR per subspace serves every apex and
    every k (m apexes cost about one transition: the QR is O(D k_max^2), each apex O(D k_max));
    for the l1-induced body the basis and Q^T A Q serve every apex too, and so do the
    eigendecompositions of its masked blocks (O(k_max^3) each) once the apexes' bisections would
    need more of them than there are dims; each apex runs its own bisection of ADMM solves.
    Apexes inside K take no solves.

    Args:
        apexes: (m, D) finite apexes x0 (e.g. the pruned points M_p ⊙ w* of m removal ratios).
        The rest: as :func:`transition`.

    Returns:
        m :class:`SubspaceTransition`, in the order of ``apexes``.
    """
    _check_body(body)
    apexes = _checks.array("apexes", apexes, ndim=2)
    dim = body.dim
    if apexes.shape[0] == 0 or apexes.shape[1] != dim:
        raise ValueError(f"apexes must have shape (m, {dim}) with m >= 1 (one apex per row), "
                         f"got {apexes.shape}")
    apexes = apexes.astype(_dtype(body, apexes))
    key = _checks.prng_key("key", key)
    num_subspaces = _checks.integer("num_subspaces", num_subspaces, minimum=2)
    eta = _checks.real("eta", eta, positive=True)
    if eta >= 1.0:
        raise ValueError(f"eta must be < 1, got {eta}")
    if isinstance(dims, str | bytes) or np.ndim(dims) != 1 or np.size(dims) == 0:
        raise ValueError(f"dims must be a non-empty 1-D sequence of integers, got {dims!r}")
    grid = np.array([_checks.integer("dims", k, minimum=0, maximum=dim)
                     for k in np.asarray(dims).tolist()], np.int64)
    if np.any(np.diff(grid) <= 0):
        raise ValueError(f"dims must be strictly increasing, got {grid.tolist()}")
    is_l1 = isinstance(body, bodies.L1InducedBody)
    if is_l1:
        solver = _admm_solver(solver, apexes.dtype)
        if penalty is not None:
            penalty = _checks.real("penalty", penalty, positive=True)
    rank = max(int(grid[-1]), 1)
    if chunk_size is None:
        chunk_size = max(1, min(num_subspaces, CHUNK_ELEMENTS // (2 * dim * rank)))
        if is_l1:
            chunk_size = min(chunk_size, ADMM_SUBSPACES_PER_CHUNK)
    chunk_size = _checks.positive_int("chunk_size", chunk_size)

    inside = [bool(float(_value(body, apex)) <= level(body)) for apex in apexes]
    outside = [j for j, flag in enumerate(inside) if not flag]
    flags = np.ones((num_subspaces, len(inside), grid.size), bool)  # inside: every k meets K
    infos = [SolverInfo(0, 0.0, True)] * len(inside)
    dims_arr = jnp.asarray(grid, jnp.int32)
    # equal chunks (one compilation); the last one is padded with unused subspaces
    num_chunks = -(-num_subspaces // chunk_size)
    size = -(-num_subspaces // num_chunks)
    # every outside apex through each chunk of subspaces at once (one basis per subspace)
    starts = range(0, num_subspaces, size) if outside else ()
    outside_apexes = apexes[np.array(outside)] if outside else None
    chunk_infos = {j: [] for j in outside}
    for start in track(starts, desc="random subspaces", enabled=progress):
        used = min(size, num_subspaces - start)
        if is_l1:
            chunk_flags, chunk_info = _l1_chunk(body, outside_apexes, dims_arr, key, start,
                                                solver, penalty, size, rank)
            for column, j in enumerate(outside):
                chunk_infos[j].append(SolverInfo.worst(SolverInfo(
                    *(np.asarray(x)[:used, column] for x in chunk_info))))
        else:
            chunk_flags = _ellipsoid_chunk(body, outside_apexes, dims_arr, key, start, size,
                                           rank)
        flags[start:start + used, outside] = np.asarray(chunk_flags)[:used]
    for j, parts in chunk_infos.items():
        if parts:
            infos[j] = SolverInfo.combine(*parts)
    a_eta = closed_forms.theory_window(dim, eta=eta).a_eta
    return [_summarise(dim, grid, flags[:, j].astype(np.float64), eta, a_eta, infos[j],
                       inside[j]) for j in range(len(inside))]


def _summarise(dim, grid, flags, eta, a_eta, info, inside) -> SubspaceTransition:
    """SubspaceTransition from the (n, K) meeting flags of one apex."""
    fraction = from_samples(flags)
    mean, sem = np.atleast_1d(fraction.mean), np.atleast_1d(fraction.sem)
    fraction = Estimate(mean, sem, flags.shape[0])
    k50 = _crossing(grid, mean)
    interval = ((math.nan, math.nan) if math.isnan(k50)
                else (_band_crossing(grid, mean + 2 * sem), _band_crossing(grid, mean - 2 * sem)))
    return SubspaceTransition(dim, grid, 1.0 - grid / dim, fraction, k50, interval, dim - k50,
                              1.0 - k50 / dim, eta, a_eta, info, inside)


def _value(body, apex):
    """The body's defining function at x0 (compared with :func:`level`)."""
    if isinstance(body, bodies.Ellipsoid):
        return jnp.sum(((apex - body.center) / body.semi_axes) ** 2)
    return body.value(apex)
