"""The scale-study family of issue 26 (experiments/scale_study/family.py): data, loss, sizes;
and its runner (experiments/scale_study/family_run.py): resumable rows, assembly, resolution."""

import json
import pathlib
import subprocess
import sys

import jax
import numpy as np
import pytest

from experiments.scale_study import family, family_run
from phasetrans import _io
from phasetrans.networks import stationarity, train, witnesses


def test_data_deterministic_per_seed_with_shapes_and_balanced_labels():
    (x, y), (xt, yt) = family.make_data("multilabel", 16, 2.0, seed=3)
    (x2, y2), _ = family.make_data("multilabel", 16, 2.0, seed=3)
    (x3, _), _ = family.make_data("multilabel", 16, 2.0, seed=4)
    s = family.size("multilabel", 16, 2.0)
    assert x.shape == (s["n"], family.INPUT_DIM) and y.shape == (s["n"], 16)
    assert xt.shape == (family.NUM_TEST, family.INPUT_DIM) and yt.shape == (family.NUM_TEST, 16)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    assert not np.allclose(x, x3)
    assert set(np.unique(yt)) == {0.0, 1.0}
    # medians of a reference sample: every label near half ones on 2000 test examples
    np.testing.assert_allclose(yt.mean(axis=0), 0.5, atol=0.06)


def test_label_noise_flips_train_labels_only_and_wide_teacher_is_deterministic():
    (_, y), (_, yt) = family.make_data("multilabel", 16, 2.0, seed=0)
    (_, yq), (_, ytq) = family.make_data("multilabel", 16, 2.0, seed=0, label_noise=0.2)
    np.testing.assert_array_equal(yt, ytq)
    assert np.mean(y != yq) == pytest.approx(0.2, abs=0.05)
    (x1, y1), _ = family.make_data("multilabel", 16, 2.0, seed=0, teacher_width=0)
    (x2, y2), _ = family.make_data("multilabel", 16, 2.0, seed=0, teacher_width=0)
    np.testing.assert_array_equal(y1, y2)
    np.testing.assert_allclose(y1.mean(axis=0), 0.5, atol=0.2)


def test_softmax_control_labels():
    (x, y), _ = family.make_data("softmax", 16, 1.0, seed=0)
    assert y.dtype == np.int32 and y.min() >= 0 and y.max() < family.NUM_CLASSES
    assert len(np.unique(y)) >= 5


def test_zero_output_student_has_loss_log2_and_half_accuracy():
    (x, y), _ = family.make_data("multilabel", 16, 1.0, seed=0)
    params = family.init("multilabel", 16, key=jax.random.key(0))
    params[-1] = {"w": params[-1]["w"] * 0.0, "b": params[-1]["b"] * 0.0}
    # (a float32 mean over n m terms: 1.8e-6 off on one machine, so 1e-5)
    assert float(family.bce_loss(params, (x, y))) == pytest.approx(np.log(2.0), rel=1e-5)
    # logit 0 predicts 0 everywhere: accuracy = fraction of zeros
    assert float(family.label_accuracy(params, (x, y))) == pytest.approx(1 - y.mean(), abs=1e-6)


@pytest.mark.parametrize("fam,width,ratio", [("multilabel", 16, 1.0), ("multilabel", 64, 2.5),
                                             ("multilabel", 700, 2.0), ("softmax", 32, 1.0)])
def test_size_respects_design_rule(fam, width, ratio):
    s = family.size(fam, width, ratio)
    h, m, d = s["h"], s["m"], s["d"]
    assert s["D"] == d * h + h * h + h * m
    assert s["n"] == round(ratio * s["D"] / s["rank_per_example"])
    assert m == (h if fam == "multilabel" else family.NUM_CLASSES)
    params = family.init(fam, width, key=jax.random.key(0))
    assert sum(p["w"].size for p in params) == s["D"]


def test_recommended_l1_holds_penalty_per_label_fixed():
    for width in (16, 64, 700):
        s = family.size("multilabel", width, family.RATIO)
        assert family.l1_for("multilabel", width) * s["n"] * s["m"] == pytest.approx(
            family.L1_BUDGET)
    assert family.l1_for("multilabel", 16) == pytest.approx(9.765625e-5)


def test_bad_family_or_size():
    with pytest.raises(ValueError):
        family.size("regression", 16, 1.0)
    with pytest.raises(ValueError):
        family.size("multilabel", 16, 0.0)


