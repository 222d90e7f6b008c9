"""The random-subspace transition: meets() against closed forms and SciPy, the 50% point against
the circular cone (exact Beta law) and the l1 descent cone (psi), failure paths, validation."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize
from scipy import stats

from phasetrans.estimate import SolverOptions
from phasetrans.geometry import bodies, closed_forms, subspaces

BALL_DIM, BALL_RADIUS, BALL_DISTANCE = 200, 0.5, 1.0


def _ball(dim=BALL_DIM):
    center = np.zeros(dim, np.float32)
    center[0] = BALL_DISTANCE
    body = bodies.Ellipsoid.create(np.full(dim, BALL_RADIUS, np.float32), center)
    return body, jnp.zeros(dim)  # apex at the origin, the ball at distance R


def _ball_meet_probability(k):
    """P(dist(c, x0 + L0) <= r) = P(||Pi_{L0^perp} u||^2 <= r^2/R^2), u uniform on the sphere:
    ||Pi u||^2 ~ Beta((D - k)/2, k/2)."""
    k = np.asarray(k, np.float64)
    return stats.beta.cdf((BALL_RADIUS / BALL_DISTANCE) ** 2, (BALL_DIM - k) / 2, k / 2)


def _sparse_l1_problem(dim=100, sparsity=10, margin=0.01, dtype=np.float32):
    """K = {w : ||w||_1 <= (1 - margin) ||x0||_1} as an L1InducedBody (H = 0, g* = 0, lam = 1,
    w* = (1 - 2 margin) x0, eps = margin ||x0||_1), seen from the s-sparse x0."""
    x0 = np.zeros(dim, dtype)
    x0[:sparsity] = np.where(np.arange(sparsity) % 2, 1.0, -1.0)
    norm = float(np.abs(x0).sum())
    body = bodies.L1InducedBody.create(center=(1 - 2 * margin) * x0, l1=1.0,
                                        epsilon=margin * norm,
                                        hessian=np.zeros((dim, dim), dtype))
    return body, jnp.asarray(x0)


# ---------------------------------------------------------------------------------------------
# meets


def test_random_basis_is_orthonormal_nested_and_haar_signed():
    key = jax.random.key(3)
    big = subspaces.random_basis(key=key, dim=30, rank=12)
    small = subspaces.random_basis(key=key, dim=30, rank=5)
    np.testing.assert_allclose(big.T @ big, np.eye(12), atol=1e-5)
    np.testing.assert_allclose(big[:, :5], small, atol=1e-5)
    assert subspaces.random_basis(key=key, dim=30, rank=0).shape == (30, 0)
    # Haar: the mean squared projection of a fixed unit vector onto L0 is k / D
    keys = [jax.random.fold_in(key, i) for i in range(300)]
    projections = [float(jnp.sum(subspaces.random_basis(key=k, dim=30, rank=12)[0] ** 2))
                   for k in keys]
    assert np.mean(projections) == pytest.approx(12 / 30, abs=4 * np.std(projections) / 17)


def test_ellipsoid_meets_matches_the_ball_distance_sample_by_sample():
    body, apex = _ball()
    center = np.asarray(body.center, np.float64)
    for i, k in enumerate([0, 1, 120, 150, 200]):
        basis = subspaces.random_basis(key=jax.random.key(i), dim=BALL_DIM, rank=k)
        value, info = subspaces.meets(body, apex, basis)
        q = np.asarray(basis, np.float64)
        distance2 = np.sum((center - q @ (q.T @ center)) ** 2)  # dist(c, span Q)^2, apex = 0
        assert float(value) == pytest.approx(distance2 / BALL_RADIUS**2, rel=1e-4, abs=1e-5)
        assert bool(info.converged) and int(info.iterations) == 0
        assert (float(value) <= subspaces.level(body)) == (distance2 <= BALL_RADIUS**2)


def test_ellipsoid_meets_is_the_weighted_least_squares():
    rng = np.random.default_rng(0)
    axes, center, apex = rng.uniform(0.2, 3.0, 8), rng.normal(size=8), rng.normal(size=8)
    body = bodies.Ellipsoid.create(axes, center)
    basis = np.linalg.qr(rng.normal(size=(8, 3)))[0]
    value, _ = subspaces.meets(body, apex, basis)
    weighted = basis / axes[:, None]
    z = np.linalg.lstsq(weighted, (center - apex) / axes, rcond=None)[0]
    expected = np.sum(((apex + basis @ z - center) / axes) ** 2)
    assert float(value) == pytest.approx(expected, rel=1e-4)


def _random_l1_body(dim, seed, rank, *, slope=0.2):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(dim, rank))
    return dict(center=rng.normal(size=dim), gradient=slope * rng.normal(size=dim),
                hessian=a @ a.T / dim, l1=0.3, epsilon=0.1), rng


def _scipy_minimum(body_args, apex, basis):
    """min_z f(x0 + Q z) with x0 + Q z = p - n, p, n >= 0 (smooth objective) by SLSQP."""
    dim, rank = basis.shape
    center, gradient = body_args["center"], body_args["gradient"]
    hessian, l1 = body_args["hessian"], body_args["l1"]

    def objective(v):
        z, p, n = v[:rank], v[rank:rank + dim], v[rank + dim:]
        q = apex + basis @ z - center
        return (gradient @ q + 0.5 * q @ hessian @ q
                + l1 * (np.sum(p + n) - np.abs(center).sum()))

    def coupling(v):
        z, p, n = v[:rank], v[rank:rank + dim], v[rank + dim:]
        return apex + basis @ z - (p - n)

    start = np.concatenate([np.zeros(rank), np.maximum(apex, 0), np.maximum(-apex, 0)])
    res = scipy.optimize.minimize(objective, start, method="SLSQP",
                                  bounds=[(None, None)] * rank + [(0, None)] * (2 * dim),
                                  constraints=[{"type": "eq", "fun": coupling}],
                                  options={"ftol": 1e-14, "maxiter": 5000})
    assert res.success, res.message
    return res.fun


@pytest.mark.parametrize("rank,seed,slope", [(6, 0, 0.2), (2, 1, 0.2), (0, 2, 0.2), (0, 3, 0.0)])
def test_l1_meets_matches_slsqp(x64, rank, seed, slope):
    """Full-rank and rank-deficient Hessians, and zero Hessian with and without a gradient
    (without: min ||x0 + Q z||_1, a linear program whose duality gap certifies)."""
    dim, k = 6, 3
    args, rng = _random_l1_body(dim, seed, rank, slope=slope)
    body = bodies.L1InducedBody.create(**args)
    apex = 2.0 * rng.normal(size=dim)
    basis = np.linalg.qr(rng.normal(size=(dim, k)))[0]
    value, info = subspaces.meets(body, apex, basis,
                                  solver=subspaces.SOLVER._replace(tol=1e-10, max_iters=200000))
    assert value.dtype == jnp.float64
    assert bool(info.converged) and float(info.residual) <= 1e-10
    assert float(value) == pytest.approx(_scipy_minimum(args, apex, basis), abs=1e-6)
    # the value is attained at a point of x0 + span Q, so it can only be above the minimum
    z = np.linalg.lstsq(basis, rng.normal(size=dim), rcond=None)[0]
    assert float(body.value(apex + basis @ z)) >= float(value) - 1e-9


def test_l1_meets_on_the_whole_space_and_on_the_apex_alone(x64):
    args, rng = _random_l1_body(5, 4, 5)
    body = bodies.L1InducedBody.create(**args)
    apex = rng.normal(size=5)
    value0, info0 = subspaces.meets(body, apex, np.zeros((5, 0)))
    assert float(value0) == pytest.approx(float(body.value(apex)), abs=1e-12)
    assert bool(info0.converged)
    full, info = subspaces.meets(body, apex, np.eye(5),
                                 solver=subspaces.SOLVER._replace(tol=1e-10, max_iters=100000))
    unconstrained = _scipy_minimum(args, np.zeros(5), np.eye(5))
    assert bool(info.converged) and float(full) == pytest.approx(unconstrained, abs=1e-6)


# ---------------------------------------------------------------------------------------------
# transition: known answers


def test_ball_transition_matches_the_circular_cone():
    body, apex = _ball()
    dims = np.arange(128, 171, 3)  # 15 points around D - delta ~ 150
    num = 200
    result = subspaces.transition(body, apex, key=jax.random.key(0), dims=dims,
                                  num_subspaces=num)
    delta = closed_forms.ball_cone_statdim(dim=BALL_DIM, radius=BALL_RADIUS,
                                           distance=BALL_DISTANCE)  # 50.5
    # [ALMT Thm I]: the 50% point within a_eta sqrt(D) of D - delta
    assert result.consistent_with(delta)
    assert abs(result.statdim - delta) <= result.half_width_dims
    window = closed_forms.theory_window(BALL_DIM, eta=0.05)
    assert result.a_eta == pytest.approx(window.a_eta) and result.eta == 0.05
    assert result.half_width_dims == pytest.approx(window.half_width * BALL_DIM)
    assert result.half_width_dims == pytest.approx(math.sqrt(8 * math.log(80)) * math.sqrt(200))
    # much tighter: every fraction follows the exact Beta law within 4 binomial SE, and the
    # 50% point is the exact one (k* = 149.67) to ~4 of its standard errors (~0.8 each)
    exact = _ball_meet_probability(dims)
    assert np.all(np.abs(result.fraction.mean - exact)
                  <= 4 * np.sqrt(exact * (1 - exact) / num) + 1.0 / num)
    exact_k50 = scipy.optimize.brentq(lambda k: _ball_meet_probability(k) - 0.5, 100, 190)
    assert abs(result.k50 - exact_k50) <= 3.0
    assert abs(result.statdim - delta) <= 3.5
    lo, hi = result.k50_interval
    assert lo <= result.k50 <= hi and hi - lo < 10
    assert result.removal_ratio_50 == pytest.approx(1 - result.k50 / BALL_DIM)
    assert result.statdim == pytest.approx(BALL_DIM - result.k50)
    np.testing.assert_allclose(result.removal_ratios, 1 - dims / BALL_DIM)
    assert np.all(np.diff(result.fraction.mean) >= 0)  # nested subspaces: monotone in k
    assert result.info.converged and result.info.iterations == 0 and not result.apex_inside
    assert result.fraction.num_samples == num and result.fraction.sem.shape == (15,)
    report = result.to_dict()
    assert report["k50"] == pytest.approx(result.k50) and report["solver_info"]["converged"]


def test_transition_uses_subspace_keys_independent_of_chunks_and_grid():
    dim = 40
    body, apex = _ball(dim)
    key = jax.random.key(7)
    dims = np.array([27, 30, 33])
    a = subspaces.transition(body, apex, key=key, dims=dims, num_subspaces=12)
    b = subspaces.transition(body, apex, key=key, dims=[20, 27, 30, 33, 40],
                             num_subspaces=12, chunk_size=5)
    np.testing.assert_array_equal(a.fraction.mean, b.fraction.mean[1:4])
    assert len(set(a.fraction.mean.tolist())) > 1
    assert b.fraction.mean[-1] == 1.0  # k = D always meets
    by_hand = [[float(subspaces.meets(body, apex, subspaces.random_basis(
        key=jax.random.fold_in(key, i), dim=dim, rank=int(k)))[0]) <= 1.0 for k in dims]
        for i in range(12)]
    np.testing.assert_allclose(a.fraction.mean, np.mean(by_hand, axis=0))


def test_transitions_share_subspaces_and_equal_transition_per_apex():
    """Several apexes through the same subspaces: entry j is transition(apexes[j]) exactly
    (ellipsoid: one QR for all apexes; l1 body: one bisection per apex), an apex inside K is
    fraction 1 without solves, and the ball's fractions follow its Beta law per distance."""
    dim = 40
    body, origin = _ball(dim)
    key = jax.random.key(3)
    dims = np.array([5, 15, 25, 35])
    apexes = jnp.stack([origin, origin + 0.3 * body.center, 0.9 * body.center])
    many = subspaces.transitions(body, apexes, key=key, dims=dims, num_subspaces=10,
                                 chunk_size=4)
    assert len(many) == 3 and [r.apex_inside for r in many] == [False, False, True]
    for apex, result in zip(apexes, many, strict=True):
        one = subspaces.transition(body, apex, key=key, dims=dims, num_subspaces=10)
        np.testing.assert_array_equal(result.fraction.mean, one.fraction.mean)
        assert result.k50 == one.k50 or (math.isnan(result.k50) and math.isnan(one.k50))
    # closer apex (distance 0.7 < 1) meets more often, at every k
    assert np.all(many[1].fraction.mean >= many[0].fraction.mean)
    assert np.any(many[1].fraction.mean > many[0].fraction.mean)
    l1_body, x0 = _sparse_l1_problem(30, 3)
    l1_apexes = jnp.stack([x0, 0.5 * x0])
    l1_many = subspaces.transitions(l1_body, l1_apexes, key=key, dims=[5, 15, 25],
                                    num_subspaces=4)
    one = subspaces.transition(l1_body, x0, key=key, dims=[5, 15, 25], num_subspaces=4)
    np.testing.assert_array_equal(l1_many[0].fraction.mean, one.fraction.mean)
    assert l1_many[0].info == one.info
    assert l1_many[1].apex_inside and l1_many[1].info.iterations == 0


