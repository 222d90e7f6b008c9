"""Compressed sensing: random problems, basis pursuit, overparameterized gradient descent.

The l1 phase transition [ALMT 2014, Sec. 4; Donoho-Tanner]: with A in R^{m x d} Gaussian and
x0 s-sparse, basis pursuit  min ||x||_1 s.t. A x = A x0  recovers x0 with high probability when
m > delta(D(||.||_1, x0)) and fails when m < delta, where the statistical dimension of the l1
descent cone is within ~1 of psi(s, d) (``closed_forms.l1_descent_cone_statdim``). The success
probability therefore jumps from 0 to 1 across the curve m/d = psi(s, d)/d.

Overparameterized gradient descent [Chou, Maly, Rauhut, "More is less: inducing sparsity via
overparameterization", Information and Inference 2023, arXiv 2112.11027]: gradient flow on
L(u, v) = 1/2 ||A (u^N - v^N) - y||^2 from u = v = alpha 1 converges to a solution of A x = y
whose l1 norm approaches the minimum as alpha -> 0, so its phase transition is basis pursuit's.

Sweeps (``success_grid``) batch the trials of one grid cell with ``jax.vmap``; the measurement
count m and sparsity s of a cell are traced values (the unused rows of a d x d Gaussian matrix
are zeroed), so one compiled function serves the whole grid.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from scipy import optimize, special

from phasetrans import _checks, _loops
from phasetrans._progress import track
from phasetrans.devices import collect, mesh_for, sharded_map
from phasetrans.estimate import Estimate, SolverInfo
from phasetrans.geometry import closed_forms

SOLVERS = ("bp", "overparam")
"""Solvers of ``success_grid``: basis pursuit (ADMM) or overparameterized gradient descent."""

DEFAULT_TOL = {"bp": 1e-3, "overparam": 5e-2}
"""Default success tolerance on ||x_hat - x0|| / ||x0|| per solver (see ``success_grid``)."""


# ---------------------------------------------------------------------------------------------
# Problems


class Problem(NamedTuple):
    """A compressed-sensing instance y = A x0.

    Attributes:
        matrix: (m, d) A with i.i.d. N(0, 1/m) entries (columns have expected unit norm).
        signal: (d,) x0, s-sparse with uniformly random support and random signs, |x0_i| = 1 on
            the support (basis pursuit's success depends only on the support and signs).
        measurements: (m,) y = A x0.
    """

    matrix: jax.Array
    signal: jax.Array
    measurements: jax.Array


def make_problem(*, key, num_measurements: int, sparsity: int, dim: int, dtype=None) -> Problem:
    """Draw a Gaussian compressed-sensing problem (see ``Problem``).

    Args:
        key: PRNG key (keyword-only, required).
        num_measurements: m >= 1.
        sparsity: s, 0 <= s <= dim.
        dim: d >= 1.
        dtype: floating dtype of the arrays; default JAX's default float (float32, or float64
            inside ``jax.enable_x64(True)``).
    """
    key = _checks.prng_key("key", key)
    dim = _checks.positive_int("dim", dim)
    num_measurements = _checks.positive_int("num_measurements", num_measurements)
    sparsity = _checks.integer("sparsity", sparsity, minimum=0, maximum=dim)
    dtype = _checks.float_dtype("dtype", dtype)
    return _draw(key, num_measurements, sparsity, dim, num_measurements, dtype)


def _draw(key, num_measurements, sparsity, dim: int, rows: int, dtype) -> Problem:
    """``make_problem`` with traced m and s: A has ``rows`` >= m rows, those past m are zero."""
    key_matrix, key_support, key_signs = jax.random.split(key, 3)
    matrix = jax.random.normal(key_matrix, (rows, dim), dtype) / jnp.sqrt(
        jnp.asarray(num_measurements, dtype))
    matrix = jnp.where((jnp.arange(rows) < num_measurements)[:, None], matrix, 0)
    support = jax.random.permutation(key_support, dim) < sparsity
    signal = jnp.where(support, jax.random.rademacher(key_signs, (dim,), dtype), 0)
    return Problem(matrix, signal, matrix @ signal)


def relative_error(estimate, signal):
    """||estimate - signal|| / ||signal|| (the success criterion's statistic) along the last axis.

    For signal = 0 this is ||estimate||.
    """
    norm = jnp.linalg.norm(signal, axis=-1)
    return jnp.linalg.norm(estimate - signal, axis=-1) / jnp.where(norm > 0, norm, 1)


def _check_system(matrix, measurements):
    matrix = _checks.array("matrix", matrix, ndim=2)
    num_rows, dim = matrix.shape
    if num_rows > dim:
        raise ValueError(f"matrix must have at most as many rows as columns (m <= d) for an "
                         f"underdetermined system, got shape {matrix.shape}")
    measurements = _checks.array("measurements", measurements, shape=(num_rows,))
    dtype = jnp.result_type(matrix, measurements)
    return matrix.astype(dtype), measurements.astype(dtype)


# ---------------------------------------------------------------------------------------------
# Basis pursuit


class BasisPursuitResult(NamedTuple):
    """Basis pursuit solution with its certificates.

    Attributes:
        point: (d,) the ADMM z-iterate (exactly sparse: it comes out of a soft-thresholding).
        info: ``SolverInfo`` of the ADMM loop; ``info.residual`` is the stopping quantity
            max(||x - z|| / max(||x||, ||z||), ||z - z_prev|| / ||z||) at the last iteration,
            ``info.converged`` is False when ``max_iters`` ran out first.
        primal_residual: ||A point - y||.
        duality_gap: ||point||_1 - y^T lam >= ||point||_1 - p*, with lam the dual-feasible point
            (||A^T lam||_inf <= 1) recovered from the ADMM multiplier. With a small
            ``primal_residual`` it certifies that ``point`` is near-optimal.
    """

    point: jax.Array
    info: SolverInfo
    primal_residual: jax.Array
    duality_gap: jax.Array


def basis_pursuit(matrix, measurements, *, tol: float = 1e-6, max_iters: int = 2000,
                  penalty: float = 1.0) -> BasisPursuitResult:
    """Solve min ||x||_1 s.t. A x = y by ADMM, unbatched (``jax.vmap`` it over trials).

    ADMM on min ||z||_1 + indicator(A x = y) s.t. x = z [Boyd et al., "Distributed optimization
    and statistical learning via ADMM", 2011, Sec. 6.2], scaled form with penalty rho:

        x <- Pi(z - u),   z <- soft(x + u, 1/rho),   u <- u + x - z,

    where Pi(v) = v - A^T (A A^T)^{-1} (A v - y) is the projection onto {A x = y}; the d x d
    projector and A^+ y are formed once per problem from a Cholesky factor of A A^T. Rows of A
    that are exactly zero (with y_i = 0, a vacuous constraint) are ignored, which lets sweeps pad
    problems with different m to one shape. The loop (``_loops.iterate``, checked every
    iteration) stops when the residual

        max(||x - z|| / max(||x||, ||z||),  ||z - z_prev|| / ||z||)

    is <= tol, i.e. when ||x - z|| <= tol max(||x||, ||z||) and ||z - z_prev|| <= tol ||z||
    (a zero numerator counts as 0), or after ``max_iters`` iterations. The z-update gives
    rho u in the subdifferential of ||z||_1; its least-squares preimage
    lam = (A A^T)^{-1} A rho u, scaled to ||A^T lam||_inf <= 1, is dual feasible for
    max y^T lam s.t. ||A^T lam||_inf <= 1, hence the reported duality gap.

    Use float64 (``with jax.enable_x64(True)``) when you need x to 1e-3 or better: in float32
    the projection's rounding error stalls ADMM near the phase transition.

    Args:
        matrix: (m, d) A with m <= d and full row rank (apart from zero rows).
        measurements: (m,) y.
        tol: relative stopping tolerance > 0 (default 1e-6).
        max_iters: iteration cap >= 1 (default 2000).
        penalty: ADMM penalty rho > 0 (default 1, suited to |x_i| = O(1)); it changes the
            iteration count, not the solution.

    Returns:
        ``BasisPursuitResult(point, info, primal_residual, duality_gap)`` in the dtype of
        ``matrix``/``measurements``.
    """
    matrix, measurements = _check_system(matrix, measurements)
    tol = _checks.real("tol", tol, positive=True)
    max_iters = _checks.positive_int("max_iters", max_iters)
    penalty = _checks.real("penalty", penalty, positive=True)
    return _basis_pursuit(matrix, measurements, tol, max_iters, penalty)


def _ratio(numerator, denominator):
    """numerator / denominator, 0 when the numerator is 0 (a 0 <= tol * 0 test passes)."""
    tiny = jnp.finfo(jnp.result_type(numerator)).tiny
    return numerator / jnp.maximum(denominator, tiny)


@functools.partial(jax.jit, static_argnames=("max_iters",))
def _basis_pursuit(matrix, measurements, tol, max_iters, penalty):
    dim = matrix.shape[1]
    zero_rows = jnp.all(matrix == 0, axis=1)
    gram = matrix @ matrix.T + jnp.diag(zero_rows.astype(matrix.dtype))
    factor = jax.scipy.linalg.cho_factor(gram)
    solve = functools.partial(jax.scipy.linalg.cho_solve, factor)
    row_solve = solve(matrix)  # (A A^T)^{-1} A
    projector = jnp.eye(dim, dtype=matrix.dtype) - matrix.T @ row_solve
    offset = row_solve.T @ measurements  # A^+ y

    def soft(v):
        return jnp.sign(v) * jnp.maximum(jnp.abs(v) - 1 / penalty, 0)

    def step(state):
        _, z, u = state
        x = projector @ (z - u) + offset
        z_new = soft(x + u)
        return x, z_new, u + x - z_new

    def residual(previous, state):
        x, z, _ = state
        z_norm = jnp.linalg.norm(z)
        primal = _ratio(jnp.linalg.norm(x - z), jnp.maximum(jnp.linalg.norm(x), z_norm))
        return jnp.maximum(primal, _ratio(jnp.linalg.norm(z - previous[1]), z_norm))

    init = (offset, offset, jnp.zeros_like(offset))
    (_, z, u), info = _loops.iterate(step, init, residual=residual, tol=tol,
                                     max_iters=max_iters)
    dual = row_solve @ (penalty * u)
    dual = dual / jnp.maximum(1.0, jnp.max(jnp.abs(matrix.T @ dual)))
    gap = jnp.sum(jnp.abs(z)) - measurements @ dual
    return BasisPursuitResult(z, info, jnp.linalg.norm(matrix @ z - measurements), gap)


# ---------------------------------------------------------------------------------------------
# Overparameterized gradient descent


class OverparamResult(NamedTuple):
    """Result of overparameterized gradient descent.

    Attributes:
        point: (d,) x = u^N - v^N after the last step.
        info: ``SolverInfo`` with ``iterations = num_iters`` (a fixed-step scan, no early stop),
            ``residual`` the relative residual ||A x - y|| / ||y|| at ``point`` (||y|| floored
            at the dtype's smallest normal number) and ``converged = residual <= tol``.
        loss_history: (num_iters,) 1/2 ||A x_k - y||^2 before each step k.
    """

    point: jax.Array
    info: SolverInfo
    loss_history: jax.Array


def overparam_gd(matrix, measurements, *, depth: int = 3, init_scale: float = 0.02,
                 step_size: float = 1.0, num_iters: int = 30_000,
                 tol: float = 1e-2) -> OverparamResult:
    """Gradient descent on L(u, v) = 1/2 ||A (u^N - v^N) - y||^2 from u = v = alpha 1 [CMR].

    Unbatched (``jax.vmap`` it over trials); the iterations run in ``lax.scan``. The step of
    iteration k is eta_k = step_size / C_k, where

        C_k = N^2 ||A||_2^2 max_i(u_i^{2N-2} + v_i^{2N-2})
              + N (N-1) max_i((|u_i|^{N-2} + |v_i|^{N-2}) |A^T r|_i)

    is an upper bound on the largest eigenvalue of the loss Hessian at (u_k, v_k) (Gauss-Newton
    part plus the residual part), so step_size < 2 is locally stable. A step proportional to a
    scalar is a time change of the gradient flow, so the iterates follow the flow's path, which
    is what [CMR] analyse; at the start (|u| ~ alpha) the steps are large, so escaping the
    small initialisation costs O(log(1/alpha)) iterations for N = 2. For N >= 3 coordinates
    leave alpha on time scales ~ alpha^{2-N} / |A^T r|_i and the last phase converges
    algebraically, so small alpha needs many iterations: check ``info`` and ``loss_history``.

    The scan always runs all ``num_iters`` steps (no early stop); ``tol`` only decides
    ``info.converged``: whether the final relative residual ||A x - y|| / ||y|| is <= tol.

    Args:
        matrix: (m, d) A.
        measurements: (m,) y.
        depth: N >= 2 (default 3).
        init_scale: alpha > 0 (default 0.02); may be traced, e.g. ``jax.vmap`` over scales.
        step_size: step as a fraction of 1/C_k, in (0, 2) (default 1).
        num_iters: iterations >= 1 (default 30 000; at d = 50 and the other defaults the
            recovered trials of a phase-transition grid then sit at relative error ~1e-3).
        tol: relative residual > 0 at which ``info.converged`` is True (default 1e-2: the
            fixed-step scan of the README example ends at ~4e-3, 1% from basis pursuit).

    Returns:
        ``OverparamResult(point, info, loss_history)`` in the dtype of
        ``matrix``/``measurements``.
    """
    matrix, measurements = _check_system(matrix, measurements)
    depth = _checks.integer("depth", depth, minimum=2)
    if not isinstance(init_scale, jax.core.Tracer):  # a traced alpha (vmap over scales) is ok
        init_scale = _checks.real("init_scale", init_scale, positive=True)
    step_size = _checks.real("step_size", step_size, positive=True)
    if step_size >= 2:
        raise ValueError(f"step_size must be < 2 (a fraction of the stable step), got {step_size}")
    num_iters = _checks.positive_int("num_iters", num_iters)
    tol = _checks.real("tol", tol, positive=True)
    return _overparam_gd(matrix, measurements, depth, init_scale, step_size, num_iters, tol)


@functools.partial(jax.jit, static_argnames=("depth", "num_iters"))
def _overparam_gd(matrix, measurements, depth, init_scale, step_size, num_iters, tol):
    n = depth
    gram = matrix @ matrix.T if matrix.shape[0] <= matrix.shape[1] else matrix.T @ matrix
    lipschitz = jnp.linalg.eigvalsh(gram)[-1]
    start = jnp.full(matrix.shape[1], init_scale, matrix.dtype)

    def step(carry, _):
        u, v = carry
        residual = matrix @ (u**n - v**n) - measurements
        grad_x = matrix.T @ residual
        curvature = (n**2 * lipschitz * jnp.max(u ** (2 * n - 2) + v ** (2 * n - 2))
                     + n * (n - 1) * jnp.max((jnp.abs(u) ** (n - 2) + jnp.abs(v) ** (n - 2))
                                             * jnp.abs(grad_x)))
        eta = step_size / curvature
        u = u - eta * n * u ** (n - 1) * grad_x
        v = v + eta * n * v ** (n - 1) * grad_x
        return (u, v), 0.5 * residual @ residual

    (u, v), losses = jax.lax.scan(step, (start, start), None, length=num_iters)
    point = u**n - v**n
    relative = _ratio(jnp.linalg.norm(matrix @ point - measurements),
                      jnp.linalg.norm(measurements))
    info = SolverInfo(jnp.asarray(num_iters, jnp.int32), relative, relative <= tol)
    return OverparamResult(point, info, losses)


# ---------------------------------------------------------------------------------------------
# Phase-transition sweeps


class PhaseGrid(NamedTuple):
    """Empirical success probabilities on a (sparsity, measurements) grid.

    Attributes:
        solver: ``"bp"`` or ``"overparam"``.
        dim: d.
        sparsities: (S,) integer s per row, round(s/d * d) clipped to [1, d].
        num_measurements: (M,) integer m per column, round(m/d * d) clipped to [1, d].
        success_rate: (S, M) fraction of ``num_trials`` trials with relative error <= ``tol``.
        median_error: (S, M) median relative error ||x_hat - x0|| / ||x0|| over the trials.
        num_trials: trials per cell.
        tol: the success tolerance.
        options: the solver's keyword arguments.
        solver_info: the worst ``SolverInfo`` over every trial of every cell
            (``SolverInfo.worst``): the most iterations, the largest residual, and
            ``converged`` only if every solve met its own stopping tolerance (for ``"bp"`` the
            ADMM rule within ``max_iters``, for ``"overparam"`` the relative residual
            ||A x - y|| / ||y|| <= 1e-3 after ``num_iters`` steps).
    """

    solver: str
    dim: int
    sparsities: np.ndarray
    num_measurements: np.ndarray
    success_rate: np.ndarray
    median_error: np.ndarray
    num_trials: int
    tol: float
    options: dict
    solver_info: SolverInfo

    @property
    def sparsity_fractions(self) -> np.ndarray:
        return self.sparsities / self.dim

    @property
    def measurement_fractions(self) -> np.ndarray:
        return self.num_measurements / self.dim


def grid_fractions(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Default ``size`` x ``size`` grid: s/d in (0, 1/2] and m/d in (0, 1], equally spaced.

    s/d <= 1/2 keeps the curve psi/d (<= 0.83 there) inside the measurement range.
    """
    size = _checks.integer("size", size, minimum=2)
    steps = np.arange(1, size + 1) / size
    return 0.5 * steps, steps


def success_grid(*, key, dim: int, num_trials: int, sparsity_fractions, measurement_fractions,
                 solver: str = "bp", tol: float | None = None, progress: bool = False,
                 devices: int | None = None, **options) -> PhaseGrid:
    """Success probability of ``solver`` on each (s/d, m/d) cell, ``num_trials`` trials per cell.

    Trial t of cell (i, j) draws ``make_problem`` with an independent key
    ``split(fold_in(key, i * M + j), num_trials)[t]`` and succeeds when
    ||x_hat - x0|| / ||x0|| <= tol. The trials of a cell are one ``jax.vmap``-ed call, cells
    are a Python loop with a progress bar (stderr). The sweep runs in float64 (scoped
    ``jax.enable_x64``): basis pursuit in float32 misclassifies trials near the transition.

    Default tolerances (``DEFAULT_TOL``): 1e-3 for basis pursuit (recovered trials reach ~1e-6,
    failed ones are off by > 0.1); 5e-2 for overparameterized GD, whose limit differs from the
    l1 minimiser by a bias that vanishes only as alpha -> 0 and whose last coordinates converge
    slowly (at the defaults and d = 50, recovered trials sit around 2e-3, failed ones > 0.5).

    Args:
        key: PRNG key (keyword-only, required).
        dim: d >= 2.
        num_trials: trials per cell >= 1.
        sparsity_fractions, measurement_fractions: 1-D grids of s/d in (0, 1] and m/d in (0, 1]
            (see ``grid_fractions``).
        solver: ``"bp"`` (``basis_pursuit``) or ``"overparam"`` (``overparam_gd``).
        tol: success tolerance > 0; default ``DEFAULT_TOL[solver]``.
        progress: show a progress bar over cells.
        devices: devices sharing the trials of a cell (:mod:`phasetrans.devices`; default
            None: one). Every trial keeps its key, so the grid does not depend on it.
        **options: keyword arguments of the solver (e.g. ``max_iters`` or ``depth``,
            ``init_scale``). For ``"bp"`` the default ``max_iters`` is 1000: trials that have not
            converged by then are far from x0 (checked against scipy's LP in the benchmark).
            ``tol`` is this function's success tolerance, so the solvers keep their default
            stopping tolerances.

    Returns:
        ``PhaseGrid``; its ``solver_info`` is the worst solver info over all trials, so a grid
        whose solves ran out of iterations says so (``solver_info.converged`` False).
    """
    key = _checks.prng_key("key", key)
    dim = _checks.integer("dim", dim, minimum=2)
    num_trials = _checks.positive_int("num_trials", num_trials)
    _checks.one_of("solver", solver, SOLVERS)
    tol = _checks.real("tol", DEFAULT_TOL[solver] if tol is None else tol, positive=True)
    sparsities = _integer_grid("sparsity_fractions", sparsity_fractions, dim)
    measurements = _integer_grid("measurement_fractions", measurement_fractions, dim)
    if solver == "bp":
        options = {"max_iters": 1000, **options}
    solve = functools.partial(basis_pursuit if solver == "bp" else overparam_gd, **options)
    mesh = mesh_for(devices)
    errors = np.empty((sparsities.size, measurements.size, num_trials))
    infos = []
    cells = [(i, j) for i in range(sparsities.size) for j in range(measurements.size)]
    with jax.enable_x64(True):
        for i, j in track(cells, desc=f"cs {solver} grid", enabled=progress):
            keys = jax.random.split(jax.random.fold_in(key, i * measurements.size + j),
                                    num_trials)
            errors[i, j], info = collect(_cell_errors(solve, keys, measurements[j],
                                                      sparsities[i], dim, mesh), mesh=mesh)
            infos.append(SolverInfo.worst(info))
    return PhaseGrid(solver, dim, sparsities, measurements, np.mean(errors <= tol, axis=-1),
                     np.median(errors, axis=-1), num_trials, tol, options,
                     SolverInfo.combine(*infos))


def _integer_grid(name, fractions, dim) -> np.ndarray:
    fractions = np.asarray(_checks.array(name, fractions, ndim=1), dtype=np.float64)
    if fractions.size == 0 or np.any(fractions <= 0) or np.any(fractions > 1):
        raise ValueError(f"{name} must be a non-empty 1-D grid of values in (0, 1], "
                         f"got {fractions}")
    return np.clip(np.rint(fractions * dim), 1, dim).astype(int)


@functools.partial(jax.jit, static_argnums=(0, 4, 5))
def _cell_errors(solve, keys, num_measurements, sparsity, dim, mesh):
    def one_trial(cell, key):
        problem = _draw(key, *cell, dim, dim, jnp.float64)
        result = solve(problem.matrix, problem.measurements)
        return relative_error(result.point, problem.signal), result.info

    return sharded_map(one_trial, (num_measurements, sparsity), keys, mesh=mesh)


class Transition(NamedTuple):
    """The empirical 50% curve beside the theory curve, one entry per sparsity row.

    Attributes:
        sparsity_fraction: (S,) s/d.
        empirical: ``Estimate`` of the 50% point: ``mean`` (S,) m/d where the logistic fit of
            the success rate crosses 1/2 (NaN when the row's success rates do not cross 1/2
            inside the grid), ``sem`` (S,) its standard error from the fit's Fisher
            information, ``num_samples`` the trials per cell (each row's fit uses M cells of
            that many trials).
        theory_measurement_fraction: (S,) psi(s, d) / d.
    """

    sparsity_fraction: np.ndarray
    empirical: Estimate
    theory_measurement_fraction: np.ndarray


def theory_curve(sparsities, dim: int) -> np.ndarray:
    """psi(s, d) / d for each integer sparsity s [ALMT Prop 4.5], the predicted m/d."""
    return np.array([closed_forms.l1_descent_cone_statdim(sparsity=int(s), dim=dim) / dim
                     for s in np.asarray(sparsities)])


def transition(grid: PhaseGrid) -> Transition:
    """Fit P(success) = sigmoid((m/d - c) / w) per sparsity row by maximum likelihood.

    The trials of a row are binomial; c is the empirical 50% point. A row whose success rates
    are all >= 1/2 or all <= 1/2 has no crossing inside the grid and gets NaN. The SEM is the
    Fisher-information one, except where the fit cannot give it: a transition sharper than the
    grid (fewer than two cells with a success rate strictly between 0 and 1, where the width is
    not identified and the information degenerates to 0 or explodes) is located to the grid,
    SEM = half a spacing; a fit whose SEM exceeds the grid's range (a flat row) leaves it
    undetermined, NaN.
    """
    fractions = grid.measurement_fractions
    fits = [_logistic_midpoint(fractions, rate, grid.num_trials) for rate in grid.success_rate]
    midpoint, sem = (np.array(v, dtype=np.float64) for v in zip(*fits, strict=True))
    return Transition(grid.sparsity_fractions, Estimate(midpoint, sem, int(grid.num_trials)),
                      theory_curve(grid.sparsities, grid.dim))


def _logistic_midpoint(fractions, rates, num_trials) -> tuple[float, float]:
    successes = rates * num_trials
    if np.all(rates >= 0.5) or np.all(rates <= 0.5):
        return np.nan, np.nan
    spacing = float(np.min(np.diff(np.unique(fractions)))) if fractions.size > 1 else 1.0

    def negative_log_likelihood(params):
        center, log_width = params
        eta = (fractions - center) / np.exp(log_width)
        # -log sigmoid(eta) = logaddexp(0, -eta); -log(1 - sigmoid(eta)) = logaddexp(0, eta)
        return np.sum(successes * np.logaddexp(0, -eta)
                      + (num_trials - successes) * np.logaddexp(0, eta))

    start = (float(fractions[np.argmax(rates >= 0.5)]), np.log(spacing))
    fit = optimize.minimize(negative_log_likelihood, start, method="Nelder-Mead",
                            options={"xatol": 1e-7, "fatol": 1e-9, "maxiter": 4000})
    center, width = fit.x[0], np.exp(fit.x[1])
    if not fractions.min() <= center <= fractions.max():
        return np.nan, np.nan
    if np.sum((rates > 0) & (rates < 1)) < 2:  # a step the grid does not resolve
        return float(center), spacing / 2
    eta = (fractions - center) / width
    p = special.expit(eta)
    jac = np.stack([-1 / width * np.ones_like(eta), -eta / width], axis=1)  # d eta/d(c, w)
    info = (jac * (num_trials * p * (1 - p))[:, None]).T @ jac
    sem = float(np.sqrt(max(np.linalg.pinv(info)[0, 0], 0.0)))
    if not np.isfinite(sem) or sem > fractions.max() - fractions.min():
        return float(center), np.nan  # the fit does not locate the crossing
    return float(center), sem


def report(grid: PhaseGrid) -> dict:
    """JSON-ready summary of a sweep: settings, the grid cells, the transition curve and the
    worst solver info (``"solver_info"``: iterations, residual, converged)."""
    curve = transition(grid)
    cells = [{"sparsity_fraction": float(rho), "measurement_fraction": float(delta),
              "success_rate": float(grid.success_rate[i, j])}
             for i, rho in enumerate(grid.sparsity_fractions)
             for j, delta in enumerate(grid.measurement_fractions)]
    rows = [{"sparsity_fraction": float(rho), "empirical_measurement_fraction": float(emp),
             "empirical_sem": float(sem), "theory_measurement_fraction": float(theory)}
            for rho, emp, sem, theory in zip(curve.sparsity_fraction, curve.empirical.mean,
                                             curve.empirical.sem,
                                             curve.theory_measurement_fraction, strict=True)]
    return {"dim": grid.dim, "solver": grid.solver, "trials": grid.num_trials, "tol": grid.tol,
            "options": grid.options, "grid": cells, "transition": rows,
            "solver_info": grid.solver_info.to_dict()}
