import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import optimize

from phasetrans import cli
from phasetrans.applications import cs
from phasetrans.cli import cs as cli_cs
from phasetrans.estimate import Estimate, SolverInfo
from phasetrans.geometry import closed_forms


def _linprog_bp(matrix, measurements):
    """min ||x||_1 s.t. A x = y as the LP min 1^T (p + n) s.t. A (p - n) = y, p, n >= 0."""
    matrix = np.asarray(matrix, dtype=np.float64)
    dim = matrix.shape[1]
    res = optimize.linprog(np.ones(2 * dim), A_eq=np.hstack([matrix, -matrix]),
                           b_eq=np.asarray(measurements, dtype=np.float64), bounds=(0, None),
                           method="highs")
    assert res.success
    return res.x[:dim] - res.x[dim:]


def _problems(seed, num, **sizes):
    keys = jax.random.split(jax.random.key(seed), num)
    return [cs.make_problem(key=k, **sizes) for k in keys]


@pytest.mark.parametrize("sparsity", [3, 9])  # above and below the transition (psi ~ 10, 21)
def test_basis_pursuit_matches_linprog(x64, sparsity):
    for problem in _problems(0, 3, num_measurements=15, sparsity=sparsity, dim=30):
        res = cs.basis_pursuit(problem.matrix, problem.measurements, tol=1e-9, max_iters=20_000)
        reference = _linprog_bp(problem.matrix, problem.measurements)
        assert bool(res.info.converged)
        assert float(res.info.residual) <= 1e-9 and 1 <= int(res.info.iterations) <= 20_000
        np.testing.assert_allclose(res.point, reference, atol=1e-6)
        assert float(res.primal_residual) < 1e-7
        assert abs(float(res.duality_gap)) < 1e-6
        assert np.abs(res.point).sum() == pytest.approx(np.abs(reference).sum(), rel=1e-7)


def test_basis_pursuit_reports_an_exhausted_budget(x64):
    problem = _problems(0, 1, num_measurements=15, sparsity=3, dim=30)[0]
    res = cs.basis_pursuit(problem.matrix, problem.measurements, max_iters=3)
    assert int(res.info.iterations) == 3 and not bool(res.info.converged)
    assert float(res.info.residual) > 1e-6
    # the residual is the stopping rule's: max of the relative primal and z-change residuals
    full = cs.basis_pursuit(problem.matrix, problem.measurements, tol=1e-6)
    assert bool(full.info.converged) and 3 < int(full.info.iterations) < 2000
    assert float(full.info.residual) <= 1e-6


def test_basis_pursuit_recovers_above_and_fails_below_the_curve(x64):
    dim, sparsity = 60, 6  # psi(6, 60) / 60 ~ 0.30
    above, below = 35, 10  # m/d = 0.58 and 0.17
    for m, expect_success in [(above, True), (below, False)]:
        for problem in _problems(1, 5, num_measurements=m, sparsity=sparsity, dim=dim):
            res = cs.basis_pursuit(problem.matrix, problem.measurements)
            error = float(cs.relative_error(res.point, problem.signal))
            if expect_success:
                assert error < 1e-4 and float(res.primal_residual) < 1e-4 and res.info.converged
            else:
                assert error > 0.1


def test_basis_pursuit_vmaps_keeps_dtype_and_ignores_zero_rows(x64):
    problems = _problems(2, 4, num_measurements=12, sparsity=2, dim=30)
    matrices = jnp.stack([p.matrix for p in problems]).astype(jnp.float32)
    ys = jnp.stack([p.measurements for p in problems]).astype(jnp.float32)
    res = jax.vmap(cs.basis_pursuit)(matrices, ys)
    assert res.point.dtype == jnp.float32 and res.point.shape == (4, 30)
    assert res.info.iterations.shape == (4,) and res.info.converged.shape == (4,)
    np.testing.assert_allclose(res.point, jnp.stack([p.signal for p in problems]), atol=1e-3)
    # padding with zero rows (how sweeps give every m one shape) leaves the solution unchanged
    p = problems[0]
    padded = cs.basis_pursuit(jnp.vstack([p.matrix, jnp.zeros((8, 30))]),
                              jnp.concatenate([p.measurements, jnp.zeros(8)]))
    plain = cs.basis_pursuit(p.matrix, p.measurements)
    np.testing.assert_allclose(padded.point, plain.point, atol=1e-9)
    assert padded.point.dtype == jnp.float64
    assert int(padded.info.iterations) == int(plain.info.iterations)


