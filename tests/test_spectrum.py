import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.flatten_util import ravel_pytree

from phasetrans.networks import spectrum


def _mlp_problem(n=37, seed=0):
    k1, k2, k3, k4 = jax.random.split(jax.random.key(seed), 4)
    params = {"hidden": {"w": jax.random.normal(k1, (5, 6)) * 0.5, "b": jnp.zeros(6)},
              "out": [jax.random.normal(k2, (6, 3)) * 0.5, jnp.zeros(3)]}
    x = jax.random.normal(k3, (n, 5))
    y = jax.random.randint(k4, (n,), 0, 3)

    def loss_fn(p, batch):
        xb, yb = batch
        logits = jnp.tanh(xb @ p["hidden"]["w"] + p["hidden"]["b"]) @ p["out"][0] + p["out"][1]
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), yb[:, None], 1))

    return params, loss_fn, (x, y)


def _exact_hessian(params, loss_fn, data):
    flat, unravel = ravel_pytree(params)
    return jax.hessian(lambda w: loss_fn(unravel(w), data))(flat)


def test_hvp_and_hessian_match_jax_hessian_on_pytree_mlp(x64):
    params, loss_fn, data = _mlp_problem()
    exact = _exact_hessian(params, loss_fn, data)
    v = jax.random.normal(jax.random.key(5), (exact.shape[0],))
    for batch_size in (None, 10, 37):   # 37 = 3 full batches of 10 + a ragged one of 7
        hv = spectrum.hessian_vector_product(loss_fn, params, data, batch_size=batch_size)(v)
        np.testing.assert_allclose(hv, exact @ v, rtol=1e-10, atol=1e-12)
        assert hv.dtype == jnp.float64
    dense = spectrum.hessian_matrix(loss_fn, params, data, batch_size=10)
    np.testing.assert_allclose(dense, exact, rtol=1e-10, atol=1e-12)


def _prescribed(spectrum_values, seed=0):
    rng = np.random.default_rng(seed)
    dim = len(spectrum_values)
    q, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    a = jnp.asarray((q * spectrum_values) @ q.T, jnp.float32)
    return (lambda v: a @ v), np.asarray(spectrum_values, np.float64)


SPECTRA = {
    "decaying": np.logspace(1, -4, 150),
    "step": np.concatenate([np.full(50, 3.0), np.full(50, 1.0), np.zeros(50)]),
    "clustered_with_negatives": np.concatenate([-np.linspace(0.5, 1.0, 20), np.zeros(30),
                                                2.0 + 0.01 * np.arange(60), np.full(40, 8.0)]),
}


@pytest.mark.parametrize("name", sorted(SPECTRA))
def test_lanczos_extremes_and_slq_sums_on_prescribed_spectra(name):
    matvec, lam = _prescribed(SPECTRA[name])
    dim = lam.size
    top, bottom = spectrum.extreme_eigenvalues(matvec, dim=dim, key=jax.random.key(0),
                                               num_iters=80, num=1)
    assert float(top[0]) == pytest.approx(lam.max(), rel=1e-4, abs=1e-4)
    assert float(bottom[0]) == pytest.approx(lam.min(), rel=1e-4, abs=1e-4)
    sq = spectrum.slq(matvec, dim=dim, key=jax.random.key(1), num_probes=48, num_iters=40)
    np.testing.assert_allclose(np.asarray(sq.weights).sum(1), 1.0, rtol=1e-5)
    for f, exact in [(lambda x: x, lam.sum()), (lambda x: x**2, (lam**2).sum()),
                     (lambda x: jnp.exp(-(x**2)), np.exp(-(lam**2)).sum())]:
        est = spectrum.spectral_sum(sq, f)
        assert abs(est.mean - exact) < 4 * est.sem + 1e-3 * abs(exact), (est, exact)


def test_counts_in_spectral_gaps():
    matvec, lam = _prescribed(SPECTRA["clustered_with_negatives"])
    sq = spectrum.slq(matvec, dim=lam.size, key=jax.random.key(2), num_probes=64, num_iters=50)
    negative = spectrum.count_eigenvalues(sq, upper=-0.1)
    assert abs(negative.mean - 20) < 4 * negative.sem + 0.5
    near_zero = spectrum.count_eigenvalues(sq, lower=-0.1, upper=0.1)
    assert abs(near_zero.mean - 30) < 4 * near_zero.sem + 0.5
    grid = jnp.linspace(-3.0, 12.0, 6001)
    density = spectrum.smoothed_density(sq, grid, sigma=0.2)
    assert float(jnp.trapezoid(density, grid)) == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize("method", spectrum.TRACE_METHODS)
