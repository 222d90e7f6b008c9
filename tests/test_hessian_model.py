import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from phasetrans.geometry import feasibility
from phasetrans.networks import prune, spectrum
from phasetrans.theory import formula, hessian_model


def _spectrum(dim, seed):
    rng = np.random.default_rng(seed)
    lam = np.concatenate([[50.0, 30.0, 20.0, -8.0], rng.uniform(-0.05, 1.0, dim - 4)])
    vecs = np.linalg.qr(rng.normal(size=(dim, dim)))[0]
    return lam, vecs


def _dense(model):
    v = np.asarray(model.eigenvectors, np.float64)
    a, beta = np.asarray(model.eigenvalues, np.float64), float(model.bulk)
    return v @ np.diag(a) @ v.T + beta * (np.eye(v.shape[0]) - v @ v.T)


def test_apply_matches_dense_spectral_functions(x64):
    lam, vecs = _spectrum(80, 0)
    model = hessian_model.exact(lam, vecs, rank=6, bulk=0.3)
    dense = _dense(model)
    assert np.asarray(model.eigenvalues) == pytest.approx([50, 30, 20, 8, *np.sort(
        np.abs(lam[4:]))[::-1][:2]])  # "abs": -8 is the 4th sharpest direction
    v = np.random.default_rng(1).normal(size=80)
    assert np.asarray(model.matvec(jnp.asarray(v))) == pytest.approx(dense @ v, abs=1e-8)
    inverse = np.asarray(model.apply(lambda x: 1.0 / (1.0 + x), jnp.asarray(v)))
    assert inverse == pytest.approx(np.linalg.solve(np.eye(80) + dense, v), abs=1e-8)
    assert np.asarray(model.operator()(jnp.asarray(v))) == pytest.approx(dense @ v, abs=1e-8)
    nodes, weights = model.quadrature()
    assert weights.sum() == pytest.approx(1.0) and nodes[0, -1] == 0.3


def test_ritz_pairs_recover_a_prescribed_top_spectrum(x64):
    lam, vecs = _spectrum(300, 2)
    matrix = jnp.asarray(vecs @ np.diag(lam) @ vecs.T)
    pairs = spectrum.ritz_pairs(lambda v: matrix @ v, dim=300, key=jax.random.key(0),
                                num_iters=60)
    values = np.asarray(pairs.values)
    assert values[-3:] == pytest.approx([20.0, 30.0, 50.0], rel=1e-8)
    assert values[0] == pytest.approx(-8.0, rel=1e-8)
    v = np.asarray(pairs.vectors)
    assert v.T @ v == pytest.approx(np.eye(60), abs=1e-8)
    residual = np.linalg.norm(np.asarray(matrix) @ v[:, -1] - values[-1] * v[:, -1])
    # up to sqrt(eps) ||A||: the semi-orthogonal basis's Ritz vectors are orthonormalised
    assert float(pairs.residuals[-1]) == pytest.approx(residual, abs=np.sqrt(2.0**-52) * 50.0)
    model = hessian_model.from_ritz_pairs(pairs, rank=4, bulk="upper")
    assert np.asarray(model.eigenvalues) == pytest.approx([50, 30, 20, 8], rel=1e-8)
    assert float(model.bulk) == pytest.approx(8.0)


def test_support_minima_through_the_model_match_the_dense_solve(x64):
    lam, vecs = _spectrum(120, 3)
    model = hessian_model.exact(lam, vecs, rank=10, bulk=0.02)
    dense = _dense(model)
    a, u = np.linalg.eigh(dense)
    center = np.random.default_rng(4).normal(size=120)
    keeps = np.argsort(np.argsort(-np.abs(center)))[None, :] < np.array([[10], [60], [110]])
    fast = feasibility.support_minima(jnp.asarray(keeps), center=jnp.asarray(center),
                                      matvec=model.operator())
    slow = feasibility.support_minima(jnp.asarray(keeps), center=jnp.asarray(center),
                                      eigenvalues=jnp.asarray(a), eigenvectors=jnp.asarray(u))
    assert np.asarray(fast.value) == pytest.approx(np.asarray(slow.value), rel=1e-8)
    assert bool(np.all(fast.info.converged))
    assert int(np.max(fast.info.iterations)) <= 12  # CG on scalar + rank 10: <= r + 1 steps


