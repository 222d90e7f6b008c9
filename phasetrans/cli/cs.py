"""``phasetrans cs``: the compressed-sensing phase transition of basis pursuit or
overparameterized gradient descent on a (s/d, m/d) grid, beside the theory curve psi(s, d)/d."""

from __future__ import annotations

import argparse
import math

from phasetrans.cli import _flags
from phasetrans.cli._flags import UsageError

MAX_DIM = 10**4
"""Largest ``cs --dim``: each trial holds several d x d float64 matrices (800 MB each at 10^4)."""

SOLVERS = ("bp", "overparam")
"""``--solver``: ``phasetrans.applications.cs.SOLVERS``, the first the default of
``cs.success_grid`` (a test keeps them equal)."""

DEFAULTS = {"depth": 3, "init_scale": 0.02, "iters": 30_000}
"""``--solver overparam``: the defaults of ``cs.overparam_gd`` (``depth``, ``init_scale``,
``num_iters``; a test keeps them equal)."""


def _distinct(grid: int, dim: int) -> tuple[int, int]:
    """Distinct sparsities and measurement counts of a ``grid`` x ``grid`` default grid at
    ``dim``, rounded as ``cs.success_grid`` rounds them (nearest integer in [1, dim])."""
    import numpy as np

    from phasetrans.applications import cs

    counts = [np.unique(np.clip(np.rint(np.asarray(f) * dim), 1, dim)).size
              for f in cs.grid_fractions(grid)]
    return counts[0], counts[1]


def _check_grid(grid: int, dim: int) -> None:
    _flags.integer("--grid", grid, minimum=2)
    if grid > dim:
        raise UsageError(f"--grid {grid} asks for {grid} measurement counts m in 1..{dim}, but "
                         f"--dim {dim} has only {dim} (and fewer sparsities s <= d/2); use a "
                         f"smaller --grid")
    distinct = _distinct(grid, dim)
    if min(distinct) == grid:
        return
    best = next((g for g in range(grid - 1, 1, -1) if min(_distinct(g, dim)) == g), None)
    hint = (f"use --grid <= {best}" if best is not None
            else "no grid fits: use --dim >= 3")
    raise UsageError(f"--grid {grid} at --dim {dim} repeats cells: its {grid} sparsity "
                     f"fractions s/d in (0, 1/2] round to only {distinct[0]} distinct sparsities "
                     f"and its measurement fractions to {distinct[1]} distinct counts; {hint}")


def _check_flags(args) -> None:
    _flags.integer("--dim", args.dim, minimum=2, maximum=MAX_DIM,
                   why=" (each trial holds several d x d float64 matrices, 800 MB each at "
                       "d = 10^4)")
    _flags.integer("--trials", args.trials, minimum=1, maximum=_flags.MAX_COUNT)
    _flags.seed(args.seed)
    if args.solver == "bp":
        for flag, value in (("--depth", args.depth), ("--init-scale", args.init_scale),
                            ("--iters", args.iters)):
            _flags.not_given(flag, value, "to --solver bp; it is for --solver overparam")
    else:
        for name, default in DEFAULTS.items():
            if getattr(args, name) is None:
                setattr(args, name, default)
        _flags.integer("--depth", args.depth, minimum=2, maximum=_flags.MAX_COUNT)
        _flags.real("--init-scale", args.init_scale, positive=True)
        _flags.integer("--iters", args.iters, minimum=1, maximum=_flags.MAX_COUNT)
    _check_grid(args.grid, args.dim)


def summary(result: dict) -> list[str]:
    """A short table of ``cs.report``: per sparsity, the empirical 50% point and the theory."""
    solver = {"bp": "basis pursuit", "overparam": "overparameterized GD"}[result["solver"]]
    size = len(result["transition"])
    info = result["solver_info"]
    lines = [f"{solver}, d = {result['dim']}, {result['trials']} trial(s) per cell on a "
             f"{size} x {len(result['grid']) // size} grid (success: relative error <= "
             f"{result['tol']:g})",
             f"  {'s/d':>6}  {'empirical m/d at 50%':<22}  theory m/d (psi/d)"]
    for row in result["transition"]:
        emp, sem = row["empirical_measurement_fraction"], row["empirical_sem"]
        text = ("no 50% crossing in grid" if not math.isfinite(emp)
                else f"{emp:.3f} (SEM undetermined)" if sem is None or not math.isfinite(sem)
                else f"{emp:.3f} ± {sem:.3f}")
        lines.append(f"  {row['sparsity_fraction']:>6.3f}  {text:<22}  "
                     f"{row['theory_measurement_fraction']:.3f}")
    lines.append(f"  solver converged in every trial: {'yes' if info['converged'] else 'NO'} "
                 f"(worst: {info['iterations']} iterations, residual {info['residual']:.2g})")
    return lines


def run(args) -> dict:
    """``phasetrans cs``: check the flags, sweep the grid, report."""
    _check_flags(args)
    import jax

    from phasetrans.applications import cs

    options = ({} if args.solver == "bp" else
               {"depth": args.depth, "init_scale": args.init_scale, "num_iters": args.iters})
    sparsity_fractions, measurement_fractions = cs.grid_fractions(args.grid)
    grid = cs.success_grid(key=jax.random.key(args.seed), dim=args.dim,
                           num_trials=args.trials, solver=args.solver,
                           sparsity_fractions=sparsity_fractions,
                           measurement_fractions=measurement_fractions,
                           devices=args.devices, **options)
    result = cs.report(grid)
    result["summary"] = summary(result)
    return result


def add_command(subparsers, formatter) -> argparse.ArgumentParser:
    """Add the ``cs`` parser to ``subparsers``."""
    parser = subparsers.add_parser(
        "cs", help="compressed-sensing phase transition of basis pursuit or overparameterized GD",
        formatter_class=formatter,
        description="Success rates on a (s/d, m/d) grid, the empirical 50% curve (logistic fit "
                    "per sparsity) and the theory curve psi(s, d)/d.")
    parser.add_argument("--dim", type=int, required=True,
                        help=f"ambient dimension d (signal length), 2 to {MAX_DIM}")
    parser.add_argument("--trials", type=int, required=True,
                        help="random problems per grid cell (>= 1)")
    parser.add_argument("--solver", choices=SOLVERS, default=SOLVERS[0],
                        help="basis pursuit (ADMM) or overparameterized gradient descent")
    parser.add_argument("--depth", type=int,
                        help="--solver overparam only: N >= 2 factors per weight, x = u^N - v^N "
                             f"(default: {DEFAULTS['depth']})")
    parser.add_argument("--init-scale", type=float,
                        help="--solver overparam only: alpha > 0, the initial value of every "
                             f"factor (dimensionless; default: {DEFAULTS['init_scale']})")
    parser.add_argument("--iters", type=int,
                        help="--solver overparam only: gradient-descent steps (>= 1; default: "
                             f"{DEFAULTS['iters']})")
    parser.add_argument("--grid", type=int, default=10,
                        help="G: a G x G grid of s/d in (0, 1/2] and m/d in (0, 1]; G >= 2 and "
                             "the rounded sparsities and measurement counts must be distinct")
    parser.add_argument("--seed", type=int, required=True,
                        help=f"PRNG seed, an integer in [0, {_flags.MAX_SEED}]")
    parser.set_defaults(run=run)
    return parser
