"""The limit test: witness searches, their schedules, the refinement, the verdict, and witness
files checked from the file alone (forged files must fail)."""

import json
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import scipy_oracles

from phasetrans import _io, cli
from phasetrans.applications import limit, witness_file
from phasetrans.cli import _network
from phasetrans.geometry import closed_forms
from phasetrans.networks import data, nets, prune, stationarity, train, witnesses
from phasetrans.networks.problem import Problem


def test_masked_retraining_to_convergence_matches_scipy_on_a_fixed_support():
    ds = data.load("digits", seed=0)
    l1 = 1e-3
    net = nets.mlp([64, 10])  # one linear layer: F restricted to a support is convex
    loss = nets.cross_entropy(net.apply)
    start = train.train(net, ds, key=jax.random.key(0), l1=l1, steps=300).params
    mask = prune.global_magnitude(start, 0.6)
    keep = np.asarray(mask[0]["w"])
    assert keep.sum() == 640 - int(0.6 * 640)
    x64, labels = np.asarray(ds.x_train, np.float64), np.asarray(ds.y_train)
    reference = scipy_oracles.l1_logistic_minimum(x64, labels, 10, l1, keep)
    stop = stationarity.StopRule(rtol=1e-7, subgradient_rtol=1e-3, max_steps=30_000)
    result = train.minimise(loss, start, (ds.x_train, ds.y_train), l1=l1,
                            training=train.TrainingOptions(stop=stop), mask=mask)
    assert bool(result.converged) and int(result.steps) < 30_000
    w = np.asarray(result.params[0]["w"])
    assert np.all(w[~keep] == 0)  # exactly 0 off the support
    value = float(train.objective(loss, l1, train.default_prunable(start))(
        result.params, (ds.x_train, ds.y_train)))
    assert abs(value - reference) <= 1e-5 * reference
    # without the mask the minimum is lower: the support is a real constraint
    free = scipy_oracles.l1_logistic_minimum(x64, labels, 10, l1)
    assert free < reference - 1e-4


def test_nested_magnitude_by_hand():
    params = {"w": jnp.array([[0.5, -0.1, 0.0, 2.0], [0.3, -0.7, 0.05, 1.0]]),
              "b": jnp.array([9.0, 0.0])}
    previous = {"w": jnp.array([[True, False, True, True], [True, True, False, True]]),
                "b": jnp.array([True, True])}
    mask = prune.nested_magnitude(params, previous, 0.5, {"w": True, "b": False})
    # floor(0.5 * 8) = 4 removed: the 2 already removed first, then the smallest kept |w|:
    # 0.0 (kept, at [0, 2]) and 0.3 ([1, 0]); 0.05 at [1, 2] stays removed, -0.1 too
    np.testing.assert_array_equal(mask["w"], [[True, False, False, True],
                                              [False, True, False, True]])
    np.testing.assert_array_equal(mask["b"], [True, True])
    # nested in the previous mask, and equal to global magnitude from an all-kept mask
    assert not np.any(np.asarray(mask["w"]) & ~np.asarray(previous["w"]))
    everything = jax.tree_util.tree_map(lambda w: jnp.ones(w.shape, bool), params)
    for p in (0.0, 0.25, 0.5, 0.875):
        got = prune.nested_magnitude(params, everything, p, {"w": True, "b": False})
        want = prune.global_magnitude(params, p, {"w": True, "b": False})
        np.testing.assert_array_equal(got["w"], want["w"])


def test_cubic_schedule_by_hand():
    p, n = 0.9, 4
    got = [float(witnesses.cubic_schedule(p, k, n)) for k in range(n + 1)]
    np.testing.assert_allclose(got, [0.0, 0.9 * (1 - 0.75**3), 0.9 * (1 - 0.5**3),
                                     0.9 * (1 - 0.25**3), 0.9], rtol=1e-12)
    assert all(a < b for a, b in zip(got, got[1:], strict=False))  # prunes most early


class _Recorder:
    """A stand-in for one retraining: records its start and mask, returns the start."""

    def __init__(self):
        self.starts, self.masks = [], []

    def __call__(self, x, mask):
        self.starts.append(x)
        self.masks.append(mask)
        return train.TrainResult(x, None, jnp.asarray(7), jnp.asarray(True))


def _imp(params, ratio, *, rewind, rounds=3, start=None):
    run = _Recorder()
    options = witnesses.SearchOptions(imp_rounds=rounds, rewind=rewind)
    ctx = witnesses._Context(run, None, {"w": True, "b": False}, options)
    aux = {"init": params if start is None else start, "scores": params}
    x, steps, converged = witnesses._imp_search(ctx, params, aux, ratio)
    return run, x, int(steps)


