"""Cone projection of the l1-induced body: a short conic-ADMM warm start, then semismooth Newton.

The cone is C = cone(K - x0) of :class:`phasetrans.geometry.bodies.L1InducedCone`, K - x0 = {F <= 0}
with (see :mod:`phasetrans.geometry.conic_admm`)

    F(p) = 1/2 p^T H p + b^T p + lam ||x0 + p||_1 - c,    F(0) > 0 (x0 outside K).

Pi_C(g) = z = t p with w = x0 + p in K and t > 0 the scale. With mu > 0 the multiplier of
t F(z / t) <= 0 and a = mu / t, the KKT conditions of min 1/2 ||z - g||^2 over C are
[Rockafellar, Convex Analysis, sec. 28; the t-derivative of the perspective t F(z / t)]

    (1) w = soft(u, a lam),  u = x0 + g / t - a (H p + b)   (w = Pi_K(x0 + g / t), multiplier a)
    (2) E2 = lam s^T x0 - c - 1/2 p^T H p = 0,  s = clip(u / (a lam), -1, 1) in d||w||_1
        (stationarity in t)
    (3) E3 = F(p) = 0                                        (the constraint is active)

Equation (1) is the fixed-point form of the lasso optimality condition; soft-thresholding is
semismooth, so Newton's method with a generalised Jacobian (derivative 1 where |u_i| > a lam,
0 elsewhere) converges locally superlinearly [Qi & Sun 1993, Math. Program. 58; the lasso
SSN of Li, Sun & Toh 2018, SIAM J. Optim. 28, sec. 3]. A Newton step on (w, t, a) sets
dw = -E1 off the active set A = {|u_i| > a lam} and solves (I + a H)_AA on A, with three
right-hand sides (the residual, the t- and the a-column), by block conjugate gradients
preconditioned with ((I + a H)^-1)_AA = (V diag(1 / (1 + a lambda)) V^T)_AA (exact when every
coordinate is active): one product with the dense H = V diag(lambda) V^T (formed once) and two
with V per CG iteration; a 2 x 2 system then gives (dt, da). At a small l1 strength the
multiplier a is large (a ~ 4e4 on mnist1d 40-32-32-10 at lam = 1e-5, lambda_max 3.9: the
system's condition ~1.6e5), and plain CG took 61 706 iterations for the 47 Newton steps of one
sample, the preconditioned one 3226 (1784 vs 16 on the system of
tests/test_l1_projection.py). Steps are damped by
backtracking on the merit ||(t E1 / ||g||, E2 / s_F, E3 / s_F)||, s_F = |c| + lam ||x0||_1, and
keep t, a > 0.

Newton's method is only locally convergent here. Measured on a trained digits 64-16-10
network (D = 1184, x0 at removal ratio 0.85, 16 samples): from the ADMM's point after 100
iterations (t a factor 8 off) the line search stalls; after 400 iterations all 16 samples
converge in 9-12 steps of 40-60 CG iterations each (the ADMM alone: ~14 500 iterations at
tol 1e-3). Anderson acceleration of the ADMM itself [Walker & Ni 2011; Zhang, O'Donoghue &
Boyd 2020] was tried first and did not lower its iteration count. So the solve is

1. ``warm_iters`` iterations of :func:`phasetrans.geometry.conic_admm.solve` (its start and
   data);
2. at most ``newton_iters`` (default 100) damped Newton steps from w = x0 + z / t (z the warm
   start's point) and the multiplier a of :func:`initial_multiplier`, their CG iterations counted
   against what is left of ``solver.max_iters``, first at t = t_in, the minimiser of the
   perspective t F(g / t) (:func:`interior_scale`, computed anyway), then, while they miss the
   tolerance, at the warm start's own t0, 2 t_in, t_in / 2, 4 t_in, ... (:data:`RESTART_FACTOR`):
   near the boundary of K the warm start's t is far too small, t_in within a factor 0.4-5 of
   the solution's (mnist1d 40-32-32-10 just past the exit, 16 samples: t_in first, 11 s and
   ~440 iterations a sample; t0 first, 43 s and up to 6100, its Newton run spending 30 steps);
3. if the Newton certificate (below) misses ``solver.tol``, the full reference ADMM
   (``solver``'s budget) from scratch, then up to ``newton_iters`` Newton steps from its
   answer (its t, the multiplier of :func:`initial_multiplier`); the better certified of the
   two Newton runs is the answer (no fallback when ``warm_iters >= solver.max_iters``: the
   warm start was that ADMM). The ADMM's answer is never returned on its own residual: that
   residual bounds its KKT conditions in the conic form, not its answer (except near
   Pi_C(g) = 0, :data:`POLAR`). Where neither Newton run is certified the answer is the
   ADMM's, unconverged, its residual the certificate at it. On mnist1d
   40-32-32-10 at lam = 1e-5 (x0 at p = 0.45, float32, 4 samples) the ADMM met its tolerance
   (residual 0.94e-3 - 0.99e-3, 10 700 - 13 800 iterations) with ||Pi_C(g)||^2 = 1183 - 1235
   where the certified answers are 382 - 438 (364 for one sample in float64 to 1e-12); this
   module's certificate at the ADMM's points is 0.08 - 0.12, and Newton from them reaches the
   certified answers (to 1e-3 in 37 - 62 steps; one stops at 1.02e-3, reported unconverged).

A g inside C (multiplier 0: (2) does not hold, t is not unique) is recognised first by
:func:`interior_scale` and projects onto itself (residual 0).

Benchmark (benchmarks/bench_l1_body.py, float32, 16 samples, D = 1184): 3.7 s vs 62.7 s for
the ADMM (16.8x; 10-11x when the cone is a compile-time constant), delta/D within 2.3e-6 of a
float64 solve where the ADMM at the same tol is 2.8e-3 to 5.6e-3 off.

Certificate (``SolverInfo.residual`` of every answer, 0 for a g inside C): the relative KKT
residual max(t ||E1|| / ||g||, |E2| / s_F, |E3| / s_F, |z^T (g - z)| / ||g||^2), 0 exactly at
Pi_C(g); ``converged`` is ``residual <= solver.tol``. An unconverged answer is the fallback
ADMM's point; without a fallback, the Newton run of the best certificate (the warm start's point
if none stayed finite, residual inf).
``iterations`` counts ADMM iterations plus CG iterations of the Newton steps (each one product
with H and two with V: comparable to one and a half ADMM iterations).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from phasetrans.estimate import SolverInfo, SolverOptions
from phasetrans.geometry import conic_admm
from phasetrans.geometry.projections import ConeProjection


class L1ConeProblem(NamedTuple):
    """What the Newton steps need (standard basis): the dense H, b, c, x0, lam, and H's
    eigendecomposition (V (D, D), lambda (D,)) for the CG preconditioner."""

    hessian: jax.Array
    linear: jax.Array
    level: jax.Array
    apex: jax.Array
    l1: jax.Array
    eigenvectors: jax.Array
    eigenvalues: jax.Array


def problem(eigenvalues, eigenvectors, *, gradient, center, l1, epsilon, apex) -> L1ConeProblem:
    """b = g* + H (x0 - w*), c = eps + lam ||w*||_1 - g*^T (x0 - w*) - 1/2 (x0 - w*)^T H (x0 - w*)
    for the full eigendecomposition H = V diag(lambda) V^T (V (D, D))."""
    if eigenvectors.shape[0] != eigenvectors.shape[1]:
        raise ValueError("the Newton projection needs H's full eigendecomposition (D, D); "
                         "use the conic ADMM for the low-rank model")
    hessian = conic_admm.dense_matrix(eigenvalues, eigenvectors)
    q0 = apex - center
    hq0 = hessian @ q0
    level = epsilon + l1 * jnp.sum(jnp.abs(center)) - gradient @ q0 - 0.5 * q0 @ hq0
    return L1ConeProblem(hessian, gradient + hq0, level, apex, jnp.asarray(l1, apex.dtype),
                         eigenvectors, eigenvalues)


def _soft(u, tau):
    return jnp.sign(u) * jnp.maximum(jnp.abs(u) - tau, 0.0)


class _Newton(NamedTuple):
    w: jax.Array
    t: jax.Array
    a: jax.Array
    merit: jax.Array
    residual: jax.Array
    steps: jax.Array
    cg_iters: jax.Array
    stalled: jax.Array


def _block_cg(apply, rhs, *, tol, max_iters, precondition=lambda v: v):
    """Solve apply(X) = rhs (D, k) column by column (SPD), jointly: one apply per iteration;
    preconditioned conjugate gradients with the SPD ``precondition`` (an approximate inverse
    of ``apply``; default none). Stops when every ||residual|| <= tol ||rhs||."""
    norm_b = jnp.maximum(jnp.linalg.norm(rhs, axis=0), jnp.finfo(rhs.dtype).tiny)
    x = jnp.zeros_like(rhs)
    r = rhs
    z = precondition(r)
    rz = jnp.sum(r * z, axis=0)

    def cond(state):
        _, r, _, _, it = state
        return (it < max_iters) & jnp.any(jnp.linalg.norm(r, axis=0) > tol * norm_b)

    def body(state):
        x, r, p, rz, it = state
        ap = apply(p)
        pap = jnp.sum(p * ap, axis=0)
        alpha = jnp.where(pap > 0, rz / jnp.where(pap > 0, pap, 1.0), 0.0)
        x = x + alpha * p
        r = r - alpha * ap
        z = precondition(r)
        rz_new = jnp.sum(r * z, axis=0)
        beta = jnp.where(rz > 0, rz_new / jnp.where(rz > 0, rz, 1.0), 0.0)
        return x, r, z + beta * p, rz_new, it + 1

    x, _, _, _, it = jax.lax.while_loop(cond, body, (x, r, z, rz, jnp.asarray(0, jnp.int32)))
    return x, it


def _residuals(prob: L1ConeProblem, g, w, t, a):
    p = w - prob.apex
    hp = prob.hessian @ p
    lam = prob.l1
    u = prob.apex + g / t - a * (hp + prob.linear)
    e1 = w - _soft(u, a * lam)
    s = jnp.clip(u / (a * lam), -1.0, 1.0)
    e2 = lam * (s @ prob.apex) - prob.level - 0.5 * p @ hp
    e3 = 0.5 * p @ hp + prob.linear @ p + lam * jnp.sum(jnp.abs(w)) - prob.level
    return e1, e2, e3, u, hp


def _scale_f(prob):
    """s_F = |c| + lam ||x0||_1, the scale of E2 and E3."""
    return jnp.abs(prob.level) + prob.l1 * jnp.sum(jnp.abs(prob.apex))


def _merit(prob, g, w, t, a):
    e1, e2, e3, _, _ = _residuals(prob, g, w, t, a)
    scale_f = _scale_f(prob)
    norm_g2 = jnp.maximum(g @ g, jnp.finfo(g.dtype).tiny)
    return jnp.sqrt(t**2 * jnp.sum(e1**2) / norm_g2 + (e2**2 + e3**2) / scale_f**2)


def certificate(prob: L1ConeProblem, g, w, t, a):
    """The relative KKT residual of the module docstring at (w, t, a); 0 at Pi_C(g)."""
    e1, e2, e3, _, _ = _residuals(prob, g, w, t, a)
    scale_f = _scale_f(prob)
    norm_g2 = jnp.maximum(g @ g, jnp.finfo(g.dtype).tiny)
    z = t * (w - prob.apex)
    return jnp.max(jnp.stack([t * jnp.linalg.norm(e1) / jnp.sqrt(norm_g2),
                              jnp.abs(e2) / scale_f, jnp.abs(e3) / scale_f,
                              jnp.abs(z @ (g - z)) / norm_g2]))


def _active_system(prob: L1ConeProblem, a, act):
    """The Newton step's operator on (D, k) blocks, (I + a H)_AA on the active set A (``act``:
    1.0 on A, 0.0 off it) and the identity off A, and its preconditioner, the same with
    ((I + a H)^-1)_AA = (V diag(1 / (1 + a lambda)) V^T)_AA on A."""
    inact = 1.0 - act
    inverse = 1.0 / (1.0 + a * prob.eigenvalues)

    def apply(v):
        return act[:, None] * (v + a * (prob.hessian @ (act[:, None] * v))) + inact[:, None] * v

    def precondition(v):
        v_act = act[:, None] * v
        full = prob.eigenvectors @ (inverse[:, None] * (v_act.T @ prob.eigenvectors).T)
        return act[:, None] * full + inact[:, None] * v

    return apply, precondition


def newton(prob: L1ConeProblem, g, w, t, a, *, max_steps: int, cg_tol, cg_max_iters: int,
           stop, cg_budget=None):
    """Damped semismooth Newton on (1)-(3) from (w, t, a); stops when :func:`certificate` is
    <= ``stop``, when ``cg_budget`` CG iterations are spent (None: no bound),
    after ``max_steps`` steps, or when backtracking fails (``stalled``)."""
    dtype = g.dtype
    lam = prob.l1
    hessian = prob.hessian
    budget = jnp.iinfo(jnp.int32).max if cg_budget is None else cg_budget

    def step(state: _Newton) -> _Newton:
        w, t, a = state.w, state.t, state.a
        e1, e2, e3, u, hp = _residuals(prob, g, w, t, a)
        act = (jnp.abs(u) > a * lam).astype(dtype)
        inact = 1.0 - act
        dw_off = -e1 * inact
        h_col = hp + prob.linear + lam * jnp.sign(u)
        rhs = jnp.stack([act * (-e1 - a * (hessian @ dw_off)), act * g / t**2, act * h_col],
                        axis=1)

        apply, precondition = _active_system(prob, a, act)
        sol, cg_iters = _block_cg(apply, rhs, tol=cg_tol, precondition=precondition,
                                  max_iters=jnp.minimum(cg_max_iters, budget - state.cg_iters))
        x_r, x_t, x_a = sol[:, 0], sol[:, 1], sol[:, 2]
        dw0 = dw_off + x_r
        x_off = prob.apex * inact
        e_vec = hessian @ x_off + hp
        k_vec = hp + prob.linear + lam * jnp.sign(w)
        # linearised (2), (3) with dw = dw0 - x_t dt - x_a da
        m11 = e_vec @ x_t - (x_off @ g) / (a * t**2)
        m12 = e_vec @ x_a - x_off @ (hp + prob.linear) / a - (x_off @ u) / a**2
        m21, m22 = -(k_vec @ x_t), -(k_vec @ x_a)
        r1 = -(e2 - e_vec @ dw0)
        r2 = -(e3 + k_vec @ dw0)
        det = m11 * m22 - m12 * m21
        det = jnp.where(jnp.abs(det) > 0, det, jnp.finfo(dtype).tiny)
        dt = (r1 * m22 - m12 * r2) / det
        da = (m11 * r2 - m21 * r1) / det
        dw = dw0 - x_t * dt - x_a * da

        def trial(carry):
            alpha, _, _ = carry
            alpha = alpha * 0.5
            return alpha, *_try(alpha)

        def _try(alpha):
            tn, an = t + alpha * dt, a + alpha * da
            ok = (tn > 0) & (an > 0)
            merit = _merit(prob, g, w + alpha * dw, jnp.where(ok, tn, t), jnp.where(ok, an, a))
            return jnp.where(ok & jnp.isfinite(merit), merit, jnp.inf), ok

        def searching(carry):
            alpha, merit, _ = carry
            return (merit > (1.0 - 1e-4 * alpha) * state.merit) & (alpha > 1e-6)

        one = jnp.ones((), dtype)
        alpha, merit, _ = jax.lax.while_loop(searching, trial, (one, *_try(one)))
        accept = merit < state.merit
        w, t, a = (jnp.where(accept, w + alpha * dw, w), jnp.where(accept, t + alpha * dt, t),
                   jnp.where(accept, a + alpha * da, a))
        return _Newton(w, t, a, jnp.where(accept, merit, state.merit),
                       certificate(prob, g, w, t, a), state.steps + 1,
                       state.cg_iters + cg_iters, ~accept)

    def running(state: _Newton):
        return ((state.steps < max_steps) & (state.residual > stop) & ~state.stalled
                & (state.cg_iters < budget))

    start = _Newton(w, t, a, _merit(prob, g, w, t, a), certificate(prob, g, w, t, a),
                    jnp.asarray(0, jnp.int32),
                    jnp.asarray(0, jnp.int32), jnp.asarray(False))
    return jax.lax.while_loop(running, step, start)


def initial_multiplier(prob: L1ConeProblem, g, w, t):
    """The least-squares a of r + a h = 0 on supp(w), r = w - x0 - g / t,
    h = H p + b + lam sign w (entries above sqrt(machine eps) max |w|: an ADMM point is sparse
    only to rounding); where that a is not positive (r not opposed to h), the scale ||r|| / ||h||
    instead. The multiplier is positive at every projection with an active constraint, and a
    start at a ~ 0 is a trap: Newton's steps there shrink a further and the line search stalls
    (measured in float32 on a trained mnist1d 40-32-32-10 network, D = 2624, lambda = 5e-4, just
    past x_p's exit from the body: the least-squares a from the warm point at t = t_in was <= 0 on
    the samples examined; on two of them Newton then stalled at a ~ 1e-8, residual 0.61, from
    every start within 2^5 of t_in, and the 10 starts certified 11 of 16 samples; with this
    fallback 16 of 16, at a ~ 1e-3. On ill-conditioned synthetic bodies, D = 200, x_k at and
    just past the exit, 2 starts certified 5-13 of 16 samples before, 9-16 after.)"""
    p = w - prob.apex
    support = jnp.abs(w) > jnp.sqrt(jnp.finfo(g.dtype).eps) * jnp.max(jnp.abs(w))
    h = (prob.hessian @ p + prob.linear + prob.l1 * jnp.sign(w)) * support
    r = (p - g / t) * support
    tiny, eps = jnp.finfo(g.dtype).tiny, jnp.finfo(g.dtype).eps
    least_squares = -(r @ h) / jnp.maximum(h @ h, tiny)
    scale = jnp.linalg.norm(r) / jnp.maximum(jnp.linalg.norm(h), tiny)
    return jnp.maximum(jnp.where(least_squares > eps, least_squares, scale), eps)


def interior_scale(prob: L1ConeProblem, g, *, num_iters: int = 120):
    """(t*, G(g, t*)) with t* minimising the perspective G(g, t) = t F(g / t) over t > 0:
    g lies in C (and Pi_C(g) = g, multiplier 0, where (2) does not apply) iff G(g, t*) <= 0.
    G is convex in t with the increasing derivative -g^T H g / (2 t^2) + lam sign(g + t x0)^T x0
    - c, so bisection on its sign over log t in [-60, 60] finds t*."""
    ghg = g @ (prob.hessian @ g)
    bg = prob.linear @ g

    def value(t):
        return ghg / (2 * t) + bg + prob.l1 * jnp.sum(jnp.abs(g + t * prob.apex)) - prob.level * t

    def slope(t):
        return (-ghg / (2 * t**2) + prob.l1 * jnp.sign(g + t * prob.apex) @ prob.apex
                - prob.level)

    def step(_, bracket):
        lo, hi = bracket
        mid = 0.5 * (lo + hi)
        up = slope(jnp.exp(mid)) > 0
        return jnp.where(up, lo, mid), jnp.where(up, mid, hi)

    lo, hi = jax.lax.fori_loop(0, num_iters, step,
                               (jnp.asarray(-60.0, g.dtype), jnp.asarray(60.0, g.dtype)))
    t = jnp.exp(0.5 * (lo + hi))
    return t, value(t)


RESTART_FACTOR = 2.0
"""Newton's starts are t_in, the warm start's t0, then t_in 2^1, 2^-1, 2^2, ... (t_in of
:func:`interior_scale`):
near the boundary of K (apex value F(0) small) the ADMM's t approaches the solution's from far
below, and Newton from there stalls. Measured (float32 unless said): digits 64-16-10 at removal
ratio 0.82, t = 4.8 after 400 ADMM iterations, 38 after 19 000 (still unconverged), 223 at the
solution, t_in = 144 (float64: Newton from 10 or 400 stalled, from 20 to 200 it converged in
8-11 steps to residual 1e-14); digits 64-32-32-10 just past the exit from K, t0 = 5.5, t_in
1000-1300, solution 6100-6700: restarts at t0 2^k certified 8 of 8 samples in 38.8 s (up to 4715
iterations), restarts around t_in in 13.0 s (up to 2566). On a synthetic ill-conditioned body
(eigenvalues 1e-6 to 10) the solution's t is 0.4-1.0 t_in, hence the steps below t_in too."""

