import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from phasetrans import cli, data, nets, prune, threshold, train


@pytest.fixture(scope="module")
def trained():
    ds = data.load("digits")
    net = nets.mlp([64, 8, 10])
    params = train.train(net, ds, key=jax.random.key(0), steps=300, l1=1e-4).params
    return net, ds, params


def test_predict_exact_equals_manual_pipeline(trained):
    net, ds, params = trained
    loss_fn = nets.cross_entropy(net.apply)
    pred = threshold.predict(params, loss_fn, (ds.x_train, ds.y_train), key=jax.random.key(1),
                             epsilon=0.01, mc_max_dim=0, l1_max_dim=0)
    flat, unravel = ravel_pytree(params)
    hessian = jax.hessian(lambda w: loss_fn(unravel(w), (ds.x_train, ds.y_train)))(flat)
    idx = np.flatnonzero(prune.prunable_flat_mask(params))
    lam = np.linalg.eigvalsh(np.asarray(hessian, np.float64)[np.ix_(idx, idx)])
    assert pred.num_params == idx.size == 64 * 8 + 8 * 10
    # float32 HVP columns vs jax.hessian: eigenvalues within ~1e-6 of 0 may flip sign
    assert abs(pred.spectrum["num_negative"] - int(np.sum(lam < 0))) <= int(
        np.sum(np.abs(lam) < 1e-5))
    assert pred.spectrum["trace"] == pytest.approx(lam.sum(), rel=1e-4)
    assert pred.spectrum["max_eigenvalue"] == pytest.approx(lam.max(), rel=1e-4)
    grid = np.linspace(0, 1, 1001)
    distances = [float(prune.pruned_distance(params, p)) for p in grid]
    manual = threshold.formula_prediction(lam[None], np.full((1, lam.size), 1 / lam.size),
                                          removal_ratios=grid, distances=distances,
                                          epsilon=0.01)
    assert pred.formula.removal_ratio == pytest.approx(manual.removal_ratio, abs=2e-3)
    assert pred.monte_carlo is None and pred.l1_body is None
    assert len(pred.sensitivity) == 12


def test_predict_slq_interval_is_near_exact(trained):
    net, ds, params = trained
    loss_fn = nets.cross_entropy(net.apply)
    kw = dict(key=jax.random.key(2), epsilon=0.01, mc_max_dim=0)
    exact = threshold.predict(params, loss_fn, (ds.x_train, ds.y_train), **kw)
    slq = threshold.predict(params, loss_fn, (ds.x_train, ds.y_train), spectrum_method="slq",
                            num_probes=16, num_iters=60, **kw)
    lo, hi = slq.formula.interval
    assert lo - 0.02 <= exact.formula.removal_ratio <= hi + 0.02
    assert slq.spectrum["trace"]["estimate"] == pytest.approx(exact.spectrum["trace"], rel=0.2)


def test_monte_carlo_fixed_point_for_a_ball():
    # Ball of radius r (all eigenvalues 2 eps / r^2) at distance R(p) = a p:
    # delta/D ~ r^2 / R^2 = p  =>  p^3 = r^2 / a^2.
    dim, r, a, eps = 400, 0.5, 2.0, 0.5
    grid = np.linspace(0.3, 0.6, 13)
    parts = np.zeros((grid.size, dim))
    parts[:, 0] = a * grid
    mc = threshold.monte_carlo_prediction(jnp.full(dim, 2 * eps / r**2), jnp.eye(dim), parts,
                                          grid, epsilon=eps, key=jax.random.key(0),
                                          num_samples=200)
    assert mc.converged
    expected = (r**2 / a**2) ** (1 / 3)
    assert mc.interval[0] - 0.01 <= expected <= mc.interval[1] + 0.01
    assert mc.removal_ratio == pytest.approx(expected, abs=0.02)


def test_predict_bad_input(trained):
    net, ds, params = trained
    loss_fn = nets.cross_entropy(net.apply)
    d = (ds.x_train, ds.y_train)
    with pytest.raises(ValueError, match="spectrum_method must be one of"):
        threshold.predict(params, loss_fn, d, key=jax.random.key(0), spectrum_method="full")
    with pytest.raises(ValueError, match="epsilon must be > 0"):
        threshold.predict(params, loss_fn, d, key=jax.random.key(0), epsilon=-1.0)
    bad = jax.tree_util.tree_map(lambda w: w * jnp.nan, params)
    with pytest.raises(ValueError, match="params.*NaN"):
        threshold.predict(bad, loss_fn, d, key=jax.random.key(0))


def test_cli_predict_json_contract(tmp_path, capsys):
    figure = tmp_path / "fig.png"
    saved = tmp_path / "params.npz"
    status = cli.main(["predict", "--dataset", "digits", "--arch", "8", "--seeds", "2",
                       "--steps", "300", "--figure", str(figure), "--save-params", str(saved),
                       "--json"])
    assert status == 0
    out = json.loads(capsys.readouterr().out)
    for key in ["predicted_removal_ratio", "predicted_interval", "empirical_removal_ratio",
                "epsilon", "num_params", "spectrum", "sensitivity", "mc_prediction", "seconds"]:
        assert key in out
    lo, hi = out["predicted_interval"]
    assert 0 <= lo <= out["predicted_removal_ratio"] <= hi <= 1
    assert set(out["empirical_removal_ratio"]) >= {"accuracy", "loss"}
    assert out["mc_prediction"]["ellipsoid"]["converged"]
    l1 = out["mc_prediction"]["l1_body"]                 # D = 592 <= 1500: computed
    assert l1["converged"] and 0 <= l1["interval"][0] <= l1["removal_ratio"] <= l1["interval"][1]
    assert figure.exists() and figure.stat().st_size > 10_000
    # the saved parameters reproduce the same prediction without training
    assert cli.main(["predict", "--arch", "8", "--seeds", "2", "--params", str(saved),
                     "--no-monte-carlo", "--figure", str(figure), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["predicted_per_seed"] == out["predicted_per_seed"]
    assert cli.main(["predict", "--arch", "16", "--seeds", "2", "--params", str(saved)]) == 2
    assert "leaf shapes" in capsys.readouterr().err


def test_cli_predict_bad_arch(capsys):
    assert cli.main(["predict", "--arch", "8-x", "--json"]) == 2
    assert "arch must be" in capsys.readouterr().err