def test_imp_rounds_hand_counts_nesting_and_rewinding():
    rng = np.random.default_rng(0)
    params = {"w": jnp.asarray(rng.standard_normal((10, 10)), jnp.float32),
              "b": jnp.ones(3)}
    ratio = 0.875  # keep (1 - p)^(r / 3) = 0.5, 0.25, 0.125 of D = 100
    run, x, steps = _imp(params, ratio, rewind=None)
    kept = [int(np.sum(m["w"])) for m in run.masks]
    assert kept == [100 - int(100 * (1 - 0.5)), 100 - int(100 * (1 - 0.25)), 100 - 87]
    assert kept == [50, 25, 13] and steps == 3 * 7
    for outer, inner in zip(run.masks, run.masks[1:], strict=False):
        assert not np.any(np.asarray(inner["w"]) & ~np.asarray(outer["w"]))  # nested
    assert np.all(np.asarray(run.masks[-1]["b"]))  # biases are never pruned
    assert int(np.sum(np.asarray(x["w"]) != 0)) == 13
    # rewinding: every round starts from w* itself on its mask, exactly
    init = {"w": jnp.asarray(rng.standard_normal((10, 10)), jnp.float32), "b": jnp.zeros(3)}
    for rewind, origin in (("trained", params), ("init", init)):
        run, _, _ = _imp(params, ratio, rewind=rewind, start=init)
        for start, mask in zip(run.starts, run.masks, strict=True):
            np.testing.assert_array_equal(start["w"], np.where(mask["w"], origin["w"], 0.0))
            np.testing.assert_array_equal(start["b"], origin["b"])
        # the masks are those of the run without rewinding (the recorder does not train)
        assert [int(np.sum(m["w"])) for m in run.masks] == [50, 25, 13]


def test_gradual_pruning_ends_at_the_target_count():
    rng = np.random.default_rng(1)
    params = {"w": jnp.asarray(rng.standard_normal((8, 10)), jnp.float32), "b": jnp.zeros(2)}

    def stepper(mask):  # no optimisation: only the pruning schedule acts
        def step(carry, key):
            return carry, jnp.zeros(())
        return train.prox_adam(1e-3, l1=0.0, prunable={"w": True, "b": False}), step

    run = _Recorder()
    options = witnesses.SearchOptions(gradual_steps=40, gradual_every=10)
    ctx = witnesses._Context(run, stepper, {"w": True, "b": False}, options)
    x, steps, _ = witnesses._gradual_search(ctx, params, {"init": params}, 0.7)
    assert int(np.sum(~np.asarray(run.masks[0]["w"]))) == 56  # floor(0.7 * 80)
    # without training the schedule is global magnitude of w*: the same support
    np.testing.assert_array_equal(run.masks[0]["w"],
                                  prune.global_magnitude(params, 0.7, {"w": True, "b": False})["w"])
    assert int(steps) == 40 + 7


def test_refine_resolves_the_threshold_to_a_quarter_window():
    dim = 1184
    resolution = closed_forms.theory_window(dim).half_width / 4
    threshold = 0.637
    calls = []

    def evaluate(ratios):
        calls.append(len(ratios))
        return np.stack([ratios <= threshold, ratios <= 0.2, ratios < -1], 1)

    brackets = witnesses.refine(evaluate, resolution=resolution, points_per_round=3,
                                num_criteria=3)
    low, high = brackets[0]
    assert low <= threshold < high and high - low <= resolution
    assert brackets[1, 0] <= 0.2 < brackets[1, 1] and brackets[1, 1] - brackets[1, 0] <= resolution
    assert np.isnan(brackets[2, 0]) and brackets[2, 1] == 1.0  # fails at 0: no witness
    assert calls[0] == 4 and max(calls) <= 6 and len(calls) <= 5
    # bisection (one point per round) gets there too
    bisected = witnesses.refine(lambda r: (r <= threshold)[:, None], resolution=resolution,
                                points_per_round=1, num_criteria=1)
    assert bisected[0, 0] <= threshold < bisected[0, 1]
    assert bisected[0, 1] - bisected[0, 0] <= resolution


