"""``phasetrans sweep``: prune trained networks with several methods, in direct and effective
removal, beside the predicted threshold."""

from __future__ import annotations

import argparse

from phasetrans.cli import _flags, _network
from phasetrans.cli._flags import UsageError

METHODS = ("global", "layerwise", "random", "nettrim")  # phasetrans.applications.methods.METHODS
NETTRIM_VARIANTS = ("parallel", "cascade")  # phasetrans.networks.nettrim.VARIANTS
DEFAULTS = {"ratios": 51, "accuracy_tol": 0.01, "nettrim_epsilon": 0.05,
            "nettrim_variant": "parallel"}
"""The defaults of ``methods.sweep_methods`` (``num_ratios``, ``accuracy_tol``,
``nettrim_epsilon``, ``nettrim_variant``; a test keeps them and the names above equal)."""


def run(args) -> dict:
    """``phasetrans sweep``: train and predict (width formula), then prune with every method."""
    import jax

    from phasetrans.applications import methods, plots, report

    names = _flags.names("--methods", args.methods, methods.METHODS, "method")
    if "nettrim" in names and args.arch == "cnn":
        raise UsageError("--methods nettrim prunes dense ReLU layers, not --arch cnn: drop "
                         "nettrim or use an MLP --arch such as 16 or 32-32")
    _flags.integer("--ratios", args.ratios, minimum=2, maximum=_flags.MAX_COUNT)
    _flags.real("--accuracy-tol", args.accuracy_tol, nonnegative=True, high=1.0)
    _flags.real("--nettrim-epsilon", args.nettrim_epsilon, positive=True)
    if args.nettrim_epsilon >= 1:
        raise UsageError(f"--nettrim-epsilon is relative and must be < 1, got "
                         f"{args.nettrim_epsilon}")
    comparison = _network.comparison(args)
    result = methods.sweep_methods(
        comparison, methods=names, key=jax.random.key(args.seed + 2), num_ratios=args.ratios,
        nettrim_epsilon=args.nettrim_epsilon, nettrim_variant=args.nettrim_variant,
        accuracy_tol=args.accuracy_tol, progress=True, devices=args.devices)
    document = report.methods_json(result)
    return _network.finish(args, comparison, document, report.methods_lines,
                           lambda path: plots.pruning_methods([document], path))


def add_command(subparsers, formatter) -> argparse.ArgumentParser:
    """Add the ``sweep`` parser to ``subparsers``."""
    parser = subparsers.add_parser(
        "sweep", help="prune trained networks with several methods, in direct and effective "
                      "removal, beside the predicted threshold",
        formatter_class=formatter,
        description="Train networks with an l1 penalty, predict their threshold (width "
                    "formula, exact or SLQ spectrum), then prune them one-shot at --ratios "
                    "removal ratios with each method: global magnitude (LOMP), layer-wise "
                    "magnitude, random, and Net-Trim (layer-wise convex re-fit, MLPs only). "
                    "Reports test accuracy and train loss per ratio, the effective removal "
                    "ratio of every mask (weights off every input-output path count as "
                    "removed) and each method's threshold, direct and effective.")
    _network.add_flags(parser, monte_carlo=False)
    parser.add_argument("--methods", default=",".join(METHODS),
                        help="comma-separated pruning methods: global, layerwise, random, "
                             "nettrim")
    parser.add_argument("--ratios", type=int, default=DEFAULTS["ratios"],
                        help="removal ratios on an even grid over [0, 1], >= 2")
    parser.add_argument("--accuracy-tol", type=float, default=DEFAULTS["accuracy_tol"],
                        help="a ratio passes when test accuracy >= unpruned - tol (fraction)")
    parser.add_argument("--nettrim-epsilon", type=float, default=DEFAULTS["nettrim_epsilon"],
                        help="Net-Trim's fit tolerance per layer, relative to the layer's "
                             "output norm, in (0, 1)")
    parser.add_argument("--nettrim-variant", choices=NETTRIM_VARIANTS,
                        default=DEFAULTS["nettrim_variant"],
                        help="Net-Trim layer inputs from the unpruned (parallel) or the "
                             "pruned (cascade) previous layer")
    parser.add_argument("--figure",
                        help="write accuracy vs removal ratio per method to this file; the "
                             "suffix picks the format (default: no figure)")
    parser.set_defaults(run=run)
    return parser
