"""Benchmark: basis-pursuit phase-transition grid, jitted/vmapped ADMM vs a per-trial scipy LP.

Full size (issue 6): d = 100, a 20 x 20 (s/d, m/d) grid, 20 trials per cell; goal <= 60 s on
2 cores. The baseline solves each trial as the LP  min 1^T (p + n) s.t. A (p - n) = y, p, n >= 0
with scipy's HiGHS, one problem at a time; it is timed on a random subsample of cells (the same
problems the sweep solved) and extrapolated to the whole grid, and the success indicators of the
two solvers are compared on that subsample.

    python benchmarks/bench_cs.py [--quick]

Last line: {"benchmark": "cs", "cells", "trials", "seconds", "baseline_seconds", "speedup", ...,
"solver_info"} (the worst ADMM info over the sweep's trials).
"""

from __future__ import annotations

import argparse
import json
import time

import jax
import numpy as np
from scipy import optimize

from phasetrans.applications import cs


def linprog_bp(matrix, measurements):
    dim = matrix.shape[1]
    res = optimize.linprog(np.ones(2 * dim), A_eq=np.hstack([matrix, -matrix]),
                           b_eq=measurements, bounds=(0, None), method="highs")
    return res.x[:dim] - res.x[dim:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="d = 50, 10 x 10 grid, 10 trials (< 1 min)")
    args = parser.parse_args()
    dim, size, trials, sampled = (50, 10, 10, 10) if args.quick else (100, 20, 20, 20)
    sparsity_fractions, measurement_fractions = cs.grid_fractions(size)
    key = jax.random.key(0)

    start = time.perf_counter()
    grid = cs.success_grid(key=key, dim=dim, num_trials=trials,
                           sparsity_fractions=sparsity_fractions,
                           measurement_fractions=measurement_fractions, progress=False)
    seconds = time.perf_counter() - start  # includes jit compilation

    rng = np.random.default_rng(0)
    cells = rng.choice(size * size, sampled, replace=False)
    agree = 0
    start = time.perf_counter()
    for cell in cells:
        i, j = divmod(int(cell), size)
        keys = jax.random.split(jax.random.fold_in(key, int(cell)), trials)
        m = int(grid.num_measurements[j])
        with jax.enable_x64(True):  # the sweep's problems, regenerated exactly
            problems = [[np.asarray(a) for a in cs._draw(k, m, grid.sparsities[i], dim, dim,
                                                         np.float64)] for k in keys]
        successes = 0
        for matrix, signal, measurements in problems:
            x = linprog_bp(matrix[:m], measurements[:m])
            successes += int(np.linalg.norm(x - signal) <= grid.tol * np.linalg.norm(signal))
        agree += int(successes == round(grid.success_rate[i, j] * trials))
    baseline_sampled = time.perf_counter() - start
    baseline = baseline_sampled * size * size / sampled

    print(f"grid {size}x{size}, d={dim}, {trials} trials/cell: ADMM sweep {seconds:.1f} s "
          f"(incl. compilation)")
    print(f"scipy linprog (HiGHS) per trial: {baseline_sampled:.1f} s on {sampled} random cells, "
          f"extrapolated to {size * size} cells: {baseline:.1f} s")
    print(f"speed-up {baseline / seconds:.1f}x; success counts agree on {agree}/{sampled} "
          f"sampled cells; worst ADMM solve: {grid.solver_info.to_dict()}")
    print(json.dumps({"benchmark": "cs", "cells": size * size, "trials": trials, "dim": dim,
                      "seconds": round(seconds, 2), "baseline_seconds": round(baseline, 2),
                      "baseline_extrapolated_from_cells": sampled,
                      "speedup": round(baseline / seconds, 2),
                      "cells_agreeing_with_linprog": agree,
                      "solver_info": grid.solver_info.to_dict()}))


if __name__ == "__main__":
    main()
