import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import optimize

from phasetrans.networks import data, nets, nettrim, prune, train

GRID = np.array([0.0, 0.3, 0.55, 1.0])


def _layer(seed, n=12, num_in=5, num_out=3, *, linear=False):
    """Random inputs, weights and the layer's reference outputs (float64 NumPy)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, num_in))
    w, b = rng.normal(size=(num_in, num_out)), 0.5 * rng.normal(size=num_out)
    y = x @ w + b
    return x, w, b, (y if linear else np.maximum(y, 0))


def _active(y, linear):
    return np.ones(y.shape, bool) if linear else y > 0


def _constraints(x, y, weights, bias, linear):
    """(||(X W + b - Y)_Omega||_F, max of X W + b off Omega (or -inf))."""
    out = x @ np.asarray(weights) + np.asarray(bias)
    active = _active(y, linear)
    off = out[~active]
    return np.linalg.norm(np.where(active, out - y, 0)), (off.max() if off.size else -np.inf)


def _slsqp(x, y, epsilon, linear):
    """min sum(P + N) over W = P - N (P, N >= 0), free b, s.t. the Net-Trim constraints."""
    n, num_in = x.shape
    num_out = y.shape[1]
    k = num_in * num_out
    active = _active(y, linear)
    rows, cols = np.nonzero(~active)

    def unpack(z):
        return (z[:k] - z[k:2 * k]).reshape(num_in, num_out), z[2 * k:]

    def fit(z):
        w, b = unpack(z)
        return np.where(active, x @ w + b - y, 0)

    def fit_jac(z):
        grad = -2 * (x.T @ fit(z)).ravel()
        return np.concatenate([grad, -grad, -2 * fit(z).sum(0)])

    off_jac = np.zeros((rows.size, 2 * k + num_out))  # d/dz of -(X W + b)[i, j] off Omega
    for r, (i, j) in enumerate(zip(rows, cols, strict=True)):
        off_jac[r, j:k:num_out] = -x[i]
        off_jac[r, k + j:2 * k:num_out] = x[i]
        off_jac[r, 2 * k + j] = -1.0
    constraints = [{"type": "ineq", "fun": lambda z: epsilon**2 - np.sum(fit(z)**2),
                    "jac": fit_jac}]
    if rows.size:
        constraints.append({"type": "ineq", "fun": lambda z: -(x @ unpack(z)[0]
                                                               + unpack(z)[1])[rows, cols],
                            "jac": lambda z: off_jac})
    cost = np.concatenate([np.ones(2 * k), np.zeros(num_out)])
    start = np.linalg.lstsq(np.c_[x, np.ones(n)], np.where(active, y, 0), rcond=None)[0]
    z0 = np.concatenate([np.maximum(start[:-1], 0).ravel(), np.maximum(-start[:-1], 0).ravel(),
                         start[-1]])
    result = optimize.minimize(lambda z: cost @ z, z0, jac=lambda z: cost, method="SLSQP",
                               bounds=[(0, None)] * (2 * k) + [(None, None)] * num_out,
                               constraints=constraints,
                               options={"ftol": 1e-12, "maxiter": 5000})
    assert result.success, result.message
    return result.fun, *unpack(result.x)


@pytest.mark.parametrize(("seed", "linear", "relative"),
                         [(0, False, 0.25), (1, False, 0.1), (2, True, 0.3), (3, True, 0.1)])
def test_layer_matches_slsqp_and_meets_the_constraints(x64, seed, linear, relative):
    x, w, _, y = _layer(seed, linear=linear)
    epsilon = relative * np.linalg.norm(y)
    sol = nettrim.solve_layer(x, y, epsilon=epsilon, linear=linear, tol=1e-11,
                              max_iters=100_000)
    assert bool(sol.info.converged) and sol.weights.dtype == jnp.float64
    fit, off = _constraints(x, y, sol.weights, sol.bias, linear)
    assert fit <= epsilon * (1 + 1e-7)
    assert off <= 1e-7 * np.abs(y).max()
    reference, w_ref, b_ref = _slsqp(x, y, epsilon, linear)
    fit_ref, off_ref = _constraints(x, y, w_ref, b_ref, linear)
    assert fit_ref <= epsilon * (1 + 1e-7) and off_ref <= 1e-7
    objective = float(jnp.sum(jnp.abs(sol.weights)))
    assert objective == pytest.approx(reference, abs=1e-5)
    assert 0.2 < objective < 0.95 * np.abs(w).sum()  # a genuinely constrained, pruned answer
    # the ball is active at the optimum (a smaller l1 norm would otherwise be feasible)
    assert fit == pytest.approx(epsilon, rel=1e-6)


@pytest.mark.parametrize("linear", [False, True])
def test_zero_weights_exactly_when_they_are_feasible(x64, linear):
    x, _, _, y = _layer(4, linear=linear)
    # with a free bias, W = 0 is feasible iff eps >= ||Y_Omega||_F for ReLU (every unit has an
    # inactive sample, so its bias must be <= 0), iff eps >= ||Y - column means||_F if linear
    assert linear or np.all((y == 0).any(axis=0))
    critical = np.linalg.norm(y - y.mean(0) if linear else y)
    loose = nettrim.solve_layer(x, y, epsilon=1.01 * critical, linear=linear, tol=1e-11,
                                max_iters=100_000)
    assert bool(loose.info.converged)
    assert np.all(np.asarray(loose.weights) == 0.0)
    tight = nettrim.solve_layer(x, y, epsilon=0.97 * critical, linear=linear, tol=1e-11,
                                max_iters=100_000)
    assert bool(tight.info.converged) and np.any(np.asarray(tight.weights) != 0.0)


def test_tight_epsilon_recovers_the_weights_of_a_well_determined_layer(x64):
    x, w, b, y = _layer(5)
    b = b + 10.0  # every unit active on every sample: 12 equations for 6 unknowns per unit
    y = x @ w + b
    assert np.all(y > 0)
    sol = nettrim.solve_layer(x, y, epsilon=1e-7 * np.linalg.norm(y), tol=1e-10,
                              max_iters=100_000)
    assert bool(sol.info.converged)
    np.testing.assert_allclose(sol.weights, w, atol=1e-6)
    np.testing.assert_allclose(sol.bias, b, atol=1e-6)


def test_exhausted_budget_is_reported(x64):
    x, _, _, y = _layer(6)
    sol = nettrim.solve_layer(x, y, epsilon=0.05 * np.linalg.norm(y), max_iters=20)
    assert not bool(sol.info.converged)
    assert int(sol.info.iterations) == 20 and float(sol.info.residual) > 1e-8


@pytest.fixture(scope="module")
def mlp():
    """A 64-16-16-10 ReLU MLP briefly trained on digits, and 200 training inputs (float32)."""
    ds = data.load("digits")
    net = nets.mlp([64, 16, 16, 10])
    params = train.train(net, ds, key=jax.random.key(0), steps=300).params
    return net, params, ds.x_train[:200]


PRUNE_TOL = 1e-8  # float64 prune and layer solves, so that they agree to ~1e-7


@pytest.fixture(scope="module")
def pruned(mlp):
    """(params, x, {variant: NetTrimResult}) in float64 at epsilon 0.05 on GRID."""
    net, params, x = mlp
    with jax.enable_x64(True):
        params, x = jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float64), (params, x))
        return params, x, {variant: nettrim.prune(net.apply, params, x, GRID, epsilon=0.05,
                                                  variant=variant, tol=PRUNE_TOL)
                           for variant in nettrim.VARIANTS}


def _at(tree, j):
    return jax.tree_util.tree_map(lambda a: a[j], tree)


@pytest.mark.parametrize("variant", nettrim.VARIANTS)
def test_prune_removes_floor_p_n_per_layer(pruned, variant):
    result = pruned[2][variant]
    assert result.info.converged and result.info.residual <= PRUNE_TOL
    removed = [[int(np.sum(~np.asarray(m[j]))) for m in jax.tree_util.tree_leaves(result.masks)]
               for j in range(len(GRID))]
    # leaves in order b0, w0 (64 x 16 = 1024), b1, w1 (16 x 16 = 256), b2, w2 (16 x 10 = 160);
    # e.g. floor(0.3 * 1024) = 307, floor(0.55 * 256) = 140
    assert removed == [[0, 0, 0, 0, 0, 0], [0, 307, 0, 76, 0, 48], [0, 563, 0, 140, 0, 88],
                       [0, 1024, 0, 256, 0, 160]]
    for w, m in zip(jax.tree_util.tree_leaves(result.params),
                    jax.tree_util.tree_leaves(result.masks), strict=True):
        assert w.shape == m.shape and w.shape[0] == len(GRID) and m.dtype == bool
        assert w.dtype == jnp.float64
        assert np.all(np.asarray(w)[~np.asarray(m)] == 0.0)


def _assert_ranked(got, mask, solution, ratio):
    """``got``/``mask`` keep the floor(p n) largest |entries| of ``solution`` (layerwise)."""
    expected = prune.layerwise_magnitude(solution, ratio)
    for a, b in zip(jax.tree_util.tree_leaves(mask), jax.tree_util.tree_leaves(expected),
                    strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(jax.tree_util.tree_leaves(got),
                    jax.tree_util.tree_leaves(prune.apply_mask(solution, expected)), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)  # the same solve, compiled inside prune


def test_parallel_is_one_solve_per_layer_ranked_by_magnitude(x64, pruned):
    params, x, results = pruned
    result = results["parallel"]
    inputs = [x]
    for layer in params[:-1]:
        inputs.append(jax.nn.relu(inputs[-1] @ layer["w"] + layer["b"]))
    solution = []
    for l, layer in enumerate(params):
        linear = l == len(params) - 1
        y = inputs[l] @ layer["w"] + layer["b"]
        y = y if linear else jax.nn.relu(y)
        sol = nettrim.solve_layer(inputs[l], y, epsilon=0.05 * float(jnp.linalg.norm(y)),
                                  linear=linear, tol=PRUNE_TOL)
        solution.append({"w": sol.weights, "b": sol.bias})
    for j, p in enumerate(GRID):
        _assert_ranked(_at(result.params, j), _at(result.masks, j), solution, float(p))
    for m in jax.tree_util.tree_leaves(result.masks):  # nested: kept at p' > p => kept at p
        assert np.all(np.asarray(m[1:]) <= np.asarray(m[:-1]))


def test_cascade_fits_each_layer_to_the_pruned_inputs(x64, pruned):
    """Layer l: inputs X^_l from the pruned layers, reference Y_l the original outputs, bound
    max(X^_l W_l + b_l, 0) off Omega, radius max(eps ||Y_l||, gamma ||(X^_l W_l + b_l -
    Y_l)_Omega||): the same program as in the paper's cascade, with W_l always feasible."""
    params, x, results = pruned
    j = 2
    got, mask = _at(results["cascade"].params, j), _at(results["cascade"].masks, j)
    original, inputs = x, x
    for l, layer in enumerate(params):
        linear = l == len(params) - 1
        reference = inputs @ layer["w"] + layer["b"]
        y = original @ layer["w"] + layer["b"]
        y = y if linear else jax.nn.relu(y)
        active = jnp.ones(y.shape, bool) if linear else y > 0
        mismatch = jnp.linalg.norm(jnp.where(active, reference - y, 0))
        radius = jnp.maximum(0.05 * jnp.linalg.norm(y), nettrim.CASCADE_INFLATION * mismatch)
        if l:  # the original weights do not fit the pruned inputs: the radius is inflated
            assert float(radius) > 0.05 * float(jnp.linalg.norm(y))
        sol = nettrim._solve_layer(inputs, y, jnp.maximum(reference, 0), radius, 1.0,
                                   PRUNE_TOL, 5000, linear=linear)
        _assert_ranked([got[l]], [mask[l]], [{"w": sol.weights, "b": sol.bias}], GRID[j])
        original, inputs = y, jax.nn.relu(inputs @ got[l]["w"] + got[l]["b"])


