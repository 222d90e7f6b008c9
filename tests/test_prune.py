import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from phasetrans.networks import data, nets, prune, train
from phasetrans.networks.problem import Model, Problem

PARAMS = [{"w": jnp.array([[0.5, -3.0], [0.1, 2.0]]), "b": jnp.array([9.0, 0.01])},
          {"w": jnp.array([[-0.2], [1.0]]), "b": jnp.array([0.0])}]


def _problem(net, params_seeds, dataset, **options):
    return Problem.from_network(net, params_seeds, dataset, l1=0.0, **options)


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
    np.testing.assert_allclose(prune.pruned_distances(PARAMS, grid), r, rtol=1e-6)
    with pytest.raises(ValueError, match=r"removal_ratios must be a non-empty 1-D array"):
        prune.pruned_distances(PARAMS, [0.5, 1.5])


def test_sweep_equals_per_ratio_reference():
    ds = data.load("digits")
    net = nets.mlp([64, 16, 10])
    res = train.train_seeds(net, ds, keys=jax.random.split(jax.random.key(0), 2), steps=150)
    grid = np.array([0.0, 0.3, 0.6, 0.9])
    sw = prune.sweep(_problem(net, res.params, ds), grid)
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
    tuned = prune.sweep(_problem(net, res.params, ds), grid, finetune_steps=20)
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
    # official: no ratio is strictly above the unpruned accuracy (0.9 only ties it) -> NaN;
    # loss strictly below 0.1 + 0.05: 0.12 (p = 0.25) is the highest, 0.15 ties the bound
    official = prune.empirical_threshold(sw, epsilon=0.05, rule="official")
    assert np.isnan(official.accuracy).all() and official.loss.tolist() == [0.25]
    assert official.rule == "official"


