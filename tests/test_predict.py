import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from phasetrans.networks import data, nets, prune, spectrum, train
from phasetrans.theory import formula, predict


def _predict(params, loss_fn, data_, *, key, l1=None, **options):
    """predict.predict with its options as keywords of PredictOptions."""
    return predict.predict(params, loss_fn, data_, key=key, l1=l1,
                           options=predict.PredictOptions(**options))


@pytest.fixture(scope="module")
def trained():
    ds = data.load("digits")
    net = nets.mlp([64, 8, 10])
    params = train.train(net, ds, key=jax.random.key(0), steps=300, l1=1e-4).params
    return net, ds, params


def test_predict_exact_equals_manual_pipeline(trained):
    net, ds, params = trained
    loss_fn = nets.cross_entropy(net.apply)
    pred = _predict(params, loss_fn, (ds.x_train, ds.y_train), key=jax.random.key(1),
                           epsilon=0.01, ellipsoid_options=predict.EllipsoidOptions(max_dim=0),
                           l1_body_options=predict.L1BodyOptions(max_dim=0))
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
    manual = formula.formula_prediction(lam[None], np.full((1, lam.size), 1 / lam.size),
                                          removal_ratios=grid, distances=distances,
                                          epsilon=0.01)
    assert pred.formula.removal_ratio == pytest.approx(manual.removal_ratio, abs=2e-3)
    assert pred.ellipsoid is None and pred.l1_body is None
    assert len(pred.sensitivity) == 12


def test_predict_slq_interval_is_near_exact(trained):
    net, ds, params = trained
    loss_fn = nets.cross_entropy(net.apply)
    kw = dict(key=jax.random.key(2), epsilon=0.01, l1=1e-4,
              ellipsoid_options=predict.EllipsoidOptions(max_dim=0))
    exact = _predict(params, loss_fn, (ds.x_train, ds.y_train), **kw)
    slq = _predict(params, loss_fn, (ds.x_train, ds.y_train),
                          spectrum_options=predict.SpectrumOptions("slq", num_probes=16,
                                                                   num_iters=60), **kw)
    lo, hi = slq.formula.interval
    assert lo - 0.02 <= exact.formula.removal_ratio <= hi + 0.02
    assert slq.spectrum["trace"]["estimate"] == pytest.approx(exact.spectrum["trace"], rel=0.2)
    for name in ("num_negative", "num_near_zero"):   # the exact counts lie in the SLQ bracket
        bounds = slq.spectrum[name + "_bounds"]
        low, high = bounds["low"], bounds["high"]
        assert (low["estimate"] - 3 * low["sem"] <= exact.spectrum[name]
                <= high["estimate"] + 3 * high["sem"]), name


def test_monte_carlo_fixed_point_for_a_ball():
    # Ball of radius r (all eigenvalues 2 eps / r^2) at distance R(p) = a p:
    # delta/D ~ r^2 / R^2 = p  =>  p^3 = r^2 / a^2.
    dim, r, a, eps = 400, 0.5, 2.0, 0.5
    grid = np.linspace(0.3, 0.6, 13)
    parts = np.zeros((grid.size, dim))
    parts[:, 0] = a * grid
    mc = predict.ellipsoid_prediction(jnp.full(dim, 2 * eps / r**2), jnp.eye(dim), parts,
                                      grid, epsilon=eps, key=jax.random.key(0),
                                      num_samples=200)
    assert mc.info.converged and mc.statdim_ratio.num_samples == 200
    expected = (r**2 / a**2) ** (1 / 3)
    assert mc.interval[0] - 0.01 <= expected <= mc.interval[1] + 0.01
    assert mc.removal_ratio == pytest.approx(expected, abs=0.02)


