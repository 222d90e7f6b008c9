import math

import jax
import numpy as np
import optax
import pytest

from phasetrans.networks import data, nets, prune, retrain, train
from phasetrans.networks.problem import Problem

L1 = 1e-3
GRID = np.array([0.0, 0.3, 0.6, 0.9])
STEPS = 40


def _seed(tree, s):
    return jax.tree_util.tree_map(lambda w: w[s], tree)


def _problem(net, params_seeds, dataset, *, l1):
    return Problem.from_network(net, params_seeds, dataset, l1=l1)


@pytest.fixture(scope="module")
def digits():
    return data.load("digits")


@pytest.fixture(scope="module")
def mlp_run(digits):
    """A small ReLU MLP, 2 seeds trained briefly (not converged), retrained on GRID."""
    net = nets.mlp([64, 8, 10])
    trained = train.train_seeds(net, digits, keys=jax.random.split(jax.random.key(0), 2),
                                steps=200, l1=L1)
    result = retrain.retrain(_problem(net, trained.params, digits, l1=L1), GRID, steps=STEPS)
    return net, trained.params, result


def test_pruned_coordinates_stay_exactly_zero(mlp_run):
    net, params_seeds, result = mlp_run
    assert np.asarray(result.objective).shape == (2, len(GRID))
    for s in range(2):
        w_star = _seed(params_seeds, s)
        for j, p in enumerate(GRID):
            mask = prune.global_magnitude(w_star, float(p))
            got = _seed(_seed(result.params, s), j)
            removed = 0
            for w, m, w0 in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(mask),
                                jax.tree_util.tree_leaves(w_star), strict=True):
                w, m, w0 = np.asarray(w), np.asarray(m), np.asarray(w0)
                assert np.all(w[~m] == 0.0)  # exact zeros, not small numbers
                removed += int((~m).sum())
                if m.any():  # the kept coordinates did move: retraining happened
                    assert np.any(w[m] != w0[m])
            assert removed == math.floor(p * prune.num_prunable(w_star) + 1e-6)


def test_retraining_lowers_f_below_one_shot(mlp_run):
    _, _, result = mlp_run
    retrained, oneshot = np.asarray(result.objective), np.asarray(result.oneshot_objective)
    assert np.all(retrained <= oneshot + 1e-6)
    # w* is far from converged (200 Adam steps), so retraining gains clearly at every ratio
    assert np.all(retrained[:, 1:] < oneshot[:, 1:] - 1e-3)
    # F = L + lam ||w||_1 and one-shot at p = 0 is w* itself
    assert np.all(np.asarray(result.train_loss) < np.asarray(result.objective))
    np.testing.assert_allclose(result.oneshot_objective[:, 0], result.unpruned_objective,
                               rtol=1e-6)
    np.testing.assert_allclose(result.oneshot_test_accuracy[:, 0], result.unpruned_test_accuracy,
                               atol=1e-6)
    info = result.info
    assert np.all(np.asarray(info.iterations) == STEPS)
    assert np.all(np.asarray(info.converged) == (np.asarray(info.residual) <= 1e-3))