def test_make_problem_shapes_sparsity_and_scaling():
    p = cs.make_problem(key=jax.random.key(3), num_measurements=400, sparsity=7, dim=50)
    assert p.matrix.shape == (400, 50) and p.signal.shape == (50,)
    assert int(jnp.sum(p.signal != 0)) == 7 and set(np.unique(np.abs(p.signal))) == {0.0, 1.0}
    np.testing.assert_allclose(p.measurements, p.matrix @ p.signal, rtol=1e-5, atol=1e-5)
    # entries N(0, 1/m): E ||A||_F^2 = d; 20 000 entries, relative sd ~ 1%
    assert float(jnp.sum(p.matrix**2)) == pytest.approx(50, rel=0.05)


def _distances_to_bp(problem, depth, scales, num_iters):
    bp = cs.basis_pursuit(problem.matrix, problem.measurements, tol=1e-10, max_iters=20_000)
    runs = jax.vmap(lambda a: cs.overparam_gd(problem.matrix, problem.measurements, depth=depth,
                                              init_scale=a, num_iters=num_iters))(scales)
    losses = np.asarray(runs.loss_history)
    assert losses.shape == (len(scales), num_iters)
    assert np.all(losses[:, -1] < 1e-4 * losses[:, 0])
    return bp, np.asarray(cs.relative_error(runs.point, bp.point))


def test_overparam_gd_approaches_basis_pursuit_as_init_scale_shrinks(x64):
    # above the transition BP recovers x0; depth 3 reaches it within 2% at alpha = 0.01
    problem = cs.make_problem(key=jax.random.key(4), num_measurements=20, sparsity=3, dim=40)
    _, distances = _distances_to_bp(problem, 3, jnp.array([0.3, 0.1, 0.03, 0.01]), 40_000)
    assert np.all(np.diff(distances) < 0), distances
    assert distances[-1] < 0.02 < 0.5 < distances[0]
    # below it the l1 minimiser is not x0: closeness to it is the implicit bias of [CMR]
    # (for depth 2 it improves only like 1 / log(1 / alpha))
    problem = cs.make_problem(key=jax.random.key(4), num_measurements=20, sparsity=12, dim=40)
    bp, distances = _distances_to_bp(problem, 2, jnp.array([0.3, 0.03, 3e-3, 3e-4]), 20_000)
    assert float(cs.relative_error(bp.point, problem.signal)) > 0.5
    assert np.all(np.diff(distances) < -0.02), distances


def test_overparam_gd_reports_convergence_of_its_fixed_step_scan(x64):
    problem = cs.make_problem(key=jax.random.key(8), num_measurements=20, sparsity=2, dim=40)
    few = cs.overparam_gd(problem.matrix, problem.measurements, depth=2, init_scale=0.1,
                          num_iters=10)
    assert int(few.info.iterations) == 10 and not bool(few.info.converged)
    relative = (np.linalg.norm(problem.matrix @ few.point - problem.measurements)
                / np.linalg.norm(problem.measurements))
    assert float(few.info.residual) == pytest.approx(relative, rel=1e-9) and relative > 1e-3
    enough = cs.overparam_gd(problem.matrix, problem.measurements, depth=2, init_scale=0.1,
                             num_iters=5000)
    assert int(enough.info.iterations) == 5000 and bool(enough.info.converged)
    assert float(enough.info.residual) <= 1e-3
    # tol only decides the verdict: the iterates are the same
    strict = cs.overparam_gd(problem.matrix, problem.measurements, depth=2, init_scale=0.1,
                             num_iters=5000, tol=1e-8)
    assert not bool(strict.info.converged)
    np.testing.assert_array_equal(strict.point, enough.point)