POLAR = 2.0
"""A g in the polar cone has Pi_C(g) = 0: t -> 0 there, Newton's equations degenerate and the
certificate has no solution to certify. So a fallback ADMM answer with ||z||^2 <= POLAR tol
||g||^2 that met the ADMM's tolerance is taken as converged on the ADMM's residual; if g is
polar, that moves delta / D by at most POLAR tol on average (E ||g||^2 = D), below the float32
ADMM's own error of 2.8e-3 - 5.6e-3 in delta / D (module docstring). On a D = 8 body seen from
x0 = -w* (tests/test_l1_body.py), 7 of 64 samples are polar (float64: ||Pi||^2 < 1e-13); the
float32 ADMM put them at ||z||^2 / ||g||^2 = 2e-4 - 1.6e-3, Newton from its points stalled on 2,
and the nearest non-polar sample (||Pi||^2 = 0.0016) was at 4.2e-3, certified by Newton."""

SOLVER = SolverOptions(tol=None, max_iters=20000, check_every=20)
"""The fallback ADMM's budget and the tolerance of both certificates (tol None = 1e-3 in
float32, 1e-4 in float64); :data:`phasetrans.geometry.bodies.L1_CONE_SOLVER` is this object."""


def solve(data: conic_admm.ConicData, prob: L1ConeProblem, g, *,
          solver: SolverOptions | None = None, warm_iters: int = 400, newton_iters: int = 100,
          cg_max_iters: int = 300, newton_starts: int = 10,
          fallback: bool = True) -> ConeProjection:
    """Pi_C(g) by the warm start + Newton + fallback of the module docstring.

    ``data`` is the conic ADMM's form of the same K - x0 (:meth:`L1InducedBody.conic_data`),
    ``prob`` this module's (:func:`problem`). Newton starts at the perspective's minimiser
    t_in and, while its certificate misses ``solver.tol``, again at the warm start's scale t0,
    2 t_in, t_in / 2, 4 t_in, ... (:data:`RESTART_FACTOR`; at most ``newton_starts`` starts in
    all; the best certificate is kept), then from the fallback ADMM's answer. Returns the
    point, its SolverInfo (the certificate as residual) and t.
    """
    solver = SolverOptions.check(solver, SOLVER, dtype=g.dtype, float32=1e-3, float64=1e-4)
    dtype = g.dtype
    cg_tol = 1e-5 if dtype == jnp.float32 else 1e-10
    # polish below the tolerance, down to what the dtype can certify: in float32 the
    # certificate's floor was ~3.5e-5 on a trained mnist1d network (D = 2624), so a target of
    # 100 eps = 1.2e-5 kept Newton stepping (20-30 steps, ~5000 CG iterations) where its answer
    # had long met the tolerance; at 1000 eps the delta estimate moved by 2e-5 (relative) for a
    # third of the iterations
    stop = max(1e-3 * solver.tol, 1000.0 * float(jnp.finfo(dtype).eps))
    warm = conic_admm.solve(data, g, free_scale=True,
                            solver=solver._replace(max_iters=min(warm_iters, solver.max_iters)))
    t0 = jnp.maximum(warm.scale, jnp.finfo(dtype).tiny)
    budget = solver.max_iters - warm.info.iterations
    # the perspective's minimiser: g in C exactly when G(g, t_in) <= 0 (below), and the centre
    # of the restarts (near the body's boundary much closer to the solution's t than t0)
    t_in, g_value = interior_scale(prob, g)

    def attempt(start, spent):  # Newton from the warm point at t_in, t0, then t_in 2^1, 2^-1, ..
        m = start - 1
        exponent = jnp.where(m % 2 == 1, (m + 1) // 2, -((m + 1) // 2)).astype(dtype)
        t = jnp.where(start == 1, t0, t_in * RESTART_FACTOR ** exponent)  # start 0: 2^0
        w = prob.apex + warm.point / t
        run = newton(prob, g, w, t, initial_multiplier(prob, g, w, t), max_steps=newton_iters,
                     cg_tol=cg_tol, cg_max_iters=cg_max_iters, stop=stop, cg_budget=budget - spent)
        return run._replace(residual=jnp.where(jnp.isfinite(run.residual), run.residual, jnp.inf))

    def restarting(state):  # (a g inside C projects onto itself below: no restarts for it)
        start, best, spent = state
        return ((start < newton_starts) & (best.residual > solver.tol) & (spent < budget)
                & (g_value > 0))

    def restart(state):
        start, best, spent = state
        run = attempt(start, spent)
        better = run.residual < best.residual
        best = jax.tree.map(lambda new, old: jnp.where(better, new, old), run, best)
        return start + 1, best, spent + run.cg_iters

    first = attempt(jnp.asarray(0, jnp.int32), jnp.asarray(0, jnp.int32))
    _, run, cg_iters = jax.lax.while_loop(restarting, restart,
                                          (jnp.asarray(1, jnp.int32), first, first.cg_iters))
    iterations = warm.info.iterations + cg_iters
    # g in C: Pi_C(g) = g exactly (the Newton system assumes an active constraint)
    inside = g_value <= 0
    need = ~inside & (run.residual > solver.tol)
    if fallback and warm_iters < solver.max_iters:  # (else the warm start had the whole budget)
        # The reference ADMM for the samples that need it (inside a vmap a lax.cond or a
        # while_loop around it ran it for every sample, measured; the projection of 0 instead
        # stops after one residual check, so the others cost one block of iterations), then
        # Newton from its answer: the ADMM's residual does not bound its answer (module
        # docstring), the KKT certificate does. (Lanes that need no fallback stop at once.)
        full = conic_admm.solve(data, jnp.where(need, g, 0.0), free_scale=True, solver=solver)
        t = jnp.maximum(full.scale, jnp.finfo(dtype).tiny)
        w = prob.apex + full.point / t
        a = initial_multiplier(prob, g, w, t)
        polish = newton(prob, g, w, t, a,
                        max_steps=newton_iters, cg_tol=cg_tol, cg_max_iters=cg_max_iters,
                        stop=jnp.where(need, stop, jnp.inf), cg_budget=solver.max_iters)
        polish = polish._replace(residual=jnp.where(jnp.isfinite(polish.residual),
                                                    polish.residual, jnp.inf))
        better = need & (polish.residual < run.residual)
        run = jax.tree.map(lambda new, old: jnp.where(better, new, old), polish, run)
        iterations = iterations + jnp.where(need, full.info.iterations + polish.cg_iters, 0)
        # still uncertified: the ADMM's answer (a stalled Newton point can be further off) with
        # the certificate at it, or, near Pi_C(g) = 0, the ADMM's own residual (:data:`POLAR`)
        admm = need & (run.residual > solver.tol)
        polar = full.info.converged & (jnp.sum(full.point**2) <= POLAR * solver.tol * (g @ g))
        at_admm = jnp.where(polar, full.info.residual,
                            certificate(prob, g, w, t, a))
        run = run._replace(residual=jnp.where(admm, at_admm, run.residual))
    else:
        full, admm = warm, jnp.asarray(False)
    finite = jnp.isfinite(run.residual)
    point = jnp.where(admm | ~finite, full.point, run.t * (run.w - prob.apex))
    scale = jnp.where(admm | ~finite, full.scale, run.t)
    point = jnp.where(inside, g, point)
    scale = jnp.where(inside, t_in, scale)
    residual = jnp.where(inside, 0.0, run.residual)
    return ConeProjection(point, SolverInfo(iterations, residual, residual <= solver.tol), scale)
