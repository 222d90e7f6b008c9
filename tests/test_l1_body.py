"""The l1-induced body: projections against SciPy and the ellipsoid, cone statistical dimension
against closed forms and the golden-section path, validation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize

from phasetrans.geometry import bodies, closed_forms, conic_admm, projections, width
from phasetrans.theory import predict


def _problem(dim, seed, *, l1=0.3, eps=0.2):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(dim, dim))
    hessian = a @ a.T / dim
    center = rng.normal(size=dim)
    gradient = 0.1 * rng.normal(size=dim)
    return hessian, center, gradient, l1, eps


def _value(w, hessian, center, gradient, l1):
    q = w - center
    return gradient @ q + 0.5 * q @ hessian @ q + l1 * (np.abs(w).sum() - np.abs(center).sum())


def _scipy_projection(y, hessian, center, gradient, l1, eps):
    """min 1/2 ||w - y||^2 s.t. value(w) <= eps, with w = w+ - w- (w+-, >= 0) for SLSQP."""
    dim = y.size

    def split(x):
        return x[:dim] - x[dim:]

    def slack(x):  # eps - value, with sum(w+ + w-) >= ||w||_1 in place of ||w||_1 (smooth)
        q = split(x) - center
        return eps - (gradient @ q + 0.5 * q @ hessian @ q
                      + l1 * (x.sum() - np.abs(center).sum()))

    start = np.concatenate([np.maximum(center, 0), np.maximum(-center, 0)])
    res = scipy.optimize.minimize(lambda x: 0.5 * np.sum((split(x) - y) ** 2), start,
                                  method="SLSQP", bounds=[(0, None)] * (2 * dim),
                                  constraints=[{"type": "ineq", "fun": slack}],
                                  options={"ftol": 1e-13, "maxiter": 2000})
    assert res.success
    return split(res.x)


@pytest.mark.parametrize("dim,seed", [(6, 0), (12, 1)])
def test_body_projection_matches_scipy(x64, dim, seed):
    hessian, center, gradient, l1, eps = _problem(dim, seed)
    body = bodies.L1InducedBody.create(center=center, l1=l1, epsilon=eps, hessian=hessian,
                                        gradient=gradient)
    y = center + 3 * np.random.default_rng(seed + 10).normal(size=dim)
    result = body.projection(jnp.asarray(y), solver=conic_admm.SOLVER._replace(tol=1e-10))
    assert result.point.dtype == jnp.float64 and float(result.info.residual) <= 1e-10
    assert bool(result.info.converged)
    expected = _scipy_projection(y, hessian, center, gradient, l1, eps)
    np.testing.assert_allclose(result.point, expected, atol=1e-6)
    assert float(body.value(result.point)) == pytest.approx(eps, abs=1e-7)
    inside = center + 1e-3 * np.ones(dim)          # points of K project onto themselves
    assert float(body.value(inside)) < eps
    np.testing.assert_allclose(body.project(jnp.asarray(inside)), inside, atol=1e-5)


def test_hessian_forms_agree_and_lambda_zero_gives_the_ellipsoid(x64):
    hessian, center, _, _, eps = _problem(10, 2)
    lam, vecs = np.linalg.eigh(hessian)
    forms = [dict(hessian=hessian), dict(eigenvalues=lam, eigenvectors=vecs),
             dict(hessian_matvec=lambda v: jnp.asarray(hessian) @ v)]
    y = jnp.asarray(center + 4 * np.random.default_rng(3).normal(size=10))
    points = [bodies.L1InducedBody.create(center=center, l1=0.0, epsilon=eps, **f)
              .projection(y, solver=conic_admm.SOLVER._replace(tol=1e-11)).point for f in forms]
    # lam = 0, g* = 0: K is the ellipsoid {1/2 q^T H q <= eps}; project in H's eigenbasis
    ellipsoid = vecs @ projections.onto_ellipsoid(vecs.T @ y, eigenvalues=jnp.asarray(lam),
                                                  center=vecs.T @ center, epsilon=eps).point
    for p in points:
        np.testing.assert_allclose(p, ellipsoid, atol=1e-6)


def _scipy_cone_projection(g, apex, hessian, center, gradient, l1, eps):
    """Pi_cone(K - x0)(g) = t* (Pi_K(x0 + g / t*) - x0) with t* minimising the distance."""
    def project(t):
        return t * (_scipy_projection(apex + g / t, hessian, center, gradient, l1, eps) - apex)

    res = scipy.optimize.minimize_scalar(lambda t: np.sum((g - project(t)) ** 2),
                                         bounds=(1e-6, 100.0), method="bounded",
                                         options={"xatol": 1e-10})
    return project(res.x)


def test_cone_projection_matches_scipy_and_moreau(x64):
    hessian, center, gradient, l1, eps = _problem(6, 4)
    apex = center * (np.abs(center) > 0.8)            # prune the small entries
    body = bodies.L1InducedBody.create(center=center, l1=l1, epsilon=eps, hessian=hessian,
                                        gradient=gradient)
    assert float(body.value(apex)) > eps
    cone = bodies.L1InducedCone.create(body, apex)
    rng = np.random.default_rng(5)
    for _ in range(3):
        g = rng.normal(size=6)
        result = cone.projection(jnp.asarray(g), solver=cone.solver._replace(tol=1e-10))
        assert bool(result.info.converged)
        expected = _scipy_cone_projection(g, apex, hessian, center, gradient, l1, eps)
        np.testing.assert_allclose(result.point, expected, atol=1e-6)
        # (t itself need not be unique: a ray can meet K - x0 in a segment)
        z = np.asarray(result.point)
        assert abs(z @ (g - z)) < 1e-7                 # Moreau: the residual is orthogonal
        assert float(body.value(apex + z / float(result.scale))) <= eps + 1e-7


def test_cone_statdim_matches_ball_cone_closed_form():
    # lam = 0, g* = 0, H = (2 eps / r^2) I: a ball of radius r seen from distance R
    dim, radius, distance, eps = 40, 1.0, 2.0, 0.5
    body = bodies.L1InducedBody.create(center=jnp.zeros(dim), l1=0.0, epsilon=eps,
                                        eigenvalues=jnp.full(dim, 2 * eps / radius**2),
                                        eigenvectors=jnp.eye(dim))
    apex = jnp.zeros(dim).at[0].set(distance)
    res = width.cone_statdim(body, apex, key=jax.random.key(0), num_samples=400,
                             chunk_size=100)
    assert res.info.converged and res.info.residual <= 1e-3
    expected = closed_forms.ball_cone_statdim(dim=dim, radius=radius, distance=distance)
    assert abs(res.estimate.mean - expected) < 4 * res.estimate.sem + 0.1


def test_cone_statdim_matches_golden_section_path_sample_by_sample(x64):
    # H = 0, g* = 0: K = {||w||_1 <= ||w*||_1 + eps / lam}, an l1 ball; the generic cone(K)
    # projection (golden section) sees the same Gaussian samples for the same key.
    dim, l1, eps = 30, 1.0, 0.5
    center = jnp.zeros(dim).at[:3].set(jnp.array([1.0, -2.0, 0.5]))
    body = bodies.L1InducedBody.create(center=center, l1=l1, epsilon=eps,
                                        eigenvalues=jnp.zeros(dim), eigenvectors=jnp.eye(dim))
    apex = center * 1.4 + jnp.zeros(dim).at[5].set(0.3)
    res = width.cone_statdim(body, apex, key=jax.random.key(7), num_samples=64,
                             solver=bodies.L1_CONE_SOLVER._replace(tol=1e-8))
    assert res.info.converged
    ball = bodies.Translated.create(bodies.L1Ball.create(dim, 3.5 + eps / l1), -apex)
    reference = width.statistical_dimension(bodies.GeneratedCone.create(ball),
                                            key=jax.random.key(7), num_samples=64)
    assert res.estimate.mean == pytest.approx(reference.estimate.mean, rel=1e-5)


def test_apex_inside_dtype_jit_vmap_and_determinism():
    hessian, center, gradient, l1, eps = _problem(8, 6)
    body = bodies.L1InducedBody.create(center=jnp.asarray(center, jnp.float32), l1=l1,
                                        epsilon=eps, hessian=hessian, gradient=gradient)
    inside = width.cone_statdim(body, center, key=jax.random.key(0), num_samples=5)
    assert inside.estimate.mean == 8.0 and inside.estimate.sem == 0.0
    apex = jnp.asarray(-center, jnp.float32)
    assert float(body.value(apex)) > eps
    a = width.cone_statdim(body, apex, key=jax.random.key(1), num_samples=8)
    b = width.cone_statdim(body, apex, key=jax.random.key(1), num_samples=8)
    assert a == b and a.info.converged
    cone = bodies.L1InducedCone.create(body, apex)
    g = jax.random.normal(jax.random.key(2), (4, 8))
    batched = jax.jit(jax.vmap(cone.project))(g)
    assert batched.dtype == jnp.float32
    np.testing.assert_allclose(batched[1], cone.project(g[1]), atol=1e-4)


def test_l1_body_fixed_point_for_a_ball():
    # as tests/test_predict.py: a ball of radius r at distance a p gives p^3 = r^2 / a^2
    dim, r, a, eps = 200, 0.5, 2.0, 0.5
    body = bodies.L1InducedBody.create(center=jnp.zeros(dim), l1=0.0, epsilon=eps,
                                        eigenvalues=jnp.full(dim, 2 * eps / r**2),
                                        eigenvectors=jnp.eye(dim))
    pred = predict.l1_body_prediction(body, lambda p: jnp.zeros(dim).at[0].set(-a * p),
                                        key=jax.random.key(0), num_samples=64, num_steps=6)
    expected = (r**2 / a**2) ** (1 / 3)
    assert pred.info.converged
    assert pred.interval[0] - 0.02 <= expected <= pred.interval[1] + 0.02
    assert pred.removal_ratio == pytest.approx(expected, abs=0.03)


def test_l1_body_fixed_point_at_the_exit_from_the_body_is_placed_within_one_over_d():
    # F = g^T q + 1/2 ||q||^2 + lam (||w||_1 - ||w*||_1) with g = -lam sign(w*): pruning the k
    # smallest weights raises F by 1/2 ||c_k||^2, so x_p leaves K after k = 224 of 256 (p =
    # 0.875), where delta/D drops from 1 to ~0.67 < p: the fixed point is the exit itself
    # (interpolating across the last bisection bracket instead would put it near 0.884)
    dim, lam, exit_count = 256, 2.0, 224
    rng = np.random.default_rng(0)
    center = np.sign(rng.standard_normal(dim)) * np.linspace(0.01, 1.0, dim)
    order = np.argsort(np.abs(center))
    eps = 0.5 * float(np.sum(center[order[:exit_count]] ** 2)) * 1.0001
    body = bodies.L1InducedBody.create(
        center=jnp.asarray(center, jnp.float32), l1=lam, epsilon=eps,
        eigenvalues=jnp.ones(dim), eigenvectors=jnp.eye(dim),
        gradient=jnp.asarray(-lam * np.sign(center), jnp.float32))

    def apex_at(p):
        return jnp.asarray(np.where(np.isin(np.arange(dim), order[:round(p * dim)]), 0.0,
                                    center), jnp.float32)

    assert body.contains(apex_at(exit_count / dim))
    assert not body.contains(apex_at((exit_count + 1) / dim))
    pred = predict.l1_body_prediction(body, apex_at, key=jax.random.key(0), num_samples=32)
    assert pred.info.converged
    exit_ratio = exit_count / dim
    for value in (pred.removal_ratio, *pred.interval):
        assert exit_ratio <= value <= exit_ratio + 1 / dim
    just_past = np.asarray(pred.removal_ratios) == (exit_count + 1) / dim
    assert np.asarray(pred.statdim_ratio.mean)[just_past] < 0.75


@pytest.mark.parametrize("start", [0.05, 0.4, 0.625, 0.95])
def test_l1_body_search_from_a_start_brackets_the_same_fixed_point(start):
    # the ball of the previous test (fixed point 0.397; x_p leaves it at p = 0.25); from any
    # start the last bracket is 2^-num_steps wide around the crossing, and a start near it needs
    # at most 3 evaluations after the one just past the exit
    dim, r, a, eps, num_steps = 200, 0.5, 2.0, 0.5, 6
    body = bodies.L1InducedBody.create(center=jnp.zeros(dim), l1=0.0, epsilon=eps,
                                        eigenvalues=jnp.full(dim, 2 * eps / r**2),
                                        eigenvectors=jnp.eye(dim))
    pred = predict.l1_body_prediction(body, lambda p: jnp.zeros(dim).at[0].set(-a * p),
                                        key=jax.random.key(0), num_samples=64,
                                        num_steps=num_steps, start=start)
    expected = (r**2 / a**2) ** (1 / 3)
    assert pred.removal_ratio == pytest.approx(expected, abs=0.03)
    grid = np.asarray(pred.removal_ratios)
    above = np.asarray(pred.statdim_ratio.mean) > grid
    last_above = int(np.flatnonzero(above)[-1])
    assert not above[last_above + 1:].any()        # one sign change, bracketed by neighbours
    assert grid[last_above + 1] - grid[last_above] <= 2.0**-num_steps * (1 + 1e-9)
    evaluated = np.asarray(pred.statdim_ratio.sem) > 0  # x_p in K and p = 1 cost nothing
    assert grid[~evaluated][-2] == 0.25 and grid[evaluated][0] == pytest.approx(0.25, abs=1 / dim)
    near = abs(start - expected) < 2.0**-num_steps
    assert evaluated.sum() <= 1 + (3 if near else 2 * num_steps + 1)
    with pytest.raises(ValueError, match="start must be <= 1"):
        predict.l1_body_prediction(body, lambda p: jnp.zeros(dim), key=jax.random.key(0),
                                   start=1.5)


def test_bad_input():
    hessian, center, gradient, l1, eps = _problem(4, 7)
    ok = dict(center=center, l1=l1, epsilon=eps)
    with pytest.raises(ValueError, match="positive semidefinite"):
        bodies.L1InducedBody.create(**ok, hessian=hessian - 2 * np.eye(4))
    with pytest.raises(ValueError, match="exactly one of"):
        bodies.L1InducedBody.create(**ok, hessian=hessian, hessian_matvec=lambda v: v)
    with pytest.raises(ValueError, match="exactly one of"):
        bodies.L1InducedBody.create(**ok)
    with pytest.raises(ValueError, match="hessian must be symmetric"):
        bodies.L1InducedBody.create(**ok, hessian=hessian + np.triu(np.ones((4, 4)), 1))
    with pytest.raises(ValueError, match="center contains NaN"):
        bodies.L1InducedBody.create(**{**ok, "center": np.array([np.nan, 0, 0, 0])},
                                     hessian=hessian)
    with pytest.raises(ValueError, match="l1 must be >= 0"):
        bodies.L1InducedBody.create(**{**ok, "l1": -1.0}, hessian=hessian)
    with pytest.raises(ValueError, match="epsilon must be > 0"):
        bodies.L1InducedBody.create(**{**ok, "epsilon": 0.0}, hessian=hessian)
    lam, vecs = np.linalg.eigh(hessian)
    with pytest.raises(ValueError, match="orthonormal columns"):
        bodies.L1InducedBody.create(**ok, eigenvalues=lam, eigenvectors=2 * vecs)
    with pytest.raises(ValueError, match="need eigenvectors"):
        bodies.L1InducedBody.create(**ok, eigenvalues=lam)
    with pytest.raises(ValueError, match="gradient must have shape"):
        bodies.L1InducedBody.create(**ok, hessian=hessian, gradient=np.ones(3))
    body = bodies.L1InducedBody.create(**ok, hessian=hessian)
    with pytest.raises(ValueError, match="apex lies in the body"):
        bodies.L1InducedCone.create(body, center)
    with pytest.raises(ValueError, match="num_samples must be >= 2"):
        width.cone_statdim(body, 10 * center, key=jax.random.key(0), num_samples=1)
    with pytest.raises(TypeError, match="key is required"):
        width.cone_statdim(body, 10 * center, key=None, num_samples=4)
    with pytest.raises(ValueError, match="max_iters must be >= 1"):
        body.cone_at(10 * center, solver=bodies.L1_CONE_SOLVER._replace(max_iters=0))


def _sorted_l1_cone_projection(v, m):
    """Reference: threshold from the sorted |v| (the classic simplex-projection argument)."""
    if np.abs(v).sum() <= m:
        return v, m
    a = -np.sort(-np.abs(v))
    if a[0] <= -m:
        return 0 * v, 0.0
    thetas = (np.cumsum(a) - m) / np.arange(2, v.size + 2)
    theta = thetas[np.sum(a > thetas) - 1]
    return np.sign(v) * np.maximum(np.abs(v) - theta, 0), m + theta


def test_cone_projections_match_references(x64):
    rng = np.random.default_rng(8)
    for _ in range(100):
        dim = int(rng.choice([1, 7, 30]))  # few shapes: few compilations
        v, m = rng.normal(size=dim) * rng.exponential(), rng.normal() * 3 * rng.exponential()
        (got_v, got_m), info = conic_admm.project_l1_cone(jnp.asarray(v), jnp.asarray(m))
        assert bool(info.converged) and int(info.iterations) <= 50
        want_v, want_m = _sorted_l1_cone_projection(v, m)
        np.testing.assert_allclose(got_v, want_v, atol=1e-12)
        assert float(got_m) == pytest.approx(want_m, abs=1e-12)
        # rotated SOC {||y||^2 <= 2ts}: Moreau decomposition into the cone and its polar
        # {||y||^2 <= 2ts, t, s <= 0}, orthogonal parts
        y, t, s = rng.normal(size=dim), rng.normal(), rng.normal()
        py, pt, ps = (np.asarray(x) for x in conic_admm.project_rotated_soc(jnp.asarray(y), t, s))
        ry, rt, rs = y - py, t - pt, s - ps
        assert py @ py <= 2 * pt * ps + 1e-10 and pt >= -1e-12 and ps >= -1e-12
        assert ry @ ry <= 2 * rt * rs + 1e-10 and rt <= 1e-12 and rs <= 1e-12
        assert abs(py @ ry + pt * rt + ps * rs) < 1e-10


def test_admm_budget_exhausted_reports_not_converged():
    hessian, center, gradient, l1, eps = _problem(8, 9)
    body = bodies.L1InducedBody.create(center=center, l1=l1, epsilon=eps, hessian=hessian,
                                       gradient=gradient)
    apex = -center
    cone = body.cone_at(apex, solver=bodies.L1_CONE_SOLVER._replace(max_iters=20),
                        method="admm")
    result = cone.projection(jnp.asarray(np.random.default_rng(0).normal(size=8)))
    assert not bool(result.info.converged) and int(result.info.iterations) == 20
    assert float(result.info.residual) > cone.solver.tol
    res = width.cone_statdim(body, apex, key=jax.random.key(0), num_samples=4,
                             solver=bodies.L1_CONE_SOLVER._replace(max_iters=20), method="admm")
    assert not res.info.converged and res.info.iterations == 20
    enough = width.cone_statdim(body, apex, key=jax.random.key(0), num_samples=4)
    assert enough.info.converged and enough.info.iterations > 20


def _schur_case(dtype):
    """ConicData whose t and s columns are nearly collinear (the scalings of a trained mnist1d
    network's low-rank body, where the float32 Schur complement once cancelled to garbage)."""
    rng = np.random.default_rng(0)
    dim = 2000
    sqrt_eig = np.sqrt(rng.uniform(0.01, 3.0, dim))
    linear, apex = rng.normal(size=dim), 1e-6 * rng.normal(size=dim)
    fields = dict(sqrt_eigenvalues=sqrt_eig, eigenvectors=np.eye(1), linear=linear, apex=apex,
                  apex_eigen=apex, l1=8e-4, level=-0.99993, q_t=0.0117, q_s=0.0798,
                  s_weight=0.9968, unit=0.0185, apex_value=7.0)
    return conic_admm.ConicData(**{k: jnp.asarray(v, dtype) for k, v in fields.items()})


def test_schur_inverse_is_accurate_in_float32_where_the_textbook_form_cancels():
    with jax.enable_x64(True):
        exact = _schur_case(jnp.float64)
        inv_diag = 1.0 / (1.0 + exact.sqrt_eigenvalues**2 + exact.l1**2)
        cols = np.asarray(conic_admm._coupling(exact, 1.0, True), np.float64)
        e = np.diag(1.0 / np.asarray(inv_diag)) + np.outer(exact.linear, exact.linear)
        block = np.array([[exact.q_t**2 + exact.apex @ exact.apex + exact.level**2,
                           -exact.s_weight * exact.level],
                          [-exact.s_weight * exact.level, exact.q_s**2 + exact.s_weight**2]])
        want = np.linalg.inv(block - cols.T @ np.linalg.solve(e, cols))
        assert np.asarray(conic_admm._schur_inverse(exact, 1.0, inv_diag,
                                                    inv_diag * exact.linear, True)) == (
            pytest.approx(want, rel=1e-9))
    data = _schur_case(jnp.float32)
    lin = conic_admm._linear_solver(data, jnp.float32(1.0), True)
    assert np.asarray(lin.schur_inv) == pytest.approx(want, rel=1e-4)
    # the textbook form B - C^T E^-1 C in float32 is off by more than 1 % here
    textbook = np.linalg.inv(np.asarray(jnp.asarray(block, jnp.float32)
                                        - lin.coupling.T @ lin.coupling_solved, np.float64))
    assert np.max(np.abs(textbook - want) / np.abs(want)) > 1e-2
