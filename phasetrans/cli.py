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


_WIDTH_BODIES = ("l2-ball", "l1-ball", "linf-ball", "orthant", "subspace", "circular-cone",
                 "l1-descent-cone", "ball-cone")


def _width_body(args):
    """(body or cone, quantity, closed form, closed-form name) for ``phasetrans width``."""
    from phasetrans import bodies
    from phasetrans import closed_forms as cf

    dim, r = args.dim, args.radius
    if args.body in ("l2-ball", "l1-ball", "linf-ball"):
        cls, form = {"l2-ball": (bodies.L2Ball, cf.l2_ball_width),
                     "l1-ball": (bodies.L1Ball, cf.l1_ball_width),
                     "linf-ball": (bodies.LinfBall, cf.linf_ball_width)}[args.body]
        return (cls.create(dim, r), "gaussian_width", form(dim=dim, radius=r),
                f"{form.__name__}")
    if args.body == "orthant":
        return bodies.Orthant.create(dim), "statistical_dimension", cf.orthant_statdim(
            dim=dim), "orthant_statdim: D/2"
    if args.body == "subspace":
        rank = dim // 2 if args.sparsity is None else args.sparsity
        return (bodies.Subspace.create(dim, rank), "statistical_dimension",
                cf.subspace_statdim(rank=rank), "subspace_statdim: rank (--sparsity, default D/2)")
    if args.body == "circular-cone":
        return (bodies.CircularCone.create(dim, args.angle), "statistical_dimension",
                cf.circular_cone_statdim(dim=dim, angle=args.angle),
                "circular_cone_statdim: D sin^2(a) + cos(2a) (ALMT, approximate)")
    if args.body == "l1-descent-cone":
        if args.sparsity is None:
            raise ValueError("l1-descent-cone needs --sparsity S")
        psi = cf.l1_descent_cone_statdim(sparsity=args.sparsity, dim=dim)  # validates S <= D
        x0 = [1.0] * args.sparsity + [0.0] * (dim - args.sparsity)
        return (bodies.L1DescentCone.create(x0), "statistical_dimension", psi,
                "psi(s, d) of ALMT Prop 4.5 (upper bound; delta >= psi - 2 sqrt(d/s))")
    return (bodies.ball_cone(dim, r, args.distance), "statistical_dimension",
            cf.ball_cone_statdim(dim=dim, radius=r, distance=args.distance),
            "ball_cone_statdim: circular cone with sin(a) = r/R")


def _width_command(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "width", help="Monte Carlo Gaussian width / statistical dimension vs its closed form",
        description="Balls report the Gaussian width E h(g); cones the statistical dimension "
                    "E ||Pi_C(g)||^2. ball-cone: the cone generated by a ball of radius r at "
                    "distance R, with the paper's approximation D r^2/(R^2 + r^2) beside it.")
    parser.add_argument("body", choices=_WIDTH_BODIES)
    parser.add_argument("--dim", type=int, required=True, help="ambient dimension D")
    parser.add_argument("--sparsity", type=int, help="s for l1-descent-cone; rank for subspace")
    parser.add_argument("--radius", type=float, default=1.0, help="ball radius r")
    parser.add_argument("--distance", type=float, default=2.0, help="ball-cone distance R")
    parser.add_argument("--angle", type=float, default=0.5, help="circular-cone half-angle")
    parser.add_argument("--samples", type=int, default=10_000, help="Monte Carlo samples")
    parser.add_argument("--seed", type=int, default=0, help="PRNG seed")

    def run(args) -> dict:
        import jax

        from phasetrans import width

        body, quantity, closed, name = _width_body(args)
        estimator = (width.gaussian_width if quantity == "gaussian_width"
                     else width.statistical_dimension)
        est = estimator(body, key=jax.random.key(args.seed), num_samples=args.samples,
                        progress=True)
        result = {"body": args.body, "dim": args.dim, "quantity": quantity,
                  "estimate": est.mean, "sem": est.sem, "num_samples": est.num_samples,
                  "closed_form": closed, "closed_form_name": name}
        if args.body == "ball-cone":
            r2 = args.radius**2
            result["paper_approximation"] = args.dim * r2 / (args.distance**2 + r2)
        return result

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
    parser.add_argument("--params", help="load trained parameters (.npz from --save-params, "
                        "same --arch and --seeds) instead of training")
    parser.add_argument("--save-params", help="write the trained parameters to this .npz")
    parser.add_argument("--no-monte-carlo", action="store_true",
                        help="skip the Monte Carlo statistical-dimension predictions")
    parser.add_argument("--l1-body-max-dim", type=int, default=1500,
                        help="largest D for the l1-induced body's Monte Carlo prediction "
                             "(O(D^2) per ADMM iteration; null above)")
    parser.add_argument("--figure", default="phasetrans_predict.png",
                        help="where to write the width-curve figure")

    def run(args) -> dict:
        from phasetrans import compare, data, plots

        dataset = args.dataset if args.data_file is None else data.load_npz(args.data_file)
        result = compare.compare(
            dataset, arch=args.arch, l1=args.l1, num_seeds=args.seeds, seed=args.seed,
            steps=args.steps, spectrum_method=args.spectrum,
            eigen_treatment=args.eigen_treatment, floor=args.floor,
            monte_carlo=not args.no_monte_carlo, l1_max_dim=args.l1_body_max_dim,
            params_file=args.params, save_params_file=args.save_params)
        result["figure"] = str(plots.width_curve(result, args.figure))
        return result

    parser.set_defaults(run=run)
    return parser


# Each entry adds one sub-command parser and sets ``run`` (args -> dict) as its default.
_SUBCOMMANDS: list = [_width_command, _cs_command, _predict_command]


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
