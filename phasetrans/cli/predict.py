"""``phasetrans predict``: predict the pruning threshold of trained networks (built-in or
``--model``) and check it by one-shot pruning and the limit test."""

from __future__ import annotations

import argparse

from phasetrans.cli import _network


def run(args) -> dict:
    """``phasetrans predict``: the comparison, its report, optionally the figure."""
    from phasetrans.applications import plots, report

    comparison = _network.comparison(args)
    document = report.comparison_json(comparison)
    return _network.finish(args, comparison, document, report.summary_lines,
                           lambda path: plots.width_curve(comparison, path))


def add_command(subparsers, formatter) -> argparse.ArgumentParser:
    """Add the ``predict`` parser to ``subparsers``."""
    parser = subparsers.add_parser(
        "predict", help="predict the pruning threshold of trained networks and check it",
        formatter_class=formatter,
        description="Train networks with an l1 penalty (vmapped over seeds), predict the largest "
                    "removal ratio from the Hessian spectrum (width formula and Monte Carlo "
                    "statistical dimension), prune at 101 ratios and compare. Losses are mean "
                    "training cross-entropies in nats. Writes a figure only with --figure.")
    _network.add_flags(parser)
    parser.add_argument("--figure",
                        help="write the width-curve figure (first seed) to this file; the "
                             "suffix picks the format: .png, .pdf, .svg, ... (default: no "
                             "figure)")
    parser.set_defaults(run=run)
    return parser