def _fake_row(width, seed, searches=("retrain",)):
    """A row with every column family_run.table and resolution read (no training)."""
    return {"width": width, "num_params": 32 * width + 2 * width ** 2, "n": 2 * (32 + 2 * width),
            "l1": 1e-4, "seed": seed, "arch": f"32-{width}-{width}-{width}",
            "training": {"steps": [100], "converged": [True], "learning_rate": 1e-3},
            "stationarity": {"is_minimum": True, "decrease_in_epsilon": 0.1},
            "test_accuracy": 0.8, "epsilon": 1e-3,
            "formula": {"mean": 0.55, "interval": [0.54, 0.56]},
            "mc_ellipsoid": {"mean": 0.6, "interval": [0.58, 0.62]},
            "window": {"half_width": 0.2, "eta": 0.05},
            "oneshot": {"accuracy": 0.6, "loss": 0.5,
                        "brackets": {"accuracy": [0.6, 0.61], "loss": [0.5, 0.52]}},
            "witness": {s: {"ratio": 0.7, "converged_fraction": 0.5,
                            "brackets": {"objective": [0.7, 0.73], "accuracy": [0.8, 0.81]}}
                        for s in searches},
            "best_witness": {"reference_decrease_in_epsilon": 2.25},
            "resolution": 0.03,
            "seconds": {"train": 1.0, "predict": 2.0, "premise_oneshot": 3.0,
                        "oneshot_refine": 0.5, "witnesses": 4.0, "total": 10.5},
            "command": family_run.command(width, seed, searches),
            **({"training": {"steps": [100], "converged": [True], "learning_rate": 1e-3,
                             "settling": {"settled": True, "rounds": [{}, {}]}}}
               if seed == 1 else {})}


def test_runner_resumes_skips_stored_rows_and_assembles_sorted_results(tmp_path):
    calls = []

    def fake(width, seed, searches, witness_dir):
        assert witness_dir == tmp_path / "witnesses" / f"h{width}_seed{seed}"
        calls.append((width, seed, searches))
        return _fake_row(width, seed, searches)

    done = family_run.run([32, 16], [1, 0], ["retrain"], directory=tmp_path, compute=fake)
    assert done == calls_pairs(calls) == [(32, 1), (32, 0), (16, 1), (16, 0)]
    assert all(s == ("retrain",) for *_, s in calls)
    assert family_run.row_path(tmp_path, 16, 0) == tmp_path / "rows" / "h16_seed0.json"
    rows = _io.read_json(tmp_path / "results.json")
    assert [(r["width"], r["seed"]) for r in rows] == [(16, 0), (16, 1), (32, 0), (32, 1)]
    table = (tmp_path / "table.md").read_text()
    assert len([line for line in table.splitlines() if line.startswith("| 16 ")]) == 2
    assert "witness retrain" in table and "| 0.700 (50 % conv.) |" in table
    # the premise at the last stage's rate, and the rounds settling took (seed 1 only)
    assert table.count("| yes (0.10 at 0.001; not settled) |") == 2
    assert table.count("| yes (0.10 at 0.001; settled in 2) |") == 2
    assert "| 0.500 | 2.2 | 0.700 (50 % conv.) |" in table  # one-shot loss, reference, witness
    widths = {line.count("|") for line in table.splitlines() if line.startswith("|")}
    assert len(widths) == 1  # header, separator and rows have the same number of cells
    # a rerun with one more seed computes only the new rows, and keeps the old ones
    calls.clear()
    done = family_run.run([16, 32], [0, 1, 2], ["retrain"], directory=tmp_path, compute=fake)
    assert done == calls_pairs(calls) == [(16, 2), (32, 2)]
    rows = _io.read_json(tmp_path / "results.json")
    assert [(r["width"], r["seed"]) for r in rows] == [(16, 0), (16, 1), (16, 2), (32, 0),
                                                        (32, 1), (32, 2)]
    calls.clear()
    assert family_run.run([16, 32], [0, 1, 2], directory=tmp_path, compute=fake) == []
    assert calls == []


def calls_pairs(calls):
    return [(w, s) for w, s, _ in calls]


def test_runner_interrupted_keeps_finished_rows(tmp_path):
    def failing(width, seed, searches, witness_dir):
        if seed == 1:
            raise KeyboardInterrupt
        return _fake_row(width, seed, searches)

    with pytest.raises(KeyboardInterrupt):
        family_run.run([16], [0, 1], directory=tmp_path, compute=failing)
    assert family_run.row_path(tmp_path, 16, 0).exists()
    assert not family_run.row_path(tmp_path, 16, 1).exists()
    assert [p.name for p in (tmp_path / "rows").iterdir()] == ["h16_seed0.json"]  # no temp
    assert _io.read_json(tmp_path / "results.json")[0]["seed"] == 0
    calls = []
    family_run.run([16], [0, 1], directory=tmp_path,
                   compute=lambda w, s, x, d: calls.append((w, s)) or _fake_row(w, s, x))
    assert calls == [(16, 1)]