def test_calibrated_bulk_reproduces_the_formula_fixed_point(x64):
    lam, vecs = _spectrum(200, 5)
    grid = np.linspace(0, 1, 201)
    distances = 3.0 * grid
    eps = 0.05

    def fixed_point(nodes, weights):
        curve = formula.statdim_ratio(nodes, weights, distances=distances, epsilon=eps,
                                      eigen_treatment="abs", floor=1e-4)
        return formula.fixed_point(grid, np.asarray(curve)[0])

    target = fixed_point(lam[None], np.full((1, 200), 1 / 200))
    model = hessian_model.exact(lam, vecs, rank=8)
    beta = hessian_model.calibrated_bulk(model.eigenvalues, dim=200, removal_ratio=target,
                                         distance=3.0 * target, epsilon=eps, floor=1e-4)
    calibrated = hessian_model.exact(lam, vecs, rank=8, bulk=beta)
    assert fixed_point(*calibrated.quadrature()) == pytest.approx(target, abs=1e-3)
    lower = hessian_model.exact(lam, vecs, rank=8, bulk="lower")
    assert fixed_point(*model.quadrature()) < target < fixed_point(*lower.quadrature())


def test_model_brackets_the_support_threshold_of_a_trained_network(trained_spectrum):
    """Stated error of the model's support-feasibility threshold: the Loewner bracket
    [bulk = "upper", bulk = "lower"]; the calibrated bulk is the point estimate (measured on
    this digits network: exact 0.85, bracket [0.60, 0.95], calibrated 0.90)."""
    t = trained_spectrum
    lam, vecs, eps, params = t["eigenvalues"], t["eigenvectors"], t["epsilon"], t["params"]
    grid = np.linspace(0, 1, 41)
    keeps = jnp.asarray(np.stack([np.asarray(ravel_pytree(prune.global_magnitude(
        params, float(p)))[0])[t["index"]].astype(bool) for p in grid]))
    center = jnp.asarray(t["center"], jnp.float32)
    treated = np.maximum(np.abs(lam), 1e-4)

    def threshold(**model):
        values = feasibility.support_minima(keeps, center=center, **model).value
        return feasibility.threshold(grid, np.asarray(values), eps).removal_ratio

    exact = threshold(eigenvalues=jnp.asarray(treated, jnp.float32),
                      eigenvectors=jnp.asarray(vecs, jnp.float32))
    pairs = spectrum.ritz_pairs(t["matvec"], dim=lam.size, key=jax.random.key(3),
                                num_iters=128)
    upper = hessian_model.from_ritz_pairs(pairs, rank=64, bulk="upper")
    lower = hessian_model.from_ritz_pairs(pairs, rank=64, bulk="lower")
    low, high = threshold(matvec=upper.operator()), threshold(matvec=lower.operator())
    assert low <= exact <= high
    assert high - low < 0.5  # the bracket says something
    assert float(upper.residuals[0]) < 1e-3 * float(upper.eigenvalues[0])  # top pair converged


def test_bad_input():
    lam, vecs = _spectrum(20, 6)
    pairs = spectrum.RitzPairs(jnp.asarray(lam), jnp.asarray(vecs), jnp.zeros(20))
    with pytest.raises(ValueError, match="rank"):
        hessian_model.from_ritz_pairs(pairs, rank=20)
    with pytest.raises(ValueError, match="bulk"):
        hessian_model.from_ritz_pairs(pairs, rank=3, bulk="middle")
    with pytest.raises(ValueError, match="bulk"):
        hessian_model.from_ritz_pairs(pairs, rank=3, bulk=-1.0)
    with pytest.raises(TypeError, match="RitzPairs"):
        hessian_model.from_ritz_pairs((lam, vecs), rank=3)
    with pytest.raises(ValueError, match="NaN"):
        hessian_model.from_ritz_pairs(pairs._replace(values=pairs.values.at[0].set(np.nan)),
                                      rank=3)
    with pytest.raises(ValueError, match="removal_ratio"):
        hessian_model.calibrated_bulk(np.ones(3), dim=10, removal_ratio=1.5, distance=1.0,
                                      epsilon=0.1, floor=1e-4)