def test_l1_transitions_share_the_masked_spectra_across_apexes():
    # three apexes outside a curved l1 body: 3 bisections x 2 steps > 3 dims, so the masked
    # eigendecompositions are computed once per subspace and shared; each apex must still get
    # exactly its own transition
    dim = 24
    rng = np.random.default_rng(4)
    root = rng.normal(size=(dim, dim)).astype(np.float32) / np.sqrt(dim)
    center = rng.normal(size=dim).astype(np.float32)
    body = bodies.L1InducedBody.create(center=center, l1=0.05, epsilon=0.5,
                                        hessian=root @ root.T,
                                        gradient=0.01 * rng.normal(size=dim).astype(np.float32))
    direction = rng.normal(size=dim).astype(np.float32)
    apexes = jnp.asarray(center + np.array([1.5, 2.0, 3.0])[:, None] * direction)
    assert all(float(body.value(a)) > body.epsilon for a in apexes)
    options = dict(key=jax.random.key(8), dims=[6, 12, 18], num_subspaces=12)
    many = subspaces.transitions(body, apexes, **options)
    for apex, result in zip(apexes, many, strict=True):
        one = subspaces.transition(body, apex, **options)
        np.testing.assert_array_equal(result.fraction.mean, one.fraction.mean)
        assert result.info.converged and one.info.converged
    fractions = np.array([r.fraction.mean for r in many])
    assert np.all(np.diff(fractions, axis=0) <= 0)      # farther apexes meet less often
    assert fractions.min() < 1 and fractions.max() > 0  # the grid sees a transition