def test_resolution_is_the_widest_bracket_and_skips_missing_thresholds():
    row = _fake_row(16, 0, ("retrain", "imp"))
    assert family_run.resolution(row) == pytest.approx(0.03)
    row["oneshot"]["brackets"]["loss"] = [0.1, 0.2]
    assert family_run.resolution(row) == pytest.approx(0.1)
    row["oneshot"]["brackets"]["loss"] = None      # no one-shot loss threshold
    row["witness"]["imp"]["brackets"]["objective"] = [float("nan"), 1.0]  # no witness
    assert family_run.resolution(row) == pytest.approx(0.03)
    row["oneshot"]["brackets"] = {"accuracy": None, "loss": None}
    row["witness"] = {}
    assert family_run.resolution(row) is None


def test_command_reproduces_the_row_and_run_rejects_bad_input(tmp_path):
    assert family_run.command(16, 2, ("retrain", "imp")) == (
        "python -m experiments.scale_study.family_run --widths 16 --seeds 2 "
        "--searches retrain imp")
    assert family_run.command(64, 0, ("imp",), batch_size=32).endswith(
        "--searches imp --batch-size 32")
    assert family_run.out_directory() == family_run.OUT
    assert family_run.out_directory(32) == family_run.OUT / "batch32"
    assert family_run.out_directory(32, True) == family_run.OUT / "batch32-decay"
    assert family_run.out_directory(rate_decay=True) == family_run.OUT / "decay"
    assert family_run.out_directory(64, True, True) == (family_run.OUT
                                                        / "minibatch-trained-batch64-decay")
    assert family_run.out_directory(minibatch_training=True) == (family_run.OUT
                                                                 / "minibatch-trained")
    assert family_run.command(16, 1, ("retrain",), minibatch_training=True).endswith(
        "--searches retrain --minibatch-training")
    assert family_run.command(16, 1, ("retrain",), 64, True).endswith(
        "--searches retrain --batch-size 64 --rate-decay")
    never = lambda *a: pytest.fail("computed")  # noqa: E731
    for widths, seeds, searches in (([0], [0], ["retrain"]), ([16], [-1], ["retrain"]),
                                    ([16.5], [0], ["retrain"]), ([16], [0], ["model"])):
        with pytest.raises(ValueError):
            family_run.run(widths, seeds, searches, directory=tmp_path, compute=never)


def test_witness_searches_run_at_the_trainings_last_rate():
    options = family_run.search_options({"learning_rate": 3e-4}, 0.0078)
    assert options.learning_rate == 3e-4 and options.resolution == 0.0078
    assert options.stop == family_run.witnesses.SearchOptions().stop  # the default budget
    options.validate()
    assert options.batch_size is None  # full batch unless asked
    batched = family_run.search_options({"learning_rate": 3e-4}, 0.01, 64, True)
    assert batched.batch_size == 64 and batched.rate_decay and not options.rate_decay
    with pytest.raises(ValueError, match="learning_rate"):
        family_run.search_options({"learning_rate": 0.0}, 0.01).validate()


def test_training_goes_to_the_next_rate_only_while_the_premise_fails():
    # h = 6 (D = 264) with a short stop rule: the premise fails at 3e-3 (2000 fresh steps lower
    # F by 4.7 eps; 1.7 with the suite's unoptimised compilation) and holds at a later rate
    # (1e-3: 0.81; 3e-4 with the suite's compilation: 0.69), where training stops
    stop = stationarity.StopRule(max_steps=5000, window=1000, check_every=500)
    problem, training = family.recommended(6, seed=0, stop=stop)
    stages = training["stages"]
    assert 2 <= len(stages) < len(family.LEARNING_RATES)
    assert [s["learning_rate"] for s in stages] == list(family.LEARNING_RATES[:len(stages)])
    assert all(s["premise_decrease_in_epsilon"] > 1.0 for s in stages[:-1])
    assert stages[-1]["premise_decrease_in_epsilon"] <= 1.0
    assert training["learning_rate"] == problem.metadata["training"]["learning_rate"]
    assert training["learning_rate"] == stages[-1]["learning_rate"]
    assert training["steps"] == [sum(s["steps"] for s in stages)]
    # a single stage is trained without a premise check
    _, single = family.problem("multilabel", 6, ratio=family.RATIO, stop=stop,
                               learning_rates=(3e-3,))
    assert single["stages"] == [{"learning_rate": 3e-3, "steps": 5000, "converged": False}]