def test_bisection_needs_the_fewest_runs_the_search_options_quote():
    """SearchOptions.points_per_round's numbers: runs per seed on monotone rows, 3 criteria."""
    def mean_runs(points, spread):  # the same 300 rows for every points_per_round
        rng, counts = np.random.default_rng(0), []
        for _ in range(300):
            if spread:
                thresholds = np.sort(rng.uniform(0.3, 0.95, 3))
            else:
                t, d = rng.uniform(0.3, 0.95), rng.uniform(0, 0.03, 2)
                thresholds = np.array([t, t + d[0], t - d[1]])
            calls = []

            def evaluate(ratios, thresholds=thresholds, calls=calls):
                calls.append(len(ratios))
                return ratios[:, None] <= thresholds[None, :]

            witnesses.refine(evaluate, resolution=0.025, points_per_round=points,
                             num_criteria=3, min_width=1 / 1184)
            counts.append(sum(calls))
        return round(float(np.mean(counts)), 1)

    assert witnesses.SearchOptions().points_per_round == 1
    assert witnesses.SearchOptions().settings("retrain")["points_per_round"] == 1
    assert [mean_runs(k, spread=False) for k in (1, 3)] == [8.9, 11.9]
    assert [mean_runs(k, spread=True) for k in (1, 3)] == [14.0, 18.8]


def test_contiguity_of_the_ratios_with_a_witness():
    evaluation = {"ratio": np.array([0.0, 0.25, 0.5, 0.75]),
                  "passes": np.array([[1, 1], [0, 1], [1, 1], [0, 0]], bool)}
    brackets = np.array([[0.5, 0.75], [0.5, 0.75]])
    assert witnesses._contiguous(evaluation, brackets) == [False, True]


def test_refine_keeps_the_largest_witness_past_a_failure():
    # passes on [0, 0.3] and [0.5, 0.55]: the 0.4 failure does not hide the higher witness
    def evaluate(ratios):
        return ((ratios <= 0.3) | ((ratios >= 0.5) & (ratios <= 0.55)))[:, None]

    low, high = witnesses.refine(evaluate, resolution=0.01, points_per_round=3,
                                 num_criteria=1)[0]
    assert 0.5 <= low <= 0.55 < high and high - low <= 0.01


@pytest.mark.parametrize(("best", "predicted", "window", "expected"), [  # exact binary numbers
    (0.875, 0.5, 0.25, "beaten beyond the window"),
    (0.75, 0.5, 0.25, "beaten within the window"),   # exactly p̂ + window: within
    (0.625, 0.5, 0.25, "beaten within the window"),
    (0.5, 0.5, 0.25, "not beaten by these searches"),
    (0.25, 0.5, 0.25, "not beaten by these searches"),
    (None, 0.5, 0.25, "not beaten by these searches"),
    (float("nan"), 0.5, 0.25, "not beaten by these searches"),
])
def test_verdict_rules(best, predicted, window, expected):
    assert limit.verdict(best, predicted, window) == expected


def test_search_options_are_validated():
    with pytest.raises(ValueError, match="gradual_steps .* multiple of gradual_every"):
        witnesses.SearchOptions(gradual_steps=150, gradual_every=100).validate()
    with pytest.raises(ValueError, match="SearchOptions.rewind must be one of"):
        witnesses.SearchOptions(rewind="early").validate()
    with pytest.raises(ValueError, match="SearchOptions.points_per_round must be >= 1"):
        witnesses.SearchOptions(points_per_round=0).validate()


def test_sequential_search_runs_one_ratio_at_a_time_with_the_batched_answers(monkeypatch):
    problem = train.train_problem("digits", arch="", l1=1e-3, num_seeds=1, steps=300)
    stop = stationarity.StopRule(window=200, check_every=100, max_steps=600)
    ref = witnesses.reference(problem, epsilon=1e-3, options=witnesses.SearchOptions(stop=stop))
    sizes = []
    batch = witnesses._batch

    def spy(*args):
        sizes.append(len(args[-2]))  # the ratios of one compiled call
        return batch(*args)

    monkeypatch.setattr(witnesses, "_batch", spy)
    out = {}
    for sequential in (False, True):
        sizes.clear()
        options = witnesses.SearchOptions(stop=stop, resolution=0.05, sequential=sequential,
                                          points_per_round=3)
        out[sequential] = witnesses.search(problem, "imp", ref=ref, options=options)
        runs = len(out[sequential].evaluations[0]["ratio"])
        if sequential:
            assert sizes == [1] * runs  # no padded runs
        else:
            assert len(sizes) < runs <= sum(sizes)  # whole rounds, padded to a few sizes
            assert set(sizes) <= set(witnesses._batch_sizes(3, len(witnesses.CRITERIA)))
    batched, one_by_one = out[False], out[True]
    np.testing.assert_array_equal(one_by_one.witness_ratio, batched.witness_ratio)
    np.testing.assert_array_equal(one_by_one.bracket, batched.bracket)
    for key in ("ratio", "passes"):
        np.testing.assert_array_equal(one_by_one.evaluations[0][key],
                                      batched.evaluations[0][key])
    np.testing.assert_allclose(one_by_one.evaluations[0]["objective"],
                               batched.evaluations[0]["objective"], rtol=1e-4)
    with pytest.raises(TypeError, match="SearchOptions.sequential"):
        witnesses.SearchOptions(sequential=1).validate()