def test_logistic_transition_recovers_a_known_midpoint():
    fractions = np.linspace(0.05, 1.0, 20)
    rate = 1 / (1 + np.exp(-(fractions - 0.43) / 0.04))
    none = np.ones_like(rate)  # always succeeds: no crossing
    grid = cs.PhaseGrid("bp", 100, np.array([10, 20]), np.rint(fractions * 100).astype(int),
                        np.stack([rate, none]), np.zeros((2, 20)), 10**6, 1e-3, {},
                        SolverInfo(10, 1e-7, True))
    result = cs.transition(grid)
    assert isinstance(result.empirical, Estimate) and result.empirical.num_samples == 10**6
    assert result.empirical.mean[0] == pytest.approx(0.43, abs=1e-3)
    assert 0 < result.empirical.sem[0] < 1e-3  # 10^6 trials per cell: a sharp fit
    assert np.isnan(result.empirical.mean[1]) and np.isnan(result.empirical.sem[1])
    np.testing.assert_allclose(result.theory_measurement_fraction,
                               [closed_forms.l1_descent_cone_statdim(sparsity=s, dim=100) / 100
                                for s in (10, 20)])


def test_logistic_sem_is_never_overconfident_nor_exploding():
    """A step between two cells is located to the grid (SEM half a spacing, not the Fisher
    information's 0 or 280); a flat row's SEM is undetermined (NaN), not 2.5."""
    fractions = np.linspace(0.1, 0.9, 9)
    step = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1.0])
    almost = np.array([0, 0, 0, 0, 0.05, 1, 1, 1, 1.0])
    for rates in (step, almost):
        centre, sem = cs._logistic_midpoint(fractions, rates, 20)
        assert 0.5 <= centre <= 0.6 and sem == pytest.approx(0.05)
    smooth = np.array([0, 0.1, 0.2, 0.4, 0.5, 0.6, 0.8, 0.9, 1.0])
    centre, sem = cs._logistic_midpoint(fractions, smooth, 20)
    assert centre == pytest.approx(0.5, abs=1e-6) and 0.01 < sem < 0.05
    flat = np.array([0.45, 0.5, 0.55, 0.5, 0.45, 0.55, 0.5, 0.45, 0.55])
    assert np.isnan(cs._logistic_midpoint(fractions, flat, 4)[1])


def test_basis_pursuit_transition_is_within_005_of_psi():
    grid = cs.success_grid(key=jax.random.key(5), dim=50, num_trials=12,
                           sparsity_fractions=[0.1, 0.2, 0.3],
                           measurement_fractions=np.arange(1, 21) / 20, progress=False)
    assert grid.success_rate.shape == (3, 20)
    assert np.all(grid.success_rate[:, -1] == 1) and np.all(grid.success_rate[:, 0] == 0)
    result = cs.transition(grid)
    gap = result.empirical.mean - result.theory_measurement_fraction
    assert np.all(np.abs(gap) < 0.05), gap


@pytest.mark.slow
def test_basis_pursuit_transition_d100_within_003_of_psi():
    sparsity_fractions, measurement_fractions = cs.grid_fractions(20)
    grid = cs.success_grid(key=jax.random.key(6), dim=100, num_trials=20,
                           sparsity_fractions=sparsity_fractions,
                           measurement_fractions=measurement_fractions, progress=False)
    result = cs.transition(grid)
    gap = result.empirical.mean - result.theory_measurement_fraction
    assert np.all(np.abs(gap) < 0.03), gap


@pytest.mark.slow
def test_overparam_transition_is_within_008_of_psi():
    grid = cs.success_grid(key=jax.random.key(7), dim=50, num_trials=10, solver="overparam",
                           sparsity_fractions=[0.1, 0.2, 0.3],
                           measurement_fractions=np.arange(1, 21) / 20, progress=False)
    result = cs.transition(grid)
    gap = result.empirical.mean - result.theory_measurement_fraction
    assert np.all(np.abs(gap) < 0.08), gap


def test_report_surfaces_unconverged_solves():
    settings = dict(key=jax.random.key(9), dim=20, num_trials=3, sparsity_fractions=[0.1, 0.2],
                    measurement_fractions=[0.5, 0.9], progress=False)
    starved = cs.success_grid(**settings, max_iters=2)
    assert starved.solver_info == SolverInfo(2, starved.solver_info.residual, False)
    out = json.loads(json.dumps(cs.report(starved)))
    assert out["solver_info"]["converged"] is False and out["solver_info"]["iterations"] == 2
    assert out["solver_info"]["residual"] > 1e-6
    assert set(out) == {"dim", "solver", "trials", "tol", "options", "grid", "transition",
                        "solver_info"}
    assert set(out["transition"][0]) == {"sparsity_fraction", "empirical_measurement_fraction",
                                         "empirical_sem", "theory_measurement_fraction"}
    easy = cs.report(cs.success_grid(**settings, max_iters=5000))
    assert easy["solver_info"]["converged"] is True
    assert 2 < easy["solver_info"]["iterations"] <= 5000
    assert easy["solver_info"]["residual"] <= 1e-6
    gd = cs.success_grid(**{**settings, "sparsity_fractions": [0.1]}, solver="overparam",
                         num_iters=5)
    assert gd.solver_info.iterations == 5 and not gd.solver_info.converged


