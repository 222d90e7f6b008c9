"""Projection algorithms without a one-line closed form; each returns ``(point, SolverInfo)``.

- :func:`onto_ellipsoid`: {x : 1/2 sum_i lambda_i (x_i - c_i)^2 <= eps}, the quadratic loss
  model's body in the Hessian's eigenbasis [ZZSL sec. 4]; Newton on the Lagrange multiplier.
- :func:`onto_generated_cone`: cone(K) = {t x : t >= 0, x in K} of any convex body with a
  projection and a support function (0 not in K); golden-section search over the scale t with a
  Moreau/KKT certificate.
- :func:`onto_l1_descent_cone`: the descent cone of ||.||_1 at x0 [ALMT sec. 4.5], by Moreau
  and Newton on the piecewise-linear multiplier.

The l1-induced body and its cone are projected by the conic ADMM of
:mod:`phasetrans.geometry.conic_admm`. Closed-form projections (balls, orthant, circular cone) live
with their bodies in :mod:`phasetrans.geometry.bodies`. All functions act on one vector (D,); batch
with ``jax.vmap``.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from phasetrans import _loops
from phasetrans.estimate import SolverInfo

_GOLDEN = 0.5 * (3.0 - 5.0**0.5)


class Projection(NamedTuple):
    """A projection: the ``point`` and how the solver stopped (``info``)."""

    point: jax.Array
    info: SolverInfo


class ConeProjection(NamedTuple):
    """A projection onto a generated cone: ``point``, ``info``, and the scale t* with
    ``point`` in t* K (``point / scale`` recovers a point of K when scale > 0)."""

    point: jax.Array
    info: SolverInfo
    scale: jax.Array


def onto_ellipsoid(y, *, eigenvalues, center, epsilon, max_iters: int = 40) -> Projection:
    """Euclidean projection of y onto E = {x : 1/2 sum lambda_i (x_i - c_i)^2 <= epsilon}.

    Outside E the projection is x_i = c_i + r_i / (1 + mu lambda_i), r = y - c, with mu > 0 the
    root of phi(mu) = 1/2 sum lambda_i r_i^2 / (1 + mu lambda_i)^2 - epsilon. phi is convex and
    decreasing, so Newton's method from mu = 0 increases monotonically to the root without
    overshooting (:func:`phasetrans._loops.monotone_newton`). ``info.residual`` is
    max(phi(mu), 0) / epsilon (0 inside E; converged below 1e3 machine epsilons).
    Arrays (D,), eigenvalues > 0, epsilon > 0.
    """
    r = y - center

    def minus_phi(mu):  # increasing and concave: the form monotone Newton climbs
        s = 1.0 / (1.0 + mu * eigenvalues)
        return (epsilon - 0.5 * jnp.sum(eigenvalues * r**2 * s**2),
                jnp.maximum(jnp.sum(eigenvalues**2 * r**2 * s**3), jnp.finfo(y.dtype).tiny))

    # full precision (stop_tol 0): the generated-cone search compares distances built on it
    mu, info = _loops.monotone_newton(minus_phi, jnp.zeros((), y.dtype), scale=epsilon,
                                      max_iters=max_iters, stop_tol=0.0)
    return Projection(center + r / (1.0 + mu * eigenvalues), info)


def onto_generated_cone(g, body, *, tol, num_iters: int = 60) -> ConeProjection:
    """Project g onto cone(K) for a body with ``project`` and ``support`` oracles, 0 not in K.

    t -> dist(g, tK) is convex (a distance to the convex set {(x, t) : x in tK} minimised over
    x), so golden-section search over t in [0, t_max] finds t*, and Pi(g) = t* Pi_K(g / t*).
    The bound t_max = 2 ||g|| / dist(0, K) holds because the projection p satisfies
    ||g - p|| <= ||g|| (t = 0 is feasible), hence ||p|| <= 2 ||g||. Each of ``num_iters`` steps
    shrinks the bracket by 0.618.

    ``info.residual`` is the Moreau/KKT certificate [Rockafellar, Convex Analysis, Thm 31.5]:
    p = Pi_C(g) iff p in C, <p, g - p> = 0 and g - p is in the polar cone (h_K(g - p) <= 0), so
    ``max(|<p, g - p>|, max(h_K(g - p), 0)) / ||g||^2``, ~0 at the optimum; ``converged`` is
    ``residual <= tol``.
    """
    norm_g = jnp.linalg.norm(g)
    distance = jnp.linalg.norm(body.project(jnp.zeros_like(g)))

    def dist2(t):
        t = jnp.maximum(t, 1e-30)
        return jnp.sum((g - t * body.project(g / t)) ** 2)

    def step(_, state):  # golden section, one new evaluation per step
        a, b, c, d, fc, fd = state
        left = fc < fd
        a, b = jnp.where(left, a, c), jnp.where(left, d, b)
        c_new, d_new = a + _GOLDEN * (b - a), b - _GOLDEN * (b - a)
        f_new = dist2(jnp.where(left, c_new, d_new))
        return (a, b, jnp.where(left, c_new, d), jnp.where(left, c, d_new),
                jnp.where(left, f_new, fd), jnp.where(left, fc, f_new))

    t_max = 2.0 * norm_g / distance
    a, b = jnp.zeros((), g.dtype), t_max
    c, d = a + _GOLDEN * (b - a), b - _GOLDEN * (b - a)
    a, b, *_ = jax.lax.fori_loop(0, num_iters, step, (a, b, c, d, dist2(c), dist2(d)))
    t = 0.5 * (a + b)
    # t* -> 0 means g lies in the polar cone: the projection is the apex 0.
    apex = (t < 1e-9 * t_max) | (dist2(t) >= norm_g**2)
    point = jnp.where(apex, 0.0, t * body.project(g / jnp.maximum(t, 1e-30)))
    residual = g - point
    certificate = jnp.maximum(jnp.abs(point @ residual),
                              jnp.maximum(body.support(residual), 0.0)) / norm_g**2
    info = SolverInfo(jnp.asarray(num_iters, jnp.int32), certificate, certificate <= tol)
    return ConeProjection(point, info, t)


def onto_l1_descent_cone(g, signs) -> Projection:
    """Projection onto the descent cone of ||.||_1 at x0 with ``signs`` = sign(x0) [ALMT 4.5].

    Moreau: Pi_C(g) = g - Pi_N(g) with N = {tau z : z_i = sign(x0_i) on the support,
    |z_i| <= 1 off it}. For fixed tau the best z is explicit and F(tau) = dist^2(g, tau dF) is
    convex and piecewise quadratic; tau* is the root of
    F'(tau)/2 = s tau - A - sum_off (|g_i| - tau)_+ (A = sum_S sign_i g_i), which is increasing,
    concave and piecewise linear, so monotone Newton from tau = 0 reaches it exactly in a few
    steps (at most 50). ``info.residual`` is max(-F'(tau)/2, 0) / (|A| + sum_off |g_i| + 1),
    stopping below 1e-6.
    """
    on = signs != 0
    off_abs = jnp.where(on, 0.0, jnp.abs(g))
    count = jnp.sum(on)
    total = jnp.sum(jnp.where(on, signs * g, 0.0))

    def slope(tau):
        return (count * tau - total - jnp.sum(jnp.maximum(off_abs - tau, 0.0)),
                jnp.maximum(count + jnp.sum(off_abs > tau), 1).astype(g.dtype))

    tau, info = _loops.monotone_newton(slope, jnp.zeros((), g.dtype),
                                       scale=jnp.abs(total) + jnp.sum(off_abs) + 1.0,
                                       tol=1e-6)
    normal = jnp.where(on, tau * signs, jnp.clip(g, -tau, tau))
    return Projection(g - normal, info)
