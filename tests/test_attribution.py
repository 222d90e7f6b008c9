"""The attribution ladder: crossings and stages on hand values, and the pipeline end to end."""

import json
import types

import jax
import numpy as np
import pytest

from phasetrans import _io, cli
from phasetrans.applications import attribution, compare, report
from phasetrans.cli import _network
from phasetrans.estimate import SolverInfo
from phasetrans.geometry import closed_forms
from phasetrans.networks import train
from phasetrans.theory import predict


def test_crossing_interpolates_the_half_point():
    p = np.array([0.1, 0.2, 0.3, 0.4, 0.5])
    f = np.array([1.0, 1.0, 0.8, 0.4, 0.0])
    # f - 1/2 goes from +0.3 at p = 0.3 to -0.1 at p = 0.4: crossing at 0.3 + 0.1 * 0.75
    assert attribution._crossing(p, f) == pytest.approx(0.375)
    assert attribution._crossing(p, np.ones(5)) == 1.0          # never drops: prunable to the end
    assert attribution._crossing(p, np.zeros(5)) == pytest.approx(0.1)


def _hand_attribution(values: dict, dim=100):
    thresholds = {name: attribution.Threshold(None, [], None, "not computed")
                  for name in attribution.THRESHOLDS}
    for name, value in values.items():
        thresholds[name] = attribution._summary([value])
    return attribution.Attribution(None, thresholds, closed_forms.theory_window(dim), {}, 1.0)


def test_stages_on_hand_values():
    a = _hand_attribution({"formula": 0.60, "mc_ellipsoid": 0.65, "support_ellipsoid": 0.50,
                           "oneshot_F": 0.4, "oneshot_L": 0.38}, dim=10_000)  # window 0.059
    rows = {(r["from"], r["to"]): r for r in attribution.stages(a)}
    assert len(rows) == len(attribution.STAGES)
    first = rows[("formula", "mc_ellipsoid")]
    assert first["difference"] == pytest.approx(0.05) and first["within_window"]
    assert rows[("oneshot_F", "oneshot_L")]["difference"] == pytest.approx(-0.02)
    missing = rows[("mc_ellipsoid", "random_subspace_ellipsoid")]
    assert missing["difference"] is None and missing["reason"] == "not computed"
    wide = _hand_attribution({"formula": 0.60, "mc_ellipsoid": 0.75}, dim=10_000)
    assert not attribution.stages(wide)[0]["within_window"]          # 0.15 > 0.059


def test_summary_of_per_seed_values():
    t = attribution._summary([0.5, np.nan, 0.7], [(0.4, 0.6), (np.nan, np.nan), (0.6, 0.9)])
    assert t.mean == pytest.approx(0.6) and t.per_seed == [0.5, None, 0.7]
    assert t.interval == (0.4, 0.9)
    assert attribution._summary([np.nan]).mean is None


@pytest.fixture(scope="module")
def small_attribution():
    comparison = compare.compare(
        "digits", arch="8", l1=1e-4, num_seeds=2, training=train.TrainingOptions(steps=300),
        options=predict.PredictOptions(
            ellipsoid_options=predict.EllipsoidOptions(num_ratios=5, num_samples=16),
            l1_body_options=predict.L1BodyOptions(max_dim=0)),
        assessment=compare.AssessOptions(further_steps=200))
    options = attribution.AttributionOptions(num_ratios=21, subspace_ratios=5, num_subspaces=8,
                                             l1_num_subspaces=2, retrain_ratios=11,
                                             retrain_steps=100)
    return attribution.attribute(comparison, key=jax.random.key(0), options=options)


