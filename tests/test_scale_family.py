"""The scale-study family of issue 26 (experiments/scale_study/family.py): data, loss, sizes."""

import jax
import numpy as np
import pytest

from experiments.scale_study import family


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
    assert float(family.bce_loss(params, (x, y))) == pytest.approx(np.log(2.0), rel=1e-6)
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