def test_transitions_validate_the_apexes():
    body, apex = _ball()
    ok = dict(key=jax.random.key(0), dims=[10, 20], num_subspaces=4)
    with pytest.raises(ValueError, match="apexes must have shape"):
        subspaces.transitions(body, jnp.zeros((2, BALL_DIM + 1)), **ok)
    with pytest.raises(ValueError, match="apexes must have shape"):
        subspaces.transitions(body, jnp.zeros((0, BALL_DIM)), **ok)
    with pytest.raises(ValueError, match="2 dimension"):
        subspaces.transitions(body, apex, **ok)
    with pytest.raises(ValueError, match="NaN|finite"):
        subspaces.transitions(body, jnp.full((1, BALL_DIM), jnp.nan), **ok)


def test_l1_descent_cone_transition_matches_psi():
    """x0 + L0 meets {||w||_1 <= (1 - 0.01) ||x0||_1} iff L0 meets cone(K - x0), which fills the
    l1 descent cone at x0 as the margin -> 0: the compressed-sensing transition, at
    codimension m = d - k ~ delta <= psi(s, d) [ALMT Prop 4.5, Thm 4.3]."""
    dim, sparsity = 100, 10
    body, apex = _sparse_l1_problem(dim, sparsity)
    dims = np.arange(46, 91, 3)  # 15 points around d - psi ~ 67
    result = subspaces.transition(body, apex, key=jax.random.key(1), dims=dims,
                                  num_subspaces=128)
    psi = closed_forms.l1_descent_cone_statdim(sparsity=sparsity, dim=dim)  # 32.88
    lower = closed_forms.l1_descent_cone_statdim_lower_bound(sparsity=sparsity, dim=dim)
    assert result.info.converged
    assert result.consistent_with(psi)  # within a_eta sqrt(d) = 59
    # tighter: inside [psi - 2 sqrt(d/s), psi] up to ~4 standard errors of the 50% point
    assert lower - 3.0 <= result.statdim <= psi + 3.0
    assert result.fraction.mean[0] == 0.0 and result.fraction.mean[-1] == 1.0


