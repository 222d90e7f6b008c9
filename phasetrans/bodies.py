"""Convex bodies and cones as small pytrees (NamedTuples) with the oracles they support.

Bodies offer ``support(g) = sup_{x in K} <g, x>`` and ``project(y)`` (Euclidean projection);
cones offer ``project(g)``. All oracles act on one vector (D,) and are jit/vmap friendly; batch
with ``jax.vmap``. Integer fields (``dim``) are read in Python only. Constructors validate their
arguments (build bodies with these functions-as-classes, not with raw ``tuple`` calls). The
l1-induced body of a trained network and the cone it generates live in :mod:`phasetrans.l1_body`.
[Amelunxen, Lotz, McCoy, Tropp 2014 (ALMT) sec. 2-4 for the cones; Rockafellar, Convex
Analysis, for support functions and the Moreau decomposition.]
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from optax import projections

from phasetrans import _checks, solvers


def _dim_radius(dim, radius):
    return _checks.positive_int("dim", dim), _checks.real("radius", radius, positive=True)


class L2Ball(NamedTuple):
    """{x : ||x||_2 <= radius} in R^dim; h(g) = radius ||g||."""

    dim: int
    radius: float

    @classmethod
    def create(cls, dim: int, radius: float = 1.0) -> L2Ball:
        return cls(*_dim_radius(dim, radius))

    def support(self, g):
        return self.radius * jnp.linalg.norm(g)

    def project(self, y):
        return y * jnp.minimum(1.0, self.radius / jnp.maximum(jnp.linalg.norm(y), 1e-30))


class L1Ball(NamedTuple):
    """{x : ||x||_1 <= radius}; h(g) = radius ||g||_inf; projection by optax (sort-based)."""

    dim: int
    radius: float

    @classmethod
    def create(cls, dim: int, radius: float = 1.0) -> L1Ball:
        return cls(*_dim_radius(dim, radius))

    def support(self, g):
        return self.radius * jnp.max(jnp.abs(g))

    def project(self, y):
        return projections.projection_l1_ball(y, scale=self.radius)


class LinfBall(NamedTuple):
    """{x : ||x||_inf <= radius} (the cube); h(g) = radius ||g||_1; projection = clipping."""

    dim: int
    radius: float

    @classmethod
    def create(cls, dim: int, radius: float = 1.0) -> LinfBall:
        return cls(*_dim_radius(dim, radius))

    def support(self, g):
        return self.radius * jnp.sum(jnp.abs(g))

    def project(self, y):
        return jnp.clip(y, -self.radius, self.radius)


class Ellipsoid(NamedTuple):
    """{x : sum_i ((x_i - c_i) / a_i)^2 <= 1}, axis-aligned with semi-axes a (rotate the input
    for a general one: for H = V diag(lambda) V^T and {1/2 q^T H q <= eps}, a = sqrt(2 eps /
    lambda) in the eigenbasis V^T x). h(g) = <g, c> + sqrt(sum a_i^2 g_i^2)."""

    semi_axes: jax.Array
    center: jax.Array

    @classmethod
    def create(cls, semi_axes, center=None) -> Ellipsoid:
        a = _checks.array("semi_axes", semi_axes, ndim=1)
        if not bool(jnp.all(a > 0)):
            raise ValueError("semi_axes must all be > 0")
        c = jnp.zeros_like(a) if center is None else _checks.array("center", center,
                                                                    shape=a.shape)
        return cls(a, c)

    @property
    def dim(self) -> int:
        return self.semi_axes.shape[0]

    def support(self, g):
        return g @ self.center + jnp.sqrt(jnp.sum((self.semi_axes * g) ** 2))

    def project(self, y):
        return solvers.project_ellipsoid(y, eigenvalues=1.0 / self.semi_axes**2,
                                         center=self.center, tolerance=0.5)


class Translated(NamedTuple):
    """body + shift: project(y) = shift + Pi_body(y - shift), h(g) = <g, shift> + h_body(g)."""

    body: object
    shift: jax.Array

    @classmethod
    def create(cls, body, shift) -> Translated:
        return cls(body, _checks.array("shift", shift, shape=(body.dim,)))

    @property
    def dim(self) -> int:
        return self.shift.shape[0]

    def support(self, g):
        return g @ self.shift + self.body.support(g)

    def project(self, y):
        return self.shift + self.body.project(y - self.shift)


# ---------------------------------------------------------------------------------- cones


class Subspace(NamedTuple):
    """The span of the first ``rank`` coordinate vectors in R^dim; delta = rank."""

    dim: int
    rank: int

    @classmethod
    def create(cls, dim: int, rank: int) -> Subspace:
        dim = _checks.positive_int("dim", dim)
        return cls(dim, _checks.integer("rank", rank, minimum=0, maximum=dim))

    def project(self, g):
        return jnp.where(jnp.arange(g.shape[0]) < self.rank, g, 0.0)


class Orthant(NamedTuple):
    """The non-negative orthant of R^dim; delta = dim / 2."""

    dim: int

    @classmethod
    def create(cls, dim: int) -> Orthant:
        return cls(_checks.positive_int("dim", dim))

    def project(self, g):
        return jnp.maximum(g, 0.0)


class CircularCone(NamedTuple):
    """{x : x_1 >= ||x|| cos(angle)} (axis e_1, half-angle in (0, pi/2]) in R^dim."""

    dim: int
    angle: float

    @classmethod
    def create(cls, dim: int, angle: float) -> CircularCone:
        return cls(_checks.positive_int("dim", dim),
                   _checks.real("angle", angle, positive=True, high=np.pi / 2))

    def project(self, g):
        cos, sin = jnp.cos(self.angle), jnp.sin(self.angle)
        x1, rest = g[0], g[1:]
        r = jnp.linalg.norm(rest)
        inside = x1 * sin >= r * cos
        polar = x1 * cos + r * sin <= 0
        t = x1 * cos + r * sin  # length of the projection onto the boundary ray
        direction = jnp.concatenate([cos[None], sin * rest / jnp.maximum(r, 1e-30)])
        return jnp.where(inside, g, jnp.where(polar, 0.0, t * direction))


def ball_cone(dim: int, radius: float, distance: float):
    """cone(B(distance e_1, radius)): circular with sin(angle) = radius / distance (whole space,
    returned as ``Subspace(dim, dim)``, when radius >= distance)."""
    dim, radius = _dim_radius(dim, radius)
    distance = _checks.real("distance", distance, positive=True)
    if radius >= distance:
        return Subspace(dim, dim)
    return CircularCone(dim, float(np.arcsin(radius / distance)))


class L1DescentCone(NamedTuple):
    """Descent cone of ||.||_1 at x0: {d : ||x0 + t d||_1 <= ||x0||_1 for some t > 0} [ALMT 4.5].

    Projection by Moreau: Pi_C(g) = g - Pi_N(g), N = cone(subdifferential) = {tau z : z_i =
    sign(x0_i) on the support, |z_i| <= 1 off it}; for fixed tau the best z is explicit and
    F(tau) = dist^2(g, tau dF) is convex and piecewise quadratic; tau* is found by Newton's
    method on F' (see ``_tau``).
    """

    signs: jax.Array

    @classmethod
    def create(cls, x0) -> L1DescentCone:
        x0 = _checks.array("x0", x0, ndim=1)
        return cls(jnp.sign(x0))

    @property
    def dim(self) -> int:
        return self.signs.shape[0]

    def _tau(self, g):
        """Root of F'(tau)/2 = s tau - A - sum_off (|g_i| - tau)_+ (A = sum_S sign_i g_i).

        F' is increasing, concave and piecewise linear, so Newton's method from tau = 0 climbs
        monotonically to the root without overshooting and stops exactly once it reaches the
        root's linear piece (a few steps in practice; at most 50).
        """
        on = self.signs != 0
        off_abs = jnp.where(on, 0.0, jnp.abs(g))
        count = jnp.sum(on)
        total = jnp.sum(jnp.where(on, self.signs * g, 0.0))

        def slope(tau):
            return count * tau - total - jnp.sum(jnp.maximum(off_abs - tau, 0.0))

        def newton(state):
            step, tau, value = state
            tau = tau - value / jnp.maximum(count + jnp.sum(off_abs > tau), 1)
            return step + 1, tau, slope(tau)

        def climbing(state):  # stop on the root's piece (slope ~ 0) or after 50 steps
            step, tau, value = state
            return (step < 50) & (value < -1e-6 * (jnp.abs(total) + jnp.sum(off_abs) + 1.0))

        zero = jnp.zeros((), g.dtype)
        return jax.lax.while_loop(climbing, newton, (0, zero, slope(zero)))[1]

    def project(self, g):
        tau = self._tau(g)
        normal = jnp.where(self.signs != 0, tau * self.signs, jnp.clip(g, -tau, tau))
        return g - normal


class GeneratedCone(NamedTuple):
    """cone(K) = {t x : t >= 0, x in K} of a body with ``project`` and ``support`` and 0 not in K;
    projection by :func:`phasetrans.solvers.project_generated_cone` (golden section over t)."""

    body: object

    @classmethod
    def create(cls, body) -> GeneratedCone:
        origin = jnp.zeros(body.dim)
        if float(jnp.linalg.norm(body.project(origin))) <= 0.0:
            raise ValueError("the body contains 0, so it generates the whole space")
        return cls(body)

    @property
    def dim(self) -> int:
        return self.body.dim

    def project(self, g):
        distance = jnp.linalg.norm(self.body.project(jnp.zeros_like(g)))
        return solvers.project_generated_cone(g, self.body.project, self.body.support,
                                              distance_to_origin=distance).point
