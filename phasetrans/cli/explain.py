"""``phasetrans explain``: everything ``predict`` does, then the attribution ladder: each step
between the prediction and one-shot pruning measured on its own."""

from __future__ import annotations

import argparse

from phasetrans.cli import _flags, _network
from phasetrans.cli._flags import UsageError

DEFAULTS = {"accuracy_tol": 0.01, "eta": 0.05}
"""``AttributionOptions.accuracy_tol`` and ``attribution.attribute``'s ``eta`` (a test keeps them
equal)."""


def run(args) -> dict:
    """``phasetrans explain``: the comparison, then every stage of the attribution ladder."""
    import jax

    from phasetrans.applications import attribution, plots, report

    defaults = attribution.AttributionOptions()
    for name, default in (("subspaces", defaults.num_subspaces),
                          ("retrain_steps", defaults.retrain_steps),
                          ("retrain_ratios", defaults.retrain_ratios)):
        if getattr(args, name) is None:
            setattr(args, name, default)
    _flags.integer("--subspaces", args.subspaces, minimum=2, maximum=_flags.MAX_COUNT)
    _flags.integer("--retrain-steps", args.retrain_steps, minimum=1, maximum=_flags.MAX_COUNT)
    _flags.integer("--retrain-ratios", args.retrain_ratios, minimum=2, maximum=_flags.MAX_COUNT)
    _flags.real("--accuracy-tol", args.accuracy_tol, nonnegative=True, high=1.0)
    _flags.real("--eta", args.eta, positive=True)
    if args.eta >= 1:
        raise UsageError(f"--eta must be < 1, got {args.eta}")
    comparison = _network.comparison(args)
    options = attribution.AttributionOptions(num_subspaces=args.subspaces,
                                             l1_num_subspaces=max(2, args.subspaces // 3),
                                             retrain_steps=args.retrain_steps,
                                             retrain_ratios=args.retrain_ratios,
                                             retrain_sequential=args.retrain_sequential,
                                             accuracy_tol=args.accuracy_tol)
    result = attribution.attribute(comparison, key=jax.random.key(args.seed + 1),
                                   options=options, eta=args.eta, progress=True,
                                   devices=args.devices)
    document = report.attribution_json(result)
    return _network.finish(args, comparison, document, report.attribution_lines,
                           lambda path: plots.ladders([document], path))


def add_command(subparsers, formatter) -> argparse.ArgumentParser:
    """Add the ``explain`` parser to ``subparsers``."""
    parser = subparsers.add_parser(
        "explain", help="attribute the gap between predicted and measured thresholds, stage by "
                        "stage",
        formatter_class=formatter,
        description="Everything predict does, then each step between the prediction and "
                    "one-shot pruning measured on its own: formula vs Monte Carlo delta, random "
                    "subspaces (kinematic formula), the exact feasibility of the magnitude "
                    "supports, masked retraining of F = L + l1 |w| on them, and the one-shot "
                    "criteria (F, L, test accuracy; first-failure and the official rule). "
                    "Reports the theory window a_eta sqrt(D)/D beside every threshold.")
    _network.add_flags(parser)
    parser.add_argument("--subspaces", type=int,
                        help="random subspaces per removal ratio for the ellipsoid, >= 2 (the "
                             "l1 body uses a third of them; default: "
                             "AttributionOptions.num_subspaces)")
    parser.add_argument("--retrain-ratios", type=int,
                        help="removal ratios of the masked retraining, evenly spaced on [0, 1], "
                             ">= 2 (default: AttributionOptions.retrain_ratios)")
    parser.add_argument("--retrain-steps", type=int,
                        help="masked Adam steps of the retraining on each support, >= 1 "
                             "(default: AttributionOptions.retrain_steps)")
    parser.add_argument("--retrain-sequential", action="store_true",
                        help="retrain the removal ratios one after the other instead of in one "
                             "vmap: faster where one network's activations on the training set "
                             "are large (2.5x on the mnist1d CNN), 1.5x slower on the digits "
                             "MLP 64-16-10")
    parser.add_argument("--accuracy-tol", type=float, default=DEFAULTS["accuracy_tol"],
                        help="accuracy criterion: test accuracy >= unpruned - tol (fraction)")
    parser.add_argument("--eta", type=float, default=DEFAULTS["eta"],
                        help="level of the theory window a_eta sqrt(D), a_eta = "
                             "sqrt(8 log(4/eta)), in (0, 1)")
    parser.add_argument("--figure",
                        help="write the ladder figure to this file; the suffix picks the "
                             "format (default: no figure)")
    parser.set_defaults(run=run)
    return parser
