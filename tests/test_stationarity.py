"""The premise check: F's minimum-norm subgradient, the stop rule, proximal Adam, and the
further-optimisation test, against hand computations and independent solvers."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy_oracles
from sklearn.linear_model import Lasso

from phasetrans.networks import data, nets, stationarity, train


def test_min_norm_subgradient_by_hand():
    params = {"w": jnp.array([[0.5, 0.0, 0.0, -0.2]]), "b": jnp.array([0.0, 3.0])}
    gradient = {"w": jnp.array([[0.3, 0.25, -0.05, 0.1]]), "b": jnp.array([0.4, -0.1])}
    prunable = {"w": True, "b": False}
    sub = stationarity.min_norm_subgradient(gradient, params, l1=0.1, prunable=prunable)
    # w != 0: g + l1 sign(w); w == 0: sign(g) max(|g| - l1, 0); biases: g
    np.testing.assert_allclose(sub["w"], [[0.4, 0.15, 0.0, 0.0]], atol=1e-7)
    np.testing.assert_allclose(sub["b"], [0.4, -0.1])

    def loss(p, batch):  # L whose gradient at params is `gradient`
        return sum(jnp.sum(g * w) for g, w in zip(jax.tree_util.tree_leaves(gradient),
                                                  jax.tree_util.tree_leaves(p), strict=True))

    measured = stationarity.subgradient(loss, params, None, l1=0.1, prunable=prunable)
    np.testing.assert_allclose(measured.norm, np.sqrt(0.4**2 + 0.15**2 + 0.4**2 + 0.1**2),
                               rtol=1e-6)
    np.testing.assert_allclose(measured.gradient_norm,
                               np.sqrt(0.09 + 0.0625 + 0.0025 + 0.01 + 0.16 + 0.01), rtol=1e-6)
    np.testing.assert_allclose(measured.relative, measured.norm / measured.gradient_norm)


def test_subgradient_vanishes_at_the_lasso_minimiser():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((80, 30))
    y = x[:, :4] @ np.array([1.0, -2.0, 0.5, 3.0]) + 0.1 * rng.standard_normal(80)
    alpha = 0.05
    solver = Lasso(alpha=alpha, fit_intercept=False, tol=1e-14, max_iter=100_000).fit(x, y)
    assert 0 < np.sum(solver.coef_ != 0) < 30  # the minimiser has exact zeros and a support

    def loss(params, batch):  # sklearn's Lasso: 1/(2n) ||y - X w||^2 + alpha ||w||_1
        bx, by = batch
        return 0.5 * jnp.mean((by - bx @ params["w"]) ** 2)

    with jax.enable_x64(True):
        batch = (jnp.asarray(x), jnp.asarray(y))
        at = stationarity.subgradient(loss, {"w": jnp.asarray(solver.coef_)}, batch, l1=alpha,
                                      prunable={"w": True})
        moved = stationarity.subgradient(loss, {"w": jnp.asarray(solver.coef_ + 1e-3)}, batch,
                                         l1=alpha, prunable={"w": True})
        assert float(at.norm) < 1e-9 * float(at.gradient_norm)
        assert float(moved.relative) > 1e-2  # the measure sees a point 1e-3 away


def _fake_run(values, relatives, stop):
    """run_until on hand-built F values and relative subgradients, one per check."""
    values, relatives = jnp.asarray(values), jnp.asarray(relatives)

    def measure(index):
        at = jnp.clip(index - 1, 0, len(values) - 1)  # state 0: before any step
        return values[at], relatives[at]

    return stationarity.run_until(stop, lambda index: index + 1, measure, jnp.asarray(0))


def test_stop_rule_stops_at_the_first_check_where_both_criteria_hold():
    stop = stationarity.StopRule(rtol=1e-3, subgradient_rtol=0.5, window=1000, check_every=500,
                                 max_steps=5000)
    # checks at steps 500, 1000, ...; the plateau compares F with two checks earlier
    values = [10.0, 5.0, 4.0, 3.999, 3.9985, 3.9984, 3.9984, 3.9984, 3.9984, 3.9984]
    relatives = [0.9, 0.9, 0.9, 0.9, 0.9, 0.4, 0.4, 0.4, 0.4, 0.4]
    run = _fake_run(values, relatives, stop)
    # check 4 (step 2500): 3.999 - 3.9985 <= 1e-3 * 3.9985 but relative 0.9; check 5 both hold
    assert int(run.steps) == 3000 and bool(run.converged)
    np.testing.assert_allclose(run.history[:6], values[:6], rtol=1e-6)
    assert np.all(np.isnan(run.history[6:]))
    # the plateau alone is not enough; the subgradient alone is not enough
    assert not bool(_fake_run(values, [0.9] * 10, stop).converged)
    steep = [10.0 - i for i in range(10)]
    never = _fake_run(steep, [0.0] * 10, stop)
    assert int(never.steps) == 5000 and not bool(never.converged)  # the cap: not converged


def test_stop_rule_validation():
    with pytest.raises(ValueError, match="multiple of check_every"):
        stationarity.StopRule(window=750).validate()
    with pytest.raises(ValueError, match="window"):
        stationarity.StopRule(window=4000, max_steps=2000).validate()
    with pytest.raises(ValueError, match="rtol"):
        stationarity.StopRule(rtol=-1.0).validate()
    with pytest.raises(TypeError, match="max_steps"):
        stationarity.StopRule(max_steps=2.5).validate()
    with pytest.raises(ValueError, match="not both"):
        train.train(nets.mlp([64, 10]), data.load("digits", seed=0), key=jax.random.key(0),
                    steps=10, stop=stationarity.StopRule())


def test_prox_adam_sets_exact_zeros_on_penalised_leaves_only():
    params = {"w": jnp.array([[0.3, -0.2], [0.01, 1.0]]), "b": jnp.array([0.5, -0.5])}
    grads = {"w": jnp.full((2, 2), 0.1), "b": jnp.full((2,), 0.1)}
    opt = train.prox_adam(1e-2, l1=1e6, prunable={"w": True, "b": False})
    updates, _ = opt.update(grads, opt.init(params), params)
    import optax

    new = optax.apply_updates(params, updates)
    assert np.all(np.asarray(new["w"]) == 0.0)  # exactly zero, not 1e-9
    np.testing.assert_allclose(new["b"], params["b"] - 1e-2, rtol=1e-5)  # Adam's first step
    # without a penalty it is Adam
    plain = train.prox_adam(1e-2, l1=0.0, prunable={"w": True, "b": False})
    ref = optax.adam(1e-2)
    np.testing.assert_allclose(plain.update(grads, plain.init(params), params)[0]["w"],
                               ref.update(grads, ref.init(params), params)[0]["w"], rtol=1e-6)


def test_prox_adam_takes_a_schedule_of_the_step_count():
    import optax

    params = {"w": jnp.array([[0.3, -0.2], [0.01, 1.0]]), "b": jnp.array([0.5, -0.5])}
    grads = {"w": jnp.array([[0.1, -0.3], [0.2, 0.05]]), "b": jnp.full((2,), 0.1)}
    prunable = {"w": True, "b": False}
    constant = train.prox_adam(1e-2, l1=0.5, prunable=prunable)
    decayed = train.prox_adam(optax.linear_schedule(1e-2, 0.0, 1), l1=0.5, prunable=prunable)
    first, state = decayed.update(grads, decayed.init(params), params)
    expected, _ = constant.update(grads, constant.init(params), params)
    for leaf in ("w", "b"):  # the first step at the schedule's rate at count 0: 1e-2
        np.testing.assert_allclose(first[leaf], expected[leaf], rtol=1e-6)
        assert np.any(np.asarray(first[leaf]) != 0.0)
    moved = optax.apply_updates(params, first)
    second, _ = decayed.update(grads, state, moved)  # rate 0 at count 1: no step, no shrinkage
    assert all(np.all(np.asarray(u) == 0.0) for u in jax.tree_util.tree_leaves(second))


def test_trained_to_stationarity_on_l1_logistic_regression_matches_scipy():
    ds = data.load("digits", seed=0)
    l1 = 1e-3
    net = nets.mlp([64, 10])  # one linear layer: F is convex
    reference = scipy_oracles.l1_logistic_minimum(np.asarray(ds.x_train, np.float64),
                                                  np.asarray(ds.y_train), 10, l1)
    stop = stationarity.StopRule(rtol=1e-7, subgradient_rtol=1e-3, max_steps=30_000)
    result = train.train(net, ds, key=jax.random.key(0), l1=l1, stop=stop)
    assert bool(result.converged) and int(result.steps) < 30_000
    f = train.objective(nets.cross_entropy(net.apply), l1,
                        train.default_prunable(result.params))
    value = float(f(result.params, (ds.x_train, ds.y_train)))
    assert abs(value - reference) <= 1e-6 * reference
    assert np.mean(np.asarray(result.params[0]["w"]) == 0) > 0.3  # exact zeros, as the minimum
    # at the minimum, measure (b) finds nothing below it
    check = train.check_stationarity(nets.cross_entropy(net.apply), result.params,
                                     (ds.x_train, ds.y_train), l1=l1, epsilon=1e-4)
    assert check.is_minimum and check.decrease_in_epsilon < 0.1 and check.warning() is None
    assert check.relative_subgradient < 1e-3


def test_check_stationarity_flags_a_network_stopped_early():
    ds = data.load("digits", seed=0)
    net = nets.mlp([64, 16, 10])
    early = train.train(net, ds, key=jax.random.key(0), l1=1e-4, steps=300, optimizer="adam")
    assert not bool(early.converged)  # the default rule judged at the end of a fixed budget
    check = train.check_stationarity(nets.cross_entropy(net.apply), early.params,
                                     (ds.x_train, ds.y_train), l1=1e-4, epsilon=1e-3,
                                     further_steps=500)
    assert not check.is_minimum and check.decrease_in_epsilon > 1
    np.testing.assert_allclose(check.decrease, check.objective - check.further_objective)
    assert check.zero_fraction == 0.0  # Adam on the subgradient sets no exact zeros
    assert check.warning().startswith(stationarity.NOT_A_MINIMUM)
    assert set(check.to_dict()) == set(stationarity.Stationarity._fields)
    with pytest.raises(ValueError, match="epsilon"):
        train.check_stationarity(nets.cross_entropy(net.apply), early.params,
                                 (ds.x_train, ds.y_train), l1=1e-4, epsilon=0.0)
    with pytest.raises(ValueError, match="NaN"):
        train.minimise(nets.cross_entropy(net.apply),
                       jax.tree_util.tree_map(lambda w: w * jnp.nan, early.params),
                       (ds.x_train, ds.y_train), l1=1e-4,
                       training=train.TrainingOptions(steps=1))


def test_seeds_stop_each_at_their_own_check():
    ds = data.load("digits", seed=0)
    net = nets.mlp([64, 4, 10])
    stop = stationarity.StopRule(rtol=1e-2, subgradient_rtol=100.0, window=500, check_every=500,
                                 max_steps=10_000)
    l1 = 1e-4
    batch = train.train_seeds(net, ds, keys=jax.random.split(jax.random.key(0), 2), l1=l1,
                              stop=stop)
    steps = np.asarray(batch.steps)
    assert np.all(steps < 10_000) and steps[0] != steps[1]  # the rule, at different checks
    f = train.objective(nets.cross_entropy(net.apply), l1,
                        train.default_prunable(net.init(key=jax.random.key(0))))
    for s in range(2):
        history = np.asarray(batch.loss_history[s])
        last = steps[s] // stop.check_every - 1
        assert np.all(np.isfinite(history[:last + 1])) and np.all(np.isnan(history[last + 1:]))
        assert history[last - 1] - history[last] <= stop.rtol * abs(history[last])  # the rule
        assert np.all(history[:last - 1] - history[1:last] > stop.rtol * history[1:last])
        # the seed's parameters stayed where its rule held, while the other seed went on
        params = jax.tree_util.tree_map(lambda w, s=s: w[s], batch.params)
        np.testing.assert_allclose(f(params, (ds.x_train, ds.y_train)), history[last],
                                   rtol=1e-6)


def test_cli_optimizers_and_defaults_are_the_library_ones():
    from phasetrans.cli import _network

    assert _network.OPTIMIZERS == train.OPTIMIZERS
    rule = stationarity.StopRule()
    assert _network.PREDICT_DEFAULTS["max_steps"] == rule.max_steps
    assert _network.PREDICT_DEFAULTS["check_every"] == rule.check_every
    assert _network.PREDICT_DEFAULTS["further_steps"] == train.FURTHER_STEPS
