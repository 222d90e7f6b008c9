"""The conic ADMM that projects onto the l1-induced body and the cone it generates.

The second-order model of the l1-regularised loss around a trained w* gives the body
[ZZSL sec. 4; reference: the l1-induced body of :class:`phasetrans.geometry.bodies.L1InducedBody`]

    K = {w : g*^T q + 1/2 q^T H q + lam (||w||_1 - ||w*||_1) <= eps},   q = w - w*,

with H >= 0 the Hessian, g* the loss gradient at w* and lam the l1 strength. Seen from a point
x0 (the pruned weights), write p = w - x0 and

    F(p) = 1/2 p^T H p + b^T p + lam ||x0 + p||_1 - c,
    b = g* + H (x0 - w*),  c = eps + lam ||w*||_1 - g*^T (x0 - w*) - 1/2 (x0 - w*)^T H (x0 - w*),

so K - x0 = {F <= 0}. Its generated cone is {z : t F(z / t) <= 0 for some t > 0}; with an epigraph
variable s for the quadratic part this is the set of (z, t, s) with

    ||R z||^2 <= 2 t s                   (rotated second-order cone, R = Lambda^1/2 V^T),
    ||lam (z + t x0)||_1 <= c t - s - b^T z    (l1-norm cone),

and projecting onto K itself is the same problem with t = 1. Both are solved by ADMM on
``min 1/2 ||z - g||^2  s.t.  M(z, t, s) in Q x L`` [Boyd et al. 2011, sec. 3 and 4.4; O'Donoghue
et al. (SCS) 2016]: ADMM is chosen because both cone projections are closed form (SOC: explicit;
l1 cone: Newton on a piecewise-linear multiplier), and the linear step is diagonal in H's
eigenbasis plus a rank-one and a 2 x 2 correction, so an iteration costs two D x D rotations
(matrix products when vmapped over samples).

Low-rank Hessians (matrix-free, large D): for H = V diag(a) V^T + beta (I - V V^T) with V (D, r),
r < D (:class:`phasetrans.theory.hessian_model.HessianModel`), the "eigenbasis" coordinates of x are
(V^T x, x - V V^T x) in R^(r + D), with eigenvalues (a, beta, ..., beta): an isometry of R^D
onto a subspace that every ADMM step maps into itself (the complement block is only ever
scaled by one number), so the same iteration runs at O(D r) per step and O(D r) memory
(:func:`to_eigen`, :func:`from_eigen`). Convergence is certified by the relative primal and
dual residuals ``max(||MX - Y|| / max(||MX||, ||Y||), rho ||M^T (Y - Y_prev)|| / ||rho M^T U||)``
(``SolverInfo.residual``); a solve that hits ``max_iters`` reports its residual with
``converged=False`` instead of hiding it.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from phasetrans import _loops
from phasetrans.estimate import SolverOptions
from phasetrans.geometry.projections import ConeProjection, Projection

SOLVER = SolverOptions(tol=1e-4, max_iters=20000, check_every=20)
"""The ADMM of :func:`solve`: the relative primal/dual residual <= 1e-4, at most 20000
iterations, a residual check every 20."""


class ConicData(NamedTuple):
    """K - x0 in the equilibrated form the ADMM uses (see :func:`conic_data`).

    With row scales sq (second-order block) and sl (l1 block) and the change of variables
    t = unit t', s = s_unit s', the constraint map is
    M(z, t', s') = (sq R z, q_t t', q_s s', l1 (V z) + t' apex, level t' - s_weight s' - linear^T z)
    for z in H's eigenbasis (q_t = sq unit, q_s = sq s_unit: ||R z||^2 <= 2 t s is unchanged).
    Arrays (D,) unless noted.
    """

    sqrt_eigenvalues: jax.Array  # sq Lambda^1/2 in the coordinates of to_eigen
    eigenvectors: jax.Array      # V, (D, D) or (D, r) columns (see to_eigen)
    linear: jax.Array            # sl V^T b
    apex: jax.Array              # sl lam unit x0 (standard basis)
    apex_eigen: jax.Array        # V^T apex
    l1: jax.Array                # sl lam
    level: jax.Array             # sl unit c
    q_t: jax.Array               # sq unit
    q_s: jax.Array               # sq s_unit
    s_weight: jax.Array          # sl s_unit
    unit: jax.Array              # t = unit t'
    apex_value: jax.Array        # F(0) = lam ||x0||_1 - c (> 0 iff x0 is outside K)


def to_eigen(eigenvectors, x):
    """Coordinates of x (D,) in H's eigenbasis: V^T x for V (D, D); (V^T x, x - V V^T x), length
    r + D, for V (D, r) with r < D (the low-rank model's complement kept as a D-vector)."""
    coeffs = eigenvectors.T @ x
    if eigenvectors.shape[1] == eigenvectors.shape[0]:
        return coeffs
    return jnp.concatenate([coeffs, x - eigenvectors @ coeffs])


def from_eigen(eigenvectors, z):
    """The inverse of :func:`to_eigen` on its image: V z, or V z[:r] + z[r:]."""
    rank = eigenvectors.shape[1]
    if rank == eigenvectors.shape[0]:
        return eigenvectors @ z
    return eigenvectors @ z[:rank] + z[rank:]


def dense_matrix(eigenvalues, eigenvectors):
    """H = V diag(lambda) V^T from a full eigendecomposition (V (D, D)), symmetrised
    (1/2 (H + H^T)) so that rounding leaves it exactly symmetric."""
    matrix = (eigenvectors * eigenvalues) @ eigenvectors.T
    return 0.5 * (matrix + matrix.T)


def coordinate_eigenvalues(eigenvalues, eigenvectors, bulk):
    """H's eigenvalues in the coordinates of :func:`to_eigen`: lambda (D,), or (a, beta 1_D)."""
    dim, rank = eigenvectors.shape
    if rank == dim:
        return eigenvalues
    return jnp.concatenate([eigenvalues, jnp.full(dim, bulk, eigenvalues.dtype)])


def conic_data(eigenvalues, eigenvectors, *, gradient, center, l1, epsilon, apex,
               bulk=0.0) -> ConicData:
    """Express K - apex (module docstring) for the ADMM; all inputs in the standard basis.

    H = V diag(eigenvalues) V^T with ``eigenvectors`` V (D, D), or the low-rank model
    V diag(eigenvalues) V^T + ``bulk`` (I - V V^T) with V (D, r), r < D (module docstring).

    The cone and the projection are unchanged by the scalings (both cones are invariant under
    positive row scaling; t and s are free variables); they are chosen so that the z-columns of
    both blocks have unit mean square and the t'- and s'-columns unit norm, which keeps ADMM's
    iteration count from depending on the units of H, lam and eps (column equilibration as in
    SCS [O'Donoghue et al. 2016 sec. 5]).
    """
    dim = apex.shape[0]
    eigenvalues = coordinate_eigenvalues(eigenvalues, eigenvectors, bulk)
    q0 = apex - center
    hq0 = from_eigen(eigenvectors, eigenvalues * to_eigen(eigenvectors, q0))
    b = gradient + hq0
    level = epsilon + l1 * jnp.sum(jnp.abs(center)) - gradient @ q0 - 0.5 * q0 @ hq0
    value = l1 * jnp.sum(jnp.abs(apex)) - level

    def inverse_sqrt(x):  # 1 / sqrt(x), and 1 where a block is absent (x = 0)
        return jnp.where(x > 0, 1.0 / jnp.sqrt(jnp.where(x > 0, x, 1.0)), 1.0)

    sq = inverse_sqrt(jnp.sum(eigenvalues) / dim)
    sl = inverse_sqrt(l1**2 + b @ b / dim)
    unit = inverse_sqrt(sq**2 + sl**2 * (l1**2 * apex @ apex + level**2))
    s_unit = inverse_sqrt(sq**2 + sl**2)
    apex_scaled = sl * l1 * unit * apex
    return ConicData(sq * jnp.sqrt(eigenvalues), eigenvectors, sl * to_eigen(eigenvectors, b),
                     apex_scaled, to_eigen(eigenvectors, apex_scaled),
                     jnp.asarray(sl * l1, apex.dtype),
                     sl * unit * level, sq * unit, sq * s_unit, sl * s_unit, unit, value)


def project_rotated_soc(y, t, s):
    """Projection onto {(y, t, s) : ||y||^2 <= 2 t s, t, s >= 0}.

    With a = (t + s)/sqrt 2, d = (t - s)/sqrt 2 it is the second-order cone ||(y, d)|| <= a,
    whose projection is explicit [Bauschke & Combettes, Example 29.33 / Boyd & Vandenberghe].
    """
    a, d = (t + s) / jnp.sqrt(2.0), (t - s) / jnp.sqrt(2.0)
    norm = jnp.sqrt(jnp.sum(y**2) + d**2)
    scale = 0.5 * (1.0 + a / jnp.maximum(norm, 1e-300))
    inside, polar = norm <= a, norm <= -a
    y_out = jnp.where(inside, y, jnp.where(polar, 0.0, scale * y))
    d_out = jnp.where(inside, d, jnp.where(polar, 0.0, scale * d))
    a_out = jnp.where(inside, a, jnp.where(polar, 0.0, 0.5 * (norm + a)))
    return y_out, (a_out + d_out) / jnp.sqrt(2.0), (a_out - d_out) / jnp.sqrt(2.0)


def project_l1_cone(v, m, *, max_iters: int = 50) -> Projection:
    """Projection of (v, m) onto the l1-norm cone {(v, m) : ||v||_1 <= m}; ``point`` = (v', m').

    Outside the cone and its polar {||v||_inf <= -m}, the projection is (soft(v, th), m + th)
    with th > 0 the root of phi(th) = sum_i (|v_i| - th)_+ - m - th. phi is convex, decreasing
    and piecewise linear, so monotone Newton on -phi from th = 0 lands on the root exactly once
    on the root's piece (a handful of O(D) steps; a sort-based exact solution measured 10x
    slower under vmap on CPU). ``info.residual`` is max(phi(th), 0) / (||v||_1 + |m|), stopping
    below 1e3 machine epsilons.
    """
    a = jnp.abs(v)
    total = jnp.sum(a)
    inside, polar = total <= m, jnp.max(a) <= -m
    explicit = inside | polar  # no Newton steps when the answer is explicit

    def minus_phi(theta):
        value = m + theta - jnp.sum(jnp.maximum(a - theta, 0.0))
        return jnp.where(explicit, 0.0, value), jnp.sum(a > theta) + 1.0

    theta, info = _loops.monotone_newton(minus_phi, jnp.zeros((), v.dtype),
                                         scale=total + jnp.abs(m) + jnp.finfo(v.dtype).tiny,
                                         max_iters=max_iters)
    v_out = jnp.where(inside, v, jnp.where(polar, 0.0,
                                           jnp.sign(v) * jnp.maximum(a - theta, 0.0)))
    m_out = jnp.where(inside, m, jnp.where(polar, 0.0, m + theta))
    return Projection((v_out, m_out), info)


class _Linear(NamedTuple):  # the ADMM's normal solve with I_z + rho M^T M, factored once
    inv_diag: jax.Array
    correction: jax.Array
    coupling: jax.Array
    coupling_solved: jax.Array
    schur_inv: jax.Array


def _apply_m(data, z, t, s):
    """M(z, t, s), z in H's eigenbasis (see :class:`ConicData`)."""
    return (data.sqrt_eigenvalues * z, data.q_t * t, data.q_s * s,
            data.l1 * from_eigen(data.eigenvectors, z) + t * data.apex,
            data.level * t - data.s_weight * s - data.linear @ z)


def _apply_mt(data, y, t, s, v, m):
    """M^T of a point of Q x L, returned as (z-part in the eigenbasis, t-part, s-part)."""
    return (data.sqrt_eigenvalues * y + data.l1 * to_eigen(data.eigenvectors, v)
            - data.linear * m,
            data.q_t * t + data.apex @ v + data.level * m,
            data.q_s * s - data.s_weight * m)


def _coupling(data, rho, free_scale):
    """Columns C of rho M^T M coupling z to (t, s) [or s only]."""
    cols_s = rho * data.s_weight * data.linear
    if free_scale:
        return jnp.stack([rho * (data.l1 * data.apex_eigen - data.level * data.linear), cols_s],
                         axis=1)
    return cols_s[:, None]


def _schur_inverse(data, rho, inv_diag, db, free_scale):
    """Inverse of the (t, s) Schur complement S = B - C^T E^-1 C of I_z + rho M^T M.

    Formed as B - C^T E^-1 C it cancels catastrophically in float32 whenever t and s are
    nearly collinear in M (entries ~1, S ~1e-3: a trained mnist1d network's low-rank body
    diverged so). Instead, tau^T S tau = min_z ||z||_E^2 + 2 z^T C tau + tau^T B tau in
    closed form (D_i = 1 + rho sq^2 lambda_i + rho l1^2, E = diag(D) + rho b b^T, a = the
    apex column, beta = b^T D^-1 b, mu = b^T D^-1 a, L = level + rho l1 mu):

        S / rho = [[q_t^2 + A1 + L^2 / (1 + rho beta), -gamma L / (1 + rho beta)],
                   [-gamma L / (1 + rho beta),         q_s^2 + gamma^2 / (1 + rho beta)]],

    A1 = sum_i a_i^2 (1 + rho sq^2 lambda_i) / D_i; every term and the determinant
    (q_t^2 + A1)(q_s^2 + gamma^2 / (1 + rho beta)) + L^2 q_s^2 / (1 + rho beta) is a sum of
    non-negative parts (fixed scale: the s entry alone). ``db`` is D^-1 b."""
    gamma, b = data.s_weight, data.linear
    damp = 1.0 / (1.0 + rho * (b @ db))
    ss = data.q_s**2 + gamma**2 * damp
    if not free_scale:
        return jnp.reshape(1.0 / (rho * ss), (1, 1))
    a = data.apex_eigen
    a1 = jnp.sum(a**2 * (1.0 + rho * data.sqrt_eigenvalues**2) * inv_diag)
    lead = data.level + rho * data.l1 * (db @ a)
    tt, ts = data.q_t**2 + a1 + lead**2 * damp, -gamma * lead * damp
    det = (data.q_t**2 + a1) * ss + lead**2 * data.q_s**2 * damp
    return jnp.array([[ss, -ts], [-ts, tt]], dtype=b.dtype) / (rho * det)


def _linear_solver(data, rho, free_scale) -> _Linear:
    """Factor I_z + rho M^T M: diag(1 + rho sq^2 Lambda + rho l1^2) + rho b b^T, then Schur."""
    inv_diag = 1.0 / (1.0 + rho * data.sqrt_eigenvalues**2 + rho * data.l1**2)
    db = inv_diag * data.linear
    correction = db / jnp.sqrt(1.0 / rho + data.linear @ db)

    def e_inv(r):
        return inv_diag * r - correction * (correction @ r)

    cols = _coupling(data, rho, free_scale)
    solved = jax.vmap(e_inv, in_axes=1, out_axes=1)(cols)
    return _Linear(inv_diag, correction, cols, solved,
                   _schur_inverse(data, rho, inv_diag, db, free_scale))


def solve(data: ConicData, target, *, free_scale: bool, solver: SolverOptions | None = None,
          rho: float = 1.0, relaxation: float = 1.6) -> ConeProjection:
    """Project ``target`` (standard basis) onto cone(K - x0) (``free_scale``) or K - x0 (t = 1).

    See the module docstring. Returns the point (standard basis), the scale t (1 for a body
    projection) and a SolverInfo whose residual is the relative primal/dual residual.
    ``solver`` (:class:`~phasetrans.estimate.SolverOptions`, default None: :data:`SOLVER`,
    tol 1e-4, 20000 iterations, a residual check every 20: :func:`phasetrans._loops.iterate`)
    bounds that residual and the iterations; ``rho`` is the penalty on the equilibrated problem,
    kept fixed: residual balancing [Boyd et al. 2011 sec. 3.4.1] was tried on trained networks and
    its residuals stopped tracking the error (7% off at a residual of 1e-3; fixed rho = 1:
    0.1%); ``relaxation`` is ADMM's over-relaxation alpha in (0, 2) [Boyd et al. 2011
    sec. 3.4.3]. ``solver``'s fields are Python numbers even under ``jit`` (a static type).
    """
    solver = SolverOptions.check(solver, SOLVER, dtype=target.dtype, float32=SOLVER.tol,
                                 float64=SOLVER.tol)
    dtype = target.dtype
    dim = data.sqrt_eigenvalues.shape[0]  # D, or r + D for a low-rank H
    g = to_eigen(data.eigenvectors, target)
    residual_floor = jnp.maximum(jnp.linalg.norm(target), jnp.finfo(dtype).tiny)
    one = jnp.ones((), dtype)
    # in fixed mode t = 1, i.e. t' = 1 / unit: its column of M moves to the right-hand side
    t_fixed = (one / data.unit).astype(dtype)
    fixed_t = _apply_m(data, jnp.zeros(dim, dtype), t_fixed, jnp.zeros((), dtype))

    def unknowns_to_m(x):
        z, rest = x
        t, s = (rest[0], rest[1]) if free_scale else (t_fixed, rest[0])
        return _apply_m(data, z, t, s)

    def linear_step(y, u):
        rhs = tuple(a - b for a, b in zip(y, u, strict=True))
        if not free_scale:
            rhs = tuple(a - b for a, b in zip(rhs, fixed_t, strict=True))
        rz, rt, rs = _apply_mt(data, *rhs)
        rz = g + rho * rz
        rest = rho * (jnp.stack([rt, rs]) if free_scale else jnp.stack([rs]))
        ez = lin.inv_diag * rz - lin.correction * (lin.correction @ rz)
        tau = lin.schur_inv @ (rest - lin.coupling.T @ ez)
        return ez - lin.coupling_solved @ tau, tau

    def project(w):
        y, t, s = project_rotated_soc(w[0], w[1], w[2])
        v, m = project_l1_cone(w[3], w[4]).point
        return (y, t, s, v, m)

    def step(state):
        x, y, u = state
        x = linear_step(y, u)
        mx = unknowns_to_m(x)
        relaxed = tuple(relaxation * a + (1.0 - relaxation) * b for a, b in zip(mx, y,
                                                                                   strict=True))
        y_new = project(tuple(a + b for a, b in zip(relaxed, u, strict=True)))
        u = tuple(a + b - c for a, b, c in zip(u, relaxed, y_new, strict=True))
        return x, y_new, u

    def norm(parts):
        return jnp.sqrt(sum(jnp.sum(p**2) for p in parts))

    def residual(previous, state):
        # relative residuals; ||g|| floors the scales, which all vanish when Pi(g) = 0
        x, y, u = state
        mx = unknowns_to_m(x)
        primal = norm([a - b for a, b in zip(mx, y, strict=True)]) / jnp.maximum(
            jnp.maximum(norm(mx), norm(y)), residual_floor)
        dual = norm(_apply_mt(data, *[a - b for a, b in zip(y, previous[1], strict=True)])) / (
            jnp.maximum(norm(_apply_mt(data, *u)), residual_floor))
        return jnp.maximum(primal, dual)

    rho = jnp.asarray(rho, dtype)
    lin = _linear_solver(data, rho, free_scale)
    k = 2 if free_scale else 1
    x0 = (jnp.zeros(dim, dtype), jnp.zeros(k, dtype))
    y0 = project(unknowns_to_m(x0))
    u0 = tuple(jnp.zeros_like(a) for a in y0)
    (x, _, _), info = _loops.iterate(step, (x0, y0, u0), residual=residual, tol=solver.tol,
                                     max_iters=solver.max_iters,
                                     check_every=solver.check_every)
    z, rest = x
    scale = data.unit * rest[0] if free_scale else one
    return ConeProjection(from_eigen(data.eigenvectors, z), info, scale)