def _hand_sweep():
    """Two seeds x six ratios; unpruned test accuracy 0.8 and train loss 0.5 for both.

    seed 0: accuracy dips at 0.2, beats 0.8 at 0.4 and 0.6 only; loss passes 0.5 + eps up to 0.4
            then again at 0.8.
    seed 1: accuracy never beats 0.8 but stays within 0.05 up to 0.6; loss fails at p = 0.
    """
    grid = np.array([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    acc = np.array([[0.8, 0.7, 0.85, 0.81, 0.8, 0.1],
                    [0.8, 0.78, 0.76, 0.75, 0.7, 0.1]])
    loss = np.array([[0.5, 0.52, 0.55, 0.9, 0.51, 3.0],
                     [0.7, 0.5, 0.5, 0.6, 0.8, 3.0]])
    unpruned_acc, unpruned_loss = np.array([0.8, 0.8]), np.array([0.5, 0.5])
    return prune.SweepResult(grid, acc, loss, acc, loss, unpruned_acc, unpruned_loss,
                             unpruned_acc, unpruned_loss)


@pytest.mark.parametrize(("rule", "accuracy_tol", "accuracy", "loss"), [
    # accuracy passes (>= 0.8 - tol): seed 0 at 0, 0.4, 0.6, 0.8; seed 1 at 0 only (tol 0)
    # loss passes (<= 0.5 + 0.06): seed 0 at 0, 0.2, 0.4, 0.8; seed 1 at 0.2, 0.4
    ("first_failure", 0.0, [0.0, 0.0], [0.4, np.nan]),
    ("last_pass", 0.0, [0.8, 0.0], [0.8, 0.4]),
    # official: accuracy strictly above 0.8: seed 0 at 0.4, 0.6 (top: 0.6), seed 1 never;
    # loss strictly below 0.56: seed 0 at 0, 0.2, 0.4, 0.8 (top: 0.8), seed 1 at 0.2, 0.4
    ("official", 0.0, [0.6, np.nan], [0.8, 0.4]),
    # accuracy_tol 0.05: seed 1 passes (>= 0.75) up to 0.6; seed 0's dip to 0.7 still fails
    ("first_failure", 0.05, [0.0, 0.6], [0.4, np.nan]),
    ("last_pass", 0.05, [0.8, 0.6], [0.8, 0.4]),
    # official with tol: strictly above 0.75: seed 0 tops at 0.8, seed 1 at 0.4 (0.75 ties)
    ("official", 0.05, [0.8, 0.4], [0.8, 0.4]),
])
def test_empirical_threshold_all_rules_both_criteria_by_hand(rule, accuracy_tol, accuracy, loss):
    th = prune.empirical_threshold(_hand_sweep(), epsilon=0.06, accuracy_tol=accuracy_tol,
                                   rule=rule)
    np.testing.assert_array_equal(th.accuracy, accuracy)
    np.testing.assert_array_equal(th.loss, loss)
    assert th.rule == rule and th.accuracy_tol == accuracy_tol


def test_empirical_threshold_epsilon_per_seed():
    sw = _hand_sweep()
    # seed 0 with a tight epsilon fails at 0.2 (0.52 > 0.51); seed 1 with a loose one passes
    # (<= 0.85) at every ratio up to 0.8
    th = prune.empirical_threshold(sw, epsilon=[0.01, 0.35], rule="first_failure")
    np.testing.assert_array_equal(th.loss, [0.0, 0.8])
    with pytest.raises(ValueError, match="epsilon has 3 values .* 2 seeds"):
        prune.empirical_threshold(sw, epsilon=[0.1, 0.1, 0.1])
    with pytest.raises(ValueError, match="rule must be one of"):
        prune.empirical_threshold(sw, epsilon=0.1, rule="best")


class _Counter:
    """A two-layer network whose loss counts its kept weights (to check masks by hand).

    The logit of class 0 is x_0 * (kept weights of layer 0) + x_1 * (kept weights of layer 1),
    class 1's is 0, every label is 0; so an input e_l has cross-entropy softplus(-k_l) and the
    count is k_l = -log(expm1(loss)). Train inputs are e_0, test inputs e_1.
    """

    params = [{"w": jnp.array([[0.9, -0.1, 0.5, 0.3], [0.2, -0.8, 0.7, 0.05],
                               [-0.6, 0.4, 1.1, -0.25]]), "b": jnp.zeros(4)},
              {"w": jnp.array([[3.0, -2.5], [2.2, 4.0], [-3.5, 2.8]]), "b": jnp.zeros(2)}]
    sizes = (12, 6)  # D = 18; every layer-1 weight is larger than every layer-0 weight

    @staticmethod
    def apply(params, x):
        kept = [jnp.sum(layer["w"] != 0).astype(jnp.float32) for layer in params]
        logit = x[:, 0] * kept[0] + x[:, 1] * kept[1]
        return jnp.stack([logit, jnp.zeros_like(logit)], axis=-1)

    net = nets.Network(lambda *, key: _Counter.params, apply.__func__, "counter")
    dataset = data.Dataset(jnp.array([[1.0, 0.0]]), jnp.array([0], jnp.int32),
                           jnp.array([[0.0, 1.0]]), jnp.array([0], jnp.int32), 2, "counter",
                           (2,))

    @classmethod
    def seeds(cls, num):
        return jax.tree_util.tree_map(lambda w: jnp.stack([w] * num), cls.params)

    @staticmethod
    def count(loss):
        """The kept-weight count k behind a loss softplus(-k)."""
        return np.rint(-np.log(np.expm1(np.asarray(loss, np.float64)))).astype(int)

    @classmethod
    def kept(cls, sweep_result):
        """(layer-0 counts, layer-1 counts), each (S, P), recovered from the losses."""
        return cls.count(sweep_result.train_loss), cls.count(sweep_result.test_loss)


GRID = np.array([0.0, 0.25, 0.5, 0.75, 0.9, 1.0])


def test_sweep_layerwise_and_global_remove_hand_counts():
    layerwise = prune.sweep(_problem(_Counter.net, _Counter.seeds(2), _Counter.dataset), GRID,
                            method="layerwise")
    kept0, kept1 = _Counter.kept(layerwise)
    # floor(p n_l) removed per layer: n = 12 -> 0, 3, 6, 9, 10, 12; n = 6 -> 0, 1, 3, 4, 5, 6
    np.testing.assert_array_equal(kept0, [[12, 9, 6, 3, 2, 0]] * 2)
    np.testing.assert_array_equal(kept1, [[6, 5, 3, 2, 1, 0]] * 2)
    assert _Counter.count(layerwise.unpruned_train_loss).tolist() == [12, 12]
    assert _Counter.count(layerwise.unpruned_test_loss).tolist() == [6, 6]
    # global: floor(p 18) = 0, 4, 9, 13, 16, 18 removed, the small layer-0 weights first
    problem = _problem(_Counter.net, _Counter.seeds(2), _Counter.dataset)
    kept0, kept1 = _Counter.kept(prune.sweep(problem, GRID, key=jax.random.key(0)))  # key unused
    np.testing.assert_array_equal(kept0, [[12, 8, 3, 0, 0, 0]] * 2)
    np.testing.assert_array_equal(kept1, [[6, 6, 6, 5, 2, 0]] * 2)


def test_sweep_random_removes_floor_pd_and_depends_on_the_key():
    seeds = _Counter.seeds(4)  # identical seeds: any difference comes from the keys
    runs = [_Counter.kept(prune.sweep(_problem(_Counter.net, seeds, _Counter.dataset), GRID,
                                      method="random", key=jax.random.key(k))) for k in (0, 1)]
    removed = np.floor(GRID * 18 + 1e-9).astype(int)  # 0, 4, 9, 13, 16, 18
    for kept0, kept1 in runs:
        np.testing.assert_array_equal(kept0 + kept1, np.broadcast_to(18 - removed, (4, 6)))
        assert np.all(np.diff(kept0, axis=1) <= 0) and np.all(np.diff(kept1, axis=1) <= 0)
        assert len({tuple(row) for row in kept0}) > 1  # each seed has its own key
    assert not np.array_equal(runs[0][0], runs[1][0])  # and the key matters
    again = _Counter.kept(prune.sweep(_problem(_Counter.net, seeds, _Counter.dataset), GRID,
                                      method="random", key=jax.random.key(0)))
    np.testing.assert_array_equal(again, runs[0])
    # seed s uses split(key, S)[s]: the masks random_mask draws with it
    key = jax.random.split(jax.random.key(1), 4)[2]
    for j, p in enumerate(GRID):
        mask = prune.random_mask(_Counter.params, float(p), key=key)
        assert [int(np.sum(np.asarray(m["w"]))) for m in mask] == [runs[1][0][2, j],
                                                                   runs[1][1][2, j]]


def test_sweep_requires_a_key_and_a_seed_axis():
    seeds = _Counter.seeds(2)
    with pytest.raises(TypeError, match="key is required for method='random'"):
        prune.sweep(_problem(_Counter.net, seeds, _Counter.dataset), GRID, method="random")
    with pytest.raises(TypeError, match="key must be a JAX PRNG key"):
        prune.sweep(_problem(_Counter.net, seeds, _Counter.dataset), GRID, method="random", key=0)
    with pytest.raises(ValueError, match=r"needs a leading seed axis.*single network"):
        prune.sweep(_problem(_Counter.net, _Counter.params, _Counter.dataset), GRID)
    ragged = [{"w": seeds[0]["w"], "b": seeds[0]["b"][:1]}, seeds[1]]
    with pytest.raises(ValueError, match=r"needs one leading seed axis on every leaf"):
        prune.sweep(_problem(_Counter.net, ragged, _Counter.dataset), GRID)
    one = jax.tree_util.tree_map(lambda w: w[None], _Counter.params)  # the suggested fix
    problem = _problem(_Counter.net, one, _Counter.dataset)
    assert prune.sweep(problem, GRID).test_loss.shape == (1, 6)


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


# The nested-mask route of sweep (one-shot global / random sweeps of nets.mlp networks) -------

def _generic_sweep(net, params_seeds, dataset, grid, *, method="global", prunable=None,
                   key=None):
    """The per-pair vmapped route of ``sweep`` (one mask per (seed, ratio) pair)."""
    problem = _problem(net, params_seeds, dataset, prunable=prunable)
    grid, keys, frozen = prune._sweep_setup(problem, grid, method, key)
    return prune._sweep(problem.model, problem.params, (problem.train, problem.test), grid,
                        method, frozen, 0, 1e-3, keys, prune.mesh_for(None))


def _dyadic_mlp(widths, num_seeds, seed=0):
    """An MLP whose weights have distinct magnitudes k / 8 (k = 1..D, random signs) and dyadic
    biases, with small-integer inputs: every logit is exact in float32, so both routes compute
    bit-equal logits and one entry kept or removed by mistake changes a loss visibly."""
    rng = np.random.default_rng(seed)
    net = nets.mlp(widths)
    pairs = list(zip(widths[:-1], widths[1:], strict=False))
    dim = sum(a * b for a, b in pairs)
    seeds = []
    for _ in range(num_seeds):
        magnitudes = (rng.permutation(dim) + 1) / 8.0 * rng.choice([-1.0, 1.0], dim)
        layers, start = [], 0
        for a, b in pairs:
            w = magnitudes[start:start + a * b].reshape(a, b)
            layers.append({"w": jnp.asarray(w, jnp.float32),
                           "b": jnp.asarray(rng.integers(-4, 5, b) / 4.0, jnp.float32)})
            start += a * b
        seeds.append(layers)
    params = jax.tree_util.tree_map(lambda *w: jnp.stack(w), *seeds)

    def split(n):
        return (jnp.asarray(rng.integers(-2, 3, (n, widths[0])), jnp.float32),
                jnp.asarray(rng.integers(0, widths[-1], n), jnp.int32))

    (x_train, y_train), (x_test, y_test) = split(64), split(48)
    ds = data.Dataset(x_train, y_train, x_test, y_test, widths[-1], "dyadic", (widths[0],))
    return net, params, ds, dim


def _assert_same_sweep(fast, generic, rtol):
    for name in prune.SweepResult._fields[1:]:
        got, want = np.asarray(getattr(fast, name)), np.asarray(getattr(generic, name))
        if "accuracy" in name:
            np.testing.assert_array_equal(got, want, err_msg=name)
        else:
            np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-7, err_msg=name)


@pytest.fixture
def dense_share(request, monkeypatch):
    """Sets ``prune._DENSE_SHARE`` (read when ``_nested_sweep`` is traced: its cache is cleared
    before and after)."""
    monkeypatch.setattr(prune, "_DENSE_SHARE", request.param)
    prune._nested_sweep.clear_cache()
    yield request.param
    prune._nested_sweep.clear_cache()


def _nested_cases():
    """Every (dense_share, method, widths, prunable) combination; CI runs four that cover each
    value of every axis (each ~5 s), the full product of 24 is marked slow."""
    quick = {(0, "global", (5, 6, 4, 3), "weights"), (8, "random", (6, 3), "all"),
             (8, "global", (5, 6, 4, 3), "not_first"), (0, "random", (6, 3), "not_first")}
    return [pytest.param(*case, marks=() if case in quick else pytest.mark.slow)
            for case in itertools.product([0, 8], ["global", "random"],
                                          [(5, 6, 4, 3), (6, 3)],
                                          ["weights", "all", "not_first"])]


# dense_share 0: only sparse updates
@pytest.mark.parametrize(("dense_share", "method", "widths", "prunable"), _nested_cases(),
                         indirect=["dense_share"])
def test_nested_sweep_equals_generic_at_every_removal_count(monkeypatch, dense_share, method,
                                                             widths, prunable):
    net, params, ds, _ = _dyadic_mlp(widths, num_seeds=2)
    first = jax.tree_util.tree_map(lambda w: w[0], params)
    flags = {"weights": None,
             "all": jax.tree_util.tree_map(lambda w: True, first),
             "not_first": [{"w": i > 0 or len(widths) == 2, "b": False}
                           for i in range(len(widths) - 1)]}[prunable]
    count = prune.num_prunable(first, flags)
    # every removal count 0..D (each step of the grid removes one more entry), shuffled, with
    # duplicates and both ends repeated
    grid = np.concatenate([np.arange(count + 1) / count, [0.0, 1.0, 0.5, 3 / count]])
    grid = np.random.default_rng(1).permutation(grid)
    key = jax.random.key(7) if method == "random" else None
    want = _generic_sweep(net, params, ds, grid, method=method, prunable=flags, key=key)

    def no_generic(*args, **kwargs):
        raise AssertionError("the generic route was taken")

    monkeypatch.setattr(prune, "_sweep", no_generic)
    got = prune.sweep(_problem(net, params, ds, prunable=flags), grid, method=method,
                      key=key)
    # exact logits on both routes: losses agree to the rounding of log-softmax alone
    _assert_same_sweep(got, want, rtol=1e-6)
    # and they see single entries: while the networks are alive (the first D / 2 removals),
    # nearly every one-entry step of the grid moves a loss
    first = np.unique(grid, return_index=True)[1][: count // 2 + 1]
    losses = np.stack([np.asarray(want.train_loss)[:, first], np.asarray(want.test_loss)[:, first]])
    moved = np.any(np.diff(losses, axis=-1) != 0, axis=0)
    assert moved.mean() > 0.8, moved.mean()


@pytest.mark.parametrize(("share", "unroll"), [(0, 1), (0, 4), (8, 4), (10 ** 9, 4), (8, 3)])
def test_nested_products_exact_for_every_ratio(monkeypatch, share, unroll):
    # share 0: always the sparse update; 10**9: always the dense one; 8: the default mix
    monkeypatch.setattr(prune, "_DENSE_SHARE", share)
    monkeypatch.setattr(prune, "_UNROLL", unroll)
    rng = np.random.default_rng(0)
    a, b, n, num_ratios = 40, 7, 9, 12
    xt = jnp.asarray(rng.integers(-3, 4, (a, n)), jnp.float32)
    w = jnp.asarray(rng.integers(-8, 9, (a, b)) / 4.0, jnp.float32)
    # kept_for c in 0..P: some never kept (0), some always (P), an empty step (no c = 5), a
    # wide step (c = 9 on half the rows of column 2) and a column kept whole
    kept_for = rng.integers(0, num_ratios + 1, (a, b))
    kept_for[kept_for == 5] = 6
    kept_for[: a // 2, 2] = 9
    kept_for[:, 4] = num_ratios
    kept_for = jnp.asarray(kept_for, jnp.int32)
    got = jax.jit(lambda xt, w, c: prune._nested_products(
        xt, w, c, num_ratios, lambda k, acc: (k, acc)))(xt, w, kept_for)
    np.testing.assert_array_equal(got[0], np.arange(num_ratios))
    for k in range(num_ratios):
        want = np.where(np.asarray(kept_for) > k, np.asarray(w), 0).T @ np.asarray(xt)
        np.testing.assert_array_equal(got[1][k], want, err_msg=f"ratio {k}")


@pytest.mark.parametrize(("activation", "method"), [("relu", "global"), ("tanh", "random")])
def test_nested_sweep_equals_generic_on_trained_digits(activation, method):
    ds = data.load("digits")
    net = nets.mlp([64, 24, 16, 10], activation=activation)
    res = train.train_seeds(net, ds, keys=jax.random.split(jax.random.key(0), 2), steps=100)
    grid = np.array([0.0, 0.1, 0.1, 0.35, 0.6, 0.8, 0.9, 0.95, 0.99, 1.0])
    key = jax.random.key(3)
    got = prune.sweep(_problem(net, res.params, ds), grid, method=method, key=key)
    want = _generic_sweep(net, res.params, ds, grid, method=method, key=key)
    _assert_same_sweep(got, want, rtol=1e-5)
    assert float(got.test_accuracy[0, 0]) > 0.5  # trained: the comparison is not all chance


def test_nested_sweep_only_where_it_applies(monkeypatch):
    calls = []
    nested = prune._nested_sweep
    monkeypatch.setattr(prune, "_nested_sweep", lambda *a: calls.append(a[4]) or nested(*a))
    net, params, ds, _ = _dyadic_mlp((5, 6, 3), num_seeds=2)
    grid = [0.0, 0.5, 1.0]
    prune.sweep(_problem(net, params, ds), grid)
    prune.sweep(_problem(net, params, ds), grid, method="random", key=jax.random.key(0))
    assert calls == ["global", "random"]
    prune.sweep(_problem(net, params, ds), grid, method="layerwise")
    prune.sweep(_problem(net, params, ds), grid, finetune_steps=2)
    prune.sweep(_problem(_Counter.net, _Counter.seeds(2), _Counter.dataset), grid)  # not a nets.mlp
    assert calls == ["global", "random"]
    assert prune._mlp_activation(Model(net.apply)) is jax.nn.relu
    assert prune._mlp_activation(Model(net.apply, loss_fn=lambda p, b: 0.0)) is None
    assert prune._mlp_activation(Model(_Counter.net.apply)) is None
    assert prune._mlp_activation(Model(nets.cnn((8, 8), 10).apply)) is None


def test_pruned_points_by_hand():
    """Global magnitude on PARAMS' six weights (order: layer 0 w row-major, then layer 1 w)."""
    points, keeps = prune.pruned_points(PARAMS, np.array([0.0, 0.5, 1.0]))
    weights = [0.5, -3.0, 0.1, 2.0, -0.2, 1.0]
    assert points.shape == keeps.shape == (3, 6) and keeps.dtype == bool
    np.testing.assert_allclose(points[0], weights)
    np.testing.assert_allclose(points[1], [0.0, -3.0, 0.0, 2.0, 0.0, 1.0])
    assert not points[2].any() and keeps.sum(axis=1).tolist() == [6, 3, 0]
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        prune.pruned_points(PARAMS, np.array([1.5]))
