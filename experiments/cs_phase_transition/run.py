"""Compressed-sensing phase transitions: basis pursuit and overparameterized GD vs psi(s, d)/d.

Writes to results/cs_phase_transition/:
- ``bp_grid.json``: basis pursuit, d = 100, 20 x 20 grid, 20 trials per cell.
- ``overparam_grid.json``: gradient descent on u^N - v^N (N = 3, alpha = 0.02, 30 000 steps),
  d = 50, 16 x 16 grid, 10 trials per cell.
- ``init_scale.csv``: distance of the GD solution to the basis pursuit solution vs alpha for
  N = 2, 3, 4, above (s/d = 0.1) and below (s/d = 0.3) the transition at m/d = 0.5, d = 50.

Each JSON holds ``cs.report`` (the CLI's output, including the worst ``solver_info`` over all
trials) plus the success-rate and median-error matrices.
Run from the repository root: ``python -m experiments.cs_phase_transition.run`` (about 3 minutes
on 2 cores). Plot with ``python -m experiments.cs_phase_transition.plot``.
"""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from phasetrans import _interrupt
from phasetrans.applications import cs

RESULTS = Path("results/cs_phase_transition")
SEED = 0
BP = {"dim": 100, "grid": 20, "num_trials": 20}
OVERPARAM = {"dim": 50, "grid": 16, "num_trials": 10,
             "options": {"depth": 3, "init_scale": 0.02, "num_iters": 30_000}}
INIT_SCALE = {"dim": 50, "num_measurements": 25, "sparsities": {"above": 5, "below": 15},
              "depths": (2, 3, 4), "scales": np.logspace(-3, -0.5, 11), "num_trials": 6,
              "num_iters": 100_000}


def run_grid(solver: str, dim: int, grid: int, num_trials: int, options: dict, key) -> dict:
    sparsity_fractions, measurement_fractions = cs.grid_fractions(grid)
    start = time.perf_counter()
    result = cs.success_grid(key=key, dim=dim, num_trials=num_trials, solver=solver,
                             sparsity_fractions=sparsity_fractions,
                             measurement_fractions=measurement_fractions, progress=True,
                             **options)
    return {**cs.report(result), "seconds": time.perf_counter() - start,
            "success_rate": result.success_rate.tolist(),
            "median_error": result.median_error.tolist(),
            "sparsity_fractions": result.sparsity_fractions.tolist(),
            "measurement_fractions": result.measurement_fractions.tolist()}


def init_scale_sweep(key) -> list[dict]:
    """Relative distance ||x_GD - x_BP|| / ||x_BP|| per (regime, depth, alpha, trial)."""
    cfg = INIT_SCALE
    scales = jnp.asarray(cfg["scales"])
    rows = []
    for regime, sparsity in cfg["sparsities"].items():
        keys = jax.random.split(jax.random.fold_in(key, sparsity), cfg["num_trials"])
        for trial, trial_key in enumerate(keys):
            problem = cs.make_problem(key=trial_key, num_measurements=cfg["num_measurements"],
                                      sparsity=sparsity, dim=cfg["dim"])
            bp = cs.basis_pursuit(problem.matrix, problem.measurements, tol=1e-10,
                                  max_iters=50_000)
            for depth in cfg["depths"]:
                runs = jax.vmap(lambda a, depth=depth, problem=problem: cs.overparam_gd(
                    problem.matrix, problem.measurements, depth=depth, init_scale=a,
                    num_iters=cfg["num_iters"]))(scales)
                distance = cs.relative_error(runs.point, bp.point)
                loss_ratio = runs.loss_history[:, -1] / runs.loss_history[:, 0]
                rows += [{"regime": regime, "sparsity": sparsity, "depth": depth,
                          "init_scale": float(a), "trial": trial, "distance_to_bp": float(dist),
                          "final_loss_ratio": float(ratio),
                          "gd_relative_residual": float(residual),
                          "bp_error_to_signal": float(cs.relative_error(bp.point,
                                                                        problem.signal)),
                          "bp_converged": bool(bp.info.converged)}
                         for a, dist, ratio, residual in zip(cfg["scales"], distance, loss_ratio,
                                                             runs.info.residual, strict=True)]
    return rows


def main() -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    key = jax.random.key(SEED)
    bp = run_grid("bp", BP["dim"], BP["grid"], BP["num_trials"], {}, jax.random.fold_in(key, 0))
    (RESULTS / "bp_grid.json").write_text(json.dumps(bp, indent=1))
    gd = run_grid("overparam", OVERPARAM["dim"], OVERPARAM["grid"], OVERPARAM["num_trials"],
                  OVERPARAM["options"], jax.random.fold_in(key, 1))
    (RESULTS / "overparam_grid.json").write_text(json.dumps(gd, indent=1))
    start = time.perf_counter()
    with jax.enable_x64(True):
        rows = init_scale_sweep(jax.random.fold_in(key, 2))
    print(f"init-scale sweep: {time.perf_counter() - start:.0f} s")
    with open(RESULTS / "init_scale.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    for name, result in (("basis pursuit", bp), ("overparameterized GD", gd)):
        gaps = [row["empirical_measurement_fraction"] - row["theory_measurement_fraction"]
                for row in result["transition"]]
        print(f"{name}: {result['seconds']:.0f} s, max |empirical - theory| = "
              f"{np.nanmax(np.abs(gaps)):.3f}, mean = {np.nanmean(gaps):+.3f}, worst solve "
              f"{result['solver_info']}")


if __name__ == "__main__":
    _interrupt.exit_on_interrupt("experiments.cs_phase_transition.run")
    main()
