"""predict -> sweep -> explain on any Problem: what every example runs on its model."""

from __future__ import annotations

import argparse

import jax

from phasetrans.applications import attribution, compare, methods, report
from phasetrans.networks.problem import Problem
from phasetrans.theory import predict

QUICK = {
    "predict": predict.PredictOptions(
        ellipsoid_options=predict.EllipsoidOptions(num_ratios=3, num_samples=8),
        l1_body_options=predict.L1BodyOptions(max_dim=0)),
    "attribution": attribution.AttributionOptions(
        num_ratios=11, subspace_ratios=3, num_subspaces=4, l1_max_dim=0, l1_support_max_dim=0,
        retrain_ratios=6, retrain_steps=50),
}
"""The small size of ``--quick`` (and of tests/test_examples.py): a few Monte Carlo samples,
no l1-body solves, short retraining."""


def quick_flag(description: str) -> bool:
    """Parse ``--quick`` for an example's ``__main__``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="the small size the tests run")
    return parser.parse_args().quick


def walkthrough(problem: Problem, *, quick: bool) -> dict:
    """The prediction (with the premise check), the sweep of three pruning methods and the
    attribution ladder of ``problem``; prints each summary and returns the three documents."""
    comparison = compare.assess(problem, key=jax.random.key(0),
                                options=QUICK["predict"] if quick else None,
                                num_sweep_ratios=11 if quick else 101,
                                further_steps=100 if quick else 2000)
    documents = {"predict": report.comparison_json(comparison)}
    print("\n".join(report.summary_lines(documents["predict"])))
    swept = methods.sweep_methods(comparison, methods=["global", "layerwise", "random"],
                                  key=jax.random.key(1), num_ratios=6 if quick else 51)
    documents["sweep"] = report.methods_json(swept)
    print("\n".join(report.methods_lines(documents["sweep"])))
    explained = attribution.attribute(comparison, key=jax.random.key(2),
                                      options=QUICK["attribution"] if quick else None)
    documents["explain"] = report.attribution_json(explained)
    print("\n".join(report.attribution_lines(documents["explain"])))
    return documents
