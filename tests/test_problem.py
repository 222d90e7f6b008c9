"""The pruning Problem: built from a user's pieces, validated once, and the same numbers as the
built-in path."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from phasetrans.applications import attribution, compare
from phasetrans.networks import data, nets, prune, retrain, train
from phasetrans.networks.problem import Model, Problem
from phasetrans.theory import predict

OFF = predict.PredictOptions(ellipsoid_options=predict.EllipsoidOptions(max_dim=0),
                             l1_body_options=predict.L1BodyOptions(max_dim=0))


@pytest.fixture(scope="module")
def digits():
    return data.load("digits")


def _dict_model(key, hidden=6):
    """A plain-pytree model (not phasetrans.networks.nets): a dict of arrays, tanh, a skip term."""
    k1, k2 = jax.random.split(key)
    params = {"hidden": {"kernel": 0.1 * jax.random.normal(k1, (64, hidden)),
                         "bias": jnp.zeros(hidden)},
              "out": {"kernel": 0.1 * jax.random.normal(k2, (hidden, 10)),
                      "bias": jnp.zeros(10)},
              "scale": jnp.ones(())}

    def apply(p, x):
        h = jnp.tanh(x @ p["hidden"]["kernel"] + p["hidden"]["bias"])
        return p["scale"] * (h @ p["out"]["kernel"] + p["out"]["bias"])

    return apply, params


def test_from_apply_holds_a_seed_axis_and_defaults(digits):
    apply, params = _dict_model(jax.random.key(0))
    problem = Problem.from_apply(apply, params, train=(digits.x_train, digits.y_train),
                                 test=(digits.x_test, digits.y_test), l1=1e-4)
    assert problem.num_seeds == 1
    assert problem.params["hidden"]["kernel"].shape == (1, 64, 6)
    np.testing.assert_array_equal(problem.seed(0)["out"]["kernel"], params["out"]["kernel"])
    # the weights (ndim >= 2) are prunable, the biases and the scalar are not: D = 64*6 + 6*10
    assert problem.prunable == {"hidden": {"bias": False, "kernel": True},
                                "out": {"bias": False, "kernel": True}, "scale": False}
    assert prune.num_prunable(problem.seed(0), problem.prunable) == 64 * 6 + 6 * 10
    assert problem.num_classes == 10 and problem.metadata["source"] == "from_apply"
    x, y = digits.x_test[:50], digits.y_test[:50]
    logits = apply(params, x)
    want = -jnp.mean(jax.nn.log_softmax(logits)[jnp.arange(50), y])
    assert float(problem.model.loss(params, (x, y))) == pytest.approx(float(want), rel=1e-6)
    assert float(problem.model.accuracy(params, (x, y))) == pytest.approx(
        float(jnp.mean(jnp.argmax(logits, -1) == y)))


def test_problem_rejects_bad_input(digits):
    apply, params = _dict_model(jax.random.key(0))
    sets = {"train": (digits.x_train, digits.y_train), "test": (digits.x_test, digits.y_test)}

    def build(params=params, apply=apply, **changes):
        return Problem.from_apply(apply, params, **{**sets, "l1": 1e-4, **changes})

    with pytest.raises(TypeError, match=r"params\['step'\] has dtype int32.*Drop integer leaves"):
        build(params={**params, "step": jnp.asarray(3, jnp.int32)})
    with pytest.raises(ValueError, match=r"params\['scale'\] contains NaN"):
        build(params={**params, "scale": jnp.asarray(jnp.nan)})
    with pytest.raises(TypeError, match="test is required"):
        build(test=None)
    with pytest.raises(ValueError, match="same leading example axis"):
        build(train=(digits.x_train, digits.y_train[:10]))
    with pytest.raises(ValueError, match="does not evaluate the train data: TypeError"):
        build(train=(digits.x_train[:, :10], digits.y_train))
    with pytest.raises(ValueError, match="l1 must be >= 0"):
        build(l1=-1.0)
    with pytest.raises(ValueError, match="one leading seed axis on every leaf"):
        build(seed_axis=True)
    with pytest.raises(ValueError, match="marks no leaf as prunable"):
        build(prunable=jax.tree_util.tree_map(lambda w: False, params))
    with pytest.raises(TypeError, match="apply must be a function"):
        build(apply="mlp")
    with pytest.raises(ValueError, match="loss on the train data must be a scalar"):
        Problem.from_loss(lambda p, b: jnp.zeros(3), params, accuracy=lambda p, b: 1.0,
                          l1=0.0, **sets)
    for capability in (lambda: prune.sweep(params, [0.0, 1.0]),
                       lambda: retrain.retrain(params, [0.0]),
                       lambda: predict.predict_problem(params, key=jax.random.key(0))):
        with pytest.raises(TypeError, match="problem must be a phasetrans.Problem"):
            capability()


def test_built_in_and_user_path_give_identical_numbers(digits):
    """compare() on a built-in network, and the same parameters handed in by a user (a new
    network's apply, plain arrays): bit-identical prediction, sweep and retraining; wrapped in
    a function of the user's own (the sweep's generic route), the same masks and accuracies."""
    built = compare.compare(digits, arch="8", l1=1e-4, num_seeds=2,
                            training=train.TrainingOptions(steps=200), options=OFF,
                            assessment=compare.AssessOptions(further_steps=50))
    net = nets.mlp([64, 8, 10])
    params = jax.tree_util.tree_map(np.asarray, built.problem.params)
    sets = {"train": (digits.x_train, digits.y_train), "test": (digits.x_test, digits.y_test)}
    mine = Problem.from_apply(net.apply, params, l1=1e-4, seed_axis=True, **sets)
    again = compare.assess(mine, key=jax.random.key(0), options=OFF, further_steps=50)
    for a, b in zip(built.predictions, again.predictions, strict=True):
        assert a.formula.removal_ratio == b.formula.removal_ratio
        assert a.noise.epsilon.mean == b.noise.epsilon.mean
        np.testing.assert_array_equal(a.model.eigenvalues, b.model.eigenvalues)
    for name in ("test_accuracy", "test_loss", "train_loss", "unpruned_train_loss"):
        np.testing.assert_array_equal(getattr(built.sweep, name), getattr(again.sweep, name))
    assert [s.decrease for s in built.stationarity] == [s.decrease for s in again.stationarity]
    assert again.dataset == "user data" and again.training["rule"] == "yours (from_apply)"
    wrapped = prune.sweep(mine.replace(model=Model(lambda p, x: net.apply(p, x))),
                          built.sweep.removal_ratios)
    np.testing.assert_array_equal(wrapped.test_accuracy, built.sweep.test_accuracy)
    np.testing.assert_allclose(wrapped.test_loss, built.sweep.test_loss, rtol=1e-5)
    grid = [0.0, 0.5, 0.9]
    ours, theirs = (retrain.retrain(c.problem, grid, steps=20) for c in (built, again))
    np.testing.assert_array_equal(ours.objective, theirs.objective)
    np.testing.assert_array_equal(ours.test_accuracy, theirs.test_accuracy)


def test_a_users_dict_model_end_to_end(digits):
    """predict -> sweep -> attribution on a plain-pytree model the library never saw."""
    apply, params = _dict_model(jax.random.key(1))
    fitted = train.minimise(nets.cross_entropy(apply), params, (digits.x_train, digits.y_train),
                            l1=1e-3, prunable=None,
                            training=train.TrainingOptions(steps=300, learning_rate=1e-2))
    problem = Problem.from_apply(apply, fitted.params, train=(digits.x_train, digits.y_train),
                                 test=(digits.x_test, digits.y_test), l1=1e-3)
    c = compare.assess(problem, key=jax.random.key(0), further_steps=50, num_sweep_ratios=11,
                       options=predict.PredictOptions(
                           ellipsoid_options=predict.EllipsoidOptions(num_ratios=3,
                                                                      num_samples=8),
                           l1_body_options=predict.L1BodyOptions(max_dim=0)))
    dim = 64 * 6 + 6 * 10
    assert c.predictions[0].num_params == dim
    assert 0.0 <= c.predictions[0].formula.removal_ratio <= 1.0
    assert float(c.sweep.unpruned_test_accuracy[0]) > 0.5  # it learned
    # the sweep prunes the problem's prunable leaves: at p = 1 every kernel is 0, so the
    # logits are scale * (output bias), the same class for every input
    fitted_out = fitted.params["scale"] * fitted.params["out"]["bias"]
    assert float(c.sweep.test_accuracy[0, -1]) == pytest.approx(
        float(np.mean(np.asarray(digits.y_test) == int(jnp.argmax(fitted_out)))))
    options = attribution.AttributionOptions(num_ratios=11, subspace_ratios=3, num_subspaces=4,
                                             retrain_ratios=6, retrain_steps=20)
    a = attribution.attribute(c, key=jax.random.key(0), options=options)
    assert a.thresholds["support_ellipsoid"].reason is None
    assert len(a.thresholds["retrain_F"].per_seed) == 1


def test_from_loss_with_its_own_accuracy(digits):
    """A loss that is not cross-entropy (squared error on one-hot labels)."""
    apply, params = _dict_model(jax.random.key(2))

    def loss(p, batch):
        x, y = batch
        return jnp.mean((apply(p, x) - jax.nn.one_hot(y, 10)) ** 2)

    def accuracy(p, batch):
        x, y = batch
        return jnp.mean(jnp.argmax(apply(p, x), -1) == y)

    problem = Problem.from_loss(loss, params, accuracy=accuracy, l1=0.0,
                                train=(digits.x_train, digits.y_train),
                                test=(digits.x_test, digits.y_test))
    assert problem.model == Model(loss_fn=loss, accuracy_fn=accuracy)
    swept = prune.sweep(problem, [0.0, 1.0])
    assert float(swept.train_loss[0, 0]) == pytest.approx(
        float(loss(params, (digits.x_train, digits.y_train))), rel=1e-6)
    assert problem.num_classes is None


def test_save_problem_round_trips_built_in_networks_only(digits, tmp_path):
    trained = train.train_problem(digits, arch="4", l1=1e-4, num_seeds=2, seed=1, steps=5)
    path = tmp_path / "p.npz"
    train.save_problem(path, trained)
    loaded = train.load_problem(path, digits, arch="4", l1=1e-4, num_seeds=2, seed=1)
    for a, b in zip(jax.tree_util.tree_leaves(trained.params),
                    jax.tree_util.tree_leaves(loaded.params), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="arch"):  # another network's record
        train.load_problem(path, digits, arch="8", l1=1e-4, num_seeds=2, seed=1)
    apply, params = _dict_model(jax.random.key(0))
    mine = Problem.from_apply(apply, params, train=(digits.x_train, digits.y_train),
                              test=(digits.x_test, digits.y_test), l1=1e-4)
    with pytest.raises(ValueError, match="only built-in networks"):
        train.save_problem(tmp_path / "q.npz", mine)



def test_assess_takes_predictions_computed_before(digits):
    """assess(predictions=...) uses them as given (no second prediction) and checks their
    count and type."""
    apply, params = _dict_model(jax.random.key(2))
    problem = Problem.from_apply(apply, params, train=(digits.x_train, digits.y_train),
                                 test=(digits.x_test, digits.y_test), l1=1e-3)
    key = jax.random.key(0)
    before = predict.predict_problem(problem, key=key, options=OFF)
    c = compare.assess(problem, key=key, predictions=before, further_steps=10,
                       num_sweep_ratios=5)
    assert c.predictions[0] is before[0]
    assert c.stationarity[0].epsilon == before[0].noise.epsilon.mean
    for bad in ([], before * 2, [before[0].formula], before[0]):
        with pytest.raises(TypeError, match="predictions must be a list of 1 Prediction"):
            compare.assess(problem, key=key, predictions=bad, further_steps=10)