def test_vmapped_equals_single_call_and_python_loop(mlp_run, digits):
    net, params_seeds, result = mlp_run
    s, j = 1, 2
    w_star = _seed(params_seeds, s)
    one = jax.tree_util.tree_map(lambda w: w[None], w_star)
    single = retrain.retrain(_problem(net, one, digits, l1=L1), GRID[j:j + 1], steps=STEPS)
    for name in ("objective", "train_loss", "test_accuracy", "test_loss", "oneshot_objective",
                 "oneshot_train_loss", "oneshot_test_accuracy", "oneshot_test_loss"):
        np.testing.assert_allclose(getattr(single, name)[0, 0], getattr(result, name)[s, j],
                                   rtol=1e-5, atol=1e-6, err_msg=name)
    np.testing.assert_allclose(single.info.residual[0, 0], result.info.residual[s, j],
                               rtol=1e-4, atol=1e-6)
    for a, b in zip(jax.tree_util.tree_leaves(_seed(_seed(single.params, 0), 0)),
                    jax.tree_util.tree_leaves(_seed(_seed(result.params, s), j)), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # an independent Python loop: masked Adam on F, keeping the lowest-F iterate, and the
    # relative change of that F over the last ceil(0.1 * 40) = 4 steps
    f = train.objective(nets.cross_entropy(net.apply), L1, train.default_prunable(w_star))
    batch = (digits.x_train, digits.y_train)
    mask = prune.global_magnitude(w_star, float(GRID[j]))
    tx = optax.adam(3e-3)
    x = prune.apply_mask(w_star, mask)
    state, best_f, best_x, lowest = tx.init(x), np.inf, None, []

    @jax.jit
    def adam_step(x, state):
        grads = prune.apply_mask(jax.grad(f)(x, batch), mask)
        updates, state = tx.update(grads, state, x)
        return prune.apply_mask(optax.apply_updates(x, updates), mask), state

    for k in range(STEPS + 1):
        value = float(f(x, batch))
        if value < best_f:
            best_f, best_x = value, x
        lowest.append(best_f)
        if k < STEPS:
            x, state = adam_step(x, state)
    assert float(result.objective[s, j]) == pytest.approx(best_f, rel=1e-5)
    residual = abs(lowest[-1] - lowest[-5]) / abs(lowest[-1])
    assert float(result.info.residual[s, j]) == pytest.approx(residual, rel=1e-3, abs=1e-7)
    for a, b in zip(jax.tree_util.tree_leaves(best_x),
                    jax.tree_util.tree_leaves(_seed(_seed(result.params, s), j)), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    # the one-shot and unpruned values by direct computation
    loss_fn = nets.cross_entropy(net.apply)
    pruned = prune.apply_mask(w_star, mask)
    assert float(result.oneshot_objective[s, j]) == pytest.approx(float(f(pruned, batch)),
                                                                  rel=1e-5)
    assert float(result.oneshot_train_loss[s, j]) == pytest.approx(
        float(loss_fn(pruned, batch)), rel=1e-5)
    assert float(result.oneshot_test_accuracy[s, j]) == pytest.approx(
        float(nets.accuracy(net.apply, pruned, digits.x_test, digits.y_test)), abs=1e-6)
    assert float(result.unpruned_objective[s]) == pytest.approx(float(f(w_star, batch)),
                                                                rel=1e-5)
    # the retrained metrics are those of the returned parameters
    got = _seed(_seed(result.params, s), j)
    assert float(result.objective[s, j]) == pytest.approx(float(f(got, batch)), rel=1e-5)
    assert float(result.test_loss[s, j]) == pytest.approx(
        float(loss_fn(got, (digits.x_test, digits.y_test))), rel=1e-5)


def test_sequential_equals_vmapped(mlp_run, digits):
    # every (seed, ratio) at its own place: the grid runs one ratio after the other
    net, params_seeds, result = mlp_run
    one_by_one = retrain.retrain(_problem(net, params_seeds, digits, l1=L1), GRID, steps=STEPS,
                                 sequential=True)
    for name in ("objective", "train_loss", "test_accuracy", "oneshot_objective"):
        np.testing.assert_allclose(getattr(one_by_one, name), getattr(result, name),
                                   rtol=1e-5, atol=1e-6, err_msg=name)
    for a, b in zip(jax.tree_util.tree_leaves(one_by_one.params),
                    jax.tree_util.tree_leaves(result.params), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


@pytest.fixture(scope="module")
def linear_run(digits):
    """Multinomial logistic regression (convex F): w* after 1000 Adam steps, and the same w*
    polished by 2000 more steps at p = 0 with a smaller learning rate (converged)."""
    net = nets.mlp([64, 10])
    rough = train.train_seeds(net, digits, keys=jax.random.split(jax.random.key(1), 2),
                              steps=1000, l1=L1).params
    polish = retrain.retrain(_problem(net, rough, digits, l1=L1), [0.0], steps=2000,
                             learning_rate=1e-3)
    return net, rough, jax.tree_util.tree_map(lambda w: w[:, 0], polish.params)


def test_ratio_zero_from_converged_w_barely_moves_f(linear_run, digits):
    net, rough, converged = linear_run

    def relative_gain(params_seeds):
        r = retrain.retrain(_problem(net, params_seeds, digits, l1=L1), [0.0], steps=100,
                            learning_rate=1e-3)
        start, end = np.asarray(r.unpruned_objective), np.asarray(r.objective[:, 0])
        assert np.all(end <= start + 1e-7)
        return (start - end) / start, np.asarray(r.info.residual[:, 0])

    gain, residual = relative_gain(converged)
    assert np.all(gain < 1e-3) and np.all(residual < 1e-3)
    rough_gain, _ = relative_gain(rough)  # the same call from an unconverged w* moves F
    assert np.all(rough_gain > 5e-3)


def test_progress_bar_per_seed_changes_nothing(linear_run, digits, capsys):
    net, rough, _ = linear_run
    quiet = retrain.retrain(_problem(net, rough, digits, l1=L1), [0.0, 0.5], steps=3)
    shown = retrain.retrain(_problem(net, rough, digits, l1=L1), [0.0, 0.5], steps=3, progress=True)
    assert "retraining (per seed)" in capsys.readouterr().err
    np.testing.assert_array_equal(quiet.objective, shown.objective)
    assert quiet.objective.shape == (2, 2)


def test_residual_is_relative_change_over_last_steps(linear_run, digits):
    # steps = 1: the window is the single step, residual = |F_1 - F_0| / |F_1|, B_1 <= F_0
    net, rough, _ = linear_run
    r = retrain.retrain(_problem(net, rough, digits, l1=L1), [0.0, 0.5], steps=1, tol=0.5)
    end, start = np.asarray(r.objective, np.float64), np.asarray(r.oneshot_objective, np.float64)
    # atol: the residual uses the training objective's F, the report evaluate()'s sum: they
    # can differ by a float32 ulp (at p = 0, where the step does not move F)
    np.testing.assert_allclose(r.info.residual, np.abs(end - start) / np.abs(end), rtol=1e-4,
                               atol=3e-7)
    assert np.all(np.asarray(r.info.residual)[:, 1] > 0)  # a 1-step Adam move from x_p at 0.5
    assert np.all(np.asarray(r.info.iterations) == 1) and np.all(np.asarray(r.info.converged))


def _hand_result():
    """Two seeds x five ratios, dyadic values (exact in float); F* 0.5, L* 0.25, accuracy 0.75.

    With epsilon 0.125 the F ceiling is 0.625 and the L ceiling 0.375.
    """
    grid = np.array([0.0, 0.25, 0.5, 0.75, 1.0])
    objective = np.array([[0.5, 0.5, 0.5, 0.625, 2.0],       # <=: TTTTF; <: TTTFF
                          [0.75, 0.5, 0.5, 0.5, 0.5]])       # fails at p = 0
    loss = np.array([[0.25, 0.5, 0.25, 0.25, 1.0],           # TFTTF
                     [0.5, 0.5, 0.5, 0.5, 0.5]])             # never
    accuracy = np.array([[0.75, 0.875, 0.75, 0.5, 0.875],    # >=: TTTFT; >: FTFFT
                         [0.75, 0.75, 0.75, 0.75, 0.25]])    # >=: TTTTF; >: never
    oneshot_objective = np.array([[0.5, 0.625, 0.75, 0.5, 2.0],   # <=: TTFTF; <: TFFTF
                                  [0.5, 0.5, 0.5, 0.75, 0.75]])   # TTTFF
    oneshot_loss = np.array([[0.25, 0.25, 0.375, 0.5, 1.0],       # <=: TTTFF; <: TTFFF
                             [0.375, 0.25, 0.5, 0.5, 0.5]])       # <=: TTFFF; <: FTFFF
    oneshot_accuracy = np.array([[0.75, 0.5, 0.875, 0.25, 0.0],   # >=: TFTFF; >: FFTFF
                                 [0.5, 0.75, 0.875, 0.875, 0.25]])  # >=: FTTTF; >: FFTTF
    two = np.ones(2)
    return retrain.RetrainResult(grid, objective, loss, accuracy, loss, None, oneshot_objective,
                                 oneshot_loss, oneshot_accuracy, oneshot_loss, 0.5 * two,
                                 0.25 * two, 0.75 * two, 0.25 * two)


nan = np.nan


@pytest.mark.parametrize(("rule", "accuracy_tol", "expected"), [
    # (objective, loss, accuracy, oneshot_objective, oneshot_loss, oneshot_accuracy)
    ("first_failure", 0.0, ([0.75, nan], [0.0, nan], [0.5, 0.75],
                            [0.25, 0.5], [0.5, 0.25], [0.0, nan])),
    ("official", 0.0, ([0.5, 1.0], [0.75, nan], [1.0, nan],
                       [0.75, 0.5], [0.25, 0.25], [0.5, 0.75])),
    ("last_pass", 0.0, ([0.75, 1.0], [0.75, nan], [1.0, 0.75],
                        [0.75, 0.5], [0.5, 0.25], [0.5, 0.75])),
    # accuracy floor 0.625: retrained seed 0 >=/> TTTFT, seed 1 TTTTF; one-shot seed 0 TFTFF,
    # seed 1 FTTTF (the F and L thresholds do not depend on accuracy_tol)
    ("first_failure", 0.125, ([0.75, nan], [0.0, nan], [0.5, 0.75],
                              [0.25, 0.5], [0.5, 0.25], [0.0, nan])),
    ("official", 0.125, ([0.5, 1.0], [0.75, nan], [1.0, 0.75],
                         [0.75, 0.5], [0.25, 0.25], [0.5, 0.75])),
])
def test_thresholds_by_hand(rule, accuracy_tol, expected):
    th = retrain.thresholds(_hand_result(), epsilon=0.125, accuracy_tol=accuracy_tol, rule=rule)
    got = (th.objective, th.loss, th.accuracy, th.oneshot_objective, th.oneshot_loss,
           th.oneshot_accuracy)
    for name, a, b in zip(("objective", "loss", "accuracy", "oneshot_objective", "oneshot_loss",
                           "oneshot_accuracy"), got, expected, strict=True):
        np.testing.assert_array_equal(a, b, err_msg=name)
    assert th.rule == rule and th.accuracy_tol == accuracy_tol
    np.testing.assert_array_equal(th.epsilon, [0.125, 0.125])


def test_thresholds_epsilon_per_seed():
    # seed 1 with epsilon 0.375: F ceiling 0.875 and L ceiling 0.625, everything passes
    th = retrain.thresholds(_hand_result(), epsilon=[0.125, 0.375])
    np.testing.assert_array_equal(th.objective, [0.75, 1.0])
    np.testing.assert_array_equal(th.loss, [0.0, 1.0])
    np.testing.assert_array_equal(th.oneshot_objective, [0.25, 1.0])


def test_thresholds_bad_input():
    r = _hand_result()
    for bad in (0.0, -0.1, [0.1, 0.0]):
        with pytest.raises(ValueError, match="epsilon must be > 0"):
            retrain.thresholds(r, epsilon=bad)
    with pytest.raises(ValueError, match="epsilon .*NaN"):
        retrain.thresholds(r, epsilon=np.nan)
    with pytest.raises(ValueError, match="epsilon has 3 values .* 2 seeds"):
        retrain.thresholds(r, epsilon=[0.1, 0.1, 0.1])
    with pytest.raises(ValueError, match="rule must be one of"):
        retrain.thresholds(r, epsilon=0.1, rule="best")
    with pytest.raises(ValueError, match="accuracy_tol must be >= 0"):
        retrain.thresholds(r, epsilon=0.1, accuracy_tol=-0.01)
    with pytest.raises(ValueError, match="strictly increasing"):
        retrain.thresholds(r._replace(removal_ratios=r.removal_ratios[::-1]), epsilon=0.1)
    with pytest.raises(TypeError, match="RetrainResult"):
        retrain.thresholds(tuple(r), epsilon=0.1)


def test_retrain_bad_input(digits):
    net = nets.mlp([64, 4, 10])
    single = net.init(key=jax.random.key(0))
    seeds = jax.tree_util.tree_map(lambda w: w[None], single)

    def call(params=seeds, ratios=(0.0, 0.5), l1=L1, **options):
        return retrain.retrain(_problem(net, params, digits, l1=l1), ratios,
                               **{"steps": 2, **options})

    for ratios in ([-0.1, 0.5], [0.5, 1.5], [0.2, np.nan]):
        with pytest.raises(ValueError, match="removal_ratios"):
            call(ratios=ratios)
    with pytest.raises(ValueError, match="leading seed axis"):
        call(params=single)
    with pytest.raises(ValueError, match="steps must be >= 1"):
        call(steps=0)
    with pytest.raises(ValueError, match="l1 must be >= 0"):
        call(l1=-1e-3)
    with pytest.raises(ValueError, match="learning_rate must be > 0"):
        call(learning_rate=0.0)
    with pytest.raises(ValueError, match="method must be one of"):
        call(method="random")
    with pytest.raises(TypeError, match="sequential must be True or False"):
        call(sequential=1)
    with pytest.raises(TypeError, match="dataset must be"):
        _problem(net, seeds, (digits.x_train, digits.y_train), l1=L1)
    with pytest.raises(TypeError, match="problem must be a phasetrans.Problem"):
        retrain.retrain(net, [0.5])
