"""Pruning methods side by side (phasetrans.applications.methods) and their report."""

import jax
import numpy as np
import pytest

from phasetrans.applications import compare, methods, report
from phasetrans.networks import effective, nets, nettrim, prune, train
from phasetrans.networks.problem import Model
from phasetrans.theory import predict


@pytest.fixture(scope="module")
def comparison():
    return compare.compare("digits", arch="8", l1=1e-4, num_seeds=2,
                           training=train.TrainingOptions(steps=300),
                           options=predict.PredictOptions(
                               ellipsoid_options=predict.EllipsoidOptions(max_dim=0),
                               l1_body_options=predict.L1BodyOptions(max_dim=0)),
                           assessment=compare.AssessOptions(further_steps=200))


@pytest.fixture(scope="module")
def swept(comparison):
    return methods.sweep_methods(comparison, methods=["global", "random", "nettrim"],
                                 key=jax.random.key(3), num_ratios=6)


def _seed(params, s):
    return jax.tree_util.tree_map(lambda w: w[s], params)


def test_curves_evaluate_the_masks_they_measure(comparison, swept):
    """Accuracy and effective ratio of each (seed, ratio) recomputed by hand from the masks."""
    c = comparison
    grid = np.linspace(0, 1, 6)
    keys = jax.random.split(jax.random.key(3), 2)
    for s in range(2):
        params = c.problem.seed(s)
        x_train, _ = c.problem.train
        trimmed = nettrim.prune(c.problem.model.apply, params, x_train, grid, epsilon=0.05)
        for j in (1, 3, 4):
            for name, mask, pruned in (
                    ("global", prune.global_magnitude(params, grid[j]), None),
                    ("random", prune.random_mask(params, grid[j], key=keys[s]), None),
                    ("nettrim", _seed(trimmed.masks, j), _seed(trimmed.params, j))):
                curve = swept.curves[name]
                pruned = prune.apply_mask(params, mask) if pruned is None else pruned
                accuracy = c.problem.model.accuracy(pruned, c.problem.test)
                assert curve.sweep.test_accuracy[s, j] == pytest.approx(float(accuracy)), name
                assert curve.effective_removal_ratios[s, j] == pytest.approx(
                    float(effective.effective_removal_ratio(params, mask)), abs=1e-6), name


def test_effective_thresholds_are_read_at_the_direct_thresholds(swept):
    grid = np.linspace(0, 1, 6)
    dim = 64 * 8 + 8 * 10
    direct = {"global": np.floor(grid * dim + 1e-6) / dim,  # floor(p D) removed
              "random": np.floor(grid * dim + 1e-6) / dim,  # floor(p n_l) per layer
              "nettrim": 1 - (np.ceil((1 - grid) * 512 - 1e-6)
                              + np.ceil((1 - grid) * 80 - 1e-6)) / dim}
    for name, curve in swept.curves.items():
        assert np.all(curve.effective_removal_ratios >= direct[name] - 1e-6), name
        for s, t in enumerate(curve.empirical.accuracy):
            if np.isnan(t):
                assert np.isnan(curve.effective_threshold[s])
            else:
                j = int(np.argmin(np.abs(grid - t)))
                assert curve.effective_threshold[s] == curve.effective_removal_ratios[s, j]
    assert swept.curves["nettrim"].info is not None and swept.curves["global"].info is None


def test_methods_json_means_and_lines(swept):
    doc = report.methods_json(swept)
    g = doc["methods"]["global"]
    curve = swept.curves["global"]
    assert g["points"][2]["test_accuracy"] == pytest.approx(
        float(np.mean(curve.sweep.test_accuracy[:, 2])))
    assert g["threshold_per_seed"] == pytest.approx(curve.empirical.accuracy.tolist(),
                                                    nan_ok=True)
    assert doc["predicted"]["per_seed"] == [p.formula.removal_ratio
                                            for p in swept.comparison.predictions]
    lines = report.methods_lines(doc)
    assert lines[0].endswith(f"the theory predicts {100 * doc['predicted']['removal_ratio']:.0f} %")
    assert [line.split()[0] for line in lines[5:8]] == ["global", "random", "nettrim"]
    assert lines[8].startswith("  PREMISE FAILS: w* is not a minimum of F")  # 300 Adam steps


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"methods": ["global", "lasso"]}, ValueError, "method must be one of"),
    ({"methods": "global"}, ValueError, "non-empty list"),
    ({"methods": []}, ValueError, "non-empty list"),
    ({"methods": ["global", "global"]}, ValueError, "must not repeat"),
    ({"num_ratios": 1}, ValueError, "num_ratios must be >= 2"),
    ({"nettrim_epsilon": 1.5}, ValueError, "nettrim_epsilon is relative"),
    ({"nettrim_variant": "serial"}, ValueError, "nettrim_variant must be one of"),
    ({"accuracy_tol": -1.0}, ValueError, "accuracy_tol must be >= 0"),
])
def test_bad_input(comparison, kwargs, error, match):
    with pytest.raises(error, match=match):
        methods.sweep_methods(comparison, key=jax.random.key(0), **kwargs)


def test_nettrim_needs_an_mlp(comparison):
    tanh = nets.mlp([64, 8, 10], activation="tanh")
    other = comparison._replace(problem=comparison.problem.replace(model=Model(tanh.apply)))
    with pytest.raises(ValueError, match="prunes the dense ReLU layers"):
        methods.sweep_methods(other, key=jax.random.key(0))
    with pytest.raises(TypeError, match="key"):
        methods.sweep_methods(comparison, key=None)
