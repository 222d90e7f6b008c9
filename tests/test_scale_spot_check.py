"""The exact spot check of the scale-study family's SLQ prediction
(experiments/scale_study/spot_check.py) at a width where predict's own exact path is allowed."""

import jax
import numpy as np
import pytest

from experiments.scale_study import family, spot_check
from phasetrans.networks import stationarity
from phasetrans.theory import predict

WIDTH = 6
"""D = 32 h + 2 h^2 = 264 (n = 88): trains in a few seconds."""


@pytest.fixture(scope="module")
def member():
    # a short training run: the check compares two spectra of the same network, converged or not
    stop = stationarity.StopRule(max_steps=1000, window=500, check_every=500)
    return family.recommended(WIDTH, seed=0, stop=stop)[0]


ELLIPSOID = predict.EllipsoidOptions(num_ratios=2, num_samples=4, num_levels=8)
NO_ELLIPSOID = predict.EllipsoidOptions(max_dim=0)


def _options(problem, ellipsoid=NO_ELLIPSOID, **spectrum):
    # family_run's options with fewer probes and ratios, to keep the test short (the fast test
    # turns the Monte Carlo ellipsoid off: it compiles most of the time)
    base = spot_check.family_run.options(problem.metadata["n"])
    return base._replace(
        num_ratios=401, ellipsoid_options=ellipsoid,
        spectrum_options=base.spectrum_options._replace(num_probes=8, num_iters=30, **spectrum))


def test_exact_counts_lie_in_slq_brackets_and_formula_agrees(member):
    doc = spot_check.compare(member, seed=0, options=_options(member))
    assert doc["num_params"] == 264 and doc["mc_ellipsoid"] is None
    for name, count in doc["counts"].items():
        assert count["exact_in_bracket"], (name, count)
    assert sum(c["exact"] for c in doc["counts"].values()) == 264
    slq, exact = doc["formula"]["slq"], doc["formula"]["exact"]
    # Tolerance: the SLQ interval is the pipeline's own statement of its uncertainty (fixed
    # points of the curve at -/+ 2 SEM across probes and -/+ 2 SE of eps); the formula's summand
    # r_i^2 / (R^2 + r_i^2) is smooth in lambda, so the quadrature's bias is far below that
    # spread (measured: 0.002 at D = 384 against an interval 0.012 wide), and the exact fixed
    # point must lie inside it; 0.005 of slack covers the grid's linear interpolation (1/400).
    assert slq["interval"][0] - 0.005 <= exact["removal_ratio"] <= slq["interval"][1] + 0.005
    assert abs(slq["removal_ratio"] - exact["removal_ratio"]) < 0.03
    # the step-count sweep reuses predict's probes: at predict's own step count it is predict's
    # SLQ formula (a key or probe mismatch would move it), and the counts are the sweep's
    *steps, limit = doc["formula"]["slq_by_num_iters"]
    assert [s["num_iters"] for s in steps] == sorted({*spot_check.STEPS, doc["slq"]["num_iters"]})
    # the limit k = D (the same probes' exact quadrature) differs from the exact value by probe
    # noise only: inside its own interval (2 SEM, 2 SE of eps) with the grid's slack
    assert limit["exact_eigenpairs"] and limit["num_iters"] == 264
    assert limit["interval"][0] - 0.005 <= exact["removal_ratio"] <= limit["interval"][1] + 0.005
    (same,) = [s for s in steps if s["num_iters"] == doc["slq"]["num_iters"]]
    assert same["removal_ratio"] == slq["removal_ratio"] and same["interval"] == slq["interval"]
    assert same["quadrature_term"] == slq["quadrature_term"] > 0  # predict widens by it too
    assert len({s["removal_ratio"] for s in steps}) > 1  # fewer steps: another quadrature


@pytest.mark.slow
def test_exact_side_reproduces_predicts_exact_path(member):
    """The assembly from public pieces (hessian_matrix with an explicit max_dim, ExactSource,
    formula_prediction, levels_prediction, ellipsoid_prediction) against predict(spectrum=
    "exact") itself, in the eigenbasis (ellipsoid max_dim >= D) and on the exact levels
    (max_dim = 1 < D)."""
    doc = spot_check.compare(member, seed=0, options=_options(member, ELLIPSOID))
    key = jax.random.key(0)
    for max_dim, entry in ((4000, "exact_eigenbasis"), (1, "exact_levels")):
        exact_options = _options(member, ELLIPSOID._replace(max_dim=max_dim), method="exact")
        ref = predict.predict_problem(member, key=key, options=exact_options)[0]
        np.testing.assert_allclose(doc["formula"]["exact"]["removal_ratio"],
                                   ref.formula.removal_ratio, rtol=1e-6)
        np.testing.assert_allclose(doc["formula"]["exact"]["interval"], ref.formula.interval,
                                   rtol=1e-6)
        mc = doc["mc_ellipsoid"][entry]
        np.testing.assert_allclose(mc["removal_ratio"], ref.ellipsoid.removal_ratio, rtol=1e-5)
        np.testing.assert_allclose(mc["statdim_ratio"], ref.ellipsoid.statdim_ratio.mean,
                                   rtol=1e-5)
        assert mc["hessian_model"] == ref.ellipsoid.hessian_model