def test_trace_estimators(method):
    matvec, lam = _prescribed(SPECTRA["decaying"])
    est = spectrum.trace(matvec, dim=lam.size, key=jax.random.key(3), num_probes=60,
                         method=method)
    assert abs(est.mean - lam.sum()) < 4 * est.sem


def test_slq_on_small_trained_mlp_matches_eigendecomposition(x64):
    params, loss_fn, data = _mlp_problem(n=200, seed=1)
    flat, unravel = ravel_pytree(params)
    opt = optax.adam(0.05)
    state = opt.init(flat)
    for _ in range(150):
        grad = jax.grad(lambda w: loss_fn(unravel(w), data))(flat)
        update, state = opt.update(grad, state)
        flat = flat + update
    params = unravel(flat)
    lam = np.linalg.eigvalsh(np.asarray(spectrum.hessian_matrix(loss_fn, params, data)))
    matvec = spectrum.hessian_vector_product(loss_fn, params, data)
    sq = spectrum.slq(matvec, dim=lam.size, key=jax.random.key(4), num_probes=40, num_iters=40)
    est = spectrum.spectral_sum(sq, lambda x: x)
    assert abs(est.mean - lam.sum()) < 4 * est.sem
    negative = spectrum.count_eigenvalues(sq, upper=0.0)
    assert abs(negative.mean - np.sum(lam < 0)) < 4 * negative.sem + 1.0


def test_slq_probes_are_the_probes_slq_uses(x64):
    """With k = D steps, slq's quadrature of each probe is exact: nodes the eigenvalues and
    weights (u_i . z_p)^2 / D for z_p = slq_probes(...)[p] (Rademacher: ||z_p||^2 = D)."""
    rng = np.random.default_rng(3)
    rotation, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    lam = np.array([0.5, 1.0, 2.0, 3.5, 5.0, 8.0])
    mat = jnp.asarray(rotation * lam @ rotation.T)
    key = jax.random.key(4)
    sq = spectrum.slq(lambda v: mat @ v, dim=6, key=key, num_probes=3, num_iters=6)
    probes = np.asarray(spectrum.slq_probes(key=key, num_probes=3, dim=6))
    assert set(np.unique(probes)) == {-1.0, 1.0}
    np.testing.assert_allclose(sq.nodes, np.broadcast_to(lam, (3, 6)), rtol=1e-8)
    np.testing.assert_allclose(sq.weights, (probes @ rotation) ** 2 / 6, atol=1e-8)
    with pytest.raises(ValueError, match="num_probes"):
        spectrum.slq_probes(key=key, num_probes=0, dim=6)


