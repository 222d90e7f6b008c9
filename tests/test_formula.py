import jax
import jax.numpy as jnp
import numpy as np
import pytest

from phasetrans.theory import formula


def _terms(lams, eps, R):
    lams = np.asarray(lams, dtype=np.float64)
    return 2 * eps / (lams * R**2 + 2 * eps)


def test_statdim_ratio_matches_paper_formula_with_semi_axes():
    lams = np.array([0.5, 1.0, 3.0, 10.0])
    eps, R = 0.02, np.array([0.0, 0.3, 1.0])
    r2 = 2 * eps / lams
    expected = [np.mean(r2 / (r**2 + r2)) for r in R]
    got = formula.statdim_ratio(lams[None], np.full((1, 4), 0.25), distances=R, epsilon=eps,
                                eigen_treatment="abs")
    np.testing.assert_allclose(got[0], expected, rtol=1e-6)
    assert got[0, 0] == pytest.approx(1.0)


def test_eigen_treatments_on_hand_built_spectrum():
    nodes = np.array([[-1.0, 0.0, 1e-9, 2.0]])
    weights = np.full((1, 4), 0.25)
    eps, R, floor = 0.1, 1.0, 1e-6

    def ratio(treatment):
        return float(formula.statdim_ratio(nodes, weights, distances=[R], epsilon=eps,
                                           eigen_treatment=treatment, floor=floor)[0, 0])

    t2 = _terms([2.0], eps, R)[0]
    assert ratio("abs") == pytest.approx(np.mean(_terms([1.0, 0.0, 1e-9, 2.0], eps, R)), rel=1e-6)
    assert ratio("floor") == pytest.approx(np.mean(_terms([floor] * 3 + [2.0], eps, R)), rel=1e-6)
    assert ratio("drop") == pytest.approx(t2 / 4, rel=1e-6)
    assert ratio("flat") == pytest.approx((3 + t2) / 4, rel=1e-6)


def test_statdim_ratio_bad_input():
    ok = dict(distances=[1.0], epsilon=0.1, eigen_treatment="abs")
    with pytest.raises(ValueError, match="epsilon must be > 0"):
        formula.statdim_ratio([[1.0]], [[1.0]], **{**ok, "epsilon": 0.0})
    with pytest.raises(ValueError, match="eigen_treatment must be one of"):
        formula.statdim_ratio([[1.0]], [[1.0]], **{**ok, "eigen_treatment": "clip"})
    with pytest.raises(ValueError, match="floor must be > 0"):
        formula.statdim_ratio([[1.0]], [[1.0]], **{**ok, "eigen_treatment": "floor"})
    with pytest.raises(ValueError, match="nodes contains NaN"):
        formula.statdim_ratio([[np.nan]], [[1.0]], **ok)
    with pytest.raises(ValueError, match="distances must be >= 0"):
        formula.statdim_ratio([[1.0]], [[1.0]], **{**ok, "distances": [-1.0]})
    with pytest.raises(ValueError, match="each row of weights must sum to 1"):
        formula.statdim_ratio([[1.0, 2.0]], [[0.5, 0.4]], **ok)


def test_eigenvalue_helpers_on_hand_values():
    lam = np.array([-2.0, -1e-9, 0.0, 3e-5, 0.5])
    np.testing.assert_allclose(
        formula.positive_eigenvalues(lam, eigen_treatment="abs", floor=1e-4),
        [2.0, 1e-4, 1e-4, 1e-4, 0.5])
    for treatment in ("floor", "drop", "flat"):
        np.testing.assert_allclose(
            formula.positive_eigenvalues(lam, eigen_treatment=treatment, floor=1e-4),
            [1e-4, 1e-4, 1e-4, 1e-4, 0.5])
    np.testing.assert_allclose(formula.psd_eigenvalues(lam, eigen_treatment="abs"),
                               [2.0, 1e-9, 0.0, 3e-5, 0.5])
    np.testing.assert_allclose(formula.psd_eigenvalues(lam, eigen_treatment="drop"),
                               [0.0, 0.0, 0.0, 3e-5, 0.5])
    with pytest.raises(ValueError, match="floor must be > 0"):
        formula.positive_eigenvalues(lam, eigen_treatment="abs", floor=0.0)
    with pytest.raises(ValueError, match="eigen_treatment must be one of"):
        formula.psd_eigenvalues(lam, eigen_treatment="clip")



def test_fixed_point_of_single_eigenvalue_spectrum_solves_the_cubic():
    # All eigenvalues equal lam, R(p) = a p:  2 eps / (lam a^2 p^2 + 2 eps) = p
    # <=> lam a^2 p^3 + 2 eps p - 2 eps = 0, one real root in (0, 1).
    lam, a, eps = 4.0, 3.0, 0.05
    roots = np.roots([lam * a**2, 0.0, 2 * eps, -2 * eps])
    exact = float(roots[np.abs(roots.imag) < 1e-12].real[0])
    grid = np.linspace(0, 1, 1001)
    pred = formula.formula_prediction(np.full((1, 5), lam), np.full((1, 5), 0.2),
                                        removal_ratios=grid, distances=a * grid, epsilon=eps)
    assert pred.removal_ratio == pytest.approx(exact, abs=1e-5)
    assert pred.interval == (pytest.approx(pred.removal_ratio), pytest.approx(pred.removal_ratio))
    np.testing.assert_array_equal(pred.statdim_ratio.sem, 0.0)
    assert pred.statdim_ratio.num_samples == 1


