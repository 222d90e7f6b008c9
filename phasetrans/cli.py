"""Command-line front end: ``phasetrans <command> ... [--json]``.

Each command prints a human-readable summary, or with ``--json`` exactly one JSON object on
stdout and nothing else there; progress bars and warnings go to stderr. Bad arguments exit with
status 2 and a message saying what was wrong.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np


def _jsonable(value):
    """Convert numpy/JAX scalars and arrays inside ``value`` to plain Python for ``json``."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "tolist"):
        return _jsonable(np.asarray(value).tolist())
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _print_human(result: dict, indent: int = 0) -> None:
    pad = "  " * indent
    for key, value in result.items():
        if isinstance(value, dict):
            print(f"{pad}{key}:")
            _print_human(value, indent + 1)
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            print(f"{pad}{key}:")
            for item in value:
                print(f"{pad}  - " + ", ".join(f"{k}={v}" for k, v in item.items()))
        else:
            print(f"{pad}{key}: {value}")


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object on stdout and nothing else there")


def _cs_command(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "cs", help="compressed-sensing phase transition of basis pursuit or overparameterized GD",
        description="Success rates on a (s/d, m/d) grid, the empirical 50%% curve (logistic fit "
                    "per sparsity) and the theory curve psi(s, d)/d.")
    parser.add_argument("--dim", type=int, required=True, help="ambient dimension d")
    parser.add_argument("--trials", type=int, required=True, help="trials per grid cell")
    parser.add_argument("--solver", choices=("bp", "overparam"), default="bp")
    parser.add_argument("--depth", type=int, help="N for --solver overparam (default 3)")
    parser.add_argument("--init-scale", type=float,
                        help="alpha for --solver overparam (default 0.02)")
    parser.add_argument("--iters", type=int,
                        help="gradient steps for --solver overparam (default 30000)")
    parser.add_argument("--grid", type=int, default=10,
                        help="G: G x G grid, s/d in (0, 1/2], m/d in (0, 1]")
    parser.add_argument("--seed", type=int, required=True, help="PRNG seed")

    def run(args) -> dict:
        import jax

        from phasetrans import cs

        given = {"depth": args.depth, "init_scale": args.init_scale, "num_iters": args.iters}
        options = {k: v for k, v in given.items() if v is not None and args.solver == "overparam"}
        sparsity_fractions, measurement_fractions = cs.grid_fractions(args.grid)
        grid = cs.success_grid(key=jax.random.key(args.seed), dim=args.dim,
                               num_trials=args.trials, solver=args.solver,
                               sparsity_fractions=sparsity_fractions,
                               measurement_fractions=measurement_fractions, **options)
        return cs.report(grid)

    parser.set_defaults(run=run)
    return parser


def _predict_command(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "predict", help="predict the pruning threshold of trained networks and check it",
        description="Train networks with an l1 penalty (vmapped over seeds), predict the largest "
                    "removal ratio from the Hessian spectrum (width formula and Monte Carlo "
                    "statistical dimension), prune at 101 ratios and compare. Writes a figure.")
    parser.add_argument("--dataset", choices=("digits", "mnist1d", "synthetic"),
                        default="digits")
    parser.add_argument("--data-file", help="local .npz (x_train, y_train, x_test, y_test), "
                        "e.g. MNIST/CIFAR saved by you; overrides --dataset")
    parser.add_argument("--arch", default="32-32", help="hidden widths like 64-32, or 'cnn'")
    parser.add_argument("--l1", type=float, default=1e-4, help="l1 penalty lambda")
    parser.add_argument("--seeds", type=int, default=3, help="networks trained (vmapped)")
    parser.add_argument("--seed", type=int, default=0, help="PRNG seed")
    parser.add_argument("--steps", type=int, default=2000, help="full-batch Adam steps")
    parser.add_argument("--spectrum", choices=("exact", "slq"), default="exact")
    parser.add_argument("--eigen-treatment", choices=("abs", "floor", "drop", "flat"),
                        default="abs", help="how eigenvalues <= floor enter the formula")
    parser.add_argument("--floor", type=float, default=1e-4)
    parser.add_argument("--no-monte-carlo", action="store_true",
                        help="skip the Monte Carlo statistical-dimension prediction")
    parser.add_argument("--figure", default="phasetrans_predict.png",
                        help="where to write the width-curve figure")

    def run(args) -> dict:
        from phasetrans import compare, data, plots

        dataset = args.dataset if args.data_file is None else data.load_npz(args.data_file)
        result = compare.compare(
            dataset, arch=args.arch, l1=args.l1, num_seeds=args.seeds, seed=args.seed,
            steps=args.steps, spectrum_method=args.spectrum,
            eigen_treatment=args.eigen_treatment, floor=args.floor,
            monte_carlo=not args.no_monte_carlo)
        result["figure"] = str(plots.width_curve(result, args.figure))
        return result

    parser.set_defaults(run=run)
    return parser


# Each entry adds one sub-command parser and sets ``run`` (args -> dict) as its default.
_SUBCOMMANDS: list = [_cs_command, _predict_command]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="phasetrans",
        description="Gaussian widths, Hessian spectra and pruning thresholds (see README).")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add_subcommand in _SUBCOMMANDS:
        _add_common(add_subcommand(subparsers))
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``phasetrans`` console script; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        result = args.run(args)
    except (ValueError, TypeError) as err:
        print(f"phasetrans {args.command}: error: {err}", file=sys.stderr)
        return 2
    result["seconds"] = time.perf_counter() - start
    if args.json:
        print(json.dumps(_jsonable(result)))
    else:
        _print_human(_jsonable(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
