import jax
import jax.numpy as jnp
import numpy as np
import pytest

from phasetrans import _checks
from phasetrans.estimate import Estimate, SolverInfo, from_samples


def test_integer_checks_type_and_range():
    assert _checks.positive_int("dim", 3) == 3
    assert _checks.positive_int("dim", np.int64(3)) == 3
    with pytest.raises(ValueError, match="dim must be >= 1, got 0"):
        _checks.positive_int("dim", 0)
    with pytest.raises(TypeError, match="dim must be an integer"):
        _checks.positive_int("dim", 2.5)
    with pytest.raises(TypeError, match="dim must be an integer"):
        _checks.positive_int("dim", True)
    with pytest.raises(ValueError, match="sparsity must be <= 10"):
        _checks.integer("sparsity", 11, minimum=0, maximum=10)


def test_real_checks():
    assert _checks.real("radius", 2, positive=True) == 2.0
    with pytest.raises(ValueError, match="radius must be > 0"):
        _checks.real("radius", 0.0, positive=True)
    with pytest.raises(ValueError, match="radius must be finite"):
        _checks.real("radius", float("nan"), positive=True)
    with pytest.raises(TypeError, match="radius must be a real number"):
        _checks.real("radius", "1")
    with pytest.raises(ValueError, match="removal_ratio must be <= 1.0"):
        _checks.removal_ratio("removal_ratio", 1.5)


def test_array_and_tree_finiteness():
    x = _checks.array("x", [1, 2, 3], ndim=1)
    assert jnp.issubdtype(x.dtype, jnp.floating)
    with pytest.raises(ValueError, match="x contains NaN or Inf"):
        _checks.array("x", [1.0, np.nan])
    with pytest.raises(ValueError, match=r"params\['w'\] contains NaN"):
        _checks.finite("params", {"w": jnp.array([jnp.inf]), "b": jnp.zeros(2)})
    with pytest.raises(ValueError, match="must have 2 dimension"):
        _checks.array("H", jnp.ones(3), ndim=2)


def test_one_of_key_and_structure():
    assert _checks.one_of("treatment", "abs", ["abs", "floor"]) == "abs"
    with pytest.raises(ValueError, match="treatment must be one of 'abs', 'floor'; got 'x'"):
        _checks.one_of("treatment", "x", ["abs", "floor"])
    _checks.prng_key("key", jax.random.key(0))
    _checks.prng_key("key", jax.random.PRNGKey(0))
    with pytest.raises(TypeError, match="key is required"):
        _checks.prng_key("key", None)
    with pytest.raises(TypeError, match="key must be a JAX PRNG key"):
        _checks.prng_key("key", 0)
    with pytest.raises(ValueError, match="same pytree structure"):
        _checks.same_structure("a", {"w": 1}, "b", {"v": 1})
    with pytest.raises(ValueError, match="different shapes"):
        _checks.same_structure("a", {"w": jnp.ones(2)}, "b", {"w": jnp.ones(3)})


def test_from_samples_matches_numpy():
    samples = np.array([1.0, 2.0, 4.0, 7.0])
    est = from_samples(samples)
    assert isinstance(est, Estimate)
    assert est.num_samples == 4
    np.testing.assert_allclose(est.mean, 3.5, rtol=1e-6)
    np.testing.assert_allclose(est.sem, np.std(samples, ddof=1) / 2.0, rtol=1e-6)
    lo, hi = est.interval(2.0)
    np.testing.assert_allclose([lo, hi], [3.5 - 2 * est.sem, 3.5 + 2 * est.sem], rtol=1e-6)
    with pytest.raises(ValueError, match="at least 2 samples"):
        from_samples(np.ones(1))


def test_estimate_to_dict_and_solver_info_reductions():
    d = from_samples(np.array([[1.0, 2.0], [3.0, 6.0]])).to_dict()
    assert set(d) == {"estimate", "sem", "num_samples"} and d["num_samples"] == 2
    np.testing.assert_allclose(d["estimate"], [2.0, 4.0], rtol=1e-6)
    np.testing.assert_allclose(d["sem"], [1.0, 2.0], rtol=1e-6)
    assert isinstance(d["estimate"], list) and isinstance(d["sem"][0], float)
    assert Estimate(0.5, 0.25, 9).to_dict() == {"estimate": 0.5, "sem": 0.25, "num_samples": 9}
    batch = SolverInfo(np.array([3, 50, 7]), np.array([1e-6, 2e-2, 1e-5]),
                       np.array([True, False, True]))
    worst = SolverInfo.worst(batch)
    assert worst == (50, 2e-2, False)
    assert worst.to_dict() == {"iterations": 50, "residual": 2e-2, "converged": False}
    both = SolverInfo.combine(SolverInfo(10, 1e-4, True), SolverInfo(4, 1e-3, True))
    assert both == (10, 1e-3, True)
    assert SolverInfo.worst(SolverInfo(np.zeros(0), np.zeros(0), np.zeros(0, bool))) == (
        0, 0.0, True)
    exact = SolverInfo.exact()
    assert int(exact.iterations) == 0 and float(exact.residual) == 0 and bool(exact.converged)


def test_num_examples():
    assert _checks.num_examples("data", (np.ones((5, 2)), np.ones(5))) == 5
    with pytest.raises(ValueError, match="same leading example axis"):
        _checks.num_examples("data", (np.ones((5, 2)), np.ones(4)))
    with pytest.raises(ValueError, match="holds no examples"):
        _checks.num_examples("data", (np.ones((0, 2)),))
    with pytest.raises(ValueError, match=r"data.* contains NaN"):
        _checks.num_examples("data", (np.array([1.0, np.nan]),))


def test_removal_ratio_grids():
    grid = _checks.removal_ratios("removal_ratios", [0, 0.5, 1])
    assert grid.ndim == 1 and grid.tolist() == [0.0, 0.5, 1.0]
    for bad in ([], [0.2, 1.1], [-0.1], [[0.5]]):
        with pytest.raises(ValueError, match="removal_ratios must"):
            _checks.removal_ratios("removal_ratios", bad)
    with pytest.raises(ValueError, match="finite"):
        _checks.removal_ratios("removal_ratios", [0.5, float("nan")])


def test_options_defaults_type_and_validation():
    from phasetrans.estimate import SolverOptions

    default = SolverOptions(tol=1e-3, max_iters=7, check_every=1)
    assert _checks.options("solver", None, SolverOptions) == SolverOptions()
    assert _checks.options("solver", None, SolverOptions, default=default) == default
    mine = SolverOptions(tol=1e-5, max_iters=100, check_every=10)
    assert _checks.options("solver", mine, SolverOptions, default=default) == mine
    with pytest.raises(TypeError, match=r"^solver must be a phasetrans.estimate.SolverOptions "
                                        r"or None, got dict$"):
        _checks.options("solver", {"tol": 1e-5}, SolverOptions)
    with pytest.raises(ValueError, match="max_iters"):  # validate() ran
        _checks.options("solver", SolverOptions(max_iters=0), SolverOptions)
