import json

import pytest

from phasetrans import cli


def _run(capsys, *argv):
    assert cli.main(["width", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_width_json_contract(capsys):
    out = _run(capsys, "l1-descent-cone", "--dim", "200", "--sparsity", "20", "--samples", "2000",
               "--seed", "1")
    assert set(out) >= {"body", "dim", "quantity", "estimate", "sem", "num_samples",
                        "closed_form", "closed_form_name", "seconds"}
    assert out["quantity"] == "statistical_dimension" and out["num_samples"] == 2000
    assert out["estimate"] <= out["closed_form"] + 4 * out["sem"]
    assert abs(out["estimate"] - out["closed_form"]) < 2.5


def test_ball_cone_reports_paper_approximation(capsys):
    out = _run(capsys, "ball-cone", "--dim", "100", "--radius", "1", "--distance", "2",
               "--samples", "2000")
    assert abs(out["estimate"] - out["closed_form"]) < 4 * out["sem"] + 0.15
    assert out["paper_approximation"] == pytest.approx(100 * 1 / 5)


def test_l2_ball_width(capsys):
    out = _run(capsys, "l2-ball", "--dim", "30", "--samples", "3000")
    assert out["quantity"] == "gaussian_width"
    assert abs(out["estimate"] - out["closed_form"]) < 4 * out["sem"]


def test_width_bad_arguments(capsys):
    assert cli.main(["width", "l1-descent-cone", "--dim", "10", "--sparsity", "11"]) == 2
    assert "--sparsity must be <= --dim (10), got 11" in capsys.readouterr().err
    assert cli.main(["width", "l2-ball", "--dim", "0"]) == 2
    assert "--dim must be >= 1" in capsys.readouterr().err
    assert cli.main(["width", "orthant", "--dim", "5", "--samples", "1"]) == 2
    assert "--samples must be >= 2" in capsys.readouterr().err