def test_fixed_point_edges_and_validation():
    grid = np.linspace(0, 1, 11)
    assert formula.fixed_point(grid, np.ones(11)) == 1.0
    assert formula.fixed_point(grid, np.zeros(11)) == 0.0
    assert formula.fixed_point(grid, 0.5 * np.ones(11)) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="strictly increasing"):
        formula.fixed_point(grid[::-1], np.ones(11))
    with pytest.raises(ValueError, match="curve must have shape"):
        formula.fixed_point(grid, np.ones(3))


def _random_rules():
    """8 probes' 20-node rules with equal weights, and the formula's grid arguments."""
    nodes = np.random.default_rng(0).uniform(0.1, 5.0, size=(8, 20))
    grid = np.linspace(0, 1, 201)
    return nodes, np.full((8, 20), 1 / 20), dict(removal_ratios=grid, distances=2 * grid,
                                                 epsilon=0.1)


def test_interval_reflects_probe_spread_and_epsilon_error():
    nodes, weights, kw = _random_rules()
    grid = kw["removal_ratios"]
    pred = formula.formula_prediction(nodes, weights, **kw)
    lo, hi = pred.interval
    assert lo < pred.removal_ratio < hi
    wider = formula.formula_prediction(nodes, weights, epsilon_standard_error=0.02, **kw)
    assert wider.interval[0] < lo and wider.interval[1] > hi
    mean = formula.statdim_ratio(nodes, weights, distances=2 * grid, epsilon=0.1,
                                 eigen_treatment="abs").mean(0)
    np.testing.assert_allclose(pred.statdim_ratio.mean, mean, rtol=1e-6)
    assert pred.statdim_ratio.num_samples == 8


def test_coarse_quadrature_widens_the_interval_by_the_two_rules_difference():
    nodes, weights, kw = _random_rules()
    plain = formula.formula_prediction(nodes, weights, **kw)
    assert plain.quadrature_term == 0.0
    # a coarser rule with every node halved: larger semi-axes, a larger fixed point
    coarse = formula.formula_prediction(nodes / 2, weights, **kw).removal_ratio
    assert coarse > plain.removal_ratio + 0.01
    pred = formula.formula_prediction(nodes, weights, coarse=(nodes / 2, weights), **kw)
    assert pred.removal_ratio == plain.removal_ratio
    assert pred.quadrature_term == pytest.approx(coarse - plain.removal_ratio)
    np.testing.assert_allclose(pred.interval, (plain.interval[0] - pred.quadrature_term,
                                               plain.interval[1] + pred.quadrature_term))
    # the same rule as its own coarse rule adds nothing
    same = formula.formula_prediction(nodes, weights, coarse=(nodes, weights), **kw)
    assert same.quadrature_term == 0.0 and same.interval == plain.interval


def test_sensitivity_rows_and_monotone_in_epsilon():
    nodes = np.array([[-0.5, 1e-8, 0.5, 1.0, 4.0]])
    weights = np.full((1, 5), 0.2)
    grid = np.linspace(0, 1, 501)
    rows = formula.sensitivity(nodes, weights, removal_ratios=grid, distances=3 * grid,
                                 epsilon=0.05, floor=1e-4)
    assert len(rows) == 4 * 3
    by = {(r["eigen_treatment"], r["epsilon_scale"]): r["predicted_removal_ratio"] for r in rows}
    for treatment in formula.EIGEN_TREATMENTS:
        assert by[(treatment, 0.5)] <= by[(treatment, 1.0)] <= by[(treatment, 2.0)]
    # two of five eigenvalues are low: "flat" counts them fully, "drop" not at all
    assert by[("flat", 1.0)] > by[("floor", 1.0)] > by[("drop", 1.0)]


def test_loss_noise_matches_sampling_theory():
    # loss of a batch = mean of its values; values with population std sigma.
    values = jax.random.normal(jax.random.key(0), (4000,)) * 3.0

    def loss_fn(params, batch):
        return params * jnp.mean(batch)

    noise = formula.loss_noise(loss_fn, 1.0, values, key=jax.random.key(1), batch_size=100,
                                 num_batches=400)
    sigma = float(np.std(np.asarray(values)))
    expected = sigma / np.sqrt(100) * np.sqrt((4000 - 100) / (4000 - 1))
    assert abs(noise.epsilon.mean - expected) < 4 * noise.epsilon.sem
    assert noise.epsilon.num_samples == 400 and noise.batch_size == 100
    again = formula.loss_noise(loss_fn, 1.0, values, key=jax.random.key(1), batch_size=100,
                                 num_batches=400)
    assert again == noise


def test_loss_noise_bad_input():
    values = jnp.arange(10.0)

    def loss_fn(params, batch):
        return params * jnp.mean(batch)

    with pytest.raises(ValueError, match="batch_size must be <= 10"):
        formula.loss_noise(loss_fn, 1.0, values, key=jax.random.key(0), batch_size=11)
    with pytest.raises(TypeError, match="key is required"):
        formula.loss_noise(loss_fn, 1.0, values, key=None)
    with pytest.raises(ValueError, match="params contains NaN"):
        formula.loss_noise(loss_fn, jnp.nan, values, key=jax.random.key(0), batch_size=5)
    with pytest.raises(ValueError, match="eps = 0"):
        formula.loss_noise(loss_fn, 0.0, values, key=jax.random.key(0), batch_size=5)