def test_apex_inside_the_body_meets_every_subspace():
    body, _ = _ball()
    inside = np.asarray(body.center) * 0.9
    result = subspaces.transition(body, inside, key=jax.random.key(0), dims=[0, 5, 50],
                                  num_subspaces=4)
    assert result.apex_inside and np.all(result.fraction.mean == 1.0)
    assert np.all(result.fraction.sem == 0.0)
    assert math.isnan(result.k50) and math.isnan(result.statdim)
    assert not result.consistent_with(0.0) and result.to_dict()["k50"] is None
    l1_body, x0 = _sparse_l1_problem(20, 3)
    result = subspaces.transition(l1_body, 0.5 * x0, key=jax.random.key(0), dims=[0, 10],
                                  num_subspaces=3)
    assert result.apex_inside and np.all(result.fraction.mean == 1.0)


def test_no_crossing_inside_the_grid_gives_nan():
    body, apex = _ball()
    result = subspaces.transition(body, apex, key=jax.random.key(0), dims=[0, 10, 20],
                                  num_subspaces=5)
    assert np.all(result.fraction.mean == 0.0) and math.isnan(result.k50)
    assert all(math.isnan(x) for x in result.k50_interval)


# ---------------------------------------------------------------------------------------------
# failure paths and validation


def test_exhausted_budget_reaches_the_transition_info():
    body, apex = _sparse_l1_problem(30, 3)
    basis = subspaces.random_basis(key=jax.random.key(0), dim=30, rank=10)
    _, info = subspaces.meets(body, apex, basis, solver=SolverOptions(max_iters=2, check_every=1))
    assert not bool(info.converged) and int(info.iterations) == 2
    result = subspaces.transition(body, apex, key=jax.random.key(0), dims=[5, 15, 25],
                                  num_subspaces=8,
                                  solver=SolverOptions(max_iters=2, check_every=1))
    assert not result.info.converged and result.info.iterations == 2
    assert result.to_dict()["solver_info"]["converged"] is False


