"""The ``phasetrans`` command line: JSON contracts, readable output and one-line errors.

Every error case here fails before any training or sampling, so it costs no compute; the few
runs that train use tiny settings.
"""

import errno
import json
import pathlib
import types

import numpy as np
import pytest

from phasetrans import cli
from phasetrans.applications import compare, plots, report
from phasetrans.cli import cs as cli_cs
from phasetrans.cli import width as cli_width
from phasetrans.networks import train
from phasetrans.theory import predict

ERROR_CASES = {
    "width": [
        (["orthant", "--dim", "0"], "--dim must be >= 1"),
        (["orthant", "--dim", "1000000000000"], "--dim must be <= 100000000"),
        (["orthant", "--dim", "5", "--samples", "1"], "--samples must be >= 2"),
        (["orthant", "--dim", "5", "--seed", "-1"], "--seed must be >= 0"),
        (["orthant", "--dim", "5", "--seed", str(2**40)], "--seed must be <= 4294967295"),
        (["l1-descent-cone", "--dim", "10", "--sparsity", "11"], "--sparsity must be <= --dim"),
        (["subspace", "--dim", "10", "--sparsity", "0"], "--sparsity must be >= 1"),
        (["l1-descent-cone", "--dim", "10"], "needs --sparsity"),
        (["circular-cone", "--dim", "10", "--angle", "0"], "--angle must be > 0"),
        (["circular-cone", "--dim", "10", "--angle", "1.6"], "--angle must be <= pi/2"),
        (["circular-cone", "--dim", "10", "--angle", "nan"], "--angle must be a finite"),
        (["l2-ball", "--dim", "10", "--radius", "-1"], "--radius must be > 0"),
        (["ball-cone", "--dim", "10", "--distance", "inf"], "--distance must be a finite"),
        # flags that do not apply to the body
        (["l2-ball", "--dim", "10", "--sparsity", "3"], "--sparsity does not apply to l2-ball"),
        (["orthant", "--dim", "10", "--angle", "0.3"], "--angle does not apply to orthant"),
        (["l2-ball", "--dim", "10", "--distance", "3"], "--distance does not apply to l2-ball"),
        (["orthant", "--dim", "10", "--radius", "2"], "--radius does not apply to orthant"),
        (["subspace", "--dim", "10", "--radius", "2"], "--radius does not apply to subspace"),
        (["circular-cone", "--dim", "10", "--radius", "2"], "--radius does not apply"),
        (["l1-descent-cone", "--dim", "10", "--sparsity", "2", "--radius", "2"],
         "--radius does not apply"),
        # argparse's own errors are one line too
        (["orthant", "--dim", "x"], "argument --dim: invalid int value"),
        (["orthant"], "required: --dim"),
        (["orthant", "--dim", "5", "--bogus"], "unrecognized arguments: --bogus"),
        (["orthant", "--dim", "5", "--devices", "0"], "--devices: devices must be >= 1"),
        (["orthant", "--dim", "5", "--devices", "4096"], "--devices: devices must be <= 1"),
    ],
    "cs": [
        (["--dim", "10", "--grid", "50", "--trials", "1", "--seed", "0"], "--grid 50"),
        (["--dim", "20", "--grid", "12", "--trials", "1", "--seed", "0"],
         "use --grid <= 10"),
        (["--dim", "20", "--grid", "1", "--trials", "1", "--seed", "0"], "--grid must be >= 2"),
        (["--dim", "1", "--trials", "1", "--seed", "0"], "--dim must be >= 2"),
        (["--dim", "1000000000000", "--trials", "1", "--seed", "0"], "--dim must be <= 10000"),
        (["--dim", "20", "--trials", "0", "--seed", "0"], "--trials must be >= 1"),
        (["--dim", "20", "--trials", "1", "--seed", "0", "--depth", "3"],
         "--depth does not apply to --solver bp"),
        (["--dim", "20", "--trials", "1", "--seed", "0", "--init-scale", "0.1"],
         "--init-scale does not apply to --solver bp"),
        (["--dim", "20", "--trials", "1", "--seed", "0", "--iters", "10"],
         "--iters does not apply to --solver bp"),
        (["--dim", "20", "--trials", "1", "--seed", "0", "--solver", "overparam",
          "--init-scale", "-1"], "--init-scale must be > 0"),
        (["--dim", "20", "--trials", "1", "--seed", "0", "--solver", "overparam",
          "--depth", "1"], "--depth must be >= 2"),
        (["--dim", "20", "--trials", "1", "--seed", "0", "--solver", "overparam",
          "--iters", "0"], "--iters must be >= 1"),
        (["--dim", "20", "--trials", "1", "--seed", "0", "--solver", "lasso"],
         "argument --solver: invalid choice"),
    ],
    "predict": [
        (["--floor", "0"], "--floor must be > 0"),
        (["--floor", "nan"], "--floor must be a finite number"),
        (["--floor", "inf"], "--floor must be a finite number"),
        (["--l1", "-1"], "--l1 must be >= 0"),
        (["--l1", "inf"], "--l1 must be a finite number"),
        (["--seeds", "0"], "--seeds must be >= 1"),
        (["--steps", "0"], "--steps must be >= 1"),
        (["--seed", "-2"], "--seed must be >= 0"),
        (["--epsilon", "0"], "--epsilon must be > 0"),
        (["--epsilon", "nan"], "--epsilon must be a finite number"),
        (["--l1-body-max-dim", "-1"], "--l1-body-max-dim must be >= 0"),
        (["--l1-body-max-iters", "0"], "--l1-body-max-iters must be >= 1"),
        (["--no-monte-carlo", "--l1-body-max-dim", "10"],
         "--l1-body-max-dim does not apply with --no-monte-carlo"),
        (["--spectrum", "slq", "--l1-body-max-iters", "10"],
         "--l1-body-max-iters does not apply with --spectrum slq"),
        (["--spectrum", "slq", "--l1-body-max-dim", "10", "--l1-body-model-max-dim", "10"],
         "--l1-body-max-dim does not apply with --spectrum slq"),
        (["--l1-body-model-max-dim", "-1"], "--l1-body-model-max-dim must be >= 0"),
        (["--l1-body-samples", "1"], "--l1-body-samples must be >= 2"),
        (["--no-monte-carlo", "--l1-body-samples", "8"],
         "--l1-body-samples does not apply with --no-monte-carlo"),
        (["--l1-body-search", "newton"], "argument --l1-body-search: invalid choice"),
        (["--no-monte-carlo", "--l1-body-model-max-dim", "10"],
         "--l1-body-model-max-dim does not apply with --no-monte-carlo"),
        (["--params", "{tmp}/params.npz", "--steps", "10"], "--steps does not apply with --params"),
        (["--params", "{tmp}/params.npz", "--optimizer", "adam"],
         "--optimizer does not apply with --params"),
        (["--params", "{tmp}/params.npz", "--max-steps", "1000"],
         "--max-steps does not apply with --params"),
        (["--steps", "10", "--max-steps", "1000"], "--max-steps does not apply with --steps"),
        (["--max-steps", "700"], "--max-steps must be a multiple of 500"),
        (["--max-steps", "0"], "--max-steps must be >= 500"),
        (["--optimizer", "lbfgs"], "argument --optimizer: invalid choice"),
        (["--params", "{tmp}/missing.npz"], "--params '{tmp}/missing.npz' does not exist"),
        (["--params", "{tmp}"], "--params '{tmp}' is not a file"),
        (["--params", "{tmp}/junk.npz"], "--params: params file"),
        (["--params", "{tmp}/data.npz"], "--params: params file"),
        (["--figure", "{tmp}/fig.xyz"], "--figure '{tmp}/fig.xyz' must end in one of"),
        (["--figure", "{tmp}/fig"], "--figure '{tmp}/fig' must end in one of"),
        (["--figure", "{tmp}/no/fig.png"], "--figure '{tmp}/no/fig.png': directory"),
        (["--figure", "{tmp}/dir.png"], "--figure '{tmp}/dir.png' is a directory"),
        (["--save-params", "{tmp}/p.npy"], "--save-params '{tmp}/p.npy' must end in '.npz'"),
        (["--save-params", "{tmp}/no/p.npz"], "--save-params '{tmp}/no/p.npz': directory"),
        (["--data-file", "{tmp}/missing.npz"], "--data-file: data file"),
        (["--data-file", "{tmp}/junk.npz"], "--data-file: data file"),
        (["--data-file", "{tmp}/params.npz"], "--data-file: data file"),
        (["--data-file", "{tmp}/data.npz", "--dataset", "digits"],
         "--dataset and --data-file exclude each other"),
        (["--data-file", "{tmp}/one.npz"], "--data-file '{tmp}/one.npz' has 1 training example"),
        (["--arch", "8-x"], "--arch: arch must be"),
        (["--arch", "0"], "--arch: widths must be >= 1"),
        (["--arch", "100-100"], "use --spectrum slq"),
        (["--arch", "4", "--dataset", "imagenet"], "argument --dataset: invalid choice"),
        (["--searches", "retrain,bogus"], "--searches: unknown search 'bogus'"),
        (["--searches", "imp,imp"], "--searches lists a search twice"),
        (["--searches", "model", "--spectrum", "slq"], "not with --spectrum slq"),
        (["--search-max-steps", "500"], "--search-max-steps must be >= 1000"),
        (["--search-max-steps", "1100"], "--search-max-steps must be a multiple of 250"),
        (["--witness-dir", "{tmp}/nowhere"], "--witness-dir '{tmp}/nowhere' is not an existing"),
        (["--witness-dir", "{tmp}", "--searches", "none"], "--witness-dir needs a witness"),
    ],
    "check-witness": [
        (["{tmp}/nowhere.npz"], "file '{tmp}/nowhere.npz' does not exist"),
        (["{tmp}/junk.npz"], "is not a readable .npz archive"),
        (["{tmp}/params.npz"], "has no __metadata__ array: not a witness file"),
        (["{tmp}/data.npz", "--model", "x.py:y", "--data-file", "{tmp}/data.npz"],
         "--model and --data-file exclude each other"),
    ],
    "sweep": [
        (["--methods", "global,bogus"], "--methods: unknown method 'bogus'"),
        (["--methods", "global,global"], "--methods lists a method twice"),
        (["--methods", ""], "--methods: unknown method ''"),
        (["--arch", "cnn"], "--methods nettrim prunes dense ReLU layers, not --arch cnn"),
        (["--ratios", "1"], "--ratios must be >= 2"),
        (["--accuracy-tol", "-0.1"], "--accuracy-tol must be >= 0"),
        (["--nettrim-epsilon", "0"], "--nettrim-epsilon must be > 0"),
        (["--nettrim-epsilon", "1"], "--nettrim-epsilon is relative and must be < 1"),
        (["--nettrim-variant", "serial"], "argument --nettrim-variant: invalid choice"),
        (["--no-monte-carlo"], "unrecognized arguments: --no-monte-carlo"),
        (["--seeds", "0"], "--seeds must be >= 1"),
        (["--devices", "-1"], "--devices: devices must be >= 1"),
    ],
}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Inputs for the error cases: a junk file, a data file, a one-example data file, a params
    file of a different network, a directory named like a figure."""
    tmp = tmp_path_factory.mktemp("cli")
    (tmp / "junk.npz").write_bytes(b"not a zip archive")
    rng = np.random.default_rng(0)
    np.savez(tmp / "data.npz", x_train=rng.normal(size=(6, 5)), y_train=np.arange(6) % 2,
             x_test=rng.normal(size=(4, 5)), y_test=np.arange(4) % 2)
    np.savez(tmp / "one.npz", x_train=rng.normal(size=(1, 5)), y_train=np.array([1]),
             x_test=rng.normal(size=(4, 5)), y_test=np.arange(4) % 2)
    np.savez(tmp / "params.npz", leaf_0=np.zeros(3))
    (tmp / "dir.png").mkdir()
    return tmp


def _one_error_line(capsys, command: str) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert captured.out == "" and len(lines) == 1, captured.err
    assert lines[0].startswith(f"phasetrans {command}: error: ")
    assert "Traceback" not in captured.err
    return lines[0]


@pytest.mark.parametrize(("command", "argv", "expected"),
                         [(c, a, e) for c, cases in ERROR_CASES.items() for a, e in cases])
def test_bad_flags_fail_early_with_one_line_naming_the_flag(command, argv, expected, files,
                                                             capsys):
    argv = [a.replace("{tmp}", str(files)) for a in argv]
    assert cli.main([command, *argv, "--json"]) == 2
    assert expected.replace("{tmp}", str(files)) in _one_error_line(capsys, command)


def test_keyboard_interrupt_exits_130(monkeypatch, capsys):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_width, "run", interrupted)
    assert cli.main(["width", "orthant", "--dim", "5"]) == 130
    captured = capsys.readouterr()
    assert captured.err.strip() == "phasetrans width: interrupted" and captured.out == ""


def test_a_bug_keeps_its_traceback(monkeypatch):
    def broken(args):
        raise RuntimeError("a bug")

    monkeypatch.setattr(cli_cs, "run", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        cli.main(["cs", "--dim", "10", "--trials", "1", "--seed", "0"])


def test_predict_notes_replaced_outputs_before_computing(tmp_path, monkeypatch, capsys):
    figure, saved = tmp_path / "fig.png", tmp_path / "p.npz"
    figure.write_bytes(b"old")
    saved.write_bytes(b"old")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(train, "train_problem", interrupted)
    assert cli.main(["predict", "--arch", "4", "--figure", str(figure), "--save-params",
                     str(saved)]) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"phasetrans predict: --save-params {str(saved)!r} exists and will be replaced",
                   f"phasetrans predict: --figure {str(figure)!r} exists and will be replaced",
                   "phasetrans predict: interrupted"]
    assert figure.read_bytes() == b"old"


def test_predict_os_errors_are_reported_under_their_flag(tmp_path, monkeypatch, capsys):
    saved = str(tmp_path / "p.npz")

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    trained = types.SimpleNamespace(params=[], metadata=train.params_metadata(
        "digits", "mlp-64-4-10", 1e-4, 3, 0, None))
    monkeypatch.setattr(train, "train_problem", lambda *a, **k: trained)
    monkeypatch.setattr(train, "save_params", disk_full)
    assert cli.main(["predict", "--arch", "4", "--save-params", saved]) == 2
    assert _one_error_line(capsys, "predict").endswith("--save-params: No space left on device")

    class Done:
        warnings = ["seed 0: at chance"]

    figure = str(tmp_path / "fig.png")

    def denied(comparison, path):
        raise PermissionError(errno.EACCES, "Permission denied", path)

    monkeypatch.setattr(compare, "assess", lambda *a, **k: Done())
    monkeypatch.setattr(report, "comparison_json", lambda c: {})
    monkeypatch.setattr(plots, "width_curve", denied)
    assert cli.main(["predict", "--arch", "4", "--figure", figure]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == ["phasetrans predict: warning: seed 0: at chance",
                     f"phasetrans predict: error: --figure: Permission denied: {figure!r}"]


def test_help_shows_every_flag_with_its_default(capsys):
    parser = cli.build_parser()
    subparsers = next(a for a in parser._actions if a.choices and "predict" in a.choices)
    for name, sub in subparsers.choices.items():
        for action in sub._actions:
            if action.option_strings and action.dest != "help":
                text = action.help or ""
                assert "default" in text or action.required or action.default is not None, (
                    name, action.dest)
    assert cli.main(["predict", "--help"]) == 0
    out = capsys.readouterr().out
    flat = " ".join(out.split())
    for action in subparsers.choices["predict"]._actions:
        for option in action.option_strings:
            assert option in out
    assert flat.count("default") >= len(subparsers.choices["predict"]._actions) - 1
    defaults = predict.L1BodyOptions()
    assert f"at most {predict.MAX_EXACT_DIM} parameters" in flat
    assert f"(default: {defaults.max_dim})" in flat
    assert f"(default: {defaults.max_iters})" in flat
    assert cli.main(["width", "--help"]) == 0
    assert "half-angle in radians" in capsys.readouterr().out


def test_cli_values_and_defaults_are_the_library_ones():
    """The allowed values and defaults the commands' help states are retyped there (``--help``
    imports no JAX, the library modules do); each equals its source in the library."""
    import inspect

    from phasetrans.applications import attribution, methods
    from phasetrans.applications import cs as cs_library
    from phasetrans.cli import _network
    from phasetrans.cli import explain as cli_explain
    from phasetrans.cli import sweep as cli_sweep
    from phasetrans.networks import data, nettrim
    from phasetrans.theory import formula

    def defaults(function, *names):
        parameters = inspect.signature(function).parameters
        return tuple(parameters[name].default for name in names)

    assert _network.DATASETS == data.DATASETS
    assert _network.EIGEN_TREATMENTS == formula.EIGEN_TREATMENTS
    options = predict.PredictOptions()
    assert _network.PREDICTION_DEFAULTS == {"eigen_treatment": options.eigen_treatment,
                                            "floor": options.floor}
    assert _network.SPECTRUM_METHODS == predict.SPECTRUM_METHODS
    assert _network.SPECTRUM_METHODS[0] == predict.SpectrumOptions().method
    assert _network.L1_BODY_SEARCHES == predict.L1_BODY_SEARCHES
    l1_body = predict.L1BodyOptions()._asdict()
    assert _network.L1_BODY_DEFAULTS == {name: l1_body[name]
                                         for name in _network.L1_BODY_DEFAULTS}
    built_in = _network.PREDICT_DEFAULTS
    assert (built_in["dataset"], built_in["arch"], built_in["l1"]) == defaults(
        train.train_problem, "dataset", "arch", "l1")
    assert cli_cs.SOLVERS == cs_library.SOLVERS
    assert defaults(cs_library.success_grid, "solver") == (cli_cs.SOLVERS[0],)
    assert tuple(cli_cs.DEFAULTS.values()) == defaults(cs_library.overparam_gd, "depth",
                                                        "init_scale", "num_iters")
    assert cli_sweep.METHODS == methods.METHODS
    assert cli_sweep.NETTRIM_VARIANTS == nettrim.VARIANTS
    assert tuple(cli_sweep.DEFAULTS.values()) == defaults(
        methods.sweep_methods, "num_ratios", "accuracy_tol", "nettrim_epsilon", "nettrim_variant")
    assert cli_explain.DEFAULTS == {"accuracy_tol": attribution.AttributionOptions().accuracy_tol,
                                    "eta": defaults(attribution.attribute, "eta")[0]}


def test_width_prints_a_short_summary(capsys):
    assert cli.main(["width", "orthant", "--dim", "20", "--samples", "500"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert 3 <= len(lines) <= 4
    assert lines[0].startswith("statistical dimension of orthant in D = 20")
    assert "±" in lines[1] and "orthant_statdim" in lines[2] and "SEM" in lines[3]


def test_cs_prints_a_table(capsys):
    assert cli.main(["cs", "--dim", "8", "--trials", "2", "--grid", "2", "--seed", "0"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 5 and "theory m/d" in lines[1]
    assert lines[2].split()[0] == "0.250" and lines[3].split()[0] == "0.500"


def test_cli_predict_json_contract(tmp_path, capsys):
    figure = tmp_path / "fig.png"
    saved = tmp_path / "params.npz"
    status = cli.main(["predict", "--dataset", "digits", "--arch", "8", "--seeds", "2",
                       "--steps", "300", "--further-steps", "200", "--figure", str(figure),
                       "--save-params", str(saved), "--search-max-steps", "1000",
                       "--witness-dir", str(tmp_path),
                       "--l1-body-samples", "4", "--l1-body-search", "near_ellipsoid", "--json"])
    assert status == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert "replaced" not in captured.err
    for key in ["predicted_removal_ratio", "predicted_interval", "empirical_removal_ratio",
                "epsilon", "num_params", "spectrum", "sensitivity", "mc_prediction", "seconds"]:
        assert key in out
    lo, hi = out["predicted_interval"]
    assert 0 <= lo <= out["predicted_removal_ratio"] <= hi <= 1
    assert set(out["empirical_removal_ratio"]) >= {"accuracy", "loss"}
    assert out["mc_prediction"]["ellipsoid"]["converged"]
    l1 = out["mc_prediction"]["l1_body"]                 # D = 592 <= 3500: computed
    assert l1["converged"] and 0 <= l1["interval"][0] <= l1["removal_ratio"] <= l1["interval"][1]
    assert l1["num_samples"] == 4
    premise = out["stationarity"]  # 300 Adam steps: not a minimum of F, and said so
    assert premise["training"] == {"optimizer": "prox-adam", "learning_rate": 3e-3,
                                   "rule": "fixed budget of 300 steps", "steps": [300, 300],
                                   "converged": [False, False]}
    assert not premise["is_minimum"] and premise["max_decrease_in_epsilon"] > 1
    assert [s["decrease_in_epsilon"] > 1 for s in premise["per_seed"]] == [True, True]
    assert sum("w* is not a minimum of F" in w for w in out["warnings"]) == 2
    assert "w* is not a minimum of F" in captured.err
    assert figure.exists() and figure.stat().st_size > 10_000
    limit = out["limit"]  # the limit test: masked retraining, 2 seeds, a verdict
    assert limit["verdict"] in ("beaten beyond the window", "beaten within the window",
                                "not beaten by these searches")
    assert list(limit["witness_ratio"]) == ["retrain"] and limit["best_search"] == "retrain"
    retrained = limit["witness_ratio"]["retrain"]
    assert len(retrained["per_seed"]) == 2 and retrained["mean"] == limit["best_witness_ratio"]
    assert limit["prediction"]["value"] == pytest.approx(out["predicted_removal_ratio"])
    assert limit["window"] == pytest.approx(out["window"]["half_width"])
    assert "1000 steps" in limit["searches"]["retrain"]["stop"]
    written = limit["witness_files"]
    assert written and all(pathlib.Path(f).parent == tmp_path for f in written)
    assert cli.main(["check-witness", written[0]]) == 0
    assert capsys.readouterr().out.startswith(f"{written[0]}: the claim holds")
    # the saved parameters reproduce the same prediction without training
    assert cli.main(["predict", "--arch", "8", "--seeds", "2", "--params", str(saved),
                     "--further-steps", "200", "--no-monte-carlo", "--figure", str(figure),
                     "--searches", "none", "--json"]) == 0
    captured = capsys.readouterr()
    again = json.loads(captured.out)
    assert again["predicted_per_seed"] == out["predicted_per_seed"]
    assert f"--figure {str(figure)!r} exists and will be replaced" in captured.err
    # a params file of another network fails before anything is computed
    assert cli.main(["predict", "--arch", "16", "--seeds", "2", "--params", str(saved)]) == 2
    line = _one_error_line(capsys, "predict")
    assert "--params: " in line and "arch" in line


def test_cli_predict_bad_arch(capsys):
    assert cli.main(["predict", "--arch", "8-x", "--json"]) == 2
    assert "arch must be" in capsys.readouterr().err


def test_predict_warns_about_a_dead_network(capsys):
    assert cli.main(["predict", "--arch", "4", "--l1", "10", "--steps", "100", "--seeds", "1",
                     "--further-steps", "100", "--no-monte-carlo", "--searches", "none",
                     "--json"]) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    warnings = [line for line in captured.err.splitlines()
                if line.startswith("phasetrans predict: warning: ")]
    assert warnings and "chance" in warnings[0]
    assert len(warnings) == len(out["warnings"]) == 1 and out["seconds"] > 0


def test_predict_epsilon_allows_a_one_example_training_set(files, capsys):
    assert cli.main(["predict", "--data-file", str(files / "one.npz"), "--arch", "4",
                     "--seeds", "1", "--steps", "20", "--further-steps", "100",
                     "--no-monte-carlo", "--epsilon", "0.05", "--searches", "none",
                     "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["epsilon"] == pytest.approx(0.05)
    assert out["epsilon_meaning"] == "given by the user"


def test_cli_sweep_json_contract(tmp_path, capsys):
    figure = tmp_path / "methods.png"
    status = cli.main(["sweep", "--arch", "8", "--seeds", "2", "--steps", "300",
                       "--further-steps", "100", "--ratios", "11", "--methods",
                       "global,random,nettrim", "--figure", str(figure), "--searches", "none",
                       "--json"])
    assert status == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out["methods"]) == ["global", "random", "nettrim"]
    lo, hi = out["predicted"]["interval"]
    assert 0 <= lo <= out["predicted"]["removal_ratio"] <= hi <= 1
    assert out["window"]["half_width"] > 0 and out["num_params"] == 64 * 8 + 8 * 10
    for name, entry in out["methods"].items():
        points = entry["points"]
        assert [q["removal_ratio"] for q in points] == pytest.approx(np.linspace(0, 1, 11))
        for q in points:
            assert set(q) >= {"removal_ratio", "effective_removal_ratio", "test_accuracy",
                              "train_loss"}
            # floor(p D) entries removed (nettrim: floor(p n_l) per layer): 2 / D below p
            assert q["effective_removal_ratio"] >= q["removal_ratio"] - 2 / 592, name
        assert points[0]["effective_removal_ratio"] == 0.0
        assert points[-1]["effective_removal_ratio"] == 1.0
        assert len(entry["threshold_per_seed"]) == 2
        if entry["threshold"] is not None:
            assert entry["effective_threshold"] >= entry["threshold"] - 2 / 592
    assert "converged" in out["methods"]["nettrim"] and "converged" not in out["methods"]["global"]
    assert out["limit"] is None
    assert figure.exists() and figure.stat().st_size > 10_000
    assert cli.main(["sweep", "--arch", "8", "--seeds", "1", "--steps", "300",
                     "--further-steps", "100", "--ratios", "3", "--methods", "global",
                     "--searches", "none"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "Is the prediction a limit? Not tested (--searches none)."
    assert lines[1].startswith("global pruning removes the most before test accuracy drops")
    assert "predicted (width formula)" in lines[3] and lines[6].split()[0] == "global"
    assert "PREMISE FAILS" in lines[7]  # 300 Adam steps are not a minimum of F


USER_MODEL = '''
import jax.numpy as jnp

from phasetrans.networks import data
from phasetrans.networks.problem import Problem

ds = data.load("digits")
SETS = {"train": (ds.x_train[:400], ds.y_train[:400]), "test": (ds.x_test, ds.y_test)}


def apply(p, x):
    return x @ p["w"] + p["b"]


params = {"w": 0.01 * jnp.cos(jnp.arange(640.0)).reshape(64, 10), "b": jnp.zeros(10)}
problem = Problem.from_apply(apply, params, l1=1e-3, **SETS)
not_a_problem = 3


def make():
    return problem


def broken():
    raise RuntimeError("boom\\nsecond line")


def bad_data():
    return Problem.from_apply(apply, params, l1=1e-3, train=(ds.x_train[:, :10], ds.y_train),
                              test=SETS["test"])


def step_counter():
    return Problem.from_apply(apply, {**params, "step": jnp.asarray(1)}, l1=1e-3, **SETS)
'''


@pytest.fixture(scope="module")
def user_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "mine.py"
    path.write_text(USER_MODEL)
    (path.parent / "syntax.py").write_text("def broken(:\n")
    return path


def test_predict_and_sweep_take_a_users_model(user_model, capsys):
    for name in ("problem", "make"):
        assert cli.main(["predict", "--model", f"{user_model}:{name}", "--no-monte-carlo",
                         "--further-steps", "50", "--seeds", "1", "--json"]) == 2  # not --seeds
        assert "--seeds does not apply with --model" in _one_error_line(capsys, "predict")
        assert cli.main(["predict", "--model", f"{user_model}:{name}", "--no-monte-carlo",
                         "--further-steps", "50", "--searches", "none", "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["num_params"] == 640 and out["dataset"] == "user data"
        assert out["stationarity"]["training"]["rule"] == "yours (from_apply)"
    witness_dir = user_model.parent / "witnesses"
    witness_dir.mkdir()
    assert cli.main(["sweep", "--model", f"{user_model}:make", "--further-steps", "50",
                     "--ratios", "3", "--methods", "global,random", "--search-max-steps",
                     "1000", "--witness-dir", str(witness_dir), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out["methods"]) == ["global", "random"]
    # a witness of your model: checked with your model's Problem, not a built-in network
    written = out["limit"]["witness_files"]
    assert written and out["limit"]["best_witness_ratio"] is not None
    assert cli.main(["check-witness", written[0], "--model", f"{user_model}:make"]) == 0
    assert "the claim holds" in capsys.readouterr().out
    assert cli.main(["check-witness", written[0]]) == 2  # no built-in network named in it
    assert "does not name a built-in dataset" in _one_error_line(capsys, "check-witness")


@pytest.mark.parametrize(("model", "message"), [
    ("{dir}/none.py:problem", "--model '{dir}/none.py' does not exist"),
    ("{dir}/mine.py", "--model must be FILE.py:NAME"),
    ("{dir}/mine.py:missing", "defines no 'missing' (it defines Problem, SETS, apply, "),
    ("{dir}/mine.py:not_a_problem", "not_a_problem is a int, not a phasetrans.Problem"),
    ("{dir}/mine.py:broken", "broken() raised RuntimeError: boom"),
    ("{dir}/mine.py:bad_data", "bad_data() raised ValueError: the model does not evaluate the "
                               "train data"),
    ("{dir}/mine.py:step_counter", "step_counter() raised TypeError: params['step'] has dtype "
                                   "int32"),
    ("{dir}/syntax.py:broken", "running {dir}/syntax.py raised SyntaxError"),
])
def test_model_errors_are_one_line_naming_the_file(user_model, capsys, model, message):
    directory = str(user_model.parent)
    assert cli.main(["predict", "--model", model.format(dir=directory)]) == 2
    line = _one_error_line(capsys, "predict")
    assert message.format(dir=directory) in line, line


def test_model_excludes_the_built_in_flags(user_model, capsys):
    for flags in (["--arch", "16"], ["--dataset", "digits"], ["--l1", "0.1"],
                  ["--steps", "10"], ["--params", "p.npz"]):
        assert cli.main(["predict", "--model", f"{user_model}:make", *flags]) == 2
        assert f"{flags[0]} does not apply with --model" in _one_error_line(capsys, "predict")


def test_help_answers_without_importing_jax():
    import subprocess
    import sys

    code = ("import sys\nfrom phasetrans import cli\n"
            "for argv in (['--help'], ['predict', '--help'], ['explain', '--help'], "
            "['sweep', '--help'], ['check-witness', '--help'], ['width', '--help'], "
            "['cs', '--help']):\n"
            "    assert cli.main(argv) == 0\n"
            "assert 'jax' not in sys.modules, 'jax imported'\n"
            "import phasetrans\n"
            "assert phasetrans.Problem.__name__ == 'Problem' and 'jax' in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