def test_matrix_free_path_never_builds_a_dense_matrix_beyond_5000():
    dim = 6000
    diagonal = jnp.linspace(0.01, 2.0, dim)
    pairs = spectrum.ritz_pairs(lambda v: diagonal * v, dim=dim, key=jax.random.key(0),
                                num_iters=12)
    model = hessian_model.from_ritz_pairs(pairs, rank=4)
    center = jnp.ones(dim)
    keeps = jnp.arange(dim)[None, :] < jnp.array([[5000], [5900]])
    result = feasibility.support_minima(keeps, center=center, matvec=model.operator())
    assert result.value.shape == (2,) and bool(np.all(result.info.converged))
    with pytest.raises(TypeError, match="not a matrix"):
        feasibility.support_minima(keeps, center=center, matvec=jnp.eye(3))
    with pytest.raises(ValueError, match="dense path takes D <= 5000"):
        feasibility.support_minima(keeps, center=center, eigenvalues=jnp.ones(dim),
                                   eigenvectors=jnp.ones((dim, 1)))


def test_low_rank_l1_body_is_the_dense_body_of_the_model_matrix(x64):
    """Every oracle of the O(D r) l1-induced body (conic ADMM in the (V^T x, x - V V^T x)
    coordinates, support minima through the matvec) equals the dense body built from the
    model's D x D matrix, on the same inputs and Gaussian draws."""
    from phasetrans.geometry import bodies, conic_admm, width

    tight_cone = bodies.L1_CONE_SOLVER._replace(tol=1e-9)
    tight_body = conic_admm.SOLVER._replace(tol=1e-9)
    lam, vecs = _spectrum(40, 2)
    model = hessian_model.exact(lam, vecs, rank=5, bulk=0.3)
    full = np.linalg.eigh(_dense(model))
    rng = np.random.default_rng(6)  # an instance where ADMM reaches 1e-9 (many stall ~1e-5)
    center, gradient = rng.normal(size=40), 0.1 * rng.normal(size=40)
    y = jnp.asarray(rng.normal(size=40))
    options = {"center": jnp.asarray(center), "l1": 0.05, "epsilon": 0.2,
               "gradient": jnp.asarray(gradient)}
    low = hessian_model.l1_body(model, **options)
    dense = bodies.L1InducedBody.create(eigenvalues=full[0], eigenvectors=full[1], **options)
    assert low.low_rank and not dense.low_rank
    w = jnp.asarray(rng.normal(size=40))
    assert float(low.value(w)) == pytest.approx(float(dense.value(w)), rel=1e-12)
    apex = jnp.asarray(np.where(np.abs(center) > 0.8, center, 0.0))
    got = low.cone_at(apex).projection(y, solver=tight_cone)
    want = dense.cone_at(apex, method="admm").projection(y, solver=tight_cone)  # same solver
    assert bool(got.info.converged) and bool(want.info.converged)
    assert np.asarray(got.point) == pytest.approx(np.asarray(want.point), abs=1e-7)
    assert float(got.scale) == pytest.approx(float(want.scale), rel=1e-6)
    body_point = low.projection(y, solver=tight_body).point
    assert np.asarray(body_point) == pytest.approx(
        np.asarray(dense.projection(y, solver=tight_body).point), abs=1e-7)
    a = width.cone_statdim(low, apex, key=jax.random.key(1), num_samples=4).estimate
    b = width.cone_statdim(dense, apex, key=jax.random.key(1), num_samples=4,
                           method="admm").estimate
    assert a.mean == pytest.approx(b.mean, rel=1e-5) and 0 < a.mean < 40
    keeps = jnp.asarray(np.abs(center)[None] > np.array([0.2, 0.8, 1.5])[:, None])
    got, want = (feasibility.support_minima(keeps, body=body) for body in (low, dense))
    assert np.asarray(got.value) == pytest.approx(np.asarray(want.value), abs=1e-7)
    single = feasibility.l1_support_minimum(low, keeps[1])
    assert float(single.value) == pytest.approx(float(want.value[1]), abs=1e-7)