def test_search_budgets_by_hand_and_the_reference_runs_to_the_largest():
    options = witnesses.SearchOptions(stop=stationarity.StopRule(max_steps=300), imp_rounds=3,
                                      gradual_steps=200, gradual_every=100)
    assert [witnesses.search_budget(n, options) for n in witnesses.SEARCHES] == [
        300, 900, 500, 300]  # retrain, imp (3 rounds), gradual (200 + one retraining), model
    with pytest.raises(ValueError, match="name must be one of"):
        witnesses.search_budget("lottery", options)
    problem = train.train_problem("digits", arch="", l1=1e-3, num_seeds=1, steps=100)
    at_once = stationarity.StopRule(window=100, check_every=100, rtol=10.0,
                                    subgradient_rtol=10.0, max_steps=300)  # holds at once
    options = witnesses.SearchOptions(stop=at_once, imp_rounds=2)
    short = witnesses.reference(problem, epsilon=1e-3, options=options)
    stopped = train.minimise(problem.model.loss, problem.seed(0), problem.train, l1=problem.l1,
                             training=train.TrainingOptions(stop=at_once))
    assert int(stopped.steps) == 200  # a stop-rule run ends at its first full window
    # the reference runs all 300 steps and keeps the lowest F it visits
    fixed = train.minimise(problem.model.loss, problem.seed(0), problem.train, l1=problem.l1,
                           training=train.TrainingOptions(steps=300))
    f = train.objective(problem.model.loss, problem.l1, problem.prunable)
    visited = np.append(np.asarray(fixed.loss_history), f(fixed.params, problem.train))
    assert short.max_steps == 300 and short.best_step[0] == np.argmin(visited) > 200
    np.testing.assert_allclose(short.fair_objective[0], visited.min(), rtol=1e-6)
    dense = jax.tree_util.tree_map(lambda w: w[0], short.dense)
    np.testing.assert_allclose(f(dense, problem.train), short.fair_objective[0], rtol=1e-6)
    longer = witnesses.reference(problem, epsilon=1e-3, options=options, max_steps=600)
    assert longer.max_steps == 600 and longer.best_step[0] > 300
    assert longer.fair_objective[0] < short.fair_objective[0]  # F still falls after 100 steps
    with pytest.raises(ValueError, match="max_steps"):
        witnesses.reference(problem, epsilon=1e-3, options=options, max_steps=0)


