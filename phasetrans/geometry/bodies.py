"""Convex bodies and cones as data (NamedTuples) with the oracles they support.

Bodies offer ``support(g) = sup_{x in K} <g, x>`` and ``project(y)`` (Euclidean projection);
the bodies of the pruning theory (:class:`Ellipsoid`, :class:`L1InducedBody`) also offer
``contains(x)`` and ``cone_at(apex)``, the cone cone(K - apex) they generate seen from a point.
Cones (``is_cone = True``) offer ``project(g)``; those whose projection is iterative also offer
``projection(g) -> (point, SolverInfo, ...)``. All oracles act on one vector (D,) and are
jit/vmap friendly; batch with ``jax.vmap``. Integer fields (``dim``) are read in Python only.
Constructors (``create``) validate their arguments. The algorithms behind the projections live
in :mod:`phasetrans.geometry.projections` and :mod:`phasetrans.geometry.conic_admm`.
[Amelunxen, Lotz, McCoy, Tropp 2014 (ALMT) sec. 2-4 for the cones; Rockafellar, Convex
Analysis, for support functions and the Moreau decomposition.]
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from optax import projections as optax_projections

from phasetrans import _checks
from phasetrans.estimate import SolverOptions
from phasetrans.geometry import conic_admm, l1_projection, projections

L1_CONE_SOLVER = l1_projection.SOLVER
"""An :class:`L1InducedCone`'s projection: tol None = 1e-3 in float32, 1e-4 in float64 (the bound
on the Newton projection's relative KKT residual, or on the ADMM's relative primal/dual
residual); 20000 ADMM iterations at most; a residual check every 20
(:data:`conic_admm.SOLVER`'s)."""


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
        return optax_projections.projection_l1_ball(y, scale=self.radius)


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

    def projection(self, y) -> projections.Projection:
        """Pi_E(y) by :func:`phasetrans.geometry.projections.onto_ellipsoid`, with its
        SolverInfo."""
        return projections.onto_ellipsoid(y, eigenvalues=1.0 / self.semi_axes**2,
                                          center=self.center, epsilon=0.5)

    def project(self, y):
        return self.projection(y).point

    def contains(self, x) -> bool:
        """Whether x lies in E (a concrete check, for callers outside ``jit``)."""
        return bool(jnp.sum(((x - self.center) / self.semi_axes) ** 2) <= 1.0)

    def cone_at(self, apex, *, tol: float | None = None) -> GeneratedCone:
        """cone(E - apex), projected by golden section (:class:`GeneratedCone`)."""
        apex = _checks.array("apex", apex, shape=(self.dim,))
        return GeneratedCone.create(Ellipsoid(self.semi_axes, self.center - apex), tol=tol)


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
    is_cone = True

    @classmethod
    def create(cls, dim: int, rank: int) -> Subspace:
        dim = _checks.positive_int("dim", dim)
        return cls(dim, _checks.integer("rank", rank, minimum=0, maximum=dim))

    def project(self, g):
        return jnp.where(jnp.arange(g.shape[0]) < self.rank, g, 0.0)


class Orthant(NamedTuple):
    """The non-negative orthant of R^dim; delta = dim / 2."""

    dim: int
    is_cone = True

    @classmethod
    def create(cls, dim: int) -> Orthant:
        return cls(_checks.positive_int("dim", dim))

    def project(self, g):
        return jnp.maximum(g, 0.0)


class CircularCone(NamedTuple):
    """{x : x_1 >= ||x|| cos(angle)} (axis e_1, half-angle in (0, pi/2]) in R^dim."""

    dim: int
    angle: float
    is_cone = True

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


def ball_cone(*, dim: int, radius: float, distance: float):
    """cone(B(distance e_1, radius)): circular with sin(angle) = radius / distance (whole space,
    returned as ``Subspace(dim, dim)``, when radius >= distance). Its statistical dimension is
    :func:`phasetrans.geometry.closed_forms.ball_cone_statdim` (same arguments)."""
    dim, radius = _dim_radius(dim, radius)
    distance = _checks.real("distance", distance, positive=True)
    if radius >= distance:
        return Subspace(dim, dim)
    return CircularCone(dim, float(np.arcsin(radius / distance)))


class L1DescentCone(NamedTuple):
    """Descent cone of ||.||_1 at x0: {d : ||x0 + t d||_1 <= ||x0||_1 for some t > 0} [ALMT 4.5].

    Projection by :func:`phasetrans.geometry.projections.onto_l1_descent_cone` (Moreau and Newton on
    the piecewise-linear multiplier).
    """

    signs: jax.Array
    is_cone = True

    @classmethod
    def create(cls, x0) -> L1DescentCone:
        x0 = _checks.array("x0", x0, ndim=1)
        return cls(jnp.sign(x0))

    @property
    def dim(self) -> int:
        return self.signs.shape[0]

    def projection(self, g) -> projections.Projection:
        return projections.onto_l1_descent_cone(g, self.signs)

    def project(self, g):
        return self.projection(g).point


class GeneratedCone(NamedTuple):
    """cone(K) = {t x : t >= 0, x in K} of a body with ``project`` and ``support`` and 0 not in K;
    projection by :func:`phasetrans.geometry.projections.onto_generated_cone` (golden section over
    t).

    ``tol`` bounds the projection's KKT certificate for ``converged``; default (None) 1e-3 in
    float32 (golden section resolves t* to ~sqrt(machine eps)) and 1e-6 in float64.
    """

    body: object
    tol: float | None = None
    is_cone = True

    @classmethod
    def create(cls, body, *, tol: float | None = None) -> GeneratedCone:
        origin = jnp.zeros(body.dim)
        # a body's closed-form membership test where it has one: projecting 0 runs an
        # iterative solver outside jit, compiled anew for every body (9 ratios, 9 programs)
        inside = (body.contains(origin) if hasattr(body, "contains")
                  else float(jnp.linalg.norm(body.project(origin))) <= 0.0)
        if inside:
            raise ValueError("the body contains 0, so it generates the whole space")
        if tol is not None:
            tol = _checks.real("tol", tol, positive=True)
        return cls(body, tol)

    @property
    def dim(self) -> int:
        return self.body.dim

    def projection(self, g) -> projections.ConeProjection:
        tol = (_checks.default_tol(g.dtype, float32=1e-3, float64=1e-6) if self.tol is None
               else self.tol)  # a traced field inside jit: validated by create
        return projections.onto_generated_cone(g, self.body, tol=tol)

    def project(self, g):
        return self.projection(g).point


class L1InducedBody(NamedTuple):
    """K = {w : g*^T q + 1/2 q^T H q + lam (||w||_1 - ||w*||_1) <= eps}, q = w - w*.

    The second-order model of the l1-regularised loss F = L + lam ||w||_1 around a trained w*
    [ZZSL sec. 4]: H >= 0 the Hessian (after an eigenvalue treatment), g* = grad L(w*), lam the
    l1 strength, eps the loss tolerance. Along flat directions of H the ellipsoid
    {1/2 q^T H q <= eps} is unbounded; the l1 term bounds K there. Stored with H's
    eigendecomposition (D, D), or for large D with a low-rank model H = V diag(a) V^T +
    bulk (I - V V^T), V (D, r), r < D (:func:`phasetrans.theory.hessian_model.l1_body`; every oracle
    then costs O(D r), see :mod:`phasetrans.geometry.conic_admm`); build it with :meth:`create`.
    Oracles: ``value(w)`` (the left-hand side), ``contains``, ``projection(y)`` /
    ``project(y)`` (the conic ADMM of :mod:`phasetrans.geometry.conic_admm` with t = 1),
    ``cone_at(apex)`` and ``hessian_operator()`` (v -> H v as a pytree).
    """

    eigenvalues: jax.Array
    eigenvectors: jax.Array
    gradient: jax.Array
    center: jax.Array
    l1: float
    epsilon: float
    bulk: float = 0.0

    @classmethod
    def create(cls, *, center, l1: float, epsilon: float, hessian=None, eigenvalues=None,
               eigenvectors=None, hessian_matvec=None, gradient=None, bulk: float | None = None,
               psd_tol: float = 1e-6) -> L1InducedBody:
        """Validate and build K around ``center`` = w* (D,).

        H is given as exactly one of: ``hessian`` (D, D) symmetric PSD; ``eigenvalues`` (D,) with
        ``eigenvectors`` (D, D) orthonormal columns; ``hessian_matvec`` v -> H v (materialised
        with D products, so D of a few thousand at most); the low-rank model ``eigenvalues``
        (r,), ``eigenvectors`` (D, r) orthonormal columns, r < D, and ``bulk`` >= 0 (H's value on
        the complement of V's span; required exactly then). Eigenvalues below
        ``-psd_tol * max|lambda|`` raise ``ValueError`` (apply an eigenvalue treatment from
        :data:`phasetrans.theory.formula.EIGEN_TREATMENTS` first); smaller negative round-off is
        clipped to 0. ``gradient`` g* defaults to 0; ``l1`` = lam >= 0; ``epsilon`` = eps > 0.
        """
        center = _checks.array("center", center, ndim=1)
        dim = center.shape[0]
        given = [name for name, v in (("hessian", hessian), ("eigenvalues", eigenvalues),
                                      ("hessian_matvec", hessian_matvec)) if v is not None]
        if len(given) != 1:
            raise ValueError("give H as exactly one of hessian, eigenvalues (+ eigenvectors) or "
                             f"hessian_matvec; got {given or 'none'}")
        if hessian_matvec is not None:
            if not callable(hessian_matvec):
                raise TypeError("hessian_matvec must be a function v -> H v")
            hessian = jax.vmap(hessian_matvec)(jnp.eye(dim, dtype=center.dtype)).T
        if hessian is not None:
            hessian = _checks.array("hessian", hessian, shape=(dim, dim))
            if not np.allclose(hessian, hessian.T, rtol=1e-5,
                               atol=1e-6 * float(jnp.max(jnp.abs(hessian)))):
                raise ValueError("hessian must be symmetric")
            eigenvalues, eigenvectors = jnp.linalg.eigh(0.5 * (hessian + hessian.T))
        else:
            if eigenvectors is None:
                raise ValueError("eigenvalues need eigenvectors (D, D) or (D, r) with "
                                 "orthonormal columns")
            eigenvectors = _checks.array("eigenvectors", eigenvectors, ndim=2)
            rank = eigenvectors.shape[1]
            if eigenvectors.shape[0] != dim or not 1 <= rank <= dim:
                raise ValueError(f"eigenvectors must have shape (D, D) or (D, r), 1 <= r < D, "
                                 f"with D = {dim}; got {eigenvectors.shape}")
            eigenvalues = _checks.array("eigenvalues", eigenvalues, shape=(rank,))
            _checks.orthonormal_columns("eigenvectors", eigenvectors)
        low_rank = eigenvectors.shape[1] < dim
        if low_rank != (bulk is not None):
            raise ValueError("bulk (H on the complement of the eigenvectors' span) is required "
                             "exactly when eigenvectors are (D, r) with r < D")
        bulk = _checks.real("bulk", bulk, nonnegative=True) if low_rank else 0.0
        scale = float(jnp.max(jnp.abs(eigenvalues)))
        if float(jnp.min(eigenvalues)) < -psd_tol * scale:
            raise ValueError(f"hessian must be positive semidefinite: smallest eigenvalue "
                             f"{float(jnp.min(eigenvalues)):.3g} < -{psd_tol} x "
                             f"{scale:.3g}; treat negative eigenvalues first")
        gradient = (jnp.zeros_like(center) if gradient is None
                    else _checks.array("gradient", gradient, shape=(dim,)))
        return cls(jnp.maximum(eigenvalues, 0.0).astype(center.dtype),
                   eigenvectors.astype(center.dtype), gradient, center,
                   _checks.real("l1", l1, nonnegative=True),
                   _checks.real("epsilon", epsilon, positive=True), bulk)

    @property
    def dim(self) -> int:
        return self.center.shape[0]

    @property
    def low_rank(self) -> bool:
        """Whether H is the low-rank model (eigenvectors (D, r), r < D)."""
        return self.eigenvectors.shape[1] < self.dim

    def hessian_operator(self) -> jax.tree_util.Partial:
        """v -> H v as a ``jax.tree_util.Partial`` (the arrays enter jit as arguments)."""
        return jax.tree_util.Partial(_hessian_matvec, self.eigenvalues, self.eigenvectors,
                                     self.bulk)

    def value(self, w):
        """g*^T q + 1/2 q^T H q + lam (||w||_1 - ||w*||_1); w is in K iff value <= eps."""
        q = w - self.center
        coords = conic_admm.to_eigen(self.eigenvectors, q)  # an isometry: one rotation
        curvature = conic_admm.coordinate_eigenvalues(self.eigenvalues, self.eigenvectors,
                                                      self.bulk)
        return (self.gradient @ q + 0.5 * jnp.sum(curvature * coords**2)
                + self.l1 * (jnp.sum(jnp.abs(w)) - jnp.sum(jnp.abs(self.center))))

    def contains(self, w) -> bool:
        """Whether w lies in K (a concrete check, for callers outside ``jit``)."""
        return bool(self.value(w) <= self.epsilon)

    def conic_data(self, apex) -> conic_admm.ConicData:
        """K - apex in the ADMM's form."""
        return conic_admm.conic_data(self.eigenvalues, self.eigenvectors,
                                     gradient=self.gradient, center=self.center, l1=self.l1,
                                     epsilon=self.epsilon, apex=apex, bulk=self.bulk)

    def projection(self, y, **options) -> projections.Projection:
        """Pi_K(y) by :func:`phasetrans.geometry.conic_admm.solve` with its SolverInfo; ``options``
        as for that function (``solver``, ``rho``, ``relaxation``)."""
        result = conic_admm.solve(self.conic_data(self.center), y - self.center,
                                  free_scale=False, **options)
        return projections.Projection(result.point + self.center, result.info)

    def project(self, y):
        return self.projection(y).point

    def cone_at(self, apex, *, solver: SolverOptions | None = None,
                method: str | None = None) -> L1InducedCone:
        """cone(K - apex) (:class:`L1InducedCone`; ``solver`` None: :data:`L1_CONE_SOLVER`;
        ``method`` None: Newton where H is given in full, else the ADMM)."""
        return L1InducedCone.create(self, apex, solver=solver, method=method)


def _hessian_matvec(eigenvalues, eigenvectors, bulk, v):
    coords = conic_admm.to_eigen(eigenvectors, v)
    return conic_admm.from_eigen(
        eigenvectors, conic_admm.coordinate_eigenvalues(eigenvalues, eigenvectors, bulk) * coords)


class L1InducedCone(NamedTuple):
    """cone(K - x0) = {t (w - x0) : t >= 0, w in K}: the l1-induced body seen from x0 outside K.

    Projection (``method``): ``"newton"`` (the default when H is given by its full
    eigendecomposition): :func:`phasetrans.geometry.l1_projection.solve`, a short conic-ADMM
    warm start, semismooth Newton steps with a KKT certificate, and the full ADMM as a fallback
    whose answer Newton then polishes (digits 64-16-10, D = 1184: 10-17x faster than the ADMM
    alone and more accurate at the same tolerance, benchmarks/bench_l1_body.py); ``"admm"``
    (the reference, and the only method for the low-rank model):
    :func:`phasetrans.geometry.conic_admm.solve` with a free scale t.
    ``solver`` (:data:`L1_CONE_SOLVER` by default: ``tol`` bounds the relative KKT residual of
    every Newton-method answer, fallback included, or the ADMM's relative primal/dual
    residual, which does not bound its answer; 1e-3 in float32, 1e-4 in
    float64; 20000 ADMM iterations; a check every 20).
    Build with :meth:`create`. Monte Carlo estimators draw ``samples_per_chunk`` samples per
    jitted call: a vmapped solve runs until its slowest sample stops, so chunks stay small.
    """

    data: conic_admm.ConicData
    solver: SolverOptions
    newton: l1_projection.L1ConeProblem | None = None  # None: the cone projects by the ADMM
    is_cone = True
    samples_per_chunk = 16

    @classmethod
    def create(cls, body: L1InducedBody, apex, *, solver: SolverOptions | None = None,
               method: str | None = None) -> L1InducedCone:
        """``apex`` x0 (D,) must lie outside K (inside, the cone is all of R^D); ``method``
        the default of :meth:`projection` (None: ``"newton"``, or ``"admm"`` for the low-rank
        model, which only the ADMM projects)."""
        apex = _checks.array("apex", apex, shape=(body.dim,))
        data = body.conic_data(apex)
        if float(data.apex_value) <= 0:
            raise ValueError("apex lies in the body K, so the cone it generates is all of R^D")
        method = ("admm" if body.low_rank else "newton") if method is None else method
        _checks.one_of("method", method, ("newton", "admm"))
        if method == "newton" and body.low_rank:
            raise ValueError("method 'newton' needs H's full eigendecomposition; the low-rank "
                             "model's cone projects with method 'admm'")
        newton = None if method == "admm" else l1_projection.problem(
            body.eigenvalues, body.eigenvectors, gradient=body.gradient, center=body.center,
            l1=body.l1, epsilon=body.epsilon, apex=apex)
        return cls(data, SolverOptions.check(solver, L1_CONE_SOLVER, dtype=apex.dtype,
                                             float32=1e-3, float64=1e-4), newton)

    @property
    def dim(self) -> int:
        return self.data.apex.shape[0]

    def projection(self, g, *, method: str | None = None,
                   **options) -> projections.ConeProjection:
        """Pi_C(g) (``point``), its SolverInfo, and the scale t with point / t + x0 in K.

        ``method`` None: the cone's (``"newton"`` unless it was created with ``"admm"``);
        ``options`` (``solver`` overrides ``self.solver``; ADMM: ``rho``, ``relaxation``;
        Newton: ``warm_iters``, ``newton_iters``, ``cg_max_iters``, ``fallback``) pass to
        :func:`phasetrans.geometry.l1_projection.solve` or
        :func:`phasetrans.geometry.conic_admm.solve`."""
        options = {"solver": self.solver, **options}
        if method is None:
            method = "admm" if self.newton is None else "newton"
        _checks.one_of("method", method, ("newton", "admm"))
        if method == "admm":
            return conic_admm.solve(self.data, g, free_scale=True, **options)
        if self.newton is None:
            raise ValueError("method 'newton' needs the cone built with method 'newton' (H's "
                             "full eigendecomposition)")
        return l1_projection.solve(self.data, self.newton, g, **options)

    def project(self, g):
        return self.projection(g).point