def test_bad_input_raises_clear_errors():
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="num_measurements must be >= 1"):
        cs.make_problem(key=key, num_measurements=0, sparsity=1, dim=10)
    with pytest.raises(ValueError, match="sparsity must be <= 10"):
        cs.make_problem(key=key, num_measurements=5, sparsity=11, dim=10)
    with pytest.raises(TypeError, match="key is required"):
        cs.make_problem(key=None, num_measurements=5, sparsity=1, dim=10)
    p = cs.make_problem(key=key, num_measurements=5, sparsity=1, dim=10)
    with pytest.raises(ValueError, match="init_scale must be > 0"):
        cs.overparam_gd(p.matrix, p.measurements, init_scale=0.0)
    with pytest.raises(ValueError, match="depth must be >= 2"):
        cs.overparam_gd(p.matrix, p.measurements, depth=1)
    with pytest.raises(ValueError, match="step_size must be < 2"):
        cs.overparam_gd(p.matrix, p.measurements, step_size=2.5)
    with pytest.raises(ValueError, match="matrix contains NaN"):
        cs.basis_pursuit(p.matrix.at[0, 0].set(jnp.nan), p.measurements)
    with pytest.raises(ValueError, match="measurements must have shape"):
        cs.basis_pursuit(p.matrix, p.measurements[:3])
    with pytest.raises(ValueError, match="at most as many rows as columns"):
        cs.basis_pursuit(p.matrix.T, p.signal)
    with pytest.raises(ValueError, match="tol must be > 0"):
        cs.basis_pursuit(p.matrix, p.measurements, tol=0.0)
    with pytest.raises(ValueError, match="tol must be > 0"):
        cs.overparam_gd(p.matrix, p.measurements, tol=-1.0)
    grid = dict(key=key, dim=10, num_trials=2, sparsity_fractions=[0.1],
                measurement_fractions=[0.5], progress=False)
    with pytest.raises(ValueError, match="solver must be one of"):
        cs.success_grid(**grid, solver="omp")
    with pytest.raises(ValueError, match=r"measurement_fractions must be .* in \(0, 1\]"):
        cs.success_grid(**{**grid, "measurement_fractions": [0.0, 0.5]})


def test_cli_cs_json(capsys):
    status = cli.main(["cs", "--dim", "20", "--trials", "3", "--grid", "3", "--seed", "0",
                       "--json"])
    assert status == 0
    out = json.loads(capsys.readouterr().out)
    assert out["dim"] == 20 and out["solver"] == "bp" and out["seconds"] > 0
    assert len(out["grid"]) == 9 and set(out["grid"][0]) == {
        "sparsity_fraction", "measurement_fraction", "success_rate"}
    assert len(out["transition"]) == 3 and set(out["transition"][0]) >= {
        "sparsity_fraction", "empirical_measurement_fraction", "theory_measurement_fraction"}
    assert set(out["solver_info"]) == {"iterations", "residual", "converged"}
    assert cli.main(["cs", "--dim", "20", "--trials", "2", "--seed", "0", "--solver",
                     "overparam", "--init-scale", "-1"]) == 2


def test_cs_summary_says_when_the_sem_is_undetermined():
    rows = [{"sparsity_fraction": 0.1, "empirical_measurement_fraction": 0.807,
             "empirical_sem": None, "theory_measurement_fraction": 0.45},
            {"sparsity_fraction": 0.2, "empirical_measurement_fraction": 0.5,
             "empirical_sem": 0.02, "theory_measurement_fraction": 0.6}]
    result = {"solver": "bp", "transition": rows, "dim": 10, "trials": 4, "grid": [0] * 4,
              "tol": 1e-3, "solver_info": {"converged": True, "iterations": 3, "residual": 0.0}}
    lines = cli_cs.summary(result)
    assert "0.807 (SEM undetermined)" in lines[2] and "0.500 ± 0.020" in lines[3]