def test_mini_batch_reference_keeps_the_lowest_full_f_check_and_the_searches_use_batches():
    problem = train.train_problem("digits", arch="", l1=1e-3, num_seeds=1, steps=100)
    rule = stationarity.StopRule(window=100, check_every=100, max_steps=300)
    options = witnesses.SearchOptions(stop=rule, batch_size=64, resolution=0.25)
    ref = witnesses.reference(problem, epsilon=1e-2, options=options)
    f = jax.jit(train.objective(problem.model.loss, problem.l1, problem.prunable))

    def by_hand(learning_rate):
        # 3 chunks of 100 steps on batches of 64 (keys fold_in(key(0), chunk)), full F after
        # each; the reference keeps the lowest of w* and those
        opt, step = train.stepper(problem.model.loss, problem.train, prunable=problem.prunable,
                                  l1=problem.l1, optimizer="prox-adam",
                                  learning_rate=learning_rate, batch_size=64)
        state = (problem.seed(0), opt.init(problem.seed(0)))
        values = [float(f(problem.seed(0), problem.train))]
        for chunk in range(3):
            keys = jax.random.split(jax.random.fold_in(jax.random.key(0), chunk), 100)
            state, _ = jax.lax.scan(step, state, keys)
            values.append(float(f(state[0], problem.train)))
        return values

    values = by_hand(options.learning_rate)
    assert ref.best_step[0] == 100 * np.argmin(values) > 0
    np.testing.assert_allclose(ref.fair_objective[0], min(values), rtol=1e-5)
    # with rate_decay the rate falls linearly to 0 over the reference's 300 steps
    decaying = options._replace(rate_decay=True)
    decayed = by_hand(optax.linear_schedule(options.learning_rate, 0.0, 300))
    assert abs(min(decayed) - min(values)) > 1e-6  # the schedule changes the path
    decayed_ref = witnesses.reference(problem, epsilon=1e-2, options=decaying)
    np.testing.assert_allclose(decayed_ref.fair_objective[0], min(decayed), rtol=1e-5)
    with pytest.raises(TypeError, match="rate_decay"):
        witnesses.SearchOptions(rate_decay=1).validate()
    dense = jax.tree_util.tree_map(lambda w: w[0], ref.dense)
    np.testing.assert_allclose(f(dense, problem.train), ref.fair_objective[0], rtol=1e-5)
    full = witnesses.reference(problem, epsilon=1e-3, options=options._replace(batch_size=None))
    assert abs(full.fair_objective[0] - ref.fair_objective[0]) > 1e-6  # not full-batch steps
    result = witnesses.search(problem, "retrain", ref=ref, options=options)
    assert result.settings["batch_size"] == 64
    best = result.witnesses[0][0]  # the verdict's criterion, judged on the full training set
    assert best is not None and best.removal_ratio > 0.25
    assert best.objective <= ref.fair_objective[0] + 1e-2
    np.testing.assert_allclose(f(best.params, problem.train), best.objective, rtol=1e-5)
    decayed_search = witnesses.search(problem, "retrain", ref=decayed_ref, options=decaying)
    assert decayed_search.settings["rate_decay"].startswith("linear to 0")
    other = decayed_search.witnesses[0][0]  # its retraining runs follow the schedule
    assert other is not None and abs(other.objective - best.objective) > 1e-7
    # what is refused
    with pytest.raises(ValueError, match="batch_size"):
        witnesses.SearchOptions(batch_size=0).validate()
    too_many = options._replace(batch_size=10_000)
    with pytest.raises(ValueError, match="batch_size .* must be <= the 1437 training examples"):
        witnesses.reference(problem, epsilon=1e-3, options=too_many)
    with pytest.raises(ValueError, match="batch_size .* must be <= the 1437"):
        witnesses.search(problem, "retrain", ref=ref, options=too_many)
    with pytest.raises(ValueError, match="multiple of stop.check_every"):
        witnesses.reference(problem, epsilon=1e-3, options=options, max_steps=250)


def test_settle_adopts_the_references_continuation_until_it_no_longer_lowers_f_by_eps():
    problem = train.train_problem("digits", arch="", l1=1e-3, num_seeds=2, steps=100)
    options = witnesses.SearchOptions(stop=stationarity.StopRule(window=100, check_every=100,
                                                                 max_steps=300))
    epsilon = np.array([1e3, 1e-4])  # seed 0 settled from the start, seed 1 far from it
    once = witnesses.settle(problem, epsilon=epsilon, options=options, max_rounds=1)
    assert once.settled.tolist() == [True, False] and once.decrease_in_epsilon.shape == (1, 2)
    ref = witnesses.reference(problem, epsilon=epsilon, options=options)
    for old, new, dense in zip(*(jax.tree_util.tree_leaves(p) for p in
                                 (problem.params, once.problem.params, ref.dense)), strict=True):
        np.testing.assert_array_equal(new[0], old[0])  # kept
        np.testing.assert_array_equal(new[1], dense[1])  # adopted
    out = witnesses.settle(problem, epsilon=epsilon, options=options, max_rounds=30)
    assert out.settled.all() and out.max_steps == 300
    rounds = out.decrease_in_epsilon[:, 1]
    assert len(rounds) > 1 and (rounds[:-1] > 1).all() and rounds[-1] <= 1
    np.testing.assert_array_equal(out.decrease_in_epsilon[:, 0] <= 1, True)
    again = witnesses.reference(out.problem, epsilon=epsilon, options=options)
    np.testing.assert_allclose(again.decrease_in_epsilon, out.decrease_in_epsilon[-1])
    with pytest.raises(ValueError, match="max_rounds"):
        witnesses.settle(problem, epsilon=epsilon, options=options, max_rounds=0)
    assert limit.reference_budget(("retrain", "imp"), options) == 4 * 300
    assert limit.reference_budget((), options) == 300