def test_truncate_is_slq_with_fewer_steps_on_the_same_probes(x64):
    matvec, lam = _prescribed(SPECTRA["clustered_with_negatives"])
    matvec64 = lambda v: matvec(v.astype(jnp.float32)).astype(jnp.float64)  # noqa: E731
    key = jax.random.key(2)
    full = spectrum.slq(matvec64, dim=lam.size, key=key, num_probes=4, num_iters=40)
    assert full.diag.shape == (4, 40) and full.offdiag.shape == (4, 39)
    for steps in (1, 12, 25):
        short = spectrum.slq(matvec64, dim=lam.size, key=key, num_probes=4, num_iters=steps)
        cut = spectrum.truncate(full, steps)
        np.testing.assert_allclose(cut.nodes, short.nodes, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(cut.weights, short.weights, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(cut.diag, short.diag, rtol=1e-12)
    same = spectrum.truncate(full, 40)
    np.testing.assert_allclose(same.nodes, full.nodes, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(same.weights, full.weights, rtol=1e-9, atol=1e-12)
    with pytest.raises(ValueError, match="num_iters"):
        spectrum.truncate(full, 41)
    with pytest.raises(ValueError, match="num_iters"):
        spectrum.truncate(full, 0)
    with pytest.raises(ValueError, match="tridiagonals"):
        spectrum.truncate(spectrum.SpectralQuadrature(full.nodes, full.weights, lam.size), 5)


def test_determinism_and_dtypes():
    """Probes take JAX's default float: float32, or float64 inside jax.enable_x64(True)."""
    matvec, lam = _prescribed(SPECTRA["step"])
    a = spectrum.slq(matvec, dim=lam.size, key=jax.random.key(9), num_probes=4, num_iters=10)
    b = spectrum.slq(matvec, dim=lam.size, key=jax.random.key(9), num_probes=4, num_iters=10)
    np.testing.assert_array_equal(a.nodes, b.nodes)
    assert a.nodes.dtype == jnp.float32
    with jax.enable_x64(True):
        mat = jnp.asarray(np.diag(lam))
        res = spectrum.lanczos(lambda v: mat @ v, dim=lam.size, key=jax.random.key(0),
                               num_iters=5)
        assert res.ritz_values.dtype == jnp.float64


def test_bad_input():
    params, loss_fn, data = _mlp_problem()
    matvec, lam = _prescribed(SPECTRA["step"])
    with pytest.raises(ValueError, match="num_iters must be >= 1"):
        spectrum.lanczos(matvec, dim=150, key=jax.random.key(0), num_iters=0)
    with pytest.raises(ValueError, match="num_iters must be <= 150"):
        spectrum.slq(matvec, dim=150, key=jax.random.key(0), num_iters=151)
    with pytest.raises(TypeError, match="key is required"):
        spectrum.slq(matvec, dim=150, key=None)
    bad = jax.tree_util.tree_map(lambda w: w * jnp.nan, params)
    with pytest.raises(ValueError, match="params.*NaN"):
        spectrum.hessian_vector_product(loss_fn, bad, data)
    with pytest.raises(ValueError, match="data.*NaN"):
        spectrum.hessian_vector_product(loss_fn, params, (data[0] * jnp.nan, data[1]))
    with pytest.raises(ValueError, match="max_dim"):
        spectrum.hessian_matrix(loss_fn, params, data, max_dim=10)
    with pytest.raises(ValueError, match="method must be one of"):
        spectrum.trace(matvec, dim=150, key=jax.random.key(0), method="xtrace")


def test_count_eigenvalues_rejects_nan_and_reversed_bounds():
    matvec, lam = _prescribed(SPECTRA["step"])
    sq = spectrum.slq(matvec, dim=lam.size, key=jax.random.key(0), num_probes=4, num_iters=10)
    with pytest.raises(ValueError, match="lower must be <= upper, got lower = 1.0 > upper = 0.5"):
        spectrum.count_eigenvalues(sq, lower=1.0, upper=0.5)
    with pytest.raises(ValueError, match="upper must be a real number or \\+-inf, got nan"):
        spectrum.count_eigenvalues(sq, upper=float("nan"))
    with pytest.raises(ValueError, match="lower must be a real number"):
        spectrum.count_eigenvalues(sq, lower=np.nan, upper=1.0)
    with pytest.raises(TypeError, match="lower must be a real number"):
        spectrum.count_eigenvalues(sq, lower="0")
    assert spectrum.count_eigenvalues(sq, lower=2.0, upper=2.0).mean == 0.0   # empty interval
    total = spectrum.count_eigenvalues(sq, lower=-np.inf, upper=np.inf)
    assert total.mean == pytest.approx(lam.size, rel=1e-4)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_matvec_is_reported(bad):
    matvec, lam = _prescribed(SPECTRA["step"])

    def poisoned(v):   # a single NaN/Inf entry must be caught
        return matvec(v).at[7].set(bad)

    message = "matvec returned non-finite values"
    with pytest.raises(ValueError, match=message):
        spectrum.lanczos(poisoned, dim=lam.size, key=jax.random.key(0), num_iters=5)
    with pytest.raises(ValueError, match=message):
        spectrum.extreme_eigenvalues(poisoned, dim=lam.size, key=jax.random.key(0), num_iters=5)
    with pytest.raises(ValueError, match=message):
        spectrum.slq(poisoned, dim=lam.size, key=jax.random.key(0), num_probes=3, num_iters=5)


def test_count_bounds_hold_for_every_probe_on_a_dense_spectrum(x64):
    """The Chebyshev-Markov-Stieltjes bracket is exact per probe, whatever the depth, where the
    plain quadrature count is biased far beyond its SEM (a dense cluster around zero)."""
    rng = np.random.default_rng(3)
    values = np.concatenate([rng.normal(scale=0.02, size=150), np.linspace(0.1, 4.0, 150)])
    q, _ = np.linalg.qr(rng.normal(size=(300, 300)))
    a = (q * values) @ q.T
    key = jax.random.key(7)
    sq = spectrum.slq(lambda v: jnp.asarray(a) @ v, dim=300, key=key, num_probes=8, num_iters=20)
    probes = np.asarray(jax.random.rademacher(key, (8, 300), dtype=jnp.float64))
    coefficients = (probes / np.linalg.norm(probes, axis=1, keepdims=True)) @ q
    biased = False
    for lower, upper in ((-np.inf, 0.0), (-0.01, 0.01), (0.5, np.inf), (-0.05, 2.0)):
        inside = (values >= lower) & (values < upper)
        per_probe = 300 * np.sum(coefficients**2 * inside, axis=1)     # D mu_p([lower, upper))
        low_u, high_u = spectrum._distribution_bounds(sq.nodes, sq.weights, upper)
        low_l, high_l = spectrum._distribution_bounds(sq.nodes, sq.weights, lower)
        low = 300 * np.clip(np.asarray(low_u - high_l), 0, 1)
        high = 300 * np.clip(np.asarray(high_u - low_l), 0, 1)
        assert np.all(low <= per_probe + 1e-8) and np.all(per_probe <= high + 1e-8)
        low_est, high_est = spectrum.count_bounds(sq, lower=lower, upper=upper)
        assert low_est.mean == pytest.approx(low.mean()) and high_est.mean == pytest.approx(
            high.mean())
        estimate = spectrum.count_eigenvalues(sq, lower=lower, upper=upper)
        biased |= abs(estimate.mean - inside.sum()) > 4 * estimate.sem + 1
    assert biased   # the scenario is one where the SEM alone would mislead


def test_count_bounds_cover_the_exact_counts_of_a_trained_network():
    from phasetrans.networks import data, nets, train

    ds = data.load("digits")
    net = nets.mlp([64, 16, 10])
    params = train.train(net, ds, key=jax.random.key(0), l1=1e-4, steps=300).params
    loss_fn = nets.cross_entropy(net.apply)
    batch = (ds.x_train, ds.y_train)
    lam = np.linalg.eigvalsh(np.asarray(spectrum.hessian_matrix(loss_fn, params, batch),
                                        np.float64))
    sq = spectrum.slq(spectrum.hessian_vector_product(loss_fn, params, batch), dim=lam.size,
                      key=jax.random.key(1), num_probes=16, num_iters=40)
    for lower, upper in ((-np.inf, 0.0), (-1e-3, 1e-3), (1e-2, np.inf)):
        exact = np.sum((lam >= lower) & (lam < upper))
        low, high = spectrum.count_bounds(sq, lower=lower, upper=upper)
        assert low.mean - 3 * low.sem <= exact <= high.mean + 3 * high.sem, (lower, upper)
        estimate = spectrum.count_eigenvalues(sq, lower=lower, upper=upper)
        error = estimate.sem + (high.mean - low.mean) / 2     # the reported error
        assert abs(estimate.mean - exact) <= 3 * error, (lower, upper)


def test_restrict_is_the_principal_submatrix():
    a = np.random.default_rng(0).normal(size=(7, 7))
    index = np.array([5, 1, 3])
    restricted = spectrum.restrict(lambda v: jnp.asarray(a, v.dtype) @ v, index, 7)
    v = np.array([1.0, -2.0, 0.5], np.float32)
    assert np.asarray(restricted(jnp.asarray(v))) == pytest.approx(
        a[np.ix_(index, index)] @ v, rel=1e-5)


# --- the reorthogonalisation: partial (Simon's estimates), one Gram-Schmidt pass when taken, a
# second only when the first cancels ---

def _reference_lanczos(a, start, num_iters):
    """Full reorthogonalisation, kept here only as the reference (NumPy, a's dtype): alpha,
    then two unconditional classical Gram-Schmidt passes against the whole basis at every step.
    Returns the tridiagonal's (ascending Ritz values, first components)."""
    q = start / np.linalg.norm(start)
    basis, q_prev, beta = np.zeros((num_iters, start.size), a.dtype), np.zeros_like(q), 0.0
    alphas, betas = np.zeros(num_iters), np.zeros(num_iters)
    for i in range(num_iters):
        basis[i] = q
        w = a @ q - beta * q_prev
        alpha = w @ q
        w = w - alpha * q
        for _ in range(2):
            w = w - basis.T @ (basis @ w)
        beta = np.linalg.norm(w)
        ok = beta > 1e3 * np.finfo(a.dtype).eps * max(abs(alpha), 1.0)
        q_prev, q, beta = q, (w / beta if ok else np.zeros_like(w)), (beta if ok else 0.0)
        alphas[i], betas[i] = alpha, beta
    ritz, vectors = np.linalg.eigh(np.diag(alphas) + np.diag(betas[:-1], 1)
                                   + np.diag(betas[:-1], -1))
    return ritz, vectors[0]


def _rotated(values, dtype, seed=0):
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(values.size, values.size)))
    return ((q * values) @ q.T).astype(dtype)


_CLUSTER = np.concatenate([1.0 + 1e-6 * np.random.default_rng(1).random(50),  # within 1e-6
                           np.linspace(2.0, 5.0, 150)])
REORTH_SPECTRA = {
    "separated": np.linspace(1.0, 10.0, 200),
    "clustered": _CLUSTER,
    "negative": -np.logspace(0, 2, 200),
    "indefinite": np.concatenate([-np.linspace(0.5, 3.0, 60), np.linspace(0.1, 8.0, 140)]),
    "low_rank": np.concatenate([np.linspace(1.0, 5.0, 20), np.zeros(180)]),  # rank 20 < 60 steps
}


def _cumulative(nodes, weights, at, tol):
    """The quadrature's distribution function sum_{nodes <= t + tol} weights at each t in at
    (robust to the order of equal nodes, e.g. the spurious zeros after a breakdown)."""
    return np.sum(weights[None, :] * (nodes[None, :] <= at[:, None] + tol), axis=1)


def _moments(nodes, weights, scale):
    return np.array([np.sum(weights * (nodes / scale) ** p) for p in range(12)])


def _assert_same_quadrature(nodes, weights, ref_nodes, ref_weights, scale, tol, nodewise):
    """Same Gauss quadrature as the reference to ``tol``: the extreme nodes (relative to
    ||A|| = scale) and the moments of degree < 12 of the nodes / scale; with ``nodewise`` also
    every node and the distribution function (the weights, whatever the order of equal
    nodes)."""
    nodes, weights = np.asarray(nodes, np.float64), np.asarray(weights, np.float64)
    assert max(abs(nodes[0] - ref_nodes[0]), abs(nodes[-1] - ref_nodes[-1])) <= tol * scale
    assert np.max(np.abs(_moments(nodes, weights, scale)
                         - _moments(ref_nodes, ref_weights, scale))) <= tol
    if nodewise:
        assert np.max(np.abs(nodes - ref_nodes)) <= tol * scale
        at = np.concatenate([nodes, ref_nodes])
        assert np.max(np.abs(_cumulative(nodes, weights, at, tol * scale)
                             - _cumulative(ref_nodes, ref_weights, at, tol * scale))) <= tol


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", sorted(REORTH_SPECTRA))
def test_lanczos_and_slq_match_full_twice_reorthogonalised_reference(name, dtype):
    """Ritz values and weights of ``lanczos`` and SLQ's per-probe nodes and weights equal the
    previous algorithm's, 60 steps on 200 x 200 rotated diagonal matrices: to 1e-6 relative in
    float64; to 2e-5 in float32, where only the extremes and the moments are compared for the
    cluster: 1e-6 wide, it is 8 float32 ulps, below what float32 Lanczos resolves, and its
    interior nodes move by ~1e-2 ||A|| with the rounding alone (the float32 reference differs
    as much from its own float64 run)."""
    values = REORTH_SPECTRA[name]
    scale, num_iters = np.abs(values).max(), 60
    tol = 1e-6 if dtype == "float64" else 2e-5
    nodewise = dtype == "float64" or name != "clustered"
    a = _rotated(values, dtype)
    with jax.enable_x64(dtype == "float64"):
        mat = jnp.asarray(a)
        matvec = lambda v: mat @ v  # noqa: E731
        key = jax.random.key(3)
        res = spectrum.lanczos(matvec, dim=values.size, key=key, num_iters=num_iters)
        assert res.ritz_values.dtype == dtype
        start = np.asarray(jax.random.normal(key, (values.size,)))
        ref_nodes, ref_first = _reference_lanczos(a, start, num_iters)
        _assert_same_quadrature(res.ritz_values, res.first_components**2, ref_nodes,
                                ref_first**2, scale, tol, nodewise)
        sq = spectrum.slq(matvec, dim=values.size, key=key, num_probes=4, num_iters=num_iters)
        probes = np.asarray(jax.random.rademacher(key, (4, values.size), dtype=dtype))
        for p, probe in enumerate(probes):
            ref_nodes, ref_first = _reference_lanczos(a, probe, num_iters)
            _assert_same_quadrature(sq.nodes[p], sq.weights[p], ref_nodes, ref_first**2,
                                    scale, tol, nodewise)
        second = spectrum._lanczos_run(matvec, jnp.asarray(start), num_iters).second_passes
        # a reorthogonalising step needs one pass until an invariant subspace is found
        assert name == "low_rank" or not np.any(second), np.flatnonzero(second)


def test_lanczos_basis_stays_semi_orthogonal_on_a_cluster(x64):
    """60 steps on 50 eigenvalues within 1e-6 of each other (and 150 spread ones): the basis
    is semi-orthogonal (|q_i . q_j| <= sqrt(eps), partial reorthogonalisation) and the Ritz
    vectors orthonormal to the same order."""
    a = jnp.asarray(_rotated(_CLUSTER, np.float64))
    start = jax.random.normal(jax.random.key(0), (200,))
    run = spectrum._lanczos_run(lambda v: a @ v, start, 60)
    assert np.all(np.asarray(run.betas[:-1]) > 0)    # no breakdown: 60 nonzero rows
    gram = np.asarray(run.basis @ run.basis.T)
    root_eps = np.sqrt(np.finfo(np.float64).eps)
    assert np.max(np.abs(gram - np.eye(60))) <= root_eps
    assert not np.any(run.second_passes)
    pairs = spectrum.ritz_pairs(lambda v: a @ v, dim=200, key=jax.random.key(0), num_iters=60)
    assert np.max(np.abs(np.asarray(pairs.vectors.T @ pairs.vectors) - np.eye(60))) <= root_eps


def test_second_gram_schmidt_pass_only_when_the_first_cancels(x64):
    """The DGKS / Kahan-Parlett rule on a given basis: a vector keeping > 1/sqrt(2) of its
    norm gets one pass; a vector 1e-10 away from span(Q) loses almost all of it, gets the
    second pass and comes out orthogonal to working precision; a vector in span(Q) comes out
    zero."""
    rng = np.random.default_rng(0)
    q = jnp.asarray(np.linalg.qr(rng.normal(size=(300, 12)))[0].T)    # 12 orthonormal rows
    outside = rng.normal(size=300)
    outside = jnp.asarray(outside - np.asarray(q.T @ (q @ outside)))
    outside = outside / jnp.linalg.norm(outside)
    inside = q.T @ jnp.asarray(rng.normal(size=12))
    orthogonalise = jax.jit(spectrum._orthogonalise)
    w, norm, _, again, _ = orthogonalise(q, 0.2 * inside + outside, 3)   # keeps ~0.8 of it
    assert not again
    assert float(norm) == pytest.approx(float(jnp.linalg.norm(w)), rel=1e-14)
    assert float(jnp.max(jnp.abs(q @ w))) <= 1e-14 * float(jnp.linalg.norm(w))
    w, norm, along, again, _ = orthogonalise(q, inside + 1e-10 * outside, 3)
    assert again
    assert float(norm) == pytest.approx(float(jnp.linalg.norm(w)), rel=1e-12)
    assert float(along) == pytest.approx(float(q[3] @ inside), rel=1e-12)
    assert float(jnp.linalg.norm(w)) == pytest.approx(1e-10, rel=1e-4)
    assert float(jnp.max(jnp.abs(q @ w))) <= 1e-14 * float(jnp.linalg.norm(w))
    w, norm, _, again, _ = orthogonalise(q, inside, 3)
    assert again and float(jnp.max(jnp.abs(w))) == 0.0 and float(norm) == 0.0


def test_lanczos_basis_is_updated_in_place():
    """The (k, D) basis is one ``lax.scan`` carry written one row per step: no copy of it in
    the compiled program, nor of its transpose (a copy per step would double the memory traffic
    the passes cost), and one scan, so the step (and the matvec) is compiled once."""
    dim, num_iters = 1009, 20
    d = jnp.linspace(0.0, 1.0, dim)
    traced = []

    def matvec(v):
        traced.append(v.shape)
        return d * v

    text = jax.jit(lambda s: spectrum._lanczos_from(matvec, s, num_iters)).lower(
        jnp.ones(dim)).compile().as_text()
    assert traced == [(dim,)]      # one scan: the matvec is traced (and compiled) once
    assert f"[{num_iters},{dim}]" in text
    for big in (f"[{num_iters},{dim}]", f"[{dim},{num_iters}]"):
        assert not [line for line in text.splitlines()
                    if big in line.split("=")[-1].split("(")[0]
                    and (" copy(" in line or " transpose(" in line)], (
            f"the basis {big} is copied")
    # nor of the step's vectors: one copy of w inside the reorthogonalising pass only (the carry
    # of q and q_{i-1} side by side made three per step, 3 x 2 D of memory traffic)
    vector_copies = [line for line in text.splitlines() if f"= f32[{dim}]{{0}} copy(" in line]
    assert len(vector_copies) <= 1, vector_copies


# --- partial reorthogonalisation on larger spectra, against the full-reorthogonalisation
# reference ---

def _bulk_and_outliers(dim, seed=5):
    """A network-Hessian-like spectrum: 5 large outliers over a bulk near zero (a few
    negative)."""
    rng = np.random.default_rng(seed)
    return np.concatenate([[200.0, 120.0, 80.0, 50.0, 30.0], rng.gamma(0.5, 0.2, dim - 5) - 0.05])


PRO_CASES = {   # name: (spectrum, num_iters)
    "separated": (np.linspace(1.0, 10.0, 300), 30),
    "equal": (np.concatenate([np.full(150, 2.0), np.full(150, -1.0), np.linspace(3.0, 5.0, 100)]),
              50),
    "negative": (-np.logspace(0, 3, 800), 60),
    "outliers": (_bulk_and_outliers(2000), 80),
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", sorted(PRO_CASES))
def test_partial_reorthogonalisation_matches_full_reference(name, dtype):
    """Ritz values and weights of ``lanczos`` and SLQ's nodes and weights equal those of full
    reorthogonalisation (two Gram-Schmidt passes every step, :func:`_reference_lanczos`) on
    D = 300..2000, k = 30..80: to 1e-6 of ||A|| in float64; to 1e-5 in float32, 84 float32
    eps: measured, the nodes agree to <= 2e-7 ||A|| (both runs, and the float32 reference
    against its own float64 run, differ by rounding of ~eps ||A||), the weights (distribution
    function) by up to 2.5e-6 on the graded "negative" spectrum (an eigenvector component's
    rounding, eps over a relative gap), so 1e-6 would fail on rounding alone. The basis stays
    semi-orthogonal, max |q_i . q_j| <= sqrt(eps) (i != j). Node by node
    (and the distribution function) except where rounding decides the interior nodes for the
    reference too: "equal" (150-fold eigenvalues: once one converges, rounding seeds further
    copies of it in both algorithms, so the interior nodes move by ~4e-6 ||A|| in float64, and
    the float32 reference's differ from its own float64 run's by 0.8 ||A||), and the float32
    bulk of "outliers" (its nodes are 1e-3 apart, below 1e-5 ||A||): there only the extreme
    nodes and the moments are compared."""
    values, num_iters = PRO_CASES[name]
    nodewise = not (name == "equal" or (name == "outliers" and dtype == "float32"))
    dim, scale = values.size, np.abs(values).max()
    tol = 1e-6 if dtype == "float64" else 1e-5
    a = _rotated(values, dtype)
    with jax.enable_x64(dtype == "float64"):
        mat = jnp.asarray(a)
        matvec = lambda v: mat @ v  # noqa: E731
        key = jax.random.key(11)
        res = spectrum.lanczos(matvec, dim=dim, key=key, num_iters=num_iters)
        start = np.asarray(jax.random.normal(key, (dim,)))
        ref_nodes, ref_first = _reference_lanczos(a, start, num_iters)
        _assert_same_quadrature(res.ritz_values, res.first_components**2, ref_nodes,
                                ref_first**2, scale, tol, nodewise)
        sq = spectrum.slq(matvec, dim=dim, key=key, num_probes=2, num_iters=num_iters)
        probes = np.asarray(jax.random.rademacher(key, (2, dim), dtype=dtype))
        for p, probe in enumerate(probes):
            ref_nodes, ref_first = _reference_lanczos(a, probe, num_iters)
            _assert_same_quadrature(sq.nodes[p], sq.weights[p], ref_nodes, ref_first**2,
                                    scale, tol, nodewise)
        run = spectrum._lanczos_run(matvec, jnp.asarray(start), num_iters)
        basis = np.asarray(run.basis, np.float64)
        gram = basis @ basis.T
        assert np.max(np.abs(gram - np.diag(np.diag(gram)))) <= np.sqrt(np.finfo(dtype).eps)
        assert np.max(np.abs(np.diag(gram) - 1)) <= 100 * np.finfo(dtype).eps


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_reorthogonalisation_starts_when_a_ritz_value_converges(dtype):
    """On outliers over a bulk the top Ritz values converge within a few steps; by Paige's
    theory [Parlett SEP ch. 13] the new vectors then gain components eps ||A|| / r along the
    converged Ritz vector (r its residual), so the estimates should first cross sqrt(eps) one
    step either side of the first step whose smallest Ritz residual r is below sqrt(eps)
    ||A||; from then on the steps reorthogonalise in pairs (each crossing followed by the
    prescribed second step), some steps but not all."""
    values = _bulk_and_outliers(500)
    eps = np.finfo(dtype).eps
    with jax.enable_x64(dtype == "float64"):
        a = jnp.asarray(_rotated(values, dtype))
        num_iters = 40
        run = spectrum._lanczos_run(lambda v: a @ v, jax.random.normal(jax.random.key(0),
                                                                        (500,)), num_iters)
    reorth = np.asarray(run.reorthogonalised)
    alphas, betas = np.asarray(run.alphas, np.float64), np.asarray(run.betas, np.float64)
    residuals = []
    for j in range(num_iters):
        tri = np.diag(alphas[:j + 1]) + np.diag(betas[:j], 1) + np.diag(betas[:j], -1)
        vectors = np.linalg.eigh(tri)[1]
        residuals.append(np.min(betas[j] * np.abs(vectors[-1])) / values.max())
    converged = int(np.argmax(np.asarray(residuals) < np.sqrt(eps)))
    first = int(np.argmax(reorth))
    assert abs(first - converged) <= 1, (first, converged, residuals)
    assert 2 <= reorth.sum() <= num_iters - 5, reorth
    assert reorth[first + 1]          # the step after a crossing is reorthogonalised too
    assert not np.any(run.second_passes)


def test_reorthogonalisation_never_triggers_without_convergence(x64):
    """Equally spaced eigenvalues, 30 steps: no Ritz value converges to sqrt(eps), the
    estimates stay below the threshold and no step reorthogonalises (the basis is still
    orthogonal to far better than sqrt(eps))."""
    a = jnp.asarray(_rotated(np.linspace(1.0, 10.0, 300), np.float64))
    run = spectrum._lanczos_run(lambda v: a @ v, jax.random.normal(jax.random.key(0), (300,)),
                                30)
    assert not np.any(run.reorthogonalised)
    assert float(np.max(run.orthogonality)) < np.sqrt(np.finfo(np.float64).eps)
    gram = np.asarray(run.basis @ run.basis.T)
    assert np.max(np.abs(gram - np.eye(30))) <= 1e-12


def test_ritz_vectors_are_orthonormal_where_the_basis_is_only_semi_orthogonal():
    """float32 on outliers over a bulk: the basis loses orthogonality to ~sqrt(eps) by design,
    the Ritz vectors of ``ritz_pairs`` are orthonormal to the low-rank model's tolerance
    (``_checks.orthonormal_columns``), and the top pair's residual is still the one the
    tridiagonal reports (the orthonormalisation moves it by O(sqrt(eps)))."""
    from phasetrans import _checks

    values = _bulk_and_outliers(2000)
    mat = jnp.asarray(_rotated(values, "float32"))
    key = jax.random.key(11)
    run = spectrum._lanczos_run(lambda v: mat @ v, jax.random.normal(key, (2000,)), 80)
    basis = np.asarray(run.basis, np.float64)
    assert np.max(np.abs(basis @ basis.T - np.eye(80))) > 1e-5  # semi-orthogonal only
    pairs = spectrum.ritz_pairs(lambda v: mat @ v, dim=2000, key=key, num_iters=80)
    _checks.orthonormal_columns("vectors", pairs.vectors)
    top = np.asarray(pairs.vectors[:, -1], np.float64)
    residual = np.linalg.norm(np.asarray(mat, np.float64) @ top - float(pairs.values[-1]) * top)
    assert residual <= float(pairs.residuals[-1]) + float(values.max()) * np.sqrt(
        np.finfo(np.float32).eps)
    assert float(pairs.values[-1]) == pytest.approx(200.0, rel=1e-5)
