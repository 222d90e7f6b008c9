"""Projections with their SolverInfo: optimality, certificates, closed forms, failure paths."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from phasetrans import _loops
from phasetrans.geometry import bodies, projections, width
from phasetrans.theory import predict


def _circular_statdim(dim, sin_alpha):
    # ALMT (2014) sec. 3: delta(Circ_D(alpha)) = D sin^2(alpha) + cos(2 alpha) + o(1).
    return dim * sin_alpha**2 + np.cos(2 * np.arcsin(sin_alpha))


@pytest.mark.parametrize("dim,radius,distance", [(40, 1.0, 2.0), (300, 0.5, 1.5)])
def test_cone_of_ball_at_distance_matches_circular_cone(dim, radius, distance):
    ball = bodies.Ellipsoid.create(jnp.full(dim, radius), jnp.zeros(dim).at[1].set(distance))
    res = width.cone_statdim(ball, jnp.zeros(dim), key=jax.random.key(3), num_samples=1500)
    assert res.info.converged and res.info.residual <= 1e-3
    expected = _circular_statdim(dim, radius / distance)
    assert abs(res.estimate.mean - expected) < 4 * res.estimate.sem + 0.1


def _ellipsoid(lam, center, eps):
    """{x : 1/2 sum lam_i (x_i - c_i)^2 <= eps} as a body: semi-axes sqrt(2 eps / lam)."""
    return bodies.Ellipsoid.create(jnp.sqrt(2 * eps / lam), center)


def test_projection_optimality_in_float64(x64):
    rng = np.random.default_rng(0)
    lam = jnp.asarray(rng.uniform(0.2, 5.0, 30))
    center = jnp.asarray(rng.normal(size=30)) * 2
    eps = 0.3
    y = jnp.asarray(rng.normal(size=30)) * 3
    x, info = projections.onto_ellipsoid(y, eigenvalues=lam, center=center, epsilon=eps)
    assert x.dtype == jnp.float64
    assert bool(info.converged) and float(info.residual) < 1e-12 and 1 <= int(info.iterations)
    assert 0.5 * float(jnp.sum(lam * (x - center) ** 2)) == pytest.approx(eps, rel=1e-9)
    # KKT: y - x is an outward normal, parallel to lam * (x - c)
    normal = lam * (x - center)
    cos = float((y - x) @ normal / (jnp.linalg.norm(y - x) * jnp.linalg.norm(normal)))
    assert cos == pytest.approx(1.0, abs=1e-10)
    # a point inside projects onto itself, with no Newton step
    inside, info = projections.onto_ellipsoid(center + 0.01, eigenvalues=lam, center=center,
                                              epsilon=eps)
    np.testing.assert_array_equal(inside, center + 0.01)
    assert int(info.iterations) == 0 and float(info.residual) == 0.0
    cone = bodies.GeneratedCone.create(_ellipsoid(lam, center, eps))
    polar = cone.projection(-center)              # -c points away from the body: apex
    assert float(jnp.linalg.norm(polar.point)) == 0.0 and float(polar.info.residual) < 1e-8
    g = center + jnp.asarray(rng.normal(size=30))
    proj = cone.projection(g)
    assert float(jnp.linalg.norm(proj.point)) > 1.0 and float(proj.info.residual) < 1e-8
    assert bool(proj.info.converged)
    # point / scale lies on the ellipsoid's boundary
    body_point = proj.point / proj.scale
    assert 0.5 * float(jnp.sum(lam * (body_point - center) ** 2)) == pytest.approx(eps, rel=1e-6)
    # idempotent: projecting the projection returns it
    np.testing.assert_allclose(cone.project(proj.point), proj.point, atol=1e-7)


def test_support_function_matches_maximisation():
    lam, center, eps = jnp.array([1.0, 4.0]), jnp.array([3.0, 0.0]), 0.5
    u = jnp.array([0.6, -0.8])
    theta = jnp.linspace(0, 2 * np.pi, 20001)
    boundary = center[:, None] + jnp.sqrt(2 * eps / lam)[:, None] * jnp.stack(
        [jnp.cos(theta), jnp.sin(theta)])
    h = _ellipsoid(lam, center, eps).support(u)
    assert float(h) == pytest.approx(float(jnp.max(u @ boundary)), abs=1e-6)


def test_origin_inside_gives_whole_space_and_determinism():
    lam = jnp.ones(10)
    inside = width.cone_statdim(_ellipsoid(lam, jnp.full(10, 0.1), 1.0), jnp.zeros(10),
                                key=jax.random.key(0), num_samples=10)
    assert inside.estimate.mean == 10.0 and inside.estimate.sem == 0.0 and inside.info.converged
    body = _ellipsoid(lam, jnp.full(10, 2.0), 0.5)
    a = width.cone_statdim(body, jnp.zeros(10), key=jax.random.key(1), num_samples=20)
    b = width.cone_statdim(body, jnp.zeros(10), key=jax.random.key(1), num_samples=20)
    assert a == b


def test_failure_paths_report_not_converged():
    lam, center = jnp.linspace(0.1, 10.0, 20), jnp.full(20, 3.0)
    y = 50.0 * jnp.ones(20)
    _, info = projections.onto_ellipsoid(y, eigenvalues=lam, center=center, epsilon=1e-3,
                                         max_iters=2)
    assert int(info.iterations) == 2 and not bool(info.converged) and float(info.residual) > 0.1
    # a golden section with 5 steps cannot meet a 1e-12 certificate; the estimator passes it on
    cone = bodies.GeneratedCone(_ellipsoid(lam, center, 0.5), tol=1e-12)
    g = jax.random.normal(jax.random.key(1), (20,))
    assert float(cone.projection(g).info.residual) > 0                  # g is not in the cone
    coarse = projections.onto_generated_cone(g, cone.body, tol=1e-12, num_iters=5)
    assert not bool(coarse.info.converged) and int(coarse.info.iterations) == 5
    res = width.statistical_dimension(cone, key=jax.random.key(0), num_samples=8)
    assert not res.info.converged and res.info.residual > 1e-12


def test_monotone_newton_on_a_piecewise_linear_function():
    # g(x) = 3x - 2 - max(1 - x, 0): root 3/4 on the first piece; Newton lands there exactly
    def g(x):
        return 3 * x - 2 - jnp.maximum(1 - x, 0.0), 3.0 + (x < 1)

    root, info = _loops.monotone_newton(g, jnp.zeros(()), scale=1.0)
    assert float(root) == pytest.approx(0.75, abs=1e-7) and bool(info.converged)
    stopped, info = _loops.monotone_newton(lambda x: (jnp.log1p(x) - 5.0, 1 / (1 + x)),
                                           jnp.zeros(()), scale=1.0, max_iters=2)
    assert int(info.iterations) == 2 and not bool(info.converged)
    assert 0 < float(stopped) < np.expm1(5.0)                      # below the root, no overshoot


def test_bad_input():
    ok = dict(epsilon=1.0, key=jax.random.key(0), num_samples=10)
    grid = np.array([0.5])
    with pytest.raises(ValueError, match="eigenvalues must be > 0"):
        predict.ellipsoid_prediction(jnp.array([1.0, 0.0]), jnp.eye(2), np.ones((1, 2)) * 5,
                                     grid, **ok)
    with pytest.raises(ValueError, match="pruned_parts must have shape"):
        predict.ellipsoid_prediction(jnp.ones(2), jnp.eye(2), np.ones((1, 3)), grid, **ok)
    with pytest.raises(ValueError, match="center must have shape"):
        bodies.Ellipsoid.create(jnp.ones(2), jnp.ones(3))
    with pytest.raises(ValueError, match="num_samples must be >= 2"):
        width.cone_statdim(_ellipsoid(jnp.ones(2), jnp.ones(2) * 5, 1.0), jnp.zeros(2),
                           key=jax.random.key(0), num_samples=1)
    with pytest.raises(ValueError, match="center contains NaN"):
        bodies.Ellipsoid.create(jnp.ones(2), jnp.array([np.nan, 1.0]))
    with pytest.raises(ValueError, match="tol must be > 0"):
        bodies.GeneratedCone.create(_ellipsoid(jnp.ones(2), jnp.ones(2) * 5, 1.0), tol=0.0)