def test_cli_limit_defaults_are_the_library_ones():
    options = witnesses.SearchOptions()
    assert _network.LIMIT_DEFAULTS == {"searches": limit.DEFAULT_SEARCHES,
                                       "max_steps": options.stop.max_steps,
                                       "check_every": options.stop.check_every,
                                       "window": options.stop.window}


def test_initial_params_are_the_trainers():
    problem = train.train_problem("digits", arch="4", num_seeds=2, seed=3, steps=5)
    init = train.initial_params(problem)
    again = jax.vmap(lambda p: train.minimise(
        nets.cross_entropy(nets.mlp([64, 4, 10]).apply), p,
        (problem.train[0], problem.train[1]), l1=problem.l1,
        training=train.TrainingOptions(steps=5)).params)(init)
    for a, b in zip(jax.tree_util.tree_leaves(again), jax.tree_util.tree_leaves(problem.params),
                    strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)  # float32 rounding
    mine = Problem.from_apply(nets.mlp([64, 4, 10]).apply, problem.params, train=problem.train,
                              test=problem.test, l1=1e-4, seed_axis=True)
    assert train.initial_params(mine) is None


# ---------------------------------------------------------------- witness files, forged


@pytest.fixture(scope="module")
def witness(tmp_path_factory):
    """A hand-made witness of a small built-in network: w* pruned at p = 0.5, its claim with
    eps set so that it holds by a margin of 1e-6 relative."""
    problem = train.train_problem("digits", arch="", l1=1e-3, num_seeds=1, steps=300)
    trained = problem.seed(0)
    x = prune.apply_mask(trained, prune.global_magnitude(trained, 0.5, problem.prunable))
    f = train.objective(problem.model.loss, problem.l1, problem.prunable)
    values = {"objective": float(f(x, problem.train)),
              "train_loss": float(problem.model.loss(x, problem.train)),
              "test_accuracy": float(problem.model.accuracy(x, problem.test)),
              "trained_objective": float(f(trained, problem.train)),
              "trained_test_accuracy": float(problem.model.accuracy(trained, problem.test))}
    values["fair_objective"] = values["trained_objective"]
    assert values["objective"] > values["fair_objective"]
    claim = {**values, "criterion": "objective", "search": "by hand", "settings": {},
             "target_ratio": 0.5, "epsilon_noise": None, "accuracy_tol": 0.0, "l1": problem.l1,
             "problem": {"dataset": "digits", "arch": problem.metadata["arch"], "seed": 0,
                         "network": 0}}
    directory = tmp_path_factory.mktemp("witness")

    def write(name, margin, **changes):
        epsilon = values["objective"] * (1 + margin) - values["fair_objective"]
        path = directory / name
        witness_file.write(path, witness=changes.get("witness", x), trained=trained,
                           dense=trained, prunable=problem.prunable,
                           claim={**claim, "epsilon": epsilon, **changes.get("claim", {})})
        return path

    return write


def _rewrite(path, out, change):
    arrays = _io.read_npz(path)
    change(arrays)
    _io.save_npz(out, **arrays)
    return out