def test_predict_bad_input(trained):
    net, ds, params = trained
    loss_fn = nets.cross_entropy(net.apply)
    d = (ds.x_train, ds.y_train)
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="spectrum_options.method must be one of"):
        _predict(params, loss_fn, d, key=key, l1=0.0,
                        spectrum_options=predict.SpectrumOptions("full"))
    with pytest.raises(ValueError, match="epsilon must be > 0"):
        _predict(params, loss_fn, d, key=key, l1=0.0, epsilon=-1.0)
    bad = jax.tree_util.tree_map(lambda w: w * jnp.nan, params)
    with pytest.raises(ValueError, match="params.*NaN"):
        _predict(bad, loss_fn, d, key=key, l1=0.0)
    # an integer leaf (an optimiser's step counter) is named up front, not inside the Hessian
    counted = {"net": params, "step": jnp.asarray(7, jnp.int32)}
    with pytest.raises(TypeError, match=r"params\['step'\] has dtype int32.*Drop integer"):
        _predict(counted, lambda p, b: loss_fn(p["net"], b), d, key=key, l1=0.0)
    # the l1-induced body needs the training lambda: no silent l1 = 0
    with pytest.raises(ValueError, match="l1 is required"):
        _predict(params, loss_fn, d, key=key)
    with pytest.raises(TypeError,
                       match="ellipsoid_options must be a phasetrans.theory.predict.Ellipsoid"):
        _predict(params, loss_fn, d, key=key, l1=0.0, ellipsoid_options={"max_dim": 0})
    with pytest.raises(ValueError, match="l1_body_options.num_samples must be >= 2"):
        _predict(params, loss_fn, d, key=key, l1=0.0,
                        l1_body_options=predict.L1BodyOptions(num_samples=1))


def test_predict_rejects_exact_spectrum_of_a_large_network():
    big = {"w": jnp.ones((80, 80))}                       # 6400 > 5000 parameters
    data_ = (jnp.ones((4, 80)), jnp.zeros(4, jnp.int32))

    def loss(params, batch):
        return jnp.mean((batch[0] @ params["w"]) ** 2)

    with pytest.raises(ValueError, match="use the 'slq' spectrum method"):
        _predict(big, loss, data_, key=jax.random.key(0), l1=0.0, epsilon=0.1)


def test_unconverged_l1_body_reaches_the_prediction(trained):
    net, ds, params = trained
    loss_fn = nets.cross_entropy(net.apply)
    options = dict(key=jax.random.key(3), l1=1e-4, epsilon=1e-3,
                   ellipsoid_options=predict.EllipsoidOptions(max_dim=0))
    starved = _predict(params, loss_fn, (ds.x_train, ds.y_train), **options,
                              l1_body_options=predict.L1BodyOptions(
                                  num_samples=2, num_steps=3, max_iters=20))
    info = starved.l1_body.info
    assert not info.converged and info.iterations == 20 and info.residual > 1e-3
    # "near_ellipsoid" starts where the ellipsoid (here off: the formula) predicts
    near = _predict(params, loss_fn, (ds.x_train, ds.y_train), **options,
                           l1_body_options=predict.L1BodyOptions(
                               num_samples=2, num_steps=3, max_iters=20, search="near_ellipsoid"))
    start = min(max(near.formula.removal_ratio, 1 / 8), 7 / 8)
    assert np.any(np.isclose(near.l1_body.removal_ratios, start, rtol=0, atol=1e-12))
    assert not np.any(np.isclose(starved.l1_body.removal_ratios, start, rtol=0, atol=1e-6))
    with pytest.raises(ValueError, match="l1_body_options.search must be one of"):
        _predict(params, loss_fn, (ds.x_train, ds.y_train), **options,
                        l1_body_options=predict.L1BodyOptions(search="newton"))


def test_monte_carlo_ellipsoid_through_spectral_levels(trained):
    """SLQ spectra get the Monte Carlo ellipsoid from the spectral-levels model; with the exact
    spectrum, levels and H's eigenbasis give the same fixed point within the MC error plus the
    binning (32 levels) and, for SLQ, the quadratures (stated in
    phasetrans.theory.spectral_levels)."""
    net, ds, params = trained
    loss_fn = nets.cross_entropy(net.apply)
    kw = dict(key=jax.random.key(3), epsilon=0.01, l1_body_options=predict.L1BodyOptions(
        max_dim=0))
    batch = (ds.x_train, ds.y_train)
    small = predict.EllipsoidOptions(num_ratios=5, num_samples=24)
    eigenbasis = _predict(params, loss_fn, batch, ellipsoid_options=small,
                                 **kw).ellipsoid
    levels = _predict(params, loss_fn, batch,
                             ellipsoid_options=small._replace(max_dim=100), **kw).ellipsoid
    slq = _predict(params, loss_fn, batch, spectrum_options=predict.SpectrumOptions(
        "slq", num_probes=16, num_iters=60), ellipsoid_options=small, **kw).ellipsoid
    assert eigenbasis.hessian_model == predict.EXACT_MODEL
    assert levels.hessian_model.startswith("spectral levels: 32 levels of the exact")
    assert "SLQ (16 probes x 60 Lanczos steps)" in slq.hessian_model
    for other in (levels, slq):
        assert other.info.converged
        assert abs(other.removal_ratio - eigenbasis.removal_ratio) <= 0.05
    assert _predict(params, loss_fn, batch, spectrum_options=predict.SpectrumOptions(
        "slq", num_probes=4, num_iters=20), ellipsoid_options=predict.EllipsoidOptions(
        max_dim=0), **kw).ellipsoid is None


