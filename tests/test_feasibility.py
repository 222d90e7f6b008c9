"""Exact model feasibility of pruned supports: Schur complement, l1 minimum, matrix-free paths,
nested supports, threshold, failure paths and input validation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import optimize

from phasetrans.estimate import SolverOptions
from phasetrans.geometry import bodies, feasibility

TIGHT = feasibility.ELLIPSOID_SOLVER._replace(tol=1e-12)
L1_10 = feasibility.L1_SOLVER._replace(max_iters=10)


def _eig(matrix):
    lam, vecs = np.linalg.eigh(0.5 * (matrix + matrix.T))
    return np.maximum(lam, 0.0), vecs


def _low_rank_psd(rng, dim, rank):
    """A random PSD matrix X X^T of the given rank and its (clipped) eigendecomposition."""
    x = rng.normal(size=(dim, rank))
    matrix = x @ x.T
    return (matrix, *_eig(matrix))


def _singular_block_problem(seed=0, dim=12, rank=8, kept=6, kept_rank=2):
    """A = B^T B with B (rank, dim) whose kept columns span only kept_rank dimensions, so A_TT
    is singular (rank kept_rank < |T|) and the Schur complement is not zero."""
    rng = np.random.default_rng(seed)
    factor = rng.normal(size=(rank, dim))
    factor[:, :kept] = rng.normal(size=(rank, kept_rank)) @ rng.normal(size=(kept_rank, kept))
    perm = rng.permutation(dim)
    factor = factor[:, perm]
    keep = np.zeros(dim, bool)
    keep[np.argsort(perm)[:kept]] = True  # the columns that were the low-rank block
    center = rng.normal(size=dim)
    return factor.T @ factor, center, keep


def _schur_value(matrix, center, keep):
    t, c = keep, ~keep
    block = matrix[np.ix_(t, t)]
    schur = (matrix[np.ix_(c, c)]
             - matrix[np.ix_(c, t)] @ np.linalg.pinv(block, rcond=1e-10) @ matrix[np.ix_(t, c)])
    return 0.5 * center[c] @ schur @ center[c]


def test_ellipsoid_minimum_is_the_schur_complement_with_a_singular_kept_block(x64):
    matrix, center, keep = _singular_block_problem()
    block = matrix[np.ix_(keep, keep)]
    assert np.linalg.matrix_rank(block) == 2 < keep.sum()  # A_TT singular
    lam, vecs = _eig(matrix)
    res = feasibility.ellipsoid_support_minimum(lam, vecs, center, keep, solver=TIGHT)
    expected = _schur_value(matrix, center, keep)
    assert expected > 0.1
    assert float(res.value) == pytest.approx(expected, rel=1e-9)
    # an independent optimiser on q_T gives the same minimum
    q0 = np.where(keep, 0.0, -center)

    def model(x):
        q = q0.copy()
        q[keep] = x
        return 0.5 * q @ matrix @ q, (matrix @ q)[keep]

    scipy_min = optimize.minimize(model, np.zeros(keep.sum()), jac=True, method="BFGS",
                                  options={"gtol": 1e-12}).fun
    assert float(res.value) == pytest.approx(scipy_min, rel=1e-8, abs=1e-12)
    # the point is the minimum-norm minimiser (pseudo-inverse), exactly 0 off T
    point = np.asarray(res.point)
    assert np.all(point[~keep] == 0.0)
    min_norm = -np.linalg.pinv(block, rcond=1e-10) @ matrix[np.ix_(keep, ~keep)] @ q0[~keep]
    np.testing.assert_allclose(point[keep] - center[keep], min_norm, atol=1e-6)
    assert bool(res.info.converged) and float(res.info.residual) <= 1e-12
    assert 0.5 * (point - center) @ matrix @ (point - center) == pytest.approx(
        float(res.value), rel=1e-10)


@pytest.mark.parametrize("seed", [1, 2])
def test_ellipsoid_minimum_on_random_supports_of_a_rank_deficient_matrix(x64, seed):
    rng = np.random.default_rng(seed)
    dim = 12
    matrix, lam, vecs = _low_rank_psd(rng, dim, 5)
    center = rng.normal(size=dim)
    for kept in (3, 5, 8):  # |T| below, at and above the rank
        keep = np.zeros(dim, bool)
        keep[rng.choice(dim, kept, replace=False)] = True
        res = feasibility.ellipsoid_support_minimum(lam, vecs, center, keep, solver=TIGHT)
        assert float(res.value) == pytest.approx(_schur_value(matrix, center, keep),
                                                 rel=1e-8, abs=1e-12)
        assert bool(res.info.converged)


def test_empty_and_full_supports(x64):
    rng = np.random.default_rng(3)
    dim = 10
    matrix, lam, vecs = _low_rank_psd(rng, dim, 4)
    center = rng.normal(size=dim)
    gradient = 0.1 * rng.uniform(-1, 1, dim)
    none, everything = np.zeros(dim, bool), np.ones(dim, bool)
    body = bodies.L1InducedBody.create(center=center, l1=0.5, epsilon=1.0, hessian=matrix,
                                       gradient=gradient)

    def matvec(v):
        return jnp.asarray(matrix) @ v

    for res in (feasibility.ellipsoid_support_minimum(lam, vecs, center, none),
                feasibility.ellipsoid_support_minimum_matfree(matvec, center, none)):
        assert float(res.value) == pytest.approx(0.5 * center @ matrix @ center, rel=1e-12)
        assert np.all(np.asarray(res.point) == 0.0) and bool(res.info.converged)
    for res in (feasibility.ellipsoid_support_minimum(lam, vecs, center, everything),
                feasibility.ellipsoid_support_minimum_matfree(matvec, center, everything)):
        assert float(res.value) == 0.0 and bool(res.info.converged)
        np.testing.assert_array_equal(res.point, center)
    empty = feasibility.l1_support_minimum(body, none)
    assert float(empty.value) == pytest.approx(float(body.value(jnp.zeros(dim))), rel=1e-12)
    assert bool(empty.info.converged) and np.all(np.asarray(empty.point) == 0.0)
    # the full support: w* is not the l1 model's minimiser (g* != 0), but the value is <= 0
    full = feasibility.l1_support_minimum(body, everything)
    assert float(full.value) <= 0.0 and bool(full.info.converged)


def _l1_reference(matrix, gradient, center, l1, keep):
    """SLSQP on the split variables w_T = u - v, u, v >= 0."""
    kept = np.flatnonzero(keep)
    k = kept.size

    def unpack(z):
        w = np.zeros_like(center)
        w[kept] = z[:k] - z[k:]
        return w

    def fun(z):
        q = unpack(z) - center
        return (gradient @ q + 0.5 * q @ matrix @ q
                + l1 * (np.sum(z) - np.abs(center).sum()))

    def jac(z):
        grad = (gradient + matrix @ (unpack(z) - center))[kept]
        return np.concatenate([grad + l1, -grad + l1])

    z0 = np.concatenate([np.maximum(center[kept], 0), np.maximum(-center[kept], 0)])
    res = optimize.minimize(fun, z0, jac=jac, method="SLSQP", bounds=[(0, None)] * (2 * k),
                            options={"ftol": 1e-15, "maxiter": 2000})
    assert res.success
    return res.fun


def _l1_problem(seed=4, dim=12, rank=6):
    rng = np.random.default_rng(seed)
    matrix = _low_rank_psd(rng, dim, rank)[0]
    center = rng.laplace(size=dim)
    l1 = 0.3
    gradient = 0.5 * l1 * rng.uniform(-1, 1, dim)
    body = bodies.L1InducedBody.create(center=center, l1=l1, epsilon=0.1, hessian=matrix,
                                       gradient=gradient)
    return matrix, center, gradient, l1, body


def test_l1_minimum_matches_slsqp_with_a_certified_gap(x64):
    matrix, center, gradient, l1, body = _l1_problem()
    rng = np.random.default_rng(5)
    for kept in (4, 8, 10):  # A_TT singular for |T| > rank 6
        keep = np.zeros(center.size, bool)
        keep[rng.choice(center.size, kept, replace=False)] = True
        res = feasibility.l1_support_minimum(body, keep)
        reference = _l1_reference(matrix, gradient, center, l1, keep)
        assert float(res.value) == pytest.approx(reference, abs=1e-6)
        assert bool(res.info.converged) and float(res.info.residual) <= 1e-8
        assert float(res.value) == pytest.approx(float(body.value(res.point)), abs=1e-12)
        assert np.all(np.asarray(res.point)[~keep] == 0.0)
        # the gap bounds the suboptimality of an unconverged iterate too (a valid certificate)
        early = feasibility.l1_support_minimum(body, keep, solver=L1_10)
        gap = float(early.info.residual) * max(1.0, abs(float(early.value)))
        assert float(early.value) - float(res.value) <= gap + 1e-12


def test_l1_minimum_matches_soft_thresholding_on_a_diagonal_hessian(x64):
    rng = np.random.default_rng(6)
    dim = 10
    curvature = rng.uniform(0.5, 3.0, dim)
    curvature[:3] = 0.0  # flat directions: the l1 term alone bounds them
    center = rng.laplace(size=dim)
    l1 = 0.4
    gradient = 0.6 * l1 * rng.uniform(-1, 1, dim)
    keep = rng.random(dim) < 0.7
    keep[:2] = True
    body = bodies.L1InducedBody.create(center=center, l1=l1, epsilon=0.1,
                                       eigenvalues=curvature, eigenvectors=np.eye(dim),
                                       gradient=gradient)
    res = feasibility.l1_support_minimum(body, keep)
    # coordinate-wise: min_w g (w - c) + a/2 (w - c)^2 + lam |w| is soft thresholding
    safe = np.where(curvature > 0, curvature, 1.0)
    shifted = center - gradient / safe
    soft = np.sign(shifted) * np.maximum(np.abs(shifted) - l1 / safe, 0.0)
    expected = np.where(keep & (curvature > 0), soft, 0.0)  # |g| < lam: flat ones go to 0
    np.testing.assert_allclose(res.point, expected, atol=1e-9)
    assert float(res.value) == pytest.approx(float(body.value(jnp.asarray(expected))),
                                             abs=1e-12)
    assert bool(res.info.converged)


def test_l1_with_zero_strength_is_the_ellipsoid(x64):
    matrix, center, keep = _singular_block_problem(seed=7)
    lam, vecs = _eig(matrix)
    body = bodies.L1InducedBody.create(center=center, l1=0.0, epsilon=1.0, eigenvalues=lam,
                                       eigenvectors=vecs)
    as_l1 = feasibility.l1_support_minimum(
        body, keep, solver=feasibility.L1_SOLVER._replace(max_iters=5000))
    exact = feasibility.ellipsoid_support_minimum(lam, vecs, center, keep)
    assert float(as_l1.value) == pytest.approx(float(exact.value), rel=1e-8)


def _shapes(jaxpr):
    """Every variable shape in a jaxpr and its sub-jaxprs (jit, while, cond bodies)."""
    jaxpr = getattr(jaxpr, "jaxpr", jaxpr)
    for var in [*jaxpr.invars, *jaxpr.constvars]:
        yield var.aval.shape
    for eqn in jaxpr.eqns:
        for var in eqn.outvars:
            yield var.aval.shape
        for param in eqn.params.values():
            for sub in param if isinstance(param, tuple | list) else (param,):
                if hasattr(sub, "eqns") or hasattr(getattr(sub, "jaxpr", None), "eqns"):
                    yield from _shapes(sub)


def test_matrix_free_paths_match_dense_and_never_build_the_matrix(x64):
    rng = np.random.default_rng(8)
    dim, rank = 40, 15
    basis = jnp.asarray(rng.normal(size=(dim, rank)))
    scales = jnp.asarray(rng.uniform(0.1, 2.0, rank))

    def matvec(v):  # A = U diag(s) U^T of rank 15, only ever applied
        return basis @ (scales * (basis.T @ v))

    matrix = np.asarray(basis) @ np.diag(np.asarray(scales)) @ np.asarray(basis).T
    lam, vecs = _eig(matrix)
    center = rng.laplace(size=dim)
    gradient = 0.2 * rng.uniform(-1, 1, dim)
    l1 = 0.5
    body = bodies.L1InducedBody.create(center=center, l1=l1, epsilon=1.0, eigenvalues=lam,
                                       eigenvectors=vecs, gradient=gradient)
    keeps = np.stack([rng.random(dim) < f for f in (0.2, 0.5, 0.9)])  # |T| < = > rank
    for keep in keeps:
        dense = feasibility.ellipsoid_support_minimum(lam, vecs, center, keep)
        free = feasibility.ellipsoid_support_minimum_matfree(matvec, center, keep)
        assert float(free.value) == pytest.approx(float(dense.value), rel=1e-6, abs=1e-9)
        assert bool(free.info.converged)
        dense = feasibility.l1_support_minimum(body, keep)
        free = feasibility.l1_support_minimum_matfree(matvec, center, keep, l1=l1,
                                                      gradient=gradient)
        assert float(free.value) == pytest.approx(float(dense.value), abs=1e-6)
        assert bool(free.info.converged)
    # only matvecs: no (D, D) array anywhere in the traced computation
    for fn in (lambda k: feasibility.support_minima(k, center=center, matvec=matvec),
               lambda k: feasibility.support_minima(k, center=center, matvec=matvec, l1=l1,
                                                    gradient=gradient)):
        shapes = set(_shapes(jax.make_jaxpr(fn)(jnp.asarray(keeps))))
        assert (dim, dim) not in shapes and (3, dim) in shapes
    with pytest.raises(TypeError, match="matvec must be a function"):
        feasibility.ellipsoid_support_minimum_matfree(matrix, center, keeps[0])
    with pytest.raises(TypeError, match="matvec must be a function"):
        feasibility.l1_support_minimum_matfree(jnp.asarray(matrix), center, keeps[0], l1=l1)


def _magnitude_keeps(center, ratios):
    rank = np.empty(center.size, int)
    rank[np.argsort(np.abs(center), kind="stable")] = np.arange(center.size)
    return np.stack([rank >= np.floor(p * center.size + 1e-6) for p in ratios])


def test_nested_supports_are_monotone_and_batching_equals_a_loop(x64):
    rng = np.random.default_rng(9)
    dim = 30
    matrix, lam, vecs = _low_rank_psd(rng, dim, 12)
    center = rng.laplace(size=dim)
    body = bodies.L1InducedBody.create(center=center, l1=0.5, epsilon=1.0, eigenvalues=lam,
                                       eigenvectors=vecs,
                                       gradient=0.2 * rng.uniform(-1, 1, dim))
    ratios = np.linspace(0.0, 1.0, 11)
    keeps = _magnitude_keeps(center, ratios)
    ell = feasibility.support_minima(keeps, center=center, eigenvalues=lam, eigenvectors=vecs)
    l1b = feasibility.support_minima(keeps, body=body)
    for batch in (ell, l1b):
        assert batch.value.shape == (11,) and batch.point.shape == (11, dim)
        assert batch.info.residual.shape == (11,) and bool(jnp.all(batch.info.converged))
        assert np.all(np.diff(np.asarray(batch.value)) >= -1e-9)  # smaller feasible sets
    assert float(ell.value[0]) == 0.0 and float(ell.value[-1]) > 1.0
    loop_ell = [feasibility.ellipsoid_support_minimum(lam, vecs, center, k) for k in keeps]
    loop_l1 = [feasibility.l1_support_minimum(body, k) for k in keeps]
    np.testing.assert_allclose(ell.value, [r.value for r in loop_ell], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ell.point, [r.point for r in loop_ell], atol=1e-6)
    np.testing.assert_allclose(l1b.value, [r.value for r in loop_l1], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(l1b.point, [r.point for r in loop_l1], atol=1e-8)
    # supports that are not nested take the per-support factorisation: same answers
    mixed = keeps[[3, 5, 7]].copy()
    mixed[0, np.flatnonzero(~mixed[0])[0]] = True
    mixed[1, np.flatnonzero(mixed[1])[0]] = False
    batch = feasibility.support_minima(mixed, center=center, eigenvalues=lam, eigenvectors=vecs)
    np.testing.assert_allclose(
        batch.value,
        [feasibility.ellipsoid_support_minimum(lam, vecs, center, k).value for k in mixed],
        rtol=1e-9, atol=1e-12)
    # the model's threshold on the grid
    eps = float(ell.value[6])
    found = feasibility.threshold(ratios, ell.value, eps)
    assert found.removal_ratio == pytest.approx(ratios[6])
    np.testing.assert_array_equal(found.fractions, np.asarray(ell.value) <= eps)


def test_solver_failure_is_reported(x64):
    matrix, center, gradient, l1, body = _l1_problem(seed=10)
    keep = np.arange(center.size) % 3 != 0
    res = feasibility.l1_support_minimum(body, keep, solver=L1_10)
    assert not bool(res.info.converged) and float(res.info.residual) > 1e-8
    assert int(res.info.iterations) == 10

    def matvec(v):
        return jnp.asarray(matrix) @ v

    res = feasibility.ellipsoid_support_minimum_matfree(
        matvec, center, keep, solver=SolverOptions(max_iters=1, check_every=1))
    assert not bool(res.info.converged) and float(res.info.residual) > 1e-8
    lam, vecs = _eig(matrix)
    batch = feasibility.support_minima(np.stack([keep, keep]), center=center, eigenvalues=lam,
                                       eigenvectors=vecs,
                                       solver=SolverOptions(1e-300, 1, 1))
    assert not bool(jnp.any(batch.info.converged))


def test_threshold_is_the_first_failure():
    ratios = np.linspace(0.0, 0.4, 5)
    found = feasibility.threshold(ratios, [0.0, 0.1, 0.5, 2.0, 0.3], 1.0)
    assert found.removal_ratio == pytest.approx(0.2)  # 0.4 passes again, after a failure
    np.testing.assert_array_equal(found.fractions, [1, 1, 1, 0, 1])
    assert feasibility.threshold(ratios, np.zeros(5), 1.0).removal_ratio == pytest.approx(0.4)
    assert feasibility.threshold(ratios, np.full(5, 3.0), 1.0).removal_ratio == 0.0
    several = feasibility.threshold(ratios, [[0, 0, 0, 2, 2], [0, 0, 2, 2, 2]], 1.0)
    np.testing.assert_allclose(several.fractions, [1, 1, 0.5, 0, 0])
    assert several.removal_ratio == pytest.approx(0.1)


def test_bad_inputs_raise_clear_errors():
    rng = np.random.default_rng(11)
    dim = 6
    _, lam, vecs = _low_rank_psd(rng, dim, dim)
    center = rng.normal(size=dim)
    keep = np.ones(dim, bool)
    ell = feasibility.ellipsoid_support_minimum
    with pytest.raises(ValueError, match=r"keep must have shape \(6,\)"):
        ell(lam, vecs, center, np.ones(dim + 1, bool))
    with pytest.raises(TypeError, match="keep must have dtype bool"):
        ell(lam, vecs, center, np.ones(dim, int))
    with pytest.raises(TypeError, match="keep must be a bool array"):
        ell(lam, vecs, center, "all")
    with pytest.raises(ValueError, match="center contains NaN"):
        ell(lam, vecs, np.full(dim, np.nan), keep)
    with pytest.raises(ValueError, match="eigenvalues contains NaN"):
        ell(np.full(dim, np.nan), vecs, center, keep)
    with pytest.raises(ValueError, match="eigenvalues must be >= 0"):
        ell(lam - 10 * lam.max(), vecs, center, keep)
    with pytest.raises(ValueError, match="orthonormal"):
        ell(lam, 2 * vecs, center, keep)
    with pytest.raises(ValueError, match="D <= 5000"):
        ell(np.ones(5001), np.eye(2), np.zeros(5001), np.ones(5001, bool))
    with pytest.raises(ValueError, match=r"keeps must have shape \('G', 6\)"):
        feasibility.support_minima(keep, center=center, eigenvalues=lam, eigenvectors=vecs)
    with pytest.raises(ValueError, match="exactly one of"):
        feasibility.support_minima(keep[None], center=center, eigenvalues=lam,
                                   eigenvectors=vecs, matvec=lambda v: v)
    body = bodies.L1InducedBody.create(center=center, l1=0.1, epsilon=1.0, eigenvalues=lam,
                                       eigenvectors=vecs)
    with pytest.raises(ValueError, match="body already holds"):
        feasibility.support_minima(keep[None], body=body, center=center)
    with pytest.raises(TypeError, match="L1InducedBody"):
        feasibility.l1_support_minimum((lam, vecs), keep)
    with pytest.raises(ValueError, match="l1 must be >= 0"):
        feasibility.l1_support_minimum_matfree(lambda v: v, center, keep, l1=-1.0)
    with pytest.raises(ValueError, match="matvec returned NaN"):
        feasibility.ellipsoid_support_minimum_matfree(lambda v: v * jnp.nan, center, keep)
    with pytest.raises(ValueError, match="matvec must map"):
        feasibility.ellipsoid_support_minimum_matfree(lambda v: v[:2], center, keep)
    ratios = np.linspace(0, 1, 3)
    for eps in (0.0, -1.0):
        with pytest.raises(ValueError, match="epsilon must be > 0"):
            feasibility.threshold(ratios, np.zeros(3), eps)
    with pytest.raises(ValueError, match="values contains NaN"):
        feasibility.threshold(ratios, [0.0, np.nan, 1.0], 1.0)
    with pytest.raises(ValueError, match="strictly increasing"):
        feasibility.threshold(ratios[::-1], np.zeros(3), 1.0)
    with pytest.raises(ValueError, match="values must have shape"):
        feasibility.threshold(ratios, np.zeros(4), 1.0)


def test_float32_by_default():
    rng = np.random.default_rng(12)
    dim = 12
    x = rng.normal(size=(dim, dim))
    matrix = x @ x.T / dim + np.eye(dim)
    lam, vecs = _eig(matrix)
    center = rng.normal(size=dim)
    keep = rng.random(dim) < 0.5
    res = feasibility.ellipsoid_support_minimum(lam, vecs, center, keep)
    assert res.value.dtype == jnp.float32 and res.point.dtype == jnp.float32
    assert bool(res.info.converged)
    assert float(res.value) == pytest.approx(_schur_value(matrix, center, keep), rel=1e-4)