def test_check_witness_accepts_the_true_claim(witness, capsys):
    path = witness("good.npz", 1e-6)
    assert witness_file.check(path).holds
    assert cli.main(["check-witness", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{path}: the claim holds" and len(out) == 13  # 12 checks
    assert cli.main(["check-witness", str(path), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["holds"] and document["recomputed"]["objective"] > 0


def test_load_returns_the_stored_trees_shaped_as_the_model(witness):
    path = witness("load.npz", 1e-6)
    like = nets.mlp([64, 10]).init(key=jax.random.key(0))
    meta, trees = witness_file.load(path, like)
    assert meta["criterion"] == "objective" and sorted(trees) == sorted(witness_file.GROUPS)
    x, mask = np.asarray(trees["witness"][0]["w"]), np.asarray(trees["mask"][0]["w"])
    assert np.all(x[~mask] == 0) and np.all(x[mask] != 0)
    assert int(np.sum(~mask)) == meta["num_removed"] == 320  # p = 0.5 of the 640 weights
    np.testing.assert_array_equal(trees["dense"][0]["w"], trees["trained"][0]["w"])
    with pytest.raises(ValueError, match="do not match"):
        witness_file.load(path, nets.mlp([64, 4, 10]).init(key=jax.random.key(0)))


def test_check_witness_catches_f_above_the_tolerance_by_1e6_relative(witness, capsys):
    path = witness("above.npz", -1e-6)  # F = (F* + eps)(1 + 1e-6)
    result = witness_file.check(path)
    assert not result.holds
    assert [line for line in result.lines if line.startswith("FAILS")] == [result.lines[-1]]
    assert cli.main(["check-witness", str(path)]) == 1
    assert "the claim does NOT hold" in capsys.readouterr().out


def test_check_witness_catches_a_mask_with_one_zero_too_few(witness, tmp_path):
    path = witness("mask.npz", 1e-6)

    def one_less(arrays):  # the mask keeps one weight the claim counts as removed
        mask = arrays["mask/leaf_1"]  # leaf 0 is the bias
        i = np.flatnonzero(~mask.ravel())[0]
        mask.ravel()[i] = True

    forged = _rewrite(path, tmp_path / "forged.npz", one_less)
    result = witness_file.check(forged)
    assert not result.holds and result.lines[0].startswith("FAILS  mask removes 319 of 640")
    assert cli.main(["check-witness", str(forged)]) == 1


def test_check_witness_catches_a_nonzero_off_the_mask(witness, tmp_path):
    path = witness("nonzero.npz", 1e-6)

    def revive(arrays):
        w, mask = arrays["witness/leaf_1"], arrays["mask/leaf_1"]
        w.ravel()[np.flatnonzero(~mask.ravel())[0]] = 1e-3

    result = witness_file.check(_rewrite(path, tmp_path / "revived.npz", revive))
    failing = [line for line in result.lines if line.startswith("FAILS")]
    assert not result.holds and any("exactly 0 off the mask (1 nonzero" in f for f in failing)


def test_check_witness_catches_a_stored_value_that_was_edited(witness):
    path = witness("edited.npz", 1e-6, claim={"trained_test_accuracy": 0.5})
    result = witness_file.check(path)
    assert not result.holds
    assert any(line.startswith("FAILS  trained_test_accuracy recomputed") for line in result.lines)


def test_check_witness_refuses_arrays_that_do_not_match_the_metadata(witness, tmp_path,
                                                                     capsys):
    path = witness("shape.npz", 1e-6)

    def reshape(arrays):
        arrays["dense/leaf_1"] = arrays["dense/leaf_1"][:10]

    forged = _rewrite(path, tmp_path / "shape.npz", reshape)
    assert cli.main(["check-witness", str(forged)]) == 2
    err = capsys.readouterr().err.strip()
    assert "dense leaf 1 has shape (10, 10); the model needs (64, 10)" in err

    def other_arch(arrays):
        meta = json.loads(str(arrays["__metadata__"]))
        meta["problem"]["arch"] = "mlp-64-16-10"
        arrays["__metadata__"] = np.array(json.dumps(meta))

    forged = _rewrite(path, tmp_path / "arch.npz", other_arch)
    assert cli.main(["check-witness", str(forged)]) == 2
    assert "witness leaves; the model needs 4" in capsys.readouterr().err


def test_check_witness_refuses_a_truncated_file(witness, tmp_path, capsys):
    path = witness("whole.npz", 1e-6)
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(path.read_bytes()[:2000])
    assert cli.main(["check-witness", str(truncated)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "truncated, corrupt or not a zip file" in err[0]


def test_check_witness_does_not_import_the_search_code(witness):
    path = witness("imports.npz", 1e-6)
    code = ("import sys\nfrom phasetrans import cli\n"
            f"status = cli.main(['check-witness', {str(path)!r}])\n"
            "assert status == 0, status\n"
            "assert 'phasetrans.networks.witnesses' not in sys.modules\n"
            "assert 'phasetrans.applications.limit' not in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def _document(best, searches=("retrain",)):
    entry = {"mean": best, "converged_fraction": 0.5, "seconds": 12.0}
    return {"witness_ratio": {name: entry for name in searches}, "best_witness_ratio": best,
            "best_search": "retrain" if best is not None else None,
            "prediction": {"name": "formula", "value": 0.5, "values": {"formula": 0.5}},
            "window": 0.25, "verdict": limit.verdict(best, 0.5, 0.25),
            "reference": {"decrease_in_epsilon": [0.5, 1.5]}}


def test_limit_lines_say_the_verdict_first_in_words():
    lines = limit.limit_lines(_document(0.875))
    assert lines[0] == ("Is the prediction a limit? Beaten beyond the window: masked retraining "
                        "from the magnitude support found a network within eps of the trained "
                        "objective with 88 % of the weights removed; the theory says none exists "
                        "beyond 50 % (± 25 % at this size).")
    assert lines[1] == ("  witness search retrain  best removal ratio 0.875 (50 % of its runs "
                        "converged, 12 s)")
    assert lines[2].endswith("lowers F by 1 eps (seed mean)")
    assert limit.limit_lines(_document(0.25))[0].endswith(
        "(a search that fails does not prove the limit).")
    assert "no search found a pruned network" in limit.limit_lines(_document(None))[0]
    unreachable = _document(None)
    unreachable["reference"] = {"decrease_in_epsilon": [0.5, 9.04], "max_steps": 40000}
    assert limit.limit_lines(unreachable)[0].endswith(
        "Not even unpruned: w* continued for 40000 steps lowers F by up to 9.0 eps, "
        "further than the searches' runs reach, so w* is not a minimum of F at the searches' "
        "horizon and this test cannot decide (phasetrans.networks.witnesses.settle trains w* "
        "on until it is).")
    reachable = _document(None)
    reachable["reference"] = {"decrease_in_epsilon": [0.5, 0.8]}
    assert "Not even" not in limit.limit_lines(reachable)[0]  # w* within eps: no such claim
    assert "Not tested" in limit.limit_lines(_document(None, searches=()))[0]


def test_model_search_ranks_by_the_l1_models_minimiser_and_finds_witnesses():
    from phasetrans.applications import compare
    from phasetrans.theory import predict

    problem = train.train_problem("digits", arch="", l1=1e-3, num_seeds=1, steps=500)
    comparison = compare.assess(problem, key=jax.random.key(0), further_steps=100,
                                options=predict.PredictOptions(
                                    l1_body_options=predict.L1BodyOptions(max_dim=0)))
    scores = limit.model_scores(comparison)
    w = np.abs(np.asarray(problem.params[0]["w"][0]))
    ranked = np.asarray(scores[0]["w"][0])
    first = ranked > w.max()  # the model's support, ranked above every other weight
    assert 0 < first.sum() < np.sum(w != 0)  # the model's minimiser is sparser than w*
    np.testing.assert_array_equal(ranked[~first], w[~first])  # the rest by |w*|
    options = witnesses.SearchOptions(stop=stationarity.StopRule(window=500, check_every=250,
                                                                 max_steps=1000))
    result = limit.limit_test(comparison, key=jax.random.key(0), searches=("model",),
                              options=options)
    document = limit.limit_json(result)
    assert document["best_search"] == "model" and document["best_witness_ratio"] > 0.3
    assert "l1-induced model" in document["searches"]["model"]["ranking"]


def _committed_witnesses(search: str = "*") -> list:
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[1] / "results" / "limit_test" / "witnesses"
    files = sorted(root.glob(f"*/{search}-seed0-objective.npz"))
    assert files, f"no witness files under {root}"
    return files


def _check_all(files) -> None:
    for path in files:
        result = witness_file.check(path)
        assert result.holds, (path, [line for line in result.lines if line.startswith("FAILS")])


def test_the_committed_retraining_witnesses_hold():
    """The masked-retraining witness of every configuration the limit-test experiment keeps in
    git re-checks from the file alone (one per configuration: each check costs ~2 s, and the
    files grow with the table; all searches' files in the slow test below)."""
    files = _committed_witnesses("retrain")
    assert len(files) == len({path.parent for path in _committed_witnesses()})
    _check_all(files)


@pytest.mark.slow
def test_the_committed_witnesses_hold():
    """Every witness file the limit-test experiment keeps in git re-checks from the file alone."""
    _check_all(_committed_witnesses())


def test_sensitivity_moves_one_weight_by_one_ulp_and_measures_the_distance():
    from experiments.limit_test import sensitivity

    params = {"b": jnp.zeros(3), "w": jnp.array([[0.5, -1.0], [2.0, 0.25]])}
    moved = sensitivity.one_ulp_apart(params)
    assert np.array_equal(moved["b"], params["b"])  # the bias (rank 1) is left alone
    up = np.nextafter(np.asarray(params["w"]), np.float32(np.inf))
    assert np.array_equal(moved["w"], up) and np.all(up > params["w"])  # each one ulp up
    other = {"b": jnp.array([0.0, 3.0, 0.0]), "w": params["w"]}
    # ||(0, 3, 0)|| / ||(0.5, -1, 2, 0.25)|| = 3 / sqrt(5.3125)
    assert sensitivity.relative_distance(params, other) == pytest.approx(3 / np.sqrt(5.3125))
    assert sensitivity.parse_config("mnist1d:16:1e-5") == ("mnist1d", "16", 1e-5)
    with pytest.raises(Exception, match="dataset:widths:lambda"):
        sensitivity.parse_config("mnist1d:16")
