import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from phasetrans.geometry import bodies, closed_forms, width
from phasetrans.networks import prune, spectrum
from phasetrans.theory import spectral_levels


def _rotation(dim, seed):
    return np.linalg.qr(np.random.default_rng(seed).normal(size=(dim, dim)))[0]


def test_one_level_is_a_ball_with_the_closed_form_statdim():
    # A = lam I: E is a ball of radius sqrt(2 eps / lam) at distance ||c|| from the origin
    dim, lam, eps = 40, 2.0, 0.5
    c = np.random.default_rng(0).normal(size=dim)
    c *= 3.0 / np.linalg.norm(c)
    levels = spectral_levels.exact_levels(np.full(dim, lam), _rotation(dim, 1), c,
                                          num_levels=4)
    assert levels.counts.tolist() == [dim] and levels.energies[0] == pytest.approx(9.0)
    est = spectral_levels.statdim(levels, epsilon=eps, key=jax.random.key(0),
                                  num_samples=2000).estimate
    exact = closed_forms.ball_cone_statdim(dim=dim, radius=np.sqrt(2 * eps / lam), distance=3.0)
    assert abs(est.mean - exact) <= 4 * est.sem


def test_reduction_equals_the_full_ellipsoid_for_few_distinct_eigenvalues():
    # three distinct eigenvalues, random eigenvectors: the 6-dimensional reduction is exact
    dim, eps = 60, 0.3
    lam = np.repeat([0.05, 1.0, 20.0], [30, 20, 10])
    vecs = _rotation(dim, 2)
    c = np.random.default_rng(3).normal(size=dim)
    levels = spectral_levels.exact_levels(lam, vecs, c, num_levels=3)
    assert levels.counts.tolist() == [30, 20, 10]
    assert levels.energies.sum() == pytest.approx(c @ c)
    reduced = spectral_levels.statdim(levels, epsilon=eps, key=jax.random.key(1),
                                      num_samples=1000).estimate
    body = bodies.Ellipsoid.create(jnp.sqrt(2 * eps / lam), vecs.T @ c)
    full = width.cone_statdim(body, jnp.zeros(dim), key=jax.random.key(2),
                              num_samples=1000).estimate
    assert abs(reduced.mean - full.mean) <= 4 * np.hypot(reduced.sem, full.sem)
    assert 5 < reduced.mean < 55  # a proper cone, neither a ray nor the whole space


def test_rounding_brackets_the_geometric_levels_sample_by_sample():
    rng = np.random.default_rng(4)
    dim, eps = 200, 0.1
    lam = np.exp(rng.uniform(np.log(1e-4), np.log(10.0), dim))
    c = rng.normal(size=dim) * 0.5
    vecs = _rotation(dim, 5)
    est = {r: spectral_levels.statdim(spectral_levels.exact_levels(lam, vecs, c, num_levels=8,
                                                                   rounding=r),
                                      epsilon=eps, key=jax.random.key(3), num_samples=200)
           for r in spectral_levels.ROUNDINGS}
    # same counts and samples: the nested cones give ordered projections for every sample
    assert (est["lower"].estimate.mean >= est["geometric"].estimate.mean
            >= est["upper"].estimate.mean)
    full = width.cone_statdim(bodies.Ellipsoid.create(jnp.sqrt(2 * eps / lam), vecs.T @ c),
                              jnp.zeros(dim), key=jax.random.key(6), num_samples=400).estimate
    assert (est["upper"].estimate.mean - 4 * full.sem <= full.mean
            <= est["lower"].estimate.mean + 4 * full.sem)


def test_apex_inside_gives_the_whole_space():
    lam = np.linspace(1.0, 2.0, 10)
    levels = spectral_levels.exact_levels(lam, np.eye(10), np.full(10, 0.01))
    res = spectral_levels.statdim(levels, epsilon=1.0, key=jax.random.key(0), num_samples=4)
    assert res.estimate.mean == 10.0 and res.estimate.sem == 0.0