def test_low_rank_l1_body_brackets_the_exact_cone_on_a_trained_network(trained_spectrum):
    """Loewner order: bulk "upper" (A_model >= A) shrinks K and every cone it generates, bulk
    "lower" (A_model <= A) grows them, so sample by sample (same Gaussian draws) the squared
    projections onto cone(K - x_p) of the two models bracket the exact one (up to the Ritz
    residuals and the ADMM tolerance), on the trained digits network at p = 0.9 (outside
    all three bodies)."""
    from phasetrans.geometry import bodies

    t = trained_spectrum
    lam, vecs, params = t["eigenvalues"], t["eigenvectors"], t["params"]
    treated = np.maximum(np.abs(lam), 1e-4)  # the models' treatment, floor included
    gradient = jnp.asarray(np.asarray(ravel_pytree(jax.grad(t["loss_fn"])(
        params, (t["data"].x_train, t["data"].y_train)))[0])[t["index"]], jnp.float32)
    options = {"center": jnp.asarray(t["center"], jnp.float32), "l1": 1e-4,
               "epsilon": t["epsilon"], "gradient": gradient}
    exact = bodies.L1InducedBody.create(eigenvalues=jnp.asarray(treated, jnp.float32),
                                        eigenvectors=jnp.asarray(vecs, jnp.float32), **options)
    pairs = spectrum.ritz_pairs(t["matvec"], dim=lam.size, key=jax.random.key(3),
                                num_iters=128)
    apex = jnp.asarray(np.asarray(ravel_pytree(prune.apply_mask(
        params, prune.global_magnitude(params, 0.9)))[0])[t["index"]], jnp.float32)
    draws = jax.random.normal(jax.random.key(4), (6, lam.size))

    def squared_norms(body):
        cone = body.cone_at(apex)
        result = jax.vmap(cone.projection)(draws)
        assert bool(np.all(result.info.converged))
        return np.sum(np.asarray(result.point, np.float64) ** 2, axis=1)

    mid = squared_norms(exact)
    low, high = (squared_norms(hessian_model.l1_body(
        hessian_model.from_ritz_pairs(pairs, rank=64, bulk=bulk), **options))
        for bulk in ("upper", "lower"))
    slack = 0.01 * lam.size
    assert np.all(low <= mid + slack) and np.all(mid <= high + slack)
    assert np.mean(high - low) > 10 * slack  # the models differ: the test could fail


def test_l1_body_model_bad_input():
    from phasetrans.geometry import bodies

    lam, vecs = _spectrum(20, 6)
    model = hessian_model.exact(lam, vecs, rank=3, bulk=0.2)
    with pytest.raises(TypeError, match="HessianModel"):
        hessian_model.l1_body((lam, vecs), center=jnp.zeros(20), l1=0.1, epsilon=0.1)
    with pytest.raises(ValueError, match="bulk"):
        bodies.L1InducedBody.create(center=jnp.zeros(20), l1=0.1, epsilon=0.1,
                                    eigenvalues=model.eigenvalues,
                                    eigenvectors=model.eigenvectors)
    with pytest.raises(ValueError, match="bulk"):
        bodies.L1InducedBody.create(center=jnp.zeros(20), l1=0.1, epsilon=0.1,
                                    eigenvalues=jnp.abs(jnp.asarray(lam)),
                                    eigenvectors=jnp.asarray(vecs), bulk=0.1)
    with pytest.raises(ValueError, match="shape"):
        bodies.L1InducedBody.create(center=jnp.zeros(20), l1=0.1, epsilon=0.1,
                                    eigenvalues=jnp.ones(3), eigenvectors=jnp.ones((19, 3)),
                                    bulk=0.1)