def _relative_errors(net, params, x, result):
    original = net.apply(params, x)
    return [float(jnp.linalg.norm(net.apply(_at(result.params, j), x) - original)
                  / jnp.linalg.norm(original)) for j in range(len(GRID))]


@pytest.mark.parametrize("variant", nettrim.VARIANTS)
def test_tight_epsilon_at_p0_reproduces_the_network(x64, mlp, pruned, variant):
    params, x, _ = pruned
    result = nettrim.prune(mlp[0].apply, params, x, GRID, epsilon=1e-3, variant=variant,
                           tol=PRUNE_TOL)
    assert result.info.converged
    error = _relative_errors(mlp[0], params, x, result)
    assert error[0] < 1e-2
    assert error[-1] > 0.5  # all weights removed: only the biases are left


@pytest.mark.slow
@pytest.mark.parametrize("variant", nettrim.VARIANTS)
def test_float32_defaults_reproduce_the_network_at_p0(mlp, variant):
    net, params, x = mlp
    result = nettrim.prune(net.apply, params, x, GRID, epsilon=1e-3, variant=variant)
    assert result.info.converged and result.params[0]["w"].dtype == jnp.float32
    assert _relative_errors(net, params, x, result)[0] < 1e-2


def test_solve_layer_rejects_bad_input():
    x, _, _, y = _layer(7)
    with pytest.raises(ValueError, match="epsilon must be > 0"):
        nettrim.solve_layer(x, y, epsilon=0.0)
    with pytest.raises(ValueError, match="epsilon must be > 0"):
        nettrim.solve_layer(x, y, epsilon=-1.0)
    with pytest.raises(ValueError, match="same number of rows"):
        nettrim.solve_layer(x, y[:-1], epsilon=1.0)
    with pytest.raises(ValueError, match="x contains NaN or Inf"):
        nettrim.solve_layer(np.where(x > 1, np.nan, x), y, epsilon=1.0)
    with pytest.raises(ValueError, match="y must be >= 0 for a ReLU layer"):
        nettrim.solve_layer(x, y - 1, epsilon=1.0)
    with pytest.raises(ValueError, match="max_iters must be >= 1"):
        nettrim.solve_layer(x, y, epsilon=1.0, max_iters=0)
    with pytest.raises(ValueError, match="rho must be > 0"):
        nettrim.solve_layer(x, y, epsilon=1.0, rho=0.0)
    with pytest.raises(TypeError, match="linear must be True or False"):
        nettrim.solve_layer(x, y, epsilon=1.0, linear=1)