def test_vector_quadrature_is_exact_with_a_full_krylov_space(x64):
    lam = np.array([-1.0, 0.5, 2.0, 3.0, 7.0])
    c = np.array([1.0, 2.0, 0.0, 1.0, 3.0])
    nodes, weights = spectrum.vector_quadrature(lambda v: jnp.asarray(lam) * v,
                                                jnp.asarray(c), num_iters=4)
    # c has no component on lam = 2: a 4-dimensional Krylov space holds the whole measure
    measure = {float(n): float(w) for n, w in zip(nodes, weights, strict=True) if w > 1e-12}
    expected = {-1.0: 1 / 15, 0.5: 4 / 15, 3.0: 1 / 15, 7.0: 9 / 15}
    assert sorted(measure) == pytest.approx(sorted(expected), abs=1e-8)
    assert [measure[k] for k in sorted(measure)] == pytest.approx(
        [expected[k] for k in sorted(expected)], abs=1e-8)


def _pruned_part(t, p):
    mask = prune.global_magnitude(t["params"], float(p))
    pruned = np.asarray(ravel_pytree(prune.apply_mask(t["params"], mask))[0])[t["index"]]
    return t["center"] - pruned


def test_matrix_free_levels_match_the_exact_ellipsoid_on_a_trained_network(trained_spectrum):
    """SLQ counts + Lanczos energies vs the exact eigenbasis Monte Carlo at three ratios.

    Stated error: the Monte Carlo SEMs plus the binning bracket (lower/upper rounding) plus
    0.02 D for the quadratures. Measured here (D = 1184): within 0.002 D; on a trained mnist1d
    32-32 network (D = 2624, README "Large networks") up to 0.06 D at p = 0.6, where SLQ's 80
    nodes cannot resolve the near-zero eigenvalues."""
    t = trained_spectrum
    lam, vecs, eps = t["eigenvalues"], t["eigenvectors"], t["epsilon"]
    dim = lam.size
    sq = spectrum.slq(t["matvec"], dim=dim, key=jax.random.key(4), num_probes=32, num_iters=80)
    semi_axes = jnp.sqrt(2 * eps / np.maximum(np.abs(lam), 1e-4))
    for p in (0.65, 0.8, 0.93):
        part = _pruned_part(t, p)
        exact = width.cone_statdim(bodies.Ellipsoid.create(semi_axes, part @ vecs),
                                   jnp.zeros(dim), key=jax.random.key(2), num_samples=48)
        res = {r: spectral_levels.statdim(
            spectral_levels.quadrature_levels(sq, t["matvec"], jnp.asarray(part), num_iters=80,
                                              rounding=r),
            epsilon=eps, key=jax.random.key(5), num_samples=48).estimate
            for r in spectral_levels.ROUNDINGS}
        e = exact.estimate
        sem = 4 * np.hypot(e.sem, res["geometric"].sem)
        assert abs(res["geometric"].mean - e.mean) <= sem + 0.02 * dim, p
        assert res["upper"].mean - sem - 0.02 * dim <= e.mean <= (res["lower"].mean + sem
                                                                  + 0.02 * dim), p


def test_bad_input():
    lam, vecs, c = np.ones(4), np.eye(4), np.ones(4)
    with pytest.raises(TypeError, match="Levels"):
        spectral_levels.statdim((lam, np.ones(4, int), c), epsilon=1.0, key=jax.random.key(0),
                                num_samples=4)
    bad = spectral_levels.Levels(np.array([1.0]), np.array([0]), np.array([1.0]))
    with pytest.raises(ValueError, match="counts >= 1"):
        spectral_levels.statdim(bad, epsilon=1.0, key=jax.random.key(0), num_samples=4)
    with pytest.raises(ValueError, match="num_levels"):
        spectral_levels.exact_levels(lam, vecs, c, num_levels=0)
    with pytest.raises(ValueError, match="rounding"):
        spectral_levels.exact_levels(lam, vecs, c, rounding="nearest")
    with pytest.raises(ValueError, match="NaN"):
        spectral_levels.exact_levels(lam, vecs, np.array([1.0, np.nan, 0.0, 0.0]))
    sq = spectrum.SpectralQuadrature(jnp.ones((2, 3)), jnp.full((2, 3), 1 / 3), 4)
    with pytest.raises(ValueError, match="nonzero"):
        spectral_levels.quadrature_levels(sq, lambda v: v, jnp.zeros(4), num_iters=2)
    with pytest.raises(TypeError, match="SpectralQuadrature"):
        spectral_levels.quadrature_levels((lam, lam), lambda v: v, jnp.ones(4), num_iters=2)
    with pytest.raises(ValueError, match="epsilon"):
        spectral_levels.statdim(spectral_levels.exact_levels(lam, vecs, c), epsilon=0.0,
                                key=jax.random.key(0), num_samples=4)