def test_training_options_replace_the_stages_with_one_recorded_run():
    options = train.TrainingOptions(steps=3000, batch_size=16, rate_decay=True)
    problem, training = family.recommended(6, seed=0, training=options)
    assert training["steps"] == [3000] and training["rule"].startswith("a fixed budget")
    [stage] = training["stages"]
    assert stage["batch_size"] == 16 and stage["rate_decay"] and stage["steps"] == 3000
    # the premise check, settling and searches then run at AFTER_MINIBATCH_RATE
    assert training["learning_rate"] == stage["after_rate"] == family.AFTER_MINIBATCH_RATE
    # the same run as train.minimise from the member's init with key(seed): its params
    arguments = family.recommended_arguments(6)
    (x, y), _ = family.make_data("multilabel", 6, family.RATIO, 0, 0.0, 0)
    by_hand = train.minimise(family.bce_loss, family.init("multilabel", 6,
                                                          key=jax.random.key(0)),
                             (x, y), l1=arguments["l1"], key=jax.random.key(0),
                             training=options).params
    for a, b in zip(jax.tree_util.tree_leaves(problem.seed(0)),
                    jax.tree_util.tree_leaves(by_hand), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-8)
    epsilon = family.training_epsilon(family.bce_loss, by_hand, (x, y), seed=0)
    assert stage["epsilon"] == pytest.approx(epsilon, rel=1e-6) and stage["seconds"] > 0
    stopped = train.check_stationarity(family.bce_loss, by_hand, (x, y), l1=arguments["l1"],
                                       learning_rate=family.AFTER_MINIBATCH_RATE,
                                       epsilon=epsilon)
    np.testing.assert_allclose(stage["premise_decrease_in_epsilon"],
                               stopped.decrease_in_epsilon, rtol=1e-4, atol=1e-6)


def test_settling_continues_the_member_until_the_fair_reference_holds():
    stop = stationarity.StopRule(max_steps=5000, window=1000, check_every=500)
    plain, trained = family.problem("multilabel", 6, ratio=family.RATIO, stop=stop,
                                    learning_rates=(3e-3,))
    problem, training = family.problem("multilabel", 6, ratio=family.RATIO, stop=stop,
                                       learning_rates=(3e-3,), horizon=3000)
    settling = training["settling"]
    decreases = [r["decrease_in_epsilon"] for r in settling["rounds"]]
    assert settling["settled"] and settling["max_steps"] == 3000 and len(decreases) >= 2
    assert all(d > 1 for d in decreases[:-1]) and decreases[-1] <= 1
    adopted = sum(r["steps"] for r in settling["rounds"][:-1])
    assert training["steps"] == [trained["steps"][0] + adopted]
    assert problem.metadata["training"]["settling"] == settling
    options = witnesses.SearchOptions(learning_rate=3e-3)
    for member, expected in ((plain, decreases[0]), (problem, decreases[-1])):
        ref = witnesses.reference(member, epsilon=settling["epsilon"], options=options,
                                  max_steps=3000)
        np.testing.assert_allclose(ref.decrease_in_epsilon[0], expected, rtol=1e-5)
    assert family_run.horizon(["retrain", "imp"]) == 40_000  # IMP: 4 rounds x 10 000 steps


@pytest.mark.parametrize("rates", [(), (3e-3, 0.0), (float("nan"),)])
def test_bad_learning_rates(rates):
    with pytest.raises(ValueError, match="learning_rates"):
        family.problem("multilabel", 6, ratio=family.RATIO, learning_rates=rates)


def test_family_plot_gaps_by_hand():
    from experiments.scale_study import family_plot
    rows = [_fake_row(16, 0, ["retrain"]), _fake_row(16, 1, ["retrain"]),
            _fake_row(32, 0, ["retrain"])]
    rows[1]["oneshot"]["accuracy"] = None
    dims, values, sizes, means = family_plot.series(rows, lambda r: r["oneshot"]["accuracy"])
    np.testing.assert_array_equal(sizes, [1024, 3072])
    assert np.isnan(values[1])
    np.testing.assert_allclose(means, [0.6, 0.6])  # the missing seed left out of the mean
    # formula 0.55, one-shot 0.6: kept 0.45 D predicted, 0.40 D measured -> 0.05 / 0.45
    np.testing.assert_allclose(family_plot.kept_gap(rows[:1], lambda r: r["oneshot"]["accuracy"]),
                               [0.05 / 0.45])