def test_prune_rejects_bad_input(mlp):
    net, params, x = mlp
    for epsilon in (0.0, -0.1, 1.0, 1.5):
        with pytest.raises(ValueError, match=r"epsilon .* must lie in \(0, 1\)"):
            nettrim.prune(net.apply, params, x, GRID, epsilon=epsilon)
    for ratios in ([-0.1, 0.5], [0.5, 1.2], [], [[0.5]]):
        with pytest.raises(ValueError, match="removal_ratios must"):
            nettrim.prune(net.apply, params, x, ratios, epsilon=0.1)
    with pytest.raises(ValueError, match="variant must be one of 'parallel', 'cascade'"):
        nettrim.prune(net.apply, params, x, GRID, epsilon=0.1, variant="serial")
    with pytest.raises(ValueError, match="x contains NaN"):
        nettrim.prune(net.apply, params, x.at[3, 5].set(jnp.nan), GRID, epsilon=0.1)
    with pytest.raises(ValueError, match="64 input features"):
        nettrim.prune(net.apply, params, x[:, :10], GRID, epsilon=0.1)
    tanh = nets.mlp([64, 16, 10], activation="tanh")
    with pytest.raises(ValueError, match="ReLU MLP"):
        nettrim.prune(tanh.apply, params, x, GRID, epsilon=0.1)
    cnn = nets.cnn((8, 8), 10)  # its parameters' shapes, without the cost of cnn.init
    cnn_params = [{"w": jnp.ones((3, 3, 1, 8)), "b": jnp.ones(8)},
                  {"w": jnp.ones((128, 10)), "b": jnp.ones(10)}]
    with pytest.raises(ValueError, match="ReLU MLP"):
        nettrim.prune(cnn.apply, cnn_params, x, GRID, epsilon=0.1)
    with pytest.raises(TypeError, match="apply must be a ReLU MLP's forward pass"):
        nettrim.prune(net, params, x, GRID, epsilon=0.1)
    assert math.isclose(nettrim.CASCADE_INFLATION**2, 1.1)
