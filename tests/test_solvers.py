import jax
import jax.numpy as jnp
import numpy as np
import pytest

from phasetrans import solvers


def _circular_statdim(dim, sin_alpha):
    # ALMT (2014) sec. 3: delta(Circ_D(alpha)) = D sin^2(alpha) + cos(2 alpha) + o(1).
    return dim * sin_alpha**2 + np.cos(2 * np.arcsin(sin_alpha))


@pytest.mark.parametrize("dim,radius,distance", [(40, 1.0, 2.0), (300, 0.5, 1.5)])
def test_cone_of_ball_at_distance_matches_circular_cone(dim, radius, distance):
    eps = 0.5
    lam = jnp.full(dim, 2 * eps / radius**2)            # semi-axes = radius
    center = jnp.zeros(dim).at[1].set(distance)
    res = solvers.ellipsoid_cone_statdim(lam, center, tolerance=eps, key=jax.random.key(3),
                                         num_samples=1500)
    assert res.converged
    expected = _circular_statdim(dim, radius / distance)
    assert abs(res.estimate.mean - expected) < 4 * res.estimate.sem + 0.1


def test_projection_optimality_in_float64(x64):
    rng = np.random.default_rng(0)
    lam = jnp.asarray(rng.uniform(0.2, 5.0, 30))
    center = jnp.asarray(rng.normal(size=30)) * 2
    eps = 0.3
    y = jnp.asarray(rng.normal(size=30)) * 3
    x = solvers.project_ellipsoid(y, eigenvalues=lam, center=center, tolerance=eps)
    assert x.dtype == jnp.float64
    assert 0.5 * float(jnp.sum(lam * (x - center) ** 2)) == pytest.approx(eps, rel=1e-9)
    # KKT: y - x is an outward normal, parallel to lam * (x - c)
    normal = lam * (x - center)
    cos = float((y - x) @ normal / (jnp.linalg.norm(y - x) * jnp.linalg.norm(normal)))
    assert cos == pytest.approx(1.0, abs=1e-10)
    body = dict(eigenvalues=lam, center=center, tolerance=eps)
    dist0 = jnp.linalg.norm(solvers.project_ellipsoid(jnp.zeros(30), **body))
    def project(g):
        return solvers.project_generated_cone(
            g, lambda v: solvers.project_ellipsoid(v, **body),
            lambda u: solvers.ellipsoid_support(u, **body), distance_to_origin=dist0)

    polar = project(-center)                      # -c points away from the body: apex
    assert float(jnp.linalg.norm(polar.point)) == 0.0 and float(polar.certificate) < 1e-8
    g = center + jnp.asarray(rng.normal(size=30))
    proj = project(g)
    assert float(jnp.linalg.norm(proj.point)) > 1.0 and float(proj.certificate) < 1e-8
    # idempotent: projecting the projection returns it
    np.testing.assert_allclose(project(proj.point).point, proj.point, atol=1e-7)


def test_support_function_matches_maximisation():
    lam, center, eps = jnp.array([1.0, 4.0]), jnp.array([3.0, 0.0]), 0.5
    u = jnp.array([0.6, -0.8])
    theta = jnp.linspace(0, 2 * np.pi, 20001)
    boundary = center[:, None] + jnp.sqrt(2 * eps / lam)[:, None] * jnp.stack(
        [jnp.cos(theta), jnp.sin(theta)])
    h = solvers.ellipsoid_support(u, eigenvalues=lam, center=center, tolerance=eps)
    assert float(h) == pytest.approx(float(jnp.max(u @ boundary)), abs=1e-6)


def test_origin_inside_gives_whole_space_and_determinism():
    lam = jnp.ones(10)
    inside = solvers.ellipsoid_cone_statdim(lam, jnp.full(10, 0.1), tolerance=1.0,
                                            key=jax.random.key(0), num_samples=10)
    assert inside.estimate.mean == 10.0 and inside.estimate.sem == 0.0
    center = jnp.full(10, 2.0)
    a = solvers.ellipsoid_cone_statdim(lam, center, tolerance=0.5, key=jax.random.key(1),
                                       num_samples=20)
    b = solvers.ellipsoid_cone_statdim(lam, center, tolerance=0.5, key=jax.random.key(1),
                                       num_samples=20)
    assert a == b


def test_bad_input():
    ok = dict(tolerance=1.0, key=jax.random.key(0), num_samples=10)
    with pytest.raises(ValueError, match="eigenvalues must be > 0"):
        solvers.ellipsoid_cone_statdim(jnp.array([1.0, 0.0]), jnp.ones(2) * 5, **ok)
    with pytest.raises(ValueError, match="center must have shape"):
        solvers.ellipsoid_cone_statdim(jnp.ones(2), jnp.ones(3), **ok)
    with pytest.raises(ValueError, match="num_samples must be >= 2"):
        solvers.ellipsoid_cone_statdim(jnp.ones(2), jnp.ones(2) * 5, **{**ok, "num_samples": 1})
    with pytest.raises(ValueError, match="center contains NaN"):
        solvers.ellipsoid_cone_statdim(jnp.ones(2), jnp.array([np.nan, 1.0]), **ok)