def test_attribute_end_to_end(small_attribution):
    a = small_attribution
    assert tuple(a.thresholds) == attribution.THRESHOLDS
    assert a.thresholds["mc_l1_body"].reason is not None             # switched off above
    for name in ("formula", "mc_ellipsoid", "random_subspace_ellipsoid", "support_ellipsoid",
                 "support_l1_body", "retrain_F", "oneshot_F", "oneshot_L"):
        t = a.thresholds[name]
        assert t.reason is None and len(t.per_seed) == 2, name
        assert 0.0 <= t.interval[0] <= t.mean <= t.interval[1] <= 1.0, name
    # retraining keeps the best iterate, starting from x_p: F can only go down, so the
    # F-criterion passes at least wherever the one-shot point passes (first-failure rule)
    for retrained, oneshot in zip(a.thresholds["retrain_F"].per_seed,
                                  a.thresholds["oneshot_F"].per_seed, strict=True):
        assert retrained >= oneshot
    assert a.window.half_width == pytest.approx(5.9208 / np.sqrt(a.comparison.predictions[0]
                                                                 .num_params), rel=1e-4)
    document = json.loads(_io.dumps(report.attribution_json(a)))
    assert set(document["thresholds"]) == set(attribution.THRESHOLDS)
    assert document["thresholds"]["mc_l1_body"] is None and "mc_l1_body" in document["missing"]
    assert set(document["window"]) == {"eta", "a_eta", "half_width"}
    assert len(document["stages"]) == len(attribution.STAGES)
    assert any("ladder" in line for line in report.attribution_lines(document))


def test_cli_explain_rejects_bad_flags_before_training(capsys):
    assert cli.main(["explain", "--eta", "1.5"]) == 2
    assert "--eta must be < 1" in capsys.readouterr().err
    assert cli.main(["explain", "--subspaces", "1"]) == 2
    assert "--subspaces must be >= 2" in capsys.readouterr().err
    assert cli.main(["explain", "--retrain-ratios", "1"]) == 2
    assert "--retrain-ratios must be >= 2" in capsys.readouterr().err


@pytest.mark.parametrize("flags", [[], ["--retrain-sequential"]])
def test_cli_explain_passes_its_retrain_flags(flags, monkeypatch):
    seen = {}

    def stop(comparison, *, options, **kwargs):
        seen["options"] = options
        raise KeyboardInterrupt

    class Trained:
        warnings = ()

    monkeypatch.setattr(train, "train_problem", lambda *args, **kwargs: None)
    monkeypatch.setattr(compare, "assess", lambda *args, **kwargs: Trained())
    monkeypatch.setattr(attribution, "attribute", stop)
    assert cli.main(["explain", "--retrain-ratios", "11", *flags]) == 130
    assert seen["options"].retrain_ratios == 11
    assert seen["options"].retrain_sequential is bool(flags)
    # unset, the costs are the library's (AttributionOptions), never retyped
    assert cli.main(["explain", *flags]) == 130
    library = attribution.AttributionOptions()
    assert (seen["options"].retrain_ratios, seen["options"].retrain_steps,
            seen["options"].num_subspaces) == (library.retrain_ratios, library.retrain_steps,
                                               library.num_subspaces)


def test_cli_searches_are_the_library_ones():
    assert _network.L1_BODY_SEARCHES == predict.L1_BODY_SEARCHES


def test_bad_options(small_attribution):
    with pytest.raises(TypeError, match="options must be a phasetrans.applications.attribution"):
        attribution.attribute(small_attribution.comparison, key=jax.random.key(0),
                              options={"num_ratios": 3})
    with pytest.raises(TypeError, match="key is required"):
        attribution.attribute(small_attribution.comparison, key=None)


def test_l1_support_can_be_skipped_with_a_reason(small_attribution):
    options = attribution.AttributionOptions(num_ratios=11, subspace_ratios=3, num_subspaces=4,
                                             l1_max_dim=0, retrain_ratios=5, retrain_steps=10,
                                             l1_support_max_dim=0)
    a = attribution.attribute(small_attribution.comparison, key=jax.random.key(0),
                              options=options)
    assert a.thresholds["support_l1_body"].reason == (
        "not computed: the exact feasibility of the l1-induced body on each support is turned "
        "off (AttributionOptions.l1_support_max_dim = 0)")
    assert attribution._too_large("a step", 592, 500, "l1_max_dim") == (
        "not computed: a step is limited to networks of at most 500 prunable weights "
        "(AttributionOptions.l1_max_dim); this one has 592")
    lines = report.attribution_lines(report.attribution_json(a))
    oneshot = a.thresholds["oneshot_accuracy"].mean
    assert lines[0].startswith(f"one-shot pruning kept test accuracy up to removing "
                               f"{100 * oneshot:.0f} % of the weights; the theory predicts ")
    assert lines[1].endswith(f"{100 * a.retrain_converged:.0f} % of the retraining runs "
                             "converged")
    assert a.thresholds["support_ellipsoid"].reason is None
    stages = {s["from"] + ">" + s["to"]: s for s in attribution.stages(a)}
    assert stages["support_ellipsoid>support_l1_body"]["difference"] is None