def test_l1_body_through_the_low_rank_model(trained):
    """Where the exact eigendecomposition is not used (an SLQ spectrum, or D above max_dim),
    the l1-induced body's Monte Carlo prediction comes from the low-rank model
    (L1BodyOptions.model_max_dim; 64 pairs + the calibrated bulk) and is named. Ritz pairs of
    128 Lanczos steps and the exact top eigenpairs give the same fixed point within 0.03 (same
    draws). On this D = 592 network the model's fixed point is 0.745 against 0.703 for the
    exact body (window +-0.35); tests/test_hessian_model.py checks the model against the
    exact body sample by sample."""
    net, ds, params = trained
    loss_fn = nets.cross_entropy(net.apply)
    kw = dict(key=jax.random.key(3), epsilon=0.01, l1=1e-4,
              ellipsoid_options=predict.EllipsoidOptions(max_dim=0))
    options = predict.L1BodyOptions(max_dim=0, model_max_dim=1000, num_samples=8,
                                    num_steps=4)
    batch = (ds.x_train, ds.y_train)
    top = _predict(params, loss_fn, batch, **kw, l1_body_options=options).l1_body
    ritz = _predict(params, loss_fn, batch, **kw, l1_body_options=options,
                           spectrum_options=predict.SpectrumOptions(
                               "slq", num_probes=16, num_iters=60)).l1_body
    assert top.hessian_model.startswith("low-rank model: the 64 largest treated exact")
    assert ritz.hessian_model.startswith("low-rank model: the 64 largest treated of 128 Ritz")
    assert top.info.converged and ritz.info.converged
    assert abs(top.removal_ratio - ritz.removal_ratio) <= 0.03
    assert 0.6 < top.removal_ratio < 0.9
    with pytest.raises(ValueError, match="rank must be < D"):
        _predict(params, loss_fn, batch, **kw, l1_body_options=options._replace(
            rank=592))
    # D / 2 <= rank < D: 2 rank Lanczos steps are clamped to D (they raised "num_iters must
    # be <= D", an argument the user never passed)
    wide = _predict(params, loss_fn, batch, **kw,
                           l1_body_options=options._replace(rank=400, num_samples=2,
                                                            num_steps=1, max_iters=200),
                           spectrum_options=predict.SpectrumOptions("slq", num_probes=2,
                                                                    num_iters=10)).l1_body
    assert wide.hessian_model.startswith("low-rank model: the 400 largest treated of 592 Ritz")


def test_ritz_start_and_l1_search_use_different_keys(trained, monkeypatch):
    net, ds, params = trained
    seen = {}
    ritz_pairs = spectrum.ritz_pairs

    def record_ritz(*args, key, **kwargs):
        seen["ritz"] = jax.random.key_data(key)
        return ritz_pairs(*args, key=key, **kwargs)

    def record_search(*args, key, **kwargs):
        seen["search"] = jax.random.key_data(key)
        raise KeyboardInterrupt  # enough: both keys are known

    monkeypatch.setattr(spectrum, "ritz_pairs", record_ritz)
    monkeypatch.setattr(predict, "l1_body_prediction", record_search)
    with pytest.raises(KeyboardInterrupt):
        _predict(params, nets.cross_entropy(net.apply), (ds.x_train, ds.y_train),
                        key=jax.random.key(3), epsilon=0.01, l1=1e-4,
                        ellipsoid_options=predict.EllipsoidOptions(max_dim=0),
                        spectrum_options=predict.SpectrumOptions("slq", num_probes=2,
                                                                 num_iters=10),
                        l1_body_options=predict.L1BodyOptions(max_dim=0, model_max_dim=1000))
    assert not np.array_equal(seen["ritz"], seen["search"])