def test_limit_test_figure_takes_the_family_as_seed_means_by_hand(tmp_path):
    from experiments.limit_test import plot
    rows = [_fake_row(16, 0, ["retrain", "imp"]), _fake_row(16, 1, ["retrain", "imp"]),
            _fake_row(32, 0, ["retrain", "imp"])]
    rows[0]["witness"]["imp"]["ratio"] = 0.6  # seed means: imp (0.6 + 0.7) / 2
    rows[1]["witness"]["retrain"]["ratio"] = None  # left out of the mean, as limit_json
    rows[1]["formula"]["mean"] = 0.65
    rows[2]["witness"]["imp"]["ratio"] = None  # no seed of h = 32 has one
    documents = plot.family_documents(rows)
    assert [d["num_params"] for d in documents] == [1024, 3072]
    first, second = (d["limit"] for d in documents)
    assert first["witness_ratio"]["imp"]["mean"] == pytest.approx(0.65)
    assert first["witness_ratio"]["retrain"]["mean"] == pytest.approx(0.7)
    assert first["prediction"]["values"]["formula"] == pytest.approx(0.6)
    assert second["witness_ratio"]["imp"]["mean"] is None and first["window"] == 0.2
    path = plot.plots.limit_test(documents, tmp_path / "family.png")
    assert path.stat().st_size > 0


def test_the_committed_family_witnesses_hold():
    """Every committed witness of the h <= 32 rows (F <= F*_fair + eps, one per search) re-checks
    from its file on the member rebuilt from its seed (no training); the larger rows' files are
    checked the same way by ``budget_check``."""
    from experiments.scale_study import budget_check
    from phasetrans.applications import witness_file
    files = sorted(path for width in (16, 32) for path in
                   (family_run.OUT / "witnesses").glob(f"h{width}_seed*/*-objective.npz"))
    rows = {(r["width"], r["seed"]): r for r in _io.read_json(family_run.OUT / "results.json")}
    assert len(files) == sum(name.endswith("-objective.npz") for (h, s), r in rows.items()
                             if h <= 32 for name in r["witness_files"]) >= 6
    for path in files:
        width, seed = (int(part[1:]) for part in path.parent.name.replace("_seed", " s").split())
        like = family.init("multilabel", width, key=jax.random.key(seed))
        result = witness_file.check(path, budget_check.member(width, seed, like))
        assert result.holds, (path, [line for line in result.lines if line.startswith("FAILS")])


@pytest.mark.parametrize("size", ["0", "129"])
def test_batch_size_out_of_range_exits_2_before_training(size):
    # h = 16 has n = 128 training examples: a batch of 129 cannot be drawn
    done = subprocess.run([sys.executable, "-m", family_run.MODULE, "--widths", "16", "32",
                           "--batch-size", size], capture_output=True, text=True, timeout=120,
                          cwd=pathlib.Path(__file__).resolve().parents[1])
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().splitlines()[-1].endswith(
        f"--batch-size must be an integer from 1 to 128 (the smallest member's training "
        f"examples), got {size}")


@pytest.mark.slow
def test_scale_pipeline_benchmark_runs_quick():
    # the benchmark is not otherwise run by the suite (a renamed constant broke it unnoticed)
    out = subprocess.run([sys.executable, "benchmarks/bench_scale_pipeline.py", "--quick",
                          "--train-steps", "3", "--masked-steps", "3"],
                         cwd=pathlib.Path(__file__).resolve().parents[1],
                         capture_output=True, text=True, check=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    assert result["num_params"] == 3072 and result["slowest_stage"] in result[
        "row_seconds_extrapolated"]
    assert set(result["stages"]) == {"train_step", "train_step_batch", "hvp", "slq", "predict",
                                     "ellipsoid_levels", "masked_step", "sweep"}
    # a step on 64 of the n = 192 examples costs fewer FLOPs than a full-batch step
    assert result["stage_flops"]["train_step_batch"] < result["stage_flops"]["train_step"]


@pytest.mark.parametrize("flag", [["--batch-size", "0"], ["--batch-size", "5000"],
                                  ["--steps", "0"], ["--learning-rate", "nan"]])
def test_minibatch_training_refuses_bad_flags_before_training(flag):
    done = subprocess.run([sys.executable, "-m", "experiments.scale_study.minibatch_training",
                           *flag], cwd=pathlib.Path(__file__).resolve().parents[1],
                          capture_output=True, text=True)
    assert done.returncode == 2 and f"error: {flag[0]} must be" in done.stderr