def test_ladders_wrap_into_rows(tmp_path):
    """Seven configurations: two rows of at most six ladders (the PNG is twice as tall as one
    row's), missing thresholds (None) are skipped."""
    import matplotlib.image

    from phasetrans.applications import plots

    def document(i):
        mean = 0.1 * (i % 9)
        thresholds = {name: {"mean": mean, "interval": [mean - 0.05, mean + 0.05]}
                      for name in attribution.THRESHOLDS}
        thresholds["mc_l1_body"] = None
        return {"dataset": "digits", "arch": f"mlp-{i}", "l1": 1e-4, "num_params": 100,
                "thresholds": thresholds, "window": {"half_width": 0.1}}

    one = matplotlib.image.imread(plots.ladders([document(0)], tmp_path / "one.png"))
    seven = matplotlib.image.imread(plots.ladders([document(i) for i in range(7)],
                                                  tmp_path / "seven.png"))
    assert seven.shape[0] == pytest.approx(2 * one.shape[0], rel=0.02)
    assert seven.shape[1] == pytest.approx(one.shape[1] * (6 * 3.2 + 1.5) / (3.2 + 1.5), rel=0.02)


def test_random_subspace_interval_is_at_least_half_a_grid_step(monkeypatch):
    """A sharp transition (fractions 1 then 0, no sampling spread) is located to the grid
    only: the interval keeps half a step on each side instead of collapsing on the centre."""
    ratios = np.linspace(0.552, 0.952, 9)  # step 0.05
    fractions = np.array([1, 1, 1, 1, 0.5, 0, 0, 0, 0], float)
    # one result per apex, indexed by subspace dimension k (ascending: p descending)
    sharp = types.SimpleNamespace(fraction=types.SimpleNamespace(mean=fractions[::-1],
                                                                 sem=np.zeros(9)),
                                  info=SolverInfo(1, 0.0, True))
    monkeypatch.setattr(attribution.subspaces, "transitions",
                        lambda body, apexes, **kwargs: [sharp] * len(apexes))
    dim = 1000
    value, (lo, hi), _ = attribution._subspace_threshold(
        None, np.zeros((9, dim)), ratios, key=jax.random.key(0), num_subspaces=4, dim=dim)
    assert value == pytest.approx(0.752)
    assert lo == pytest.approx(0.727) and hi == pytest.approx(0.777)


def test_an_unconverged_threshold_is_marked_and_never_starred(small_attribution):
    a = small_attribution
    formula = a.thresholds["formula"]
    far = attribution.Threshold(formula.mean + 0.5, [formula.mean + 0.5] * 2,
                                (formula.mean + 0.4, formula.mean + 0.6), converged=False)
    marked = a._replace(thresholds={**a.thresholds, "mc_ellipsoid": far})
    row = next(r for r in attribution.stages(marked) if r["to"] == "mc_ellipsoid")
    assert row["difference"] == pytest.approx(0.5)
    assert row["within_window"] is None and row["unconverged"] == ["mc_ellipsoid"]
    document = report.attribution_json(marked)
    assert document["thresholds"]["mc_ellipsoid"]["converged"] is False
    lines = "\n".join(report.attribution_lines(document))
    assert "(its solver did not converge: not certified)" in lines
    assert "+0.500 (not judged: mc_ellipsoid did not converge)" in lines
    # converged solvers are said so; thresholds without a solver say nothing
    assert a.thresholds["support_ellipsoid"].converged is True
    assert a.thresholds["formula"].converged is None


def test_plain_first_line_by_hand():
    assert report.plain_line(0.66, 0.74, (0.64, 0.84)) == (
        "one-shot pruning kept test accuracy up to removing 66 % of the weights; the theory "
        "predicts 74 % (64 % to 84 %)")
    assert report.plain_line(None, 0.5, (0.4, 0.6)).startswith(
        "one-shot pruning lost test accuracy at the first removal ratio tried; ")
