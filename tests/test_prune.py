import jax
import jax.numpy as jnp
import numpy as np
import pytest

from phasetrans import data, nets, prune, train

PARAMS = [{"w": jnp.array([[0.5, -3.0], [0.1, 2.0]]), "b": jnp.array([9.0, 0.01])},
          {"w": jnp.array([[-0.2], [1.0]]), "b": jnp.array([0.0])}]


def _kept(mask):
    return [np.asarray(m).tolist() for m in jax.tree_util.tree_leaves(mask)]


def test_global_magnitude_by_hand():
    # prunable |w| = 0.5, 3, 0.1, 2, 0.2, 1 (D = 6); p = 0.5 removes 3: 0.1, 0.2, 0.5
    mask = prune.global_magnitude(PARAMS, 0.5)
    assert _kept(mask) == [[True, True], [[False, True], [False, True]], [True], [[False], [True]]]
    assert prune.num_prunable(PARAMS) == 6
    # floor(0.49 * 6) = 2 removed; p = 1 removes every weight and no bias
    assert sum(np.sum(~np.asarray(m)) for m in jax.tree_util.tree_leaves(
        prune.global_magnitude(PARAMS, 0.49))) == 2
    full = prune.global_magnitude(PARAMS, 1.0)
    assert [np.asarray(m).all() for m in jax.tree_util.tree_leaves(full)] == [
        True, False, True, False]


def test_biases_prunable_when_asked_and_ties_deterministic():
    prunable = [{"w": True, "b": True}, {"w": True, "b": True}]
    assert prune.num_prunable(PARAMS, prunable) == 9
    mask = prune.global_magnitude(PARAMS, 2 / 9 + 1e-9, prunable)  # removes 0.0 and 0.01
    assert not np.asarray(mask[1]["b"])[0] and not np.asarray(mask[0]["b"])[1]
    tied = [{"w": jnp.ones((2, 2))}]
    m = prune.global_magnitude(tied, 0.5)
    assert np.asarray(m[0]["w"]).tolist() == [[False, False], [True, True]]


def test_layerwise_and_random_counts():
    mask = prune.layerwise_magnitude(PARAMS, 0.5)
    assert np.asarray(mask[0]["w"]).tolist() == [[False, True], [False, True]]
    assert np.asarray(mask[1]["w"]).tolist() == [[False], [True]]
    big = [{"w": jnp.ones((40, 25)), "b": jnp.ones(25)}]
    rnd = prune.random_mask(big, 0.3, key=jax.random.key(0))
    assert int(np.sum(~np.asarray(rnd[0]["w"]))) == 300 and np.asarray(rnd[0]["b"]).all()
    again = prune.random_mask(big, 0.3, key=jax.random.key(0))
    assert _kept(again) == _kept(rnd)


def test_pruned_distance_by_hand_and_vmap():
    assert float(prune.pruned_distance(PARAMS, 0.5)) == pytest.approx(np.sqrt(0.01 + 0.04 + 0.25))
    grid = jnp.array([0.0, 0.5, 1.0])
    r = jax.vmap(lambda p: prune.pruned_distance(PARAMS, p))(grid)
    np.testing.assert_allclose(r, [0.0, np.sqrt(0.3), np.sqrt(0.3 + 9 + 4 + 1)], rtol=1e-6)


def test_sweep_equals_per_ratio_reference():
    ds = data.load("digits")
    net = nets.mlp([64, 16, 10])
    res = train.train_seeds(net, ds, keys=jax.random.split(jax.random.key(0), 2), steps=150)
    grid = np.array([0.0, 0.3, 0.6, 0.9])
    sw = prune.sweep(net, res.params, ds, grid)
    loss_fn = nets.cross_entropy(net.apply)
    for s in range(2):
        params = jax.tree_util.tree_map(lambda w, s=s: w[s], res.params)
        for j, p in enumerate(grid):
            pruned = prune.apply_mask(params, prune.global_magnitude(params, float(p)))
            acc = nets.accuracy(net.apply, pruned, ds.x_test, ds.y_test)
            assert float(sw.test_accuracy[s, j]) == pytest.approx(float(acc), abs=1e-6)
            loss = loss_fn(pruned, (ds.x_train, ds.y_train))
            assert float(sw.train_loss[s, j]) == pytest.approx(float(loss), rel=1e-5)
    np.testing.assert_allclose(sw.test_accuracy[:, 0], sw.unpruned_test_accuracy, atol=1e-6)
    tuned = prune.sweep(net, res.params, ds, grid, finetune_steps=20)
    assert np.all(np.asarray(tuned.train_loss[:, -1]) < np.asarray(sw.train_loss[:, -1]))


def test_empirical_threshold_rules():
    grid = np.array([0.0, 0.25, 0.5, 0.75, 1.0])
    acc = np.array([[0.9, 0.9, 0.85, 0.9, 0.1]])
    loss = np.array([[0.1, 0.12, 0.3, 0.15, 2.0]])
    sw = prune.SweepResult(grid, acc, loss, acc, loss, np.array([0.9]), np.array([0.1]),
                           np.array([0.9]), np.array([0.1]))
    th = prune.empirical_threshold(sw, epsilon=0.05)
    assert th.accuracy.tolist() == [0.25] and th.loss.tolist() == [0.25]
    last = prune.empirical_threshold(sw, epsilon=0.05, rule="last_pass")
    assert last.accuracy.tolist() == [0.75] and last.loss.tolist() == [0.75]
    tol = prune.empirical_threshold(sw, epsilon=0.5, accuracy_tol=0.05)
    assert tol.accuracy.tolist() == [0.75] and tol.loss.tolist() == [0.75]


def test_bad_input():
    with pytest.raises(ValueError, match="removal_ratio must be <= 1.0"):
        prune.global_magnitude(PARAMS, 1.5)
    with pytest.raises(ValueError, match="removal_ratio must be >= 0.0"):
        prune.pruned_distance(PARAMS, -0.1)
    bad = jax.tree_util.tree_map(lambda w: w.at[0].set(jnp.nan), PARAMS)
    with pytest.raises(ValueError, match="params.*NaN"):
        prune.global_magnitude(bad, 0.5)
    with pytest.raises(ValueError, match="same pytree structure"):
        prune.global_magnitude(PARAMS, 0.5, prunable=[{"w": True}])
    with pytest.raises(ValueError, match="epsilon must be > 0"):
        prune.empirical_threshold(None, epsilon=0.0)
    with pytest.raises(ValueError, match="method must be one of"):
        prune.mask_for("magnitude", PARAMS, 0.5)