def test_validation():
    body, apex = _ball()
    key = jax.random.key(0)
    ok = dict(key=key, dims=[10, 20], num_subspaces=4)
    with pytest.raises(ValueError, match="dims"):
        subspaces.transition(body, apex, **{**ok, "dims": [10, BALL_DIM + 1]})
    with pytest.raises(ValueError, match="dims"):
        subspaces.transition(body, apex, **{**ok, "dims": [-1, 10]})
    with pytest.raises(ValueError, match="dims"):
        subspaces.transition(body, apex, **{**ok, "dims": [20, 10]})
    with pytest.raises(ValueError, match="dims"):
        subspaces.transition(body, apex, **{**ok, "dims": []})
    with pytest.raises(TypeError, match="dims"):
        subspaces.transition(body, apex, **{**ok, "dims": [1.5, 10]})
    with pytest.raises(ValueError, match="num_subspaces"):
        subspaces.transition(body, apex, **{**ok, "num_subspaces": 1})
    with pytest.raises(TypeError, match="key"):
        subspaces.transition(body, apex, dims=[10], num_subspaces=4)
    with pytest.raises(TypeError, match="key"):
        subspaces.transition(body, apex, **{**ok, "key": None})
    with pytest.raises(ValueError, match="apex"):
        subspaces.transition(body, apex.at[3].set(jnp.nan), **ok)
    with pytest.raises(ValueError, match="apex"):
        subspaces.transition(body, apex[:5], **ok)
    with pytest.raises(ValueError, match="eta"):
        subspaces.transition(body, apex, **ok, eta=1.5)
    with pytest.raises(TypeError, match="body"):
        subspaces.transition(bodies.L2Ball.create(BALL_DIM), apex, **ok)
    basis = subspaces.random_basis(key=key, dim=BALL_DIM, rank=3)
    with pytest.raises(ValueError, match="apex"):
        subspaces.meets(body, apex.at[0].set(jnp.nan), basis)
    with pytest.raises(ValueError, match="orthonormal"):
        subspaces.meets(body, apex, 2.0 * basis)
    with pytest.raises(ValueError, match="basis"):
        subspaces.meets(body, apex, basis[:10])
    with pytest.raises(ValueError, match="basis"):
        subspaces.meets(body, apex, basis.at[0, 0].set(jnp.inf))
    l1_body, x0 = _sparse_l1_problem(20, 3)
    l1_basis = subspaces.random_basis(key=key, dim=20, rank=3)
    with pytest.raises(ValueError, match="tol"):
        subspaces.meets(l1_body, x0, l1_basis, solver=SolverOptions(tol=0.0))
    with pytest.raises(ValueError, match="max_iters"):
        subspaces.meets(l1_body, x0, l1_basis, solver=SolverOptions(max_iters=0))
    with pytest.raises(ValueError, match="rank"):
        subspaces.random_basis(key=key, dim=5, rank=6)
    with pytest.raises(TypeError, match="key"):
        subspaces.random_basis(key=None, dim=5, rank=2)


def test_l1_transition_bisection_agrees_with_meets(x64):
    """The bisection over nested subspaces gives the same decisions as solving every k."""
    dim = 16
    args, rng = _random_l1_body(dim, 5, 8)
    args["epsilon"] = 1.0
    body = bodies.L1InducedBody.create(**args)
    apex = args["center"] + 1.5 * rng.normal(size=dim)
    key, dims = jax.random.key(2), np.array([4, 9, 11, 13, 16])
    tight = subspaces.SOLVER._replace(tol=1e-9)
    result = subspaces.transition(body, apex, key=key, dims=dims, num_subspaces=10)
    by_hand = [[float(subspaces.meets(body, apex, subspaces.random_basis(
        key=jax.random.fold_in(key, i), dim=dim, rank=int(k)), solver=tight)[0]) <= 1.0
        for k in dims] for i in range(10)]
    np.testing.assert_allclose(result.fraction.mean, np.mean(by_hand, axis=0))
    assert len(set(result.fraction.mean.tolist())) > 2 and result.info.converged
